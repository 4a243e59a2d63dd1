/* JSON files through jansson, written atomically. */
#include "core/core.h"

ns_status ns_json_read(const char *path, json_t **out)
{
    json_error_t err;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!*out) {
        if (!ns_file_exists(path))
            return ns_error(NS_ERR_IO, "cannot open (%s)", path);
        return ns_error(NS_ERR_FORMAT, "invalid JSON at line %d: %s (%s)", err.line, err.text, path);
    }
    return NS_OK;
}

ns_status ns_json_write(const json_t *j, const char *path)
{
    ns_afile *f;
    ns_status s = ns_afile_open(path, &f);
    if (s)
        return s;
    if (json_dumpf(j, ns_afile_stream(f), JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) != 0) {
        ns_afile_abort(f);
        return ns_error(NS_ERR_IO, "cannot write JSON (%s)", path);
    }
    fputc('\n', ns_afile_stream(f));
    return ns_afile_commit(f);
}
