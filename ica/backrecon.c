/* Back-reconstruction of one subject (GICA1, GICA3, dual regression) and
 * GIFT's z-scaling (Erhardt et al. 2011). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/ica_int.h"

void ns_ica_subject_result_clear(ns_ica_subject_result *r)
{
    if (!r)
        return;
    ns_matrix_free(r->maps);
    free(r->tc);
    memset(r, 0, sizeof *r);
}

/* out (m x n, double) = a (m x V) b^T (V x n), float inputs. */
static ns_status cross_f(const ns_matrix *a, size_t m, const ns_matrix *b, size_t n, double *out)
{
    float *tmp = ns_alloc(m * n, sizeof(float));
    if (!tmp)
        return NS_ERR_NOMEM;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)a->cols, 1.0f,
                a->data, (int)a->stride, b->data, (int)b->stride, 0.0f, tmp, (int)n);
    for (size_t i = 0; i < m * n; i++)
        out[i] = tmp[i];
    free(tmp);
    return NS_OK;
}

/* maps (k x V) = m (the first r = y->rows columns of k x ld, double) *
 * y (r x V, float); with the voxel means vm (a factored y), plus m's
 * column r times vm^T. */
static ns_status left_multiply_ld(const double *m, size_t k, size_t ld, const ns_matrix *y,
                                  const float *vm, ns_matrix **maps)
{
    size_t r = y->rows;
    float *mf = ns_alloc(k * ld, sizeof(float));
    *maps = ns_matrix_create(k, y->cols);
    if (!mf || !*maps) {
        free(mf);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < k * ld; i++)
        mf[i] = (float)m[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)y->cols, (int)r, 1.0f, mf,
                (int)ld, y->data, (int)y->stride, 0.0f, (*maps)->data, (int)(*maps)->stride);
    if (vm)
        cblas_sger(CblasRowMajor, (int)k, (int)y->cols, 1.0f, mf + r, (int)ld, vm, 1,
                   (*maps)->data, (int)(*maps)->stride);
    free(mf);
    return NS_OK;
}

/* maps (k x V) = m (k x r, double) * y (r x V, float). */
static ns_status left_multiply(const double *m, size_t k, const ns_matrix *y, ns_matrix **maps)
{
    return left_multiply_ld(m, k, y->rows, y, NULL, maps);
}

/* d2 (p x K) = Y Z^T with Y = mix L, L = [Xc; m^T] the factored form
 * (T + 1 rows): P = L Z^T in float BLAS, then mix P in double, so Y
 * (p x V) is never formed. */
static ns_status cross_factored(const ns_matrix *xc, const ns_ica_whitener *w,
                                const ns_matrix *zk, size_t K, double *d2)
{
    size_t T = w->t;
    double *pl = ns_alloc((T + 1) * K, sizeof(double));
    float *zm = ns_alloc(K, sizeof(float));
    ns_status st = pl && zm ? cross_f(xc, T, zk, K, pl) : NS_ERR_NOMEM;
    if (st == NS_OK) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)K, (int)zk->cols, 1.0f, zk->data,
                    (int)zk->stride, w->m, 1, 0.0f, zm, 1);
        for (size_t k = 0; k < K; k++)
            pl[T * K + k] = zm[k];
        ns_ica_dgemm(w->mix, pl, d2, w->p, T + 1, K);
    }
    free(pl), free(zm);
    return st;
}

/* maps (k x V) = m (k x p) Y with Y = mix [Xc; m^T]: (m mix) [Xc; m^T], a
 * float product on Xc and a rank-one update with the voxel means. */
static ns_status left_multiply_factored(const double *m, size_t k, const ns_matrix *xc,
                                        const ns_ica_whitener *w, ns_matrix **maps)
{
    size_t n = w->t + 1;
    double *mm = ns_alloc(k * n, sizeof(double));
    *maps = NULL;
    if (!mm)
        return NS_ERR_NOMEM;
    ns_ica_dgemm(m, w->mix, mm, k, w->p, n);
    ns_status st = left_multiply_ld(mm, k, n, xc, w->m, maps);
    free(mm);
    return st;
}

/* GICA1 / GICA3 from the subject's reduced data y (p x V), or, w given,
 * from its factored form (y then the centred data Xc, T x V). D2_i = Y_i
 * Z^T / (V-1) are the subject's rows of the group PCA de-whitening (exact
 * for fitted subjects, the projection onto the group basis for new ones). */
static ns_status gica(const ns_ica_group_model *g, int gica3, const ns_ica_spca *sp,
                      const ns_matrix *y, const ns_ica_whitener *w, ns_ica_subject_result *out)
{
    size_t K = g->k, p = sp->p, T = sp->t;
    ns_matrix zk = ns_matrix_rows(g->z, 0, K);
    double *d2 = ns_alloc(p * K, sizeof(double)), *pd = ns_alloc(K * p, sizeof(double));
    double *m = ns_alloc(K * p, sizeof(double)), *di = ns_alloc(T * p, sizeof(double));
    double *tmp = ns_alloc(T * K, sizeof(double));
    ns_status st = !(d2 && pd && m && di && tmp) ? NS_ERR_NOMEM
                   : w                           ? cross_factored(y, w, &zk, K, d2)
                                                 : cross_f(y, p, &zk, K, d2);
    for (size_t i = 0; st == NS_OK && i < p * K; i++)
        d2[i] /= (double)(g->v - 1);
    if (st == NS_OK && !gica3)
        st = ns_ica_pinv(d2, p, K, pd);
    if (st == NS_OK && gica3) /* Wh2_i = L^-1 D2_i^T */
        for (size_t k = 0; k < K; k++)
            for (size_t i = 0; i < p; i++)
                pd[k * p + i] = d2[i * K + k] / g->geig[k];
    if (st == NS_OK) {
        ns_ica_dgemm(g->w, pd, m, K, K, p);
        st = w ? left_multiply_factored(m, K, y, w, &out->maps)
               : left_multiply(m, K, y, &out->maps);
    }
    if (st == NS_OK) { /* TC_i = D_i D2_i A with D_i = F_i L_i^1/2 */
        for (size_t t = 0; t < T; t++)
            for (size_t i = 0; i < p; i++)
                di[t * p + i] = sp->evec[t * p + i] * sqrt(sp->eval[i]);
        ns_ica_dgemm(di, d2, tmp, T, p, K);
        ns_ica_dgemm(tmp, g->a, out->tc, T, K, K);
    }
    free(d2), free(pd), free(m), free(di), free(tmp);
    return st;
}

/* Dual regression: TC = X pinv(S) with maps centred (X's rows are centred by
 * the preprocessing), then S_i = pinv(TC_c) X with TC's columns centred;
 * pinv(TC_c) annihilates constants, so X needs no voxel centring. */
static ns_status dual_regression(const ns_ica_group_model *g, const ns_matrix *x,
                                 ns_ica_subject_result *out)
{
    size_t K = g->k, T = x->rows;
    ns_matrix *sc = ns_matrix_create(K, g->v);
    double *xs = ns_alloc(T * K, sizeof(double)), *gg = ns_alloc(K * K, sizeof(double));
    double *gi = ns_alloc(K * K, sizeof(double)), *tcc = ns_alloc(T * K, sizeof(double));
    double *pt = ns_alloc(K * T, sizeof(double));
    ns_status st = (sc && xs && gg && gi && tcc && pt) ? NS_OK : NS_ERR_NOMEM;
    for (size_t k = 0; st == NS_OK && k < K; k++) {
        const float *r = g->maps->data + k * g->maps->stride;
        double mean = 0;
        for (size_t v = 0; v < g->v; v++)
            mean += r[v];
        mean /= (double)g->v;
        for (size_t v = 0; v < g->v; v++)
            sc->data[k * g->v + v] = (float)(r[v] - mean);
    }
    if (st == NS_OK)
        st = cross_f(x, T, sc, K, xs);
    if (st == NS_OK)
        st = cross_f(sc, K, sc, K, gg);
    if (st == NS_OK)
        st = ns_ica_pinv(gg, K, K, gi);
    if (st == NS_OK) {
        ns_ica_dgemm(xs, gi, out->tc, T, K, K);
        memcpy(tcc, out->tc, T * K * sizeof(double));
        for (size_t k = 0; k < K; k++) {
            double mean = 0;
            for (size_t t = 0; t < T; t++)
                mean += tcc[t * K + k];
            for (size_t t = 0; t < T; t++)
                tcc[t * K + k] -= mean / (double)T;
        }
        st = ns_ica_pinv(tcc, T, K, pt);
    }
    if (st == NS_OK)
        st = left_multiply(pt, K, x, &out->maps);
    ns_matrix_free(sc);
    free(xs), free(gg), free(gi), free(tcc), free(pt);
    return st;
}

/* The back-reconstruction, from y or (w given) the factored form (y = Xc). */
static ns_status backreconstruct(const ns_ica_group_model *g, ns_ica_backrecon method,
                                 const ns_matrix *x, const ns_ica_spca *spca, const ns_matrix *y,
                                 const ns_ica_whitener *w, ns_ica_subject_result *out)
{
    memset(out, 0, sizeof *out);
    size_t T = method == NS_ICA_BR_DR ? (x ? x->rows : 0) : spca ? spca->t : 0;
    if (method == NS_ICA_BR_DR ? !x : (!spca || !y))
        return ns_error(NS_ERR_ARG, "back-reconstruction %s: missing input",
                        ns_ica_backrecon_name(method));
    if (w && (w->t != T || w->p != spca->p || y->rows != T))
        return ns_error(NS_ERR_ARG, "back-reconstruction: whitener of %zu x %zu, PCA of %zu x "
                        "%zu, data of %zu time points", w->p, w->t, spca->p, T, y->rows);
    out->t = T, out->k = g->k;
    out->tc = ns_alloc(T * g->k, sizeof(double));
    if (!out->tc)
        return NS_ERR_NOMEM;
    ns_status st = method == NS_ICA_BR_DR ? dual_regression(g, x, out)
                                          : gica(g, method == NS_ICA_BR_GICA3, spca, y, w, out);
    if (st != NS_OK)
        ns_ica_subject_result_clear(out);
    return st;
}

ns_status ns_ica_backreconstruct(const ns_ica_group_model *g, ns_ica_backrecon method,
                                 const ns_matrix *x, const ns_ica_spca *spca,
                                 const ns_matrix *y, ns_ica_subject_result *out)
{
    return backreconstruct(g, method, x, spca, y, NULL, out);
}

ns_status ns_ica_backreconstruct_factored(const ns_ica_group_model *g, ns_ica_backrecon method,
                                          const ns_ica_spca *spca, const ns_ica_whitener *w,
                                          const ns_matrix *xc, ns_ica_subject_result *out)
{
    if (method == NS_ICA_BR_DR || !w) {
        memset(out, 0, sizeof *out);
        return ns_error(NS_ERR_ARG, "back-reconstruction %s from the factored form: GICA1 or "
                        "GICA3, with the whitener", ns_ica_backrecon_name(method));
    }
    return backreconstruct(g, method, NULL, spca, xc, w, out);
}

/* Mode of the smoothed histogram of a row (GIFT re-centres maps on it). */
static double histogram_peak(const float *r, size_t n)
{
    enum { NB = 100 };
    float flo, fhi;
    ns_ica_minmax_f(r, n, &flo, &fhi);
    double lo = flo, hi = fhi, h[NB] = {0}, hs[NB];
    if (!(hi > lo))
        return lo;
    double w = (hi - lo) / NB, iw = 1.0 / w;
    for (size_t v = 0; v < n; v++) {
        int b = (int)((r[v] - lo) * iw);
        h[b >= NB ? NB - 1 : b] += 1;
    }
    size_t best = 0;
    for (int b = 0; b < NB; b++) { /* 5-bin moving average */
        double s = 0, c = 0;
        for (int d = -2; d <= 2; d++)
            if (b + d >= 0 && b + d < NB)
                s += h[b + d], c++;
        hs[b] = s / c;
        if (hs[b] > hs[best])
            best = (size_t)b;
    }
    return lo + ((double)best + 0.5) * w;
}

static void recenter_rms(float *r, size_t n)
{
    double pk = histogram_peak(r, n), ss = ns_ica_ssd_f(r, n, pk);
    double rms = sqrt(ss / (double)n);
    for (size_t v = 0; v < n; v++)
        r[v] = rms > 0 ? (float)((r[v] - pk) / rms) : 0.0f;
}

/* Covariance sign of two rows (only the sign matters for alignment). */
static double row_cov(const float *a, const float *b, size_t n)
{
    double ma = ns_ica_sum_f(a, n) / (double)n, mb = ns_ica_sum_f(b, n) / (double)n;
    return ns_ica_dot_ff(a, b, n) - (double)n * ma * mb;
}

void ns_ica_scale_subject(ns_ica_subject_result *r, const ns_matrix *group_maps)
{
    size_t K = r->k, V = r->maps->cols;
    for (size_t k = 0; group_maps && k < K; k++) {
        float *m = r->maps->data + k * r->maps->stride;
        if (row_cov(m, group_maps->data + k * group_maps->stride, V) >= 0)
            continue;
        for (size_t v = 0; v < V; v++)
            m[v] = -m[v];
        for (size_t t = 0; t < r->t; t++)
            r->tc[t * K + k] = -r->tc[t * K + k];
    }
    for (size_t k = 0; k < K; k++) {
        ns_ica_detrend_scale(r->tc + k, r->t, K);
        recenter_rms(r->maps->data + k * r->maps->stride, V);
    }
}

void ns_ica_zscore_rows(ns_matrix *m)
{
    for (size_t i = 0; i < m->rows; i++) {
        float *r = m->data + i * m->stride;
        double mean = 0, ss = 0;
        for (size_t v = 0; v < m->cols; v++)
            mean += r[v];
        mean /= (double)m->cols;
        for (size_t v = 0; v < m->cols; v++)
            ss += (r[v] - mean) * (r[v] - mean);
        double sd = m->cols > 1 ? sqrt(ss / (double)(m->cols - 1)) : 0;
        for (size_t v = 0; v < m->cols; v++)
            r[v] = sd > 0 ? (float)((r[v] - mean) / sd) : 0.0f;
    }
}
