/* Infomax ICA (Bell & Sejnowski, logistic, not extended) with the constants
 * of GIFT's icatb_runica: natural gradient on blocks of shuffled columns,
 * annealing when the weight change turns by more than 60 degrees, restarts
 * with a smaller learning rate when the weights blow up. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/fastmath_int.h"
#include "ica/infomax_int.h"

#define MAX_WEIGHT 1e8
#define BLOWUP 1e9
#define BLOWUP_FAC 0.8
#define RESTART_FAC 0.9
#define MIN_LRATE 1e-6
#define ANNEAL_DEG 60.0
#define ANNEAL_STEP 0.9

typedef struct {
    size_t K, V, b;
    float *xt;        /* V x K: the sphered data transposed, a voxel per row */
    float *w, *bias;  /* K x K weights, K bias */
    float *xb, *u, *y, *m, *tmp; /* block workspaces (xb: x_b^T, b x K) */
    size_t *perm;
} infomax_ws;

static void ws_free(infomax_ws *s)
{
    free(s->w), free(s->bias), free(s->xb), free(s->u), free(s->y), free(s->m), free(s->tmp);
    free(s->perm), free(s->xt);
}

/* The workspaces, and x (K x V) transposed into s->xt, so that a block's
 * shuffled columns are gathered as contiguous rows (a strided gather of
 * K x b scattered floats took a third of Infomax's time at K = 100). */
static ns_status ws_alloc(infomax_ws *s, const float *x)
{
    size_t K = s->K, b = s->b, V = s->V;
    s->xt = ns_alloc(V * K, sizeof(float));
    for (size_t v0 = 0; s->xt && v0 < V; v0 += 64) /* by column tiles */
        for (size_t i = 0; i < K; i++)
            for (size_t v = v0; v < V && v < v0 + 64; v++)
                s->xt[v * K + i] = x[i * V + v];
    s->w = ns_alloc(K * K, sizeof(float));
    s->bias = ns_calloc(K, sizeof(float));
    s->xb = ns_alloc(K * b, sizeof(float));
    s->u = ns_alloc(K * b, sizeof(float));
    s->y = ns_alloc(K * b, sizeof(float));
    s->m = ns_alloc(K * K, sizeof(float));
    s->tmp = ns_alloc(K * K, sizeof(float));
    s->perm = ns_alloc(s->V, sizeof(size_t));
    if (!s->xt || !s->w || !s->bias || !s->xb || !s->u || !s->y || !s->m || !s->tmp || !s->perm)
        return NS_ERR_NOMEM;
    return NS_OK;
}

/* One block: u = W x_b + bias, y = 1 - 2 logistic(u),
 * W <- W + lr (b I + y u^T) W, bias <- bias + lr sum(y). Returns 0 when a
 * weight exceeds MAX_WEIGHT or is not finite. */
static int block_step(infomax_ws *s, const size_t *cols, float lr)
{
    size_t K = s->K, b = s->b;
    for (size_t j = 0; j < b; j++) /* x_b^T, b x K */
        memcpy(s->xb + j * K, s->xt + cols[j] * K, K * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)b, (int)K, 1.0f, s->w,
                (int)K, s->xb, (int)K, 0.0f, s->u, (int)b);
    for (size_t i = 0; i < K; i++)
        s->bias[i] += lr * ns_ica_logistic_row(s->u + i * b, s->y + i * b, b, s->bias[i]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)K, (int)b, 1.0f, s->y,
                (int)b, s->u, (int)b, 0.0f, s->m, (int)K);
    for (size_t i = 0; i < K; i++)
        s->m[i * K + i] += (float)b;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)K, (int)K, (int)K, lr, s->m,
                (int)K, s->w, (int)K, 0.0f, s->tmp, (int)K);
    int ok = 1;
    for (size_t i = 0; i < K * K; i++) {
        s->w[i] += s->tmp[i];
        if (!(fabsf(s->w[i]) <= MAX_WEIGHT))
            ok = 0;
    }
    return ok;
}

/* One pass over shuffled columns; 0 on blow-up. */
static int pass(infomax_ws *s, ns_rng *rng, float lr)
{
    for (size_t i = 0; i < s->V; i++)
        s->perm[i] = i;
    ns_rng_shuffle(rng, s->perm, s->V);
    size_t nblocks = s->V / s->b;
    for (size_t t = 0; t < nblocks; t++)
        if (!block_step(s, s->perm + t * s->b, lr))
            return 0;
    return 1;
}

static void restart(infomax_ws *s, const float *w0)
{
    memcpy(s->w, w0, s->K * s->K * sizeof(float));
    memset(s->bias, 0, s->K * sizeof(float));
}

typedef struct {
    double *old, *delta, *olddelta;
    double change, oldchange;
} infomax_track;

/* Weight change bookkeeping after a pass (runica): returns the angle
 * between this and the accumulated previous change, in degrees. */
static double track(infomax_track *t, const float *w, size_t n, int step)
{
    double c = 0, dot = 0;
    for (size_t i = 0; i < n; i++) {
        t->delta[i] = w[i] - t->old[i];
        c += t->delta[i] * t->delta[i];
        dot += t->delta[i] * t->olddelta[i];
        t->old[i] = w[i];
    }
    t->change = c;
    if (step == 1) {
        memcpy(t->olddelta, t->delta, n * sizeof(double));
        t->oldchange = c;
    }
    if (step <= 2)
        return 0;
    double cosang = dot / sqrt(c * t->oldchange);
    cosang = cosang > 1 ? 1 : cosang < -1 ? -1 : cosang;
    return acos(cosang) * 180.0 / M_PI;
}

static ns_status infomax_loop(infomax_ws *s, const float *w0, ns_rng *rng, double lr,
                              const ns_ica_opts *o, ns_ica_info *info, infomax_track *t)
{
    size_t n = s->K * s->K;
    int step = 0, maxit = o->max_iter > 0 ? o->max_iter : 512;
    double stop = o->stop > 0 ? o->stop : 1e-6;
    for (size_t i = 0; i < n; i++)
        t->old[i] = w0[i];
    while (step < maxit) {
        int ok = pass(s, rng, (float)lr);
        double ang = ok ? track(t, s->w, n, step + 1) : 0;
        if (!ok || !isfinite(t->change)) {
            /* Blow-up: restart from the initial weights, slower. */
            ns_debug("Infomax: weights blew up at pass %d (learning rate %g): restart", step + 1,
                     lr);
            info->restarts++;
            lr *= RESTART_FAC;
            if (lr < MIN_LRATE)
                return ns_error(NS_ERR_NUMERIC,
                                "Infomax diverged: learning rate fell below %g after %d restarts",
                                MIN_LRATE, info->restarts);
            restart(s, w0);
            for (size_t i = 0; i < n; i++)
                t->old[i] = w0[i];
            step = 0;
            continue;
        }
        step++;
        if (step > 2 && ang > ANNEAL_DEG) {
            lr *= ANNEAL_STEP;
            memcpy(t->olddelta, t->delta, n * sizeof(double));
            t->oldchange = t->change;
        }
        info->iterations = step;
        info->change = t->change;
        info->lrate = lr;
        if (step > 2 && t->change < stop) {
            info->converged = 1;
            break;
        }
        if (t->change > BLOWUP)
            lr *= BLOWUP_FAC;
    }
    return NS_OK;
}

ns_status ns_ica_infomax(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info)
{
    infomax_ws s = {.K = K, .V = V};
    s.b = o->block ? o->block : (size_t)floor(sqrt((double)V / 3.0));
    if (s.b < 1)
        s.b = 1;
    if (s.b > V)
        s.b = V;
    double lr = o->lrate > 0 ? o->lrate : 0.015 / log((double)K);
    if (K < 2)
        lr = o->lrate > 0 ? o->lrate : 0.015;
    infomax_track t = {0};
    double *w0d = ns_alloc(K * K, sizeof(double));
    float *w0 = ns_alloc(K * K, sizeof(float));
    t.old = ns_alloc(K * K, sizeof(double));
    t.delta = ns_alloc(K * K, sizeof(double));
    t.olddelta = ns_calloc(K * K, sizeof(double));
    ns_status st = (w0d && w0 && t.old && t.delta && t.olddelta) ? ws_alloc(&s, x) : NS_ERR_NOMEM;
    /* A random orthogonal start keeps runica's identity scale while giving
     * ICASSO distinct initialisations. */
    if (st == NS_OK)
        st = ns_ica_random_orth(rng, K, w0d);
    if (st == NS_OK) {
        for (size_t i = 0; i < K * K; i++)
            w0[i] = (float)w0d[i];
        restart(&s, w0);
        memset(info, 0, sizeof *info);
        st = infomax_loop(&s, w0, rng, lr, o, info, &t);
    }
    if (st == NS_OK)
        for (size_t i = 0; i < K * K; i++)
            w[i] = s.w[i];
    ws_free(&s);
    free(w0d), free(w0), free(t.old), free(t.delta), free(t.olddelta);
    return st;
}
