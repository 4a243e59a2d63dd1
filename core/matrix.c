/* float32 matrices, views and checked allocation. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/core.h"

int ns_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void ns_block_range(size_t n, size_t part, size_t parts, size_t *lo, size_t *hi)
{
    *lo = parts ? n * part / parts : 0;
    *hi = parts ? n * (part + 1) / parts : n;
}

void *ns_alloc(size_t n, size_t size)
{
    size_t bytes;
    if (!ns_mul_size(n, size, &bytes)) {
        ns_error(NS_ERR_NOMEM, "allocation size overflows (%zu x %zu bytes)", n, size);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        ns_error(NS_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *ns_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (!ns_mul_size(n, size, &bytes)) {
        ns_error(NS_ERR_NOMEM, "allocation size overflows (%zu x %zu bytes)", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        ns_error(NS_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void ns_advise_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + len) & ~(huge - 1);
    if (len >= 4 * huge && e > a)
        madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

ns_matrix *ns_matrix_create(size_t rows, size_t cols)
{
    size_t n;
    if (!ns_mul_size(rows, cols, &n)) {
        ns_error(NS_ERR_NOMEM, "matrix %zu x %zu is too large", rows, cols);
        return NULL;
    }
    ns_matrix *m = malloc(sizeof *m);
    float *data = ns_calloc(n, sizeof(float));
    if (!m || !data) {
        free(m);
        free(data);
        return NULL;
    }
    ns_advise_huge(data, n * sizeof(float));
    *m = (ns_matrix){.data = data, .rows = rows, .cols = cols, .stride = cols, .owner = 1};
    return m;
}

void ns_matrix_free(ns_matrix *m)
{
    if (!m)
        return;
    if (m->owner)
        free(m->data);
    free(m);
}

ns_matrix ns_matrix_view(float *data, size_t rows, size_t cols, size_t stride)
{
    return (ns_matrix){.data = data, .rows = rows, .cols = cols, .stride = stride, .owner = 0};
}

ns_matrix ns_matrix_rows(const ns_matrix *m, size_t r0, size_t n)
{
    return ns_matrix_view(m->data + r0 * m->stride, n, m->cols, m->stride);
}

ns_matrix *ns_matrix_copy(const ns_matrix *m)
{
    ns_matrix *c = ns_matrix_create(m->rows, m->cols);
    if (!c)
        return NULL;
    for (size_t i = 0; i < m->rows; i++)
        memcpy(c->data + i * c->stride, m->data + i * m->stride, m->cols * sizeof(float));
    return c;
}

/* OpenBLAS's own (pthreads build; not in its headers): joins the pool's
 * threads, which the next parallel call starts again. Weak: absent from
 * another BLAS, then not called. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

int ns_blas_threads(int n)
{
    int old = openblas_get_num_threads();
    n = n < 1 ? 1 : n;
    if (old == n)
        return old;
    openblas_set_num_threads(n);
    /* The pool's threads spin (sched_yield) for ~0.1 s after they start and
     * after every parallel call: on the cores the caller's own threads are
     * about to use. At one thread the pool has nothing to do. */
    if (n == 1 && blas_thread_shutdown_)
        blas_thread_shutdown_();
    return old;
}
