/* ICASSO (Himberg et al. 2004) as GIFT uses it: R randomly initialised ICA
 * runs, |correlation| similarity, average-linkage clusters, the stability
 * index Iq, and the single most stable run (not centroids). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/ica_int.h"

void ns_icasso_clear(ns_icasso *r)
{
    if (!r)
        return;
    free(r->w), free(r->iq), free(r->cluster_size), free(r->intra), free(r->extra);
    free(r->run_info);
    memset(r, 0, sizeof *r);
}

/* Run r's unmixing. Bootstrap: ICA of V columns of z drawn with
 * replacement (seeded per run, its own stream), the unmixing then applies
 * to every column, as icassoEst does with the whitening fixed. */
static ns_status run_one(const ns_matrix *z, const ns_ica_opts *o, size_t r, size_t runs,
                         double *w, ns_ica_info *info)
{
    ns_ica_opts or = *o;
    int boot = runs > 1 && o->icasso_mode != NS_ICASSO_RANDINIT;
    if (runs > 1 && o->icasso_mode != NS_ICASSO_BOOTSTRAP)
        or.seed = ns_seed_derive(o->seed, r);
    if (!boot)
        return ns_ica_unmix(z, &or, w, info);
    size_t K = z->rows, V = z->cols;
    ns_matrix *zb = ns_matrix_create(K, V);
    ns_rng *rng = ns_rng_create(ns_seed_derive(ns_seed_derive(o->seed, 0xb007), r));
    ns_status st = zb && rng ? NS_OK : NS_ERR_NOMEM;
    for (size_t v = 0; st == NS_OK && v < V; v++) {
        size_t src = (size_t)ns_rng_below(rng, V);
        for (size_t i = 0; i < K; i++)
            NS_AT(zb, i, v) = NS_AT(z, i, src);
    }
    if (st == NS_OK)
        st = ns_ica_unmix(zb, &or, w, info);
    ns_matrix_free(zb);
    ns_rng_free(rng);
    return st;
}

static ns_status run_all(const ns_matrix *z, const ns_ica_opts *o, size_t runs, int nthreads,
                         double *wall, ns_ica_info *info)
{
    size_t K = z->rows;
    ns_ica_err err = {0};
    /* Runs in parallel; threads left over go inside the runs (one run: all). */
    int nt = nthreads < 1 ? 1 : nthreads;
    if ((size_t)nt > runs)
        nt = (int)runs;
    ns_ica_opts oi = *o;
    oi.nthreads = (nthreads < 1 ? 1 : nthreads) / nt;
    int old = nt > 1 ? ns_blas_threads(1) : 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (size_t r = 0; r < runs; r++) {
        if (err.code != NS_OK)
            continue;
        ns_status st = run_one(z, &oi, r, runs, wall + r * K * K, &info[r]);
        if (st != NS_OK)
            ns_ica_err_keep(&err, st);
    }
    if (nt > 1)
        ns_blas_threads(old);
    return ns_ica_err_raise(&err);
}

/* |corr| between all runs*K sources, from the unmixings and the row
 * covariance of z (sources are linear in z, so no K x V product needed). */
static ns_status similarity(const ns_matrix *z, const double *wall, size_t n, double *sim)
{
    size_t K = z->rows, V = z->cols;
    double *cov = ns_calloc(K * K, sizeof(double)), *mean = ns_calloc(K, sizeof(double));
    double *tmp = ns_alloc(n * K, sizeof(double));
    if (!cov || !mean || !tmp) {
        free(cov), free(mean), free(tmp);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < K; i++) {
        const float *r = z->data + i * z->stride;
        for (size_t v = 0; v < V; v++)
            mean[i] += r[v];
        mean[i] /= (double)V;
    }
    for (size_t i = 0; i < K; i++)
        for (size_t j = i; j < K; j++) {
            const float *a = z->data + i * z->stride, *b = z->data + j * z->stride;
            double s = 0;
            for (size_t v = 0; v < V; v++)
                s += (a[v] - mean[i]) * (b[v] - mean[j]);
            cov[i * K + j] = cov[j * K + i] = s;
        }
    ns_ica_dgemm(wall, cov, tmp, n, K, K);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)K, 1.0, tmp, (int)K,
                wall, (int)K, 0.0, sim, (int)n);
    for (size_t i = 0; i < n; i++)
        tmp[i] = sqrt(sim[i * n + i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            sim[i * n + j] = fabs(sim[i * n + j]) / (tmp[i] * tmp[j]);
    free(cov), free(mean), free(tmp);
    return NS_OK;
}

typedef struct {
    double iq, intra, extra;
    size_t size, centrotype;
} cluster_stat;

/* Iq = mean similarity over all member pairs (self included, as in
 * Himberg et al.) - mean similarity between members and non-members. */
static void cluster_stats(const double *sim, const int *label, size_t n, size_t k,
                          cluster_stat *cs)
{
    for (size_t c = 0; c < k; c++) {
        double in = 0, ex = 0, best = -1;
        size_t nin = 0, nex = 0, size = 0;
        for (size_t i = 0; i < n; i++) {
            if ((size_t)label[i] != c)
                continue;
            size++;
            double rowin = 0;
            for (size_t j = 0; j < n; j++) {
                if ((size_t)label[j] == c)
                    in += sim[i * n + j], nin++, rowin += sim[i * n + j];
                else
                    ex += sim[i * n + j], nex++;
            }
            if (rowin > best)
                best = rowin, cs[c].centrotype = i;
        }
        cs[c].size = size;
        cs[c].intra = nin ? in / (double)nin : NAN;
        cs[c].extra = nex ? ex / (double)nex : 0;
        cs[c].iq = cs[c].intra - cs[c].extra;
    }
}

/* GIFT: among clusters with Iq >= 0.7 and ceil(0.8 R) .. R members (all
 * clusters when none qualifies), the run whose components lie closest to
 * the centrotypes (highest mean best-|r|). */
static size_t most_stable_run(const double *sim, size_t runs, size_t K, const cluster_stat *cs)
{
    size_t n = runs * K, lo = (size_t)ceil(0.8 * (double)runs), ngood = 0;
    for (size_t c = 0; c < K; c++)
        ngood += cs[c].iq >= 0.7 && cs[c].size >= lo && cs[c].size <= runs;
    size_t best = 0;
    double bestscore = -1;
    for (size_t r = 0; r < runs; r++) {
        double score = 0;
        for (size_t c = 0; c < K; c++) {
            int good = cs[c].iq >= 0.7 && cs[c].size >= lo && cs[c].size <= runs;
            if (ngood && !good)
                continue;
            double mx = 0;
            for (size_t a = r * K; a < (r + 1) * K; a++)
                mx = fmax(mx, sim[a * n + cs[c].centrotype]);
            score += mx;
        }
        if (score > bestscore)
            bestscore = score, best = r;
    }
    return best;
}

static ns_status alloc_out(ns_icasso *out, size_t K, size_t runs)
{
    memset(out, 0, sizeof *out);
    out->k = K, out->runs = runs;
    out->w = ns_alloc(K * K, sizeof(double));
    out->iq = ns_alloc(K, sizeof(double));
    out->cluster_size = ns_alloc(K, sizeof(size_t));
    out->intra = ns_alloc(K, sizeof(double));
    out->extra = ns_alloc(K, sizeof(double));
    out->run_info = ns_calloc(runs, sizeof(ns_ica_info));
    if (!out->w || !out->iq || !out->cluster_size || !out->intra || !out->extra ||
        !out->run_info)
        return NS_ERR_NOMEM;
    return NS_OK;
}

static ns_status stability(const ns_matrix *z, const double *wall, ns_icasso *out)
{
    size_t K = out->k, runs = out->runs, n = runs * K;
    double *sim = ns_alloc(n * n, sizeof(double));
    int *label = ns_alloc(n, sizeof(int));
    cluster_stat *cs = ns_calloc(K, sizeof(cluster_stat));
    ns_status st = (sim && label && cs) ? similarity(z, wall, n, sim) : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = ns_ica_cluster_average(sim, n, K, label);
    if (st == NS_OK) {
        cluster_stats(sim, label, n, K, cs);
        size_t r = most_stable_run(sim, runs, K, cs);
        out->chosen_run = r;
        memcpy(out->w, wall + r * K * K, K * K * sizeof(double));
        for (size_t j = 0; j < K; j++) {
            const cluster_stat *c = &cs[label[r * K + j]];
            out->iq[j] = c->iq, out->intra[j] = c->intra, out->extra[j] = c->extra;
            out->cluster_size[j] = c->size;
        }
    }
    free(sim), free(label), free(cs);
    return st;
}

ns_status ns_ica_icasso(const ns_matrix *z, const ns_ica_opts *o, size_t runs, int nthreads,
                        ns_icasso *out)
{
    size_t K = z->rows;
    if (runs < 1)
        runs = 1;
    double *wall = ns_alloc(runs * K * K, sizeof(double));
    ns_status st = wall ? alloc_out(out, K, runs) : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = run_all(z, o, runs, nthreads, wall, out->run_info);
    if (st == NS_OK && runs == 1) {
        memcpy(out->w, wall, K * K * sizeof(double));
        for (size_t j = 0; j < K; j++) {
            out->iq[j] = out->intra[j] = out->extra[j] = NAN;
            out->cluster_size[j] = 1;
        }
    } else if (st == NS_OK) {
        st = stability(z, wall, out);
    }
    free(wall);
    if (st != NS_OK)
        ns_icasso_clear(out);
    return st;
}
