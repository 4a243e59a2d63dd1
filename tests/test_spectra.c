/* requires: spectra */
/* spectra numerics on matrices we generate: group gradients sum to G, the
 * thin-QR route against LAPACK's SVD of the formed G, the matrix_rank rule
 * on known-rank matrices, effective rank, power iteration against the best
 * rank-r truncation, permutation-test calibration, BH, SVG output. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ns_test.h"
#include "spectra/spectra.h"
#include "spectra/spectra_int.h" /* spectra_format, sv_hqr_*, sv_small_sv_* */

static ns_matrix *randn(ns_rng *r, size_t rows, size_t cols)
{
    ns_matrix *m = ns_matrix_create(rows, cols);
    for (size_t i = 0; i < rows * cols; i++)
        m->data[i] = (float)ns_rng_normal(r);
    return m;
}

/* Small integers in [-3, 3]: products and sums stay exact in float. */
static ns_matrix *randint(ns_rng *r, size_t rows, size_t cols)
{
    ns_matrix *m = ns_matrix_create(rows, cols);
    for (size_t i = 0; i < rows * cols; i++)
        m->data[i] = (float)ns_rng_below(r, 7) - 3.0f;
    return m;
}

/* rows x cols of rank exactly k, also in float: (rows x k)(k x cols) of
 * small integers. */
static ns_matrix *low_rank(ns_rng *r, size_t rows, size_t cols, size_t k)
{
    ns_matrix *u = randint(r, rows, k), *v = randint(r, k, cols), *m = ns_matrix_create(rows, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, (int)k, 1, u->data,
                (int)k, v->data, (int)cols, 0, m->data, (int)cols);
    ns_matrix_free(u);
    ns_matrix_free(v);
    return m;
}

/* Reference: G = D_g^T A_g in double by a plain loop, its singular values
 * by LAPACKE_dgesdd (independent of the module). Returns min(h_out, h_in). */
static size_t ref_sv(const ns_matrix *A, const ns_matrix *D, const int *rg, int g, double *sv)
{
    size_t hi = A->cols, ho = D->cols;
    double *G = calloc(hi * ho, sizeof *G);
    for (size_t r = 0; r < A->rows; r++) {
        if (g >= 0 && rg[r] != g)
            continue;
        for (size_t i = 0; i < ho; i++)
            for (size_t j = 0; j < hi; j++)
                G[i * hi + j] += (double)NS_AT(D, r, i) * NS_AT(A, r, j);
    }
    double u, vt; /* row-major ho x hi = column-major hi x ho: same singular values */
    if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)hi, (int)ho, G, (int)hi, sv, &u, 1, &vt, 1))
        abort();
    free(G);
    return ho < hi ? ho : hi;
}

START_TEST(test_groups_sum_to_g)
{
    ns_rng *r = ns_rng_create(1);
    ns_matrix *A = randn(r, 40, 30), *D = randn(r, 40, 20);
    ns_matrix *G = ns_matrix_create(20, 30), *Gg = ns_matrix_create(20, 30);
    ns_matrix *S = ns_matrix_create(20, 30);
    int rg[40];
    for (int i = 0; i < 40; i++)
        rg[i] = (int)ns_rng_below(r, 3);
    ck_assert_int_eq(ns_spectra_group_gradient(A, D, NULL, NS_SPECTRA_ALL, G), NS_OK);
    for (int g = 0; g < 3; g++) {
        ck_assert_int_eq(ns_spectra_group_gradient(A, D, rg, g, Gg), NS_OK);
        for (size_t i = 0; i < 600; i++)
            S->data[i] += Gg->data[i];
    }
    /* G against an independent D^T A by sgemm */
    ns_matrix *ref = ns_matrix_create(20, 30);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 20, 30, 40, 1, D->data, 20, A->data, 30, 0,
                ref->data, 30);
    double num = 0, den = 0, num2 = 0;
    for (size_t i = 0; i < 600; i++) {
        num += pow(S->data[i] - G->data[i], 2);
        num2 += pow(ref->data[i] - G->data[i], 2);
        den += pow(G->data[i], 2);
    }
    ck_assert_double_lt(sqrt(num / den), 1e-6);
    ck_assert_double_lt(sqrt(num2 / den), 1e-6);
    ns_matrix_free(A); ns_matrix_free(D); ns_matrix_free(G); ns_matrix_free(Gg);
    ns_matrix_free(S); ns_matrix_free(ref);
    ns_rng_free(r);
}
END_TEST

/* Every route and precision against LAPACK's SVD of the formed G, for
 * shapes with n below, between and above the widths, all rows and a group. */
START_TEST(test_qr_route_matches_svd)
{
    size_t shapes[][3] = {{32, 300, 60}, {12, 50, 80}, {40, 30, 7}, {90, 20, 15}, {5, 64, 2},
                          {5, 100, 120}};
    ns_rng *r = ns_rng_create(2);
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        size_t n = shapes[c][0], hi = shapes[c][1], ho = shapes[c][2];
        ns_matrix *A = randn(r, n, hi), *D = randn(r, n, ho);
        int *rg = malloc(n * sizeof *rg);
        for (size_t i = 0; i < n; i++)
            rg[i] = (int)(i % 3 == 0);
        for (int g = -1; g <= 1; g++) {
            double ref[300], sv[300];
            size_t k = ref_sv(A, D, rg, g, ref);
            for (int pl = 0; pl < 4; pl++) { /* precision x (our kernels, LAPACK only) */
                int prec = pl % 2;
                ns_spectra_ws *ws = ns_spectra_ws_create(4, 4, 4, prec); /* grows on demand */
                if (pl >= 2)
                    ws->simd = 0;
                for (int method = 1; method <= 2; method++) {
                    ns_spectra_stats st;
                    ck_assert_int_eq(ns_spectra_grad_sv(ws, A, D, rg, g, method, sv, &st), NS_OK);
                    size_t ng = g < 0 ? n : (size_t)(g ? (n + 2) / 3 : n - (n + 2) / 3);
                    ck_assert_uint_eq(st.rows, ng);
                    ck_assert_uint_eq(st.rank, ng < k ? ng : k);
                    for (size_t i = 0; i < st.nsv && i < k; i++) {
                        /* f64: 1e-5 relative per value; f32: 1e-5 of sigma_1 + 1e-5 relative */
                        double tol = prec ? 1e-5 * ref[i] + 1e-12 * ref[0] : 1e-5 * (ref[i] + ref[0]);
                        ck_assert_msg(fabs(sv[i] - ref[i]) <= tol,
                                      "shape %zu group %d prec %d method %d sv %zu: %g vs %g", c, g,
                                      prec, method, i, sv[i], ref[i]);
                    }
                }
                ns_spectra_ws_free(ws);
            }
        }
        /* the batch and both groups from one factorisation */
        for (int pl = 0; pl < 4; pl++) {
            int prec = pl % 2;
            ns_spectra_ws *ws = ns_spectra_ws_create(n, hi, ho, prec);
            if (pl >= 2)
                ws->simd = 0; /* the route without our kernels (CPUs without AVX2) */
            size_t ld = hi < ho ? hi : ho;
            double *all = malloc(3 * (ld > n ? ld : n) * sizeof *all), ref[300];
            ns_spectra_stats st[3];
            ck_assert_int_eq(ns_spectra_grad_sv_groups(ws, A, D, rg, 2, NS_SPECTRA_QR, all, ld, st), NS_OK);
            for (int g = -1; g <= 1; g++) {
                ref_sv(A, D, rg, g, ref);
                for (size_t i = 0; i < st[g + 1].nsv; i++)
                    ck_assert_msg(fabs(all[(size_t)(g + 1) * ld + i] - ref[i]) <= 1e-5 * (ref[i] + (prec ? 0 : ref[0])),
                                  "groups: shape %zu group %d value %zu", c, g, i);
            }
            /* singular values of A's rows by group, against the gathered rows' own SVD */
            ck_assert_int_eq(ns_spectra_matrix_sv_groups(ws, A, rg, 2, all, ld > n ? ld : n, st), NS_OK);
            double one[300];
            ns_spectra_stats s1;
            ck_assert_int_eq(ns_spectra_matrix_sv(ws, A, rg, 1, one, &s1), NS_OK);
            ck_assert_uint_eq(s1.nsv, st[2].nsv);
            for (size_t i = 0; i < s1.nsv; i++)
                ck_assert_double_le(fabs(all[2 * (ld > n ? ld : n) + i] - one[i]), 1e-5 * one[0]);
            free(all);
            ns_spectra_ws_free(ws);
        }
        free(rg);
        ns_matrix_free(A);
        ns_matrix_free(D);
    }
    ns_rng_free(r);
}
END_TEST

/* Column-major m x n test matrices for the R-factor kernel: random, of rank
 * k (product of m x k and k x n, k < n), with a zero column, scaled by 1e-38
 * (subnormal floats) and by 1e30. */
static void hqr_case(ns_rng *r, int kind, size_t m, size_t n, size_t k, double *x)
{
    for (size_t i = 0; i < m * n; i++)
        x[i] = ns_rng_normal(r);
    if (kind == 1) {
        double *u = malloc(m * k * sizeof *u), *v = malloc(k * n * sizeof *v);
        for (size_t i = 0; i < m * k; i++)
            u[i] = (double)ns_rng_below(r, 7) - 3;
        for (size_t i = 0; i < k * n; i++)
            v[i] = (double)ns_rng_below(r, 7) - 3;
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1, u, (int)m,
                    v, (int)k, 0, x, (int)m);
        free(u);
        free(v);
    }
    if (kind == 2)
        memset(x + m * (n / 2), 0, m * sizeof *x);
    for (size_t i = 0; kind >= 3 && i < m * n; i++)
        x[i] = (double)(float)(x[i] * (kind == 3 ? 1e-38 : 1e30));
    for (size_t i = 0; i < m * n; i++)
        x[i] = (double)(float)x[i]; /* the kernel takes values of float matrices */
}

/* Singular values (descending) of the k x n upper trapezoid R (leading dim ld). */
static void r_sv(const double *R, size_t k, size_t n, size_t ld, double *sv)
{
    double *c = malloc(k * n * sizeof *c), u, vt;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < k; i++)
            c[i + j * k] = R[i + j * ld];
    if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)k, (int)n, c, (int)k, sv, &u, 1, &vt, 1))
        abort();
    free(c);
}

/* The Householder R-factor kernel of the QR route (plain C and AVX2, float
 * and double) against LAPACK's geqrf: the same R up to the signs of its rows
 * when x has full column rank, and in every case the singular values of x
 * (LAPACK's SVD in double) within 1e-5 of sigma_1 and the same numerical
 * rank, including rank-deficient, zero-column, subnormal and huge inputs. */
START_TEST(test_hqr_kernel)
{
    struct { int kind; size_t m, n, k; } cases[] = {
        {0, 1378, 32, 0}, {0, 300, 17, 0}, {0, 40, 40, 0}, {0, 20, 33, 0}, {0, 64, 5, 0},
        {1, 200, 32, 6}, {1, 50, 40, 1}, {2, 100, 12, 11}, {3, 80, 16, 0}, {4, 80, 16, 0}};
    ns_rng *r = ns_rng_create(11);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t m = cases[c].m, n = cases[c].n, kmin = m < n ? m : n;
        double *x = malloc(m * n * sizeof *x), *ref = malloc(m * n * sizeof *ref);
        double *sv_ref = malloc(kmin * sizeof *sv_ref), *sv = malloc(kmin * sizeof *sv);
        double *R = malloc(kmin * n * sizeof *R), *tau = malloc(kmin * sizeof *tau);
        float *xf = malloc(m * n * sizeof *xf), *Rf = malloc(kmin * n * sizeof *Rf);
        hqr_case(r, cases[c].kind, m, n, cases[c].k, x);
        memcpy(ref, x, m * n * sizeof *x);
        double u, vt, *tmp = malloc(m * n * sizeof *tmp);
        memcpy(tmp, x, m * n * sizeof *x);
        ck_assert_int_eq(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)m, (int)n, tmp, (int)m, sv_ref,
                                        &u, 1, &vt, 1), 0);
        ck_assert_int_eq(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)m, (int)n, ref, (int)m, tau), 0);
        size_t rank_ref = 0;
        for (size_t i = 0; i < kmin; i++)
            rank_ref += sv_ref[i] > sv_ref[0] * (double)(m > n ? m : n) * FLT_EPSILON;
        for (int prec = 0; prec < 2; prec++)
            for (int simd = 0; simd <= 1; simd++) /* plain C, AVX2 (when the CPU has it) */ {
                if (prec) {
                    memcpy(tmp, x, m * n * sizeof *x);
                    sv_hqr_f64(tmp, m, n, m, R, kmin, simd);
                } else {
                    for (size_t i = 0; i < m * n; i++)
                        xf[i] = (float)x[i];
                    sv_hqr_f32(xf, m, n, m, Rf, kmin, simd);
                    for (size_t i = 0; i < kmin * n; i++)
                        R[i] = Rf[i];
                }
                double tol = (prec ? 1e-12 : 1e-5) * sv_ref[0];
                int full = cases[c].kind != 1 && cases[c].kind != 2;
                for (size_t i = 0; full && i < kmin; i++) {
                    double s = (R[i + i * kmin] < 0) == (ref[i + i * m] < 0) ? 1 : -1;
                    for (size_t j = 0; j < n; j++) {
                        double want = j >= i ? ref[i + j * m] : 0;
                        ck_assert_msg(fabs(s * R[i + j * kmin] - want) <= tol,
                                      "case %zu prec %d simd %d R[%zu][%zu] %g vs geqrf %g", c, prec,
                                      simd, i, j, R[i + j * kmin], want);
                    }
                }
                r_sv(R, kmin, n, kmin, sv);
                size_t rank = 0;
                for (size_t i = 0; i < kmin; i++) {
                    ck_assert_msg(fabs(sv[i] - sv_ref[i]) <= tol, "case %zu prec %d simd %d sv %zu: "
                                  "%g vs %g", c, prec, simd, i, sv[i], sv_ref[i]);
                    rank += sv[i] > sv[0] * (double)(m > n ? m : n) * FLT_EPSILON;
                }
                ck_assert_msg(rank == rank_ref, "case %zu prec %d simd %d: rank %zu vs %zu", c,
                              prec, simd, rank, rank_ref);
                if (cases[c].kind == 1)
                    ck_assert_uint_eq(rank, cases[c].k);
            }
        free(x); free(ref); free(sv_ref); free(sv); free(R); free(tau); free(xf); free(Rf);
        free(tmp);
    }
    ns_rng_free(r);
}
END_TEST

/* The small-matrix singular values (our bidiagonalisation + LAPACK's bdsqr)
 * against LAPACK's gesdd in double, plain C and AVX2, float and double:
 * square, tall, wide, vectors, rank-deficient (rank 3 of 20 x 20: the
 * numerical rank must match), zero, and graded (singular values 1 .. 1e-6,
 * which double must resolve to 1e-5 relative each). */
START_TEST(test_small_sv_kernel)
{
    struct { int kind; size_t m, n; } cases[] = {
        {0, 32, 32}, {0, 16, 16}, {0, 7, 30}, {0, 30, 7}, {0, 1, 5}, {0, 5, 1}, {0, 64, 2},
        {0, 2, 64}, {0, 1, 1}, {1, 20, 20}, {2, 9, 6}, {3, 24, 24}};
    ns_rng *r = ns_rng_create(12);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t m = cases[c].m, n = cases[c].n, k = m < n ? m : n;
        double *x = malloc(m * n * sizeof *x), *tmp = malloc(m * n * sizeof *tmp), u, vt;
        double *ref = malloc(k * sizeof *ref), *sd = malloc(k * sizeof *sd);
        float *xf = malloc(m * n * sizeof *xf), *sf = malloc(k * sizeof *sf);
        double *wd = malloc(sv_small_lwork(m, n) * sizeof *wd);
        float *wf = malloc(sv_small_lwork(m, n) * sizeof *wf);
        if (cases[c].kind == 1) {
            ns_matrix *lr = low_rank(r, m, n, 3);
            for (size_t i = 0; i < m * n; i++)
                x[i] = lr->data[i];
            ns_matrix_free(lr);
        } else if (cases[c].kind == 3) { /* Q1 diag(10^(-6 i / (k-1))) Q2 from two QRs */
            double *q1 = malloc(m * m * sizeof *q1), *q2 = malloc(n * n * sizeof *q2), t[64];
            for (size_t i = 0; i < m * m; i++)
                q1[i] = ns_rng_normal(r);
            for (size_t i = 0; i < n * n; i++)
                q2[i] = ns_rng_normal(r);
            LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)m, (int)m, q1, (int)m, t);
            LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)m, (int)m, (int)m, q1, (int)m, t);
            LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)n, (int)n, q2, (int)n, t);
            LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)n, (int)n, (int)n, q2, (int)n, t);
            for (size_t j = 0; j < k; j++)
                for (size_t i = 0; i < m; i++)
                    q1[i + j * m] *= pow(10, -6.0 * (double)j / (double)(k - 1));
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1, q1,
                        (int)m, q2, (int)n, 0, x, (int)m);
            free(q1);
            free(q2);
        } else {
            for (size_t i = 0; i < m * n; i++)
                x[i] = cases[c].kind == 2 ? 0 : ns_rng_normal(r);
        }
        for (size_t i = 0; i < m * n; i++)
            x[i] = (double)(float)x[i];
        memcpy(tmp, x, m * n * sizeof *x);
        ck_assert_int_eq(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)m, (int)n, tmp, (int)m, ref, &u,
                                        1, &vt, 1), 0);
        for (int simd = 0; simd <= 1; simd++) /* plain C, AVX2 (when the CPU has it) */ {
            memcpy(tmp, x, m * n * sizeof *x);
            ck_assert_int_eq(sv_small_sv_f64(tmp, m, n, m, sd, wd, simd), 0);
            for (size_t i = 0; i < m * n; i++)
                xf[i] = (float)x[i];
            ck_assert_int_eq(sv_small_sv_f32(xf, m, n, m, sf, wf, simd), 0);
            size_t rank_ref = 0, rank_f = 0;
            for (size_t i = 0; i < k; i++) {
                ck_assert_msg(fabs(sd[i] - ref[i]) <= 1e-5 * ref[i] + 1e-13 * ref[0],
                              "case %zu simd %d f64 sv %zu: %.10g vs %.10g", c, simd, i, sd[i], ref[i]);
                ck_assert_msg(fabs(sf[i] - ref[i]) <= 1e-5 * (ref[i] + ref[0]),
                              "case %zu simd %d f32 sv %zu: %.8g vs %.8g", c, simd, i, sf[i], ref[i]);
                double tol = (double)(m > n ? m : n) * FLT_EPSILON;
                rank_ref += ref[i] > ref[0] * tol;
                rank_f += sf[i] > sf[0] * tol;
            }
            ck_assert_msg(rank_f == rank_ref, "case %zu simd %d: rank %zu vs %zu", c, simd, rank_f,
                          rank_ref);
            if (cases[c].kind == 1)
                ck_assert_uint_eq(rank_f, 3);
        }
        free(x); free(tmp); free(ref); free(sd); free(xf); free(sf); free(wd); free(wf);
    }
    ns_rng_free(r);
}
END_TEST

/* NaN, Inf or float overflow in A: an error from both routes (with and
 * without our kernels), never NaN values with NS_OK. */
START_TEST(test_nonfinite)
{
    ns_rng *r = ns_rng_create(13);
    float bad[3] = {NAN, INFINITY, 3e38f};
    for (int b = 0; b < 3; b++)
        for (int lapack = 0; lapack < 2; lapack++) {
            ns_matrix *A = randn(r, 32, 300), *D = randn(r, 32, 60);
            A->data[77] = bad[b];
            int rg[32];
            for (int i = 0; i < 32; i++)
                rg[i] = i % 2;
            ns_spectra_ws *ws = ns_spectra_ws_create(32, 300, 60, NS_SPECTRA_F32);
            if (lapack)
                ws->simd = 0;
            double sv[3 * 60];
            ns_spectra_stats st[3];
            ns_status s = ns_spectra_grad_sv_groups(ws, A, D, rg, 2, NS_SPECTRA_QR, sv, 60, st);
            if (s == NS_OK) /* LAPACK's route lets Inf through; then no NaN may be reported as OK */
                ck_assert_msg(lapack && b > 0, "bad value %d: NS_OK from our kernels", b);
            else
                ck_assert_int_eq(s, NS_ERR_NUMERIC);
            ns_spectra_ws_free(ws);
            ns_matrix_free(A);
            ns_matrix_free(D);
        }
    ns_rng_free(r);
}
END_TEST

START_TEST(test_numerical_rank_rule)
{
    /* the rule itself: tol = sigma_1 max(m, n) eps */
    double sv[4] = {2.0, 1e-3, 2.0 * 10 * FLT_EPSILON * 1.01, 2.0 * 10 * FLT_EPSILON * 0.99};
    ns_spectra_stats st;
    ns_spectra_stats_from_sv(sv, 4, 10, 7, FLT_EPSILON, &st);
    ck_assert_uint_eq(st.rank, 3);
    ck_assert_double_eq_tol(st.tol, 2.0 * 10 * FLT_EPSILON, 1e-15);
    ns_spectra_stats_from_sv(sv, 4, 10, 7, DBL_EPSILON, &st);
    ck_assert_uint_eq(st.rank, 4);
    /* known-rank gradients: A of rank k gives G of rank k, both precisions */
    ns_rng *r = ns_rng_create(3);
    size_t ks[] = {1, 3, 7, 19};
    for (size_t c = 0; c < 4; c++) {
        ns_matrix *A = low_rank(r, 50, 40, ks[c]), *D = randn(r, 50, 30);
        double s[40];
        for (int pl = 0; pl < 4; pl++) {
            int prec = pl % 2;
            ns_spectra_ws *ws = ns_spectra_ws_create(50, 40, 30, prec);
            if (pl >= 2)
                ws->simd = 0;
            for (int method = 1; method <= 2; method++) {
                ck_assert_int_eq(ns_spectra_grad_sv(ws, A, D, NULL, NS_SPECTRA_ALL, method, s, &st), NS_OK);
                ck_assert_msg(st.rank == ks[c], "rank %zu expected %zu (prec %d, method %d)",
                              st.rank, ks[c], prec, method);
            }
            ck_assert_int_eq(ns_spectra_matrix_sv(ws, A, NULL, NS_SPECTRA_ALL, s, &st), NS_OK);
            ck_assert_uint_eq(st.rank, ks[c]);
            ns_spectra_ws_free(ws);
        }
        ns_matrix_free(A);
        ns_matrix_free(D);
    }
    ns_rng_free(r);
}
END_TEST

START_TEST(test_effective_rank)
{
    double flat[5] = {3, 3, 3, 3, 3}, one[3] = {4, 0, 0}, z[2] = {0, 0};
    ns_spectra_stats st;
    ns_spectra_stats_from_sv(flat, 5, 5, 5, DBL_EPSILON, &st);
    ck_assert_double_eq_tol(st.effrank, 5, 1e-12);
    ck_assert_double_eq_tol(st.nuclear, 15, 1e-12);
    ck_assert_double_eq_tol(st.sv1_share, 0.2, 1e-12);
    ns_spectra_stats_from_sv(one, 3, 3, 3, DBL_EPSILON, &st);
    ck_assert_double_eq_tol(st.effrank, 1, 1e-12);
    ck_assert_uint_eq(st.rank, 1);
    ns_spectra_stats_from_sv(z, 2, 2, 2, DBL_EPSILON, &st);
    ck_assert_uint_eq(st.rank, 0);
    ck_assert_double_eq(st.effrank, 0);
    /* p = (1/2, 1/4, 1/4): H = 1.5 ln 2 */
    double three[3] = {2, 1, 1};
    ns_spectra_stats_from_sv(three, 3, 3, 3, DBL_EPSILON, &st);
    ck_assert_double_eq_tol(st.effrank, exp(1.5 * log(2)), 1e-12);
    /* a round-off value below the rank tolerance does not count */
    double four[4] = {2, 1, 1, 1e-20};
    ns_spectra_stats_from_sv(four, 4, 4, 4, DBL_EPSILON, &st);
    ck_assert_uint_eq(st.rank, 3);
    ck_assert_double_eq_tol(st.effrank, exp(1.5 * log(2)), 1e-12);
}
END_TEST

/* ||G - L R^T||_F for G = D^T A (double). */
static double lowrank_err(const ns_matrix *A, const ns_matrix *D, const float *L, const float *R,
                          size_t r)
{
    size_t hi = A->cols, ho = D->cols;
    double e = 0;
    for (size_t i = 0; i < ho; i++)
        for (size_t j = 0; j < hi; j++) {
            double g = 0, lr = 0;
            for (size_t t = 0; t < A->rows; t++)
                g += (double)NS_AT(D, t, i) * NS_AT(A, t, j);
            for (size_t c = 0; c < r; c++)
                lr += (double)L[i * r + c] * R[j * r + c];
            e += (g - lr) * (g - lr);
        }
    return sqrt(e);
}

START_TEST(test_power_best_rank_r)
{
    ns_rng *rng = ns_rng_create(4);
    ns_matrix *A = randn(rng, 24, 50), *D = randn(rng, 24, 30);
    double ref[30], sigma[6];
    size_t k = ref_sv(A, D, NULL, -1, ref);
    size_t r = 6;
    float *L = malloc(30 * r * sizeof *L), *R = malloc(50 * r * sizeof *R);
    ns_spectra_power_ws *ws = ns_spectra_power_ws_create(24, 50, 30);
    ck_assert_int_eq(ns_spectra_power(A, D, r, 400, 0, 7, ws, L, R, sigma), NS_OK);
    double best = 0;
    for (size_t i = r; i < k; i++)
        best += ref[i] * ref[i];
    best = sqrt(best); /* Eckart-Young */
    double err = lowrank_err(A, D, L, R, r);
    ck_assert_msg(err <= best * (1 + 1e-3), "rank-%zu error %g, best %g", r, err, best);
    for (size_t j = 0; j < r; j++)
        ck_assert_msg(fabs(sigma[j] - ref[j]) <= 1e-3 * ref[j], "sigma %zu: %g vs %g", j, sigma[j], ref[j]);
    /* bit-identical with the same seed (every site repeats the same step) */
    float *L2 = malloc(30 * r * sizeof *L2), *R2 = malloc(50 * r * sizeof *R2);
    double sigma2[6];
    ck_assert_int_eq(ns_spectra_power(A, D, r, 400, 0, 7, NULL, L2, R2, sigma2), NS_OK);
    ck_assert_int_eq(memcmp(L, L2, 30 * r * sizeof *L), 0);
    ck_assert_int_eq(memcmp(R, R2, 50 * r * sizeof *R), 0);
    /* two-way: power iteration on the factors themselves reproduces the top 3 */
    ns_matrix Lm = ns_matrix_view(L, 30, r, r), Rm = ns_matrix_view(R, 50, r, r);
    double s3[3];
    ck_assert_int_eq(ns_spectra_power_factors(&Lm, &Rm, 3, 400, 0, 9, ws, L2, R2, s3), NS_OK);
    for (size_t j = 0; j < 3; j++)
        ck_assert_msg(fabs(s3[j] - ref[j]) <= 1e-3 * ref[j], "two-way sigma %zu: %g vs %g", j, s3[j], ref[j]);
    free(L); free(R); free(L2); free(R2);
    ns_spectra_power_ws_free(ws);
    ns_matrix_free(A); ns_matrix_free(D);
    ns_rng_free(rng);
}
END_TEST

/* Asking for more components than G's rank: exactly r columns, the extra
 * ones zero, and L R^T reproduces G. */
START_TEST(test_power_rank_deficient)
{
    ns_rng *rng = ns_rng_create(5);
    ns_matrix *A = low_rank(rng, 30, 40, 3), *D = randn(rng, 30, 20);
    size_t r = 5;
    float L[20 * 5], R[40 * 5];
    double sigma[5], ref[20];
    ref_sv(A, D, NULL, -1, ref);
    ck_assert_int_eq(ns_spectra_power(A, D, r, 300, 1e-7, 11, NULL, L, R, sigma), NS_OK);
    for (int j = 0; j < 3; j++)
        ck_assert_double_gt(sigma[j], 0);
    ck_assert_double_eq(sigma[3], 0);
    ck_assert_double_eq(sigma[4], 0);
    for (int i = 0; i < 20; i++)
        ck_assert(L[i * 5 + 3] == 0 && L[i * 5 + 4] == 0);
    ck_assert_double_lt(lowrank_err(A, D, L, R, r), 1e-4 * ref[0]);
    ns_matrix_free(A); ns_matrix_free(D);
    ns_rng_free(rng);
}
END_TEST

/* Rank 1 exactly, asked for more than G has and more than h_out: the
 * components past the rank must come back zero (found by dist's rank-dAD:
 * two D columns that cancel, h_out 2, r 2, seeds 2 and 3 gave sigma_2 =
 * sigma_1 and L R^T = 2 G; h_out 8, r 16 gave noise). */
START_TEST(test_power_past_rank)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        ns_rng *rng = ns_rng_create(seed);
        ns_matrix *A = randn(rng, 7, 9), *D = ns_matrix_create(7, 2);
        for (size_t i = 0; i < 7; i++)
            NS_AT(D, i, 0) = (float)ns_rng_normal(rng), NS_AT(D, i, 1) = -NS_AT(D, i, 0);
        float L[2 * 2], R[9 * 2];
        double sigma[2], ref[2];
        ref_sv(A, D, NULL, -1, ref);
        ck_assert_int_eq(ns_spectra_power(A, D, 2, 200, 0, seed, NULL, L, R, sigma), NS_OK);
        ck_assert_double_lt(fabs(sigma[0] - ref[0]), 1e-4 * ref[0]);
        ck_assert_double_eq(sigma[1], 0);
        ck_assert_double_lt(lowrank_err(A, D, L, R, 2), 1e-4 * ref[0]);
        ns_matrix_free(A);
        ns_matrix_free(D);
        ns_rng_free(rng);
    }
}
END_TEST

/* Null data: values i.i.d. across groups within each block. About 5 % of
 * tests reject at 0.05 (binomial 400 x 0.05: mean 20, sd 4.4; accept
 * 6..36, ~ +-3.5 sd). */
START_TEST(test_perm_calibrated)
{
    ns_rng *rng = ns_rng_create(6);
    enum { TESTS = 400, BLOCKS = 16, PER = 4 };
    double v[BLOCKS * PER], pvals[TESTS];
    int g[BLOCKS * PER], b[BLOCKS * PER], pos = 0;
    for (int t = 0; t < TESTS; t++) {
        for (int i = 0; i < BLOCKS * PER; i++) {
            b[i] = i / PER;
            g[i] = t % 2 ? i % 2 : i % PER % 3; /* 2 groups, or 3 groups unbalanced */
            v[i] = ns_rng_normal(rng) + 0.7 * b[i]; /* block effects do not matter */
        }
        double stat, p;
        ck_assert_int_eq(ns_spectra_perm_test(v, g, b, BLOCKS * PER, t % 2 ? 2 : 3, 199,
                                              ns_seed_derive(6, (uint64_t)t), &stat, &p, NULL), NS_OK);
        ck_assert(p > 0 && p <= 1);
        pvals[t] = p;
        pos += p <= 0.05;
    }
    ck_assert_msg(pos >= 6 && pos <= 36, "%d of %d null tests rejected at 0.05", pos, TESTS);
    /* BH on null p-values: very few survive */
    double q[TESTS];
    ck_assert_int_eq(ns_spectra_bh(pvals, TESTS, q), NS_OK);
    int sig = 0;
    for (int t = 0; t < TESTS; t++)
        sig += q[t] <= 0.05;
    ck_assert_int_le(sig, 8);
    /* power: a shift of one sd in group 1 over 16 blocks is detected */
    for (int i = 0; i < BLOCKS * PER; i++) {
        g[i] = i % 2;
        v[i] = ns_rng_normal(rng) + (g[i] ? 1.0 : 0.0);
    }
    double stat, p, diff;
    ck_assert_int_eq(ns_spectra_perm_test(v, g, b, BLOCKS * PER, 2, 999, 1, &stat, &p, &diff), NS_OK);
    ck_assert_double_lt(p, 0.01);
    ck_assert_double_gt(diff, 0.3);
    ns_rng_free(rng);
}
END_TEST

START_TEST(test_bh)
{
    /* hand-computed: sorted p 0.01 0.03 0.04 0.5 (m = 4): p m / rank =
     * 0.04, 0.06, 0.0533, 0.5; running minimum from the top */
    double p[5] = {0.04, 0.01, NAN, 0.5, 0.03}, q[5];
    ck_assert_int_eq(ns_spectra_bh(p, 5, q), NS_OK);
    ck_assert_double_eq_tol(q[1], 0.04, 1e-12);
    ck_assert_double_eq_tol(q[4], 0.16 / 3, 1e-12);
    ck_assert_double_eq_tol(q[0], 0.16 / 3, 1e-12);
    ck_assert_double_eq_tol(q[3], 0.5, 1e-12);
    ck_assert(isnan(q[2]));
}
END_TEST

START_TEST(test_svg)
{
    double x[4] = {1, 2, 3, 4}, y1[4] = {1, 2, NAN, 3}, y2[4] = {4, 3, 2, 1}, sd[4] = {.1, .1, .1, .1};
    ns_spectra_series s[2] = {{"SZ <patients>", x, y1, NULL, 4}, {"HC & co", x, y2, sd, 4}};
    char *svg = NULL;
    ck_assert_int_eq(ns_spectra_svg_lines("fc0: sigma_1", "epoch", "value", s, 2, 0, 0, 0, &svg), NS_OK);
    ck_assert(strncmp(svg, "<svg ", 5) == 0);
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
    ck_assert_ptr_nonnull(strstr(svg, "SZ &lt;patients&gt;"));
    ck_assert_ptr_nonnull(strstr(svg, "HC &amp; co"));
    ck_assert_ptr_null(strstr(svg, "<script"));
    int lines = 0;
    for (const char *p = svg; (p = strstr(p, "<polyline")); p++)
        lines++;
    ck_assert_int_eq(lines, 3); /* the NaN splits the first line */
    ck_assert_ptr_nonnull(strstr(svg, "<polygon"));
    free(svg);
    char path[600];
    snprintf(path, sizeof path, "%s/plot.svg", ns_test_tmpdir());
    ck_assert_int_eq(ns_spectra_svg_write(path, "t", "x", "y", s, 2, 1), NS_OK);
    ck_assert(ns_file_exists(path));
}
END_TEST

/* The TSV number writer: integers exact, 9 significant digits otherwise. */
START_TEST(test_format)
{
    char buf[64];
    ns_rng *r = ns_rng_create(8);
    for (int i = 0; i < 20000; i++) {
        double v = ns_rng_normal(r) * pow(10, (double)ns_rng_below(r, 60) - 30);
        spectra_format(buf, v);
        double back = strtod(buf, NULL);
        ck_assert_msg(fabs(back - v) <= 5.1e-9 * fabs(v), "%.17g -> %s", v, buf);
        float f = (float)v; /* float32 values round-trip exactly */
        spectra_format(buf, f);
        ck_assert_msg((float)strtod(buf, NULL) == f, "%.9g -> %s", f, buf);
    }
    double exact[] = {0, 1, 7, 32, 1378, 123456789012.0, -4};
    for (int i = 0; i < 7; i++) {
        spectra_format(buf, exact[i]);
        char want[64];
        snprintf(want, sizeof want, "%.0f", exact[i]);
        ck_assert_str_eq(buf, want);
    }
    /* the nearest 9-digit decimal, as printf's %.8e rounds it (denormals,
     * huge values and the ends of the mantissa range included) */
    double edge[] = {4.9e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 9.9999999949999e5,
                     9.99999999500001e5, 1.00000000499999, 1e-5, 0.1, 3.4028234663852886e38};
    for (int i = 0; i < 20009; i++) {
        double v = i < 9 ? edge[i] : ns_rng_normal(r) * pow(10, (double)ns_rng_below(r, 600) - 300);
        char want[64];
        if (v == floor(v) && fabs(v) < 1e15)
            continue; /* integers are written exactly (above) */
        spectra_format(buf, v);
        snprintf(want, sizeof want, "%.8e", v);
        ck_assert_msg(strtod(buf, NULL) == strtod(want, NULL), "%.17g -> %s, printf %s", v, buf, want);
    }
    spectra_format(buf, 0.5);
    ck_assert_str_eq(buf, "5e-01");
    spectra_format(buf, 9.9999999999);
    ck_assert_double_eq(strtod(buf, NULL), 10);
    spectra_format(buf, NAN);
    ck_assert_str_eq(buf, "n/a");
    ns_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spectra");
    TCase *tc = tcase_create("numerics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_groups_sum_to_g);
    tcase_add_test(tc, test_qr_route_matches_svd);
    tcase_add_test(tc, test_hqr_kernel);
    tcase_add_test(tc, test_small_sv_kernel);
    tcase_add_test(tc, test_nonfinite);
    tcase_add_test(tc, test_numerical_rank_rule);
    tcase_add_test(tc, test_effective_rank);
    tcase_add_test(tc, test_power_best_rank_r);
    tcase_add_test(tc, test_power_rank_deficient);
    tcase_add_test(tc, test_power_past_rank);
    tcase_add_test(tc, test_perm_calibrated);
    tcase_add_test(tc, test_bh);
    tcase_add_test(tc, test_svg);
    tcase_add_test(tc, test_format);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
