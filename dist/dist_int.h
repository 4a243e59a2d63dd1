/* Private to dist/: the context, its per-layer state, the accounted MPI
 * wrappers and the records that become the output tables. */
#ifndef NS_DIST_INT_H
#define NS_DIST_INT_H

#include "dist/dist.h"
#include "spectra/spectra.h"

#define DIST_NONE ((size_t)-1)

/* One weight layer of the model being trained, and every buffer a method
 * needs for it (grown on demand, so that steps after the first do not
 * allocate). */
typedef struct {
    ns_nn_layer info;
    size_t w_off, b_off;       /* into ns_nn_grads / ns_nn_params; b_off DIST_NONE */
    /* this rank's tap capture of the step */
    float *A, *D;
    size_t rows, cap_A, cap_D;
    /* all ranks' rows (dad, edad) */
    float *Ag, *Dg, *Dr;       /* Dr: edad's recomputed deltas */
    size_t cap_Ag, cap_Dg, cap_Dr;
    /* rankdad: own factors, message, all messages, two-way factors */
    float *L, *R, *msg, *gath, *L2, *R2, *Lin, *Rin;
    double *sigma;
    /* powersgd: Q (h_in x r, warm-started), error memory and M (h_out x h_in), P */
    float *Q, *E, *M, *P;
    int compress;
} dist_layer;

/* Bytes and seconds of one layer (index nlayers = meta) in the current step. */
typedef struct {
    double sent, recv, secs;
} dist_acc;

/* One row of dist_bandwidth.tsv (rank added when gathered). */
typedef struct {
    int tag, epoch, layer;     /* layer -1: meta */
    long step;
    double rows, sent, recv, dsgd, secs;
} dist_bw_rec;

/* One row of dist_spectra.tsv; site -1 = the aggregate, else a rank. */
enum { DIST_Q_SV = 0, DIST_Q_APPROX, DIST_Q_BEST, DIST_NQ };
typedef struct {
    int tag, layer, site, quantity, index;
    long step;
    double value;
} dist_sp_rec;

struct ns_dist {
    MPI_Comm comm;
    int rank, size;
    ns_dist_opts o;
    char **site_names;         /* global sites */
    int nsites;
    int *held;                 /* per global site: 1 when this rank held it in a fit */
    char **layer_names;        /* names seen across fits (records index them) */
    size_t nlayer_names;

    /* the fit in progress */
    ns_nn *m;
    dist_layer *L;
    size_t nl;
    size_t *name_id;           /* layer -> index into layer_names */
    int tap;
    int tag, epoch;
    long step, nsteps, warm;
    double meta[4];            /* this rank: samples, den, loss * den, failed */
    double *meta_all;          /* size x 4 */
    int *counts, *displs;
    size_t *rowsr;             /* rows of every rank for one layer */
    double den_total, w;
    float *sendbuf;
    size_t cap_send;
    dist_acc *acc;             /* nl + 1 */
    ns_spectra_ws *sws;
    ns_spectra_power_ws *pws;
    int *row_group;
    size_t cap_row_group;
    float *scratch, *scratch2;
    size_t cap_scratch, cap_scratch2;

    /* records and totals over every fit */
    dist_bw_rec *bw;
    size_t nbw, cap_bw;
    dist_sp_rec *sp;
    size_t nsp, cap_sp;
    ns_dist_totals tot;
};

/* comm.c: collectives that account bytes (full-mesh model) and seconds to
 * layer li (d->nl = meta). Counts are floats. */
ns_status dist_allreduce(ns_dist *d, float *buf, size_t count, size_t li);
ns_status dist_allgather(ns_dist *d, const float *send, size_t count, float *recv, size_t li);
/* Every rank's block: rank r sends rows_r x width floats. */
ns_status dist_allgatherv_rows(ns_dist *d, const float *send, const size_t *rows, size_t width,
                               float *recv, size_t li);
ns_status dist_meta_exchange(ns_dist *d);
/* Grows *buf to n elements of size el (never shrinks). */
ns_status dist_grow(void *buf, size_t *cap, size_t n, size_t el);
double dist_now(void);

/* The samples of rank r in this step, and the rows of layer l it sends. */
size_t dist_samples(const ns_dist *d, int r);
void dist_layer_rows(const ns_dist *d, const dist_layer *l, size_t *rows, size_t *total);

/* methods.c: the exchange of one step; the model's gradient buffer holds
 * this rank's gradient (dsgd, powersgd) and the tap capture holds A and D
 * (dad, edad, rankdad); afterwards the gradient buffer holds the aggregate. */
ns_status dist_exchange_dsgd(ns_dist *d, size_t li);
ns_status dist_exchange_dad(ns_dist *d);
ns_status dist_exchange_edad(ns_dist *d);
ns_status dist_exchange_rankdad(ns_dist *d);
ns_status dist_exchange_powersgd(ns_dist *d);
/* grad W = Dg^T Ag and grad b = Dg^T 1 over `rows` gathered rows. */
void dist_grad_from_rows(ns_dist *d, dist_layer *l, const float *Ag, const float *Dg,
                         size_t rows);

/* spectra.c: spectra of the step's aggregate (rank 0) and local errors. */
ns_status dist_spectra_step(ns_dist *d);
ns_status dist_sp_push(ns_dist *d, size_t li, int site, int quantity, int index, double value);

/* fit.c */
ns_status dist_agree(ns_dist *d, ns_status st);
ns_status dist_fit_begin(ns_dist *d, ns_nn *m, int tag);
ns_status dist_fit_end(ns_dist *d, ns_status st);
ns_status dist_lowrank_alloc(ns_dist *d);
/* lowrank.c: the rank rankdad sends for the layer, min(R, h_in, h_out). */
size_t dist_layer_rank(const ns_dist *d, const dist_layer *l);

/* report.c */
ns_status dist_bw_push_step(ns_dist *d);
/* Every rank's n records of `fields` doubles on rank 0 (*all, *count
 * records, the rank of each in *from); NULL elsewhere. Collective. */
ns_status dist_gather_records(ns_dist *d, const double *mine, size_t n, size_t fields,
                              double **all, int **from, size_t *count);

/* edad.c: workspace-free core used by both the public function and the fit. */
ns_status dist_edad_run(ns_nn *m, const ns_matrix *A, const ns_matrix *Dout, size_t nsamples,
                        ns_matrix *D);

#endif
