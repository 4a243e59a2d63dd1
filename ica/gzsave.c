/* Component maps as .nii.gz at libdeflate level 1. Maps are noisy float32
 * that no level compresses much (22.0 MB at level 1 vs 21.7 MB at level 6
 * for 100 maps of a 53x63x46 grid), while level 1 costs a third of the CPU;
 * with K maps per subject and order, writing dominated pass 2. nifti_io
 * builds the header (saved uncompressed to a private temporary), we
 * compress and commit atomically. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>

#include "ica/pipeline_int.h"

static ns_status gzip_to(const char *path, const void *in, size_t len)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
    size_t bound = c ? libdeflate_gzip_compress_bound(c, len) : 0;
    void *out = c ? malloc(bound) : NULL;
    ns_status st = out ? NS_OK : ns_error(NS_ERR_NOMEM, "out of memory compressing (%s)", path);
    size_t n = st == NS_OK ? libdeflate_gzip_compress(c, in, len, out, bound) : 0;
    if (st == NS_OK && n == 0)
        st = ns_error(NS_ERR_INTERNAL, "gzip compression failed (%s)", path);
    ns_afile *f = NULL;
    if (st == NS_OK)
        st = ns_afile_open(path, &f);
    if (st == NS_OK) {
        fwrite(out, 1, n, ns_afile_stream(f));
        st = ns_afile_commit(f);
    }
    free(out);
    if (c)
        libdeflate_free_compressor(c);
    return st;
}

ns_status ns_ica_save_gz(const ns_volume *v, const char *path)
{
    size_t len = strlen(path);
    if (len < 4 || strcmp(path + len - 3, ".gz"))
        return ns_volume_save(v, path, NS_SAVE_FLOAT32);
    char *tmp = malloc(len + 64);
    if (!tmp)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    /* path minus ".gz", made unique per process and object */
    snprintf(tmp, len + 64, "%.*s.%ld-%p.tmp.nii", (int)(len - 7), path, (long)getpid(),
             (const void *)v);
    char *buf = NULL;
    size_t n = 0;
    ns_status st = ns_volume_save(v, tmp, NS_SAVE_FLOAT32);
    if (st == NS_OK)
        st = ns_read_file(tmp, &buf, &n);
    unlink(tmp);
    if (st == NS_OK)
        st = gzip_to(path, buf, n);
    free(buf), free(tmp);
    return st;
}
