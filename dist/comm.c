/* The collectives of a training step, each accounted to a layer: bytes from
 * the counts handed to MPI under the full-mesh model (a rank sends its
 * message to each of the S-1 others and receives theirs), seconds from
 * MPI_Wtime around the call. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

double dist_now(void)
{
    return MPI_Wtime();
}

ns_status dist_grow(void *buf, size_t *cap, size_t n, size_t el)
{
    void **p = buf;
    if (n <= *cap && *p)
        return NS_OK;
    void *q = realloc(*p, (n ? n : 1) * el);
    if (!q)
        return ns_error(NS_ERR_NOMEM, "out of memory (%zu x %zu bytes, distributed training)", n,
                        el);
    *p = q;
    *cap = n;
    return NS_OK;
}

static ns_status too_big(size_t count)
{
    return ns_error(NS_ERR_UNSUPPORTED, "a message of %zu values exceeds MPI's int counts "
                    "(distributed training)", count);
}

static void account(ns_dist *d, size_t li, double sent, double recv, double t0)
{
    d->acc[li].sent += sent;
    d->acc[li].recv += recv;
    d->acc[li].secs += dist_now() - t0;
}

ns_status dist_allreduce(ns_dist *d, float *buf, size_t count, size_t li)
{
    if (count > INT_MAX)
        return too_big(count);
    double t0 = dist_now();
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, d->comm);
    double bytes = 4.0 * (double)count * (double)(d->size - 1);
    account(d, li, bytes, bytes, t0);
    return NS_OK;
}

ns_status dist_allgather(ns_dist *d, const float *send, size_t count, float *recv, size_t li)
{
    if (count * (size_t)d->size > INT_MAX)
        return too_big(count * (size_t)d->size);
    double t0 = dist_now();
    MPI_Allgather(send, (int)count, MPI_FLOAT, recv, (int)count, MPI_FLOAT, d->comm);
    double bytes = 4.0 * (double)count * (double)(d->size - 1);
    account(d, li, bytes, bytes, t0);
    return NS_OK;
}

ns_status dist_allgatherv_rows(ns_dist *d, const float *send, const size_t *rows, size_t width,
                               float *recv, size_t li)
{
    size_t off = 0;
    double others = 0;
    for (int r = 0; r < d->size; r++) {
        size_t c = rows[r] * width;
        if (c > INT_MAX || off + c > INT_MAX)
            return too_big(off + c);
        d->counts[r] = (int)c;
        d->displs[r] = (int)off;
        off += c;
        if (r != d->rank)
            others += (double)c;
    }
    double t0 = dist_now();
    MPI_Allgatherv(send, d->counts[d->rank], MPI_FLOAT, recv, d->counts, d->displs, MPI_FLOAT,
                   d->comm);
    account(d, li, 4.0 * (double)d->counts[d->rank] * (double)(d->size - 1), 4.0 * others, t0);
    return NS_OK;
}

/* Samples, loss denominator, weighted loss and a failure flag of every
 * rank: the counts of dAD's Allgatherv, the scaling rule's denominator, the
 * pooled loss, and an agreement that stops every rank when one failed. */
ns_status dist_meta_exchange(ns_dist *d)
{
    double t0 = dist_now();
    MPI_Allgather(d->meta, 4, MPI_DOUBLE, d->meta_all, 4, MPI_DOUBLE, d->comm);
    double bytes = (double)NS_DIST_META_BYTES * (double)(d->size - 1);
    account(d, d->nl, bytes, bytes, t0);
    d->den_total = 0;
    for (int r = 0; r < d->size; r++)
        d->den_total += d->meta_all[4 * r + 1];
    d->w = ns_dist_site_weight(d->meta[1], d->den_total);
    return NS_OK;
}

size_t dist_samples(const ns_dist *d, int r)
{
    return (size_t)d->meta_all[4 * r];
}

void dist_layer_rows(const ns_dist *d, const dist_layer *l, size_t *rows, size_t *total)
{
    *total = 0;
    for (int r = 0; r < d->size; r++) {
        rows[r] = dist_samples(d, r) * l->info.rows_per_sample;
        *total += rows[r];
    }
}
