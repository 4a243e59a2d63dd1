/* ns_ica_fit: the group ICA pipeline over files.
 *
 * Passes over the data (each subject read once per pass, whatever the
 * number of orders):
 *   0. headers (grid, TR, T) and the mask from each first volume;
 *   1. preprocessing, subject PCA, MIGP update (in subject order), and the
 *      reduced data spilled to a cache when small enough;
 *   p. each power iteration refining MIGP's rows, then the Rayleigh-Ritz
 *      pass (from the cache, or re-reading);
 *   -  group PCA result, ICA/ICASSO of every order, group outputs;
 *   2. back-reconstruction of every order (from the cache, or re-reading);
 *      skipped with group_only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ica/fit_int.h"

void ns_ica_params_default(ns_ica_params *p)
{
    memset(p, 0, sizeof *p);
    static const int def_orders[] = {25};
    p->orders = def_orders;
    p->norders = 1;
    p->runs = 1;
    ns_ica_opts_default(&p->ica);
    p->nprocs = 1;
    p->power_iters = 1;
    p->cache_gb = 8;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static ns_status check_params(ns_ica_fitctx *f)
{
    const ns_ica_params *p = f->p;
    if (!p->out_dir)
        return ns_error(NS_ERR_ARG, "no output directory");
    if (f->nsub == 0)
        return ns_error(NS_ERR_ARG, "no input BOLD files");
    if (p->norders == 0)
        return ns_error(NS_ERR_ARG, "no model order given");
    f->orders = ns_alloc(p->norders, sizeof(int));
    if (!f->orders)
        return NS_ERR_NOMEM;
    memcpy(f->orders, p->orders, p->norders * sizeof(int));
    qsort(f->orders, p->norders, sizeof(int), cmp_int);
    for (size_t i = 0; i < p->norders; i++) {
        if (f->orders[i] < 2)
            return ns_error(NS_ERR_ARG, "model order %d: at least 2 components", f->orders[i]);
        if (i && f->orders[i] == f->orders[i - 1])
            return ns_error(NS_ERR_ARG, "model order %d given twice", f->orders[i]);
    }
    f->norders = p->norders;
    f->kmax = f->orders[f->norders - 1];
    return NS_OK;
}

/* Subject names; two inputs may not map to the same output stem. */
static ns_status names(ns_ica_fitctx *f, const char *const *bold)
{
    f->sub = ns_calloc(f->nsub, sizeof *f->sub);
    if (!f->sub)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < f->nsub; i++) {
        f->sub[i].path = bold[i];
        ns_status st = ns_ica_bids_stem(bold[i], &f->sub[i].stem, &f->sub[i].label);
        if (st != NS_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f->sub[j].stem, f->sub[i].stem))
                return ns_error(NS_ERR_ARG, "two inputs give the same output name %s (%s, %s)",
                                f->sub[i].stem, bold[j], bold[i]);
    }
    return NS_OK;
}

static int same_grid_and_tr(const ns_volume *a, const ns_volume *b)
{
    double ta = a->geom.tr, tb = b->geom.tr;
    return ns_geom_same_grid(&a->geom, &b->geom) &&
           ((ta == 0 && tb == 0) || (ta > 0 && tb > 0 && fabs(ta - tb) <= 1e-3 * ta));
}

/* The reference grid and TR are the majority's, so that an odd subject is
 * the one named whatever its place in the list (ties: the earliest). */
static size_t majority(ns_volume *const *h, size_t n)
{
    size_t best = 0, best_count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        for (size_t j = 0; j < n; j++)
            count += same_grid_and_tr(h[i], h[j]);
        if (count > best_count)
            best = i, best_count = count;
    }
    return best;
}

static ns_status check_header(ns_ica_fitctx *f, size_t i, const ns_volume *h)
{
    ns_status st = ns_ica_check_grid(&f->grid, h, f->sub[i].path);
    if (st == NS_OK && h->geom.tr > 0 && f->grid.tr == 0)
        st = ns_error(NS_ERR_DATA, "repetition time %g s where the other subjects have none (%s)",
                      h->geom.tr, f->sub[i].path);
    if (st == NS_OK && h->geom.tr == 0 && f->grid.tr > 0)
        st = ns_error(NS_ERR_DATA, "no repetition time where the other subjects have %g s (%s)",
                      f->grid.tr, f->sub[i].path);
    if (st == NS_OK) {
        f->sub[i].t = (size_t)h->geom.dim[3];
        if (i == 0 || f->sub[i].t < f->tmin)
            f->tmin = f->sub[i].t, f->tmin_sub = i;
    }
    return st;
}

static ns_status headers(ns_ica_fitctx *f)
{
    ns_volume **h = ns_calloc(f->nsub, sizeof *h);
    ns_status st = h ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; st == NS_OK && i < f->nsub; i++)
        st = ns_volume_load_header(f->sub[i].path, &h[i]);
    if (st == NS_OK) {
        size_t ref = majority(h, f->nsub);
        f->grid.geom = h[ref]->geom;
        f->grid.tr = h[ref]->geom.tr;
        f->grid.nvox = h[ref]->nvox;
    }
    for (size_t i = 0; st == NS_OK && i < f->nsub; i++)
        st = check_header(f, i, h[i]);
    for (size_t i = 0; h && i < f->nsub; i++)
        ns_volume_free(h[i]);
    free(h);
    if (st == NS_OK && f->grid.tr == 0)
        ns_warn("repetition time unknown (%s): timeseries sidecars will say null",
                f->sub[0].path);
    return st;
}

/* p1 (subject PCs) and the checks against T and K. */
static ns_status choose_dims(ns_ica_fitctx *f)
{
    const char *who = f->sub[f->tmin_sub].path;
    if ((size_t)f->kmax >= f->tmin)
        return ns_error(NS_ERR_ARG,
                        "number of components %d must be below the number of time points %zu (%s)",
                        f->kmax, f->tmin, who);
    if (f->p->pc1) {
        f->p1 = f->p->pc1;
        if (f->p1 >= f->tmin)
            return ns_error(NS_ERR_ARG,
                            "--pc1 %zu must be below the number of time points %zu (%s)", f->p1,
                            f->tmin, who);
        if (f->p1 < (size_t)f->kmax)
            return ns_error(NS_ERR_ARG, "--pc1 %zu is below the largest order %d", f->p1,
                            f->kmax);
    } else {
        f->p1 = (size_t)ceil(1.5 * f->kmax);
        if (f->p1 >= f->tmin) {
            ns_warn("subject PCs capped at %zu (1.5 x %d needs more than the %zu time points of %s)",
                    f->tmin - 1, f->kmax, f->tmin, who);
            f->p1 = f->tmin - 1;
        }
    }
    /* The power iterations refine K + max(K / 10, 10) rows (oversampled, as
     * a randomized SVD's block is); MIGP alone keeps a wider margin. Fewer
     * rows than K lose sources (half as many, with the Rayleigh-Ritz space
     * [Q; Z] of K + 10 dimensions: 0.82 against 0.93 on the SimTB test). */
    size_t k = (size_t)f->kmax, over = k / 10 > 10 ? k / 10 : 10;
    f->work = f->p->stacked_pca   ? 0
              : f->p->migp_rows   ? f->p->migp_rows
              : f->p->power_iters ? k + over
                                  : (2 * k > f->p1 ? 2 * k : f->p1);
    f->power = f->work ? f->p->power_iters : 0; /* the stacked PCA is exact */
    if (f->work && f->work < k)
        return ns_error(NS_ERR_ARG, "MIGP rows %zu below the largest order %d", f->work, f->kmax);
    return NS_OK;
}

ns_status ns_ica_fit_setup(ns_ica_fitctx *f, const char *const *bold)
{
    ns_status st = check_params(f);
    if (st == NS_OK)
        st = names(f, bold);
    if (st == NS_OK)
        st = headers(f);
    if (st == NS_OK)
        st = choose_dims(f);
    return st;
}

void ns_ica_fit_clear(ns_ica_fitctx *f)
{
    for (size_t i = 0; f->sub && i < f->nsub; i++)
        free(f->sub[i].stem), free(f->sub[i].label);
    free(f->sub);
    free(f->orders), free(f->grid.idx), free(f->spec_mean), free(f->geig), free(f->gall);
    free(f->mean_acc);
    ns_ica_gpca_free(f->g);
    ns_matrix_free(f->z);
    for (size_t o = 0; f->om && o < f->norders; o++) {
        free(f->om[o].w), free(f->om[o].a);
        ns_matrix_free(f->om[o].maps);
        free(f->om[o].z); /* a view struct, data owned by f->z */
        ns_icasso_clear(&f->ic[o]);
    }
    free(f->om), free(f->ic);
    free(f->cache_dir);
}

ns_status ns_ica_fit(const ns_ica_params *p, const char *const *bold, size_t nsub)
{
    ns_ica_fitctx f = {.p = p, .nsub = nsub};
    /* One BLAS thread throughout: every stage runs its own threads (and
     * holds BLAS at one itself); held from the start, OpenBLAS's idle pool
     * does not spin through the mask and pass 1. */
    int old = ns_blas_threads(1);
    double t0 = ns_now(), t1, t2, t3, t4, c0 = ns_cpu_seconds(), c1, c2, c3, c4;
    ns_status st = ns_ica_fit_setup(&f, bold);
    if (st == NS_OK)
        st = ns_ica_fit_mask(&f);
    t1 = ns_now(), c1 = ns_cpu_seconds();
    if (st == NS_OK)
        st = ns_ica_fit_pass1(&f);
    double tp = ns_now();
    if (st == NS_OK)
        st = ns_ica_fit_power(&f);
    t2 = ns_now(), c2 = ns_cpu_seconds();
    if (st == NS_OK && f.power)
        ns_debug("ica timing: subject PCA and MIGP %.2f s, %d power iteration%s%s %.2f s (%s)",
                 tp - t1, f.power, f.power > 1 ? "s" : "",
                 f.rr_pass ? " and the Rayleigh-Ritz pass" : " (no Rayleigh-Ritz pass: Z within Q)",
                 t2 - tp, f.cache_dir ? "from the cache" : "re-reading the inputs");
    if (st == NS_OK)
        st = ns_ica_fit_group(&f);
    double tg = ns_now(), cg = ns_cpu_seconds();
    if (st == NS_OK)
        st = ns_ica_fit_write_group(&f);
    t3 = ns_now(), c3 = ns_cpu_seconds();
    if (st == NS_OK)
        ns_debug("ica timing: group PCA+ICA %.2f s (cpu %.2f s), group outputs %.2f s (cpu %.2f s)",
                 tg - t2, cg - c2, t3 - tg, c3 - cg);
    if (st == NS_OK && !p->group_only)
        st = ns_ica_fit_pass2(&f);
    t4 = ns_now(), c4 = ns_cpu_seconds();
    ns_ica_fit_cache_remove(&f);
    if (st == NS_OK)
        ns_info("ica timing: mask %.2f s, pass1 %.2f s, group PCA+ICA+outputs %.2f s, pass2 %.2f s, "
                "total %.2f s; cpu %.2f / %.2f / %.2f / %.2f s",
                t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0, c1 - c0, c2 - c1, c3 - c2, c4 - c3);
    ns_ica_fit_clear(&f);
    ns_blas_threads(old);
    return st;
}
