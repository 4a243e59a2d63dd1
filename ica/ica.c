/* ns_ica_unmix: centring, sphering, the algorithm, then GIFT's conventions
 * (positive skew, components sorted by back-projected variance). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ica/infomax_int.h"

const char *ns_ica__enum_name(const char *const *names, size_t n, unsigned v)
{
    return v < n ? names[v] : "?";
}

int ns_ica__enum_parse(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return (int)i;
    return -1;
}

static const char *const alg_names[] = {"infomax", "fastica"};
static const char *const br_names[] = {"gica", "gica3", "dr"};
static const char *const icasso_names[] = {"randinit", "bootstrap", "both"};

const char *ns_ica_algorithm_name(ns_ica_algorithm a)
{
    return ns_ica__enum_name(NS_ICA_NAMES(alg_names), (unsigned)a);
}

int ns_ica_algorithm_parse(const char *s, ns_ica_algorithm *out)
{
    int i = ns_ica__enum_parse(NS_ICA_NAMES(alg_names), s);
    if (i >= 0)
        *out = (ns_ica_algorithm)i;
    return i < 0 ? -1 : 0;
}

const char *ns_icasso_mode_name(ns_icasso_mode m)
{
    return ns_ica__enum_name(NS_ICA_NAMES(icasso_names), (unsigned)m);
}

int ns_icasso_mode_parse(const char *s, ns_icasso_mode *out)
{
    int i = ns_ica__enum_parse(NS_ICA_NAMES(icasso_names), s);
    if (i >= 0)
        *out = (ns_icasso_mode)i;
    return i < 0 ? -1 : 0;
}

const char *ns_ica_backrecon_name(ns_ica_backrecon b)
{
    return ns_ica__enum_name(NS_ICA_NAMES(br_names), (unsigned)b);
}

int ns_ica_backrecon_parse(const char *s, ns_ica_backrecon *out)
{
    int i = strcmp(s, "gica1") ? ns_ica__enum_parse(NS_ICA_NAMES(br_names), s)
                               : NS_ICA_BR_GICA1; /* GIFT's name for gica */
    if (i >= 0)
        *out = (ns_ica_backrecon)i;
    return i < 0 ? -1 : 0;
}

void ns_ica_component_name(int k, int index0, char *buf, size_t len)
{
    int width = snprintf(NULL, 0, "%d", k);
    snprintf(buf, len, "ica%dc%0*d", k, width, index0 + 1);
}

void ns_ica_opts_default(ns_ica_opts *o)
{
    memset(o, 0, sizeof *o);
    o->algorithm = NS_ICA_INFOMAX;
    o->stop = 1e-6;
}

/* Row means removed (float copy) and the row covariance (double K x K). */
static ns_status center_cov(const ns_matrix *z, float *xc, double *cov)
{
    size_t K = z->rows, V = z->cols;
    for (size_t i = 0; i < K; i++) {
        const float *r = z->data + i * z->stride;
        double s = 0;
        for (size_t v = 0; v < V; v++)
            s += r[v];
        float m = (float)(s / (double)V);
        for (size_t v = 0; v < V; v++)
            xc[i * V + v] = r[v] - m;
    }
    float *c = ns_alloc(K * K, sizeof(float));
    if (!c)
        return NS_ERR_NOMEM;
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)K, (int)V, 1.0f, xc, (int)V, 0.0f,
                c, (int)K);
    for (size_t i = 0; i < K; i++)
        for (size_t j = i; j < K; j++)
            cov[i * K + j] = cov[j * K + i] = c[i * K + j] / (double)(V - 1);
    free(c);
    return NS_OK;
}

/* xc <- s xc (K x V, float) */
static ns_status apply_left(float *xc, size_t K, size_t V, const double *s)
{
    float *sf = ns_alloc(K * K, sizeof(float)), *tmp = ns_alloc(K * V, sizeof(float));
    if (!sf || !tmp) {
        free(sf), free(tmp);
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < K * K; i++)
        sf[i] = (float)s[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)K, (int)V, (int)K, 1.0f, sf,
                (int)K, xc, (int)V, 0.0f, tmp, (int)V);
    memcpy(xc, tmp, K * V * sizeof(float));
    free(sf), free(tmp);
    return NS_OK;
}

void ns_ica_row_skew(const ns_matrix *s, double *skew)
{
    for (size_t i = 0; i < s->rows; i++) {
        const float *r = s->data + i * s->stride;
        double m = 0, m2 = 0, m3 = 0, n = (double)s->cols;
        for (size_t v = 0; v < s->cols; v++)
            m += r[v];
        m /= n;
        for (size_t v = 0; v < s->cols; v++) {
            double d = r[v] - m;
            m2 += d * d;
            m3 += d * d * d;
        }
        m2 /= n, m3 /= n;
        skew[i] = m2 > 0 ? m3 / pow(m2, 1.5) : 0;
    }
}

ns_status ns_ica_sources(const ns_matrix *z, const double *w, size_t k, ns_matrix **s)
{
    *s = ns_matrix_create(k, z->cols);
    float *wf = ns_alloc(k * z->rows, sizeof(float));
    if (!*s || !wf) {
        ns_matrix_free(*s), free(wf);
        *s = NULL;
        return NS_ERR_NOMEM;
    }
    for (size_t i = 0; i < k * z->rows; i++)
        wf[i] = (float)w[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)k, (int)z->cols, (int)z->rows,
                1.0f, wf, (int)z->rows, z->data, (int)z->stride, 0.0f, (*s)->data,
                (int)(*s)->stride);
    free(wf);
    return NS_OK;
}

typedef struct {
    double key;
    size_t idx;
} sort_item;

static int by_key_desc(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Positive skew, then order by back-projected variance |a_j|^2 var(s_j)
 * (runica's ordering). FastICA's unmixing of whitened data is orthogonal,
 * which makes those variances all equal (to rounding): its components go by
 * decreasing |skewness| instead, so that the order is not rounding noise. */
static ns_status canonicalise(const ns_matrix *z, double *w, size_t K, ns_ica_algorithm alg)
{
    ns_matrix *s = NULL;
    double *a = ns_alloc(K * K, sizeof(double)), *skew = ns_alloc(K, sizeof(double));
    double *wc = ns_alloc(K * K, sizeof(double));
    sort_item *it = ns_alloc(K, sizeof(sort_item));
    ns_status st = (a && skew && wc && it) ? ns_ica_sources(z, w, K, &s) : NS_ERR_NOMEM;
    if (st == NS_OK)
        st = ns_ica_pinv(w, K, K, a);
    if (st == NS_OK) {
        ns_ica_row_skew(s, skew);
        for (size_t j = 0; j < K; j++) {
            const float *r = s->data + j * s->stride;
            double ss = 0, an = 0, m = 0;
            for (size_t v = 0; v < s->cols; v++)
                m += r[v];
            m /= (double)s->cols;
            for (size_t v = 0; v < s->cols; v++)
                ss += (r[v] - m) * (r[v] - m);
            for (size_t i = 0; i < K; i++)
                an += a[i * K + j] * a[i * K + j];
            it[j] = (sort_item){alg == NS_ICA_FASTICA ? fabs(skew[j]) : an * ss, j};
        }
        qsort(it, K, sizeof *it, by_key_desc);
        for (size_t j = 0; j < K; j++) {
            size_t src = it[j].idx;
            double sg = skew[src] < 0 ? -1.0 : 1.0;
            for (size_t c = 0; c < K; c++)
                wc[j * K + c] = sg * w[src * K + c];
        }
        memcpy(w, wc, K * K * sizeof(double));
    }
    ns_matrix_free(s);
    free(a), free(skew), free(wc), free(it);
    return st;
}

/* Infomax: runica's sphering S = 2 C^-1/2; FastICA: plain whitening C^-1/2. */
ns_status ns_ica_unmix(const ns_matrix *z, const ns_ica_opts *o, double *w, ns_ica_info *info)
{
    size_t K = z->rows, V = z->cols;
    if (K < 1 || V <= K)
        return ns_error(NS_ERR_ARG, "ICA of %zu rows needs more than %zu columns (got %zu)", K, K,
                        V);
    ns_ica_info dummy;
    if (!info)
        info = &dummy;
    float *xc = ns_alloc(K * V, sizeof(float));
    double *cov = ns_alloc(K * K, sizeof(double)), *sph = ns_alloc(K * K, sizeof(double));
    double *wi = ns_alloc(K * K, sizeof(double));
    ns_rng *rng = ns_rng_create(o->seed);
    /* One BLAS thread, whatever o->nthreads and the caller's setting:
     * FastICA runs its own threads over fixed blocks, and the steps around
     * it then round the same whatever the thread count (OpenBLAS on more
     * threads rounds differently). */
    int old = ns_blas_threads(1);
    ns_status st = (xc && cov && sph && wi && rng) ? center_cov(z, xc, cov) : NS_ERR_NOMEM;
    double scale = o->algorithm == NS_ICA_INFOMAX ? 2.0 : 1.0;
    if (st == NS_OK)
        st = ns_ica_inv_sqrt(cov, K, scale, sph);
    if (st == NS_OK)
        st = apply_left(xc, K, V, sph);
    if (st == NS_OK)
        st = o->algorithm == NS_ICA_FASTICA ? ns_ica_fastica(xc, K, V, o, rng, wi, info)
                                            : ns_ica_infomax(xc, K, V, o, rng, wi, info);
    if (st == NS_OK) {
        ns_ica_dgemm(wi, sph, w, K, K, K);
        st = canonicalise(z, w, K, o->algorithm);
    }
    ns_blas_threads(old);
    free(xc), free(cov), free(sph), free(wi);
    ns_rng_free(rng);
    return st;
}
