/* The dense head fc0..fcL: forward with activation and inverted dropout,
 * backward with the tap. */
#include <cblas.h>

#include "models/nn_int.h"

/* Inverted dropout: keep with probability 1-p, scale kept values by 1/(1-p). */
static void dropout_forward(ns_nn *m, nn_dense *f, const float *in, size_t n)
{
    float p = m->cfg.dropout, scale = 1.0f / (1.0f - p);
    size_t count = n * f->in;
    for (size_t i = 0; i < count; i++) {
        f->mask[i] = ns_rng_uniform(m->rng) < p ? 0.0f : scale;
        f->Ad[i] = in[i] * f->mask[i];
    }
}

void nn_dense_forward(ns_nn *m, const float *feat, size_t n, int train)
{
    const float *in = feat;
    for (int i = 0; i < m->nfc; i++) {
        nn_dense *f = &m->fc[i];
        if (f->drop && train) {
            dropout_forward(m, f, in, n);
            in = f->Ad;
        }
        f->A = in;
        const float *b = f->b == NN_NONE ? NULL : m->theta + f->b;
        nn_linear(in, n, f->in, m->theta + f->w, b, f->out, f->Z);
        if (f->hidden) {
            nn_act_forward(m->cfg.act, m->cfg.act_slope, f->Z, f->Y, n * f->out);
            in = f->Y;
        }
    }
}

ns_status nn_dense_backward(ns_nn *m, size_t n, const size_t *idx, int train, const float **dfeat)
{
    *dfeat = NULL;
    int need_dfeat = m->cfg.arch != NS_NN_MLP;
    for (int i = m->nfc - 1; i >= 0; i--) {
        nn_dense *f = &m->fc[i];
        float *gb = f->b == NN_NONE ? NULL : m->grad + f->b;
        nn_linear_grad(f->D, f->A, n, f->in, f->out, m->grad + f->w, gb);
        if (m->ntaps) {
            ns_status st = nn_tap_fire(m, &m->wl[m->nwl - (size_t)m->nfc + (size_t)i], f->A, f->D,
                                       n, idx);
            if (st)
                return st;
        }
        if (i == 0 && !need_dfeat)
            break;
        /* delta of the input, D W (n x in), straight into the layer below */
        float *dst = i > 0 ? m->fc[i - 1].D : m->dA;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)f->in, (int)f->out,
                    1.0f, f->D, (int)f->out, m->theta + f->w, (int)f->in, 0.0f, dst, (int)f->in);
        size_t count = n * f->in;
        if (f->drop && train)
            for (size_t j = 0; j < count; j++)
                dst[j] *= f->mask[j];
        if (i == 0) {
            *dfeat = dst;
            break;
        }
        const nn_dense *below = &m->fc[i - 1];
        nn_act_backward(m->cfg.act, m->cfg.act_slope, below->Z, below->Y, dst, count);
    }
    return NS_OK;
}
