/* requires: spectra models */
/* Spectra on real networks of models/ through the layer tap: the tap's
 * D^T A equals the layer gradient and the groups' parts sum to it; every
 * bound holds for mlp / cnn1d / rnn / gru / lstm specs with each activation
 * and is attained where it should be; the leaky sweep; the training tracker
 * and the one-batch writer end to end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ns_test.h"
#include "spectra/spectra.h"

typedef struct {
    ns_spectra_bound b[2 * NS_SPECTRA_MAXLAYERS + 3];
    size_t nb;
    size_t rank[2 * NS_SPECTRA_MAXLAYERS + 3];
    int seen;
    const int *sample_group;
    int check_attained;
} tap_check;

static size_t bound_index(const tap_check *c, const char *name)
{
    for (size_t i = 0; i < c->nb; i++)
        if (!strcmp(c->b[i].name, name))
            return i;
    ck_abort_msg("layer %s missing from the bounds table", name);
    return 0;
}

/* Frobenius distance of two h_out x h_in float matrices, relative. */
static double rel_diff(const ns_matrix *x, const ns_matrix *y)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) {
            double a = NS_AT(x, i, j), b = NS_AT(y, i, j);
            num += (a - b) * (a - b);
            den += b * b;
        }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static ns_status on_tap(const ns_nn_tap_event *ev, void *user)
{
    tap_check *c = user;
    size_t i = bound_index(c, ev->name), R = ev->rows_per_sample;
    ck_assert_uint_eq(ev->A.cols, c->b[i].h_in);
    ck_assert_uint_eq(ev->D.cols, c->b[i].h_out);
    ck_assert_uint_eq(R, c->b[i].rows_per_sample);
    ns_matrix *G = ns_matrix_create(ev->D.cols, ev->A.cols), *S = ns_matrix_create(ev->D.cols, ev->A.cols);
    ns_matrix *Gg = ns_matrix_create(ev->D.cols, ev->A.cols);
    int *rg = malloc(ev->A.rows * sizeof *rg);
    ns_spectra_row_groups(c->sample_group, ev->sample_idx, ev->nsamples, R, rg);
    ck_assert_int_eq(ns_spectra_group_gradient(&ev->A, &ev->D, NULL, NS_SPECTRA_ALL, G), NS_OK);
    ck_assert_double_lt(rel_diff(G, &ev->gW), 1e-5); /* the tap's D^T A is the gradient */
    for (int g = 0; g < 2; g++) {
        ck_assert_int_eq(ns_spectra_group_gradient(&ev->A, &ev->D, rg, g, Gg), NS_OK);
        for (size_t t = 0; t < Gg->rows * Gg->cols; t++)
            S->data[t] += Gg->data[t];
    }
    ck_assert_double_lt(rel_diff(S, G), 1e-5);
    ns_spectra_ws *ws = ns_spectra_ws_create(ev->A.rows, ev->A.cols, ev->D.cols, NS_SPECTRA_F32);
    double *sv = malloc(ev->A.cols * sizeof *sv);
    ns_spectra_stats st;
    ck_assert_int_eq(ns_spectra_grad_sv(ws, &ev->A, &ev->D, NULL, NS_SPECTRA_ALL, NS_SPECTRA_AUTO, sv, &st), NS_OK);
    c->rank[i] = st.rank;
    ck_assert_msg(st.rank <= c->b[i].bound, "%s: rank %zu > bound %zu (%s)", ev->name, st.rank,
                  c->b[i].bound, c->b[i].rule);
    if (c->check_attained)
        ck_assert_msg(st.rank == c->b[i].bound, "%s: rank %zu, bound %zu not attained (%s)",
                      ev->name, st.rank, c->b[i].bound, c->b[i].rule);
    c->seen++;
    free(sv);
    free(rg);
    ns_spectra_ws_free(ws);
    ns_matrix_free(G); ns_matrix_free(S); ns_matrix_free(Gg);
    return NS_OK;
}

/* One forward/backward pass of spec on random data; checks every layer. */
static void run_spec(const char *spec, const char *act, int bias, int bptt, int ndim,
                     const size_t *shape, int nclass, size_t N, uint64_t seed, int attained,
                     size_t *ranks)
{
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    ck_assert_int_eq(ns_nn_spec_parse(spec, &cfg), NS_OK);
    ck_assert_int_eq(ns_nn_act_parse(act, &cfg.act, &cfg.act_slope), NS_OK);
    cfg.bias = bias;
    cfg.bptt = bptt;
    cfg.seed = seed;
    ns_nn *m = NULL;
    ck_assert_int_eq(ns_nn_create(&cfg, ndim, shape, nclass, &m), NS_OK);
    size_t F = ns_nn_input_size(m);
    ns_rng *r = ns_rng_create(seed + 1);
    float *X = malloc(N * F * sizeof *X);
    int32_t *y = malloc(N * sizeof *y);
    int *grp = malloc(N * sizeof *grp);
    for (size_t i = 0; i < N * F; i++)
        X[i] = (float)ns_rng_normal(r);
    for (size_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % (size_t)nclass);
        grp[i] = (int)ns_rng_below(r, 2);
    }
    tap_check c = {.sample_group = grp, .check_attained = attained};
    ns_spectra_arch a;
    ck_assert_int_eq(ns_spectra_arch_from_nn(m, &a), NS_OK);
    ck_assert_int_eq(ns_spectra_bounds(&a, N, c.b, sizeof c.b / sizeof c.b[0], &c.nb), NS_OK);
    ck_assert_uint_eq(c.nb, ns_nn_layer_count(m));
    int sub = ns_nn_tap_subscribe(m, on_tap, &c);
    double loss;
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, N, NULL, &loss), NS_OK);
    ns_nn_tap_unsubscribe(m, sub);
    ck_assert_int_eq(c.seen, (int)c.nb);
    if (ranks)
        memcpy(ranks, c.rank, c.nb * sizeof *ranks);
    free(X); free(y); free(grp);
    ns_rng_free(r);
    ns_nn_free(m);
}

START_TEST(test_bounds_real_networks)
{
    const char *acts[] = {"linear", "relu", "leaky:0.2", "tanh", "sigmoid"};
    size_t tab[1] = {20}, seq[2] = {16, 3}, rseq[2] = {6, 4}, mseq[2] = {5, 3};
    uint64_t seed = 100;
    for (int a = 0; a < 5; a++)
        for (int bias = 0; bias < 2; bias++) {
            run_spec("mlp:32,8", acts[a], bias, 0, 1, tab, 3, 16, seed++, 0, NULL);
            run_spec("mlp:7", acts[a], bias, 0, 2, mseq, 4, 9, seed++, 0, NULL);
            run_spec("cnn1d:6k3s2,5k3s1p1", acts[a], bias, 0, 2, seq, 3, 4, seed++, 0, NULL);
            run_spec("cnn1d:4k5d2,9", acts[a], bias, 0, 2, seq, 2, 5, seed++, 0, NULL);
        }
    const char *rnns[] = {"rnn:12", "gru:10", "lstm:8", "rnn:5,7"};
    for (int k = 0; k < 4; k++)
        for (int bptt = 0; bptt <= 3; bptt += 3) {
            run_spec(rnns[k], "relu", 1, bptt, 2, rseq, 3, 3, seed++, 0, NULL);
            run_spec(rnns[k], "linear", 0, bptt, 1, tab, 2, 2, seed++, 0, NULL);
        }
}
END_TEST

/* B2 through the real network: linear 64 -> 64 -> 4 -> 64 -> 10, N = 32,
 * no bias: rank 4 in every layer. B6: Elman/GRU/LSTM h = 64, N = 2, T = 8:
 * W_hh reaches N (T-1) = 14, W_ih reaches d_in = 10; with --bptt 3, 6. */
START_TEST(test_bounds_attained_real)
{
    size_t in[1] = {64}, seq[2] = {8, 10}, ranks[8];
    run_spec("mlp:64,4,64", "linear", 0, 0, 1, in, 10, 32, 7, 1, ranks);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(ranks[i], 4);
    const char *rnns[] = {"rnn:64", "gru:64", "lstm:64"};
    for (int k = 0; k < 3; k++) {
        run_spec(rnns[k], "relu", 1, 0, 2, seq, 3, 2, 8, 1, ranks);
        ck_assert_uint_eq(ranks[0], 10);
        ck_assert_uint_eq(ranks[1], 14);
        run_spec(rnns[k], "relu", 1, 3, 2, seq, 3, 2, 8, 1, ranks);
        ck_assert_uint_eq(ranks[1], 6);
    }
    /* B7: conv 8 -> 16, k 3, length 12, N = 2: stride 3 -> 8, stride 1 -> 16 */
    size_t cin[2] = {12, 8};
    run_spec("cnn1d:16k3s3", "relu", 1, 0, 2, cin, 2, 2, 9, 0, ranks);
    ck_assert_uint_eq(ranks[0], 8);
    run_spec("cnn1d:16k3s1", "relu", 1, 0, 2, cin, 2, 2, 9, 0, ranks);
    ck_assert_uint_eq(ranks[0], 16);
}
END_TEST

/* B5 through the real network: the same weights (same seed) with leaky
 * slopes 0.01 .. 1: rank non-increasing, the linear bound 4 at slope 1. */
START_TEST(test_leaky_sweep_real)
{
    size_t in[1] = {64}, ranks[8], prev[4] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    const char *slopes[] = {"leaky:0.01", "leaky:0.1", "leaky:0.3", "leaky:0.5", "leaky:0.7",
                            "leaky:0.9", "leaky:1"};
    for (int k = 0; k < 7; k++) {
        run_spec("mlp:64,4,64", slopes[k], 0, 0, 1, in, 10, 32, 11, 0, ranks);
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(ranks[i] <= prev[i], "fc%d: rank %zu at %s above %zu", i, ranks[i],
                          slopes[k], prev[i]);
            prev[i] = ranks[i];
        }
        if (k == 0)
            ck_assert_uint_gt(ranks[0], 4);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(prev[i], 4);
}
END_TEST

static ns_tsv *read_tsv(const char *dir, const char *name)
{
    char path[700];
    ns_tsv *t = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_msg(ns_tsv_read(path, &t) == NS_OK, "%s: %s", path, ns_last_error());
    return t;
}

/* ns_nn_fit with the tracker attached (what train --spectra does per fold):
 * every step, layer and group is in the long table, the per-sample values
 * are the raw ones divided by the group's share, summaries, group tests and
 * SVGs are written. */
START_TEST(test_tracker_end_to_end)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/track", ns_test_tmpdir());
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    ck_assert_int_eq(ns_nn_spec_parse("mlp:16", &cfg), NS_OK);
    cfg.epochs = 3;
    cfg.batch = 8;
    size_t N = 40, F = 12, shape[1] = {12};
    ns_nn *m = NULL;
    ck_assert_int_eq(ns_nn_create(&cfg, 1, shape, 2, &m), NS_OK);
    ns_rng *r = ns_rng_create(3);
    float *X = malloc(N * F * sizeof *X);
    int32_t y[40];
    int grp[40];
    for (size_t i = 0; i < N; i++) {
        y[i] = (int32_t)(i % 2);
        grp[i] = i % 5 == 0 ? -1 : (int)(i % 3 == 0); /* a few samples in no group */
        for (size_t j = 0; j < F; j++)
            X[i * F + j] = (float)ns_rng_normal(r) + 0.5f * (float)y[i];
    }
    const char *names[2] = {"HC", "SZ"};
    ns_spectra_opts o;
    ns_spectra_opts_default(&o);
    o.topk = 5;
    o.act_delta = 1;
    o.nperm = 99;
    ns_spectra_tracker *t = NULL;
    int sub = -1;
    ck_assert_int_eq(ns_spectra_tracker_create(dir, &o, names, 2, &t), NS_OK);
    ck_assert_int_eq(ns_spectra_tracker_begin_fold(t, 0, grp, NULL, N), NS_OK);
    ck_assert_int_eq(ns_spectra_attach(t, m, &sub), NS_OK);
    ck_assert_int_eq(ns_nn_fit(m, X, y, N, NULL, NULL, 0), NS_OK);
    ns_spectra_detach(m, sub);
    ck_assert_int_eq(ns_spectra_tracker_finish(t), NS_OK);
    ns_spectra_tracker_free(t);

    /* the bound rows of "all" (remembered per layer and sample count by the
     * tracker) against a fresh pass of the bounds for a batch of 8 */
    ns_spectra_arch arch;
    ns_spectra_bound bd[2 * NS_SPECTRA_MAXLAYERS + 3];
    size_t nbd = 0;
    ck_assert_int_eq(ns_spectra_arch_from_nn(m, &arch), NS_OK);
    ck_assert_int_eq(ns_spectra_bounds(&arch, 8, bd, sizeof bd / sizeof bd[0], &nbd), NS_OK);
    ck_assert_uint_eq(nbd, 2);
    ns_tsv *tab = read_tsv(dir, "spectra.tsv");
    size_t nbound = 0;
    for (size_t i = 0; i < tab->nrows; i++)
        if (!strcmp(ns_tsv_get(tab, i, 5), "bound") && !strcmp(ns_tsv_get(tab, i, 4), "all")) {
            size_t want = bd[strcmp(ns_tsv_get(tab, i, 3), "fc0") ? 1 : 0].bound;
            ck_assert_uint_eq((size_t)atol(ns_tsv_get(tab, i, 7)), want);
            nbound++;
        }
    ck_assert_uint_eq(nbound, 15 * 2);
    const char *cols[8] = {"fold", "epoch", "step", "layer", "group", "quantity", "index", "value"};
    for (int c = 0; c < 8; c++)
        ck_assert_int_eq(ns_tsv_column(tab, cols[c]), c);
    /* 3 epochs x 5 steps, 2 layers, 3 groups; raw / per-sample ratio per cell */
    int seen[15][2][3] = {{{0}}};
    double raw = 0;
    for (size_t i = 0; i < tab->nrows; i++) {
        const char *layer = ns_tsv_get(tab, i, 3), *g = ns_tsv_get(tab, i, 4), *q = ns_tsv_get(tab, i, 5);
        int step = atoi(ns_tsv_get(tab, i, 2)), l = !strcmp(layer, "fc1");
        int gi = !strcmp(g, "all") ? 0 : !strcmp(g, "HC") ? 1 : 2;
        ck_assert_int_lt(step, 15);
        double v = atof(ns_tsv_get(tab, i, 7));
        if (!strcmp(q, "grad_rank"))
            seen[step][l][gi]++;
        if (!strcmp(q, "grad_sv") && atoi(ns_tsv_get(tab, i, 6)) == 1)
            raw = v;
        if (!strcmp(q, "grad_sv_persample") && atoi(ns_tsv_get(tab, i, 6)) == 1)
            ck_assert(gi == 0 ? fabs(v - raw) <= 1e-6 * raw : v > raw);
        if (!strcmp(q, "bound"))
            ck_assert(v >= 1);
    }
    for (int s = 0; s < 15; s++)
        for (int l = 0; l < 2; l++)
            ck_assert_int_eq(seen[s][l][0], 1);
    ns_tsv_free(tab);
    tab = read_tsv(dir, "spectra_epochs.tsv");
    ck_assert_int_ge(ns_tsv_column(tab, "sd"), 0);
    ck_assert_uint_gt(tab->nrows, 100);
    ns_tsv_free(tab);
    tab = read_tsv(dir, "spectra_groups.tsv");
    int pc = ns_tsv_column(tab, "p"), qc = ns_tsv_column(tab, "q");
    ck_assert_int_ge(ns_tsv_column(tab, "mean_SZ"), 0);
    /* layers x epochs x (<= 5 per-sample values + 3 scalars) */
    ck_assert(tab->nrows >= 2 * 3 * 4 && tab->nrows <= 2 * 3 * 8);
    size_t tested = 0; /* n/a where only one group reaches an index in a batch */
    for (size_t i = 0; i < tab->nrows; i++) {
        const char *ps = ns_tsv_get(tab, i, (size_t)pc), *qs = ns_tsv_get(tab, i, (size_t)qc);
        ck_assert((ps == NULL) == (qs == NULL));
        if (!ps)
            continue;
        double p = atof(ps), q = atof(qs);
        ck_assert(p > 0 && p <= 1 && q >= p - 1e-12);
        tested++;
    }
    ck_assert_uint_ge(tested, 2 * 3 * 4);
    ns_tsv_free(tab);
    char path[700];
    snprintf(path, sizeof path, "%s/spectra_fc0_sv1.svg", dir);
    ck_assert(ns_file_exists(path));
    snprintf(path, sizeof path, "%s/spectra_fc1_effrank.svg", dir);
    ck_assert(ns_file_exists(path));
    free(X);
    ns_rng_free(r);
    ns_nn_free(m);
}
END_TEST

/* neurospectra grad's writer: one batch, groups by value, every layer and
 * group with grad_sv, grad_rank and bound rows. */
START_TEST(test_batch_writer)
{
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    ck_assert_int_eq(ns_nn_spec_parse("gru:6", &cfg), NS_OK);
    size_t shape[2] = {5, 3}, N = 6;
    ns_nn *m = NULL;
    ck_assert_int_eq(ns_nn_create(&cfg, 2, shape, 3, &m), NS_OK);
    float X[6 * 15];
    int32_t y[6] = {0, 1, 2, 0, 1, 2}, g[6] = {7, 3, 7, 7, 3, 3};
    for (int i = 0; i < 90; i++)
        X[i] = (float)sin(i * 0.7);
    ns_spectra_batch *b = NULL;
    ck_assert_int_eq(ns_spectra_batch_begin(m, g, N, &b), NS_OK);
    double loss;
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, N, NULL, &loss), NS_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/spectra_batch.tsv", ns_test_tmpdir());
    ck_assert_int_eq(ns_spectra_batch_end(b, m, path), NS_OK);
    ns_tsv *t = NULL;
    ck_assert_int_eq(ns_tsv_read(path, &t), NS_OK);
    ck_assert_int_eq(ns_tsv_column(t, "layer"), 0);
    ck_assert_int_eq(ns_tsv_column(t, "value"), 4);
    const char *layers[3] = {"rnn.ih", "rnn.hh", "fc0"}, *groups[3] = {"all", "3", "7"};
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 3; k++) {
            int sv = 0, rank = 0, bound = 0;
            for (size_t i = 0; i < t->nrows; i++) {
                if (strcmp(ns_tsv_get(t, i, 0), layers[l]) || strcmp(ns_tsv_get(t, i, 1), groups[k]))
                    continue;
                sv += !strcmp(ns_tsv_get(t, i, 2), "grad_sv");
                rank += !strcmp(ns_tsv_get(t, i, 2), "grad_rank");
                bound += !strcmp(ns_tsv_get(t, i, 2), "bound");
            }
            ck_assert_msg(sv >= 1 && rank == 1 && bound == 1, "%s %s: %d sv, %d rank, %d bound",
                          layers[l], groups[k], sv, rank, bound);
        }
    ns_tsv_free(t);
    ns_nn_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spectra_nn");
    TCase *tc = tcase_create("tap");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bounds_real_networks);
    tcase_add_test(tc, test_bounds_attained_real);
    tcase_add_test(tc, test_leaky_sweep_real);
    tcase_add_test(tc, test_tracker_end_to_end);
    tcase_add_test(tc, test_batch_writer);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
