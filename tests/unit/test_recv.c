/* SPDX-License-Identifier: MIT */
/* test_recv.c -- the receive path against a hand-built peer (memstore) and our SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_memstore.h"
#include "signal/sg_store.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"
#include "wa/batch.h"
#include "wa.pb-c.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/msg.h"
#include "wa/node.h"
#include "wa/recv.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define ME_PN     "15551230000:7@s.whatsapp.net"
#define ME_LID    "211111111111111:7@lid"
#define ALICE_LID "222222222222222@lid"
#define ALICE_PN  "15550001111@s.whatsapp.net"
#define GROUP     "120363041234567890@g.us"

static signal_context *g_sig;

/* ---- us: SQLite store + creds ---- */

struct us {
    char dir[64], path[128];
    struct st_db *db;
    struct sg_store st;
    struct sg_ctx *ctx;
    struct wa_creds creds;
    struct wa_recv_env env;
    struct wa_receiver *rcv;
    struct wa_node *sent[64];
    size_t deliv_at[64];  /* messages delivered when sent[i] went out */
    uint64_t sent_ms[64]; /* monotonic ms when sent[i] went out */
    size_t nsent;
    int fail_send;
    size_t delivered, receipts, retries;
    char last_text[256];
    enum wa_inmsg_kind last_kind;
    enum st_out_state last_state;
};

static int hook_send(void *ud, const struct wa_node *n)
{
    struct us *u = ud;
    if (u->fail_send) return -ENOTCONN;
    assert_true(u->nsent < 64);
    /* keep a copy: encode + decode */
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(wa_node_encode(n, &b, NULL, 0), 0);
    struct wa_node *c = NULL;
    assert_int_equal(wa_node_decode(b.data, b.len, NULL, &c, NULL, 0), 0);
    buf_free(&b);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    u->sent_ms[u->nsent] = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    u->deliv_at[u->nsent] = u->delivered;
    u->sent[u->nsent++] = c;
    return 0;
}

static void on_message(void *ud, const struct wa_inmsg *m)
{
    struct us *u = ud;
    u->delivered++;
    u->last_kind = m->kind;
    if (m->kind == WA_IN_TEXT || m->kind == WA_IN_UNDECRYPTABLE)
        snprintf(u->last_text, sizeof u->last_text, "%.*s", (int)m->text_len, m->text);
    else
        snprintf(u->last_text, sizeof u->last_text, "%.*s", (int)m->raw_len, (const char *)m->raw);
}

static void on_receipt(void *ud, const char *id, enum st_out_state st, const char *from)
{
    struct us *u = ud;
    u->receipts++;
    u->last_state = st;
}

static void on_retry(void *ud, const struct wa_node *r)
{
    struct us *u = ud;
    u->retries++;
}

static void sent_clear(struct us *u)
{
    for (size_t i = 0; i < u->nsent; i++)
        wa_node_free(u->sent[i]);
    u->nsent = 0;
}

static void us_open(struct us *u)
{
    char err[256] = "";
    int rc = st_db_open(u->path, &u->db, err, sizeof err);
    if (rc) fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, 0);
    u->st = st_sgstore(u->db, SG_TRUST_ANY);
    assert_int_equal(sg_ctx_new(&u->ctx, g_sig, &u->st), 0);
    u->env = (struct wa_recv_env){.db = u->db,
                                  .sg = u->ctx,
                                  .creds = &u->creds,
                                  .on_message = on_message,
                                  .on_receipt = on_receipt,
                                  .on_retry_receipt = on_retry,
                                  .ud = u,
                                  .send_node = hook_send};
    assert_int_equal(wa_receiver_new(&u->env, &u->rcv), 0);
}

/* u->env changed: a receiver over the new env (its retry counts start over). */
static void us_renew(struct us *u)
{
    wa_receiver_free(u->rcv);
    assert_int_equal(wa_receiver_new(&u->env, &u->rcv), 0);
}

static void us_close(struct us *u)
{
    wa_receiver_free(u->rcv);
    u->rcv = NULL;
    sg_ctx_free(u->ctx);
    assert_int_equal(st_db_close(u->db), 0);
    sent_clear(u);
}

static void us_init(struct us *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->dir, sizeof u->dir, "/tmp/test_recv.XXXXXX");
    assert_non_null(mkdtemp(u->dir));
    snprintf(u->path, sizeof u->path, "%s/wa.db", u->dir);
    us_open(u);
    assert_int_equal(wa_creds_generate(&u->creds), 0);
    snprintf(u->creds.me_pn, sizeof u->creds.me_pn, "%s", ME_PN);
    snprintf(u->creds.me_lid, sizeof u->creds.me_lid, "%s", ME_LID);
    memcpy(u->creds.account, "ACCOUNT-BYTES", 13);
    u->creds.account_len = 13;
    u->creds.next_prekey_id = 11;
    assert_int_equal(wa_creds_store(u->db, &u->creds), 0);
    struct sg_signed_prekey spk;
    wa_creds_sg_signed_prekey(&u->creds, &spk);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &u->st, &spk), 0);
    struct sg_prekey pks[10];
    assert_int_equal(sg_prekeys_generate(g_sig, 1, 10, pks, NULL), 0);
    assert_int_equal(sg_store_put_prekeys(g_sig, &u->st, pks, 10), 0);
    wa_recv_reset_retries(u->rcv);
}

static void us_free(struct us *u)
{
    us_close(u);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", u->dir);
    assert_int_equal(system(cmd), 0);
}

static size_t inbox_count(struct us *u, struct st_inbox_msg **out)
{
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(u->db, 0, 100, &v, &n), 0);
    if (out)
        *out = v;
    else
        st_inbox_list_free(v, n);
    return n;
}

/* ---- alice: memstore peer ---- */

struct alice {
    struct sg_memstore *ms;
    struct sg_store st;
    struct sg_ctx *ctx;
    struct sg_identity id;
    struct sg_address self; /* her own address (as sender key owner) */
    struct sg_address to;   /* our device */
};

static void alice_init(struct alice *a, struct us *u, uint32_t pkid)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(sg_memstore_new(&a->ms, NULL), 0);
    assert_int_equal(sg_identity_generate(g_sig, &a->id), 0);
    sg_memstore_set_identity(a->ms, &a->id);
    a->st = sg_memstore_store(a->ms, SG_TRUST_ANY);
    assert_int_equal(sg_ctx_new(&a->ctx, g_sig, &a->st), 0);
    assert_int_equal(sg_address_make(&a->self, "222222222222222", 1, 0), 0);
    assert_int_equal(sg_address_make(&a->to, "211111111111111", 1, 7), 0);
    struct sg_identity ours;
    struct sg_signed_prekey spk;
    struct sg_prekey pk;
    wa_creds_sg_identity(&u->creds, &ours);
    wa_creds_sg_signed_prekey(&u->creds, &spk);
    assert_int_equal(sg_store_get_prekey(g_sig, &u->st, pkid, &pk), 1);
    struct sg_bundle b;
    sg_bundle_make(&ours, &spk, &pk, &b);
    assert_int_equal(sg_session_from_bundle(a->ctx, &a->to, &b), 0);
}

static void alice_free(struct alice *a)
{
    sg_ctx_free(a->ctx);
    sg_memstore_free(a->ms);
}

static void pack(const Wa__Message *m, struct buf *pt)
{
    size_t n = wa__message__get_packed_size(m);
    assert_int_equal(buf_reserve(pt, n + 16), 0);
    wa__message__pack(m, pt->data + pt->len);
    pt->len += n;
    assert_int_equal(sg_pad(pt), 0);
}

static enum sg_msg_type alice_encrypt(struct alice *a, const Wa__Message *m, struct buf *ct)
{
    struct buf pt;
    buf_init(&pt, 1 << 20);
    pack(m, &pt);
    enum sg_msg_type t;
    buf_reset(ct);
    assert_int_equal(sg_encrypt(a->ctx, &a->to, pt.data, pt.len, &t, ct), 0);
    buf_free(&pt);
    return t;
}

static void add_enc(struct wa_node *msg, enum sg_msg_type t, const struct buf *ct,
                    const char *count)
{
    struct wa_node *e = wa_node_new("enc");
    assert_non_null(e);
    assert_int_equal(wa_node_set_attr(e, "v", "2"), 0);
    assert_int_equal(wa_node_set_attr(e, "type", sg_msg_type_name(t)), 0);
    if (count) assert_int_equal(wa_node_set_attr(e, "count", count), 0);
    assert_int_equal(wa_node_set_bytes(e, ct->data, ct->len), 0);
    assert_int_equal(wa_node_add_child(msg, e), 0);
}

static void set_jid(struct wa_node *n, const char *k, const char *v)
{
    struct wa_jid j;
    assert_int_equal(wa_jid_parse(&j, v, strlen(v)), 0);
    assert_int_equal(wa_node_set_attr_jid(n, k, &j), 0);
}

static struct wa_node *stanza(const char *id, const char *from, const char *participant)
{
    struct wa_node *n = wa_node_new("message");
    assert_non_null(n);
    set_jid(n, "from", from);
    if (participant) {
        set_jid(n, "participant", participant);
        set_jid(n, "participant_pn", ALICE_PN);
    } else {
        set_jid(n, "sender_pn", ALICE_PN);
    }
    assert_int_equal(wa_node_set_attr(n, "addressing_mode", "lid"), 0);
    assert_int_equal(wa_node_set_attr(n, "type", "text"), 0);
    assert_int_equal(wa_node_set_attr(n, "id", id), 0);
    assert_int_equal(wa_node_set_attr(n, "t", "1700000000"), 0);
    return n;
}

/* A 1:1 text from alice as a stanza; *ctout keeps the ciphertext. */
static struct wa_node *alice_text(struct alice *a, const char *id, const char *text,
                                  enum sg_msg_type *t)
{
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = (char *)text;
    struct buf ct;
    buf_init(&ct, 1 << 20);
    enum sg_msg_type tt = alice_encrypt(a, &m, &ct);
    if (t) *t = tt;
    struct wa_node *n = stanza(id, ALICE_LID, NULL);
    add_enc(n, tt, &ct, NULL);
    buf_free(&ct);
    return n;
}

/* We answer alice once so that her next messages are `msg`. */
static void reply_to_alice(struct us *u, struct alice *a)
{
    struct sg_address al;
    assert_int_equal(sg_address_make(&al, "222222222222222", 1, 0), 0);
    struct buf pt, ct, out;
    buf_init(&pt, 4096);
    buf_init(&ct, 1 << 20);
    buf_init(&out, 1 << 20);
    assert_int_equal(buf_append_str(&pt, "ok"), 0);
    assert_int_equal(sg_pad(&pt), 0);
    enum sg_msg_type t;
    assert_int_equal(sg_encrypt(u->ctx, &al, pt.data, pt.len, &t, &ct), 0);
    assert_int_equal(sg_decrypt(a->ctx, &a->to, t, ct.data, ct.len, &out), 0);
    buf_free(&pt);
    buf_free(&ct);
    buf_free(&out);
}

static const char *sattr(const struct wa_node *n, const char *k)
{
    const char *v = wa_node_attr(n, k);
    return v ? v : "";
}

/* ---- tests ---- */

static void test_pkmsg_then_msg(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 1);
    enum sg_msg_type t;
    struct wa_node *n = alice_text(&a, "ALICEMSG0001", "hello from alice", &t);
    assert_int_equal(t, SG_PKMSG);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_int_equal(u.delivered, 1);
    assert_string_equal(u.last_text, "hello from alice");
    assert_int_equal(u.nsent, 1);
    assert_string_equal(u.sent[0]->tag.s, "receipt");
    assert_string_equal(sattr(u.sent[0], "type"), "inactive");
    assert_string_equal(sattr(u.sent[0], "to"), ALICE_LID);
    assert_string_equal(sattr(u.sent[0], "id"), "ALICEMSG0001");
    struct st_inbox_msg *v;
    assert_int_equal(inbox_count(&u, &v), 1);
    assert_string_equal(v[0].chat, ALICE_PN);
    assert_string_equal(v[0].type, "text");
    assert_int_equal(v[0].ts, 1700000000);
    st_inbox_list_free(v, 1);
    /* the one-time pre-key was consumed in the same transaction; the LID map learned */
    struct sg_prekey pk;
    assert_int_equal(sg_store_get_prekey(g_sig, &u.st, 1, &pk), 0);
    char pn[64];
    assert_int_equal(st_lid_get_pn(u.db, "222222222222222", pn, sizeof pn), 1);
    assert_string_equal(pn, "15550001111");
    sent_clear(&u);

    reply_to_alice(&u, &a);
    n = alice_text(&a, "ALICEMSG0002", "reply from alice", &t);
    assert_int_equal(t, SG_MSG);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_int_equal(u.delivered, 2);
    assert_string_equal(u.last_text, "reply from alice");
    assert_int_equal(inbox_count(&u, NULL), 2);
    alice_free(&a);
    us_free(&u);
}

static struct wa_node *corrupt_last(struct wa_node *n);

static void test_group_skdm(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 2);
    struct buf skdm, pt, sk, ct;
    buf_init(&skdm, 4096);
    buf_init(&pt, 1 << 20);
    buf_init(&sk, 1 << 20);
    buf_init(&ct, 1 << 20);
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.self, &skdm), 0);
    Wa__Message dist = WA__MESSAGE__INIT, m = WA__MESSAGE__INIT;
    Wa__SenderKeyDistributionMessage d = WA__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    d.groupid = GROUP;
    d.has_axolotlsenderkeydistributionmessage = 1;
    d.axolotlsenderkeydistributionmessage = (ProtobufCBinaryData){skdm.len, skdm.data};
    dist.senderkeydistributionmessage = &d;
    enum sg_msg_type t = alice_encrypt(&a, &dist, &ct);
    Wa__ExtendedTextMessage et = WA__EXTENDED_TEXT_MESSAGE__INIT;
    et.text = "hi group";
    m.extendedtextmessage = &et;
    pack(&m, &pt);
    assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.self, pt.data, pt.len, &sk), 0);
    struct wa_node *n = stanza("GRP1", GROUP, "222222222222222:0@lid");
    add_enc(n, t, &ct, NULL);
    add_enc(n, SG_SKMSG, &sk, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_int_equal(u.delivered, 1);
    assert_string_equal(u.last_text, "hi group");
    assert_int_equal(u.nsent, 1);
    assert_string_equal(sattr(u.sent[0], "to"), GROUP);
    assert_string_equal(sattr(u.sent[0], "participant"), "222222222222222:0@lid");
    struct st_inbox_msg *v;
    assert_int_equal(inbox_count(&u, &v), 1);
    assert_string_equal(v[0].chat, GROUP);
    assert_string_equal(v[0].sender, ALICE_PN);
    st_inbox_list_free(v, 1);
    /* a second group message with the skmsg only */
    buf_reset(&pt);
    buf_reset(&sk);
    Wa__Message m2 = WA__MESSAGE__INIT;
    m2.conversation = "second";
    pack(&m2, &pt);
    assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.self, pt.data, pt.len, &sk), 0);
    wa_node_free(n);
    n = stanza("GRP2", GROUP, "222222222222222:0@lid");
    add_enc(n, SG_SKMSG, &sk, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_string_equal(u.last_text, "second");
    /* a group message that stays undecryptable: given up, and alice's sender key for the
     * group goes with her session (per-peer repair), so her next SKDM rebuilds it */
    size_t d0 = u.delivered;
    for (unsigned i = 0; i < 6; i++) {
        wa_node_free(n);
        buf_reset(&sk);
        assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.self, pt.data, pt.len, &sk), 0);
        n = stanza("GRP4", GROUP, "222222222222222:0@lid");
        add_enc(n, SG_SKMSG, &sk, NULL);
        n = corrupt_last(n);
        assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    }
    assert_int_equal(u.delivered, d0 + 1);
    assert_int_equal(u.last_kind, WA_IN_UNDECRYPTABLE);
    assert_int_equal(st_sg_sender_key_delete(u.db, GROUP, "222222222222222_1", 0), 0);
    /* skmsg in a 1:1 stanza is malformed -> retry receipt */
    sent_clear(&u);
    wa_node_free(n);
    buf_reset(&sk);
    assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.self, pt.data, pt.len, &sk), 0);
    n = stanza("GRP3", ALICE_LID, NULL);
    add_enc(n, SG_SKMSG, &sk, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_string_equal(sattr(u.sent[0], "type"), "retry");
    wa_node_free(n);
    buf_free(&skdm);
    buf_free(&pt);
    buf_free(&sk);
    buf_free(&ct);
    alice_free(&a);
    us_free(&u);
}

static void test_redelivery(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 3);
    struct wa_node *n = alice_text(&a, "DUP1", "once", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    /* crash after COMMIT, before the receipt: the server redelivers the same stanza */
    us_close(&u);
    us_open(&u);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_int_equal(u.delivered, 1);
    assert_int_equal(inbox_count(&u, NULL), 1);
    assert_int_equal(u.nsent, 2);
    for (size_t i = 0; i < u.nsent; i++) {
        assert_string_equal(u.sent[i]->tag.s, "receipt");
        assert_string_equal(sattr(u.sent[i], "id"), "DUP1");
    }
    wa_node_free(n);
    alice_free(&a);
    us_free(&u);
}

static struct wa_node *corrupt_last(struct wa_node *n)
{
    struct wa_node *e = wa_node_child(n, "enc");
    assert_non_null(e);
    e->c.bytes[e->c.nbytes - 1] ^= 0x01;
    return n;
}

static const struct wa_node *find_sent(struct us *u, const char *tag, size_t *idx)
{
    for (size_t i = 0; i < u->nsent; i++)
        if (strcmp(u->sent[i]->tag.s, tag) == 0) {
            if (idx) *idx = i;
            return u->sent[i];
        }
    return NULL;
}

static void test_bad_mac_retry(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 4);
    struct wa_node *n = alice_text(&a, "OK1", "first", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    reply_to_alice(&u, &a);
    sent_clear(&u);
    /* count 1: no keys; the message is acked */
    n = corrupt_last(alice_text(&a, "BAD1", "broken", NULL));
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    const struct wa_node *r = find_sent(&u, "receipt", NULL);
    assert_non_null(r);
    assert_string_equal(sattr(r, "type"), "retry");
    assert_string_equal(sattr(r, "to"), ALICE_LID);
    const struct wa_node *rt = wa_node_child(r, "retry");
    assert_string_equal(sattr(rt, "count"), "1");
    assert_string_equal(sattr(rt, "id"), "BAD1");
    assert_string_equal(sattr(rt, "t"), "1700000000");
    size_t rl = 0;
    const uint8_t *reg = wa_node_content_bytes(wa_node_child(r, "registration"), &rl);
    assert_int_equal(rl, 4);
    assert_int_equal(((uint32_t)reg[2] << 8 | reg[3]), u.creds.registration_id & 0xffff);
    assert_null(wa_node_child(r, "keys"));
    const struct wa_node *ack = find_sent(&u, "ack", NULL);
    assert_non_null(ack);
    assert_string_equal(sattr(ack, "class"), "message");
    assert_int_equal(u.delivered, 1);
    sent_clear(&u);
    /* alice re-sends on the same session (count=1); it decrypts */
    n = alice_text(&a, "BAD1", "broken, resent", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_int_equal(u.delivered, 2);
    assert_string_equal(u.last_text, "broken, resent");
    assert_string_equal(sattr(u.sent[0], "type"), "inactive");
    sent_clear(&u);
    /* another message failing 6 times: counts 1..5 (keys from 2), then only acks */
    for (unsigned i = 1; i <= 6; i++) {
        n = corrupt_last(alice_text(&a, "BAD2", "never", NULL));
        assert_int_equal(wa_recv_handle(u.rcv, n), 1);
        wa_node_free(n);
        r = find_sent(&u, "receipt", NULL);
        assert_non_null(find_sent(&u, "ack", NULL));
        if (i == 6) {
            assert_null(r);
            sent_clear(&u);
            break;
        }
        assert_non_null(r);
        char want[8];
        snprintf(want, sizeof want, "%u", i);
        assert_string_equal(sattr(wa_node_child(r, "retry"), "count"), want);
        const struct wa_node *keys = wa_node_child(r, "keys");
        if (i == 1) {
            assert_null(keys);
        } else {
            assert_non_null(keys);
            size_t len = 0;
            const uint8_t *p = wa_node_content_bytes(wa_node_child(keys, "identity"), &len);
            assert_int_equal(len, 32);
            assert_memory_equal(p, u.creds.identity.pub, 32);
            const struct wa_node *k = wa_node_child(keys, "key");
            p = wa_node_content_bytes(wa_node_child(k, "id"), &len);
            assert_int_equal(len, 3);
            uint32_t id = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            assert_true(id >= WA_RECV_PREKEY_BASE && id < SG_PREKEY_ID_MAX);
            struct sg_prekey pk;
            assert_int_equal(sg_store_get_prekey(g_sig, &u.st, id, &pk), 1); /* persisted */
            p = wa_node_content_bytes(wa_node_child(k, "value"), &len);
            assert_memory_equal(p, pk.kp.pub, 32);
            assert_non_null(wa_node_child(keys, "skey"));
            p = wa_node_content_bytes(wa_node_child(keys, "device-identity"), &len);
            assert_int_equal(len, 13);
        }
        sent_clear(&u);
    }
    struct sg_address al;
    assert_int_equal(sg_address_make(&al, "222222222222222", 1, 0), 0);
    assert_int_equal(sg_has_session(u.ctx, &al), 0); /* dropped after the 5th */
    struct wa_recv_stats st;
    wa_recv_get_stats(u.rcv, &st);
    assert_true(st.gave_up >= 1);
    /* ... and the message is not lost silently: an `undecryptable` inbox row, delivered */
    assert_int_equal(u.delivered, 3);
    assert_int_equal(u.last_kind, WA_IN_UNDECRYPTABLE);
    assert_non_null(strstr(u.last_text, "bad MAC"));
    struct st_inbox_msg *rows = NULL;
    size_t nrows = 0, hits = 0;
    assert_int_equal(st_inbox_list(u.db, 0, 100, &rows, &nrows), 0);
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(rows[i].msg_id, "BAD2")) {
            hits++;
            assert_string_equal(rows[i].type, "undecryptable");
        }
    st_inbox_list_free(rows, nrows);
    assert_int_equal(hits, 1);
    struct st_undec pend[4];
    size_t npend = 9;
    assert_int_equal(st_undec_list(u.db, pend, 4, &npend), 0);
    assert_int_equal(npend, 0); /* the repair row went with the inbox row */
    /* a stanza carrying <enc count=3> resumes at 4 (after a restart) */
    wa_recv_reset_retries(u.rcv);
    alice_free(&a);
    alice_init(&a, &u, 5);
    n = corrupt_last(alice_text(&a, "BAD3", "x", NULL));
    assert_int_equal(wa_node_set_attr(wa_node_child(n, "enc"), "count", "3"), 0);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    r = find_sent(&u, "receipt", NULL);
    assert_string_equal(sattr(wa_node_child(r, "retry"), "count"), "4");
    /* and a fresh pkmsg still decrypts (the pre-key 5 was not consumed by the failure) */
    sent_clear(&u);
    n = alice_text(&a, "BAD3", "x again", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_string_equal(u.last_text, "x again");
    /* per peer at most once an hour: the next message given up keeps the new session */
    reply_to_alice(&u, &a);
    size_t d = u.delivered;
    for (unsigned i = 1; i <= 6; i++) {
        n = corrupt_last(alice_text(&a, "BAD4", "again never", NULL));
        assert_int_equal(wa_recv_handle(u.rcv, n), 1);
        wa_node_free(n);
    }
    assert_int_equal(u.delivered, d + 1);
    assert_int_equal(u.last_kind, WA_IN_UNDECRYPTABLE);
    assert_int_equal(sg_has_session(u.ctx, &al), 1); /* not dropped a second time */
    alice_free(&a);
    us_free(&u);
}

static void keepalive_cb(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until u->delivered reaches want (or ms pass). */
static void run_until_delivered(uv_loop_t *loop, struct us *u, size_t want, int ms)
{
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    while (u->delivered < want && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
}

/* With a loop: a resend failing at once does not get its receipt at once (the gap), an
 * unanswered receipt is followed by the next after retry_wait_ms (with keys), and after
 * the fifth the message becomes an `undecryptable` row -- five receipts paced, not in a burst. */
static unsigned g_store_failing, g_store_peers;

static void on_store_failing(void *ud, unsigned peers, unsigned fails, unsigned oks)
{
    g_store_failing++;
    g_store_peers = peers;
}

/* The store-wide trigger: first failures of distinct messages outnumbering the successes (at
 * least WA_RECV_STORE_MIN_FAILS) call on_store_failing once per window; fewer do not. */
static void test_store_failing(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 3);
    struct wa_node *n = alice_text(&a, "OKS", "first", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    reply_to_alice(&u, &a);
    u.env.on_store_failing = on_store_failing;
    u.env.store_peers = 100; /* only the majority rule can trip */
    us_renew(&u);
    g_store_failing = 0;
    for (unsigned i = 0; i < WA_RECV_STORE_MIN_FAILS + 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "SW%u", i);
        n = corrupt_last(alice_text(&a, id, "x", NULL));
        assert_int_equal(wa_recv_handle(u.rcv, n), 1);
        wa_node_free(n);
        assert_int_equal(g_store_failing, i + 1 >= WA_RECV_STORE_MIN_FAILS ? 1 : 0);
    }
    assert_int_equal(g_store_peers, 1);
    alice_free(&a);
    us_free(&u);
}

static void test_retry_paced(void **state)
{
    struct us u;
    struct alice a;
    uv_loop_t loop;
    uv_timer_t keep;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_timer_init(&loop, &keep), 0);
    assert_int_equal(uv_timer_start(&keep, keepalive_cb, 5, 5), 0);
    us_init(&u);
    alice_init(&a, &u, 9);
    struct wa_node *n = alice_text(&a, "OKP", "first", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    reply_to_alice(&u, &a);
    u.env.loop = &loop;
    u.env.retry_gap_ms = 200;
    u.env.retry_wait_ms = 300;
    u.env.phone_delay_ms = 100; /* no session with our phone here: nothing to wait for */
    us_renew(&u);
    sent_clear(&u);
    size_t d0 = u.delivered;
    n = corrupt_last(alice_text(&a, "PACE1", "lost", NULL));
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_int_equal(u.nsent, 2); /* retry receipt 1 + ack */
    /* the row is in the store before the ack went out */
    struct st_undec pend[4];
    size_t npend = 0;
    assert_int_equal(st_undec_list(u.db, pend, 4, &npend), 0);
    assert_int_equal(npend, 1);
    assert_string_equal(pend[0].msg_id, "PACE1");
    assert_int_equal(pend[0].count, 1);
    /* the resend fails at once: acked, its receipt waits for the gap */
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_int_equal(u.nsent, 3);
    assert_string_equal(u.sent[2]->tag.s, "ack");
    run_until_delivered(&loop, &u, d0 + 1, 10000);
    assert_int_equal(u.delivered, d0 + 1);
    assert_int_equal(u.last_kind, WA_IN_UNDECRYPTABLE);
    unsigned want = 1;
    uint64_t prev = 0;
    for (size_t i = 0; i < u.nsent; i++) {
        const struct wa_node *r = u.sent[i];
        if (strcmp(r->tag.s, "receipt") != 0) continue;
        char c[8];
        snprintf(c, sizeof c, "%u", want);
        assert_string_equal(sattr(wa_node_child(r, "retry"), "count"), c);
        if (want > 1) assert_non_null(wa_node_child(r, "keys"));
        if (prev) assert_true(u.sent_ms[i] - prev >= 190); /* paced: the gap at least */
        printf("# retry receipt %u at +%llu ms\n", want,
               (unsigned long long)(prev ? u.sent_ms[i] - prev : 0));
        prev = u.sent_ms[i];
        want++;
    }
    assert_int_equal(want, WA_RECV_MAX_RETRY + 1);
    assert_int_equal(st_undec_list(u.db, pend, 4, &npend), 0);
    assert_int_equal(npend, 0);
    alice_free(&a);
    us_free(&u);
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A copy of our own message sent from our phone (device 0): DeviceSentMessage. */
static void test_own_device_copy(void **state)
{
    struct us u;
    struct alice phone;
    us_init(&u);
    alice_init(&phone, &u, 8);
    Wa__Message inner = WA__MESSAGE__INIT, m = WA__MESSAGE__INIT;
    Wa__DeviceSentMessage dsm = WA__DEVICE_SENT_MESSAGE__INIT;
    inner.conversation = "sent from the phone";
    dsm.destinationjid = ALICE_PN;
    dsm.message = &inner;
    m.devicesentmessage = &dsm;
    struct buf ct;
    buf_init(&ct, 1 << 20);
    enum sg_msg_type t = alice_encrypt(&phone, &m, &ct);
    struct wa_node *n = wa_node_new("message");
    set_jid(n, "from", "211111111111111:0@lid");
    set_jid(n, "recipient", ALICE_LID);
    assert_int_equal(wa_node_set_attr(n, "id", "OWN1"), 0);
    add_enc(n, t, &ct, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_string_equal(u.last_text, "sent from the phone");
    assert_string_equal(sattr(u.sent[0], "type"), "sender");
    assert_string_equal(sattr(u.sent[0], "recipient"), ALICE_LID);
    struct st_inbox_msg *v;
    assert_int_equal(inbox_count(&u, &v), 1);
    assert_string_equal(v[0].chat, ALICE_PN);
    assert_string_equal(v[0].sender, "15551230000@s.whatsapp.net");
    st_inbox_list_free(v, 1);
    wa_node_free(n);
    buf_free(&ct);
    alice_free(&phone);
    us_free(&u);
}

/* PN-addressed first, then LID-addressed with sender_pn: the PN session moves to the LID
 * address (alice's second pkmsg names the already consumed pre-key: only the migrated session
 * can decrypt it). */
static void test_pn_session_migrates_to_lid(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 9);
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = "via pn";
    struct buf ct;
    buf_init(&ct, 1 << 20);
    enum sg_msg_type t = alice_encrypt(&a, &m, &ct);
    struct wa_node *n = wa_node_new("message");
    set_jid(n, "from", ALICE_PN);
    assert_int_equal(wa_node_set_attr(n, "id", "PN1"), 0);
    add_enc(n, t, &ct, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_string_equal(u.last_text, "via pn");
    struct sg_address pn, lid;
    assert_int_equal(sg_address_make(&pn, "15550001111", 0, 0), 0);
    assert_int_equal(sg_address_make(&lid, "222222222222222", 1, 0), 0);
    assert_int_equal(sg_has_session(u.ctx, &pn), 1);
    assert_int_equal(sg_has_session(u.ctx, &lid), 0);
    n = alice_text(&a, "LID1", "via lid", &t);
    assert_int_equal(t, SG_PKMSG);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_string_equal(u.last_text, "via lid");
    assert_int_equal(sg_has_session(u.ctx, &lid), 1);
    assert_int_equal(u.delivered, 2);
    buf_free(&ct);
    alice_free(&a);
    us_free(&u);
}

/* Under a TOFU store a reinstalled peer (new identity) is accepted after forgetting the old
 * identity and session once (as whatsmeow). */
static void test_identity_change(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    sg_ctx_free(u.ctx);
    u.st = st_sgstore(u.db, SG_TRUST_TOFU);
    assert_int_equal(sg_ctx_new(&u.ctx, g_sig, &u.st), 0);
    u.env.sg = u.ctx;
    us_renew(&u);
    alice_init(&a, &u, 1);
    struct wa_node *n = alice_text(&a, "ID1", "old phone", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    alice_free(&a);
    alice_init(&a, &u, 2); /* new identity */
    n = alice_text(&a, "ID2", "new phone", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    wa_node_free(n);
    assert_string_equal(u.last_text, "new phone");
    assert_int_equal(u.delivered, 2);
    alice_free(&a);
    us_free(&u);
}

/* An skmsg from a sender whose key we never got, without a 1:1 part: keys at count 1. */
static void test_skmsg_without_key(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 3);
    struct buf skdm, pt, sk;
    buf_init(&skdm, 4096);
    buf_init(&pt, 1 << 20);
    buf_init(&sk, 1 << 20);
    assert_int_equal(sg_group_create(a.ctx, GROUP, &a.self, &skdm), 0);
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = "no key";
    pack(&m, &pt);
    assert_int_equal(sg_group_encrypt(a.ctx, GROUP, &a.self, pt.data, pt.len, &sk), 0);
    struct wa_node *n = stanza("NOKEY", GROUP, "222222222222222:0@lid");
    add_enc(n, SG_SKMSG, &sk, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    const struct wa_node *r = find_sent(&u, "receipt", NULL);
    assert_non_null(r);
    assert_string_equal(sattr(r, "type"), "retry");
    assert_string_equal(sattr(r, "participant"), "222222222222222:0@lid");
    assert_string_equal(sattr(wa_node_child(r, "retry"), "count"), "1");
    assert_non_null(wa_node_child(r, "keys"));
    assert_int_equal(u.delivered, 0);
    wa_node_free(n);
    buf_free(&skdm);
    buf_free(&pt);
    buf_free(&sk);
    alice_free(&a);
    us_free(&u);
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc) fprintf(stderr, "sql: %s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

static void test_store_failure(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 6);
    exec_sql(u.path, "CREATE TRIGGER boom BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'disk "
                     "on fire'); END;");
    struct wa_node *n = alice_text(&a, "SF1", "survives", NULL);
    assert_true(wa_recv_handle(u.rcv, n) < 0);
    assert_int_equal(u.nsent, 0); /* no ack, no receipt: the server redelivers */
    assert_int_equal(u.delivered, 0);
    assert_int_equal(inbox_count(&u, NULL), 0);
    struct sg_prekey pk;
    assert_int_equal(sg_store_get_prekey(g_sig, &u.st, 6, &pk), 1); /* rolled back */
    exec_sql(u.path, "DROP TRIGGER boom;");
    /* held: nothing more is stored on this receiver (issue 17: what comes next must not be
     * stored before the message the server redelivers), even though the store writes again */
    struct wa_node *n2 = alice_text(&a, "SF2", "newer", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, n2), -EAGAIN);
    assert_int_equal(wa_recv_handle(u.rcv, n), -EAGAIN);
    assert_int_equal(u.nsent, 0);
    assert_int_equal(inbox_count(&u, NULL), 0);
    wa_node_free(n2);
    /* a new session (receiver): the server redelivers, in order */
    us_renew(&u);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_int_equal(u.delivered, 1);
    assert_string_equal(u.last_text, "survives");
    assert_string_equal(u.sent[0]->tag.s, "receipt");
    wa_node_free(n);
    alice_free(&a);
    us_free(&u);
}

static struct wa_node *receipt(const char *id, const char *type)
{
    struct wa_node *r = wa_node_new("receipt");
    set_jid(r, "from", "15550001111:0@s.whatsapp.net");
    assert_int_equal(wa_node_set_attr(r, "id", id), 0);
    if (type) assert_int_equal(wa_node_set_attr(r, "type", type), 0);
    return r;
}

static void test_receipts(void **state)
{
    struct us u;
    us_init(&u);
    assert_int_equal(st_outbox_enqueue(u.db, "k1", "OUT1", ALICE_PN, (const uint8_t *)"x", 1, NULL),
                     0);
    assert_int_equal(st_outbox_enqueue(u.db, "k2", "OUT2", ALICE_PN, (const uint8_t *)"y", 1, NULL),
                     0);
    assert_int_equal(st_outbox_set_state(u.db, "OUT1", ST_OUT_SENT, NULL), 0);
    assert_int_equal(st_outbox_set_state(u.db, "OUT2", ST_OUT_SENT, NULL), 0);
    struct wa_node *r = receipt("OUT1", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, r), 1);
    wa_node_free(r);
    assert_int_equal(u.receipts, 1);
    assert_int_equal(u.last_state, ST_OUT_DELIVERED);
    assert_string_equal(u.sent[0]->tag.s, "ack");
    assert_string_equal(sattr(u.sent[0], "class"), "receipt");
    /* read for both (list) */
    r = receipt("OUT1", "read");
    struct wa_node *list = wa_node_new("list"), *item = wa_node_new("item");
    assert_int_equal(wa_node_set_attr(item, "id", "OUT2"), 0);
    assert_int_equal(wa_node_add_child(list, item), 0);
    assert_int_equal(wa_node_add_child(r, list), 0);
    assert_int_equal(wa_recv_handle(u.rcv, r), 1);
    wa_node_free(r);
    assert_int_equal(u.receipts, 3);
    struct st_outbox_msg om;
    assert_int_equal(st_outbox_get(u.db, "OUT2", &om), 0);
    assert_int_equal(om.state, ST_OUT_READ);
    st_outbox_msg_free(&om);
    /* late delivery after read: acked, no state change, no callback; unknown id likewise */
    r = receipt("OUT1", "inactive");
    assert_int_equal(wa_recv_handle(u.rcv, r), 1);
    wa_node_free(r);
    r = receipt("NOPE", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, r), 1);
    wa_node_free(r);
    assert_int_equal(u.receipts, 3);
    assert_int_equal(u.nsent, 4);
    /* retry receipt */
    r = receipt("OUT1", "retry");
    assert_int_equal(wa_recv_handle(u.rcv, r), 1);
    wa_node_free(r);
    assert_int_equal(u.retries, 1);
    assert_string_equal(sattr(u.sent[4], "type"), "retry");
    us_free(&u);
}

static void test_other_stanzas_and_caps(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 7);
    struct wa_node *n = wa_node_new("notification");
    set_jid(n, "from", "s.whatsapp.net");
    assert_int_equal(wa_node_set_attr(n, "id", "N1"), 0);
    assert_int_equal(wa_node_set_attr(n, "type", "server_sync"), 0);
    assert_int_equal(wa_recv_handle(u.rcv, n), 1);
    assert_string_equal(sattr(u.sent[0], "class"), "notification");
    assert_string_equal(sattr(u.sent[0], "type"), "server_sync");
    wa_node_free(n);
    n = wa_node_new("iq");
    assert_int_equal(wa_recv_handle(u.rcv, n), 0);
    wa_node_free(n);
    sent_clear(&u);
    /* too many encs -> nack 487, nothing stored */
    struct wa_node *m = alice_text(&a, "CAP1", "x", NULL);
    struct buf ct;
    buf_init(&ct, 0);
    assert_int_equal(buf_append_str(&ct, "junk"), 0);
    for (int i = 0; i < WA_RECV_MAX_ENC; i++)
        add_enc(m, SG_MSG, &ct, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, m), 1);
    assert_string_equal(sattr(u.sent[0], "error"), "487");
    wa_node_free(m);
    sent_clear(&u);
    /* group without participant -> nack */
    m = wa_node_new("message");
    set_jid(m, "from", GROUP);
    assert_int_equal(wa_node_set_attr(m, "id", "CAP2"), 0);
    add_enc(m, SG_SKMSG, &ct, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, m), 1);
    assert_string_equal(sattr(u.sent[0], "error"), "487");
    wa_node_free(m);
    sent_clear(&u);
    /* no <enc> (unavailable) -> plain ack */
    m = stanza("CAP3", ALICE_LID, NULL);
    assert_int_equal(wa_recv_handle(u.rcv, m), 1);
    assert_string_equal(u.sent[0]->tag.s, "ack");
    assert_null(wa_node_attr(u.sent[0], "error"));
    wa_node_free(m);
    buf_free(&ct);
    assert_int_equal(inbox_count(&u, NULL), 0);
    alice_free(&a);
    us_free(&u);
}

static void test_msg_decode(void **state)
{
    Wa__Message inner = WA__MESSAGE__INIT, m = WA__MESSAGE__INIT;
    Wa__DeviceSentMessage dsm = WA__DEVICE_SENT_MESSAGE__INIT;
    inner.conversation = "to bob";
    dsm.destinationjid = "15550002222@s.whatsapp.net";
    dsm.message = &inner;
    m.devicesentmessage = &dsm;
    uint8_t buf[256];
    size_t n = wa__message__pack(&m, buf);
    struct wa_msg_info mi;
    assert_int_equal(wa_msg_decode(buf, n, &mi), 0);
    assert_string_equal(mi.type, "text");
    assert_string_equal(mi.text, "to bob");
    assert_string_equal(mi.dest_jid, "15550002222@s.whatsapp.net");
    wa_msg_info_free(&mi);
    /* deep nesting is refused before protobuf-c recurses */
    static uint8_t deep[4096];
    size_t len = 0;
    for (int i = 0; i < 100; i++) {
        memmove(deep + 2, deep, len);
        deep[0] = 0x0a;
        deep[1] = (uint8_t)len;
        len += 2;
        if (len > 120) break;
    }
    assert_int_equal(wa_msg_check_depth(deep, len, 8), -EMSGSIZE);
    assert_int_equal(wa_msg_check_depth(buf, n, 8), 0);
    assert_int_equal(wa_msg_decode((const uint8_t *)"\xff\xff", 2, &mi), -EBADMSG);
}

/* ---- group commit ---- */

#define NB 5

static void batch_make(struct alice *a, struct wa_node **v, const char *prefix)
{
    for (int i = 0; i < NB; i++) {
        char id[32], text[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        snprintf(text, sizeof text, "batch text %d", i);
        v[i] = alice_text(a, id, text, NULL);
    }
}

static void batch_free(struct wa_node **v)
{
    for (int i = 0; i < NB; i++)
        wa_node_free(v[i]);
}

static void test_batch_commits_atomically(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 7);
    struct wa_node *v[NB + 1];
    batch_make(&a, v, "GC");
    v[NB] = wa_node_new("call"); /* not a message: handled on its own, acked */
    assert_int_equal(wa_node_set_attr(v[NB], "id", "CALL1"), 0);
    set_jid(v[NB], "from", ALICE_PN);
    int res[NB + 1];
    struct wa_recv_stats s0, s1;
    wa_recv_get_stats(u.rcv, &s0);
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB + 1, res), 0);
    wa_recv_get_stats(u.rcv, &s1);
    for (int i = 0; i <= NB; i++)
        assert_int_equal(res[i], 1);
    assert_int_equal(s1.stored - s0.stored, NB);
    assert_int_equal(u.delivered, NB);
    assert_string_equal(u.last_text, "batch text 4");
    struct st_inbox_msg *in = NULL;
    assert_int_equal(inbox_count(&u, &in), NB);
    for (int i = 0; i < NB; i++) {
        char id[32];
        snprintf(id, sizeof id, "GC%d", i);
        assert_string_equal(in[i].msg_id, id); /* committed in order */
    }
    st_inbox_list_free(in, NB);
    /* the call ack first, then every receipt before the first delivery */
    assert_int_equal(u.nsent, NB + 1);
    assert_string_equal(u.sent[0]->tag.s, "ack");
    for (int i = 1; i <= NB; i++) {
        char id[32];
        snprintf(id, sizeof id, "GC%d", i - 1);
        assert_string_equal(u.sent[i]->tag.s, "receipt");
        assert_string_equal(sattr(u.sent[i], "id"), id);
        assert_int_equal(u.deliv_at[i], 0);
    }
    batch_free(v);
    wa_node_free(v[NB]);
    assert_int_equal(wa_recv_handle_batch(u.rcv, NULL, 0, NULL), 0);
    assert_int_equal(
        wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, WA_RECV_BATCH_MAX + 1, NULL),
        -EINVAL);
    alice_free(&a);
    us_free(&u);
}

static void test_batch_failure_acks_nothing(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 8);
    struct wa_node *v[NB];
    batch_make(&a, v, "GF");
    /* the third message's insert fails: the whole batch rolls back */
    exec_sql(u.path, "CREATE TRIGGER boom BEFORE INSERT ON inbox WHEN NEW.msg_id = 'GF2' BEGIN "
                     "SELECT RAISE(ABORT, 'disk on fire'); END;");
    int res[NB];
    assert_true(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB, res) < 0);
    for (int i = 0; i < NB; i++)
        assert_true(res[i] < 0);
    assert_int_equal(u.nsent, 0);
    assert_int_equal(u.delivered, 0);
    assert_int_equal(inbox_count(&u, NULL), 0);
    struct sg_prekey pk;
    assert_int_equal(sg_store_get_prekey(g_sig, &u.st, 8, &pk), 1); /* rolled back */
    /* held: the same receiver refuses the batch again, though the store writes now */
    exec_sql(u.path, "DROP TRIGGER boom;");
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB, res),
                     -EAGAIN);
    for (int i = 0; i < NB; i++)
        assert_int_equal(res[i], -EAGAIN);
    assert_int_equal(u.nsent, 0);
    /* the server redelivers the batch to a new session: now it all goes through */
    us_renew(&u);
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB, res), 0);
    assert_int_equal(u.delivered, NB);
    assert_int_equal(inbox_count(&u, NULL), NB);
    assert_int_equal(u.nsent, NB);
    batch_free(v);
    alice_free(&a);
    us_free(&u);
}

static void test_batch_redelivery_reacked_only(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 9);
    struct wa_node *v[NB];
    batch_make(&a, v, "GR");
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB, NULL), 0);
    assert_int_equal(u.delivered, NB);
    sent_clear(&u);
    /* crash after COMMIT, before the receipts: the same batch again */
    us_close(&u);
    us_open(&u);
    struct wa_recv_stats s0, s1;
    wa_recv_get_stats(u.rcv, &s0);
    int res[NB];
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB, res), 0);
    wa_recv_get_stats(u.rcv, &s1);
    assert_int_equal(s1.redelivered - s0.redelivered, NB);
    assert_int_equal(s1.stored, s0.stored);
    assert_int_equal(u.delivered, NB); /* nothing delivered again */
    assert_int_equal(inbox_count(&u, NULL), NB);
    assert_int_equal(u.nsent, NB);
    for (int i = 0; i < NB; i++) {
        assert_int_equal(res[i], 1);
        assert_string_equal(u.sent[i]->tag.s, "receipt");
    }
    batch_free(v);
    alice_free(&a);
    us_free(&u);
}

static void test_batch_bad_mac_falls_back(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 10);
    struct wa_node *w = alice_text(&a, "GBWARM", "warm", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, w), 1);
    wa_node_free(w);
    reply_to_alice(&u, &a); /* her next messages are `msg`: the corrupted byte is the MAC */
    sent_clear(&u);
    u.delivered = 0;
    struct wa_node *v[NB];
    batch_make(&a, v, "GB");
    corrupt_last(v[3]);
    int res[NB];
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, NB, res), 0);
    for (int i = 0; i < NB; i++)
        assert_int_equal(res[i], 1);
    assert_int_equal(u.delivered, NB - 1);
    assert_int_equal(inbox_count(&u, NULL), NB); /* with the warm-up message */
    size_t idx = 0;
    const struct wa_node *r = NULL;
    for (size_t i = 0; i < u.nsent; i++)
        if (!strcmp(sattr(u.sent[i], "type"), "retry")) {
            r = u.sent[i];
            idx = i;
        }
    assert_non_null(r);
    assert_string_equal(sattr(r, "id"), "GB3");
    assert_true(idx > 0);
    batch_free(v);
    alice_free(&a);
    us_free(&u);
}

/* Receipts for our messages share the batch's transaction, and so does a caller's hook (the
 * send path's acks): one COMMIT for all; the hook's done() before any ack goes out. */
struct hk {
    struct us *u;
    int body, done, committed;
    size_t sent_at_done;
    bool in_txn;
};

static void hk_body(void *ud)
{
    struct hk *h = ud;
    h->body++;
    h->in_txn = st_db_in_txn(h->u->db);
}

static void hk_done(void *ud, bool committed)
{
    struct hk *h = ud;
    h->done++;
    h->committed = committed;
    h->sent_at_done = h->u->nsent;
}

static void outbox3(struct us *u)
{
    static const char *ids[] = {"OUT1", "OUT2", "OUT3"};
    for (int i = 0; i < 3; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(
            st_outbox_enqueue(u->db, k, ids[i], ALICE_PN, (const uint8_t *)"x", 1, NULL), 0);
        assert_int_equal(st_outbox_set_state(u->db, ids[i], ST_OUT_SENT, NULL), 0);
    }
}

static enum st_out_state out_state(struct us *u, const char *id)
{
    struct st_outbox_msg m;
    assert_int_equal(st_outbox_get(u->db, id, &m), 0);
    enum st_out_state st = m.state;
    st_outbox_msg_free(&m);
    return st;
}

static void test_batch_receipts_and_hook(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 1);
    outbox3(&u);
    struct wa_node *v[NB + 3];
    batch_make(&a, v, "RH");
    v[NB] = receipt("OUT1", NULL);
    v[NB + 1] = receipt("OUT2", "read");
    v[NB + 2] = receipt("OUT3", "retry"); /* not batched: acked and handed over at once */
    struct hk h = {.u = &u};
    struct wa_recv_txn_hook hook = {.body = hk_body, .done = hk_done, .ud = &h};
    int res[NB + 3];
    uint64_t c0 = st_db_commits(u.db);
    assert_int_equal(
        wa_recv_handle_batch_ex(u.rcv, (const struct wa_node *const *)v, NB + 3, res, &hook), 0);
    for (int i = 0; i < NB + 3; i++)
        assert_int_equal(res[i], 1);
    assert_int_equal(st_db_commits(u.db) - c0, 1); /* messages + receipts + hook */
    assert_true(hook.ran);
    assert_int_equal(h.body, 1);
    assert_true(h.in_txn);
    assert_int_equal(h.done, 1);
    assert_int_equal(h.committed, 1);
    assert_int_equal(h.sent_at_done, 1); /* only the retry receipt's ack went out before */
    assert_int_equal(u.retries, 1);
    assert_int_equal(u.receipts, 2);
    assert_int_equal(out_state(&u, "OUT1"), ST_OUT_DELIVERED);
    assert_int_equal(out_state(&u, "OUT2"), ST_OUT_READ);
    assert_int_equal(out_state(&u, "OUT3"), ST_OUT_SENT);
    assert_int_equal(u.delivered, NB);
    /* 1 retry ack + 2 receipt acks + NB message receipts */
    assert_int_equal(u.nsent, 3 + NB);
    assert_string_equal(sattr(u.sent[1], "class"), "receipt");
    assert_string_equal(sattr(u.sent[2], "class"), "receipt");
    batch_free(v);
    for (int i = NB; i < NB + 3; i++)
        wa_node_free(v[i]);

    /* receipts alone: one transaction; a store failure acks none of them */
    sent_clear(&u);
    v[0] = receipt("OUT1", "read");
    v[1] = receipt("OUT3", NULL);
    c0 = st_db_commits(u.db);
    assert_int_equal(wa_recv_handle_batch(u.rcv, (const struct wa_node *const *)v, 2, res), 0);
    assert_int_equal(st_db_commits(u.db) - c0, 1);
    assert_int_equal(out_state(&u, "OUT1"), ST_OUT_READ);
    assert_int_equal(out_state(&u, "OUT3"), ST_OUT_DELIVERED);
    assert_int_equal(u.nsent, 2);
    /* (a trigger that RAISEs is a constraint error, which a receipt ignores as "not allowed";
     * a missing table is a plain SQL error, i.e. a store failure) */
    exec_sql(u.path, "CREATE TABLE gone (x); CREATE TRIGGER boom BEFORE UPDATE ON outbox BEGIN "
                     "INSERT INTO gone VALUES (1); END; DROP TABLE gone;");
    wa_node_free(v[1]);
    v[1] = receipt("OUT3", "read");
    h = (struct hk){.u = &u};
    assert_true(wa_recv_handle_batch_ex(u.rcv, (const struct wa_node *const *)v, 2, res, &hook) <
                0);
    assert_true(res[0] < 0 && res[1] < 0);
    assert_int_equal(u.nsent, 2); /* no new ack: the server redelivers */
    assert_int_equal(h.done, 1);  /* the hook's work was rolled back with it */
    assert_int_equal(h.committed, 0);
    assert_int_equal(out_state(&u, "OUT3"), ST_OUT_DELIVERED);
    wa_node_free(v[0]);
    wa_node_free(v[1]);
    alice_free(&a);
    us_free(&u);
}

/* A batch that falls back to the single path does not run the hook (its caller does the work
 * on its own); receipts are then applied one transaction each. */
static void test_batch_fallback_skips_hook(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 2);
    outbox3(&u);
    struct wa_node *w = alice_text(&a, "FBWARM", "warm", NULL);
    assert_int_equal(wa_recv_handle(u.rcv, w), 1);
    wa_node_free(w);
    reply_to_alice(&u, &a);
    sent_clear(&u);
    u.delivered = 0;
    struct wa_node *v[NB + 1];
    batch_make(&a, v, "FB");
    corrupt_last(v[2]);
    v[NB] = receipt("OUT1", "read");
    struct hk h = {.u = &u};
    struct wa_recv_txn_hook hook = {.body = hk_body, .done = hk_done, .ud = &h};
    int res[NB + 1];
    assert_int_equal(
        wa_recv_handle_batch_ex(u.rcv, (const struct wa_node *const *)v, NB + 1, res, &hook), 0);
    assert_false(hook.ran);
    assert_int_equal(h.body + h.done, 0);
    assert_int_equal(res[NB], 1);
    assert_int_equal(out_state(&u, "OUT1"), ST_OUT_READ);
    assert_int_equal(u.delivered, NB - 1);
    batch_free(v);
    wa_node_free(v[NB]);
    alice_free(&a);
    us_free(&u);
}

/* wa/batch: the receive path's group commit driven by the loop (one iteration = one batch).
 * tb_flush composes a flush the way wa/session.c does: messages and receipts in the
 * receiver's transaction, acks inside it through the hook (or alone when it did not run),
 * then the errors per stanza. */
struct ackrec {
    int handle, in_txn, done, n;
};

struct tb {
    struct wa_receiver *rcv;
    struct ackrec *ar; /* NULL: acks are not expected */
    int errs;
};

static void ar_in_txn(void *ud)
{
    struct tb *t = ud;
    t->ar->in_txn++;
}

static void ar_done(void *ud, bool committed)
{
    struct tb *t = ud;
    t->ar->done += committed;
}

static void tb_flush(void *ud, struct wa_node *const *q, size_t n)
{
    struct tb *t = ud;
    const struct wa_node *rx[WA_BATCH_MAX];
    int res[WA_BATCH_MAX];
    size_t nr = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(q[i]->tag.s, "ack") == 0) {
            na++;
            continue;
        }
        res[nr] = 1;
        rx[nr++] = q[i];
    }
    struct wa_recv_txn_hook h = {.body = ar_in_txn, .done = ar_done, .ud = t};
    int rc = nr ? wa_recv_handle_batch_ex(t->rcv, rx, nr, res, na && t->ar ? &h : NULL) : 0;
    if (t->ar) t->ar->n += (int)na;
    if (na && t->ar && !h.ran) t->ar->handle++;
    for (size_t i = 0; i < nr; i++)
        if ((rc < 0 ? rc : res[i]) < 0) t->errs++;
}

/* One loop iteration (the check handle is unref'ed: a ref'ed timer keeps the loop alive, as
 * the session's socket does in the daemon). */
static void noop_timer(uv_timer_t *t) {}

static void spin(uv_loop_t *loop)
{
    uv_timer_t t;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, noop_timer, 60000, 0), 0);
    uv_run(loop, UV_RUN_NOWAIT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_batch_loop_loop_iteration(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 7);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tb t = {.rcv = u.rcv};
    struct wa_batch *b = NULL;
    assert_int_equal(wa_batch_new(&loop, tb_flush, &t, &b), 0);
    struct wa_node *v[NB];
    batch_make(&a, v, "CB");
    for (int i = 0; i < NB; i++)
        assert_int_equal(wa_batch_push(b, v[i]), 0); /* copies */
    batch_free(v);
    assert_int_equal(wa_batch_pending(b), NB);
    assert_int_equal(u.nsent, 0); /* nothing acked or stored before the loop turns */
    assert_int_equal(inbox_count(&u, NULL), 0);
    spin(&loop);
    assert_int_equal(wa_batch_pending(b), 0);
    assert_int_equal(u.delivered, NB);
    assert_int_equal(inbox_count(&u, NULL), NB);
    assert_int_equal(u.nsent, NB);
    for (int i = 0; i < NB; i++)
        assert_int_equal(u.deliv_at[i], 0); /* every receipt before the first delivery */
    /* dropped (session ended): nothing acked, nothing stored */
    batch_make(&a, v, "CD");
    for (int i = 0; i < NB; i++)
        assert_int_equal(wa_batch_push(b, v[i]), 0);
    wa_batch_drop(b);
    spin(&loop);
    assert_int_equal(u.nsent, NB);
    assert_int_equal(inbox_count(&u, NULL), NB);
    /* a store failure: on_error for each, nothing acked; pending ones at free are dropped */
    exec_sql(u.path, "CREATE TRIGGER boom BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, "
                     "'disk on fire'); END;");
    for (int i = 0; i < NB; i++)
        assert_int_equal(wa_batch_push(b, v[i]), 0);
    wa_batch_flush(b);
    assert_int_equal(t.errs, NB);
    assert_int_equal(u.nsent, NB);
    assert_int_equal(wa_batch_push(b, v[0]), 0);
    batch_free(v);
    wa_batch_free(b);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(u.nsent, NB);
    alice_free(&a);
    us_free(&u);
}

static void test_batch_loop_full_queue_flushes(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 8);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    size_t total = WA_RECV_BATCH_MAX + 3;
    struct wa_recv_env env = u.env;
    env.send_node = NULL; /* no client: the receipts fail (ignored), the messages are stored */
    env.client = NULL;
    struct tb t = {0};
    assert_int_equal(wa_receiver_new(&env, &t.rcv), 0);
    struct wa_batch *b = NULL;
    assert_int_equal(wa_batch_new(&loop, tb_flush, &t, &b), 0);
    for (size_t i = 0; i < total; i++) {
        char id[32];
        snprintf(id, sizeof id, "FQ%zu", i);
        struct wa_node *n = alice_text(&a, id, "full", NULL);
        assert_int_equal(wa_batch_push(b, n), 0);
        wa_node_free(n);
        if (i == WA_RECV_BATCH_MAX) /* the 65th push flushed the first 64 */
            assert_int_equal(inbox_count(&u, NULL), WA_RECV_BATCH_MAX);
    }
    assert_int_equal(wa_batch_pending(b), 3);
    spin(&loop);
    assert_int_equal(wa_batch_pending(b), 0);
    struct st_inbox_msg *in = NULL;
    size_t k = 0;
    assert_int_equal(st_inbox_list(u.db, 0, 1000, &in, &k), 0);
    assert_int_equal(k, total);
    st_inbox_list_free(in, k);
    wa_batch_free(b);
    wa_receiver_free(t.rcv);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    alice_free(&a);
    us_free(&u);
}

/* wa/batch with a commit window: acks and receipts alone wait for it; a message flushes all
 * at the end of its iteration; the acks go through the receive batch's transaction. */
static struct wa_node *msg_ack(const char *id)
{
    struct wa_node *n = wa_node_new("ack");
    assert_int_equal(wa_node_set_attr(n, "id", id), 0);
    assert_int_equal(wa_node_set_attr(n, "class", "message"), 0);
    return n;
}

static void run_for(uv_loop_t *loop, unsigned ms)
{
    uv_timer_t t;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, noop_timer, ms, 0), 0);
    uv_run(loop, UV_RUN_DEFAULT); /* until t fired (the batch's handles are unref'ed) */
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_batch_loop_commit_window(void **state)
{
    struct us u;
    struct alice a;
    us_init(&u);
    alice_init(&a, &u, 3);
    outbox3(&u);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct ackrec r = {0};
    struct tb t = {.rcv = u.rcv, .ar = &r};
    struct wa_batch *b = NULL;
    assert_int_equal(wa_batch_new(&loop, tb_flush, &t, &b), 0);
    wa_batch_set_delay(b, 20);
    struct wa_node *n = msg_ack("OUT1"), *rc = receipt("OUT1", NULL);
    assert_int_equal(wa_batch_push(b, n), 0);
    assert_int_equal(wa_batch_push(b, rc), 0);
    wa_node_free(n);
    wa_node_free(rc);
    spin(&loop); /* end of the iteration: no message, so they wait */
    assert_int_equal(wa_batch_pending(b), 2);
    assert_int_equal(u.nsent, 0);
    uint64_t c0 = st_db_commits(u.db);
    run_for(&loop, 60); /* the window closed: one commit for the receipt and the ack */
    assert_int_equal(wa_batch_pending(b), 0);
    assert_int_equal(st_db_commits(u.db) - c0, 1);
    assert_int_equal(r.in_txn, 1);
    assert_int_equal(r.done, 1);
    assert_int_equal(r.handle, 0);
    assert_int_equal(out_state(&u, "OUT1"), ST_OUT_DELIVERED);
    assert_int_equal(u.nsent, 1); /* the receipt's ack */
    /* an ack, then a message: flushed at the end of the message's iteration */
    n = msg_ack("OUT2");
    assert_int_equal(wa_batch_push(b, n), 0);
    wa_node_free(n);
    spin(&loop);
    assert_int_equal(wa_batch_pending(b), 1);
    n = alice_text(&a, "CW1", "window", NULL);
    assert_int_equal(wa_batch_push(b, n), 0);
    wa_node_free(n);
    spin(&loop);
    assert_int_equal(wa_batch_pending(b), 0);
    assert_int_equal(u.delivered, 1);
    assert_int_equal(r.in_txn, 2);
    /* acks alone after the window: their own group (handle) */
    n = msg_ack("OUT3");
    assert_int_equal(wa_batch_push(b, n), 0);
    wa_node_free(n);
    spin(&loop); /* the check phase (as after the read that brought it) starts the window */
    assert_int_equal(wa_batch_pending(b), 1);
    run_for(&loop, 60);
    assert_int_equal(r.handle, 1);
    assert_int_equal(r.n, 3);
    wa_batch_free(b);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    alice_free(&a);
    us_free(&u);
}

static int setup(void **state)
{
    return sg_context_create(&g_sig);
}

static int teardown(void **state)
{
    signal_context_destroy(g_sig);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkmsg_then_msg),
        cmocka_unit_test(test_group_skdm),
        cmocka_unit_test(test_redelivery),
        cmocka_unit_test(test_bad_mac_retry),
        cmocka_unit_test(test_retry_paced),
        cmocka_unit_test(test_store_failing),
        cmocka_unit_test(test_store_failure),
        cmocka_unit_test(test_receipts),
        cmocka_unit_test(test_other_stanzas_and_caps),
        cmocka_unit_test(test_msg_decode),
        cmocka_unit_test(test_own_device_copy),
        cmocka_unit_test(test_pn_session_migrates_to_lid),
        cmocka_unit_test(test_identity_change),
        cmocka_unit_test(test_skmsg_without_key),
        cmocka_unit_test(test_batch_commits_atomically),
        cmocka_unit_test(test_batch_failure_acks_nothing),
        cmocka_unit_test(test_batch_redelivery_reacked_only),
        cmocka_unit_test(test_batch_bad_mac_falls_back),
        cmocka_unit_test(test_batch_loop_loop_iteration),
        cmocka_unit_test(test_batch_loop_full_queue_flushes),
        cmocka_unit_test(test_batch_receipts_and_hook),
        cmocka_unit_test(test_batch_fallback_skips_hook),
        cmocka_unit_test(test_batch_loop_commit_window),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
