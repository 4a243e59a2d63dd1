/* FastICA (Hyvarinen 1999), symmetric (parallel) estimation with the logcosh
 * contrast, as scikit-learn's FastICA(algorithm="parallel", fun="logcosh"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "ica/fastmath_int.h"
#include "ica/infomax_int.h"

/* Most columns per block. Fixed by V, so that the sums (block partials added in
 * block order, in double) and thus the result do not depend on the number
 * of threads; 4096 was the fastest of 1024..16384 at K = 100. */
#define NS_FASTICA_BLOCK 4096
#define NS_FASTICA_MIN_BLOCK 1024
/* Default voxel stride of the warm start: 4, or 8 from HIGH_K components
 * (measured at K = 100 on the benchmark: the same maps as at 4 where every
 * run finds them, 0.25 s less; at K = 20, where the warm start converges
 * and saves nothing more, 8 gave slightly worse maps); a stride is used
 * when its subsample keeps at least MIN_RATIO voxels per component. */
#define NS_FASTICA_SUBSAMPLE 4
#define NS_FASTICA_SUBSAMPLE_HIGH_K 8
#define NS_FASTICA_HIGH_K 64
#define NS_FASTICA_MIN_RATIO 20

typedef struct {
    size_t K, V, nblk, bs; /* bs columns per block (the last may have fewer) */
    int nt;
    float *wf;  /* K x K: w as floats */
    float *wx;  /* nt x K x bs: each thread's g(w x) of one block */
    float *gxp; /* nblk x K x K: g(w x_b) x_b^T of each block */
    float *gpp; /* nblk x K: sum over the block of g'(w x) */
} ns_fastica_work;

static void fastica_block(const float *x, ns_fastica_work *fw, size_t b, float *wx)
{
    size_t K = fw->K, v0 = b * fw->bs;
    size_t n = fw->V - v0 < fw->bs ? fw->V - v0 : fw->bs;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)K, (int)n, (int)K, 1.0f, fw->wf,
                (int)K, x + v0, (int)fw->V, 0.0f, wx, (int)n);
    for (size_t i = 0; i < K; i++) /* float sums of <= BLOCK terms in [0, 1] */
        fw->gpp[b * K + i] = ns_ica_tanh_row(wx + i * n, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)K, (int)n, 1.0f, wx,
                (int)n, x + v0, (int)fw->V, 0.0f, fw->gxp + b * K * K, (int)K);
}

/* One fixed-point update, w1 = E[g(w x) x^T] - diag(E[g'(w x)]) w (the
 * caller holds BLAS at one thread). */
static void fastica_update(const float *x, ns_fastica_work *fw, const double *w, double *w1)
{
    size_t K = fw->K;
    for (size_t i = 0; i < K * K; i++)
        fw->wf[i] = (float)w[i];
#pragma omp parallel for schedule(dynamic, 1) num_threads(fw->nt) if (fw->nt > 1)
    for (size_t b = 0; b < fw->nblk; b++)
        fastica_block(x, fw, b, fw->wx + (size_t)omp_get_thread_num() * K * fw->bs);
    for (size_t i = 0; i < K; i++) {
        double gp = 0;
        for (size_t b = 0; b < fw->nblk; b++)
            gp += fw->gpp[b * K + i];
        for (size_t j = 0; j < K; j++) {
            double g = 0;
            for (size_t b = 0; b < fw->nblk; b++)
                g += fw->gxp[(b * K + i) * K + j];
            w1[i * K + j] = (g - gp * w[i * K + j]) / (double)fw->V;
        }
    }
}

static ns_status fastica_work_init(ns_fastica_work *fw, size_t K, size_t V, int nthreads)
{
    fw->K = K, fw->V = V;
    /* An even number of near-equal blocks of at most BLOCK columns, so that
     * two threads finish together, and two from 2 MIN_BLOCK columns (a warm
     * start's subsample of a few thousand voxels, which one block would
     * leave to one thread); it depends on V alone. */
    fw->nblk = (V + NS_FASTICA_BLOCK - 1) / NS_FASTICA_BLOCK;
    if (fw->nblk == 1 && V >= 2 * NS_FASTICA_MIN_BLOCK)
        fw->nblk = 2;
    fw->nblk += fw->nblk > 1 ? fw->nblk % 2 : 0;
    fw->bs = (V + fw->nblk - 1) / fw->nblk;
    fw->nt = nthreads < 1 ? 1 : (size_t)nthreads > fw->nblk ? (int)fw->nblk : nthreads;
    fw->wf = ns_alloc(K * K, sizeof(float));
    fw->wx = ns_alloc((size_t)fw->nt * K * fw->bs, sizeof(float));
    fw->gxp = ns_alloc(fw->nblk * K * K, sizeof(float));
    fw->gpp = ns_alloc(fw->nblk * K, sizeof(float));
    return fw->wf && fw->wx && fw->gxp && fw->gpp ? NS_OK : NS_ERR_NOMEM;
}

static void fastica_work_clear(ns_fastica_work *fw)
{
    free(fw->wf), free(fw->wx), free(fw->gxp), free(fw->gpp);
}

/* Fixed-point iterations from w until the change is below tol or maxit. */
static ns_status fastica_iterate(const float *x, size_t K, size_t V, int nthreads, double tol,
                                 int maxit, double *w, ns_ica_info *info)
{
    ns_fastica_work fw;
    double *w1 = ns_alloc(K * K, sizeof(double));
    ns_status st = fastica_work_init(&fw, K, V, nthreads);
    if (st == NS_OK && !w1)
        st = NS_ERR_NOMEM;
    info->iterations = 0, info->converged = 0;
    /* The polar factor by eigenpairs until w1 gets too ill-conditioned for
     * them (rows of Gaussian directions shrink), then by the SVD. */
    int by_svd = 0;
    for (int it = 1; st == NS_OK && it <= maxit; it++) {
        fastica_update(x, &fw, w, w1);
        st = by_svd ? NS_ERR_NUMERIC : ns_ica_sym_orth_eig(w1, K);
        if (st == NS_ERR_NUMERIC)
            by_svd = 1, st = ns_ica_sym_orth(w1, K);
        if (st != NS_OK)
            break;
        /* sklearn's criterion: max_i | |<w1_i, w_i>| - 1 |. */
        double lim = 0;
        for (size_t i = 0; i < K; i++) {
            double d = cblas_ddot((int)K, w1 + i * K, 1, w + i * K, 1);
            lim = fmax(lim, fabs(fabs(d) - 1.0));
        }
        memcpy(w, w1, K * K * sizeof(double));
        info->iterations = it;
        info->change = lim;
        if (lim < tol) {
            info->converged = 1;
            break;
        }
    }
    fastica_work_clear(&fw);
    free(w1);
    return st;
}

/* Every s-th column of x (K x V) as a K x ceil(V/s) matrix. */
static float *column_subsample(const float *x, size_t K, size_t V, size_t s, size_t *vs)
{
    *vs = (V + s - 1) / s;
    float *xs = ns_alloc(K * *vs, sizeof(float));
    for (size_t i = 0; xs && i < K; i++)
        for (size_t j = 0; j < *vs; j++)
            xs[i * *vs + j] = x[i * V + j * s];
    return xs;
}

static int stride_fits(size_t s, size_t K, size_t V)
{
    return s > 1 && V / s >= NS_FASTICA_MIN_RATIO * K;
}

size_t ns_ica_fastica_stride(const ns_ica_opts *o, size_t K, size_t V)
{
    int maxit = o->max_iter > 0 ? o->max_iter : 200;
    if (maxit < 4)
        return 1;
    if (o->subsample > 0)
        return stride_fits((size_t)o->subsample, K, V) ? (size_t)o->subsample : 1;
    if (K >= NS_FASTICA_HIGH_K && stride_fits(NS_FASTICA_SUBSAMPLE_HIGH_K, K, V))
        return NS_FASTICA_SUBSAMPLE_HIGH_K;
    return stride_fits(NS_FASTICA_SUBSAMPLE, K, V) ? NS_FASTICA_SUBSAMPLE : 1;
}

ns_status ns_ica_fastica(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info)
{
    double tol = o->tol > 0 ? o->tol : 1e-4;
    int maxit = o->max_iter > 0 ? o->max_iter : 200;
    size_t s = ns_ica_fastica_stride(o, K, V), vs = 0;
    memset(info, 0, sizeof *info);
    ns_status st = ns_ica_random_orth(rng, K, w);
    /* Warm start on every s-th voxel for up to 7/8 of the iterations; the
     * iterations on all voxels then take the rest of the budget, so the
     * fixed point reached is the one of all the data. */
    if (st == NS_OK && s > 1) {
        float *xs = column_subsample(x, K, V, s, &vs);
        st = xs ? fastica_iterate(xs, K, vs, o->nthreads, tol, maxit * 7 / 8, w, info)
                : NS_ERR_NOMEM;
        free(xs);
        info->warm_iterations = info->iterations;
        maxit -= info->iterations;
    }
    if (st == NS_OK) /* keeps warm_iterations */
        st = fastica_iterate(x, K, V, o->nthreads, tol, maxit, w, info);
    return st;
}
