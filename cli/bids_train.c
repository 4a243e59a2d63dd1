/* Group level, second half: FNC feature tables, classifiers with gradient
 * spectra by group, the report, the run summary. */
/* requires: nifti_io ica fnc models report */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bids_int.h"
#include "cli_util.h"
#include "fnc/fnc.h"
#include "report/report.h"

int ns_cmd_train(int argc, char **argv);

typedef struct {
    const ns_bids_opts *o;
    size_t failed;
    char **messages; /* kept for the run summary */
} fnc_ctx;

static void fnc_error(void *ctx, const char *message)
{
    fnc_ctx *c = ctx;
    char **m = realloc(c->messages, sizeof(char *) * (c->failed + 1));
    if (m) {
        c->messages = m;
        m[c->failed] = strdup(message);
    }
    c->failed += m != NULL;
    fprintf(stderr, "neurospectra: error: %s\n", message);
}

/* The failure message naming run r (its stem; the longest stem wins, so
 * that "sub-01_task-rest" does not take "sub-01_task-rest_run-2"'s), or NULL. */
static const char *run_message(const fnc_ctx *c, const ns_bids_runs *runs, const ns_bids_run *r)
{
    for (size_t i = 0; i < c->failed; i++) {
        if (!c->messages[i] || !strstr(c->messages[i], r->stem))
            continue;
        int longer = 0;
        for (size_t j = 0; j < runs->n; j++)
            longer |= strlen(runs->runs[j].stem) > strlen(r->stem) && strstr(c->messages[i], runs->runs[j].stem);
        if (!longer)
            return c->messages[i];
    }
    return NULL;
}

/* A run whose FNC failed gets a row "fnc failed <error>" in the run
 * summary; the row goes once a rerun succeeds: the rows of a previous run
 * are cleared first (c NULL, on rank 0 before the collective FNC starts) and each process then records the runs that failed on it. */
static void fnc_status(const ns_bids_opts *o, const fnc_ctx *c, double seconds)
{
    ns_bids_runs runs;
    if (ns_bids_find_runs(o, &runs)) {
        ns_clear_error();
        return;
    }
    for (size_t i = 0; i < runs.n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/status/%s.fnc.tsv", o->work_dir, runs.runs[i].stem);
        if (!c) {
            remove(path);
            continue;
        }
        const char *msg = run_message(c, &runs, &runs.runs[i]);
        if (msg)
            ns_bids_status_set(o, &runs.runs[i], "fnc", "failed", msg, seconds);
    }
    ns_bids_runs_clear(&runs);
}

static ns_status run_fnc(const ns_bids_opts *o, size_t *failed)
{
    ns_fnc_study_opts fo;
    ns_fnc_study_defaults(&fo);
    fo.out_dir = o->out_dir;
    fo.orders = o->orders;
    fo.norders = o->orders ? o->norders : 0;
    fo.confounds = o->space || strstr(o->bids_dir, "fmriprep") ? "motion" : NULL;
    fo.km.seed = o->seed;
    fnc_ctx c = {o, 0, NULL};
    fo.on_error = fnc_error;
    fo.ctx = &c;
    ns_fnc_study_result res;
    double t0 = ns_now();
    if (o->rank == 0)
        fnc_status(o, NULL, 0);
    ns_status s = ns_bids_fnc_run(o, &fo, &res);
    fnc_status(o, &c, ns_now() - t0);
    *failed = ns_bids_mpi_sum(c.failed); /* every rank has recorded its failures */
    for (size_t i = 0; i < c.failed; i++)
        free(c.messages[i]);
    free(c.messages);
    if (!s)
        ns_info("fnc: %zu participants, %zu edges (%zu runs failed)", res.participants, res.edges, *failed);
    return s;
}

/* Copies BIDS_DIR/participants.tsv to OUT/group/participants.tsv. */
static int copy_participants(const ns_bids_opts *o, char *dst, size_t n)
{
    char src[4200];
    snprintf(src, sizeof src, "%s/participants.tsv", o->bids_dir);
    snprintf(dst, n, "%s/group/participants.tsv", o->out_dir);
    ns_tsv *t;
    if (!ns_file_exists(src))
        return 0;
    if (ns_tsv_read(src, &t))
        return -1;
    ns_status s = ns_tsv_write(t, dst);
    ns_tsv_free(t);
    return s ? -1 : 1;
}

static int is_network(const char *model)
{
    return strchr(model, ':') != NULL;
}

/* neurospectra train for one model, through the train command itself. */
static int train_one(const ns_bids_opts *o, const char *model, const char *target, const char *parts)
{
    char features[4200], dir[4400], folds[16], seed[32], epochs[16], name[128];
    snprintf(features, sizeof features, "%s/group/desc-fnc_features.tsv", o->out_dir);
    snprintf(name, sizeof name, "%s", model);
    for (char *p = name; *p; p++)
        if (*p == ':' || *p == ',')
            *p = '_';
    snprintf(dir, sizeof dir, "%s/group/train-%s-%s", o->out_dir, target, name);
    snprintf(folds, sizeof folds, "%d", o->folds);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(epochs, sizeof epochs, "%d", o->epochs);
    const char *groups = o->groups ? o->groups : target;
    char *argv[32] = {"train", features, "--labels", (char *)parts, "--target", (char *)target, "--model",
                      (char *)model, "--folds", folds, "--seed", seed, "-o", dir};
    int argc = 14;
    if (ns_log_get_level() < NS_LOG_INFO)
        argv[argc++] = "--quiet";
    if (o->select) {
        argv[argc++] = "--select";
        argv[argc++] = (char *)o->select;
        if (!is_network(model) && strchr(o->select, ','))
            argv[argc++] = "--nested"; /* the selection size is chosen by inner CV */
    }
    if (is_network(model)) {
        argv[argc++] = "--epochs";
        argv[argc++] = epochs;
        argv[argc++] = "--spectra";
        argv[argc++] = "--groups";
        argv[argc++] = (char *)groups;
    }
    optind = 0; /* a fresh getopt scan for the train command */
    ns_info("train: %s on %s -> %s", model, target, dir);
    return ns_cmd_train(argc, argv);
}

static int train_all(const ns_bids_opts *o, const char *parts)
{
    ns_tsv *t;
    if (ns_tsv_read(parts, &t))
        return ns_cli_fail();
    const char *target = o->target ? o->target : "diagnosis";
    int has = ns_tsv_column(t, target) >= 0;
    ns_tsv_free(t);
    if (!has) {
        if (o->target)
            return ns_cli_failf("no column '%s' in participants.tsv (%s)", target, parts);
        ns_info("participants.tsv has no 'diagnosis' column: no classifier trained (use --target)");
        return NS_EXIT_OK;
    }
    /* Models are separated by commas; a spec's own commas ("mlp:64,32",
     * "cnn1d:16k5,32k3") are always followed by a digit. */
    char *models = strdup(o->models);
    int rc = models ? NS_EXIT_OK : NS_EXIT_FAIL;
    for (char *start = models, *p = models; p && *start; p++) {
        if (*p != '\0' && !(*p == ',' && !(p[1] >= '0' && p[1] <= '9')))
            continue;
        int end = *p == '\0';
        *p = '\0';
        if (*start && train_one(o, start, target, parts) != NS_EXIT_OK)
            rc = NS_EXIT_FAIL;
        if (end)
            break;
        start = p + 1;
    }
    free(models);
    return rc;
}

static ns_status write_bidsignore(const ns_bids_opts *o)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.bidsignore", o->out_dir);
    ns_afile *f;
    ns_status s = ns_afile_open(path, &f);
    if (s)
        return s;
    fputs("work/\n*.html\ngroup/train-*/\n", ns_afile_stream(f));
    return ns_afile_commit(f);
}

int ns_bids_train_and_report(const ns_bids_opts *o)
{
    size_t fnc_failed = 0, nfailed = 0;
    if (run_fnc(o, &fnc_failed))
        return ns_cli_fail();
    if (o->rank > 0) /* under mpirun rank 0 trains and reports */
        return fnc_failed ? NS_EXIT_FAIL : NS_EXIT_OK;
    char parts[4200];
    int have = copy_participants(o, parts, sizeof parts);
    if (have < 0)
        return ns_cli_fail();
    int rc = have ? train_all(o, parts) : NS_EXIT_OK;
    ns_report_opts ro;
    ns_report_opts_default(&ro);
    ro.groups = o->groups ? o->groups : o->target ? o->target : "diagnosis";
    int pages = 0;
    if (ns_report_study(o->out_dir, &ro, &pages) || write_bidsignore(o) || ns_bids_write_summary(o, &nfailed))
        return ns_cli_fail();
    ns_info("group level done: %s/report.html (%d pages); %zu run(s) failed, see %s/group/desc-run_summary.tsv",
            o->out_dir, pages, nfailed, o->out_dir);
    return (rc != NS_EXIT_OK || fnc_failed || nfailed) ? NS_EXIT_FAIL : NS_EXIT_OK;
}
