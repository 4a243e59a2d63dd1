/* Average-linkage agglomerative clustering (Lance-Williams updates with a
 * nearest-neighbour list per cluster; O(n^2) memory, ~O(n^2) time). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "ica/ica_int.h"

typedef struct {
    size_t n;
    double *d;     /* n x n distances between active clusters */
    size_t *size, *nn, *parent;
    double *nnd;
    char *active;
} agglo;

static void nearest(agglo *a, size_t i)
{
    a->nnd[i] = DBL_MAX;
    a->nn[i] = i;
    for (size_t k = 0; k < a->n; k++)
        if (k != i && a->active[k] && a->d[i * a->n + k] < a->nnd[i])
            a->nnd[i] = a->d[i * a->n + k], a->nn[i] = k;
}

static void merge(agglo *a, size_t i, size_t j)
{
    size_t n = a->n;
    double si = (double)a->size[i], sj = (double)a->size[j];
    for (size_t k = 0; k < n; k++) {
        if (!a->active[k] || k == i || k == j)
            continue;
        double dk = (si * a->d[i * n + k] + sj * a->d[j * n + k]) / (si + sj);
        a->d[i * n + k] = a->d[k * n + i] = dk;
    }
    a->active[j] = 0;
    a->size[i] += a->size[j];
    a->parent[j] = i;
    nearest(a, i);
    for (size_t k = 0; k < n; k++)
        if (a->active[k] && k != i && (a->nn[k] == i || a->nn[k] == j))
            nearest(a, k);
}

static size_t root(const size_t *parent, size_t i)
{
    while (parent[i] != i)
        i = parent[i];
    return i;
}

static void labels(const agglo *a, int *label)
{
    int *map = malloc(a->n * sizeof(int));
    int next = 0;
    for (size_t i = 0; i < a->n; i++)
        map[i] = -1;
    for (size_t i = 0; i < a->n; i++) {
        size_t r = root(a->parent, i);
        if (map[r] < 0)
            map[r] = next++;
        label[i] = map[r];
    }
    free(map);
}

ns_status ns_ica_cluster_average(const double *sim, size_t n, size_t nclust, int *label)
{
    if (nclust == 0 || nclust > n)
        return ns_error(NS_ERR_ARG, "clustering %zu items into %zu clusters", n, nclust);
    agglo a = {.n = n};
    a.d = ns_alloc(n * n, sizeof(double));
    a.size = ns_alloc(n, sizeof(size_t));
    a.nn = ns_alloc(n, sizeof(size_t));
    a.parent = ns_alloc(n, sizeof(size_t));
    a.nnd = ns_alloc(n, sizeof(double));
    a.active = ns_alloc(n, 1);
    ns_status st = (a.d && a.size && a.nn && a.parent && a.nnd && a.active) ? NS_OK : NS_ERR_NOMEM;
    if (st == NS_OK) {
        for (size_t i = 0; i < n * n; i++)
            a.d[i] = 1.0 - sim[i];
        for (size_t i = 0; i < n; i++)
            a.size[i] = 1, a.parent[i] = i, a.active[i] = 1;
        for (size_t i = 0; i < n; i++)
            nearest(&a, i);
        for (size_t left = n; left > nclust; left--) {
            size_t best = n;
            for (size_t i = 0; i < n; i++)
                if (a.active[i] && (best == n || a.nnd[i] < a.nnd[best]))
                    best = i;
            size_t j = a.nn[best];
            /* Keep the lower index as the surviving cluster (determinism). */
            merge(&a, best < j ? best : j, best < j ? j : best);
        }
        labels(&a, label);
    }
    free(a.d), free(a.size), free(a.nn), free(a.parent), free(a.nnd), free(a.active);
    return st;
}
