/* Method specs, the byte formulas, the scaling rule, site assignment and
 * batch chunks: everything about distributed training that needs no MPI
 * call (tests/test_dist.c checks these without a launcher). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

static const char *const kind_names[] = {"dsgd", "dad", "edad", "rankdad", "powersgd"};

const char *ns_dist_kind_name(ns_dist_kind k)
{
    return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "?";
}

static int parse_positive(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 1 << 20)
        return -1;
    *out = (int)v;
    return 0;
}

/* The ":"-separated items after rankdad:R / powersgd:R. */
static ns_status parse_items(char *rest, const char *spec, ns_dist_method *m)
{
    char *save = NULL;
    for (char *t = strtok_r(rest, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        if (m->kind == NS_DIST_RANKDAD && !strcmp(t, "oneway"))
            m->twoway = 0;
        else if (m->kind == NS_DIST_RANKDAD && !strcmp(t, "twoway"))
            m->twoway = 1;
        else if (m->kind == NS_DIST_RANKDAD && !strncmp(t, "iters=", 6) &&
                 !parse_positive(t + 6, &m->iters))
            ;
        else
            return ns_error(NS_ERR_ARG, "unknown item '%s' in the method (%s; rankdad:R[:oneway|"
                            ":twoway][:iters=I], powersgd:R)", t, spec);
    }
    return NS_OK;
}

ns_status ns_dist_method_parse(const char *spec, ns_dist_method *out)
{
    ns_dist_method m = {NS_DIST_DSGD, 0, 0, 10, 0.1};
    char *copy = strdup(spec ? spec : "");
    if (!copy)
        return ns_error(NS_ERR_NOMEM, "out of memory (method %s)", spec);
    char *colon = strchr(copy, ':'), *rest = NULL;
    if (colon)
        *colon = 0;
    int k = 0;
    for (; k < 5 && strcmp(copy, kind_names[k]); k++)
        ;
    ns_status st = NS_OK;
    if (k == 5)
        st = ns_error(NS_ERR_ARG, "unknown method '%s' (dsgd, dad, edad, rankdad:R, powersgd:R)",
                      spec);
    m.kind = (ns_dist_kind)k;
    int ranked = m.kind == NS_DIST_RANKDAD || m.kind == NS_DIST_POWERSGD;
    if (!st && ranked) {
        char *r = colon ? colon + 1 : NULL, *next = r ? strchr(r, ':') : NULL;
        if (next)
            *next = 0, rest = next + 1;
        if (!r || parse_positive(r, &m.rank))
            st = ns_error(NS_ERR_ARG, "%s needs a rank >= 1 (%s; e.g. %s:4)", kind_names[k], spec,
                          kind_names[k]);
    } else if (!st && colon) {
        st = ns_error(NS_ERR_ARG, "%s takes no parameters (%s)", kind_names[k], spec);
    }
    if (!st && rest)
        st = parse_items(rest, spec, &m);
    free(copy);
    if (!st)
        *out = m;
    return st;
}

void ns_dist_method_format(const ns_dist_method *m, char *buf, size_t size)
{
    if (m->kind == NS_DIST_RANKDAD)
        snprintf(buf, size, "rankdad:%d:%s:iters=%d", m->rank, m->twoway ? "twoway" : "oneway",
                 m->iters);
    else if (m->kind == NS_DIST_POWERSGD)
        snprintf(buf, size, "powersgd:%d", m->rank);
    else
        snprintf(buf, size, "%s", ns_dist_kind_name(m->kind));
}

/* ------------------------------------------------------------- formulas */

size_t ns_dist_dsgd_bytes(const ns_dist_layer_shape *l)
{
    return 4 * (l->h_in * l->h_out + (l->bias ? l->h_out : 0));
}

int ns_dist_powersgd_compresses(const ns_dist_method *m, const ns_dist_layer_shape *l)
{
    return (size_t)m->rank * (l->h_in + l->h_out) < l->h_in * l->h_out;
}

size_t ns_dist_message_bytes(const ns_dist_method *m, const ns_dist_layer_shape *l, int warm)
{
    size_t bias = l->bias ? l->h_out : 0, r = (size_t)m->rank;
    switch (m->kind) {
    case NS_DIST_DAD:
        return 4 * l->rows * (l->h_in + l->h_out);
    case NS_DIST_EDAD:
        return 4 * l->rows * (l->h_in + (l->output ? l->h_out : 0));
    case NS_DIST_RANKDAD: /* R capped at min(h_in, h_out) */
        r = r < l->h_in ? r : l->h_in;
        r = r < l->h_out ? r : l->h_out;
        return 4 * (r * (l->h_in + l->h_out) + bias);
    case NS_DIST_POWERSGD:
        if (!warm && ns_dist_powersgd_compresses(m, l))
            return 4 * (r * (l->h_in + l->h_out) + bias);
        return ns_dist_dsgd_bytes(l);
    default:
        return ns_dist_dsgd_bytes(l);
    }
}

long ns_dist_warmup_steps(const ns_dist_method *m, long nsteps)
{
    if (m->kind != NS_DIST_POWERSGD || m->warmup <= 0)
        return 0;
    return (long)ceil(m->warmup * (double)nsteps - 1e-9);
}

/* -------------------------------------------------------------- scaling */

double ns_dist_loss_denominator(const ns_nn *m, const int32_t *y, size_t n)
{
    const ns_nn_config *c = ns_nn_get_config(m);
    if (c->loss != NS_NN_CE || !c->class_weights)
        return (double)n;
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w += y[i] >= 0 && y[i] < c->nclass_weights ? c->class_weights[y[i]] : 0;
    return w;
}

double ns_dist_site_weight(double den_s, double den_total)
{
    return den_total > 0 ? den_s / den_total : 0;
}

/* ---------------------------------------------------------- sites, batches */

void ns_dist_sites_even(size_t n, int nsites, int *site)
{
    for (size_t i = 0; i < n; i++)
        site[i] = (int)(i * (size_t)nsites / (n ? n : 1));
}

int ns_dist_site_rank(int site, int nranks)
{
    return nranks > 0 ? site % nranks : 0;
}

size_t ns_dist_steps_per_epoch(size_t n_total, int batch)
{
    size_t b = batch > 0 ? (size_t)batch : 1;
    return n_total ? (n_total + b - 1) / b : 0;
}

void ns_dist_chunk(size_t n_site, size_t K, size_t k, size_t *begin, size_t *end)
{
    *begin = K ? k * n_site / K : 0;
    *end = K ? (k + 1) * n_site / K : n_site;
}
