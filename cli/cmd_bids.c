/* The BIDS-Apps form: neurospectra BIDS_DIR OUTPUT_DIR participant|group.
 * Dispatched from main.c when the third argument is a level. */
/* requires: nifti_io ica fnc models report */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bids_int.h"
#include "cli_util.h"

const char ns_cmd_bids_summary[] = "BIDS-Apps form: BIDS_DIR OUTPUT_DIR participant|group (see --help)";

static void usage(FILE *out)
{
    fprintf(out,
        "usage: neurospectra BIDS_DIR OUTPUT_DIR participant|group [options]\n\n"
        "BIDS_DIR is raw BIDS or fMRIPrep derivatives (*_desc-preproc_bold.nii.gz, brain masks,\n"
        "*_desc-confounds_timeseries.tsv), with sessions and runs. OUTPUT_DIR becomes a BIDS\n"
        "derivatives dataset.\n"
        "  group        fit the group ICA model of each order (or reuse the saved one); once every\n"
        "               participant has been processed: FNC feature tables, classifiers with\n"
        "               gradient spectra by group, OUTPUT_DIR/report.html\n"
        "  participant  back-reconstruct the listed subjects from the saved models (separate\n"
        "               processes or Slurm array jobs may run into one OUTPUT_DIR at once)\n\n"
        "options:\n"
        "  --participant_label L [L ...]  subjects (without 'sub-'); --participant-label too\n"
        "  --task T              only runs of this task\n"
        "  --space S             fMRIPrep space entity (e.g. MNI152NLin2009cAsym)\n"
        "  --orders K1,K2,...    model orders (group default 20,40)\n"
        "  --target COLUMN       participants.tsv column to classify (default diagnosis)\n"
        "  --groups COLUMN       column that groups the gradient spectra (default: the target)\n"
        "  --models M1,M2        train models (default logreg,mlp:64)\n"
        "  --select S            feature selection inside the folds (default univariate:10,30,\n"
        "                        chosen by nested CV for classical models; none to disable)\n"
        "  --folds K             cross-validation folds (default 5)\n"
        "  --epochs E            network epochs (default 60)\n"
        "  --nprocs N            threads (default 2)\n"
        "  -w, --work-dir DIR    status files (default OUTPUT_DIR/work, listed in .bidsignore)\n"
        "  --force               redo finished subjects and refit saved models\n"
        "  --seed S              seed of every random step (default 1)\n"
        "  -q, --quiet  -v, --verbose  -h, --help\n\n"
        "OUTPUT_DIR/group/desc-run_summary.tsv lists every run's status and error; a failing\n"
        "subject is reported and the others go on (exit status 1 when any failed).\n");
}

/* Consumes the values after a multi-valued flag (until the next option). */
static size_t take_values(int argc, char **argv, int *i, const char ***vals, size_t n)
{
    while (*i + 1 < argc && argv[*i + 1][0] != '-') {
        const char **nv = realloc(*vals, sizeof(char *) * (n + 1));
        if (!nv)
            break;
        *vals = nv;
        const char *v = argv[++*i];
        (*vals)[n++] = strncmp(v, "sub-", 4) ? v : v + 4;
    }
    return n;
}

/* Options with one value; returns 0 if handled, 2 on a usage error, -1 if unknown. */
static int take_option(ns_bids_opts *o, const char *a, const char *v)
{
    long x;
    if (!strcmp(a, "--task")) o->task = v;
    else if (!strcmp(a, "--space")) o->space = v;
    else if (!strcmp(a, "--target")) o->target = v;
    else if (!strcmp(a, "--groups")) o->groups = v;
    else if (!strcmp(a, "--models")) o->models = v;
    else if (!strcmp(a, "--select")) o->select = strcmp(v, "none") ? v : NULL;
    else if (!strcmp(a, "-w") || !strcmp(a, "--work-dir")) snprintf(o->work_dir, sizeof o->work_dir, "%s", v);
    else if (!strcmp(a, "--orders")) {
        if (ns_cli_parse_int_list(v, &o->orders, &o->norders))
            return 2;
    } else if (!strcmp(a, "--folds") || !strcmp(a, "--epochs") || !strcmp(a, "--nprocs")) {
        if (ns_cli_parse_long(v, 1, 100000, &x))
            return 2;
        *(a[2] == 'f' ? &o->folds : a[2] == 'e' ? &o->epochs : &o->nprocs) = (int)x;
    } else if (!strcmp(a, "--seed")) {
        if (ns_cli_parse_seed(v, &o->seed))
            return 2;
    } else
        return -1;
    return 0;
}

static int parse(int argc, char **argv, ns_bids_opts *o, const char ***labels)
{
    int quiet = 0, verbose = 0;
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--participant_label") || !strcmp(a, "--participant-label")) {
            o->nlabels = take_values(argc, argv, &i, labels, o->nlabels);
        } else if (!strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (i + 1 < argc) {
            int r = take_option(o, a, argv[i + 1]);
            if (r == 2)
                return ns_cli_usage_error("bids", "invalid value for %s: '%s'", a, argv[i + 1]);
            if (r < 0)
                return ns_cli_usage_error("bids", "unknown option '%s'", a);
            i++;
        } else {
            return ns_cli_usage_error("bids", "option '%s' needs a value or is unknown", a);
        }
    }
    o->labels = *labels;
    ns_cli_set_verbosity(quiet, verbose);
    return 0;
}

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = calloc(len, 1);
    for (int i = 0; s && i < argc; i++) {
        strcat(s, argv[i]);
        if (i + 1 < argc)
            strcat(s, " ");
    }
    return s;
}

int ns_cmd_bids(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return NS_EXIT_OK;
    }
    if (argc < 4 || (strcmp(argv[3], "participant") && strcmp(argv[3], "group")))
        return ns_cli_usage_error("bids", "expected BIDS_DIR OUTPUT_DIR participant|group");
    ns_bids_opts o = {.bids_dir = argv[1], .out_dir = argv[2], .group_level = !strcmp(argv[3], "group"),
                      .models = "logreg,mlp:64", .select = "univariate:10,30", .folds = 5, .epochs = 60, .nprocs = 2, .seed = 1};
    const char **labels = NULL;
    int r = parse(argc, argv, &o, &labels);
    if (r) {
        free(labels);
        free(o.orders);
        return r < 0 ? NS_EXIT_OK : r;
    }
    if (!o.work_dir[0])
        snprintf(o.work_dir, sizeof o.work_dir, "%s/work", o.out_dir);
    char *cmdline = join_args(argc, argv);
    o.command_line = cmdline;
    if (ns_bids_mpi_begin(&o.rank, &o.nranks)) {
        free(cmdline), free(labels), free(o.orders);
        return ns_cli_fail();
    }
    if (o.rank > 0 && ns_log_get_level() > NS_LOG_WARN) /* rank 0 tells the story */
        ns_log_set_level(NS_LOG_WARN);
    r = o.group_level ? ns_bids_group(&o) : ns_bids_participant(&o);
    free(cmdline);
    free(labels);
    free(o.orders);
    return r;
}
