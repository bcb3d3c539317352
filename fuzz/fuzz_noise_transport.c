/* SPDX-License-Identifier: MIT */
/* fuzz_noise_transport.c -- Noise transport decryption and responder handshake parsing.
 *
 * Input byte 0 selects the mode:
 *   even: the rest is a sequence of BE16-length-prefixed frames decrypted with a fixed key
 *         (almost all fail authentication; failures must be sticky and clean);
 *   odd:  the rest is split (BE16 length prefix) into a clientHello and a clientFinish fed
 *         to a responder with fixed keys. */
#include "core/buf.h"
#include "wa/keys.h"
#include "wa/noise.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t take(const uint8_t **p, size_t *n, const uint8_t **out)
{
    if (*n < 2) {
        *out = *p;
        size_t r = *n;
        *n = 0;
        return r;
    }
    size_t l = ((size_t)(*p)[0] << 8) | (*p)[1];
    *p += 2;
    *n -= 2;
    if (l > *n) l = *n;
    *out = *p;
    *p += l;
    *n -= l;
    return l;
}

static void fuzz_transport(const uint8_t *p, size_t n)
{
    uint8_t k1[32], k2[32];
    memset(k1, 0x11, sizeof k1);
    memset(k2, 0x22, sizeof k2);
    struct wa_noise *s = wa_noise_new_transport(WA_NOISE_RESPONDER, k1, k2);
    struct wa_noise *c = wa_noise_new_transport(WA_NOISE_INITIATOR, k1, k2);
    if (!s || !c) abort();
    struct buf out, ct;
    buf_init(&out, 1 << 16);
    buf_init(&ct, 1 << 16);
    int prev = 0;
    while (n) {
        const uint8_t *f;
        size_t l = take(&p, &n, &f);
        /* Also a genuine frame from the client, to mix valid traffic in. */
        buf_reset(&ct);
        if (wa_noise_encrypt(c, f, l, &ct)) abort();
        int rc = wa_noise_decrypt(s, (l & 1) ? ct.data : f, (l & 1) ? ct.len : l, &out);
        if (prev < 0 && rc != prev) abort(); /* sticky */
        if (rc == 0 && (l & 1) && (out.len < l || memcmp(out.data + out.len - l, f, l))) abort();
        if (rc < 0) prev = rc;
        if (out.len > 32768) buf_reset(&out);
    }
    buf_free(&out);
    buf_free(&ct);
    wa_noise_free(s);
    wa_noise_free(c);
}

static void fuzz_responder(const uint8_t *p, size_t n)
{
    static const uint8_t sp[32] = {0xb1, 1, 2, 3}, ep[32] = {0xb0, 4, 5, 6};
    struct wa_keypair s;
    if (wa_keypair_from_private(&s, sp)) abort();
    struct wa_noise *r = wa_noise_new(WA_NOISE_RESPONDER, &s);
    if (!r || wa_noise_set_ephemeral(r, ep)) abort();
    const uint8_t *hello, *finish;
    size_t hl = take(&p, &n, &hello), fl = take(&p, &n, &finish);
    struct buf out, payload;
    uint8_t cs[32];
    buf_init(&out, 1 << 17);
    buf_init(&payload, 1 << 17);
    if (wa_noise_read_client_hello(r, hello, hl) == 0) {
        static const uint8_t cert[] = {0x0a, 0x00, 0x12, 0x00};
        /* A low-order client ephemeral makes the ee DH fail here (-EPROTO). */
        int rc = wa_noise_write_server_hello(r, cert, sizeof cert, &out);
        if (rc && rc != -EPROTO) abort();
        if (!rc && wa_noise_read_client_finish(r, finish, fl, cs, &payload) == 0) {
            if (!wa_noise_is_transport(r)) abort();
        }
    }
    buf_free(&out);
    buf_free(&payload);
    wa_noise_free(r);
    wa_keypair_wipe(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1)
        fuzz_responder(data + 1, size - 1);
    else
        fuzz_transport(data + 1, size - 1);
    return 0;
}
