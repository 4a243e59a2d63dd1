/* Shared by the libFuzzer harnesses: the readers under test take a path, so
 * each input is written to a file in a private scratch directory (on /dev/shm
 * when present: no disk I/O per input). */
#ifndef NS_FUZZ_UTIL_H
#define NS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* A scratch directory removed at exit. */
static char ns_fuzz_dir[256];

static inline void ns_fuzz_cleanup(void)
{
    char cmd[300];
    if (ns_fuzz_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ns_fuzz_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz: cannot remove %s\n", ns_fuzz_dir);
    }
}

static inline const char *ns_fuzz_scratch(void)
{
    if (!ns_fuzz_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(ns_fuzz_dir, sizeof ns_fuzz_dir, "%s/ns_fuzz_XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(ns_fuzz_dir))
            abort();
        atexit(ns_fuzz_cleanup);
        ns_init();
        ns_log_set_level(NS_LOG_ERROR); /* warnings (TR mismatch, ...) are not findings */
    }
    return ns_fuzz_dir;
}

/* Writes data to <scratch>/<name> and returns the path (static buffer). */
static inline const char *ns_fuzz_write(const char *name, const void *data, size_t size)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", ns_fuzz_scratch(), name);
    FILE *fp = fopen(path, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0)
        abort(); /* the harness's own failure, not a finding */
    return path;
}

/* A failed read must leave a message: the CLI prints it as the one line. */
static inline void ns_fuzz_check_message(ns_status s)
{
    if (s != NS_OK && ns_last_error()[0] == '\0') {
        fprintf(stderr, "fuzz: status %d (%s) without an error message\n", (int)s, ns_status_string(s));
        abort();
    }
}

#endif
