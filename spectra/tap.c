/* requires: models */
/* The spectra module on the models' layer tap: the training subscriber,
 * the CV glue for neurospectra train, the one-batch collector for
 * neurospectra grad, and the architecture of a model for the bounds. */
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

_Static_assert((int)NS_NN_LSTM == (int)NS_SPECTRA_LSTM && (int)NS_NN_CNN1D == (int)NS_SPECTRA_CNN1D,
               "architecture enums differ");
_Static_assert((int)NS_NN_SIGMOID == (int)NS_SPECTRA_SIGMOID && (int)NS_NN_LEAKY == (int)NS_SPECTRA_LEAKY,
               "activation enums differ");
_Static_assert((int)NS_NN_MSE == (int)NS_SPECTRA_MSE && (int)NS_NN_BCE == (int)NS_SPECTRA_BCE,
               "loss enums differ");

static ns_spectra_layer layer_of(const ns_nn_tap_event *ev)
{
    return (ns_spectra_layer){.name = ev->name, .A = &ev->A, .D = &ev->D,
                              .nsamples = ev->nsamples, .rows_per_sample = ev->rows_per_sample,
                              .sample_idx = ev->sample_idx, .step = ev->step, .epoch = ev->epoch};
}

static ns_status on_tap(const ns_nn_tap_event *ev, void *user)
{
    ns_spectra_layer l = layer_of(ev);
    return ns_spectra_tracker_layer(user, &l);
}

static ns_status on_tap_batch(const ns_nn_tap_event *ev, void *user)
{
    ns_spectra_layer l = layer_of(ev);
    return ns_spectra_batch_layer(user, &l);
}

ns_status ns_spectra_arch_from_nn(const ns_nn *m, ns_spectra_arch *a)
{
    const ns_nn_config *c = ns_nn_get_config(m);
    ns_nn_layer l0 = ns_nn_layer_info(m, 0);
    size_t in = ns_nn_input_size(m);
    ns_spectra_arch_default(a);
    a->kind = (ns_spectra_kind)c->arch; /* same order: mlp, cnn1d, rnn, gru, lstm */
    a->act = (ns_spectra_act)c->act;    /* same order: linear, relu, leaky, tanh, sigmoid */
    a->slope = c->act_slope;
    a->bias = c->bias;
    a->loss = (ns_spectra_loss)c->loss; /* same order: ce, bce, mse */
    a->nclass = ns_nn_nclass(m);
    a->bptt = c->bptt;
    a->hidden = c->hidden;
    a->ndense = c->ndense;
    memcpy(a->dense, c->dense, sizeof a->dense);
    a->nconv = c->nconv;
    for (int i = 0; i < c->nconv; i++)
        a->conv[i] = (ns_spectra_conv){c->conv[i].channels, c->conv[i].kernel, c->conv[i].stride,
                                       c->conv[i].padding, c->conv[i].dilation};
    /* the sample shape from the first weight layer: C = its input channels */
    size_t C = c->arch == NS_NN_MLP ? in : c->arch == NS_NN_CNN1D ? l0.h_in / (size_t)c->conv[0].kernel
                                                                   : l0.h_in;
    if (!C || in % C)
        return ns_error(NS_ERR_INTERNAL, "cannot recover the input shape (%zu values, %zu channels)",
                        in, C);
    a->in_features = C;
    a->seq_len = c->arch == NS_NN_MLP ? 0 : in / C;
    return NS_OK;
}

ns_status ns_spectra_attach(ns_spectra_tracker *t, ns_nn *m, int *sub)
{
    ns_spectra_arch a;
    ns_status s = ns_spectra_arch_from_nn(m, &a);
    if (s != NS_OK)
        return s;
    ns_spectra_tracker_set_arch(t, &a);
    *sub = ns_nn_tap_subscribe(m, on_tap, t);
    return *sub < 0 ? ns_error(NS_ERR_ARG, "no free layer-tap slot (spectra)") : NS_OK;
}

void ns_spectra_detach(ns_nn *m, int sub)
{
    if (m && sub >= 0)
        ns_nn_tap_unsubscribe(m, sub);
}

/* ------------------------------------------------- neurospectra train */

/* State of the CV glue: the table's groups, each outer fold's training rows
 * (in the order the network sees them), which folds are recorded. */
typedef struct {
    ns_spectra_tracker *t;
    int *group;            /* per table row */
    size_t n;
    char **names;
    int ngroups;
    int nslots;            /* tags -1 .. nslots-2 */
    size_t **rows;
    size_t *nrows;
    unsigned char *done;
    ns_nn *m;
    int sub;
    ns_cv_observer prev;
    void *prev_ctx;
    ns_clf_nn_hooks prev_hooks; /* another stage's hooks (dist), chained */
} train_glue;

static void glue_free(void *p)
{
    train_glue *g = p;
    if (!g)
        return;
    for (int i = 0; i < g->nslots; i++)
        free(g->rows[i]);
    for (int k = 0; k < g->ngroups; k++)
        free(g->names[k]);
    free(g->names);
    free(g->rows);
    free(g->nrows);
    free(g->done);
    free(g->group);
    free(g);
}

/* Slot of a tag (-1 = all rows, 0.. = outer folds), growing the tables. */
static int slot_of(train_glue *g, int tag)
{
    int want = tag + 2;
    if (tag < -1)
        return -1;
    if (want > g->nslots) {
        size_t **r = realloc(g->rows, (size_t)want * sizeof *r);
        size_t *nr = r ? realloc(g->nrows, (size_t)want * sizeof *nr) : NULL;
        unsigned char *d = nr ? realloc(g->done, (size_t)want) : NULL;
        if (r)
            g->rows = r;
        if (nr)
            g->nrows = nr;
        if (!d)
            return -1;
        g->done = d;
        for (int i = g->nslots; i < want; i++) {
            g->rows[i] = NULL;
            g->nrows[i] = 0;
            g->done[i] = 0;
        }
        g->nslots = want;
    }
    return tag + 1;
}

/* The first rows the CV driver announces for an outer fold are the fold's
 * training rows (later calls with the same tag are inner-CV fits). */
static void observe(void *ctx, int fold, const size_t *rows, size_t nrows)
{
    train_glue *g = ctx;
    if (g->prev)
        g->prev(g->prev_ctx, fold, rows, nrows);
    int k = slot_of(g, fold);
    if (k < 0 || g->rows[k] || g->done[k])
        return;
    g->rows[k] = malloc((nrows ? nrows : 1) * sizeof *rows);
    if (g->rows[k]) {
        memcpy(g->rows[k], rows, nrows * sizeof *rows);
        g->nrows[k] = nrows;
    }
}

static ns_status created(void *ctx, void *nn, int tag)
{
    train_glue *g = ctx;
    const ns_clf_nn_hooks *ph = &g->prev_hooks;
    ns_status s0 = ph->created ? ph->created(ph->ctx, nn, tag) : NS_OK;
    if (s0 != NS_OK)
        return s0;
    int k = slot_of(g, tag);
    if (k < 0 || g->done[k] || g->m)
        return NS_OK; /* inner-CV fit, or a refit of a recorded fold */
    ns_status s = ns_spectra_tracker_begin_fold(g->t, tag, g->group, g->rows[k],
                                                g->rows[k] ? g->nrows[k] : g->n);
    if (s == NS_OK)
        s = ns_spectra_attach(g->t, nn, &g->sub);
    if (s == NS_OK)
        g->m = nn;
    return s;
}

static ns_status trained(void *ctx, void *nn, int tag)
{
    train_glue *g = ctx;
    const ns_clf_nn_hooks *ph = &g->prev_hooks;
    if (g->m == nn) {
        ns_spectra_detach(g->m, g->sub);
        g->m = NULL;
        int k = slot_of(g, tag);
        if (k >= 0)
            g->done[k] = 1;
    }
    return ph->trained ? ph->trained(ph->ctx, nn, tag) : NS_OK;
}

/* Only installed when another stage set a fit hook: hands it its own ctx. */
static ns_status fit_chained(void *ctx, void *nn, const float *x, const int32_t *y, size_t n,
                             int tag)
{
    const ns_clf_nn_hooks *ph = &((train_glue *)ctx)->prev_hooks;
    return ph->fit(ph->ctx, nn, x, y, n, tag);
}

ns_status ns_spectra_train_begin(const char *out_dir, const ns_spectra_opts *o,
                                 const char *labels_tsv, const char *group_column,
                                 const char *const *ids, size_t n, ns_cv_params *cp,
                                 ns_clf_nn_hooks *hooks, ns_spectra_tracker **out)
{
    *out = NULL;
    train_glue *g = ns_calloc(1, sizeof *g);
    if (!g)
        return NS_ERR_NOMEM;
    g->n = n;
    ns_status s = group_column ? ns_spectra_groups_from_tsv(labels_tsv, group_column, ids, n,
                                                            &g->group, &g->names, &g->ngroups)
                               : NS_OK;
    if (s == NS_OK)
        s = ns_spectra_tracker_create(out_dir, o, (const char *const *)g->names, g->ngroups, &g->t);
    if (s != NS_OK) {
        glue_free(g);
        return s;
    }
    g->t->glue = g;
    g->t->glue_free = glue_free;
    g->prev = cp->observer;
    g->prev_ctx = cp->observer_ctx;
    cp->observer = observe;
    cp->observer_ctx = g;
    g->prev_hooks = *hooks; /* chained, so that dist's hooks keep working */
    *hooks = (ns_clf_nn_hooks){.ctx = g, .created = created, .trained = trained,
                               .fit = g->prev_hooks.fit ? fit_chained : NULL};
    *out = g->t;
    return NS_OK;
}

/* -------------------------------------------------- neurospectra grad */

ns_status ns_spectra_batch_begin(ns_nn *m, const int32_t *groups, size_t n,
                                 ns_spectra_batch **out)
{
    ns_spectra_arch a;
    int *gi = NULL;
    *out = NULL;
    if (groups) { /* int32_t and int may differ in type, not in values */
        gi = ns_alloc(n ? n : 1, sizeof *gi);
        if (!gi)
            return NS_ERR_NOMEM;
        for (size_t i = 0; i < n; i++)
            gi[i] = groups[i];
    }
    ns_status s = ns_spectra_batch_create(gi, n, NULL, out);
    free(gi);
    if (s == NS_OK)
        s = ns_spectra_arch_from_nn(m, &a);
    if (s == NS_OK) {
        ns_spectra_batch_set_arch(*out, &a);
        int sub = ns_nn_tap_subscribe(m, on_tap_batch, *out);
        s = sub < 0 ? ns_error(NS_ERR_ARG, "no free layer-tap slot (spectra)") : NS_OK;
        spectra_batch_set_sub(*out, sub);
    }
    if (s != NS_OK) {
        ns_spectra_batch_free(*out);
        *out = NULL;
    }
    return s;
}

ns_status ns_spectra_batch_end(ns_spectra_batch *b, ns_nn *m, const char *path)
{
    if (!b)
        return NS_OK;
    ns_spectra_detach(m, spectra_batch_sub(b));
    ns_status s = path ? ns_spectra_batch_write(b, path) : NS_OK;
    ns_spectra_batch_free(b);
    return s;
}
