/* The principal-angle kernel between subjects' subspaces of component maps
 * (the mood-disorder study). For subject a with maps M_a (v x k), the
 * orthonormal basis of the span of the components S is Q_a = M_a[:,S] R_a^-1
 * with R_a^T R_a = M_a[:,S]^T M_a[:,S] (Cholesky of the Gram matrix), so
 *   Q_a^T Q_b = R_a^-T (M_a^T M_b)[S,S] R_b^-1,
 * whose singular values are the cosines of the principal angles. Keeping the
 * k x k cross-Gram matrices makes a kernel on any component subset cost
 * O(n^2 |S|^3) without touching the v-long maps again: this is what makes
 * forward selection over components affordable.
 * K[a][b] = ||Q_a^T Q_b||_F^2 / |S| = mean of cos^2(theta_j): the projection
 * kernel tr(P_a P_b) / |S|, positive semi-definite, with a unit diagonal. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "models/classify_int.h"

struct ns_subspace_set {
    size_t n, k;
    double *gram;  /* n blocks of k x k: M_a^T M_a */
    double *cross; /* n(n-1)/2 blocks of k x k: M_a^T M_b, a < b */
};

static size_t pair_index(size_t n, size_t a, size_t b)
{
    return a * n - a * (a + 1) / 2 + (b - a - 1); /* a < b */
}

/* Allocates the set and, when maps is not NULL, fills the Gram blocks. */
static ns_status set_build(const double *const *maps, size_t nsub, size_t v, size_t k,
                           ns_subspace_set **out)
{
    *out = NULL;
    if (nsub < 2 || v == 0 || k == 0)
        return ns_error(NS_ERR_ARG, "subspace kernel needs >= 2 subjects with maps (%zu)", nsub);
    double bytes = ((double)nsub * (double)(nsub + 1) / 2) * (double)(k * k) * 8.0;
    if (bytes > 4e9)
        return ns_error(NS_ERR_NOMEM, "subspace cross-Gram matrices need %.1f GB (%zu subjects, "
                        "%zu components)", bytes / 1e9, nsub, k);
    ns_subspace_set *s = ns_calloc(1, sizeof *s);
    if (!s)
        return NS_ERR_NOMEM;
    s->n = nsub;
    s->k = k;
    s->gram = ns_alloc(nsub * k * k, sizeof *s->gram);
    s->cross = ns_alloc(nsub * (nsub - 1) / 2 * k * k, sizeof *s->cross);
    if (!s->gram || !s->cross) {
        ns_subspace_set_free(s);
        return NS_ERR_NOMEM;
    }
    /* maps are column-major v x k: as row-major they are k x v (A), and
     * M_a^T M_b = A_a A_b^T. */
    for (size_t a = 0; maps && a < nsub; a++) {
        const double *ma = maps[a];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k, (int)k, (int)v, 1.0, ma,
                    (int)v, ma, (int)v, 0.0, s->gram + a * k * k, (int)k);
        for (size_t b = a + 1; b < nsub; b++)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k, (int)k, (int)v, 1.0, ma,
                        (int)v, maps[b], (int)v, 0.0,
                        s->cross + pair_index(nsub, a, b) * k * k, (int)k);
    }
    *out = s;
    return NS_OK;
}

ns_status ns_subspace_set_create(const double *const *maps, size_t nsub, size_t v, size_t k,
                                 ns_subspace_set **out)
{
    if (!maps)
        return ns_error(NS_ERR_ARG, "no component maps");
    return set_build(maps, nsub, v, k, out);
}

/* Float maps are contiguous (n x k x v): subject a against a whole run of
 * subjects a..a+B-1 is one sgemm, k x (B k), far faster than n^2/2 small
 * products (float accumulation: as precise as the float maps themselves). */
static void cross_blocks_f32(ns_subspace_set *s, const float *maps, size_t v, float *tmp,
                             size_t chunk)
{
    size_t n = s->n, k = s->k;
    for (size_t a = 0; a < n; a++)
        for (size_t b0 = a; b0 < n; b0 += chunk) {
            size_t nb = n - b0 < chunk ? n - b0 : chunk;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k, (int)(nb * k), (int)v,
                        1.0f, maps + a * k * v, (int)v, maps + b0 * k * v, (int)v, 0.0f, tmp,
                        (int)(nb * k));
            for (size_t t = 0; t < nb; t++) {
                size_t b = b0 + t;
                double *dst = b == a ? s->gram + a * k * k
                                     : s->cross + pair_index(n, a, b) * k * k;
                for (size_t i = 0; i < k; i++)
                    for (size_t j = 0; j < k; j++)
                        dst[i * k + j] = tmp[i * nb * k + t * k + j];
            }
        }
}

ns_status ns_subspace_set_create_f32(const float *maps, size_t nsub, size_t v, size_t k,
                                     ns_subspace_set **out)
{
    *out = NULL;
    size_t chunk = 64;
    float *tmp = ns_alloc(k * chunk * k, sizeof *tmp);
    if (!tmp)
        return NS_ERR_NOMEM;
    ns_status st = set_build(NULL, nsub, v, k, out);
    if (!st)
        cross_blocks_f32(*out, maps, v, tmp, chunk);
    free(tmp);
    return st;
}

void ns_subspace_set_free(ns_subspace_set *s)
{
    if (!s)
        return;
    free(s->gram);
    free(s->cross);
    free(s);
}

size_t ns_subspace_set_count(const ns_subspace_set *s) { return s->n; }
size_t ns_subspace_set_ncomp(const ns_subspace_set *s) { return s->k; }

/* out (m x m) = block[S, S] (transposed when trans). */
static void gather(const double *block, size_t k, const size_t *S, size_t m, int trans,
                   double *out)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            out[i * m + j] = trans ? block[S[j] * k + S[i]] : block[S[i] * k + S[j]];
}

/* Upper Cholesky factors of every subject's Gram on S (a tiny ridge keeps
 * nearly collinear maps factorable). */
static ns_status factor_all(const ns_subspace_set *s, const size_t *S, size_t m, double *R)
{
    for (size_t a = 0; a < s->n; a++) {
        double *r = R + a * m * m, tr = 0;
        gather(s->gram + a * s->k * s->k, s->k, S, m, 0, r);
        for (size_t i = 0; i < m; i++)
            tr += r[i * m + i];
        for (size_t i = 0; i < m; i++)
            r[i * m + i] += 1e-12 * tr / (double)m;
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (int)m, r, (int)m) != 0)
            return ns_error(NS_ERR_NUMERIC, "component maps are linearly dependent (subject %zu)",
                            a);
    }
    return NS_OK;
}

ns_status ns_subspace_kernel(const ns_subspace_set *s, const size_t *comps, size_t ncomp,
                             double *kout)
{
    size_t n = s->n, m = comps ? ncomp : s->k;
    if (m == 0)
        return ns_error(NS_ERR_ARG, "subspace kernel on zero components");
    size_t *S = ns_alloc(m, sizeof *S);
    double *R = ns_alloc(n * m * m + m * m, sizeof *R);
    if (!S || !R) {
        free(S);
        free(R);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < m; i++)
        S[i] = comps ? comps[i] : i;
    ns_status st = NS_OK;
    for (size_t i = 0; i < m && !st; i++)
        if (S[i] >= s->k)
            st = ns_error(NS_ERR_ARG, "component %zu out of range (%zu components)", S[i], s->k);
    if (!st)
        st = factor_all(s, S, m, R);
    double *c = R + n * m * m;
    for (size_t a = 0; a < n && !st; a++) {
        kout[a * n + a] = 1.0;
        for (size_t b = a + 1; b < n; b++) {
            gather(s->cross + pair_index(n, a, b) * s->k * s->k, s->k, S, m, 0, c);
            /* c <- R_a^-T c R_b^-1 */
            cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)m,
                        (int)m, 1.0, R + a * m * m, (int)m, c, (int)m);
            cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit,
                        (int)m, (int)m, 1.0, R + b * m * m, (int)m, c, (int)m);
            double f = cblas_ddot((int)(m * m), c, 1, c, 1) / (double)m;
            kout[a * n + b] = kout[b * n + a] = f;
        }
    }
    free(S);
    free(R);
    return st;
}
