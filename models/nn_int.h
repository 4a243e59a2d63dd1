/* Private to models/nn_*.c: the model structure, its workspace, and the
 * layer kernels each file implements. */
#ifndef NS_MODELS_NN_INT_H
#define NS_MODELS_NN_INT_H

#include "models/nn.h"

#define NN_NONE ((size_t)-1) /* "no such parameter" (no bias) */
#define NN_MAXPARAMS (4 * NS_NN_MAXLAYERS + 8)
#define NN_MAXWLAYERS (2 * NS_NN_MAXLAYERS + 3)

typedef struct {
    char name[32];
    int ndim;
    size_t shape[3];
    size_t count, offset;
} nn_ptensor;

typedef struct {
    size_t cin, cout, k, s, p, d, lin, lout;
    size_t w, b;         /* parameter offsets (b = NN_NONE) */
    float *U;            /* im2col patches: n*lout x cin*k */
    float *Z, *Y;        /* n*lout x cout, pre- and post-activation */
} nn_conv;

typedef struct {
    size_t in, out;
    size_t w, b;
    int hidden;          /* followed by the activation (not the classifier) */
    int drop;            /* dropout on the input (when training with p > 0) */
    float *mask, *Ad;    /* dropout mask (0 or 1/(1-p)) and dropped input */
    const float *A;      /* the input of the current pass (borrowed) */
    float *Z, *Y, *D;    /* n x out; Y only for hidden layers */
} nn_dense;

typedef struct {
    int g;               /* gate blocks: 1 RNN, 3 GRU, 4 LSTM */
    size_t C, H, T;
    size_t wih, whh, bih, bhh;
    float *Gi;           /* n x T x gH: x W_ih^T + biases, then gate values */
    float *Gh;           /* GRU: n x T x gH: h W_hh^T + b_hh */
    float *Hp, *hlast;   /* n x T x H: h_(t-1); n x H: h_(T-1) */
    float *Cp, *clast;   /* LSTM cell states, same layout */
    float *Dih, *Dhh;    /* n x T x gH deltas (Dhh == Dih except GRU) */
    float *dh, *dh2, *dc;/* n x H */
} nn_rnn;

typedef struct {
    char name[32];
    const char *wname, *bname;
    size_t h_in, h_out, rows_per_sample;
    size_t w, b;
} nn_wlayer;

typedef struct {
    ns_nn_tap_fn fn;
    void *user;
} nn_tap_sub;

struct ns_nn {
    ns_nn_config cfg;
    float *class_w;       /* nclass or NULL */
    size_t T, C, in_size; /* sample shape as seen by the trunk */
    int nclass, nout;

    size_t nparams;
    nn_ptensor params[NN_MAXPARAMS];
    size_t ntheta;
    float *theta, *grad, *m1, *m2; /* parameters, gradients, optimiser state */
    long step;
    int epoch;

    int nconv, nfc, has_rnn;
    nn_conv conv[NS_NN_MAXLAYERS];
    nn_dense fc[NS_NN_MAXLAYERS + 1];
    nn_rnn rnn;
    size_t feat_dim;      /* width of the head's input */

    size_t nwl;
    nn_wlayer wl[NN_MAXWLAYERS];
    nn_tap_sub taps[NS_NN_MAXTAPS];
    int ntaps;

    /* workspace for cap samples (one arena) */
    size_t cap;
    float *arena;
    float *xb, *feat, *dA, *dY, *dU;
    int32_t *yb;
    size_t *iota, *bidx;

    ns_rng *rng;          /* dropout and shuffling */
    ns_nn_epoch_stats *hist;
    size_t nhist;
};

/* nn_model.c */
ns_status nn_reserve(ns_nn *m, size_t cap);
const nn_wlayer *nn_wlayer_of(const ns_nn *m, size_t w_offset);
ns_status nn_tap_fire(ns_nn *m, const nn_wlayer *wl, const float *A, const float *D, size_t n,
                      const size_t *idx);

/* nn_act.c: activations and their derivatives, in place. */
/* y = sigmoid(x), y = tanh(x) over n floats (y may be x): SSE vectors of 4
 * with Cephes' single-precision exp (about 2 ulp), no libm calls; the tail
 * goes through the same vector code, so every element is computed alike. */
void nn_vsigmoid(const float *x, float *y, size_t n);
void nn_vtanh(const float *x, float *y, size_t n);
void nn_act_forward(ns_nn_act a, float slope, const float *z, float *y, size_t count);
/* d *= phi'(z) (y = phi(z) given for tanh and sigmoid). */
void nn_act_backward(ns_nn_act a, float slope, const float *z, const float *y, float *d,
                     size_t count);
/* Z (n x out) = A W^T + b (b may be NULL). */
void nn_linear(const float *A, size_t n, size_t in, const float *W, const float *b, size_t out,
               float *Z);
/* gW = D^T A, gb = D^T 1 (gb may be NULL). */
void nn_linear_grad(const float *D, const float *A, size_t n, size_t in, size_t out, float *gW,
                    float *gb);

/* nn_dense.c: the head (fc0..fcL). */
void nn_dense_forward(ns_nn *m, const float *feat, size_t n, int train);
/* From the classifier's delta (m->fc[last].D) down; *dfeat receives the
 * delta of the head's input (NULL when the input is raw data). */
ns_status nn_dense_backward(ns_nn *m, size_t n, const size_t *idx, int train,
                            const float **dfeat);

/* nn_conv.c */
void nn_conv_forward(ns_nn *m, const float *X, size_t n);
ns_status nn_conv_backward(ns_nn *m, const float *dfeat, size_t n, const size_t *idx);

/* nn_rnn.c */
void nn_rnn_forward(ns_nn *m, const float *X, size_t n);
ns_status nn_rnn_backward(ns_nn *m, const float *X, const float *dlast, size_t n,
                          const size_t *idx);

/* nn_loss.c: loss of the outputs (n x nout) and, when D != NULL, dL/dZ. */
ns_status nn_loss(const ns_nn *m, const float *Z, const int32_t *y, size_t n, float *D,
                  double *loss);
void nn_output_proba(const ns_nn *m, const float *Z, size_t n, float *proba);

/* nn_train.c */
ns_status nn_forward(ns_nn *m, const float *X, size_t n, int train);

#endif
