/* Subject PCA through the T x T temporal covariance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/ica_int.h"

#define NS_PCA_CHUNK 2048 /* voxels converted to double at a time */

void ns_ica_spca_clear(ns_ica_spca *s)
{
    if (!s)
        return;
    free(s->evec), free(s->eval), free(s->spectrum);
    memset(s, 0, sizeof *s);
}

/* Column block [v0, v0+nb) of x as doubles, T x nb row-major. */
static void chunk_to_double(const ns_matrix *x, size_t v0, size_t nb, double *d)
{
    for (size_t t = 0; t < x->rows; t++) {
        const float *r = x->data + t * x->stride + v0;
        for (size_t j = 0; j < nb; j++)
            d[t * nb + j] = r[j];
    }
}

/* C = X X^T / (V-1), accumulated in double: the baseline image of raw data
 * can dwarf the signal by 1e6, beyond float accumulation. */
static ns_status temporal_cov(const ns_matrix *x, double *c, double *buf)
{
    size_t T = x->rows;
    memset(c, 0, T * T * sizeof(double));
    for (size_t v0 = 0; v0 < x->cols; v0 += NS_PCA_CHUNK) {
        size_t nb = x->cols - v0 < NS_PCA_CHUNK ? x->cols - v0 : NS_PCA_CHUNK;
        chunk_to_double(x, v0, nb, buf);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)T, (int)nb, 1.0, buf, (int)nb,
                    1.0, c, (int)T);
    }
    double f = 1.0 / (double)(x->cols - 1);
    for (size_t i = 0; i < T; i++)
        for (size_t j = i; j < T; j++)
            c[j * T + i] = c[i * T + j] = c[i * T + j] * f;
    return NS_OK;
}

static ns_status project(const ns_matrix *x, const double *wh, size_t p, double *buf,
                         double *ybuf, ns_matrix *y)
{
    size_t T = x->rows;
    for (size_t v0 = 0; v0 < x->cols; v0 += NS_PCA_CHUNK) {
        size_t nb = x->cols - v0 < NS_PCA_CHUNK ? x->cols - v0 : NS_PCA_CHUNK;
        chunk_to_double(x, v0, nb, buf);
        ns_ica_dgemm(wh, buf, ybuf, p, T, nb);
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < nb; j++)
                y->data[i * y->stride + v0 + j] = (float)ybuf[i * nb + j];
    }
    return NS_OK;
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

ns_status ns_ica_subject_pca(const ns_matrix *x, size_t p, const char *who, ns_ica_spca *out,
                             ns_matrix **y)
{
    size_t T = x->rows;
    memset(out, 0, sizeof *out);
    *y = NULL;
    if (p == 0 || p >= T)
        return ns_error(NS_ERR_ARG,
                        "number of subject PCs (%zu) must be below the number of time points "
                        "(%zu) (%s)",
                        p, T, who);
    if (x->cols < 2)
        return ns_error(NS_ERR_DATA, "fewer than 2 voxels in the mask (%s)", who);
    double *c = ns_alloc(T * T, sizeof(double));
    double *buf = ns_alloc(T * NS_PCA_CHUNK, sizeof(double));
    double *ybuf = ns_alloc(p * NS_PCA_CHUNK, sizeof(double));
    double *wh = ns_alloc(p * T, sizeof(double));
    ns_status st = (c && buf && ybuf && wh) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = temporal_cov(x, c, buf);
    if (st == NS_OK)
        st = spca_eig(c, T, p, who, out);
    if (st == NS_OK) {
        /* Wh = L^-1/2 F^T */
        for (size_t i = 0; i < p; i++)
            for (size_t t = 0; t < T; t++)
                wh[i * T + t] = out->evec[t * p + i] / sqrt(out->eval[i]);
        *y = ns_matrix_create(p, x->cols);
        st = *y ? project(x, wh, p, buf, ybuf, *y) : NS_ERR_NOMEM;
    }
    free(c), free(buf), free(ybuf), free(wh);
    if (st != NS_OK) {
        ns_ica_spca_clear(out);
        ns_matrix_free(*y);
        *y = NULL;
    }
    return st;
}
