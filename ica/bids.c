/* BIDS discovery of BOLD runs and the output names derived from them. */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ica/ica_int.h"

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static ns_status push(strlist *l, const char *dir, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return ns_error(NS_ERR_NOMEM, "out of memory listing BOLD files");
        l->v = v, l->cap = cap;
    }
    size_t len = strlen(dir) + strlen(name) + 2;
    l->v[l->n] = malloc(len);
    if (!l->v[l->n])
        return ns_error(NS_ERR_NOMEM, "out of memory listing BOLD files");
    snprintf(l->v[l->n++], len, "%s/%s", dir, name);
    return NS_OK;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Files of one func/ directory: fMRIPrep outputs into pre, raw into raw. */
static ns_status scan_func(const char *func, strlist *pre, strlist *raw)
{
    DIR *d = opendir(func);
    if (!d)
        return NS_OK;
    struct dirent *e;
    ns_status st = NS_OK;
    while (st == NS_OK && (e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.' || strncmp(n, "sub-", 4))
            continue;
        if (ends_with(n, "_desc-preproc_bold.nii.gz") || ends_with(n, "_desc-preproc_bold.nii"))
            st = push(pre, func, n);
        else if (ends_with(n, "_bold.nii.gz") || ends_with(n, "_bold.nii"))
            st = push(raw, func, n);
    }
    closedir(d);
    return st;
}

static const char *bare_label(const char *l)
{
    return strncmp(l, "sub-", 4) ? l : l + 4;
}

static int label_wanted(const char *sub, const char *const *labels, size_t n)
{
    if (!n)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sub + 4, bare_label(labels[i])))
            return 1;
    return 0;
}

/* Whether path (dir/sub-<l>/...) is a file of subject label l. */
static int of_subject(const char *dir, const char *path, const char *l)
{
    size_t nd = strlen(dir), nl = strlen(l);
    return !strncmp(path + nd, "/sub-", 5) && !strncmp(path + nd + 5, l, nl) &&
           path[nd + 5 + nl] == '/';
}

/* Every label asked for has files among those used (as fMRIPrep does, a
 * label not found is an error, not a smaller study). */
static ns_status check_labels(const char *dir, const char *const *labels, size_t n,
                              const strlist *use, int preproc)
{
    for (size_t i = 0; i < n; i++) {
        const char *l = bare_label(labels[i]);
        size_t j = 0;
        while (j < use->n && !of_subject(dir, use->v[j], l))
            j++;
        const char *kind = preproc ? "_desc-preproc_bold.nii[.gz]" : "_bold.nii[.gz]";
        if (j == use->n)
            return ns_error(NS_ERR_DATA,
                            "participant label %s not found: no sub-%s/[ses-*/]func/*%s files (%s)",
                            l, l, kind, dir);
    }
    return NS_OK;
}

/* fMRIPrep outputs win when any subject has them: says which subjects that
 * leaves out (raw BOLD files only). */
static void warn_raw_only(const char *dir, const strlist *pre, const strlist *raw)
{
    char names[512] = "";
    size_t left = 0, len = 0, nd = strlen(dir) + 1;
    for (size_t i = 0; i < raw->n; i++) { /* sorted: a subject's files are together */
        const char *sub = raw->v[i] + nd, *end = strchr(sub, '/');
        size_t ns = end ? (size_t)(end - sub) : strlen(sub), j = 0;
        char label[256];
        snprintf(label, sizeof label, "%.*s", (int)ns, sub + 4);
        while (j < pre->n && !of_subject(dir, pre->v[j], label))
            j++;
        int seen = i > 0 && !strncmp(raw->v[i - 1] + nd, sub, ns + 1);
        if (j < pre->n || seen)
            continue;
        left++;
        if (len + ns + 2 < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%.*s", left > 1 ? " " : "",
                                    (int)ns, sub);
    }
    if (left)
        ns_warn("%zu subject%s with raw BOLD files but no fMRIPrep outputs (*_desc-preproc_bold) "
                "left out, as the other subjects' fMRIPrep outputs are used: %s (%s)",
                left, left > 1 ? "s" : "", names, dir);
}

/* sub-<l>/func and sub-<l>/ses-<s>/func of one subject directory. */
static ns_status scan_subject(const char *subdir, strlist *pre, strlist *raw)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/func", subdir);
    ns_status st = scan_func(path, pre, raw);
    DIR *d = opendir(subdir);
    struct dirent *e;
    while (st == NS_OK && d && (e = readdir(d))) {
        if (strncmp(e->d_name, "ses-", 4))
            continue;
        snprintf(path, sizeof path, "%s/%s/func", subdir, e->d_name);
        st = scan_func(path, pre, raw);
    }
    if (d)
        closedir(d);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ns_status ns_ica_find_bold(const char *bids_dir, const char *const *labels, size_t nlabels,
                           char ***out, size_t *n)
{
    *out = NULL, *n = 0;
    DIR *d = opendir(bids_dir);
    if (!d)
        return ns_error(NS_ERR_IO, "cannot open the BIDS directory (%s)", bids_dir);
    strlist pre = {0}, raw = {0};
    ns_status st = NS_OK;
    struct dirent *e;
    char path[4096];
    while (st == NS_OK && (e = readdir(d))) {
        snprintf(path, sizeof path, "%s/%s", bids_dir, e->d_name);
        if (strncmp(e->d_name, "sub-", 4) || !is_dir(path) ||
            !label_wanted(e->d_name, labels, nlabels))
            continue;
        st = scan_subject(path, &pre, &raw);
    }
    closedir(d);
    strlist *use = pre.n ? &pre : &raw;
    if (st == NS_OK && use->n == 0)
        st = ns_error(NS_ERR_DATA, "no sub-*/[ses-*/]func/*_bold.nii[.gz] files found (%s)",
                      bids_dir);
    if (st == NS_OK)
        qsort(use->v, use->n, sizeof(char *), cmp_str);
    if (st == NS_OK)
        st = check_labels(bids_dir, labels, nlabels, use, use == &pre);
    if (st == NS_OK && pre.n && raw.n) {
        qsort(raw.v, raw.n, sizeof(char *), cmp_str);
        warn_raw_only(bids_dir, &pre, &raw);
    }
    if (st != NS_OK) {
        strlist_free(&pre), strlist_free(&raw);
        return st;
    }
    *out = use->v, *n = use->n;
    strlist_free(use == &pre ? &raw : &pre);
    return NS_OK;
}

static char *base_without_ext(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = strdup(b);
    if (!s)
        return NULL;
    static const char *const ext[] = {".nii.gz", ".nii", ".hdr.gz", ".img.gz", ".hdr", ".img"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (ends_with(s, ext[i])) {
            s[strlen(s) - strlen(ext[i])] = 0;
            break;
        }
    return s;
}

/* Keeps key-value entities except desc-, drops the suffix (bold). */
static void bids_entities(char *base, char *stem, size_t len, char *label, size_t llen)
{
    stem[0] = label[0] = 0;
    char *save = NULL;
    for (char *tok = strtok_r(base, "_", &save); tok; tok = strtok_r(NULL, "_", &save)) {
        char *dash = strchr(tok, '-');
        if (!dash || !strncmp(tok, "desc-", 5))
            continue;
        if (!strncmp(tok, "sub-", 4))
            snprintf(label, llen, "%s", tok + 4);
        size_t used = strlen(stem);
        snprintf(stem + used, len - used, "%s%s", used ? "_" : "", tok);
    }
}

ns_status ns_ica_bids_stem(const char *bold, char **stem, char **label)
{
    *stem = *label = NULL;
    char *base = base_without_ext(bold);
    size_t len = base ? 2 * strlen(base) + 16 : 0;
    char *s = base ? malloc(len) : NULL, *l = base ? malloc(len) : NULL;
    if (!base || !s || !l) {
        free(base), free(s), free(l);
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", bold);
    }
    char *copy = strdup(base);
    bids_entities(copy, s, len, l, len);
    free(copy);
    if (!l[0] || strncmp(s, "sub-", 4)) {
        /* Not a BIDS name: the label is the file's alphanumeric name. */
        size_t j = 0;
        for (const char *c = base; *c; c++)
            if (isalnum((unsigned char)*c))
                l[j++] = *c;
        l[j] = 0;
        snprintf(s, len, "sub-%s", l);
    }
    free(base);
    if (!l[0]) {
        free(s), free(l);
        return ns_error(NS_ERR_ARG, "cannot derive a subject label from the file name (%s)",
                        bold);
    }
    *stem = s, *label = l;
    return NS_OK;
}
