/* nifti_io internals: the validated raw header and the readers behind
 * ns_volume_load. Not installed. */
#ifndef NS_NIFTI_INT_H
#define NS_NIFTI_INT_H

#include <stddef.h>
#include <stdint.h>

#include <nifti1.h>

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

/* The header part of ns_volume_load: resolves path into *p, reads and
 * validates the header into *h and returns the header-only volume (data
 * NULL, geometry, path, TR from the header) in *out. On success the caller
 * owns *p (ns_nii_paths_free) and *out (ns_volume_free). */
ns_status ns_nii_open(const char *path, ns_nii_paths *p, ns_nii_hdr *h, ns_volume **out);

/* What ns_volume_load does after the data: the one-volume dims of
 * first_volume_only, nvol_file, the sidecar TR (unless no_sidecar) and the
 * warning about an implausible header TR. o may be NULL. */
void ns_nii_finish(ns_volume *v, const ns_nii_hdr *h, const ns_load_opts *o, const char *path);

/* Refuses, before any buffer is allocated, an image file too small for the
 * nbytes of data its header declares (plain: by its size and vox_offset;
 * gz: by deflate's largest ratio). name is used in the message. */
ns_status ns_nii_check_file_holds(const char *file, const char *name, int gz, const ns_nii_hdr *h,
                                  size_t nbytes);

/* malloc(size) after checking it against ns_nii_mem_available(): the
 * "not enough memory" / "out of memory" errors naming name. */
ns_status ns_nii_alloc(size_t size, const char *name, void **out);

/* "truncated file: expected N data bytes, found M (name)", NS_ERR_FORMAT. */
ns_status ns_nii_truncated(size_t expected, size_t found, const char *name);

/* Reads len bytes at offset off of fd into buf. A file that ends first is
 * truncated: expected total data bytes, found before + what was read. */
ns_status ns_nii_pread(int fd, void *buf, size_t len, uint64_t off, size_t total, size_t before,
                       const char *name);

/* zlib streaming read of a gzip image file: skips vox_offset, reads nbytes
 * stored bytes into dst (NULL: discarded), then, when whole, checks the rest
 * of the stream to its end (members, trailers, CRCs). Its errors are the
 * ones ns_volume_load gives for the file; the streaming reader has its own
 * failures worded by it. */
ns_status ns_nii_gz_read(const char *file, const char *name, const ns_nii_hdr *h,
                         unsigned char *dst, size_t nbytes, int whole);

/* The stored values are float32 in the machine's order without scaling:
 * they can be read straight into the float32 result. */
static inline int ns_nii_stored_as_float(const ns_nii_hdr *h)
{
    return h->datatype == NIFTI_TYPE_FLOAT32 && !h->swapped && h->slope == 0;
}

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
