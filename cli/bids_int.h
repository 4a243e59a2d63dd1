/* The BIDS-Apps pipeline (cli/cmd_bids.c, cli/bids_*.c): private API. */
#ifndef NS_BIDS_INT_H
#define NS_BIDS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "fnc/fnc.h"
#include "ica/ica.h"

typedef struct {
    const char *bids_dir, *out_dir;
    char work_dir[4096];
    int group_level;           /* 0: participant, 1: group */
    const char *const *labels; /* without "sub-" */
    size_t nlabels;
    const char *task, *space;  /* NULL: any */
    int *orders;               /* NULL: from the saved models (participant) / 20,40 (group) */
    int norders;
    const char *target;        /* classification target column (NULL: diagnosis if present) */
    const char *groups;        /* grouping column for spectra (NULL: the target) */
    const char *models;        /* comma-separated train models */
    const char *select;        /* train --select (NULL: none) */
    int folds, epochs;
    int nprocs;
    uint64_t seed;
    int force;
    const char *command_line;
    int rank, nranks;          /* under mpirun (bids_mpi.c); 0 and 1 otherwise */
} ns_bids_opts;

/* One BOLD run of the study. */
typedef struct {
    char *bold, *stem, *label;
} ns_bids_run;

typedef struct {
    ns_bids_run *runs;
    size_t n;
} ns_bids_runs;

/* Finds the runs (fMRIPrep derivatives or raw BIDS), filtered by labels,
 * task and space. */
ns_status ns_bids_find_runs(const ns_bids_opts *o, ns_bids_runs *out);
void ns_bids_runs_clear(ns_bids_runs *r);

/* Status of a run in one stage, kept in WORKDIR/status/<stem>.<stage>.tsv so
 * that separate processes never write the same file; the summary gathers
 * them into OUT/group/desc-run_summary.tsv. */
ns_status ns_bids_status_set(const ns_bids_opts *o, const ns_bids_run *r, const char *stage,
                             const char *status, const char *error, double seconds);
/* 1 when the run has status "ok" in stage. */
int ns_bids_status_ok(const ns_bids_opts *o, const ns_bids_run *r, const char *stage);
ns_status ns_bids_write_summary(const ns_bids_opts *o, size_t *nfailed);

/* Model orders with a saved model in OUT/group (ascending); newly allocated. */
int ns_bids_saved_orders(const char *out_dir, int **orders);
/* The two levels. Return a CLI exit status. */
int ns_bids_participant(const ns_bids_opts *o);
int ns_bids_group(const ns_bids_opts *o);
/* Classification + spectra + report after FNC (group level). */
int ns_bids_train_and_report(const ns_bids_opts *o);

/* Under mpirun (bids_mpi.c): initialises MPI and gives this process's rank
 * and the number of ranks (0 and 1 otherwise). */
ns_status ns_bids_mpi_begin(int *rank, int *size);
/* Collective under mpirun: n summed over the ranks (also a barrier). */
size_t ns_bids_mpi_sum(size_t n);
/* Collective under mpirun: the largest v over the ranks. */
long ns_bids_mpi_max(long v);
/* Group ICA of the runs: split across the ranks under mpirun. */
ns_status ns_bids_ica_fit(const ns_bids_opts *o, const ns_ica_params *p, const char *const *bold,
                          size_t nb);
/* FNC of the tree: split across the ranks under mpirun. */
ns_status ns_bids_fnc_run(const ns_bids_opts *o, const ns_fnc_study_opts *fo,
                          ns_fnc_study_result *res);

#endif
