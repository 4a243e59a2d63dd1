/* One step's exchange for every method. On entry the model's gradient
 * buffer holds this rank's batch-mean gradient and the tap capture its A and
 * D; d->w is its weight under the scaling rule. On exit the gradient buffer
 * holds the aggregate, identical on every rank. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "dist/dist_int.h"

static size_t bias_count(const dist_layer *l)
{
    return l->b_off == DIST_NONE ? 0 : l->info.h_out;
}

void dist_grad_from_rows(ns_dist *d, dist_layer *l, const float *Ag, const float *Dg,
                         size_t rows)
{
    float *g = ns_nn_grads(d->m, NULL);
    size_t hi = l->info.h_in, ho = l->info.h_out;
    float *gW = g + l->w_off, *gb = l->b_off == DIST_NONE ? NULL : g + l->b_off;
    if (rows == 0) {
        memset(gW, 0, hi * ho * sizeof *gW);
    } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ho, (int)hi, (int)rows, 1.0f,
                    Dg, (int)ho, Ag, (int)hi, 0.0f, gW, (int)hi);
    }
    if (!gb)
        return;
    memset(gb, 0, ho * sizeof *gb);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < ho; j++)
            gb[j] += Dg[r * ho + j];
}

/* The scaling rule on this rank's captured deltas. */
static void scale_capture(ns_dist *d, dist_layer *l)
{
    size_t count = l->rows * l->info.h_out;
    for (size_t i = 0; i < count; i++)
        l->D[i] *= (float)d->w;
}

ns_status dist_exchange_dsgd(ns_dist *d, size_t li)
{
    dist_layer *l = &d->L[li];
    float *g = ns_nn_grads(d->m, NULL);
    size_t nw = l->info.h_in * l->info.h_out, nb = bias_count(l);
    ns_status st = dist_grow(&d->sendbuf, &d->cap_send, nw + nb, sizeof(float));
    if (st)
        return st;
    float w = (float)d->w;
    for (size_t i = 0; i < nw; i++)
        d->sendbuf[i] = w * g[l->w_off + i];
    for (size_t i = 0; i < nb; i++)
        d->sendbuf[nw + i] = w * g[l->b_off + i];
    st = dist_allreduce(d, d->sendbuf, nw + nb, li);
    memcpy(g + l->w_off, d->sendbuf, nw * sizeof *g);
    if (nb)
        memcpy(g + l->b_off, d->sendbuf + nw, nb * sizeof *g);
    return st;
}

/* Gathers every rank's rows of A (and of D when with_d) into l->Ag / l->Dg;
 * *total receives the gathered row count. */
static ns_status gather_rows(ns_dist *d, size_t li, int with_d, size_t *total)
{
    dist_layer *l = &d->L[li];
    dist_layer_rows(d, l, d->rowsr, total);
    size_t hi = l->info.h_in, ho = l->info.h_out;
    ns_status st = dist_grow(&l->Ag, &l->cap_Ag, *total * hi, sizeof(float));
    if (!st && with_d)
        st = dist_grow(&l->Dg, &l->cap_Dg, *total * ho, sizeof(float));
    if (!st && d->o.method.kind == NS_DIST_EDAD)
        st = dist_grow(&l->Dr, &l->cap_Dr, *total * ho, sizeof(float));
    if (st)
        return st;
    st = dist_allgatherv_rows(d, l->A, d->rowsr, hi, l->Ag, li);
    if (!st && with_d) {
        scale_capture(d, l);
        st = dist_allgatherv_rows(d, l->D, d->rowsr, ho, l->Dg, li);
    }
    return st;
}

ns_status dist_exchange_dad(ns_dist *d)
{
    ns_status st = NS_OK;
    for (size_t li = d->nl; !st && li-- > 0;) {
        size_t total;
        st = gather_rows(d, li, 1, &total);
        if (!st)
            dist_grad_from_rows(d, &d->L[li], d->L[li].Ag, d->L[li].Dg, total);
    }
    return st;
}

ns_status dist_exchange_edad(ns_dist *d)
{
    ns_status st = NS_OK;
    size_t total[2 * NS_NN_MAXLAYERS + 3];
    for (size_t li = 0; !st && li < d->nl; li++)
        st = gather_rows(d, li, li + 1 == d->nl, &total[li]);
    if (st)
        return st;
    ns_matrix A[2 * NS_NN_MAXLAYERS + 3], D[2 * NS_NN_MAXLAYERS + 3];
    for (size_t li = 0; li < d->nl; li++) {
        dist_layer *l = &d->L[li];
        A[li] = ns_matrix_view(l->Ag, total[li], l->info.h_in, l->info.h_in);
        D[li] = ns_matrix_view(li + 1 == d->nl ? l->Dg : l->Dr, total[li], l->info.h_out,
                               l->info.h_out);
    }
    size_t nsamples = total[d->nl - 1];
    st = dist_edad_run(d->m, A, &D[d->nl - 1], nsamples, D);
    for (size_t li = 0; !st && li < d->nl; li++)
        dist_grad_from_rows(d, &d->L[li], A[li].data, D[li].data, total[li]);
    return st;
}
