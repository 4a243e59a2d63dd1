/* Neural networks: finite-difference gradient checks for every layer type and
 * activation with and without bias, the layer tap (D^T A = grad W, order,
 * gradient override), spec parsing errors, checkpoint round trips, training.
 * requires: models */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "ns_test.h"

static float *random_data(size_t count, uint64_t seed)
{
    ns_rng *r = ns_rng_create(seed);
    float *x = malloc(count * sizeof *x);
    for (size_t i = 0; i < count; i++)
        x[i] = (float)ns_rng_normal(r);
    ns_rng_free(r);
    return x;
}

static ns_nn *make_model(const char *spec, ns_nn_act act, int bias, int ndim, const size_t *shape,
                         int nclass, ns_nn_loss loss)
{
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    ck_assert_int_eq(ns_nn_spec_parse(spec, &cfg), NS_OK);
    cfg.act = act;
    cfg.act_slope = 0.2f;
    cfg.bias = bias;
    cfg.loss = loss;
    cfg.batch = 4;
    cfg.seed = 7;
    ns_nn *m;
    ck_assert_msg(ns_nn_create(&cfg, ndim, shape, nclass, &m) == NS_OK, "%s", ns_last_error());
    return m;
}

/* Central differences of the batch loss (float32 model, double loss) against
 * the backward pass, on up to 12 entries of every parameter tensor. */
static void fd_check(ns_nn *m, const float *X, const int32_t *y, size_t n, const char *what)
{
    double loss;
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, n, NULL, &loss), NS_OK);
    size_t np;
    float *theta = ns_nn_params(m, &np);
    float *g = malloc(np * sizeof *g);
    memcpy(g, ns_nn_grads(m, NULL), np * sizeof *g);
    const float eps = 3e-3f;
    for (size_t t = 0; t < ns_nn_param_count(m); t++) {
        ns_nn_param p = ns_nn_param_info(m, t);
        double scale = 0;
        for (size_t j = 0; j < p.count; j++)
            scale = fmax(scale, fabs(g[p.offset + j]));
        size_t stride = p.count > 12 ? p.count / 12 : 1;
        for (size_t j = 0; j < p.count; j += stride) {
            float *w = theta + p.offset + j, w0 = *w;
            double lp, lm;
            *w = w0 + eps;
            ns_nn_forward_backward(m, X, y, n, NULL, &lp);
            *w = w0 - eps;
            ns_nn_forward_backward(m, X, y, n, NULL, &lm);
            *w = w0;
            /* a ReLU kink inside [w - eps, w + eps] spoils the central
             * difference; one of the one-sided ones is then smooth */
            double fd = (lp - lm) / (2.0 * (double)eps), an = g[p.offset + j];
            double err = fabs(fd - an);
            err = fmin(err, fabs((lp - loss) / eps - an));
            err = fmin(err, fabs((loss - lm) / eps - an));
            ck_assert_msg(err <= 1e-2 * scale + 2e-4,
                          "%s: %s[%zu] analytic %.6g vs finite difference %.6g (scale %.3g)", what,
                          p.name, j, an, fd, scale);
        }
    }
    free(g);
}

static const char *fd_specs[] = {"mlp:", "mlp:6,5", "cnn1d:3k3s1", "cnn1d:3k3s2p1,4k2s1d2,5",
                                 "rnn:4", "gru:4", "lstm:4", "gru:3,5"};

START_TEST(test_fd_gradients)
{
    const char *spec = fd_specs[_i];
    int seq = strncmp(spec, "mlp", 3) != 0;
    size_t shape[2] = {seq ? 9 : 7, 2}, n = 5;
    float *X = random_data(n * shape[0] * shape[1], 11 + (uint64_t)_i);
    int32_t y[5] = {0, 1, 2, 1, 0};
    for (int act = NS_NN_LINEAR; act <= NS_NN_SIGMOID; act++)
        for (int bias = 0; bias <= 1; bias++) {
            ns_nn *m = make_model(spec, (ns_nn_act)act, bias, seq ? 2 : 1, shape, 3, NS_NN_CE);
            char what[128];
            snprintf(what, sizeof what, "%s %s bias=%d", spec, ns_nn_act_name((ns_nn_act)act), bias);
            fd_check(m, X, y, n, what);
            ns_nn_free(m);
        }
    free(X);
}
END_TEST

START_TEST(test_fd_losses_bptt)
{
    size_t shape[2] = {6, 2}, n = 5;
    float *X = random_data(n * 12, 3);
    int32_t y2[5] = {0, 1, 1, 0, 1}, y3[5] = {2, 1, 0, 2, 1};
    ns_nn *m = make_model("mlp:5", NS_NN_TANH, 1, 2, shape, 2, NS_NN_BCE);
    fd_check(m, X, y2, n, "bce");
    ns_nn_free(m);
    m = make_model("mlp:5", NS_NN_RELU, 1, 2, shape, 3, NS_NN_MSE);
    fd_check(m, X, y3, n, "mse");
    ns_nn_free(m);
    /* class weights, then truncated BPTT on each cell */
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    float cw[3] = {0.5f, 3.0f, 1.0f};
    cfg.class_weights = cw;
    cfg.nclass_weights = 3;
    ns_nn_spec_parse("mlp:4", &cfg);
    ck_assert_int_eq(ns_nn_create(&cfg, 2, shape, 3, &m), NS_OK);
    fd_check(m, X, y3, n, "class weights");
    ns_nn_free(m);
    free(X);
}
END_TEST

/* Truncated BPTT (cfg.bptt = K): the tap's delta rows of steps t < T-K are
 * zero, the others are not, and the gradient differs from full BPTT (the
 * exact values are checked against PyTorch in tests/peer). */
static ns_status tap_bptt(const ns_nn_tap_event *ev, void *user)
{
    int *bad = user;
    if (strncmp(ev->name, "rnn.", 4))
        return NS_OK;
    size_t T = ev->rows_per_sample;
    for (size_t r = 0; r < ev->D.rows; r++) {
        double s = 0;
        for (size_t j = 0; j < ev->D.cols; j++)
            s += fabs(NS_AT(&ev->D, r, j));
        int truncated = r % T < T - 2;
        *bad += truncated ? s != 0 : s == 0;
    }
    return NS_OK;
}

START_TEST(test_bptt_truncation)
{
    const char *rec[] = {"rnn:4", "gru:4", "lstm:4"};
    size_t shape[2] = {6, 2}, n = 5;
    float *X = random_data(n * 12, 3);
    int32_t y[5] = {2, 1, 0, 2, 1};
    for (int k = 0; k < 3; k++) {
        ns_nn_config cfg;
        ns_nn_config_default(&cfg);
        ns_nn_spec_parse(rec[k], &cfg);
        ns_nn *full, *trunc;
        ck_assert_int_eq(ns_nn_create(&cfg, 2, shape, 3, &full), NS_OK);
        cfg.bptt = 2;
        ck_assert_int_eq(ns_nn_create(&cfg, 2, shape, 3, &trunc), NS_OK);
        int bad = 0;
        ns_nn_tap_subscribe(trunc, tap_bptt, &bad);
        double l1, l2;
        ck_assert_int_eq(ns_nn_forward_backward(full, X, y, n, NULL, &l1), NS_OK);
        ck_assert_int_eq(ns_nn_forward_backward(trunc, X, y, n, NULL, &l2), NS_OK);
        ck_assert_int_eq(bad, 0);
        ck_assert(l1 == l2); /* same forward pass */
        size_t np;
        float *g1 = ns_nn_grads(full, &np), *g2 = ns_nn_grads(trunc, NULL);
        double diff = 0;
        for (size_t i = 0; i < np; i++)
            diff += fabs(g1[i] - g2[i]);
        ck_assert_msg(diff > 1e-6, "%s: truncation changed nothing", rec[k]);
        ns_nn_free(full);
        ns_nn_free(trunc);
    }
    free(X);
}
END_TEST

START_TEST(test_spec_parse)
{
    ns_nn_config c;
    ns_nn_config_default(&c);
    ck_assert_int_eq(ns_nn_spec_parse("mlp:256,64", &c), NS_OK);
    ck_assert(c.arch == NS_NN_MLP && c.ndense == 2 && c.dense[0] == 256 && c.dense[1] == 64);
    ck_assert_int_eq(ns_nn_spec_parse("cnn1d:16k5s2,32k3s1p1d2,8", &c), NS_OK);
    ck_assert(c.arch == NS_NN_CNN1D && c.nconv == 2 && c.ndense == 1 && c.dense[0] == 8);
    ck_assert(c.conv[0].channels == 16 && c.conv[0].kernel == 5 && c.conv[0].stride == 2 &&
              c.conv[0].padding == 0 && c.conv[0].dilation == 1);
    ck_assert(c.conv[1].channels == 32 && c.conv[1].kernel == 3 && c.conv[1].stride == 1 &&
              c.conv[1].padding == 1 && c.conv[1].dilation == 2);
    char buf[256];
    ns_nn_spec_format(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "cnn1d:16k5s2p0d1,32k3s1p1d2,8");
    ck_assert_int_eq(ns_nn_spec_parse("gru:128", &c), NS_OK);
    ck_assert(c.arch == NS_NN_GRU && c.hidden == 128 && c.ndense == 0);
    ck_assert_int_eq(ns_nn_spec_parse("lstm:32,16", &c), NS_OK);
    ck_assert(c.arch == NS_NN_LSTM && c.hidden == 32 && c.ndense == 1 && c.dense[0] == 16);
    ck_assert_int_eq(ns_nn_spec_parse("mlp", &c), NS_OK);
    ck_assert(c.arch == NS_NN_MLP && c.ndense == 0);
    static const char *bad[] = {"", "foo:3", "mlp:0", "mlp:a", "mlp:3,", "mlp:3,,4", "mlp:16k3",
                                "cnn1d:", "cnn1d:16", "cnn1d:16k0", "cnn1d:16k3x2", "cnn1d:k3",
                                "cnn1d:8,16k3", "cnn1d:16k3s0", "gru", "gru:", "lstm:-1",
                                "rnn:4k3", "mlp:99999999999", "cnn1d:4k3s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_nn_config d = c;
        ck_assert_msg(ns_nn_spec_parse(bad[i], &d) == NS_ERR_ARG, "'%s' accepted", bad[i]);
        ck_assert_msg(!memcmp(&d, &c, sizeof c), "'%s' changed the config on failure", bad[i]);
        if (bad[i][0])
            ck_assert_msg(strstr(ns_last_error(), bad[i]) != NULL, "message '%s' misses the spec",
                          ns_last_error());
    }
    ns_nn_act a;
    float slope = 0;
    ck_assert_int_eq(ns_nn_act_parse("leaky:0.3", &a, &slope), NS_OK);
    ck_assert(a == NS_NN_LEAKY && fabsf(slope - 0.3f) < 1e-7f);
    ck_assert_int_eq(ns_nn_act_parse("leaky", &a, &slope), NS_OK);
    ck_assert(fabsf(slope - 0.01f) < 1e-7f);
    ck_assert_int_eq(ns_nn_act_parse("leaky:x", &a, &slope), NS_ERR_ARG);
    ck_assert_int_eq(ns_nn_act_parse("gelu", &a, &slope), NS_ERR_ARG);
    ns_nn_opt o;
    ns_nn_loss l;
    ck_assert_int_eq(ns_nn_opt_parse("adamw", &o), NS_OK);
    ck_assert_int_eq(ns_nn_opt_parse("rmsprop", &o), NS_ERR_ARG);
    ck_assert_int_eq(ns_nn_loss_parse("bce", &l), NS_OK);
    ck_assert_int_eq(ns_nn_loss_parse("hinge", &l), NS_ERR_ARG);
}
END_TEST

START_TEST(test_create_errors)
{
    ns_nn_config c;
    ns_nn *m = NULL;
    size_t shape[2] = {4, 2};
    ns_nn_config_default(&c);
    ns_nn_spec_parse("cnn1d:3k9", &c);
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 2, &m), NS_ERR_ARG); /* kernel > length */
    ck_assert_ptr_null(m);
    ns_nn_spec_parse("cnn1d:3k3p3d2", &c);
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 2, &m), NS_OK); /* padding makes room */
    ck_assert_int_eq(ns_nn_layer_info(m, 0).rows_per_sample, 4 + 6 - 4 - 1 + 1);
    ns_nn_free(m);
    ns_nn_spec_parse("mlp:3", &c);
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 1, &m), NS_ERR_ARG);
    c.loss = NS_NN_BCE;
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &m), NS_ERR_ARG);
    c.loss = NS_NN_CE;
    c.dropout = 1.0f;
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &m), NS_ERR_ARG);
    c.dropout = 0;
    float cw[2] = {1, 2};
    c.class_weights = cw;
    c.nclass_weights = 2;
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &m), NS_ERR_ARG);
    c.class_weights = NULL;
    size_t zero[2] = {0, 2};
    ck_assert_int_eq(ns_nn_create(&c, 2, zero, 3, &m), NS_ERR_ARG);
    ns_nn_free(NULL);
}
END_TEST

/* Names and shapes in state_dict order; save, load into a model with other
 * initial weights, identical predictions; shape, missing and extra errors. */
START_TEST(test_checkpoint_roundtrip)
{
    static const char *specs[] = {"mlp:5,4", "cnn1d:3k3s2,4k2", "gru:6,3", "lstm:5", "rnn:4"};
    static const char *first[] = {"fc0.weight", "conv0.weight", "rnn.weight_ih_l0",
                                  "rnn.weight_ih_l0", "rnn.weight_ih_l0"};
    size_t shape[2] = {8, 3}, n = 6;
    float *X = random_data(n * 24, 5);
    char path[600];
    for (int s = 0; s < 5; s++) {
        ns_nn_config c;
        ns_nn_config_default(&c);
        ns_nn_spec_parse(specs[s], &c);
        ns_nn *a, *b;
        ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &a), NS_OK);
        c.seed = 99;
        ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &b), NS_OK);
        ck_assert_str_eq(ns_nn_param_info(a, 0).name, first[s]);
        snprintf(path, sizeof path, "%s/ck%d.npz", ns_test_tmpdir(), s);
        ck_assert_int_eq(ns_nn_save(a, path), NS_OK);
        float pa[18], pb[18];
        ns_nn_predict(a, X, n, pa);
        ns_nn_predict(b, X, n, pb);
        ck_assert(memcmp(pa, pb, sizeof pa) != 0);
        ck_assert_msg(ns_nn_load(b, path) == NS_OK, "%s", ns_last_error());
        ns_nn_predict(b, X, n, pb);
        ck_assert(memcmp(pa, pb, sizeof pa) == 0);
        for (int i = 0; i < 6; i++)
            ck_assert(fabsf(pa[3 * i] + pa[3 * i + 1] + pa[3 * i + 2] - 1.0f) < 1e-5f);
        ns_nn_free(a);
        ns_nn_free(b);
    }
    /* a checkpoint of another architecture fails with the parameter's name */
    ns_nn_config c;
    ns_nn_config_default(&c);
    ns_nn_spec_parse("gru:7,3", &c);
    ns_nn *m;
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &m), NS_OK);
    snprintf(path, sizeof path, "%s/ck2.npz", ns_test_tmpdir());
    ck_assert_int_eq(ns_nn_load(m, path), NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "rnn.weight_ih_l0"));
    ns_nn_free(m);
    ns_nn_spec_parse("mlp:5", &c);
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &m), NS_OK);
    snprintf(path, sizeof path, "%s/ck0.npz", ns_test_tmpdir());
    ck_assert_int_eq(ns_nn_load(m, path), NS_ERR_DATA); /* fc1.* unexpected */
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "fc"));
    c.bias = 0;
    ns_nn_free(m);
    ns_nn_spec_parse("mlp:5,4", &c);
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 3, &m), NS_OK);
    ck_assert_int_eq(ns_nn_load(m, path), NS_ERR_DATA); /* fc0.bias unexpected */
    ns_nn_free(m);
    free(X);
}
END_TEST

typedef struct {
    int calls;
    char order[16][32];
    double max_err;      /* |D^T A - gW| / max |gW| */
    const char *zero_layer;
    size_t rows[16];
} tap_log;

static ns_status tap_record(const ns_nn_tap_event *ev, void *user)
{
    tap_log *t = user;
    if (t->calls < 16) {
        snprintf(t->order[t->calls], 32, "%s", ev->name);
        t->rows[t->calls] = ev->A.rows;
    }
    t->calls++;
    double scale = 0, err = 0;
    for (size_t i = 0; i < ev->gW.rows; i++)
        for (size_t j = 0; j < ev->gW.cols; j++) {
            double s = 0;
            for (size_t r = 0; r < ev->A.rows; r++)
                s += (double)NS_AT(&ev->D, r, i) * NS_AT(&ev->A, r, j);
            scale = fmax(scale, fabs(NS_AT(&ev->gW, i, j)));
            err = fmax(err, fabs(s - NS_AT(&ev->gW, i, j)));
        }
    t->max_err = fmax(t->max_err, err / (scale > 0 ? scale : 1));
    ck_assert(ev->sample_idx != NULL && ev->A.rows == ev->nsamples * ev->rows_per_sample);
    if (t->zero_layer && !strcmp(ev->name, t->zero_layer)) { /* gradient override */
        for (size_t i = 0; i < ev->gW.rows * ev->gW.cols; i++)
            ev->gW.data[i] = 0;
    }
    return NS_OK;
}

static ns_status tap_fail(const ns_nn_tap_event *ev, void *user)
{
    return ns_error(NS_ERR_IO, "subscriber failed (%s)", ev->name);
}

START_TEST(test_tap)
{
    size_t shape[2] = {7, 2}, n = 3;
    float *X = random_data(n * 14, 8);
    int32_t y[3] = {0, 1, 1};
    /* order and rows: gru then two dense layers; conv */
    ns_nn *m = make_model("gru:4,3", NS_NN_TANH, 1, 2, shape, 2, NS_NN_CE);
    ck_assert_int_eq(ns_nn_layer_count(m), 4);
    ck_assert_str_eq(ns_nn_layer_info(m, 0).name, "rnn.ih");
    ck_assert_str_eq(ns_nn_layer_info(m, 0).bias_name, "rnn.bias_ih_l0");
    ck_assert_str_eq(ns_nn_layer_info(m, 1).bias_name, "rnn.bias_hh_l0");
    tap_log t = {0};
    t.zero_layer = "fc0";
    int id = ns_nn_tap_subscribe(m, tap_record, &t);
    ck_assert_int_ge(id, 0);
    double loss;
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, n, NULL, &loss), NS_OK);
    ck_assert_int_eq(t.calls, 4);
    ck_assert_str_eq(t.order[0], "fc1");
    ck_assert_str_eq(t.order[1], "fc0");
    ck_assert_str_eq(t.order[2], "rnn.hh");
    ck_assert_str_eq(t.order[3], "rnn.ih");
    ck_assert_int_eq(t.rows[2], n * 7);
    ck_assert_msg(t.max_err < 1e-5, "D^T A vs grad W: %g", t.max_err);
    /* the override stuck, the layers below still got their gradients */
    float *g = ns_nn_grads(m, NULL);
    for (size_t i = 0; i < ns_nn_param_count(m); i++) {
        ns_nn_param p = ns_nn_param_info(m, i);
        double s = 0;
        for (size_t j = 0; j < p.count; j++)
            s += fabs(g[p.offset + j]);
        if (!strcmp(p.name, "fc0.weight"))
            ck_assert(s == 0);
        else
            ck_assert_msg(s > 0, "%s has a zero gradient", p.name);
    }
    ns_nn_tap_unsubscribe(m, id);
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, n, NULL, &loss), NS_OK);
    ck_assert_int_eq(t.calls, 4); /* nobody subscribed: no calls */
    /* a failing subscriber aborts the step with its status */
    ns_nn_tap_subscribe(m, tap_fail, NULL);
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, n, NULL, &loss), NS_ERR_IO);
    ns_nn_free(m);
    m = make_model("cnn1d:3k3s2p1,4k2", NS_NN_RELU, 0, 2, shape, 2, NS_NN_CE);
    memset(&t, 0, sizeof t);
    ns_nn_tap_subscribe(m, tap_record, &t);
    size_t idx[3] = {10, 20, 30};
    ck_assert_int_eq(ns_nn_forward_backward(m, X, y, n, idx, &loss), NS_OK);
    ck_assert_int_eq(t.calls, 3);
    ck_assert_str_eq(t.order[1], "conv1");
    ck_assert_int_eq(t.rows[1], n * 3); /* P = (4 - 1 - 1)/1 + 1 */
    ck_assert_int_eq(t.rows[2], n * 4); /* P = (7 + 2 - 2 - 1)/2 + 1 */
    ck_assert_msg(t.max_err < 1e-5, "conv: D^T A vs grad W: %g", t.max_err);
    ns_nn_free(m);
    free(X);
}
END_TEST

/* Two Gaussian blobs: fit separates them; same seed, same weights. */
START_TEST(test_fit)
{
    size_t n = 200, F = 6, shape[1] = {F};
    float *X = random_data(n * F, 21);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % 2);
        X[i * F] += y[i] ? 2.0f : -2.0f;
        X[i * F + 1] += y[i] ? 1.5f : -1.5f;
    }
    ns_nn_config c;
    ns_nn_config_default(&c);
    ns_nn_spec_parse("mlp:16", &c);
    c.epochs = 30;
    c.batch = 16;
    c.lr = 0.01;
    c.val_fraction = 0.25;
    c.patience = 5;
    c.dropout = 0.1f;
    c.seed = 3;
    ns_nn *a, *b;
    ck_assert_int_eq(ns_nn_create(&c, 1, shape, 2, &a), NS_OK);
    ck_assert_int_eq(ns_nn_create(&c, 1, shape, 2, &b), NS_OK);
    ck_assert_int_eq(ns_nn_fit(a, X, y, n, NULL, NULL, 0), NS_OK);
    ck_assert_int_eq(ns_nn_fit(b, X, y, n, NULL, NULL, 0), NS_OK);
    size_t np, ne;
    const float *pa = ns_nn_params(a, &np);
    ck_assert(!memcmp(pa, ns_nn_params(b, NULL), np * sizeof(float)));
    const ns_nn_epoch_stats *h = ns_nn_history(a, &ne);
    ck_assert(ne >= 1 && ne <= 30);
    ck_assert(h[ne - 1].train_loss < h[0].train_loss);
    ck_assert(isfinite(h[0].val_loss) && h[ne - 1].val_acc > 0.9);
    double loss, acc;
    ck_assert_int_eq(ns_nn_evaluate(a, X, y, n, &loss, &acc), NS_OK);
    ck_assert_msg(acc > 0.9, "accuracy %g", acc);
    /* evaluation mode ignores dropout: predictions are repeatable */
    float p1[8], p2[8];
    ns_nn_predict(a, X, 4, p1);
    ns_nn_predict(a, X, 4, p2);
    ck_assert(!memcmp(p1, p2, sizeof p1));
    /* a batch larger than the workspace grows it */
    ck_assert_int_eq(ns_nn_forward_backward(a, X, y, n, NULL, &loss), NS_OK);
    ck_assert(isfinite(loss));
    /* labels outside the classes are data errors */
    y[5] = 2;
    ck_assert_int_eq(ns_nn_forward_backward(a, X, y, 8, NULL, &loss), NS_ERR_DATA);
    y[5] = 1;
    /* a non-finite loss: one pass states it, without advice (nothing was
     * trained); training advises the learning rate and says when */
    float *wb = ns_nn_params(b, &np);
    for (size_t i = 0; i < np; i++) /* logits overflow */
        wb[i] = 3e38f;
    ck_assert_int_eq(ns_nn_forward_backward(b, X, y, 8, NULL, &loss), NS_ERR_NUMERIC);
    ck_assert_msg(strstr(ns_last_error(), "not finite") && !strstr(ns_last_error(), "learning"),
                  "%s", ns_last_error());
    c.lr = 1e30;
    c.opt = NS_NN_SGD;
    c.val_fraction = 0;
    ns_nn *d;
    ck_assert_int_eq(ns_nn_create(&c, 1, shape, 2, &d), NS_OK);
    ck_assert_int_eq(ns_nn_fit(d, X, y, n, NULL, NULL, 0), NS_ERR_NUMERIC);
    ck_assert_msg(strstr(ns_last_error(), "lower the learning rate (epoch ") &&
                      strstr(ns_last_error(), ", training)"),
                  "%s", ns_last_error());
    ns_nn_free(d);
    ns_nn_free(a);
    ns_nn_free(b);
    free(X);
    free(y);
}
END_TEST

/* A recurrent model learns which half of the sequence carries a pulse. */
START_TEST(test_fit_recurrent)
{
    size_t n = 96, T = 10, shape[2] = {T, 1};
    float *X = random_data(n * T, 4);
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % 2);
        for (size_t t = 0; t < T; t++)
            X[i * T + t] *= 0.1f;
        X[i * T + (y[i] ? 7 : 2)] += 2.0f;
    }
    ns_nn_config c;
    ns_nn_config_default(&c);
    ns_nn_spec_parse("gru:8", &c);
    c.epochs = 40;
    c.batch = 16;
    c.lr = 0.02;
    c.clip = 1.0;
    ns_nn *m;
    ck_assert_int_eq(ns_nn_create(&c, 2, shape, 2, &m), NS_OK);
    ck_assert_int_eq(ns_nn_fit(m, X, y, n, X, y, n), NS_OK);
    double acc;
    ck_assert_int_eq(ns_nn_evaluate(m, X, y, n, NULL, &acc), NS_OK);
    ck_assert_msg(acc > 0.9, "accuracy %g", acc);
    ns_nn_free(m);
    free(X);
    free(y);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("models_nn");
    TCase *tc = tcase_create("nn");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_fd_gradients, 0, (int)(sizeof fd_specs / sizeof fd_specs[0]));
    tcase_add_test(tc, test_fd_losses_bptt);
    tcase_add_test(tc, test_bptt_truncation);
    tcase_add_test(tc, test_spec_parse);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_checkpoint_roundtrip);
    tcase_add_test(tc, test_tap);
    tcase_add_test(tc, test_fit);
    tcase_add_test(tc, test_fit_recurrent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ns_test_run(suite()); }
