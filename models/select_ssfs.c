/* Soft sequential forward selection (SSFS) across feature domains.
 *
 * Domains are groups of columns (FNC blocks of one model-order pair, one
 * component's maps, ...). On the training rows only:
 *   1. inside every domain, columns are ranked by ANOVA F and the top
 *      per_domain kept (all when 0);
 *   2. every domain is scored alone by inner stratified CV (mean balanced
 *      accuracy of the classifier) and the domains are ordered by that score;
 *   3. forward pass in that order: a domain is added when the inner-CV score
 *      of the enlarged set is at least the current score minus `tolerance`
 *      (soft acceptance lets a domain that only pays off with the next one
 *      through); `patience` consecutive rejections or `k` domains stop it;
 *   4. the result is the best-scoring set met on the way (ties: the smaller).
 * At most 2 x ndomain inner-CV evaluations, against O(ndomain^2) for a plain
 * SFS that tries every remaining domain at every step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

static ns_status rank_domains(int nd, ns_ssfs_score_fn fn, void *ctx, size_t *order,
                              double *alone)
{
    for (int d = 0; d < nd; d++) {
        ns_status st = fn(ctx, &d, 1, &alone[d]);
        if (st)
            return st;
    }
    ns_rank_desc(alone, (size_t)nd, order);
    return NS_OK;
}

ns_status ns_ssfs_core(const ns_sel_params *sp, int nd, ns_ssfs_score_fn fn, void *ctx,
                       int *chosen, size_t *nchosen)
{
    if (nd <= 0)
        return ns_error(NS_ERR_ARG, "soft forward selection over zero domains");
    size_t *order = ns_alloc((size_t)nd, sizeof *order);
    double *alone = ns_alloc((size_t)nd, sizeof *alone);
    int *cur = ns_alloc((size_t)nd, sizeof *cur);
    ns_status st = (!order || !alone || !cur) ? NS_ERR_NOMEM : rank_domains(nd, fn, ctx, order,
                                                                            alone);
    size_t kmax = sp->k ? sp->k : (size_t)nd, ncur = 0, nbest = 0;
    int rejected = 0, patience = sp->patience > 0 ? sp->patience : 3;
    double cur_score = -INFINITY, best = -INFINITY;
    for (size_t t = 0; !st && t < (size_t)nd && ncur < kmax && rejected < patience; t++) {
        double sc;
        cur[ncur] = (int)order[t];
        if (ncur == 0)
            sc = alone[order[t]];
        else if ((st = fn(ctx, cur, ncur + 1, &sc)))
            break;
        if (ncur > 0 && sc < cur_score - sp->tolerance) {
            rejected++;
            continue;
        }
        rejected = 0;
        cur_score = sc;
        ncur++;
        if (sc > best + 1e-12) {
            best = sc;
            nbest = ncur;
        }
    }
    if (!st) {
        memcpy(chosen, cur, nbest * sizeof *cur);
        *nchosen = nbest;
    }
    free(order);
    free(alone);
    free(cur);
    return st;
}

/* ------------------------------------------------------------ tabular */

typedef struct {
    const ns_sel_params *sp;
    const ns_clf_params *clf;
    const double *x;
    size_t n, p;
    const int *y;
    int nclass;
    size_t **dcols; /* per domain: kept columns */
    size_t *dn;
    size_t *cols;   /* scratch p */
    double *xs;     /* scratch n x p */
} tab_ctx;

static size_t gather_cols(const tab_ctx *c, const int *doms, size_t nd, size_t *cols)
{
    size_t m = 0;
    for (size_t t = 0; t < nd; t++) {
        memcpy(cols + m, c->dcols[doms[t]], c->dn[doms[t]] * sizeof *cols);
        m += c->dn[doms[t]];
    }
    ns_sort_indices(cols, m);
    return m;
}

static ns_status tab_score(void *vctx, const int *doms, size_t nd, double *score)
{
    tab_ctx *c = vctx;
    size_t m = gather_cols(c, doms, nd, c->cols);
    ns_take_cols(c->x, c->n, c->p, c->cols, m, c->xs);
    return ns_cv_inner_score(c->clf, c->xs, c->n, m, c->y, c->nclass, c->sp->inner_folds,
                             c->sp->seed, 0, score);
}

/* Step 1: per domain, columns ranked by F, top per_domain kept. */
static ns_status domain_columns(tab_ctx *c, int nd)
{
    double *f = ns_alloc(c->p, sizeof *f);
    size_t *order = ns_alloc(c->p, sizeof *order);
    if (!f || !order) {
        free(f);
        free(order);
        return NS_ERR_NOMEM;
    }
    ns_status st = ns_select_anova(c->x, c->n, c->p, c->y, c->nclass, f, NULL);
    ns_rank_desc(f, c->p, order);
    for (size_t r = 0; !st && r < c->p; r++) {
        size_t j = order[r];
        int d = c->sp->domain ? c->sp->domain[j] : (int)j;
        if (d < 0 || d >= nd) {
            st = ns_error(NS_ERR_ARG, "column %zu has domain %d outside 0..%d", j, d, nd - 1);
            break;
        }
        if (!c->sp->per_domain || c->dn[d] < c->sp->per_domain)
            c->dcols[d][c->dn[d]++] = j;
    }
    free(f);
    free(order);
    return st;
}

ns_status ns_select_ssfs(const ns_sel_params *sp, const ns_clf_params *clf, const double *x,
                         size_t n, size_t p, const int *y, int nclass, size_t *cols,
                         size_t *ncols)
{
    int nd = sp->domain ? sp->ndomain : (int)p;
    tab_ctx c = {sp, clf, x, n, p, y, nclass, NULL, NULL, NULL, NULL};
    c.dcols = ns_calloc((size_t)nd, sizeof *c.dcols);
    c.dn = ns_calloc((size_t)nd, sizeof *c.dn);
    size_t *pool = ns_alloc(p, sizeof *pool);
    int *chosen = ns_alloc((size_t)nd, sizeof *chosen);
    c.cols = ns_alloc(p, sizeof *c.cols);
    c.xs = ns_alloc(n * p, sizeof *c.xs);
    ns_status st = (!c.dcols || !c.dn || !pool || !chosen || !c.cols || !c.xs) ? NS_ERR_NOMEM
                                                                               : NS_OK;
    if (!st) { /* every domain's slice of one pool, sized by a count pass */
        size_t off = 0;
        for (size_t j = 0; j < p; j++)
            c.dn[sp->domain ? (sp->domain[j] >= 0 && sp->domain[j] < nd ? sp->domain[j] : 0)
                            : (int)j]++;
        for (int d = 0; d < nd; d++) {
            c.dcols[d] = pool + off;
            off += c.dn[d];
            c.dn[d] = 0;
        }
        st = domain_columns(&c, nd);
    }
    size_t nch = 0;
    if (!st)
        st = ns_ssfs_core(sp, nd, tab_score, &c, chosen, &nch);
    if (!st)
        *ncols = gather_cols(&c, chosen, nch, cols);
    free(c.dcols);
    free(c.dn);
    free(pool);
    free(chosen);
    free(c.cols);
    free(c.xs);
    return st;
}

/* ----------------------------------------------------------- subspace */

typedef struct {
    const ns_sel_params *sp;
    const ns_clf_params *clf;
    const ns_subspace_set *s;
    const size_t *rows;
    size_t nrows;
    const int *y;   /* labels of the rows, in row order */
    int nclass;
    double *kfull, *ksub;
    size_t *comps;
} sub_ctx;

static ns_status sub_score(void *vctx, const int *doms, size_t nd, double *score)
{
    sub_ctx *c = vctx;
    size_t n = ns_subspace_set_count(c->s), m = c->nrows;
    for (size_t t = 0; t < nd; t++)
        c->comps[t] = (size_t)doms[t];
    ns_status st = ns_subspace_kernel(c->s, c->comps, nd, c->kfull);
    if (st)
        return st;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            c->ksub[i * m + j] = c->kfull[c->rows[i] * n + c->rows[j]];
    return ns_cv_inner_score(c->clf, c->ksub, m, m, c->y, c->nclass, c->sp->inner_folds,
                             c->sp->seed, 1, score);
}

ns_status ns_select_ssfs_subspace(const ns_sel_params *sp, const ns_clf_params *clf,
                                  const ns_subspace_set *s, const size_t *rows, size_t nrows,
                                  const int *y, int nclass, size_t *comps, size_t *ncomp)
{
    size_t n = ns_subspace_set_count(s), k = ns_subspace_set_ncomp(s);
    sub_ctx c = {sp, clf, s, rows, nrows, NULL, nclass, NULL, NULL, NULL};
    int *yr = ns_alloc(nrows, sizeof *yr), *chosen = ns_alloc(k, sizeof *chosen);
    c.kfull = ns_alloc(n * n, sizeof *c.kfull);
    c.ksub = ns_alloc(nrows * nrows, sizeof *c.ksub);
    c.comps = ns_alloc(k, sizeof *c.comps);
    ns_status st = (!yr || !chosen || !c.kfull || !c.ksub || !c.comps) ? NS_ERR_NOMEM : NS_OK;
    for (size_t i = 0; !st && i < nrows; i++)
        yr[i] = y[rows[i]];
    c.y = yr;
    size_t nch = 0;
    if (!st)
        st = ns_ssfs_core(sp, (int)k, sub_score, &c, chosen, &nch);
    for (size_t t = 0; !st && t < nch; t++)
        comps[t] = (size_t)chosen[t];
    if (!st) {
        ns_sort_indices(comps, nch);
        *ncomp = nch;
    }
    free(yr);
    free(chosen);
    free(c.kfull);
    free(c.ksub);
    free(c.comps);
    return st;
}
