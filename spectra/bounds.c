/* Gradient rank bounds B1-B9 (shared/reference/gradients.md section 2) for
 * the architectures models/nn.h builds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

static size_t zmin(size_t a, size_t b) { return a < b ? a : b; }

void ns_spectra_arch_default(ns_spectra_arch *a)
{
    memset(a, 0, sizeof *a);
    a->kind = NS_SPECTRA_MLP;
    a->act = NS_SPECTRA_RELU;
    a->slope = 0.01;
    a->bias = 1;
    a->loss = NS_SPECTRA_CE;
    a->nclass = 2;
}

const char *ns_spectra_act_name(ns_spectra_act a)
{
    static const char *const names[] = {"linear", "relu", "leaky", "tanh", "sigmoid"};
    return (unsigned)a < 5 ? names[a] : "?";
}

size_t ns_spectra_conv_positions(size_t L, int k, int s, int p, int d)
{
    long span = (long)d * (k - 1) + 1, len = (long)L + 2L * p;
    if (s < 1 || k < 1 || d < 1 || len < span)
        return 0;
    return (size_t)((len - span) / s + 1);
}

size_t ns_spectra_bound_groups(const size_t *group_ranks, size_t ngroups)
{
    size_t s = 0;
    for (size_t g = 0; g < ngroups; g++)
        s += group_ranks[g];
    return s;
}

size_t ns_spectra_bound_dist(int mode, size_t total_rows, size_t sites, size_t r, size_t h_in,
                             size_t h_out)
{
    size_t k = mode == 0 ? total_rows : mode == 1 ? sites * r : r;
    return zmin(k, zmin(h_in, h_out));
}

static int is_linear(const ns_spectra_arch *a)
{
    return a->act == NS_SPECTRA_LINEAR || (a->act == NS_SPECTRA_LEAKY && a->slope == 1.0);
}

/* A rank bound carried along a chain of layers, with where it comes from. */
typedef struct {
    size_t v;
    char why[64];
} chain;

static void chain_set(chain *c, size_t v, const char *fmt, size_t x, const char *where)
{
    c->v = v;
    snprintf(c->why, sizeof c->why, fmt, x, where);
}

static ns_spectra_bound *add(ns_spectra_bound *out, size_t cap, size_t *n, const char *name,
                             size_t h_in, size_t h_out, size_t R, size_t rows)
{
    if (*n >= cap)
        return NULL;
    ns_spectra_bound *b = &out[(*n)++];
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->h_in = h_in;
    b->h_out = h_out;
    b->rows_per_sample = R;
    b->rows = rows;
    b->trivial = zmin(rows, zmin(h_in, h_out));
    b->linear = b->bound = b->trivial;
    return b;
}

static ns_status conv_trunk(const ns_spectra_arch *a, size_t N, size_t T, size_t C,
                            ns_spectra_bound *out, size_t cap, size_t *n, size_t *feat)
{
    size_t L = T, cin = C;
    for (int i = 0; i < a->nconv; i++) {
        const ns_spectra_conv *c = &a->conv[i];
        size_t P = ns_spectra_conv_positions(L, c->kernel, c->stride, c->padding, c->dilation);
        char name[16];
        snprintf(name, sizeof name, "conv%d", i);
        if (!P)
            return ns_error(NS_ERR_ARG, "input of length %zu is too short for kernel %d, dilation %d,"
                            " padding %d (%s)", L, c->kernel, c->dilation, c->padding, name);
        ns_spectra_bound *b = add(out, cap, n, name, cin * (size_t)c->kernel,
                                  (size_t)c->channels, P, N * P);
        if (!b)
            return ns_error(NS_ERR_ARG, "too many layers for the bounds table (%s)", name);
        snprintf(b->rule, sizeof b->rule, "B7 conv: min(N P = %zu x %zu, C_out = %d, C_in k = %zu x %d)",
                 N, P, c->channels, cin, c->kernel);
        L = P;
        cin = (size_t)c->channels;
    }
    *feat = cin;
    return NS_OK;
}

static ns_status rnn_trunk(const ns_spectra_arch *a, size_t N, size_t T, size_t C,
                           ns_spectra_bound *out, size_t cap, size_t *n, size_t *feat)
{
    size_t g = a->kind == NS_SPECTRA_RNN ? 1 : a->kind == NS_SPECTRA_GRU ? 3 : 4;
    size_t H = (size_t)a->hidden, K = a->bptt > 0 && (size_t)a->bptt < T ? (size_t)a->bptt : T;
    size_t khh = zmin(K, T ? T - 1 : 0); /* steps with a delta and a non-zero h_(t-1) */
    const char *kname = K < T ? "K" : "T";
    ns_spectra_bound *b = add(out, cap, n, "rnn.ih", C, g * H, T, N * K);
    if (!b)
        return ns_error(NS_ERR_ARG, "too many layers for the bounds table (rnn.ih)");
    snprintf(b->rule, sizeof b->rule, "B6 recurrent W_ih: min(N %s = %zu x %zu, d_in = %zu, g H = %zu x %zu)",
             kname, N, K, C, g, H);
    b = add(out, cap, n, "rnn.hh", H, g * H, T, N * khh);
    if (!b)
        return ns_error(NS_ERR_ARG, "too many layers for the bounds table (rnn.hh)");
    snprintf(b->rule, sizeof b->rule,
             "B6 recurrent W_hh, zero h_0: min(N min(%s, T-1) = %zu x %zu, H = %zu)", kname, N, khh, H);
    *feat = H;
    return NS_OK;
}

/* Rank bounds of the head's activations (rA) and deltas (rD) per dense layer
 * i (input width w[i], output w[i+1]); lin: linear activations propagate. */
static void head_chains(const ns_spectra_arch *a, size_t N, const size_t *w, int nl, int lin,
                        int from_data, chain *rA, chain *rD)
{
    size_t nout = w[nl];
    size_t term = a->loss == NS_SPECTRA_CE ? nout - 1 : a->loss == NS_SPECTRA_BCE ? 1 : nout;
    const char *tname = a->loss == NS_SPECTRA_CE ? "softmax-CE C-1 = %zu%s"
                      : a->loss == NS_SPECTRA_BCE ? "BCE %zu%s" : "MSE C = %zu%s";
    if (N <= w[0])
        chain_set(&rA[0], N, "N = %zu%s", N, "");
    else
        chain_set(&rA[0], w[0], from_data ? "input width %zu%s" : "pooled width %zu%s", w[0], "");
    for (int i = 1; i < nl; i++) {
        size_t up = rA[i - 1].v + (a->bias ? 1 : 0);
        char where[24];
        snprintf(where, sizeof where, " (fc%d output)", i - 1);
        if (lin && up < w[i] && up < N) {
            char prev[sizeof rA[i].why]; /* a copy: GCC -O0 -Wrestrict sees rA overlap */
            memcpy(prev, rA[i - 1].why, sizeof prev);
            rA[i].v = up;
            snprintf(rA[i].why, sizeof rA[i].why, "%.50s%s", prev, a->bias ? " +1 bias" : "");
        } else if (w[i] <= N)
            chain_set(&rA[i], w[i], "width %zu%s", w[i], where);
        else
            chain_set(&rA[i], N, "N = %zu%s", N, "");
    }
    if (term <= N)
        chain_set(&rD[nl - 1], term, tname, term, "");
    else
        chain_set(&rD[nl - 1], N, "N = %zu%s", N, "");
    for (int i = nl - 2; i >= 0; i--) {
        char where[24];
        snprintf(where, sizeof where, " (fc%d output)", i);
        if (lin && rD[i + 1].v <= w[i + 1] && rD[i + 1].v <= N)
            rD[i] = rD[i + 1];
        else if (w[i + 1] <= N)
            chain_set(&rD[i], w[i + 1], "width %zu%s", w[i + 1], where);
        else
            chain_set(&rD[i], N, "N = %zu%s", N, "");
    }
}

static void head_rule(ns_spectra_bound *b, const ns_spectra_arch *a, const chain *A, const chain *D,
                      int lin, int last, size_t N)
{
    int dbind = D->v < A->v;
    const chain *src = dbind ? D : A;
    int loss_term = dbind && (strstr(D->why, "CE") || strstr(D->why, "MSE"));
    char tail[80] = "";
    if (!lin && a->act == NS_SPECTRA_LEAKY)
        snprintf(tail, sizeof tail, "; B5: leaky %g < 1, linear bound %zu", a->slope, b->linear);
    else if (!lin && !last)
        snprintf(tail, sizeof tail, "; B4: %s stops propagation", ns_spectra_act_name(a->act));
    if (b->bound == b->trivial && !(loss_term && D->v < zmin(N, b->h_out)))
        snprintf(b->rule, sizeof b->rule, "B1 min(N = %zu, h_in = %zu, h_out = %zu)%s", N, b->h_in,
                 b->h_out, tail);
    else if (loss_term)
        snprintf(b->rule, sizeof b->rule, last ? "B3 rank D_out <= %s%s" : "B2+B3 linear: rank D_out <= %s"
                 " propagates down%s", D->why, tail);
    else
        snprintf(b->rule, sizeof b->rule, "B2%s linear: %s bounds the %s%s",
                 strstr(src->why, "bias") ? "b" : "", src->why, dbind ? "deltas" : "activations", tail);
}

static ns_status head(const ns_spectra_arch *a, size_t N, size_t feat, int from_data,
                      ns_spectra_bound *out, size_t cap, size_t *n, size_t *rd_feat)
{
    size_t w[NS_SPECTRA_MAXLAYERS + 2];
    int nl = a->ndense + 1, lin = is_linear(a);
    chain rA[NS_SPECTRA_MAXLAYERS + 1], rD[NS_SPECTRA_MAXLAYERS + 1];
    chain lA[NS_SPECTRA_MAXLAYERS + 1], lD[NS_SPECTRA_MAXLAYERS + 1];
    w[0] = feat;
    for (int i = 0; i < a->ndense; i++)
        w[i + 1] = (size_t)a->dense[i];
    w[nl] = a->loss == NS_SPECTRA_BCE ? 1 : (size_t)a->nclass;
    head_chains(a, N, w, nl, lin, from_data, rA, rD);
    head_chains(a, N, w, nl, 1, from_data, lA, lD);
    for (int i = 0; i < nl; i++) {
        char name[16];
        snprintf(name, sizeof name, "fc%d", i);
        ns_spectra_bound *b = add(out, cap, n, name, w[i], w[i + 1], 1, N);
        if (!b)
            return ns_error(NS_ERR_ARG, "too many layers for the bounds table (%s)", name);
        b->bound = zmin(b->trivial, zmin(rA[i].v, rD[i].v));
        b->linear = zmin(b->trivial, zmin(lA[i].v, lD[i].v));
        head_rule(b, a, &rA[i], &rD[i], lin, i == nl - 1, N);
    }
    /* delta of the head's input: D_fc0 W_fc0, rank <= rD[0] when linear */
    *rd_feat = lin ? rD[0].v : (size_t)-1;
    return NS_OK;
}

static ns_status check_arch(const ns_spectra_arch *a)
{
    if (a->nclass < 2 || !a->in_features || a->ndense < 0 || a->ndense > NS_SPECTRA_MAXLAYERS ||
        a->nconv < 0 || a->nconv > NS_SPECTRA_MAXLAYERS)
        return ns_error(NS_ERR_ARG, "invalid architecture (%d classes, %zu input features, %d dense,"
                        " %d conv layers)", a->nclass, a->in_features, a->ndense, a->nconv);
    for (int i = 0; i < a->ndense; i++)
        if (a->dense[i] < 1)
            return ns_error(NS_ERR_ARG, "invalid dense width %d (rank bounds)", a->dense[i]);
    if (a->kind >= NS_SPECTRA_RNN && a->hidden < 1)
        return ns_error(NS_ERR_ARG, "recurrent hidden size must be >= 1 (rank bounds)");
    if (a->kind == NS_SPECTRA_CNN1D && a->nconv < 1)
        return ns_error(NS_ERR_ARG, "cnn1d needs at least one conv layer (rank bounds)");
    for (int i = 0; i < a->nconv; i++)
        if (a->conv[i].channels < 1 || a->conv[i].kernel < 1 || a->conv[i].stride < 1 ||
            a->conv[i].dilation < 1 || a->conv[i].padding < 0)
            return ns_error(NS_ERR_ARG, "invalid conv%d geometry (rank bounds)", i);
    return NS_OK;
}

ns_status ns_spectra_bounds(const ns_spectra_arch *a, size_t nsamples, ns_spectra_bound *out,
                            size_t cap, size_t *nout)
{
    ns_status s = check_arch(a);
    if (s != NS_OK)
        return s;
    size_t N = nsamples, T = a->seq_len ? a->seq_len : a->in_features;
    size_t C = a->seq_len ? a->in_features : 1, feat = 0, rd_feat = 0, n = 0;
    *nout = 0;
    if (a->kind == NS_SPECTRA_CNN1D)
        s = conv_trunk(a, N, T, C, out, cap, &n, &feat);
    else if (a->kind != NS_SPECTRA_MLP)
        s = rnn_trunk(a, N, T, C, out, cap, &n, &feat);
    else
        feat = T * C;
    if (s != NS_OK)
        return s;
    size_t ntrunk = n;
    s = head(a, N, feat, a->kind == NS_SPECTRA_MLP, out, cap, &n, &rd_feat);
    if (s != NS_OK)
        return s;
    /* Linear conv trunk: the last conv's deltas are the head's input delta
     * spread over positions (GAP), so its gradient rank <= min(N, rank). */
    if (a->kind == NS_SPECTRA_CNN1D && is_linear(a)) {
        ns_spectra_bound *b = &out[ntrunk - 1];
        size_t k = zmin(N, rd_feat);
        if (k < b->bound) {
            b->bound = b->linear = k;
            snprintf(b->rule, sizeof b->rule, "B2 linear conv before pooling: min(N = %zu, rank of the"
                     " head's input delta %zu)", N, rd_feat);
        }
    }
    *nout = n;
    return NS_OK;
}

size_t spectra_layer_bound(const ns_spectra_arch *a, const char *name, size_t nsamples)
{
    ns_spectra_bound b[2 * NS_SPECTRA_MAXLAYERS + 3];
    size_t n = 0;
    if (ns_spectra_bounds(a, nsamples, b, sizeof b / sizeof b[0], &n) != NS_OK)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(b[i].name, name))
            return b[i].bound;
    return (size_t)-1;
}

/* spectra_layer_bound through the memo (grown as sample counts appear). */
static size_t memo_bound(const ns_spectra_arch *a, const char *name, size_t n,
                         spectra_bound_memo *memo)
{
    if (memo && n >= memo->cap) {
        size_t cap = n + 1 > 2 * memo->cap ? n + 1 : 2 * memo->cap;
        size_t *p = realloc(memo->b, cap * sizeof *p);
        if (p) {
            memset(p + memo->cap, 0, (cap - memo->cap) * sizeof *p);
            memo->b = p;
            memo->cap = cap;
        }
    }
    if (!memo || n >= memo->cap) /* no memory for the memo: compute */
        return spectra_layer_bound(a, name, n);
    if (!memo->b[n])
        memo->b[n] = spectra_layer_bound(a, name, n) + 1; /* SIZE_MAX + 1 = 0: recomputed */
    return memo->b[n] - 1;
}

void spectra_group_bounds(const ns_spectra_arch *a, const ns_spectra_layer *l, const int *rg,
                          int ngroups, size_t *bound, spectra_bound_memo *memo)
{
    size_t R = l->rows_per_sample ? l->rows_per_sample : 1;
    for (int g = -1; g < ngroups; g++) {
        size_t n = 0;
        for (size_t s = 0; g >= 0 && rg && s < l->nsamples; s++)
            n += rg[s * R] == g;
        bound[g + 1] = a ? memo_bound(a, l->name, g < 0 ? l->nsamples : n, memo) : SIZE_MAX;
    }
}

void spectra_bound_memo_free(spectra_bound_memo *memo)
{
    free(memo->b);
    *memo = (spectra_bound_memo){0};
}
