/* SPDX-License-Identifier: MIT */
/* itest_recv.c -- the receive path (src/wa/recv.c) with a real client against wagate-fakewa.
 *
 * Our device pairs and logs in with a SQLite store; the simulated contact alice sends a 1:1
 * text and a group text (SKDM + skmsg) -> inbox rows with the right text and chat, and her
 * phone gets our delivery receipts; a `corrupt` fault breaks the MAC of the next message ->
 * we send a retry receipt, alice re-sends, it decrypts; a message committed but never
 * acknowledged (the receipt is "lost" as in a crash after COMMIT) is redelivered by the
 * server after a restart (database and client closed and reopened) and is not delivered twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http1.h"

#include "child.h"

#include "core/log.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/sgstore.h"
#include "wa/client.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/node.h"
#include "wa/recv.h"
#include "wa.pb-c.h"
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
#include <unistd.h>
#include <uv.h>

#define PHONE   "+15550001"
#define WAIT_MS 10000

static pid_t g_pid = -1;
static char g_listen[192], g_admin[192], g_url[256], g_dir[64], g_dbpath[128];
static uint8_t g_root[32];
static char g_mydev[16]; /* ":<our device>@" */

/* ---- blocking admin HTTP ---- */

static int http(const char *method, const char *path, const char *json, char **body)
{
    int status = http1_request(g_admin, method, path, json, WAIT_MS, body);
    assert_true(status > 0);
    return status;
}

static cJSON *http_json(const char *method, const char *path, const char *json)
{
    char *body = NULL;
    int st = http(method, path, json, &body);
    if (st < 200 || st > 299) fail_msg("%s %s: %d %s", method, path, st, body);
    cJSON *o = cJSON_Parse(body);
    free(body);
    assert_non_null(o);
    return o;
}

/* alice sends `text` to `to`; the message id into id. */
static void alice_send(const char *to, const char *text, char *id, size_t idlen)
{
    char req[512];
    snprintf(req, sizeof(req), "{\"to\":\"%s\",\"text\":\"%s\"}", to, text);
    cJSON *o = http_json("POST", "/admin/contacts/alice/send", req);
    snprintf(id, idlen, "%s", cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring);
    cJSON_Delete(o);
}

/* Number of receipts alice's phone got for id from our device (type of the last into *type). */
static int alice_receipts(const char *id, char *type, size_t tlen)
{
    cJSON *o = http_json("GET", "/admin/contacts/alice/inbox", NULL);
    int n = 0;
    cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "receipts"))
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, id) != 0) continue;
        if (!strstr(cJSON_GetObjectItemCaseSensitive(r, "from")->valuestring, g_mydev))
            continue; /* our simulated phone (device 0) receives and acks too */
        n++;
        if (type)
            snprintf(type, tlen, "%s", cJSON_GetObjectItemCaseSensitive(r, "type")->valuestring);
    }
    cJSON_Delete(o);
    return n;
}

/* ---- harness: client + SQLite store + receive env ---- */

struct h {
    uv_loop_t loop;
    struct wa_client *c;
    struct st_db *db;
    struct sg_store st;
    signal_context *sig;
    struct sg_ctx *sg;
    struct wa_creds creds;
    struct wa_recv_env env;
    struct wa_receiver *rcv;
    char qr[700];
    int nqr, connected, closes, delivered, local_errors;
    struct wa_outcome out;
    char drop_receipt_for[64]; /* simulate a crash between COMMIT and the receipt */
    char last_text[256], last_chat[256], last_id[64];
};

static void save_creds(struct h *h, const struct wa_creds *w)
{
    assert_int_equal(wa_creds_store(h->db, w), 0);
    h->creds = *w;
}

static void on_qr(void *ud, const char *qr, unsigned valid_ms)
{
    struct h *h = ud;
    snprintf(h->qr, sizeof(h->qr), "%s", qr);
    h->nqr++;
}

static int on_paired(void *ud, const struct wa_creds *c)
{
    save_creds(ud, c);
    return 0;
}

static int on_creds(void *ud, const struct wa_creds *c)
{
    save_creds(ud, c);
    return 0;
}

static void on_connected(void *ud, const char *lid, unsigned offline)
{
    struct h *h = ud;
    h->connected++;
}

static void on_node(void *ud, const struct wa_node *n)
{
    struct h *h = ud;
    if (wa_recv_handle(h->rcv, n) < 0) h->local_errors++;
}

static void on_close(void *ud, const struct wa_outcome *o)
{
    struct h *h = ud;
    h->out = *o;
    h->closes++;
}

static const struct wa_client_cbs CBS = {.on_qr = on_qr,
                                         .on_paired = on_paired,
                                         .on_creds = on_creds,
                                         .on_connected = on_connected,
                                         .on_node = on_node,
                                         .on_close = on_close};

static void on_message(void *ud, const struct wa_inmsg *m)
{
    struct h *h = ud;
    h->delivered++;
    snprintf(h->last_text, sizeof(h->last_text), "%.*s", (int)m->text_len, m->text ? m->text : "");
    snprintf(h->last_chat, sizeof(h->last_chat), "%s", m->chat);
    snprintf(h->last_id, sizeof(h->last_id), "%s", m->id);
}

static int send_hook(void *ud, const struct wa_node *n)
{
    struct h *h = ud;
    const char *id = wa_node_attr(n, "id");
    if (*h->drop_receipt_for && id && !strcmp(id, h->drop_receipt_for)) return 0; /* "crash" */
    return wa_client_send_node(h->c, n);
}

static void h_open(struct h *h, const struct wa_creds *creds)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    char err[256] = "";
    int rc = st_db_open(g_dbpath, &h->db, err, sizeof(err));
    if (rc) fail_msg("open: %s", err);
    h->st = st_sgstore(h->db, SG_TRUST_ANY);
    assert_int_equal(sg_context_create(&h->sig), 0);
    assert_int_equal(sg_ctx_new(&h->sg, h->sig, &h->st), 0);
    if (creds) {
        h->creds = *creds;
    } else {
        struct st_creds c;
        if (st_creds_load(h->db, &c) == -ENOENT) {
            assert_int_equal(wa_creds_generate(&h->creds), 0);
            save_creds(h, &h->creds);
        } else {
            fail_msg("creds must be passed after the first open");
        }
    }
    struct wa_client_opts o = {.url = g_url, .noise_root_pub = g_root};
    assert_int_equal(wa_client_new(&h->loop, &o, &CBS, h, &h->c), 0);
    h->env = (struct wa_recv_env){.client = h->c,
                                  .db = h->db,
                                  .sg = h->sg,
                                  .creds = &h->creds,
                                  .on_message = on_message,
                                  .ud = h,
                                  .send_node = send_hook};
    wa_receiver_free(h->rcv);
    assert_int_equal(wa_receiver_new(&h->env, &h->rcv), 0);
}

static void h_close(struct h *h)
{
    wa_receiver_free(h->rcv);
    h->rcv = NULL;
    wa_client_close(h->c);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    sg_ctx_free(h->sg);
    signal_context_destroy(h->sig);
    assert_int_equal(st_db_close(h->db), 0);
}

static bool run_until(struct h *h, const int *counter, int want, int ms)
{
    return loop_run_until(&h->loop, counter, want, ms);
}

static void settle(struct h *h, int ms)
{
    int z = 0;
    run_until(h, &z, 1, ms);
}

static void login(struct h *h)
{
    int want = h->connected + 1;
    assert_int_equal(wa_client_start(h->c, &h->creds, &h->st), 0);
    if (!run_until(h, &h->connected, want, WAIT_MS))
        fail_msg("not connected (%s)", h->closes ? h->out.text : "");
}

/* Wait (running the loop) until alice's phone has a receipt for id. */
static bool wait_receipt(struct h *h, const char *id, char *type, size_t tlen)
{
    for (int i = 0; i < 100; i++) {
        if (alice_receipts(id, type, tlen) > 0) return true;
        settle(h, 50);
    }
    return false;
}

static size_t inbox_rows(struct st_db *db, const char *id, char *text, size_t tlen)
{
    struct st_inbox_msg *v = NULL;
    size_t n = 0, hits = 0;
    assert_int_equal(st_inbox_list(db, 0, 1000, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].msg_id, id)) {
            hits++;
            if (text)
                snprintf(text, tlen, "%.*s", (int)v[i].payload_len, (const char *)v[i].payload);
        }
    st_inbox_list_free(v, n);
    return hits;
}

/* ---- setup ---- */

static int setup(void **state)
{
    wlog_set_stderr(getenv("ITEST_VERBOSE") != NULL);
    if (getenv("ITEST_VERBOSE")) wlog_set_level(WLOG_DEBUG);
    snprintf(g_dir, sizeof(g_dir), "/tmp/itest-recv-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    snprintf(g_dbpath, sizeof(g_dbpath), "%s/wa.db", g_dir);
    char fwdir[128];
    snprintf(fwdir, sizeof(fwdir), "%s/fakewa", g_dir);
    char bin[4096];
    snprintf(bin, sizeof(bin), "%s", child_build_path("wagate-fakewa"));
    char *argv[] = {bin,       "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                    "--state", fwdir,      "--log-level", "warn",    NULL};
    char out[1024];
    g_pid = child_start(argv, 4, out, sizeof(out), 10000);
    if (g_pid < 0) return -1;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char k[32], v[160];
        if (sscanf(line, "%31s %159s", k, v) != 2) continue;
        if (!strcmp(k, "listen")) snprintf(g_listen, sizeof(g_listen), "%s", v);
        if (!strcmp(k, "admin")) snprintf(g_admin, sizeof(g_admin), "%s", v);
        if (!strcmp(k, "root"))
            for (int i = 0; i < 32; i++)
                sscanf(v + 2 * i, "%2hhx", &g_root[i]);
    }
    snprintf(g_url, sizeof(g_url), "ws://%s/ws/chat", g_listen);
    char *body = NULL;
    if (http("POST", "/admin/accounts", "{\"phone\":\"" PHONE "\"}", &body) != 201) return -1;
    free(body);
    if (http("POST", "/admin/contacts", "{\"name\":\"alice\",\"phone\":\"+15550002\"}", &body) /
            100 !=
        2)
        return -1;
    free(body);
    return 0;
}

static int teardown(void **state)
{
    child_stop(g_pid);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the scenario ---- */

static void pair(struct h *h)
{
    assert_int_equal(wa_client_start(h->c, &h->creds, &h->st), 0);
    assert_true(run_until(h, &h->nqr, 1, WAIT_MS));
    char req[1024], *body = NULL;
    snprintf(req, sizeof(req), "{\"qr\":\"%s\",\"phone\":\"" PHONE "\"}", h->qr);
    int st = http("POST", "/admin/scan", req, &body);
    if (st != 200) fail_msg("scan: %d %s", st, body);
    free(body);
    assert_true(run_until(h, &h->closes, 1, WAIT_MS));
    assert_int_equal(h->out.code, 515);
    assert_true(wa_creds_is_paired(&h->creds));
    login(h);
    settle(h, 300); /* pre-key upload answered */
    const char *at = strchr(h->creds.me_pn, ':');
    snprintf(g_mydev, sizeof(g_mydev), ":%d@", at ? atoi(at + 1) : 0);
}

/* We answer alice once (a hand-built 1:1 message on the session her pkmsg created) so that
 * her next messages are `msg`: a corrupted `msg` fails its MAC, while a corrupted pkmsg on an
 * established session only hits unauthenticated trailing fields and still decrypts. */
static void reply_to_alice(struct h *h)
{
    char lid[128] = "";
    assert_int_equal(st_lid_get_lid(h->db, "15550002", lid, sizeof(lid)), 1);
    struct sg_address al;
    assert_int_equal(sg_address_make(&al, lid, 1, 0), 0);
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = "ok";
    struct buf pt, ct;
    buf_init(&pt, 4096);
    buf_init(&ct, 1 << 20);
    size_t n = wa__message__get_packed_size(&m);
    assert_int_equal(buf_reserve(&pt, n), 0);
    wa__message__pack(&m, pt.data);
    pt.len = n;
    assert_int_equal(sg_pad(&pt), 0);
    enum sg_msg_type t;
    assert_int_equal(st_db_begin(h->db), 0);
    assert_int_equal(sg_encrypt(h->sg, &al, pt.data, pt.len, &t, &ct), 0);
    assert_int_equal(st_db_commit(h->db), 0);
    assert_int_equal(t, SG_MSG);
    struct wa_node *msg = wa_node_new("message"), *ps = wa_node_new("participants");
    struct wa_node *to = wa_node_new("to"), *enc = wa_node_new("enc");
    struct wa_jid j;
    char id[32];
    wa_client_new_id(h->c, id, sizeof(id));
    assert_int_equal(wa_node_set_attr(msg, "id", id), 0);
    assert_int_equal(wa_jid_parse(&j, "15550002@s.whatsapp.net", 23), 0);
    assert_int_equal(wa_node_set_attr_jid(msg, "to", &j), 0);
    assert_int_equal(wa_node_set_attr(msg, "type", "text"), 0);
    assert_int_equal(wa_jid_parse(&j, "15550002:0@s.whatsapp.net", 25), 0);
    assert_int_equal(wa_node_set_attr_jid(to, "jid", &j), 0);
    assert_int_equal(wa_node_set_attr(enc, "v", "2"), 0);
    assert_int_equal(wa_node_set_attr(enc, "type", "msg"), 0);
    assert_int_equal(wa_node_set_bytes(enc, ct.data, ct.len), 0);
    assert_int_equal(wa_node_add_child(to, enc), 0);
    assert_int_equal(wa_node_add_child(ps, to), 0);
    assert_int_equal(wa_node_add_child(msg, ps), 0);
    assert_int_equal(wa_client_send_node(h->c, msg), 0);
    wa_node_free(msg);
    buf_free(&pt);
    buf_free(&ct);
    /* alice's phone decrypted it */
    for (int i = 0; i < 100; i++) {
        cJSON *o = http_json("GET", "/admin/contacts/alice/inbox", NULL);
        cJSON *x;
        bool ok = false;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(o, "messages"))
        {
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(x, "id")->valuestring, id))
                ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "ok"));
        }
        cJSON_Delete(o);
        if (ok) return;
        settle(h, 50);
    }
    fail_msg("alice did not decrypt our reply");
}

/* fakewa's stats counter `name`. */
static long fw_stat(const char *name)
{
    cJSON *o = http_json("GET", "/admin/stats", NULL);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
    cJSON_Delete(o);
    return n;
}

/* Row 28 at the receiver: alice's session rolled back to a copy from a few messages ago.
 * Our retry receipt count 1 (no keys) is answered on alice's current session and fails
 * again; count 2 carries our keys, and alice (like a real phone) builds a new session from
 * them and re-sends a pkmsg, which decrypts. */
static void rollback_scenario(struct h *h)
{
    char lid[128] = "", id[64];
    assert_int_equal(st_lid_get_lid(h->db, "15550002", lid, sizeof(lid)), 1);
    const struct sg_store *st = sg_ctx_store(h->sg);
    signal_protocol_address a = {lid, strlen(lid), 0};
    char name[160];
    snprintf(name, sizeof(name), "%s_1", lid);
    a.name = name;
    a.name_len = strlen(name);
    signal_buffer *old = NULL;
    assert_int_equal(st->ops->load_session(st->ud, &a, &old), 1);
    for (int i = 0; i < 3; i++) { /* the ratchets turn: alice writes, we answer */
        int d = h->delivered;
        alice_send(PHONE, "before the rollback", id, sizeof(id));
        if (!run_until(h, &h->delivered, d + 1, WAIT_MS)) fail_msg("not delivered");
        reply_to_alice(h);
    }
    assert_int_equal(
        st->ops->store_session(st->ud, &a, signal_buffer_data(old), signal_buffer_len(old)), 0);
    signal_buffer_bzero_free(old);
    struct wa_recv_stats before, after;
    wa_recv_get_stats(h->rcv, &before);
    long rebuilt = fw_stat("sim_sessions_rebuilt");
    int d = h->delivered;
    alice_send(PHONE, "after the rollback", id, sizeof(id));
    if (!run_until(h, &h->delivered, d + 1, WAIT_MS)) fail_msg("rolled-back chat did not recover");
    assert_string_equal(h->last_text, "after the rollback");
    assert_string_equal(h->last_id, id);
    wa_recv_get_stats(h->rcv, &after);
    assert_int_equal(after.retries_sent, before.retries_sent + 2); /* count 1, count 2 + keys */
    assert_int_equal(fw_stat("sim_sessions_rebuilt"), rebuilt + 1);
    assert_int_equal(inbox_rows(h->db, id, NULL, 0), 1);
}

static void test_receive(void **state)
{
    struct h *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    h_open(h, NULL);
    pair(h);
    char id[64], type[32], text[256];

    /* 1:1 */
    alice_send(PHONE, "hello gateway", id, sizeof(id));
    if (!run_until(h, &h->delivered, 1, WAIT_MS)) fail_msg("1:1 not delivered");
    assert_string_equal(h->last_text, "hello gateway");
    assert_string_equal(h->last_chat, "15550002@s.whatsapp.net");
    assert_int_equal(inbox_rows(h->db, id, text, sizeof(text)), 1);
    assert_string_equal(text, "hello gateway");
    assert_true(wait_receipt(h, id, type, sizeof(type)));
    assert_string_equal(type, "inactive");

    /* group: SKDM in a pkmsg/msg + skmsg */
    cJSON *g = http_json("POST", "/admin/groups",
                         "{\"subject\":\"g\",\"members\":[\"" PHONE "\",\"alice\"]}");
    char gjid[128];
    snprintf(gjid, sizeof(gjid), "%s", cJSON_GetObjectItemCaseSensitive(g, "jid")->valuestring);
    cJSON_Delete(g);
    alice_send(gjid, "hello group", id, sizeof(id));
    if (!run_until(h, &h->delivered, 2, WAIT_MS)) fail_msg("group message not delivered");
    assert_string_equal(h->last_text, "hello group");
    assert_string_equal(h->last_chat, gjid);
    assert_true(wait_receipt(h, id, NULL, 0));

    /* corrupt: retry receipt, alice re-sends, it decrypts */
    reply_to_alice(h);
    struct wa_recv_stats before, after;
    wa_recv_get_stats(h->rcv, &before);
    const char *at = strchr(h->creds.me_pn, ':');
    char req[256];
    snprintf(req, sizeof(req), "{\"type\":\"corrupt\",\"phone\":\"" PHONE "\",\"device\":%d}",
             at ? atoi(at + 1) : 0);
    cJSON_Delete(http_json("POST", "/admin/fault", req));
    alice_send(PHONE, "after the fault", id, sizeof(id));
    if (!run_until(h, &h->delivered, 3, WAIT_MS)) fail_msg("re-sent message not delivered");
    assert_string_equal(h->last_text, "after the fault");
    assert_string_equal(h->last_id, id);
    wa_recv_get_stats(h->rcv, &after);
    assert_int_equal(after.retries_sent, before.retries_sent + 1);
    bool saw_retry = false;
    for (int i = 0; i < 50 && !saw_retry; i++) {
        cJSON *o = http_json("GET", "/admin/contacts/alice/inbox", NULL);
        cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "receipts"))
        {
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, id) &&
                !strcmp(cJSON_GetObjectItemCaseSensitive(r, "type")->valuestring, "retry") &&
                strstr(cJSON_GetObjectItemCaseSensitive(r, "from")->valuestring, g_mydev))
                saw_retry = true;
        }
        cJSON_Delete(o);
        if (!saw_retry) settle(h, 50);
    }
    assert_true(saw_retry);
    assert_int_equal(inbox_rows(h->db, id, NULL, 0), 1);

    /* committed, but the receipt never left ("crash" after COMMIT) */
    int delivered = h->delivered;
    alice_send(PHONE, "exactly once", id, sizeof(id));
    snprintf(h->drop_receipt_for, sizeof(h->drop_receipt_for), "%s", id);
    if (!run_until(h, &h->delivered, delivered + 1, WAIT_MS)) fail_msg("not delivered");
    assert_string_equal(h->last_text, "exactly once");
    settle(h, 200);
    assert_int_equal(alice_receipts(id, NULL, 0), 0);
    assert_int_equal(h->local_errors, 0);

    /* restart: close the client and the database, reopen both, log in again */
    struct wa_creds creds = h->creds;
    h_close(h);
    h_open(h, &creds);
    wa_recv_get_stats(h->rcv, &before);
    login(h);
    assert_true(wait_receipt(h, id, NULL, 0)); /* the redelivery was re-acked */
    wa_recv_get_stats(h->rcv, &after);
    assert_true(after.redelivered > before.redelivered);
    assert_int_equal(h->delivered, 0); /* ... and not delivered again */
    assert_int_equal(inbox_rows(h->db, id, NULL, 0), 1);
    assert_int_equal(h->local_errors, 0);

    rollback_scenario(h);
    assert_int_equal(h->local_errors, 0);
    h_close(h);
    wa_creds_wipe(&creds);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_receive)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
