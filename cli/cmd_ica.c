/* neurospectra ica: group ICA at several model orders, or back-reconstruction
 * of subjects from a saved model.
 * requires: ica nifti_io */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "ica/ica.h"
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST) /* scale-out hook */
#include "dist/dist.h"
#endif

const char ns_cmd_ica_summary[] =
    "group ICA (GIFT defaults) at several model orders, ICASSO, back-reconstruction";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: neurospectra ica -o OUT [--bids DIR [--participant_label L ...]] [BOLD ...]\n"
            "                        [--orders 25,50,100] [--mask FILE]\n"
            "                        [--preproc timemean|voxelmean|intensity|variance] [--pc1 N]\n"
            "                        [--runs R [--icasso randinit|bootstrap|both]]\n"
            "                        [--algorithm infomax|fastica]\n"
            "                        [--backrecon gica|gica3|dr] [--seed S] [--nprocs N]\n"
            "                        [--group-only] [--quiet]\n"
            "       neurospectra ica --model OUT/group/desc-ica<K>_model.npz -o OUT BOLD ...\n\n"
            "Group spatial ICA with GIFT's defaults: mask from each subject's first volume\n"
            "(voxels >= the volume mean, AND over subjects), subject PCA through the T x T\n"
            "covariance, streaming group PCA (MIGP), Infomax, ICASSO, GICA back-reconstruction\n"
            "and z-scores. Every order given shares each pass over the data. Outputs (BIDS\n"
            "derivatives) are listed in docs/ica.md. With --model, subjects (fitted or new)\n"
            "are back-reconstructed from a saved model into OUT/sub-<label>/func/.\n\n"
            "options:\n"
            "  -o, --output DIR        output directory (required)\n"
            "  --bids DIR              find sub-*/[ses-*/]func/*_bold.nii[.gz] (fMRIPrep\n"
            "                          *_desc-preproc_bold.nii.gz preferred when present)\n"
            "  --participant_label L   restrict --bids to these subjects (repeat, or list them)\n"
            "  --orders LIST           model orders, comma-separated (default 25)\n"
            "  --mask FILE             user mask (non-zero voxels) instead of the GIFT rule\n"
            "  --preproc NAME          timemean (default), voxelmean, intensity, variance\n"
            "  --pc1 N                 subject PCs (default ceil(1.5 max order), below T)\n"
            "  --runs R                ICASSO runs (default 1)\n"
            "  --icasso MODE           what varies between the runs: randinit (default, the\n"
            "                          initialisation), bootstrap (voxels resampled), both\n"
            "  --algorithm NAME        infomax (default) or fastica\n"
            "  --backrecon NAME        gica (GICA1, default), gica3, dr (dual regression)\n"
            "  --seed S                random seed (default 0), recorded in the sidecars\n"
            "  --nprocs N              threads for subjects and ICASSO runs (default 1)\n"
            "  --migp-rows N           MIGP running rows (default K + max(K/10, 10), K the\n"
            "                          largest order; with --power-iters 0, max(2K, pc1))\n"
            "  --power-iters N         passes of subspace iteration refining MIGP's rows,\n"
            "                          then a Rayleigh-Ritz pass (default 1; 0 = MIGP alone;\n"
            "                          each pass reads the cache or the inputs)\n"
            "  --stacked-pca           exact group PCA of the stacked data (memory M pc1 V)\n"
            "  --group-only            group maps and models only, no subject outputs (no\n"
            "                          back-reconstruction pass; run --model later)\n"
            "  --cache-gb X            spill reduced data for the power iterations and pass 2\n"
            "                          up to X GB (default 8; 0 = re-read the inputs)\n"
            "  --max-iter N            ICA iteration limit (Infomax 512 passes, FastICA 200)\n"
            "  --fastica-subsample S   FastICA starts on every S-th voxel for up to 7/8 of\n"
            "                          the iterations, then runs on all (default 4, 8 from\n"
            "                          order 64; 1 = off)\n"
            "  --model FILE            back-reconstruct BOLD files from a saved model\n"
            "  -q, --quiet             no progress or information messages\n"
            "  -v, --verbose           debug messages\n"
            "  -h, --help              this help\n");
}

enum {
    OPT_BIDS = 256, OPT_LABEL, OPT_ORDERS, OPT_MASK, OPT_PREPROC, OPT_PC1, OPT_RUNS, OPT_ALG,
    OPT_BR, OPT_SEED, OPT_NPROCS, OPT_MIGP, OPT_POWER, OPT_STACKED, OPT_GROUP_ONLY, OPT_CACHE, OPT_MAXIT,
    OPT_SUBSAMPLE, OPT_MODEL, OPT_ICASSO
};

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},   {"bids", required_argument, NULL, OPT_BIDS},
    {"participant_label", required_argument, NULL, OPT_LABEL},
    {"participant-label", required_argument, NULL, OPT_LABEL},
    {"orders", required_argument, NULL, OPT_ORDERS}, {"mask", required_argument, NULL, OPT_MASK},
    {"preproc", required_argument, NULL, OPT_PREPROC}, {"pc1", required_argument, NULL, OPT_PC1},
    {"runs", required_argument, NULL, OPT_RUNS},  {"algorithm", required_argument, NULL, OPT_ALG},
    {"icasso", required_argument, NULL, OPT_ICASSO},
    {"backrecon", required_argument, NULL, OPT_BR}, {"seed", required_argument, NULL, OPT_SEED},
    {"nprocs", required_argument, NULL, OPT_NPROCS},
    {"migp-rows", required_argument, NULL, OPT_MIGP},
    {"power-iters", required_argument, NULL, OPT_POWER},
    {"stacked-pca", no_argument, NULL, OPT_STACKED},
    {"group-only", no_argument, NULL, OPT_GROUP_ONLY},
    {"cache-gb", required_argument, NULL, OPT_CACHE},
    {"max-iter", required_argument, NULL, OPT_MAXIT},
    {"fastica-subsample", required_argument, NULL, OPT_SUBSAMPLE},
    {"model", required_argument, NULL, OPT_MODEL},
    {"quiet", no_argument, NULL, 'q'},            {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};

typedef struct {
    ns_ica_params p;
    const char *bids, *model;
    const char **labels, **bold;
    size_t nlabels, nbold;
    int *orders, norders, backrecon_given, power_given, quiet, verbose;
} ica_args;

static int push(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static int is_nifti_name(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 4 && !strcmp(s + n - 4, ".nii")) ||
           (n > 7 && !strcmp(s + n - 7, ".nii.gz")) || (n > 4 && !strcmp(s + n - 4, ".hdr"));
}

static int parse_value(ica_args *a, int c, const char *arg)
{
    long v;
    double d;
    switch (c) {
    case OPT_ORDERS:
        free(a->orders);
        return ns_cli_parse_int_list(arg, &a->orders, &a->norders) ? -1 : 0;
    case OPT_PREPROC: return ns_ica_preproc_parse(arg, &a->p.preproc);
    case OPT_ALG: return ns_ica_algorithm_parse(arg, &a->p.ica.algorithm);
    case OPT_ICASSO: return ns_icasso_mode_parse(arg, &a->p.ica.icasso_mode);
    case OPT_BR: a->backrecon_given = 1; return ns_ica_backrecon_parse(arg, &a->p.backrecon);
    case OPT_SEED: return ns_cli_parse_seed(arg, &a->p.ica.seed);
    case OPT_PC1: if (ns_cli_parse_long(arg, 1, 100000, &v)) return -1; a->p.pc1 = (size_t)v; return 0;
    case OPT_RUNS: if (ns_cli_parse_long(arg, 1, 1000, &v)) return -1; a->p.runs = (size_t)v; return 0;
    case OPT_NPROCS: if (ns_cli_parse_long(arg, 1, 1024, &v)) return -1; a->p.nprocs = (int)v; return 0;
    case OPT_MIGP: if (ns_cli_parse_long(arg, 1, 100000, &v)) return -1; a->p.migp_rows = (size_t)v; return 0;
    case OPT_POWER: if (ns_cli_parse_long(arg, 0, 20, &v)) return -1; a->p.power_iters = (int)v; a->power_given = 1; return 0;
    case OPT_MAXIT: if (ns_cli_parse_long(arg, 1, 1000000, &v)) return -1; a->p.ica.max_iter = (int)v; return 0;
    case OPT_SUBSAMPLE: if (ns_cli_parse_long(arg, 1, 1000, &v)) return -1; a->p.ica.subsample = (int)v; return 0;
    case OPT_CACHE:
        if (ns_cli_parse_double(arg, &d) || d < 0) return -1;
        a->p.cache_gb = d;
        return 0;
    default: return -1;
    }
}

static const char *option_name(int c)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

/* 0 ok, 1 exit 0 (--help), 2 usage error (printed). */
static int parse(int argc, char **argv, ica_args *a)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qvh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->p.out_dir = optarg; break;
        case OPT_BIDS: a->bids = optarg; break;
        case OPT_LABEL:
            for (char *t = strtok(optarg, ","); t; t = strtok(NULL, ","))
                if (push(&a->labels, &a->nlabels, t))
                    return ns_cli_usage_error("ica", "out of memory");
            break;
        case OPT_MASK: a->p.mask_path = optarg; break;
        case OPT_STACKED: a->p.stacked_pca = 1; break;
        case OPT_GROUP_ONLY: a->p.group_only = 1; break;
        case OPT_MODEL: a->model = optarg; break;
        case 'q': a->quiet = 1; break;
        case 'v': a->verbose = 1; break;
        case 'h': usage(stdout); return 1;
        case '?': return ns_cli_usage_error("ica", "unknown option");
        default:
            if (parse_value(a, c, optarg))
                return ns_cli_usage_error("ica", "invalid value '%s' for --%s", optarg,
                                          option_name(c));
        }
    }
    /* Positional: BOLD files; with --bids, bare words continue --participant_label. */
    for (int i = optind; i < argc; i++)
        if (push(a->bids && !is_nifti_name(argv[i]) ? &a->labels : &a->bold,
                 a->bids && !is_nifti_name(argv[i]) ? &a->nlabels : &a->nbold, argv[i]))
            return ns_cli_usage_error("ica", "out of memory");
    if (!a->p.out_dir)
        return ns_cli_usage_error("ica", "-o OUT is required");
    if (!a->bids && a->nbold == 0)
        return ns_cli_usage_error("ica", "no BOLD files (give files or --bids DIR)");
    if (a->model && a->p.group_only)
        return ns_cli_usage_error("ica", "--group-only fits a model; --model applies one");
    if (a->nlabels && !a->bids)
        return ns_cli_usage_error("ica", "--participant_label needs --bids");
    if (a->p.stacked_pca && (a->power_given || a->p.migp_rows))
        return ns_cli_usage_error("ica", "--stacked-pca is exact; --power-iters and --migp-rows "
                                  "apply to MIGP");
    return 0;
}

static char *command_line(int argc, char **argv)
{
    size_t len = 16;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "neurospectra");
    for (int i = 0; i < argc; i++)
        strcat(strcat(s, " "), argv[i]);
    return s;
}

/* Adds the BOLD files found under --bids to the explicit ones. */
static int add_bids(ica_args *a, char ***found, size_t *nfound)
{
    if (ns_ica_find_bold(a->bids, a->labels, a->nlabels, found, nfound) != NS_OK)
        return -1;
    for (size_t i = 0; i < *nfound; i++)
        if (push(&a->bold, &a->nbold, (*found)[i]))
            return -1;
    return 0;
}

/* Back-reconstruction of the subjects bold[0..n) from the saved model. */
static ns_status apply_model_to(const ica_args *a, const char *const *bold, size_t n)
{
    return ns_ica_apply_model(a->model, a->p.out_dir, bold, n,
                              a->backrecon_given ? (int)a->p.backrecon : -1, a->p.nprocs);
}

#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST) /* scale-out hook */
/* Under mpirun each rank takes a contiguous block of the subjects
 * (docs/scaling.md) and every rank learns whether any subject failed. */
static ns_status apply_model_ranks(const ica_args *a, const char *const *bold, size_t n)
{
    ns_status st = ns_dist_mpi_begin();
    if (st != NS_OK)
        return st;
    size_t rank = (size_t)ns_scale_rank(), size = (size_t)ns_scale_size();
    size_t lo, hi;
    ns_block_range(n, rank, size, &lo, &hi);
    st = hi > lo ? apply_model_to(a, bold + lo, hi - lo) : NS_OK;
    if (ns_scale_sum(st != NS_OK) > 0 && st == NS_OK)
        st = ns_error(NS_ERR_IO, "another MPI rank failed (its message names the subject)");
    return st;
}
#endif

/* --model: back-reconstruction, split across ranks under mpirun. */
static ns_status apply_model(const ica_args *a)
{
    const char *const *bold = (const char *const *)a->bold;
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (ns_scale_wanted() && a->nbold > 0)
        return apply_model_ranks(a, bold, a->nbold);
#endif
    return apply_model_to(a, bold, a->nbold);
}

static int run(ica_args *a, int argc, char **argv)
{
    char **found = NULL, *cmd = NULL;
    size_t nfound = 0;
    int rc = NS_EXIT_OK;
    if (a->bids && add_bids(a, &found, &nfound))
        rc = ns_cli_fail();
    if (rc == NS_EXIT_OK && a->model) {
        if (apply_model(a) != NS_OK)
            rc = ns_cli_fail();
    } else if (rc == NS_EXIT_OK) {
        a->p.orders = a->orders;
        a->p.norders = (size_t)a->norders;
        a->p.command_line = cmd = command_line(argc, argv);
        ns_status fst;
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST) /* scale-out hook (docs/scaling.md) */
        if (ns_scale_wanted())
            fst = ns_scale_ica_fit(&a->p, a->bold, a->nbold);
        else
#endif /* end of the scale-out hook */
            fst = ns_ica_fit(&a->p, a->bold, a->nbold);
        if (fst != NS_OK)
            rc = ns_cli_fail();
    }
    for (size_t i = 0; i < nfound; i++)
        free(found[i]);
    free(found), free(cmd);
    return rc;
}

int ns_cmd_ica(int argc, char **argv)
{
    ica_args a = {0};
    ns_ica_params_default(&a.p);
    static const int def_order = 25;
    int r = parse(argc, argv, &a);
    if (r == 0 && !a.orders) {
        a.orders = malloc(sizeof(int));
        if (a.orders)
            a.orders[0] = def_order, a.norders = 1;
    }
    if (r == 0) {
        ns_cli_set_verbosity(a.quiet, a.verbose);
        r = run(&a, argc, argv);
    } else if (r == 1) {
        r = NS_EXIT_OK;
    }
    free(a.labels), free(a.bold), free(a.orders);
    return r;
}
