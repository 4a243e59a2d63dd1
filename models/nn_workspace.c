/* The per-model workspace (one arena sized for `cap` samples, so training
 * steps never allocate) and the layer tap's subscriber list. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn_int.h"

/* Hands out 64-byte aligned slices of the arena; with base == NULL only
 * counts. */
typedef struct {
    float *base;
    size_t used;
    int overflow;
} nn_slicer;

/* n samples of per floats each (per is a product of a few widths, each
 * bounded by the spec parser or by the input size). */
static float *take(nn_slicer *s, size_t n, size_t per)
{
    float *p = s->base ? s->base + s->used : NULL;
    size_t count;
    if (!ns_mul_size(n, per, &count) || count > ((size_t)1 << 40))
        s->overflow = 1;
    else
        s->used += (count + 15) & ~(size_t)15;
    return p;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static void layout_conv(ns_nn *m, size_t cap, nn_slicer *s)
{
    size_t dy = 0, du = 0;
    for (int i = 0; i < m->nconv; i++) {
        nn_conv *c = &m->conv[i];
        c->U = take(s, cap, c->lout * c->cin * c->k);
        c->Z = take(s, cap, c->lout * c->cout);
        c->Y = take(s, cap, c->lout * c->cout);
        dy = max_sz(dy, c->lout * c->cout);
        if (i > 0)
            du = max_sz(du, c->lout * c->cin * c->k);
    }
    if (m->nconv) {
        m->feat = take(s, cap, m->feat_dim);
        m->dY = take(s, cap, dy);
        m->dU = take(s, cap, du);
    }
}

static void layout_rnn(ns_nn *m, size_t cap, nn_slicer *s)
{
    nn_rnn *r = &m->rnn;
    size_t gH = (size_t)r->g * r->H;
    r->Gi = take(s, cap, r->T * gH);
    r->Gh = r->g == 3 ? take(s, cap, r->T * gH) : NULL;
    r->Hp = take(s, cap, r->T * r->H);
    r->hlast = take(s, cap, r->H);
    r->Cp = r->g == 4 ? take(s, cap, r->T * r->H) : NULL;
    r->clast = r->g == 4 ? take(s, cap, r->H) : NULL;
    r->Dih = take(s, cap, r->T * gH);
    r->Dhh = r->g == 3 ? take(s, cap, r->T * gH) : r->Dih;
    r->dh = take(s, cap, r->H);
    r->dh2 = take(s, cap, r->H);
    r->dc = take(s, cap, r->H);
}

static void layout_dense(ns_nn *m, size_t cap, nn_slicer *s)
{
    size_t da = 0;
    for (int i = 0; i < m->nfc; i++) {
        nn_dense *f = &m->fc[i];
        f->mask = f->drop ? take(s, cap, f->in) : NULL;
        f->Ad = f->drop ? take(s, cap, f->in) : NULL;
        f->Z = take(s, cap, f->out);
        f->Y = f->hidden ? take(s, cap, f->out) : NULL;
        f->D = take(s, cap, f->out);
        da = max_sz(da, f->in);
    }
    m->dA = take(s, cap, da);
}

/* Floats needed for cap samples (0 when a buffer would exceed 2^40
 * floats); assigns the buffers when base != NULL. */
static size_t layout(ns_nn *m, size_t cap, float *base)
{
    nn_slicer s = {base, 0, 0};
    m->xb = take(&s, cap, m->in_size);
    layout_conv(m, cap, &s);
    if (m->has_rnn)
        layout_rnn(m, cap, &s);
    layout_dense(m, cap, &s);
    return s.overflow ? 0 : s.used;
}

/* BLAS takes int sizes: every row count and leading dimension must fit. */
static int fits_blas(const ns_nn *m, size_t cap)
{
    double lim = (double)INT_MAX, rows = (double)cap * (double)m->T;
    double ld = (double)m->T * (double)(m->has_rnn ? (size_t)m->rnn.g * m->rnn.H : 1);
    return rows < lim && ld < lim && (double)cap * (double)m->in_size < lim;
}

ns_status nn_reserve(ns_nn *m, size_t cap)
{
    if (cap <= m->cap)
        return NS_OK;
    if (!fits_blas(m, cap))
        return ns_error(NS_ERR_UNSUPPORTED, "batch of %zu samples of %zu x %zu too large for "
                        "32-bit BLAS sizes (model)", cap, m->T, m->C);
    size_t total = layout(m, cap, NULL);
    if (!total)
        return ns_error(NS_ERR_NOMEM, "workspace for %zu samples is too large (model)", cap);
    float *arena = ns_calloc(total, sizeof(float));
    int32_t *yb = ns_alloc(cap, sizeof(int32_t));
    size_t *iota = ns_alloc(2 * cap, sizeof(size_t));
    if (!arena || !yb || !iota) {
        free(arena);
        free(yb);
        free(iota);
        layout(m, m->cap, m->arena); /* restore the old pointers */
        return ns_error(NS_ERR_NOMEM, "cannot allocate the workspace for %zu samples (model)", cap);
    }
    free(m->arena);
    free(m->yb);
    free(m->iota);
    m->arena = arena;
    m->yb = yb;
    m->iota = iota;
    m->bidx = iota + cap;
    for (size_t i = 0; i < cap; i++)
        iota[i] = i;
    m->cap = cap;
    layout(m, cap, arena);
    return NS_OK;
}

int ns_nn_tap_subscribe(ns_nn *m, ns_nn_tap_fn fn, void *user)
{
    for (int i = 0; i < NS_NN_MAXTAPS; i++)
        if (!m->taps[i].fn) {
            m->taps[i] = (nn_tap_sub){fn, user};
            m->ntaps++;
            return i;
        }
    return -1;
}

void ns_nn_tap_unsubscribe(ns_nn *m, int id)
{
    if (id >= 0 && id < NS_NN_MAXTAPS && m->taps[id].fn) {
        m->taps[id].fn = NULL;
        m->ntaps--;
    }
}

ns_status nn_tap_fire(ns_nn *m, const nn_wlayer *wl, const float *A, const float *D, size_t n,
                      const size_t *idx)
{
    size_t rows = n * wl->rows_per_sample;
    ns_nn_tap_event ev = {
        .layer = (int)(wl - m->wl),
        .name = wl->name,
        .weight_name = wl->wname,
        .A = ns_matrix_view((float *)A, rows, wl->h_in, wl->h_in),
        .D = ns_matrix_view((float *)D, rows, wl->h_out, wl->h_out),
        .gW = ns_matrix_view(m->grad + wl->w, wl->h_out, wl->h_in, wl->h_in),
        .gb = wl->b == NN_NONE ? NULL : m->grad + wl->b,
        .nsamples = n,
        .rows_per_sample = wl->rows_per_sample,
        .sample_idx = idx,
        .step = m->step,
        .epoch = m->epoch,
    };
    for (int i = 0; i < NS_NN_MAXTAPS; i++) {
        if (!m->taps[i].fn)
            continue;
        ns_status st = m->taps[i].fn(&ev, m->taps[i].user);
        if (st)
            return st;
    }
    return NS_OK;
}

const nn_wlayer *nn_wlayer_of(const ns_nn *m, size_t w_offset)
{
    for (size_t i = 0; i < m->nwl; i++)
        if (m->wl[i].w == w_offset)
            return &m->wl[i];
    return NULL;
}
