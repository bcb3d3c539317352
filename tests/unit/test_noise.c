/* SPDX-License-Identifier: MIT */
/* test_noise.c -- Noise XX handshake against wa-vectors.json, random pairs, failure cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/buf.h"
#include "core/hex.h"
#include "wa/cert.h"
#include "wa/frame.h"
#include "wa/keys.h"
#include "wa/noise.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000u /* inside the vector chain's validity window */

static cJSON *g_root;
static const cJSON *g_noise;

struct bytes {
    uint8_t *p;
    size_t n;
};

static int load_vectors(void **state)
{
    g_root = vectors_load();
    assert_non_null(g_root);
    g_noise = cJSON_GetObjectItemCaseSensitive(g_root, "noise");
    assert_non_null(g_noise);
    return 0;
}

static int free_vectors(void **state)
{
    cJSON_Delete(g_root);
    return 0;
}

static struct bytes hexb(const char *hex)
{
    struct bytes b;
    size_t n = strlen(hex);
    b.p = malloc(n / 2 + 1);
    assert_non_null(b.p);
    long r = hex_decode(b.p, n / 2 + 1, hex, n);
    assert_true(r >= 0);
    b.n = (size_t)r;
    return b;
}

/* Hex field of noise (or noise.keys when keys=true). */
static struct bytes vec(const char *name, bool keys)
{
    const cJSON *o = keys ? cJSON_GetObjectItemCaseSensitive(g_noise, "keys") : g_noise;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(it));
    return hexb(it->valuestring);
}

static void vec_key(uint8_t out[32], const char *name)
{
    struct bytes b = vec(name, true);
    assert_int_equal(b.n, 32);
    memcpy(out, b.p, 32);
    free(b.p);
}

static void assert_bytes(const uint8_t *got, size_t gotn, struct bytes want)
{
    assert_int_equal(gotn, want.n);
    assert_memory_equal(got, want.p, want.n);
    free(want.p);
}

/* Trace collector: checks each emitted value against noise.trace[i]. */
struct tracer {
    int idx;
    int mismatches;
};

static void on_trace(void *ud, const char *label, const uint8_t *data, size_t len)
{
    struct tracer *t = ud;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(g_noise, "trace");
    const cJSON *e = cJSON_GetArrayItem(tr, t->idx);
    t->idx++;
    if (!e) {
        t->mismatches++;
        return;
    }
    struct bytes want = hexb(cJSON_GetArrayItem(e, 1)->valuestring);
    if (want.n != len || memcmp(want.p, data, len)) {
        fprintf(stderr, "trace %d (%s, want '%s') mismatch\n", t->idx - 1, label,
                cJSON_GetArrayItem(e, 0)->valuestring);
        t->mismatches++;
    }
    free(want.p);
}

static struct wa_noise *vector_party(enum wa_noise_role role, struct tracer *t)
{
    struct wa_keypair s;
    uint8_t priv[32], eph[32], root[32];
    bool init = role == WA_NOISE_INITIATOR;
    vec_key(priv, init ? "client_static_priv" : "server_static_priv");
    vec_key(eph, init ? "client_ephemeral_priv" : "server_ephemeral_priv");
    vec_key(root, "fake_root_pub");
    assert_int_equal(wa_keypair_from_private(&s, priv), 0);
    struct wa_noise *n = wa_noise_new(role, &s);
    assert_non_null(n);
    assert_int_equal(wa_noise_set_ephemeral(n, eph), 0);
    wa_noise_set_cert_policy(n, root, NOW);
    wa_noise_set_trace(n, on_trace, t);
    wa_keypair_wipe(&s);
    return n;
}

static void test_vector_keys(void **state)
{
    static const char *pairs[][2] = {
        {"client_ephemeral_priv", "client_ephemeral_pub"},
        {"client_static_priv", "client_static_pub"},
        {"server_ephemeral_priv", "server_ephemeral_pub"},
        {"server_static_priv", "server_static_pub"},
        {"fake_root_priv", "fake_root_pub"},
        {"intermediate_priv", "intermediate_pub"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        uint8_t priv[32];
        struct wa_keypair kp;
        vec_key(priv, pairs[i][0]);
        assert_int_equal(wa_keypair_from_private(&kp, priv), 0);
        assert_bytes(kp.pub, 32, vec(pairs[i][1], true));
    }
}

static void test_vector_initiator(void **state)
{
    struct tracer t = {0, 0};
    struct wa_noise *c = vector_party(WA_NOISE_INITIATOR, &t);
    struct wa_frame_encoder enc;
    struct buf msg, wire;
    buf_init(&msg, 1 << 20);
    buf_init(&wire, 1 << 20);
    wa_frame_encoder_init(&enc, true, 0);

    assert_int_equal(wa_noise_write_client_hello(c, &msg), 0);
    assert_int_equal(wa_frame_encode(&enc, &wire, msg.data, msg.len), 0);
    assert_bytes(wire.data, wire.len, vec("wire_client_first", false));

    struct bytes sh = vec("wire_server_hello_frame_body", false);
    assert_int_equal(wa_noise_read_server_hello(c, sh.p, sh.n), 0);
    free(sh.p);
    assert_bytes(wa_noise_remote_static(c), 32, vec("server_static_pub", true));

    struct bytes cp = vec("client_payload_plaintext", false);
    buf_reset(&msg);
    buf_reset(&wire);
    assert_int_equal(wa_noise_write_client_finish(c, cp.p, cp.n, &msg), 0);
    free(cp.p);
    assert_int_equal(wa_frame_encode(&enc, &wire, msg.data, msg.len), 0);
    assert_bytes(wire.data, wire.len, vec("wire_client_second", false));
    assert_true(wa_noise_is_transport(c));
    assert_int_equal(t.idx, 23);
    assert_int_equal(t.mismatches, 0);

    /* First transport frames both ways. */
    struct bytes pt = vec("transport_client_frame0_plaintext", false);
    buf_reset(&msg);
    buf_reset(&wire);
    assert_int_equal(wa_noise_encrypt(c, pt.p, pt.n, &msg), 0);
    free(pt.p);
    assert_bytes(msg.data, msg.len, vec("transport_client_frame0_ct_reference", false));
    assert_int_equal(wa_frame_encode(&enc, &wire, msg.data, msg.len), 0);
    assert_bytes(wire.data, wire.len, vec("transport_client_frame0_wire", false));

    struct bytes sct = vec("transport_server_frame0_ct", false);
    buf_reset(&msg);
    assert_int_equal(wa_noise_decrypt(c, sct.p, sct.n, &msg), 0);
    free(sct.p);
    assert_bytes(msg.data, msg.len, vec("transport_server_frame0_plaintext", false));

    buf_free(&msg);
    buf_free(&wire);
    wa_noise_free(c);
}

static void test_vector_responder(void **state)
{
    struct tracer t = {0, 0};
    struct wa_noise *s = vector_party(WA_NOISE_RESPONDER, &t);
    struct buf msg, payload;
    uint8_t cs[32];
    buf_init(&msg, 1 << 20);
    buf_init(&payload, 1 << 20);

    struct bytes first = vec("wire_client_first", false);
    assert_true(first.n > 7);
    assert_int_equal(wa_noise_read_client_hello(s, first.p + 7, first.n - 7), 0);
    free(first.p);

    struct bytes cert = vec("cert_chain_plaintext", false);
    assert_int_equal(wa_noise_write_server_hello(s, cert.p, cert.n, &msg), 0);
    free(cert.p);
    assert_bytes(msg.data, msg.len, vec("wire_server_hello_frame_body", false));

    struct bytes second = vec("wire_client_second", false);
    assert_int_equal(wa_noise_read_client_finish(s, second.p + 3, second.n - 3, cs, &payload), 0);
    free(second.p);
    assert_bytes(cs, 32, vec("client_static_pub", true));
    assert_bytes(payload.data, payload.len, vec("client_payload_plaintext", false));
    assert_int_equal(t.idx, 23);
    assert_int_equal(t.mismatches, 0);

    struct bytes cct = vec("transport_client_frame0_ct_reference", false);
    buf_reset(&msg);
    assert_int_equal(wa_noise_decrypt(s, cct.p, cct.n, &msg), 0);
    free(cct.p);
    assert_bytes(msg.data, msg.len, vec("transport_client_frame0_plaintext", false));

    struct bytes spt = vec("transport_server_frame0_plaintext", false);
    buf_reset(&msg);
    assert_int_equal(wa_noise_encrypt(s, spt.p, spt.n, &msg), 0);
    free(spt.p);
    assert_bytes(msg.data, msg.len, vec("transport_server_frame0_ct", false));

    buf_free(&msg);
    buf_free(&payload);
    wa_noise_free(s);
}

/* A client and server with random keys and a freshly generated chain. */
struct pair {
    struct wa_noise *c, *s;
    struct wa_keypair cs, ss, root, inter;
    struct buf cert;
};

static void pair_setup(struct pair *p)
{
    assert_int_equal(wa_keypair_generate(&p->cs), 0);
    assert_int_equal(wa_keypair_generate(&p->ss), 0);
    assert_int_equal(wa_keypair_generate(&p->root), 0);
    assert_int_equal(wa_keypair_generate(&p->inter), 0);
    struct wa_cert_spec is = {7, 0, NOW - 100, NOW + 100};
    struct wa_cert_spec ls = {8, 7, NOW - 100, NOW + 100};
    buf_init(&p->cert, 0);
    assert_int_equal(wa_cert_generate(&p->cert, p->root.priv, p->inter.priv, p->ss.pub, &is, &ls),
                     0);
    p->c = wa_noise_new(WA_NOISE_INITIATOR, &p->cs);
    p->s = wa_noise_new(WA_NOISE_RESPONDER, &p->ss);
    assert_non_null(p->c);
    assert_non_null(p->s);
    wa_noise_set_cert_policy(p->c, p->root.pub, NOW);
}

static void pair_free(struct pair *p)
{
    wa_noise_free(p->c);
    wa_noise_free(p->s);
    buf_free(&p->cert);
}

/* Runs the handshake up to (not including) reading clientFinish; returns it in cf. */
static void pair_handshake_to_finish(struct pair *p, struct buf *cf)
{
    struct buf m;
    buf_init(&m, 0);
    assert_int_equal(wa_noise_write_client_hello(p->c, &m), 0);
    assert_int_equal(wa_noise_read_client_hello(p->s, m.data, m.len), 0);
    buf_reset(&m);
    assert_int_equal(wa_noise_write_server_hello(p->s, p->cert.data, p->cert.len, &m), 0);
    assert_int_equal(wa_noise_read_server_hello(p->c, m.data, m.len), 0);
    assert_memory_equal(wa_noise_remote_static(p->c), p->ss.pub, 32);
    assert_int_equal(wa_noise_write_client_finish(p->c, (const uint8_t *)"payload", 7, cf), 0);
    buf_free(&m);
}

static void test_random_pair(void **state)
{
    struct pair p;
    struct buf cf, pl, ct, pt;
    uint8_t cs[32];
    pair_setup(&p);
    buf_init(&cf, 0);
    buf_init(&pl, 0);
    buf_init(&ct, 0);
    buf_init(&pt, 0);
    pair_handshake_to_finish(&p, &cf);
    assert_int_equal(wa_noise_read_client_finish(p.s, cf.data, cf.len, cs, &pl), 0);
    assert_memory_equal(cs, p.cs.pub, 32);
    assert_int_equal(pl.len, 7);
    assert_memory_equal(pl.data, "payload", 7);
    for (int i = 0; i < 50; i++) {
        struct wa_noise *from = i % 3 ? p.c : p.s, *to = i % 3 ? p.s : p.c;
        uint8_t msg[64];
        memset(msg, i, sizeof msg);
        buf_reset(&ct);
        buf_reset(&pt);
        assert_int_equal(wa_noise_encrypt(from, msg, (size_t)i, &ct), 0);
        assert_int_equal(ct.len, (size_t)i + 16);
        assert_int_equal(wa_noise_decrypt(to, ct.data, ct.len, &pt), 0);
        assert_int_equal(pt.len, (size_t)i);
        if (i) assert_memory_equal(pt.data, msg, (size_t)i);
    }
    /* A replayed frame fails (counter moved on) and the failure is sticky. */
    assert_int_equal(wa_noise_decrypt(p.c, ct.data, ct.len, &pt), -EBADMSG);
    assert_int_equal(wa_noise_encrypt(p.c, (const uint8_t *)"x", 1, &ct), -EBADMSG);
    assert_true(strlen(wa_noise_last_error(p.c)) > 0);
    buf_free(&cf);
    buf_free(&pl);
    buf_free(&ct);
    buf_free(&pt);
    pair_free(&p);
}

static void test_tampered_client_finish(void **state)
{
    struct pair p;
    struct buf cf, pl;
    uint8_t cs[32];
    pair_setup(&p);
    buf_init(&cf, 0);
    buf_init(&pl, 0);
    pair_handshake_to_finish(&p, &cf);
    cf.data[cf.len - 1] ^= 1; /* last byte of the payload tag */
    assert_int_equal(wa_noise_read_client_finish(p.s, cf.data, cf.len, cs, &pl), -EBADMSG);
    assert_false(wa_noise_is_transport(p.s));
    assert_int_equal(pl.len, 0);
    buf_free(&cf);
    buf_free(&pl);
    pair_free(&p);
}

static void test_tampered_server_hello(void **state)
{
    struct pair p;
    struct buf m;
    pair_setup(&p);
    buf_init(&m, 0);
    assert_int_equal(wa_noise_write_client_hello(p.c, &m), 0);
    assert_int_equal(wa_noise_read_client_hello(p.s, m.data, m.len), 0);
    buf_reset(&m);
    assert_int_equal(wa_noise_write_server_hello(p.s, p.cert.data, p.cert.len, &m), 0);
    m.data[m.len - 5] ^= 0x80;
    assert_int_equal(wa_noise_read_server_hello(p.c, m.data, m.len), -EBADMSG);
    assert_non_null(strstr(wa_noise_last_error(p.c), "certificate payload"));
    /* Sticky: further calls fail with the same code. */
    assert_int_equal(wa_noise_write_client_finish(p.c, (const uint8_t *)"x", 1, &m), -EBADMSG);
    buf_free(&m);
    pair_free(&p);
}

static void test_cert_rejected_in_handshake(void **state)
{
    struct pair p;
    struct buf m;
    pair_setup(&p);
    wa_noise_set_cert_policy(p.c, wa_cert_root_pubkey, NOW); /* real root: chain untrusted */
    buf_init(&m, 0);
    assert_int_equal(wa_noise_write_client_hello(p.c, &m), 0);
    assert_int_equal(wa_noise_read_client_hello(p.s, m.data, m.len), 0);
    buf_reset(&m);
    assert_int_equal(wa_noise_write_server_hello(p.s, p.cert.data, p.cert.len, &m), 0);
    assert_int_equal(wa_noise_read_server_hello(p.c, m.data, m.len), -EKEYREJECTED);
    assert_string_equal(wa_noise_last_error(p.c),
                        "noise: cert: intermediate not signed by the root key");
    buf_free(&m);
    pair_free(&p);
}

static void test_leaf_not_server_static(void **state)
{
    struct pair p;
    struct buf m;
    struct wa_keypair other;
    pair_setup(&p);
    /* Chain for another key: a replayed genuine chain must not be accepted. */
    assert_int_equal(wa_keypair_generate(&other), 0);
    struct wa_cert_spec is = {7, 0, NOW - 100, NOW + 100};
    struct wa_cert_spec ls = {8, 7, NOW - 100, NOW + 100};
    buf_reset(&p.cert);
    assert_int_equal(wa_cert_generate(&p.cert, p.root.priv, p.inter.priv, other.pub, &is, &ls), 0);
    buf_init(&m, 0);
    assert_int_equal(wa_noise_write_client_hello(p.c, &m), 0);
    assert_int_equal(wa_noise_read_client_hello(p.s, m.data, m.len), 0);
    buf_reset(&m);
    assert_int_equal(wa_noise_write_server_hello(p.s, p.cert.data, p.cert.len, &m), 0);
    assert_int_equal(wa_noise_read_server_hello(p.c, m.data, m.len), -EKEYREJECTED);
    assert_string_equal(wa_noise_last_error(p.c),
                        "noise: cert: leaf key does not match server static key");
    buf_free(&m);
    pair_free(&p);
}

static void test_bad_messages(void **state)
{
    struct wa_keypair s;
    struct buf m;
    uint8_t cs[32];
    assert_int_equal(wa_keypair_generate(&s), 0);
    buf_init(&m, 0);
    /* Out of order calls. */
    struct wa_noise *c = wa_noise_new(WA_NOISE_INITIATOR, &s);
    assert_int_equal(wa_noise_read_server_hello(c, (const uint8_t *)"", 0), -EINVAL);
    assert_int_equal(wa_noise_write_server_hello(c, NULL, 0, &m), -EINVAL);
    assert_int_equal(wa_noise_encrypt(c, (const uint8_t *)"x", 1, &m), -EINVAL);
    wa_noise_free(c);
    /* Garbage and wrong-size ephemerals. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff};
    static const uint8_t short_eph[] = {0x12, 0x03, 0x0a, 0x01, 0x00};
    static const uint8_t finish_only[] = {0x22, 0x00};
    struct wa_noise *r = wa_noise_new(WA_NOISE_RESPONDER, &s);
    assert_int_equal(wa_noise_read_client_hello(r, garbage, sizeof garbage), -EBADMSG);
    wa_noise_free(r);
    r = wa_noise_new(WA_NOISE_RESPONDER, &s);
    assert_int_equal(wa_noise_read_client_hello(r, short_eph, sizeof short_eph), -EBADMSG);
    wa_noise_free(r);
    r = wa_noise_new(WA_NOISE_RESPONDER, &s);
    assert_int_equal(wa_noise_read_client_hello(r, finish_only, sizeof finish_only), -EBADMSG);
    assert_int_equal(wa_noise_read_client_finish(r, finish_only, 2, cs, &m), -EBADMSG);
    wa_noise_free(r);
    /* Oversized message. */
    r = wa_noise_new(WA_NOISE_RESPONDER, &s);
    assert_int_equal(wa_noise_read_client_hello(r, garbage, WA_NOISE_MAX_HANDSHAKE_MSG + 1),
                     -EMSGSIZE);
    wa_noise_free(r);
    wa_noise_free(NULL);
    buf_free(&m);
}

/* Fuzz regression (fuzz_noise_transport): a low-order (all-zero) ephemeral from the peer makes
 * the ee agreement fail cleanly with -EPROTO on both sides. */
static void test_low_order_ephemeral(void **state)
{
    struct wa_keypair s;
    struct buf m;
    uint8_t hello[36] = {0x12, 0x22, 0x0a, 0x20}; /* clientHello{ephemeral = 32 zero bytes} */
    assert_int_equal(wa_keypair_generate(&s), 0);
    buf_init(&m, 0);
    struct wa_noise *r = wa_noise_new(WA_NOISE_RESPONDER, &s);
    assert_int_equal(wa_noise_read_client_hello(r, hello, sizeof hello), 0);
    assert_int_equal(wa_noise_write_server_hello(r, (const uint8_t *)"c", 1, &m), -EPROTO);
    assert_int_equal(m.len, 0);
    assert_int_equal(wa_noise_write_server_hello(r, (const uint8_t *)"c", 1, &m), -EPROTO);
    wa_noise_free(r);
    /* Initiator: serverHello with a zero ephemeral. */
    uint8_t sh[2 + 2 + 32 + 2 + 48 + 2 + 16] = {0x1a, sizeof sh - 2, 0x0a, 0x20};
    size_t o = 4 + 32;
    sh[o++] = 0x12;
    sh[o++] = 48;
    o += 48;
    sh[o++] = 0x1a;
    sh[o++] = 16;
    struct wa_noise *c = wa_noise_new(WA_NOISE_INITIATOR, &s);
    assert_int_equal(wa_noise_write_client_hello(c, &m), 0);
    assert_int_equal(wa_noise_read_server_hello(c, sh, sizeof sh), -EPROTO);
    assert_string_equal(wa_noise_last_error(c), "noise: ee key agreement failed");
    wa_noise_free(c);
    buf_free(&m);
}

static void test_transport_short_and_overflow(void **state)
{
    uint8_t k1[32], k2[32];
    struct buf out;
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    buf_init(&out, 0);
    struct wa_noise *c = wa_noise_new_transport(WA_NOISE_INITIATOR, k1, k2);
    struct wa_noise *s = wa_noise_new_transport(WA_NOISE_RESPONDER, k1, k2);
    assert_int_equal(wa_noise_encrypt(c, (const uint8_t *)"hello", 5, &out), 0);
    struct buf pt;
    buf_init(&pt, 0);
    assert_int_equal(wa_noise_decrypt(s, out.data, out.len, &pt), 0);
    assert_memory_equal(pt.data, "hello", 5);
    assert_int_equal(wa_noise_decrypt(s, out.data, 15, &pt), -EBADMSG);
    /* Counter exhaustion. */
    wa_noise__set_counters(c, UINT32_MAX, 0);
    buf_reset(&out);
    assert_int_equal(wa_noise_encrypt(c, (const uint8_t *)"a", 1, &out), 0);
    assert_int_equal(wa_noise_encrypt(c, (const uint8_t *)"b", 1, &out), -EOVERFLOW);
    /* Output cap: a full buffer is reported and is not sticky. */
    struct wa_noise *c2 = wa_noise_new_transport(WA_NOISE_INITIATOR, k1, k2);
    struct buf tiny;
    buf_init(&tiny, 10);
    assert_int_equal(wa_noise_encrypt(c2, (const uint8_t *)"hello", 5, &tiny), -ENOBUFS);
    buf_free(&tiny);
    buf_reset(&out);
    assert_int_equal(wa_noise_encrypt(c2, (const uint8_t *)"hello", 5, &out), 0);
    wa_noise_free(c2);
    buf_free(&pt);
    buf_free(&out);
    wa_noise_free(c);
    wa_noise_free(s);
}

/* Regression (fuzz_noise_transport): an authenticated frame with an empty plaintext
 * decrypted into a fresh buffer did pointer arithmetic on NULL (UBSan). */
static void test_transport_empty_plaintext(void **state)
{
    uint8_t k1[32], k2[32];
    memset(k1, 0x11, sizeof k1);
    memset(k2, 0x22, sizeof k2);
    struct wa_noise *c = wa_noise_new_transport(WA_NOISE_INITIATOR, k1, k2);
    struct wa_noise *s = wa_noise_new_transport(WA_NOISE_RESPONDER, k1, k2);
    assert_non_null(c);
    assert_non_null(s);
    struct buf ct, pt;
    buf_init(&ct, 1024);
    buf_init(&pt, 1024);
    assert_int_equal(wa_noise_encrypt(c, NULL, 0, &ct), 0);
    assert_int_equal(ct.len, WA_NOISE_TAG_LEN);
    assert_int_equal(wa_noise_decrypt(s, ct.data, ct.len, &pt), 0);
    assert_int_equal(pt.len, 0);
    buf_free(&ct);
    buf_free(&pt);
    wa_noise_free(c);
    wa_noise_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_keys),
        cmocka_unit_test(test_vector_initiator),
        cmocka_unit_test(test_vector_responder),
        cmocka_unit_test(test_random_pair),
        cmocka_unit_test(test_tampered_client_finish),
        cmocka_unit_test(test_tampered_server_hello),
        cmocka_unit_test(test_cert_rejected_in_handshake),
        cmocka_unit_test(test_leaf_not_server_static),
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_low_order_ephemeral),
        cmocka_unit_test(test_transport_short_and_overflow),
        cmocka_unit_test(test_transport_empty_plaintext),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
