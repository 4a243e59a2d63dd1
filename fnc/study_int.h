/* Private state of ns_fnc_study_run, shared by the study_*.c files. */
#ifndef NS_FNC_STUDY_INT_H
#define NS_FNC_STUDY_INT_H

#include <stddef.h>

#include "fnc/fnc.h"

typedef struct {
    char *participant; /* "sub-01" */
    char *stem;        /* OUT/sub-01/func/sub-01_task-rest: path before _desc-ica */
    const char *name;  /* basename of stem (inside stem) */
    int failed;
    int mine;          /* handled by this process (see ns_fnc_part) */
    double tr;         /* TR used */
    size_t T;
    size_t win_off, nwin; /* rows of the dFNC window matrix */
} fnc_run;

typedef struct {
    const ns_fnc_study_opts *o;
    int *orders;
    int norders;
    size_t *koff;      /* norders + 1 offsets of each order's components */
    size_t K;          /* components over all orders */
    char **ids;        /* K component ids */
    fnc_run *runs;
    size_t nruns;
    char **conf;       /* confound column names (NULL when none) */
    size_t nconf;
    /* selection */
    size_t *sel;       /* indices of kept components */
    size_t nsel;
    double *iq;        /* K stability indices (NaN unknown / not asked) */
    double *lowfreq;   /* K mean fraction of low-frequency power (NaN) */
    size_t *lowfreq_n;
    /* what happened, for the sidecars */
    double tr_first;
    int tr_mixed, tr_from_user, tr_mismatch_runs;
    int lowpass_applied, lowpass_skipped;
    size_t spikes;     /* despiked points over all runs */
    size_t values;     /* timecourse values over all runs */
    double t_read, t_compute, t_write; /* seconds, for --verbose */
    /* dFNC windows of the kept components */
    float *win;
    size_t nwin, win_cap, edyn;
} fnc_study;

/* study_find.c */
ns_status ns_fnc__find_runs(fnc_study *s);
ns_status ns_fnc__component_ids(fnc_study *s);
ns_status ns_fnc__parse_confounds(fnc_study *s);
ns_status ns_fnc__stability(fnc_study *s);
void ns_fnc__report(fnc_study *s, fnc_run *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* study_run.c: loads a run's timecourses (all orders, T x K) and confounds,
 * resolves its TR. */
typedef struct {
    double *x;     /* T x K */
    size_t T;
    double tr;
    double *conf;  /* T x nconf or NULL */
} fnc_run_data;
ns_status ns_fnc__load_run(fnc_study *s, fnc_run *r, fnc_run_data *d);
void ns_fnc__run_data_free(fnc_run_data *d);

/* study_part.c: the study-wide steps when o->part splits the participants */
/* Marks the runs this process handles; returns how many. */
size_t ns_fnc__part_assign(fnc_study *s);
/* Per-run facts (failed, T, TR, windows) and the counters of the sidecars
 * made study-wide on every part. */
ns_status ns_fnc__part_sync(fnc_study *s);
/* Every part's dFNC windows on part 0, in run order. */
ns_status ns_fnc__part_windows(fnc_study *s);

/* study_dfnc.c */
ns_status ns_fnc__dfnc_add(fnc_study *s, fnc_run *r, const double *x, size_t T);
ns_status ns_fnc__dfnc_finish(fnc_study *s, ns_fnc_study_result *res);

#endif
