/* Forward/backward passes, training by mini-batches with early stopping,
 * prediction and evaluation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn_int.h"

ns_status nn_forward(ns_nn *m, const float *X, size_t n, int train)
{
    const float *feat = X;
    if (m->nconv) {
        nn_conv_forward(m, X, n);
        feat = m->feat;
    } else if (m->has_rnn) {
        nn_rnn_forward(m, X, n);
        feat = m->rnn.hlast;
    }
    nn_dense_forward(m, feat, n, train);
    return NS_OK;
}

static const float *logits(const ns_nn *m) { return m->fc[m->nfc - 1].Z; }

ns_status ns_nn_forward_backward(ns_nn *m, const float *X, const int32_t *y, size_t n,
                                 const size_t *sample_idx, double *loss)
{
    if (n == 0)
        return ns_error(NS_ERR_ARG, "empty batch (training step)");
    ns_status st = nn_reserve(m, n);
    if (st)
        return st;
    const size_t *idx = sample_idx ? sample_idx : m->iota;
    nn_forward(m, X, n, 1);
    double l;
    st = nn_loss(m, logits(m), y, n, m->fc[m->nfc - 1].D, &l);
    const float *dfeat = NULL;
    if (!st)
        st = nn_dense_backward(m, n, idx, 1, &dfeat);
    if (!st && m->nconv)
        st = nn_conv_backward(m, dfeat, n, idx);
    else if (!st && m->has_rnn)
        st = nn_rnn_backward(m, X, dfeat, n, idx);
    if (loss)
        *loss = l;
    return st;
}

/* Copies the samples idx[0..nb) of (X, y) into the batch buffers. */
static void gather(ns_nn *m, const float *X, const int32_t *y, const size_t *idx, size_t nb)
{
    for (size_t i = 0; i < nb; i++) {
        memcpy(m->xb + i * m->in_size, X + idx[i] * m->in_size, m->in_size * sizeof(float));
        if (y)
            m->yb[i] = y[idx[i]];
        m->bidx[i] = idx[i];
    }
}

/* Sum of the weights the loss averages over (n without class weights). */
static double loss_weight(const ns_nn *m, const int32_t *y, size_t n)
{
    if (!m->class_w)
        return (double)n;
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w += m->class_w[y[i]];
    return w;
}

static size_t predicted_class(const ns_nn *m, const float *z)
{
    if (m->cfg.loss == NS_NN_BCE)
        return z[0] > 0;
    size_t best = 0;
    for (size_t j = 1; j < (size_t)m->nout; j++)
        if (z[j] > z[best])
            best = j;
    return best;
}

/* Evaluation-mode loss and accuracy over rows idx (NULL: rows 0..n-1). */
static ns_status eval_rows(ns_nn *m, const float *X, const int32_t *y, const size_t *idx, size_t n,
                           double *loss, double *acc)
{
    double total = 0, wsum = 0;
    size_t correct = 0;
    for (size_t b0 = 0; b0 < n; b0 += m->cap) {
        size_t nb = n - b0 < m->cap ? n - b0 : m->cap;
        const float *xb = X + b0 * m->in_size;
        const int32_t *yb = y + b0;
        if (idx) {
            gather(m, X, y, idx + b0, nb);
            xb = m->xb;
            yb = m->yb;
        }
        nn_forward(m, xb, nb, 0);
        double l;
        ns_status st = nn_loss(m, logits(m), yb, nb, NULL, &l);
        if (st)
            return st;
        double w = loss_weight(m, yb, nb);
        total += l * w;
        wsum += w;
        for (size_t i = 0; i < nb; i++)
            correct += predicted_class(m, logits(m) + i * (size_t)m->nout) == (size_t)yb[i];
    }
    if (loss)
        *loss = total / wsum;
    if (acc)
        *acc = (double)correct / (double)n;
    return NS_OK;
}

ns_status ns_nn_evaluate(ns_nn *m, const float *X, const int32_t *y, size_t n, double *loss,
                         double *acc)
{
    if (n == 0)
        return ns_error(NS_ERR_ARG, "no samples to evaluate (evaluation)");
    return eval_rows(m, X, y, NULL, n, loss, acc);
}

ns_status ns_nn_predict(ns_nn *m, const float *X, size_t n, float *proba)
{
    for (size_t b0 = 0; b0 < n; b0 += m->cap) {
        size_t nb = n - b0 < m->cap ? n - b0 : m->cap;
        nn_forward(m, X + b0 * m->in_size, nb, 0);
        nn_output_proba(m, logits(m), nb, proba + b0 * (size_t)m->nclass);
    }
    return NS_OK;
}

const ns_nn_epoch_stats *ns_nn_history(const ns_nn *m, size_t *nepochs)
{
    *nepochs = m->nhist;
    return m->hist;
}
