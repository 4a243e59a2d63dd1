/* Spectra section: sigma_1 of the gradient per epoch, one line per group,
 * one plot per layer; measured numerical rank against the theoretical bound. */
/* requires: report */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

#define MAXL 32
#define MAXG 8
#define MAXE 2048

typedef struct {
    char layers[MAXL][64], groups[MAXG][64];
    int nl, ng, maxepoch;
    double *sum, *cnt;           /* [layer][group][epoch] of grad_sv index 1 */
    double rank_max[MAXL], bound[MAXL];
} spectra_acc;

static int find_or_add(char (*names)[64], int *n, int max, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s))
            return i;
    if (*n == max)
        return -1;
    snprintf(names[*n], 64, "%s", s);
    return (*n)++;
}

static void accumulate(spectra_acc *a, const ns_tsv *t, const int *c)
{
    for (size_t r = 0; r < t->nrows; r++) {
        const char *layer = ns_tsv_get(t, r, (size_t)c[0]), *group = ns_tsv_get(t, r, (size_t)c[1]);
        const char *q = ns_tsv_get(t, r, (size_t)c[2]);
        double idx, ep, v;
        if (!layer || !group || !q || ns_tsv_get_double(t, r, (size_t)c[3], &idx) ||
            ns_tsv_get_double(t, r, (size_t)c[4], &ep) || ns_tsv_get_double(t, r, (size_t)c[5], &v))
            continue;
        int l = find_or_add(a->layers, &a->nl, MAXL, layer);
        if (l < 0 || !isfinite(v))
            continue;
        if (!strcmp(q, "grad_rank") && !strcmp(group, "all"))
            a->rank_max[l] = fmax(a->rank_max[l], v);
        else if (!strcmp(q, "bound") && !strcmp(group, "all"))
            a->bound[l] = v;
        if (strcmp(q, "grad_sv") || idx != 1 || ep < 0 || ep >= MAXE)
            continue;
        int g = find_or_add(a->groups, &a->ng, MAXG, group);
        if (g < 0)
            continue;
        size_t k = ((size_t)l * MAXG + (size_t)g) * MAXE + (size_t)ep;
        a->sum[k] += v, a->cnt[k] += 1;
        a->maxepoch = (int)ep > a->maxepoch ? (int)ep : a->maxepoch;
    }
    ns_clear_error();
}

static void layer_plot(ns_html *h, const spectra_acc *a, int l)
{
    size_t ne = (size_t)a->maxepoch + 1;
    double *x = malloc(sizeof(double) * ne), *y = malloc(sizeof(double) * ne * (size_t)a->ng);
    ns_series s[MAXG];
    if (x && y) {
        for (size_t e = 0; e < ne; e++)
            x[e] = (double)e;
        for (int g = 0; g < a->ng; g++) {
            for (size_t e = 0; e < ne; e++) {
                size_t k = ((size_t)l * MAXG + (size_t)g) * MAXE + e;
                y[(size_t)g * ne + e] = a->cnt[k] > 0 ? a->sum[k] / a->cnt[k] : NAN;
            }
            s[g] = (ns_series){.name = a->groups[g], .x = x, .y = y + (size_t)g * ne, .n = ne,
                               .dashed = !strcmp(a->groups[g], "all")};
        }
        char title[128];
        snprintf(title, sizeof title, "layer %s: largest singular value of the gradient", a->layers[l]);
        ns_lineplot lp = {.series = s, .nseries = (size_t)a->ng, .title = title, .xlabel = "epoch",
                          .ylabel = "sigma_1 (mean over steps)", .logy = 1};
        char *svg = ns_svg_lineplot(&lp);
        if (svg)
            ns_html_raw(h, svg);
        free(svg);
    }
    free(x);
    free(y);
}

static void rank_table(ns_html *h, const spectra_acc *a)
{
    ns_html_raw(h, "<table><tr><th>layer</th><th>max numerical rank of grad W</th><th>theoretical bound</th></tr>\n");
    for (int l = 0; l < a->nl; l++) {
        char row[256];
        snprintf(row, sizeof row, "<tr><td>%s</td><td>%.0f</td><td>%s%.0f</td></tr>\n", a->layers[l],
                 a->rank_max[l], a->bound[l] > 0 ? "" : "n/a ", a->bound[l]);
        ns_html_raw(h, row);
    }
    ns_html_raw(h, "</table>\n");
}

void ns_report_spectra(ns_html *h, const char *dir)
{
    char path[4200];
    /* train --spectra writes DIR/spectra/spectra.tsv; grad writes DIR/spectra.tsv */
    snprintf(path, sizeof path, "%s/spectra/spectra.tsv", dir);
    if (!ns_file_exists(path))
        snprintf(path, sizeof path, "%s/spectra.tsv", dir);
    ns_tsv *t;
    if (!ns_file_exists(path) || ns_tsv_read(path, &t)) {
        ns_clear_error();
        return;
    }
    int c[6] = {ns_tsv_column(t, "layer"), ns_tsv_column(t, "group"), ns_tsv_column(t, "quantity"),
                ns_tsv_column(t, "index"), ns_tsv_column(t, "epoch"), ns_tsv_column(t, "value")};
    spectra_acc *a = calloc(1, sizeof *a);
    if (a) {
        a->sum = calloc((size_t)MAXL * MAXG * MAXE, sizeof(double));
        a->cnt = calloc((size_t)MAXL * MAXG * MAXE, sizeof(double));
    }
    if (a && a->sum && a->cnt && c[0] >= 0 && c[1] >= 0 && c[2] >= 0 && c[3] >= 0 && c[4] >= 0 && c[5] >= 0) {
        accumulate(a, t, c);
        ns_html_heading(h, 3, "Gradient spectra by group");
        for (int l = 0; l < a->nl; l++)
            layer_plot(h, a, l);
        ns_html_heading(h, 3, "Gradient rank against its bound");
        rank_table(h, a);
    }
    if (a) {
        free(a->sum);
        free(a->cnt);
    }
    free(a);
    ns_tsv_free(t);
}
