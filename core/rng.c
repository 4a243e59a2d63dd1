/* Seeded random numbers (GSL mt19937) and seed derivation for streams. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>

#include "core/core.h"

struct ns_rng {
    gsl_rng *r;
};

/* splitmix64: decorrelates (seed, stream) pairs. */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t ns_seed_derive(uint64_t seed, uint64_t stream)
{
    return splitmix64(splitmix64(seed) ^ (stream * 0xd1342543de82ef95ULL + 1));
}

ns_rng *ns_rng_create(uint64_t seed)
{
    ns_rng *r = malloc(sizeof *r);
    if (!r) {
        ns_error(NS_ERR_NOMEM, "out of memory creating a random generator");
        return NULL;
    }
    r->r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r->r) {
        free(r);
        ns_error(NS_ERR_NOMEM, "out of memory creating a random generator");
        return NULL;
    }
    /* mt19937 takes an unsigned long seed; 0 selects GSL's default seed,
     * so fold the 64 bits and avoid 0. */
    unsigned long s = (unsigned long)(splitmix64(seed) & 0xffffffffUL);
    gsl_rng_set(r->r, s ? s : 4357UL);
    return r;
}

void ns_rng_free(ns_rng *r)
{
    if (!r)
        return;
    gsl_rng_free(r->r);
    free(r);
}

double ns_rng_uniform(ns_rng *r) { return gsl_rng_uniform(r->r); }

double ns_rng_normal(ns_rng *r) { return gsl_ran_gaussian_ziggurat(r->r, 1.0); }

uint64_t ns_rng_below(ns_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    if (n <= gsl_rng_max(r->r))
        return gsl_rng_uniform_int(r->r, (unsigned long)n);
    return (uint64_t)(gsl_rng_uniform(r->r) * (double)n);
}

void ns_rng_shuffle(ns_rng *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ns_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
