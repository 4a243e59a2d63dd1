/* Template of the vectorised row functions at one vector width (private).
 * fastmath.c includes it once per width with NS_FM_LANES (floats per
 * vector), NS_FM_SFX (name suffix) and NS_FM_TARGET (function attributes).
 * exp: Cody-Waite range reduction + degree-6 polynomial, relative error
 * < 3e-7 on [-87, 87] (inputs are clamped there), in GCC vector extensions
 * because the 2^n bit construction defeats the auto-vectoriser. */
#define NS_FM_CAT2(a, b) a##b
#define NS_FM_CAT(a, b) NS_FM_CAT2(a, b)
#define NS_FM(name) NS_FM_CAT(name, NS_FM_SFX)
#define NS_FM_VF NS_FM(ns_fm_vf_)
#define NS_FM_VI NS_FM(ns_fm_vi_)

typedef float NS_FM_VF __attribute__((vector_size(NS_FM_LANES * 4)));
typedef int32_t NS_FM_VI __attribute__((vector_size(NS_FM_LANES * 4)));

NS_FM_TARGET static inline NS_FM_VF NS_FM(ns_fm_exp_)(NS_FM_VF x)
{
    const NS_FM_VF zero = {0}, lo_v = zero - 87.0f, hi_v = zero + 87.0f;
    NS_FM_VI lo = x < lo_v, hi = x > hi_v;
    x = (NS_FM_VF)(((NS_FM_VI)x & ~lo) | ((NS_FM_VI)lo_v & lo));
    x = (NS_FM_VF)(((NS_FM_VI)x & ~hi) | ((NS_FM_VI)hi_v & hi));
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick */
    NS_FM_VF n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    NS_FM_VF r = x - n * 0.693145751953125f - n * 1.428606765330187e-6f;
    NS_FM_VF p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
                      r * (0.00833333377f + r * 0.00138888892f)))));
    NS_FM_VI e = (__builtin_convertvector(n, NS_FM_VI) + 127) << 23;
    return p * (NS_FM_VF)e;
}

/* y = 1 - 2 / (1 + exp(-u)) of a vector, u already biased. */
NS_FM_TARGET static inline NS_FM_VF NS_FM(ns_fm_logistic_)(NS_FM_VF u)
{
    return 1.0f - 2.0f / (1.0f + NS_FM(ns_fm_exp_)(-u));
}

NS_FM_TARGET static float NS_FM(ns_fm_logistic_row_)(float *u, float *y, size_t n, float bias)
{
    NS_FM_VF acc = {0};
    size_t j = 0;
    for (; j + NS_FM_LANES <= n; j += NS_FM_LANES) {
        NS_FM_VF v;
        memcpy(&v, u + j, sizeof v);
        v += bias;
        NS_FM_VF yy = NS_FM(ns_fm_logistic_)(v);
        memcpy(u + j, &v, sizeof v);
        memcpy(y + j, &yy, sizeof yy);
        acc += yy;
    }
    float s = 0;
    for (int l = 0; l < NS_FM_LANES; l++)
        s += acc[l];
    if (j < n) { /* the tail through one zero-padded vector */
        NS_FM_VF v = {0}, yy;
        memcpy(&v, u + j, (n - j) * sizeof(float));
        v += bias;
        yy = NS_FM(ns_fm_logistic_)(v);
        memcpy(u + j, &v, (n - j) * sizeof(float));
        memcpy(y + j, &yy, (n - j) * sizeof(float));
        for (size_t l = 0; l < n - j; l++)
            s += yy[l];
    }
    return s;
}

/* tanh(r) = 1 - 2 / (exp(2r) + 1) of a vector. */
NS_FM_TARGET static inline NS_FM_VF NS_FM(ns_fm_tanh_)(NS_FM_VF v)
{
    return 1.0f - 2.0f / (NS_FM(ns_fm_exp_)(2.0f * v) + 1.0f);
}

NS_FM_TARGET static float NS_FM(ns_fm_tanh_row_)(float *r, size_t n)
{
    NS_FM_VF acc = {0};
    size_t j = 0;
    for (; j + NS_FM_LANES <= n; j += NS_FM_LANES) {
        NS_FM_VF v;
        memcpy(&v, r + j, sizeof v);
        NS_FM_VF g = NS_FM(ns_fm_tanh_)(v);
        memcpy(r + j, &g, sizeof g);
        acc += 1.0f - g * g;
    }
    float s = 0;
    for (int l = 0; l < NS_FM_LANES; l++)
        s += acc[l];
    if (j < n) {
        NS_FM_VF v = {0};
        memcpy(&v, r + j, (n - j) * sizeof(float));
        NS_FM_VF g = NS_FM(ns_fm_tanh_)(v);
        memcpy(r + j, &g, (n - j) * sizeof(float));
        for (size_t l = 0; l < n - j; l++)
            s += 1.0f - g[l] * g[l];
    }
    return s;
}

#undef NS_FM_VF
#undef NS_FM_VI
#undef NS_FM
#undef NS_FM_CAT
#undef NS_FM_CAT2
