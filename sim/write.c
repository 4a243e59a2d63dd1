/* Writing the BIDS dataset: raw data, participants, sidecars, confounds,
 * and the ground truth under derivatives/simulation. */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nifti_io/nifti_io.h"
#include "sim/sim_int.h"

#define PATHMAX 4096
#define EXT(sim) ((sim)->p.gzip ? ".nii.gz" : ".nii")

static ns_status pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ns_status pathf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATHMAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATHMAX)
        return ns_error(NS_ERR_ARG, "output path too long (%.64s...)", buf);
    return NS_OK;
}

/* A volume with the simulation grid and nt volumes (tr 0: not a time axis). */
static ns_volume *grid_volume(const ns_sim *sim, int64_t nt, double tr)
{
    ns_geom g;
    int64_t dim[4] = {sim->p.dim[0], sim->p.dim[1], sim->p.dim[2], nt};
    ns_geom_default(&g, nt > 1 ? 4 : 3, dim, sim->p.voxel_mm, tr);
    return ns_volume_create(&g);
}

static ns_status save_floats(const ns_sim *sim, const float *x, int64_t nt, double tr, const char *path,
                             ns_save_type type)
{
    ns_volume *v = grid_volume(sim, nt, tr);
    if (!v)
        return ns_sim_fail(NS_ERR_NOMEM, path);
    memcpy(v->data, x, sim->nvox * (size_t)nt * sizeof(float));
    ns_status s = ns_volume_save(v, path, type);
    ns_volume_free(v);
    return s;
}

static ns_status save_bytes(const ns_sim *sim, const uint8_t *x, const char *path)
{
    float *f = ns_alloc(sim->nvox, sizeof(float));
    if (!f)
        return ns_sim_fail(NS_ERR_NOMEM, path);
    for (size_t v = 0; v < sim->nvox; v++)
        f[v] = x[v];
    ns_status s = save_floats(sim, f, 1, 0, path, NS_SAVE_UINT8);
    free(f);
    return s;
}

/* fMRIPrep-style confounds: mean signals of head / CSF / WM, the six rigid
 * parameters (mm, rad) and framewise displacement (n/a at t = 0). */
static ns_status write_confounds(const ns_sim *sim, const ns_sim_subject *s, const float *data,
                                 const char *path)
{
    static const char *cols[] = {"global_signal", "csf", "white_matter", "trans_x", "trans_y",
                                 "trans_z", "rot_x", "rot_y", "rot_z", "framewise_displacement"};
    size_t nt = s->ntime;
    double *x = ns_calloc(nt * 10, sizeof(double)), *fd = ns_calloc(nt, sizeof(double));
    if (!x || !fd) {
        free(x), free(fd);
        return ns_sim_fail(NS_ERR_NOMEM, path);
    }
    ns_sim_framewise_displacement(s->motion, nt, fd);
    for (size_t t = 0; t < nt; t++) {
        double sum[3] = {0, 0, 0};
        size_t cnt[3] = {0, 0, 0};
        for (size_t v = 0; v < s->nvox; v++) {
            int tis = sim->tissue[v];
            double d = data[t * s->nvox + v];
            int k[3] = {tis != 0, tis == 1, tis == 3};
            for (int c = 0; c < 3; c++)
                if (k[c])
                    sum[c] += d, cnt[c]++;
        }
        for (int c = 0; c < 3; c++)
            x[t * 10 + c] = cnt[c] ? sum[c] / (double)cnt[c] : NAN;
        memcpy(x + t * 10 + 3, s->motion + t * 6, 6 * sizeof(double));
        x[t * 10 + 9] = fd[t];
    }
    ns_status st = ns_tsv_write_matrix(path, x, nt, 10, cols, NULL, NULL);
    free(x), free(fd);
    return st;
}

static ns_status write_sidecar(const ns_sim *sim, const char *path)
{
    json_t *j = json_pack("{s:f,s:s,s:s}", "RepetitionTime", sim->p.tr, "TaskName", "rest",
                          "TaskDescription", "simulated resting state (neurospectra simulate, SimTB model)");
    ns_status s = j ? ns_json_write(j, path) : ns_sim_fail(NS_ERR_NOMEM, path);
    json_decref(j);
    return s;
}

static ns_status write_truth_tables(const ns_sim *sim, const ns_sim_subject *s, const char *dir,
                                    const char *id)
{
    char path[PATHMAX];
    const char *names[NS_SIM_CATALOGUE_SIZE];
    for (size_t c = 0; c < s->nsrc; c++)
        names[c] = ns_sim_source_name(sim, c);
    ns_status st = pathf(path, "%s/%s_task-rest_desc-true_timeseries.tsv", dir, id);
    if (!st)
        st = ns_tsv_write_matrix(path, s->tc, s->ntime, s->nsrc, names, NULL, NULL);
    if (!st && s->state) {
        double *x = ns_alloc(s->ntime, sizeof(double));
        static const char *col[] = {"state"};
        if (!x)
            return ns_sim_fail(NS_ERR_NOMEM, id);
        for (size_t t = 0; t < s->ntime; t++)
            x[t] = s->state[t];
        st = pathf(path, "%s/%s_task-rest_desc-states_timeseries.tsv", dir, id);
        if (!st)
            st = ns_tsv_write_matrix(path, x, s->ntime, 1, col, NULL, NULL);
        free(x);
    }
    if (!st && sim->p.write_subject_maps &&
        !(st = pathf(path, "%s/%s_task-rest_desc-true_components%s", dir, id, EXT(sim))))
        st = save_floats(sim, s->maps, (int64_t)s->nsrc, 0, path, NS_SAVE_FLOAT32);
    return st;
}

/* The raw files of one subject; data is the bold volume's buffer. */
static ns_status write_raw(const ns_sim *sim, const ns_sim_subject *s, ns_volume *bold, const char *root,
                           const char *id)
{
    char dir[PATHMAX], path[PATHMAX];
    ns_status st = pathf(dir, "%s/%s/func", root, id);
    if (!st)
        st = ns_mkdirs(dir);
    if (!st && !(st = pathf(path, "%s/%s_task-rest_bold%s", dir, id, EXT(sim))))
        st = ns_volume_save(bold, path, NS_SAVE_FLOAT32);
    if (!st && !(st = pathf(path, "%s/%s_task-rest_bold.json", dir, id)))
        st = write_sidecar(sim, path);
    if (!st && s->motion && !(st = pathf(path, "%s/%s_task-rest_desc-confounds_timeseries.tsv", dir, id)))
        st = write_confounds(sim, s, bold->data, path);
    return st;
}

static ns_status write_subject(const ns_sim *sim, size_t i, const char *root, json_t **record)
{
    const char *id = sim->part[i].id;
    ns_sim_subject *s = NULL;
    ns_volume *bold = NULL;
    char dir[PATHMAX];
    ns_status st = ns_sim_subject_create(sim, i, &s);
    if (!st && !(bold = grid_volume(sim, sim->p.n_timepoints, sim->p.tr)))
        st = ns_sim_fail(NS_ERR_NOMEM, id);
    if (!st)
        st = ns_sim_subject_bold(sim, s, bold->data);
    if (!st)
        st = write_raw(sim, s, bold, root, id);
    ns_volume_free(bold);
    if (!st && !(st = pathf(dir, "%s/derivatives/simulation/%s/func", root, id)) && !(st = ns_mkdirs(dir)))
        st = write_truth_tables(sim, s, dir, id);
    if (!st)
        *record = ns_sim_subject_json(sim, s);
    ns_sim_subject_free(s);
    return st;
}

static ns_status write_participants(const ns_sim *sim, const char *root)
{
    static const char *cols[] = {"participant_id", "diagnosis", "medication_class", "responder", "site", "age", "sex"};
    ns_tsv *t = ns_tsv_create(7, cols);
    char path[PATHMAX];
    ns_status st = t ? NS_OK : NS_ERR_NOMEM;
    for (int i = 0; !st && i < sim->p.n_subjects; i++) {
        const ns_sim_participant *pt = &sim->part[i];
        char site[16], age[16], sex[2] = {pt->sex, 0};
        snprintf(site, sizeof site, "S%d", pt->site + 1);
        snprintf(age, sizeof age, "%d", pt->age);
        const char *row[7] = {pt->id, ns_sim_label_text("diagnosis", pt->diagnosis),
                              ns_sim_label_text("medication_class", pt->medication),
                              ns_sim_label_text("responder", pt->responder), site, age, sex};
        st = ns_tsv_append(t, row);
    }
    if (!st && !(st = pathf(path, "%s/participants.tsv", root)))
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    if (st)
        return st;
    json_t *j = json_pack(
        "{s:{s:s},s:{s:s,s:{s:s,s:s,s:s}},s:{s:s,s:{s:s,s:s}},s:{s:s,s:{s:s,s:s}},s:{s:s},s:{s:s,s:s},s:{s:s,s:{s:s,s:s}}}",
        "participant_id", "Description", "subject label",
        "diagnosis", "Description", "diagnostic group (simulated)", "Levels", "HC", "healthy control", "MDD",
        "major depressive disorder", "BD", "bipolar disorder",
        "medication_class", "Description", "class of medication the patient responds to (n/a for controls)",
        "Levels", "antidepressant", "antidepressant", "mood_stabilizer", "mood stabilizer",
        "responder", "Description", "response to treatment (n/a for controls)", "Levels", "yes", "responder",
        "no", "non-responder",
        "site", "Description", "acquisition site (S1, S2, ...)",
        "age", "Description", "age", "Units", "years",
        "sex", "Description", "sex", "Levels", "F", "female", "M", "male");
    if (!j)
        return ns_error(NS_ERR_INTERNAL, "cannot build participants.json");
    if (!(st = pathf(path, "%s/participants.json", root)))
        st = ns_json_write(j, path);
    json_decref(j);
    return st;
}

static ns_status write_description(const char *path, const char *name, const char *type)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s,s:s}]}", "Name", name, "BIDSVersion", "1.8.0",
                          "DatasetType", type, "GeneratedBy", "Name", "neurospectra", "Version", NS_VERSION,
                          "Description", "neurospectra simulate: SimTB-style simulation with ground truth");
    ns_status s = j ? ns_json_write(j, path) : ns_error(NS_ERR_INTERNAL, "cannot build %s", path);
    json_decref(j);
    return s;
}

/* Dataset-level files: descriptions, participants, group truth maps. */
static ns_status write_dataset_files(const ns_sim *sim, const char *root)
{
    char path[PATHMAX], grp[PATHMAX];
    ns_status st = ns_mkdirs(root);
    if (!st && !(st = pathf(path, "%s/dataset_description.json", root)))
        st = write_description(path, "neurospectra simulated resting-state dataset", "raw");
    if (!st)
        st = write_participants(sim, root);
    if (!st && !(st = pathf(grp, "%s/derivatives/simulation/group", root)))
        st = ns_mkdirs(grp);
    if (!st && !(st = pathf(path, "%s/derivatives/simulation/dataset_description.json", root)))
        st = write_description(path, "neurospectra simulation ground truth", "derivative");
    if (!st && !(st = pathf(path, "%s/desc-true_components%s", grp, EXT(sim))))
        st = save_floats(sim, sim->group_maps, (int64_t)sim->nsrc, 0, path, NS_SAVE_FLOAT32);
    if (!st && !(st = pathf(path, "%s/desc-baseline_map%s", grp, EXT(sim))))
        st = save_floats(sim, sim->baseline, 1, 0, path, NS_SAVE_FLOAT32);
    if (!st && !(st = pathf(path, "%s/desc-head_mask%s", grp, EXT(sim))))
        st = save_bytes(sim, sim->head, path);
    if (!st && !(st = pathf(path, "%s/desc-tissue_dseg%s", grp, EXT(sim))))
        st = save_bytes(sim, sim->tissue, path);
    if (!st && !(st = pathf(path, "%s/desc-true_components.json", grp))) {
        json_t *names = json_array();
        for (size_t c = 0; c < sim->nsrc; c++)
            json_array_append_new(names, json_string(ns_sim_source_name(sim, c)));
        json_t *j = json_pack("{s:o,s:s}", "ComponentNames", names, "Description",
                              "true (unjittered) source maps, max |map| = 1; 4th axis = source");
        st = ns_json_write(j, path);
        json_decref(j);
    }
    return st;
}

/* Subjects in parallel; the first failure stops the others from starting. */
static ns_status write_subjects(const ns_sim *sim, const char *root, json_t **records)
{
    long n = sim->p.n_subjects;
    int failed = 0;
    ns_status first = NS_OK;
    char msg[1024] = "";
    size_t done = 0;
    ns_progress *pg = ns_progress_create("simulate", (size_t)n);
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < n; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop)
            continue;
        ns_status st = write_subject(sim, (size_t)i, root, &records[i]);
        size_t d;
#pragma omp critical(ns_sim_write)
        {
            if (st && !first) {
#pragma omp atomic write
                failed = 1;
                first = st;
                snprintf(msg, sizeof msg, "%s", ns_last_error());
            }
            d = ++done;
        }
        if (pg)
            ns_progress_update(pg, d);
    }
    ns_progress_free(pg);
    return first ? ns_error(first, "%s", msg) : NS_OK;
}

ns_status ns_sim_write_bids(const ns_sim *sim, const char *out_dir)
{
    size_t n = (size_t)sim->p.n_subjects;
    ns_status st = write_dataset_files(sim, out_dir);
    if (st)
        return st;
    json_t **records = ns_calloc(n, sizeof *records);
    if (!records)
        return NS_ERR_NOMEM;
    st = write_subjects(sim, out_dir, records);
    if (!st) {
        char path[PATHMAX];
        json_t *truth = ns_sim_truth_json(sim), *subj = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(subj, records[i]);
        records[0] = NULL, n = 0;
        json_object_set_new(truth, "subjects", subj);
        if (!(st = pathf(path, "%s/derivatives/simulation/truth.json", out_dir)))
            st = ns_json_write(truth, path);
        json_decref(truth);
    }
    for (size_t i = 0; i < n; i++)
        json_decref(records[i]);
    free(records);
    return st;
}
