/* SPDX-License-Identifier: MIT */
/* fuzz_waframe.c -- WA frame decoder reassembly under arbitrary chunking.
 *
 * Input byte 0: bit 0 = server-side decoder (expects an intro), bits 1-7 = chunk-size seed.
 * The rest is fed in chunks; the frames must equal those of a one-shot decode, and
 * re-encoding them must reproduce the consumed input. */
#include "core/buf.h"
#include "wa/frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode everything in chunks; frames are appended as BE24 len || payload. Returns the
 * final status (0 or a negative error). */
static int run(const uint8_t *in, size_t n, bool server, unsigned seed, struct buf *out)
{
    struct wa_frame_decoder d;
    wa_frame_decoder_init(&d, server, 4096, 64);
    int rc = 0;
    size_t off = 0, step = 0;
    while (off < n && rc >= 0) {
        size_t chunk = seed ? ((step++ * 7 + seed) % (seed + 1)) + 1 : n - off;
        if (chunk > n - off) chunk = n - off;
        const uint8_t *p = in + off;
        size_t left = chunk;
        while (left) {
            size_t used = 0, flen = 0;
            const uint8_t *f = NULL;
            rc = wa_frame_decode(&d, p, left, &used, &f, &flen);
            if (used > left) abort();
            p += used;
            left -= used;
            if (rc < 0) break;
            if (rc == 0) {
                if (left) abort(); /* "need more" must consume everything */
                break;
            }
            if (flen > 4096) abort();
            uint8_t h[3] = {(uint8_t)(flen >> 16), (uint8_t)(flen >> 8), (uint8_t)flen};
            if (buf_append(out, h, 3) || buf_append(out, f, flen)) abort();
        }
        off += chunk;
    }
    wa_frame_decoder_free(&d);
    return rc < 0 ? rc : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool server = data[0] & 1;
    unsigned seed = data[0] >> 1;
    struct buf a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    int ra = run(data + 1, size - 1, server, seed, &a);
    int rb = run(data + 1, size - 1, server, 0, &b);
    if (ra != rb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len))) abort();
    /* Client-side decoding of frames: re-encoding them reproduces the input prefix. */
    if (!server && a.len && memcmp(a.data, data + 1, a.len)) abort();
    buf_free(&a);
    buf_free(&b);
    return 0;
}
