/* edAD through a conv1d trunk: conv layers (im2col rows n*P + p, columns
 * c*k + j, as the tap shares them), activation, global average pooling. */
#include <stdlib.h>
#include <string.h>

#include "dist/edad_int.h"

typedef struct {
    size_t cin, cout, k, s, p, d, lin, lout;
} conv_geom;

static conv_geom geom(const edad_model *e, size_t i)
{
    const ns_nn_conv_spec *c = &e->cfg->conv[i];
    conv_geom g = {0};
    g.k = (size_t)c->kernel, g.s = (size_t)c->stride, g.p = (size_t)c->padding;
    g.d = (size_t)c->dilation;
    g.cin = e->li[i].h_in / g.k;
    g.cout = e->li[i].h_out;
    g.lout = e->li[i].rows_per_sample;
    g.lin = i ? e->li[i - 1].rows_per_sample : e->in_size / g.cin;
    return g;
}


/* Global average pooling of Y (n*P x C) into feat (n x C), models' order. */
static void pool(const float *Y, size_t n, size_t P, size_t C, float *feat)
{
    float inv = 1.0f / (float)P;
    for (size_t s = 0; s < n; s++) {
        float *f = feat + s * C;
        memset(f, 0, C * sizeof *f);
        for (size_t p = 0; p < P; p++)
            for (size_t ch = 0; ch < C; ch++)
                f[ch] += Y[(s * P + p) * C + ch];
        for (size_t ch = 0; ch < C; ch++)
            f[ch] *= inv;
    }
}

ns_status edad_conv_trunk(const edad_model *e, const ns_matrix *A, ns_matrix *D, size_t N,
                          float *dfeat)
{
    size_t last = e->first_fc - 1, maxrows = 0, maxw = 0;
    for (size_t i = 0; i <= last; i++) {
        maxrows = A[i].rows > maxrows ? A[i].rows : maxrows;
        maxw = e->li[i].h_in > maxw ? e->li[i].h_in : maxw;
        maxw = e->li[i].h_out > maxw ? e->li[i].h_out : maxw;
    }
    float *Z = ns_alloc(maxrows * maxw, sizeof *Z), *Y = ns_alloc(maxrows * maxw, sizeof *Y);
    float *dU = ns_alloc(maxrows * maxw, sizeof *dU);
    float *feat = ns_alloc(N * e->li[last].h_out, sizeof *feat);
    if (!Z || !Y || !dU || !feat) {
        free(Z), free(Y), free(dU), free(feat);
        return NS_ERR_NOMEM;
    }
    conv_geom g = geom(e, last);
    edad_linear(e, last, A[last].data, A[last].rows, Z);
    edad_act_forward(e, Z, Y, A[last].rows * g.cout);
    pool(Y, N, g.lout, g.cout, feat);
    edad_feat_mask(e, dfeat, A[e->first_fc].data, feat, N * g.cout);
    float inv = 1.0f / (float)g.lout;
    for (size_t s = 0; s < N; s++)
        for (size_t p = 0; p < g.lout; p++)
            for (size_t ch = 0; ch < g.cout; ch++)
                D[last].data[(s * g.lout + p) * g.cout + ch] = dfeat[s * g.cout + ch] * inv;
    edad_act_backward(e, Z, Y, D[last].data, A[last].rows * g.cout);
    for (size_t i = last; i-- > 0;) {
        conv_geom up = geom(e, i + 1);
        edad_back_linear(e, i + 1, D[i + 1].data, A[i + 1].rows, dU);
        ns_nn_conv_geom ug = {up.cin, up.k, up.s, up.p, up.d, up.lin, up.lout};
        ns_nn_col2im(&ug, dU, N, D[i].data);
        edad_linear(e, i, A[i].data, A[i].rows, Z);
        edad_act_forward(e, Z, Y, A[i].rows * e->li[i].h_out);
        edad_act_backward(e, Z, Y, D[i].data, A[i].rows * e->li[i].h_out);
    }
    free(Z), free(Y), free(dU), free(feat);
    return NS_OK;
}
