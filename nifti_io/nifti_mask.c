/* Masks: thresholding one volume, loading a mask image on a given grid. */
#include <math.h>
#include <stdlib.h>

#include "nifti_int.h"

ns_status ns_mask_from_volume(const ns_volume *v, size_t vol, double threshold, uint8_t **mask,
                              size_t *count)
{
    *mask = NULL;
    *count = 0;
    if (!v || !v->data || vol >= v->nvol)
        return ns_error(NS_ERR_ARG, "no volume %zu to build a mask from (%s)", vol,
                        v && v->path ? v->path : "volume");
    uint8_t *m = ns_alloc(v->nvox, 1);
    if (!m)
        return NS_ERR_NOMEM;
    const float *x = v->data + vol * v->nvox;
    size_t n = 0;
    for (size_t i = 0; i < v->nvox; i++) {
        m[i] = isfinite(x[i]) && x[i] > threshold;
        n += m[i];
    }
    *mask = m;
    *count = n;
    return NS_OK;
}

ns_status ns_mask_load(const char *path, const ns_geom *grid, uint8_t **mask, size_t *count)
{
    *mask = NULL;
    *count = 0;
    ns_load_opts o = {0};
    o.first_volume_only = 1;
    o.no_sidecar = 1;
    ns_volume *v = NULL;
    ns_status s = ns_volume_load(path, &o, &v);
    if (s)
        return s;
    if (grid && !ns_geom_same_grid(grid, &v->geom)) {
        ns_volume_free(v);
        return ns_error(NS_ERR_DATA, "the mask is not on the image's grid (dims or affine differ) (%s)",
                        path);
    }
    /* non-zero and finite: a mask stored as floats with a NaN background or
     * as probabilities > 0 still works */
    uint8_t *m = ns_alloc(v->nvox, 1);
    size_t n = 0;
    for (size_t i = 0; m && i < v->nvox; i++) {
        m[i] = isfinite(v->data[i]) && v->data[i] != 0;
        n += m[i];
    }
    ns_volume_free(v);
    if (!m)
        return NS_ERR_NOMEM;
    *mask = m;
    *count = n;
    return NS_OK;
}
