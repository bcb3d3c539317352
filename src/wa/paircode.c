/* SPDX-License-Identifier: MIT */
/* paircode.c -- phone-number pairing codes: derivation, wrapping, the hello/finish stanzas. */
#include "wa/paircode.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#include "wa/jid.h"

#define BUNDLE_INFO "link_code_pairing_key_bundle_encryption_key"
#define ADV_INFO    "adv_secret"

/* ---- the code ---- */

void wa_paircode_code(const uint8_t raw[WA_PAIRCODE_RAW_LEN], char out[WA_PAIRCODE_LEN + 1])
{
    static const char alpha[] = WA_PAIRCODE_ALPHABET;
    uint64_t v = 0;
    for (int i = 0; i < WA_PAIRCODE_RAW_LEN; i++)
        v = v << 8 | raw[i];
    for (int i = 0; i < WA_PAIRCODE_LEN; i++)
        out[i] = alpha[(v >> (35 - 5 * i)) & 31];
    out[WA_PAIRCODE_LEN] = 0;
}

static bool in_alphabet(char ch)
{
    return ch && strchr(WA_PAIRCODE_ALPHABET, ch) != NULL;
}

int wa_paircode_normalize(const char *in, char out[WA_PAIRCODE_LEN + 1])
{
    size_t n = 0;
    if (!in) return -EINVAL;
    for (; *in; in++) {
        if (*in == '-' || *in == ' ') continue;
        char ch = (char)toupper((unsigned char)*in);
        if (n == WA_PAIRCODE_LEN || !in_alphabet(ch)) return -EINVAL;
        out[n++] = ch;
    }
    out[n] = 0;
    return n == WA_PAIRCODE_LEN ? 0 : -EINVAL;
}

void wa_paircode_display(const char code[WA_PAIRCODE_LEN + 1], char out[WA_PAIRCODE_LEN + 2])
{
    memcpy(out, code, 4);
    out[4] = '-';
    memcpy(out + 5, code + 4, 4);
    out[9] = 0;
}

int wa_paircode_phone(const char *in, char out[WA_PAIRCODE_PHONE_MAX + 1])
{
    size_t n = 0;
    if (!in) return -EINVAL;
    for (; *in; in++) {
        if (strchr("+ -.()", *in)) continue;
        if (!isdigit((unsigned char)*in) || n == WA_PAIRCODE_PHONE_MAX) return -EINVAL;
        out[n++] = *in;
    }
    out[n] = 0;
    return n >= 7 && out[0] != '0' ? 0 : -EINVAL;
}

/* ---- primitives ---- */

static bool code_ok(const char *code)
{
    if (!code || strlen(code) != WA_PAIRCODE_LEN) return false;
    for (int i = 0; i < WA_PAIRCODE_LEN; i++)
        if (!in_alphabet(code[i])) return false;
    return true;
}

int wa_paircode_key(const char *code, const uint8_t salt[32], uint8_t key[32])
{
    if (!code_ok(code)) return -EINVAL;
    return PKCS5_PBKDF2_HMAC(code, WA_PAIRCODE_LEN, salt, 32, WA_PAIRCODE_PBKDF2_ITER, EVP_sha256(),
                             32, key) == 1
               ? 0
               : -EIO;
}

static int aes_ctr(const uint8_t key[32], const uint8_t iv[16], const uint8_t in[32],
                   uint8_t out[32])
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    bool ok = x && EVP_EncryptInit_ex(x, EVP_aes_256_ctr(), NULL, key, iv) == 1 &&
              EVP_EncryptUpdate(x, out, &l1, in, 32) == 1 &&
              EVP_EncryptFinal_ex(x, out + l1, &l2) == 1 && l1 + l2 == 32;
    EVP_CIPHER_CTX_free(x);
    return ok ? 0 : -EIO;
}

int wa_paircode_wrap(const char *code, const uint8_t salt[32], const uint8_t iv[16],
                     const uint8_t pub[32], uint8_t out[WA_PAIRCODE_WRAPPED_LEN])
{
    uint8_t key[32];
    int rc = wa_paircode_key(code, salt, key);
    if (rc == 0) rc = aes_ctr(key, iv, pub, out + 48);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0) return rc;
    memcpy(out, salt, 32);
    memcpy(out + 32, iv, 16);
    return 0;
}

int wa_paircode_unwrap(const char *code, const uint8_t *in, size_t len, uint8_t pub[32])
{
    uint8_t key[32];
    if (!in || len < WA_PAIRCODE_WRAPPED_LEN) return -EBADMSG;
    int rc = wa_paircode_key(code, in, key);
    if (rc == 0) rc = aes_ctr(key, in + 32, in + 48, pub);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/* HKDF-SHA256 (RFC 5869) with an optional salt (NULL: none = zeros). */
static int hkdf32(uint8_t out[32], const uint8_t *salt, const uint8_t *ikm, size_t ikmlen,
                  const char *info)
{
    static const uint8_t zero[32];
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!c) return -EIO;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(salt ? salt : zero), 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(c, out, 32, p) == 1 ? 0 : -EIO;
    EVP_KDF_CTX_free(c);
    return rc;
}

int wa_paircode_bundle_key(const uint8_t shared[32], const uint8_t salt[32], uint8_t key[32])
{
    return hkdf32(key, salt, shared, 32, BUNDLE_INFO);
}

int wa_paircode_adv_secret(const uint8_t shared[32], const uint8_t identity_shared[32],
                           const uint8_t random[32], uint8_t out[32])
{
    uint8_t ikm[96];
    memcpy(ikm, shared, 32);
    memcpy(ikm + 32, identity_shared, 32);
    memcpy(ikm + 64, random, 32);
    int rc = hkdf32(out, NULL, ikm, sizeof(ikm), ADV_INFO);
    OPENSSL_cleanse(ikm, sizeof(ikm));
    return rc;
}

/* AES-256-GCM, 12-byte iv, no AAD; enc: in 96 -> out 96 || tag 16; dec: the reverse. */
static int gcm(bool enc, const uint8_t key[32], const uint8_t iv[12], const uint8_t *in,
               uint8_t *out)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l = 0, l2 = 0;
    bool ok = x && EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, key, iv, enc ? 1 : 0) == 1;
    if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 96)) == 1;
    ok = ok && EVP_CipherUpdate(x, out, &l, in, 96) == 1 && l == 96;
    bool fin = ok && EVP_CipherFinal_ex(x, out + l, &l2) == 1;
    if (fin && enc) fin = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, out + 96) == 1;
    EVP_CIPHER_CTX_free(x);
    if (!ok) return -EIO;
    return fin ? 0 : enc ? -EIO : -EKEYREJECTED;
}

int wa_paircode_bundle(const uint8_t shared[32], const uint8_t salt[32], const uint8_t iv[12],
                       const uint8_t our_ident[32], const uint8_t primary_ident[32],
                       const uint8_t random[32], uint8_t out[WA_PAIRCODE_BUNDLE_LEN])
{
    uint8_t key[32], plain[96];
    int rc = wa_paircode_bundle_key(shared, salt, key);
    memcpy(plain, our_ident, 32);
    memcpy(plain + 32, primary_ident, 32);
    memcpy(plain + 64, random, 32);
    if (rc == 0) rc = gcm(true, key, iv, plain, out + 44);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(plain, sizeof(plain));
    if (rc < 0) return rc;
    memcpy(out, salt, 32);
    memcpy(out + 32, iv, 12);
    return 0;
}

int wa_paircode_bundle_open(const uint8_t shared[32], const uint8_t *in, size_t len,
                            uint8_t companion_ident[32], uint8_t primary_ident[32],
                            uint8_t random[32])
{
    uint8_t key[32], plain[96 + 16];
    if (!in || len != WA_PAIRCODE_BUNDLE_LEN) return -EBADMSG;
    int rc = wa_paircode_bundle_key(shared, in, key);
    if (rc == 0) rc = gcm(false, key, in + 32, in + 44, plain);
    if (rc == 0) {
        memcpy(companion_ident, plain, 32);
        memcpy(primary_ident, plain + 32, 32);
        memcpy(random, plain + 64, 32);
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(plain, sizeof(plain));
    return rc;
}

/* ---- stanzas ---- */

static int add_bytes(struct wa_node *parent, const char *tag, const void *p, size_t len)
{
    struct wa_node *n = wa_node_new(tag);
    if (!n || wa_node_set_bytes(n, p, len) < 0 || wa_node_add_child(parent, n) < 0) {
        wa_node_free(n);
        return -ENOMEM;
    }
    return 0;
}

static int add_string(struct wa_node *parent, const char *tag, const char *s)
{
    struct wa_node *n = wa_node_new(tag);
    struct wa_str str = {.s = s, .len = (uint32_t)strlen(s)};
    if (!n || wa_node_set_string(n, &str) < 0 || wa_node_add_child(parent, n) < 0) {
        wa_node_free(n);
        return -ENOMEM;
    }
    return 0;
}

/* <link_code_companion_reg jid=<phone>@s.whatsapp.net stage=...>. */
static struct wa_node *reg_node(const char *phone, const char *stage)
{
    struct wa_jid j;
    struct wa_node *n = wa_node_new("link_code_companion_reg");
    if (!n || wa_jid_set(&j, phone, WA_SERVER_PN) < 0 || wa_node_set_attr_jid(n, "jid", &j) < 0 ||
        wa_node_set_attr(n, "stage", stage) < 0) {
        wa_node_free(n);
        return NULL;
    }
    return n;
}

int wa_paircode_init(struct wa_paircode *pc, const char *phone,
                     const uint8_t code_raw[WA_PAIRCODE_RAW_LEN], const uint8_t eph_priv[32])
{
    memset(pc, 0, sizeof(*pc));
    if (wa_paircode_phone(phone, pc->phone) < 0) return -EINVAL;
    wa_paircode_code(code_raw, pc->code);
    int rc = wa_keypair_from_private(&pc->eph, eph_priv);
    if (rc < 0) wa_paircode_wipe(pc);
    return rc;
}

int wa_paircode_hello_node(const struct wa_paircode *pc,
                           const uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN],
                           const uint8_t noise_pub[32], const char *platform_id,
                           const char *platform_display, struct wa_node **out)
{
    *out = NULL;
    if (!platform_id || !platform_display) return -EINVAL;
    struct wa_node *n = reg_node(pc->phone, "companion_hello");
    if (!n || wa_node_set_attr(n, "should_show_push_notification", "true") < 0 ||
        add_bytes(n, "link_code_pairing_wrapped_companion_ephemeral_pub", wrapped,
                  WA_PAIRCODE_WRAPPED_LEN) < 0 ||
        add_bytes(n, "companion_server_auth_key_pub", noise_pub, 32) < 0 ||
        add_string(n, "companion_platform_id", platform_id) < 0 ||
        add_string(n, "companion_platform_display", platform_display) < 0 ||
        add_string(n, "link_code_pairing_nonce", "0") < 0) {
        wa_node_free(n);
        return -ENOMEM;
    }
    *out = n;
    return 0;
}

int wa_paircode_hello(struct wa_paircode *pc, const char *phone,
                      const struct wa_paircode_hello_rand *r, const uint8_t noise_pub[32],
                      const char *platform_id, const char *platform_display, struct wa_node **out)
{
    uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN];
    *out = NULL;
    int rc = wa_paircode_init(pc, phone, r->code, r->eph_priv);
    if (rc == 0) rc = wa_paircode_wrap(pc->code, r->salt, r->iv, pc->eph.pub, wrapped);
    if (rc == 0)
        rc = wa_paircode_hello_node(pc, wrapped, noise_pub, platform_id, platform_display, out);
    if (rc < 0) wa_paircode_wipe(pc);
    return rc;
}

/* Bytes (or string) content of a child of n, NULL if absent or empty. */
static const uint8_t *child_bytes(const struct wa_node *n, const char *tag, size_t *len)
{
    const struct wa_node *c = n ? wa_node_child(n, tag) : NULL;
    if (!c) return NULL;
    const uint8_t *b = wa_node_content_bytes(c, len);
    if (!b) {
        const char *s = wa_node_content_string(c);
        if (!s) return NULL;
        b = (const uint8_t *)s;
        *len = strlen(s);
    }
    return *len ? b : NULL;
}

int wa_paircode_hello_result(struct wa_paircode *pc, const struct wa_node *iq)
{
    size_t len = 0;
    const uint8_t *ref = child_bytes(iq ? wa_node_child(iq, "link_code_companion_reg") : NULL,
                                     "link_code_pairing_ref", &len);
    if (!ref) return 0;
    if (len > WA_PAIRCODE_REF_MAX) return -EBADMSG;
    memcpy(pc->ref, ref, len);
    pc->ref_len = len;
    return 0;
}

int wa_paircode_parse_notification(const struct wa_node *n, struct wa_paircode_primary *out)
{
    memset(out, 0, sizeof(*out));
    const struct wa_node *reg = n ? wa_node_child(n, "link_code_companion_reg") : NULL;
    size_t rl = 0, wl = 0, il = 0;
    const uint8_t *ref = child_bytes(reg, "link_code_pairing_ref", &rl);
    const uint8_t *w = child_bytes(reg, "link_code_pairing_wrapped_primary_ephemeral_pub", &wl);
    const uint8_t *id = child_bytes(reg, "primary_identity_pub", &il);
    if (!ref || rl > WA_PAIRCODE_REF_MAX || !w || wl < WA_PAIRCODE_WRAPPED_LEN || !id || il != 32)
        return -EBADMSG;
    memcpy(out->ref, ref, rl);
    out->ref_len = rl;
    memcpy(out->wrapped, w, WA_PAIRCODE_WRAPPED_LEN);
    memcpy(out->identity, id, 32);
    return 0;
}

static int finish_node(const struct wa_paircode *pc, const uint8_t bundle[WA_PAIRCODE_BUNDLE_LEN],
                       const uint8_t ident_pub[32], const struct wa_paircode_primary *p,
                       struct wa_node **out)
{
    struct wa_node *n = reg_node(pc->phone, "companion_finish");
    if (!n ||
        add_bytes(n, "link_code_pairing_wrapped_key_bundle", bundle, WA_PAIRCODE_BUNDLE_LEN) < 0 ||
        add_bytes(n, "companion_identity_public", ident_pub, 32) < 0 ||
        add_bytes(n, "link_code_pairing_ref", p->ref, p->ref_len) < 0) {
        wa_node_free(n);
        return -ENOMEM;
    }
    *out = n;
    return 0;
}

int wa_paircode_finish_unwrapped(const struct wa_paircode *pc, const struct wa_keypair *identity,
                                 const struct wa_paircode_primary *p, const uint8_t primary_eph[32],
                                 const struct wa_paircode_finish_rand *r, uint8_t adv_secret[32],
                                 struct wa_node **out)
{
    uint8_t shared[32], ishared[32], bundle[WA_PAIRCODE_BUNDLE_LEN];
    *out = NULL;
    if (pc->ref_len && (pc->ref_len != p->ref_len || memcmp(pc->ref, p->ref, p->ref_len) != 0))
        return -EBADMSG;
    int rc = wa_dh(shared, pc->eph.priv, primary_eph);
    if (rc == 0) rc = wa_dh(ishared, identity->priv, p->identity);
    if (rc == -EPROTO) rc = -EKEYREJECTED;
    if (rc == 0)
        rc = wa_paircode_bundle(shared, r->salt, r->iv, identity->pub, p->identity, r->random,
                                bundle);
    if (rc == 0) rc = wa_paircode_adv_secret(shared, ishared, r->random, adv_secret);
    if (rc == 0) rc = finish_node(pc, bundle, identity->pub, p, out);
    OPENSSL_cleanse(shared, sizeof(shared));
    OPENSSL_cleanse(ishared, sizeof(ishared));
    if (rc < 0) OPENSSL_cleanse(adv_secret, 32);
    return rc;
}

int wa_paircode_finish(const struct wa_paircode *pc, const struct wa_keypair *identity,
                       const struct wa_paircode_primary *p, const struct wa_paircode_finish_rand *r,
                       uint8_t adv_secret[32], struct wa_node **out)
{
    uint8_t peph[32];
    *out = NULL;
    if (pc->ref_len && (pc->ref_len != p->ref_len || memcmp(pc->ref, p->ref, p->ref_len) != 0))
        return -EBADMSG;
    int rc = wa_paircode_unwrap(pc->code, p->wrapped, sizeof(p->wrapped), peph);
    if (rc == 0) rc = wa_paircode_finish_unwrapped(pc, identity, p, peph, r, adv_secret, out);
    OPENSSL_cleanse(peph, sizeof(peph));
    return rc;
}

void wa_paircode_wipe(struct wa_paircode *pc)
{
    OPENSSL_cleanse(pc, sizeof(*pc));
}
