/* SVG line plots (trajectories, ROC curves) and bar charts. */
#include <math.h>
#include <stdlib.h>

#include "report/report.h"

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

typedef struct {
    double x0, x1, y0, y1;
    int left, top, w, h, logy;
} plot_frame;

static double ty(const plot_frame *f, double y)
{
    if (f->logy)
        y = log10(y > 1e-300 ? y : 1e-300);
    return f->top + f->h - (y - f->y0) / (f->y1 - f->y0) * f->h;
}

static double tx(const plot_frame *f, double x) { return f->left + (x - f->x0) / (f->x1 - f->x0) * f->w; }

static void data_range(const ns_lineplot *p, plot_frame *f)
{
    f->x0 = f->y0 = INFINITY;
    f->x1 = f->y1 = -INFINITY;
    for (size_t s = 0; s < p->nseries; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x ? p->series[s].x[i] : (double)i, y = p->series[s].y[i];
            if (!isfinite(y) || (p->logy && y <= 0))
                continue;
            y = p->logy ? log10(y) : y;
            f->x0 = fmin(f->x0, x), f->x1 = fmax(f->x1, x);
            f->y0 = fmin(f->y0, y), f->y1 = fmax(f->y1, y);
        }
    if (!isfinite(f->x0))
        f->x0 = 0, f->x1 = 1, f->y0 = 0, f->y1 = 1;
    if (f->x1 <= f->x0)
        f->x1 = f->x0 + 1;
    if (f->y1 <= f->y0)
        f->y1 = f->y0 + (fabs(f->y0) > 0 ? fabs(f->y0) * 0.1 : 1);
    double pad = 0.05 * (f->y1 - f->y0);
    f->y0 -= pad, f->y1 += pad;
}

static void axes(ns_strbuf *b, const plot_frame *f, const ns_lineplot *p)
{
    ns_strbuf_appendf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
                      f->left, f->top, f->w, f->h);
    for (int k = 0; k <= 4; k++) {
        double yv = f->y0 + (f->y1 - f->y0) * k / 4, xv = f->x0 + (f->x1 - f->x0) * k / 4;
        double py = f->top + f->h - (double)f->h * k / 4, px = f->left + (double)f->w * k / 4;
        ns_strbuf_appendf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.3g</text>\n",
                          f->left - 4, py + 3, p->logy ? pow(10, yv) : yv);
        ns_strbuf_appendf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%.3g</text>\n",
                          px, f->top + f->h + 14, xv);
    }
    if (p->xlabel) {
        ns_strbuf_appendf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">",
                          f->left + f->w / 2, f->top + f->h + 30);
        ns_strbuf_append_escaped(b, p->xlabel);
        ns_strbuf_append(b, "</text>\n");
    }
    if (p->ylabel) {
        ns_strbuf_appendf(b, "<text x=\"12\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
                             "transform=\"rotate(-90 12 %d)\">", f->top + f->h / 2, f->top + f->h / 2);
        ns_strbuf_append_escaped(b, p->ylabel);
        ns_strbuf_append(b, "</text>\n");
    }
}

static void one_series(ns_strbuf *b, const plot_frame *f, const ns_series *s, size_t k, int logy)
{
    ns_strbuf_appendf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
                      palette[k % 10], s->dashed ? " stroke-dasharray=\"4 3\"" : "");
    for (size_t i = 0; i < s->n; i++) {
        double x = s->x ? s->x[i] : (double)i, y = s->y[i];
        if (!isfinite(y) || (logy && y <= 0))
            continue;
        ns_strbuf_appendf(b, "%.1f,%.1f ", tx(f, x), ty(f, y));
    }
    ns_strbuf_append(b, "\"/>\n");
}

static void legend(ns_strbuf *b, const plot_frame *f, const ns_lineplot *p)
{
    for (size_t k = 0; k < p->nseries; k++) {
        int y = f->top + 12 + 14 * (int)k, x = f->left + f->w + 10;
        ns_strbuf_appendf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>", x,
                          y - 4, x + 16, y - 4, palette[k % 10]);
        ns_strbuf_appendf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", x + 20, y);
        ns_strbuf_append_escaped(b, p->series[k].name ? p->series[k].name : "");
        ns_strbuf_append(b, "</text>\n");
    }
}

char *ns_svg_lineplot(const ns_lineplot *p)
{
    int W = p->width > 0 ? p->width : 560, H = p->height > 0 ? p->height : 320;
    plot_frame f = {.left = 56, .top = p->title ? 26 : 10, .w = W - 56 - 130, .logy = p->logy};
    f.h = H - f.top - 40;
    data_range(p, &f);
    if (p->diagonal)
        f.x0 = f.y0 = 0, f.x1 = f.y1 = 1;
    ns_strbuf b;
    ns_strbuf_init(&b);
    ns_strbuf_appendf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", W, H, W, H);
    if (p->title) {
        ns_strbuf_append(&b, "<text x=\"10\" y=\"16\" font-size=\"13\">");
        ns_strbuf_append_escaped(&b, p->title);
        ns_strbuf_append(&b, "</text>\n");
    }
    axes(&b, &f, p);
    if (p->diagonal)
        ns_strbuf_appendf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#aaa\" stroke-dasharray=\"3 3\"/>\n",
                          tx(&f, 0), ty(&f, 0), tx(&f, 1), ty(&f, 1));
    for (size_t k = 0; k < p->nseries; k++)
        one_series(&b, &f, &p->series[k], k, p->logy);
    legend(&b, &f, p);
    ns_strbuf_append(&b, "</svg>\n");
    return ns_strbuf_take(&b);
}

char *ns_svg_bars(const double *values, const char *const *labels, size_t n, const char *title,
                  const char *ylabel)
{
    int bw = n > 40 ? 8 : 18, W = 70 + (int)n * (bw + 2) + 10, H = 260, top = title ? 26 : 10, h = 180;
    double vmax = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i]) && fabs(values[i]) > vmax)
            vmax = fabs(values[i]);
    vmax = vmax > 0 ? vmax : 1;
    ns_strbuf b;
    ns_strbuf_init(&b);
    ns_strbuf_appendf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", W, H, W, H);
    if (title) {
        ns_strbuf_append(&b, "<text x=\"10\" y=\"16\" font-size=\"13\">");
        ns_strbuf_append_escaped(&b, title);
        ns_strbuf_append(&b, "</text>\n");
    }
    ns_strbuf_appendf(&b, "<text x=\"4\" y=\"%d\" font-size=\"10\">%.3g</text>\n", top + 8, vmax);
    if (ylabel) {
        ns_strbuf_appendf(&b, "<text x=\"4\" y=\"%d\" font-size=\"10\">", top + h + 30);
        ns_strbuf_append_escaped(&b, ylabel);
        ns_strbuf_append(&b, "</text>\n");
    }
    for (size_t i = 0; i < n; i++) {
        double v = isfinite(values[i]) ? values[i] : 0;
        int bh = (int)(fabs(v) / vmax * h), x = 70 + (int)i * (bw + 2);
        ns_strbuf_appendf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", x,
                          top + h - bh, bw, bh, v >= 0 ? palette[0] : palette[1]);
        ns_strbuf_append_escaped(&b, labels && labels[i] ? labels[i] : "");
        if (isfinite(values[i]))
            ns_strbuf_appendf(&b, ": %.3g</title></rect>\n", values[i]);
        else
            ns_strbuf_append(&b, ": n/a</title></rect>\n");
    }
    ns_strbuf_append(&b, "</svg>\n");
    return ns_strbuf_take(&b);
}
