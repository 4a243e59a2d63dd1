/* neurospectra models, neural-network part: dense, conv1d, Elman RNN, GRU and
 * LSTM classifiers in float32 with BLAS, PyTorch-compatible checkpoints, and
 * the layer tap (per weight layer and step: the input activations A and the
 * deltas D with grad W = D^T A) that spectra/ and dist/ consume.
 *
 * Use:
 *   ns_nn_config cfg;  ns_nn_config_default(&cfg);
 *   ns_nn_spec_parse("gru:128", &cfg);          // + set cfg fields
 *   ns_nn *m;  ns_nn_create(&cfg, 2, (size_t[]){T, C}, nclass, &m);
 *   ns_nn_tap_subscribe(m, my_tap, my_data);    // optional
 *   ns_nn_fit(m, X, y, n, NULL, NULL, 0);       // or drive step by step:
 *   //   ns_nn_forward_backward(m, Xb, yb, nb, idx, &loss); edit grads; ns_nn_optimizer_step(m);
 *   ns_nn_predict(m, X, n, proba);  ns_nn_save(m, "model.npz");  ns_nn_free(m);
 *
 * Data: X is row-major float32, one sample after another. A sample is a
 * feature vector of F values (tabular, shape {F}) or a sequence of T steps of
 * C channels (shape {T, C}, step-major, as PyTorch's batch_first). An MLP
 * flattens a sequence (x.flatten(1)); conv1d and recurrent models read a
 * tabular sample as T = F steps of C = 1 channel. Labels are class indices
 * 0..nclass-1.
 *
 * Architecture (docs/models.md shows the equivalent PyTorch modules):
 *   mlp:h1,h2,...       fc0 (in->h1), act, [dropout], fc1 (h1->h2), ..., fcL (->out)
 *   cnn1d:CkK[sS][pP][dD],...[,h,...]
 *                       conv0, act, conv1, act, ..., global average pooling over
 *                       time, [dropout], then fc0.. (plain numbers after the conv
 *                       items are hidden dense layers with act), classifier last
 *   rnn:H[,h,...]  gru:H  lstm:H
 *                       one recurrent layer (PyTorch nn.RNN(tanh)/nn.GRU/nn.LSTM,
 *                       batch_first, zero initial state), its last hidden state,
 *                       [dropout], then fc0.. as above
 * The activation (default relu) follows every hidden dense and every conv
 * layer, never the classifier; recurrent cells use their fixed tanh/sigmoid.
 * Dropout (inverted, p = cfg.dropout) is applied to the input of every dense
 * layer whose input is not the raw data. bias = 0 removes every bias.
 * Outputs: cross-entropy and MSE: nclass logits; BCE: one logit (nclass 2).
 *
 * Parameters and checkpoints use PyTorch state_dict() names and layouts:
 * fc<i>.weight [out, in], fc<i>.bias [out]; conv<i>.weight [out, in, k],
 * conv<i>.bias; rnn.weight_ih_l0 [g H, C], rnn.weight_hh_l0 [g H, H],
 * rnn.bias_ih_l0, rnn.bias_hh_l0 (g = 1 RNN, 3 GRU in r,z,n order, 4 LSTM in
 * i,f,g,o order). Initialisation follows PyTorch's defaults (uniform
 * +-1/sqrt(fan_in), +-1/sqrt(H) for recurrent layers), from cfg.seed. */
#ifndef NS_MODELS_NN_H
#define NS_MODELS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_NN_MAXLAYERS 16 /* conv layers, and hidden dense layers, each */

typedef enum { NS_NN_MLP = 0, NS_NN_CNN1D, NS_NN_RNN, NS_NN_GRU, NS_NN_LSTM } ns_nn_arch;
typedef enum { NS_NN_LINEAR = 0, NS_NN_RELU, NS_NN_LEAKY, NS_NN_TANH, NS_NN_SIGMOID } ns_nn_act;
/* CE: softmax cross-entropy, mean over the batch (weighted mean with class
 * weights, as torch.nn.CrossEntropyLoss(weight=w)); BCE: sigmoid + binary
 * cross-entropy on one logit (BCEWithLogitsLoss, mean); MSE: mean over all
 * N x nclass outputs against one-hot targets (MSELoss). */
typedef enum { NS_NN_CE = 0, NS_NN_BCE, NS_NN_MSE } ns_nn_loss;
/* Optimisers with torch.optim semantics (SGD with momentum/dampening 0 and
 * optional Nesterov; Adam with L2 weight decay added to the gradient; AdamW
 * with decoupled decay p *= 1 - lr wd). */
typedef enum { NS_NN_SGD = 0, NS_NN_ADAM, NS_NN_ADAMW } ns_nn_opt;

typedef struct {
    int channels, kernel, stride, padding, dilation;
} ns_nn_conv_spec;

/* A conv1d layer as im2col sees it: cin channels in, kernel k, stride s,
 * padding p, dilation d, lin input and lout output positions. */
typedef struct {
    size_t cin, k, s, p, d, lin, lout;
} ns_nn_conv_geom;

/* The adjoint of im2col: dIn (n*lin x cin, zeroed here) receives dU
 * (n*lout x cin*k, columns c*k + j) scattered back to the input positions
 * (models/nn_conv.c; dist's edAD recomputes conv deltas with it). */
void ns_nn_col2im(const ns_nn_conv_geom *g, const float *dU, size_t n, float *dIn);

typedef struct {
    /* architecture: ns_nn_spec_parse fills these */
    ns_nn_arch arch;
    int nconv;
    ns_nn_conv_spec conv[NS_NN_MAXLAYERS];
    int hidden;                   /* recurrent hidden size H */
    int ndense;                   /* hidden dense layers (before the classifier) */
    int dense[NS_NN_MAXLAYERS];
    ns_nn_act act;                /* default NS_NN_RELU */
    float act_slope;              /* leaky slope (default 0.01) */
    int bias;                     /* default 1 */
    float dropout;                /* default 0 */
    ns_nn_loss loss;              /* default NS_NN_CE */
    const float *class_weights;   /* nclass weights for CE, or NULL (borrowed; copied by create) */
    int nclass_weights;
    /* optimisation */
    ns_nn_opt opt;                /* default Adam */
    double lr;                    /* default 1e-3 */
    double momentum;              /* SGD, default 0 */
    int nesterov;                 /* SGD, default 0 */
    double beta1, beta2, eps;     /* Adam(W): 0.9, 0.999, 1e-8 */
    double weight_decay;          /* default 0 (also for AdamW) */
    double clip;                  /* clip_grad_norm_ max norm; <= 0: off (default) */
    int bptt;                     /* truncated BPTT: backprop through the last K steps; 0 = all */
    int epochs;                   /* default 100 */
    int batch;                    /* default 32 */
    int shuffle;                  /* reshuffle every epoch, default 1 */
    uint64_t seed;                /* init, shuffling, dropout, validation split; default 0 */
    double val_fraction;          /* held out of fit's data when no validation set is given; default 0 */
    int patience;                 /* early stopping after this many epochs without a better
                                   * validation loss (best weights restored); 0 = off */
} ns_nn_config;

/* Defaults as listed above (architecture: mlp with no hidden layer). */
void ns_nn_config_default(ns_nn_config *cfg);
/* Parses "mlp:256,64", "cnn1d:16k5s2,32k3s1", "rnn:64", "gru:128", "lstm:128"
 * (see the grammar above) into the architecture fields of cfg; the other
 * fields are left alone. NS_ERR_ARG with a message naming the spec. */
ns_status ns_nn_spec_parse(const char *spec, ns_nn_config *cfg);
/* "linear", "relu", "leaky" (slope 0.01), "leaky:<slope>", "tanh", "sigmoid". */
ns_status ns_nn_act_parse(const char *s, ns_nn_act *act, float *slope);
/* "ce", "bce", "mse";  "sgd", "adam", "adamw". */
ns_status ns_nn_loss_parse(const char *s, ns_nn_loss *out);
ns_status ns_nn_opt_parse(const char *s, ns_nn_opt *out);
/* Canonical spec of cfg's architecture ("cnn1d:16k5s2p0d1,32k3s1p0d1"), into buf. */
void ns_nn_spec_format(const ns_nn_config *cfg, char *buf, size_t size);
const char *ns_nn_act_name(ns_nn_act a);

/* ------------------------------------------------------------------ model */

typedef struct ns_nn ns_nn;

/* A model for samples of shape in_shape (ndim 1: {F}; ndim 2: {T, C}) and
 * nclass >= 2 classes, initialised from cfg->seed. The workspace for
 * cfg->batch samples is allocated here: training steps do not allocate
 * (a larger batch given to ns_nn_forward_backward grows it once). */
ns_status ns_nn_create(const ns_nn_config *cfg, int in_ndim, const size_t *in_shape, int nclass,
                       ns_nn **out);
void ns_nn_free(ns_nn *m);
/* The model's configuration (borrowed; class_weights points into the model). */
const ns_nn_config *ns_nn_get_config(const ns_nn *m);
int ns_nn_nclass(const ns_nn *m);
/* Floats per sample (F, or T*C). */
size_t ns_nn_input_size(const ns_nn *m);

/* Trains for cfg.epochs epochs of mini-batches (shuffled when cfg.shuffle).
 * Validation: (Xval, yval, nval) when given, else a seeded random
 * cfg.val_fraction of the data; with a validation set and cfg.patience > 0,
 * training stops early and the weights of the best validation loss are
 * restored. The tap fires on every step, with sample indices into X. */
ns_status ns_nn_fit(ns_nn *m, const float *X, const int32_t *y, size_t n, const float *Xval,
                    const int32_t *yval, size_t nval);

/* One line of training history per finished epoch. */
typedef struct {
    int epoch;
    double train_loss; /* mean over the epoch's samples, training mode */
    double val_loss;   /* NaN without a validation set */
    double val_acc;
} ns_nn_epoch_stats;
/* History of the last fit (borrowed; valid until the next fit or free). */
const ns_nn_epoch_stats *ns_nn_history(const ns_nn *m, size_t *nepochs);

/* n x nclass class probabilities (softmax for CE; [1-p, p] for BCE; the raw
 * outputs for MSE), evaluation mode (no dropout). */
ns_status ns_nn_predict(ns_nn *m, const float *X, size_t n, float *proba);
/* Evaluation-mode loss and accuracy on (X, y). Either output may be NULL. */
ns_status ns_nn_evaluate(ns_nn *m, const float *X, const int32_t *y, size_t n, double *loss,
                         double *acc);

/* ------------------------------------------------- step-wise training API */

/* One forward and backward pass in training mode on a batch of n samples
 * (X: n x input_size, contiguous). The gradients of the loss (mean over the
 * batch) overwrite the gradient buffer (ns_nn_grads); the tap fires for every
 * weight layer. sample_idx (n entries, may be NULL = 0..n-1) is handed to tap
 * subscribers to map rows to groups. *loss receives the batch loss. The
 * weights are not changed. */
ns_status ns_nn_forward_backward(ns_nn *m, const float *X, const int32_t *y, size_t n,
                                 const size_t *sample_idx, double *loss);
/* Gradient clipping (cfg.clip, as torch.nn.utils.clip_grad_norm_ over all
 * parameters), then one optimiser step (weight decay included) with the
 * current gradient buffer, which the caller may have replaced (dSGD average,
 * dAD recomputation). Increments the step counter. */
ns_status ns_nn_optimizer_step(ns_nn *m);
/* Resets the optimiser state (momentum, Adam moments, step count). */
void ns_nn_optimizer_reset(ns_nn *m);
/* Step counter (optimiser steps so far) and the epoch reported to the tap;
 * ns_nn_fit sets the epoch, a step-wise driver may set it. */
long ns_nn_step(const ns_nn *m);
void ns_nn_set_epoch(ns_nn *m, int epoch);
/* Learning rate used by the next ns_nn_optimizer_step (schedulers). */
void ns_nn_set_lr(ns_nn *m, double lr);

/* ------------------------------------------------------------- parameters */

/* All parameters are one contiguous float vector, tensors in state_dict
 * order; the gradient vector has the same layout (for an allreduce). Both
 * borrowed, writable, valid until ns_nn_free. */
float *ns_nn_params(ns_nn *m, size_t *count);
float *ns_nn_grads(ns_nn *m, size_t *count);

typedef struct {
    const char *name;  /* "fc0.weight", "rnn.bias_hh_l0", ... (borrowed) */
    int ndim;
    size_t shape[3];
    size_t count;
    size_t offset;     /* into ns_nn_params / ns_nn_grads */
} ns_nn_param;

size_t ns_nn_param_count(const ns_nn *m);
/* Tensor i (0 <= i < ns_nn_param_count) in state_dict order. */
ns_nn_param ns_nn_param_info(const ns_nn *m, size_t i);

/* Adds every parameter (float32, state_dict names and shapes) to z. */
ns_status ns_nn_save_npz(const ns_nn *m, ns_npz *z);
/* Writes the parameters as an NPZ checkpoint (atomically). */
ns_status ns_nn_save(const ns_nn *m, const char *path);
/* Loads parameters into the model from z or a checkpoint: every parameter
 * must be present with the right shape (any numeric dtype); extra entries
 * are an error, as torch's load_state_dict(strict=True). */
ns_status ns_nn_load_npz(ns_nn *m, const ns_npz *z, const char *what);
ns_status ns_nn_load(ns_nn *m, const char *path);

/* -------------------------------------------------------------- layer tap
 *
 * For every weight layer and every training step (ns_nn_forward_backward,
 * hence ns_nn_fit) the tap hands subscribers, during the backward pass,
 *   A  (rows x h_in):  the layer's input activations, bias column excluded
 *   D  (rows x h_out): dL/dZ for Z = A W^T + b, with the batch-mean loss
 *                      (D carries the 1/N of the mean; with class weights,
 *                      the 1/sum of the batch's weights)
 * so that grad W = D^T A and grad b = D^T 1 exactly. Layers, in forward order:
 *   "conv<i>"  conv1d: A = im2col patches, rows n*P + p (sample n, output
 *              position p, P positions), columns c*k + j (input channel c,
 *              kernel tap j) as conv<i>.weight.reshape(out, -1); D rows the
 *              same (n*P + p), columns output channels.
 *   "rnn.ih"   recurrent input weights: A = x_t, D = the gate pre-activation
 *              deltas from the input side; rows n*T + t (sample n, step t).
 *   "rnn.hh"   recurrent hidden weights: A = h_(t-1) (zero for t = 0), D = the
 *              gate deltas from the hidden side, rows n*T + t, time-aligned
 *              with A (the delta of step t pairs with h_(t-1), the input of
 *              step t). Equal to rnn.ih's D for RNN and LSTM; for GRU the n
 *              block is multiplied by r. With truncated BPTT (cfg.bptt = K)
 *              the rows of steps t < T-K have D = 0.
 *   "fc<i>"    dense: A = the layer input (after dropout), rows n.
 * Sample n of the batch is sample_idx[n] of the caller's data (in ns_nn_fit:
 * the row of X). All rows n*R .. n*R+R-1 (R = rows_per_sample) belong to
 * sample n, so a group mask on samples is a block mask on rows.
 *
 * Events fire in backward order (classifier first, then downwards, rnn.hh
 * before rnn.ih), each after the layer's gradient has been computed into gW
 * (and gb) and before the optimiser step: a subscriber may overwrite gW and
 * gb (gradient override, e.g. dAD's D_all^T A_all after an allgather); the
 * backward pass to lower layers uses D, never gW. The views are borrowed and
 * valid only during the call. Nothing is copied or computed for the tap when
 * nobody subscribes. */
typedef struct {
    int layer;               /* weight-layer index in forward order */
    const char *name;        /* "fc0", "conv1", "rnn.ih", "rnn.hh" */
    const char *weight_name; /* "fc0.weight", "rnn.weight_ih_l0", ... */
    ns_matrix A;             /* rows x h_in */
    ns_matrix D;             /* rows x h_out */
    ns_matrix gW;            /* h_out x h_in (conv: C_out x C_in*k), writable */
    float *gb;               /* h_out bias gradient, writable; NULL without bias */
    size_t nsamples;         /* N: samples in the batch */
    size_t rows_per_sample;  /* R: 1 dense, T recurrent, P conv; rows = N R */
    const size_t *sample_idx;/* N indices into the caller's data (borrowed) */
    long step;               /* optimiser steps before this one (0-based step number) */
    int epoch;
} ns_nn_tap_event;

/* A subscriber. A status other than NS_OK (with ns_error set) aborts the
 * training step and is returned by ns_nn_forward_backward / ns_nn_fit. */
typedef ns_status (*ns_nn_tap_fn)(const ns_nn_tap_event *ev, void *user);

/* Subscribes fn (called for every weight layer of every step); returns a
 * subscription id >= 0, or -1 when all NS_NN_MAXTAPS slots are taken. */
#define NS_NN_MAXTAPS 8
int ns_nn_tap_subscribe(ns_nn *m, ns_nn_tap_fn fn, void *user);
void ns_nn_tap_unsubscribe(ns_nn *m, int id);

/* Weight layers (the tap's layer indices, forward order). */
typedef struct {
    const char *name;        /* "fc0", "rnn.hh", ... */
    const char *weight_name; /* parameter name of W */
    const char *bias_name;   /* parameter name of b, NULL without bias */
    size_t h_in, h_out;      /* columns of A and D */
    size_t rows_per_sample;  /* R */
} ns_nn_layer;
size_t ns_nn_layer_count(const ns_nn *m);
ns_nn_layer ns_nn_layer_info(const ns_nn *m, size_t i);

#ifdef __cplusplus
}
#endif
#endif
