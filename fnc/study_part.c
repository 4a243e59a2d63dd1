/* The study-wide steps of ns_fnc_study_run when o->part splits the
 * participants across processes (dist/scale_fnc.c runs them over MPI):
 * which runs are this process's, the per-run facts every part needs for
 * the sidecars, and the dFNC windows k-means clusters on part 0. */
#include <stdlib.h>
#include <string.h>

#include "fnc/study_int.h"

size_t ns_fnc__part_assign(fnc_study *s)
{
    const ns_fnc_part *p = s->o->part;
    size_t P = 0, n = 0;
    for (size_t i = 0; i < s->nruns; i++) /* runs are sorted, a participant's together */
        P += i == 0 || strcmp(s->runs[i].participant, s->runs[i - 1].participant);
    size_t lo = 0, hi = P;
    if (p)
        ns_block_range(P, (size_t)p->index, (size_t)p->count, &lo, &hi);
    for (size_t i = 0, pi = 0; i < s->nruns; i++) {
        if (i > 0 && strcmp(s->runs[i].participant, s->runs[i - 1].participant))
            pi++;
        s->runs[i].mine = pi >= lo && pi < hi;
        n += (size_t)s->runs[i].mine;
    }
    return n;
}

enum { RUN_FIELDS = 4, COUNTERS = 5 };

ns_status ns_fnc__part_sync(fnc_study *s)
{
    const ns_fnc_part *p = s->o->part;
    size_t n = s->nruns * RUN_FIELDS + COUNTERS;
    double *v = ns_calloc(n, sizeof(double));
    if (!v)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < s->nruns; i++) { /* each run filled by its one owner */
        const fnc_run *r = &s->runs[i];
        double *f = v + i * RUN_FIELDS;
        if (!r->mine)
            continue;
        f[0] = r->failed, f[1] = (double)r->T, f[2] = r->tr, f[3] = (double)r->nwin;
    }
    double *c = v + s->nruns * RUN_FIELDS;
    c[0] = (double)s->spikes, c[1] = (double)s->values, c[2] = s->lowpass_applied;
    c[3] = s->lowpass_skipped, c[4] = s->tr_mismatch_runs;
    ns_status st = p->sum(p->ctx, v, n);
    for (size_t i = 0; !st && i < s->nruns; i++) {
        fnc_run *r = &s->runs[i];
        const double *f = v + i * RUN_FIELDS;
        r->failed = f[0] > 0, r->T = (size_t)f[1], r->tr = f[2], r->nwin = (size_t)f[3];
    }
    if (!st) {
        s->spikes = (size_t)c[0], s->values = (size_t)c[1];
        s->lowpass_applied = c[2] > 0, s->lowpass_skipped = c[3] > 0;
        s->tr_mismatch_runs = (int)c[4];
    }
    free(v);
    return st;
}

typedef struct {
    char *buf;
    size_t n, cap;
} byte_sink;

static ns_status append(void *ctx, const void *chunk, size_t len)
{
    byte_sink *b = ctx;
    if (len == 0) /* a part without windows (chunk may be NULL) */
        return NS_OK;
    if (b->n + len > b->cap) {
        size_t cap = (b->n + len) * 2;
        char *nb = realloc(b->buf, cap ? cap : 1);
        if (!nb)
            return ns_error(NS_ERR_NOMEM, "out of memory for the dFNC windows");
        b->buf = nb, b->cap = cap;
    }
    memcpy(b->buf + b->n, chunk, len);
    b->n += len;
    return NS_OK;
}

ns_status ns_fnc__part_windows(fnc_study *s)
{
    const ns_fnc_part *p = s->o->part;
    byte_sink all = {0};
    s->edyn = ns_fnc_nedges(s->nsel);
    ns_status st = p->gather(p->ctx, s->win, s->nwin * s->edyn * sizeof(float), append, &all);
    if (st || p->index != 0) {
        free(all.buf);
        return st;
    }
    size_t off = 0;
    for (size_t i = 0; i < s->nruns; i++) { /* the one-process offsets: runs in order */
        fnc_run *r = &s->runs[i];
        if (r->failed || r->nwin == 0)
            continue;
        r->win_off = off;
        off += r->nwin;
    }
    if (off * s->edyn * sizeof(float) != all.n) {
        free(all.buf);
        return ns_error(NS_ERR_IO, "the dFNC windows gathered from the parts do not add up "
                        "(%zu bytes for %zu windows) (%s)", all.n, off, s->o->out_dir);
    }
    free(s->win);
    s->win = (float *)all.buf;
    s->nwin = off;
    s->win_cap = all.cap / sizeof(float);
    return NS_OK;
}
