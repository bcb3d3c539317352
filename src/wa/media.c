/* SPDX-License-Identifier: MIT */
/* media.c -- media key expansion, streaming AES-256-CBC + truncated HMAC, media retry GCM. */
#include "wa/media.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

struct type_info {
    const char *name;
    const char *info; /* HKDF info */
    const char *path; /* upload path, NULL = none */
    uint64_t cap;
};

static const struct type_info TYPES[WA_MEDIA_TYPE_COUNT] = {
    [WA_MEDIA_IMAGE] = {"image", "WhatsApp Image Keys", "/mms/image", WA_MEDIA_CAP_IMAGE},
    [WA_MEDIA_VIDEO] = {"video", "WhatsApp Video Keys", "/mms/video", WA_MEDIA_CAP_VIDEO},
    [WA_MEDIA_AUDIO] = {"audio", "WhatsApp Audio Keys", "/mms/audio", WA_MEDIA_CAP_AUDIO},
    [WA_MEDIA_DOCUMENT] = {"document", "WhatsApp Document Keys", "/mms/document",
                           WA_MEDIA_CAP_DOCUMENT},
    [WA_MEDIA_STICKER] = {"sticker", "WhatsApp Image Keys", "/mms/image", WA_MEDIA_CAP_STICKER},
    [WA_MEDIA_THUMB_LINK] = {"thumbnail-link", "WhatsApp Link Thumbnail Keys", "/mms/image",
                             WA_MEDIA_CAP_THUMB},
    [WA_MEDIA_THUMB_IMAGE] = {"thumbnail-image", "WhatsApp Image Thumbnail Keys", NULL,
                              WA_MEDIA_CAP_THUMB},
    [WA_MEDIA_THUMB_VIDEO] = {"thumbnail-video", "WhatsApp Video Thumbnail Keys", NULL,
                              WA_MEDIA_CAP_THUMB},
    [WA_MEDIA_THUMB_DOC] = {"thumbnail-document", "WhatsApp Document Thumbnail Keys", NULL,
                            WA_MEDIA_CAP_THUMB},
    [WA_MEDIA_HISTORY] = {"md-msg-hist", "WhatsApp History Keys", "/mms/md-app-state",
                          WA_MEDIA_CAP_HISTORY},
    [WA_MEDIA_APP_STATE] = {"md-app-state", "WhatsApp App State Keys", NULL, WA_MEDIA_CAP_STATE},
};

/* Baileys' other names for the same keys. */
static const struct {
    const char *name;
    enum wa_media_type t;
} ALIASES[] = {
    {"ptt", WA_MEDIA_AUDIO},
    {"gif", WA_MEDIA_VIDEO},
    {"ptv", WA_MEDIA_VIDEO},
};

static bool type_ok(enum wa_media_type t)
{
    return (unsigned)t < WA_MEDIA_TYPE_COUNT;
}

int wa_media_type_parse(const char *name, enum wa_media_type *out)
{
    if (!name) return -ENOENT;
    for (int i = 0; i < WA_MEDIA_TYPE_COUNT; i++)
        if (strcmp(TYPES[i].name, name) == 0) {
            *out = (enum wa_media_type)i;
            return 0;
        }
    for (size_t i = 0; i < sizeof(ALIASES) / sizeof(ALIASES[0]); i++)
        if (strcmp(ALIASES[i].name, name) == 0) {
            *out = ALIASES[i].t;
            return 0;
        }
    return -ENOENT;
}

const char *wa_media_type_name(enum wa_media_type t)
{
    return type_ok(t) ? TYPES[t].name : "";
}

const char *wa_media_hkdf_info(enum wa_media_type t)
{
    return type_ok(t) ? TYPES[t].info : NULL;
}

const char *wa_media_upload_path(enum wa_media_type t)
{
    return type_ok(t) ? TYPES[t].path : NULL;
}

uint64_t wa_media_cap(enum wa_media_type t)
{
    return type_ok(t) ? TYPES[t].cap : 0;
}

static uint64_t pick_cap(enum wa_media_type t, uint64_t cap)
{
    uint64_t def = wa_media_cap(t);
    return cap && cap < def ? cap : def;
}

/* HKDF-SHA256 with no salt (RFC 5869: a hash-length block of zeros). */
static int hkdf(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!c) return -EIO;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(c, out, n, p) == 1 ? 0 : -EIO;
    EVP_KDF_CTX_free(c);
    return rc;
}

int wa_media_derive(const uint8_t media_key[WA_MEDIA_KEY_LEN], enum wa_media_type t,
                    struct wa_media_keys *out)
{
    if (!media_key || !out || !type_ok(t)) return -EINVAL;
    uint8_t x[WA_MEDIA_EXPANDED];
    int rc = hkdf(media_key, WA_MEDIA_KEY_LEN, TYPES[t].info, x, sizeof(x));
    if (rc == 0) {
        memcpy(out->iv, x, 16);
        memcpy(out->cipher_key, x + 16, 32);
        memcpy(out->mac_key, x + 48, 32);
        memcpy(out->ref_key, x + 80, 32);
    }
    OPENSSL_cleanse(x, sizeof(x));
    return rc;
}

/* The state both directions share: AES, HMAC over IV || ciphertext, the two hashes. */
struct mstate {
    EVP_CIPHER_CTX *aes;
    EVP_MAC_CTX *hmac;
    EVP_MD_CTX *sha_plain;
    EVP_MD_CTX *sha_enc;
    uint64_t cap;
    uint64_t plain_len;
    uint64_t cipher_len; /* ciphertext bytes (MAC excluded) */
    bool dead;
};

static void mstate_free(struct mstate *m)
{
    EVP_CIPHER_CTX_free(m->aes);
    EVP_MAC_CTX_free(m->hmac);
    EVP_MD_CTX_free(m->sha_plain);
    EVP_MD_CTX_free(m->sha_enc);
}

static int mstate_init(struct mstate *m, const uint8_t *media_key, enum wa_media_type t,
                       uint64_t cap, bool enc)
{
    struct wa_media_keys k;
    int rc = wa_media_derive(media_key, t, &k);
    if (rc < 0) return rc;
    m->cap = pick_cap(t, cap);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    m->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    m->aes = EVP_CIPHER_CTX_new();
    m->sha_plain = EVP_MD_CTX_new();
    m->sha_enc = EVP_MD_CTX_new();
    rc = -ENOMEM;
    if (m->hmac && m->aes && m->sha_plain && m->sha_enc) {
        OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        bool ok = EVP_MAC_init(m->hmac, k.mac_key, sizeof(k.mac_key), p) == 1 &&
                  EVP_MAC_update(m->hmac, k.iv, sizeof(k.iv)) == 1 &&
                  EVP_CipherInit_ex(m->aes, EVP_aes_256_cbc(), NULL, k.cipher_key, k.iv,
                                    enc ? 1 : 0) == 1 &&
                  EVP_DigestInit_ex(m->sha_plain, EVP_sha256(), NULL) == 1 &&
                  EVP_DigestInit_ex(m->sha_enc, EVP_sha256(), NULL) == 1;
        rc = ok ? 0 : -EIO;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/* The truncated MAC of everything fed to the HMAC so far. */
static int mac_final(struct mstate *m, uint8_t out[WA_MEDIA_MAC_LEN])
{
    uint8_t full[32];
    size_t n = 0;
    if (EVP_MAC_final(m->hmac, full, &n, sizeof(full)) != 1 || n != sizeof(full)) return -EIO;
    memcpy(out, full, WA_MEDIA_MAC_LEN);
    return 0;
}

static int fail(struct mstate *m, int rc)
{
    m->dead = true;
    return rc;
}

/* ---- encryption ---- */

struct wa_media_enc {
    struct mstate m;
};

int wa_media_enc_new(const uint8_t media_key[WA_MEDIA_KEY_LEN], enum wa_media_type t, uint64_t cap,
                     struct wa_media_enc **out)
{
    if (!media_key || !out || !type_ok(t)) return -EINVAL;
    struct wa_media_enc *e = calloc(1, sizeof(*e));
    if (!e) return -ENOMEM;
    int rc = mstate_init(&e->m, media_key, t, cap, true);
    if (rc < 0) {
        wa_media_enc_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* Ciphertext produced: HMAC and the enc hash see it. */
static int enc_emit(struct mstate *m, const uint8_t *c, size_t n)
{
    if (n == 0) return 0;
    m->cipher_len += n;
    if (EVP_MAC_update(m->hmac, c, n) != 1 || EVP_DigestUpdate(m->sha_enc, c, n) != 1) return -EIO;
    return 0;
}

int wa_media_enc_update(struct wa_media_enc *e, const void *in, size_t n, uint8_t *out,
                        size_t outcap, size_t *outlen)
{
    if (!e || (!in && n) || !out || !outlen || e->m.dead) return -EINVAL;
    *outlen = 0;
    if (n == 0) return 0;
    if (n > INT32_MAX - WA_MEDIA_BLOCK || outcap < n + WA_MEDIA_BLOCK) return -EINVAL;
    if (n > e->m.cap - e->m.plain_len) return fail(&e->m, -EMSGSIZE);
    int got = 0;
    if (EVP_DigestUpdate(e->m.sha_plain, in, n) != 1 ||
        EVP_EncryptUpdate(e->m.aes, out, &got, in, (int)n) != 1)
        return fail(&e->m, -EIO);
    e->m.plain_len += n;
    int rc = enc_emit(&e->m, out, (size_t)got);
    if (rc < 0) return fail(&e->m, rc);
    *outlen = (size_t)got;
    return 0;
}

int wa_media_enc_final(struct wa_media_enc *e, uint8_t *out, size_t outcap, size_t *outlen,
                       struct wa_media_result *res)
{
    if (!e || !out || !outlen || !res || e->m.dead || outcap < WA_MEDIA_FINAL_MAX) return -EINVAL;
    int got = 0;
    unsigned hl = 0;
    if (EVP_EncryptFinal_ex(e->m.aes, out, &got) != 1) return fail(&e->m, -EIO);
    int rc = enc_emit(&e->m, out, (size_t)got);
    if (rc == 0) rc = mac_final(&e->m, res->mac);
    if (rc < 0) return fail(&e->m, rc);
    memcpy(out + got, res->mac, WA_MEDIA_MAC_LEN);
    if (EVP_DigestUpdate(e->m.sha_enc, res->mac, WA_MEDIA_MAC_LEN) != 1 ||
        EVP_DigestFinal_ex(e->m.sha_enc, res->file_enc_sha256, &hl) != 1 ||
        EVP_DigestFinal_ex(e->m.sha_plain, res->file_sha256, &hl) != 1)
        return fail(&e->m, -EIO);
    res->file_length = e->m.plain_len;
    res->enc_length = e->m.cipher_len + WA_MEDIA_MAC_LEN;
    *outlen = (size_t)got + WA_MEDIA_MAC_LEN;
    e->m.dead = true; /* finished: no more input */
    return 0;
}

void wa_media_enc_free(struct wa_media_enc *e)
{
    if (!e) return;
    mstate_free(&e->m);
    free(e);
}

/* ---- decryption ---- */

struct wa_media_dec {
    struct mstate m;
    uint8_t tail[WA_MEDIA_MAC_LEN]; /* the last bytes seen: the MAC once the input ends */
    size_t tail_len;
    bool check_plain, check_enc;
    uint8_t want_plain[WA_MEDIA_SHA256_LEN], want_enc[WA_MEDIA_SHA256_LEN];
};

int wa_media_dec_new(const uint8_t media_key[WA_MEDIA_KEY_LEN], enum wa_media_type t,
                     const uint8_t *want_sha256, const uint8_t *want_enc_sha256, uint64_t cap,
                     struct wa_media_dec **out)
{
    if (!media_key || !out || !type_ok(t)) return -EINVAL;
    struct wa_media_dec *d = calloc(1, sizeof(*d));
    if (!d) return -ENOMEM;
    int rc = mstate_init(&d->m, media_key, t, cap, false);
    if (rc < 0) {
        wa_media_dec_free(d);
        return rc;
    }
    if ((d->check_plain = want_sha256 != NULL)) memcpy(d->want_plain, want_sha256, 32);
    if ((d->check_enc = want_enc_sha256 != NULL)) memcpy(d->want_enc, want_enc_sha256, 32);
    *out = d;
    return 0;
}

/* Decrypt ciphertext bytes known not to be part of the MAC. */
static int dec_cipher(struct wa_media_dec *d, const uint8_t *c, size_t n, uint8_t *out, size_t *pos)
{
    if (n == 0) return 0;
    /* Ciphertext is at most the plaintext cap rounded up to a block, plus one padding block. */
    if (d->m.cipher_len + n > d->m.cap + 2 * WA_MEDIA_BLOCK) return -EMSGSIZE;
    int got = 0;
    if (EVP_MAC_update(d->m.hmac, c, n) != 1 || EVP_DigestUpdate(d->m.sha_enc, c, n) != 1 ||
        EVP_DecryptUpdate(d->m.aes, out + *pos, &got, c, (int)n) != 1)
        return -EIO;
    if (got > 0 && EVP_DigestUpdate(d->m.sha_plain, out + *pos, (size_t)got) != 1) return -EIO;
    d->m.cipher_len += n;
    d->m.plain_len += (size_t)got;
    *pos += (size_t)got;
    return 0;
}

int wa_media_dec_update(struct wa_media_dec *d, const void *in, size_t n, uint8_t *out,
                        size_t outcap, size_t *outlen)
{
    if (!d || (!in && n) || !out || !outlen || d->m.dead) return -EINVAL;
    *outlen = 0;
    if (n == 0) return 0;
    if (n > INT32_MAX - WA_MEDIA_OUT_SLACK || outcap < n + WA_MEDIA_OUT_SLACK) return -EINVAL;
    const uint8_t *p = in;
    size_t total = d->tail_len + n;
    if (total <= WA_MEDIA_MAC_LEN) {
        memcpy(d->tail + d->tail_len, p, n);
        d->tail_len = total;
        return 0;
    }
    /* Release everything but the last MAC_LEN bytes: first from the tail, then from in. */
    size_t release = total - WA_MEDIA_MAC_LEN;
    size_t from_tail = release < d->tail_len ? release : d->tail_len;
    size_t from_in = release - from_tail;
    size_t pos = 0;
    int rc = dec_cipher(d, d->tail, from_tail, out, &pos);
    if (rc == 0) rc = dec_cipher(d, p, from_in, out, &pos);
    if (rc < 0) return fail(&d->m, rc);
    size_t keep_tail = d->tail_len - from_tail;
    memmove(d->tail, d->tail + from_tail, keep_tail);
    memcpy(d->tail + keep_tail, p + from_in, n - from_in);
    d->tail_len = keep_tail + (n - from_in);
    if (d->m.plain_len > d->m.cap + WA_MEDIA_BLOCK) return fail(&d->m, -EMSGSIZE);
    *outlen = pos;
    return 0;
}

int wa_media_dec_final(struct wa_media_dec *d, uint8_t *out, size_t outcap, size_t *outlen,
                       struct wa_media_result *res)
{
    if (!d || !out || !outlen || !res || d->m.dead || outcap < WA_MEDIA_FINAL_MAX) return -EINVAL;
    *outlen = 0;
    d->m.dead = true;
    if (d->tail_len != WA_MEDIA_MAC_LEN || d->m.cipher_len == 0 ||
        d->m.cipher_len % WA_MEDIA_BLOCK != 0)
        return -EBADMSG;
    int rc = mac_final(&d->m, res->mac);
    if (rc < 0) return rc;
    if (CRYPTO_memcmp(res->mac, d->tail, WA_MEDIA_MAC_LEN) != 0) return -EBADMSG;
    int got = 0;
    unsigned hl = 0;
    if (EVP_DecryptFinal_ex(d->m.aes, out, &got) != 1) return -EBADMSG; /* bad padding */
    d->m.plain_len += (size_t)got;
    if (d->m.plain_len > d->m.cap) return -EMSGSIZE;
    if ((got > 0 && EVP_DigestUpdate(d->m.sha_plain, out, (size_t)got) != 1) ||
        EVP_DigestUpdate(d->m.sha_enc, d->tail, WA_MEDIA_MAC_LEN) != 1 ||
        EVP_DigestFinal_ex(d->m.sha_enc, res->file_enc_sha256, &hl) != 1 ||
        EVP_DigestFinal_ex(d->m.sha_plain, res->file_sha256, &hl) != 1)
        return -EIO;
    if (d->check_enc && CRYPTO_memcmp(res->file_enc_sha256, d->want_enc, 32) != 0) return -EBADMSG;
    if (d->check_plain && CRYPTO_memcmp(res->file_sha256, d->want_plain, 32) != 0) return -EBADMSG;
    res->file_length = d->m.plain_len;
    res->enc_length = d->m.cipher_len + WA_MEDIA_MAC_LEN;
    *outlen = (size_t)got;
    return 0;
}

void wa_media_dec_free(struct wa_media_dec *d)
{
    if (!d) return;
    mstate_free(&d->m);
    OPENSSL_cleanse(d, sizeof(*d));
    free(d);
}

/* ---- media retry ---- */

int wa_media_retry_key(const uint8_t media_key[WA_MEDIA_KEY_LEN], uint8_t out[32])
{
    if (!media_key || !out) return -EINVAL;
    return hkdf(media_key, WA_MEDIA_KEY_LEN, "WhatsApp Media Retry Notification", out, 32);
}

static int retry_gcm(bool seal, const uint8_t *media_key, const char *msg_id, const uint8_t *iv,
                     const uint8_t *in, size_t n, uint8_t *out, size_t outcap, size_t *outlen)
{
    if (!media_key || !msg_id || !iv || (!in && n) || !out || !outlen || n > INT32_MAX)
        return -EINVAL;
    if (!seal && n < WA_MEDIA_RETRY_TAG) return -EBADMSG;
    size_t body = seal ? n : n - WA_MEDIA_RETRY_TAG;
    size_t need = seal ? n + WA_MEDIA_RETRY_TAG : body;
    if (outcap < need) return -EINVAL;
    uint8_t key[32];
    int rc = wa_media_retry_key(media_key, key);
    if (rc < 0) return rc;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int got = 0, fin = 0;
    size_t idlen = strlen(msg_id);
    rc = -EIO;
    if (c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, seal ? 1 : 0) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, WA_MEDIA_RETRY_IV, NULL) == 1 &&
        EVP_CipherInit_ex(c, NULL, NULL, key, iv, -1) == 1 &&
        (idlen == 0 || EVP_CipherUpdate(c, NULL, &got, (const uint8_t *)msg_id, (int)idlen) == 1) &&
        (body == 0 || EVP_CipherUpdate(c, out, &got, in, (int)body) == 1)) {
        if (body == 0) got = 0;
        if (seal) {
            if (EVP_CipherFinal_ex(c, out + got, &fin) == 1 &&
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WA_MEDIA_RETRY_TAG, out + got + fin) ==
                    1) {
                *outlen = (size_t)(got + fin) + WA_MEDIA_RETRY_TAG;
                rc = 0;
            }
        } else if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WA_MEDIA_RETRY_TAG,
                                       (void *)(in + body)) == 1) {
            rc = -EBADMSG;
            if (EVP_CipherFinal_ex(c, out + got, &fin) == 1) {
                *outlen = (size_t)(got + fin);
                rc = 0;
            }
        }
    }
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int wa_media_retry_seal(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
                        const uint8_t iv[WA_MEDIA_RETRY_IV], const uint8_t *in, size_t n,
                        uint8_t *out, size_t outcap, size_t *outlen)
{
    return retry_gcm(true, media_key, msg_id, iv, in, n, out, outcap, outlen);
}

int wa_media_retry_open(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
                        const uint8_t iv[WA_MEDIA_RETRY_IV], const uint8_t *in, size_t n,
                        uint8_t *out, size_t outcap, size_t *outlen)
{
    return retry_gcm(false, media_key, msg_id, iv, in, n, out, outcap, outlen);
}

void wa_media_upload_token(const uint8_t enc_sha256[WA_MEDIA_SHA256_LEN], char out[44])
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < WA_MEDIA_SHA256_LEN; i += 3) {
        uint32_t v = (uint32_t)enc_sha256[i] << 16;
        size_t left = WA_MEDIA_SHA256_LEN - i;
        if (left > 1) v |= (uint32_t)enc_sha256[i + 1] << 8;
        if (left > 2) v |= enc_sha256[i + 2];
        out[o++] = A[(v >> 18) & 63];
        out[o++] = A[(v >> 12) & 63];
        if (left > 1) out[o++] = A[(v >> 6) & 63];
        if (left > 2) out[o++] = A[v & 63];
    }
    out[o] = '\0';
}
