/* SPDX-License-Identifier: MIT */
/* imgprobe.c -- image dimensions and thumbnails (see imgprobe.h). */
#include "wa/imgprobe.h"

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#define WHY(i, ...) snprintf((i)->why, sizeof(i)->why, __VA_ARGS__)

/* ---- the box filter: source rows in, IMG_THUMB_WIDTH x dh RGB out ---- */

struct boxf {
    uint32_t sw, sh, dw, dh;
    uint32_t *acc;  /* dw * dh * 3 sums of horizontally averaged pixels */
    uint32_t *rows; /* dh: source rows added to each */
    uint16_t *line; /* dw * 3: the current source row, averaged horizontally */
    int orient;     /* EXIF orientation applied at the end (0, 1: none) */
};

/* orient: the EXIF orientation (1..8; 0 = none): the thumbnail is made in the stored image's
 * space and turned at the end, so with 5..8 (a quarter turn) its stored height is the one
 * that becomes IMG_THUMB_WIDTH. */
static int boxf_init(struct boxf *b, uint32_t sw, uint32_t sh, int orient)
{
    memset(b, 0, sizeof *b);
    bool quarter = orient >= 5;
    uint32_t along = quarter ? sh : sw, other = quarter ? sw : sh;
    uint64_t o = ((uint64_t)other * IMG_THUMB_WIDTH + along / 2) / along;
    o = o < 1 ? 1 : o > IMG_THUMB_HMAX ? IMG_THUMB_HMAX : o;
    b->sw = sw, b->sh = sh, b->orient = orient;
    b->dw = quarter ? (uint32_t)o : IMG_THUMB_WIDTH;
    b->dh = quarter ? IMG_THUMB_WIDTH : (uint32_t)o;
    b->acc = calloc((size_t)b->dw * b->dh * 3, sizeof *b->acc);
    b->rows = calloc(b->dh, sizeof *b->rows);
    b->line = calloc((size_t)b->dw * 3, sizeof *b->line);
    return b->acc && b->rows && b->line ? 0 : -ENOMEM;
}

static void boxf_free(struct boxf *b)
{
    free(b->acc);
    free(b->rows);
    free(b->line);
    memset(b, 0, sizeof *b);
}

/* Source row y: sw pixels of 3 bytes (RGB). */
static void boxf_row(struct boxf *b, uint32_t y, const uint8_t *px)
{
    for (uint32_t dx = 0; dx < b->dw; dx++) {
        uint64_t x0 = (uint64_t)dx * b->sw / b->dw, x1 = (uint64_t)(dx + 1) * b->sw / b->dw;
        if (x1 <= x0) x1 = x0 + 1; /* upscaling: the nearest pixel */
        uint32_t s[3] = {0, 0, 0};
        for (uint64_t x = x0; x < x1; x++)
            for (int c = 0; c < 3; c++)
                s[c] += px[x * 3 + c];
        for (int c = 0; c < 3; c++)
            b->line[dx * 3 + c] = (uint16_t)(s[c] / (x1 - x0));
    }
    /* the destination rows this source row belongs to */
    uint64_t d0 = (uint64_t)y * b->dh / b->sh, d1 = ((uint64_t)(y + 1) * b->dh + b->sh - 1) / b->sh;
    if (b->sh >= b->dh) d1 = d0 + 1;
    for (uint64_t dy = d0; dy < d1 && dy < b->dh; dy++) {
        uint32_t *a = b->acc + dy * b->dw * 3;
        for (uint32_t i = 0; i < b->dw * 3; i++)
            a[i] += b->line[i];
        b->rows[dy]++;
    }
}

struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};

static void jerr_exit(j_common_ptr c)
{
    struct jerr *e = (struct jerr *)c->err;
    e->mgr.format_message(c, e->msg);
    longjmp(e->jb, 1);
}

static void jerr_quiet(j_common_ptr c, int level)
{
    (void)c, (void)level; /* warnings (a corrupt but decodable file) are not printed */
}

static void jerr_init(struct jerr *e)
{
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = jerr_exit;
    e->mgr.emit_message = jerr_quiet;
    e->msg[0] = '\0';
}

/* The thumbnail's pixels (dw x dh RGB) as a baseline JPEG into out->thumb. */
struct enc {
    struct jpeg_compress_struct c;
    struct jerr e;
    unsigned char *buf;
    unsigned long len;
};

static void encode_rgb(struct enc *x, const uint8_t *rgb, uint32_t w, uint32_t h,
                       struct img_info *out)
{
    x->c.err = &x->e.mgr;
    jerr_init(&x->e);
    if (setjmp(x->e.jb)) {
        WHY(out, "thumbnail: %.80s", x->e.msg);
        jpeg_destroy_compress(&x->c);
        free(x->buf);
        return;
    }
    jpeg_create_compress(&x->c);
    jpeg_mem_dest(&x->c, &x->buf, &x->len);
    x->c.image_width = w, x->c.image_height = h;
    x->c.input_components = 3, x->c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&x->c);
    jpeg_set_quality(&x->c, IMG_THUMB_QUALITY, TRUE);
    jpeg_start_compress(&x->c, TRUE);
    while (x->c.next_scanline < x->c.image_height) {
        JSAMPROW row = (JSAMPROW)rgb + (size_t)x->c.next_scanline * w * 3;
        jpeg_write_scanlines(&x->c, &row, 1);
    }
    jpeg_finish_compress(&x->c);
    jpeg_destroy_compress(&x->c);
    if (!x->buf || !x->len || x->len > IMG_THUMB_BYTES) {
        WHY(out, "the thumbnail is %lu bytes, over the cap", x->len);
        free(x->buf);
        return;
    }
    out->thumb = x->buf, out->thumb_len = x->len;
}

/* The stored image's pixel (x, y) for the displayed pixel (X, Y) of an EXIF orientation (w, h:
 * the stored size). */
static void exif_src(int orient, uint32_t w, uint32_t h, uint32_t X, uint32_t Y, uint32_t *x,
                     uint32_t *y)
{
    switch (orient) {
    case 2:
        *x = w - 1 - X, *y = Y;
        break;
    case 3:
        *x = w - 1 - X, *y = h - 1 - Y;
        break;
    case 4:
        *x = X, *y = h - 1 - Y;
        break;
    case 5:
        *x = Y, *y = X;
        break;
    case 6:
        *x = Y, *y = h - 1 - X;
        break;
    case 7:
        *x = w - 1 - Y, *y = h - 1 - X;
        break;
    case 8:
        *x = w - 1 - Y, *y = X;
        break;
    default:
        *x = X, *y = Y;
        break;
    }
}

static int boxf_encode(const struct boxf *b, struct img_info *out)
{
    size_t n = (size_t)b->dw * b->dh * 3;
    uint8_t *rgb = malloc(n), *shown = malloc(n);
    struct enc *x = calloc(1, sizeof *x);
    if (!rgb || !shown || !x) {
        free(rgb);
        free(shown);
        free(x);
        return -ENOMEM;
    }
    for (uint32_t dy = 0; dy < b->dh; dy++)
        for (uint32_t i = 0; i < b->dw * 3; i++) {
            uint32_t r = b->rows[dy] ? b->rows[dy] : 1;
            rgb[(size_t)dy * b->dw * 3 + i] = (uint8_t)(b->acc[(size_t)dy * b->dw * 3 + i] / r);
        }
    bool quarter = b->orient >= 5;
    uint32_t w = quarter ? b->dh : b->dw, h = quarter ? b->dw : b->dh;
    for (uint32_t Y = 0; Y < h; Y++)
        for (uint32_t X = 0; X < w; X++) {
            uint32_t sx, sy;
            exif_src(b->orient, b->dw, b->dh, X, Y, &sx, &sy);
            memcpy(shown + ((size_t)Y * w + X) * 3, rgb + ((size_t)sy * b->dw + sx) * 3, 3);
        }
    encode_rgb(x, shown, w, h, out);
    free(rgb);
    free(shown);
    free(x);
    return 0;
}

static uint32_t rd(const uint8_t *p, int n, bool le)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint32_t)p[le ? i : n - 1 - i] << (8 * i);
    return v;
}

int img_exif_orientation(const uint8_t *p, size_t n)
{
    if (n < 14 || memcmp(p, "Exif\0\0", 6)) return 0;
    p += 6, n -= 6; /* the TIFF header: byte order, 42, IFD0's offset */
    bool le = p[0] == 'I' && p[1] == 'I';
    if (!le && !(p[0] == 'M' && p[1] == 'M')) return 0;
    if (rd(p + 2, 2, le) != 42) return 0;
    uint32_t ifd = rd(p + 4, 4, le);
    if (ifd > n - 2 || ifd < 8) return 0;
    uint32_t count = rd(p + ifd, 2, le);
    for (uint32_t i = 0; i < count && i < 512; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) return 0;
        if (rd(p + e, 2, le) != 0x0112) continue;
        /* SHORT, count 1: the value in the entry's first two value bytes */
        uint32_t v = rd(p + e + 2, 2, le) == 3 ? rd(p + e + 8, 2, le) : 0;
        return v >= 1 && v <= 8 ? (int)v : 0;
    }
    return 0;
}

static int dims_ok(struct img_info *out, uint64_t w, uint64_t h)
{
    if (!w || !h || w > IMG_DIM_MAX || h > IMG_DIM_MAX || w * h > IMG_PIXELS_MAX) {
        WHY(out, "%llux%llu: outside the caps", (unsigned long long)w, (unsigned long long)h);
        return 0;
    }
    out->width = (uint32_t)w, out->height = (uint32_t)h;
    return 1;
}

/* ---- JPEG ---- */

/* Everything the decoder touches after setjmp lives here (not in locals). */
struct dec {
    struct jpeg_decompress_struct d;
    struct jerr e;
    struct boxf b;
    uint8_t *row;
};

static int jpeg_decode(struct dec *x, FILE *f, int want_thumb, struct img_info *out)
{
    struct jpeg_decompress_struct *d = &x->d;
    d->err = &x->e.mgr;
    jerr_init(&x->e);
    if (setjmp(x->e.jb)) {
        WHY(out, "jpeg: %.80s", x->e.msg);
        jpeg_destroy_decompress(d);
        return out->width ? 0 : -EBADMSG;
    }
    jpeg_create_decompress(d);
    d->mem->max_memory_to_use = IMG_JPEG_MEM_MAX;
    jpeg_stdio_src(d, f);
    jpeg_save_markers(d, JPEG_APP0 + 1, 0xffff); /* Exif: the orientation */
    jpeg_read_header(d, TRUE);
    int orient = 0;
    for (jpeg_saved_marker_ptr mk = d->marker_list; mk && !orient; mk = mk->next)
        if (mk->marker == JPEG_APP0 + 1) orient = img_exif_orientation(mk->data, mk->data_length);
    if (!dims_ok(out, d->image_width, d->image_height)) {
        jpeg_destroy_decompress(d);
        return -EBADMSG;
    }
    if (orient >= 5) /* shown a quarter turn round: the size as shown */
        out->width = d->image_height, out->height = d->image_width;
    if (!want_thumb) {
        jpeg_destroy_decompress(d);
        return 0;
    }
    if (d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK) {
        WHY(out, "jpeg: CMYK, no thumbnail");
        jpeg_destroy_decompress(d);
        return 0;
    }
    d->out_color_space = JCS_RGB;
    d->scale_num = 1, d->scale_denom = 1;
    for (unsigned den = 8; den > 1; den /= 2)
        if (d->image_width / den >= 2 * IMG_THUMB_WIDTH &&
            d->image_height / den >= 2 * IMG_THUMB_WIDTH) {
            d->scale_denom = den;
            break;
        }
    d->dct_method = JDCT_IFAST;
    d->do_fancy_upsampling = FALSE;
    jpeg_start_decompress(d);
    if (d->output_components != 3 ||
        boxf_init(&x->b, d->output_width, d->output_height, orient) < 0 ||
        !(x->row = malloc((size_t)d->output_width * 3))) {
        WHY(out, "jpeg: cannot decode for a thumbnail");
        jpeg_destroy_decompress(d);
        return 0;
    }
    while (d->output_scanline < d->output_height) {
        JSAMPROW r = x->row;
        uint32_t y = d->output_scanline;
        if (jpeg_read_scanlines(d, &r, 1) != 1) break;
        boxf_row(&x->b, y, x->row);
    }
    /* the rest of the file (markers after the scan) is not needed */
    jpeg_abort_decompress(d);
    jpeg_destroy_decompress(d);
    (void)boxf_encode(&x->b, out); /* out of memory: no thumbnail */
    return 0;
}

static int jpeg_probe(FILE *f, int want_thumb, struct img_info *out)
{
    struct dec *x = calloc(1, sizeof *x);
    if (!x) return -ENOMEM;
    int rc = jpeg_decode(x, f, want_thumb, out);
    free(x->row);
    boxf_free(&x->b);
    free(x);
    return rc;
}

/* ---- PNG ---- */

static void png_err(png_structp p, png_const_charp msg)
{
    struct img_info *out = png_get_error_ptr(p);
    WHY(out, "png: %.80s", msg);
    png_longjmp(p, 1);
}

static void png_warn(png_structp p, png_const_charp msg)
{
    (void)p, (void)msg;
}

struct pdec {
    png_structp p;
    png_infop info;
    struct boxf b;
    uint8_t *row, *rgb;
};

static int png_decode(struct pdec *x, FILE *f, int want_thumb, struct img_info *out)
{
    png_structp p = x->p;
    png_infop info = x->info;
    if (setjmp(png_jmpbuf(p))) return out->width ? 0 : -EBADMSG;
    png_set_user_limits(p, IMG_DIM_MAX, IMG_DIM_MAX);
    png_init_io(p, f);
    png_read_info(p, info);
    uint32_t w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    if (!dims_ok(out, w, h) || !want_thumb) return out->width ? 0 : -EBADMSG;
    if (png_get_interlace_type(p, info) != PNG_INTERLACE_NONE) {
        WHY(out, "png: interlaced, no thumbnail");
        return 0;
    }
    png_set_expand(p);
    png_set_strip_16(p);
    png_set_gray_to_rgb(p);
    png_read_update_info(p, info);
    unsigned ch = png_get_channels(p, info);
    if ((ch != 3 && ch != 4) || boxf_init(&x->b, w, h, 0) < 0 ||
        !(x->row = malloc(png_get_rowbytes(p, info))) || !(x->rgb = malloc((size_t)w * 3))) {
        WHY(out, "png: cannot decode for a thumbnail");
        return 0;
    }
    for (uint32_t y = 0; y < h; y++) {
        png_read_row(p, x->row, NULL);
        for (uint32_t px = 0; px < w; px++)
            for (unsigned c = 0; c < 3; c++) {
                unsigned v = x->row[px * ch + c], a = ch == 4 ? x->row[px * ch + 3] : 255;
                x->rgb[px * 3 + c] = (uint8_t)((v * a + 255 * (255 - a)) / 255); /* over white */
            }
        boxf_row(&x->b, y, x->rgb);
    }
    /* the chunks after the image data are not read */
    (void)boxf_encode(&x->b, out);
    return 0;
}

static int png_probe(FILE *f, int want_thumb, struct img_info *out)
{
    struct pdec *x = calloc(1, sizeof *x);
    if (!x) return -ENOMEM;
    x->p = png_create_read_struct(PNG_LIBPNG_VER_STRING, out, png_err, png_warn);
    x->info = x->p ? png_create_info_struct(x->p) : NULL;
    int rc = x->info ? png_decode(x, f, want_thumb, out) : -ENOMEM;
    png_destroy_read_struct(&x->p, x->info ? &x->info : NULL, NULL);
    free(x->row);
    free(x->rgb);
    boxf_free(&x->b);
    free(x);
    return rc;
}

/* ---- WebP and GIF: the first bytes ---- */

static uint32_t le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int webp_dims(const uint8_t *h, size_t n, struct img_info *out)
{
    if (n >= 30 && !memcmp(h + 12, "VP8 ", 4) && h[23] == 0x9d && h[24] == 0x01 && h[25] == 0x2a)
        return dims_ok(out, le(h + 26, 2) & 0x3fff, le(h + 28, 2) & 0x3fff) ? 0 : -EBADMSG;
    if (n >= 25 && !memcmp(h + 12, "VP8L", 4) && h[20] == 0x2f) {
        uint32_t v = le(h + 21, 4);
        return dims_ok(out, (v & 0x3fff) + 1, (v >> 14 & 0x3fff) + 1) ? 0 : -EBADMSG;
    }
    if (n >= 30 && !memcmp(h + 12, "VP8X", 4))
        return dims_ok(out, le(h + 24, 3) + 1ull, le(h + 27, 3) + 1ull) ? 0 : -EBADMSG;
    WHY(out, "webp: no VP8, VP8L or VP8X header first");
    return -EBADMSG;
}

enum img_format img_sniff(const uint8_t *p, size_t n)
{
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return IMG_JPEG;
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return IMG_PNG;
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return IMG_WEBP;
    if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return IMG_GIF;
    return IMG_UNKNOWN;
}

static int probe_stream(FILE *f, int want_thumb, struct img_info *out)
{
    uint8_t h[32];
    size_t n = fread(h, 1, sizeof h, f);
    out->format = img_sniff(h, n);
    switch (out->format) {
    case IMG_JPEG:
    case IMG_PNG:
        rewind(f);
        return out->format == IMG_JPEG ? jpeg_probe(f, want_thumb, out)
                                       : png_probe(f, want_thumb, out);
    case IMG_WEBP:
        return webp_dims(h, n, out);
    case IMG_GIF:
        return n >= 10 && dims_ok(out, le(h + 6, 2), le(h + 8, 2)) ? 0 : -EBADMSG;
    default:
        WHY(out, "not a JPEG, PNG, WebP or GIF file");
        return -EBADMSG;
    }
}

int img_probe_file(const char *path, int want_thumb, struct img_info *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rbe");
    if (!f) {
        WHY(out, "cannot open: %s", strerror(errno));
        return -ENOENT;
    }
    int rc = probe_stream(f, want_thumb, out);
    fclose(f);
    return rc;
}

int img_probe_mem(const uint8_t *p, size_t n, int want_thumb, struct img_info *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = n ? fmemopen((void *)p, n, "rb") : NULL;
    if (!f) {
        WHY(out, "empty");
        return -EBADMSG;
    }
    int rc = probe_stream(f, want_thumb, out);
    fclose(f);
    return rc;
}

void img_info_free(struct img_info *i)
{
    if (!i) return;
    free(i->thumb);
    i->thumb = NULL, i->thumb_len = 0;
}
