/* Parameters, the dataset handle (grid, tissue, group maps, participants,
 * planted effects) and its accessors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

ns_sim_params ns_sim_params_default(void)
{
    ns_sim_params p = {
        .n_subjects = 24, .seed = 1, .n_timepoints = 150, .tr = 2.0, .n_sources = 30,
        .cnr = 1.0, .n_sites = 1, .write_subject_maps = 1, .gzip = 1,
        .baseline = 800.0, .psc_min = 1.0, .psc_max = 3.0, .event_prob = 0.5,
        .map_noise = 0.005, .jitter_shift = 0.02, .jitter_rot_deg = 3.0, .jitter_spread = 0.1,
        .hrf_jitter = 0.5,
        .coupling_weak = 0.1, .coupling_strong = 0.6, .subnet_shared = 0.7,
        .dynamic_coupling = 0.7, .dwell_control = 20.0, .dwell_patient = 40.0,
        .motion_ar = 0.95, .motion_trans_mm = 0.3, .motion_rot_deg = 0.3,
    };
    ns_sim_params_set_shape(&p, 100, 100, 1);
    return p;
}

void ns_sim_params_set_shape(ns_sim_params *p, int64_t nx, int64_t ny, int64_t nz)
{
    p->dim[0] = nx, p->dim[1] = ny, p->dim[2] = nz;
    double mm = nz > 1 ? 3.0 : 2.0;
    p->voxel_mm[0] = p->voxel_mm[1] = p->voxel_mm[2] = mm;
}

#define CHECK(cond, ...)                          \
    do {                                          \
        if (!(cond))                              \
            return ns_error(NS_ERR_ARG, __VA_ARGS__); \
    } while (0)

ns_status ns_sim_params_check(const ns_sim_params *p)
{
    CHECK(p->n_subjects >= 1 && p->n_subjects <= 100000, "number of subjects must be 1..100000 (%d)", p->n_subjects);
    for (int k = 0; k < 3; k++) {
        int lo = k < 2 ? 8 : 1; /* in-plane, slices */
        CHECK(p->dim[k] >= lo && p->dim[k] <= 1024, "grid dimension %d must be %d..1024 (%lld)", k + 1, lo,
              (long long)p->dim[k]);
        CHECK(p->voxel_mm[k] > 0 && isfinite(p->voxel_mm[k]), "voxel size must be positive (%g)", p->voxel_mm[k]);
    }
    CHECK(p->dim[2] == 1 || p->dim[2] >= 4, "a 3-D grid needs at least 4 slices (%lld)", (long long)p->dim[2]);
    CHECK(p->n_timepoints >= 10 && p->n_timepoints <= 100000, "time points must be 10..100000 (%d)", p->n_timepoints);
    CHECK(p->tr > 0 && p->tr <= 60 && isfinite(p->tr), "TR must be in (0, 60] seconds (%g)", p->tr);
    CHECK(p->n_sources >= 1 && p->n_sources <= NS_SIM_CATALOGUE_SIZE, "sources must be 1..%d (%d)",
          NS_SIM_CATALOGUE_SIZE, p->n_sources);
    CHECK(p->cnr > 0 && isfinite(p->cnr), "CNR must be positive (%g)", p->cnr);
    CHECK(p->n_sites >= 1 && p->n_sites <= p->n_subjects, "sites must be 1..number of subjects (%d)", p->n_sites);
    CHECK(p->baseline > 0 && p->psc_min >= 0 && p->psc_max >= p->psc_min, "invalid baseline or signal change");
    CHECK(p->event_prob > 0 && p->event_prob <= 1, "event probability must be in (0, 1] (%g)", p->event_prob);
    CHECK(p->map_noise >= 0 && p->jitter_shift >= 0 && p->jitter_rot_deg >= 0 && p->jitter_spread >= 0 &&
              p->jitter_spread < 1 && p->hrf_jitter >= 0 && p->hrf_jitter < 3,
          "invalid jitter parameters");
    double w[] = {p->coupling_weak, p->coupling_strong, p->subnet_shared, p->dynamic_coupling};
    for (int k = 0; k < 4; k++)
        CHECK(w[k] >= 0 && w[k] <= 1, "coupling weights must be in [0, 1] (%g)", w[k]);
    CHECK(p->dwell_control >= 1 && p->dwell_patient >= 1, "dwell times must be at least 1 TR");
    CHECK(p->motion_ar >= 0 && p->motion_ar < 1 && p->motion_trans_mm >= 0 && p->motion_rot_deg >= 0,
          "invalid motion parameters");
    size_t n;
    CHECK(ns_mul_size((size_t)(p->dim[0] * p->dim[1] * p->dim[2]), (size_t)p->n_timepoints, &n) &&
              n <= ((size_t)1 << 34),
          "one subject's data would be too large (%lld x %lld x %lld x %d)", (long long)p->dim[0],
          (long long)p->dim[1], (long long)p->dim[2], p->n_timepoints);
    return NS_OK;
}

uint64_t ns_sim_stream_seed(const ns_sim *sim, size_t subject, int stream)
{
    uint64_t id = stream == NS_SIM_STREAM_DATASET ? 0 : ((uint64_t)subject + 1) * 8 + (uint64_t)stream;
    return ns_seed_derive(sim->p.seed, id);
}

static ns_status make_maps(ns_sim *sim)
{
    sim->head = ns_calloc(sim->nvox, 1);
    sim->tissue = ns_calloc(sim->nvox, 1);
    sim->baseline = ns_calloc(sim->nvox, sizeof(float));
    size_t n;
    if (!ns_mul_size(sim->nvox, sim->nsrc, &n))
        return ns_error(NS_ERR_NOMEM, "grid too large");
    sim->group_maps = ns_calloc(n, sizeof(float));
    if (!sim->head || !sim->tissue || !sim->baseline || !sim->group_maps)
        return NS_ERR_NOMEM;
    ns_sim_make_tissue(sim, sim->head, sim->tissue);
    size_t inside = 0;
    for (size_t v = 0; v < sim->nvox; v++) {
        sim->baseline[v] = (float)(sim->p.baseline * ns_sim_tissue_factor(sim->tissue[v]));
        inside += sim->head[v];
    }
    if (inside < 16)
        return ns_error(NS_ERR_ARG, "grid too small: %zu voxels in the head", inside);
    for (size_t c = 0; c < sim->nsrc; c++)
        ns_sim_render_source(sim, &ns_sim_catalogue[c], NULL, sim->group_maps + c * sim->nvox);
    return NS_OK;
}

ns_status ns_sim_create(const ns_sim_params *p, ns_sim **out)
{
    *out = NULL;
    ns_status st = ns_sim_params_check(p);
    if (st)
        return st;
    ns_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return ns_error(NS_ERR_NOMEM, "out of memory creating the simulation");
    sim->p = *p;
    sim->nvox = (size_t)(p->dim[0] * p->dim[1] * p->dim[2]);
    sim->nsrc = (size_t)p->n_sources;
    sim->is3d = p->dim[2] > 1;
    st = make_maps(sim);
    if (!st)
        st = ns_sim_make_participants(sim);
    if (st) {
        ns_sim_free(sim);
        return st;
    }
    ns_sim_make_effects(sim);
    *out = sim;
    return NS_OK;
}

void ns_sim_free(ns_sim *sim)
{
    if (!sim)
        return;
    free(sim->head);
    free(sim->tissue);
    free(sim->baseline);
    free(sim->group_maps);
    free(sim->part);
    free(sim->site_scale);
    free(sim->site_noise);
    free(sim);
}

const ns_sim_params *ns_sim_get_params(const ns_sim *sim) { return &sim->p; }
size_t ns_sim_nvox(const ns_sim *sim) { return sim->nvox; }
size_t ns_sim_nsources(const ns_sim *sim) { return sim->nsrc; }
const uint8_t *ns_sim_head_mask(const ns_sim *sim) { return sim->head; }
const uint8_t *ns_sim_tissue(const ns_sim *sim) { return sim->tissue; }
const float *ns_sim_baseline(const ns_sim *sim) { return sim->baseline; }
const float *ns_sim_group_maps(const ns_sim *sim) { return sim->group_maps; }
size_t ns_sim_neffects(const ns_sim *sim) { return sim->neffects; }

const char *ns_sim_source_name(const ns_sim *sim, size_t c)
{
    return c < sim->nsrc ? ns_sim_catalogue[c].name : NULL;
}

const ns_sim_participant *ns_sim_participant_at(const ns_sim *sim, size_t i)
{
    return i < (size_t)sim->p.n_subjects ? &sim->part[i] : NULL;
}

const ns_sim_effect *ns_sim_effect_at(const ns_sim *sim, size_t e)
{
    return e < sim->neffects ? &sim->effects[e] : NULL;
}

void ns_sim_site_factors(const ns_sim *sim, int site, double *baseline_scale, double *noise_factor)
{
    int ok = site >= 0 && site < sim->p.n_sites;
    if (baseline_scale)
        *baseline_scale = ok ? sim->site_scale[site] : 1.0;
    if (noise_factor)
        *noise_factor = ok ? sim->site_noise[site] : 1.0;
}

const char *ns_sim_label_text(const char *column, int value)
{
    static const char *diag[] = {"HC", "MDD", "BD"};
    static const char *med[] = {NULL, "antidepressant", "mood_stabilizer"};
    static const char *resp[] = {NULL, "yes", "no"};
    if (value < 0 || value > 2)
        return NULL;
    if (!strcmp(column, "diagnosis"))
        return diag[value];
    if (!strcmp(column, "medication_class"))
        return med[value];
    if (!strcmp(column, "responder"))
        return resp[value];
    return NULL;
}

static int label_value(const ns_sim_participant *pt, const char *label)
{
    if (!label)
        return 0;
    if (!strcmp(label, "diagnosis"))
        return pt->diagnosis;
    if (!strcmp(label, "medication_class"))
        return pt->medication;
    return pt->responder;
}

double ns_sim_effect_weight(const ns_sim *sim, size_t e, size_t i)
{
    if (e >= sim->neffects || i >= (size_t)sim->p.n_subjects)
        return 0.0;
    const ns_sim_effect *ef = &sim->effects[e];
    return ef->weight[label_value(&sim->part[i], ef->label)];
}
