/* Private parts of the simulator shared by its source files. */
#ifndef NS_SIM_INT_H
#define NS_SIM_INT_H

#include "sim/sim.h"

#define NS_SIM_MAX_EFFECTS 12
#define NS_SIM_MAX_BLOBS 2

/* One Gaussian blob in normalised head coordinates (x right, y anterior,
 * z superior, each in [-1, 1] over the grid): value
 * amp exp(-(x'/sx)^2 - (y'/sy)^2 - (z'/sz)^2), x', y' rotated by theta. */
typedef struct {
    double x, y, z, sx, sy, sz, theta_deg, amp;
} ns_sim_blob;

typedef struct {
    const char *name;
    int nblob;
    ns_sim_blob blob[NS_SIM_MAX_BLOBS];
    int bilateral;   /* every blob mirrored left-right */
    double gradient; /* intensity ramp 1 + g x'/sx along the blob's x' axis */
} ns_sim_source_def;

/* The catalogue (NS_SIM_CATALOGUE_SIZE entries). */
extern const ns_sim_source_def ns_sim_catalogue[NS_SIM_CATALOGUE_SIZE];

/* Per-subject placement of a source. */
typedef struct {
    double head_shift[3], head_rot_deg; /* whole head */
    double shift[3], spread;            /* this source */
} ns_sim_jitter;

struct ns_sim {
    ns_sim_params p;
    size_t nvox, nsrc;
    int is3d;
    uint8_t *head, *tissue;
    float *baseline;
    float *group_maps;
    ns_sim_participant *part;
    double *site_scale, *site_noise;
    ns_sim_effect effects[NS_SIM_MAX_EFFECTS];
    size_t neffects;
};

/* Normalised coordinate of voxel index i on an axis of n voxels. */
static inline double ns_sim_coord(int64_t i, int64_t n)
{
    return n > 1 ? (2.0 * (double)i + 1.0) / (double)n - 1.0 : 0.0;
}

/* Renders source def into map (nvox), jitter may be NULL, then scales to
 * max |map| = 1 inside the head and zeroes the outside. */
void ns_sim_render_source(const ns_sim *sim, const ns_sim_source_def *def, const ns_sim_jitter *j,
                          float *map);
/* Head mask and tissue labels of the grid. */
void ns_sim_make_tissue(const ns_sim *sim, uint8_t *head, uint8_t *tissue);
/* Tissue factor of a label (CSF 1.5, GM 1.0, WM 0.7, dropout 0.3). */
double ns_sim_tissue_factor(int label);

/* Planted effects for n_sources sources (drops effects with < 2 sources). */
void ns_sim_make_effects(ns_sim *sim);
/* Participant labels and site factors from the dataset stream. */
ns_status ns_sim_make_participants(ns_sim *sim);

/* Streams derived from the seed. */
enum { NS_SIM_STREAM_DATASET = 0, NS_SIM_STREAM_JITTER = 1, NS_SIM_STREAM_EVENTS = 2,
       NS_SIM_STREAM_MOTION = 3, NS_SIM_STREAM_NOISE = 4 };
uint64_t ns_sim_stream_seed(const ns_sim *sim, size_t subject, int stream);

/* Timecourses (ntime x nsrc) and states of subject i from its event stream. */
ns_status ns_sim_make_timecourses(const ns_sim *sim, ns_sim_subject *s);
/* Motion parameters (ntime x 6) of subject i. */
ns_status ns_sim_make_motion(const ns_sim *sim, ns_sim_subject *s);
/* Resamples every volume of data (ntime x nvox) by the subject's motion. */
ns_status ns_sim_apply_motion(const ns_sim *sim, const ns_sim_subject *s, float *data);

/* Framewise displacement (Power: translations + 50 mm x rotations), fd[0] = NaN. */
void ns_sim_framewise_displacement(const double *motion, size_t ntime, double *fd);

/* The per-subject record of the truth JSON (after ns_sim_subject_bold). */
json_t *ns_sim_subject_json(const ns_sim *sim, const ns_sim_subject *s);

/* Appends " (<what>)" to the current message and returns code. */
ns_status ns_sim_fail(ns_status code, const char *what);

#endif
