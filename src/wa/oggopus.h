/* SPDX-License-Identifier: MIT */
/* oggopus.h -- the duration of an Ogg Opus file (a voice note) from its first and last pages,
 * sans-I/O (issue 14, media send: audioMessage seconds).
 *
 * RFC 7845: the first page of the stream holds only the OpusHead packet (version, channels,
 * pre-skip, input rate); the granule position of the stream's last page counts 48 kHz samples
 * from its start, pre-skip included. Duration = (last granule - pre-skip) / 48000.
 * The caller reads the file's head (OGGOPUS_HEAD_BYTES are enough) and its tail (the last
 * OGGOPUS_TAIL_BYTES, or the whole file when smaller: the last page is at most
 * OGGOPUS_PAGE_MAX bytes) and hands the bytes here. Every page is checked: capture pattern,
 * version 0, its segment table within the buffer, its CRC; the tail is scanned for complete
 * pages of the head's serial number, at most OGGOPUS_TAIL_BYTES / 27 candidates. Pure.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define OGGOPUS_PAGE_MAX   (27 + 255 + 255 * 255) /* 65307 */
#define OGGOPUS_HEAD_BYTES (27 + 255 + 276)       /* the first page's header + an OpusHead */
#define OGGOPUS_TAIL_BYTES (2 * OGGOPUS_PAGE_MAX)
#define OGGOPUS_RATE       48000

struct ogg_page {
    uint8_t flags; /* 1 continued, 2 first (BOS), 4 last (EOS) */
    uint64_t granule;
    uint32_t serial, seq;
    size_t header_len, body_len; /* the page is header_len + body_len bytes */
};

struct oggopus_head {
    uint32_t serial;
    uint8_t channels;
    uint16_t pre_skip;
    uint32_t input_rate;
};

/* The page at p: 0 and *pg, -EAGAIN (p holds only part of it), -EBADMSG (not a valid page:
 * pattern, version or CRC). */
int ogg_page_parse(const uint8_t *p, size_t n, struct ogg_page *pg)
    __attribute__((warn_unused_result));
/* The first page of the file (at offset 0) and its OpusHead: 0, -EBADMSG (not Ogg, not the
 * stream's first page, not Opus, a bad OpusHead). */
int oggopus_head(const uint8_t *p, size_t n, struct oggopus_head *h)
    __attribute__((warn_unused_result));
/* The granule position of the last complete page of h's stream within the tail bytes:
 * 0 and *granule, -ENOENT (none). */
int oggopus_last_granule(const uint8_t *tail, size_t n, const struct oggopus_head *h,
                         uint64_t *granule) __attribute__((warn_unused_result));
/* The duration in milliseconds from the last granule (0 when it does not pass the pre-skip). */
uint64_t oggopus_ms(const struct oggopus_head *h, uint64_t granule);
