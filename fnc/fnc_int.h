/* Private helpers shared by the fnc sources. */
#ifndef NS_FNC_INT_H
#define NS_FNC_INT_H

#include <stddef.h>

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

#endif
