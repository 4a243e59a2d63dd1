/* ns_nn_fit: epochs of mini-batches, a seeded validation split, early
 * stopping with the best weights restored. Everything is allocated before
 * the first step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn_int.h"

typedef struct {
    size_t *order;     /* training rows of X, shuffled each epoch */
    size_t ntrain;
    size_t *val;       /* validation rows of X (split) or NULL */
    size_t nval;
    const float *Xv;   /* separate validation set, or NULL */
    const int32_t *yv;
    float *best;       /* parameters of the best validation loss */
} nn_fit_plan;

static ns_status plan_fit(ns_nn *m, size_t n, const float *Xval, size_t nval, nn_fit_plan *p)
{
    memset(p, 0, sizeof *p);
    p->order = ns_alloc(n, sizeof(size_t));
    if (!p->order)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        p->order[i] = i;
    p->ntrain = n;
    if (Xval && nval > 0) {
        p->Xv = Xval;
        p->nval = nval;
    } else if (m->cfg.val_fraction > 0 && n >= 2) {
        ns_rng_shuffle(m->rng, p->order, n);
        size_t nv = (size_t)floor(m->cfg.val_fraction * (double)n + 0.5);
        nv = nv < 1 ? 1 : nv > n - 1 ? n - 1 : nv;
        p->val = p->order; /* the first nv of the permutation */
        p->nval = nv;
        p->order += nv;
        p->ntrain = n - nv;
    }
    m->hist = ns_calloc((size_t)m->cfg.epochs + 1, sizeof *m->hist);
    if (p->nval && m->cfg.patience > 0)
        p->best = ns_alloc(m->ntheta, sizeof(float));
    if (!m->hist || (p->nval && m->cfg.patience > 0 && !p->best))
        return NS_ERR_NOMEM;
    return NS_OK;
}

static void free_plan(nn_fit_plan *p)
{
    free(p->val ? p->val : p->order);
    free(p->best);
}

static ns_status train_epoch(ns_nn *m, const float *X, const int32_t *y, nn_fit_plan *p,
                             double *mean_loss)
{
    if (m->cfg.shuffle)
        ns_rng_shuffle(m->rng, p->order, p->ntrain);
    size_t B = (size_t)m->cfg.batch;
    double sum = 0;
    for (size_t b0 = 0; b0 < p->ntrain; b0 += B) {
        size_t nb = p->ntrain - b0 < B ? p->ntrain - b0 : B;
        for (size_t i = 0; i < nb; i++) {
            size_t r = p->order[b0 + i];
            memcpy(m->xb + i * m->in_size, X + r * m->in_size, m->in_size * sizeof(float));
            m->yb[i] = y[r];
            m->bidx[i] = r;
        }
        double l;
        ns_status st = ns_nn_forward_backward(m, m->xb, m->yb, nb, m->bidx, &l);
        if (!st)
            st = ns_nn_optimizer_step(m);
        if (st == NS_ERR_NUMERIC) /* diverged: say when (found by its epoch) and what to try */
            return ns_error(st, "loss is not finite (%g): lower the learning rate (epoch %d of %d, "
                            "batch %zu, training)", l, m->epoch + 1, m->cfg.epochs, b0 / B + 1);
        if (st)
            return st;
        sum += l * (double)nb;
    }
    *mean_loss = sum / (double)p->ntrain;
    return NS_OK;
}

static ns_status validate(ns_nn *m, const float *X, const int32_t *y, const nn_fit_plan *p,
                          double *loss, double *acc)
{
    *loss = *acc = NAN;
    if (!p->nval)
        return NS_OK;
    if (p->Xv)
        return ns_nn_evaluate(m, p->Xv, p->yv, p->nval, loss, acc);
    /* rows of the split, evaluated through a copy of their labels' rows */
    double total = 0, wsum = 0, correct = 0;
    for (size_t b0 = 0; b0 < p->nval; b0 += m->cap) {
        size_t nb = p->nval - b0 < m->cap ? p->nval - b0 : m->cap;
        for (size_t i = 0; i < nb; i++) {
            size_t r = p->val[b0 + i];
            memcpy(m->xb + i * m->in_size, X + r * m->in_size, m->in_size * sizeof(float));
            m->yb[i] = y[r];
        }
        double l, a;
        ns_status st = ns_nn_evaluate(m, m->xb, m->yb, nb, &l, &a);
        if (st)
            return st;
        double w = 0;
        for (size_t i = 0; i < nb; i++)
            w += m->class_w ? m->class_w[m->yb[i]] : 1.0;
        total += l * w;
        wsum += w;
        correct += a * (double)nb;
    }
    *loss = total / wsum;
    *acc = correct / (double)p->nval;
    return NS_OK;
}

ns_status ns_nn_fit(ns_nn *m, const float *X, const int32_t *y, size_t n, const float *Xval,
                    const int32_t *yval, size_t nval)
{
    if (n == 0)
        return ns_error(NS_ERR_ARG, "no training samples (training)");
    free(m->hist);
    m->hist = NULL;
    m->nhist = 0;
    nn_fit_plan p;
    ns_status st = plan_fit(m, n, Xval, nval, &p);
    p.yv = yval;
    double best = INFINITY;
    int wait = 0;
    for (int e = 0; !st && e < m->cfg.epochs; e++) {
        ns_nn_epoch_stats *h = &m->hist[m->nhist];
        m->epoch = e;
        h->epoch = e;
        st = train_epoch(m, X, y, &p, &h->train_loss);
        if (!st) {
            st = validate(m, X, y, &p, &h->val_loss, &h->val_acc);
            if (st == NS_ERR_NUMERIC) /* the epoch's last step diverged */
                st = ns_error(st,
                              "validation loss is not finite: lower the learning rate (epoch %d of "
                              "%d, training)",
                              e + 1, m->cfg.epochs);
        }
        if (st)
            break;
        m->nhist++;
        ns_debug("epoch %d: train loss %.6g, validation loss %.6g, accuracy %.4g", e,
                 h->train_loss, h->val_loss, h->val_acc);
        if (!p.best)
            continue;
        if (h->val_loss < best) {
            best = h->val_loss;
            wait = 0;
            memcpy(p.best, m->theta, m->ntheta * sizeof(float));
        } else if (++wait >= m->cfg.patience) {
            ns_debug("early stop after epoch %d (best validation loss %.6g)", e, best);
            break;
        }
    }
    if (!st && p.best && isfinite(best))
        memcpy(m->theta, p.best, m->ntheta * sizeof(float));
    free_plan(&p);
    return st;
}
