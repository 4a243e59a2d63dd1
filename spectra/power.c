/* Structured power iteration on the factors of G = F_out^T F_in without
 * forming G: the tap's (A, D) (F_in = A, F_out = D, rows = samples) or
 * gathered low-rank factors (F_in = Rin^T, F_out = Lin^T). The factors are
 * copied to double once per call (O(rows (h_in + h_out))), so that rounding
 * in the iteration stays far below the float32 data's own precision;
 * components one at a time, Hotelling deflation plus re-orthogonalisation. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

struct ns_spectra_power_ws {
    size_t rows, h_in, h_out;
    double *fin, *fout;          /* rows x h_in, rows x h_out, row-major */
    double *u, *b, *y, *bprev, *c;
    double *B;                   /* found directions b_j (h_out each), up to cap_r */
    size_t cap_r;
};

static void *grow(void *p, size_t n, size_t el, int *fail)
{
    void *q = realloc(p, (n ? n : 1) * el);
    if (!q)
        *fail = 1;
    return q ? q : p;
}

static ns_status ws_size(ns_spectra_power_ws *ws, size_t rows, size_t hi, size_t ho, size_t r)
{
    int fail = 0;
    if (rows > ws->rows || hi > ws->h_in || ho > ws->h_out) {
        ws->rows = rows > ws->rows ? rows : ws->rows;
        ws->h_in = hi > ws->h_in ? hi : ws->h_in;
        ws->h_out = ho > ws->h_out ? ho : ws->h_out;
        ws->fin = grow(ws->fin, ws->rows * ws->h_in, sizeof(double), &fail);
        ws->fout = grow(ws->fout, ws->rows * ws->h_out, sizeof(double), &fail);
        ws->u = grow(ws->u, ws->rows, sizeof(double), &fail);
        ws->b = grow(ws->b, ws->h_out, sizeof(double), &fail);
        ws->y = grow(ws->y, ws->h_out, sizeof(double), &fail);
        ws->bprev = grow(ws->bprev, ws->h_out, sizeof(double), &fail);
        ws->c = grow(ws->c, ws->h_in, sizeof(double), &fail);
        ws->cap_r = 0; /* B depends on h_out */
    }
    if (r > ws->cap_r) {
        ws->B = grow(ws->B, r * ws->h_out, sizeof(double), &fail);
        ws->cap_r = fail ? 0 : r;
    }
    if (fail)
        return ns_error(NS_ERR_NOMEM, "out of memory for a power-iteration workspace (%zu rows, %zu x %zu)",
                        rows, ho, hi);
    return NS_OK;
}

ns_spectra_power_ws *ns_spectra_power_ws_create(size_t max_rows, size_t h_in, size_t h_out)
{
    ns_spectra_power_ws *ws = ns_calloc(1, sizeof *ws);
    if (ws && ws_size(ws, max_rows ? max_rows : 1, h_in ? h_in : 1, h_out ? h_out : 1, 8) != NS_OK) {
        ns_spectra_power_ws_free(ws);
        return NULL;
    }
    return ws;
}

void ns_spectra_power_ws_free(ns_spectra_power_ws *ws)
{
    if (!ws)
        return;
    double *bufs[] = {ws->fin, ws->fout, ws->u, ws->b, ws->y, ws->bprev, ws->c, ws->B};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(ws);
}

/* Copies a k x h factor into dst (row-major k x h): from a row-major matrix
 * (tr = 0) or from the transpose of an h x k row-major matrix (tr = 1). */
static void load(const ns_matrix *m, int tr, double *dst)
{
    size_t k = tr ? m->cols : m->rows, h = tr ? m->rows : m->cols;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < h; j++)
            dst[i * h + j] = tr ? m->data[j * m->stride + i] : m->data[i * m->stride + j];
}

typedef struct {
    const double *fin, *fout; /* k x hi, k x ho */
    size_t k, hi, ho;
} op;

/* c = G^T b = F_in^T (F_out b) */
static void apply_gt(const op *o, double *u, const double *b, double *c)
{
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)o->k, (int)o->ho, 1, o->fout, (int)o->ho, b, 1, 0, u, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)o->k, (int)o->hi, 1, o->fin, (int)o->hi, u, 1, 0, c, 1);
}

/* y = G c = F_out^T (F_in c) */
static void apply_g(const op *o, double *u, const double *c, double *y)
{
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)o->k, (int)o->hi, 1, o->fin, (int)o->hi, c, 1, 0, u, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)o->k, (int)o->ho, 1, o->fout, (int)o->ho, u, 1, 0, y, 1);
}

/* Hotelling: y -= sum_j sigma_j^2 (b_j.b) b_j (skipped when b == NULL), then
 * two Gram-Schmidt passes y -= (b_j.y) b_j against rounding drift ("twice is
 * enough": one pass leaves a vector made of rounding error unorthogonal).
 * Returns |y| after / before, the share of y that lies outside the found
 * components (about 1e-16 when nothing is left beyond them). */
static double deflate(const double *B, size_t ho, size_t nf, const double *sigma, const double *b,
                      double *y)
{
    double before = cblas_dnrm2((int)ho, y, 1);
    for (size_t j = 0; b && j < nf; j++)
        cblas_daxpy((int)ho, -sigma[j] * sigma[j] * cblas_ddot((int)ho, B + j * ho, 1, b, 1),
                    B + j * ho, 1, y, 1);
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < nf; j++)
            cblas_daxpy((int)ho, -cblas_ddot((int)ho, B + j * ho, 1, y, 1), B + j * ho, 1, y, 1);
    return before > 0 ? cblas_dnrm2((int)ho, y, 1) / before : 0;
}

static int normalise(double *x, size_t n)
{
    double nx = cblas_dnrm2((int)n, x, 1);
    if (!(nx > 0))
        return 0;
    cblas_dscal((int)n, 1 / nx, x, 1);
    return 1;
}

/* Component j into ws->b; returns sigma_j = |G^T b_j| with G^T b_j in ws->c. */
static double one_component(const op *o, ns_spectra_power_ws *ws, size_t j, int iters, double tol,
                            uint64_t seed, const double *sigma)
{
    size_t ho = o->ho;
    double *b = ws->b, *y = ws->y;
    ns_rng *rng = ns_rng_create(ns_seed_derive(seed, j));
    if (!rng)
        return -1;
    for (size_t i = 0; i < ho; i++)
        b[i] = ns_rng_normal(rng);
    ns_rng_free(rng);
    deflate(ws->B, ho, j, sigma, NULL, b); /* start orthogonal to what was found */
    if (!normalise(b, ho))
        return 0;
    for (int it = 0; it < iters; it++) {
        apply_gt(o, ws->u, b, ws->c);
        apply_g(o, ws->u, ws->c, y); /* y = G G^T b */
        if (deflate(ws->B, ho, j, sigma, b, y) < 1e-12)
            return 0; /* G has no component left beyond the j found */
        if (!normalise(y, ho))
            break;
        memcpy(ws->bprev, b, ho * sizeof *b);
        memcpy(b, y, ho * sizeof *b);
        if (tol > 0) {
            cblas_daxpy((int)ho, -1, b, 1, ws->bprev, 1);
            if (cblas_dnrm2((int)ho, ws->bprev, 1) < tol)
                break;
        }
    }
    apply_gt(o, ws->u, b, ws->c);
    return cblas_dnrm2((int)o->hi, ws->c, 1);
}

/* The factors are in ws->fin / ws->fout (k rows). */
static ns_status power_run(ns_spectra_power_ws *ws, size_t k, size_t hi, size_t ho, size_t r,
                           int iters, double tol, uint64_t seed, float *L, float *R, double *sigma)
{
    op o = {ws->fin, ws->fout, k, hi, ho};
    memset(L, 0, ho * r * sizeof *L);
    memset(R, 0, hi * r * sizeof *R);
    /* a component at or below sigma_1 max(h_in, h_out) eps(float32), the
     * matrix_rank tolerance of the float32 data, counts as zero */
    double floor_ = 0;
    size_t j = 0;
    for (; j < r; j++) {
        double s = one_component(&o, ws, j, iters, tol, seed, sigma);
        if (s < 0)
            return NS_ERR_NOMEM;
        if (j == 0)
            floor_ = s * (double)(hi > ho ? hi : ho) * FLT_EPSILON;
        if (!(s > floor_))
            break;
        sigma[j] = s;
        memcpy(ws->B + j * ho, ws->b, ho * sizeof(double));
        for (size_t i = 0; i < ho; i++)
            L[i * r + j] = (float)(s * ws->b[i]);
        for (size_t i = 0; i < hi; i++)
            R[i * r + j] = (float)(ws->c[i] / s);
    }
    for (; j < r; j++)
        sigma[j] = 0;
    return NS_OK;
}

static ns_status power_entry(const ns_matrix *Fin, const ns_matrix *Fout, int tr, size_t r,
                             int iters, double tol, uint64_t seed, ns_spectra_power_ws *ws, float *L,
                             float *R, double *sigma)
{
    size_t k = tr ? Fin->cols : Fin->rows, hi = tr ? Fin->rows : Fin->cols;
    size_t ho = tr ? Fout->rows : Fout->cols;
    if (r == 0 || iters < 1)
        return ns_error(NS_ERR_ARG, "power iteration needs rank >= 1 and iterations >= 1 (rank %zu,"
                        " %d iterations)", r, iters);
    ns_spectra_power_ws *own = ws ? NULL : (ws = ns_calloc(1, sizeof *ws));
    if (!ws)
        return NS_ERR_NOMEM;
    ns_status s = ws_size(ws, k, hi, ho, r);
    if (s == NS_OK) {
        load(Fin, tr, ws->fin);
        load(Fout, tr, ws->fout);
        s = power_run(ws, k, hi, ho, r, iters, tol, seed, L, R, sigma);
    }
    ns_spectra_power_ws_free(own);
    return s;
}

ns_status ns_spectra_power(const ns_matrix *A, const ns_matrix *D, size_t r, int iters,
                           double tol, uint64_t seed, ns_spectra_power_ws *ws, float *L,
                           float *R, double *sigma)
{
    if (A->rows != D->rows)
        return ns_error(NS_ERR_ARG, "A has %zu rows but D has %zu (power iteration)", A->rows,
                        D->rows);
    return power_entry(A, D, 0, r, iters, tol, seed, ws, L, R, sigma);
}

ns_status ns_spectra_power_factors(const ns_matrix *Lin, const ns_matrix *Rin, size_t r, int iters,
                                   double tol, uint64_t seed, ns_spectra_power_ws *ws, float *L,
                                   float *R, double *sigma)
{
    if (Lin->cols != Rin->cols)
        return ns_error(NS_ERR_ARG, "factors have %zu and %zu columns (power iteration)",
                        Lin->cols, Rin->cols);
    return power_entry(Rin, Lin, 1, r, iters, tol, seed, ws, L, R, sigma);
}
