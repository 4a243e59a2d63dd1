/* Numeric TSV in and out, fast: timecourse and confound tables are read
 * straight into doubles, relmats written with a fixed-point formatter
 * (printf's %g costs more than the whole FNC computation). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

void ns_fnc_table_free(ns_fnc_table *t)
{
    if (!t)
        return;
    for (size_t j = 0; j < t->ncols; j++)
        free(t->header[j]);
    free(t->header);
    free(t->x);
    free(t);
}

/* Number of tab-separated fields in the line [p, end). */
static size_t count_fields(const char *p, const char *end)
{
    size_t n = 1;
    for (; p < end; p++)
        n += *p == '\t';
    return n;
}

static const char *line_end(const char *p)
{
    const char *e = strchr(p, '\n');
    return e ? e : p + strlen(p);
}

static ns_status parse_header(ns_fnc_table *t, const char *p, const char *end, const char *path)
{
    if (end > p && end[-1] == '\r')
        end--;
    t->ncols = count_fields(p, end);
    if (!(t->header = ns_calloc(t->ncols, sizeof(char *))))
        return NS_ERR_NOMEM;
    for (size_t j = 0; j < t->ncols; j++) {
        const char *q = memchr(p, '\t', (size_t)(end - p));
        if (!q)
            q = end;
        if (!(t->header[j] = strndup(p, (size_t)(q - p))))
            return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
        p = q + 1;
    }
    return NS_OK;
}

/* A decimal number at p (before end) by Clinger's fast path: a
 * significand of at most 15 digits and a power of ten of at most 22 give
 * one correctly rounded operation, the same double strtod returns. Returns
 * where the number stops, or NULL when the text needs strtod (or is not a
 * number). */
static const char *parse_fast(const char *p, const char *end, double *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int neg = 0, nd = 0, any = 0, e10 = 0;
    uint64_t m = 0;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    for (; p < end && *p >= '0' && *p <= '9'; p++, any = 1)
        if (m || *p != '0') {
            m = m * 10 + (uint64_t)(*p - '0');
            nd++;
        }
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, any = 1, e10--)
            if (m || *p != '0') {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            }
    if (!any || nd > 15)
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ev = 0, edig = 0;
        p++;
        if (p < end && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9' && ev < 10000; p++, edig = 1)
            ev = ev * 10 + (*p - '0');
        if (!edig)
            return NULL;
        e10 += eneg ? -ev : ev;
    }
    if (e10 < -22 || e10 > 22)
        return NULL;
    double v = (double)m;
    v = e10 < 0 ? v / p10[-e10] : v * p10[e10];
    *out = neg ? -v : v;
    return p;
}

/* One cell the slow way: [p, q) is empty, n/a or a number strtod reads
 * to its end. */
static ns_status parse_slow(const char *p, const char *q, double *v, const char *path,
                            size_t lineno, size_t col)
{
    const char *cell_end = (q > p && q[-1] == '\r') ? q - 1 : q;
    if (cell_end == p || (cell_end - p == 3 && !memcmp(p, "n/a", 3))) {
        *v = NAN;
        return NS_OK;
    }
    char *stop;
    errno = 0;
    *v = strtod(p, &stop);
    if (stop != cell_end)
        return ns_error(NS_ERR_FORMAT, "line %zu, column %zu is not a number (%s)", lineno, col,
                        path);
    return NS_OK;
}

/* Parses one data line into row (ncols values): one pass over the text
 * when every cell takes the fast path. */
static ns_status parse_row(const char *p, const char *end, double *row, size_t ncols,
                           const char *path, size_t lineno)
{
    for (size_t j = 0; j < ncols; j++) {
        const char *q = parse_fast(p, end, &row[j]);
        if (q && q < end && *q == '\r' && q + 1 == end)
            q++;
        if (!q || (q < end && *q != '\t')) { /* not a plain number: find the cell's end */
            for (q = p; q < end && *q != '\t';)
                q++;
            ns_status st = parse_slow(p, q, &row[j], path, lineno, j + 1);
            if (st)
                return st;
        }
        if (q == end && j + 1 < ncols)
            return ns_error(NS_ERR_FORMAT, "line %zu has %zu cells, expected %zu (%s)", lineno,
                            j + 1, ncols, path);
        p = q + 1;
    }
    if (p <= end)
        return ns_error(NS_ERR_FORMAT, "line %zu has more than %zu cells (%s)", lineno, ncols,
                        path);
    return NS_OK;
}

ns_status ns_fnc_table_read(const char *path, ns_fnc_table **out)
{
    *out = NULL;
    char *buf;
    size_t len;
    ns_status st = ns_read_file(path, &buf, &len);
    if (st)
        return st;
    ns_fnc_table *t = ns_calloc(1, sizeof *t);
    if (!t) {
        free(buf);
        return NS_ERR_NOMEM;
    }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    const char *p = buf, *e = line_end(p);
    if (len == 0 || e == p) {
        st = ns_error(NS_ERR_FORMAT, "empty table (%s)", path);
        goto fail;
    }
    if ((st = parse_header(t, p, e, path)))
        goto fail;
    if (!(t->x = ns_alloc((lines + 1) * t->ncols, sizeof(double)))) {
        st = NS_ERR_NOMEM;
        goto fail;
    }
    for (size_t lineno = 2; *e; lineno++) {
        p = e + 1;
        e = line_end(p);
        if (e == p || (e - p == 1 && *p == '\r'))
            continue; /* blank line (usually the last) */
        if ((st = parse_row(p, e, t->x + t->nrows * t->ncols, t->ncols, path, lineno)))
            goto fail;
        t->nrows++;
    }
    free(buf);
    *out = t;
    return NS_OK;
fail:
    free(buf);
    ns_fnc_table_free(t);
    return st;
}

static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* Writes n right-aligned digits of v (zero-padded) ending at end. */
static inline void put_digits(char *end, uint32_t v, int n)
{
    while (n >= 2) {
        uint32_t r = v % 100;
        v /= 100;
        end -= 2;
        end[0] = digits2[2 * r];
        end[1] = digits2[2 * r + 1];
        n -= 2;
    }
    if (n)
        end[-1] = (char)('0' + v % 10);
}

static int count_digits(uint64_t v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* The formatter; inline so that the table writers avoid a call per cell. */
static inline int format_fixed(char *buf, double v, int decimals)
{
    static const uint32_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                   100000000, 1000000000};
    if (isnan(v)) {
        memcpy(buf, "n/a", 4);
        return 3;
    }
    decimals = decimals < 0 ? 0 : (decimals > 9 ? 9 : decimals);
    double a = fabs(v) * p10[decimals];
    if (!(a < 4e15)) /* inf or too large for the integer path */
        return snprintf(buf, 32, "%.17g", v);
    uint64_t q = (uint64_t)(a + 0.5); /* round half away from zero */
    uint64_t ip = q / p10[decimals];
    uint32_t fp = (uint32_t)(q % p10[decimals]);
    int o = 0;
    if (v < 0 && q)
        buf[o++] = '-';
    if (ip < 10) { /* the usual case for correlations and Fisher z */
        buf[o++] = (char)('0' + ip);
    } else {
        int nd = count_digits(ip);
        if (ip < 4294967296u) {
            put_digits(buf + o + nd, (uint32_t)ip, nd);
        } else {
            put_digits(buf + o + nd, (uint32_t)(ip % 1000000000u), 9);
            put_digits(buf + o + nd - 9, (uint32_t)(ip / 1000000000u), nd - 9);
        }
        o += nd;
    }
    if (decimals) {
        buf[o++] = '.';
        put_digits(buf + o + decimals, fp, decimals);
        o += decimals;
    }
    buf[o] = '\0';
    return o;
}

int ns_fnc_format_fixed(char *buf, double v, int decimals)
{
    return format_fixed(buf, v, decimals);
}

int ns_fnc__format_line(char *line, const double *x, size_t n, int decimals)
{
    size_t o = 0;
    for (size_t j = 0; j < n; j++) {
        line[o++] = '\t';
        o += (size_t)format_fixed(line + o, x[j], decimals);
    }
    line[o++] = '\n';
    return (int)o;
}

/* Opens path atomically and writes the header: label, then the names. */
static ns_status open_labelled(const char *path, const char *label, const char *const *names,
                               size_t n, ns_afile **out)
{
    ns_status st = ns_afile_open(path, out);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(*out);
    fputs(label, fp);
    for (size_t j = 0; j < n; j++) {
        fputc('\t', fp);
        fputs(names[j], fp);
    }
    fputc('\n', fp);
    return NS_OK;
}

ns_status ns_fnc_write_labelled(const char *path, const double *x, size_t rows, size_t cols,
                                const char *label, const char *const *row_names,
                                const char *const *col_names, int decimals)
{
    ns_afile *f;
    ns_status st = open_labelled(path, label, col_names, cols, &f);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(f);
    char *line = malloc(cols * 34 + 2);
    if (!line) {
        ns_afile_abort(f);
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    }
    for (size_t i = 0; i < rows; i++) {
        size_t o = (size_t)ns_fnc__format_line(line, x + i * cols, cols, decimals);
        fputs(row_names[i], fp);
        fwrite(line, 1, o, fp);
    }
    free(line);
    return ns_afile_commit(f);
}

/* Longest text format_fixed writes (snprintf's "%.17g" of a double), and
 * the room snprintf is given. */
#define SYMFMT_CELL 24
#define SYMFMT_SLACK 32

ns_status ns_fnc__symfmt_init(ns_fnc__symfmt *f, size_t K)
{
    *f = (ns_fnc__symfmt){.K = K};
    size_t cells = K * (K + 1) / 2;
    if (cells * SYMFMT_CELL + SYMFMT_SLACK > UINT32_MAX)
        return ns_error(NS_ERR_ARG, "too many components to format (%zu)", K);
    f->pool = ns_calloc(cells * SYMFMT_CELL + SYMFMT_SLACK, 1);
    f->line = ns_alloc(K * (SYMFMT_CELL + 1) + SYMFMT_SLACK, 1);
    size_t kk = K * K > 0 ? K * K : 1;
    f->off = ns_alloc(kk, sizeof(uint32_t));
    f->len = ns_alloc(kk, 1);
    if (!f->pool || !f->line || !f->off || !f->len) {
        ns_fnc__symfmt_clear(f);
        return ns_error(NS_ERR_NOMEM, "out of memory");
    }
    return NS_OK;
}

void ns_fnc__symfmt_clear(ns_fnc__symfmt *f)
{
    free(f->pool);
    free(f->line);
    free(f->off);
    free(f->len);
    *f = (ns_fnc__symfmt){0};
}

void ns_fnc__symfmt_fill(ns_fnc__symfmt *f, const double *z, int decimals)
{
    size_t K = f->K, pos = 0;
    for (size_t i = 0; i < K; i++)
        for (size_t j = i; j < K; j++) {
            int o = format_fixed(f->pool + pos, z[i * K + j], decimals);
            f->off[i * K + j] = f->off[j * K + i] = (uint32_t)pos;
            f->len[i * K + j] = f->len[j * K + i] = (uint8_t)o;
            pos += (size_t)o;
        }
}

/* Copies a cell of at most SYMFMT_CELL bytes in fixed 16-byte moves (two
 * instructions, against a byte loop for a variable-length memcpy); the
 * buffers have SYMFMT_SLACK bytes of room past their last cell. */
static inline void copy_cell(char *dst, const char *src, size_t len)
{
    memcpy(dst, src, 16);
    if (len > 16)
        memcpy(dst + 16, src + 16, 16);
}

ns_status ns_fnc__symfmt_write(const ns_fnc__symfmt *f, const char *path, size_t a, size_t n,
                               const char *label, const char *const *ids)
{
    ns_afile *af;
    ns_status st = open_labelled(path, label, ids + a, n, &af);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(af);
    for (size_t i = a; i < a + n; i++) {
        const uint32_t *off = f->off + i * f->K;
        const uint8_t *len = f->len + i * f->K;
        size_t o = 0;
        for (size_t j = a; j < a + n; j++) {
            f->line[o++] = '\t';
            copy_cell(f->line + o, f->pool + off[j], len[j]);
            o += len[j];
        }
        f->line[o++] = '\n';
        fputs(ids[i], fp);
        fwrite(f->line, 1, o, fp);
    }
    return ns_afile_commit(af);
}

size_t ns_fnc__symfmt_row_size(size_t E)
{
    return E * (SYMFMT_CELL + 1) + SYMFMT_SLACK;
}

size_t ns_fnc__symfmt_row(const ns_fnc__symfmt *f, const size_t *sel, size_t nsel, char *out)
{
    size_t o = 0;
    for (size_t a = 0; a < nsel; a++) {
        const uint32_t *off = f->off + sel[a] * f->K;
        const uint8_t *len = f->len + sel[a] * f->K;
        for (size_t b = a + 1; b < nsel; b++) {
            out[o++] = '\t';
            copy_cell(out + o, f->pool + off[sel[b]], len[sel[b]]);
            o += len[sel[b]];
        }
    }
    out[o++] = '\n';
    return o;
}
