/* Template of the Householder kernels (R factor, bidiagonal form), included
 * by hqr.c once per precision and variant with REAL, SFX (f32/f64 plus the
 * variant), SIMD (0: plain C, 1: AVX2+FMA intrinsics) and, for SIMD, VEC/
 * VLANES/VLOAD/VSTORE/VFMA/VFNMA/VSET1/VZERO/VADD/VMUL/VHSUM/HLOAD4 and TARGET
 * defined. The reflectors are those of LAPACK's xLARFG (beta = -sign(alpha)
 * |x|, tau = (beta - alpha) / beta), so R equals geqrf's R and d, e gebd2's
 * up to round-off; the reflectors themselves are not kept. */
#define HFN3(n, s) n##_##s
#define HFN2(n, s) HFN3(n, s)
#define HFN(n) HFN2(n, SFX)

/* y += a x (L values). */
TARGET static void HFN(axpy)(REAL a, const REAL *x, REAL *y, size_t L)
{
    size_t i = 0;
#if SIMD
    VEC va = VSET1(a);
    for (; i + VLANES <= L; i += VLANES)
        VSTORE(y + i, VFMA(va, VLOAD(x + i), VLOAD(y + i)));
#endif
    for (; i < L; i++)
        y[i] += a * x[i];
}

/* Applies H = I - tau v v^T (v: L values, v[0] = 1 stored) to nc columns
 * of c (leading dimension ld), four columns per pass over v. */
TARGET static void HFN(apply)(const REAL *v, size_t L, REAL tau, REAL *c, size_t ld, size_t nc)
{
    size_t k = 0;
    for (; k < nc; k += 4) {
        size_t nb = nc - k < 4 ? nc - k : 4;
        REAL *col[4];
        for (size_t b = 0; b < 4; b++)
            col[b] = c + (k + (b < nb ? b : 0)) * ld; /* spare lanes repeat column 0, unused */
        REAL w[4] = {0, 0, 0, 0};
        size_t i = 0;
#if SIMD
        /* two accumulators per column: eight independent FMA chains */
        VEC s0 = VZERO(), s1 = VZERO(), s2 = VZERO(), s3 = VZERO();
        VEC t0 = VZERO(), t1 = VZERO(), t2 = VZERO(), t3 = VZERO();
        for (; i + 2 * VLANES <= L; i += 2 * VLANES) {
            VEC vv = VLOAD(v + i), vu = VLOAD(v + i + VLANES);
            s0 = VFMA(vv, VLOAD(col[0] + i), s0);
            s1 = VFMA(vv, VLOAD(col[1] + i), s1);
            s2 = VFMA(vv, VLOAD(col[2] + i), s2);
            s3 = VFMA(vv, VLOAD(col[3] + i), s3);
            t0 = VFMA(vu, VLOAD(col[0] + i + VLANES), t0);
            t1 = VFMA(vu, VLOAD(col[1] + i + VLANES), t1);
            t2 = VFMA(vu, VLOAD(col[2] + i + VLANES), t2);
            t3 = VFMA(vu, VLOAD(col[3] + i + VLANES), t3);
        }
        if (i + VLANES <= L) { /* short columns (the small matrices): one more vector */
            VEC vv = VLOAD(v + i);
            s0 = VFMA(vv, VLOAD(col[0] + i), s0);
            s1 = VFMA(vv, VLOAD(col[1] + i), s1);
            s2 = VFMA(vv, VLOAD(col[2] + i), s2);
            s3 = VFMA(vv, VLOAD(col[3] + i), s3);
            i += VLANES;
        }
        w[0] = VHSUM(VADD(s0, t0));
        w[1] = VHSUM(VADD(s1, t1));
        w[2] = VHSUM(VADD(s2, t2));
        w[3] = VHSUM(VADD(s3, t3));
#endif
        for (; i < L; i++)
            for (size_t b = 0; b < 4; b++)
                w[b] += v[i] * col[b][i];
        for (size_t b = 0; b < 4; b++)
            w[b] *= tau;
        if (nb < 4) {
            for (size_t b = 0; b < nb; b++)
                HFN(axpy)(-w[b], v, col[b], L);
            continue;
        }
        i = 0;
#if SIMD
        VEC w0 = VSET1(w[0]), w1 = VSET1(w[1]), w2 = VSET1(w[2]), w3 = VSET1(w[3]);
        for (; i + VLANES <= L; i += VLANES) {
            VEC vv = VLOAD(v + i);
            VSTORE(col[0] + i, VFNMA(w0, vv, VLOAD(col[0] + i)));
            VSTORE(col[1] + i, VFNMA(w1, vv, VLOAD(col[1] + i)));
            VSTORE(col[2] + i, VFNMA(w2, vv, VLOAD(col[2] + i)));
            VSTORE(col[3] + i, VFNMA(w3, vv, VLOAD(col[3] + i)));
        }
#endif
        for (size_t b = 0; b < 4; b++)
            for (size_t j = i; j < L; j++)
                col[b][j] -= w[b] * v[j];
    }
}

/* Sum of squares of x[0..L) in double. The data come from float matrices
 * (|x| in [1.4e-45, 3.4e38] or 0), so it neither overflows nor underflows,
 * and no rescaling as in xLARFG is needed; see reflector(). */
TARGET static double HFN(sumsq)(const REAL *x, size_t L)
{
    double s = 0;
    size_t i = 0;
#if SIMD
    __m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
    for (; i + 8 <= L; i += 8) {
        __m256d x0 = HLOAD4(x + i), x1 = HLOAD4(x + i + 4);
        a = _mm256_fmadd_pd(x0, x0, a);
        b = _mm256_fmadd_pd(x1, x1, b);
    }
    s = hsum_pd(_mm256_add_pd(a, b));
#endif
    for (; i < L; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

/* The reflector of x (L >= 1 values) as xLARFG makes it: x[1..L) becomes
 * v[1..L) (v[0] = 1), *tau is set and beta (what x[0] becomes) returned;
 * tau = 0 (H = I, x unchanged) when x[1..L) is zero. Computed in double, so
 * float data need no rescaling (|v_i| <= 1 always fits REAL). A sum of
 * squares of exactly 0 in double means all of x[1..L) is below 1e-154, far
 * under eps of the float data it came from, and counts as zero. NaN or Inf
 * in x give NaN, as with LAPACK. */
TARGET static REAL HFN(reflector)(REAL *x, size_t L, REAL *tau)
{
    double alpha = (double)x[0], ss = HFN(sumsq)(x + 1, L - 1);
    *tau = 0;
    if (ss == 0)
        return x[0];
    double beta = -copysign(sqrt(alpha * alpha + ss), alpha), scale = 1 / (alpha - beta);
    size_t i = 1;
    if (fabs(scale) > 1e-30 && fabs(scale) < 1e30) { /* the factor itself fits REAL */
        REAL sr = (REAL)scale;
#if SIMD
        VEC vs = VSET1(sr);
        for (; i + VLANES <= L; i += VLANES)
            VSTORE(x + i, VMUL(vs, VLOAD(x + i)));
#endif
        for (; i < L; i++)
            x[i] *= sr;
    }
    for (; i < L; i++) /* float data near the ends of their range */
        x[i] = (REAL)((double)x[i] * scale);
    *tau = (REAL)((beta - alpha) / beta);
    return (REAL)beta;
}

/* Householder QR of x (m x n column-major, leading dimension ld) in place:
 * R in the upper triangle, the reflectors below it. Reflectors are made
 * HQR_NB columns at a time (the panel), then applied to the trailing
 * columns four at a time, all HQR_NB in a row while those four columns sit
 * in the L1 cache: the matrix (176 KiB for 1378 x 32 floats) streams from
 * L2 once per panel instead of once per column. Same operations in the same
 * order per column as the unblocked loop. */
#ifndef HQR_NB
#define HQR_NB 8
#endif
TARGET static void HFN(hqr_core)(REAL *x, size_t m, size_t n, size_t ld)
{
    size_t k = m < n ? m : n;
    for (size_t j0 = 0; j0 < k; j0 += HQR_NB) {
        size_t nb = k - j0 < HQR_NB ? k - j0 : HQR_NB, end = j0 + nb;
        REAL tau[HQR_NB], beta[HQR_NB];
        for (size_t j = j0; j < end; j++) { /* the panel */
            REAL *col = x + j * ld + j;
            beta[j - j0] = HFN(reflector)(col, m - j, &tau[j - j0]);
            col[0] = 1; /* v[0], until the panel is applied */
            if (tau[j - j0] != 0)
                HFN(apply)(col, m - j, tau[j - j0], col + ld, ld, end - j - 1);
        }
        for (size_t c = end; c < n; c += 4) { /* the trailing columns */
            size_t nc = n - c < 4 ? n - c : 4;
            for (size_t j = j0; j < end; j++)
                if (tau[j - j0] != 0)
                    HFN(apply)(x + j * ld + j, m - j, tau[j - j0], x + c * ld + j, ld, nc);
        }
        for (size_t j = j0; j < end; j++)
            x[j * ld + j] = beta[j - j0];
    }
}

/* c := c (I - tau u u^T) for the rows x L block c (leading dimension ld;
 * u: L values, u[0] = 1 stored): w = c u, then c -= tau w u^T, column by
 * column. w: rows values of scratch. */
TARGET static void HFN(rapply)(const REAL *u, size_t L, REAL tau, REAL *c, size_t ld, size_t rows,
                               REAL *w)
{
    for (size_t i = 0; i < rows; i++)
        w[i] = 0;
    for (size_t k = 0; k < L; k++)
        HFN(axpy)(u[k], c + k * ld, w, rows);
    for (size_t k = 0; k < L; k++)
        HFN(axpy)(-tau * u[k], w, c + k * ld, rows);
}

/* Upper bidiagonal form of a (m x n, m >= n >= 1, leading dimension ld;
 * destroyed) by Golub-Kahan Householder reflectors, as xGEBD2 makes it
 * (one left reflector per column, one right reflector per row): d (n), e
 * (n - 1), with the singular values of a. scratch: m + n values. */
TARGET static void HFN(bidiag)(REAL *a, size_t m, size_t n, size_t ld, REAL *d, REAL *e,
                               REAL *scratch)
{
    REAL *u = scratch, *w = scratch + n, tau;
    for (size_t j = 0; j < n; j++) {
        REAL *col = a + j * ld + j;
        d[j] = HFN(reflector)(col, m - j, &tau);
        if (tau != 0) {
            col[0] = 1;
            HFN(apply)(col, m - j, tau, col + ld, ld, n - j - 1);
        }
        if (j + 1 == n)
            break;
        size_t L = n - j - 1;
        for (size_t k = 0; k < L; k++)
            u[k] = a[j + (j + 1 + k) * ld];
        e[j] = HFN(reflector)(u, L, &tau);
        if (tau != 0) {
            u[0] = 1;
            HFN(rapply)(u, L, tau, a + (j + 1) * ld + j + 1, ld, m - j - 1, w);
        }
    }
}

/* R factor of x (m x n, leading dimension ld; destroyed) into r (min(m, n) x
 * n, leading dimension ldr, zeros below the diagonal). */
TARGET static void HFN(hqr)(REAL *x, size_t m, size_t n, size_t ld, REAL *r, size_t ldr)
{
    size_t k = m < n ? m : n;
    HFN(hqr_core)(x, m, n, ld);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < k; i++)
            r[i + j * ldr] = i <= j ? x[i + j * ld] : (REAL)0;
}

#undef HFN
#undef HFN2
#undef HFN3
