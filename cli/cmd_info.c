/* neurospectra info FILE... [--json]: what a NIfTI/Analyze file holds.
 * requires: nifti_io */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "nifti_io/nifti_io.h"

const char ns_cmd_info_summary[] = "describe NIfTI/Analyze files: header, TR, data statistics";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: neurospectra info FILE... [--json]\n\n"
            "Reads each NIfTI-1, NIfTI-2 or Analyze file (.nii, .nii.gz, .hdr/.img) and prints\n"
            "its format, dims, datatype, pixdim, units, TR (seconds; a BIDS sidecar's\n"
            "RepetitionTime beside the file wins over the header), qform/sform codes,\n"
            "scl_slope/scl_inter and min, max, mean of the scaled data over finite values\n"
            "with the count of NaN/Inf values.\n\n"
            "options:\n"
            "  --json         one JSON object per file (an array for several files)\n"
            "  --no-sidecar   ignore BIDS JSON sidecars\n"
            "  --zlib         inflate .gz with zlib streaming instead of libdeflate (benchmarks)\n"
            "  -q, --quiet    no warnings\n"
            "  -h, --help     this help\n\n"
            "A file that cannot be read gives one line on stderr; the other files are still\n"
            "described and the exit status is 1.\n");
}

static const char *format_name(ns_nifti_format f)
{
    return f == NS_FMT_NIFTI2 ? "nifti2" : f == NS_FMT_NIFTI1 ? "nifti1" : "analyze";
}

static const char *xyz_unit_name(int u)
{
    switch (u) {
    case 1: return "m";
    case 2: return "mm";
    case 3: return "um";
    default: return "unknown";
    }
}

static const char *time_unit_name(int u)
{
    switch (u) {
    case 8: return "s";
    case 16: return "ms";
    case 24: return "us";
    case 32: return "Hz";
    case 40: return "ppm";
    case 48: return "rad/s";
    default: return "unknown";
    }
}

static const char *tr_source_name(int s)
{
    return s == 2 ? "sidecar" : s == 1 ? "header" : "none";
}

typedef struct {
    double min, max, mean;
    size_t nonfinite;
} info_stats;

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *matrix_json(const double m[4][4])
{
    json_t *rows = json_array();
    for (int i = 0; i < 4; i++) {
        json_t *r = json_array();
        for (int j = 0; j < 4; j++)
            json_array_append_new(r, num(m[i][j]));
        json_array_append_new(rows, r);
    }
    return rows;
}

static json_t *to_json(const ns_volume *v, const info_stats *st)
{
    const ns_geom *g = &v->geom;
    json_t *o = json_object(), *dims = json_array(), *pix = json_array();
    for (int i = 0; i < g->ndim; i++) {
        json_array_append_new(dims, json_integer(g->dim[i]));
        json_array_append_new(pix, num(g->pixdim[i]));
    }
    json_object_set_new(o, "file", json_string(v->path));
    json_object_set_new(o, "format", json_string(format_name(v->format)));
    json_object_set_new(o, "dims", dims);
    json_object_set_new(o, "datatype", json_string(ns_nifti_datatype_name(v->datatype)));
    json_object_set_new(o, "pixdim", pix);
    json_object_set_new(o, "xyz_units", json_string(xyz_unit_name(g->xyz_units)));
    json_object_set_new(o, "time_units", json_string(time_unit_name(g->time_units)));
    json_object_set_new(o, "tr", g->tr > 0 ? json_real(g->tr) : json_null());
    json_object_set_new(o, "tr_source", json_string(tr_source_name(g->tr_source)));
    json_object_set_new(o, "qform_code", json_integer(g->qform_code));
    json_object_set_new(o, "sform_code", json_integer(g->sform_code));
    json_object_set_new(o, "qform", matrix_json(g->qto));
    json_object_set_new(o, "sform", matrix_json(g->sto));
    json_object_set_new(o, "scl_slope", num(v->scl_slope));
    json_object_set_new(o, "scl_inter", num(v->scl_inter));
    json_object_set_new(o, "min", num(st->min));
    json_object_set_new(o, "max", num(st->max));
    json_object_set_new(o, "mean", num(st->mean));
    json_object_set_new(o, "nonfinite", json_integer((json_int_t)st->nonfinite));
    return o;
}

static void print_text(const ns_volume *v, const info_stats *st)
{
    const ns_geom *g = &v->geom;
    printf("%s\n  format      %s\n  dims        ", v->path, format_name(v->format));
    for (int i = 0; i < g->ndim; i++)
        printf("%s%lld", i ? " x " : "", (long long)g->dim[i]);
    printf("\n  datatype    %s\n  pixdim      ", ns_nifti_datatype_name(v->datatype));
    for (int i = 0; i < g->ndim; i++)
        printf("%s%g", i ? " x " : "", g->pixdim[i]);
    printf("\n  units       %s, %s\n", xyz_unit_name(g->xyz_units), time_unit_name(g->time_units));
    if (g->tr > 0)
        printf("  tr          %g s (%s)\n", g->tr, tr_source_name(g->tr_source));
    else
        printf("  tr          unknown\n");
    printf("  qform_code  %d\n  sform_code  %d\n", g->qform_code, g->sform_code);
    printf("  scl_slope   %g\n  scl_inter   %g\n", v->scl_slope, v->scl_inter);
    printf("  min         %.9g\n  max         %.9g\n  mean        %.9g\n", st->min, st->max,
           st->mean);
    printf("  nonfinite   %zu\n", st->nonfinite);
}

/* Returns 0 on success; on failure the error has been printed. */
static int describe(const char *path, const ns_load_opts *opts, int json, json_t *out, int first)
{
    ns_volume *v = NULL;
    if (ns_volume_load(path, opts, &v) != NS_OK) {
        ns_cli_fail();
        return 1;
    }
    info_stats st;
    ns_volume_stats(v, &st.min, &st.max, &st.mean, &st.nonfinite);
    if (json) {
        json_array_append_new(out, to_json(v, &st));
    } else {
        if (!first)
            printf("\n");
        print_text(v, &st);
        fflush(stdout);
    }
    ns_volume_free(v);
    return 0;
}

int ns_cmd_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},   {"no-sidecar", no_argument, NULL, 's'},
        {"zlib", no_argument, NULL, 'z'},   {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},   {NULL, 0, NULL, 0}};
    int json = 0, quiet = 0, c;
    ns_load_opts opts = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 's': opts.no_sidecar = 1; break;
        case 'z': opts.zlib_only = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return NS_EXIT_OK;
        default: return ns_cli_usage_error("info", "unknown option");
        }
    }
    if (optind >= argc)
        return ns_cli_usage_error("info", "no file given");
    ns_cli_set_verbosity(quiet, 0);
    json_t *arr = json_array();
    int failed = 0, shown = 0;
    for (int i = optind; i < argc; i++) {
        int bad = describe(argv[i], &opts, json, arr, shown == 0);
        failed |= bad;
        shown += !bad;
    }
    if (json && json_array_size(arr) > 0) {
        json_t *top = argc - optind == 1 ? json_array_get(arr, 0) : arr;
        char *s = json_dumps(top, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
    } else if (json && argc - optind > 1) {
        printf("[]\n");
    }
    json_decref(arr);
    return failed ? NS_EXIT_FAIL : NS_EXIT_OK;
}
