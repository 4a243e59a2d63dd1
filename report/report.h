/* neurospectra report: self-contained HTML pages with embedded figures —
 * PNG mosaics of brain maps (libpng, base64 data URIs) and inline SVG
 * heatmaps and line plots.
 *
 * A page is built in memory (ns_html_*) and written atomically. Strings
 * returned by the SVG functions are newly allocated (caller frees). */
#ifndef NS_REPORT_H
#define NS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ strings */

/* A growing string. Appends never fail silently: after an allocation
 * failure the buffer is marked failed and ns_strbuf_take returns NULL. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} ns_strbuf;

void ns_strbuf_init(ns_strbuf *b);
void ns_strbuf_append(ns_strbuf *b, const char *s);
void ns_strbuf_appendf(ns_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " escaped. */
void ns_strbuf_append_escaped(ns_strbuf *b, const char *s);
/* Hands the string over (caller frees); NULL after a failure. Resets b. */
char *ns_strbuf_take(ns_strbuf *b);
void ns_strbuf_free(ns_strbuf *b);

/* ----------------------------------------------------------------- PNG */

/* Encodes an 8-bit RGB image (w*h*3 bytes, row-major) as PNG in memory. */
ns_status ns_png_encode_rgb(const uint8_t *rgb, int w, int h, uint8_t **png, size_t *len);
/* "data:image/png;base64,..." for a PNG buffer (caller frees). */
char *ns_png_data_uri(const uint8_t *png, size_t len);

/* A mosaic of axial slices of a 3-D map over a grey background image: the
 * background (e.g. the mean image) in grey, the map in a hot (positive) /
 * cold (negative) colour scale where |map| >= threshold. nx, ny, nz: grid.
 * Every `step`-th slice (>= 1) is shown, `cols` per row. bg may be NULL. */
typedef struct {
    const float *map, *bg;
    int nx, ny, nz;
    double threshold, vmax; /* vmax <= 0: the map's max |value| */
    int step, cols, scale;  /* scale: pixels per voxel (>= 1) */
} ns_mosaic;
ns_status ns_mosaic_render(const ns_mosaic *m, uint8_t **rgb, int *w, int *h);

/* ----------------------------------------------------------------- SVG */

/* A heatmap of an n x n (or rows x cols) matrix, diverging colour scale
 * symmetric around 0 (|v| <= vmax, vmax <= 0: max |v|). Optional labels
 * (one per row/column, may be NULL) and block boundaries (indices where a
 * new block starts, e.g. a new model order), drawn as lines. */
typedef struct {
    const double *x;
    size_t rows, cols;
    const char *const *row_labels, *const *col_labels;
    const size_t *blocks;
    size_t nblocks;
    double vmax;
    const char *title;
    int cell; /* pixels per cell (0: fit ~600 px) */
} ns_heatmap;
char *ns_svg_heatmap(const ns_heatmap *h);

/* Line plot of several series sharing axes. Points with non-finite y are
 * skipped. */
typedef struct {
    const char *name;
    const double *x, *y;
    size_t n;
    int dashed;
} ns_series;
typedef struct {
    const ns_series *series;
    size_t nseries;
    const char *title, *xlabel, *ylabel;
    int logy, width, height; /* 0: 560 x 320 */
    int diagonal;            /* draw y = x (ROC curves) */
} ns_lineplot;
char *ns_svg_lineplot(const ns_lineplot *p);

/* A bar chart of values with labels. */
char *ns_svg_bars(const double *values, const char *const *labels, size_t n, const char *title,
                  const char *ylabel);

/* ---------------------------------------------------------------- HTML */

typedef struct ns_html ns_html;
ns_html *ns_html_create(const char *title);
void ns_html_free(ns_html *h);
/* A section heading (level 2) or sub-heading (level 3). */
void ns_html_heading(ns_html *h, int level, const char *text);
/* A paragraph of escaped text. */
void ns_html_text(ns_html *h, const char *text);
/* Raw HTML/SVG (trusted: produced by this module). */
void ns_html_raw(ns_html *h, const char *html);
/* An <img> with a PNG data URI and alt text. */
void ns_html_png(ns_html *h, const uint8_t *png, size_t len, const char *alt);
/* A table from a TSV (at most max_rows rows; 0 = all). */
void ns_html_table(ns_html *h, const ns_tsv *t, size_t max_rows);
/* A two-column key/value table. */
void ns_html_kv(ns_html *h, const char *const *keys, const char *const *values, size_t n);
/* Writes the page atomically. */
ns_status ns_html_write(ns_html *h, const char *path);

/* ------------------------------------------------------- study pages */

/* What the study report reads from an output directory (all optional: a
 * section whose files are absent is left out):
 *   group/desc-ica<K>_components.nii.gz, desc-ica<K>_stability.tsv,
 *   desc-brain_mask.nii.gz, desc-icamulti_crossorder.tsv,
 *   group/desc-fnc_features.tsv (+ participants.tsv for group differences),
 *   group/train-<name>/ metrics.tsv, predictions.tsv, summary.json,
 *   spectra.tsv, dist_bandwidth.tsv,
 *   sub-<l>/func/..._desc-ica<K>_components.nii.gz, ..._timeseries.tsv,
 *   ..._desc-icamulti_relmat.tsv (subject pages). */
typedef struct {
    const char *participants; /* participants.tsv (NULL: OUT/group/participants.tsv) */
    const char *groups;       /* column for group differences (NULL: "diagnosis") */
    int subject_pages;        /* write sub-<l>.html too (default 1) */
} ns_report_opts;

void ns_report_opts_default(ns_report_opts *o);
/* Writes OUT/report.html (and OUT/sub-<l>.html). Returns the number of
 * pages written in *npages (may be NULL). */
ns_status ns_report_study(const char *outdir, const ns_report_opts *o, int *npages);

#ifdef __cplusplus
}
#endif
#endif
