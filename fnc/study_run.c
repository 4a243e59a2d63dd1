/* Loading one run: the timecourses of every order side by side (T x K),
 * its TR (sidecar RepetitionTime, the BOLD sidecar, or --tr) and the chosen
 * confound columns from the fMRIPrep table beside the BOLD file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/study_int.h"

void ns_fnc__run_data_free(fnc_run_data *d)
{
    free(d->x);
    free(d->conf);
    memset(d, 0, sizeof *d);
}

/* RepetitionTime of a JSON object: > 0, or NaN when absent / null. */
static double json_tr(json_t *j)
{
    json_t *v = json_object_get(j, "RepetitionTime");
    return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : NAN;
}

/* Reads one order's table into columns [koff, koff + K) of d->x. */
static ns_status load_order(fnc_study *s, fnc_run *r, int j, fnc_run_data *d, double *tr,
                            char **source)
{
    char *path = NULL, *side = NULL;
    int K = s->orders[j];
    if (asprintf(&path, "%s_desc-ica%d_timeseries.tsv", r->stem, K) < 0)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    ns_fnc_table *t = NULL;
    ns_status st = NS_OK;
    if (!ns_file_exists(path))
        st = ns_error(NS_ERR_IO, "no order-%d timecourses (%s)", K, path);
    else
        st = ns_fnc_table_read(path, &t);
    if (!st && t->ncols != (size_t)K)
        st = ns_error(NS_ERR_FORMAT, "%zu columns, expected %d (%s)", t->ncols, K, path);
    for (size_t c = 0; !st && c < t->ncols; c++)
        if (strcmp(t->header[c], s->ids[s->koff[j] + c]))
            st = ns_error(NS_ERR_FORMAT, "column %zu is '%s', expected '%s' (%s)", c + 1,
                          t->header[c], s->ids[s->koff[j] + c], path);
    if (!st && j == 0) {
        d->T = t->nrows;
        if (!(d->x = ns_alloc(d->T * s->K, sizeof(double))))
            st = NS_ERR_NOMEM;
    } else if (!st && t->nrows != d->T) {
        st = ns_error(NS_ERR_DATA, "%zu time points, order %d has %zu (%s)", t->nrows,
                      s->orders[0], d->T, path);
    }
    for (size_t i = 0; !st && i < d->T; i++)
        memcpy(d->x + i * s->K + s->koff[j], t->x + i * (size_t)K, (size_t)K * sizeof(double));
    ns_fnc_table_free(t);
    json_t *js = NULL;
    if (!st && asprintf(&side, "%s_desc-ica%d_timeseries.json", r->stem, K) >= 0 &&
        ns_file_exists(side) && !(st = ns_json_read(side, &js))) {
        double v = json_tr(js);
        if (isfinite(v) && isfinite(*tr) && fabs(v - *tr) > 1e-6 * v)
            st = ns_error(NS_ERR_DATA, "RepetitionTime %g differs from the other orders' %g (%s)",
                          v, *tr, side);
        if (isfinite(v))
            *tr = v;
        json_t *src = json_array_get(json_object_get(js, "Sources"), 0);
        if (!*source && json_is_string(src))
            *source = strdup(json_string_value(src));
        json_decref(js);
    }
    free(path);
    free(side);
    return st;
}

/* The BOLD source path: absolute, relative to the working directory, to the
 * output tree or to its parent (where the BIDS dataset often sits), in that
 * order; the path as given when none exists (the confounds are beside it). */
static char *resolve_source(const fnc_study *s, const char *src)
{
    if (src[0] == '/' || ns_file_exists(src))
        return strdup(src);
    const char *fmt[] = {"%s/%s", "%s/../%s"};
    for (int i = 0; i < 2; i++) {
        char *p = NULL;
        if (asprintf(&p, fmt[i], s->o->out_dir, src) < 0)
            return NULL;
        if (ns_file_exists(p))
            return p;
        free(p);
    }
    return strdup(src);
}

/* TR from the BOLD file's own BIDS sidecar (x.nii.gz -> x.json). */
static double source_sidecar_tr(const char *src)
{
    char *p = strdup(src);
    if (!p)
        return NAN;
    char *e = strstr(p, ".nii");
    if (e)
        *e = '\0';
    char *side = NULL;
    double tr = NAN;
    json_t *j = NULL;
    if (asprintf(&side, "%s.json", p) >= 0 && ns_file_exists(side) && !ns_json_read(side, &j)) {
        tr = json_tr(j);
        json_decref(j);
    }
    ns_clear_error();
    free(side);
    free(p);
    return tr;
}

static ns_status resolve_tr(fnc_study *s, fnc_run *r, double data_tr, const char *src,
                            double *tr)
{
    if (!isfinite(data_tr) && src)
        data_tr = source_sidecar_tr(src);
    double user = s->o->tr;
    if (user > 0) {
        if (isfinite(data_tr) && fabs(data_tr - user) > 1e-6 * user) {
            int seen;
#pragma omp atomic capture
            seen = s->tr_mismatch_runs++;
            if (seen == 0) /* warn once; the count goes to the sidecar */
                ns_warn("--tr %g differs from the data's RepetitionTime %g (%s); using --tr", user,
                        data_tr, r->name);
        }
        *tr = user;
        return NS_OK;
    }
    if (!isfinite(data_tr))
        return ns_error(NS_ERR_DATA, "no repetition time: the timecourse sidecar has no "
                        "RepetitionTime and none was given; pass --tr SECONDS (%s)", r->name);
    *tr = data_tr;
    return NS_OK;
}

/* fMRIPrep's confounds table beside the BOLD file: the contract name
 * <stem>_desc-confounds_timeseries.tsv, then the same without space / res /
 * den / desc entities (fMRIPrep drops them), then the pre-1.2 name. */
static char *find_confounds(const char *src)
{
    const char *slash = strrchr(src, '/');
    size_t dlen = slash ? (size_t)(slash - src) + 1 : 0;
    char *base = strdup(src + dlen), *p;
    if (!base)
        return NULL;
    if ((p = strstr(base, ".nii")))
        *p = '\0';
    size_t n = strlen(base);
    const char *sufs[] = {"_desc-preproc_bold", "_bold"};
    for (int i = 0; i < 2; i++) {
        size_t l = strlen(sufs[i]);
        if (n > l && !strcmp(base + n - l, sufs[i])) {
            base[n - l] = '\0';
            break;
        }
    }
    char *bare = strdup(base), *w = bare; /* drop space-/res-/den-/desc- entities */
    for (char *tok = base; bare && tok && *tok;) {
        char *next = strchr(tok + 1, '_');
        size_t l = next ? (size_t)(next - tok) : strlen(tok);
        int drop = !strncmp(tok, "_space-", 7) || !strncmp(tok, "_res-", 5) ||
                   !strncmp(tok, "_den-", 5) || !strncmp(tok, "_desc-", 6);
        if (!drop) {
            memmove(w, tok, l);
            w += l;
        }
        tok = next;
    }
    if (w)
        *w = '\0';
    char *cand[3] = {NULL, NULL, NULL}, *hit = NULL;
    if (asprintf(&cand[0], "%.*s%s_desc-confounds_timeseries.tsv", (int)dlen, src, base) < 0)
        cand[0] = NULL;
    if (bare && asprintf(&cand[1], "%.*s%s_desc-confounds_timeseries.tsv", (int)dlen, src, bare) < 0)
        cand[1] = NULL;
    if (bare && asprintf(&cand[2], "%.*s%s_desc-confounds_regressors.tsv", (int)dlen, src, bare) < 0)
        cand[2] = NULL;
    for (int i = 0; i < 3; i++) {
        if (!hit && cand[i] && ns_file_exists(cand[i]))
            hit = cand[i];
        else
            free(cand[i]);
    }
    free(base);
    free(bare);
    return hit;
}

static ns_status load_confounds(fnc_study *s, fnc_run *r, const char *src, fnc_run_data *d)
{
    if (!src)
        return ns_error(NS_ERR_DATA, "confounds asked for but the timecourse sidecar names no "
                        "Sources BOLD file (%s)", r->name);
    char *path = find_confounds(src);
    if (!path)
        return ns_error(NS_ERR_IO, "no fMRIPrep confounds table (*_desc-confounds_timeseries.tsv) "
                        "beside %s (%s)", src, r->name);
    ns_fnc_table *t = NULL;
    ns_status st = ns_fnc_table_read(path, &t);
    if (!st && t->nrows != d->T)
        st = ns_error(NS_ERR_DATA, "%zu rows, the timecourses have %zu (%s)", t->nrows, d->T, path);
    if (!st && !(d->conf = ns_alloc(d->T * s->nconf, sizeof(double))))
        st = NS_ERR_NOMEM;
    for (size_t c = 0; !st && c < s->nconf; c++) {
        size_t col = t->ncols;
        for (size_t j = 0; j < t->ncols; j++)
            if (!strcmp(t->header[j], s->conf[c]))
                col = j;
        if (col == t->ncols) {
            st = ns_error(NS_ERR_DATA, "no confound column '%s' (%s)", s->conf[c], path);
            break;
        }
        for (size_t i = 0; i < d->T; i++)
            d->conf[i * s->nconf + c] = t->x[i * t->ncols + col];
    }
    ns_fnc_table_free(t);
    free(path);
    return st;
}

ns_status ns_fnc__load_run(fnc_study *s, fnc_run *r, fnc_run_data *d)
{
    memset(d, 0, sizeof *d);
    double data_tr = NAN;
    char *src_raw = NULL, *src = NULL;
    ns_status st = NS_OK;
    for (int j = 0; j < s->norders && !st; j++)
        st = load_order(s, r, j, d, &data_tr, &src_raw);
    if (!st && src_raw && !(src = resolve_source(s, src_raw)))
        st = ns_error(NS_ERR_NOMEM, "out of memory");
    if (!st)
        st = resolve_tr(s, r, data_tr, src, &d->tr);
    if (!st && s->nconf)
        st = load_confounds(s, r, src, d);
    free(src_raw);
    free(src);
    if (st)
        ns_fnc__run_data_free(d);
    return st;
}
