/* ns_fnc_study_run: every run of the tree through post-processing and
 * static / multi-scale FNC, the group feature table, then dynamic FNC. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fnc/fnc_int.h"
#include "fnc/study_int.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust on a shared machine */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ns_fnc_study_defaults(ns_fnc_study_opts *o)
{
    memset(o, 0, sizeof *o);
    ns_fnc_postproc_defaults(&o->pp);
    o->select_iq = -1.0;
    o->select_lowfreq = -1.0;
    o->lowfreq_hz = 0.1;
    o->window = 30;
    o->taper_sigma = 3.0;
    ns_fnc_kmeans_defaults(&o->km);
    o->decimals = 6;
}

static void study_free(fnc_study *s)
{
    for (size_t i = 0; i < s->nruns; i++) {
        free(s->runs[i].stem);
        free(s->runs[i].participant);
    }
    free(s->runs);
    for (size_t k = 0; s->ids && k < s->K; k++)
        free(s->ids[k]);
    free(s->ids);
    for (size_t c = 0; c < s->nconf; c++)
        free(s->conf[c]);
    free(s->conf);
    free(s->orders);
    free(s->koff);
    free(s->sel);
    free(s->iq);
    free(s->lowfreq);
    free(s->lowfreq_n);
    free(s->win);
}

/* A chain for (T, tr), reused while consecutive runs share them. */
typedef struct {
    ns_fnc_postproc *p;
    size_t T;
    double tr;
} pp_cache;

static ns_status chain_for(fnc_study *s, pp_cache *c, size_t T, double tr)
{
    if (c->p && c->T == T && c->tr == tr)
        return NS_OK;
    ns_fnc_postproc_free(c->p);
    c->p = NULL;
    ns_fnc_postproc_opts o = s->o->pp;
    o.tr = tr;
    c->T = T;
    c->tr = tr;
    return ns_fnc_postproc_create(&o, T, &c->p);
}

/* Makes the current message name the run: "<message> (<run>)". */
static ns_status name_run(ns_status st, const fnc_run *r)
{
    if (strstr(ns_last_error(), r->name))
        return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ns_last_error());
    return ns_error(st, "%s (%s)", msg, r->name);
}

/* What one run contributed, merged into the study in run order. */
typedef struct {
    double t_read, t_compute, t_write;
    size_t spikes;
    int lowpass;
} run_stats;

/* Loads and post-processes a run (up to the despike when spectra_only).
 * Touches only r, d, c and rs: runs are prepared in parallel. */
static ns_status prepare_run(fnc_study *s, fnc_run *r, pp_cache *c, int spectra_only,
                             fnc_run_data *d, run_stats *rs)
{
    double t0 = now();
    ns_status st = ns_fnc__load_run(s, r, d);
    double t1 = now();
    if (!st)
        st = chain_for(s, c, d->T, d->tr);
    if (!st)
        st = ns_fnc_postproc_run(c->p, d->x, s->K, d->conf, s->nconf, spectra_only,
                                 &rs->spikes);
    rs->t_read += t1 - t0;
    rs->t_compute += now() - t1;
    if (st) {
        ns_fnc__run_data_free(d);
        return name_run(st, r);
    }
    r->T = d->T;
    r->tr = d->tr;
    rs->lowpass = ns_fnc_postproc_lowpass_applied(c->p);
    return NS_OK;
}

static void merge_stats(fnc_study *s, const fnc_run *r, const run_stats *rs)
{
    s->t_read += rs->t_read;
    s->t_compute += rs->t_compute;
    s->t_write += rs->t_write;
    if (r->failed)
        return;
    if (rs->lowpass)
        s->lowpass_applied = 1;
    else
        s->lowpass_skipped = 1;
    s->spikes += rs->spikes;
    s->values += r->T * s->K;
}

/* The TR of the sidecars: the first processed run's, or mixed. Derived from
 * the runs (with parts, once their facts are study-wide). */
static void tr_summary(fnc_study *s)
{
    s->tr_first = 0.0;
    s->tr_mixed = 0;
    for (size_t i = 0; i < s->nruns; i++) {
        const fnc_run *r = &s->runs[i];
        if (r->failed)
            continue;
        if (s->tr_first == 0.0)
            s->tr_first = r->tr;
        else if (fabs(s->tr_first - r->tr) > 1e-9)
            s->tr_mixed = 1;
    }
}

/* Pass 1 (only for the low-frequency criterion): mean over runs of each
 * component's fraction of power <= lowfreq_hz, before the low-pass. */
static void lowfreq_pass(fnc_study *s, pp_cache *c)
{
    double *frac = ns_alloc(s->K, sizeof(double));
    ns_progress *pg = ns_progress_create("fnc spectra", s->nruns);
    for (size_t i = 0; frac && i < s->nruns; i++) {
        fnc_run *r = &s->runs[i];
        fnc_run_data d;
        run_stats rs = {0};
        if (!r->mine)
            continue;
        if (prepare_run(s, r, c, 1, &d, &rs)) {
            ns_fnc__report(s, r, "%s", ns_last_error());
            continue;
        }
        if (ns_fnc_lowfreq_fraction(d.x, d.T, s->K, d.tr, s->o->lowfreq_hz, frac) == NS_OK)
            for (size_t k = 0; k < s->K; k++)
                if (isfinite(frac[k])) {
                    s->lowfreq[k] += frac[k];
                    s->lowfreq_n[k]++;
                }
        ns_fnc__run_data_free(&d);
        ns_progress_update(pg, i + 1);
    }
    ns_progress_free(pg);
    const ns_fnc_part *p = s->o->part;
    if (p && frac) { /* sums and counts over every part's runs */
        for (size_t k = 0; k < s->K; k++)
            frac[k] = (double)s->lowfreq_n[k];
        if (p->sum(p->ctx, s->lowfreq, s->K) || p->sum(p->ctx, frac, s->K))
            memset(frac, 0, s->K * sizeof(double)); /* parts disagree: no criterion */
        for (size_t k = 0; k < s->K; k++)
            s->lowfreq_n[k] = (size_t)frac[k];
    }
    for (size_t k = 0; k < s->K; k++)
        s->lowfreq[k] = s->lowfreq_n[k] ? s->lowfreq[k] / (double)s->lowfreq_n[k] : NAN;
    free(frac);
}

/* Applies the criteria; records kept / dropped components in sel_json. */
/* Is id in the comma-separated list? */
static int listed(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, id, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Every id of --components must exist. */
static ns_status check_listed(const fnc_study *s)
{
    const char *p = s->o->components;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int found = 0;
        for (size_t k = 0; k < s->K && !found; k++)
            found = strlen(s->ids[k]) == l && !strncmp(s->ids[k], p, l);
        if (!found)
            return ns_error(NS_ERR_ARG, "unknown component '%.*s' in --components (%s)", (int)l, p,
                            s->o->out_dir);
        p = e ? e + 1 : NULL;
    }
    return NS_OK;
}

static ns_status select_components(fnc_study *s, json_t *sel_json)
{
    const ns_fnc_study_opts *o = s->o;
    ns_status st = check_listed(s);
    if (st)
        return st;
    if (o->components)
        json_object_set_new(sel_json, "Components", json_string(o->components));
    json_t *dropped = json_object(), *kept = json_array();
    for (size_t k = 0; k < s->K; k++) {
        char why[160] = "";
        if (o->components && !listed(o->components, s->ids[k]))
            snprintf(why, sizeof why, "not in --components");
        else if (o->select_iq >= 0 && isnan(s->iq[k]))
            snprintf(why, sizeof why, "no stability index (ICASSO needs ica --runs > 1)");
        else if (o->select_iq >= 0 && !(s->iq[k] >= o->select_iq))
            snprintf(why, sizeof why, "stability_index %.4f < %g", s->iq[k], o->select_iq);
        else if (o->select_lowfreq >= 0 && !(s->lowfreq[k] >= o->select_lowfreq))
            snprintf(why, sizeof why, "low-frequency power fraction %.4f < %g", s->lowfreq[k],
                     o->select_lowfreq);
        if (why[0]) {
            json_object_set_new(dropped, s->ids[k], json_string(why));
        } else {
            s->sel[s->nsel++] = k;
            json_array_append_new(kept, json_string(s->ids[k]));
        }
    }
    json_object_set_new(sel_json, "Kept", kept);
    json_object_set_new(sel_json, "Dropped", dropped);
    size_t no_iq = 0;
    for (size_t k = 0; o->select_iq >= 0 && k < s->K; k++)
        no_iq += isnan(s->iq[k]);
    if (s->nsel < 2)
        return ns_error(NS_ERR_DATA, "the selection keeps %zu of %zu components; at least 2 are "
                        "needed%s (%s)", s->nsel, s->K, no_iq ? ": the stability table has no "
                        "stability_index (run neurospectra ica with --runs > 1 for ICASSO)" : "",
                        o->out_dir);
    return NS_OK;
}

/* The relmats of a run: one per order (its diagonal block) and, with
 * several orders, the multi-scale matrix. */
static ns_status write_relmats(fnc_study *s, fnc_run *r, const double *z, ns_fnc__symfmt *fmt)
{
    char *path = NULL;
    const char *const *ids = (const char *const *)s->ids;
    ns_status st = NS_OK;
    ns_fnc__symfmt_fill(fmt, z, s->o->decimals);
    for (int j = 0; j < s->norders && !st; j++) {
        if (asprintf(&path, "%s_desc-ica%d_relmat.tsv", r->stem, s->orders[j]) < 0)
            return ns_error(NS_ERR_NOMEM, "out of memory");
        st = ns_fnc__symfmt_write(fmt, path, s->koff[j], (size_t)s->orders[j], "component", ids);
        free(path);
    }
    if (!st && s->norders > 1) {
        if (asprintf(&path, "%s_desc-icamulti_relmat.tsv", r->stem) < 0)
            return ns_error(NS_ERR_NOMEM, "out of memory");
        st = ns_fnc__symfmt_write(fmt, path, 0, s->K, "component", ids);
        free(path);
    }
    return st;
}

typedef struct {
    ns_afile *f;
    double *acc;   /* selected edges summed over the participant's runs */
    size_t nacc;   /* runs summed */
    char *line;
    size_t E;
    const char *text; /* the only run's row, formatted by its worker */
    size_t ntext;
    FILE *fp;   /* the rows: the file's stream, or memory when parts gather them */
    char *mem;  /* the rows in memory (open_memstream) */
    size_t nmem;
} feat_writer;

static ns_status features_open(fnc_study *s, feat_writer *w)
{
    char *path = NULL;
    w->E = ns_fnc_nedges(s->nsel);
    w->acc = ns_calloc(w->E ? w->E : 1, sizeof(double));
    w->line = ns_alloc(w->E * 34 + 4096, 1);
    if (!w->acc || !w->line || asprintf(&path, "%s/group/desc-fnc_features.tsv", s->o->out_dir) < 0)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    const ns_fnc_part *part = s->o->part;
    if (part && !(w->fp = open_memstream(&w->mem, &w->nmem))) {
        free(path);
        return ns_error(NS_ERR_NOMEM, "out of memory");
    }
    if (part && part->index != 0) { /* part 0 writes the table */
        free(path);
        return NS_OK;
    }
    char *dir = NULL;
    ns_status st = asprintf(&dir, "%s/group", s->o->out_dir) < 0 ? NS_ERR_NOMEM : ns_mkdirs(dir);
    free(dir);
    if (!st)
        st = ns_afile_open(path, &w->f);
    free(path);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(w->f);
    if (!part)
        w->fp = fp;
    fputs("participant_id", fp);
    for (size_t a = 0; a < s->nsel; a++)
        for (size_t b = a + 1; b < s->nsel; b++)
            fprintf(fp, "\t%s-%s", s->ids[s->sel[a]], s->ids[s->sel[b]]);
    fputc('\n', fp);
    return NS_OK;
}

/* The selected edges (upper triangle in selection order) of z. */
static void selected_edges(const fnc_study *s, const double *z, double *e)
{
    size_t n = 0;
    for (size_t a = 0; a < s->nsel; a++)
        for (size_t b = a + 1; b < s->nsel; b++)
            e[n++] = z[s->sel[a] * s->K + s->sel[b]];
}

static void features_add(feat_writer *w, const double *e, const char *text, size_t ntext)
{
    for (size_t i = 0; i < w->E; i++)
        w->acc[i] += e[i];
    w->nacc++;
    w->text = text;
    w->ntext = ntext;
}

/* Writes the participant's row: the mean Fisher z over its runs. */
static void features_flush(feat_writer *w, const char *participant, int decimals)
{
    if (w->nacc == 0)
        return;
    FILE *fp = w->fp;
    if (w->nacc == 1 && w->text) { /* one run: its row as the worker formatted it */
        fputs(participant, fp);
        fwrite(w->text, 1, w->ntext, fp);
        memset(w->acc, 0, w->E * sizeof(double));
        w->nacc = 0;
        w->text = NULL;
        return;
    }
    for (size_t e = 0; e < w->E; e++)
        w->acc[e] /= (double)w->nacc;
    size_t o = (size_t)ns_fnc__format_line(w->line, w->acc, w->E, decimals);
    fputs(participant, fp);
    fwrite(w->line, 1, o, fp);
    memset(w->acc, 0, w->E * sizeof(double));
    w->nacc = 0;
}

/* With parts: every part's rows to part 0, in part order (the one-process
 * order: parts hold contiguous blocks of participants), and the number of
 * participants made study-wide. Collective; st is the caller's status. */
static ns_status write_chunk(void *ctx, const void *chunk, size_t len)
{
    feat_writer *w = ctx;
    if (len && fwrite(chunk, 1, len, ns_afile_stream(w->f)) != len)
        return ns_error(NS_ERR_IO, "cannot write the feature table");
    return NS_OK;
}

static ns_status features_gather(fnc_study *s, feat_writer *w, ns_status st,
                                 ns_fnc_study_result *res)
{
    const ns_fnc_part *p = s->o->part;
    if (w->fp && fclose(w->fp) && !st)
        st = ns_error(NS_ERR_NOMEM, "out of memory for the feature rows");
    w->fp = NULL;
    double n = (double)res->participants;
    if (!(st = p->agree(p->ctx, st))) { /* the same collectives on every part */
        st = p->gather(p->ctx, w->mem, w->nmem, write_chunk, w);
        ns_status st2 = p->sum(p->ctx, &n, 1);
        st = st ? st : st2;
    }
    res->participants = (size_t)n;
    free(w->mem);
    w->mem = NULL;
    return st;
}

/* Per-thread buffers of pass 2. */
typedef struct {
    pp_cache c;
    double *z;
    ns_fnc__symfmt fmt;
} worker;

/* A run's results waiting to be merged in order. */
typedef struct {
    ns_status st;
    char *msg;
    double *edges;
    char *text; /* the selected edges formatted as a feature row */
    size_t ntext;
    fnc_run_data d; /* kept for dynamic FNC */
    run_stats rs;
} run_slot;

/* One run of pass 2 (any thread): post-processing, FNC, relmats. */
static void static_run(fnc_study *s, fnc_run *r, worker *wk, run_slot *sl)
{
    sl->rs = (run_stats){0};
    sl->st = prepare_run(s, r, &wk->c, 0, &sl->d, &sl->rs);
    if (!sl->st) {
        double t0 = now();
        sl->st = ns_fnc_static(sl->d.x, sl->d.T, s->K, wk->z, NULL);
        double t1 = now();
        if (!sl->st)
            sl->st = write_relmats(s, r, wk->z, &wk->fmt);
        if (!sl->st)
            selected_edges(s, wk->z, sl->edges);
        if (!sl->st)
            sl->ntext = ns_fnc__symfmt_row(&wk->fmt, s->sel, s->nsel, sl->text);
        sl->rs.t_compute += t1 - t0;
        sl->rs.t_write += now() - t1;
    }
    if (sl->st) {
        name_run(sl->st, r);
        sl->msg = strdup(ns_last_error());
    }
}

/* In run order: report, dFNC windows, feature accumulation. */
static void merge_run(fnc_study *s, fnc_run *r, run_slot *sl, feat_writer *w)
{
    if (!sl->st && s->o->dynamic && (sl->st = ns_fnc__dfnc_add(s, r, sl->d.x, sl->d.T))) {
        ns_error_prefix(sl->st, "dynamic FNC");
        sl->msg = strdup(ns_last_error());
    }
    if (sl->st)
        ns_fnc__report(s, r, "%s", sl->msg ? sl->msg : "failed");
    else
        features_add(w, sl->edges, sl->text, sl->ntext);
    merge_stats(s, r, &sl->rs);
    ns_fnc__run_data_free(&sl->d);
    free(sl->msg);
    sl->msg = NULL;
}

static void workers_free(worker *wk, int n)
{
    for (int t = 0; wk && t < n; t++) {
        ns_fnc_postproc_free(wk[t].c.p);
        free(wk[t].z);
        ns_fnc__symfmt_clear(&wk[t].fmt);
    }
    free(wk);
}

static worker *workers_create(const fnc_study *s, int n)
{
    worker *wk = ns_calloc((size_t)n, sizeof(worker));
    for (int t = 0; wk && t < n; t++) {
        wk[t].z = ns_alloc(s->K * s->K, sizeof(double));
        if (!wk[t].z || ns_fnc__symfmt_init(&wk[t].fmt, s->K)) {
            workers_free(wk, n);
            return NULL;
        }
    }
    return wk;
}

static void slots_free(run_slot *sl, size_t n)
{
    for (size_t i = 0; sl && i < n; i++)
        free(sl[i].edges), free(sl[i].text);
    free(sl);
}

static run_slot *slots_create(size_t n, size_t E)
{
    run_slot *sl = ns_calloc(n, sizeof(run_slot));
    for (size_t i = 0; sl && i < n; i++)
        if (!(sl[i].edges = ns_alloc(E ? E : 1, sizeof(double))) ||
            !(sl[i].text = ns_alloc(ns_fnc__symfmt_row_size(E), 1))) {
            slots_free(sl, n);
            return NULL;
        }
    return sl;
}

/* Pass 2: runs in batches, each batch in parallel (OpenMP), merged in order
 * so that the feature table streams out participant by participant. */
static ns_status static_pass(fnc_study *s, ns_fnc_study_result *res)
{
    feat_writer w = {0};
    int nth = omp_get_max_threads();
    size_t batch = 4 * (size_t)nth;
    ns_status st = features_open(s, &w);
    worker *wk = st ? NULL : workers_create(s, nth);
    run_slot *sl = wk ? slots_create(batch, w.E) : NULL;
    if (!st && !sl)
        st = NS_ERR_NOMEM;
    ns_progress *pg = ns_progress_create("fnc", s->nruns);
    int blas_old = nth > 1 ? ns_blas_threads(1) : 0;
    for (size_t b0 = 0; b0 < s->nruns && !st; b0 += batch) {
        size_t nb = s->nruns - b0 < batch ? s->nruns - b0 : batch;
        w.text = NULL; /* the slots are about to be refilled */
#pragma omp parallel for schedule(dynamic, 1)
        for (size_t i = 0; i < nb; i++)
            if (!s->runs[b0 + i].failed && s->runs[b0 + i].mine)
                static_run(s, &s->runs[b0 + i], &wk[omp_get_thread_num()], &sl[i]);
        for (size_t i = 0; i < nb; i++) {
            fnc_run *r = &s->runs[b0 + i];
            if (!r->failed && r->mine)
                merge_run(s, r, &sl[i], &w);
            size_t next = b0 + i + 1;
            if (next == s->nruns || strcmp(r->participant, s->runs[next].participant)) {
                double t0 = now();
                res->participants += w.nacc > 0;
                features_flush(&w, r->participant, s->o->decimals);
                s->t_write += now() - t0;
            }
            ns_progress_update(pg, b0 + i + 1);
        }
    }
    if (nth > 1)
        ns_blas_threads(blas_old);
    ns_progress_free(pg);
    double t0 = now();
    if (s->o->part)
        st = features_gather(s, &w, st, res);
    if (!st && res->participants > 0 && w.f)
        st = ns_afile_commit(w.f);
    else if (w.f)
        ns_afile_abort(w.f);
    s->t_write += now() - t0;
    free(w.acc);
    free(w.line);
    slots_free(sl, batch);
    workers_free(wk, nth);
    return st;
}

static json_t *postproc_json(const fnc_study *s)
{
    const ns_fnc_study_opts *o = s->o;
    json_t *pp = json_object();
    json_object_set_new(pp, "Detrend", json_string(o->pp.detrend || s->nconf
        ? "least squares on mean, linear ramp, sin/cos of 1 and 2 cycles over the run"
        : "none"));
    json_t *cf = json_array();
    for (size_t c = 0; c < s->nconf; c++)
        json_array_append_new(cf, json_string(s->conf[c]));
    json_object_set_new(pp, "Confounds", cf);
    json_object_set_new(pp, "ConfoundsMissingValues", json_string("z-scored columns, n/a set to 0"));
    json_object_set_new(pp, "Despike", o->pp.despike ? json_string("GIFT smoother rule: |x - "
        "moving average| > 2.5 std replaced by the moving average") : json_null());
    json_object_set_new(pp, "DespikeSpan", json_integer(o->pp.despike_span));
    json_object_set_new(pp, "DespikedFraction",
                        json_real(s->values ? (double)s->spikes / (double)s->values : 0.0));
    json_object_set_new(pp, "LowPassHz", o->pp.lowpass_hz > 0 ? json_real(o->pp.lowpass_hz)
                                                             : json_null());
    json_object_set_new(pp, "Filter", json_string("Butterworth low-pass, forward-backward "
        "(scipy.signal.filtfilt: odd padding of 3 (order + 1) points, lfilter_zi)"));
    json_object_set_new(pp, "FilterOrder", json_integer(o->pp.filter_order));
    json_object_set_new(pp, "LowPassApplied", json_boolean(s->lowpass_applied));
    if (s->lowpass_skipped)
        json_object_set_new(pp, "LowPassSkipped",
                            json_string("cut-off at or above Nyquist for some runs, or disabled"));
    return pp;
}

static ns_status write_features_json(fnc_study *s, json_t *sel, const ns_fnc_study_result *res)
{
    const ns_fnc_study_opts *o = s->o;
    json_t *j = json_object();
    json_object_set_new(j, "Description", json_string("Static FNC features: Fisher z of the "
        "Pearson correlation between post-processed ICA timecourses, upper triangle of the "
        "selected components over all orders (multi-scale)"));
    json_t *ord = json_array();
    for (int i = 0; i < s->norders; i++)
        json_array_append_new(ord, json_integer(s->orders[i]));
    json_object_set_new(j, "Orders", ord);
    json_object_set_new(j, "RepetitionTime", s->tr_mixed ? json_null() : json_real(s->tr_first));
    json_object_set_new(j, "RepetitionTimeSource", json_string(o->tr > 0 ? "--tr" : "data"));
    if (s->tr_mismatch_runs)
        json_object_set_new(j, "RepetitionTimeOverridden", json_integer(s->tr_mismatch_runs));
    json_object_set_new(j, "PostProcessing", postproc_json(s));
    json_object_set_new(j, "Correlation", json_string("pearson"));
    json_object_set_new(j, "Transform", json_string("fisher_z (|r| clamped to 1 - 1e-7)"));
    json_object_set_new(j, "Selection", json_incref(sel));
    json_object_set_new(j, "NumberOfEdges", json_integer((json_int_t)ns_fnc_nedges(s->nsel)));
    json_object_set_new(j, "Aggregation", json_string("mean Fisher z over a participant's runs"));
    json_t *runs = json_object(), *failed = json_array();
    for (size_t i = 0; i < s->nruns; i++) {
        fnc_run *r = &s->runs[i];
        if (r->failed) {
            json_array_append_new(failed, json_string(r->name));
            continue;
        }
        json_t *lst = json_object_get(runs, r->participant);
        if (!lst)
            json_object_set_new(runs, r->participant, lst = json_array());
        json_array_append_new(lst, json_string(r->name));
    }
    json_object_set_new(j, "Runs", runs);
    json_object_set_new(j, "FailedRuns", failed);
    json_object_set_new(j, "Participants", json_integer((json_int_t)res->participants));
    json_object_set_new(j, "Decimals", json_integer(o->decimals));
    char *path = NULL;
    ns_status st = asprintf(&path, "%s/group/desc-fnc_features.json", o->out_dir) < 0
                       ? ns_error(NS_ERR_NOMEM, "out of memory")
                       : ns_json_write(j, path);
    free(path);
    json_decref(j);
    return st;
}

static ns_status study_setup(fnc_study *s)
{
    ns_status st = ns_fnc__find_runs(s);
    if (!st)
        st = ns_fnc__component_ids(s);
    if (!st)
        st = ns_fnc__parse_confounds(s);
    if (!st) {
        s->sel = ns_alloc(s->K, sizeof(size_t));
        s->iq = ns_alloc(s->K, sizeof(double));
        s->lowfreq = ns_calloc(s->K, sizeof(double));
        s->lowfreq_n = ns_calloc(s->K, sizeof(size_t));
        if (!s->sel || !s->iq || !s->lowfreq || !s->lowfreq_n)
            st = NS_ERR_NOMEM;
    }
    if (!st)
        st = ns_fnc__stability(s);
    if (!st && !(s->o->lowfreq_hz > 0))
        st = ns_error(NS_ERR_ARG, "low-frequency cut-off must be positive");
    return st;
}

/* st agreed between the parts (unchanged in one process). */
static ns_status agree(const fnc_study *s, ns_status st)
{
    const ns_fnc_part *p = s->o->part;
    return p ? p->agree(p->ctx, st) : st;
}

/* Component selection, static FNC and the feature table (collective with
 * parts: every part calls it with the same st). */
static ns_status static_stage(fnc_study *s, pp_cache *c, json_t *sel, ns_fnc_study_result *res)
{
    const ns_fnc_study_opts *o = s->o;
    ns_status st = NS_OK;
    if (o->select_lowfreq >= 0)
        lowfreq_pass(s, c);
    json_object_set_new(sel, "StabilityIndexMin", o->select_iq >= 0 ? json_real(o->select_iq)
                                                                  : json_null());
    json_object_set_new(sel, "LowFrequencyFractionMin",
                        o->select_lowfreq >= 0 ? json_real(o->select_lowfreq) : json_null());
    json_object_set_new(sel, "LowFrequencyCutoffHz", json_real(o->lowfreq_hz));
    st = agree(s, select_components(s, sel));
    res->components = s->K;
    res->kept = s->nsel;
    res->edges = ns_fnc_nedges(s->nsel);
    if (!st)
        st = static_pass(s, res);
    if (o->part && !(st = agree(s, st)))
        st = ns_fnc__part_sync(s);
    if (!st)
        tr_summary(s);
    if (!st && res->participants > 0 && (!o->part || o->part->index == 0))
        st = write_features_json(s, sel, res);
    return agree(s, st);
}

/* Dynamic FNC: with parts, the windows are clustered on part 0. */
static ns_status dynamic_stage(fnc_study *s, ns_fnc_study_result *res)
{
    const ns_fnc_part *p = s->o->part;
    ns_status st = p ? ns_fnc__part_windows(s) : NS_OK;
    if (!st && (!p || p->index == 0))
        st = ns_fnc__dfnc_finish(s, res);
    st = agree(s, st);
    double n = (double)res->windows;
    if (!st && p && !(st = p->sum(p->ctx, &n, 1)))
        res->windows = (size_t)n;
    return st;
}

ns_status ns_fnc_study_run(const ns_fnc_study_opts *o, ns_fnc_study_result *res)
{
    memset(res, 0, sizeof *res);
    fnc_study s = {.o = o};
    pp_cache c = {0};
    json_t *sel = json_object();
    ns_status st = agree(&s, study_setup(&s));
    res->runs = s.nruns;
    if (!st) {
        res->runs_local = ns_fnc__part_assign(&s);
        st = static_stage(&s, &c, sel, res);
    }
    if (!st && o->dynamic)
        st = dynamic_stage(&s, res);
    for (size_t i = 0; i < s.nruns; i++)
        res->runs_failed += s.runs[i].failed;
    ns_debug("fnc timing (CPU seconds over %d threads): read %.3f s, post-processing + FNC "
             "%.3f s, write %.3f s", omp_get_max_threads(), s.t_read, s.t_compute, s.t_write);
    ns_fnc_postproc_free(c.p);
    json_decref(sel);
    study_free(&s);
    return st;
}
