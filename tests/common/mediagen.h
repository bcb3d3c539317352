/* SPDX-License-Identifier: MIT */
/* mediagen.h -- test support: small media files made on the spot (issue 14, wa/mediaprobe),
 * so no binary fixture is committed: JPEG and PNG images of four coloured quadrants, MP4 box
 * trees, Ogg Opus voice notes with a known loudness envelope. Used by the unit tests and by
 * the helper tests/mkmedia (wagate-test-mkmedia) of the shell tests. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The quadrants: top-left red, top-right green, bottom-left blue, bottom-right white. */
void mg_quadrant_rgb(uint32_t w, uint32_t h, uint32_t x, uint32_t y, uint8_t rgb[3]);

/* A w x h JPEG (quality 90) at path: gray = one component (the quadrants' luma), progressive.
 * 0 or -1. */
int mg_jpeg(const char *path, uint32_t w, uint32_t h, bool gray, bool progressive);
/* The same with an Exif APP1 whose IFD0 has Orientation = orientation (1..8; 0: no Exif). */
int mg_jpeg_exif(const char *path, uint32_t w, uint32_t h, bool gray, bool progressive,
                 int orientation);
/* A w x h PNG: alpha = RGBA with the top-left quadrant fully transparent; interlaced = Adam7.
 * 0 or -1. */
int mg_png(const char *path, uint32_t w, uint32_t h, bool alpha, bool interlaced);
/* Decode a JPEG in memory: *w, *h and a malloc'd RGB buffer (*rgb). 0 or -1. */
int mg_jpeg_decode(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h, uint8_t **rgb);

struct mg_mp4 {
    uint32_t width, height; /* the video track's tkhd */
    uint32_t timescale;     /* mvhd */
    uint64_t duration;      /* mvhd, in timescale units */
    bool v1;                /* mvhd and tkhd version 1 (64-bit) */
    bool rotate90;          /* tkhd matrix of a 90 degree rotation */
    bool audio_first;       /* a sound track before the video track */
    bool moov_last;         /* mdat first, then moov */
    bool largesize;         /* mdat with a 64-bit size */
    size_t mdat_len;        /* bytes of (zero) media data */
};
/* The file's bytes into a malloc'd buffer (*out, *n). 0 or -1. */
int mg_mp4_bytes(const struct mg_mp4 *o, uint8_t **out, size_t *n);

/* A mono 48 kHz Ogg Opus voice note of ms milliseconds at path: the amplitude of its 440 Hz
 * tone rises linearly from 0 at the start to 0.8 at the end (loud_half: silence for the
 * first half, then 0.8). The last page's granule is exact (pre-skip + samples). 0 or -1. */
int mg_opus(const char *path, uint32_t ms, bool loud_half);
