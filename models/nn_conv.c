/* conv1d layers by im2col + GEMM, then global average pooling over time.
 * Activations are kept channels-last (n x L x C, the layout of the input
 * sequences), so a conv output (rows n*P + p, columns C_out) is directly the
 * next layer's input. */
#include <cblas.h>
#include <string.h>

#include "models/nn_int.h"

/* U row (s*lout + p), column (c*k + j) = in[s][p*stride - pad + j*dil][c]
 * (0 outside), the column order of conv.weight.reshape(out, -1). */
static void im2col(const nn_conv *c, const float *in, size_t n, float *U)
{
    size_t width = c->cin * c->k;
    for (size_t s = 0; s < n; s++)
        for (size_t p = 0; p < c->lout; p++) {
            float *row = U + (s * c->lout + p) * width;
            for (size_t j = 0; j < c->k; j++) {
                long pos = (long)(p * c->s + j * c->d) - (long)c->p;
                if (pos < 0 || pos >= (long)c->lin) {
                    for (size_t ch = 0; ch < c->cin; ch++)
                        row[ch * c->k + j] = 0.0f;
                    continue;
                }
                const float *src = in + (s * c->lin + (size_t)pos) * c->cin;
                for (size_t ch = 0; ch < c->cin; ch++)
                    row[ch * c->k + j] = src[ch];
            }
        }
}

void ns_nn_col2im(const ns_nn_conv_geom *c, const float *dU, size_t n, float *dIn)
{
    size_t width = c->cin * c->k;
    memset(dIn, 0, n * c->lin * c->cin * sizeof *dIn);
    for (size_t s = 0; s < n; s++)
        for (size_t p = 0; p < c->lout; p++) {
            const float *row = dU + (s * c->lout + p) * width;
            for (size_t j = 0; j < c->k; j++) {
                long pos = (long)(p * c->s + j * c->d) - (long)c->p;
                if (pos < 0 || pos >= (long)c->lin)
                    continue;
                float *dst = dIn + (s * c->lin + (size_t)pos) * c->cin;
                for (size_t ch = 0; ch < c->cin; ch++)
                    dst[ch] += row[ch * c->k + j];
            }
        }
}

void nn_conv_forward(ns_nn *m, const float *X, size_t n)
{
    const float *in = X;
    for (int i = 0; i < m->nconv; i++) {
        nn_conv *c = &m->conv[i];
        im2col(c, in, n, c->U);
        const float *b = c->b == NN_NONE ? NULL : m->theta + c->b;
        nn_linear(c->U, n * c->lout, c->cin * c->k, m->theta + c->w, b, c->cout, c->Z);
        nn_act_forward(m->cfg.act, m->cfg.act_slope, c->Z, c->Y, n * c->lout * c->cout);
        in = c->Y;
    }
    /* global average pooling over positions */
    const nn_conv *last = &m->conv[m->nconv - 1];
    float inv = 1.0f / (float)last->lout;
    for (size_t s = 0; s < n; s++) {
        float *f = m->feat + s * last->cout;
        memset(f, 0, last->cout * sizeof *f);
        for (size_t p = 0; p < last->lout; p++) {
            const float *y = last->Y + (s * last->lout + p) * last->cout;
            for (size_t ch = 0; ch < last->cout; ch++)
                f[ch] += y[ch];
        }
        for (size_t ch = 0; ch < last->cout; ch++)
            f[ch] *= inv;
    }
}

ns_status nn_conv_backward(ns_nn *m, const float *dfeat, size_t n, const size_t *idx)
{
    const nn_conv *last = &m->conv[m->nconv - 1];
    float inv = 1.0f / (float)last->lout;
    for (size_t s = 0; s < n; s++)
        for (size_t p = 0; p < last->lout; p++) {
            float *d = m->dY + (s * last->lout + p) * last->cout;
            for (size_t ch = 0; ch < last->cout; ch++)
                d[ch] = dfeat[s * last->cout + ch] * inv;
        }
    for (int i = m->nconv - 1; i >= 0; i--) {
        const nn_conv *c = &m->conv[i];
        size_t rows = n * c->lout, width = c->cin * c->k;
        float *D = m->dY; /* becomes this layer's delta dL/dZ in place */
        nn_act_backward(m->cfg.act, m->cfg.act_slope, c->Z, c->Y, D, rows * c->cout);
        float *gb = c->b == NN_NONE ? NULL : m->grad + c->b;
        nn_linear_grad(D, c->U, rows, width, c->cout, m->grad + c->w, gb);
        if (m->ntaps) {
            ns_status st = nn_tap_fire(m, &m->wl[i], c->U, D, n, idx);
            if (st)
                return st;
        }
        if (i == 0)
            break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)width,
                    (int)c->cout, 1.0f, D, (int)c->cout, m->theta + c->w, (int)width, 0.0f, m->dU,
                    (int)width);
        ns_nn_conv_geom g = {c->cin, c->k, c->s, c->p, c->d, c->lin, c->lout};
        ns_nn_col2im(&g, m->dU, n, m->dY);
    }
    return NS_OK;
}
