/* requires: fnc */
/* Unit tests of the fnc numerics: detrend vs an independent least-squares
 * fit, Fisher z guard, despike on planted spikes, L1 k-means on separable
 * clusters, state statistics, error paths. (scipy conformance of the filter
 * is in tests/peer/test_fnc_scipy.py.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"
#include "ns_test.h"

/* Solves the p x p system A b = y by Gauss-Jordan (independent of LAPACK). */
static void gauss_solve(double *A, double *y, int p)
{
    for (int c = 0; c < p; c++) {
        int piv = c;
        for (int r = c + 1; r < p; r++)
            if (fabs(A[r * p + c]) > fabs(A[piv * p + c]))
                piv = r;
        for (int j = 0; j < p; j++) {
            double t = A[c * p + j];
            A[c * p + j] = A[piv * p + j];
            A[piv * p + j] = t;
        }
        double t = y[c];
        y[c] = y[piv];
        y[piv] = t;
        for (int r = 0; r < p; r++) {
            if (r == c)
                continue;
            double f = A[r * p + c] / A[c * p + c];
            for (int j = 0; j < p; j++)
                A[r * p + j] -= f * A[c * p + j];
            y[r] -= f * y[c];
        }
    }
    for (int c = 0; c < p; c++)
        y[c] /= A[c * p + c];
}

/* Residual of y (T values, stride K) on X (T x p) by the normal equations. */
static void ls_residual(const double *X, size_t T, int p, const double *y, size_t K, double *res)
{
    double A[64], b[8];
    for (int i = 0; i < p; i++) {
        b[i] = 0.0;
        for (int j = 0; j < p; j++) {
            double s = 0.0;
            for (size_t t = 0; t < T; t++)
                s += X[t * p + i] * X[t * p + j];
            A[i * p + j] = s;
        }
        for (size_t t = 0; t < T; t++)
            b[i] += X[t * p + i] * y[t * K];
    }
    gauss_solve(A, b, p);
    for (size_t t = 0; t < T; t++) {
        double f = 0.0;
        for (int i = 0; i < p; i++)
            f += X[t * p + i] * b[i];
        res[t] = y[t * K] - f;
    }
}

START_TEST(test_detrend_is_least_squares)
{
    const size_t T = 137, K = 4;
    double X[137 * 6], y[137 * 4], y0[137 * 4], res[137];
    ns_fnc_detrend_design(T, X);
    for (int j = 1; j < 6; j++) { /* non-constant regressors are centred */
        double m = 0.0;
        for (size_t t = 0; t < T; t++)
            m += X[t * 6 + j];
        ck_assert_double_eq_tol(m / T, 0.0, 1e-12);
    }
    ck_assert_double_eq_tol(X[10 * 6 + 1] - X[9 * 6 + 1], 1.0, 1e-12);
    ck_assert_double_eq_tol(X[5 * 6 + 2] - X[0 * 6 + 2], sin(2 * M_PI * 5 / T) - sin(0), 1e-12);
    ns_rng *rng = ns_rng_create(3);
    for (size_t i = 0; i < T * K; i++) /* trend + sinusoid + noise */
        y[i] = 5.0 + 0.03 * (double)(i / K) + 2.0 * cos(4 * M_PI * (double)(i / K) / T) +
               ns_rng_normal(rng);
    ns_rng_free(rng);
    memcpy(y0, y, sizeof y);
    ck_assert_int_eq(ns_fnc_regress_out(y, T, K, X, 6), NS_OK);
    for (size_t k = 0; k < K; k++) {
        ls_residual(X, T, 6, y0 + k, K, res);
        for (size_t t = 0; t < T; t++)
            ck_assert_double_eq_tol(y[t * K + k], res[t], 1e-9);
    }
    /* the chain with only the detrend gives the same residuals */
    ns_fnc_postproc_opts o;
    ns_fnc_postproc_defaults(&o);
    o.tr = 2.0;
    o.despike = 0;
    o.lowpass_hz = 0.0;
    ns_fnc_postproc *p;
    ck_assert_int_eq(ns_fnc_postproc_create(&o, T, &p), NS_OK);
    ck_assert_int_eq(ns_fnc_postproc_lowpass_applied(p), 0);
    ck_assert_int_eq(ns_fnc_postproc_run(p, y0, K, NULL, 0, 0, NULL), NS_OK);
    for (size_t i = 0; i < T * K; i++)
        ck_assert_double_eq_tol(y0[i], y[i], 1e-9);
    ns_fnc_postproc_free(p);
}
END_TEST

START_TEST(test_confounds_regressed_with_detrend)
{
    /* y = detrend terms + 3 * confound + noise; the fit on [detrend | conf]
     * leaves a residual orthogonal to the confound; n/a in row 0 allowed. */
    const size_t T = 120, K = 2;
    double y[120 * 2], conf[120], X[120 * 7], Xd[120 * 6];
    ns_rng *rng = ns_rng_create(11);
    for (size_t t = 0; t < T; t++) {
        conf[t] = ns_rng_normal(rng);
        for (size_t k = 0; k < K; k++)
            y[t * K + k] = 1.0 + 3.0 * conf[t] * (k + 1) + 0.1 * ns_rng_normal(rng);
    }
    ns_rng_free(rng);
    conf[0] = NAN;
    ns_fnc_postproc_opts o;
    ns_fnc_postproc_defaults(&o);
    o.tr = 1.0;
    o.despike = 0;
    o.lowpass_hz = 0.0;
    ns_fnc_postproc *p;
    ck_assert_int_eq(ns_fnc_postproc_create(&o, T, &p), NS_OK);
    double y0[120 * 2];
    memcpy(y0, y, sizeof y);
    ck_assert_int_eq(ns_fnc_postproc_run(p, y, K, conf, 1, 0, NULL), NS_OK);
    /* independent reference: z-score the confound over rows 1.., row 0 -> 0 */
    double m = 0.0, ss = 0.0;
    for (size_t t = 1; t < T; t++)
        m += conf[t];
    m /= (double)(T - 1);
    for (size_t t = 1; t < T; t++)
        ss += (conf[t] - m) * (conf[t] - m);
    double sd = sqrt(ss / (double)(T - 2));
    ns_fnc_detrend_design(T, Xd);
    for (size_t t = 0; t < T; t++) {
        memcpy(X + t * 7, Xd + t * 6, 6 * sizeof(double));
        X[t * 7 + 6] = t == 0 ? 0.0 : (conf[t] - m) / sd;
    }
    double res[120];
    for (size_t k = 0; k < K; k++) {
        ls_residual(X, T, 7, y0 + k, K, res);
        for (size_t t = 0; t < T; t++)
            ck_assert_double_eq_tol(y[t * K + k], res[t], 1e-9);
    }
    /* a constant confound column is ignored: same as the detrend alone */
    double flat[120], y1[120 * 2], y2[120 * 2];
    for (size_t t = 0; t < T; t++)
        flat[t] = 4.0;
    for (size_t i = 0; i < T * K; i++)
        y1[i] = y2[i] = y0[i] + (double)(i % 7);
    ck_assert_int_eq(ns_fnc_postproc_run(p, y1, K, flat, 1, 0, NULL), NS_OK);
    ck_assert_int_eq(ns_fnc_regress_out(y2, T, K, Xd, 6), NS_OK);
    for (size_t i = 0; i < T * K; i++)
        ck_assert_double_eq_tol(y1[i], y2[i], 1e-9);
    ns_fnc_postproc_free(p);
}
END_TEST

START_TEST(test_fisher_guard)
{
    double r[6] = {1.0, -1.0, 0.5, 0.0, NAN, 0.9999999999};
    ns_fnc_fisher_z(r, 6, 0.0);
    double cap = atanh(1.0 - NS_FNC_R_GUARD);
    ck_assert(isfinite(r[0]) && isfinite(r[1]));
    ck_assert_double_eq_tol(r[0], cap, 1e-12);
    ck_assert_double_eq_tol(r[1], -cap, 1e-12);
    ck_assert_double_eq_tol(r[2], 0.5 * log(3.0), 1e-14);
    ck_assert_double_eq(r[3], 0.0);
    ck_assert(isnan(r[4]));
    ck_assert_double_eq_tol(r[5], cap, 1e-12);
    /* identical columns correlate at 1: static FNC stays finite */
    double x[20 * 2], z[4];
    for (int t = 0; t < 20; t++)
        x[2 * t] = x[2 * t + 1] = sin(t);
    ck_assert_int_eq(ns_fnc_static(x, 20, 2, z, NULL), NS_OK);
    ck_assert_double_eq_tol(z[1], cap, 1e-6);
    ck_assert_double_eq(z[0], 0.0);
    ck_assert_double_eq(z[3], 0.0);
}
END_TEST

START_TEST(test_pearson_matches_naive)
{
    const size_t T = 50, K = 5;
    double x[50 * 5], r[25];
    ns_rng *rng = ns_rng_create(5);
    for (size_t i = 0; i < T * K; i++)
        x[i] = ns_rng_normal(rng) + (i % K == 1 ? x[i - 1] : 0.0);
    ns_rng_free(rng);
    ck_assert_int_eq(ns_fnc_corr(x, T, K, r, NULL), NS_OK);
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
            for (size_t t = 0; t < T; t++) {
                ma += x[t * K + a] / T;
                mb += x[t * K + b] / T;
            }
            for (size_t t = 0; t < T; t++) {
                double da = x[t * K + a] - ma, db = x[t * K + b] - mb;
                sab += da * db;
                saa += da * da;
                sbb += db * db;
            }
            double want = a == b ? 0.0 : sab / sqrt(saa * sbb);
            ck_assert_double_eq_tol(r[a * K + b], want, 1e-12);
        }
    /* a column scaled by 1e300 (its sum of squares overflows) correlates
     * as before; the mean of 1e300 and 1e307 values does not overflow */
    double xs[50 * 5], rs[25];
    for (int scale = 300; scale <= 307; scale += 7) {
        memcpy(xs, x, sizeof xs);
        for (size_t t = 0; t < T; t++)
            xs[t * K + 2] *= pow(10.0, scale);
        ck_assert_int_eq(ns_fnc_corr(xs, T, K, rs, NULL), NS_OK);
        for (size_t i = 0; i < K * K; i++)
            ck_assert_double_eq_tol(rs[i], r[i], 1e-12);
    }
    double e[10];
    ns_fnc_upper(r, K, e);
    ck_assert_uint_eq(ns_fnc_nedges(K), 10);
    ck_assert_double_eq(e[0], r[1]);
    ck_assert_double_eq(e[4], r[1 * K + 2]);
    ck_assert_double_eq(e[9], r[3 * K + 4]);
}
END_TEST

START_TEST(test_despike_planted)
{
    const size_t T = 200, K = 2;
    double x[200 * 2], clean[200 * 2];
    const size_t spikes[] = {17, 60, 61, 133, 170};
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++)
            x[t * K + k] = clean[t * K + k] = sin(2 * M_PI * t / (25.0 + 10 * k));
    for (size_t i = 0; i < 5; i++)
        x[spikes[i] * K] += (i % 2 ? -8.0 : 8.0);
    double before[200 * 2];
    memcpy(before, x, sizeof x);
    size_t n = 0;
    ck_assert_int_eq(ns_fnc_despike(x, T, K, 3, NULL, &n), NS_OK);
    /* every planted spike was replaced by its 3-point smoothed value */
    for (size_t i = 0; i < 5; i++) {
        size_t t = spikes[i];
        double s = (before[(t - 1) * K] + before[t * K] + before[(t + 1) * K]) / 3.0;
        ck_assert_double_eq_tol(x[t * K], s, 1e-12);
        ck_assert(fabs(x[t * K] - clean[t * K]) < fabs(before[t * K] - clean[t * K]) / 2);
    }
    /* GIFT's rule compares r (not r - mean r) with 2.5 std(r), so on a clean
     * smooth column points at the curvature peaks are "replaced" too, but by
     * a smoothed value within the 3-point curvature of the sine */
    for (size_t t = 0; t < T; t++) {
        ck_assert(fabs(x[t * K + 1] - before[t * K + 1]) < 0.02);
        int near = 0;
        for (size_t i = 0; i < 5; i++)
            near |= t + 1 >= spikes[i] && t <= spikes[i] + 1;
        if (!near)
            ck_assert(fabs(x[t * K] - before[t * K]) < 0.02);
    }
    ck_assert_uint_ge(n, 5);
    /* span 5: spikes replaced by the 5-point mean */
    memcpy(x, before, sizeof x);
    ck_assert_int_eq(ns_fnc_despike(x, T, K, 5, NULL, &n), NS_OK);
    size_t t = spikes[0];
    double s5 = 0;
    for (size_t u = t - 2; u <= t + 2; u++)
        s5 += before[u * K];
    ck_assert_double_eq_tol(x[t * K], s5 / 5, 1e-12);
    ck_assert_int_eq(ns_fnc_despike(x, T, K, 4, NULL, &n), NS_ERR_ARG);
}
END_TEST

START_TEST(test_filter_basics)
{
    ns_fnc_iir f;
    ck_assert_int_eq(ns_fnc_butter_lowpass(5, 0.6, &f), NS_OK);
    double sb = 0, sa = 0;
    for (int i = 0; i <= 5; i++) {
        sb += f.b[i];
        sa += f.a[i];
    }
    ck_assert_double_eq_tol(sb / sa, 1.0, 1e-12); /* unit DC gain */
    ck_assert_double_eq(f.a[0], 1.0);
    ck_assert_double_eq_tol(f.b[1] / f.b[0], 5.0, 1e-12); /* zeros at -1: binomials */
    ck_assert_uint_eq(ns_fnc_filtfilt_padlen(&f), 18);
    double x[40 * 2];
    for (int i = 0; i < 80; i++)
        x[i] = i % 2 ? -3.5 : 7.25;
    ck_assert_int_eq(ns_fnc_filtfilt(&f, x, 40, 2, NULL), NS_OK);
    for (int i = 0; i < 80; i++)
        ck_assert_double_eq_tol(x[i], i % 2 ? -3.5 : 7.25, 1e-10);
    double zi[5];
    ck_assert_int_eq(ns_fnc_lfilter_zi(&f, zi), NS_OK);
    /* zi is the steady state for a unit step: z = A z + B */
    double y0 = f.b[0] + zi[0];
    ck_assert_double_eq_tol(y0, 1.0, 1e-12);
    /* errors */
    ck_assert_int_eq(ns_fnc_butter_lowpass(0, 0.5, &f), NS_ERR_ARG);
    ck_assert_int_eq(ns_fnc_butter_lowpass(5, 1.0, &f), NS_ERR_ARG);
    ck_assert_int_eq(ns_fnc_butter_lowpass(5, 0.6, &f), NS_OK);
    ck_assert_int_eq(ns_fnc_filtfilt(&f, x, 18, 1, NULL), NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "too few"));
}
END_TEST

START_TEST(test_postproc_errors)
{
    ns_fnc_postproc_opts o;
    ns_fnc_postproc_defaults(&o);
    ns_fnc_postproc *p = NULL;
    ck_assert_int_eq(ns_fnc_postproc_create(&o, 100, &p), NS_ERR_ARG); /* no TR */
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "repetition time"));
    o.tr = 2.0;
    ck_assert_int_eq(ns_fnc_postproc_create(&o, 15, &p), NS_ERR_DATA);
    o.tr = 4.0; /* 0.15 Hz above Nyquist 0.125 Hz: low-pass skipped */
    ck_assert_int_eq(ns_fnc_postproc_create(&o, 15, &p), NS_OK);
    ck_assert_int_eq(ns_fnc_postproc_lowpass_applied(p), 0);
    ck_assert_ptr_null(ns_fnc_postproc_filter(p));
    double x[15 * 2];
    for (int i = 0; i < 30; i++)
        x[i] = sin(i);
    x[7] = NAN;
    ck_assert_int_eq(ns_fnc_postproc_run(p, x, 2, NULL, 0, 0, NULL), NS_ERR_DATA);
    ns_fnc_postproc_free(p);
    double c[10 * 2], r[4];
    for (int i = 0; i < 20; i++)
        c[i] = i % 2 ? 1.0 : (double)i;
    ck_assert_int_eq(ns_fnc_corr(c, 10, 2, r, NULL), NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "component 2"));
}
END_TEST

START_TEST(test_kmeans_l1_separable)
{
    const size_t per = 40, k = 3, d = 12, n = per * k;
    float *data = malloc(n * d * sizeof(float)), cent[3 * 12];
    int *labels = malloc(n * sizeof(int));
    ns_rng *rng = ns_rng_create(42);
    for (size_t i = 0; i < n; i++) {
        size_t c = i % k; /* interleaved so that order gives nothing away */
        for (size_t j = 0; j < d; j++) {
            double u = ns_rng_uniform(rng) - 0.5; /* Laplace noise, heavy tails */
            double lap = -0.3 * (u < 0 ? -1 : 1) * log(1 - 2 * fabs(u));
            data[i * d + j] = (float)(4.0 * (j % k == c) + lap);
        }
    }
    ns_rng_free(rng);
    ns_fnc_kmeans_opts o;
    ns_fnc_kmeans_defaults(&o);
    o.k = 3;
    o.seed = 7;
    ns_fnc_kmeans_info info;
    ck_assert_int_eq(ns_fnc_kmeans_l1(data, n, d, &o, NULL, labels, cent, &info), NS_OK);
    ck_assert(info.converged);
    int map[3] = {-1, -1, -1};
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % k);
        if (map[c] < 0)
            map[c] = labels[i];
        ck_assert_int_eq(labels[i], map[c]);
    }
    ck_assert(map[0] != map[1] && map[1] != map[2] && map[0] != map[2]);
    /* centroids are medians: near 4 on the cluster's dimensions, 0 elsewhere */
    for (size_t c = 0; c < k; c++)
        for (size_t j = 0; j < d; j++)
            ck_assert(fabsf(cent[(size_t)map[c] * d + j] - 4.0f * (j % k == c)) < 0.5f);
    /* the cost is the sum of L1 distances to the centroids */
    double cost = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            cost += fabsf(data[i * d + j] - cent[(size_t)labels[i] * d + j]);
    ck_assert_double_eq_tol(cost, info.cost, 1e-3 * cost);
    /* same seed, same answer; an explicit start reproduces the clusters */
    int *l2 = malloc(n * sizeof(int));
    float c2[3 * 12];
    ns_fnc_kmeans_info i2;
    ck_assert_int_eq(ns_fnc_kmeans_l1(data, n, d, &o, cent, l2, c2, &i2), NS_OK);
    ck_assert_int_eq(memcmp(l2, labels, n * sizeof(int)), 0);
    o.k = (int)n + 1;
    ck_assert_int_eq(ns_fnc_kmeans_l1(data, n, d, &o, NULL, l2, c2, &i2), NS_ERR_ARG);
    free(l2);
    free(data);
    free(labels);
}
END_TEST

START_TEST(test_state_stats)
{
    const int lab[] = {0, 0, 0, 1, 1, 0, 2, 2, 2, 2};
    ns_fnc_state_stats s;
    ck_assert_int_eq(ns_fnc_state_stats_compute(lab, 10, 4, &s), NS_OK);
    ck_assert_double_eq_tol(s.fraction[0], 0.4, 1e-12);
    ck_assert_double_eq_tol(s.fraction[2], 0.4, 1e-12);
    ck_assert_double_eq(s.fraction[3], 0.0);
    ck_assert_double_eq_tol(s.mean_dwell[0], 2.0, 1e-12); /* runs of 3 and 1 */
    ck_assert_double_eq_tol(s.mean_dwell[1], 2.0, 1e-12);
    ck_assert_double_eq_tol(s.mean_dwell[2], 4.0, 1e-12);
    ck_assert_uint_eq(s.ntransitions, 3);
    ck_assert_uint_eq(s.transitions[0 * 4 + 1], 1);
    ck_assert_uint_eq(s.transitions[1 * 4 + 0], 1);
    ck_assert_uint_eq(s.transitions[0 * 4 + 2], 1);
    ns_fnc_state_stats_free(&s);
}
END_TEST

START_TEST(test_dfnc_windows)
{
    const size_t T = 80, w = 20;
    double c[80];
    ns_fnc_dfnc_taper(T, w, 3.0, 30, c);
    ck_assert_double_eq_tol(c[39] > c[40] ? c[39] : c[40], 1.0, 1e-12);
    ck_assert(c[0] < 1e-6 && c[79] < 1e-6 && c[30] > 0.4 && c[30] < 0.9);
    ck_assert_uint_eq(ns_fnc_dfnc_nwindows(T, w), 60);
    /* first half coupled (+), second half anti-coupled (-) */
    double x[80 * 3];
    ns_rng *rng = ns_rng_create(9);
    for (size_t t = 0; t < T; t++) {
        double s = ns_rng_normal(rng);
        x[t * 3] = s + 0.2 * ns_rng_normal(rng);
        x[t * 3 + 1] = (t < 40 ? s : -s) + 0.2 * ns_rng_normal(rng);
        x[t * 3 + 2] = ns_rng_normal(rng);
    }
    ns_rng_free(rng);
    float win[60 * 3];
    ck_assert_int_eq(ns_fnc_dfnc_windows(x, T, 3, w, 3.0, win), NS_OK);
    ck_assert(win[0 * 3] > 0.8f);   /* edge (0,1) early */
    ck_assert(win[59 * 3] < -0.8f); /* and late */
    size_t idx[60], nidx;
    ns_fnc_dfnc_exemplars(win, 60, 3, idx, &nidx);
    ck_assert_uint_ge(nidx, 1);
    ck_assert_int_eq(ns_fnc_dfnc_windows(x, 15, 3, w, 3.0, win), NS_ERR_DATA);
}
END_TEST

START_TEST(test_table_io)
{
    char path[600], out[600];
    snprintf(path, sizeof path, "%s/t.tsv", ns_test_tmpdir());
    FILE *fp = fopen(path, "w");
    fputs("a\tb\tc\n1\t2.5\tn/a\n-3e-2\t\t4\n", fp);
    fclose(fp);
    ns_fnc_table *t;
    ck_assert_int_eq(ns_fnc_table_read(path, &t), NS_OK);
    ck_assert_uint_eq(t->nrows, 2);
    ck_assert_uint_eq(t->ncols, 3);
    ck_assert_str_eq(t->header[2], "c");
    ck_assert_double_eq(t->x[1], 2.5);
    ck_assert(isnan(t->x[2]) && isnan(t->x[4]));
    ck_assert_double_eq(t->x[3], -3e-2);
    ns_fnc_table_free(t);
    fp = fopen(path, "w");
    fputs("a\tb\n1\t2\n3\n", fp);
    fclose(fp);
    ck_assert_int_eq(ns_fnc_table_read(path, &t), NS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), path));
    fp = fopen(path, "w");
    fputs("a\tb\n1\tx2\n", fp);
    fclose(fp);
    ck_assert_int_eq(ns_fnc_table_read(path, &t), NS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "line 2, column 2"));
    char buf[32];
    ns_fnc_format_fixed(buf, -0.0000004, 6);
    ck_assert_str_eq(buf, "0.000000");
    ns_fnc_format_fixed(buf, -1.2345675, 6);
    ck_assert_str_eq(buf, "-1.234568");
    ns_fnc_format_fixed(buf, 12.5, 0);
    ck_assert_str_eq(buf, "13");
    ns_fnc_format_fixed(buf, NAN, 6);
    ck_assert_str_eq(buf, "n/a");
    double m[4] = {0, 0.5, -0.25, 0};
    const char *names[2] = {"x1", "x2"};
    snprintf(out, sizeof out, "%s/m.tsv", ns_test_tmpdir());
    ck_assert_int_eq(ns_fnc_write_labelled(out, m, 2, 2, "component", names, names, 3), NS_OK);
    char *txt;
    size_t len;
    ck_assert_int_eq(ns_read_file(out, &txt, &len), NS_OK);
    ck_assert_str_eq(txt, "component\tx1\tx2\nx1\t0.000\t0.500\nx2\t-0.250\t0.000\n");
    free(txt);
}
END_TEST

/* CRLF lines, a stray \r inside a line, and cells the fast parser hands
 * to strtod (17 digits, exponent past 22, inf) read as strtod reads them. */
START_TEST(test_table_read_slow_cells)
{
    char path[600];
    snprintf(path, sizeof path, "%s/crlf.tsv", ns_test_tmpdir());
    FILE *fp = fopen(path, "w");
    fputs("a\tb\tc\r\n0.12345678901234567\t1e300\r\t-inf\r\n+7\t\t.5\r\n", fp);
    fclose(fp);
    ns_fnc_table *t;
    ck_assert_int_eq(ns_fnc_table_read(path, &t), NS_OK);
    ck_assert_uint_eq(t->nrows, 2);
    ck_assert_str_eq(t->header[2], "c");
    ck_assert_double_eq(t->x[0], strtod("0.12345678901234567", NULL));
    ck_assert_double_eq(t->x[1], 1e300);
    ck_assert(isinf(t->x[2]) && t->x[2] < 0);
    ck_assert_double_eq(t->x[3], 7.0);
    ck_assert(isnan(t->x[4]));
    ck_assert_double_eq(t->x[5], 0.5);
    ns_fnc_table_free(t);
}
END_TEST

/* The formatted-once writer gives the bytes of ns_fnc_write_labelled for
 * every diagonal block, long cells (the %.17g path) included, and its
 * feature row is the upper triangle in selection order. */
START_TEST(test_symfmt_matches_labelled)
{
    enum { K = 7 };
    double z[K * K];
    ns_rng *rng = ns_rng_create(5);
    for (int i = 0; i < K; i++)
        for (int j = i; j < K; j++)
            z[i * K + j] = z[j * K + i] = i == j ? 0.0 : 4.0 * ns_rng_normal(rng);
    ns_rng_free(rng);
    z[1 * K + 5] = z[5 * K + 1] = -1.2345678901234567e21;
    z[2 * K + 3] = z[3 * K + 2] = NAN;
    const char *ids[K] = {"c1", "c2", "c3", "c4", "c5", "c6", "c7"};
    ns_fnc__symfmt f;
    ck_assert_int_eq(ns_fnc__symfmt_init(&f, K), NS_OK);
    ns_fnc__symfmt_fill(&f, z, 6);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/sym_a.tsv", ns_test_tmpdir());
    snprintf(b, sizeof b, "%s/sym_b.tsv", ns_test_tmpdir());
    size_t blocks[3][2] = {{0, K}, {1, 5}, {4, 3}};
    for (int k = 0; k < 3; k++) {
        size_t o = blocks[k][0], n = blocks[k][1];
        double blk[K * K];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                blk[i * n + j] = z[(o + i) * K + o + j];
        ck_assert_int_eq(ns_fnc_write_labelled(a, blk, n, n, "component", ids + o, ids + o, 6),
                         NS_OK);
        ck_assert_int_eq(ns_fnc__symfmt_write(&f, b, o, n, "component", ids), NS_OK);
        char *ta, *tb;
        size_t la, lb;
        ck_assert_int_eq(ns_read_file(a, &ta, &la), NS_OK);
        ck_assert_int_eq(ns_read_file(b, &tb, &lb), NS_OK);
        ck_assert_uint_eq(la, lb);
        ck_assert_str_eq(ta, tb);
        free(ta);
        free(tb);
    }
    size_t sel[4] = {0, 1, 3, 5};
    double e[6];
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            e[n++] = z[sel[i] * K + sel[j]];
    char want[6 * 34 + 2], got[1024];
    int wl = ns_fnc__format_line(want, e, 6, 6);
    ck_assert_uint_ge(sizeof got, ns_fnc__symfmt_row_size(6));
    size_t gl = ns_fnc__symfmt_row(&f, sel, 4, got);
    ck_assert_uint_eq(gl, (size_t)wl);
    ck_assert(!memcmp(want, got, gl));
    ns_fnc__symfmt_clear(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fnc");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_detrend_is_least_squares);
    tcase_add_test(tc, test_confounds_regressed_with_detrend);
    tcase_add_test(tc, test_fisher_guard);
    tcase_add_test(tc, test_pearson_matches_naive);
    tcase_add_test(tc, test_despike_planted);
    tcase_add_test(tc, test_filter_basics);
    tcase_add_test(tc, test_postproc_errors);
    tcase_add_test(tc, test_kmeans_l1_separable);
    tcase_add_test(tc, test_state_stats);
    tcase_add_test(tc, test_dfnc_windows);
    tcase_add_test(tc, test_table_io);
    tcase_add_test(tc, test_table_read_slow_cells);
    tcase_add_test(tc, test_symfmt_matches_labelled);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
