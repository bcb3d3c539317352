/* SPDX-License-Identifier: MIT */
/* test_media.c -- media crypto (src/wa/media.c) against tests/fixtures/media-vectors.json (made
 * by Baileys' own encryptedStream / getMediaKeys / encryptMediaRetryRequest through
 * tools/gen-media-vectors.js): key expansion per type, every enc file byte for byte (fed in
 * one piece and in odd chunk sizes), its hashes, MAC and upload token, decryption back to the
 * plaintext, and the rejections (MAC, hashes, truncation, padding, extension, caps); the media
 * retry payloads both ways, and its stanzas (wa/mediaretry: the receipt byte for byte as Baileys
 * encodes it, opened on the phone's side; the notification built and parsed) and the media_conn
 * iq (wa/mediaconn: the query, the answer as fakewa and WhatsApp give it, the caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/buf.h"
#include "core/fileio.h"
#include "wa/media.h"
#include "wa/jid.h"
#include "wa/mediaconn.h"
#include "wa/mediaretry.h"
#include "wa/nodetext.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static cJSON *g_v;

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("WAGATE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/media-vectors.json",
             dir && *dir ? dir : WAGATE_SOURCE_DIR);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 4u << 20, &text, &len), 0);
    g_v = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(g_v);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_v);
    return 0;
}

static const char *js(const cJSON *o, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(it));
    return it->valuestring;
}

static size_t jn(const cJSON *o, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsNumber(it));
    return (size_t)it->valuedouble;
}

/* Hex member `name` of exactly n bytes into out. */
static void jb(const cJSON *o, const char *name, uint8_t *out, size_t n)
{
    size_t got = 0;
    uint8_t *p = vectors_hexdup(js(o, name), &got);
    assert_non_null(p);
    assert_int_equal(got, n);
    memcpy(out, p, n);
    free(p);
}

static uint8_t *jdup(const cJSON *o, const char *name, size_t *n)
{
    uint8_t *p = vectors_hexdup(js(o, name), n);
    assert_non_null(p);
    return p;
}

/* The generator's plaintext pattern. */
static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(seed + i * 31 + (i >> 8));
    return b;
}

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned l = 0;
    assert_int_equal(EVP_Digest(p, n, out, &l, EVP_sha256(), NULL), 1);
}

static enum wa_media_type vtype(const cJSON *v)
{
    enum wa_media_type t;
    assert_int_equal(wa_media_type_parse(js(v, "type"), &t), 0);
    return t;
}

/* Encrypt in chunks of `chunk` bytes (0 = all at once): the whole enc file (caller frees). */
static uint8_t *encrypt_all(const uint8_t *key, enum wa_media_type t, const uint8_t *p, size_t n,
                            size_t chunk, size_t *outn, struct wa_media_result *res)
{
    struct wa_media_enc *e = NULL;
    assert_int_equal(wa_media_enc_new(key, t, 0, &e), 0);
    uint8_t *out = malloc(n + WA_MEDIA_OUT_SLACK + WA_MEDIA_FINAL_MAX);
    size_t pos = 0, got = 0;
    if (!chunk) chunk = n ? n : 1;
    for (size_t off = 0; off < n;) {
        size_t k = n - off < chunk ? n - off : chunk;
        assert_int_equal(wa_media_enc_update(e, p + off, k, out + pos, k + WA_MEDIA_BLOCK, &got),
                         0);
        pos += got;
        off += k;
    }
    assert_int_equal(wa_media_enc_final(e, out + pos, WA_MEDIA_FINAL_MAX, &got, res), 0);
    pos += got;
    wa_media_enc_free(e);
    *outn = pos;
    return out;
}

/* Decrypt in chunks; returns final()'s (or the first update's) result, plaintext in *plain. */
static int decrypt_all(const uint8_t *key, enum wa_media_type t, const uint8_t *want,
                       const uint8_t *want_enc, uint64_t cap, const uint8_t *c, size_t n,
                       size_t chunk, uint8_t **plain, size_t *plainn, struct wa_media_result *res)
{
    struct wa_media_dec *d = NULL;
    assert_int_equal(wa_media_dec_new(key, t, want, want_enc, cap, &d), 0);
    uint8_t *out = malloc(n + WA_MEDIA_OUT_SLACK + WA_MEDIA_FINAL_MAX);
    size_t pos = 0, got = 0;
    int rc = 0;
    if (!chunk) chunk = n ? n : 1;
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = n - off < chunk ? n - off : chunk;
        rc = wa_media_dec_update(d, c + off, k, out + pos, k + WA_MEDIA_OUT_SLACK, &got);
        if (rc == 0) pos += got;
        off += k;
    }
    if (rc == 0) rc = wa_media_dec_final(d, out + pos, WA_MEDIA_FINAL_MAX, &got, res);
    if (rc == 0) pos += got;
    wa_media_dec_free(d);
    *plain = out;
    *plainn = pos;
    return rc;
}

static void test_keys(void **state)
{
    (void)state;
    uint8_t mk[32];
    jb(g_v, "kdf_media_key", mk, 32);
    const cJSON *it;
    int n = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(g_v, "keys"))
    {
        enum wa_media_type t = vtype(it);
        assert_string_equal(wa_media_hkdf_info(t), js(it, "info"));
        struct wa_media_keys k;
        uint8_t iv[16], ck[32], mac[32];
        jb(it, "iv", iv, 16);
        jb(it, "cipher_key", ck, 32);
        jb(it, "mac_key", mac, 32);
        assert_int_equal(wa_media_derive(mk, t, &k), 0);
        assert_memory_equal(k.iv, iv, 16);
        assert_memory_equal(k.cipher_key, ck, 32);
        assert_memory_equal(k.mac_key, mac, 32);
        n++;
    }
    assert_true(n >= 14);
    enum wa_media_type t;
    assert_int_equal(wa_media_type_parse("nope", &t), -ENOENT);
    struct wa_media_keys k;
    assert_int_equal(wa_media_derive(mk, WA_MEDIA_TYPE_COUNT, &k), -EINVAL);
    assert_string_equal(wa_media_upload_path(WA_MEDIA_STICKER), "/mms/image");
    assert_null(wa_media_upload_path(WA_MEDIA_APP_STATE));
}

static const size_t CHUNKS[] = {0, 1, 7, 10, 11, 16, 17, 4093};

static void test_files_encrypt(void **state)
{
    (void)state;
    const cJSON *v;
    int n = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(g_v, "files"))
    {
        enum wa_media_type t = vtype(v);
        uint8_t mk[32], fsha[32], fesha[32], mac[10];
        jb(v, "media_key", mk, 32);
        jb(v, "file_sha256", fsha, 32);
        jb(v, "file_enc_sha256", fesha, 32);
        jb(v, "mac", mac, 10);
        size_t len = jn(v, "plain_len"), enc_len = jn(v, "enc_len");
        uint8_t *plain = pattern(len, (unsigned)jn(v, "plain_seed"));
        size_t wantn = 0;
        uint8_t *want = cJSON_GetObjectItemCaseSensitive(v, "enc") ? jdup(v, "enc", &wantn) : NULL;
        for (size_t ci = 0; ci < sizeof(CHUNKS) / sizeof(CHUNKS[0]); ci++) {
            struct wa_media_result r;
            size_t cn = 0;
            uint8_t *c = encrypt_all(mk, t, plain, len, CHUNKS[ci], &cn, &r);
            assert_int_equal(cn, enc_len);
            assert_int_equal(r.enc_length, enc_len);
            assert_int_equal(r.file_length, jn(v, "file_length"));
            assert_memory_equal(r.file_sha256, fsha, 32);
            assert_memory_equal(r.file_enc_sha256, fesha, 32);
            assert_memory_equal(r.mac, mac, 10);
            uint8_t h[32];
            sha256(c, cn, h);
            assert_memory_equal(h, fesha, 32); /* byte for byte, also for the big ones */
            if (want) assert_memory_equal(c, want, wantn);
            char tok[44];
            wa_media_upload_token(r.file_enc_sha256, tok);
            assert_string_equal(tok, js(v, "upload_token"));
            free(c);
        }
        free(want);
        free(plain);
        n++;
    }
    assert_true(n >= 10);
}

static void test_files_decrypt(void **state)
{
    (void)state;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(g_v, "files"))
    {
        enum wa_media_type t = vtype(v);
        uint8_t mk[32], fsha[32], fesha[32];
        jb(v, "media_key", mk, 32);
        jb(v, "file_sha256", fsha, 32);
        jb(v, "file_enc_sha256", fesha, 32);
        size_t len = jn(v, "plain_len");
        uint8_t *plain = pattern(len, (unsigned)jn(v, "plain_seed"));
        struct wa_media_result r;
        size_t cn = 0;
        uint8_t *c = cJSON_GetObjectItemCaseSensitive(v, "enc")
                         ? jdup(v, "enc", &cn)
                         : encrypt_all(mk, t, plain, len, 0, &cn, &r); /* == Baileys' (hash) */
        for (size_t ci = 0; ci < sizeof(CHUNKS) / sizeof(CHUNKS[0]); ci++) {
            uint8_t *p = NULL;
            size_t pn = 0;
            assert_int_equal(decrypt_all(mk, t, fsha, fesha, 0, c, cn, CHUNKS[ci], &p, &pn, &r), 0);
            assert_int_equal(pn, len);
            if (len) assert_memory_equal(p, plain, len);
            assert_int_equal(r.file_length, len);
            assert_memory_equal(r.file_sha256, fsha, 32);
            free(p);
        }
        free(c);
        free(plain);
    }
}

/* The first small vector of at least `min` plaintext bytes. */
static const cJSON *small_vector(size_t min)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(g_v, "files"))
    {
        if (cJSON_GetObjectItemCaseSensitive(v, "enc") && jn(v, "plain_len") >= min) return v;
    }
    fail_msg("no small vector of %zu bytes", min);
    return NULL;
}

static int try_decrypt(const cJSON *v, const uint8_t *c, size_t cn, bool hashes, uint64_t cap)
{
    uint8_t mk[32], fsha[32], fesha[32];
    jb(v, "media_key", mk, 32);
    jb(v, "file_sha256", fsha, 32);
    jb(v, "file_enc_sha256", fesha, 32);
    uint8_t *p = NULL;
    size_t pn = 0;
    struct wa_media_result r;
    int rc = decrypt_all(mk, vtype(v), hashes ? fsha : NULL, hashes ? fesha : NULL, cap, c, cn, 5,
                         &p, &pn, &r);
    free(p);
    return rc;
}

static void test_tamper(void **state)
{
    (void)state;
    const cJSON *v = small_vector(1000);
    size_t cn = 0;
    uint8_t *c = jdup(v, "enc", &cn);
    assert_int_equal(try_decrypt(v, c, cn, true, 0), 0);
    /* Every single-bit flip anywhere (ciphertext, last block, MAC) is refused, with or
     * without the expected hashes (the MAC alone catches it). */
    for (size_t i = 0; i < cn; i += (i < cn - 40 ? 97 : 1)) {
        c[i] ^= 0x04;
        assert_int_equal(try_decrypt(v, c, cn, true, 0), -EBADMSG);
        assert_int_equal(try_decrypt(v, c, cn, false, 0), -EBADMSG);
        c[i] ^= 0x04;
    }
    /* Truncation: any length short of the whole file. */
    for (size_t n = 0; n < cn; n += (n < 64 || n > cn - 64 ? 1 : 61))
        assert_int_equal(try_decrypt(v, c, n, false, 0), -EBADMSG);
    /* Extension by a byte or a block. */
    uint8_t *x = malloc(cn + 16);
    memcpy(x, c, cn);
    memset(x + cn, 0, 16);
    assert_int_equal(try_decrypt(v, x, cn + 1, false, 0), -EBADMSG);
    assert_int_equal(try_decrypt(v, x, cn + 16, false, 0), -EBADMSG);
    free(x);
    /* A wrong expected hash with an authentic file. */
    uint8_t mk[32], fsha[32], fesha[32];
    jb(v, "media_key", mk, 32);
    jb(v, "file_sha256", fsha, 32);
    jb(v, "file_enc_sha256", fesha, 32);
    uint8_t *p = NULL;
    size_t pn = 0;
    struct wa_media_result r;
    fsha[31] ^= 1;
    assert_int_equal(decrypt_all(mk, vtype(v), fsha, fesha, 0, c, cn, 0, &p, &pn, &r), -EBADMSG);
    free(p);
    fsha[31] ^= 1;
    fesha[0] ^= 1;
    assert_int_equal(decrypt_all(mk, vtype(v), fsha, fesha, 0, c, cn, 0, &p, &pn, &r), -EBADMSG);
    free(p);
    /* The wrong key, or the right key with another type's info string. */
    mk[0] ^= 1;
    assert_int_equal(decrypt_all(mk, vtype(v), NULL, NULL, 0, c, cn, 0, &p, &pn, &r), -EBADMSG);
    free(p);
    mk[0] ^= 1;
    assert_int_equal(decrypt_all(mk, WA_MEDIA_VIDEO, NULL, NULL, 0, c, cn, 0, &p, &pn, &r),
                     -EBADMSG);
    free(p);
    free(c);
}

/* A file whose MAC is right but whose padding is not: encrypt raw blocks ourselves. */
static void test_bad_padding(void **state)
{
    (void)state;
    uint8_t mk[32];
    memset(mk, 0x5a, sizeof(mk));
    struct wa_media_keys k;
    assert_int_equal(wa_media_derive(mk, WA_MEDIA_DOCUMENT, &k), 0);
    uint8_t plain[32], c[32 + 10];
    memset(plain, 0x33, sizeof(plain)); /* last byte 0x33: not a valid PKCS#7 pad */
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int got = 0;
    assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, k.cipher_key, k.iv), 1);
    EVP_CIPHER_CTX_set_padding(x, 0);
    assert_int_equal(EVP_EncryptUpdate(x, c, &got, plain, 32), 1);
    assert_int_equal(got, 32);
    EVP_CIPHER_CTX_free(x);
    uint8_t macin[16 + 32], full[32];
    memcpy(macin, k.iv, 16);
    memcpy(macin + 16, c, 32);
    unsigned ml = 0;
    assert_non_null(HMAC(EVP_sha256(), k.mac_key, 32, macin, sizeof(macin), full, &ml));
    memcpy(c + 32, full, 10);
    uint8_t *p = NULL;
    size_t pn = 0;
    struct wa_media_result r;
    assert_int_equal(
        decrypt_all(mk, WA_MEDIA_DOCUMENT, NULL, NULL, 0, c, sizeof(c), 3, &p, &pn, &r), -EBADMSG);
    free(p);
}

static void test_caps(void **state)
{
    (void)state;
    uint8_t mk[32] = {1};
    uint8_t buf[4096 + WA_MEDIA_OUT_SLACK], out[sizeof(buf) + WA_MEDIA_OUT_SLACK];
    memset(buf, 7, sizeof(buf));
    struct wa_media_enc *e = NULL;
    size_t got = 0;
    /* Encrypt: 4096 plaintext bytes with a 4000-byte cap. */
    assert_int_equal(wa_media_enc_new(mk, WA_MEDIA_IMAGE, 4000, &e), 0);
    assert_int_equal(wa_media_enc_update(e, buf, 4000, out, sizeof(out), &got), 0);
    assert_int_equal(wa_media_enc_update(e, buf, 1, out, sizeof(out), &got), -EMSGSIZE);
    assert_int_equal(wa_media_enc_update(e, buf, 1, out, sizeof(out), &got), -EINVAL); /* dead */
    wa_media_enc_free(e);
    /* A too-small output buffer is refused, not overrun. */
    assert_int_equal(wa_media_enc_new(mk, WA_MEDIA_IMAGE, 0, &e), 0);
    assert_int_equal(wa_media_enc_update(e, buf, 100, out, 100, &got), -EINVAL);
    wa_media_enc_free(e);
    /* Decrypt: a file of 4096 plaintext bytes against a 1000-byte cap fails as the bytes
     * arrive, long before the end; under a 4096 cap it is fine. */
    struct wa_media_result r;
    size_t cn = 0;
    uint8_t *c = encrypt_all(mk, WA_MEDIA_STICKER, buf, 4096, 0, &cn, &r);
    struct wa_media_dec *d = NULL;
    assert_int_equal(wa_media_dec_new(mk, WA_MEDIA_STICKER, NULL, NULL, 1000, &d), 0);
    int rc = 0;
    size_t fed = 0;
    while (rc == 0 && fed < cn) {
        rc = wa_media_dec_update(d, c + fed, 512, out, sizeof(out), &got);
        fed += 512;
    }
    assert_int_equal(rc, -EMSGSIZE);
    assert_true(fed <= 2048);
    wa_media_dec_free(d);
    uint8_t *p = NULL;
    size_t pn = 0;
    assert_int_equal(decrypt_all(mk, WA_MEDIA_STICKER, NULL, NULL, 4096, c, cn, 100, &p, &pn, &r),
                     0);
    free(p);
    assert_int_equal(decrypt_all(mk, WA_MEDIA_STICKER, NULL, NULL, 4095, c, cn, 0, &p, &pn, &r),
                     -EMSGSIZE);
    free(p);
    /* The sticker default cap (1 MiB) applies when a larger cap is asked for. */
    assert_int_equal(wa_media_cap(WA_MEDIA_STICKER), WA_MEDIA_CAP_STICKER);
    free(c);
}

static void test_retry(void **state)
{
    (void)state;
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(g_v, "retry");
    assert_non_null(rv);
    uint8_t mk[32], rk[32], iv[12], niv[12], key[32];
    jb(rv, "media_key", mk, 32);
    jb(rv, "retry_key", rk, 32);
    jb(rv, "receipt_iv", iv, 12);
    jb(rv, "notification_iv", niv, 12);
    assert_int_equal(wa_media_retry_key(mk, key), 0);
    assert_memory_equal(key, rk, 32);
    const char *id = js(rv, "msg_id");
    size_t pn = 0, en = 0, got = 0;
    uint8_t *plain = jdup(rv, "receipt_plain", &pn);
    uint8_t *encp = jdup(rv, "receipt_enc_p", &en);
    uint8_t out[512];
    assert_int_equal(wa_media_retry_seal(mk, id, iv, plain, pn, out, sizeof(out), &got), 0);
    assert_int_equal(got, en);
    assert_memory_equal(out, encp, en); /* Baileys' receipt payload, byte for byte */
    free(plain);
    free(encp);
    plain = jdup(rv, "notification_plain", &pn);
    encp = jdup(rv, "notification_enc_p", &en);
    assert_int_equal(wa_media_retry_open(mk, id, niv, encp, en, out, sizeof(out), &got), 0);
    assert_int_equal(got, pn);
    assert_memory_equal(out, plain, pn);
    encp[en - 1] ^= 1; /* tag */
    assert_int_equal(wa_media_retry_open(mk, id, niv, encp, en, out, sizeof(out), &got), -EBADMSG);
    encp[en - 1] ^= 1;
    assert_int_equal(wa_media_retry_open(mk, "other-id", niv, encp, en, out, sizeof(out), &got),
                     -EBADMSG); /* the id is the AAD */
    assert_int_equal(wa_media_retry_open(mk, id, niv, encp, 15, out, sizeof(out), &got), -EBADMSG);
    free(plain);
    free(encp);
}

static struct wa_node *roundtrip_node(const struct wa_node *n, struct buf *enc)
{
    char err[160];
    buf_reset(enc);
    assert_int_equal(wa_node_encode(n, enc, err, sizeof err), 0);
    struct wa_node *back = NULL;
    assert_int_equal(wa_node_decode(enc->data, enc->len, NULL, &back, err, sizeof err), 0);
    return back;
}

static void test_retry_stanzas(void **state)
{
    (void)state;
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(g_v, "retry");
    uint8_t mk[32], iv[12], niv[12], out[512];
    jb(rv, "media_key", mk, 32);
    jb(rv, "receipt_iv", iv, 12);
    jb(rv, "notification_iv", niv, 12);
    const char *id = js(rv, "msg_id");
    size_t n = 0, wn = 0;
    /* The protobuf payloads, byte for byte as Baileys' protobufjs encodes them. */
    uint8_t *want = jdup(rv, "receipt_plain", &wn);
    assert_int_equal(wa_mretry_encode_receipt(id, out, sizeof(out), &n), 0);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    free(want);
    want = jdup(rv, "notification_plain", &wn);
    assert_int_equal(wa_mretry_encode_notification(id,
                                                   "/v/t62.7118-24/fresh.enc?ccb=11-4&oh=x&oe=y",
                                                   WA_MRETRY_SUCCESS, out, sizeof(out), &n),
                     0);
    assert_int_equal(n, wn);
    assert_memory_equal(out, want, n);
    free(want);
    assert_int_equal(wa_mretry_encode_receipt(id, out, 5, &n), -ENOBUFS);

    /* The receipt: encoded exactly as Baileys' encryptMediaRetryRequest + encodeBinaryNode. */
    struct wa_mretry_key k = {.from_me = false};
    snprintf(k.id, sizeof(k.id), "%s", id);
    snprintf(k.chat, sizeof(k.chat), "%s", js(rv, "chat_jid"));
    struct wa_node *rc = NULL;
    assert_int_equal(wa_mretry_request(mk, &k, js(rv, "own_jid"), iv, &rc), 0);
    struct buf enc;
    buf_init(&enc, 1 << 16);
    char err[160];
    assert_int_equal(wa_node_encode(rc, &enc, err, sizeof err), 0);
    want = jdup(rv, "receipt_node", &wn);
    assert_int_equal(enc.len, wn);
    assert_memory_equal(enc.data, want, wn);
    free(want);
    /* The phone opens it: the key, and the sealed stanza id matches. */
    struct wa_node *back = roundtrip_node(rc, &enc);
    struct wa_mretry_key got;
    assert_int_equal(wa_mretry_open_request(back, mk, &got), 0);
    assert_string_equal(got.id, id);
    assert_string_equal(got.chat, k.chat);
    assert_false(got.from_me);
    assert_string_equal(got.participant, "");
    uint8_t other[32];
    memcpy(other, mk, 32);
    other[5] ^= 1;
    assert_int_equal(wa_mretry_open_request(back, other, &got), -EBADMSG);
    assert_int_equal(wa_mretry_open_request(back, NULL, &got), 0); /* key only */
    wa_node_free(back);
    wa_node_free(rc);

    /* The notification: the same bytes as the phone's (Baileys' aesEncryptGCM) vector. */
    struct wa_node *nt = NULL;
    snprintf(k.participant, sizeof(k.participant), "15550003333@s.whatsapp.net");
    k.from_me = true;
    assert_int_equal(
        wa_mretry_notification(mk, &k, "15550001111:3@s.whatsapp.net", WA_MRETRY_SUCCESS,
                               "/v/t62.7118-24/fresh.enc?ccb=11-4&oh=x&oe=y", niv, &nt),
        0);
    size_t cl = 0;
    const uint8_t *ct =
        wa_node_content_bytes(wa_node_child(wa_node_child(nt, "encrypt"), "enc_p"), &cl);
    want = jdup(rv, "notification_enc_p", &wn);
    assert_int_equal(cl, wn);
    assert_memory_equal(ct, want, wn);
    free(want);
    back = roundtrip_node(nt, &enc);
    struct wa_mretry_answer a;
    assert_int_equal(wa_mretry_parse_notification(back, mk, &a), 0);
    assert_true(a.has_payload);
    assert_int_equal(a.result, WA_MRETRY_SUCCESS);
    assert_string_equal(a.direct_path, "/v/t62.7118-24/fresh.enc?ccb=11-4&oh=x&oe=y");
    assert_true(a.key.from_me);
    assert_string_equal(a.key.participant, "15550003333@s.whatsapp.net");
    assert_int_equal(wa_mretry_parse_notification(back, other, &a), -EBADMSG);
    wa_node_free(back);
    wa_node_free(nt);
    /* A phone that cannot find the message: <error code=2>. */
    assert_int_equal(wa_mretry_notification(NULL, &k, "15550001111:3@s.whatsapp.net",
                                            WA_MRETRY_NOT_FOUND, NULL, NULL, &nt),
                     0);
    back = roundtrip_node(nt, &enc);
    assert_int_equal(wa_mretry_parse_notification(back, mk, &a), 0);
    assert_int_equal(a.error_code, 2);
    assert_false(a.has_payload);
    wa_node_free(back);
    wa_node_free(nt);
    /* Not a mediaretry stanza. */
    struct wa_node *x = wa_node_new("notification");
    assert_int_equal(wa_node_set_attr(x, "type", "encrypt"), 0);
    assert_int_equal(wa_mretry_parse_notification(x, mk, &a), -EPROTO);
    wa_node_free(x);
    buf_free(&enc);
}

static struct wa_node *text_node(const char *t)
{
    struct wa_node *n = NULL;
    char err[160];
    assert_int_equal(wa_nodetext_parse(t, strlen(t), &n, err, sizeof err), 0);
    return n;
}

static void test_media_conn(void **state)
{
    (void)state;
    struct wa_node *q = wa_media_conn_build("mc1");
    assert_non_null(q);
    assert_string_equal(wa_node_attr(q, "xmlns"), "w:m");
    assert_string_equal(wa_node_attr(q, "type"), "set");
    assert_string_equal(wa_node_attr(q, "id"), "mc1");
    struct wa_jid to;
    assert_int_equal(wa_node_attr_jid(q, "to", &to), 0);
    assert_non_null(wa_node_child(q, "media_conn"));
    wa_node_free(q);
    assert_null(wa_media_conn_build(""));

    struct wa_media_conn mc;
    struct wa_node *r = text_node(
        "<iq from='s.whatsapp.net' id='mc1' type='result'><media_conn auth='AbC+/=' ttl='300' "
        "auth_ttl='21600' max_buckets='12'><host hostname='mmg.whatsapp.net' "
        "maxContentLengthBytes='104857600'/><host hostname='bad/host'/>"
        "<host hostname='127.0.0.1:4443'/></media_conn></iq>");
    assert_int_equal(wa_media_conn_parse(r, &mc), 0);
    assert_string_equal(mc.auth, "AbC+/=");
    assert_int_equal(mc.ttl, 300);
    assert_int_equal(mc.auth_ttl, 21600);
    assert_int_equal(mc.max_buckets, 12);
    assert_int_equal(mc.nhosts, 2); /* the unusable one is skipped */
    assert_string_equal(mc.hosts[0].hostname, "mmg.whatsapp.net");
    assert_int_equal(mc.hosts[0].max_content_length, 104857600);
    assert_string_equal(mc.hosts[1].hostname, "127.0.0.1:4443");
    mc.fetched_ms = 1000;
    assert_true(wa_media_conn_fresh(&mc, 1000 + 299999));
    assert_false(wa_media_conn_fresh(&mc, 1000 + 300000));
    wa_node_free(r);
    static const char *const bad[] = {
        "<iq id='x' type='result'/>",
        "<iq id='x' type='error'><media_conn auth='a' ttl='1'><host "
        "hostname='h'/></media_conn></iq>",
        "<iq id='x' type='result'><media_conn ttl='1'><host hostname='h'/></media_conn></iq>",
        "<iq id='x' type='result'><media_conn auth='a' ttl='x'><host "
        "hostname='h'/></media_conn></iq>",
        "<iq id='x' type='result'><media_conn auth='a' ttl='0'><host "
        "hostname='h'/></media_conn></iq>",
        "<iq id='x' type='result'><media_conn auth='a' ttl='5'/></iq>",
        "<iq id='x' type='result'><media_conn auth='a' ttl='5'><host hostname='a "
        "b'/></media_conn></iq>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = text_node(bad[i]);
        assert_int_equal(wa_media_conn_parse(r, &mc), -EPROTO);
        wa_node_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_files_encrypt),
        cmocka_unit_test(test_files_decrypt), cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_bad_padding),   cmocka_unit_test(test_caps),
        cmocka_unit_test(test_retry),         cmocka_unit_test(test_retry_stanzas),
        cmocka_unit_test(test_media_conn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
