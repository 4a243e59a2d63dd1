/* FNC section: the mean FNC matrix over participants, grouped by model
 * order, and the group difference (Welch t) when participants.tsv has the
 * grouping column. */
/* requires: report */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

typedef struct {
    char **ids;      /* component ids in matrix order */
    size_t n;
    size_t *edge_i, *edge_j; /* per feature column: its two matrix indices */
} fnc_layout;

static long id_index(const fnc_layout *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->ids[i], id))
            return (long)i;
    return -1;
}

static long add_id(fnc_layout *l, const char *id, size_t len)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%.*s", (int)len, id);
    long i = id_index(l, buf);
    if (i >= 0)
        return i;
    l->ids[l->n] = strdup(buf);
    return (long)l->n++;
}

/* Columns "icaAcXX-icaBcYY" after participant_id; ids in first-seen order. */
static int parse_layout(const ns_tsv *t, fnc_layout *l)
{
    size_t ne = t->ncols - 1;
    l->ids = calloc(2 * ne + 1, sizeof(char *));
    l->edge_i = calloc(ne + 1, sizeof(size_t));
    l->edge_j = calloc(ne + 1, sizeof(size_t));
    if (!l->ids || !l->edge_i || !l->edge_j)
        return -1;
    for (size_t e = 0; e < ne; e++) {
        const char *name = t->header[e + 1], *dash = strchr(name, '-');
        if (!dash || strncmp(name, "ica", 3))
            return -1;
        l->edge_i[e] = (size_t)add_id(l, name, (size_t)(dash - name));
        l->edge_j[e] = (size_t)add_id(l, dash + 1, strlen(dash + 1));
    }
    return 0;
}

static void free_layout(fnc_layout *l)
{
    for (size_t i = 0; l->ids && i < l->n; i++)
        free(l->ids[i]);
    free(l->ids);
    free(l->edge_i);
    free(l->edge_j);
}

/* Block starts: where the model order (digits after "ica") changes. */
static size_t order_blocks(const fnc_layout *l, size_t *blocks)
{
    size_t nb = 0;
    for (size_t i = 0; i < l->n; i++)
        if (i == 0 || atoi(l->ids[i] + 3) != atoi(l->ids[i - 1] + 3))
            blocks[nb++] = i;
    return nb;
}

static void fnc_heatmap(ns_html *h, const fnc_layout *l, const double *edges, size_t ne, const char *title,
                        double vmax)
{
    size_t n = l->n;
    double *m = calloc(n * n + 1, sizeof(double));
    size_t *blocks = calloc(n + 1, sizeof(size_t));
    if (m && blocks) {
        for (size_t e = 0; e < ne; e++)
            m[l->edge_i[e] * n + l->edge_j[e]] = m[l->edge_j[e] * n + l->edge_i[e]] = edges[e];
        ns_heatmap hm = {.x = m, .rows = n, .cols = n, .row_labels = (const char *const *)l->ids,
                         .col_labels = (const char *const *)l->ids, .blocks = blocks,
                         .nblocks = order_blocks(l, blocks), .vmax = vmax, .title = title};
        char *svg = ns_svg_heatmap(&hm);
        if (svg)
            ns_html_raw(h, svg);
        free(svg);
    }
    free(m);
    free(blocks);
}

/* Group of each feature row: index into levels (max 2 kept), -1 if none. */
static int row_groups(const ns_tsv *feat, const ns_tsv *parts, const char *column, int *group, char levels[2][64])
{
    int gcol = ns_tsv_column(parts, column), pcol = ns_tsv_column(parts, "participant_id");
    int nlev = 0;
    if (gcol < 0 || pcol < 0)
        return 0;
    for (size_t r = 0; r < feat->nrows; r++) {
        group[r] = -1;
        const char *id = ns_tsv_get(feat, r, 0);
        for (size_t p = 0; id && p < parts->nrows; p++) {
            const char *pid = ns_tsv_get(parts, p, (size_t)pcol), *g = ns_tsv_get(parts, p, (size_t)gcol);
            if (!pid || !g || strcmp(pid, id))
                continue;
            int k = 0;
            while (k < nlev && strcmp(levels[k], g))
                k++;
            if (k == nlev && nlev < 2)
                snprintf(levels[nlev++], 64, "%s", g);
            group[r] = k < nlev ? k : -1;
            break;
        }
    }
    return nlev;
}

/* Welch t of each edge between groups 0 and 1 (row-major features). */
static void welch_t(const double *x, size_t rows, size_t ne, const int *group, double *t)
{
    for (size_t e = 0; e < ne; e++) {
        double s[2] = {0}, ss[2] = {0}, n[2] = {0};
        for (size_t r = 0; r < rows; r++) {
            double v = x[r * ne + e];
            if (group[r] < 0 || !isfinite(v))
                continue;
            s[group[r]] += v, ss[group[r]] += v * v, n[group[r]]++;
        }
        double var[2];
        for (int g = 0; g < 2; g++)
            var[g] = n[g] > 1 ? (ss[g] - s[g] * s[g] / n[g]) / (n[g] - 1) : NAN;
        double se = sqrt(var[1] / n[1] + var[0] / n[0]);
        t[e] = se > 0 ? (s[1] / n[1] - s[0] / n[0]) / se : NAN;
    }
}

static void group_difference(ns_html *h, const fnc_layout *l, const double *x, const ns_tsv *feat,
                             const char *outdir, const ns_report_opts *o)
{
    char path[4096];
    if (o->participants)
        snprintf(path, sizeof path, "%s", o->participants);
    else
        snprintf(path, sizeof path, "%s/group/participants.tsv", outdir);
    ns_tsv *parts;
    if (!ns_file_exists(path) || ns_tsv_read(path, &parts)) {
        ns_clear_error();
        return;
    }
    size_t ne = feat->ncols - 1;
    int *group = malloc(sizeof(int) * (feat->nrows + 1));
    double *t = malloc(sizeof(double) * (ne + 1));
    char levels[2][64];
    const char *col = o->groups ? o->groups : "diagnosis";
    if (group && t && row_groups(feat, parts, col, group, levels) == 2) {
        welch_t(x, feat->nrows, ne, group, t);
        char title[256];
        snprintf(title, sizeof title, "Group difference (Welch t, %s: %s minus %s)", col, levels[1], levels[0]);
        ns_html_heading(h, 3, title);
        fnc_heatmap(h, l, t, ne, title, 0);
    }
    free(group);
    free(t);
    ns_tsv_free(parts);
}

ns_status ns_report_fnc_section(ns_html *h, const char *outdir, const ns_report_opts *o)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/group/desc-fnc_features.tsv", outdir);
    if (!ns_file_exists(path))
        return NS_OK;
    ns_tsv *t;
    ns_status s = ns_tsv_read(path, &t);
    if (s)
        return s;
    fnc_layout l = {0};
    size_t ne = t->ncols - 1;
    double *x = malloc(sizeof(double) * (t->nrows * ne + 1)), *mean = calloc(ne + 1, sizeof(double));
    if (t->ncols < 2 || !x || !mean || parse_layout(t, &l)) {
        s = ns_error(NS_ERR_FORMAT, "FNC feature columns are not named icaAcXX-icaBcYY (%s)", path);
        goto done;
    }
    for (size_t r = 0; r < t->nrows && !s; r++)
        for (size_t e = 0; e < ne && !s; e++)
            s = ns_tsv_get_double(t, r, e + 1, &x[r * ne + e]);
    for (size_t e = 0; e < ne && !s; e++) {
        for (size_t r = 0; r < t->nrows; r++)
            mean[e] += x[r * ne + e] / (double)t->nrows;
    }
    if (!s) {
        ns_html_heading(h, 2, "Functional network connectivity");
        char text[256];
        snprintf(text, sizeof text, "Mean FNC (Fisher z) over %zu participants, %zu components; lines separate "
                                    "model orders.", t->nrows, l.n);
        ns_html_text(h, text);
        fnc_heatmap(h, &l, mean, ne, "Mean FNC (Fisher z)", 0);
        group_difference(h, &l, x, t, outdir, o);
    }
done:
    free_layout(&l);
    free(x);
    free(mean);
    ns_tsv_free(t);
    return s;
}
