/* Private to the spectra module sources. */
#ifndef NS_SPECTRA_INT_H
#define NS_SPECTRA_INT_H

#include "spectra/spectra.h"

/* The singular-value workspace; buffers hold floats or doubles (prec). */
struct ns_spectra_ws {
    ns_spectra_precision prec;
    size_t rows, h_in, h_out;  /* capacity */
    void *a, *d;               /* gathered rows, column-major A_g^T (h_in x n), D_g^T */
    void *r1, *r2, *m, *g;     /* R1, R2 (k x n), R2 R1^T, the formed G (h_out x h_in) */
    void *c1, *c2;             /* column subsets of R1, R2 (a group's rows) */
    size_t *cols;              /* the group's rows (rows capacity) */
    void *s, *tau, *work;
    size_t lwork;
    int *iwork;
    int simd;                  /* our kernels (hqr.c) at this level; 0: LAPACK's only (set
                                * from the CPU at creation; tests force 0) */
};

/* Precision-specific kernels (sv_impl.h instantiated in sv.c). Each returns
 * the number of singular values written to ws->s (descending) or -1 with
 * the LAPACK info in *info. */
size_t sv_gather_f32(const ns_matrix *X, const int *rg, int g, float *out);
size_t sv_gather_f64(const ns_matrix *X, const int *rg, int g, double *out);
int sv_r_factor_f32(ns_spectra_ws *ws, float *x, size_t m, size_t n, float *r);
int sv_r_factor_f64(ns_spectra_ws *ws, double *x, size_t m, size_t n, double *r);
int sv_qr_factor_f32(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out);
int sv_qr_factor_f64(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out);
long sv_qr_cols_f32(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out, const size_t *cols,
                    size_t nc, int *info);
long sv_qr_cols_f64(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out, const size_t *cols,
                    size_t nc, int *info);
long sv_r_cols_f32(ns_spectra_ws *ws, const float *r, size_t k, const size_t *cols, size_t nc,
                   int *info);
long sv_r_cols_f64(ns_spectra_ws *ws, const double *r, size_t k, const size_t *cols, size_t nc,
                   int *info);
long sv_full_f32(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out, int *info);
long sv_full_f64(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out, int *info);
long sv_plain_f32(ns_spectra_ws *ws, void *x, size_t cols, size_t n, int *info);
long sv_plain_f64(ns_spectra_ws *ws, void *x, size_t cols, size_t n, int *info);
size_t sv_lwork_f32(size_t rows, size_t h_in, size_t h_out);
size_t sv_lwork_f64(size_t rows, size_t h_in, size_t h_out);

/* hqr.c: R factor (min(m, n) x n, leading dimension ldr, zeros below the
 * diagonal) of x (m x n column-major, leading dimension ld, destroyed) by
 * Householder reflectors as LAPACK's geqrf makes them, without its per-column
 * call overhead; simd: the highest vector variant allowed (0 plain C, 1
 * AVX2+FMA), capped at what the CPU runs. r may overlap
 * x when ldr <= ld (written behind the reads). x must hold values of a float
 * matrix (the range argument in hqr_impl.h). */
void sv_hqr_f32(float *x, size_t m, size_t n, size_t ld, float *r, size_t ldr, int simd);
void sv_hqr_f64(double *x, size_t m, size_t n, size_t ld, double *r, size_t ldr, int simd);
/* Singular values (descending, min(m, n) into s) of a small x (m x n,
 * leading dimension ld, destroyed; float-matrix values as above): our
 * Householder bidiagonalisation, then LAPACK's bdsqr (dqds). work:
 * sv_small_lwork(m, n) values. Returns bdsqr's info (0 = converged), or
 * -5 (as LAPACKE's NaN check of A) when x holds NaN or Inf or overflows. */
int sv_small_sv_f32(float *x, size_t m, size_t n, size_t ld, float *s, float *work, int simd);
int sv_small_sv_f64(double *x, size_t m, size_t n, size_t ld, double *s, double *work, int simd);
size_t sv_small_lwork(size_t m, size_t n);
/* The best variant this CPU runs: 0 plain C, 1 AVX2+FMA. */
int sv_hqr_simd_available(void);
/* The variant the library asks for (capped by the CPU). */
#define SV_SIMD 1

/* Names of the quantities the tracker and batch writer emit. */
typedef enum {
    Q_GRAD_SV = 0, Q_GRAD_SV_PS, Q_GRAD_RANK, Q_GRAD_EFFRANK, Q_GRAD_NUCLEAR, Q_GRAD_NUCLEAR_PS,
    Q_GRAD_SV1_SHARE, Q_BOUND, Q_ACT_SV, Q_ACT_RANK, Q_DELTA_SV, Q_DELTA_RANK, Q_COUNT
} spectra_quantity;
extern const char *const spectra_quantity_names[Q_COUNT];

/* Emits one row: group (-1 = all), quantity, index (1-based), value. */
typedef ns_status (*spectra_emit_fn)(void *user, int group, spectra_quantity q, size_t index,
                                     double value);

/* v as text into out (>= 32 chars, NUL-terminated): integers exactly,
 * others with 9 significant digits (d.dddddddde-XX, enough to round-trip
 * float32), NaN as n/a. Returns the length. A printf-free path: the long
 * table has hundreds of rows per step. */
size_t spectra_format(char *out, double v);

/* Per-layer scratch shared by the tracker and the batch writer. */
typedef struct {
    ns_spectra_ws *ws;
    double *sv;              /* (ngroups + 1) x ldsv */
    size_t ldsv, ngcap;
    ns_spectra_stats *st;    /* ngroups + 1 */
    int *row_group;          /* capacity rgcap */
    size_t rgcap;
} spectra_scratch;

/* Sizes sc for a layer and ngroups groups (allocates only when it grows). */
ns_status spectra_scratch_reserve(spectra_scratch *sc, size_t rows, size_t h_in, size_t h_out,
                                  int ngroups, ns_spectra_precision prec);
void spectra_scratch_free(spectra_scratch *sc);
/* Computes and emits every quantity of one layer for all rows and each
 * group 0..ngroups-1 (row_group may be NULL with ngroups 0), topk singular
 * values (0 = all). bound[g + 1]: the layer's bound for group g (bound[0]
 * all rows; SIZE_MAX or bound NULL: none). Groups without rows emit
 * nothing. */
ns_status spectra_emit_layer(spectra_scratch *sc, const ns_spectra_layer *l, const int *row_group,
                             int ngroups, const ns_spectra_opts *o, const size_t *bound,
                             spectra_emit_fn emit, void *user);
/* The tap subscription of a one-batch collector (-1 = none). */
void spectra_batch_set_sub(ns_spectra_batch *b, int sub);
int spectra_batch_sub(const ns_spectra_batch *b);
/* The bound of layer `name` for nsamples samples, or SIZE_MAX. */
size_t spectra_layer_bound(const ns_spectra_arch *a, const char *name, size_t nsamples);
/* Bounds of one layer by sample count, remembered: a bound takes a pass
 * over the whole architecture with its rule texts (microseconds), asked for
 * every group of every layer at every step. b[n] = bound + 1, 0 = not yet. */
typedef struct {
    size_t *b;
    size_t cap;
} spectra_bound_memo;
/* bound[0] for all samples of the layer's batch, bound[g + 1] for group g
 * (B8: the bound for its sample count); SIZE_MAX everywhere without arch.
 * rg: the layer's row groups (rows n*R .. belong to sample n) or NULL.
 * memo (may be NULL): that layer's memo for this arch (empty it with
 * spectra_bound_memo_free when the arch changes). */
void spectra_group_bounds(const ns_spectra_arch *a, const ns_spectra_layer *l, const int *rg,
                          int ngroups, size_t *bound, spectra_bound_memo *memo);
void spectra_bound_memo_free(spectra_bound_memo *memo);

/* ------------------------------------------------------------ tracker */

/* One value of the long table, kept for the summaries and group tests. */
typedef struct {
    int32_t fold, epoch, step;
    uint16_t layer, group; /* group 0 = "all", g + 1 = group g */
    uint8_t q;
    uint16_t index;
    float value;
} spectra_rec;

#define SPECTRA_MAXLAYERS 64

typedef struct {
    char name[32];
    spectra_scratch sc;
    spectra_bound_memo memo;
} spectra_layer_state;

struct ns_spectra_tracker {
    char *dir;
    ns_spectra_opts o;
    char **gnames;
    int ngroups;
    ns_spectra_arch arch;
    int have_arch;
    int fold;
    int *sample_group;          /* current fold, by sample index */
    size_t nsamples;
    ns_afile *tsv;              /* spectra.tsv, streamed */
    spectra_layer_state layers[SPECTRA_MAXLAYERS];
    int nlayers;
    spectra_rec *recs;
    size_t nrecs, caprecs;
    spectra_rec cur;            /* fold/epoch/step/layer/group of the rows being emitted */
    char prefix[192];           /* "fold\tepoch\tstep\tlayer\tgroup\t" of cur */
    size_t prefix_len;
    int prefix_group;           /* the group prefix was made for (-2: none) */
    int finished;
    size_t *bound;              /* ngroups + 1: the current layer's bound per group */
    void *glue;                 /* tap.c's training glue, freed with the tracker */
    void (*glue_free)(void *);
};

/* summary.c: spectra_epochs.tsv, spectra_groups.tsv and the SVGs. */
ns_status spectra_write_summaries(ns_spectra_tracker *t);
/* "all" or the group's name (borrowed). */
const char *spectra_group_name(const ns_spectra_tracker *t, int g1);

#endif
