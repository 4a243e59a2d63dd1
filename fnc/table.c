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

/* Decimal [p, end) by Clinger's fast path: a significand of at most 15
 * digits and a power of ten of at most 22 give one correctly rounded
 * operation, the same double strtod returns. Returns 0 on success, -1 when
 * the text needs strtod (or is not a number). */
static int parse_fast(const char *p, const char *end, double *out)
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
        return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, ev = 0, edig = 0;
        p++;
        if (p < end && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9' && ev < 10000; p++, edig = 1)
            ev = ev * 10 + (*p - '0');
        if (!edig)
            return -1;
        e10 += eneg ? -ev : ev;
    }
    if (p != end || e10 < -22 || e10 > 22)
        return -1;
    double v = (double)m;
    v = e10 < 0 ? v / p10[-e10] : v * p10[e10];
    *out = neg ? -v : v;
    return 0;
}

/* Parses one data line into row (ncols values). */
static ns_status parse_row(const char *p, const char *end, double *row, size_t ncols,
                           const char *path, size_t lineno)
{
    for (size_t j = 0; j < ncols; j++) {
        const char *q = p;
        while (q < end && *q != '\t')
            q++;
        if (q == end && j + 1 < ncols)
            return ns_error(NS_ERR_FORMAT, "line %zu has %zu cells, expected %zu (%s)", lineno,
                            j + 1, ncols, path);
        const char *cell_end = (q > p && q[-1] == '\r') ? q - 1 : q;
        if (cell_end == p || (cell_end - p == 3 && !memcmp(p, "n/a", 3))) {
            row[j] = NAN;
        } else if (parse_fast(p, cell_end, &row[j])) {
            char *stop;
            errno = 0;
            row[j] = strtod(p, &stop);
            if (stop != cell_end)
                return ns_error(NS_ERR_FORMAT, "line %zu, column %zu is not a number (%s)",
                                lineno, j + 1, path);
        }
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

ns_status ns_fnc_write_labelled(const char *path, const double *x, size_t rows, size_t cols,
                                const char *label, const char *const *row_names,
                                const char *const *col_names, int decimals)
{
    ns_afile *f;
    ns_status st = ns_afile_open(path, &f);
    if (st)
        return st;
    FILE *fp = ns_afile_stream(f);
    fputs(label, fp);
    for (size_t j = 0; j < cols; j++) {
        fputc('\t', fp);
        fputs(col_names[j], fp);
    }
    fputc('\n', fp);
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
