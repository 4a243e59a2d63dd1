/* Gradient clipping and the optimisers, element for element as torch.optim
 * (1.13, single-tensor path) computes them, over the flat parameter vector. */
#include <math.h>
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

static void sgd_step(ns_nn *m)
{
    float lr = (float)m->cfg.lr, wd = (float)m->cfg.weight_decay, mu = (float)m->cfg.momentum;
    int first = m->step == 0;
    for (size_t i = 0; i < m->ntheta; i++) {
        float g = m->grad[i];
        if (wd != 0)
            g += wd * m->theta[i];
        if (mu != 0) {
            float buf = first ? g : mu * m->m1[i] + g;
            m->m1[i] = buf;
            g = m->cfg.nesterov ? g + mu * buf : buf;
        }
        m->theta[i] -= lr * g;
    }
}

static void adam_step(ns_nn *m)
{
    double t = (double)(m->step + 1);
    float b1 = (float)m->cfg.beta1, b2 = (float)m->cfg.beta2, eps = (float)m->cfg.eps;
    double bc1 = 1.0 - pow(m->cfg.beta1, t), bc2 = 1.0 - pow(m->cfg.beta2, t);
    float step_size = (float)(m->cfg.lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float wd = (float)m->cfg.weight_decay;
    int decoupled = m->cfg.opt == NS_NN_ADAMW;
    float decay = (float)(1.0 - m->cfg.lr * m->cfg.weight_decay);
    for (size_t i = 0; i < m->ntheta; i++) {
        float g = m->grad[i];
        if (decoupled)
            m->theta[i] *= decay;
        else if (wd != 0)
            g += wd * m->theta[i];
        float m1 = m->m1[i] * b1 + g * (1.0f - b1);
        float m2 = m->m2[i] * b2 + g * g * (1.0f - b2);
        m->m1[i] = m1;
        m->m2[i] = m2;
        float denom = sqrtf(m2) / bc2_sqrt + eps;
        m->theta[i] -= step_size * (m1 / denom);
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
