/* Losses on the classifier outputs, as torch.nn computes them, with dL/dZ
 * for the backward pass, and the class probabilities for prediction. */
#include <math.h>
#include <string.h>

#include "models/nn_int.h"

static ns_status check_labels(const ns_nn *m, const int32_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= m->nclass)
            return ns_error(NS_ERR_DATA, "label %d of sample %zu outside 0..%d (labels)", (int)y[i],
                            i, m->nclass - 1);
    return NS_OK;
}

/* The largest of C logits (*mx) and sum_j exp(z_j - mx). */
static double row_sumexp(const float *z, size_t C, float *mx)
{
    *mx = z[0];
    for (size_t j = 1; j < C; j++)
        *mx = z[j] > *mx ? z[j] : *mx;
    double se = 0;
    for (size_t j = 0; j < C; j++)
        se += exp((double)z[j] - *mx);
    return se;
}

/* CrossEntropyLoss(weight=w): sum_n w_yn (lse_n - z_n,yn) / sum_n w_yn. */
static double cross_entropy(const ns_nn *m, const float *Z, const int32_t *y, size_t n, float *D)
{
    size_t C = (size_t)m->nout;
    double total = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        const float *z = Z + i * C;
        float mx;
        double se = row_sumexp(z, C, &mx);
        double w = m->class_w ? m->class_w[y[i]] : 1.0;
        total += w * (mx + log(se) - z[y[i]]);
        wsum += w;
    }
    if (D) {
        for (size_t i = 0; i < n; i++) {
            const float *z = Z + i * C;
            float mx;
            double se = row_sumexp(z, C, &mx);
            double w = (m->class_w ? m->class_w[y[i]] : 1.0) / wsum;
            for (size_t j = 0; j < C; j++)
                D[i * C + j] = (float)(w * (exp((double)z[j] - mx) / se - (j == (size_t)y[i])));
        }
    }
    return total / wsum;
}

/* BCEWithLogitsLoss on one logit: mean of softplus(z) - y z, stable form. */
static double binary_cross_entropy(const float *Z, const int32_t *y, size_t n, float *D)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double z = Z[i], t = y[i];
        total += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));
        if (D)
            D[i] = (float)((1.0 / (1.0 + exp(-z)) - t) / (double)n);
    }
    return total / (double)n;
}

/* MSELoss against one-hot targets: mean over all n x C outputs. */
static double mean_squared(const ns_nn *m, const float *Z, const int32_t *y, size_t n, float *D)
{
    size_t C = (size_t)m->nout;
    double total = 0, scale = 2.0 / ((double)n * (double)C);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < C; j++) {
            double e = (double)Z[i * C + j] - (j == (size_t)y[i]);
            total += e * e;
            if (D)
                D[i * C + j] = (float)(scale * e);
        }
    return total / ((double)n * (double)C);
}

ns_status nn_loss(const ns_nn *m, const float *Z, const int32_t *y, size_t n, float *D,
                  double *loss)
{
    ns_status st = check_labels(m, y, n);
    if (st)
        return st;
    switch (m->cfg.loss) {
    case NS_NN_CE: *loss = cross_entropy(m, Z, y, n, D); break;
    case NS_NN_BCE: *loss = binary_cross_entropy(Z, y, n, D); break;
    case NS_NN_MSE: *loss = mean_squared(m, Z, y, n, D); break;
    }
    if (!isfinite(*loss))
        return ns_error(NS_ERR_NUMERIC, "loss is %g, not finite", *loss); /* callers say why */
    return NS_OK;
}

void nn_output_proba(const ns_nn *m, const float *Z, size_t n, float *proba)
{
    size_t C = (size_t)m->nclass;
    for (size_t i = 0; i < n; i++) {
        float *p = proba + i * C;
        if (m->cfg.loss == NS_NN_BCE) {
            p[1] = (float)(1.0 / (1.0 + exp(-(double)Z[i])));
            p[0] = 1.0f - p[1];
        } else if (m->cfg.loss == NS_NN_MSE) {
            memcpy(p, Z + i * C, C * sizeof *p);
        } else {
            const float *z = Z + i * C;
            float mx;
            double se = row_sumexp(z, C, &mx);
            for (size_t j = 0; j < C; j++)
                p[j] = (float)(exp((double)z[j] - mx) / se);
        }
    }
}
