/* Runs of a BIDS study, their per-stage status files and the run summary. */
/* requires: nifti_io ica fnc models report */
#include <stdlib.h>
#include <string.h>

#include "bids_int.h"
#include "ica/ica.h"

/* "_key-value" entity of a file name matches value (NULL value: any). */
static int entity_matches(const char *path, const char *key, const char *value)
{
    if (!value)
        return 1;
    char want[256];
    snprintf(want, sizeof want, "_%s-%s_", key, value);
    const char *base = strrchr(path, '/');
    return strstr(base ? base : path, want) != NULL;
}

ns_status ns_bids_find_runs(const ns_bids_opts *o, ns_bids_runs *out)
{
    char **paths;
    size_t n;
    *out = (ns_bids_runs){0};
    ns_status s = ns_ica_find_bold(o->bids_dir, o->labels, o->nlabels, &paths, &n);
    if (s)
        return s;
    out->runs = calloc(n + 1, sizeof(ns_bids_run));
    for (size_t i = 0; i < n; i++) {
        if (!s && out->runs && entity_matches(paths[i], "task", o->task) &&
            entity_matches(paths[i], "space", o->space)) {
            ns_bids_run *r = &out->runs[out->n];
            s = ns_ica_bids_stem(paths[i], &r->stem, &r->label);
            if (!s) {
                r->bold = paths[i];
                paths[i] = NULL;
                out->n++;
            }
        }
        free(paths[i]);
    }
    free(paths);
    if (!out->runs)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", o->bids_dir);
    if (!s && out->n == 0)
        s = ns_error(NS_ERR_DATA, "no BOLD runs match the selection (%s)", o->bids_dir);
    if (s)
        ns_bids_runs_clear(out);
    return s;
}

void ns_bids_runs_clear(ns_bids_runs *r)
{
    for (size_t i = 0; r->runs && i < r->n; i++) {
        free(r->runs[i].bold);
        free(r->runs[i].stem);
        free(r->runs[i].label);
    }
    free(r->runs);
    *r = (ns_bids_runs){0};
}

static void status_path(const ns_bids_opts *o, const ns_bids_run *r, const char *stage, char *buf, size_t n)
{
    snprintf(buf, n, "%s/status/%s.%s.tsv", o->work_dir, r->stem, stage);
}

ns_status ns_bids_status_set(const ns_bids_opts *o, const ns_bids_run *r, const char *stage,
                             const char *status, const char *error, double seconds)
{
    char dir[4200], path[4400], secs[32];
    snprintf(dir, sizeof dir, "%s/status", o->work_dir);
    ns_status s = ns_mkdirs(dir);
    if (s)
        return s;
    status_path(o, r, stage, path, sizeof path);
    snprintf(secs, sizeof secs, "%.2f", seconds);
    char pid[64];
    snprintf(pid, sizeof pid, "sub-%s", r->label);
    const char *hdr[] = {"participant_id", "run", "stage", "status", "error", "seconds"};
    const char *row[] = {pid, r->stem, stage, status, error && *error ? error : NULL, secs};
    ns_tsv *t = ns_tsv_create(6, hdr);
    if (!t)
        return NS_ERR_NOMEM;
    s = ns_tsv_append(t, row);
    if (!s)
        s = ns_tsv_write(t, path);
    ns_tsv_free(t);
    return s;
}

int ns_bids_status_ok(const ns_bids_opts *o, const ns_bids_run *r, const char *stage)
{
    char path[4400];
    status_path(o, r, stage, path, sizeof path);
    ns_tsv *t;
    if (!ns_file_exists(path) || ns_tsv_read(path, &t)) {
        ns_clear_error();
        return 0;
    }
    const char *st = t->nrows == 1 ? ns_tsv_get(t, 0, 3) : NULL;
    int ok = st && !strcmp(st, "ok");
    ns_tsv_free(t);
    return ok;
}

ns_status ns_bids_write_summary(const ns_bids_opts *o, size_t *nfailed)
{
    char dir[4200], path[4400];
    snprintf(dir, sizeof dir, "%s/status", o->work_dir);
    const char *hdr[] = {"participant_id", "run", "stage", "status", "error", "seconds"};
    ns_tsv *sum = ns_tsv_create(6, hdr);
    char **names;
    size_t n;
    ns_status s = sum ? ns_list_dir(dir, NULL, ".tsv", &names, &n) : NS_ERR_NOMEM;
    if (s) {
        ns_tsv_free(sum);
        return s;
    }
    *nfailed = 0;
    for (size_t i = 0; i < n; i++) {
        ns_tsv *t;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!s && names[i] && ns_tsv_read(path, &t) == NS_OK) {
            if (t->nrows == 1 && t->ncols == 6) {
                s = ns_tsv_append(sum, (const char *const *)t->cells);
                *nfailed += ns_tsv_get(t, 0, 3) && !strcmp(ns_tsv_get(t, 0, 3), "failed");
            }
            ns_tsv_free(t);
        }
        ns_clear_error();
    }
    ns_free_strings(names, n);
    snprintf(path, sizeof path, "%s/group", o->out_dir);
    if (!s)
        s = ns_mkdirs(path);
    snprintf(path, sizeof path, "%s/group/desc-run_summary.tsv", o->out_dir);
    if (!s)
        s = ns_tsv_write(sum, path);
    ns_tsv_free(sum);
    return s;
}

int ns_bids_saved_orders(const char *out_dir, int **orders)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/group", out_dir);
    char **names;
    size_t n;
    int count = 0, *v = NULL;
    if (ns_list_dir(dir, "desc-ica", "_model.npz", &names, &n) == NS_OK && n)
        v = malloc(sizeof(int) * n);
    for (size_t i = 0; v && i < n; i++) {
        int k = atoi(names[i] + strlen("desc-ica"));
        if (k > 0)
            v[count++] = k;
    }
    ns_free_strings(names, n);
    for (int i = 1; i < count; i++) /* numeric order: "desc-ica100" sorts before "desc-ica20" */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *orders = v;
    return count;
}
