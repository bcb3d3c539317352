/* SPDX-License-Identifier: MIT */
/* oggopus.c -- Ogg pages and the OpusHead (see oggopus.h). */
#include "wa/oggopus.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial 0, computed with the CRC field
 * as zeros. */
static uint32_t crc_step(uint32_t c, uint8_t b)
{
    c ^= (uint32_t)b << 24;
    for (int i = 0; i < 8; i++)
        c = c & 0x80000000u ? c << 1 ^ 0x04c11db7u : c << 1;
    return c;
}

static uint32_t tab[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT; /* probes run on threadpool threads */

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++)
        tab[i] = crc_step(0, (uint8_t)i);
}

static uint32_t page_crc(const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = i >= 22 && i < 26 ? 0 : p[i];
        c = c << 8 ^ tab[(c >> 24 ^ b) & 0xff];
    }
    return c;
}

int ogg_page_parse(const uint8_t *p, size_t n, struct ogg_page *pg)
{
    if (n < 27) return n >= 4 && memcmp(p, "OggS", 4) ? -EBADMSG : -EAGAIN;
    if (memcmp(p, "OggS", 4) || p[4] != 0) return -EBADMSG;
    size_t segs = p[26], hl = 27 + segs;
    if (n < hl) return -EAGAIN;
    size_t body = 0;
    for (size_t i = 0; i < segs; i++)
        body += p[27 + i];
    if (n - hl < body) return -EAGAIN;
    if (page_crc(p, hl + body) != le32(p + 22)) return -EBADMSG;
    pg->flags = p[5];
    pg->granule = (uint64_t)le32(p + 6) | (uint64_t)le32(p + 10) << 32;
    pg->serial = le32(p + 14);
    pg->seq = le32(p + 18);
    pg->header_len = hl;
    pg->body_len = body;
    return 0;
}

int oggopus_head(const uint8_t *p, size_t n, struct oggopus_head *h)
{
    struct ogg_page pg;
    if (ogg_page_parse(p, n, &pg) < 0 || !(pg.flags & 2) || pg.seq != 0) return -EBADMSG;
    const uint8_t *b = p + pg.header_len;
    /* OpusHead: magic, version (major 0), channels, pre-skip (LE16), input rate (LE32), gain,
     * mapping family */
    if (pg.body_len < 19 || memcmp(b, "OpusHead", 8) || (b[8] & 0xf0) || !b[9]) return -EBADMSG;
    h->serial = pg.serial;
    h->channels = b[9];
    h->pre_skip = (uint16_t)(b[10] | b[11] << 8);
    h->input_rate = le32(b + 12);
    return 0;
}

int oggopus_last_granule(const uint8_t *tail, size_t n, const struct oggopus_head *h,
                         uint64_t *granule)
{
    int found = 0;
    unsigned tries = 0;
    for (size_t i = 0; i + 27 <= n && tries < OGGOPUS_TAIL_BYTES / 27; i++) {
        if (tail[i] != 'O' || memcmp(tail + i, "OggS", 4)) continue;
        if (le32(tail + i + 14) != h->serial) continue; /* another stream, or no page: no CRC */
        tries++;
        struct ogg_page pg;
        if (ogg_page_parse(tail + i, n - i, &pg) < 0) continue;
        if (pg.granule != UINT64_MAX) *granule = pg.granule, found = 1;
        i += pg.header_len + pg.body_len - 1; /* the next page follows */
    }
    return found ? 0 : -ENOENT;
}

uint64_t oggopus_ms(const struct oggopus_head *h, uint64_t granule)
{
    if (granule <= h->pre_skip) return 0;
    uint64_t s = granule - h->pre_skip;
    return s / OGGOPUS_RATE * 1000 + s % OGGOPUS_RATE * 1000 / OGGOPUS_RATE;
}
