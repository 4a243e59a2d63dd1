/* The R factor of a tall-skinny QR (A^T of a layer tap: h_in x rows) for the
 * thin-QR route. LAPACK's geqrf on these shapes (rows <= its block size) is
 * its unblocked BLAS-2 loop, one gemv + ger call pair per column, and the
 * OpenBLAS build here runs SSE3 kernels: 0.4 ms for 1378 x 32, the largest
 * single cost of the spectra at every step. The same Householder reflectors
 * written out, four trailing columns per pass over the reflector and AVX2+FMA
 * when the CPU has it (chosen at run time), take a fraction of that; the
 * plain-C variant serves other CPUs. */
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
#define HQR_HAVE_AVX2 1
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
#define VHSUM hsum_ps
#define HLOAD4(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
#include "spectra/hqr_impl.h"
#undef REAL
#undef SFX
#undef VEC
#undef VLANES
#undef VLOAD
#undef VSTORE
#undef VFMA
#undef VFNMA
#undef VSET1
#undef VZERO
#undef VADD
#undef VHSUM
#undef HLOAD4

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
#define VHSUM hsum_pd
#define HLOAD4(p) _mm256_loadu_pd(p)
#include "spectra/hqr_impl.h"
#endif

int sv_hqr_simd_available(void)
{
#ifdef HQR_HAVE_AVX2
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return have;
#else
    return 0;
#endif
}

void sv_hqr_f32(float *x, size_t m, size_t n, size_t ld, float *r, size_t ldr, int simd)
{
#ifdef HQR_HAVE_AVX2
    if (simd && sv_hqr_simd_available()) {
        hqr_f32_avx2(x, m, n, ld, r, ldr);
        return;
    }
#endif
    hqr_f32_c(x, m, n, ld, r, ldr);
}

void sv_hqr_f64(double *x, size_t m, size_t n, size_t ld, double *r, size_t ldr, int simd)
{
#ifdef HQR_HAVE_AVX2
    if (simd && sv_hqr_simd_available()) {
        hqr_f64_avx2(x, m, n, ld, r, ldr);
        return;
    }
#endif
    hqr_f64_c(x, m, n, ld, r, ldr);
}

static void bidiag_f32(float *a, size_t m, size_t n, size_t ld, float *d, float *e, float *sc,
                       int simd)
{
#ifdef HQR_HAVE_AVX2
    if (simd && sv_hqr_simd_available()) {
        bidiag_f32_avx2(a, m, n, ld, d, e, sc);
        return;
    }
#endif
    bidiag_f32_c(a, m, n, ld, d, e, sc);
}

static void bidiag_f64(double *a, size_t m, size_t n, size_t ld, double *d, double *e, double *sc,
                       int simd)
{
#ifdef HQR_HAVE_AVX2
    if (simd && sv_hqr_simd_available()) {
        bidiag_f64_avx2(a, m, n, ld, d, e, sc);
        return;
    }
#endif
    bidiag_f64_c(a, m, n, ld, d, e, sc);
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
