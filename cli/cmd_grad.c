/* neurospectra grad: one forward and backward pass of a network with given
 * weights; writes the loss, the gradient of every parameter and the layer
 * tap (A and D of every weight layer). Optionally a few training steps in
 * order (conformance tests of the optimisers, benchmarks).
 * requires: models */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "models/models.h"
#ifdef NS_HAVE_SPECTRA
#include "spectra/spectra.h"
#endif

const char ns_cmd_grad_summary[] = "one forward/backward pass of a network: loss, gradients, layer tap";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: neurospectra grad --model SPEC --inputs X.npy --labels y.npy -o DIR\n"
            "                         [--weights W.npz] [--activation A] [--no-bias] [options]\n\n"
            "One forward and backward pass (training mode, batch = all N samples, mean loss)\n"
            "with the given weights. Writes DIR/summary.json (\"loss\" and the layers),\n"
            "DIR/grad.npz (one gradient per parameter, state_dict names and shapes) and\n"
            "DIR/tap.npz (\"<layer>.A\" and \"<layer>.D\" for every weight layer, e.g. fc0.A,\n"
            "rnn.hh.D, conv1.A: grad W = D^T A; see docs/models.md for the row layout).\n\n"
            "  --model SPEC        mlp:256,64 | cnn1d:16k5s2,32k3 | rnn:64 | gru:128 | lstm:128\n"
            "  --inputs X.npy      N x F (tabular) or N x T x C (sequences), any float dtype\n"
            "  --labels y.npy      N class indices (int32 or int64)\n"
            "  --weights W.npz     parameters (PyTorch state_dict names); default: seeded init\n"
            "  --classes K         number of classes (default: max label + 1, at least 2)\n"
            "  --activation A      linear, relu (default), leaky[:slope], tanh, sigmoid\n"
            "  --no-bias           layers without bias\n"
            "  --loss L            ce (default), bce, mse\n"
            "  --class-weights W   comma-separated class weights for ce\n"
            "  --bptt K            truncated BPTT: backpropagate through the last K steps\n"
            "  --groups g.npy      per-sample integer groups: also DIR/spectra.tsv (docs/spectra.md)\n"
            "  -o, --output DIR    output directory\n\n"
            "training steps (tests and benchmarks; in order, no shuffling):\n"
            "  --train-steps S     after the pass, S optimiser steps over consecutive batches;\n"
            "                      writes \"train_losses\", \"steps_per_second\" to the summary and\n"
            "                      the final parameters to DIR/weights.npz\n"
            "  --batch B           batch size of the steps (default N)\n"
            "  --train-only        skip the full-batch pass (no grad.npz, tap.npz; benchmarks)\n"
            "  --optimizer O       sgd (default here), adam, adamw\n"
            "  --lr X  --momentum X  --nesterov  --weight-decay X  --clip X\n"
            "  --dropout P  --seed S\n"
            "  -q, --quiet  -v, --verbose  -h, --help\n");
}

typedef struct {
    const char *model, *inputs, *labels, *weights, *groups, *out;
    int classes, train_steps, batch, train_only;
    ns_nn_config cfg;
    float *class_w;
    int quiet, verbose;
} grad_opts;

enum { O_MODEL = 256, O_INPUTS, O_LABELS, O_WEIGHTS, O_CLASSES, O_ACT, O_NOBIAS, O_LOSS, O_CW,
       O_BPTT, O_GROUPS, O_STEPS, O_BATCH, O_OPT, O_LR, O_MOM, O_NEST, O_WD, O_CLIP, O_DROP,
       O_SEED, O_TONLY };

static const struct option long_opts[] = {
    {"model", required_argument, 0, O_MODEL}, {"inputs", required_argument, 0, O_INPUTS},
    {"labels", required_argument, 0, O_LABELS}, {"weights", required_argument, 0, O_WEIGHTS},
    {"classes", required_argument, 0, O_CLASSES}, {"activation", required_argument, 0, O_ACT},
    {"no-bias", no_argument, 0, O_NOBIAS}, {"loss", required_argument, 0, O_LOSS},
    {"class-weights", required_argument, 0, O_CW}, {"bptt", required_argument, 0, O_BPTT},
    {"groups", required_argument, 0, O_GROUPS}, {"output", required_argument, 0, 'o'},
    {"train-steps", required_argument, 0, O_STEPS}, {"batch", required_argument, 0, O_BATCH},
    {"optimizer", required_argument, 0, O_OPT}, {"lr", required_argument, 0, O_LR},
    {"momentum", required_argument, 0, O_MOM}, {"nesterov", no_argument, 0, O_NEST},
    {"weight-decay", required_argument, 0, O_WD}, {"clip", required_argument, 0, O_CLIP},
    {"dropout", required_argument, 0, O_DROP}, {"seed", required_argument, 0, O_SEED},
    {"train-only", no_argument, 0, O_TONLY},
    {"quiet", no_argument, 0, 'q'}, {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};

static int parse_class_weights(const char *s, grad_opts *o)
{
    int n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    o->class_w = calloc((size_t)n, sizeof(float));
    if (!o->class_w)
        return -1;
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',') || !(v >= 0) || !isfinite(v))
            return -1;
        o->class_w[i] = (float)v;
        p = end + (*end == ',');
    }
    o->cfg.class_weights = o->class_w;
    o->cfg.nclass_weights = n;
    return 0;
}

/* One option (getopt code c, argument a); returns 0, or the exit code. */
static int take_option(int c, const char *a, grad_opts *o)
{
    long v;
    double d;
    switch (c) {
    case O_MODEL: o->model = a; break;
    case O_INPUTS: o->inputs = a; break;
    case O_LABELS: o->labels = a; break;
    case O_WEIGHTS: o->weights = a; break;
    case O_GROUPS: o->groups = a; break;
    case 'o': o->out = a; break;
    case O_NOBIAS: o->cfg.bias = 0; break;
    case O_NEST: o->cfg.nesterov = 1; break;
    case O_TONLY: o->train_only = 1; break;
    case 'q': o->quiet = 1; break;
    case 'v': o->verbose = 1; break;
    case O_ACT:
        if (ns_nn_act_parse(a, &o->cfg.act, &o->cfg.act_slope))
            return ns_cli_usage_error("grad", "%s", ns_last_error());
        break;
    case O_LOSS:
        if (ns_nn_loss_parse(a, &o->cfg.loss))
            return ns_cli_usage_error("grad", "%s", ns_last_error());
        break;
    case O_OPT:
        if (ns_nn_opt_parse(a, &o->cfg.opt))
            return ns_cli_usage_error("grad", "%s", ns_last_error());
        break;
    case O_CW:
        if (parse_class_weights(a, o))
            return ns_cli_usage_error("grad", "invalid --class-weights '%s'", a);
        break;
    case O_CLASSES: case O_BPTT: case O_STEPS: case O_BATCH:
        if (ns_cli_parse_long(a, c == O_CLASSES ? 2 : c == O_BATCH ? 1 : 0, 1L << 30, &v))
            return ns_cli_usage_error("grad", "invalid number '%s'", a);
        *(c == O_CLASSES ? &o->classes : c == O_BPTT ? &o->cfg.bptt
          : c == O_STEPS ? &o->train_steps : &o->batch) = (int)v;
        break;
    case O_LR: case O_MOM: case O_WD: case O_CLIP: case O_DROP:
        if (ns_cli_parse_double(a, &d) || !(d >= 0))
            return ns_cli_usage_error("grad", "invalid value '%s'", a);
        if (c == O_DROP)
            o->cfg.dropout = (float)d;
        else
            *(c == O_LR ? &o->cfg.lr : c == O_MOM ? &o->cfg.momentum
              : c == O_WD ? &o->cfg.weight_decay : &o->cfg.clip) = d;
        break;
    case O_SEED:
        if (ns_cli_parse_seed(a, &o->cfg.seed))
            return ns_cli_usage_error("grad", "invalid seed '%s'", a);
        break;
    default:
        return ns_cli_usage_error("grad", "unknown option");
    }
    return 0;
}

static ns_status load_inputs(const char *path, float **X, int *ndim, size_t shape[2], size_t *n)
{
    ns_array *a;
    ns_status st = ns_npy_read(path, &a);
    if (st)
        return st;
    if ((a->ndim != 2 && a->ndim != 3) || a->shape[0] == 0) {
        ns_array_free(a);
        return ns_error(NS_ERR_DATA, "inputs must be N x F or N x T x C with N > 0 (%s)", path);
    }
    *n = a->shape[0];
    *ndim = a->ndim - 1;
    shape[0] = a->shape[1];
    shape[1] = a->ndim == 3 ? a->shape[2] : 0;
    size_t count = ns_array_count(a);
    st = ns_array_to_f32(a, X);
    ns_array_free(a);
    for (size_t i = 0; !st && i < count; i++)
        if (!isfinite((*X)[i])) {
            free(*X);
            *X = NULL;
            st = ns_error(NS_ERR_DATA, "inputs contain NaN or Inf at element %zu (%s)", i, path);
        }
    return st;
}

/* Integer labels (int32/int64/uint8), one per sample, as int32. */
static ns_status load_ints(const char *path, size_t n, const char *what, int32_t **out, int *max)
{
    ns_array *a;
    ns_status st = ns_npy_read(path, &a);
    if (st)
        return st;
    if (a->dtype != NS_DT_I32 && a->dtype != NS_DT_I64 && a->dtype != NS_DT_U8)
        st = ns_error(NS_ERR_DATA, "%s must be integers (int32 or int64) (%s)", what, path);
    else if (a->ndim != 1 || a->shape[0] != n)
        st = ns_error(NS_ERR_DATA, "%s: expected %zu values in a 1-D array (%s)", what, n, path);
    double *v = NULL;
    if (!st)
        st = ns_array_to_f64(a, &v);
    ns_array_free(a);
    int32_t *y = st ? NULL : ns_alloc(n, sizeof *y);
    *max = 0;
    for (size_t i = 0; y && i < n; i++) {
        if (v[i] < 0 || v[i] > 1e9) {
            st = ns_error(NS_ERR_DATA, "%s: value %g of sample %zu is negative or too large (%s)",
                          what, v[i], i, path);
            break;
        }
        y[i] = (int32_t)v[i];
        *max = y[i] > *max ? y[i] : *max;
    }
    free(v);
    if (!st && !y)
        st = NS_ERR_NOMEM;
    if (st) {
        free(y);
        return st;
    }
    *out = y;
    return NS_OK;
}

static ns_status collect_tap(const ns_nn_tap_event *ev, void *user)
{
    ns_npz *z = user;
    char name[64];
    size_t sa[2] = {ev->A.rows, ev->A.cols}, sd[2] = {ev->D.rows, ev->D.cols};
    snprintf(name, sizeof name, "%s.A", ev->name);
    ns_status st = ns_npz_add(z, name, ns_array_from_f32(ev->A.data, 2, sa));
    snprintf(name, sizeof name, "%s.D", ev->name);
    if (!st)
        st = ns_npz_add(z, name, ns_array_from_f32(ev->D.data, 2, sd));
    return st;
}

static ns_status write_grads(ns_nn *m, const char *dir)
{
    ns_npz *z = ns_npz_create();
    float *g = ns_nn_grads(m, NULL);
    ns_status st = z ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < ns_nn_param_count(m); i++) {
        ns_nn_param p = ns_nn_param_info(m, i);
        st = ns_npz_add(z, p.name, ns_array_from_f32(g + p.offset, p.ndim, p.shape));
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/grad.npz", dir);
    if (!st)
        st = ns_npz_write(z, path);
    ns_npz_free(z);
    return st;
}

static json_t *layers_json(const ns_nn *m, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < ns_nn_layer_count(m); i++) {
        ns_nn_layer l = ns_nn_layer_info(m, i);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "name", l.name,
                                             "weight", l.weight_name, "rows",
                                             (json_int_t)(n * l.rows_per_sample), "rows_per_sample",
                                             (json_int_t)l.rows_per_sample, "h_in",
                                             (json_int_t)l.h_in, "h_out", (json_int_t)l.h_out));
    }
    return arr;
}

/* S optimiser steps over consecutive batches of B rows (wrapping around);
 * the rate excludes the first 3 steps when S > 10. */
static ns_status train_steps(ns_nn *m, const float *X, const int32_t *y, size_t n, size_t B,
                             int steps, json_t *summary)
{
    double *losses = ns_calloc((size_t)steps + 1, sizeof *losses);
    if (!losses)
        return NS_ERR_NOMEM;
    size_t nb = (n + B - 1) / B, in = ns_nn_input_size(m);
    int warm = steps > 10 ? 3 : 0; /* steps before the clock starts (first touch of memory) */
    double t0 = 0;
    ns_status st = NS_OK;
    for (int s = 0; !st && s < steps; s++) {
        if (s == warm)
            t0 = ns_now();
        size_t r0 = ((size_t)s % nb) * B, cnt = n - r0 < B ? n - r0 : B;
        ns_nn_set_epoch(m, (int)((size_t)s / nb));
        st = ns_nn_forward_backward(m, X + r0 * in, y + r0, cnt, NULL, &losses[s]);
        if (!st)
            st = ns_nn_optimizer_step(m);
    }
    double secs = ns_now() - t0;
    steps -= warm;
    json_t *arr = json_array();
    for (int s = 0; !st && s < steps + warm; s++)
        json_array_append_new(arr, json_real(losses[s]));
    json_object_set_new(summary, "train_losses", arr);
    json_object_set_new(summary, "train_seconds", json_real(secs));
    json_object_set_new(summary, "steps_per_second", json_real(secs > 0 ? steps / secs : 0));
    free(losses);
    return st;
}

typedef struct {
    float *X;
    int32_t *y, *groups;
    size_t n, shape[2];
    int ndim, nclass;
    ns_nn *m;
    ns_npz *tap;
    json_t *summary;
} grad_run;

static void grad_run_free(grad_run *r)
{
    free(r->X);
    free(r->y);
    free(r->groups);
    ns_nn_free(r->m);
    ns_npz_free(r->tap);
    json_decref(r->summary);
}

static ns_status load_all(const grad_opts *o, grad_run *r)
{
    int maxlabel = 0, maxgroup = 0;
    ns_status st = load_inputs(o->inputs, &r->X, &r->ndim, r->shape, &r->n);
    if (!st)
        st = load_ints(o->labels, r->n, "labels", &r->y, &maxlabel);
    /* Hook for spectra (issue 7): groups are read and checked here; the
     * per-group spectra of the tap will be computed from them. */
    if (!st && o->groups)
        st = load_ints(o->groups, r->n, "groups", &r->groups, &maxgroup);
    r->nclass = o->classes ? o->classes : maxlabel + 1 > 2 ? maxlabel + 1 : 2;
    if (!st && maxlabel >= r->nclass)
        st = ns_error(NS_ERR_DATA, "label %d >= --classes %d (%s)", maxlabel, r->nclass, o->labels);
    if (!st)
        st = ns_nn_create(&o->cfg, r->ndim, r->shape, r->nclass, &r->m);
    if (!st && o->weights)
        st = ns_nn_load(r->m, o->weights);
    return st;
}

/* The full-batch pass: loss, grad.npz, tap.npz. */
static ns_status gradient_pass(const grad_opts *o, grad_run *r)
{
    r->tap = ns_npz_create();
    int sub = ns_nn_tap_subscribe(r->m, collect_tap, r->tap);
    double loss = NAN;
#ifdef NS_HAVE_SPECTRA
    ns_spectra_batch *sb = NULL; /* spectra: DIR/spectra.tsv with --groups */
    ns_status st = r->groups ? ns_spectra_batch_begin(r->m, r->groups, r->n, &sb) : NS_OK;
    if (!st)
        st = ns_nn_forward_backward(r->m, r->X, r->y, r->n, NULL, &loss);
#else
    ns_status st = ns_nn_forward_backward(r->m, r->X, r->y, r->n, NULL, &loss);
#endif
    ns_nn_tap_unsubscribe(r->m, sub);
    if (st == NS_ERR_NUMERIC) /* one pass, no training: the learning rate is not the cause */
        st = ns_error(NS_ERR_NUMERIC,
                      "loss is not finite (%g) for these weights on these inputs: the gradients "
                      "are undefined (%s, %s)",
                      loss, o->weights ? o->weights : "weights from --seed", o->inputs);
    char spec[512], path[4096];
    ns_nn_spec_format(ns_nn_get_config(r->m), spec, sizeof spec);
    json_object_set_new(r->summary, "loss", json_real(loss));
    json_object_set_new(r->summary, "model", json_string(spec));
    json_object_set_new(r->summary, "activation", json_string(ns_nn_act_name(o->cfg.act)));
    json_object_set_new(r->summary, "bias", json_boolean(o->cfg.bias));
    json_object_set_new(r->summary, "n", json_integer((json_int_t)r->n));
    json_object_set_new(r->summary, "classes", json_integer(r->nclass));
    json_object_set_new(r->summary, "layers", layers_json(r->m, r->n));
    if (!st)
        st = write_grads(r->m, o->out);
    snprintf(path, sizeof path, "%s/tap.npz", o->out);
    if (!st)
        st = ns_npz_write(r->tap, path);
#ifdef NS_HAVE_SPECTRA
    snprintf(path, sizeof path, "%s/spectra.tsv", o->out);
    ns_status sst = ns_spectra_batch_end(sb, r->m, st ? NULL : path);
    if (!st)
        st = sst;
#endif
    return st;
}

static ns_status run(const grad_opts *o, grad_run *r)
{
    ns_status st = load_all(o, r);
    if (!st)
        st = ns_mkdirs(o->out);
    if (st)
        return st;
    r->summary = json_object();
    if (!o->train_only)
        st = gradient_pass(o, r);
    char path[4096];
    if (!st && o->train_steps > 0) {
        size_t B = o->batch ? (size_t)o->batch : r->n;
        st = train_steps(r->m, r->X, r->y, r->n, B, o->train_steps, r->summary);
        snprintf(path, sizeof path, "%s/weights.npz", o->out);
        if (!st)
            st = ns_nn_save(r->m, path);
    }
    snprintf(path, sizeof path, "%s/summary.json", o->out);
    if (!st)
        st = ns_json_write(r->summary, path);
    return st;
}

int ns_cmd_grad(int argc, char **argv)
{
    grad_opts o = {0};
    ns_nn_config_default(&o.cfg);
    o.cfg.opt = NS_NN_SGD;
    o.cfg.shuffle = 0;
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qvh", long_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            free(o.class_w);
            return NS_EXIT_OK;
        }
        if (c == '?' || (rc = take_option(c, optarg, &o)) != 0) {
            free(o.class_w);
            return c == '?' ? ns_cli_usage_error("grad", "invalid option") : rc;
        }
    }
    if (optind < argc || !o.model || !o.inputs || !o.labels || !o.out) {
        free(o.class_w);
        return ns_cli_usage_error("grad", optind < argc ? "unexpected argument '%s'"
                                  : "--model, --inputs, --labels and -o are required%s",
                                  optind < argc ? argv[optind] : "");
    }
    ns_cli_set_verbosity(o.quiet, o.verbose);
    if (ns_nn_spec_parse(o.model, &o.cfg)) {
        free(o.class_w);
        return ns_cli_usage_error("grad", "%s", ns_last_error());
    }
    if (o.batch)
        o.cfg.batch = o.batch;
    grad_run r = {0};
    ns_status st = run(&o, &r);
    grad_run_free(&r);
    free(o.class_w);
    return st ? ns_cli_fail() : NS_EXIT_OK;
}
