/* libFuzzer harness: ns_npz_read (zip of NPY members through libzip) on
 * arbitrary bytes written to a .npz file. An archive that reads is written
 * back with ns_npz_write and must read again with the same members. */
#include "fuzz_util.h"

static void check_round_trip(const ns_npz *z)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s/copy.npz", ns_fuzz_scratch());
    if (ns_npz_write(z, copy) != NS_OK) {
        fprintf(stderr, "fuzz: NPZ that was read cannot be written: %s\n", ns_last_error());
        abort();
    }
    ns_npz *y = NULL;
    if (ns_npz_read(copy, &y) != NS_OK) {
        fprintf(stderr, "fuzz: written NPZ does not read back: %s\n", ns_last_error());
        abort();
    }
    if (ns_npz_count(y) != ns_npz_count(z)) {
        fprintf(stderr, "fuzz: %zu members read, %zu after writing and reading back\n",
                ns_npz_count(z), ns_npz_count(y));
        abort();
    }
    for (size_t i = 0; i < ns_npz_count(z); i++) {
        const ns_array *a = ns_npz_get(z, ns_npz_name(z, i));
        const ns_array *b = ns_npz_get(y, ns_npz_name(z, i));
        if (!a || !b || a->dtype != b->dtype || a->ndim != b->ndim ||
            memcmp(a->data, b->data, ns_array_count(a) * ns_dtype_size(a->dtype))) {
            fprintf(stderr, "fuzz: member '%s' differs after writing and reading back\n",
                    ns_npz_name(z, i));
            abort();
        }
    }
    ns_npz_free(y);
    remove(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = ns_fuzz_write("in.npz", data, size);
    ns_npz *z = NULL;
    ns_status s = ns_npz_read(path, &z);
    ns_fuzz_check_message(s);
    if (s != NS_OK)
        return 0;
    (void)ns_npz_get(z, "no such member");
    check_round_trip(z);
    ns_npz_free(z);
    return 0;
}
