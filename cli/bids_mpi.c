/* The BIDS-Apps form under mpirun (docs/scaling.md): which rank this is and
 * a count summed over the ranks, or the one-process answers when the build
 * has no MPI. The levels split their runs with these. */
/* requires: nifti_io ica fnc models report */
#include "bids_int.h"
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
#include "dist/dist.h"
#endif

ns_status ns_bids_mpi_begin(int *rank, int *size)
{
    *rank = 0, *size = 1;
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (!ns_scale_wanted())
        return NS_OK;
    ns_status st = ns_dist_mpi_begin();
    if (st)
        return st;
    *rank = ns_scale_rank(), *size = ns_scale_size();
#endif
    return NS_OK;
}

size_t ns_bids_mpi_sum(size_t n)
{
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    return ns_scale_sum(n);
#else
    return n;
#endif
}

long ns_bids_mpi_max(long v)
{
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    return ns_scale_max(v);
#else
    return v;
#endif
}

ns_status ns_bids_ica_fit(const ns_bids_opts *o, const ns_ica_params *p, const char *const *bold,
                          size_t nb)
{
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (o->nranks > 1)
        return ns_scale_ica_fit(p, bold, nb);
#endif
    (void)o;
    return ns_ica_fit(p, bold, nb);
}

ns_status ns_bids_fnc_run(const ns_bids_opts *o, const ns_fnc_study_opts *fo,
                          ns_fnc_study_result *res)
{
#if defined(NS_HAVE_MPI) && defined(NS_HAVE_DIST)
    if (o->nranks > 1)
        return ns_scale_fnc_run(fo, res);
#endif
    (void)o;
    return ns_fnc_study_run(fo, res);
}
