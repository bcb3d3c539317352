/* SPDX-License-Identifier: MIT */
/* test_store_signal.c -- the SQLite Signal store through sg_cipher: the memstore scenarios
 * (bundles, pkmsg/msg both ways, groups, Baileys vectors) with one database per party. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/hex.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_store.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTORS WAGATE_SOURCE_DIR "/../shared/vectors/wa-vectors.json"
#define GROUP   "120363041234567890@g.us"

static cJSON *g_root;
static signal_context *g_sig;
static char g_dir[64];

struct bytes {
    uint8_t *p;
    size_t n;
};

static int setup_all(void **state)
{
    FILE *f = fopen(VECTORS, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)sz + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)sz, f), (size_t)sz);
    text[sz] = 0;
    fclose(f);
    g_root = cJSON_Parse(text);
    free(text);
    assert_non_null(g_root);
    assert_int_equal(sg_context_create(&g_sig), 0);
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_signal.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown_all(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    cJSON_Delete(g_root);
    signal_context_destroy(g_sig);
    return 0;
}

static const cJSON *jget(const char *path)
{
    char tmp[128];
    const cJSON *o = g_root;
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *save = NULL, *k = strtok_r(tmp, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, (int)strtol(k, NULL, 10))
                             : cJSON_GetObjectItemCaseSensitive(o, k);
        assert_non_null(o);
    }
    return o;
}

static struct bytes jhex(const char *path)
{
    const cJSON *it = jget(path);
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

/* ---- parties: one database file each ---- */

struct party {
    char path[128];
    struct st_db *db;
    struct sg_store st;
    struct sg_ctx *ctx;
    struct sg_identity id;
    struct sg_signed_prekey spk;
    struct sg_address addr;
    enum sg_trust trust;
};

static void party_open(struct party *p)
{
    char err[256] = "";
    int rc = st_db_open(p->path, &p->db, err, sizeof err);
    if (rc) fprintf(stderr, "open %s: %s\n", p->path, err);
    assert_int_equal(rc, 0);
    p->st = st_sgstore(p->db, p->trust);
    assert_int_equal(sg_ctx_new(&p->ctx, g_sig, &p->st), 0);
}

static void party_close(struct party *p)
{
    sg_ctx_free(p->ctx);
    p->ctx = NULL;
    assert_int_equal(st_db_close(p->db), 0);
    p->db = NULL;
}

/* Save creds holding our identity (the store reads it from there). */
static void save_identity(struct party *p)
{
    struct st_creds c;
    memset(&c, 0, sizeof c);
    memcpy(c.identity_priv, p->id.kp.priv, 32);
    memcpy(c.identity_pub, p->id.kp.pub, 32);
    c.registration_id = p->id.registration_id;
    c.spk_id = p->spk.id ? p->spk.id : 1;
    memcpy(c.spk_priv, p->spk.kp.priv, 32);
    memcpy(c.spk_pub, p->spk.kp.pub, 32);
    memcpy(c.spk_sig, p->spk.sig, 64);
    c.next_prekey_id = c.first_unuploaded_prekey_id = 1;
    assert_int_equal(st_creds_save(p->db, &c), 0);
    st_creds_wipe(&c);
}

/* A party in database directory `dbname` with address user (domain lid, device 0). */
static void party_init_at(struct party *p, const char *dbname, const char *user, size_t nprekeys)
{
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s/%s/wa.db", g_dir, dbname);
    party_open(p);
    assert_int_equal(sg_identity_generate(g_sig, &p->id), 0);
    assert_int_equal(sg_signed_prekey_generate(g_sig, &p->id.kp, 1, &p->spk), 0);
    save_identity(p);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &p->st, &p->spk), 0);
    if (nprekeys) {
        struct sg_prekey *pks = calloc(nprekeys, sizeof *pks);
        assert_non_null(pks);
        assert_int_equal(sg_prekeys_generate(g_sig, 1, nprekeys, pks, NULL), 0);
        assert_int_equal(st_db_begin(p->db), 0);
        assert_int_equal(sg_store_put_prekeys(g_sig, &p->st, pks, nprekeys), 0);
        assert_int_equal(st_db_commit(p->db), 0);
        free(pks);
    }
    assert_int_equal(sg_address_make(&p->addr, user, 1, 0), 0);
}

static void party_init(struct party *p, const char *user, size_t nprekeys)
{
    party_init_at(p, user, user, nprekeys);
}

static void party_free(struct party *p)
{
    party_close(p);
}

static size_t prekeys(struct party *p)
{
    size_t total = 0, up = 0;
    assert_int_equal(st_sg_prekey_count(p->db, &total, &up), 0);
    return total;
}

static void party_bundle(struct party *p, uint32_t pkid, struct sg_bundle *b)
{
    struct sg_prekey pk;
    if (pkid) assert_int_equal(sg_store_get_prekey(g_sig, &p->st, pkid, &pk), 1);
    sg_bundle_make(&p->id, &p->spk, pkid ? &pk : NULL, b);
}

/* Encrypt inside a transaction (send path: the session update commits first). */
static enum sg_msg_type send_text(struct party *from, struct party *to, const char *text,
                                  struct buf *ct)
{
    struct buf pt;
    buf_init(&pt, 4096);
    assert_int_equal(buf_append_str(&pt, text), 0);
    assert_int_equal(sg_pad(&pt), 0);
    enum sg_msg_type t;
    buf_reset(ct);
    assert_int_equal(st_db_begin(from->db), 0);
    assert_int_equal(sg_encrypt(from->ctx, &to->addr, pt.data, pt.len, &t, ct), 0);
    assert_int_equal(st_db_commit(from->db), 0);
    buf_free(&pt);
    return t;
}

/* Receive path: BEGIN; decrypt; inbox + processed; COMMIT (rollback on error). */
static int recv_text(struct party *to, struct party *from, enum sg_msg_type t, const struct buf *ct,
                     const char *want, const char *msg_id)
{
    struct buf pt;
    buf_init(&pt, 1 << 20);
    assert_int_equal(st_db_begin(to->db), 0);
    int rc = sg_decrypt(to->ctx, &from->addr, t, ct->data, ct->len, &pt);
    if (rc == 0) {
        size_t n = 0;
        assert_int_equal(sg_unpad(pt.data, pt.len, &n), 0);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(pt.data, want, n);
        uint8_t h[32];
        st_ciphertext_hash(ct->data, ct->len, h);
        assert_int_equal(
            st_inbox_insert(to->db, from->addr.name, "", msg_id, 1, "text", pt.data, n, NULL), 0);
        assert_int_equal(st_processed_put(to->db, h, msg_id), 0);
        assert_int_equal(st_db_commit(to->db), 0);
    } else {
        assert_int_equal(st_db_rollback(to->db), 0);
    }
    buf_free(&pt);
    return rc;
}

/* ---- direct store operations ---- */

static void test_ops(void **state)
{
    struct party p;
    party_init(&p, "ops", 5);
    const struct sg_store_ops *o = st_sgstore_ops();
    struct sg_identity me;
    assert_int_equal(o->get_local_identity(p.db, &me), 0);
    assert_memory_equal(me.kp.pub, p.id.kp.pub, 32);
    assert_memory_equal(me.kp.priv, p.id.kp.priv, 32);
    assert_int_equal(me.registration_id, p.id.registration_id);

    signal_protocol_address a = {"bob", 3, 2}, a2 = {"bob", 3, 5}, c = {"carol", 5, 0};
    signal_buffer *b = NULL;
    assert_int_equal(o->load_session(p.db, &a, &b), 0);
    assert_int_equal(o->store_session(p.db, &a, (const uint8_t *)"rec1", 4), 0);
    assert_int_equal(o->store_session(p.db, &a, (const uint8_t *)"rec22", 5), 0);
    assert_int_equal(o->store_session(p.db, &a2, (const uint8_t *)"x", 1), 0);
    assert_int_equal(o->store_session(p.db, &c, (const uint8_t *)"y", 1), 0);
    assert_int_equal(o->load_session(p.db, &a, &b), 1);
    assert_int_equal(signal_buffer_len(b), 5);
    assert_memory_equal(signal_buffer_data(b), "rec22", 5);
    signal_buffer_free(b);
    signal_int_list *l = signal_int_list_alloc();
    assert_int_equal(o->list_session_devices(p.db, "bob", 3, l), 2);
    assert_int_equal(signal_int_list_at(l, 0), 2);
    assert_int_equal(signal_int_list_at(l, 1), 5);
    signal_int_list_free(l);
    assert_int_equal(o->delete_session(p.db, &a), 1);
    assert_int_equal(o->delete_session(p.db, &a), 0);
    assert_int_equal(o->delete_all_sessions(p.db, "bob", 3), 1);
    assert_int_equal(o->delete_all_sessions(p.db, "bob", 3), 0);
    signal_protocol_address bad = {"x", 0, 0};
    assert_int_equal(o->store_session(p.db, &bad, (const uint8_t *)"y", 1), -EINVAL);
    static uint8_t big[ST_SG_RECORD_MAX + 1];
    assert_int_equal(o->store_session(p.db, &c, big, sizeof big), -ENOBUFS);

    /* pre-keys */
    size_t total = 0, up = 0;
    assert_int_equal(st_sg_prekey_count(p.db, &total, &up), 0);
    assert_int_equal(total, 5);
    assert_int_equal(up, 0);
    assert_int_equal(st_sg_prekeys_mark_uploaded(p.db, 1, 3), 3);
    assert_int_equal(st_sg_prekey_count(p.db, &total, &up), 0);
    assert_int_equal(up, 3);
    assert_int_equal(o->remove_prekey(p.db, 2), 1);
    assert_int_equal(o->remove_prekey(p.db, 2), 0);
    assert_int_equal(o->load_prekey(p.db, 2, &b), 0);
    struct sg_prekey pk;
    assert_int_equal(sg_store_get_prekey(g_sig, &p.st, 4, &pk), 1);
    assert_int_equal(pk.id, 4);
    assert_int_equal(o->store_prekey(p.db, 0, (const uint8_t *)"z", 1), -EINVAL); /* CHECK */
    assert_int_equal(o->load_signed_prekey(p.db, 1, &b), 1);
    signal_buffer_free(b);
    assert_int_equal(o->remove_signed_prekey(p.db, 1), 1);
    assert_int_equal(o->load_signed_prekey(p.db, 1, &b), 0);

    /* identities */
    uint8_t k[32], got[32];
    memset(k, 7, 32);
    assert_int_equal(o->load_identity(p.db, &c, got), 0);
    assert_int_equal(o->save_identity(p.db, &c, k), 0);
    assert_int_equal(o->load_identity(p.db, &c, got), 1);
    assert_memory_equal(got, k, 32);
    assert_int_equal(o->save_identity(p.db, &c, NULL), 0);
    assert_int_equal(o->load_identity(p.db, &c, got), 0);

    /* sender keys, memory, reset */
    signal_protocol_sender_key_name n = {GROUP, strlen(GROUP), {"bob", 3, 1}};
    assert_int_equal(o->load_sender_key(p.db, &n, &b), 0);
    assert_int_equal(o->store_sender_key(p.db, &n, (const uint8_t *)"sk", 2), 0);
    assert_int_equal(o->load_sender_key(p.db, &n, &b), 1);
    assert_memory_equal(signal_buffer_data(b), "sk", 2);
    signal_buffer_free(b);
    assert_int_equal(st_sg_skmem_has(p.db, GROUP, "bob:1@lid"), 0);
    assert_int_equal(st_sg_skmem_put(p.db, GROUP, "bob:1@lid"), 0);
    assert_int_equal(st_sg_skmem_put(p.db, GROUP, "bob:1@lid"), 0);
    assert_int_equal(st_sg_skmem_has(p.db, GROUP, "bob:1@lid"), 1);
    assert_int_equal(st_sg_skmem_clear(p.db, GROUP), 1);
    assert_int_equal(st_sg_skmem_has(p.db, GROUP, "bob:1@lid"), 0);
    assert_int_equal(st_sg_reset_sessions(p.db), 2); /* carol's session + the sender key */
    assert_int_equal(o->load_sender_key(p.db, &n, &b), 0);
    assert_int_equal(o->get_local_identity(p.db, &me), 0); /* creds kept */
    party_free(&p);

    /* no creds: no local identity */
    struct party q;
    memset(&q, 0, sizeof q);
    snprintf(q.path, sizeof q.path, "%s/nocreds/wa.db", g_dir);
    party_open(&q);
    assert_int_equal(o->get_local_identity(q.db, &me), -ENODATA);
    party_free(&q);
}

/* ---- 1:1 round trips through two databases ---- */

static void test_round_trip(void **state)
{
    struct party a, b;
    party_init(&a, "111", 0);
    party_init(&b, "222", 5);
    struct sg_bundle bun;
    party_bundle(&b, 3, &bun);
    assert_int_equal(sg_has_session(a.ctx, &b.addr), 0);
    assert_int_equal(st_db_begin(a.db), 0);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    assert_int_equal(st_db_commit(a.db), 0);
    assert_int_equal(sg_has_session(a.ctx, &b.addr), 1);

    struct buf ct;
    buf_init(&ct, 1 << 20);
    assert_int_equal(send_text(&a, &b, "hello", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "hello", "m0"), 0);
    assert_int_equal(prekeys(&b), 4); /* consumed inside the committed transaction */
    /* a redelivery is recognised by its hash, and libsignal says duplicate too */
    uint8_t h[32];
    st_ciphertext_hash(ct.data, ct.len, h);
    assert_int_equal(st_processed_check(b.db, h, NULL, 0), 1);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "hello", "m0"), SG_E_DUPLICATE);

    assert_int_equal(send_text(&a, &b, "again", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "again", "m1"), 0);
    assert_int_equal(send_text(&b, &a, "reply", &ct), SG_MSG);
    assert_int_equal(recv_text(&a, &b, SG_MSG, &ct, "reply", "r0"), 0);

    /* close and reopen both: all state was in the databases */
    party_close(&a);
    party_close(&b);
    party_open(&a);
    party_open(&b);
    assert_int_equal(send_text(&a, &b, "now msg", &ct), SG_MSG);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "now msg", "m2"), 0);

    char text[64], id[16];
    for (int i = 0; i < 60; i++) {
        int ab = (i / 3 + i / 7) % 2 == 0;
        struct party *from = ab ? &a : &b, *to = ab ? &b : &a;
        snprintf(text, sizeof text, "message %d", i);
        snprintf(id, sizeof id, "x%d", i);
        enum sg_msg_type t = send_text(from, to, text, &ct);
        assert_int_equal(t, SG_MSG);
        assert_int_equal(recv_text(to, from, t, &ct, text, id), 0);
    }

    /* a decrypt rolled back (crash before COMMIT) decrypts again later */
    assert_int_equal(send_text(&a, &b, "rolled", &ct), SG_MSG);
    struct buf pt;
    buf_init(&pt, 4096);
    assert_int_equal(st_db_begin(b.db), 0);
    assert_int_equal(sg_decrypt(b.ctx, &a.addr, SG_MSG, ct.data, ct.len, &pt), 0);
    assert_int_equal(st_db_rollback(b.db), 0);
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "rolled", "rb"), 0);
    /* tampered: bad MAC, nothing changes */
    assert_int_equal(send_text(&a, &b, "tamper", &ct), SG_MSG);
    ct.data[ct.len - 2] ^= 1;
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "tamper", "tp"), SG_E_BAD_MAC);
    ct.data[ct.len - 2] ^= 1;
    assert_int_equal(recv_text(&b, &a, SG_MSG, &ct, "tamper", "tp"), 0);

    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(b.db, 0, 1000, &v, &n), 0);
    assert_true(n > 30);
    assert_string_equal(v[0].msg_id, "m0");
    assert_int_equal(v[0].payload_len, 5);
    st_inbox_list_free(v, n);
    buf_free(&pt);
    buf_free(&ct);
    party_free(&a);
    party_free(&b);
}

/* TOFU policy through the SQLite identities table: a new identity at a known address is
 * refused and leaves the stored state alone. */
static void test_tofu(void **state)
{
    struct party a, a2, b;
    party_init(&a, "t111", 0);
    party_init_at(&a2, "t111-new", "t111", 0); /* same address, new install */
    memset(&b, 0, sizeof b);
    b.trust = SG_TRUST_TOFU;
    snprintf(b.path, sizeof b.path, "%s/t222/wa.db", g_dir);
    party_open(&b);
    assert_int_equal(sg_identity_generate(g_sig, &b.id), 0);
    assert_int_equal(sg_signed_prekey_generate(g_sig, &b.id.kp, 1, &b.spk), 0);
    save_identity(&b);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &b.st, &b.spk), 0);
    struct sg_prekey pks[2];
    assert_int_equal(sg_prekeys_generate(g_sig, 1, 2, pks, NULL), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &b.st, pks, 2), 0);
    assert_int_equal(sg_address_make(&b.addr, "t222", 1, 0), 0);

    struct sg_bundle bun;
    struct buf ct;
    buf_init(&ct, 1 << 16);
    party_bundle(&b, 1, &bun);
    assert_int_equal(sg_session_from_bundle(a.ctx, &b.addr, &bun), 0);
    assert_int_equal(send_text(&a, &b, "first", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "first", "t0"), 0);
    party_bundle(&b, 2, &bun);
    assert_int_equal(sg_session_from_bundle(a2.ctx, &b.addr, &bun), 0);
    assert_int_equal(send_text(&a2, &b, "imposter", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a2, SG_PKMSG, &ct, "imposter", "t1"), SG_E_UNTRUSTED);
    assert_int_equal(prekeys(&b), 1); /* the second pre-key was not consumed */
    assert_int_equal(send_text(&a, &b, "still me", &ct), SG_PKMSG);
    assert_int_equal(recv_text(&b, &a, SG_PKMSG, &ct, "still me", "t2"), 0);
    buf_free(&ct);
    party_free(&a);
    party_free(&a2);
    party_free(&b);
}

/* ---- groups ---- */

static void test_group(void **state)
{
    struct party a, b;
    party_init(&a, "g111", 0);
    party_init(&b, "g222", 0);
    struct buf skdm, ct, pt;
    buf_init(&skdm, 4096);
    buf_init(&ct, 1 << 16);
    buf_init(&pt, 1 << 16);
    assert_int_equal(st_db_begin(a.db), 0);
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.addr, &skdm), 0);
    assert_int_equal(st_db_commit(a.db), 0);
    assert_int_equal(st_db_begin(b.db), 0);
    assert_int_equal(sg_group_process_skdm(b.ctx, GROUP, &a.addr, skdm.data, skdm.len), 0);
    assert_int_equal(st_db_commit(b.db), 0);
    char text[32];
    for (int i = 0; i < 20; i++) {
        if (i == 10) { /* both reopen halfway */
            party_close(&a);
            party_close(&b);
            party_open(&a);
            party_open(&b);
        }
        snprintf(text, sizeof text, "group msg %d", i);
        buf_reset(&ct);
        buf_reset(&pt);
        assert_int_equal(st_db_begin(a.db), 0);
        assert_int_equal(
            sg_group_encrypt(a.ctx, GROUP, &a.addr, (const uint8_t *)text, strlen(text), &ct), 0);
        assert_int_equal(st_db_commit(a.db), 0);
        assert_int_equal(st_db_begin(b.db), 0);
        assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &a.addr, ct.data, ct.len, &pt), 0);
        assert_int_equal(st_db_commit(b.db), 0);
        assert_int_equal(pt.len, strlen(text));
        assert_memory_equal(pt.data, text, pt.len);
    }
    assert_int_equal(sg_group_decrypt(b.ctx, GROUP, &a.addr, ct.data, ct.len, &pt), SG_E_DUPLICATE);
    buf_free(&skdm);
    buf_free(&ct);
    buf_free(&pt);
    party_free(&a);
    party_free(&b);
}

/* ---- Baileys vectors ---- */

static void vector_bob(struct party *bob)
{
    memset(bob, 0, sizeof *bob);
    snprintf(bob->path, sizeof bob->path, "%s/vecbob/wa.db", g_dir);
    party_open(bob);
    uint8_t priv[32], pub[32];
    jkey(priv, "signal_1to1.bob.identity_priv");
    assert_int_equal(sg_keypair_from_private(g_sig, priv, &bob->id.kp), 0);
    jkey(pub, "signal_1to1.bob.identity_pub");
    assert_memory_equal(bob->id.kp.pub, pub, 32);
    bob->id.registration_id = (uint32_t)jget("signal_1to1.bob.registration_id")->valuedouble;
    jkey(priv, "signal_1to1.bob.signed_prekey_priv");
    assert_int_equal(sg_keypair_from_private(g_sig, priv, &bob->spk.kp), 0);
    bob->spk.id = (uint32_t)jget("signal_1to1.bob.signed_prekey_id")->valuedouble;
    struct bytes sig = jhex("signal_1to1.bob.signed_prekey_signature");
    assert_int_equal(sig.n, 64);
    memcpy(bob->spk.sig, sig.p, 64);
    free(sig.p);
    save_identity(bob);
    struct sg_prekey pk;
    jkey(priv, "signal_1to1.bob.one_time_prekey_priv");
    assert_int_equal(sg_keypair_from_private(g_sig, priv, &pk.kp), 0);
    pk.id = (uint32_t)jget("signal_1to1.bob.one_time_prekey_id")->valuedouble;
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &bob->st, &bob->spk), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &bob->st, &pk, 1), 0);
}

/* Decrypt a vector pkmsg in a transaction; commit = false rolls back (crash before COMMIT). */
static int decrypt_vec(struct party *bob, const struct sg_address *alice, const char *name,
                       bool commit)
{
    char p[96];
    snprintf(p, sizeof p, "signal_1to1.%s.hex", name);
    struct bytes ct = jhex(p);
    snprintf(p, sizeof p, "signal_1to1.%s.plaintext_padded", name);
    struct bytes want = jhex(p);
    struct buf pt;
    buf_init(&pt, 4096);
    assert_int_equal(st_db_begin(bob->db), 0);
    int rc = sg_decrypt(bob->ctx, alice, SG_PKMSG, ct.p, ct.n, &pt);
    if (rc == 0) {
        assert_int_equal(pt.len, want.n);
        assert_memory_equal(pt.data, want.p, want.n);
        assert_int_equal(st_inbox_insert(bob->db, "15550001111@s.whatsapp.net", "", name, 1, "text",
                                         pt.data, pt.len, NULL),
                         0);
    }
    if (rc == 0 && commit)
        assert_int_equal(st_db_commit(bob->db), 0);
    else
        assert_int_equal(st_db_rollback(bob->db), 0);
    buf_free(&pt);
    free(ct.p);
    free(want.p);
    return rc;
}

static void test_vectors(void **state)
{
    struct party bob;
    vector_bob(&bob);
    struct sg_address alice;
    assert_int_equal(sg_address_make(&alice, "15550001111", 0, 0), 0);
    assert_int_equal(prekeys(&bob), 1);
    /* crash before COMMIT: nothing kept, the redelivery decrypts */
    assert_int_equal(decrypt_vec(&bob, &alice, "pkmsg1", false), 0);
    assert_int_equal(prekeys(&bob), 1);
    assert_int_equal(sg_has_session(bob.ctx, &alice), 0);
    party_close(&bob);
    party_open(&bob);
    assert_int_equal(decrypt_vec(&bob, &alice, "pkmsg1", true), 0);
    assert_int_equal(prekeys(&bob), 0);
    signal_protocol_address ra = {alice.name, alice.name_len, alice.device};
    uint8_t ik[32], want_ik[32];
    jkey(want_ik, "signal_1to1.alice.identity_pub");
    assert_int_equal(st_sgstore_ops()->load_identity(bob.db, &ra, ik), 1);
    assert_memory_equal(ik, want_ik, 32);
    party_close(&bob);
    party_open(&bob);
    assert_int_equal(decrypt_vec(&bob, &alice, "pkmsg2", true), 0);
    assert_int_equal(decrypt_vec(&bob, &alice, "pkmsg1", true), SG_E_DUPLICATE);
    assert_int_equal(decrypt_vec(&bob, &alice, "pkmsg2", true), SG_E_DUPLICATE);
    /* Bob's reply is a msg of Baileys' size */
    struct bytes reply = jhex("signal_1to1.reply_msg_from_bob.hex");
    struct bytes reply_pt = jhex("signal_1to1.reply_msg_from_bob.decrypted_by_alice");
    struct buf ct;
    buf_init(&ct, 4096);
    enum sg_msg_type t;
    assert_int_equal(st_db_begin(bob.db), 0);
    assert_int_equal(sg_encrypt(bob.ctx, &alice, reply_pt.p, reply_pt.n, &t, &ct), 0);
    assert_int_equal(st_db_commit(bob.db), 0);
    assert_int_equal(t, SG_MSG);
    assert_int_equal(ct.len, reply.n);
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(bob.db, 0, 10, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].msg_id, "pkmsg1");
    assert_string_equal(v[1].msg_id, "pkmsg2");
    st_inbox_list_free(v, n);
    buf_free(&ct);
    free(reply.p);
    free(reply_pt.p);
    party_free(&bob);
}

static void test_vector_group(void **state)
{
    struct party r;
    party_init(&r, "g999", 0);
    struct sg_address sender;
    assert_int_equal(sg_address_make(&sender, "15550001111", 0, 0), 0);
    struct bytes skdm = jhex("signal_group.skdm_hex");
    assert_int_equal(sg_group_process_skdm(r.ctx, GROUP, &sender, skdm.p, skdm.n), 0);
    party_close(&r);
    party_open(&r);
    struct buf pt;
    buf_init(&pt, 4096);
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "signal_group.skmsg.%d.hex", i);
        struct bytes m = jhex(p);
        snprintf(p, sizeof p, "signal_group.receiver_decrypted.%d", i);
        const char *want = jget(p)->valuestring;
        buf_reset(&pt);
        assert_int_equal(st_db_begin(r.db), 0);
        assert_int_equal(sg_group_decrypt(r.ctx, GROUP, &sender, m.p, m.n, &pt), 0);
        assert_int_equal(st_db_commit(r.db), 0);
        size_t n = 0;
        assert_int_equal(sg_unpad(pt.data, pt.len, &n), 0);
        assert_int_equal(n, 2 + strlen(want));
        assert_memory_equal(pt.data + 2, want, strlen(want));
        free(m.p);
    }
    buf_free(&pt);
    free(skdm.p);
    party_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tofu),    cmocka_unit_test(test_group),
        cmocka_unit_test(test_vectors), cmocka_unit_test(test_vector_group),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
