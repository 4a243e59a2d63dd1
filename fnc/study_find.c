/* Finding the inputs of a study: runs with ICA timecourses under
 * OUT/sub-* /[ses-* /]func, their component ids, confound columns and the
 * stability table. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fnc/study_int.h"

void ns_fnc__report(fnc_study *s, fnc_run *r, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r)
        r->failed = 1;
    if (s->o->on_error)
        s->o->on_error(s->o->ctx, msg);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir starting with prefix (NULL-terminated array). */
static char **list_dir(const char *dir, const char *prefix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 16;
    char **v = malloc(cap * sizeof(char *));
    struct dirent *e;
    while (v && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || e->d_name[0] == '.')
            continue;
        if (*n + 1 >= cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof(char *));
            if (!nv)
                break;
            v = nv;
        }
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (v)
        qsort(v, *n, sizeof(char *), cmp_str);
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* "<stem>_desc-ica<K>_timeseries.tsv" -> K and the stem length, or 0. */
static int parse_ts_name(const char *name, size_t *stem_len)
{
    const char *suf = "_timeseries.tsv";
    size_t n = strlen(name), ls = strlen(suf);
    if (n <= ls || strcmp(name + n - ls, suf))
        return 0;
    const char *p = strstr(name, "_desc-ica");
    if (!p)
        return 0;
    const char *q = p + strlen("_desc-ica");
    int k = 0;
    while (isdigit((unsigned char)*q) && k < 1000000)
        k = k * 10 + (*q++ - '0');
    if (k <= 0 || q != name + n - ls)
        return 0;
    *stem_len = (size_t)(p - name);
    return k;
}

typedef struct {
    char *stem, *participant;
    int order;
} found_file;

static ns_status add_found(found_file **v, size_t *n, size_t *cap, const char *dir,
                           const char *name, size_t stem_len, const char *participant, int k)
{
    if (*n == *cap) {
        found_file *nv = realloc(*v, (*cap = *cap ? 2 * *cap : 64) * sizeof(found_file));
        if (!nv)
            return ns_error(NS_ERR_NOMEM, "out of memory listing runs");
        *v = nv;
    }
    found_file *f = &(*v)[(*n)++];
    f->order = k;
    f->participant = strdup(participant);
    if (asprintf(&f->stem, "%s/%.*s", dir, (int)stem_len, name) < 0)
        f->stem = NULL;
    return f->stem && f->participant ? NS_OK : ns_error(NS_ERR_NOMEM, "out of memory");
}

static ns_status scan_func(const char *dir, const char *participant, found_file **v, size_t *n,
                           size_t *cap)
{
    size_t nf;
    char **files = list_dir(dir, "sub-", &nf);
    ns_status st = NS_OK;
    for (size_t i = 0; i < nf && !st; i++) {
        size_t sl;
        int k = parse_ts_name(files[i], &sl);
        if (k > 0)
            st = add_found(v, n, cap, dir, files[i], sl, participant, k);
    }
    free_list(files, nf);
    return st;
}

static ns_status scan_tree(const char *out, found_file **v, size_t *n, size_t *cap)
{
    size_t ns;
    char **subs = list_dir(out, "sub-", &ns);
    ns_status st = NS_OK;
    for (size_t i = 0; i < ns && !st; i++) {
        char *sd = NULL, *fd = NULL;
        if (asprintf(&sd, "%s/%s", out, subs[i]) < 0 || !is_dir(sd)) {
            free(sd);
            continue;
        }
        if (asprintf(&fd, "%s/func", sd) >= 0 && is_dir(fd))
            st = scan_func(fd, subs[i], v, n, cap);
        free(fd);
        size_t nses;
        char **ses = list_dir(sd, "ses-", &nses);
        for (size_t j = 0; j < nses && !st; j++) {
            fd = NULL;
            if (asprintf(&fd, "%s/%s/func", sd, ses[j]) >= 0 && is_dir(fd))
                st = scan_func(fd, subs[i], v, n, cap);
            free(fd);
        }
        free_list(ses, nses);
        free(sd);
    }
    free_list(subs, ns);
    return st;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_found(const void *a, const void *b)
{
    const found_file *x = a, *y = b;
    int c = strcmp(x->participant, y->participant);
    return c ? c : strcmp(x->stem, y->stem);
}

/* The orders to use: the requested ones (sorted, unique) or all found. */
static ns_status choose_orders(fnc_study *s, const found_file *f, size_t nf)
{
    const ns_fnc_study_opts *o = s->o;
    size_t cap = o->orders ? (size_t)o->norders : nf;
    s->orders = malloc((cap ? cap : 1) * sizeof(int));
    if (!s->orders)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    int n = 0;
    for (size_t i = 0; i < cap; i++)
        s->orders[n++] = o->orders ? o->orders[i] : f[i].order;
    qsort(s->orders, (size_t)n, sizeof(int), cmp_int);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || s->orders[u - 1] != s->orders[i])
            s->orders[u++] = s->orders[i];
    s->norders = u;
    for (int i = 0; i < u; i++) {
        int seen = 0;
        for (size_t j = 0; j < nf && !seen; j++)
            seen = f[j].order == s->orders[i];
        if (!seen)
            return ns_error(NS_ERR_DATA, "no order-%d timecourses (*_desc-ica%d_timeseries.tsv) (%s)",
                            s->orders[i], s->orders[i], o->out_dir);
    }
    return NS_OK;
}

ns_status ns_fnc__find_runs(fnc_study *s)
{
    found_file *f = NULL;
    size_t nf = 0, cap = 0;
    ns_status st = scan_tree(s->o->out_dir, &f, &nf, &cap);
    if (!st && nf == 0)
        st = ns_error(NS_ERR_DATA, "no ICA timecourses (sub-*/func/*_desc-ica<K>_timeseries.tsv); "
                      "run neurospectra ica first (%s)", s->o->out_dir);
    if (!st)
        st = choose_orders(s, f, nf);
    if (!st) {
        qsort(f, nf, sizeof *f, cmp_found);
        s->runs = calloc(nf, sizeof(fnc_run));
        if (!s->runs)
            st = ns_error(NS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; !st && i < nf; i++) {
        int used = 0; /* only stems with at least one chosen order */
        for (int j = 0; j < s->norders; j++)
            used |= f[i].order == s->orders[j];
        if (!used || (s->nruns && !strcmp(s->runs[s->nruns - 1].stem, f[i].stem)))
            continue;
        fnc_run *r = &s->runs[s->nruns++];
        r->stem = strdup(f[i].stem);
        r->participant = strdup(f[i].participant);
        if (!r->stem || !r->participant)
            st = ns_error(NS_ERR_NOMEM, "out of memory");
        else
            r->name = strrchr(r->stem, '/') ? strrchr(r->stem, '/') + 1 : r->stem;
    }
    for (size_t i = 0; i < nf; i++) {
        free(f[i].stem);
        free(f[i].participant);
    }
    free(f);
    return st;
}

/* Component ids of each order from the header of the first run that has it. */
ns_status ns_fnc__component_ids(fnc_study *s)
{
    s->koff = calloc((size_t)s->norders + 1, sizeof(size_t));
    if (!s->koff)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    for (int j = 0; j < s->norders; j++)
        s->koff[j + 1] = s->koff[j] + (size_t)s->orders[j];
    s->K = s->koff[s->norders];
    s->ids = calloc(s->K, sizeof(char *));
    if (!s->ids)
        return ns_error(NS_ERR_NOMEM, "out of memory");
    for (int j = 0; j < s->norders; j++) {
        ns_fnc_table *t = NULL;
        ns_status st = NS_ERR_DATA;
        char *path = NULL;
        for (size_t i = 0; i < s->nruns && st; i++) {
            free(path);
            if (asprintf(&path, "%s_desc-ica%d_timeseries.tsv", s->runs[i].stem, s->orders[j]) < 0)
                return ns_error(NS_ERR_NOMEM, "out of memory");
            if (ns_file_exists(path))
                st = ns_fnc_table_read(path, &t);
        }
        if (!st && t->ncols != (size_t)s->orders[j])
            st = ns_error(NS_ERR_FORMAT, "%zu columns for an order-%d decomposition (%s)",
                          t->ncols, s->orders[j], path);
        for (size_t c = 0; !st && c < t->ncols; c++)
            if (!(s->ids[s->koff[j] + c] = strdup(t->header[c])))
                st = ns_error(NS_ERR_NOMEM, "out of memory");
        ns_fnc_table_free(t);
        free(path);
        if (st)
            return st;
    }
    for (size_t a = 0; a < s->K; a++) /* edge names must be unambiguous */
        for (size_t b = a + 1; b < s->K; b++)
            if (!strcmp(s->ids[a], s->ids[b]))
                return ns_error(NS_ERR_FORMAT, "component id %s appears twice (%s)", s->ids[a],
                                s->o->out_dir);
    return NS_OK;
}

ns_status ns_fnc__parse_confounds(fnc_study *s)
{
    const char *spec = s->o->confounds;
    if (!spec || !*spec || !strcmp(spec, "none"))
        return NS_OK;
    static const char *motion[] = {"trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"};
    char *copy = strdup(spec), *save = NULL;
    size_t cap = 16;
    s->conf = malloc(cap * sizeof(char *));
    if (!copy || !s->conf) {
        free(copy);
        return ns_error(NS_ERR_NOMEM, "out of memory");
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int is_motion = !strcmp(tok, "motion");
        size_t add = is_motion ? 6 : 1;
        if (s->nconf + add > cap) {
            char **nv = realloc(s->conf, (cap = 2 * cap + add) * sizeof(char *));
            if (!nv) {
                free(copy);
                return ns_error(NS_ERR_NOMEM, "out of memory");
            }
            s->conf = nv;
        }
        for (size_t i = 0; i < add; i++)
            s->conf[s->nconf++] = strdup(is_motion ? motion[i] : tok);
    }
    free(copy);
    if (s->nconf == 0)
        return ns_error(NS_ERR_ARG, "no confound columns in '%s'", spec);
    return NS_OK;
}

/* Index of a stability-table row's component among order j's ids: the id
 * itself or a 1-based number. */
static long match_component(const fnc_study *s, int j, const char *cell)
{
    if (!cell)
        return -1;
    for (int c = 0; c < s->orders[j]; c++)
        if (!strcmp(cell, s->ids[s->koff[j] + (size_t)c]))
            return c;
    char *end;
    long v = strtol(cell, &end, 10);
    return (*end == '\0' && end != cell && v >= 1 && v <= s->orders[j]) ? v - 1 : -1;
}

ns_status ns_fnc__stability(fnc_study *s)
{
    for (size_t k = 0; k < s->K; k++)
        s->iq[k] = NAN;
    if (s->o->select_iq < 0)
        return NS_OK;
    for (int j = 0; j < s->norders; j++) {
        char *path = NULL;
        if (asprintf(&path, "%s/group/desc-ica%d_stability.tsv", s->o->out_dir, s->orders[j]) < 0)
            return ns_error(NS_ERR_NOMEM, "out of memory");
        ns_tsv *t = NULL;
        ns_status st = ns_tsv_read(path, &t);
        int cc = st ? -1 : ns_tsv_column(t, "component");
        int ci = st ? -1 : ns_tsv_column(t, "stability_index");
        if (!st && (cc < 0 || ci < 0))
            st = ns_error(NS_ERR_FORMAT, "no 'component' / 'stability_index' column (%s)", path);
        for (size_t i = 0; !st && i < t->nrows; i++) {
            long c = match_component(s, j, ns_tsv_get(t, i, (size_t)cc));
            double v;
            if (c < 0)
                st = ns_error(NS_ERR_FORMAT, "row %zu names no order-%d component (%s)", i + 1,
                              s->orders[j], path);
            else if (!(st = ns_tsv_get_double(t, i, (size_t)ci, &v)))
                s->iq[s->koff[j] + (size_t)c] = v;
        }
        if (st && st != NS_ERR_NOMEM)
            ns_error_prefix(st, "selection by stability needs the ICASSO table");
        ns_tsv_free(t);
        free(path);
        if (st)
            return st;
    }
    return NS_OK;
}
