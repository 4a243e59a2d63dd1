/* The R factor of a tall-skinny QR (A^T of a layer tap: h_in x rows) for the
 * thin-QR route. LAPACK's geqrf on these shapes (rows <= its block size) is
 * its unblocked BLAS-2 loop, one gemv + ger call pair per column, and the
 * OpenBLAS build here runs SSE3 kernels: 0.4 ms for 1378 x 32, the largest
 * single cost of the spectra at every step. The same Householder reflectors
 * written out (panels of eight reflectors applied four trailing columns at a
 * time) with AVX2+FMA when the CPU has it (chosen at run time) take a
 * quarter of that; the plain-C variant serves other CPUs. */
#include <lapacke.h>
#include <math.h>
#include <stddef.h>

#include "spectra/spectra_int.h"

#define TARGET
#define SIMD 0
#define REAL float
#define SFX f32_c
#include "spectra/hqr_impl.h"
#undef REAL
#undef SFX
#define REAL double
#define SFX f64_c
#include "spectra/hqr_impl.h"
#undef REAL
#undef SFX
#undef SIMD
#undef TARGET

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HQR_HAVE_X86 1
#define TARGET __attribute__((target("avx2,fma")))
#define SIMD 1

TARGET static inline float hsum_ps(__m256 v)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

TARGET static inline double hsum_pd(__m256d v)
{
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

#define REAL float
#define SFX f32_avx2
#define VEC __m256
#define VLANES 8
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VFMA _mm256_fmadd_ps
#define VFNMA _mm256_fnmadd_ps
#define VSET1 _mm256_set1_ps
#define VZERO _mm256_setzero_ps
#define VADD _mm256_add_ps
#define VMUL _mm256_mul_ps
#define VHSUM hsum_ps
#define HLOAD4(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#include "spectra/hqr_impl.h"
#include "spectra/hqr_undef.h"

#define REAL double
#define SFX f64_avx2
#define VEC __m256d
#define VLANES 4
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VFMA _mm256_fmadd_pd
#define VFNMA _mm256_fnmadd_pd
#define VSET1 _mm256_set1_pd
#define VZERO _mm256_setzero_pd
#define VADD _mm256_add_pd
#define VMUL _mm256_mul_pd
#define VHSUM hsum_pd
#define HLOAD4(p) _mm256_loadu_pd(p)
#include "spectra/hqr_impl.h"
#include "spectra/hqr_undef.h"

#undef TARGET
#undef SIMD
#endif

/* 0 plain C, 1 AVX2+FMA: the best this CPU runs. (An AVX-512 variant was
 * measured: 10 % faster on 1378 x 32, slower on the small matrices; not
 * worth a third variant.) */
int sv_hqr_simd_available(void)
{
#ifdef HQR_HAVE_X86
    /* the CPU model is filled in by a constructor of libgcc / compiler-rt;
     * reading it is cheap and needs no cache of ours (no shared state) */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* The variant for a requested level (capped at the CPU's). */
#ifdef HQR_HAVE_X86
#define DISPATCH(name, sfx, simd, ...)                                                            \
    do {                                                                                          \
        int lv_ = sv_hqr_simd_available();                                                        \
        lv_ = (simd) < lv_ ? (simd) : lv_;                                                        \
        if (lv_ == 1)                                                                             \
            name##_##sfx##_avx2(__VA_ARGS__);                                                     \
        else                                                                                      \
            name##_##sfx##_c(__VA_ARGS__);                                                        \
    } while (0)
#else
#define DISPATCH(name, sfx, simd, ...) name##_##sfx##_c(__VA_ARGS__)
#endif

void sv_hqr_f32(float *x, size_t m, size_t n, size_t ld, float *r, size_t ldr, int simd)
{
    DISPATCH(hqr, f32, simd, x, m, n, ld, r, ldr);
}

void sv_hqr_f64(double *x, size_t m, size_t n, size_t ld, double *r, size_t ldr, int simd)
{
    DISPATCH(hqr, f64, simd, x, m, n, ld, r, ldr);
}

static void bidiag_f32(float *a, size_t m, size_t n, size_t ld, float *d, float *e, float *sc,
                       int simd)
{
    DISPATCH(bidiag, f32, simd, a, m, n, ld, d, e, sc);
}

static void bidiag_f64(double *a, size_t m, size_t n, size_t ld, double *d, double *e, double *sc,
                       int simd)
{
    DISPATCH(bidiag, f64, simd, a, m, n, ld, d, e, sc);
}
/* Small matrices: gesdd's bidiagonalisation (gebd2: two BLAS-2 calls per
 * reflector on a few hundred elements each) costs more than the dqds after
 * it. Our reflectors, then LAPACK's bdsqr without vectors (dqds, values to
 * high relative accuracy, sorted descending). A wide x is transposed first
 * (same singular values). Work layout: e (k), scratch (m + n), bdsqr's 4 k,
 * the transpose (m n). */
#define SMALL_SV(REALT, SFXV, BDSQR)                                                              \
    int sv_small_sv_##SFXV(REALT *x, size_t m, size_t n, size_t ld, REALT *s, REALT *work,        \
                           int simd)                                                              \
    {                                                                                             \
        size_t k = m < n ? m : n;                                                                 \
        if (!k)                                                                                   \
            return 0;                                                                             \
        REALT *e = work, *sc = e + k, *bw = sc + m + n, *a = x;                                   \
        if (m < n) {                                                                              \
            a = bw + 4 * k;                                                                       \
            for (size_t j = 0; j < n; j++)                                                        \
                for (size_t i = 0; i < m; i++)                                                    \
                    a[j + i * n] = x[i + j * ld];                                                 \
            bidiag_##SFXV(a, n, m, n, s, e, sc, simd);                                            \
        } else {                                                                                  \
            bidiag_##SFXV(a, m, n, ld, s, e, sc, simd);                                           \
        }                                                                                         \
        for (size_t i_ = 0; i_ < k; i_++) /* bdsqr would print (xerbla) and return NaN */       \
            if (!isfinite(s[i_]) || (i_ + 1 < k && !isfinite(e[i_])))                             \
                return -5; /* as LAPACKE's NaN check of A */                                      \
        return BDSQR(LAPACK_COL_MAJOR, 'U', (lapack_int)k, 0, 0, 0, s, e, NULL, 1, NULL, 1, NULL, \
                     1, bw);                                                                      \
    }
SMALL_SV(float, f32, LAPACKE_sbdsqr_work)
SMALL_SV(double, f64, LAPACKE_dbdsqr_work)

size_t sv_small_lwork(size_t m, size_t n)
{
    size_t k = m < n ? m : n;
    return m * n + m + n + 5 * k + 1;
}
