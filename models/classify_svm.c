/* Support vector classifiers as sklearn's SVC: linear, RBF or precomputed
 * kernel, one-vs-one for more than two classes with the 'ovr' shaped
 * decision function, class weights, probabilities by Platt's sigmoid on the
 * training decisions (binary) or a softmax of the 'ovr' decisions (more
 * classes; sklearn's internal 5-fold Platt is not reproduced). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/classify_int.h"

typedef struct {
    size_t nsv;
    size_t *sv;       /* training row of each support vector */
    double *sv_x;     /* nsv x p (not for precomputed kernels) */
    int npair;
    double *coef;     /* npair x nsv: alpha_i y_i, +1 = first class of the pair */
    double *rho;      /* npair */
    double *w;        /* linear: npair x p primal weights */
    double gamma;
    double platt_a, platt_b;
} svm_state;

static void svm_destroy(ns_clf *c)
{
    svm_state *s = c->state;
    if (s) {
        free(s->sv);
        free(s->sv_x);
        free(s->coef);
        free(s->rho);
        free(s->w);
        free(s);
    }
    c->state = NULL;
}

void ns_kernel_rbf(const double *a, size_t na, const double *b, size_t nb, size_t p,
                   double gamma, double *k)
{
    double *bn = malloc((nb ? nb : 1) * sizeof *bn);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)p, -2.0, a,
                (int)p, b, (int)p, 0.0, k, (int)nb);
    for (size_t j = 0; bn && j < nb; j++)
        bn[j] = cblas_ddot((int)p, b + j * p, 1, b + j * p, 1);
    for (size_t i = 0; i < na; i++) {
        double ai = cblas_ddot((int)p, a + i * p, 1, a + i * p, 1);
        for (size_t j = 0; j < nb; j++) {
            double bj = bn ? bn[j] : cblas_ddot((int)p, b + j * p, 1, b + j * p, 1);
            k[i * nb + j] = exp(-gamma * fmax(ai + bj + k[i * nb + j], 0.0));
        }
    }
    free(bn);
}

/* sklearn's gamma='scale': 1 / (p var(x)), 1 when x is constant. */
static double gamma_scale(const double *x, size_t n, size_t p)
{
    double m = 0, v = 0, cnt = (double)n * (double)p;
    for (size_t i = 0; i < n * p; i++)
        m += x[i];
    m /= cnt;
    for (size_t i = 0; i < n * p; i++)
        v += (x[i] - m) * (x[i] - m);
    v /= cnt;
    return v > 0 ? 1.0 / ((double)p * v) : 1.0;
}

/* Kernel between rows a (na x p) and b (nb x p) for the fitted kind. */
static void kernel_rows(const ns_clf *c, double gamma, const double *a, size_t na,
                        const double *b, size_t nb, size_t p, double *k)
{
    if (c->par.kind == NS_CLF_SVM_RBF)
        ns_kernel_rbf(a, na, b, nb, p, gamma, k);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)p, 1.0, a,
                    (int)p, b, (int)p, 0.0, k, (int)nb);
}

/* Solves every one-vs-one pair; coef_full (npair x n) gets alpha_i y_i. */
static ns_status solve_pairs(const ns_clf *c, const double *K, size_t n, const int *y,
                             int nclass, double *coef_full, double *rho)
{
    double cw[256];
    ns_class_weights(y, n, nclass, c->par.balanced, cw);
    size_t *idx = ns_alloc(n, sizeof *idx);
    signed char *yy = ns_alloc(n, 1);
    double *Cb = ns_alloc(n, sizeof *Cb), *alpha = ns_alloc(n, sizeof *alpha);
    ns_status st = (!idx || !yy || !Cb || !alpha) ? NS_ERR_NOMEM : NS_OK;
    int q = 0;
    for (int a = 0; a < nclass && !st; a++)
        for (int b = a + 1; b < nclass && !st; b++, q++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (y[i] == a || y[i] == b) {
                    idx[m] = i;
                    yy[m] = y[i] == a ? 1 : -1;
                    Cb[m++] = c->par.C * cw[y[i]];
                }
            st = ns_smo_solve(K, n, idx, m, yy, Cb, c->par.tol, c->par.max_iter, alpha,
                              &rho[q], NULL);
            for (size_t t = 0; t < m && !st; t++)
                coef_full[(size_t)q * n + idx[t]] = alpha[t] * yy[t];
        }
    free(idx);
    free(yy);
    free(Cb);
    free(alpha);
    return st;
}

/* Keeps the rows with a non-zero coefficient in any pair. */
static ns_status collect_support(ns_clf *c, svm_state *s, const double *x, size_t n, size_t p,
                                 const double *coef_full)
{
    size_t np = (size_t)s->npair, nsv = 0;
    s->sv = ns_alloc(n ? n : 1, sizeof *s->sv);
    if (!s->sv)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < np; q++)
            if (coef_full[q * n + i] != 0) {
                s->sv[nsv++] = i;
                break;
            }
    s->nsv = nsv;
    s->coef = ns_calloc(np * (nsv ? nsv : 1), sizeof *s->coef);
    if (!s->coef)
        return NS_ERR_NOMEM;
    for (size_t q = 0; q < np; q++)
        for (size_t t = 0; t < nsv; t++)
            s->coef[q * nsv + t] = coef_full[q * n + s->sv[t]];
    if (c->par.kind == NS_CLF_SVM_PRECOMPUTED)
        return NS_OK;
    s->sv_x = ns_alloc(nsv * p + 1, sizeof *s->sv_x);
    if (!s->sv_x)
        return NS_ERR_NOMEM;
    ns_take_rows(x, p, s->sv, nsv, s->sv_x);
    if (c->par.kind == NS_CLF_SVM_LINEAR) {
        s->w = ns_calloc(np * p, sizeof *s->w);
        if (!s->w)
            return NS_ERR_NOMEM;
        if (nsv)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)np, (int)p, (int)nsv,
                        1.0, s->coef, (int)nsv, s->sv_x, (int)p, 0.0, s->w, (int)p);
    }
    return NS_OK;
}

static ns_status build_kernel(const ns_clf *c, svm_state *s, const double *x, size_t n,
                              size_t p, double **K)
{
    *K = NULL;
    if (c->par.kind == NS_CLF_SVM_PRECOMPUTED) {
        if (p != n)
            return ns_error(NS_ERR_DATA, "precomputed kernel must be square (%zu x %zu)", n, p);
        return NS_OK;
    }
    if ((double)n * (double)n * 8.0 > 4e9)
        return ns_error(NS_ERR_NOMEM, "SVM kernel matrix too large (%zu training rows)", n);
    s->gamma = c->par.gamma > 0 ? c->par.gamma : gamma_scale(x, n, p);
    *K = ns_alloc(n * n, sizeof **K);
    if (!*K)
        return NS_ERR_NOMEM;
    kernel_rows(c, s->gamma, x, n, x, n, p, *K);
    return NS_OK;
}

static ns_status svm_decision(const ns_clf *c, const double *x, size_t n, double *out);

static ns_status svm_fit(ns_clf *c, const double *x, size_t n, size_t p, const int *y,
                         int nclass)
{
    svm_destroy(c);
    svm_state *s = ns_calloc(1, sizeof *s);
    if (!s)
        return NS_ERR_NOMEM;
    c->state = s;
    if (nclass > 256)
        return ns_error(NS_ERR_ARG, "too many classes (%d)", nclass);
    s->npair = nclass * (nclass - 1) / 2;
    double *K = NULL, *coef_full = ns_calloc((size_t)s->npair * n, sizeof *coef_full);
    s->rho = ns_calloc((size_t)s->npair, sizeof *s->rho);
    ns_status st = (!coef_full || !s->rho) ? NS_ERR_NOMEM : build_kernel(c, s, x, n, p, &K);
    if (!st)
        st = solve_pairs(c, K ? K : x, n, y, nclass, coef_full, s->rho);
    if (!st)
        st = collect_support(c, s, x, n, p, coef_full);
    free(K);
    free(coef_full);
    if (st || nclass != 2)
        return st;
    double *dec = ns_alloc(n, sizeof *dec);
    int *pos = ns_alloc(n, sizeof *pos);
    if (!dec || !pos)
        st = NS_ERR_NOMEM;
    if (!st)
        st = svm_decision(c, x, n, dec);
    for (size_t i = 0; !st && i < n; i++)
        pos[i] = y[i] == 1;
    if (!st)
        ns_platt_fit(dec, pos, n, &s->platt_a, &s->platt_b);
    free(dec);
    free(pos);
    return st;
}

/* sklearn's _ovr_decision_function: votes plus confidences squashed into
 * (-1/3, 1/3) so that they only break ties. */
static void ovo_to_ovr(const double *pair, int nclass, double *out)
{
    double conf[256] = {0};
    int q = 0;
    for (int k = 0; k < nclass; k++)
        out[k] = 0;
    for (int a = 0; a < nclass; a++)
        for (int b = a + 1; b < nclass; b++, q++) {
            conf[a] += pair[q];
            conf[b] -= pair[q];
            out[pair[q] > 0 ? a : b] += 1;
        }
    for (int k = 0; k < nclass; k++)
        out[k] += conf[k] / (3 * (fabs(conf[k]) + 1));
}

/* Pair decisions (n x npair), +1 = first class of the pair. */
static ns_status pair_decisions(const ns_clf *c, const double *x, size_t n, double *pd)
{
    const svm_state *s = c->state;
    size_t np = (size_t)s->npair, nsv = s->nsv, p = c->p;
    double *kx = ns_alloc(n * nsv + 1, sizeof *kx);
    if (!kx)
        return NS_ERR_NOMEM;
    if (c->par.kind == NS_CLF_SVM_PRECOMPUTED) {
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < nsv; t++)
                kx[i * nsv + t] = x[i * p + s->sv[t]];
    } else if (nsv) {
        kernel_rows(c, s->gamma, x, n, s->sv_x, nsv, p, kx);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < np; q++)
            pd[i * np + q] = (nsv ? cblas_ddot((int)nsv, kx + i * nsv, 1, s->coef + q * nsv, 1)
                                  : 0.0) - s->rho[q];
    free(kx);
    return NS_OK;
}

static ns_status svm_decision(const ns_clf *c, const double *x, size_t n, double *out)
{
    const svm_state *s = c->state;
    size_t np = (size_t)s->npair, K = (size_t)c->nclass;
    double *pd = ns_alloc(n * np, sizeof *pd);
    if (!pd)
        return NS_ERR_NOMEM;
    ns_status st = pair_decisions(c, x, n, pd);
    for (size_t i = 0; !st && i < n; i++) {
        if (K == 2)
            out[i] = -pd[i]; /* positive = class 1, as sklearn flips it */
        else
            ovo_to_ovr(pd + i * np, (int)K, out + i * K);
    }
    free(pd);
    return st;
}

static ns_status svm_proba(const ns_clf *c, const double *x, size_t n, double *out)
{
    const svm_state *s = c->state;
    size_t K = (size_t)c->nclass;
    double *d = ns_alloc(n * (K == 2 ? 1 : K), sizeof *d);
    if (!d)
        return NS_ERR_NOMEM;
    ns_status st = svm_decision(c, x, n, d);
    for (size_t i = 0; !st && i < n; i++) {
        if (K == 2) {
            out[2 * i + 1] = ns_sigmoid(-(s->platt_a * d[i] + s->platt_b));
            out[2 * i] = 1 - out[2 * i + 1];
        } else {
            memcpy(out + i * K, d + i * K, K * sizeof *d);
            ns_softmax_row(out + i * K, K);
        }
    }
    free(d);
    return st;
}

/* sklearn's attributes: binary dual_coef/coef/intercept are sign-flipped so
 * that decision = dual_coef K + intercept is positive for class 1. */
static ns_status svm_save(const ns_clf *c, ns_npz *z)
{
    const svm_state *s = c->state;
    size_t np = (size_t)s->npair, nsv = s->nsv, p = c->p;
    double sign = c->nclass == 2 ? -1.0 : 1.0;
    double *buf = ns_alloc(np * (nsv > p ? nsv : p) + nsv + np + 1, sizeof *buf);
    if (!buf)
        return NS_ERR_NOMEM;
    size_t sh[2] = {np, nsv};
    for (size_t i = 0; i < np * nsv; i++)
        buf[i] = sign * s->coef[i];
    ns_status st = ns_npz_add_f64(z, "dual_coef", buf, 2, sh);
    for (size_t q = 0; q < np; q++)
        buf[q] = -sign * s->rho[q];
    if (!st)
        st = ns_npz_add_f64(z, "intercept", buf, 1, sh);
    if (!st)
        st = ns_npz_add_index(z, "support", s->sv, nsv);
    if (!st && s->sv_x) {
        size_t sh2[2] = {nsv, p};
        st = ns_npz_add_f64(z, "support_vectors", s->sv_x, 2, sh2);
    }
    if (!st && s->w) {
        size_t sh2[2] = {np, p};
        for (size_t i = 0; i < np * p; i++)
            buf[i] = sign * s->w[i];
        st = ns_npz_add_f64(z, "coef", buf, 2, sh2);
    }
    size_t one = 1;
    if (!st && c->par.kind == NS_CLF_SVM_RBF)
        st = ns_npz_add_f64(z, "gamma", &s->gamma, 1, &one);
    free(buf);
    return st;
}

const ns_clf_vtable ns_clf_svm_vt = {
    "support vector machine", svm_fit, svm_decision, svm_proba, svm_save, svm_destroy,
};
