/* Numeric TSV in and out, fast: timecourse and confound tables are read
 * straight into doubles, relmats written with a fixed-point formatter
 * (printf's %g costs more than the whole FNC computation). */
#include <errno.h>
#include <math.h>
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
        } else {
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

int ns_fnc_format_fixed(char *buf, double v, int decimals)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (isnan(v)) {
        memcpy(buf, "n/a", 4);
        return 3;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    double a = fabs(v) * p10[decimals];
    if (!(a < 9e15)) /* inf or too large for the integer path */
        return snprintf(buf, 32, "%.*g", 17, v);
    unsigned long long q = (unsigned long long)llround(a);
    char tmp[32];
    int n = 0;
    for (int d = 0; d < decimals; d++) {
        tmp[n++] = (char)('0' + q % 10);
        q /= 10;
    }
    if (decimals)
        tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + q % 10);
        q /= 10;
    } while (q);
    int o = 0;
    int nonzero = 0;
    for (int i = 0; i < n; i++)
        nonzero |= tmp[i] > '0';
    if (v < 0 && nonzero)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
    return o;
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
        size_t o = 0;
        for (size_t j = 0; j < cols; j++) {
            line[o++] = '\t';
            o += (size_t)ns_fnc_format_fixed(line + o, x[i * cols + j], decimals);
        }
        line[o++] = '\n';
        fputs(row_names[i], fp);
        fwrite(line, 1, o, fp);
    }
    free(line);
    return ns_afile_commit(f);
}
