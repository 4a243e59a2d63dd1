/* Progress on stderr: a redrawn bar with ETA on a terminal, a timestamped
 * line at most every 5 s otherwise. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

struct ns_progress {
    char label[64];
    size_t total, done;
    int tty, enabled;
    double start, last_print;
    pthread_mutex_t lock;
};

double ns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ns_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ns_progress *ns_progress_create(const char *label, size_t total)
{
    ns_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->tty = isatty(STDERR_FILENO);
    p->enabled = ns_log_get_level() >= NS_LOG_INFO;
    p->start = p->last_print = ns_now();
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void format_eta(double seconds, char *buf, size_t len)
{
    long s = (long)(seconds + 0.5);
    snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

static void print_state(ns_progress *p, double t, int final)
{
    double elapsed = t - p->start;
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    char eta[32] = "?";
    if (p->done > 0)
        format_eta(elapsed * (1.0 - frac) / frac, eta, sizeof eta);
    if (p->tty) {
        int width = 30, filled = (int)(frac * width);
        char bar[31];
        memset(bar, '#', (size_t)filled);
        memset(bar + filled, '-', (size_t)(width - filled));
        bar[width] = '\0';
        fprintf(stderr, "\r%s [%s] %zu/%zu ETA %s%s", p->label, bar, p->done, p->total, eta,
                final ? "\n" : "");
    } else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        fprintf(stderr, "[%02d:%02d:%02d] %s: %zu/%zu (%.0f%%), ETA %s\n", tm.tm_hour, tm.tm_min,
                tm.tm_sec, p->label, p->done, p->total, 100.0 * frac, eta);
    }
}

void ns_progress_update(ns_progress *p, size_t done)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->done = done > p->total ? p->total : done;
    double t = ns_now();
    double every = p->tty ? 0.1 : 5.0;
    if (p->enabled && t - p->last_print >= every) {
        print_state(p, t, 0);
        p->last_print = t;
    }
    pthread_mutex_unlock(&p->lock);
}

void ns_progress_free(ns_progress *p)
{
    if (!p)
        return;
    if (p->enabled)
        print_state(p, ns_now(), 1);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
