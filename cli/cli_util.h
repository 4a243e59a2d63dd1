/* Helpers shared by the subcommands: error reporting and option parsing.
 * Only cli/ prints errors and decides exit codes:
 *   0 success, 1 failure, 2 usage error. */
#ifndef NS_CLI_UTIL_H
#define NS_CLI_UTIL_H

#include <stdint.h>

#include "core/core.h"

#define NS_EXIT_OK 0
#define NS_EXIT_FAIL 1
#define NS_EXIT_USAGE 2

/* Prints "neurospectra: error: <ns_last_error()>" and returns NS_EXIT_FAIL. */
int ns_cli_fail(void);
/* Prints "neurospectra: error: <formatted>" and returns NS_EXIT_FAIL. */
int ns_cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "neurospectra <cmd>: <formatted>" + a hint to --help; returns 2. */
int ns_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses integers/doubles/seeds from option arguments; 0 on success. */
int ns_cli_parse_long(const char *s, long lo, long hi, long *out);
int ns_cli_parse_double(const char *s, double *out);
int ns_cli_parse_seed(const char *s, uint64_t *out);
/* Parses "25,50,100" into a newly allocated array of n ints (> 0). */
int ns_cli_parse_int_list(const char *s, int **out, int *n);

/* Handles --quiet / --verbose given to any command (sets the log level). */
void ns_cli_set_verbosity(int quiet, int verbose);

#endif
