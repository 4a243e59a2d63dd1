/* libFuzzer harness: arbitrary bytes gzip-compressed, then read as .nii.gz,
 * so that mutations reach the header and data checks through the
 * decompression path (the .nii harness reaches them uncompressed). */
/* requires: nifti_io */
#include <zlib.h>

#include "fuzz_nifti_common.h"

/* gzip-wraps data (windowBits 15 + 16) into a malloc'd buffer. */
static unsigned char *gzip_bytes(const uint8_t *data, size_t size, size_t *out_len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)size) + 32;
    unsigned char *out = malloc(cap);
    if (!out)
        abort();
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *gz = gzip_bytes(data, size, &len);
    const char *path = ns_fuzz_write("in.nii.gz", gz, len);
    free(gz);
    ns_fuzz_load_all(path);
    return 0;
}
