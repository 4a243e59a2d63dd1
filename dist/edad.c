/* edAD: every layer's delta over all sites' rows, recomputed from the shared
 * input activations of every layer, the shared output delta and the
 * weights (identical on every site). The dense head needs only the shared
 * activations: the input of fc_i is act(Z_(i-1)) after dropout, which gives
 * both the activation's derivative and the dropout mask. Conv and recurrent
 * trunks recompute their pre-activations from their shared inputs
 * (edad_trunk.c). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/edad_int.h"

static size_t param_offset(ns_nn *m, const char *name)
{
    for (size_t i = 0; name && i < ns_nn_param_count(m); i++) {
        ns_nn_param p = ns_nn_param_info(m, i);
        if (!strcmp(p.name, name))
            return p.offset;
    }
    return DIST_NONE;
}

static ns_status em_init(ns_nn *m, edad_model *e)
{
    memset(e, 0, sizeof *e);
    e->cfg = ns_nn_get_config(m);
    e->theta = ns_nn_params(m, NULL);
    e->nl = ns_nn_layer_count(m);
    e->in_size = ns_nn_input_size(m);
    if (e->nl == 0 || e->nl > EDAD_MAXL)
        return ns_error(NS_ERR_INTERNAL, "a model with %zu weight layers (edad)", e->nl);
    if (e->cfg->act == NS_NN_LEAKY && !(e->cfg->act_slope > 0))
        return ns_error(NS_ERR_UNSUPPORTED, "edad cannot invert a leaky activation with slope "
                        "%g: use dad (edad)", (double)e->cfg->act_slope);
    for (size_t i = 0; i < e->nl; i++) {
        e->li[i] = ns_nn_layer_info(m, i);
        e->w[i] = param_offset(m, e->li[i].weight_name);
        e->b[i] = param_offset(m, e->li[i].bias_name);
        if (e->w[i] == DIST_NONE)
            return ns_error(NS_ERR_INTERNAL, "no weight for layer %s (edad)", e->li[i].name);
        if (strncmp(e->li[i].name, "fc", 2))
            e->first_fc = i + 1; /* the head starts after the last trunk layer */
    }
    e->p = e->cfg->dropout;
    e->scale = 1.0f / (1.0f - e->p);
    return NS_OK;
}

void edad_act_forward(const edad_model *e, const float *z, float *y, size_t n)
{
    float a = e->cfg->act_slope;
    for (size_t i = 0; i < n; i++) {
        switch (e->cfg->act) {
        case NS_NN_RELU: y[i] = z[i] > 0 ? z[i] : 0.0f; break;
        case NS_NN_LEAKY: y[i] = z[i] > 0 ? z[i] : a * z[i]; break;
        case NS_NN_TANH: y[i] = tanhf(z[i]); break;
        case NS_NN_SIGMOID: y[i] = 1.0f / (1.0f + expf(-z[i])); break;
        default: y[i] = z[i]; break;
        }
    }
}

/* d *= phi'(z), PyTorch's conventions at 0 (as models/). */
void edad_act_backward(const edad_model *e, const float *z, const float *y, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (e->cfg->act) {
        case NS_NN_RELU: d[i] = z[i] > 0 ? d[i] : 0.0f; break;
        case NS_NN_LEAKY: d[i] = z[i] > 0 ? d[i] : d[i] * e->cfg->act_slope; break;
        case NS_NN_TANH: d[i] *= 1.0f - y[i] * y[i]; break;
        case NS_NN_SIGMOID: d[i] *= y[i] * (1.0f - y[i]); break;
        default: break;
        }
    }
}

/* phi'(z) times the dropout mask, from a = mask * phi(z) alone: a zero
 * activation under dropout was dropped (or is a zero of phi, where ReLU's
 * derivative is 0 too); otherwise mask = 1/(1-p) and phi(z) = a (1-p). */
static float act_factor(const edad_model *e, float a, int drop)
{
    if (drop && a == 0.0f)
        return 0.0f;
    float y = drop ? a / e->scale : a, f;
    switch (e->cfg->act) {
    case NS_NN_RELU: f = y > 0 ? 1.0f : 0.0f; break;
    case NS_NN_LEAKY: f = y > 0 ? 1.0f : e->cfg->act_slope; break;
    case NS_NN_TANH: f = 1.0f - y * y; break;
    case NS_NN_SIGMOID: f = y * (1.0f - y); break;
    default: f = 1.0f; break;
    }
    return drop ? f * e->scale : f;
}

/* X (rows x in) W^T + b into Z (rows x out). */
void edad_linear(const edad_model *e, size_t li, const float *X, size_t rows, float *Z)
{
    size_t in = e->li[li].h_in, out = e->li[li].h_out;
    float beta = 0.0f;
    if (e->b[li] != DIST_NONE) {
        for (size_t r = 0; r < rows; r++)
            memcpy(Z + r * out, e->theta + e->b[li], out * sizeof *Z);
        beta = 1.0f;
    }
    if (rows)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)out, (int)in, 1.0f,
                    X, (int)in, e->theta + e->w[li], (int)in, beta, Z, (int)out);
}

/* dX (rows x in) = dZ (rows x out) W. */
void edad_back_linear(const edad_model *e, size_t li, const float *dZ, size_t rows, float *dX)
{
    size_t in = e->li[li].h_in, out = e->li[li].h_out;
    if (rows)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)in, (int)out, 1.0f,
                    dZ, (int)out, e->theta + e->w[li], (int)in, 0.0f, dX, (int)in);
}

/* The head: D[i-1] = (D[i] W_i) * act'(.) * mask for fc layers down to the
 * first one. */
static void dense_chain(const edad_model *e, const ns_matrix *A, ns_matrix *D, size_t N)
{
    int drop = e->p > 0;
    for (size_t i = e->nl - 1; i > e->first_fc; i--) {
        edad_back_linear(e, i, D[i].data, N, D[i - 1].data);
        size_t count = N * e->li[i].h_in;
        for (size_t k = 0; k < count; k++)
            D[i - 1].data[k] *= act_factor(e, A[i].data[k], drop);
    }
}

void edad_feat_mask(const edad_model *e, float *dfeat, const float *a, const float *feat,
                    size_t count)
{
    if (!(e->p > 0))
        return;
    for (size_t k = 0; k < count; k++)
        dfeat[k] *= a[k] == 0.0f && feat[k] != 0.0f ? 0.0f : e->scale;
}

static ns_status check_shapes(const edad_model *e, const ns_matrix *A, const ns_matrix *D,
                              const ns_matrix *Dout, size_t N)
{
    for (size_t i = 0; i < e->nl; i++)
        if (A[i].rows != N * e->li[i].rows_per_sample || A[i].cols != e->li[i].h_in ||
            D[i].rows != A[i].rows || D[i].cols != e->li[i].h_out || A[i].stride != A[i].cols ||
            D[i].stride != D[i].cols)
            return ns_error(NS_ERR_ARG, "layer %s: A %zu x %zu, D %zu x %zu for %zu samples "
                            "(edad)", e->li[i].name, A[i].rows, A[i].cols, D[i].rows, D[i].cols, N);
    if (Dout->rows != N || Dout->cols != e->li[e->nl - 1].h_out || Dout->stride != Dout->cols)
        return ns_error(NS_ERR_ARG, "output delta %zu x %zu for %zu samples (edad)", Dout->rows,
                        Dout->cols, N);
    return NS_OK;
}

ns_status dist_edad_run(ns_nn *m, const ns_matrix *A, const ns_matrix *Dout, size_t N,
                        ns_matrix *D)
{
    edad_model e;
    ns_status st = em_init(m, &e);
    if (!st)
        st = check_shapes(&e, A, D, Dout, N);
    if (st)
        return st;
    if (D[e.nl - 1].data != Dout->data)
        memcpy(D[e.nl - 1].data, Dout->data, N * Dout->cols * sizeof(float));
    dense_chain(&e, A, D, N);
    if (e.first_fc == 0 || N == 0)
        return NS_OK;
    size_t feat = e.li[e.first_fc].h_in;
    float *dfeat = ns_alloc(N * feat, sizeof *dfeat);
    if (!dfeat)
        return NS_ERR_NOMEM;
    edad_back_linear(&e, e.first_fc, D[e.first_fc].data, N, dfeat);
    if (e.cfg->arch == NS_NN_CNN1D)
        st = edad_conv_trunk(&e, A, D, N, dfeat);
    else
        st = edad_rnn_trunk(&e, A, D, N, dfeat);
    free(dfeat);
    return st;
}

ns_status ns_dist_edad_deltas(ns_nn *m, const ns_matrix *A, const ns_matrix *Dout,
                              size_t nsamples, ns_matrix *D)
{
    return dist_edad_run(m, A, Dout, nsamples, D);
}
