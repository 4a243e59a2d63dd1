/* neurospectra core: status codes and error messages, logging and progress,
 * float32 matrices, a seeded RNG, atomic file writing, TSV, JSON, NPY and NPZ.
 *
 * Conventions for every module:
 * - Functions that can fail return ns_status; on failure they have set a
 *   message (ns_error) that the caller reads with ns_last_error(). The library
 *   never prints an error and never exits; only cli/ does.
 * - Messages read "<what went wrong> (<file or subject>)".
 * - create/free pairs; every free function accepts NULL.
 * - Returned pointers are owned by the caller unless the comment says
 *   "borrowed". */
#ifndef NS_CORE_H
#define NS_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum {
    NS_OK = 0,
    NS_ERR_IO,          /* cannot open, read, write, rename */
    NS_ERR_FORMAT,      /* a file is not what it claims to be, or is truncated */
    NS_ERR_NOMEM,       /* allocation failed or a size would overflow */
    NS_ERR_ARG,         /* invalid argument or option value */
    NS_ERR_DATA,        /* valid file, unusable data (NaN, empty mask, mismatch) */
    NS_ERR_NUMERIC,     /* numerical failure (no convergence, singular) */
    NS_ERR_UNSUPPORTED, /* a valid feature we do not handle (complex datatype) */
    NS_ERR_INTERNAL     /* a broken invariant: a bug */
} ns_status;

/* Name of a status code ("io error", ...). Static string. */
const char *ns_status_string(ns_status s);

/* Sets the thread's error message (printf format) and returns code, so that
 * library code can write `return ns_error(NS_ERR_IO, "cannot open (%s)", p);`. */
ns_status ns_error(ns_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends context to the current message: "ctx: old message". Returns code. */
ns_status ns_error_prefix(ns_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Adds context to the trailing "(where)" of the current message:
 * "... (where)" becomes "... (<context>, where)"; a message without one
 * gets " (<context>)". Returns code. */
ns_status ns_error_within(ns_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last error message ("" when none). Borrowed. */
const char *ns_last_error(void);
void ns_clear_error(void);

/* One-time library set-up: turns GSL's abort handler off, silences
 * nifticlib. Safe to call more than once. */
void ns_init(void);

/* Name of the BLAS library cblas_* resolve to ("OpenBLAS ..." expected). */
const char *ns_blas_config(void);

/* --------------------------------------------------------------- logging */

typedef enum { NS_LOG_ERROR = 0, NS_LOG_WARN, NS_LOG_INFO, NS_LOG_DEBUG } ns_log_level;

/* Messages above the level are dropped. Default NS_LOG_INFO. */
void ns_log_set_level(ns_log_level level);
ns_log_level ns_log_get_level(void);
/* Writes "[HH:MM:SS] level: message" to stderr (thread-safe). */
void ns_log(ns_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ns_warn(...) ns_log(NS_LOG_WARN, __VA_ARGS__)
#define ns_info(...) ns_log(NS_LOG_INFO, __VA_ARGS__)
#define ns_debug(...) ns_log(NS_LOG_DEBUG, __VA_ARGS__)

/* -------------------------------------------------------------- progress */

typedef struct ns_progress ns_progress;
/* A progress indicator over `total` units on stderr: a redrawn bar with ETA
 * on a terminal, a timestamped line every few seconds otherwise, nothing when
 * the log level is below NS_LOG_INFO (--quiet). */
ns_progress *ns_progress_create(const char *label, size_t total);
/* Sets the number of finished units (thread-safe). */
void ns_progress_update(ns_progress *p, size_t done);
/* Prints the final state and frees. */
void ns_progress_free(ns_progress *p);
/* Seconds on the monotonic clock (for intervals), and CPU seconds of the
 * process (all threads). */
double ns_now(void);
double ns_cpu_seconds(void);

/* ---------------------------------------------------------------- matrix */

/* Row-major float32 matrix. A view borrows data (owner == 0). */
typedef struct {
    float *data;
    size_t rows, cols, stride; /* stride >= cols, in elements */
    int owner;
} ns_matrix;

/* Zero-filled rows x cols matrix, NULL (with message) on failure. */
ns_matrix *ns_matrix_create(size_t rows, size_t cols);
void ns_matrix_free(ns_matrix *m);
/* A view on caller-owned memory. */
ns_matrix ns_matrix_view(float *data, size_t rows, size_t cols, size_t stride);
/* A view of rows [r0, r0+n) of m. */
ns_matrix ns_matrix_rows(const ns_matrix *m, size_t r0, size_t n);
ns_matrix *ns_matrix_copy(const ns_matrix *m);
#define NS_AT(m, i, j) ((m)->data[(size_t)(i) * (m)->stride + (size_t)(j)])

/* Sets OpenBLAS's thread count (n < 1 means 1) and returns the previous
 * one: stages that run subjects on OpenMP threads set it to 1 around the
 * parallel region (BLAS threads inside OpenMP threads oversubscribe).
 * Setting the count it already has does nothing (nested holds at 1 from
 * several threads do not touch OpenBLAS). Going down to 1 also stops
 * OpenBLAS's thread pool (it would spin on the cores the caller's threads
 * need); the next parallel BLAS call after a release starts it again. */
int ns_blas_threads(int n);

/* Overflow-checked a*b (and a*b*c); return 0 on overflow. */
int ns_mul_size(size_t a, size_t b, size_t *out);
/* Block `part` of n items split into `parts` contiguous blocks (how MPI
 * ranks share subjects and runs): [*lo, *hi) with lo = floor(n part /
 * parts). The blocks are in order, cover every item once and differ in size
 * by at most one; parts == 0 gives [0, n). */
void ns_block_range(size_t n, size_t part, size_t parts, size_t *lo, size_t *hi);
/* malloc/calloc of n*size bytes with overflow check; set a message on failure. */
void *ns_alloc(size_t n, size_t size);
void *ns_calloc(size_t n, size_t size);
/* Asks for transparent huge pages on the 2 MiB-aligned part of a buffer of
 * at least 8 MiB (the kernel's default is "madvise"): each fresh 4 KiB page
 * costs a fault, a volume or subject matrix thousands of them. */
void ns_advise_huge(void *p, size_t len);

/* ------------------------------------------------------------------- rng */

typedef struct ns_rng ns_rng;
/* Mersenne twister (GSL mt19937) seeded with seed. */
ns_rng *ns_rng_create(uint64_t seed);
void ns_rng_free(ns_rng *r);
double ns_rng_uniform(ns_rng *r);          /* [0, 1) */
double ns_rng_normal(ns_rng *r);           /* N(0, 1) */
uint64_t ns_rng_below(ns_rng *r, uint64_t n); /* uniform integer in [0, n) */
void ns_rng_shuffle(ns_rng *r, size_t *idx, size_t n);
/* An independent stream derived from (seed, stream): for per-subject or
 * per-thread generators that do not depend on thread scheduling. */
uint64_t ns_seed_derive(uint64_t seed, uint64_t stream);

/* ------------------------------------------------------- atomic writing */

/* A file written under a temporary name in the same directory and renamed
 * into place by ns_afile_commit, so that a failure never leaves a partial
 * file under the final name. */
typedef struct ns_afile ns_afile;
ns_status ns_afile_open(const char *path, ns_afile **out);
/* The stream to write to (borrowed). */
FILE *ns_afile_stream(ns_afile *f);
/* The temporary path (borrowed), for libraries that write files themselves. */
const char *ns_afile_temp_path(const ns_afile *f);
/* Flushes, checks every write succeeded (and fsyncs when the environment
 * has NS_FSYNC=1), renames. Frees f. */
ns_status ns_afile_commit(ns_afile *f);
/* Removes the temporary file. Frees f. NULL-safe. */
void ns_afile_abort(ns_afile *f);
/* For files another library writes itself (nifticlib, libzip): closes the
 * stream, frees f and hands over the temporary path (caller frees). Write
 * to it, then ns_rename_into_place() on success or remove() on failure. */
char *ns_afile_release(ns_afile *f);
/* Renames a finished temporary file into place; removes it on failure. */
ns_status ns_rename_into_place(const char *tmp, const char *path);
/* mkdir -p. */
ns_status ns_mkdirs(const char *path);
int ns_file_exists(const char *path);
/* The names in dir (not "." files), sorted, filtered by prefix and suffix
 * (NULL: any). *names and each string are the caller's (ns_free_strings).
 * A missing directory gives 0 names and NS_OK. */
ns_status ns_list_dir(const char *dir, const char *prefix, const char *suffix, char ***names, size_t *n);
void ns_free_strings(char **s, size_t n);
/* Reads a whole file into memory (NUL-terminated as a convenience). */
ns_status ns_read_file(const char *path, char **data, size_t *len);

/* ------------------------------------------------------------------- tsv */

/* A table: a header row and nrows x ncols cells; a cell "n/a" (or empty) is
 * stored as NULL. */
typedef struct {
    size_t nrows, ncols;
    char **header; /* ncols strings */
    char **cells;  /* nrows * ncols, row-major, NULL = missing */
    size_t cap_rows;
} ns_tsv;

ns_tsv *ns_tsv_create(size_t ncols, const char *const *header);
void ns_tsv_free(ns_tsv *t);
/* Reads a TSV with a header row; every row must have ncols cells. */
ns_status ns_tsv_read(const char *path, ns_tsv **out);
/* Appends a row of ncols cells (copied; NULL = missing). */
ns_status ns_tsv_append(ns_tsv *t, const char *const *cells);
/* The same from ncols strings stored width bytes apart, as a local
 * char c[ncols][width] holds them: ns_tsv_append_fixed(t, c[0], sizeof c[0]). */
ns_status ns_tsv_append_fixed(ns_tsv *t, const char *cells, size_t width);
/* Column index of name, or -1. */
int ns_tsv_column(const ns_tsv *t, const char *name);
/* Cell (borrowed), NULL when missing. */
const char *ns_tsv_get(const ns_tsv *t, size_t row, size_t col);
/* Cell as a number: NAN when missing; NS_ERR_FORMAT when not a number. */
ns_status ns_tsv_get_double(const ns_tsv *t, size_t row, size_t col, double *out);
/* Writes atomically; NULL cells as "n/a". */
ns_status ns_tsv_write(const ns_tsv *t, const char *path);
/* Writes a numeric matrix (rows x cols doubles, row-major) with a header and
 * optional row labels (first column named label_header). NaN -> "n/a".
 * Numbers with %.9g. */
ns_status ns_tsv_write_matrix(const char *path, const double *x, size_t rows, size_t cols,
                              const char *const *col_names, const char *label_header,
                              const char *const *row_labels);

/* ------------------------------------------------------------------ json */

/* Reads a JSON file (caller json_decref()s). */
ns_status ns_json_read(const char *path, json_t **out);
/* Writes a JSON value atomically, indented, keys in insertion order. */
ns_status ns_json_write(const json_t *j, const char *path);

/* -------------------------------------------------------------- npy/npz */

typedef enum { NS_DT_F32, NS_DT_F64, NS_DT_I32, NS_DT_I64, NS_DT_U8, NS_DT_BOOL } ns_dtype;
#define NS_ARRAY_MAXDIM 8

/* A dense C-order array. */
typedef struct {
    ns_dtype dtype;
    int ndim;
    size_t shape[NS_ARRAY_MAXDIM];
    void *data;
} ns_array;

ns_array *ns_array_create(ns_dtype dtype, int ndim, const size_t *shape); /* zeroed */
void ns_array_free(ns_array *a);
size_t ns_array_count(const ns_array *a);
size_t ns_dtype_size(ns_dtype d);
/* Convenience: a float32 array wrapping a copy of data. */
ns_array *ns_array_from_f32(const float *data, int ndim, const size_t *shape);
ns_array *ns_array_from_f64(const double *data, int ndim, const size_t *shape);
/* Converts any numeric array to a newly allocated float64/float32 buffer. */
ns_status ns_array_to_f64(const ns_array *a, double **out);
ns_status ns_array_to_f32(const ns_array *a, float **out);

/* NPY v1/v2/v3, little- or big-endian, C or Fortran order on reading;
 * writes v1 little-endian C order. */
ns_status ns_npy_read(const char *path, ns_array **out);
ns_status ns_npy_write(const ns_array *a, const char *path);
/* Parse/serialise NPY from/to memory (used by NPZ). */
ns_status ns_npy_parse(const void *buf, size_t len, const char *name, ns_array **out);
ns_status ns_npy_serialise(const ns_array *a, void **buf, size_t *len);

/* NPZ: a zip of NPY members, as numpy.savez writes (stored) and
 * numpy.savez_compressed (deflated) on reading. */
typedef struct ns_npz ns_npz;
ns_npz *ns_npz_create(void);
void ns_npz_free(ns_npz *z);
/* Adds array under name (".npy" appended in the archive); takes ownership of
 * a even on failure. A name already present is replaced. */
ns_status ns_npz_add(ns_npz *z, const char *name, ns_array *a);
size_t ns_npz_count(const ns_npz *z);
const char *ns_npz_name(const ns_npz *z, size_t i);          /* borrowed */
const ns_array *ns_npz_get(const ns_npz *z, const char *name); /* borrowed, NULL if absent */
ns_status ns_npz_read(const char *path, ns_npz **out);
ns_status ns_npz_write(const ns_npz *z, const char *path);  /* atomic */

#ifdef __cplusplus
}
#endif
#endif
