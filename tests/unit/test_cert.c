/* SPDX-License-Identifier: MIT */
/* test_cert.c -- certificate chain checks, XEdDSA wrappers and the libsignal crypto provider. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/buf.h"
#include "core/hex.h"
#include "signal/sg_crypto.h"
#include "wa/cert.h"
#include "wa/keys.h"
#include "wa.pb-c.h"

#include <cjson/cJSON.h>
#include <curve.h>
#include <errno.h>
#include <stdbool.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000u

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

/* Decode hex string s into a fresh buffer; *n gets the length. */
static uint8_t *hexdup(const char *s, size_t *n)
{
    uint8_t *p = vectors_hexdup(s, n);
    assert_non_null(p);
    return p;
}

static uint8_t *field(const char *section, const char *sub, const char *name, size_t *n)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(g_root, section);
    if (sub) o = cJSON_GetObjectItemCaseSensitive(o, sub);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(it));
    return hexdup(it->valuestring, n);
}

static void key32(uint8_t out[32], const char *section, const char *sub, const char *name)
{
    size_t n;
    uint8_t *p = field(section, sub, name, &n);
    assert_int_equal(n, 32);
    memcpy(out, p, 32);
    free(p);
}

/* ---- the vector chain ---- */

static void test_vector_chain_verifies(void **state)
{
    size_t n;
    uint8_t root[32], leaf[32];
    const char *detail = "x";
    uint8_t *chain = field("noise", NULL, "cert_chain_plaintext", &n);
    key32(root, "noise", "keys", "fake_root_pub");
    key32(leaf, "noise", "keys", "server_static_pub");
    assert_int_equal(wa_cert_verify(chain, n, root, leaf, NOW, &detail), 0);
    assert_string_equal(detail, "");
    /* Boundaries of the window: 1700000000 .. 4000000000. */
    assert_int_equal(wa_cert_verify(chain, n, root, leaf, 1700000000u, NULL), 0);
    assert_int_equal(wa_cert_verify(chain, n, root, leaf, 4000000000u, NULL), 0);
    assert_int_equal(wa_cert_verify(chain, n, root, leaf, 1699999999u, &detail), -EKEYEXPIRED);
    assert_string_equal(detail, "noise: cert: intermediate certificate not yet valid");
    assert_int_equal(wa_cert_verify(chain, n, root, leaf, 4000000001u, &detail), -EKEYEXPIRED);
    assert_string_equal(detail, "noise: cert: intermediate certificate expired");
    /* Wrong root: the real WhatsApp root did not sign this chain. */
    assert_int_equal(wa_cert_verify(chain, n, wa_cert_root_pubkey, leaf, NOW, &detail),
                     -EKEYREJECTED);
    assert_string_equal(detail, "noise: cert: intermediate not signed by the root key");
    /* Leaf key mismatch. */
    uint8_t other[32];
    key32(other, "noise", "keys", "client_static_pub");
    assert_int_equal(wa_cert_verify(chain, n, root, other, NOW, &detail), -EKEYREJECTED);
    assert_string_equal(detail, "noise: cert: leaf key does not match server static key");
    /* Garbage and truncation. */
    assert_int_equal(wa_cert_verify(chain, n - 1, root, leaf, NOW, &detail), -EBADMSG);
    assert_string_equal(detail, "noise: cert: malformed certificate chain");
    free(chain);
}

static void test_default_root_constant(void **state)
{
    uint8_t want[32];
    assert_int_equal(hex_decode(want, sizeof want,
                                "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b",
                                64),
                     32);
    assert_memory_equal(wa_cert_root_pubkey, want, 32);
}

/* ---- tampered chains built field by field ---- */

struct chain_opts {
    uint32_t inter_serial, inter_issuer, leaf_serial, leaf_issuer;
    uint64_t inter_nb, inter_na, leaf_nb, leaf_na;
    size_t inter_key_len;     /* 32 normally */
    bool leaf_signed_by_root; /* instead of by the intermediate */
    bool corrupt_inter_sig, corrupt_leaf_sig;
    size_t inter_sig_len, leaf_sig_len; /* 64 normally */
    bool no_leaf, no_inter, no_leaf_details, no_inter_sig, no_inter_details, no_leaf_sig;
    bool garbage_leaf_details;
};

static struct wa_keypair g_root_kp, g_inter_kp, g_leaf_kp;

static int setup_keys(void **state)
{
    assert_int_equal(wa_keypair_generate(&g_root_kp), 0);
    assert_int_equal(wa_keypair_generate(&g_inter_kp), 0);
    assert_int_equal(wa_keypair_generate(&g_leaf_kp), 0);
    return 0;
}

static struct chain_opts good_opts(void)
{
    struct chain_opts o = {0};
    o.inter_serial = 5;
    o.leaf_serial = 6;
    o.leaf_issuer = 5;
    o.inter_nb = o.leaf_nb = NOW - 10;
    o.inter_na = o.leaf_na = NOW + 10;
    o.inter_key_len = 32;
    o.inter_sig_len = o.leaf_sig_len = 64;
    return o;
}

static ProtobufCBinaryData pack_details(uint32_t serial, uint32_t issuer, const uint8_t *key,
                                        size_t keylen, uint64_t nb, uint64_t na)
{
    Wa__CertChain__NoiseCertificate__Details d = WA__CERT_CHAIN__NOISE_CERTIFICATE__DETAILS__INIT;
    d.has_serial = d.has_issuerserial = d.has_key = d.has_notbefore = d.has_notafter = 1;
    d.serial = serial;
    d.issuerserial = issuer;
    d.key.data = (uint8_t *)key;
    d.key.len = keylen;
    d.notbefore = nb;
    d.notafter = na;
    ProtobufCBinaryData b;
    b.len = protobuf_c_message_get_packed_size(&d.base);
    b.data = malloc(b.len + 1);
    assert_non_null(b.data);
    protobuf_c_message_pack(&d.base, b.data);
    return b;
}

static void build_chain(const struct chain_opts *o, struct buf *out)
{
    uint8_t ikey[33], isig[64], lsig[64];
    memcpy(ikey, g_inter_kp.pub, 32);
    ikey[32] = 0;
    ProtobufCBinaryData idet = pack_details(o->inter_serial, o->inter_issuer, ikey,
                                            o->inter_key_len, o->inter_nb, o->inter_na);
    ProtobufCBinaryData ldet =
        pack_details(o->leaf_serial, o->leaf_issuer, g_leaf_kp.pub, 32, o->leaf_nb, o->leaf_na);
    if (o->garbage_leaf_details) {
        ldet.data[0] = 0xff;
        ldet.len = 1;
    }
    assert_int_equal(wa_xeddsa_sign(isig, g_root_kp.priv, idet.data, idet.len), 0);
    assert_int_equal(wa_xeddsa_sign(lsig, o->leaf_signed_by_root ? g_root_kp.priv : g_inter_kp.priv,
                                    ldet.data, ldet.len),
                     0);
    if (o->corrupt_inter_sig) isig[3] ^= 1;
    if (o->corrupt_leaf_sig) lsig[40] ^= 1;
    Wa__CertChain__NoiseCertificate ic = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
    Wa__CertChain__NoiseCertificate lc = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
    ic.has_details = !o->no_inter_details;
    ic.details = idet;
    ic.has_signature = !o->no_inter_sig;
    ic.signature = (ProtobufCBinaryData){o->inter_sig_len, isig};
    lc.has_details = !o->no_leaf_details;
    lc.details = ldet;
    lc.has_signature = !o->no_leaf_sig;
    lc.signature = (ProtobufCBinaryData){o->leaf_sig_len, lsig};
    Wa__CertChain cc = WA__CERT_CHAIN__INIT;
    cc.intermediate = o->no_inter ? NULL : &ic;
    cc.leaf = o->no_leaf ? NULL : &lc;
    size_t n = wa__cert_chain__get_packed_size(&cc);
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    wa__cert_chain__pack(&cc, p);
    buf_reset(out);
    assert_int_equal(buf_append(out, p, n), 0);
    free(p);
    free(idet.data);
    free(ldet.data);
}

static void expect_fail(const struct chain_opts *o, int rc, const char *detail)
{
    struct buf b;
    const char *got = NULL;
    buf_init(&b, 0);
    build_chain(o, &b);
    assert_int_equal(wa_cert_verify(b.data, b.len, g_root_kp.pub, g_leaf_kp.pub, NOW, &got), rc);
    assert_string_equal(got, detail);
    buf_free(&b);
}

static void test_built_chain_ok(void **state)
{
    struct chain_opts o = good_opts();
    struct buf b;
    buf_init(&b, 0);
    build_chain(&o, &b);
    assert_int_equal(wa_cert_verify(b.data, b.len, g_root_kp.pub, g_leaf_kp.pub, NOW, NULL), 0);
    buf_free(&b);
}

#define CASE(field_assign, rc, msg)                                                                \
    do {                                                                                           \
        struct chain_opts o = good_opts();                                                         \
        field_assign;                                                                              \
        expect_fail(&o, rc, msg);                                                                  \
    } while (0)

static void test_each_check_fails(void **state)
{
    CASE(o.no_inter = true, -EBADMSG, "noise: cert: missing intermediate certificate");
    CASE(o.no_leaf = true, -EBADMSG, "noise: cert: missing leaf certificate");
    CASE(o.no_inter_details = true, -EBADMSG, "noise: cert: intermediate has no details");
    CASE(o.no_inter_sig = true, -EBADMSG, "noise: cert: intermediate has no signature");
    CASE(o.no_leaf_details = true, -EBADMSG, "noise: cert: leaf has no details");
    CASE(o.no_leaf_sig = true, -EBADMSG, "noise: cert: leaf has no signature");
    CASE(o.inter_sig_len = 63, -EBADMSG, "noise: cert: intermediate signature is not 64 bytes");
    CASE(o.leaf_sig_len = 32, -EBADMSG, "noise: cert: leaf signature is not 64 bytes");
    CASE(o.corrupt_inter_sig = true, -EKEYREJECTED,
         "noise: cert: intermediate not signed by the root key");
    CASE(o.inter_issuer = 1, -EKEYREJECTED, "noise: cert: intermediate issuer serial is not 0");
    CASE(o.inter_key_len = 33, -EBADMSG, "noise: cert: intermediate key is not 32 bytes");
    CASE(o.inter_key_len = 31, -EBADMSG, "noise: cert: intermediate key is not 32 bytes");
    CASE(o.inter_nb = NOW + 1, -EKEYEXPIRED, "noise: cert: intermediate certificate not yet valid");
    CASE(o.inter_na = NOW - 1, -EKEYEXPIRED, "noise: cert: intermediate certificate expired");
    CASE(o.corrupt_leaf_sig = true, -EKEYREJECTED,
         "noise: cert: leaf not signed by the intermediate key");
    CASE(o.leaf_signed_by_root = true, -EKEYREJECTED,
         "noise: cert: leaf not signed by the intermediate key");
    CASE(o.garbage_leaf_details = true, -EBADMSG, "noise: cert: malformed leaf details");
    CASE(o.leaf_issuer = 4, -EKEYREJECTED,
         "noise: cert: leaf issuer serial does not match intermediate serial");
    CASE(o.leaf_nb = NOW + 1, -EKEYEXPIRED, "noise: cert: leaf certificate not yet valid");
    CASE(o.leaf_na = NOW - 1, -EKEYEXPIRED, "noise: cert: leaf certificate expired");
}

static void test_generator(void **state)
{
    struct buf b;
    struct wa_cert_spec is = {1, 0, NOW - 1, NOW + 1}, ls = {2, 1, NOW - 1, NOW + 1};
    buf_init(&b, 0);
    assert_int_equal(wa_cert_generate(&b, g_root_kp.priv, g_inter_kp.priv, g_leaf_kp.pub, &is, &ls),
                     0);
    assert_int_equal(wa_cert_verify(b.data, b.len, g_root_kp.pub, g_leaf_kp.pub, NOW, NULL), 0);
    assert_int_equal(wa_cert_verify(b.data, b.len, g_inter_kp.pub, g_leaf_kp.pub, NOW, NULL),
                     -EKEYREJECTED);
    buf_free(&b);
}

/* ---- keys ---- */

static void test_xeddsa_roundtrip(void **state)
{
    uint8_t sig[64], msg[100];
    memset(msg, 0x5a, sizeof msg);
    assert_int_equal(wa_xeddsa_sign(sig, g_leaf_kp.priv, msg, sizeof msg), 0);
    assert_int_equal(wa_xeddsa_verify(g_leaf_kp.pub, msg, sizeof msg, sig, 64), 0);
    assert_int_equal(wa_xeddsa_verify(g_root_kp.pub, msg, sizeof msg, sig, 64), -EBADMSG);
    assert_int_equal(wa_xeddsa_verify(g_leaf_kp.pub, msg, sizeof msg - 1, sig, 64), -EBADMSG);
    assert_int_equal(wa_xeddsa_verify(g_leaf_kp.pub, msg, sizeof msg, sig, 63), -EBADMSG);
    sig[10] ^= 4;
    assert_int_equal(wa_xeddsa_verify(g_leaf_kp.pub, msg, sizeof msg, sig, 64), -EBADMSG);
}

static void test_dh(void **state)
{
    uint8_t a[32], b[32], zero[32] = {0};
    assert_int_equal(wa_dh(a, g_root_kp.priv, g_leaf_kp.pub), 0);
    assert_int_equal(wa_dh(b, g_leaf_kp.priv, g_root_kp.pub), 0);
    assert_memory_equal(a, b, 32);
    /* Low-order point: all-zero result is refused. */
    assert_int_equal(wa_dh(a, g_root_kp.priv, zero), -EPROTO);
}

/* Baileys-made signatures (vectors "signatures") verify, both via our wrapper and via
 * libsignal's own curve_verify_signature on a decoded 33-byte key. */
static void test_signature_vectors(void **state)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(g_root, "signatures");
    const cJSON *e;
    int count = 0;
    cJSON_ArrayForEach(e, arr)
    {
        size_t pn, mn, sn, kn;
        uint8_t *priv = hexdup(cJSON_GetObjectItemCaseSensitive(e, "priv")->valuestring, &kn);
        uint8_t *pub = hexdup(cJSON_GetObjectItemCaseSensitive(e, "pub")->valuestring, &pn);
        uint8_t *msg = hexdup(cJSON_GetObjectItemCaseSensitive(e, "msg")->valuestring, &mn);
        uint8_t *sig = hexdup(cJSON_GetObjectItemCaseSensitive(e, "sig")->valuestring, &sn);
        struct wa_keypair kp;
        assert_int_equal(wa_keypair_from_private(&kp, priv), 0);
        assert_memory_equal(kp.pub, pub, 32);
        assert_int_equal(wa_xeddsa_verify(pub, msg, mn, sig, sn), 0);
        uint8_t ser[33] = {0x05};
        memcpy(ser + 1, pub, 32);
        ec_public_key *k = NULL;
        assert_int_equal(curve_decode_point(&k, ser, 33, NULL), 0);
        assert_int_equal(curve_verify_signature(k, msg, mn, sig, sn), 1);
        msg[mn - 1] ^= 1;
        assert_int_equal(curve_verify_signature(k, msg, mn, sig, sn), 0);
        SIGNAL_UNREF(k);
        free(priv);
        free(pub);
        free(msg);
        free(sig);
        count++;
    }
    assert_int_equal(count, 3);
}

/* ADV vectors: the HMAC and the account signature from Baileys check out. */
static void test_adv_vectors(void **state)
{
    size_t sn, dn, hn, mn, an, kn;
    uint8_t *secret = field("adv", NULL, "adv_secret", &sn);
    uint8_t *sdi = field("adv", NULL, "ADVSignedDeviceIdentity", &dn);
    uint8_t *hmac = field("adv", NULL, "hmac", &hn);
    uint8_t *amsg = field("adv", NULL, "account_signature_msg", &mn);
    uint8_t *asig = field("adv", NULL, "account_signature", &an);
    uint8_t *apub = field("adv", NULL, "account_pub", &kn);
    uint8_t md[32];
    unsigned int mdlen = 0;
    assert_non_null(HMAC(EVP_sha256(), secret, (int)sn, sdi, dn, md, &mdlen));
    assert_int_equal(mdlen, hn);
    assert_memory_equal(md, hmac, hn);
    assert_int_equal(kn, 32);
    assert_int_equal(wa_xeddsa_verify(apub, amsg, mn, asig, an), 0);
    free(secret);
    free(sdi);
    free(hmac);
    free(amsg);
    free(asig);
    free(apub);
}

/* ---- sg_crypto provider ---- */

static void test_sg_libsignal_sign(void **state)
{
    signal_context *ctx = NULL;
    ec_key_pair *kp = NULL;
    signal_buffer *sig = NULL;
    static const uint8_t msg[] = "wagate test message";
    assert_int_equal(sg_context_create(&ctx), 0);
    assert_int_equal(curve_generate_key_pair(ctx, &kp), 0);
    assert_int_equal(
        curve_calculate_signature(ctx, &sig, ec_key_pair_get_private(kp), msg, sizeof msg), 0);
    assert_int_equal(signal_buffer_len(sig), 64);
    assert_int_equal(curve_verify_signature(ec_key_pair_get_public(kp), msg, sizeof msg,
                                            signal_buffer_data(sig), 64),
                     1);
    /* Our wrapper verifies libsignal's signature with the raw 32-byte key. */
    signal_buffer *pub = NULL;
    assert_int_equal(ec_public_key_serialize(&pub, ec_key_pair_get_public(kp)), 0);
    assert_int_equal(signal_buffer_len(pub), 33);
    assert_int_equal(
        wa_xeddsa_verify(signal_buffer_data(pub) + 1, msg, sizeof msg, signal_buffer_data(sig), 64),
        0);
    signal_buffer_free(pub);
    signal_buffer_free(sig);
    SIGNAL_UNREF(kp);
    signal_context_destroy(ctx);
}

static void test_sg_provider_kat(void **state)
{
    signal_crypto_provider p;
    sg_crypto_provider_init(&p);
    void *c = NULL;
    signal_buffer *out = NULL;
    uint8_t want[64];
    /* HMAC-SHA256, RFC 4231 test case 2, fed in two pieces. */
    assert_int_equal(p.hmac_sha256_init_func(&c, (const uint8_t *)"Jefe", 4, NULL), 0);
    assert_int_equal(p.hmac_sha256_update_func(c, (const uint8_t *)"what do ya ", 11, NULL), 0);
    assert_int_equal(p.hmac_sha256_update_func(c, (const uint8_t *)"want for nothing?", 17, NULL),
                     0);
    assert_int_equal(p.hmac_sha256_final_func(c, &out, NULL), 0);
    p.hmac_sha256_cleanup_func(c, NULL);
    hex_decode(want, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 64);
    assert_int_equal(signal_buffer_len(out), 32);
    assert_memory_equal(signal_buffer_data(out), want, 32);
    signal_buffer_free(out);
    /* SHA-512("abc"), twice on one context (final re-initialises). */
    hex_decode(want, 64,
               "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
               "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
               128);
    assert_int_equal(p.sha512_digest_init_func(&c, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(p.sha512_digest_update_func(c, (const uint8_t *)"abc", 3, NULL), 0);
        assert_int_equal(p.sha512_digest_final_func(c, &out, NULL), 0);
        assert_int_equal(signal_buffer_len(out), 64);
        assert_memory_equal(signal_buffer_data(out), want, 64);
        signal_buffer_free(out);
    }
    p.sha512_digest_cleanup_func(c, NULL);
}

static void test_sg_provider_aes(void **state)
{
    signal_crypto_provider p;
    sg_crypto_provider_init(&p);
    uint8_t key[32], iv[16], pt[16], want[16];
    signal_buffer *out = NULL, *back = NULL;
    /* NIST SP 800-38A F.5.5 CTR-AES256.Encrypt, block 1. */
    hex_decode(key, 32, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", 64);
    hex_decode(iv, 16, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", 32);
    hex_decode(pt, 16, "6bc1bee22e409f96e93d7e117393172a", 32);
    hex_decode(want, 16, "601ec313775789a5b7a7f504bbf3d228", 32);
    assert_int_equal(
        p.encrypt_func(&out, SG_CIPHER_AES_CTR_NOPADDING, key, 32, iv, 16, pt, 16, NULL), 0);
    assert_int_equal(signal_buffer_len(out), 16);
    assert_memory_equal(signal_buffer_data(out), want, 16);
    signal_buffer_free(out);
    /* NIST F.2.1 CBC-AES128.Encrypt block 1; PKCS#5 adds one full padding block. */
    hex_decode(key, 16, "2b7e151628aed2a6abf7158809cf4f3c", 32);
    hex_decode(iv, 16, "000102030405060708090a0b0c0d0e0f", 32);
    hex_decode(want, 16, "7649abac8119b246cee98e9b12e9197d", 32);
    assert_int_equal(p.encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 16, iv, 16, pt, 16, NULL),
                     0);
    assert_int_equal(signal_buffer_len(out), 32);
    assert_memory_equal(signal_buffer_data(out), want, 16);
    assert_int_equal(p.decrypt_func(&back, SG_CIPHER_AES_CBC_PKCS5, key, 16, iv, 16,
                                    signal_buffer_data(out), 32, NULL),
                     0);
    assert_int_equal(signal_buffer_len(back), 16);
    assert_memory_equal(signal_buffer_data(back), pt, 16);
    signal_buffer_free(back);
    /* Bad padding is an error; unsupported key sizes and ciphers are rejected. */
    signal_buffer_data(out)[31] ^= 0x55;
    assert_true(p.decrypt_func(&back, SG_CIPHER_AES_CBC_PKCS5, key, 16, iv, 16,
                               signal_buffer_data(out), 32, NULL) < 0);
    signal_buffer_free(out);
    assert_true(p.encrypt_func(&out, SG_CIPHER_AES_CBC_PKCS5, key, 20, iv, 16, pt, 16, NULL) < 0);
    assert_true(p.encrypt_func(&out, 99, key, 16, iv, 16, pt, 16, NULL) < 0);
    /* All key sizes round-trip, for odd lengths. */
    for (size_t ks = 16; ks <= 32; ks += 8) {
        for (int mode = SG_CIPHER_AES_CTR_NOPADDING; mode <= SG_CIPHER_AES_CBC_PKCS5; mode++) {
            uint8_t msg[37];
            memset(msg, (int)ks, sizeof msg);
            assert_int_equal(p.encrypt_func(&out, mode, key, ks, iv, 16, msg, 37, NULL), 0);
            assert_int_equal(p.decrypt_func(&back, mode, key, ks, iv, 16, signal_buffer_data(out),
                                            signal_buffer_len(out), NULL),
                             0);
            assert_int_equal(signal_buffer_len(back), 37);
            assert_memory_equal(signal_buffer_data(back), msg, 37);
            signal_buffer_free(out);
            signal_buffer_free(back);
        }
    }
    uint8_t rnd[32] = {0}, zero[32] = {0};
    assert_int_equal(p.random_func(rnd, sizeof rnd, NULL), 0);
    assert_memory_not_equal(rnd, zero, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_chain_verifies),
        cmocka_unit_test(test_default_root_constant),
        cmocka_unit_test_setup(test_built_chain_ok, setup_keys),
        cmocka_unit_test_setup(test_each_check_fails, setup_keys),
        cmocka_unit_test_setup(test_generator, setup_keys),
        cmocka_unit_test_setup(test_xeddsa_roundtrip, setup_keys),
        cmocka_unit_test_setup(test_dh, setup_keys),
        cmocka_unit_test(test_signature_vectors),
        cmocka_unit_test(test_adv_vectors),
        cmocka_unit_test(test_sg_libsignal_sign),
        cmocka_unit_test(test_sg_provider_kat),
        cmocka_unit_test(test_sg_provider_aes),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
