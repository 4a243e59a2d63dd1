/* neurospectra train: (nested) cross-validated classification of feature
 * tables, sequences or subjects' component subspaces, with the classical
 * classifiers and the networks of models/.
 *
 * Layout, so that other stages add options without rewriting this file:
 *   train_opts      every option; other stages add their fields at the end
 *   long_opts[]     + take_ext_option(): one table entry and one case per option
 *   load_*()        inputs -> train_data (features, ids, labels)
 *   setup_cv()      options -> ns_cv_params
 *   hooks_setup()   HOOK: spectra (--spectra --groups ...) and dist (--dist ...)
 *                   fill the ns_clf_nn_hooks here (tap subscription, distributed fit)
 *   run_cv(), run_final(), write_summary()
 * requires: models */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_cdf.h>

#include "cli_util.h"
#include "models/models.h"
#ifdef NS_HAVE_NIFTI_IO
#include "nifti_io/nifti_io.h"
#endif
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
#include "dist/dist.h"
#endif
#ifdef NS_HAVE_SPECTRA
#include "spectra/spectra.h"
#endif

const char ns_cmd_train_summary[] =
    "cross-validated classifiers (logreg, SVM, principal-angle kernel, networks) on features";

static void usage(FILE *out)
{
    fprintf(out,
        "usage: neurospectra train FEATURES --labels participants.tsv --target COLUMN -o OUT\n"
        "                          [--model M] [--folds K] [--nested] [--select S] [options]\n\n"
        "FEATURES is one of\n"
        "  table.tsv     participant_id + one numeric column per feature (FNC edges, ...)\n"
        "  X.npy         N x F features or N x T x C sequences (float); rows are matched\n"
        "                to --ids FILE (one participant_id per line), else taken in the\n"
        "                order of the labels table (which must then have N rows)\n"
        "  DIR           per-subject sequences: every *_timeseries.tsv below DIR (T rows x\n"
        "                C columns, e.g. sub-01/func/sub-01_desc-ica25_timeseries.tsv);\n"
        "                --match S keeps file names containing S; one file per subject\n"
        "  maps.npy      with --model svm-subspace: N x K x V component maps per subject\n"
        "  ICA_OUT       with --model svm-subspace: the output tree of `neurospectra ica`:\n"
        "                every sub-*_components.nii[.gz] (--match desc-ica25 picks the\n"
        "                order) masked with ICA_OUT/group/desc-brain_mask.nii.gz\n"
        "  kernel.tsv    with --model svm-precomputed: participant_id + one column per\n"
        "                participant_id (a kernel between subjects)\n"
        "Labels: participants.tsv (BIDS), joined on participant_id ('sub-' optional);\n"
        "rows whose target is n/a are dropped with a warning naming them.\n\n"
        "models (--model):\n"
        "  logreg (L2, default) | logreg-l1 | svm-linear | svm-rbf | svm-precomputed\n"
        "  svm-subspace   SVM on the principal-angle kernel between subjects' subspaces\n"
        "  mlp:256,64 | cnn1d:16k5s2,32k3 | rnn:64 | gru:128 | lstm:128   networks\n"
        "options:\n"
        "  --C X[,X...]        inverse regularisation (sklearn's C); several = grid for\n"
        "                      --nested (default grid with --nested: 0.01,0.1,1,10,100)\n"
        "  --gamma X           RBF width (default sklearn 'scale': 1/(F var(X)))\n"
        "  --balanced          class weights n/(k n_c)\n"
        "  --tol X             solver tolerance (default 1e-8 logreg, 1e-3 SVM as libsvm)\n"
        "  --folds K           stratified outer folds (default 5); 1 = one model on all rows\n"
        "  --nested            choose C and the selection size by inner CV in every fold\n"
        "  --inner-folds K     inner folds (default 3)\n"
        "  --select S          none (default) | univariate[:K[,K...]] (ANOVA F top-K,\n"
        "                      without K: p < 0.05) | ssfs[:K[,K...]] (soft sequential\n"
        "                      forward selection of up to K domains; with svm-subspace:\n"
        "                      of components)\n"
        "  --domains auto|column  ssfs domains: auto (default) from column names\n"
        "                      (ica25c03-ica50c12 -> ica25-ica50), column = one per column\n"
        "  --per-domain M      ssfs: keep the top M columns (ANOVA F) of each domain\n"
        "  --no-standardize    do not z-score features (training-fold statistics)\n"
        "  --impute mean       n/a features -> training-fold column mean (default: error)\n"
        "  --permutations N    permutation test: the whole CV repeated on permuted labels\n"
        "  --predict FILE      also fit on all rows and predict FILE (same kind as FEATURES)\n"
        "                      into OUT/predict.tsv (decision values and probabilities)\n"
        "  --seed S            folds, permutations, network initialisation (default 0)\n"
        "networks:\n"
        "  --epochs E  --batch B  --optimizer sgd|adam|adamw  --lr X  --activation A\n"
        "  --no-bias  --dropout P  --weight-decay X  --momentum X\n"
        "training across sites over MPI (mpirun -np S; docs/distributed.md):\n"
        "  --dist M            dsgd | dad | edad | rankdad:R[:oneway|:twoway][:iters=I] | powersgd:R\n"
        "  --site-column COL   participants.tsv column naming each participant's site\n"
        "  --dist-spectra N    aggregated-gradient spectra every N steps (default 10)\n"
        "spectra of the networks' layer gradients (docs/spectra.md), into OUT/spectra/:\n"
        "  --spectra           singular values, ranks, bounds of every layer, every step\n"
        "  --groups COLUMN     also per group of this participants.tsv column (implies --spectra)\n"
        "  --spectra-every N   every N-th optimiser step (default 1)\n"
        "  --topk K            singular values kept per layer and group (default 10)\n"
        "  -o, --output OUT    output directory\n"
        "  -q, --quiet  -v, --verbose  -h, --help\n\n"
        "Writes OUT/metrics.tsv (per fold, mean over folds, pooled out-of-fold),\n"
        "OUT/predictions.tsv, OUT/confusion.tsv, OUT/summary.json and\n"
        "OUT/fold-<k>_model.npz; with --folds 1 (or --predict) OUT/model.npz.\n");
}

/* ---------------------------------------------------------------- options */

typedef struct {
    const char *features, *labels, *target, *ids, *match, *out, *predict;
    const char *model, *select, *domains;
    double *c_grid;
    int nc_grid, c_given;
    size_t *k_grid;
    int nk_grid;
    double gamma, tol;
    int balanced, standardize, impute, folds, nested, inner_folds, permutations;
    size_t per_domain;
    uint64_t seed;
    ns_nn_config cfg;
    int quiet, verbose;
    /* other stages' options go below (spectra: --spectra --groups; dist: --dist) */
    const char *dist, *site_column; /* dist: method spec, participants.tsv site column */
    int dist_spectra, dist_spectra_given;
    const char **dist_out;          /* dist: rank > 0 redirects its outputs (&out) */
    int spectra, spectra_every, topk; /* spectra: --spectra, --spectra-every, --topk */
    const char *groups;               /* spectra: --groups COLUMN */
} train_opts;

enum { O_LABELS = 256, O_TARGET, O_MODEL, O_C, O_GAMMA, O_BAL, O_FOLDS, O_NESTED, O_INNER,
       O_SELECT, O_DOMAINS, O_PERDOM, O_NOSTD, O_IMPUTE, O_PERM, O_PREDICT, O_SEED, O_IDS,
       O_MATCH, O_TOL, O_EPOCHS, O_BATCH, O_OPT, O_LR, O_ACT, O_NOBIAS, O_DROP, O_WD, O_MOM };

enum { O_DIST = 1000, O_SITE_COLUMN, O_DIST_SPECTRA }; /* dist's options */
enum { O_SPECTRA = 1100, O_GROUPS, O_SPECTRA_EVERY, O_TOPK }; /* spectra's options */

static const struct option long_opts[] = {
    {"labels", required_argument, 0, O_LABELS}, {"target", required_argument, 0, O_TARGET},
    {"model", required_argument, 0, O_MODEL}, {"C", required_argument, 0, O_C},
    {"gamma", required_argument, 0, O_GAMMA}, {"balanced", no_argument, 0, O_BAL},
    {"folds", required_argument, 0, O_FOLDS}, {"nested", no_argument, 0, O_NESTED},
    {"inner-folds", required_argument, 0, O_INNER}, {"select", required_argument, 0, O_SELECT},
    {"domains", required_argument, 0, O_DOMAINS}, {"per-domain", required_argument, 0, O_PERDOM},
    {"no-standardize", no_argument, 0, O_NOSTD}, {"impute", required_argument, 0, O_IMPUTE},
    {"permutations", required_argument, 0, O_PERM}, {"predict", required_argument, 0, O_PREDICT},
    {"seed", required_argument, 0, O_SEED}, {"ids", required_argument, 0, O_IDS},
    {"match", required_argument, 0, O_MATCH}, {"tol", required_argument, 0, O_TOL}, {"epochs", required_argument, 0, O_EPOCHS},
    {"batch", required_argument, 0, O_BATCH}, {"optimizer", required_argument, 0, O_OPT},
    {"lr", required_argument, 0, O_LR}, {"activation", required_argument, 0, O_ACT},
    {"no-bias", no_argument, 0, O_NOBIAS}, {"dropout", required_argument, 0, O_DROP},
    {"weight-decay", required_argument, 0, O_WD}, {"momentum", required_argument, 0, O_MOM},
    {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
    {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'},
    /* other stages' options go here */
    {"dist", required_argument, 0, O_DIST}, {"site-column", required_argument, 0, O_SITE_COLUMN},
    {"dist-spectra", required_argument, 0, O_DIST_SPECTRA},
    {"spectra", no_argument, 0, O_SPECTRA}, {"groups", required_argument, 0, O_GROUPS},
    {"spectra-every", required_argument, 0, O_SPECTRA_EVERY}, {"topk", required_argument, 0, O_TOPK},
    {0, 0, 0, 0}};

static int parse_double_list(const char *s, double **out, int *n)
{
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    double *v = malloc(sizeof *v * (size_t)cap);
    char *copy = strdup(s), *save = NULL;
    int k = 0;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
        if (!v || ns_cli_parse_double(t, &v[k++]) || !(v[k - 1] > 0)) {
            k = 0;
            break;
        }
    free(copy);
    if (k == 0) {
        free(v);
        return -1;
    }
    free(*out);
    *out = v;
    *n = k;
    return 0;
}

/* "univariate", "univariate:10,50", "ssfs", "ssfs:3", "none". */
static int parse_select(const char *s, train_opts *o)
{
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    if (!((len == 4 && !strncmp(s, "none", 4)) || (len == 10 && !strncmp(s, "univariate", 10)) ||
          (len == 4 && !strncmp(s, "ssfs", 4))))
        return -1;
    o->select = s;
    free(o->k_grid);
    o->k_grid = NULL;
    o->nk_grid = 0;
    if (!colon)
        return 0;
    int *v, n;
    if (ns_cli_parse_int_list(colon + 1, &v, &n))
        return -1;
    o->k_grid = malloc(sizeof *o->k_grid * (size_t)n);
    for (int i = 0; o->k_grid && i < n; i++)
        o->k_grid[i] = (size_t)v[i];
    o->nk_grid = o->k_grid ? n : 0;
    free(v);
    return o->k_grid ? 0 : -1;
}

static int take_nn_option(int c, const char *a, train_opts *o)
{
    long v;
    double d;
    switch (c) {
    case O_EPOCHS: case O_BATCH:
        if (ns_cli_parse_long(a, 1, 1L << 30, &v))
            return ns_cli_usage_error("train", "invalid number '%s'", a);
        *(c == O_EPOCHS ? &o->cfg.epochs : &o->cfg.batch) = (int)v;
        return 0;
    case O_OPT:
        return ns_nn_opt_parse(a, &o->cfg.opt) ? ns_cli_usage_error("train", "%s", ns_last_error())
                                               : 0;
    case O_ACT:
        return ns_nn_act_parse(a, &o->cfg.act, &o->cfg.act_slope)
                   ? ns_cli_usage_error("train", "%s", ns_last_error()) : 0;
    case O_NOBIAS: o->cfg.bias = 0; return 0;
    case O_LR: case O_DROP: case O_WD: case O_MOM:
        if (ns_cli_parse_double(a, &d) || !(d >= 0))
            return ns_cli_usage_error("train", "invalid value '%s'", a);
        if (c == O_LR) o->cfg.lr = d;
        else if (c == O_DROP) o->cfg.dropout = (float)d;
        else if (c == O_WD) o->cfg.weight_decay = d;
        else o->cfg.momentum = d;
        return 0;
    default:
        return -1;
    }
}

/* HOOK: options of other stages (spectra: --spectra --groups; dist: --dist).
 * Returns 0 when handled, an exit code on a bad value, -1 when c is not one
 * of theirs. */
static int take_ext_option(int c, const char *a, train_opts *o)
{
    long v;
    switch (c) {
    case O_DIST: {
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
        ns_dist_method m;
        if (ns_dist_method_parse(a, &m))
            return ns_cli_usage_error("train", "%s", ns_last_error());
        o->dist = a;
        o->dist_out = &o->out;
        return 0;
#else
        return ns_cli_usage_error("train", "--dist needs neurospectra built with MPI "
                                  "(install libopenmpi-dev and reconfigure)");
#endif
    }
    case O_SITE_COLUMN: o->site_column = a; return 0;
    case O_DIST_SPECTRA:
        if (ns_cli_parse_long(a, 0, 1L << 30, &v))
            return ns_cli_usage_error("train", "invalid --dist-spectra '%s'", a);
        o->dist_spectra = (int)v, o->dist_spectra_given = 1;
        return 0;
    case O_SPECTRA: o->spectra = 1; return 0;
    case O_GROUPS: o->groups = a; o->spectra = 1; return 0;
    case O_SPECTRA_EVERY: case O_TOPK:
        if (ns_cli_parse_long(a, 1, 1L << 30, &v))
            return ns_cli_usage_error("train", "invalid number '%s'", a);
        *(c == O_TOPK ? &o->topk : &o->spectra_every) = (int)v;
        o->spectra = 1;
        return 0;
    default:
        return -1;
    }
}

/* One option; returns 0 or an exit code. */
static int take_option(int c, const char *a, train_opts *o)
{
    long v;
    switch (c) {
    case O_LABELS: o->labels = a; return 0;
    case O_TARGET: o->target = a; return 0;
    case O_MODEL: o->model = a; return 0;
    case O_IDS: o->ids = a; return 0;
    case O_MATCH: o->match = a; return 0;
    case O_PREDICT: o->predict = a; return 0;
    case 'o': o->out = a; return 0;
    case O_BAL: o->balanced = 1; return 0;
    case O_NESTED: o->nested = 1; return 0;
    case O_NOSTD: o->standardize = 0; return 0;
    case 'q': o->quiet = 1; return 0;
    case 'v': o->verbose = 1; return 0;
    case O_C:
        o->c_given = 1;
        return parse_double_list(a, &o->c_grid, &o->nc_grid)
                   ? ns_cli_usage_error("train", "invalid --C '%s' (positive numbers)", a) : 0;
    case O_GAMMA: case O_TOL:
        return ns_cli_parse_double(a, c == O_GAMMA ? &o->gamma : &o->tol) ||
                       !((c == O_GAMMA ? o->gamma : o->tol) > 0)
                   ? ns_cli_usage_error("train", "invalid value '%s'", a) : 0;
    case O_SELECT:
        return parse_select(a, o) ? ns_cli_usage_error("train", "invalid --select '%s'", a) : 0;
    case O_DOMAINS:
        if (strcmp(a, "auto") && strcmp(a, "column"))
            return ns_cli_usage_error("train", "invalid --domains '%s' (auto, column)", a);
        o->domains = a;
        return 0;
    case O_IMPUTE:
        if (strcmp(a, "mean"))
            return ns_cli_usage_error("train", "invalid --impute '%s' (mean)", a);
        o->impute = 1;
        return 0;
    case O_SEED:
        return ns_cli_parse_seed(a, &o->seed) ? ns_cli_usage_error("train", "invalid seed '%s'", a)
                                              : 0;
    case O_FOLDS: case O_INNER: case O_PERM: case O_PERDOM:
        if (ns_cli_parse_long(a, c == O_FOLDS ? 1 : c == O_INNER ? 2 : 0, 1L << 30, &v))
            return ns_cli_usage_error("train", "invalid number '%s'", a);
        if (c == O_FOLDS) o->folds = (int)v;
        else if (c == O_INNER) o->inner_folds = (int)v;
        else if (c == O_PERM) o->permutations = (int)v;
        else o->per_domain = (size_t)v;
        return 0;
    default: {
        int rc = take_nn_option(c, a, o);
        if (rc < 0)
            rc = take_ext_option(c, a, o);
        return rc < 0 ? ns_cli_usage_error("train", "unhandled option %d", c) : rc;
    }
    }
}

/* ------------------------------------------------------------------ data */

typedef struct {
    size_t n, p;
    char **ids;        /* n participant ids (as in FEATURES) */
    double *x;         /* n x p (sequences flattened; kernels n x n) */
    char **colnames;   /* p (tables), else NULL */
    int in_ndim;
    size_t shape[2];
    float *maps;       /* svm-subspace: n x K x V */
    size_t nmaps_k, nmaps_v;
    ns_subspace_set *subspace;
    int *y;
    int nclass;
    char **classes;
    json_t *dropped;   /* {"no_label": [...], "no_features": [...], "target_na": [...]} */
    /* dist: after the cut to this rank's sites, the rows of the whole table
     * (n_all, 0 without --dist) and each kept row's index in it (orig) */
    size_t n_all;
    size_t *orig;
} train_data;

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

static void train_data_free(train_data *d)
{
    free_strings(d->ids, d->n);
    free_strings(d->colnames, d->p);
    free_strings(d->classes, (size_t)d->nclass);
    free(d->x);
    free(d->maps);
    free(d->y);
    free(d->orig);
    ns_subspace_set_free(d->subspace);
    json_decref(d->dropped);
    memset(d, 0, sizeof *d);
}

/* "sub-01" and "01" name the same participant. */
static const char *bare_id(const char *id)
{
    return strncmp(id, "sub-", 4) ? id : id + 4;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* A table: participant_id + numeric columns; n/a cells become NaN. */
static ns_status load_table(const char *path, train_data *d)
{
    ns_tsv *t = NULL;
    ns_status st = ns_tsv_read(path, &t);
    if (st)
        return st;
    int idc = ns_tsv_column(t, "participant_id");
    if (idc < 0 || t->ncols < 2 || t->nrows == 0) {
        ns_tsv_free(t);
        return ns_error(NS_ERR_DATA, idc < 0 ? "no participant_id column (%s)"
                                             : "no feature columns or no rows (%s)", path);
    }
    d->n = t->nrows;
    d->p = t->ncols - 1;
    d->ids = ns_calloc(d->n, sizeof *d->ids);
    d->colnames = ns_calloc(d->p, sizeof *d->colnames);
    d->x = ns_alloc(d->n * d->p, sizeof *d->x);
    st = (!d->ids || !d->colnames || !d->x) ? NS_ERR_NOMEM : NS_OK;
    for (size_t j = 0, c = 0; !st && c < t->ncols; c++)
        if ((int)c != idc && !(d->colnames[j++] = strdup(t->header[c])))
            st = NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < d->n; i++) {
        const char *id = ns_tsv_get(t, i, (size_t)idc);
        if (!id) {
            st = ns_error(NS_ERR_DATA, "participant_id missing on row %zu (%s)", i + 2, path);
            break;
        }
        d->ids[i] = strdup(id);
        for (size_t j = 0, c = 0; !st && c < t->ncols; c++)
            if ((int)c != idc && (st = ns_tsv_get_double(t, i, c, &d->x[i * d->p + j++])))
                ns_error_prefix(st, "%s", path);
    }
    ns_tsv_free(t);
    return st;
}

/* One participant id per line. */
static ns_status read_ids(const char *path, size_t n, char ***out)
{
    char *buf;
    size_t len, k = 0;
    ns_status st = ns_read_file(path, &buf, &len);
    if (st)
        return st;
    char **ids = ns_calloc(n ? n : 1, sizeof *ids), *save = NULL;
    for (char *t = strtok_r(buf, "\r\n", &save); ids && t; t = strtok_r(NULL, "\r\n", &save))
        if (*t && k < n + 1) {
            if (k < n)
                ids[k] = strdup(t);
            k++;
        }
    free(buf);
    if (!ids)
        return NS_ERR_NOMEM;
    if (k != n) {
        free_strings(ids, n);
        return ns_error(NS_ERR_DATA, "%zu ids for %zu rows of features (%s)", k, n, path);
    }
    *out = ids;
    return NS_OK;
}

/* X.npy / X.npz ("X" or the only member): N x F, N x T x C, or maps N x K x V. */
static ns_status load_array(const char *path, const train_opts *o, int maps, train_data *d)
{
    ns_array *a = NULL;
    ns_npz *z = NULL;
    ns_status st;
    if (has_suffix(path, ".npz")) {
        st = ns_npz_read(path, &z);
        const ns_array *m = st ? NULL : ns_npz_get(z, "X");
        if (!st && !m && ns_npz_count(z) == 1)
            m = ns_npz_get(z, ns_npz_name(z, 0));
        if (!st && !m)
            st = ns_error(NS_ERR_DATA, "no array 'X' in %s", path);
        if (!st)
            a = ns_array_create(m->dtype, m->ndim, m->shape);
        if (a)
            memcpy(a->data, m->data, ns_array_count(m) * ns_dtype_size(m->dtype));
        ns_npz_free(z);
    } else {
        st = ns_npy_read(path, &a);
    }
    if (st)
        return st;
    if (!a)
        return NS_ERR_NOMEM;
    if (a->ndim != 2 && a->ndim != 3)
        st = ns_error(NS_ERR_DATA, "features must be N x F or N x T x C, got %d dims (%s)",
                      a->ndim, path);
    else if (maps && a->ndim != 3)
        st = ns_error(NS_ERR_DATA, "component maps must be N x K x V (%s)", path);
    if (!st) {
        d->n = a->shape[0];
        d->in_ndim = a->ndim - 1;
        d->shape[0] = a->shape[1];
        d->shape[1] = a->ndim == 3 ? a->shape[2] : 1;
        d->p = d->shape[0] * d->shape[1];
        if (maps) {
            d->nmaps_k = a->shape[1], d->nmaps_v = a->shape[2];
            st = ns_array_to_f32(a, &d->maps);
            d->p = d->nmaps_k;
        } else {
            st = ns_array_to_f64(a, &d->x);
        }
    }
    ns_array_free(a);
    if (!st && o->ids)
        st = read_ids(o->ids, d->n, &d->ids);
    return st;
}

typedef struct {
    char **paths;
    size_t n, cap;
} path_list;

/* Every sub-*<suffix> file under dir (containing match when given). */
static ns_status find_files(const char *dir, const char *suffix, const char *match,
                            path_list *l, int depth)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return ns_error(NS_ERR_IO, "cannot read directory (%s)", dir);
    ns_status st = NS_OK;
    for (struct dirent *e; !st && (e = readdir(dh));) {
        if (e->d_name[0] == '.')
            continue;
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
            st = NS_ERR_NOMEM;
            break;
        }
        if (is_dir(p) && depth < 8) {
            st = find_files(p, suffix, match, l, depth + 1);
        } else if (has_suffix(e->d_name, suffix) && !strncmp(e->d_name, "sub-", 4) &&
                   (!match || strstr(e->d_name, match))) {
            if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 64;
                char **np = realloc(l->paths, l->cap * sizeof *np);
                if (!np) {
                    free(p);
                    st = NS_ERR_NOMEM;
                    break;
                }
                l->paths = np;
            }
            l->paths[l->n++] = p;
            p = NULL;
        }
        free(p);
    }
    closedir(dh);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "sub-01" from ".../sub-01_ses-1_desc-ica25_timeseries.tsv". */
static char *subject_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "sub-", 4))
        return NULL;
    size_t len = strcspn(base, "_");
    return strndup(base, len);
}

/* A T x C numeric table (header row of channel names). */
static ns_status read_series(const char *path, double **x, size_t *T, size_t *C)
{
    ns_tsv *t = NULL;
    ns_status st = ns_tsv_read(path, &t);
    if (st)
        return st;
    *T = t->nrows, *C = t->ncols;
    *x = ns_alloc(t->nrows * t->ncols + 1, sizeof **x);
    st = *x ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < t->nrows * t->ncols; i++) {
        if ((st = ns_tsv_get_double(t, i / t->ncols, i % t->ncols, &(*x)[i])))
            ns_error_prefix(st, "%s", path);
        else if (!isfinite((*x)[i]))
            st = ns_error(NS_ERR_DATA, "n/a in a timeseries (%s)", path);
    }
    if (st) {
        free(*x);
        *x = NULL;
    }
    ns_tsv_free(t);
    return st;
}

/* Per-subject sequences: one file per subject, equal channels; series of
 * unequal length are cut to the shortest (with a warning). */
static ns_status load_series_dir(const char *dir, const char *match, train_data *d)
{
    path_list l = {0};
    ns_status st = find_files(dir, "_timeseries.tsv", match, &l, 0);
    if (!st && l.n == 0)
        st = ns_error(NS_ERR_DATA, "no *_timeseries.tsv%s%s%s below the directory (%s)",
                      match ? " containing '" : "", match ? match : "", match ? "'" : "", dir);
    if (!st)
        qsort(l.paths, l.n, sizeof *l.paths, cmp_str);
    double **xs = st ? NULL : ns_calloc(l.n, sizeof *xs);
    size_t *Ts = st ? NULL : ns_calloc(l.n, sizeof *Ts), Tmin = (size_t)-1, C = 0;
    d->ids = st ? NULL : ns_calloc(l.n, sizeof *d->ids);
    if (!st && (!xs || !Ts || !d->ids))
        st = NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < l.n; i++) {
        size_t c;
        d->ids[i] = subject_of(l.paths[i]);
        d->n = i + 1;
        if (!d->ids[i])
            st = ns_error(NS_ERR_DATA, "file name does not start with sub-<label> (%s)",
                          l.paths[i]);
        else if (i && !strcmp(d->ids[i], d->ids[i - 1]))
            st = ns_error(NS_ERR_DATA, "several timeseries files for %s: choose one with "
                          "--match (%s)", d->ids[i], l.paths[i]);
        if (!st)
            st = read_series(l.paths[i], &xs[i], &Ts[i], &c);
        if (!st && i && c != C)
            st = ns_error(NS_ERR_DATA, "%zu columns where the other subjects have %zu (%s)", c,
                          C, l.paths[i]);
        C = c;
        Tmin = !st && Ts[i] < Tmin ? Ts[i] : Tmin;
    }
    if (!st) {
        d->in_ndim = 2, d->shape[0] = Tmin, d->shape[1] = C, d->p = Tmin * C;
        d->x = ns_alloc(d->n * d->p, sizeof *d->x);
        st = d->x ? NS_OK : NS_ERR_NOMEM;
    }
    for (size_t i = 0; !st && i < d->n; i++) {
        if (Ts[i] != Tmin)
            ns_warn("%s: %zu time points, using the first %zu (the shortest series)", d->ids[i],
                    Ts[i], Tmin);
        memcpy(d->x + i * d->p, xs[i], d->p * sizeof *d->x);
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.paths[i]);
        if (xs)
            free(xs[i]);
    }
    free(l.paths);
    free(xs);
    free(Ts);
    return st;
}

#ifdef NS_HAVE_NIFTI_IO
/* Subject i's K masked maps into maps (K x V). */
static ns_status masked_maps(const char *path, const uint8_t *mask, size_t nvox, size_t V,
                             size_t *K, float **maps)
{
    ns_volume *vol = NULL;
    ns_status st = ns_volume_load(path, NULL, &vol);
    if (!st && vol->nvox != nvox)
        st = ns_error(NS_ERR_DATA, "components are not on the grid of the mask (%s)", path);
    if (!st && *K && vol->nvol != *K)
        st = ns_error(NS_ERR_DATA, "%zu components where the first subject has %zu (%s)",
                      vol->nvol, *K, path);
    if (!st && !*maps) {
        *K = vol->nvol;
        *maps = ns_alloc(*K * V, sizeof **maps);
        st = *maps ? NS_OK : NS_ERR_NOMEM;
    }
    for (size_t k = 0; !st && k < *K; k++)
        for (size_t v = 0, t = 0; v < nvox; v++)
            if (mask[v])
                (*maps)[k * V + t++] = vol->data[k * nvox + v];
    ns_volume_free(vol);
    return st;
}

/* svm-subspace from an ica output tree: one sub-*_components.nii[.gz] per
 * subject (--match desc-ica25 picks the order), masked with
 * DIR/group/desc-brain_mask.nii.gz. */
static ns_status load_maps_dir(const char *dir, const char *match, train_data *d)
{
    path_list l = {0};
    char *mpath = NULL;
    uint8_t *mask = NULL;
    size_t V = 0, K = 0;
    ns_status st = find_files(dir, "_components.nii.gz", match, &l, 0);
    if (!st)
        st = find_files(dir, "_components.nii", match, &l, 0);
    if (!st && l.n == 0)
        st = ns_error(NS_ERR_DATA, "no sub-*_components.nii[.gz] below the directory (%s)", dir);
    if (!st && asprintf(&mpath, "%s/group/desc-brain_mask.nii.gz", dir) < 0)
        st = NS_ERR_NOMEM;
    if (!st)
        st = ns_mask_load(mpath, NULL, &mask, &V);
    ns_volume *hdr = NULL;
    if (!st)
        st = ns_volume_load_header(mpath, &hdr);
    size_t nvox = hdr ? (size_t)(hdr->geom.dim[0] * hdr->geom.dim[1] * hdr->geom.dim[2]) : 0;
    ns_volume_free(hdr);
    if (!st)
        qsort(l.paths, l.n, sizeof *l.paths, cmp_str);
    d->ids = st ? NULL : ns_calloc(l.n, sizeof *d->ids);
    if (!st && !d->ids)
        st = NS_ERR_NOMEM;
    float *one = NULL;
    for (size_t i = 0; !st && i < l.n; i++) {
        d->ids[i] = subject_of(l.paths[i]);
        d->n = i + 1;
        if (i && !strcmp(d->ids[i], d->ids[i - 1]))
            st = ns_error(NS_ERR_DATA, "several component files for %s: choose one with "
                          "--match (%s)", d->ids[i], l.paths[i]);
        if (!st)
            st = masked_maps(l.paths[i], mask, nvox, V, &K, &one);
        if (!st && !d->maps && !(d->maps = ns_alloc(l.n * K * V, sizeof *d->maps)))
            st = NS_ERR_NOMEM;
        if (!st)
            memcpy(d->maps + i * K * V, one, K * V * sizeof *one);
    }
    d->nmaps_k = K, d->nmaps_v = V, d->p = K;
    for (size_t i = 0; i < l.n; i++)
        free(l.paths[i]);
    free(l.paths);
    free(mpath);
    free(mask);
    free(one);
    return st;
}
#endif

/* ---------------------------------------------------------- labels join */

typedef struct {
    const char *id; /* bare */
    size_t row;
} id_entry;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const id_entry *)a)->id, ((const id_entry *)b)->id);
}

static void warn_list(const char *what, json_t *arr)
{
    size_t n = json_array_size(arr);
    if (!n)
        return;
    char buf[400] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof buf - 40; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                json_string_value(json_array_get(arr, i)));
    ns_warn("%zu participant%s %s: %s%s", n, n == 1 ? "" : "s", what, buf,
            len >= sizeof buf - 40 ? ", ..." : "");
}

/* Participants of FEATURES with their target value (NULL: dropped). */
static ns_status match_labels(const train_opts *o, const ns_tsv *t, int idc, int tc,
                              train_data *d, const char **value)
{
    size_t m = t->nrows;
    id_entry *e = ns_alloc(m + 1, sizeof *e);
    char *used = ns_calloc(m + 1, 1);
    if (!e || !used) {
        free(e);
        free(used);
        return NS_ERR_NOMEM;
    }
    size_t ne = 0;
    for (size_t j = 0; j < m; j++)
        if (ns_tsv_get(t, j, (size_t)idc))
            e[ne++] = (id_entry){bare_id(ns_tsv_get(t, j, (size_t)idc)), j};
    qsort(e, ne, sizeof *e, cmp_entry);
    json_t *nolab = json_object_get(d->dropped, "no_label");
    json_t *na = json_object_get(d->dropped, "target_na");
    for (size_t i = 0; i < d->n; i++) {
        id_entry key = {bare_id(d->ids[i]), 0};
        id_entry *f = bsearch(&key, e, ne, sizeof *e, cmp_entry);
        value[i] = f ? ns_tsv_get(t, f->row, (size_t)tc) : NULL;
        if (f)
            used[f->row] = 1;
        if (!f)
            json_array_append_new(nolab, json_string(d->ids[i]));
        else if (!value[i])
            json_array_append_new(na, json_string(d->ids[i]));
    }
    json_t *nofeat = json_object_get(d->dropped, "no_features");
    for (size_t j = 0; j < m; j++)
        if (!used[j] && ns_tsv_get(t, j, (size_t)idc))
            json_array_append_new(nofeat, json_string(ns_tsv_get(t, j, (size_t)idc)));
    free(e);
    free(used);
    (void)o;
    return NS_OK;
}

static ns_status check_unique_ids(const train_data *d, const char *path)
{
    id_entry *e = ns_alloc(d->n + 1, sizeof *e);
    if (!e)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < d->n; i++)
        e[i] = (id_entry){bare_id(d->ids[i]), i};
    qsort(e, d->n, sizeof *e, cmp_entry);
    ns_status st = NS_OK;
    for (size_t i = 1; i < d->n && !st; i++)
        if (!strcmp(e[i].id, e[i - 1].id))
            st = ns_error(NS_ERR_DATA, "participant %s appears twice (%s)", d->ids[e[i].row], path);
    free(e);
    return st;
}

static int all_numeric(char **v, int n)
{
    for (int i = 0; i < n; i++) {
        double x;
        if (ns_cli_parse_double(v[i], &x))
            return 0;
    }
    return 1;
}

static int cmp_numeric(const void *a, const void *b)
{
    double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);
    return x < y ? -1 : x > y;
}

/* Classes: the distinct target values, sorted (numerically when all are
 * numbers), as sklearn's LabelEncoder; y indexes them. */
static ns_status encode_classes(train_data *d, const char **value)
{
    d->classes = ns_calloc(d->n + 1, sizeof *d->classes);
    d->y = ns_alloc(d->n + 1, sizeof *d->y);
    if (!d->classes || !d->y)
        return NS_ERR_NOMEM;
    int k = 0;
    for (size_t i = 0; i < d->n; i++) {
        int found = 0;
        for (int c = 0; c < k && !found; c++)
            found = !strcmp(d->classes[c], value[i]);
        if (!found && !(d->classes[k++] = strdup(value[i])))
            return NS_ERR_NOMEM;
    }
    d->nclass = k;
    qsort(d->classes, (size_t)k, sizeof *d->classes,
          all_numeric(d->classes, k) ? cmp_numeric : cmp_str);
    for (size_t i = 0; i < d->n; i++)
        for (int c = 0; c < k; c++)
            if (!strcmp(d->classes[c], value[i]))
                d->y[i] = c;
    return NS_OK;
}

/* Keeps the rows with a value (features, maps, ids and values move up). */
static void compact_rows(train_data *d, const char **value)
{
    size_t w = 0, mk = d->nmaps_k * d->nmaps_v;
    for (size_t i = 0; i < d->n; i++) {
        if (!value[i]) {
            free(d->ids[i]);
            continue;
        }
        if (w != i) {
            if (d->x)
                memmove(d->x + w * d->p, d->x + i * d->p, d->p * sizeof *d->x);
            if (d->maps)
                memmove(d->maps + w * mk, d->maps + i * mk, mk * sizeof *d->maps);
            d->ids[w] = d->ids[i];
            value[w] = value[i];
        }
        w++;
    }
    d->n = w;
}

/* svm-precomputed from a table: columns named by participant, reordered to rows. */
static ns_status kernel_from_table(train_data *d, const char *path)
{
    double *k = ns_alloc(d->n * d->n + 1, sizeof *k);
    if (!k)
        return NS_ERR_NOMEM;
    for (size_t j = 0; j < d->n; j++) {
        size_t c = 0;
        while (c < d->p && strcmp(bare_id(d->colnames[c]), bare_id(d->ids[j])))
            c++;
        if (c == d->p) {
            free(k);
            return ns_error(NS_ERR_DATA, "kernel has no column for %s (%s)", d->ids[j], path);
        }
        for (size_t i = 0; i < d->n; i++)
            k[i * d->n + j] = d->x[i * d->p + c];
    }
    free(d->x);
    free_strings(d->colnames, d->p);
    d->colnames = NULL;
    d->x = k;
    d->p = d->n;
    return NS_OK;
}

static ns_status positional_ids(const ns_tsv *t, int idc, train_data *d, const char *path)
{
    if (t->nrows != d->n)
        return ns_error(NS_ERR_DATA, "features have %zu rows and the labels %zu: give --ids "
                        "(%s)", d->n, t->nrows, path);
    ns_warn("no --ids: feature rows are taken in the order of the labels table");
    d->ids = ns_calloc(d->n, sizeof *d->ids);
    for (size_t i = 0; d->ids && i < d->n; i++) {
        const char *id = ns_tsv_get(t, i, (size_t)idc);
        d->ids[i] = strdup(id ? id : "n/a");
    }
    return d->ids ? NS_OK : NS_ERR_NOMEM;
}

static ns_status join_labels(const train_opts *o, train_data *d)
{
    ns_tsv *t = NULL;
    ns_status st = ns_tsv_read(o->labels, &t);
    if (st)
        return st;
    int idc = ns_tsv_column(t, "participant_id"), tc = ns_tsv_column(t, o->target);
    const char **value = NULL;
    if (idc < 0)
        st = ns_error(NS_ERR_DATA, "no participant_id column (%s)", o->labels);
    else if (tc < 0)
        st = ns_error(NS_ERR_DATA, "no column '%s' in the labels (%s)", o->target, o->labels);
    if (!st && !d->ids)
        st = positional_ids(t, idc, d, o->labels);
    if (!st)
        st = check_unique_ids(d, o->features);
    if (!st && !(value = ns_calloc(d->n + 1, sizeof *value)))
        st = NS_ERR_NOMEM;
    if (!st)
        st = match_labels(o, t, idc, tc, d, value);
    size_t kept = 0;
    for (size_t i = 0; !st && i < d->n; i++)
        kept += value[i] != NULL;
    if (!st && kept == 0) /* nothing matches: one error line, no list of warnings */
        st = ns_error(NS_ERR_DATA, "no participant of the features has a '%s' value in the "
                      "labels (%s; features start with %s, labels with %s)", o->target,
                      o->labels, d->ids[0], t->nrows ? ns_tsv_get(t, 0, (size_t)idc) ?: "n/a"
                                                     : "no rows");
    if (!st) {
        warn_list("of the features have no row in the labels, dropped",
                  json_object_get(d->dropped, "no_label"));
        warn_list("have target n/a, dropped", json_object_get(d->dropped, "target_na"));
        warn_list("of the labels have no features", json_object_get(d->dropped, "no_features"));
        compact_rows(d, value);
    }
    if (!st)
        st = encode_classes(d, value);
    if (!st && d->nclass < 2)
        st = ns_error(NS_ERR_DATA, "target '%s' has a single class '%s' (%s)", o->target,
                      d->classes[0], o->labels);
    free(value);
    ns_tsv_free(t);
    return st;
}

static int is_model(const train_opts *o, const char *name)
{
    return !strcmp(o->model, name);
}

static ns_status load_features(const train_opts *o, const char *path, train_data *d)
{
    int maps = is_model(o, "svm-subspace");
#ifdef NS_HAVE_NIFTI_IO
    if (maps && is_dir(path))
        return load_maps_dir(path, o->match, d);
#endif
    if (is_dir(path))
        return load_series_dir(path, o->match, d);
    if (has_suffix(path, ".npy") || has_suffix(path, ".npz"))
        return load_array(path, o, maps, d);
    if (maps)
        return ns_error(NS_ERR_DATA, "svm-subspace needs N x K x V maps in .npy/.npz (%s)", path);
    ns_status st = load_table(path, d);
    if (!st)
        d->in_ndim = 1, d->shape[0] = d->p;
    return st;
}

/* Non-finite features are an error naming the participant and column,
 * unless --impute mean. */
static ns_status check_finite(const train_opts *o, const train_data *d, const char *path)
{
    if (o->impute || !d->x)
        return NS_OK;
    for (size_t i = 0; i < d->n * d->p; i++)
        if (!isfinite(d->x[i])) {
            size_t r = i / d->p, c = i % d->p;
            if (d->colnames)
                return ns_error(NS_ERR_DATA, "n/a feature '%s' for %s; use --impute mean or "
                                "drop it (%s)", d->colnames[c], d->ids[r], path);
            return ns_error(NS_ERR_DATA, "non-finite value for %s at position %zu (%s)",
                            d->ids[r], c, path);
        }
    return NS_OK;
}

static ns_status load_all(const train_opts *o, train_data *d)
{
    d->dropped = json_pack("{s:[],s:[],s:[]}", "no_label", "target_na", "no_features");
    ns_status st = d->dropped ? load_features(o, o->features, d) : NS_ERR_NOMEM;
    if (!st)
        st = join_labels(o, d);
    if (!st && is_model(o, "svm-precomputed"))
        st = d->colnames ? kernel_from_table(d, o->features)
                         : ns_error(NS_ERR_DATA, "svm-precomputed needs a kernel table with one "
                                    "column per participant (%s)", o->features);
    if (!st)
        st = check_finite(o, d, o->features);
    if (!st && d->maps) {
        ns_info("subspace kernel: %zu subjects, %zu components of %zu values", d->n,
                d->nmaps_k, d->nmaps_v);
        st = ns_subspace_set_create_f32(d->maps, d->n, d->nmaps_v, d->nmaps_k, &d->subspace);
    }
    return st;
}

/* ----------------------------------------------------------- CV set-up */

static const double default_c_grid[] = {0.01, 0.1, 1, 10, 100};

typedef struct {
    ns_cv_params cp;
    int *domain;         /* ssfs domains of the columns, or NULL */
    char **domain_names;
    int ndomain;
    ns_clf_nn_hooks hooks;
#ifdef NS_HAVE_SPECTRA
    ns_spectra_tracker *spectra; /* --spectra */
#endif
} train_setup;

static void train_setup_free(train_setup *s)
{
#ifdef NS_HAVE_SPECTRA
    ns_spectra_tracker_free(s->spectra);
#endif
    free(s->domain);
    free_strings(s->domain_names, (size_t)s->ndomain);
}

static ns_status setup_selection(const train_opts *o, const train_data *d, train_setup *s)
{
    ns_sel_params *sp = &s->cp.sel;
    ns_sel_params_default(sp);
    sp->seed = ns_seed_derive(o->seed, 7);
    sp->per_domain = o->per_domain;
    if (!o->select || !strncmp(o->select, "none", 4))
        return NS_OK;
    sp->kind = !strncmp(o->select, "ssfs", 4) ? NS_SEL_SSFS : NS_SEL_UNIVARIATE;
    sp->k = o->nk_grid ? o->k_grid[0] : 0;
    s->cp.k_grid = o->k_grid;
    s->cp.nk_grid = (size_t)o->nk_grid;
    if (d->subspace)
        return sp->kind == NS_SEL_SSFS ? NS_OK
               : ns_error(NS_ERR_ARG, "svm-subspace selects components with ssfs only");
    if (d->in_ndim == 2 || is_model(o, "svm-precomputed"))
        return ns_error(NS_ERR_ARG, "feature selection needs a feature table (--select %s)",
                        o->select);
    if (sp->kind == NS_SEL_SSFS && d->colnames && (!o->domains || !strcmp(o->domains, "auto"))) {
        s->domain = ns_alloc(d->p, sizeof *s->domain);
        ns_status st = s->domain ? ns_select_domains_from_names((const char *const *)d->colnames,
                                                                d->p, s->domain,
                                                                &s->domain_names, &s->ndomain)
                                 : NS_ERR_NOMEM;
        if (st)
            return st;
        sp->domain = s->domain;
        sp->ndomain = s->ndomain;
        ns_info("ssfs over %d domains (first: %s)", s->ndomain, s->domain_names[0]);
    }
    return NS_OK;
}

/* HOOK: stages that watch or replace network training set s->hooks here
 * (spectra: tap subscription per fold; dist: distributed fit), from their
 * own fields in train_opts. */
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
static ns_status dist_localize(train_data *d);
#endif

static ns_status hooks_setup(const train_opts *o, train_data *d, train_setup *s)
{
    (void)o;
    (void)d;
    if (o->site_column && !o->dist)
        return ns_error(NS_ERR_ARG, "--site-column needs --dist (%s)", o->site_column);
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (o->dist) { /* dist: MPI, sites, distributed fits; rank > 0 writes into a scratch dir */
        if (o->permutations > 0)
            return ns_error(NS_ERR_ARG, "--permutations is not available with --dist (%s)",
                            o->dist);
        ns_dist_train_args da = {o->dist, o->labels, o->site_column,
                                 (const char *const *)d->ids, d->n, o->out,
                                 o->dist_spectra_given ? o->dist_spectra : -1};
        const char *out = NULL;
        ns_status st = ns_dist_train_begin(&da, &s->cp, &s->hooks, &out);
        if (!st) /* from here on this rank holds its own sites' rows only */
            st = dist_localize(d);
        if (st)
            return st;
        *o->dist_out = out;
    }
#endif
#ifdef NS_HAVE_SPECTRA
    if (o->spectra) { /* spectra: OUT/spectra/, every outer fold's network (chains dist's hooks) */
        if (s->cp.clf.kind != NS_CLF_NN)
            return ns_error(NS_ERR_ARG, "--spectra needs a network model (--model %s)", o->model);
        ns_spectra_opts so;
        char dir[4096];
        ns_spectra_opts_default(&so);
        so.every = o->spectra_every ? o->spectra_every : 1;
        so.topk = o->topk ? o->topk : so.topk;
        so.seed = o->seed;
        snprintf(dir, sizeof dir, "%s/spectra", o->out);
        ns_status st = ns_spectra_train_begin(dir, &so, o->labels, o->groups,
                                              (const char *const *)d->ids, d->n, &s->cp,
                                              &s->hooks, &s->spectra);
        if (st)
            return st;
    }
#endif
    if (s->hooks.created || s->hooks.fit || s->hooks.trained)
        s->cp.clf.nn_hooks = &s->hooks;
    return NS_OK;
}

static ns_status setup_cv(const train_opts *o, train_data *d, train_setup *s)
{
    ns_cv_params *cp = &s->cp;
    ns_clf_kind kind;
    ns_cv_params_default(cp);
    ns_status st = ns_clf_kind_parse(is_model(o, "svm-subspace") ? "svm-precomputed" : o->model,
                                     &kind);
    if (st)
        return st;
    ns_clf_params_default(&cp->clf, kind);
    cp->clf.C = o->nc_grid ? o->c_grid[0] : 1.0;
    cp->clf.gamma = o->gamma;
    if (o->tol > 0)
        cp->clf.tol = o->tol;
    cp->clf.balanced = o->balanced;
    cp->clf.seed = o->seed;
    cp->clf.nn_spec = o->model;
    cp->clf.nn_options = &o->cfg;
    cp->clf.in_ndim = d->in_ndim;
    cp->clf.in_shape[0] = d->shape[0];
    cp->clf.in_shape[1] = d->shape[1];
    cp->folds = o->folds;
    cp->nested = o->nested;
    cp->inner_folds = o->inner_folds;
    cp->seed = o->seed;
    cp->standardize = o->standardize;
    cp->impute = o->impute;
    cp->precomputed = is_model(o, "svm-precomputed");
    cp->subspace = d->subspace;
    cp->c_grid = o->nested && !o->c_given ? default_c_grid : o->c_grid;
    cp->nc_grid = o->nested && !o->c_given ? 5 : (size_t)o->nc_grid;
    if (kind == NS_CLF_NN && o->nested && !o->c_given)
        cp->c_grid = NULL, cp->nc_grid = 0; /* C means nothing to a network */
    st = setup_selection(o, d, s);
    if (!st)
        st = hooks_setup(o, d, s);
    return st;
}

/* -------------------------------------------------------------- outputs */

static char *out_path(const train_opts *o, const char *name)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", o->out, name) < 0 ? NULL : p;
}

static void fmt(char *buf, size_t size, double v)
{
    if (isfinite(v))
        snprintf(buf, size, "%.6g", v);
    else
        snprintf(buf, size, "n/a");
}

#define NMETRIC 6
static const char *const metric_names[NMETRIC] = {"accuracy", "balanced_accuracy", "auc", "f1",
                                                  "sensitivity", "specificity"};

static void metric_values(const ns_metrics *m, double *v)
{
    v[0] = m->accuracy, v[1] = m->balanced_accuracy, v[2] = m->auc;
    v[3] = m->f1, v[4] = m->sensitivity, v[5] = m->specificity;
}

static ns_status metrics_row(ns_tsv *t, const char *label, size_t n, const double *v, double C,
                             double nsel)
{
    char cells[NMETRIC + 4][32];
    const char *row[NMETRIC + 4];
    snprintf(cells[0], 32, "%s", label);
    snprintf(cells[1], 32, "%zu", n);
    for (int k = 0; k < NMETRIC; k++)
        fmt(cells[2 + k], 32, v[k]);
    fmt(cells[NMETRIC + 2], 32, C);
    fmt(cells[NMETRIC + 3], 32, nsel);
    for (int k = 0; k < NMETRIC + 4; k++)
        row[k] = cells[k];
    return ns_tsv_append(t, row);
}

/* Mean over folds of every metric (NaN folds, e.g. AUC of a one-class fold, skipped). */
static void fold_means(const ns_cv_result *r, double *mean)
{
    for (int k = 0; k < NMETRIC; k++) {
        double s = 0, v[NMETRIC];
        int c = 0;
        for (int f = 0; f < r->folds; f++) {
            metric_values(&r->fold_metrics[f], v);
            if (isfinite(v[k]))
                s += v[k], c++;
        }
        mean[k] = c ? s / c : NAN;
    }
}

static ns_status write_metrics(const train_opts *o, const ns_cv_result *r)
{
    const char *hdr[NMETRIC + 4] = {"fold", "n"};
    for (int k = 0; k < NMETRIC; k++)
        hdr[2 + k] = metric_names[k];
    hdr[NMETRIC + 2] = "C";
    hdr[NMETRIC + 3] = "n_selected";
    ns_tsv *t = ns_tsv_create(NMETRIC + 4, hdr);
    if (!t)
        return NS_ERR_NOMEM;
    ns_status st = NS_OK;
    double v[NMETRIC], csum = 0, ksum = 0;
    for (int f = 0; !st && f < r->folds; f++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%d", f);
        metric_values(&r->fold_metrics[f], v);
        st = metrics_row(t, lab, r->fold_metrics[f].n, v, r->fold_C[f], (double)r->fold_k[f]);
        csum += r->fold_C[f], ksum += (double)r->fold_k[f];
    }
    fold_means(r, v);
    if (!st)
        st = metrics_row(t, "mean", r->n, v, csum / r->folds, ksum / r->folds);
    metric_values(&r->overall, v);
    if (!st)
        st = metrics_row(t, "pooled", r->n, v, NAN, NAN);
    char *p = out_path(o, "metrics.tsv");
    if (!st)
        st = p ? ns_tsv_write(t, p) : NS_ERR_NOMEM;
    free(p);
    ns_tsv_free(t);
    return st;
}

/* participant_id, fold, true, predicted, [decision...], probability_<class>... */
static ns_status write_predictions(const train_opts *o, const train_data *d, const char *name,
                                   char **ids, size_t n, const int *fold, const int *ytrue,
                                   const int *pred, const double *proba, const double *dec,
                                   int ndec)
{
    size_t K = (size_t)d->nclass, nc = 4 + (size_t)ndec + K, c = 0;
    char **hdr = ns_calloc(nc, sizeof *hdr), **cells = ns_calloc(nc, sizeof *cells);
    ns_status st = (!hdr || !cells) ? NS_ERR_NOMEM : NS_OK;
    const char *fixed[4] = {"participant_id", "fold", "true", "predicted"};
    for (; !st && c < 4; c++)
        hdr[c] = strdup(fixed[c]);
    for (int k = 0; !st && k < ndec; k++, c++)
        if ((ndec == 1 ? asprintf(&hdr[c], "decision") : asprintf(&hdr[c], "decision_%s",
                                                                  d->classes[k])) < 0)
            st = NS_ERR_NOMEM;
    for (size_t k = 0; !st && k < K; k++, c++)
        if (asprintf(&hdr[c], "probability_%s", d->classes[k]) < 0)
            st = NS_ERR_NOMEM;
    ns_tsv *t = st ? NULL : ns_tsv_create(nc, (const char *const *)hdr);
    if (!st && !t)
        st = NS_ERR_NOMEM;
    for (size_t c2 = 4; !st && c2 < nc; c2++)
        if (!(cells[c2] = malloc(32)))
            st = NS_ERR_NOMEM;
    char foldbuf[16];
    for (size_t i = 0; !st && i < n; i++) {
        cells[0] = ids[i];
        snprintf(foldbuf, sizeof foldbuf, "%d", fold ? fold[i] : 0);
        cells[1] = fold ? foldbuf : "all";
        cells[2] = ytrue ? d->classes[ytrue[i]] : NULL;
        cells[3] = d->classes[pred[i]];
        for (int k = 0; k < ndec; k++)
            fmt(cells[4 + k], 32, dec[i * (size_t)ndec + (size_t)k]);
        for (size_t k = 0; k < K; k++)
            fmt(cells[4 + (size_t)ndec + k], 32, proba[i * K + k]);
        st = ns_tsv_append(t, (const char *const *)cells);
    }
    char *p = st ? NULL : out_path(o, name);
    if (!st)
        st = p ? ns_tsv_write(t, p) : NS_ERR_NOMEM;
    free(p);
    for (size_t c2 = 0; hdr && c2 < nc; c2++)
        free(hdr[c2]);
    for (size_t c2 = 4; cells && c2 < nc; c2++)
        free(cells[c2]);
    free(hdr);
    free(cells);
    ns_tsv_free(t);
    return st;
}

static ns_status write_confusion(const train_opts *o, const train_data *d, const ns_metrics *m)
{
    size_t K = (size_t)d->nclass;
    double *v = ns_alloc(K * K, sizeof *v);
    char **cols = ns_calloc(K, sizeof *cols), *p = out_path(o, "confusion.tsv");
    ns_status st = (!v || !cols || !p) ? NS_ERR_NOMEM : NS_OK;
    for (size_t i = 0; !st && i < K * K; i++)
        v[i] = (double)m->confusion[i];
    for (size_t k = 0; !st && k < K; k++)
        if (asprintf(&cols[k], "predicted_%s", d->classes[k]) < 0)
            st = NS_ERR_NOMEM;
    if (!st)
        st = ns_tsv_write_matrix(p, v, K, K, (const char *const *)cols, "true",
                                 (const char *const *)d->classes);
    free(v);
    free_strings(cols, K);
    free(p);
    return st;
}

static ns_status write_model(const train_opts *o, const train_data *d, const ns_pipeline *pl,
                             const char *name)
{
    ns_npz *z = ns_npz_create();
    char *p = out_path(o, name);
    ns_status st = (!z || !p) ? NS_ERR_NOMEM : ns_pipeline_save(pl, z);
    size_t one = 1;
    double nc = d->nclass;
    ns_array *a = st ? NULL : ns_array_from_f64(&nc, 1, &one);
    if (!st)
        st = a ? ns_npz_add(z, "n_classes", a) : NS_ERR_NOMEM;
    if (!st)
        st = ns_npz_write(z, p);
    ns_npz_free(z);
    free(p);
    return st;
}

/* ----------------------------------------------------------------- runs */

static json_t *metrics_json(const double *v)
{
    json_t *j = json_object();
    for (int k = 0; k < NMETRIC; k++)
        json_object_set_new(j, metric_names[k], isfinite(v[k]) ? json_real(v[k]) : json_null());
    return j;
}

static json_t *confusion_json(const ns_metrics *m)
{
    json_t *rows = json_array();
    for (int i = 0; i < m->nclass; i++) {
        json_t *r = json_array();
        for (int j = 0; j < m->nclass; j++)
            json_array_append_new(r, json_integer(m->confusion[i * m->nclass + j]));
        json_array_append_new(rows, r);
    }
    return rows;
}

static ns_status permutation_test(const train_opts *o, const train_data *d,
                                  const train_setup *s, const ns_cv_result *r, json_t *summary)
{
    double *null = ns_alloc((size_t)o->permutations, sizeof *null), pv = NAN;
    if (!null)
        return NS_ERR_NOMEM;
    ns_status st = ns_cv_permutation_test(&s->cp, d->x, d->n, d->p, d->y, d->nclass,
                                          r->overall.balanced_accuracy, o->permutations,
                                          ns_seed_derive(o->seed, 99), null, &pv);
    if (!st) {
        double m = 0, v = 0;
        for (int t = 0; t < o->permutations; t++)
            m += null[t] / o->permutations;
        for (int t = 0; t < o->permutations; t++)
            v += (null[t] - m) * (null[t] - m) / (o->permutations > 1 ? o->permutations - 1 : 1);
        json_object_set_new(summary, "permutation_test",
                            json_pack("{s:i,s:s,s:f,s:f,s:f}", "permutations", o->permutations,
                                      "statistic", "pooled balanced_accuracy", "p_value", pv,
                                      "null_mean", m, "null_sd", sqrt(v)));
        ns_info("permutation test: p = %.4g (%d permutations, null mean %.3f)", pv,
                o->permutations, m);
    }
    free(null);
    return st;
}

static ns_status save_fold_models(const train_opts *o, const train_data *d,
                                  const ns_cv_result *r)
{
    ns_status st = NS_OK;
    for (int f = 0; !st && f < r->folds; f++) {
        char name[64];
        snprintf(name, sizeof name, "fold-%d_model.npz", f);
        st = write_model(o, d, r->models[f], name);
    }
    return st;
}

/* The outputs of a CV run: r over the rows ids / y (the table's, or with
 * --dist every site's, gathered on rank 0). */
static ns_status cv_outputs(const train_opts *o, const train_data *d, char **ids, const int *y,
                            const ns_cv_result *r, json_t *summary)
{
    ns_status st = write_metrics(o, r);
    if (!st)
        st = write_predictions(o, d, "predictions.tsv", ids, r->n, r->fold, y, r->pred,
                               r->proba, NULL, 0);
    if (!st)
        st = write_confusion(o, d, &r->overall);
    if (!st)
        st = save_fold_models(o, d, r);
    if (!st) {
        double v[NMETRIC];
        json_t *folds = json_array();
        for (int f = 0; f < r->folds; f++) {
            metric_values(&r->fold_metrics[f], v);
            json_t *j = metrics_json(v);
            json_object_set_new(j, "n", json_integer((json_int_t)r->fold_metrics[f].n));
            json_object_set_new(j, "C", json_real(r->fold_C[f]));
            json_object_set_new(j, "n_selected", json_integer((json_int_t)r->fold_k[f]));
            json_array_append_new(folds, j);
        }
        fold_means(r, v);
        json_t *mj = json_object();
        json_object_set_new(mj, "mean", metrics_json(v));
        metric_values(&r->overall, v);
        json_object_set_new(mj, "pooled", metrics_json(v));
        json_object_set_new(mj, "confusion", confusion_json(&r->overall));
        json_object_set_new(mj, "folds", folds);
        json_object_set_new(summary, "metrics", mj);
        ns_info("pooled out-of-fold: balanced accuracy %.3f, accuracy %.3f, AUC %.3f",
                r->overall.balanced_accuracy, r->overall.accuracy, r->overall.auc);
    }
    return st;
}

/* As scikit-learn's StratifiedKFold: a class with fewer participants than
 * folds cannot be in every test fold (e.g. a numeric column such as age
 * taken as classes). */
static void warn_small_class(const train_opts *o, const train_data *d)
{
    int least = 0;
    size_t *count = ns_calloc((size_t)d->nclass, sizeof *count);
    if (!count)
        return;
    for (size_t i = 0; i < d->n; i++)
        count[d->y[i]]++;
    for (int c = 1; c < d->nclass; c++)
        least = count[c] < count[least] ? c : least;
    if (o->folds > 1 && count[least] < (size_t)o->folds)
        ns_warn("the least populated class of '%s' ('%s') has %zu participant%s, fewer than the "
                "%d folds: not every test fold holds it (%d classes in %zu participants)",
                o->target, d->classes[least], count[least], count[least] == 1 ? "" : "s",
                o->folds, d->nclass, d->n);
    free(count);
}

static ns_status run_cv(const train_opts *o, const train_data *d, train_setup *s,
                        json_t *summary)
{
    ns_cv_result *r = NULL;
    s->cp.keep_models = 1;
    warn_small_class(o, d);
    ns_info("%d-fold %sCV of %s on %zu participants, %zu features, %d classes", o->folds,
            o->nested ? "nested " : "", o->model, d->n, d->p, d->nclass);
    ns_status st = ns_cv_run(&s->cp, d->x, d->n, d->p, d->y, d->nclass, &r);
    if (!st)
        st = cv_outputs(o, d, d->ids, d->y, r, summary);
    if (!st && o->permutations > 0)
        st = permutation_test(o, d, s, r, summary);
    ns_cv_result_free(r);
    return st;
}

/* New rows for --predict in the training layout: table columns matched by
 * name, kernel columns by participant, sequences cut to the training T. */
static ns_status align_predict(const train_data *d, train_data *q, int precomputed,
                               const char *path)
{
    size_t ncol = precomputed ? d->n : d->p;
    if (!(precomputed || d->colnames) != !q->colnames)
        return ns_error(NS_ERR_DATA, "%s does not match the kind of the training features (%s)",
                        q->colnames ? "a table" : "an array", path);
    double *x = ns_alloc(q->n * ncol + 1, sizeof *x);
    if (!x)
        return NS_ERR_NOMEM;
    if (!q->ids) /* arrays without --ids: rows are numbered */
        q->ids = ns_calloc(q->n, sizeof *q->ids);
    for (size_t i = 0; q->ids && i < q->n; i++)
        if (!q->ids[i] && asprintf(&q->ids[i], "row%zu", i + 1) < 0)
            q->ids[i] = NULL;
    for (size_t j = 0; j < ncol; j++) {
        size_t c = j;
        const char *want = precomputed ? bare_id(d->ids[j]) : d->colnames ? d->colnames[j] : NULL;
        if (want) {
            for (c = 0; c < q->p && strcmp(precomputed ? bare_id(q->colnames[c])
                                                       : q->colnames[c], want); c++)
                ;
        } else if (d->in_ndim == 2) { /* sequences: same channels, at least T steps */
            size_t t = j / d->shape[1], ch = j % d->shape[1];
            c = q->shape[1] == d->shape[1] && t < q->shape[0] ? t * q->shape[1] + ch : q->p;
        }
        if (c >= q->p) {
            free(x);
            return ns_error(NS_ERR_DATA, "%s%s does not match the training features (%s)",
                            want ? "column " : "layout", want ? want : "", path);
        }
        for (size_t i = 0; i < q->n; i++)
            x[i * ncol + j] = q->x[i * q->p + c];
    }
    free(q->x);
    q->x = x;
    free_strings(q->colnames, q->p);
    q->colnames = NULL;
    q->p = ncol;
    return NS_OK;
}

static ns_status run_predict(const train_opts *o, const train_data *d, const train_setup *s,
                             const ns_pipeline *pl)
{
    train_data q = {0};
    q.nclass = d->nclass;
    q.classes = d->classes;
    if (d->subspace) {
        return ns_error(NS_ERR_UNSUPPORTED, "--predict with svm-subspace is not available (%s)",
                        o->predict);
    }
    ns_status st = load_features(o, o->predict, &q);
    if (!st)
        st = align_predict(d, &q, s->cp.precomputed, o->predict);
    if (!st)
        st = check_finite(o, &q, o->predict);
    int ndec = d->nclass == 2 ? 1 : d->nclass;
    double *pr = st ? NULL : ns_alloc(q.n * (size_t)d->nclass + 1, sizeof *pr);
    double *dec = st ? NULL : ns_alloc(q.n * (size_t)ndec + 1, sizeof *dec);
    int *pred = st ? NULL : ns_alloc(q.n + 1, sizeof *pred);
    if (!st && (!pr || !dec || !pred))
        st = NS_ERR_NOMEM;
    if (!st)
        st = ns_pipeline_predict(pl, q.x, q.n, q.p, NULL, 0, pr, dec);
    for (size_t i = 0; !st && i < q.n; i++) {
        int b = 0;
        for (int k = 1; k < d->nclass; k++)
            b = pr[i * (size_t)d->nclass + (size_t)k] > pr[i * (size_t)d->nclass + (size_t)b] ? k : b;
        pred[i] = b;
    }
    if (!st)
        st = write_predictions(o, d, "predict.tsv", q.ids, q.n, NULL, NULL, pred, pr, dec, ndec);
    free(pr);
    free(dec);
    free(pred);
    q.classes = NULL;
    q.nclass = 0;
    train_data_free(&q);
    return st;
}

/* One model on all rows: OUT/model.npz; with --folds 1 also its
 * (resubstitution) predictions and metrics; --predict. */
static ns_status run_final(const train_opts *o, const train_data *d, train_setup *s,
                           json_t *summary)
{
    ns_pipeline *pl = NULL;
    ns_status st = ns_pipeline_fit(&s->cp, d->x, d->n, d->p, d->y, d->nclass, NULL, 0, -1, &pl);
    if (!st)
        st = write_model(o, d, pl, "model.npz");
    if (!st) {
        json_object_set_new(summary, "final_model",
                            json_pack("{s:s,s:f,s:I}", "file", "model.npz", "C", pl->C,
                                      "n_selected", (json_int_t)pl->nsel));
        ns_info("model on all %zu rows written (C %g, %zu selected)", d->n, pl->C, pl->nsel);
    }
    if (!st && o->folds == 1) {
        size_t K = (size_t)d->nclass;
        double *pr = ns_alloc(d->n * K, sizeof *pr), v[NMETRIC];
        int *pred = ns_alloc(d->n, sizeof *pred);
        ns_metrics m = {0};
        st = (!pr || !pred) ? NS_ERR_NOMEM
                            : ns_pipeline_predict(pl, d->x, d->n, d->p, NULL, 0, pr, NULL);
        for (size_t i = 0; !st && i < d->n; i++) {
            pred[i] = 0;
            for (size_t k = 1; k < K; k++)
                pred[i] = pr[i * K + k] > pr[i * K + (size_t)pred[i]] ? (int)k : pred[i];
        }
        if (!st)
            st = ns_metrics_compute(d->y, pred, pr, d->n, d->nclass, &m);
        if (!st)
            st = write_predictions(o, d, "predictions.tsv", d->ids, d->n, NULL, d->y, pred, pr,
                                   NULL, 0);
        if (!st) {
            metric_values(&m, v);
            json_t *mj = json_object();
            json_object_set_new(mj, "train_resubstitution", metrics_json(v));
            json_object_set_new(mj, "confusion", confusion_json(&m));
            json_object_set_new(summary, "metrics", mj);
        }
        ns_metrics_clear(&m);
        free(pr);
        free(pred);
    }
    if (!st && o->predict)
        st = run_predict(o, d, s, pl);
    ns_pipeline_free(pl);
    return st;
}

/* ------------------------------------------------- distributed driver
 * With --dist every rank holds its own sites' rows only (dist_localize).
 * Statistics of the training rows come from every rank's sums, folds are
 * drawn within each site, every rank predicts its own test rows and rank 0
 * gathers (participant, fold, label, probabilities) to write the outputs as
 * the single-process code does (docs/distributed.md). */
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)

/* Keeps this rank's sites' rows; the features, ids and labels of the
 * others are freed here, before any statistic or fit. */
static ns_status dist_localize(train_data *d)
{
    unsigned char *keep = ns_alloc(d->n + 1, 1);
    size_t nk = 0, w = 0;
    ns_status st = ns_dist_train_agree(keep ? NS_OK : NS_ERR_NOMEM);
    if (!st)
        st = ns_dist_train_keep(keep, &nk);
    double *x = st ? NULL : ns_alloc(nk * d->p + 1, sizeof *x);
    d->orig = st ? NULL : ns_alloc(nk + 1, sizeof *d->orig);
    if (!st && (!x || !d->orig))
        st = NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < d->n; i++) {
        if (!keep[i]) {
            free(d->ids[i]);
            continue;
        }
        memcpy(x + w * d->p, d->x + i * d->p, d->p * sizeof *x);
        d->ids[w] = d->ids[i], d->y[w] = d->y[i], d->orig[w++] = i;
    }
    if (!st) {
        free(d->x); /* the other sites' features go here */
        d->x = x, x = NULL;
        d->n_all = d->n, d->n = w;
    }
    free(x);
    free(keep);
    return ns_dist_train_agree(st);
}

/* Stratified folds within each site (seeded by --seed and the site), fold
 * k = the union of every site's fold k: a rank needs only its own rows, and
 * any number of ranks draws the same folds. */
static ns_status dist_folds(const train_opts *o, const train_data *d, int *fold)
{
    size_t *idx = ns_alloc(d->n + 1, sizeof *idx);
    int *ys = ns_alloc(d->n + 1, sizeof *ys), *fs = ns_alloc(d->n + 1, sizeof *fs);
    char *done = ns_calloc(d->n + 1, 1);
    ns_status st = idx && ys && fs && done ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < d->n; i++) {
        if (done[i])
            continue;
        int site = ns_dist_train_site(i);
        size_t m = 0;
        for (size_t j = i; j < d->n; j++)
            if (ns_dist_train_site(j) == site)
                idx[m] = j, ys[m++] = d->y[j], done[j] = 1;
        if (m < (size_t)o->folds) {
            st = ns_error(NS_ERR_DATA, "the site of %s has %zu participants for %d folds (%s)",
                          d->ids[i], m, o->folds, o->labels);
            break;
        }
        st = ns_cv_stratified_folds(ys, m, d->nclass, o->folds,
                                    ns_seed_derive(o->seed, 0xf01d0000u + (uint64_t)site), fs);
        for (size_t t = 0; !st && t < m; t++)
            fold[idx[t]] = fs[t];
    }
    free(idx), free(ys), free(fs), free(done);
    return st;
}

static int dist_scaling(const ns_cv_params *cp)
{
    return cp->standardize && !cp->precomputed && !cp->subspace && cp->clf.in_ndim != 2;
}

/* The training rows' imputation means and standardisation (the pooled
 * code's two passes: mean, then population sd) from every rank's sums;
 * xt (this rank's ntr training rows) is transformed in place. Collective. */
static ns_status dist_statistics(ns_pipeline *pl, double *xt, size_t ntr, size_t p)
{
    double *v = ns_calloc(2 * p + 1, sizeof *v);
    double *m = ns_alloc(p + 1, sizeof *m), *sd = ns_alloc(p + 1, sizeof *sd);
    ns_status st = ns_dist_train_agree(v && m && sd ? NS_OK : NS_ERR_NOMEM);
    if (!st && pl->cp.impute) {
        for (size_t i = 0; i < ntr * p; i++)
            if (isfinite(xt[i]))
                v[i % p] += xt[i], v[p + i % p] += 1;
        if (!(st = ns_dist_train_sum(v, 2 * p))) {
            for (size_t j = 0; j < p; j++)
                m[j] = v[p + j] > 0 ? v[j] / v[p + j] : 0.0;
            for (size_t i = 0; i < ntr * p; i++)
                xt[i] = isfinite(xt[i]) ? xt[i] : m[i % p];
            pl->impute = m, m = ns_alloc(p + 1, sizeof *m);
            st = ns_dist_train_agree(m ? NS_OK : NS_ERR_NOMEM);
        }
    }
    if (!st && dist_scaling(&pl->cp)) {
        memset(v, 0, (p + 1) * sizeof *v);
        for (size_t i = 0; i < ntr * p; i++)
            v[i % p] += xt[i];
        v[p] = (double)ntr;
        st = ns_dist_train_sum(v, p + 1);
        double N = v[p];
        for (size_t j = 0; !st && j < p; j++)
            m[j] = v[j] / N, v[j] = 0;
        for (size_t i = 0; !st && i < ntr * p; i++)
            v[i % p] += (xt[i] - m[i % p]) * (xt[i] - m[i % p]);
        if (!st)
            st = ns_dist_train_sum(v, p);
        for (size_t j = 0; !st && j < p; j++) {
            sd[j] = sqrt(v[j] / N);
            if (!(sd[j] > 1e-12 * (fabs(m[j]) + 1e-300)))
                sd[j] = 1.0; /* a constant column, as StandardScaler */
        }
        for (size_t i = 0; !st && i < ntr * p; i++)
            xt[i] = (xt[i] - m[i % p]) / sd[i % p];
        if (!st)
            pl->mean = m, pl->scale = sd, m = sd = NULL;
    }
    free(v), free(m), free(sd);
    return st;
}

/* ANOVA F and p-value of one column from the pooled class counts and sums
 * and the sum of squares about the pooled mean (ns_select_anova's formula). */
static void dist_anova(const double *cnt, const double *sum, double ss_tot, int nclass,
                       size_t p, size_t j, double *F, double *pv)
{
    double n = 0, tot = 0, ss_b = 0;
    int groups = 0;
    for (int k = 0; k < nclass; k++)
        n += cnt[k], tot += sum[(size_t)k * p + j], groups += cnt[k] > 0;
    double mean = tot / n, dfb = groups - 1, dfw = n - groups;
    for (int k = 0; k < nclass; k++)
        if (cnt[k] > 0) {
            double mk = sum[(size_t)k * p + j] / cnt[k];
            ss_b += cnt[k] * (mk - mean) * (mk - mean);
        }
    double ss_w = ss_tot - ss_b;
    *F = 0, *pv = 1;
    if (dfb > 0 && dfw > 0 && ss_tot > 1e-14 * (1 + mean * mean) * n) {
        *F = ss_w > 0 ? (ss_b / dfb) / (ss_w / dfw) : INFINITY;
        *pv = isinf(*F) ? 0.0 : gsl_cdf_fdist_Q(*F, dfb, dfw);
    }
}

/* F descending, ties by lower column (as models' ranking). */
static int dist_by_f(const void *a, const void *b, void *key)
{
    const double *f = key;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    if (f[ia] != f[ib] && !(isnan(f[ia]) && isnan(f[ib])))
        return (f[ia] > f[ib] || isnan(f[ib])) ? -1 : 1;
    return ia < ib ? -1 : 1;
}

static int dist_by_index(const void *a, const void *b)
{
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    return ia < ib ? -1 : ia > ib;
}

/* --select univariate across the ranks: ANOVA F of every column of the
 * (standardised) training rows from pooled class counts, class sums and sums
 * of squares about the pooled mean (two MPI_Allreduce rounds), then the top
 * k (or p < pmax) columns as models' selection keeps them; xt shrinks to
 * them. Collective. */
static ns_status dist_select(ns_pipeline *pl, double *xt, size_t ntr, size_t p, const int *yt)
{
    size_t K = (size_t)pl->nclass, w = K + K * p;
    double *v = ns_calloc(w + p + 1, sizeof *v), *f = ns_alloc(2 * p + 1, sizeof *f);
    size_t *order = ns_alloc(p + 1, sizeof *order);
    ns_status st = ns_dist_train_agree(v && f && order ? NS_OK : NS_ERR_NOMEM);
    double *cnt = v, *sum = v + K, *ss = v + w;
    for (size_t i = 0; !st && i < ntr; i++) {
        cnt[yt[i]] += 1;
        for (size_t j = 0; j < p; j++)
            sum[(size_t)yt[i] * p + j] += xt[i * p + j];
    }
    if (!st)
        st = ns_dist_train_sum(v, w);
    double n = 0;
    for (size_t k = 0; !st && k < K; k++)
        n += cnt[k];
    for (size_t j = 0; !st && j < p; j++) {
        double tot = 0;
        for (size_t k = 0; k < K; k++)
            tot += sum[k * p + j];
        for (size_t i = 0; i < ntr; i++)
            ss[j] += (xt[i * p + j] - tot / n) * (xt[i * p + j] - tot / n);
    }
    if (!st)
        st = ns_dist_train_sum(ss, p);
    size_t k = 0;
    for (size_t j = 0; !st && j < p; j++) {
        dist_anova(cnt, sum, ss[j], pl->nclass, p, j, &f[j], &f[p + j]);
        order[j] = j;
    }
    if (!st) {
        qsort_r(order, p, sizeof *order, dist_by_f, f);
        if (pl->k > 0)
            k = pl->k < p ? pl->k : p;
        else
            while (k < p && f[p + order[k]] < pl->cp.sel.pmax)
                k++;
        k = k ? k : 1; /* nothing passes: the best column, as models does */
        qsort(order, k, sizeof *order, dist_by_index);
        for (size_t i = 0; i < ntr; i++) /* in place: column t <= order[t] */
            for (size_t t = 0; t < k; t++)
                xt[i * k + t] = xt[i * p + order[t]];
        for (size_t t = 0; t < k; t++) {
            pl->cols[t] = order[t];
            if (pl->mean)
                pl->mean[t] = pl->mean[order[t]], pl->scale[t] = pl->scale[order[t]];
        }
        pl->nsel = k;
    }
    free(v), free(f), free(order);
    return st;
}

/* A pipeline (statistics, selected columns, the network) fitted across
 * the ranks on this rank's training rows tr. Collective. */
static ns_status dist_fit(const train_setup *s, const train_data *d, const size_t *tr,
                          size_t ntr, int fold, ns_pipeline **out)
{
    size_t p = d->p;
    ns_pipeline *pl = ns_calloc(1, sizeof *pl);
    double *xt = ns_alloc(ntr * p + 1, sizeof *xt);
    int *yt = ns_alloc(ntr + 1, sizeof *yt);
    ns_status st = pl && xt && yt ? NS_OK : NS_ERR_NOMEM;
    if (!st) {
        pl->cp = s->cp;
        pl->cp.clf.tag = fold >= 0 ? fold : -1;
        pl->C = s->cp.clf.C, pl->k = s->cp.sel.k, pl->p_in = p, pl->nsel = p;
        pl->nclass = d->nclass, pl->ntrain = ntr;
        pl->cols = ns_alloc(p + 1, sizeof *pl->cols);
        pl->train_rows = ns_alloc(ntr + 1, sizeof *pl->train_rows);
        st = pl->cols && pl->train_rows ? NS_OK : NS_ERR_NOMEM;
    }
    for (size_t j = 0; !st && j < p; j++)
        pl->cols[j] = j;
    for (size_t i = 0; !st && i < ntr; i++) {
        memcpy(xt + i * p, d->x + tr[i] * p, p * sizeof *xt);
        yt[i] = d->y[tr[i]], pl->train_rows[i] = tr[i];
    }
    st = ns_dist_train_agree(st);
    if (!st)
        st = dist_statistics(pl, xt, ntr, p);
    if (!st && pl->cp.sel.kind == NS_SEL_UNIVARIATE)
        st = dist_select(pl, xt, ntr, p, yt);
    if (!st && s->cp.observer) /* dist's own observer learns the fit's rows */
        s->cp.observer(s->cp.observer_ctx, fold, tr, ntr);
    if (!st)
        st = ns_dist_train_agree(ns_clf_create(&pl->cp.clf, &pl->clf));
    if (!st)
        st = ns_clf_fit(pl->clf, xt, ntr, pl->nsel, yt, d->nclass);
    free(xt), free(yt);
    if (st)
        ns_pipeline_free(pl);
    else
        *out = pl;
    return st;
}

/* This rank's rows `rows` predicted by pl into records (table row, fold,
 * label, probabilities...), width 3 + nclass; row r's record at rec + r W,
 * the order of d->ids, which are gathered alongside. */
static ns_status dist_records(const ns_pipeline *pl, const train_data *d, const size_t *rows,
                              size_t nr, int fold, double *rec)
{
    size_t K = (size_t)d->nclass, W = 3 + K;
    double *pr = ns_alloc(nr * K + 1, sizeof *pr);
    ns_status st = pr ? ns_pipeline_predict(pl, d->x, d->n, d->p, rows, nr, pr, NULL)
                      : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < nr; i++) {
        double *r = rec + rows[i] * W;
        r[0] = (double)d->orig[rows[i]], r[1] = fold, r[2] = d->y[rows[i]];
        memcpy(r + 3, pr + i * K, K * sizeof *pr);
    }
    free(pr);
    return st;
}

/* Rank 0's view of the gathered records: every table row exactly once. */
typedef struct {
    size_t n;
    char **ids;
    int *y;
    ns_cv_result *r;
} dist_pooled;

static void dist_pooled_free(dist_pooled *g)
{
    free_strings(g->ids, g->n);
    free(g->y);
    ns_cv_result_free(g->r);
    memset(g, 0, sizeof *g);
}

/* Records of every rank (rank 0) into g: rows back in table order; every
 * participant must come exactly once. folds 0: --folds 1 (no fold column). */
static ns_status dist_pool(const train_data *d, const double *all, char **ids, size_t nall,
                           int folds, dist_pooled *g)
{
    size_t K = (size_t)d->nclass, W = 3 + K, n = d->n_all;
    if (nall != n)
        return ns_error(NS_ERR_INTERNAL, "%zu predictions gathered for %zu participants "
                        "(distributed training)", nall, n);
    ns_cv_result *r = g->r = ns_calloc(1, sizeof *r);
    g->n = n;
    g->ids = ns_calloc(n + 1, sizeof *g->ids), g->y = ns_alloc(n + 1, sizeof *g->y);
    if (!r || !g->ids || !g->y)
        return NS_ERR_NOMEM;
    r->folds = folds, r->n = n, r->nclass = d->nclass;
    r->fold = ns_alloc(n + 1, sizeof *r->fold), r->pred = ns_alloc(n + 1, sizeof *r->pred);
    r->proba = ns_alloc(n * K + 1, sizeof *r->proba);
    r->fold_metrics = ns_calloc((size_t)folds + 1, sizeof *r->fold_metrics);
    r->fold_C = ns_calloc((size_t)folds + 1, sizeof *r->fold_C);
    r->fold_k = ns_calloc((size_t)folds + 1, sizeof *r->fold_k);
    if (!r->fold || !r->pred || !r->proba || !r->fold_metrics || !r->fold_C || !r->fold_k)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < nall; i++) {
        const double *a = all + i * W;
        size_t t = (size_t)a[0];
        if (t >= n || g->ids[t])
            return ns_error(NS_ERR_INTERNAL, "participant %s predicted twice or out of range "
                            "(distributed training)", ids[i]);
        g->ids[t] = ids[i], ids[i] = NULL;
        g->y[t] = (int)a[2], r->fold[t] = (int)a[1];
        memcpy(r->proba + t * K, a + 3, K * sizeof *a);
        r->pred[t] = 0;
        for (size_t k = 1; k < K; k++) /* the argmax of the single-process code */
            r->pred[t] = r->proba[t * K + k] > r->proba[t * K + (size_t)r->pred[t]] ? (int)k
                                                                                   : r->pred[t];
    }
    return ns_metrics_compute(g->y, r->pred, r->proba, n, d->nclass, &r->overall);
}

/* Rank 0: every rank's records and ids, pooled into g. Collective. */
static ns_status dist_gather(const train_data *d, const double *rec, int folds, dist_pooled *g)
{
    double *all = NULL;
    char **ids = NULL;
    size_t nall = 0, nid = 0, W = 3 + (size_t)d->nclass;
    ns_status st = ns_dist_train_gather(rec, d->n, W, &all, &nall);
    if (!st)
        st = ns_dist_train_gather_strings(d->ids, d->n, &ids, &nid);
    if (!st && ns_dist_train_rank() == 0)
        st = dist_pool(d, all, ids, nall, folds, g);
    free(all);
    free_strings(ids, nid);
    return st;
}

/* Metrics of fold f from the pooled rows, as ns_cv_run computes them. */
static ns_status dist_fold_metrics(ns_cv_result *r, const int *y, int f)
{
    size_t K = (size_t)r->nclass, m = 0;
    int *yt = ns_alloc(r->n + 1, sizeof *yt), *pd = ns_alloc(r->n + 1, sizeof *pd);
    double *pr = ns_alloc(r->n * K + 1, sizeof *pr);
    ns_status st = yt && pd && pr ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < r->n; i++)
        if (r->fold[i] == f) {
            yt[m] = y[i], pd[m] = r->pred[i];
            memcpy(pr + m++ * K, r->proba + i * K, K * sizeof *pr);
        }
    if (!st)
        st = ns_metrics_compute(yt, pd, pr, m, r->nclass, &r->fold_metrics[f]);
    free(yt), free(pd), free(pr);
    return st;
}

/* Cross-validation across the ranks; rank 0 writes the CV outputs. */
static ns_status dist_cv(const train_opts *o, const train_data *d, train_setup *s,
                         json_t *summary)
{
    size_t n = d->n, W = 3 + (size_t)d->nclass, ntr, nte;
    int *fold = ns_alloc(n + 1, sizeof *fold);
    size_t *idx = ns_alloc(2 * n + 1, sizeof *idx);
    double *rec = ns_alloc(n * W + 1, sizeof *rec);
    ns_pipeline **models = ns_calloc((size_t)o->folds, sizeof *models);
    dist_pooled g = {0};
    ns_status st = fold && idx && rec && models ? NS_OK : NS_ERR_NOMEM;
    ns_info("%d-fold CV (folds drawn within each site) of %s on %zu participants across %d "
            "ranks, %zu features, %d classes", o->folds, o->model, d->n_all,
            ns_dist_train_size(), d->p, d->nclass);
    if (!st)
        st = dist_folds(o, d, fold);
    st = ns_dist_train_agree(st);
    for (int f = 0; !st && f < o->folds; f++) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (fold[i] != f)
                idx[w++] = i;
        ntr = w;
        for (size_t i = 0; i < n; i++)
            if (fold[i] == f)
                idx[w++] = i;
        nte = w - ntr;
        st = dist_fit(s, d, idx, ntr, f, &models[f]);
        if (!st)
            st = ns_dist_train_agree(dist_records(models[f], d, idx + ntr, nte, f, rec));
    }
    if (!st)
        st = dist_gather(d, rec, o->folds, &g);
    if (!st && ns_dist_train_rank() == 0) {
        for (int f = 0; !st && f < o->folds; f++) {
            st = dist_fold_metrics(g.r, g.y, f);
            g.r->fold_C[f] = models[f]->C, g.r->fold_k[f] = models[f]->nsel;
        }
        g.r->models = models, models = NULL; /* freed with g.r */
        if (!st)
            st = cv_outputs(o, d, g.ids, g.y, g.r, summary);
    }
    for (int f = 0; models && f < o->folds; f++)
        ns_pipeline_free(models[f]);
    free(models), free(fold), free(idx), free(rec);
    dist_pooled_free(&g);
    return ns_dist_train_agree(st);
}

/* The --folds 1 summary (resubstitution metrics) from the pooled rows. */
static void dist_final_metrics(dist_pooled *g, json_t *summary)
{
    double v[NMETRIC];
    metric_values(&g->r->overall, v);
    json_t *mj = json_object();
    json_object_set_new(mj, "train_resubstitution", metrics_json(v));
    json_object_set_new(mj, "confusion", confusion_json(&g->r->overall));
    json_object_set_new(summary, "metrics", mj);
}

/* One model on every site's rows: rank 0 writes OUT/model.npz, with
 * --folds 1 the predictions of every participant, and --predict. */
static ns_status dist_final(const train_opts *o, const train_data *d, train_setup *s,
                            json_t *summary)
{
    size_t n = d->n, W = 3 + (size_t)d->nclass;
    size_t *all = ns_alloc(n + 1, sizeof *all);
    double *rec = ns_alloc(n * W + 1, sizeof *rec);
    ns_pipeline *pl = NULL;
    dist_pooled g = {0};
    ns_status st = ns_dist_train_agree(all && rec ? NS_OK : NS_ERR_NOMEM);
    for (size_t i = 0; !st && i < n; i++)
        all[i] = i;
    if (!st)
        st = dist_fit(s, d, all, n, -1, &pl);
    if (!st && o->folds == 1) {
        st = ns_dist_train_agree(dist_records(pl, d, all, n, 0, rec));
        if (!st)
            st = dist_gather(d, rec, 0, &g);
    }
    if (!st && ns_dist_train_rank() == 0) {
        st = write_model(o, d, pl, "model.npz");
        if (!st) {
            json_object_set_new(summary, "final_model",
                                json_pack("{s:s,s:f,s:I}", "file", "model.npz", "C", pl->C,
                                          "n_selected", (json_int_t)pl->nsel));
            ns_info("model on all %zu rows of %d ranks written", d->n_all,
                    ns_dist_train_size());
        }
        if (!st && o->folds == 1)
            st = write_predictions(o, d, "predictions.tsv", g.ids, g.n, NULL, g.y, g.r->pred,
                                   g.r->proba, NULL, 0);
        if (!st && o->folds == 1)
            dist_final_metrics(&g, summary);
        if (!st && o->predict) /* new participants: rank 0 predicts them with the model */
            st = run_predict(o, d, s, pl);
    }
    ns_pipeline_free(pl);
    dist_pooled_free(&g);
    free(all), free(rec);
    return ns_dist_train_agree(st);
}

static ns_status run_dist(const train_opts *o, train_data *d, train_setup *s, json_t *summary)
{
    ns_status st = NS_OK;
    if (o->folds >= 2)
        st = dist_cv(o, d, s, summary);
    if (!st && (o->folds == 1 || o->predict))
        st = dist_final(o, d, s, summary);
    if (!st)
        st = ns_dist_train_finish();
    return st;
}
#endif

static json_t *settings_json(const train_opts *o, const train_data *d, const train_setup *s)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i,s:b,s:i,s:I,s:s,s:b,s:b,s:b,s:i}",
                          "features", o->features, "labels", o->labels, "target", o->target,
                          "model", o->model, "folds", o->folds, "nested", o->nested,
                          "inner_folds", o->inner_folds, "seed", (json_int_t)o->seed,
                          "select", o->select ? o->select : "none", "standardize",
                          o->standardize, "impute_mean", o->impute, "balanced", o->balanced,
                          "permutations", o->permutations);
    json_t *cg = json_array();
    for (size_t i = 0; i < s->cp.nc_grid; i++)
        json_array_append_new(cg, json_real(s->cp.c_grid[i]));
    if (!s->cp.nc_grid)
        json_array_append_new(cg, json_real(s->cp.clf.C));
    json_object_set_new(j, "C", cg);
    json_t *kg = json_array();
    for (int i = 0; i < o->nk_grid; i++)
        json_array_append_new(kg, json_integer((json_int_t)o->k_grid[i]));
    json_object_set_new(j, "select_k", kg);
    if (s->cp.clf.kind == NS_CLF_SVM_RBF)
        json_object_set_new(j, "gamma", o->gamma > 0 ? json_real(o->gamma) : json_string("scale"));
    if (s->cp.clf.kind == NS_CLF_NN) {
        char spec[256];
        ns_nn_spec_format(&o->cfg, spec, sizeof spec);
        static const char *const opt[] = {"sgd", "adam", "adamw"};
        json_object_set_new(j, "network", json_pack("{s:s,s:s,s:i,s:i,s:f,s:s,s:b,s:f,s:f}",
            "spec", spec, "optimizer", opt[o->cfg.opt], "epochs", o->cfg.epochs,
            "batch", o->cfg.batch, "lr", o->cfg.lr,
            "activation", ns_nn_act_name(o->cfg.act), "bias", o->cfg.bias, "dropout",
            (double)o->cfg.dropout, "weight_decay", o->cfg.weight_decay));
    }
    (void)d;
    return j;
}

static ns_status write_summary(const train_opts *o, const train_data *d, const train_setup *s,
                               json_t *summary)
{
    json_object_set_new(summary, "settings", settings_json(o, d, s));
    json_t *cl = json_array();
    for (int k = 0; k < d->nclass; k++)
        json_array_append_new(cl, json_string(d->classes[k]));
    json_object_set_new(summary, "classes", cl);
    json_object_set_new(summary, "n", json_integer((json_int_t)(d->n_all ? d->n_all : d->n)));
    json_object_set_new(summary, "n_features", json_integer((json_int_t)d->p));
    json_object_set(summary, "dropped", d->dropped);
    char *p = out_path(o, "summary.json");
    ns_status st = p ? ns_json_write(summary, p) : NS_ERR_NOMEM;
    free(p);
    return st;
}

/* After a failed run: the directories this run created and left empty
 * (OUT/spectra, OUT) go; rmdir leaves any that hold a file. */
static void remove_empty_out(const char *out)
{
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/spectra", out);
    rmdir(sub);
    rmdir(out);
}

static int run(train_opts *o)
{
    train_data d = {0};
    train_setup s = {0};
    /* key order of the file: settings first, filled in at the end */
    json_t *summary = json_pack("{s:s,s:s,s:n,s:n,s:n,s:n}", "command", "train", "version",
                                NS_VERSION, "settings", "classes", "n", "n_features");
    struct stat sb;
    int out_existed = stat(o->out, &sb) == 0; /* setup_cv may create OUT/spectra */
    ns_status st = load_all(o, &d);
    if (!st && (size_t)o->folds > d.n)
        st = ns_error(NS_ERR_DATA, "%d folds for %zu participants (%s)", o->folds, d.n,
                      o->features);
    if (!st)
        st = setup_cv(o, &d, &s);
    if (!st)
        st = ns_mkdirs(o->out);
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (o->dist && d.orig) { /* every rank its own sites' rows (setup_cv cut the table) */
        st = ns_dist_train_agree(st);
        if (!st)
            st = run_dist(o, &d, &s, summary);
    } else
#endif
    {
        if (!st && o->folds >= 2)
            st = run_cv(o, &d, &s, summary);
        if (!st && (o->folds == 1 || o->predict))
            st = run_final(o, &d, &s, summary);
    }
#ifdef NS_HAVE_SPECTRA
    if (!st && s.spectra)
        st = ns_spectra_tracker_finish(s.spectra);
#endif
    if (!st)
        st = write_summary(o, &d, &s, summary);
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (o->dist && d.orig) /* every rank ends with the same status */
        st = ns_dist_train_agree(st);
#endif
    json_decref(summary);
    train_setup_free(&s);
    train_data_free(&d);
    if (st && !out_existed)
        remove_empty_out(o->out);
    return st ? ns_cli_fail() : NS_EXIT_OK;
}

/* Checks that need every option: returns 0 or the usage exit code. */
static int validate(train_opts *o)
{
    if (!o->features)
        return ns_cli_usage_error("train", "missing FEATURES");
    if (!o->labels || !o->target || !o->out)
        return ns_cli_usage_error("train", "--labels, --target and -o are required");
    ns_clf_kind kind;
    if (ns_clf_kind_parse(o->model, &kind))
        return ns_cli_usage_error("train", "%s", ns_last_error());
    if (kind == NS_CLF_NN && strcmp(o->model, "svm-subspace") &&
        ns_nn_spec_parse(o->model, &o->cfg))
        return ns_cli_usage_error("train", "unknown model '%s': %s", o->model, ns_last_error());
    if (o->permutations > 0 && o->folds < 2)
        return ns_cli_usage_error("train", "--permutations needs --folds >= 2");
    return 0;
}

int ns_cmd_train(int argc, char **argv)
{
    train_opts o = {0};
    o.model = "logreg";
    o.folds = 5;
    o.inner_folds = 3;
    o.standardize = 1;
    ns_nn_config_default(&o.cfg);
    int c, rc = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, "o:qvh", long_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            free(o.c_grid), free(o.k_grid);
            return NS_EXIT_OK;
        }
        rc = c == '?' ? NS_EXIT_USAGE : take_option(c, optarg, &o);
    }
    if (!rc && optind < argc)
        o.features = argv[optind++];
    if (!rc && optind < argc)
        rc = ns_cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!rc)
        rc = validate(&o);
    if (!rc) {
        o.cfg.seed = o.seed;
        ns_cli_set_verbosity(o.quiet, o.verbose);
        rc = run(&o);
    }
    free(o.c_grid);
    free(o.k_grid);
    return rc;
}
