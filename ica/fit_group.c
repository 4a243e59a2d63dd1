/* The group part of ns_ica_fit: group PCA result, ICA/ICASSO of every
 * order, and the group outputs (maps, sidecar, stability, eigenvalues,
 * model, cross-order table). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ica/fit_int.h"
#include "ica/infomax_int.h"

static ns_status fit_order(ns_ica_fitctx *f, size_t o, int nt)
{
    ns_ica_order_model *m = &f->om[o];
    size_t K = (size_t)f->orders[o];
    m->k = (int)K;
    m->geig = f->geig;
    m->z = ns_alloc(1, sizeof(ns_matrix));
    m->a = ns_alloc(K * K, sizeof(double));
    m->w = ns_alloc(K * K, sizeof(double));
    if (!m->z || !m->a || !m->w)
        return NS_ERR_NOMEM;
    *m->z = ns_matrix_rows(f->z, 0, K);
    ns_status st = ns_ica_icasso(m->z, &f->p->ica, f->p->runs, nt, &f->ic[o]);
    if (st != NS_OK)
        return ns_error_prefix(st, "ICA of order %zu", K);
    memcpy(m->w, f->ic[o].w, K * K * sizeof(double));
    st = ns_ica_pinv(m->w, K, K, m->a);
    if (st == NS_OK)
        st = ns_ica_sources(m->z, m->w, K, &m->maps);
    const ns_ica_info *in = &f->ic[o].run_info[f->ic[o].chosen_run];
    if (st == NS_OK && !in->converged && in->warm_iterations)
        ns_warn("ICA of order %zu stopped after %d iterations on a voxel subsample and %d on all "
                "voxels without converging (change %g)",
                K, in->warm_iterations, in->iterations, in->change);
    else if (st == NS_OK && !in->converged)
        ns_warn("ICA of order %zu stopped after %d iterations without converging (change %g)", K,
                in->iterations, in->change);
    return st;
}

ns_status ns_ica_fit_group(ns_ica_fitctx *f)
{
    f->geig = ns_alloc((size_t)f->kmax, sizeof(double));
    f->om = ns_calloc(f->norders, sizeof *f->om);
    f->ic = ns_calloc(f->norders, sizeof *f->ic);
    if (!f->geig || !f->om || !f->ic)
        return NS_ERR_NOMEM;
    /* One BLAS thread throughout: OpenBLAS rounds differently with more,
     * and the ICA runs its own threads (orders, runs or column blocks) in a
     * way that does not change the result. */
    int old = ns_blas_threads(1);
    ns_status st = ns_ica_gpca_result(f->g, (size_t)f->kmax, &f->z, f->geig, &f->gall, &f->ngall);
    ns_ica_gpca_free(f->g);
    f->g = NULL;
    int nt = f->p->nprocs < 1 ? 1 : f->p->nprocs;
    /* One run per order: the orders are the parallel jobs; else the runs. */
    int by_order = f->p->runs <= 1 && f->norders > 1 && nt > 1;
    ns_ica_err err = {0};
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (by_order)
    for (size_t o = 0; o < f->norders; o++) {
        ns_status s1 = st == NS_OK && err.code == NS_OK
                           ? fit_order(f, f->norders - 1 - o, by_order ? 1 : nt)
                           : NS_OK;
        if (s1 != NS_OK)
            ns_ica_err_keep(&err, s1);
    }
    ns_blas_threads(old);
    return st != NS_OK ? st : ns_ica_err_raise(&err);
}

/* ------------------------------------------------------------- outputs */

static json_t *settings_json(const ns_ica_fitctx *f, size_t o)
{
    const ns_ica_params *p = f->p;
    const ns_icasso *ic = &f->ic[o];
    const ns_ica_info *in = &ic->run_info[ic->chosen_run];
    int K = f->orders[o];
    size_t V = f->grid.v;
    json_t *j = json_object(), *src = json_array(), *ord = json_array();
    for (size_t i = 0; i < f->nsub; i++)
        json_array_append_new(src, json_string(f->sub[i].path));
    for (size_t i = 0; i < f->norders; i++)
        json_array_append_new(ord, json_integer(f->orders[i]));
    double lr = p->ica.lrate > 0 ? p->ica.lrate : 0.015 / log((double)K);
    size_t blk = p->ica.block ? p->ica.block : (size_t)floor(sqrt((double)V / 3.0));
    json_object_set_new(j, "Description", json_string("Group ICA components (z-scored maps)"));
    json_object_set_new(j, "GeneratedBy", json_pack("[{s:s, s:s}]", "Name", "neurospectra",
                                                    "Version", NS_VERSION));
    json_object_set_new(j, "ModelOrder", json_integer(K));
    json_object_set_new(j, "ModelOrders", ord);
    json_object_set_new(j, "Algorithm", json_string(ns_ica_algorithm_name(p->ica.algorithm)));
    json_object_set_new(j, "Seed", json_integer((json_int_t)p->ica.seed));
    json_object_set_new(j, "ICASSORuns", json_integer((json_int_t)p->runs));
    json_object_set_new(j, "ICASSOMode", json_string(ns_icasso_mode_name(p->ica.icasso_mode)));
    json_object_set_new(j, "ICASSOChosenRun", json_integer((json_int_t)ic->chosen_run + 1));
    json_object_set_new(j, "Preprocessing", json_string(ns_ica_preproc_name(p->preproc)));
    json_object_set_new(j, "SubjectPCs", json_integer((json_int_t)f->p1));
    json_object_set_new(j, "SubjectPCA", json_string("eigendecomposition of the T x T covariance"));
    json_object_set_new(j, "GroupPCA", json_string(f->work ? "MIGP" : "stacked EVD"));
    json_object_set_new(j, "MIGPRows", f->work ? json_integer((json_int_t)f->work) : json_null());
    json_object_set_new(j, "GroupPCAPowerIterations", json_integer(f->power));
    json_object_set_new(j, "GroupPCARayleighRitz", json_boolean(f->rr_pass));
    json_object_set_new(j, "BackReconstruction", json_string(ns_ica_backrecon_name(p->backrecon)));
    json_object_set_new(j, "SubjectOutputs", json_boolean(!p->group_only)); /* --group-only */
    json_object_set_new(j, "Scaling", json_string("z-scores"));
    json_object_set_new(j, "Mask", json_string(p->mask_path ? p->mask_path
                                                            : "GIFT rule: first volume >= its mean, AND over subjects"));
    json_object_set_new(j, "MaskVoxels", json_integer((json_int_t)V));
    json_object_set_new(j, "RepetitionTime", f->grid.tr > 0 ? json_real(f->grid.tr) : json_null());
    if (p->ica.algorithm == NS_ICA_INFOMAX) {
        json_object_set_new(j, "InfomaxLearningRate", json_real(lr));
        json_object_set_new(j, "InfomaxBlockSize", json_integer((json_int_t)blk));
        json_object_set_new(j, "InfomaxStop", json_real(p->ica.stop > 0 ? p->ica.stop : 1e-6));
        json_object_set_new(j, "InfomaxSphering", json_true());
        json_object_set_new(j, "InfomaxBias", json_true());
        json_object_set_new(j, "Restarts", json_integer(in->restarts));
        json_object_set_new(j, "FinalLearningRate", json_real(in->lrate));
    } else {
        json_object_set_new(j, "FastICAContrast", json_string("logcosh"));
        json_object_set_new(j, "FastICATolerance", json_real(p->ica.tol > 0 ? p->ica.tol : 1e-4));
        /* the warm start: iterations on every stride-th voxel first */
        json_object_set_new(j, "FastICAWarmStartStride",
                            json_integer((json_int_t)ns_ica_fastica_stride(&p->ica, (size_t)K, V)));
        json_object_set_new(j, "WarmStartIterations", json_integer(in->warm_iterations));
    }
    int maxit = p->ica.max_iter > 0 ? p->ica.max_iter
                : p->ica.algorithm == NS_ICA_INFOMAX ? 512 : 200;
    json_object_set_new(j, "MaxIterations", json_integer(maxit));
    json_object_set_new(j, "Iterations", json_integer(in->iterations));
    json_object_set_new(j, "Converged", json_boolean(in->converged));
    json_object_set_new(j, "NumberOfSubjects", json_integer((json_int_t)f->nsub));
    if (p->command_line)
        json_object_set_new(j, "CommandLine", json_string(p->command_line));
    json_object_set_new(j, "Sources", src);
    return j;
}

static char *group_file(const ns_ica_fitctx *f, const char *fmt, int k)
{
    char name[128];
    snprintf(name, sizeof name, fmt, k);
    char *dir = ns_ica_path(f->p->out_dir, "group");
    char *p = dir ? ns_ica_path(dir, name) : NULL;
    free(dir);
    return p;
}

static void row_kurtosis(const ns_matrix *s, double *kurt)
{
    for (size_t i = 0; i < s->rows; i++) {
        const float *r = s->data + i * s->stride;
        double m = 0, m2 = 0, m4 = 0, n = (double)s->cols;
        for (size_t v = 0; v < s->cols; v++)
            m += r[v];
        m /= n;
        for (size_t v = 0; v < s->cols; v++) {
            double d = (r[v] - m) * (r[v] - m);
            m2 += d, m4 += d * d;
        }
        m2 /= n, m4 /= n;
        kurt[i] = m2 > 0 ? m4 / (m2 * m2) - 3 : 0;
    }
}

static const char *num(char *buf, double v)
{
    if (!isfinite(v))
        return NULL;
    snprintf(buf, 32, "%.6g", v);
    return buf;
}

static ns_status write_stability(const ns_ica_fitctx *f, size_t o)
{
    static const char *const hdr[] = {"component",        "stability_index",  "cluster_size",
                                      "intra_similarity", "extra_similarity", "skew",
                                      "kurtosis"};
    const ns_ica_order_model *m = &f->om[o];
    const ns_icasso *ic = &f->ic[o];
    size_t K = (size_t)m->k;
    double *sk = ns_alloc(K, sizeof(double)), *ku = ns_alloc(K, sizeof(double));
    ns_tsv *t = ns_tsv_create(7, hdr);
    char *path = group_file(f, "desc-ica%d_stability.tsv", m->k);
    ns_status st = (sk && ku && t && path) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        ns_ica_row_skew(m->maps, sk);
        row_kurtosis(m->maps, ku);
    }
    for (size_t k = 0; st == NS_OK && k < K; k++) {
        char b[7][32];
        ns_ica_component_name(m->k, (int)k, b[0], 32);
        snprintf(b[2], 32, "%zu", ic->cluster_size[k]);
        const char *cells[7] = {b[0], num(b[1], ic->iq[k]), b[2], num(b[3], ic->intra[k]),
                                num(b[4], ic->extra[k]), num(b[5], sk[k]), num(b[6], ku[k])};
        st = ns_tsv_append(t, cells);
    }
    if (st == NS_OK)
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    free(sk), free(ku), free(path);
    return st;
}

/* Group PCA eigenvalues (of the stacked whitened data, total variance M p1)
 * next to the mean subject spectrum. */
static ns_status write_eigenvalues(const ns_ica_fitctx *f, size_t o)
{
    static const char *const hdr[] = {"index", "group_eigenvalue", "group_variance_fraction",
                                      "retained", "subject_mean_eigenvalue"};
    int K = f->orders[o];
    size_t n = f->ngall > f->tmin ? f->ngall : f->tmin;
    double total = (double)f->nsub * (double)f->p1;
    ns_tsv *t = ns_tsv_create(5, hdr);
    char *path = group_file(f, "desc-ica%d_eigenvalues.tsv", K);
    ns_status st = (t && path) ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; st == NS_OK && i < n; i++) {
        char b[5][32];
        snprintf(b[0], 32, "%zu", i + 1);
        snprintf(b[3], 32, "%d", i < (size_t)K);
        int g = i < f->ngall;
        const char *cells[5] = {b[0], g ? num(b[1], f->gall[i]) : NULL,
                                g ? num(b[2], f->gall[i] / total) : NULL, b[3],
                                i < f->tmin ? num(b[4], f->spec_mean[i]) : NULL};
        st = ns_tsv_append(t, cells);
    }
    if (st == NS_OK)
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    free(path);
    return st;
}

static ns_status write_zmaps(const ns_ica_fitctx *f, const ns_ica_order_model *m,
                             const char *path)
{
    ns_matrix *zm = ns_matrix_copy(m->maps);
    if (!zm)
        return NS_ERR_NOMEM;
    ns_ica_zscore_rows(zm);
    ns_status st = ns_ica_write_maps(&f->grid, zm, path);
    ns_matrix_free(zm);
    return st;
}

static ns_status write_model(const ns_ica_fitctx *f, const ns_ica_order_model *m, json_t *j,
                             const char *path)
{
    ns_ica_subject_settings ss = {f->p->preproc, f->p1, f->p->backrecon};
    char *txt = json_dumps(j, JSON_COMPACT);
    ns_status st = txt ? ns_ica_model_save(path, &f->grid, m, &ss, f->nsub, f->p->ica.seed, txt)
                       : NS_ERR_NOMEM;
    free(txt);
    return st;
}

static ns_status write_order(const ns_ica_fitctx *f, size_t o)
{
    const ns_ica_order_model *m = &f->om[o];
    json_t *j = settings_json(f, o);
    char *comp = group_file(f, "desc-ica%d_components.nii.gz", m->k);
    char *side = group_file(f, "desc-ica%d_components.json", m->k);
    char *model = group_file(f, "desc-ica%d_model.npz", m->k);
    ns_status st = (j && comp && side && model) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = ns_json_write(j, side);
    if (st == NS_OK)
        st = write_stability(f, o);
    if (st == NS_OK)
        st = write_eigenvalues(f, o);
    /* The two large files are compressed at the same time. */
    ns_ica_err err = {0};
#pragma omp parallel sections num_threads(2) if (st == NS_OK && f->p->nprocs > 1)
    {
#pragma omp section
        {
            ns_status s1 = st == NS_OK ? write_zmaps(f, m, comp) : NS_OK;
            if (s1 != NS_OK)
                ns_ica_err_keep(&err, s1);
        }
#pragma omp section
        {
            ns_status s1 = st == NS_OK ? write_model(f, m, j, model) : NS_OK;
            if (s1 != NS_OK)
                ns_ica_err_keep(&err, s1);
        }
    }
    if (st == NS_OK)
        st = ns_ica_err_raise(&err);
    json_decref(j);
    free(comp), free(side), free(model);
    return st;
}

/* Spatial correlations between the group maps of all orders (a square
 * table over every component; blocks between two orders show splits). */
static ns_status write_crossorder(const ns_ica_fitctx *f)
{
    size_t n = 0, off = 0;
    for (size_t o = 0; o < f->norders; o++)
        n += (size_t)f->orders[o];
    double *r = ns_alloc(n * n, sizeof(double));
    char **names = ns_calloc(n, sizeof(char *));
    char *path = group_file(f, "desc-icamulti_crossorder.tsv", 0);
    ns_status st = (r && names && path) ? NS_OK : NS_ERR_NOMEM;
    for (size_t a = 0; st == NS_OK && a < f->norders; a++) {
        size_t ka = (size_t)f->orders[a], offb = 0;
        for (size_t k = 0; k < ka && st == NS_OK; k++) {
            char b[32];
            ns_ica_component_name((int)ka, (int)k, b, sizeof b);
            names[off + k] = strdup(b);
            st = names[off + k] ? NS_OK : ns_error(NS_ERR_NOMEM, "out of memory");
        }
        for (size_t b = 0; st == NS_OK && b < f->norders; b++) {
            size_t kb = (size_t)f->orders[b];
            double *blk = ns_alloc(ka * kb, sizeof(double));
            st = blk ? ns_ica_corr_rows(f->om[a].maps, f->om[b].maps, blk) : NS_ERR_NOMEM;
            for (size_t i = 0; st == NS_OK && i < ka; i++)
                memcpy(r + (off + i) * n + offb, blk + i * kb, kb * sizeof(double));
            free(blk);
            offb += kb;
        }
        off += ka;
    }
    if (st == NS_OK)
        st = ns_tsv_write_matrix(path, r, n, n, (const char *const *)names, "component",
                                 (const char *const *)names);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(r), free(names), free(path);
    return st;
}

ns_status ns_ica_fit_write_group(ns_ica_fitctx *f)
{
    ns_status st = ns_ica_dataset_description(f->p->out_dir);
    if (st == NS_OK)
        st = ns_ica_fit_write_mask(f);
    for (size_t o = 0; st == NS_OK && o < f->norders; o++)
        st = write_order(f, o);
    if (st == NS_OK)
        st = write_crossorder(f);
    return st;
}
