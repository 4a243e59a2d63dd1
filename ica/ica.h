/* neurospectra ica: group spatial ICA of fMRI at several model orders.
 *
 * The pipeline follows GIFT's defaults (reference/ica_fnc.md section 1):
 * group mask from the subjects' first volumes, preprocessing, subject PCA via
 * the T x T covariance, streaming group PCA (MIGP), Infomax (or FastICA),
 * ICASSO stability, back-reconstruction (GICA1, GICA3, dual regression) and
 * z-scaling. Several orders share each pass over the data.
 *
 * Two layers:
 * - numerical building blocks on matrices (no files), usable on their own and
 *   by the tests of later stages (Hungarian matching, scoring);
 * - the file pipeline (ns_ica_fit, ns_ica_apply_model) writing the BIDS
 *   derivative outputs described in docs/ica.md.
 *
 * Conventions: data matrices are float32 ns_matrix, time x voxels (T x V),
 * rows = time points. Small matrices (K x K, T x p) are double, row-major.
 * Every function returning ns_status sets ns_error() on failure. */
#ifndef NS_ICA_H
#define NS_ICA_H

#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- mask */

/* GIFT's mask rule on one first volume: voxels whose value is finite and at
 * least the mean of all finite voxels (background included). The result is
 * AND-ed into mask (nvox bytes; initialise to 1). Returns the number of
 * voxels still set. */
size_t ns_ica_mask_and_volume(const float *vol, size_t nvox, uint8_t *mask);

/* -------------------------------------------------------- preprocessing */

typedef enum {
    NS_ICA_PRE_TIMEMEAN = 0, /* remove each time point's mean (GIFT default) */
    NS_ICA_PRE_VOXELMEAN,    /* remove each voxel's mean */
    NS_ICA_PRE_INTENSITY,    /* scale each voxel's mean to 100 */
    NS_ICA_PRE_VARIANCE      /* linear detrend, divide by std, per voxel */
} ns_ica_preproc;

const char *ns_ica_preproc_name(ns_ica_preproc p);
/* Parses "timemean", "voxelmean", "intensity", "variance". 0 on success. */
int ns_ica_preproc_parse(const char *s, ns_ica_preproc *out);

/* Applies p to x (T x V) in place, then removes each time point's mean (as
 * the PCA stage of GIFT does whatever the option). NS_ERR_DATA when a value
 * is not finite or an intensity-normalised voxel has a zero mean; who names
 * the subject in the message. */
ns_status ns_ica_preprocess(ns_matrix *x, ns_ica_preproc p, const char *who);

/* ---------------------------------------------------------- subject PCA */

/* The top p eigenpairs of C = X X^T / (V-1) for one subject. */
typedef struct {
    size_t t, p;
    double *evec;    /* t x p row-major: column j = eigenvector j (F) */
    double *eval;    /* p, descending (L) */
    double *spectrum;/* t, all eigenvalues descending (saved in the spectra) */
} ns_ica_spca;

/* Subject PCA of x (T x V, preprocessed) keeping p eigenpairs (p < T), and
 * the whitened reduced data y = L^-1/2 F^T X (p x V, allocated here; rows
 * have covariance I). x is left centred on its voxel means (Xc = X - 1 m^T,
 * as ns_ica_subject_whitener leaves it). who names the subject in errors. */
ns_status ns_ica_subject_pca(ns_matrix *x, size_t p, const char *who, ns_ica_spca *out,
                             ns_matrix **y);
void ns_ica_spca_clear(ns_ica_spca *s);

/* The subject PCA's whitening as factors of y, for a group PCA that need
 * not form y: y = mix [Xc; m^T] with mix = [Wh, Wh 1] (p x (t+1)) and Xc =
 * X - 1 m^T, the data centred on their voxel means (the factored form). */
typedef struct {
    size_t p, t;
    float *m;    /* V voxel means of x */
    double *mix; /* p x (t+1), row-major */
} ns_ica_whitener;

/* ns_ica_subject_pca without y: the eigenpairs (out) and the whitener; x
 * is centred in place (Xc), so that x and w are the factored form. */
ns_status ns_ica_subject_whitener(ns_matrix *x, size_t p, const char *who, ns_ica_spca *out,
                                  ns_ica_whitener *w);
/* y (p x V, allocated here) = mix [Xc; m^T] from the factored form. */
ns_status ns_ica_whitener_apply(const ns_ica_whitener *w, const ns_matrix *xc, ns_matrix **y);
void ns_ica_whitener_clear(ns_ica_whitener *w);

/* ------------------------------------------------------------ group PCA */

/* Streaming group PCA of the stacked reduced data Y = [Y_1; ...; Y_M]: MIGP
 * (keep a running matrix of `work` rows; append each subject; re-reduce by
 * the eigendecomposition of the small Gram matrix). Memory: (work + p) x V
 * floats whatever M. work = 0 means exact (stacked EVD: keeps every row,
 * memory M p V; for small data only). */
typedef struct ns_ica_gpca ns_ica_gpca;

ns_ica_gpca *ns_ica_gpca_create(size_t v, size_t work);
void ns_ica_gpca_free(ns_ica_gpca *g);
/* Appends one subject's y (p x V). Subjects may differ in p. */
ns_status ns_ica_gpca_add(ns_ica_gpca *g, const ns_matrix *y);
/* The same for a whitened y (the subject PCA's, Y Y^T = (V-1) I): its own
 * Gram block is taken as (V-1) I rather than computed (MIGP). */
ns_status ns_ica_gpca_add_white(ns_ica_gpca *g, const ns_matrix *y);
/* The same for the whitened y given in the factored form (x centred, its
 * whitener), without forming y (MIGP only): saves y's p x T x V product
 * where p is close to T. */
ns_status ns_ica_gpca_add_factored(ns_ica_gpca *g, const ns_matrix *x, const ns_ica_whitener *w);
/* Whether that saves work for p subject PCs of t time points, in a group
 * PCA of `work` MIGP rows (0: the exact stacked PCA, which takes y). */
int ns_ica_gpca_factored_pays(size_t work, size_t p, size_t t);
/* The top k components: *z (k x V) = whitened group PCA maps, Z = Wh2 Y
 * (rows orthogonal, Z Z^T / (V-1) = I); eigenvalues (k values, descending) of
 * the group covariance Y Y^T / (V-1). eig may be NULL. Also returns every
 * eigenvalue held (*nall, *all, may be NULL) for the spectrum. */
ns_status ns_ica_gpca_result(const ns_ica_gpca *g, size_t k, ns_matrix **z, double *eig,
                             double **all, size_t *nall);
/* One block power iteration of the group PCA (subspace iteration, as in
 * GIFT's MPOWIT) from MIGP's rows: Q = the rows normalised (those above
 * 1e-6 of the first's variance), Z = Q S summed over the subjects, S =
 * Y^T Y; the directions of Z (Rayleigh-Ritz on Q S^2 Q^T) replace them.
 * Memory: as many floats again as the rows.
 * Begin; per subject its coefficients d (in parallel, any order: reads g
 * only) and its add (in subject order, so that results do not depend on
 * it); end. A subject is y (whitened, p x V) or, y NULL, the factored
 * form (x centred, its whitener). The caller frees d. */
ns_status ns_ica_gpca_power_begin(ns_ica_gpca *g);
ns_status ns_ica_gpca_power_coefs(const ns_ica_gpca *g, const ns_matrix *x,
                                  const ns_ica_whitener *w, const ns_matrix *y, float **d);
ns_status ns_ica_gpca_power_add(ns_ica_gpca *g, const ns_matrix *x, const ns_ica_whitener *w,
                                const ns_matrix *y, const float *d);
ns_status ns_ica_gpca_power_end(ns_ica_gpca *g);
/* Instead of _power_end after the last iteration: Rayleigh-Ritz on the
 * block Krylov space span [Q; Z] (twice the rows), which one more, lighter
 * pass completes. _rr_begin makes the rows R that span Z outside Q; the
 * pass (the same _coefs and _add) sums R S R^T; _power_end then keeps the
 * top directions of [Q; R] S [Q; R]^T. Closer to the top eigenvectors of
 * S than a second iteration, for half its arithmetic (one product per
 * subject, not two); memory: R, at most as many floats as the rows. When R
 * has no rows (*m = 0 from _power_rows: Z within Q), skip the pass. */
ns_status ns_ica_gpca_rr_begin(ns_ica_gpca *g);
/* The passes above in order, for whoever runs them: ends the pass just
 * run (none before the first) and begins the next, or says there is none
 * (then the rows are final). npower power iterations (the same at every
 * call), the last ended by _rr_begin; the Rayleigh-Ritz pass unless its
 * basis has no rows. npower 0: no pass, MIGP's rows stay. */
typedef enum { NS_GPCA_PASS_NONE = 0, NS_GPCA_PASS_POWER, NS_GPCA_PASS_RR } ns_ica_gpca_pass;
ns_status ns_ica_gpca_refine_next(ns_ica_gpca *g, int npower, ns_ica_gpca_pass *next);
/* A pass shared between processes (MPI): after _power_begin or _rr_begin,
 * the rows to project on (Q or R, *m x V; NULL outside a pass); the sums
 * so far (Z or R S R^T, *rows x *cols), to pass on; and _join, by which an
 * empty MIGP (from _create with the same V) takes the rows (Q, or R if rr)
 * and zero sums, to add its own subjects. */
const float *ns_ica_gpca_power_rows(const ns_ica_gpca *g, size_t *m);
float *ns_ica_gpca_power_sums(ns_ica_gpca *g, size_t *rows, size_t *cols);
ns_status ns_ica_gpca_power_join(ns_ica_gpca *g, const float *q, size_t m, int rr);
/* Rows of Y received so far (M p). */
size_t ns_ica_gpca_rows(const ns_ica_gpca *g);

/* ------------------------------------------------------------------ ICA */

typedef enum { NS_ICA_INFOMAX = 0, NS_ICA_FASTICA } ns_ica_algorithm;

/* What varies between ICASSO runs (Himberg's icassoEst modes): the random
 * initial unmixing (GIFT's default), a bootstrap resample of the columns
 * (voxels) of z with the initialisation fixed, or both. */
typedef enum { NS_ICASSO_RANDINIT = 0, NS_ICASSO_BOOTSTRAP, NS_ICASSO_BOTH } ns_icasso_mode;

typedef struct {
    ns_ica_algorithm algorithm;
    uint64_t seed;
    /* Infomax (0 = GIFT default): learning rate 0.015/ln K, block
     * floor(sqrt(V/3)), stop at change < 1e-6. */
    double lrate;
    size_t block;
    double stop;
    /* Iteration limit; 0 = the algorithm's default (Infomax 512 passes,
     * FastICA 200 iterations as scikit-learn). */
    int max_iter;
    /* FastICA: tolerance on max |1 - |<w_new, w_old>|| (0 = 1e-4, as
     * scikit-learn). */
    double tol;
    /* FastICA warm start: iterate first on every subsample-th voxel (up to
     * 7/8 of max_iter), then on all of them for the rest (0 = default: 4,
     * 8 from K = 64 components; 1 = off). */
    int subsample;
    ns_icasso_mode icasso_mode; /* ICASSO runs (randinit) */
    /* Threads of one run (FastICA's fixed column blocks; 0 = 1). The result
     * does not depend on it. */
    int nthreads;
} ns_ica_opts;

/* Fills the GIFT defaults (Infomax, seed 0). */
void ns_ica_opts_default(ns_ica_opts *o);

typedef struct {
    int iterations;    /* passes (Infomax) or iterations (FastICA) */
    int warm_iterations; /* FastICA iterations of the subsample warm start */
    int restarts;      /* Infomax blow-up restarts */
    double lrate;      /* final learning rate (Infomax) */
    double change;     /* last weight change */
    int converged;
} ns_ica_info;

/* ICA of z (K x V, rows = mixtures; usually the whitened group PCA maps).
 * w (K x K, double, row-major) receives the total unmixing: sources
 * S = W z (including Infomax's sphering); components are flipped to positive
 * skew and sorted by decreasing back-projected variance (FastICA: by decreasing
 * |skewness|, its variances being equal on whitened data). info may be NULL.
 * NS_ERR_NUMERIC when Infomax's learning rate falls below 1e-6. Runs on
 * o->nthreads threads with OpenBLAS held at one (restored after), so the
 * result is the same bits for any o->nthreads and any BLAS setting. */
ns_status ns_ica_unmix(const ns_matrix *z, const ns_ica_opts *o, double *w, ns_ica_info *info);

/* S = W z (K x V float). */
ns_status ns_ica_sources(const ns_matrix *z, const double *w, size_t k, ns_matrix **s);

/* Skewness of each row of s (k values). */
void ns_ica_row_skew(const ns_matrix *s, double *skew);

/* ---------------------------------------------------------------- ICASSO */

typedef struct {
    size_t k, runs;
    double *w;         /* k x k unmixing of the chosen (most stable) run */
    size_t chosen_run; /* 0-based */
    double *iq;        /* k: stability index of each chosen component's cluster */
    size_t *cluster_size; /* k: members of that cluster (<= runs normally) */
    double *intra, *extra; /* k: mean similarity inside / to other clusters */
    ns_ica_info *run_info; /* runs entries */
} ns_icasso;

/* Runs ICA `runs` times (run r seeded with ns_seed_derive(o->seed, r);
 * o->icasso_mode chooses what the seed varies: the initialisation, a
 * bootstrap resample of z's columns whose unmixing is then applied to all
 * of z, or both),
 * clusters the runs*k sources by |correlation| with average linkage into k
 * clusters, computes Iq per cluster and picks GIFT's most stable run: the one
 * whose components lie closest to the centrotypes of the clusters with
 * Iq >= 0.7 and between ceil(0.8 runs) and runs members. With runs == 1 the
 * single run is returned and iq is NaN. nthreads runs in parallel (0 = 1). */
ns_status ns_ica_icasso(const ns_matrix *z, const ns_ica_opts *o, size_t runs, int nthreads,
                        ns_icasso *out);
void ns_icasso_clear(ns_icasso *r);

/* Average-linkage agglomerative clustering of n items with similarity sim
 * (n x n, symmetric) into nclust clusters: label[i] in [0, nclust). */
ns_status ns_ica_cluster_average(const double *sim, size_t n, size_t nclust, int *label);

/* ----------------------------------------------- matching and scoring */

/* Hungarian algorithm: minimum-cost assignment of n rows to m >= n columns
 * (cost n x m, row-major, finite). assign[i] = column of row i. */
ns_status ns_ica_hungarian(const double *cost, size_t n, size_t m, int *assign);

/* Pearson correlation between every row of a (na x len) and of b (nb x len):
 * r (na x nb). Rows with zero variance give r = 0. */
ns_status ns_ica_corr_rows(const ns_matrix *a, const ns_matrix *b, double *r);

typedef struct {
    size_t n;       /* matched pairs = min(na, nb) */
    double mean_r;  /* mean matched |r| */
    double min_r;   /* minimum matched |r| */
    int *match;     /* na entries: index in b matched to row i of a, -1 if none */
    double *r;      /* na entries: signed r of the match (NaN if none) */
} ns_ica_score;

/* Matches the rows of truth (nt x len) to the rows of est (ne x len) one to
 * one by the Hungarian algorithm on 1 - |r| and scores the matched |r|.
 * Typical use: truth = true maps (in the mask), est = estimated maps. */
ns_status ns_ica_match_score(const ns_matrix *truth, const ns_matrix *est, ns_ica_score *out);
void ns_ica_score_clear(ns_ica_score *s);

/* Normalised Amari index of P = W A (n x n): 0 when P is a scaled
 * permutation, at most 1. */
double ns_ica_amari(const double *p, size_t n);

/* ----------------------------------------------------- back-reconstruction */

typedef enum { NS_ICA_BR_GICA1 = 0, NS_ICA_BR_GICA3, NS_ICA_BR_DR } ns_ica_backrecon;
const char *ns_ica_backrecon_name(ns_ica_backrecon b);
int ns_ica_backrecon_parse(const char *s, ns_ica_backrecon *out);
const char *ns_ica_algorithm_name(ns_ica_algorithm a);
int ns_ica_algorithm_parse(const char *s, ns_ica_algorithm *out);
const char *ns_icasso_mode_name(ns_icasso_mode m);
int ns_icasso_mode_parse(const char *s, ns_icasso_mode *out);

/* What back-reconstruction of order k needs from the group model. */
typedef struct {
    size_t k, v;
    const ns_matrix *z;     /* >= k rows x V: whitened group PCA maps (first k used) */
    const double *geig;     /* >= k group PCA eigenvalues (GICA3) */
    const double *w;        /* k x k unmixing (S = W Z) */
    const double *a;        /* k x k mixing = pinv(W) */
    const ns_matrix *maps;  /* k x V group maps S (not scaled; dual regression
                               and sign alignment) */
} ns_ica_group_model;

/* One subject's back-reconstruction: maps (k x V) and timecourses (T x k,
 * double row-major). x = the preprocessed data (T x V; needed for dual
 * regression, may be NULL otherwise), spca + y its subject PCA. */
typedef struct {
    ns_matrix *maps;
    double *tc;
    size_t t, k;
} ns_ica_subject_result;

ns_status ns_ica_backreconstruct(const ns_ica_group_model *g, ns_ica_backrecon method,
                                 const ns_matrix *x, const ns_ica_spca *spca,
                                 const ns_matrix *y, ns_ica_subject_result *out);
/* GICA1 / GICA3 from the factored form (xc centred and its whitener w, as
 * ns_ica_subject_whitener leaves them) without forming y: the same result
 * up to float rounding, one p x T x V product less. */
ns_status ns_ica_backreconstruct_factored(const ns_ica_group_model *g, ns_ica_backrecon method,
                                          const ns_ica_spca *spca, const ns_ica_whitener *w,
                                          const ns_matrix *xc, ns_ica_subject_result *out);
void ns_ica_subject_result_clear(ns_ica_subject_result *r);

/* GIFT z-scaling: each timecourse linearly detrended and divided by its std;
 * each map re-centred on the peak of its smoothed histogram and divided by
 * its RMS; maps whose correlation with the group map is negative are flipped
 * together with their timecourse. group_maps may be NULL (no alignment). */
void ns_ica_scale_subject(ns_ica_subject_result *r, const ns_matrix *group_maps);

/* z-scores each row of m: (x - mean) / std. */
void ns_ica_zscore_rows(ns_matrix *m);

/* ------------------------------------------------------------ pipeline */

typedef struct {
    const int *orders;      /* model orders K (each < T and <= p1) */
    size_t norders;
    size_t pc1;             /* subject PCs; 0 = ceil(1.5 max K), capped at T-1 */
    ns_ica_preproc preproc;
    size_t runs;            /* ICASSO runs (1 = a single ICA) */
    ns_ica_opts ica;        /* algorithm, seed, constants */
    ns_ica_backrecon backrecon;
    int nprocs;             /* threads for subjects and ICASSO runs (0 = 1) */
    const char *mask_path;  /* user mask (non-zero voxels), NULL = GIFT rule */
    const char *out_dir;
    size_t migp_rows;       /* MIGP running rows; 0 = max K + max(max K / 10,
                               10), or max(2 max K, p1) without power
                               iterations */
    int stacked_pca;        /* exact stacked EVD (memory M p1 V) */
    int power_iters;        /* passes of subspace iteration refining MIGP's
                               rows (default 2; each reads the cache, or
                               the inputs without one) */
    int group_only;         /* group outputs and models only: no pass 2 (no
                               subject outputs, no cache); subjects later
                               with ns_ica_apply_model */
    double cache_gb;        /* spill reduced data to OUT for the power
                               iterations and pass 2 when the total is below
                               this (GB); 0 = always re-read */
    const char *command_line; /* recorded in the sidecars, may be NULL */
} ns_ica_params;

void ns_ica_params_default(ns_ica_params *p);

/* The whole group ICA: reads the bold files (paths; each a 4-D NIfTI), and
 * writes every output under p->out_dir (docs/ica.md). Subjects are read once
 * for the mask (first volume), once for the PCA; then once per power
 * iteration and once for the back-reconstruction (unless p->group_only),
 * from the cache of reduced data when there is one. */
ns_status ns_ica_fit(const ns_ica_params *p, const char *const *bold, size_t nsub);

/* Back-reconstructs subjects (fitted or new) from a saved model
 * (OUT/group/desc-ica<K>_model.npz) and writes their per-subject outputs
 * under out_dir. backrecon < 0 uses the model's method. */
ns_status ns_ica_apply_model(const char *model_path, const char *out_dir,
                             const char *const *bold, size_t nsub, int backrecon, int nprocs);

/* Finds BOLD runs under a BIDS dataset: fMRIPrep `*_desc-preproc_bold.nii.gz`
 * when present, otherwise raw `sub-<l>/[ses-<s>/]func/<...>_bold.nii[.gz]`;
 * labels (without "sub-") restrict the subjects (may be NULL). Sorted paths,
 * *out (and each string) owned by the caller. */
ns_status ns_ica_find_bold(const char *bids_dir, const char *const *labels, size_t nlabels,
                           char ***out, size_t *n);

/* The output name stem of a bold path: "sub-01_ses-1_task-rest_run-1" (BIDS
 * entities without desc-/the suffix) and the subject label "01". Files
 * without a sub- entity get label = their alphanumeric base name. Newly
 * allocated. */
ns_status ns_ica_bids_stem(const char *bold, char **stem, char **label);

/* "ica<K>c<NN>" (1-based, zero-padded to the width of K) into buf. */
void ns_ica_component_name(int k, int index0, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
