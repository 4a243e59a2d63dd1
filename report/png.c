/* PNG encoding in memory through libpng, and base64 data URIs. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed;
} png_sink;

static void sink_write(png_structp png, png_bytep data, png_size_t n)
{
    png_sink *s = png_get_io_ptr(png);
    if (s->failed)
        return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (cap < s->len + n)
            cap *= 2;
        uint8_t *d = realloc(s->data, cap);
        if (!d) {
            s->failed = 1;
            return;
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, n);
    s->len += n;
}

static void sink_flush(png_structp png) { (void)png; }

ns_status ns_png_encode_rgb(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len)
{
    if (w <= 0 || h <= 0)
        return ns_error(NS_ERR_ARG, "empty image (%d x %d)", w, h);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_sink sink = {0};
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return ns_error(NS_ERR_NOMEM, "cannot create a PNG encoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(sink.data);
        return ns_error(NS_ERR_INTERNAL, "PNG encoding failed");
    }
    png_set_write_fn(png, &sink, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (sink.failed) {
        free(sink.data);
        return ns_error(NS_ERR_NOMEM, "out of memory encoding a PNG");
    }
    *out = sink.data;
    *len = sink.len;
    return NS_OK;
}

char *ns_png_data_uri(const uint8_t *png, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char prefix[] = "data:image/png;base64,";
    size_t n = sizeof prefix - 1 + 4 * ((len + 2) / 3) + 1;
    char *s = malloc(n), *p;
    if (!s)
        return NULL;
    memcpy(s, prefix, sizeof prefix - 1);
    p = s + sizeof prefix - 1;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)png[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)png[i + 1] << 8;
        if (i + 2 < len)
            v |= png[i + 2];
        *p++ = tab[(v >> 18) & 63];
        *p++ = tab[(v >> 12) & 63];
        *p++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *p++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *p = '\0';
    return s;
}
