/* Spectra in distributed mode, from what the sites shared (spectra/):
 *   dad, edad   the gathered A and D: the aggregate G = D^T A and every
 *               site's block (ns_spectra_grad_sv_groups, one QR for all)
 *   rankdad     the gathered factors: the one-way sum (or two-way's rank-R
 *               aggregate) and every site's factors; each site also records
 *               its own approximation error and the best rank-R error
 *               (Eckart-Young, from its exact local spectrum)
 *   dsgd, powersgd  the aggregated gradient matrix
 * Rank 0 computes the aggregate quantities; only it writes them. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

static ns_status push_sv(ns_dist *d, size_t li, int site, const double *sv, size_t nsv)
{
    size_t k = d->o.spectra_topk > 0 && (size_t)d->o.spectra_topk < nsv
                   ? (size_t)d->o.spectra_topk : nsv;
    ns_status st = NS_OK;
    for (size_t j = 0; !st && j < k; j++)
        st = dist_sp_push(d, li, site, DIST_Q_SV, (int)j, sv[j]);
    return st;
}

/* The aggregate and every rank's part from rows (rows of rank r: rowsr[r]);
 * all_sv (r values, may be NULL) replaces the aggregate's spectrum. */
static ns_status groups_sv(ns_dist *d, size_t li, const ns_matrix *A, const ns_matrix *D,
                           const size_t *rowsr, const double *all_sv, size_t all_n)
{
    size_t S = (size_t)d->size, ld = A->cols < D->cols ? A->cols : D->cols;
    ns_status st = dist_grow(&d->row_group, &d->cap_row_group, A->rows, sizeof(int));
    double *sv = ns_calloc((S + 1) * ld + 1, sizeof *sv);
    ns_spectra_stats *stt = ns_calloc(S + 1, sizeof *stt);
    if (!st && (!sv || !stt))
        st = NS_ERR_NOMEM;
    for (size_t r = 0, k = 0; !st && r < S; r++)
        for (size_t i = 0; i < rowsr[r]; i++)
            d->row_group[k++] = (int)r;
    if (!st)
        st = ns_spectra_grad_sv_groups(d->sws, A, D, d->row_group, (int)S, NS_SPECTRA_AUTO, sv,
                                       ld, stt);
    if (!st && all_sv)
        st = push_sv(d, li, -1, all_sv, all_n);
    for (size_t g = all_sv ? 1 : 0; !st && g <= S; g++)
        st = push_sv(d, li, (int)g - 1, sv + g * ld, stt[g].nsv);
    free(sv);
    free(stt);
    return st;
}

static ns_status rows_spectra(ns_dist *d, size_t li)
{
    dist_layer *l = &d->L[li];
    size_t total;
    dist_layer_rows(d, l, d->rowsr, &total);
    int edad = d->o.method.kind == NS_DIST_EDAD;
    const float *Dd = edad && li + 1 < d->nl ? l->Dr : l->Dg;
    ns_matrix A = ns_matrix_view(l->Ag, total, l->info.h_in, l->info.h_in);
    ns_matrix D = ns_matrix_view((float *)Dd, total, l->info.h_out, l->info.h_out);
    return total ? groups_sv(d, li, &A, &D, d->rowsr, NULL, 0) : NS_OK;
}

/* The gathered factors as rows: A = Rin^T (S R x h_in), D = Lin^T. */
static ns_status factor_spectra(ns_dist *d, size_t li)
{
    dist_layer *l = &d->L[li];
    size_t r = dist_layer_rank(d, l), S = (size_t)d->size, k = S * r;
    size_t hi = l->info.h_in, ho = l->info.h_out;
    ns_status st = dist_grow(&d->scratch, &d->cap_scratch, k * hi, sizeof(float));
    if (!st)
        st = dist_grow(&d->scratch2, &d->cap_scratch2, k * ho, sizeof(float));
    if (st)
        return st;
    for (size_t i = 0; i < hi; i++)
        for (size_t c = 0; c < k; c++)
            d->scratch[c * hi + i] = l->Rin[i * k + c];
    for (size_t i = 0; i < ho; i++)
        for (size_t c = 0; c < k; c++)
            d->scratch2[c * ho + i] = l->Lin[i * k + c];
    ns_matrix A = ns_matrix_view(d->scratch, k, hi, hi), D = ns_matrix_view(d->scratch2, k, ho, ho);
    size_t *rowsr = d->rowsr;
    for (size_t s = 0; s < S; s++)
        rowsr[s] = r;
    /* two-way: the aggregate every site applies is the rank-R re-factorisation */
    return groups_sv(d, li, &A, &D, rowsr, d->o.method.twoway ? l->sigma + r * S : NULL, r);
}

/* This rank's rank-R error against the best rank-R truncation of its G_s. */
static ns_status local_errors(ns_dist *d, size_t li)
{
    dist_layer *l = &d->L[li];
    size_t r = dist_layer_rank(d, l), hi = l->info.h_in, ho = l->info.h_out;
    if (l->rows == 0)
        return NS_OK;
    size_t k = hi < ho ? hi : ho;
    double *sv = ns_calloc(k, sizeof *sv);
    ns_status st = dist_grow(&d->scratch, &d->cap_scratch, hi * ho, sizeof(float));
    if (!st && !sv)
        st = NS_ERR_NOMEM;
    ns_matrix A = ns_matrix_view(l->A, l->rows, hi, hi), D = ns_matrix_view(l->D, l->rows, ho, ho);
    ns_spectra_stats stt;
    if (!st)
        st = ns_spectra_grad_sv(d->sws, &A, &D, NULL, NS_SPECTRA_ALL, NS_SPECTRA_AUTO, sv, &stt);
    if (!st) {
        double all = 0, tail = 0;
        for (size_t j = 0; j < stt.nsv; j++)
            all += sv[j] * sv[j], tail += j >= r ? sv[j] * sv[j] : 0;
        float *G = d->scratch; /* G_s - L R^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ho, (int)hi, (int)l->rows, 1.0f,
                    l->D, (int)ho, l->A, (int)hi, 0.0f, G, (int)hi);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ho, (int)hi, (int)r, -1.0f,
                    l->L, (int)r, l->R, (int)r, 1.0f, G, (int)hi);
        double err = 0;
        for (size_t i = 0; i < hi * ho; i++)
            err += (double)G[i] * G[i];
        double nrm = sqrt(all) > 0 ? sqrt(all) : 1;
        st = dist_sp_push(d, li, d->rank, DIST_Q_APPROX, 0, sqrt(err) / nrm);
        if (!st)
            st = dist_sp_push(d, li, d->rank, DIST_Q_BEST, 0, sqrt(tail) / nrm);
    }
    free(sv);
    return st;
}

static ns_status matrix_spectra(ns_dist *d, size_t li)
{
    dist_layer *l = &d->L[li];
    size_t hi = l->info.h_in, ho = l->info.h_out, k = hi < ho ? hi : ho;
    ns_matrix G = ns_matrix_view(ns_nn_grads(d->m, NULL) + l->w_off, ho, hi, hi);
    double *sv = ns_calloc(k, sizeof *sv);
    ns_spectra_stats stt;
    ns_status st = sv ? ns_spectra_matrix_sv(d->sws, &G, NULL, NS_SPECTRA_ALL, sv, &stt)
                      : NS_ERR_NOMEM;
    if (!st)
        st = push_sv(d, li, -1, sv, stt.nsv);
    free(sv);
    return st;
}

ns_status dist_spectra_step(ns_dist *d)
{
    if (!d->sws && !(d->sws = ns_spectra_ws_create(1, 1, 1, NS_SPECTRA_F32)))
        return NS_ERR_NOMEM;
    ns_dist_kind k = d->o.method.kind;
    ns_status st = NS_OK;
    for (size_t li = 0; !st && li < d->nl; li++) {
        if (k == NS_DIST_RANKDAD)
            st = local_errors(d, li);
        if (st || d->rank != 0)
            continue;
        if (k == NS_DIST_DAD || k == NS_DIST_EDAD)
            st = rows_spectra(d, li);
        else if (k == NS_DIST_RANKDAD)
            st = factor_spectra(d, li);
        else
            st = matrix_spectra(d, li);
    }
    return st;
}
