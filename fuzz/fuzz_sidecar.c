/* libFuzzer harness: arbitrary bytes as the BIDS sidecar (x.json) beside a
 * valid 4-D volume (x.nii, TR 2 s in its header). Whatever the sidecar
 * holds, loading must succeed (a bad sidecar is a warning, BIDS says its
 * RepetitionTime wins when it is valid) with a finite positive TR. */
/* requires: nifti_io */
#include <math.h>

#include "fuzz_nifti_common.h"

/* A 2x2x2x3 float32 NIfTI-1 with TR 2 s (pixdim[4], units mm + s). */
static void write_volume(void)
{
    unsigned char b[352 + 24 * 4] = {0};
    int32_t i32 = 348;
    memcpy(b, &i32, 4);
    int16_t dim[8] = {4, 2, 2, 2, 3, 1, 1, 1};
    memcpy(b + 40, dim, sizeof dim);
    int16_t dt[2] = {16, 32};
    memcpy(b + 70, dt, sizeof dt);
    float pix[8] = {1, 2, 2, 2, 2, 1, 1, 1};
    memcpy(b + 76, pix, sizeof pix);
    float vox = 352;
    memcpy(b + 108, &vox, 4);
    b[123] = 2 | 8;
    memcpy(b + 344, "n+1", 4);
    for (int k = 0; k < 24; k++) {
        float v = (float)k;
        memcpy(b + 352 + 4 * k, &v, 4);
    }
    ns_fuzz_write("vol.nii", b, sizeof b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    if (!path[0]) {
        write_volume();
        snprintf(path, sizeof path, "%s/vol.nii", ns_fuzz_scratch());
    }
    ns_fuzz_write("vol.json", data, size);
    ns_volume *v = NULL;
    if (ns_volume_load(path, NULL, &v) != NS_OK) {
        fprintf(stderr, "fuzz: a sidecar made a valid volume fail: %s\n", ns_last_error());
        abort();
    }
    ns_fuzz_check_volume(v, 1);
    if (!(v->geom.tr > 0) || !isfinite(v->geom.tr) || (v->geom.tr_source != 1 && v->geom.tr_source != 2)) {
        fprintf(stderr, "fuzz: TR %g from source %d\n", v->geom.tr, v->geom.tr_source);
        abort();
    }
    ns_volume_free(v);
    return 0;
}
