/* Geometry: from a validated header (nifticlib does the qform/sform
 * algebra), TR and its BIDS sidecar, grids, statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nifti2_io.h>

#include "nifti_int.h"

/* TR in seconds from pixdim[4] and the time units; 0 when the file has no
 * time axis or the units are not a time (Hz, ppm, rad/s). Unknown units are
 * taken as seconds, which is what scanners and fMRIPrep write. */
static double header_tr(const ns_nii_hdr *h)
{
    double t = h->pixdim[4];
    if (h->dim[0] < 4 || !isfinite(t) || t <= 0)
        return 0;
    switch (h->xyzt_units & 0x38) {
    case NIFTI_UNITS_UNKNOWN:
    case NIFTI_UNITS_SEC: return t;
    case NIFTI_UNITS_MSEC: return t / 1e3;
    case NIFTI_UNITS_USEC: return t / 1e6;
    default: return 0;
    }
}

static void copy_mat(double dst[4][4], const nifti_dmat44 *m)
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            dst[i][j] = m->m[i][j];
}

/* nifticlib converts a header it would accept into a nifti_image; we only
 * call it after our own validation, with a neutral file name so that odd
 * user paths cannot change its behaviour. */
static nifti_image *to_nim(const ns_nii_hdr *h)
{
    if (h->format == NS_FMT_NIFTI2) {
        nifti_2_header n2;
        memcpy(&n2, h->raw, sizeof n2);
        return nifti_convert_n2hdr2nim(n2, "ns_header.nii");
    }
    nifti_1_header n1;
    memcpy(&n1, h->raw, sizeof n1);
    /* An Analyze header is one whose magic is not NIfTI's; a magic like
     * "n+5" made nifticlib take it for a NIfTI of version 5, refuse to
     * byte-swap it, and copy up to dim[0] (then 768) values into an 8-entry
     * array on its stack. Blanking the magic makes it the Analyze header we
     * validated. */
    if (h->format == NS_FMT_ANALYZE)
        memset(n1.magic, 0, sizeof n1.magic);
    return nifti_convert_n1hdr2nim(n1, h->format == NS_FMT_ANALYZE ? "ns_header.hdr"
                                                                    : "ns_header.nii");
}

ns_status ns_nii_header_to_volume(const ns_nii_hdr *h, const char *name, ns_volume *v)
{
    nifti_image *nim = to_nim(h);
    if (!nim)
        return ns_error(NS_ERR_FORMAT, "nifticlib cannot interpret the header (%s)", name);
    ns_geom *g = &v->geom;
    memset(g, 0, sizeof *g);
    g->ndim = 3;
    for (int i = 0; i < 7; i++) {
        g->dim[i] = h->dim[i + 1];
        g->pixdim[i] = h->pixdim[i + 1];
        if (i >= 3 && g->dim[i] > 1)
            g->ndim = i + 1;
    }
    copy_mat(g->qto, &nim->qto_xyz);
    copy_mat(g->sto, &nim->sto_xyz);
    g->qform_code = h->qform_code;
    g->sform_code = h->sform_code;
    g->xyz_units = h->xyzt_units & 0x07;
    g->time_units = h->xyzt_units & 0x38;
    g->qfac = nim->qfac;
    g->quatern[0] = nim->quatern_b;
    g->quatern[1] = nim->quatern_c;
    g->quatern[2] = nim->quatern_d;
    g->qoffset[0] = nim->qoffset_x;
    g->qoffset[1] = nim->qoffset_y;
    g->qoffset[2] = nim->qoffset_z;
    g->tr = header_tr(h);
    g->tr_source = g->tr > 0 ? 1 : 0;
    nifti_image_free(nim);
    v->nvox = h->nvox;
    v->nvol = h->nvol;
    v->format = h->format;
    v->datatype = h->datatype;
    v->scl_slope = h->scl_slope;
    v->scl_inter = h->scl_inter;
    return NS_OK;
}

char *ns_sidecar_path(const char *nifti_path)
{
    static const char *const exts[] = {".nii.gz", ".nii", ".hdr.gz", ".hdr", ".img.gz", ".img"};
    size_t n = strlen(nifti_path);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t m = strlen(exts[i]);
        if (n > m && !strcasecmp(nifti_path + n - m, exts[i])) {
            n -= m;
            break;
        }
    }
    char *r = malloc(n + 6);
    if (!r) {
        ns_error(NS_ERR_NOMEM, "out of memory (%s)", nifti_path);
        return NULL;
    }
    memcpy(r, nifti_path, n);
    memcpy(r + n, ".json", 6);
    return r;
}

/* The sidecar's RepetitionTime wins over the header (BIDS says so); a
 * disagreement is worth a warning because one of them is wrong. Only for
 * images with a time axis: an anatomical's RepetitionTime is not a TR
 * between volumes. An unreadable sidecar is ignored with a warning. */
void ns_nii_apply_sidecar(ns_volume *v, const char *path, int has_time_axis)
{
    char *sc = ns_sidecar_path(path);
    if (!sc || !has_time_axis || !ns_file_exists(sc)) {
        free(sc);
        ns_clear_error();
        return;
    }
    json_t *j = NULL;
    if (ns_json_read(sc, &j) != NS_OK) {
        ns_warn("ignoring the BIDS sidecar: %s", ns_last_error());
        ns_clear_error();
        free(sc);
        return;
    }
    json_t *rt = json_is_object(j) ? json_object_get(j, "RepetitionTime") : NULL;
    double t = rt && json_is_number(rt) ? json_number_value(rt) : 0;
    if (rt && !(isfinite(t) && t > 0)) {
        ns_warn("ignoring RepetitionTime: not a positive number (%s)", sc);
    } else if (rt) {
        double h = v->geom.tr;
        if (h > 0 && fabs(h - t) > 1e-4 * fmax(h, t))
            ns_warn("TR mismatch: the header says %g s, the sidecar %g s; using the sidecar's (%s)",
                    h, t, path);
        v->geom.tr = t;
        v->geom.tr_source = 2;
    }
    json_decref(j);
    free(sc);
}

void ns_geom_default(ns_geom *g, int ndim, const int64_t *dim, const double *voxsize, double tr)
{
    memset(g, 0, sizeof *g);
    g->ndim = ndim < 3 ? 3 : ndim > 7 ? 7 : ndim;
    for (int i = 0; i < 7; i++) {
        g->dim[i] = i < ndim && dim[i] > 0 ? dim[i] : 1;
        g->pixdim[i] = i < 3 ? voxsize[i] : 1;
    }
    if (g->ndim >= 4)
        g->pixdim[3] = tr > 0 ? tr : 1;
    /* Scanner-style RAS affine with the grid centred on the origin. */
    for (int i = 0; i < 3; i++) {
        double off = -0.5 * (double)(g->dim[i] - 1) * voxsize[i];
        g->qto[i][i] = g->sto[i][i] = voxsize[i];
        g->qto[i][3] = g->sto[i][3] = off;
        g->qoffset[i] = off;
    }
    g->qto[3][3] = g->sto[3][3] = 1;
    g->qform_code = g->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    g->xyz_units = NIFTI_UNITS_MM;
    g->time_units = NIFTI_UNITS_SEC;
    g->qfac = 1;
    g->tr = tr > 0 ? tr : 0;
    g->tr_source = g->tr > 0 ? 1 : 0;
}

/* The affine that places voxels: sform when set, else qform (as nibabel). */
static const double (*affine(const ns_geom *g))[4]
{
    return g->sform_code > 0 ? (const double (*)[4])g->sto : (const double (*)[4])g->qto;
}

int ns_geom_same_grid(const ns_geom *a, const ns_geom *b)
{
    for (int i = 0; i < 3; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    const double (*ma)[4] = affine(a), (*mb)[4] = affine(b);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            double tol = 1e-4 * fmax(1.0, fmax(fabs(ma[i][j]), fabs(mb[i][j])));
            if (!(fabs(ma[i][j] - mb[i][j]) <= tol))
                return 0;
        }
    return 1;
}

ns_volume *ns_volume_create(const ns_geom *g)
{
    size_t nvox = 1, nvol = 1, n;
    for (int i = 0; i < 7; i++) {
        if (g->dim[i] <= 0) {
            ns_error(NS_ERR_ARG, "volume dims must be positive (dim[%d] = %lld)", i + 1,
                     (long long)g->dim[i]);
            return NULL;
        }
        if (!ns_mul_size(i < 3 ? nvox : nvol, (size_t)g->dim[i], i < 3 ? &nvox : &nvol)) {
            ns_error(NS_ERR_NOMEM, "volume size overflows");
            return NULL;
        }
    }
    if (!ns_mul_size(nvox, nvol, &n)) {
        ns_error(NS_ERR_NOMEM, "volume size overflows");
        return NULL;
    }
    ns_volume *v = calloc(1, sizeof *v);
    if (!v || !(v->data = ns_calloc(n, sizeof(float)))) {
        free(v);
        ns_error(NS_ERR_NOMEM, "out of memory for a %zu x %zu volume", nvox, nvol);
        return NULL;
    }
    v->geom = *g;
    v->nvox = nvox;
    v->nvol = v->nvol_file = nvol;
    v->format = NS_FMT_NIFTI1;
    v->datatype = NIFTI_TYPE_FLOAT32;
    return v;
}

void ns_volume_free(ns_volume *v)
{
    if (!v)
        return;
    free(v->data);
    free(v->path);
    free(v);
}

void ns_volume_stats(const ns_volume *v, double *min, double *max, double *mean,
                     size_t *nonfinite)
{
    size_t n = v->data ? v->nvox * v->nvol : 0, bad = 0;
    float lo = INFINITY, hi = -INFINITY;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        float x = v->data[i];
        if (!isfinite(x)) {
            bad++;
            continue;
        }
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        sum += x;
    }
    size_t good = n - bad;
    *min = good ? lo : NAN;
    *max = good ? hi : NAN;
    *mean = good ? sum / (double)good : NAN;
    *nonfinite = bad;
}
