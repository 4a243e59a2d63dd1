/* Saving float32 / uint8 volumes through nifticlib, atomically.
 *
 * Debian's nifticlib 3.0.1 has no nifti_image_write_status: its
 * nifti_image_write returns void and a failed write goes unnoticed. So we
 * write under a temporary name in the destination directory, verify the
 * result ourselves (header, size, and for .gz a complete CRC-checked
 * inflate), and only then rename it into place. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>
#include <nifti2_io.h>

#include "nifti_int.h"

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcasecmp(s + n - m, suffix);
}

/* "dir/.name.XXXXXX.nii.gz": same directory (rename stays atomic), same
 * extension (nifticlib decides compression by the name). */
static ns_status make_temp(const char *path, const char *ext, char **tmp)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dlen;
    size_t blen = strlen(base) - strlen(ext);
    size_t len = dlen + 1 + blen + 8 + strlen(ext) + 1;
    char *t = malloc(len);
    if (!t)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    snprintf(t, len, "%.*s.%.*s.XXXXXX%s", (int)dlen, path, (int)blen, base, ext);
    int fd = mkostemps(t, (int)strlen(ext), O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(t);
        return ns_error(NS_ERR_IO, "cannot create a file beside the output: %s (%s)",
                        strerror(err), path);
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    close(fd);
    *tmp = t;
    return NS_OK;
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

/* Inflates the whole .gz with libdeflate: checks every CRC and the size. */
static int gz_complete(const char *tmp, size_t want)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return 0;
    int ok = 0;
    if (fstat(fd, &st) == 0 && st.st_size >= 18) {
        void *in = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        void *out = malloc(want ? want : 1);
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
        size_t used = 0, got = 0;
        ok = in != MAP_FAILED && out && d &&
             libdeflate_gzip_decompress_ex(d, in, (size_t)st.st_size, out, want, &used, &got) ==
                 LIBDEFLATE_SUCCESS &&
             got == want && used == (size_t)st.st_size;
        libdeflate_free_decompressor(d);
        free(out);
        if (in != MAP_FAILED)
            munmap(in, (size_t)st.st_size);
    }
    close(fd);
    return ok;
}

/* Re-reads what nifticlib wrote: our own header validation, the same dims
 * and datatype, and the exact byte count. */
static ns_status verify(const char *tmp, const char *path, const nifti_image *nim)
{
    ns_nii_paths p;
    ns_nii_hdr h;
    ns_status s = ns_nii_paths_resolve(tmp, &p);
    if (!s)
        s = ns_nii_header_read(&p, &h);
    int gz = !s && p.hdr_gz;
    ns_nii_paths_free(&p);
    if (s)
        return ns_error(NS_ERR_IO, "write failed: %s (%s)", ns_last_error(), path);
    for (int i = 0; i <= nim->dim[0]; i++)
        if (h.dim[i] != nim->dim[i])
            return ns_error(NS_ERR_IO, "write failed: dims differ on re-reading (%s)", path);
    size_t want = (size_t)h.vox_offset + (size_t)nim->nvox * (size_t)nim->nbyper;
    struct stat st;
    if (h.datatype != nim->datatype || stat(tmp, &st) != 0)
        return ns_error(NS_ERR_IO, "write failed: header differs on re-reading (%s)", path);
    if (gz ? !gz_complete(tmp, want) : (size_t)st.st_size != want)
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

ns_status ns_volume_save(const ns_volume *v, const char *path, ns_save_type type)
{
    const char *ext = NULL;
    ns_status s = check_args(v, path, type, &ext);
    if (s)
        return s;
    int dt = type == NS_SAVE_UINT8 ? NIFTI_TYPE_UINT8 : NIFTI_TYPE_FLOAT32;
    nifti_image *nim = make_nim(v, dt);
    void *data = type == NS_SAVE_UINT8 ? (void *)to_uint8(v->data, v->nvox * v->nvol)
                                       : (void *)v->data;
    char *tmp = NULL;
    if (!nim || !data)
        s = ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    else
        s = make_temp(path, ext, &tmp);
    if (!s) {
        nim->fname = strdup(tmp);
        nim->iname = strdup(tmp);
        nim->data = data;
        if (!nim->fname || !nim->iname)
            s = ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
        else
            nifti_image_write(nim); /* void in 3.0.1: verified below */
        nim->data = NULL;
        if (!s)
            s = verify(tmp, path, nim);
        if (!s)
            s = ns_rename_into_place(tmp, path);
        if (s)
            unlink(tmp);
    }
    if (data != (void *)v->data)
        free(data);
    nifti_image_free(nim);
    free(tmp);
    return s;
}
