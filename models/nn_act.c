/* Activations and the BLAS calls of an affine layer Z = A W^T + b. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "models/nn_int.h"

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
        for (size_t i = 0; i < count; i++)
            y[i] = nn_tanhf(z[i]);
        break;
    case NS_NN_SIGMOID:
        for (size_t i = 0; i < count; i++)
            y[i] = nn_sigmoidf(z[i]);
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
