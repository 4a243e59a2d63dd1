/* The low-rank methods: rank-dAD (each site's rank-R factors of D^T A by
 * spectra/'s structured power iteration, all-gathered) and PowerSGD
 * (Vogels et al. 2019). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

static size_t bias_count(const dist_layer *l)
{
    return l->b_off == DIST_NONE ? 0 : l->info.h_out;
}

/* The rank a layer sends: R, capped at min(h_in, h_out), the largest rank
 * its gradient can have. */
size_t dist_layer_rank(const ns_dist *d, const dist_layer *l)
{
    size_t r = (size_t)d->o.method.rank, m = l->info.h_in < l->info.h_out ? l->info.h_in
                                                                           : l->info.h_out;
    return r < m ? r : m;
}

/* rankdad's message: [L (h_out x r), R (h_in x r), bias gradient (h_out)]. */
static size_t msg_count(const dist_layer *l, size_t r)
{
    return r * (l->info.h_out + l->info.h_in) + bias_count(l);
}

static float *falloc(size_t n, int *fail)
{
    float *p = ns_calloc(n ? n : 1, sizeof *p);
    *fail |= !p;
    return p;
}

/* Buffers of fixed size per layer, allocated when a fit begins; PowerSGD's
 * Q starts from the same normal draw on every rank. */
ns_status dist_lowrank_alloc(ns_dist *d)
{
    size_t r = (size_t)d->o.method.rank, S = (size_t)d->size;
    int fail = 0, rankdad = d->o.method.kind == NS_DIST_RANKDAD;
    for (size_t li = 0; li < d->nl && rankdad; li++) {
        dist_layer *l = &d->L[li];
        size_t hi = l->info.h_in, ho = l->info.h_out;
        r = dist_layer_rank(d, l);
        l->L = falloc(ho * r, &fail), l->R = falloc(hi * r, &fail);
        l->msg = falloc(msg_count(l, r), &fail), l->gath = falloc(S * msg_count(l, r), &fail);
        l->L2 = falloc(ho * r, &fail), l->R2 = falloc(hi * r, &fail);
        l->Lin = falloc(ho * r * S, &fail), l->Rin = falloc(hi * r * S, &fail);
        l->sigma = ns_calloc(r * (S + 1), sizeof *l->sigma);
        fail |= !l->sigma;
    }
    for (size_t li = 0; li < d->nl && d->o.method.kind == NS_DIST_POWERSGD; li++) {
        dist_layer *l = &d->L[li];
        size_t hi = l->info.h_in, ho = l->info.h_out;
        ns_dist_layer_shape sh = {hi, ho, 0, l->b_off != DIST_NONE, 0};
        l->compress = ns_dist_powersgd_compresses(&d->o.method, &sh);
        if (!l->compress)
            continue;
        l->Q = falloc(hi * r, &fail), l->E = falloc(ho * hi, &fail);
        l->M = falloc(ho * hi, &fail), l->P = falloc(ho * r + ho, &fail);
        ns_rng *rng = fail ? NULL : ns_rng_create(ns_seed_derive(d->o.seed, 0x9000 + li));
        for (size_t i = 0; rng && i < hi * r; i++)
            l->Q[i] = (float)ns_rng_normal(rng);
        fail |= !rng;
        ns_rng_free(rng);
    }
    return fail ? ns_error(NS_ERR_NOMEM, "out of memory (low-rank buffers)") : NS_OK;
}

/* ------------------------------------------------------------ rank-dAD */

/* Keeps the leading components whose directions b_j = L_j / sigma_j are
 * orthonormal to the ones kept before and zeroes the rest. Past the rank of
 * G, ns_spectra_power can return components that repeat or mix earlier
 * directions (the deflated iterate is all rounding); L R^T = sum_j b_j b_j^T G
 * is a projection of G only while the b_j stay orthonormal. Returns the
 * components kept. */
static size_t keep_orthonormal(float *L, float *R, double *sigma, size_t ho, size_t hi,
                               size_t r, size_t ld)
{
    size_t k = 0;
    for (; k < r && sigma[k] > 0; k++) {
        int ok = 1;
        for (size_t i = 0; i <= k && ok; i++) {
            double dot = 0;
            for (size_t t = 0; t < ho; t++)
                dot += (double)L[t * ld + i] * L[t * ld + k];
            dot /= sigma[i] * sigma[k];
            ok = fabs(dot - (i == k)) < 1e-4;
        }
        if (!ok)
            break;
    }
    for (size_t j = k; j < r; j++) {
        sigma[j] = 0;
        for (size_t t = 0; t < ho; t++)
            L[t * ld + j] = 0;
        for (size_t t = 0; t < hi; t++)
            R[t * ld + j] = 0;
    }
    return k;
}

/* Components worth asking for: G has at most min(rows, h_in, h_out). */
static size_t rank_cap(size_t r, size_t rows, size_t hi, size_t ho)
{
    size_t c = rows < hi ? rows : hi;
    c = c < ho ? c : ho;
    return r < c ? r : c;
}

/* This rank's message for layer l: its rank-R factors and bias gradient. */
static ns_status rankdad_message(ns_dist *d, dist_layer *l, size_t li)
{
    size_t r = dist_layer_rank(d, l), hi = l->info.h_in, ho = l->info.h_out;
    size_t count = l->rows * ho;
    for (size_t i = 0; i < count; i++)
        l->D[i] *= (float)d->w;
    ns_status st = NS_OK;
    size_t rc = rank_cap(r, l->rows, hi, ho);
    memset(l->L, 0, ho * r * sizeof *l->L);
    memset(l->R, 0, hi * r * sizeof *l->R);
    memset(l->sigma, 0, r * sizeof *l->sigma);
    if (rc > 0) { /* rank rc into the scratch, then into R's columns */
        ns_matrix A = ns_matrix_view(l->A, l->rows, hi, hi);
        ns_matrix D = ns_matrix_view(l->D, l->rows, ho, ho);
        uint64_t seed = ns_seed_derive(d->o.seed, (uint64_t)d->step * 64 + li);
        st = ns_spectra_power(&A, &D, rc, d->o.method.iters, 0, seed, d->pws, l->L2, l->R2,
                              l->sigma);
        if (!st)
            keep_orthonormal(l->L2, l->R2, l->sigma, ho, hi, rc, rc);
        for (size_t t = 0; !st && t < ho; t++)
            memcpy(l->L + t * r, l->L2 + t * rc, rc * sizeof *l->L);
        for (size_t t = 0; !st && t < hi; t++)
            memcpy(l->R + t * r, l->R2 + t * rc, rc * sizeof *l->R);
    }
    memcpy(l->msg, l->L, ho * r * sizeof *l->L);
    memcpy(l->msg + ho * r, l->R, hi * r * sizeof *l->R);
    float *gb = l->msg + r * (ho + hi);
    if (bias_count(l)) {
        memset(gb, 0, ho * sizeof *gb);
        for (size_t row = 0; row < l->rows; row++)
            for (size_t j = 0; j < ho; j++)
                gb[j] += l->D[row * ho + j];
    }
    return st;
}

/* The gathered factors side by side: Lin (h_out x S R), Rin (h_in x S R). */
static void stack_factors(const ns_dist *d, dist_layer *l)
{
    size_t r = dist_layer_rank(d, l), hi = l->info.h_in, ho = l->info.h_out;
    size_t S = (size_t)d->size, mc = msg_count(l, r);
    for (size_t s = 0; s < S; s++) {
        const float *Ls = l->gath + s * mc, *Rs = Ls + ho * r;
        for (size_t i = 0; i < ho; i++)
            memcpy(l->Lin + i * S * r + s * r, Ls + i * r, r * sizeof(float));
        for (size_t i = 0; i < hi; i++)
            memcpy(l->Rin + i * S * r + s * r, Rs + i * r, r * sizeof(float));
    }
}

/* grad W = sum_s L_s R_s^T (one-way) or its rank-R re-factorisation
 * (two-way, computed alike on every rank from the same gathered factors and
 * seed); grad b = sum_s of the sites' bias gradients. */
static ns_status rankdad_combine(ns_dist *d, dist_layer *l, size_t li)
{
    size_t r = dist_layer_rank(d, l), hi = l->info.h_in, ho = l->info.h_out;
    size_t S = (size_t)d->size, mc = msg_count(l, r);
    float *g = ns_nn_grads(d->m, NULL), *gW = g + l->w_off;
    stack_factors(d, l);
    ns_status st = NS_OK;
    if (d->o.method.twoway) {
        ns_matrix Lin = ns_matrix_view(l->Lin, ho, S * r, S * r);
        ns_matrix Rin = ns_matrix_view(l->Rin, hi, S * r, S * r);
        uint64_t seed = ns_seed_derive(d->o.seed ^ 0x2a2a, (uint64_t)d->step * 64 + li);
        size_t rc = rank_cap(r, S * r, hi, ho);
        double *sig = l->sigma + r * S;
        memset(sig, 0, r * sizeof *sig);
        st = ns_spectra_power_factors(&Lin, &Rin, rc, d->o.method.iters, 0, seed, d->pws, l->L2,
                                      l->R2, sig);
        if (!st)
            keep_orthonormal(l->L2, l->R2, sig, ho, hi, rc, rc);
        if (!st)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ho, (int)hi, (int)rc, 1.0f,
                        l->L2, (int)rc, l->R2, (int)rc, 0.0f, gW, (int)hi);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ho, (int)hi, (int)(S * r),
                    1.0f, l->Lin, (int)(S * r), l->Rin, (int)(S * r), 0.0f, gW, (int)hi);
    }
    if (bias_count(l)) {
        float *gb = g + l->b_off;
        memset(gb, 0, ho * sizeof *gb);
        for (size_t s = 0; s < S; s++)
            for (size_t j = 0; j < ho; j++)
                gb[j] += l->gath[s * mc + r * (ho + hi) + j];
    }
    return st;
}

ns_status dist_exchange_rankdad(ns_dist *d)
{
    ns_status st = NS_OK;
    for (size_t li = d->nl; !st && li-- > 0;) {
        dist_layer *l = &d->L[li];
        st = rankdad_message(d, l, li);
        if (!st)
            st = dist_allgather(d, l->msg, msg_count(l, dist_layer_rank(d, l)), l->gath, li);
        if (!st)
            st = rankdad_combine(d, l, li);
    }
    return st;
}

/* ------------------------------------------------------------- PowerSGD */

/* Orthonormal columns of P (rows x r, row-major) by modified Gram-Schmidt
 * in double; a column that vanishes stays zero. */
static void orthonormalise(float *P, size_t rows, size_t r)
{
    for (size_t j = 0; j < r; j++) {
        for (size_t k = 0; k < j; k++) {
            double dot = 0;
            for (size_t i = 0; i < rows; i++)
                dot += (double)P[i * r + j] * P[i * r + k];
            for (size_t i = 0; i < rows; i++)
                P[i * r + j] -= (float)(dot * P[i * r + k]);
        }
        double nrm = 0;
        for (size_t i = 0; i < rows; i++)
            nrm += (double)P[i * r + j] * P[i * r + j];
        nrm = sqrt(nrm);
        for (size_t i = 0; i < rows; i++)
            P[i * r + j] = nrm > 0 ? (float)(P[i * r + j] / nrm) : 0.0f;
    }
}

/* One compressed layer: M = g + e; P = sum_s w_s M_s Q (round 1, with the
 * uncompressed bias); orthonormalise P; Q = sum_s w_s M_s^T P (round 2);
 * grad = P Q^T; e = M - grad. */
static ns_status powersgd_layer(ns_dist *d, dist_layer *l, size_t li)
{
    size_t r = (size_t)d->o.method.rank, hi = l->info.h_in, ho = l->info.h_out;
    size_t nb = bias_count(l);
    float *g = ns_nn_grads(d->m, NULL), *gW = g + l->w_off, w = (float)d->w;
    for (size_t i = 0; i < ho * hi; i++)
        l->M[i] = gW[i] + l->E[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ho, (int)r, (int)hi, w, l->M,
                (int)hi, l->Q, (int)r, 0.0f, l->P, (int)r);
    for (size_t j = 0; j < nb; j++)
        l->P[ho * r + j] = w * g[l->b_off + j];
    ns_status st = dist_allreduce(d, l->P, ho * r + nb, li);
    if (st)
        return st;
    if (nb)
        memcpy(g + l->b_off, l->P + ho * r, nb * sizeof *g);
    orthonormalise(l->P, ho, r);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)hi, (int)r, (int)ho, w, l->M,
                (int)hi, l->P, (int)r, 0.0f, l->Q, (int)r);
    st = dist_allreduce(d, l->Q, hi * r, li);
    if (st)
        return st;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ho, (int)hi, (int)r, 1.0f, l->P,
                (int)r, l->Q, (int)r, 0.0f, gW, (int)hi);
    for (size_t i = 0; i < ho * hi; i++)
        l->E[i] = l->M[i] - gW[i];
    return NS_OK;
}

ns_status dist_exchange_powersgd(ns_dist *d)
{
    int warm = d->step < d->warm;
    ns_status st = NS_OK;
    for (size_t li = d->nl; !st && li-- > 0;) {
        dist_layer *l = &d->L[li];
        st = warm || !l->compress ? dist_exchange_dsgd(d, li) : powersgd_layer(d, l, li);
    }
    return st;
}
