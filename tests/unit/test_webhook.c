/* SPDX-License-Identifier: MIT */
/* test_webhook.c -- webhook signature, delivery id, retry schedule, event match, the HTTP
 * status-line parser, the URL form, the delivery queue of the store (schema v7) and the
 * webhook's tap on the event stream (its own account's events only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "api/events.h"
#include "loop.h"
#include "gw/config.h"
#include "gw/webhook.h"
#include "gw/whsig.h"
#include "gw/whurl.h"
#include "net/httpc.h"
#include "net/url.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/msgstore.h"
#include "store/whstore.h"

static void hexs(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* The signature against a vector computed outside (python3: hmac.new(secret, ts + b"." + body,
 * hashlib.sha256).hexdigest()) and against OpenSSL's one-shot HMAC() of the joined buffer. */
static void test_sign(void **state)
{
    (void)state;
    const char *secret = "whsec-0123456789abcdef";
    const char *body = "{\"id\":\"wh_x\",\"type\":\"message.received\"}";
    char sig[WH_SIG_LEN + 1];
    assert_int_equal(wh_sign(secret, 1700000000, body, strlen(body), sig, sizeof sig), 0);
    assert_string_equal(sig,
                        "sha256=555525aebe8ddd7527371f6c106882bc680ce25b91cd128a3d45e25e4bf6ce55");

    char joined[128], want[80] = "sha256=";
    int n = snprintf(joined, sizeof joined, "1700000001.%s", body);
    unsigned char mac[32];
    unsigned ml = 0;
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)joined,
                         (size_t)n, mac, &ml));
    hexs(mac, 32, want + 7);
    assert_int_equal(wh_sign(secret, 1700000001, body, strlen(body), sig, sizeof sig), 0);
    assert_string_equal(sig, want);

    /* every input matters */
    char a[WH_SIG_LEN + 1], b[WH_SIG_LEN + 1];
    assert_int_equal(wh_sign(secret, 1700000000, body, strlen(body) - 1, a, sizeof a), 0);
    assert_int_equal(wh_sign("whsec-0123456789abcdeF", 1700000000, body, strlen(body), b, sizeof b),
                     0);
    assert_string_not_equal(a, b);
    assert_string_not_equal(
        a, "sha256=555525aebe8ddd7527371f6c106882bc680ce25b91cd128a3d45e25e4bf6ce55");
    /* empty body, bad arguments */
    assert_int_equal(wh_sign(secret, 1, NULL, 0, a, sizeof a), 0);
    assert_int_equal(strlen(a), WH_SIG_LEN);
    assert_int_equal(wh_sign(secret, 1, body, 3, a, WH_SIG_LEN), -EINVAL);
    assert_int_equal(wh_sign(NULL, 1, body, 3, a, sizeof a), -EINVAL);
}

static void test_delivery_id(void **state)
{
    (void)state;
    char a[WH_ID_LEN + 1], b[WH_ID_LEN + 1], c[WH_ID_LEN + 1];
    assert_int_equal(wh_delivery_id("default", "http://x/h", "inbox:1", a, sizeof a), 0);
    assert_int_equal(wh_delivery_id("default", "http://x/h", "inbox:1", b, sizeof b), 0);
    assert_string_equal(a, b); /* stable: retries and restarts send the same id */
    assert_int_equal(strlen(a), WH_ID_LEN);
    assert_memory_equal(a, "wh_", 3);
    for (size_t i = 3; i < WH_ID_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    assert_int_equal(wh_delivery_id("default", "http://x/h2", "inbox:1", c, sizeof c), 0);
    assert_string_not_equal(a, c); /* per endpoint */
    assert_int_equal(wh_delivery_id("default", "http://x/h", "inbox:2", c, sizeof c), 0);
    assert_string_not_equal(a, c); /* per event */
    assert_int_equal(wh_delivery_id("other", "http://x/h", "inbox:1", c, sizeof c), 0);
    assert_string_not_equal(a, c); /* per account */
    assert_int_equal(wh_delivery_id("default", "http://x/h", "inbox:1", c, WH_ID_LEN), -EINVAL);
}

/* min(cap, base * 2^(n-1)): the schedule of the defaults, and of a small cap. */
static void test_backoff(void **state)
{
    (void)state;
    uint64_t want = 1000;
    for (unsigned n = 1; n <= 10; n++, want *= 2)
        assert_int_equal(wh_backoff_ms(1000, 600000, n), want);
    assert_int_equal(wh_backoff_ms(1000, 600000, 10), 512000);
    assert_int_equal(wh_backoff_ms(1000, 600000, 11), 600000);
    assert_int_equal(wh_backoff_ms(1000, 600000, 1000), 600000); /* no overflow */
    assert_int_equal(wh_backoff_ms(1000, 600000, 0), 1000);
    assert_int_equal(wh_backoff_ms(50, 300, 1), 50);
    assert_int_equal(wh_backoff_ms(50, 300, 2), 100);
    assert_int_equal(wh_backoff_ms(50, 300, 3), 200);
    assert_int_equal(wh_backoff_ms(50, 300, 4), 300);
    assert_int_equal(wh_backoff_ms(500, 300, 1), 300); /* the cap wins over the base */
    uint64_t total = 0;
    for (unsigned n = 1; n < 15; n++)
        total += wh_backoff_ms(1000, 600000, n);
    /* the defaults (15 attempts) keep trying for 3423 s, ~57 minutes */
    assert_int_equal(total, 3423000);
}

static void test_event_match(void **state)
{
    (void)state;
    const char ev[][48] = {"message.received", "channel.*"};
    assert_true(wh_event_match(ev, 2, "message.received"));
    assert_true(wh_event_match(ev, 2, "channel.down"));
    assert_false(wh_event_match(ev, 2, "message.state"));
    assert_false(wh_event_match(ev, 2, "channelx"));
    assert_false(wh_event_match(ev, 1, "channel.down"));
    const char all[][48] = {"*"};
    assert_true(wh_event_match(all, 1, "hook.failed"));
}

static void test_status_line(void **state)
{
    (void)state;
    const char *ok = "HTTP/1.1 204 No Content\r\n";
    assert_int_equal(nhttp_parse_status(ok, strlen(ok)), 204);
    assert_int_equal(nhttp_parse_status("HTTP/1.0 500\r\n", 14), 500);
    assert_int_equal(nhttp_parse_status("HTTP/1.1 20", 11), 0); /* more needed */
    assert_int_equal(nhttp_parse_status("HTT", 3), 0);
    assert_int_equal(nhttp_parse_status("SSH-2.0-x\r\n", 11), -EPROTO);
    assert_int_equal(nhttp_parse_status("HTTP/1.1 2x0 OK\r\n", 17), -EPROTO);
    assert_int_equal(nhttp_parse_status("HTTP/1.1 099 x\r\n", 16), -EPROTO);
    assert_int_equal(nhttp_parse_status("HTTP/2 200\r\n", 12), -EPROTO);
}

static void test_http_url(void **state)
{
    (void)state;
    struct nurl u;
    char err[128];
    assert_int_equal(nurl_parse_http("https://hooks.example.com/in?x=1", &u, err, sizeof err), 0);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/in?x=1");
    assert_int_equal(nurl_parse_http("http://127.0.0.1:8080", &u, err, sizeof err), 0);
    assert_false(u.tls);
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_int_equal(nurl_parse_http("ws://x/", &u, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "http://"));
    assert_int_equal(nurl_parse_http("http://user@x/", &u, err, sizeof err), -EINVAL);
    assert_int_equal(nurl_parse("http://x/", &u, err, sizeof err), -EINVAL); /* ws only */
}

static void test_store_queue(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_webhook.XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wa.db", dir);
    struct st_db *db = NULL;
    assert_int_equal(st_db_open(path, &db, err, sizeof err), 0);
    assert_int_equal(st_db_version(db), ST_SCHEMA_VERSION);

    int64_t mark = -1, cur = 0;
    assert_int_equal(st_wh_mark_get(db, &mark), 0);
    assert_int_equal(mark, 0);
    const uint8_t p[] = {1, 2, 3};
    assert_int_equal(st_inbox_insert(db, "a@s.whatsapp.net", "", "M1", 1, "text", p, 3, &cur), 0);
    assert_int_equal(st_wh_mark_to_end(db), 0);
    assert_int_equal(st_wh_mark_get(db, &mark), 0);
    assert_int_equal(mark, cur);

    const char *body = "{\"x\":1}";
    assert_int_equal(st_wh_enqueue(db, "wh_1", "http://h/1", "message.received",
                                   (const uint8_t *)body, strlen(body), 1000),
                     0);
    assert_int_equal(st_wh_enqueue(db, "wh_1", "http://h/1", "message.received",
                                   (const uint8_t *)"other", 5, 1000),
                     ST_DUPLICATE);
    assert_int_equal(st_wh_enqueue(db, "wh_2", "http://h/2", "message.state", (const uint8_t *)body,
                                   strlen(body), 1000),
                     0);
    size_t pend = 0, dead = 0;
    assert_int_equal(st_wh_counts(db, &pend, &dead), 0);
    assert_int_equal(pend, 2);
    assert_int_equal(dead, 0);

    struct st_wh_row *v = NULL;
    size_t n = 0;
    assert_int_equal(st_wh_due(db, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].delivery_id, "wh_1");
    assert_int_equal(v[0].body_len, strlen(body)); /* the first body stays */
    assert_memory_equal(v[0].body, body, strlen(body));
    assert_int_equal(v[0].attempts, 0);
    int64_t id1 = v[0].id, id2 = v[1].id;
    st_wh_rows_free(v, n);

    /* an attempt counts before it runs; a retry later; done; dead */
    assert_int_equal(st_wh_start(db, id1, 1000, 1000), 0);
    assert_int_equal(st_wh_settle(db, id1, ST_WH_PENDING, 5000, "HTTP 500", 1100), 0);
    assert_int_equal(st_wh_due(db, 4999, 10, &v, &n), 0);
    assert_int_equal(n, 1); /* only wh_2 */
    st_wh_rows_free(v, n);
    int64_t at = 0;
    assert_int_equal(st_wh_next_due(db, 1100, &at), 1);
    assert_int_equal(at, 5000);
    assert_int_equal(st_wh_due(db, 5000, 10, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].attempts, 1);
    st_wh_rows_free(v, n);
    assert_int_equal(st_wh_settle(db, id1, ST_WH_DONE, 0, NULL, 6000), 0);
    assert_int_equal(st_wh_start(db, id1, 6000, 6000), -ENOENT); /* done is final */
    assert_int_equal(st_wh_settle(db, id2, ST_WH_DEAD, 0, "HTTP 404", 6000), 0);
    assert_int_equal(st_wh_counts(db, &pend, &dead), 0);
    assert_int_equal(pend, 0);
    assert_int_equal(dead, 1);
    assert_int_equal(st_wh_next_due(db, 0, &at), 0);
    assert_int_equal(st_wh_settle(db, id1, ST_WH_DONE, 0, NULL, 6000), -ENOENT); /* deleted */
    /* the operator's retry: the dead row pending again, attempts from 0, due now */
    assert_int_equal(st_wh_requeue_dead(db, 7000), 1);
    assert_int_equal(st_wh_counts(db, &pend, &dead), 0);
    assert_int_equal(pend, 1);
    assert_int_equal(dead, 0);
    assert_int_equal(st_wh_due(db, 7000, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, id2);
    assert_int_equal(v[0].attempts, 0);
    st_wh_rows_free(v, n);
    assert_int_equal(st_wh_requeue_dead(db, 7000), 0);
    assert_int_equal(st_wh_enqueue(db, "", "http://h/1", "t", (const uint8_t *)"x", 1, 1), -EINVAL);
    assert_int_equal(st_db_close(db), 0);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int parse(struct wg_config *c, const char *json, char *err, size_t errlen)
{
    cfg_defaults(c);
    return cfg_parse(c, json, strlen(json), err, errlen);
}

static void test_config(void **state)
{
    (void)state;
    static struct wg_config c;
    char err[512] = "";
    assert_int_equal(parse(&c, "{}", err, sizeof err), 0);
    assert_int_equal(c.webhook_count, 0);
    assert_int_equal(c.webhook_max_attempts, 15);
    assert_int_equal(c.webhook_retry_base_ms, 1000);
    assert_int_equal(c.webhook_retry_max_ms, 600000);
    assert_int_equal(c.webhook_max_concurrent, 4);
    assert_int_equal(c.webhook_max_body, 262144);
    assert_int_equal(parse(&c,
                           "{\"hooks\":{\"webhook\":{\"endpoints\":["
                           "{\"url\":\"https://h.example/a\",\"secret\":\"0123456789abcdef\"},"
                           "{\"url\":\"http://127.0.0.1:9/b\",\"secret\":\"0123456789abcdef\","
                           "\"events\":[\"channel.*\",\"message.state\"]}],\"max_attempts\":3}}}",
                           err, sizeof err),
                     0);
    assert_int_equal(c.webhook_count, 2);
    assert_int_equal(c.webhooks[0].n_events, 1);
    assert_string_equal(c.webhooks[0].events[0], "message.received"); /* the default */
    assert_int_equal(c.webhooks[1].n_events, 2);
    assert_string_equal(c.webhooks[1].events[0], "channel.*");
    assert_int_equal(c.webhook_max_attempts, 3);

    struct {
        const char *json, *key;
    } bad[] = {
        {"{\"hooks\":{\"webhook\":{\"endpoints\":[{\"url\":\"http://x/\"}]}}}",
         "hooks.webhook.endpoints[0]"},
        {"{\"hooks\":{\"webhook\":{\"endpoints\":[{\"url\":\"ftp://x/\",\"secret\":"
         "\"0123456789abcdef\"}]}}}",
         "hooks.webhook.endpoints[0].url"},
        {"{\"hooks\":{\"webhook\":{\"endpoints\":[{\"url\":\"http://x/\",\"secret\":\"short\"}]}}}",
         "hooks.webhook.endpoints[0].secret"},
        {"{\"hooks\":{\"webhook\":{\"endpoints\":[{\"url\":\"http://x/\",\"secret\":"
         "\"0123456789abcdef\",\"events\":[\"Bad Type\"]}]}}}",
         "hooks.webhook.endpoints[0].events"},
        {"{\"hooks\":{\"webhook\":{\"endpoints\":[{\"url\":\"http://x/\",\"secret\":"
         "\"0123456789abcdef\",\"colour\":1}]}}}",
         "hooks.webhook.endpoints[0].colour: unknown key"},
        {"{\"hooks\":{\"webhook\":{\"max_attempts\":0}}}", "hooks.webhook.max_attempts"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(parse(&c, bad[i].json, err, sizeof err), -EINVAL);
        if (!strstr(err, bad[i].key)) fail_msg("case %zu: %s", i, err);
    }
}

static void test_url_redact(void **state)
{
    static const char *const v[][2] = {
        {"http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"},
        {"https://user:pw@example.com/p?token=abc&x=1#frag", "https://example.com/p?token=*&x=*#*"},
        {"https://h/p?flag&k=v", "https://h/p?flag&k=*"},
        {"https://a@b/c@d", "https://b/c@d"}, /* an @ in the path is no userinfo */
        {"https://h?q=", "https://h?q=*"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        gw_webhook_url_redact(v[i][0], out, sizeof out);
        assert_string_equal(out, v[i][1]);
    }
    gw_webhook_url_redact("https://h/very/long/path?token=secret", out, 12);
    assert_string_equal(out, "https://h/v");
}

static void publish_state(struct api_events *ev, const char *acct)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", acct);
    cJSON_AddStringToObject(d, "state", "connected");
    assert_true(api_events_publish(ev, "channel.state", d) > 0);
}

static bool queued_one(void *arg)
{
    struct gw_webhook_stats st;
    gw_webhook_get_stats(arg, &st);
    return st.queued >= 1;
}

/* Each account's webhook subscribes for its account alone: the stream hands it that
 * account's events, no one else's, however many accounts share the daemon. */
static void test_tap_own_account(void **state)
{
    (void)state;
    static struct wg_config c;
    char err[512] = "", dir[] = "/tmp/test_webhook.XXXXXX", path[64];
    assert_int_equal(parse(&c,
                           "{\"hooks\":{\"webhook\":{\"endpoints\":[{\"url\":\"http://127.0.0.1:9/"
                           "h\",\"secret\":\"0123456789abcdef\",\"events\":[\"channel.*\"]}]}}}",
                           err, sizeof err),
                     0);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/wa.db", dir);
    struct st_db *db = NULL;
    assert_int_equal(st_db_open(path, &db, err, sizeof err), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct api_events *ev;
    assert_int_equal(api_events_new(0, 0, &ev), 0);
    struct gw_webhook *w = NULL;
    struct gw_webhook_opts o = {.account = "acct-a", .cfg = &c, .events = ev};
    assert_int_equal(gw_webhook_new(&loop, &o, &w), 0);
    assert_int_equal(api_events_accounts(ev), 1); /* subscribed by its account */
    assert_int_equal(api_events_subscribers(ev), 1);
    gw_webhook_set_store(w, db);

    publish_state(ev, "acct-b"); /* another account's: not this webhook's */
    publish_state(ev, "acct-a");
    publish_state(ev, "acct-aa");
    assert_true(loop_run_until_fn(&loop, queued_one, w, 2000));
    loop_run_for(&loop, 50);
    struct gw_webhook_stats st;
    gw_webhook_get_stats(w, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.tap_dropped, 0);

    gw_webhook_close(w);
    loop_run_for(&loop, 20);
    assert_int_equal(api_events_subscribers(ev), 0);
    assert_int_equal(api_events_accounts(ev), 0);
    api_events_free(ev);
    assert_int_equal(st_db_close(db), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign),        cmocka_unit_test(test_delivery_id),
        cmocka_unit_test(test_backoff),     cmocka_unit_test(test_event_match),
        cmocka_unit_test(test_status_line), cmocka_unit_test(test_http_url),
        cmocka_unit_test(test_store_queue), cmocka_unit_test(test_config),
        cmocka_unit_test(test_url_redact),  cmocka_unit_test(test_tap_own_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
