/* One recurrent layer with PyTorch's equations and gate order (nn.RNN tanh,
 * nn.GRU r,z,n, nn.LSTM i,f,g,o; batch_first; zero initial state), its last
 * hidden state feeding the head. Buffers are sample-major (row n*T + t), so
 * the input projection of all steps is one GEMM, a time step is a strided
 * view (leading dimension T*gH), and the tap's A and D are plain matrices. */
#include <cblas.h>
#include <string.h>

#include "models/nn_int.h"

/* The state buffers of step t: h_(t-1) is Hp[:, t], h_t is Hp[:, t+1] (or
 * hlast for the last step); the same for the LSTM cell. */
typedef struct {
    float *hprev, *hnext, *cprev, *cnext;
    size_t ldprev, ldnext; /* leading dimensions (floats between samples) */
} nn_step_bufs;

static nn_step_bufs step_bufs(const nn_rnn *r, size_t t)
{
    size_t H = r->H, T = r->T;
    int last = t + 1 == T;
    nn_step_bufs b = {r->Hp + t * H, last ? r->hlast : r->Hp + (t + 1) * H, NULL, NULL, T * H,
                      last ? H : T * H};
    if (r->g == 4) {
        b.cprev = r->Cp + t * H;
        b.cnext = last ? r->clast : r->Cp + (t + 1) * H;
    }
    return b;
}

/* The gate non-linearities run over contiguous blocks of a sample's row
 * (nn_vsigmoid / nn_vtanh); the rest are plain vectorisable loops. */
static void gru_cell(float *restrict gi, const float *restrict gh, const float *restrict hp,
                     float *restrict hn, size_t H)
{
    for (size_t j = 0; j < 2 * H; j++)
        gi[j] += gh[j];
    nn_vsigmoid(gi, gi, 2 * H); /* r, z */
    for (size_t j = 0; j < H; j++)
        gi[2 * H + j] += gi[j] * gh[2 * H + j];
    nn_vtanh(gi + 2 * H, gi + 2 * H, H); /* n */
    for (size_t j = 0; j < H; j++) {
        float z = gi[H + j], n = gi[2 * H + j];
        hn[j] = (1.0f - z) * n + z * hp[j];
    }
}

static void lstm_cell(float *restrict gi, const float *restrict cp, float *restrict cn,
                      float *restrict hn, size_t H)
{
    nn_vsigmoid(gi, gi, 2 * H);           /* i, f */
    nn_vtanh(gi + 2 * H, gi + 2 * H, H);  /* g */
    nn_vsigmoid(gi + 3 * H, gi + 3 * H, H); /* o */
    for (size_t j = 0; j < H; j++)
        cn[j] = gi[H + j] * cp[j] + gi[j] * gi[2 * H + j];
    nn_vtanh(cn, hn, H);
    for (size_t j = 0; j < H; j++)
        hn[j] *= gi[3 * H + j];
}

static void cell_forward(const nn_rnn *r, size_t t, size_t n, const nn_step_bufs *b)
{
    size_t H = r->H, gH = (size_t)r->g * H, ld = r->T * gH;
    for (size_t s = 0; s < n; s++) {
        float *gi = r->Gi + s * ld + t * gH;
        float *hn = b->hnext + s * b->ldnext;
        if (r->g == 1)
            nn_vtanh(gi, hn, H);
        else if (r->g == 3)
            gru_cell(gi, r->Gh + s * ld + t * gH, b->hprev + s * b->ldprev, hn, H);
        else
            lstm_cell(gi, b->cprev + s * b->ldprev, b->cnext + s * b->ldnext, hn, H);
    }
}

/* Adds h_(t-1) W_hh^T (+ b_hh for GRU, kept apart for its n gate). */
static void hidden_projection(const ns_nn *m, size_t t, size_t n, const nn_step_bufs *b)
{
    const nn_rnn *r = &m->rnn;
    size_t H = r->H, gH = (size_t)r->g * H, ld = r->T * gH;
    float *dst = r->g == 3 ? r->Gh + t * gH : r->Gi + t * gH;
    float beta = 1.0f;
    if (r->g == 3) {
        for (size_t s = 0; s < n; s++) {
            if (r->bhh == NN_NONE)
                memset(dst + s * ld, 0, gH * sizeof(float));
            else
                memcpy(dst + s * ld, m->theta + r->bhh, gH * sizeof(float));
        }
    }
    if (t == 0) /* h_(-1) = 0 */
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)gH, (int)H, 1.0f, b->hprev,
                (int)b->ldprev, m->theta + r->whh, (int)H, beta, dst, (int)ld);
}

void nn_rnn_forward(ns_nn *m, const float *X, size_t n)
{
    nn_rnn *r = &m->rnn;
    size_t H = r->H, T = r->T, gH = (size_t)r->g * H;
    const float *bih = r->bih == NN_NONE ? NULL : m->theta + r->bih;
    nn_linear(X, n * T, r->C, m->theta + r->wih, bih, gH, r->Gi);
    if (r->bhh != NN_NONE && r->g != 3) {
        const float *bhh = m->theta + r->bhh;
        for (size_t row = 0; row < n * T; row++)
            for (size_t j = 0; j < gH; j++)
                r->Gi[row * gH + j] += bhh[j];
    }
    for (size_t s = 0; s < n; s++) {
        memset(r->Hp + s * T * H, 0, H * sizeof(float));
        if (r->Cp)
            memset(r->Cp + s * T * H, 0, H * sizeof(float));
    }
    for (size_t t = 0; t < T; t++) {
        nn_step_bufs b = step_bufs(r, t);
        hidden_projection(m, t, n, &b);
        cell_forward(r, t, n, &b);
    }
}

static void gru_cell_backward(const float *restrict gi, const float *restrict gh,
                              const float *restrict hp, const float *restrict dh,
                              float *restrict D, float *restrict Dh, float *restrict dh2, size_t H)
{
    for (size_t j = 0; j < H; j++) {
        float rr = gi[j], z = gi[H + j], nn = gi[2 * H + j];
        float dnp = dh[j] * (1.0f - z) * (1.0f - nn * nn);
        float dz = dh[j] * (hp[j] - nn);
        float drp = dnp * gh[2 * H + j] * rr * (1.0f - rr);
        float dzp = dz * z * (1.0f - z);
        D[j] = drp;
        Dh[j] = drp;
        D[H + j] = dzp;
        Dh[H + j] = dzp;
        D[2 * H + j] = dnp;
        Dh[2 * H + j] = dnp * rr;
        dh2[j] = dh[j] * z;
    }
}

/* tc: scratch of H floats for tanh(c_t). dc becomes dc_(t-1). */
static void lstm_cell_backward(const float *restrict gi, const float *restrict cp,
                               const float *restrict c, const float *restrict dh,
                               float *restrict dc, float *restrict D, float *restrict tc, size_t H)
{
    nn_vtanh(c, tc, H);
    for (size_t j = 0; j < H; j++) {
        float i = gi[j], f = gi[H + j], g = gi[2 * H + j], o = gi[3 * H + j];
        float dcv = dc[j] + dh[j] * o * (1.0f - tc[j] * tc[j]);
        D[j] = dcv * g * i * (1.0f - i);
        D[H + j] = dcv * cp[j] * f * (1.0f - f);
        D[2 * H + j] = dcv * i * (1.0f - g * g);
        D[3 * H + j] = dh[j] * tc[j] * o * (1.0f - o);
        dc[j] = dcv * f;
    }
}

/* Deltas of step t's gate pre-activations from dh (and the LSTM's dc);
 * GRU: dh2 = the direct part dh * z of dh_(t-1); LSTM: dh2 is scratch. */
static void cell_backward(const nn_rnn *r, size_t t, size_t n, const nn_step_bufs *b)
{
    size_t H = r->H, gH = (size_t)r->g * H, ld = r->T * gH;
    for (size_t s = 0; s < n; s++) {
        const float *gi = r->Gi + s * ld + t * gH;
        const float *dh = r->dh + s * H;
        float *D = r->Dih + s * ld + t * gH;
        if (r->g == 1) {
            const float *h = b->hnext + s * b->ldnext;
            for (size_t j = 0; j < H; j++)
                D[j] = dh[j] * (1.0f - h[j] * h[j]);
        } else if (r->g == 3) {
            gru_cell_backward(gi, r->Gh + s * ld + t * gH, b->hprev + s * b->ldprev, dh,
                              D, r->Dhh + s * ld + t * gH, r->dh2 + s * H, H);
        } else {
            lstm_cell_backward(gi, b->cprev + s * b->ldprev, b->cnext + s * b->ldnext, dh,
                               r->dc + s * H, D, r->dh2 + s * H, H);
        }
    }
}

/* Truncated BPTT: steps before t0 are constants (their delta rows are 0). */
static void zero_truncated(nn_rnn *r, size_t n, size_t t0)
{
    size_t gH = (size_t)r->g * r->H, ld = r->T * gH;
    for (size_t s = 0; s < n && t0 > 0; s++) {
        memset(r->Dih + s * ld, 0, t0 * gH * sizeof(float));
        if (r->Dhh != r->Dih)
            memset(r->Dhh + s * ld, 0, t0 * gH * sizeof(float));
    }
}

ns_status nn_rnn_backward(ns_nn *m, const float *X, const float *dlast, size_t n,
                          const size_t *idx)
{
    nn_rnn *r = &m->rnn;
    size_t H = r->H, T = r->T, gH = (size_t)r->g * H, ld = T * gH;
    size_t K = m->cfg.bptt > 0 && (size_t)m->cfg.bptt < T ? (size_t)m->cfg.bptt : T, t0 = T - K;
    memcpy(r->dh, dlast, n * H * sizeof(float));
    if (r->g == 4)
        memset(r->dc, 0, n * H * sizeof(float));
    zero_truncated(r, n, t0);
    for (size_t t = T; t-- > t0;) {
        nn_step_bufs b = step_bufs(r, t);
        cell_backward(r, t, n, &b);
        if (t == t0)
            break;
        /* dh_(t-1) = [GRU: dh z] + D_hh,t W_hh */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)H, (int)gH, 1.0f,
                    r->Dhh + t * gH, (int)ld, m->theta + r->whh, (int)H, r->g == 3 ? 1.0f : 0.0f,
                    r->dh2, (int)H);
        float *tmp = r->dh;
        r->dh = r->dh2;
        r->dh2 = tmp;
    }
    float *gbih = r->bih == NN_NONE ? NULL : m->grad + r->bih;
    float *gbhh = r->bhh == NN_NONE ? NULL : m->grad + r->bhh;
    nn_linear_grad(r->Dhh, r->Hp, n * T, H, gH, m->grad + r->whh, gbhh);
    nn_linear_grad(r->Dih, X, n * T, r->C, gH, m->grad + r->wih, gbih);
    if (!m->ntaps)
        return NS_OK;
    ns_status st = nn_tap_fire(m, &m->wl[1], r->Hp, r->Dhh, n, idx);
    if (!st)
        st = nn_tap_fire(m, &m->wl[0], X, r->Dih, n, idx);
    return st;
}
