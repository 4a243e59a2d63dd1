/* neurospectra simulate: a SimTB-style BIDS dataset with ground truth. */
/* requires: sim nifti_io */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "sim/sim.h"

const char ns_cmd_simulate_summary[] = "simulate a SimTB-style BIDS dataset with ground truth";

static void usage(FILE *out)
{
    ns_sim_params p = ns_sim_params_default();
    fprintf(out,
            "usage: neurospectra simulate OUT_DIR [options]\n\n"
            "Writes a BIDS dataset of simulated resting-state fMRI (SimTB model) with\n"
            "planted group effects, and its ground truth under derivatives/simulation/.\n\n"
            "options:\n"
            "  --subjects N      number of subjects (default %d)\n"
            "  --seed S          random seed; the same seed gives byte-identical files (default %llu)\n"
            "  --shape SHAPE     2d (100x100 slice, default), 3d (53x63x46, 3 mm), X,Y or X,Y,Z\n"
            "  --timepoints T    volumes per subject (default %d)\n"
            "  --tr S            repetition time in seconds (default %g)\n"
            "  --sources K       sources from the catalogue, 1..%d (default %d)\n"
            "  --cnr C           contrast-to-noise ratio (default %g)\n"
            "  --noiseless       no scanner noise (for testing against the truth)\n"
            "  --motion          AR(1) head motion + fMRIPrep-style confounds TSV\n"
            "  --sites S         number of acquisition sites (default 1)\n"
            "  --dynamic         plant switching connectivity states (dwell time by diagnosis)\n"
            "  --no-subject-maps do not write each subject's true maps\n"
            "  --uncompressed    write .nii instead of .nii.gz (gzip dominates the run time)\n"
            "  -q, --quiet       no progress or summary\n"
            "  -h, --help        this help\n\n"
            "Participants: diagnosis HC/MDD/BD in thirds; medication_class and responder among\n"
            "patients. See docs/simulate.md for the model and derivatives/simulation/truth.json\n"
            "for the planted effects.\n",
            p.n_subjects, (unsigned long long)p.seed, p.n_timepoints, p.tr, NS_SIM_CATALOGUE_SIZE,
            p.n_sources, p.cnr);
}

/* "2d", "3d", "X,Y" or "X,Y,Z". */
static int parse_shape(const char *s, ns_sim_params *p)
{
    if (!strcmp(s, "2d") || !strcmp(s, "2D")) {
        ns_sim_params_set_shape(p, 100, 100, 1);
        return 0;
    }
    if (!strcmp(s, "3d") || !strcmp(s, "3D")) {
        ns_sim_params_set_shape(p, 53, 63, 46);
        return 0;
    }
    int *v = NULL, n = 0;
    if (ns_cli_parse_int_list(s, &v, &n) != 0)
        return -1;
    int ok = (n == 2 || n == 3) && v[0] <= 1024 && v[1] <= 1024 && (n == 2 || v[2] <= 1024);
    if (ok)
        ns_sim_params_set_shape(p, v[0], v[1], n == 3 ? v[2] : 1);
    free(v);
    return ok ? 0 : -1;
}

enum { OPT_SUBJECTS = 256, OPT_SEED, OPT_SHAPE, OPT_TIMEPOINTS, OPT_TR, OPT_SOURCES, OPT_CNR,
       OPT_MOTION, OPT_SITES, OPT_DYNAMIC, OPT_NOISELESS, OPT_NOMAPS, OPT_NOGZIP };

static const struct option long_opts[] = {
    {"subjects", required_argument, NULL, OPT_SUBJECTS}, {"seed", required_argument, NULL, OPT_SEED},
    {"shape", required_argument, NULL, OPT_SHAPE},       {"timepoints", required_argument, NULL, OPT_TIMEPOINTS},
    {"tr", required_argument, NULL, OPT_TR},             {"sources", required_argument, NULL, OPT_SOURCES},
    {"cnr", required_argument, NULL, OPT_CNR},           {"motion", no_argument, NULL, OPT_MOTION},
    {"sites", required_argument, NULL, OPT_SITES},       {"dynamic", no_argument, NULL, OPT_DYNAMIC},
    {"noiseless", no_argument, NULL, OPT_NOISELESS},     {"no-subject-maps", no_argument, NULL, OPT_NOMAPS},
    {"uncompressed", no_argument, NULL, OPT_NOGZIP},
    {"quiet", no_argument, NULL, 'q'},                   {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Returns -1 on success, else the exit code. */
static int parse_option(int c, const char *arg, ns_sim_params *p, int *quiet)
{
    long l;
    double d;
    switch (c) {
    case OPT_SUBJECTS:
        if (ns_cli_parse_long(arg, 1, 100000, &l))
            return ns_cli_usage_error("simulate", "--subjects must be an integer 1..100000 ('%s')", arg);
        p->n_subjects = (int)l;
        break;
    case OPT_SEED:
        if (ns_cli_parse_seed(arg, &p->seed))
            return ns_cli_usage_error("simulate", "--seed must be a non-negative integer ('%s')", arg);
        break;
    case OPT_SHAPE:
        if (parse_shape(arg, p))
            return ns_cli_usage_error("simulate", "--shape must be 2d, 3d, X,Y or X,Y,Z ('%s')", arg);
        break;
    case OPT_TIMEPOINTS:
        if (ns_cli_parse_long(arg, 10, 100000, &l))
            return ns_cli_usage_error("simulate", "--timepoints must be an integer 10..100000 ('%s')", arg);
        p->n_timepoints = (int)l;
        break;
    case OPT_TR:
        if (ns_cli_parse_double(arg, &d) || !(d > 0 && d <= 60))
            return ns_cli_usage_error("simulate", "--tr must be a number of seconds in (0, 60] ('%s')", arg);
        p->tr = d;
        break;
    case OPT_SOURCES:
        if (ns_cli_parse_long(arg, 1, NS_SIM_CATALOGUE_SIZE, &l))
            return ns_cli_usage_error("simulate", "--sources must be an integer 1..%d ('%s')",
                                      NS_SIM_CATALOGUE_SIZE, arg);
        p->n_sources = (int)l;
        break;
    case OPT_CNR:
        if (ns_cli_parse_double(arg, &d) || !(d > 0 && d < 1e6))
            return ns_cli_usage_error("simulate", "--cnr must be a positive number ('%s')", arg);
        p->cnr = d;
        break;
    case OPT_SITES:
        if (ns_cli_parse_long(arg, 1, 100000, &l))
            return ns_cli_usage_error("simulate", "--sites must be a positive integer ('%s')", arg);
        p->n_sites = (int)l;
        break;
    case OPT_MOTION: p->motion = 1; break;
    case OPT_DYNAMIC: p->dynamic = 1; break;
    case OPT_NOISELESS: p->noiseless = 1; break;
    case OPT_NOMAPS: p->write_subject_maps = 0; break;
    case OPT_NOGZIP: p->gzip = 0; break;
    case 'q': *quiet = 1; break;
    case 'h': usage(stdout); return NS_EXIT_OK;
    default: return ns_cli_usage_error("simulate", "unknown option");
    }
    return -1;
}

static void summary(const ns_sim *sim, const char *out, double secs)
{
    const ns_sim_params *p = ns_sim_get_params(sim);
    int count[3] = {0, 0, 0};
    for (int i = 0; i < p->n_subjects; i++)
        count[ns_sim_participant_at(sim, (size_t)i)->diagnosis]++;
    printf("simulated %d subjects (HC %d, MDD %d, BD %d) in %.1f s: %lldx%lldx%lld voxels, %d volumes, TR %g s, "
           "%d sources, %s\n",
           p->n_subjects, count[0], count[1], count[2], secs, (long long)p->dim[0], (long long)p->dim[1],
           (long long)p->dim[2], p->n_timepoints, p->tr, p->n_sources, p->noiseless ? "noiseless" : "Rician noise");
    printf("  data:         %s/sub-*/func/*_task-rest_bold%s\n", out, p->gzip ? ".nii.gz" : ".nii");
    printf("  participants: %s/participants.tsv\n", out);
    printf("  ground truth: %s/derivatives/simulation/truth.json (planted effects:", out);
    for (size_t e = 0; e < ns_sim_neffects(sim); e++)
        printf(" %s", ns_sim_effect_at(sim, e)->name);
    printf(")\n");
}

int ns_cmd_simulate(int argc, char **argv)
{
    ns_sim_params p = ns_sim_params_default();
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", long_opts, NULL)) != -1) {
        int rc = parse_option(c, optarg, &p, &quiet);
        if (rc >= 0)
            return rc;
    }
    if (optind != argc - 1)
        return ns_cli_usage_error("simulate", optind >= argc ? "missing OUT_DIR" : "too many arguments");
    ns_cli_set_verbosity(quiet, 0);
    if (p.n_sites > p.n_subjects)
        return ns_cli_usage_error("simulate", "--sites (%d) exceeds --subjects (%d)", p.n_sites, p.n_subjects);
    const char *out = argv[optind];
    double t0 = ns_now();
    ns_sim *sim;
    if (ns_sim_create(&p, &sim))
        return ns_cli_fail();
    ns_status st = ns_sim_write_bids(sim, out);
    if (!st && !quiet)
        summary(sim, out, ns_now() - t0);
    ns_sim_free(sim);
    return st ? ns_cli_fail() : NS_EXIT_OK;
}
