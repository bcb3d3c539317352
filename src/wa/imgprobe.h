/* SPDX-License-Identifier: MIT */
/* imgprobe.h -- an image's dimensions and its jpegThumbnail (issue 14, media send), in
 * constant memory. Blocking file reads: threadpool only (wa/mediaprobe.h).
 *
 * JPEG (libjpeg-turbo): the header gives the size (as shown: an Exif orientation 5..8, a
 * quarter turn, swaps width and height; the thumbnail is turned / mirrored as shown too); the
 * thumbnail is decoded with DCT-domain scaling (scale 1/8, 1/4 or 1/2: the smallest that keeps at
 * least twice the thumbnail's size), one scanline at a time into a box filter, so a 12 MP photo is
 * never held as pixels. A progressive JPEG needs its whole coefficient buffer: libjpeg's memory is
 * capped at IMG_JPEG_MEM_MAX, a larger one gets its dimensions only. CMYK / YCCK: dimensions only.
 * PNG (libpng): read row by row (expanded to 8-bit RGB(A), alpha over white) into the same
 * box filter; an interlaced PNG (its rows come in 7 passes) gets its dimensions only.
 * WebP (VP8, VP8L, VP8X) and GIF: the dimensions from the first bytes, no thumbnail.
 * The thumbnail is what Baileys' extractImageThumb makes: IMG_THUMB_WIDTH pixels wide, the
 * height keeping the aspect (1..IMG_THUMB_HMAX), baseline JPEG quality IMG_THUMB_QUALITY;
 * at most IMG_THUMB_BYTES bytes (a larger one is dropped).
 * Caps: width and height 1..IMG_DIM_MAX, width * height <= IMG_PIXELS_MAX (larger: no decode,
 * no dimensions).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define IMG_DIM_MAX       65535
#define IMG_PIXELS_MAX    100000000ull /* 100 MP */
#define IMG_JPEG_MEM_MAX  (24u << 20)
#define IMG_THUMB_WIDTH   32
#define IMG_THUMB_HMAX    320
#define IMG_THUMB_QUALITY 50
#define IMG_THUMB_BYTES   (16u << 10)

enum img_format { IMG_UNKNOWN, IMG_JPEG, IMG_PNG, IMG_WEBP, IMG_GIF };

struct img_info {
    enum img_format format;
    uint32_t width, height; /* 0: unknown */
    uint8_t *thumb;         /* malloc'd JPEG (free), NULL: none */
    size_t thumb_len;
    char why[96]; /* why something is missing (debug) */
};

/* The format from the first bytes (at least 12). */
enum img_format img_sniff(const uint8_t *p, size_t n);
/* Dimensions (and a thumbnail when want_thumb) of the image file at path. 0 with *out filled
 * as far as known (check the fields), -ENOENT (cannot open), -EBADMSG (not an image we read,
 * or corrupt before its size: out->why). Never leaves thumb allocated on an error. */
int img_probe_file(const char *path, int want_thumb, struct img_info *out)
    __attribute__((warn_unused_result));
/* The same for the bytes of a file in memory (tests, the fuzzer). */
int img_probe_mem(const uint8_t *p, size_t n, int want_thumb, struct img_info *out)
    __attribute__((warn_unused_result));
void img_info_free(struct img_info *i);
/* The orientation (1..8) in an APP1 Exif payload ("Exif\0\0" + TIFF: IFD0 tag 0x0112), 0 when
 * absent or malformed (every offset checked against n). Pure. */
int img_exif_orientation(const uint8_t *p, size_t n);
