/* The quantities of one layer and one group, shared by the training
 * tracker and the one-batch writer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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
                                  ns_spectra_precision prec)
{
    size_t need = h_in > h_out ? h_in : h_out; /* act_sv/delta_sv need min(rows, width) */
    if (!sc->ws) {
        sc->ws = ns_spectra_ws_create(rows, h_in, h_out, prec);
        if (!sc->ws)
            return NS_ERR_NOMEM;
    } else {
        ns_status s = ns_spectra_ws_reserve(sc->ws, rows, h_in, h_out);
        if (s != NS_OK)
            return s;
    }
    if (need > sc->svcap) {
        double *p = realloc(sc->sv, need * sizeof *p);
        if (!p)
            return ns_error(NS_ERR_NOMEM, "out of memory for %zu singular values", need);
        sc->sv = p;
        sc->svcap = need;
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
    free(sc->row_group);
    *sc = (spectra_scratch){0};
}

static ns_status emit_sv(spectra_emit_fn emit, void *user, spectra_quantity q, const double *sv,
                         size_t nsv, size_t topk, double scale)
{
    size_t k = topk && topk < nsv ? topk : nsv;
    ns_status s = NS_OK;
    for (size_t i = 0; i < k && s == NS_OK; i++)
        s = emit(user, q, i + 1, sv[i] * scale);
    return s;
}

/* act_sv, act_rank, delta_sv, delta_rank of the group's rows. */
static ns_status emit_act_delta(spectra_scratch *sc, const ns_spectra_layer *l, const int *rg,
                                int group, size_t topk, spectra_emit_fn emit, void *user)
{
    const ns_matrix *X[2] = {l->A, l->D};
    spectra_quantity qs[2] = {Q_ACT_SV, Q_DELTA_SV}, qr[2] = {Q_ACT_RANK, Q_DELTA_RANK};
    for (int k = 0; k < 2; k++) {
        ns_spectra_stats st;
        ns_status s = ns_spectra_matrix_sv(sc->ws, X[k], rg, group, sc->sv, &st);
        if (s == NS_OK)
            s = emit_sv(emit, user, qs[k], sc->sv, st.nsv, topk, 1.0);
        if (s == NS_OK)
            s = emit(user, qr[k], 1, (double)st.rank);
        if (s != NS_OK)
            return s;
    }
    return NS_OK;
}

ns_status spectra_emit_group(spectra_scratch *sc, const ns_spectra_layer *l, const int *row_group,
                             int group, const ns_spectra_opts *o, size_t bound,
                             spectra_emit_fn emit, void *user)
{
    ns_spectra_stats st;
    size_t topk = o->topk > 0 ? (size_t)o->topk : 0;
    ns_status s = ns_spectra_grad_sv(sc->ws, l->A, l->D, row_group, group, o->method, sc->sv, &st);
    if (s != NS_OK || st.rows == 0)
        return s;
    double ps = 1 / st.share; /* per-sample normalisation: divide by n_g / N */
    if ((s = emit_sv(emit, user, Q_GRAD_SV, sc->sv, st.nsv, topk, 1.0)) != NS_OK ||
        (s = emit_sv(emit, user, Q_GRAD_SV_PS, sc->sv, st.nsv, topk, ps)) != NS_OK ||
        (s = emit(user, Q_GRAD_RANK, 1, (double)st.rank)) != NS_OK ||
        (s = emit(user, Q_GRAD_EFFRANK, 1, st.effrank)) != NS_OK ||
        (s = emit(user, Q_GRAD_NUCLEAR, 1, st.nuclear)) != NS_OK ||
        (s = emit(user, Q_GRAD_NUCLEAR_PS, 1, st.nuclear * ps)) != NS_OK ||
        (s = emit(user, Q_GRAD_SV1_SHARE, 1, st.sv1_share)) != NS_OK)
        return s;
    if (bound != SIZE_MAX && (s = emit(user, Q_BOUND, 1, (double)bound)) != NS_OK)
        return s;
    return o->act_delta ? emit_act_delta(sc, l, row_group, group, topk, emit, user) : NS_OK;
}
