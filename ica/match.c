/* Hungarian matching of estimated to true components and the scores of
 * reference/ica_fnc.md section 5 (matched |r|, Amari index). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/ica_int.h"

/* Shortest augmenting paths with potentials (Kuhn-Munkres, O(n^2 m)).
 * Arrays are 1-based as in the classic formulation; index 0 is the virtual
 * start column. */
static void hungarian_core(const double *a, size_t n, size_t m, double *u, double *v, size_t *p,
                           size_t *way, double *minv, char *used)
{
    for (size_t i = 1; i <= n; i++) {
        p[0] = i;
        size_t j0 = 0;
        for (size_t j = 0; j <= m; j++)
            minv[j] = DBL_MAX, used[j] = 0;
        do {
            used[j0] = 1;
            size_t i0 = p[j0], j1 = 0;
            double delta = DBL_MAX;
            for (size_t j = 1; j <= m; j++) {
                if (used[j])
                    continue;
                double cur = a[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j])
                    minv[j] = cur, way[j] = j0;
                if (minv[j] < delta)
                    delta = minv[j], j1 = j;
            }
            for (size_t j = 0; j <= m; j++) {
                if (used[j])
                    u[p[j]] += delta, v[j] -= delta;
                else
                    minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            size_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
}

ns_status ns_ica_hungarian(const double *cost, size_t n, size_t m, int *assign)
{
    if (n > m)
        return ns_error(NS_ERR_ARG, "Hungarian matching: %zu rows but only %zu columns", n, m);
    for (size_t i = 0; i < n * m; i++)
        if (!isfinite(cost[i]))
            return ns_error(NS_ERR_ARG, "Hungarian matching: cost %zu is not finite", i);
    double *u = ns_calloc(n + 1, sizeof(double)), *v = ns_calloc(m + 1, sizeof(double));
    double *minv = ns_alloc(m + 1, sizeof(double));
    size_t *p = ns_calloc(m + 1, sizeof(size_t)), *way = ns_calloc(m + 1, sizeof(size_t));
    char *used = ns_alloc(m + 1, 1);
    ns_status st = (u && v && minv && p && way && used) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        hungarian_core(cost, n, m, u, v, p, way, minv, used);
        for (size_t j = 1; j <= m; j++)
            if (p[j])
                assign[p[j] - 1] = (int)(j - 1);
    }
    free(u), free(v), free(minv), free(p), free(way), free(used);
    return st;
}

/* Rows centred and scaled to unit norm, as doubles. */
static double *normalised_rows(const ns_matrix *a)
{
    double *d = ns_alloc(a->rows * a->cols, sizeof(double));
    if (!d)
        return NULL;
    for (size_t i = 0; i < a->rows; i++) {
        const float *r = a->data + i * a->stride;
        double *o = d + i * a->cols, m = 0, ss = 0;
        for (size_t j = 0; j < a->cols; j++)
            m += r[j];
        m /= (double)a->cols;
        for (size_t j = 0; j < a->cols; j++) {
            o[j] = r[j] - m;
            ss += o[j] * o[j];
        }
        double f = ss > 0 ? 1.0 / sqrt(ss) : 0;
        for (size_t j = 0; j < a->cols; j++)
            o[j] *= f;
    }
    return d;
}

ns_status ns_ica_corr_rows(const ns_matrix *a, const ns_matrix *b, double *r)
{
    if (a->cols != b->cols)
        return ns_error(NS_ERR_ARG, "correlation of rows of length %zu and %zu", a->cols,
                        b->cols);
    double *x = normalised_rows(a), *y = normalised_rows(b);
    if (!x || !y) {
        free(x), free(y);
        return NS_ERR_NOMEM;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->rows, (int)b->rows,
                (int)a->cols, 1.0, x, (int)a->cols, y, (int)b->cols, 0.0, r, (int)b->rows);
    free(x), free(y);
    return NS_OK;
}

void ns_ica_score_clear(ns_ica_score *s)
{
    if (!s)
        return;
    free(s->match), free(s->r);
    memset(s, 0, sizeof *s);
}

/* Assignment of the smaller side onto the larger, expressed per truth row. */
static ns_status assign_rows(const double *r, size_t nt, size_t ne, int *match)
{
    int tr = nt > ne;
    size_t n = tr ? ne : nt, m = tr ? nt : ne;
    double *cost = ns_alloc(n * m, sizeof(double));
    int *as = ns_alloc(n, sizeof(int));
    ns_status st = (cost && as) ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; st == NS_OK && i < n; i++)
        for (size_t j = 0; j < m; j++)
            cost[i * m + j] = 1.0 - fabs(tr ? r[j * ne + i] : r[i * ne + j]);
    if (st == NS_OK)
        st = ns_ica_hungarian(cost, n, m, as);
    if (st == NS_OK) {
        for (size_t i = 0; i < nt; i++)
            match[i] = -1;
        for (size_t i = 0; i < n; i++) {
            if (tr)
                match[as[i]] = (int)i;
            else
                match[i] = as[i];
        }
    }
    free(cost), free(as);
    return st;
}

ns_status ns_ica_match_score(const ns_matrix *truth, const ns_matrix *est, ns_ica_score *out)
{
    size_t nt = truth->rows, ne = est->rows;
    memset(out, 0, sizeof *out);
    if (nt == 0 || ne == 0)
        return ns_error(NS_ERR_ARG, "matching needs at least one row on each side");
    double *r = ns_alloc(nt * ne, sizeof(double));
    out->match = ns_alloc(nt, sizeof(int));
    out->r = ns_alloc(nt, sizeof(double));
    ns_status st = (r && out->match && out->r) ? ns_ica_corr_rows(truth, est, r) : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = assign_rows(r, nt, ne, out->match);
    if (st == NS_OK) {
        out->n = nt < ne ? nt : ne;
        out->min_r = INFINITY;
        double sum = 0;
        for (size_t i = 0; i < nt; i++) {
            out->r[i] = out->match[i] >= 0 ? r[i * ne + (size_t)out->match[i]] : NAN;
            if (out->match[i] < 0)
                continue;
            sum += fabs(out->r[i]);
            out->min_r = fmin(out->min_r, fabs(out->r[i]));
        }
        out->mean_r = sum / (double)out->n;
    }
    free(r);
    if (st != NS_OK)
        ns_ica_score_clear(out);
    return st;
}

double ns_ica_amari(const double *p, size_t n)
{
    if (n < 2)
        return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double mx = 0, sum = 0;
        for (size_t j = 0; j < n; j++)
            mx = fmax(mx, fabs(p[i * n + j])), sum += fabs(p[i * n + j]);
        s += mx > 0 ? sum / mx - 1 : (double)(n - 1);
    }
    for (size_t j = 0; j < n; j++) {
        double mx = 0, sum = 0;
        for (size_t i = 0; i < n; i++)
            mx = fmax(mx, fabs(p[i * n + j])), sum += fabs(p[i * n + j]);
        s += mx > 0 ? sum / mx - 1 : (double)(n - 1);
    }
    return s / (2.0 * (double)n * (double)(n - 1));
}
