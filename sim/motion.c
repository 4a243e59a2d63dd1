/* Head motion: AR(1) rigid-body parameters per volume, applied to the
 * noiseless data by trilinear resampling (the scanner noise comes after). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

ns_status ns_sim_make_motion(const ns_sim *sim, ns_sim_subject *s)
{
    const ns_sim_params *p = &sim->p;
    s->motion = ns_calloc(s->ntime * 6, sizeof(double));
    ns_rng *r = ns_rng_create(ns_sim_stream_seed(sim, s->index, NS_SIM_STREAM_MOTION));
    if (!s->motion || !r) {
        ns_rng_free(r);
        return ns_error(NS_ERR_NOMEM, "out of memory for motion");
    }
    /* Some subjects move more than others. */
    double scale = 0.5 + ns_rng_uniform(r);
    double innov = sqrt(1.0 - p->motion_ar * p->motion_ar) * scale;
    double sd[6] = {p->motion_trans_mm, p->motion_trans_mm, p->motion_trans_mm, 0, 0, 0};
    for (int k = 3; k < 6; k++)
        sd[k] = p->motion_rot_deg * M_PI / 180.0;
    /* In-plane only for a single slice: trans_x, trans_y, rot_z. */
    int used[6] = {1, 1, sim->is3d, sim->is3d, sim->is3d, 1};
    double x[6] = {0, 0, 0, 0, 0, 0};
    for (size_t t = 0; t < s->ntime; t++)
        for (int k = 0; k < 6; k++) {
            double e = ns_rng_normal(r);
            if (t > 0)
                x[k] = p->motion_ar * x[k] + innov * sd[k] * e;
            s->motion[t * 6 + k] = used[k] ? x[k] : 0.0;
        }
    ns_rng_free(r);
    return NS_OK;
}

void ns_sim_framewise_displacement(const double *m, size_t ntime, double *fd)
{
    for (size_t t = 0; t < ntime; t++) {
        if (t == 0) {
            fd[t] = NAN;
            continue;
        }
        double d = 0.0;
        for (int k = 0; k < 6; k++)
            d += fabs(m[t * 6 + k] - m[(t - 1) * 6 + k]) * (k < 3 ? 1.0 : 50.0);
        fd[t] = d;
    }
}

static float sample(const float *vol, const int64_t *d, const double q[3])
{
    double lim[3] = {(double)(d[0] - 1), (double)(d[1] - 1), (double)(d[2] - 1)};
    int64_t i0[3];
    double f[3];
    for (int k = 0; k < 3; k++) {
        if (q[k] < 0.0 || q[k] > lim[k])
            return 0.0f;
        i0[k] = (int64_t)floor(q[k]);
        if (i0[k] >= d[k] - 1)
            i0[k] = d[k] - 1;
        f[k] = q[k] - (double)i0[k];
    }
    double val = 0.0;
    for (int c = 0; c < 8; c++) {
        double w = 1.0;
        int64_t idx[3];
        for (int k = 0; k < 3; k++) {
            int hi = (c >> k) & 1;
            w *= hi ? f[k] : 1.0 - f[k];
            idx[k] = i0[k] + hi;
        }
        if (w == 0.0)
            continue;
        val += w * vol[(idx[2] * d[1] + idx[1]) * d[0] + idx[0]];
    }
    return (float)val;
}

/* R = Rz Ry Rx of the three rotation angles. */
static void rotation(const double *a, double R[3][3])
{
    double cx = cos(a[0]), sx = sin(a[0]), cy = cos(a[1]), sy = sin(a[1]), cz = cos(a[2]), sz = sin(a[2]);
    double Rm[3][3] = {{cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx},
                       {sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx},
                       {-sy, cy * sx, cy * cx}};
    memcpy(R, Rm, sizeof Rm);
}

/* Volume t shows the head moved by T(q) = R (q - c) + c + trans (mm, c the
 * grid centre): out(p) = in(T^-1(p)). */
static void move_volume(const ns_sim *sim, const double *m, const float *in, float *out)
{
    const int64_t *d = sim->p.dim;
    const double *vx = sim->p.voxel_mm;
    double R[3][3], c[3];
    rotation(m + 3, R);
    for (int k = 0; k < 3; k++)
        c[k] = 0.5 * (double)(d[k] - 1) * vx[k];
    size_t v = 0;
    for (int64_t z = 0; z < d[2]; z++)
        for (int64_t y = 0; y < d[1]; y++)
            for (int64_t x = 0; x < d[0]; x++, v++) {
                double pm[3] = {(double)x * vx[0] - c[0] - m[0], (double)y * vx[1] - c[1] - m[1],
                                (double)z * vx[2] - c[2] - m[2]};
                double q[3];
                for (int k = 0; k < 3; k++)
                    q[k] = (R[0][k] * pm[0] + R[1][k] * pm[1] + R[2][k] * pm[2] + c[k]) / vx[k];
                out[v] = sample(in, d, q);
            }
}

ns_status ns_sim_apply_motion(const ns_sim *sim, const ns_sim_subject *s, float *data)
{
    float *tmp = ns_alloc(s->nvox, sizeof(float));
    if (!tmp)
        return ns_error(NS_ERR_NOMEM, "out of memory for motion");
    for (size_t t = 0; t < s->ntime; t++) {
        float *vol = data + t * s->nvox;
        memcpy(tmp, vol, s->nvox * sizeof(float));
        move_volume(sim, s->motion + t * 6, tmp, vol);
    }
    free(tmp);
    return NS_OK;
}
