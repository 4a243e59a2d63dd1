/* `neurospectra train --dist`: MPI start-up and shut-down, sites dealt to
 * ranks, and the CV driver's fit hook. The hooks' ctx is shared with other
 * stages (spectra), so the state of the one distributed run a process makes
 * lives here. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist_int.h"

static struct {
    ns_dist *d;
    int failed;         /* a fit failed here: other ranks may be waiting */
    int *site;          /* global site of every table row */
    size_t n;
    char *out_dir, *scratch;
    ns_cv_observer prev;
    void *prev_ctx;
    size_t *rows, nrows; /* the rows of the coming fit */
} G;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void at_exit(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin && G.failed)
        MPI_Abort(MPI_COMM_WORLD, 1); /* do not leave the other ranks in a collective */
    ns_dist_free(G.d);
    if (G.scratch)
        nftw(G.scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(G.scratch), free(G.out_dir), free(G.site), free(G.rows);
    memset(&G, 0, sizeof G);
    if (init && !fin)
        MPI_Finalize();
}

ns_status ns_dist_mpi_begin(void)
{
    int init = 0;
    MPI_Initialized(&init);
    if (init)
        return NS_OK;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return ns_error(NS_ERR_IO, "cannot initialise MPI (distributed training)");
    atexit(at_exit);
    return NS_OK;
}

static void observe(void *ctx, int fold, const size_t *rows, size_t nrows)
{
    (void)ctx;
    size_t *c = realloc(G.rows, (nrows ? nrows : 1) * sizeof *c);
    if (c) {
        memcpy(c, rows, nrows * sizeof *c);
        G.rows = c, G.nrows = nrows;
    } else {
        G.nrows = (size_t)-1;
    }
    if (G.prev)
        G.prev(G.prev_ctx, fold, rows, nrows);
}

/* The rows of the fit, all of this rank's sites (the table was cut to them
 * by ns_dist_train_keep), then the distributed fit and the outputs. */
static ns_status fit_hook(void *ctx, void *nn, const float *x, const int32_t *y, size_t n, int tag)
{
    (void)ctx;
    if (G.nrows != n)
        return ns_error(NS_ERR_INTERNAL, "the rows of a %zu-row fit are unknown (tag %d, "
                        "distributed training)", n, tag);
    size_t in = ns_nn_input_size(nn), k = 0;
    float *xl = ns_alloc(n * in + 1, sizeof *xl);
    int32_t *yl = ns_alloc(n + 1, sizeof *yl);
    int *sl = ns_alloc(n + 1, sizeof *sl);
    ns_status st = xl && yl && sl ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < n; i++) {
        int s = G.rows[i] < G.n ? G.site[G.rows[i]] : -1;
        if (s < 0 || ns_dist_site_rank(s, ns_dist_size(G.d)) != ns_dist_rank(G.d)) {
            st = ns_error(NS_ERR_INTERNAL, "row %zu of a fit is not one of this rank's sites "
                          "(rank %d, distributed training)", G.rows[i], ns_dist_rank(G.d));
            break;
        }
        memcpy(xl + k * in, x + i * in, in * sizeof *xl);
        yl[k] = y[i], sl[k++] = s;
    }
    if (!st)
        st = ns_dist_fit(G.d, nn, xl, yl, k, sl, tag);
    if (!st)
        st = ns_dist_write(G.d, G.out_dir);
    G.failed |= st != NS_OK;
    free(xl), free(yl), free(sl);
    return st;
}

static ns_status assign_sites(const ns_dist_train_args *a, int size)
{
    char **names = NULL;
    int nsites = 0;
    ns_status st;
    if (a->site_column) {
        st = ns_dist_sites_from_tsv(a->labels, a->site_column, a->ids, a->n, &G.site, &names,
                                    &nsites);
    } else {
        nsites = size;
        G.site = ns_alloc(a->n + 1, sizeof *G.site);
        names = ns_calloc((size_t)size, sizeof *names);
        st = G.site && names ? NS_OK : NS_ERR_NOMEM;
        for (int r = 0; !st && r < size; r++)
            if (asprintf(&names[r], "split%d", r) < 0)
                st = NS_ERR_NOMEM, names[r] = NULL;
        if (!st)
            ns_dist_sites_even(a->n, size, G.site);
    }
    if (!st && nsites < size)
        st = ns_error(NS_ERR_DATA, "%d sites in column '%s' for %d ranks: every rank needs a "
                      "site (%s)", nsites, a->site_column, size, a->labels);
    if (!st)
        st = ns_dist_set_site_names(G.d, (const char *const *)names, nsites);
    for (int i = 0; names && i < nsites; i++)
        free(names[i]);
    free(names);
    G.n = a->n;
    return st;
}

static ns_status check_cv(const ns_cv_params *cp)
{
    if (cp->clf.kind != NS_CLF_NN)
        return ns_error(NS_ERR_ARG, "--dist trains networks (model %s)",
                        ns_clf_kind_name(cp->clf.kind));
    if (cp->nested || cp->sel.kind == NS_SEL_SSFS)
        return ns_error(NS_ERR_ARG, "--dist trains the outer models only: nested CV and ssfs "
                        "selection are not available with it (%s)",
                        cp->nested ? "--nested" : "--select ssfs");
    return NS_OK;
}

static ns_status scratch_dir(int rank)
{
    const char *tmp = getenv("TMPDIR");
    if (asprintf(&G.scratch, "%s/neurospectra-rank%d-XXXXXX", tmp ? tmp : "/tmp", rank) < 0) {
        G.scratch = NULL;
        return NS_ERR_NOMEM;
    }
    if (!mkdtemp(G.scratch)) {
        free(G.scratch);
        G.scratch = NULL;
        return ns_error(NS_ERR_IO, "cannot create a scratch directory (rank %d outputs)", rank);
    }
    return NS_OK;
}

ns_status ns_dist_train_begin(const ns_dist_train_args *a, ns_cv_params *cp,
                              ns_clf_nn_hooks *hooks, const char **out_dir)
{
    ns_dist_opts o;
    ns_dist_opts_default(&o);
    ns_status st = ns_dist_method_parse(a->method, &o.method);
    if (!st)
        st = check_cv(cp);
    if (st)
        return st;
    if (a->spectra_every >= 0)
        o.spectra_every = a->spectra_every;
    o.seed = ns_seed_derive(cp->seed, 0xd157);
    if ((st = ns_dist_mpi_begin()) || (st = ns_dist_create(MPI_COMM_WORLD, &o, &G.d)))
        return st;
    int rank = ns_dist_rank(G.d), size = ns_dist_size(G.d);
    st = assign_sites(a, size);
    if (!st && !(G.out_dir = strdup(a->out_dir)))
        st = NS_ERR_NOMEM;
    if (!st && rank > 0)
        st = scratch_dir(rank);
    if (st)
        return st;
    G.prev = cp->observer, G.prev_ctx = cp->observer_ctx;
    cp->observer = observe, cp->observer_ctx = NULL;
    hooks->fit = fit_hook;
    *out_dir = rank == 0 ? a->out_dir : G.scratch;
    if (rank > 0 && ns_log_get_level() > NS_LOG_WARN) /* one copy of the progress lines */
        ns_log_set_level(NS_LOG_WARN);
    char method[96];
    ns_dist_method_format(&o.method, method, sizeof method);
    if (rank == 0)
        ns_info("distributed training: %s on %d ranks (sites %s)", method, size,
                a->site_column ? a->site_column : "split evenly");
    return NS_OK;
}

/* ------------------------------------------- the driver's collectives */

int ns_dist_train_rank(void) { return G.d ? ns_dist_rank(G.d) : 0; }
int ns_dist_train_size(void) { return G.d ? ns_dist_size(G.d) : 1; }
int ns_dist_train_site(size_t i) { return i < G.n ? G.site[i] : -1; }

ns_status ns_dist_train_agree(ns_status st)
{
    return G.d ? dist_agree(G.d, st) : st;
}

/* Rank 0 logs every rank's rows and sites (gathered: each rank counts its own). */
static ns_status log_shares(size_t nkeep)
{
    double mine = (double)nkeep, *all = NULL;
    size_t nall = 0;
    int *from = NULL;
    ns_status st = dist_gather_records(G.d, &mine, 1, 1, &all, &from, &nall);
    free(from);
    for (size_t r = 0; !st && r < nall; r++) {
        char sites[256] = "";
        size_t len = 0;
        for (int s = 0; s < G.d->nsites && len + 2 < sizeof sites; s++)
            if (ns_dist_site_rank(s, G.d->size) == (int)r)
                len += (size_t)snprintf(sites + len, sizeof sites - len, "%s%s", len ? "+" : "",
                                        G.d->site_names[s]);
        ns_info("rank %zu holds %.0f rows (sites %s)", r, all[r], sites);
    }
    free(all);
    return st;
}

ns_status ns_dist_train_keep(unsigned char *keep, size_t *nkeep)
{
    size_t k = 0;
    int rank = ns_dist_rank(G.d), size = ns_dist_size(G.d);
    for (size_t i = 0; i < G.n; i++) {
        keep[i] = ns_dist_site_rank(G.site[i], size) == rank;
        if (keep[i])
            G.site[k++] = G.site[i];
    }
    G.n = *nkeep = k;
    ns_debug("rank %d keeps %zu rows of its sites", rank, k);
    return dist_agree(G.d, log_shares(k));
}

ns_status ns_dist_train_sum(double *v, size_t count)
{
    double *tmp = ns_alloc(count + 1, sizeof *tmp);
    int bad = !tmp || count > (size_t)1 << 30, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, G.d->comm);
    if (any) {
        free(tmp);
        return ns_error(NS_ERR_NOMEM, "out of memory on a rank (sums of %zu statistics, "
                        "distributed training)", count);
    }
    double t0 = dist_now();
    MPI_Allreduce(v, tmp, (int)count, MPI_DOUBLE, MPI_SUM, G.d->comm);
    memcpy(v, tmp, count * sizeof *v);
    free(tmp);
    G.d->tot.mpi_seconds += dist_now() - t0;
    /* full mesh: (S-1) messages of 8 count bytes out and as many in */
    G.d->tot.stats_bytes += 2.0 * 8.0 * (double)count * (double)(G.d->size - 1);
    return NS_OK;
}

ns_status ns_dist_train_gather(const double *rec, size_t n, size_t width, double **all,
                               size_t *nall)
{
    int *from = NULL;
    double t0 = dist_now();
    ns_status st = dist_gather_records(G.d, rec, n, width, all, &from, nall);
    G.d->tot.mpi_seconds += dist_now() - t0;
    if (G.d->rank == 0)
        G.d->tot.eval_bytes += st ? 0.0 : 8.0 * (double)width * (double)(*nall - n);
    else
        G.d->tot.eval_bytes += 8.0 * (double)width * (double)n;
    free(from);
    return dist_agree(G.d, st);
}

ns_status ns_dist_train_gather_strings(char *const *s, size_t n, char ***all, size_t *nall)
{
    /* each string as doubles holding its bytes (with the NUL), one record a string of the
     * longest length: ids are short */
    unsigned long long mine = 1, w = 0;
    for (size_t i = 0; i < n; i++)
        mine = strlen(s[i]) + 1 > mine ? strlen(s[i]) + 1 : mine;
    MPI_Allreduce(&mine, &w, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, G.d->comm);
    size_t wd = ((size_t)w + 7) / 8;
    double *rec = ns_calloc(n * wd + 1, sizeof *rec), *got = NULL;
    ns_status st = rec ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < n; i++)
        memcpy(rec + i * wd, s[i], strlen(s[i]) + 1);
    st = dist_agree(G.d, st);
    if (!st)
        st = ns_dist_train_gather(rec, n, wd, &got, nall);
    free(rec);
    *all = NULL;
    if (!st && G.d->rank == 0) {
        char **out = ns_calloc(*nall + 1, sizeof *out);
        for (size_t i = 0; out && i < *nall; i++)
            if (!(out[i] = strndup((const char *)(got + i * wd), wd * 8))) {
                for (size_t j = 0; j < i; j++)
                    free(out[j]);
                free(out);
                out = NULL;
            }
        if (!out)
            st = NS_ERR_NOMEM;
        *all = out;
    }
    free(got);
    return st; /* only rank 0 allocates: a failure there is agreed by the caller */
}

ns_status ns_dist_train_finish(void)
{
    return ns_dist_write(G.d, G.out_dir);
}
