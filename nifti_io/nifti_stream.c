/* ns_volume_reader: an image one volume at a time, in the memory of one
 * volume. Plain data by pread; gzip by ISA-L streaming inflate, member after
 * member as zlib's gzread reads them, from the file mapped read-only (a
 * window that slides, the pages behind it dropped, so that the memory stays
 * that of a buffer and the kernel copies nothing) or, where it cannot be
 * mapped, from a fixed buffer that read() fills.
 *
 * Header, file checks and messages are ns_volume_load's own functions. When
 * inflating fails (corrupt, truncated, bad trailer), the file is read once
 * more by the zlib path of ns_volume_load only to word the error: both
 * readers then say the same thing about the same broken file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>

#include "nifti_int.h"

enum { IN_SIZE = 1 << 18, SINK_SIZE = 1 << 16, MAP_WINDOW = 1 << 20 };

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

struct ns_volume_reader {
    ns_volume *hdr;            /* what ns_volume_reader_header hands out */
    ns_nii_hdr h;
    char *img_path;            /* the file holding the data */
    int fd;
    int gz;
    int check_end;             /* the last volume also checks the rest of the stream */
    int failed;                /* a read failed: the stream position is lost */
    size_t nvol, next;         /* volumes to hand out, volumes handed out */
    size_t vol_bytes;          /* stored bytes of one volume */
    unsigned char *raw;        /* vol_bytes, NULL when values go straight to dst */
    /* gzip */
    struct inflate_state *inf;
    unsigned char *in;         /* IN_SIZE bytes read from the file */
    unsigned char *map;        /* or the file mapped (map_len bytes), NULL if not */
    size_t map_len, dropped;   /* the pages before dropped are no longer mapped */
    unsigned char *sink;       /* SINK_SIZE bytes of discarded output */
    int eof;                   /* no more input: read() returned 0, or the window
                                * reaches the end of the mapping */
    uint64_t out_total;        /* bytes inflated from all members */
};

/* ------------------------------------------------------------ input */

/* Whether the input holds all it can: refill would add nothing. */
static int input_full(const ns_volume_reader *r)
{
    return r->eof || r->inf->avail_in == (r->map ? MAP_WINDOW : IN_SIZE);
}

/* The mapped input: the window from the first unconsumed byte; the pages
 * wholly behind it leave the process (they stay in the page cache). */
static void slide(ns_volume_reader *r)
{
    struct inflate_state *st = r->inf;
    size_t pos = (size_t)(st->next_in - r->map), page = (size_t)sysconf(_SC_PAGESIZE);
    st->avail_in = (uint32_t)min_size(r->map_len - pos, MAP_WINDOW);
    r->eof = pos + st->avail_in == r->map_len;
    size_t behind = pos / page * page;
    if (behind >= r->dropped + MAP_WINDOW) {
        madvise(r->map + r->dropped, behind - r->dropped, MADV_DONTNEED);
        r->dropped = behind;
    }
}

/* Keeps what inflate has not consumed and makes more available behind it:
 * the mapped window slides, or one read() (a regular file fills the
 * buffer, EOF sets eof). */
static ns_status refill(ns_volume_reader *r)
{
    struct inflate_state *st = r->inf;
    if (r->map) {
        slide(r);
        return NS_OK;
    }
    if (st->avail_in > 0 && st->next_in != r->in)
        memmove(r->in, st->next_in, st->avail_in);
    st->next_in = r->in;
    if (input_full(r))
        return NS_OK;
    ssize_t n;
    do
        n = read(r->fd, r->in + st->avail_in, IN_SIZE - st->avail_in);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return ns_error(NS_ERR_IO, "cannot read image file: %s (%s)", strerror(errno),
                        r->hdr->path);
    r->eof = n == 0;
    st->avail_in += (uint32_t)n;
    return NS_OK;
}

/* Makes at least n bytes available unless the file ends first. */
static ns_status want_input(ns_volume_reader *r, uint32_t n)
{
    ns_status s = NS_OK;
    while (!s && r->inf->avail_in < n && !r->eof)
        s = refill(r);
    return s;
}

/* ------------------------------------------------------------ errors */

static const char *isal_message(int rc)
{
    switch (rc) {
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid lookback distance";
    case ISAL_INVALID_WRAPPER: return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM: return "incorrect checksum";
    default: return "inflate failed";
    }
}

/* Inflating failed (rc < 0), or the stream ended early (rc 0): the zlib
 * path words the error; should zlib accept the file, ISA-L's view stands. */
static ns_status gz_failed(ns_volume_reader *r, int rc)
{
    const char *name = r->hdr->path;
    size_t total = r->vol_bytes * r->nvol;
    ns_status s = ns_nii_gz_read(r->img_path, name, &r->h, NULL, total, r->check_end);
    if (s)
        return s;
    if (rc < 0)
        return ns_error(NS_ERR_FORMAT, "corrupt gzip data: %s (%s)", isal_message(rc), name);
    uint64_t off = (uint64_t)r->h.vox_offset, data = r->out_total > off ? r->out_total - off : 0;
    if (data >= total)
        return ns_error(NS_ERR_FORMAT,
                        "truncated file: the gzip stream ends before its trailer (%s)", name);
    return ns_nii_truncated(total, (size_t)data, name);
}

/* ------------------------------------------------------------ members */

/* After a member's trailer: another member follows when the next two bytes
 * are the gzip magic; anything else is trailing garbage, ignored as gzread
 * ignores it. Returns 1 when a member follows (*s set on a failure). */
static int next_member(ns_volume_reader *r, ns_status *s)
{
    struct inflate_state *st = r->inf;
    if ((*s = want_input(r, 2)))
        return 0;
    if (st->avail_in < 2 || st->next_in[0] != 0x1f || st->next_in[1] != 0x8b)
        return 0;
    if ((*s = want_input(r, 4)))
        return 0;
    if (st->avail_in >= 4 && (st->next_in[3] & 0xe0)) {
        *s = gz_failed(r, ISAL_INVALID_WRAPPER); /* reserved flags: ISA-L ignores them, zlib not */
        return 0;
    }
    isal_inflate_reset(st); /* keeps crc_flag */
    return 1;
}

/* ------------------------------------------------------------ inflate */

/* Inflates len bytes into out (out NULL: into the sink, discarded). len
 * SIZE_MAX: to the end of the stream. */
static ns_status gz_inflate(ns_volume_reader *r, unsigned char *out, size_t len)
{
    struct inflate_state *st = r->inf;
    ns_status s = NS_OK;
    while (len > 0) {
        if (st->block_state == ISAL_BLOCK_FINISH && !next_member(r, &s))
            return s ? s : len == SIZE_MAX ? NS_OK : gz_failed(r, 0);
        if (st->avail_in == 0 && !r->eof && (s = refill(r)))
            return s;
        size_t cap = min_size(len, out ? (size_t)1 << 30 : SINK_SIZE); /* avail_out is 32-bit */
        uint32_t in_before = st->avail_in;
        st->next_out = out ? out : r->sink;
        st->avail_out = (uint32_t)cap;
        int rc = isal_inflate(st);
        size_t got = cap - st->avail_out;
        r->out_total += got;
        if (out)
            out += got;
        if (len != SIZE_MAX)
            len -= got;
        if (rc < 0)
            return gz_failed(r, rc);
        if (got == 0 && st->avail_in == in_before && st->block_state != ISAL_BLOCK_FINISH) {
            /* no progress: the member needs more input than there is */
            if (input_full(r))
                return gz_failed(r, 0);
            if ((s = refill(r)))
                return s;
        }
    }
    return NS_OK;
}

/* ------------------------------------------------------------ open */

/* Maps a regular file larger than a window read-only; r->map stays NULL
 * otherwise (then read() serves: a smaller file gains nothing). */
static void map_input(ns_volume_reader *r)
{
    struct stat sb;
    if (fstat(r->fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= MAP_WINDOW)
        return;
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, r->fd, 0);
    if (m == MAP_FAILED)
        return;
    madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
    r->map = m, r->map_len = (size_t)sb.st_size;
}

static ns_status open_gz(ns_volume_reader *r)
{
    map_input(r);
    r->inf = calloc(1, sizeof *r->inf);
    r->in = r->map ? NULL : malloc(IN_SIZE);
    r->sink = malloc(SINK_SIZE);
    if (!r->inf || !(r->in || r->map) || !r->sink)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", r->hdr->path);
    isal_inflate_init(r->inf);
    r->inf->crc_flag = ISAL_GZIP; /* header parsed, CRC32 and ISIZE checked */
    r->inf->next_in = r->map ? r->map : r->in;
    r->inf->avail_in = 0;
    return gz_inflate(r, NULL, (size_t)r->h.vox_offset); /* into the sink, discarded */
}

/* Everything after the header: the image file, its checks (for the volumes
 * to be read, as ns_volume_load checks them), the buffers. */
static ns_status open_data(ns_volume_reader *r, const ns_nii_paths *p)
{
    const char *name = r->hdr->path;
    ns_status s;
    r->gz = p->img_gz;
    if (p->paired && (s = ns_nii_sniff(p->img_path, name, "image file", &r->gz)))
        return s;
    if (!(r->img_path = strdup(p->img_path)))
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", name);
    r->vol_bytes = r->h.nvox * (size_t)r->h.nbyper;
    if ((s = ns_nii_check_file_holds(r->img_path, name, r->gz, &r->h, r->vol_bytes * r->nvol)))
        return s;
    void *raw = NULL;
    if (!ns_nii_stored_as_float(&r->h) && (s = ns_nii_alloc(r->vol_bytes, name, &raw)))
        return s;
    r->raw = raw;
    r->fd = open(r->img_path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return ns_error(NS_ERR_IO, "cannot open image file: %s (%s)", strerror(errno), name);
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return r->gz ? open_gz(r) : NS_OK;
}

ns_status ns_volume_reader_open(const char *path, const ns_load_opts *opts, ns_volume_reader **out)
{
    *out = NULL;
    ns_volume_reader *r = calloc(1, sizeof *r);
    if (!r)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path ? path : "");
    r->fd = -1;
    ns_nii_paths p;
    ns_status s = ns_nii_open(path, &p, &r->h, &r->hdr);
    if (!s) {
        int first_only = opts && opts->first_volume_only;
        r->nvol = first_only ? 1 : r->h.nvol;
        r->check_end = !first_only; /* as ns_volume_load's first-volume read */
        s = open_data(r, &p);
        ns_nii_paths_free(&p);
    }
    if (s) {
        ns_volume_reader_free(r);
        return s;
    }
    ns_nii_finish(r->hdr, &r->h, opts, path);
    *out = r;
    return NS_OK;
}

/* ------------------------------------------------------------ read */

const ns_volume *ns_volume_reader_header(const ns_volume_reader *r)
{
    return r ? r->hdr : NULL;
}

ns_status ns_volume_reader_next(ns_volume_reader *r, float *dst)
{
    if (!r || !dst)
        return ns_error(NS_ERR_ARG, "no reader or no destination for a volume");
    const char *name = r->hdr->path;
    if (r->failed)
        return ns_error(NS_ERR_ARG, "an earlier volume could not be read (%s)", name);
    if (r->next >= r->nvol)
        return ns_error(NS_ERR_ARG, "all %zu volumes have been read (%s)", r->nvol, name);
    unsigned char *buf = r->raw ? r->raw : (unsigned char *)dst;
    size_t total = r->vol_bytes * r->nvol, before = r->vol_bytes * r->next;
    ns_status s;
    if (!r->gz)
        s = ns_nii_pread(r->fd, buf, r->vol_bytes, (uint64_t)r->h.vox_offset + before, total,
                         before, name);
    else if (!(s = gz_inflate(r, buf, r->vol_bytes)) && r->next + 1 == r->nvol && r->check_end)
        s = gz_inflate(r, NULL, SIZE_MAX);
    if (s) {
        r->failed = 1;
        return s;
    }
    if (r->raw)
        ns_nii_convert(r->raw, dst, r->h.nvox, r->h.datatype, r->h.swapped, r->h.slope,
                       r->h.inter);
    r->next++;
    return NS_OK;
}

void ns_volume_reader_free(ns_volume_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->map)
        munmap(r->map, r->map_len);
    ns_volume_free(r->hdr);
    free(r->img_path);
    free(r->raw);
    free(r->inf);
    free(r->in);
    free(r->sink);
    free(r);
}
