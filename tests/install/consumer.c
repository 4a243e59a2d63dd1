/* A program outside the tree that uses the installed libneurospectra through
 * pkg-config: writes and reads back an NPZ and a TSV. */
#include <stdio.h>
#include <string.h>

#include <core/core.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    ns_init();
    char path[1024];
    snprintf(path, sizeof path, "%s/w.npz", argv[1]);
    size_t shape[2] = {2, 3};
    float w[6] = {1, 2, 3, 4, 5, 6};
    ns_npz *z = ns_npz_create();
    if (ns_npz_add(z, "fc0.weight", ns_array_from_f32(w, 2, shape)) || ns_npz_write(z, path)) {
        fprintf(stderr, "%s\n", ns_last_error());
        return 1;
    }
    ns_npz_free(z);
    if (ns_npz_read(path, &z)) {
        fprintf(stderr, "%s\n", ns_last_error());
        return 1;
    }
    const ns_array *a = ns_npz_get(z, "fc0.weight");
    int ok = a && a->shape[1] == 3 && ((float *)a->data)[5] == 6.0f;
    ns_npz_free(z);
    printf("%s %s\n", ok ? "ok" : "mismatch", strstr(ns_blas_config(), "OpenBLAS") ? "openblas" : "other-blas");
    return ok ? 0 : 1;
}
