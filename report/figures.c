/* Figures shared by the study and subject pages. */
/* requires: report nifti_io */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

void ns_report_component_id(int k, int index1, char *buf, size_t size)
{
    int width = snprintf(NULL, 0, "%d", k);
    snprintf(buf, size, "ica%dc%0*d", k, width, index1);
}

/* The stability index of component row i (NAN when absent). */
static double stability_of(const ns_tsv *stab, size_t i)
{
    int col = stab ? ns_tsv_column(stab, "stability_index") : -1;
    double v = NAN;
    if (col >= 0 && i < stab->nrows)
        ns_tsv_get_double(stab, i, (size_t)col, &v);
    return v;
}

static ns_status one_mosaic(ns_html *h, const ns_volume *v, size_t c, const float *mask, const char *caption)
{
    int nx = (int)v->geom.dim[0], ny = (int)v->geom.dim[1], nz = (int)v->geom.dim[2];
    int step = nz > 12 ? (nz + 7) / 8 : 1;
    ns_mosaic m = {.map = v->data + c * v->nvox, .bg = mask, .nx = nx, .ny = ny, .nz = nz, .threshold = 2.0,
                   .step = step, .cols = 4, .scale = nx < 80 ? 2 : 1};
    uint8_t *rgb, *png;
    int w, ht;
    size_t len;
    ns_status s = ns_mosaic_render(&m, &rgb, &w, &ht);
    if (s)
        return s;
    s = ns_png_encode_rgb(rgb, w, ht, &png, &len);
    free(rgb);
    if (s)
        return s;
    char *uri = ns_png_data_uri(png, len);
    free(png);
    if (!uri)
        return ns_error(NS_ERR_NOMEM, "out of memory encoding a figure");
    ns_html_raw(h, "<figure><img class=\"fig\" alt=\"");
    ns_html_raw(h, caption);
    ns_html_raw(h, "\" src=\"");
    ns_html_raw(h, uri);
    ns_html_raw(h, "\"><figcaption>");
    ns_html_raw(h, caption);
    ns_html_raw(h, "</figcaption></figure>\n");
    free(uri);
    return NS_OK;
}

ns_status ns_report_component_grid(ns_html *h, const ns_volume *v, const float *mask, const ns_tsv *stab,
                                   int k)
{
    ns_html_raw(h, "<div class=\"grid\">\n");
    ns_status s = NS_OK;
    for (size_t c = 0; c < v->nvol && !s; c++) {
        char id[32], caption[96];
        ns_report_component_id(k, (int)c + 1, id, sizeof id);
        double iq = stability_of(stab, c);
        if (isfinite(iq))
            snprintf(caption, sizeof caption, "%s (Iq %.2f)", id, iq);
        else
            snprintf(caption, sizeof caption, "%s", id);
        s = one_mosaic(h, v, c, mask, caption);
    }
    ns_html_raw(h, "</div>\n");
    return s;
}

void ns_report_stability_bars(ns_html *h, const ns_tsv *stab, int k)
{
    int col = ns_tsv_column(stab, "stability_index");
    int idcol = ns_tsv_column(stab, "component");
    if (col < 0)
        return;
    double *v = malloc(sizeof(double) * (stab->nrows + 1));
    const char **labels = malloc(sizeof(char *) * (stab->nrows + 1));
    size_t finite = 0;
    if (v && labels) {
        for (size_t i = 0; i < stab->nrows; i++) {
            v[i] = NAN;
            ns_tsv_get_double(stab, i, (size_t)col, &v[i]);
            labels[i] = idcol >= 0 ? ns_tsv_get(stab, i, (size_t)idcol) : NULL;
            finite += isfinite(v[i]) != 0;
        }
    }
    ns_clear_error();
    if (finite) { /* a single ICA run has no stability index */
        char title[96];
        snprintf(title, sizeof title, "ICASSO stability index, order %d", k);
        char *svg = ns_svg_bars(v, labels, stab->nrows, title, "Iq");
        if (svg)
            ns_html_raw(h, svg);
        free(svg);
    }
    free(v);
    free(labels);
}

void ns_report_table_heatmap(ns_html *h, const ns_tsv *t, const char *title)
{
    if (t->ncols < 2 || t->nrows == 0)
        return;
    size_t rows = t->nrows, cols = t->ncols - 1;
    double *x = malloc(sizeof(double) * rows * cols);
    const char **rl = malloc(sizeof(char *) * rows);
    if (!x || !rl) {
        free(x);
        free(rl);
        return;
    }
    int numeric = 1;
    for (size_t i = 0; i < rows; i++) {
        rl[i] = ns_tsv_get(t, i, 0) ? ns_tsv_get(t, i, 0) : "";
        for (size_t j = 0; j < cols && numeric; j++)
            numeric = ns_tsv_get_double(t, i, j + 1, &x[i * cols + j]) == NS_OK;
    }
    if (numeric) {
        ns_heatmap hm = {.x = x, .rows = rows, .cols = cols, .row_labels = rl,
                         .col_labels = (const char *const *)t->header + 1, .vmax = 1, .title = title};
        char *svg = ns_svg_heatmap(&hm);
        if (svg)
            ns_html_raw(h, svg);
        free(svg);
    }
    ns_clear_error();
    free(x);
    free(rl);
}
