/* Timecourses: unique events and shared event trains (the planted
 * couplings), connectivity states, double-gamma HRF; and head motion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

ns_status ns_sim_fail(ns_status code, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ns_last_error());
    return ns_error(code, "%s (%s)", msg[0] ? msg : ns_status_string(code), what);
}

/* An event train: at each TR an event with probability p and random sign.
 * Two uniforms per step whatever the outcome, so streams stay aligned. */
static void event_train(ns_rng *r, double p, size_t n, double *e)
{
    for (size_t t = 0; t < n; t++) {
        double u = ns_rng_uniform(r), sgn = ns_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
        e[t] = u < p ? sgn : 0.0;
    }
}

static double gamma_pdf(double t, double shape)
{
    return t <= 0.0 ? 0.0 : exp((shape - 1.0) * log(t) - t - lgamma(shape));
}

/* Double-gamma HRF (undershoot ratio 6) over 32 s, averaged over each TR
 * bin (an event lasts one TR), so that long TRs still see the response. */
static size_t make_hrf(const ns_sim_subject *s, double tr, double *h, size_t cap)
{
    size_t n = (size_t)ceil(32.0 / tr);
    if (n < 1)
        n = 1;
    if (n > cap)
        n = cap;
    for (size_t k = 0; k < n; k++) {
        double sum = 0.0;
        for (int j = 0; j < 16; j++) {
            double t = ((double)k + (j + 0.5) / 16.0) * tr;
            sum += gamma_pdf(t, s->hrf_shape[0]) - gamma_pdf(t, s->hrf_shape[1]) / 6.0;
        }
        h[k] = sum / 16.0;
    }
    return n;
}

/* Connectivity state of each step: segments of random length around the
 * mean dwell time, each state different from the previous one. */
static void make_states(ns_rng *r, double dwell, size_t n, int *state)
{
    int cur = (int)ns_rng_below(r, NS_SIM_NSTATES);
    size_t t = 0;
    while (t < n) {
        long len = lround(dwell * (0.5 + ns_rng_uniform(r)));
        if (len < 2)
            len = 2;
        for (long k = 0; k < len && t < n; k++)
            state[t++] = cur + 1;
        cur = (cur + 1 + (int)ns_rng_below(r, NS_SIM_NSTATES - 1)) % NS_SIM_NSTATES;
    }
}

typedef struct {
    size_t n;        /* steps including the burn-in */
    double *shared;  /* neffects x n */
    double *events;  /* n: one source */
    int *state;      /* n (dynamic) */
} tc_work;

/* The event series of source c: unique events plus the shared trains of the
 * effects it belongs to, weighted so that the variance stays that of one
 * train and a pair sharing a train with weight w correlates by w. */
static void source_events(const ns_sim *sim, size_t subj, size_t c, const double *unique, tc_work *w)
{
    double share = 0.0;
    for (size_t e = 0; e < sim->neffects; e++)
        for (int k = 0; k < sim->effects[e].nsrc; k++)
            if ((size_t)sim->effects[e].src[k] == c)
                share += ns_sim_effect_weight(sim, e, subj);
    double a_u = sqrt(fmax(0.0, 1.0 - share));
    for (size_t t = 0; t < w->n; t++)
        w->events[t] = a_u * unique[t];
    for (size_t e = 0; e < sim->neffects; e++) {
        const ns_sim_effect *ef = &sim->effects[e];
        double a = sqrt(ns_sim_effect_weight(sim, e, subj));
        for (int k = 0; k < ef->nsrc; k++) {
            if ((size_t)ef->src[k] != c)
                continue;
            const double *sh = w->shared + e * w->n;
            for (size_t t = 0; t < w->n; t++) {
                if (ef->kind != NS_SIM_EFFECT_DYNAMIC) {
                    w->events[t] += a * sh[t];
                    continue;
                }
                /* Outside its states a source keeps the full unique variance. */
                int sg = ef->pattern[w->state[t] - 1][k];
                w->events[t] += sg ? sg * a * sh[t] : (1.0 - a_u) * unique[t];
            }
        }
    }
}

/* Convolves, drops the burn-in, centres, scales to unit peak-to-peak. */
static void convolve_tc(const double *ev, size_t n, const double *h, size_t nh, size_t ntime, double *out,
                        size_t stride)
{
    double lo = INFINITY, hi = -INFINITY, mean = 0.0;
    for (size_t t = 0; t < ntime; t++) {
        size_t tt = t + (n - ntime);
        double x = 0.0;
        for (size_t k = 0; k < nh && k <= tt; k++)
            x += h[k] * ev[tt - k];
        out[t * stride] = x;
        mean += x;
    }
    mean /= (double)ntime;
    for (size_t t = 0; t < ntime; t++) {
        double x = out[t * stride] - mean;
        out[t * stride] = x;
        lo = fmin(lo, x), hi = fmax(hi, x);
    }
    double range = hi - lo > 0.0 ? hi - lo : 1.0;
    for (size_t t = 0; t < ntime; t++)
        out[t * stride] /= range;
}

static ns_status tc_work_alloc(const ns_sim *sim, size_t n, tc_work *w)
{
    w->n = n;
    w->shared = ns_calloc((sim->neffects ? sim->neffects : 1) * n, sizeof(double));
    w->events = ns_calloc(n, sizeof(double));
    w->state = ns_calloc(n, sizeof(int));
    return w->shared && w->events && w->state ? NS_OK : NS_ERR_NOMEM;
}

static void tc_work_free(tc_work *w)
{
    free(w->shared);
    free(w->events);
    free(w->state);
}

ns_status ns_sim_make_timecourses(const ns_sim *sim, ns_sim_subject *s)
{
    double h[512];
    size_t nh = make_hrf(s, sim->p.tr, h, 512);
    tc_work w;
    ns_status st = tc_work_alloc(sim, s->ntime + nh, &w);
    double *unique = ns_calloc(w.n * s->nsrc, sizeof(double));
    ns_rng *r = ns_rng_create(ns_sim_stream_seed(sim, s->index, NS_SIM_STREAM_EVENTS));
    if (st || !unique || !r) {
        tc_work_free(&w);
        free(unique);
        ns_rng_free(r);
        return ns_error(NS_ERR_NOMEM, "out of memory for timecourses");
    }
    int diag = sim->part[s->index].diagnosis, dynamic = 0;
    for (size_t e = 0; e < sim->neffects; e++) {
        if (sim->effects[e].kind == NS_SIM_EFFECT_DYNAMIC) {
            make_states(r, sim->effects[e].dwell[diag], w.n, w.state);
            dynamic = 1;
        }
        event_train(r, sim->p.event_prob, w.n, w.shared + e * w.n);
    }
    for (size_t c = 0; c < s->nsrc; c++)
        event_train(r, sim->p.event_prob, w.n, unique + c * w.n);
    for (size_t c = 0; c < s->nsrc; c++) {
        source_events(sim, s->index, c, unique + c * w.n, &w);
        convolve_tc(w.events, w.n, h, nh, s->ntime, s->tc + c, s->nsrc);
    }
    if (dynamic && (s->state = ns_alloc(s->ntime, sizeof(int))))
        memcpy(s->state, w.state + (w.n - s->ntime), s->ntime * sizeof(int));
    int fail = dynamic && !s->state;
    tc_work_free(&w);
    free(unique);
    ns_rng_free(r);
    return fail ? ns_error(NS_ERR_NOMEM, "out of memory for states") : NS_OK;
}
