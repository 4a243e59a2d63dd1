/* One page per subject: its back-reconstructed maps, timecourses and FNC. */
/* requires: report nifti_io */
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void timeseries_plot(ns_html *h, const char *path, const char *name)
{
    ns_tsv *t;
    if (ns_tsv_read(path, &t)) {
        ns_clear_error();
        return;
    }
    size_t ns = t->ncols < 5 ? t->ncols : 5, T = t->nrows;
    double *y = malloc(sizeof(double) * (ns * T + 1));
    ns_series s[5];
    for (size_t c = 0; y && c < ns; c++) {
        for (size_t r = 0; r < T; r++)
            if (ns_tsv_get_double(t, r, c, &y[c * T + r]))
                y[c * T + r] = 0;
        s[c] = (ns_series){.name = t->header[c], .y = y + c * T, .n = T};
    }
    ns_clear_error();
    if (y) {
        ns_lineplot lp = {.series = s, .nseries = ns, .title = name, .xlabel = "volume", .ylabel = "z"};
        char *svg = ns_svg_lineplot(&lp);
        if (svg)
            ns_html_raw(h, svg);
        free(svg);
    }
    free(y);
    ns_tsv_free(t);
}

/* Adds the figures for one file of a func/ folder. */
static ns_status subject_file(ns_html *h, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const char *k = strstr(name, "_desc-ica");
    int order = k ? atoi(k + 9) : 0;
    if (order > 0 && ends_with(name, "_components.nii.gz")) {
        ns_volume *v;
        ns_load_opts lo = {.no_sidecar = 1};
    ns_status s = ns_volume_load(path, &lo, &v);
        if (s)
            return s;
        ns_html_heading(h, 3, name);
        s = ns_report_component_grid(h, v, NULL, NULL, order);
        ns_volume_free(v);
        return s;
    }
    if (order > 0 && ends_with(name, "_timeseries.tsv")) {
        ns_html_heading(h, 3, name);
        timeseries_plot(h, path, "first components' timecourses");
    } else if (ends_with(name, "_relmat.tsv")) {
        ns_tsv *t;
        if (ns_tsv_read(path, &t) == NS_OK) {
            ns_html_heading(h, 3, name);
            ns_report_table_heatmap(h, t, "FNC (Fisher z)");
            ns_tsv_free(t);
        }
        ns_clear_error();
    }
    return NS_OK;
}

static ns_status func_folder(ns_html *h, const char *func)
{
    char **names;
    size_t n;
    ns_status s = ns_list_dir(func, NULL, NULL, &names, &n);
    for (size_t i = 0; i < n && !s; i++)
        s = subject_file(h, func, names[i]);
    ns_free_strings(names, n);
    return s;
}

static ns_status subject_page(const char *outdir, const char *sub)
{
    char dir[4096], func[4096 + 300], path[4096 + 300];
    snprintf(dir, sizeof dir, "%s/%s", outdir, sub);
    ns_html *h = ns_html_create(sub);
    if (!h)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", sub);
    ns_html_raw(h, "<p><a href=\"report.html\">study report</a></p>\n");
    snprintf(func, sizeof func, "%s/func", dir);
    ns_status s = func_folder(h, func);
    char **names = NULL;
    size_t n = 0;
    if (!s)
        s = ns_list_dir(dir, "ses-", NULL, &names, &n);
    for (size_t i = 0; i < n && !s; i++) {
        snprintf(func, sizeof func, "%s/%s/func", dir, names[i]);
        ns_html_heading(h, 2, names[i]);
        s = func_folder(h, func);
    }
    ns_free_strings(names, n);
    snprintf(path, sizeof path, "%s/%s.html", outdir, sub);
    if (!s)
        s = ns_html_write(h, path);
    ns_html_free(h);
    return s ? ns_error_prefix(s, "report of %s", sub) : NS_OK;
}

ns_status ns_report_subject_pages(const char *outdir, int *pages)
{
    char **names;
    size_t n;
    ns_status s = ns_list_dir(outdir, "sub-", NULL, &names, &n);
    for (size_t i = 0; i < n && !s; i++) {
        if (ends_with(names[i], ".html"))
            continue;
        s = subject_page(outdir, names[i]);
        if (!s)
            (*pages)++;
    }
    ns_free_strings(names, n);
    return s;
}
