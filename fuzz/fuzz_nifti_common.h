/* The NIfTI harnesses share one check: ns_volume_load (whole file and first
 * volume only) and ns_volume_load_header on a file, each either succeeding
 * with consistent sizes or failing with a message; and ns_volume_reader,
 * which must hand out the whole load's data volume by volume and fail when
 * it fails. */
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

/* The reader against the whole load (status `whole_st`, data `whole`).
 * Only images of up to 64 MB: beyond that the load may fail for memory
 * where the reader, holding one volume, rightly succeeds. */
static inline void ns_fuzz_reader_matches(const char *path, const ns_volume *whole,
                                          ns_status whole_st)
{
    ns_volume_reader *r = NULL;
    ns_clear_error();
    ns_status s = ns_volume_reader_open(path, NULL, &r);
    ns_fuzz_check_message(s);
    const ns_volume *h = s == NS_OK ? ns_volume_reader_header(r) : NULL;
    if (h && (h->nvox == 0 || h->nvol > ((size_t)64 << 20) / sizeof(float) / h->nvox)) {
        ns_volume_reader_free(r);
        return;
    }
    float *buf = h ? malloc(h->nvox * sizeof(float)) : NULL;
    if (h && !buf)
        abort();
    for (size_t t = 0; s == NS_OK && t < h->nvol; t++) {
        s = ns_volume_reader_next(r, buf);
        ns_fuzz_check_message(s);
        if (s == NS_OK && whole_st == NS_OK &&
            memcmp(buf, whole->data + t * h->nvox, h->nvox * sizeof(float)) != 0) {
            fprintf(stderr, "fuzz: reader and load differ in volume %zu\n", t);
            abort();
        }
    }
    if ((s == NS_OK) != (whole_st == NS_OK)) {
        fprintf(stderr, "fuzz: reader %s where the load %s\n", s == NS_OK ? "succeeds" : "fails",
                whole_st == NS_OK ? "succeeds" : "fails");
        abort();
    }
    free(buf);
    ns_volume_reader_free(r);
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
    ns_fuzz_reader_matches(path, v, s);
    ns_volume_free(v);
}

#endif
