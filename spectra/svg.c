/* Self-contained SVG line plots (no scripts, no external fonts or styles)
 * for spectral trajectories: one line per group, optional bands, legend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

typedef struct {
    double x0, x1, y0, y1; /* data range */
    double px, py, pw, ph; /* plot area */
    int logy;
    int xint;              /* every x is a whole number (epochs): whole ticks */
} frame;

static void put_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int usable(const frame *fr, double y) { return isfinite(y) && (!fr->logy || y > 0); }
static double ty(const frame *fr, double y) { return fr->logy ? log10(y) : y; }
static double sx(const frame *fr, double x)
{
    return fr->px + (x - fr->x0) / (fr->x1 - fr->x0) * fr->pw;
}
static double sy(const frame *fr, double y)
{
    return fr->py + fr->ph - (ty(fr, y) - fr->y0) / (fr->y1 - fr->y0) * fr->ph;
}

static void ranges(frame *fr, const ns_spectra_series *s, size_t ns)
{
    fr->x0 = fr->y0 = INFINITY;
    fr->x1 = fr->y1 = -INFINITY;
    fr->xint = 1;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            double b = s[k].band && isfinite(s[k].band[i]) ? s[k].band[i] : 0;
            double lo = s[k].y[i] - b, hi = s[k].y[i] + b;
            if (!isfinite(s[k].x[i]) || !usable(fr, s[k].y[i]))
                continue;
            lo = usable(fr, lo) ? lo : s[k].y[i];
            fr->xint &= s[k].x[i] == floor(s[k].x[i]);
            fr->x0 = fmin(fr->x0, s[k].x[i]);
            fr->x1 = fmax(fr->x1, s[k].x[i]);
            fr->y0 = fmin(fr->y0, ty(fr, lo));
            fr->y1 = fmax(fr->y1, ty(fr, hi));
        }
    if (!isfinite(fr->x0))
        fr->x0 = 0, fr->x1 = 1, fr->y0 = 0, fr->y1 = 1;
    if (fr->x1 <= fr->x0)
        fr->x1 = fr->x0 + 1;
    if (fr->y1 <= fr->y0) {
        double d = fabs(fr->y0) > 0 ? 0.05 * fabs(fr->y0) : 0.5;
        fr->y0 -= d;
        fr->y1 += d;
    }
    double pad = 0.04 * (fr->y1 - fr->y0);
    fr->y0 -= pad;
    fr->y1 += pad;
}

/* Tick step of 1, 2 or 5 times a power of ten giving ~5 ticks. */
static double tick_step(double range)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static void y_tick(FILE *f, const frame *fr, double pos, double shown)
{
    double y = fr->py + fr->ph - (pos - fr->y0) / (fr->y1 - fr->y0) * fr->ph;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
            fr->px, y, fr->px + fr->pw, y, fr->px - 6, y + 4, shown);
}

/* Linear axis: 1-2-5 steps. Log axis: whole decades when the range spans
 * 1.5 decades or more, else 1-2-5 values of the data placed on the log
 * scale (positions are log10 of the values). */
static void y_ticks(FILE *f, const frame *fr)
{
    if (!fr->logy || fr->y1 - fr->y0 < 1.5) {
        double lo = fr->logy ? pow(10, fr->y0) : fr->y0, hi = fr->logy ? pow(10, fr->y1) : fr->y1;
        double st = tick_step(hi - lo);
        for (double t = ceil(lo / st) * st; t <= hi + 1e-9 * st; t += st) {
            double v = fabs(t) < 1e-12 * st ? 0 : t;
            if (!fr->logy || v > 0)
                y_tick(f, fr, fr->logy ? log10(v) : v, v);
        }
        return;
    }
    double st = ceil((fr->y1 - fr->y0) / 6);
    for (double t = ceil(fr->y0 / st) * st; t <= fr->y1 + 1e-9; t += st)
        y_tick(f, fr, t, pow(10, t));
}

static void axes(FILE *f, const frame *fr, const char *xlabel, const char *ylabel)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#444\"/>\n", fr->px, fr->py, fr->pw, fr->ph);
    double st = tick_step(fr->x1 - fr->x0);
    if (fr->xint && st < 1)
        st = 1;
    for (double t = ceil(fr->x0 / st) * st; t <= fr->x1 + 1e-9 * st; t += st) {
        double x = sx(fr, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                x, fr->py, x, fr->py + fr->ph, x, fr->py + fr->ph + 16, fabs(t) < 1e-12 * st ? 0 : t);
    }
    y_ticks(f, fr);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", fr->px + fr->pw / 2,
            fr->py + fr->ph + 36);
    put_text(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
            fr->py + fr->ph / 2);
    put_text(f, ylabel);
    fputs(fr->logy ? " (log scale)</text>\n" : "</text>\n", f);
}

static void band(FILE *f, const frame *fr, const ns_spectra_series *s, const char *col)
{
    fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\" points=\"", col);
    for (size_t i = 0; i < s->n; i++)
        if (usable(fr, s->y[i] + s->band[i]) && isfinite(s->x[i]))
            fprintf(f, "%.2f,%.2f ", sx(fr, s->x[i]), sy(fr, s->y[i] + s->band[i]));
    for (size_t i = s->n; i-- > 0;) {
        double lo = s->y[i] - s->band[i];
        if (isfinite(s->x[i]) && usable(fr, s->y[i]))
            fprintf(f, "%.2f,%.2f ", sx(fr, s->x[i]), sy(fr, usable(fr, lo) ? lo : s->y[i]));
    }
    fputs("\"/>\n", f);
}

/* Polylines over runs of usable points (a NaN breaks the line). */
static void line(FILE *f, const frame *fr, const ns_spectra_series *s, const char *col)
{
    int open = 0;
    for (size_t i = 0; i < s->n; i++) {
        int ok = isfinite(s->x[i]) && usable(fr, s->y[i]);
        if (ok && !open)
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", col);
        if (ok)
            fprintf(f, "%.2f,%.2f ", sx(fr, s->x[i]), sy(fr, s->y[i]));
        if (!ok && open)
            fputs("\"/>\n", f);
        open = ok;
    }
    if (open)
        fputs("\"/>\n", f);
    if (s->n == 1 && isfinite(s->x[0]) && usable(fr, s->y[0]))
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", sx(fr, s->x[0]),
                sy(fr, s->y[0]), col);
}

ns_status ns_spectra_svg_lines(const char *title, const char *xlabel, const char *ylabel,
                               const ns_spectra_series *s, size_t nseries, int logy, int width,
                               int height, char **svg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return ns_error(NS_ERR_NOMEM, "cannot create an SVG buffer (%s)", title ? title : "plot");
    width = width > 0 ? width : 640;
    height = height > 0 ? height : 400;
    frame fr = {.px = 70, .py = 34, .pw = width - 70 - 150, .ph = height - 34 - 50, .logy = logy};
    ranges(&fr, s, nseries);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
            " font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">",
            width, height, width, height, width / 2);
    put_text(f, title);
    fputs("</text>\n", f);
    axes(f, &fr, xlabel, ylabel);
    for (size_t k = 0; k < nseries; k++) {
        const char *col = palette[k % (sizeof palette / sizeof palette[0])];
        if (s[k].band)
            band(f, &fr, &s[k], col);
        line(f, &fr, &s[k], col);
        double ly = fr.py + 10 + 18 * (double)k, lx = fr.px + fr.pw + 12;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">", lx, ly, lx + 20, ly, col,
                lx + 26, ly + 4);
        put_text(f, s[k].label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return ns_error(NS_ERR_NOMEM, "cannot write the SVG (%s)", title ? title : "plot");
    }
    *svg = buf;
    return NS_OK;
}

ns_status ns_spectra_svg_write(const char *path, const char *title, const char *xlabel,
                               const char *ylabel, const ns_spectra_series *s, size_t nseries,
                               int logy)
{
    char *svg = NULL;
    ns_afile *af = NULL;
    ns_status st = ns_spectra_svg_lines(title, xlabel, ylabel, s, nseries, logy, 0, 0, &svg);
    if (st == NS_OK)
        st = ns_afile_open(path, &af);
    if (st == NS_OK) {
        fputs(svg, ns_afile_stream(af));
        st = ns_afile_commit(af);
    }
    free(svg);
    return st;
}
