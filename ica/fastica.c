/* FastICA (Hyvarinen 1999), symmetric (parallel) estimation with the logcosh
 * contrast, as scikit-learn's FastICA(algorithm="parallel", fun="logcosh"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "ica/fastmath_int.h"
#include "ica/infomax_int.h"

/* Columns per block. Fixed, so that the sums (block partials added in
 * block order, in double) and thus the result do not depend on the number
 * of threads; 4096 was the fastest of 1024..16384 at K = 100. */
#define NS_FASTICA_BLOCK 4096

typedef struct {
    size_t K, V, nblk;
    int nt;
    float *xt;  /* V x K: the data transposed, so that a block of columns is
                   one contiguous n x K slab (OpenBLAS runs both products
                   ~20% faster on that layout than on K x n strided rows) */
    float *wf;  /* K x K: w as floats */
    float *gt;  /* nt x BLOCK x K: each thread's g(w x)^T of one block */
    float *gxp; /* nblk x K x K: g(w x_b) x_b^T of each block */
    float *gpp; /* nblk x K: sum over the block of g'(w x) */
} ns_fastica_work;

/* gp[i] = sum over the n rows of 1 - g[., i]^2 (float sums of <= BLOCK
 * terms in [0, 1]). */
static void gprime_sums(const float *restrict g, size_t n, size_t K, float *restrict gp)
{
    memset(gp, 0, K * sizeof(float));
    for (size_t v = 0; v < n; v++)
        for (size_t i = 0; i < K; i++)
            gp[i] += 1.0f - g[v * K + i] * g[v * K + i];
}

static void fastica_block(ns_fastica_work *fw, size_t b, float *gt)
{
    size_t K = fw->K, v0 = b * NS_FASTICA_BLOCK;
    size_t n = fw->V - v0 < NS_FASTICA_BLOCK ? fw->V - v0 : NS_FASTICA_BLOCK;
    const float *xb = fw->xt + v0 * K;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)K, 1.0f, xb,
                (int)K, fw->wf, (int)K, 0.0f, gt, (int)K);
    ns_ica_tanh_row(gt, n * K);
    gprime_sums(gt, n, K, fw->gpp + b * K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)K, (int)n, 1.0f, gt,
                (int)K, xb, (int)K, 0.0f, fw->gxp + b * K * K, (int)K);
}

/* One fixed-point update, w1 = E[g(w x) x^T] - diag(E[g'(w x)]) w (the
 * caller holds BLAS at one thread). */
static void fastica_update(ns_fastica_work *fw, const double *w, double *w1)
{
    size_t K = fw->K;
    for (size_t i = 0; i < K * K; i++)
        fw->wf[i] = (float)w[i];
#pragma omp parallel for schedule(dynamic, 1) num_threads(fw->nt) if (fw->nt > 1)
    for (size_t b = 0; b < fw->nblk; b++)
        fastica_block(fw, b, fw->gt + (size_t)omp_get_thread_num() * K * NS_FASTICA_BLOCK);
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

static ns_status fastica_work_init(ns_fastica_work *fw, const float *x, size_t K, size_t V,
                                   int nthreads)
{
    fw->K = K, fw->V = V;
    fw->nblk = (V + NS_FASTICA_BLOCK - 1) / NS_FASTICA_BLOCK;
    fw->nt = nthreads < 1 ? 1 : (size_t)nthreads > fw->nblk ? (int)fw->nblk : nthreads;
    fw->xt = ns_alloc(V * K, sizeof(float));
    fw->wf = ns_alloc(K * K, sizeof(float));
    fw->gt = ns_alloc((size_t)fw->nt * K * NS_FASTICA_BLOCK, sizeof(float));
    fw->gxp = ns_alloc(fw->nblk * K * K, sizeof(float));
    fw->gpp = ns_alloc(fw->nblk * K, sizeof(float));
    if (!fw->xt || !fw->wf || !fw->gt || !fw->gxp || !fw->gpp)
        return NS_ERR_NOMEM;
    for (size_t v0 = 0; v0 < V; v0 += 64) /* transpose by 64-voxel tiles */
        for (size_t i = 0; i < K; i++)
            for (size_t v = v0; v < V && v < v0 + 64; v++)
                fw->xt[v * K + i] = x[i * V + v];
    return NS_OK;
}

static void fastica_work_clear(ns_fastica_work *fw)
{
    free(fw->xt), free(fw->wf), free(fw->gt), free(fw->gxp), free(fw->gpp);
}

ns_status ns_ica_fastica(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info)
{
    double tol = o->tol > 0 ? o->tol : 1e-4;
    int maxit = o->max_iter > 0 ? o->max_iter : 200;
    ns_fastica_work fw;
    double *w1 = ns_alloc(K * K, sizeof(double));
    ns_status st = fastica_work_init(&fw, x, K, V, o->nthreads);
    if (st == NS_OK && !w1)
        st = NS_ERR_NOMEM;
    memset(info, 0, sizeof *info);
    if (st == NS_OK)
        st = ns_ica_random_orth(rng, K, w);
    for (int it = 1; st == NS_OK && it <= maxit; it++) {
        fastica_update(&fw, w, w1);
        st = ns_ica_sym_orth(w1, K);
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
