/* NPZ archives (zip of NPY members) through libzip. numpy.savez stores its
 * members uncompressed; savez_compressed deflates them: both are read. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "core/core.h"

typedef struct {
    char *name;
    ns_array *array;
} npz_entry;

struct ns_npz {
    npz_entry *entries;
    size_t count, cap;
};

ns_npz *ns_npz_create(void)
{
    ns_npz *z = calloc(1, sizeof *z);
    if (!z)
        ns_error(NS_ERR_NOMEM, "out of memory");
    return z;
}

void ns_npz_free(ns_npz *z)
{
    if (!z)
        return;
    for (size_t i = 0; i < z->count; i++) {
        free(z->entries[i].name);
        ns_array_free(z->entries[i].array);
    }
    free(z->entries);
    free(z);
}

static long find_entry(const ns_npz *z, const char *name)
{
    for (size_t i = 0; i < z->count; i++)
        if (!strcmp(z->entries[i].name, name))
            return (long)i;
    return -1;
}

ns_status ns_npz_add(ns_npz *z, const char *name, ns_array *a)
{
    if (!a)
        return ns_error(NS_ERR_ARG, "no array to add as '%s'", name);
    long i = find_entry(z, name);
    if (i >= 0) {
        ns_array_free(z->entries[i].array);
        z->entries[i].array = a;
        return NS_OK;
    }
    if (z->count == z->cap) {
        size_t cap = z->cap ? 2 * z->cap : 8;
        npz_entry *e = realloc(z->entries, cap * sizeof *e);
        if (!e) {
            ns_array_free(a);
            return ns_error(NS_ERR_NOMEM, "out of memory adding '%s'", name);
        }
        z->entries = e;
        z->cap = cap;
    }
    char *dup = strdup(name);
    if (!dup) {
        ns_array_free(a);
        return ns_error(NS_ERR_NOMEM, "out of memory adding '%s'", name);
    }
    z->entries[z->count++] = (npz_entry){dup, a};
    return NS_OK;
}

size_t ns_npz_count(const ns_npz *z) { return z->count; }

const char *ns_npz_name(const ns_npz *z, size_t i) { return i < z->count ? z->entries[i].name : NULL; }

const ns_array *ns_npz_get(const ns_npz *z, const char *name)
{
    long i = find_entry(z, name);
    return i < 0 ? NULL : z->entries[i].array;
}

/* Reads member idx whole; its uncompressed size is bounded by the archive
 * size times deflate's largest ratio, so that a lying header cannot make us
 * allocate more than the archive can hold. */
static ns_status read_member(zip_t *za, zip_uint64_t idx, const char *path, off_t archive_size, ns_npz *z)
{
    zip_stat_t st;
    if (zip_stat_index(za, idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_NAME))
        return ns_error(NS_ERR_FORMAT, "unreadable NPZ member %llu (%s)", (unsigned long long)idx, path);
    size_t nlen = strlen(st.name);
    if (nlen < 5 || strcmp(st.name + nlen - 4, ".npy"))
        return NS_OK; /* not an array: ignore, as numpy does on access */
    /* deflate expands at most ~1032:1; stored members are their own size */
    zip_uint64_t limit = (zip_uint64_t)archive_size * 1032 + 1024;
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE)
        limit = (zip_uint64_t)archive_size;
    if (st.size > limit || st.size > ((zip_uint64_t)1 << 36))
        return ns_error(NS_ERR_FORMAT, "NPZ member '%s' claims %llu bytes, impossible in this archive (%s)",
                        st.name, (unsigned long long)st.size, path);
    char *buf = ns_alloc(st.size ? st.size : 1, 1);
    if (!buf)
        return ns_error_prefix(NS_ERR_NOMEM, "%s", path);
    zip_file_t *zf = zip_fopen_index(za, idx, 0);
    zip_int64_t got = zf ? zip_fread(zf, buf, st.size) : -1;
    if (zf)
        zip_fclose(zf);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        free(buf);
        return ns_error(NS_ERR_FORMAT, "corrupt NPZ member '%s' (%s)", st.name, path);
    }
    char name[512];
    snprintf(name, sizeof name, "%.*s", (int)(nlen - 4), st.name);
    ns_array *a;
    char what[1024];
    snprintf(what, sizeof what, "%s in %s", st.name, path);
    ns_status s = ns_npy_parse(buf, st.size, what, &a);
    free(buf);
    return s ? s : ns_npz_add(z, name, a);
}

ns_status ns_npz_read(const char *path, ns_npz **out)
{
    *out = NULL;
    int err = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!za) {
        if (!ns_file_exists(path))
            return ns_error(NS_ERR_IO, "cannot open (%s)", path);
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        ns_status s = ns_error(NS_ERR_FORMAT, "not a valid NPZ archive: %s (%s)", zip_error_strerror(&ze), path);
        zip_error_fini(&ze);
        return s;
    }
    struct stat fst;
    off_t archive_size = stat(path, &fst) == 0 ? fst.st_size : 0;
    ns_npz *z = ns_npz_create();
    ns_status s = z ? NS_OK : NS_ERR_NOMEM;
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n && !s; i++)
        s = read_member(za, (zip_uint64_t)i, path, archive_size, z);
    zip_discard(za);
    if (s) {
        ns_npz_free(z);
        return s;
    }
    *out = z;
    return NS_OK;
}

static ns_status add_members(zip_t *za, const ns_npz *z, const char *path)
{
    for (size_t i = 0; i < z->count; i++) {
        void *buf;
        size_t len;
        if (ns_npy_serialise(z->entries[i].array, &buf, &len))
            return ns_error_prefix(NS_ERR_NOMEM, "%s", path);
        zip_source_t *src = zip_source_buffer(za, buf, len, 1);
        if (!src) {
            free(buf);
            return ns_error(NS_ERR_NOMEM, "cannot add '%s' (%s)", z->entries[i].name, path);
        }
        char name[512];
        snprintf(name, sizeof name, "%s.npy", z->entries[i].name);
        zip_int64_t idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
        if (idx < 0) {
            zip_source_free(src);
            return ns_error(NS_ERR_IO, "cannot add '%s': %s (%s)", name, zip_strerror(za), path);
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
        zip_file_set_mtime(za, (zip_uint64_t)idx, 315532800, 0); /* 1980: reproducible bytes */
    }
    return NS_OK;
}

ns_status ns_npz_write(const ns_npz *z, const char *path)
{
    ns_afile *f;
    ns_status s = ns_afile_open(path, &f);
    if (s)
        return s;
    if (z->count == 0) {
        /* libzip deletes an archive without members on closing; numpy
         * writes (and reads) an empty zip: the end-of-directory record only */
        static const unsigned char eocd[22] = {'P', 'K', 5, 6};
        fwrite(eocd, 1, sizeof eocd, ns_afile_stream(f));
        return ns_afile_commit(f);
    }
    char *tmp = ns_afile_release(f);
    if (!tmp)
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    int err = 0;
    zip_t *za = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) {
        remove(tmp);
        free(tmp);
        return ns_error(NS_ERR_IO, "cannot create archive (%s)", path);
    }
    s = add_members(za, z, path);
    if (s) {
        zip_discard(za);
    } else if (zip_close(za) != 0) {
        s = ns_error(NS_ERR_IO, "cannot write archive: %s (%s)", zip_strerror(za), path);
        zip_discard(za);
    }
    if (s)
        remove(tmp);
    else
        s = ns_rename_into_place(tmp, path);
    free(tmp);
    return s;
}
