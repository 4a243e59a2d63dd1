/* neurospectra nifti_io: NIfTI-1/-2 and Analyze volumes in and out, with
 * geometry, TR (BIDS sidecar aware), a fast .nii.gz path and masks.
 *
 * Data are always handed out as float32 with scl_slope/scl_inter applied
 * (when the slope is non-zero), in NIfTI order: x fastest, then y, z, t. */
#ifndef NS_NIFTI_IO_H
#define NS_NIFTI_IO_H

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NS_FMT_NIFTI1 = 1, NS_FMT_NIFTI2 = 2, NS_FMT_ANALYZE = 0 } ns_nifti_format;

/* Geometry that travels with the data. */
typedef struct {
    int ndim;              /* 3 or 4 after dropping trailing singletons (5..7 only
                              for files with non-singleton dims 5..7, whose
                              extra dims are folded into nvol) */
    int64_t dim[7];        /* nx, ny, nz, nt, (5..7 = 1) */
    double pixdim[7];      /* voxel sizes as stored, pixdim[3] = TR in the file's units */
    double qto[4][4];      /* qform matrix (nifticlib's qto_xyz) */
    double sto[4][4];      /* sform matrix (nifticlib's sto_xyz) */
    int qform_code, sform_code;
    int xyz_units, time_units; /* NIFTI_UNITS_* */
    double qfac;
    double quatern[3];     /* b, c, d */
    double qoffset[3];
    double tr;             /* seconds; 0 when unknown: pixdim[3] in the time units
                              (unknown units = s, ms and us converted), replaced
                              by RepetitionTime of the BIDS sidecar */
    int tr_source;         /* 0 none, 1 header, 2 sidecar */
} ns_geom;

/* A loaded volume: geometry + float32 data (nx*ny*nz*nt values). */
typedef struct {
    ns_geom geom;
    float *data;
    size_t nvox;     /* nx*ny*nz */
    size_t nvol;     /* nt (x dims 5..7); 1 after first_volume_only */
    /* What the file said (for `info`). */
    ns_nifti_format format;
    int datatype;    /* NIFTI_TYPE_* of the file */
    double scl_slope, scl_inter;
    char *path;
    size_t nvol_file; /* volumes in the file (== nvol unless first_volume_only) */
} ns_volume;

/* Header-only information (data == NULL). */
typedef ns_volume ns_header;

typedef struct {
    int first_volume_only; /* read only volume 0 (mask building) */
    int no_sidecar;        /* ignore a BIDS JSON sidecar */
    int zlib_only;         /* force the zlib streaming path (benchmarks) */
} ns_load_opts;

/* Loads path (.nii, .nii.gz, .hdr/.img, .hdr.gz/.img.gz; NIfTI-1, NIfTI-2 or
 * Analyze 7.5, either byte order; compression is detected from the content).
 * opts may be NULL. Any bad file gives NS_ERR_IO / NS_ERR_FORMAT /
 * NS_ERR_UNSUPPORTED / NS_ERR_NOMEM with one line naming the file and the
 * problem; nothing is printed except a warning (ns_warn) when the sidecar's
 * RepetitionTime disagrees with the header. *out is owned by the caller
 * (ns_volume_free). */
ns_status ns_volume_load(const char *path, const ns_load_opts *opts, ns_volume **out);
/* Reads only the header (data == NULL). */
ns_status ns_volume_load_header(const char *path, ns_volume **out);
void ns_volume_free(ns_volume *v);

/* Reads a 4-D (or 3-D) image one volume at a time with the memory of one
 * volume: .nii/.hdr+.img by pread, gzip by ISA-L streaming inflate. Same
 * formats, datatypes, scaling, byte order, sidecar TR and error messages as
 * ns_volume_load. opts as there (may be NULL; first_volume_only gives one
 * volume and, like ns_volume_load, does not check the rest of the stream;
 * zlib_only is ignored). *out is owned by the caller
 * (ns_volume_reader_free). */
typedef struct ns_volume_reader ns_volume_reader;
ns_status ns_volume_reader_open(const char *path, const ns_load_opts *opts, ns_volume_reader **out);
/* Header of the open image: data NULL, geometry/nvox/nvol/format/datatype/
 * scl/path as ns_volume_load would give (sidecar TR applied unless
 * opts->no_sidecar). Owned by the reader. */
const ns_volume *ns_volume_reader_header(const ns_volume_reader *r);
/* Next volume (nvox floats, scaling applied) into dst. For the last volume,
 * the rest of the stream is checked too (gzip trailer, CRC32 and ISIZE), so
 * a bad trailer is reported by that call. More calls than nvol: NS_ERR_ARG.
 * After a failed call the reader can only be freed (later calls:
 * NS_ERR_ARG). */
ns_status ns_volume_reader_next(ns_volume_reader *r, float *dst);
void ns_volume_reader_free(ns_volume_reader *r);

/* A new zeroed volume with geometry g (ndim/dim decide the size). */
ns_volume *ns_volume_create(const ns_geom *g);
/* Geometry of a plain grid: dims, voxel size (mm), TR (s, 0 for 3-D). */
void ns_geom_default(ns_geom *g, int ndim, const int64_t *dim, const double *voxsize, double tr);

typedef enum { NS_SAVE_FLOAT32 = 0, NS_SAVE_UINT8 = 1 } ns_save_type;
/* Saves v as .nii or .nii.gz (by the extension) atomically: written under a
 * temporary name, verified, renamed. */
ns_status ns_volume_save(const ns_volume *v, const char *path, ns_save_type type);
/* The same with the compression level of .nii.gz (1 fastest .. 12 smallest;
 * ns_volume_save uses 6): level 1 is ISA-L's level 1 (several times faster
 * than libdeflate's, files about 1-3 % larger), 2..12 are libdeflate's.
 * Noisy float maps compress about as well at 1 for a fraction of the CPU. */
ns_status ns_volume_save_level(const ns_volume *v, const char *path, ns_save_type type,
                               int level);

/* Counts of non-finite values and min/max/mean over finite ones (NaN when
 * there is no finite value). */
void ns_volume_stats(const ns_volume *v, double *min, double *max, double *mean, size_t *nonfinite);

/* Same grid? (dims 1..3 and affine within tolerance) */
int ns_geom_same_grid(const ns_geom *a, const ns_geom *b);

/* The BIDS sidecar of a NIfTI path (x.nii.gz -> x.json), newly allocated. */
char *ns_sidecar_path(const char *nifti_path);

/* A mask of volume `vol` of v: voxels whose value is finite and > threshold.
 * *mask is nvox bytes (1 in, 0 out), newly allocated (free()); *count is
 * the number of voxels in it. Read volume 0 cheaply with
 * ns_load_opts.first_volume_only. */
ns_status ns_mask_from_volume(const ns_volume *v, size_t vol, double threshold, uint8_t **mask,
                              size_t *count);
/* Loads a mask image (e.g. fMRIPrep's *_desc-brain_mask.nii.gz): a voxel is
 * in when its value is finite and non-zero; only the first volume is read.
 * When grid is not NULL the mask must be on that grid (ns_geom_same_grid),
 * else NS_ERR_DATA. *mask as for ns_mask_from_volume. */
ns_status ns_mask_load(const char *path, const ns_geom *grid, uint8_t **mask, size_t *count);

/* Name of a NIFTI_TYPE_* code: "uint8", "int16", "float32", "complex64", ...,
 * "unknown" for codes NIfTI does not define. Static string. */
const char *ns_nifti_datatype_name(int datatype);

#ifdef __cplusplus
}
#endif
#endif
