/* SPDX-License-Identifier: MIT */
/* test_paircode.c -- pairing codes against tests/fixtures/paircode-vectors.json (made with
 * Baileys' own functions by tools/gen-paircode-vectors.js): code alphabet, PBKDF2 key, CTR
 * wrapping both ways, shared secrets, bundle key, GCM bundle, ADV secret and the encoded
 * companion_hello / companion_finish iqs byte for byte; then the rejections (wrong code,
 * malformed notifications, ref mismatch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vectors.h"

#include "core/buf.h"
#include "core/fileio.h"
#include "wa/jid.h"
#include "wa/keys.h"
#include "wa/node.h"
#include "wa/paircode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *g_v;

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("WAGATE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/paircode-vectors.json",
             dir && *dir ? dir : WAGATE_SOURCE_DIR);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 1u << 20, &text, &len), 0);
    g_v = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(g_v);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_v);
    return 0;
}

static const char *vs(const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(g_v, name);
    assert_true(cJSON_IsString(it));
    return it->valuestring;
}

/* Hex vector `name` of exactly n bytes into out. */
static void vb(const char *name, uint8_t *out, size_t n)
{
    size_t got = 0;
    uint8_t *p = vectors_hexdup(vs(name), &got);
    assert_non_null(p);
    assert_int_equal(got, n);
    memcpy(out, p, n);
    free(p);
}

static void test_codes(void **state)
{
    (void)state;
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(g_v, "codes");
    assert_true(cJSON_GetArraySize(codes) >= 4);
    const cJSON *it;
    cJSON_ArrayForEach(it, codes)
    {
        size_t n = 0;
        uint8_t *raw =
            vectors_hexdup(cJSON_GetObjectItemCaseSensitive(it, "bytes")->valuestring, &n);
        assert_int_equal(n, WA_PAIRCODE_RAW_LEN);
        char code[9];
        wa_paircode_code(raw, code);
        assert_string_equal(code, cJSON_GetObjectItemCaseSensitive(it, "code")->valuestring);
        free(raw);
    }
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(g_v, "pbkdf2_iterations")->valueint,
                     WA_PAIRCODE_PBKDF2_ITER);
}

static void test_normalize(void **state)
{
    (void)state;
    char c[9], d[10], p[16];
    assert_int_equal(wa_paircode_normalize("mq2y-4w1g", c), 0);
    assert_string_equal(c, "MQ2Y4W1G");
    wa_paircode_display(c, d);
    assert_string_equal(d, "MQ2Y-4W1G");
    assert_int_equal(wa_paircode_normalize("MQ2Y4W1", c), -EINVAL);   /* short */
    assert_int_equal(wa_paircode_normalize("MQ2Y4W1GG", c), -EINVAL); /* long */
    assert_int_equal(wa_paircode_normalize("MQ2Y4W1O", c), -EINVAL);  /* O not in alphabet */
    assert_int_equal(wa_paircode_normalize("0Q2Y4W1G", c), -EINVAL);  /* 0 either */
    assert_int_equal(wa_paircode_phone("+1 (555) 000-1234", p), 0);
    assert_string_equal(p, "15550001234");
    assert_int_equal(wa_paircode_phone("+123456", p), -EINVAL);           /* 6 digits */
    assert_int_equal(wa_paircode_phone("+1234567890123456", p), -EINVAL); /* 16 */
    assert_int_equal(wa_paircode_phone("+15550001x", p), -EINVAL);
    assert_int_equal(wa_paircode_phone("0155500012", p), -EINVAL);
}

static void test_key_and_wrap(void **state)
{
    (void)state;
    uint8_t salt[32], iv[16], pub[32], key[32], want[32], w[80], wantw[80], back[32];
    const char *code = vs("code");
    vb("companion_salt", salt, 32);
    vb("companion_iv", iv, 16);
    vb("companion_ephemeral_pub", pub, 32);
    vb("companion_code_key", want, 32);
    assert_int_equal(wa_paircode_key(code, salt, key), 0);
    assert_memory_equal(key, want, 32);
    vb("wrapped_companion_ephemeral", wantw, 80);
    assert_int_equal(wa_paircode_wrap(code, salt, iv, pub, w), 0);
    assert_memory_equal(w, wantw, 80);
    /* the primary's wrapped key unwraps to its ephemeral */
    vb("wrapped_primary_ephemeral", w, 80);
    vb("primary_ephemeral_pub", want, 32);
    assert_int_equal(wa_paircode_unwrap(code, w, 80, back), 0);
    assert_memory_equal(back, want, 32);
    /* a wrong code gives another key, silently */
    assert_int_equal(wa_paircode_unwrap("MQ2Y4W1H", w, 80, back), 0);
    assert_memory_not_equal(back, want, 32);
    assert_int_equal(wa_paircode_unwrap(code, w, 79, back), -EBADMSG);
    assert_int_equal(wa_paircode_key("short", salt, key), -EINVAL);
}

static void test_bundle_and_adv(void **state)
{
    (void)state;
    uint8_t cpriv[32], ppub[32], shared[32], want[32], salt[32], iv[12], ci[32], pi[32], r[32];
    uint8_t key[32], bundle[156], wantb[156], ipriv[32], ishared[32], adv[32];
    vb("companion_ephemeral_priv", cpriv, 32);
    vb("primary_ephemeral_pub", ppub, 32);
    vb("ephemeral_shared", want, 32);
    assert_int_equal(wa_dh(shared, cpriv, ppub), 0);
    assert_memory_equal(shared, want, 32);
    vb("bundle_salt", salt, 32);
    vb("bundle_key", want, 32);
    assert_int_equal(wa_paircode_bundle_key(shared, salt, key), 0);
    assert_memory_equal(key, want, 32);
    vb("bundle_iv", iv, 12);
    vb("companion_identity_pub", ci, 32);
    vb("primary_identity_pub", pi, 32);
    vb("random", r, 32);
    vb("wrapped_key_bundle", wantb, 156);
    assert_int_equal(wa_paircode_bundle(shared, salt, iv, ci, pi, r, bundle), 0);
    assert_memory_equal(bundle, wantb, 156);
    vb("companion_identity_priv", ipriv, 32);
    vb("identity_shared", want, 32);
    assert_int_equal(wa_dh(ishared, ipriv, pi), 0);
    assert_memory_equal(ishared, want, 32);
    vb("adv_secret", want, 32);
    assert_int_equal(wa_paircode_adv_secret(shared, ishared, r, adv), 0);
    assert_memory_equal(adv, want, 32);

    /* the primary side opens it; a flipped bit or another shared secret does not */
    uint8_t oc[32], op[32], orr[32];
    assert_int_equal(wa_paircode_bundle_open(shared, bundle, 156, oc, op, orr), 0);
    assert_memory_equal(oc, ci, 32);
    assert_memory_equal(op, pi, 32);
    assert_memory_equal(orr, r, 32);
    bundle[100] ^= 1;
    assert_int_equal(wa_paircode_bundle_open(shared, bundle, 156, oc, op, orr), -EKEYREJECTED);
    bundle[100] ^= 1;
    shared[0] ^= 1;
    assert_int_equal(wa_paircode_bundle_open(shared, bundle, 156, oc, op, orr), -EKEYREJECTED);
    assert_int_equal(wa_paircode_bundle_open(shared, bundle, 155, oc, op, orr), -EBADMSG);
}

/* <iq to=s.whatsapp.net type=set id=.. xmlns=md> around child, encoded, against vector. */
static void check_iq(struct wa_node *child, const char *id, const char *vector)
{
    struct wa_node *iq = wa_node_new("iq");
    assert_non_null(iq);
    /* Baileys writes `to` as the plain token string (our client writes the JID form) */
    assert_int_equal(wa_node_set_attr(iq, "to", WA_SERVER_PN), 0);
    assert_int_equal(wa_node_set_attr(iq, "type", "set"), 0);
    assert_int_equal(wa_node_set_attr(iq, "id", id), 0);
    assert_int_equal(wa_node_set_attr(iq, "xmlns", "md"), 0);
    assert_int_equal(wa_node_add_child(iq, child), 0);
    struct buf out;
    buf_init(&out, 1 << 16);
    char err[160];
    assert_int_equal(wa_node_encode(iq, &out, err, sizeof err), 0);
    size_t n = 0;
    uint8_t *want = vectors_hexdup(vs(vector), &n);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    free(want);
    buf_free(&out);
    wa_node_free(iq);
}

static void hello_from_vectors(struct wa_paircode *pc, struct wa_node **hello)
{
    struct wa_paircode_hello_rand r;
    uint8_t noise[32];
    vb("code_bytes", r.code, 5);
    vb("companion_ephemeral_priv", r.eph_priv, 32);
    vb("companion_salt", r.salt, 32);
    vb("companion_iv", r.iv, 16);
    vb("noise_pub", noise, 32);
    char phone[32];
    snprintf(phone, sizeof phone, "+%s", vs("phone"));
    assert_int_equal(wa_paircode_hello(pc, phone, &r, noise, "1", "Chrome (Linux)", hello), 0);
    assert_string_equal(pc->code, vs("code"));
    assert_string_equal(pc->phone, vs("phone"));
}

/* The notification the primary would send, from the vectors. */
static struct wa_node *notification(const char *ref, size_t wrapped_len, size_t ident_len)
{
    uint8_t w[81] = {0}, pi[32];
    vb("wrapped_primary_ephemeral", w, 80);
    vb("primary_identity_pub", pi, 32);
    struct wa_node *n = wa_node_new("notification");
    struct wa_node *reg = wa_node_new("link_code_companion_reg");
    struct wa_node *c1 = wa_node_new("link_code_pairing_ref");
    struct wa_node *c2 = wa_node_new("link_code_pairing_wrapped_primary_ephemeral_pub");
    struct wa_node *c3 = wa_node_new("primary_identity_pub");
    assert_int_equal(wa_node_set_bytes(c1, ref, strlen(ref)), 0);
    assert_int_equal(wa_node_set_bytes(c2, w, wrapped_len), 0);
    assert_int_equal(wa_node_set_bytes(c3, pi, ident_len), 0);
    assert_int_equal(wa_node_add_child(reg, c1), 0);
    assert_int_equal(wa_node_add_child(reg, c2), 0);
    assert_int_equal(wa_node_add_child(reg, c3), 0);
    assert_int_equal(wa_node_add_child(n, reg), 0);
    return n;
}

static void test_stanzas(void **state)
{
    (void)state;
    struct wa_paircode pc;
    struct wa_node *hello = NULL;
    hello_from_vectors(&pc, &hello);
    check_iq(hello, "vec-1", "hello_node");

    struct wa_node *n = notification(vs("ref"), 80, 32);
    struct wa_paircode_primary p;
    assert_int_equal(wa_paircode_parse_notification(n, &p), 0);
    wa_node_free(n);
    assert_int_equal(p.ref_len, strlen(vs("ref")));

    struct wa_keypair ident;
    uint8_t priv[32], adv[32], want[32];
    vb("companion_identity_priv", priv, 32);
    assert_int_equal(wa_keypair_from_private(&ident, priv), 0);
    struct wa_paircode_finish_rand fr;
    vb("bundle_salt", fr.salt, 32);
    vb("bundle_iv", fr.iv, 12);
    vb("random", fr.random, 32);
    struct wa_node *fin = NULL;
    assert_int_equal(wa_paircode_finish(&pc, &ident, &p, &fr, adv, &fin), 0);
    vb("adv_secret", want, 32);
    assert_memory_equal(adv, want, 32);
    check_iq(fin, "vec-2", "finish_node");

    /* a ref from the hello result must match the notification's */
    memcpy(pc.ref, "2@other", 7);
    pc.ref_len = 7;
    assert_int_equal(wa_paircode_finish(&pc, &ident, &p, &fr, adv, &fin), -EBADMSG);
    assert_null(fin);
    wa_paircode_wipe(&pc);
}

static void test_bad_notifications(void **state)
{
    (void)state;
    struct wa_paircode_primary p;
    struct wa_node *n = notification("r", 79, 32);
    assert_int_equal(wa_paircode_parse_notification(n, &p), -EBADMSG);
    wa_node_free(n);
    n = notification("r", 80, 31);
    assert_int_equal(wa_paircode_parse_notification(n, &p), -EBADMSG);
    wa_node_free(n);
    n = notification("", 80, 32);
    assert_int_equal(wa_paircode_parse_notification(n, &p), -EBADMSG);
    wa_node_free(n);
    n = notification("r", 81, 32); /* longer is accepted, as the anchors do */
    assert_int_equal(wa_paircode_parse_notification(n, &p), 0);
    wa_node_free(n);
    n = wa_node_new("notification");
    assert_int_equal(wa_paircode_parse_notification(n, &p), -EBADMSG);
    wa_node_free(n);
    assert_int_equal(wa_paircode_parse_notification(NULL, &p), -EBADMSG);
}

/* A wrong code on the phone: the companion still answers (it cannot tell), but the bundle
 * does not open with the primary's shared secret. */
static void test_wrong_code_roundtrip(void **state)
{
    (void)state;
    struct wa_paircode pc;
    struct wa_node *hello = NULL;
    hello_from_vectors(&pc, &hello);
    const struct wa_node *wn =
        wa_node_child(hello, "link_code_pairing_wrapped_companion_ephemeral_pub");
    size_t wl = 0;
    const uint8_t *wrapped = wa_node_content_bytes(wn, &wl);
    assert_int_equal(wl, 80);
    for (int wrong = 0; wrong < 2; wrong++) {
        const char *typed = wrong ? "MQ2Y4W1H" : pc.code;
        uint8_t ceph[32], ppriv[32], ipriv[32], salt[32] = {1}, iv[16] = {2};
        vb("primary_ephemeral_priv", ppriv, 32);
        vb("primary_identity_priv", ipriv, 32);
        struct wa_keypair pe, pi;
        assert_int_equal(wa_keypair_from_private(&pe, ppriv), 0);
        assert_int_equal(wa_keypair_from_private(&pi, ipriv), 0);
        assert_int_equal(wa_paircode_unwrap(typed, wrapped, wl, ceph), 0);
        struct wa_paircode_primary p = {.ref_len = 1, .ref = {'r'}};
        memcpy(p.identity, pi.pub, 32);
        assert_int_equal(wa_paircode_wrap(typed, salt, iv, pe.pub, p.wrapped), 0);
        struct wa_keypair ident;
        assert_int_equal(wa_keypair_generate(&ident), 0);
        struct wa_paircode_finish_rand fr = {{3}, {4}, {5}};
        uint8_t adv[32], shared[32], a[32], b[32], r[32];
        struct wa_node *fin = NULL;
        assert_int_equal(wa_paircode_finish(&pc, &ident, &p, &fr, adv, &fin), 0);
        size_t bl = 0;
        const uint8_t *bundle =
            wa_node_content_bytes(wa_node_child(fin, "link_code_pairing_wrapped_key_bundle"), &bl);
        int dh = wa_dh(shared, pe.priv, ceph);
        int rc = dh == 0 ? wa_paircode_bundle_open(shared, bundle, bl, a, b, r) : dh;
        if (wrong) {
            assert_int_not_equal(rc, 0);
        } else {
            assert_int_equal(rc, 0);
            assert_memory_equal(a, ident.pub, 32);
            uint8_t ish[32], adv2[32];
            assert_int_equal(wa_dh(ish, pi.priv, ident.pub), 0);
            assert_int_equal(wa_paircode_adv_secret(shared, ish, r, adv2), 0);
            assert_memory_equal(adv, adv2, 32); /* both sides derive the same ADV secret */
        }
        wa_node_free(fin);
    }
    wa_node_free(hello);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_key_and_wrap),
        cmocka_unit_test(test_bundle_and_adv),
        cmocka_unit_test(test_stanzas),
        cmocka_unit_test(test_bad_notifications),
        cmocka_unit_test(test_wrong_code_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
