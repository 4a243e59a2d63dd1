/* Finding, reading and validating NIfTI-1/-2 and Analyze headers.
 *
 * We parse the header bytes ourselves and check every field that could make
 * nifticlib misbehave (print to stderr, allocate absurd buffers, read past
 * the data) before nifticlib's conversion routine sees the header. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nifti2_io.h>

#include "nifti_int.h"

/* ------------------------------------------------------------ file names */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcasecmp(s + n - m, suffix);
}

/* base + ext, newly allocated. */
static char *join(const char *s, size_t base_len, const char *ext)
{
    size_t m = strlen(ext);
    char *r = malloc(base_len + m + 1);
    if (r) {
        memcpy(r, s, base_len);
        memcpy(r + base_len, ext, m + 1);
    }
    return r;
}

/* The partner of a pair file: for "x.hdr" the first of x.img, x.img.gz that
 * exists (the same compression first), else the first candidate. */
static char *partner(const char *path, const char *ext1, const char *ext2, const char *ext2gz,
                     int gz)
{
    size_t base = strlen(path) - strlen(ext1);
    char *a = join(path, base, gz ? ext2gz : ext2);
    char *b = join(path, base, gz ? ext2 : ext2gz);
    if (!a || !b || ns_file_exists(a) || !ns_file_exists(b)) {
        free(b);
        return a;
    }
    free(a);
    return b;
}

/* what: "file", "header file" or "image file", for the message. */
ns_status ns_nii_sniff(const char *file, const char *name, const char *what, int *gz)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ns_error(NS_ERR_IO, "cannot open %s: %s (%s)", what, strerror(errno), name);
    struct stat st;
    unsigned char m[2] = {0, 0};
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        return ns_error(NS_ERR_IO, "cannot read %s: not a regular file (%s)", what, name);
    }
    ssize_t r = read(fd, m, 2);
    int err = errno;
    close(fd);
    if (r < 0)
        return ns_error(NS_ERR_IO, "cannot read %s: %s (%s)", what, strerror(err), name);
    *gz = r == 2 && m[0] == 0x1f && m[1] == 0x8b;
    return NS_OK;
}

ns_status ns_nii_paths_resolve(const char *path, ns_nii_paths *p)
{
    memset(p, 0, sizeof *p);
    p->name = path;
    if (has_suffix(path, ".hdr") || has_suffix(path, ".hdr.gz")) {
        int gz = has_suffix(path, ".gz");
        p->paired = 1;
        p->hdr_path = strdup(path);
        p->img_path = partner(path, gz ? ".hdr.gz" : ".hdr", ".img", ".img.gz", gz);
    } else if (has_suffix(path, ".img") || has_suffix(path, ".img.gz")) {
        int gz = has_suffix(path, ".gz");
        p->paired = 1;
        p->img_path = strdup(path);
        p->hdr_path = partner(path, gz ? ".img.gz" : ".img", ".hdr", ".hdr.gz", gz);
    } else {
        p->hdr_path = strdup(path);
        p->img_path = strdup(path);
    }
    if (!p->hdr_path || !p->img_path) {
        ns_nii_paths_free(p);
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    }
    ns_status s = ns_nii_sniff(p->hdr_path, path, p->paired ? "header file" : "file", &p->hdr_gz);
    if (s) {
        ns_nii_paths_free(p);
        return s;
    }
    p->img_gz = p->hdr_gz; /* a pair's image is sniffed when it is read */
    return NS_OK;
}

void ns_nii_paths_free(ns_nii_paths *p)
{
    free(p->hdr_path);
    free(p->img_path);
    p->hdr_path = p->img_path = NULL;
}

/* ------------------------------------------------------------ raw fields */

static uint16_t rd16(const unsigned char *b, size_t off, int sw)
{
    uint16_t v;
    memcpy(&v, b + off, 2);
    return sw ? __builtin_bswap16(v) : v;
}

static uint32_t rd32(const unsigned char *b, size_t off, int sw)
{
    uint32_t v;
    memcpy(&v, b + off, 4);
    return sw ? __builtin_bswap32(v) : v;
}

static uint64_t rd64(const unsigned char *b, size_t off, int sw)
{
    uint64_t v;
    memcpy(&v, b + off, 8);
    return sw ? __builtin_bswap64(v) : v;
}

static double rdf32(const unsigned char *b, size_t off, int sw)
{
    uint32_t u = rd32(b, off, sw);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double rdf64(const unsigned char *b, size_t off, int sw)
{
    uint64_t u = rd64(b, off, sw);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ------------------------------------------------------------ reading */

static ns_status read_prefix_gz(const ns_nii_paths *p, unsigned char *buf, size_t want,
                                size_t *got)
{
    gzFile gz = gzopen(p->hdr_path, "rb");
    if (!gz)
        return ns_error(NS_ERR_IO, "cannot open file: %s (%s)", strerror(errno), p->name);
    int r = gzread(gz, buf, (unsigned)want);
    int zerr = Z_OK;
    const char *msg = gzerror(gz, &zerr);
    const char *colon = msg ? strstr(msg, ": ") : NULL;
    msg = !msg ? "unknown error" : colon ? colon + 2 : msg;
    ns_status s = NS_OK;
    if (r < 0 || zerr == Z_DATA_ERROR)
        s = ns_error(NS_ERR_FORMAT, "corrupt gzip data: %s (%s)", msg, p->name);
    else if (zerr == Z_ERRNO)
        s = ns_error(NS_ERR_IO, "cannot read file: %s (%s)", strerror(errno), p->name);
    else if (zerr == Z_BUF_ERROR && r < 348) /* the stream ends early */
        s = ns_error(NS_ERR_FORMAT, "truncated header: the gzip stream ends after %d bytes (%s)",
                     r, p->name);
    *got = r > 0 ? (size_t)r : 0;
    gzclose(gz);
    return s;
}

static ns_status read_prefix(const ns_nii_paths *p, unsigned char *buf, size_t want, size_t *got)
{
    if (p->hdr_gz)
        return read_prefix_gz(p, buf, want, got);
    int fd = open(p->hdr_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ns_error(NS_ERR_IO, "cannot open file: %s (%s)", strerror(errno), p->name);
    size_t n = 0;
    while (n < want) {
        ssize_t r = read(fd, buf + n, want - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            return ns_error(NS_ERR_IO, "cannot read file: %s (%s)", strerror(err), p->name);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *got = n;
    return NS_OK;
}

/* Decides NIfTI-1 / NIfTI-2 / Analyze and the byte order from sizeof_hdr and
 * the magic. */
static ns_status identify(const ns_nii_paths *p, const unsigned char *b, size_t got, ns_nii_hdr *h)
{
    if (got == 0)
        return ns_error(NS_ERR_FORMAT, "not a NIfTI file: the file is empty (%s)", p->name);
    if (got < 4)
        return ns_error(NS_ERR_FORMAT, "not a NIfTI file: only %zu bytes (%s)", got, p->name);
    uint32_t sz = rd32(b, 0, 0);
    if (sz == 348 || sz == 540) {
        h->swapped = 0;
    } else if (__builtin_bswap32(sz) == 348 || __builtin_bswap32(sz) == 540) {
        h->swapped = 1;
        sz = __builtin_bswap32(sz);
    } else {
        return ns_error(NS_ERR_FORMAT,
                        "not a NIfTI or Analyze file: header size field is %u, expected 348 or "
                        "540 (%s)", sz, p->name);
    }
    h->hdr_size = sz;
    if (got < sz)
        return ns_error(NS_ERR_FORMAT, "truncated header: %zu of %u bytes (%s)", got, sz, p->name);
    if (sz == 540) {
        if (memcmp(b + 4, "n+2", 4) && memcmp(b + 4, "ni2", 4))
            return ns_error(NS_ERR_FORMAT, "not a NIfTI-2 file: bad magic (%s)", p->name);
        h->format = NS_FMT_NIFTI2;
    } else if (!memcmp(b + 344, "n+1", 4) || !memcmp(b + 344, "ni1", 4)) {
        h->format = NS_FMT_NIFTI1;
    } else if (p->paired) {
        h->format = NS_FMT_ANALYZE;
    } else {
        return ns_error(NS_ERR_FORMAT, "not a NIfTI-1 file: bad magic (%s)", p->name);
    }
    return NS_OK;
}

static void read_fields_v1(const unsigned char *b, ns_nii_hdr *h)
{
    int sw = h->swapped;
    h->dim[0] = (int16_t)rd16(b, 40, sw);
    for (int i = 1; i < 8; i++)
        h->dim[i] = (int16_t)rd16(b, 40 + 2 * (size_t)i, sw);
    h->datatype = (int16_t)rd16(b, 70, sw);
    for (int i = 0; i < 8; i++)
        h->pixdim[i] = rdf32(b, 76 + 4 * (size_t)i, sw);
    double vox = rdf32(b, 108, sw);
    h->vox_offset = isfinite(vox) && vox >= 0 && vox < 9e18 ? (int64_t)vox : -1;
    h->scl_slope = rdf32(b, 112, sw);
    h->scl_inter = rdf32(b, 116, sw);
    h->xyzt_units = b[123];
    if (h->format == NS_FMT_NIFTI1) {
        h->qform_code = (int16_t)rd16(b, 252, sw);
        h->sform_code = (int16_t)rd16(b, 254, sw);
    }
}

static void read_fields_v2(const unsigned char *b, ns_nii_hdr *h)
{
    int sw = h->swapped;
    h->datatype = (int16_t)rd16(b, 12, sw);
    for (int i = 0; i < 8; i++)
        h->dim[i] = (int64_t)rd64(b, 16 + 8 * (size_t)i, sw);
    for (int i = 0; i < 8; i++)
        h->pixdim[i] = rdf64(b, 104 + 8 * (size_t)i, sw);
    h->vox_offset = (int64_t)rd64(b, 168, sw);
    h->scl_slope = rdf64(b, 176, sw);
    h->scl_inter = rdf64(b, 184, sw);
    h->qform_code = (int32_t)rd32(b, 344, sw);
    h->sform_code = (int32_t)rd32(b, 348, sw);
    h->xyzt_units = (int32_t)rd32(b, 500, sw);
}

/* Scaling as nibabel reads it: NIfTI uses a finite non-zero slope (a
 * non-finite intercept counts as 0); Analyze follows SPM2 (funused1/2, else
 * the glmax/glmin vs cal_max/cal_min ranges). */
static void decide_scaling(const unsigned char *b, ns_nii_hdr *h)
{
    h->slope = 0;
    h->inter = 0;
    if (isfinite(h->scl_slope) && h->scl_slope != 0) {
        h->slope = h->scl_slope;
        h->inter = isfinite(h->scl_inter) ? h->scl_inter : 0;
        return;
    }
    if (h->format != NS_FMT_ANALYZE)
        return;
    double glmax = (int32_t)rd32(b, 140, h->swapped), glmin = (int32_t)rd32(b, 144, h->swapped);
    double cmax = rdf32(b, 124, h->swapped), cmin = rdf32(b, 128, h->swapped);
    if (glmax - glmin != 0 && cmax - cmin != 0 && isfinite(cmax - cmin)) {
        h->slope = (cmax - cmin) / (glmax - glmin);
        h->inter = cmin - h->slope * glmin;
    }
}

static ns_status check_datatype(const ns_nii_hdr *h, const char *name)
{
    int dt = h->datatype;
    if (ns_nii_datatype_size(dt))
        return NS_OK;
    const char *dn = ns_nii_datatype_name(dt);
    if (dt == NIFTI_TYPE_COMPLEX64 || dt == NIFTI_TYPE_COMPLEX128 || dt == NIFTI_TYPE_COMPLEX256)
        return ns_error(NS_ERR_UNSUPPORTED, "unsupported datatype %s: complex data cannot be "
                        "read as real volumes (%s)", dn, name);
    if (dt == NIFTI_TYPE_RGB24 || dt == NIFTI_TYPE_RGBA32)
        return ns_error(NS_ERR_UNSUPPORTED, "unsupported datatype %s: colour data cannot be "
                        "read as real volumes (%s)", dn, name);
    if (dn)
        return ns_error(NS_ERR_UNSUPPORTED, "unsupported datatype %s (code %d) (%s)", dn, dt, name);
    return ns_error(NS_ERR_FORMAT, "unknown datatype code %d (%s)", dt, name);
}

static ns_status check_dims(ns_nii_hdr *h, const char *name)
{
    if (h->dim[0] < 1 || h->dim[0] > 7)
        return ns_error(NS_ERR_FORMAT, "dim[0] is %lld, must be 1..7 (%s)", (long long)h->dim[0],
                        name);
    for (int i = 1; i <= h->dim[0]; i++)
        if (h->dim[i] <= 0)
            return ns_error(NS_ERR_FORMAT, "dim[%d] is %lld, must be positive (%s)", i,
                            (long long)h->dim[i], name);
    for (int i = (int)h->dim[0] + 1; i < 8; i++)
        h->dim[i] = 1;
    size_t nvox = 1, nvol = 1, total;
    for (int i = 1; i < 8; i++) {
        size_t *acc = i <= 3 ? &nvox : &nvol;
        if (!ns_mul_size(*acc, (size_t)h->dim[i], acc))
            return ns_error(NS_ERR_NOMEM, "image size overflows: dims are too large (%s)", name);
    }
    if (!ns_mul_size(nvox, nvol, &total) || !ns_mul_size(total, 8, &total))
        return ns_error(NS_ERR_NOMEM, "image size overflows: dims are too large (%s)", name);
    h->nvox = nvox;
    h->nvol = nvol;
    return NS_OK;
}

static ns_status check_offset(const ns_nii_paths *p, ns_nii_hdr *h)
{
    if (h->vox_offset < 0)
        return ns_error(NS_ERR_FORMAT, "invalid vox_offset in the header (%s)", p->name);
    /* nibabel and nifticlib read a single file's data no earlier than right
     * after the header and its 4-byte extension flag. */
    int64_t min_off = p->paired ? 0 : (int64_t)h->hdr_size + 4;
    if (h->vox_offset < min_off)
        h->vox_offset = min_off;
    return NS_OK;
}

ns_status ns_nii_header_read(const ns_nii_paths *p, ns_nii_hdr *h)
{
    memset(h, 0, sizeof *h);
    size_t got = 0;
    ns_status s = read_prefix(p, h->raw, sizeof h->raw, &got);
    if (s)
        return s;
    if ((s = identify(p, h->raw, got, h)))
        return s;
    if (h->format == NS_FMT_NIFTI2)
        read_fields_v2(h->raw, h);
    else
        read_fields_v1(h->raw, h);
    if ((s = check_dims(h, p->name)) || (s = check_datatype(h, p->name)) ||
        (s = check_offset(p, h)))
        return s;
    h->nbyper = ns_nii_datatype_size(h->datatype);
    decide_scaling(h->raw, h);
    return NS_OK;
}
