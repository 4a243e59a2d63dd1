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

#include "cli_util.h"
#include "sim/sim.h"
#if defined(NS_HAVE_ICA) && defined(NS_HAVE_FNC) && defined(NS_HAVE_MODELS) && defined(NS_HAVE_REPORT)
#define NS_DEMO_PIPELINE 1
#include "ica/ica.h"
#include "nifti_io/nifti_io.h"
int ns_cmd_bids(int argc, char **argv);
#endif

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
            "100x100, 150 volumes of 2 s, 30 sources, dynamic states, 2 sites) into\n"
            "OUT_DIR/bids (default ./%s) and runs every stage built into this binary on it.\n\n"
            "options:\n"
            "  --seed S     random seed (default %llu)\n"
            "  -q, --quiet  no progress (the summary is still printed)\n"
            "  -h, --help   this help\n",
            DEMO_DIR, (unsigned long long)DEMO_SEED);
}

/* The embedded default dataset. */
static ns_sim_params demo_params(uint64_t seed)
{
    ns_sim_params p = ns_sim_params_default();
    p.n_subjects = 24;
    p.seed = seed;
    /* No head motion: the simulator's motion is uncorrected motion, and the
     * pipeline (like GIFT) expects motion-corrected input; with it the order-30
     * maps match the truth at mean |r| 0.28 instead of 0.9. */
    p.motion = 0;
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
           "  dynamic states, %d sites -> %s\n",
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

#ifdef NS_DEMO_PIPELINE
#define DEMO_ORDERS "20,30"
#define DEMO_SCORED_ORDER 30

/* The whole pipeline as a user runs it: the BIDS-Apps group level (group ICA
 * at two model orders, back-reconstruction, FNC, classifiers with gradient
 * spectra by group, the report). */
static int step_pipeline(demo_ctx *c)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    char *argv[] = {"neurospectra", c->bids, c->deriv, "group", "--orders", DEMO_ORDERS,
                    "--models", "logreg,mlp:32", "--epochs", "40", "--seed", seed,
                    c->quiet ? "--quiet" : "--verbose", NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - (c->quiet ? 1 : 2);
    optind = 0;
    return ns_cmd_bids(argc, argv);
}

/* Group maps of the scored order against the true maps, in the group mask. */
static ns_status load_masked(const char *path, const unsigned char *keep, size_t nvox, size_t nkeep,
                             ns_matrix **out)
{
    ns_load_opts lo = {.no_sidecar = 1};
    ns_volume *v;
    ns_status s = ns_volume_load(path, &lo, &v);
    if (s)
        return s;
    *out = ns_matrix_create(v->nvol, nkeep);
    for (size_t k = 0; *out && k < v->nvol; k++)
        for (size_t i = 0, j = 0; i < nvox && i < v->nvox; i++)
            if (keep[i])
                NS_AT(*out, k, j++) = v->data[k * v->nvox + i];
    ns_volume_free(v);
    return *out ? NS_OK : NS_ERR_NOMEM;
}

static int step_score(demo_ctx *c)
{
    char mpath[4300], cpath[4300];
    snprintf(mpath, sizeof mpath, "%s/group/desc-brain_mask.nii.gz", c->deriv);
    snprintf(cpath, sizeof cpath, "%s/group/desc-ica%d_components.nii.gz", c->deriv, DEMO_SCORED_ORDER);
    ns_volume *mask;
    if (ns_volume_load(mpath, NULL, &mask))
        return ns_cli_fail();
    size_t nvox = ns_sim_nvox(c->sim), K = ns_sim_nsources(c->sim), nkeep = 0;
    unsigned char *keep = calloc(nvox, 1);
    for (size_t i = 0; keep && i < nvox && i < mask->nvox; i++)
        nkeep += keep[i] = mask->data[i] != 0;
    ns_volume_free(mask);
    ns_matrix *est = NULL, *truth = ns_matrix_create(K, nkeep);
    const float *tm = ns_sim_group_maps(c->sim);
    for (size_t k = 0; truth && keep && k < K; k++)
        for (size_t i = 0, j = 0; i < nvox; i++)
            if (keep[i])
                NS_AT(truth, k, j++) = tm[k * nvox + i];
    ns_ica_score sc = {0};
    ns_status s = truth && keep ? load_masked(cpath, keep, nvox, nkeep, &est) : NS_ERR_NOMEM;
    if (!s)
        s = ns_ica_match_score(truth, est, &sc);
    if (!s)
        printf("  order %d group maps vs the %zu true maps (Hungarian match): mean |r| %.3f, min |r| %.3f\n",
               DEMO_SCORED_ORDER, K, sc.mean_r, sc.min_r);
    ns_ica_score_clear(&sc);
    ns_matrix_free(est);
    ns_matrix_free(truth);
    free(keep);
    return s ? ns_cli_fail() : NS_EXIT_OK;
}

/* The pooled out-of-fold metrics of each classifier the pipeline trained. */
static int step_results(demo_ctx *c)
{
    const char *models[] = {"logreg", "mlp_32"};
    for (size_t i = 0; i < 2; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/group/train-diagnosis-%s/metrics.tsv", c->deriv, models[i]);
        ns_tsv *t;
        if (ns_tsv_read(path, &t))
            return ns_cli_fail();
        int cb = ns_tsv_column(t, "balanced_accuracy"), ca = ns_tsv_column(t, "auc");
        for (size_t r = 0; r < t->nrows && cb >= 0 && ca >= 0; r++) {
            const char *f = ns_tsv_get(t, r, 0);
            if (f && !strcmp(f, "pooled"))
                printf("  diagnosis (HC/MDD/BD, chance 0.33) by %-7s balanced accuracy %s, AUC %s\n", models[i],
                       ns_tsv_get(t, r, (size_t)cb), ns_tsv_get(t, r, (size_t)ca));
        }
        ns_tsv_free(t);
    }
    printf("  gradient spectra by diagnosis: %s/group/train-diagnosis-mlp_32/spectra/\n", c->deriv);
    return NS_EXIT_OK;
}
#endif

/* Stages add their step here, in data-flow order. */
static const demo_step steps[] = {
    {"simulate", step_simulate},
    {"ground truth", step_truth},
#ifdef NS_DEMO_PIPELINE
    {"pipeline: group ICA, FNC, classifiers with gradient spectra, report", step_pipeline},
    {"group ICA against the ground truth", step_score},
    {"classification results", step_results},
#endif
};

static void where(const demo_ctx *c)
{
    printf("\nwhere things are:\n"
           "  data          %s/sub-*/func/sub-*_task-rest_bold.nii.gz (+ .json sidecars)\n"
           "  participants  %s/participants.tsv\n"
           "  ground truth  %s/derivatives/simulation/truth.json (effects, parameters),\n"
           "                .../group/desc-true_components.nii.gz, .../sub-*/func/*_desc-true_timeseries.tsv\n"
           "  our outputs   %s (BIDS derivatives: group/, sub-*/)\n"
#ifdef NS_DEMO_PIPELINE
           "  the report    %s/report.html (and sub-*.html per subject)\n"
#endif
           ,
           c->bids, c->bids, c->bids, c->deriv
#ifdef NS_DEMO_PIPELINE
           , c->deriv
#endif
           );
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
    double t0 = ns_now();
    printf("neurospectra %s demo -> %s\n", NS_VERSION, c.out);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        double ts = ns_now();
        printf("\n[%zu/%zu] %s\n", k + 1, sizeof steps / sizeof steps[0], steps[k].name);
        fflush(stdout);
        rc = steps[k].run(&c);
        if (rc != NS_EXIT_OK)
            break;
        printf("  (%.1f s)\n", ns_now() - ts);
    }
    if (rc == NS_EXIT_OK) {
        where(&c);
        printf("\ndemo finished in %.1f s\n", ns_now() - t0);
    }
    ns_sim_free(c.sim);
    return rc;
}
