/* Univariate feature ranking: one-way ANOVA F per column (sklearn's
 * f_classif; for two classes F = t^2 of the pooled-variance t-test), top-k or
 * p < pmax. Also the dispatcher of ns_select_fit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "models/classify_int.h"

void ns_sel_params_default(ns_sel_params *p)
{
    memset(p, 0, sizeof *p);
    p->kind = NS_SEL_NONE;
    p->pmax = 0.05;
    p->inner_folds = 3;
    p->tolerance = 0.01;
    p->patience = 3;
}

ns_status ns_select_anova(const double *x, size_t n, size_t p, const int *y, int nclass,
                          double *f, double *pval)
{
    double *sum = ns_calloc((size_t)nclass, sizeof *sum);
    size_t *cnt = ns_calloc((size_t)nclass, sizeof *cnt);
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return NS_ERR_NOMEM;
    }
    int groups = 0;
    for (size_t i = 0; i < n; i++)
        cnt[y[i]]++;
    for (int k = 0; k < nclass; k++)
        groups += cnt[k] > 0;
    double dfb = groups - 1, dfw = (double)n - groups;
    for (size_t j = 0; j < p; j++) {
        double tot = 0, ss_tot = 0, ss_b = 0;
        memset(sum, 0, (size_t)nclass * sizeof *sum);
        for (size_t i = 0; i < n; i++) {
            sum[y[i]] += x[i * p + j];
            tot += x[i * p + j];
        }
        double mean = tot / (double)n;
        for (size_t i = 0; i < n; i++)
            ss_tot += (x[i * p + j] - mean) * (x[i * p + j] - mean);
        for (int k = 0; k < nclass; k++)
            if (cnt[k])
                ss_b += (double)cnt[k] * (sum[k] / cnt[k] - mean) * (sum[k] / cnt[k] - mean);
        double ss_w = ss_tot - ss_b;
        double F = 0, pv = 1;
        if (dfb > 0 && dfw > 0 && ss_tot > 1e-14 * (1 + mean * mean) * (double)n) {
            F = ss_w > 0 ? (ss_b / dfb) / (ss_w / dfw) : INFINITY;
            pv = isinf(F) ? 0.0 : gsl_cdf_fdist_Q(F, dfb, dfw);
        }
        f[j] = F;
        if (pval)
            pval[j] = pv;
    }
    free(sum);
    free(cnt);
    return NS_OK;
}

static int by_key_desc(const void *a, const void *b, void *key)
{
    const double *k = key;
    double ka = k[*(const size_t *)a], kb = k[*(const size_t *)b];
    if (ka != kb && !(isnan(ka) && isnan(kb)))
        return (ka > kb || isnan(kb)) ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1; /* ties: lower index first */
}
static int by_index(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    return ia < ib ? -1 : ia > ib;
}

void ns_rank_desc(const double *key, size_t p, size_t *order)
{
    for (size_t j = 0; j < p; j++)
        order[j] = j;
    qsort_r(order, p, sizeof *order, by_key_desc, (void *)key);
}

void ns_sort_indices(size_t *v, size_t n)
{
    qsort(v, n, sizeof *v, by_index);
}

static ns_status select_univariate(const ns_sel_params *sp, const double *x, size_t n,
                                   size_t p, const int *y, int nclass, size_t *cols,
                                   size_t *ncols)
{
    double *f = ns_alloc(2 * p, sizeof *f);
    size_t *order = ns_alloc(p, sizeof *order);
    ns_status st = (!f || !order) ? NS_ERR_NOMEM : ns_select_anova(x, n, p, y, nclass, f, f + p);
    if (!st) {
        ns_rank_desc(f, p, order);
        size_t k = 0;
        if (sp->k > 0)
            k = sp->k < p ? sp->k : p;
        else
            while (k < p && f[p + order[k]] < sp->pmax)
                k++;
        if (k == 0)
            k = 1; /* nothing passes: keep the best column rather than none */
        memcpy(cols, order, k * sizeof *cols);
        ns_sort_indices(cols, k);
        *ncols = k;
    }
    free(f);
    free(order);
    return st;
}

ns_status ns_select_fit(const ns_sel_params *sp, const ns_clf_params *clf, const double *x,
                        size_t n, size_t p, const int *y, int nclass, size_t **cols,
                        size_t *ncols)
{
    *cols = ns_alloc(p ? p : 1, sizeof **cols);
    if (!*cols)
        return NS_ERR_NOMEM;
    ns_status st = NS_OK;
    switch (sp->kind) {
    case NS_SEL_NONE:
        for (size_t j = 0; j < p; j++)
            (*cols)[j] = j;
        *ncols = p;
        break;
    case NS_SEL_UNIVARIATE:
        st = select_univariate(sp, x, n, p, y, nclass, *cols, ncols);
        break;
    case NS_SEL_SSFS:
        st = ns_select_ssfs(sp, clf, x, n, p, y, nclass, *cols, ncols);
        break;
    }
    if (st) {
        free(*cols);
        *cols = NULL;
    }
    return st;
}
