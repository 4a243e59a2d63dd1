/* edAD through one recurrent layer (RNN tanh, GRU r,z,n, LSTM i,f,g,o, as
 * models/nn_rnn.c): the shared rnn.ih input (x_t) and rnn.hh input (h_(t-1))
 * give every gate by two GEMMs over all rows; then backpropagation through
 * time from the last hidden state's delta. Rows are n*T + t. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/edad_int.h"

typedef struct {
    size_t N, T, C, H, g, gH, t0;
    const float *X, *Hp;      /* N*T x C, N*T x H (shared) */
    float *Gi, *Gh;           /* N*T x gH: gate values; GRU: hidden projection */
    float *Cs;                /* LSTM: cell state c_t, N*T x H */
    float *hlast;             /* N x H */
    float *dh, *dh2, *dc, *tc;/* N x H */
    float *Dih, *Dhh;         /* the layers' deltas (D[0], D[1]) */
} rnn_state;

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Gate values (and the LSTM cell states) of every row, and h_(T-1). */
static void gates(const edad_model *e, rnn_state *r)
{
    size_t H = r->H, gH = r->gH, rows = r->N * r->T;
    edad_linear(e, 0, r->X, rows, r->Gi);
    edad_linear(e, 1, r->Hp, rows, r->Gh); /* h_(-1) = 0: b_hh only */
    for (size_t row = 0; row < rows; row++) {
        float *gi = r->Gi + row * gH, *gh = r->Gh + row * gH;
        if (r->g == 3) {
            for (size_t j = 0; j < 2 * H; j++)
                gi[j] = sigm(gi[j] + gh[j]);
            for (size_t j = 0; j < H; j++)
                gi[2 * H + j] = tanhf(gi[2 * H + j] + gi[j] * gh[2 * H + j]);
            continue;
        }
        for (size_t j = 0; j < gH; j++)
            gi[j] += gh[j];
        for (size_t j = 0; j < gH; j++) /* RNN: tanh; LSTM: i f sigmoid, g tanh, o sigmoid */
            gi[j] = r->g == 1 || (j >= 2 * H && j < 3 * H) ? tanhf(gi[j]) : sigm(gi[j]);
    }
    for (size_t s = 0; s < r->N; s++) {
        const float *gl = r->Gi + (s * r->T + r->T - 1) * gH, *hp = r->Hp + (s * r->T + r->T - 1) * H;
        float *h = r->hlast + s * H;
        for (size_t t = 0; r->g == 4 && t < r->T; t++) { /* c_t = f c_(t-1) + i g */
            const float *gt = r->Gi + (s * r->T + t) * gH;
            float *c = r->Cs + (s * r->T + t) * H;
            for (size_t j = 0; j < H; j++)
                c[j] = gt[H + j] * (t ? c[j - H] : 0.0f) + gt[j] * gt[2 * H + j];
        }
        for (size_t j = 0; j < H; j++) {
            if (r->g == 1)
                h[j] = gl[j];
            else if (r->g == 3)
                h[j] = (1.0f - gl[H + j]) * gl[2 * H + j] + gl[H + j] * hp[j];
            else
                h[j] = gl[3 * H + j] * tanhf(r->Cs[(s * r->T + r->T - 1) * H + j]);
        }
    }
}

/* Step t of sample s: the gate deltas from dh (and dc), as models/. */
static void cell_backward(rnn_state *r, size_t s, size_t t)
{
    size_t H = r->H, gH = r->gH, row = s * r->T + t;
    const float *gi = r->Gi + row * gH, *dh = r->dh + s * H, *hp = r->Hp + row * H;
    float *D = r->Dih + row * gH, *Dh = r->Dhh + row * gH;
    for (size_t j = 0; j < H && r->g == 1; j++) {
        float h = t + 1 < r->T ? r->Hp[(row + 1) * H + j] : r->hlast[s * H + j];
        D[j] = Dh[j] = dh[j] * (1.0f - h * h);
    }
    for (size_t j = 0; j < H && r->g == 3; j++) {
        const float *gh = r->Gh + row * gH;
        float rr = gi[j], z = gi[H + j], nn = gi[2 * H + j];
        float dnp = dh[j] * (1.0f - z) * (1.0f - nn * nn), dz = dh[j] * (hp[j] - nn);
        float drp = dnp * gh[2 * H + j] * rr * (1.0f - rr), dzp = dz * z * (1.0f - z);
        D[j] = Dh[j] = drp;
        D[H + j] = Dh[H + j] = dzp;
        D[2 * H + j] = dnp;
        Dh[2 * H + j] = dnp * rr;
        r->dh2[s * H + j] = dh[j] * z;
    }
    for (size_t j = 0; j < H && r->g == 4; j++) {
        const float *c = r->Cs + row * H;
        float cp = t ? c[j - H] : 0.0f, tc = tanhf(c[j]);
        float i = gi[j], f = gi[H + j], g = gi[2 * H + j], o = gi[3 * H + j];
        float dcv = r->dc[s * H + j] + dh[j] * o * (1.0f - tc * tc);
        D[j] = Dh[j] = dcv * g * i * (1.0f - i);
        D[H + j] = Dh[H + j] = dcv * cp * f * (1.0f - f);
        D[2 * H + j] = Dh[2 * H + j] = dcv * i * (1.0f - g * g);
        D[3 * H + j] = Dh[3 * H + j] = dh[j] * tc * o * (1.0f - o);
        r->dc[s * H + j] = dcv * f;
    }
}

static void bptt(const edad_model *e, rnn_state *r)
{
    size_t H = r->H, gH = r->gH, ld = r->T * gH;
    for (size_t s = 0; s < r->N && r->t0 > 0; s++) { /* truncated steps: zero rows */
        memset(r->Dih + s * ld, 0, r->t0 * gH * sizeof(float));
        memset(r->Dhh + s * ld, 0, r->t0 * gH * sizeof(float));
    }
    memset(r->dc, 0, r->N * H * sizeof(float));
    for (size_t t = r->T; t-- > r->t0;) {
        for (size_t s = 0; s < r->N; s++)
            cell_backward(r, s, t);
        if (t == r->t0)
            break;
        /* dh_(t-1) = [GRU: dh z] + D_hh,t W_hh */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)r->N, (int)H, (int)gH, 1.0f,
                    r->Dhh + t * gH, (int)ld, e->theta + e->w[1], (int)H,
                    r->g == 3 ? 1.0f : 0.0f, r->dh2, (int)H);
        float *tmp = r->dh;
        r->dh = r->dh2;
        r->dh2 = tmp;
    }
}

ns_status edad_rnn_trunk(const edad_model *e, const ns_matrix *A, ns_matrix *D, size_t N,
                         float *dfeat)
{
    rnn_state r = {0};
    r.N = N, r.T = e->li[0].rows_per_sample, r.C = e->li[0].h_in, r.H = e->li[1].h_in;
    r.gH = e->li[0].h_out, r.g = r.gH / r.H;
    size_t K = e->cfg->bptt > 0 && (size_t)e->cfg->bptt < r.T ? (size_t)e->cfg->bptt : r.T;
    r.t0 = r.T - K;
    r.X = A[0].data, r.Hp = A[1].data, r.Dih = D[0].data, r.Dhh = D[1].data;
    size_t rows = N * r.T;
    r.Gi = ns_alloc(rows * r.gH, sizeof(float));
    r.Gh = ns_alloc(rows * r.gH, sizeof(float));
    r.Cs = r.g == 4 ? ns_alloc(rows * r.H, sizeof(float)) : NULL;
    r.hlast = ns_alloc(N * r.H, sizeof(float));
    r.dh2 = ns_calloc(N * r.H, sizeof(float));
    r.dc = ns_alloc(N * r.H, sizeof(float));
    ns_status st = (!r.Gi || !r.Gh || (r.g == 4 && !r.Cs) || !r.hlast || !r.dh2 || !r.dc)
                       ? NS_ERR_NOMEM : NS_OK;
    float *dh_own = r.dh2; /* dh and dh2 swap during the loop; dfeat is the caller's */
    if (!st) {
        gates(e, &r);
        edad_feat_mask(e, dfeat, A[e->first_fc].data, r.hlast, N * r.H);
        r.dh = dfeat;
        bptt(e, &r);
    }
    free(r.Gi), free(r.Gh), free(r.Cs), free(r.hlast), free(dh_own), free(r.dc);
    return st;
}
