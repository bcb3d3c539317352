/* SPDX-License-Identifier: MIT */
/* sg_crypto.c -- OpenSSL 3 implementation of libsignal-protocol-c's crypto callbacks. */
#include "signal/sg_crypto.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static int sg_random(uint8_t *data, size_t len, void *ud)
{
    if (len > INT32_MAX) return SG_ERR_INVAL;
    return RAND_bytes(data, (int)len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int sg_hmac_init(void **ctx, const uint8_t *key, size_t key_len, void *ud)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    if (!c) return SG_ERR_NOMEM;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    static const uint8_t empty[1];
    if (EVP_MAC_init(c, key_len ? key : empty, key_len, params) != 1) {
        EVP_MAC_CTX_free(c);
        return SG_ERR_UNKNOWN;
    }
    *ctx = c;
    return 0;
}

static int sg_hmac_update(void *ctx, const uint8_t *data, size_t len, void *ud)
{
    return EVP_MAC_update(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int sg_hmac_final(void *ctx, signal_buffer **out, void *ud)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    size_t n = 0;
    if (EVP_MAC_final(ctx, md, &n, sizeof md) != 1) return SG_ERR_UNKNOWN;
    signal_buffer *b = signal_buffer_create(md, n);
    OPENSSL_cleanse(md, sizeof md);
    if (!b) return SG_ERR_NOMEM;
    *out = b;
    return 0;
}

static void sg_hmac_cleanup(void *ctx, void *ud)
{
    EVP_MAC_CTX_free(ctx);
}

static int sg_sha512_init(void **ctx, void *ud)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c) return SG_ERR_NOMEM;
    if (EVP_DigestInit_ex(c, EVP_sha512(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return SG_ERR_UNKNOWN;
    }
    *ctx = c;
    return 0;
}

static int sg_sha512_update(void *ctx, const uint8_t *data, size_t len, void *ud)
{
    return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

/* Finalise and re-initialise, as the provider contract asks ("prepare for reuse"). */
static int sg_sha512_final(void *ctx, signal_buffer **out, void *ud)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx, md, &n) != 1) return SG_ERR_UNKNOWN;
    if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1) return SG_ERR_UNKNOWN;
    signal_buffer *b = signal_buffer_create(md, n);
    if (!b) return SG_ERR_NOMEM;
    *out = b;
    return 0;
}

static void sg_sha512_cleanup(void *ctx, void *ud)
{
    EVP_MD_CTX_free(ctx);
}

static const EVP_CIPHER *sg_cipher(int cipher, size_t key_len)
{
    if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
        switch (key_len) {
        case 16:
            return EVP_aes_128_cbc();
        case 24:
            return EVP_aes_192_cbc();
        case 32:
            return EVP_aes_256_cbc();
        default:
            return NULL;
        }
    }
    if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
        switch (key_len) {
        case 16:
            return EVP_aes_128_ctr();
        case 24:
            return EVP_aes_192_ctr();
        case 32:
            return EVP_aes_256_ctr();
        default:
            return NULL;
        }
    }
    return NULL;
}

/* One-shot AES in either direction; output allocated as a signal_buffer. */
static int sg_aes(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                  const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, int enc)
{
    const EVP_CIPHER *c = sg_cipher(cipher, key_len);
    if (!c || iv_len != 16 || in_len > INT32_MAX - 32) return SG_ERR_INVAL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *tmp = malloc(in_len + 32);
    int rc = SG_ERR_UNKNOWN, n1 = 0, n2 = 0;
    if (!ctx || !tmp) {
        rc = SG_ERR_NOMEM;
        goto out;
    }
    if (EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc) != 1) goto out;
    if (EVP_CipherUpdate(ctx, tmp, &n1, in, (int)in_len) != 1) goto out;
    if (EVP_CipherFinal_ex(ctx, tmp + n1, &n2) != 1) goto out;
    *output = signal_buffer_create(tmp, (size_t)n1 + (size_t)n2);
    rc = *output ? 0 : SG_ERR_NOMEM;
out:
    if (tmp) {
        OPENSSL_cleanse(tmp, in_len + 32);
        free(tmp);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static int sg_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *pt, size_t pt_len, void *ud)
{
    return sg_aes(output, cipher, key, key_len, iv, iv_len, pt, pt_len, 1);
}

static int sg_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t iv_len, const uint8_t *ct, size_t ct_len, void *ud)
{
    return sg_aes(output, cipher, key, key_len, iv, iv_len, ct, ct_len, 0);
}

void sg_crypto_provider_init(signal_crypto_provider *p)
{
    memset(p, 0, sizeof *p);
    p->random_func = sg_random;
    p->hmac_sha256_init_func = sg_hmac_init;
    p->hmac_sha256_update_func = sg_hmac_update;
    p->hmac_sha256_final_func = sg_hmac_final;
    p->hmac_sha256_cleanup_func = sg_hmac_cleanup;
    p->sha512_digest_init_func = sg_sha512_init;
    p->sha512_digest_update_func = sg_sha512_update;
    p->sha512_digest_final_func = sg_sha512_final;
    p->sha512_digest_cleanup_func = sg_sha512_cleanup;
    p->encrypt_func = sg_encrypt;
    p->decrypt_func = sg_decrypt;
    p->user_data = NULL;
}

int sg_context_create(signal_context **out)
{
    signal_context *ctx = NULL;
    signal_crypto_provider p;
    *out = NULL;
    if (signal_context_create(&ctx, NULL) != 0) return -ENOMEM;
    sg_crypto_provider_init(&p);
    if (signal_context_set_crypto_provider(ctx, &p) != 0) {
        signal_context_destroy(ctx);
        return -EIO;
    }
    *out = ctx;
    return 0;
}
