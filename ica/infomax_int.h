/* The ICA algorithms behind ns_ica_unmix (private). Both work on x (K x V,
 * rows centred; Infomax expects sphered rows, FastICA white rows) and return
 * the K x K unmixing of x in w (double, row-major). */
#ifndef NS_INFOMAX_INT_H
#define NS_INFOMAX_INT_H

#include "ica/ica_int.h"

ns_status ns_ica_infomax(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info);
ns_status ns_ica_fastica(const float *x, size_t K, size_t V, const ns_ica_opts *o, ns_rng *rng,
                         double *w, ns_ica_info *info);
/* Voxel stride of FastICA's warm start for K x V data (1 = none): o's
 * subsample (default 4) when every stride-th voxel still gives at least 20
 * per component. */
size_t ns_ica_fastica_stride(const ns_ica_opts *o, size_t K, size_t V);

#endif
