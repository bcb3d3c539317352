/* SPDX-License-Identifier: MIT */
/* fuzz_mediaprobe.c -- the parsers of what a file to send says about itself (wa/mediaprobe.h)
 * on any bytes. Byte 0 picks: 0 the MP4 box walker (wa/mp4box), 1 the Ogg page / OpusHead
 * parser and the last-granule scan (wa/oggopus), 2 the image probe (wa/imgprobe: the size
 * sniffers, libjpeg / libpng decoding into the box filter and the thumbnail's encode), 3 the
 * waveform (wa/waveform) on the bytes as floats. Properties: nothing crashes, leaks or reads
 * past the input; results are within the documented caps (sizes, seconds, thumbnail bytes,
 * waveform values 0..100, a page within the buffer). Seeds: fuzz/corpus/fuzz_mediaprobe/
 * (tools/gen-probe-corpus.sh). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/imgprobe.h"
#include "wa/mp4box.h"
#include "wa/oggopus.h"
#include "wa/waveform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mp4(const uint8_t *p, size_t n)
{
    struct mp4_info mi;
    int rc = mp4_probe_mem(p, n, &mi);
    if (rc != 0 && rc != -ENOENT && rc != -EBADMSG) abort();
    if (mi.width > MP4_DIM_MAX || mi.height > MP4_DIM_MAX || mi.seconds > MP4_SECONDS_MAX + 1)
        abort();
}

static void ogg(const uint8_t *p, size_t n)
{
    struct ogg_page pg;
    if (ogg_page_parse(p, n, &pg) == 0 && pg.header_len + pg.body_len > n) abort();
    struct oggopus_head h;
    uint64_t g;
    if (oggopus_head(p, n, &h) == 0 && oggopus_last_granule(p, n, &h, &g) == 0)
        (void)oggopus_ms(&h, g);
    /* the scan alone, with a made-up head */
    h = (struct oggopus_head){.serial = n >= 18 ? (uint32_t)p[14] | (uint32_t)p[15] << 8 |
                                                      (uint32_t)p[16] << 16 | (uint32_t)p[17] << 24
                                                : 0,
                              .pre_skip = 312};
    (void)oggopus_last_granule(p, n, &h, &g);
}

static void img(const uint8_t *p, size_t n)
{
    struct img_info ii;
    int rc = img_probe_mem(p, n, 1, &ii);
    if (rc != 0 && rc != -EBADMSG && rc != -ENOMEM) abort();
    if (rc < 0 && ii.thumb) abort();
    if (ii.width > IMG_DIM_MAX || ii.height > IMG_DIM_MAX ||
        (uint64_t)ii.width * ii.height > IMG_PIXELS_MAX || ii.thumb_len > IMG_THUMB_BYTES)
        abort();
    img_info_free(&ii);
}

static void wave(const uint8_t *p, size_t n)
{
    size_t frames = n / sizeof(float);
    float *f = malloc(frames * sizeof(float) + 1);
    if (!f) return;
    memcpy(f, p, frames * sizeof(float));
    struct wa_waveform w;
    uint8_t out[WA_WAVEFORM_LEN];
    if (wa_waveform_init(&w, frames)) {
        wa_waveform_feed(&w, f, frames, 1);
        wa_waveform_finish(&w, out);
        for (size_t i = 0; i < WA_WAVEFORM_LEN; i++)
            if (out[i] > 100) abort();
    }
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* a copy of exactly the input's size, so that a read past it is caught */
    uint8_t *p = malloc(size - 1 + 1);
    if (!p) return 0;
    memcpy(p, data + 1, size - 1);
    switch (data[0] & 3) {
    case 0:
        mp4(p, size - 1);
        break;
    case 1:
        ogg(p, size - 1);
        break;
    case 2:
        img(p, size - 1);
        break;
    default:
        wave(p, size - 1);
        break;
    }
    free(p);
    return 0;
}
