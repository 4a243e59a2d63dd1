/* ica numerics on planted data: sources we generate, mixed with timecourses
 * we know. Hungarian matching against brute force, PCA whitening identities,
 * MIGP against the exact stacked EVD, Infomax/FastICA recovery, ICASSO
 * stability, back-reconstruction, determinism and error cases.
 * requires: ica */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "ica/fastmath_int.h" /* the rows and their vector width */
#include "ica/infomax_int.h" /* ns_ica_fastica_stride */
#include "ica/ica.h"
#include "ns_test.h"

/* K positively skewed sources (centred exponentials raised to a power: sparse
 * like network maps), K x V. */
static ns_matrix *planted_sources(size_t K, size_t V, uint64_t seed)
{
    ns_rng *r = ns_rng_create(seed);
    ns_matrix *s = ns_matrix_create(K, V);
    for (size_t k = 0; k < K; k++)
        for (size_t v = 0; v < V; v++) {
            double e = -log(1.0 - ns_rng_uniform(r));
            NS_AT(s, k, v) = (float)(e * e - 2.0);
        }
    ns_rng_free(r);
    return s;
}

/* X = TC S + noise (T x V) with TC ~ N(0,1) (T x K, returned in tc). */
static ns_matrix *planted_subject(const ns_matrix *s, size_t T, double noise, uint64_t seed,
                                  double *tc)
{
    size_t K = s->rows, V = s->cols;
    ns_rng *r = ns_rng_create(seed);
    ns_matrix *x = ns_matrix_create(T, V);
    for (size_t i = 0; i < T * K; i++)
        tc[i] = ns_rng_normal(r);
    for (size_t t = 0; t < T; t++)
        for (size_t v = 0; v < V; v++) {
            double a = 100.0 + noise * ns_rng_normal(r);
            for (size_t k = 0; k < K; k++)
                a += tc[t * K + k] * NS_AT(s, k, v);
            NS_AT(x, t, v) = (float)a;
        }
    ns_rng_free(r);
    return x;
}

/* ------------------------------------------------------------- Hungarian */

static double brute_best(const double *c, size_t n, size_t m, size_t row, unsigned used)
{
    if (row == n)
        return 0;
    double best = INFINITY;
    for (size_t j = 0; j < m; j++)
        if (!(used & (1u << j))) {
            double v = c[row * m + j] + brute_best(c, n, m, row + 1, used | (1u << j));
            best = fmin(best, v);
        }
    return best;
}

START_TEST(test_hungarian_brute_force)
{
    ns_rng *r = ns_rng_create(42);
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + ns_rng_below(r, 6), m = n + ns_rng_below(r, 3);
        double c[8 * 8];
        for (size_t i = 0; i < n * m; i++) /* ties on purpose: coarse values */
            c[i] = trial % 3 ? ns_rng_uniform(r) : (double)ns_rng_below(r, 4);
        int as[8];
        ck_assert_int_eq(ns_ica_hungarian(c, n, m, as), NS_OK);
        double tot = 0;
        unsigned used = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert(as[i] >= 0 && (size_t)as[i] < m);
            ck_assert_msg(!(used & (1u << as[i])), "column used twice");
            used |= 1u << as[i];
            tot += c[i * m + (size_t)as[i]];
        }
        ck_assert_double_eq_tol(tot, brute_best(c, n, m, 0, 0), 1e-12);
    }
    ns_rng_free(r);
    double c[6] = {0, 1, 2, 3, 4, 5};
    int as[3];
    ck_assert_int_eq(ns_ica_hungarian(c, 3, 2, as), NS_ERR_ARG);
}
END_TEST

START_TEST(test_match_score_permuted)
{
    size_t K = 7, V = 3000;
    ns_matrix *s = planted_sources(K, V, 1);
    ns_matrix *e = ns_matrix_create(K + 2, V);
    int perm[7] = {3, 0, 6, 2, 5, 1, 4};
    ns_rng *r = ns_rng_create(3);
    for (size_t k = 0; k < K; k++)
        for (size_t v = 0; v < V; v++) /* permuted, flipped, scaled, noisy */
            NS_AT(e, perm[k], v) = (float)((k % 2 ? -3.0 : 0.5) * NS_AT(s, k, v) +
                                           0.05 * ns_rng_normal(r));
    for (size_t v = 0; v < V; v++)
        NS_AT(e, K, v) = (float)ns_rng_normal(r), NS_AT(e, K + 1, v) = (float)ns_rng_normal(r);
    ns_ica_score sc;
    ck_assert_int_eq(ns_ica_match_score(s, e, &sc), NS_OK);
    ck_assert_uint_eq(sc.n, K);
    for (size_t k = 0; k < K; k++) {
        ck_assert_int_eq(sc.match[k], perm[k]);
        ck_assert(k % 2 ? sc.r[k] < 0 : sc.r[k] > 0);
    }
    ck_assert(sc.mean_r > 0.99 && sc.min_r > 0.98);
    ns_ica_score_clear(&sc);
    /* More truth rows than estimates: every estimate used once. */
    ns_matrix few = ns_matrix_rows(e, 0, 3);
    ck_assert_int_eq(ns_ica_match_score(s, &few, &sc), NS_OK);
    ck_assert_uint_eq(sc.n, 3);
    int matched = 0;
    for (size_t k = 0; k < K; k++)
        matched += sc.match[k] >= 0;
    ck_assert_int_eq(matched, 3);
    ns_ica_score_clear(&sc);
    ns_rng_free(r);
    ns_matrix_free(s), ns_matrix_free(e);
}
END_TEST

START_TEST(test_amari)
{
    double p[9] = {0, 2, 0, 0, 0, -1, 3, 0, 0};
    ck_assert_double_eq_tol(ns_ica_amari(p, 3), 0, 1e-15);
    double q[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_double_eq_tol(ns_ica_amari(q, 3), 1, 1e-15);
}
END_TEST

/* ------------------------------------------------------- preprocessing */

START_TEST(test_mask_rule)
{
    float vol[6] = {0, 0, 10, 20, 30, NAN};
    uint8_t m[6] = {1, 1, 1, 1, 1, 1};
    /* mean of finite voxels = 12: keeps 20 and 30 */
    ck_assert_uint_eq(ns_ica_mask_and_volume(vol, 6, m), 2);
    ck_assert(m[3] && m[4] && !m[2] && !m[5]);
    float vol2[6] = {0, 0, 0, 0, 30, 0};
    ck_assert_uint_eq(ns_ica_mask_and_volume(vol2, 6, m), 1); /* AND */
}
END_TEST

/* The row sums run as AVX-512, AVX2 or baseline clones, whichever the CPU
 * has: each must give the bits of the source's 8 interleaved partial sums,
 * so that results do not depend on the machine's vector width. */
START_TEST(test_sums_lane_order)
{
    size_t n = 29238 + 5;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    ns_rng *r = ns_rng_create(3);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(ns_rng_uniform(r) - 0.4);
        y[i] = (float)ns_rng_uniform(r);
    }
    /* +-2^60 in lanes 0 and 4 cancel exactly only when those lanes are
     * added first: any other grouping loses the small terms */
    x[8] = 0x1p60f, x[12] = -0x1p60f, y[8] = y[12] = 1;
    for (size_t len = n - 5; len <= n; len++) {
        volatile double s[8] = {0}, d[8] = {0}; /* volatile: scalar, in source order */
        for (size_t i = 0; i < len; i++) {
            s[i % 8] += (double)x[i];
            d[i % 8] += (double)x[i] * y[i];
        }
        double rs = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
        double rd = ((d[0] + d[4]) + (d[1] + d[5])) + ((d[2] + d[6]) + (d[3] + d[7]));
        ck_assert(ns_ica_sum_f(x, len) == rs);
        ck_assert(ns_ica_dot_ff(x, y, len) == rd);
    }
    free(x), free(y);
    ns_rng_free(r);
}
END_TEST

START_TEST(test_preprocess_options)
{
    size_t T = 40, V = 300;
    ns_matrix *s = planted_sources(3, V, 5);
    double tc[40 * 3];
    for (int p = 0; p < 4; p++) {
        ns_matrix *x = planted_subject(s, T, 1.0, 9, tc);
        ck_assert_int_eq(ns_ica_preprocess(x, (ns_ica_preproc)p, "sub-x"), NS_OK);
        for (size_t t = 0; t < T; t++) { /* every option ends with time means removed */
            double m = 0;
            for (size_t v = 0; v < V; v++)
                m += NS_AT(x, t, v);
            ck_assert_double_eq_tol(m / V, 0, 1e-3);
        }
        if (p == NS_ICA_PRE_VARIANCE) { /* unit std per voxel (before the row centring) */
            double m = 0, ss = 0;
            for (size_t t = 0; t < T; t++)
                m += NS_AT(x, t, 7);
            for (size_t t = 0; t < T; t++)
                ss += (NS_AT(x, t, 7) - m / T) * (NS_AT(x, t, 7) - m / T);
            ck_assert_double_eq_tol(sqrt(ss / (T - 1)), 1.0, 0.2);
        }
        ns_matrix_free(x);
    }
    ns_matrix *x = planted_subject(s, T, 1.0, 9, tc);
    NS_AT(x, 5, 17) = NAN;
    ck_assert_int_eq(ns_ica_preprocess(x, NS_ICA_PRE_TIMEMEAN, "sub-nan"), NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "sub-nan"));
    ns_matrix_free(x);
    x = planted_subject(s, T, 1.0, 9, tc);
    ck_assert_int_eq(ns_ica_preprocess(x, (ns_ica_preproc)7, "s"), NS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "unknown preprocessing option 7"));
    ns_matrix_free(x);
    ns_ica_preproc pp;
    ck_assert_int_eq(ns_ica_preproc_parse("variance", &pp), 0);
    ck_assert_int_eq(pp, NS_ICA_PRE_VARIANCE);
    ck_assert_int_ne(ns_ica_preproc_parse("bogus", &pp), 0);
    ns_matrix_free(s);
}
END_TEST

/* ---------------------------------------------------------------- PCA */

static double max_offdiag_identity(const ns_matrix *y, double scale)
{
    size_t p = y->rows;
    ns_matrix *c = ns_matrix_create(p, p);
    double worst = 0;
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double s = 0;
            for (size_t v = 0; v < y->cols; v++)
                s += (double)NS_AT(y, i, v) * NS_AT(y, j, v);
            worst = fmax(worst, fabs(s / scale - (i == j)));
        }
    ns_matrix_free(c);
    return worst;
}

START_TEST(test_subject_pca_whitening)
{
    size_t T = 50, V = 2000, K = 5, p = 12;
    ns_matrix *s = planted_sources(K, V, 11);
    double tc[50 * 5];
    ns_matrix *x = planted_subject(s, T, 0.5, 12, tc);
    ck_assert_int_eq(ns_ica_preprocess(x, NS_ICA_PRE_TIMEMEAN, "s"), NS_OK);
    ns_ica_spca sp;
    ns_matrix *y;
    ck_assert_int_eq(ns_ica_subject_pca(x, p, "s", &sp, &y), NS_OK);
    ck_assert_uint_eq(y->rows, p);
    ck_assert(max_offdiag_identity(y, V - 1) < 1e-4); /* Y Y^T / (V-1) = I */
    for (size_t j = 1; j < T; j++)
        ck_assert(sp.spectrum[j] <= sp.spectrum[j - 1]);
    /* F orthonormal */
    for (size_t a = 0; a < p; a++)
        for (size_t b = 0; b < p; b++) {
            double d = 0;
            for (size_t t = 0; t < T; t++)
                d += sp.evec[t * p + a] * sp.evec[t * p + b];
            ck_assert_double_eq_tol(d, a == b, 1e-10);
        }
    ns_ica_spca_clear(&sp);
    ns_matrix_free(y);
    /* p1 not below T */
    ck_assert_int_eq(ns_ica_subject_pca(x, T, "sub-07", &sp, &y), NS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "sub-07"));
    ns_matrix_free(x), ns_matrix_free(s);
}
END_TEST

/* Voxel baselines of 1e3 +- 1e2 over a signal of unit scale (raw data, no
 * preprocessing): every kept eigenpair, the smallest included, must still
 * satisfy C f = lambda f against the covariance computed here in double; a
 * plain float X X^T would be off by ~eps |baseline|^2 = 0.06, a quarter of
 * the noise eigenvalues. */
START_TEST(test_subject_pca_large_baseline)
{
    size_t T = 40, V = 3000, K = 4, p = 12;
    ns_matrix *s = planted_sources(K, V, 13);
    double tc[40 * 4];
    ns_matrix *x = planted_subject(s, T, 0.5, 14, tc);
    ns_rng *r = ns_rng_create(15);
    for (size_t v = 0; v < V; v++) {
        float b = (float)(1e3 + 1e2 * ns_rng_uniform(r));
        for (size_t t = 0; t < T; t++)
            NS_AT(x, t, v) += b;
    }
    double *c = calloc(T * T, sizeof(double));
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) {
            for (size_t v = 0; v < V; v++)
                c[i * T + j] += (double)NS_AT(x, i, v) * NS_AT(x, j, v);
            c[i * T + j] /= (double)(V - 1);
        }
    ns_ica_spca sp;
    ns_matrix *y;
    ck_assert_int_eq(ns_ica_subject_pca(x, p, "s", &sp, &y), NS_OK);
    ck_assert(sp.eval[p - 1] < 1e-6 * sp.eval[0]); /* the baseline dwarfs the last kept */
    for (size_t k = 0; k < p; k++) {
        double res = 0;
        for (size_t i = 0; i < T; i++) {
            double cf = 0;
            for (size_t j = 0; j < T; j++)
                cf += c[i * T + j] * sp.evec[j * p + k];
            res += pow(cf - sp.eval[k] * sp.evec[i * p + k], 2);
        }
        ck_assert_msg(sqrt(res) < 1e-3 * sp.eval[k], "pair %zu: residual %g, eigenvalue %g", k,
                      sqrt(res), sp.eval[k]);
    }
    ns_ica_spca_clear(&sp);
    ns_matrix_free(y), ns_matrix_free(x), ns_matrix_free(s);
    ns_rng_free(r);
    free(c);
}
END_TEST

/* Subject i of the planted group (noise 1, seed 100 + i), preprocessed,
 * through its subject PCA: *y, or (factored) the whitener *w with *y NULL.
 * Returns its data x. */
static ns_matrix *reduced_subject(const ns_matrix *s, size_t T, size_t p, size_t i, int factored,
                                  ns_ica_spca *sp, ns_ica_whitener *w, ns_matrix **y)
{
    double *tc = malloc(T * s->rows * sizeof(double));
    ns_matrix *x = planted_subject(s, T, 1.0, 100 + i, tc);
    *y = NULL;
    ck_assert_int_eq(ns_ica_preprocess(x, NS_ICA_PRE_TIMEMEAN, "s"), NS_OK);
    if (factored)
        ck_assert_int_eq(ns_ica_subject_whitener(x, p, "s", sp, w), NS_OK);
    else
        ck_assert_int_eq(ns_ica_subject_pca(x, p, "s", sp, y), NS_OK);
    free(tc);
    return x;
}

/* Stacks M planted subjects through subject PCA into a gpca (white: as
 * the pipeline does, telling it the rows are whitened). */
static void feed(ns_ica_gpca *g, const ns_matrix *s, size_t M, size_t T, size_t p, int white)
{
    for (size_t i = 0; i < M; i++) {
        ns_ica_spca sp;
        ns_matrix *y, *x = reduced_subject(s, T, p, i, 0, &sp, NULL, &y);
        ck_assert_int_eq(white ? ns_ica_gpca_add_white(g, y) : ns_ica_gpca_add(g, y), NS_OK);
        ns_ica_spca_clear(&sp);
        ns_matrix_free(x), ns_matrix_free(y);
    }
}

START_TEST(test_migp_vs_stacked)
{
    size_t K = 6, V = 3000, T = 40, p = 10, M = 8;
    ns_matrix *s = planted_sources(K, V, 21);
    ns_ica_gpca *ge = ns_ica_gpca_create(V, 0), *gm = ns_ica_gpca_create(V, 2 * K);
    feed(ge, s, M, T, p, 0);
    feed(gm, s, M, T, p, 1);
    ck_assert_uint_eq(ns_ica_gpca_rows(ge), M * p);
    ns_matrix *ze, *zm;
    double le[6], lm[6], *all;
    size_t nall;
    ck_assert_int_eq(ns_ica_gpca_result(ge, K, &ze, le, &all, &nall), NS_OK);
    ck_assert_uint_eq(nall, M * p);
    double tr = 0; /* trace of the stacked covariance = M p (whitened subjects) */
    for (size_t j = 0; j < nall; j++)
        tr += all[j];
    ck_assert_double_eq_tol(tr, (double)(M * p), 1e-2 * M * p);
    free(all);
    ck_assert_int_eq(ns_ica_gpca_result(gm, K, &zm, lm, NULL, NULL), NS_OK);
    ck_assert(max_offdiag_identity(ze, V - 1) < 1e-3); /* Z Z^T / (V-1) = I */
    ck_assert(max_offdiag_identity(zm, V - 1) < 1e-3);
    for (size_t j = 0; j < K; j++)
        ck_assert_double_eq_tol(lm[j], le[j], 0.02 * le[j]);
    /* Same subspace: singular values of Ze Zm^T / (V-1) all ~1. */
    double r[36];
    ck_assert_int_eq(ns_ica_corr_rows(ze, zm, r), NS_OK);
    double fro = 0;
    for (int i = 0; i < 36; i++)
        fro += r[i] * r[i];
    ck_assert_double_eq_tol(fro, (double)K, 0.01 * K);
    ns_matrix_free(ze), ns_matrix_free(zm), ns_matrix_free(s);
    ns_ica_gpca_free(ge), ns_ica_gpca_free(gm);
}
END_TEST

/* Largest deviation of r from U V^T (the SVD of w, taken here) and of r r^T
 * from I. */
static double polar_error(const double *w, const double *r, size_t k)
{
    double *cp = ns_alloc(k * k, sizeof(double)), *u = ns_alloc(k * k, sizeof(double));
    double *vt = ns_alloc(k * k, sizeof(double)), *sv = ns_alloc(k, sizeof(double)), err = 0;
    memcpy(cp, w, k * k * sizeof(double));
    ck_assert_int_eq(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'A', (lapack_int)k, (lapack_int)k, cp,
                                    (lapack_int)k, sv, u, (lapack_int)k, vt, (lapack_int)k),
                     0);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double uv = 0, rr = 0;
            for (size_t l = 0; l < k; l++)
                uv += u[i * k + l] * vt[l * k + j], rr += r[i * k + l] * r[j * k + l];
            err = fmax(err, fmax(fabs(r[i * k + j] - uv), fabs(rr - (i == j))));
        }
    free(cp), free(u), free(vt), free(sv);
    return err;
}

/* Both polar factors (eigenpairs, SVD) on a well-conditioned w; with a row
 * nearly vanishing (cond 1e6) the eigenpair one declines and leaves w as it
 * was (its answer would miss by ~1e-4), the SVD one stays exact. */
START_TEST(test_sym_orth_polar)
{
    size_t k = 40;
    double *w = ns_alloc(k * k, sizeof(double)), *r = ns_alloc(k * k, sizeof(double));
    ns_rng *g = ns_rng_create(31);
    for (size_t i = 0; i < k * k; i++) /* I + 0.1 G: condition ~2 */
        w[i] = (i % (k + 1) == 0) + 0.1 * ns_rng_normal(g);
    for (size_t j = 0; j < k; j++) /* condition ~1e2 */
        w[5 * k + j] *= 1e-2;
    memcpy(r, w, k * k * sizeof(double));
    ck_assert_int_eq(ns_ica_sym_orth_eig(r, k), NS_OK);
    ck_assert(polar_error(w, r, k) < 1e-11);
    memcpy(r, w, k * k * sizeof(double));
    ck_assert_int_eq(ns_ica_sym_orth(r, k), NS_OK);
    ck_assert(polar_error(w, r, k) < 1e-12);
    for (size_t j = 0; j < k; j++) /* condition ~1e6 */
        w[9 * k + j] *= 1e-6;
    memcpy(r, w, k * k * sizeof(double));
    ck_assert_int_eq(ns_ica_sym_orth_eig(r, k), NS_ERR_NUMERIC);
    ck_assert(memcmp(r, w, k * k * sizeof(double)) == 0);
    ck_assert_int_eq(ns_ica_sym_orth(r, k), NS_OK);
    ck_assert(polar_error(w, r, k) < 1e-9);
    ns_rng_free(g);
    free(w), free(r);
}
END_TEST

/* MIGP told that the subjects are whitened (their own Gram block taken as
 * (V-1) I) agrees with MIGP computing that block, to rounding. */
START_TEST(test_migp_white_block)
{
    size_t K = 6, V = 3000, T = 40, p = 10, M = 8;
    ns_matrix *s = planted_sources(K, V, 23);
    ns_ica_gpca *gc = ns_ica_gpca_create(V, 2 * K), *gw = ns_ica_gpca_create(V, 2 * K);
    feed(gc, s, M, T, p, 0);
    feed(gw, s, M, T, p, 1);
    ns_matrix *zc, *zw;
    double lc[6], lw[6], r[36], fro = 0;
    ck_assert_int_eq(ns_ica_gpca_result(gc, K, &zc, lc, NULL, NULL), NS_OK);
    ck_assert_int_eq(ns_ica_gpca_result(gw, K, &zw, lw, NULL, NULL), NS_OK);
    for (size_t j = 0; j < K; j++)
        ck_assert_double_eq_tol(lw[j], lc[j], 1e-6 * lc[j]); /* V vs V-1: 4e-5 */
    ck_assert(max_offdiag_identity(zw, V - 1) < 1e-3);
    ck_assert_int_eq(ns_ica_corr_rows(zc, zw, r), NS_OK);
    for (int i = 0; i < 36; i++)
        fro += r[i] * r[i];
    ck_assert_double_eq_tol(fro, (double)K, 1e-5 * K);
    ns_matrix_free(zc), ns_matrix_free(zw), ns_matrix_free(s);
    ns_ica_gpca_free(gc), ns_ica_gpca_free(gw);
}
END_TEST

/* MIGP fed the subject PCA's whitener and the data (y never formed) agrees
 * with MIGP fed y, on raw data with voxel baselines of 1e3 +- 1e2 and p
 * close to T (where the factored form pays; it does not at p = 10). */
START_TEST(test_migp_factored)
{
    size_t K = 4, V = 3000, T = 40, p = 38, M = 5, work = 2 * p;
    ns_matrix *s = planted_sources(K, V, 25);
    ns_ica_gpca *gy = ns_ica_gpca_create(V, work), *gf = ns_ica_gpca_create(V, work);
    ck_assert(ns_ica_gpca_factored_pays(work, p, T));
    ck_assert(!ns_ica_gpca_factored_pays(work, 10, T));
    ck_assert(!ns_ica_gpca_factored_pays(0, p, T)); /* the exact PCA takes y */
    double tc[40 * 4];
    ns_rng *r = ns_rng_create(26);
    for (size_t i = 0; i < M; i++) {
        ns_matrix *x = planted_subject(s, T, 0.5, 200 + i, tc), *y;
        for (size_t v = 0; v < V; v++) {
            float b = (float)(1e3 + 1e2 * ns_rng_uniform(r));
            for (size_t t = 0; t < T; t++)
                NS_AT(x, t, v) += b;
        }
        ns_ica_spca sp, sf;
        ns_ica_whitener w;
        ns_matrix *xy = ns_matrix_copy(x);
        ck_assert_int_eq(ns_ica_subject_pca(xy, p, "s", &sp, &y), NS_OK);
        ck_assert_int_eq(ns_ica_subject_whitener(x, p, "s", &sf, &w), NS_OK);
        ck_assert_double_eq_tol(sf.eval[p - 1], sp.eval[p - 1], 1e-12 * sp.eval[0]);
        /* both leave x centred (Xc), alike, and the factored form gives y bit
         * for bit */
        ck_assert_mem_eq(xy->data, x->data, T * V * sizeof(float));
        for (size_t v = 0; v < V; v += 499) {
            double mean = 0;
            for (size_t t = 0; t < T; t++)
                mean += NS_AT(x, t, v) / (double)T;
            ck_assert_double_le(fabs(mean), 1e-3);
        }
        ns_matrix_free(xy);
        ns_matrix *y2, wrong = ns_matrix_rows(x, 0, T - 1);
        ck_assert_int_eq(ns_ica_whitener_apply(&w, x, &y2), NS_OK);
        ck_assert_uint_eq(y2->rows, p);
        ck_assert_mem_eq(y2->data, y->data, p * V * sizeof(float));
        ns_matrix_free(y2);
        ck_assert_int_eq(ns_ica_whitener_apply(&w, &wrong, &y2), NS_ERR_ARG);
        ck_assert_ptr_null(y2);
        ck_assert_int_eq(ns_ica_gpca_add_white(gy, y), NS_OK);
        ck_assert_int_eq(ns_ica_gpca_add_factored(gf, x, &w), NS_OK);
        ns_ica_spca_clear(&sp), ns_ica_spca_clear(&sf), ns_ica_whitener_clear(&w);
        ns_matrix_free(x), ns_matrix_free(y);
    }
    ck_assert_uint_eq(ns_ica_gpca_rows(gf), M * p);
    ns_matrix *zy, *zf;
    double ly[8], lf[8], c[64], fro = 0;
    ck_assert_int_eq(ns_ica_gpca_result(gy, 8, &zy, ly, NULL, NULL), NS_OK);
    ck_assert_int_eq(ns_ica_gpca_result(gf, 8, &zf, lf, NULL, NULL), NS_OK);
    for (size_t j = 0; j < 8; j++)
        ck_assert_double_eq_tol(lf[j], ly[j], 1e-5 * ly[j]);
    ck_assert(max_offdiag_identity(zf, V - 1) < 1e-3);
    for (size_t i = 0; i < 8; i++) /* same subspace: |Zy Zf^T / (V-1)|_F^2 = 8 */
        for (size_t j = 0; j < 8; j++) {
            c[i * 8 + j] = ns_ica_dot_ff(zy->data + i * zy->stride, zf->data + j * zf->stride, V);
            fro += pow(c[i * 8 + j] / (double)(V - 1), 2);
        }
    ck_assert_double_eq_tol(fro, 8.0, 1e-4 * 8);
    ns_matrix_free(zy), ns_matrix_free(zf), ns_matrix_free(s);
    ns_ica_gpca_free(gy), ns_ica_gpca_free(gf);
    ns_rng_free(r);
}
END_TEST

/* |Za Zb^T / (V-1)|_F^2 for k whitened rows each: k when they span the
 * same subspace. */
static double subspace_fro(const ns_matrix *za, const ns_matrix *zb, size_t k)
{
    size_t V = za->cols;
    double fro = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            fro += pow(ns_ica_dot_ff(za->data + i * za->stride, zb->data + j * zb->stride, V) /
                           (double)(V - 1), 2);
    return fro;
}

/* The coefficients and adds of subjects i = 0..M-1 of the planted group in
 * a begun pass: whitened (y) or, factored, as their data and whitener. */
static void pass_subjects(ns_ica_gpca *g, const ns_matrix *s, size_t M, size_t T, size_t p,
                          int factored)
{
    for (size_t i = 0; i < M; i++) {
        ns_ica_spca sp;
        ns_ica_whitener w = {0};
        ns_matrix *y, *x = reduced_subject(s, T, p, i, factored, &sp, &w, &y);
        float *d;
        ck_assert_int_eq(ns_ica_gpca_power_coefs(g, x, &w, y, &d), NS_OK);
        ck_assert_int_eq(ns_ica_gpca_power_add(g, x, &w, y, d), NS_OK);
        free(d);
        ns_ica_spca_clear(&sp), ns_ica_whitener_clear(&w);
        ns_matrix_free(x), ns_matrix_free(y);
    }
}

/* One power iteration pass; with rr, ended by the Rayleigh-Ritz pass. */
static void power_pass(ns_ica_gpca *g, const ns_matrix *s, size_t M, size_t T, size_t p,
                       int factored, int rr)
{
    ck_assert_int_eq(ns_ica_gpca_power_begin(g), NS_OK);
    pass_subjects(g, s, M, T, p, factored);
    if (rr) {
        size_t m;
        ck_assert_int_eq(ns_ica_gpca_rr_begin(g), NS_OK);
        ck_assert_int_eq(ns_ica_gpca_power_begin(g), NS_ERR_ARG); /* Rayleigh-Ritz pending */
        if (ns_ica_gpca_power_rows(g, &m) && m)
            pass_subjects(g, s, M, T, p, factored);
    }
    ck_assert_int_eq(ns_ica_gpca_power_end(g), NS_OK);
}

/* MIGP kept to k rows (p = 20 whitened rows per subject: each step drops
 * 20) misses the stacked EVD's top-k subspace by 0.3 of a dimension; two
 * power iterations close it to ~1e-4 (asserted: to a quarter), fed y or
 * factored alike, and the eigenvalues move towards the exact ones. */
START_TEST(test_migp_power)
{
    size_t K = 8, k = 8, V = 3000, T = 40, p = 20, M = 8;
    ns_matrix *s = planted_sources(K, V, 27);
    ns_ica_gpca *ge = ns_ica_gpca_create(V, 0), *gm = ns_ica_gpca_create(V, k);
    ns_ica_gpca *gp = ns_ica_gpca_create(V, k), *gf = ns_ica_gpca_create(V, k);
    feed(ge, s, M, T, p, 0);
    feed(gm, s, M, T, p, 1);
    feed(gp, s, M, T, p, 1);
    feed(gf, s, M, T, p, 1);
    ck_assert_int_eq(ns_ica_gpca_power_add(gp, NULL, NULL, NULL, NULL), NS_ERR_ARG); /* not begun */
    for (int pass = 0; pass < 2; pass++) {
        power_pass(gp, s, M, T, p, 0, 0);
        power_pass(gf, s, M, T, p, 1, 0);
    }
    ns_matrix *ze, *zm, *zp, *zf;
    double le[8], lm[8], lp[8], lf[8];
    ck_assert_int_eq(ns_ica_gpca_result(ge, k, &ze, le, NULL, NULL), NS_OK);
    ck_assert_int_eq(ns_ica_gpca_result(gm, k, &zm, lm, NULL, NULL), NS_OK);
    ck_assert_int_eq(ns_ica_gpca_result(gp, k, &zp, lp, NULL, NULL), NS_OK);
    ck_assert_int_eq(ns_ica_gpca_result(gf, k, &zf, lf, NULL, NULL), NS_OK);
    ck_assert(max_offdiag_identity(zp, V - 1) < 1e-3);
    double miss_m = (double)k - subspace_fro(ze, zm, k), miss_p = (double)k - subspace_fro(ze, zp, k);
    ck_assert_msg(miss_m > 1e-2, "MIGP alone already exact (%g): the test cannot tell", miss_m);
    ck_assert_msg(miss_p < 0.25 * miss_m, "power iterations: %g of the subspace missed, MIGP %g",
                  miss_p, miss_m);
    double em = 0, ep = 0;
    for (size_t j = 0; j < k; j++) {
        em += fabs(lm[j] - le[j]) / le[j], ep += fabs(lp[j] - le[j]) / le[j];
        ck_assert_double_eq_tol(lf[j], lp[j], 1e-4 * lp[j]);
        ck_assert(j == 0 || lp[j] <= lp[j - 1]);
    }
    ck_assert_msg(ep < em, "eigenvalues: power %g, MIGP %g from the exact", ep, em);
    ck_assert_double_eq_tol(subspace_fro(zp, zf, k), (double)k, 1e-4 * k);
    ns_matrix_free(ze), ns_matrix_free(zm), ns_matrix_free(zp), ns_matrix_free(zf);
    ns_matrix_free(s);
    ns_ica_gpca_free(ge), ns_ica_gpca_free(gm), ns_ica_gpca_free(gp), ns_ica_gpca_free(gf);
}
END_TEST

/* One power iteration ended by Rayleigh-Ritz on span [Q; Z] (the default)
 * comes closer to the stacked EVD's top-k subspace than two plain power
 * iterations (each close to 1e-4 here: asserted closer than MIGP by 10x
 * and no further than the two), fed y or factored alike; its eigenvalues
 * are Ritz values, closer to the exact ones than the two iterations'
 * (1e-4 against 3e-3 summed relative errors here). */
START_TEST(test_migp_rayleigh_ritz)
{
    size_t K = 8, k = 8, V = 3000, T = 40, p = 20, M = 8;
    ns_matrix *s = planted_sources(K, V, 27);
    ns_ica_gpca *g[5];
    for (int i = 0; i < 5; i++) {
        g[i] = ns_ica_gpca_create(V, i ? k : 0); /* exact, MIGP, 2 power, rr y, rr factored */
        feed(g[i], s, M, T, p, i > 0);
    }
    ck_assert_int_eq(ns_ica_gpca_rr_begin(g[3]), NS_ERR_ARG); /* no power iteration */
    power_pass(g[2], s, M, T, p, 0, 0);
    power_pass(g[2], s, M, T, p, 0, 0);
    power_pass(g[3], s, M, T, p, 0, 1);
    power_pass(g[4], s, M, T, p, 1, 1);
    ns_matrix *z[5];
    double l[5][8], miss[5], err[5] = {0};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(ns_ica_gpca_result(g[i], k, &z[i], l[i], NULL, NULL), NS_OK);
        miss[i] = (double)k - subspace_fro(z[0], z[i], k);
        for (size_t j = 0; j < k; j++)
            err[i] += fabs(l[i][j] - l[0][j]) / l[0][j];
    }
    ck_assert(max_offdiag_identity(z[3], V - 1) < 1e-3);
    ck_assert_msg(miss[1] > 1e-2, "MIGP alone already exact (%g): the test cannot tell", miss[1]);
    ck_assert_msg(miss[3] < 0.1 * miss[1] && miss[3] <= miss[2] + 1e-5,
                  "Rayleigh-Ritz missed %g of the subspace, 2 power iterations %g, MIGP %g",
                  miss[3], miss[2], miss[1]);
    ck_assert_msg(err[3] < err[2] && err[2] < err[1],
                  "eigenvalues: Rayleigh-Ritz %g, 2 power iterations %g, MIGP %g from the exact",
                  err[3], err[2], err[1]);
    for (size_t j = 0; j < k; j++) {
        ck_assert_double_eq_tol(l[4][j], l[3][j], 1e-4 * l[3][j]);
        ck_assert(j == 0 || l[3][j] <= l[3][j - 1]);
    }
    ck_assert_double_eq_tol(subspace_fro(z[3], z[4], k), (double)k, 1e-4 * k);
    for (int i = 0; i < 5; i++)
        ns_matrix_free(z[i]), ns_ica_gpca_free(g[i]);
    ns_matrix_free(s);
}
END_TEST

/* Identical subjects: MIGP's p rows span the stacked data, so Z = Q S stays
 * within Q; the Rayleigh-Ritz basis has no rows (the pass is skipped) and
 * the eigenvalues are MIGP's, M times one subject's (V-1) each. */
START_TEST(test_migp_rayleigh_ritz_within)
{
    size_t K = 6, V = 3000, T = 40, p = 10, M = 4;
    ns_matrix *s = planted_sources(K, V, 29);
    ns_ica_gpca *g = ns_ica_gpca_create(V, 2 * p);
    ns_ica_spca sp;
    ns_matrix *y, *x = reduced_subject(s, T, p, 0, 0, &sp, NULL, &y);
    for (size_t i = 0; i < M; i++)
        ck_assert_int_eq(ns_ica_gpca_add_white(g, y), NS_OK);
    ck_assert_int_eq(ns_ica_gpca_power_begin(g), NS_OK);
    for (size_t i = 0; i < M; i++) {
        float *d;
        ck_assert_int_eq(ns_ica_gpca_power_coefs(g, NULL, NULL, y, &d), NS_OK);
        ck_assert_int_eq(ns_ica_gpca_power_add(g, NULL, NULL, y, d), NS_OK);
        free(d);
    }
    size_t m = 1;
    ck_assert_int_eq(ns_ica_gpca_rr_begin(g), NS_OK);
    ck_assert_ptr_nonnull(ns_ica_gpca_power_rows(g, &m));
    ck_assert_uint_eq(m, 0);
    ck_assert_int_eq(ns_ica_gpca_power_end(g), NS_OK);
    ns_matrix *z;
    double l[10];
    ck_assert_int_eq(ns_ica_gpca_result(g, p, &z, l, NULL, NULL), NS_OK);
    for (size_t j = 0; j < p; j++) /* Y Y^T / (V-1) = I per subject */
        ck_assert_double_eq_tol(l[j], (double)M, 1e-4 * M);
    ck_assert(max_offdiag_identity(z, V - 1) < 1e-3);
    ns_ica_spca_clear(&sp);
    ns_matrix_free(x), ns_matrix_free(y), ns_matrix_free(z), ns_matrix_free(s);
    ns_ica_gpca_free(g);
}
END_TEST

/* The passes _refine_next orders for M subjects (distinct or all the same)
 * and npower power iterations, as a string ("PPR": two power passes, then
 * the Rayleigh-Ritz pass); each pass adds every subject. */
static void refine_schedule(size_t M, int same, int npower, char *out)
{
    size_t K = 8, V = 3000, T = 40, p = 20;
    ns_matrix *s = planted_sources(K, V, 27), *y[4];
    ns_ica_gpca *g = ns_ica_gpca_create(V, K); /* as test_migp_rayleigh_ritz */
    ns_ica_spca sp[4];
    ns_matrix *x[4];
    for (size_t i = 0; i < M; i++) {
        x[i] = reduced_subject(s, T, p, same ? 0 : i, 0, &sp[i], NULL, &y[i]);
        ck_assert_int_eq(ns_ica_gpca_add_white(g, y[i]), NS_OK);
    }
    ns_ica_gpca_pass next;
    size_t n = 0;
    ck_assert_int_eq(ns_ica_gpca_refine_next(g, npower, &next), NS_OK);
    for (; next != NS_GPCA_PASS_NONE && n < 8; n++) {
        out[n] = next == NS_GPCA_PASS_RR ? 'R' : 'P';
        for (size_t i = 0; i < M; i++) {
            float *d;
            ck_assert_int_eq(ns_ica_gpca_power_coefs(g, NULL, NULL, y[i], &d), NS_OK);
            ck_assert_int_eq(ns_ica_gpca_power_add(g, NULL, NULL, y[i], d), NS_OK);
            free(d);
        }
        ck_assert_int_eq(ns_ica_gpca_refine_next(g, npower, &next), NS_OK);
    }
    out[n] = 0;
    /* done: the rows are final, and asking again starts nothing */
    ck_assert_ptr_null(ns_ica_gpca_power_rows(g, NULL));
    ck_assert_int_eq(ns_ica_gpca_refine_next(g, npower, &next), NS_OK);
    ck_assert_int_eq(next, NS_GPCA_PASS_NONE);
    ns_matrix *z;
    ck_assert_int_eq(ns_ica_gpca_result(g, K, &z, NULL, NULL, NULL), NS_OK);
    ck_assert(max_offdiag_identity(z, V - 1) < 1e-3);
    for (size_t i = 0; i < M; i++) {
        ns_ica_spca_clear(&sp[i]);
        ns_matrix_free(x[i]), ns_matrix_free(y[i]);
    }
    ns_matrix_free(z), ns_matrix_free(s);
    ns_ica_gpca_free(g);
}

/* _refine_next: npower power passes then the Rayleigh-Ritz pass; none at
 * npower 0; no Rayleigh-Ritz pass when Z lies within Q (identical
 * subjects). */
START_TEST(test_migp_refine_schedule)
{
    char s[16];
    refine_schedule(3, 0, 1, s);
    ck_assert_str_eq(s, "PR");
    refine_schedule(3, 0, 2, s);
    ck_assert_str_eq(s, "PPR");
    refine_schedule(3, 0, 0, s);
    ck_assert_str_eq(s, "");
    refine_schedule(4, 1, 1, s);
    ck_assert_str_eq(s, "P");
}
END_TEST

/* -------------------------------------------------------------- ICA */

/* Z = whitened group PCA of M planted subjects. */
static ns_matrix *planted_group(size_t K, size_t V, size_t M, size_t T, size_t p, uint64_t seed,
                                ns_matrix **truth)
{
    *truth = planted_sources(K, V, seed);
    ns_ica_gpca *g = ns_ica_gpca_create(V, 2 * K);
    feed(g, *truth, M, T, p, 1);
    ns_matrix *z;
    ck_assert_int_eq(ns_ica_gpca_result(g, K, &z, NULL, NULL, NULL), NS_OK);
    ns_ica_gpca_free(g);
    return z;
}

static void check_recovery(ns_ica_algorithm alg)
{
    size_t K = 8, V = 6000;
    ns_matrix *truth, *z = planted_group(K, V, 4, 40, 12, 31, &truth), *est;
    ns_ica_opts o;
    ns_ica_opts_default(&o);
    o.algorithm = alg;
    o.seed = 7;
    double w[64];
    ns_ica_info info;
    ck_assert_int_eq(ns_ica_unmix(z, &o, w, &info), NS_OK);
    ck_assert_msg(info.converged, "not converged after %d iterations", info.iterations);
    ck_assert_int_eq(ns_ica_sources(z, w, K, &est), NS_OK);
    ns_ica_score sc;
    ck_assert_int_eq(ns_ica_match_score(truth, est, &sc), NS_OK);
    ck_assert_msg(sc.mean_r > 0.98 && sc.min_r > 0.95, "%s: mean %g min %g",
                  ns_ica_algorithm_name(alg), sc.mean_r, sc.min_r);
    for (size_t k = 0; k < K; k++) /* positive skew convention: same sign as truth */
        ck_assert_msg(sc.r[k] > 0, "component %zu flipped", k);
    double skew[8];
    ns_ica_row_skew(est, skew);
    for (size_t k = 0; k < K; k++)
        ck_assert(skew[k] > 0);
    ns_ica_score_clear(&sc);
    ns_matrix_free(z), ns_matrix_free(truth), ns_matrix_free(est);
}

START_TEST(test_infomax_recovers)
{
    check_recovery(NS_ICA_INFOMAX);
}
END_TEST

START_TEST(test_fastica_recovers)
{
    check_recovery(NS_ICA_FASTICA);
}
END_TEST

/* The warm start on every 4th voxel reaches the fixed point of all the
 * voxels: the same sources as FastICA on all voxels from the start, in
 * fewer full iterations; it stands down where a subsample would hold fewer
 * than 20 voxels per component. */
START_TEST(test_fastica_warm_start)
{
    size_t K = 8, V = 8400; /* the subsample's 2100 voxels: two column blocks too */
    ns_matrix *truth, *z = planted_group(K, V, 4, 40, 12, 31, &truth), *ew, *ef;
    ns_ica_opts o;
    ns_ica_opts_default(&o);
    o.algorithm = NS_ICA_FASTICA;
    o.seed = 7;
    o.tol = 1e-8;
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, K, V), 4);
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, K, 4 * 20 * K - 1), 1);
    /* from 64 components every 8th voxel, or every 4th where 8 leaves too few */
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, 63, 29238), 4);
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, 100, 29238), 8);
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, 100, 8 * 20 * 100 - 1), 4);
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, 100, 4 * 20 * 100 - 1), 1);
    o.subsample = 8; /* asked for: taken where it fits, whatever K */
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, K, V), 8);
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, K, 8 * 20 * K - 1), 1);
    o.subsample = 0;
    double ww[64], wf[64], w2[64];
    ns_ica_info iw, inf;
    int blas = ns_blas_threads(2); /* nor does the caller's BLAS setting matter */
    ck_assert_int_eq(ns_ica_unmix(z, &o, ww, &iw), NS_OK);
    ck_assert_int_eq(ns_blas_threads(blas), 2); /* restored */
    o.nthreads = 2; /* two column blocks or more, one per thread: the same bits */
    ck_assert_int_eq(ns_ica_unmix(z, &o, w2, &inf), NS_OK);
    ck_assert_mem_eq(ww, w2, sizeof ww);
    o.nthreads = 1;
    o.subsample = 1;
    ck_assert_uint_eq(ns_ica_fastica_stride(&o, K, V), 1);
    ck_assert_int_eq(ns_ica_unmix(z, &o, wf, &inf), NS_OK);
    ck_assert(iw.converged && inf.converged);
    ck_assert_int_gt(iw.warm_iterations, 0);
    ck_assert_int_eq(inf.warm_iterations, 0);
    ck_assert_int_lt(iw.iterations, inf.iterations);
    ck_assert_int_eq(ns_ica_sources(z, ww, K, &ew), NS_OK);
    ck_assert_int_eq(ns_ica_sources(z, wf, K, &ef), NS_OK);
    ns_ica_score sc;
    ck_assert_int_eq(ns_ica_match_score(ef, ew, &sc), NS_OK);
    ck_assert_msg(sc.min_r > 0.9999, "warm start vs all voxels: min |r| %g", sc.min_r);
    ns_ica_score_clear(&sc);
    /* Short of convergence, the subsample takes 7/8 of the limit and all
     * the voxels the rest: 14 + 2 of 16. */
    o.subsample = 0;
    o.tol = 1e-300;
    o.max_iter = 16;
    ck_assert_int_eq(ns_ica_unmix(z, &o, ww, &iw), NS_OK);
    ck_assert(!iw.converged);
    ck_assert_int_eq(iw.warm_iterations, 14);
    ck_assert_int_eq(iw.iterations, 2);
    ns_matrix_free(z), ns_matrix_free(truth), ns_matrix_free(ew), ns_matrix_free(ef);
}
END_TEST

/* Mixed directly (no PCA): Amari index of W A, and Infomax's constants. */
START_TEST(test_infomax_amari)
{
    size_t K = 5, V = 8000;
    ns_matrix *s = planted_sources(K, V, 41), *x = ns_matrix_create(K, V);
    ns_rng *r = ns_rng_create(2);
    double a[25], w[25], p[25];
    for (int i = 0; i < 25; i++)
        a[i] = ns_rng_normal(r);
    for (size_t i = 0; i < K; i++)
        for (size_t v = 0; v < V; v++) {
            double acc = 0;
            for (size_t k = 0; k < K; k++)
                acc += a[i * K + k] * NS_AT(s, k, v);
            NS_AT(x, i, v) = (float)acc;
        }
    ns_ica_opts o;
    ns_ica_opts_default(&o);
    ck_assert_int_eq(ns_ica_unmix(x, &o, w, NULL), NS_OK);
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++) {
            p[i * K + j] = 0;
            for (size_t k = 0; k < K; k++)
                p[i * K + j] += w[i * K + k] * a[k * K + j];
        }
    ck_assert_msg(ns_ica_amari(p, K) < 0.03, "Amari %g", ns_ica_amari(p, K));
    ns_rng_free(r);
    ns_matrix_free(s), ns_matrix_free(x);
}
END_TEST

START_TEST(test_same_seed_same_output)
{
    size_t K = 6, V = 4000;
    ns_matrix *truth, *z = planted_group(K, V, 3, 30, 10, 51, &truth);
    for (int alg = 0; alg < 2; alg++) {
        ns_ica_opts o;
        ns_ica_opts_default(&o);
        o.algorithm = (ns_ica_algorithm)alg;
        o.seed = 99;
        double w1[36], w2[36], w3[36];
        ck_assert_int_eq(ns_ica_unmix(z, &o, w1, NULL), NS_OK);
        ck_assert_int_eq(ns_ica_unmix(z, &o, w2, NULL), NS_OK);
        ck_assert_mem_eq(w1, w2, sizeof w1);
        o.seed = 100;
        ck_assert_int_eq(ns_ica_unmix(z, &o, w3, NULL), NS_OK);
        ck_assert_msg(memcmp(w1, w3, sizeof w1) != 0, "seed has no effect");
    }
    ns_matrix_free(z), ns_matrix_free(truth);
}
END_TEST

START_TEST(test_infomax_blowup_restarts)
{
    size_t K = 4, V = 3000;
    ns_matrix *truth, *z = planted_group(K, V, 2, 30, 8, 61, &truth);
    ns_ica_opts o;
    ns_ica_opts_default(&o);
    o.lrate = 20.0; /* far too large: weights explode, restarts shrink it */
    ns_ica_info info;
    double w[16];
    ns_status st = ns_ica_unmix(z, &o, w, &info);
    ck_assert(st == NS_OK || st == NS_ERR_NUMERIC);
    if (st == NS_OK)
        ck_assert_int_gt(info.restarts, 0);
    o.lrate = 1e9; /* each restart multiplies the rate by 0.9 until it is sane */
    st = ns_ica_unmix(z, &o, w, &info);
    ck_assert_int_eq(st, NS_OK);
    ck_assert_int_gt(info.restarts, 100);
    ck_assert(info.lrate <= 1e9 * pow(0.9, info.restarts) * (1 + 1e-9));
    ns_matrix_free(z), ns_matrix_free(truth);
}
END_TEST

/* --------------------------------------------------------------- ICASSO */

START_TEST(test_cluster_average_blocks)
{
    /* three clear groups of sizes 3, 2, 4 */
    int grp[9] = {0, 1, 2, 0, 2, 1, 2, 0, 2};
    double sim[81];
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++)
            sim[i * 9 + j] = i == j ? 1 : grp[i] == grp[j] ? 0.9 - 0.01 * (i + j) : 0.1;
    int lab[9];
    ck_assert_int_eq(ns_ica_cluster_average(sim, 9, 3, lab), NS_OK);
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++)
            ck_assert_int_eq(lab[i] == lab[j], grp[i] == grp[j]);
}
END_TEST

START_TEST(test_icasso_stable)
{
    size_t K = 6, V = 5000, R = 5;
    ns_matrix *truth, *z = planted_group(K, V, 4, 40, 10, 71, &truth), *est;
    for (int alg = 0; alg < 2; alg++) {
        ns_ica_opts o;
        ns_ica_opts_default(&o);
        o.algorithm = (ns_ica_algorithm)alg;
        o.seed = 5;
        ns_icasso ic;
        ck_assert_int_eq(ns_ica_icasso(z, &o, R, 2, &ic), NS_OK);
        ck_assert(ic.chosen_run < R);
        for (size_t k = 0; k < K; k++) {
            ck_assert_msg(ic.iq[k] >= 0.9, "Iq[%zu] = %g", k, ic.iq[k]);
            ck_assert_uint_eq(ic.cluster_size[k], R);
        }
        ck_assert_int_eq(ns_ica_sources(z, ic.w, K, &est), NS_OK);
        ns_ica_score sc;
        ck_assert_int_eq(ns_ica_match_score(truth, est, &sc), NS_OK);
        ck_assert(sc.mean_r > 0.98);
        ns_ica_score_clear(&sc);
        ns_matrix_free(est);
        /* parallel and serial runs give the same answer */
        ns_icasso ic1;
        ck_assert_int_eq(ns_ica_icasso(z, &o, R, 1, &ic1), NS_OK);
        ck_assert_mem_eq(ic.w, ic1.w, K * K * sizeof(double));
        ns_icasso_clear(&ic), ns_icasso_clear(&ic1);
    }
    ns_matrix_free(z), ns_matrix_free(truth);
}
END_TEST

/* Bootstrap ICASSO (icassoEst's 'bootstrap' and 'both'): the runs see
 * different resamples of the voxels, so they differ more from each other
 * than randomly initialised runs on the same data do, yet well-separated
 * sources stay stable and the chosen run finds them. */
START_TEST(test_icasso_bootstrap)
{
    size_t K = 6, V = 5000, R = 5;
    ns_matrix *truth, *z = planted_group(K, V, 4, 40, 10, 71, &truth), *est;
    double intra[3] = {0};
    for (int mode = 0; mode < 3; mode++) {
        ns_ica_opts o;
        ns_ica_opts_default(&o);
        o.seed = 5;
        o.icasso_mode = (ns_icasso_mode)mode;
        ns_icasso ic, ic1;
        ck_assert_int_eq(ns_ica_icasso(z, &o, R, 2, &ic), NS_OK);
        for (size_t k = 0; k < K; k++) {
            ck_assert_msg(ic.iq[k] >= 0.9, "mode %d: Iq[%zu] = %g", mode, k, ic.iq[k]);
            intra[mode] += ic.intra[k] / (double)K;
        }
        ck_assert_int_eq(ns_ica_sources(z, ic.w, K, &est), NS_OK);
        ns_ica_score sc;
        ck_assert_int_eq(ns_ica_match_score(truth, est, &sc), NS_OK);
        ck_assert_msg(sc.mean_r > 0.98, "mode %d: mean |r| %g", mode, sc.mean_r);
        ns_ica_score_clear(&sc);
        ns_matrix_free(est);
        ck_assert_int_eq(ns_ica_icasso(z, &o, R, 1, &ic1), NS_OK); /* same with 1 thread */
        ck_assert_mem_eq(ic.w, ic1.w, K * K * sizeof(double));
        ns_icasso_clear(&ic), ns_icasso_clear(&ic1);
    }
    ck_assert_msg(intra[1] < intra[0] && intra[2] < intra[0],
                  "intra-cluster similarity randinit %.9f bootstrap %.9f both %.9f", intra[0],
                  intra[1], intra[2]);
    ck_assert_msg(intra[0] - intra[1] > 1e-6, "bootstrap runs barely differ: %.3g",
                  intra[0] - intra[1]);
    ns_matrix_free(z), ns_matrix_free(truth);
}
END_TEST

/* --------------------------------------------------- back-reconstruction */

/* The group model of the subjects fed to g: its top K components z (and
 * eigenvalues), their unmixing w by alg and the group maps. */
static void group_model(ns_ica_gpca *g, size_t K, ns_ica_algorithm alg, ns_matrix **z,
                        double *eig, double *w, ns_matrix **maps)
{
    ck_assert_int_eq(ns_ica_gpca_result(g, K, z, eig, NULL, NULL), NS_OK);
    ns_ica_opts o;
    ns_ica_opts_default(&o);
    o.algorithm = alg;
    ck_assert_int_eq(ns_ica_unmix(*z, &o, w, NULL), NS_OK);
    ck_assert_int_eq(ns_ica_sources(*z, w, K, maps), NS_OK);
}

START_TEST(test_backreconstruction)
{
    size_t K = 6, V = 5000, T = 60, p = 12, M = 4;
    ns_matrix *s = planted_sources(K, V, 81);
    ns_ica_gpca *g = ns_ica_gpca_create(V, 0);
    ns_matrix *x[4], *y[4];
    ns_ica_spca sp[4];
    double *tc[4];
    for (size_t i = 0; i < M; i++) {
        tc[i] = malloc(T * K * sizeof(double));
        x[i] = planted_subject(s, T, 0.3, 200 + i, tc[i]);
        ck_assert_int_eq(ns_ica_preprocess(x[i], NS_ICA_PRE_TIMEMEAN, "s"), NS_OK);
        ck_assert_int_eq(ns_ica_subject_pca(x[i], p, "s", &sp[i], &y[i]), NS_OK);
        ck_assert_int_eq(ns_ica_gpca_add(g, y[i]), NS_OK);
    }
    ns_matrix *z, *maps;
    double eig[6], w[36], a[36];
    group_model(g, K, NS_ICA_INFOMAX, &z, eig, w, &maps);
    { /* a = inverse of w by Gauss-Jordan (independent of the library) */
        /* Gauss-Jordan on a 6x6 copy */
        double m[72];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 12; j++)
                m[i * 12 + j] = j < 6 ? w[i * 6 + j] : (j - 6 == i);
        for (int c = 0; c < 6; c++) {
            int piv = c;
            for (int r2 = c; r2 < 6; r2++)
                if (fabs(m[r2 * 12 + c]) > fabs(m[piv * 12 + c]))
                    piv = r2;
            for (int j = 0; j < 12; j++) {
                double t = m[c * 12 + j];
                m[c * 12 + j] = m[piv * 12 + j], m[piv * 12 + j] = t;
            }
            double d = m[c * 12 + c];
            for (int j = 0; j < 12; j++)
                m[c * 12 + j] /= d;
            for (int r2 = 0; r2 < 6; r2++)
                if (r2 != c) {
                    double f = m[r2 * 12 + c];
                    for (int j = 0; j < 12; j++)
                        m[r2 * 12 + j] -= f * m[c * 12 + j];
                }
        }
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                a[i * 6 + j] = m[i * 12 + 6 + j];
    }
    ns_ica_group_model gm = {.k = K, .v = V, .z = z, .geig = eig, .w = w, .a = a, .maps = maps};
    for (int method = 0; method < 3; method++) {
        for (size_t i = 0; i < M; i++) {
            ns_ica_subject_result res;
            ck_assert_int_eq(ns_ica_backreconstruct(&gm, (ns_ica_backrecon)method, x[i], &sp[i],
                                                    y[i], &res),
                             NS_OK);
            ns_ica_scale_subject(&res, maps);
            /* timecourses: T x K -> K x T rows for matching */
            ns_matrix *est = ns_matrix_create(K, T), *tru = ns_matrix_create(K, T);
            for (size_t t = 0; t < T; t++)
                for (size_t k = 0; k < K; k++) {
                    NS_AT(est, k, t) = (float)res.tc[t * K + k];
                    NS_AT(tru, k, t) = (float)tc[i][t * K + k];
                }
            ns_ica_score sc;
            ck_assert_int_eq(ns_ica_match_score(tru, est, &sc), NS_OK);
            ck_assert_msg(sc.mean_r > 0.97, "%s tc r %g", ns_ica_backrecon_name(method),
                          sc.mean_r);
            ns_ica_score_clear(&sc);
            ck_assert_int_eq(ns_ica_match_score(s, res.maps, &sc), NS_OK);
            ck_assert_msg(sc.mean_r > 0.97, "%s map r %g", ns_ica_backrecon_name(method),
                          sc.mean_r);
            for (size_t k = 0; k < K; k++)
                ck_assert(sc.r[k] > 0);
            ns_ica_score_clear(&sc);
            ns_matrix_free(est), ns_matrix_free(tru);
            ns_ica_subject_result_clear(&res);
        }
    }
    for (size_t i = 0; i < M; i++) {
        ns_matrix_free(x[i]), ns_matrix_free(y[i]);
        ns_ica_spca_clear(&sp[i]);
        free(tc[i]);
    }
    ns_matrix_free(z), ns_matrix_free(maps), ns_matrix_free(s);
    ns_ica_gpca_free(g);
}
END_TEST

/* Largest |a - b| over n floats, relative to the largest |b|. */
static double rel_diff_f(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i])), m = fmax(m, fabs((double)b[i]));
    return d / m;
}

static double rel_diff_d(const double *a, const double *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i])), m = fmax(m, fabs(b[i]));
    return d / m;
}

/* GICA from the factored form (the centred data and whitener, y never
 * formed) gives GICA from y up to float rounding, on raw data with voxel
 * baselines of 1e3 +- 1e2 and p close to T; dual regression, which takes
 * the data, is refused there. */
START_TEST(test_backreconstruction_factored)
{
    size_t K = 5, V = 4000, T = 30, p = 28, M = 3;
    ns_matrix *s = planted_sources(K, V, 91), *x[3], *xf[3], *y[3];
    ns_ica_spca sp[3], spf[3];
    ns_ica_whitener wh[3];
    ns_ica_gpca *g = ns_ica_gpca_create(V, 0);
    ns_rng *r = ns_rng_create(92);
    double tc[30 * 5];
    for (size_t i = 0; i < M; i++) {
        x[i] = planted_subject(s, T, 0.5, 300 + i, tc);
        for (size_t v = 0; v < V; v++) {
            float b = (float)(1e3 + 1e2 * ns_rng_uniform(r));
            for (size_t t = 0; t < T; t++)
                NS_AT(x[i], t, v) += b;
        }
        ck_assert_int_eq(ns_ica_preprocess(x[i], NS_ICA_PRE_TIMEMEAN, "s"), NS_OK);
        xf[i] = ns_matrix_copy(x[i]);
        ck_assert_int_eq(ns_ica_subject_pca(x[i], p, "s", &sp[i], &y[i]), NS_OK);
        ck_assert_int_eq(ns_ica_subject_whitener(xf[i], p, "s", &spf[i], &wh[i]), NS_OK);
        ck_assert_int_eq(ns_ica_gpca_add(g, y[i]), NS_OK);
    }
    ns_matrix *z, *maps;
    double eig[5], w[25], a[25];
    group_model(g, K, NS_ICA_FASTICA, &z, eig, w, &maps);
    ck_assert_int_eq(ns_ica_pinv(w, K, K, a), NS_OK);
    ns_ica_group_model gm = {.k = K, .v = V, .z = z, .geig = eig, .w = w, .a = a, .maps = maps};
    for (int method = NS_ICA_BR_GICA1; method <= NS_ICA_BR_GICA3; method++)
        for (size_t i = 0; i < M; i++) {
            ns_ica_subject_result ry, rf;
            ck_assert_int_eq(ns_ica_backreconstruct(&gm, (ns_ica_backrecon)method, NULL, &sp[i],
                                                    y[i], &ry),
                             NS_OK);
            ck_assert_int_eq(ns_ica_backreconstruct_factored(&gm, (ns_ica_backrecon)method,
                                                             &spf[i], &wh[i], xf[i], &rf),
                             NS_OK);
            double dm = rel_diff_f(rf.maps->data, ry.maps->data, K * V);
            double dt = rel_diff_d(rf.tc, ry.tc, T * K);
            ck_assert_msg(dm < 1e-5 && dt < 1e-5, "%s subject %zu: maps %g, timecourses %g",
                          ns_ica_backrecon_name(method), i, dm, dt);
            ns_ica_subject_result_clear(&ry), ns_ica_subject_result_clear(&rf);
        }
    ns_ica_subject_result rd;
    ck_assert_int_eq(ns_ica_backreconstruct_factored(&gm, NS_ICA_BR_DR, &spf[0], &wh[0], xf[0],
                                                     &rd),
                     NS_ERR_ARG);
    ck_assert_ptr_null(rd.maps);
    for (size_t i = 0; i < M; i++) {
        ns_matrix_free(x[i]), ns_matrix_free(xf[i]), ns_matrix_free(y[i]);
        ns_ica_spca_clear(&sp[i]), ns_ica_spca_clear(&spf[i]);
        ns_ica_whitener_clear(&wh[i]);
    }
    ns_matrix_free(z), ns_matrix_free(maps), ns_matrix_free(s);
    ns_ica_gpca_free(g);
    ns_rng_free(r);
}
END_TEST

START_TEST(test_component_names)
{
    char b[32];
    ns_ica_component_name(25, 0, b, sizeof b);
    ck_assert_str_eq(b, "ica25c01");
    ns_ica_component_name(100, 6, b, sizeof b);
    ck_assert_str_eq(b, "ica100c007");
    ns_ica_component_name(8, 7, b, sizeof b);
    ck_assert_str_eq(b, "ica8c8");
}
END_TEST

/* The vectorised rows against libm, at every length up to three vectors
 * (tails), over [-100, 100] (clamped exp range) and at exactly 0. */
/* Rows of every length 1..40 (vector tails) against libm. */
static void check_fastmath_rows(float *r, float *u, float *y)
{
    for (size_t n = 1; n <= 40; n++) {
        double g_sum = 0, y_sum = 0;
        for (size_t j = 0; j < n; j++) {
            float x = j == 3 ? 0.0f : (float)(-100.0 + 200.0 * (double)((j * 37 + n * 11) % 97) / 96.0 / (1 + (j % 5)));
            r[j] = u[j] = x;
        }
        float gp = ns_ica_tanh_row(r, n);
        float ys = ns_ica_logistic_row(u, y, n, 0.25f);
        for (size_t j = 0; j < n; j++) {
            double x = (double)u[j] - 0.25, t = tanh(x), l = 1.0 - 2.0 / (1.0 + exp(-(x + 0.25)));
            ck_assert_msg(fabs(r[j] - t) < 1e-6, "tanh(%g) = %.9g, libm %.9g", x, r[j], t);
            ck_assert_msg(fabs(y[j] - l) < 1e-6, "logistic(%g) = %.9g, libm %.9g", x, y[j], l);
            g_sum += 1.0 - t * t;
            y_sum += l;
        }
        ck_assert_msg(fabs(gp - g_sum) < 1e-5 * (double)n, "n %zu: sum g' %g vs %g", n, gp, g_sum);
        ck_assert_msg(fabs(ys - y_sum) < 1e-5 * (double)n, "n %zu: sum y %g vs %g", n, ys, y_sum);
    }
}

/* Every vector width the CPU has (SSE2 4, AVX2 8, AVX-512 16 floats). */
START_TEST(test_fastmath_rows)
{
    float r[40], u[40], y[40];
    for (int cap = 4; cap <= 16; cap *= 2) {
        ns_ica_fastmath_cap(cap);
        ck_assert_int_le(ns_ica_fastmath_lanes(), cap);
        check_fastmath_rows(r, u, y);
    }
    ns_ica_fastmath_cap(16);
}
END_TEST

static Suite *ica_suite(void)
{
    Suite *s = suite_create("ica");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hungarian_brute_force);
    tcase_add_test(tc, test_match_score_permuted);
    tcase_add_test(tc, test_amari);
    tcase_add_test(tc, test_mask_rule);
    tcase_add_test(tc, test_sums_lane_order);
    tcase_add_test(tc, test_preprocess_options);
    tcase_add_test(tc, test_subject_pca_whitening);
    tcase_add_test(tc, test_subject_pca_large_baseline);
    tcase_add_test(tc, test_sym_orth_polar);
    tcase_add_test(tc, test_migp_vs_stacked);
    tcase_add_test(tc, test_migp_power);
    tcase_add_test(tc, test_migp_rayleigh_ritz);
    tcase_add_test(tc, test_migp_rayleigh_ritz_within);
    tcase_add_test(tc, test_migp_refine_schedule);
    tcase_add_test(tc, test_migp_white_block);
    tcase_add_test(tc, test_migp_factored);
    tcase_add_test(tc, test_infomax_recovers);
    tcase_add_test(tc, test_fastica_recovers);
    tcase_add_test(tc, test_fastica_warm_start);
    tcase_add_test(tc, test_infomax_amari);
    tcase_add_test(tc, test_same_seed_same_output);
    tcase_add_test(tc, test_infomax_blowup_restarts);
    tcase_add_test(tc, test_cluster_average_blocks);
    tcase_add_test(tc, test_icasso_stable);
    tcase_add_test(tc, test_icasso_bootstrap);
    tcase_add_test(tc, test_backreconstruction);
    tcase_add_test(tc, test_backreconstruction_factored);
    tcase_add_test(tc, test_component_names);
    tcase_add_test(tc, test_fastmath_rows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ns_test_run(ica_suite());
}
