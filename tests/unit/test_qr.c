/* SPDX-License-Identifier: MIT */
/* test_qr.c -- QR encoding against libqrencode, and the text, SVG and PNG renderers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <qrencode.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/qr.h"

/* The pairing string observed in wa-protocol.md §5.2 (a real-sized payload). */
static const char WA_QR[] = "https://wa.me/settings/linked_devices#2@ref-one,"
                            "Yr826nllYmoez+jaghgtmR0xtz3SwNHiGu8ue2LjMQM=,"
                            "tUDj4q2wxDIFgyrpBV+012qUK7t2CNspLAcO/SfDtys=,"
                            "SjsZ7EqLOtcht/VKah0mchx6faa/Dw9NGBcijH5TPDw=,1";

static struct qr *encode_ok(const char *text)
{
    struct qr *q = NULL;
    assert_int_equal(qr_encode(text, &q), 0);
    assert_non_null(q);
    return q;
}

static int count_dark(const struct qr *q)
{
    int n = 0;
    for (int y = 0; y < qr_width(q); y++)
        for (int x = 0; x < qr_width(q); x++)
            n += qr_module(q, x, y);
    return n;
}

/* ---- encoding ---- */

static void check_against_libqrencode(const char *text)
{
    struct qr *q = encode_ok(text);
    QRcode *ref = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    assert_non_null(ref);
    assert_int_equal(qr_width(q), ref->width);
    assert_int_equal(qr_version(q), ref->version);
    assert_int_equal(qr_width(q), 17 + 4 * qr_version(q));
    for (int y = 0; y < ref->width; y++)
        for (int x = 0; x < ref->width; x++)
            assert_int_equal(qr_module(q, x, y), ref->data[y * ref->width + x] & 1);
    /* Finder pattern at the top-left: dark ring, light ring, dark 3x3 core. */
    assert_true(qr_module(q, 0, 0) && qr_module(q, 6, 6) && qr_module(q, 3, 3));
    assert_false(qr_module(q, 1, 1) || qr_module(q, 7, 7));
    /* Outside reads light. */
    assert_false(qr_module(q, -1, 0) || qr_module(q, 0, -1));
    assert_false(qr_module(q, qr_width(q), 0) || qr_module(q, 0, qr_width(q)));
    QRcode_free(ref);
    qr_free(q);
}

static void test_encode_matches_libqrencode(void **state)
{
    check_against_libqrencode("A");
    check_against_libqrencode("hello, wagate");
    check_against_libqrencode(WA_QR);
}

static void test_encode_sizes(void **state)
{
    struct qr *q = encode_ok("A");
    assert_int_equal(qr_version(q), 1);
    assert_int_equal(qr_width(q), 21);
    qr_free(q);
    /* A real pairing string stays small at level L. */
    q = encode_ok(WA_QR);
    assert_in_range(qr_version(q), 7, 10);
    qr_free(q);
    /* Level L is really used: the same text at M needs a larger symbol. */
    QRcode *m = QRcode_encodeString(WA_QR, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(m);
    q = encode_ok(WA_QR);
    assert_true(qr_version(q) < m->version);
    QRcode_free(m);
    qr_free(q);
}

static void test_encode_limits(void **state)
{
    struct qr *q = NULL;
    char *big = malloc(QR_MAX_INPUT + 2);
    assert_non_null(big);
    memset(big, 'x', QR_MAX_INPUT);
    big[QR_MAX_INPUT] = '\0';
    assert_int_equal(qr_encode(big, &q), 0); /* exactly the cap: accepted */
    assert_in_range(qr_version(q), 20, 40);
    q = qr_free(q);
    assert_null(q);
    check_against_libqrencode(big);
    big[QR_MAX_INPUT] = 'x';
    big[QR_MAX_INPUT + 1] = '\0';
    assert_int_equal(qr_encode(big, &q), -EMSGSIZE);
    assert_null(q);
    free(big);
    assert_int_equal(qr_encode("", &q), -EINVAL);
    assert_int_equal(qr_encode(NULL, &q), -EINVAL);
    assert_int_equal(qr_encode("x", NULL), -EINVAL);
    assert_null(q);
    assert_null(qr_free(NULL));
}

/* ---- text ---- */

/* Decode one UTF-8 half-block glyph at *p into (upper, lower) ink bits. */
static int glyph_bits(const char **p)
{
    if (**p == ' ') {
        (*p)++;
        return 0;
    }
    const unsigned char *u = (const unsigned char *)*p;
    assert_int_equal(u[0], 0xe2);
    assert_int_equal(u[1], 0x96);
    *p += 3;
    switch (u[2]) {
    case 0x80:
        return 1;
    case 0x84:
        return 2;
    case 0x88:
        return 3;
    }
    fail_msg("unexpected glyph byte %02x", u[2]);
    return -1;
}

/* Parse the text rendering back into an ink grid (side x rows) and check
 * every line has the same number of cells. Returns the grid (malloc'd). */
static uint8_t *parse_text(const struct buf *b, int side, int *rows)
{
    int lines = (side + 1) / 2;
    uint8_t *ink = calloc((size_t)side * (size_t)(lines * 2), 1);
    assert_non_null(ink);
    const char *p = (const char *)b->data, *end = p + b->len;
    for (int l = 0; l < lines; l++) {
        for (int x = 0; x < side; x++) {
            assert_true(p < end);
            int g = glyph_bits(&p);
            ink[(size_t)(2 * l) * (size_t)side + (size_t)x] = g & 1;
            ink[(size_t)(2 * l + 1) * (size_t)side + (size_t)x] = (g >> 1) & 1;
        }
        assert_true(p < end);
        assert_int_equal(*p, '\n');
        p++;
    }
    assert_true(p == end);
    *rows = lines * 2;
    return ink;
}

static void check_text(const char *text, bool invert)
{
    struct qr *q = encode_ok(text);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(qr_render_text(q, &b, invert), 0);
    int side = qr_width(q) + 2 * QR_QUIET_TEXT, rows;
    uint8_t *ink = parse_text(&b, side, &rows);
    assert_int_equal(rows, side + 1); /* width is odd: one half row of padding */
    for (int y = 0; y < rows; y++) {
        for (int x = 0; x < side; x++) {
            int want;
            if (y >= side)
                want = 0; /* background below the picture */
            else {
                bool dark = qr_module(q, x - QR_QUIET_TEXT, y - QR_QUIET_TEXT);
                want = invert ? dark : !dark;
            }
            assert_int_equal(ink[(size_t)y * (size_t)side + (size_t)x], want);
        }
    }
    free(ink);
    buf_free(&b);
    qr_free(q);
}

static void test_text_tiny_known(void **state)
{
    /* "A": version 1, 21 modules + 2x2 quiet = 25 columns, 13 lines. */
    struct qr *q = encode_ok("A");
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(qr_render_text(q, &b, false), 0);
    const char *s = (const char *)b.data;
    /* First line: both quiet rows, all light = all full blocks (ink = light). */
    for (int i = 0; i < 25; i++)
        assert_memory_equal(s + 3 * i, "\xe2\x96\x88", 3);
    assert_int_equal(s[75], '\n');
    /* Second line: module rows 0-1. Two quiet columns (light: full blocks),
     * then the finder's left edge (dark over dark: a space), then its top
     * edge over the light ring (dark over light: ink on the lower half). */
    const char *l2 = s + 76;
    assert_memory_equal(l2, "\xe2\x96\x88\xe2\x96\x88", 6);
    assert_memory_equal(l2 + 6, " ", 1);            /* column 0: both dark */
    assert_memory_equal(l2 + 7, "\xe2\x96\x84", 3); /* column 1: dark over light */
    /* Last line: quiet row 24 on top, background below: upper half blocks. */
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    assert_int_equal(lines, 13);
    const char *last = s + b.len - (25 * 3 + 1);
    for (int i = 0; i < 25; i++)
        assert_memory_equal(last + 3 * i, "\xe2\x96\x80", 3);
    buf_free(&b);
    qr_free(q);
    check_text("A", false);
    check_text("A", true);
}

static void test_text_reproduces_matrix(void **state)
{
    check_text(WA_QR, false);
    check_text(WA_QR, true);
}

/* ---- SVG ---- */

/* Minimal well-formedness: tags nest and close, attribute values are quoted,
 * nothing but whitespace outside the root element. */
static void check_xmlish(const char *s, size_t len)
{
    char stack[8][16];
    int depth = 0, roots = 0;
    size_t i = 0;
    while (i < len) {
        if (s[i] != '<') {
            assert_true(depth > 0 || s[i] == '\n' || s[i] == ' ');
            i++;
            continue;
        }
        const char *close = memchr(s + i, '>', len - i);
        assert_non_null(close);
        size_t tl = (size_t)(close - (s + i)) + 1;
        const char *t = s + i;
        /* quotes balanced inside the tag */
        int quotes = 0;
        for (size_t k = 0; k < tl; k++)
            quotes += t[k] == '"';
        assert_int_equal(quotes % 2, 0);
        char name[16] = {0};
        if (t[1] == '/') {
            sscanf(t + 2, "%15[a-zA-Z]", name);
            assert_true(depth > 0);
            assert_string_equal(stack[--depth], name);
        } else {
            sscanf(t + 1, "%15[a-zA-Z]", name);
            assert_true(name[0] != '\0');
            if (depth == 0) roots++;
            if (t[tl - 2] != '/') {
                assert_true(depth < 8);
                strcpy(stack[depth++], name);
            }
        }
        i += tl;
    }
    assert_int_equal(depth, 0);
    assert_int_equal(roots, 1);
}

static void test_svg(void **state)
{
    struct qr *q = encode_ok(WA_QR);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(qr_render_svg(q, &b, 8), 0);
    assert_int_equal(buf_append_byte(&b, 0), 0);
    const char *s = (const char *)b.data;
    check_xmlish(s, b.len - 1);
    int w = qr_width(q), side = w + 2 * QR_QUIET_IMAGE;
    char want[128];
    snprintf(want, sizeof want, "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"", side * 8,
             side * 8, side, side);
    assert_non_null(strstr(s, want));
    /* Rasterize the path: each run must land on dark modules only, once. */
    const char *d = strstr(s, " d=\"");
    assert_non_null(d);
    d += 4;
    uint8_t *grid = calloc((size_t)side * (size_t)side, 1);
    assert_non_null(grid);
    int painted = 0, x, y, n, n2, used;
    while (*d == 'M') {
        assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &n, &n2, &used), 4);
        assert_int_equal(n, n2);
        assert_true(n > 0 && x >= QR_QUIET_IMAGE && x + n <= side - QR_QUIET_IMAGE);
        assert_true(y >= QR_QUIET_IMAGE && y < side - QR_QUIET_IMAGE);
        for (int k = 0; k < n; k++) {
            assert_int_equal(grid[y * side + x + k], 0);
            grid[y * side + x + k] = 1;
            assert_true(qr_module(q, x + k - QR_QUIET_IMAGE, y - QR_QUIET_IMAGE));
            painted++;
        }
        d += used;
    }
    assert_int_equal(*d, '"');
    assert_int_equal(painted, count_dark(q));
    free(grid);
    /* Bad arguments and a too small cap leave the buffer as it was. */
    size_t len = b.len;
    assert_int_equal(qr_render_svg(q, &b, 0), -EINVAL);
    assert_int_equal(qr_render_svg(q, &b, QR_MAX_MODULE_PX + 1), -EINVAL);
    assert_int_equal(qr_render_svg(NULL, &b, 4), -EINVAL);
    b.max = b.len + 200;
    assert_int_equal(qr_render_svg(q, &b, 4), -ENOBUFS);
    assert_int_equal(b.len, len);
    buf_free(&b);
    qr_free(q);
}

/* ---- PNG ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walk the chunks (checking each CRC), check IHDR, gather IDAT data into
 * idat, and require IEND last. Returns the image side. */
static uint32_t png_walk(const uint8_t *p, size_t len, struct buf *idat)
{
    static const uint8_t sig[8] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a};
    assert_true(len >= 8);
    assert_memory_equal(p, sig, 8);
    size_t off = 8;
    uint32_t side = 0;
    int idx = 0;
    bool iend = false;
    while (off < len) {
        assert_false(iend);
        assert_true(len - off >= 12);
        uint32_t n = be32(p + off);
        assert_true(n <= len - off - 12);
        const uint8_t *type = p + off + 4, *data = p + off + 8;
        uLong crc = crc32(crc32(0L, Z_NULL, 0), type, n + 4);
        assert_int_equal(crc, be32(data + n));
        if (idx == 0) {
            assert_memory_equal(type, "IHDR", 4);
            assert_int_equal(n, 13);
            side = be32(data);
            assert_int_equal(be32(data + 4), side);
            assert_int_equal(data[8], 1);  /* bit depth */
            assert_int_equal(data[9], 0);  /* grayscale */
            assert_int_equal(data[10], 0); /* deflate */
            assert_int_equal(data[11], 0); /* filter method */
            assert_int_equal(data[12], 0); /* not interlaced */
        } else if (memcmp(type, "IDAT", 4) == 0) {
            assert_int_equal(buf_append(idat, data, n), 0);
        } else {
            assert_memory_equal(type, "IEND", 4);
            assert_int_equal(n, 0);
            iend = true;
        }
        off += 12 + n;
        idx++;
    }
    assert_true(iend);
    return side;
}

static void check_png(const char *text, int px)
{
    struct qr *q = encode_ok(text);
    struct buf b, idat;
    buf_init(&b, 1 << 22);
    buf_init(&idat, 1 << 22);
    assert_int_equal(qr_render_png(q, &b, px), 0);
    uint32_t side = png_walk(b.data, b.len, &idat);
    assert_int_equal(side, (uint32_t)((qr_width(q) + 2 * QR_QUIET_IMAGE) * px));
    size_t stride = 1 + (side + 7) / 8;
    uLongf rawlen = (uLongf)(stride * side);
    uint8_t *raw = malloc(rawlen + 1);
    assert_non_null(raw);
    uLongf got = rawlen + 1; /* one spare byte: the stream must not be longer */
    assert_int_equal(uncompress(raw, &got, idat.data, (uLong)idat.len), Z_OK);
    assert_int_equal(got, rawlen);
    for (uint32_t py = 0; py < side; py++) {
        const uint8_t *row = raw + (size_t)py * stride;
        assert_int_equal(row[0], 0); /* filter None */
        for (uint32_t pxl = 0; pxl < side; pxl++) {
            int white = (row[1 + pxl / 8] >> (7 - pxl % 8)) & 1;
            int mx = (int)(pxl / (uint32_t)px) - QR_QUIET_IMAGE;
            int my = (int)(py / (uint32_t)px) - QR_QUIET_IMAGE;
            assert_int_equal(white, !qr_module(q, mx, my));
        }
    }
    free(raw);
    buf_free(&idat);
    buf_free(&b);
    qr_free(q);
}

static void test_png_structure_and_pixels(void **state)
{
    check_png("A", 1);
    check_png("A", 3); /* side 87: rows end mid-byte */
    check_png(WA_QR, 8);
    check_png(WA_QR, QR_MAX_MODULE_PX);
}

static void test_png_errors(void **state)
{
    struct qr *q = encode_ok(WA_QR);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_append_str(&b, "keep"), 0);
    assert_int_equal(qr_render_png(q, &b, 0), -EINVAL);
    assert_int_equal(qr_render_png(q, &b, QR_MAX_MODULE_PX + 1), -EINVAL);
    assert_int_equal(qr_render_png(NULL, &b, 4), -EINVAL);
    assert_int_equal(qr_render_png(q, NULL, 4), -EINVAL);
    /* Fail at several depths: in IHDR, inside the deflate output, at IEND. */
    struct buf full;
    buf_init(&full, 1 << 20);
    assert_int_equal(qr_render_png(q, &full, 4), 0);
    size_t caps[] = {4 + 20, 4 + 60, 4 + full.len - 1};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        b.max = caps[i];
        assert_int_equal(qr_render_png(q, &b, 4), -ENOBUFS);
        assert_int_equal(b.len, 4);
        assert_memory_equal(b.data, "keep", 4);
    }
    b.max = 4 + full.len;
    assert_int_equal(qr_render_png(q, &b, 4), 0);
    assert_memory_equal(b.data + 4, full.data, full.len);
    buf_free(&full);
    buf_free(&b);
    qr_free(q);
}

/* ---- optional: decode with zbarimg ---- */

static bool have_zbarimg(void)
{
    return system("command -v zbarimg >/dev/null 2>&1") == 0;
}

/* Write data to a temp file with the given suffix; returns its path (static). */
static const char *write_tmp(const void *data, size_t len, const char *suffix)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/wagate-test-qr-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Run zbarimg on path; the decoded text (NUL-terminated, trailing newline
 * removed) goes into out. Returns zbarimg's exit status. */
static int zbar_decode(const char *path, char *out, size_t outlen)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "zbarimg --quiet --raw -Sdisable -Sqrcode.enable '%s' 2>/dev/null",
             path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    return pclose(f);
}

static void test_png_scans_with_zbarimg(void **state)
{
    if (!have_zbarimg()) skip();
    struct qr *q = encode_ok(WA_QR);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(qr_render_png(q, &b, 4), 0);
    const char *path = write_tmp(b.data, b.len, ".png");
    char got[1200];
    int st = zbar_decode(path, got, sizeof got);
    unlink(path);
    assert_int_equal(st, 0);
    assert_string_equal(got, WA_QR);
    buf_free(&b);
    qr_free(q);
}

/* The terminal rendering as a screenshot would show it: each character cell
 * 8x16 pixels, ink in `fg`, background in the other color, with only the
 * text's own quiet zone (2 modules) and a thin strip of background around. */
static void test_text_scans_with_zbarimg(void **state)
{
    if (!have_zbarimg()) skip();
    for (int inv = 0; inv < 2; inv++) {
        struct qr *q = encode_ok(WA_QR);
        struct buf t, img;
        buf_init(&t, 1 << 20);
        buf_init(&img, 1 << 22);
        assert_int_equal(qr_render_text(q, &t, inv), 0);
        int side = qr_width(q) + 2 * QR_QUIET_TEXT, rows;
        uint8_t *ink = parse_text(&t, side, &rows);
        const int cell = 8, margin = 4; /* pixels */
        int wpx = side * cell + 2 * margin, hpx = rows * cell + 2 * margin;
        /* PGM: dark terminal (inv 0): ink white on black; light (inv 1): ink black on white. */
        uint8_t fg = inv ? 0 : 255, bg = inv ? 255 : 0;
        assert_int_equal(buf_printf(&img, "P5\n%d %d\n255\n", wpx, hpx), 0);
        for (int py = 0; py < hpx; py++) {
            for (int pxl = 0; pxl < wpx; pxl++) {
                int x = (pxl - margin) / cell, y = (py - margin) / cell;
                bool in = pxl >= margin && py >= margin && x < side && y < rows;
                uint8_t v = in && ink[(size_t)y * (size_t)side + (size_t)x] ? fg : bg;
                assert_int_equal(buf_append_byte(&img, v), 0);
            }
        }
        const char *path = write_tmp(img.data, img.len, ".pgm");
        char got[1200];
        int st = zbar_decode(path, got, sizeof got);
        unlink(path);
        assert_int_equal(st, 0);
        assert_string_equal(got, WA_QR);
        free(ink);
        buf_free(&img);
        buf_free(&t);
        qr_free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_matches_libqrencode),
        cmocka_unit_test(test_encode_sizes),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_text_tiny_known),
        cmocka_unit_test(test_text_reproduces_matrix),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_png_structure_and_pixels),
        cmocka_unit_test(test_png_errors),
        cmocka_unit_test(test_png_scans_with_zbarimg),
        cmocka_unit_test(test_text_scans_with_zbarimg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
