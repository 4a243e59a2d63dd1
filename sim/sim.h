/* neurospectra sim: a SimTB-style simulator of resting-state fMRI datasets
 * with ground truth (the embedded default data, and the truth every later
 * stage is tested against).
 *
 * Model (docs/simulate.md has the details): a catalogue of 30 sources, each a
 * sum of Gaussian blobs (bilateral pairs, gradients); a 2-D 100 x 100 slice
 * as SimTB by default, or a 3-D grid with ellipsoidal blobs; a tissue
 * baseline (800 x CSF 1.5 / GM 1.0 / WM 0.7 / dropout 0.3); timecourses from
 * unique events (and shared event trains for planted effects) convolved with
 * a per-subject double-gamma HRF; data
 *     D = baseline (1 + sum_c tc_c psc_c / 100 map_c),
 * then optional AR(1) rigid motion, then Rician noise at the requested CNR.
 *
 * Layout of volumes: NIfTI order, x fastest, then y, z, and t slowest; a
 * subject's data is ntime x nvox floats, maps are nsrc x nvox floats.
 *
 * Determinism: everything is derived from params.seed through
 * ns_seed_derive streams per subject, so the result depends neither on the
 * number of threads nor on the order subjects are produced in. */
#ifndef NS_SIM_H
#define NS_SIM_H

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of sources in the catalogue (the upper bound of n_sources). */
#define NS_SIM_CATALOGUE_SIZE 30
/* Maximum number of sources taking part in one planted effect. */
#define NS_SIM_EFFECT_MAXSRC 8
/* Number of connectivity states of the dynamic effect. */
#define NS_SIM_NSTATES 4

typedef struct {
    int n_subjects;         /* 24 */
    uint64_t seed;          /* 1 */
    int64_t dim[3];         /* 100, 100, 1 (2-D, SimTB); ns_sim_params_set_shape */
    double voxel_mm[3];     /* 2 mm in 2-D, 3 mm in 3-D */
    int n_timepoints;       /* 150 */
    double tr;              /* 2.0 s */
    int n_sources;          /* 30: the first n_sources of the catalogue */
    double cnr;             /* 1.0: noise sd = signal sd / cnr */
    int noiseless;          /* 0; 1 writes the noiseless data (tests) */
    int motion;             /* 0; 1 adds AR(1) rigid motion + confounds */
    int n_sites;            /* 1 */
    int dynamic;            /* 0; 1 plants switching connectivity states */
    int write_subject_maps; /* 1: per-subject (jittered) true maps */
    int gzip;               /* 1: NIfTI files as .nii.gz (default), 0: .nii */

    /* Model constants, SimTB defaults. */
    double baseline;        /* 800 */
    double psc_min, psc_max; /* 1, 3 (percent signal change per source) */
    double event_prob;      /* 0.5 per TR, random sign */
    double map_noise;       /* 0.005 N(0,1) added to each map voxel */
    double jitter_shift;    /* 0.02 (normalised head units) per subject and source */
    double jitter_rot_deg;  /* 3 degrees in-plane head rotation per subject */
    double jitter_spread;   /* 0.1: blob widths scaled by U(1 - s, 1 + s) */
    double hrf_jitter;      /* 0.5 s on the HRF peak shape (undershoot x 2) */

    /* Planted effects: fractions of shared event variance (= expected
     * correlation of the two timecourses of a coupled pair). */
    double coupling_weak;   /* 0.1 */
    double coupling_strong; /* 0.6 */
    double subnet_shared;   /* 0.7: sub-networks of one network */
    double dynamic_coupling; /* 0.7: within a connectivity state */
    double dwell_control;   /* 20 TRs mean dwell time, controls */
    double dwell_patient;   /* 40 TRs mean dwell time, patients */

    /* Motion (with motion = 1). */
    double motion_ar;       /* 0.95 */
    double motion_trans_mm; /* 0.3: stationary sd of translations */
    double motion_rot_deg;  /* 0.3: stationary sd of rotations */
} ns_sim_params;

/* The defaults above (SimTB: 2-D 100 x 100, 150 TRs of 2 s, 30 sources). */
ns_sim_params ns_sim_params_default(void);
/* Sets dim; nz == 1 selects the 2-D model (2 mm voxels), else 3-D (3 mm). */
void ns_sim_params_set_shape(ns_sim_params *p, int64_t nx, int64_t ny, int64_t nz);
/* NS_ERR_ARG with a message naming the parameter when p is unusable. */
ns_status ns_sim_params_check(const ns_sim_params *p);

/* ------------------------------------------------------------ labels */

typedef enum { NS_SIM_HC = 0, NS_SIM_MDD = 1, NS_SIM_BD = 2 } ns_sim_diagnosis;
typedef enum { NS_SIM_MED_NONE = 0, NS_SIM_MED_ANTIDEPRESSANT = 1, NS_SIM_MED_MOOD_STABILIZER = 2 } ns_sim_medication;
typedef enum { NS_SIM_RESP_NONE = 0, NS_SIM_RESP_YES = 1, NS_SIM_RESP_NO = 2 } ns_sim_responder;

typedef struct {
    char id[16];        /* "sub-01" (zero-padded to the width of n_subjects) */
    int diagnosis;      /* ns_sim_diagnosis */
    int medication;     /* ns_sim_medication (NONE for controls) */
    int responder;      /* ns_sim_responder (NONE for controls) */
    int site;           /* 0-based; written as "S1", "S2", ... */
    int age;            /* 16..27 */
    char sex;           /* 'F' or 'M' */
} ns_sim_participant;

/* Text of a label value as written in participants.tsv ("HC", "MDD", "BD";
 * "antidepressant", "mood_stabilizer"; "yes", "no"); NULL for n/a.
 * column is "diagnosis", "medication_class" or "responder". Static string. */
const char *ns_sim_label_text(const char *column, int value);

/* ----------------------------------------------------------- effects */

typedef enum {
    NS_SIM_EFFECT_COUPLING = 0, /* shared event train, strength by label */
    NS_SIM_EFFECT_SUBNET = 1,   /* sub-networks of one network (spatial scale) */
    NS_SIM_EFFECT_DYNAMIC = 2   /* switching states, dwell time by diagnosis */
} ns_sim_effect_kind;

typedef struct {
    const char *name;     /* "diagnosis", "diagnosis_bd", "medication_class",
                           * "responder", "subnet_default_mode", ..., "dynamic" */
    ns_sim_effect_kind kind;
    const char *label;    /* participants.tsv column the strength depends on
                           * ("diagnosis", ...), NULL for sub-networks */
    int nsrc;
    int src[NS_SIM_EFFECT_MAXSRC]; /* 0-based source indices */
    /* Shared-variance fraction by label value (index = the enum value of
     * the label; for sub-networks all three are subnet_shared). For the
     * dynamic effect: the within-state coupling (all three equal). */
    double weight[3];
    /* Dynamic only: mean dwell time (TRs) by diagnosis, and the sign pattern
     * (+1, -1, 0) of each source in each state. */
    double dwell[3];
    signed char pattern[NS_SIM_NSTATES][NS_SIM_EFFECT_MAXSRC];
} ns_sim_effect;

/* ----------------------------------------------------------- dataset */

/* A simulated dataset: parameters, grid, head mask and tissue, group maps,
 * participants and effects. Immutable once created; safe to share between
 * threads. */
typedef struct ns_sim ns_sim;

ns_status ns_sim_create(const ns_sim_params *p, ns_sim **out);
void ns_sim_free(ns_sim *sim);

const ns_sim_params *ns_sim_get_params(const ns_sim *sim); /* borrowed */
size_t ns_sim_nvox(const ns_sim *sim);     /* nx * ny * nz */
size_t ns_sim_nsources(const ns_sim *sim); /* n_sources */
/* Catalogue name of source c ("thalamus", ...). Static string. */
const char *ns_sim_source_name(const ns_sim *sim, size_t c);
/* Head mask (nvox, 0/1), borrowed. */
const uint8_t *ns_sim_head_mask(const ns_sim *sim);
/* Tissue labels (nvox): 0 outside, 1 CSF, 2 GM, 3 WM, 4 dropout. Borrowed. */
const uint8_t *ns_sim_tissue(const ns_sim *sim);
/* Tissue baseline of site 1 (nvox, 0 outside the head), borrowed. */
const float *ns_sim_baseline(const ns_sim *sim);
/* Group (unjittered, noise-free) maps, nsrc x nvox, max |map| = 1. Borrowed. */
const float *ns_sim_group_maps(const ns_sim *sim);
/* Participant i (0-based), borrowed. */
const ns_sim_participant *ns_sim_participant_at(const ns_sim *sim, size_t i);
/* Baseline scale and noise factor of a site (both 1 with a single site). */
void ns_sim_site_factors(const ns_sim *sim, int site, double *baseline_scale, double *noise_factor);
/* Planted effects whose sources are among the n_sources simulated. */
size_t ns_sim_neffects(const ns_sim *sim);
const ns_sim_effect *ns_sim_effect_at(const ns_sim *sim, size_t e); /* borrowed */
/* Shared-variance fraction effect e applies to participant i (0 when the
 * effect is absent for that subject). */
double ns_sim_effect_weight(const ns_sim *sim, size_t e, size_t i);

/* ------------------------------------------------------ one subject */

/* The ground truth of one subject. All arrays owned by the struct. */
typedef struct {
    size_t index;          /* participant index */
    size_t nvox, ntime, nsrc;
    float *maps;           /* nsrc x nvox: jittered, + map noise, head-masked */
    double *tc;            /* ntime x nsrc: centred, unit peak-to-peak */
    double *psc;           /* nsrc: percent signal change */
    float *baseline;       /* nvox: tissue baseline x site scale */
    int *state;            /* ntime: 1-based connectivity state, NULL unless dynamic */
    double *motion;        /* ntime x 6: trans_x/y/z (mm), rot_x/y/z (rad) of
                            * each volume, NULL unless motion */
    double hrf_shape[2];   /* gamma shapes of peak and undershoot */
    double shift[3];       /* head translation (normalised units) */
    double rot_deg;        /* head rotation about z */
    double *src_shift;     /* nsrc x 3: per-source translation */
    double *src_spread;    /* nsrc: per-source width factor */
    /* Filled by ns_sim_subject_bold: */
    double signal_sd;      /* sqrt(mean over head voxels of temporal variance) */
    double noise_sd;       /* signal_sd / (cnr / site noise factor); 0 when noiseless */
} ns_sim_subject;

/* Computes the truth of participant i (maps, timecourses, psc, baseline,
 * states, motion). Costs about one subject's maps; no data volume. */
ns_status ns_sim_subject_create(const ns_sim *sim, size_t i, ns_sim_subject **out);
void ns_sim_subject_free(ns_sim_subject *s);

/* The noiseless, motionless data (ntime x nvox floats, caller-allocated):
 *   data[t][v] = baseline[v] (1 + sum_c tc[t][c] psc[c] / 100 maps[c][v]),
 * the sum accumulated in double in source order. */
void ns_sim_subject_noiseless(const ns_sim_subject *s, float *data);

/* The data as written (ntime x nvox floats, caller-allocated): noiseless,
 * then motion (trilinear resampling), then Rician noise. Sets s->signal_sd
 * and s->noise_sd. */
ns_status ns_sim_subject_bold(const ns_sim *sim, ns_sim_subject *s, float *data);

/* ----------------------------------------------------------- files */

/* Writes the whole BIDS dataset under out_dir (created if needed):
 * (NIfTI names end in .nii instead of .nii.gz when params.gzip is 0)
 *   dataset_description.json, participants.tsv (+ .json),
 *   sub-<l>/func/sub-<l>_task-rest_bold.nii.gz + .json sidecar,
 *   sub-<l>/func/sub-<l>_task-rest_desc-confounds_timeseries.tsv (motion),
 *   derivatives/simulation/: truth.json, group/desc-true_components.nii.gz,
 *   group/desc-head_mask.nii.gz, group/desc-tissue_dseg.nii.gz,
 *   group/desc-baseline_map.nii.gz, and per subject
 *   sub-<l>/func/sub-<l>_task-rest_desc-true_timeseries.tsv,
 *   ..._desc-true_components.nii.gz (write_subject_maps),
 *   ..._desc-states_timeseries.tsv (dynamic).
 * Subjects are produced in parallel (OpenMP); files are byte-identical for
 * the same parameters whatever the number of threads. */
ns_status ns_sim_write_bids(const ns_sim *sim, const char *out_dir);

/* The truth JSON without the per-subject part (generator, parameters, grid,
 * sources, effects, files). New reference. */
json_t *ns_sim_truth_json(const ns_sim *sim);

#ifdef __cplusplus
}
#endif
#endif
