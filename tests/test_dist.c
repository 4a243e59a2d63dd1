/* requires: dist models spectra */
/* The parts of distributed training that need no MPI launch: method specs,
 * the byte formulas, the scaling rule (weighted site-mean gradients of a
 * real network sum to the pooled mean-loss gradient, class weights and
 * unequal sizes included), batch chunks and site splits, and edAD's
 * recomputed deltas against the deltas the network's own backward pass
 * hands the tap, for MLP / conv1d / RNN / GRU / LSTM with dropout, padding,
 * dilation and truncated BPTT. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ns_test.h"

#ifndef NS_DIST_WITHOUT_MPI
#include "dist/dist.h"

/* ------------------------------------------------------------ methods */

START_TEST(test_method_parse)
{
    ns_dist_method m;
    char buf[96];
    ck_assert_int_eq(ns_dist_method_parse("dad", &m), NS_OK);
    ck_assert_int_eq(m.kind, NS_DIST_DAD);
    ck_assert_int_eq(ns_dist_method_parse("rankdad:3:twoway:iters=7", &m), NS_OK);
    ck_assert(m.kind == NS_DIST_RANKDAD && m.rank == 3 && m.twoway == 1 && m.iters == 7);
    ns_dist_method_format(&m, buf, sizeof buf);
    ck_assert_str_eq(buf, "rankdad:3:twoway:iters=7");
    ck_assert_int_eq(ns_dist_method_parse("rankdad:2", &m), NS_OK);
    ck_assert(m.rank == 2 && m.twoway == 0 && m.iters == 10);
    ck_assert_int_eq(ns_dist_method_parse("powersgd:4", &m), NS_OK);
    ck_assert(m.kind == NS_DIST_POWERSGD && m.rank == 4 && fabs(m.warmup - 0.1) < 1e-12);
    const char *bad[] = {"", "sgd", "rankdad", "rankdad:0", "rankdad:x", "dad:2",
                         "rankdad:2:threeway", "powersgd:2:twoway", "rankdad:2:iters=0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ns_dist_method_parse(bad[i], &m), NS_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(ns_last_error(), "("));
    }
}
END_TEST

START_TEST(test_byte_formulas)
{
    ns_dist_method m = {NS_DIST_DSGD, 0, 0, 10, 0.1};
    ns_dist_layer_shape l = {10, 4, 8, 1, 0}; /* h_in 10, h_out 4, 8 rows, bias */
    ck_assert_uint_eq(ns_dist_dsgd_bytes(&l), 4 * (40 + 4));
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 176);
    m.kind = NS_DIST_DAD;
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 4 * 8 * 14);
    m.kind = NS_DIST_EDAD;
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 4 * 8 * 10);
    l.output = 1;
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 4 * 8 * 14);
    m.kind = NS_DIST_RANKDAD, m.rank = 2;
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 4 * (2 * 14 + 4));
    m.rank = 9; /* capped at min(h_in, h_out) = 4 */
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 4 * (4 * 14 + 4));
    m.rank = 2;
    m.kind = NS_DIST_POWERSGD;
    ck_assert(ns_dist_powersgd_compresses(&m, &l)); /* 28 < 40 */
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 4 * (2 * 14 + 4));
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 1), 176); /* warm-up: as dsgd */
    m.rank = 3; /* 42 >= 40: sent uncompressed */
    ck_assert(!ns_dist_powersgd_compresses(&m, &l));
    ck_assert_uint_eq(ns_dist_message_bytes(&m, &l, 0), 176);
    ck_assert_int_eq(ns_dist_warmup_steps(&m, 50), 5);
    ck_assert_int_eq(ns_dist_warmup_steps(&m, 51), 6);
    m.kind = NS_DIST_DAD;
    ck_assert_int_eq(ns_dist_warmup_steps(&m, 50), 0);
}
END_TEST

START_TEST(test_chunks_and_sites)
{
    size_t sizes[3] = {30, 18, 7}, total = 55;
    size_t K = ns_dist_steps_per_epoch(total, 16);
    ck_assert_uint_eq(K, 4);
    for (size_t s = 0; s < 3; s++) {
        size_t prev = 0;
        for (size_t k = 0; k < K; k++) {
            size_t b, e;
            ns_dist_chunk(sizes[s], K, k, &b, &e);
            ck_assert_uint_eq(b, prev); /* consecutive, covering every row once */
            ck_assert(e - b == sizes[s] / K || e - b == sizes[s] / K + 1);
            prev = e;
        }
        ck_assert_uint_eq(prev, sizes[s]);
    }
    int site[10];
    ns_dist_sites_even(10, 3, site);
    int want[10] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(site[i], want[i]);
    ck_assert_int_eq(ns_dist_site_rank(4, 3), 1);
}
END_TEST

START_TEST(test_sites_from_tsv)
{
    char path[600];
    snprintf(path, sizeof path, "%s/participants.tsv", ns_test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("participant_id\tsite\nsub-01\tzeta\nsub-02\talpha\n03\tzeta\nsub-04\tn/a\n", f);
    fclose(f);
    const char *ids[] = {"sub-01", "02", "sub-03"};
    int *site = NULL, nsites = 0;
    char **names = NULL;
    ck_assert_int_eq(ns_dist_sites_from_tsv(path, "site", ids, 3, &site, &names, &nsites), NS_OK);
    ck_assert_int_eq(nsites, 2);
    ck_assert_str_eq(names[0], "alpha");
    ck_assert(site[0] == 1 && site[1] == 0 && site[2] == 1);
    for (int i = 0; i < nsites; i++)
        free(names[i]);
    free(names), free(site);
    const char *ids2[] = {"sub-04"};
    ck_assert_int_eq(ns_dist_sites_from_tsv(path, "site", ids2, 1, &site, &names, &nsites),
                     NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "sub-04"));
}
END_TEST

/* --------------------------------------------------------- networks */

static ns_nn *make(const char *spec, size_t T, size_t C, int dropout, int bptt, ns_nn_act act,
                   const float *cw)
{
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    ck_assert_int_eq(ns_nn_spec_parse(spec, &cfg), NS_OK);
    cfg.dropout = dropout ? 0.3f : 0.0f;
    cfg.bptt = bptt;
    cfg.act = act;
    cfg.seed = 11;
    cfg.class_weights = cw;
    cfg.nclass_weights = cw ? 3 : 0;
    ns_nn *m = NULL;
    size_t shape[2] = {T, C};
    ck_assert_int_eq(ns_nn_create(&cfg, 2, shape, 3, &m), NS_OK);
    return m;
}

static void data(size_t n, size_t size, float *x, int32_t *y, uint64_t seed)
{
    ns_rng *r = ns_rng_create(seed);
    for (size_t i = 0; i < n * size; i++)
        x[i] = (float)ns_rng_normal(r);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)ns_rng_below(r, 3);
    ns_rng_free(r);
}

static double rel(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++)
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), den += (double)b[i] * b[i];
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Weighted site-mean gradients sum to the pooled batch-mean gradient. */
static void check_scaling(const char *spec, const float *cw)
{
    ns_nn *m = make(spec, 8, 2, 0, 0, NS_NN_TANH, cw);
    size_t n = 23, size = ns_nn_input_size(m), np;
    float *x = malloc(n * size * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    data(n, size, x, y, 5);
    double loss;
    ck_assert_int_eq(ns_nn_forward_backward(m, x, y, n, NULL, &loss), NS_OK);
    float *g = ns_nn_grads(m, &np), *pooled = malloc(np * sizeof *pooled);
    float *sum = calloc(np, sizeof *sum);
    memcpy(pooled, g, np * sizeof *g);
    size_t cut[4] = {0, 12, 19, 23}; /* unequal sites: 12, 7, 4 */
    double den_total = ns_dist_loss_denominator(m, y, n);
    for (int s = 0; s < 3; s++) {
        size_t ns = cut[s + 1] - cut[s];
        ck_assert_int_eq(ns_nn_forward_backward(m, x + cut[s] * size, y + cut[s], ns, NULL, &loss),
                         NS_OK);
        double w = ns_dist_site_weight(ns_dist_loss_denominator(m, y + cut[s], ns), den_total);
        for (size_t i = 0; i < np; i++)
            sum[i] += (float)w * g[i];
    }
    ck_assert_double_lt(rel(sum, pooled, np), 1e-5);
    free(x), free(y), free(pooled), free(sum);
    ns_nn_free(m);
}

START_TEST(test_scaling_rule)
{
    check_scaling("mlp:7", NULL);
    float cw[3] = {0.5f, 2.0f, 1.25f}; /* den = sum of the class weights */
    check_scaling("gru:5", cw);
    check_scaling("cnn1d:3k3", cw);
}
END_TEST

/* ------------------------------------------------------------- edAD */

typedef struct {
    ns_matrix A[2 * NS_NN_MAXLAYERS + 3], D[2 * NS_NN_MAXLAYERS + 3];
} capture;

static ns_status cap(const ns_nn_tap_event *ev, void *user)
{
    capture *c = user;
    ns_matrix *a = ns_matrix_copy(&ev->A), *d = ns_matrix_copy(&ev->D);
    ck_assert(a && d);
    c->A[ev->layer] = *a, c->D[ev->layer] = *d; /* keep the data, drop the headers */
    free(a), free(d);
    return NS_OK;
}

static void check_edad(const char *spec, size_t T, size_t C, int dropout, int bptt,
                       ns_nn_act act)
{
    ns_nn *m = make(spec, T, C, dropout, bptt, act, NULL);
    size_t n = 9, size = ns_nn_input_size(m), nl = ns_nn_layer_count(m);
    float *x = malloc(n * size * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    data(n, size, x, y, 3);
    capture c;
    memset(&c, 0, sizeof c);
    int id = ns_nn_tap_subscribe(m, cap, &c);
    double loss;
    ck_assert_int_eq(ns_nn_forward_backward(m, x, y, n, NULL, &loss), NS_OK);
    ns_nn_tap_unsubscribe(m, id);
    ns_matrix D[2 * NS_NN_MAXLAYERS + 3];
    for (size_t i = 0; i < nl; i++) {
        ns_matrix *d = ns_matrix_create(c.D[i].rows, c.D[i].cols);
        D[i] = *d;
        free(d);
    }
    ck_assert_int_eq(ns_dist_edad_deltas(m, c.A, &c.D[nl - 1], n, D), NS_OK);
    for (size_t i = 0; i < nl; i++) {
        double e = rel(D[i].data, c.D[i].data, D[i].rows * D[i].cols);
        ck_assert_msg(e < 1e-5, "%s layer %s: recomputed delta off by %.3g", spec,
                      ns_nn_layer_info(m, i).name, e);
        free(D[i].data), free(c.A[i].data), free(c.D[i].data);
    }
    free(x), free(y);
    ns_nn_free(m);
}

START_TEST(test_edad_deltas)
{
    check_edad("mlp:16,8", 4, 3, 0, 0, NS_NN_RELU);
    check_edad("mlp:16,8", 4, 3, 1, 0, NS_NN_RELU);
    check_edad("mlp:10,6", 4, 3, 1, 0, NS_NN_TANH);
    check_edad("mlp:10", 4, 3, 1, 0, NS_NN_SIGMOID);
    check_edad("mlp:10", 4, 3, 0, 0, NS_NN_LEAKY);
    check_edad("cnn1d:4k3s2p1,5k3d2,6", 20, 2, 0, 0, NS_NN_RELU);
    check_edad("cnn1d:4k3s2p1,5k3d2,6", 20, 2, 1, 0, NS_NN_TANH);
    check_edad("cnn1d:3k5", 12, 1, 1, 0, NS_NN_LEAKY);
    check_edad("rnn:5", 7, 3, 1, 0, NS_NN_RELU);
    check_edad("gru:6,4", 9, 2, 0, 0, NS_NN_RELU);
    check_edad("gru:6", 9, 2, 1, 4, NS_NN_RELU);
    check_edad("lstm:5", 8, 3, 0, 0, NS_NN_RELU);
    check_edad("lstm:5,3", 8, 3, 1, 3, NS_NN_SIGMOID);
}
END_TEST

START_TEST(test_edad_errors)
{
    ns_nn *m = make("mlp:4", 3, 2, 0, 0, NS_NN_RELU, NULL);
    ns_matrix A[2], D[2];
    float buf[64] = {0};
    A[0] = ns_matrix_view(buf, 2, 6, 6), A[1] = ns_matrix_view(buf, 2, 4, 4);
    D[0] = ns_matrix_view(buf, 2, 4, 4), D[1] = ns_matrix_view(buf, 2, 3, 3);
    ns_matrix bad = ns_matrix_view(buf, 3, 3, 3); /* 3 rows for 2 samples */
    ck_assert_int_eq(ns_dist_edad_deltas(m, A, &bad, 2, D), NS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "edad"));
    ns_nn_free(m);
}
END_TEST

static void add_tests(TCase *t)
{
    tcase_add_test(t, test_method_parse);
    tcase_add_test(t, test_byte_formulas);
    tcase_add_test(t, test_chunks_and_sites);
    tcase_add_test(t, test_sites_from_tsv);
    tcase_add_test(t, test_scaling_rule);
    tcase_add_test(t, test_edad_deltas);
    tcase_add_test(t, test_edad_errors);
}

#else /* a build without MPI has no dist/ sources: the command must say why */

START_TEST(test_no_mpi)
{
    const char *bin = getenv("NS_BIN");
    ck_assert_ptr_nonnull(bin);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' train x.tsv --labels p.tsv --target dx -o o --dist dad 2>&1 "
             "| grep -q 'needs neurospectra built with MPI'", bin);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' train x.tsv --labels p.tsv --target dx -o o --dist dad "
             "2>/dev/null", bin);
    int rc = system(cmd);
    ck_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}
END_TEST

static void add_tests(TCase *t)
{
    tcase_add_test(t, test_no_mpi);
}
#endif

static Suite *suite(void)
{
    Suite *s = suite_create("dist");
    TCase *t = tcase_create("pieces");
    tcase_set_timeout(t, 60);
    add_tests(t);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return ns_test_run(suite());
}
