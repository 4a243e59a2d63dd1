/* report: PNG round trip through libpng, base64, mosaics, SVG well-formed. */
/* requires: report */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "ns_test.h"
#include "report/report.h"

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Decodes a PNG with libpng's simplified API into RGB. */
static uint8_t *decode_png(const uint8_t *buf, size_t len, int *w, int *h)
{
    png_image img = {0};
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len))
        return NULL;
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return px;
}

START_TEST(test_png_roundtrip)
{
    int w = 7, h = 5;
    uint8_t rgb[7 * 5 * 3];
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (uint8_t)(i * 37);
    uint8_t *png;
    size_t len;
    ck_assert_int_eq(ns_png_encode_rgb(rgb, w, h, &png, &len), NS_OK);
    int w2, h2;
    uint8_t *back = decode_png(png, len, &w2, &h2);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(w2, w);
    ck_assert_int_eq(h2, h);
    ck_assert(memcmp(back, rgb, sizeof rgb) == 0);
    char *uri = ns_png_data_uri(png, len);
    ck_assert(strncmp(uri, "data:image/png;base64,iVBORw0KGgo", 33) == 0);
    ck_assert_int_eq(strlen(uri) - 22, 4 * ((len + 2) / 3));
    free(uri);
    free(back);
    free(png);
}
END_TEST

START_TEST(test_mosaic_threshold)
{
    enum { NX = 4, NY = 3, NZ = 4 };
    float map[NX * NY * NZ] = {0}, bg[NX * NY * NZ];
    for (int i = 0; i < NX * NY * NZ; i++)
        bg[i] = 100;
    map[0] = 5;                 /* z 0, y 0, x 0: above threshold, positive */
    map[NX * NY * 2 + 1] = -5;  /* z 2, y 0, x 1: negative */
    map[NX * NY * 2 + 2] = 0.5; /* below threshold: background */
    ns_mosaic m = {.map = map, .bg = bg, .nx = NX, .ny = NY, .nz = NZ, .threshold = 1, .step = 2, .cols = 2, .scale = 1};
    uint8_t *rgb;
    int w, h;
    ck_assert_int_eq(ns_mosaic_render(&m, &rgb, &w, &h), NS_OK);
    ck_assert_int_eq(w, 2 * NX);
    ck_assert_int_eq(h, NY);
    /* y = 0 is drawn on the bottom image row */
    const uint8_t *p0 = rgb + 3 * ((size_t)(NY - 1) * (size_t)w + 0);
    ck_assert(p0[0] == 255 && p0[2] == 0);              /* hot */
    const uint8_t *p1 = rgb + 3 * ((size_t)(NY - 1) * (size_t)w + NX + 1);
    ck_assert(p1[2] == 255 && p1[0] == 0);              /* cold */
    const uint8_t *p2 = rgb + 3 * ((size_t)(NY - 1) * (size_t)w + NX + 2);
    ck_assert(p2[0] == 160 && p2[1] == 160 && p2[2] == 160); /* grey background at max */
    free(rgb);
}
END_TEST

START_TEST(test_svg_shapes)
{
    double x[9] = {0, 0.5, -0.2, 0.5, 0, NAN, -0.2, NAN, 0};
    const char *lab[] = {"a<1", "b", "c"};
    size_t blocks[] = {0, 2};
    ns_heatmap hm = {.x = x, .rows = 3, .cols = 3, .row_labels = lab, .col_labels = lab, .blocks = blocks,
                     .nblocks = 2, .title = "FNC & more"};
    char *svg = ns_svg_heatmap(&hm);
    ck_assert_int_eq(count(svg, "<rect x=") - 20, 9); /* 9 cells + 20 colour-bar steps */
    ck_assert_int_eq(count(svg, "<line"), 2);
    ck_assert_ptr_nonnull(strstr(svg, "a&lt;1"));
    ck_assert_ptr_null(strstr(svg, "a<1"));
    ck_assert_ptr_nonnull(strstr(svg, "FNC &amp; more"));
    free(svg);
    double xs[] = {0, 1, 2}, ya[] = {1, 2, 3}, yb[] = {3, NAN, 1};
    ns_series s[2] = {{.name = "HC", .x = xs, .y = ya, .n = 3}, {.name = "SZ", .x = xs, .y = yb, .n = 3}};
    ns_lineplot lp = {.series = s, .nseries = 2, .title = "sigma_1", .xlabel = "epoch", .ylabel = "value"};
    svg = ns_svg_lineplot(&lp);
    ck_assert_int_eq(count(svg, "<polyline"), 2);
    ck_assert_ptr_nonnull(strstr(svg, ">SZ<"));
    free(svg);
}
END_TEST

START_TEST(test_html_page)
{
    ns_html *h = ns_html_create("Report <1>");
    ns_html_heading(h, 2, "Maps");
    ns_html_text(h, "a & b");
    uint8_t rgb[12] = {0}, *png;
    size_t len;
    ck_assert_int_eq(ns_png_encode_rgb(rgb, 2, 2, &png, &len), NS_OK);
    ns_html_png(h, png, len, "map");
    free(png);
    char path[1024];
    snprintf(path, sizeof path, "%s/r.html", ns_test_tmpdir());
    ck_assert_int_eq(ns_html_write(h, path), NS_OK);
    ns_html_free(h);
    char *data;
    ck_assert_int_eq(ns_read_file(path, &data, NULL), NS_OK);
    ck_assert_ptr_nonnull(strstr(data, "<title>Report &lt;1&gt;</title>"));
    ck_assert_ptr_nonnull(strstr(data, "<p>a &amp; b</p>"));
    ck_assert_ptr_nonnull(strstr(data, "src=\"data:image/png;base64,"));
    ck_assert_ptr_null(strstr(data, "http")); /* self-contained: nothing fetched */
    free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, test_png_roundtrip);
    tcase_add_test(tc, test_mosaic_threshold);
    tcase_add_test(tc, test_svg_shapes);
    tcase_add_test(tc, test_html_page);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
