/* The post-processing chain prepared once per run length: detrend basis,
 * filter, workspaces grown on demand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnc/fnc.h"
#include "fnc/fnc_int.h"

struct ns_fnc_postproc {
    ns_fnc_postproc_opts o;
    size_t T;
    double *X;        /* T x 6 detrend design */
    double *U;        /* T x r orthonormal basis of the detrend */
    size_t r;
    int lowpass;      /* filter applied */
    ns_fnc_iir filt;
    double *work;     /* grown: max(filtfilt, despike, projection) */
    size_t work_n;
    double *conf;     /* grown: T x (6 + C) design with confounds */
    double *Uc;
    size_t conf_n, uc_n;
};

void ns_fnc_postproc_defaults(ns_fnc_postproc_opts *o)
{
    o->tr = 0.0;
    o->detrend = 1;
    o->despike = 1;
    o->despike_span = 3;
    o->lowpass_hz = 0.15;
    o->filter_order = 5;
}

void ns_fnc_postproc_free(ns_fnc_postproc *p)
{
    if (!p)
        return;
    free(p->X);
    free(p->U);
    free(p->work);
    free(p->conf);
    free(p->Uc);
    free(p);
}

int ns_fnc_postproc_lowpass_applied(const ns_fnc_postproc *p)
{
    return p->lowpass;
}

const ns_fnc_iir *ns_fnc_postproc_filter(const ns_fnc_postproc *p)
{
    return p->lowpass ? &p->filt : NULL;
}

ns_status ns_fnc_postproc_create(const ns_fnc_postproc_opts *o, size_t T, ns_fnc_postproc **out)
{
    *out = NULL;
    if (!(o->tr > 0.0) || !isfinite(o->tr))
        return ns_error(NS_ERR_ARG, "no repetition time: post-processing needs the TR");
    if (T <= NS_FNC_NDETREND)
        return ns_error(NS_ERR_DATA, "%zu time points are too few to detrend (needs more than %d)",
                        T, NS_FNC_NDETREND);
    ns_fnc_postproc *p = calloc(1, sizeof *p);
    if (!p)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    p->o = *o;
    p->T = T;
    double wn = o->lowpass_hz / (0.5 / o->tr);
    p->lowpass = o->lowpass_hz > 0.0 && wn < 1.0;
    ns_status st = NS_OK;
    if (p->lowpass && (st = ns_fnc_butter_lowpass(o->filter_order, wn, &p->filt)))
        goto fail;
    if (p->lowpass && T <= ns_fnc_filtfilt_padlen(&p->filt)) {
        st = ns_error(NS_ERR_DATA, "%zu time points are too few for the low-pass filter "
                      "(needs more than %zu)", T, ns_fnc_filtfilt_padlen(&p->filt));
        goto fail;
    }
    p->X = ns_alloc(T * NS_FNC_NDETREND, sizeof(double));
    p->U = ns_alloc(T * NS_FNC_NDETREND, sizeof(double));
    if (!p->X || !p->U) {
        st = NS_ERR_NOMEM;
        goto fail;
    }
    ns_fnc_detrend_design(T, p->X);
    if ((st = ns_fnc__basis(p->X, T, NS_FNC_NDETREND, p->U, &p->r)))
        goto fail;
    *out = p;
    return NS_OK;
fail:
    ns_fnc_postproc_free(p);
    return st;
}

static ns_status grow(double **buf, size_t *have, size_t need)
{
    if (need <= *have)
        return NS_OK;
    double *b = realloc(*buf, need * sizeof(double));
    if (!b)
        return ns_error(NS_ERR_NOMEM, "out of memory for post-processing workspace");
    *buf = b;
    *have = need;
    return NS_OK;
}

/* Design [detrend | z-scored confounds] with missing cells at 0 (the
 * column mean after z-scoring); its orthonormal basis into p->Uc. */
static ns_status confound_basis(ns_fnc_postproc *p, const double *conf, size_t C, size_t *r)
{
    size_t T = p->T, q = NS_FNC_NDETREND + C;
    ns_status st = grow(&p->conf, &p->conf_n, T * q);
    if (!st)
        st = grow(&p->Uc, &p->uc_n, T * q);
    if (st)
        return st;
    for (size_t t = 0; t < T; t++)
        memcpy(p->conf + t * q, p->X + t * NS_FNC_NDETREND, NS_FNC_NDETREND * sizeof(double));
    for (size_t c = 0; c < C; c++) {
        double s = 0.0, ss = 0.0;
        size_t n = 0;
        for (size_t t = 0; t < T; t++) {
            double v = conf[t * C + c];
            if (isfinite(v)) {
                s += v;
                n++;
            }
        }
        double m = n ? s / (double)n : 0.0;
        for (size_t t = 0; t < T; t++) {
            double v = conf[t * C + c];
            if (isfinite(v))
                ss += (v - m) * (v - m);
        }
        /* a constant column (e.g. trans_z of a 2-D acquisition) carries
         * nothing beyond the detrend's constant: it stays 0 and the SVD drops it */
        double sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
        for (size_t t = 0; t < T; t++) {
            double v = conf[t * C + c];
            p->conf[t * q + NS_FNC_NDETREND + c] = isfinite(v) && sd > 0.0 ? (v - m) / sd : 0.0;
        }
    }
    return ns_fnc__basis(p->conf, T, q, p->Uc, r);
}

ns_status ns_fnc_postproc_run(ns_fnc_postproc *p, double *x, size_t K, const double *conf,
                              size_t C, int stop_before_lowpass, size_t *nspikes)
{
    size_t T = p->T;
    if (nspikes)
        *nspikes = 0;
    for (size_t i = 0; i < T * K; i++)
        if (!isfinite(x[i]))
            return ns_error(NS_ERR_DATA, "non-finite value at time point %zu, component %zu",
                            i / K + 1, i % K + 1);
    /* A constant column leaves only round-off after the detrend, which the
     * correlation would normalise into arbitrary values. */
    for (size_t k = 0; k < K; k++) {
        size_t t = 1;
        while (t < T && x[t * K + k] == x[k])
            t++;
        if (t == T)
            return ns_error(NS_ERR_DATA, "component %zu is constant over time (no variance)", k + 1);
    }
    size_t need = 3 * T * K;
    if (p->lowpass && ns_fnc_filtfilt_worksize(&p->filt, T, K) > need)
        need = ns_fnc_filtfilt_worksize(&p->filt, T, K);
    if ((NS_FNC_NDETREND + C) * K > need)
        need = (NS_FNC_NDETREND + C) * K;
    ns_status st = grow(&p->work, &p->work_n, need);
    if (st)
        return st;
    if (conf && C > 0) {
        size_t r = 0;
        if ((st = confound_basis(p, conf, C, &r)))
            return st;
        ns_fnc__project_out(x, T, K, p->Uc, r, p->work);
    } else if (p->o.detrend) {
        ns_fnc__project_out(x, T, K, p->U, p->r, p->work);
    }
    if (p->o.despike && (st = ns_fnc_despike(x, T, K, p->o.despike_span, p->work, nspikes)))
        return st;
    if (stop_before_lowpass || !p->lowpass)
        return NS_OK;
    return ns_fnc_filtfilt(&p->filt, x, T, K, p->work);
}
