/* Streaming group PCA: MIGP (Smith et al. 2014), the incremental reduction
 * MELODIC uses. The running matrix R has orthogonal rows whose squared norms
 * are the eigenvalues of its Gram matrix, so each update only needs the
 * cross products with the new subject. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/ica_int.h"

#define NS_GPCA_CHUNK 4096

struct ns_ica_gpca {
    size_t v, work;
    int exact;        /* keep every row (stacked EVD) */
    float *buf;       /* cap rows x v: R on top, the new subject below */
    size_t cap, nr;   /* capacity and rows held */
    double *ev;       /* nr squared row norms when orth */
    int orth;
    size_t total;     /* rows received */
    float *z;         /* power iteration: Q Y^T Y, nq x v, or NULL */
    size_t nq;        /* rows refined: those of non-negligible variance */
    /* Rayleigh-Ritz on span [Q; Z] after the last power iteration */
    float *r;  /* nk x v: orthonormal rows spanning Z outside Q, or NULL */
    size_t nk;
    double *h; /* nq x (nq + nk): [Q S Q^T, Q S R^T], S = Y^T Y */
    float *hs; /* nk x nk: R S R^T summed over the subjects */
    int npow;  /* power iterations begun */
};

ns_ica_gpca *ns_ica_gpca_create(size_t v, size_t work)
{
    ns_ica_gpca *g = ns_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->v = v;
    g->work = work;
    g->exact = work == 0;
    return g;
}

void ns_ica_gpca_free(ns_ica_gpca *g)
{
    if (!g)
        return;
    free(g->buf), free(g->ev), free(g->z), free(g->r), free(g->h), free(g->hs);
    free(g);
}

size_t ns_ica_gpca_rows(const ns_ica_gpca *g)
{
    return g->total;
}

static ns_status grow(ns_ica_gpca *g, size_t rows)
{
    if (rows <= g->cap)
        return NS_OK;
    size_t n;
    if (!ns_mul_size(rows, g->v, &n) || !ns_mul_size(n, sizeof(float), &n))
        return ns_error(NS_ERR_NOMEM, "group PCA matrix of %zu x %zu is too large", rows, g->v);
    float *b = realloc(g->buf, n);
    if (!b)
        return ns_error(NS_ERR_NOMEM, "out of memory for the group PCA (%zu x %zu)", rows, g->v);
    g->buf = b;
    g->cap = rows;
    return NS_OK;
}

/* What one add appends after R: the rows of Y itself, or the q rows of a
 * basis B with Y = mix B (mix p x q, row-major); white: Y Y^T = (V-1) I is
 * known rather than computed. */
typedef struct {
    int white;
    const double *mix;
    size_t q;
} gpca_rows;

static const gpca_rows gpca_plain = {0, NULL, 0};

/* G[i][nr + j] = G[nr + j][i] = (c mix^T)[i][j] (R Y^T = R B^T mix^T), or
 * c[i][j] itself without a mix; c is nr x q. */
static ns_status gram_cross(const gpca_rows *r, size_t nr, size_t p, size_t n, const float *c,
                            double *G)
{
    size_t q = r->mix ? r->q : p;
    double *cd = ns_alloc(nr * q, sizeof(double)), *x = ns_alloc(nr * p, sizeof(double));
    if (!cd || !x) {
        free(cd), free(x);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < nr * q; i++)
        cd[i] = c[i];
    if (r->mix)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)p, (int)q, 1.0, cd,
                    (int)q, r->mix, (int)q, 0.0, x, (int)p);
    else
        memcpy(x, cd, nr * p * sizeof(double));
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < p; j++)
            G[i * n + nr + j] = G[(nr + j) * n + i] = x[i * p + j];
    free(cd), free(x);
    return NS_OK;
}

/* Gram matrix of the n = nr + p rows of [R; Y], in double (n x n); the rows
 * after R are Y itself or the basis B of Y = mix B (then Y is white). */
static ns_status gram(const ns_ica_gpca *g, const gpca_rows *r, size_t n, double *G)
{
    size_t nr = g->orth ? g->nr : 0, p = n - nr, q = r->mix ? r->q : p, V = g->v;
    float *tmp = ns_alloc(p * p > nr * q ? p * p : nr * q, sizeof(float));
    if (!tmp)
        return NS_ERR_NOMEM;
    const float *Y = g->buf + nr * V;
    memset(G, 0, n * n * sizeof(double));
    for (size_t i = 0; i < nr; i++)
        G[i * n + i] = g->ev[i];
    /* Y Y^T (upper triangle) unless known, and R Y^T. */
    if (r->white) {
        for (size_t i = 0; i < p; i++)
            G[(nr + i) * n + nr + i] = (double)(V - 1);
    } else {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)p, (int)V, 1.0f, Y, (int)V,
                    0.0f, tmp, (int)p);
        for (size_t i = 0; i < p; i++)
            for (size_t j = i; j < p; j++)
                G[(nr + i) * n + nr + j] = G[(nr + j) * n + nr + i] = tmp[i * p + j];
    }
    ns_status st = NS_OK;
    if (nr) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)q, (int)V, 1.0f,
                    g->buf, (int)V, Y, (int)V, 0.0f, tmp, (int)q);
        st = gram_cross(r, nr, p, n, tmp, G);
    }
    free(tmp);
    return st;
}

/* The coefficients of the new R on the rows held, as floats ((nr + q) x m):
 * U_R on R, and mix^T U_Y on B (U_Y itself without a mix), mu its buffer. */
static void update_coefs(const gpca_rows *r, size_t nr, size_t p, size_t m, const double *U,
                         double *mu, float *Uf)
{
    size_t rows = nr + p;
    if (r->mix) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r->q, (int)m, (int)p, 1.0,
                    r->mix, (int)r->q, U + nr * m, (int)m, 0.0, mu, (int)m);
        rows = nr + r->q;
    }
    for (size_t i = 0; i < rows * m; i++)
        Uf[i] = (float)(i < nr * m || !r->mix ? U[i] : mu[i - nr * m]);
}

/* Rotates the n = nr + p rows of [R; Y] onto their top m principal
 * directions: R <- U_m^T [R; Y], column block by column block, in place. */
static ns_status reduce(ns_ica_gpca *g, const gpca_rows *r, size_t n, size_t m)
{
    size_t V = g->v, nr = g->orth ? g->nr : 0, nb_rows = r->mix ? nr + r->q : n;
    double *G = ns_alloc(n * n, sizeof(double)), *U = ns_alloc(n * m, sizeof(double));
    double *ev = ns_alloc(m, sizeof(double));
    double *mu = ns_alloc(r->mix ? r->q * m : 1, sizeof(double));
    float *Uf = ns_alloc(nb_rows * m, sizeof(float));
    float *tmp = ns_alloc(m * NS_GPCA_CHUNK, sizeof(float));
    ns_status st = (G && U && ev && mu && Uf && tmp) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = gram(g, r, n, G);
    if (st == NS_OK)
        st = ns_ica_eig_top(G, n, m, ev, U);
    if (st == NS_OK) {
        update_coefs(r, nr, n - nr, m, U, mu, Uf);
        for (size_t v0 = 0; v0 < V; v0 += NS_GPCA_CHUNK) {
            size_t nb = V - v0 < NS_GPCA_CHUNK ? V - v0 : NS_GPCA_CHUNK;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)nb, (int)nb_rows,
                        1.0f, Uf, (int)m, g->buf + v0, (int)V, 0.0f, tmp, (int)nb);
            for (size_t i = 0; i < m; i++)
                memcpy(g->buf + i * V + v0, tmp + i * nb, nb * sizeof(float));
        }
        free(g->ev);
        g->ev = ev;
        ev = NULL;
        g->nr = m;
        g->orth = 1;
    }
    free(G), free(U), free(ev), free(mu), free(Uf), free(tmp);
    return st;
}

static ns_status gpca_add(ns_ica_gpca *g, const ns_matrix *y, const gpca_rows *r)
{
    if (y->cols != g->v)
        return ns_error(NS_ERR_ARG, "group PCA: subject has %zu voxels, expected %zu", y->cols,
                        g->v);
    size_t p = y->rows, n = g->nr + p;
    ns_status st = grow(g, n);
    if (st != NS_OK)
        return st;
    for (size_t i = 0; i < p; i++)
        memcpy(g->buf + (g->nr + i) * g->v, y->data + i * y->stride, g->v * sizeof(float));
    g->total += p;
    if (g->exact) {
        g->nr = n;
        g->orth = 0;
        return NS_OK;
    }
    return reduce(g, r, n, n < g->work ? n : g->work);
}

ns_status ns_ica_gpca_add(ns_ica_gpca *g, const ns_matrix *y)
{
    return gpca_add(g, y, &gpca_plain);
}

ns_status ns_ica_gpca_add_white(ns_ica_gpca *g, const ns_matrix *y)
{
    const gpca_rows white = {1, NULL, 0};
    return gpca_add(g, y, &white);
}

int ns_ica_gpca_factored_pays(size_t work, size_t p, size_t t)
{
    /* per voxel: Y costs its projection p t, the factors 2 work (t + 1 - p)
     * more in the cross products and the update */
    return work > 0 && 2 * work * (t + 1 - p) < p * t;
}

ns_status ns_ica_gpca_add_factored(ns_ica_gpca *g, const ns_matrix *x, const ns_ica_whitener *w)
{
    size_t T = x->rows, V = g->v, p = w->p, nr = g->orth ? g->nr : 0;
    if (x->cols != V || w->t != T)
        return ns_error(NS_ERR_ARG, "group PCA: subject of %zu x %zu, expected %zu voxels, %zu "
                        "time points", T, x->cols, V, w->t);
    if (g->exact)
        return ns_error(NS_ERR_ARG, "group PCA: factored subjects need MIGP");
    ns_status st = grow(g, nr + T + 1);
    if (st != NS_OK)
        return st;
    /* B = [Xc; m^T], Y = [Wh, Wh 1] B */
    for (size_t t = 0; t < T; t++)
        memcpy(g->buf + (nr + t) * V, x->data + t * x->stride, V * sizeof(float));
    memcpy(g->buf + (nr + T) * V, w->m, V * sizeof(float));
    g->total += p;
    const gpca_rows factored = {1, w->mix, T + 1};
    return reduce(g, &factored, nr + p, nr + p < g->work ? nr + p : g->work);
}

/* ------------------------------------------------------ power iteration */

/* Rows below this fraction of the first's variance (a rank below the rows
 * held, e.g. identical subjects) are left out of the power iteration. */
#define NS_GPCA_POWER_MIN 1e-6

ns_status ns_ica_gpca_power_begin(ns_ica_gpca *g)
{
    if (g->exact || !g->orth || g->z || g->r || !g->nr)
        return ns_error(NS_ERR_ARG, "group PCA: a power iteration starts from MIGP's rows");
    if (!(g->ev[0] > 0))
        return ns_error(NS_ERR_DATA, "group PCA: the stacked data have no variance");
    size_t V = g->v;
    for (g->nq = 0; g->nq < g->nr && g->ev[g->nq] > NS_GPCA_POWER_MIN * g->ev[0]; g->nq++)
        cblas_sscal((int)V, (float)(1.0 / sqrt(g->ev[g->nq])), g->buf + g->nq * V, 1);
    g->z = ns_calloc(g->nq * V, sizeof(float));
    g->npow++;
    return g->z ? NS_OK : NS_ERR_NOMEM;
}

/* The rows a pass projects the subjects on: Q in a power iteration, R in
 * the Rayleigh-Ritz pass; NULL between passes. */
const float *ns_ica_gpca_power_rows(const ns_ica_gpca *g, size_t *m)
{
    if (m)
        *m = g->r ? g->nk : g->z ? g->nq : 0;
    return g->r ? g->r : g->z ? g->buf : NULL;
}

float *ns_ica_gpca_power_sums(ns_ica_gpca *g, size_t *rows, size_t *cols)
{
    ns_ica_gpca_power_rows(g, rows);
    *cols = g->r ? g->nk : g->v;
    return g->r ? g->hs : g->z;
}

ns_status ns_ica_gpca_power_join(ns_ica_gpca *g, const float *q, size_t m, int rr)
{
    if (g->exact || g->nr || g->z || g->r || m == 0)
        return ns_error(NS_ERR_ARG, "group PCA: only an empty MIGP joins a power iteration");
    if (rr) {
        g->r = ns_alloc(m * g->v, sizeof(float));
        g->hs = ns_calloc(m * m, sizeof(float));
        if (!g->r || !g->hs)
            return NS_ERR_NOMEM;
        memcpy(g->r, q, m * g->v * sizeof(float));
        g->nk = m;
        return NS_OK;
    }
    ns_status st = grow(g, m);
    if (st != NS_OK)
        return st;
    memcpy(g->buf, q, m * g->v * sizeof(float));
    g->nr = g->nq = m;
    g->orth = 1;
    g->z = ns_calloc(m * g->v, sizeof(float));
    return g->z ? NS_OK : NS_ERR_NOMEM;
}

/* The rows L of one subject: y itself, or x (centred on the whitener's
 * mean) with that mean as one more row (y = mix L). */
static size_t power_rows(const ns_matrix *x, const ns_matrix *y)
{
    return y ? y->rows : x->rows + 1;
}

/* d <- mix^T mix d (q x m), in double: a factored subject's coefficients
 * on its rows L, as Y^T Y = L^T mix^T mix L. */
static ns_status mix_twice(const ns_ica_whitener *w, size_t q, size_t m, float *d)
{
    double *dd = ns_alloc(q * m, sizeof(double)), *c = ns_alloc(w->p * m, sizeof(double));
    if (!dd || !c) {
        free(dd), free(c);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < q * m; i++)
        dd[i] = d[i];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)w->p, (int)m, (int)q, 1.0, w->mix,
                (int)q, dd, (int)m, 0.0, c, (int)m);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)m, (int)w->p, 1.0, w->mix,
                (int)q, c, (int)m, 0.0, dd, (int)m);
    for (size_t i = 0; i < q * m; i++)
        d[i] = (float)dd[i];
    free(dd), free(c);
    return NS_OK;
}

/* h = (M P)^T (M P) (m x m) for the Rayleigh-Ritz pass: the subject's
 * share of R S R^T, P = L R^T (q x m), M = mix or, mix NULL, I. */
static ns_status rr_coefs(const ns_ica_whitener *w, size_t q, size_t m, const float *pf,
                          float **h)
{
    size_t p = w ? w->p : q;
    double *pd = ns_alloc(q * m, sizeof(double)), *c = ns_alloc(p * m, sizeof(double));
    double *hd = ns_alloc(m * m, sizeof(double));
    *h = ns_alloc(m * m, sizeof(float));
    ns_status st = pd && c && hd && *h ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        for (size_t i = 0; i < q * m; i++)
            pd[i] = pf[i];
        if (w)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)m, (int)q, 1.0,
                        w->mix, (int)q, pd, (int)m, 0.0, c, (int)m);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)m, (int)p, 1.0, w ? c : pd,
                    (int)m, 0.0, hd, (int)m);
        for (size_t i = 0; i < m; i++)
            for (size_t j = i; j < m; j++)
                (*h)[i * m + j] = (*h)[j * m + i] = (float)hd[i * m + j];
    }
    if (st != NS_OK) {
        free(*h);
        *h = NULL;
    }
    free(pd), free(c), free(hd);
    return st;
}

ns_status ns_ica_gpca_power_coefs(const ns_ica_gpca *g, const ns_matrix *x,
                                  const ns_ica_whitener *w, const ns_matrix *y, float **d)
{
    const ns_matrix *l = y ? y : x;
    size_t m;
    const float *rows = ns_ica_gpca_power_rows(g, &m);
    *d = NULL;
    if (!rows || !l || l->cols != g->v)
        return ns_error(NS_ERR_ARG, "group PCA: power iteration not begun, or a subject not of "
                        "%zu voxels", g->v);
    size_t V = g->v, q = power_rows(x, y);
    float *pf = ns_alloc(q * m, sizeof(float));
    if (!pf)
        return NS_ERR_NOMEM;
    /* P = L Q^T (q x m), L = [Xc; m^T] when factored; d = mix^T mix P, or P
     * itself; in the Rayleigh-Ritz pass (Q = R) d = P^T mix^T mix P */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)l->rows, (int)m, (int)V, 1.0f,
                l->data, (int)l->stride, rows, (int)V, 0.0f, pf, (int)m);
    if (!y)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)V, 1.0f, rows, (int)V, w->m, 1,
                    0.0f, pf + (q - 1) * m, 1);
    if (g->r) {
        ns_status st = rr_coefs(y ? NULL : w, q, m, pf, d);
        free(pf);
        return st;
    }
    ns_status st = y ? NS_OK : mix_twice(w, q, m, pf);
    if (st != NS_OK)
        free(pf);
    else
        *d = pf;
    return st;
}

ns_status ns_ica_gpca_power_add(ns_ica_gpca *g, const ns_matrix *x, const ns_ica_whitener *w,
                                const ns_matrix *y, const float *d)
{
    const ns_matrix *l = y ? y : x;
    size_t m;
    if (!ns_ica_gpca_power_rows(g, &m) || !l || l->cols != g->v)
        return ns_error(NS_ERR_ARG, "group PCA: power iteration not begun, or a subject not of "
                        "%zu voxels", g->v);
    if (g->r) {
        for (size_t i = 0; i < m * m; i++)
            g->hs[i] += d[i];
        return NS_OK;
    }
    size_t V = g->v, q = power_rows(x, y);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)V, (int)l->rows, 1.0f, d,
                (int)m, l->data, (int)l->stride, 1.0f, g->z, (int)V);
    if (!y)
        cblas_sger(CblasRowMajor, (int)m, (int)V, 1.0f, d + (q - 1) * m, 1, w->m, 1, g->z,
                   (int)V);
    return NS_OK;
}

/* The eigenpairs (e, U descending, m x m) of the Gram matrix of the m rows
 * of z (V floats each), formed in float. */
static ns_status rows_gram_eig(const float *z, size_t m, size_t V, double *e, double *U)
{
    float *zz = ns_alloc(m * m, sizeof(float));
    double *G = ns_alloc(m * m, sizeof(double));
    ns_status st = zz && G ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)V, 1.0f, z, (int)V, 0.0f,
                    zz, (int)m);
        for (size_t i = 0; i < m; i++)
            for (size_t j = i; j < m; j++)
                G[i * m + j] = G[j * m + i] = zz[i * m + j];
        st = ns_ica_eig_top(G, m, m, e, U);
    }
    free(zz), free(G);
    return st;
}

/* Residual directions of R's Gram matrix below this fraction of Z's
 * largest squared row norm are rounding, not data, and are left out. */
#define NS_GPCA_RR_MIN 1e-6

/* Z <- Z - (Z Q^T) Q, twice (the second restores orthogonality lost to
 * rounding); c (m x m) gets the first Z Q^T. */
static void project_out(const ns_ica_gpca *g, float *c, float *c2)
{
    size_t V = g->v, m = g->nq;
    for (int k = 0; k < 2; k++) {
        float *ck = k ? c2 : c;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)V, 1.0f, g->z,
                    (int)V, g->buf, (int)V, 0.0f, ck, (int)m);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)V, (int)m, -1.0f, ck,
                    (int)m, g->buf, (int)V, 1.0f, g->z, (int)V);
    }
}

/* From the residual W = Z - (Z Q^T) Q with W W^T = U diag(e) U^T: the
 * orthonormal rows R = diag(e)^-1/2 U^T W of the nk directions kept, and
 * H = [Q S Q^T, Q S R^T] with Q S Q^T = Z Q^T (c) and Q S R^T = W R^T =
 * U diag(e)^1/2. */
static ns_status rr_basis(ns_ica_gpca *g, const float *c, const double *e, const double *U)
{
    size_t V = g->v, m = g->nq, nk = g->nk, n = m + nk;
    float *uf = ns_alloc(m * nk, sizeof(float));
    g->r = ns_alloc(nk * V, sizeof(float));
    g->h = ns_alloc(m * n, sizeof(double));
    g->hs = ns_calloc(nk * nk, sizeof(float));
    if (!uf || !g->r || !g->h || !g->hs) {
        free(uf), free(g->r), free(g->h), free(g->hs);
        g->r = NULL, g->h = NULL, g->hs = NULL;
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < m; j++)
            g->h[i * n + j] = 0.5 * ((double)c[i * m + j] + c[j * m + i]);
        for (size_t j = 0; j < nk; j++) {
            uf[i * nk + j] = (float)(U[i * m + j] / sqrt(e[j]));
            g->h[i * n + m + j] = U[i * m + j] * sqrt(e[j]);
        }
    }
    if (nk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)nk, (int)V, (int)m, 1.0f, uf,
                    (int)nk, g->z, (int)V, 0.0f, g->r, (int)V);
    free(uf);
    return NS_OK;
}

ns_status ns_ica_gpca_rr_begin(ns_ica_gpca *g)
{
    size_t V = g->v, m = g->nq;
    if (!g->z)
        return ns_error(NS_ERR_ARG, "group PCA: Rayleigh-Ritz without a power iteration");
    double zmax = 0;
    for (size_t i = 0; i < m; i++)
        zmax = fmax(zmax, (double)cblas_sdot((int)V, g->z + i * V, 1, g->z + i * V, 1));
    float *c = ns_alloc(m * m, sizeof(float)), *c2 = ns_alloc(m * m, sizeof(float));
    double *U = ns_alloc(m * m, sizeof(double)), *e = ns_alloc(m, sizeof(double));
    ns_status st = c && c2 && U && e ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        project_out(g, c, c2);
        st = rows_gram_eig(g->z, m, V, e, U);
    }
    for (g->nk = 0; st == NS_OK && g->nk < m && e[g->nk] > NS_GPCA_RR_MIN * zmax;)
        g->nk++;
    if (st == NS_OK)
        st = rr_basis(g, c, e, U);
    free(g->z);
    g->z = NULL;
    free(c), free(c2), free(U), free(e);
    return st;
}

/* H = [Q; R] S [Q; R]^T (n x n) from its top rows and the summed R S R^T. */
static void rr_matrix(const ns_ica_gpca *g, double *H)
{
    size_t m = g->nq, nk = g->nk, n = m + nk;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++)
            H[i * n + j] = H[j * n + i] =
                i < m ? g->h[i * n + j]
                      : 0.5 * ((double)g->hs[(i - m) * nk + j - m] + g->hs[(j - m) * nk + i - m]);
}

/* Rayleigh-Ritz on span [Q; R]: the top eigenpairs (e, U) of H give the
 * rows U^T [Q; R] scaled to squared norms e, the estimates of S's
 * eigenvalues; as many as Q has, those above 1e-6 of the first. */
static ns_status rr_end(ns_ica_gpca *g)
{
    size_t V = g->v, m = g->nq, nk = g->nk, n = m + nk, keep = 0;
    double *H = ns_alloc(n * n, sizeof(double)), *U = ns_alloc(n * n, sizeof(double));
    double *e = ns_alloc(n, sizeof(double));
    float *uf = ns_alloc(n * m, sizeof(float)), *out = ns_alloc(m * V, sizeof(float));
    ns_status st = H && U && e && uf && out ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        rr_matrix(g, H);
        st = ns_ica_eig_top(H, n, n, e, U);
    }
    if (st == NS_OK && !(e[0] > 0))
        st = ns_error(NS_ERR_DATA, "group PCA: the stacked data have no variance");
    while (st == NS_OK && keep < m && e[keep] > NS_GPCA_POWER_MIN * e[0])
        keep++;
    if (st == NS_OK) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < keep; j++)
                uf[i * keep + j] = (float)(U[i * n + j] * sqrt(e[j]));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)keep, (int)V, (int)m, 1.0f, uf,
                    (int)keep, g->buf, (int)V, 0.0f, out, (int)V);
        if (nk)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)keep, (int)V, (int)nk, 1.0f,
                        uf + m * keep, (int)keep, g->r, (int)V, 1.0f, out, (int)V);
        memcpy(g->buf, out, keep * V * sizeof(float));
        free(g->ev), free(g->r), free(g->h), free(g->hs);
        g->ev = e, g->nr = g->nq = keep;
        g->r = NULL, g->h = NULL, g->hs = NULL, e = NULL;
    }
    free(H), free(U), free(e), free(uf), free(out);
    return st;
}

/* Rayleigh-Ritz on the rows of Z = Q A^T A: the eigenpairs (e, U) of
 * Z Z^T = Q (A^T A)^2 Q^T give R = U^T Z with squared row norms sqrt(e),
 * the estimates of A^T A's eigenvalues. */
ns_status ns_ica_gpca_power_end(ns_ica_gpca *g)
{
    size_t V = g->v, m = g->nq;
    if (g->r)
        return rr_end(g);
    if (!g->z)
        return ns_error(NS_ERR_ARG, "group PCA: power iteration not begun");
    float *uf = ns_alloc(m * m, sizeof(float));
    double *U = ns_alloc(m * m, sizeof(double)), *e = ns_alloc(m, sizeof(double));
    ns_status st = uf && U && e ? rows_gram_eig(g->z, m, V, e, U) : NS_ERR_NOMEM;
    for (size_t j = 0; st == NS_OK && j < m; j++)
        if (!(e[j] > 0))
            st = ns_error(NS_ERR_DATA, "group PCA: component %zu has zero variance", j + 1);
    if (st == NS_OK) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                uf[i * m + j] = (float)(U[i * m + j] * pow(e[j], -0.25));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)V, (int)m, 1.0f, uf,
                    (int)m, g->z, (int)V, 0.0f, g->buf, (int)V);
        for (size_t j = 0; j < m; j++)
            g->ev[j] = sqrt(e[j]);
        free(g->z);
        g->z = NULL;
    }
    free(uf), free(U), free(e);
    return st;
}

ns_status ns_ica_gpca_refine_next(ns_ica_gpca *g, int npower, ns_ica_gpca_pass *next)
{
    *next = NS_GPCA_PASS_NONE;
    if (g->r) /* after the Rayleigh-Ritz pass */
        return ns_ica_gpca_power_end(g);
    ns_status st = NS_OK;
    if (g->z && g->npow >= npower) { /* after the last power iteration */
        st = ns_ica_gpca_rr_begin(g);
        if (st == NS_OK && g->nk)
            *next = NS_GPCA_PASS_RR;
        else if (st == NS_OK) /* Z within Q: nothing to add */
            st = ns_ica_gpca_power_end(g);
        return st;
    }
    if (g->z)
        st = ns_ica_gpca_power_end(g);
    if (st == NS_OK && g->npow < npower) {
        st = ns_ica_gpca_power_begin(g);
        *next = st == NS_OK ? NS_GPCA_PASS_POWER : NS_GPCA_PASS_NONE;
    }
    return st;
}

/* Exact mode: eigendecomposition of the whole stacked Gram matrix. */
static ns_status result_exact(const ns_ica_gpca *g, size_t k, double *ev, double *U, double **all)
{
    size_t n = g->nr;
    double *G = ns_alloc(n * n, sizeof(double));
    if (!G)
        return NS_ERR_NOMEM;
    ns_status st = gram(g, &gpca_plain, n, G);
    if (st == NS_OK)
        st = ns_ica_eig_top(G, n, k, ev, U);
    if (st == NS_OK && all) {
        *all = ns_alloc(n, sizeof(double));
        st = *all ? ns_ica_eig_top(G, n, n, *all, NULL) : NS_ERR_NOMEM;
    }
    free(G);
    return st;
}

static ns_status whiten_rows(const ns_ica_gpca *g, size_t k, const double *ev, const double *U,
                             ns_matrix *z)
{
    size_t V = g->v, n = g->nr;
    for (size_t j = 0; j < k; j++) {
        if (!(ev[j] > 0))
            return ns_error(NS_ERR_DATA, "group PCA: component %zu has zero variance", j + 1);
        double f = sqrt((double)(V - 1) / ev[j]);
        float *zr = z->data + j * z->stride;
        if (!U) {
            const float *r = g->buf + j * V;
            for (size_t v = 0; v < V; v++)
                zr[v] = (float)(f * r[v]);
            continue;
        }
        memset(zr, 0, V * sizeof(float));
        for (size_t i = 0; i < n; i++)
            cblas_saxpy((int)V, (float)(f * U[i * k + j]), g->buf + i * V, 1, zr, 1);
    }
    return NS_OK;
}

ns_status ns_ica_gpca_result(const ns_ica_gpca *g, size_t k, ns_matrix **z, double *eig,
                             double **all, size_t *nall)
{
    *z = NULL;
    if (all)
        *all = NULL;
    if (k == 0 || k > g->nr)
        return ns_error(NS_ERR_ARG,
                        "group PCA: %zu components requested but only %zu rows were reduced", k,
                        g->nr);
    double *ev = ns_alloc(k, sizeof(double));
    double *U = g->orth ? NULL : ns_alloc(g->nr * k, sizeof(double));
    ns_status st = (ev && (g->orth || U)) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK && !g->orth)
        st = result_exact(g, k, ev, U, all);
    if (st == NS_OK && g->orth) {
        memcpy(ev, g->ev, k * sizeof(double));
        if (all) {
            *all = ns_alloc(g->nr, sizeof(double));
            st = *all ? NS_OK : NS_ERR_NOMEM;
            if (st == NS_OK)
                memcpy(*all, g->ev, g->nr * sizeof(double));
        }
    }
    if (st == NS_OK) {
        *z = ns_matrix_create(k, g->v);
        st = *z ? whiten_rows(g, k, ev, U, *z) : NS_ERR_NOMEM;
    }
    double norm = 1.0 / (double)(g->v - 1);
    if (st == NS_OK) {
        for (size_t j = 0; eig && j < k; j++)
            eig[j] = ev[j] * norm;
        for (size_t j = 0; all && j < g->nr; j++)
            (*all)[j] *= norm;
        if (nall)
            *nall = g->nr;
    } else {
        ns_matrix_free(*z);
        *z = NULL;
        if (all) {
            free(*all);
            *all = NULL;
        }
    }
    free(ev), free(U);
    return st;
}
