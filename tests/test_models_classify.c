/* models, classical part: optimality (KKT) of logistic regression and SVM
 * fits checked from first principles, stratified folds, nested CV isolation
 * (instrumented), metrics on hand-checked confusion matrices, permutation
 * p-values on null data, ANOVA F against the t statistic, the
 * principal-angle kernel against an SVD of Qa^T Qb, selection.
 * requires: models */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <lapacke.h>

#include "models/models.h"
#include "ns_test.h"

/* n x p normal features; y = 1 when x w + noise > 0. */
static void make_data(uint64_t seed, size_t n, size_t p, const double *w, double noise,
                      double *x, int *y)
{
    ns_rng *r = ns_rng_create(seed);
    for (size_t i = 0; i < n; i++) {
        double z = 0;
        for (size_t j = 0; j < p; j++) {
            x[i * p + j] = ns_rng_normal(r);
            z += w ? w[j] * x[i * p + j] : 0;
        }
        y[i] = z + noise * ns_rng_normal(r) > 0;
    }
    ns_rng_free(r);
}

static double sigm(double z) { return 1 / (1 + exp(-z)); }

/* Gradient of C sum loss (without the penalty) at the saved coefficients. */
static void loss_gradient(const double *x, const int *y, size_t n, size_t p, const double *w,
                          double b, double C, double *g, double *gb)
{
    memset(g, 0, p * sizeof *g);
    *gb = 0;
    for (size_t i = 0; i < n; i++) {
        double z = b;
        for (size_t j = 0; j < p; j++)
            z += w[j] * x[i * p + j];
        double r = C * (sigm(z) - y[i]);
        for (size_t j = 0; j < p; j++)
            g[j] += r * x[i * p + j];
        *gb += r;
    }
}

static void fit_and_get(ns_clf_kind kind, double C, const double *x, const int *y, size_t n,
                        size_t p, double *w, double *b)
{
    ns_clf_params par;
    ns_clf_params_default(&par, kind);
    par.C = C;
    ns_clf *c = NULL;
    ck_assert_int_eq(ns_clf_create(&par, &c), NS_OK);
    ck_assert_int_eq(ns_clf_fit(c, x, n, p, y, 2), NS_OK);
    ns_npz *z = ns_npz_create();
    ck_assert_int_eq(ns_clf_save(c, z), NS_OK);
    const ns_array *coef = ns_npz_get(z, "coef"), *ic = ns_npz_get(z, "intercept");
    ck_assert_ptr_nonnull(coef);
    ck_assert_int_eq((int)coef->shape[1], (int)p);
    memcpy(w, coef->data, p * sizeof *w);
    *b = ((double *)ic->data)[0];
    ns_npz_free(z);
    ns_clf_free(c);
}

START_TEST(test_logreg_l2_stationary)
{
    size_t n = 80, p = 4;
    double x[320], w[4], b, g[4], gb, wt[4] = {1, -1, 0.5, 0};
    int y[80];
    make_data(1, n, p, wt, 0.7, x, y);
    fit_and_get(NS_CLF_LOGREG_L2, 0.5, x, y, n, p, w, &b);
    loss_gradient(x, y, n, p, w, b, 0.5, g, &gb);
    for (size_t j = 0; j < p; j++) /* d/dw (C sum loss + w^2/2) = 0 */
        ck_assert_double_eq_tol(g[j] + w[j], 0.0, 1e-5);
    ck_assert_double_eq_tol(gb, 0.0, 1e-5);
    ck_assert(w[0] > 0.3 && w[1] < -0.3);
}
END_TEST

START_TEST(test_logreg_separable)
{
    /* 1-D separable data: a large C gives a steep positive slope and perfect fit */
    double x[20];
    int y[20], pred[20];
    for (int i = 0; i < 20; i++) {
        x[i] = i < 10 ? -1.0 - i * 0.1 : 1.0 + (i - 10) * 0.1;
        y[i] = i >= 10;
    }
    ns_clf_params par;
    ns_clf_params_default(&par, NS_CLF_LOGREG_L2);
    par.C = 1e4;
    ns_clf *c = NULL;
    ck_assert_int_eq(ns_clf_create(&par, &c), NS_OK);
    ck_assert_int_eq(ns_clf_fit(c, x, 20, 1, y, 2), NS_OK);
    ck_assert_int_eq(ns_clf_predict(c, x, 20, pred), NS_OK);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(pred[i], y[i]);
    double d;
    double x0 = 0.0;
    ck_assert_int_eq(ns_clf_decision(c, &x0, 1, &d), NS_OK);
    ck_assert_double_eq_tol(d, 0.0, 0.05); /* symmetric data: boundary at 0 */
    ns_clf_free(c);
}
END_TEST

START_TEST(test_logreg_l1_subgradient)
{
    size_t n = 100, p = 6;
    double x[600], w[6], b, g[6], gb, wt[6] = {2, -1, 0, 0, 0.3, 0};
    int y[100], nzero = 0;
    make_data(2, n, p, wt, 0.5, x, y);
    fit_and_get(NS_CLF_LOGREG_L1, 0.05, x, y, n, p, w, &b);
    loss_gradient(x, y, n, p, w, b, 0.05, g, &gb);
    for (size_t j = 0; j < p; j++) {
        if (w[j] == 0) {
            ck_assert(fabs(g[j]) <= 1 + 1e-6); /* 0 in the subdifferential */
            nzero++;
        } else {
            ck_assert_double_eq_tol(g[j], w[j] > 0 ? -1.0 : 1.0, 1e-5);
        }
    }
    ck_assert_double_eq_tol(gb, 0.0, 1e-6);
    ck_assert_int_ge(nzero, 2); /* a small C zeroes the noise columns */
    ck_assert(w[0] > 0);
}
END_TEST

/* KKT conditions of the C-SVC dual from the saved dual coefficients and the
 * classifier's own decisions; for the linear kernel the decision is also
 * recomputed here from the support vectors. */
static void check_svm_kkt(ns_clf_kind kind)
{
    size_t n = 60, p = 3;
    double x[180], wt[3] = {1, 1, 0}, C = 1.0, dec[60];
    int y[60];
    make_data(3, n, p, wt, 0.8, x, y);
    ns_clf_params par;
    ns_clf_params_default(&par, kind);
    par.C = C;
    par.tol = 1e-6;
    ns_clf *c = NULL;
    ck_assert_int_eq(ns_clf_create(&par, &c), NS_OK);
    ck_assert_int_eq(ns_clf_fit(c, x, n, p, y, 2), NS_OK);
    ck_assert_int_eq(ns_clf_decision(c, x, n, dec), NS_OK);
    ns_npz *z = ns_npz_create();
    ck_assert_int_eq(ns_clf_save(c, z), NS_OK);
    const ns_array *dc = ns_npz_get(z, "dual_coef"), *sv = ns_npz_get(z, "support");
    const ns_array *svx = ns_npz_get(z, "support_vectors");
    double b = ((double *)ns_npz_get(z, "intercept")->data)[0];
    double *alpha = calloc(n, sizeof *alpha), sum = 0;
    size_t nsv = dc->shape[1];
    ck_assert(nsv > 0 && nsv < n);
    for (size_t t = 0; t < nsv; t++) {
        size_t i = (size_t)((int64_t *)sv->data)[t];
        double a = ((double *)dc->data)[t];
        alpha[i] = a * (y[i] ? 1 : -1);
        sum += a;
    }
    ck_assert_double_eq_tol(sum, 0.0, 1e-9);
    for (size_t i = 0; i < n; i++) {
        double m = (y[i] ? 1 : -1) * dec[i];
        ck_assert(alpha[i] >= -1e-12 && alpha[i] <= C + 1e-12);
        if (alpha[i] <= 1e-9)
            ck_assert_msg(m >= 1 - 1e-3, "alpha 0, margin %g", m);
        else if (alpha[i] >= C - 1e-9)
            ck_assert_msg(m <= 1 + 1e-3, "alpha C, margin %g", m);
        else
            ck_assert_msg(fabs(m - 1) <= 1e-3, "free alpha %g, margin %g", alpha[i], m);
    }
    if (kind == NS_CLF_SVM_LINEAR) { /* f(x_0) by hand from the support vectors */
        double f0 = b;
        for (size_t t = 0; t < nsv; t++) {
            double k = 0;
            for (size_t j = 0; j < p; j++)
                k += ((double *)svx->data)[t * p + j] * x[j];
            f0 += ((double *)dc->data)[t] * k;
        }
        ck_assert_double_eq_tol(f0, dec[0], 1e-9);
    }
    free(alpha);
    ns_npz_free(z);
    ns_clf_free(c);
}

START_TEST(test_svm_kkt_linear) { check_svm_kkt(NS_CLF_SVM_LINEAR); }
END_TEST
START_TEST(test_svm_kkt_rbf) { check_svm_kkt(NS_CLF_SVM_RBF); }
END_TEST

START_TEST(test_svm_precomputed_equals_linear)
{
    /* a linear kernel given as a matrix gives the same decisions: both
     * solved far below the default tolerance (1e-3, where the two kernels'
     * last-bit differences can steer SMO to a different point of the
     * tolerance region: 4e-6 apart on one machine), to one optimum */
    size_t n = 40, p = 3;
    double x[120], wt[3] = {1, -1, 0.5}, k[1600], d1[40], d2[40];
    int y[40];
    make_data(4, n, p, wt, 0.5, x, y);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            k[i * n + j] = 0;
            for (size_t t = 0; t < p; t++)
                k[i * n + j] += x[i * p + t] * x[j * p + t];
        }
    ns_clf_params a, b;
    ns_clf_params_default(&a, NS_CLF_SVM_LINEAR);
    ns_clf_params_default(&b, NS_CLF_SVM_PRECOMPUTED);
    a.tol = b.tol = 1e-10;
    ns_clf *ca = NULL, *cb = NULL;
    ck_assert_int_eq(ns_clf_create(&a, &ca), NS_OK);
    ck_assert_int_eq(ns_clf_create(&b, &cb), NS_OK);
    ck_assert_int_eq(ns_clf_fit(ca, x, n, p, y, 2), NS_OK);
    ck_assert_int_eq(ns_clf_fit(cb, k, n, n, y, 2), NS_OK);
    ck_assert_int_eq(ns_clf_decision(ca, x, n, d1), NS_OK);
    ck_assert_int_eq(ns_clf_decision(cb, k, n, d2), NS_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(d1[i], d2[i], 1e-8);
    ns_clf_free(ca);
    ns_clf_free(cb);
}
END_TEST

START_TEST(test_stratified_folds)
{
    enum { N = 53, K = 5 };
    int y[N], fold[N], fold2[N], cnt[3][K] = {{0}};
    for (int i = 0; i < N; i++)
        y[i] = i < 30 ? 0 : i < 47 ? 1 : 2;
    ck_assert_int_eq(ns_cv_stratified_folds(y, N, 3, K, 11, fold), NS_OK);
    for (int i = 0; i < N; i++) {
        ck_assert(fold[i] >= 0 && fold[i] < K); /* every row in exactly one fold */
        cnt[y[i]][fold[i]]++;
    }
    int size[K] = {0};
    for (int c = 0; c < 3; c++) {
        int lo = N, hi = 0;
        for (int f = 0; f < K; f++) {
            lo = cnt[c][f] < lo ? cnt[c][f] : lo;
            hi = cnt[c][f] > hi ? cnt[c][f] : hi;
            size[f] += cnt[c][f];
        }
        ck_assert_int_le(hi - lo, 1); /* stratified */
    }
    for (int f = 1; f < K; f++)
        ck_assert_int_le(abs(size[f] - size[0]), 1);
    ck_assert_int_eq(ns_cv_stratified_folds(y, N, 3, K, 11, fold2), NS_OK);
    ck_assert_int_eq(memcmp(fold, fold2, sizeof fold), 0); /* seeded */
    ck_assert_int_eq(ns_cv_stratified_folds(y, N, 3, K, 12, fold2), NS_OK);
    ck_assert_int_ne(memcmp(fold, fold2, sizeof fold), 0);
    ck_assert_int_ne(ns_cv_stratified_folds(y, 3, 3, 5, 1, fold2), NS_OK);
}
END_TEST

/* The observer records, per outer fold, every row a fit or selection saw. */
typedef struct {
    int folds;
    size_t n;
    unsigned char seen[5][200];
    int calls;
} watch;

static void observe(void *ctx, int fold, const size_t *rows, size_t nrows)
{
    watch *w = ctx;
    w->calls++;
    if (fold < 0 || fold >= w->folds)
        return;
    for (size_t i = 0; i < nrows; i++)
        w->seen[fold][rows[i]] = 1;
}

START_TEST(test_nested_cv_isolation)
{
    size_t n = 90, p = 12;
    double *x = malloc(n * p * sizeof *x), wt[12] = {1, 1, 1};
    int *y = malloc(n * sizeof *y);
    make_data(5, n, p, wt, 1.0, x, y);
    static watch w;
    memset(&w, 0, sizeof w);
    w.folds = 5;
    ns_cv_params cp;
    ns_cv_params_default(&cp);
    double cg[3] = {0.1, 1, 10};
    size_t kg[2] = {3, 6};
    cp.nested = 1;
    cp.c_grid = cg, cp.nc_grid = 3, cp.k_grid = kg, cp.nk_grid = 2;
    cp.sel.kind = NS_SEL_UNIVARIATE;
    cp.observer = observe;
    cp.observer_ctx = &w;
    ns_cv_result *r = NULL;
    ck_assert_int_eq(ns_cv_run(&cp, x, n, p, y, 2, &r), NS_OK);
    ck_assert_int_ge(w.calls, 5 * (1 + 6 * 3)); /* outer fits and every inner fit reported */
    for (size_t i = 0; i < n; i++)
        for (int f = 0; f < 5; f++)
            if (r->fold[i] == f)
                ck_assert_msg(!w.seen[f][i], "test row %zu seen by fold %d", i, f);
            else
                ck_assert(w.seen[f][i]); /* and the training rows were used */
    for (int f = 0; f < 5; f++)
        ck_assert(r->fold_k[f] == 3 || r->fold_k[f] == 6);
    ck_assert(r->overall.balanced_accuracy > 0.7);
    ns_cv_result_free(r);
    free(x);
    free(y);
}
END_TEST

START_TEST(test_metrics_binary)
{
    int yt[10] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1}, yp[10] = {0, 0, 0, 1, 1, 1, 1, 1, 0, 0};
    ns_metrics m;
    /* TP 4, FN 2, TN 3, FP 1 */
    ck_assert_int_eq(ns_metrics_compute(yt, yp, NULL, 10, 2, &m), NS_OK);
    ck_assert_double_eq_tol(m.accuracy, 0.7, 1e-12);
    ck_assert_double_eq_tol(m.sensitivity, 4.0 / 6, 1e-12);
    ck_assert_double_eq_tol(m.specificity, 3.0 / 4, 1e-12);
    ck_assert_double_eq_tol(m.balanced_accuracy, (4.0 / 6 + 3.0 / 4) / 2, 1e-12);
    ck_assert_double_eq_tol(m.f1, 8.0 / 11, 1e-12);
    ck_assert(m.confusion[0] == 3 && m.confusion[1] == 1 && m.confusion[2] == 2 &&
              m.confusion[3] == 4);
    ck_assert(isnan(m.auc));
    ns_metrics_clear(&m);
    /* sklearn's roc_auc_score doc example: 0.75; ties count one half */
    double s[4] = {0.1, 0.4, 0.35, 0.8}, t[2] = {0.5, 0.5};
    int pos[4] = {0, 0, 1, 1}, pos2[2] = {0, 1};
    ck_assert_double_eq_tol(ns_metrics_auc(s, pos, 4), 0.75, 1e-12);
    ck_assert_double_eq_tol(ns_metrics_auc(t, pos2, 2), 0.5, 1e-12);
}
END_TEST

START_TEST(test_metrics_multiclass)
{
    /* confusion rows true, columns predicted:
     *   [2 1 0]
     *   [0 3 1]
     *   [1 0 2] */
    int yt[10] = {0, 0, 0, 1, 1, 1, 1, 2, 2, 2}, yp[10] = {0, 0, 1, 1, 1, 1, 2, 2, 2, 0};
    double sc[30];
    for (int i = 0; i < 10; i++)
        for (int k = 0; k < 3; k++)
            sc[i * 3 + k] = yt[i] == k ? 0.9 : 0.05; /* perfect ranking: AUC 1 */
    ns_metrics m;
    ck_assert_int_eq(ns_metrics_compute(yt, yp, sc, 10, 3, &m), NS_OK);
    ck_assert_double_eq_tol(m.accuracy, 0.7, 1e-12);
    double rec = (2.0 / 3 + 3.0 / 4 + 2.0 / 3) / 3;
    ck_assert_double_eq_tol(m.balanced_accuracy, rec, 1e-12);
    ck_assert_double_eq_tol(m.sensitivity, rec, 1e-12);
    /* specificity per class: TN/(TN+FP): 6/7, 5/6, 6/7 */
    ck_assert_double_eq_tol(m.specificity, (6.0 / 7 + 5.0 / 6 + 6.0 / 7) / 3, 1e-12);
    /* F1 per class: 2TP/(2TP+FP+FN): 4/6, 6/8, 4/6 */
    ck_assert_double_eq_tol(m.f1, (4.0 / 6 + 6.0 / 8 + 4.0 / 6) / 3, 1e-12);
    ck_assert_double_eq_tol(m.auc, 1.0, 1e-12);
    ck_assert_int_eq((int)m.confusion[1 * 3 + 2], 1);
    ck_assert_int_eq((int)m.confusion[2 * 3 + 0], 1);
    ns_metrics_clear(&m);
}
END_TEST

START_TEST(test_permutation_null_uniform)
{
    enum { NDATA = 40, NPERM = 19 };
    size_t n = 30, p = 3;
    double x[90], pv[NDATA];
    int y[30];
    ns_cv_params cp;
    ns_cv_params_default(&cp);
    cp.folds = 3;
    for (int d = 0; d < NDATA; d++) {
        make_data(100 + (uint64_t)d, n, p, NULL, 1.0, x, y); /* labels independent of x */
        ns_cv_result *r = NULL;
        cp.seed = (uint64_t)d;
        ck_assert_int_eq(ns_cv_run(&cp, x, n, p, y, 2, &r), NS_OK);
        ck_assert_int_eq(ns_cv_permutation_test(&cp, x, n, p, y, 2, r->overall.balanced_accuracy,
                                                NPERM, 7 + (uint64_t)d, NULL, &pv[d]),
                         NS_OK);
        ns_cv_result_free(r);
    }
    /* ~uniform: mean near 1/2, few small p, Kolmogorov distance small */
    double mean = 0, ks = 0;
    int small = 0;
    for (int d = 0; d < NDATA; d++) {
        mean += pv[d] / NDATA;
        small += pv[d] <= 0.1;
        int below = 0;
        for (int e = 0; e < NDATA; e++)
            below += pv[e] <= pv[d];
        ks = fmax(ks, fabs((double)below / NDATA - pv[d]));
    }
    ck_assert_msg(mean > 0.35 && mean < 0.7, "mean p %g", mean);
    ck_assert_msg(small <= 10, "%d of %d null p-values <= 0.1", small, NDATA);
    ck_assert_msg(ks < 0.3, "KS distance %g", ks);
    /* and a real effect gets the smallest possible p */
    double wt[3] = {2, 0, 0}, p1;
    make_data(9, n, p, wt, 0.2, x, y);
    ns_cv_result *r = NULL;
    ck_assert_int_eq(ns_cv_run(&cp, x, n, p, y, 2, &r), NS_OK);
    ck_assert_int_eq(ns_cv_permutation_test(&cp, x, n, p, y, 2, r->overall.balanced_accuracy,
                                            NPERM, 3, NULL, &p1), NS_OK);
    ck_assert_double_eq_tol(p1, 1.0 / (NPERM + 1), 1e-12);
    ns_cv_result_free(r);
}
END_TEST

START_TEST(test_anova_is_t_squared)
{
    double x[12] = {1, 2, 3, 2.5, 1.5, 2, 4, 5, 3.5, 4.5, 6, 5}, f, pv;
    int y[12] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(ns_select_anova(x, 12, 1, y, 2, &f, &pv), NS_OK);
    double m0 = 0, m1 = 0, s0 = 0, s1 = 0;
    for (int i = 0; i < 6; i++)
        m0 += x[i] / 6, m1 += x[i + 6] / 6;
    for (int i = 0; i < 6; i++)
        s0 += (x[i] - m0) * (x[i] - m0), s1 += (x[i + 6] - m1) * (x[i + 6] - m1);
    double sp = (s0 + s1) / 10, t = (m1 - m0) / sqrt(sp * (1.0 / 6 + 1.0 / 6));
    ck_assert_double_eq_tol(f, t * t, 1e-10);
    /* the F p-value equals the two-sided t-test p-value (t with 10 df) */
    ck_assert_double_eq_tol(pv, 2 * gsl_cdf_tdist_Q(fabs(t), 10), 1e-12);
    double z[2] = {3, 3};
    int yz[2] = {0, 1};
    ck_assert_int_eq(ns_select_anova(z, 2, 1, yz, 2, &f, &pv), NS_OK);
    ck_assert_double_eq(f, 0.0); /* constant column */
    ck_assert_double_eq(pv, 1.0);
}
END_TEST

/* mean cos^2 of the principal angles by QR + SVD, column-major v x k maps */
static double angle_kernel_direct(const double *a, const double *b, size_t v, size_t k)
{
    double *qa = malloc(v * k * sizeof *qa), *qb = malloc(v * k * sizeof *qb), tau[16];
    memcpy(qa, a, v * k * sizeof *qa);
    memcpy(qb, b, v * k * sizeof *qb);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)v, (int)k, qa, (int)v, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)v, (int)k, (int)k, qa, (int)v, tau);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)v, (int)k, qb, (int)v, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)v, (int)k, (int)k, qb, (int)v, tau);
    double m[64], s[8], u[64], vt[64], sum = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            m[i + j * k] = 0;
            for (size_t t = 0; t < v; t++)
                m[i + j * k] += qa[t + i * v] * qb[t + j * v];
        }
    LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', (int)k, (int)k, m, (int)k, s, u, (int)k, vt, (int)k);
    for (size_t i = 0; i < k; i++) {
        ck_assert(s[i] <= 1 + 1e-10); /* cosines */
        sum += s[i] * s[i];
    }
    free(qa);
    free(qb);
    return sum / (double)k;
}

START_TEST(test_principal_angle_kernel)
{
    enum { NS = 6, V = 40, K = 3 };
    double *maps[NS], kern[NS * NS], sub[NS * NS], ev[NS];
    ns_rng *r = ns_rng_create(21);
    for (int s = 0; s < NS; s++) {
        maps[s] = malloc(V * K * sizeof(double));
        for (int i = 0; i < V * K; i++)
            maps[s][i] = ns_rng_normal(r) + (i < V ? 2.0 * sin(i) : 0); /* shared first map */
    }
    ns_rng_free(r);
    ns_subspace_set *set = NULL;
    ck_assert_int_eq(ns_subspace_set_create((const double *const *)maps, NS, V, K, &set), NS_OK);
    ck_assert_int_eq(ns_subspace_kernel(set, NULL, 0, kern), NS_OK);
    size_t comps[2] = {0, 2};
    ck_assert_int_eq(ns_subspace_kernel(set, comps, 2, sub), NS_OK);
    double two_a[V * 2], two_b[V * 2];
    for (int a = 0; a < NS; a++)
        for (int b = 0; b < NS; b++) {
            ck_assert_double_eq_tol(kern[a * NS + b], angle_kernel_direct(maps[a], maps[b], V, K),
                                    1e-9);
            for (int t = 0; t < V; t++) { /* components 0 and 2 only */
                two_a[t] = maps[a][t], two_a[V + t] = maps[a][2 * V + t];
                two_b[t] = maps[b][t], two_b[V + t] = maps[b][2 * V + t];
            }
            ck_assert_double_eq_tol(sub[a * NS + b], angle_kernel_direct(two_a, two_b, V, 2),
                                    1e-9);
        }
    /* the float constructor (one sgemm per subject) agrees */
    float *mf = malloc(NS * V * K * sizeof *mf);
    for (int s = 0; s < NS; s++)
        for (int i = 0; i < V * K; i++)
            mf[s * V * K + i] = (float)maps[s][i];
    ns_subspace_set *sf = NULL;
    double kf[NS * NS];
    ck_assert_int_eq(ns_subspace_set_create_f32(mf, NS, V, K, &sf), NS_OK);
    ck_assert_int_eq(ns_subspace_kernel(sf, NULL, 0, kf), NS_OK);
    for (int i = 0; i < NS * NS; i++)
        ck_assert_double_eq_tol(kf[i], kern[i], 1e-5);
    ns_subspace_set_free(sf);
    free(mf);
    /* positive semi-definite */
    ck_assert_int_eq(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', NS, kern, NS, ev), 0);
    ck_assert(ev[0] > -1e-10);
    ns_subspace_set_free(set);
    for (int s = 0; s < NS; s++)
        free(maps[s]);
}
END_TEST

START_TEST(test_ssfs_finds_domain)
{
    /* 4 domains of 5 columns; only domain 2 carries the signal */
    size_t n = 80, p = 20, *cols = NULL, nc = 0;
    double *x = malloc(n * p * sizeof *x), wt[20] = {0};
    int y[80], dom[20];
    for (int j = 10; j < 15; j++)
        wt[j] = 0.8;
    make_data(31, n, p, wt, 1.0, x, y);
    for (int j = 0; j < 20; j++)
        dom[j] = j / 5;
    ns_sel_params sp;
    ns_sel_params_default(&sp);
    sp.kind = NS_SEL_SSFS;
    sp.domain = dom;
    sp.ndomain = 4;
    ns_clf_params cl;
    ns_clf_params_default(&cl, NS_CLF_LOGREG_L2);
    ck_assert_int_eq(ns_select_fit(&sp, &cl, x, n, p, y, 2, &cols, &nc), NS_OK);
    ck_assert_int_ge((int)nc, 5);
    int in2 = 0;
    for (size_t t = 0; t < nc; t++)
        in2 += dom[cols[t]] == 2;
    ck_assert_int_eq(in2, 5); /* the whole signal domain is in */
    free(cols);
    /* univariate top-3 picks signal columns */
    sp.kind = NS_SEL_UNIVARIATE;
    sp.k = 3;
    ck_assert_int_eq(ns_select_fit(&sp, &cl, x, n, p, y, 2, &cols, &nc), NS_OK);
    ck_assert_int_eq((int)nc, 3);
    for (size_t t = 0; t < nc; t++)
        ck_assert(cols[t] >= 10 && cols[t] < 15);
    free(cols);
    free(x);
}
END_TEST

START_TEST(test_domains_from_names)
{
    const char *names[6] = {"ica25c03-ica50c12", "ica25c04-ica50c01", "ica25c01-ica25c02",
                            "alff_roi12", "alff_roi3", "age"};
    int dom[6], nd;
    char **dn;
    ck_assert_int_eq(ns_select_domains_from_names(names, 6, dom, &dn, &nd), NS_OK);
    ck_assert_int_eq(nd, 4);
    ck_assert_str_eq(dn[dom[0]], "ica25-ica50");
    ck_assert_int_eq(dom[0], dom[1]);
    ck_assert_str_eq(dn[dom[2]], "ica25-ica25");
    ck_assert_str_eq(dn[dom[3]], "alff_roi");
    ck_assert_int_eq(dom[3], dom[4]);
    ck_assert_str_eq(dn[dom[5]], "age");
    for (int d = 0; d < nd; d++)
        free(dn[d]);
    free(dn);
}
END_TEST

/* Networks run through the same CV; the hooks see every fit with its tag. */
typedef struct {
    int created[8], trained[8], inner;
} hook_count;

static ns_status on_created(void *ctx, void *nn, int tag)
{
    hook_count *h = ctx;
    ck_assert_ptr_nonnull(nn);
    if (tag >= 0 && tag < 8)
        h->created[tag]++;
    else if (tag == -2)
        h->inner++;
    return NS_OK;
}

static ns_status on_trained(void *ctx, void *nn, int tag)
{
    hook_count *h = ctx;
    ck_assert_int_eq(ns_nn_nclass(nn), 2);
    if (tag >= 0 && tag < 8)
        h->trained[tag]++;
    return NS_OK;
}

START_TEST(test_network_in_cv_with_hooks)
{
    size_t n = 60, p = 5;
    double x[300], wt[5] = {2, -2, 0, 0, 0};
    int y[60];
    make_data(41, n, p, wt, 0.3, x, y);
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    ck_assert_int_eq(ns_nn_spec_parse("mlp:8", &cfg), NS_OK);
    cfg.epochs = 60;
    cfg.lr = 0.02;
    static hook_count h;
    memset(&h, 0, sizeof h);
    ns_clf_nn_hooks hooks = {&h, on_created, NULL, on_trained};
    ns_cv_params cp;
    ns_cv_params_default(&cp);
    cp.folds = 3;
    cp.clf.kind = NS_CLF_NN;
    cp.clf.nn_spec = "mlp:8";
    cp.clf.nn_options = &cfg;
    cp.clf.nn_hooks = &hooks;
    ns_cv_result *r = NULL;
    ck_assert_int_eq(ns_cv_run(&cp, x, n, p, y, 2, &r), NS_OK);
    for (int f = 0; f < 3; f++) {
        ck_assert_int_eq(h.created[f], 1);
        ck_assert_int_eq(h.trained[f], 1);
    }
    ck_assert_int_eq(h.inner, 0); /* no nested search, no selection */
    ck_assert_msg(r->overall.balanced_accuracy > 0.8, "network bacc %g",
                  r->overall.balanced_accuracy);
    ns_cv_result_free(r);
}
END_TEST

static Suite *classify_suite(void)
{
    Suite *s = suite_create("models_classify");
    TCase *tc = tcase_create("classify");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_logreg_l2_stationary);
    tcase_add_test(tc, test_logreg_separable);
    tcase_add_test(tc, test_logreg_l1_subgradient);
    tcase_add_test(tc, test_svm_kkt_linear);
    tcase_add_test(tc, test_svm_kkt_rbf);
    tcase_add_test(tc, test_svm_precomputed_equals_linear);
    tcase_add_test(tc, test_stratified_folds);
    tcase_add_test(tc, test_nested_cv_isolation);
    tcase_add_test(tc, test_metrics_binary);
    tcase_add_test(tc, test_metrics_multiclass);
    tcase_add_test(tc, test_permutation_null_uniform);
    tcase_add_test(tc, test_anova_is_t_squared);
    tcase_add_test(tc, test_principal_angle_kernel);
    tcase_add_test(tc, test_ssfs_finds_domain);
    tcase_add_test(tc, test_domains_from_names);
    tcase_add_test(tc, test_network_in_cv_with_hooks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    ns_log_set_level(NS_LOG_WARN);
    return ns_test_run(classify_suite());
}
