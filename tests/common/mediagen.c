/* SPDX-License-Identifier: MIT */
/* mediagen.c -- test media files (see mediagen.h). */
#include "mediagen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <ogg/ogg.h>
#include <opus.h>
#include <png.h>

#include "core/be.h"
#include "core/buf.h"

void mg_quadrant_rgb(uint32_t w, uint32_t h, uint32_t x, uint32_t y, uint8_t rgb[3])
{
    static const uint8_t q[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    int i = (x >= w / 2) + 2 * (y >= h / 2);
    memcpy(rgb, q[i], 3);
}

int mg_jpeg(const char *path, uint32_t w, uint32_t h, bool gray, bool progressive)
{
    return mg_jpeg_exif(path, w, h, gray, progressive, 0);
}

int mg_jpeg_exif(const char *path, uint32_t w, uint32_t h, bool gray, bool progressive,
                 int orientation)
{
    FILE *f = fopen(path, "wb");
    uint8_t *row = malloc((size_t)w * 3);
    if (!f || !row) {
        if (f) fclose(f);
        free(row);
        return -1;
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w, c.image_height = h;
    c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (orientation) { /* APP1: Exif, big-endian TIFF, IFD0 with a dummy tag and Orientation */
        uint8_t ex[6 + 8 + 2 + 24 + 4] = "Exif\0\0MM\0\x2a\0\0\0\x08\0\x02";
        uint8_t *ent = ex + 16;
        ent[0] = 0x01, ent[1] = 0x0f, ent[3] = 2, ent[7] = 1;     /* Make: ASCII, 1 byte */
        ent[12] = 0x01, ent[13] = 0x12, ent[15] = 3, ent[19] = 1; /* Orientation: SHORT, 1 */
        ent[20] = 0, ent[21] = (uint8_t)orientation;
        jpeg_write_marker(&c, JPEG_APP0 + 1, ex, sizeof ex);
    }
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++) {
            uint8_t px[3];
            mg_quadrant_rgb(w, h, x, y, px);
            if (gray)
                row[x] = (uint8_t)((px[0] * 299 + px[1] * 587 + px[2] * 114) / 1000);
            else
                memcpy(row + x * 3, px, 3);
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    return fclose(f) == 0 ? 0 : -1;
}

int mg_png(const char *path, uint32_t w, uint32_t h, bool alpha, bool interlaced)
{
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    unsigned ch = alpha ? 4 : 3;
    uint8_t *img = malloc((size_t)w * h * ch);
    png_bytep *rows = malloc(sizeof *rows * h);
    int rc = -1;
    if (!f || !info || !img || !rows || setjmp(png_jmpbuf(p))) goto out;
    for (uint32_t y = 0; y < h; y++) {
        rows[y] = img + (size_t)y * w * ch;
        for (uint32_t x = 0; x < w; x++) {
            mg_quadrant_rgb(w, h, x, y, rows[y] + x * ch);
            if (alpha) rows[y][x * ch + 3] = x < w / 2 && y < h / 2 ? 0 : 255;
        }
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, w, h, 8, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_rows(p, info, rows);
    png_write_png(p, info, PNG_TRANSFORM_IDENTITY, NULL);
    rc = 0;
out:
    if (p) png_destroy_write_struct(&p, info ? &info : NULL);
    free(img);
    free(rows);
    if (f && fclose(f) != 0) rc = -1;
    return rc;
}

int mg_jpeg_decode(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h, uint8_t **rgb)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr e;
    if (n < 4 || p[0] != 0xff || p[1] != 0xd8) return -1;
    d.err = jpeg_std_error(&e);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, p, (unsigned long)n);
    if (jpeg_read_header(&d, TRUE) != JPEG_HEADER_OK) {
        jpeg_destroy_decompress(&d);
        return -1;
    }
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    *w = d.output_width, *h = d.output_height;
    *rgb = malloc((size_t)*w * *h * 3);
    while (*rgb && d.output_scanline < d.output_height) {
        JSAMPROW r = *rgb + (size_t)d.output_scanline * *w * 3;
        jpeg_read_scanlines(&d, &r, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return *rgb ? 0 : -1;
}

/* ---- MP4 ---- */

static void put(struct buf *b, uint64_t v, unsigned n)
{
    uint8_t t[8];
    be_put(t, v, n);
    if (buf_append(b, t, n) < 0) abort();
}

static void zeros(struct buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(b, 0, 1);
}

/* Open a box: its offset (the size is patched by close_box). */
static size_t open_box(struct buf *b, const char *type)
{
    size_t at = b->len;
    put(b, 0, 4);
    if (buf_append(b, (const uint8_t *)type, 4) < 0) abort();
    return at;
}

static void close_box(struct buf *b, size_t at)
{
    be_put(b->data + at, b->len - at, 4);
}

static void trak(struct buf *b, const struct mg_mp4 *o, bool video)
{
    size_t t = open_box(b, "trak"), k = open_box(b, "tkhd");
    put(b, o->v1 ? 0x01000003 : 3, 4);
    zeros(b, o->v1 ? 8 + 8 + 4 + 4 + 8 : 4 + 4 + 4 + 4 + 4); /* times, id, reserved, duration */
    zeros(b, 8 + 2 + 2 + 2 + 2);
    static const uint32_t id[9] = {0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000};
    static const uint32_t r90[9] = {0, 0x10000, 0, 0xffff0000, 0, 0, 0, 0, 0x40000000};
    for (int i = 0; i < 9; i++)
        put(b, (video && o->rotate90 ? r90 : id)[i], 4);
    put(b, video ? (uint64_t)o->width << 16 : 0, 4);
    put(b, video ? (uint64_t)o->height << 16 : 0, 4);
    close_box(b, k);
    size_t m = open_box(b, "mdia"), h = open_box(b, "mdhd");
    zeros(b, 24);
    close_box(b, h);
    h = open_box(b, "hdlr");
    put(b, 0, 4);
    put(b, 0, 4);
    if (buf_append(b, (const uint8_t *)(video ? "vide" : "soun"), 4) < 0) abort();
    zeros(b, 12 + 1);
    close_box(b, h);
    close_box(b, m);
    close_box(b, t);
}

static void mdat(struct buf *b, const struct mg_mp4 *o)
{
    if (o->largesize) {
        put(b, 1, 4);
        if (buf_append(b, (const uint8_t *)"mdat", 4) < 0) abort();
        put(b, 16 + o->mdat_len, 8);
    } else {
        put(b, 8 + o->mdat_len, 4);
        if (buf_append(b, (const uint8_t *)"mdat", 4) < 0) abort();
    }
    if (buf_reserve(b, o->mdat_len) < 0) abort();
    memset(b->data + b->len, 0, o->mdat_len);
    b->len += o->mdat_len;
}

int mg_mp4_bytes(const struct mg_mp4 *o, uint8_t **out, size_t *n)
{
    struct buf b;
    buf_init(&b, 0);
    size_t f = open_box(&b, "ftyp");
    if (buf_append(&b, (const uint8_t *)"isom\0\0\2\0isomiso2mp41", 20) < 0) abort();
    close_box(&b, f);
    if (o->moov_last) mdat(&b, o);
    size_t mv = open_box(&b, "moov"), h = open_box(&b, "mvhd");
    if (o->v1) {
        put(&b, 0x01000000, 4), zeros(&b, 16), put(&b, o->timescale, 4), put(&b, o->duration, 8);
    } else {
        put(&b, 0, 4), zeros(&b, 8), put(&b, o->timescale, 4), put(&b, o->duration, 4);
    }
    zeros(&b, 80); /* rate, volume, reserved, matrix, pre_defined, next_track_ID */
    close_box(&b, h);
    if (o->audio_first) trak(&b, o, false);
    trak(&b, o, true);
    close_box(&b, mv);
    if (!o->moov_last) mdat(&b, o);
    *out = b.data, *n = b.len;
    return 0;
}

/* ---- Ogg Opus ---- */

static int page_out(FILE *f, ogg_stream_state *os, bool flush)
{
    ogg_page pg;
    while (flush ? ogg_stream_flush(os, &pg) : ogg_stream_pageout(os, &pg))
        if (fwrite(pg.header, 1, (size_t)pg.header_len, f) != (size_t)pg.header_len ||
            fwrite(pg.body, 1, (size_t)pg.body_len, f) != (size_t)pg.body_len)
            return -1;
    return 0;
}

int mg_opus(const char *path, uint32_t ms, bool loud_half)
{
    int err = 0, lookahead = 0;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    FILE *f = fopen(path, "wb");
    if (!enc || !f) {
        if (enc) opus_encoder_destroy(enc);
        if (f) fclose(f);
        return -1;
    }
    opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
    ogg_stream_state os;
    ogg_stream_init(&os, 0x57414741);
    uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1};
    head[10] = (uint8_t)lookahead, head[11] = (uint8_t)(lookahead >> 8);
    head[12] = 0x80, head[13] = 0xbb; /* 48000 LE */
    ogg_packet op = {.packet = head, .bytes = 19, .b_o_s = 1};
    ogg_stream_packetin(&os, &op);
    int rc = page_out(f, &os, true);
    uint8_t tags[] = "OpusTags\x06\0\0\0wagate\0\0\0\0";
    op = (ogg_packet){.packet = tags, .bytes = 8 + 4 + 6 + 4, .packetno = 1};
    ogg_stream_packetin(&os, &op);
    rc |= page_out(f, &os, true);
    const int frame = 960; /* 20 ms */
    uint64_t total = (uint64_t)ms * 48, done = 0;
    int64_t packetno = 2;
    float pcm[960];
    uint8_t pkt[1500];
    /* the encoder's lookahead: lookahead more samples are fed so the end is not lost */
    while (rc == 0 && done < total + (uint64_t)lookahead) {
        for (int i = 0; i < frame; i++) {
            uint64_t s = done + (uint64_t)i;
            double a = s >= total  ? 0
                       : loud_half ? (s >= total / 2 ? 0.8 : 0)
                                   : 0.8 * (double)s / (double)total;
            pcm[i] = (float)(a * sin(2 * M_PI * 440.0 * (double)s / 48000.0));
        }
        opus_int32 n = opus_encode_float(enc, pcm, frame, pkt, sizeof pkt);
        if (n < 0) {
            rc = -1;
            break;
        }
        done += frame;
        bool last = done >= total + (uint64_t)lookahead;
        uint64_t g = last ? total + (uint64_t)lookahead : done;
        op = (ogg_packet){.packet = pkt,
                          .bytes = n,
                          .e_o_s = last,
                          .granulepos = (int64_t)g,
                          .packetno = packetno++};
        ogg_stream_packetin(&os, &op);
        rc |= page_out(f, &os, last);
    }
    ogg_stream_clear(&os);
    opus_encoder_destroy(enc);
    if (fclose(f) != 0) rc = -1;
    return rc;
}
