/* Group mask rule and the preprocessing options of GIFT. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ica/ica_int.h"

static const char *const preproc_names[] = {"timemean", "voxelmean", "intensity", "variance"};

const char *ns_ica_preproc_name(ns_ica_preproc p)
{
    return ns_ica__enum_name(NS_ICA_NAMES(preproc_names), (unsigned)p);
}

int ns_ica_preproc_parse(const char *s, ns_ica_preproc *out)
{
    int i = ns_ica__enum_parse(NS_ICA_NAMES(preproc_names), s);
    if (i >= 0)
        *out = (ns_ica_preproc)i;
    return i < 0 ? -1 : 0;
}

size_t ns_ica_mask_and_volume(const float *vol, size_t nvox, uint8_t *mask)
{
    double sum = 0;
    size_t nfin = 0, kept = 0;
    for (size_t i = 0; i < nvox; i++)
        if (isfinite(vol[i])) {
            sum += vol[i];
            nfin++;
        }
    double mean = nfin ? sum / (double)nfin : 0;
    for (size_t i = 0; i < nvox; i++) {
        mask[i] = mask[i] && isfinite(vol[i]) && vol[i] >= mean;
        kept += mask[i];
    }
    return kept;
}

static ns_status not_finite(const float *r, size_t n, size_t t, const char *who)
{
    size_t v = 0;
    while (v + 1 < n && isfinite(r[v]))
        v++;
    return ns_error(NS_ERR_DATA, "NaN or Inf in the data: time point %zu, in-mask voxel %zu (%s)",
                    t, v, who);
}

/* One pass over row t: its sum tells whether it is finite, and, with
 * centre, its mean is removed (GIFT's "remove mean per time point"). */
NS_ICA_CLONES static ns_status row_finite(float *r, size_t n, size_t t, int centre, const char *who)
{
    double s = ns_ica_sum_f(r, n);
    if (!isfinite(s))
        return not_finite(r, n, t, who);
    float m = (float)(s / (double)n);
    for (size_t v = 0; centre && v < n; v++)
        r[v] -= m;
    return NS_OK;
}

static ns_status rows_finite(ns_matrix *x, int centre, const char *who)
{
    ns_status st = NS_OK;
    for (size_t t = 0; st == NS_OK && t < x->rows; t++)
        st = row_finite(x->data + t * x->stride, x->cols, t, centre, who);
    return st;
}

/* Per-voxel means over time, accumulated row by row (cache friendly). */
static double *voxel_means(const ns_matrix *x)
{
    double *m = ns_calloc(x->cols, sizeof(double));
    if (!m)
        return NULL;
    for (size_t t = 0; t < x->rows; t++) {
        const float *r = x->data + t * x->stride;
        for (size_t v = 0; v < x->cols; v++)
            m[v] += r[v];
    }
    for (size_t v = 0; v < x->cols; v++)
        m[v] /= (double)x->rows;
    return m;
}

static ns_status voxel_center_scale(ns_matrix *x, int intensity, const char *who)
{
    double *m = voxel_means(x);
    if (!m)
        return NS_ERR_NOMEM;
    for (size_t v = 0; intensity && v < x->cols; v++)
        if (fabs(m[v]) < 1e-12) {
            free(m);
            return ns_error(NS_ERR_DATA,
                            "intensity normalisation: in-mask voxel %zu has a zero mean (%s)", v,
                            who);
        }
    for (size_t t = 0; t < x->rows; t++) {
        float *r = x->data + t * x->stride;
        for (size_t v = 0; v < x->cols; v++)
            r[v] = intensity ? (float)(r[v] * 100.0 / m[v]) : (float)(r[v] - m[v]);
    }
    free(m);
    return NS_OK;
}

/* Linear detrend and unit std per voxel, blockwise over voxels so that each
 * column block stays in cache while the T rows are visited. */
static ns_status variance_normalise(ns_matrix *x)
{
    size_t T = x->rows, blk = 256;
    double *buf = ns_alloc(T * blk, sizeof(double));
    if (!buf)
        return NS_ERR_NOMEM;
    for (size_t v0 = 0; v0 < x->cols; v0 += blk) {
        size_t nb = x->cols - v0 < blk ? x->cols - v0 : blk;
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < nb; j++)
                buf[j * T + t] = x->data[t * x->stride + v0 + j];
        for (size_t j = 0; j < nb; j++)
            ns_ica_detrend_scale(buf + j * T, T, 1);
        for (size_t t = 0; t < T; t++)
            for (size_t j = 0; j < nb; j++)
                x->data[t * x->stride + v0 + j] = (float)buf[j * T + t];
    }
    free(buf);
    return NS_OK;
}

ns_status ns_ica_preprocess_row(float *r, size_t n, size_t t, ns_ica_preproc p, const char *who)
{
    return row_finite(r, n, t, p == NS_ICA_PRE_TIMEMEAN, who);
}

ns_status ns_ica_preprocess_voxels(ns_matrix *x, ns_ica_preproc p, const char *who)
{
    ns_status st = NS_OK;
    switch (p) {
    case NS_ICA_PRE_TIMEMEAN:
        return NS_OK;
    case NS_ICA_PRE_VOXELMEAN:
    case NS_ICA_PRE_INTENSITY:
        st = voxel_center_scale(x, p == NS_ICA_PRE_INTENSITY, who);
        break;
    case NS_ICA_PRE_VARIANCE:
        st = variance_normalise(x);
        break;
    default:
        return ns_error(NS_ERR_ARG, "unknown preprocessing option %d", (int)p);
    }
    if (st == NS_OK)
        st = rows_finite(x, 1, who);
    return st;
}

ns_status ns_ica_preprocess(ns_matrix *x, ns_ica_preproc p, const char *who)
{
    ns_status st = rows_finite(x, p == NS_ICA_PRE_TIMEMEAN, who);
    return st == NS_OK ? ns_ica_preprocess_voxels(x, p, who) : st;
}
