/* Sequential minimal optimisation for the C-SVC dual (libsvm's solver, the
 * one behind sklearn's SVC): working-set selection with second-order
 * information (Fan, Chen and Lin 2005), no shrinking, a dense kernel matrix.
 *   min 1/2 a^T Q a - e^T a,  0 <= a_i <= C_i,  y^T a = 0,  Q_ij = y_i y_j K_ij
 * Also Platt's sigmoid fit (Lin, Lin and Weng 2007) for probabilities. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

#define TAU 1e-12

typedef struct {
    const double *K;
    size_t ldk;
    const size_t *idx;
    const signed char *y;
    const double *C;
    double *alpha, *G;
    size_t n;
} smo_prob;

static inline double kij(const smo_prob *s, size_t i, size_t j)
{
    return s->K[s->idx[i] * s->ldk + s->idx[j]];
}
static inline int upper(const smo_prob *s, size_t i) { return s->alpha[i] >= s->C[i]; }
static inline int lower(const smo_prob *s, size_t i) { return s->alpha[i] <= 0; }

/* Returns 1 when optimal (within eps), else sets *pi, *pj. */
static int select_pair(const smo_prob *s, double eps, size_t *pi, size_t *pj)
{
    double gmax = -INFINITY, gmax2 = -INFINITY, best = INFINITY;
    long i = -1, j = -1;
    for (size_t t = 0; t < s->n; t++) {
        double v = s->y[t] > 0 ? -s->G[t] : s->G[t];
        if ((s->y[t] > 0 ? !upper(s, t) : !lower(s, t)) && v >= gmax) {
            gmax = v;
            i = (long)t;
        }
    }
    if (i < 0)
        return 1;
    double kii = kij(s, (size_t)i, (size_t)i);
    for (size_t t = 0; t < s->n; t++) {
        int pos = s->y[t] > 0;
        if (pos ? lower(s, t) : upper(s, t))
            continue;
        double v = pos ? s->G[t] : -s->G[t];
        gmax2 = fmax(gmax2, v);
        double diff = gmax + v;
        if (diff <= 0)
            continue;
        double quad = kii + kij(s, t, t) - 2.0 * s->y[i] * s->y[t] * kij(s, (size_t)i, t);
        double obj = -(diff * diff) / (quad > 0 ? quad : TAU);
        if (obj <= best) {
            best = obj;
            j = (long)t;
        }
    }
    if (gmax + gmax2 < eps || j < 0)
        return 1;
    *pi = (size_t)i;
    *pj = (size_t)j;
    return 0;
}

/* libsvm's analytic two-variable update, clipped to the box. */
static void update_pair(smo_prob *s, size_t i, size_t j)
{
    double *a = s->alpha, Ci = s->C[i], Cj = s->C[j];
    double qij = s->y[i] * s->y[j] * kij(s, i, j);
    double qdi = kij(s, i, i), qdj = kij(s, j, j);
    if (s->y[i] != s->y[j]) {
        double quad = qdi + qdj + 2 * qij, diff = a[i] - a[j];
        double delta = (-s->G[i] - s->G[j]) / (quad > 0 ? quad : TAU);
        a[i] += delta;
        a[j] += delta;
        if (diff > 0 && a[j] < 0) { a[j] = 0; a[i] = diff; }
        if (diff <= 0 && a[i] < 0) { a[i] = 0; a[j] = -diff; }
        if (diff > Ci - Cj && a[i] > Ci) { a[i] = Ci; a[j] = Ci - diff; }
        if (diff <= Ci - Cj && a[j] > Cj) { a[j] = Cj; a[i] = Cj + diff; }
    } else {
        double quad = qdi + qdj - 2 * qij, sum = a[i] + a[j];
        double delta = (s->G[i] - s->G[j]) / (quad > 0 ? quad : TAU);
        a[i] -= delta;
        a[j] += delta;
        if (sum > Ci && a[i] > Ci) { a[i] = Ci; a[j] = sum - Ci; }
        if (sum <= Ci && a[j] < 0) { a[j] = 0; a[i] = sum; }
        if (sum > Cj && a[j] > Cj) { a[j] = Cj; a[i] = sum - Cj; }
        if (sum <= Cj && a[i] < 0) { a[i] = 0; a[j] = sum; }
    }
}

static double compute_rho(const smo_prob *s)
{
    double ub = INFINITY, lb = -INFINITY, sum = 0;
    size_t nfree = 0;
    for (size_t i = 0; i < s->n; i++) {
        double yg = s->y[i] * s->G[i];
        int pos = s->y[i] > 0;
        if (upper(s, i)) {
            if (pos) lb = fmax(lb, yg); else ub = fmin(ub, yg);
        } else if (lower(s, i)) {
            if (pos) ub = fmin(ub, yg); else lb = fmax(lb, yg);
        } else {
            nfree++;
            sum += yg;
        }
    }
    return nfree ? sum / (double)nfree : (ub + lb) / 2;
}

ns_status ns_smo_solve(const double *K, size_t ldk, const size_t *idx, size_t n,
                       const signed char *y, const double *C, double eps, long max_iter,
                       double *alpha, double *rho, long *iters)
{
    double *G = ns_alloc(n, sizeof *G);
    if (!G)
        return NS_ERR_NOMEM;
    smo_prob s = {K, ldk, idx, y, C, alpha, G, n};
    int npos = 0;
    for (size_t i = 0; i < n; i++) {
        alpha[i] = 0;
        G[i] = -1.0;
        npos += y[i] > 0;
    }
    if (npos == 0 || (size_t)npos == n) { /* one class only (a fold without the other) */
        *rho = n ? -(double)y[0] : 0.0;
        if (iters)
            *iters = 0;
        free(G);
        return NS_OK;
    }
    long it = 0;
    size_t i, j;
    for (; it < max_iter && !select_pair(&s, eps, &i, &j); it++) {
        double ai = alpha[i], aj = alpha[j];
        update_pair(&s, i, j);
        double dai = alpha[i] - ai, daj = alpha[j] - aj;
        for (size_t t = 0; t < n; t++)
            G[t] += y[t] * (y[i] * kij(&s, i, t) * dai + y[j] * kij(&s, j, t) * daj);
    }
    *rho = compute_rho(&s);
    if (iters)
        *iters = it;
    free(G);
    return NS_OK;
}

/* --------------------------------------------------------------- Platt */

static double platt_obj(const double *dec, const double *t, size_t n, double A, double B)
{
    double f = 0;
    for (size_t i = 0; i < n; i++) {
        double z = dec[i] * A + B;
        f += z >= 0 ? t[i] * z + log1p(exp(-z)) : (t[i] - 1) * z + log1p(exp(z));
    }
    return f;
}

void ns_platt_fit(const double *dec, const int *pos, size_t n, double *pa, double *pb)
{
    double np = 0, nn = 0;
    for (size_t i = 0; i < n; i++)
        pos[i] ? np++ : nn++;
    double hi = (np + 1) / (np + 2), lo = 1 / (nn + 2), A = 0, B = log((nn + 1) / (np + 1));
    double *t = malloc(n * sizeof *t);
    if (!t) {
        *pa = -1, *pb = 0;
        return;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = pos[i] ? hi : lo;
    double f = platt_obj(dec, t, n, A, B);
    for (int it = 0; it < 100; it++) {
        double h11 = 1e-12, h22 = 1e-12, h21 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double q = ns_sigmoid(dec[i] * A + B), p = 1 - q; /* p = P(pos) */
            double d2 = p * q, d1 = t[i] - p;
            h11 += dec[i] * dec[i] * d2;
            h22 += d2;
            h21 += dec[i] * d2;
            g1 += dec[i] * d1;
            g2 += d1;
        }
        if (fabs(g1) < 1e-5 && fabs(g2) < 1e-5)
            break;
        double det = h11 * h22 - h21 * h21;
        double dA = -(h22 * g1 - h21 * g2) / det, dB = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * dA + g2 * dB, step = 1;
        for (; step >= 1e-10; step /= 2) {
            double nf = platt_obj(dec, t, n, A + step * dA, B + step * dB);
            if (nf < f + 1e-4 * step * gd) {
                A += step * dA, B += step * dB, f = nf;
                break;
            }
        }
        if (step < 1e-10)
            break;
    }
    free(t);
    *pa = A;
    *pb = B;
}
