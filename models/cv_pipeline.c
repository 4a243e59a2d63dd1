/* A fitted pipeline: standardisation -> selection -> classifier, fitted on
 * given rows only, with an optional inner-CV choice of C and selection size
 * (nested CV). Three input kinds: a feature matrix, a precomputed kernel,
 * a subspace set (principal-angle kernel on selected components). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

void ns_cv_params_default(ns_cv_params *p)
{
    memset(p, 0, sizeof *p);
    p->folds = 5;
    p->inner_folds = 3;
    p->standardize = 1;
    ns_clf_params_default(&p->clf, NS_CLF_LOGREG_L2);
    ns_sel_params_default(&p->sel);
}

void ns_pipeline_free(ns_pipeline *pl)
{
    if (!pl)
        return;
    free(pl->cols);
    free(pl->mean);
    free(pl->scale);
    free(pl->impute);
    free(pl->train_rows);
    ns_clf_free(pl->clf);
    free(pl);
}

static int use_scaling(const ns_cv_params *cp)
{
    return cp->standardize && !cp->precomputed && !cp->subspace && cp->clf.in_ndim != 2;
}

/* Column means and population standard deviations (sklearn StandardScaler;
 * a constant column gets scale 1), then x is transformed in place. */
static ns_status standardize(double *x, size_t n, size_t p, double **mean, double **scale)
{
    double *m = ns_calloc(p, sizeof *m), *s = ns_calloc(p, sizeof *s);
    if (!m || !s) {
        free(m);
        free(s);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            m[j] += x[i * p + j];
    for (size_t j = 0; j < p; j++)
        m[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            s[j] += (x[i * p + j] - m[j]) * (x[i * p + j] - m[j]);
    for (size_t j = 0; j < p; j++) {
        s[j] = sqrt(s[j] / (double)n);
        if (!(s[j] > 1e-12 * (fabs(m[j]) + 1e-300)))
            s[j] = 1.0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            x[i * p + j] = (x[i * p + j] - m[j]) / s[j];
    *mean = m;
    *scale = s;
    return NS_OK;
}

/* Missing values (NaN) -> column mean of the finite training values (0 for
 * a column with none); the means are kept to fill new rows alike. */
static ns_status impute_means(double *x, size_t n, size_t p, double **out)
{
    double *m = ns_calloc(p, sizeof *m);
    size_t *c = ns_calloc(p, sizeof *c);
    if (!m || !c) {
        free(m);
        free(c);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            if (isfinite(x[i * p + j])) {
                m[j] += x[i * p + j];
                c[j]++;
            }
    for (size_t j = 0; j < p; j++)
        m[j] = c[j] ? m[j] / (double)c[j] : 0.0;
    for (size_t i = 0; i < n * p; i++)
        if (!isfinite(x[i]))
            x[i] = m[i % p];
    free(c);
    *out = m;
    return NS_OK;
}

/* Classifier used to score candidate sets inside selection: the pipeline's
 * own, except networks (too slow to refit hundreds of times): L2 logreg. */
static ns_clf_params scoring_clf(const ns_cv_params *cp)
{
    ns_clf_params c = cp->clf;
    if (c.kind == NS_CLF_NN)
        ns_clf_params_default(&c, NS_CLF_LOGREG_L2);
    c.tag = -2;
    return c;
}

static ns_status fit_tabular(ns_pipeline *pl, const double *x, size_t p, const int *yr)
{
    const ns_cv_params *cp = &pl->cp;
    size_t n = pl->ntrain;
    double *xt = ns_alloc(n * p, sizeof *xt), *mean = NULL, *scale = NULL;
    if (!xt)
        return NS_ERR_NOMEM;
    ns_take_rows(x, p, pl->train_rows, n, xt);
    ns_status st = cp->impute ? impute_means(xt, n, p, &pl->impute) : NS_OK;
    if (!st && use_scaling(cp))
        st = standardize(xt, n, p, &mean, &scale);
    ns_sel_params sp = cp->sel;
    sp.k = pl->k;
    ns_clf_params sc = scoring_clf(cp);
    if (!st)
        st = ns_select_fit(&sp, &sc, xt, n, p, yr, pl->nclass, &pl->cols, &pl->nsel);
    double *xs = st ? NULL : ns_alloc(n * pl->nsel, sizeof *xs);
    if (!st && !xs)
        st = NS_ERR_NOMEM;
    if (!st) {
        ns_take_cols(xt, n, p, pl->cols, pl->nsel, xs);
        if (mean) { /* keep the statistics of the selected columns only */
            for (size_t t = 0; t < pl->nsel; t++) {
                mean[t] = mean[pl->cols[t]];
                scale[t] = scale[pl->cols[t]];
            }
            pl->mean = mean, pl->scale = scale, mean = scale = NULL;
        }
        st = ns_clf_fit(pl->clf, xs, n, pl->nsel, yr, pl->nclass);
    }
    free(xt);
    free(xs);
    free(mean);
    free(scale);
    return st;
}

/* Kernel fits: the training block of a precomputed or subspace kernel. */
static ns_status fit_kernel(ns_pipeline *pl, const double *x, size_t n, const int *y,
                            const int *yr)
{
    const ns_cv_params *cp = &pl->cp;
    size_t m = pl->ntrain;
    double *kfull = NULL, *ktr = ns_alloc(m * m, sizeof *ktr);
    ns_status st = ktr ? NS_OK : NS_ERR_NOMEM;
    if (!st && cp->subspace) {
        size_t k = ns_subspace_set_ncomp(cp->subspace);
        pl->cols = ns_alloc(k, sizeof *pl->cols);
        kfull = ns_alloc(n * n, sizeof *kfull);
        if (!pl->cols || !kfull)
            st = NS_ERR_NOMEM;
        ns_sel_params sp = cp->sel;
        sp.k = pl->k;
        ns_clf_params sc = cp->clf;
        if (!st && sp.kind == NS_SEL_SSFS)
            st = ns_select_ssfs_subspace(&sp, &sc, cp->subspace, pl->train_rows, m, y,
                                         pl->nclass, pl->cols, &pl->nsel);
        else if (!st)
            for (pl->nsel = 0; pl->nsel < k; pl->nsel++)
                pl->cols[pl->nsel] = pl->nsel;
        if (!st)
            st = ns_subspace_kernel(cp->subspace, pl->cols, pl->nsel, kfull);
        x = kfull;
    } else if (!st) {
        pl->nsel = 0;
    }
    if (!st) {
        ns_take_kernel(x, n, pl->train_rows, m, pl->train_rows, m, ktr);
        st = ns_clf_fit(pl->clf, ktr, m, m, yr, pl->nclass);
    }
    free(kfull);
    free(ktr);
    return st;
}

static ns_status fit_plain(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                           const int *y, int nclass, const size_t *rows, size_t nrows,
                           double C, size_t k, int tag, ns_pipeline **out)
{
    *out = NULL;
    ns_pipeline *pl = ns_calloc(1, sizeof *pl);
    int *yr = ns_alloc(nrows ? nrows : 1, sizeof *yr);
    if (!pl || !yr) {
        free(pl);
        free(yr);
        return NS_ERR_NOMEM;
    }
    pl->cp = *cp;
    pl->cp.clf.C = C;
    pl->cp.clf.tag = tag;
    pl->C = C;
    pl->k = k;
    pl->p_in = cp->subspace ? ns_subspace_set_ncomp(cp->subspace) : p;
    pl->nclass = nclass;
    pl->ntrain = nrows;
    pl->train_rows = ns_alloc(nrows ? nrows : 1, sizeof *pl->train_rows);
    ns_status st = pl->train_rows ? ns_clf_create(&pl->cp.clf, &pl->clf) : NS_ERR_NOMEM;
    if (!st) {
        memcpy(pl->train_rows, rows, nrows * sizeof *rows);
        for (size_t i = 0; i < nrows; i++)
            yr[i] = y[rows[i]];
        if (cp->precomputed || cp->subspace)
            st = fit_kernel(pl, x, n, y, yr);
        else
            st = fit_tabular(pl, x, p, yr);
    }
    free(yr);
    if (st)
        ns_pipeline_free(pl);
    else
        *out = pl;
    return st;
}

/* Pooled inner-CV balanced accuracy of one (C, k) on rows. */
static ns_status inner_score(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                             const int *y, int nclass, const size_t *rows, size_t nrows,
                             int fold, double C, size_t k, double *score)
{
    int nf = cp->inner_folds >= 2 ? cp->inner_folds : 3;
    if ((size_t)nf > nrows)
        nf = (int)nrows;
    int *yr = ns_alloc(nrows, sizeof *yr), *f = ns_alloc(nrows, sizeof *f);
    int *pred = ns_alloc(nrows, sizeof *pred);
    size_t *idx = ns_alloc(2 * nrows, sizeof *idx), *orig = ns_alloc(2 * nrows, sizeof *orig);
    double *pr = ns_alloc(nrows * (size_t)nclass, sizeof *pr);
    ns_status st = (!yr || !f || !pred || !idx || !orig || !pr) ? NS_ERR_NOMEM : NS_OK;
    for (size_t i = 0; !st && i < nrows; i++)
        yr[i] = y[rows[i]];
    if (!st)
        st = ns_cv_stratified_folds(yr, nrows, nclass, nf,
                                    ns_seed_derive(cp->seed, 1000 + (uint64_t)(fold + 1)), f);
    for (int g = 0; g < nf && !st; g++) {
        size_t ntr, nte;
        ns_cv_split(f, nrows, g, idx, &ntr, idx + nrows, &nte);
        for (size_t i = 0; i < ntr + nte; i++) /* back to original row indices */
            orig[i] = rows[i < ntr ? idx[i] : idx[nrows + i - ntr]];
        ns_pipeline *pl = NULL;
        if (cp->observer)
            cp->observer(cp->observer_ctx, fold, orig, ntr);
        st = fit_plain(cp, x, n, p, y, nclass, orig, ntr, C, k, -2, &pl);
        if (!st)
            st = ns_pipeline_predict(pl, x, n, p, orig + ntr, nte, pr, NULL);
        for (size_t t = 0; !st && t < nte; t++)
            pred[idx[nrows + t]] = ns_argmax(pr + t * (size_t)nclass, (size_t)nclass);
        ns_pipeline_free(pl);
    }
    ns_metrics m = {0};
    if (!st)
        st = ns_metrics_compute(yr, pred, NULL, nrows, nclass, &m);
    if (!st)
        *score = m.balanced_accuracy;
    ns_metrics_clear(&m);
    free(yr), free(f), free(pred), free(idx), free(orig), free(pr);
    return st;
}

/* Grid search over C x k by inner CV; ties keep the earlier (smaller) value. */
static ns_status choose_params(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                               const int *y, int nclass, const size_t *rows, size_t nrows,
                               int fold, double *C, size_t *k)
{
    size_t nc = cp->c_grid && cp->nc_grid ? cp->nc_grid : 1;
    size_t nk = cp->k_grid && cp->nk_grid ? cp->nk_grid : 1;
    *C = cp->c_grid && cp->nc_grid ? cp->c_grid[0] : cp->clf.C;
    *k = cp->k_grid && cp->nk_grid ? cp->k_grid[0] : cp->sel.k;
    if (!cp->nested || nc * nk == 1)
        return NS_OK;
    double best = -INFINITY;
    for (size_t a = 0; a < nc; a++)
        for (size_t b = 0; b < nk; b++) {
            double Ca = cp->c_grid ? cp->c_grid[a] : cp->clf.C;
            size_t kb = cp->k_grid ? cp->k_grid[b] : cp->sel.k;
            double sc;
            ns_status st = inner_score(cp, x, n, p, y, nclass, rows, nrows, fold, Ca, kb, &sc);
            if (st)
                return st;
            if (sc > best + 1e-12) {
                best = sc;
                *C = Ca;
                *k = kb;
            }
        }
    return NS_OK;
}

ns_status ns_pipeline_fit(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                          const int *y, int nclass, const size_t *rows, size_t nrows, int fold,
                          ns_pipeline **out)
{
    size_t *all;
    if (ns_rows_or_all(&rows, &nrows, n, &all))
        return NS_ERR_NOMEM;
    if (cp->observer)
        cp->observer(cp->observer_ctx, fold, rows, nrows);
    double C;
    size_t k;
    ns_status st = choose_params(cp, x, n, p, y, nclass, rows, nrows, fold, &C, &k);
    if (!st)
        st = fit_plain(cp, x, n, p, y, nclass, rows, nrows, C, k, fold >= 0 ? fold : -1, out);
    free(all);
    return st;
}
