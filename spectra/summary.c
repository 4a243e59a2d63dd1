/* After training: per-epoch summaries, the group comparison (permutation
 * tests across batches and folds, BH-FDR) and the trajectory SVGs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

static int cmp_epoch_key(const void *x, const void *y)
{
    const spectra_rec *a = x, *b = y;
    int32_t ka[7] = {a->fold, a->epoch, a->layer, a->group, a->q, a->index, a->step};
    int32_t kb[7] = {b->fold, b->epoch, b->layer, b->group, b->q, b->index, b->step};
    for (int i = 0; i < 7; i++)
        if (ka[i] != kb[i])
            return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

static int same_cell(const spectra_rec *a, const spectra_rec *b)
{
    return a->fold == b->fold && a->epoch == b->epoch && a->layer == b->layer &&
           a->group == b->group && a->q == b->q && a->index == b->index;
}

/* spectra_epochs.tsv: mean, sd (n - 1) and count over the epoch's steps. */
static ns_status write_epochs(ns_spectra_tracker *t)
{
    char path[4096];
    ns_afile *af = NULL;
    snprintf(path, sizeof path, "%s/spectra_epochs.tsv", t->dir);
    ns_status s = ns_afile_open(path, &af);
    if (s != NS_OK)
        return s;
    FILE *f = ns_afile_stream(af);
    fputs("fold\tepoch\tlayer\tgroup\tquantity\tindex\tmean\tsd\tn\n", f);
    qsort(t->recs, t->nrecs, sizeof *t->recs, cmp_epoch_key);
    for (size_t i = 0; i < t->nrecs;) {
        size_t j = i;
        double sum = 0, sq = 0;
        for (; j < t->nrecs && same_cell(&t->recs[i], &t->recs[j]); j++)
            sum += t->recs[j].value;
        double mean = sum / (double)(j - i);
        for (size_t k = i; k < j; k++)
            sq += (t->recs[k].value - mean) * (t->recs[k].value - mean);
        const spectra_rec *r = &t->recs[i];
        fprintf(f, "%d\t%d\t%s\t%s\t%s\t%d\t%.9g\t", r->fold, r->epoch, t->layers[r->layer].name,
                spectra_group_name(t, r->group), spectra_quantity_names[r->q], r->index, mean);
        if (j - i > 1)
            fprintf(f, "%.9g\t%zu\n", sqrt(sq / (double)(j - i - 1)), j - i);
        else
            fprintf(f, "n/a\t%zu\n", j - i);
        i = j;
    }
    return ns_afile_commit(af);
}

static int tested(int q)
{
    return q == Q_GRAD_SV_PS || q == Q_GRAD_EFFRANK || q == Q_GRAD_NUCLEAR_PS ||
           q == Q_GRAD_SV1_SHARE;
}

static int cmp_test_key(const void *x, const void *y)
{
    const spectra_rec *a = x, *b = y;
    int32_t ka[7] = {a->layer, a->epoch, a->q, a->index, a->fold, a->step, a->group};
    int32_t kb[7] = {b->layer, b->epoch, b->q, b->index, b->fold, b->step, b->group};
    for (int i = 0; i < 7; i++)
        if (ka[i] != kb[i])
            return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

static int same_test(const spectra_rec *a, const spectra_rec *b)
{
    return a->layer == b->layer && a->epoch == b->epoch && a->q == b->q && a->index == b->index;
}

typedef struct {
    size_t first, n, nblocks;
    double stat, p, q, diff;
} test_row;

/* Runs the permutation test of every (layer, epoch, quantity, index) over
 * the records sel[0..m) (sorted by cmp_test_key); blocks are (fold, step). */
static ns_status run_tests(const ns_spectra_tracker *t, const spectra_rec *sel, size_t m,
                           test_row *rows, size_t *nrows)
{
    double *v = ns_alloc(m ? m : 1, sizeof *v);
    int *g = ns_alloc(m ? m : 1, sizeof *g), *blk = ns_alloc(m ? m : 1, sizeof *blk);
    ns_status s = v && g && blk ? NS_OK : NS_ERR_NOMEM;
    *nrows = 0;
    for (size_t i = 0; i < m && s == NS_OK;) {
        size_t j = i;
        int b = 0;
        for (; j < m && same_test(&sel[i], &sel[j]); j++) {
            if (j > i && (sel[j].fold != sel[j - 1].fold || sel[j].step != sel[j - 1].step))
                b++;
            v[j - i] = sel[j].value;
            g[j - i] = sel[j].group - 1;
            blk[j - i] = b;
        }
        test_row *r = &rows[(*nrows)++];
        *r = (test_row){.first = i, .n = j - i, .nblocks = (size_t)b + 1};
        s = ns_spectra_perm_test(v, g, blk, j - i, t->ngroups, t->o.nperm,
                                 ns_seed_derive(t->o.seed, *nrows), &r->stat, &r->p, &r->diff);
        i = j;
    }
    free(v);
    free(g);
    free(blk);
    return s;
}

static void write_test_row(const ns_spectra_tracker *t, FILE *f, const spectra_rec *sel,
                           const test_row *r)
{
    const spectra_rec *a = &sel[r->first];
    fprintf(f, "%s\t%d\t%s\t%d\t%zu", t->layers[a->layer].name, a->epoch,
            spectra_quantity_names[a->q], a->index, r->nblocks);
    for (int g = 0; g < t->ngroups; g++) {
        double sum = 0;
        size_t n = 0;
        for (size_t k = 0; k < r->n; k++)
            if (sel[r->first + k].group == g + 1) {
                sum += sel[r->first + k].value;
                n++;
            }
        if (n)
            fprintf(f, "\t%.9g", sum / (double)n);
        else
            fputs("\tn/a", f);
    }
    double x[4] = {r->diff, r->stat, r->p, r->q};
    for (int k = 0; k < 4; k++)
        if (isnan(x[k]))
            fputs("\tn/a", f);
        else
            fprintf(f, "\t%.6g", x[k]);
    fprintf(f, "\t%d\n", !isnan(r->q) && r->q <= t->o.alpha);
}

/* spectra_groups.tsv (only with two groups or more). */
static ns_status write_groups(ns_spectra_tracker *t)
{
    if (t->ngroups < 2)
        return NS_OK;
    size_t m = 0, nrows = 0;
    spectra_rec *sel = ns_alloc(t->nrecs ? t->nrecs : 1, sizeof *sel);
    test_row *rows = ns_alloc(t->nrecs ? t->nrecs : 1, sizeof *rows);
    double *p = NULL, *q = NULL;
    ns_status s = sel && rows ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; s == NS_OK && i < t->nrecs; i++)
        if (t->recs[i].group > 0 && tested(t->recs[i].q))
            sel[m++] = t->recs[i];
    qsort(sel, m, sizeof *sel, cmp_test_key);
    if (s == NS_OK)
        s = run_tests(t, sel, m, rows, &nrows);
    if (s == NS_OK && (!(p = ns_alloc(nrows + 1, sizeof *p)) || !(q = ns_alloc(nrows + 1, sizeof *q))))
        s = NS_ERR_NOMEM;
    for (size_t i = 0; s == NS_OK && i < nrows; i++)
        p[i] = rows[i].p;
    if (s == NS_OK)
        s = ns_spectra_bh(p, nrows, q);
    char path[4096];
    ns_afile *af = NULL;
    snprintf(path, sizeof path, "%s/spectra_groups.tsv", t->dir);
    if (s == NS_OK)
        s = ns_afile_open(path, &af);
    if (s == NS_OK) {
        FILE *f = ns_afile_stream(af);
        fputs("layer\tepoch\tquantity\tindex\tn_blocks", f);
        for (int g = 0; g < t->ngroups; g++)
            fprintf(f, "\tmean_%s", t->gnames[g]);
        fprintf(f, "\tdiff_%s_minus_%s\tstat\tp\tq\tsignificant\n", t->gnames[1], t->gnames[0]);
        for (size_t i = 0; i < nrows; i++) {
            rows[i].q = q[i];
            write_test_row(t, f, sel, &rows[i]);
        }
        s = ns_afile_commit(af);
    }
    free(sel); free(rows); free(p); free(q);
    return s;
}

/* Per-epoch mean and sd over every step and fold of (layer, q, index), one
 * series per group (all first). */
static ns_status trajectory_svg(ns_spectra_tracker *t, int layer, spectra_quantity q,
                                const char *tag, const char *ylabel, int logy, int e0, int ne)
{
    int ns = t->ngroups + 1;
    size_t cells = (size_t)ns * (size_t)ne;
    double *sum = ns_calloc(cells, sizeof *sum), *sq = ns_calloc(cells, sizeof *sq);
    double *cnt = ns_calloc(cells, sizeof *cnt), *x = ns_calloc((size_t)ne, sizeof *x);
    ns_spectra_series *s = ns_calloc((size_t)ns, sizeof *s);
    if (!sum || !sq || !cnt || !x || !s) {
        free(sum); free(sq); free(cnt); free(x); free(s);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < t->nrecs; i++) {
        const spectra_rec *r = &t->recs[i];
        if (r->layer != layer || r->q != q || r->index != 1)
            continue;
        size_t c = (size_t)r->group * (size_t)ne + (size_t)(r->epoch - e0);
        sum[c] += r->value;
        sq[c] += (double)r->value * r->value;
        cnt[c]++;
    }
    for (int e = 0; e < ne; e++)
        x[e] = e0 + e;
    for (size_t c = 0; c < cells; c++) {
        double m = cnt[c] ? sum[c] / cnt[c] : NAN;
        sq[c] = cnt[c] > 1 ? sqrt(fmax(0, (sq[c] - cnt[c] * m * m) / (cnt[c] - 1))) : 0;
        sum[c] = m;
    }
    for (int g = 0; g < ns; g++)
        s[g] = (ns_spectra_series){spectra_group_name(t, g), x, sum + (size_t)g * (size_t)ne,
                                   sq + (size_t)g * (size_t)ne, (size_t)ne};
    char path[4096], title[160];
    snprintf(path, sizeof path, "%s/spectra_%s_%s.svg", t->dir, t->layers[layer].name, tag);
    snprintf(title, sizeof title, "%s: %s (mean +- sd over steps)", t->layers[layer].name, ylabel);
    ns_status st = ns_spectra_svg_write(path, title, "epoch", ylabel, s, (size_t)ns, logy);
    free(sum); free(sq); free(cnt); free(x); free(s);
    return st;
}

ns_status spectra_write_summaries(ns_spectra_tracker *t)
{
    ns_status s = write_epochs(t);
    if (s == NS_OK)
        s = write_groups(t);
    int e0 = 0, e1 = -1;
    for (size_t i = 0; i < t->nrecs; i++) {
        if (i == 0 || t->recs[i].epoch < e0)
            e0 = t->recs[i].epoch;
        if (i == 0 || t->recs[i].epoch > e1)
            e1 = t->recs[i].epoch;
    }
    for (int l = 0; s == NS_OK && l < t->nlayers && e1 >= e0; l++) {
        s = trajectory_svg(t, l, Q_GRAD_SV_PS, "sv1", "sigma_1 per sample", 1, e0, e1 - e0 + 1);
        if (s == NS_OK)
            s = trajectory_svg(t, l, Q_GRAD_EFFRANK, "effrank", "effective rank", 0, e0, e1 - e0 + 1);
    }
    return s;
}
