/* Dynamic FNC: tapered sliding windows, windowed correlation, state
 * statistics, subject exemplars. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

size_t ns_fnc_dfnc_nwindows(size_t T, size_t w)
{
    return T > w ? T - w : 0;
}

void ns_fnc_dfnc_taper(size_t T, size_t w, double sigma, size_t start, double *c)
{
    double peak = 0.0;
    for (size_t t = 0; t < T; t++) {
        double s = 0.0;
        for (size_t u = start; u < start + w && u < T; u++) {
            double d = (double)t - (double)u;
            s += sigma > 0.0 ? exp(-d * d / (2.0 * sigma * sigma)) : (d == 0.0);
        }
        c[t] = s;
        if (s > peak)
            peak = s;
    }
    for (size_t t = 0; t < T; t++)
        c[t] = peak > 0.0 ? c[t] / peak : 0.0;
}

/* One window: tapered series, correlation, Fisher z, upper triangle into o.
 * buf: T + 2 T K + K K + 2 K doubles. Returns 0 or 1 + the constant column. */
static size_t one_window(const double *x, size_t T, size_t K, size_t w, double sigma, size_t i,
                         double *buf, float *o)
{
    double *c = buf, *xw = c + T, *z = xw + T * K, *r = z + T * K, *st = r + K * K;
    ns_fnc_dfnc_taper(T, w, sigma, i, c);
    for (size_t t = 0; t < T; t++)
        for (size_t k = 0; k < K; k++)
            xw[t * K + k] = x[t * K + k] * c[t];
    size_t bad = ns_fnc__standardise(xw, T, K, z, st, st + K);
    if (bad < K)
        return bad + 1;
    ns_fnc__gram(z, T, K, r);
    size_t e = 0;
    for (size_t a = 0; a + 1 < K; a++) {
        ns_fnc_fisher_z(r + a * K + a + 1, K - a - 1, 0.0);
        for (size_t b = a + 1; b < K; b++)
            o[e++] = (float)r[a * K + b];
    }
    return 0;
}

ns_status ns_fnc_dfnc_windows(const double *x, size_t T, size_t K, size_t w, double sigma,
                              float *out)
{
    size_t nw = ns_fnc_dfnc_nwindows(T, w);
    if (nw == 0 || w < 2)
        return ns_error(NS_ERR_DATA, "window of %zu time points does not fit %zu time points", w,
                        T);
    size_t E = ns_fnc_nedges(K), per = T + 2 * T * K + K * K + 2 * K;
    size_t bad_win = nw, bad_col = 0;
    int nomem = 0, blas_old = ns_blas_threads(1); /* one BLAS thread per window's thread */
#pragma omp parallel
    {
        double *buf = malloc(per * sizeof(double));
        if (!buf) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(static)
        for (size_t i = 0; i < nw; i++) {
            size_t bad = buf ? one_window(x, T, K, w, sigma, i, buf, out + i * E) : 0;
            if (bad) {
#pragma omp critical(ns_fnc_dfnc_bad)
                if (i < bad_win) {
                    bad_win = i;
                    bad_col = bad - 1;
                }
            }
        }
        free(buf);
    }
    ns_blas_threads(blas_old);
    if (nomem)
        return ns_error(NS_ERR_NOMEM, "out of memory for windowed FNC");
    if (bad_win < nw)
        return ns_error(NS_ERR_DATA, "component %zu is constant in window %zu", bad_col + 1,
                        bad_win + 1);
    return NS_OK;
}

void ns_fnc_dfnc_exemplars(const float *win, size_t n, size_t d, size_t *idx, size_t *nidx)
{
    *nidx = 0;
    if (n == 0)
        return;
    double *sd = malloc(n * sizeof(double));
    if (!sd) { /* degrade to every window rather than fail */
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        *nidx = n;
        return;
    }
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0.0, ss = 0.0;
        for (size_t j = 0; j < d; j++) {
            s += win[i * d + j];
            ss += (double)win[i * d + j] * win[i * d + j];
        }
        double m = d ? s / (double)d : 0.0;
        sd[i] = d > 1 ? sqrt(fmax(0.0, (ss - d * m * m) / (double)(d - 1))) : 0.0;
        if (sd[i] > sd[best])
            best = i;
    }
    for (size_t i = 1; i + 1 < n; i++)
        if (sd[i] > sd[i - 1] && sd[i] > sd[i + 1])
            idx[(*nidx)++] = i;
    if (*nidx == 0)
        idx[(*nidx)++] = best;
    free(sd);
}

ns_status ns_fnc_state_stats_compute(const int *labels, size_t n, int k, ns_fnc_state_stats *s)
{
    memset(s, 0, sizeof *s);
    size_t kk = (size_t)k;
    s->fraction = ns_calloc(kk, sizeof(double));
    s->mean_dwell = ns_calloc(kk, sizeof(double));
    s->transitions = ns_calloc(kk * kk, sizeof(size_t));
    size_t *runs = ns_calloc(kk, sizeof(size_t));
    if (!s->fraction || !s->mean_dwell || !s->transitions || !runs) {
        free(runs);
        ns_fnc_state_stats_free(s);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k) {
            free(runs);
            ns_fnc_state_stats_free(s);
            return ns_error(NS_ERR_ARG, "state label %d outside 0..%d", labels[i], k - 1);
        }
        s->fraction[labels[i]] += 1.0;
        if (i == 0 || labels[i] != labels[i - 1])
            runs[labels[i]]++;
        if (i > 0 && labels[i] != labels[i - 1]) {
            s->transitions[(size_t)labels[i - 1] * kk + (size_t)labels[i]]++;
            s->ntransitions++;
        }
    }
    for (size_t j = 0; j < kk; j++) {
        s->mean_dwell[j] = runs[j] ? s->fraction[j] / (double)runs[j] : 0.0;
        s->fraction[j] = n ? s->fraction[j] / (double)n : 0.0;
    }
    free(runs);
    return NS_OK;
}

void ns_fnc_state_stats_free(ns_fnc_state_stats *s)
{
    if (!s)
        return;
    free(s->fraction);
    free(s->mean_dwell);
    free(s->transitions);
    memset(s, 0, sizeof *s);
}
