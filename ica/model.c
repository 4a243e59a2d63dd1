/* The saved group model of one order (desc-ica<K>_model.npz) and the
 * back-reconstruction of subjects from it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ica/pipeline_int.h"

static ns_status add_scalar_i64(ns_npz *z, const char *name, int64_t v)
{
    ns_array *a = ns_array_create(NS_DT_I64, 0, NULL);
    if (!a)
        return NS_ERR_NOMEM;
    *(int64_t *)a->data = v;
    return ns_npz_add(z, name, a);
}

static ns_status add_scalar_f64(ns_npz *z, const char *name, double v)
{
    ns_array *a = ns_array_create(NS_DT_F64, 0, NULL);
    if (!a)
        return NS_ERR_NOMEM;
    *(double *)a->data = v;
    return ns_npz_add(z, name, a);
}

static ns_status add_string(ns_npz *z, const char *name, const char *s)
{
    size_t n = strlen(s);
    ns_array *a = ns_array_create(NS_DT_U8, 1, &n);
    if (!a)
        return NS_ERR_NOMEM;
    memcpy(a->data, s, n);
    return ns_npz_add(z, name, a);
}

static ns_status add_f32(ns_npz *z, const char *name, const ns_matrix *m)
{
    size_t shape[2] = {m->rows, m->cols};
    ns_array *a = ns_array_create(NS_DT_F32, 2, shape);
    if (!a)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < m->rows; i++)
        memcpy((float *)a->data + i * m->cols, m->data + i * m->stride, m->cols * sizeof(float));
    return ns_npz_add(z, name, a);
}

static ns_status add_f64(ns_npz *z, const char *name, const double *d, int ndim, size_t r,
                         size_t c)
{
    size_t shape[2] = {r, c};
    ns_array *a = ns_array_from_f64(d, ndim, shape);
    return a ? ns_npz_add(z, name, a) : NS_ERR_NOMEM;
}

static const double (*grid_affine(const ns_geom *g))[4]
{
    return g->sform_code > 0 ? (const double (*)[4])g->sto : (const double (*)[4])g->qto;
}

static ns_status add_grid(ns_npz *z, const ns_ica_grid *g)
{
    size_t three = 3, v = g->v;
    ns_array *shape = ns_array_create(NS_DT_I64, 1, &three);
    ns_array *idx = ns_array_create(NS_DT_I64, 1, &v);
    if (!shape || !idx) {
        ns_array_free(shape), ns_array_free(idx);
        return NS_ERR_NOMEM;
    }
    for (int i = 0; i < 3; i++)
        ((int64_t *)shape->data)[i] = g->geom.dim[i];
    for (size_t j = 0; j < v; j++)
        ((int64_t *)idx->data)[j] = (int64_t)g->idx[j];
    ns_status st = ns_npz_add(z, "mask_shape", shape);
    ns_status st2 = ns_npz_add(z, "mask_indices", idx);
    double aff[16];
    const double(*A)[4] = grid_affine(&g->geom);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            aff[i * 4 + j] = A[i][j];
    return st != NS_OK ? st : st2 != NS_OK ? st2 : add_f64(z, "affine", aff, 2, 4, 4);
}

ns_status ns_ica_model_save(const char *path, const ns_ica_grid *g, const ns_ica_order_model *m,
                            const ns_ica_subject_settings *ss, size_t nsub, uint64_t seed,
                            const char *settings_json)
{
    ns_npz *z = ns_npz_create();
    if (!z)
        return NS_ERR_NOMEM;
    size_t k = (size_t)m->k;
    ns_matrix zk = ns_matrix_rows(m->z, 0, k);
    ns_status st = add_grid(z, g);
    if (st == NS_OK) st = add_scalar_i64(z, "order", m->k);
    if (st == NS_OK) st = add_scalar_i64(z, "pc1", (int64_t)ss->pc1);
    if (st == NS_OK) st = add_string(z, "preproc", ns_ica_preproc_name(ss->preproc));
    if (st == NS_OK) st = add_string(z, "backrecon", ns_ica_backrecon_name(ss->backrecon));
    if (st == NS_OK) st = add_f32(z, "whitened_pca_maps", &zk);
    if (st == NS_OK) st = add_f64(z, "pca_eigenvalues", m->geig, 1, k, 1);
    if (st == NS_OK) st = add_f64(z, "unmixing", m->w, 2, k, k);
    if (st == NS_OK) st = add_f64(z, "mixing", m->a, 2, k, k);
    if (st == NS_OK) st = add_f32(z, "group_maps", m->maps);
    if (st == NS_OK) st = add_scalar_f64(z, "repetition_time", g->tr);
    if (st == NS_OK) st = add_scalar_i64(z, "n_subjects", (int64_t)nsub);
    if (st == NS_OK) st = add_scalar_i64(z, "seed", (int64_t)seed);
    if (st == NS_OK) st = add_string(z, "settings_json", settings_json ? settings_json : "{}");
    if (st == NS_OK)
        st = ns_npz_write(z, path);
    ns_npz_free(z);
    return st;
}

/* ------------------------------------------------------------- loading */

typedef struct {
    ns_npz *npz;
    ns_ica_order_model m;
    ns_ica_subject_settings ss;
    ns_ica_grid g;
    double affine[16];
    int64_t shape[3];
} loaded_model;

static const ns_array *need(const loaded_model *lm, const char *name, const char *path,
                            ns_status *st)
{
    const ns_array *a = *st == NS_OK ? ns_npz_get(lm->npz, name) : NULL;
    if (*st == NS_OK && !a)
        *st = ns_error(NS_ERR_FORMAT, "model lacks the array '%s' (%s)", name, path);
    return a;
}

static char *array_string(const ns_array *a)
{
    size_t n = ns_array_count(a);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, a->data, n);
        s[n] = 0;
    }
    return s;
}

static ns_status to_matrix(const ns_array *a, size_t k, size_t v, ns_matrix **out,
                           const char *path)
{
    if (a->ndim != 2 || a->shape[0] != k || a->shape[1] != v)
        return ns_error(NS_ERR_FORMAT, "model maps are not %zu x %zu (%s)", k, v, path);
    float *f;
    ns_status st = ns_array_to_f32(a, &f);
    if (st != NS_OK)
        return st;
    *out = ns_matrix_create(k, v);
    if (*out)
        memcpy((*out)->data, f, k * v * sizeof(float));
    free(f);
    return *out ? NS_OK : NS_ERR_NOMEM;
}

static ns_status read_settings(loaded_model *lm, const char *path)
{
    ns_status st = NS_OK;
    const ns_array *pre = need(lm, "preproc", path, &st), *br = need(lm, "backrecon", path, &st);
    const ns_array *pc1 = need(lm, "pc1", path, &st), *ord = need(lm, "order", path, &st);
    const ns_array *tr = need(lm, "repetition_time", path, &st);
    if (st != NS_OK)
        return st;
    char *ps = array_string(pre), *bs = array_string(br);
    double *d = NULL;
    if (!ps || !bs || ns_ica_preproc_parse(ps, &lm->ss.preproc) ||
        ns_ica_backrecon_parse(bs, &lm->ss.backrecon))
        st = ns_error(NS_ERR_FORMAT, "model has an unknown preprocessing or method (%s)", path);
    free(ps), free(bs);
    if (st == NS_OK && (st = ns_array_to_f64(pc1, &d)) == NS_OK)
        lm->ss.pc1 = (size_t)d[0];
    free(d), d = NULL;
    if (st == NS_OK && (st = ns_array_to_f64(ord, &d)) == NS_OK)
        lm->m.k = (int)d[0];
    free(d), d = NULL;
    if (st == NS_OK && (st = ns_array_to_f64(tr, &d)) == NS_OK)
        lm->g.tr = d[0];
    free(d);
    return st;
}

static ns_status read_grid(loaded_model *lm, const char *path)
{
    ns_status st = NS_OK;
    const ns_array *shape = need(lm, "mask_shape", path, &st);
    const ns_array *idx = need(lm, "mask_indices", path, &st);
    const ns_array *aff = need(lm, "affine", path, &st);
    if (st != NS_OK)
        return st;
    double *s = NULL, *a = NULL, *ix = NULL;
    if (ns_array_count(shape) != 3 || ns_array_count(aff) != 16)
        return ns_error(NS_ERR_FORMAT, "model grid arrays have wrong sizes (%s)", path);
    st = ns_array_to_f64(shape, &s);
    if (st == NS_OK)
        st = ns_array_to_f64(aff, &a);
    if (st == NS_OK)
        st = ns_array_to_f64(idx, &ix);
    if (st == NS_OK) {
        lm->g.nvox = 1;
        for (int i = 0; i < 3; i++)
            lm->shape[i] = (int64_t)s[i], lm->g.nvox *= (size_t)s[i];
        memcpy(lm->affine, a, sizeof lm->affine);
        lm->g.v = ns_array_count(idx);
        lm->g.idx = ns_alloc(lm->g.v, sizeof(size_t));
        st = lm->g.idx ? NS_OK : NS_ERR_NOMEM;
        for (size_t j = 0; st == NS_OK && j < lm->g.v; j++) {
            if (!(ix[j] >= 0 && ix[j] < (double)lm->g.nvox))
                st = ns_error(NS_ERR_FORMAT, "model mask index out of range (%s)", path);
            else
                lm->g.idx[j] = (size_t)ix[j];
        }
    }
    free(s), free(a), free(ix);
    return st;
}

static ns_status read_arrays(loaded_model *lm, const char *path)
{
    ns_status st = NS_OK;
    size_t k = (size_t)lm->m.k, v = lm->g.v;
    const ns_array *z = need(lm, "whitened_pca_maps", path, &st);
    const ns_array *e = need(lm, "pca_eigenvalues", path, &st);
    const ns_array *w = need(lm, "unmixing", path, &st), *a = need(lm, "mixing", path, &st);
    const ns_array *maps = need(lm, "group_maps", path, &st);
    if (st != NS_OK)
        return st;
    if (ns_array_count(e) != k || ns_array_count(w) != k * k || ns_array_count(a) != k * k)
        return ns_error(NS_ERR_FORMAT, "model arrays do not match order %zu (%s)", k, path);
    st = to_matrix(z, k, v, &lm->m.z, path);
    if (st == NS_OK)
        st = to_matrix(maps, k, v, &lm->m.maps, path);
    if (st == NS_OK)
        st = ns_array_to_f64(e, &lm->m.geig);
    if (st == NS_OK)
        st = ns_array_to_f64(w, &lm->m.w);
    if (st == NS_OK)
        st = ns_array_to_f64(a, &lm->m.a);
    return st;
}

static void model_clear(loaded_model *lm)
{
    ns_npz_free(lm->npz);
    ns_matrix_free(lm->m.z), ns_matrix_free(lm->m.maps);
    free(lm->m.geig), free(lm->m.w), free(lm->m.a);
    free(lm->g.idx);
}

static ns_status model_load(const char *path, loaded_model *lm)
{
    memset(lm, 0, sizeof *lm);
    ns_status st = ns_npz_read(path, &lm->npz);
    if (st == NS_OK)
        st = read_settings(lm, path);
    if (st == NS_OK)
        st = read_grid(lm, path);
    if (st == NS_OK)
        st = read_arrays(lm, path);
    if (st != NS_OK)
        model_clear(lm);
    return st;
}

/* The first subject's header gives the geometry; it must be the model's. */
static ns_status match_model_grid(loaded_model *lm, const char *bold)
{
    ns_volume *h = NULL;
    ns_status st = ns_volume_load_header(bold, &h);
    if (st != NS_OK)
        return st;
    const double(*A)[4] = grid_affine(&h->geom);
    int same = 1;
    for (int i = 0; i < 3; i++)
        same &= h->geom.dim[i] == lm->shape[i];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            same &= fabs(A[i][j] - lm->affine[i * 4 + j]) <= 1e-3 * (1 + fabs(lm->affine[i * 4 + j]));
    double tr = lm->g.tr;
    lm->g.geom = h->geom;
    lm->g.tr = tr;
    ns_volume_free(h);
    if (!same)
        return ns_error(NS_ERR_DATA, "subject is not on the model's grid (%s)", bold);
    return NS_OK;
}

static ns_status apply_one(const loaded_model *lm, const char *out_dir, const char *bold,
                           ns_ica_backrecon br)
{
    ns_ica_subject s = {.path = bold};
    ns_matrix *x = NULL, *y = NULL;
    ns_ica_spca sp = {0};
    ns_status st = ns_ica_bids_stem(bold, &s.stem, &s.label);
    if (st == NS_OK)
        st = ns_ica_load_subject(&lm->g, &s, lm->ss.preproc, &x);
    if (st == NS_OK && (lm->ss.pc1 >= x->rows || (size_t)lm->m.k >= x->rows))
        st = ns_error(NS_ERR_DATA, "%zu time points: need more than pc1 = %zu and K = %d (%s)",
                      x->rows, lm->ss.pc1, lm->m.k, bold);
    if (st == NS_OK && br != NS_ICA_BR_DR)
        st = ns_ica_subject_pca(x, lm->ss.pc1, bold, &sp, &y);
    if (st == NS_OK)
        st = ns_ica_subject_outputs(out_dir, &lm->g, &s, &lm->m, br, x, &sp, y, NULL);
    ns_matrix_free(x), ns_matrix_free(y);
    ns_ica_spca_clear(&sp);
    free(s.stem), free(s.label);
    return st;
}

ns_status ns_ica_apply_model(const char *model_path, const char *out_dir,
                             const char *const *bold, size_t nsub, int backrecon, int nprocs)
{
    if (nsub == 0)
        return ns_error(NS_ERR_ARG, "no subjects to back-reconstruct (%s)", model_path);
    loaded_model lm;
    ns_status st = model_load(model_path, &lm);
    if (st != NS_OK)
        return st;
    ns_ica_backrecon br = backrecon < 0 ? lm.ss.backrecon : (ns_ica_backrecon)backrecon;
    st = match_model_grid(&lm, bold[0]);
    if (st == NS_OK)
        st = ns_ica_dataset_description(out_dir);
    ns_ica_err err = {0};
    int nt = nprocs < 1 ? 1 : nprocs, old = nt > 1 ? ns_blas_threads(1) : 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && st == NS_OK)
    for (size_t i = 0; i < nsub; i++) {
        if (st != NS_OK || err.code != NS_OK)
            continue;
        ns_status s1 = apply_one(&lm, out_dir, bold[i], br);
        if (s1 != NS_OK)
            ns_ica_err_keep(&err, s1);
    }
    if (nt > 1)
        ns_blas_threads(old);
    if (st == NS_OK)
        st = ns_ica_err_raise(&err);
    model_clear(&lm);
    return st;
}
