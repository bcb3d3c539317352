/* SPDX-License-Identifier: MIT */
/* test_mediaprobe.c -- what a file we send says about itself (issue 14): wa/imgprobe (JPEG and
 * PNG dimensions and the 32-pixel thumbnail, its colours where the picture has them; grey,
 * progressive, alpha, interlaced, tiny and tall images; WebP and GIF sizes; truncated,
 * corrupt and over-the-cap files), wa/mp4box (mvhd / tkhd versions, rotation, the video track
 * among others, moov after a 64-bit mdat, truncation, the caps), wa/oggopus (the duration of
 * a voice note from its last page, a damaged last page, not Ogg), wa/waveform (Baileys'
 * algorithm on known samples) and through wa/mediaprobe a voice note's waveform as libopusfile
 * decodes it; wa/outmedia's amend of a held Message. Every file is made here
 * (tests/common/mediagen). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "mediagen.h"

#include "core/fileio.h"
#include "wa/imgprobe.h"
#include "wa/mediaprobe.h"
#include "wa/mp4box.h"
#include "wa/oggopus.h"
#include "wa/outmedia.h"
#include "wa/waveform.h"
#include "wa.pb-c.h"

static char dir[64];

static const char *tmp(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static uint8_t *slurp(const char *path, size_t *n)
{
    char *d = NULL;
    assert_int_equal(file_read_all(path, 64u << 20, &d, n), 0);
    return (uint8_t *)d;
}

static void spit(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The thumbnail decodes to 32 x round(32 h / w) and its four quadrants have the picture's
 * colours (tl: top-left's expected colour; NULL: the quadrant pattern). */
static void check_thumb4(const struct img_info *ii, uint32_t w, uint32_t h, const uint8_t *tl,
                         const uint8_t (*all)[3]);

static void check_thumb(const struct img_info *ii, uint32_t w, uint32_t h, const uint8_t *tl)
{
    check_thumb4(ii, w, h, tl, NULL);
}

/* all: the four quadrants' colours as shown (tl, tr, bl, br), NULL: the pattern. */
static void check_thumb4(const struct img_info *ii, uint32_t w, uint32_t h, const uint8_t *tl,
                         const uint8_t (*all)[3])
{
    assert_non_null(ii->thumb);
    assert_true(ii->thumb_len > 100 && ii->thumb_len <= IMG_THUMB_BYTES);
    uint32_t tw, th;
    uint8_t *rgb;
    assert_int_equal(mg_jpeg_decode(ii->thumb, ii->thumb_len, &tw, &th, &rgb), 0);
    uint32_t eh = (h * 32 + w / 2) / w;
    if (eh > IMG_THUMB_HMAX) eh = IMG_THUMB_HMAX;
    if (eh < 1) eh = 1;
    assert_int_equal(tw, 32);
    assert_int_equal(th, eh);
    const uint32_t px[4][2] = {
        {tw / 4, th / 4}, {3 * tw / 4, th / 4}, {tw / 4, 3 * th / 4}, {3 * tw / 4, 3 * th / 4}};
    for (int q = 0; q < 4; q++) {
        uint8_t want[3];
        mg_quadrant_rgb(tw, th, px[q][0], px[q][1], want);
        if (q == 0 && tl) memcpy(want, tl, 3);
        if (all) memcpy(want, all[q], 3);
        const uint8_t *got = rgb + ((size_t)px[q][1] * tw + px[q][0]) * 3;
        for (int c = 0; c < 3; c++)
            if (abs((int)got[c] - (int)want[c]) > 40)
                fail_msg("quadrant %d channel %d: %u, want %u", q, c, got[c], want[c]);
    }
    free(rgb);
}

static void test_jpeg(void **state)
{
    (void)state;
    struct img_info ii;
    /* a large photo: decoded at 1/8 */
    assert_int_equal(mg_jpeg(tmp("big.jpg"), 2400, 1600, false, false), 0);
    assert_int_equal(img_probe_file(tmp("big.jpg"), 1, &ii), 0);
    assert_int_equal(ii.format, IMG_JPEG);
    assert_int_equal(ii.width, 2400);
    assert_int_equal(ii.height, 1600);
    check_thumb(&ii, 2400, 1600, NULL);
    img_info_free(&ii);
    /* without a thumbnail (a sticker) */
    assert_int_equal(img_probe_file(tmp("big.jpg"), 0, &ii), 0);
    assert_int_equal(ii.width, 2400);
    assert_null(ii.thumb);
    /* grey, progressive (under the memory cap), tiny (upscaled), tall (height capped) */
    assert_int_equal(mg_jpeg(tmp("gray.jpg"), 320, 240, true, false), 0);
    assert_int_equal(img_probe_file(tmp("gray.jpg"), 1, &ii), 0);
    assert_non_null(ii.thumb);
    uint32_t tw, th;
    uint8_t *rgb;
    assert_int_equal(mg_jpeg_decode(ii.thumb, ii.thumb_len, &tw, &th, &rgb), 0);
    assert_int_equal(th, 24);
    assert_true(abs((int)rgb[(6 * 32 + 8) * 3] - 76) < 30); /* red's luma */
    assert_true(rgb[(18 * 32 + 24) * 3] > 200);             /* white */
    free(rgb);
    img_info_free(&ii);
    assert_int_equal(mg_jpeg(tmp("prog.jpg"), 1000, 500, false, true), 0);
    assert_int_equal(img_probe_file(tmp("prog.jpg"), 1, &ii), 0);
    check_thumb(&ii, 1000, 500, NULL);
    img_info_free(&ii);
    assert_int_equal(mg_jpeg(tmp("tiny.jpg"), 16, 8, false, false), 0);
    assert_int_equal(img_probe_file(tmp("tiny.jpg"), 1, &ii), 0);
    check_thumb(&ii, 16, 8, NULL);
    img_info_free(&ii);
    assert_int_equal(mg_jpeg(tmp("tall.jpg"), 16, 1600, false, false), 0);
    assert_int_equal(img_probe_file(tmp("tall.jpg"), 1, &ii), 0);
    assert_int_equal(ii.height, 1600);
    check_thumb(&ii, 16, 1600, NULL);
    img_info_free(&ii);
}

static void test_jpeg_exif(void **state)
{
    (void)state;
    /* the stored quadrants R G / B W, as each orientation shows them (tl, tr, bl, br) */
    const uint8_t(*shown[9])[3] = {0};
    const uint8_t o1[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    const uint8_t o2[4][3] = {{0, 255, 0}, {255, 0, 0}, {255, 255, 255}, {0, 0, 255}};
    const uint8_t o3[4][3] = {{255, 255, 255}, {0, 0, 255}, {0, 255, 0}, {255, 0, 0}};
    const uint8_t o4[4][3] = {{0, 0, 255}, {255, 255, 255}, {255, 0, 0}, {0, 255, 0}};
    const uint8_t o5[4][3] = {{255, 0, 0}, {0, 0, 255}, {0, 255, 0}, {255, 255, 255}};
    const uint8_t o6[4][3] = {{0, 0, 255}, {255, 0, 0}, {255, 255, 255}, {0, 255, 0}};
    const uint8_t o7[4][3] = {{255, 255, 255}, {0, 255, 0}, {0, 0, 255}, {255, 0, 0}};
    const uint8_t o8[4][3] = {{0, 255, 0}, {255, 255, 255}, {255, 0, 0}, {0, 0, 255}};
    shown[1] = o1, shown[2] = o2, shown[3] = o3, shown[4] = o4;
    shown[5] = o5, shown[6] = o6, shown[7] = o7, shown[8] = o8;
    for (int o = 1; o <= 8; o++) {
        struct img_info ii;
        assert_int_equal(mg_jpeg_exif(tmp("exif.jpg"), 800, 600, false, false, o), 0);
        assert_int_equal(img_probe_file(tmp("exif.jpg"), 1, &ii), 0);
        uint32_t w = o >= 5 ? 600 : 800, h = o >= 5 ? 800 : 600;
        assert_int_equal(ii.width, w);
        assert_int_equal(ii.height, h);
        check_thumb4(&ii, w, h, NULL, shown[o]);
        img_info_free(&ii);
    }
    /* malformed Exif: no orientation */
    assert_int_equal(img_exif_orientation((const uint8_t *)"Exif\0\0MM\0\x2a\xff\xff\xff\xff", 14),
                     0);
    assert_int_equal(img_exif_orientation((const uint8_t *)"Exif\0\0II\x2a\0\x08\0\0\0\x01\0", 16),
                     0);
    assert_int_equal(img_exif_orientation((const uint8_t *)"JFIF", 4), 0);
}

static void test_jpeg_bad(void **state)
{
    (void)state;
    struct img_info ii;
    size_t n;
    uint8_t *p = slurp(tmp("big.jpg"), &n);
    /* truncated after the header: the size is known, libjpeg pads the rest */
    assert_int_equal(img_probe_mem(p, n / 3, 1, &ii), 0);
    assert_int_equal(ii.width, 2400);
    img_info_free(&ii);
    /* truncated inside the header: nothing */
    assert_int_equal(img_probe_mem(p, 40, 1, &ii), -EBADMSG);
    assert_int_equal(ii.width, 0);
    assert_null(ii.thumb);
    assert_true(ii.why[0] != '\0');
    /* garbage after a JPEG signature */
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7919 >> 3);
    memcpy(junk, "\xff\xd8\xff", 3);
    assert_int_equal(img_probe_mem(junk, sizeof junk, 1, &ii), -EBADMSG);
    assert_null(ii.thumb);
    /* a frame header claiming 30000 x 30000 (900 MP): over the pixel cap, never decoded */
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n; i++)
        if (p[i] == 0xff && p[i + 1] == 0xc0) {
            sof = i;
            break;
        }
    assert_true(sof > 0);
    p[sof + 5] = 30000 >> 8, p[sof + 6] = 30000 & 0xff;
    p[sof + 7] = 30000 >> 8, p[sof + 8] = 30000 & 0xff;
    assert_int_equal(img_probe_mem(p, n, 1, &ii), -EBADMSG);
    assert_int_equal(ii.width, 0);
    assert_non_null(strstr(ii.why, "caps"));
    free(p);
    /* not an image */
    assert_int_equal(img_probe_mem((const uint8_t *)"hello world!", 12, 1, &ii), -EBADMSG);
    assert_int_equal(img_probe_file(tmp("nope.jpg"), 1, &ii), -ENOENT);
}

static void test_png(void **state)
{
    (void)state;
    struct img_info ii;
    assert_int_equal(mg_png(tmp("a.png"), 300, 200, false, false), 0);
    assert_int_equal(img_probe_file(tmp("a.png"), 1, &ii), 0);
    assert_int_equal(ii.format, IMG_PNG);
    assert_int_equal(ii.width, 300);
    assert_int_equal(ii.height, 200);
    check_thumb(&ii, 300, 200, NULL);
    img_info_free(&ii);
    /* transparent top-left: over white */
    static const uint8_t white[3] = {255, 255, 255};
    assert_int_equal(mg_png(tmp("alpha.png"), 120, 120, true, false), 0);
    assert_int_equal(img_probe_file(tmp("alpha.png"), 1, &ii), 0);
    check_thumb(&ii, 120, 120, white);
    img_info_free(&ii);
    /* interlaced: the size only */
    assert_int_equal(mg_png(tmp("adam7.png"), 64, 48, false, true), 0);
    assert_int_equal(img_probe_file(tmp("adam7.png"), 1, &ii), 0);
    assert_int_equal(ii.width, 64);
    assert_null(ii.thumb);
    assert_non_null(strstr(ii.why, "interlaced"));
    /* truncated in the image data: the size, no thumbnail */
    size_t n;
    uint8_t *p = slurp(tmp("a.png"), &n);
    assert_int_equal(img_probe_mem(p, n / 2, 1, &ii), 0);
    assert_int_equal(ii.width, 300);
    assert_null(ii.thumb);
    /* a corrupt IHDR CRC: nothing */
    p[29] ^= 0xff;
    assert_int_equal(img_probe_mem(p, n, 1, &ii), -EBADMSG);
    assert_int_equal(ii.width, 0);
    free(p);
    /* an IHDR of 70000 x 10 (valid CRC): over the dimension cap */
    uint8_t hdr[33] = "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR";
    hdr[16] = 0, hdr[17] = 0x01, hdr[18] = 0x11, hdr[19] = 0x70; /* 70000 */
    hdr[23] = 10, hdr[24] = 8, hdr[25] = 2;
    uint32_t crc = (uint32_t)crc32(0, hdr + 12, 17);
    hdr[29] = (uint8_t)(crc >> 24), hdr[30] = (uint8_t)(crc >> 16), hdr[31] = (uint8_t)(crc >> 8),
    hdr[32] = (uint8_t)crc;
    assert_int_equal(img_probe_mem(hdr, sizeof hdr, 1, &ii), -EBADMSG);
    assert_int_equal(ii.width, 0);
}

static void test_webp_gif(void **state)
{
    (void)state;
    struct img_info ii;
    uint8_t vp8l[32] = "RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f";
    uint32_t v = (512 - 1) | (256 - 1) << 14;
    memcpy(vp8l + 21, &v, 4); /* little-endian host */
    assert_int_equal(img_probe_mem(vp8l, sizeof vp8l, 1, &ii), 0);
    assert_int_equal(ii.format, IMG_WEBP);
    assert_int_equal(ii.width, 512);
    assert_int_equal(ii.height, 256);
    assert_null(ii.thumb);
    uint8_t vp8x[32] = "RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x10\0\0\0";
    vp8x[24] = 0xff, vp8x[25] = 0x01; /* 512 - 1 */
    vp8x[27] = 0x2b, vp8x[28] = 0x01; /* 300 - 1 */
    assert_int_equal(img_probe_mem(vp8x, sizeof vp8x, 1, &ii), 0);
    assert_int_equal(ii.width, 512);
    assert_int_equal(ii.height, 300);
    uint8_t vp8[32] = "RIFF\0\0\0\0WEBPVP8 \0\0\0\0\0\0\0\x9d\x01\x2a";
    vp8[26] = 0x40, vp8[27] = 0x01, vp8[28] = 0xf0, vp8[29] = 0x00; /* 320 x 240 */
    assert_int_equal(img_probe_mem(vp8, sizeof vp8, 1, &ii), 0);
    assert_int_equal(ii.width, 320);
    assert_int_equal(ii.height, 240);
    uint8_t bad[32] = "RIFF\0\0\0\0WEBPALPH";
    assert_int_equal(img_probe_mem(bad, sizeof bad, 1, &ii), -EBADMSG);
    const uint8_t gif[13] = "GIF89a\x40\x01\xc8\x00";
    assert_int_equal(img_probe_mem(gif, sizeof gif, 1, &ii), 0);
    assert_int_equal(ii.format, IMG_GIF);
    assert_int_equal(ii.width, 320);
    assert_int_equal(ii.height, 200);
}

static void mp4(const struct mg_mp4 *o, int want_rc, uint32_t w, uint32_t h, uint32_t secs)
{
    uint8_t *p;
    size_t n;
    struct mp4_info mi;
    assert_int_equal(mg_mp4_bytes(o, &p, &n), 0);
    assert_int_equal(mp4_probe_mem(p, n, &mi), want_rc);
    if (want_rc == 0) {
        assert_int_equal(mi.width, w);
        assert_int_equal(mi.height, h);
        assert_int_equal(mi.seconds, secs);
    }
    free(p);
}

static void test_mp4(void **state)
{
    (void)state;
    mp4(
        &(struct mg_mp4){
            .width = 1280, .height = 720, .timescale = 1000, .duration = 12400, .mdat_len = 1000},
        0, 1280, 720, 12);
    mp4(&(struct mg_mp4){.width = 1920,
                         .height = 1080,
                         .timescale = 90000,
                         .duration = 90000 * 61 + 45000,
                         .v1 = true,
                         .audio_first = true,
                         .rotate90 = true},
        0, 1080, 1920, 62);
    mp4(&(struct mg_mp4){.width = 640,
                         .height = 360,
                         .timescale = 600,
                         .duration = 300,
                         .moov_last = true,
                         .largesize = true,
                         .mdat_len = 300000},
        0, 640, 360, 1);
    /* a duration of all ones (unknown) and a silly one: no seconds */
    mp4(&(struct mg_mp4){.width = 64, .height = 64, .timescale = 1, .duration = 0xffffffff}, 0, 64,
        64, 0);
    mp4(&(struct mg_mp4){.width = 64, .height = 64, .timescale = 1, .duration = 30 * 86400}, 0, 64,
        64, 0);
    /* a width over the cap: no dimensions */
    mp4(&(struct mg_mp4){.width = 20000, .height = 64, .timescale = 10, .duration = 100}, 0, 0, 0,
        10);

    uint8_t *p;
    size_t n;
    struct mp4_info mi;
    struct mg_mp4 o = {.width = 320,
                       .height = 240,
                       .timescale = 1000,
                       .duration = 5000,
                       .moov_last = true,
                       .mdat_len = 5000};
    assert_int_equal(mg_mp4_bytes(&o, &p, &n), 0);
    /* truncated inside moov, or before it */
    for (size_t cut = n - 1; cut > n - 200; cut -= 13)
        assert_int_equal(mp4_probe_mem(p, cut, &mi), -EBADMSG);
    assert_int_equal(mp4_probe_mem(p, 5000, &mi), -EBADMSG);
    /* no moov at all */
    assert_int_equal(mp4_probe_mem(p, 28, &mi), -ENOENT); /* ftyp only */
    /* a box size past its parent */
    size_t moov = 28 + 8 + 5000;
    assert_memory_equal(p + moov + 4, "moov", 4);
    p[moov + 8 + 3] = 0xff; /* mvhd's size */
    assert_int_equal(mp4_probe_mem(p, n, &mi), -EBADMSG);
    free(p);
    /* too many boxes: a moov of 5000 empty `free` boxes */
    size_t fn = 8 + 5000 * 8;
    uint8_t *f = calloc(1, fn);
    f[0] = (uint8_t)(fn >> 24), f[1] = (uint8_t)(fn >> 16), f[2] = (uint8_t)(fn >> 8),
    f[3] = (uint8_t)fn;
    memcpy(f + 4, "moov", 4);
    for (size_t i = 0; i < 5000; i++)
        f[8 + i * 8 + 3] = 8, memcpy(f + 8 + i * 8 + 4, "free", 4);
    assert_int_equal(mp4_probe_mem(f, fn, &mi), -EBADMSG);
    /* a size of 0 means "to the end": one free box then */
    memset(f + 8, 0, 4);
    assert_int_equal(mp4_probe_mem(f, fn, &mi), 0);
    free(f);
    /* through the file probe */
    o.audio_first = true;
    assert_int_equal(mg_mp4_bytes(&o, &p, &n), 0);
    spit(tmp("v.mp4"), p, n);
    free(p);
    struct wa_mprobe pr;
    assert_int_equal(wa_mprobe_file(tmp("v.mp4"), WA_MEDIA_VIDEO, false, &pr), 0);
    assert_int_equal(pr.width, 320);
    assert_int_equal(pr.height, 240);
    assert_int_equal(pr.seconds, 5);
    assert_null(pr.thumb);
    wa_mprobe_free(&pr);
    spit(tmp("junk.mp4"), (const uint8_t *)"\0\0\0\x02junkjunk", 12);
    assert_int_equal(wa_mprobe_file(tmp("junk.mp4"), WA_MEDIA_VIDEO, false, &pr), -EBADMSG);
    assert_true(pr.why[0] != '\0');
}

static void test_waveform(void **state)
{
    (void)state;
    struct wa_waveform w;
    uint8_t out[WA_WAVEFORM_LEN];
    assert_false(wa_waveform_init(&w, 63));
    /* block i holds (i + 1) / 64 in channel 0, noise in channel 1; 10 samples of remainder */
    uint64_t block = 37, total = block * 64 + 10;
    assert_true(wa_waveform_init(&w, total));
    float *pcm = malloc(sizeof(float) * 2 * total);
    for (uint64_t s = 0; s < total; s++) {
        uint64_t b = s / block < 64 ? s / block : 63;
        pcm[2 * s] = (float)((s % 2 ? -1.0 : 1.0) * (double)(b + 1) / 64.0);
        pcm[2 * s + 1] = 1.0f;
    }
    pcm[2 * (total - 1)] = 100.0f; /* in the unused remainder */
    /* in odd pieces */
    for (uint64_t s = 0; s < total; s += 101)
        wa_waveform_feed(&w, pcm + 2 * s, total - s < 101 ? total - s : 101, 2);
    assert_true(wa_waveform_full(&w));
    wa_waveform_finish(&w, out);
    for (int i = 0; i < 64; i++)
        assert_int_equal(out[i], (uint8_t)(100 * (i + 1) / 64));
    assert_int_equal(out[63], 100);
    /* silence: zeros */
    assert_true(wa_waveform_init(&w, 2 * total));
    memset(pcm, 0, sizeof(float) * 2 * total);
    wa_waveform_feed(&w, pcm, 2 * total, 1);
    wa_waveform_finish(&w, out);
    for (int i = 0; i < 64; i++)
        assert_int_equal(out[i], 0);
    free(pcm);
}

static void test_ogg(void **state)
{
    (void)state;
    assert_int_equal(mg_opus(tmp("ramp.ogg"), 3200, false), 0);
    size_t n;
    uint8_t *p = slurp(tmp("ramp.ogg"), &n);
    struct oggopus_head h;
    uint64_t g;
    assert_int_equal(oggopus_head(p, n < OGGOPUS_HEAD_BYTES ? n : OGGOPUS_HEAD_BYTES, &h), 0);
    assert_int_equal(h.channels, 1);
    assert_true(h.pre_skip > 0);
    assert_int_equal(oggopus_last_granule(p, n, &h, &g), 0);
    assert_int_equal(oggopus_ms(&h, g), 3200);
    /* a tail that starts inside a page, as the probe's may */
    size_t tn = n - 1000;
    assert_int_equal(oggopus_last_granule(p + n - tn, tn, &h, &g), 0);
    assert_int_equal(oggopus_ms(&h, g), 3200);
    /* the last page damaged (CRC): the one before it counts */
    p[n - 5] ^= 0x55;
    assert_int_equal(oggopus_last_granule(p, n, &h, &g), 0);
    assert_true(oggopus_ms(&h, g) < 3200 && oggopus_ms(&h, g) > 2000);
    p[n - 5] ^= 0x55;
    /* truncated: the last complete page */
    assert_int_equal(oggopus_last_granule(p, n - 10, &h, &g), 0);
    assert_true(oggopus_ms(&h, g) < 3200);
    /* a bad OpusHead, not the first page, not Ogg */
    struct ogg_page pg;
    assert_int_equal(ogg_page_parse(p, 20, &pg), -EAGAIN);
    assert_int_equal(ogg_page_parse(p, n, &pg), 0);
    assert_int_equal(pg.flags & 2, 2);
    uint8_t *c = malloc(n);
    memcpy(c, p, n);
    c[pg.header_len + 3] = 'X'; /* "OpuX": the CRC fails first */
    assert_int_equal(oggopus_head(c, n, &h), -EBADMSG);
    assert_int_equal(oggopus_head((const uint8_t *)"ID3\x03", 4, &h), -EBADMSG);
    free(c);
    free(p);

    /* through the file probe: seconds and (voice note) the waveform of the rising tone */
    struct wa_mprobe pr;
    assert_int_equal(wa_mprobe_file(tmp("ramp.ogg"), WA_MEDIA_AUDIO, true, &pr), 0);
    assert_int_equal(pr.seconds, 3);
    assert_true(pr.has_waveform);
    assert_true(pr.waveform[0] < 10);
    assert_true(pr.waveform[63] >= 90);
    int max = 0;
    for (int i = 0; i < 64; i++) {
        if (pr.waveform[i] > max) max = pr.waveform[i];
        if (i >= 4) assert_true(pr.waveform[i] + 8 >= pr.waveform[i - 4]); /* rising */
    }
    assert_int_equal(max, 100);
    assert_true(pr.waveform[32] > 35 && pr.waveform[32] < 65);
    /* audio (not a voice note): seconds only */
    assert_int_equal(wa_mprobe_file(tmp("ramp.ogg"), WA_MEDIA_AUDIO, false, &pr), 0);
    assert_false(pr.has_waveform);
    assert_int_equal(pr.seconds, 3);
    /* silent first half */
    assert_int_equal(mg_opus(tmp("half.ogg"), 2000, true), 0);
    assert_int_equal(wa_mprobe_file(tmp("half.ogg"), WA_MEDIA_AUDIO, true, &pr), 0);
    assert_int_equal(pr.seconds, 2);
    for (int i = 0; i < 30; i++)
        assert_true(pr.waveform[i] <= 3);
    for (int i = 34; i < 64; i++)
        assert_true(pr.waveform[i] >= 80);
    /* truncated file: shorter, and decoding what is there does not crash */
    p = slurp(tmp("ramp.ogg"), &n);
    spit(tmp("cut.ogg"), p, n / 2);
    assert_int_equal(wa_mprobe_file(tmp("cut.ogg"), WA_MEDIA_AUDIO, true, &pr), 0);
    assert_true(pr.seconds >= 1 && pr.seconds < 3);
    spit(tmp("cut.ogg"), p, 100);
    assert_true(wa_mprobe_file(tmp("cut.ogg"), WA_MEDIA_AUDIO, true, &pr) < 0);
    assert_int_equal(pr.seconds, 0);
    assert_false(pr.has_waveform);
    free(p);
    /* m4a: the duration from its boxes (no waveform, even as a voice note) */
    struct mg_mp4 m4a = {
        .timescale = 44100, .duration = 44100 * 7 + 30000, .moov_last = true, .mdat_len = 2000};
    assert_int_equal(mg_mp4_bytes(&m4a, &p, &n), 0);
    spit(tmp("song.m4a"), p, n);
    free(p);
    assert_int_equal(wa_mprobe_file(tmp("song.m4a"), WA_MEDIA_AUDIO, true, &pr), 0);
    assert_int_equal(pr.seconds, 8);
    assert_false(pr.has_waveform);
    spit(tmp("song.m4a"), (const uint8_t *)"\0\0\0\020ftypM4A \0\0\0\0", 16);
    assert_int_equal(wa_mprobe_file(tmp("song.m4a"), WA_MEDIA_AUDIO, false, &pr), -EBADMSG);
    assert_int_equal(pr.seconds, 0);
    /* an mp3 (anything else): nothing to say */
    spit(tmp("song.mp3"), (const uint8_t *)"ID3\x03\0\0\0\0\0\0 then frames", 22);
    assert_int_equal(wa_mprobe_file(tmp("song.mp3"), WA_MEDIA_AUDIO, true, &pr), -ENOENT);
    assert_int_equal(pr.seconds, 0);
    /* a document: never probed */
    assert_int_equal(wa_mprobe_file(tmp("ramp.ogg"), WA_MEDIA_DOCUMENT, false, &pr), -ENOENT);
}

static Wa__Message *amended(const struct wa_outmedia *md, const struct wa_outmedia *probe)
{
    struct buf held, out;
    buf_init(&held, 0);
    buf_init(&out, 0);
    assert_int_equal(wa_outmedia_build(md, NULL, NULL, &held), 0);
    assert_int_equal(wa_outmedia_amend(held.data, held.len, probe, &out), 0);
    Wa__Message *m = wa__message__unpack(NULL, out.len, out.data);
    assert_non_null(m);
    buf_free(&held);
    buf_free(&out);
    return m;
}

static void test_outmedia_amend(void **state)
{
    (void)state;
    uint8_t thumb[300], wave[64];
    for (size_t i = 0; i < sizeof thumb; i++)
        thumb[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof wave; i++)
        wave[i] = (uint8_t)(i * 100 / 63);
    struct wa_outmedia probe = {.width = 640,
                                .height = 480,
                                .seconds = 7,
                                .waveform = wave,
                                .thumbnail = thumb,
                                .thumbnail_len = sizeof thumb};
    struct wa_outmedia img = {.type = WA_MEDIA_IMAGE, .mimetype = "image/jpeg", .file_length = 9};
    Wa__Message *m = amended(&img, &probe);
    assert_non_null(m->imagemessage);
    assert_int_equal(m->imagemessage->width, 640);
    assert_int_equal(m->imagemessage->height, 480);
    assert_true(m->imagemessage->has_jpegthumbnail);
    assert_memory_equal(m->imagemessage->jpegthumbnail.data, thumb, sizeof thumb);
    assert_string_equal(m->imagemessage->mimetype, "image/jpeg");
    wa__message__free_unpacked(m, NULL);
    /* a voice note: the API's seconds win, the waveform is set */
    struct wa_outmedia ptt = {.type = WA_MEDIA_AUDIO,
                              .ptt = true,
                              .mimetype = "audio/ogg",
                              .file_length = 9,
                              .seconds = 3};
    m = amended(&ptt, &probe);
    assert_int_equal(m->audiomessage->seconds, 3);
    assert_int_equal(m->audiomessage->waveform.len, 64);
    assert_memory_equal(m->audiomessage->waveform.data, wave, 64);
    wa__message__free_unpacked(m, NULL);
    /* plain audio without seconds: the probe's; no waveform */
    ptt.ptt = false, ptt.seconds = 0;
    m = amended(&ptt, &probe);
    assert_int_equal(m->audiomessage->seconds, 7);
    assert_false(m->audiomessage->has_waveform);
    wa__message__free_unpacked(m, NULL);
    /* video: all three; sticker: dimensions only; a document: untouched */
    struct wa_outmedia vid = {.type = WA_MEDIA_VIDEO, .mimetype = "video/mp4", .file_length = 9};
    m = amended(&vid, &probe);
    assert_int_equal(m->videomessage->seconds, 7);
    assert_int_equal(m->videomessage->width, 640);
    assert_true(m->videomessage->has_jpegthumbnail);
    wa__message__free_unpacked(m, NULL);
    struct wa_outmedia stk = {.type = WA_MEDIA_STICKER, .mimetype = "image/webp", .file_length = 9};
    m = amended(&stk, &probe);
    assert_int_equal(m->stickermessage->width, 640);
    assert_int_equal(m->stickermessage->height, 480);
    wa__message__free_unpacked(m, NULL);
    /* nothing known: the same bytes */
    struct buf held, out;
    buf_init(&held, 0);
    buf_init(&out, 0);
    struct wa_outmedia none = {0};
    assert_int_equal(wa_outmedia_build(&img, NULL, NULL, &held), 0);
    assert_int_equal(wa_outmedia_amend(held.data, held.len, &none, &out), 0);
    assert_int_equal(out.len, held.len);
    assert_memory_equal(out.data, held.data, held.len);
    /* caps and bad input */
    out.len = 0;
    probe.thumbnail_len = WA_OUTMEDIA_THUMB_MAX + 1;
    assert_int_equal(wa_outmedia_amend(held.data, held.len, &probe, &out), -EINVAL);
    assert_int_equal(wa_outmedia_amend((const uint8_t *)"\xff\xff", 2, &none, &out), -EBADMSG);
    buf_free(&held);
    buf_free(&out);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wagate-probe-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg),           cmocka_unit_test(test_jpeg_exif),
        cmocka_unit_test(test_jpeg_bad),       cmocka_unit_test(test_png),
        cmocka_unit_test(test_webp_gif),       cmocka_unit_test(test_mp4),
        cmocka_unit_test(test_waveform),       cmocka_unit_test(test_ogg),
        cmocka_unit_test(test_outmedia_amend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
