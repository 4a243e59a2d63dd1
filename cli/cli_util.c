#include "cli_util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ns_cli_fail(void)
{
    const char *msg = ns_last_error();
    fprintf(stderr, "neurospectra: error: %s\n", msg[0] ? msg : "unknown failure");
    return NS_EXIT_FAIL;
}

/* The line in one write (one fprintf on unbuffered stderr), as ns_log: the
 * lines of MPI ranks sharing stderr interleave whole. */
int ns_cli_failf(const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "neurospectra: error: %s\n", msg);
    return NS_EXIT_FAIL;
}

int ns_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "neurospectra %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'neurospectra %s --help'.\n", cmd);
    va_end(ap);
    return NS_EXIT_USAGE;
}

int ns_cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int ns_cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v != v)
        return -1;
    *out = v;
    return 0;
}

int ns_cli_parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int ns_cli_parse_int_list(const char *s, int **out, int *n)
{
    int cap = 8, count = 0;
    int *v = malloc(sizeof(int) * (size_t)cap);
    const char *p = s;
    if (!v)
        return -1;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x <= 0 || x > INT_MAX || (*end && *end != ',')) {
            free(v);
            return -1;
        }
        if (count == cap) {
            int *nv = realloc(v, sizeof(int) * (size_t)(cap *= 2));
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        v[count++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (count == 0) {
        free(v);
        return -1;
    }
    *out = v;
    *n = count;
    return 0;
}

void ns_cli_set_verbosity(int quiet, int verbose)
{
    if (quiet)
        ns_log_set_level(NS_LOG_WARN);
    else if (verbose)
        ns_log_set_level(NS_LOG_DEBUG);
}
