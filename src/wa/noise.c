/* SPDX-License-Identifier: MIT */
/* noise.c -- Noise XX handshake state machine and AES-256-GCM transport (OpenSSL 3). */
#include "wa/noise.h"

#include "wa/cert.h"
#include "wa/frame.h"
#include "wa.pb-c.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HASHLEN 32

static const char protocol_name[HASHLEN] = "Noise_XX_25519_AESGCM_SHA256\0\0\0";

enum hs_state {
    HS_START,        /* nothing sent or received yet */
    HS_I_SENT_HELLO, /* initiator: client hello written */
    HS_I_GOT_SERVER, /* initiator: server hello verified */
    HS_R_GOT_HELLO,  /* responder: client hello read */
    HS_R_SENT_HELLO, /* responder: server hello written */
    HS_TRANSPORT,
    HS_FAILED,
};

struct wa_noise {
    enum wa_noise_role role;
    enum hs_state state;
    int err;
    uint8_t h[HASHLEN], ck[HASHLEN], k[32];
    uint64_t hs_counter; /* shared handshake nonce counter, reset by MixKey */
    struct wa_keypair s, e;
    bool e_set;
    uint8_t re[32], rs[32];
    bool rs_known;
    uint8_t send_key[32], recv_key[32];
    uint64_t send_ctr, recv_ctr;
    uint8_t root[32];
    uint64_t now; /* 0 = use time(NULL) */
    wa_noise_trace_fn trace;
    void *trace_ud;
    char last_error[160];
};

/* ---- small helpers ---- */

static void trace(struct wa_noise *n, const char *label, const uint8_t *p, size_t len)
{
    if (n->trace) n->trace(n->trace_ud, label, p, len);
}

static int fail(struct wa_noise *n, int rc, const char *msg)
{
    n->state = HS_FAILED;
    n->err = rc;
    snprintf(n->last_error, sizeof n->last_error, "%s", msg);
    return rc;
}

static void nonce(uint8_t iv[12], uint64_t ctr)
{
    memset(iv, 0, 8);
    iv[8] = (uint8_t)(ctr >> 24);
    iv[9] = (uint8_t)(ctr >> 16);
    iv[10] = (uint8_t)(ctr >> 8);
    iv[11] = (uint8_t)ctr;
}

/* AES-256-GCM: out gets len + 16 bytes (encrypt) or len - 16 bytes (decrypt). */
static int gcm(const uint8_t key[32], uint64_t ctr, const uint8_t *ad, size_t adlen,
               const uint8_t *in, size_t len, uint8_t *out, bool enc)
{
    uint8_t iv[12];
    int l = 0, rc = -EIO;
    if (!enc && len < WA_NOISE_TAG_LEN) return -EBADMSG;
    size_t body = enc ? len : len - WA_NOISE_TAG_LEN;
    if (body > INT32_MAX || adlen > INT32_MAX) return -EMSGSIZE;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) return -ENOMEM;
    nonce(iv, ctr);
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1) goto out;
    if (adlen && EVP_CipherUpdate(c, NULL, &l, ad, (int)adlen) != 1) goto out;
    if (body && EVP_CipherUpdate(c, out, &l, in, (int)body) != 1) goto out;
    if (enc) {
        if (EVP_CipherFinal_ex(c, out + body, &l) != 1) goto out;
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WA_NOISE_TAG_LEN, out + body) != 1)
            goto out;
    } else {
        if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WA_NOISE_TAG_LEN, (void *)(in + body)) !=
            1)
            goto out;
        rc = -EBADMSG;
        if (EVP_CipherFinal_ex(c, out + body, &l) != 1) goto out;
    }
    rc = 0;
out:
    if (rc && !enc) OPENSSL_cleanse(out, body);
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static int sha256_2(uint8_t out[HASHLEN], const uint8_t *a, size_t alen, const uint8_t *b,
                    size_t blen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int l = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, a, alen) == 1 && EVP_DigestUpdate(c, b, blen) == 1 &&
             EVP_DigestFinal_ex(c, out, &l) == 1;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -EIO;
}

/* HKDF-SHA256(salt, ikm, info = "") -> 64 bytes. */
static int hkdf64(uint8_t out[64], const uint8_t salt[HASHLEN], const uint8_t *ikm, size_t ikmlen)
{
    static const uint8_t empty[1];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!c) return -EIO;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(ikmlen ? ikm : empty),
                                          ikmlen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, HASHLEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)empty, 0),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(c, out, 64, p) == 1 ? 0 : -EIO;
    EVP_KDF_CTX_free(c);
    return rc;
}

/* ---- symmetric state ---- */

static int mix_hash(struct wa_noise *n, const uint8_t *data, size_t len)
{
    return sha256_2(n->h, n->h, HASHLEN, data, len);
}

static int mix_key(struct wa_noise *n, const uint8_t *ikm, size_t len)
{
    uint8_t okm[64];
    int rc = hkdf64(okm, n->ck, ikm, len);
    if (!rc) {
        memcpy(n->ck, okm, HASHLEN);
        memcpy(n->k, okm + HASHLEN, 32);
        n->hs_counter = 0;
        trace(n, "ck", n->ck, HASHLEN);
        trace(n, "k", n->k, 32);
    }
    OPENSSL_cleanse(okm, sizeof okm);
    return rc;
}

/* DH with the given keys, then MixKey; label names the token ("ee", "es", "se"). */
static int mix_dh(struct wa_noise *n, const char *label, const uint8_t priv[32],
                  const uint8_t pub[32])
{
    uint8_t dh[32];
    int rc = wa_dh(dh, priv, pub);
    if (!rc) {
        trace(n, label, dh, sizeof dh);
        rc = mix_key(n, dh, sizeof dh);
    }
    OPENSSL_cleanse(dh, sizeof dh);
    return rc;
}

/* Encrypt with AD = h, then h = SHA256(h || ct). ct needs len + 16 bytes. */
static int encrypt_and_hash(struct wa_noise *n, const uint8_t *pt, size_t len, uint8_t *ct)
{
    if (n->hs_counter > UINT32_MAX) return -EOVERFLOW;
    int rc = gcm(n->k, n->hs_counter, n->h, HASHLEN, pt, len, ct, true);
    if (rc) return rc;
    n->hs_counter++;
    return mix_hash(n, ct, len + WA_NOISE_TAG_LEN);
}

/* Decrypt with AD = h, then h = SHA256(h || ct). pt needs len - 16 bytes. */
static int decrypt_and_hash(struct wa_noise *n, const uint8_t *ct, size_t len, uint8_t *pt)
{
    if (n->hs_counter > UINT32_MAX) return -EOVERFLOW;
    int rc = gcm(n->k, n->hs_counter, n->h, HASHLEN, ct, len, pt, false);
    if (rc) return rc;
    n->hs_counter++;
    return mix_hash(n, ct, len);
}

static int init_symmetric(struct wa_noise *n)
{
    memcpy(n->h, protocol_name, HASHLEN);
    memcpy(n->ck, protocol_name, HASHLEN);
    int rc = mix_hash(n, wa_frame_intro, WA_INTRO_LEN);
    if (!rc) trace(n, "h", n->h, HASHLEN);
    return rc;
}

static int ensure_ephemeral(struct wa_noise *n)
{
    if (n->e_set) return 0;
    int rc = wa_keypair_generate(&n->e);
    if (!rc) n->e_set = true;
    return rc;
}

static int split(struct wa_noise *n)
{
    uint8_t okm[64];
    int rc = hkdf64(okm, n->ck, NULL, 0);
    if (rc) return rc;
    trace(n, "h", n->h, HASHLEN);
    trace(n, "c2s", okm, 32);
    trace(n, "s2c", okm + 32, 32);
    bool init = n->role == WA_NOISE_INITIATOR;
    memcpy(n->send_key, init ? okm : okm + 32, 32);
    memcpy(n->recv_key, init ? okm + 32 : okm, 32);
    OPENSSL_cleanse(okm, sizeof okm);
    OPENSSL_cleanse(n->k, sizeof n->k);
    OPENSSL_cleanse(n->ck, sizeof n->ck);
    wa_keypair_wipe(&n->e);
    wa_keypair_wipe(&n->s); /* the static key is not needed after the handshake */
    n->send_ctr = n->recv_ctr = 0;
    n->state = HS_TRANSPORT;
    return 0;
}

/* ---- lifecycle ---- */

struct wa_noise *wa_noise_new(enum wa_noise_role role, const struct wa_keypair *static_kp)
{
    struct wa_noise *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->role = role;
    n->state = HS_START;
    n->s = *static_kp;
    memcpy(n->root, wa_cert_root_pubkey, 32);
    return n;
}

struct wa_noise *wa_noise_new_transport(enum wa_noise_role role, const uint8_t c2s[32],
                                        const uint8_t s2c[32])
{
    struct wa_noise *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->role = role;
    n->state = HS_TRANSPORT;
    bool init = role == WA_NOISE_INITIATOR;
    memcpy(n->send_key, init ? c2s : s2c, 32);
    memcpy(n->recv_key, init ? s2c : c2s, 32);
    return n;
}

void wa_noise_free(struct wa_noise *n)
{
    if (!n) return;
    OPENSSL_cleanse(n, sizeof *n);
    free(n);
}

int wa_noise_set_ephemeral(struct wa_noise *n, const uint8_t priv[32])
{
    if (n->state != HS_START) return -EINVAL;
    int rc = wa_keypair_from_private(&n->e, priv);
    n->e_set = rc == 0;
    return rc;
}

void wa_noise_set_cert_policy(struct wa_noise *n, const uint8_t root_pub[32], uint64_t now)
{
    memcpy(n->root, root_pub, 32);
    n->now = now;
}

void wa_noise_set_trace(struct wa_noise *n, wa_noise_trace_fn fn, void *ud)
{
    n->trace = fn;
    n->trace_ud = ud;
}

const uint8_t *wa_noise_remote_static(const struct wa_noise *n)
{
    return n->rs_known ? n->rs : NULL;
}

bool wa_noise_is_transport(const struct wa_noise *n)
{
    return n->state == HS_TRANSPORT;
}

const char *wa_noise_last_error(const struct wa_noise *n)
{
    return n->last_error;
}

/* Check role/state before a step; failed handles repeat their error. */
static int expect(struct wa_noise *n, enum wa_noise_role role, enum hs_state st)
{
    if (n->state == HS_FAILED) return n->err;
    if (n->role != role || n->state != st) {
        snprintf(n->last_error, sizeof n->last_error, "noise: call out of order");
        return -EINVAL;
    }
    return 0;
}

/* Pack a HandshakeMessage and append it to out. */
static int append_msg(struct wa_noise *n, const Wa__HandshakeMessage *m, struct buf *out)
{
    size_t len = wa__handshake_message__get_packed_size(m);
    uint8_t *p = malloc(len ? len : 1);
    if (!p) return fail(n, -ENOMEM, "noise: out of memory");
    wa__handshake_message__pack(m, p);
    int rc = buf_append(out, p, len);
    free(p);
    return rc ? fail(n, rc, "noise: output buffer full") : 0;
}

static Wa__HandshakeMessage *unpack_msg(struct wa_noise *n, const uint8_t *msg, size_t len)
{
    if (len > WA_NOISE_MAX_HANDSHAKE_MSG) {
        fail(n, -EMSGSIZE, "noise: handshake message too large");
        return NULL;
    }
    Wa__HandshakeMessage *m = wa__handshake_message__unpack(NULL, len, msg);
    if (!m) fail(n, -EBADMSG, "noise: malformed HandshakeMessage");
    return m;
}

/* ---- initiator ---- */

int wa_noise_write_client_hello(struct wa_noise *n, struct buf *out)
{
    int rc = expect(n, WA_NOISE_INITIATOR, HS_START);
    if (rc) return rc;
    if ((rc = init_symmetric(n)) || (rc = ensure_ephemeral(n)) || (rc = mix_hash(n, n->e.pub, 32)))
        return fail(n, rc, "noise: crypto failure");
    trace(n, "h", n->h, HASHLEN);
    Wa__HandshakeMessage m = WA__HANDSHAKE_MESSAGE__INIT;
    Wa__HandshakeMessage__ClientHello ch = WA__HANDSHAKE_MESSAGE__CLIENT_HELLO__INIT;
    ch.has_ephemeral = 1;
    ch.ephemeral = (ProtobufCBinaryData){32, n->e.pub};
    m.clienthello = &ch;
    if ((rc = append_msg(n, &m, out))) return rc;
    n->state = HS_I_SENT_HELLO;
    return 0;
}

/* Decrypt S1 (server static), MixKey(es), decrypt P1 into *cert (malloc'ed). */
static int process_server_hello(struct wa_noise *n, const Wa__HandshakeMessage__ServerHello *sh,
                                uint8_t **cert, size_t *cert_len)
{
    int rc;
    uint8_t rs[32];
    if (!sh->has_ephemeral || sh->ephemeral.len != 32 || !sh->has_static_ ||
        sh->static_.len != 32 + WA_NOISE_TAG_LEN || !sh->has_payload ||
        sh->payload.len < WA_NOISE_TAG_LEN ||
        sh->payload.len > WA_NOISE_MAX_PAYLOAD + WA_NOISE_TAG_LEN)
        return fail(n, -EBADMSG, "noise: serverHello missing or bad-sized fields");
    memcpy(n->re, sh->ephemeral.data, 32);
    if ((rc = mix_hash(n, n->re, 32))) return fail(n, rc, "noise: crypto failure");
    trace(n, "h", n->h, HASHLEN);
    if ((rc = mix_dh(n, "ee", n->e.priv, n->re)))
        return fail(n, rc, "noise: ee key agreement failed");
    trace(n, "S1", sh->static_.data, sh->static_.len);
    if ((rc = decrypt_and_hash(n, sh->static_.data, sh->static_.len, rs)))
        return fail(n, rc, "noise: cannot decrypt server static key");
    memcpy(n->rs, rs, 32);
    n->rs_known = true;
    trace(n, "h", n->h, HASHLEN);
    if ((rc = mix_dh(n, "es", n->e.priv, n->rs)))
        return fail(n, rc, "noise: es key agreement failed");
    *cert_len = sh->payload.len - WA_NOISE_TAG_LEN;
    *cert = malloc(*cert_len ? *cert_len : 1);
    if (!*cert) return fail(n, -ENOMEM, "noise: out of memory");
    trace(n, "P1", sh->payload.data, sh->payload.len);
    if ((rc = decrypt_and_hash(n, sh->payload.data, sh->payload.len, *cert)))
        return fail(n, rc, "noise: cannot decrypt server certificate payload");
    trace(n, "h", n->h, HASHLEN);
    return 0;
}

int wa_noise_read_server_hello(struct wa_noise *n, const uint8_t *msg, size_t len)
{
    int rc = expect(n, WA_NOISE_INITIATOR, HS_I_SENT_HELLO);
    if (rc) return rc;
    Wa__HandshakeMessage *m = unpack_msg(n, msg, len);
    if (!m) return n->err;
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (!m->serverhello)
        rc = fail(n, -EBADMSG, "noise: expected serverHello");
    else
        rc = process_server_hello(n, m->serverhello, &cert, &cert_len);
    wa__handshake_message__free_unpacked(m, NULL);
    if (!rc) {
        const char *detail = "";
        uint64_t now = n->now ? n->now : (uint64_t)time(NULL);
        rc = wa_cert_verify(cert, cert_len, n->root, n->rs, now, &detail);
        if (rc)
            fail(n, rc, detail);
        else
            n->state = HS_I_GOT_SERVER;
    }
    free(cert);
    return rc;
}

int wa_noise_write_client_finish(struct wa_noise *n, const uint8_t *payload, size_t len,
                                 struct buf *out)
{
    int rc = expect(n, WA_NOISE_INITIATOR, HS_I_GOT_SERVER);
    if (rc) return rc;
    if (len > WA_NOISE_MAX_PAYLOAD) return fail(n, -EMSGSIZE, "noise: ClientPayload too large");
    uint8_t s2[32 + WA_NOISE_TAG_LEN];
    uint8_t *p2 = malloc(len + WA_NOISE_TAG_LEN);
    if (!p2) return fail(n, -ENOMEM, "noise: out of memory");
    if ((rc = encrypt_and_hash(n, n->s.pub, 32, s2))) goto out;
    trace(n, "S2", s2, sizeof s2);
    trace(n, "s", n->s.pub, 32);
    trace(n, "h", n->h, HASHLEN);
    if ((rc = mix_dh(n, "se", n->s.priv, n->re))) goto out;
    if ((rc = encrypt_and_hash(n, payload, len, p2))) goto out;
    trace(n, "P2", p2, len + WA_NOISE_TAG_LEN);
    Wa__HandshakeMessage m = WA__HANDSHAKE_MESSAGE__INIT;
    Wa__HandshakeMessage__ClientFinish cf = WA__HANDSHAKE_MESSAGE__CLIENT_FINISH__INIT;
    cf.has_static_ = cf.has_payload = 1;
    cf.static_ = (ProtobufCBinaryData){sizeof s2, s2};
    cf.payload = (ProtobufCBinaryData){len + WA_NOISE_TAG_LEN, p2};
    m.clientfinish = &cf;
    if ((rc = append_msg(n, &m, out))) goto out_nofail;
    rc = split(n);
out:
    if (rc) fail(n, rc, "noise: crypto failure building clientFinish");
out_nofail:
    free(p2);
    return rc;
}

/* ---- responder ---- */

int wa_noise_read_client_hello(struct wa_noise *n, const uint8_t *msg, size_t len)
{
    int rc = expect(n, WA_NOISE_RESPONDER, HS_START);
    if (rc) return rc;
    Wa__HandshakeMessage *m = unpack_msg(n, msg, len);
    if (!m) return n->err;
    if (!m->clienthello || !m->clienthello->has_ephemeral || m->clienthello->ephemeral.len != 32)
        rc = fail(n, -EBADMSG, "noise: expected clientHello with a 32-byte ephemeral");
    else
        memcpy(n->re, m->clienthello->ephemeral.data, 32);
    wa__handshake_message__free_unpacked(m, NULL);
    if (rc) return rc;
    if ((rc = init_symmetric(n)) || (rc = mix_hash(n, n->re, 32)))
        return fail(n, rc, "noise: crypto failure");
    trace(n, "h", n->h, HASHLEN);
    n->state = HS_R_GOT_HELLO;
    return 0;
}

int wa_noise_write_server_hello(struct wa_noise *n, const uint8_t *cert, size_t cert_len,
                                struct buf *out)
{
    int rc = expect(n, WA_NOISE_RESPONDER, HS_R_GOT_HELLO);
    if (rc) return rc;
    if (cert_len > WA_NOISE_MAX_PAYLOAD) return fail(n, -EMSGSIZE, "noise: cert payload too large");
    uint8_t s1[32 + WA_NOISE_TAG_LEN];
    uint8_t *p1 = malloc(cert_len + WA_NOISE_TAG_LEN);
    if (!p1) return fail(n, -ENOMEM, "noise: out of memory");
    if ((rc = ensure_ephemeral(n)) || (rc = mix_hash(n, n->e.pub, 32))) goto out;
    trace(n, "h", n->h, HASHLEN);
    if ((rc = mix_dh(n, "ee", n->e.priv, n->re))) goto out;
    if ((rc = encrypt_and_hash(n, n->s.pub, 32, s1))) goto out;
    trace(n, "S1", s1, sizeof s1);
    trace(n, "h", n->h, HASHLEN);
    if ((rc = mix_dh(n, "es", n->s.priv, n->re))) goto out;
    if ((rc = encrypt_and_hash(n, cert, cert_len, p1))) goto out;
    trace(n, "P1", p1, cert_len + WA_NOISE_TAG_LEN);
    trace(n, "h", n->h, HASHLEN);
    Wa__HandshakeMessage m = WA__HANDSHAKE_MESSAGE__INIT;
    Wa__HandshakeMessage__ServerHello sh = WA__HANDSHAKE_MESSAGE__SERVER_HELLO__INIT;
    sh.has_ephemeral = sh.has_static_ = sh.has_payload = 1;
    sh.ephemeral = (ProtobufCBinaryData){32, n->e.pub};
    sh.static_ = (ProtobufCBinaryData){sizeof s1, s1};
    sh.payload = (ProtobufCBinaryData){cert_len + WA_NOISE_TAG_LEN, p1};
    m.serverhello = &sh;
    if ((rc = append_msg(n, &m, out))) goto out_nofail;
    n->state = HS_R_SENT_HELLO;
out:
    if (rc) fail(n, rc, "noise: crypto failure building serverHello");
out_nofail:
    free(p1);
    return rc;
}

static int process_client_finish(struct wa_noise *n, const Wa__HandshakeMessage__ClientFinish *cf,
                                 struct buf *payload)
{
    int rc;
    uint8_t rs[32];
    if (!cf->has_static_ || cf->static_.len != 32 + WA_NOISE_TAG_LEN || !cf->has_payload ||
        cf->payload.len < WA_NOISE_TAG_LEN ||
        cf->payload.len > WA_NOISE_MAX_PAYLOAD + WA_NOISE_TAG_LEN)
        return fail(n, -EBADMSG, "noise: clientFinish missing or bad-sized fields");
    trace(n, "S2", cf->static_.data, cf->static_.len);
    if ((rc = decrypt_and_hash(n, cf->static_.data, cf->static_.len, rs)))
        return fail(n, rc, "noise: cannot decrypt client static key");
    memcpy(n->rs, rs, 32);
    n->rs_known = true;
    trace(n, "s", n->rs, 32);
    trace(n, "h", n->h, HASHLEN);
    if ((rc = mix_dh(n, "se", n->e.priv, n->rs)))
        return fail(n, rc, "noise: se key agreement failed");
    size_t plen = cf->payload.len - WA_NOISE_TAG_LEN;
    uint8_t *pt = malloc(plen ? plen : 1);
    if (!pt) return fail(n, -ENOMEM, "noise: out of memory");
    trace(n, "P2", cf->payload.data, cf->payload.len);
    rc = decrypt_and_hash(n, cf->payload.data, cf->payload.len, pt);
    if (rc)
        fail(n, rc, "noise: cannot decrypt ClientPayload");
    else if ((rc = buf_append(payload, pt, plen)))
        fail(n, rc, "noise: payload buffer full");
    else if ((rc = split(n)))
        fail(n, rc, "noise: split failed");
    OPENSSL_cleanse(pt, plen);
    free(pt);
    return rc;
}

int wa_noise_read_client_finish(struct wa_noise *n, const uint8_t *msg, size_t len,
                                uint8_t client_static[32], struct buf *payload)
{
    int rc = expect(n, WA_NOISE_RESPONDER, HS_R_SENT_HELLO);
    if (rc) return rc;
    Wa__HandshakeMessage *m = unpack_msg(n, msg, len);
    if (!m) return n->err;
    if (!m->clientfinish)
        rc = fail(n, -EBADMSG, "noise: expected clientFinish");
    else
        rc = process_client_finish(n, m->clientfinish, payload);
    wa__handshake_message__free_unpacked(m, NULL);
    if (!rc) memcpy(client_static, n->rs, 32);
    return rc;
}

/* ---- transport ---- */

int wa_noise_encrypt(struct wa_noise *n, const uint8_t *pt, size_t len, struct buf *out)
{
    if (n->state == HS_FAILED) return n->err;
    if (n->state != HS_TRANSPORT) return -EINVAL;
    if (n->send_ctr > UINT32_MAX) return fail(n, -EOVERFLOW, "noise: send counter exhausted");
    if (len > SIZE_MAX - WA_NOISE_TAG_LEN) return -EMSGSIZE;
    int rc = buf_reserve(out, len + WA_NOISE_TAG_LEN);
    if (rc) return rc;
    rc = gcm(n->send_key, n->send_ctr, NULL, 0, pt, len, out->data + out->len, true);
    if (rc) return fail(n, rc, "noise: encryption failed");
    out->len += len + WA_NOISE_TAG_LEN;
    n->send_ctr++;
    return 0;
}

int wa_noise_decrypt(struct wa_noise *n, const uint8_t *ct, size_t len, struct buf *out)
{
    if (n->state == HS_FAILED) return n->err;
    if (n->state != HS_TRANSPORT) return -EINVAL;
    if (n->recv_ctr > UINT32_MAX) return fail(n, -EOVERFLOW, "noise: receive counter exhausted");
    if (len < WA_NOISE_TAG_LEN) return fail(n, -EBADMSG, "noise: transport frame too short");
    int rc = buf_reserve(out, len - WA_NOISE_TAG_LEN);
    if (rc) return rc;
    rc = gcm(n->recv_key, n->recv_ctr, NULL, 0, ct, len, out->data + out->len, false);
    if (rc) return fail(n, rc, "noise: transport frame failed authentication");
    out->len += len - WA_NOISE_TAG_LEN;
    n->recv_ctr++;
    return 0;
}

void wa_noise__set_counters(struct wa_noise *n, uint64_t send, uint64_t recv)
{
    n->send_ctr = send;
    n->recv_ctr = recv;
}
