/* Atomic file writing (temporary name + rename) and small file helpers. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

struct ns_afile {
    FILE *fp;
    char *path, *tmp;
    char *buf; /* stdio buffer: larger than the 4 KiB default, fewer write calls */
};

#define AFILE_BUF (128 * 1024)

/* "<dir>/.ns-XXXXXX.<base>": the same directory (rename stays atomic) and the
 * same extension (libraries that pick a format by extension still work). */
static char *temp_template(const char *path, size_t *suffix_len)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = dirlen + strlen(".ns-XXXXXX.") + strlen(base) + 1;
    char *t = malloc(len);
    if (!t)
        return NULL;
    snprintf(t, len, "%.*s.ns-XXXXXX.%s", (int)dirlen, path, base);
    *suffix_len = strlen(base) + 1;
    return t;
}

ns_status ns_afile_open(const char *path, ns_afile **out)
{
    *out = NULL;
    size_t suffix;
    ns_afile *f = calloc(1, sizeof *f);
    char *tmp = temp_template(path, &suffix);
    char *dup = strdup(path);
    if (!f || !tmp || !dup) {
        free(f), free(tmp), free(dup);
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    }
    int fd = mkstemps(tmp, (int)suffix);
    if (fd < 0) {
        int e = errno;
        free(f), free(tmp), free(dup);
        return ns_error(NS_ERR_IO, "cannot create file: %s (%s)", strerror(e), path);
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        unlink(tmp);
        free(f), free(tmp), free(dup);
        return ns_error(NS_ERR_IO, "cannot open stream (%s)", path);
    }
    if ((f->buf = malloc(AFILE_BUF)))
        setvbuf(f->fp, f->buf, _IOFBF, AFILE_BUF);
    f->path = dup;
    f->tmp = tmp;
    *out = f;
    return NS_OK;
}

FILE *ns_afile_stream(ns_afile *f) { return f->fp; }

const char *ns_afile_temp_path(const ns_afile *f) { return f->tmp; }

static void afile_release(ns_afile *f)
{
    free(f->buf);
    free(f->path);
    free(f->tmp);
    free(f);
}

/* fsync before the rename protects against a machine crash, not against a
 * killed process (the rename alone does that) and costs about half the wall
 * time of stages that write many small files: off unless NS_FSYNC=1. */
static int want_fsync(void)
{
    const char *e = getenv("NS_FSYNC");
    return e && *e == '1';
}

ns_status ns_afile_commit(ns_afile *f)
{
    int err = 0;
    if (fflush(f->fp) != 0 || ferror(f->fp))
        err = errno ? errno : EIO;
    if (!err && want_fsync() && fsync(fileno(f->fp)) != 0 && errno != EINVAL)
        err = errno;
    if (fclose(f->fp) != 0 && !err)
        err = errno ? errno : EIO;
    f->fp = NULL;
    if (!err && rename(f->tmp, f->path) != 0)
        err = errno;
    if (err) {
        unlink(f->tmp);
        ns_status s = ns_error(NS_ERR_IO, "cannot write file: %s (%s)", strerror(err), f->path);
        afile_release(f);
        return s;
    }
    afile_release(f);
    return NS_OK;
}

void ns_afile_abort(ns_afile *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    unlink(f->tmp);
    afile_release(f);
}

char *ns_afile_release(ns_afile *f)
{
    fclose(f->fp);
    char *tmp = f->tmp;
    f->tmp = NULL;
    afile_release(f);
    return tmp;
}

ns_status ns_rename_into_place(const char *tmp, const char *path)
{
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ns_error(NS_ERR_IO, "cannot move file into place: %s (%s)", strerror(e), path);
    }
    return NS_OK;
}

ns_status ns_mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    for (char *s = p + 1;; s++) {
        int end = (*s == '\0');
        if (*s == '/' || end) {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                free(p);
                return ns_error(NS_ERR_IO, "cannot create directory: %s (%s)", strerror(e), path);
            }
            if (end)
                break;
            *s = '/';
        }
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return ns_error(NS_ERR_IO, "not a directory (%s)", path);
    return NS_OK;
}

int ns_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int name_matches(const char *name, const char *prefix, const char *suffix)
{
    size_t n = strlen(name), m = suffix ? strlen(suffix) : 0;
    return name[0] != '.' && (!prefix || !strncmp(name, prefix, strlen(prefix))) &&
           (!suffix || (n >= m && !strcmp(name + n - m, suffix)));
}

ns_status ns_list_dir(const char *dir, const char *prefix, const char *suffix, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? NS_OK : ns_error(NS_ERR_IO, "cannot list: %s (%s)", strerror(errno), dir);
    size_t cap = 0;
    struct dirent *e;
    ns_status s = NS_OK;
    while (!s && (e = readdir(d))) {
        if (!name_matches(e->d_name, prefix, suffix))
            continue;
        if (*n == cap) {
            char **nn = realloc(*names, sizeof(char *) * (cap = cap ? 2 * cap : 16));
            if (!nn) {
                s = ns_error(NS_ERR_NOMEM, "out of memory listing (%s)", dir);
                break;
            }
            *names = nn;
        }
        if (!((*names)[*n] = strdup(e->d_name)))
            s = ns_error(NS_ERR_NOMEM, "out of memory listing (%s)", dir);
        else
            (*n)++;
    }
    closedir(d);
    if (s) {
        ns_free_strings(*names, *n);
        *names = NULL;
        *n = 0;
        return s;
    }
    if (*n)
        qsort(*names, *n, sizeof(char *), cmp_names);
    return NS_OK;
}

void ns_free_strings(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

ns_status ns_read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ns_error(NS_ERR_IO, "cannot open: %s (%s)", strerror(errno), path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap)
            break;
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf)
        return ns_error(NS_ERR_NOMEM, "out of memory reading (%s)", path);
    if (bad) {
        free(buf);
        return ns_error(NS_ERR_IO, "read error (%s)", path);
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return NS_OK;
}
