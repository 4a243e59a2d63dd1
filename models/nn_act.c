/* Activations and the BLAS calls of an affine layer Z = A W^T + b. */
#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "models/nn_int.h"

/* GCC vector extensions (SSE2 on x86-64): explicit selects, because with the
 * default -ftrapping-math the vectoriser keeps float ?: as branches, and
 * glibc's tanhf took a third of a GRU training step. */
typedef float nn_v4f __attribute__((vector_size(16)));
typedef int32_t nn_v4i __attribute__((vector_size(16)));

static inline nn_v4f v_select(nn_v4i mask, nn_v4f a, nn_v4f b)
{
    return (nn_v4f)((mask & (nn_v4i)a) | (~mask & (nn_v4i)b));
}

static inline nn_v4f v_exp(nn_v4f x)
{
    const nn_v4f zero = {0, 0, 0, 0};
    x = v_select(x < -87.0f, zero - 87.0f, x);
    x = v_select(x > 88.0f, zero + 88.0f, x);
    nn_v4f fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    nn_v4i n = __builtin_convertvector(fn, nn_v4i);
    nn_v4f r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
    nn_v4f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    nn_v4f y = p * r * r + r + 1.0f;
    return y * (nn_v4f)((n + 127) << 23);
}

static inline nn_v4f v_sigmoid(nn_v4f x) { return 1.0f / (1.0f + v_exp(-x)); }

/* Cephes tanhf: an odd polynomial below 0.625, 1 - 2/(e^2|x| + 1) above. */
static inline nn_v4f v_tanh(nn_v4f x)
{
    const nn_v4i signbit = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    nn_v4f a = (nn_v4f)((nn_v4i)x & ~signbit), z = x * x;
    nn_v4f small = ((((z * -5.70498872745e-3f + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                     1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
    nn_v4f big = 1.0f - 2.0f / (v_exp(a + a) + 1.0f);
    big = (nn_v4f)((nn_v4i)big | ((nn_v4i)x & signbit));
    return v_select(a < 0.625f, small, big);
}

#define NN_VMAP(name, fn)                                            \
    void name(const float *x, float *y, size_t n)                    \
    {                                                                \
        size_t i = 0;                                                \
        for (; i + 4 <= n; i += 4) {                                 \
            nn_v4f v;                                                \
            memcpy(&v, x + i, sizeof v);                             \
            v = fn(v);                                               \
            memcpy(y + i, &v, sizeof v);                             \
        }                                                            \
        if (i < n) {                                                 \
            nn_v4f v = {0, 0, 0, 0};                                 \
            memcpy(&v, x + i, (n - i) * sizeof(float));              \
            v = fn(v);                                               \
            memcpy(y + i, &v, (n - i) * sizeof(float));              \
        }                                                            \
    }
NN_VMAP(nn_vsigmoid, v_sigmoid)
NN_VMAP(nn_vtanh, v_tanh)

void nn_act_forward(ns_nn_act a, float slope, const float *z, float *y, size_t count)
{
    switch (a) {
    case NS_NN_LINEAR:
        if (y != z)
            memcpy(y, z, count * sizeof *y);
        break;
    case NS_NN_RELU:
        for (size_t i = 0; i < count; i++)
            y[i] = z[i] > 0 ? z[i] : 0.0f;
        break;
    case NS_NN_LEAKY:
        for (size_t i = 0; i < count; i++)
            y[i] = z[i] > 0 ? z[i] : z[i] * slope;
        break;
    case NS_NN_TANH:
        nn_vtanh(z, y, count);
        break;
    case NS_NN_SIGMOID:
        nn_vsigmoid(z, y, count);
        break;
    }
}

/* PyTorch's conventions at 0: relu'(0) = 0, leaky'(0) = slope. */
void nn_act_backward(ns_nn_act a, float slope, const float *z, const float *y, float *d,
                     size_t count)
{
    switch (a) {
    case NS_NN_LINEAR:
        break;
    case NS_NN_RELU:
        for (size_t i = 0; i < count; i++)
            d[i] = z[i] > 0 ? d[i] : 0.0f;
        break;
    case NS_NN_LEAKY:
        for (size_t i = 0; i < count; i++)
            d[i] = z[i] > 0 ? d[i] : d[i] * slope;
        break;
    case NS_NN_TANH:
        for (size_t i = 0; i < count; i++)
            d[i] *= 1.0f - y[i] * y[i];
        break;
    case NS_NN_SIGMOID:
        for (size_t i = 0; i < count; i++)
            d[i] *= y[i] * (1.0f - y[i]);
        break;
    }
}

void nn_linear(const float *A, size_t n, size_t in, const float *W, const float *b, size_t out,
               float *Z)
{
    float beta = 0.0f;
    if (b) {
        for (size_t r = 0; r < n; r++)
            memcpy(Z + r * out, b, out * sizeof *Z);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, A,
                (int)in, W, (int)in, beta, Z, (int)out);
}

void nn_linear_grad(const float *D, const float *A, size_t n, size_t in, size_t out, float *gW,
                    float *gb)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, D,
                (int)out, A, (int)in, 0.0f, gW, (int)in);
    if (!gb)
        return;
    memset(gb, 0, out * sizeof *gb);
    for (size_t r = 0; r < n; r++) {
        const float *d = D + r * out;
        for (size_t j = 0; j < out; j++)
            gb[j] += d[j];
    }
}
