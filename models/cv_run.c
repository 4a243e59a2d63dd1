/* Pipeline prediction and saving, the (nested) cross-validation driver and
 * the permutation test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

/* The prepared inputs of rows for the pipeline's classifier into out. */
static ns_status prepare_rows(const ns_pipeline *pl, const double *x, size_t n, size_t p,
                              const size_t *rows, size_t nrows, double *out)
{
    const ns_cv_params *cp = &pl->cp;
    size_t m = pl->ntrain;
    if (cp->subspace) {
        size_t ns = ns_subspace_set_count(cp->subspace);
        double *k = ns_alloc(ns * ns, sizeof *k);
        if (!k)
            return NS_ERR_NOMEM;
        ns_status st = ns_subspace_kernel(cp->subspace, pl->cols, pl->nsel, k);
        if (!st)
            ns_take_kernel(k, ns, rows, nrows, pl->train_rows, m, out);
        free(k);
        return st;
    }
    if (cp->precomputed) {
        for (size_t i = 0; i < nrows; i++)
            for (size_t j = 0; j < m; j++) {
                if (pl->train_rows[j] >= p)
                    return ns_error(NS_ERR_DATA, "kernel has %zu columns, training row %zu",
                                    p, pl->train_rows[j]);
                out[i * m + j] = x[rows[i] * p + pl->train_rows[j]];
            }
        return NS_OK;
    }
    if (p != pl->p_in)
        return ns_error(NS_ERR_DATA, "%zu feature columns, the model was fitted on %zu", p,
                        pl->p_in);
    for (size_t i = 0; i < nrows; i++)
        for (size_t t = 0; t < pl->nsel; t++) {
            double v = x[rows[i] * p + pl->cols[t]];
            if (pl->impute && !isfinite(v))
                v = pl->impute[pl->cols[t]];
            out[i * pl->nsel + t] = pl->mean ? (v - pl->mean[t]) / pl->scale[t] : v;
        }
    (void)n;
    return NS_OK;
}

ns_status ns_pipeline_predict(const ns_pipeline *pl, const double *x, size_t n, size_t p,
                              const size_t *rows, size_t nrows, double *proba, double *dec)
{
    size_t *all;
    if (ns_rows_or_all(&rows, &nrows, n, &all))
        return NS_ERR_NOMEM;
    size_t w = (pl->cp.precomputed || pl->cp.subspace) ? pl->ntrain : pl->nsel;
    double *xp = ns_alloc(nrows * w + 1, sizeof *xp);
    ns_status st = xp ? prepare_rows(pl, x, n, p, rows, nrows, xp) : NS_ERR_NOMEM;
    if (!st && proba)
        st = ns_clf_proba(pl->clf, xp, nrows, proba);
    if (!st && dec)
        st = ns_clf_decision(pl->clf, xp, nrows, dec);
    free(xp);
    free(all);
    return st;
}

ns_status ns_pipeline_save(const ns_pipeline *pl, ns_npz *z)
{
    ns_status st = NS_OK;
    if (pl->mean)
        st = ns_npz_add_f64(z, "scale_mean", pl->mean, 1, &pl->nsel);
    if (!st && pl->scale)
        st = ns_npz_add_f64(z, "scale_std", pl->scale, 1, &pl->nsel);
    if (!st && !pl->cp.precomputed)
        st = ns_npz_add_index(z, pl->cp.subspace ? "selected_components" : "selected_columns", pl->cols,
                       pl->nsel);
    if (!st && (pl->cp.precomputed || pl->cp.subspace))
        st = ns_npz_add_index(z, "train_rows", pl->train_rows, pl->ntrain);
    if (!st)
        st = ns_clf_save(pl->clf, z);
    return st;
}

/* ------------------------------------------------------------ CV driver */

void ns_cv_result_free(ns_cv_result *r)
{
    if (!r)
        return;
    for (int f = 0; r->fold_metrics && f < r->folds; f++)
        ns_metrics_clear(&r->fold_metrics[f]);
    for (int f = 0; r->models && f < r->folds; f++)
        ns_pipeline_free(r->models[f]);
    ns_metrics_clear(&r->overall);
    free(r->fold), free(r->pred), free(r->proba), free(r->fold_metrics);
    free(r->fold_C), free(r->fold_k), free(r->models);
    free(r);
}

static ns_cv_result *result_alloc(int folds, size_t n, int nclass, int keep)
{
    ns_cv_result *r = ns_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->folds = folds, r->n = n, r->nclass = nclass;
    r->fold = ns_alloc(n, sizeof *r->fold);
    r->pred = ns_alloc(n, sizeof *r->pred);
    r->proba = ns_alloc(n * (size_t)nclass, sizeof *r->proba);
    r->fold_metrics = ns_calloc((size_t)folds, sizeof *r->fold_metrics);
    r->fold_C = ns_calloc((size_t)folds, sizeof *r->fold_C);
    r->fold_k = ns_calloc((size_t)folds, sizeof *r->fold_k);
    r->models = keep ? ns_calloc((size_t)folds, sizeof *r->models) : NULL;
    if (!r->fold || !r->pred || !r->proba || !r->fold_metrics || !r->fold_C || !r->fold_k ||
        (keep && !r->models)) {
        ns_cv_result_free(r);
        return NULL;
    }
    return r;
}

/* Fits fold f on the other folds, predicts it, scores it. */
static ns_status run_fold(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                          const int *y, int nclass, int f, size_t *idx, int *ybuf,
                          ns_cv_result *r)
{
    size_t ntr, nte, K = (size_t)nclass;
    ns_cv_split(r->fold, n, f, idx, &ntr, idx + n, &nte);
    const size_t *te = idx + n;
    double *pr = ns_alloc(nte * K + 1, sizeof *pr);
    int *pd = ns_alloc(nte + 1, sizeof *pd);
    ns_pipeline *pl = NULL;
    ns_status st = (!pr || !pd) ? NS_ERR_NOMEM
                                : ns_pipeline_fit(cp, x, n, p, y, nclass, idx, ntr, f, &pl);
    if (st == NS_ERR_NUMERIC)
        ns_error_within(st, "fold %d", f + 1);
    if (!st)
        st = ns_pipeline_predict(pl, x, n, p, te, nte, pr, NULL);
    for (size_t t = 0; !st && t < nte; t++) {
        pd[t] = ns_argmax(pr + t * K, K);
        r->pred[te[t]] = pd[t];
        memcpy(r->proba + te[t] * K, pr + t * K, K * sizeof *pr);
        ybuf[t] = y[te[t]];
    }
    if (!st)
        st = ns_metrics_compute(ybuf, pd, pr, nte, nclass, &r->fold_metrics[f]);
    if (!st) {
        r->fold_C[f] = pl->C;
        r->fold_k[f] = pl->nsel;
        if (r->models) {
            r->models[f] = pl;
            pl = NULL;
        }
    }
    ns_pipeline_free(pl);
    free(pr);
    free(pd);
    return st;
}

ns_status ns_cv_run(const ns_cv_params *cp, const double *x, size_t n, size_t p, const int *y,
                    int nclass, ns_cv_result **out)
{
    *out = NULL;
    if (cp->precomputed && cp->clf.kind != NS_CLF_SVM_PRECOMPUTED)
        return ns_error(NS_ERR_ARG, "a precomputed kernel needs the svm-precomputed model");
    ns_cv_result *r = result_alloc(cp->folds, n, nclass, cp->keep_models);
    size_t *idx = ns_alloc(2 * n, sizeof *idx);
    int *ybuf = ns_alloc(n, sizeof *ybuf);
    ns_status st = (!r || !idx || !ybuf) ? NS_ERR_NOMEM
                                         : ns_cv_stratified_folds(y, n, nclass, cp->folds,
                                                                  cp->seed, r ? r->fold : NULL);
    for (int f = 0; !st && f < cp->folds; f++)
        st = run_fold(cp, x, n, p, y, nclass, f, idx, ybuf, r);
    if (!st)
        st = ns_metrics_compute(y, r->pred, r->proba, n, nclass, &r->overall);
    free(idx);
    free(ybuf);
    if (st)
        ns_cv_result_free(r);
    else
        *out = r;
    return st;
}

ns_status ns_cv_permutation_test(const ns_cv_params *cp, const double *x, size_t n, size_t p,
                                 const int *y, int nclass, double observed, int nperm,
                                 uint64_t seed, double *scores, double *pvalue)
{
    ns_cv_params q = *cp;
    q.observer = NULL;
    q.keep_models = 0;
    int *yp = ns_alloc(n, sizeof *yp);
    size_t *perm = ns_alloc(n, sizeof *perm);
    ns_rng *rng = ns_rng_create(seed);
    ns_status st = (!yp || !perm || !rng) ? NS_ERR_NOMEM : NS_OK;
    ns_progress *prog = st ? NULL : ns_progress_create("permutations", (size_t)nperm);
    int ge = 0;
    for (int t = 0; !st && t < nperm; t++) {
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        ns_rng_shuffle(rng, perm, n);
        for (size_t i = 0; i < n; i++)
            yp[i] = y[perm[i]];
        ns_cv_result *r = NULL;
        st = ns_cv_run(&q, x, n, p, yp, nclass, &r);
        if (!st) {
            double s = r->overall.balanced_accuracy;
            ge += s >= observed - 1e-12;
            if (scores)
                scores[t] = s;
        }
        ns_cv_result_free(r);
        ns_progress_update(prog, (size_t)t + 1);
    }
    ns_progress_free(prog);
    if (!st)
        *pvalue = (1.0 + ge) / (1.0 + nperm);
    free(yp);
    free(perm);
    ns_rng_free(rng);
    return st;
}
