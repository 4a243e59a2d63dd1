/* Private helpers shared by the scale-out drivers (dist/scale_*.c). */
#ifndef NS_DIST_SCALE_INT_H
#define NS_DIST_SCALE_INT_H

#include <mpi.h>
#include <stddef.h>

#include "core/core.h"

typedef struct {
    MPI_Comm comm;
    int rank, size;
    double sent, recv; /* payload bytes handed to MPI by this rank */
    double t0;         /* ns_scale__begin's time, for the report */
} ns_scale_ctx;

/* Initialises MPI when needed and c on MPI_COMM_WORLD; ranks other than 0
 * log warnings only (one copy of the progress lines): *saved is the level
 * to restore. */
ns_status ns_scale__begin(ns_scale_ctx *c, ns_log_level *saved);
/* Collective: st when no rank failed, else an error on every rank (the
 * failing rank keeps its own message). */
ns_status ns_scale__agree(ns_scale_ctx *c, ns_status st);
/* Collective: every rank's (units handled, bytes sent and received, peak
 * RSS, seconds since ns_scale__begin) gathered to rank 0, which writes them to
 * OUT_DIR/group/NAME (columns rank, <unit>, bytes_sent, bytes_received,
 * peak_rss_mb, seconds) and logs one summary line naming `what`. */
ns_status ns_scale__report(ns_scale_ctx *c, const char *out_dir, const char *name,
                           const char *unit, const char *what, size_t nlocal);

#endif
