/* The context and the distributed training loop: every rank runs the same
 * steps on its own sites' chunks, exchanges what its method sends, and
 * applies the same aggregated gradient with the model's own optimiser. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"


void ns_dist_opts_default(ns_dist_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method.kind = NS_DIST_DSGD;
    o->method.iters = 10;
    o->method.warmup = 0.1;
    o->spectra_every = 10;
    o->spectra_topk = 10;
}

ns_status ns_dist_create(MPI_Comm comm, const ns_dist_opts *o, ns_dist **out)
{
    *out = NULL;
    ns_dist *d = ns_calloc(1, sizeof *d);
    if (!d)
        return NS_ERR_NOMEM;
    MPI_Comm_dup(comm, &d->comm);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->o = *o;
    d->tap = -1;
    size_t S = (size_t)d->size;
    d->meta_all = ns_calloc(4 * S, sizeof *d->meta_all);
    d->counts = ns_calloc(S, sizeof *d->counts);
    d->displs = ns_calloc(S, sizeof *d->displs);
    d->rowsr = ns_calloc(S, sizeof *d->rowsr);
    if (!d->meta_all || !d->counts || !d->displs || !d->rowsr) {
        ns_dist_free(d);
        return NS_ERR_NOMEM;
    }
    *out = d;
    return NS_OK;
}

static void free_layers(ns_dist *d)
{
    for (size_t i = 0; d->L && i < d->nl; i++) {
        dist_layer *l = &d->L[i];
        float *bufs[] = {l->A, l->D, l->Ag, l->Dg, l->Dr, l->L, l->R, l->msg, l->gath, l->L2,
                         l->R2, l->Lin, l->Rin, l->Q, l->E, l->M, l->P};
        for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
            free(bufs[k]);
        free(l->sigma);
    }
    free(d->L);
    free(d->acc);
    free(d->name_id);
    d->L = NULL, d->acc = NULL, d->name_id = NULL, d->nl = 0;
}

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

void ns_dist_free(ns_dist *d)
{
    if (!d)
        return;
    free_layers(d);
    free(d->meta_all), free(d->counts), free(d->displs), free(d->rowsr);
    free(d->sendbuf), free(d->row_group), free(d->scratch), free(d->scratch2);
    free(d->bw), free(d->sp), free(d->held);
    ns_spectra_ws_free(d->sws);
    ns_spectra_power_ws_free(d->pws);
    free_strings(d->site_names, (size_t)d->nsites);
    free_strings(d->layer_names, d->nlayer_names);
    if (d->comm != MPI_COMM_NULL) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (!fin)
            MPI_Comm_free(&d->comm);
    }
    free(d);
}

int ns_dist_rank(const ns_dist *d) { return d->rank; }
int ns_dist_size(const ns_dist *d) { return d->size; }

void ns_dist_get_totals(const ns_dist *d, ns_dist_totals *t)
{
    *t = d->tot;
}

ns_status ns_dist_set_site_names(ns_dist *d, const char *const *names, int nsites)
{
    char **c = ns_calloc(nsites > 0 ? (size_t)nsites : 1, sizeof *c);
    int *held = ns_calloc(nsites > 0 ? (size_t)nsites : 1, sizeof *held);
    for (int i = 0; c && i < nsites; i++)
        if (!(c[i] = strdup(names[i]))) {
            free_strings(c, (size_t)i);
            c = NULL;
        }
    if (!c || !held) {
        free(held);
        return ns_error(NS_ERR_NOMEM, "out of memory (site names)");
    }
    free_strings(d->site_names, (size_t)d->nsites);
    free(d->held);
    d->site_names = c, d->held = held, d->nsites = nsites;
    return NS_OK;
}

/* ------------------------------------------------------------ the tap */

/* Copies this rank's A and D of the layer (dad, edad, rankdad need them
 * after the backward pass, once the batch's weights are known). */
static ns_status capture(const ns_nn_tap_event *ev, void *user)
{
    ns_dist *d = user;
    dist_layer *l = &d->L[ev->layer];
    size_t rows = ev->A.rows, hi = ev->A.cols, ho = ev->D.cols;
    ns_status st = dist_grow(&l->A, &l->cap_A, rows * hi, sizeof(float));
    if (!st)
        st = dist_grow(&l->D, &l->cap_D, rows * ho, sizeof(float));
    if (st)
        return st;
    for (size_t r = 0; r < rows; r++) {
        memcpy(l->A + r * hi, ev->A.data + r * ev->A.stride, hi * sizeof(float));
        memcpy(l->D + r * ho, ev->D.data + r * ev->D.stride, ho * sizeof(float));
    }
    l->rows = rows;
    return NS_OK;
}

static int needs_tap(const ns_dist *d)
{
    ns_dist_kind k = d->o.method.kind;
    return k == NS_DIST_DAD || k == NS_DIST_EDAD || k == NS_DIST_RANKDAD;
}

/* ------------------------------------------------------------ set-up */

static size_t name_index(ns_dist *d, const char *name)
{
    for (size_t i = 0; i < d->nlayer_names; i++)
        if (!strcmp(d->layer_names[i], name))
            return i;
    char **n = realloc(d->layer_names, (d->nlayer_names + 1) * sizeof *n);
    if (!n || !(n[d->nlayer_names] = strdup(name))) {
        if (n)
            d->layer_names = n;
        return DIST_NONE;
    }
    d->layer_names = n;
    return d->nlayer_names++;
}

static ns_status map_layers(ns_dist *d, ns_nn *m)
{
    d->nl = ns_nn_layer_count(m);
    d->L = ns_calloc(d->nl, sizeof *d->L);
    d->acc = ns_calloc(d->nl + 1, sizeof *d->acc);
    d->name_id = ns_calloc(d->nl, sizeof *d->name_id);
    if (!d->L || !d->acc || !d->name_id)
        return NS_ERR_NOMEM;
    size_t covered = 0, total = 0;
    ns_nn_grads(m, &total);
    for (size_t li = 0; li < d->nl; li++) {
        dist_layer *l = &d->L[li];
        l->info = ns_nn_layer_info(m, li);
        l->w_off = l->b_off = DIST_NONE;
        for (size_t i = 0; i < ns_nn_param_count(m); i++) {
            ns_nn_param p = ns_nn_param_info(m, i);
            if (!strcmp(p.name, l->info.weight_name))
                l->w_off = p.offset, covered += p.count;
            if (l->info.bias_name && !strcmp(p.name, l->info.bias_name))
                l->b_off = p.offset, covered += p.count;
        }
        if ((d->name_id[li] = name_index(d, l->info.name)) == DIST_NONE)
            return NS_ERR_NOMEM;
    }
    if (covered != total)
        return ns_error(NS_ERR_INTERNAL, "weight layers cover %zu of %zu parameters "
                        "(distributed training)", covered, total);
    return NS_OK;
}

/* Rank 0's parameters to every rank; *diff (may be NULL) receives the
 * largest deviation from them on any rank. */
static ns_status sync_params(ns_dist *d, double *diff)
{
    size_t np;
    float *p = ns_nn_params(d->m, &np);
    float *r0 = ns_alloc(np ? np : 1, sizeof *r0);
    if (!r0)
        return NS_ERR_NOMEM;
    memcpy(r0, p, np * sizeof *p);
    double t0 = dist_now();
    MPI_Bcast(r0, (int)np, MPI_FLOAT, 0, d->comm);
    double dev = 0;
    for (size_t i = 0; i < np; i++)
        dev = fmax(dev, fabs((double)p[i] - (double)r0[i]));
    memcpy(p, r0, np * sizeof *p);
    free(r0);
    MPI_Allreduce(MPI_IN_PLACE, &dev, 1, MPI_DOUBLE, MPI_MAX, d->comm);
    d->tot.mpi_seconds += dist_now() - t0;
    d->tot.setup_bytes += 4.0 * (double)np * (d->rank == 0 ? (double)(d->size - 1) : 1.0);
    if (diff)
        *diff = dev;
    return NS_OK;
}

static ns_status fit_begin(ns_dist *d, ns_nn *m, int tag)
{
    free_layers(d);
    d->m = m, d->tag = tag, d->step = 0;
    ns_status st = map_layers(d, m);
    if (!st && needs_tap(d) && (d->tap = ns_nn_tap_subscribe(m, capture, d)) < 0)
        st = ns_error(NS_ERR_INTERNAL, "no free tap slot (distributed training)");
    if (!st)
        st = dist_lowrank_alloc(d);
    if (!st && !d->pws && !(d->pws = ns_spectra_power_ws_create(1, 1, 1)))
        st = NS_ERR_NOMEM;
    return st;
}

static void fit_end(ns_dist *d)
{
    if (d->tap >= 0)
        ns_nn_tap_unsubscribe(d->m, d->tap);
    d->tap = -1;
}

/* Every rank learns whether any failed (a failure on one rank must not
 * leave the others waiting in a collective). */
ns_status dist_agree(ns_dist *d, ns_status st)
{
    int bad = st != NS_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, d->comm);
    if (any && !st)
        return ns_error(NS_ERR_DATA, "distributed training failed on another rank (rank %d "
                        "waits for it)", d->rank);
    return st;
}

ns_status dist_fit_begin(ns_dist *d, ns_nn *m, int tag)
{
    ns_status st = dist_agree(d, fit_begin(d, m, tag));
    if (!st)
        st = sync_params(d, NULL); /* identical starting weights, whatever the seeds */
    return st;
}

ns_status dist_fit_end(ns_dist *d, ns_status st)
{
    fit_end(d);
    st = dist_agree(d, st);
    double dev = 0;
    if (!st)
        st = sync_params(d, &dev);
    if (!st && dev > d->tot.max_param_diff)
        d->tot.max_param_diff = dev;
    return st;
}
