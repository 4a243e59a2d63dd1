/* libFuzzer harness: ns_tsv_read on arbitrary bytes. A table that reads must
 * survive ns_tsv_write and read back identical (header and every cell). */
#include "fuzz_util.h"

static int same_cell(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_round_trip(const ns_tsv *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/copy.tsv", ns_fuzz_scratch());
    if (ns_tsv_write(t, path) != NS_OK)
        abort();
    ns_tsv *u;
    if (ns_tsv_read(path, &u) != NS_OK) {
        fprintf(stderr, "fuzz: written table does not read back: %s\n", ns_last_error());
        abort();
    }
    if (u->ncols != t->ncols || u->nrows != t->nrows)
        abort();
    for (size_t j = 0; j < t->ncols; j++)
        if (strcmp(u->header[j], t->header[j]))
            abort();
    for (size_t i = 0; i < t->nrows; i++)
        for (size_t j = 0; j < t->ncols; j++)
            if (!same_cell(ns_tsv_get(t, i, j), ns_tsv_get(u, i, j)))
                abort();
    ns_tsv_free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = ns_fuzz_write("in.tsv", data, size);
    ns_tsv *t = NULL;
    ns_status s = ns_tsv_read(path, &t);
    ns_fuzz_check_message(s);
    if (s != NS_OK)
        return 0;
    for (size_t i = 0; i < t->nrows; i++)
        for (size_t j = 0; j < t->ncols; j++) {
            double v;
            ns_clear_error();
            ns_fuzz_check_message(ns_tsv_get_double(t, i, j, &v));
        }
    if (t->ncols)
        (void)ns_tsv_column(t, t->header[t->ncols - 1]);
    (void)ns_tsv_get(t, t->nrows, t->ncols); /* out of range: NULL */
    check_round_trip(t);
    ns_tsv_free(t);
    return 0;
}
