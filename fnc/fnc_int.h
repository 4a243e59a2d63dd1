/* Private helpers shared by the fnc sources. */
#ifndef NS_FNC_INT_H
#define NS_FNC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fnc/fnc.h"

/* Orthonormal basis U (T x r) of the columns of X (T x p) via SVD. */
ns_status ns_fnc__basis(const double *X, size_t T, size_t p, double *U, size_t *r);
/* y <- y - U (U^T y); work: r * K doubles. */
void ns_fnc__project_out(double *y, size_t T, size_t K, const double *U, size_t r, double *work);
/* Centred, unit-norm columns of x into z; returns the first constant column
 * (0-based) or K. mean, norm: K doubles of scratch. */
size_t ns_fnc__standardise(const double *x, size_t T, size_t K, double *z, double *mean,
                           double *norm);
/* r = z^T z, symmetric, clamped to [-1, 1], diagonal 0. */
void ns_fnc__gram(const double *z, size_t T, size_t K, double *r);

/* Formats n values as "\tv1\tv2...\n" into line (34 n + 2 bytes); returns
 * the length. */
int ns_fnc__format_line(char *line, const double *x, size_t n, int decimals);

/* A symmetric K x K matrix formatted once: every cell of the upper triangle
 * printed into pool, (i, j) and (j, i) pointing at the same text, so that
 * the multi-scale relmat and each order's diagonal block are assembled by
 * copying (formatting is the costliest part of writing a relmat). */
typedef struct {
    size_t K;
    char *pool, *line;
    uint32_t *off; /* K x K offsets into pool */
    uint8_t *len;  /* K x K lengths */
} ns_fnc__symfmt;

ns_status ns_fnc__symfmt_init(ns_fnc__symfmt *f, size_t K);
void ns_fnc__symfmt_clear(ns_fnc__symfmt *f);
/* Formats z (K x K, symmetric) with `decimals` digits. */
void ns_fnc__symfmt_fill(ns_fnc__symfmt *f, const double *z, int decimals);
/* Writes rows and columns [a, a + n) as a labelled relmat (see
 * ns_fnc_write_labelled) to path, atomically; ids are the K labels. */
/* The upper triangle of the selected rows/columns sel[0..nsel) in row
 * order as a feature row "\tv\tv...\n" into out (symfmt_row_size(E)
 * bytes for E edges); returns its length. */
size_t ns_fnc__symfmt_row(const ns_fnc__symfmt *f, const size_t *sel, size_t nsel, char *out);
size_t ns_fnc__symfmt_row_size(size_t E);
ns_status ns_fnc__symfmt_write(const ns_fnc__symfmt *f, const char *path, size_t a, size_t n,
                               const char *label, const char *const *ids);

#endif
