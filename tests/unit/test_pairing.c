/* SPDX-License-Identifier: MIT */
/* test_pairing.c -- QR string, pair-success verification and reply against the `adv` vectors,
 * and every rejection (HMAC, account signature, prefixes, lengths, malformed iqs). */
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
#include "wa/node.h"
#include "wa/nodetext.h"
#include "wa/pairing.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *g_root;
static const cJSON *g_adv;

struct bytes {
    uint8_t *p;
    size_t n;
};

static struct bytes vec(const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(g_adv, name);
    assert_true(cJSON_IsString(it));
    struct bytes b;
    b.p = vectors_hexdup(it->valuestring, &b.n);
    assert_non_null(b.p);
    return b;
}

static void vec32(uint8_t out[32], const char *name)
{
    struct bytes b = vec(name);
    assert_int_equal(b.n, 32);
    memcpy(out, b.p, 32);
    free(b.p);
}

static int setup(void **state)
{
    (void)state;
    g_root = vectors_load();
    assert_non_null(g_root);
    g_adv = cJSON_GetObjectItemCaseSensitive(g_root, "adv");
    assert_non_null(g_adv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_root);
    return 0;
}

/* Companion identity and adv secret of the vectors. */
static void companion(struct wa_keypair *id, uint8_t adv[32])
{
    uint8_t priv[32], pub[32];
    vec32(priv, "companion_identity_priv");
    vec32(pub, "companion_identity_pub");
    assert_int_equal(wa_keypair_from_private(id, priv), 0);
    assert_memory_equal(id->pub, pub, 32);
    vec32(adv, "adv_secret");
}

static void test_sig_msgs(void **state)
{
    (void)state;
    struct bytes det = vec("ADVDeviceIdentity_details"), am = vec("account_signature_msg"),
                 dm = vec("device_signature_msg");
    uint8_t ident[32], acct[32];
    vec32(ident, "companion_identity_pub");
    vec32(acct, "account_pub");
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(wa_pairing_sig_msg(WA_ADV_PREFIX_ACCOUNT, det.p, det.n, ident, NULL, &b), 0);
    assert_int_equal(b.len, am.n);
    assert_memory_equal(b.data, am.p, am.n);
    buf_reset(&b);
    assert_int_equal(wa_pairing_sig_msg(WA_ADV_PREFIX_DEVICE, det.p, det.n, ident, acct, &b), 0);
    assert_int_equal(b.len, dm.n);
    assert_memory_equal(b.data, dm.p, dm.n);
    /* the vector's signatures verify with our verifier */
    struct bytes asig = vec("account_signature");
    assert_int_equal(wa_xeddsa_verify(acct, am.p, am.n, asig.p, asig.n), 0);
    Wa__ADVSignedDeviceIdentity *baileys = NULL;
    struct bytes rep = vec("pair_device_sign_reply_device_identity");
    baileys = wa__advsigned_device_identity__unpack(NULL, rep.n, rep.p);
    assert_non_null(baileys);
    assert_int_equal(wa_xeddsa_verify(ident, dm.p, dm.n, baileys->devicesignature.data,
                                      baileys->devicesignature.len),
                     0);
    wa__advsigned_device_identity__free_unpacked(baileys, NULL);
    buf_free(&b);
    free(det.p), free(am.p), free(dm.p), free(asig.p), free(rep.p);
}

static void test_hmac_vector(void **state)
{
    (void)state;
    struct bytes sdi = vec("ADVSignedDeviceIdentity"), mac = vec("hmac"),
                 cont = vec("ADVSignedDeviceIdentityHMAC_container");
    uint8_t adv[32], out[32];
    unsigned ol = 32;
    vec32(adv, "adv_secret");
    HMAC(EVP_sha256(), adv, 32, sdi.p, sdi.n, out, &ol);
    assert_memory_equal(out, mac.p, 32);
    Wa__ADVSignedDeviceIdentityHMAC *h =
        wa__advsigned_device_identity_hmac__unpack(NULL, cont.n, cont.p);
    assert_non_null(h);
    assert_int_equal(h->details.len, sdi.n);
    assert_memory_equal(h->details.data, sdi.p, sdi.n);
    wa__advsigned_device_identity_hmac__free_unpacked(h, NULL);
    free(sdi.p), free(mac.p), free(cont.p);
}

static void test_verify_vector(void **state)
{
    (void)state;
    struct wa_keypair id;
    uint8_t adv[32], acct[32];
    companion(&id, adv);
    vec32(acct, "account_pub");
    struct bytes cont = vec("ADVSignedDeviceIdentityHMAC_container"),
                 rep = vec("pair_device_sign_reply_device_identity"),
                 dm = vec("device_signature_msg"), sdi_v = vec("ADVSignedDeviceIdentity");
    struct wa_pair_result r;
    struct wa_pair_error e;
    assert_int_equal(wa_pairing_verify(adv, &id, cont.p, cont.n, &r, &e), 0);
    assert_int_equal(r.key_index, 3);
    assert_memory_equal(r.account_key, acct, 32);
    /* reply: same details + account signature as Baileys', no field 2, our device sig */
    Wa__ADVSignedDeviceIdentity *mine =
        wa__advsigned_device_identity__unpack(NULL, r.reply_len, r.reply);
    Wa__ADVSignedDeviceIdentity *theirs = wa__advsigned_device_identity__unpack(NULL, rep.n, rep.p);
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_false(mine->has_accountsignaturekey);
    assert_int_equal(mine->details.len, theirs->details.len);
    assert_memory_equal(mine->details.data, theirs->details.data, mine->details.len);
    assert_int_equal(mine->accountsignature.len, 64);
    assert_memory_equal(mine->accountsignature.data, theirs->accountsignature.data, 64);
    assert_int_equal(mine->devicesignature.len, 64);
    assert_int_equal(wa_xeddsa_verify(id.pub, dm.p, dm.n, mine->devicesignature.data, 64), 0);
    /* our reply has exactly Baileys' layout: details, accountSignature, deviceSignature */
    assert_int_equal(r.reply_len, rep.n);
    assert_memory_equal(r.reply, rep.p, rep.n - 64);
    /* account = the received ADVSignedDeviceIdentity + our device signature (field 4) */
    assert_int_equal(r.account_len, sdi_v.n + 2 + 64);
    assert_memory_equal(r.account, sdi_v.p, sdi_v.n);
    assert_memory_equal(r.account + sdi_v.n + 2, mine->devicesignature.data, 64);
    wa__advsigned_device_identity__free_unpacked(mine, NULL);
    wa__advsigned_device_identity__free_unpacked(theirs, NULL);
    free(cont.p), free(rep.p), free(dm.p), free(sdi_v.p);
}

/* The reply node built around Baileys' device-identity bytes encodes to the vector bytes. */
static void test_reply_node_bytes(void **state)
{
    (void)state;
    struct bytes enc = vec("reply_node_encoded"),
                 rep = vec("pair_device_sign_reply_device_identity");
    struct wa_node *vn = NULL;
    assert_int_equal(wa_node_decode(enc.p, enc.n, NULL, &vn, NULL, 0), 0);
    const char *id = wa_node_attr(vn, "id");
    assert_non_null(id);
    struct wa_pair_result r = {.key_index = 3, .reply_len = rep.n};
    memcpy(r.reply, rep.p, rep.n);
    struct wa_node *mine = wa_pairing_reply_node(id, &r);
    assert_non_null(mine);
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(wa_node_encode(mine, &out, NULL, 0), 0);
    assert_int_equal(out.len, enc.n);
    assert_memory_equal(out.data, enc.p, enc.n);
    buf_free(&out);
    wa_node_free(mine);
    wa_node_free(vn);
    free(enc.p), free(rep.p);
}

/* ---- building tampered inputs ---- */

struct forge {
    uint32_t key_index;
    int device_type;     /* -1 absent */
    uint8_t acct_prefix; /* second byte of the account signature prefix */
    int acct_key_len;    /* 32 normally */
    int acct_sig_len;    /* 64 normally */
    bool flip_sig;
    bool flip_hmac;
    int hmac_account_type; /* -1 absent; 1 = HOSTED */
    bool hmac_hosted_prefix;
    const uint8_t *sign_for; /* identity the phone signs for (NULL = companion) */
};

static struct bytes forge(const struct forge *f, const struct wa_keypair *id, const uint8_t adv[32])
{
    uint8_t apriv[32];
    struct wa_keypair acct;
    vec32(apriv, "account_priv");
    assert_int_equal(wa_keypair_from_private(&acct, apriv), 0);
    Wa__ADVDeviceIdentity di = WA__ADVDEVICE_IDENTITY__INIT;
    di.has_rawid = di.has_timestamp = di.has_keyindex = 1;
    di.rawid = 12345, di.timestamp = 1700000000, di.keyindex = f->key_index;
    if (f->device_type >= 0) {
        di.has_devicetype = 1;
        di.devicetype = (Wa__ADVEncryptionType)f->device_type;
    }
    uint8_t det[64];
    size_t dl = wa__advdevice_identity__pack(&di, det);
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(
        wa_pairing_sig_msg(f->acct_prefix, det, dl, f->sign_for ? f->sign_for : id->pub, NULL, &m),
        0);
    uint8_t sig[64];
    assert_int_equal(wa_xeddsa_sign(sig, acct.priv, m.data, m.len), 0);
    buf_free(&m);
    if (f->flip_sig) sig[10] ^= 1;
    Wa__ADVSignedDeviceIdentity s = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    s.has_details = s.has_accountsignaturekey = s.has_accountsignature = 1;
    s.details = (ProtobufCBinaryData){dl, det};
    s.accountsignaturekey = (ProtobufCBinaryData){(size_t)f->acct_key_len, acct.pub};
    s.accountsignature = (ProtobufCBinaryData){(size_t)f->acct_sig_len, sig};
    uint8_t sd[256];
    size_t sl = wa__advsigned_device_identity__pack(&s, sd);
    uint8_t mac[32];
    unsigned ml = 32;
    uint8_t hm[300] = {6, 5};
    memcpy(hm + 2, sd, sl);
    if (f->hmac_hosted_prefix)
        HMAC(EVP_sha256(), adv, 32, hm, sl + 2, mac, &ml);
    else
        HMAC(EVP_sha256(), adv, 32, sd, sl, mac, &ml);
    if (f->flip_hmac) mac[0] ^= 0x80;
    Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    h.has_details = h.has_hmac = 1;
    h.details = (ProtobufCBinaryData){sl, sd};
    h.hmac = (ProtobufCBinaryData){32, mac};
    if (f->hmac_account_type >= 0) {
        h.has_accounttype = 1;
        h.accounttype = (Wa__ADVEncryptionType)f->hmac_account_type;
    }
    struct bytes out;
    out.n = wa__advsigned_device_identity_hmac__get_packed_size(&h);
    out.p = malloc(out.n);
    assert_non_null(out.p);
    wa__advsigned_device_identity_hmac__pack(&h, out.p);
    return out;
}

static const struct forge GOOD = {.key_index = 2,
                                  .device_type = -1,
                                  .acct_prefix = 0,
                                  .acct_key_len = 32,
                                  .acct_sig_len = 64,
                                  .hmac_account_type = -1};

static void expect(const struct forge *f, int rc_want, int code, const char *text)
{
    struct wa_keypair id;
    uint8_t adv[32];
    companion(&id, adv);
    struct bytes c = forge(f, &id, adv);
    struct wa_pair_result r;
    struct wa_pair_error e;
    int rc = wa_pairing_verify(adv, &id, c.p, c.n, &r, &e);
    if (rc != rc_want) fail_msg("rc %d, want %d (%s)", rc, rc_want, e.why);
    if (rc_want == 0) {
        assert_int_equal(r.key_index, f->key_index);
    } else {
        assert_int_equal(e.code, code);
        assert_string_equal(e.text, text);
    }
    free(c.p);
}

static void test_forged_good(void **state)
{
    (void)state;
    expect(&GOOD, 0, 0, NULL);
    struct forge f = GOOD;
    f.device_type = 1, f.acct_prefix = WA_ADV_PREFIX_HOSTED_ACCOUNT; /* hosted device */
    expect(&f, 0, 0, NULL);
    f = GOOD;
    f.hmac_account_type = 1, f.hmac_hosted_prefix = true; /* hosted account HMAC */
    expect(&f, 0, 0, NULL);
    f = GOOD;
    f.hmac_account_type = 0; /* explicit E2EE */
    expect(&f, 0, 0, NULL);
}

static void test_reject_hmac(void **state)
{
    (void)state;
    struct forge f = GOOD;
    f.flip_hmac = true;
    expect(&f, -EKEYREJECTED, 401, "hmac-mismatch");
    f = GOOD;
    f.hmac_account_type = 1; /* HOSTED but HMAC without the 06 05 prefix */
    expect(&f, -EKEYREJECTED, 401, "hmac-mismatch");
    f = GOOD;
    f.hmac_hosted_prefix = true; /* prefix used although not HOSTED */
    expect(&f, -EKEYREJECTED, 401, "hmac-mismatch");
    /* the vector container with a different adv secret */
    struct wa_keypair id;
    uint8_t adv[32];
    companion(&id, adv);
    adv[31] ^= 1;
    struct bytes c = vec("ADVSignedDeviceIdentityHMAC_container");
    struct wa_pair_result r;
    struct wa_pair_error e;
    assert_int_equal(wa_pairing_verify(adv, &id, c.p, c.n, &r, &e), -EKEYREJECTED);
    assert_string_equal(e.text, "hmac-mismatch");
    free(c.p);
}

static void test_reject_account_signature(void **state)
{
    (void)state;
    struct forge f = GOOD;
    f.flip_sig = true;
    expect(&f, -EKEYREJECTED, 401, "signature-mismatch");
    f = GOOD;
    f.acct_prefix = WA_ADV_PREFIX_DEVICE; /* 06 01 instead of 06 00 */
    expect(&f, -EKEYREJECTED, 401, "signature-mismatch");
    f = GOOD;
    f.acct_prefix = WA_ADV_PREFIX_HOSTED_ACCOUNT; /* 06 05 for an E2EE device */
    expect(&f, -EKEYREJECTED, 401, "signature-mismatch");
    f = GOOD;
    f.device_type = 1; /* HOSTED device signed with 06 00 */
    expect(&f, -EKEYREJECTED, 401, "signature-mismatch");
    uint8_t other[32];
    memset(other, 0x42, 32);
    f = GOOD;
    f.sign_for = other; /* signed for another companion identity */
    expect(&f, -EKEYREJECTED, 401, "signature-mismatch");
}

static void test_reject_lengths(void **state)
{
    (void)state;
    struct forge f = GOOD;
    f.acct_key_len = 31;
    expect(&f, -EBADMSG, 500, "internal-error");
    f = GOOD;
    f.acct_sig_len = 63;
    expect(&f, -EBADMSG, 500, "internal-error");
    f = GOOD;
    f.acct_key_len = 0;
    expect(&f, -EBADMSG, 500, "internal-error");
}

static void test_reject_malformed(void **state)
{
    (void)state;
    struct wa_keypair id;
    uint8_t adv[32];
    companion(&id, adv);
    struct wa_pair_result r;
    struct wa_pair_error e;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(wa_pairing_verify(adv, &id, junk, sizeof(junk), &r, &e), -EBADMSG);
    assert_int_equal(e.code, 500);
    assert_int_equal(wa_pairing_verify(adv, &id, NULL, 0, &r, &e), -EBADMSG);
    const uint8_t no_hmac[] = {0x0a, 0x00}; /* details only */
    assert_int_equal(wa_pairing_verify(adv, &id, no_hmac, sizeof(no_hmac), &r, &e), -EBADMSG);
    /* details that are not an ADVSignedDeviceIdentity, with a valid HMAC */
    uint8_t bad[] = {0xff, 0xff};
    uint8_t mac[32];
    unsigned ml = 32;
    HMAC(EVP_sha256(), adv, 32, bad, 2, mac, &ml);
    Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    h.has_details = h.has_hmac = 1;
    h.details = (ProtobufCBinaryData){2, bad};
    h.hmac = (ProtobufCBinaryData){32, mac};
    uint8_t buf[64];
    size_t n = wa__advsigned_device_identity_hmac__pack(&h, buf);
    assert_int_equal(wa_pairing_verify(adv, &id, buf, n, &r, &e), -EBADMSG);
    assert_string_equal(e.text, "internal-error");
}

/* ---- whole iq ---- */

static struct wa_node *pair_success_iq(const char *from, const uint8_t *ident, size_t n,
                                       const char *jid, const char *lid, bool extra_child)
{
    struct buf t;
    buf_init(&t, 0);
    char hex[2048];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", ident[i]);
    assert_int_equal(buf_printf(&t,
                                "<iq from=@'%s' id='ps-7' type='set' xmlns='md' t='1700000000'>"
                                "<pair-success><device-identity>[hex %s]</device-identity>"
                                "<platform name='android'/><device jid=@'%s' lid=@'%s'/>"
                                "<biz name='Biz Co'/></pair-success>%s</iq>",
                                from, hex, jid, lid, extra_child ? "<x/>" : ""),
                     0);
    struct wa_node *node = NULL;
    char err[160];
    if (wa_nodetext_parse((const char *)t.data, t.len, &node, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    buf_free(&t);
    return node;
}

static void creds_from_vector(struct wa_creds *c)
{
    memset(c, 0, sizeof(*c));
    companion(&c->identity, c->adv_secret);
}

static void test_process_iq(void **state)
{
    (void)state;
    struct wa_creds cur, out;
    creds_from_vector(&cur);
    struct bytes cont = vec("ADVSignedDeviceIdentityHMAC_container");
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(g_adv, "creds_me");
    const char *pn = cJSON_GetObjectItemCaseSensitive(me, "id")->valuestring;
    const char *lid = cJSON_GetObjectItemCaseSensitive(me, "lid")->valuestring;
    struct wa_node *iq = pair_success_iq("s.whatsapp.net", cont.p, cont.n, pn, lid, false);
    struct wa_pair_result r;
    struct wa_pair_error e;
    assert_int_equal(wa_pairing_process(iq, &cur, &out, &r, &e), 0);
    assert_string_equal(out.me_pn, pn);
    assert_string_equal(out.me_lid, lid);
    assert_string_equal(out.platform, "android");
    assert_string_equal(out.push_name, "Biz Co");
    assert_int_equal(out.account_len, r.account_len);
    assert_memory_equal(out.account, r.account, r.account_len);
    assert_memory_equal(out.identity.priv, cur.identity.priv, 32);
    assert_true(wa_creds_is_paired(&out));
    assert_false(wa_creds_is_paired(&cur));
    wa_node_free(iq);

    /* rejections of the iq shape */
    const struct {
        const char *from, *jid, *lid;
        bool extra;
    } bad[] = {
        {"15551230000@s.whatsapp.net", pn, lid, false}, /* not from the server */
        {"s.whatsapp.net", pn, lid, true},              /* a second child */
        {"s.whatsapp.net", lid, lid, false},            /* device jid on @lid */
        {"s.whatsapp.net", pn, pn, false},              /* lid on @s.whatsapp.net */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        iq = pair_success_iq(bad[i].from, cont.p, cont.n, bad[i].jid, bad[i].lid, bad[i].extra);
        assert_int_equal(wa_pairing_process(iq, &cur, &out, &r, &e), -EBADMSG);
        assert_int_equal(e.code, 500);
        wa_node_free(iq);
    }
    /* a bad HMAC through the iq path */
    cur.adv_secret[0] ^= 1;
    iq = pair_success_iq("s.whatsapp.net", cont.p, cont.n, pn, lid, false);
    assert_int_equal(wa_pairing_process(iq, &cur, &out, &r, &e), -EKEYREJECTED);
    assert_int_equal(e.code, 401);
    struct wa_node *en = wa_pairing_error_node("ps-7", &e);
    struct buf t;
    buf_init(&t, 0);
    assert_int_equal(wa_nodetext_print(en, &t, WA_NODETEXT_COMPACT), 0);
    assert_int_equal(buf_append_byte(&t, 0), 0);
    assert_string_equal((char *)t.data, "<iq to=@'s.whatsapp.net' type='error' id='ps-7'>"
                                        "<error code='401' text='hmac-mismatch'/></iq>");
    buf_free(&t);
    wa_node_free(en);
    wa_node_free(iq);
    free(cont.p);
}

/* ---- QR ---- */

static void test_qr_string(void **state)
{
    (void)state;
    struct wa_creds c;
    memset(&c, 0, sizeof(c));
    struct bytes np = {0};
    const cJSON *keys =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g_root, "noise"), "keys");
    np.p = vectors_hexdup(cJSON_GetObjectItemCaseSensitive(keys, "client_static_pub")->valuestring,
                          &np.n);
    memcpy(c.noise.pub, np.p, 32);
    vec32(c.identity.pub, "companion_identity_pub");
    vec32(c.adv_secret, "adv_secret");
    char qr[WA_QR_MAX];
    int n = wa_pairing_qr_string("2@ref-one", 9, &c, "1", qr, sizeof(qr));
    const char *want = "https://wa.me/settings/linked_devices#2@ref-one,"
                       "wwb7DvK/i3+TutmBVfo32ux02wxMvtpsbx26nTZVglI=,"
                       "sl3FSFFjNp4XlDe7cv5L1KFCSCaCwwLWajotSGXD/Qs=,"
                       "ERERERERERERERERERERERERERERERERERERERERERE=,1";
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(qr, want);
    /* the part after '#' has exactly 5 comma-separated fields */
    int commas = 0;
    for (const char *p = strchr(qr, '#'); *p; p++)
        commas += *p == ',';
    assert_int_equal(commas, 4);
    assert_int_equal(wa_pairing_qr_string("a,b", 3, &c, "1", qr, sizeof(qr)), -EINVAL);
    assert_int_equal(wa_pairing_qr_string("", 0, &c, "1", qr, sizeof(qr)), -EINVAL);
    char big[WA_PAIR_REF_MAX + 2];
    memset(big, 'r', sizeof(big));
    assert_int_equal(wa_pairing_qr_string(big, sizeof(big), &c, "1", qr, sizeof(qr)), -EINVAL);
    assert_int_equal(wa_pairing_qr_string("2@x", 3, &c, "1", qr, 40), -ENOBUFS);
    assert_string_equal(qr, "");
    /* the longest ref fits WA_QR_MAX */
    assert_true(wa_pairing_qr_string(big, WA_PAIR_REF_MAX, &c, "1", qr, sizeof(qr)) > 0);
    free(np.p);
}

static void test_creds_generate(void **state)
{
    (void)state;
    struct wa_creds a, b;
    const char *why = NULL;
    assert_int_equal(wa_creds_generate(&a), 0);
    assert_int_equal(wa_creds_generate(&b), 0);
    assert_int_equal(wa_creds_validate(&a, &why), 0);
    assert_string_equal(why, "");
    assert_false(wa_creds_is_paired(&a));
    assert_memory_not_equal(a.noise.pub, b.noise.pub, 32);
    assert_memory_not_equal(a.adv_secret, b.adv_secret, 32);
    assert_int_equal(a.signed_prekey_id, 1);
    assert_int_equal(a.next_prekey_id, 1);
    assert_true(a.registration_id >= 1 && a.registration_id <= SG_REG_ID_MAX);
    a.signed_prekey_sig[3] ^= 1;
    assert_int_equal(wa_creds_validate(&a, &why), -EINVAL);
    assert_string_equal(why, "signed pre-key signature does not verify");
    b.identity.pub[0] ^= 1;
    assert_int_equal(wa_creds_validate(&b, &why), -EINVAL);
    wa_creds_wipe(&a);
    wa_creds_wipe(&b);
}

/* Regression (fuzz_pairing): a pair-success without <device-identity> crashed the client
 * (NULL node handed to wa_node_content_bytes). It must be refused as malformed. */
static void test_process_without_device_identity(void **state)
{
    (void)state;
    struct wa_creds cur, out;
    creds_from_vector(&cur);
    const char *text = "<iq from=@'s.whatsapp.net' type='result' id='1'><pair-success>"
                       "<gcm key-index='1'>[4B hex 0a020304]</gcm>"
                       "<device jid=@'15550001:3@s.whatsapp.net'/><platform name='android'/>"
                       "</pair-success></iq>";
    struct wa_node *iq = NULL;
    char err[256];
    assert_int_equal(wa_nodetext_parse(text, strlen(text), &iq, err, sizeof err), 0);
    struct wa_pair_result r;
    struct wa_pair_error e;
    assert_int_equal(wa_pairing_process(iq, &cur, &out, &r, &e), -EBADMSG);
    assert_int_equal(e.code, 500);
    wa_node_free(iq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sig_msgs),
        cmocka_unit_test(test_hmac_vector),
        cmocka_unit_test(test_verify_vector),
        cmocka_unit_test(test_reply_node_bytes),
        cmocka_unit_test(test_forged_good),
        cmocka_unit_test(test_reject_hmac),
        cmocka_unit_test(test_reject_account_signature),
        cmocka_unit_test(test_reject_lengths),
        cmocka_unit_test(test_reject_malformed),
        cmocka_unit_test(test_process_iq),
        cmocka_unit_test(test_qr_string),
        cmocka_unit_test(test_process_without_device_identity),
        cmocka_unit_test(test_creds_generate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
