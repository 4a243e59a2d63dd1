/* Loads each file with ns_volume_load and prints the total wall time in
 * seconds (one line), so that bench_nifti_load.sh can time our fast path
 * and our zlib path inside one process, excluding process start-up.
 * usage: bench_nifti_load [--zlib] [--repeat R] FILE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nifti_io/nifti_io.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    ns_init();
    ns_load_opts opts = {0};
    opts.no_sidecar = 1;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--zlib"))
            opts.zlib_only = 1;
        else if (!strcmp(argv[first], "--first-volume"))
            opts.first_volume_only = 1;
        else
            return fprintf(stderr, "unknown option %s\n", argv[first]), 2;
    }
    double t0 = now(), checksum = 0;
    for (int i = first; i < argc; i++) {
        ns_volume *v = NULL;
        if (ns_volume_load(argv[i], &opts, &v) != NS_OK)
            return fprintf(stderr, "bench_nifti_load: %s\n", ns_last_error()), 1;
        checksum += v->data[v->nvox * v->nvol / 2]; /* keep the load observable */
        ns_volume_free(v);
    }
    printf("%.6f %g\n", now() - t0, checksum);
    return 0;
}
