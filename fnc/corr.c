/* Pearson correlation (BLAS syrk on standardised columns) and Fisher z. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

/* Column k standardised on x / max|x| when its sum of squares overflows
 * (values near 1e154 and beyond): the correlation does not depend on the
 * scale. Returns 0 when the column is constant after all. */
static int scaled_column(const double *x, size_t T, size_t K, size_t k, double *z)
{
    double s = 0.0, m = 0.0, n = 0.0;
    for (size_t t = 0; t < T; t++)
        s = fmax(s, fabs(x[t * K + k]));
    if (!(s > 0.0) || !isfinite(s))
        return 0;
    for (size_t t = 0; t < T; t++)
        m += x[t * K + k] / s;
    m /= (double)T;
    for (size_t t = 0; t < T; t++) {
        double d = x[t * K + k] / s - m;
        z[t * K + k] = d;
        n += d * d;
    }
    if (!(n > 0.0))
        return 0;
    n = 1.0 / sqrt(n);
    for (size_t t = 0; t < T; t++)
        z[t * K + k] *= n;
    return 1;
}

/* Standardises the columns of x (T x K) into z so that z^T z = correlation.
 * Returns the 0-based index of a constant column, or K when none. */
size_t ns_fnc__standardise(const double *x, size_t T, size_t K, double *z, double *mean,
                           double *norm)
{
    memset(mean, 0, K * sizeof(double));
    memset(norm, 0, K * sizeof(double));
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++)
            mean[k] += x[t * K + k];
    for (size_t k = 0; k < K; k++)
        mean[k] /= (double)T;
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++) {
            double d = x[t * K + k] - mean[k];
            z[t * K + k] = d;
            norm[k] += d * d;
        }
    size_t bad = K;
    for (size_t k = 0; k < K; k++) {
        if (isinf(norm[k]) && scaled_column(x, T, K, k, z)) {
            norm[k] = 1.0; /* z's column is already standardised */
            continue;
        }
        /* relative test: a column that is constant up to rounding */
        if (!(norm[k] > 0.0) || !isfinite(norm[k])) {
            if (bad == K)
                bad = k;
            norm[k] = 0.0;
        } else {
            norm[k] = 1.0 / sqrt(norm[k]);
        }
    }
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++)
            z[t * K + k] *= norm[k];
    return bad;
}

/* r = z^T z (upper by syrk, mirrored), clamped to [-1, 1], diagonal 0. */
void ns_fnc__gram(const double *z, size_t T, size_t K, double *r)
{
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)K, (int)T, 1.0, z, (int)K, 0.0, r,
                (int)K);
    for (size_t i = 0; i < K; i++) {
        r[i * K + i] = 0.0;
        for (size_t j = i + 1; j < K; j++) {
            double v = r[i * K + j];
            v = v > 1.0 ? 1.0 : (v < -1.0 ? -1.0 : v);
            r[i * K + j] = r[j * K + i] = v;
        }
    }
}

ns_status ns_fnc_corr(const double *x, size_t T, size_t K, double *r, double *work)
{
    if (T < 2)
        return ns_error(NS_ERR_DATA, "correlation needs at least 2 time points");
    double *own = NULL, *stats = ns_alloc(2 * K, sizeof(double));
    if (!stats)
        return NS_ERR_NOMEM;
    if (!work && !(work = own = ns_alloc(T * K, sizeof(double)))) {
        free(stats);
        return NS_ERR_NOMEM;
    }
    size_t bad = ns_fnc__standardise(x, T, K, work, stats, stats + K);
    if (bad < K) {
        free(own);
        free(stats);
        return ns_error(NS_ERR_DATA, "component %zu has no variance", bad + 1);
    }
    ns_fnc__gram(work, T, K, r);
    free(own);
    free(stats);
    return NS_OK;
}

void ns_fnc_fisher_z(double *r, size_t n, double guard)
{
    if (!(guard > 0.0))
        guard = NS_FNC_R_GUARD;
    double lim = 1.0 - guard;
    for (size_t i = 0; i < n; i++) {
        double v = r[i];
        if (isnan(v))
            continue;
        v = v > lim ? lim : (v < -lim ? -lim : v);
        r[i] = atanh(v);
    }
}

ns_status ns_fnc_static(const double *x, size_t T, size_t K, double *z, double *work)
{
    ns_status st = ns_fnc_corr(x, T, K, z, work);
    if (st)
        return st;
    /* upper triangle only (atanh is the costly part), then mirrored */
    for (size_t i = 0; i + 1 < K; i++) {
        ns_fnc_fisher_z(z + i * K + i + 1, K - i - 1, 0.0);
        for (size_t j = i + 1; j < K; j++)
            z[j * K + i] = z[i * K + j];
    }
    return NS_OK;
}

size_t ns_fnc_nedges(size_t K)
{
    return K < 2 ? 0 : K * (K - 1) / 2;
}

void ns_fnc_upper(const double *m, size_t K, double *edges)
{
    size_t e = 0;
    for (size_t i = 0; i < K; i++)
        for (size_t j = i + 1; j < K; j++)
            edges[e++] = m[i * K + j];
}
