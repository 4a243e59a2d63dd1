/* Template for the singular-value kernels, included by sv.c once per
 * precision with REAL (float/double), SFX (f32/f64) and LP(x) (LAPACKE_s##x /
 * LAPACKE_d##x), CB(x) (cblas_s##x / cblas_d##x) defined. Matrices are
 * column-major, as LAPACK wants them: the gathered rows of a row-major A
 * (n_g x h_in) are A_g^T (h_in x n_g) in column-major without a transpose. */
#define FN3(n, s) n##_##s
#define FN2(n, s) FN3(n, s)
#define FN(n) FN2(n, SFX)

size_t FN(sv_gather)(const ns_matrix *X, const int *rg, int g, REAL *out)
{
    size_t n = 0, cols = X->cols;
    for (size_t r = 0; r < X->rows; r++) {
        if (g != NS_SPECTRA_ALL && (!rg || rg[r] != g))
            continue;
        const float *src = X->data + r * X->stride;
        REAL *dst = out + n * cols;
        if (sizeof(REAL) == sizeof(float)) /* a copy: memcpy is vectorised, the loop is not at -O2 */
            memcpy(dst, src, cols * sizeof *src);
        else
            for (size_t j = 0; j < cols; j++)
                dst[j] = (REAL)src[j];
        n++;
    }
    return n;
}

/* Up to this size (both dimensions) the singular values come from our
 * bidiagonalisation + bdsqr (hqr.c), above it from gesdd. */
#define SV_SMALL_MAX 128

static size_t FN(lw_geqrf)(size_t m, size_t n)
{
    REAL q = 0;
    LP(geqrf_work)(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, NULL, (lapack_int)(m ? m : 1),
                   NULL, &q, -1);
    return (size_t)q > n ? (size_t)q : n;
}

/* gesdd's work for m x n (the route without our kernels, and large ones). */
static size_t FN(lw_values)(size_t m, size_t n)
{
    if (!m || !n)
        return 1;
    REAL q = 0;
    size_t mn = m < n ? m : n, mx = m < n ? n : m;
    lapack_int iw = 0;
    LP(gesdd_work)(LAPACK_COL_MAJOR, 'N', (lapack_int)m, (lapack_int)n, NULL, (lapack_int)m, NULL,
                   NULL, 1, NULL, 1, &q, -1, &iw);
    /* the documented minimum for jobz = 'N', in case the query is lower */
    size_t minimum = 3 * mn + (mx > 7 * mn ? mx : 7 * mn);
    return (size_t)q > minimum ? (size_t)q : minimum;
}

static size_t FN(maxz)(size_t a, size_t b) { return a > b ? a : b; }
static size_t FN(minz)(size_t a, size_t b) { return a < b ? a : b; }

/* Largest work array any kernel below needs for these capacities, with or
 * without our kernels (every shape FN(values) sees; small ones: one side
 * <= the widths, the other <= the rows). */
size_t FN(sv_lwork)(size_t rows, size_t h_in, size_t h_out)
{
    size_t k1 = FN(minz)(h_in, rows), k2 = FN(minz)(h_out, rows);
    size_t small = sv_small_lwork(FN(minz)(FN(maxz)(h_in, h_out), SV_SMALL_MAX),
                                  FN(minz)(rows, SV_SMALL_MAX));
    if (h_out <= SV_SMALL_MAX && h_in <= SV_SMALL_MAX) /* the formed G of the full route */
        small = FN(maxz)(small, sv_small_lwork(h_out, h_in));
    size_t w = FN(maxz)(small, FN(lw_values)(k2, k1));
    w = FN(maxz)(w, FN(maxz)(FN(lw_geqrf)(h_in, rows), FN(lw_geqrf)(h_out, rows)));
    w = FN(maxz)(w, FN(lw_values)(h_out, h_in));
    w = FN(maxz)(w, FN(lw_values)(h_in, rows));
    return FN(maxz)(w, FN(lw_values)(h_out, rows));
}

/* Singular values of x (m x n, leading dimension ld; destroyed) into ws->s. */
static long FN(values)(ns_spectra_ws *ws, REAL *x, size_t m, size_t n, size_t ld, int *info)
{
    if (!m || !n)
        return 0;
    if (ws->simd && m <= SV_SMALL_MAX && n <= SV_SMALL_MAX)
        *info = FN(sv_small_sv)(x, m, n, ld, ws->s, ws->work, ws->simd);
    else
        *info = LP(gesdd_work)(LAPACK_COL_MAJOR, 'N', (lapack_int)m, (lapack_int)n, x,
                               (lapack_int)ld, (REAL *)ws->s, NULL, 1, NULL, 1, (REAL *)ws->work,
                               (lapack_int)ws->lwork, ws->iwork);
    return *info ? -1 : (long)FN(minz)(m, n);
}

/* QR of x (m x n, column-major, leading dimension ld, destroyed); the
 * upper trapezoid R (min(m, n) x n) into r (leading dimension ldr <= ld;
 * may be x). Our Householder kernel (hqr.c) when the CPU has AVX2: geqrf's
 * unblocked loop for these narrow shapes costs 3-4 times more; else geqrf
 * (our plain-C kernel is slower than OpenBLAS's). Returns the LAPACK info. */
static int FN(rfactor)(ns_spectra_ws *ws, REAL *x, size_t m, size_t n, size_t ld, REAL *r,
                       size_t ldr)
{
    size_t k = FN(minz)(m, n);
    if (ws->simd) {
        FN(sv_hqr)(x, m, n, ld, r, ldr, ws->simd);
        return 0;
    }
    int info = LP(geqrf_work)(LAPACK_COL_MAJOR, (lapack_int)m, (lapack_int)n, x, (lapack_int)ld,
                              ws->tau, ws->work, (lapack_int)ws->lwork);
    for (size_t j = 0; !info && j < n; j++) /* destinations never pass their sources */
        for (size_t i = 0; i < k; i++)
            r[i + j * ldr] = i <= j ? x[i + j * ld] : (REAL)0;
    return info;
}

int FN(sv_r_factor)(ns_spectra_ws *ws, REAL *x, size_t m, size_t n, REAL *r)
{
    return FN(rfactor)(ws, x, m, n, m, r, FN(minz)(m, n));
}

/* ws->a holds A^T (h_in x n), ws->d holds D^T (h_out x n), column j = row
 * j. Keeps R1 (k1 x n) in ws->r1 and R2 (k2 x n) in ws->r2. */
int FN(sv_qr_factor)(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out)
{
    int info = FN(sv_r_factor)(ws, ws->a, h_in, n, ws->r1);
    return info ? info : FN(sv_r_factor)(ws, ws->d, h_out, n, ws->r2);
}

/* A group's block c (k x nc, leading dim k) replaced in place by its own R
 * factor (p x nc, leading dim p = min(k, nc)): c = Q' R with orthonormal
 * Q', so the gradient's singular values are unchanged and the SVD is
 * n_g x n_g instead of k x k. Returns p (0 with *info set on failure). */
static size_t FN(reduce)(ns_spectra_ws *ws, REAL *c, size_t k, size_t nc, int *info)
{
    *info = 0;
    if (nc >= k)
        return k;
    *info = FN(rfactor)(ws, c, k, nc, k, c, nc); /* R (nc x nc) written behind the reads */
    return *info ? 0 : nc;
}

/* Singular values of the gradient of the rows cols[0..nc) after
 * sv_qr_factor: A_S^T = Q1 R1[:, S] and D_S^T = Q2 R2[:, S] with orthonormal
 * Q1, Q2, so G_S = D_S^T A_S = Q2 (R2[:, S] R1[:, S]^T) Q1^T has the
 * singular values of R2[:, S] R1[:, S]^T (each block first reduced to its
 * own R factor when the group is narrower). Exact; one factorisation of the
 * batch serves the batch and every group. Returns how many values
 * (min(k1, k2, nc)) or -1. */
long FN(sv_qr_cols)(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out, const size_t *cols,
                    size_t nc, int *info)
{
    size_t k1 = FN(minz)(h_in, n), k2 = FN(minz)(h_out, n);
    const REAL *r1 = ws->r1, *r2 = ws->r2;
    REAL *c1 = ws->c1, *c2 = ws->c2;
    if (!nc)
        return 0;
    for (size_t j = 0; j < nc; j++) {
        memcpy(c1 + j * k1, r1 + cols[j] * k1, k1 * sizeof(REAL));
        memcpy(c2 + j * k2, r2 + cols[j] * k2, k2 * sizeof(REAL));
    }
    *info = 0;
    size_t p1 = FN(reduce)(ws, c1, k1, nc, info);
    size_t p2 = *info ? 0 : FN(reduce)(ws, c2, k2, nc, info);
    if (*info)
        return -1;
    CB(gemm)(CblasColMajor, CblasNoTrans, CblasTrans, (int)p2, (int)p1, (int)nc, 1, c2, (int)p2,
             c1, (int)p1, 0, ws->m, (int)p2);
    return FN(values)(ws, ws->m, p2, p1, p2, info);
}

/* Singular values of the rows cols of the matrix whose R factor is r (k x
 * n, from sv_qr_factor): X_S^T = Q R[:, S]. */
long FN(sv_r_cols)(ns_spectra_ws *ws, const REAL *r, size_t k, const size_t *cols, size_t nc,
                   int *info)
{
    REAL *c = ws->c1;
    for (size_t j = 0; j < nc; j++)
        memcpy(c + j * k, r + cols[j] * k, k * sizeof(REAL));
    return nc ? FN(values)(ws, c, k, nc, k, info) : 0;
}

/* G_g = D_g^T A_g = (D_g^T)(A_g^T)^T formed (h_out x h_in), then gesdd. */
long FN(sv_full)(ns_spectra_ws *ws, size_t n, size_t h_in, size_t h_out, int *info)
{
    if (!n)
        return 0;
    CB(gemm)(CblasColMajor, CblasNoTrans, CblasTrans, (int)h_out, (int)h_in, (int)n, 1, ws->d,
             (int)h_out, ws->a, (int)h_in, 0, ws->g, (int)h_out);
    return FN(values)(ws, ws->g, h_out, h_in, h_out, info);
}

/* Singular values of the gathered rows x (cols x n column-major = X_g^T). */
long FN(sv_plain)(ns_spectra_ws *ws, void *x, size_t cols, size_t n, int *info)
{
    return FN(values)(ws, x, cols, n, cols, info);
}

#undef FN
#undef FN2
#undef FN3
