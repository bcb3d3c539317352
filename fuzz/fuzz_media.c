/* SPDX-License-Identifier: MIT */
/* fuzz_media.c -- media decryption (wa/media.h) on peer-controlled bytes.
 *
 * Input: byte 0 = media type (mod WA_MEDIA_TYPE_COUNT), byte 1 = chunk size - 1, byte 2 bit 0 =
 * check the hashes, then the enc file. It is decrypted with the key of the seed corpus
 * (fuzz/corpus/fuzz_media/: Baileys' enc files of tests/fixtures/media-vectors.json, key
 * 0x11.. step 7) and a 64 KiB cap. Properties: nothing crashes or overruns (the output
 * buffers are exactly the documented sizes), the plaintext never exceeds the cap, a verified
 * file's length matches what was output, and the same bytes re-encrypted with the same key
 * decrypt back to themselves with matching hashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP (64u << 10)

static const uint8_t KEY[32] = {0x11, 0x18, 0x1f, 0x26, 0x2d, 0x34, 0x3b, 0x42, 0x49, 0x50, 0x57,
                                0x5e, 0x65, 0x6c, 0x73, 0x7a, 0x81, 0x88, 0x8f, 0x96, 0x9d, 0xa4,
                                0xab, 0xb2, 0xb9, 0xc0, 0xc7, 0xce, 0xd5, 0xdc, 0xe3, 0xea};

static void roundtrip(enum wa_media_type t, const uint8_t *p, size_t n)
{
    struct wa_media_enc *e = NULL;
    struct wa_media_dec *d = NULL;
    struct wa_media_result er, dr;
    uint8_t *c = malloc(n + WA_MEDIA_BLOCK + WA_MEDIA_FINAL_MAX);
    uint8_t *back = malloc(n + WA_MEDIA_BLOCK + WA_MEDIA_FINAL_MAX + WA_MEDIA_OUT_SLACK);
    size_t cn = 0, got = 0, bn = 0;
    if (!c || !back || wa_media_enc_new(KEY, t, 0, &e) != 0) abort();
    if (wa_media_enc_update(e, p, n, c, n + WA_MEDIA_BLOCK, &cn) != 0) abort();
    if (wa_media_enc_final(e, c + cn, WA_MEDIA_FINAL_MAX, &got, &er) != 0) abort();
    cn += got;
    if (cn != er.enc_length || er.file_length != n) abort();
    if (wa_media_dec_new(KEY, t, er.file_sha256, er.file_enc_sha256, 0, &d) != 0) abort();
    if (wa_media_dec_update(d, c, cn, back, cn + WA_MEDIA_OUT_SLACK, &bn) != 0) abort();
    if (wa_media_dec_final(d, back + bn, WA_MEDIA_FINAL_MAX, &got, &dr) != 0) abort();
    bn += got;
    if (bn != n || (n && memcmp(back, p, n) != 0)) abort();
    if (memcmp(dr.file_sha256, er.file_sha256, 32) != 0) abort();
    wa_media_enc_free(e);
    wa_media_dec_free(d);
    free(c);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > CAP + 256) return 0;
    enum wa_media_type t = (enum wa_media_type)(data[0] % WA_MEDIA_TYPE_COUNT);
    size_t chunk = (size_t)data[1] + 1;
    int hashes = data[2] & 1;
    const uint8_t *p = data + 3;
    size_t n = size - 3;
    uint8_t want[32] = {0};
    struct wa_media_dec *d = NULL;
    if (wa_media_dec_new(KEY, t, hashes ? want : NULL, hashes ? want : NULL, CAP, &d) != 0) abort();
    uint8_t *out = malloc(chunk + WA_MEDIA_OUT_SLACK);
    if (!out) abort();
    size_t total = 0, got = 0;
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        rc = wa_media_dec_update(d, p + off, k, out, k + WA_MEDIA_OUT_SLACK, &got);
        if (rc == 0) total += got;
        if (total > CAP + WA_MEDIA_BLOCK) abort();
    }
    struct wa_media_result r;
    if (rc == 0) {
        uint8_t fin[WA_MEDIA_FINAL_MAX];
        rc = wa_media_dec_final(d, fin, sizeof(fin), &got, &r);
        if (rc == 0) {
            total += got;
            if (total != r.file_length || total > CAP || r.enc_length != n) abort();
        }
    }
    wa_media_dec_free(d);
    free(out);
    roundtrip(t, p, n < 4096 ? n : 4096);
    return 0;
}
