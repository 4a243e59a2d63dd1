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

void ns_log(ns_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > current_level)
        return;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "[%02d:%02d:%02d] %s: ", tm.tm_hour, tm.tm_min, tm.tm_sec, names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
    va_end(ap);
}
