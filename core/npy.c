/* NPY arrays (numpy's format, versions 1-3) and the ns_array type. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

size_t ns_dtype_size(ns_dtype d)
{
    switch (d) {
    case NS_DT_F32: case NS_DT_I32: return 4;
    case NS_DT_F64: case NS_DT_I64: return 8;
    case NS_DT_U8: case NS_DT_BOOL: return 1;
    }
    return 0;
}

static const char *dtype_descr(ns_dtype d)
{
    switch (d) {
    case NS_DT_F32: return "<f4";
    case NS_DT_F64: return "<f8";
    case NS_DT_I32: return "<i4";
    case NS_DT_I64: return "<i8";
    case NS_DT_U8: return "|u1";
    case NS_DT_BOOL: return "|b1";
    }
    return "";
}

size_t ns_array_count(const ns_array *a)
{
    size_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

ns_array *ns_array_create(ns_dtype dtype, int ndim, const size_t *shape)
{
    if (ndim < 0 || ndim > NS_ARRAY_MAXDIM) {
        ns_error(NS_ERR_ARG, "array with %d dimensions (at most %d)", ndim, NS_ARRAY_MAXDIM);
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!ns_mul_size(n, shape[i], &n)) {
            ns_error(NS_ERR_NOMEM, "array shape overflows");
            return NULL;
        }
    ns_array *a = calloc(1, sizeof *a);
    if (!a) {
        ns_error(NS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    a->dtype = dtype;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        a->shape[i] = shape[i];
    a->data = ns_calloc(n ? n : 1, ns_dtype_size(dtype));
    if (!a->data) {
        free(a);
        return NULL;
    }
    return a;
}

void ns_array_free(ns_array *a)
{
    if (!a)
        return;
    free(a->data);
    free(a);
}

ns_array *ns_array_from_f32(const float *data, int ndim, const size_t *shape)
{
    ns_array *a = ns_array_create(NS_DT_F32, ndim, shape);
    if (a)
        memcpy(a->data, data, ns_array_count(a) * sizeof(float));
    return a;
}

ns_array *ns_array_from_f64(const double *data, int ndim, const size_t *shape)
{
    ns_array *a = ns_array_create(NS_DT_F64, ndim, shape);
    if (a)
        memcpy(a->data, data, ns_array_count(a) * sizeof(double));
    return a;
}

static double element_f64(const ns_array *a, size_t i)
{
    switch (a->dtype) {
    case NS_DT_F32: return ((const float *)a->data)[i];
    case NS_DT_F64: return ((const double *)a->data)[i];
    case NS_DT_I32: return ((const int32_t *)a->data)[i];
    case NS_DT_I64: return (double)((const int64_t *)a->data)[i];
    case NS_DT_U8: case NS_DT_BOOL: return ((const uint8_t *)a->data)[i];
    }
    return 0;
}

ns_status ns_array_to_f64(const ns_array *a, double **out)
{
    size_t n = ns_array_count(a);
    double *d = ns_alloc(n ? n : 1, sizeof(double));
    if (!d)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = element_f64(a, i);
    *out = d;
    return NS_OK;
}

ns_status ns_array_to_f32(const ns_array *a, float **out)
{
    size_t n = ns_array_count(a);
    float *d = ns_alloc(n ? n : 1, sizeof(float));
    if (!d)
        return NS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        d[i] = (float)element_f64(a, i);
    *out = d;
    return NS_OK;
}

/* ------------------------------------------------------------- parsing */

typedef struct {
    ns_dtype dtype;
    size_t src_size; /* element size in the file */
    char kind;       /* f, i, u, b */
    int swap, fortran, ndim;
    size_t shape[NS_ARRAY_MAXDIM];
} npy_header;

static int parse_descr(const char *d, npy_header *h)
{
    char order = d[0];
    char kind = d[1];
    int size = atoi(d + 2);
    h->swap = (order == '>' && size > 1);
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return -1;
    h->kind = kind;
    h->src_size = (size_t)size;
    if (kind == 'f' && size == 4) h->dtype = NS_DT_F32;
    else if (kind == 'f' && size == 8) h->dtype = NS_DT_F64;
    else if ((kind == 'i' && size <= 4) || (kind == 'u' && size == 2)) h->dtype = NS_DT_I32;
    else if ((kind == 'i' && size == 8) || (kind == 'u' && (size == 4 || size == 8))) h->dtype = NS_DT_I64;
    else if (kind == 'u' && size == 1) h->dtype = NS_DT_U8;
    else if (kind == 'b' && size == 1) h->dtype = NS_DT_BOOL;
    else return -1;
    return (size == 1 || size == 2 || size == 4 || size == 8) ? 0 : -1;
}

static int parse_shape(const char *p, npy_header *h)
{
    while (*p == ' ')
        p++;
    if (*p++ != '(')
        return -1;
    h->ndim = 0;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            return 0;
        /* digits only: strtoull would also take "-2" and wrap it around */
        if (*p < '0' || *p > '9' || h->ndim == NS_ARRAY_MAXDIM)
            return -1;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        h->shape[h->ndim++] = (size_t)v;
        p = end;
    }
}

static int parse_dict(const char *dict, npy_header *h)
{
    const char *d = strstr(dict, "'descr'");
    const char *f = strstr(dict, "'fortran_order'");
    const char *s = strstr(dict, "'shape'");
    if (!d || !f || !s)
        return -1;
    d = strchr(d + 7, '\'');
    if (!d)
        return -1;
    char descr[16] = {0};
    const char *q = strchr(d + 1, '\'');
    if (!q || q - d - 1 >= (long)sizeof descr || q - d - 1 < 3)
        return -1;
    memcpy(descr, d + 1, (size_t)(q - d - 1));
    if (parse_descr(descr, h))
        return -1;
    f = strchr(f + 15, ':');
    s = strchr(s + 7, ':');
    if (!f || !s)
        return -1;
    while (*++f == ' ')
        ;
    h->fortran = !strncmp(f, "True", 4);
    return parse_shape(s + 1, h);
}

static uint64_t load_uint(const unsigned char *p, size_t size, int swap)
{
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++)
        v |= (uint64_t)p[swap ? k : size - 1 - k] << (8 * (size - 1 - k));
    return v;
}

/* Converts one element from its file representation to h->dtype at dst. */
static void convert_element(const unsigned char *src, const npy_header *h, unsigned char *dst)
{
    uint64_t bits = load_uint(src, h->src_size, h->swap);
    if (h->kind == 'f' || h->src_size == ns_dtype_size(h->dtype)) {
        memcpy(dst, &bits, ns_dtype_size(h->dtype)); /* little-endian host */
        return;
    }
    int64_t v;
    if (h->kind == 'i') /* sign-extend */
        v = (int64_t)(bits << (64 - 8 * h->src_size)) >> (64 - 8 * h->src_size);
    else
        v = (int64_t)bits;
    if (h->dtype == NS_DT_I32) {
        int32_t w = (int32_t)v;
        memcpy(dst, &w, 4);
    } else {
        memcpy(dst, &v, 8);
    }
}

/* Index in C order of the element at Fortran-order position i. */
static size_t fortran_to_c(size_t i, const npy_header *h)
{
    size_t c = 0, stride = 1, idx[NS_ARRAY_MAXDIM];
    for (int k = 0; k < h->ndim; k++) {
        idx[k] = i % h->shape[k];
        i /= h->shape[k];
    }
    for (int k = h->ndim - 1; k >= 0; k--) {
        c += idx[k] * stride;
        stride *= h->shape[k];
    }
    return c;
}

static ns_status fill_array(const unsigned char *data, size_t avail, const npy_header *h,
                            const char *name, ns_array **out)
{
    /* The shape must fit in the bytes present before anything is allocated:
     * a corrupt header must not ask for terabytes. */
    size_t n = 1, need = 0;
    int ok = 1;
    for (int k = 0; k < h->ndim && ok; k++)
        ok = ns_mul_size(n, h->shape[k], &n);
    if (!ok || !ns_mul_size(n, h->src_size, &need) || need > avail)
        return ns_error(NS_ERR_FORMAT, "truncated NPY data: shape needs more than the %zu bytes present (%s)",
                        avail, name);
    ns_array *a = ns_array_create(h->dtype, h->ndim, h->shape);
    if (!a)
        return ns_error_prefix(NS_ERR_NOMEM, "cannot hold array (%s)", name);
    size_t es = ns_dtype_size(h->dtype);
    unsigned char *dst = a->data;
    for (size_t i = 0; i < n; i++) {
        size_t j = h->fortran ? fortran_to_c(i, h) : i;
        convert_element(data + i * h->src_size, h, dst + j * es);
    }
    *out = a;
    return NS_OK;
}

ns_status ns_npy_parse(const void *buf, size_t len, const char *name, ns_array **out)
{
    const unsigned char *b = buf;
    *out = NULL;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return ns_error(NS_ERR_FORMAT, "not an NPY array: bad magic (%s)", name);
    int major = b[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        off = 10;
    } else if ((major == 2 || major == 3) && len >= 12) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        off = 12;
    } else {
        return ns_error(NS_ERR_FORMAT, "unsupported NPY version %d (%s)", major, name);
    }
    if (hlen > len - off)
        return ns_error(NS_ERR_FORMAT, "truncated NPY header (%s)", name);
    char *dict = malloc(hlen + 1);
    if (!dict)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", name);
    memcpy(dict, b + off, hlen);
    dict[hlen] = '\0';
    npy_header h = {0};
    int bad = parse_dict(dict, &h);
    free(dict);
    if (bad)
        return ns_error(NS_ERR_FORMAT, "unsupported or malformed NPY header (dtype, shape) (%s)", name);
    return fill_array(b + off + hlen, len - off - hlen, &h, name, out);
}

ns_status ns_npy_read(const char *path, ns_array **out)
{
    char *buf;
    size_t len;
    ns_status s = ns_read_file(path, &buf, &len);
    if (s)
        return s;
    s = ns_npy_parse(buf, len, path, out);
    free(buf);
    return s;
}

ns_status ns_npy_serialise(const ns_array *a, void **buf, size_t *len)
{
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype_descr(a->dtype));
    for (int i = 0; i < a->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%zu%s", a->shape[i],
                      (a->ndim == 1 || i + 1 < a->ndim) ? ", " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t header = 10 + (size_t)n + 1;
    size_t pad = (64 - header % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    size_t data_bytes = ns_array_count(a) * ns_dtype_size(a->dtype);
    unsigned char *b = ns_alloc(10 + hlen + data_bytes, 1);
    if (!b)
        return NS_ERR_NOMEM;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8);
    memcpy(b + 10, dict, (size_t)n);
    memset(b + 10 + n, ' ', pad);
    b[10 + hlen - 1] = '\n';
    memcpy(b + 10 + hlen, a->data, data_bytes);
    *buf = b;
    *len = 10 + hlen + data_bytes;
    return NS_OK;
}

ns_status ns_npy_write(const ns_array *a, const char *path)
{
    void *buf;
    size_t len;
    ns_status s = ns_npy_serialise(a, &buf, &len);
    if (s)
        return ns_error_prefix(s, "cannot write (%s)", path);
    ns_afile *f;
    s = ns_afile_open(path, &f);
    if (!s) {
        fwrite(buf, 1, len, ns_afile_stream(f));
        s = ns_afile_commit(f);
    }
    free(buf);
    return s;
}
