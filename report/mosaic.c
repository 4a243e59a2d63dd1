/* Slice mosaics of a map thresholded over a grey background. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && fabs(x[i]) > m)
            m = fabs(x[i]);
    return m;
}

/* Hot scale for t in [0,1] (red -> yellow); cold mirrors it (blue -> cyan). */
static void overlay_colour(double v, double thr, double vmax, uint8_t *px)
{
    double t = vmax > thr ? (fabs(v) - thr) / (vmax - thr) : 1;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    uint8_t lo = 255, hi = (uint8_t)(255 * t);
    if (v > 0) {
        px[0] = lo, px[1] = hi, px[2] = 0;
    } else {
        px[0] = 0, px[1] = hi, px[2] = lo;
    }
}

static void paint_voxel(const ns_mosaic *m, size_t idx, double bgmax, double vmax, uint8_t *px)
{
    double v = m->map[idx];
    if (isfinite(v) && fabs(v) >= m->threshold && v != 0) {
        overlay_colour(v, m->threshold, vmax, px);
        return;
    }
    /* background in dark-to-mid grey so that the hot/cold overlay stands out */
    double g = m->bg && bgmax > 0 ? m->bg[idx] / bgmax : 0;
    uint8_t c = (uint8_t)(g <= 0 ? 0 : 40 + 120 * (g > 1 ? 1 : g));
    px[0] = px[1] = px[2] = c;
}

ns_status ns_mosaic_render(const ns_mosaic *m, uint8_t **rgb, int *w, int *h)
{
    if (m->nx <= 0 || m->ny <= 0 || m->nz <= 0)
        return ns_error(NS_ERR_ARG, "mosaic of an empty grid");
    int step = m->step > 0 ? m->step : 1, scale = m->scale > 0 ? m->scale : 1;
    int nslices = (m->nz + step - 1) / step;
    int cols = m->cols > 0 ? (m->cols < nslices ? m->cols : nslices) : nslices;
    int rows = (nslices + cols - 1) / cols;
    size_t nvox = (size_t)m->nx * (size_t)m->ny * (size_t)m->nz;
    double vmax = m->vmax > 0 ? m->vmax : max_abs(m->map, nvox);
    double bgmax = m->bg ? max_abs(m->bg, nvox) : 0;
    *w = cols * m->nx * scale;
    *h = rows * m->ny * scale;
    uint8_t *img = ns_calloc((size_t)*w * (size_t)*h, 3);
    if (!img)
        return NS_ERR_NOMEM;
    for (int s = 0; s < nslices; s++) {
        int z = s * step, x0 = (s % cols) * m->nx * scale, y0 = (s / cols) * m->ny * scale;
        for (int y = 0; y < m->ny; y++)
            for (int x = 0; x < m->nx; x++) {
                size_t idx = ((size_t)z * (size_t)m->ny + (size_t)y) * (size_t)m->nx + (size_t)x;
                uint8_t px[3];
                paint_voxel(m, idx, bgmax, vmax, px);
                /* image rows go down, anatomical y goes up */
                int py = y0 + (m->ny - 1 - y) * scale, pxx = x0 + x * scale;
                for (int dy = 0; dy < scale; dy++)
                    for (int dx = 0; dx < scale; dx++)
                        memcpy(img + 3 * ((size_t)(py + dy) * (size_t)*w + (size_t)(pxx + dx)), px, 3);
            }
    }
    *rgb = img;
    return NS_OK;
}
