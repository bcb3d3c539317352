/* SPDX-License-Identifier: MIT */
/* qr.c -- QR code encoding (libqrencode) and text, SVG and PNG renderers. */
#include "core/qr.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <zlib.h>

struct qr {
    int width;
    int version;
    uint8_t dark[]; /* width * width bytes, row-major, 1 = dark */
};

/* ---- encoding ---------------------------------------------------------- */

int qr_encode(const char *text, struct qr **out)
{
    if (!text || !out || !text[0]) return -EINVAL;
    if (strnlen(text, QR_MAX_INPUT + 1) > QR_MAX_INPUT) return -EMSGSIZE;
    /* QR_MODE_8 as the hint: bytes that are neither digits nor alphanumerics
     * go in byte mode as they are (no Kanji detection); casesensitive keeps
     * Base64 intact. */
    errno = 0;
    QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!code) return errno == ERANGE ? -EMSGSIZE : errno == ENOMEM ? -ENOMEM : -EINVAL;
    size_t n = (size_t)code->width * (size_t)code->width;
    struct qr *q = malloc(sizeof *q + n);
    if (!q) {
        QRcode_free(code);
        return -ENOMEM;
    }
    q->width = code->width;
    q->version = code->version;
    /* libqrencode's bytes carry flags in the upper bits; bit 0 is the color. */
    for (size_t i = 0; i < n; i++)
        q->dark[i] = code->data[i] & 1;
    QRcode_free(code);
    *out = q;
    return 0;
}

struct qr *qr_free(struct qr *q)
{
    free(q);
    return NULL;
}

int qr_width(const struct qr *q)
{
    return q->width;
}

int qr_version(const struct qr *q)
{
    return q->version;
}

bool qr_module(const struct qr *q, int x, int y)
{
    if (x < 0 || y < 0 || x >= q->width || y >= q->width) return false;
    return q->dark[(size_t)y * (size_t)q->width + (size_t)x] != 0;
}

/* ---- terminal text ----------------------------------------------------- */

/* Whether the glyph ink covers the half cell at (x, y) of the text grid,
 * whose origin is the top-left corner of the quiet zone. */
static bool text_ink(const struct qr *q, int x, int y, bool invert)
{
    int side = q->width + 2 * QR_QUIET_TEXT;
    if (y >= side) return false; /* below the picture: background */
    bool dark = qr_module(q, x - QR_QUIET_TEXT, y - QR_QUIET_TEXT);
    return invert ? dark : !dark;
}

int qr_render_text(const struct qr *q, struct buf *out, bool invert)
{
    static const char *const glyph[4] = {
        " ",            /* neither half */
        "\xe2\x96\x80", /* upper half block */
        "\xe2\x96\x84", /* lower half block */
        "\xe2\x96\x88", /* full block */
    };
    if (!q || !out) return -EINVAL;
    size_t start = out->len;
    int side = q->width + 2 * QR_QUIET_TEXT;
    int r = 0;
    for (int y = 0; y < side && r == 0; y += 2) {
        for (int x = 0; x < side && r == 0; x++) {
            int g = (text_ink(q, x, y, invert) ? 1 : 0) | (text_ink(q, x, y + 1, invert) ? 2 : 0);
            r = buf_append_str(out, glyph[g]);
        }
        if (r == 0) r = buf_append_byte(out, '\n');
    }
    if (r < 0) out->len = start;
    return r;
}

/* ---- SVG --------------------------------------------------------------- */

/* Append "M x y h n v1 h-n z" for every run of dark modules in row y. */
static int svg_row(const struct qr *q, struct buf *out, int y)
{
    int x = 0;
    while (x < q->width) {
        if (!qr_module(q, x, y)) {
            x++;
            continue;
        }
        int run = 1;
        while (qr_module(q, x + run, y))
            run++;
        int r =
            buf_printf(out, "M%d %dh%dv1h-%dz", x + QR_QUIET_IMAGE, y + QR_QUIET_IMAGE, run, run);
        if (r < 0) return r;
        x += run;
    }
    return 0;
}

int qr_render_svg(const struct qr *q, struct buf *out, int module_px)
{
    if (!q || !out || module_px < 1 || module_px > QR_MAX_MODULE_PX) return -EINVAL;
    size_t start = out->len;
    int side = q->width + 2 * QR_QUIET_IMAGE;
    int px = side * module_px;
    int r = buf_printf(out,
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                       "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                       "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                       px, px, side, side, side, side);
    for (int y = 0; y < q->width && r == 0; y++)
        r = svg_row(q, out, y);
    if (r == 0) r = buf_append_str(out, "\"/></svg>\n");
    if (r < 0) out->len = start;
    return r;
}

/* ---- PNG --------------------------------------------------------------- */

/* Bytes of one scanline at the largest size: filter byte + 1 bit per pixel. */
#define PNG_ROW_MAX (1 + ((177 + 2 * QR_QUIET_IMAGE) * QR_MAX_MODULE_PX + 7) / 8)

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Start a chunk: a length placeholder and the type. Returns its offset via *at. */
static int chunk_begin(struct buf *out, const char type[4], size_t *at)
{
    static const uint8_t zero[4];
    *at = out->len;
    int r = buf_append(out, zero, 4);
    return r < 0 ? r : buf_append(out, type, 4);
}

/* Finish the chunk started at `at`: patch its length, append the CRC-32 of
 * type and data. */
static int chunk_end(struct buf *out, size_t at)
{
    size_t dlen = out->len - at - 8;
    if (dlen > 0x7fffffffu) return -ENOBUFS; /* PNG limit; unreachable with QR_MAX_MODULE_PX */
    put_be32(out->data + at, (uint32_t)dlen);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out->data + at + 4, (uInt)(dlen + 4));
    uint8_t be[4];
    put_be32(be, (uint32_t)crc);
    return buf_append(out, be, 4);
}

static int png_ihdr(struct buf *out, uint32_t side)
{
    uint8_t d[13];
    put_be32(d, side);
    put_be32(d + 4, side);
    d[8] = 1;  /* bit depth */
    d[9] = 0;  /* color type: grayscale */
    d[10] = 0; /* compression: deflate */
    d[11] = 0; /* filter method 0 */
    d[12] = 0; /* no interlace */
    size_t at;
    int r = chunk_begin(out, "IHDR", &at);
    if (r == 0) r = buf_append(out, d, sizeof d);
    return r < 0 ? r : chunk_end(out, at);
}

/* Build the scanline of module row y (quiet zone included, so y may be
 * negative): filter byte 0 (None), then 1 bit per pixel, MSB first,
 * 1 = white. Padding bits past the last pixel stay 0. */
static size_t png_scanline(const struct qr *q, int y, int module_px, uint8_t *row)
{
    size_t npx = (size_t)(q->width + 2 * QR_QUIET_IMAGE) * (size_t)module_px;
    size_t n = 1 + (npx + 7) / 8;
    memset(row, 0, n);
    for (size_t p = 0; p < npx; p++) {
        int x = (int)(p / (size_t)module_px) - QR_QUIET_IMAGE;
        if (!qr_module(q, x, y)) row[1 + p / 8] |= (uint8_t)(0x80u >> (p % 8));
    }
    return n;
}

/* Run deflate over the input set in zs (or finish the stream with Z_FINISH),
 * appending everything it produces to out. */
static int deflate_to(z_stream *zs, int flush, struct buf *out)
{
    uint8_t tmp[4096];
    for (;;) {
        zs->next_out = tmp;
        zs->avail_out = sizeof tmp;
        int zr = deflate(zs, flush);
        if (zr == Z_STREAM_ERROR) return -EIO;
        int r = buf_append(out, tmp, sizeof tmp - zs->avail_out);
        if (r < 0) return r;
        if (zr == Z_STREAM_END || (flush == Z_NO_FLUSH && zs->avail_out != 0)) return 0;
        if (zr == Z_BUF_ERROR && zs->avail_out != 0) return -EIO; /* no progress possible */
    }
}

/* Append the zlib stream of all scanlines (the IDAT data). */
static int png_pixels(const struct qr *q, int module_px, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* Level 6: level 9 is 10x slower on these repetitive rows (2.7 ms against
     * 0.24 ms for a pairing QR at 8 px) for 5 % fewer bytes. */
    int zr = deflateInit(&zs, Z_DEFAULT_COMPRESSION);
    if (zr != Z_OK) return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
    uint8_t row[PNG_ROW_MAX];
    int r = 0;
    for (int y = -QR_QUIET_IMAGE; y < q->width + QR_QUIET_IMAGE && r == 0; y++) {
        size_t n = png_scanline(q, y, module_px, row);
        for (int rep = 0; rep < module_px && r == 0; rep++) {
            zs.next_in = row;
            zs.avail_in = (uInt)n;
            r = deflate_to(&zs, Z_NO_FLUSH, out);
        }
    }
    if (r == 0) r = deflate_to(&zs, Z_FINISH, out);
    deflateEnd(&zs);
    return r;
}

int qr_render_png(const struct qr *q, struct buf *out, int module_px)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!q || !out || module_px < 1 || module_px > QR_MAX_MODULE_PX) return -EINVAL;
    size_t start = out->len;
    uint32_t side = (uint32_t)(q->width + 2 * QR_QUIET_IMAGE) * (uint32_t)module_px;
    size_t at;
    int r = buf_append(out, sig, sizeof sig);
    if (r == 0) r = png_ihdr(out, side);
    if (r == 0) r = chunk_begin(out, "IDAT", &at);
    if (r == 0) r = png_pixels(q, module_px, out);
    if (r == 0) r = chunk_end(out, at);
    if (r == 0) r = chunk_begin(out, "IEND", &at);
    if (r == 0) r = chunk_end(out, at);
    if (r < 0) out->len = start;
    return r;
}
