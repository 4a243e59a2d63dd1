/* Spectra overhead, measured in one run (compiled by bench_spectra.sh).
 * Times are process CPU seconds (OpenBLAS single-threaded, so CPU time is
 * the work done and does not depend on what else runs on the machine);
 * wall-clock ratios are printed beside them.
 *  1. training the MLP 1378 -> 256 -> 64 -> 2 (batch 32, Adam) with and
 *     without the spectra tracker on the layer tap at every step (2 groups:
 *     all + 2 groups, top-10 values, TSV streamed), in interleaved pairs of
 *     short runs; the ratio is the median of the pairs' ratios;
 *  2. the singular values of one layer gradient (fc0: 32 x 1378 activations,
 *     32 x 256 deltas; and a 16-row group) by the thin-QR route against
 *     forming G and a full SVD (LAPACK gesdd).
 * usage: bench_spectra OUTDIR [epochs per run (10 steps each)] [pairs] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spectra/spectra.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

#define CHECK(x)                                                                     \
    do {                                                                             \
        if ((x) != NS_OK) {                                                          \
            fprintf(stderr, "bench_spectra: %s: %s\n", #x, ns_last_error());         \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Seconds to train `epochs` epochs from the same initial weights; with
 * spectra when dir != NULL (tracker finish timed separately into *fin). */
static double train(const float *X, const int32_t *y, const int *grp, size_t n, int epochs,
                    const char *dir, double *fin, double *wall_s)
{
    ns_nn_config cfg;
    ns_nn_config_default(&cfg);
    CHECK(ns_nn_spec_parse("mlp:256,64", &cfg));
    cfg.epochs = epochs;
    cfg.batch = 32;
    cfg.opt = NS_NN_ADAM;
    cfg.shuffle = 1;
    size_t shape[1] = {1378};
    ns_nn *m = NULL;
    CHECK(ns_nn_create(&cfg, 1, shape, 2, &m));
    ns_spectra_tracker *t = NULL;
    int sub = -1;
    const char *names[2] = {"HC", "SZ"};
    double t0 = now(), w0 = wall();
    if (dir) {
        ns_spectra_opts o;
        ns_spectra_opts_default(&o);
        o.nperm = 199;
        CHECK(ns_spectra_tracker_create(dir, &o, names, 2, &t));
        CHECK(ns_spectra_tracker_begin_fold(t, 0, grp, NULL, n));
        CHECK(ns_spectra_attach(t, m, &sub));
    }
    CHECK(ns_nn_fit(m, X, y, n, NULL, NULL, 0));
    double el = now() - t0;
    *wall_s = wall() - w0;
    if (t) {
        ns_spectra_detach(m, sub);
        double t1 = now();
        CHECK(ns_spectra_tracker_finish(t));
        *fin = now() - t1;
        ns_spectra_tracker_free(t);
    }
    ns_nn_free(m);
    return el;
}

/* Median seconds of one ns_spectra_grad_sv call on rows of (A, D). */
static double time_sv(ns_spectra_ws *ws, const ns_matrix *A, const ns_matrix *D, const int *rg,
                      int group, ns_spectra_method method, int reps, double *sv1)
{
    double t[64], *sv = malloc(A->cols * sizeof *sv);
    ns_spectra_stats st;
    CHECK(ns_spectra_grad_sv(ws, A, D, rg, group, method, sv, &st)); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        CHECK(ns_spectra_grad_sv(ws, A, D, rg, group, method, sv, &st));
        t[r] = now() - t0;
    }
    *sv1 = sv[0];
    free(sv);
    return median(t, reps);
}

static void bench_routes(int reps)
{
    ns_rng *r = ns_rng_create(1);
    ns_matrix *A = ns_matrix_create(32, 1378), *D = ns_matrix_create(32, 256);
    int rg[32];
    for (size_t i = 0; i < 32 * 1378; i++)
        A->data[i] = (float)ns_rng_normal(r);
    for (size_t i = 0; i < 32 * 256; i++)
        D->data[i] = (float)ns_rng_normal(r) / 32;
    for (int i = 0; i < 32; i++)
        rg[i] = i % 2;
    printf("\n%-44s %10s %10s %9s %6s\n", "fc0 gradient 256 x 1378 singular values", "QR (ms)",
           "full (ms)", "speedup", "goal");
    for (int prec = 0; prec < 2; prec++)
        for (int g = -1; g <= 0; g++) {
            ns_spectra_ws *ws = ns_spectra_ws_create(32, 1378, 256, prec);
            double s1, s2;
            double q = time_sv(ws, A, D, rg, g, NS_SPECTRA_QR, reps, &s1);
            double f = time_sv(ws, A, D, rg, g, NS_SPECTRA_FULL, reps, &s2);
            char label[64];
            snprintf(label, sizeof label, "%s, %s", prec ? "f64" : "f32",
                     g < 0 ? "batch (32 rows)" : "group (16 rows)");
            printf("%-44s %10.3f %10.3f %8.1fx %6s   (sigma_1 %.6g vs %.6g)\n", label, 1e3 * q,
                   1e3 * f, f / q, ">=10x", s1, s2);
            ns_spectra_ws_free(ws);
        }
    ns_matrix_free(A);
    ns_matrix_free(D);
    ns_rng_free(r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_spectra OUTDIR [epochs] [repeats]\n");
        return 2;
    }
    ns_init();
    int epochs = argc > 2 ? atoi(argv[2]) : 3, reps = argc > 3 ? atoi(argv[3]) : 21;
    size_t n = 320; /* 10 steps per epoch */
    float *X = malloc(n * 1378 * sizeof *X);
    int32_t *y = malloc(n * sizeof *y);
    int *grp = malloc(n * sizeof *grp);
    ns_rng *r = ns_rng_create(2);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int32_t)(i % 2);
        grp[i] = (int)ns_rng_below(r, 2);
        for (size_t j = 0; j < 1378; j++)
            X[i * 1378 + j] = (float)ns_rng_normal(r) + 0.2f * (float)y[i];
    }
    /* Short runs in interleaved pairs, the order alternating, and the
     * median of the per-pair ratios: on a shared machine the load changes
     * over seconds, so two adjacent runs see nearly the same machine while
     * runs far apart do not (medians of separate series swung 1.1x-1.4x
     * under a load of 3-7; paired ratios are steadier). */
    double off[64], on[64], fin[64], woff[64], won[64], ratio[64], wratio[64];
    reps = reps < 64 ? reps : 64;
    train(X, y, grp, n, 1, NULL, NULL, &woff[0]); /* warm-up */
    for (int k = 0; k < reps; k++) {
        if (k % 2 == 0) {
            off[k] = train(X, y, grp, n, epochs, NULL, NULL, &woff[k]);
            on[k] = train(X, y, grp, n, epochs, argv[1], &fin[k], &won[k]);
        } else {
            on[k] = train(X, y, grp, n, epochs, argv[1], &fin[k], &won[k]);
            off[k] = train(X, y, grp, n, epochs, NULL, NULL, &woff[k]);
        }
        ratio[k] = on[k] / off[k];
        wratio[k] = won[k] / woff[k];
    }
    int steps = epochs * (int)(n / 32);
    double a = median(off, reps), b = median(on, reps), c = median(fin, reps);
    double wa = median(woff, reps), wb = median(won, reps);
    qsort(ratio, (size_t)reps, sizeof *ratio, cmp_d);
    double q1 = ratio[reps / 4], q3 = ratio[(3 * reps) / 4], rm = median(ratio, reps);
    printf("%-44s %10s %10s %9s %6s\n", "MLP 1378-256-64-2, batch 32, Adam (CPU time)", "steps/s",
           "ms/step", "ratio", "goal");
    printf("%-44s %10.1f %10.3f %9s %6s\n", "training without spectra", steps / a, 1e3 * a / steps,
           "1.00", "");
    printf("%-44s %10.1f %10.3f %8.2fx %6s   (median of %d paired runs of %d steps; "
           "quartiles %.2f-%.2f)\n",
           "training with spectra every step", steps / b, 1e3 * b / steps, rm, "<=1.3x", reps, steps,
           q1, q3);
    printf("%-44s %10s %10.1f %9s %6s   (%d steps, once after training)\n",
           "  finish: summaries, group tests, SVGs (ms)", "", 1e3 * c, "", "", steps);
    printf("%-44s %10.1f %10.1f %8.2fx         (wall clock, without / with)\n",
           "  wall-clock steps/s", steps / wa, steps / wb, median(wratio, reps));
    bench_routes(15);
    free(X);
    free(y);
    free(grp);
    ns_rng_free(r);
    return 0;
}
