/* SPDX-License-Identifier: MIT */
/* mp4box.h -- what an MP4 / MOV file says about itself, from its ISO-BMFF boxes (issue 14,
 * media send: videoMessage width, height, seconds).
 *
 * The walker reads box headers through a read_at callback (the caller's file, or a buffer in
 * tests and the fuzzer) and never loads the file: top-level boxes are skipped by their size
 * until `moov`; inside it only `mvhd` (duration / timescale), each `trak`'s `tkhd` (width and
 * height, 16.16 fixed point, its matrix for a 90/270 degree rotation) and `mdia/hdlr` (the
 * handler: the first `vide` track gives the dimensions) are read, each a few dozen bytes.
 * Sizes 1 (64-bit largesize) and 0 (to the end of the file / parent) are understood.
 * Caps: MP4_BOXES_MAX box headers in all, MP4_DEPTH_MAX levels of nesting, a box must fit in
 * its parent; a width or height over MP4_DIM_MAX or a duration over MP4_SECONDS_MAX is
 * refused as unknown. Pure apart from the callback; no allocation.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MP4_BOXES_MAX   4096
#define MP4_DEPTH_MAX   4 /* moov / trak / mdia / hdlr */
#define MP4_DIM_MAX     16384
#define MP4_SECONDS_MAX (7u * 86400u)

/* Read n bytes at off into buf: 0, or <0 (short reads are errors). */
typedef int (*mp4_read_fn)(void *ud, uint64_t off, uint8_t *buf, size_t n);

struct mp4_info {
    uint32_t width, height; /* of the first video track, displayed (rotation applied); 0 = none */
    uint32_t seconds;       /* mvhd duration / timescale, rounded; 0 = unknown */
    uint32_t ms;            /* the same in milliseconds */
};

/* Walk a file of `size` bytes. 0 with *out filled (fields 0 when absent), -ENOENT (no moov),
 * -EBADMSG (a box that does not fit, a bad size, or a cap passed), or the callback's error. */
int mp4_probe(mp4_read_fn rd, void *ud, uint64_t size, struct mp4_info *out)
    __attribute__((warn_unused_result));
/* The same over a buffer (tests, the fuzzer). */
int mp4_probe_mem(const uint8_t *p, size_t n, struct mp4_info *out)
    __attribute__((warn_unused_result));
