/* neurospectra fnc: post-processing of ICA timecourses and functional
 * network connectivity (static, multi-scale and dynamic), after GIFT.
 *
 * Layout of every timecourse matrix in this module: T x K row-major doubles
 * (time points in rows, components in columns), as the TSV files hold them.
 * All numerics run in double precision.
 *
 * The post-processing chain per run (docs/fnc.md):
 *   1. detrend: least-squares removal of mean, linear ramp and sine/cosine of
 *      1 and 2 cycles over the run (6 regressors), together with optional
 *      nuisance confounds (z-scored; n/a cells set to 0 after z-scoring, i.e.
 *      to the column mean), in one fit;
 *   2. despike: 3-point moving average s, r = |x - s|, points with
 *      r > 2.5 std(r) replaced by s (end points: s = x), GIFT's smoother rule;
 *   3. low-pass: Butterworth (order 5, 0.15 Hz) designed as scipy.signal.butter
 *      and applied forward-backward as scipy.signal.filtfilt (odd extension of
 *      3 * (order + 1) points, lfilter_zi initial conditions).
 * Then Pearson correlation, diagonal 0, Fisher z with |r| clamped to
 * 1 - NS_FNC_R_GUARD. */
#ifndef NS_FNC_H
#define NS_FNC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_FNC_MAX_ORDER 12     /* highest Butterworth order supported */
#define NS_FNC_NDETREND 6       /* regressors of the GIFT detrend */
#define NS_FNC_R_GUARD 1e-7     /* Fisher z: |r| is clamped to 1 - guard */

/* ------------------------------------------------------------- filtering */

/* A digital IIR filter in transfer-function form, a[0] == 1. */
typedef struct {
    int order;                          /* len(b) == len(a) == order + 1 */
    double b[NS_FNC_MAX_ORDER + 1];
    double a[NS_FNC_MAX_ORDER + 1];
} ns_fnc_iir;

/* Low-pass Butterworth of the given order with normalised cut-off wn in
 * (0, 1) (1 = Nyquist), computed exactly as scipy.signal.butter(order, wn):
 * analog prototype poles, pre-warping, bilinear transform (fs = 2), zpk ->
 * polynomial. NS_ERR_ARG for an order outside 1..NS_FNC_MAX_ORDER or wn
 * outside (0, 1). */
ns_status ns_fnc_butter_lowpass(int order, double wn, ns_fnc_iir *out);

/* Steady-state initial conditions of lfilter for a unit step input, as
 * scipy.signal.lfilter_zi(b, a): zi has f->order values. */
ns_status ns_fnc_lfilter_zi(const ns_fnc_iir *f, double *zi);

/* Padding length filtfilt uses: 3 * (order + 1). Needs T > padlen. */
size_t ns_fnc_filtfilt_padlen(const ns_fnc_iir *f);

/* Workspace size (doubles) ns_fnc_filtfilt needs for T x K. */
size_t ns_fnc_filtfilt_worksize(const ns_fnc_iir *f, size_t T, size_t K);

/* Zero-phase filtering of every column of x (T x K row-major, in place),
 * equal to scipy.signal.filtfilt(b, a, x, axis=0) with its defaults (odd
 * extension, padlen = 3 * max(len(a), len(b)), lfilter_zi scaled by the
 * first sample of each pass). work: ns_fnc_filtfilt_worksize doubles, or
 * NULL to allocate. NS_ERR_DATA when T <= padlen. */
ns_status ns_fnc_filtfilt(const ns_fnc_iir *f, double *x, size_t T, size_t K, double *work);

/* ------------------------------------------------------ post-processing */

/* The 6 detrend regressors for T points (T x 6 row-major): constant, linear
 * ramp, sin and cos of 1 and 2 cycles over the run; all but the constant are
 * mean-centred. */
void ns_fnc_detrend_design(size_t T, double *X);

/* Residuals of the least-squares fit of every column of y (T x K) on the
 * columns of X (T x p): y <- y - X pinv(X) y. Rank-deficient X is fine
 * (singular values below 1e-10 of the largest are dropped). */
ns_status ns_fnc_regress_out(double *y, size_t T, size_t K, const double *X, size_t p);

/* Despikes every column of x (T x K, in place) by GIFT's smoother rule:
 * s = moving average over `span` points (odd, >= 3; MATLAB smooth: the span
 * shrinks near the ends, end points unchanged), r = |x - s|, points with
 * r > 2.5 std(r) (sample std) replaced by s. The reference span is 3 (newer
 * GIFT releases use 5). Returns the number of replaced points in *nreplaced
 * (may be NULL). work: 3 * T * K doubles or NULL. */
ns_status ns_fnc_despike(double *x, size_t T, size_t K, int span, double *work,
                         size_t *nreplaced);

/* Options of the whole chain. */
typedef struct {
    double tr;            /* repetition time in s (> 0, required) */
    int detrend;          /* 1 (default): the 6-regressor detrend */
    int despike;          /* 1 (default) */
    int despike_span;     /* 3 (default): moving-average span of the despike */
    double lowpass_hz;    /* 0.15 (default); <= 0 disables */
    int filter_order;     /* 5 (default) */
} ns_fnc_postproc_opts;

void ns_fnc_postproc_defaults(ns_fnc_postproc_opts *o);

/* A prepared chain for runs of T time points: designs, filter, workspaces.
 * Not thread-safe; use one per thread. */
typedef struct ns_fnc_postproc ns_fnc_postproc;

/* NS_ERR_ARG for a missing TR; NS_ERR_DATA when T is too short for the
 * filter (T <= 3 * (order + 1)) or the detrend (T <= 6). When the cut-off is
 * at or above Nyquist (0.5 / TR) the low-pass is skipped: see
 * ns_fnc_postproc_lowpass_applied. */
ns_status ns_fnc_postproc_create(const ns_fnc_postproc_opts *o, size_t T, ns_fnc_postproc **out);
void ns_fnc_postproc_free(ns_fnc_postproc *p);
/* 1 when the low-pass runs, 0 when skipped (disabled, or cut-off >= Nyquist). */
int ns_fnc_postproc_lowpass_applied(const ns_fnc_postproc *p);
/* The filter in use (borrowed; NULL when the low-pass is skipped). */
const ns_fnc_iir *ns_fnc_postproc_filter(const ns_fnc_postproc *p);

/* Runs the chain on x (T x K, in place). conf: T x C confounds (NaN =
 * missing) regressed out with the detrend, or NULL / C = 0; constant confound
 * columns are ignored. Stops after the despike when stop_before_lowpass (for
 * spectra). nspikes may be NULL. NS_ERR_DATA for non-finite timecourse values. */
ns_status ns_fnc_postproc_run(ns_fnc_postproc *p, double *x, size_t K, const double *conf,
                              size_t C, int stop_before_lowpass, size_t *nspikes);

/* Fraction of the periodogram power (DC excluded) at frequencies <= f_hz,
 * per column of x (T x K), for TR tr. Written to frac (K values). */
ns_status ns_fnc_lowfreq_fraction(const double *x, size_t T, size_t K, double tr, double f_hz,
                                  double *frac);

/* --------------------------------------------------------- correlation */

/* Pearson correlation of the columns of x (T x K) into r (K x K, full
 * symmetric), diagonal 0. work: T * K doubles or NULL. NS_ERR_DATA (naming
 * the 0-based column in the message) when a column has zero variance. */
ns_status ns_fnc_corr(const double *x, size_t T, size_t K, double *r, double *work);

/* Fisher z = atanh(r) in place over n values, |r| clamped to 1 - guard
 * (guard <= 0: NS_FNC_R_GUARD). NaN stays NaN. */
void ns_fnc_fisher_z(double *r, size_t n, double guard);

/* Static FNC: ns_fnc_corr then ns_fnc_fisher_z on every off-diagonal cell. */
ns_status ns_fnc_static(const double *x, size_t T, size_t K, double *z, double *work);

/* Number of upper-triangle edges K (K-1) / 2. */
size_t ns_fnc_nedges(size_t K);
/* Copies the upper triangle (i < j, row by row) of the K x K matrix m. */
void ns_fnc_upper(const double *m, size_t K, double *edges);

/* ------------------------------------------------------------- dynamic */

/* The tapered window of GIFT: a rectangle of w points convolved with a
 * Gaussian of sigma points, peak 1, for a window starting at `start` in a
 * run of T points (c: T values; no circular wrap, tails cut at the ends). */
void ns_fnc_dfnc_taper(size_t T, size_t w, double sigma, size_t start, double *c);

/* Number of windows: T - w (step 1), 0 when T <= w. */
size_t ns_fnc_dfnc_nwindows(size_t T, size_t w);

/* Windowed FNC of x (T x K): for each window, Pearson correlation of the
 * tapered series x(t) c(t) over the run (as GIFT), Fisher z, upper triangle.
 * out: nwindows x nedges floats, row-major. NS_ERR_DATA when T <= w or a
 * tapered column is constant. */
ns_status ns_fnc_dfnc_windows(const double *x, size_t T, size_t K, size_t w, double sigma,
                              float *out);

/* k-means with city-block (L1) distance; centroids are per-dimension
 * medians (as MATLAB kmeans 'cityblock'). */
typedef struct {
    int k;              /* clusters (>= 1) */
    int replicates;     /* seeded k-means++ starts, best cost kept (5) */
    int max_iter;       /* 150 */
    uint64_t seed;
} ns_fnc_kmeans_opts;

void ns_fnc_kmeans_defaults(ns_fnc_kmeans_opts *o);

typedef struct {
    double cost;        /* sum of L1 distances to the assigned centroid */
    int iterations;     /* of the best replicate */
    int converged;      /* labels stopped changing before max_iter */
} ns_fnc_kmeans_info;

/* Clusters the n rows of data (n x d floats). labels: n ints in 0..k-1;
 * centroids: k x d floats. When init is non-NULL (k x d) it is the single
 * start (replicates ignored). Empty clusters are re-seeded with the point
 * farthest from its centroid. NS_ERR_ARG when n < k. */
ns_status ns_fnc_kmeans_l1(const float *data, size_t n, size_t d, const ns_fnc_kmeans_opts *o,
                           const float *init, int *labels, float *centroids,
                           ns_fnc_kmeans_info *info);

/* Indices of the local maxima (over windows) of the standard deviation
 * across edges of windowed FNC (n x d): GIFT's subject exemplars. idx needs
 * n entries; the count is returned in *nidx (at least 1 when n >= 1). */
void ns_fnc_dfnc_exemplars(const float *win, size_t n, size_t d, size_t *idx, size_t *nidx);

/* Summary of one state sequence (labels of n windows, k states). */
typedef struct {
    double *fraction;    /* k: fraction of windows in each state */
    double *mean_dwell;  /* k: mean run length (windows) of each state, 0 if absent */
    size_t *transitions; /* k x k: counts of i -> j changes between consecutive windows */
    size_t ntransitions; /* number of state changes */
} ns_fnc_state_stats;

/* Fills s (arrays allocated here; free with ns_fnc_state_stats_free). */
ns_status ns_fnc_state_stats_compute(const int *labels, size_t n, int k, ns_fnc_state_stats *s);
void ns_fnc_state_stats_free(ns_fnc_state_stats *s);

/* ------------------------------------------------------------ numeric TSV */

/* A numeric table as read from a TSV with a header row: nrows x ncols
 * doubles, row-major, "n/a" / empty cells as NaN. */
typedef struct {
    size_t nrows, ncols;
    char **header;   /* ncols names */
    double *x;       /* nrows * ncols */
} ns_fnc_table;

/* Reads path; NS_ERR_FORMAT (naming the file, line and column) for a
 * non-numeric cell or a ragged row. */
ns_status ns_fnc_table_read(const char *path, ns_fnc_table **out);
void ns_fnc_table_free(ns_fnc_table *t);

/* Writes a labelled square or rectangular matrix fast: first header cell
 * `label`, then col_names; each row starts with row_names[i]. Values with
 * `decimals` digits after the point (fixed notation; NaN as n/a). Atomic. */
ns_status ns_fnc_write_labelled(const char *path, const double *x, size_t rows, size_t cols,
                                const char *label, const char *const *row_names,
                                const char *const *col_names, int decimals);

/* Appends v in fixed notation with `decimals` digits (<= 9) to buf (needs
 * 32 bytes); returns the number of characters written. NaN -> "n/a". */
int ns_fnc_format_fixed(char *buf, double v, int decimals);

/* ---------------------------------------------------------------- study */

/* Called once per failed run or participant with a message naming it. */
typedef void (*ns_fnc_error_fn)(void *ctx, const char *message);

/* Scale-out: how a process that handles a share of the participants joins
 * the study-wide steps (dist/scale_fnc.c implements it over MPI; fnc knows
 * nothing of MPI). The participants, sorted, are dealt in contiguous
 * blocks: part q of n handles participants [q P / n, (q + 1) P / n) (as
 * `ica` deals subjects), so that the parts' outputs concatenated in part
 * order are the one-process order. */
typedef struct {
    int index, count;
    void *ctx;
    /* x[0..n) replaced on every part by its element-wise sum over parts */
    ns_status (*sum)(void *ctx, double *x, size_t n);
    /* every part's buffer handed to sink on part 0, one part at a time in
     * part order (part 0 holds one part's share at a time, not the sum) */
    ns_status (*gather)(void *ctx, const void *buf, size_t n,
                        ns_status (*sink)(void *sctx, const void *chunk, size_t len), void *sctx);
    /* st on every part when no part failed, else an error on every part */
    ns_status (*agree)(void *ctx, ns_status st);
} ns_fnc_part;

/* What `neurospectra fnc OUT` does, as a library call (docs/fnc.md). */
typedef struct {
    const char *out_dir;      /* derivatives tree written by `neurospectra ica` */
    const int *orders;        /* model orders to use; NULL: every order found */
    int norders;
    double tr;                /* > 0: given by the user (overrides the data, with a
                                 warning when they differ); 0: from the data */
    const char *confounds;    /* NULL or "none": no nuisance regression; else
                                 comma-separated confound columns, "motion" =
                                 trans_x,trans_y,trans_z,rot_x,rot_y,rot_z */
    ns_fnc_postproc_opts pp;  /* pp.tr is ignored (per run) */
    double select_iq;         /* keep stability_index >= this; < 0: off */
    double select_lowfreq;    /* keep fraction of power <= lowfreq_hz >= this; < 0: off */
    double lowfreq_hz;        /* 0.1 */
    const char *components;   /* NULL, or comma-separated component ids to keep
                                 (ANDed with the criteria above) */
    int dynamic;              /* run dynamic FNC */
    size_t window;            /* dFNC window in TRs (30) */
    double taper_sigma;       /* Gaussian taper sigma in TRs (3) */
    ns_fnc_kmeans_opts km;    /* km.k = number of states (5) */
    int decimals;             /* digits after the point in the TSVs (6) */
    ns_fnc_error_fn on_error; /* may be NULL */
    void *ctx;
    const ns_fnc_part *part;  /* NULL: this process handles every participant */
} ns_fnc_study_opts;

typedef struct {
    size_t runs, runs_failed;   /* timecourse sets found / failed */
    size_t participants;        /* rows of the feature table */
    size_t components, kept;    /* components over all orders / selected */
    size_t edges;               /* feature columns */
    size_t windows;             /* dFNC windows clustered */
    size_t runs_local;          /* runs this process handled (all without a part) */
} ns_fnc_study_result;

void ns_fnc_study_defaults(ns_fnc_study_opts *o);

/* Runs post-processing, static / multi-scale FNC, the feature table and
 * (optionally) dynamic FNC over every run in o->out_dir, writing the outputs
 * into the same tree. A failing run is reported through on_error and
 * counted in res->runs_failed while the others go on; the return value is
 * an error only for study-wide failures (nothing to process, unreadable
 * stability table, failed group outputs). */
ns_status ns_fnc_study_run(const ns_fnc_study_opts *o, ns_fnc_study_result *res);

#ifdef __cplusplus
}
#endif
#endif
