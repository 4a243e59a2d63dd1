/* neurospectra models, classical part: classifiers behind one interface
 * (logistic regression L2/L1, SVM linear/RBF/precomputed kernel, and the
 * neural networks of nn.h through an adapter), the principal-angle kernel
 * between subjects' subspaces, feature selection (univariate, soft sequential
 * forward selection across feature domains), stratified and nested
 * cross-validation, metrics and permutation tests.
 *
 * Conventions: data are row-major double matrices x (n rows = samples, p
 * columns = features); labels y are class indices 0..nclass-1. Binary
 * decision values are positive for class 1. Regularisation follows
 * scikit-learn: C is the inverse penalty multiplying the summed loss. */
#ifndef NS_MODELS_CLASSIFY_H
#define NS_MODELS_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ classifiers */

typedef enum {
    NS_CLF_LOGREG_L2 = 0, /* sklearn LogisticRegression(penalty='l2', lbfgs): multinomial */
    NS_CLF_LOGREG_L1,     /* LogisticRegression(penalty='l1', solver='saga'), OvR for > 2 */
    NS_CLF_SVM_LINEAR,    /* SVC(kernel='linear'): SMO, one-vs-one */
    NS_CLF_SVM_RBF,       /* SVC(kernel='rbf') */
    NS_CLF_SVM_PRECOMPUTED, /* SVC(kernel='precomputed'): x rows are kernel rows */
    NS_CLF_NN             /* a network of models/nn.h, spec in nn_spec */
} ns_clf_kind;

/* Hooks into network training, for stages that watch or replace it
 * (spectra subscribes to the layer tap; dist trains across sites). nn is an
 * ns_nn * (models/nn.h). tag: the outer CV fold (>= 0), -1 for a model on
 * all rows, -2 for inner-CV and selection fits. Every member may be NULL. */
typedef struct {
    void *ctx;
    /* after ns_nn_create, before training: subscribe to the tap here */
    ns_status (*created)(void *ctx, void *nn, int tag);
    /* replaces ns_nn_fit when set */
    ns_status (*fit)(void *ctx, void *nn, const float *x, const int32_t *y, size_t n, int tag);
    /* after training */
    ns_status (*trained)(void *ctx, void *nn, int tag);
} ns_clf_nn_hooks;

/* Hyper-parameters; ns_clf_params_default() fills the defaults. */
typedef struct {
    ns_clf_kind kind;
    double C;          /* inverse regularisation (default 1) */
    double gamma;      /* RBF width; <= 0 means sklearn's 'scale': 1 / (p var(x)) */
    double tol;        /* stopping tolerance (default 1e-8 logreg, 1e-3 svm) */
    int max_iter;      /* iterations (default 1000 logreg, 1e7 SMO steps) */
    int fit_intercept; /* default 1 (the intercept is never penalised) */
    int balanced;      /* class weights n / (nclass n_c), sklearn 'balanced' */
    uint64_t seed;
    /* NS_CLF_NN only: spec ("mlp:64", "gru:32", ...), options string passed
     * through to the nn parser (borrowed), and the per-sample shape
     * (ndim 1: F features; ndim 2: T x C sequences). */
    const char *nn_spec;
    const void *nn_options; /* borrowed, type defined by models/nn.h */
    int in_ndim;
    size_t in_shape[2];
    const ns_clf_nn_hooks *nn_hooks; /* borrowed, NULL = none */
    int tag;           /* set by the CV driver (see ns_clf_nn_hooks) */
} ns_clf_params;

void ns_clf_params_default(ns_clf_params *p, ns_clf_kind kind);
/* "logreg", "logreg-l1", "svm-linear", "svm-rbf", "svm-precomputed" -> kind;
 * any other string is taken as an nn spec (NS_CLF_NN). Returns NS_ERR_ARG
 * for an empty string. */
ns_status ns_clf_kind_parse(const char *s, ns_clf_kind *out);
const char *ns_clf_kind_name(ns_clf_kind k);

typedef struct ns_clf ns_clf;

/* The interface every classifier implements. */
typedef struct {
    const char *name;
    /* Fits on n rows of p features; replaces any previous fit. */
    ns_status (*fit)(ns_clf *c, const double *x, size_t n, size_t p, const int *y, int nclass);
    /* n x ndec decision values (ndec = ns_clf_ndecision(c)). */
    ns_status (*decision)(const ns_clf *c, const double *x, size_t n, double *out);
    /* n x nclass class probabilities (rows sum to 1). */
    ns_status (*proba)(const ns_clf *c, const double *x, size_t n, double *out);
    /* Adds the fitted parameters to z (sklearn attribute names without '_':
     * "coef", "intercept", "support_vectors", "dual_coef", ... or the
     * PyTorch state_dict names for networks). */
    ns_status (*save)(const ns_clf *c, ns_npz *z);
    void (*destroy)(ns_clf *c);
} ns_clf_vtable;

struct ns_clf {
    const ns_clf_vtable *vt;
    ns_clf_params par;
    size_t p;     /* features seen at fit */
    int nclass;   /* classes seen at fit (0 before) */
    void *state;  /* implementation data */
};

/* Creates an unfitted classifier (copies params; nn_spec/nn_options borrowed). */
ns_status ns_clf_create(const ns_clf_params *par, ns_clf **out);
void ns_clf_free(ns_clf *c);
ns_status ns_clf_fit(ns_clf *c, const double *x, size_t n, size_t p, const int *y, int nclass);
/* 1 for two classes, nclass otherwise (sklearn's decision_function shape;
 * SVMs give the 'ovr' transform of their one-vs-one votes). */
int ns_clf_ndecision(const ns_clf *c);
ns_status ns_clf_decision(const ns_clf *c, const double *x, size_t n, double *out);
ns_status ns_clf_proba(const ns_clf *c, const double *x, size_t n, double *out);
/* Argmax of proba into pred[n]. */
ns_status ns_clf_predict(const ns_clf *c, const double *x, size_t n, int *pred);
ns_status ns_clf_save(const ns_clf *c, ns_npz *z);

/* -------------------------------------------------------------- kernels */

/* RBF kernel matrix K[i][j] = exp(-gamma |a_i - b_j|^2), na x nb. */
void ns_kernel_rbf(const double *a, size_t na, const double *b, size_t nb, size_t p,
                   double gamma, double *k);

/* Principal-angle kernel between subjects' subspaces (the mood-disorder
 * study). Subject s has k component maps (a v x k matrix, column-major:
 * map j at maps[s] + j v). On a component subset S, each subject's maps are
 * orthonormalised (Q_s); cos(theta_j) are the singular values of Qa^T Qb and
 *   K[a][b] = sum_j cos^2(theta_j) / |S| = ||Qa^T Qb||_F^2 / |S|,
 * the mean squared cosine: the projection kernel tr(Pa Pb) / |S|, positive
 * semi-definite, 1 on the diagonal. */
typedef struct ns_subspace_set ns_subspace_set;
/* Reads maps only during the call and keeps the k x k Gram and cross-Gram
 * matrices M_a^T M_b of every pair (n^2 k^2 / 2 doubles), so that a kernel on
 * any subset of components costs O(n^2 |S|^3), independent of v. */
ns_status ns_subspace_set_create(const double *const *maps, size_t nsub, size_t v, size_t k,
                                 ns_subspace_set **out);
/* The same from float maps stored n x k x v (subject, component, value),
 * converted to double a subject at a time. */
ns_status ns_subspace_set_create_f32(const float *maps, size_t nsub, size_t v, size_t k,
                                     ns_subspace_set **out);
void ns_subspace_set_free(ns_subspace_set *s);
size_t ns_subspace_set_count(const ns_subspace_set *s);
size_t ns_subspace_set_ncomp(const ns_subspace_set *s);
/* K (nsub x nsub, row-major) on components comps[0..ncomp) (NULL = all). */
ns_status ns_subspace_kernel(const ns_subspace_set *s, const size_t *comps, size_t ncomp,
                             double *k);

/* ------------------------------------------------------------ selection */

typedef enum { NS_SEL_NONE = 0, NS_SEL_UNIVARIATE, NS_SEL_SSFS } ns_sel_kind;

typedef struct {
    ns_sel_kind kind;
    size_t k;          /* univariate: top-k columns (0 = by pmax); ssfs: max domains (0 = all) */
    double pmax;       /* univariate: keep p < pmax when k == 0 (default 0.05) */
    /* ssfs: domain of every column (p ints, 0..ndomain-1); NULL = one domain
     * per column. */
    const int *domain;
    int ndomain;
    size_t per_domain; /* ssfs: top univariate columns kept per domain (0 = all) */
    int inner_folds;   /* ssfs: inner CV folds scoring a candidate set (default 3) */
    double tolerance;  /* ssfs: soft acceptance, balanced accuracy drop tolerated (0.01) */
    int patience;      /* ssfs: consecutive rejections before stopping (default 3) */
    uint64_t seed;
} ns_sel_params;

void ns_sel_params_default(ns_sel_params *p);

/* One-way ANOVA F and its p-value per column (for two classes F = t^2 of
 * the pooled-variance t-test). Constant columns get F = 0, p = 1. */
ns_status ns_select_anova(const double *x, size_t n, size_t p, const int *y, int nclass,
                          double *f, double *pval);

/* Fits a selection on (x, y) and returns the chosen columns in increasing
 * order (caller frees *cols). clf parameters are used by ssfs to score
 * candidate sets with inner cross-validation. NS_SEL_NONE returns all. */
ns_status ns_select_fit(const ns_sel_params *sp, const ns_clf_params *clf, const double *x,
                        size_t n, size_t p, const int *y, int nclass, size_t **cols,
                        size_t *ncols);

/* Domains from column names: the prefix before the first '-' separated pair
 * of "<prefix><digits>c<digits>" names, i.e. "ica25c03-ica50c12" -> domain
 * "ica25-ica50"; otherwise the part of the name before the last '_' or
 * digits run ("<prefix>" mode). domain[p] receives indices, *names (caller
 * frees each and the array) the domain names, *ndomain their count. */
ns_status ns_select_domains_from_names(const char *const *colnames, size_t p, int *domain,
                                       char ***names, int *ndomain);

/* ------------------------------------------------------------- metrics */

typedef struct {
    int nclass;
    size_t n;
    double accuracy, balanced_accuracy, auc, f1, sensitivity, specificity;
    /* nclass x nclass counts, row = true class, column = predicted. */
    long *confusion;
} ns_metrics;

/* Metrics from true labels, predictions and (optionally, for AUC) class
 * probabilities n x nclass. Two classes: class 1 is positive; more: macro
 * averages (sensitivity = macro recall, specificity = macro one-vs-rest
 * specificity, F1 macro, AUC one-vs-rest macro as sklearn's
 * roc_auc_score(multi_class='ovr')). AUC is NaN without scores or when a
 * class is absent. m->confusion is allocated (ns_metrics_clear frees). */
ns_status ns_metrics_compute(const int *ytrue, const int *ypred, const double *score, size_t n,
                             int nclass, ns_metrics *m);
void ns_metrics_clear(ns_metrics *m);
/* Area under the ROC curve of scores for positives (label 1) vs negatives
 * (label 0), ties counted half (Mann-Whitney). NaN if a class is empty. */
double ns_metrics_auc(const double *score, const int *is_pos, size_t n);

/* ------------------------------------------------------ cross-validation */

/* Stratified k-fold: fold[i] in 0..k-1, each class spread as evenly as
 * possible over folds after a seeded shuffle (sklearn StratifiedKFold with
 * shuffle). NS_ERR_DATA if a class has fewer than k members and k > n. */
ns_status ns_cv_stratified_folds(const int *y, size_t n, int nclass, int k, uint64_t seed,
                                 int *fold);

/* Called with the original row indices a selection (or a fit) is about to
 * see, tagged with the outer fold (-1 outside CV). For instrumentation:
 * the nested-CV test asserts that no outer test row ever appears. */
typedef void (*ns_cv_observer)(void *ctx, int outer_fold, const size_t *rows, size_t nrows);

typedef struct {
    int folds;          /* outer folds (>= 2 for ns_cv_run) */
    int nested;         /* choose C / selection size by inner CV */
    int inner_folds;    /* default 3 */
    uint64_t seed;
    int standardize;    /* z-score columns with training-rows mean/std (default 1) */
    int impute;         /* NaN features -> training-rows column mean (default 0: error) */
    ns_clf_params clf;
    ns_sel_params sel;
    /* Grids searched when nested (without nested the first value is used).
     * NULL/0 = the single value in clf.C / sel.k. */
    const double *c_grid;
    size_t nc_grid;
    const size_t *k_grid;
    size_t nk_grid;
    /* Input kinds other than a feature matrix:
     * precomputed: x is an n x n kernel over all rows (clf.kind must be
     *   NS_CLF_SVM_PRECOMPUTED); fits slice x[train][:, train].
     * subspace: kernels come from this set (x unused, may be NULL; p = its
     *   component count); sel.kind NS_SEL_SSFS selects components. */
    int precomputed;
    const ns_subspace_set *subspace;
    int keep_models;    /* keep each outer fold's fitted pipeline */
    ns_cv_observer observer;
    void *observer_ctx;
} ns_cv_params;

void ns_cv_params_default(ns_cv_params *p);

/* A fitted pipeline: standardisation, selected columns (or components), the
 * classifier, and the training rows (kernel inputs need them). */
typedef struct {
    ns_cv_params cp;    /* copy (grids, observer and subspace borrowed) */
    size_t p_in;        /* columns before selection */
    size_t nsel;
    size_t *cols;       /* selected columns / components (nsel) */
    double *mean, *scale; /* nsel each, NULL when not standardised */
    double *impute;     /* p_in column means of the training rows, NULL when not imputing */
    double C;           /* hyper-parameters used */
    size_t k;
    size_t ntrain;
    size_t *train_rows; /* ntrain */
    int nclass;
    ns_clf *clf;
} ns_pipeline;

/* Fits standardisation, selection and classifier on rows[0..nrows) of x
 * (n x p; rows NULL = all), with hyper-parameters chosen by inner CV when
 * cp->nested. fold tags observer calls. */
ns_status ns_pipeline_fit(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                          const int *y, int nclass, const size_t *rows, size_t nrows, int fold,
                          ns_pipeline **out);
/* Probabilities (nrows x nclass) and, if dec != NULL, decision values
 * (nrows x ndec) for rows of x (NULL = all n). x has the training layout:
 * p_in columns, or for kernels columns indexing the original rows. */
ns_status ns_pipeline_predict(const ns_pipeline *pl, const double *x, size_t n, size_t p,
                              const size_t *rows, size_t nrows, double *proba, double *dec);
/* Adds "scale_mean", "scale_std" (if standardised), "selected_columns" and the
 * classifier's parameters to z. */
ns_status ns_pipeline_save(const ns_pipeline *pl, ns_npz *z);
void ns_pipeline_free(ns_pipeline *pl);

typedef struct {
    int folds, nclass;
    size_t n;
    int *fold;          /* n: outer fold of each row */
    int *pred;          /* n: predicted class (out of fold) */
    double *proba;      /* n x nclass out-of-fold probabilities */
    ns_metrics *fold_metrics; /* folds */
    ns_metrics overall; /* on the pooled out-of-fold predictions */
    double *fold_C;     /* C used per fold */
    size_t *fold_k;     /* selection size used per fold (columns / components kept) */
    ns_pipeline **models; /* folds entries when keep_models, else NULL */
} ns_cv_result;

/* Runs (nested) stratified cross-validation. Standardisation, selection and
 * hyper-parameter choice are fitted on each training fold only. */
ns_status ns_cv_run(const ns_cv_params *cp, const double *x, size_t n, size_t p, const int *y,
                    int nclass, ns_cv_result **out);
void ns_cv_result_free(ns_cv_result *r);

/* Permutation test (sklearn permutation_test_score): the whole CV repeated
 * with permuted labels nperm times; p = (1 + #{score_perm >= observed}) /
 * (1 + nperm) on balanced accuracy. scores (nperm, optional) receives the
 * null distribution. */
ns_status ns_cv_permutation_test(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                                 const int *y, int nclass, double observed, int nperm,
                                 uint64_t seed, double *scores, double *pvalue);

#ifdef __cplusplus
}
#endif
#endif
