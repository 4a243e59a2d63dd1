/* Singular values of group gradients G_g = D_g^T A_g (thin-QR route or the
 * formed G), of A and D, and the summaries of a spectrum. */
#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

#define REAL float
#define SFX f32
#define LP(x) LAPACKE_s##x
#define CB(x) cblas_s##x
#include "spectra/sv_impl.h"
#undef REAL
#undef SFX
#undef LP
#undef CB
#define REAL double
#define SFX f64
#define LP(x) LAPACKE_d##x
#define CB(x) cblas_d##x
#include "spectra/sv_impl.h"
#undef REAL
#undef SFX
#undef LP
#undef CB

static size_t zmin(size_t a, size_t b) { return a < b ? a : b; }
static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

double ns_spectra_eps(ns_spectra_precision prec)
{
    return prec == NS_SPECTRA_F64 ? DBL_EPSILON : (double)FLT_EPSILON;
}

static void ws_release(ns_spectra_ws *ws)
{
    void **bufs[] = {&ws->a,  &ws->d, &ws->r1,  &ws->r2,   &ws->c1,  &ws->c2,
                     &ws->m,  &ws->g, &ws->s,   &ws->tau,  &ws->work, (void **)&ws->cols};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
    free(ws->iwork);
    ws->iwork = NULL;
}

/* (Re)allocates every buffer for the capacities in ws. */
static ns_status ws_alloc(ns_spectra_ws *ws)
{
    size_t rows = ws->rows, hi = ws->h_in, ho = ws->h_out, el;
    size_t k1 = zmin(hi, rows), k2 = zmin(ho, rows);
    size_t mn = zmax(zmin(ho, hi), zmin(rows, zmax(hi, ho)));
    el = ws->prec == NS_SPECTRA_F64 ? sizeof(double) : sizeof(float);
    ws->lwork = ws->prec == NS_SPECTRA_F64 ? sv_lwork_f64(rows, hi, ho) : sv_lwork_f32(rows, hi, ho);
    ws->a = ns_alloc(zmax(rows * hi, 1), el);
    ws->d = ns_alloc(zmax(rows * ho, 1), el);
    ws->r1 = ns_alloc(zmax(k1 * rows, 1), el);
    ws->r2 = ns_alloc(zmax(k2 * rows, 1), el);
    ws->c1 = ns_alloc(zmax(zmax(k1, k2) * rows, 1), el);
    ws->c2 = ns_alloc(zmax(k2 * rows, 1), el);
    ws->cols = ns_alloc(zmax(rows, 1), sizeof(size_t));
    ws->m = ns_alloc(zmax(k1 * k2, 1), el);
    ws->g = ns_alloc(zmax(hi * ho, 1), el);
    ws->s = ns_alloc(zmax(mn, 1), el);
    ws->tau = ns_alloc(zmax(zmax(rows, zmax(hi, ho)), 1), el);
    ws->work = ns_alloc(zmax(ws->lwork, 1), el);
    ws->iwork = ns_alloc(8 * zmax(mn, 1), sizeof(int));
    if (!ws->a || !ws->d || !ws->r1 || !ws->r2 || !ws->c1 || !ws->c2 || !ws->cols || !ws->m ||
        !ws->g || !ws->s || !ws->tau || !ws->work || !ws->iwork) {
        ws_release(ws);
        return ns_error(NS_ERR_NOMEM, "out of memory for a spectra workspace (%zu x %zu, %zu rows)",
                        ho, hi, rows);
    }
    return NS_OK;
}

ns_spectra_ws *ns_spectra_ws_create(size_t max_rows, size_t h_in, size_t h_out,
                                    ns_spectra_precision prec)
{
    ns_spectra_ws *ws = ns_calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    *ws = (ns_spectra_ws){.prec = prec, .rows = max_rows, .h_in = h_in, .h_out = h_out,
                          .simd = sv_hqr_simd_available() ? SV_SIMD : 0};
    if (ws_alloc(ws) != NS_OK) {
        free(ws);
        return NULL;
    }
    return ws;
}

void ns_spectra_ws_free(ns_spectra_ws *ws)
{
    if (!ws)
        return;
    ws_release(ws);
    free(ws);
}

ns_status ns_spectra_ws_reserve(ns_spectra_ws *ws, size_t max_rows, size_t h_in, size_t h_out)
{
    if (max_rows <= ws->rows && h_in <= ws->h_in && h_out <= ws->h_out)
        return NS_OK;
    ws_release(ws);
    ws->rows = zmax(max_rows, ws->rows);
    ws->h_in = zmax(h_in, ws->h_in);
    ws->h_out = zmax(h_out, ws->h_out);
    return ws_alloc(ws);
}

ns_spectra_precision ns_spectra_ws_precision(const ns_spectra_ws *ws) { return ws->prec; }

/* Flop estimates of the two routes (values-only SVD ~ 4 mx mn^2); the QR
 * route is mostly BLAS-2 work, weighted twice. */
static int use_qr(size_t n, size_t h_in, size_t h_out)
{
    double k1 = (double)zmin(h_in, n), k2 = (double)zmin(h_out, n), dn = (double)n;
    double mn = (double)zmin(h_in, h_out), mx = (double)zmax(h_in, h_out);
    double kmn = k1 < k2 ? k1 : k2, kmx = k1 < k2 ? k2 : k1;
    double qr = 2 * (2 * dn * dn * (double)(h_in + h_out)) + 2 * k1 * k2 * dn + 4 * kmx * kmn * kmn;
    double full = 2 * dn * (double)h_in * (double)h_out + 4 * mx * mn * mn;
    return qr < full;
}

static void copy_sv(const ns_spectra_ws *ws, long k, double *sv)
{
    for (long i = 0; i < k; i++)
        sv[i] = ws->prec == NS_SPECTRA_F64 ? ((const double *)ws->s)[i]
                                           : (double)((const float *)ws->s)[i];
}

static size_t gather(ns_spectra_ws *ws, const ns_matrix *X, const int *rg, int g, void *out)
{
    return ws->prec == NS_SPECTRA_F64 ? sv_gather_f64(X, rg, g, out) : sv_gather_f32(X, rg, g, out);
}

static size_t count_rows(const int *rg, int g, size_t rows)
{
    if (g == NS_SPECTRA_ALL)
        return rows;
    size_t n = 0;
    for (size_t r = 0; rg && r < rows; r++)
        n += rg[r] == g;
    return n;
}

/* Rows (columns of the gathered batch) of group g; all when g == ALL. */
static size_t group_cols(const int *rg, int g, size_t n, size_t *cols)
{
    size_t k = 0;
    for (size_t j = 0; j < n; j++)
        if (g == NS_SPECTRA_ALL || (rg && rg[j] == g))
            cols[k++] = j;
    return k;
}

static ns_status lapack_failed(int info, const char *what, size_t m, size_t n)
{
    return ns_error(NS_ERR_NUMERIC, "%s failed (LAPACK info %d) on a %zu x %zu matrix", what, info,
                    m, n);
}

/* Spectrum of the rows cols of the factorised batch (QR route). */
static ns_status qr_group(ns_spectra_ws *ws, size_t n, size_t hi, size_t ho, size_t nc,
                          double *sv, ns_spectra_stats *st)
{
    int info = 0;
    long k = ws->prec == NS_SPECTRA_F64 ? sv_qr_cols_f64(ws, n, hi, ho, ws->cols, nc, &info)
                                        : sv_qr_cols_f32(ws, n, hi, ho, ws->cols, nc, &info);
    if (k < 0)
        return lapack_failed(info, "QR-route SVD", ho, hi);
    copy_sv(ws, k, sv);
    ns_spectra_stats_from_sv(sv, (size_t)k, ho, hi, ns_spectra_eps(ws->prec), st);
    st->rows = nc;
    st->share = n ? (double)nc / (double)n : 0;
    return NS_OK;
}

/* Forms G_g and runs gesdd (the check route). */
static ns_status full_group(ns_spectra_ws *ws, const ns_matrix *A, const ns_matrix *D,
                            const int *rg, int g, double *sv, ns_spectra_stats *st)
{
    int info = 0;
    size_t hi = A->cols, ho = D->cols, n = gather(ws, A, rg, g, ws->a);
    gather(ws, D, rg, g, ws->d);
    long k = ws->prec == NS_SPECTRA_F64 ? sv_full_f64(ws, n, hi, ho, &info)
                                        : sv_full_f32(ws, n, hi, ho, &info);
    if (k < 0)
        return lapack_failed(info, "SVD", ho, hi);
    copy_sv(ws, k, sv);
    ns_spectra_stats_from_sv(sv, (size_t)k, ho, hi, ns_spectra_eps(ws->prec), st);
    st->rows = n;
    st->share = A->rows ? (double)n / (double)A->rows : 0;
    return NS_OK;
}

ns_status ns_spectra_grad_sv_groups(ns_spectra_ws *ws, const ns_matrix *A, const ns_matrix *D,
                                    const int *row_group, int ngroups, ns_spectra_method method,
                                    double *sv, size_t ldsv, ns_spectra_stats *st)
{
    size_t hi = A->cols, ho = D->cols, n = A->rows;
    if (A->rows != D->rows)
        return ns_error(NS_ERR_ARG, "A has %zu rows but D has %zu (spectra of a gradient)",
                        A->rows, D->rows);
    ns_status s = ns_spectra_ws_reserve(ws, n, hi, ho);
    if (s != NS_OK)
        return s;
    int qr = method == NS_SPECTRA_QR || (method == NS_SPECTRA_AUTO && use_qr(n, hi, ho));
    for (int g = -1; !qr && g < ngroups && s == NS_OK; g++)
        s = full_group(ws, A, D, row_group, g, sv + (size_t)(g + 1) * ldsv, &st[g + 1]);
    if (!qr)
        return s;
    gather(ws, A, NULL, NS_SPECTRA_ALL, ws->a);
    gather(ws, D, NULL, NS_SPECTRA_ALL, ws->d);
    int info = ws->prec == NS_SPECTRA_F64 ? sv_qr_factor_f64(ws, n, hi, ho)
                                          : sv_qr_factor_f32(ws, n, hi, ho);
    if (info)
        return lapack_failed(info, "QR", hi + ho, n);
    for (int g = -1; g < ngroups && s == NS_OK; g++) {
        size_t nc = group_cols(row_group, g, n, ws->cols);
        s = qr_group(ws, n, hi, ho, nc, sv + (size_t)(g + 1) * ldsv, &st[g + 1]);
    }
    return s;
}

ns_status ns_spectra_grad_sv(ns_spectra_ws *ws, const ns_matrix *A, const ns_matrix *D,
                             const int *row_group, int group, ns_spectra_method method,
                             double *sv, ns_spectra_stats *st)
{
    if (group == NS_SPECTRA_ALL || group < 0)
        return ns_spectra_grad_sv_groups(ws, A, D, NULL, 0, method, sv, 0, st);
    /* one group: only its rows are factorised */
    size_t hi = A->cols, ho = D->cols;
    if (A->rows != D->rows)
        return ns_error(NS_ERR_ARG, "A has %zu rows but D has %zu (spectra of a gradient)",
                        A->rows, D->rows);
    ns_status s = ns_spectra_ws_reserve(ws, count_rows(row_group, group, A->rows), hi, ho);
    if (s != NS_OK)
        return s;
    size_t n = count_rows(row_group, group, A->rows);
    if (!(method == NS_SPECTRA_QR || (method == NS_SPECTRA_AUTO && use_qr(n, hi, ho))))
        return full_group(ws, A, D, row_group, group, sv, st);
    gather(ws, A, row_group, group, ws->a);
    gather(ws, D, row_group, group, ws->d);
    int info = n ? (ws->prec == NS_SPECTRA_F64 ? sv_qr_factor_f64(ws, n, hi, ho)
                                               : sv_qr_factor_f32(ws, n, hi, ho)) : 0;
    if (info)
        return lapack_failed(info, "QR", hi + ho, n);
    group_cols(NULL, NS_SPECTRA_ALL, n, ws->cols);
    s = qr_group(ws, n, hi, ho, n, sv, st);
    st->share = A->rows ? (double)n / (double)A->rows : 0;
    return s;
}

ns_status ns_spectra_matrix_sv_groups(ns_spectra_ws *ws, const ns_matrix *X, const int *row_group,
                                      int ngroups, double *sv, size_t ldsv, ns_spectra_stats *st)
{
    size_t cols = X->cols, n = X->rows, k = zmin(cols, n);
    ns_status s = ns_spectra_ws_reserve(ws, n, cols, 0);
    if (s != NS_OK)
        return s;
    gather(ws, X, NULL, NS_SPECTRA_ALL, ws->a);
    int info = !n ? 0 : ws->prec == NS_SPECTRA_F64 ? sv_r_factor_f64(ws, ws->a, cols, n, ws->r1)
                                                   : sv_r_factor_f32(ws, ws->a, cols, n, ws->r1);
    if (info)
        return lapack_failed(info, "QR", cols, n);
    for (int g = -1; g < ngroups; g++) {
        size_t nc = group_cols(row_group, g, n, ws->cols);
        /* X_S^T = Q R[:, S]: the singular values of the k x nc block */
        long kk = ws->prec == NS_SPECTRA_F64 ? sv_r_cols_f64(ws, ws->r1, k, ws->cols, nc, &info)
                                             : sv_r_cols_f32(ws, ws->r1, k, ws->cols, nc, &info);
        if (kk < 0)
            return lapack_failed(info, "SVD", nc, cols);
        ns_spectra_stats *t = &st[g + 1];
        copy_sv(ws, kk, sv + (size_t)(g + 1) * ldsv);
        ns_spectra_stats_from_sv(sv + (size_t)(g + 1) * ldsv, (size_t)kk, nc, cols,
                                 ns_spectra_eps(ws->prec), t);
        t->rows = nc;
        t->share = n ? (double)nc / (double)n : 0;
    }
    return NS_OK;
}

ns_status ns_spectra_matrix_sv(ns_spectra_ws *ws, const ns_matrix *X, const int *row_group,
                               int group, double *sv, ns_spectra_stats *st)
{
    int info = 0;
    size_t cols = X->cols;
    if (group == NS_SPECTRA_ALL || group < 0)
        return ns_spectra_matrix_sv_groups(ws, X, NULL, 0, sv, 0, st);
    ns_status s = ns_spectra_ws_reserve(ws, count_rows(row_group, group, X->rows), cols, 0);
    if (s != NS_OK)
        return s;
    size_t n = gather(ws, X, row_group, group, ws->a);
    long k = ws->prec == NS_SPECTRA_F64 ? sv_plain_f64(ws, ws->a, cols, n, &info)
                                        : sv_plain_f32(ws, ws->a, cols, n, &info);
    if (k < 0)
        return lapack_failed(info, "SVD", n, cols);
    copy_sv(ws, k, sv);
    ns_spectra_stats_from_sv(sv, (size_t)k, n, cols, ns_spectra_eps(ws->prec), st);
    st->rows = n;
    st->share = X->rows ? (double)n / (double)X->rows : 0;
    return NS_OK;
}

void ns_spectra_stats_from_sv(const double *sv, size_t nsv, size_t m, size_t n, double eps,
                              ns_spectra_stats *st)
{
    memset(st, 0, sizeof *st);
    st->nsv = nsv;
    if (!nsv || !(sv[0] > 0))
        return;
    st->tol = sv[0] * (double)zmax(m, n) * eps;
    double sum = 0, kept = 0, h = 0;
    for (size_t i = 0; i < nsv; i++) {
        st->rank += sv[i] > st->tol;
        sum += sv[i];
        kept += sv[i] > st->tol ? sv[i] : 0;
    }
    /* entropy over the numerically non-zero values: round-off singular
     * values are zeros, and both routes then agree exactly */
    for (size_t i = 0; i < nsv; i++) {
        double p = sv[i] / kept;
        if (sv[i] > st->tol)
            h -= p * log(p);
    }
    st->nuclear = sum;
    st->effrank = exp(h);
    st->sv1_share = sv[0] / sum;
}

ns_status ns_spectra_group_gradient(const ns_matrix *A, const ns_matrix *D, const int *row_group,
                                    int group, ns_matrix *G)
{
    if (A->rows != D->rows || G->rows != D->cols || G->cols != A->cols)
        return ns_error(NS_ERR_ARG, "shapes do not match (group gradient %zu x %zu from A %zu x %zu,"
                        " D %zu x %zu)", G->rows, G->cols, A->rows, A->cols, D->rows, D->cols);
    for (size_t i = 0; i < G->rows; i++)
        memset(G->data + i * G->stride, 0, G->cols * sizeof(float));
    for (size_t r = 0; r < A->rows; r++) {
        if (group != NS_SPECTRA_ALL && (!row_group || row_group[r] != group))
            continue;
        /* G += d_r a_r^T */
        cblas_sger(CblasRowMajor, (int)G->rows, (int)G->cols, 1.0f, D->data + r * D->stride, 1,
                   A->data + r * A->stride, 1, G->data, (int)G->stride);
    }
    return NS_OK;
}

void ns_spectra_row_groups(const int *sample_group, const size_t *sample_idx, size_t nsamples,
                           size_t rows_per_sample, int *row_group)
{
    for (size_t n = 0; n < nsamples; n++) {
        size_t s = sample_idx ? sample_idx[n] : n;
        int g = sample_group ? sample_group[s] : 0;
        for (size_t r = 0; r < rows_per_sample; r++)
            row_group[n * rows_per_sample + r] = g;
    }
}
