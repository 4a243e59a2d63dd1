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
    float *wf;  /* K x K: w as floats */
    float *wx;  /* nt x K x BLOCK: each thread's g(w x) of one block */
    float *gxp; /* nblk x K x K: g(w x_b) x_b^T of each block */
    float *gpp; /* nblk x K: sum over the block of g'(w x) */
} ns_fastica_work;

static void fastica_block(const float *x, ns_fastica_work *fw, size_t b, float *wx)
{
    size_t K = fw->K, v0 = b * NS_FASTICA_BLOCK;
    size_t n = fw->V - v0 < NS_FASTICA_BLOCK ? fw->V - v0 : NS_FASTICA_BLOCK;
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
        fastica_block(x, fw, b, fw->wx + (size_t)omp_get_thread_num() * K * NS_FASTICA_BLOCK);
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
    fw->nblk = (V + NS_FASTICA_BLOCK - 1) / NS_FASTICA_BLOCK;
    fw->nt = nthreads < 1 ? 1 : (size_t)nthreads > fw->nblk ? (int)fw->nblk : nthreads;
    fw->wf = ns_alloc(K * K, sizeof(float));
    fw->wx = ns_alloc((size_t)fw->nt * K * NS_FASTICA_BLOCK, sizeof(float));
    fw->gxp = ns_alloc(fw->nblk * K * K, sizeof(float));
    fw->gpp = ns_alloc(fw->nblk * K, sizeof(float));
    return fw->wf && fw->wx && fw->gxp && fw->gpp ? NS_OK : NS_ERR_NOMEM;
}

static void fastica_work_clear(ns_fastica_work *fw)
{
    free(fw->wf), free(fw->wx), free(fw->gxp), free(fw->gpp);
}

ns_status ns_ica_fastica(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info)
{
    double tol = o->tol > 0 ? o->tol : 1e-4;
    int maxit = o->max_iter > 0 ? o->max_iter : 200;
    ns_fastica_work fw;
    double *w1 = ns_alloc(K * K, sizeof(double));
    ns_status st = fastica_work_init(&fw, K, V, o->nthreads);
    if (st == NS_OK && !w1)
        st = NS_ERR_NOMEM;
    memset(info, 0, sizeof *info);
    if (st == NS_OK)
        st = ns_ica_random_orth(rng, K, w);
    for (int it = 1; st == NS_OK && it <= maxit; it++) {
        fastica_update(x, &fw, w, w1);
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
