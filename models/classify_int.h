/* Private to the classical part of models/: the implementations' vtables
 * and small numeric helpers shared by classify_*.c, select_*.c, cv_*.c. */
#ifndef NS_MODELS_CLASSIFY_INT_H
#define NS_MODELS_CLASSIFY_INT_H

#include "models/classify.h"

extern const ns_clf_vtable ns_clf_logreg_vt;
extern const ns_clf_vtable ns_clf_svm_vt;
extern const ns_clf_vtable ns_clf_nn_vt;

int ns_argmax(const double *v, size_t n);
/* In-place softmax of n values. */
void ns_softmax_row(double *v, size_t n);
double ns_sigmoid(double z);
double ns_log1pexp(double z);
/* Per-class weights (1, or sklearn's 'balanced' n / (nclass n_c)). */
void ns_class_weights(const int *y, size_t n, int nclass, int balanced, double *w);
/* Adds a copy of d as a float64 array of the given shape. */
ns_status ns_npz_add_f64(ns_npz *z, const char *name, const double *d, int ndim,
                         const size_t *shape);

/* Adds v (n indices) as an int64 array. */
ns_status ns_npz_add_index(ns_npz *z, const char *name, const size_t *v, size_t n);

/* Limited-memory BFGS minimiser of f(w) (n variables) with a More-Thuente
 * style backtracking (Armijo + curvature) line search. fg returns f and
 * writes the gradient. Stops when max|g| <= gtol (sklearn's lbfgs pgtol
 * criterion) or after max_iter iterations. */
typedef double (*ns_lbfgs_fn)(void *ctx, const double *w, double *g);
ns_status ns_lbfgs_minimize(ns_lbfgs_fn fg, void *ctx, double *w, size_t n, int max_iter,
                            double gtol, int *iters);

/* L1 logistic regression, one-vs-rest for nclass > 2 (coef ncoef x p with
 * ncoef = 1 for two classes). sw: per-row loss weights with C folded in. */
ns_status ns_logreg_l1_fit(const double *x, size_t n, size_t p, const int *y, int nclass,
                           const double *sw, int fit_intercept, double tol, int max_iter,
                           double *coef, double *intercept);

/* SMO for the C-SVC dual on the rows idx[0..n) of the kernel K (leading
 * dimension ldk), labels y = +-1, box C (per row). alpha (n) and rho receive
 * the solution: decision f(x) = sum_i alpha_i y_i K(x_i, x) - rho. */
ns_status ns_smo_solve(const double *K, size_t ldk, const size_t *idx, size_t n,
                       const signed char *y, const double *C, double eps, long max_iter,
                       double *alpha, double *rho, long *iters);
/* Platt's sigmoid P(pos | f) = 1 / (1 + exp(A f + B)) fitted to decisions. */
void ns_platt_fit(const double *dec, const int *pos, size_t n, double *pa, double *pb);

/* Indices 0..p-1 by key descending (ties: lower index first). */
void ns_rank_desc(const double *key, size_t p, size_t *order);
void ns_sort_indices(size_t *v, size_t n);

/* Soft sequential forward selection over domains (select_ssfs.c): score
 * evaluates a set of domains (higher is better). chosen receives up to
 * ndomain domain indices. */
typedef ns_status (*ns_ssfs_score_fn)(void *ctx, const int *doms, size_t nd, double *score);
ns_status ns_ssfs_core(const ns_sel_params *sp, int ndomain, ns_ssfs_score_fn fn, void *ctx,
                       int *chosen, size_t *nchosen);
/* Tabular SSFS: columns of the chosen domains into cols (p). */
ns_status ns_select_ssfs(const ns_sel_params *sp, const ns_clf_params *clf, const double *x,
                         size_t n, size_t p, const int *y, int nclass, size_t *cols,
                         size_t *ncols);
/* SSFS over components of a subspace set, scoring with a precomputed-kernel
 * SVM on the rows given. comps receives component indices (ncomp of s). */
ns_status ns_select_ssfs_subspace(const ns_sel_params *sp, const ns_clf_params *clf,
                                  const ns_subspace_set *s, const size_t *rows, size_t nrows,
                                  const int *y, int nclass, size_t *comps, size_t *ncomp);

/* Mean balanced accuracy of clf over stratified inner folds of (x, y);
 * precomputed: x is an n x n kernel. */
ns_status ns_cv_inner_score(const ns_clf_params *clf, const double *x, size_t n, size_t p,
                            const int *y, int nclass, int folds, uint64_t seed, int precomputed,
                            double *score);

/* Subset helpers used by the CV driver and selection. */
void ns_take_rows(const double *x, size_t p, const size_t *rows, size_t nr, double *out);
/* Every row 0..n-1 when *rows is NULL: *rows and *nrows are set to a new
 * array (also in *owned, for the caller to free); else nothing changes. */
ns_status ns_rows_or_all(const size_t **rows, size_t *nrows, size_t n, size_t **owned);
/* Rows of fold f into te (nte), the others into tr (ntr). */
void ns_cv_split(const int *fold, size_t n, int f, size_t *tr, size_t *ntr, size_t *te,
                 size_t *nte);
/* k[ra][:, rb] of an n x n kernel into out (na x nb). */
void ns_take_kernel(const double *k, size_t n, const size_t *ra, size_t na, const size_t *rb,
                    size_t nb, double *out);
void ns_take_cols(const double *x, size_t n, size_t p, const size_t *cols, size_t nc,
                  double *out);

#endif
