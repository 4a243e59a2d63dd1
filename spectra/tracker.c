/* The training subscriber: spectra of every layer every N-th step, streamed
 * to spectra.tsv and kept compactly for the summaries. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

ns_status ns_spectra_tracker_create(const char *out_dir, const ns_spectra_opts *o,
                                    const char *const *group_names, int ngroups,
                                    ns_spectra_tracker **out)
{
    *out = NULL;
    if (ngroups < 0 || ngroups > 65000)
        return ns_error(NS_ERR_ARG, "invalid number of groups %d (spectra)", ngroups);
    ns_spectra_tracker *t = ns_calloc(1, sizeof *t);
    if (!t)
        return NS_ERR_NOMEM;
    if (o)
        t->o = *o;
    else
        ns_spectra_opts_default(&t->o);
    if (t->o.every < 1)
        t->o.every = 1;
    t->dir = strdup(out_dir);
    t->gnames = ns_calloc((size_t)ngroups + 1, sizeof *t->gnames);
    t->bound = ns_calloc((size_t)ngroups + 1, sizeof *t->bound);
    t->ngroups = ngroups;
    ns_status s = t->dir && t->gnames && t->bound ? NS_OK
                                                  : ns_error(NS_ERR_NOMEM, "out of memory (spectra)");
    for (int g = 0; g < ngroups && s == NS_OK; g++)
        if (!(t->gnames[g] = strdup(group_names[g])))
            s = ns_error(NS_ERR_NOMEM, "out of memory (spectra)");
    if (s == NS_OK)
        s = ns_mkdirs(out_dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/spectra.tsv", out_dir);
    if (s == NS_OK)
        s = ns_afile_open(path, &t->tsv);
    if (s == NS_OK)
        fputs("fold\tepoch\tstep\tlayer\tgroup\tquantity\tindex\tvalue\n", ns_afile_stream(t->tsv));
    if (s != NS_OK) {
        ns_spectra_tracker_free(t);
        return s;
    }
    *out = t;
    return NS_OK;
}

void ns_spectra_tracker_free(ns_spectra_tracker *t)
{
    if (!t)
        return;
    ns_afile_abort(t->tsv); /* not committed: a failed run leaves no partial table */
    if (t->glue_free)
        t->glue_free(t->glue);
    for (int g = 0; t->gnames && g < t->ngroups; g++)
        free(t->gnames[g]);
    free(t->gnames);
    for (int i = 0; i < t->nlayers; i++) {
        spectra_scratch_free(&t->layers[i].sc);
        spectra_bound_memo_free(&t->layers[i].memo);
    }
    free(t->sample_group);
    free(t->bound);
    free(t->recs);
    free(t->dir);
    free(t);
}

void ns_spectra_tracker_set_arch(ns_spectra_tracker *t, const ns_spectra_arch *a)
{
    t->arch = *a;
    t->have_arch = 1;
    for (int i = 0; i < t->nlayers; i++) /* the bounds remembered were the old arch's */
        spectra_bound_memo_free(&t->layers[i].memo);
}

const char *spectra_group_name(const ns_spectra_tracker *t, int g1)
{
    return g1 == 0 ? "all" : t->gnames[g1 - 1];
}

ns_status ns_spectra_tracker_begin_fold(ns_spectra_tracker *t, int fold, const int *sample_group,
                                        const size_t *sample_rows, size_t nsamples)
{
    free(t->sample_group);
    t->sample_group = NULL;
    t->nsamples = 0;
    t->fold = fold;
    if (!sample_group || !nsamples)
        return NS_OK;
    t->sample_group = ns_alloc(nsamples, sizeof *t->sample_group);
    if (!t->sample_group)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < nsamples; i++) {
        int g = sample_group[sample_rows ? sample_rows[i] : i];
        t->sample_group[i] = g < t->ngroups ? g : -1;
    }
    t->nsamples = nsamples;
    return NS_OK;
}

static ns_status push(ns_spectra_tracker *t, const spectra_rec *r)
{
    if (t->nrecs == t->caprecs) {
        size_t cap = t->caprecs ? 2 * t->caprecs : 4096;
        spectra_rec *p = realloc(t->recs, cap * sizeof *p);
        if (!p)
            return ns_error(NS_ERR_NOMEM, "out of memory keeping %zu spectra values", cap);
        t->recs = p;
        t->caprecs = cap;
    }
    t->recs[t->nrecs++] = *r;
    return NS_OK;
}

static ns_status tracker_emit(void *user, int group, spectra_quantity q, size_t index, double value)
{
    ns_spectra_tracker *t = user;
    spectra_rec r = t->cur;
    r.group = (uint16_t)(group + 1);
    r.q = (uint8_t)q;
    r.index = (uint16_t)(index < UINT16_MAX ? index : UINT16_MAX);
    r.value = (float)value;
    if (t->prefix_group != group) { /* one formatted prefix per layer and group, not per row */
        int k = snprintf(t->prefix, sizeof t->prefix, "%d\t%d\t%d\t%s\t%s\t", r.fold, r.epoch,
                         r.step, t->layers[r.layer].name, spectra_group_name(t, r.group));
        t->prefix_len = k < 0 ? 0 : (size_t)k < sizeof t->prefix ? (size_t)k : sizeof t->prefix - 1;
        t->prefix_group = group;
    }
    /* the row assembled here and written by one unlocked call: hundreds of
     * rows per step, three locked stdio calls each cost more than the SVDs
     * of a small layer */
    char line[sizeof t->prefix + 96];
    size_t k = t->prefix_len, ql = strlen(spectra_quantity_names[q]);
    memcpy(line, t->prefix, k);
    memcpy(line + k, spectra_quantity_names[q], ql);
    k += ql;
    line[k++] = '\t';
    k += spectra_format(line + k, (double)index);
    line[k++] = '\t';
    k += spectra_format(line + k, value);
    line[k++] = '\n';
    if (fwrite_unlocked(line, 1, k, ns_afile_stream(t->tsv)) != k)
        return ns_error(NS_ERR_IO, "cannot write spectra.tsv (%s)", t->dir);
    return push(t, &r);
}

static int layer_slot(ns_spectra_tracker *t, const char *name)
{
    for (int i = 0; i < t->nlayers; i++)
        if (!strcmp(t->layers[i].name, name))
            return i;
    if (t->nlayers == SPECTRA_MAXLAYERS)
        return -1;
    snprintf(t->layers[t->nlayers].name, sizeof t->layers[0].name, "%s", name);
    return t->nlayers++;
}

ns_status ns_spectra_tracker_layer(ns_spectra_tracker *t, const ns_spectra_layer *l)
{
    if (t->finished || l->step % t->o.every != 0)
        return NS_OK;
    int slot = layer_slot(t, l->name);
    if (slot < 0)
        return ns_error(NS_ERR_ARG, "more than %d layers (spectra of %s)", SPECTRA_MAXLAYERS, l->name);
    spectra_layer_state *ls = &t->layers[slot];
    size_t R = l->rows_per_sample ? l->rows_per_sample : 1, rows = l->A->rows;
    if (rows != l->nsamples * R || l->D->rows != rows)
        return ns_error(NS_ERR_ARG, "layer %s: %zu rows for %zu samples x %zu", l->name, rows,
                        l->nsamples, R);
    int ng = t->sample_group ? t->ngroups : 0;
    ns_status s = spectra_scratch_reserve(&ls->sc, rows, l->A->cols, l->D->cols, ng, t->o.precision);
    if (s != NS_OK)
        return s;
    int *rg = NULL;
    if (ng > 0) {
        for (size_t n = 0; n < l->nsamples; n++) {
            size_t idx = l->sample_idx ? l->sample_idx[n] : n;
            if (idx >= t->nsamples)
                return ns_error(NS_ERR_ARG, "sample index %zu beyond the %zu grouped samples (%s)",
                                idx, t->nsamples, l->name);
        }
        rg = ls->sc.row_group;
        ns_spectra_row_groups(t->sample_group, l->sample_idx, l->nsamples, R, rg);
    }
    spectra_group_bounds(t->have_arch ? &t->arch : NULL, l, rg, ng, t->bound, &ls->memo);
    t->cur = (spectra_rec){.fold = t->fold, .epoch = l->epoch, .step = (int32_t)l->step,
                           .layer = (uint16_t)slot};
    t->prefix_group = -2;
    return spectra_emit_layer(&ls->sc, l, rg, ng, &t->o, t->bound, tracker_emit, t);
}

ns_status ns_spectra_tracker_finish(ns_spectra_tracker *t)
{
    if (t->finished)
        return NS_OK;
    t->finished = 1;
    ns_status s = ns_afile_commit(t->tsv);
    t->tsv = NULL;
    if (s != NS_OK)
        return s;
    return spectra_write_summaries(t);
}
