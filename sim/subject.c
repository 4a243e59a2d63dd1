/* One subject's truth: jittered maps, signal changes, HRF, and the data
 * (noiseless, then motion, then Rician noise). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

void ns_sim_subject_free(ns_sim_subject *s)
{
    if (!s)
        return;
    free(s->maps);
    free(s->tc);
    free(s->psc);
    free(s->baseline);
    free(s->state);
    free(s->motion);
    free(s->src_shift);
    free(s->src_spread);
    free(s);
}

static double uniform_pm(ns_rng *r, double half) { return half * (2.0 * ns_rng_uniform(r) - 1.0); }

/* Placement, widths, HRF and signal changes: the subject's spatial truth. */
static void draw_jitter(const ns_sim *sim, ns_rng *r, ns_sim_subject *s)
{
    const ns_sim_params *p = &sim->p;
    for (int k = 0; k < 3; k++)
        s->shift[k] = uniform_pm(r, p->jitter_shift);
    if (!sim->is3d)
        s->shift[2] = 0.0;
    s->rot_deg = uniform_pm(r, p->jitter_rot_deg);
    s->hrf_shape[0] = 6.0 + uniform_pm(r, p->hrf_jitter);
    s->hrf_shape[1] = 16.0 + uniform_pm(r, 2.0 * p->hrf_jitter);
    for (size_t c = 0; c < s->nsrc; c++) {
        for (int k = 0; k < 3; k++)
            s->src_shift[c * 3 + k] = uniform_pm(r, 0.5 * p->jitter_shift);
        if (!sim->is3d)
            s->src_shift[c * 3 + 2] = 0.0;
        s->src_spread[c] = 1.0 + uniform_pm(r, p->jitter_spread);
        s->psc[c] = p->psc_min + (p->psc_max - p->psc_min) * ns_rng_uniform(r);
    }
}

/* Maps with jitter, plus SimTB's small per-voxel map noise inside the head. */
static void render_maps(const ns_sim *sim, ns_rng *r, ns_sim_subject *s)
{
    for (size_t c = 0; c < s->nsrc; c++) {
        ns_sim_jitter j = {{s->shift[0], s->shift[1], s->shift[2]}, s->rot_deg,
                           {s->src_shift[c * 3], s->src_shift[c * 3 + 1], s->src_shift[c * 3 + 2]},
                           s->src_spread[c]};
        float *map = s->maps + c * s->nvox;
        ns_sim_render_source(sim, &ns_sim_catalogue[c], &j, map);
        for (size_t v = 0; v < s->nvox; v++)
            if (sim->head[v])
                map[v] += (float)(sim->p.map_noise * ns_rng_normal(r));
    }
}

static ns_status subject_alloc(const ns_sim *sim, ns_sim_subject **out)
{
    ns_sim_subject *s = calloc(1, sizeof *s);
    if (!s)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    s->nvox = sim->nvox;
    s->ntime = (size_t)sim->p.n_timepoints;
    s->nsrc = sim->nsrc;
    size_t nm;
    if (!ns_mul_size(s->nvox, s->nsrc, &nm)) {
        free(s);
        return ns_error(NS_ERR_NOMEM, "grid too large");
    }
    s->maps = ns_alloc(nm, sizeof(float));
    s->tc = ns_calloc(s->ntime * s->nsrc, sizeof(double));
    s->psc = ns_calloc(s->nsrc, sizeof(double));
    s->baseline = ns_alloc(s->nvox, sizeof(float));
    s->src_shift = ns_calloc(s->nsrc * 3, sizeof(double));
    s->src_spread = ns_calloc(s->nsrc, sizeof(double));
    if (!s->maps || !s->tc || !s->psc || !s->baseline || !s->src_shift || !s->src_spread) {
        ns_sim_subject_free(s);
        return ns_error(NS_ERR_NOMEM, "out of memory for one subject's truth");
    }
    *out = s;
    return NS_OK;
}

ns_status ns_sim_subject_create(const ns_sim *sim, size_t i, ns_sim_subject **out)
{
    *out = NULL;
    if (i >= (size_t)sim->p.n_subjects)
        return ns_error(NS_ERR_ARG, "no participant %zu (of %d)", i, sim->p.n_subjects);
    ns_sim_subject *s = NULL;
    ns_status st = subject_alloc(sim, &s);
    if (st)
        return ns_sim_fail(st, sim->part[i].id);
    s->index = i;
    ns_rng *r = ns_rng_create(ns_sim_stream_seed(sim, i, NS_SIM_STREAM_JITTER));
    if (!r) {
        ns_sim_subject_free(s);
        return ns_sim_fail(NS_ERR_NOMEM, sim->part[i].id);
    }
    draw_jitter(sim, r, s);
    render_maps(sim, r, s);
    ns_rng_free(r);
    double scale;
    ns_sim_site_factors(sim, sim->part[i].site, &scale, NULL);
    for (size_t v = 0; v < s->nvox; v++)
        s->baseline[v] = (float)(scale * sim->baseline[v]);
    st = ns_sim_make_timecourses(sim, s);
    if (!st && sim->p.motion)
        st = ns_sim_make_motion(sim, s);
    if (st) {
        ns_sim_subject_free(s);
        return ns_sim_fail(st, sim->part[i].id);
    }
    *out = s;
    return NS_OK;
}

/* Blocks of voxels keep the nsrc map rows of a block in cache for all t. */
#define VBLOCK 1024

void ns_sim_subject_noiseless(const ns_sim_subject *s, float *data)
{
    double w[NS_SIM_CATALOGUE_SIZE], acc[VBLOCK];
    for (size_t v0 = 0; v0 < s->nvox; v0 += VBLOCK) {
        size_t nb = s->nvox - v0 < VBLOCK ? s->nvox - v0 : VBLOCK;
        for (size_t t = 0; t < s->ntime; t++) {
            for (size_t c = 0; c < s->nsrc; c++)
                w[c] = s->tc[t * s->nsrc + c] * s->psc[c] / 100.0;
            memset(acc, 0, nb * sizeof(double));
            for (size_t c = 0; c < s->nsrc; c++) {
                const float *m = s->maps + c * s->nvox + v0;
                for (size_t k = 0; k < nb; k++)
                    acc[k] += w[c] * (double)m[k];
            }
            float *out = data + t * s->nvox + v0;
            for (size_t k = 0; k < nb; k++)
                out[k] = (float)((double)s->baseline[v0 + k] * (1.0 + acc[k]));
        }
    }
}

/* sqrt of the mean over head voxels of each voxel's temporal variance. */
static double signal_sd(const ns_sim *sim, const ns_sim_subject *s, const float *data)
{
    double sum = 0.0;
    size_t n = 0;
    for (size_t v = 0; v < s->nvox; v++) {
        if (!sim->head[v])
            continue;
        double mean = 0.0, ss = 0.0;
        for (size_t t = 0; t < s->ntime; t++)
            mean += data[t * s->nvox + v];
        mean /= (double)s->ntime;
        for (size_t t = 0; t < s->ntime; t++) {
            double d = data[t * s->nvox + v] - mean;
            ss += d * d;
        }
        sum += ss / (double)(s->ntime - 1);
        n++;
    }
    return n ? sqrt(sum / (double)n) : 0.0;
}

/* Rician noise: |D + n1 + i n2| with n1, n2 ~ N(0, sd^2). */
static ns_status add_noise(const ns_sim *sim, const ns_sim_subject *s, float *data, double sd)
{
    ns_rng *r = ns_rng_create(ns_sim_stream_seed(sim, s->index, NS_SIM_STREAM_NOISE));
    if (!r)
        return NS_ERR_NOMEM;
    size_t n = s->ntime * s->nvox;
    for (size_t k = 0; k < n; k++) {
        double re = data[k] + sd * ns_rng_normal(r), im = sd * ns_rng_normal(r);
        data[k] = (float)sqrt(re * re + im * im);
    }
    ns_rng_free(r);
    return NS_OK;
}

ns_status ns_sim_subject_bold(const ns_sim *sim, ns_sim_subject *s, float *data)
{
    ns_sim_subject_noiseless(s, data);
    s->signal_sd = signal_sd(sim, s, data);
    double noise_factor;
    ns_sim_site_factors(sim, sim->part[s->index].site, NULL, &noise_factor);
    s->noise_sd = sim->p.noiseless ? 0.0 : s->signal_sd * noise_factor / sim->p.cnr;
    ns_status st = NS_OK;
    if (s->motion)
        st = ns_sim_apply_motion(sim, s, data);
    if (!st && !sim->p.noiseless)
        st = add_noise(sim, s, data, s->noise_sd);
    if (st)
        return ns_sim_fail(st, sim->part[s->index].id);
    return NS_OK;
}
