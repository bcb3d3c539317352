/* SPDX-License-Identifier: MIT */
/* test_send.c -- send path pieces without a server: message ids, destinations, Message
 * protobufs, the <message> stanza, usync build/parse/cache, durable enqueue + idempotency,
 * and what the sender does with acks/receipts that are not its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/hex.h"
#include "signal/sg_crypto.h"
#include "signal/sg_memstore.h"
#include "store/creds.h"
#include "store/sgstore.h"
#include "wa.pb-c.h"
#include "wa/nodetext.h"
#include "wa/send.h"
#include "wa/usync.h"

/* The sender's enqueue of a text message value (wa/outmsg.h). */
static int enq(struct wa_sender *s, const char *to, const char *text, const char *key,
               struct st_outbox_msg *out)
{
    struct wa_outmsg m = wa_outmsg_text(to, text, key);
    return wa_sender_enqueue(s, &m, out);
}

/* The session-less outbox enqueue of a text message value. */
static int enq_db(struct st_db *db, const struct wa_creds *creds, const char *to, const char *text,
                  const char *key, struct st_outbox_msg *out, char *err, size_t errlen)
{
    struct wa_outmsg m = wa_outmsg_text(to, text, key);
    return wa_outbox_enqueue(db, creds, &m, out, err, errlen);
}

/* ---- pure helpers ---- */

static void test_msg_id(void **state)
{
    (void)state;
    char a[32], b[32];
    assert_int_equal(wa_send_msg_id("15551230000", 1795260230, a, sizeof(a)), 0);
    assert_int_equal(wa_send_msg_id("15551230000", 1795260230, b, sizeof(b)), 0);
    assert_int_equal(strlen(a), 22);
    assert_memory_equal(a, "3EB0", 4);
    for (size_t i = 4; i < 22; i++)
        assert_non_null(strchr("0123456789ABCDEF", a[i]));
    assert_string_not_equal(a, b); /* 16 random bytes in the hash */
    assert_int_equal(wa_send_msg_id("1", 0, a, 22), -EINVAL);
}

static void norm_ok(const char *in, const char *want)
{
    char out[300], err[200];
    int rc = wa_send_normalize_to(in, out, sizeof(out), err, sizeof(err));
    if (rc != 0) fail_msg("%s: %s", in, err);
    assert_string_equal(out, want);
}

static void norm_bad(const char *in)
{
    char out[300], err[200] = "";
    assert_int_equal(wa_send_normalize_to(in, out, sizeof(out), err, sizeof(err)), -EINVAL);
    assert_true(err[0] != 0);
}

static void test_normalize_to(void **state)
{
    (void)state;
    norm_ok("+15550002", "15550002@s.whatsapp.net");
    norm_ok("15550002", "15550002@s.whatsapp.net");
    norm_ok("15550002@s.whatsapp.net", "15550002@s.whatsapp.net");
    norm_ok("15550002@c.us", "15550002@s.whatsapp.net");
    norm_ok("120363041234567890@g.us", "120363041234567890@g.us");
    norm_bad("");
    norm_bad("+");
    norm_bad("1234");                    /* too short */
    norm_bad("+1555000200000000000000"); /* too long */
    /* E.164 as people type it (issue 13) */
    norm_ok("+1555-0002", "15550002@s.whatsapp.net");
    norm_ok("+1 555 0002", "15550002@s.whatsapp.net");
    norm_ok("+1 (555) 000.2", "15550002@s.whatsapp.net");
    norm_ok("0015550002", "15550002@s.whatsapp.net");
    norm_bad("05550002");    /* national: no country code */
    norm_bad("+0015550002"); /* + and 00 */
    norm_bad("0015550002@s.whatsapp.net");
    norm_bad("1234567890123456"); /* 16 digits: beyond E.164 */
    norm_bad(" 15550002");
    norm_bad("+1 555 0002x");
    norm_bad("+1--");
    norm_bad("15550002:3@s.whatsapp.net"); /* a device */
    norm_bad("222222222222222@lid");
    norm_bad("status@broadcast");
    norm_bad("123@newsletter");
    norm_bad("alice@s.whatsapp.net");
    norm_bad("@g.us");
}

static Wa__Message *unpack(const struct buf *b)
{
    Wa__Message *m = wa__message__unpack(NULL, b->len, b->data);
    assert_non_null(m);
    return m;
}

static void test_message_protobufs(void **state)
{
    (void)state;
    struct buf t, d, k;
    buf_init(&t, 0);
    buf_init(&d, 0);
    buf_init(&k, 0);
    assert_int_equal(wa_send_build_text("hi alice", &t), 0);
    Wa__Message *m = unpack(&t);
    assert_string_equal(m->conversation, "hi alice");
    wa__message__free_unpacked(m, NULL);

    assert_int_equal(wa_send_build_dsm("15550002@s.whatsapp.net", t.data, t.len, &d), 0);
    m = unpack(&d);
    assert_null(m->conversation);
    assert_non_null(m->devicesentmessage);
    assert_string_equal(m->devicesentmessage->destinationjid, "15550002@s.whatsapp.net");
    assert_string_equal(m->devicesentmessage->message->conversation, "hi alice");
    wa__message__free_unpacked(m, NULL);

    static const uint8_t skdm[] = {0x33, 1, 2, 3};
    assert_int_equal(wa_send_build_skdm("1203@g.us", skdm, sizeof(skdm), t.data, t.len, &k), 0);
    m = unpack(&k);
    assert_string_equal(m->conversation, "hi alice");
    assert_string_equal(m->senderkeydistributionmessage->groupid, "1203@g.us");
    assert_memory_equal(m->senderkeydistributionmessage->axolotlsenderkeydistributionmessage.data,
                        skdm, sizeof(skdm));
    wa__message__free_unpacked(m, NULL);
    buf_reset(&k);
    assert_int_equal(wa_send_build_skdm("1203@g.us", skdm, sizeof(skdm), NULL, 0, &k), 0);
    m = unpack(&k);
    assert_null(m->conversation);
    assert_non_null(m->senderkeydistributionmessage);
    wa__message__free_unpacked(m, NULL);
    /* garbage inner message */
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(wa_send_build_dsm("x@s.whatsapp.net", junk, sizeof(junk), &d), -EBADMSG);
    buf_free(&t);
    buf_free(&d);
    buf_free(&k);
}

static char *text_of(const struct wa_node *n)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(wa_nodetext_print(n, &b, WA_NODETEXT_COMPACT), 0);
    assert_int_equal(buf_append_byte(&b, 0), 0);
    return (char *)b.data;
}

static void test_stanza_shape(void **state)
{
    (void)state;
    struct wa_jid to, d0, d7;
    assert_int_equal(wa_jid_set(&to, "15550002", WA_SERVER_PN), 0);
    assert_int_equal(wa_jid_set(&d0, "15551230000", WA_SERVER_PN), 0);
    assert_int_equal(wa_jid_set_ad(&d7, "15550002", WA_DOMAIN_PN, 7), 0);
    static const uint8_t c1[] = {1, 2}, c2[] = {3}, acct[] = {9, 9};
    struct wa_send_part p[2] = {{d0, SG_PKMSG, c1, 2}, {d7, SG_MSG, c2, 1}};
    struct wa_node *m = wa_send_build_stanza("3EB0X", &to, p, 2, NULL, 0, acct, 2);
    assert_non_null(m);
    char *t = text_of(m);
    assert_string_equal(
        t, "<message id='3EB0X' to=@'15550002@s.whatsapp.net' type='text'><participants>"
           "<to jid=@'15551230000@s.whatsapp.net'><enc v='2' type='pkmsg'>[2B hex 0102]</enc></to>"
           "<to jid=@'15550002:7@s.whatsapp.net'><enc v='2' type='msg'>[1B hex 03]</enc></to>"
           "</participants><device-identity>[2B hex 0909]</device-identity></message>");
    free(t);
    wa_node_free(m);
    /* msg only: no device-identity; group: skmsg after the participants */
    struct wa_jid g;
    assert_int_equal(wa_jid_set(&g, "1203", WA_SERVER_GROUP), 0);
    m = wa_send_build_stanza("3EB0Y", &g, &p[1], 1, c1, 2, acct, 2);
    t = text_of(m);
    assert_string_equal(t, "<message id='3EB0Y' to=@'1203@g.us' type='text'><participants>"
                           "<to jid=@'15550002:7@s.whatsapp.net'><enc v='2' type='msg'>[1B hex "
                           "03]</enc></to></participants><enc v='2' type='skmsg'>[2B hex "
                           "0102]</enc></message>");
    free(t);
    wa_node_free(m);
    /* nobody needs the SKDM: no <participants> */
    m = wa_send_build_stanza("3EB0Z", &g, NULL, 0, c1, 2, acct, 2);
    t = text_of(m);
    assert_string_equal(t, "<message id='3EB0Z' to=@'1203@g.us' type='text'>"
                           "<enc v='2' type='skmsg'>[2B hex 0102]</enc></message>");
    free(t);
    wa_node_free(m);
}

/* ---- usync ---- */

static void test_usync_build(void **state)
{
    (void)state;
    const char *users[] = {"15551230000", "15550001111"};
    struct wa_node *iq = wa_usync_build("r-9", users, 2);
    char *t = text_of(iq);
    assert_string_equal(
        t, "<iq id='r-9' to=@'s.whatsapp.net' type='get' xmlns='usync'><usync sid='r-9' "
           "context='message' mode='query' last='true' index='0'><query><devices "
           "version='2'/><lid/></query><list><user jid=@'15551230000@s.whatsapp.net'/><user "
           "jid=@'15550001111@s.whatsapp.net'/></list></usync></iq>");
    free(t);
    wa_node_free(iq);
    assert_null(wa_usync_build("r", users, 0));
}

static void test_usync_parse_and_cache(void **state)
{
    (void)state;
    static const char resp[] =
        "<iq from=@'s.whatsapp.net' type='result' id='r-9'><usync sid='r-9' index='0' "
        "last='true'><result></result><list>"
        "<user jid=@'15551230000@s.whatsapp.net'><devices><device-list><device id='0'/>"
        "<device id='7' key-index='3'/><device id='9'/><device id='12' key-index='1' "
        "is_hosted='true'/></device-list></devices><lid val=@'211111111111111@lid'/></user>"
        "<user jid=@'15550001111@s.whatsapp.net'><devices><device-list><device id='0'/>"
        "</device-list></devices></user>"
        "<user jid=@'2222@lid'/>"
        "</list></usync></iq>";
    struct wa_node *n = NULL;
    char err[160];
    assert_int_equal(wa_nodetext_parse(resp, strlen(resp), &n, err, sizeof(err)), 0);
    struct wa_usync_user u[4];
    size_t cnt = 0;
    assert_int_equal(wa_usync_parse(n, u, 4, &cnt), 0);
    wa_node_free(n);
    assert_int_equal(cnt, 2); /* the LID-only user is skipped */
    assert_string_equal(u[0].pn, "15551230000");
    assert_string_equal(u[0].lid, "211111111111111");
    assert_int_equal(u[0].ndev, 2); /* 9 has no key-index, 12 is hosted */
    assert_int_equal(u[0].dev[0], 0);
    assert_int_equal(u[0].dev[1], 7);
    assert_string_equal(u[1].lid, "");
    assert_int_equal(u[1].ndev, 1);
    struct wa_node *bad = wa_node_new("iq");
    assert_int_equal(wa_usync_parse(bad, u, 4, &cnt), -EPROTO);
    wa_node_free(bad);

    struct wa_usync_cache *c;
    assert_int_equal(wa_usync_cache_new(10, &c), 0);
    wa_usync_cache_put(c, &u[0], 100);
    assert_non_null(wa_usync_cache_get(c, "15551230000", 105));
    assert_null(wa_usync_cache_get(c, "15551230000", 110)); /* expired */
    assert_null(wa_usync_cache_get(c, "15550001111", 100));
    wa_usync_cache_drop(c, "15551230000");
    assert_null(wa_usync_cache_get(c, "15551230000", 101));
    wa_usync_cache_free(c);
    /* eviction: the oldest entry goes */
    assert_int_equal(wa_usync_cache_new(100000, &c), 0);
    struct wa_usync_user x = {.ndev = 1};
    for (int i = 0; i <= WA_USYNC_CACHE_MAX; i++) {
        snprintf(x.pn, sizeof(x.pn), "1000%d", i);
        wa_usync_cache_put(c, &x, 200 + i);
    }
    assert_null(wa_usync_cache_get(c, "10000", 200 + WA_USYNC_CACHE_MAX));
    assert_non_null(wa_usync_cache_get(c, "10001", 200 + WA_USYNC_CACHE_MAX));
    wa_usync_cache_free(c);
    /* "not on WhatsApp" answers: remembered for the TTL, never handed out as a device list;
     * a later answer with devices replaces them */
    assert_int_equal(wa_usync_cache_new(10, &c), 0);
    wa_usync_cache_put_absent(c, "15559999", 100);
    assert_true(wa_usync_cache_absent(c, "15559999", 105));
    assert_null(wa_usync_cache_get(c, "15559999", 105));
    assert_false(wa_usync_cache_absent(c, "15559999", 110)); /* expired */
    assert_false(wa_usync_cache_absent(c, "15550002", 105));
    wa_usync_cache_put_absent(c, "15559999", 200);
    snprintf(x.pn, sizeof(x.pn), "15559999");
    wa_usync_cache_put(c, &x, 201);
    assert_false(wa_usync_cache_absent(c, "15559999", 202));
    assert_non_null(wa_usync_cache_get(c, "15559999", 202));
    wa_usync_cache_free(c);
}

static bool iqerr(const char *code, enum wa_send_step step, const char *want)
{
    struct wa_node *iq = wa_node_new("iq");
    struct wa_node *e = wa_node_new("error");
    assert_int_equal(wa_node_set_attr(iq, "type", "error"), 0);
    if (code) assert_int_equal(wa_node_set_attr(e, "code", code), 0);
    assert_int_equal(wa_node_set_attr(e, "text", "x"), 0);
    assert_int_equal(wa_node_add_child(iq, e), 0);
    char why[160];
    bool perm = wa_send_iq_error(iq, step, why, sizeof(why));
    if (!strstr(why, want)) fail_msg("%s: '%s' lacks '%s'", code ? code : "-", why, want);
    wa_node_free(iq);
    return perm;
}

/* iq errors: a 4xx is final for the message, with what it means; the rest is retried */
static void test_iq_error_classes(void **state)
{
    (void)state;
    assert_true(iqerr("404", WA_SEND_STEP_GROUP, "no such group (404 x)"));
    assert_true(iqerr("403", WA_SEND_STEP_GROUP, "not a member of this group"));
    assert_true(iqerr("404", WA_SEND_STEP_USYNC, "no such number"));
    assert_true(iqerr("400", WA_SEND_STEP_KEYS, "refused the pre-key query (400"));
    assert_false(iqerr("500", WA_SEND_STEP_GROUP, "server error 500"));
    assert_false(iqerr("503", WA_SEND_STEP_USYNC, "server error 503"));
    assert_false(iqerr("429", WA_SEND_STEP_KEYS, "server error 429"));
    assert_false(iqerr(NULL, WA_SEND_STEP_GROUP, "iq error"));
    assert_false(iqerr("40x", WA_SEND_STEP_GROUP, "iq error"));
    char why[64];
    assert_false(wa_send_iq_error(NULL, WA_SEND_STEP_GROUP, why, sizeof(why)));
}

/* ---- the sender over a real store and an idle client ---- */

struct fx {
    char dir[64];
    uv_loop_t loop;
    struct wa_client *c;
    struct st_db *db;
    signal_context *sig;
    struct sg_ctx *sg;
    struct sg_store store;
    struct wa_creds creds;
    struct wa_sender *s;
    int states;
    /* frames captured by the send hook */
    int frames, acks, msgs;
    char msg_to[128], enc_type[16], enc_count[16], fanout[16];
    bool has_di;
    uint8_t ct[2048];
    size_t ctlen;
};

static int hook(void *ud, const struct wa_node *n)
{
    struct fx *f = ud;
    f->frames++;
    if (!strcmp(n->tag.s, "ack")) f->acks++;
    if (strcmp(n->tag.s, "message") != 0) return 0;
    f->msgs++;
    const struct wa_node *e = wa_node_child(n, "enc");
    assert_non_null(e);
    snprintf(f->msg_to, sizeof(f->msg_to), "%s", wa_node_attr(n, "to"));
    snprintf(f->fanout, sizeof(f->fanout), "%s",
             wa_node_attr(n, "device_fanout") ? wa_node_attr(n, "device_fanout") : "");
    snprintf(f->enc_type, sizeof(f->enc_type), "%s", wa_node_attr(e, "type"));
    snprintf(f->enc_count, sizeof(f->enc_count), "%s", wa_node_attr(e, "count"));
    f->has_di = wa_node_child(n, "device-identity") != NULL;
    const uint8_t *p = wa_node_content_bytes(e, &f->ctlen);
    assert_true(f->ctlen <= sizeof(f->ct));
    memcpy(f->ct, p, f->ctlen);
    return 0;
}

static void on_state(void *ud, const char *id, enum st_out_state st, const char *err)
{
    (void)id;
    (void)st;
    (void)err;
    ((struct fx *)ud)->states++;
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test-send-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    char p[128], err[256];
    snprintf(p, sizeof(p), "%s/wa.db", f->dir);
    if (st_db_open(p, &f->db, err, sizeof(err)) < 0) return -1;
    if (wa_creds_generate(&f->creds) < 0) return -1;
    snprintf(f->creds.me_pn, sizeof(f->creds.me_pn), "15551230000:7@s.whatsapp.net");
    snprintf(f->creds.me_lid, sizeof(f->creds.me_lid), "211111111111111:7@lid");
    struct st_creds sc = {0}; /* the store's local identity comes from the creds row */
    memcpy(sc.noise_priv, f->creds.noise.priv, 32);
    memcpy(sc.noise_pub, f->creds.noise.pub, 32);
    memcpy(sc.identity_priv, f->creds.identity.priv, 32);
    memcpy(sc.identity_pub, f->creds.identity.pub, 32);
    sc.registration_id = f->creds.registration_id;
    sc.spk_id = f->creds.signed_prekey_id;
    memcpy(sc.spk_priv, f->creds.signed_prekey.priv, 32);
    memcpy(sc.spk_pub, f->creds.signed_prekey.pub, 32);
    memcpy(sc.spk_sig, f->creds.signed_prekey_sig, 64);
    sc.next_prekey_id = sc.first_unuploaded_prekey_id = 1;
    if (st_creds_save(f->db, &sc) < 0) return -1;
    f->store = st_sgstore(f->db, SG_TRUST_ANY);
    if (sg_context_create(&f->sig) < 0 || sg_ctx_new(&f->sg, f->sig, &f->store) < 0) return -1;
    uv_loop_init(&f->loop);
    struct wa_client_cbs cbs = {0};
    struct wa_client_opts o = {0};
    if (wa_client_new(&f->loop, &o, &cbs, f, &f->c) < 0) return -1;
    struct wa_sender_env env = {.client = f->c,
                                .db = f->db,
                                .sg = f->sg,
                                .creds = &f->creds,
                                .on_state = on_state,
                                .ud = f};
    if (wa_sender_new(&env, &f->s) < 0) return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    wa_sender_free(f->s);
    wa_client_close(f->c);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    sg_ctx_free(f->sg);
    signal_context_destroy(f->sig);
    st_db_close(f->db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_enqueue_durable_and_idempotent(void **state)
{
    struct fx *f = *state;
    struct st_outbox_msg a, b;
    assert_int_equal(enq(f->s, "+15550002", "hello", "key-1", &a), 0);
    assert_int_equal(a.state, ST_OUT_QUEUED);
    assert_string_equal(a.to, "15550002@s.whatsapp.net");
    assert_string_equal(a.idem_key, "key-1");
    assert_int_equal(strlen(a.msg_id), 22);
    Wa__Message *m = wa__message__unpack(NULL, a.payload_len, a.payload);
    assert_non_null(m);
    assert_string_equal(m->conversation, "hello");
    wa__message__free_unpacked(m, NULL);
    /* a retry receipt finds the same plaintext ... */
    char to[300];
    uint8_t *pl = NULL;
    size_t pll = 0;
    assert_int_equal(st_retry_get(f->db, a.msg_id, to, sizeof(to), &pl, &pll), 1);
    assert_string_equal(to, "15550002@s.whatsapp.net");
    assert_int_equal(pll, a.payload_len);
    assert_memory_equal(pl, a.payload, pll);
    free(pl);
    /* ... read from the outbox row itself: no second copy in retry_buffer */
    assert_int_equal(st_retry_purge(f->db, (int64_t)time(NULL) + 86400, 0), 0);
    /* same key, same message: same row, nothing new */
    assert_int_equal(enq(f->s, "+1 555 0002", "hello", "key-1", &b), ST_DUPLICATE);
    assert_string_equal(b.msg_id, a.msg_id);
    /* same key, another text or recipient: refused (the API's 409), nothing new */
    struct st_outbox_msg cm;
    assert_int_equal(enq(f->s, "+15550002", "hello again", "key-1", &cm), -EEXIST);
    assert_non_null(strstr(wa_sender_last_error(f->s), "different message"));
    assert_int_equal(enq(f->s, "+15550003", "hello", "key-1", &cm), -EEXIST);
    char err[256];
    struct wa_outmsg om = wa_outmsg_text("+15550003", "hello", "key-1");
    assert_int_equal(wa_outbox_enqueue(f->db, &f->creds, &om, &cm, err, sizeof(err)), -EEXIST);
    assert_non_null(strstr(err, "key-1"));
    struct st_outbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_outbox_list_queued(f->db, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    st_outbox_list_free(v, n);
    /* no key: the message id is the key, so two sends are two rows */
    struct st_outbox_msg c;
    assert_int_equal(enq(f->s, "120363041234567890@g.us", "grp", NULL, &c), 0);
    assert_string_equal(c.idem_key, c.msg_id);
    /* not connected: kick does nothing, nothing in flight, no callback */
    wa_sender_kick(f->s);
    assert_int_equal(wa_sender_inflight(f->s), 0);
    assert_int_equal(f->states, 0);
    assert_int_equal(st_outbox_list_queued(f->db, 10, &v, &n), 0);
    assert_int_equal(n, 2);
    st_outbox_list_free(v, n);
    st_outbox_msg_free(&a);
    st_outbox_msg_free(&b);
    st_outbox_msg_free(&c);
}

/* Between sessions the channel has no sender object: POST /api/v1/messages must still
 * queue durably (it answered "not available" before), and the next session's sender must
 * find the row and count it as its own (same idempotency rules). */
static void test_enqueue_without_sender(void **state)
{
    struct fx *f = *state;
    struct st_outbox_msg a, b;
    char err[256] = "";
    assert_int_equal(enq_db(f->db, &f->creds, "+15550002", "queued", "k-off", &a, err, sizeof err),
                     0);
    assert_int_equal(a.state, ST_OUT_QUEUED);
    assert_string_equal(a.to, "15550002@s.whatsapp.net");
    /* the sender of a later session sees the same key as a duplicate of that row */
    assert_int_equal(enq(f->s, "+15550002", "queued", "k-off", &b), ST_DUPLICATE);
    assert_string_equal(b.msg_id, a.msg_id);
    struct st_outbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_outbox_list_queued(f->db, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    st_outbox_list_free(v, n);
    st_outbox_msg_free(&a);
    st_outbox_msg_free(&b);
    struct wa_creds unpaired = f->creds;
    unpaired.me_pn[0] = 0;
    assert_int_equal(enq_db(f->db, &unpaired, "+15550002", "x", NULL, &a, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "not paired");
}

static void test_enqueue_rejects(void **state)
{
    struct fx *f = *state;
    struct st_outbox_msg a;
    assert_int_equal(enq(f->s, "222@lid", "x", NULL, &a), -EINVAL);
    assert_non_null(strstr(wa_sender_last_error(f->s), "only phone numbers"));
    assert_int_equal(enq(f->s, "+15550002", "", NULL, &a), -EINVAL);
    char *big = malloc(WA_SEND_TEXT_MAX + 2);
    memset(big, 'a', WA_SEND_TEXT_MAX + 1);
    big[WA_SEND_TEXT_MAX + 1] = 0;
    assert_int_equal(enq(f->s, "+15550002", big, NULL, &a), -EINVAL);
    free(big);
    /* not UTF-8 (what a hook might print): refused before an id is spent on it */
    assert_int_equal(enq(f->s, "+15550002", "caf\xe9", NULL, &a), -EINVAL);
    assert_non_null(strstr(wa_sender_last_error(f->s), "not valid UTF-8 (byte 3)"));
    char err[128];
    struct wa_outmsg om = wa_outmsg_text("+15550002", "\xed\xa0\x80", NULL);
    assert_int_equal(wa_outbox_enqueue(f->db, &f->creds, &om, &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not valid UTF-8"));
    f->creds.me_pn[0] = 0; /* not paired */
    assert_int_equal(enq(f->s, "+15550002", "x", NULL, &a), -EINVAL);
    snprintf(f->creds.me_pn, sizeof(f->creds.me_pn), "15551230000:7@s.whatsapp.net");
}

static struct wa_node *parse(const char *t)
{
    struct wa_node *n = NULL;
    char err[160];
    if (wa_nodetext_parse(t, strlen(t), &n, err, sizeof(err)) < 0) fail_msg("%s", err);
    return n;
}

static void test_handle_not_ours(void **state)
{
    struct fx *f = *state;
    struct wa_node *n = parse("<ack class='message' id='NOPE' from=@'1@s.whatsapp.net'/>");
    assert_int_equal(wa_sender_handle(f->s, n), 0);
    wa_node_free(n);
    n = parse("<receipt id='NOPE' from=@'15550002@s.whatsapp.net' type='retry'>"
              "<retry count='1' id='NOPE' v='1'/></receipt>");
    assert_int_equal(wa_sender_handle(f->s, n), 0);
    wa_node_free(n);
    n = parse("<receipt id='X' from=@'15550002@s.whatsapp.net'/>");
    assert_int_equal(wa_sender_handle(f->s, n), 0);
    wa_node_free(n);
    /* an ack for a known row that is not in flight (e.g. after a retry resend) is ours */
    struct st_outbox_msg a;
    assert_int_equal(enq(f->s, "+15550002", "hello", NULL, &a), 0);
    char t[200];
    snprintf(t, sizeof(t), "<ack class='message' id='%s'/>", a.msg_id);
    n = parse(t);
    assert_int_equal(wa_sender_handle(f->s, n), 1);
    wa_node_free(n);
    struct st_outbox_msg g;
    assert_int_equal(st_outbox_get(f->db, a.msg_id, &g), 0);
    assert_int_equal(g.state, ST_OUT_QUEUED); /* not in flight: not marked sent */
    st_outbox_msg_free(&g);
    st_outbox_msg_free(&a);
    wa_sender_disconnected(f->s);
    assert_int_equal(f->states, 0);
}

/* The peer: a Signal party with published keys. */
struct peer {
    struct sg_memstore *ms;
    struct sg_store st;
    struct sg_ctx *sg;
    struct sg_identity id;
    struct sg_signed_prekey spk;
    struct sg_prekey pk;
};

static void peer_init(struct peer *p, signal_context *sig)
{
    assert_int_equal(sg_memstore_new(&p->ms, NULL), 0);
    assert_int_equal(sg_identity_generate(sig, &p->id), 0);
    sg_memstore_set_identity(p->ms, &p->id);
    p->st = sg_memstore_store(p->ms, SG_TRUST_ANY);
    assert_int_equal(sg_ctx_new(&p->sg, sig, &p->st), 0);
    assert_int_equal(sg_signed_prekey_generate(sig, &p->id.kp, 1, &p->spk), 0);
    assert_int_equal(sg_store_put_signed_prekey(sig, &p->st, &p->spk), 0);
    assert_int_equal(sg_prekeys_generate(sig, 5, 1, &p->pk, NULL), 0);
    assert_int_equal(sg_store_put_prekeys(sig, &p->st, &p->pk, 1), 0);
}

static void peer_free(struct peer *p)
{
    sg_ctx_free(p->sg);
    sg_memstore_free(p->ms);
}

/* <receipt type=retry> from the peer's phone, with its keys (bad_sig: a broken signature). */
static struct wa_node *retry_receipt(const struct peer *p, const char *id, int count, bool bad_sig)
{
    char ik[65], pk[65], spk[65], sig[129], t[1200];
    hex_encode(ik, p->id.kp.pub, 32);
    hex_encode(pk, p->pk.kp.pub, 32);
    hex_encode(spk, p->spk.kp.pub, 32);
    uint8_t sb[64];
    memcpy(sb, p->spk.sig, 64);
    if (bad_sig) sb[10] ^= 1;
    hex_encode(sig, sb, 64);
    unsigned r = p->id.registration_id;
    snprintf(t, sizeof(t),
             "<receipt id='%s' from=@'15550002@s.whatsapp.net' type='retry'>"
             "<retry count='%d' id='%s' t='1' v='1'/><registration>[hex %08X]</registration>"
             "<keys><type>[hex 05]</type><identity>[hex %s]</identity>"
             "<key><id>[hex 000005]</id><value>[hex %s]</value></key>"
             "<skey><id>[hex 000001]</id><value>[hex %s]</value><signature>[hex %s]</signature>"
             "</skey></keys></receipt>",
             id, count, id, r, ik, pk, spk, sig);
    return parse(t);
}

static void test_retry_with_keys(void **state)
{
    struct fx *f = *state;
    wa_sender_set_send_hook(f->s, hook, f);
    struct peer p;
    peer_init(&p, f->sig);
    struct st_outbox_msg a;
    assert_int_equal(enq(f->s, "+15550002", "hello again", NULL, &a), 0);

    /* a broken signed pre-key signature: no session, nothing re-sent (nor acked: the receive
     * path acks receipts) */
    struct wa_node *n = retry_receipt(&p, a.msg_id, 2, true);
    assert_int_equal(wa_sender_handle(f->s, n), 1);
    wa_node_free(n);
    assert_int_equal(f->acks, 0);
    assert_int_equal(f->msgs, 0);
    struct sg_address pa, me;
    assert_int_equal(sg_address_make(&pa, "15550002", 0, 0), 0);
    assert_int_equal(sg_has_session(f->sg, &pa), 0);

    /* good keys: a session is built from them and the message re-encrypted for that device */
    n = retry_receipt(&p, a.msg_id, 2, false);
    assert_int_equal(wa_sender_handle(f->s, n), 1);
    wa_node_free(n);
    if (f->msgs != 1) fail_msg("no resend: %s", wa_sender_last_error(f->s));
    assert_int_equal(sg_has_session(f->sg, &pa), 1);
    assert_string_equal(f->msg_to, "15550002@s.whatsapp.net");
    assert_string_equal(f->fanout, "false");
    assert_string_equal(f->enc_type, "pkmsg");
    assert_string_equal(f->enc_count, "2");
    assert_true(f->has_di);
    /* the peer decrypts it */
    assert_int_equal(sg_address_make(&me, "211111111111111", 1, 7), 0);
    struct buf pt;
    buf_init(&pt, 0);
    assert_int_equal(sg_decrypt(p.sg, &me, SG_PKMSG, f->ct, f->ctlen, &pt), 0);
    size_t plen = 0;
    assert_int_equal(sg_unpad(pt.data, pt.len, &plen), 0);
    Wa__Message *m = wa__message__unpack(NULL, plen, pt.data);
    assert_non_null(m);
    assert_string_equal(m->conversation, "hello again");
    wa__message__free_unpacked(m, NULL);
    buf_free(&pt);

    /* Receipts without keys at count >= 2 mean our session is older than the peer's (a
     * rolled-back store, docs/internals/retry-receipts.md): each is answered on a fresh session
     * from the server's bundle, so it asks the client for one (an encrypt iq, which this
     * offline fixture cannot carry; tests/fault/12-send-rollback.sh runs it end to end) and
     * never re-encrypts on the current session. Answers per message and device are bounded
     * (2 so far, bad keys counted): 3 more asks, then "answered too often". */
    for (int i = 0; i < 5; i++) {
        n = parse("<receipt id='X' from=@'15550002@s.whatsapp.net' type='retry'>"
                  "<retry count='3' id='X' v='1'/></receipt>");
        char t[300];
        snprintf(t, sizeof(t),
                 "<receipt id='%s' from=@'15550002@s.whatsapp.net' type='retry'>"
                 "<retry count='%d' id='%s' v='1'/></receipt>",
                 a.msg_id, 3 + i, a.msg_id);
        wa_node_free(n);
        n = parse(t);
        assert_int_equal(wa_sender_handle(f->s, n), 1);
        wa_node_free(n);
    }
    assert_int_equal(f->msgs, 1);
    assert_non_null(strstr(wa_sender_last_error(f->s), "answered too often"));
    assert_string_equal(f->enc_type, "pkmsg"); /* the peer never answered: still pending */
    st_outbox_msg_free(&a);
    peer_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_id),
        cmocka_unit_test(test_normalize_to),
        cmocka_unit_test(test_message_protobufs),
        cmocka_unit_test(test_stanza_shape),
        cmocka_unit_test(test_usync_build),
        cmocka_unit_test(test_usync_parse_and_cache),
        cmocka_unit_test(test_iq_error_classes),
        cmocka_unit_test_setup_teardown(test_enqueue_durable_and_idempotent, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_without_sender, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_rejects, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_handle_not_ours, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retry_with_keys, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
