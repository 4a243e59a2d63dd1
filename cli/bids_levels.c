/* The participant and group levels of the BIDS-Apps form. */
/* requires: nifti_io ica fnc models report */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bids_int.h"
#include "cli_util.h"
#include "ica/ica.h"
#include "nifti_io/nifti_io.h"

/* Back-reconstructs one run from every saved model. */
static ns_status backrecon_run(const ns_bids_opts *o, const ns_bids_run *r, const int *orders, int norders)
{
    for (int k = 0; k < norders; k++) {
        char model[4200];
        snprintf(model, sizeof model, "%s/group/desc-ica%d_model.npz", o->out_dir, orders[k]);
        const char *bold[] = {r->bold};
        ns_status s = ns_ica_apply_model(model, o->out_dir, bold, 1, -1, o->nprocs);
        if (s)
            return s;
    }
    return NS_OK;
}

/* Orders to use: the requested ones (each must be saved) or every saved one. */
static int usable_orders(const ns_bids_opts *o, int **orders)
{
    int n = ns_bids_saved_orders(o->out_dir, orders);
    if (n == 0) {
        ns_error(NS_ERR_DATA, "no group ICA model yet: run the group level first (%s/group)", o->out_dir);
        return 0;
    }
    for (int i = 0; o->orders && i < o->norders; i++) {
        int found = 0;
        for (int j = 0; j < n; j++)
            found |= (*orders)[j] == o->orders[i];
        if (!found) {
            ns_error(NS_ERR_DATA, "no saved model of order %d: run the group level with it first (%s/group)",
                     o->orders[i], o->out_dir);
            return 0;
        }
    }
    if (o->orders) {
        memcpy(*orders, o->orders, sizeof(int) * (size_t)o->norders);
        n = o->norders;
    }
    return n;
}

int ns_bids_participant(const ns_bids_opts *o)
{
    ns_bids_runs runs;
    int *orders = NULL, norders;
    if (ns_bids_find_runs(o, &runs))
        return ns_cli_fail();
    if (!(norders = usable_orders(o, &orders))) {
        ns_bids_runs_clear(&runs);
        free(orders);
        return ns_cli_fail();
    }
    /* under mpirun each rank takes a contiguous block of the runs */
    size_t lo, hi;
    ns_block_range(runs.n, (size_t)o->rank, (size_t)o->nranks, &lo, &hi);
    ns_progress *pg = ns_progress_create("participant", hi - lo);
    size_t failed = 0, skipped = 0;
    for (size_t i = lo; i < hi; i++) {
        ns_bids_run *r = &runs.runs[i];
        if (!o->force && ns_bids_status_ok(o, r, "backrecon")) {
            skipped++;
        } else {
            double t0 = ns_now();
            ns_status s = backrecon_run(o, r, orders, norders);
            if (s) {
                failed++;
                fprintf(stderr, "neurospectra: error: %s\n", ns_last_error());
            }
            ns_bids_status_set(o, r, "backrecon", s ? "failed" : "ok", s ? ns_last_error() : NULL,
                               ns_now() - t0);
        }
        ns_progress_update(pg, i - lo + 1);
    }
    ns_progress_free(pg);
    failed = ns_bids_mpi_sum(failed); /* every rank done: the summary sees every status */
    skipped = ns_bids_mpi_sum(skipped);
    size_t total_failed;
    ns_status s = o->rank == 0 ? ns_bids_write_summary(o, &total_failed) : NS_OK;
    ns_info("participant level: %zu run(s), %zu done before, %zu failed; summary %s/group/desc-run_summary.tsv",
            runs.n, skipped, failed, o->out_dir);
    ns_bids_runs_clear(&runs);
    free(orders);
    if (s)
        return ns_cli_fail();
    return failed ? NS_EXIT_FAIL : NS_EXIT_OK;
}

/* fMRIPrep brain masks beside every run, intersected into WORKDIR; NULL when
 * some run has none (the GIFT mask rule is used then). */
static char *fmriprep_mask(const ns_bids_opts *o, const ns_bids_runs *runs, const char *const *bold, size_t nb)
{
    ns_volume *acc = NULL;
    for (size_t i = 0; i < nb; i++) {
        const char *p = strstr(bold[i], "_desc-preproc_bold.nii");
        char path[4200];
        ns_volume *m;
        if (!p)
            break;
        snprintf(path, sizeof path, "%.*s_desc-brain_mask.nii.gz", (int)(p - bold[i]), bold[i]);
        if (!ns_file_exists(path) || ns_volume_load(path, NULL, &m))
            break;
        if (!acc) {
            acc = m;
        } else {
            for (size_t v = 0; v < acc->nvox && v < m->nvox; v++)
                acc->data[v] = (acc->data[v] != 0 && m->data[v] != 0);
            ns_volume_free(m);
        }
        if (i + 1 == nb) {
            char *out = malloc(4200);
            snprintf(out, 4200, "%s/group_brain_mask.nii.gz", o->work_dir);
            if (ns_mkdirs(o->work_dir) || ns_volume_save(acc, out, NS_SAVE_UINT8)) {
                free(out);
                out = NULL;
            }
            ns_volume_free(acc);
            return out;
        }
    }
    (void)runs;
    ns_clear_error();
    ns_volume_free(acc);
    return NULL;
}

/* The run the current error message names (its BOLD path or stem), or -1.
 * Errors of the whole fit are nobody's: bad parameters (an order not below
 * the time points of every run), no memory, bugs, and failures on the
 * output tree (whose per-subject files carry the stem too). */
static long named_run(const ns_bids_opts *o, ns_status s, const ns_bids_runs *runs,
                      const char *const *bold, size_t nb)
{
    const char *msg = ns_last_error();
    if (s == NS_ERR_ARG || s == NS_ERR_NOMEM || s == NS_ERR_INTERNAL)
        return -1;
    for (size_t i = 0; i < nb; i++)
        if (strstr(msg, bold[i]))
            return (long)i;
    if (strstr(msg, o->out_dir))
        return -1;
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < runs->n; j++)
            if (runs->runs[j].bold == bold[i] && strstr(msg, runs->runs[j].stem))
                return (long)i;
    return -1;
}

static ns_bids_run *run_of(const ns_bids_runs *runs, const char *bold)
{
    for (size_t j = 0; j < runs->n; j++)
        if (runs->runs[j].bold == bold)
            return &runs->runs[j];
    return NULL;
}

static int same_grid_tr(const ns_volume *a, const ns_volume *b)
{
    double ta = a->geom.tr, tb = b->geom.tr;
    return ns_geom_same_grid(&a->geom, &b->geom) && (ta > 0) == (tb > 0) &&
           (ta <= 0 || fabs(ta - tb) <= 1e-3 * ta);
}

/* Why run i cannot join the fit (into why), or 0: its grid or TR differs
 * from the majority's (ref), or it is too short for the largest order while
 * other runs are long enough. */
static int misfit(ns_volume *const *h, size_t i, size_t ref, size_t nlong, int kmax, const char *path,
                  char *why, size_t n)
{
    const ns_geom *g = &h[i]->geom, *r = &h[ref]->geom;
    if (!ns_geom_same_grid(g, r))
        snprintf(why, n, "grid %lldx%lldx%lld / affine differs from the grid %lldx%lldx%lld of most runs (%s)",
                 (long long)g->dim[0], (long long)g->dim[1], (long long)g->dim[2], (long long)r->dim[0],
                 (long long)r->dim[1], (long long)r->dim[2], path);
    else if (!same_grid_tr(h[i], h[ref]))
        snprintf(why, n, "repetition time %g s differs from the %g s of most runs (%s)", g->tr, r->tr, path);
    else if (g->ndim >= 4 && g->dim[3] <= kmax && nlong >= 2)
        snprintf(why, n, "%lld time points, too few for model order %d (%s)", (long long)g->dim[3], kmax, path);
    else
        return 0;
    return 1;
}

/* Sets aside, before the fit, the runs that misfit the majority: ns_ica_fit
 * takes the first run as its reference and would blame every other run if
 * the first were the odd one. Runs whose header does not load are left to
 * ns_ica_fit, which names them. Returns the number of runs kept in bold. */
static size_t screen_runs(const ns_bids_opts *o, const ns_bids_runs *runs, const char **bold, size_t nb, int kmax)
{
    ns_volume **h = calloc(nb, sizeof *h);
    size_t ref = nb, best = 0, nlong = 0, kept = 0;
    for (size_t i = 0; h && i < nb; i++)
        if (ns_volume_load_header(bold[i], &h[i]))
            h[i] = NULL, ns_clear_error();
    for (size_t i = 0; h && i < nb; i++) {
        size_t c = 0;
        for (size_t j = 0; h[i] && j < nb; j++)
            c += h[j] && same_grid_tr(h[i], h[j]);
        if (c > best)
            best = c, ref = i;
    }
    for (size_t i = 0; ref < nb && i < nb; i++)
        nlong += h[i] && same_grid_tr(h[i], h[ref]) && h[i]->geom.ndim >= 4 && h[i]->geom.dim[3] > kmax;
    for (size_t i = 0; i < nb; i++) {
        char why[4600];
        if (ref < nb && h[i] && misfit(h, i, ref, nlong, kmax, bold[i], why, sizeof why)) {
            if (o->rank == 0) { /* every rank screens alike; one reports */
                fprintf(stderr, "neurospectra: error: %s\n", why);
                ns_bids_status_set(o, run_of(runs, bold[i]), "backrecon", "failed", why, 0);
            }
        } else {
            bold[kept++] = bold[i];
        }
    }
    for (size_t i = 0; h && i < nb; i++)
        ns_volume_free(h[i]);
    free(h);
    return kept;
}

/* Fits the group models; a subject the error names is set aside (status
 * failed) and the fit retried without it, so one bad subject does not stop
 * a study. Under mpirun only the rank holding the subject knows its error
 * (the others hear that a rank failed): the ranks agree on the subject
 * through a max, and that rank reports it. */
static ns_status fit_models(const ns_bids_opts *o, const ns_bids_runs *runs, const int *orders, int norders)
{
    const char **bold = malloc(sizeof(char *) * (runs->n + 1));
    size_t nb = runs->n;
    if (!bold)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nb; i++)
        bold[i] = runs->runs[i].bold;
    ns_ica_params p;
    ns_ica_params_default(&p);
    p.orders = orders;
    p.norders = (size_t)norders;
    p.ica.seed = o->seed;
    p.nprocs = o->nprocs;
    p.out_dir = o->out_dir;
    p.command_line = o->command_line;
    int kmax = 0;
    for (int k = 0; k < norders; k++)
        kmax = orders[k] > kmax ? orders[k] : kmax;
    if (nb > 2)
        nb = screen_runs(o, runs, bold, nb, kmax);
    char *mask = fmriprep_mask(o, runs, bold, nb);
    p.mask_path = mask;
    ns_status s;
    for (;;) {
        double t0 = ns_now();
        s = ns_bids_ica_fit(o, &p, bold, nb);
        long mine = s ? named_run(o, s, runs, bold, nb) : -1;
        if (!s) {
            for (size_t i = 0; o->rank == 0 && i < nb; i++)
                ns_bids_status_set(o, run_of(runs, bold[i]), "backrecon", "ok", NULL, ns_now() - t0);
            break;
        }
        long bad = o->nranks > 1 ? ns_bids_mpi_max(mine) : mine; /* s failed on every rank */
        if (bad < 0 || nb <= 2)
            break;
        if (mine == bad) {
            fprintf(stderr, "neurospectra: error: %s\n", ns_last_error());
            ns_bids_status_set(o, run_of(runs, bold[bad]), "backrecon", "failed", ns_last_error(), 0);
        }
        memmove(bold + bad, bold + bad + 1, sizeof(char *) * (nb - (size_t)bad - 1));
        nb--;
        if (o->rank == 0)
            ns_warn("group ICA: retrying without the failed run (%zu runs left)", nb);
    }
    free(mask);
    free(bold);
    return s;
}

/* Every group output of a finished fit is there: a fit killed after some of
 * them were written is redone, not reused. The cross-order table is the last
 * file ns_ica_fit writes. */
static int models_saved(const ns_bids_opts *o, const int *orders, int norders)
{
    static const char *const per_order[] = {"components.nii.gz", "stability.tsv", "model.npz"};
    char path[4200];
    snprintf(path, sizeof path, "%s/group/desc-icamulti_crossorder.tsv", o->out_dir);
    if (!ns_file_exists(path))
        return 0;
    for (int k = 0; k < norders; k++)
        for (size_t j = 0; j < sizeof per_order / sizeof per_order[0]; j++) {
            snprintf(path, sizeof path, "%s/group/desc-ica%d_%s", o->out_dir, orders[k], per_order[j]);
            if (!ns_file_exists(path))
                return 0;
        }
    return 1;
}

/* Runs that have neither finished nor failed the participant level. */
static size_t pending_runs(const ns_bids_opts *o, const ns_bids_runs *runs)
{
    size_t pending = 0;
    for (size_t i = 0; i < runs->n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/status/%s.backrecon.tsv", o->work_dir, runs->runs[i].stem);
        if (!ns_file_exists(path)) {
            if (pending++ < 10)
                ns_info("participant level still to run: sub-%s (%s)", runs->runs[i].label, runs->runs[i].stem);
        }
    }
    return pending;
}

int ns_bids_group(const ns_bids_opts *o)
{
    static const int default_orders[] = {20, 40};
    ns_bids_runs runs;
    if (ns_bids_find_runs(o, &runs))
        return ns_cli_fail();
    const int *orders = o->orders ? o->orders : default_orders;
    int norders = o->orders ? o->norders : 2;
    ns_status s = NS_OK;
    if (o->force || !models_saved(o, orders, norders))
        s = fit_models(o, &runs, orders, norders);
    else
        ns_info("group ICA models of every order found: reused (--force refits)");
    /* rank 0 wrote the run statuses: it counts, the sum tells every rank */
    size_t pending = ns_bids_mpi_sum(s || o->rank > 0 ? 0 : pending_runs(o, &runs));
    ns_bids_runs_clear(&runs);
    if (s) {
        size_t nf;
        ns_cli_fail();
        if (o->rank == 0)
            ns_bids_write_summary(o, &nf);
        return NS_EXIT_FAIL;
    }
    if (pending) {
        size_t nf;
        if (o->rank > 0)
            return NS_EXIT_OK;
        ns_info("%zu run(s) still need the participant level; run it, then the group level again", pending);
        return ns_bids_write_summary(o, &nf) ? ns_cli_fail() : NS_EXIT_OK;
    }
    return ns_bids_train_and_report(o);
}
