/* neurospectra demo: simulates the embedded default dataset and runs every
 * stage that is built on it, printing what it found and where things are.
 *
 * Each stage adds one step function and one line in the step table, inside
 * its `#ifdef NS_HAVE_<MODULE>` block (NS_HAVE_<MODULE> is defined when the
 * module is built). Steps read and write only under the demo directory:
 *   <out>/bids                      the simulated BIDS dataset (raw)
 *   <out>/bids/derivatives/simulation   its ground truth
 *   <out>/neurospectra              our derivatives (ICA, FNC, models, reports) */
/* requires: sim nifti_io */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "sim/sim.h"

const char ns_cmd_demo_summary[] = "simulate the default dataset and run every stage on it";

#define DEMO_SEED 20240611ULL
#define DEMO_DIR "neurospectra_demo"

typedef struct {
    char out[4096];   /* demo directory */
    char bids[4200];  /* simulated raw dataset */
    char deriv[4200]; /* our derivatives */
    uint64_t seed;
    int quiet;
    ns_sim *sim;      /* the simulation (truth in memory) */
} demo_ctx;

typedef struct {
    const char *name;
    int (*run)(demo_ctx *c); /* returns an exit code */
} demo_step;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: neurospectra demo [OUT_DIR] [options]\n\n"
            "Simulates the embedded default dataset (24 subjects HC/MDD/BD, SimTB model, 2-D\n"
            "100x100, 150 volumes of 2 s, 30 sources, motion, dynamic states, 2 sites) into\n"
            "OUT_DIR/bids (default ./%s) and runs every stage built into this binary on it.\n\n"
            "options:\n"
            "  --seed S     random seed (default %llu)\n"
            "  -q, --quiet  no progress (the summary is still printed)\n"
            "  -h, --help   this help\n",
            DEMO_DIR, (unsigned long long)DEMO_SEED);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The embedded default dataset. */
static ns_sim_params demo_params(uint64_t seed)
{
    ns_sim_params p = ns_sim_params_default();
    p.n_subjects = 24;
    p.seed = seed;
    p.motion = 1;
    p.dynamic = 1;
    p.n_sites = 2;
    return p;
}

static int step_simulate(demo_ctx *c)
{
    ns_sim_params p = demo_params(c->seed);
    if (ns_sim_create(&p, &c->sim) || ns_sim_write_bids(c->sim, c->bids))
        return ns_cli_fail();
    int n[3] = {0, 0, 0};
    for (int i = 0; i < p.n_subjects; i++)
        n[ns_sim_participant_at(c->sim, (size_t)i)->diagnosis]++;
    printf("  %d subjects (HC %d, MDD %d, BD %d), %lldx%lld slice, %d volumes, TR %g s, %d sources, CNR %g,\n"
           "  motion, dynamic states, %d sites -> %s\n",
           p.n_subjects, n[0], n[1], n[2], (long long)p.dim[0], (long long)p.dim[1], p.n_timepoints, p.tr,
           p.n_sources, p.cnr, p.n_sites, c->bids);
    return NS_EXIT_OK;
}

static double pair_z(const ns_sim_subject *s, int a, int b)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    size_t n = s->ntime, k = s->nsrc;
    for (size_t t = 0; t < n; t++)
        ma += s->tc[t * k + (size_t)a], mb += s->tc[t * k + (size_t)b];
    ma /= (double)n, mb /= (double)n;
    for (size_t t = 0; t < n; t++) {
        double x = s->tc[t * k + (size_t)a] - ma, y = s->tc[t * k + (size_t)b] - mb;
        sab += x * y, saa += x * x, sbb += y * y;
    }
    return atanh(sab / sqrt(saa * sbb));
}

/* The planted couplings as the true timecourses show them: mean correlation
 * of each effect's pairs by level of its label. */
static int step_truth(demo_ctx *c)
{
    size_t n = (size_t)ns_sim_get_params(c->sim)->n_subjects, ne = ns_sim_neffects(c->sim);
    printf("  planted effects, mean true correlation of their pairs by group:\n");
    for (size_t e = 0; e < ne; e++) {
        const ns_sim_effect *ef = ns_sim_effect_at(c->sim, e);
        if (ef->kind != NS_SIM_EFFECT_COUPLING)
            continue;
        double sum[3] = {0, 0, 0};
        int cnt[3] = {0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            ns_sim_subject *s;
            if (ns_sim_subject_create(c->sim, i, &s))
                return ns_cli_fail();
            const ns_sim_participant *pt = ns_sim_participant_at(c->sim, i);
            int lv = !strcmp(ef->label, "diagnosis") ? pt->diagnosis
                     : !strcmp(ef->label, "medication_class") ? pt->medication : pt->responder;
            double z = 0;
            int np = 0;
            for (int a = 0; a < ef->nsrc; a++)
                for (int b = a + 1; b < ef->nsrc; b++, np++)
                    z += pair_z(s, ef->src[a], ef->src[b]);
            sum[lv] += tanh(z / np), cnt[lv]++;
            ns_sim_subject_free(s);
        }
        printf("    %-17s", ef->name);
        for (int lv = 0; lv < 3; lv++) {
            const char *t = ns_sim_label_text(ef->label, lv);
            if (cnt[lv])
                printf("  %s %.2f (n=%d)", t ? t : "HC", sum[lv] / cnt[lv], cnt[lv]);
        }
        printf("\n");
    }
    printf("  (sub-networks: default mode, visual, sensorimotor share %.0f %% of their events;\n"
           "   dynamic: mean dwell %g TRs in controls, %g in patients)\n",
           100 * ns_sim_get_params(c->sim)->subnet_shared, ns_sim_get_params(c->sim)->dwell_control,
           ns_sim_get_params(c->sim)->dwell_patient);
    return NS_EXIT_OK;
}

/* Stages add their step here, in data-flow order. */
static const demo_step steps[] = {
    {"simulate", step_simulate},
    {"ground truth", step_truth},
#ifdef NS_HAVE_ICA
    /* {"group ICA", step_ica}: multi-order group ICA of c->bids into
     * c->deriv/group, scored against the true maps (Hungarian match). */
#endif
#ifdef NS_HAVE_FNC
    /* {"FNC", step_fnc}: static / multi-scale / dynamic FNC per subject and
     * the feature table; recovery of the planted couplings. */
#endif
#ifdef NS_HAVE_MODELS
    /* {"classifiers", step_models}: nested-CV classification of diagnosis,
     * medication class, responder from the FNC features. */
#endif
#ifdef NS_HAVE_SPECTRA
    /* {"gradient spectra", step_spectra}: per-group gradient spectra and rank. */
#endif
#ifdef NS_HAVE_REPORT
    /* {"report", step_report}: the HTML report of everything above. */
#endif
};

static void where(const demo_ctx *c)
{
    printf("\nwhere things are:\n"
           "  data          %s/sub-*/func/sub-*_task-rest_bold.nii.gz (+ .json, confounds .tsv)\n"
           "  participants  %s/participants.tsv\n"
           "  ground truth  %s/derivatives/simulation/truth.json (effects, parameters),\n"
           "                .../group/desc-true_components.nii.gz, .../sub-*/func/*_desc-true_timeseries.tsv\n"
           "  our outputs   %s\n",
           c->bids, c->bids, c->bids, c->deriv);
}

static int parse_args(int argc, char **argv, demo_ctx *c)
{
    static const struct option opts[] = {{"seed", required_argument, NULL, 's'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (o == 'h') {
            usage(stdout);
            return NS_EXIT_OK;
        }
        if (o == 'q')
            c->quiet = 1;
        else if (o != 's' || ns_cli_parse_seed(optarg, &c->seed))
            return ns_cli_usage_error("demo", o == 's' ? "--seed must be a non-negative integer" : "unknown option");
    }
    if (argc - optind > 1)
        return ns_cli_usage_error("demo", "too many arguments");
    const char *out = optind < argc ? argv[optind] : DEMO_DIR;
    if (strlen(out) >= sizeof c->out)
        return ns_cli_usage_error("demo", "OUT_DIR too long");
    snprintf(c->out, sizeof c->out, "%s", out);
    snprintf(c->bids, sizeof c->bids, "%s/bids", out);
    snprintf(c->deriv, sizeof c->deriv, "%s/neurospectra", out);
    return -1;
}

int ns_cmd_demo(int argc, char **argv)
{
    demo_ctx c;
    memset(&c, 0, sizeof c);
    c.seed = DEMO_SEED;
    int rc = parse_args(argc, argv, &c);
    if (rc >= 0)
        return rc;
    ns_cli_set_verbosity(c.quiet, 0);
    double t0 = now();
    printf("neurospectra %s demo -> %s\n", NS_VERSION, c.out);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        double ts = now();
        printf("\n[%zu/%zu] %s\n", k + 1, sizeof steps / sizeof steps[0], steps[k].name);
        fflush(stdout);
        rc = steps[k].run(&c);
        if (rc != NS_EXIT_OK)
            break;
        printf("  (%.1f s)\n", now() - ts);
    }
    if (rc == NS_EXIT_OK) {
        where(&c);
        printf("\ndemo finished in %.1f s\n", now() - t0);
    }
    ns_sim_free(c.sim);
    return rc;
}
