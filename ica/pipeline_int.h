/* Private types shared by the file pipeline (fit, outputs, model). */
#ifndef NS_ICA_PIPELINE_INT_H
#define NS_ICA_PIPELINE_INT_H

#include "ica/ica_int.h"
#include "nifti_io/nifti_io.h"

/* The grid and mask every subject is read through. */
typedef struct {
    ns_geom geom;    /* of the first subject (3-D part used) */
    size_t nvox;     /* nx ny nz */
    size_t v;        /* in-mask voxels */
    size_t *idx;     /* v voxel indices into the grid (NIfTI order) */
    double tr;       /* seconds, 0 unknown */
} ns_ica_grid;

/* One subject's names. */
typedef struct {
    const char *path;
    char *stem, *label;
    size_t t;
} ns_ica_subject;

/* One order's group model (what the model NPZ holds). */
typedef struct {
    int k;
    ns_matrix *z;       /* k x V whitened group PCA maps (view or owned) */
    double *geig;       /* k */
    double *w, *a;      /* k x k */
    ns_matrix *maps;    /* k x V raw group maps S = W Z */
} ns_ica_order_model;

/* Settings recorded with the model and needed to treat a new subject. */
typedef struct {
    ns_ica_preproc preproc;
    size_t pc1;
    ns_ica_backrecon backrecon;
} ns_ica_subject_settings;

/* Loads subject s (4-D), checks the grid against g, extracts the in-mask
 * T x V matrix and preprocesses it. *x is NULL or a matrix to reuse when its
 * shape fits (else it is freed); on failure *x is freed and NULL. */
ns_status ns_ica_load_subject(const ns_ica_grid *g, const ns_ica_subject *s,
                              ns_ica_preproc pre, ns_matrix **x);

/* Checks that a header h (of path) matches the grid and TR of g. */
ns_status ns_ica_check_grid(const ns_ica_grid *g, const ns_volume *h, const char *path);

/* A volume of k maps (k x V, in-mask) on the grid; written to path. */
ns_status ns_ica_write_maps(const ns_ica_grid *g, const ns_matrix *maps, const char *path);

/* Back-reconstructs, scales and writes one subject for one order. x may be
 * NULL unless dual regression; with w (GICA), y is the centred data of the
 * factored form. */
ns_status ns_ica_subject_outputs(const char *out_dir, const ns_ica_grid *g,
                                 const ns_ica_subject *s, const ns_ica_order_model *m,
                                 ns_ica_backrecon br, const ns_matrix *x,
                                 const ns_ica_spca *sp, const ns_matrix *y,
                                 const ns_ica_whitener *w);

/* Writes OUT/dataset_description.json when absent. */
ns_status ns_ica_dataset_description(const char *out_dir);

/* Saves / loads desc-ica<K>_model.npz. settings_json is recorded verbatim. */
ns_status ns_ica_model_save(const char *path, const ns_ica_grid *g, const ns_ica_order_model *m,
                            const ns_ica_subject_settings *ss, size_t nsub, uint64_t seed,
                            const char *settings_json);

/* "path" joined: OUT/<a>/<b> into a new string. */
char *ns_ica_path(const char *dir, const char *name);

#endif
