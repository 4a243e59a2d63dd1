/* The quantities of one layer and one group, shared by the training
 * tracker and the one-batch writer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

const char *const spectra_quantity_names[Q_COUNT] = {
    "grad_sv",     "grad_sv_persample", "grad_rank", "grad_effrank", "grad_nuclear",
    "grad_nuclear_persample", "grad_sv1_share", "bound", "act_sv", "act_rank", "delta_sv",
    "delta_rank"};

void ns_spectra_opts_default(ns_spectra_opts *o)
{
    *o = (ns_spectra_opts){.every = 1, .topk = 10, .act_delta = 0, .method = NS_SPECTRA_AUTO,
                           .precision = NS_SPECTRA_F32, .nperm = 1999, .alpha = 0.05, .seed = 0};
}

ns_status spectra_scratch_reserve(spectra_scratch *sc, size_t rows, size_t h_in, size_t h_out,
                                  int ngroups, ns_spectra_precision prec)
{
    size_t need = h_in > h_out ? h_in : h_out; /* act_sv/delta_sv need min(rows, width) */
    size_t ng = (size_t)ngroups + 1;
    if (!sc->ws) {
        sc->ws = ns_spectra_ws_create(rows, h_in, h_out, prec);
        if (!sc->ws)
            return NS_ERR_NOMEM;
    } else {
        ns_status s = ns_spectra_ws_reserve(sc->ws, rows, h_in, h_out);
        if (s != NS_OK)
            return s;
    }
    if (need > sc->ldsv || ng > sc->ngcap) {
        size_t ld = need > sc->ldsv ? need : sc->ldsv, g = ng > sc->ngcap ? ng : sc->ngcap;
        double *p = realloc(sc->sv, ld * g * sizeof *p);
        ns_spectra_stats *st = p ? realloc(sc->st, g * sizeof *st) : NULL;
        if (p)
            sc->sv = p;
        if (!st)
            return ns_error(NS_ERR_NOMEM, "out of memory for %zu x %zu singular values", g, ld);
        sc->st = st;
        sc->ldsv = ld;
        sc->ngcap = g;
    }
    if (rows > sc->rgcap) {
        int *p = realloc(sc->row_group, rows * sizeof *p);
        if (!p)
            return ns_error(NS_ERR_NOMEM, "out of memory for %zu row groups", rows);
        sc->row_group = p;
        sc->rgcap = rows;
    }
    return NS_OK;
}

void spectra_scratch_free(spectra_scratch *sc)
{
    ns_spectra_ws_free(sc->ws);
    free(sc->sv);
    free(sc->st);
    free(sc->row_group);
    *sc = (spectra_scratch){0};
}

static ns_status emit_sv(spectra_emit_fn emit, void *user, int g, spectra_quantity q,
                         const double *sv, size_t nsv, size_t topk, double scale)
{
    size_t k = topk && topk < nsv ? topk : nsv;
    ns_status s = NS_OK;
    for (size_t i = 0; i < k && s == NS_OK; i++)
        s = emit(user, g, q, i + 1, sv[i] * scale);
    return s;
}

/* The gradient quantities of group g (-1 = all) from sc->sv / sc->st. */
static ns_status emit_grad(spectra_scratch *sc, int g, size_t topk, size_t bound,
                           spectra_emit_fn emit, void *user)
{
    const ns_spectra_stats *st = &sc->st[g + 1];
    const double *sv = sc->sv + (size_t)(g + 1) * sc->ldsv;
    double ps = 1 / st->share; /* per-sample normalisation: divide by n_g / N */
    ns_status s;
    if ((s = emit_sv(emit, user, g, Q_GRAD_SV, sv, st->nsv, topk, 1.0)) != NS_OK ||
        (s = emit_sv(emit, user, g, Q_GRAD_SV_PS, sv, st->nsv, topk, ps)) != NS_OK ||
        (s = emit(user, g, Q_GRAD_RANK, 1, (double)st->rank)) != NS_OK ||
        (s = emit(user, g, Q_GRAD_EFFRANK, 1, st->effrank)) != NS_OK ||
        (s = emit(user, g, Q_GRAD_NUCLEAR, 1, st->nuclear)) != NS_OK ||
        (s = emit(user, g, Q_GRAD_NUCLEAR_PS, 1, st->nuclear * ps)) != NS_OK ||
        (s = emit(user, g, Q_GRAD_SV1_SHARE, 1, st->sv1_share)) != NS_OK)
        return s;
    return bound != SIZE_MAX ? emit(user, g, Q_BOUND, 1, (double)bound) : NS_OK;
}

/* act_sv, act_rank, delta_sv, delta_rank of all rows and every group. */
static ns_status emit_act_delta(spectra_scratch *sc, const ns_spectra_layer *l, const int *rg,
                                int ngroups, size_t topk, spectra_emit_fn emit, void *user)
{
    const ns_matrix *X[2] = {l->A, l->D};
    spectra_quantity qs[2] = {Q_ACT_SV, Q_DELTA_SV}, qr[2] = {Q_ACT_RANK, Q_DELTA_RANK};
    for (int k = 0; k < 2; k++) {
        ns_status s = ns_spectra_matrix_sv_groups(sc->ws, X[k], rg, ngroups, sc->sv, sc->ldsv, sc->st);
        for (int g = -1; g < ngroups && s == NS_OK; g++) {
            const ns_spectra_stats *st = &sc->st[g + 1];
            if (!st->rows)
                continue;
            s = emit_sv(emit, user, g, qs[k], sc->sv + (size_t)(g + 1) * sc->ldsv, st->nsv, topk, 1.0);
            if (s == NS_OK)
                s = emit(user, g, qr[k], 1, (double)st->rank);
        }
        if (s != NS_OK)
            return s;
    }
    return NS_OK;
}

ns_status spectra_emit_layer(spectra_scratch *sc, const ns_spectra_layer *l, const int *row_group,
                             int ngroups, const ns_spectra_opts *o, const size_t *bound,
                             spectra_emit_fn emit, void *user)
{
    size_t topk = o->topk > 0 ? (size_t)o->topk : 0;
    ns_status s = ns_spectra_grad_sv_groups(sc->ws, l->A, l->D, row_group, ngroups, o->method,
                                            sc->sv, sc->ldsv, sc->st);
    for (int g = -1; g < ngroups && s == NS_OK; g++)
        if (sc->st[g + 1].rows)
            s = emit_grad(sc, g, topk, bound ? bound[g + 1] : SIZE_MAX, emit, user);
    if (s == NS_OK && o->act_delta)
        s = emit_act_delta(sc, l, row_group, ngroups, topk, emit, user);
    return s;
}

/* Writes an unsigned integer; returns the characters written. */
static size_t put_uint(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* v 10^k: exact powers up to 1e22, so one correctly rounded operation. */
static double scale10(double v, int k)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (k >= 0 && k <= 22)
        return v * p10[k];
    if (k < 0 && k >= -22)
        return v / p10[-k];
    return v * pow(10.0, k / 2) * pow(10.0, k - k / 2); /* in two: 10^k alone can overflow */
}

/* floor(log10(v)) or one less, for v > 0, from the binary exponent:
 * v in [2^(e2-1), 2^e2) and 78913 / 2^18 ~ log10(2) (exact for these e2). */
static int dec_exponent_estimate(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e2 = (int)((bits >> 52) & 0x7ff) - 1022;
    if (e2 == -1022) /* subnormal */
        frexp(v, &e2);
    long t = (long)(e2 - 1) * 78913;
    return (int)(t >= 0 ? t >> 18 : -((-t + (1L << 18) - 1) >> 18)); /* floor(t / 2^18) */
}

/* x rounded half up, for x in [0, 2^52): x + 0.5 is then exact. */
static uint64_t round_pos(double x) { return (uint64_t)(x + 0.5); }

size_t spectra_format(char *out, double v)
{
    char *p = out;
    if (!isfinite(v))
        return (size_t)sprintf(out, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    if (v == floor(v) && v < 1e15) { /* ranks, bounds, counts, zeros */
        p += put_uint(p, (uint64_t)v);
        *p = '\0';
        return (size_t)(p - out);
    }
    /* 9 significant digits (round-trips float32), d.dddddddde+-XX: the
     * decimal exponent estimated from the binary one (off by at most one,
     * fixed by the mantissa's range), no log10 or pow in the common range */
    int e = dec_exponent_estimate(v);
    uint64_t m = round_pos(scale10(v, 8 - e));
    if (m >= 1000000000u || m < 100000000u) {
        e += m >= 1000000000u ? 1 : -1;
        m = round_pos(scale10(v, 8 - e));
    }
    if (m >= 1000000000u) { /* 9.99999999x rounded up to 10 */
        m = (m + 5) / 10;
        e++;
    }
    char d[16];
    put_uint(d, m);
    int last = 8;
    while (last > 0 && d[last] == '0')
        last--;
    *p++ = d[0];
    if (last > 0) {
        *p++ = '.';
        for (int i = 1; i <= last; i++)
            *p++ = d[i];
    }
    *p++ = 'e';
    *p++ = e < 0 ? '-' : '+';
    unsigned ae = (unsigned)(e < 0 ? -e : e);
    if (ae < 10)
        *p++ = '0';
    p += put_uint(p, ae);
    *p = '\0';
    return (size_t)(p - out);
}
