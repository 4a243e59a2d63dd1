/* Vectorised logistic and tanh rows for the ICA inner loops (private;
 * fastmath.c). Results depend on the CPU (the vector width: 4, 8 or 16
 * floats), not on threads. */
#ifndef NS_ICA_FASTMATH_INT_H
#define NS_ICA_FASTMATH_INT_H

#include <stddef.h>

/* u += bias, y = 1 - 2 / (1 + exp(-u)) elementwise; returns the sum of y
 * (Infomax's logistic update). */
float ns_ica_logistic_row(float *u, float *y, size_t n, float bias);

/* r <- tanh(r) in place; returns sum(1 - tanh^2) (FastICA's g and g'). */
float ns_ica_tanh_row(float *r, size_t n);

/* The vector width in use (4 SSE2, 8 AVX2+FMA, 16 AVX-512), and a cap on it
 * so that tests can run every width the CPU has (not thread-safe). */
int ns_ica_fastmath_lanes(void);
void ns_ica_fastmath_cap(int lanes);

#endif
