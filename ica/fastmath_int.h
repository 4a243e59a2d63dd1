/* Vectorised logistic and tanh rows for the ICA inner loops (private;
 * fastmath.c). Results depend on the CPU (AVX2 or not), not on threads. */
#ifndef NS_ICA_FASTMATH_INT_H
#define NS_ICA_FASTMATH_INT_H

#include <stddef.h>

/* u += bias, y = 1 - 2 / (1 + exp(-u)) elementwise; returns the sum of y
 * (Infomax's logistic update). */
float ns_ica_logistic_row(float *u, float *y, size_t n, float bias);

/* r <- tanh(r) in place; returns sum(1 - tanh^2) (FastICA's g and g'). */
float ns_ica_tanh_row(float *r, size_t n);

#endif
