/* Reading subjects through the group grid, and the per-subject outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ica/pipeline_int.h"

char *ns_ica_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    else
        ns_error(NS_ERR_NOMEM, "out of memory");
    return p;
}

ns_status ns_ica_check_grid(const ns_ica_grid *g, const ns_volume *h, const char *path)
{
    if (h->geom.ndim < 4 || h->geom.dim[3] < 2)
        return ns_error(NS_ERR_DATA, "not a 4-D time series (%s)", path);
    if (!ns_geom_same_grid(&g->geom, &h->geom))
        return ns_error(NS_ERR_DATA,
                        "grid %lldx%lldx%lld / affine differs from the group grid %lldx%lldx%lld "
                        "(%s)",
                        (long long)h->geom.dim[0], (long long)h->geom.dim[1],
                        (long long)h->geom.dim[2], (long long)g->geom.dim[0],
                        (long long)g->geom.dim[1], (long long)g->geom.dim[2], path);
    if (g->tr > 0 && h->geom.tr > 0 && fabs(h->geom.tr - g->tr) > 1e-3 * g->tr)
        return ns_error(NS_ERR_DATA, "repetition time %g s differs from the group's %g s (%s)",
                        h->geom.tr, g->tr, path);
    return NS_OK;
}

/* dst[j] = vol[idx[j]] for j < n. */
NS_ICA_CLONES static void gather(const float *vol, const size_t *idx, size_t n, float *dst)
{
    for (size_t j = 0; j < n; j++)
        dst[j] = vol[idx[j]];
}

/* Volume by volume (ns_volume_reader): the memory of one volume besides x;
 * each volume is gathered into x, and its row preprocessed, while it is
 * still in cache. A matrix of the right shape already in *x is reused (no
 * fresh pages to zero). */
ns_status ns_ica_load_subject(const ns_ica_grid *g, const ns_ica_subject *s,
                              ns_ica_preproc pre, ns_matrix **x)
{
    ns_volume_reader *rd = NULL;
    float *vol = NULL;
    ns_status st = ns_volume_reader_open(s->path, NULL, &rd);
    const ns_volume *h = st == NS_OK ? ns_volume_reader_header(rd) : NULL;
    if (st == NS_OK)
        st = ns_ica_check_grid(g, h, s->path);
    if (st == NS_OK && !(*x && (*x)->rows == h->nvol && (*x)->cols == g->v)) {
        ns_matrix_free(*x);
        *x = ns_matrix_create(h->nvol, g->v);
    }
    if (st == NS_OK) {
        vol = ns_alloc(h->nvox, sizeof(float));
        st = *x && vol ? NS_OK : NS_ERR_NOMEM;
    }
    for (size_t t = 0; st == NS_OK && t < h->nvol; t++) {
        st = ns_volume_reader_next(rd, vol);
        float *dst = (*x)->data + t * (*x)->stride;
        if (st == NS_OK) {
            gather(vol, g->idx, g->v, dst);
            st = ns_ica_preprocess_row(dst, g->v, t, pre, s->path); /* while in cache */
        }
    }
    free(vol);
    ns_volume_reader_free(rd);
    if (st == NS_OK)
        st = ns_ica_preprocess_voxels(*x, pre, s->path);
    if (st != NS_OK) {
        ns_matrix_free(*x);
        *x = NULL;
    }
    return st;
}

ns_status ns_ica_write_maps(const ns_ica_grid *g, const ns_matrix *maps, const char *path)
{
    ns_geom geom = g->geom;
    geom.ndim = 4;
    geom.dim[3] = (int64_t)maps->rows;
    for (int i = 4; i < 7; i++)
        geom.dim[i] = 1;
    geom.pixdim[3] = 1;
    geom.time_units = 0; /* the 4th axis is the component, not time */
    geom.tr = 0;
    geom.tr_source = 0;
    ns_volume *v = ns_volume_create(&geom);
    if (!v)
        return ns_error_prefix(NS_ERR_NOMEM, "component maps (%s)", path);
    for (size_t k = 0; k < maps->rows; k++) {
        const float *r = maps->data + k * maps->stride;
        float *dst = v->data + k * g->nvox;
        for (size_t j = 0; j < g->v; j++)
            dst[g->idx[j]] = r[j];
    }
    /* level 1 (ISA-L): maps are noisy float32 that no level compresses
     * much (22.0 MB at libdeflate's level 1 vs 21.7 MB at 6 for 100 maps of
     * a 53x63x46 grid; ISA-L's level 1 ~1 % more) while ISA-L's level 1
     * costs a fifth of libdeflate's; with K maps per subject and order,
     * writing dominated pass 2 */
    ns_status st = ns_volume_save_level(v, path, NS_SAVE_FLOAT32, 1);
    ns_volume_free(v);
    return st;
}

static ns_status write_timeseries(const char *base, const ns_ica_subject *s, int k,
                                  const ns_ica_subject_result *r, double tr,
                                  ns_ica_backrecon br)
{
    char path[4096], name[32];
    char **names = ns_calloc((size_t)k, sizeof(char *));
    ns_status st = names ? NS_OK : NS_ERR_NOMEM;
    for (int j = 0; st == NS_OK && j < k; j++) {
        ns_ica_component_name(k, j, name, sizeof name);
        if (!(names[j] = strdup(name)))
            st = ns_error(NS_ERR_NOMEM, "out of memory");
    }
    snprintf(path, sizeof path, "%s_desc-ica%d_timeseries.tsv", base, k);
    if (st == NS_OK)
        st = ns_tsv_write_matrix(path, r->tc, r->t, r->k, (const char *const *)names, NULL, NULL);
    json_t *j = json_object(), *cols = json_array();
    for (int c = 0; names && c < k; c++)
        json_array_append_new(cols, json_string(names[c] ? names[c] : ""));
    json_object_set_new(j, "RepetitionTime", tr > 0 ? json_real(tr) : json_null());
    json_object_set_new(j, "Sources", json_pack("[s]", s->path));
    json_object_set_new(j, "Components", json_integer(k));
    json_object_set_new(j, "ComponentNames", cols);
    json_object_set_new(j, "BackReconstruction", json_string(ns_ica_backrecon_name(br)));
    json_object_set_new(j, "Scaling", json_string("z-scores (linear detrend, unit std)"));
    json_object_set_new(j, "NumberOfVolumes", json_integer((json_int_t)r->t));
    snprintf(path, sizeof path, "%s_desc-ica%d_timeseries.json", base, k);
    if (st == NS_OK)
        st = ns_json_write(j, path);
    json_decref(j);
    for (int c = 0; names && c < k; c++)
        free(names[c]);
    free(names);
    return st;
}

ns_status ns_ica_subject_outputs(const char *out_dir, const ns_ica_grid *g,
                                 const ns_ica_subject *s, const ns_ica_order_model *m,
                                 ns_ica_backrecon br, const ns_matrix *x,
                                 const ns_ica_spca *sp, const ns_matrix *y,
                                 const ns_ica_whitener *w)
{
    ns_ica_group_model gm = {.k = (size_t)m->k, .v = g->v, .z = m->z, .geig = m->geig,
                             .w = m->w, .a = m->a, .maps = m->maps};
    ns_ica_subject_result r;
    ns_status st = w ? ns_ica_backreconstruct_factored(&gm, br, sp, w, y, &r)
                     : ns_ica_backreconstruct(&gm, br, x, sp, y, &r);
    if (st != NS_OK)
        return ns_error_prefix(st, "back-reconstruction of order %d (%s)", m->k, s->path);
    ns_ica_scale_subject(&r, m->maps);
    char dir[4096], base[4096], path[4200];
    /* BIDS layout: sub-<l>/[ses-<s>/]func, the session taken from the stem */
    const char *ses = strstr(s->stem, "_ses-");
    int seslen = ses ? (int)strcspn(ses + 1, "_") : 0;
    if (ses)
        snprintf(dir, sizeof dir, "%s/sub-%s/%.*s/func", out_dir, s->label, seslen, ses + 1);
    else
        snprintf(dir, sizeof dir, "%s/sub-%s/func", out_dir, s->label);
    snprintf(base, sizeof base, "%s/%s", dir, s->stem);
    st = ns_mkdirs(dir);
    snprintf(path, sizeof path, "%s_desc-ica%d_components.nii.gz", base, m->k);
    if (st == NS_OK)
        st = ns_ica_write_maps(g, r.maps, path);
    if (st == NS_OK)
        st = write_timeseries(base, s, m->k, &r, g->tr, br);
    ns_ica_subject_result_clear(&r);
    return st;
}

ns_status ns_ica_dataset_description(const char *out_dir)
{
    char *path = ns_ica_path(out_dir, "dataset_description.json");
    if (!path)
        return NS_ERR_NOMEM;
    ns_status st = ns_mkdirs(out_dir);
    if (st == NS_OK && !ns_file_exists(path)) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "Name",
                              "neurospectra derivatives", "BIDSVersion", "1.8.0", "DatasetType",
                              "derivative", "GeneratedBy", "Name", "neurospectra", "Version",
                              NS_VERSION);
        st = j ? ns_json_write(j, path) : ns_error(NS_ERR_NOMEM, "out of memory");
        json_decref(j);
    }
    free(path);
    return st;
}
