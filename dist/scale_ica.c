/* neurospectra ica over MPI (docs/scaling.md): subjects split into
 * contiguous blocks across the ranks of MPI_COMM_WORLD.
 *
 *   mask       each rank ANDs its subjects' first volumes; MPI_Allreduce(BAND)
 *   pass 1     preprocessing + subject PCA where the data are; each rank
 *              spills its subjects' reduced data Y_i to local disk ($TMPDIR)
 *   group PCA  merged on rank 0, NS_SCALE_MERGE chooses how:
 *              exact  (default) every Y_i to rank 0, which runs the MIGP in
 *                     subject order: bit-for-bit ns_ica_fit's group PCA;
 *                     M p1 V floats moved
 *              chain  the MIGP state (work x V) travels rank 0 -> 1 -> ... ->
 *                     0; float rounding apart the same; S work V floats moved
 *              gather each rank's own MIGP rows to rank 0, merged there in
 *                     rank order; parallel, a different approximation
 *   power      the power iterations refining the merged rows and the
 *              Rayleigh-Ritz pass: Q (or R) broadcast, the sums chained rank
 *              0 -> ... -> 0 in subject order (the same bits as ns_ica_fit's);
 *              (2 S - 1) work V floats per iteration, (S - 1) work V + S
 *              work^2 for the Rayleigh-Ritz pass
 *   group      ICA/ICASSO and the group outputs once, on rank 0
 *   broadcast  Z (kmax x V), the eigenvalues and every order's unmixing W
 *   pass 2     each rank back-reconstructs and writes its own subjects
 *
 * Every stage ends with a status agreement (an allreduce of a flag), so a
 * rank that fails makes every rank return an error instead of waiting.
 * Bytes are the payload handed to MPI (docs/scaling.md gives the model). */
#if defined(NS_HAVE_ICA) && defined(NS_HAVE_NIFTI_IO)
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist.h"
#include "dist/scale_int.h"
#include "ica/fit_int.h"

typedef ns_scale_ctx sc_ctx;

static ns_status sc_agree(sc_ctx *c, ns_status st) { return ns_scale__agree(c, st); }

/* --------------------------------------------------- set-up (all subjects) */

/* ------------------------------------------------------------------- mask */

static ns_status sc_mask_local(ns_ica_fitctx *f, size_t lo, size_t hi, uint8_t *mask)
{
    size_t nvox = f->grid.nvox;
    ns_load_opts o = {.first_volume_only = 1};
    memset(mask, 1, nvox);
    if (f->p->mask_path) {
        ns_volume *m = NULL;
        ns_status st = ns_volume_load(f->p->mask_path, &o, &m);
        if (st == NS_OK && !ns_geom_same_grid(&f->grid.geom, &m->geom))
            st = ns_error(NS_ERR_DATA, "mask is not on the grid of the BOLD data (%s)",
                          f->p->mask_path);
        for (size_t i = 0; st == NS_OK && i < nvox; i++)
            mask[i] = m->data[i] != 0 && isfinite(m->data[i]);
        ns_volume_free(m);
        return st;
    }
    if (ns_ica_fit_mean_begin(f) != NS_OK)
        return NS_ERR_NOMEM;
    for (size_t i = lo; i < hi; i++) {
        ns_volume *v = NULL;
        ns_status st = ns_volume_load(f->sub[i].path, &o, &v);
        if (st == NS_OK && v->nvox != nvox)
            st = ns_error(NS_ERR_DATA, "grid changed since its header was read (%s)",
                          f->sub[i].path);
        if (st == NS_OK) {
            ns_ica_mask_and_volume(v->data, nvox, mask);
            ns_ica_fit_mean_add(f, v->data);
        }
        ns_volume_free(v);
        if (st != NS_OK)
            return st;
    }
    return NS_OK;
}

/* Collective: MPI_Allreduce in place of n values of sz bytes, in int-sized
 * counts; the bytes go to the rank's report. */
static void sc_allreduce(sc_ctx *c, void *buf, size_t n, size_t sz, MPI_Datatype type, MPI_Op op)
{
    size_t step = INT_MAX / sz;
    for (size_t off = 0; off < n; off += step) {
        int m = (int)(n - off < step ? n - off : step);
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * sz, m, type, op, c->comm);
        c->sent += sz * (size_t)m, c->recv += sz * (size_t)m;
    }
}

/* Collective: the sum of every rank's first volumes (fixed point, so the
 * single-process image bit for bit), for the mean image rank 0 writes. */
static void sc_mean(sc_ctx *c, ns_ica_fitctx *f)
{
    uint64_t n = f->mean_n;
    sc_allreduce(c, f->mean_acc, f->grid.nvox, sizeof *f->mean_acc, MPI_INT64_T, MPI_SUM);
    sc_allreduce(c, &n, 1, sizeof n, MPI_UINT64_T, MPI_SUM);
    f->mean_n = (size_t)n;
}

/* Collective: the group mask (AND over every rank's subjects) and the grid
 * index; rank 0 writes it with the group outputs (ns_ica_fit_write_group),
 * and the mean of the first volumes with the GIFT mask rule. */
static ns_status sc_mask(sc_ctx *c, ns_ica_fitctx *f, size_t lo, size_t hi)
{
    size_t nvox = f->grid.nvox, v = 0;
    uint8_t *mask = ns_alloc(nvox, 1);
    ns_status st = sc_agree(c, mask ? sc_mask_local(f, lo, hi, mask) : NS_ERR_NOMEM);
    if (st == NS_OK)
        sc_allreduce(c, mask, nvox, 1, MPI_UINT8_T, MPI_BAND);
    if (st == NS_OK && !f->p->mask_path)
        sc_mean(c, f);
    for (size_t i = 0; st == NS_OK && i < nvox; i++)
        v += mask[i];
    if (st == NS_OK && (v < 2 || v <= f->p1))
        st = ns_error(NS_ERR_DATA, "group mask has %zu voxels, not more than the %zu subject PCs "
                      "(%s)", v, f->p1, f->p->mask_path ? f->p->mask_path : f->sub[0].path);
    if (st == NS_OK) {
        f->grid.v = v;
        f->grid.idx = ns_alloc(v, sizeof(size_t));
        st = f->grid.idx ? NS_OK : NS_ERR_NOMEM;
        for (size_t i = 0, j = 0; st == NS_OK && i < nvox; i++)
            if (mask[i])
                f->grid.idx[j++] = i;
    }
    free(mask);
    if (st == NS_OK && c->rank == 0)
        ns_info("ica (MPI, %d ranks): mask of %zu voxels, %zu subjects, subject PCs %zu, orders "
                "up to %d", c->size, v, f->nsub, f->p1, f->kmax);
    return sc_agree(c, st);
}

/* ------------------------------------------------------ group PCA merge */

/* One subject's pass-1 result. F_i, L_i stay in memory (T p1 doubles); Y_i
 * (p1 x V floats) goes to an unlinked spill file on local disk ($TMPDIR),
 * read back for the merge and pass 2, as ns_ica_fit's cache: memory holds
 * one subject at a time whatever the rank's share. */
typedef struct {
    ns_ica_spca sp;
    FILE *fp;   /* the rank's spill file (shared by its subjects) */
    off_t off;  /* where Y_i starts in it */
} sc_red;

static FILE *sc_spill_open(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/ns-ica-scale-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path); /* removed by the system when the rank exits, whatever happens */
    FILE *fp = fdopen(fd, "w+b");
    if (!fp)
        close(fd);
    return fp;
}

static ns_status sc_y_put(sc_red *r, const ns_matrix *y, const char *who)
{
    int ok = fseeko(r->fp, 0, SEEK_END) == 0 && (r->off = ftello(r->fp)) >= 0;
    for (size_t i = 0; ok && i < y->rows; i++)
        ok = fwrite(y->data + i * y->stride, sizeof(float), y->cols, r->fp) == y->cols;
    return ok ? NS_OK
              : ns_error(NS_ERR_IO, "cannot spill the reduced data to $TMPDIR (disk full?) (%s)",
                         who);
}

/* Y_i read back (caller frees). */
static ns_status sc_y_get(const sc_red *r, size_t v, ns_matrix **y)
{
    *y = ns_matrix_create(r->sp.p, v);
    if (!*y)
        return NS_ERR_NOMEM;
    int ok = fseeko(r->fp, r->off, SEEK_SET) == 0;
    for (size_t i = 0; ok && i < r->sp.p; i++)
        ok = fread((*y)->data + i * (*y)->stride, sizeof(float), v, r->fp) == v;
    if (ok)
        return NS_OK;
    ns_matrix_free(*y);
    *y = NULL;
    return ns_error(NS_ERR_IO, "cannot read back the spilled reduced data ($TMPDIR)");
}

/* gp += Y_i of the rank's subjects, in order. */
static ns_status sc_add_local(ns_ica_gpca *gp, const sc_red *red, size_t n, size_t v,
                              ns_status st)
{
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        ns_matrix *y = NULL;
        st = sc_y_get(&red[i], v, &y);
        if (st == NS_OK)
            st = ns_ica_gpca_add_white(gp, y);
        ns_matrix_free(y);
    }
    return st;
}

/* Pass 1 on this rank's subjects: preprocessing and subject PCA; spec
 * receives their share of the mean subject spectrum (sum / N). */
static ns_status sc_pass1(const ns_ica_fitctx *g, size_t lo, size_t n, sc_red *red, double *spec)
{
    ns_progress *pr = ns_progress_create("ica: subject PCA", n);
    FILE *fp = n ? sc_spill_open() : NULL;
    ns_status st = (fp || !n) ? NS_OK
                              : ns_error(NS_ERR_IO, "cannot create a spill file in $TMPDIR (%s)",
                                         g->sub[lo].path);
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        ns_matrix *x = NULL, *y = NULL;
        red[i].fp = fp;
        st = ns_ica_load_subject(&g->grid, &g->sub[lo + i], g->p->preproc, &x);
        if (st == NS_OK)
            st = ns_ica_subject_pca(x, g->p1, g->sub[lo + i].path, &red[i].sp, &y);
        ns_matrix_free(x);
        if (st == NS_OK)
            st = sc_y_put(&red[i], y, g->sub[lo + i].path);
        for (size_t j = 0; st == NS_OK && j < g->tmin; j++)
            spec[j] += red[i].sp.spectrum[j] / (double)g->nsub;
        ns_matrix_free(y);
        ns_progress_update(pr, i + 1);
    }
    ns_progress_free(pr);
    return st;
}

/* The reduced matrix R = diag(sqrt(eig)) Z of a group PCA (its MIGP rows,
 * or every row of a stacked Y): R R^T equals its Gram matrix, so R stands
 * for every subject it has seen. NULL with *k = 0 when it saw none. */
static ns_status sc_reduced(const ns_ica_gpca *gp, size_t work, size_t v, ns_matrix **r,
                            size_t *k)
{
    size_t tot = gp ? ns_ica_gpca_rows(gp) : 0;
    *r = NULL;
    *k = work && tot > work ? work : tot;
    if (*k > v - 1)
        *k = v - 1;
    if (*k == 0)
        return NS_OK;
    double *eig = ns_alloc(*k, sizeof(double));
    ns_status st = eig ? ns_ica_gpca_result(gp, *k, r, eig, NULL, NULL) : NS_ERR_NOMEM;
    for (size_t j = 0; st == NS_OK && j < *k; j++) {
        float s = (float)sqrt(eig[j]), *row = (*r)->data + j * (*r)->stride;
        for (size_t c = 0; c < (*r)->cols; c++)
            row[c] *= s;
    }
    free(eig);
    return st;
}

/* Point-to-point rows x V floats, in pieces that fit an int count. */
static void sc_rows_p2p(sc_ctx *c, ns_matrix *m, int peer, int send)
{
    for (size_t i = 0; i < m->rows; i++)
        for (size_t off = 0; off < m->cols; off += INT_MAX / 8) {
            int n = (int)(m->cols - off < INT_MAX / 8 ? m->cols - off : INT_MAX / 8);
            float *p = m->data + i * m->stride + off;
            if (send)
                MPI_Send(p, n, MPI_FLOAT, peer, 11, c->comm), c->sent += 4.0 * n;
            else
                MPI_Recv(p, n, MPI_FLOAT, peer, 11, c->comm, MPI_STATUS_IGNORE),
                    c->recv += 4.0 * n;
        }
}

static void sc_send_reduced(sc_ctx *c, ns_matrix *r, int peer)
{
    unsigned long long kk = r ? r->rows : 0;
    MPI_Send(&kk, 1, MPI_UNSIGNED_LONG_LONG, peer, 10, c->comm);
    c->sent += 8;
    if (r)
        sc_rows_p2p(c, r, peer, 1);
}

/* Receives a peer's R (or a subject's whitened Y: white) and adds it to gp
 * (received even after a local failure, so that the peer does not wait). */
static ns_status sc_recv_add(sc_ctx *c, ns_ica_gpca *gp, size_t v, int peer, int white,
                             ns_status st)
{
    unsigned long long kk = 0;
    MPI_Recv(&kk, 1, MPI_UNSIGNED_LONG_LONG, peer, 10, c->comm, MPI_STATUS_IGNORE);
    c->recv += 8;
    if (kk == 0)
        return st;
    ns_matrix *r = ns_matrix_create((size_t)kk, v);
    if (!r) /* a protocol is under way: a rank that cannot follow stops them all */
        MPI_Abort(c->comm, 1);
    sc_rows_p2p(c, r, peer, 0);
    if (st == NS_OK)
        st = white ? ns_ica_gpca_add_white(gp, r) : ns_ica_gpca_add(gp, r);
    ns_matrix_free(r);
    return st;
}

/* Chain (NS_SCALE_MERGE=chain): the MIGP state travels rank 0 -> 1 -> ... -> S-1 -> 0,
 * each rank adding its subjects in order, so the subjects enter in the
 * single-process order and only float rounding separates the result from
 * ns_ica_fit's. The MIGP updates run one rank after the other. */
static ns_status sc_merge_chain(sc_ctx *c, ns_ica_fitctx *g, sc_red *red, size_t n,
                                ns_status st)
{
    size_t v = g->grid.v;
    ns_ica_gpca *gp = ns_ica_gpca_create(v, g->work);
    if (!gp)
        MPI_Abort(c->comm, 1);
    if (c->rank > 0)
        st = sc_recv_add(c, gp, v, c->rank - 1, 0, st);
    st = sc_add_local(gp, red, n, v, st);
    if (c->rank == c->size - 1 && c->rank == 0) {
        g->g = gp;
        return st;
    }
    ns_matrix *r = NULL;
    size_t k = 0;
    if (st == NS_OK)
        st = sc_reduced(gp, g->work, v, &r, &k);
    ns_ica_gpca_free(gp);
    sc_send_reduced(c, r, (c->rank + 1) % c->size);
    ns_matrix_free(r);
    if (c->rank == 0) {
        g->g = ns_ica_gpca_create(v, g->work);
        if (!g->g)
            MPI_Abort(c->comm, 1);
        st = sc_recv_add(c, g->g, v, c->size - 1, 0, st);
    }
    return st;
}

/* Gather (NS_SCALE_MERGE=gather): each rank reduces its own subjects in
 * parallel; rank 0 feeds the ranks' R into a fresh MIGP in rank order.
 * Faster, but a different MIGP approximation: components beyond the
 * identifiable sources may differ from the single-process run's. */
static ns_status sc_merge_gather(sc_ctx *c, ns_ica_fitctx *g, sc_red *red, size_t n,
                                 ns_status st)
{
    size_t v = g->grid.v, k = 0;
    ns_ica_gpca *gp = ns_ica_gpca_create(v, g->work);
    ns_matrix *r = NULL;
    if (!gp)
        MPI_Abort(c->comm, 1);
    st = sc_add_local(gp, red, n, v, st);
    if (st == NS_OK)
        st = sc_reduced(gp, g->work, v, &r, &k);
    ns_ica_gpca_free(gp);
    if (c->rank == 0) {
        g->g = ns_ica_gpca_create(v, g->work);
        if (!g->g)
            MPI_Abort(c->comm, 1);
        if (st == NS_OK && r)
            st = ns_ica_gpca_add(g->g, r);
        for (int q = 1; q < c->size; q++)
            st = sc_recv_add(c, g->g, v, q, 0, st);
    } else {
        sc_send_reduced(c, r, 0);
    }
    ns_matrix_free(r);
    return st;
}

/* Exact (default, NS_SCALE_MERGE=exact): every subject's Y_i goes to rank 0, which
 * runs the single-process MIGP on them in subject order (memory still
 * (work + p1) x V there): bit-for-bit the group PCA of ns_ica_fit, for
 * M p1 V floats moved. */
static ns_status sc_merge_exact(sc_ctx *c, ns_ica_fitctx *g, sc_red *red, size_t n,
                                ns_status st)
{
    size_t v = g->grid.v;
    if (c->rank > 0) { /* rows 0 when a read fails: rank 0 still gets every message */
        for (size_t i = 0; i < n; i++) {
            ns_matrix *y = NULL;
            if (st == NS_OK)
                st = sc_y_get(&red[i], v, &y);
            sc_send_reduced(c, y, 0);
            ns_matrix_free(y);
        }
        return st;
    }
    g->g = ns_ica_gpca_create(v, g->work);
    if (!g->g)
        MPI_Abort(c->comm, 1);
    st = sc_add_local(g->g, red, n, v, st);
    for (int q = 1; q < c->size; q++) {
        size_t nq = g->nsub * (size_t)(q + 1) / (size_t)c->size -
                    g->nsub * (size_t)q / (size_t)c->size;
        for (size_t i = 0; i < nq; i++)
            st = sc_recv_add(c, g->g, v, q, 1, st);
    }
    return st;
}

/* NS_SCALE_MERGE: 0 chain, 1 gather, 2 exact (default), -1 unknown. */
static int sc_merge_mode(void)
{
    const char *how = getenv("NS_SCALE_MERGE");
    return !how || !*how || !strcmp(how, "exact") ? 2 : !strcmp(how, "gather") ? 1
           : !strcmp(how, "chain")                 ? 0
                                                   : -1;
}

/* Collective: rank 0 ends with g->g (the group PCA of every subject) and
 * g->spec_mean; spec = this rank's share of the mean spectrum. */
static ns_status sc_merge(sc_ctx *c, ns_ica_fitctx *g, sc_red *red, size_t n, double *spec)
{
    int mode = sc_merge_mode();
    ns_status st = NS_OK;
    if (c->rank == 0 && !(g->spec_mean = ns_calloc(g->tmin, sizeof(double))))
        MPI_Abort(c->comm, 1);
    MPI_Reduce(spec, g->spec_mean, (int)g->tmin, MPI_DOUBLE, MPI_SUM, 0, c->comm);
    c->sent += c->rank ? 8.0 * g->tmin : 0;
    c->recv += c->rank ? 0 : 8.0 * g->tmin * (c->size - 1);
    st = mode == 1 ? sc_merge_gather(c, g, red, n, st)
         : mode == 2 ? sc_merge_exact(c, g, red, n, st) : sc_merge_chain(c, g, red, n, st);
    return sc_agree(c, st);
}

/* ------------------------------------------------ broadcast of the model */

static void sc_bcast(sc_ctx *c, void *buf, size_t n, MPI_Datatype t, size_t bytes_each)
{
    char *p = buf;
    for (size_t off = 0; off < n; off += INT_MAX / 8) {
        int m = (int)(n - off < INT_MAX / 8 ? n - off : INT_MAX / 8);
        MPI_Bcast(p + off * bytes_each, m, t, 0, c->comm);
    }
    if (c->rank == 0)
        c->sent += (double)n * (double)bytes_each * (c->size - 1);
    else
        c->recv += (double)n * (double)bytes_each;
}

/* ------------------------------------------------------ power iterations */

/* rows x cols floats of sums in place, from or to a peer. */
static void sc_sums_p2p(sc_ctx *c, float *z, size_t rows, size_t cols, int peer, int send)
{
    ns_matrix zm = ns_matrix_view(z, rows, cols, cols);
    sc_rows_p2p(c, &zm, peer, send);
}

/* gp += its power iteration terms for the rank's subjects, in order (d:
 * their coefficients, or NULL to compute them). */
static ns_status sc_power_local(ns_ica_gpca *gp, const sc_red *red, size_t n, size_t v,
                                float **d, int add, ns_status st)
{
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        ns_matrix *y = NULL;
        st = sc_y_get(&red[i], v, &y);
        if (st == NS_OK && !add)
            st = ns_ica_gpca_power_coefs(gp, NULL, NULL, y, &d[i]);
        else if (st == NS_OK)
            st = ns_ica_gpca_power_add(gp, NULL, NULL, y, d[i]);
        ns_matrix_free(y);
    }
    return st;
}

/* One pass of the power iterations, whatever the merge: rank 0's rows (Q,
 * or R for the Rayleigh-Ritz pass) are broadcast; each rank computes its
 * subjects' coefficients (the ranks in parallel); then the sums travel
 * rank 0 -> 1 -> ... -> S-1 -> 0, each rank adding its subjects in order:
 * the single-process order and arithmetic, so the same bits as ns_ica_fit's.
 * Moves (S - 1) m V floats of rows and S times the sums (m V floats of Z,
 * or m x m of R S R^T). */
static ns_status sc_power_pass(sc_ctx *c, ns_ica_fitctx *g, sc_red *red, size_t n, int rr)
{
    size_t v = g->grid.v, m = 0, zr = 0, zc = 0;
    ns_ica_gpca *gp = c->rank == 0 ? g->g : ns_ica_gpca_create(v, g->work);
    float **d = ns_calloc(n + 1, sizeof *d), *q = NULL;
    if (!gp || !d)
        MPI_Abort(c->comm, 1);
    ns_status st = NS_OK;
    if (c->rank == 0)
        q = (float *)ns_ica_gpca_power_rows(gp, &m);
    unsigned long long mm = m;
    MPI_Bcast(&mm, 1, MPI_UNSIGNED_LONG_LONG, 0, c->comm);
    m = (size_t)mm;
    if (c->rank > 0 && !(q = ns_alloc(m * v, sizeof(float))))
        MPI_Abort(c->comm, 1);
    sc_bcast(c, q, m * v, MPI_FLOAT, 4);
    if (c->rank > 0) {
        st = ns_ica_gpca_power_join(gp, q, m, rr);
        free(q);
        if (st != NS_OK) /* the chain below needs the sums */
            MPI_Abort(c->comm, 1);
    }
    st = sc_power_local(gp, red, n, v, d, 0, st);
    float *z = ns_ica_gpca_power_sums(gp, &zr, &zc);
    if (c->rank > 0)
        sc_sums_p2p(c, z, zr, zc, c->rank - 1, 0);
    st = sc_power_local(gp, red, n, v, d, 1, st);
    if (c->size > 1) {
        sc_sums_p2p(c, z, zr, zc, (c->rank + 1) % c->size, 1);
        if (c->rank == 0)
            sc_sums_p2p(c, z, zr, zc, c->size - 1, 0);
    }
    st = sc_agree(c, st);
    for (size_t i = 0; i < n; i++)
        free(d[i]);
    free(d);
    if (c->rank > 0)
        ns_ica_gpca_free(gp);
    return st;
}

/* Collective: g->power passes and the Rayleigh-Ritz pass, as rank 0's
 * group PCA schedules them (the same steps as ns_ica_fit), BLAS at one
 * thread. */
static ns_status sc_power(sc_ctx *c, ns_ica_fitctx *g, sc_red *red, size_t n)
{
    int old = ns_blas_threads(1);
    ns_status st = NS_OK;
    for (;;) {
        ns_ica_gpca_pass next = NS_GPCA_PASS_NONE;
        if (c->rank == 0)
            st = ns_ica_gpca_refine_next(g->g, g->power, &next);
        st = sc_agree(c, st);
        int k = (int)next;
        MPI_Bcast(&k, 1, MPI_INT, 0, c->comm);
        if (st != NS_OK || k == NS_GPCA_PASS_NONE)
            break;
        g->rr_pass |= k == NS_GPCA_PASS_RR;
        st = sc_power_pass(c, g, red, n, k == NS_GPCA_PASS_RR);
    }
    ns_blas_threads(old);
    return st;
}

/* Collective: every rank ends with g->z, g->geig and every order's model
 * (W broadcast; A = pinv(W) and the raw maps S = W Z recomputed locally,
 * cheaper than sending K x V maps). */
static ns_status sc_share_model(sc_ctx *c, ns_ica_fitctx *g)
{
    size_t K = (size_t)g->kmax, V = g->grid.v;
    ns_status st = NS_OK;
    if (c->rank > 0) {
        g->z = ns_matrix_create(K, V);
        g->geig = ns_alloc(K, sizeof(double));
        g->om = ns_calloc(g->norders, sizeof *g->om);
        g->ic = ns_calloc(g->norders, sizeof *g->ic);
        for (size_t o = 0; g->om && o < g->norders; o++) {
            size_t k = (size_t)g->orders[o];
            g->om[o].k = (int)k;
            g->om[o].w = ns_alloc(k * k, sizeof(double));
            g->om[o].a = ns_alloc(k * k, sizeof(double));
            g->om[o].z = ns_alloc(1, sizeof(ns_matrix));
            if (!g->om[o].w || !g->om[o].a || !g->om[o].z)
                st = NS_ERR_NOMEM;
        }
        if (!g->z || !g->geig || !g->om || !g->ic)
            st = NS_ERR_NOMEM;
    }
    st = sc_agree(c, st);
    if (st != NS_OK)
        return st;
    for (size_t i = 0; i < K; i++)
        sc_bcast(c, g->z->data + i * g->z->stride, V, MPI_FLOAT, 4);
    sc_bcast(c, g->geig, K, MPI_DOUBLE, 8);
    for (size_t o = 0; o < g->norders; o++)
        sc_bcast(c, g->om[o].w, (size_t)g->om[o].k * (size_t)g->om[o].k, MPI_DOUBLE, 8);
    for (size_t o = 0; c->rank > 0 && st == NS_OK && o < g->norders; o++) {
        ns_ica_order_model *m = &g->om[o];
        size_t k = (size_t)m->k;
        m->geig = g->geig;
        *m->z = ns_matrix_rows(g->z, 0, k);
        st = ns_ica_pinv(m->w, k, k, m->a);
        if (st == NS_OK)
            st = ns_ica_sources(m->z, m->w, k, &m->maps);
    }
    return sc_agree(c, st);
}

/* --------------------------------------------------------------- report */

/* Collective: per-rank bytes, peak memory and time, logged and written by
 * rank 0 to OUT/group/desc-mpi_ranks.tsv. */
/* ------------------------------------------------------------- driver */

/* Pass 2 on this rank's subjects: back-reconstruction of every order from
 * the reduced data kept by pass 1 (dual regression re-reads the data). */
static ns_status sc_pass2(const ns_ica_fitctx *g, size_t lo, size_t n, sc_red *red)
{
    ns_progress *pr = ns_progress_create("ica: back-reconstruction", n);
    ns_ica_backrecon br = g->p->backrecon;
    ns_status st = NS_OK;
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        ns_matrix *x = NULL, *y = NULL;
        st = br == NS_ICA_BR_DR
                 ? ns_ica_load_subject(&g->grid, &g->sub[lo + i], g->p->preproc, &x)
                 : sc_y_get(&red[i], g->grid.v, &y);
        for (size_t o = 0; st == NS_OK && o < g->norders; o++)
            st = ns_ica_subject_outputs(g->p->out_dir, &g->grid, &g->sub[lo + i], &g->om[o], br,
                                        x, &red[i].sp, y, NULL);
        ns_matrix_free(x), ns_matrix_free(y);
        ns_progress_update(pr, i + 1);
    }
    ns_progress_free(pr);
    return st;
}

/* The stages after the set-up; g holds every subject, this rank [lo, lo+n). */
static ns_status sc_run(sc_ctx *c, ns_ica_fitctx *g, size_t lo, size_t n)
{
    ns_status st = sc_mask(c, g, lo, lo + n);
    if (st != NS_OK)
        return st;
    sc_red *red = ns_calloc(n + 1, sizeof *red);
    double *spec = ns_calloc(g->tmin, sizeof(double));
    if (!red || !spec)
        MPI_Abort(c->comm, 1);
    st = sc_agree(c, sc_pass1(g, lo, n, red, spec));
    if (st == NS_OK)
        st = sc_merge(c, g, red, n, spec);
    if (st == NS_OK)
        st = sc_power(c, g, red, n);
    if (st == NS_OK && c->rank == 0) {
        st = ns_ica_fit_group(g);
        if (st == NS_OK)
            st = ns_ica_fit_write_group(g);
    }
    st = sc_agree(c, st);
    if (st == NS_OK && !g->p->group_only)
        st = sc_share_model(c, g);
    if (st == NS_OK && !g->p->group_only)
        st = sc_agree(c, sc_pass2(g, lo, n, red));
    for (size_t i = 0; i < n; i++)
        ns_ica_spca_clear(&red[i].sp);
    if (n && red[0].fp)
        fclose(red[0].fp);
    free(red), free(spec);
    return st;
}

ns_status ns_scale_ica_fit(const ns_ica_params *p, const char *const *bold, size_t nsub)
{
    sc_ctx c;
    ns_log_level lev;
    ns_status st = ns_scale__begin(&c, &lev);
    if (st != NS_OK)
        return st;
    int nt = p->nprocs < 1 ? 1 : p->nprocs, old = ns_blas_threads(nt);
    ns_ica_fitctx g = {.p = p, .nsub = nsub};
    st = ns_ica_fit_setup(&g, bold);
    if (st == NS_OK && sc_merge_mode() < 0)
        st = ns_error(NS_ERR_ARG, "NS_SCALE_MERGE=%s: expected exact, chain or gather",
                      getenv("NS_SCALE_MERGE"));
    st = sc_agree(&c, st);
    /* Contiguous blocks: subject i on rank floor(i S / N), so that the MIGP
     * chain visits the subjects in their order. */
    size_t lo, hi;
    ns_block_range(nsub, (size_t)c.rank, (size_t)c.size, &lo, &hi);
    if (st == NS_OK)
        st = sc_run(&c, &g, lo, hi - lo);
    if (st == NS_OK)
        st = ns_scale__report(&c, p->out_dir, "desc-mpi_ranks.tsv", "subjects", "ica", hi - lo);
    ns_ica_fit_clear(&g);
    ns_blas_threads(old);
    ns_log_set_level(lev);
    return st;
}
#endif
