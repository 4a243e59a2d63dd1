/* A growing string for building pages and SVG. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

void ns_strbuf_init(ns_strbuf *b) { *b = (ns_strbuf){0}; }

static int reserve(ns_strbuf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    b->data = d;
    b->cap = cap;
    return 1;
}

void ns_strbuf_append(ns_strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void ns_strbuf_appendf(ns_strbuf *b, const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n >= 0 && reserve(b, (size_t)n)) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
    }
    va_end(ap);
}

void ns_strbuf_append_escaped(ns_strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': ns_strbuf_append(b, "&amp;"); break;
        case '<': ns_strbuf_append(b, "&lt;"); break;
        case '>': ns_strbuf_append(b, "&gt;"); break;
        case '"': ns_strbuf_append(b, "&quot;"); break;
        default: {
            char c[2] = {*s, 0};
            ns_strbuf_append(b, c);
        }
        }
    }
}

char *ns_strbuf_take(ns_strbuf *b)
{
    char *s = b->failed ? NULL : b->data;
    if (b->failed)
        free(b->data);
    if (s == NULL && !b->failed)
        s = strdup("");
    *b = (ns_strbuf){0};
    return s;
}

void ns_strbuf_free(ns_strbuf *b)
{
    free(b->data);
    *b = (ns_strbuf){0};
}
