/* FastICA (Hyvarinen 1999), symmetric (parallel) estimation with the logcosh
 * contrast, as scikit-learn's FastICA(algorithm="parallel", fun="logcosh"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/fastmath_int.h"
#include "ica/infomax_int.h"

/* One fixed-point update: w1 = E[g(w x) x^T] - diag(E[g'(w x)]) w. */
static void fastica_update(const float *x, size_t K, size_t V, const double *w, float *wf,
                           float *wx, float *gx, double *gp, double *w1)
{
    for (size_t i = 0; i < K * K; i++)
        wf[i] = (float)w[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)K, (int)V, (int)K, 1.0f, wf,
                (int)K, x, (int)V, 0.0f, wx, (int)V);
    for (size_t i = 0; i < K; i++) /* float sums of V terms in [0, 1]: ample for g' */
        gp[i] = (double)ns_ica_tanh_row(wx + i * V, V) / (double)V;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)K, (int)V,
                1.0f / (float)V, wx, (int)V, x, (int)V, 0.0f, gx, (int)K);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++)
            w1[i * K + j] = gx[i * K + j] - gp[i] * w[i * K + j];
}

ns_status ns_ica_fastica(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info)
{
    double tol = o->tol > 0 ? o->tol : 1e-4;
    int maxit = o->max_iter > 0 ? o->max_iter : 200;
    float *wf = ns_alloc(K * K, sizeof(float)), *gx = ns_alloc(K * K, sizeof(float));
    float *wx = ns_alloc(K * V, sizeof(float));
    double *w1 = ns_alloc(K * K, sizeof(double)), *gp = ns_alloc(K, sizeof(double));
    ns_status st = (wf && gx && wx && w1 && gp) ? NS_OK : NS_ERR_NOMEM;
    memset(info, 0, sizeof *info);
    if (st == NS_OK)
        st = ns_ica_random_orth(rng, K, w);
    for (int it = 1; st == NS_OK && it <= maxit; it++) {
        fastica_update(x, K, V, w, wf, wx, gx, gp, w1);
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
    free(wf), free(gx), free(wx), free(w1), free(gp);
    return st;
}
