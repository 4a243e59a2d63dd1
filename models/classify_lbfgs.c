/* Limited-memory BFGS for the smooth convex objectives of the L2 logistic
 * regression (the role scipy's L-BFGS-B plays in sklearn's lbfgs solver). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/classify_int.h"

#define LBFGS_M 10

typedef struct {
    double *s, *y, *rho, *alpha; /* m x n, m x n, m, m */
    int count, head;
} lbfgs_mem;

/* Two-loop recursion: d = -H g. */
static void lbfgs_direction(const lbfgs_mem *mem, size_t n, const double *g, double *d)
{
    int m = mem->count;
    memcpy(d, g, n * sizeof *d);
    for (int t = 0; t < m; t++) {
        int i = (mem->head - 1 - t + LBFGS_M) % LBFGS_M;
        double a = mem->rho[i] * cblas_ddot((int)n, mem->s + (size_t)i * n, 1, d, 1);
        mem->alpha[i] = a;
        cblas_daxpy((int)n, -a, mem->y + (size_t)i * n, 1, d, 1);
    }
    if (m > 0) {
        int last = (mem->head - 1 + LBFGS_M) % LBFGS_M;
        const double *yl = mem->y + (size_t)last * n;
        double gamma = 1.0 / (mem->rho[last] * cblas_ddot((int)n, yl, 1, yl, 1));
        cblas_dscal((int)n, gamma, d, 1);
    }
    for (int t = m - 1; t >= 0; t--) {
        int i = (mem->head - 1 - t + LBFGS_M) % LBFGS_M;
        double b = mem->rho[i] * cblas_ddot((int)n, mem->y + (size_t)i * n, 1, d, 1);
        cblas_daxpy((int)n, mem->alpha[i] - b, mem->s + (size_t)i * n, 1, d, 1);
    }
    cblas_dscal((int)n, -1.0, d, 1);
}

static void lbfgs_push(lbfgs_mem *mem, size_t n, const double *s, const double *y)
{
    double sy = cblas_ddot((int)n, s, 1, y, 1);
    if (!(sy > 1e-300))
        return; /* curvature condition failed: keep the old pairs */
    int i = mem->head;
    memcpy(mem->s + (size_t)i * n, s, n * sizeof *s);
    memcpy(mem->y + (size_t)i * n, y, n * sizeof *y);
    mem->rho[i] = 1.0 / sy;
    mem->head = (mem->head + 1) % LBFGS_M;
    if (mem->count < LBFGS_M)
        mem->count++;
}

static double max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

/* Backtracking line search with the Armijo condition; w1/g1 receive the
 * accepted point. Returns the new f, or NAN when no decrease was found. */
static double line_search(ns_lbfgs_fn fg, void *ctx, const double *w, double f, const double *g,
                          const double *d, size_t n, double step, double *w1, double *g1)
{
    double slope = cblas_ddot((int)n, g, 1, d, 1);
    if (!(slope < 0))
        return NAN;
    for (int t = 0; t < 60; t++, step *= 0.5) {
        memcpy(w1, w, n * sizeof *w);
        cblas_daxpy((int)n, step, d, 1, w1, 1);
        double f1 = fg(ctx, w1, g1);
        if (isfinite(f1) && f1 <= f + 1e-4 * step * slope)
            return f1;
    }
    return NAN;
}

ns_status ns_lbfgs_minimize(ns_lbfgs_fn fg, void *ctx, double *w, size_t n, int max_iter,
                            double gtol, int *iters)
{
    lbfgs_mem mem = {0};
    double *buf = ns_calloc(2 * LBFGS_M * n + 2 * LBFGS_M + 6 * n, sizeof *buf);
    if (!buf)
        return NS_ERR_NOMEM;
    mem.s = buf;
    mem.y = mem.s + LBFGS_M * n;
    mem.rho = mem.y + LBFGS_M * n;
    mem.alpha = mem.rho + LBFGS_M;
    double *g = mem.alpha + LBFGS_M, *d = g + n, *w1 = d + n, *g1 = w1 + n;
    double *sv = g1 + n, *yv = sv + n;
    double f = fg(ctx, w, g);
    int it = 0;
    ns_status st = NS_OK;
    for (; it < max_iter && max_abs(g, n) > gtol; it++) {
        lbfgs_direction(&mem, n, g, d);
        double step = it == 0 ? fmin(1.0, 1.0 / fmax(max_abs(g, n), 1e-300)) : 1.0;
        double f1 = line_search(fg, ctx, w, f, g, d, n, step, w1, g1);
        if (isnan(f1)) {
            if (mem.count == 0)
                break; /* steepest descent cannot decrease f: at machine precision */
            mem.count = 0; /* restart from steepest descent */
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            sv[i] = w1[i] - w[i];
            yv[i] = g1[i] - g[i];
        }
        lbfgs_push(&mem, n, sv, yv);
        memcpy(w, w1, n * sizeof *w);
        memcpy(g, g1, n * sizeof *g);
        if (f - f1 <= 1e-15 * fmax(fabs(f), 1.0) && max_abs(g, n) <= 1e3 * gtol)
            break; /* no further progress possible in double precision */
        f = f1;
    }
    if (!isfinite(f))
        st = ns_error(NS_ERR_NUMERIC, "L-BFGS: objective is not finite");
    if (iters)
        *iters = it;
    free(buf);
    return st;
}
