/* The neurospectra command: dispatches to cli/cmd_<name>.c, or to the
 * BIDS-Apps form `neurospectra BIDS_DIR OUTPUT_DIR participant|group`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli_util.h"

#define NS_COMMAND(n)                       \
    int ns_cmd_##n(int argc, char **argv); \
    extern const char ns_cmd_##n##_summary[];
#include "commands.inc"
#undef NS_COMMAND

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} ns_command;

static const ns_command commands[] = {
#define NS_COMMAND(n) {#n, ns_cmd_##n, ns_cmd_##n##_summary},
#include "commands.inc"
#undef NS_COMMAND
};
static const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

/* "rank-bounds" matches the table entry "rank_bounds". */
static int name_matches(const char *table, const char *arg)
{
    for (; *table && *arg; table++, arg++) {
        char a = *arg == '-' ? '_' : *arg;
        if (a != *table)
            return 0;
    }
    return *table == *arg;
}

static const ns_command *find_command(const char *arg)
{
    for (size_t i = 0; i < ncommands; i++)
        if (name_matches(commands[i].name, arg))
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "neurospectra %s: group ICA, FNC and gradient spectra for resting-state fMRI\n\n"
            "usage: neurospectra <command> [options]   (neurospectra <command> --help)\n"
            "       neurospectra BIDS_DIR OUTPUT_DIR participant|group [options]\n\n"
            "commands:\n",
            NS_VERSION);
    for (size_t i = 0; i < ncommands; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s", commands[i].name);
        for (char *p = name; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-12s %s\n", name, commands[i].summary);
    }
}

static int is_bids_form(int argc, char **argv)
{
    return argc >= 4 && (!strcmp(argv[3], "participant") || !strcmp(argv[3], "group"));
}

/* OpenBLAS (pthreads build) starts a server thread per core when it loads;
 * each allocates a 128 MiB buffer and retries forever if that fails, and
 * exit() waits for them: under `ulimit -v` the program would hang. With an
 * address-space limit and no explicit thread count, restart once with one
 * BLAS thread. */
static void blas_threads_under_rlimit(char **argv)
{
    struct rlimit r;
    if (getenv("OPENBLAS_NUM_THREADS") || getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
        return;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    blas_threads_under_rlimit(argv);
    ns_init();
    /* A file-size limit must fail the write (EFBIG, reported and cleaned up
     * like a full disk), not kill the process mid-file. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        print_usage(stderr);
        return NS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(stdout);
        return NS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("neurospectra %s\n", NS_VERSION);
        return NS_EXIT_OK;
    }
    const ns_command *cmd = find_command(argv[1]);
    if (cmd)
        return cmd->run(argc - 1, argv + 1);
    if (is_bids_form(argc, argv)) {
        const ns_command *bids = find_command("bids");
        if (bids)
            return bids->run(argc, argv);
        return ns_cli_failf("the BIDS-Apps form is not available in this build");
    }
    fprintf(stderr, "neurospectra: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return NS_EXIT_USAGE;
}
