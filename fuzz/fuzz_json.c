/* libFuzzer harness: ns_json_read (BIDS sidecars, configs) on arbitrary
 * bytes; a document that reads is written back with ns_json_write and must
 * read again as an equal value when it holds no reals (reals are rounded to
 * 10 significant digits on writing, by design). */
#include "fuzz_util.h"

static int has_real(const json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_REAL: return 1;
    case JSON_OBJECT:
        json_object_foreach((json_t *)j, key, v) if (has_real(v)) return 1;
        return 0;
    case JSON_ARRAY:
        json_array_foreach(j, i, v) if (has_real(v)) return 1;
        return 0;
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = ns_fuzz_write("in.json", data, size);
    json_t *j = NULL;
    ns_status s = ns_json_read(path, &j);
    ns_fuzz_check_message(s);
    if (s != NS_OK)
        return 0;
    char copy[512];
    snprintf(copy, sizeof copy, "%s/copy.json", ns_fuzz_scratch());
    if (ns_json_write(j, copy) != NS_OK) {
        /* jansson refuses to encode some values it decoded (a lone number is
         * fine, but e.g. invalid UTF-8 never decodes): any refusal must still
         * leave no file behind. */
        if (ns_file_exists(copy))
            abort();
    } else if (!has_real(j)) {
        json_t *k = NULL;
        if (ns_json_read(copy, &k) != NS_OK || !json_equal(j, k)) {
            fprintf(stderr, "fuzz: JSON round trip differs: %s\n", ns_last_error());
            abort();
        }
        json_decref(k);
    }
    remove(copy);
    json_decref(j);
    return 0;
}
