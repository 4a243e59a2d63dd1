/* Classification, gradient spectra and dAD bandwidth sections: one per
 * OUT/group/train-<name>/ folder written by `neurospectra train`. */
/* requires: report */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

static int col_any(const ns_tsv *t, const char *a, const char *b)
{
    int c = ns_tsv_column(t, a);
    return c >= 0 ? c : ns_tsv_column(t, b);
}

/* Confusion matrix of true vs predicted labels as an HTML table. */
static void confusion(ns_html *h, const ns_tsv *p, int ct, int cp)
{
    const char *lev[16];
    size_t nl = 0, cm[16][16] = {{0}};
    for (size_t r = 0; r < p->nrows; r++)
        for (int k = 0; k < 2; k++) {
            const char *v = ns_tsv_get(p, r, (size_t)(k ? cp : ct));
            size_t i = 0;
            while (v && i < nl && strcmp(lev[i], v))
                i++;
            if (v && i == nl && nl < 16)
                lev[nl++] = v;
        }
    for (size_t r = 0; r < p->nrows; r++) {
        const char *a = ns_tsv_get(p, r, (size_t)ct), *b = ns_tsv_get(p, r, (size_t)cp);
        size_t i = 0, j = 0;
        while (a && i < nl && strcmp(lev[i], a))
            i++;
        while (b && j < nl && strcmp(lev[j], b))
            j++;
        if (a && b && i < nl && j < nl)
            cm[i][j]++;
    }
    ns_html_raw(h, "<table><tr><th>true \\ predicted</th>");
    for (size_t j = 0; j < nl; j++) {
        ns_html_raw(h, "<th>");
        ns_html_raw(h, lev[j]);
        ns_html_raw(h, "</th>");
    }
    ns_html_raw(h, "</tr>\n");
    for (size_t i = 0; i < nl; i++) {
        char cell[64];
        ns_html_raw(h, "<tr><th>");
        ns_html_raw(h, lev[i]);
        ns_html_raw(h, "</th>");
        for (size_t j = 0; j < nl; j++) {
            snprintf(cell, sizeof cell, "<td>%zu</td>", cm[i][j]);
            ns_html_raw(h, cell);
        }
        ns_html_raw(h, "</tr>\n");
    }
    ns_html_raw(h, "</table>\n");
}

static int cmp_desc(const void *a, const void *b)
{
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? 1 : x > y ? -1 : 0;
}

/* ROC of a binary problem from the probability column of the positive class
 * ("prob_<class>" / "p_<class>"): the class named after the last such column. */
static void roc(ns_html *h, const ns_tsv *p, int ct)
{
    int cprob = -1;
    for (size_t j = 0; j < p->ncols; j++)
        if (!strncmp(p->header[j], "prob_", 5) || !strncmp(p->header[j], "p_", 2))
            cprob = (int)j;
    if (cprob < 0)
        return;
    const char *pos = strchr(p->header[cprob], '_') + 1;
    size_t n = p->nrows, npos = 0;
    double *sl = malloc(sizeof(double) * 2 * (n + 1)), *fx = malloc(sizeof(double) * (n + 2)),
           *fy = malloc(sizeof(double) * (n + 2));
    if (sl && fx && fy) {
        for (size_t r = 0; r < n; r++) {
            const char *t = ns_tsv_get(p, r, (size_t)ct);
            sl[2 * r + 1] = t && !strcmp(t, pos);
            npos += (size_t)sl[2 * r + 1];
            if (ns_tsv_get_double(p, r, (size_t)cprob, &sl[2 * r]))
                sl[2 * r] = 0;
        }
        qsort(sl, n, 2 * sizeof(double), cmp_desc);
        double tp = 0, fp = 0;
        fx[0] = fy[0] = 0;
        for (size_t r = 0; r < n; r++) {
            tp += sl[2 * r + 1], fp += 1 - sl[2 * r + 1];
            fx[r + 1] = npos < n ? fp / (double)(n - npos) : 0;
            fy[r + 1] = npos ? tp / (double)npos : 0;
        }
        char name[96];
        snprintf(name, sizeof name, "positive: %s", pos);
        ns_series s = {.name = name, .x = fx, .y = fy, .n = n + 1};
        ns_lineplot lp = {.series = &s, .nseries = 1, .title = "ROC (out-of-fold predictions)",
                          .xlabel = "false positive rate", .ylabel = "true positive rate", .diagonal = 1};
        char *svg = ns_svg_lineplot(&lp);
        if (svg)
            ns_html_raw(h, svg);
        free(svg);
    }
    ns_clear_error();
    free(sl);
    free(fx);
    free(fy);
}

static void predictions(ns_html *h, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/predictions.tsv", dir);
    ns_tsv *p;
    if (!ns_file_exists(path) || ns_tsv_read(path, &p)) {
        ns_clear_error();
        return;
    }
    int ct = col_any(p, "true", "y_true"), cp = col_any(p, "predicted", "y_pred");
    if (ct >= 0 && cp >= 0) {
        ns_html_heading(h, 3, "Confusion matrix (out-of-fold)");
        confusion(h, p, ct, cp);
        roc(h, p, ct);
    }
    ns_tsv_free(p);
}

static void simple_table(ns_html *h, const char *dir, const char *file, const char *heading, size_t max_rows)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    ns_tsv *t;
    if (!ns_file_exists(path) || ns_tsv_read(path, &t)) {
        ns_clear_error();
        return;
    }
    ns_html_heading(h, 3, heading);
    ns_html_table(h, t, max_rows);
    ns_tsv_free(t);
}

static void train_folder(ns_html *h, const char *outdir, const char *name)
{
    char dir[4096], title[300];
    snprintf(dir, sizeof dir, "%s/group/%s", outdir, name);
    snprintf(title, sizeof title, "Classification: %s", name + 6);
    ns_html_heading(h, 2, title);
    simple_table(h, dir, "metrics.tsv", "Metrics per fold", 0);
    predictions(h, dir);
    ns_report_spectra(h, dir);
    simple_table(h, dir, "dist_bandwidth_summary.tsv", "Distributed training: bytes on the wire", 0);
}

ns_status ns_report_train_sections(ns_html *h, const char *outdir)
{
    char gdir[4096];
    snprintf(gdir, sizeof gdir, "%s/group", outdir);
    char **names;
    size_t n;
    ns_status s = ns_list_dir(gdir, "train-", NULL, &names, &n);
    for (size_t i = 0; i < n && !s; i++)
        train_folder(h, outdir, names[i]);
    ns_free_strings(names, n);
    return s;
}
