/* ns_dist_fit: epochs of synchronous steps. A step's pooled batch is chunk
 * k of every site's shuffled rows (ns_dist_chunk), whichever rank holds the
 * site, so one rank holding every site trains on exactly the pooled batches
 * of a run over many ranks. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

/* This rank's sites and their rows (indices into the caller's x). */
typedef struct {
    int nsites;
    int *site;          /* global site ids, ascending */
    size_t *start, *n;  /* rows of site i: rows[start[i] .. start[i] + n[i]) */
    size_t *rows;
    ns_rng **rng;       /* per site: the shuffle depends on (seed, site) only */
    float *xb;
    int32_t *yb;
    size_t *idx;
} local_sites;

static void local_free(local_sites *s)
{
    for (int i = 0; s->rng && i < s->nsites; i++)
        ns_rng_free(s->rng[i]);
    free(s->site), free(s->start), free(s->n), free(s->rows), free(s->rng);
    free(s->xb), free(s->yb), free(s->idx);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static ns_status local_init(local_sites *s, const int *site, size_t n, size_t in_size,
                            uint64_t seed)
{
    memset(s, 0, sizeof *s);
    int *ids = ns_alloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return NS_ERR_NOMEM;
    memcpy(ids, site, n * sizeof *ids);
    qsort(ids, n, sizeof *ids, cmp_int);
    for (size_t i = 0; i < n; i++)
        if (s->nsites == 0 || ids[s->nsites - 1] != ids[i])
            ids[s->nsites++] = ids[i];
    s->site = ids;
    size_t ns = (size_t)s->nsites ? (size_t)s->nsites : 1;
    s->start = ns_calloc(ns, sizeof *s->start), s->n = ns_calloc(ns, sizeof *s->n);
    s->rows = ns_alloc(n ? n : 1, sizeof *s->rows), s->rng = ns_calloc(ns, sizeof *s->rng);
    s->xb = ns_alloc(n * in_size + 1, sizeof *s->xb), s->yb = ns_alloc(n + 1, sizeof *s->yb);
    s->idx = ns_alloc(n + 1, sizeof *s->idx);
    if (!s->start || !s->n || !s->rows || !s->rng || !s->xb || !s->yb || !s->idx)
        return NS_ERR_NOMEM;
    size_t k = 0;
    for (int i = 0; i < s->nsites; i++) {
        s->start[i] = k;
        for (size_t r = 0; r < n; r++)
            if (site[r] == s->site[i])
                s->rows[k++] = r;
        s->n[i] = k - s->start[i];
        if (!(s->rng[i] = ns_rng_create(ns_seed_derive(seed, 0x517E0000u + (uint64_t)s->site[i]))))
            return NS_ERR_NOMEM;
    }
    return NS_OK;
}

/* Chunk k of every local site, in site order, into xb / yb / idx. */
static size_t build_batch(local_sites *s, const float *x, const int32_t *y, size_t in_size,
                          size_t K, size_t k)
{
    size_t nb = 0;
    for (int i = 0; i < s->nsites; i++) {
        size_t b, e;
        ns_dist_chunk(s->n[i], K, k, &b, &e);
        for (size_t j = b; j < e; j++, nb++) {
            size_t r = s->rows[s->start[i] + j];
            memcpy(s->xb + nb * in_size, x + r * in_size, in_size * sizeof *x);
            s->yb[nb] = y[r];
            s->idx[nb] = r;
        }
    }
    return nb;
}

static ns_status exchange(ns_dist *d)
{
    switch (d->o.method.kind) {
    case NS_DIST_DAD: return dist_exchange_dad(d);
    case NS_DIST_EDAD: return dist_exchange_edad(d);
    case NS_DIST_RANKDAD: return dist_exchange_rankdad(d);
    case NS_DIST_POWERSGD: return dist_exchange_powersgd(d);
    default: {
        ns_status st = NS_OK;
        for (size_t li = d->nl; !st && li-- > 0;)
            st = dist_exchange_dsgd(d, li);
        return st;
    }
    }
}

/* One synchronous step: local forward/backward, the agreement on counts
 * and failures, the method's exchange, the optimiser step (skipped when no
 * site had a row this step). */
static ns_status one_step(ns_dist *d, local_sites *s, const float *x, const int32_t *y,
                          size_t K, size_t k, double *loss_sum, double *den_sum)
{
    size_t in_size = ns_nn_input_size(d->m), gcount;
    double t0 = dist_now(), loss = 0;
    size_t nb = build_batch(s, x, y, in_size, K, k);
    memset(d->acc, 0, (d->nl + 1) * sizeof *d->acc);
    ns_status st = NS_OK;
    if (nb)
        st = ns_nn_forward_backward(d->m, s->xb, s->yb, nb, s->idx, &loss);
    float *g = ns_nn_grads(d->m, &gcount);
    if (!nb)
        memset(g, 0, gcount * sizeof *g);
    for (size_t li = 0; !nb && li < d->nl; li++)
        d->L[li].rows = 0;
    double den = nb ? ns_dist_loss_denominator(d->m, s->yb, nb) : 0;
    d->meta[0] = (double)nb, d->meta[1] = den, d->meta[2] = loss * den, d->meta[3] = st != NS_OK;
    dist_meta_exchange(d);
    for (int r = 0; r < d->size; r++)
        if (d->meta_all[4 * r + 3] != 0)
            return st ? st : ns_error(NS_ERR_DATA, "training step failed on rank %d", r);
    for (int r = 0; r < d->size; r++)
        *loss_sum += d->meta_all[4 * r + 2];
    *den_sum += d->den_total;
    if (d->den_total > 0) {
        st = exchange(d);
        if (!st && d->o.spectra_every > 0 && d->step % d->o.spectra_every == 0)
            st = dist_spectra_step(d);
        if (!st)
            st = ns_nn_optimizer_step(d->m);
    }
    double mpi = 0;
    for (size_t li = 0; li <= d->nl; li++)
        mpi += d->acc[li].secs;
    d->tot.mpi_seconds += mpi;
    d->tot.compute_seconds += dist_now() - t0 - mpi;
    if (!st)
        st = dist_bw_push_step(d);
    d->step++;
    d->tot.steps++;
    return st;
}

static ns_status run_epochs(ns_dist *d, local_sites *s, const float *x, const int32_t *y,
                            size_t K)
{
    const ns_nn_config *cfg = ns_nn_get_config(d->m);
    ns_status st = NS_OK;
    for (int ep = 0; !st && ep < cfg->epochs; ep++) {
        d->epoch = ep;
        ns_nn_set_epoch(d->m, ep);
        for (int i = 0; cfg->shuffle && i < s->nsites; i++)
            ns_rng_shuffle(s->rng[i], s->rows + s->start[i], s->n[i]);
        double loss = 0, den = 0;
        for (size_t k = 0; !st && k < K; k++)
            st = one_step(d, s, x, y, K, k, &loss, &den);
        if (!st)
            ns_debug("dist %s: epoch %d, pooled training loss %.6g",
                     ns_dist_kind_name(d->o.method.kind), ep + 1, den > 0 ? loss / den : 0.0);
    }
    return st;
}

ns_status ns_dist_fit(ns_dist *d, ns_nn *m, const float *x, const int32_t *y, size_t n,
                      const int *site, int tag)
{
    const ns_nn_config *cfg = ns_nn_get_config(m);
    local_sites s;
    ns_status st = local_init(&s, site, n, ns_nn_input_size(m), cfg->seed);
    for (int i = 0; !st && i < s.nsites; i++)
        if (s.site[i] < 0 || (d->nsites && s.site[i] >= d->nsites))
            st = ns_error(NS_ERR_ARG, "site %d out of range (distributed training)", s.site[i]);
        else if (d->held)
            d->held[s.site[i]] = 1;
    st = dist_agree(d, st);
    unsigned long long nl = n, ntot = 0;
    if (!st)
        MPI_Allreduce(&nl, &ntot, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, d->comm);
    if (!st && ntot == 0)
        st = ns_error(NS_ERR_DATA, "no training rows on any rank (distributed training)");
    if (!st && (cfg->val_fraction > 0 || cfg->patience > 0))
        ns_warn("distributed training ignores the validation split and early stopping");
    if (!st)
        st = dist_fit_begin(d, m, tag);
    if (!st) {
        size_t K = ns_dist_steps_per_epoch((size_t)ntot, cfg->batch);
        d->nsteps = (long)K * cfg->epochs;
        d->warm = ns_dist_warmup_steps(&d->o.method, d->nsteps);
        st = dist_fit_end(d, run_epochs(d, &s, x, y, K));
    }
    local_free(&s);
    return st;
}
