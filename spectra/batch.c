/* One batch (neurospectra grad): spectra of every layer fed to it, kept as
 * text and written as `layer group quantity index value`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectra/spectra_int.h"

struct ns_spectra_batch {
    ns_spectra_opts o;
    int *sample_group; /* 0..ngroups-1 */
    size_t nsamples;
    int ngroups;
    int *gvalue;       /* the group's value in the caller's array */
    ns_spectra_arch arch;
    int have_arch;
    spectra_scratch sc;
    char *text;
    size_t len;
    FILE *mem;
    const char *layer;
    size_t *bound;
    int sub;
};

void spectra_batch_set_sub(ns_spectra_batch *b, int sub) { b->sub = sub; }
int spectra_batch_sub(const ns_spectra_batch *b) { return b->sub; }

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Distinct values of sample_group, sorted, and every sample's position. */
static ns_status map_groups(ns_spectra_batch *b, const int *sample_group, size_t n)
{
    b->gvalue = ns_alloc(n ? n : 1, sizeof *b->gvalue);
    b->sample_group = ns_alloc(n ? n : 1, sizeof *b->sample_group);
    if (!b->gvalue || !b->sample_group)
        return NS_ERR_NOMEM;
    memcpy(b->gvalue, sample_group, n * sizeof *b->gvalue);
    qsort(b->gvalue, n, sizeof *b->gvalue, cmp_int);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || b->gvalue[i] != b->gvalue[k - 1])
            b->gvalue[k++] = b->gvalue[i];
    b->ngroups = (int)k;
    for (size_t i = 0; i < n; i++) {
        const int *hit = bsearch(&sample_group[i], b->gvalue, k, sizeof *b->gvalue, cmp_int);
        b->sample_group[i] = (int)(hit - b->gvalue);
    }
    b->nsamples = n;
    return NS_OK;
}

ns_status ns_spectra_batch_create(const int *sample_group, size_t nsamples,
                                  const ns_spectra_opts *o, ns_spectra_batch **out)
{
    *out = NULL;
    ns_spectra_batch *b = ns_calloc(1, sizeof *b);
    if (!b)
        return NS_ERR_NOMEM;
    b->sub = -1;
    if (o) {
        b->o = *o;
    } else {
        ns_spectra_opts_default(&b->o);
        b->o.topk = 0; /* every singular value */
    }
    ns_status s = sample_group ? map_groups(b, sample_group, nsamples) : NS_OK;
    if (s == NS_OK && !(b->bound = ns_calloc((size_t)b->ngroups + 1, sizeof *b->bound)))
        s = NS_ERR_NOMEM;
    if (s == NS_OK && !(b->mem = open_memstream(&b->text, &b->len)))
        s = ns_error(NS_ERR_NOMEM, "cannot create a text buffer (spectra batch)");
    if (s != NS_OK) {
        ns_spectra_batch_free(b);
        return s;
    }
    fputs("layer\tgroup\tquantity\tindex\tvalue\n", b->mem);
    *out = b;
    return NS_OK;
}

void ns_spectra_batch_free(ns_spectra_batch *b)
{
    if (!b)
        return;
    if (b->mem)
        fclose(b->mem);
    free(b->text);
    free(b->sample_group);
    free(b->gvalue);
    free(b->bound);
    spectra_scratch_free(&b->sc);
    free(b);
}

void ns_spectra_batch_set_arch(ns_spectra_batch *b, const ns_spectra_arch *a)
{
    b->arch = *a;
    b->have_arch = 1;
}

static ns_status batch_emit(void *user, int group, spectra_quantity q, size_t index, double value)
{
    ns_spectra_batch *b = user;
    char num[40];
    spectra_format(num, value);
    if (group < 0)
        fprintf(b->mem, "%s\tall\t%s\t%zu\t%s\n", b->layer, spectra_quantity_names[q], index, num);
    else
        fprintf(b->mem, "%s\t%d\t%s\t%zu\t%s\n", b->layer, b->gvalue[group],
                spectra_quantity_names[q], index, num);
    return NS_OK;
}

ns_status ns_spectra_batch_layer(ns_spectra_batch *b, const ns_spectra_layer *l)
{
    size_t R = l->rows_per_sample ? l->rows_per_sample : 1, rows = l->A->rows;
    if (rows != l->nsamples * R || l->D->rows != rows)
        return ns_error(NS_ERR_ARG, "layer %s: %zu rows for %zu samples x %zu", l->name, rows,
                        l->nsamples, R);
    ns_status s = spectra_scratch_reserve(&b->sc, rows, l->A->cols, l->D->cols, b->ngroups,
                                          b->o.precision);
    int *rg = b->ngroups ? b->sc.row_group : NULL;
    for (size_t n = 0; s == NS_OK && rg && n < l->nsamples; n++)
        if ((l->sample_idx ? l->sample_idx[n] : n) >= b->nsamples)
            s = ns_error(NS_ERR_ARG, "batch of %zu samples but %zu group labels (%s)", l->nsamples,
                         b->nsamples, l->name);
    if (s != NS_OK)
        return s;
    if (rg)
        ns_spectra_row_groups(b->sample_group, l->sample_idx, l->nsamples, R, rg);
    b->layer = l->name;
    spectra_group_bounds(b->have_arch ? &b->arch : NULL, l, rg, b->ngroups, b->bound, NULL);
    return spectra_emit_layer(&b->sc, l, rg, b->ngroups, &b->o, b->bound, batch_emit, b);
}

ns_status ns_spectra_batch_write(const ns_spectra_batch *b, const char *path)
{
    ns_afile *af = NULL;
    if (fflush(b->mem) != 0)
        return ns_error(NS_ERR_NOMEM, "cannot flush the spectra text (%s)", path);
    ns_status s = ns_afile_open(path, &af);
    if (s != NS_OK)
        return s;
    fwrite(b->text, 1, b->len, ns_afile_stream(af));
    return ns_afile_commit(af);
}
