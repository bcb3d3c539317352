/* SPDX-License-Identifier: MIT */
/* itest_send.c -- the send path (src/wa/send.c) against wagate-fakewa's simulated devices.
 *
 * One paired wa_client over an SQLite account store (st_sgstore) sends to the simulated
 * contact alice: her phone decrypts the text, our own phone (a simulated device 0) decrypts
 * the DeviceSentMessage copy; a group with alice (SKDM + skmsg, then skmsg only); a message
 * queued while disconnected goes out once after the login; an idempotency key reused gives one
 * message; a corrupted delivery makes alice send a retry receipt which we answer; a number
 * that is not on WhatsApp fails; a missing group fails at once and the queue moves on. Every wait
 * is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http1.h"

#include "child.h"

#include "core/log.h"
#include "signal/sg_crypto.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"
#include "wa/client.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/send.h"
#include "loop.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* The sender's enqueue of a text message value (wa/outmsg.h). */
static int enq(struct wa_sender *s, const char *to, const char *text, const char *key,
               struct st_outbox_msg *out)
{
    struct wa_outmsg m = wa_outmsg_text(to, text, key);
    return wa_sender_enqueue(s, &m, out);
}

#define PHONE     "+15550001"
#define PHONE_URL "%2B15550001"
#define ALICE     "+15550002"
#define WAIT_MS   8000

static pid_t g_pid = -1;
static char g_admin[192], g_url[256], g_dir[64];
static uint8_t g_root[32];

/* ---- blocking admin HTTP ---- */

static int http(const char *method, const char *path, const char *json, char **body)
{
    int status = http1_request(g_admin, method, path, json, WAIT_MS, body);
    assert_true(status > 0);
    return status;
}

static void post(const char *path, const char *json, char *out, size_t outlen)
{
    char *body = NULL;
    int st = http("POST", path, json, &body);
    if (st != 200 && st != 201) fail_msg("POST %s %s: %d %s", path, json, st, body);
    if (out) snprintf(out, outlen, "%s", body);
    free(body);
}

/* Messages in who's inbox with this id: how many, how many decrypted, text of the last ok. */
static int inbox_count(const char *who, const char *id, int *ok, char *text, size_t tl)
{
    char path[128], *body = NULL;
    snprintf(path, sizeof(path), "/admin/contacts/%s/inbox", who);
    assert_int_equal(http("GET", path, NULL, &body), 200);
    cJSON *o = cJSON_Parse(body);
    free(body);
    assert_non_null(o);
    int n = 0;
    *ok = 0;
    cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(o, "messages"))
    {
        const char *mid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "id"));
        if (!mid || strcmp(mid, id) != 0) continue;
        n++;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok"))) {
            (*ok)++;
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "text"));
            if (text) snprintf(text, tl, "%s", t ? t : "");
        }
    }
    cJSON_Delete(o);
    return n;
}

/* ---- harness ---- */

struct h {
    uv_loop_t loop;
    struct wa_client *c;
    struct st_db *db;
    signal_context *sig;
    struct sg_ctx *sg;
    struct sg_store store;
    struct wa_creds creds;
    struct wa_sender *s;
    char qr[700];
    int nqr, connected, closes, sent, failed, retries_seen, received;
    char last_id[64], last_err[256];
    /* hold_acks: <ack class='message'> are kept here instead of going to the sender */
    bool hold_acks;
    struct wa_node *acks[64];
    int nacks;
    int frames; /* <message> frames written by the sender (counted with the send hook) */
};

static struct h g_h;

static int persist(struct h *h, const struct wa_creds *c)
{
    h->creds = *c;
    return wa_creds_store(h->db, c);
}

static void on_qr(void *ud, const char *qr, unsigned valid_ms)
{
    struct h *h = ud;
    (void)valid_ms;
    snprintf(h->qr, sizeof(h->qr), "%s", qr);
    h->nqr++;
}

static int on_paired(void *ud, const struct wa_creds *c)
{
    return persist(ud, c);
}

static int on_creds(void *ud, const struct wa_creds *c)
{
    return persist(ud, c);
}

static void on_connected(void *ud, const char *lid, unsigned offline)
{
    struct h *h = ud;
    (void)lid;
    (void)offline;
    h->connected++;
    wa_sender_kick(h->s);
}

/* Ack what the server delivers (so it is not redelivered) and hand acks/receipts over. */
static void ack_node(struct h *h, const struct wa_node *n)
{
    struct wa_node *a = wa_node_new("ack");
    struct wa_jid from;
    const char *id = wa_node_attr(n, "id"), *type = wa_node_attr(n, "type");
    if (a && id && wa_node_attr_jid(n, "from", &from) == 0 && wa_node_set_attr(a, "id", id) == 0 &&
        wa_node_set_attr_jid(a, "to", &from) == 0 && wa_node_set_attr(a, "class", n->tag.s) == 0 &&
        (!type || wa_node_set_attr(a, "type", type) == 0))
        (void)!wa_client_send_node(h->c, a);
    wa_node_free(a);
}

/* A stand-in for the receive path (not under test here): decrypt 1:1 messages so that our
 * sessions see the peer's answer (then we send `msg` rather than `pkmsg`). */
static void mini_receive(struct h *h, const struct wa_node *n)
{
    struct wa_jid from;
    struct sg_address a;
    const struct wa_node *e = wa_node_child(n, "enc");
    enum sg_msg_type t;
    size_t len = 0;
    const uint8_t *ct = e ? wa_node_content_bytes(e, &len) : NULL;
    if (!ct || wa_node_attr_jid(n, "from", &from) < 0 || wa_jid_is_group(&from) ||
        sg_msg_type_parse(wa_node_attr(e, "type"), &t) < 0 ||
        sg_address_make(&a, from.user, wa_jid_domain_type(&from), from.device) < 0)
        return;
    struct buf pt;
    buf_init(&pt, SG_MAX_MESSAGE);
    if (st_db_begin(h->db) == 0) {
        if (sg_decrypt(h->sg, &a, t, ct, len, &pt) == 0 && st_db_commit(h->db) == 0)
            h->received++;
        else
            st_db_rollback(h->db);
    }
    buf_free(&pt);
}

static void on_node(void *ud, const struct wa_node *n)
{
    struct h *h = ud;
    if (!strcmp(n->tag.s, "message")) mini_receive(h, n);
    const char *type = wa_node_attr(n, "type");
    if (!strcmp(n->tag.s, "receipt") && type && !strcmp(type, "retry")) h->retries_seen++;
    if (strcmp(n->tag.s, "ack") != 0) ack_node(h, n); /* what the receive path does */
    const char *cls = wa_node_attr(n, "class");
    if (h->hold_acks && !strcmp(n->tag.s, "ack") && cls && !strcmp(cls, "message") &&
        h->nacks < 64) {
        struct buf w;
        buf_init(&w, 0);
        if (wa_node_encode(n, &w, NULL, 0) == 0 &&
            wa_node_decode(w.data, w.len, NULL, &h->acks[h->nacks], NULL, 0) == 0)
            h->nacks++;
        buf_free(&w);
        return;
    }
    wa_sender_handle(h->s, n);
}

static void on_close(void *ud, const struct wa_outcome *o)
{
    struct h *h = ud;
    (void)o;
    h->closes++;
    wa_sender_disconnected(h->s);
}

static const struct wa_client_cbs CBS = {on_qr,   on_paired, on_creds, on_connected,
                                         on_node, on_close,  NULL,     NULL};

static void on_state(void *ud, const char *id, enum st_out_state st, const char *err)
{
    struct h *h = ud;
    snprintf(h->last_id, sizeof(h->last_id), "%s", id);
    if (st == ST_OUT_SENT) h->sent++;
    if (st == ST_OUT_FAILED) {
        h->failed++;
        snprintf(h->last_err, sizeof(h->last_err), "%s", err ? err : "");
    }
}

static bool run_until(struct h *h, const int *counter, int want, int ms)
{
    return loop_run_until(&h->loop, counter, want, ms);
}

static void idle(struct h *h, int ms)
{
    loop_run_for(&h->loop, ms);
}

static void login(struct h *h)
{
    int want = h->connected + 1;
    assert_int_equal(wa_client_start(h->c, &h->creds, &h->store), 0);
    if (!run_until(h, &h->connected, want, WAIT_MS)) fail_msg("not connected");
}

/* Poll who's inbox until a message with id arrives decrypted (ok). */
static int wait_inbox(struct h *h, const char *who, const char *id, char *text, size_t tl)
{
    int ok = 0, n = 0;
    for (int i = 0; i < 80 && !ok; i++) {
        idle(h, 100);
        n = inbox_count(who, id, &ok, text, tl);
    }
    (void)n;
    return ok;
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    struct h *h = &g_h;
    wlog_set_stderr(getenv("ITEST_VERBOSE") != NULL);
    if (getenv("ITEST_VERBOSE")) wlog_set_level(WLOG_DEBUG);
    snprintf(g_dir, sizeof(g_dir), "/tmp/itest-send-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    char bin[4096], fwdir[128], dbp[128];
    snprintf(bin, sizeof(bin), "%s", child_build_path("wagate-fakewa"));
    snprintf(fwdir, sizeof(fwdir), "%s/fw", g_dir);
    char *argv[] = {bin,       "--listen",    "127.0.0.1:0",
                    "--admin", "127.0.0.1:0", "--state",
                    fwdir,     "--log-level", getenv("ITEST_VERBOSE") ? "debug" : "warn",
                    NULL};
    char out[1024], listen[192] = "";
    g_pid = child_start(argv, 4, out, sizeof(out), 10000);
    if (g_pid < 0) return -1;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char k[32], v[160];
        if (sscanf(line, "%31s %159s", k, v) != 2) continue;
        if (!strcmp(k, "listen")) snprintf(listen, sizeof(listen), "%s", v);
        if (!strcmp(k, "admin")) snprintf(g_admin, sizeof(g_admin), "%s", v);
        if (!strcmp(k, "root"))
            for (int i = 0; i < 32; i++)
                sscanf(v + 2 * i, "%2hhx", &g_root[i]);
    }
    snprintf(g_url, sizeof(g_url), "ws://%s/ws/chat", listen);
    post("/admin/accounts", "{\"phone\":\"" PHONE "\"}", NULL, 0);
    post("/admin/contacts", "{\"name\":\"alice\",\"phone\":\"" ALICE "\"}", NULL, 0);

    memset(h, 0, sizeof(*h));
    char err[256];
    snprintf(dbp, sizeof(dbp), "%s/wa.db", g_dir);
    if (st_db_open(dbp, &h->db, err, sizeof(err)) < 0) return -1;
    if (wa_creds_generate(&h->creds) < 0 || persist(h, &h->creds) < 0) return -1;
    h->store = st_sgstore(h->db, SG_TRUST_ANY);
    if (sg_context_create(&h->sig) < 0 || sg_ctx_new(&h->sg, h->sig, &h->store) < 0) return -1;
    if (uv_loop_init(&h->loop) < 0) return -1;
    struct wa_client_opts o = {.url = g_url, .noise_root_pub = g_root};
    if (wa_client_new(&h->loop, &o, &CBS, h, &h->c) < 0) return -1;
    struct wa_sender_env env = {.client = h->c,
                                .db = h->db,
                                .sg = h->sg,
                                .creds = &h->creds,
                                .on_state = on_state,
                                .ud = h};
    if (wa_sender_new(&env, &h->s) < 0) return -1;

    /* pair: QR -> the fake phone scans -> 515 -> login */
    assert_int_equal(wa_client_start(h->c, &h->creds, &h->store), 0);
    if (!run_until(h, &h->nqr, 1, WAIT_MS)) return -1;
    char req[2048];
    snprintf(req, sizeof(req), "{\"qr\":\"%s\",\"phone\":\"" PHONE "\"}", h->qr);
    post("/admin/scan", req, NULL, 0);
    if (!run_until(h, &h->closes, 1, WAIT_MS)) return -1;
    login(h);
    idle(h, 200); /* pre-key upload answered */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct h *h = &g_h;
    wa_sender_free(h->s);
    wa_client_close(h->c);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    sg_ctx_free(h->sg);
    signal_context_destroy(h->sig);
    st_db_close(h->db);
    wa_creds_wipe(&h->creds);
    child_stop(g_pid);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    if (system(cmd) != 0) return -1;
    return 0;
}

/* ---- tests ---- */

static int64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_and_wait(struct h *h, const char *to, const char *text, const char *key,
                          char *id_out)
{
    struct st_outbox_msg m;
    int want = h->sent + 1;
    int rc = enq(h->s, to, text, key, &m);
    if (rc < 0) fail_msg("enqueue: %d %s", rc, wa_sender_last_error(h->s));
    assert_int_equal(m.state, ST_OUT_QUEUED);
    snprintf(id_out, 64, "%s", m.msg_id);
    st_outbox_msg_free(&m);
    wa_sender_kick(h->s);
    if (!run_until(h, &h->sent, want, WAIT_MS))
        fail_msg("not acked: %s", wa_sender_last_error(h->s));
    assert_string_equal(h->last_id, id_out);
    struct st_outbox_msg row;
    assert_int_equal(st_outbox_get(h->db, id_out, &row), 0);
    assert_int_equal(row.state, ST_OUT_SENT);
    st_outbox_msg_free(&row);
}

static void test_send_to_alice_and_own_phone(void **state)
{
    (void)state;
    struct h *h = &g_h;
    char id[64], text[128] = "";
    send_and_wait(h, ALICE, "hi alice", NULL, id);
    assert_int_equal(strlen(id), 22);
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "hi alice");
    /* our phone (simulated device 0) decrypted the DeviceSentMessage copy */
    text[0] = 0;
    assert_true(wait_inbox(h, PHONE_URL, id, text, sizeof(text)));
    assert_string_equal(text, "hi alice");
    /* second message: established sessions (msg), cached device list */
    send_and_wait(h, "15550002@s.whatsapp.net", "second", NULL, id);
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "second");
}

static void test_idempotency(void **state)
{
    (void)state;
    struct h *h = &g_h;
    char id[64], text[64];
    send_and_wait(h, ALICE, "exactly once", "idem-1", id);
    struct st_outbox_msg m;
    assert_int_equal(enq(h->s, ALICE, "exactly once", "idem-1", &m), ST_DUPLICATE);
    assert_string_equal(m.msg_id, id);
    assert_int_equal(m.state, ST_OUT_SENT);
    st_outbox_msg_free(&m);
    wa_sender_kick(h->s);
    idle(h, 300);
    int ok = 0;
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_int_equal(inbox_count("alice", id, &ok, NULL, 0), 1);
}

static void test_queued_while_disconnected(void **state)
{
    (void)state;
    struct h *h = &g_h;
    int closes = h->closes;
    post("/admin/fault", "{\"type\":\"close\",\"phone\":\"" PHONE "\"}", NULL, 0);
    assert_true(run_until(h, &h->closes, closes + 1, WAIT_MS));
    struct st_outbox_msg m;
    assert_int_equal(enq(h->s, ALICE, "sent after reconnect", "offline-1", &m), 0);
    char id[64];
    snprintf(id, sizeof(id), "%s", m.msg_id);
    st_outbox_msg_free(&m);
    wa_sender_kick(h->s); /* not connected: nothing */
    assert_int_equal(wa_sender_inflight(h->s), 0);
    int sent = h->sent;
    login(h); /* on_connected kicks */
    assert_true(run_until(h, &h->sent, sent + 1, WAIT_MS));
    char text[64];
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "sent after reconnect");
    idle(h, 300);
    int ok = 0;
    assert_int_equal(inbox_count("alice", id, &ok, NULL, 0), 1);
    assert_int_equal(h->sent, sent + 1);
}

/* A frame written but never acknowledged (the server stopped reading) goes back to queued
 * when the session drops and is sent once after the next login. */
static void test_inflight_requeued(void **state)
{
    (void)state;
    struct h *h = &g_h;
    int closes = h->closes;
    post("/admin/fault", "{\"type\":\"blackhole\",\"phone\":\"" PHONE "\",\"duration_ms\":800}",
         NULL, 0);
    struct st_outbox_msg m;
    assert_int_equal(enq(h->s, ALICE, "lost ack", NULL, &m), 0);
    char id[64];
    snprintf(id, sizeof(id), "%s", m.msg_id);
    st_outbox_msg_free(&m);
    wa_sender_kick(h->s); /* devices cached, sessions exist: written at once */
    assert_int_equal(wa_sender_inflight(h->s), 1);
    assert_true(run_until(h, &h->closes, closes + 1, WAIT_MS));
    assert_int_equal(wa_sender_inflight(h->s), 0);
    struct st_outbox_msg row;
    assert_int_equal(st_outbox_get(h->db, id, &row), 0);
    assert_int_equal(row.state, ST_OUT_QUEUED);
    st_outbox_msg_free(&row);
    int sent = h->sent;
    login(h);
    assert_true(run_until(h, &h->sent, sent + 1, WAIT_MS));
    assert_string_equal(h->last_id, id);
    char text[64];
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    idle(h, 300);
    int ok = 0;
    assert_int_equal(inbox_count("alice", id, &ok, NULL, 0), 1);
}

static void test_group(void **state)
{
    (void)state;
    struct h *h = &g_h;
    char out[512];
    post("/admin/groups", "{\"subject\":\"g\",\"members\":[\"" PHONE "\",\"alice\"]}", out,
         sizeof(out));
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    char gjid[128];
    snprintf(gjid, sizeof(gjid), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "jid")));
    cJSON_Delete(o);
    char id[64], text[64];
    send_and_wait(h, gjid, "hello group", NULL, id);
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "hello group");
    text[0] = 0; /* our phone is a member too: it got the SKDM and the skmsg */
    assert_true(wait_inbox(h, PHONE_URL, id, text, sizeof(text)));
    assert_string_equal(text, "hello group");
    /* the sender-key memory now holds alice's device: skmsg only */
    send_and_wait(h, gjid, "group again", NULL, id);
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "group again");
    /* alice cannot decrypt the next skmsg: her retry receipt (from the group, participant =
     * her device) is answered 1:1 with a Message carrying a fresh SKDM and the text */
    post("/admin/fault", "{\"type\":\"corrupt\",\"phone\":\"alice\",\"device\":0,\"count\":1}",
         NULL, 0);
    int seen = h->retries_seen;
    send_and_wait(h, gjid, "group retry", NULL, id);
    assert_true(run_until(h, &h->retries_seen, seen + 1, WAIT_MS));
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "group retry");
    int ok = 0;
    assert_int_equal(inbox_count("alice", id, &ok, NULL, 0), 2);
    assert_int_equal(ok, 1);
    /* the sender-key memory was renewed: the next message still reaches her */
    send_and_wait(h, gjid, "group after retry", NULL, id);
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "group after retry");
}

static void test_retry_receipt(void **state)
{
    (void)state;
    struct h *h = &g_h;
    /* alice answers first: our session is confirmed, we now send `msg` (a corrupted pkmsg
     * would still decrypt on her side: she knows its base key already) */
    int rcv = h->received;
    post("/admin/contacts/alice/send", "{\"to\":\"" PHONE "\",\"text\":\"hi back\"}", NULL, 0);
    assert_true(run_until(h, &h->received, rcv + 1, WAIT_MS));
    post("/admin/fault", "{\"type\":\"corrupt\",\"phone\":\"alice\",\"device\":0,\"count\":1}",
         NULL, 0);
    int seen = h->retries_seen;
    char id[64], text[64];
    send_and_wait(h, ALICE, "after a retry", NULL, id);
    assert_true(run_until(h, &h->retries_seen, seen + 1, WAIT_MS));
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "after a retry");
    int ok = 0;
    assert_int_equal(inbox_count("alice", id, &ok, NULL, 0), 2); /* failed + answered */
    assert_int_equal(ok, 1);
}

/* A number the server lists no device for fails at once, "not on WhatsApp"; the answer is
 * remembered, so the next enqueue to it is refused before anything is queued (-ENXIO). */
static void test_not_on_whatsapp(void **state)
{
    (void)state;
    struct h *h = &g_h;
    struct st_outbox_msg m;
    assert_int_equal(enq(h->s, "+15559999", "nobody", NULL, &m), 0);
    st_outbox_msg_free(&m);
    int failed = h->failed;
    wa_sender_kick(h->s);
    assert_true(run_until(h, &h->failed, failed + 1, WAIT_MS));
    assert_non_null(strstr(h->last_err, "not on WhatsApp"));
    assert_int_equal(enq(h->s, "+1 555 9999", "again", NULL, &m), -ENXIO);
    assert_non_null(strstr(wa_sender_last_error(h->s), "not on WhatsApp"));
    assert_int_equal(enq(h->s, "alice@lid", "x", NULL, &m), -EINVAL);
}

/* No head-of-line blocking (issue 13): a message to a group that does not exist (the server
 * answers 404) fails at once with the reason, and the message queued behind it goes out at
 * once, without another kick. */
static void test_missing_group_fails_queue_moves_on(void **state)
{
    (void)state;
    struct h *h = &g_h;
    struct st_outbox_msg m;
    /* disconnected-style enqueue: both rows wait in the outbox in this order */
    assert_int_equal(wa_outbox_enqueue(h->db, &h->creds,
                                       &(struct wa_outmsg){.kind = WA_OM_TEXT,
                                                           .to = "120363999999999999@g.us",
                                                           .text = "to nobody"},
                                       &m, h->last_err, sizeof(h->last_err)),
                     0);
    char gid[64], aid[64];
    snprintf(gid, sizeof(gid), "%s", m.msg_id);
    st_outbox_msg_free(&m);
    assert_int_equal(wa_outbox_enqueue(h->db, &h->creds,
                                       &(struct wa_outmsg){.kind = WA_OM_TEXT,
                                                           .to = ALICE,
                                                           .text = "behind the missing group"},
                                       &m, h->last_err, sizeof(h->last_err)),
                     0);
    snprintf(aid, sizeof(aid), "%s", m.msg_id);
    st_outbox_msg_free(&m);
    int failed = h->failed, sent = h->sent;
    int64_t t0 = loop_now_ms();
    wa_sender_kick(h->s); /* the only kick */
    assert_true(run_until(h, &h->failed, failed + 1, WAIT_MS));
    assert_non_null(strstr(h->last_err, "no such group"));
    assert_true(run_until(h, &h->sent, sent + 1, WAIT_MS));
    int64_t ms = loop_now_ms() - t0;
    printf("# missing group failed and the next message was acked %lld ms after the kick\n",
           (long long)ms);
    struct st_outbox_msg row;
    assert_int_equal(st_outbox_get(h->db, gid, &row), 0);
    assert_int_equal(row.state, ST_OUT_FAILED);
    assert_non_null(strstr(row.error, "no such group (404"));
    st_outbox_msg_free(&row);
    assert_int_equal(st_outbox_get(h->db, aid, &row), 0);
    assert_int_equal(row.state, ST_OUT_SENT);
    st_outbox_msg_free(&row);
    char text[128];
    assert_true(wait_inbox(h, "alice", aid, text, sizeof(text)));
    assert_string_equal(text, "behind the missing group");
}

/* A burst: 30 messages queued at once go out oldest first, pipelined, each exactly once. */
static void test_burst(void **state)
{
    (void)state;
    struct h *h = &g_h;
    enum { N = 30 };
    char ids[N][64];
    for (int i = 0; i < N; i++) {
        struct st_outbox_msg m;
        char t[32];
        snprintf(t, sizeof(t), "burst %d", i);
        assert_int_equal(enq(h->s, ALICE, t, NULL, &m), 0);
        snprintf(ids[i], sizeof(ids[i]), "%s", m.msg_id);
        st_outbox_msg_free(&m);
    }
    int sent = h->sent;
    uint64_t t0 = uv_hrtime();
    wa_sender_kick(h->s);
    assert_true(wa_sender_inflight(h->s) > 1); /* cached devices + sessions: pipelined */
    assert_true(run_until(h, &h->sent, sent + N, WAIT_MS));
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    printf("send_burst: %d messages acked in %.1f ms (%.0f msg/s, encrypt for 2 devices each)\n", N,
           ms, N / (ms / 1000.0));
    assert_string_equal(h->last_id, ids[N - 1]);
    char text[64];
    assert_true(wait_inbox(h, "alice", ids[N - 1], text, sizeof(text)));
    assert_string_equal(text, "burst 29");
    int ok = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(inbox_count("alice", ids[i], &ok, NULL, 0), 1);
        assert_int_equal(ok, 1);
    }
}

/* The send hook: count the <message> frames, then write them as usual. */
static int count_frames(void *ud, const struct wa_node *n)
{
    struct h *h = ud;
    if (!strcmp(n->tag.s, "message")) h->frames++;
    return wa_client_send_node(h->c, n);
}

/* Group commit: an idle connected sender stores and encrypts a new row in ONE commit and
 * writes its frame before wa_sender_enqueue returns; a backlog after a reconnect and a burst of
 * acks cost one commit each, not one per row. */
static void test_group_commit(void **state)
{
    (void)state;
    struct h *h = &g_h;
    idle(h, 200); /* nothing of earlier tests in flight */
    wa_sender_set_send_hook(h->s, count_frames, h);
    h->frames = 0;
    struct st_outbox_msg m;
    uint64_t c0 = st_db_commits(h->db);
    int sent = h->sent;
    assert_int_equal(enq(h->s, ALICE, "one commit", NULL, &m), 0);
    assert_int_equal(m.state, ST_OUT_QUEUED);
    char id[64];
    snprintf(id, sizeof(id), "%s", m.msg_id);
    st_outbox_msg_free(&m);
    assert_int_equal(st_db_commits(h->db) - c0, 1); /* row + sessions together */
    assert_int_equal(h->frames, 1);                 /* written with no kick */
    assert_int_equal(wa_sender_inflight(h->s), 1);
    assert_true(run_until(h, &h->sent, sent + 1, WAIT_MS));
    char text[64];
    assert_true(wait_inbox(h, "alice", id, text, sizeof(text)));
    assert_string_equal(text, "one commit");

    /* a backlog queued while offline: one commit for all its rows after the login */
    enum { N = 12 };
    char ids[N][64];
    int closes = h->closes;
    post("/admin/fault", "{\"type\":\"close\",\"phone\":\"" PHONE "\"}", NULL, 0);
    assert_true(run_until(h, &h->closes, closes + 1, WAIT_MS));
    for (int i = 0; i < N; i++) {
        char t[32];
        snprintf(t, sizeof(t), "backlog %d", i);
        assert_int_equal(enq(h->s, ALICE, t, NULL, &m), 0);
        snprintf(ids[i], sizeof(ids[i]), "%s", m.msg_id);
        st_outbox_msg_free(&m);
    }
    h->frames = 0;
    h->hold_acks = true;
    h->nacks = 0;
    wa_sender_set_send_hook(h->s, count_frames, h);
    login(h); /* on_connected kicks */
    assert_int_equal(h->frames, N);
    assert_int_equal(wa_sender_inflight(h->s), N);
    assert_true(run_until(h, &h->nacks, N, WAIT_MS));
    /* the N acks together: their `sent` states in one commit, in order */
    sent = h->sent;
    c0 = st_db_commits(h->db);
    assert_int_equal(
        wa_sender_handle_acks(h->s, (const struct wa_node *const *)h->acks, (size_t)h->nacks), N);
    assert_int_equal(st_db_commits(h->db) - c0, 1);
    assert_int_equal(h->sent - sent, N);
    assert_int_equal(wa_sender_inflight(h->s), 0);
    for (int i = 0; i < h->nacks; i++)
        wa_node_free(h->acks[i]);
    h->nacks = 0;
    h->hold_acks = false;
    for (int i = 0; i < N; i++) {
        struct st_outbox_msg row;
        assert_int_equal(st_outbox_get(h->db, ids[i], &row), 0);
        assert_int_equal(row.state, ST_OUT_SENT);
        st_outbox_msg_free(&row);
    }
    assert_true(wait_inbox(h, "alice", ids[N - 1], text, sizeof(text)));
    assert_string_equal(text, "backlog 11");
    /* misuse is refused: acks "inside" a transaction that is not open */
    assert_int_equal(wa_sender_acks_in_txn(h->s, NULL, 0), -EINVAL);
    wa_sender_txn_done(h->s, true); /* no group: nothing happens */
    wa_sender_set_send_hook(h->s, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_to_alice_and_own_phone),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_queued_while_disconnected),
        cmocka_unit_test(test_inflight_requeued),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_retry_receipt),
        cmocka_unit_test(test_not_on_whatsapp),
        cmocka_unit_test(test_missing_group_fails_queue_moves_on),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_group_commit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
