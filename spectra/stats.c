/* Group comparison: a block-stratified permutation test (labels shuffled
 * within each batch) and Benjamini-Hochberg FDR adjustment. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

typedef struct {
    int block;
    size_t i;
} keyed;

static int by_block(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    if (a->block != b->block)
        return a->block < b->block ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Between-group sum of squares sum_g n_g (mean_g - mean)^2. */
static double between_ss(const double *v, const int *g, size_t m, int ng, double *sum, size_t *cnt)
{
    double tot = 0, ss = 0;
    memset(sum, 0, (size_t)ng * sizeof *sum);
    memset(cnt, 0, (size_t)ng * sizeof *cnt);
    for (size_t i = 0; i < m; i++) {
        sum[g[i]] += v[i];
        cnt[g[i]]++;
        tot += v[i];
    }
    for (int k = 0; k < ng; k++)
        if (cnt[k])
            ss += sum[k] * sum[k] / (double)cnt[k];
    return ss - tot * tot / (double)m;
}

/* Keeps valid observations of blocks with >= 2 of them, sorted by block;
 * bstart receives block boundaries (nb + 1 entries). Returns m kept. */
static size_t prepare(const double *value, const int *group, const int *block, size_t n, int ng,
                      keyed *k, double *v, int *g, size_t *bstart, size_t *nb)
{
    size_t m = 0, out = 0;
    for (size_t i = 0; i < n; i++)
        if (group[i] >= 0 && group[i] < ng && isfinite(value[i]))
            k[m++] = (keyed){block ? block[i] : 0, i};
    qsort(k, m, sizeof *k, by_block);
    *nb = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && k[j].block == k[i].block)
            j++;
        if (j - i >= 2) {
            bstart[(*nb)++] = out;
            for (size_t t = i; t < j; t++, out++) {
                v[out] = value[k[t].i];
                g[out] = group[k[t].i];
            }
        }
        i = j;
    }
    bstart[*nb] = out;
    return out;
}

static void shuffle_blocks(ns_rng *rng, int *g, const size_t *bstart, size_t nb)
{
    for (size_t b = 0; b < nb; b++) {
        int *x = g + bstart[b];
        size_t len = bstart[b + 1] - bstart[b];
        for (size_t i = len - 1; i > 0; i--) {
            size_t j = (size_t)ns_rng_below(rng, i + 1);
            int t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
    }
}

ns_status ns_spectra_perm_test(const double *value, const int *group, const int *block, size_t n,
                               int ngroups, size_t nperm, uint64_t seed, double *stat, double *p,
                               double *diff)
{
    *stat = *p = NAN;
    if (diff)
        *diff = NAN;
    if (ngroups < 2 || n < 2)
        return NS_OK;
    keyed *k = ns_alloc(n, sizeof *k);
    double *v = ns_alloc(n, sizeof *v), *sum = ns_alloc((size_t)ngroups, sizeof *sum);
    int *g = ns_alloc(n, sizeof *g);
    size_t *bstart = ns_alloc(n + 1, sizeof *bstart), *cnt = ns_alloc((size_t)ngroups, sizeof *cnt);
    ns_rng *rng = ns_rng_create(seed);
    ns_status s = (k && v && sum && g && bstart && cnt && rng) ? NS_OK : NS_ERR_NOMEM;
    size_t nb = 0, m = s == NS_OK ? prepare(value, group, block, n, ngroups, k, v, g, bstart, &nb) : 0;
    int present = 0;
    if (m) {
        *stat = between_ss(v, g, m, ngroups, sum, cnt);
        for (int q = 0; q < ngroups; q++)
            present += cnt[q] > 0;
        if (diff && cnt[0] && cnt[1])
            *diff = sum[1] / (double)cnt[1] - sum[0] / (double)cnt[0];
    }
    if (present >= 2) {
        size_t ge = 0;
        double thr = *stat - 1e-12 * fabs(*stat); /* ties count as extreme */
        for (size_t it = 0; it < nperm; it++) {
            shuffle_blocks(rng, g, bstart, nb);
            ge += between_ss(v, g, m, ngroups, sum, cnt) >= thr;
        }
        *p = (1.0 + (double)ge) / (1.0 + (double)nperm);
    } else {
        *stat = NAN;
    }
    free(k); free(v); free(sum); free(g); free(bstart); free(cnt);
    ns_rng_free(rng);
    return s;
}

typedef struct {
    double p;
    size_t i;
} pidx;

static int by_p(const void *x, const void *y)
{
    const pidx *a = x, *b = y;
    return a->p < b->p ? -1 : a->p > b->p;
}

ns_status ns_spectra_bh(const double *p, size_t n, double *q)
{
    pidx *s = ns_alloc(n ? n : 1, sizeof *s);
    if (!s)
        return NS_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        q[i] = NAN;
        if (!isnan(p[i]))
            s[m++] = (pidx){p[i], i};
    }
    qsort(s, m, sizeof *s, by_p);
    double run = 1.0; /* q_(j) = min over k >= j of p_(k) m / k */
    for (size_t j = m; j-- > 0;) {
        double v = s[j].p * (double)m / (double)(j + 1);
        run = v < run ? v : run;
        q[s[j].i] = run;
    }
    free(s);
    return NS_OK;
}
