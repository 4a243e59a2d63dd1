/* Tab-separated tables with a header row; "n/a" (or an empty cell) is missing. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static char *dup_cell(const char *s)
{
    if (!s || !*s || !strcmp(s, "n/a"))
        return NULL;
    return strdup(s);
}

ns_tsv *ns_tsv_create(size_t ncols, const char *const *header)
{
    ns_tsv *t = calloc(1, sizeof *t);
    if (!t || !(t->header = calloc(ncols ? ncols : 1, sizeof(char *)))) {
        free(t);
        ns_error(NS_ERR_NOMEM, "out of memory creating a table");
        return NULL;
    }
    t->ncols = ncols;
    for (size_t j = 0; j < ncols; j++) {
        t->header[j] = strdup(header[j] ? header[j] : "");
        if (!t->header[j]) {
            ns_tsv_free(t);
            ns_error(NS_ERR_NOMEM, "out of memory creating a table");
            return NULL;
        }
    }
    return t;
}

void ns_tsv_free(ns_tsv *t)
{
    if (!t)
        return;
    for (size_t j = 0; j < t->ncols; j++)
        free(t->header[j]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->header);
    free(t->cells);
    free(t);
}

ns_status ns_tsv_append(ns_tsv *t, const char *const *cells)
{
    if (t->nrows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 16;
        size_t n;
        if (!ns_mul_size(cap, t->ncols ? t->ncols : 1, &n))
            return ns_error(NS_ERR_NOMEM, "table too large");
        char **nc = realloc(t->cells, n * sizeof(char *));
        if (!nc)
            return ns_error(NS_ERR_NOMEM, "out of memory growing a table");
        t->cells = nc;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t j = 0; j < t->ncols; j++) {
        row[j] = dup_cell(cells[j]);
        if (cells[j] && *cells[j] && strcmp(cells[j], "n/a") && !row[j]) {
            for (size_t k = 0; k < j; k++)
                free(row[k]);
            return ns_error(NS_ERR_NOMEM, "out of memory filling a table");
        }
    }
    t->nrows++;
    return NS_OK;
}

ns_status ns_tsv_append_fixed(ns_tsv *t, const char *cells, size_t width)
{
    const char **p = ns_alloc(t->ncols ? t->ncols : 1, sizeof *p);
    if (!p)
        return NS_ERR_NOMEM;
    for (size_t j = 0; j < t->ncols; j++)
        p[j] = cells + j * width;
    ns_status st = ns_tsv_append(t, p);
    free(p);
    return st;
}

/* Splits line in place on tabs; returns the number of fields (up to max). */
static size_t split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *tab = strchr(p, '\t');
        if (n < max)
            fields[n] = p;
        n++;
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static void chomp(char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
}

static ns_status parse_rows(ns_tsv *t, char *p, const char *path, size_t lineno)
{
    char **fields = malloc(sizeof(char *) * (t->ncols ? t->ncols : 1));
    if (!fields)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    ns_status s = NS_OK;
    while (p && *p && s == NS_OK) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        chomp(p);
        lineno++;
        if (*p) {
            size_t n = split_tabs(p, fields, t->ncols);
            if (n != t->ncols)
                s = ns_error(NS_ERR_FORMAT, "line %zu has %zu cells but the header has %zu (%s)",
                             lineno, n, t->ncols, path);
            else
                s = ns_tsv_append(t, (const char *const *)fields);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(fields);
    return s;
}

ns_status ns_tsv_read(const char *path, ns_tsv **out)
{
    *out = NULL;
    char *buf;
    size_t len;
    ns_status s = ns_read_file(path, &buf, &len);
    if (s)
        return s;
    if (memchr(buf, '\0', len)) {
        free(buf);
        return ns_error(NS_ERR_FORMAT, "not a text file (%s)", path);
    }
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    chomp(buf);
    if (!*buf) {
        free(buf);
        return ns_error(NS_ERR_FORMAT, "empty table: no header row (%s)", path);
    }
    size_t ncols = split_tabs(buf, NULL, 0);
    char **header = malloc(sizeof(char *) * ncols);
    ns_tsv *t = NULL;
    if (header) {
        /* split_tabs with max 0 already cut the tabs: walk the NULs back. */
        char *p = buf;
        for (size_t j = 0; j < ncols; j++, p += strlen(p) + 1)
            header[j] = p;
        t = ns_tsv_create(ncols, (const char *const *)header);
        free(header);
    }
    if (!t) {
        free(buf);
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    }
    s = parse_rows(t, nl ? nl + 1 : NULL, path, 1);
    free(buf);
    if (s) {
        ns_tsv_free(t);
        return s;
    }
    *out = t;
    return NS_OK;
}

int ns_tsv_column(const ns_tsv *t, const char *name)
{
    for (size_t j = 0; j < t->ncols; j++)
        if (!strcmp(t->header[j], name))
            return (int)j;
    return -1;
}

const char *ns_tsv_get(const ns_tsv *t, size_t row, size_t col)
{
    if (row >= t->nrows || col >= t->ncols)
        return NULL;
    return t->cells[row * t->ncols + col];
}

ns_status ns_tsv_get_double(const ns_tsv *t, size_t row, size_t col, double *out)
{
    const char *c = ns_tsv_get(t, row, col);
    if (!c) {
        *out = NAN;
        return NS_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(c, &end);
    if (end == c || *end)
        return ns_error(NS_ERR_FORMAT, "'%s' in column '%s', row %zu is not a number", c,
                        col < t->ncols ? t->header[col] : "?", row + 1);
    *out = v;
    return NS_OK;
}

static void write_row(FILE *fp, char *const *cells, size_t n, int missing_as_na)
{
    for (size_t j = 0; j < n; j++) {
        if (j)
            fputc('\t', fp);
        fputs(cells[j] ? cells[j] : (missing_as_na ? "n/a" : ""), fp);
    }
    fputc('\n', fp);
}

ns_status ns_tsv_write(const ns_tsv *t, const char *path)
{
    ns_afile *f;
    ns_status s = ns_afile_open(path, &f);
    if (s)
        return s;
    FILE *fp = ns_afile_stream(f);
    write_row(fp, t->header, t->ncols, 0);
    for (size_t i = 0; i < t->nrows; i++)
        write_row(fp, t->cells + i * t->ncols, t->ncols, 1);
    return ns_afile_commit(f);
}

ns_status ns_tsv_write_matrix(const char *path, const double *x, size_t rows, size_t cols,
                              const char *const *col_names, const char *label_header,
                              const char *const *row_labels)
{
    ns_afile *f;
    ns_status s = ns_afile_open(path, &f);
    if (s)
        return s;
    FILE *fp = ns_afile_stream(f);
    int labelled = row_labels != NULL;
    if (labelled)
        fprintf(fp, "%s", label_header ? label_header : "");
    for (size_t j = 0; j < cols; j++)
        fprintf(fp, "%s%s", (j || labelled) ? "\t" : "", col_names[j]);
    fputc('\n', fp);
    for (size_t i = 0; i < rows; i++) {
        if (labelled)
            fputs(row_labels[i], fp);
        for (size_t j = 0; j < cols; j++) {
            double v = x[i * cols + j];
            if ((j || labelled) && fputc('\t', fp) == EOF)
                break;
            if (isfinite(v))
                fprintf(fp, "%.9g", v);
            else
                fputs("n/a", fp);
        }
        fputc('\n', fp);
    }
    return ns_afile_commit(f);
}
