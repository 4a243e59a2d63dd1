/* The classifier interface: parameters, dispatch to the implementations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify.h"
#include "models/classify_int.h"

void ns_clf_params_default(ns_clf_params *p, ns_clf_kind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->C = 1.0;
    p->gamma = 0.0;
    p->fit_intercept = 1;
    p->seed = 0;
    if (kind == NS_CLF_LOGREG_L2 || kind == NS_CLF_LOGREG_L1) {
        p->tol = 1e-8;
        p->max_iter = 1000;
    } else {
        p->tol = 1e-3;
        p->max_iter = 10000000;
    }
}

static const struct {
    const char *name;
    ns_clf_kind kind;
} kind_names[] = {
    {"logreg", NS_CLF_LOGREG_L2},         {"logreg-l2", NS_CLF_LOGREG_L2},
    {"logreg-l1", NS_CLF_LOGREG_L1},      {"svm-linear", NS_CLF_SVM_LINEAR},
    {"svm", NS_CLF_SVM_LINEAR},           {"svm-rbf", NS_CLF_SVM_RBF},
    {"svm-precomputed", NS_CLF_SVM_PRECOMPUTED},
};

ns_status ns_clf_kind_parse(const char *s, ns_clf_kind *out)
{
    if (!s || !*s)
        return ns_error(NS_ERR_ARG, "empty model name");
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (!strcmp(s, kind_names[i].name)) {
            *out = kind_names[i].kind;
            return NS_OK;
        }
    *out = NS_CLF_NN;
    return NS_OK;
}

const char *ns_clf_kind_name(ns_clf_kind k)
{
    switch (k) {
    case NS_CLF_LOGREG_L2: return "logreg";
    case NS_CLF_LOGREG_L1: return "logreg-l1";
    case NS_CLF_SVM_LINEAR: return "svm-linear";
    case NS_CLF_SVM_RBF: return "svm-rbf";
    case NS_CLF_SVM_PRECOMPUTED: return "svm-precomputed";
    case NS_CLF_NN: return "nn";
    }
    return "?";
}

ns_status ns_clf_create(const ns_clf_params *par, ns_clf **out)
{
    *out = NULL;
    if (!(par->C > 0) || !isfinite(par->C))
        return ns_error(NS_ERR_ARG, "C must be positive (C=%g)", par->C);
    ns_clf *c = ns_calloc(1, sizeof *c);
    if (!c)
        return NS_ERR_NOMEM;
    c->par = *par;
    switch (par->kind) {
    case NS_CLF_LOGREG_L2:
    case NS_CLF_LOGREG_L1: c->vt = &ns_clf_logreg_vt; break;
    case NS_CLF_SVM_LINEAR:
    case NS_CLF_SVM_RBF:
    case NS_CLF_SVM_PRECOMPUTED: c->vt = &ns_clf_svm_vt; break;
    case NS_CLF_NN: c->vt = &ns_clf_nn_vt; break;
    default: free(c); return ns_error(NS_ERR_ARG, "unknown classifier kind %d", (int)par->kind);
    }
    *out = c;
    return NS_OK;
}

void ns_clf_free(ns_clf *c)
{
    if (!c)
        return;
    if (c->vt && c->vt->destroy)
        c->vt->destroy(c);
    free(c);
}

static ns_status check_labels(const int *y, size_t n, int nclass)
{
    if (nclass < 2)
        return ns_error(NS_ERR_DATA, "need at least two classes (got %d)", nclass);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= nclass)
            return ns_error(NS_ERR_ARG, "label %d of row %zu outside 0..%d", y[i], i, nclass - 1);
    return NS_OK;
}

ns_status ns_clf_fit(ns_clf *c, const double *x, size_t n, size_t p, const int *y, int nclass)
{
    ns_status st = check_labels(y, n, nclass);
    if (st)
        return st;
    if (n == 0 || p == 0)
        return ns_error(NS_ERR_DATA, "no training data (%zu rows, %zu columns)", n, p);
    for (size_t i = 0; i < n * p; i++)
        if (!isfinite(x[i]))
            return ns_error(NS_ERR_DATA, "non-finite feature value (row %zu, column %zu)",
                            i / p, i % p);
    c->p = p;
    c->nclass = nclass;
    return c->vt->fit(c, x, n, p, y, nclass);
}

int ns_clf_ndecision(const ns_clf *c)
{
    return c->nclass == 2 ? 1 : c->nclass;
}

ns_status ns_clf_decision(const ns_clf *c, const double *x, size_t n, double *out)
{
    if (!c->nclass)
        return ns_error(NS_ERR_ARG, "classifier used before fit (%s)", c->vt->name);
    return c->vt->decision(c, x, n, out);
}

ns_status ns_clf_proba(const ns_clf *c, const double *x, size_t n, double *out)
{
    if (!c->nclass)
        return ns_error(NS_ERR_ARG, "classifier used before fit (%s)", c->vt->name);
    return c->vt->proba(c, x, n, out);
}

ns_status ns_clf_predict(const ns_clf *c, const double *x, size_t n, int *pred)
{
    int k = c->nclass;
    double *pr = ns_alloc(n * (size_t)(k ? k : 1), sizeof *pr);
    if (!pr)
        return NS_ERR_NOMEM;
    ns_status st = ns_clf_proba(c, x, n, pr);
    for (size_t i = 0; !st && i < n; i++)
        pred[i] = ns_argmax(pr + i * (size_t)k, (size_t)k);
    free(pr);
    return st;
}

ns_status ns_clf_save(const ns_clf *c, ns_npz *z)
{
    if (!c->vt->save)
        return ns_error(NS_ERR_UNSUPPORTED, "classifier cannot be saved (%s)", c->vt->name);
    return c->vt->save(c, z);
}

/* ------------------------------------------------------------- helpers */

int ns_argmax(const double *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return (int)b;
}

void ns_softmax_row(double *v, size_t n)
{
    double m = v[0], s = 0;
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    for (size_t i = 0; i < n; i++)
        s += (v[i] = exp(v[i] - m));
    for (size_t i = 0; i < n; i++)
        v[i] /= s;
}

double ns_sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* log(1 + exp(z)) without overflow. */
double ns_log1pexp(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

void ns_class_weights(const int *y, size_t n, int nclass, int balanced, double *w)
{
    for (int k = 0; k < nclass; k++)
        w[k] = 1.0;
    if (!balanced)
        return;
    size_t *cnt = calloc((size_t)nclass, sizeof *cnt);
    if (!cnt)
        return;
    for (size_t i = 0; i < n; i++)
        cnt[y[i]]++;
    for (int k = 0; k < nclass; k++)
        w[k] = cnt[k] ? (double)n / ((double)nclass * (double)cnt[k]) : 1.0;
    free(cnt);
}

ns_status ns_npz_add_f64(ns_npz *z, const char *name, const double *d, int ndim,
                         const size_t *shape)
{
    ns_array *a = ns_array_from_f64(d, ndim, shape);
    if (!a)
        return NS_ERR_NOMEM;
    return ns_npz_add(z, name, a);
}

ns_status ns_npz_add_index(ns_npz *z, const char *name, const size_t *v, size_t n)
{
    ns_array *a = ns_array_create(NS_DT_I64, 1, &n);
    if (!a)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        ((int64_t *)a->data)[i] = (int64_t)v[i];
    return ns_npz_add(z, name, a);
}
