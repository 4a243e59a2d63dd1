/* Subject PCA through the T x T temporal covariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/ica_int.h"

#define NS_PCA_CHUNK 2048 /* voxels centred at a time */

void ns_ica_spca_clear(ns_ica_spca *s)
{
    if (!s)
        return;
    free(s->evec), free(s->eval), free(s->spectrum);
    memset(s, 0, sizeof *s);
}

/* Voxel means of x, row by row (cache friendly), in float: any m serves
 * the split below as long as q and |m|^2 use the same m (it only has to
 * make X - 1 m^T small), and float rows vectorise twice as wide. */
NS_ICA_CLONES static void voxel_means(const ns_matrix *x, float *m, double *mm)
{
    size_t T = x->rows, V = x->cols;
    memset(m, 0, V * sizeof(float));
    for (size_t t = 0; t < T; t++) {
        const float *r = x->data + t * x->stride;
        for (size_t v = 0; v < V; v++)
            m[v] += r[v];
    }
    float f = 1.0f / (float)T;
    for (size_t v = 0; v < V; v++)
        m[v] *= f;
    *mm = ns_ica_dot_ff(m, m, V);
}

/* C = X X^T / (V-1), and x <- Xc = X - 1 m^T in place. The voxel baseline
 * of raw data can dwarf the signal by 1e6, beyond float accumulation; so
 * X = Xc + 1 m^T is split: Xc Xc^T in float BLAS by column blocks (summed
 * in double), and the rank-2 part q 1^T + 1 q^T - |m|^2 1 1^T (q = X m,
 * summed on the same blocks) exactly in double. Each block is centred
 * while it is in cache, and BLAS reads it from x. */
NS_ICA_CLONES static void temporal_cov(ns_matrix *x, const float *m, double *q, double mm,
                                       double *c, float *cf)
{
    size_t T = x->rows;
    memset(c, 0, T * T * sizeof(double));
    memset(q, 0, T * sizeof(double));
    for (size_t v0 = 0; v0 < x->cols; v0 += NS_PCA_CHUNK) {
        size_t nb = x->cols - v0 < NS_PCA_CHUNK ? x->cols - v0 : NS_PCA_CHUNK;
        for (size_t t = 0; t < T; t++) {
            float *r = x->data + t * x->stride + v0;
            q[t] += ns_ica_dot_ff(r, m + v0, nb);
            for (size_t j = 0; j < nb; j++)
                r[j] -= m[v0 + j];
        }
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)T, (int)nb, 1.0f, x->data + v0,
                    (int)x->stride, 0.0f, cf, (int)T);
        for (size_t i = 0; i < T; i++)
            for (size_t j = i; j < T; j++)
                c[i * T + j] += cf[i * T + j];
    }
    double f = 1.0 / (double)(x->cols - 1);
    for (size_t i = 0; i < T; i++)
        for (size_t j = i; j < T; j++)
            c[j * T + i] = c[i * T + j] = (c[i * T + j] + q[i] + q[j] - mm) * f;
}

/* Y = [Wh, Wh 1] [Xc; m^T] = Wh Xc + (Wh 1) m^T: per column block, one
 * float BLAS product straight from xc, then the rank-one term while the
 * block of y is in cache; mixf is the whitener's mix as floats
 * (p x (T+1)). */
NS_ICA_CLONES static void project(const ns_matrix *xc, const float *m, const float *mixf,
                                  size_t p, ns_matrix *y)
{
    size_t T = xc->rows;
    for (size_t v0 = 0; v0 < xc->cols; v0 += NS_PCA_CHUNK) {
        size_t nb = xc->cols - v0 < NS_PCA_CHUNK ? xc->cols - v0 : NS_PCA_CHUNK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)nb, (int)T, 1.0f,
                    mixf, (int)T + 1, xc->data + v0, (int)xc->stride, 0.0f, y->data + v0,
                    (int)y->stride);
        for (size_t i = 0; i < p; i++) {
            float a = mixf[i * (T + 1) + T], *r = y->data + i * y->stride + v0;
            for (size_t j = 0; j < nb; j++)
                r[j] += a * m[v0 + j];
        }
    }
}

static ns_status spca_eig(const double *c, size_t T, size_t p, const char *who, ns_ica_spca *s)
{
    double *vecs = ns_alloc(T * T, sizeof(double));
    s->t = T, s->p = p;
    s->evec = ns_alloc(T * p, sizeof(double));
    s->eval = ns_alloc(p, sizeof(double));
    s->spectrum = ns_alloc(T, sizeof(double));
    if (!vecs || !s->evec || !s->eval || !s->spectrum) {
        free(vecs);
        return NS_ERR_NOMEM;
    }
    ns_status st = ns_ica_eig_top(c, T, T, s->spectrum, vecs);
    if (st != NS_OK) {
        free(vecs);
        return ns_error_prefix(st, "subject PCA (%s)", who);
    }
    for (size_t t = 0; t < T; t++)
        memcpy(s->evec + t * p, vecs + t * T, p * sizeof(double));
    memcpy(s->eval, s->spectrum, p * sizeof(double));
    free(vecs);
    if (!(s->eval[p - 1] > 1e-10 * s->eval[0]))
        return ns_error(NS_ERR_DATA,
                        "the data have fewer than %zu independent time points, cannot keep %zu "
                        "subject PCs (%s)",
                        p, p, who);
    return NS_OK;
}

/* Eigenpairs of the T x T covariance of x (out) and the whitening
 * Wh = L^-1/2 F^T (wh, p x T, double) with the voxel means m of x; x is
 * left centred on m. */
static ns_status spca_whiten(ns_matrix *x, size_t p, const char *who, ns_ica_spca *out,
                             float *m, double *wh)
{
    size_t T = x->rows, V = x->cols;
    memset(out, 0, sizeof *out);
    if (p == 0 || p >= T)
        return ns_error(NS_ERR_ARG,
                        "number of subject PCs (%zu) must be below the number of time points "
                        "(%zu) (%s)",
                        p, T, who);
    if (V < 2)
        return ns_error(NS_ERR_DATA, "fewer than 2 voxels in the mask (%s)", who);
    double *c = ns_alloc(T * T, sizeof(double)), *q = ns_alloc(T, sizeof(double)), mm;
    float *cf = ns_alloc(T * T, sizeof(float));
    ns_status st = (c && q && cf) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        voxel_means(x, m, &mm);
        temporal_cov(x, m, q, mm, c, cf);
        st = spca_eig(c, T, p, who, out);
    }
    for (size_t i = 0; st == NS_OK && i < p; i++)
        for (size_t t = 0; t < T; t++)
            wh[i * T + t] = out->evec[t * p + i] / sqrt(out->eval[i]);
    free(c), free(q), free(cf);
    if (st != NS_OK)
        ns_ica_spca_clear(out);
    return st;
}

/* The eigenpairs (out) and the whitener of x; x is left centred (Xc). */
ns_status ns_ica_subject_whitener(ns_matrix *x, size_t p, const char *who, ns_ica_spca *out,
                                  ns_ica_whitener *w)
{
    size_t T = x->rows;
    memset(w, 0, sizeof *w);
    double *wh = ns_alloc(p * T, sizeof(double));
    w->p = p, w->t = T;
    w->m = ns_alloc(x->cols, sizeof(float));
    w->mix = ns_calloc(p * (T + 1), sizeof(double));
    ns_status st = (wh && w->m && w->mix) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = spca_whiten(x, p, who, out, w->m, wh);
    else
        memset(out, 0, sizeof *out);
    for (size_t i = 0; st == NS_OK && i < p; i++) /* [Wh, Wh 1] */
        for (size_t t = 0; t < T; t++) {
            w->mix[i * (T + 1) + t] = wh[i * T + t];
            w->mix[i * (T + 1) + T] += wh[i * T + t];
        }
    free(wh);
    if (st != NS_OK)
        ns_ica_whitener_clear(w);
    return st;
}

/* *y = mix [Xc; m^T] of the centred xc. */
static ns_status whiten(const ns_matrix *xc, const ns_ica_whitener *w, ns_matrix **y)
{
    size_t T = xc->rows, p = w->p;
    float *mixf = ns_alloc(p * (T + 1), sizeof(float));
    *y = mixf ? ns_matrix_create(p, xc->cols) : NULL;
    ns_status st = *y ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; st == NS_OK && i < p * (T + 1); i++)
        mixf[i] = (float)w->mix[i];
    if (st == NS_OK)
        project(xc, w->m, mixf, p, *y);
    free(mixf);
    return st;
}

ns_status ns_ica_whitener_apply(const ns_ica_whitener *w, const ns_matrix *xc, ns_matrix **y)
{
    *y = NULL;
    if (xc->rows != w->t)
        return ns_error(NS_ERR_ARG, "whitener of %zu time points, data of %zu", w->t, xc->rows);
    return whiten(xc, w, y);
}

ns_status ns_ica_subject_pca(ns_matrix *x, size_t p, const char *who, ns_ica_spca *out,
                             ns_matrix **y)
{
    ns_ica_whitener w;
    *y = NULL;
    ns_status st = ns_ica_subject_whitener(x, p, who, out, &w);
    if (st == NS_OK)
        st = whiten(x, &w, y);
    ns_ica_whitener_clear(&w);
    if (st != NS_OK)
        ns_ica_spca_clear(out);
    return st;
}

void ns_ica_whitener_clear(ns_ica_whitener *w)
{
    if (!w)
        return;
    free(w->m), free(w->mix);
    memset(w, 0, sizeof *w);
}
