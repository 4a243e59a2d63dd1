/* neurospectra dist: training one network across sites over MPI, each MPI
 * rank a site that holds only its own subjects and never sends them. Methods
 * (shared/reference/gradients.md section 3, docs/distributed.md):
 *
 *   dsgd       every site's gradient, allreduce-averaged
 *   dad        per weight layer, MPI_Allgatherv of the sites' activations A
 *              and deltas D; every site forms grad W = D^T A over all rows
 *   edad       the activations of every layer and only the output delta;
 *              each site recomputes the earlier deltas itself
 *   rankdad:R[:oneway|:twoway][:iters=I]
 *              each site's rank-R factors of D^T A by structured power
 *              iteration (spectra/), all-gathered; one-way sums them, two-way
 *              re-factorises the sum to rank R
 *   powersgd:R Vogels et al.: error feedback, warm-started Q, two allreduce
 *              rounds, biases uncompressed, first 10% of steps plain
 *
 * Scaling rule (one, for every method): a site's loss is its batch mean
 * (D carries 1/den_s, den_s = its batch size, or the sum of the class
 * weights of its batch); its rows, factors or gradient are weighted by
 * w_s = den_s / sum_s den_s. The aggregate is then exactly the gradient of
 * the pooled batch-mean loss, for any split and unequal site sizes.
 *
 * Bytes are counted per step, layer and rank from the counts handed to MPI,
 * as the payload of a full-mesh exchange: a site sends its message to each
 * of the S-1 others (sent = (S-1) m_s) and receives theirs (sum of m_r, r !=
 * s). For a message m_s per layer and step (float32, 4 bytes a value):
 *   dsgd      4 (h_in h_out + h_out)       (+ h_out only with a bias)
 *   dad       4 rows_s (h_in + h_out)
 *   edad      4 rows_s h_in, + 4 rows_s h_out for the output layer
 *   rankdad   4 (r (h_in + h_out) + h_out), r = min(R, h_in, h_out)
 *   powersgd  4 (R (h_in + h_out) + h_out) after warm-up on layers where it
 *             is smaller than dsgd's, dsgd's otherwise
 *   meta      32 per step (rows, loss denominator, loss, status), layer "meta"
 * rows_s = the site's batch samples x rows per sample (1 dense, T recurrent,
 * P conv output positions).
 *
 * Conventions: core.h (ns_status + ns_error; create/free pairs). Functions
 * marked "collective" must be called by every rank of the communicator. */
#ifndef NS_DIST_H
#define NS_DIST_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "core/core.h"
#include "models/models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ methods */

typedef enum {
    NS_DIST_DSGD = 0,
    NS_DIST_DAD,
    NS_DIST_EDAD,
    NS_DIST_RANKDAD,
    NS_DIST_POWERSGD
} ns_dist_kind;

typedef struct {
    ns_dist_kind kind;
    int rank;       /* R (rankdad, powersgd) */
    int twoway;     /* rankdad: 0 one-way (default), 1 two-way */
    int iters;      /* rankdad: power iterations per component (default 10) */
    double warmup;  /* powersgd: share of the steps sent uncompressed (0.1) */
} ns_dist_method;

/* "dsgd", "dad", "edad", "rankdad:4", "rankdad:4:twoway:iters=20",
 * "powersgd:2". NS_ERR_ARG with a message naming the spec. */
ns_status ns_dist_method_parse(const char *spec, ns_dist_method *out);
/* Canonical spec ("rankdad:4:oneway:iters=10") into buf. */
void ns_dist_method_format(const ns_dist_method *m, char *buf, size_t size);
const char *ns_dist_kind_name(ns_dist_kind k);

/* ======================================================== byte formulas */

/* One weight layer in one step, as the formulas above see it. */
typedef struct {
    size_t h_in, h_out; /* columns of A and D (conv: C_in k and C_out) */
    size_t rows;        /* the site's rows this step (samples x rows per sample) */
    int bias;           /* the layer has a bias */
    int output;         /* the classifier (edad sends its delta) */
} ns_dist_layer_shape;

#define NS_DIST_META_BYTES 32

/* dSGD's message for the layer: 4 (h_in h_out + bias h_out). */
size_t ns_dist_dsgd_bytes(const ns_dist_layer_shape *l);
/* Whether powersgd compresses the layer: R (h_in + h_out) < h_in h_out. */
int ns_dist_powersgd_compresses(const ns_dist_method *m, const ns_dist_layer_shape *l);
/* The site's message m_s for the layer under method m; warm: a powersgd
 * warm-up step (sent as dsgd). */
size_t ns_dist_message_bytes(const ns_dist_method *m, const ns_dist_layer_shape *l, int warm);
/* Steps of plain allreduce at the start of a powersgd run of nsteps:
 * ceil(warmup nsteps). */
long ns_dist_warmup_steps(const ns_dist_method *m, long nsteps);

/* ============================================================ scaling */

/* The loss denominator of a batch of n samples with labels y: the sum of
 * the class weights of its labels for cross-entropy with class weights,
 * else n (the tap's D carries 1/den). */
double ns_dist_loss_denominator(const ns_nn *m, const int32_t *y, size_t n);
/* w_s = den_s / den_total (0 when den_total is 0). */
double ns_dist_site_weight(double den_s, double den_total);

/* ====================================================== sites, batches */

/* Sites of n participants from column `column` of a participants.tsv
 * (participant_id matched with 'sub-' optional): the distinct values sorted
 * by name become sites 0..nsites-1. A participant without a row or with n/a
 * is an error naming it. Caller frees *site, each name and *names. */
ns_status ns_dist_sites_from_tsv(const char *tsv, const char *column, const char *const *ids,
                                 size_t n, int **site, char ***names, int *nsites);
/* Without a site column: n rows split evenly into nsites contiguous blocks
 * (row i in site floor(i nsites / n)). */
void ns_dist_sites_even(size_t n, int nsites, int *site);
/* Sites dealt to ranks: site s is held by rank s mod nranks. */
int ns_dist_site_rank(int site, int nranks);

/* Batches: an epoch has K = ceil(n_total / batch) steps; every site cuts its
 * (shuffled) rows into K consecutive chunks, chunk k = [k n_s / K,
 * (k+1) n_s / K), so the pooled batch of a step is about `batch` samples
 * drawn from every site in proportion to its size. */
size_t ns_dist_steps_per_epoch(size_t n_total, int batch);
void ns_dist_chunk(size_t n_site, size_t K, size_t k, size_t *begin, size_t *end);

/* ============================================================== edAD */

/* edAD's recomputation of every layer's delta from the layers' input
 * activations and the output delta: A[i] (rows_i x h_in_i) for every weight
 * layer i of m (ns_nn_layer_info order) and Dout (nsamples x h_out of the
 * classifier) in; D[i] (rows_i x h_out_i, caller-allocated; D[last] may
 * alias Dout) out. Uses m's current weights and configuration: dense heads
 * (MLP), conv1d trunks and RNN/GRU/LSTM trunks, dropout masks inferred from
 * the activations. NS_ERR_UNSUPPORTED for a leaky slope <= 0. */
ns_status ns_dist_edad_deltas(ns_nn *m, const ns_matrix *A, const ns_matrix *Dout,
                              size_t nsamples, ns_matrix *D);

/* ============================================================ training */

typedef struct {
    ns_dist_method method;
    int spectra_every;  /* spectra of the aggregated gradient every N steps (0: off; default 10) */
    int spectra_topk;   /* singular values kept per layer and site (default 10) */
    uint64_t seed;      /* power-iteration and PowerSGD starts (same on every rank) */
} ns_dist_opts;
void ns_dist_opts_default(ns_dist_opts *o);

typedef struct ns_dist ns_dist;

/* A context on comm (duplicated; collective). Records accumulate over
 * every ns_dist_fit until freed. */
ns_status ns_dist_create(MPI_Comm comm, const ns_dist_opts *o, ns_dist **out);
void ns_dist_free(ns_dist *d);
int ns_dist_rank(const ns_dist *d);
int ns_dist_size(const ns_dist *d);
/* Names of the sites (index = global site), for the outputs (copied). */
ns_status ns_dist_set_site_names(ns_dist *d, const char *const *names, int nsites);

/* Collective: trains m (created identically on every rank) for its
 * configuration's epochs on this rank's n rows x (n x input size), y, whose
 * global sites are site[0..n) (only sites this rank holds). Every rank ends
 * with the same weights (rank 0's, broadcast at the end; the largest
 * deviation before is recorded). The optimiser, clipping and weight decay
 * are the model's. tag labels the records (CV fold, -1 final model). A
 * failure on any rank makes every rank return an error. */
ns_status ns_dist_fit(ns_dist *d, ns_nn *m, const float *x, const int32_t *y, size_t n,
                      const int *site, int tag);

/* This rank's totals over every fit so far. */
typedef struct {
    long steps;
    double bytes_sent, bytes_received, dsgd_bytes; /* per-layer rows + meta */
    double mpi_seconds, compute_seconds;
    double setup_bytes;    /* initial and final parameter broadcasts */
    double max_param_diff; /* largest |param - rank 0's| before the final broadcast */
    double stats_bytes;    /* sums of the pre-fit statistics (standardisation, imputation),
                              sent + received, full-mesh model as the layers */
    double eval_bytes;     /* out-of-fold records and ids gathered on rank 0, sent + received */
} ns_dist_totals;
void ns_dist_get_totals(const ns_dist *d, ns_dist_totals *t);

/* Collective: rank 0 writes into out_dir (atomically, every fit so far)
 *   dist_bandwidth.tsv          fold step epoch layer rank method rows bytes_sent
 *                               bytes_received dsgd_bytes ratio mpi_seconds
 *   dist_bandwidth_summary.tsv  one row per method and rank (and "all"): totals
 *   dist_spectra.tsv            fold step layer site quantity index value
 * and logs the summary line. Other ranks write nothing. */
ns_status ns_dist_write(ns_dist *d, const char *out_dir);

/* ================================================ neurospectra train */

/* Initialises MPI when it is not (thread level single) and registers an
 * exit handler that finalises it, or aborts every rank when a distributed
 * fit failed on this one (so that no rank waits for it forever). */
ns_status ns_dist_mpi_begin(void);

typedef struct {
    const char *method;      /* --dist spec */
    const char *labels;      /* participants.tsv */
    const char *site_column; /* NULL: even split into one site per rank */
    const char *const *ids;  /* the n participants of the table, in row order */
    size_t n;
    const char *out_dir;     /* OUT */
    int spectra_every;       /* < 0: default */
} ns_dist_train_args;

/* Wires distributed training into the CV driver of `neurospectra train`:
 * initialises MPI, assigns sites to ranks, chains an observer into cp (to
 * learn each fit's rows; any observer already set is still called) and sets
 * hooks->fit: each fit keeps this rank's rows, runs ns_dist_fit and writes
 * the outputs. *out_dir receives where this rank writes the command's own
 * outputs: OUT on rank 0, a scratch directory removed at exit elsewhere.
 * NS_ERR_ARG when the CV settings need fits whose rows the observer does not
 * see (nested CV, permutations: check those before). */
ns_status ns_dist_train_begin(const ns_dist_train_args *a, ns_cv_params *cp,
                              ns_clf_nn_hooks *hooks, const char **out_dir);

/* The calls below follow ns_dist_train_begin (they use its context); the
 * collective ones must be made by every rank in the same order.
 *
 * Collective: this rank's share of the table. keep[i] (for the n rows given
 * to ns_dist_train_begin) is set to 1 for the rows of the sites this rank
 * holds, 0 otherwise; *nkeep is their count. The caller then drops every
 * other row, and from here on row indices (fits, ns_dist_train_site) index
 * the kept rows in their order. Rank 0 logs every rank's count and sites. */
ns_status ns_dist_train_keep(unsigned char *keep, size_t *nkeep);
/* The global site (index into the sorted site names) of kept row i. */
int ns_dist_train_site(size_t i);
int ns_dist_train_rank(void);
int ns_dist_train_size(void);
/* Collective: v[0..count) summed element-wise over the ranks (MPI_Allreduce
 * of doubles); the bytes are counted as stats_bytes. */
ns_status ns_dist_train_sum(double *v, size_t count);
/* Collective: rank 0 receives every rank's n records of width doubles, in
 * rank order (*all, caller frees; *nall records); elsewhere *all = NULL and
 * *nall = 0. Counted as eval_bytes. */
ns_status ns_dist_train_gather(const double *rec, size_t n, size_t width, double **all,
                               size_t *nall);
/* Collective: the same for n strings (rank order); rank 0 gets copies. */
ns_status ns_dist_train_gather_strings(char *const *s, size_t n, char ***all, size_t *nall);
/* Collective: st on every rank where it failed; elsewhere an error when any
 * rank failed, NS_OK when none did. */
ns_status ns_dist_train_agree(ns_status st);
/* Collective: rewrites the dist_* outputs (ns_dist_write) with the
 * statistics and evaluation bytes of the whole run. */
ns_status ns_dist_train_finish(void);

/* ============================================ scale-out: ica and fnc over MPI
 * (dist/scale_*.c, docs/scaling.md). Subjects (ica) or runs (fnc) are split
 * into contiguous blocks across the ranks of MPI_COMM_WORLD. */

/* 1 when running under an MPI launcher with more than one rank (MPI already
 * initialised with size > 1, or OMPI_COMM_WORLD_SIZE / PMI_SIZE / PMIX_SIZE /
 * SLURM_STEP_NUM_TASKS (srun) > 1 in the environment). A false positive is
 * harmless: with one rank ns_scale_ica_fit computes what ns_ica_fit does. */
int ns_scale_wanted(void);
/* This process's rank in MPI_COMM_WORLD (0 when MPI is not running): the
 * commands print study-wide summaries on rank 0 only. */
int ns_scale_rank(void);
/* The number of ranks in MPI_COMM_WORLD (1 when MPI is not running). */
int ns_scale_size(void);
/* Collective: n summed over the ranks (an allreduce, so also a barrier);
 * n itself when MPI is not running. */
size_t ns_scale_sum(size_t n);
/* Collective: the largest v over the ranks; v itself when MPI is not
 * running. */
long ns_scale_max(long v);

#if defined(NS_HAVE_ICA) && defined(NS_HAVE_NIFTI_IO)
#include "ica/ica.h"
/* Collective (MPI_COMM_WORLD; initialises MPI when needed): ns_ica_fit with
 * the subjects split across ranks. Subject PCA, local MIGP and
 * back-reconstruction run on the rank holding the subject; each rank's MIGP
 * rows are merged on rank 0, which runs ICA/ICASSO once and writes the group
 * outputs; Z, the eigenvalues and every unmixing are broadcast; each rank
 * writes its own subjects' outputs. Rank 0 also writes
 * OUT/group/desc-mpi_ranks.tsv (rank, subjects, bytes_sent, bytes_received,
 * peak_rss_mb, seconds). Every rank returns the same status. */
ns_status ns_scale_ica_fit(const ns_ica_params *p, const char *const *bold, size_t nsub);
#endif

#ifdef NS_HAVE_FNC
#include "fnc/fnc.h"
/* Collective (MPI_COMM_WORLD; initialises MPI when needed): ns_fnc_study_run
 * with the participants split across ranks (dist/scale_fnc.c). Each rank
 * post-processes its own runs and writes their relmats; feature rows,
 * low-frequency sums and dFNC windows are gathered or summed to rank 0,
 * which writes the group outputs and OUT/group/desc-fncmpi_ranks.tsv.
 * res holds the study-wide counts on every rank; every rank returns the
 * same status. */
ns_status ns_scale_fnc_run(const ns_fnc_study_opts *o, ns_fnc_study_result *res);
#endif

#ifdef __cplusplus
}
#endif
#endif
