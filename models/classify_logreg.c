/* Logistic regression with scikit-learn's objective and C convention:
 *   L2: min  C sum_i sw_i loss_i + 1/2 ||W||^2   (binary: one weight vector
 *       and the logistic loss; more classes: multinomial cross-entropy, as
 *       LogisticRegression(solver='lbfgs')), solved by L-BFGS;
 *   L1: min  C sum_i sw_i loss_i + ||w||_1        per class one-vs-rest,
 *       solved by coordinate descent on the IRLS quadratic model with a
 *       backtracking line search (newGLMNET); the same optimum as
 *       solver='saga' for two classes.
 * The intercept is never penalised. sw_i are class weights ('balanced'). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/classify_int.h"

typedef struct {
    int ncoef;        /* rows of coef: 1 (binary) or nclass */
    double *coef;     /* ncoef x p */
    double *intercept;/* ncoef */
    int ovr;          /* L1 with > 2 classes: one-vs-rest probabilities */
} logreg_state;

static void logreg_destroy(ns_clf *c)
{
    logreg_state *s = c->state;
    if (s) {
        free(s->coef);
        free(s->intercept);
        free(s);
    }
    c->state = NULL;
}

/* ---------------------------------------------------------- L2 binary */

typedef struct {
    const double *x;
    const int *y;
    const double *sw; /* per-row weights, C folded in */
    size_t n, p;
    int nclass, fit_intercept;
    double *z;        /* n (binary) or n x nclass scratch */
} l2_ctx;

static double l2_binary_fg(void *vctx, const double *w, double *g)
{
    l2_ctx *c = vctx;
    size_t n = c->n, p = c->p;
    double b = c->fit_intercept ? w[p] : 0.0, f = 0, gb = 0;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)p, 1.0, c->x, (int)p, w, 1, 0.0,
                c->z, 1);
    for (size_t i = 0; i < n; i++) {
        double zi = c->z[i] + b, t = c->y[i] == 1 ? 1.0 : 0.0;
        f += c->sw[i] * ns_log1pexp(c->y[i] == 1 ? -zi : zi);
        c->z[i] = c->sw[i] * (ns_sigmoid(zi) - t);
        gb += c->z[i];
    }
    memcpy(g, w, p * sizeof *g);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, 1.0, c->x, (int)p, c->z, 1, 1.0, g,
                1);
    if (c->fit_intercept)
        g[p] = gb;
    return f + 0.5 * cblas_ddot((int)p, w, 1, w, 1);
}

/* Multinomial: w = coef (K x p, row-major) then K intercepts. */
static double l2_multi_fg(void *vctx, const double *w, double *g)
{
    l2_ctx *c = vctx;
    size_t n = c->n, p = c->p, K = (size_t)c->nclass;
    const double *b = w + K * p;
    double f = 0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)p, 1.0, c->x,
                (int)p, w, (int)p, 0.0, c->z, (int)K);
    if (c->fit_intercept)
        memset(g + K * p, 0, K * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        double *zi = c->z + i * K;
        for (size_t k = 0; k < K; k++)
            zi[k] += c->fit_intercept ? b[k] : 0.0;
        ns_softmax_row(zi, K); /* zi now holds probabilities */
        f += c->sw[i] * -log(fmax(zi[c->y[i]], 1e-300));
        zi[c->y[i]] -= 1.0;
        for (size_t k = 0; k < K; k++) {
            zi[k] *= c->sw[i];
            if (c->fit_intercept)
                g[K * p + k] += zi[k];
        }
    }
    memcpy(g, w, K * p * sizeof *g);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)p, (int)n, 1.0, c->z,
                (int)K, c->x, (int)p, 1.0, g, (int)p);
    return f + 0.5 * cblas_ddot((int)(K * p), w, 1, w, 1);
}

static ns_status fit_l2(ns_clf *cl, logreg_state *s, const double *x, size_t n, size_t p,
                        const int *y, const double *sw)
{
    int K = cl->nclass, binary = K == 2;
    size_t nv = binary ? p + 1 : (size_t)K * (p + 1);
    l2_ctx ctx = {x, y, sw, n, p, K, cl->par.fit_intercept, NULL};
    double *w = ns_calloc(nv, sizeof *w), *g = ns_calloc(nv, sizeof *g);
    ctx.z = ns_alloc(n * (size_t)(binary ? 1 : K), sizeof *ctx.z);
    ns_status st = (!w || !g || !ctx.z) ? NS_ERR_NOMEM : NS_OK;
    if (!st) {
        ns_lbfgs_fn fn = binary ? l2_binary_fg : l2_multi_fg;
        fn(&ctx, w, g); /* gradient at zero sets the scale of the tolerance */
        double g0 = 0;
        for (size_t i = 0; i < nv; i++)
            g0 = fmax(g0, fabs(g[i]));
        st = ns_lbfgs_minimize(fn, &ctx, w, nv, cl->par.max_iter * 10,
                               cl->par.tol * fmax(g0, 1.0), NULL);
    }
    if (!st) {
        size_t nc = binary ? 1 : (size_t)K;
        for (size_t k = 0; k < nc; k++) {
            memcpy(s->coef + k * p, binary ? w : w + k * p, p * sizeof *w);
            s->intercept[k] = binary ? w[p] : w[(size_t)K * p + k];
        }
    }
    free(w);
    free(g);
    free(ctx.z);
    return st;
}

/* ------------------------------------------------------------- fitting */

static ns_status logreg_fit(ns_clf *c, const double *x, size_t n, size_t p, const int *y,
                            int nclass)
{
    logreg_destroy(c);
    logreg_state *s = ns_calloc(1, sizeof *s);
    if (!s)
        return NS_ERR_NOMEM;
    c->state = s;
    s->ncoef = nclass == 2 ? 1 : nclass;
    s->ovr = c->par.kind == NS_CLF_LOGREG_L1 && nclass > 2;
    s->coef = ns_calloc((size_t)s->ncoef * p, sizeof *s->coef);
    s->intercept = ns_calloc((size_t)s->ncoef, sizeof *s->intercept);
    double cw[256];
    double *sw = ns_alloc(n, sizeof *sw);
    if (!s->coef || !s->intercept || !sw || nclass > 256) {
        free(sw);
        return nclass > 256 ? ns_error(NS_ERR_ARG, "too many classes (%d)", nclass) : NS_ERR_NOMEM;
    }
    ns_class_weights(y, n, nclass, c->par.balanced, cw);
    for (size_t i = 0; i < n; i++)
        sw[i] = c->par.C * cw[y[i]];
    ns_status st;
    if (c->par.kind == NS_CLF_LOGREG_L2)
        st = fit_l2(c, s, x, n, p, y, sw);
    else
        st = ns_logreg_l1_fit(x, n, p, y, nclass, sw, c->par.fit_intercept, c->par.tol,
                              c->par.max_iter, s->coef, s->intercept);
    free(sw);
    return st;
}

static ns_status logreg_decision(const ns_clf *c, const double *x, size_t n, double *out)
{
    const logreg_state *s = c->state;
    size_t K = (size_t)s->ncoef, p = c->p;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)p, 1.0, x,
                (int)p, s->coef, (int)p, 0.0, out, (int)K);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++)
            out[i * K + k] += s->intercept[k];
    return NS_OK;
}

static ns_status logreg_proba(const ns_clf *c, const double *x, size_t n, double *out)
{
    const logreg_state *s = c->state;
    size_t K = (size_t)c->nclass;
    if (K == 2) {
        double *d = ns_alloc(n, sizeof *d);
        if (!d)
            return NS_ERR_NOMEM;
        logreg_decision(c, x, n, d);
        for (size_t i = 0; i < n; i++) {
            out[2 * i + 1] = ns_sigmoid(d[i]);
            out[2 * i] = 1.0 - out[2 * i + 1];
        }
        free(d);
        return NS_OK;
    }
    logreg_decision(c, x, n, out);
    for (size_t i = 0; i < n; i++) {
        double *r = out + i * K, sum = 0;
        if (!s->ovr) {
            ns_softmax_row(r, K);
            continue;
        }
        for (size_t k = 0; k < K; k++)
            sum += (r[k] = ns_sigmoid(r[k])); /* sklearn's OvR normalisation */
        for (size_t k = 0; k < K; k++)
            r[k] /= sum;
    }
    return NS_OK;
}

static ns_status logreg_save(const ns_clf *c, ns_npz *z)
{
    const logreg_state *s = c->state;
    size_t shape[2] = {(size_t)s->ncoef, c->p};
    ns_status st = ns_npz_add_f64(z, "coef", s->coef, 2, shape);
    if (!st)
        st = ns_npz_add_f64(z, "intercept", s->intercept, 1, shape);
    return st;
}

const ns_clf_vtable ns_clf_logreg_vt = {
    "logistic regression", logreg_fit, logreg_decision, logreg_proba, logreg_save,
    logreg_destroy,
};
