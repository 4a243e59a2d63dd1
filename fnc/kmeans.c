/* k-means with city-block distance: L1 assignment, per-dimension median
 * update (what minimises the L1 cost), k-means++ starts drawn with
 * probability proportional to the L1 distance, seeded replicates. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

#define DIM_BLOCK 64

void ns_fnc_kmeans_defaults(ns_fnc_kmeans_opts *o)
{
    o->k = 5;
    o->replicates = 5;
    o->max_iter = 150;
    o->seed = 1;
}

typedef struct {
    const float *data;
    size_t n, d;
    int k;
    int *labels;
    float *cent;
    double *dist;   /* n: distance of each point to its centroid */
    size_t *order;  /* n: point indices sorted by label */
    size_t *start;  /* k + 1: offsets into order */
} km_state;

static double l1(const float *a, const float *b, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++)
        s += fabsf(a[j] - b[j]);
    return s;
}

/* Assigns every point to its nearest centroid; returns the number of
 * changed labels. */
static size_t assign(km_state *s)
{
    size_t changed = 0;
#pragma omp parallel for reduction(+ : changed) schedule(static)
    for (size_t i = 0; i < s->n; i++) {
        const float *x = s->data + i * s->d;
        int best = 0;
        double bd = INFINITY;
        for (int c = 0; c < s->k; c++) {
            double dc = l1(x, s->cent + (size_t)c * s->d, s->d);
            if (dc < bd) {
                bd = dc;
                best = c;
            }
        }
        if (s->labels[i] != best)
            changed++;
        s->labels[i] = best;
        s->dist[i] = bd;
    }
    return changed;
}

/* Counting sort of the points by label into order/start. */
static void group(km_state *s)
{
    memset(s->start, 0, (size_t)(s->k + 1) * sizeof(size_t));
    for (size_t i = 0; i < s->n; i++)
        s->start[s->labels[i] + 1]++;
    for (int c = 0; c < s->k; c++)
        s->start[c + 1] += s->start[c];
    size_t *fill = s->start + s->k + 1; /* k more slots allocated after start */
    memcpy(fill, s->start, (size_t)s->k * sizeof(size_t));
    for (size_t i = 0; i < s->n; i++)
        s->order[fill[s->labels[i]]++] = i;
}

/* An empty cluster takes the point farthest from its own centroid (in a
 * cluster of more than one point), as MATLAB's 'singleton' action. */
static void fix_empty(km_state *s)
{
    for (int c = 0; c < s->k; c++) {
        group(s);
        if (s->start[c + 1] > s->start[c])
            continue;
        size_t far = s->n;
        for (size_t i = 0; i < s->n; i++) {
            int l = s->labels[i];
            if (s->start[l + 1] - s->start[l] > 1 && (far == s->n || s->dist[i] > s->dist[far]))
                far = i;
        }
        if (far == s->n)
            return; /* cannot happen with n >= k */
        s->labels[far] = c;
        s->dist[far] = 0.0;
        memcpy(s->cent + (size_t)c * s->d, s->data + far * s->d, s->d * sizeof(float));
    }
    group(s);
}

/* Median of v[0..n) (reorders v); mean of the two middle values for even n.
 * Wirth's selection: afterwards v[m] is the m-th smallest and v[0..m) <= it. */
static float median(float *v, size_t n)
{
    ptrdiff_t m = (ptrdiff_t)(n / 2), l = 0, r = (ptrdiff_t)n - 1;
    while (l < r) {
        float x = v[m];
        ptrdiff_t i = l, j = r;
        do {
            while (v[i] < x)
                i++;
            while (x < v[j])
                j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < m)
            l = i;
        if (m < i)
            r = j;
    }
    if (n % 2)
        return v[m];
    float below = v[0];
    for (ptrdiff_t i = 1; i < m; i++)
        if (v[i] > below)
            below = v[i];
    return (float)(0.5 * ((double)below + v[m]));
}

/* Centroids = per-dimension medians of the members (groups are current). */
static ns_status update(km_state *s)
{
    size_t n = s->n, d = s->d;
    int fail = 0;
#pragma omp parallel
    {
        float *buf = malloc(DIM_BLOCK * (n ? n : 1) * sizeof(float));
        if (!buf) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic)
        for (size_t j0 = 0; j0 < d; j0 += DIM_BLOCK) {
            if (!buf)
                continue;
            size_t B = d - j0 < DIM_BLOCK ? d - j0 : DIM_BLOCK;
            for (int c = 0; c < s->k; c++) {
                size_t a = s->start[c], nc = s->start[c + 1] - a;
                if (nc == 0)
                    continue;
                for (size_t m = 0; m < nc; m++) {
                    const float *x = s->data + s->order[a + m] * d + j0;
                    for (size_t j = 0; j < B; j++)
                        buf[j * nc + m] = x[j];
                }
                for (size_t j = 0; j < B; j++)
                    s->cent[(size_t)c * d + j0 + j] = median(buf + j * nc, nc);
            }
        }
        free(buf);
    }
    return fail ? ns_error(NS_ERR_NOMEM, "out of memory in k-means") : NS_OK;
}

/* k-means++ with L1 distances: the next centre is drawn with probability
 * proportional to the distance to the nearest chosen centre. */
static void init_plusplus(km_state *s, ns_rng *rng)
{
    size_t first = (size_t)ns_rng_below(rng, s->n);
    memcpy(s->cent, s->data + first * s->d, s->d * sizeof(float));
    for (size_t i = 0; i < s->n; i++)
        s->dist[i] = l1(s->data + i * s->d, s->cent, s->d);
    for (int c = 1; c < s->k; c++) {
        double tot = 0.0;
        for (size_t i = 0; i < s->n; i++)
            tot += s->dist[i];
        double u = ns_rng_uniform(rng) * tot;
        size_t pick = s->n - 1;
        for (size_t i = 0; i < s->n; i++) {
            u -= s->dist[i];
            if (u < 0.0 && s->dist[i] > 0.0) {
                pick = i;
                break;
            }
        }
        float *cc = s->cent + (size_t)c * s->d;
        memcpy(cc, s->data + pick * s->d, s->d * sizeof(float));
        for (size_t i = 0; i < s->n; i++) {
            double dc = l1(s->data + i * s->d, cc, s->d);
            if (dc < s->dist[i])
                s->dist[i] = dc;
        }
    }
}

/* Lloyd iterations from the centroids in s->cent. */
static ns_status lloyd(km_state *s, int max_iter, ns_fnc_kmeans_info *info)
{
    for (size_t i = 0; i < s->n; i++)
        s->labels[i] = -1;
    assign(s);
    info->converged = 0;
    info->iterations = 0;
    for (int it = 1; it <= max_iter; it++) {
        fix_empty(s);
        ns_status st = update(s);
        if (st)
            return st;
        info->iterations = it;
        if (assign(s) == 0) {
            info->converged = 1;
            break;
        }
    }
    info->cost = 0.0;
    for (size_t i = 0; i < s->n; i++)
        info->cost += s->dist[i];
    return NS_OK;
}

ns_status ns_fnc_kmeans_l1(const float *data, size_t n, size_t d, const ns_fnc_kmeans_opts *o,
                           const float *init, int *labels, float *centroids,
                           ns_fnc_kmeans_info *info)
{
    if (o->k < 1 || n < (size_t)o->k || d == 0)
        return ns_error(NS_ERR_ARG, "k-means needs at least k = %d points (got %zu)", o->k, n);
    size_t k = (size_t)o->k;
    km_state s = {data, n, d, o->k, ns_alloc(n, sizeof(int)), ns_alloc(k * d, sizeof(float)),
                  ns_alloc(n, sizeof(double)), ns_alloc(n, sizeof(size_t)),
                  ns_alloc(2 * k + 1, sizeof(size_t))};
    ns_rng *rng = ns_rng_create(o->seed);
    ns_status st = NS_OK;
    if (!s.labels || !s.cent || !s.dist || !s.order || !s.start || !rng) {
        st = ns_error(NS_ERR_NOMEM, "out of memory in k-means");
        goto done;
    }
    int reps = init ? 1 : (o->replicates > 0 ? o->replicates : 1);
    info->cost = INFINITY;
    for (int r = 0; r < reps; r++) {
        ns_fnc_kmeans_info ri;
        if (init)
            memcpy(s.cent, init, k * d * sizeof(float));
        else
            init_plusplus(&s, rng);
        if ((st = lloyd(&s, o->max_iter > 0 ? o->max_iter : 150, &ri)))
            goto done;
        if (ri.cost < info->cost) {
            *info = ri;
            memcpy(labels, s.labels, n * sizeof(int));
            memcpy(centroids, s.cent, k * d * sizeof(float));
        }
    }
done:
    ns_rng_free(rng);
    free(s.labels);
    free(s.cent);
    free(s.dist);
    free(s.order);
    free(s.start);
    return st;
}
