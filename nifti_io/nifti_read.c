/* Reading the data: plain files, whole-member libdeflate inflation for
 * .gz, zlib streaming as fallback (multi-member files, trailing data,
 * corrupt or truncated streams, first-volume reads, zlib_only).
 *
 * Every path reads the stored values into ONE buffer big enough for the
 * float32 result, placed so that the in-place conversion never overwrites
 * values it has not read yet: types narrower than float sit at the end of
 * the buffer, the others at its start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>
#include <nifti1.h>
#include <zlib.h>

#include "nifti_int.h"

typedef struct {
    unsigned char *buf; /* cap bytes: float32 output, raw values inside */
    size_t cap;
    size_t raw_off;     /* where the stored values start in buf */
    size_t prefix;      /* bytes before raw_off that the reader may fill too */
    size_t nbytes;      /* stored bytes */
    size_t n;           /* values */
} ns_plan;

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* A number from a one-line file (cgroup limits); 0 when absent or "max". */
static unsigned long long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

/* What the kernel says we can still get: MemAvailable + free swap, capped
 * by a cgroup v2 memory limit (containers), where exceeding it would mean
 * the OOM killer rather than a failed malloc. */
size_t ns_nii_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long long avail = 0, swap = 0, kb;
    char line[256];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            avail = kb;
            found = 1;
        } else if (sscanf(line, "SwapFree: %llu kB", &kb) == 1) {
            swap = kb;
        }
    }
    if (f)
        fclose(f);
    unsigned long long bytes = (avail + swap) * 1024ull;
    if (!found) {
        long pages = sysconf(_SC_AVPHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        bytes = pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize
                                       : ULLONG_MAX;
    }
    unsigned long long limit = read_number("/sys/fs/cgroup/memory.max");
    if (limit > 0) {
        unsigned long long used = read_number("/sys/fs/cgroup/memory.current");
        unsigned long long left = limit > used ? limit - used : 0;
        bytes = left < bytes ? left : bytes;
    }
    return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

/* Plain files by their size, gzip files by deflate's largest ratio
 * (1032:1): a 2 KB file claiming 10 GB costs nothing then. */
ns_status ns_nii_check_file_holds(const char *file, const char *name, int gz, const ns_nii_hdr *h,
                                  size_t nbytes)
{
    struct stat st;
    if (stat(file, &st) != 0)
        return ns_error(NS_ERR_IO, "cannot stat image file: %s (%s)", strerror(errno), name);
    uint64_t size = (uint64_t)st.st_size, off = gz ? 0 : (uint64_t)h->vox_offset;
    if (!gz && size < off)
        return ns_error(NS_ERR_FORMAT, "vox_offset %lld is beyond the end of the file (%lld bytes) (%s)",
                        (long long)h->vox_offset, (long long)st.st_size, name);
    if (!gz && size - off < nbytes)
        return ns_nii_truncated(nbytes, (size_t)(size - off), name);
    if (gz && nbytes / 1032 > size + 1024)
        return ns_error(NS_ERR_FORMAT,
                        "truncated file: %llu compressed bytes cannot hold the %zu data bytes the header "
                        "declares (%s)", (unsigned long long)size, nbytes, name);
    return NS_OK;
}

/* prefix: bytes preceding the values that the reader writes as well (the
 * gzip fast path inflates header + extensions + values in one go). */
static ns_status plan_alloc(ns_plan *pl, const ns_nii_hdr *h, size_t n, size_t prefix,
                            const char *name, const char *file, int gz)
{
    pl->n = n;
    pl->nbytes = n * (size_t)h->nbyper; /* validated: fits */
    pl->prefix = prefix;
    pl->cap = max_size(n * sizeof(float), prefix + pl->nbytes);
    pl->raw_off = h->nbyper < 4 ? pl->cap - pl->nbytes : prefix;
    pl->buf = NULL;
    /* the file first: a short file that claims a huge image is truncated,
     * whatever the memory */
    void *buf = NULL;
    ns_status s = ns_nii_check_file_holds(file, name, gz, h, pl->nbytes);
    if (s || (s = ns_nii_alloc(pl->cap, name, &buf)))
        return s;
    pl->buf = buf;
    ns_advise_huge(pl->buf, pl->cap); /* a volume faulted in 4 KiB pages: ~25 ms of kernel time */
    return NS_OK;
}

ns_status ns_nii_alloc(size_t size, const char *name, void **out)
{
    *out = NULL;
    size_t avail = ns_nii_mem_available();
    if (size > avail)
        return ns_error(NS_ERR_NOMEM,
                        "not enough memory: the image needs %.3g GB, %.3g GB are available (%s)",
                        (double)size / 1e9, (double)avail / 1e9, name);
    *out = malloc(size ? size : 1);
    if (!*out)
        return ns_error(NS_ERR_NOMEM, "out of memory: cannot allocate %zu bytes (%s)", size, name);
    return NS_OK;
}

/* In-place conversion in chunks that go through a small scratch buffer, so
 * that each chunk is read completely before its float32 output is written. */
static float *plan_finish(ns_plan *pl, const ns_nii_hdr *h)
{
    float *dst = (float *)pl->buf;
    const unsigned char *raw = pl->buf + pl->raw_off;
    if (ns_nii_stored_as_float(h)) {
        if (pl->raw_off)
            memmove(dst, raw, pl->nbytes);
    } else {
        enum { CHUNK = 8192 };
        _Alignas(64) unsigned char scratch[CHUNK * 8];
        for (size_t i = 0; i < pl->n; i += CHUNK) {
            size_t m = pl->n - i < CHUNK ? pl->n - i : CHUNK;
            memcpy(scratch, raw + i * (size_t)h->nbyper, m * (size_t)h->nbyper);
            ns_nii_convert(scratch, dst + i, m, h->datatype, h->swapped, h->slope, h->inter);
        }
    }
    size_t want = pl->n * sizeof(float);
    if (want < pl->cap && want > 0) {
        float *shrunk = realloc(dst, want);
        if (shrunk)
            dst = shrunk;
    }
    pl->buf = NULL;
    return dst;
}

ns_status ns_nii_truncated(size_t expected, size_t found, const char *name)
{
    return ns_error(NS_ERR_FORMAT, "truncated file: expected %zu data bytes, found %zu (%s)",
                    expected, found, name);
}

/* ------------------------------------------------------------ plain */

static ns_status read_plain(const char *file, const char *name, const ns_nii_hdr *h,
                            ns_plan *pl)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ns_error(NS_ERR_IO, "cannot open image file: %s (%s)", strerror(errno), name);
    struct stat st;
    ns_status s = NS_OK;
    if (fstat(fd, &st) != 0) {
        s = ns_error(NS_ERR_IO, "cannot stat image file: %s (%s)", strerror(errno), name);
    } else if (st.st_size < h->vox_offset) {
        s = ns_error(NS_ERR_FORMAT, "vox_offset %lld is beyond the end of the file (%lld bytes) (%s)",
                     (long long)h->vox_offset, (long long)st.st_size, name);
    } else if ((uint64_t)(st.st_size - h->vox_offset) < pl->nbytes) {
        s = ns_nii_truncated(pl->nbytes, (size_t)(st.st_size - h->vox_offset), name);
    }
    if (!s)
        s = ns_nii_pread(fd, pl->buf + pl->raw_off, pl->nbytes, (uint64_t)h->vox_offset, pl->nbytes,
                         0, name);
    close(fd);
    return s;
}

ns_status ns_nii_pread(int fd, void *buf, size_t len, uint64_t off, size_t total, size_t before,
                       const char *name)
{
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < (1u << 30) ? len - done : (1u << 30);
        ssize_t r = pread(fd, (unsigned char *)buf + done, want, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ns_error(NS_ERR_IO, "cannot read image file: %s (%s)", strerror(errno), name);
        if (r == 0) /* shrank since it was checked */
            return ns_nii_truncated(total, before + done, name);
        done += (size_t)r;
    }
    return NS_OK;
}

/* ------------------------------------------------------------ zlib */

enum { GZ_TAIL = 1 << 16 }; /* below twice gzbuffer's size: zlib's own buffer */

/* Reads exactly len bytes (or fewer at the end of the stream) into dst;
 * dst NULL discards them. Returns the count, or -1 on a zlib error. The
 * last GZ_TAIL bytes go through zlib's buffer: a read straight into dst
 * that ends with the data does not look on into the trailer, so a trailer
 * cut short would go unnoticed (zlib 1.2.13). */
static long long gz_read_all(gzFile gz, unsigned char *dst, size_t len)
{
    unsigned char sink[65536];
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        if (!dst && want > sizeof sink)
            want = sizeof sink;
        if (want > (1u << 30))
            want = 1u << 30;
        if (dst && want == len - done && want > GZ_TAIL)
            want -= GZ_TAIL;
        int r = gzread(gz, dst ? dst + done : sink, (unsigned)want);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (long long)done;
}

/* zlib's own message without the "path: " it prepends. */
static const char *gz_message(gzFile gz, int *zerr)
{
    const char *msg = gzerror(gz, zerr);
    const char *colon = msg ? strstr(msg, ": ") : NULL;
    return !msg ? "unknown error" : colon ? colon + 2 : msg;
}

static ns_status gz_failure(gzFile gz, size_t expected, size_t found, const char *name)
{
    int zerr = Z_OK;
    const char *msg = gz_message(gz, &zerr);
    if (zerr == Z_DATA_ERROR)
        return ns_error(NS_ERR_FORMAT, "corrupt gzip data: %s (%s)", msg, name);
    if (zerr == Z_ERRNO)
        return ns_error(NS_ERR_IO, "cannot read image file: %s (%s)", strerror(errno), name);
    if (zerr == Z_MEM_ERROR)
        return ns_error(NS_ERR_NOMEM, "out of memory while inflating (%s)", name);
    return ns_nii_truncated(expected, found, name);
}

/* After the data: the rest of the stream must end properly, so that a
 * missing gzip trailer or a bad CRC is not silently accepted. */
static ns_status gz_drain(gzFile gz, size_t nbytes, const char *name)
{
    if (gz_read_all(gz, NULL, SIZE_MAX) >= 0) {
        int zerr = Z_OK;
        gz_message(gz, &zerr);
        if (zerr == Z_OK)
            return NS_OK;
        if (zerr == Z_BUF_ERROR)
            return ns_error(NS_ERR_FORMAT,
                            "truncated file: the gzip stream ends before its trailer (%s)", name);
    }
    return gz_failure(gz, nbytes, nbytes, name);
}

/* whole: the caller wants all the data, so the stream is also checked to
 * its end (trailer, CRC); a first-volume read stops early. */
ns_status ns_nii_gz_read(const char *file, const char *name, const ns_nii_hdr *h,
                         unsigned char *dst, size_t nbytes, int whole)
{
    gzFile gz = gzopen(file, "rb");
    if (!gz)
        return ns_error(NS_ERR_IO, "cannot open image file: %s (%s)", strerror(errno), name);
    gzbuffer(gz, 1u << 18);
    ns_status s = NS_OK;
    long long skipped = gz_read_all(gz, NULL, (size_t)h->vox_offset);
    if (skipped < 0)
        s = gz_failure(gz, nbytes, 0, name);
    else if (skipped < h->vox_offset)
        s = ns_error(NS_ERR_FORMAT,
                     "vox_offset %lld is beyond the end of the data (%lld bytes uncompressed) (%s)",
                     (long long)h->vox_offset, skipped, name);
    if (!s) {
        long long got = gz_read_all(gz, dst, nbytes);
        if (got < 0 || (size_t)got < nbytes)
            s = gz_failure(gz, nbytes, got < 0 ? 0 : (size_t)got, name);
        else if (whole)
            s = gz_drain(gz, nbytes, name);
    }
    gzclose(gz);
    return s;
}

/* ------------------------------------------------------------ libdeflate */

/* Whole-member inflation of header + values straight into the plan's
 * buffer. Returns 1 when it succeeded, 0 when the caller should fall back
 * to zlib streaming (which also produces the precise error message). */
static int read_gz_fast(const char *file, const ns_nii_hdr *h, ns_plan *pl)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 18) {
        close(fd);
        return 0;
    }
    size_t in_len = (size_t)st.st_size;
    unsigned char *in = mmap(NULL, in_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (in == MAP_FAILED)
        return 0;
    /* The gzip trailer's ISIZE (mod 2^32) must match what the header's dims
     * promise; anything else (multi-member, trailing bytes, truncation)
     * goes the streaming way. */
    size_t want = (size_t)h->vox_offset + pl->nbytes;
    uint32_t isize = (uint32_t)in[in_len - 4] | (uint32_t)in[in_len - 3] << 8 |
                     (uint32_t)in[in_len - 2] << 16 | (uint32_t)in[in_len - 1] << 24;
    int ok = 0;
    struct libdeflate_decompressor *d = NULL;
    if (isize == (uint32_t)want && (d = libdeflate_alloc_decompressor())) {
        unsigned char *out = pl->buf + pl->raw_off - (size_t)h->vox_offset;
        const unsigned char *p = in;
        size_t left = in_len, out_left = want;
        while (out_left > 0 && left >= 18) {
            size_t used = 0, produced = 0;
            if (libdeflate_gzip_decompress_ex(d, p, left, out, out_left, &used, &produced) !=
                LIBDEFLATE_SUCCESS)
                break;
            p += used;
            left -= used;
            out += produced;
            out_left -= produced;
        }
        ok = out_left == 0;
        libdeflate_free_decompressor(d);
    }
    munmap(in, in_len);
    return ok;
}

/* ------------------------------------------------------------ entry */

ns_status ns_nii_read_data(const ns_nii_paths *p, const ns_nii_hdr *h, size_t nvalues,
                           int zlib_only, float **out)
{
    *out = NULL;
    int gz = p->img_gz;
    ns_status s;
    if (p->paired && (s = ns_nii_sniff(p->img_path, p->name, "image file", &gz)))
        return s;
    int whole = nvalues == h->nvox * h->nvol;
    /* A huge vox_offset (extensions) would inflate into a huge buffer: the
     * streaming path skips those bytes instead. */
    int fast = gz && !zlib_only && whole && h->vox_offset <= (1 << 24);
    ns_plan pl;
    if ((s = plan_alloc(&pl, h, nvalues, fast ? (size_t)h->vox_offset : 0, p->name, p->img_path, gz)))
        return s;
    if (!gz)
        s = read_plain(p->img_path, p->name, h, &pl);
    else if (!fast || !read_gz_fast(p->img_path, h, &pl))
        s = ns_nii_gz_read(p->img_path, p->name, h, pl.buf + pl.raw_off, pl.nbytes,
                           whole);
    if (s) {
        free(pl.buf);
        return s;
    }
    *out = plan_finish(&pl, h);
    return NS_OK;
}
