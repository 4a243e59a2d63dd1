/* The source catalogue (SimTB-like: Gaussian blobs, bilateral pairs,
 * gradients), the head and tissue model, and map rendering.
 *
 * The order matters: the first sources carry the planted effects, so that a
 * smaller --sources keeps them (see effects in sim.c). Positions are chosen
 * so that the 2-D slice (all blobs in one plane) keeps blobs of different
 * sources mostly apart; z places them in 3-D. */
#include <math.h>
#include <string.h>

#include "sim/sim_int.h"

#define B(x, y, z, sx, sy, sz, th, a) {x, y, z, sx, sy, sz, th, a}

const ns_sim_source_def ns_sim_catalogue[NS_SIM_CATALOGUE_SIZE] = {
    /* diagnosis: coupled in patients */
    {"thalamus", 1, {B(0.10, -0.12, 0.05, 0.09, 0.12, 0.15, 0, 1)}, 1, 0},
    {"anterior_cingulate", 1, {B(0.00, 0.38, 0.20, 0.09, 0.15, 0.225, 0, 1)}, 0, 0},
    {"insula", 1, {B(0.45, 0.12, 0.00, 0.075, 0.18, 0.225, -15, 1)}, 1, 0},
    /* medication class */
    {"left_frontoparietal", 2,
     {B(-0.62, 0.45, 0.35, 0.105, 0.15, 0.18, 20, 1), B(-0.40, -0.30, 0.50, 0.09, 0.09, 0.15, 0, 0.8)}, 0, 0},
    {"right_frontoparietal", 2,
     {B(0.62, 0.45, 0.35, 0.105, 0.15, 0.18, -20, 1), B(0.40, -0.30, 0.50, 0.09, 0.09, 0.15, 0, 0.8)}, 0, 0},
    /* responder */
    {"auditory", 1, {B(0.76, -0.08, 0.00, 0.09, 0.15, 0.15, 0, 1)}, 1, 0},
    {"supplementary_motor", 1, {B(0.00, 0.22, 0.75, 0.105, 0.09, 0.15, 0, 1)}, 0, 0},
    /* spatial scale: default mode = posterior + anterior + lateral */
    {"dmn_posterior", 1, {B(0.00, -0.32, 0.30, 0.105, 0.12, 0.18, 0, 1)}, 0, 0},
    {"dmn_anterior", 1, {B(0.00, 0.60, 0.10, 0.105, 0.12, 0.225, 0, 1)}, 0, 0},
    {"dmn_lateral", 1, {B(0.70, -0.50, 0.35, 0.105, 0.105, 0.15, 30, 1)}, 1, 0},
    /* spatial scale: visual = lateral + medial */
    {"bilateral_visual", 1, {B(0.35, -0.80, 0.05, 0.135, 0.09, 0.18, -30, 1)}, 1, 0},
    {"posterior_visual", 1, {B(0.00, -0.88, 0.00, 0.12, 0.075, 0.18, 0, 1)}, 0, 0},
    /* spatial scale: sensorimotor = pre + post-central */
    {"precentral", 1, {B(0.58, -0.14, 0.60, 0.075, 0.135, 0.18, 10, 1)}, 1, 0},
    {"postcentral", 1, {B(0.60, -0.32, 0.60, 0.075, 0.12, 0.18, 10, 1)}, 1, 0},
    /* diagnosis, bipolar-specific */
    {"hippocampus", 1, {B(0.26, -0.20, -0.30, 0.075, 0.135, 0.12, 0, 1)}, 1, 0},
    {"orbitofrontal", 1, {B(0.20, 0.50, -0.40, 0.09, 0.09, 0.12, 0, 1)}, 1, 0},
    /* dynamic states */
    {"dorsal_attention", 1, {B(0.28, -0.54, 0.55, 0.09, 0.09, 0.15, 0, 1)}, 1, 0},
    {"precuneus", 1, {B(0.00, -0.58, 0.45, 0.09, 0.12, 0.18, 0, 1)}, 0, 0},
    {"middle_temporal", 1, {B(0.80, -0.30, -0.10, 0.075, 0.15, 0.15, 0, 1)}, 1, 0},
    {"cerebellum", 1, {B(0.52, -0.72, -0.60, 0.12, 0.09, 0.18, 0, 1)}, 1, 0},
    {"temporal_pole", 1, {B(0.62, 0.24, -0.40, 0.09, 0.105, 0.15, 0, 1)}, 1, 0},
    /* independent */
    {"left_frontal", 1, {B(-0.38, 0.70, 0.35, 0.12, 0.105, 0.18, 30, 1)}, 0, 0},
    {"right_frontal", 1, {B(0.38, 0.70, 0.35, 0.12, 0.105, 0.18, -30, 1)}, 0, 0},
    {"caudate", 1, {B(0.16, 0.20, 0.10, 0.06, 0.12, 0.15, 0, 1)}, 1, 0},
    {"putamen", 1, {B(0.30, 0.02, 0.00, 0.06, 0.135, 0.15, 0, 1)}, 1, 0},
    {"frontal_pole", 1, {B(0.00, 0.82, 0.05, 0.105, 0.075, 0.15, 0, 1)}, 0, 0},
    {"superior_parietal", 1, {B(0.15, -0.40, 0.70, 0.06, 0.075, 0.12, 0, 1)}, 1, 0},
    /* artifact-like sources */
    {"ventricles", 1, {B(0.06, 0.04, 0.10, 0.038, 0.12, 0.18, 0, 1)}, 1, 0},
    {"white_matter", 1, {B(0.28, 0.00, 0.15, 0.20, 0.40, 0.30, 0, 1)}, 1, 0.5},
    {"global_gradient", 1, {B(0.00, 0.00, 0.00, 0.80, 0.90, 0.80, 90, 1)}, 0, 1.0},
};

#undef B

/* Value of one blob at (x, y, z). */
static double blob_value(const ns_sim_blob *b, double gradient, int is3d, double x, double y,
                         double z, double c, double s)
{
    double dx = x - b->x, dy = y - b->y;
    double u = (c * dx + s * dy) / b->sx, w = (-s * dx + c * dy) / b->sy;
    double e = u * u + w * w;
    if (is3d) {
        double v = (z - b->z) / b->sz;
        e += v * v;
    }
    if (e > 40.0)
        return 0.0;
    double g = gradient != 0.0 ? fmax(0.0, 1.0 + gradient * u) : 1.0;
    return b->amp * g * exp(-e);
}

/* Blob b of def after jitter (centre moved, widths spread, head rotated). */
static ns_sim_blob place_blob(const ns_sim_blob *b0, int mirror, const ns_sim_jitter *j)
{
    ns_sim_blob b = *b0;
    if (mirror) {
        b.x = -b.x;
        b.theta_deg = -b.theta_deg;
    }
    if (!j)
        return b;
    double x = b.x + j->shift[0], y = b.y + j->shift[1];
    double r = j->head_rot_deg * M_PI / 180.0;
    b.x = cos(r) * x - sin(r) * y + j->head_shift[0];
    b.y = sin(r) * x + cos(r) * y + j->head_shift[1];
    b.z = b.z + j->shift[2] + j->head_shift[2];
    b.theta_deg += j->head_rot_deg;
    b.sx *= j->spread;
    b.sy *= j->spread;
    b.sz *= j->spread;
    return b;
}

void ns_sim_render_source(const ns_sim *sim, const ns_sim_source_def *def, const ns_sim_jitter *j,
                          float *map)
{
    const int64_t *d = sim->p.dim;
    ns_sim_blob blobs[2 * NS_SIM_MAX_BLOBS];
    int nb = 0;
    for (int k = 0; k < def->nblob; k++) {
        blobs[nb++] = place_blob(&def->blob[k], 0, j);
        if (def->bilateral)
            blobs[nb++] = place_blob(&def->blob[k], 1, j);
    }
    double cs[2 * NS_SIM_MAX_BLOBS][2];
    for (int k = 0; k < nb; k++)
        cs[k][0] = cos(blobs[k].theta_deg * M_PI / 180.0), cs[k][1] = sin(blobs[k].theta_deg * M_PI / 180.0);
    double peak = 0.0;
    size_t v = 0;
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++, v++) {
                double val = 0.0;
                double cx = ns_sim_coord(x, d[0]), cy = ns_sim_coord(y, d[1]), cz = ns_sim_coord(z, d[2]);
                if (sim->head[v])
                    for (int k = 0; k < nb; k++)
                        val += blob_value(&blobs[k], def->gradient, sim->is3d, cx, cy, cz, cs[k][0], cs[k][1]);
                map[v] = (float)val;
                peak = fmax(peak, fabs(val));
            }
    if (peak > 0.0)
        for (size_t i = 0; i < sim->nvox; i++)
            map[i] = (float)(map[i] / peak);
}

double ns_sim_tissue_factor(int label)
{
    static const double f[5] = {0.0, 1.5, 1.0, 0.7, 0.3};
    return label >= 0 && label <= 4 ? f[label] : 0.0;
}

/* (x/a)^2 + (y/b)^2 (+ (z/c)^2 in 3-D) around a centre. */
static double ell(int is3d, double x, double y, double z, const double c[3], const double r[3])
{
    double a = (x - c[0]) / r[0], b = (y - c[1]) / r[1], e = a * a + b * b;
    if (is3d) {
        double g = (z - c[2]) / r[2];
        e += g * g;
    }
    return e;
}

/* Catalogue entries the tissue model follows (bilateral, single blob). */
enum { SRC_THALAMUS = 0, SRC_CAUDATE = 23, SRC_PUTAMEN = 24, SRC_VENTRICLES = 27 };

/* Deep grey-matter nuclei and ventricles follow the catalogue blobs. */
static int in_source(int is3d, int src, double x, double y, double z, double level)
{
    const ns_sim_source_def *def = &ns_sim_catalogue[src];
    const ns_sim_blob *b = &def->blob[0];
    double c[3] = {fabs(x), y, z}, r[3] = {b->sx, b->sy, b->sz};
    double ctr[3] = {b->x, b->y, b->z};
    return ell(is3d, c[0], c[1], c[2], ctr, r) < -log(level);
}

static int tissue_at(int is3d, double x, double y, double z)
{
    static const double o[3] = {0, 0, 0}, head[3] = {0.90, 0.95, 0.85}, wm[3] = {0.62, 0.72, 0.60};
    static const double drop2[3] = {0, 0.90, 0}, dr2[3] = {0.25, 0.08, 1};
    static const double drop3[3] = {0, 0.65, -0.45}, dr3[3] = {0.30, 0.20, 0.15};
    double h = ell(is3d, x, y, z, o, head);
    if (h > 1.0)
        return 0;
    if (ell(is3d, x, y, z, is3d ? drop3 : drop2, is3d ? dr3 : dr2) <= 1.0)
        return 4;
    if (h > 0.93 * 0.93 || in_source(is3d, SRC_VENTRICLES, x, y, z, 0.5))
        return 1;
    if (in_source(is3d, SRC_THALAMUS, x, y, z, 0.4) || in_source(is3d, SRC_CAUDATE, x, y, z, 0.4) ||
        in_source(is3d, SRC_PUTAMEN, x, y, z, 0.4))
        return 2;
    return ell(is3d, x, y, z, o, wm) <= 1.0 ? 3 : 2;
}

void ns_sim_make_tissue(const ns_sim *sim, uint8_t *head, uint8_t *tissue)
{
    const int64_t *d = sim->p.dim;
    size_t v = 0;
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++, v++) {
                int t = tissue_at(sim->is3d, ns_sim_coord(x, d[0]), ns_sim_coord(y, d[1]),
                                  ns_sim_coord(z, d[2]));
                tissue[v] = (uint8_t)t;
                head[v] = t != 0;
            }
}
