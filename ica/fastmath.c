/* The ICA inner loops' vectorised logistic and tanh rows: SSE2 (4 floats,
 * the x86-64 baseline) everywhere, AVX2+FMA (8 floats) or AVX-512 (16)
 * where the CPU has it, chosen at run time. glibc's expf/tanhf are scalar
 * calls, and these rows are the top of the profile at K = 100: Infomax
 * evaluates K V logistics per pass, FastICA K V tanh per iteration. */
#include <stdint.h>
#include <string.h>

#include "ica/fastmath_int.h"

#define NS_FM_LANES 4
#define NS_FM_SFX sse
#define NS_FM_TARGET
#include "ica/fastmath_vec.h"
#undef NS_FM_LANES
#undef NS_FM_SFX
#undef NS_FM_TARGET

#if defined(__x86_64__) && defined(__GNUC__)
#define NS_FM_WIDE 1
#define NS_FM_LANES 8
#define NS_FM_SFX avx2
#define NS_FM_TARGET __attribute__((target("avx2,fma")))
#include "ica/fastmath_vec.h"
#undef NS_FM_LANES
#undef NS_FM_SFX
#undef NS_FM_TARGET
#define NS_FM_LANES 16
#define NS_FM_SFX avx512
#define NS_FM_TARGET __attribute__((target("avx512f,avx512dq")))
#include "ica/fastmath_vec.h"
#undef NS_FM_LANES
#undef NS_FM_SFX
#undef NS_FM_TARGET
#endif

static int lane_cap = 16; /* ns_ica_fastmath_cap (tests) */

/* libgcc fills the CPU model before main; a test is a few loads. */
int ns_ica_fastmath_lanes(void)
{
#ifdef NS_FM_WIDE
    if (lane_cap >= 16 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return 16;
    if (lane_cap >= 8 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 8;
#endif
    return 4;
}

void ns_ica_fastmath_cap(int lanes)
{
    lane_cap = lanes;
}

float ns_ica_logistic_row(float *u, float *y, size_t n, float bias)
{
#ifdef NS_FM_WIDE
    switch (ns_ica_fastmath_lanes()) {
    case 16: return ns_fm_logistic_row_avx512(u, y, n, bias);
    case 8: return ns_fm_logistic_row_avx2(u, y, n, bias);
    default: break;
    }
#endif
    return ns_fm_logistic_row_sse(u, y, n, bias);
}

float ns_ica_tanh_row(float *r, size_t n)
{
#ifdef NS_FM_WIDE
    switch (ns_ica_fastmath_lanes()) {
    case 16: return ns_fm_tanh_row_avx512(r, n);
    case 8: return ns_fm_tanh_row_avx2(r, n);
    default: break;
    }
#endif
    return ns_fm_tanh_row_sse(r, n);
}
