/* SPDX-License-Identifier: MIT */
/* keys.c -- X25519 via OpenSSL EVP, XEdDSA via libsignal-protocol-c's curve module. */
#include "wa/keys.h"

#include "signal/sg_crypto.h"

#include <curve.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

void wa_key_clamp(uint8_t priv[WA_KEY_LEN])
{
    priv[0] &= 248;
    priv[31] &= 127;
    priv[31] |= 64;
}

void wa_keypair_wipe(struct wa_keypair *kp)
{
    OPENSSL_cleanse(kp, sizeof *kp);
}

int wa_keypair_from_private(struct wa_keypair *kp, const uint8_t priv[WA_KEY_LEN])
{
    memmove(kp->priv, priv, WA_KEY_LEN);
    wa_key_clamp(kp->priv);
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, kp->priv, WA_KEY_LEN);
    size_t n = WA_KEY_LEN;
    int ok = pk && EVP_PKEY_get_raw_public_key(pk, kp->pub, &n) == 1 && n == WA_KEY_LEN;
    EVP_PKEY_free(pk);
    if (!ok) {
        wa_keypair_wipe(kp);
        return -EIO;
    }
    return 0;
}

int wa_keypair_generate(struct wa_keypair *kp)
{
    uint8_t seed[WA_KEY_LEN];
    if (RAND_bytes(seed, sizeof seed) != 1) return -EIO;
    int rc = wa_keypair_from_private(kp, seed);
    OPENSSL_cleanse(seed, sizeof seed);
    return rc;
}

int wa_dh(uint8_t out[WA_KEY_LEN], const uint8_t priv[WA_KEY_LEN], const uint8_t pub[WA_KEY_LEN])
{
    EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WA_KEY_LEN);
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, WA_KEY_LEN);
    EVP_PKEY_CTX *ctx = sk ? EVP_PKEY_CTX_new(sk, NULL) : NULL;
    size_t n = WA_KEY_LEN;
    int rc = -EIO;
    if (!ctx || !pk) goto out;
    if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, pk) != 1) goto out;
    /* OpenSSL refuses an all-zero shared secret (low-order peer key) in derive. */
    if (EVP_PKEY_derive(ctx, out, &n) != 1 || n != WA_KEY_LEN) {
        rc = -EPROTO;
        goto out;
    }
    rc = 0;
out:
    if (rc) OPENSSL_cleanse(out, WA_KEY_LEN);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(sk);
    return rc;
}

int wa_xeddsa_sign(uint8_t sig[WA_SIG_LEN], const uint8_t priv[WA_KEY_LEN], const uint8_t *msg,
                   size_t len)
{
    signal_context *ctx = NULL;
    ec_private_key *key = NULL;
    signal_buffer *out = NULL;
    uint8_t clamped[WA_KEY_LEN];
    int rc = sg_context_create(&ctx);
    if (rc) return rc;
    memcpy(clamped, priv, WA_KEY_LEN);
    wa_key_clamp(clamped);
    rc = -EIO;
    if (curve_decode_private_point(&key, clamped, WA_KEY_LEN, ctx) != 0) goto out;
    if (curve_calculate_signature(ctx, &out, key, msg, len) != 0) goto out;
    if (signal_buffer_len(out) != WA_SIG_LEN) goto out;
    memcpy(sig, signal_buffer_data(out), WA_SIG_LEN);
    rc = 0;
out:
    OPENSSL_cleanse(clamped, sizeof clamped);
    signal_buffer_free(out);
    SIGNAL_UNREF(key);
    signal_context_destroy(ctx);
    return rc;
}

int wa_xeddsa_verify(const uint8_t pub[WA_KEY_LEN], const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len)
{
    uint8_t ser[WA_KEY_LEN + 1];
    ec_public_key *key = NULL;
    if (sig_len != WA_SIG_LEN) return -EBADMSG;
    ser[0] = 0x05; /* DJB key type, as libsignal serialises Curve25519 keys */
    memcpy(ser + 1, pub, WA_KEY_LEN);
    if (curve_decode_point(&key, ser, sizeof ser, NULL) != 0) return -EIO;
    int v = curve_verify_signature(key, msg, len, sig, sig_len);
    SIGNAL_UNREF(key);
    if (v == 1) return 0;
    return v == 0 ? -EBADMSG : -EIO;
}
