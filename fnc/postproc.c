/* Timecourse post-processing: detrend (+ nuisance regression), despike,
 * low-pass; and the low-frequency power fraction used for selection. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

void ns_fnc_detrend_design(size_t T, double *X)
{
    double mean[NS_FNC_NDETREND] = {0};
    for (size_t t = 0; t < T; t++) {
        double ph = 2.0 * M_PI * (double)t / (double)T;
        double *r = X + t * NS_FNC_NDETREND;
        r[0] = 1.0;
        r[1] = (double)t;
        r[2] = sin(ph);
        r[3] = cos(ph);
        r[4] = sin(2.0 * ph);
        r[5] = cos(2.0 * ph);
        for (int j = 1; j < NS_FNC_NDETREND; j++)
            mean[j] += r[j];
    }
    for (size_t t = 0; t < T; t++)
        for (int j = 1; j < NS_FNC_NDETREND; j++)
            X[t * NS_FNC_NDETREND + j] -= mean[j] / (double)T;
}

/* Orthonormal basis U (T x r, row-major, r <= p) of the column space of X
 * (T x p) from its SVD; singular values below 1e-10 of the largest dropped
 * so that collinear confounds do not blow up. */
ns_status ns_fnc__basis(const double *X, size_t T, size_t p, double *U, size_t *r)
{
    if (p == 0 || T < p)
        return ns_error(NS_ERR_DATA, "%zu regressors for %zu time points", p, T);
    double *A = ns_alloc(T * p, sizeof(double));
    double *s = ns_alloc(p, sizeof(double));
    double *vt = ns_alloc(p * p, sizeof(double));
    double *Ufull = ns_alloc(T * p, sizeof(double));
    ns_status st = NS_OK;
    if (!A || !s || !vt || !Ufull) {
        st = NS_ERR_NOMEM;
        goto done;
    }
    memcpy(A, X, T * p * sizeof(double));
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)T, (lapack_int)p, A,
                                     (lapack_int)p, s, Ufull, (lapack_int)p, vt, (lapack_int)p);
    if (info != 0) {
        st = ns_error(NS_ERR_NUMERIC, "SVD of the regressors failed (info %d)", (int)info);
        goto done;
    }
    size_t keep = 0;
    while (keep < p && s[keep] > 1e-10 * s[0])
        keep++;
    for (size_t t = 0; t < T; t++)
        memcpy(U + t * keep, Ufull + t * p, keep * sizeof(double));
    *r = keep;
done:
    free(A);
    free(s);
    free(vt);
    free(Ufull);
    return st;
}

/* y <- y - U (U^T y) for an orthonormal U (T x r). work: r * K doubles. */
void ns_fnc__project_out(double *y, size_t T, size_t K, const double *U, size_t r, double *work)
{
    if (r == 0 || K == 0)
        return;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)K, (int)T, 1.0, U, (int)r,
                y, (int)K, 0.0, work, (int)K);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)K, (int)r, -1.0, U,
                (int)r, work, (int)K, 1.0, y, (int)K);
}

ns_status ns_fnc_regress_out(double *y, size_t T, size_t K, const double *X, size_t p)
{
    double *U = ns_alloc(T * (p ? p : 1), sizeof(double));
    double *w = ns_alloc((p ? p : 1) * (K ? K : 1), sizeof(double));
    size_t r = 0;
    ns_status st = (U && w) ? ns_fnc__basis(X, T, p, U, &r) : NS_ERR_NOMEM;
    if (!st)
        ns_fnc__project_out(y, T, K, U, r, w);
    free(U);
    free(w);
    return st;
}

/* MATLAB smooth(x, span) moving average: the span shrinks symmetrically
 * near the ends (the end points keep their value). */
static void moving_average(const double *x, size_t T, size_t K, int span, double *s)
{
    size_t h = (size_t)(span / 2);
    for (size_t t = 0; t < T; t++) {
        size_t hh = h;
        if (t < hh)
            hh = t;
        if (T - 1 - t < hh)
            hh = T - 1 - t;
        double *o = s + t * K;
        memcpy(o, x + (t - hh) * K, K * sizeof(double));
        for (size_t u = t - hh + 1; u <= t + hh; u++)
            for (size_t k = 0; k < K; k++)
                o[k] += x[u * K + k];
        double inv = 1.0 / (double)(2 * hh + 1);
        for (size_t k = 0; k < K; k++)
            o[k] *= inv;
    }
}

ns_status ns_fnc_despike(double *x, size_t T, size_t K, int span, double *work,
                         size_t *nreplaced)
{
    size_t n = 0;
    if (nreplaced)
        *nreplaced = 0;
    if (span < 3 || span % 2 == 0)
        return ns_error(NS_ERR_ARG, "despike span %d must be odd and at least 3", span);
    if (T < 3 || K == 0)
        return NS_OK;
    double *own = NULL;
    if (!work && !(work = own = ns_alloc(3 * T * K, sizeof(double))))
        return NS_ERR_NOMEM;
    double *s = work, *r = s + T * K, *acc = r + T * K; /* acc: mean, sd (2K <= T K) */
    double *mean = acc, *sd = acc + K;
    moving_average(x, T, K, span, s);
    memset(mean, 0, 2 * K * sizeof(double));
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++) {
            double v = fabs(x[t * K + k] - s[t * K + k]);
            r[t * K + k] = v;
            mean[k] += v;
        }
    for (size_t k = 0; k < K; k++)
        mean[k] /= (double)T;
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++) {
            double d = r[t * K + k] - mean[k];
            sd[k] += d * d;
        }
    /* GIFT's rule compares r itself (not r - mean) with 2.5 std(r) */
    for (size_t k = 0; k < K; k++)
        sd[k] = 2.5 * sqrt(sd[k] / (double)(T - 1));
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++)
            if (r[t * K + k] > sd[k]) {
                x[t * K + k] = s[t * K + k];
                n++;
            }
    if (nreplaced)
        *nreplaced = n;
    free(own);
    return NS_OK;
}

ns_status ns_fnc_lowfreq_fraction(const double *x, size_t T, size_t K, double tr, double f_hz,
                                  double *frac)
{
    if (!(tr > 0.0))
        return ns_error(NS_ERR_ARG, "the repetition time is needed for spectra");
    size_t nf = T / 2; /* frequencies j / (T tr), j = 1..T/2 */
    if (nf == 0)
        return ns_error(NS_ERR_DATA, "too few time points for a spectrum");
    double *C = ns_alloc(2 * nf * T, sizeof(double));
    double *F = ns_alloc(2 * nf * K, sizeof(double));
    if (!C || !F) {
        free(C);
        free(F);
        return NS_ERR_NOMEM;
    }
    for (size_t j = 0; j < nf; j++)
        for (size_t t = 0; t < T; t++) {
            double ph = 2.0 * M_PI * (double)((j + 1) * t % T) / (double)T;
            C[j * T + t] = cos(ph);
            C[(nf + j) * T + t] = sin(ph);
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(2 * nf), (int)K, (int)T, 1.0, C,
                (int)T, x, (int)K, 0.0, F, (int)K);
    for (size_t k = 0; k < K; k++) {
        double low = 0.0, all = 0.0;
        for (size_t j = 0; j < nf; j++) {
            double re = F[j * K + k], im = F[(nf + j) * K + k];
            double pw = re * re + im * im;
            all += pw;
            if ((double)(j + 1) / ((double)T * tr) <= f_hz + 1e-12)
                low += pw;
        }
        frac[k] = all > 0.0 ? low / all : NAN;
    }
    free(C);
    free(F);
    return NS_OK;
}
