/* nifti_io: round trips through nifticlib's own writer (every datatype,
 * NIfTI-1/-2, .nii/.nii.gz/.hdr+.img, both byte orders), our atomic save
 * (libdeflate levels, ISA-L level 1), scaling, TR units, the BIDS sidecar,
 * first-volume reads, the zlib and libdeflate paths, the streaming volume
 * reader against ns_volume_load (data and errors), and clean failures.
 * requires: nifti_io */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nifti2_io.h>

#include "nifti_io/nifti_io.h"
#include "ns_test.h"

static char *tmp_path(const char *name)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", ns_test_tmpdir(), name);
    return p;
}

/* A zero-filled 3-D volume of 1 mm voxels. */
static ns_volume *unit_volume(int64_t nx, int64_t ny, int64_t nz)
{
    int64_t dim[3] = {nx, ny, nz};
    double vox[3] = {1, 1, 1};
    ns_geom g;
    ns_geom_default(&g, 3, dim, vox, 0);
    return ns_volume_create(&g);
}

static const int all_types[] = {NIFTI_TYPE_UINT8,  NIFTI_TYPE_INT8,   NIFTI_TYPE_INT16,
                                NIFTI_TYPE_UINT16, NIFTI_TYPE_INT32,  NIFTI_TYPE_UINT32,
                                NIFTI_TYPE_INT64,  NIFTI_TYPE_UINT64, NIFTI_TYPE_FLOAT32,
                                NIFTI_TYPE_FLOAT64};
#define NTYPES (int)(sizeof all_types / sizeof all_types[0])

/* The i-th test value of a datatype, as the stored type would hold it,
 * returned as double; includes negative values for signed types and values
 * beyond the next smaller type's range. */
static double test_value(int dt, size_t i)
{
    long long k = (long long)(i * 7919 % 1000);
    switch (dt) {
    case NIFTI_TYPE_UINT8: return (double)(k % 256);
    case NIFTI_TYPE_INT8: return (double)(k % 256 - 128);
    case NIFTI_TYPE_INT16: return (double)(k * 60 - 30000);
    case NIFTI_TYPE_UINT16: return (double)(k * 65);
    case NIFTI_TYPE_INT32: return (double)(k * 4000000 - 2000000000LL);
    case NIFTI_TYPE_UINT32: return (double)(k * 4000000);
    case NIFTI_TYPE_INT64: return (double)(k * 1000003LL - 500000000LL) * 8;
    case NIFTI_TYPE_UINT64: return (double)(k * 1000003LL) * 8;
    case NIFTI_TYPE_FLOAT32: return (double)(float)(k * 0.37 - 150.125);
    default: return k * 0.37e-3 - 1e-2;
    }
}

static void store(void *data, int dt, size_t i, double x)
{
    switch (dt) {
    case NIFTI_TYPE_UINT8: ((uint8_t *)data)[i] = (uint8_t)x; break;
    case NIFTI_TYPE_INT8: ((int8_t *)data)[i] = (int8_t)x; break;
    case NIFTI_TYPE_INT16: ((int16_t *)data)[i] = (int16_t)x; break;
    case NIFTI_TYPE_UINT16: ((uint16_t *)data)[i] = (uint16_t)x; break;
    case NIFTI_TYPE_INT32: ((int32_t *)data)[i] = (int32_t)x; break;
    case NIFTI_TYPE_UINT32: ((uint32_t *)data)[i] = (uint32_t)x; break;
    case NIFTI_TYPE_INT64: ((int64_t *)data)[i] = (int64_t)x; break;
    case NIFTI_TYPE_UINT64: ((uint64_t *)data)[i] = (uint64_t)x; break;
    case NIFTI_TYPE_FLOAT32: ((float *)data)[i] = (float)x; break;
    default: ((double *)data)[i] = x; break;
    }
}

typedef struct {
    int nifti_type; /* NIFTI_FTYPE_* */
    int datatype;
    int64_t dim[8];
    double slope, inter;
    double tr;
    int time_units;
} spec;

/* nifticlib 3.0.1's nifti_image_write always writes NIfTI-1 (and cannot
 * write a single-file NIfTI-2), so NIfTI-2 files are made from nifticlib's
 * own NIfTI-2 header (nifti_convert_nim2n2hdr) followed by the data. */
static void write_nifti2(nifti_image *nim, const char *path, int pair)
{
    nifti_2_header h;
    ck_assert_int_eq(nifti_convert_nim2n2hdr(nim, &h), 0);
    memcpy(h.magic, pair ? "ni2\0\r\n\032\n" : "n+2\0\r\n\032\n", 8);
    h.vox_offset = pair ? 0 : 544;
    int gz = strstr(path, ".gz") != NULL;
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    gzwrite(f, &h, sizeof h);
    if (pair) {
        ck_assert_int_eq(gzclose(f), Z_OK);
        f = gzopen(nim->iname, gz ? "wb" : "wbT");
    } else {
        gzwrite(f, "\0\0\0\0", 4);
    }
    gzwrite(f, nim->data, (unsigned)(nim->nvox * nim->nbyper));
    ck_assert_int_eq(gzclose(f), Z_OK);
}

/* Writes an image with nifticlib itself (the peer writer): oblique qform,
 * a different sform, units, TR. path picks .nii/.nii.gz/.hdr. */
static nifti_image *nifticlib_write(const char *path, const spec *s)
{
    nifti_image *nim = nifti_make_new_nim(s->dim, s->datatype, 1);
    ck_assert_ptr_nonnull(nim);
    for (size_t i = 0; i < (size_t)nim->nvox; i++)
        store(nim->data, s->datatype, i, test_value(s->datatype, i));
    nim->pixdim[1] = nim->dx = 2.5;
    nim->pixdim[2] = nim->dy = 3;
    nim->pixdim[3] = nim->dz = 3.5;
    nim->pixdim[4] = nim->dt = s->tr;
    nim->xyz_units = NIFTI_UNITS_MM;
    nim->time_units = s->time_units;
    nim->scl_slope = s->slope;
    nim->scl_inter = s->inter;
    nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->quatern_b = 0.1;
    nim->quatern_c = -0.2;
    nim->quatern_d = 0.3;
    nim->qoffset_x = -90;
    nim->qoffset_y = 120;
    nim->qoffset_z = -60.5;
    nim->qfac = -1;
    nim->pixdim[0] = -1;
    nim->sform_code = NIFTI_XFORM_MNI_152;
    memset(&nim->sto_xyz, 0, sizeof nim->sto_xyz);
    nim->sto_xyz.m[0][0] = -2.5;
    nim->sto_xyz.m[1][1] = 3;
    nim->sto_xyz.m[2][2] = 3.5;
    nim->sto_xyz.m[0][1] = 0.25;
    nim->sto_xyz.m[0][3] = 90;
    nim->sto_xyz.m[1][3] = -126;
    nim->sto_xyz.m[2][3] = -72;
    nim->sto_xyz.m[3][3] = 1;
    nim->nifti_type = s->nifti_type;
    free(nim->fname);
    free(nim->iname);
    char base[1024];
    size_t n = strlen(path) - (strstr(path, ".nii.gz") ? 7 : 4);
    snprintf(base, sizeof base, "%.*s", (int)n, path);
    nim->fname = malloc(n + 8);
    nim->iname = malloc(n + 8);
    if (nim->nifti_type == NIFTI_FTYPE_NIFTI1_1 || nim->nifti_type == NIFTI_FTYPE_NIFTI2_1) {
        strcpy(nim->fname, path);
        strcpy(nim->iname, path);
    } else {
        snprintf(nim->fname, n + 8, "%s.hdr", base);
        snprintf(nim->iname, n + 8, "%s.img", base);
    }
    if (s->nifti_type >= NIFTI_FTYPE_NIFTI2_1)
        write_nifti2(nim, path, s->nifti_type == NIFTI_FTYPE_NIFTI2_2);
    else
        nifti_image_write(nim);
    /* the geometry nifticlib computes for what it wrote */
    nifti_image *back = nifti_image_read(path, 0);
    ck_assert_msg(back != NULL, "nifticlib cannot re-read %s", path);
    back->data = nim->data;
    nim->data = NULL;
    nifti_image_free(nim);
    return back;
}

static void check_geometry(const ns_volume *v, const nifti_image *ref)
{
    ck_assert_int_eq(v->datatype, ref->datatype);
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(v->geom.dim[i], i < ref->dim[0] ? ref->dim[i + 1] : 1);
    for (int i = 0; i < ref->dim[0]; i++)
        ck_assert_double_eq_tol(v->geom.pixdim[i], ref->pixdim[i + 1], 1e-6);
    ck_assert_int_eq(v->geom.qform_code, ref->qform_code);
    ck_assert_int_eq(v->geom.sform_code, ref->sform_code);
    ck_assert_int_eq(v->geom.xyz_units, ref->xyz_units);
    ck_assert_int_eq(v->geom.time_units, ref->time_units);
    ck_assert_double_eq(v->geom.qfac, ref->qfac);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            ck_assert_double_eq_tol(v->geom.qto[i][j], ref->qto_xyz.m[i][j], 1e-5);
            ck_assert_double_eq_tol(v->geom.sto[i][j], ref->sto_xyz.m[i][j], 1e-5);
        }
}

/* Every stored value v must load as (float)(v * slope + inter). */
static void check_data(const ns_volume *v, const spec *s, size_t nvalues)
{
    ck_assert_ptr_nonnull(v->data);
    int scaled = s->slope != 0 && isfinite(s->slope);
    for (size_t i = 0; i < nvalues; i++) {
        double stored = test_value(s->datatype, i);
        if (s->datatype == NIFTI_TYPE_FLOAT32)
            stored = (float)stored;
        float want = (float)(scaled ? stored * s->slope + s->inter : stored);
        if (v->data[i] != want)
            ck_abort_msg("%s value %zu: %.9g != %.9g", ns_nifti_datatype_name(s->datatype), i,
                         (double)v->data[i], (double)want);
    }
}

static spec make_spec(int nifti_type, int dt)
{
    spec s = {nifti_type, dt, {4, 5, 4, 3, 6, 1, 1, 1}, 0, 0, 2.0, NIFTI_UNITS_SEC};
    return s;
}

static void roundtrip(const char *name, const spec *s)
{
    char *path = tmp_path(name);
    nifti_image *ref = nifticlib_write(path, s);
    ns_volume *v = NULL;
    ck_assert_msg(ns_volume_load(path, NULL, &v) == NS_OK, "%s: %s", name, ns_last_error());
    check_geometry(v, ref);
    ck_assert_uint_eq(v->nvox * v->nvol, (size_t)ref->nvox);
    check_data(v, s, (size_t)ref->nvox);
    ck_assert_int_eq(v->format, s->nifti_type >= NIFTI_FTYPE_NIFTI2_1 ? NS_FMT_NIFTI2 : NS_FMT_NIFTI1);
    ns_volume_free(v);
    nifti_image_free(ref);
}

START_TEST(test_roundtrip_every_datatype)
{
    static const struct {
        int type;
        const char *ext;
    } forms[] = {{NIFTI_FTYPE_NIFTI1_1, ".nii"},    {NIFTI_FTYPE_NIFTI1_1, ".nii.gz"},
                 {NIFTI_FTYPE_NIFTI1_2, ".hdr"},    {NIFTI_FTYPE_NIFTI2_1, ".nii"},
                 {NIFTI_FTYPE_NIFTI2_1, ".nii.gz"}, {NIFTI_FTYPE_NIFTI2_2, ".hdr"}};
    for (int f = 0; f < (int)(sizeof forms / sizeof forms[0]); f++)
        for (int t = 0; t < NTYPES; t++) {
            char name[128];
            snprintf(name, sizeof name, "rt_%d_%s%s", forms[f].type,
                     ns_nifti_datatype_name(all_types[t]), forms[f].ext);
            spec s = make_spec(forms[f].type, all_types[t]);
            roundtrip(name, &s);
        }
}
END_TEST

/* Rewrites a little-endian .nii as big-endian: header fields and data. */
static void make_big_endian(const char *src, const char *dst, int dt, size_t n)
{
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    nifti_1_header h;
    ck_assert_int_eq(fread(&h, sizeof h, 1, f), 1);
    int vox = (int)h.vox_offset, nbyper = 0, swapsize = 0;
    nifti_datatype_sizes(dt, &nbyper, &swapsize);
    unsigned char *rest = malloc((size_t)vox - sizeof h + n * (size_t)nbyper);
    ck_assert_int_eq(fread(rest, (size_t)vox - sizeof h + n * (size_t)nbyper, 1, f), 1);
    fclose(f);
    nifti_swap_as_nifti1(&h);
    if (swapsize > 1)
        nifti_swap_Nbytes((int64_t)n, swapsize, rest + vox - sizeof h);
    f = fopen(dst, "wb");
    fwrite(&h, sizeof h, 1, f);
    fwrite(rest, (size_t)vox - sizeof h + n * (size_t)nbyper, 1, f);
    fclose(f);
    free(rest);
}

START_TEST(test_big_endian)
{
    for (int t = 0; t < NTYPES; t++) {
        spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, all_types[t]);
        s.slope = 0.5;
        s.inter = 3;
        char *le = tmp_path("le.nii"), *be = tmp_path("be.nii");
        nifti_image *ref = nifticlib_write(le, &s);
        make_big_endian(le, be, s.datatype, (size_t)ref->nvox);
        ns_volume *v = NULL;
        ck_assert_msg(ns_volume_load(be, NULL, &v) == NS_OK, "%s", ns_last_error());
        check_geometry(v, ref);
        check_data(v, &s, (size_t)ref->nvox);
        ns_volume_free(v);
        nifti_image_free(ref);
    }
}
END_TEST

START_TEST(test_scaling)
{
    const double slopes[][2] = {{2, -3}, {0, 5}, {NAN, 1}, {-0.125, 1000}};
    for (int k = 0; k < 4; k++) {
        spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_INT16);
        s.slope = slopes[k][0];
        s.inter = slopes[k][1];
        char *p = tmp_path("scaled.nii.gz");
        nifti_image *ref = nifticlib_write(p, &s);
        ns_volume *v = NULL;
        ck_assert_int_eq(ns_volume_load(p, NULL, &v), NS_OK);
        check_data(v, &s, (size_t)ref->nvox); /* slope 0 / NaN: unscaled */
        if (isfinite(s.slope))
            ck_assert_double_eq(v->scl_slope, s.slope);
        ns_volume_free(v);
        nifti_image_free(ref);
    }
}
END_TEST

static double load_tr(const char *path, int no_sidecar, int *source)
{
    ns_volume *v = NULL;
    ns_load_opts o = {0};
    o.no_sidecar = no_sidecar;
    ck_assert_msg(ns_volume_load(path, &o, &v) == NS_OK, "%s", ns_last_error());
    double tr = v->geom.tr;
    *source = v->geom.tr_source;
    ns_volume_free(v);
    return tr;
}

START_TEST(test_tr_units)
{
    const struct {
        double pixdim;
        int units;
        double tr;
    } cases[] = {{2, NIFTI_UNITS_SEC, 2},      {2000, NIFTI_UNITS_MSEC, 2},
                 {720, NIFTI_UNITS_MSEC, 0.72}, {1.5e6, NIFTI_UNITS_USEC, 1.5},
                 {3, NIFTI_UNITS_UNKNOWN, 3},  {2, NIFTI_UNITS_HZ, 0},
                 {0, NIFTI_UNITS_SEC, 0}};
    for (int k = 0; k < 7; k++) {
        spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_FLOAT32);
        s.tr = cases[k].pixdim;
        s.time_units = cases[k].units;
        char *p = tmp_path("tr.nii");
        nifti_image_free(nifticlib_write(p, &s));
        int src;
        ck_assert_double_eq_tol(load_tr(p, 1, &src), cases[k].tr, 1e-7);
        ck_assert_int_eq(src, cases[k].tr > 0 ? 1 : 0);
    }
    /* a 3-D image has no TR whatever pixdim[4] says */
    spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_FLOAT32);
    s.dim[0] = 3;
    s.dim[4] = 1;
    char *p = tmp_path("tr3d.nii");
    nifti_image_free(nifticlib_write(p, &s));
    int src;
    ck_assert_double_eq(load_tr(p, 1, &src), 0);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_sidecar)
{
    spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_INT16);
    s.tr = 2000;
    s.time_units = NIFTI_UNITS_MSEC;
    char *nii = tmp_path("sub-01_task-rest_bold.nii.gz");
    char *json = ns_sidecar_path(nii);
    ck_assert_str_eq(json, tmp_path("sub-01_task-rest_bold.json"));
    nifti_image_free(nifticlib_write(nii, &s));
    int src;
    write_text(json, "{\"RepetitionTime\": 0.8, \"TaskName\": \"rest\"}");
    ck_assert_double_eq(load_tr(nii, 0, &src), 0.8); /* mismatch: sidecar wins, warned */
    ck_assert_int_eq(src, 2);
    ck_assert_double_eq(load_tr(nii, 1, &src), 2.0);
    ck_assert_int_eq(src, 1);
    write_text(json, "{\"RepetitionTime\": \"fast\"}");
    ck_assert_double_eq(load_tr(nii, 0, &src), 2.0); /* unusable value: ignored */
    write_text(json, "{ not json");
    ck_assert_double_eq(load_tr(nii, 0, &src), 2.0); /* unreadable sidecar: ignored */
    write_text(json, "{\"RepetitionTime\": 2}");
    ck_assert_double_eq(load_tr(nii, 0, &src), 2.0);
    ck_assert_int_eq(src, 2);
    free(json);
    char *img = ns_sidecar_path("/a/b.hdr");
    ck_assert_str_eq(img, "/a/b.json");
    free(img);
}
END_TEST

START_TEST(test_first_volume_only)
{
    spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_INT16);
    s.dim[4] = 9;
    const char *names[] = {"fv.nii", "fv.nii.gz"};
    for (int k = 0; k < 2; k++) {
        char *p = tmp_path(names[k]);
        nifti_image *ref = nifticlib_write(p, &s);
        ns_load_opts o = {0};
        o.first_volume_only = 1;
        ns_volume *v = NULL;
        ck_assert_int_eq(ns_volume_load(p, &o, &v), NS_OK);
        ck_assert_uint_eq(v->nvol, 1);
        ck_assert_uint_eq(v->nvol_file, 9);
        ck_assert_int_eq(v->geom.ndim, 3);
        ck_assert_int_eq(v->geom.dim[3], 1);
        ck_assert_double_eq(v->geom.tr, 2.0);
        check_data(v, &s, v->nvox);
        ns_volume_free(v);
        nifti_image_free(ref);
    }
    /* a .nii.gz cut after the first volume still gives its first volume */
    char *full = tmp_path("fv.nii.gz"), *cut = tmp_path("fv_cut.nii.gz");
    gzFile in = gzopen(full, "rb"), out = gzopen(cut, "wb");
    char buf[352 + 4 * 5 * 4 * 2 + 100];
    ck_assert_int_eq(gzread(in, buf, sizeof buf), (int)sizeof buf);
    gzwrite(out, buf, sizeof buf);
    gzclose(in);
    gzclose(out);
    ns_load_opts o = {0};
    o.first_volume_only = 1;
    ns_volume *v = NULL;
    ck_assert_int_eq(ns_volume_load(cut, &o, &v), NS_OK);
    check_data(v, &s, v->nvox);
    ns_volume_free(v);
    ck_assert_int_eq(ns_volume_load(cut, NULL, &v), NS_ERR_FORMAT);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "truncated file"));
}
END_TEST

/* The zlib path, multi-member gzip (which the libdeflate path hands over to
 * zlib) and the fast path must give the same values. */
START_TEST(test_gzip_paths)
{
    spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_FLOAT32);
    char *plain = tmp_path("gzp.nii"), *multi = tmp_path("gzp_multi.nii.gz");
    nifti_image *ref = nifticlib_write(plain, &s);
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(ns_read_file(plain, &raw, &len), NS_OK);
    gzFile out = gzopen(multi, "wb");
    gzwrite(out, raw, 1000);
    gzclose(out); /* first member */
    out = gzopen(multi, "ab");
    gzwrite(out, raw + 1000, (unsigned)(len - 1000));
    gzclose(out); /* second member */
    free(raw);
    for (int zlib_only = 0; zlib_only < 2; zlib_only++) {
        ns_load_opts o = {0};
        o.zlib_only = zlib_only;
        ns_volume *v = NULL;
        ck_assert_msg(ns_volume_load(multi, &o, &v) == NS_OK, "%s", ns_last_error());
        check_data(v, &s, (size_t)ref->nvox);
        ns_volume_free(v);
    }
    nifti_image_free(ref);
}
END_TEST

START_TEST(test_save_roundtrip)
{
    int64_t dim[4] = {7, 6, 5, 4};
    double vox[3] = {2, 2, 2.5};
    ns_geom g;
    ns_geom_default(&g, 4, dim, vox, 1.5);
    ns_volume *v = ns_volume_create(&g);
    ck_assert_ptr_nonnull(v);
    size_t n = v->nvox * v->nvol;
    for (size_t i = 0; i < n; i++)
        v->data[i] = (float)(i % 300) * 0.9f - 10.3f;
    v->data[3] = NAN;
    /* distinct stems: nifticlib looks for x.nii before x.nii.gz */
    const char *names[] = {"save_plain.nii", "save_gz.nii.gz"};
    for (int k = 0; k < 2; k++)
        for (int type = 0; type < 2; type++) {
            char *p = tmp_path(names[k]);
            ck_assert_msg(ns_volume_save(v, p, (ns_save_type)type) == NS_OK, "%s", ns_last_error());
            ns_volume *w = NULL;
            ck_assert_int_eq(ns_volume_load(p, NULL, &w), NS_OK);
            ck_assert_int_eq(w->datatype, type ? NIFTI_TYPE_UINT8 : NIFTI_TYPE_FLOAT32);
            ck_assert(ns_geom_same_grid(&v->geom, &w->geom));
            ck_assert_double_eq_tol(w->geom.tr, 1.5, 1e-6);
            for (int i = 0; i < 7; i++) {
                ck_assert_int_eq(w->geom.dim[i], v->geom.dim[i]);
                ck_assert_double_eq_tol(w->geom.pixdim[i], v->geom.pixdim[i], 1e-6);
            }
            for (size_t i = 0; i < n; i++) {
                float x = v->data[i];
                float want = type == 0 ? x : !(x > 0) ? 0 : x >= 255 ? 255 : rintf(x);
                if (!(w->data[i] == want || (isnan(want) && isnan(w->data[i]))))
                    ck_abort_msg("saved value %zu: %g != %g", i, (double)w->data[i], (double)want);
            }
            ns_volume_free(w);
            /* nifticlib reads what we wrote */
            nifti_image *nim = nifti_image_read(p, 1);
            ck_assert_ptr_nonnull(nim);
            ck_assert_int_eq(nim->nvox, (int64_t)n);
            nifti_image_free(nim);
        }
    /* no temporary file is left behind */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '^\\.ns-'", ns_test_tmpdir());
    ck_assert_int_ne(system(cmd), 0);
    ns_volume_free(v);
}
END_TEST

/* dims beyond NIfTI-1's 32767 are saved as NIfTI-2 */
START_TEST(test_save_nifti2)
{
    ns_volume *v = unit_volume(40000, 2, 1);
    for (size_t i = 0; i < v->nvox; i++)
        v->data[i] = (float)i * 0.25f;
    char *p = tmp_path("wide.nii.gz");
    ck_assert_msg(ns_volume_save(v, p, NS_SAVE_FLOAT32) == NS_OK, "%s", ns_last_error());
    ns_volume *w = NULL;
    ck_assert_int_eq(ns_volume_load(p, NULL, &w), NS_OK);
    ck_assert_int_eq(w->format, NS_FMT_NIFTI2);
    ck_assert_int_eq(w->geom.dim[0], 40000);
    ck_assert(memcmp(w->data, v->data, v->nvox * sizeof(float)) == 0);
    ns_volume_free(w);
    ns_volume_free(v);
}
END_TEST

/* The compression level changes the size, not the data; nibabel's default
 * (zlib level 1) file sizes are not our concern, but every level must give
 * a file our reader and nifticlib read back exactly. */
START_TEST(test_save_levels)
{
    ns_volume *v = unit_volume(32, 32, 16);
    for (size_t i = 0; i < v->nvox; i++) /* smooth: compressible, level-dependent */
        v->data[i] = (float)((i / 7) % 50) * 0.5f;
    off_t size[2];
    const int levels[2] = {1, 12};
    for (int k = 0; k < 2; k++) {
        char *p = tmp_path(k ? "lv12.nii.gz" : "lv1.nii.gz");
        ck_assert_msg(ns_volume_save_level(v, p, NS_SAVE_FLOAT32, levels[k]) == NS_OK, "%s",
                      ns_last_error());
        struct stat st;
        ck_assert_int_eq(stat(p, &st), 0);
        size[k] = st.st_size;
        ns_volume *w = NULL;
        ck_assert_int_eq(ns_volume_load(p, NULL, &w), NS_OK);
        ck_assert(memcmp(w->data, v->data, v->nvox * sizeof(float)) == 0);
        ns_volume_free(w);
        nifti_image *nim = nifti_image_read(p, 1);
        ck_assert_ptr_nonnull(nim);
        ck_assert(memcmp(nim->data, v->data, v->nvox * sizeof(float)) == 0);
        nifti_image_free(nim);
    }
    ck_assert_msg(size[1] < size[0], "level 12 %lld bytes, level 1 %lld", (long long)size[1],
                  (long long)size[0]);
    ck_assert_int_eq(ns_volume_save_level(v, tmp_path("lv0.nii.gz"), NS_SAVE_FLOAT32, 0),
                     NS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "lv0.nii.gz"));
    ns_volume_free(v);
}
END_TEST

START_TEST(test_save_failures)
{
    ns_volume *v = unit_volume(3, 3, 3);
    ck_assert_int_eq(ns_volume_save(v, "/nonexistent_dir/x.nii.gz", NS_SAVE_FLOAT32), NS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "/nonexistent_dir/x.nii.gz"));
    ck_assert_int_eq(ns_volume_save(v, tmp_path("x.txt"), NS_SAVE_FLOAT32), NS_ERR_ARG);
    v->nvol = 2; /* inconsistent with the geometry */
    ck_assert_int_eq(ns_volume_save(v, tmp_path("x.nii"), NS_SAVE_FLOAT32), NS_ERR_ARG);
    ns_volume_free(v);
    /* A failing write (here: the file size limit, as on a full disk) that
     * nifticlib's void writer does not report must be caught and leave no
     * file under the final name. */
    ns_volume *w = unit_volume(64, 64, 64);
    for (size_t i = 0; i < w->nvox; i++) /* incompressible */
        w->data[i] = (float)((i * 2654435761u) % 1000003u) / 7.0f;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 100000; /* soft only: restored below for the tests that follow (CK_FORK=no) */
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    const char *outs[] = {"full.nii", "full.nii.gz", "full1.nii.gz"};
    const int levels[] = {6, 6, 1}; /* libdeflate, ISA-L */
    for (int k = 0; k < 3; k++) {
        char *p = tmp_path(outs[k]);
        ck_assert_int_eq(ns_volume_save_level(w, p, NS_SAVE_FLOAT32, levels[k]), NS_ERR_IO);
        ck_assert_ptr_nonnull(strstr(ns_last_error(), "write failed"));
        ck_assert_ptr_nonnull(strstr(ns_last_error(), p));
        ck_assert(!ns_file_exists(p));
    }
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ns_volume_free(w);
}
END_TEST

START_TEST(test_header_only_and_errors)
{
    spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_INT16);
    char *p = tmp_path("hdr.nii.gz");
    nifti_image_free(nifticlib_write(p, &s));
    ns_volume *v = NULL;
    ck_assert_int_eq(ns_volume_load_header(p, &v), NS_OK);
    ck_assert_ptr_null(v->data);
    ck_assert_int_eq(v->geom.ndim, 4);
    ck_assert_uint_eq(v->nvox, 5 * 4 * 3); /* dim = {4, 5, 4, 3, 6} */
    ck_assert_uint_eq(v->nvol, 6);
    ns_volume_free(v);
    v = (ns_volume *)1;
    ck_assert_int_eq(ns_volume_load(tmp_path("nope.nii"), NULL, &v), NS_ERR_IO);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "nope.nii)"));
    ns_volume_free(NULL);
}
END_TEST

START_TEST(test_stats_and_grid)
{
    ns_volume *v = unit_volume(2, 2, 2);
    float vals[8] = {1, -2, NAN, 4, INFINITY, 0.5f, -INFINITY, 3};
    memcpy(v->data, vals, sizeof vals);
    double mn, mx, mean;
    size_t bad;
    ns_volume_stats(v, &mn, &mx, &mean, &bad);
    ck_assert_double_eq(mn, -2);
    ck_assert_double_eq(mx, 4);
    ck_assert_double_eq_tol(mean, 6.5 / 5, 1e-12);
    ck_assert_uint_eq(bad, 3);
    const ns_geom *g = &v->geom;
    ns_geom h = *g;
    ck_assert(ns_geom_same_grid(g, &h));
    h.sto[0][3] += 0.5;
    ck_assert(!ns_geom_same_grid(g, &h));
    h = *g;
    h.dim[2] = 3;
    ck_assert(!ns_geom_same_grid(g, &h));
    ns_volume_free(v);
}
END_TEST

START_TEST(test_masks)
{
    int64_t dim[4] = {3, 3, 2, 2};
    double vox[3] = {2, 2, 2};
    ns_geom g;
    ns_geom_default(&g, 4, dim, vox, 1);
    ns_volume *v = ns_volume_create(&g);
    for (size_t i = 0; i < v->nvox * v->nvol; i++)
        v->data[i] = (float)(i % 5);
    v->data[4] = NAN;
    uint8_t *m = NULL;
    size_t n = 0, want = 0;
    ck_assert_int_eq(ns_mask_from_volume(v, 1, 2.5, &m, &n), NS_OK);
    for (size_t i = 0; i < v->nvox; i++) {
        ck_assert_int_eq(m[i], (v->nvox + i) % 5 > 2.5);
        want += m[i];
    }
    ck_assert_uint_eq(n, want);
    free(m);
    ck_assert_int_eq(ns_mask_from_volume(v, 2, 0, &m, &n), NS_ERR_ARG);
    /* a mask file on the same grid, saved as uint8; and on another grid */
    char *p = tmp_path("mask.nii.gz");
    ck_assert_int_eq(ns_volume_save(v, p, NS_SAVE_UINT8), NS_OK);
    ck_assert_int_eq(ns_mask_load(p, &v->geom, &m, &n), NS_OK);
    for (size_t i = 0; i < v->nvox; i++)
        ck_assert_int_eq(m[i], i != 4 && i % 5 != 0);
    free(m);
    ns_geom other = v->geom;
    other.sto[1][3] += 4;
    ck_assert_int_eq(ns_mask_load(p, &other, &m, &n), NS_ERR_DATA);
    ck_assert_ptr_null(m);
    ns_volume_free(v);
}
END_TEST

/* ------------------------------------------------------------ volume reader */

/* A float32 image (4-D, 3-D when dim4[3] is 1) of noise inside a box and
 * zeros around it, as in a brain-masked map. */
static ns_volume *noise_volume(const int64_t *dim4, unsigned seed)
{
    double vox[3] = {3, 3, 3};
    ns_geom g;
    ns_geom_default(&g, dim4[3] > 1 ? 4 : 3, dim4, vox, dim4[3] > 1 ? 2.0 : 0);
    ns_volume *v = ns_volume_create(&g);
    ck_assert_ptr_nonnull(v);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t t = 0; t < v->nvol; t++)
        for (size_t i = 0; i < v->nvox; i++) {
            size_t ix = i % (size_t)dim4[0], iy = i / (size_t)dim4[0] % (size_t)dim4[1];
            x = x * 1664525u + 1013904223u;
            int inside = ix > 2 && ix + 3 < (size_t)dim4[0] && iy > 2 && iy + 3 < (size_t)dim4[1];
            v->data[t * v->nvox + i] = inside ? (float)((int32_t)x >> 8) * 1e-6f : 0.0f;
        }
    return v;
}

/* A path in the test directory that stays valid (tmp_path's buffers are
 * reused after 8 calls). */
typedef struct {
    char s[1024];
} kept_path;

static kept_path keep_path(const char *name)
{
    kept_path k;
    snprintf(k.s, sizeof k.s, "%s", tmp_path(name));
    return k;
}

/* noise_volume saved by ns_volume_save_level (.nii or .nii.gz). */
static void save_noise(const char *path, const int64_t *dim4, int level)
{
    ns_volume *v = noise_volume(dim4, 7);
    ck_assert_msg(ns_volume_save_level(v, path, NS_SAVE_FLOAT32, level) == NS_OK, "%s",
                  ns_last_error());
    ns_volume_free(v);
}

/* The first n bytes of file src (all of it: SIZE_MAX), gzipped (one
 * member) into dst. */
static void gzip_prefix(const char *src, size_t n, const char *dst)
{
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(ns_read_file(src, &raw, &len), NS_OK);
    n = n < len ? n : len;
    gzFile out = gzopen(dst, "wb");
    ck_assert_int_eq(gzwrite(out, raw, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(out), Z_OK);
    free(raw);
}

static void gzip_file(const char *src, const char *dst)
{
    gzip_prefix(src, SIZE_MAX, dst);
}

static void write_bytes(const char *path, const void *data, size_t len, const char *mode)
{
    FILE *f = fopen(path, mode);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The reader gives ns_volume_load's header and, volume by volume, its data
 * bit for bit; one call too many is NS_ERR_ARG. */
static void check_reader(const char *path, const ns_load_opts *o)
{
    ns_volume *v = NULL;
    ns_volume_reader *r = NULL;
    ck_assert_msg(ns_volume_load(path, o, &v) == NS_OK, "%s: %s", path, ns_last_error());
    ck_assert_msg(ns_volume_reader_open(path, o, &r) == NS_OK, "%s: %s", path, ns_last_error());
    const ns_volume *h = ns_volume_reader_header(r);
    ck_assert_ptr_null(h->data);
    ck_assert_str_eq(h->path, v->path);
    ck_assert(memcmp(&h->geom, &v->geom, sizeof h->geom) == 0);
    ck_assert_uint_eq(h->nvox, v->nvox);
    ck_assert_uint_eq(h->nvol, v->nvol);
    ck_assert_uint_eq(h->nvol_file, v->nvol_file);
    ck_assert_int_eq(h->format, v->format);
    ck_assert_int_eq(h->datatype, v->datatype);
    ck_assert(memcmp(&h->scl_slope, &v->scl_slope, sizeof(double)) == 0);
    ck_assert(memcmp(&h->scl_inter, &v->scl_inter, sizeof(double)) == 0);
    float *buf = malloc(h->nvox * sizeof(float));
    for (size_t t = 0; t < h->nvol; t++) {
        ck_assert_msg(ns_volume_reader_next(r, buf) == NS_OK, "%s volume %zu: %s", path, t,
                      ns_last_error());
        ck_assert_msg(memcmp(buf, v->data + t * v->nvox, v->nvox * sizeof(float)) == 0,
                      "%s: volume %zu differs from ns_volume_load's", path, t);
    }
    ck_assert_int_eq(ns_volume_reader_next(r, buf), NS_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "volumes have been read"));
    free(buf);
    ns_volume_reader_free(r);
    ns_volume_free(v);
}

START_TEST(test_reader_formats)
{
    const int64_t dim[4] = {24, 20, 12, 5};
    kept_path kp = keep_path("rd_noise.nii"), kg = keep_path("rd_noise6.nii.gz");
    const char *plain = kp.s, *gz6 = kg.s;
    save_noise(plain, dim, 6);
    save_noise(gz6, dim, 6);
    check_reader(plain, NULL);
    check_reader(gz6, NULL); /* libdeflate level 6 */
    save_noise(tmp_path("rd_noise1.nii.gz"), dim, 1);
    check_reader(tmp_path("rd_noise1.nii.gz"), NULL); /* ISA-L level 1 */
    const int64_t big[4] = {64, 64, 24, 8}; /* ~3 MB: read mapped, not by read() */
    save_noise(tmp_path("rd_big.nii.gz"), big, 1);
    check_reader(tmp_path("rd_big.nii.gz"), NULL);
    /* every datatype, scaled, plain and gzip; NIfTI-2 */
    for (int t = 0; t < NTYPES; t++) {
        spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, all_types[t]);
        s.slope = 0.5;
        s.inter = -3;
        const char *names[] = {"rd_dt.nii", "rd_dt_gz.nii.gz"};
        for (int k = 0; k < 2; k++) {
            nifti_image_free(nifticlib_write(tmp_path(names[k]), &s));
            check_reader(tmp_path(names[k]), NULL);
        }
        s.nifti_type = NIFTI_FTYPE_NIFTI2_1;
        nifti_image_free(nifticlib_write(tmp_path("rd_dt2.nii.gz"), &s));
        check_reader(tmp_path("rd_dt2.nii.gz"), NULL);
    }
    /* byte-swapped, plain and gzip */
    spec s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_INT16);
    s.slope = 2;
    s.inter = 100;
    nifti_image *ref = nifticlib_write(tmp_path("rd_le.nii"), &s);
    make_big_endian(tmp_path("rd_le.nii"), tmp_path("rd_be.nii"), s.datatype, (size_t)ref->nvox);
    nifti_image_free(ref);
    gzip_file(tmp_path("rd_be.nii"), tmp_path("rd_be_gz.nii.gz"));
    check_reader(tmp_path("rd_be.nii"), NULL);
    check_reader(tmp_path("rd_be_gz.nii.gz"), NULL);
    /* Analyze 7.5 and NIfTI-1 pairs, plain and gzip, by either name */
    const int pairs[] = {NIFTI_FTYPE_ANALYZE, NIFTI_FTYPE_NIFTI1_2};
    for (int k = 0; k < 2; k++) {
        s = make_spec(pairs[k], NIFTI_TYPE_UINT16);
        nifti_image_free(nifticlib_write(tmp_path("rd_pair.hdr"), &s));
        check_reader(tmp_path("rd_pair.hdr"), NULL);
        check_reader(tmp_path("rd_pair.img"), NULL);
        gzip_file(tmp_path("rd_pair.hdr"), tmp_path("rd_pairz.hdr.gz"));
        gzip_file(tmp_path("rd_pair.img"), tmp_path("rd_pairz.img.gz"));
        check_reader(tmp_path("rd_pairz.hdr.gz"), NULL);
        check_reader(tmp_path("rd_pairz.img.gz"), NULL);
    }
    /* 3-D (one volume), 5-D (dims 5..7 folded into nvol) */
    const int64_t d3[4] = {30, 20, 10, 1};
    save_noise(tmp_path("rd_3d.nii.gz"), d3, 6);
    check_reader(tmp_path("rd_3d.nii.gz"), NULL);
    s = make_spec(NIFTI_FTYPE_NIFTI1_1, NIFTI_TYPE_FLOAT32);
    s.dim[0] = 5;
    s.dim[5] = 2;
    nifti_image_free(nifticlib_write(tmp_path("rd_5d.nii.gz"), &s));
    check_reader(tmp_path("rd_5d.nii.gz"), NULL);
    /* sidecar TR, and the sidecar ignored */
    write_text(tmp_path("rd_noise6.json"), "{\"RepetitionTime\": 0.8}");
    check_reader(gz6, NULL);
    ns_load_opts o = {0};
    o.no_sidecar = 1;
    check_reader(gz6, &o);
}
END_TEST

/* The reader's first failure on path (at open or at any volume). */
static ns_status reader_failure(const char *path, const ns_load_opts *o, char *msg, size_t cap)
{
    ns_volume_reader *r = NULL;
    ns_status s = ns_volume_reader_open(path, o, &r);
    if (!s) {
        const ns_volume *h = ns_volume_reader_header(r);
        float *buf = malloc(h->nvox * sizeof(float));
        for (size_t t = 0; t < h->nvol && !s; t++)
            s = ns_volume_reader_next(r, buf);
        free(buf);
    }
    snprintf(msg, cap, "%s", ns_last_error());
    if (s && r) /* a failed reader refuses to go on */
        ck_assert_int_eq(ns_volume_reader_next(r, (float *)msg), NS_ERR_ARG);
    ns_volume_reader_free(r);
    return s;
}

/* ns_volume_load and the reader refuse path with the same status and the
 * same message, which contains want. */
static void check_same_failure(const char *path, const ns_load_opts *o, ns_status status,
                               const char *want)
{
    ns_volume *v = NULL;
    ns_status ls = ns_volume_load(path, o, &v);
    char lmsg[1024], rmsg[1024];
    snprintf(lmsg, sizeof lmsg, "%s", ns_last_error());
    ck_assert_msg(v == NULL, "%s: loaded despite the damage", path);
    ck_assert_msg(ls == status && strstr(lmsg, want) && strstr(lmsg, path),
                  "%s: load gave %d '%s', expected %d '%s'", path, (int)ls, lmsg, (int)status,
                  want);
    ns_status rs = reader_failure(path, o, rmsg, sizeof rmsg);
    ck_assert_msg(rs == ls && !strcmp(rmsg, lmsg), "%s: reader %d '%s', load %d '%s'", path,
                  (int)rs, rmsg, (int)ls, lmsg);
}

/* One volume only, as ns_volume_load's first_volume_only: a .nii.gz cut
 * after the first volume still gives it (the rest of the stream is not
 * checked), a whole read of it fails the same way in both. */
START_TEST(test_reader_first_volume)
{
    const int64_t dim[4] = {24, 20, 12, 5};
    kept_path kp = keep_path("rdf.nii"), kc = keep_path("rdf_cut.nii.gz");
    const char *plain = kp.s, *cut = kc.s;
    save_noise(plain, dim, 6);
    gzip_prefix(plain, 352 + 24 * 20 * 12 * 4 + 1000, cut);
    ns_load_opts o = {0};
    o.first_volume_only = 1;
    check_reader(plain, &o);
    check_reader(cut, &o);
    ns_volume_reader *r = NULL;
    ck_assert_int_eq(ns_volume_reader_open(cut, &o, &r), NS_OK);
    ck_assert_uint_eq(ns_volume_reader_header(r)->nvol, 1);
    ck_assert_uint_eq(ns_volume_reader_header(r)->nvol_file, 5);
    ck_assert_int_eq(ns_volume_reader_header(r)->geom.ndim, 3);
    ns_volume_reader_free(r);
    check_same_failure(cut, NULL, NS_ERR_FORMAT,
                       "truncated file: expected 115200 data bytes, found");
}
END_TEST

/* pigz/bgzip-style members, empty members and what follows the last member:
 * read on as zlib's gzread does (trailing bytes that are not a gzip header
 * are ignored). */
START_TEST(test_reader_members)
{
    /* big: more than the mapped window (1 MB), members across its edges */
    const int64_t small[4] = {24, 20, 12, 5}, big[4] = {64, 64, 24, 8};
    const int64_t *dim = _i ? big : small;
    size_t step = _i ? 700000 : 40000;
    kept_path kp = keep_path("rdm.nii"), km = keep_path("rdm_multi.nii.gz");
    const char *plain = kp.s, *multi = km.s;
    save_noise(plain, dim, 6);
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(ns_read_file(plain, &raw, &len), NS_OK);
    /* member boundaries: in the header, at the data, at a volume boundary,
     * then every 40000 bytes, with an empty member after the third */
    const size_t cuts[] = {100, 352, 352 + (size_t)(dim[0] * dim[1] * dim[2]) * 4};
    remove(multi);
    size_t at = 0;
    for (int k = 0; at < len; k++) {
        size_t end = k < 3 ? cuts[k] : at + step < len ? at + step : len;
        gzFile out = gzopen(multi, "ab");
        if (end > at)
            ck_assert_int_eq(gzwrite(out, raw + at, (unsigned)(end - at)), (int)(end - at));
        ck_assert_int_eq(gzclose(out), Z_OK);
        if (k == 2) {
            out = gzopen(multi, "ab"); /* empty member */
            ck_assert_int_eq(gzclose(out), Z_OK);
        }
        at = end;
    }
    free(raw);
    check_reader(multi, NULL);
    /* trailing garbage, zeros, a lone 0x1f: ignored by both */
    char *gz = NULL;
    size_t gzlen = 0;
    ck_assert_int_eq(ns_read_file(multi, &gz, &gzlen), NS_OK);
    const struct {
        const char *name;
        const char *tail;
        size_t n;
    } tails[] = {{"rdm_junk.nii.gz", "not gzip\n", 9},
                 {"rdm_zeros.nii.gz", "\0\0\0\0\0\0\0\0\0\0\0\0", 12},
                 {"rdm_1f.nii.gz", "\x1f", 1}};
    for (int k = 0; k < 3; k++) {
        const char *p = tmp_path(tails[k].name);
        write_bytes(p, gz, gzlen, "wb");
        write_bytes(p, tails[k].tail, tails[k].n, "ab");
        check_reader(p, NULL);
    }
    /* a gzip magic followed by junk is a broken member for both */
    const char *bad = tmp_path("rdm_badmember.nii.gz");
    write_bytes(bad, gz, gzlen, "wb");
    write_bytes(bad, "\x1f\x8b\x07junk", 7, "ab");
    check_same_failure(bad, NULL, NS_ERR_FORMAT, "corrupt gzip data: ");
    /* a member with reserved flag bits set: zlib refuses it (ISA-L alone
     * would not) */
    const char *flags = tmp_path("rdm_flags.nii.gz");
    gzip_prefix(plain, 1000, flags);
    char *m = NULL;
    size_t mlen = 0;
    ck_assert_int_eq(ns_read_file(flags, &m, &mlen), NS_OK);
    m[3] = (char)(m[3] | 0x20);
    write_bytes(flags, gz, gzlen, "wb");
    write_bytes(flags, m, mlen, "ab");
    check_same_failure(flags, NULL, NS_ERR_FORMAT, "corrupt gzip data: unknown header flags set");
    free(m);
    free(gz);
}
END_TEST

/* vox_offset > 352: extensions are skipped, also when they span several
 * input buffers of the gzip reader (300 KB of incompressible bytes). */
START_TEST(test_reader_extensions)
{
    const int64_t dim[4] = {24, 20, 12, 5};
    kept_path kp = keep_path("rde_src.nii"), ke = keep_path("rde.nii"),
              kz = keep_path("rde_gz.nii.gz");
    const char *plain = kp.s, *ext = ke.s, *extgz = kz.s;
    save_noise(plain, dim, 6);
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(ns_read_file(plain, &raw, &len), NS_OK);
    const int32_t esize = 300000, ecode = 6; /* NIFTI_ECODE_COMMENT, multiple of 16 */
    unsigned char *e = malloc((size_t)esize);
    memcpy(e, &esize, 4);
    memcpy(e + 4, &ecode, 4);
    uint32_t x = 12345;
    for (int32_t i = 8; i < esize; i++) {
        x = x * 1664525u + 1013904223u;
        e[i] = (unsigned char)(x >> 24);
    }
    float vox = (float)(352 + esize);
    memcpy(raw + 108, &vox, 4);
    raw[348] = 1; /* an extension follows */
    write_bytes(ext, raw, 352, "wb");
    write_bytes(ext, e, (size_t)esize, "ab");
    write_bytes(ext, raw + 352, len - 352, "ab");
    gzip_file(ext, extgz);
    check_reader(ext, NULL);
    check_reader(extgz, NULL);
    free(e);
    free(raw);
}
END_TEST

/* A file with its byte at pos XORed with mask, or cut to len bytes. */
static void damaged_copy(const char *src, const char *dst, size_t pos, unsigned char mask,
                         size_t len)
{
    char *raw = NULL;
    size_t n = 0;
    ck_assert_int_eq(ns_read_file(src, &raw, &n), NS_OK);
    if (mask)
        raw[pos] = (char)(raw[pos] ^ mask);
    write_bytes(dst, raw, len < n ? len : n, "wb");
    free(raw);
}

/* Broken files: the reader's status and message are ns_volume_load's. */
/* A gzip image of dim, damaged in every way, fails in the reader as in
 * ns_volume_load. */
static void check_broken_gz(const int64_t *dim, const char *gz)
{
    char trunc[64];
    snprintf(trunc, sizeof trunc, "truncated file: expected %lld data bytes, found",
             (long long)(dim[0] * dim[1] * dim[2] * dim[3] * 4));
    save_noise(gz, dim, 6);
    struct stat st;
    ck_assert_int_eq(stat(gz, &st), 0);
    size_t n = (size_t)st.st_size;
    const struct {
        const char *name;
        size_t pos;
        unsigned char mask;
        size_t len;
        const char *want;
    } cases[] = {
        {"rdb_half.nii.gz", 0, 0, n / 2, trunc},
        {"rdb_head.nii.gz", 0, 0, 5000, trunc},
        {"rdb_notrl1.nii.gz", 0, 0, n - 1, "the gzip stream ends before its trailer"},
        {"rdb_notrl4.nii.gz", 0, 0, n - 4, "the gzip stream ends before its trailer"},
        {"rdb_notrl8.nii.gz", 0, 0, n - 8, "the gzip stream ends before its trailer"},
        {"rdb_flip.nii.gz", n / 3, 0xff, SIZE_MAX, "corrupt gzip data: "},
        {"rdb_flip_early.nii.gz", 40, 0x55, SIZE_MAX, "corrupt gzip data: "},
        {"rdb_crc.nii.gz", n - 8, 0x01, SIZE_MAX, "corrupt gzip data: incorrect data check"},
        {"rdb_isize.nii.gz", n - 2, 0x01, SIZE_MAX, "corrupt gzip data: incorrect length check"},
        {"rdb_method.nii.gz", 2, 0x01, SIZE_MAX, "corrupt gzip data: unknown compression method"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *p = tmp_path(cases[k].name);
        damaged_copy(gz, p, cases[k].pos, cases[k].mask, cases[k].len);
        check_same_failure(p, NULL, NS_ERR_FORMAT, cases[k].want);
    }
}

START_TEST(test_reader_broken)
{
    const int64_t dim[4] = {32, 32, 20, 8}; /* ~600 KB compressed: several input buffers */
    const int64_t big[4] = {64, 64, 24, 8}; /* ~3 MB: mapped, the window slides */
    kept_path kg = keep_path("rdb.nii.gz"), kp = keep_path("rdb.nii");
    const char *gz = kg.s, *plain = kp.s;
    check_broken_gz(big, gz);
    check_broken_gz(dim, gz);
    save_noise(plain, dim, 6);
    /* plain: truncated data, truncated header */
    damaged_copy(plain, tmp_path("rdb_cut.nii"), 0, 0, 100000);
    check_same_failure(tmp_path("rdb_cut.nii"), NULL, NS_ERR_FORMAT,
                       "truncated file: expected 655360 data bytes, found 99648");
    damaged_copy(plain, tmp_path("rdb_hdr.nii"), 0, 0, 200);
    check_same_failure(tmp_path("rdb_hdr.nii"), NULL, NS_ERR_FORMAT,
                       "truncated header: 200 of 348");
    /* vox_offset beyond the end of the (inflated) data */
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(ns_read_file(plain, &raw, &len), NS_OK);
    float vox = 1e6f;
    memcpy(raw + 108, &vox, 4);
    write_bytes(tmp_path("rdb_vox.nii"), raw, len, "wb");
    gzip_file(tmp_path("rdb_vox.nii"), tmp_path("rdb_vox_gz.nii.gz"));
    check_same_failure(tmp_path("rdb_vox.nii"), NULL, NS_ERR_FORMAT,
                       "is beyond the end of the file");
    check_same_failure(tmp_path("rdb_vox_gz.nii.gz"), NULL, NS_ERR_FORMAT,
                       "is beyond the end of the data");
    /* unsupported datatype (complex64) */
    int16_t dt = NIFTI_TYPE_COMPLEX64;
    memcpy(raw + 70, &dt, 2);
    write_bytes(tmp_path("rdb_cplx.nii"), raw, len, "wb");
    check_same_failure(tmp_path("rdb_cplx.nii"), NULL, NS_ERR_UNSUPPORTED,
                       "unsupported datatype complex64");
    free(raw);
    /* unreadable: missing file, a directory, a pair without its image */
    check_same_failure(tmp_path("rdb_missing.nii.gz"), NULL, NS_ERR_IO, "cannot open file");
    check_same_failure(ns_test_tmpdir(), NULL, NS_ERR_IO, "not a regular file");
    spec s = make_spec(NIFTI_FTYPE_ANALYZE, NIFTI_TYPE_INT16);
    nifti_image_free(nifticlib_write(tmp_path("rdb_pair.hdr"), &s));
    ck_assert_int_eq(remove(tmp_path("rdb_pair.img")), 0);
    check_same_failure(tmp_path("rdb_pair.hdr"), NULL, NS_ERR_IO, "cannot open image file");
}
END_TEST

START_TEST(test_reader_args)
{
    float x;
    ns_volume_reader *r = (ns_volume_reader *)1;
    ck_assert_int_eq(ns_volume_reader_open("", NULL, &r), NS_ERR_ARG);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(ns_volume_reader_next(NULL, &x), NS_ERR_ARG);
    ck_assert_ptr_null(ns_volume_reader_header(NULL));
    ns_volume_reader_free(NULL);
}
END_TEST

/* The file is exactly one gzip member (inflated by zlib to its end with
 * nothing left over) holding header + data, and gzip -t accepts it. */
static void check_single_member(const char *path, size_t want)
{
    char *gz = NULL, cmd[1200];
    size_t len = 0;
    ck_assert_int_eq(ns_read_file(path, &gz, &len), NS_OK);
    unsigned char *out = malloc(want + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(inflateInit2(&z, 16 + 15), Z_OK);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (unsigned)len;
    z.next_out = out;
    z.avail_out = (unsigned)want + 1;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(z.avail_in, 0);
    ck_assert_uint_eq(z.total_out, want);
    inflateEnd(&z);
    free(out);
    free(gz);
    snprintf(cmd, sizeof cmd, "gzip -t '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* Level 1 is ISA-L's: float32 and uint8 maps reload bit for bit (by
 * ns_volume_load, the reader and nifticlib), as one valid gzip member. */
START_TEST(test_save_isal)
{
    const int64_t dim[4] = {40, 48, 36, 3};
    ns_volume *v = noise_volume(dim, 3);
    for (size_t i = 0; i < v->nvox * v->nvol; i += 97)
        v->data[i] = (float)(i % 300); /* some values that survive uint8 */
    const char *names[] = {"isal_f32.nii.gz", "isal_u8.nii.gz"};
    for (int type = 0; type < 2; type++) {
        kept_path kp = keep_path(names[type]);
        ck_assert_msg(ns_volume_save_level(v, kp.s, (ns_save_type)type, 1) == NS_OK, "%s",
                      ns_last_error());
        ns_volume *w = NULL;
        ck_assert_int_eq(ns_volume_load(kp.s, NULL, &w), NS_OK);
        ck_assert_int_eq(w->datatype, type ? NIFTI_TYPE_UINT8 : NIFTI_TYPE_FLOAT32);
        for (size_t i = 0; i < v->nvox * v->nvol; i++) {
            float x = v->data[i];
            float want = type == 0 ? x : !(x > 0) ? 0 : x >= 255 ? 255 : rintf(x);
            if (memcmp(&w->data[i], &want, sizeof want))
                ck_abort_msg("%s value %zu: %g != %g", kp.s, i, (double)w->data[i], (double)want);
        }
        ns_volume_free(w);
        check_reader(kp.s, NULL);
        nifti_image *nim = nifti_image_read(kp.s, 1);
        ck_assert_ptr_nonnull(nim);
        ck_assert_int_eq(nim->nvox, (int64_t)(v->nvox * v->nvol));
        if (type == 0)
            ck_assert(memcmp(nim->data, v->data, v->nvox * v->nvol * sizeof(float)) == 0);
        nifti_image_free(nim);
        check_single_member(kp.s, 352 + v->nvox * v->nvol * (type ? 1 : 4));
    }
    ns_volume_free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nifti_io");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip_every_datatype);
    tcase_add_test(tc, test_big_endian);
    tcase_add_test(tc, test_scaling);
    tcase_add_test(tc, test_tr_units);
    tcase_add_test(tc, test_sidecar);
    tcase_add_test(tc, test_first_volume_only);
    tcase_add_test(tc, test_gzip_paths);
    tcase_add_test(tc, test_save_roundtrip);
    tcase_add_test(tc, test_save_nifti2);
    tcase_add_test(tc, test_save_levels);
    tcase_add_test(tc, test_save_isal);
    tcase_add_test(tc, test_save_failures);
    tcase_add_test(tc, test_header_only_and_errors);
    tcase_add_test(tc, test_stats_and_grid);
    tcase_add_test(tc, test_masks);
    tcase_add_test(tc, test_reader_formats);
    tcase_add_test(tc, test_reader_first_volume);
    tcase_add_loop_test(tc, test_reader_members, 0, 2);
    tcase_add_test(tc, test_reader_extensions);
    tcase_add_test(tc, test_reader_broken);
    tcase_add_test(tc, test_reader_args);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
