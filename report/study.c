/* The study report: OUT/report.html from whatever stages have written into
 * the derivatives tree, and one page per subject. Sections whose inputs are
 * absent are left out; a present but unreadable input is an error. */
/* requires: report nifti_io */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nifti_io/nifti_io.h"
#include "report/report.h"
#include "report/report_int.h"

void ns_report_opts_default(ns_report_opts *o)
{
    *o = (ns_report_opts){.participants = NULL, .groups = "diagnosis", .subject_pages = 1};
}

/* Model orders present: group/desc-ica<K>_components.nii.gz, ascending. */
static int find_orders(const char *outdir, int *orders, int max)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/group", outdir);
    char **names;
    size_t n;
    int count = 0;
    if (ns_list_dir(dir, "desc-ica", "_components.nii.gz", &names, &n))
        ns_clear_error();
    for (size_t i = 0; i < n && count < max; i++) {
        int k = atoi(names[i] + strlen("desc-ica"));
        if (k > 0)
            orders[count++] = k;
    }
    ns_free_strings(names, n);
    for (int i = 1; i < count; i++) /* numeric order */
        for (int j = i; j > 0 && orders[j - 1] > orders[j]; j--) {
            int t = orders[j];
            orders[j] = orders[j - 1];
            orders[j - 1] = t;
        }
    return count;
}

static ns_status ica_section(ns_html *h, const char *outdir, int k, const float *mask)
{
    char path[4096], title[128];
    snprintf(path, sizeof path, "%s/group/desc-ica%d_components.nii.gz", outdir, k);
    snprintf(title, sizeof title, "Group ICA, model order %d", k);
    ns_html_heading(h, 2, title);
    ns_volume *v;
    ns_load_opts lo = {.no_sidecar = 1};
    ns_status s = ns_volume_load(path, &lo, &v);
    if (s)
        return s;
    ns_tsv *stab = NULL;
    snprintf(path, sizeof path, "%s/group/desc-ica%d_stability.tsv", outdir, k);
    if (ns_file_exists(path) && (s = ns_tsv_read(path, &stab))) {
        ns_volume_free(v);
        return s;
    }
    ns_html_text(h, "Component maps (z-scored) thresholded at |z| >= 2 over the mean image; "
                    "red positive, blue negative. Iq: ICASSO stability index.");
    s = ns_report_component_grid(h, v, mask, stab, k);
    if (!s && stab) {
        ns_report_stability_bars(h, stab, k);
        ns_html_table(h, stab, 0);
    }
    ns_tsv_free(stab);
    ns_volume_free(v);
    return s;
}

/* Model order of a component id "ica<K>c<NN>", 0 if not one. */
static int order_of(const char *id)
{
    return strncmp(id, "ica", 3) ? 0 : atoi(id + 3);
}

/* The split tree between consecutive orders: every component of the higher
 * order under the component of the lower order it correlates with most
 * (|r| >= 0.3); a parent with two or more children is split by that order. */
static void split_tree(ns_html *h, const ns_tsv *t)
{
    size_t n = t->nrows;
    ns_html_heading(h, 3, "Split tree between consecutive model orders");
    ns_html_raw(h, "<ul>\n");
    for (size_t i = 0; i < n; i++) {
        const char *pid = ns_tsv_get(t, i, 0);
        int ka = pid ? order_of(pid) : 0, kb = 0;
        for (size_t j = 0; j < n && ka; j++) { /* next higher order present */
            int k = order_of(t->header[j + 1]);
            if (k > ka && (!kb || k < kb))
                kb = k;
        }
        if (!kb)
            continue;
        ns_html_raw(h, "<li>");
        ns_html_raw(h, pid);
        int nchild = 0;
        for (size_t j = 0; j < n; j++) {
            if (order_of(t->header[j + 1]) != kb)
                continue;
            double best = 0, rij = 0;
            size_t arg = 0;
            for (size_t a = 0; a < n; a++) { /* the child's best parent in order ka */
                double r;
                const char *ra = ns_tsv_get(t, a, 0);
                if (!ra || order_of(ra) != ka || ns_tsv_get_double(t, a, j + 1, &r) || !(fabs(r) > best))
                    continue;
                best = fabs(r), arg = a, rij = r;
            }
            if (arg != i || best < 0.3)
                continue;
            char item[160];
            snprintf(item, sizeof item, "%s%s (r %.2f)", nchild++ ? ", " : " &rarr; ", t->header[j + 1], rij);
            ns_html_raw(h, item);
        }
        if (nchild > 1)
            ns_html_raw(h, " <b>(split)</b>");
        ns_html_raw(h, "</li>\n");
    }
    ns_html_raw(h, "</ul>\n");
    ns_clear_error();
}

static ns_status crossorder_section(ns_html *h, const char *outdir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/group/desc-icamulti_crossorder.tsv", outdir);
    if (!ns_file_exists(path))
        return NS_OK;
    ns_tsv *t;
    ns_status s = ns_tsv_read(path, &t);
    if (s)
        return s;
    ns_html_heading(h, 2, "Across model orders");
    ns_html_text(h, "Spatial correlation between the components of different model orders: a "
                    "component of a higher order that correlates with one of a lower order splits it.");
    ns_report_table_heatmap(h, t, "cross-order spatial correlation");
    split_tree(h, t);
    ns_tsv_free(t);
    return NS_OK;
}

static ns_status settings_section(ns_html *h, const char *outdir, const int *orders, int norders)
{
    char path[4096];
    ns_html_heading(h, 2, "Settings");
    snprintf(path, sizeof path, "%s/dataset_description.json", outdir);
    json_t *dd = NULL;
    if (ns_file_exists(path) && ns_json_read(path, &dd))
        return NS_ERR_FORMAT;
    char *ddtext = dd ? json_dumps(dd, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    if (ddtext) {
        ns_html_raw(h, "<pre>");
        ns_html_text(h, ddtext);
        ns_html_raw(h, "</pre>\n");
    }
    free(ddtext);
    json_decref(dd);
    for (int i = 0; i < norders; i++) {
        snprintf(path, sizeof path, "%s/group/desc-ica%d_components.json", outdir, orders[i]);
        json_t *j;
        if (!ns_file_exists(path) || ns_json_read(path, &j))
            continue;
        char *text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        char head[64];
        snprintf(head, sizeof head, "ICA order %d", orders[i]);
        ns_html_heading(h, 3, head);
        ns_html_raw(h, "<pre>");
        ns_html_text(h, text ? text : "");
        ns_html_raw(h, "</pre>\n");
        free(text);
        json_decref(j);
    }
    return NS_OK;
}

/* The background of the maps: the mean of the subjects' first volumes that
 * group ICA writes, else the group mask. */
static float *load_mask(const char *outdir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/group/desc-mean_boldref.nii.gz", outdir);
    if (!ns_file_exists(path))
        snprintf(path, sizeof path, "%s/group/desc-brain_mask.nii.gz", outdir);
    ns_volume *m;
    ns_load_opts lo = {.no_sidecar = 1};
    if (!ns_file_exists(path) || ns_volume_load(path, &lo, &m))
        return NULL;
    float *data = m->data;
    m->data = NULL;
    ns_volume_free(m);
    return data;
}

static ns_status group_page(const char *outdir, const ns_report_opts *o)
{
    int orders[64];
    int norders = find_orders(outdir, orders, 64);
    ns_html *h = ns_html_create("neurospectra study report");
    if (!h)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", outdir);
    float *mask = load_mask(outdir);
    ns_status s = NS_OK;
    if (norders == 0)
        ns_html_text(h, "No group ICA results in this directory yet.");
    for (int i = 0; i < norders && !s; i++)
        s = ica_section(h, outdir, orders[i], mask);
    if (!s)
        s = crossorder_section(h, outdir);
    if (!s)
        s = ns_report_fnc_section(h, outdir, o);
    if (!s)
        s = ns_report_train_sections(h, outdir);
    if (!s)
        s = settings_section(h, outdir, orders, norders);
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", outdir);
    if (!s)
        s = ns_html_write(h, path);
    free(mask);
    ns_html_free(h);
    return s;
}

ns_status ns_report_study(const char *outdir, const ns_report_opts *o, int *npages)
{
    ns_report_opts def;
    if (!o) {
        ns_report_opts_default(&def);
        o = &def;
    }
    int pages = 0;
    ns_status s = group_page(outdir, o);
    if (!s)
        pages++;
    if (!s && o->subject_pages)
        s = ns_report_subject_pages(outdir, &pages);
    if (npages)
        *npages = pages;
    return s;
}
