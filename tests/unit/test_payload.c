/* SPDX-License-Identifier: MIT */
/* test_payload.c -- ClientPayload (registration and login) against the noise vector and the
 * payloads Baileys sent in the verified transcript. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/buf.h"
#include "wa.pb-c.h"
#include "wa/creds.h"
#include "wa/keys.h"
#include "wa/payload.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSCRIPT WAGATE_SOURCE_DIR "/../shared/vectors/baileys-transcript.txt"

/* The JSON of the n-th (0-based) "C->S ClientPayload {...}" line of the transcript. */
static cJSON *transcript_payload(int nth)
{
    FILE *f = fopen(TRANSCRIPT, "r");
    assert_non_null(f);
    static char line[16384];
    cJSON *j = NULL;
    while (!j && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "C->S ClientPayload {");
        if (p && nth-- == 0) j = cJSON_Parse(strchr(p, '{'));
    }
    fclose(f);
    assert_non_null(j);
    return j;
}

static const char *jstr(const cJSON *o, const char *path)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s", path);
    const cJSON *it = o;
    for (char *save = NULL, *k = strtok_r(tmp, ".", &save); k; k = strtok_r(NULL, ".", &save))
        it = cJSON_GetObjectItemCaseSensitive(it, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static bool jbool(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsBool(it));
    return cJSON_IsTrue(it);
}

static size_t b64dec(const char *s, uint8_t *out)
{
    int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)strlen(s));
    assert_true(n >= 0);
    size_t l = strlen(s);
    while (l && s[l - 1] == '=')
        l--, n--;
    return (size_t)n;
}

/* userAgent/webInfo/connect fields equal the transcript's. */
static void check_common(const Wa__ClientPayload *cp, const cJSON *t)
{
    const Wa__ClientPayload__UserAgent *ua = cp->useragent;
    assert_non_null(ua);
    assert_string_equal(jstr(t, "userAgent.platform"), "WEB");
    assert_int_equal(ua->platform, WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB);
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(t, "userAgent"), "appVersion");
    assert_int_equal(ua->appversion->primary,
                     cJSON_GetObjectItemCaseSensitive(av, "primary")->valueint);
    assert_int_equal(ua->appversion->secondary,
                     cJSON_GetObjectItemCaseSensitive(av, "secondary")->valueint);
    assert_int_equal(ua->appversion->tertiary,
                     (uint32_t)cJSON_GetObjectItemCaseSensitive(av, "tertiary")->valuedouble);
    assert_false(ua->appversion->has_quaternary);
    assert_string_equal(ua->mcc, jstr(t, "userAgent.mcc"));
    assert_string_equal(ua->mnc, jstr(t, "userAgent.mnc"));
    assert_string_equal(ua->osversion, jstr(t, "userAgent.osVersion"));
    assert_string_equal(ua->device, jstr(t, "userAgent.device"));
    assert_string_equal(ua->osbuildnumber, jstr(t, "userAgent.osBuildNumber"));
    assert_null(ua->manufacturer);
    assert_string_equal(jstr(t, "userAgent.releaseChannel"), "RELEASE");
    assert_true(ua->has_releasechannel && ua->releasechannel == 0);
    assert_string_equal(ua->localelanguageiso6391, jstr(t, "userAgent.localeLanguageIso6391"));
    assert_string_equal(ua->localecountryiso31661alpha2,
                        jstr(t, "userAgent.localeCountryIso31661Alpha2"));
    assert_string_equal(jstr(t, "webInfo.webSubPlatform"), "WEB_BROWSER");
    assert_true(cp->webinfo && cp->webinfo->has_websubplatform && cp->webinfo->websubplatform == 0);
    assert_string_equal(jstr(t, "connectType"), "WIFI_UNKNOWN");
    assert_true(cp->has_connecttype && cp->connecttype == 1);
    assert_string_equal(jstr(t, "connectReason"), "USER_ACTIVATED");
    assert_true(cp->has_connectreason && cp->connectreason == 1);
    assert_true(cp->has_passive && cp->passive == jbool(t, "passive"));
    assert_true(cp->has_pull && cp->pull == jbool(t, "pull"));
    assert_null(cp->pushname);
}

static void test_login_vector(void **state)
{
    (void)state;
    cJSON *root = vectors_load();
    assert_non_null(root);
    size_t n = 0;
    uint8_t *want = vectors_hexdup(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "noise"),
                                         "client_payload_plaintext")
            ->valuestring,
        &n);
    struct wa_creds c;
    memset(&c, 0, sizeof(c));
    snprintf(c.me_pn, sizeof(c.me_pn), "15551230000:7@s.whatsapp.net");
    struct buf b;
    buf_init(&b, WA_PAYLOAD_MAX);
    assert_int_equal(wa_payload_login(&c, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);

    /* and the transcript's login payload, field by field */
    cJSON *t = transcript_payload(1);
    Wa__ClientPayload *cp = wa__client_payload__unpack(NULL, b.len, b.data);
    assert_non_null(cp);
    check_common(cp, t);
    assert_true(cp->has_username);
    assert_int_equal(cp->username, strtoull(jstr(t, "username"), NULL, 10));
    assert_true(cp->has_device);
    assert_int_equal(cp->device, cJSON_GetObjectItemCaseSensitive(t, "device")->valueint);
    assert_null(cp->devicepairingdata);
    wa__client_payload__free_unpacked(cp, NULL);
    cJSON_Delete(t);
    buf_free(&b);
    free(want);
    cJSON_Delete(root);
}

static void test_login_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "15551230000@lid",
                         "2111:7@lid",
                         "abc:1@s.whatsapp.net",
                         "12345678901234567890:1@s.whatsapp.net",
                         "s.whatsapp.net"};
    struct wa_creds c;
    struct buf b;
    buf_init(&b, WA_PAYLOAD_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        memset(&c, 0, sizeof(c));
        snprintf(c.me_pn, sizeof(c.me_pn), "%s", bad[i]);
        if (wa_payload_login(&c, &b) != -EINVAL) fail_msg("accepted %s", bad[i]);
    }
    /* device 0 (PAIR form) is fine: no :dev */
    snprintf(c.me_pn, sizeof(c.me_pn), "15551230000@s.whatsapp.net");
    assert_int_equal(wa_payload_login(&c, &b), 0);
    buf_free(&b);
}

static void test_registration(void **state)
{
    (void)state;
    struct wa_creds c;
    assert_int_equal(wa_creds_generate(&c), 0);
    c.registration_id = 9;
    struct buf b;
    buf_init(&b, WA_PAYLOAD_MAX);
    assert_int_equal(wa_payload_registration(&c, &b), 0);
    Wa__ClientPayload *cp = wa__client_payload__unpack(NULL, b.len, b.data);
    assert_non_null(cp);
    cJSON *t = transcript_payload(0);
    check_common(cp, t);
    assert_false(cp->has_username);
    assert_false(cp->has_device);
    const Wa__ClientPayload__DevicePairingRegistrationData *d = cp->devicepairingdata;
    assert_non_null(d);
    uint8_t tmp[256];
    /* eRegid: 4 bytes BE (the transcript's regid was 9 too) */
    size_t n = b64dec(jstr(t, "devicePairingData.eRegid"), tmp);
    assert_int_equal(d->eregid.len, n);
    assert_memory_equal(d->eregid.data, tmp, n);
    n = b64dec(jstr(t, "devicePairingData.eKeytype"), tmp);
    assert_int_equal(d->ekeytype.len, 1);
    assert_memory_equal(d->ekeytype.data, tmp, n);
    n = b64dec(jstr(t, "devicePairingData.eSkeyId"), tmp);
    assert_int_equal(d->eskeyid.len, 3);
    assert_memory_equal(d->eskeyid.data, tmp, n);
    n = b64dec(jstr(t, "devicePairingData.buildHash"), tmp);
    assert_int_equal(n, 16);
    assert_memory_equal(d->buildhash.data, tmp, 16);
    assert_memory_equal(d->buildhash.data,
                        "\xf6\xf6\x5c\x06\x07\xa1\xcd\xff\xd8\x75\x2b\x05\x1f\xc9\x5e\xdf", 16);
    n = b64dec(jstr(t, "devicePairingData.deviceProps"), tmp);
    assert_int_equal(d->deviceprops.len, n);
    assert_memory_equal(d->deviceprops.data, tmp, n);
    assert_int_equal(d->eident.len, 32);
    assert_memory_equal(d->eident.data, c.identity.pub, 32);
    assert_int_equal(d->eskeyval.len, 32);
    assert_memory_equal(d->eskeyval.data, c.signed_prekey.pub, 32);
    uint8_t msg[33] = {5};
    memcpy(msg + 1, d->eskeyval.data, 32);
    assert_int_equal(d->eskeysig.len, 64);
    assert_int_equal(wa_xeddsa_verify(d->eident.data, msg, 33, d->eskeysig.data, 64), 0);
    /* the transcript's own signature verifies over the same construction */
    uint8_t ti[40], tv[40], ts[80];
    assert_int_equal(b64dec(jstr(t, "devicePairingData.eIdent"), ti), 32);
    assert_int_equal(b64dec(jstr(t, "devicePairingData.eSkeyVal"), tv), 32);
    assert_int_equal(b64dec(jstr(t, "devicePairingData.eSkeySig"), ts), 64);
    memcpy(msg + 1, tv, 32);
    assert_int_equal(wa_xeddsa_verify(ti, msg, 33, ts, 64), 0);
    wa__client_payload__free_unpacked(cp, NULL);
    cJSON_Delete(t);
    buf_free(&b);
    wa_creds_wipe(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_vector),
        cmocka_unit_test(test_login_rejects),
        cmocka_unit_test(test_registration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
