/* neurospectra fnc over MPI (docs/scaling.md): the participants split into
 * contiguous blocks across the ranks of MPI_COMM_WORLD (ns_fnc_part).
 *
 *   every rank   lists the tree (small files), post-processes its own runs
 *                and writes their relmats
 *   sums         low-frequency power fractions (--select lowfreq), the
 *                per-run facts and counters of the sidecars: MPI_Allreduce
 *   rank 0       receives the feature rows rank by rank (in rank order = the
 *                one-process order, one rank's share in memory at a time)
 *                and writes the table and its sidecar;
 *                with --dynamic it gathers every window, clusters them
 *                (k-means needs all of them) and writes the dFNC outputs
 *
 * The outputs are byte-for-byte those of one process. Bytes are the
 * payload handed to MPI. */
#ifdef NS_HAVE_FNC
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "dist/scale_int.h"

static ns_status fp_sum(void *ctx, double *x, size_t n)
{
    ns_scale_ctx *c = ctx;
    if (n > INT_MAX)
        MPI_Abort(c->comm, 1);
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, c->comm);
    c->sent += 8.0 * (double)n * (c->size > 1);
    c->recv += 8.0 * (double)n * (c->size > 1);
    return NS_OK;
}

/* Rank 0 takes its own buffer, then each other rank's in order (a size,
 * then the bytes, point to point), so that it holds one share at a time. */
static ns_status fp_gather(void *ctx, const void *buf, size_t n,
                           ns_status (*sink)(void *sctx, const void *chunk, size_t len),
                           void *sctx)
{
    ns_scale_ctx *c = ctx;
    uint64_t len = n;
    if (c->rank > 0) {
        MPI_Send(&len, 1, MPI_UINT64_T, 0, 0, c->comm);
        for (size_t o = 0; o < n; o += INT_MAX) /* MPI counts are int */
            MPI_Send((const char *)buf + o, (int)(n - o < INT_MAX ? n - o : INT_MAX), MPI_BYTE, 0,
                     1, c->comm);
        c->sent += 8.0 + (double)n;
        return NS_OK;
    }
    ns_status st = sink(sctx, buf, n);
    char *tmp = NULL;
    for (int q = 1; q < c->size; q++) { /* every message is received, even after a failure */
        MPI_Recv(&len, 1, MPI_UINT64_T, q, 0, c->comm, MPI_STATUS_IGNORE);
        char *nt = realloc(tmp, len ? len : 1);
        if (!nt)
            MPI_Abort(c->comm, 1);
        tmp = nt;
        for (uint64_t o = 0; o < len; o += INT_MAX)
            MPI_Recv(tmp + o, (int)(len - o < INT_MAX ? len - o : INT_MAX), MPI_BYTE, q, 1,
                     c->comm, MPI_STATUS_IGNORE);
        c->recv += 8.0 + (double)len;
        if (!st)
            st = sink(sctx, tmp, len);
    }
    free(tmp);
    return st;
}

static ns_status fp_agree(void *ctx, ns_status st)
{
    ns_scale_ctx *c = ctx;
    c->sent += 4.0 * (c->size > 1), c->recv += 4.0 * (c->size > 1);
    return ns_scale__agree(c, st);
}

ns_status ns_scale_fnc_run(const ns_fnc_study_opts *o, ns_fnc_study_result *res)
{
    ns_scale_ctx c;
    ns_log_level lev;
    ns_status st = ns_scale__begin(&c, &lev);
    if (st != NS_OK)
        return st;
    ns_fnc_part part = {c.rank, c.size, &c, fp_sum, fp_gather, fp_agree};
    ns_fnc_study_opts po = *o;
    po.part = &part;
    st = ns_fnc_study_run(&po, res);
    /* the report even after a failure the ranks agreed on: it is collective */
    ns_status rs = ns_scale__report(&c, o->out_dir, "desc-fncmpi_ranks.tsv", "runs", "fnc",
                                    res->runs_local);
    ns_log_set_level(lev);
    return st ? st : rs;
}
#endif
