/* SVG heatmaps with a diverging colour scale and block boundaries. */
#include <math.h>
#include <stdlib.h>

#include "report/report.h"

/* Blue (-1) - white (0) - red (+1). */
static void diverging(double t, int *r, int *g, int *b)
{
    t = t < -1 ? -1 : t > 1 ? 1 : t;
    int fade = (int)(255 * (1 - fabs(t)));
    if (t >= 0)
        *r = 255, *g = fade, *b = fade;
    else
        *r = fade, *g = fade, *b = 255;
}

static double heat_vmax(const ns_heatmap *h)
{
    if (h->vmax > 0)
        return h->vmax;
    double m = 0;
    for (size_t i = 0; i < h->rows * h->cols; i++)
        if (isfinite(h->x[i]) && fabs(h->x[i]) > m)
            m = fabs(h->x[i]);
    return m > 0 ? m : 1;
}

static void heat_cells(ns_strbuf *b, const ns_heatmap *h, int cell, int ox, int oy, double vmax)
{
    for (size_t i = 0; i < h->rows; i++)
        for (size_t j = 0; j < h->cols; j++) {
            double v = h->x[i * h->cols + j];
            int r = 200, g = 200, bl = 200;
            if (isfinite(v))
                diverging(v / vmax, &r, &g, &bl);
            ns_strbuf_appendf(b, "<rect x=\"%zu\" y=\"%zu\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\">",
                              ox + j * (size_t)cell, oy + i * (size_t)cell, cell, cell, r, g, bl);
            ns_strbuf_append(b, "<title>");
            if (h->row_labels && h->col_labels) {
                ns_strbuf_append_escaped(b, h->row_labels[i]);
                ns_strbuf_append(b, " - ");
                ns_strbuf_append_escaped(b, h->col_labels[j]);
                ns_strbuf_append(b, ": ");
            }
            if (isfinite(v))
                ns_strbuf_appendf(b, "%.3g</title></rect>\n", v);
            else /* a grey cell: undefined (e.g. a t-test on a group of one) */
                ns_strbuf_append(b, "n/a</title></rect>\n");
        }
}

static void heat_blocks(ns_strbuf *b, const ns_heatmap *h, int cell, int ox, int oy)
{
    for (size_t k = 0; k < h->nblocks; k++) {
        size_t at = h->blocks[k];
        if (at == 0)
            continue;
        if (at < h->cols)
            ns_strbuf_appendf(b, "<line x1=\"%zu\" y1=\"%d\" x2=\"%zu\" y2=\"%zu\" stroke=\"black\"/>\n",
                              ox + at * (size_t)cell, oy, ox + at * (size_t)cell, oy + h->rows * (size_t)cell);
        if (at < h->rows)
            ns_strbuf_appendf(b, "<line x1=\"%d\" y1=\"%zu\" x2=\"%zu\" y2=\"%zu\" stroke=\"black\"/>\n",
                              ox, oy + at * (size_t)cell, ox + h->cols * (size_t)cell, oy + at * (size_t)cell);
    }
}

static void heat_colourbar(ns_strbuf *b, int x, int y, int height, double vmax)
{
    for (int i = 0; i < 20; i++) {
        int r, g, bl;
        diverging(1 - i / 9.5, &r, &g, &bl);
        ns_strbuf_appendf(b, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"%d\" fill=\"rgb(%d,%d,%d)\"/>\n", x,
                          y + i * height / 20, height / 20 + 1, r, g, bl);
    }
    ns_strbuf_appendf(b, "<text x=\"%d\" y=\"%d\" font-size=\"10\">%.2g</text>\n", x + 16, y + 8, vmax);
    ns_strbuf_appendf(b, "<text x=\"%d\" y=\"%d\" font-size=\"10\">%.2g</text>\n", x + 16, y + height, -vmax);
}

char *ns_svg_heatmap(const ns_heatmap *h)
{
    size_t n = h->rows > h->cols ? h->rows : h->cols;
    int cell = h->cell > 0 ? h->cell : (int)(n ? (600 / n > 1 ? 600 / n : 1) : 1);
    int ox = 10, oy = h->title ? 24 : 6;
    int w = ox + (int)h->cols * cell + 60, ht = oy + (int)h->rows * cell + 10;
    double vmax = heat_vmax(h);
    ns_strbuf b;
    ns_strbuf_init(&b);
    ns_strbuf_appendf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", w, ht, w, ht);
    if (h->title) {
        ns_strbuf_append(&b, "<text x=\"10\" y=\"16\" font-size=\"13\">");
        ns_strbuf_append_escaped(&b, h->title);
        ns_strbuf_append(&b, "</text>\n");
    }
    heat_cells(&b, h, cell, ox, oy, vmax);
    heat_blocks(&b, h, cell, ox, oy);
    heat_colourbar(&b, ox + (int)h->cols * cell + 8, oy, (int)h->rows * cell > 100 ? (int)h->rows * cell : 100, vmax);
    ns_strbuf_append(&b, "</svg>\n");
    return ns_strbuf_take(&b);
}
