/* Saving float32 / uint8 volumes, atomically.
 *
 * nifticlib builds the header (nifti_convert_nim2n1hdr / n2hdr: qform and
 * sform encoding), but we write the bytes ourselves: Debian's nifticlib
 * 3.0.1 has no nifti_image_write_status, its nifti_image_write returns void
 * and prints to stderr when a write fails. The file is written under a
 * temporary name in the destination directory (ns_afile), verified by
 * re-reading it (our header validation, dims, datatype, size; for .gz the
 * compressed length and the gzip trailer, CRC32 and size, that were
 * written), and only then renamed into place. .nii.gz is one gzip member
 * (what our fast reader expects): level 1 by ISA-L's streaming deflate
 * (about 4-7 times faster than libdeflate's level 1, ~1-3 % larger), the
 * other levels (6 unless the caller chooses) by libdeflate, several times
 * faster than zlib. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <nifti2_io.h>

#include "nifti_int.h"

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcasecmp(s + n - m, suffix);
}

static void set_geometry(nifti_image *nim, const ns_geom *g)
{
    for (int i = 0; i < 7; i++)
        nim->pixdim[i + 1] = g->pixdim[i];
    nim->dx = g->pixdim[0];
    nim->dy = g->pixdim[1];
    nim->dz = g->pixdim[2];
    nim->dt = g->pixdim[3];
    nim->du = g->pixdim[4];
    nim->dv = g->pixdim[5];
    nim->dw = g->pixdim[6];
    nim->qform_code = g->qform_code;
    nim->sform_code = g->sform_code;
    nim->quatern_b = g->quatern[0];
    nim->quatern_c = g->quatern[1];
    nim->quatern_d = g->quatern[2];
    nim->qoffset_x = g->qoffset[0];
    nim->qoffset_y = g->qoffset[1];
    nim->qoffset_z = g->qoffset[2];
    nim->qfac = g->qfac < 0 ? -1 : 1;
    nim->pixdim[0] = nim->qfac;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            nim->qto_xyz.m[i][j] = g->qto[i][j];
            nim->sto_xyz.m[i][j] = g->sto[i][j];
        }
    nim->xyz_units = g->xyz_units;
    nim->time_units = g->time_units;
    nim->scl_slope = 0; /* the data are stored as they are */
    nim->scl_inter = 0;
}

/* float -> uint8: rounded, clamped to 0..255, non-finite -> 0. */
static uint8_t *to_uint8(const float *x, size_t n)
{
    uint8_t *u = ns_alloc(n, 1);
    for (size_t i = 0; u && i < n; i++) {
        float f = x[i];
        u[i] = !(f > 0) ? 0 : f >= 255 ? 255 : (uint8_t)lrintf(f);
    }
    return u;
}

/* What write_gz put in the file: its length and the gzip trailer (CRC32
 * and size of the data), so that the file on disk can be checked without
 * inflating it again (re-reading right after writing reads the page cache:
 * a second inflate would only re-check our own compressor). */
typedef struct {
    size_t len;
    unsigned char tail[8];
} gz_written;

/* The file holds exactly what was compressed: its length and its last 8
 * bytes (CRC32 and ISIZE) are those write_gz produced. */
static int gz_complete(const char *tmp, const gz_written *w)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned char tail[8];
    if (fd < 0)
        return 0;
    int ok = fstat(fd, &st) == 0 && (size_t)st.st_size == w->len && w->len >= 18 &&
             pread(fd, tail, 8, (off_t)(w->len - 8)) == 8 && !memcmp(tail, w->tail, 8);
    close(fd);
    return ok;
}

/* Re-reads what was written: our own header validation (for .gz, the
 * header is inflated from the file), the same dims and datatype, and the
 * exact byte count (for .gz, the compressed length and trailer). */
static ns_status verify(const char *tmp, const char *path, const nifti_image *nim,
                        const gz_written *gzw)
{
    ns_nii_paths p;
    ns_nii_hdr h;
    ns_status s = ns_nii_paths_resolve(tmp, &p);
    if (!s)
        s = ns_nii_header_read(&p, &h);
    int gz = !s && p.hdr_gz;
    ns_nii_paths_free(&p);
    if (s) {
        char why[512];
        snprintf(why, sizeof why, "%s", ns_last_error());
        return ns_error(NS_ERR_IO, "write failed: %s (%s)", why, path);
    }
    for (int i = 0; i <= nim->dim[0]; i++)
        if (h.dim[i] != nim->dim[i])
            return ns_error(NS_ERR_IO, "write failed: dims differ on re-reading (%s)", path);
    size_t want = (size_t)h.vox_offset + (size_t)nim->nvox * (size_t)nim->nbyper;
    struct stat st;
    if (h.datatype != nim->datatype || stat(tmp, &st) != 0)
        return ns_error(NS_ERR_IO, "write failed: header differs on re-reading (%s)", path);
    if (gz ? !gz_complete(tmp, gzw) : (size_t)st.st_size != want)
        return ns_error(NS_ERR_IO, "write failed: the file is incomplete (disk full?) (%s)", path);
    return NS_OK;
}

static nifti_image *make_nim(const ns_volume *v, int datatype)
{
    const ns_geom *g = &v->geom;
    int64_t dims[8] = {3, 1, 1, 1, 1, 1, 1, 1};
    int big = 0;
    for (int i = 0; i < 7; i++) {
        dims[i + 1] = g->dim[i];
        if (i >= 3 && g->dim[i] > 1)
            dims[0] = i + 1;
        big |= g->dim[i] > 32767;
    }
    nifti_image *nim = nifti_make_new_nim(dims, datatype, 0);
    if (!nim)
        return NULL;
    set_geometry(nim, g);
    nim->nifti_type = big ? NIFTI_FTYPE_NIFTI2_1 : NIFTI_FTYPE_NIFTI1_1;
    return nim;
}

static ns_status check_args(const ns_volume *v, const char *path, ns_save_type type,
                            const char **ext)
{
    if (!v || !v->data || !path)
        return ns_error(NS_ERR_ARG, "nothing to save (%s)", path ? path : "no path");
    if (type != NS_SAVE_FLOAT32 && type != NS_SAVE_UINT8)
        return ns_error(NS_ERR_ARG, "unknown output datatype %d (%s)", (int)type, path);
    *ext = has_suffix(path, ".nii.gz") ? ".nii.gz" : has_suffix(path, ".nii") ? ".nii" : NULL;
    if (!*ext)
        return ns_error(NS_ERR_ARG, "output name must end in .nii or .nii.gz (%s)", path);
    size_t nvox = 1, nvol = 1;
    for (int i = 0; i < 7; i++) {
        if (v->geom.dim[i] <= 0)
            return ns_error(NS_ERR_ARG, "volume dims must be positive (%s)", path);
        if (!ns_mul_size(i < 3 ? nvox : nvol, (size_t)v->geom.dim[i], i < 3 ? &nvox : &nvol))
            return ns_error(NS_ERR_ARG, "volume dims overflow (%s)", path);
    }
    if (nvox != v->nvox || nvol != v->nvol)
        return ns_error(NS_ERR_ARG, "geometry dims (%zu x %zu) do not match the data (%zu x %zu) (%s)",
                        nvox, nvol, v->nvox, v->nvol, path);
    return NS_OK;
}

/* The file's bytes before the data: header + the 4-byte extension flag. */
typedef struct {
    unsigned char bytes[548];
    size_t len;
} ns_prefix;

static ns_status make_prefix(const nifti_image *nim, ns_prefix *pre, const char *path)
{
    memset(pre, 0, sizeof *pre);
    int rc;
    if (nim->nifti_type == NIFTI_FTYPE_NIFTI2_1) {
        nifti_2_header h;
        rc = nifti_convert_nim2n2hdr(nim, &h);
        h.vox_offset = 544;
        memcpy(pre->bytes, &h, sizeof h);
        pre->len = 544;
    } else {
        nifti_1_header h;
        rc = nifti_convert_nim2n1hdr(nim, &h);
        h.vox_offset = 352;
        memcpy(pre->bytes, &h, sizeof h);
        pre->len = 352;
    }
    if (rc != 0)
        return ns_error(NS_ERR_INTERNAL, "nifticlib cannot build the header (%s)", path);
    return NS_OK;
}

static ns_status write_plain(FILE *fp, const ns_prefix *pre, const void *data, size_t nbytes)
{
    if (fwrite(pre->bytes, 1, pre->len, fp) != pre->len || fwrite(data, 1, nbytes, fp) != nbytes)
        return NS_ERR_IO;
    return NS_OK;
}

/* One gzip member of prefix + data, compressed with libdeflate. */
static ns_status write_gz_libdeflate(FILE *fp, const ns_prefix *pre, const void *data,
                                     size_t nbytes, int level, const char *path, gz_written *w)
{
    size_t len = pre->len + nbytes;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    unsigned char *in = malloc(len);
    size_t bound = c ? libdeflate_gzip_compress_bound(c, len) : 0;
    unsigned char *out = bound ? malloc(bound) : NULL;
    ns_status s = NS_OK;
    if (!c || !in || !out) {
        s = ns_error(NS_ERR_NOMEM, "out of memory while compressing (%s)", path);
    } else {
        memcpy(in, pre->bytes, pre->len);
        memcpy(in + pre->len, data, nbytes);
        size_t n = libdeflate_gzip_compress(c, in, len, out, bound);
        if (n == 0)
            s = ns_error(NS_ERR_INTERNAL, "compression failed (%s)", path);
        else if (fwrite(out, 1, n, fp) != n)
            s = NS_ERR_IO;
        if (n >= 8) {
            w->len = n;
            memcpy(w->tail, out + n - 8, 8);
        }
    }
    libdeflate_free_compressor(c);
    free(in);
    free(out);
    return s;
}

/* Writes what the deflate stream produced since the last call and keeps the
 * file's last 8 bytes (the trailer once the stream is done) in w. */
static ns_status isal_flush_out(FILE *fp, struct isal_zstream *z, unsigned char *out, size_t cap,
                                gz_written *w)
{
    size_t n = cap - z->avail_out;
    if (n == 0)
        return NS_OK;
    if (fwrite(out, 1, n, fp) != n)
        return NS_ERR_IO;
    size_t keep = n >= 8 ? 0 : 8 - n;
    memmove(w->tail, w->tail + 8 - keep, keep);
    memcpy(w->tail + keep, out + n - (8 - keep), 8 - keep);
    w->len += n;
    z->next_out = out;
    z->avail_out = (uint32_t)cap;
    return NS_OK;
}

/* Feeds in (len bytes, in chunks that fit avail_in) to ISA-L's deflate,
 * writing its output as it comes; last ends the gzip member. */
static ns_status isal_feed(FILE *fp, struct isal_zstream *z, const unsigned char *in, size_t len,
                           int last, unsigned char *out, size_t cap, gz_written *w)
{
    ns_status s = NS_OK;
    do {
        uint32_t part = len < (1u << 30) ? (uint32_t)len : (1u << 30);
        z->next_in = (uint8_t *)in;
        z->avail_in = part;
        z->end_of_stream = (uint16_t)(last && part == len);
        in += part;
        len -= part;
        do {
            if (isal_deflate(z) != COMP_OK)
                return NS_ERR_INTERNAL;
            s = isal_flush_out(fp, z, out, cap, w);
        } while (!s && (z->avail_in > 0 ||
                        (z->end_of_stream && z->internal_state.state != ZSTATE_END)));
    } while (!s && len > 0);
    return s;
}

/* One gzip member of prefix + data, compressed with ISA-L level 1 straight
 * from the caller's data, written in chunks. */
static ns_status write_gz_isal(FILE *fp, const ns_prefix *pre, const void *data, size_t nbytes,
                               const char *path, gz_written *w)
{
    enum { OUT_SIZE = 1 << 20 };
    struct isal_zstream *z = calloc(1, sizeof *z);
    unsigned char *level_buf = malloc(ISAL_DEF_LVL1_DEFAULT), *out = malloc(OUT_SIZE);
    ns_status s = NS_OK;
    if (!z || !level_buf || !out) {
        s = ns_error(NS_ERR_NOMEM, "out of memory while compressing (%s)", path);
    } else {
        isal_deflate_init(z);
        z->level = 1;
        z->level_buf = level_buf;
        z->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
        z->gzip_flag = IGZIP_GZIP;
        z->next_out = out;
        z->avail_out = OUT_SIZE;
        s = isal_feed(fp, z, pre->bytes, pre->len, 0, out, OUT_SIZE, w);
        if (!s)
            s = isal_feed(fp, z, data, nbytes, 1, out, OUT_SIZE, w);
        if (s == NS_ERR_INTERNAL)
            s = ns_error(NS_ERR_INTERNAL, "compression failed (%s)", path);
    }
    free(z);
    free(level_buf);
    free(out);
    return s;
}

static ns_status write_gz(FILE *fp, const ns_prefix *pre, const void *data, size_t nbytes,
                          int level, const char *path, gz_written *w)
{
    if (level == 1)
        return write_gz_isal(fp, pre, data, nbytes, path, w);
    return write_gz_libdeflate(fp, pre, data, nbytes, level, path, w);
}

ns_status ns_volume_save(const ns_volume *v, const char *path, ns_save_type type)
{
    return ns_volume_save_level(v, path, type, 6);
}

ns_status ns_volume_save_level(const ns_volume *v, const char *path, ns_save_type type,
                               int level)
{
    const char *ext = NULL;
    ns_status s = check_args(v, path, type, &ext);
    if (s)
        return s;
    if (level < 1 || level > 12)
        return ns_error(NS_ERR_ARG, "compression level %d outside 1..12 (%s)", level, path);
    int dt = type == NS_SAVE_UINT8 ? NIFTI_TYPE_UINT8 : NIFTI_TYPE_FLOAT32;
    size_t n = v->nvox * v->nvol;
    nifti_image *nim = make_nim(v, dt);
    void *data = type == NS_SAVE_UINT8 ? (void *)to_uint8(v->data, n) : (void *)v->data;
    ns_prefix pre;
    gz_written gzw = {0};
    ns_afile *f = NULL;
    if (!nim || !data)
        s = ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    if (!s)
        s = make_prefix(nim, &pre, path);
    if (!s)
        s = ns_afile_open(path, &f);
    if (!s) {
        FILE *fp = ns_afile_stream(f);
        size_t nbytes = n * (size_t)nim->nbyper;
        s = !strcmp(ext, ".nii") ? write_plain(fp, &pre, data, nbytes)
                                 : write_gz(fp, &pre, data, nbytes, level, path, &gzw);
        if (s == NS_ERR_IO || (!s && fflush(fp) != 0))
            s = ns_error(NS_ERR_IO, "write failed: %s (%s)", strerror(errno), path);
        if (!s)
            s = verify(ns_afile_temp_path(f), path, nim, &gzw);
        if (s)
            ns_afile_abort(f);
        else
            s = ns_afile_commit(f);
    }
    if (data != (void *)v->data)
        free(data);
    nifti_image_free(nim);
    return s;
}
