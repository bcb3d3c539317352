/* SPDX-License-Identifier: MIT */
/* itest_client.c -- the WhatsApp connection core (src/wa/client.c) against wagate-fakewa.
 *
 * fresh device -> on_qr -> the fake phone scans it (POST /admin/scan) -> on_paired -> 515 ->
 * login with the paired creds -> on_connected, pre-keys uploaded, keepalive answered; then the
 * session-ending faults: stream_error 503 (pending iqs fail first), conflict 440 (injected and
 * by a second login of the same creds), failure 401 / 402, stall -> keepalive timeout, QR refs
 * exhausted, an invalid (unregistered) login; pairing codes (expiry, a second request, a
 * refused hello, a wrong code, the right one -> 515); the messaging sink (wa_client_set_sink).
 * Every test runs its own loop and ends with uv_loop_close() == 0; every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http1.h"

#include "child.h"
#include "loop.h"

#include "core/log.h"
#include "signal/sg_memstore.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/node.h"

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

#define PHONE     "+15550001"
#define PHONE_URL "%2B15550001"
#define WAIT_MS   8000

static pid_t g_pid = -1;
static char g_listen[192], g_admin[192], g_url[256];
static uint8_t g_root[32];
static struct wa_creds g_creds; /* "durable" creds: what on_paired/on_creds persisted */
static struct sg_memstore *g_ms;
static struct sg_store g_store;

/* ---- blocking admin HTTP ---- */

static int http(const char *method, const char *path, const char *json, char **body)
{
    int status = http1_request(g_admin, method, path, json, WAIT_MS, body);
    assert_true(status > 0);
    return status;
}

static void fault(const char *json)
{
    char *body = NULL;
    int st = http("POST", "/admin/fault", json, &body);
    if (st != 200) fail_msg("fault %s: %d %s", json, st, body);
    free(body);
}

/* ---- harness ---- */

struct h {
    uv_loop_t own;
    uv_loop_t *loop; /* &own, or another harness' loop */
    struct wa_client *c;
    char qr[8][700];
    unsigned qr_valid[8];
    int nqr;
    int paired, creds_updates, connected, closes, nodes;
    char lid[128];
    unsigned offline;
    struct wa_outcome out;
    int iq_status;
    int iq_done;
    int iq_done_before_close;
    bool close_in_cb;
    int health_ok, health_bad;
    uint64_t bad_at[2]; /* uv_now of the first two unanswered pings */
    unsigned max_failing;
    int paired_rc;        /* what on_paired returns */
    struct wa_creds *dst; /* where creds are "persisted" (NULL: g_creds) */
    char ev[64];          /* c on_connected, n on_node, x on_close; sink: C N E */
    int sk_nodes, sk_connected, sk_ended, sk_restart_rc;
};

static void ev(struct h *h, char e)
{
    size_t l = strlen(h->ev);
    if (l + 1 < sizeof(h->ev)) h->ev[l] = e;
}

static void on_qr(void *ud, const char *qr, unsigned valid_ms)
{
    struct h *h = ud;
    if (h->nqr < 8) {
        snprintf(h->qr[h->nqr], sizeof(h->qr[0]), "%s", qr);
        h->qr_valid[h->nqr] = valid_ms;
    }
    h->nqr++;
}

static int on_paired(void *ud, const struct wa_creds *c)
{
    struct h *h = ud;
    h->paired++;
    if (h->paired_rc) return h->paired_rc;
    *(h->dst ? h->dst : &g_creds) = *c; /* "persist" */
    return 0;
}

static int on_creds(void *ud, const struct wa_creds *c)
{
    struct h *h = ud;
    *(h->dst ? h->dst : &g_creds) = *c;
    h->creds_updates++;
    return 0;
}

static void on_connected(void *ud, const char *lid, unsigned offline)
{
    struct h *h = ud;
    snprintf(h->lid, sizeof(h->lid), "%s", lid);
    h->offline = offline;
    h->connected++;
    ev(h, 'c');
}

static void on_node(void *ud, const struct wa_node *n)
{
    struct h *h = ud;
    (void)n;
    h->nodes++;
    ev(h, 'n');
}

static void on_close(void *ud, const struct wa_outcome *o)
{
    struct h *h = ud;
    h->out = *o;
    h->closes++;
    ev(h, 'x');
    h->iq_done_before_close = h->iq_done;
    if (h->close_in_cb) {
        wa_client_close(h->c); /* allowed inside a callback */
        h->c = NULL;
    }
}

static void on_health(void *ud, bool ok, unsigned rtt_ms, unsigned failing_ms)
{
    struct h *h = ud;
    (void)rtt_ms;
    if (ok) {
        h->health_ok++;
    } else {
        if (h->health_bad < 2) h->bad_at[h->health_bad] = uv_now(h->loop);
        h->health_bad++;
        if (failing_ms > h->max_failing) h->max_failing = failing_ms;
    }
}

static const struct wa_client_cbs CBS = {on_qr,   on_paired, on_creds,  on_connected,
                                         on_node, on_close,  on_health, NULL};

static void h_init_on(struct h *h, const struct wa_client_opts *extra, uv_loop_t *loop)
{
    memset(h, 0, sizeof(*h));
    h->loop = loop ? loop : &h->own;
    if (!loop) assert_int_equal(uv_loop_init(&h->own), 0);
    struct wa_client_opts o = extra ? *extra : (struct wa_client_opts){0};
    o.url = g_url;
    if (!o.noise_root_pub) o.noise_root_pub = g_root;
    assert_int_equal(wa_client_new(h->loop, &o, &CBS, h, &h->c), 0);
}

static void h_init(struct h *h, const struct wa_client_opts *extra)
{
    h_init_on(h, extra, NULL);
}

static void h_done(struct h *h)
{
    wa_client_close(h->c);
    h->c = NULL;
    if (h->loop != &h->own) return; /* the loop's owner finishes it */
    uv_run(h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(h->loop), 0);
}

static void expect_close(struct h *h, enum wa_outcome_kind k, enum wa_outcome_class cls, int code)
{
    if (!loop_run_until(h->loop, &h->closes, 1, WAIT_MS)) fail_msg("no on_close");
    if (h->out.kind != k || h->out.cls != cls || h->out.code != code)
        fail_msg("outcome %s/%s/%d (%s), want %s/%s/%d", wa_outcome_kind_name(h->out.kind),
                 wa_outcome_class_name(h->out.cls), h->out.code, h->out.text,
                 wa_outcome_kind_name(k), wa_outcome_class_name(cls), code);
    assert_int_equal(wa_client_state(h->c), WA_CS_CLOSED);
}

static void login(struct h *h)
{
    assert_int_equal(wa_client_start(h->c, &g_creds, &g_store), 0);
    if (!loop_run_until(h->loop, &h->connected, 1, WAIT_MS))
        fail_msg("not connected (state %s, %s)", wa_client_state_name(wa_client_state(h->c)),
                 h->closes ? h->out.text : "");
}

static cJSON *our_device(void)
{
    char *body = NULL;
    assert_int_equal(http("GET", "/admin/devices?phone=" PHONE_URL, NULL, &body), 200);
    cJSON *arr = cJSON_Parse(body);
    free(body);
    assert_non_null(arr);
    const char *at = strchr(g_creds.me_pn, ':');
    int dev = at ? atoi(at + 1) : 0;
    cJSON *d, *found = NULL;
    cJSON_ArrayForEach(d, arr)
    {
        if (cJSON_GetObjectItemCaseSensitive(d, "device")->valueint == dev)
            found = cJSON_Duplicate(d, 1);
    }
    cJSON_Delete(arr);
    assert_non_null(found);
    return found;
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    wlog_set_stderr(getenv("ITEST_VERBOSE") != NULL);
    if (getenv("ITEST_VERBOSE")) wlog_set_level(WLOG_DEBUG);
    char dir[] = "/tmp/itest-client-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char bin[4096];
    snprintf(bin, sizeof(bin), "%s", child_build_path("wagate-fakewa"));
    char *argv[] = {bin,       "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                    "--state", dir,        "--log-level", "warn",    NULL};
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
    if (sg_memstore_new(&g_ms, NULL) < 0) return -1;
    g_store = sg_memstore_store(g_ms, SG_TRUST_ANY);
    if (wa_creds_generate(&g_creds) < 0) return -1;
    struct sg_identity id;
    wa_creds_sg_identity(&g_creds, &id);
    sg_memstore_set_identity(g_ms, &id);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    child_stop(g_pid);
    sg_memstore_free(g_ms);
    wa_creds_wipe(&g_creds);
    return 0;
}

/* ---- tests ---- */

static void test_pair_then_login(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, NULL);
    assert_int_equal(wa_client_start(h.c, &g_creds, &g_store), 0);
    assert_int_equal(wa_client_start(h.c, &g_creds, &g_store), -EBUSY);
    assert_true(loop_run_until(h.loop, &h.nqr, 1, WAIT_MS));
    assert_int_equal(wa_client_state(h.c), WA_CS_PAIRING);
    assert_int_equal(h.qr_valid[0], 60000);
    assert_true(strncmp(h.qr[0], "https://wa.me/settings/linked_devices#", 38) == 0);
    assert_non_null(strstr(h.qr[0], ",1"));
    char req[1024], *body = NULL;
    snprintf(req, sizeof(req), "{\"qr\":\"%s\",\"phone\":\"" PHONE "\"}", h.qr[0]);
    int st = http("POST", "/admin/scan", req, &body);
    if (st != 200) fail_msg("scan: %d %s", st, body);
    free(body);
    expect_close(&h, WA_OUT_STREAM_ERROR, WA_OC_RESTART, 515);
    assert_int_equal(h.paired, 1);
    assert_true(wa_creds_is_paired(&g_creds));
    assert_non_null(strstr(g_creds.me_pn, "15550001:"));
    assert_non_null(strstr(g_creds.me_lid, "@lid"));
    assert_true(g_creds.account_len > 100);
    assert_string_equal(g_creds.platform, "android");
    assert_string_equal(wa_client_creds(h.c)->me_pn, g_creds.me_pn);
    /* the primary's identity went to the store */
    assert_int_equal(sg_memstore_count(g_ms, SG_MEM_IDENTITY), 1);

    /* 515: reconnect at once with the persisted creds */
    login(&h);
    assert_int_equal(wa_client_state(h.c), WA_CS_CONNECTED);
    assert_string_equal(h.lid, g_creds.me_lid);
    assert_int_equal(h.offline, 0);
    assert_int_equal(wa_client_generation(h.c), 2);
    /* pre-keys: generated, persisted (store + next id), uploaded */
    assert_int_equal(sg_memstore_count(g_ms, SG_MEM_PREKEY), 812);
    assert_int_equal(sg_memstore_count(g_ms, SG_MEM_SIGNED_PREKEY), 1);
    assert_int_equal(g_creds.next_prekey_id, 813);
    loop_run_for(h.loop, 300); /* let the upload iq be answered */
    cJSON *d = our_device();
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "registered")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "online")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "prekeys")->valueint, 812);
    cJSON_Delete(d);
    assert_int_equal(h.closes, 1);
    h_done(&h);
}

static void test_keepalive_and_relogin(void **state)
{
    (void)state;
    struct h h;
    struct wa_client_opts o = {.keepalive_min_ms = 100,
                               .keepalive_max_ms = 150,
                               .keepalive_deadline_ms = 1000,
                               .keepalive_fail_ms = 3000};
    h_init(&h, &o);
    login(&h);
    /* no second upload: the server already holds 812 */
    assert_int_equal(sg_memstore_count(g_ms, SG_MEM_PREKEY), 812);
    loop_run_for(h.loop, 800);
    unsigned sent = 0, ok = 0;
    wa_client_keepalive_stats(h.c, &sent, &ok);
    if (ok < 3) fail_msg("pings sent %u answered %u", sent, ok);
    assert_int_equal(h.health_ok, (int)ok);
    assert_int_equal(h.health_bad, 0);
    assert_int_equal(h.closes, 0);
    h_done(&h);
}

static void iq_cb(void *ud, int status, const struct wa_node *resp)
{
    struct h *h = ud;
    h->iq_status = status;
    if (status == -EREMOTEIO) {
        const struct wa_node *e = wa_node_child(resp, "error");
        h->iq_status = e && wa_node_attr(e, "code") ? -atoi(wa_node_attr(e, "code")) : -1;
    }
    h->iq_done++;
}

static struct wa_node *iq(struct h *h, const char *xmlns)
{
    struct wa_node *n = wa_node_new("iq");
    char id[40];
    struct wa_jid s;
    wa_client_new_id(h->c, id, sizeof(id));
    assert_int_equal(wa_jid_set(&s, "", "s.whatsapp.net"), 0);
    assert_int_equal(wa_node_set_attr(n, "id", id), 0);
    assert_int_equal(wa_node_set_attr_jid(n, "to", &s), 0);
    assert_int_equal(wa_node_set_attr(n, "type", "get"), 0);
    assert_int_equal(wa_node_set_attr(n, "xmlns", xmlns), 0);
    return n;
}

static void test_iq_and_stream_error_503(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, NULL);
    login(&h);
    /* correlation: an unknown namespace gets <error code=501> */
    struct wa_node *n = iq(&h, "nope");
    assert_int_equal(wa_client_send_iq(h.c, n, 2000, iq_cb, &h), 0);
    assert_int_equal(wa_client_send_iq(h.c, n, 2000, iq_cb, &h), -EEXIST);
    wa_node_free(n);
    assert_true(loop_run_until(h.loop, &h.iq_done, 1, WAIT_MS));
    assert_int_equal(h.iq_status, -501);
    /* an unanswered iq (pings stalled) fails with -ENOTCONN when the session ends */
    fault("{\"type\":\"stall\",\"duration_ms\":5000,\"phone\":\"" PHONE "\"}");
    n = iq(&h, "w:p");
    assert_int_equal(wa_client_send_iq(h.c, n, 5000, iq_cb, &h), 0);
    wa_node_free(n);
    fault("{\"type\":\"stream_error\",\"code\":503,\"phone\":\"" PHONE "\"}");
    expect_close(&h, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 503);
    assert_int_equal(h.iq_done_before_close, 2);
    assert_int_equal(h.iq_status, -ENOTCONN);
    n = iq(&h, "w:p");
    assert_int_equal(wa_client_send_iq(h.c, n, 0, iq_cb, &h), -ENOTCONN);
    wa_node_free(n);
    h_done(&h);
}

static void test_conflict(void **state)
{
    (void)state;
    struct h a, b;
    h_init(&a, NULL);
    login(&a);
    fault("{\"type\":\"stream_error\",\"code\":440,\"phone\":\"" PHONE "\"}");
    expect_close(&a, WA_OUT_STREAM_ERROR, WA_OC_REPLACED, 440);
    assert_non_null(strstr(a.out.text, "replaced"));
    /* a second login of the same creds replaces the first */
    a.closes = a.connected = 0;
    login(&a);
    h_init(&b, NULL);
    login(&b);
    expect_close(&a, WA_OUT_STREAM_ERROR, WA_OC_REPLACED, 440);
    assert_int_equal(wa_client_state(b.c), WA_CS_CONNECTED);
    h_done(&a);
    h_done(&b);
}

static void test_failures(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, NULL);
    login(&h);
    fault("{\"type\":\"failure\",\"reason\":402,\"code\":101,\"expire\":3600,\"phone\":\"" PHONE
          "\"}");
    assert_true(loop_run_until(h.loop, &h.closes, 1, WAIT_MS)); /* the live connection is closed */
    h.closes = 0;
    assert_int_equal(wa_client_start(h.c, &g_creds, &g_store), 0);
    expect_close(&h, WA_OUT_FAILURE, WA_OC_TEMP_BAN, 402);
    assert_int_equal(h.out.ban_code, 101);
    assert_int_equal(h.out.expire, 3600);
    fault("{\"type\":\"failure\",\"reason\":401,\"phone\":\"" PHONE "\"}");
    h.closes = 0;
    assert_int_equal(wa_client_start(h.c, &g_creds, &g_store), 0);
    expect_close(&h, WA_OUT_FAILURE, WA_OC_LOGGED_OUT, 401);
    h_done(&h);
}

static void test_keepalive_timeout(void **state)
{
    (void)state;
    struct h h;
    struct wa_client_opts o = {.keepalive_min_ms = 100,
                               .keepalive_max_ms = 150,
                               .keepalive_deadline_ms = 200,
                               .keepalive_fail_ms = 600};
    h_init(&h, &o);
    login(&h);
    fault("{\"type\":\"stall\",\"duration_ms\":10000,\"phone\":\"" PHONE "\"}");
    h.close_in_cb = true; /* close from inside on_close */
    struct wa_client *c = h.c;
    if (!loop_run_until(h.loop, &h.closes, 1, WAIT_MS)) fail_msg("no keepalive timeout");
    assert_int_equal(h.out.kind, WA_OUT_KEEPALIVE);
    assert_int_equal(h.out.cls, WA_OC_TRANSIENT);
    assert_int_equal(h.out.code, 408);
    assert_non_null(strstr(h.out.text, "keepalive timeout"));
    assert_null(h.c);
    assert_true(h.health_bad >= 2); /* deadline 200 ms, window 600 ms */
    assert_true(h.max_failing >= 600);
    (void)c;
    fault("{\"type\":\"stall\",\"duration_ms\":1,\"phone\":\"" PHONE "\"}");
    h_done(&h);
}

/* After an unanswered ping the next one goes out at once, not a whole interval later: two
 * missed pings take interval + 2 x deadline, not 2 x (interval + deadline) (fault-matrix
 * #21: 2 missed pings within 50 s with the default 20-30 s interval and 10 s deadline). */
static void test_keepalive_retry_after_miss(void **state)
{
    (void)state;
    struct h h;
    struct wa_client_opts o = {.keepalive_min_ms = 1500,
                               .keepalive_max_ms = 1600,
                               .keepalive_deadline_ms = 300,
                               .keepalive_fail_ms = 100000};
    h_init(&h, &o);
    login(&h);
    fault("{\"type\":\"stall\",\"duration_ms\":10000,\"phone\":\"" PHONE "\"}");
    if (!loop_run_until(h.loop, &h.health_bad, 2, WAIT_MS)) fail_msg("not two missed pings");
    uint64_t gap = h.bad_at[1] - h.bad_at[0];
    printf("# second missed ping %llu ms after the first (deadline 300, interval 1500)\n",
           (unsigned long long)gap);
    assert_true(gap >= 250 && gap < 1200);
    fault("{\"type\":\"stall\",\"duration_ms\":1,\"phone\":\"" PHONE "\"}");
    h_done(&h);
}

static void test_qr_timeout(void **state)
{
    (void)state;
    struct h h;
    struct wa_client_opts o = {.qr_first_ms = 200, .qr_next_ms = 100};
    h_init(&h, &o);
    struct wa_creds fresh;
    struct sg_memstore *ms = NULL;
    assert_int_equal(sg_memstore_new(&ms, NULL), 0);
    struct sg_store st = sg_memstore_store(ms, SG_TRUST_ANY);
    assert_int_equal(wa_creds_generate(&fresh), 0);
    assert_int_equal(wa_client_start(h.c, &fresh, &st), 0);
    expect_close(&h, WA_OUT_QR_TIMEOUT, WA_OC_NEEDS_USER, 408);
    assert_int_equal(h.nqr, 6);
    assert_int_equal(h.qr_valid[0], 200);
    for (int i = 1; i < 6; i++) {
        assert_int_equal(h.qr_valid[i], 100);
        assert_string_not_equal(h.qr[i], h.qr[i - 1]);
    }
    assert_int_equal(h.paired, 0);
    h_done(&h);
    sg_memstore_free(ms);
    wa_creds_wipe(&fresh);
}

/* A fresh session asking for a pairing code (wa_client_pair_phone). */
static void code_session(struct h *h, const struct wa_client_opts *o, struct sg_memstore **ms,
                         struct wa_creds *fresh)
{
    static struct wa_creds kept; /* what on_paired "persists" (g_creds stays the QR device's) */
    h_init(h, o);
    h->dst = &kept;
    assert_int_equal(sg_memstore_new(ms, NULL), 0);
    static struct sg_store st;
    st = sg_memstore_store(*ms, SG_TRUST_ANY);
    assert_int_equal(wa_creds_generate(fresh), 0);
    assert_int_equal(wa_client_start(h->c, fresh, &st), 0);
}

static void code_done(struct h *h, struct sg_memstore *ms, struct wa_creds *fresh)
{
    h_done(h);
    sg_memstore_free(ms);
    wa_creds_wipe(fresh);
}

static bool code_ok(const char *code)
{
    if (strlen(code) != 8) return false;
    for (int i = 0; i < 8; i++)
        if (!strchr("123456789ABCDEFGHJKLMNPQRSTVWXYZ", code[i])) return false;
    return true;
}

/* Requested before pair-device; a second request is -EBUSY with the same code; the window's
 * end says the code expired. */
static void test_paircode_expired(void **state)
{
    (void)state;
    struct h h;
    struct wa_client_opts o = {.qr_first_ms = 200, .qr_next_ms = 100};
    struct sg_memstore *ms = NULL;
    struct wa_creds fresh;
    code_session(&h, &o, &ms, &fresh);
    char code[9], again[9];
    unsigned valid = 0, valid2 = 0;
    assert_int_equal(wa_client_pair_phone(h.c, "12", code, &valid), -EINVAL);
    assert_int_equal(wa_client_pair_phone(h.c, "+1 555 0001", code, &valid), 0);
    assert_true(code_ok(code));
    assert_int_equal(valid, 200 + 5 * 100);
    assert_string_equal(wa_client_pair_phone_pending(h.c), "15550001");
    assert_int_equal(wa_client_pair_phone(h.c, "+15550001", again, &valid2), -EBUSY);
    assert_string_equal(again, code);
    assert_true(valid2 <= valid);
    expect_close(&h, WA_OUT_QR_TIMEOUT, WA_OC_NEEDS_USER, 408);
    if (!strstr(h.out.text, "pairing code expired")) fail_msg("outcome: %s", h.out.text);
    assert_int_equal(wa_client_pair_phone(h.c, "+15550001", code, &valid), -ENOTCONN);
    code_done(&h, ms, &fresh);
}

/* The server refuses the hello for a number without an account (fakewa: 404). */
static void test_paircode_unknown_number(void **state)
{
    (void)state;
    struct h h;
    struct sg_memstore *ms = NULL;
    struct wa_creds fresh;
    code_session(&h, NULL, &ms, &fresh);
    char code[9];
    unsigned valid = 0;
    assert_int_equal(wa_client_pair_phone(h.c, "+19998887777", code, &valid), 0);
    expect_close(&h, WA_OUT_PAIRING, WA_OC_NEEDS_USER, 404);
    if (!strstr(h.out.text, "refused the pairing-code request"))
        fail_msg("outcome: %s", h.out.text);
    assert_int_equal(h.paired, 0);
    code_done(&h, ms, &fresh);
}

/* Type the code on fakewa's phone once its hello arrived (retries while fakewa says 404). */
static int type_code(struct h *h, const char *code)
{
    char json[96];
    snprintf(json, sizeof json, "{\"phone\":\"" PHONE "\",\"code\":\"%s\"}", code);
    for (int i = 0; i < 100; i++) {
        char *body = NULL;
        int st = http("POST", "/admin/paircode", json, &body);
        free(body);
        if (st != 404) return st;
        loop_run_for(h->loop, 50);
    }
    return 404;
}

/* A wrong code typed on the phone ends the session clearly; the right one pairs (the same
 * pair-success path as QR, then the 515). */
static void test_paircode_wrong_then_right(void **state)
{
    (void)state;
    struct h h;
    struct sg_memstore *ms = NULL;
    struct wa_creds fresh;
    code_session(&h, NULL, &ms, &fresh);
    char code[9];
    unsigned valid = 0;
    assert_int_equal(wa_client_pair_phone(h.c, PHONE, code, &valid), 0);
    char wrong[9];
    memcpy(wrong, code, 9);
    wrong[0] = code[0] == 'A' ? 'B' : 'A';
    assert_int_equal(type_code(&h, wrong), 200);
    expect_close(&h, WA_OUT_PAIRING, WA_OC_NEEDS_USER, 401);
    if (!strstr(h.out.text, "pairing code rejected")) fail_msg("outcome: %s", h.out.text);
    assert_int_equal(h.paired, 0);
    code_done(&h, ms, &fresh);

    code_session(&h, NULL, &ms, &fresh);
    assert_int_equal(wa_client_pair_phone(h.c, PHONE, code, &valid), 0);
    assert_int_equal(type_code(&h, code), 200);
    expect_close(&h, WA_OUT_STREAM_ERROR, WA_OC_RESTART, 515);
    assert_int_equal(h.paired, 1);
    assert_true(wa_creds_is_paired(wa_client_creds(h.c)));
    if (memcmp(wa_client_creds(h.c)->adv_secret, fresh.adv_secret, 32) == 0)
        fail_msg("the ADV secret was not replaced by the derived one");
    code_done(&h, ms, &fresh);
}

static void test_unknown_device_logged_out(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, NULL);
    struct wa_creds other = g_creds;
    assert_int_equal(wa_keypair_generate(&other.noise), 0); /* Noise key differs */
    assert_int_equal(wa_client_start(h.c, &other, &g_store), 0);
    expect_close(&h, WA_OUT_FAILURE, WA_OC_LOGGED_OUT, 401);
    wa_creds_wipe(&other);
    h_done(&h);
}

static void test_transport_refused(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, NULL);
    fault("{\"type\":\"refuse\",\"duration_ms\":400}");
    assert_int_equal(wa_client_start(h.c, &g_creds, &g_store), 0);
    expect_close(&h, WA_OUT_TRANSPORT, WA_OC_TRANSIENT, 503);
    assert_string_equal(h.out.text, "ws: HTTP 503");
    assert_int_equal(h.out.net.stage, NOUT_WS);
    loop_run_for(h.loop, 500); /* let the refusal window pass */
    h_done(&h);
}

static void test_bad_root_key(void **state)
{
    (void)state;
    struct h h;
    uint8_t wrong[32];
    memcpy(wrong, g_root, 32);
    wrong[0] ^= 1;
    struct wa_client_opts o = {.noise_root_pub = wrong};
    h_init(&h, &o);
    assert_int_equal(wa_client_start(h.c, &g_creds, &g_store), 0);
    expect_close(&h, WA_OUT_HANDSHAKE, WA_OC_TRANSIENT, 500);
    assert_non_null(strstr(h.out.text, "cert"));
    h_done(&h);
}

/* on_paired refuses (the owner could not persist): no reply is sent, the session ends. */
static void test_pairing_not_persisted(void **state)
{
    (void)state;
    char *body = NULL;
    assert_int_equal(http("POST", "/admin/accounts", "{\"phone\":\"+15550009\"}", &body), 201);
    free(body);
    struct h h;
    h_init(&h, NULL);
    h.paired_rc = -EIO;
    struct wa_creds fresh, before = g_creds;
    struct sg_memstore *ms = NULL;
    assert_int_equal(sg_memstore_new(&ms, NULL), 0);
    struct sg_store st = sg_memstore_store(ms, SG_TRUST_ANY);
    assert_int_equal(wa_creds_generate(&fresh), 0);
    assert_int_equal(wa_client_start(h.c, &fresh, &st), 0);
    assert_true(loop_run_until(h.loop, &h.nqr, 1, WAIT_MS));
    char req[1024];
    snprintf(req, sizeof(req), "{\"qr\":\"%s\",\"phone\":\"+15550009\"}", h.qr[0]);
    assert_int_equal(http("POST", "/admin/scan", req, &body), 200);
    free(body);
    expect_close(&h, WA_OUT_PAIRING, WA_OC_TRANSIENT, 500);
    assert_non_null(strstr(h.out.text, "not be persisted"));
    assert_int_equal(h.paired, 1);
    assert_false(wa_creds_is_paired(wa_client_creds(h.c)));
    assert_memory_equal(&before, &g_creds, sizeof(before)); /* nothing "persisted" */
    h_done(&h);
    sg_memstore_free(ms);
    wa_creds_wipe(&fresh);
}

/* A second phone, pre-key batches of 5: a contact's first message consumes one of our
 * pre-keys, the server sends <notification type=encrypt><count value=4/>, the client acks it
 * and tops up (persisting keys and the next id before uploading). */
static void test_prekey_topup(void **state)
{
    (void)state;
    char *body = NULL;
    assert_int_equal(http("POST", "/admin/accounts", "{\"phone\":\"+15550010\"}", &body), 201);
    free(body);
    assert_int_equal(
        http("POST", "/admin/contacts", "{\"name\":\"alice\",\"phone\":\"+15550002\"}", &body),
        201);
    free(body);
    struct h h;
    struct wa_client_opts o = {.prekey_initial = 5, .prekey_batch = 10};
    h_init(&h, &o);
    struct wa_creds mine;
    h.dst = &mine;
    struct sg_memstore *ms = NULL;
    assert_int_equal(sg_memstore_new(&ms, NULL), 0);
    struct sg_store st = sg_memstore_store(ms, SG_TRUST_ANY);
    assert_int_equal(wa_creds_generate(&mine), 0);
    struct sg_identity id;
    wa_creds_sg_identity(&mine, &id);
    sg_memstore_set_identity(ms, &id);
    assert_int_equal(wa_client_start(h.c, &mine, &st), 0);
    assert_true(loop_run_until(h.loop, &h.nqr, 1, WAIT_MS));
    char req[1024];
    snprintf(req, sizeof(req), "{\"qr\":\"%s\",\"phone\":\"+15550010\"}", h.qr[0]);
    assert_int_equal(http("POST", "/admin/scan", req, &body), 200);
    free(body);
    expect_close(&h, WA_OUT_STREAM_ERROR, WA_OC_RESTART, 515);
    assert_int_equal(wa_client_start(h.c, &mine, &st), 0);
    assert_true(loop_run_until(h.loop, &h.connected, 1, WAIT_MS));
    assert_int_equal(sg_memstore_count(ms, SG_MEM_PREKEY), 5);
    assert_int_equal(mine.next_prekey_id, 6);
    int updates = h.creds_updates;
    assert_int_equal(
        http("POST", "/admin/contacts/alice/send", "{\"to\":\"+15550010\",\"text\":\"hi\"}", &body),
        200);
    free(body);
    assert_true(loop_run_until(h.loop, &h.nodes, 1, WAIT_MS)); /* the message went to on_node */
    assert_int_equal(h.creds_updates, updates);                /* simulated sends do not notify */
    /* another device (account 1, same loop) fetches our bundle: 3 left -> notification */
    struct h other;
    h_init_on(&other, NULL, &h.own);
    assert_int_equal(wa_client_start(other.c, &g_creds, &g_store), 0);
    assert_true(loop_run_until(other.loop, &other.connected, 1, WAIT_MS));
    struct wa_node *q = iq(&other, "encrypt"), *key = wa_node_new("key"),
                   *user = wa_node_new("user");
    struct wa_jid j;
    assert_int_equal(wa_jid_parse(&j, mine.me_pn, strlen(mine.me_pn)), 0);
    assert_int_equal(wa_node_set_attr_jid(user, "jid", &j), 0);
    assert_int_equal(wa_node_add_child(key, user), 0);
    assert_int_equal(wa_node_add_child(q, key), 0);
    assert_int_equal(wa_client_send_iq(other.c, q, 0, iq_cb, &other), 0);
    wa_node_free(q);
    assert_true(loop_run_until(other.loop, &other.iq_done, 1, WAIT_MS));
    assert_int_equal(other.iq_status, 0);
    assert_true(loop_run_until(h.loop, &h.creds_updates, updates + 1, WAIT_MS));
    assert_int_equal(mine.next_prekey_id, 16);
    assert_int_equal(sg_memstore_count(ms, SG_MEM_PREKEY), 15);
    loop_run_for(h.loop, 300);
    assert_int_equal(http("GET", "/admin/devices?phone=%2B15550010", NULL, &body), 200);
    /* 5 uploaded - 1 (alice) - 1 (the fetch) + 10 */
    if (!strstr(body, "\"prekeys\":13")) fail_msg("devices: %s", body);
    /* the notification was acked (dropped from the queue); alice's message is not (yet) */
    if (!strstr(body, "\"queued\":1")) fail_msg("devices: %s", body);
    free(body);
    h_done(&other);
    h_done(&h);
    sg_memstore_free(ms);
    wa_creds_wipe(&mine);
}

/* ---- the sink ---- */

static void sk_node(void *ud, const struct wa_node *n)
{
    struct h *h = ud;
    (void)n;
    h->sk_nodes++;
    ev(h, 'N');
}

static void sk_connected(void *ud)
{
    struct h *h = ud;
    h->sk_connected++;
    ev(h, 'C');
}

static void sk_ended(void *ud)
{
    struct h *h = ud;
    h->sk_ended++;
    ev(h, 'E');
    h->sk_restart_rc = wa_client_start(h->c, &g_creds, &g_store); /* not yet */
}

/* An iq the client does not wait for: its answer is a stanza the core does not handle. */
static void send_unawaited_iq(struct h *h)
{
    struct wa_node *n = iq(h, "nope");
    assert_int_equal(wa_client_send_node(h->c, n), 0);
    wa_node_free(n);
}

/* With a sink attached the stanzas the core does not handle go to sink.node (never to
 * on_node); sink.connected follows on_connected, sink.ended comes once, right before
 * on_close (a restart from it is still -EBUSY). Detached, on_node gets them again. */
static void test_sink(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, NULL);
    assert_ptr_equal(wa_client_loop(h.c), h.loop);
    struct wa_client_sink sk = {sk_node, sk_connected, sk_ended, &h};
    wa_client_set_sink(h.c, &sk);
    memset(&sk, 0, sizeof(sk)); /* copied */
    login(&h);
    assert_int_equal(h.sk_connected, 1);
    int before = h.sk_nodes; /* anything the server sent before the offline marker */
    send_unawaited_iq(&h);
    assert_true(loop_run_until(h.loop, &h.sk_nodes, before + 1, WAIT_MS));
    fault("{\"type\":\"stream_error\",\"code\":503,\"phone\":\"" PHONE "\"}");
    expect_close(&h, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 503);
    assert_int_equal(h.nodes, 0);
    assert_int_equal(h.sk_ended, 1);
    assert_int_equal(h.sk_restart_rc, -EBUSY);
    /* N* c C N+ E x */
    const char *p = h.ev + strspn(h.ev, "N");
    if (strncmp(p, "cC", 2) != 0) fail_msg("events %s", h.ev);
    p += 2;
    size_t nn = strspn(p, "N");
    if (nn < 1 || strcmp(p + nn, "Ex") != 0) fail_msg("events %s", h.ev);

    wa_client_set_sink(h.c, NULL); /* detached: on_node again, no sink calls */
    h.closes = h.connected = 0;
    h.ev[0] = 0;
    login(&h);
    send_unawaited_iq(&h);
    assert_true(loop_run_until(h.loop, &h.nodes, 1, WAIT_MS));
    assert_int_equal(h.sk_connected, 1);
    assert_int_equal(h.sk_ended, 1);
    h_done(&h);
    assert_int_equal(h.sk_ended, 1); /* wa_client_close does not report an end */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_then_login),
        cmocka_unit_test(test_keepalive_and_relogin),
        cmocka_unit_test(test_iq_and_stream_error_503),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_keepalive_timeout),
        cmocka_unit_test(test_keepalive_retry_after_miss),
        cmocka_unit_test(test_qr_timeout),
        cmocka_unit_test(test_paircode_expired),
        cmocka_unit_test(test_paircode_unknown_number),
        cmocka_unit_test(test_paircode_wrong_then_right),
        cmocka_unit_test(test_transport_refused),
        cmocka_unit_test(test_bad_root_key),
        cmocka_unit_test(test_pairing_not_persisted),
        cmocka_unit_test(test_prekey_topup),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_unknown_device_logged_out),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
