/* libFuzzer harness: ns_npy_parse on arbitrary bytes (NPY v1-v3, either
 * byte order, C or Fortran order). An array that parses is converted to
 * float64/float32, serialised and parsed again: same dtype, shape, bytes. */
#include "fuzz_util.h"

static void check_round_trip(const ns_array *a)
{
    void *buf;
    size_t len;
    if (ns_npy_serialise(a, &buf, &len) != NS_OK)
        return; /* out of memory is allowed */
    ns_array *b = NULL;
    if (ns_npy_parse(buf, len, "round trip", &b) != NS_OK) {
        fprintf(stderr, "fuzz: serialised array does not parse: %s\n", ns_last_error());
        abort();
    }
    size_t bytes = ns_array_count(a) * ns_dtype_size(a->dtype);
    if (b->dtype != a->dtype || b->ndim != a->ndim ||
        memcmp(b->shape, a->shape, sizeof(size_t) * (size_t)a->ndim) ||
        memcmp(b->data, a->data, bytes))
        abort();
    ns_array_free(b);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ns_array *a = NULL;
    ns_status s = ns_npy_parse(data, size, "fuzz input", &a);
    ns_fuzz_check_message(s);
    if (s != NS_OK)
        return 0;
    double *d = NULL;
    float *f = NULL;
    if (ns_array_to_f64(a, &d) == NS_OK)
        free(d);
    if (ns_array_to_f32(a, &f) == NS_OK)
        free(f);
    check_round_trip(a);
    ns_array_free(a);
    return 0;
}
