/* Per-participant groups from a participants.tsv column. */
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

static const char *bare(const char *id) { return strncmp(id, "sub-", 4) ? id : id + 4; }

static int cmp_names(const void *a, const void *b, void *numeric)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if (*(const int *)numeric) {
        double u = strtod(x, NULL), v = strtod(y, NULL);
        if (u != v)
            return u < v ? -1 : 1;
    }
    return strcmp(x, y);
}

static int is_number(const char *s)
{
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0';
}

/* Distinct non-missing values of column c, sorted. */
static ns_status distinct(const ns_tsv *t, int c, char ***names, int *k)
{
    char **v = ns_calloc(t->nrows + 1, sizeof *v);
    size_t m = 0;
    if (!v)
        return NS_ERR_NOMEM;
    int numeric = 1;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *cell = ns_tsv_get(t, r, (size_t)c);
        if (cell && *cell) {
            v[m++] = (char *)cell;
            numeric &= is_number(cell);
        }
    }
    qsort_r(v, m, sizeof *v, cmp_names, &numeric);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || strcmp(v[u - 1], v[i]))
            v[u++] = v[i];
    for (size_t i = 0; i < u; i++)
        if (!(v[i] = strdup(v[i]))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return ns_error(NS_ERR_NOMEM, "out of memory (group names)");
        }
    *names = v;
    *k = (int)u;
    return NS_OK;
}

ns_status ns_spectra_groups_from_tsv(const char *tsv_path, const char *column,
                                     const char *const *ids, size_t n, int **group,
                                     char ***names, int *ngroups)
{
    ns_tsv *t = NULL;
    *group = NULL;
    *names = NULL;
    *ngroups = 0;
    ns_status s = ns_tsv_read(tsv_path, &t);
    if (s != NS_OK)
        return s;
    int idc = ns_tsv_column(t, "participant_id"), gc = ns_tsv_column(t, column);
    if (idc < 0 || gc < 0) {
        s = ns_error(NS_ERR_DATA, idc < 0 ? "no participant_id column (%s)"
                                          : "no group column '%s' (%s)",
                     idc < 0 ? tsv_path : column, tsv_path);
        ns_tsv_free(t);
        return s;
    }
    int *g = ns_alloc(n ? n : 1, sizeof *g);
    s = g ? distinct(t, gc, names, ngroups) : NS_ERR_NOMEM;
    for (size_t i = 0; s == NS_OK && i < n; i++) {
        g[i] = -1;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *id = ns_tsv_get(t, r, (size_t)idc), *cell = ns_tsv_get(t, r, (size_t)gc);
            if (!id || strcmp(bare(id), bare(ids[i])) || !cell || !*cell)
                continue;
            for (int k = 0; k < *ngroups; k++)
                if (!strcmp((*names)[k], cell))
                    g[i] = k;
            break;
        }
    }
    ns_tsv_free(t);
    if (s != NS_OK) {
        free(g);
        return s;
    }
    *group = g;
    return NS_OK;
}
