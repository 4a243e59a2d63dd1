/* What the scale-out drivers share: status agreement and the per-rank
 * report (docs/scaling.md). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "dist/dist.h"
#include "dist/scale_int.h"

ns_status ns_scale__begin(ns_scale_ctx *c, ns_log_level *saved)
{
    *c = (ns_scale_ctx){.comm = MPI_COMM_WORLD, .t0 = ns_now()};
    *saved = ns_log_get_level();
    ns_status st = ns_dist_mpi_begin();
    if (st != NS_OK)
        return st;
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    if (c->rank > 0 && *saved > NS_LOG_WARN)
        ns_log_set_level(NS_LOG_WARN);
    return NS_OK;
}

static int mpi_running(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int ns_scale_wanted(void)
{
    if (mpi_running()) {
        int size = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        return size > 1;
    }
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                       "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *s = getenv(vars[i]);
        if (s && atoi(s) > 1)
            return 1;
    }
    return 0;
}

int ns_scale_rank(void)
{
    int rank = 0;
    if (mpi_running())
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

int ns_scale_size(void)
{
    int size = 1;
    if (mpi_running())
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

size_t ns_scale_sum(size_t n)
{
    if (!mpi_running())
        return n;
    unsigned long long mine = n, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return (size_t)all;
}

long ns_scale_max(long v)
{
    if (!mpi_running())
        return v;
    long all = v;
    MPI_Allreduce(&v, &all, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
    return all;
}

ns_status ns_scale__agree(ns_scale_ctx *c, ns_status st)
{
    int mine = st != NS_OK, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, c->comm);
    if (st == NS_OK && any)
        return ns_error(NS_ERR_IO, "another MPI rank failed (its message names the subject)");
    return st;
}

/* Rank 0: the table of every rank's row. */
static ns_status write_ranks(const ns_scale_ctx *c, const double *all, const char *path,
                             const char *unit)
{
    const char *hdr[] = {"rank", unit, "bytes_sent", "bytes_received", "peak_rss_mb", "seconds"};
    ns_tsv *t = ns_tsv_create(6, hdr);
    ns_status st = t ? NS_OK : NS_ERR_NOMEM;
    for (int q = 0; st == NS_OK && q < c->size; q++) {
        const double *a = all + 5 * q;
        char b[6][32];
        snprintf(b[0], 32, "%d", q);
        snprintf(b[1], 32, "%.0f", a[0]);
        snprintf(b[2], 32, "%.0f", a[1]);
        snprintf(b[3], 32, "%.0f", a[2]);
        snprintf(b[4], 32, "%.1f", a[3]);
        snprintf(b[5], 32, "%.3f", a[4]);
        const char *cells[6] = {b[0], b[1], b[2], b[3], b[4], b[5]};
        st = ns_tsv_append(t, cells);
    }
    if (st == NS_OK)
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    return st;
}

ns_status ns_scale__report(ns_scale_ctx *c, const char *out_dir, const char *name,
                           const char *unit, const char *what, size_t nlocal)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mine[5] = {(double)nlocal, c->sent, c->recv, (double)ru.ru_maxrss / 1024.0,
                      ns_now() - c->t0};
    double *all = c->rank == 0 ? ns_alloc(5 * (size_t)c->size, sizeof(double)) : NULL;
    if (c->rank == 0 && !all)
        MPI_Abort(c->comm, 1);
    MPI_Gather(mine, 5, MPI_DOUBLE, all, 5, MPI_DOUBLE, 0, c->comm);
    if (c->rank > 0)
        return NS_OK;
    char *path = NULL;
    ns_status st = asprintf(&path, "%s/group/%s", out_dir, name) < 0 ? NS_ERR_NOMEM : NS_OK;
    if (st == NS_OK)
        st = write_ranks(c, all, path, unit);
    double sent = 0, peak = 0;
    for (int q = 0; q < c->size; q++)
        sent += all[5 * q + 1], peak = all[5 * q + 3] > peak ? all[5 * q + 3] : peak;
    if (st == NS_OK)
        ns_info("%s (MPI, %d ranks): %.0f bytes sent between ranks in all, largest peak RSS "
                "%.1f MB, %.2f s (per rank: %s)", what, c->size, sent, peak,
                ns_now() - c->t0, path);
    free(all), free(path);
    return st;
}
