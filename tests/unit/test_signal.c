/* SPDX-License-Identifier: MIT */
/* test_signal.c -- Signal layer: keys, vectors (1:1, group, signatures), round trips, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/buf.h"
#include "core/hex.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_memstore.h"
#include "signal/sg_store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "120363041234567890@g.us"

static cJSON *g_root;
static signal_context *g_sig;

struct bytes {
    uint8_t *p;
    size_t n;
};

static int setup_all(void **state)
{
    g_root = vectors_load();
    assert_non_null(g_root);
    assert_int_equal(sg_context_create(&g_sig), 0);
    return 0;
}

static int teardown_all(void **state)
{
    cJSON_Delete(g_root);
    signal_context_destroy(g_sig);
    return 0;
}

static const cJSON *jget(const cJSON *o, const char *path)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *save = NULL, *k = strtok_r(tmp, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k))
                             : cJSON_GetObjectItemCaseSensitive(o, k);
        assert_non_null(o);
    }
    return o;
}

static struct bytes jhex(const char *path)
{
    const cJSON *it = jget(g_root, path);
    assert_true(cJSON_IsString(it));
    size_t n = strlen(it->valuestring);
    struct bytes b = {malloc(n / 2 + 1), 0};
    assert_non_null(b.p);
    long r = hex_decode(b.p, n / 2 + 1, it->valuestring, n);
    assert_true(r >= 0);
    b.n = (size_t)r;
    return b;
}

static void jkey(uint8_t out[32], const char *path)
{
    struct bytes b = jhex(path);
    assert_int_equal(b.n, 32);
    memcpy(out, b.p, 32);
    free(b.p);
}

static uint32_t jint(const char *path)
{
    const cJSON *it = jget(g_root, path);
    assert_true(cJSON_IsNumber(it));
    return (uint32_t)it->valuedouble;
}

/* ---- parties ---- */

struct party {
    struct sg_memstore *ms;
    struct sg_ctx *ctx;
    struct sg_identity id;
    struct sg_signed_prekey spk;
    struct sg_address addr;
};

static void party_init_lim(struct party *p, const char *user, enum sg_trust trust, size_t nprekeys,
                           const struct sg_memstore_limits *lim)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(sg_memstore_new(&p->ms, lim), 0);
    assert_int_equal(sg_identity_generate(g_sig, &p->id), 0);
    sg_memstore_set_identity(p->ms, &p->id);
    struct sg_store st = sg_memstore_store(p->ms, trust);
    assert_int_equal(sg_ctx_new(&p->ctx, g_sig, &st), 0);
    assert_int_equal(sg_signed_prekey_generate(g_sig, &p->id.kp, 1, &p->spk), 0);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &st, &p->spk), 0);
    if (nprekeys) {
        struct sg_prekey *pks = calloc(nprekeys, sizeof *pks);
        assert_non_null(pks);
        assert_int_equal(sg_prekeys_generate(g_sig, 1, nprekeys, pks, NULL), 0);
        assert_int_equal(sg_store_put_prekeys(g_sig, &st, pks, nprekeys), 0);
        free(pks);
    }
    assert_int_equal(sg_address_make(&p->addr, user, 1, 0), 0);
}

static void party_init(struct party *p, const char *user, enum sg_trust trust, size_t nprekeys)
{
    party_init_lim(p, user, trust, nprekeys, NULL);
}

static void party_free(struct party *p)
{
    sg_ctx_free(p->ctx);
    sg_memstore_free(p->ms);
}

/* p's bundle with one-time pre-key `pkid` (0 = none). */
static void party_bundle(struct party *p, uint32_t pkid, struct sg_bundle *b)
{
    struct sg_prekey pk;
    struct sg_store st = sg_memstore_store(p->ms, SG_TRUST_ANY);
    if (pkid) assert_int_equal(sg_store_get_prekey(g_sig, &st, pkid, &pk), 1);
    sg_bundle_make(&p->id, &p->spk, pkid ? &pk : NULL, b);
}

/* from encrypts text for to; returns the type; ciphertext in ct (reset first). */
static enum sg_msg_type send_text(struct party *from, struct party *to, const char *text,
                                  struct buf *ct)
{
    struct buf pt;
    buf_init(&pt, 4096);
    assert_int_equal(buf_append_str(&pt, text), 0);
    assert_int_equal(sg_pad(&pt), 0);
    enum sg_msg_type t;
    buf_reset(ct);
    assert_int_equal(sg_encrypt(from->ctx, &to->addr, pt.data, pt.len, &t, ct), 0);
    buf_free(&pt);
    return t;
}

/* to decrypts ct from `from` and checks the unpadded text; returns sg_decrypt's code. */
static int recv_text(struct party *to, struct party *from, enum sg_msg_type t, const struct buf *ct,
                     const char *want)
{
    struct buf pt;
    buf_init(&pt, 1 << 20);
    int rc = sg_decrypt(to->ctx, &from->addr, t, ct->data, ct->len, &pt);
    if (rc == 0) {
        size_t n = 0;
        assert_int_equal(sg_unpad(pt.data, pt.len, &n), 0);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(pt.data, want, n);
    }
    buf_free(&pt);
    return rc;
}

/* ---- keys ---- */

static void test_signature_vectors(void **state)
{
    const cJSON *arr = jget(g_root, "signatures");
    int n = cJSON_GetArraySize(arr);
    assert_true(n >= 3);
    for (int i = 0; i < n; i++) {
        char p[64];
        uint8_t pub[32], priv[32];
        snprintf(p, sizeof p, "signatures.%d.pub", i);
        jkey(pub, p);
        snprintf(p, sizeof p, "signatures.%d.priv", i);
        jkey(priv, p);
        snprintf(p, sizeof p, "signatures.%d.msg", i);
        struct bytes msg = jhex(p);
        snprintf(p, sizeof p, "signatures.%d.sig", i);
        struct bytes sig = jhex(p);
        assert_int_equal(sig.n, 64);
        assert_int_equal(sg_verify(g_sig, pub, msg.p, msg.n, sig.p), 1);
        sig.p[10] ^= 1;
        assert_int_equal(sg_verify(g_sig, pub, msg.p, msg.n, sig.p), 0);
        /* importing the private key yields the same public key; our signature verifies */
        struct sg_keypair kp;
        assert_int_equal(sg_keypair_from_private(g_sig, priv, &kp), 0);
        assert_memory_equal(kp.pub, pub, 32);
        uint8_t s2[64];
        assert_int_equal(sg_sign(g_sig, kp.priv, msg.p, msg.n, s2), 0);
        assert_int_equal(sg_verify(g_sig, pub, msg.p, msg.n, s2), 1);
        free(msg.p);
        free(sig.p);
    }
}

static void test_keys_generation(void **state)
{
    struct sg_identity id;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(sg_identity_generate(g_sig, &id), 0);
        assert_true(id.registration_id >= 1 && id.registration_id <= SG_REG_ID_MAX);
        assert_int_equal(id.kp.priv[0] & 7, 0);
        assert_int_equal(id.kp.priv[31] & 0xc0, 0x40);
    }
    /* clamping on import */
    uint8_t raw[32];
    memset(raw, 0xff, sizeof raw);
    struct sg_keypair kp;
    assert_int_equal(sg_keypair_from_private(g_sig, raw, &kp), 0);
    assert_int_equal(kp.priv[0], 0xf8);
    assert_int_equal(kp.priv[31], 0x7f);
    /* signed pre-key signature is over 05||pub by the identity */
    struct sg_signed_prekey spk;
    assert_int_equal(sg_signed_prekey_generate(g_sig, &id.kp, 7, &spk), 0);
    uint8_t ser[33];
    sg_pubkey_serialize(spk.kp.pub, ser);
    assert_int_equal(ser[0], 5);
    assert_int_equal(sg_verify(g_sig, id.kp.pub, ser, 33, spk.sig), 1);
    assert_int_equal(sg_verify(g_sig, id.kp.pub, spk.kp.pub, 32, spk.sig), 0);
    assert_int_equal(sg_signed_prekey_generate(g_sig, &id.kp, 0, &spk), -EINVAL);
    assert_int_equal(sg_signed_prekey_generate(g_sig, &id.kp, 0x1000000, &spk), -EINVAL);
    /* pre-key ids wrap at 2^24, skipping 0 */
    struct sg_prekey pks[3];
    uint32_t next = 0;
    assert_int_equal(sg_prekeys_generate(g_sig, 0xfffffe, 3, pks, &next), 0);
    assert_int_equal(pks[0].id, 0xfffffe);
    assert_int_equal(pks[1].id, 0xffffff);
    assert_int_equal(pks[2].id, 1);
    assert_int_equal(next, 2);
    assert_memory_not_equal(pks[0].kp.pub, pks[1].kp.pub, 32);
    assert_int_equal(sg_prekeys_generate(g_sig, 0, 1, pks, NULL), -EINVAL);
    /* records round-trip */
    signal_buffer *rec = NULL;
    struct sg_prekey back;
    assert_int_equal(sg_prekey_record(g_sig, &pks[1], &rec), 0);
    assert_int_equal(
        sg_prekey_from_record(g_sig, signal_buffer_data(rec), signal_buffer_len(rec), &back), 0);
    signal_buffer_bzero_free(rec);
    assert_int_equal(back.id, pks[1].id);
    assert_memory_equal(&back.kp, &pks[1].kp, sizeof back.kp);
    struct sg_signed_prekey sback;
    assert_int_equal(sg_signed_prekey_record(g_sig, &spk, &rec), 0);
    assert_int_equal(sg_signed_prekey_from_record(g_sig, signal_buffer_data(rec),
                                                  signal_buffer_len(rec), &sback),
                     0);
    signal_buffer_bzero_free(rec);
    assert_int_equal(sback.id, spk.id);
    assert_memory_equal(sback.sig, spk.sig, 64);
    assert_int_equal(sg_prekey_from_record(g_sig, (const uint8_t *)"\xff\xff", 2, &back), -EPROTO);
    /* public key forms */
    uint8_t out[32];
    assert_int_equal(sg_pubkey_parse(ser, 33, out), 0);
    assert_memory_equal(out, spk.kp.pub, 32);
    ser[0] = 6;
    assert_int_equal(sg_pubkey_parse(ser, 33, out), -EINVAL);
    assert_int_equal(sg_pubkey_parse(ser, 31, out), -EINVAL);
}

static void test_address(void **state)
{
    struct sg_address a;
    char s[64];
    assert_int_equal(sg_address_make(&a, "15551230000", 0, 0), 0);
    assert_string_equal(a.name, "15551230000");
    assert_int_equal(a.device, 0);
    assert_int_equal(sg_address_make(&a, "211111111111111", 1, 7), 0);
    assert_string_equal(a.name, "211111111111111_1");
    assert_int_equal(a.name_len, strlen("211111111111111_1"));
    assert_int_equal(sg_address_str(&a, s, sizeof s), (int)strlen("211111111111111_1.7"));
    assert_string_equal(s, "211111111111111_1.7");
    assert_int_equal(sg_address_make(&a, "1", 128, 99), 0);
    assert_string_equal(a.name, "1_128");
    assert_int_equal(sg_address_make(&a, "", 0, 0), -EINVAL);
    assert_int_equal(sg_address_make(&a, NULL, 0, 0), -EINVAL);
    assert_int_equal(sg_address_make(&a, "1", 0, 0x80000000u), -EINVAL);
    char longu[SG_USER_MAX + 2];
    memset(longu, '1', sizeof longu - 1);
    longu[sizeof longu - 1] = 0;
    assert_int_equal(sg_address_make(&a, longu, 0, 0), -EINVAL);
    longu[SG_USER_MAX] = 0;
    assert_int_equal(sg_address_make(&a, longu, 129, 0), 0);
    enum sg_msg_type t;
    assert_int_equal(sg_msg_type_parse("pkmsg", &t), 0);
    assert_int_equal(t, SG_PKMSG);
    assert_int_equal(sg_msg_type_parse("skmsg", &t), 0);
    assert_int_equal(t, SG_SKMSG);
    assert_int_equal(sg_msg_type_parse("msmsg", &t), -EINVAL);
    assert_string_equal(sg_msg_type_name(SG_MSG), "msg");
}

/* ---- 1:1 vectors ---- */

/* Bob from the vectors, in a fresh memstore. */
static void vector_bob(struct party *bob, struct sg_memstore_limits *lim)
{
    memset(bob, 0, sizeof *bob);
    uint8_t priv[32], pub[32];
    assert_int_equal(sg_memstore_new(&bob->ms, lim), 0);
    jkey(priv, "signal_1to1.bob.identity_priv");
    assert_int_equal(sg_keypair_from_private(g_sig, priv, &bob->id.kp), 0);
    jkey(pub, "signal_1to1.bob.identity_pub");
    assert_memory_equal(bob->id.kp.pub, pub, 32);
    bob->id.registration_id = jint("signal_1to1.bob.registration_id");
    sg_memstore_set_identity(bob->ms, &bob->id);

    jkey(priv, "signal_1to1.bob.signed_prekey_priv");
    assert_int_equal(sg_keypair_from_private(g_sig, priv, &bob->spk.kp), 0);
    jkey(pub, "signal_1to1.bob.signed_prekey_pub");
    assert_memory_equal(bob->spk.kp.pub, pub, 32);
    bob->spk.id = jint("signal_1to1.bob.signed_prekey_id");
    struct bytes sig = jhex("signal_1to1.bob.signed_prekey_signature");
    assert_int_equal(sig.n, 64);
    memcpy(bob->spk.sig, sig.p, 64);
    free(sig.p);
    uint8_t ser[33];
    sg_pubkey_serialize(bob->spk.kp.pub, ser);
    assert_int_equal(sg_verify(g_sig, bob->id.kp.pub, ser, 33, bob->spk.sig), 1);

    struct sg_prekey pk;
    jkey(priv, "signal_1to1.bob.one_time_prekey_priv");
    assert_int_equal(sg_keypair_from_private(g_sig, priv, &pk.kp), 0);
    jkey(pub, "signal_1to1.bob.one_time_prekey_pub");
    assert_memory_equal(pk.kp.pub, pub, 32);
    pk.id = jint("signal_1to1.bob.one_time_prekey_id");

    struct sg_store st = sg_memstore_store(bob->ms, SG_TRUST_ANY);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &st, &bob->spk), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &st, &pk, 1), 0);
    assert_int_equal(sg_ctx_new(&bob->ctx, g_sig, &st), 0);
}

static void decrypt_vec(struct party *bob, const struct sg_address *alice, const char *name,
                        int want_rc)
{
    char p[96];
    snprintf(p, sizeof p, "signal_1to1.%s.hex", name);
    struct bytes ct = jhex(p);
    snprintf(p, sizeof p, "signal_1to1.%s.plaintext_padded", name);
    struct bytes want = jhex(p);
    struct buf pt;
    buf_init(&pt, 4096);
    int rc = sg_decrypt(bob->ctx, alice, SG_PKMSG, ct.p, ct.n, &pt);
    assert_int_equal(rc, want_rc);
    if (rc == 0) {
        assert_int_equal(pt.len, want.n);
        assert_memory_equal(pt.data, want.p, want.n);
        size_t n = 0;
        assert_int_equal(sg_unpad(pt.data, pt.len, &n), 0);
        assert_int_equal(n, want.n - want.p[want.n - 1]);
    } else {
        assert_int_equal(pt.len, 0);
    }
    buf_free(&pt);
    free(ct.p);
    free(want.p);
}

static void test_vector_1to1(void **state)
{
    struct party bob;
    vector_bob(&bob, NULL);
    struct sg_address alice;
    assert_int_equal(sg_address_make(&alice, "15550001111", 0, 0), 0);
    assert_int_equal(sg_memstore_count(bob.ms, SG_MEM_PREKEY), 1);

    struct sg_memstore *before = NULL;
    assert_int_equal(sg_memstore_clone(bob.ms, &before), 0);

    /* a corrupt pkmsg (inner MAC) fails and records nothing: no identity, key 77 kept */
    struct bytes bad = jhex("signal_1to1.pkmsg1.hex");
    struct buf tmp;
    buf_init(&tmp, 4096);
    uint8_t ik[32], want_ik[32];
    signal_protocol_address ra = {alice.name, alice.name_len, alice.device};
    bad.p[bad.n - 6] ^= 1;
    assert_int_equal(sg_decrypt(bob.ctx, &alice, SG_PKMSG, bad.p, bad.n, &tmp), SG_E_BAD_MAC);
    assert_int_equal(tmp.len, 0);
    assert_int_equal(sg_memstore_ops()->load_identity(bob.ms, &ra, ik), 0);
    assert_int_equal(sg_memstore_count(bob.ms, SG_MEM_PREKEY), 1);
    assert_int_equal(sg_has_session(bob.ctx, &alice), 0);
    buf_free(&tmp);
    free(bad.p);

    decrypt_vec(&bob, &alice, "pkmsg1", 0);
    /* the one-time pre-key is consumed, Alice's identity recorded */
    assert_int_equal(sg_memstore_count(bob.ms, SG_MEM_PREKEY), 0);
    jkey(want_ik, "signal_1to1.alice.identity_pub");
    assert_int_equal(sg_memstore_ops()->load_identity(bob.ms, &ra, ik), 1);
    assert_memory_equal(ik, want_ik, 32);
    decrypt_vec(&bob, &alice, "pkmsg2", 0);
    /* redelivery of an already processed pkmsg */
    decrypt_vec(&bob, &alice, "pkmsg1", SG_E_DUPLICATE);
    decrypt_vec(&bob, &alice, "pkmsg2", SG_E_DUPLICATE);

    /* Bob's reply: a msg (the session was answered), same size as Baileys' reply */
    struct bytes reply = jhex("signal_1to1.reply_msg_from_bob.hex");
    struct bytes reply_pt = jhex("signal_1to1.reply_msg_from_bob.decrypted_by_alice");
    struct buf ct;
    buf_init(&ct, 4096);
    enum sg_msg_type t;
    assert_int_equal(sg_encrypt(bob.ctx, &alice, reply_pt.p, reply_pt.n, &t, &ct), 0);
    assert_int_equal(t, SG_MSG);
    assert_int_equal(ct.len, reply.n);
    assert_int_equal(ct.data[0], 0x33);
    assert_memory_equal(ct.data + 1, reply.p + 1, 3); /* 0a 21 05: ratchet key field */

    /* msg3 answers Baileys' reply, whose ratchet key we cannot reproduce: it must fail
     * cleanly as an invalid message, and leave the session usable. */
    struct bytes m3 = jhex("signal_1to1.msg3_from_alice.hex");
    struct buf pt;
    buf_init(&pt, 4096);
    assert_int_equal(m3.p[0], 0x33);
    assert_int_equal(sg_decrypt(bob.ctx, &alice, SG_MSG, m3.p, m3.n, &pt), SG_E_BAD_MAC);
    assert_true(strlen(sg_ctx_last_error(bob.ctx)) > 0);
    buf_reset(&ct);
    assert_int_equal(sg_encrypt(bob.ctx, &alice, reply_pt.p, reply_pt.n, &t, &ct), 0);

    /* crash before pkmsg1 was persisted: the restored state decrypts it again */
    assert_int_equal(sg_memstore_restore(bob.ms, before), 0);
    assert_int_equal(sg_has_session(bob.ctx, &alice), 0);
    decrypt_vec(&bob, &alice, "pkmsg2", 0); /* out of order: pkmsg2 first */
    decrypt_vec(&bob, &alice, "pkmsg1", 0);
    decrypt_vec(&bob, &alice, "pkmsg1", SG_E_DUPLICATE);

    /* without the one-time pre-key (restored store minus key 77): invalid pre-key id */
    assert_int_equal(sg_memstore_restore(bob.ms, before), 0);
    assert_int_equal(sg_memstore_ops()->remove_prekey(bob.ms, 77), 1);
    decrypt_vec(&bob, &alice, "pkmsg1", SG_E_NO_PREKEY);
    assert_int_equal(sg_has_session(bob.ctx, &alice), 0);

    buf_free(&pt);
    buf_free(&ct);
    free(reply.p);
    free(reply_pt.p);
    free(m3.p);
    sg_memstore_free(before);
    party_free(&bob);
}

/* ---- 1:1 round trips ---- */

static void test_round_trip(void **state)
{
    struct party a, b;
    party_init(&a, "111", SG_TRUST_ANY, 0);
    party_init(&b, "222", SG_TRUST_ANY, 5);
    struct sg_bundle bun;
    party_bundle(&b, 3, &bun);
    assert_int_equal(sg_has_session(a.ctx, &b.addr), 0);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    assert_int_equal(sg_has_session(a.ctx, &b.addr), 1);

    struct buf ct;
    buf_init(&ct, 1 << 20);
    /* until B answers, A keeps sending pkmsg */
    assert_int_equal(send_text(&a, &b, "hello", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "hello"), 0);
    assert_int_equal(sg_memstore_count(b.ms, SG_MEM_PREKEY), 4);
    assert_int_equal(send_text(&a, &b, "again", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "again"), 0);
    assert_int_equal(send_text(&b, &a, "reply", &ct), SG_MSG);
    assert_int_equal(recv_text(&a, &b, SG_MSG, &ct, "reply"), 0);
    assert_int_equal(send_text(&a, &b, "now msg", &ct), SG_MSG);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "now msg"), 0);

    /* many messages, turning the ratchet at irregular intervals */
    char text[64];
    for (int i = 0; i < 120; i++) {
        int ab = (i / 3 + i / 7) % 2 == 0;
        struct party *from = ab ? &a : &b, *to = ab ? &b : &a;
        snprintf(text, sizeof text, "message %d", i);
        enum sg_msg_type t = send_text(from, to, text, &ct);
        assert_int_equal(t, SG_MSG);
        assert_int_equal(recv_text(to, from, t, &ct, text), 0);
    }
    buf_free(&ct);
    party_free(&a);
    party_free(&b);
}

static void test_out_of_order_duplicate_tamper(void **state)
{
    struct party a, b;
    party_init(&a, "111", SG_TRUST_ANY, 0);
    party_init(&b, "222", SG_TRUST_ANY, 2);
    struct sg_bundle bun;
    party_bundle(&b, 1, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    struct buf ct[6];
    enum sg_msg_type t[6];
    char text[6][16];
    for (int i = 0; i < 6; i++) {
        buf_init(&ct[i], 4096);
        snprintf(text[i], sizeof text[i], "m%d", i);
        t[i] = send_text(&a, &b, text[i], &ct[i]);
        assert_int_equal(t[i], SG_PKMSG);
    }
    static const int order[6] = {4, 0, 2, 5, 1, 3};
    for (int k = 0; k < 6; k++) {
        int i = order[k];
        assert_int_equal(recv_text(&b, &a, t[i], &ct[i], text[i]), 0);
    }
    /* duplicates */
    assert_int_equal(recv_text(&b, &a, t[2], &ct[2], text[2]), SG_E_DUPLICATE);
    assert_int_equal(recv_text(&b, &a, t[5], &ct[5], text[5]), SG_E_DUPLICATE);

    /* switch to msg; skipped keys within the window on a msg chain too */
    assert_int_equal(send_text(&b, &a, "r", &ct[0]), SG_MSG);
    assert_int_equal(recv_text(&a, &b, SG_MSG, &ct[0], "r"), 0);
    for (int i = 0; i < 4; i++) {
        snprintf(text[i], sizeof text[i], "n%d", i);
        t[i] = send_text(&a, &b, text[i], &ct[i]);
        assert_int_equal(t[i], SG_MSG);
    }
    /* tampered MAC / body: invalid message, state intact */
    struct buf bad;
    buf_init(&bad, 4096);
    assert_int_equal(buf_append(&bad, ct[3].data, ct[3].len), 0);
    bad.data[bad.len - 1] ^= 0x01;
    assert_int_equal(recv_text(&b, &a, SG_MSG, &bad, "x"), SG_E_BAD_MAC);
    bad.data[bad.len - 1] ^= 0x01;
    bad.data[bad.len - 12] ^= 0x80;
    assert_int_equal(recv_text(&b, &a, SG_MSG, &bad, "x"), SG_E_BAD_MAC);
    /* a message of the wrong type / random bytes: malformed */
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct[3], "x"), SG_E_MALFORMED);
    buf_reset(&bad);
    assert_int_equal(buf_append(&bad, "\x33garbage-garbage-garbage", 24), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &bad, "x"), SG_E_MALFORMED);
    buf_reset(&bad);
    assert_int_equal(buf_append(&bad, "\x22\x00\x00\x00\x00\x00\x00\x00\x00\x00", 10), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &bad, "x"), SG_E_MALFORMED);
    struct buf out;
    buf_init(&out, 64);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, bad.data, 0, &out), SG_E_MALFORMED);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_SKMSG, bad.data, bad.len, &out), -EINVAL);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, bad.data, SG_MAX_MESSAGE + 1, &out),
                     SG_E_TOO_BIG);

    /* output cap too small: -ENOBUFS and nothing consumed */
    struct buf tiny;
    buf_init(&tiny, 2);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, ct[3].data, ct[3].len, &tiny), -ENOBUFS);
    assert_int_equal(tiny.len, 0);
    buf_free(&tiny);
    for (int i = 3; i >= 0; i--)
        assert_int_equal(recv_text(&b, &a, SG_MSG, &ct[i], text[i]), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct[1], text[1]), SG_E_DUPLICATE);

    /* no session: an unknown sender's msg */
    struct party c;
    party_init(&c, "333", SG_TRUST_ANY, 0);
    assert_int_equal(recv_text(&c, &a, SG_MSG, &ct[0], "x"), SG_E_NO_SESSION);
    enum sg_msg_type tt;
    buf_reset(&out);
    assert_int_equal(sg_encrypt(c.ctx, &a.addr, (const uint8_t *)"x", 1, &tt, &out),
                     SG_E_NO_SESSION);

    buf_free(&out);
    buf_free(&bad);
    for (int i = 0; i < 6; i++)
        buf_free(&ct[i]);
    party_free(&a);
    party_free(&b);
    party_free(&c);
}

static void test_bundle_errors_and_identity(void **state)
{
    struct party a, b, evil;
    party_init(&a, "111", SG_TRUST_ANY, 0);
    party_init(&b, "222", SG_TRUST_TOFU, 3);
    party_init(&evil, "111", SG_TRUST_ANY, 0); /* same address as a, other identity */
    struct sg_bundle bun;
    party_bundle(&b, 1, &bun);

    /* bad signature */
    struct sg_bundle bad = bun;
    bad.signed_prekey_sig[5] ^= 1;
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bad), SG_E_BAD_MAC);
    assert_int_equal(sg_has_session(a.ctx, &b.addr), 0);
    bad = bun;
    bad.prekey_id = 0x1000000;
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bad), -EINVAL);

    /* unknown one-time pre-key id (the key is valid but B never had id 999) */
    struct buf ct;
    buf_init(&ct, 4096);
    bad = bun;
    bad.prekey_id = 999;
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bad), 0);
    assert_int_equal(send_text(&a, &b, "x", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "x"), SG_E_NO_PREKEY);
    /* unknown signed pre-key id */
    bad = bun;
    bad.signed_prekey_id = 42;
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bad), 0);
    assert_int_equal(send_text(&a, &b, "x", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "x"), SG_E_NO_PREKEY);

    /* bundle without one-time pre-key works */
    party_bundle(&b, 0, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    assert_int_equal(send_text(&a, &b, "no opk", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "no opk"), 0);

    /* B (TOFU) now knows a's identity: another identity at the same address is rejected */
    party_bundle(&b, 2, &bun);
    assert_int_equal(sg_session_from_bundle(evil.ctx, &b.addr, &bun), 0);
    assert_int_equal(send_text(&evil, &b, "imposter", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &evil, SG_PKMSG, &ct, "imposter"), SG_E_UNTRUSTED);
    assert_int_equal(sg_memstore_count(b.ms, SG_MEM_PREKEY), 3); /* key 2 not consumed */

    /* a (trust any) accepts a changed identity of B and records it */
    struct party b2;
    party_init(&b2, "222", SG_TRUST_ANY, 1);
    party_bundle(&b2, 1, &bun);
    assert_int_equal(send_text(&b, &a, "from old b", &ct), SG_MSG);
    assert_int_equal(recv_text(&a, &b, SG_MSG, &ct, "from old b"), 0);
    assert_int_equal(sg_session_from_bundle(b2.ctx, &a.addr, &(struct sg_bundle){0}), SG_E_BAD_MAC);
    party_bundle(&a, 0, &bun);
    assert_int_equal(sg_session_from_bundle(b2.ctx, &a.addr, &bun), 0);
    assert_int_equal(send_text(&b2, &a, "new b", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&a, &b2, SG_PKMSG, &ct, "new b"), 0);
    uint8_t ik[32];
    signal_protocol_address ra = {b2.addr.name, b2.addr.name_len, b2.addr.device};
    assert_int_equal(sg_memstore_ops()->load_identity(a.ms, &ra, ik), 1);
    assert_memory_equal(ik, b2.id.kp.pub, 32);

    /* TOFU also guards bundle processing */
    struct party t;
    party_init(&t, "444", SG_TRUST_TOFU, 0);
    party_bundle(&b, 0, &bun);
    assert_int_equal(sg_session_from_bundle(t.ctx, &b.addr, &bun), 0);
    party_bundle(&b2, 0, &bun);
    assert_int_equal(sg_session_from_bundle(t.ctx, &b.addr, &bun), SG_E_UNTRUSTED);
    assert_int_equal(sg_delete_session(t.ctx, &b.addr), 0);
    assert_int_equal(sg_has_session(t.ctx, &b.addr), 0);

    buf_free(&ct);
    party_free(&a);
    party_free(&b);
    party_free(&b2);
    party_free(&evil);
    party_free(&t);
}

/* Crash/redelivery: decrypt with a restored older state. */
static void test_snapshot_redelivery(void **state)
{
    struct party a, b;
    party_init(&a, "111", SG_TRUST_ANY, 0);
    party_init(&b, "222", SG_TRUST_ANY, 1);
    struct sg_bundle bun;
    party_bundle(&b, 1, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    struct buf ct;
    buf_init(&ct, 4096);
    assert_int_equal(send_text(&a, &b, "first", &ct), SG_PKMSG);
    struct sg_memstore *snap = NULL;
    assert_int_equal(sg_memstore_clone(b.ms, &snap), 0);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "first"), 0);
    /* state persisted: redelivery is "already processed" */
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "first"), SG_E_DUPLICATE);
    /* crash lost the write: the same message decrypts again */
    assert_int_equal(sg_memstore_restore(b.ms, snap), 0);
    assert_int_equal(sg_memstore_count(b.ms, SG_MEM_PREKEY), 1);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "first"), 0);
    assert_int_equal(sg_memstore_count(b.ms, SG_MEM_PREKEY), 0);

    /* same for msg */
    assert_int_equal(send_text(&b, &a, "r", &ct), SG_MSG);
    assert_int_equal(recv_text(&a, &b, SG_MSG, &ct, "r"), 0);
    assert_int_equal(send_text(&a, &b, "second", &ct), SG_MSG);
    sg_memstore_free(snap);
    assert_int_equal(sg_memstore_clone(b.ms, &snap), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "second"), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "second"), SG_E_DUPLICATE);
    assert_int_equal(sg_memstore_restore(b.ms, snap), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "second"), 0);
    sg_memstore_free(snap);
    buf_free(&ct);
    party_free(&a);
    party_free(&b);
}

/* Regression inputs for the guards in front of libsignal (fuzzing an instrumented
 * libsignal-protocol-c found undefined behaviour for these shapes): all must be rejected
 * as malformed before libsignal sees them, whatever the state. */
static void test_malformed_guards(void **state)
{
    struct party b, a;
    party_init(&b, "222", SG_TRUST_ANY, 1);
    party_init(&a, "111", SG_TRUST_ANY, 0);
    struct sg_bundle bun;
    party_bundle(&b, 1, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    struct buf ct, out;
    buf_init(&ct, 4096);
    buf_init(&out, 4096);
    assert_int_equal(send_text(&a, &b, "ok", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "ok"), 0);

    /* msg: 33 | 0a 21 05<32> 10 00 18 00 22 00 | mac(8): empty ciphertext field */
    uint8_t m[64] = {0x33, 0x0a, 0x21, 0x05};
    memset(m + 4, 0x11, 32);
    memcpy(m + 36, "\x10\x00\x18\x00\x22\x00", 6);
    memset(m + 42, 0xaa, 8);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, m, 50, &out), SG_E_MALFORMED);
    /* with one ciphertext byte the same message reaches libsignal (and fails its MAC) */
    memcpy(m + 36, "\x10\x00\x18\x00\x22\x01\x41", 7);
    memset(m + 43, 0xaa, 8);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, m, 51, &out), SG_E_BAD_MAC);
    /* 5-byte tag varint; 5-byte length prefix; fixed32 wire type; truncated field */
    static const uint8_t tag5[] = {0x33, 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00, 1,
                                   2,    3,    4,    5,    6,    7,    8};
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, tag5, sizeof tag5, &out), SG_E_MALFORMED);
    static const uint8_t len5[] = {0x33, 0x22, 0x81, 0x80, 0x80, 0x80, 0x70, 0x41,
                                   1,    2,    3,    4,    5,    6,    7,    8};
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, len5, sizeof len5, &out), SG_E_MALFORMED);
    static const uint8_t fix32[] = {0x33, 0x15, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, fix32, sizeof fix32, &out), SG_E_MALFORMED);
    static const uint8_t trunc[] = {0x33, 0x22, 0x09, 0x41, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, trunc, sizeof trunc, &out), SG_E_MALFORMED);
    /* pkmsg: no inner message, or an inner message with an empty ciphertext */
    static const uint8_t pk_noinner[] = {0x33, 0x08, 0x01, 0x28, 0x05};
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_PKMSG, pk_noinner, sizeof pk_noinner, &out),
                     SG_E_MALFORMED);
    uint8_t pk[80] = {0x33, 0x08, 0x01, 0x22, 50};
    memcpy(pk + 5, m, 42);
    memcpy(pk + 5 + 36, "\x10\x00\x18\x00\x22\x00", 6);
    memset(pk + 5 + 42, 0xaa, 8);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_PKMSG, pk, 55, &out), SG_E_MALFORMED);
    /* skmsg with an empty ciphertext; SKDM with an empty chain key */
    uint8_t sk[80] = {0x33, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x00};
    assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &a.addr, sk, 7 + 64, &out), SG_E_MALFORMED);
    static const uint8_t skdm[] = {0x33, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x00};
    assert_int_equal(sg_group_process_skdm(b.ctx, GROUP, &a.addr, skdm, sizeof skdm),
                     SG_E_MALFORMED);
    assert_int_equal(out.len, 0);
    /* the session is untouched */
    assert_int_equal(send_text(&a, &b, "still fine", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "still fine"), 0);
    buf_free(&ct);
    buf_free(&out);
    party_free(&a);
    party_free(&b);
}

/* ---- groups ---- */

static void test_vector_group(void **state)
{
    struct party r;
    party_init(&r, "999", SG_TRUST_ANY, 0);
    struct sg_address sender;
    assert_int_equal(sg_address_make(&sender, "15550001111", 0, 0), 0);
    struct bytes skdm = jhex("signal_group.skdm_hex");
    struct bytes m[3];
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "signal_group.skmsg.%d.hex", i);
        m[i] = jhex(p);
    }
    struct buf pt;
    buf_init(&pt, 4096);
    /* before the SKDM: no sender key */
    assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[0].p, m[0].n, &pt), SG_E_NO_SESSION);
    assert_int_equal(sg_group_process_skdm(r.ctx, GROUP, &sender, skdm.p, skdm.n), 0);
    /* another group or sender has no key */
    assert_int_equal(sg_group_decrypt(r.ctx, "1@g.us", &sender, m[0].p, m[0].n, &pt),
                     SG_E_NO_SESSION);
    struct sg_memstore *snap = NULL;
    assert_int_equal(sg_memstore_clone(r.ms, &snap), 0);
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "signal_group.receiver_decrypted.%d", i);
        const char *want = jget(g_root, p)->valuestring;
        buf_reset(&pt);
        assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[i].p, m[i].n, &pt), 0);
        /* padded Message{conversation = want}: 0a len text, then the padding */
        size_t n = 0;
        assert_int_equal(sg_unpad(pt.data, pt.len, &n), 0);
        assert_int_equal(n, 2 + strlen(want));
        assert_int_equal(pt.data[0], 0x0a);
        assert_int_equal(pt.data[1], strlen(want));
        assert_memory_equal(pt.data + 2, want, strlen(want));
    }
    buf_reset(&pt);
    assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[1].p, m[1].n, &pt), SG_E_DUPLICATE);
    assert_int_equal(pt.len, 0);
    /* restored state: out of order 2, 0, 1 */
    assert_int_equal(sg_memstore_restore(r.ms, snap), 0);
    static const int order[3] = {2, 0, 1};
    for (int k = 0; k < 3; k++) {
        buf_reset(&pt);
        assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[order[k]].p, m[order[k]].n, &pt),
                         0);
    }
    /* bad signature / truncated / garbage */
    assert_int_equal(sg_memstore_restore(r.ms, snap), 0);
    m[0].p[m[0].n - 3] ^= 1;
    assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[0].p, m[0].n, &pt), SG_E_BAD_MAC);
    m[0].p[m[0].n - 3] ^= 1;
    m[0].p[20] ^= 1; /* inside the ciphertext: the signature covers it */
    assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[0].p, m[0].n, &pt), SG_E_BAD_MAC);
    m[0].p[20] ^= 1;
    assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[0].p, 40, &pt), SG_E_MALFORMED);
    assert_int_equal(sg_group_process_skdm(r.ctx, GROUP, &sender, skdm.p, 10), SG_E_MALFORMED);
    assert_int_equal(sg_group_process_skdm(r.ctx, GROUP, &sender, m[0].p, m[0].n), SG_E_MALFORMED);
    buf_reset(&pt);
    assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m[0].p, m[0].n, &pt), 0);
    assert_int_equal(sg_group_decrypt(r.ctx, "", &sender, m[0].p, m[0].n, &pt), -EINVAL);

    sg_memstore_free(snap);
    buf_free(&pt);
    for (int i = 0; i < 3; i++)
        free(m[i].p);
    free(skdm.p);
    party_free(&r);
}

static void test_group_round_trip(void **state)
{
    struct party a, b, c;
    party_init(&a, "111", SG_TRUST_ANY, 0);
    party_init(&b, "222", SG_TRUST_ANY, 0);
    party_init(&c, "333", SG_TRUST_ANY, 0);
    struct buf skdm, skdm2, ct, pt;
    buf_init(&skdm, 4096);
    buf_init(&skdm2, 4096);
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.addr, (const uint8_t *)"x", 1, &ct),
                     SG_E_NO_SESSION);
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.addr, &skdm), 0);
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_SENDER_KEY), 1);
    /* asking again returns the same key (no new key) */
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.addr, &skdm2), 0);
    assert_int_equal(skdm.len, skdm2.len);
    assert_memory_equal(skdm.data, skdm2.data, skdm.len);
    assert_int_equal(sg_group_process_skdm(b.ctx, GROUP, &a.addr, skdm.data, skdm.len), 0);
    char text[32];
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "group msg %d", i);
        buf_reset(&ct);
        buf_reset(&pt);
        assert_int_equal(
            sg_group_encrypt(a.ctx, GROUP, &a.addr, (const uint8_t *)text, strlen(text), &ct), 0);
        assert_int_equal(ct.data[0], 0x33);
        assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &a.addr, ct.data, ct.len, &pt), 0);
        assert_int_equal(pt.len, strlen(text));
        assert_memory_equal(pt.data, text, pt.len);
    }
    /* c never got the SKDM; b decrypting with the wrong sender address fails too */
    assert_int_equal(sg_group_decrypt(c.ctx, GROUP, &a.addr, ct.data, ct.len, &pt),
                     SG_E_NO_SESSION);
    assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &c.addr, ct.data, ct.len, &pt),
                     SG_E_NO_SESSION);
    /* a late SKDM (current iteration) lets c decrypt later messages */
    buf_reset(&skdm2);
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.addr, &skdm2), 0);
    assert_int_equal(sg_group_process_skdm(c.ctx, GROUP, &a.addr, skdm2.data, skdm2.len), 0);
    buf_reset(&ct);
    assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.addr, (const uint8_t *)"late", 4, &ct), 0);
    buf_reset(&pt);
    assert_int_equal(sg_group_decrypt(c.ctx, GROUP, &a.addr, ct.data, ct.len, &pt), 0);
    assert_memory_equal(pt.data, "late", 4);
    /* a's key is replaced (new install, same address): b has no state for the new key id */
    struct party a2;
    party_init(&a2, "111", SG_TRUST_ANY, 0);
    buf_reset(&skdm2);
    assert_int_equal(sg_group_create(a2.ctx, GROUP, &a2.addr, &skdm2), 0);
    buf_reset(&ct);
    assert_int_equal(sg_group_encrypt(a2.ctx, GROUP, &a2.addr, (const uint8_t *)"new", 3, &ct), 0);
    assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &a.addr, ct.data, ct.len, &pt),
                     SG_E_NO_SESSION);
    assert_int_equal(sg_group_process_skdm(b.ctx, GROUP, &a.addr, skdm2.data, skdm2.len), 0);
    buf_reset(&pt);
    assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &a.addr, ct.data, ct.len, &pt), 0);
    assert_memory_equal(pt.data, "new", 3);
    party_free(&a2);

    buf_free(&skdm);
    buf_free(&skdm2);
    buf_free(&ct);
    buf_free(&pt);
    party_free(&a);
    party_free(&b);
    party_free(&c);
}

/* ---- padding ---- */

static void test_padding(void **state)
{
    struct buf b;
    buf_init(&b, 1024);
    size_t n = 99;
    for (unsigned k = 1; k <= 16; k++) {
        buf_reset(&b);
        assert_int_equal(buf_append_str(&b, "abc"), 0);
        assert_int_equal(sg_pad_n(&b, k), 0);
        assert_int_equal(b.len, 3 + k);
        assert_int_equal(sg_unpad(b.data, b.len, &n), 0);
        assert_int_equal(n, 3);
    }
    assert_int_equal(sg_pad_n(&b, 0), -EINVAL);
    assert_int_equal(sg_pad_n(&b, 17), -EINVAL);
    unsigned seen[17] = {0};
    for (int i = 0; i < 400; i++) {
        buf_reset(&b);
        assert_int_equal(sg_pad(&b), 0);
        assert_true(b.len >= 1 && b.len <= 16);
        seen[b.len]++;
        assert_int_equal(sg_unpad(b.data, b.len, &n), 0);
        assert_int_equal(n, 0);
    }
    for (int k = 1; k <= 16; k++)
        assert_true(seen[k] > 0);
    /* strictness */
    assert_int_equal(sg_unpad(b.data, 0, &n), -EBADMSG);
    assert_int_equal(sg_unpad((const uint8_t *)"ab\x00", 3, &n), -EBADMSG);
    assert_int_equal(sg_unpad((const uint8_t *)"a\x04\x04\x04", 4, &n), -EBADMSG);
    assert_int_equal(sg_unpad((const uint8_t *)"\x05\x05\x05\x05", 4, &n), -EBADMSG);
    assert_int_equal(sg_unpad((const uint8_t *)"a\x03\x02\x03", 4, &n), -EBADMSG);
    assert_int_equal(sg_unpad((const uint8_t *)"\x04\x04\x04\x04", 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sg_unpad((const uint8_t *)"a\x01", 2, &n), 0);
    assert_int_equal(n, 1);
    /* unpadded length larger than 16 is accepted (whatsmeow's rule: all equal N) */
    uint8_t big[40];
    memset(big, 20, sizeof big);
    assert_int_equal(sg_unpad(big, sizeof big, &n), 0);
    assert_int_equal(n, 20);
    buf_free(&b);
}

/* ---- memstore ---- */

static void test_memstore_caps(void **state)
{
    struct sg_memstore_limits lim = {0};
    lim.max_entries[SG_MEM_PREKEY] = 3;
    lim.max_entries[SG_MEM_SESSION] = 1;
    lim.max_entries[SG_MEM_SENDER_KEY] = 1;
    lim.max_record_len = 8192;
    struct party a, b, c;
    party_init_lim(&a, "111", SG_TRUST_ANY, 3, &lim);
    party_init(&b, "222", SG_TRUST_ANY, 2);
    party_init(&c, "333", SG_TRUST_ANY, 2);
    const struct sg_store_ops *ops = sg_memstore_ops();
    /* pre-keys: full; replacing works; a 4th is refused */
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_PREKEY), 3);
    struct sg_store st = sg_memstore_store(a.ms, SG_TRUST_ANY);
    struct sg_prekey pk[2];
    assert_int_equal(sg_prekeys_generate(g_sig, 3, 2, pk, NULL), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &st, &pk[0], 1), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &st, &pk[1], 1), -ENOSPC);
    struct sg_prekey back;
    assert_int_equal(sg_store_get_prekey(g_sig, &st, 3, &back), 1);
    assert_memory_equal(back.kp.pub, pk[0].kp.pub, 32);
    assert_int_equal(sg_store_get_prekey(g_sig, &st, 4, &back), 0);
    uint8_t huge[8193] = {0};
    assert_int_equal(ops->store_prekey(a.ms, 1, huge, sizeof huge), -ENOBUFS);
    assert_int_equal(ops->remove_prekey(a.ms, 2), 1);
    assert_int_equal(ops->remove_prekey(a.ms, 2), 0);
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_PREKEY), 2);

    /* sessions: one allowed */
    struct sg_bundle bun;
    party_bundle(&b, 1, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    party_bundle(&c, 1, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &c.addr, &bun), -ENOSPC);
    assert_string_not_equal(sg_ctx_last_error(a.ctx), "");
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_SESSION), 1);
    /* sender keys: one allowed */
    struct buf skdm;
    buf_init(&skdm, 4096);
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.addr, &skdm), 0);
    assert_int_equal(sg_group_create(a.ctx, "2@g.us", &a.addr, &skdm), -ENOSPC);

    /* session listing / deletion by name */
    signal_int_list *l = signal_int_list_alloc();
    assert_int_equal(ops->list_session_devices(a.ms, b.addr.name, b.addr.name_len, l), 1);
    assert_int_equal(signal_int_list_at(l, 0), 0);
    signal_int_list_free(l);
    assert_int_equal(ops->delete_all_sessions(a.ms, b.addr.name, b.addr.name_len - 1), 0);
    assert_int_equal(ops->delete_all_sessions(a.ms, b.addr.name, b.addr.name_len), 1);
    assert_int_equal(sg_has_session(a.ctx, &b.addr), 0);

    /* clone is deep and independent */
    struct sg_memstore *cl = NULL;
    assert_int_equal(sg_memstore_clone(a.ms, &cl), 0);
    assert_int_equal(ops->remove_prekey(a.ms, 1), 1);
    assert_int_equal(sg_memstore_count(cl, SG_MEM_PREKEY), 2);
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_PREKEY), 1);
    assert_int_equal(sg_memstore_restore(a.ms, cl), 0);
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_PREKEY), 2);
    assert_int_equal(sg_memstore_count(a.ms, SG_MEM_SENDER_KEY), 1);
    sg_memstore_free(cl);
    /* an empty store has no identity: operations fail with the store's error */
    struct sg_memstore *empty = NULL;
    assert_int_equal(sg_memstore_new(&empty, NULL), 0);
    struct sg_store est = sg_memstore_store(empty, SG_TRUST_ANY);
    struct sg_ctx *ec = NULL;
    assert_int_equal(sg_ctx_new(&ec, g_sig, &est), 0);
    party_bundle(&b, 2, &bun);
    assert_int_equal(sg_session_from_bundle(ec, &b.addr, &bun), -ENODATA);
    sg_ctx_free(ec);
    sg_memstore_free(empty);

    buf_free(&skdm);
    party_free(&a);
    party_free(&b);
    party_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_vectors),
        cmocka_unit_test(test_keys_generation),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_vector_1to1),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_out_of_order_duplicate_tamper),
        cmocka_unit_test(test_bundle_errors_and_identity),
        cmocka_unit_test(test_snapshot_redelivery),
        cmocka_unit_test(test_malformed_guards),
        cmocka_unit_test(test_vector_group),
        cmocka_unit_test(test_group_round_trip),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_memstore_caps),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
