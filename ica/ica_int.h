/* Private helpers of the ica module: small dense linear algebra (double,
 * row-major) and the thread-safe error hand-over used by parallel loops. */
#ifndef NS_ICA_INT_H
#define NS_ICA_INT_H

#include <stddef.h>

#include "core/core.h"
#include "ica/ica.h"

/* Top k eigenpairs of the symmetric n x n matrix a (row-major, read only):
 * eval descending (k), evec n x k row-major (column j = eigenvector j,
 * sign fixed so that its largest-magnitude entry is positive). evec may be
 * NULL. */
ns_status ns_ica_eig_top(const double *a, size_t n, size_t k, double *eval, double *evec);

/* out = scale * a^(-1/2) for a symmetric positive definite n x n matrix. */
ns_status ns_ica_inv_sqrt(const double *a, size_t n, double scale, double *out);

/* out (n x m) = Moore-Penrose pseudo-inverse of a (m x n). */
ns_status ns_ica_pinv(const double *a, size_t m, size_t n, double *out);

/* c (m x n) = a (m x k) * b (k x n), all double row-major, c overwritten. */
void ns_ica_dgemm(const double *a, const double *b, double *c, size_t m, size_t k, size_t n);

/* Loops that stream the data (gather, sums, centring) built for AVX-512, AVX2
 * and the baseline, picked at load time (GCC's target_clones). The same
 * bits from each: the lanes are the source's, no FMA contraction
 * (-std=c17). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(NS_NO_CLONES)
#define NS_ICA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NS_ICA_CLONES
#endif

/* Sum of x and dot product of x with y in double, over 8 interleaved
 * partial sums (vectorisable, and the same result on every call). A row of
 * floats is all finite iff its double sum is: such a sum cannot overflow. */
double ns_ica_sum_f(const float *x, size_t n);
double ns_ica_dot_fd(const float *x, const double *y, size_t n);
double ns_ica_dot_ff(const float *x, const float *y, size_t n);
/* sum (x - c)^2, and the smallest and largest value of x (n >= 1), alike. */
double ns_ica_ssd_f(const float *x, size_t n, double c);
void ns_ica_minmax_f(const float *x, size_t n, float *lo, float *hi);

/* ns_ica_preprocess in two parts, for a reader that fills x row by row:
 * the part of row t (r, n values) that needs no other row (finite, and
 * timemean's centring), applied while the row is in cache; then the
 * voxel-wise rest over the whole x (nothing for timemean), which also
 * refuses an unknown p. */
ns_status ns_ica_preprocess_row(float *r, size_t n, size_t t, ns_ica_preproc p, const char *who);
ns_status ns_ica_preprocess_voxels(ns_matrix *x, ns_ica_preproc p, const char *who);

/* An enum's value names (names[v] for value v, n of them): the name of v
 * ("?" outside) and the value of a name (-1 when unknown). */
const char *ns_ica__enum_name(const char *const *names, size_t n, unsigned v);
int ns_ica__enum_parse(const char *const *names, size_t n, const char *s);
/* names, n for a static array of names */
#define NS_ICA_NAMES(a) (a), sizeof(a) / sizeof *(a)

/* Symmetric orthogonalisation in place: w <- (w w^T)^(-1/2) w (k x k), the
 * orthogonal polar factor U V^T of w = U S V^T, by the SVD (defined even
 * when rows of w nearly vanish). */
ns_status ns_ica_sym_orth(double *w, size_t k);
/* The same by the eigenpairs of w w^T (faster), or NS_ERR_NUMERIC with w
 * untouched when w w^T is too ill-conditioned for that (then use the SVD). */
ns_status ns_ica_sym_orth_eig(double *w, size_t k);

/* A random orthogonal k x k matrix (QR of a normal matrix). */
ns_status ns_ica_random_orth(ns_rng *rng, size_t k, double *w);

/* Errors raised inside OpenMP loops: the first message is kept and
 * re-raised on the calling thread by ns_ica_err_raise. */
typedef struct {
    ns_status code;
    char msg[1024];
} ns_ica_err;
void ns_ica_err_keep(ns_ica_err *e, ns_status code);
ns_status ns_ica_err_raise(const ns_ica_err *e);

/* Linear detrend + divide by std of a strided series (n values); series
 * with zero variance become 0. */
void ns_ica_detrend_scale(double *x, size_t n, size_t stride);

#endif
