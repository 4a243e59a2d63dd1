/* Participants (labels, sites) and the planted effects. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

typedef struct {
    const char *name;
    ns_sim_effect_kind kind;
    const char *label;
    int nsrc;
    int src[NS_SIM_EFFECT_MAXSRC];
} effect_def;

/* Sources refer to the catalogue order (catalogue.c). */
static const effect_def effect_defs[] = {
    {"diagnosis", NS_SIM_EFFECT_COUPLING, "diagnosis", 3, {0, 1, 2}},
    {"diagnosis_bd", NS_SIM_EFFECT_COUPLING, "diagnosis", 2, {14, 15}},
    {"medication_class", NS_SIM_EFFECT_COUPLING, "medication_class", 2, {3, 4}},
    {"responder", NS_SIM_EFFECT_COUPLING, "responder", 2, {5, 6}},
    {"subnet_default_mode", NS_SIM_EFFECT_SUBNET, NULL, 3, {7, 8, 9}},
    {"subnet_visual", NS_SIM_EFFECT_SUBNET, NULL, 2, {10, 11}},
    {"subnet_sensorimotor", NS_SIM_EFFECT_SUBNET, NULL, 2, {12, 13}},
    {"dynamic", NS_SIM_EFFECT_DYNAMIC, "diagnosis", 5, {16, 17, 18, 19, 20}},
};

/* Sign of each dynamic source in each state: four distinct FNC patterns. */
static const signed char dyn_patterns[NS_SIM_NSTATES][5] = {
    {1, 1, 1, 0, 0}, {0, 0, 1, 1, 1}, {1, -1, 0, 1, -1}, {1, 1, -1, -1, 0}};

static void set_weights(const ns_sim_params *p, const char *name, ns_sim_effect *e)
{
    double lo = p->coupling_weak, hi = p->coupling_strong, mid = 0.5 * (lo + hi);
    double w[3] = {p->subnet_shared, p->subnet_shared, p->subnet_shared};
    if (!strcmp(name, "diagnosis"))         /* HC weak, MDD and BD strong */
        w[0] = lo, w[1] = hi, w[2] = hi;
    else if (!strcmp(name, "diagnosis_bd")) /* only BD strong */
        w[0] = lo, w[1] = lo, w[2] = hi;
    else if (!strcmp(name, "medication_class") || !strcmp(name, "responder"))
        w[0] = mid, w[1] = hi, w[2] = lo; /* controls in between: no diagnosis effect on average */
    else if (e->kind == NS_SIM_EFFECT_DYNAMIC)
        w[0] = w[1] = w[2] = p->dynamic_coupling;
    memcpy(e->weight, w, sizeof w);
}

void ns_sim_make_effects(ns_sim *sim)
{
    sim->neffects = 0;
    for (size_t d = 0; d < sizeof effect_defs / sizeof effect_defs[0]; d++) {
        const effect_def *def = &effect_defs[d];
        if (def->kind == NS_SIM_EFFECT_DYNAMIC && !sim->p.dynamic)
            continue;
        ns_sim_effect e;
        memset(&e, 0, sizeof e);
        e.name = def->name;
        e.kind = def->kind;
        e.label = def->label;
        for (int k = 0; k < def->nsrc; k++) {
            if (def->src[k] >= (int)sim->nsrc)
                continue;
            if (def->kind == NS_SIM_EFFECT_DYNAMIC)
                for (int s = 0; s < NS_SIM_NSTATES; s++)
                    e.pattern[s][e.nsrc] = dyn_patterns[s][k];
            e.src[e.nsrc++] = def->src[k];
        }
        if (e.nsrc < 2)
            continue;
        set_weights(&sim->p, def->name, &e);
        if (def->kind == NS_SIM_EFFECT_DYNAMIC) {
            e.dwell[0] = sim->p.dwell_control;
            e.dwell[1] = e.dwell[2] = sim->p.dwell_patient;
        }
        sim->effects[sim->neffects++] = e;
    }
}

/* Indices 0..n-1 of the subjects for which keep() holds, shuffled. */
static size_t shuffled_subset(ns_rng *r, const ns_sim_participant *pt, size_t n, int diag, int med,
                              size_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((diag < 0 || pt[i].diagnosis == diag) && (med < 0 || pt[i].medication == med))
            idx[m++] = i;
    ns_rng_shuffle(r, idx, m);
    return m;
}

/* Balanced labels: diagnosis in thirds; medication class follows the
 * diagnosis in 3 of 4 patients (MDD -> antidepressant, BD -> mood
 * stabiliser), as in the seed study where most but not all patients respond
 * to the class of their diagnosis; responders are half of each class. */
static void assign_labels(ns_rng *r, ns_sim_participant *pt, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    ns_rng_shuffle(r, idx, n);
    for (size_t k = 0; k < n; k++)
        pt[idx[k]].diagnosis = (int)(k % 3);
    for (int d = NS_SIM_MDD; d <= NS_SIM_BD; d++) {
        size_t m = shuffled_subset(r, pt, n, d, -1, idx);
        size_t major = (size_t)ceil(0.75 * (double)m);
        for (size_t k = 0; k < m; k++) {
            int own = d == NS_SIM_MDD ? NS_SIM_MED_ANTIDEPRESSANT : NS_SIM_MED_MOOD_STABILIZER;
            int other = NS_SIM_MED_ANTIDEPRESSANT + NS_SIM_MED_MOOD_STABILIZER - own;
            pt[idx[k]].medication = k < major ? own : other;
        }
    }
    for (int m = NS_SIM_MED_ANTIDEPRESSANT; m <= NS_SIM_MED_MOOD_STABILIZER; m++) {
        size_t cnt = shuffled_subset(r, pt, n, -1, m, idx);
        for (size_t k = 0; k < cnt; k++)
            pt[idx[k]].responder = k % 2 ? NS_SIM_RESP_NO : NS_SIM_RESP_YES;
    }
}

ns_status ns_sim_make_participants(ns_sim *sim)
{
    size_t n = (size_t)sim->p.n_subjects, ns = (size_t)sim->p.n_sites;
    sim->part = ns_calloc(n, sizeof *sim->part);
    sim->site_scale = ns_calloc(ns, sizeof(double));
    sim->site_noise = ns_calloc(ns, sizeof(double));
    size_t *idx = ns_calloc(n, sizeof *idx);
    ns_rng *r = ns_rng_create(ns_sim_stream_seed(sim, 0, NS_SIM_STREAM_DATASET));
    if (!sim->part || !sim->site_scale || !sim->site_noise || !idx || !r) {
        free(idx);
        ns_rng_free(r);
        return NS_ERR_NOMEM;
    }
    int width = 2;
    for (size_t m = n; m >= 100; m /= 10)
        width++;
    for (size_t i = 0; i < n; i++)
        snprintf(sim->part[i].id, sizeof sim->part[i].id, "sub-%0*zu", width, i + 1);
    assign_labels(r, sim->part, n, idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    ns_rng_shuffle(r, idx, n);
    for (size_t k = 0; k < n; k++)
        sim->part[idx[k]].site = (int)(k % ns);
    for (size_t i = 0; i < n; i++) {
        sim->part[i].age = 16 + (int)ns_rng_below(r, 12);
        sim->part[i].sex = ns_rng_below(r, 2) ? 'M' : 'F';
    }
    /* Scanners differ in intensity and noise; a single site is the reference. */
    for (size_t s = 0; s < ns; s++) {
        double a = ns_rng_uniform(r), b = ns_rng_uniform(r);
        sim->site_scale[s] = ns == 1 ? 1.0 : 0.85 + 0.3 * a;
        sim->site_noise[s] = ns == 1 ? 1.0 : 0.8 + 0.4 * b;
    }
    free(idx);
    ns_rng_free(r);
    return NS_OK;
}
