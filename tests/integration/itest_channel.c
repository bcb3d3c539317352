/* SPDX-License-Identifier: MIT */
/* itest_channel.c -- the channel supervisor (src/gw/channel.c) on its own loop against
 * wagate-fakewa, watching its channel.* events: QR pairing, 515 mid-session (reconnect at once,
 * no backoff), the health watchdog on a stalled server (2 unanswered pings -> restart), 440
 * conflict (escalating retry, restart clears it), 402 temporary ban (waits for the expiry,
 * notice), 405 outdated (stopped, no retry; login restarts it), and the two-step close leaving
 * a loop that closes cleanly. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http1.h"

#include "child.h"

#include "api/events.h"
#include "gw/config.h"
#include "core/log.h"
#include "gw/channel.h"
#include "gw/json.h"
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

/* The status entry of one channel as JSON (gw/json.h). */
static cJSON *status_json(const struct gw_channel *ch)
{
    struct gw_channel_status st;
    gw_channel_status(ch, &st);
    return gw_channel_status_json(&st);
}

static pid_t g_pid = -1;
static char g_admin[192], g_state[64];
static struct wg_config g_cfg;

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

/* ---- harness: one loop, one channel, its events ---- */

struct h {
    uv_loop_t loop;
    struct api_events *ev;
    struct api_events_sub *sub;
    struct gw_channel *ch;
    char states[256][16]; /* every "to" state in order */
    long long retry_ms[256];
    int nstates;
    char qr[1024];
    int nqr, notices;
    char notice[512];
    int closed;
};

static void sink(void *arg, long long seq, const char *json, size_t len)
{
    struct h *h = arg;
    cJSON *e = cJSON_ParseWithLength(json, len);
    const char *type = cJSON_GetObjectItem(e, "type")->valuestring;
    cJSON *d = cJSON_GetObjectItem(e, "data");
    if (!strcmp(type, "channel.state") && h->nstates < 256) {
        snprintf(h->states[h->nstates], sizeof h->states[0], "%s",
                 cJSON_GetObjectItem(d, "to")->valuestring);
        cJSON *r = cJSON_GetObjectItem(d, "next_retry_ms");
        h->retry_ms[h->nstates++] = r ? (long long)r->valuedouble : -1;
    } else if (!strcmp(type, "channel.qr")) {
        snprintf(h->qr, sizeof h->qr, "%s", cJSON_GetObjectItem(d, "qr")->valuestring);
        h->nqr++;
    } else if (!strcmp(type, "channel.notice")) {
        snprintf(h->notice, sizeof h->notice, "%s", cJSON_GetObjectItem(d, "text")->valuestring);
        h->notices++;
    }
    cJSON_Delete(e);
}

static void h_init(struct h *h)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    assert_int_equal(api_events_new(0, 0, &h->ev), 0);
    assert_int_equal(api_events_subscribe(h->ev, sink, h, &h->sub), 0);
    struct gw_channel_opts o = {
        .account = "default",
        .state_dir = g_state,
        .cfg = &g_cfg,
        .events = h->ev,
        .keepalive_min_ms = 200,
        .keepalive_max_ms = 300,
        .keepalive_deadline_ms = 300,
        .down_notice_ms = 700,
    };
    assert_int_equal(gw_channel_new(&h->loop, &o, &h->ch), 0);
}

static bool run_until(struct h *h, const int *counter, int want, int ms)
{
    return loop_run_until(&h->loop, counter, want, ms);
}

/* Run until the channel enters `state` (after event index `from`); returns its index. */
static int wait_state(struct h *h, const char *state, int from, int ms)
{
    for (int tries = 0; tries < ms / 50; tries++) {
        for (int i = from; i < h->nstates; i++)
            if (!strcmp(h->states[i], state)) return i;
        int want = h->nstates + 1;
        run_until(h, &h->nstates, want, 50);
    }
    for (int i = from; i < h->nstates; i++)
        if (!strcmp(h->states[i], state)) return i;
    fail_msg("state %s not reached; now %s", state, gw_ch_state_name(gw_channel_state(h->ch)));
    return -1;
}

static void on_closed(void *arg)
{
    ((struct h *)arg)->closed++;
}

static void h_done(struct h *h)
{
    gw_channel_close(h->ch, on_closed, h);
    assert_true(run_until(h, &h->closed, 1, WAIT_MS));
    uv_run(&h->loop, UV_RUN_DEFAULT); /* the client's handles */
    assert_int_equal(uv_loop_close(&h->loop), 0);
    api_events_free(h->ev);
}

static void idle(struct h *h, int ms)
{
    loop_run_for(&h->loop, ms);
}

/* ---- setup ---- */

static int setup(void **state)
{
    wlog_set_stderr(getenv("ITEST_VERBOSE") != NULL);
    char dir[] = "/tmp/itest-channel-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    snprintf(g_state, sizeof g_state, "%s/gw", dir);
    char fwstate[64];
    snprintf(fwstate, sizeof fwstate, "%s/fw", dir);
    char bin[4096];
    snprintf(bin, sizeof(bin), "%s", child_build_path("wagate-fakewa"));
    char *argv[] = {bin,       "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                    "--state", fwstate,    "--log-level", "warn",    NULL};
    char out[1024], listen[192] = "";
    g_pid = child_start(argv, 4, out, sizeof(out), 10000);
    if (g_pid < 0) return -1;
    cfg_defaults(&g_cfg);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char k[32], v[160];
        if (sscanf(line, "%31s %159s", k, v) != 2) continue;
        if (!strcmp(k, "listen")) snprintf(listen, sizeof(listen), "%s", v);
        if (!strcmp(k, "admin")) snprintf(g_admin, sizeof(g_admin), "%s", v);
        if (!strcmp(k, "root"))
            for (int i = 0; i < 32; i++)
                sscanf(v + 2 * i, "%2hhx", &g_cfg.wa_noise_root[i]);
    }
    snprintf(g_cfg.wa_endpoint, sizeof g_cfg.wa_endpoint, "ws://%s/ws/chat", listen);
    char *body = NULL;
    if (http("POST", "/admin/accounts", "{\"phone\":\"" PHONE "\"}", &body) != 201) return -1;
    free(body);
    return 0;
}

static int teardown(void **state)
{
    child_stop(g_pid);
    return 0;
}

/* ---- tests ---- */

static void test_pair_and_restart_515(void **state)
{
    struct h h;
    h_init(&h);
    gw_channel_start(h.ch);
    assert_true(run_until(&h, &h.nqr, 1, WAIT_MS));
    int i = wait_state(&h, "pairing", 0, WAIT_MS);
    assert_string_equal(gw_channel_qr(h.ch, NULL), h.qr);
    char req[1200], *body = NULL;
    snprintf(req, sizeof(req), "{\"qr\":\"%s\",\"phone\":\"" PHONE "\"}", h.qr);
    assert_int_equal(http("POST", "/admin/scan", req, &body), 200);
    free(body);
    i = wait_state(&h, "connected", i, WAIT_MS);
    assert_string_equal(h.states[i - 1], "connecting"); /* 515 after pairing: no backoff */
    assert_null(gw_channel_qr(h.ch, NULL));
    cJSON *st = status_json(h.ch);
    assert_non_null(strstr(cJSON_GetObjectItem(st, "jid")->valuestring, "15550001:"));
    cJSON_Delete(st);

    /* 515 mid-session: reconnect at once */
    fault("{\"type\":\"stream_error\",\"code\":515,\"phone\":\"" PHONE "\"}");
    int j = wait_state(&h, "connected", i + 1, WAIT_MS);
    for (int k = i + 1; k < j; k++)
        assert_string_equal(h.states[k], "connecting");
    h_done(&h);
}

static void test_health_watchdog(void **state)
{
    struct h h;
    h_init(&h);
    gw_channel_start(h.ch);
    int i = wait_state(&h, "connected", 0, WAIT_MS);
    idle(&h, 700); /* pings answered: nothing happens */
    assert_int_equal(gw_channel_state(h.ch), GW_CH_CONNECTED);
    fault("{\"type\":\"stall\",\"duration_ms\":1500,\"phone\":\"" PHONE "\"}");
    int b = wait_state(&h, "backoff", i + 1, WAIT_MS);
    cJSON *st = status_json(h.ch);
    assert_non_null(strstr(cJSON_GetObjectItem(st, "last_error")->valuestring, "keepalive"));
    cJSON_Delete(st);
    wait_state(&h, "connected", b + 1, WAIT_MS);
    h_done(&h);
}

static void test_conflict_then_operator_restart(void **state)
{
    struct h h;
    h_init(&h);
    gw_channel_start(h.ch);
    int i = wait_state(&h, "connected", 0, WAIT_MS);
    fault("{\"type\":\"stream_error\",\"code\":440,\"phone\":\"" PHONE "\"}");
    int c = wait_state(&h, "conflict", i + 1, WAIT_MS);
    assert_true(h.retry_ms[c] >= 22500 && h.retry_ms[c] <= 30000);
    idle(&h, 500);
    assert_int_equal(gw_channel_state(h.ch), GW_CH_CONFLICT); /* no tight loop */
    cJSON *st = status_json(h.ch);
    assert_non_null(cJSON_GetObjectItem(st, "next_retry"));
    cJSON_Delete(st);
    assert_int_equal(gw_channel_restart(h.ch, "test"), 0);
    wait_state(&h, "connected", c + 1, WAIT_MS);
    h_done(&h);
}

static void test_temp_ban_and_outdated(void **state)
{
    struct h h;
    h_init(&h);
    gw_channel_start(h.ch);
    int i = wait_state(&h, "connected", 0, WAIT_MS);
    fault("{\"type\":\"failure\",\"reason\":402,\"code\":101,\"expire\":3600,\"phone\":\"" PHONE
          "\"}");
    /* the live session is closed (transient backoff), the next login gets the 402 */
    int b = -1;
    for (int from = i + 1; b < 0;) {
        int k = wait_state(&h, "backoff", from, WAIT_MS);
        if (h.retry_ms[k] == 3600000) b = k;
        from = k + 1;
    }
    assert_true(h.notices >= 1);
    assert_non_null(strstr(h.notice, "temporarily banned"));
    idle(&h, 300);
    assert_int_equal(gw_channel_state(h.ch), GW_CH_BACKOFF); /* waits for the expiry */

    fault("{\"type\":\"failure\",\"reason\":405,\"phone\":\"" PHONE "\"}");
    assert_int_equal(gw_channel_restart(h.ch, "test"), 0);
    int s = wait_state(&h, "stopped", b + 1, WAIT_MS);
    assert_non_null(strstr(h.notice, "update required"));
    int n = h.nstates;
    idle(&h, 500);
    assert_int_equal(h.nstates, n); /* no retry */
    struct gw_login_result lr;
    gw_channel_login(h.ch, &lr);
    assert_true(lr.started); /* a linked account: no QR, restart */
    assert_null(gw_channel_qr(h.ch, NULL));
    wait_state(&h, "connected", s + 1, WAIT_MS);
    gw_channel_login(h.ch, &lr);
    assert_false(lr.started);
    assert_string_equal(lr.action, "already linked");
    assert_int_equal(gw_channel_state(h.ch), GW_CH_CONNECTED);
    h_done(&h);
}

/* Refused for a while: one "unreachable" notice, one "restored" notice. */
static void test_down_and_restored_notices(void **state)
{
    struct h h;
    h_init(&h);
    gw_channel_start(h.ch);
    int i = wait_state(&h, "connected", 0, WAIT_MS);
    fault("{\"type\":\"refuse\",\"duration_ms\":2000}");
    fault("{\"type\":\"close\",\"reset\":true,\"phone\":\"" PHONE "\"}");
    assert_true(run_until(&h, &h.notices, 1, WAIT_MS));
    assert_non_null(strstr(h.notice, "unreachable"));
    wait_state(&h, "connected", i + 1, WAIT_MS);
    assert_int_equal(h.notices, 2);
    assert_non_null(strstr(h.notice, "restored"));
    h_done(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_and_restart_515),
        cmocka_unit_test(test_health_watchdog),
        cmocka_unit_test(test_conflict_then_operator_restart),
        cmocka_unit_test(test_temp_ban_and_outdated),
        cmocka_unit_test(test_down_and_restored_notices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
