/* Levelled, timestamped logging to stderr. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "core/core.h"

static ns_log_level current_level = NS_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void ns_log_set_level(ns_log_level level) { current_level = level; }
ns_log_level ns_log_get_level(void) { return current_level; }

/* Each line goes out in one write: lines of processes sharing stderr (MPI
 * ranks under mpirun) interleave whole, never inside a line. */
void ns_log(ns_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > current_level)
        return;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char line[4096]; /* PIPE_BUF: one atomic write to a pipe */
    int n = snprintf(line, sizeof line, "[%02d:%02d:%02d] %s: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) /* cut long messages */
        len = sizeof line - 2;
    line[len++] = '\n';
    pthread_mutex_lock(&log_lock);
    fwrite(line, 1, len, stderr);
    pthread_mutex_unlock(&log_lock);
}
