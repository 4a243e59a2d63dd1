/* Self-contained HTML pages: everything inline, nothing fetched. */
#include <stdlib.h>

#include "report/report.h"

struct ns_html {
    ns_strbuf body;
    char *title;
};

ns_html *ns_html_create(const char *title)
{
    ns_html *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    ns_strbuf_init(&h->body);
    ns_strbuf t;
    ns_strbuf_init(&t);
    ns_strbuf_append_escaped(&t, title);
    h->title = ns_strbuf_take(&t);
    return h;
}

void ns_html_free(ns_html *h)
{
    if (!h)
        return;
    ns_strbuf_free(&h->body);
    free(h->title);
    free(h);
}

void ns_html_heading(ns_html *h, int level, const char *text)
{
    level = level < 1 ? 1 : level > 4 ? 4 : level;
    ns_strbuf_appendf(&h->body, "<h%d>", level);
    ns_strbuf_append_escaped(&h->body, text);
    ns_strbuf_appendf(&h->body, "</h%d>\n", level);
}

void ns_html_text(ns_html *h, const char *text)
{
    ns_strbuf_append(&h->body, "<p>");
    ns_strbuf_append_escaped(&h->body, text);
    ns_strbuf_append(&h->body, "</p>\n");
}

void ns_html_raw(ns_html *h, const char *html) { ns_strbuf_append(&h->body, html); }

void ns_html_png(ns_html *h, const uint8_t *png, size_t len, const char *alt)
{
    char *uri = ns_png_data_uri(png, len);
    if (!uri) {
        h->body.failed = 1;
        return;
    }
    ns_strbuf_append(&h->body, "<img class=\"fig\" alt=\"");
    ns_strbuf_append_escaped(&h->body, alt);
    ns_strbuf_append(&h->body, "\" src=\"");
    ns_strbuf_append(&h->body, uri);
    ns_strbuf_append(&h->body, "\">\n");
    free(uri);
}

void ns_html_table(ns_html *h, const ns_tsv *t, size_t max_rows)
{
    size_t rows = max_rows && max_rows < t->nrows ? max_rows : t->nrows;
    ns_strbuf_append(&h->body, "<table><tr>");
    for (size_t j = 0; j < t->ncols; j++) {
        ns_strbuf_append(&h->body, "<th>");
        ns_strbuf_append_escaped(&h->body, t->header[j]);
        ns_strbuf_append(&h->body, "</th>");
    }
    ns_strbuf_append(&h->body, "</tr>\n");
    for (size_t i = 0; i < rows; i++) {
        ns_strbuf_append(&h->body, "<tr>");
        for (size_t j = 0; j < t->ncols; j++) {
            const char *c = ns_tsv_get(t, i, j);
            ns_strbuf_append(&h->body, "<td>");
            ns_strbuf_append_escaped(&h->body, c ? c : "n/a");
            ns_strbuf_append(&h->body, "</td>");
        }
        ns_strbuf_append(&h->body, "</tr>\n");
    }
    ns_strbuf_append(&h->body, "</table>\n");
    if (rows < t->nrows)
        ns_strbuf_appendf(&h->body, "<p class=\"note\">%zu of %zu rows shown.</p>\n", rows, t->nrows);
}

void ns_html_kv(ns_html *h, const char *const *keys, const char *const *values, size_t n)
{
    ns_strbuf_append(&h->body, "<table class=\"kv\">\n");
    for (size_t i = 0; i < n; i++) {
        ns_strbuf_append(&h->body, "<tr><th>");
        ns_strbuf_append_escaped(&h->body, keys[i]);
        ns_strbuf_append(&h->body, "</th><td>");
        ns_strbuf_append_escaped(&h->body, values[i] ? values[i] : "n/a");
        ns_strbuf_append(&h->body, "</td></tr>\n");
    }
    ns_strbuf_append(&h->body, "</table>\n");
}

static const char css[] =
    "body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}"
    "h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #aaa;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    "img.fig{max-width:100%;image-rendering:pixelated;display:block;margin:.5em 0}"
    ".note{color:#666;font-size:12px}svg{display:block;margin:.5em 0}"
    ".grid{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0}figcaption{font-size:11px;text-align:center}";

ns_status ns_html_write(ns_html *h, const char *path)
{
    if (h->body.failed)
        return ns_error(NS_ERR_NOMEM, "out of memory building the page (%s)", path);
    ns_afile *f;
    ns_status s = ns_afile_open(path, &f);
    if (s)
        return s;
    FILE *fp = ns_afile_stream(f);
    fprintf(fp, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>%s</title><style>%s</style></head>\n<body>\n<h1>%s</h1>\n",
            h->title, css, h->title);
    fputs(h->body.data ? h->body.data : "", fp);
    fprintf(fp, "<p class=\"note\">neurospectra %s</p>\n</body></html>\n", NS_VERSION);
    return ns_afile_commit(f);
}
