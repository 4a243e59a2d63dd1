/* State of one ns_ica_fit run, shared by its stages (private). */
#ifndef NS_ICA_FIT_INT_H
#define NS_ICA_FIT_INT_H

#include "ica/pipeline_int.h"

typedef struct {
    const ns_ica_params *p;
    size_t nsub;
    ns_ica_subject *sub;
    ns_ica_grid grid;
    int *orders;            /* ascending */
    size_t norders;
    int kmax;
    size_t tmin, tmin_sub;  /* shortest run and its subject */
    size_t p1, work;        /* subject PCs; MIGP rows (0 = stacked) */
    int power;              /* power iterations after MIGP */
    int rr_pass;            /* the Rayleigh-Ritz pass ran (its basis had rows) */
    ns_ica_gpca *g;
    double *spec_mean;      /* mean subject eigenvalue spectrum (tmin) */
    ns_matrix *z;           /* kmax x V whitened group PCA maps */
    double *geig, *gall;    /* kmax eigenvalues; every eigenvalue held */
    size_t ngall;
    ns_ica_order_model *om; /* per order */
    ns_icasso *ic;          /* per order */
    char *cache_dir;        /* reduced data spilled by pass 1, or NULL */
    int64_t *mean_acc;      /* sum of the subjects' first volumes in fixed point
                             * (2^-20): exact, so independent of thread order */
    size_t mean_n;          /* subjects summed; 0 = no mean image (user mask) */
} ns_ica_fitctx;

/* Orders, subject names, headers (the majority's grid and TR), p1 and MIGP
 * rows: everything before the mask. */
ns_status ns_ica_fit_setup(ns_ica_fitctx *f, const char *const *bold);
/* Frees what the stages allocated in f (not f itself). */
void ns_ica_fit_clear(ns_ica_fitctx *f);
ns_status ns_ica_fit_mask(ns_ica_fitctx *f);
/* The mean of the subjects' first volumes (the report's background image):
 * _begin zeroes the sum, _add adds one volume (grid.nvox values); the MPI
 * path sums the ranks' f->mean_acc and f->mean_n. */
ns_status ns_ica_fit_mean_begin(ns_ica_fitctx *f);
void ns_ica_fit_mean_add(ns_ica_fitctx *f, const float *vol);
ns_status ns_ica_fit_pass1(ns_ica_fitctx *f);
/* The group PCA's power iterations (f->power passes over the subjects),
 * then its Rayleigh-Ritz pass (f->rr_pass says whether it ran). */
ns_status ns_ica_fit_power(ns_ica_fitctx *f);
ns_status ns_ica_fit_group(ns_ica_fitctx *f);
ns_status ns_ica_fit_write_group(ns_ica_fitctx *f);
ns_status ns_ica_fit_write_mask(ns_ica_fitctx *f);
ns_status ns_ica_fit_pass2(ns_ica_fitctx *f);
void ns_ica_fit_cache_remove(ns_ica_fitctx *f);

#endif
