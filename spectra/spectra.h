/* neurospectra spectra: singular-value spectra of layer gradients by group,
 * numerical and effective rank, rank bounds (B1-B9), structured power
 * iteration on (A, D), group statistics across training and SVG plots.
 *
 * Notation (shared/reference/gradients.md): a weight layer's tap gives the
 * input activations A (rows x h_in) and the output deltas D (rows x h_out),
 * row-major float32; the weight gradient is G = D^T A (h_out x h_in). A group
 * g is a set of rows (all rows of a sample belong to its group); its part of
 * the gradient is G_g = D_g^T A_g, and the G_g of disjoint groups covering
 * the batch sum to G exactly.
 *
 * Scaling (say which you report):
 *   raw          singular values of G_g as the tap gives it: with the
 *                batch-mean loss D carries 1/N, so G_g is the group's part of
 *                the batch-mean gradient and sum_g G_g = G.
 *   per-sample   raw / s_g with s_g = rows_g / rows (the group's share of the
 *                batch; every sample has the same number of rows, so this is
 *                n_g / N): the mean-loss gradient the group would produce
 *                alone as a batch of n_g samples. Scale-free quantities (ranks,
 *                effective rank, share of sigma_1) are the same in both.
 *
 * Conventions: core.h (ns_status + ns_error; create/free pairs, free accepts
 * NULL; returned pointers owned by the caller unless marked borrowed). */
#ifndef NS_SPECTRA_H
#define NS_SPECTRA_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================ spectra */

/* How singular values of G_g are computed.
 *   QR    exact thin-QR route: A_g^T = Q1 R1, D_g^T = Q2 R2 (geqrf), then the
 *         singular values of the small R2 R1^T (gesdd); cost O(n_g^2 (h_in +
 *         h_out)), for n_g below the widths.
 *   FULL  forms G_g = D_g^T A_g and runs gesdd on it (the check).
 *   AUTO  the cheaper of the two by a flop count (QR whenever n_g is well
 *         below the widths). Both give the same non-zero singular values. */
typedef enum { NS_SPECTRA_AUTO = 0, NS_SPECTRA_QR, NS_SPECTRA_FULL } ns_spectra_method;

/* Arithmetic of the decompositions (sgeqrf/sgesdd or dgeqrf/dgesdd). The
 * numerical-rank tolerance uses the eps of this precision. F32 (default)
 * matches numpy/torch matrix_rank on the float32 gradient the network
 * produces; F64 resolves smaller singular values. */
typedef enum { NS_SPECTRA_F32 = 0, NS_SPECTRA_F64 } ns_spectra_precision;

#define NS_SPECTRA_ALL (-1) /* "group" value selecting every row */

/* Summary of one spectrum sigma_1 >= sigma_2 >= ... >= 0 of an m x n matrix. */
typedef struct {
    size_t nsv;       /* singular values computed (min(m, n, rows)) */
    size_t rank;      /* numerical rank: #{sigma_i > tol} */
    double tol;       /* sigma_1 max(m, n) eps (numpy/torch matrix_rank) */
    double effrank;   /* exp(-sum p_i log p_i), p = sigma / sum sigma over the sigma_i > tol
                       * (Roy & Vetterli; round-off values count as zeros); 0 if G = 0 */
    double nuclear;   /* sum sigma_i */
    double sv1_share; /* sigma_1 / sum sigma_i (= p_1); 0 if G = 0 */
    size_t rows;      /* rows of A and D used (the group's rows) */
    double share;     /* rows / all rows of the batch */
} ns_spectra_stats;

/* Workspace for layers up to max_rows x h_in (A) and max_rows x h_out (D):
 * every buffer and LAPACK work array is allocated here, so that
 * ns_spectra_grad_sv and ns_spectra_matrix_sv never allocate. A workspace
 * serves one thread. NULL (with message) on failure. */
typedef struct ns_spectra_ws ns_spectra_ws;
ns_spectra_ws *ns_spectra_ws_create(size_t max_rows, size_t h_in, size_t h_out,
                                    ns_spectra_precision prec);
void ns_spectra_ws_free(ns_spectra_ws *ws);
/* Grows ws (allocating) when a layer is larger than it was created for. */
ns_status ns_spectra_ws_reserve(ns_spectra_ws *ws, size_t max_rows, size_t h_in, size_t h_out);
ns_spectra_precision ns_spectra_ws_precision(const ns_spectra_ws *ws);

/* Singular values of G_g = D_g^T A_g (descending, into sv: capacity
 * min(h_in, h_out) doubles) and their summary. row_group: the group of each
 * row (rows = A->rows = D->rows; negative = in no group); group: the one to
 * take, or NS_SPECTRA_ALL for every row (row_group may then be NULL). A group
 * with no rows gives nsv = 0. st->tol uses m = h_out, n = h_in. */
ns_status ns_spectra_grad_sv(ns_spectra_ws *ws, const ns_matrix *A, const ns_matrix *D,
                             const int *row_group, int group, ns_spectra_method method,
                             double *sv, ns_spectra_stats *st);

/* The batch and every group at once: row 0 of sv (leading dimension ldsv
 * >= min(h_in, h_out)) and st[0] for all rows, row g+1 and st[g+1] for
 * group g = 0..ngroups-1. With the QR route A^T and D^T are factorised once
 * and a group's R factors are column subsets of theirs (A_g^T = Q1 R1[:, g],
 * so G_g = Q2 (R2[:, g] R1[:, g]^T) Q1^T): the groups cost almost nothing. */
ns_status ns_spectra_grad_sv_groups(ns_spectra_ws *ws, const ns_matrix *A, const ns_matrix *D,
                                    const int *row_group, int ngroups, ns_spectra_method method,
                                    double *sv, size_t ldsv, ns_spectra_stats *st);

/* Singular values of the group's rows of X (A or D: rows x cols), into sv
 * (capacity min(rows, cols)). st->tol uses the group's rows x cols. */
ns_status ns_spectra_matrix_sv(ns_spectra_ws *ws, const ns_matrix *X, const int *row_group,
                               int group, double *sv, ns_spectra_stats *st);

/* Same for all rows and every group (layout as ns_spectra_grad_sv_groups;
 * ldsv >= min(rows, cols)): one QR of X^T serves them all. */
ns_status ns_spectra_matrix_sv_groups(ns_spectra_ws *ws, const ns_matrix *X, const int *row_group,
                                      int ngroups, double *sv, size_t ldsv, ns_spectra_stats *st);

/* Fills st from a spectrum of an m x n matrix (rank tolerance with eps). */
void ns_spectra_stats_from_sv(const double *sv, size_t nsv, size_t m, size_t n, double eps,
                              ns_spectra_stats *st);
/* eps of a precision: FLT_EPSILON or DBL_EPSILON. */
double ns_spectra_eps(ns_spectra_precision prec);

/* G_g = D_g^T A_g formed explicitly into G (h_out x h_in, caller-allocated):
 * for tests and small layers. */
ns_status ns_spectra_group_gradient(const ns_matrix *A, const ns_matrix *D, const int *row_group,
                                    int group, ns_matrix *G);

/* Row groups from sample groups, as the layer tap lays rows out: rows
 * n*R .. n*R+R-1 belong to batch sample n, which is sample sample_idx[n]
 * (NULL: n) of the data whose groups sample_group gives (negative = none).
 * row_group receives nsamples * R entries. */
void ns_spectra_row_groups(const int *sample_group, const size_t *sample_idx, size_t nsamples,
                           size_t rows_per_sample, int *row_group);

/* ===================================================== power iteration */

/* Structured power iteration for a rank-r factorisation of G = D^T A
 * (h_out x h_in) without forming G: b -> D^T (A (A^T (D b))) applies G G^T at
 * cost O(rows (h_in + h_out)). The float32 factors are copied to double once
 * per call and the iteration runs in double. Components are found one at a
 * time with Hotelling deflation (G G^T - sum_i sigma_i^2 b_i b_i^T) plus a
 * re-orthogonalisation against the b_i already found; component j starts
 * from a normal vector drawn from ns_seed_derive(seed, j), so every site
 * that runs it with the same seed and data gets bit-identical factors.
 *
 * Output, exactly r columns:
 *   sigma[j]  = |G^T b_j|, non-increasing up to convergence
 *   L (h_out x r, row-major): column j = sigma_j b_j
 *   R (h_in x r, row-major):  column j = c_j = G^T b_j / sigma_j
 * so G ~ L R^T (the best rank-r approximation when converged). When G has
 * fewer than r components above the float32 matrix_rank tolerance
 * (sigma_j <= sigma_1 max(h_in, h_out) FLT_EPSILON), the remaining ones are
 * returned as sigma_j = 0 with zero columns, so L R^T stays exact.
 * iters: iterations per component (>= 1). tol > 0 stops a component early
 * when |b - b_prev| < tol; 0 runs all iterations (fixed cost). */
typedef struct ns_spectra_power_ws ns_spectra_power_ws;
/* Workspace sized for these dimensions; it grows (allocating) on a call
 * with larger ones, so a per-step caller allocates only on the first step.
 * NULL on failure. */
ns_spectra_power_ws *ns_spectra_power_ws_create(size_t max_rows, size_t h_in, size_t h_out);
void ns_spectra_power_ws_free(ns_spectra_power_ws *ws);

/* G = D^T A from the tap's A (rows x h_in) and D (rows x h_out). ws may be
 * NULL (allocates for this call). */
ns_status ns_spectra_power(const ns_matrix *A, const ns_matrix *D, size_t r, int iters,
                           double tol, uint64_t seed, ns_spectra_power_ws *ws, float *L,
                           float *R, double *sigma);

/* G = Lin Rin^T from k factor columns: Lin (h_out x k), Rin (h_in x k),
 * row-major (e.g. the S r gathered columns of one-way rank-dAD, for two-way
 * rank-dAD's second power iteration to rank r). Same outputs. */
ns_status ns_spectra_power_factors(const ns_matrix *Lin, const ns_matrix *Rin, size_t r, int iters,
                                   double tol, uint64_t seed, ns_spectra_power_ws *ws, float *L,
                                   float *R, double *sigma);

/* ========================================================= rank bounds */

typedef enum { NS_SPECTRA_MLP = 0, NS_SPECTRA_CNN1D, NS_SPECTRA_RNN, NS_SPECTRA_GRU,
               NS_SPECTRA_LSTM } ns_spectra_kind;
typedef enum { NS_SPECTRA_LINEAR = 0, NS_SPECTRA_RELU, NS_SPECTRA_LEAKY, NS_SPECTRA_TANH,
               NS_SPECTRA_SIGMOID } ns_spectra_act;
typedef enum { NS_SPECTRA_CE = 0, NS_SPECTRA_BCE, NS_SPECTRA_MSE } ns_spectra_loss;

#define NS_SPECTRA_MAXLAYERS 16

typedef struct {
    int channels, kernel, stride, padding, dilation;
} ns_spectra_conv;

/* An architecture as models/nn.h builds it: a trunk (conv layers or one
 * recurrent layer), the head's hidden dense layers, then the classifier. */
typedef struct {
    ns_spectra_kind kind;
    size_t in_features; /* tabular: F; sequences: C channels per step */
    size_t seq_len;     /* sequences: T; 0 = tabular (conv/rnn read F steps of 1 channel,
                         * an MLP flattens T x C) */
    int nconv;
    ns_spectra_conv conv[NS_SPECTRA_MAXLAYERS];
    int hidden;         /* recurrent H */
    int ndense;
    int dense[NS_SPECTRA_MAXLAYERS];
    ns_spectra_act act; /* after hidden dense and conv layers */
    double slope;       /* leaky slope alpha; alpha = 1 is linear */
    int bias;
    ns_spectra_loss loss;
    int nclass;         /* classifier outputs: nclass (CE, MSE) or 1 (BCE) */
    int bptt;           /* truncated BPTT length K; 0 = T */
} ns_spectra_arch;

/* The bound of one weight layer. */
typedef struct {
    char name[16];          /* "conv0", "rnn.ih", "rnn.hh", "fc0", ... as the tap names them */
    size_t h_in, h_out;     /* columns of A and D */
    size_t rows_per_sample; /* R: 1 dense, T recurrent, P conv */
    size_t rows;            /* rows that can carry a non-zero a_r d_r^T (N R, fewer with a
                             * zero initial state or truncation) */
    size_t trivial;         /* B1: min(rows, h_in, h_out) */
    size_t linear;          /* the bound were the activations linear (B2/B2b/B3/B6/B7) */
    size_t bound;           /* the bound for this architecture */
    char rule[160];         /* which rule gives the bound, with the binding numbers */
} ns_spectra_bound;

/* Defaults: MLP, ReLU, slope 0.01, bias, CE, 2 classes, no truncation. */
void ns_spectra_arch_default(ns_spectra_arch *a);
/* Per-layer bounds for a batch of nsamples samples (use n_g for a group's
 * G_g: B8), in forward order; *nout layers written (cap >= 2 MAXLAYERS + 3
 * always suffices). NS_ERR_ARG for an inconsistent architecture (a conv
 * input too short). Rules: B1 any layer; B2 linear no bias (smallest width
 * anywhere); B2b +1 per upstream bias; B3 softmax-CE C-1 (BCE 1, MSE C);
 * B4 ReLU/tanh/sigmoid stop the propagation; B5 leaky alpha < 1 as B4 (the
 * excess singular values shrink in (1 - alpha)); B6 recurrent; B7 conv. */
ns_status ns_spectra_bounds(const ns_spectra_arch *a, size_t nsamples, ns_spectra_bound *out,
                            size_t cap, size_t *nout);
/* B8: rank G <= sum_g rank G_g (given the groups' ranks). */
size_t ns_spectra_bound_groups(const size_t *group_ranks, size_t ngroups);
/* B9: distributed bounds. mode 0 exact dAD: min(sum N_s R, h_in, h_out);
 * 1 one-way rank-dAD: min(S r, h_in, h_out); 2 two-way: min(r, h_in, h_out). */
size_t ns_spectra_bound_dist(int mode, size_t total_rows, size_t sites, size_t r, size_t h_in,
                             size_t h_out);
/* Conv output positions P = floor((L + 2p - d(k-1) - 1)/s) + 1 (0 if none). */
size_t ns_spectra_conv_positions(size_t L, int k, int s, int p, int d);
const char *ns_spectra_act_name(ns_spectra_act a);

/* =================================================== group statistics */

/* Permutation test of a difference between groups, stratified by block
 * (a batch of one fold: values of the same batch are compared with each
 * other). Statistic: between-group sum of squares sum_g n_g (mean_g -
 * mean)^2; permutations shuffle the group labels within every block;
 * p = (1 + #{perm stat >= observed}) / (1 + nperm). value/group/block: n
 * observations (group 0..ngroups-1, block any int). Blocks with one
 * observation carry no information and are dropped. *p = NaN (NS_OK) when
 * fewer than 2 groups remain. diff (may be NULL): mean of group 1 minus
 * mean of group 0. Reproducible from seed. */
ns_status ns_spectra_perm_test(const double *value, const int *group, const int *block, size_t n,
                               int ngroups, size_t nperm, uint64_t seed, double *stat, double *p,
                               double *diff);
/* Benjamini-Hochberg adjusted p-values (q) for n p-values; NaN p-values are
 * left out of the count and give NaN. Reject where q <= alpha. */
ns_status ns_spectra_bh(const double *p, size_t n, double *q);

/* ================================================================ SVG */

/* One line: n points (x, y); NaN y values break the line. band (may be
 * NULL): a half-width drawn as a light band (e.g. standard deviation). */
typedef struct {
    const char *label;
    const double *x, *y, *band;
    size_t n;
} ns_spectra_series;

/* A self-contained SVG line plot (width x height pixels; 0 = 640 x 400),
 * one coloured line per series with a legend; logy plots log10 y (values
 * <= 0 are skipped). *svg: malloc'd NUL-terminated string. */
ns_status ns_spectra_svg_lines(const char *title, const char *xlabel, const char *ylabel,
                               const ns_spectra_series *s, size_t nseries, int logy, int width,
                               int height, char **svg);
/* Same, written atomically to path. */
ns_status ns_spectra_svg_write(const char *path, const char *title, const char *xlabel,
                               const char *ylabel, const ns_spectra_series *s, size_t nseries,
                               int logy);

/* ============================================ tracking during training */

typedef struct {
    int every;          /* every N-th step (default 1) */
    int topk;           /* singular values written per layer and group (default 10; 0 = all) */
    int act_delta;      /* also act_sv / delta_sv (+ ranks) (default 0) */
    ns_spectra_method method;       /* default AUTO */
    ns_spectra_precision precision; /* default F32 */
    size_t nperm;       /* permutations per group test (default 1999) */
    double alpha;       /* FDR level for the group comparison (default 0.05) */
    uint64_t seed;      /* permutation seed */
} ns_spectra_opts;
void ns_spectra_opts_default(ns_spectra_opts *o);

/* Collects spectra during training and writes into out_dir:
 *   spectra.tsv         fold epoch step layer group quantity index value (long format)
 *   spectra_epochs.tsv  fold epoch layer group quantity index mean sd n (per-epoch summary)
 *   spectra_groups.tsv  layer epoch quantity index n_blocks mean_<g>... diff stat p q significant
 *   spectra_<layer>_<quantity>.svg  trajectories, one line per group
 * Quantities (per layer, group "all" and every group): grad_sv,
 * grad_sv_persample, grad_rank, grad_effrank, grad_nuclear,
 * grad_nuclear_persample, grad_sv1_share, bound (when an architecture is
 * set), and with act_delta act_sv, act_rank, delta_sv, delta_rank. */
typedef struct ns_spectra_tracker ns_spectra_tracker;

/* group_names: ngroups labels (copied); ngroups may be 0 (only "all"). */
ns_status ns_spectra_tracker_create(const char *out_dir, const ns_spectra_opts *o,
                                    const char *const *group_names, int ngroups,
                                    ns_spectra_tracker **out);
/* Architecture for the bound column (copied); optional. */
void ns_spectra_tracker_set_arch(ns_spectra_tracker *t, const ns_spectra_arch *a);
/* Starts fold `fold` (0 when there is a single model). sample_group: group
 * (0..ngroups-1, negative = none) of every sample of the data the model is
 * trained on, indexed as the tap's sample_idx; when that data is a subset
 * (a CV fold's training rows) of a larger table, give the table's groups
 * and the subset's rows (sample_rows[i] = table row of training sample i),
 * else sample_rows = NULL. Copied. */
ns_status ns_spectra_tracker_begin_fold(ns_spectra_tracker *t, int fold, const int *sample_group,
                                        const size_t *sample_rows, size_t nsamples);

/* One layer of one step, as the tap delivers it (models-free mirror of
 * ns_nn_tap_event). */
typedef struct {
    const char *name;
    const ns_matrix *A, *D;
    size_t nsamples, rows_per_sample;
    const size_t *sample_idx; /* may be NULL: 0..nsamples-1 */
    long step;
    int epoch;
} ns_spectra_layer;
/* Records one layer of one step (skipped unless step % every == 0). Once
 * every layer has been seen, the only allocation on this path is the
 * amortised (doubling) growth of the in-memory record array. */
ns_status ns_spectra_tracker_layer(ns_spectra_tracker *t, const ns_spectra_layer *l);
/* Writes the summaries, the group comparison and the SVGs, and commits the
 * files. Call once, after the last fold. */
ns_status ns_spectra_tracker_finish(ns_spectra_tracker *t);
void ns_spectra_tracker_free(ns_spectra_tracker *t);

/* One batch (neurospectra grad): spectra of every layer fed to it, written
 * as TSV `layer group quantity index value` (all singular values). */
typedef struct ns_spectra_batch ns_spectra_batch;
/* sample_group: group value of each of the nsamples samples (any ints;
 * groups are named by their values); NULL = only "all". */
ns_status ns_spectra_batch_create(const int *sample_group, size_t nsamples,
                                  const ns_spectra_opts *o, ns_spectra_batch **out);
ns_status ns_spectra_batch_layer(ns_spectra_batch *b, const ns_spectra_layer *l);
/* Architecture for the bound rows (optional, copied). */
void ns_spectra_batch_set_arch(ns_spectra_batch *b, const ns_spectra_arch *a);
ns_status ns_spectra_batch_write(const ns_spectra_batch *b, const char *path);
void ns_spectra_batch_free(ns_spectra_batch *b);

/* Groups of n participants from a participants.tsv column: ids are matched
 * on participant_id ("sub-" optional on either side); a missing participant
 * or an n/a cell gives -1 (in no group, still in "all"). *names: the
 * distinct values sorted (numerically when all are numbers), *ngroups of
 * them; group[i] indexes names. Caller frees group, each name and names. */
ns_status ns_spectra_groups_from_tsv(const char *tsv_path, const char *column,
                                     const char *const *ids, size_t n, int **group,
                                     char ***names, int *ngroups);

/* ==================== the layer tap (spectra/tap.c, built with models) */
#ifdef NS_HAVE_MODELS
#include "models/models.h"

/* Subscribes t to the model's layer tap and takes the bounds' architecture
 * from the model; *sub receives the id for ns_spectra_detach. */
ns_status ns_spectra_attach(ns_spectra_tracker *t, ns_nn *m, int *sub);
void ns_spectra_detach(ns_nn *m, int sub);
/* The architecture of a model (for ns_spectra_bounds). */
ns_status ns_spectra_arch_from_nn(const ns_nn *m, ns_spectra_arch *a);

/* neurospectra train: creates a tracker writing into out_dir and wires it
 * into the CV driver: cp->observer learns each outer fold's training rows
 * (any observer already set is still called), hooks->created subscribes the
 * fold's network (tag = outer fold, -1 = the model on all rows; inner-CV
 * fits and refits of a fold already recorded, e.g. permutation tests, are
 * not recorded), hooks->trained unsubscribes; hooks another stage set
 * before (dist's fit) are kept and called with their own ctx. Groups come from column
 * group_column of labels_tsv for the n participants ids (NULL column: only
 * "all"). The tracker (owned by the caller: ns_spectra_tracker_finish after
 * training, then free) must outlive the CV run. */
ns_status ns_spectra_train_begin(const char *out_dir, const ns_spectra_opts *o,
                                 const char *labels_tsv, const char *group_column,
                                 const char *const *ids, size_t n, ns_cv_params *cp,
                                 ns_clf_nn_hooks *hooks, ns_spectra_tracker **out);

/* neurospectra grad: subscribes a one-batch collector to m (groups: n
 * per-sample values, any ints); run ns_nn_forward_backward, then
 * ns_spectra_batch_end writes path (`layer group quantity index value`,
 * every singular value, with bounds) and frees b; path NULL only frees. */
ns_status ns_spectra_batch_begin(ns_nn *m, const int32_t *groups, size_t n,
                                 ns_spectra_batch **out);
ns_status ns_spectra_batch_end(ns_spectra_batch *b, ns_nn *m, const char *path);
#endif

#ifdef __cplusplus
}
#endif
#endif
