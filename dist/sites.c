/* Sites of participants from a participants.tsv column. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

static const char *bare(const char *id)
{
    return strncmp(id, "sub-", 4) ? id : id + 4;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The participant's cell of column col, or NULL (no row or n/a). */
static const char *cell_of(const ns_tsv *t, int idc, int col, const char *id)
{
    for (size_t r = 0; r < t->nrows; r++) {
        const char *p = ns_tsv_get(t, r, (size_t)idc);
        if (p && !strcmp(bare(p), bare(id)))
            return ns_tsv_get(t, r, (size_t)col);
    }
    return NULL;
}

/* Distinct values of cells[0..n), sorted, into *names (copies). */
static ns_status distinct_sorted(const char **cells, size_t n, char ***names, int *count)
{
    const char **v = ns_alloc(n ? n : 1, sizeof *v);
    if (!v)
        return NS_ERR_NOMEM;
    memcpy(v, cells, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(v[k - 1], v[i]))
            v[k++] = v[i];
    char **out = ns_calloc(k ? k : 1, sizeof *out);
    for (size_t i = 0; out && i < k; i++)
        if (!(out[i] = strdup(v[i]))) {
            for (size_t j = 0; j < i; j++)
                free(out[j]);
            free(out);
            out = NULL;
        }
    free(v);
    if (!out)
        return ns_error(NS_ERR_NOMEM, "out of memory (site names)");
    *names = out;
    *count = (int)k;
    return NS_OK;
}

ns_status ns_dist_sites_from_tsv(const char *tsv, const char *column, const char *const *ids,
                                 size_t n, int **site, char ***names, int *nsites)
{
    ns_tsv *t = NULL;
    ns_status st = ns_tsv_read(tsv, &t);
    if (st)
        return st;
    int idc = ns_tsv_column(t, "participant_id"), col = ns_tsv_column(t, column);
    const char **cells = ns_alloc(n ? n : 1, sizeof *cells);
    if (!cells)
        st = NS_ERR_NOMEM;
    else if (idc < 0 || col < 0)
        st = ns_error(NS_ERR_DATA, "no %s column (%s)", idc < 0 ? "participant_id" : column, tsv);
    for (size_t i = 0; !st && i < n; i++)
        if (!(cells[i] = cell_of(t, idc, col, ids[i])))
            st = ns_error(NS_ERR_DATA, "participant %s has no '%s' value (%s)", ids[i], column,
                          tsv);
    int *s = st ? NULL : ns_alloc(n ? n : 1, sizeof *s);
    if (!st && !s)
        st = NS_ERR_NOMEM;
    if (!st)
        st = distinct_sorted(cells, n, names, nsites);
    for (size_t i = 0; !st && i < n; i++) {
        int k = 0;
        while (strcmp((*names)[k], cells[i]))
            k++;
        s[i] = k;
    }
    if (st)
        free(s);
    else
        *site = s;
    free(cells);
    ns_tsv_free(t);
    return st;
}
