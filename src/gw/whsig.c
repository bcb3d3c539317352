/* SPDX-License-Identifier: MIT */
/* whsig.c -- webhook signature (HMAC-SHA256 over OpenSSL), delivery id, retry schedule. */
#include "gw/whsig.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int wh_sign(const char *secret, int64_t timestamp, const void *body, size_t len, char *out,
            size_t outlen)
{
    if (!secret || (!body && len) || !out || outlen < WH_SIG_LEN + 1) return -EINVAL;
    char ts[32];
    int tn = snprintf(ts, sizeof ts, "%" PRId64 ".", timestamp);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    int ok = 0;
    /* the streaming MAC: timestamp and body are separate buffers */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    if (c) {
        OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                          OSSL_PARAM_construct_end()};
        size_t outl = 0;
        ok = EVP_MAC_init(c, (const unsigned char *)secret, strlen(secret), p) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)ts, (size_t)tn) == 1 &&
             (len == 0 || EVP_MAC_update(c, body, len) == 1) &&
             EVP_MAC_final(c, mac, &outl, sizeof mac) == 1 && outl == 32;
        maclen = (unsigned)outl;
    }
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    if (!ok || maclen != 32) return -EIO;
    memcpy(out, "sha256=", 7);
    hex(mac, 32, out + 7);
    return 0;
}

int wh_delivery_id(const char *account, const char *url, const char *event_key, char *out,
                   size_t outlen)
{
    if (!account || !url || !event_key || !out || outlen < WH_ID_LEN + 1) return -EINVAL;
    unsigned char d[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, account, strlen(account)) == 1 &&
             EVP_DigestUpdate(c, "\n", 1) == 1 && EVP_DigestUpdate(c, url, strlen(url)) == 1 &&
             EVP_DigestUpdate(c, "\n", 1) == 1 &&
             EVP_DigestUpdate(c, event_key, strlen(event_key)) == 1 &&
             EVP_DigestFinal_ex(c, d, NULL) == 1;
    EVP_MD_CTX_free(c);
    if (!ok) return -EIO;
    memcpy(out, "wh_", 3);
    hex(d, 16, out + 3);
    return 0;
}

uint64_t wh_backoff_ms(unsigned base_ms, unsigned cap_ms, unsigned attempt)
{
    if (attempt == 0) attempt = 1;
    uint64_t d = base_ms;
    for (unsigned i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    return d < cap_ms ? d : cap_ms;
}

int wh_event_match(const char (*events)[48], unsigned n, const char *type)
{
    for (unsigned i = 0; i < n; i++) {
        const char *e = events[i];
        size_t l = strlen(e);
        if (strcmp(e, "*") == 0 || strcmp(e, type) == 0) return 1;
        if (l >= 2 && e[l - 1] == '*' && strncmp(e, type, l - 1) == 0) return 1;
    }
    return 0;
}
