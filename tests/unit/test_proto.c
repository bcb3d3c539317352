/* SPDX-License-Identifier: MIT */
/* test_proto.c -- wa.proto subset: vector messages decode and re-encode byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/hex.h"
#include "wa.pb-c.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *g_root;

static int load_vectors(void **state)
{
    g_root = vectors_load();
    assert_non_null(g_root);
    return 0;
}

static int free_vectors(void **state)
{
    cJSON_Delete(g_root);
    return 0;
}

static uint8_t *field(const char *section, const char *name, size_t *n)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(g_root, section);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(it));
    size_t l = strlen(it->valuestring);
    uint8_t *p = malloc(l / 2 + 1);
    assert_non_null(p);
    long r = hex_decode(p, l / 2 + 1, it->valuestring, l);
    assert_true(r >= 0);
    *n = (size_t)r;
    return p;
}

/* Pack m and compare with the original bytes. */
static void assert_repack(const ProtobufCMessage *m, const uint8_t *want, size_t n)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    assert_int_equal(len, n);
    uint8_t *p = malloc(len + 1);
    assert_non_null(p);
    assert_int_equal(protobuf_c_message_pack(m, p), len);
    assert_memory_equal(p, want, n);
    free(p);
}

static bool str_eq(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static void test_client_payload(void **state)
{
    size_t n;
    uint8_t *b = field("noise", "client_payload_plaintext", &n);
    Wa__ClientPayload *cp = wa__client_payload__unpack(NULL, n, b);
    assert_non_null(cp);
    assert_true(cp->has_username);
    assert_true(cp->username == 15551230000ull);
    assert_true(cp->has_passive && cp->passive);
    assert_true(cp->has_device);
    assert_int_equal(cp->device, 7);
    assert_true(cp->has_pull && cp->pull);
    assert_int_equal(cp->connecttype, WA__CLIENT_PAYLOAD__CONNECT_TYPE__WIFI_UNKNOWN);
    assert_int_equal(cp->connectreason, WA__CLIENT_PAYLOAD__CONNECT_REASON__USER_ACTIVATED);
    assert_null(cp->devicepairingdata);
    Wa__ClientPayload__UserAgent *ua = cp->useragent;
    assert_non_null(ua);
    assert_int_equal(ua->platform, WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB);
    assert_non_null(ua->appversion);
    assert_int_equal(ua->appversion->primary, 2);
    assert_int_equal(ua->appversion->secondary, 3000);
    assert_true(ua->appversion->tertiary > 1000000000u);
    assert_true(str_eq(ua->mcc, "000") && str_eq(ua->mnc, "000"));
    assert_true(str_eq(ua->osversion, "0.1") && str_eq(ua->device, "Desktop"));
    assert_true(str_eq(ua->localelanguageiso6391, "en"));
    assert_true(str_eq(ua->localecountryiso31661alpha2, "US"));
    assert_non_null(cp->webinfo);
    assert_true(cp->webinfo->has_websubplatform);
    assert_int_equal(cp->webinfo->websubplatform,
                     WA__CLIENT_PAYLOAD__WEB_INFO__WEB_SUB_PLATFORM__WEB_BROWSER);
    assert_repack(&cp->base, b, n);
    wa__client_payload__free_unpacked(cp, NULL);
    free(b);
}

static void test_cert_chain(void **state)
{
    size_t n;
    uint8_t *b = field("noise", "cert_chain_plaintext", &n);
    Wa__CertChain *cc = wa__cert_chain__unpack(NULL, n, b);
    assert_non_null(cc);
    assert_non_null(cc->leaf);
    assert_non_null(cc->intermediate);
    assert_int_equal(cc->leaf->signature.len, 64);
    Wa__CertChain__NoiseCertificate__Details *d =
        (Wa__CertChain__NoiseCertificate__Details *)protobuf_c_message_unpack(
            &wa__cert_chain__noise_certificate__details__descriptor, NULL, cc->leaf->details.len,
            cc->leaf->details.data);
    assert_non_null(d);
    assert_int_equal(d->serial, 2);
    assert_int_equal(d->issuerserial, 1);
    assert_int_equal(d->key.len, 32);
    assert_true(d->notbefore == 1700000000u && d->notafter == 4000000000u);
    assert_repack(&d->base, cc->leaf->details.data, cc->leaf->details.len);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    assert_repack(&cc->base, b, n);
    wa__cert_chain__free_unpacked(cc, NULL);
    free(b);
}

static void test_handshake_messages(void **state)
{
    size_t n;
    uint8_t *b = field("noise", "wire_client_first", &n);
    Wa__HandshakeMessage *m = wa__handshake_message__unpack(NULL, n - 7, b + 7);
    assert_non_null(m);
    assert_non_null(m->clienthello);
    assert_int_equal(m->clienthello->ephemeral.len, 32);
    assert_null(m->serverhello);
    assert_repack(&m->base, b + 7, n - 7);
    wa__handshake_message__free_unpacked(m, NULL);
    free(b);

    b = field("noise", "wire_server_hello_frame_body", &n);
    m = wa__handshake_message__unpack(NULL, n, b);
    assert_non_null(m);
    assert_non_null(m->serverhello);
    assert_int_equal(m->serverhello->static_.len, 48);
    assert_int_equal(m->serverhello->ephemeral.len, 32);
    assert_repack(&m->base, b, n);
    wa__handshake_message__free_unpacked(m, NULL);
    free(b);

    b = field("noise", "wire_client_second", &n);
    m = wa__handshake_message__unpack(NULL, n - 3, b + 3);
    assert_non_null(m);
    assert_non_null(m->clientfinish);
    assert_int_equal(m->clientfinish->static_.len, 48);
    assert_repack(&m->base, b + 3, n - 3);
    wa__handshake_message__free_unpacked(m, NULL);
    free(b);
}

static void test_adv(void **state)
{
    size_t n, dn;
    uint8_t *b = field("adv", "ADVSignedDeviceIdentityHMAC_container", &n);
    Wa__ADVSignedDeviceIdentityHMAC *h = wa__advsigned_device_identity_hmac__unpack(NULL, n, b);
    assert_non_null(h);
    assert_int_equal(h->hmac.len, 32);
    assert_repack(&h->base, b, n);
    Wa__ADVSignedDeviceIdentity *sdi =
        wa__advsigned_device_identity__unpack(NULL, h->details.len, h->details.data);
    assert_non_null(sdi);
    assert_int_equal(sdi->accountsignaturekey.len, 32);
    assert_int_equal(sdi->accountsignature.len, 64);
    assert_false(sdi->has_devicesignature);
    uint8_t *det = field("adv", "ADVDeviceIdentity_details", &dn);
    assert_int_equal(sdi->details.len, dn);
    assert_memory_equal(sdi->details.data, det, dn);
    Wa__ADVDeviceIdentity *di = wa__advdevice_identity__unpack(NULL, dn, det);
    assert_non_null(di);
    assert_int_equal(di->rawid, 12345);
    assert_true(di->timestamp == 1700000000u);
    assert_int_equal(di->keyindex, 3);
    assert_true(di->has_accounttype && di->accounttype == WA__ADVENCRYPTION_TYPE__E2EE);
    assert_true(di->has_devicetype && di->devicetype == WA__ADVENCRYPTION_TYPE__E2EE);
    assert_repack(&di->base, det, dn);
    wa__advdevice_identity__free_unpacked(di, NULL);
    wa__advsigned_device_identity__free_unpacked(sdi, NULL);
    wa__advsigned_device_identity_hmac__free_unpacked(h, NULL);
    free(det);
    free(b);

    /* The reply omits accountSignatureKey and carries the device signature. */
    b = field("adv", "pair_device_sign_reply_device_identity", &n);
    sdi = wa__advsigned_device_identity__unpack(NULL, n, b);
    assert_non_null(sdi);
    assert_false(sdi->has_accountsignaturekey);
    assert_int_equal(sdi->devicesignature.len, 64);
    assert_repack(&sdi->base, b, n);
    wa__advsigned_device_identity__free_unpacked(sdi, NULL);
    free(b);
}

static void test_key_index_list_packed(void **state)
{
    uint32_t idx[] = {1, 2, 300};
    Wa__ADVKeyIndexList kl = WA__ADVKEY_INDEX_LIST__INIT;
    kl.has_rawid = 1;
    kl.rawid = 9;
    kl.n_validindexes = 3;
    kl.validindexes = idx;
    uint8_t buf[64];
    size_t n = wa__advkey_index_list__pack(&kl, buf);
    /* field 4, wire type 2 (packed): tag 0x22, length 4, then 01 02 ac 02 */
    static const uint8_t packed[] = {0x22, 0x04, 0x01, 0x02, 0xac, 0x02};
    assert_non_null(memmem(buf, n, packed, sizeof packed));
    Wa__ADVKeyIndexList *back = wa__advkey_index_list__unpack(NULL, n, buf);
    assert_non_null(back);
    assert_int_equal(back->n_validindexes, 3);
    assert_int_equal(back->validindexes[2], 300);
    wa__advkey_index_list__free_unpacked(back, NULL);
}

static void test_message_roundtrip(void **state)
{
    uint8_t secret[32];
    memset(secret, 0xab, sizeof secret);
    Wa__ExtendedTextMessage et = WA__EXTENDED_TEXT_MESSAGE__INIT;
    et.text = "hi alice";
    Wa__MessageContextInfo mci = WA__MESSAGE_CONTEXT_INFO__INIT;
    mci.has_messagesecret = 1;
    mci.messagesecret = (ProtobufCBinaryData){32, secret};
    Wa__Message inner = WA__MESSAGE__INIT;
    inner.extendedtextmessage = &et;
    inner.messagecontextinfo = &mci;
    Wa__DeviceSentMessage dsm = WA__DEVICE_SENT_MESSAGE__INIT;
    dsm.destinationjid = "15550001111@s.whatsapp.net";
    dsm.message = &inner;
    Wa__Message outer = WA__MESSAGE__INIT;
    outer.devicesentmessage = &dsm;
    outer.messagecontextinfo = &mci;
    size_t n = wa__message__get_packed_size(&outer);
    uint8_t *p = malloc(n);
    assert_non_null(p);
    wa__message__pack(&outer, p);
    /* deviceSentMessage is field 31: tag varint (31 << 3 | 2) = 0xfa 0x01. */
    assert_int_equal(p[0], 0xfa);
    assert_int_equal(p[1], 0x01);
    Wa__Message *m = wa__message__unpack(NULL, n, p);
    assert_non_null(m);
    assert_non_null(m->devicesentmessage);
    assert_string_equal(m->devicesentmessage->destinationjid, "15550001111@s.whatsapp.net");
    assert_non_null(m->devicesentmessage->message);
    assert_string_equal(m->devicesentmessage->message->extendedtextmessage->text, "hi alice");
    assert_int_equal(m->messagecontextinfo->messagesecret.len, 32);
    assert_repack(&m->base, p, n);
    wa__message__free_unpacked(m, NULL);
    free(p);

    /* conversation (field 1) and an ephemeral wrapper (field 40) around it. */
    static const uint8_t conv[] = {0x0a, 0x02, 'h', 'i'};
    static const uint8_t eph[] = {0xc2, 0x02, 0x06, 0x0a, 0x04, 0x0a, 0x02, 'h', 'i'};
    m = wa__message__unpack(NULL, sizeof conv, conv);
    assert_non_null(m);
    assert_string_equal(m->conversation, "hi");
    wa__message__free_unpacked(m, NULL);
    m = wa__message__unpack(NULL, sizeof eph, eph);
    assert_non_null(m);
    assert_non_null(m->ephemeralmessage);
    assert_string_equal(m->ephemeralmessage->message->conversation, "hi");
    assert_repack(&m->base, eph, sizeof eph);
    wa__message__free_unpacked(m, NULL);
}

static void test_unknown_fields_skipped(void **state)
{
    /* Message with an unknown field 1000 (a varint) before conversation. */
    static const uint8_t in[] = {0xc0, 0x3e, 0x01, 0x0a, 0x01, 'x'};
    Wa__Message *m = wa__message__unpack(NULL, sizeof in, in);
    assert_non_null(m);
    assert_string_equal(m->conversation, "x");
    wa__message__free_unpacked(m, NULL);
    /* Truncated input is rejected. */
    assert_null(wa__message__unpack(NULL, sizeof in - 1, in));
}

/* Fuzz regression (fuzz_proto): a non-minimal varint tag for field 0 (85 00) is accepted by
 * protobuf-c as an unknown field, but its minimal re-encoding is refused. Decoding must stay
 * safe and the known fields intact; wagate never re-serialises received messages. */
static void test_nonminimal_tag0(void **state)
{
    static const uint8_t in[] = {0x85, 0x00, 0x62, 0x00, 0x62, 0x00, 0x62,
                                 0x00, 0x62, 0x00, 0x62, 0x00, 0x62, 0x00};
    Wa__Message *m = wa__message__unpack(NULL, sizeof in, in);
    if (!m) return; /* a stricter protobuf-c is fine too */
    assert_non_null(m->protocolmessage);
    assert_null(m->conversation);
    wa__message__free_unpacked(m, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_payload),         cmocka_unit_test(test_cert_chain),
        cmocka_unit_test(test_handshake_messages),     cmocka_unit_test(test_adv),
        cmocka_unit_test(test_key_index_list_packed),  cmocka_unit_test(test_message_roundtrip),
        cmocka_unit_test(test_unknown_fields_skipped), cmocka_unit_test(test_nonminimal_tag0),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
