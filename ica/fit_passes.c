/* The passes of ns_ica_fit over the subjects' files: mask, PCA (with the
 * cache of reduced data), the group PCA's power iterations,
 * back-reconstruction. Subjects run in parallel (nprocs threads, one BLAS
 * thread each); the group PCA updates run in subject order so that results
 * do not depend on the number of threads. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ica/fit_int.h"

static int nthreads(const ns_ica_fitctx *f)
{
    return f->p->nprocs < 1 ? 1 : f->p->nprocs;
}

/* ----------------------------------------------------------------- mask */

static ns_status user_mask(ns_ica_fitctx *f, uint8_t *mask)
{
    ns_volume *m = NULL;
    ns_load_opts o = {.first_volume_only = 1};
    ns_status st = ns_volume_load(f->p->mask_path, &o, &m);
    if (st == NS_OK && !ns_geom_same_grid(&f->grid.geom, &m->geom))
        st = ns_error(NS_ERR_DATA, "mask is not on the grid of the BOLD data (%s)",
                      f->p->mask_path);
    for (size_t i = 0; st == NS_OK && i < f->grid.nvox; i++)
        mask[i] = m->data[i] != 0 && isfinite(m->data[i]);
    ns_volume_free(m);
    return st;
}

ns_status ns_ica_fit_mean_begin(ns_ica_fitctx *f)
{
    free(f->mean_acc);
    f->mean_acc = ns_calloc(f->grid.nvox, sizeof *f->mean_acc);
    f->mean_n = 0;
    return f->mean_acc ? NS_OK : NS_ERR_NOMEM;
}

void ns_ica_fit_mean_add(ns_ica_fitctx *f, const float *vol)
{
    for (size_t j = 0; j < f->grid.nvox; j++) {
        float x = vol[j];
        if (isfinite(x) && fabsf(x) < 1e12f)
            f->mean_acc[j] += (int64_t)llround((double)x * 1048576.0);
    }
    f->mean_n++;
}

/* GIFT: each subject's first volume >= its mean, AND-ed over subjects. The
 * smallest single-subject mask names the culprit of an empty group mask. */
static ns_status gift_mask(ns_ica_fitctx *f, uint8_t *mask, size_t *worst)
{
    ns_ica_err err = {0};
    size_t nvox = f->grid.nvox, least = SIZE_MAX;
    memset(mask, 1, nvox);
    if (ns_ica_fit_mean_begin(f) != NS_OK)
        return NS_ERR_NOMEM;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads(f))
    for (size_t i = 0; i < f->nsub; i++) {
        if (err.code != NS_OK)
            continue;
        ns_volume_reader *rd = NULL;
        ns_load_opts o = {.first_volume_only = 1};
        uint8_t *own = ns_alloc(nvox, 1);
        float *vol = ns_alloc(nvox, sizeof(float));
        ns_status st = own && vol ? ns_volume_reader_open(f->sub[i].path, &o, &rd) : NS_ERR_NOMEM;
        if (st == NS_OK && ns_volume_reader_header(rd)->nvox != nvox)
            st = ns_error(NS_ERR_DATA, "grid changed since its header was read (%s)",
                          f->sub[i].path);
        if (st == NS_OK)
            st = ns_volume_reader_next(rd, vol);
        if (st == NS_OK) {
            memset(own, 1, nvox);
            size_t n = ns_ica_mask_and_volume(vol, nvox, own);
#pragma omp critical(ns_ica_mask)
            {
                for (size_t j = 0; j < nvox; j++)
                    mask[j] &= own[j];
                ns_ica_fit_mean_add(f, vol);
                if (n < least || (n == least && i < *worst))
                    least = n, *worst = i;
            }
        } else {
            ns_ica_err_keep(&err, st);
        }
        ns_volume_reader_free(rd);
        free(own), free(vol);
    }
    return ns_ica_err_raise(&err);
}

/* The group mask, from the in-mask voxel indices. Written with the other
 * group outputs, after the fit: a fit that fails later leaves no mask behind
 * and an earlier run's mask (matching its models) untouched. */
ns_status ns_ica_fit_write_mask(ns_ica_fitctx *f)
{
    ns_geom g = f->grid.geom;
    g.ndim = 3;
    for (int i = 3; i < 7; i++)
        g.dim[i] = 1;
    g.tr = 0;
    ns_volume *v = ns_volume_create(&g);
    char *dir = ns_ica_path(f->p->out_dir, "group");
    char *path = dir ? ns_ica_path(dir, "desc-brain_mask.nii.gz") : NULL;
    ns_status st = (v && path) ? ns_mkdirs(dir) : NS_ERR_NOMEM;
    for (size_t j = 0; st == NS_OK && j < f->grid.v; j++)
        v->data[f->grid.idx[j]] = 1;
    if (st == NS_OK)
        st = ns_volume_save(v, path, NS_SAVE_UINT8);
    if (st == NS_OK && f->mean_acc && f->mean_n) { /* the report's background image */
        free(path);
        path = ns_ica_path(dir, "desc-mean_boldref.nii.gz");
        for (size_t i = 0; path && i < f->grid.nvox; i++)
            v->data[i] = (float)((double)f->mean_acc[i] / 1048576.0 / (double)f->mean_n);
        st = path ? ns_volume_save(v, path, NS_SAVE_FLOAT32) : NS_ERR_NOMEM;
    }
    ns_volume_free(v);
    free(dir), free(path);
    return st;
}

ns_status ns_ica_fit_mask(ns_ica_fitctx *f)
{
    uint8_t *mask = ns_alloc(f->grid.nvox, 1);
    size_t worst = 0;
    if (!mask)
        return NS_ERR_NOMEM;
    ns_status st = f->p->mask_path ? user_mask(f, mask) : gift_mask(f, mask, &worst);
    size_t v = 0;
    for (size_t i = 0; st == NS_OK && i < f->grid.nvox; i++)
        v += mask[i];
    if (st == NS_OK && v < 2)
        st = f->p->mask_path
                 ? ns_error(NS_ERR_DATA, "empty mask: fewer than 2 non-zero voxels (%s)",
                            f->p->mask_path)
                 : ns_error(NS_ERR_DATA,
                            "empty mask: no voxel is >= the first-volume mean in every subject "
                            "(smallest subject mask: %s)",
                            f->sub[worst].path);
    if (st == NS_OK && v <= (size_t)f->p1)
        st = ns_error(NS_ERR_DATA, "mask has %zu voxels, not more than the %zu subject PCs (%s)",
                      v, f->p1, f->p->mask_path ? f->p->mask_path : f->sub[worst].path);
    if (st == NS_OK) {
        f->grid.v = v;
        f->grid.idx = ns_alloc(v, sizeof(size_t));
        st = f->grid.idx ? NS_OK : NS_ERR_NOMEM;
        for (size_t i = 0, j = 0; st == NS_OK && i < f->grid.nvox; i++)
            if (mask[i])
                f->grid.idx[j++] = i;
    }
    if (st == NS_OK)
        ns_info("ica: mask of %zu voxels, %zu subjects, subject PCs %zu, orders up to %d", v,
                f->nsub, f->p1, f->kmax);
    free(mask);
    return st;
}

/* ---------------------------------------------------------------- cache */

static char *cache_file(const ns_ica_fitctx *f, size_t i)
{
    char name[64];
    snprintf(name, sizeof name, "%06zu.bin", i);
    return ns_ica_path(f->cache_dir, name);
}

/* A cache file mapped for reading: the data of cache_read view it until
 * cache_unmap (no copy of them, no fresh pages for them). */
typedef struct {
    void *base;
    size_t len;
} cache_map;

static void cache_unmap(cache_map *m)
{
    if (m->base)
        munmap(m->base, m->len);
    m->base = NULL, m->len = 0;
}

/* Maps path whole; 0 on failure. */
static int cache_map_file(const char *path, cache_map *m)
{
    int fd = path ? open(path, O_RDONLY) : -1;
    struct stat sb;
    int ok = fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0;
    m->len = ok ? (size_t)sb.st_size : 0;
    m->base = ok ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (fd >= 0)
        close(fd);
    if (m->base == MAP_FAILED)
        m->base = NULL, m->len = 0;
    return m->base != NULL;
}

/* A subject's reduction: its PCA, and its reduced data y or the factored
 * form (x centred, wh). Read back from the cache, y or xc views the
 * mapping; in a pass, x is the loading thread's data matrix. */
typedef struct {
    ns_ica_spca sp;
    ns_ica_whitener wh;
    ns_matrix *x, *y, *xc;
    cache_map map;
} reduced;

/* Frees what r holds but x (the thread's, reused). */
static void reduced_clear(reduced *r)
{
    ns_ica_spca_clear(&r->sp);
    ns_ica_whitener_clear(&r->wh);
    ns_matrix_free(r->y), ns_matrix_free(r->xc);
    r->y = r->xc = NULL;
    cache_unmap(&r->map);
}

/* The data of a factored subject: the cache's view, or the thread's
 * matrix. */
static const ns_matrix *reduced_x(const reduced *r)
{
    return r->xc ? r->xc : r->x;
}

#define CACHE_HDR (4 * sizeof(uint64_t)) /* T, p, V, data rows */

/* Raw spill of one subject's reduction: T, p, V, the rows of data (p, or
 * T + 1 factored); F, L, spectrum; y, or the mix then [Xc; m^T]. */
static ns_status cache_write(const ns_ica_fitctx *f, size_t i, const reduced *r)
{
    char *path = cache_file(f, i);
    FILE *fp = path ? fopen(path, "wb") : NULL;
    if (!fp) {
        ns_status st = ns_error(NS_ERR_IO, "cannot write the cache (%s)", path ? path : "?");
        free(path);
        return st;
    }
    size_t T = r->sp.t, p = r->sp.p, V = f->grid.v, nmix = r->y ? 0 : p * (T + 1);
    uint64_t hdr[4] = {T, p, V, r->y ? p : T + 1};
    const ns_matrix *d = r->y ? r->y : r->x;
    int ok = fwrite(hdr, CACHE_HDR, 1, fp) == 1 &&
             fwrite(r->sp.evec, sizeof(double), T * p, fp) == T * p &&
             fwrite(r->sp.eval, sizeof(double), p, fp) == p &&
             fwrite(r->sp.spectrum, sizeof(double), T, fp) == T &&
             (!nmix || fwrite(r->wh.mix, sizeof(double), nmix, fp) == nmix);
    for (size_t t = 0; ok && t < d->rows; t++)
        ok = fwrite(d->data + t * d->stride, sizeof(float), V, fp) == V;
    if (ok && !r->y)
        ok = fwrite(r->wh.m, sizeof(float), V, fp) == V;
    ok &= fclose(fp) == 0;
    ns_status st = ok ? NS_OK : ns_error(NS_ERR_IO, "cannot write the cache (disk full?) (%s)", path);
    free(path);
    return st;
}

/* A fresh copy of n values of sz bytes at *src in *dst; advances *src. */
static int take(void *dst, const char **src, size_t n, size_t sz)
{
    void *p = ns_alloc(n, sz);
    if (p)
        memcpy(p, *src, n * sz);
    *src += n * sz;
    memcpy(dst, &p, sizeof p);
    return p != NULL;
}

/* Subject i's reduction as cache_write left it: the PCA and the whitener
 * copied, y or xc a view of the mapping. reduced_clear frees it. */
static ns_status cache_read(const ns_ica_fitctx *f, size_t i, reduced *r)
{
    char *path = cache_file(f, i);
    memset(&r->sp, 0, sizeof r->sp), memset(&r->wh, 0, sizeof r->wh);
    const uint64_t *h = cache_map_file(path, &r->map) && r->map.len >= CACHE_HDR ? r->map.base
                                                                                : NULL;
    size_t T = h ? h[0] : 0, p = h ? h[1] : 0, V = f->grid.v, n = h ? h[3] : 0;
    size_t nmix = n == p ? 0 : p * (T + 1), nd = T * p + p + T + nmix;
    int ok = h && h[2] == V && T > 0 && p > 0 && T < 1u << 20 && p < T &&
             (n == p || n == T + 1) && r->map.len == CACHE_HDR + 8 * nd + 4 * n * V;
    const char *d = ok ? (const char *)r->map.base + CACHE_HDR : NULL;
    r->sp.t = r->wh.t = T, r->sp.p = r->wh.p = p;
    ok = ok && take(&r->sp.evec, &d, T * p, 8) && take(&r->sp.eval, &d, p, 8) &&
         take(&r->sp.spectrum, &d, T, 8) && (n == p || take(&r->wh.mix, &d, nmix, 8));
    ns_matrix **view = n == p ? &r->y : &r->xc;
    *view = ok ? ns_alloc(1, sizeof **view) : NULL;
    if (*view) /* y (p rows), or Xc (T rows) and then m */
        **view = ns_matrix_view((float *)d, n == p ? p : T, V, V);
    const char *m = *view && n != p ? d + 4 * T * V : NULL;
    ok = *view && (!m || take(&r->wh.m, &m, V, 4));
    ns_status st = ok ? NS_OK : ns_error(NS_ERR_IO, "cannot read the cache (%s)", path ? path : "?");
    free(path);
    if (st != NS_OK)
        reduced_clear(r);
    return st;
}

static ns_status cache_open(ns_ica_fitctx *f)
{
    double bytes = (double)f->nsub * (double)f->p1 * (double)f->grid.v * sizeof(float);
    if (!(f->p->cache_gb > 0) || bytes > f->p->cache_gb * 1e9 ||
        ((f->p->backrecon == NS_ICA_BR_DR || f->p->group_only) && f->power == 0))
        return NS_OK;
    char name[64];
    snprintf(name, sizeof name, "group/.ica-cache-%ld", (long)getpid());
    f->cache_dir = ns_ica_path(f->p->out_dir, name);
    if (!f->cache_dir)
        return NS_ERR_NOMEM;
    ns_status st = ns_mkdirs(f->cache_dir);
    if (st != NS_OK) {
        free(f->cache_dir);
        f->cache_dir = NULL;
    }
    return st;
}

void ns_ica_fit_cache_remove(ns_ica_fitctx *f)
{
    if (!f->cache_dir)
        return;
    for (size_t i = 0; i < f->nsub; i++) {
        char *p = cache_file(f, i);
        if (p)
            unlink(p);
        free(p);
    }
    rmdir(f->cache_dir);
}

/* --------------------------------------------------------------- pass 1 */

/* r->x: the calling thread's data matrix, reused from subject to subject.
 * Where it saves work, the subject PCA stops at its whitener and MIGP, the
 * passes and the cache take the factored form (r->x centred, r->wh; r->y
 * stays NULL). */
static ns_status reduce_loaded(ns_ica_fitctx *f, size_t i, reduced *r)
{
    if (ns_ica_gpca_factored_pays(f->work, f->p1, r->x->rows))
        return ns_ica_subject_whitener(r->x, f->p1, f->sub[i].path, &r->sp, &r->wh);
    return ns_ica_subject_pca(r->x, f->p1, f->sub[i].path, &r->sp, &r->y);
}

static ns_status reduce_subject(ns_ica_fitctx *f, size_t i, reduced *r)
{
    ns_status st = ns_ica_load_subject(&f->grid, &f->sub[i], f->p->preproc, &r->x);
    return st == NS_OK ? reduce_loaded(f, i, r) : st;
}

/* What a pass does per subject: pass 1's reduction and MIGP step, or a
 * power iteration's or the Rayleigh-Ritz pass's coefficients and sums (the
 * group PCA's own pass kinds, which ns_ica_gpca_refine_next hands out). */
typedef enum {
    PASS_MIGP = NS_GPCA_PASS_NONE,
    PASS_POWER = NS_GPCA_PASS_POWER,
    PASS_RR = NS_GPCA_PASS_RR
} pass_kind;

/* Schedule of a pass over the subjects (pass 1, and each power iteration).
 * Threads take the subjects in order and load them (read, reduce; a power
 * iteration's coefficients); the group PCA adds them in subject order (so
 * results do not depend on the number of threads), run by whichever thread
 * finds the next one ready. A thread whose subject must wait for an earlier
 * one parks it and loads the next, rather than waiting. A thread loads only
 * while fewer than nt subjects wait, so at most 2 nt - 1 data matrices are
 * alive (without parking: nt). */
typedef struct {
    reduced r;
    float *d; /* power or Rayleigh-Ritz pass: the subject's coefficients */
    ns_status st;
    ns_ica_err err; /* st's message, kept on the thread that raised it */
    int skip;       /* loaded after a failure: nothing to add */
} pass_item;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a parked subject was taken */
    pass_item *item;   /* nsub, item i filled when ready[i] */
    char *ready;
    ns_matrix **pool; /* data matrices free for the next load */
    size_t npool, next_load, next_add, parked, max_parked;
    int adding;
    pass_kind power;
    ns_ica_err err;
    ns_progress *pr;
} pass_sched;

/* The work of one subject done in parallel: read and reduce it (MIGP
 * pass), or its coefficients (power iteration and Rayleigh-Ritz passes). */
static ns_status load_subject(ns_ica_fitctx *f, const pass_sched *s, size_t i, pass_item *it)
{
    reduced *r = &it->r;
    ns_status st = s->power && f->cache_dir ? cache_read(f, i, r) : reduce_subject(f, i, r);
    if (st == NS_OK && s->power)
        st = ns_ica_gpca_power_coefs(f->g, reduced_x(r), &r->wh, r->y, &it->d);
    else if (st == NS_OK && f->cache_dir)
        st = cache_write(f, i, r);
    return st;
}

/* The work of one subject done in subject order. */
static ns_status add_subject(ns_ica_fitctx *f, const pass_sched *s, const pass_item *it)
{
    const reduced *r = &it->r;
    if (s->power)
        return ns_ica_gpca_power_add(f->g, reduced_x(r), &r->wh, r->y, it->d);
    for (size_t j = 0; j < f->tmin; j++)
        f->spec_mean[j] += r->sp.spectrum[j] / (double)f->nsub;
    return r->y ? ns_ica_gpca_add_white(f->g, r->y) : ns_ica_gpca_add_factored(f->g, r->x, &r->wh);
}

/* Adds every ready subject to the group PCA in order. Called and returns
 * with the lock held; the lock is released during each step. */
static void pass_add_ready(ns_ica_fitctx *f, pass_sched *s)
{
    while (s->next_add < f->nsub && s->ready[s->next_add]) {
        pass_item *it = &s->item[s->next_add];
        int add = !it->skip && it->st == NS_OK && s->err.code == NS_OK;
        s->parked--;
        pthread_mutex_unlock(&s->mu);
        ns_status s1 = add ? add_subject(f, s, it) : it->st;
        reduced_clear(&it->r);
        free(it->d);
        pthread_mutex_lock(&s->mu);
        if (!add && it->st != NS_OK && s->err.code == NS_OK)
            s->err = it->err; /* the message is the loading thread's */
        else if (add && s1 != NS_OK)
            ns_ica_err_keep(&s->err, s1);
        s->pool[s->npool++] = it->r.x;
        it->r.x = NULL;
        ns_progress_update(s->pr, ++s->next_add);
        pthread_cond_broadcast(&s->cv);
    }
}

static void pass_thread(ns_ica_fitctx *f, pass_sched *s)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->parked >= s->max_parked && s->next_load < f->nsub)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->next_load >= f->nsub)
            break;
        size_t i = s->next_load++;
        pass_item it = {.r.x = s->npool ? s->pool[--s->npool] : NULL,
                        .skip = s->err.code != NS_OK}; /* after a failure: drain */
        pthread_mutex_unlock(&s->mu);
        if (!it.skip)
            it.st = load_subject(f, s, i, &it);
        if (it.st != NS_OK)
            ns_ica_err_keep(&it.err, it.st);
        pthread_mutex_lock(&s->mu);
        s->item[i] = it;
        s->ready[i] = 1;
        s->parked++;
        if (!s->adding) {
            s->adding = 1;
            pass_add_ready(f, s);
            s->adding = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static ns_status pass_init(pass_sched *s, size_t nsub, int nt, pass_kind power)
{
    memset(s, 0, sizeof *s);
    s->max_parked = (size_t)nt;
    s->power = power;
    s->item = ns_calloc(nsub, sizeof *s->item);
    s->ready = ns_calloc(nsub, 1);
    s->pool = ns_calloc(2 * (size_t)nt, sizeof *s->pool);
    s->pr = ns_progress_create(power == PASS_RR      ? "ica: group PCA Rayleigh-Ritz"
                               : power == PASS_POWER ? "ica: group PCA power iteration"
                                                     : "ica: subject PCA",
                               nsub);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    return s->item && s->ready && s->pool ? NS_OK : NS_ERR_NOMEM;
}

static void pass_clear(pass_sched *s)
{
    for (size_t i = 0; i < s->npool; i++)
        ns_matrix_free(s->pool[i]);
    free(s->item), free(s->ready), free(s->pool);
    ns_progress_free(s->pr);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* One pass over the subjects on nt threads, BLAS held at one thread (the
 * same bits whatever nprocs). */
static ns_status run_pass(ns_ica_fitctx *f, pass_kind power)
{
    int nt = nthreads(f), old = ns_blas_threads(1);
    pass_sched s;
    ns_status st = pass_init(&s, f->nsub, nt, power);
    if (st == NS_OK) {
#pragma omp parallel num_threads(nt)
        pass_thread(f, &s);
        st = ns_ica_err_raise(&s.err);
    }
    pass_clear(&s);
    ns_blas_threads(old);
    return st;
}

ns_status ns_ica_fit_pass1(ns_ica_fitctx *f)
{
    f->g = ns_ica_gpca_create(f->grid.v, f->work);
    f->spec_mean = ns_calloc(f->tmin, sizeof(double));
    ns_status st = (f->g && f->spec_mean) ? cache_open(f) : NS_ERR_NOMEM;
    if (st != NS_OK)
        return st;
    if (ns_ica_gpca_factored_pays(f->work, f->p1, f->tmin))
        ns_debug("ica: MIGP takes each subject's data and whitener (%zu PCs of %zu time points); "
                 "the reduced data are not formed%s", f->p1, f->tmin,
                 f->cache_dir ? " (the cache holds the centred data and whitener)" : "");
    return run_pass(f, PASS_MIGP);
}

ns_status ns_ica_fit_power(ns_ica_fitctx *f)
{
    int old = ns_blas_threads(1); /* the steps between passes too: their BLAS calls */
    ns_ica_gpca_pass next = NS_GPCA_PASS_NONE;
    ns_status st = ns_ica_gpca_refine_next(f->g, f->power, &next);
    while (st == NS_OK && next != NS_GPCA_PASS_NONE) {
        f->rr_pass |= next == NS_GPCA_PASS_RR;
        st = run_pass(f, (pass_kind)next);
        if (st == NS_OK)
            st = ns_ica_gpca_refine_next(f->g, f->power, &next);
    }
    ns_blas_threads(old);
    return st;
}

/* --------------------------------------------------------------- pass 2 */

/* GICA takes the factored form where pass 1 did (the cache holds it; read
 * again, the subject is reduced as pass 1 reduced it), so y is not formed;
 * dual regression takes the data. */
static ns_status backrecon_subject(ns_ica_fitctx *f, size_t i)
{
    reduced r = {0};
    ns_ica_backrecon br = f->p->backrecon;
    ns_status st;
    if (f->cache_dir && br != NS_ICA_BR_DR)
        st = cache_read(f, i, &r);
    else
        st = ns_ica_load_subject(&f->grid, &f->sub[i], f->p->preproc, &r.x);
    if (st == NS_OK && !f->cache_dir && br != NS_ICA_BR_DR)
        st = reduce_loaded(f, i, &r);
    int factored = reduced_x(&r) && !r.y && br != NS_ICA_BR_DR;
    for (size_t o = 0; st == NS_OK && o < f->norders; o++)
        st = ns_ica_subject_outputs(f->p->out_dir, &f->grid, &f->sub[i], &f->om[o], br, r.x,
                                    &r.sp, factored ? reduced_x(&r) : r.y,
                                    factored ? &r.wh : NULL);
    ns_matrix_free(r.x);
    reduced_clear(&r);
    return st;
}

ns_status ns_ica_fit_pass2(ns_ica_fitctx *f)
{
    ns_ica_err err = {0};
    int nt = nthreads(f), old = nt > 1 ? ns_blas_threads(1) : 0;
    ns_progress *pr = ns_progress_create("ica: back-reconstruction", f->nsub);
    size_t done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t i = 0; i < f->nsub; i++) {
        if (err.code != NS_OK)
            continue;
        ns_status s1 = backrecon_subject(f, i);
        if (s1 != NS_OK)
            ns_ica_err_keep(&err, s1);
        size_t d;
#pragma omp atomic capture
        d = ++done;
        ns_progress_update(pr, d);
    }
    ns_progress_free(pr);
    if (nt > 1)
        ns_blas_threads(old);
    return ns_ica_err_raise(&err);
}
