/* Bandwidth records and the output tables: every rank keeps its own rows;
 * ns_dist_write gathers them on rank 0, which writes the TSVs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_int.h"

ns_status dist_bw_push_step(ns_dist *d)
{
    if (dist_grow(&d->bw, &d->cap_bw, d->nbw + d->nl + 1 + (d->cap_bw >> 1), sizeof *d->bw))
        return NS_ERR_NOMEM;
    double S1 = (double)(d->size - 1);
    for (size_t li = 0; li <= d->nl; li++) {
        dist_bw_rec *r = &d->bw[d->nbw++];
        const dist_acc *a = &d->acc[li];
        r->tag = d->tag, r->epoch = d->epoch, r->step = d->step;
        r->sent = a->sent, r->recv = a->recv, r->secs = a->secs;
        if (li == d->nl) { /* meta: dSGD exchanges it too */
            r->layer = -1;
            r->rows = d->meta[0];
            r->dsgd = S1 * NS_DIST_META_BYTES;
        } else {
            const dist_layer *l = &d->L[li];
            ns_dist_layer_shape sh = {l->info.h_in, l->info.h_out, 0, l->b_off != DIST_NONE, 0};
            r->layer = (int)d->name_id[li];
            r->rows = d->meta[0] * (double)l->info.rows_per_sample;
            r->dsgd = S1 * (double)ns_dist_dsgd_bytes(&sh);
        }
        d->tot.bytes_sent += r->sent;
        d->tot.bytes_received += r->recv;
        d->tot.dsgd_bytes += r->dsgd;
    }
    return NS_OK;
}

/* Every rank's records of `fields` doubles on rank 0 (*all, *count records,
 * rank of each in *from); others get NULL. */
ns_status dist_gather_records(ns_dist *d, const double *mine, size_t n, size_t fields,
                                double **all, int **from, size_t *count)
{
    *all = NULL, *from = NULL, *count = 0;
    int cnt = (int)(n * fields), *counts = NULL, *displs = NULL;
    if (d->rank == 0) {
        counts = ns_alloc((size_t)d->size, sizeof *counts);
        displs = ns_alloc((size_t)d->size, sizeof *displs);
        if (!counts || !displs)
            cnt = -1; /* still take part in the collectives */
    }
    MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, d->comm);
    size_t total = 0;
    for (int r = 0; d->rank == 0 && counts && r < d->size; r++)
        displs[r] = (int)total, total += counts[r] > 0 ? (size_t)counts[r] : 0;
    double *buf = d->rank == 0 ? ns_alloc(total + 1, sizeof *buf) : NULL;
    MPI_Gatherv(mine, cnt > 0 ? cnt : 0, MPI_DOUBLE, buf, counts, displs, MPI_DOUBLE, 0, d->comm);
    ns_status st = NS_OK;
    if (d->rank == 0) {
        int *fr = ns_alloc(total / fields + 1, sizeof *fr);
        if (!buf || !fr || !counts || !displs) {
            free(buf), free(fr);
            st = NS_ERR_NOMEM;
        } else {
            for (int r = 0; r < d->size; r++)
                for (int k = 0; k < counts[r] / (int)fields; k++)
                    fr[displs[r] / (int)fields + k] = r;
            *all = buf, *from = fr, *count = total / fields;
        }
    }
    free(counts), free(displs);
    return st;
}

/* The sites a rank held, "siteA+siteC", or "rank<r>" without names. */
static void rank_label(const ns_dist *d, int r, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int s = 0; d->site_names && s < d->nsites; s++)
        if (ns_dist_site_rank(s, d->size) == r && len + 2 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "+" : "",
                                    d->site_names[s]);
    if (!buf[0])
        snprintf(buf, size, "rank%d", r);
}

static const char *layer_name(const ns_dist *d, int id)
{
    return id < 0 ? "meta" : (size_t)id < d->nlayer_names ? d->layer_names[id] : "?";
}

static void fmtd(char *b, double v) { if (isfinite(v)) snprintf(b, 32, "%.9g", v); else snprintf(b, 32, "n/a"); }

#define BW_FIELDS 9
static ns_status write_bandwidth(ns_dist *d, const double *all, const int *from, size_t n,
                                 const char *path, const char *method)
{
    static const char *const hdr[] = {"fold", "step", "epoch", "layer", "rank", "method", "rows",
                                      "bytes_sent", "bytes_received", "dsgd_bytes", "ratio",
                                      "mpi_seconds"};
    ns_tsv *t = ns_tsv_create(12, hdr);
    ns_status st = t ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < n; i++) {
        const double *r = all + i * BW_FIELDS;
        char c[12][32];
        snprintf(c[0], 32, "%d", (int)r[0]);
        snprintf(c[1], 32, "%ld", (long)r[3]);
        snprintf(c[2], 32, "%d", (int)r[1]);
        snprintf(c[3], 32, "%s", layer_name(d, (int)r[2]));
        snprintf(c[4], 32, "%d", from[i]);
        snprintf(c[5], 32, "%s", method);
        fmtd(c[6], r[4]), fmtd(c[7], r[5]), fmtd(c[8], r[6]), fmtd(c[9], r[7]);
        fmtd(c[10], r[7] > 0 ? r[5] / r[7] : NAN), fmtd(c[11], r[8]);
        st = ns_tsv_append_fixed(t, c[0], sizeof c[0]);
    }
    if (!st)
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    return st;
}

#define TOT_FIELDS 10
static void totals_row(const char *method, const char *rank, const char *sites, const double *v,
                       ns_tsv *t, ns_status *st)
{
    char c[17][64];
    snprintf(c[0], 64, "%s", method), snprintf(c[1], 64, "%s", rank);
    snprintf(c[2], 64, "%s", sites), snprintf(c[3], 64, "%ld", (long)v[0]);
    double steps = v[0] > 0 ? v[0] : NAN;
    fmtd(c[4], v[1]), fmtd(c[5], v[2]), fmtd(c[6], v[3]);
    fmtd(c[7], v[3] > 0 ? v[1] / v[3] : NAN);
    fmtd(c[8], v[1] / steps), fmtd(c[9], v[2] / steps), fmtd(c[10], v[3] / steps);
    fmtd(c[11], v[4]), fmtd(c[12], v[5]), fmtd(c[13], v[6]), fmtd(c[14], v[7]);
    fmtd(c[15], v[8]), fmtd(c[16], v[9]);
    if (!*st)
        *st = ns_tsv_append_fixed(t, c[0], sizeof c[0]);
}

static ns_status write_summary(ns_dist *d, const double *tot, size_t n, const char *path,
                               const char *method, double *sum)
{
    static const char *const hdr[] = {"method", "rank", "sites", "steps", "bytes_sent",
        "bytes_received", "dsgd_bytes", "ratio", "bytes_sent_per_step",
        "bytes_received_per_step", "dsgd_bytes_per_step", "mpi_seconds", "compute_seconds",
        "setup_bytes", "max_param_diff", "stats_bytes", "eval_bytes"};
    ns_tsv *t = ns_tsv_create(17, hdr);
    ns_status st = t ? NS_OK : NS_ERR_NOMEM;
    memset(sum, 0, TOT_FIELDS * sizeof *sum);
    for (size_t r = 0; r < n; r++) {
        char rk[16], lab[256];
        snprintf(rk, sizeof rk, "%zu", r);
        rank_label(d, (int)r, lab, sizeof lab);
        totals_row(method, rk, lab, tot + r * TOT_FIELDS, t, &st);
        for (int k = 0; k < TOT_FIELDS; k++)
            sum[k] = k == 0 || k == 7 ? fmax(sum[k], tot[r * TOT_FIELDS + k])
                                      : sum[k] + tot[r * TOT_FIELDS + k];
    }
    totals_row(method, "all", "all", sum, t, &st);
    if (!st)
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    return st;
}

#define SP_FIELDS 7
static const char *const sp_quantity[DIST_NQ] = {"sv", "approx_error", "best_error"};

static ns_status write_spectra(ns_dist *d, const double *all, size_t n, const char *path)
{
    static const char *const hdr[] = {"fold", "step", "layer", "site", "quantity", "index",
                                      "value"};
    ns_tsv *t = ns_tsv_create(7, hdr);
    ns_status st = t ? NS_OK : NS_ERR_NOMEM;
    for (size_t i = 0; !st && i < n; i++) {
        const double *r = all + i * SP_FIELDS;
        char c[7][256];
        snprintf(c[0], 32, "%d", (int)r[0]), snprintf(c[1], 32, "%ld", (long)r[1]);
        snprintf(c[2], 32, "%s", layer_name(d, (int)r[2]));
        if (r[3] < 0)
            snprintf(c[3], 32, "all");
        else
            rank_label(d, (int)r[3], c[3], sizeof c[3]);
        snprintf(c[4], 32, "%s", sp_quantity[(int)r[4] % DIST_NQ]);
        snprintf(c[5], 32, "%d", (int)r[5] + 1);
        fmtd(c[6], r[6]);
        st = ns_tsv_append_fixed(t, c[0], sizeof c[0]);
    }
    if (!st)
        st = ns_tsv_write(t, path);
    ns_tsv_free(t);
    return st;
}

ns_status dist_sp_push(ns_dist *d, size_t li, int site, int quantity, int index, double value)
{
    if (dist_grow(&d->sp, &d->cap_sp, d->nsp + 1 + (d->cap_sp >> 1), sizeof *d->sp))
        return NS_ERR_NOMEM;
    dist_sp_rec *r = &d->sp[d->nsp++];
    r->tag = d->tag, r->step = d->step, r->layer = (int)d->name_id[li];
    r->site = site, r->quantity = quantity, r->index = index, r->value = value;
    return NS_OK;
}

static char *join(const char *dir, const char *name)
{
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Records flattened into doubles for the gather. */
static double *flatten(const ns_dist *d, int spectra, size_t *n)
{
    size_t f = spectra ? SP_FIELDS : BW_FIELDS, cnt = spectra ? d->nsp : d->nbw;
    double *v = ns_alloc(cnt * f + 1, sizeof *v);
    for (size_t i = 0; v && i < cnt; i++) {
        double *o = v + i * f;
        if (spectra) {
            const dist_sp_rec *r = &d->sp[i];
            o[0] = r->tag, o[1] = (double)r->step, o[2] = r->layer, o[3] = r->site;
            o[4] = r->quantity, o[5] = r->index, o[6] = r->value;
        } else {
            const dist_bw_rec *r = &d->bw[i];
            o[0] = r->tag, o[1] = r->epoch, o[2] = r->layer, o[3] = (double)r->step;
            o[4] = r->rows, o[5] = r->sent, o[6] = r->recv, o[7] = r->dsgd, o[8] = r->secs;
        }
    }
    *n = v ? cnt : 0;
    return v;
}

static void log_summary(const ns_dist *d, const char *method, const double *sum)
{
    double steps = sum[0] > 0 ? sum[0] : 1, S = d->size;
    ns_info("dist %s on %d ranks: %ld steps, %.4g bytes sent per step per rank (dsgd %.4g, "
            "ratio %.4g), %.3g s in MPI per rank, weights identical on every rank "
            "(largest deviation %.3g)", method, d->size, (long)sum[0], sum[1] / steps / S,
            sum[3] / steps / S, sum[3] > 0 ? sum[1] / sum[3] : NAN, sum[4] / S, sum[7]);
}

ns_status ns_dist_write(ns_dist *d, const char *out_dir)
{
    char method[96];
    ns_dist_method_format(&d->o.method, method, sizeof method);
    size_t nb = 0, ns = 0, nall = 0, nsp = 0, ntot = 0;
    double *bw = flatten(d, 0, &nb), *sp = flatten(d, 1, &ns), *all = NULL, *spall = NULL;
    double *totall = NULL, mine[TOT_FIELDS] = {(double)d->tot.steps, d->tot.bytes_sent,
        d->tot.bytes_received, d->tot.dsgd_bytes, d->tot.mpi_seconds, d->tot.compute_seconds,
        d->tot.setup_bytes, d->tot.max_param_diff, d->tot.stats_bytes, d->tot.eval_bytes};
    int *from = NULL, *spfrom = NULL, *tfrom = NULL;
    ns_status st = dist_gather_records(d, bw, nb, BW_FIELDS, &all, &from, &nall);
    ns_status s2 = dist_gather_records(d, sp, ns, SP_FIELDS, &spall, &spfrom, &nsp);
    ns_status s3 = dist_gather_records(d, mine, 1, TOT_FIELDS, &totall, &tfrom, &ntot);
    st = st ? st : s2 ? s2 : s3;
    if (!st && (!bw || !sp))
        st = NS_ERR_NOMEM;
    char *p1 = join(out_dir, "dist_bandwidth.tsv"), *p2 = join(out_dir, "dist_bandwidth_summary.tsv");
    char *p3 = join(out_dir, "dist_spectra.tsv");
    if (!st && d->rank == 0) {
        double sum[TOT_FIELDS];
        st = !p1 || !p2 || !p3 ? NS_ERR_NOMEM : write_bandwidth(d, all, from, nall, p1, method);
        if (!st)
            st = write_summary(d, totall, ntot, p2, method, sum);
        if (!st)
            st = write_spectra(d, spall, nsp, p3);
        if (!st)
            log_summary(d, method, sum);
    }
    free(bw), free(sp), free(all), free(spall), free(totall), free(from), free(spfrom), free(tfrom);
    free(p1), free(p2), free(p3);
    return dist_agree(d, st);
}
