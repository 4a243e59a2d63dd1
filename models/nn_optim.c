/* Gradient clipping and the optimisers, element for element as torch.optim
 * (1.13, single-tensor path) computes them, over the flat parameter vector. */
#include <math.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include <string.h>

#include "models/nn_int.h"

/* torch.nn.utils.clip_grad_norm_(max_norm): scale by max/(norm + 1e-6)
 * when that is below 1. */
static void clip_gradients(ns_nn *m)
{
    double ss = 0;
    for (size_t i = 0; i < m->ntheta; i++)
        ss += (double)m->grad[i] * m->grad[i];
    double coef = m->cfg.clip / (sqrt(ss) + 1e-6);
    if (coef >= 1.0)
        return;
    float c = (float)coef;
    for (size_t i = 0; i < m->ntheta; i++)
        m->grad[i] *= c;
}

/* Local restrict pointers: through m-> the compiler must assume a store to
 * theta[i] may change m->theta, and reloads every pointer per element. */
static void sgd_step(ns_nn *m)
{
    float lr = (float)m->cfg.lr, wd = (float)m->cfg.weight_decay, mu = (float)m->cfg.momentum;
    float *restrict w = m->theta, *restrict buf = m->m1;
    const float *restrict grad = m->grad;
    size_t n = m->ntheta;
    int first = m->step == 0, nesterov = m->cfg.nesterov;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * w[i];
        if (mu != 0) {
            float b = first ? g : mu * buf[i] + g;
            buf[i] = b;
            g = nesterov ? g + mu * b : b;
        }
        w[i] -= lr * g;
    }
}

typedef float nn_v4f __attribute__((vector_size(16)));

/* Elementwise square root of 4 floats (SSE; the scalar sqrtf keeps a
 * branch for errno that stops vectorisation). */
static inline nn_v4f v_sqrt(nn_v4f x)
{
#if defined(__SSE__)
    return (nn_v4f)_mm_sqrt_ps((__m128)x);
#else
    return (nn_v4f){sqrtf(x[0]), sqrtf(x[1]), sqrtf(x[2]), sqrtf(x[3])};
#endif
}

/* torch.optim.Adam/AdamW (1.13 single-tensor), 4 elements at a time:
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). */
static void adam_block(nn_v4f *w, nn_v4f *m1, nn_v4f *m2, nn_v4f g, float b1, float b2,
                       float eps, float step_size, float bc2_sqrt, float wd, float decay,
                       int decoupled)
{
    if (decoupled)
        *w *= decay;
    else
        g += wd * *w;
    *m1 = *m1 * b1 + g * (1.0f - b1);
    *m2 = *m2 * b2 + g * g * (1.0f - b2);
    nn_v4f denom = v_sqrt(*m2) / bc2_sqrt + eps;
    *w -= step_size * (*m1 / denom);
}

static void adam_step(ns_nn *m)
{
    double t = (double)(m->step + 1);
    float b1 = (float)m->cfg.beta1, b2 = (float)m->cfg.beta2, eps = (float)m->cfg.eps;
    double bc1 = 1.0 - pow(m->cfg.beta1, t), bc2 = 1.0 - pow(m->cfg.beta2, t);
    float step_size = (float)(m->cfg.lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float wd = (float)m->cfg.weight_decay, decay = (float)(1.0 - m->cfg.lr * m->cfg.weight_decay);
    int decoupled = m->cfg.opt == NS_NN_ADAMW;
    float *restrict w = m->theta, *restrict m1 = m->m1, *restrict m2 = m->m2;
    const float *restrict grad = m->grad;
    size_t n = m->ntheta;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        nn_v4f vw, vm1, vm2, vg;
        memcpy(&vw, w + i, sizeof vw);
        memcpy(&vm1, m1 + i, sizeof vw);
        memcpy(&vm2, m2 + i, sizeof vw);
        memcpy(&vg, grad + i, sizeof vw);
        adam_block(&vw, &vm1, &vm2, vg, b1, b2, eps, step_size, bc2_sqrt, wd, decay, decoupled);
        memcpy(w + i, &vw, sizeof vw);
        memcpy(m1 + i, &vm1, sizeof vw);
        memcpy(m2 + i, &vm2, sizeof vw);
    }
    if (i < n) { /* the tail through the same vector code */
        size_t bytes = (n - i) * sizeof(float);
        nn_v4f vw = {0, 0, 0, 0}, vm1 = vw, vm2 = vw, vg = vw;
        memcpy(&vw, w + i, bytes);
        memcpy(&vm1, m1 + i, bytes);
        memcpy(&vm2, m2 + i, bytes);
        memcpy(&vg, grad + i, bytes);
        adam_block(&vw, &vm1, &vm2, vg, b1, b2, eps, step_size, bc2_sqrt, wd, decay, decoupled);
        memcpy(w + i, &vw, bytes);
        memcpy(m1 + i, &vm1, bytes);
        memcpy(m2 + i, &vm2, bytes);
    }
}

ns_status ns_nn_optimizer_step(ns_nn *m)
{
    if (m->cfg.clip > 0)
        clip_gradients(m);
    if (m->cfg.opt == NS_NN_SGD)
        sgd_step(m);
    else
        adam_step(m);
    m->step++;
    return NS_OK;
}

void ns_nn_optimizer_reset(ns_nn *m)
{
    memset(m->m1, 0, 2 * m->ntheta * sizeof(float));
    m->step = 0;
}
