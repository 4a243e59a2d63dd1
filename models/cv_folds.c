/* Stratified k-fold assignment, row/column subsets, and the small inner
 * cross-validation that scores a classifier on already prepared data (used
 * by forward selection and by the nested grid search). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

void ns_take_rows(const double *x, size_t p, const size_t *rows, size_t nr, double *out)
{
    for (size_t i = 0; i < nr; i++)
        memcpy(out + i * p, x + rows[i] * p, p * sizeof *x);
}

ns_status ns_rows_or_all(const size_t **rows, size_t *nrows, size_t n, size_t **owned)
{
    *owned = NULL;
    if (*rows)
        return NS_OK;
    *owned = ns_alloc(n ? n : 1, sizeof **owned);
    if (!*owned)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        (*owned)[i] = i;
    *rows = *owned;
    *nrows = n;
    return NS_OK;
}

void ns_take_cols(const double *x, size_t n, size_t p, const size_t *cols, size_t nc,
                  double *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nc; j++)
            out[i * nc + j] = x[i * p + cols[j]];
}

/* As sklearn's StratifiedKFold: rows sorted by class are dealt to folds
 * round-robin (so every fold gets floor/ceil of each class and the fold
 * sizes differ by at most one), then each class's fold labels are shuffled
 * among its members. */
ns_status ns_cv_stratified_folds(const int *y, size_t n, int nclass, int k, uint64_t seed,
                                 int *fold)
{
    if (k < 2 || (size_t)k > n)
        return ns_error(NS_ERR_ARG, "cannot split %zu rows into %d folds", n, k);
    size_t *members = ns_alloc(n, sizeof *members);
    int *lab = ns_alloc(n, sizeof *lab);
    ns_rng *rng = ns_rng_create(seed);
    if (!members || !lab || !rng) {
        free(members);
        free(lab);
        ns_rng_free(rng);
        return NS_ERR_NOMEM;
    }
    size_t dealt = 0;
    for (int c = 0; c < nclass; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == c)
                members[m++] = i;
        for (size_t t = 0; t < m; t++)
            lab[t] = (int)((dealt + t) % (size_t)k);
        dealt += m;
        /* shuffle which member gets which fold label */
        ns_rng_shuffle(rng, members, m);
        for (size_t t = 0; t < m; t++)
            fold[members[t]] = lab[t];
    }
    free(members);
    free(lab);
    ns_rng_free(rng);
    if (dealt != n)
        return ns_error(NS_ERR_ARG, "labels outside 0..%d", nclass - 1);
    return NS_OK;
}

/* Rows of fold f into te, the others into tr. */
void ns_cv_split(const int *fold, size_t n, int f, size_t *tr, size_t *ntr, size_t *te,
                 size_t *nte)
{
    *ntr = *nte = 0;
    for (size_t i = 0; i < n; i++) {
        if (fold[i] == f)
            te[(*nte)++] = i;
        else
            tr[(*ntr)++] = i;
    }
}

/* x[rows_a][:, rows_b] of an n x n kernel. */
void ns_take_kernel(const double *k, size_t n, const size_t *ra, size_t na, const size_t *rb,
                    size_t nb, double *out)
{
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            out[i * nb + j] = k[ra[i] * n + rb[j]];
}

/* One inner fold: fit on tr, predict te into pred. */
static ns_status inner_fold(const ns_clf_params *clf, const double *x, size_t n, size_t p,
                            const int *y, int nclass, int precomputed, const size_t *tr,
                            size_t ntr, const size_t *te, size_t nte, int *yb, double *xa,
                            double *xb, int *pred)
{
    size_t pc = precomputed ? ntr : p;
    if (precomputed) {
        ns_take_kernel(x, n, tr, ntr, tr, ntr, xa);
        ns_take_kernel(x, n, te, nte, tr, ntr, xb);
    } else {
        ns_take_rows(x, p, tr, ntr, xa);
        ns_take_rows(x, p, te, nte, xb);
    }
    for (size_t i = 0; i < ntr; i++)
        yb[i] = y[tr[i]];
    ns_clf *c = NULL;
    ns_status st = ns_clf_create(clf, &c);
    if (!st)
        st = ns_clf_fit(c, xa, ntr, pc, yb, nclass);
    if (!st)
        st = ns_clf_predict(c, xb, nte, pred);
    ns_clf_free(c);
    return st;
}

ns_status ns_cv_inner_score(const ns_clf_params *clf, const double *x, size_t n, size_t p,
                            const int *y, int nclass, int folds, uint64_t seed, int precomputed,
                            double *score)
{
    int k = folds < 2 ? 2 : folds;
    if ((size_t)k > n)
        k = (int)n;
    size_t w = precomputed ? n : p;
    int *fold = ns_alloc(n, sizeof *fold), *pred = ns_alloc(2 * n, sizeof *pred);
    size_t *idx = ns_alloc(2 * n, sizeof *idx);
    double *xa = ns_alloc(n * w, sizeof *xa), *xb = ns_alloc(n * w, sizeof *xb);
    int *oof = ns_alloc(n, sizeof *oof);
    ns_status st = (!fold || !pred || !idx || !xa || !xb || !oof)
                       ? NS_ERR_NOMEM
                       : ns_cv_stratified_folds(y, n, nclass, k, seed, fold);
    for (int f = 0; f < k && !st; f++) {
        size_t ntr, nte;
        ns_cv_split(fold, n, f, idx, &ntr, idx + n, &nte);
        st = inner_fold(clf, x, n, p, y, nclass, precomputed, idx, ntr, idx + n, nte, pred + n,
                        xa, xb, pred);
        for (size_t t = 0; !st && t < nte; t++)
            oof[idx[n + t]] = pred[t];
    }
    ns_metrics m = {0};
    if (!st)
        st = ns_metrics_compute(y, oof, NULL, n, nclass, &m);
    if (!st)
        *score = m.balanced_accuracy;
    ns_metrics_clear(&m);
    free(fold);
    free(pred);
    free(idx);
    free(xa);
    free(xb);
    free(oof);
    return st;
}
