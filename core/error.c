/* Status codes and the per-thread error message. */
#include <gsl/gsl_errno.h>
#include <nifti2_io.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define NS_MSG_MAX 1024
static _Thread_local char last_msg[NS_MSG_MAX];

const char *ns_status_string(ns_status s)
{
    switch (s) {
    case NS_OK: return "ok";
    case NS_ERR_IO: return "i/o error";
    case NS_ERR_FORMAT: return "format error";
    case NS_ERR_NOMEM: return "out of memory";
    case NS_ERR_ARG: return "invalid argument";
    case NS_ERR_DATA: return "data error";
    case NS_ERR_NUMERIC: return "numerical error";
    case NS_ERR_UNSUPPORTED: return "unsupported";
    case NS_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

ns_status ns_error(ns_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    return code;
}

/* The formatted context into ctx and the current message into old, for
 * the two calls that rewrite the message around it. */
static void take_context(char *ctx, char *old, const char *fmt, va_list ap)
{
    vsnprintf(ctx, NS_MSG_MAX, fmt, ap);
    memcpy(old, last_msg, NS_MSG_MAX);
}

ns_status ns_error_prefix(ns_status code, const char *fmt, ...)
{
    char ctx[NS_MSG_MAX], old[NS_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    take_context(ctx, old, fmt, ap);
    va_end(ap);
    snprintf(last_msg, sizeof last_msg, "%s: %s", ctx, old);
    return code;
}

ns_status ns_error_within(ns_status code, const char *fmt, ...)
{
    char ctx[NS_MSG_MAX], old[NS_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    take_context(ctx, old, fmt, ap);
    va_end(ap);
    size_t n = strlen(old);
    const char *open = n && old[n - 1] == ')' ? strrchr(old, '(') : NULL;
    if (!open)
        snprintf(last_msg, sizeof last_msg, "%s (%s)", old, ctx);
    else
        snprintf(last_msg, sizeof last_msg, "%.*s(%s, %s", (int)(open - old), old, ctx, open + 1);
    return code;
}

const char *ns_last_error(void) { return last_msg; }

void ns_clear_error(void) { last_msg[0] = '\0'; }

void ns_init(void)
{
    gsl_set_error_handler_off();
    nifti_set_debug_level(0);
}

/* OpenBLAS exports openblas_get_config; if cblas_* resolved elsewhere (GSL's
 * reference cblas), the tests in tests/test_core.c catch it. */
char *openblas_get_config(void);
const char *ns_blas_config(void) { return openblas_get_config(); }
