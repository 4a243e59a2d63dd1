/* The truth JSON: parameters, grid, sources, planted effects, files; and the
 * per-subject record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

static json_t *jarray_d(const double *x, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(x[i]));
    return a;
}

static json_t *seed_json(uint64_t seed)
{
    if (seed <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)seed);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    return json_string(buf);
}

static json_t *params_json(const ns_sim_params *p)
{
    json_t *j = json_object();
    json_object_set_new(j, "n_subjects", json_integer(p->n_subjects));
    json_object_set_new(j, "seed", seed_json(p->seed));
    json_t *shape = json_array();
    for (int k = 0; k < 3; k++)
        json_array_append_new(shape, json_integer(p->dim[k]));
    json_object_set_new(j, "shape", shape);
    json_object_set_new(j, "voxel_size_mm", jarray_d(p->voxel_mm, 3));
    json_object_set_new(j, "n_timepoints", json_integer(p->n_timepoints));
    json_object_set_new(j, "repetition_time", json_real(p->tr));
    json_object_set_new(j, "n_sources", json_integer(p->n_sources));
    json_object_set_new(j, "cnr", json_real(p->cnr));
    json_object_set_new(j, "noiseless", json_boolean(p->noiseless));
    json_object_set_new(j, "motion", json_boolean(p->motion));
    json_object_set_new(j, "n_sites", json_integer(p->n_sites));
    json_object_set_new(j, "dynamic", json_boolean(p->dynamic));
    json_object_set_new(j, "write_subject_maps", json_boolean(p->write_subject_maps));
    json_object_set_new(j, "gzip", json_boolean(p->gzip));
    struct { const char *k; double v; } d[] = {
        {"baseline", p->baseline}, {"psc_min", p->psc_min}, {"psc_max", p->psc_max},
        {"event_prob", p->event_prob}, {"map_noise", p->map_noise}, {"jitter_shift", p->jitter_shift},
        {"jitter_rot_deg", p->jitter_rot_deg}, {"jitter_spread", p->jitter_spread},
        {"hrf_jitter", p->hrf_jitter}, {"coupling_weak", p->coupling_weak},
        {"coupling_strong", p->coupling_strong}, {"subnet_shared", p->subnet_shared},
        {"dynamic_coupling", p->dynamic_coupling}, {"dwell_control", p->dwell_control},
        {"dwell_patient", p->dwell_patient}, {"motion_ar", p->motion_ar},
        {"motion_trans_mm", p->motion_trans_mm}, {"motion_rot_deg", p->motion_rot_deg}};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
        json_object_set_new(j, d[k].k, json_real(d[k].v));
    return j;
}

static json_t *grid_json(const ns_sim *sim)
{
    json_t *j = json_object();
    size_t head = 0, count[5] = {0};
    for (size_t v = 0; v < sim->nvox; v++) {
        head += sim->head[v];
        count[sim->tissue[v]]++;
    }
    json_object_set_new(j, "mode", json_string(sim->is3d ? "3d" : "2d"));
    json_object_set_new(j, "n_voxels", json_integer((json_int_t)sim->nvox));
    json_object_set_new(j, "n_head_voxels", json_integer((json_int_t)head));
    json_object_set_new(j, "coordinates",
                        json_string("normalised head coordinates: voxel i of n at (2i+1)/n - 1 on each axis; "
                                    "x right, y anterior, z superior; ignored along z in 2-D"));
    json_t *t = json_object();
    static const char *names[5] = {"outside", "csf", "gm", "wm", "dropout"};
    for (int k = 0; k < 5; k++) {
        json_t *e = json_object();
        json_object_set_new(e, "label", json_integer(k));
        json_object_set_new(e, "factor", json_real(ns_sim_tissue_factor(k)));
        json_object_set_new(e, "n_voxels", json_integer((json_int_t)count[k]));
        json_object_set_new(t, names[k], e);
    }
    json_object_set_new(j, "tissue", t);
    return j;
}

static json_t *sources_json(const ns_sim *sim)
{
    json_t *a = json_array();
    for (size_t c = 0; c < sim->nsrc; c++) {
        const ns_sim_source_def *d = &ns_sim_catalogue[c];
        json_t *s = json_object(), *blobs = json_array(), *eff = json_array();
        json_object_set_new(s, "index", json_integer((json_int_t)c));
        json_object_set_new(s, "name", json_string(d->name));
        json_object_set_new(s, "bilateral", json_boolean(d->bilateral));
        json_object_set_new(s, "gradient", json_real(d->gradient));
        for (int k = 0; k < d->nblob; k++) {
            const ns_sim_blob *b = &d->blob[k];
            json_t *o = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "x", b->x, "y", b->y, "z", b->z, "sx",
                                  b->sx, "sy", b->sy, "sz", b->sz, "theta_deg", b->theta_deg, "amp", b->amp);
            json_array_append_new(blobs, o);
        }
        json_object_set_new(s, "blobs", blobs);
        for (size_t e = 0; e < sim->neffects; e++)
            for (int k = 0; k < sim->effects[e].nsrc; k++)
                if ((size_t)sim->effects[e].src[k] == c)
                    json_array_append_new(eff, json_string(sim->effects[e].name));
        json_object_set_new(s, "effects", eff);
        json_array_append_new(a, s);
    }
    return a;
}

static json_t *level_map(const ns_sim_effect *e, const double *x)
{
    json_t *m = json_object();
    const char *col = e->label ? e->label : "diagnosis";
    for (int v = 0; v < 3; v++) {
        const char *t = ns_sim_label_text(col, v);
        json_object_set_new(m, t ? t : "n/a", json_real(x[v]));
    }
    return m;
}

static const char *effect_text(const ns_sim_effect *e)
{
    if (!strcmp(e->name, "diagnosis"))
        return "static FNC: the sources share an event train, weakly in HC, strongly in MDD and BD";
    if (!strcmp(e->name, "diagnosis_bd"))
        return "static FNC: the sources share an event train strongly in BD only";
    if (!strcmp(e->name, "medication_class"))
        return "static FNC among patients: strong with antidepressants, weak with mood stabilizers "
               "(controls in between)";
    if (!strcmp(e->name, "responder"))
        return "static FNC among patients: strong in responders, weak in non-responders (controls in between)";
    if (e->kind == NS_SIM_EFFECT_SUBNET)
        return "spatial scale: sub-networks of one network share this fraction of their event variance, "
               "so a low model order merges them and a higher one splits them";
    return "dynamic FNC: the sources switch between connectivity states (sign patterns); the mean dwell "
           "time depends on the diagnosis";
}

static json_t *effect_json(const ns_sim *sim, const ns_sim_effect *e)
{
    static const char *kinds[] = {"coupling", "subnetwork", "dynamic"};
    json_t *j = json_object(), *src = json_array(), *names = json_array(), *pairs = json_array();
    json_object_set_new(j, "name", json_string(e->name));
    json_object_set_new(j, "type", json_string(kinds[e->kind]));
    json_object_set_new(j, "label", e->label ? json_string(e->label) : json_null());
    json_object_set_new(j, "description", json_string(effect_text(e)));
    for (int k = 0; k < e->nsrc; k++) {
        json_array_append_new(src, json_integer(e->src[k]));
        json_array_append_new(names, json_string(ns_sim_source_name(sim, (size_t)e->src[k])));
        for (int l = k + 1; l < e->nsrc; l++)
            json_array_append_new(pairs, json_pack("[i,i]", e->src[k], e->src[l]));
    }
    json_object_set_new(j, "sources", src);
    json_object_set_new(j, "source_names", names);
    json_object_set_new(j, "pairs", pairs);
    if (e->kind == NS_SIM_EFFECT_COUPLING)
        json_object_set_new(j, "coupling", level_map(e, e->weight));
    else if (e->kind == NS_SIM_EFFECT_SUBNET) {
        json_object_set_new(j, "network", json_string(e->name + strlen("subnet_")));
        json_object_set_new(j, "shared_fraction", json_real(e->weight[0]));
    } else {
        json_object_set_new(j, "coupling", json_real(e->weight[0]));
        json_object_set_new(j, "mean_dwell_tr", level_map(e, e->dwell));
        json_t *states = json_array();
        for (int s = 0; s < NS_SIM_NSTATES; s++) {
            json_t *pat = json_array();
            for (int k = 0; k < e->nsrc; k++)
                json_array_append_new(pat, json_integer(e->pattern[s][k]));
            json_array_append_new(states, json_pack("{s:i,s:o}", "state", s + 1, "pattern", pat));
        }
        json_object_set_new(j, "states", states);
    }
    return j;
}

static void set_file(json_t *f, const char *key, const char *name, const char *ext)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", name, ext);
    json_object_set_new(f, key, json_string(buf));
}

static json_t *files_json(const ns_sim *sim)
{
    json_t *f = json_object();
    const char *ext = sim->p.gzip ? ".nii.gz" : ".nii";
    set_file(f, "bold", "sub-<label>/func/sub-<label>_task-rest_bold", ext);
    if (sim->p.motion)
        json_object_set_new(f, "confounds",
                            json_string("sub-<label>/func/sub-<label>_task-rest_desc-confounds_timeseries.tsv"));
    set_file(f, "true_maps", "derivatives/simulation/group/desc-true_components", ext);
    set_file(f, "head_mask", "derivatives/simulation/group/desc-head_mask", ext);
    set_file(f, "tissue", "derivatives/simulation/group/desc-tissue_dseg", ext);
    set_file(f, "baseline", "derivatives/simulation/group/desc-baseline_map", ext);
    json_object_set_new(f, "true_timecourses",
                        json_string("derivatives/simulation/sub-<label>/func/sub-<label>_task-rest_desc-true_timeseries.tsv"));
    if (sim->p.write_subject_maps)
        set_file(f, "subject_true_maps",
                 "derivatives/simulation/sub-<label>/func/sub-<label>_task-rest_desc-true_components", ext);
    int dynamic = 0;
    for (size_t e = 0; e < sim->neffects; e++)
        dynamic |= sim->effects[e].kind == NS_SIM_EFFECT_DYNAMIC;
    if (dynamic)
        json_object_set_new(
            f, "states",
            json_string("derivatives/simulation/sub-<label>/func/sub-<label>_task-rest_desc-states_timeseries.tsv"));
    return f;
}

json_t *ns_sim_truth_json(const ns_sim *sim)
{
    json_t *j = json_object(), *eff = json_array(), *sites = json_array();
    json_object_set_new(j, "generator", json_pack("{s:s,s:s,s:s}", "name", "neurospectra simulate", "version",
                                                  NS_VERSION, "model", "SimTB-style (Erhardt et al. 2012)"));
    json_object_set_new(j, "parameters", params_json(&sim->p));
    json_object_set_new(j, "model",
                        json_string("D = baseline * (1 + sum_c tc_c * psc_c / 100 * map_c); then motion "
                                    "(trilinear); then Rician noise sqrt((D + n1)^2 + n2^2), n ~ N(0, noise_sd^2), "
                                    "noise_sd = signal_sd * site noise factor / cnr, signal_sd = sqrt(mean over "
                                    "head voxels of the temporal variance of the noiseless data)"));
    json_object_set_new(j, "grid", grid_json(sim));
    for (int s = 0; s < sim->p.n_sites; s++) {
        char name[16];
        snprintf(name, sizeof name, "S%d", s + 1);
        json_array_append_new(sites, json_pack("{s:s,s:f,s:f}", "site", name, "baseline_scale", sim->site_scale[s],
                                               "noise_factor", sim->site_noise[s]));
    }
    json_object_set_new(j, "sites", sites);
    json_object_set_new(j, "sources", sources_json(sim));
    for (size_t e = 0; e < sim->neffects; e++)
        json_array_append_new(eff, effect_json(sim, &sim->effects[e]));
    json_object_set_new(j, "effects", eff);
    json_object_set_new(j, "files", files_json(sim));
    return j;
}

/* Number of state changes and the mean segment length. */
static void dwell_stats(const int *state, size_t n, int *changes, double *mean_dwell)
{
    int ch = 0;
    for (size_t t = 1; t < n; t++)
        ch += state[t] != state[t - 1];
    *changes = ch;
    *mean_dwell = (double)n / (double)(ch + 1);
}

json_t *ns_sim_subject_json(const ns_sim *sim, const ns_sim_subject *s)
{
    const ns_sim_participant *pt = &sim->part[s->index];
    json_t *j = json_object(), *coup = json_object();
    char site[16];
    snprintf(site, sizeof site, "S%d", pt->site + 1);
    const char *med = ns_sim_label_text("medication_class", pt->medication);
    const char *resp = ns_sim_label_text("responder", pt->responder);
    json_object_set_new(j, "participant_id", json_string(pt->id));
    json_object_set_new(j, "diagnosis", json_string(ns_sim_label_text("diagnosis", pt->diagnosis)));
    json_object_set_new(j, "medication_class", med ? json_string(med) : json_null());
    json_object_set_new(j, "responder", resp ? json_string(resp) : json_null());
    json_object_set_new(j, "site", json_string(site));
    json_object_set_new(j, "signal_sd", json_real(s->signal_sd));
    json_object_set_new(j, "noise_sd", json_real(s->noise_sd));
    json_object_set_new(j, "psc", jarray_d(s->psc, s->nsrc));
    for (size_t e = 0; e < sim->neffects; e++)
        json_object_set_new(coup, sim->effects[e].name, json_real(ns_sim_effect_weight(sim, e, s->index)));
    json_object_set_new(j, "coupling", coup);
    json_object_set_new(j, "hrf_shapes", jarray_d(s->hrf_shape, 2));
    json_object_set_new(j, "head_shift", jarray_d(s->shift, 3));
    json_object_set_new(j, "head_rotation_deg", json_real(s->rot_deg));
    json_object_set_new(j, "source_shift", jarray_d(s->src_shift, s->nsrc * 3));
    json_object_set_new(j, "source_spread", jarray_d(s->src_spread, s->nsrc));
    if (s->state) {
        int ch;
        double md;
        dwell_stats(s->state, s->ntime, &ch, &md);
        json_object_set_new(j, "state_changes", json_integer(ch));
        json_object_set_new(j, "mean_dwell_tr", json_real(md));
    }
    if (s->motion) {
        double *fd = ns_alloc(s->ntime, sizeof(double)), sum = 0.0, mx = 0.0;
        if (fd) {
            ns_sim_framewise_displacement(s->motion, s->ntime, fd);
            for (size_t t = 1; t < s->ntime; t++)
                sum += fd[t], mx = fmax(mx, fd[t]);
            json_object_set_new(j, "mean_fd_mm", json_real(sum / (double)(s->ntime - 1)));
            json_object_set_new(j, "max_fd_mm", json_real(mx));
        }
        free(fd);
    }
    return j;
}
