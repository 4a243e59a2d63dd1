/* nifti_io internals: the validated raw header and the readers behind
 * ns_volume_load. Not installed. */
#ifndef NS_NIFTI_INT_H
#define NS_NIFTI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nifti_io/nifti_io.h"

/* Where header and data live. Compression is decided by the file's content
 * (gzip magic), not its name: a ".nii.gz" that is not compressed still loads. */
typedef struct {
    const char *name;   /* the path the caller gave, used in messages (borrowed) */
    char *hdr_path;     /* file holding the header */
    char *img_path;     /* file holding the data (== hdr_path for .nii) */
    int paired;         /* .hdr/.img pair */
    int hdr_gz, img_gz; /* gzip-compressed */
} ns_nii_paths;

/* A header read by us and validated before nifticlib sees it. */
typedef struct {
    ns_nifti_format format;
    int swapped;            /* file byte order differs from the machine's */
    int datatype;           /* NIFTI_TYPE_* */
    int nbyper;             /* bytes per value */
    int64_t dim[8];         /* dim[0] = ndim (1..7); unused dims are 1 */
    double pixdim[8];       /* as stored */
    int64_t vox_offset;     /* byte offset of the data in the image file */
    double scl_slope, scl_inter; /* as stored (Analyze: SPM's funused1/2) */
    double slope, inter;    /* scaling to apply; slope 0 = none */
    int xyzt_units;
    int qform_code, sform_code;
    size_t nvox, nvol;      /* nx*ny*nz and the product of dims 4..7 */
    size_t hdr_size;        /* 348 or 540 */
    unsigned char raw[540]; /* the header bytes as stored, for nifticlib */
} ns_nii_hdr;

/* Opens file to tell whether it is gzip-compressed; what ("file", "image
 * file") names it in the message. */
ns_status ns_nii_sniff(const char *file, const char *name, const char *what, int *gz);
ns_status ns_nii_paths_resolve(const char *path, ns_nii_paths *p);
void ns_nii_paths_free(ns_nii_paths *p);

/* Reads and validates the header of p (every problem is an error naming
 * p->name; nothing is printed). */
ns_status ns_nii_header_read(const ns_nii_paths *p, ns_nii_hdr *h);

/* Fills v's geometry and file description from a validated header, using
 * nifticlib for the qform/sform algebra. TR comes from the header only. */
ns_status ns_nii_header_to_volume(const ns_nii_hdr *h, const char *name, ns_volume *v);

/* Replaces the TR by the BIDS sidecar's RepetitionTime (warning on a
 * mismatch) when the image has a time axis. */
void ns_nii_apply_sidecar(ns_volume *v, const char *path, int has_time_axis);

/* Reads nvalues stored values from the start of the data and returns them
 * converted to float32 (scaling applied) in a malloc'ed buffer. zlib_only
 * forces the streaming zlib path for compressed files. Fails cleanly when
 * the buffer would exceed the available memory. */
ns_status ns_nii_read_data(const ns_nii_paths *p, const ns_nii_hdr *h, size_t nvalues,
                           int zlib_only, float **out);

/* Converts n stored values (any supported datatype) to float32 with the
 * given scaling (slope 0 = none). in is byte-swapped in place first when
 * swapped; in and out must not overlap. */
void ns_nii_convert(void *in, float *out, size_t n, int datatype, int swapped, double slope,
                    double inter);

/* Bytes per value of a supported datatype, 0 when unsupported. */
int ns_nii_datatype_size(int datatype);
/* "int16", "complex64", ... or NULL when the code is unknown. */
const char *ns_nii_datatype_name(int datatype);

/* Memory available to this process in bytes (MemAvailable + free swap). */
size_t ns_nii_mem_available(void);

#endif
