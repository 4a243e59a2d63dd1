/* Adapter: the neural networks of nn.h behind the classifier interface, so
 * that cross-validation, selection and metrics treat them like the others.
 * par.nn_options is a fully set ns_nn_config (spec parsed, optimiser,
 * epochs...); the sample shape comes from par.in_ndim/in_shape (tabular {p}
 * when in_ndim is 0). The networks work in float32: inputs are converted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"
#include "models/nn.h"

static void nn_destroy(ns_clf *c)
{
    ns_nn_free(c->state);
    c->state = NULL;
}

static float *to_f32(const double *x, size_t count)
{
    float *f = ns_alloc(count ? count : 1, sizeof *f);
    for (size_t i = 0; f && i < count; i++)
        f[i] = (float)x[i];
    return f;
}

static ns_status nn_fit(ns_clf *c, const double *x, size_t n, size_t p, const int *y,
                        int nclass)
{
    nn_destroy(c);
    if (!c->par.nn_options)
        return ns_error(NS_ERR_ARG, "network classifier without a configuration (%s)",
                        c->par.nn_spec ? c->par.nn_spec : "?");
    ns_nn_config cfg = *(const ns_nn_config *)c->par.nn_options;
    /* tabular samples take the width seen at fit (selection may narrow it) */
    int ndim = c->par.in_ndim == 2 ? 2 : 1;
    size_t shape[2] = {ndim == 2 ? c->par.in_shape[0] : p, c->par.in_shape[1]};
    if (ndim == 2 && shape[0] * shape[1] != p)
        return ns_error(NS_ERR_ARG, "sequences of %zu x %zu values but %zu features (%s)",
                        shape[0], shape[1], p, c->par.nn_spec ? c->par.nn_spec : "network");
    ns_nn *m = NULL;
    ns_status st = ns_nn_create(&cfg, ndim, shape, nclass, &m);
    if (st)
        return st;
    c->state = m;
    float *xf = to_f32(x, n * p);
    int32_t *yi = ns_alloc(n ? n : 1, sizeof *yi);
    if (!xf || !yi)
        st = NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < n; i++)
        yi[i] = y[i];
    const ns_clf_nn_hooks *hk = c->par.nn_hooks;
    int tag = c->par.tag;
    if (!st && hk && hk->created)
        st = hk->created(hk->ctx, m, tag);
    if (!st)
        st = hk && hk->fit ? hk->fit(hk->ctx, m, xf, yi, n, tag)
                           : ns_nn_fit(m, xf, yi, n, NULL, NULL, 0);
    if (!st && hk && hk->trained)
        st = hk->trained(hk->ctx, m, tag);
    free(xf);
    free(yi);
    return st;
}

static ns_status nn_proba(const ns_clf *c, const double *x, size_t n, double *out)
{
    size_t K = (size_t)c->nclass;
    float *xf = to_f32(x, n * c->p), *pf = ns_alloc(n * K, sizeof *pf);
    ns_status st = (!xf || !pf) ? NS_ERR_NOMEM : ns_nn_predict(c->state, xf, n, pf);
    for (size_t i = 0; !st && i < n * K; i++)
        out[i] = pf[i];
    free(xf);
    free(pf);
    return st;
}

/* Decision values: log-odds of class 1 (binary) or log-probabilities. */
static ns_status nn_decision(const ns_clf *c, const double *x, size_t n, double *out)
{
    size_t K = (size_t)c->nclass;
    double *pr = ns_alloc(n * K, sizeof *pr);
    if (!pr)
        return NS_ERR_NOMEM;
    ns_status st = nn_proba(c, x, n, pr);
    for (size_t i = 0; !st && i < n; i++) {
        if (K == 2)
            out[i] = log(fmax(pr[2 * i + 1], 1e-300)) - log(fmax(pr[2 * i], 1e-300));
        else
            for (size_t k = 0; k < K; k++)
                out[i * K + k] = log(fmax(pr[i * K + k], 1e-300));
    }
    free(pr);
    return st;
}

static ns_status nn_save(const ns_clf *c, ns_npz *z)
{
    return ns_nn_save_npz(c->state, z);
}

const ns_clf_vtable ns_clf_nn_vt = {
    "neural network", nn_fit, nn_decision, nn_proba, nn_save, nn_destroy,
};
