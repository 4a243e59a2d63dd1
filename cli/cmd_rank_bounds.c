/* neurospectra rank-bounds: the theoretical gradient rank bound of every
 * weight layer of an architecture (shared/reference/gradients.md, B1-B9),
 * with the rule that gives it. The spec is parsed and the network built by
 * models/ (so the layers are exactly those the layer tap reports).
 * requires: spectra models */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "spectra/spectra.h"

const char ns_cmd_rank_bounds_summary[] = "gradient rank bound of every layer of an architecture";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: neurospectra rank-bounds --model SPEC --input F|T,C [options]\n\n"
            "Prints, for every weight layer (as the layer tap names it), the rank bound of\n"
            "its weight gradient D^T A for a batch of N samples, and the rule that gives it:\n"
            "B1 any layer, B2/B2b linear networks (bottlenecks, biases), B3 softmax\n"
            "cross-entropy (C - 1), B4/B5 ReLU / leaky ReLU, B6 recurrent (with truncation),\n"
            "B7 convolution (stride, padding, dilation). See docs/spectra.md.\n\n"
            "  --model SPEC        mlp:256,64 | cnn1d:16k5s2,32k3s1[,h] | rnn:64 | gru:128 | lstm:128\n"
            "  --input F | T,C     F features per sample, or sequences of T steps x C channels\n"
            "  --batch N           samples per batch (default 32); a group's bound (B8) is the\n"
            "                      table for N = its sample count\n"
            "  --classes C         classes (default 2)\n"
            "  --activation A      linear, relu (default), leaky[:slope], tanh, sigmoid\n"
            "  --no-bias           layers without bias\n"
            "  --loss L            ce (default), bce, mse\n"
            "  --bptt K            truncated BPTT over the last K steps\n"
            "  --tsv               tab-separated output (header row) instead of aligned text\n"
            "  -h, --help\n");
}

typedef struct {
    const char *model;
    int ndim;
    size_t shape[2];
    long batch, classes;
    int tsv;
    ns_nn_config cfg;
} rb_opts;

enum { O_MODEL = 256, O_INPUT, O_BATCH, O_CLASSES, O_ACT, O_NOBIAS, O_LOSS, O_BPTT, O_TSV };

static const struct option long_opts[] = {
    {"model", required_argument, 0, O_MODEL}, {"input", required_argument, 0, O_INPUT},
    {"batch", required_argument, 0, O_BATCH}, {"classes", required_argument, 0, O_CLASSES},
    {"activation", required_argument, 0, O_ACT}, {"no-bias", no_argument, 0, O_NOBIAS},
    {"loss", required_argument, 0, O_LOSS}, {"bptt", required_argument, 0, O_BPTT},
    {"tsv", no_argument, 0, O_TSV}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};

/* "F" or "T,C". */
static int parse_input(const char *s, rb_opts *o)
{
    int *v = NULL, n = 0;
    if (ns_cli_parse_int_list(s, &v, &n) || n < 1 || n > 2) {
        free(v);
        return -1;
    }
    o->ndim = n;
    o->shape[0] = (size_t)v[0];
    o->shape[1] = n == 2 ? (size_t)v[1] : 0;
    free(v);
    return 0;
}

static int take_option(int c, const char *a, rb_opts *o)
{
    long v;
    switch (c) {
    case O_MODEL: o->model = a; return 0;
    case O_INPUT:
        return parse_input(a, o) ? ns_cli_usage_error("rank-bounds", "invalid --input '%s' (F or T,C)", a) : 0;
    case O_NOBIAS: o->cfg.bias = 0; return 0;
    case O_TSV: o->tsv = 1; return 0;
    case O_ACT:
        return ns_nn_act_parse(a, &o->cfg.act, &o->cfg.act_slope)
                   ? ns_cli_usage_error("rank-bounds", "%s", ns_last_error()) : 0;
    case O_LOSS:
        return ns_nn_loss_parse(a, &o->cfg.loss) ? ns_cli_usage_error("rank-bounds", "%s", ns_last_error())
                                                 : 0;
    default: /* O_BATCH, O_CLASSES, O_BPTT */
        if (ns_cli_parse_long(a, c == O_BATCH ? 1 : c == O_CLASSES ? 2 : 0, 1L << 24, &v))
            return ns_cli_usage_error("rank-bounds", "invalid number '%s'", a);
        if (c == O_BATCH) o->batch = v;
        else if (c == O_CLASSES) o->classes = v;
        else o->cfg.bptt = (int)v;
        return 0;
    }
}

/* The network as models/ builds it; checks that the bounds table has the
 * same layers with the same shapes as the tap will report. */
static ns_status bounds_of(const rb_opts *o, ns_spectra_bound *b, size_t cap, size_t *nb)
{
    ns_nn_config cfg = o->cfg;
    cfg.batch = 1; /* only the shapes are needed: a one-sample workspace */
    ns_nn *m = NULL;
    ns_spectra_arch a;
    ns_status s = ns_nn_create(&cfg, o->ndim, o->shape, (int)o->classes, &m);
    if (s == NS_OK)
        s = ns_spectra_arch_from_nn(m, &a);
    if (s == NS_OK)
        s = ns_spectra_bounds(&a, (size_t)o->batch, b, cap, nb);
    for (size_t i = 0; s == NS_OK && i < *nb; i++) {
        ns_nn_layer l = ns_nn_layer_info(m, i);
        if (i >= ns_nn_layer_count(m) || strcmp(l.name, b[i].name) || l.h_in != b[i].h_in ||
            l.h_out != b[i].h_out || l.rows_per_sample != b[i].rows_per_sample)
            s = ns_error(NS_ERR_INTERNAL, "bounds table and network disagree on layer %zu (%s)", i,
                         b[i].name);
    }
    if (s == NS_OK && *nb != ns_nn_layer_count(m))
        s = ns_error(NS_ERR_INTERNAL, "bounds table has %zu layers, the network %zu (%s)", *nb,
                     ns_nn_layer_count(m), o->model);
    ns_nn_free(m);
    return s;
}

static void print_table(const rb_opts *o, const ns_spectra_bound *b, size_t nb)
{
    if (o->tsv)
        printf("layer\th_in\th_out\trows_per_sample\trows\ttrivial\tlinear\tbound\trule\n");
    else
        printf("%-8s %7s %7s %6s %8s %7s %7s %7s  %s\n", "layer", "h_in", "h_out", "R", "rows",
               "B1", "linear", "bound", "rule");
    for (size_t i = 0; i < nb; i++) {
        const ns_spectra_bound *x = &b[i];
        printf(o->tsv ? "%s\t%zu\t%zu\t%zu\t%zu\t%zu\t%zu\t%zu\t%s\n"
                      : "%-8s %7zu %7zu %6zu %8zu %7zu %7zu %7zu  %s\n",
               x->name, x->h_in, x->h_out, x->rows_per_sample, x->rows, x->trivial, x->linear,
               x->bound, x->rule);
    }
}

int ns_cmd_rank_bounds(int argc, char **argv)
{
    rb_opts o = {.batch = 32, .classes = 2};
    ns_nn_config_default(&o.cfg);
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return NS_EXIT_OK;
        }
        if (c == '?')
            return ns_cli_usage_error("rank-bounds", "invalid option");
        if ((rc = take_option(c, optarg, &o)) != 0)
            return rc;
    }
    if (optind < argc)
        return ns_cli_usage_error("rank-bounds", "unexpected argument '%s'", argv[optind]);
    if (!o.model || !o.ndim)
        return ns_cli_usage_error("rank-bounds", "--model and --input are required");
    if (ns_nn_spec_parse(o.model, &o.cfg))
        return ns_cli_usage_error("rank-bounds", "%s", ns_last_error());
    ns_spectra_bound b[2 * NS_SPECTRA_MAXLAYERS + 3];
    size_t nb = 0;
    if (bounds_of(&o, b, sizeof b / sizeof b[0], &nb) != NS_OK)
        return ns_cli_fail();
    print_table(&o, b, nb);
    return NS_EXIT_OK;
}
