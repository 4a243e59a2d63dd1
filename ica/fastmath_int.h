/* Vectorised exp for the ICA inner loops (private). glibc's expf/tanhf are
 * scalar calls; Infomax evaluates K V logistics per pass and FastICA K V
 * tanh per iteration, the top of the profile at K = 100. Cody-Waite range
 * reduction + degree-6 polynomial, relative error < 3e-7 on [-87, 87]
 * (inputs are clamped there), written with GCC vector extensions (4 floats,
 * SSE2, the x86-64 baseline) because the 2^n bit construction
 * defeats the auto-vectoriser. */
#ifndef NS_ICA_FASTMATH_INT_H
#define NS_ICA_FASTMATH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 4 floats: the x86-64 baseline (SSE2) width, no ABI change. */
typedef float ns_v4f __attribute__((vector_size(16)));
typedef int32_t ns_v4i __attribute__((vector_size(16)));
#define NS_VW 4

static inline ns_v4f ns_v4_splat(float a)
{
    return (ns_v4f){a, a, a, a};
}

static inline ns_v4f ns_v4_expf(ns_v4f x)
{
    ns_v4i lo = x < ns_v4_splat(-87.0f), hi = x > ns_v4_splat(87.0f);
    x = (ns_v4f)(((ns_v4i)x & ~lo) | ((ns_v4i)ns_v4_splat(-87.0f) & lo));
    x = (ns_v4f)(((ns_v4i)x & ~hi) | ((ns_v4i)ns_v4_splat(87.0f) & hi));
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick */
    ns_v4f n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    ns_v4f r = x - n * 0.693145751953125f - n * 1.428606765330187e-6f;
    ns_v4f p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
                      r * (0.00833333377f + r * 0.00138888892f)))));
    ns_v4i e = (__builtin_convertvector(n, ns_v4i) + 127) << 23;
    return p * (ns_v4f)e;
}

static inline float ns_ica_expf(float x)
{
    ns_v4f v = ns_v4_splat(x);
    return ns_v4_expf(v)[0];
}

/* y = 1 - 2 / (1 + exp(-(u + bias))) in place of y, u += bias; returns the
 * sum of y (Infomax's logistic update). */
static inline float ns_ica_logistic_row(float *u, float *y, size_t n, float bias)
{
    ns_v4f acc = ns_v4_splat(0.0f);
    size_t j = 0;
    for (; j + NS_VW <= n; j += NS_VW) {
        ns_v4f v;
        memcpy(&v, u + j, sizeof v);
        v += bias;
        ns_v4f yy = 1.0f - 2.0f / (1.0f + ns_v4_expf(-v));
        memcpy(u + j, &v, sizeof v);
        memcpy(y + j, &yy, sizeof yy);
        acc += yy;
    }
    float s = acc[0] + acc[1] + acc[2] + acc[3];
    for (; j < n; j++) {
        u[j] += bias;
        y[j] = 1.0f - 2.0f / (1.0f + ns_ica_expf(-u[j]));
        s += y[j];
    }
    return s;
}

/* r <- tanh(r) = 1 - 2 / (exp(2r) + 1) in place; returns sum(1 - tanh^2)
 * (FastICA's g and g'). */
static inline float ns_ica_tanh_row(float *r, size_t n)
{
    ns_v4f acc = ns_v4_splat(0.0f);
    size_t j = 0;
    for (; j + NS_VW <= n; j += NS_VW) {
        ns_v4f v;
        memcpy(&v, r + j, sizeof v);
        ns_v4f g = 1.0f - 2.0f / (ns_v4_expf(2.0f * v) + 1.0f);
        memcpy(r + j, &g, sizeof g);
        acc += 1.0f - g * g;
    }
    float s = acc[0] + acc[1] + acc[2] + acc[3];
    for (; j < n; j++) {
        float g = 1.0f - 2.0f / (ns_ica_expf(2.0f * r[j]) + 1.0f);
        r[j] = g;
        s += 1.0f - g * g;
    }
    return s;
}

#endif
