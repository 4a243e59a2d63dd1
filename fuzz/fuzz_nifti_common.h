/* The NIfTI harnesses share one check: ns_volume_load (whole file and first
 * volume only) and ns_volume_load_header on a file, each either succeeding
 * with consistent sizes or failing with a message. */
#ifndef NS_FUZZ_NIFTI_COMMON_H
#define NS_FUZZ_NIFTI_COMMON_H

#include "fuzz_util.h"
#include "nifti_io/nifti_io.h"

static inline void ns_fuzz_check_volume(const ns_volume *v, int data_expected)
{
    if (!v->path || (data_expected && !v->data))
        abort();
    size_t nvox = 1;
    for (int k = 0; k < 3; k++)
        nvox *= (size_t)v->geom.dim[k];
    if (v->nvox != nvox || v->nvox == 0 || v->nvol == 0) {
        fprintf(stderr, "fuzz: volume of %zu voxels x %zu volumes accepted (dims %lld %lld %lld)\n",
                v->nvox, v->nvol, (long long)v->geom.dim[0], (long long)v->geom.dim[1],
                (long long)v->geom.dim[2]);
        abort();
    }
    if (v->data) {
        double mn, mx, mean;
        size_t nonfinite;
        ns_volume_stats(v, &mn, &mx, &mean, &nonfinite);
        /* touch the last value: ASan catches a buffer shorter than claimed */
        volatile float last = v->data[v->nvox * v->nvol - 1];
        (void)last;
    }
}

static inline void ns_fuzz_load_all(const char *path)
{
    ns_volume *v = NULL;
    ns_status s = ns_volume_load_header(path, &v);
    ns_fuzz_check_message(s);
    if (s == NS_OK)
        ns_fuzz_check_volume(v, 0);
    ns_volume_free(v);

    v = NULL;
    ns_clear_error();
    ns_load_opts first = {.first_volume_only = 1, .no_sidecar = 1};
    s = ns_volume_load(path, &first, &v);
    ns_fuzz_check_message(s);
    if (s == NS_OK) {
        ns_fuzz_check_volume(v, 1);
        if (v->nvol != 1)
            abort();
    }
    ns_volume_free(v);

    v = NULL;
    ns_clear_error();
    s = ns_volume_load(path, NULL, &v);
    ns_fuzz_check_message(s);
    if (s == NS_OK)
        ns_fuzz_check_volume(v, 1);
    ns_volume_free(v);
}

#endif
