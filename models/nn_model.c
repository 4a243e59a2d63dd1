/* Model construction: layer shapes, the parameter vector in state_dict
 * order, PyTorch's default initialisation, the workspace arena, the weight
 * layer table of the tap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn_int.h"

static ns_status check_config(const ns_nn_config *c, int nclass)
{
    if (nclass < 2)
        return ns_error(NS_ERR_ARG, "a classifier needs at least 2 classes (nclass %d)", nclass);
    if (c->loss == NS_NN_BCE && nclass != 2)
        return ns_error(NS_ERR_ARG, "binary cross-entropy needs exactly 2 classes (nclass %d)", nclass);
    if (c->class_weights && c->loss != NS_NN_CE)
        return ns_error(NS_ERR_ARG, "class weights apply to cross-entropy only (loss)");
    if (c->class_weights && c->nclass_weights != nclass)
        return ns_error(NS_ERR_ARG, "%d class weights for %d classes (class weights)",
                        c->nclass_weights, nclass);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return ns_error(NS_ERR_ARG, "dropout must be in [0, 1) (dropout %g)", (double)c->dropout);
    if (c->batch < 1 || c->epochs < 0 || c->bptt < 0 || c->patience < 0)
        return ns_error(NS_ERR_ARG, "batch >= 1, epochs, bptt and patience >= 0 (training options)");
    if (!(c->lr > 0) || !(c->momentum >= 0) || !(c->weight_decay >= 0))
        return ns_error(NS_ERR_ARG, "lr > 0, momentum and weight decay >= 0 (optimizer options)");
    if (!(c->val_fraction >= 0 && c->val_fraction < 1))
        return ns_error(NS_ERR_ARG, "validation fraction must be in [0, 1) (%g)", c->val_fraction);
    if (c->arch >= NS_NN_RNN && c->hidden <= 0)
        return ns_error(NS_ERR_ARG, "recurrent hidden size must be positive (model spec)");
    return NS_OK;
}

static size_t add_param(ns_nn *m, const char *name, int ndim, size_t s0, size_t s1, size_t s2)
{
    nn_ptensor *p = &m->params[m->nparams++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->shape[0] = s0;
    p->shape[1] = s1;
    p->shape[2] = s2;
    p->count = s0 * (ndim > 1 ? s1 : 1) * (ndim > 2 ? s2 : 1);
    p->offset = m->ntheta;
    m->ntheta += p->count;
    return p->offset;
}

static void add_wlayer(ns_nn *m, const char *name, size_t wparam, size_t w, size_t b, size_t h_in,
                       size_t h_out, size_t rows)
{
    nn_wlayer *l = &m->wl[m->nwl++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->wname = m->params[wparam].name;
    l->bname = b == NN_NONE ? NULL : m->params[wparam + 1].name;
    l->w = w;
    l->b = b;
    l->h_in = h_in;
    l->h_out = h_out;
    l->rows_per_sample = rows;
}

static ns_status build_conv(ns_nn *m)
{
    size_t lin = m->T, cin = m->C;
    for (int i = 0; i < m->cfg.nconv; i++) {
        const ns_nn_conv_spec *s = &m->cfg.conv[i];
        nn_conv *c = &m->conv[i];
        long span = (long)lin + 2L * s->padding - (long)s->dilation * (s->kernel - 1) - 1;
        if (span < 0)
            return ns_error(NS_ERR_ARG, "conv%d: input length %zu too short for kernel %d, dilation %d, "
                            "padding %d (model spec)", i, lin, s->kernel, s->dilation, s->padding);
        *c = (nn_conv){.cin = cin, .cout = (size_t)s->channels, .k = (size_t)s->kernel,
                       .s = (size_t)s->stride, .p = (size_t)s->padding, .d = (size_t)s->dilation,
                       .lin = lin, .lout = (size_t)(span / s->stride + 1), .b = NN_NONE};
        char name[32];
        snprintf(name, sizeof name, "conv%d.weight", i);
        size_t wp = m->nparams;
        c->w = add_param(m, name, 3, c->cout, c->cin, c->k);
        if (m->cfg.bias) {
            snprintf(name, sizeof name, "conv%d.bias", i);
            c->b = add_param(m, name, 1, c->cout, 0, 0);
        }
        snprintf(name, sizeof name, "conv%d", i);
        add_wlayer(m, name, wp, c->w, c->b, c->cin * c->k, c->cout, c->lout);
        lin = c->lout;
        cin = c->cout;
    }
    m->nconv = m->cfg.nconv;
    m->feat_dim = cin;
    return NS_OK;
}

static void build_rnn(ns_nn *m)
{
    nn_rnn *r = &m->rnn;
    r->g = m->cfg.arch == NS_NN_RNN ? 1 : m->cfg.arch == NS_NN_GRU ? 3 : 4;
    r->C = m->C;
    r->H = (size_t)m->cfg.hidden;
    r->T = m->T;
    size_t gH = (size_t)r->g * r->H, wp = m->nparams;
    r->wih = add_param(m, "rnn.weight_ih_l0", 2, gH, r->C, 0);
    r->whh = add_param(m, "rnn.weight_hh_l0", 2, gH, r->H, 0);
    r->bih = r->bhh = NN_NONE;
    if (m->cfg.bias) {
        r->bih = add_param(m, "rnn.bias_ih_l0", 1, gH, 0, 0);
        r->bhh = add_param(m, "rnn.bias_hh_l0", 1, gH, 0, 0);
    }
    /* the tap's bias names: bias_ih follows weight_hh in state_dict order */
    add_wlayer(m, "rnn.ih", wp, r->wih, r->bih, r->C, gH, r->T);
    m->wl[m->nwl - 1].bname = m->cfg.bias ? m->params[wp + 2].name : NULL;
    add_wlayer(m, "rnn.hh", wp + 1, r->whh, r->bhh, r->H, gH, r->T);
    m->wl[m->nwl - 1].bname = m->cfg.bias ? m->params[wp + 3].name : NULL;
    m->has_rnn = 1;
    m->feat_dim = r->H;
}

static void build_dense(ns_nn *m)
{
    size_t in = m->feat_dim;
    m->nfc = m->cfg.ndense + 1;
    for (int i = 0; i < m->nfc; i++) {
        nn_dense *f = &m->fc[i];
        f->in = in;
        f->out = i < m->cfg.ndense ? (size_t)m->cfg.dense[i] : (size_t)m->nout;
        f->hidden = i < m->cfg.ndense;
        f->drop = m->cfg.dropout > 0 && (i > 0 || m->cfg.arch != NS_NN_MLP);
        f->b = NN_NONE;
        char name[32];
        snprintf(name, sizeof name, "fc%d.weight", i);
        size_t wp = m->nparams;
        f->w = add_param(m, name, 2, f->out, f->in, 0);
        if (m->cfg.bias) {
            snprintf(name, sizeof name, "fc%d.bias", i);
            f->b = add_param(m, name, 1, f->out, 0, 0);
        }
        snprintf(name, sizeof name, "fc%d", i);
        add_wlayer(m, name, wp, f->w, f->b, f->in, f->out, 1);
        in = f->out;
    }
}

/* PyTorch's defaults: Linear and Conv1d U(+-1/sqrt(fan_in)) for weight and
 * bias (kaiming_uniform with a = sqrt(5)); RNN/GRU/LSTM U(+-1/sqrt(H)). */
static void init_params(ns_nn *m)
{
    for (size_t i = 0; i < m->nparams; i++) {
        const nn_ptensor *p = &m->params[i];
        double fan_in;
        if (!strncmp(p->name, "rnn.", 4))
            fan_in = (double)m->rnn.H;
        else if (p->ndim == 1) /* bias: fan_in of the weight just before it */
            fan_in = (double)(m->params[i - 1].count / m->params[i - 1].shape[0]);
        else
            fan_in = (double)(p->count / p->shape[0]);
        double bound = 1.0 / sqrt(fan_in);
        float *w = m->theta + p->offset;
        for (size_t j = 0; j < p->count; j++)
            w[j] = (float)((2.0 * ns_rng_uniform(m->rng) - 1.0) * bound);
    }
}

static ns_status set_shape(ns_nn *m, int in_ndim, const size_t *in_shape)
{
    if (in_ndim == 1 && in_shape[0] > 0) {
        m->T = m->cfg.arch == NS_NN_MLP ? 1 : in_shape[0];
        m->C = m->cfg.arch == NS_NN_MLP ? in_shape[0] : 1;
    } else if (in_ndim == 2 && in_shape[0] > 0 && in_shape[1] > 0) {
        m->T = in_shape[0];
        m->C = in_shape[1];
    } else {
        return ns_error(NS_ERR_ARG, "input shape must be {F} or {T, C} with positive sizes (model input)");
    }
    if (!ns_mul_size(m->T, m->C, &m->in_size))
        return ns_error(NS_ERR_NOMEM, "input too large (model input)");
    return NS_OK;
}

ns_status ns_nn_create(const ns_nn_config *cfg, int in_ndim, const size_t *in_shape, int nclass,
                       ns_nn **out)
{
    *out = NULL;
    ns_status st = check_config(cfg, nclass);
    if (st)
        return st;
    ns_nn *m = ns_calloc(1, sizeof *m);
    if (!m)
        return NS_ERR_NOMEM;
    m->cfg = *cfg;
    m->nclass = nclass;
    m->nout = cfg->loss == NS_NN_BCE ? 1 : nclass;
    st = set_shape(m, in_ndim, in_shape);
    if (!st && cfg->class_weights) {
        m->class_w = ns_alloc((size_t)nclass, sizeof(float));
        if (!m->class_w)
            st = NS_ERR_NOMEM;
        else
            memcpy(m->class_w, cfg->class_weights, (size_t)nclass * sizeof(float));
        m->cfg.class_weights = m->class_w;
    }
    if (!st && cfg->arch == NS_NN_CNN1D)
        st = build_conv(m);
    else if (!st && cfg->arch >= NS_NN_RNN)
        build_rnn(m);
    else if (!st)
        m->feat_dim = m->in_size;
    if (!st) {
        build_dense(m);
        m->theta = ns_calloc(4 * m->ntheta, sizeof(float));
        m->rng = ns_rng_create(cfg->seed);
        st = m->theta && m->rng ? NS_OK : NS_ERR_NOMEM;
    }
    if (!st) {
        m->grad = m->theta + m->ntheta;
        m->m1 = m->grad + m->ntheta;
        m->m2 = m->m1 + m->ntheta;
        init_params(m);
        st = nn_reserve(m, (size_t)cfg->batch);
    }
    if (st) {
        ns_nn_free(m);
        return st;
    }
    *out = m;
    return NS_OK;
}

void ns_nn_free(ns_nn *m)
{
    if (!m)
        return;
    free(m->arena);
    free(m->yb);
    free(m->iota);
    free(m->theta);
    free(m->class_w);
    free(m->hist);
    ns_rng_free(m->rng);
    free(m);
}

const ns_nn_config *ns_nn_get_config(const ns_nn *m) { return &m->cfg; }
int ns_nn_nclass(const ns_nn *m) { return m->nclass; }
size_t ns_nn_input_size(const ns_nn *m) { return m->in_size; }
long ns_nn_step(const ns_nn *m) { return m->step; }
void ns_nn_set_epoch(ns_nn *m, int epoch) { m->epoch = epoch; }
void ns_nn_set_lr(ns_nn *m, double lr) { m->cfg.lr = lr; }

float *ns_nn_params(ns_nn *m, size_t *count)
{
    if (count)
        *count = m->ntheta;
    return m->theta;
}

float *ns_nn_grads(ns_nn *m, size_t *count)
{
    if (count)
        *count = m->ntheta;
    return m->grad;
}

size_t ns_nn_param_count(const ns_nn *m) { return m->nparams; }

ns_nn_param ns_nn_param_info(const ns_nn *m, size_t i)
{
    const nn_ptensor *p = &m->params[i];
    ns_nn_param r = {p->name, p->ndim, {p->shape[0], p->shape[1], p->shape[2]}, p->count, p->offset};
    return r;
}

size_t ns_nn_layer_count(const ns_nn *m) { return m->nwl; }

ns_nn_layer ns_nn_layer_info(const ns_nn *m, size_t i)
{
    const nn_wlayer *l = &m->wl[i];
    ns_nn_layer r = {l->name, l->wname, l->bname, l->h_in, l->h_out, l->rows_per_sample};
    return r;
}
