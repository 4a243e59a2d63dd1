/* Dynamic FNC over the study: windowed FNC of the kept components per run,
 * k-means (city-block) first on subject exemplars then on all windows
 * (GIFT's two stages), state sequences and summaries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/study_int.h"

#define DFNC_MAX_BYTES (4ull << 30) /* windowed FNC held in memory for k-means */

ns_status ns_fnc__dfnc_add(fnc_study *s, fnc_run *r, const double *x, size_t T)
{
    size_t w = s->o->window, nw = ns_fnc_dfnc_nwindows(T, w);
    if (nw == 0)
        return ns_error(NS_ERR_DATA, "%zu time points are too few for a %zu-TR window (%s)", T,
                        w, r->name);
    s->edyn = ns_fnc_nedges(s->nsel);
    size_t need = (s->nwin + nw) * s->edyn;
    if ((unsigned long long)need * sizeof(float) > DFNC_MAX_BYTES)
        return ns_error(NS_ERR_NOMEM, "windowed FNC of %zu components would exceed %llu GiB; "
                        "keep fewer components (--select, --orders) (%s)", s->nsel,
                        DFNC_MAX_BYTES >> 30, r->name);
    if (need > s->win_cap) {
        size_t cap = need * 2 > s->win_cap ? need + need / 2 : need;
        float *nv = realloc(s->win, cap * sizeof(float));
        if (!nv)
            return ns_error(NS_ERR_NOMEM, "out of memory for windowed FNC (%s)", r->name);
        s->win = nv;
        s->win_cap = cap;
    }
    double *xs = ns_alloc(T * s->nsel, sizeof(double));
    if (!xs)
        return NS_ERR_NOMEM;
    for (size_t t = 0; t < T; t++)
        for (size_t a = 0; a < s->nsel; a++)
            xs[t * s->nsel + a] = x[t * s->K + s->sel[a]];
    ns_status st = ns_fnc_dfnc_windows(xs, T, s->nsel, w, s->o->taper_sigma,
                                       s->win + s->nwin * s->edyn);
    free(xs);
    if (st)
        return st;
    r->win_off = s->nwin;
    r->nwin = nw;
    s->nwin += nw;
    return NS_OK;
}

/* GIFT's two stages: k-means with replicates on the subject exemplars, its
 * centroids then start one k-means over all windows. */
static ns_status cluster(fnc_study *s, int *labels, float *cent, ns_fnc_kmeans_info *info)
{
    size_t E = s->edyn, nex = 0;
    size_t *idx = ns_alloc(s->nwin ? s->nwin : 1, sizeof(size_t));
    float *ex = ns_alloc(s->nwin * E + 1, sizeof(float));
    if (!idx || !ex) {
        free(idx);
        free(ex);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->nruns; i++) {
        fnc_run *r = &s->runs[i];
        if (r->failed || r->nwin == 0)
            continue;
        size_t n;
        ns_fnc_dfnc_exemplars(s->win + r->win_off * E, r->nwin, E, idx, &n);
        for (size_t j = 0; j < n; j++)
            memcpy(ex + (nex + j) * E, s->win + (r->win_off + idx[j]) * E, E * sizeof(float));
        nex += n;
    }
    ns_status st;
    ns_fnc_kmeans_info ei;
    if (nex >= (size_t)s->o->km.k * 2) {
        st = ns_fnc_kmeans_l1(ex, nex, E, &s->o->km, NULL, labels, cent, &ei);
        if (!st)
            st = ns_fnc_kmeans_l1(s->win, s->nwin, E, &s->o->km, cent, labels, cent, info);
    } else {
        st = ns_fnc_kmeans_l1(s->win, s->nwin, E, &s->o->km, NULL, labels, cent, info);
    }
    free(idx);
    free(ex);
    return st;
}

static ns_status write_states(fnc_study *s, fnc_run *r, const int *lab)
{
    char *path = NULL;
    ns_afile *f;
    if (asprintf(&path, "%s_desc-dfnc_states.tsv", r->stem) < 0)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    ns_status st = ns_afile_open(path, &f);
    free(path);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(f);
    fputs("window\tonset\tcenter\tstate\n", fp);
    for (size_t i = 0; i < r->nwin; i++)
        fprintf(fp, "%zu\t%.6g\t%.6g\t%d\n", i + 1, (double)i * r->tr,
                ((double)i + 0.5 * (double)(s->o->window - 1)) * r->tr, lab[i] + 1);
    return ns_afile_commit(f);
}

static char **state_names(int k)
{
    char **v = calloc((size_t)k, sizeof(char *));
    for (int i = 0; v && i < k; i++)
        if (asprintf(&v[i], "state%d", i + 1) < 0)
            v[i] = NULL;
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static ns_status write_transitions(fnc_study *s, fnc_run *r, const ns_fnc_state_stats *ss,
                                   char **names)
{
    int k = s->o->km.k;
    double *m = ns_alloc((size_t)(k * k), sizeof(double));
    char *path = NULL;
    if (!m || asprintf(&path, "%s_desc-dfnc_transitions.tsv", r->stem) < 0) {
        free(m);
        return ns_error(NS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < k * k; i++)
        m[i] = (double)ss->transitions[i];
    ns_status st = ns_fnc_write_labelled(path, m, (size_t)k, (size_t)k, "from", 
                                         (const char *const *)names, (const char *const *)names, 0);
    free(path);
    free(m);
    return st;
}

/* Per-run outputs and the rows of the group summary. */
static ns_status write_runs(fnc_study *s, const int *labels, FILE *sum, char **names)
{
    int k = s->o->km.k;
    for (size_t i = 0; i < s->nruns; i++) {
        fnc_run *r = &s->runs[i];
        if (r->failed || r->nwin == 0)
            continue;
        const int *lab = labels + r->win_off;
        ns_fnc_state_stats ss;
        ns_status st = ns_fnc_state_stats_compute(lab, r->nwin, k, &ss);
        if (!st)
            st = write_states(s, r, lab);
        if (!st)
            st = write_transitions(s, r, &ss, names);
        if (!st) {
            fprintf(sum, "%s\t%s\t%zu\t%zu", r->participant, r->name, r->nwin, ss.ntransitions);
            for (int c = 0; c < k; c++)
                fprintf(sum, "\t%.6f", ss.fraction[c]);
            for (int c = 0; c < k; c++)
                fprintf(sum, "\t%.6f", ss.mean_dwell[c]);
            fputc('\n', sum);
        }
        ns_fnc_state_stats_free(&ss);
        if (st)
            return st;
    }
    return NS_OK;
}

static ns_status write_summary(fnc_study *s, const int *labels, char **names)
{
    char *path = NULL;
    ns_afile *f;
    if (asprintf(&path, "%s/group/desc-dfnc_summary.tsv", s->o->out_dir) < 0)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    ns_status st = ns_afile_open(path, &f);
    free(path);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(f);
    int k = s->o->km.k;
    fputs("participant_id\trun\twindows\ttransitions", fp);
    for (int c = 0; c < k; c++)
        fprintf(fp, "\tfraction_%s", names[c]);
    for (int c = 0; c < k; c++)
        fprintf(fp, "\tdwell_%s", names[c]);
    fputc('\n', fp);
    if ((st = write_runs(s, labels, fp, names))) {
        ns_afile_abort(f);
        return st;
    }
    return ns_afile_commit(f);
}

static ns_status write_centroids(fnc_study *s, const float *cent, char **names)
{
    size_t E = s->edyn, k = (size_t)s->o->km.k;
    double *c = ns_alloc(k * E, sizeof(double));
    char **cols = ns_calloc(E ? E : 1, sizeof(char *));
    char *path = NULL;
    ns_status st = (!c || !cols) ? NS_ERR_NOMEM : NS_OK;
    size_t e = 0;
    for (size_t a = 0; !st && a < s->nsel; a++)
        for (size_t b = a + 1; !st && b < s->nsel; b++, e++)
            if (asprintf(&cols[e], "%s-%s", s->ids[s->sel[a]], s->ids[s->sel[b]]) < 0)
                st = ns_error(NS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < k * E; i++)
        c[i] = cent[i];
    if (!st && asprintf(&path, "%s/group/desc-dfnc_centroids.tsv", s->o->out_dir) < 0)
        st = ns_error(NS_ERR_NOMEM, "out of memory");
    if (!st)
        st = ns_fnc_write_labelled(path, c, k, E, "state", (const char *const *)names,
                                   (const char *const *)cols, s->o->decimals);
    free(path);
    free_names(cols, cols ? E : 0);
    free(c);
    return st;
}

static ns_status write_dfnc_json(fnc_study *s, const ns_fnc_kmeans_info *info)
{
    const ns_fnc_study_opts *o = s->o;
    json_t *j = json_object(), *comp = json_array();
    for (size_t a = 0; a < s->nsel; a++)
        json_array_append_new(comp, json_string(s->ids[s->sel[a]]));
    json_object_set_new(j, "Description", json_string("Dynamic FNC: Pearson correlation of "
        "tapered windows (rectangle convolved with a Gaussian), Fisher z, k-means with "
        "city-block distance on subject exemplars then on all windows"));
    json_object_set_new(j, "WindowTRs", json_integer((json_int_t)o->window));
    json_object_set_new(j, "TaperSigmaTRs", json_real(o->taper_sigma));
    json_object_set_new(j, "Step", json_integer(1));
    json_object_set_new(j, "RepetitionTime", s->tr_mixed ? json_null() : json_real(s->tr_first));
    json_object_set_new(j, "States", json_integer(o->km.k));
    json_object_set_new(j, "Distance", json_string("cityblock"));
    json_object_set_new(j, "Replicates", json_integer(o->km.replicates));
    json_object_set_new(j, "MaxIterations", json_integer(o->km.max_iter));
    json_object_set_new(j, "Seed", json_integer((json_int_t)o->km.seed));
    json_object_set_new(j, "Iterations", json_integer(info->iterations));
    json_object_set_new(j, "Converged", json_boolean(info->converged));
    json_object_set_new(j, "Cost", json_real(info->cost));
    json_object_set_new(j, "NumberOfWindows", json_integer((json_int_t)s->nwin));
    json_object_set_new(j, "Components", comp);
    json_object_set_new(j, "StateNumbering", json_string("1-based, in the order k-means found them"));
    char *path = NULL;
    ns_status st = asprintf(&path, "%s/group/desc-dfnc_summary.json", o->out_dir) < 0
                       ? ns_error(NS_ERR_NOMEM, "out of memory")
                       : ns_json_write(j, path);
    free(path);
    json_decref(j);
    return st;
}

ns_status ns_fnc__dfnc_finish(fnc_study *s, ns_fnc_study_result *res)
{
    int k = s->o->km.k;
    size_t ok = 0;
    for (size_t i = 0; i < s->nruns; i++)
        ok += !s->runs[i].failed;
    if (ok == 0)
        return NS_OK; /* every run failed and was reported */
    if (s->nwin < (size_t)k)
        return ns_error(NS_ERR_DATA, "only %zu windows for %d states (%s)", s->nwin, k,
                        s->o->out_dir);
    int *labels = ns_alloc(s->nwin, sizeof(int));
    float *cent = ns_alloc((size_t)k * s->edyn, sizeof(float));
    char **names = state_names(k);
    ns_fnc_kmeans_info info;
    ns_status st = (!labels || !cent || !names) ? NS_ERR_NOMEM : NS_OK;
    if (!st)
        st = cluster(s, labels, cent, &info);
    if (!st)
        st = write_summary(s, labels, names);
    if (!st)
        st = write_centroids(s, cent, names);
    if (!st)
        st = write_dfnc_json(s, &info);
    res->windows = s->nwin;
    free(labels);
    free(cent);
    free_names(names, (size_t)k);
    return st;
}
