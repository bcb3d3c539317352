/* SPDX-License-Identifier: MIT */
/* fuzz_pairing.c -- pair-success verification on peer-controlled bytes.
 *
 * First byte chooses the target:
 *   even: the rest is an ADVSignedDeviceIdentity; it is wrapped in an HMAC container with a
 *         VALID HMAC under a fixed ADV secret, so verification gets past the HMAC check and
 *         the fuzzer explores the inner parsing, prefixes, lengths and signature checks;
 *   odd:  the rest is a binary node (flags byte first) handed to wa_pairing_process as the
 *         pair-success iq.
 * Nothing may crash or leak; a verified result must carry a 32-byte account key. */
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa.pb-c.h"
#include "wa/creds.h"
#include "wa/keys.h"
#include "wa/node.h"
#include "wa/pairing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wa_creds g_creds;
static int g_ready;

static void setup(void)
{
    if (g_ready) return;
    if (wa_creds_generate(&g_creds) != 0) abort();
    memset(g_creds.adv_secret, 0x42, sizeof g_creds.adv_secret);
    g_ready = 1;
}

static void fuzz_verify(const uint8_t *p, size_t n)
{
    uint8_t mac[32];
    unsigned maclen = 0;
    HMAC(EVP_sha256(), g_creds.adv_secret, sizeof g_creds.adv_secret, p, n, mac, &maclen);
    Wa__ADVSignedDeviceIdentityHMAC c = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    c.has_details = 1;
    c.details.data = (uint8_t *)p;
    c.details.len = n;
    c.has_hmac = 1;
    c.hmac.data = mac;
    c.hmac.len = maclen;
    size_t len = wa__advsigned_device_identity_hmac__get_packed_size(&c);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return;
    wa__advsigned_device_identity_hmac__pack(&c, buf);
    struct wa_pair_result r;
    struct wa_pair_error e;
    int rc = wa_pairing_verify(g_creds.adv_secret, &g_creds.identity, buf, len, &r, &e);
    if (rc == 0 && (r.account_len == 0 || r.account_len > sizeof r.account)) abort();
    free(buf);
}

static void fuzz_process(const uint8_t *p, size_t n)
{
    struct wa_node *iq = NULL;
    char err[256];
    if (wa_node_decode(p, n, NULL, &iq, err, sizeof err) != 0) return;
    struct wa_creds out;
    struct wa_pair_result r;
    struct wa_pair_error e;
    int rc = wa_pairing_process(iq, &g_creds, &out, &r, &e);
    (void)rc;
    wa_node_free(iq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192) return 0;
    setup();
    if (data[0] & 1)
        fuzz_process(data + 1, size - 1);
    else
        fuzz_verify(data + 1, size - 1);
    return 0;
}
