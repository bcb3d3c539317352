/* SPDX-License-Identifier: MIT */
/* test_events.c -- event ring: seq, resume, gap, wraparound, fan-out, routing by account. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/events.h"

struct rec {
    int n;
    long long seqs[64];
    char types[64][32];
    long long gap_from, gap_to, gap_lost;
    char reason[32];
};

static void sink(void *arg, long long seq, const char *json, size_t len)
{
    struct rec *r = arg;
    cJSON *o = cJSON_ParseWithLength(json, len);
    assert_non_null(o);
    long long jseq = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "seq"));
    assert_int_equal(jseq, seq);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(o, "ts"));
    assert_non_null(type);
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* 2026-11-21T12:00:00.123Z */
    assert_int_equal(ts[23], 'Z');
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "data")));
    if (r->n < 64) {
        r->seqs[r->n] = seq;
        snprintf(r->types[r->n], 32, "%s", type);
    }
    if (strcmp(type, "stream.gap") == 0) {
        cJSON *d = cJSON_GetObjectItem(o, "data");
        r->gap_from = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "from"));
        r->gap_to = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "to"));
        r->gap_lost = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "lost"));
        const char *rs = cJSON_GetStringValue(cJSON_GetObjectItem(d, "reason"));
        snprintf(r->reason, sizeof(r->reason), "%s", rs ? rs : "");
    }
    r->n++;
    cJSON_Delete(o);
}

static void publish_n(struct api_events *ev, int n)
{
    for (int i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "i", i);
        long long before = api_events_last_seq(ev);
        assert_int_equal(api_events_publish(ev, "test.tick", d), before + 1);
    }
}

static void test_seq_monotonic_and_live(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(8, 0, &ev), 0);
    assert_int_equal(api_events_last_seq(ev), 0);
    struct rec r = {0};
    struct api_events_sub *sub;
    assert_int_equal(api_events_subscribe(ev, sink, &r, &sub), 0);
    publish_n(ev, 5);
    assert_int_equal(api_events_publish(ev, "x", NULL), 6); /* NULL data -> {} */
    assert_int_equal(api_events_publish(ev, "", NULL), -EINVAL);
    assert_int_equal(r.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(r.seqs[i], i + 1);
    assert_int_equal(api_events_published(ev), 6);
    api_events_unsubscribe(ev, sub);
    assert_int_equal(api_events_subscribers(ev), 0);
    publish_n(ev, 1);
    assert_int_equal(r.n, 6);
    api_events_free(ev);
}

static void test_resume_middle(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(8, 0, &ev), 0);
    publish_n(ev, 6);
    struct rec r = {0};
    assert_int_equal(api_events_replay(ev, 3, sink, &r), 3);
    assert_int_equal(r.seqs[0], 4);
    assert_int_equal(r.seqs[2], 6);
    memset(&r, 0, sizeof(r));
    assert_int_equal(api_events_replay(ev, 6, sink, &r), 0);  /* up to date */
    assert_int_equal(api_events_replay(ev, -1, sink, &r), 0); /* no resume */
    assert_int_equal(api_events_replay(ev, 0, sink, &r), 6);  /* everything, no gap */
    assert_string_equal(r.types[0], "test.tick");
    api_events_free(ev);
}

static void test_wraparound_and_gap(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(4, 0, &ev), 0);
    publish_n(ev, 11); /* ring holds 8..11 */
    assert_int_equal(api_events_count(ev), 4);
    assert_int_equal(api_events_first_seq(ev), 8);
    assert_int_equal(api_events_last_seq(ev), 11);
    struct rec r = {0};
    assert_int_equal(api_events_replay(ev, 2, sink, &r), 5);
    assert_string_equal(r.types[0], "stream.gap");
    assert_int_equal(r.gap_from, 3);
    assert_int_equal(r.gap_to, 7);
    assert_int_equal(r.gap_lost, 5);
    assert_int_equal(r.seqs[0], 7); /* cursor moves past the loss */
    for (int i = 1; i < 5; i++)
        assert_int_equal(r.seqs[i], 7 + i);
    /* exactly at the edge: since = first-1 -> no gap */
    memset(&r, 0, sizeof(r));
    assert_int_equal(api_events_replay(ev, 7, sink, &r), 4);
    assert_string_equal(r.types[0], "test.tick");
    /* resume in the middle of a wrapped ring */
    memset(&r, 0, sizeof(r));
    assert_int_equal(api_events_replay(ev, 9, sink, &r), 2);
    assert_int_equal(r.seqs[0], 10);
    assert_int_equal(r.seqs[1], 11);
    api_events_free(ev);
}

static void test_cursor_ahead(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(4, 0, &ev), 0);
    publish_n(ev, 3);
    struct rec r = {0};
    assert_int_equal(api_events_replay(ev, 100, sink, &r), 4);
    assert_string_equal(r.types[0], "stream.gap");
    assert_string_equal(r.reason, "cursor_ahead");
    assert_int_equal(r.seqs[1], 1);
    api_events_free(ev);
}

static void test_byte_cap(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(100, 300, &ev), 0);
    publish_n(ev, 20);
    assert_true(api_events_count(ev) < 20);
    assert_true(api_events_count(ev) >= 1);
    assert_int_equal(api_events_first_seq(ev), 21 - (long long)api_events_count(ev));
    api_events_free(ev);
}

/* A sink that unsubscribes itself and publishes re-entrantly. */
struct nasty {
    struct api_events *ev;
    struct api_events_sub *sub;
    int calls;
};

static void nasty_sink(void *arg, long long seq, const char *json, size_t len)
{
    struct nasty *n = arg;
    n->calls++;
    if (seq == 1) assert_true(api_events_publish(n->ev, "inner", NULL) == 2);
    if (seq == 2) api_events_unsubscribe(n->ev, n->sub);
}

static void test_reentrant_sinks(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(2, 0, &ev), 0);
    struct nasty n = {.ev = ev};
    struct rec r = {0};
    struct api_events_sub *s2;
    assert_int_equal(api_events_subscribe(ev, sink, &r, &s2), 0);
    assert_int_equal(api_events_subscribe(ev, nasty_sink, &n, &n.sub), 0);
    assert_int_equal(api_events_publish(ev, "outer", NULL), 1);
    /* both subscribers saw 1 then 2, in order */
    assert_int_equal(n.calls, 2);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.seqs[0], 1);
    assert_int_equal(r.seqs[1], 2);
    assert_int_equal(api_events_subscribers(ev), 1);
    publish_n(ev, 1);
    assert_int_equal(n.calls, 2);
    assert_int_equal(r.n, 3);
    api_events_free(ev); /* frees the remaining subscription */
}

/* ---- routing by account ---- */

#define NACCT 1000

/* One log shared by every sink of a test: who saw which seq, in order. */
struct tape {
    int n;
    int who[64];
    long long seq[64];
};

struct tsink {
    struct tape *t;
    int id;
    int calls;
    long long last;
    struct api_events *ev;
    struct api_events_sub *sub;
    struct api_events_sub *victim; /* unsubscribed at the first call */
    const char *publish_acct;      /* published re-entrantly at the first call */
    struct tsink *spawn;           /* subscribed for account "a7" at the first call */
};

static void tsink_fn(void *arg, long long seq, const char *json, size_t len)
{
    struct tsink *k = arg;
    cJSON *o = cJSON_ParseWithLength(json, len);
    assert_non_null(o); /* a whole event, not a cut one */
    cJSON_Delete(o);
    k->calls++;
    k->last = seq;
    if (k->t && k->t->n < 64) {
        k->t->who[k->t->n] = k->id;
        k->t->seq[k->t->n++] = seq;
    }
    if (k->calls != 1) return;
    if (k->victim) api_events_unsubscribe(k->ev, k->victim);
    if (k->publish_acct) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "account", k->publish_acct);
        assert_true(api_events_publish(k->ev, "inner", d) > seq);
    }
    if (k->spawn)
        assert_int_equal(
            api_events_subscribe_account(k->ev, "a7", tsink_fn, k->spawn, &k->spawn->sub), 0);
}

static long long publish_for(struct api_events *ev, const char *acct)
{
    cJSON *d = cJSON_CreateObject();
    if (acct) cJSON_AddStringToObject(d, "account", acct);
    cJSON_AddStringToObject(d, "text", "hello");
    long long seq = api_events_publish(ev, "message.received", d);
    assert_true(seq > 0);
    return seq;
}

static void test_route_by_account(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(0, 0, &ev), 0);
    struct tsink *a = calloc(NACCT, sizeof *a);
    assert_non_null(a);
    struct tsink all1 = {0}, all2 = {0}, twin = {0};
    struct api_events_sub *s1, *s2, *stwin;
    assert_int_equal(api_events_subscribe(ev, tsink_fn, &all1, &s1), 0);
    for (int i = 0; i < NACCT; i++) {
        char name[16];
        snprintf(name, sizeof name, "a%d", i);
        assert_int_equal(api_events_subscribe_account(ev, name, tsink_fn, &a[i], &a[i].sub), 0);
    }
    assert_int_equal(api_events_subscribe_account(ev, "a500", tsink_fn, &twin, &stwin), 0);
    assert_int_equal(api_events_subscribe(ev, tsink_fn, &all2, &s2), 0);
    assert_int_equal(api_events_subscribers(ev), NACCT + 3);
    assert_int_equal(api_events_accounts(ev), NACCT);

    /* an event of a500 reaches a500's two sinks and the account-less ones, no one else */
    long long seq = publish_for(ev, "a500");
    assert_int_equal(all1.calls, 1);
    assert_int_equal(all2.calls, 1);
    assert_int_equal(twin.calls, 1);
    assert_int_equal(twin.last, seq);
    for (int i = 0; i < NACCT; i++)
        assert_int_equal(a[i].calls, i == 500 ? 1 : 0);
    /* no account, an unknown one, a near miss, an account that is not a string: the
     * account-less sinks alone */
    publish_for(ev, NULL);
    publish_for(ev, "a5000");
    publish_for(ev, "A500");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "account", 500);
    assert_true(api_events_publish(ev, "x", d) > 0);
    assert_int_equal(all1.calls, 5);
    assert_int_equal(all2.calls, 5);
    assert_int_equal(a[500].calls, 1);
    /* every account gets its own, once */
    for (int i = 0; i < NACCT; i++) {
        char name[16];
        snprintf(name, sizeof name, "a%d", i);
        publish_for(ev, name);
    }
    for (int i = 0; i < NACCT; i++)
        assert_int_equal(a[i].calls, i == 500 ? 2 : 1);
    assert_int_equal(all1.calls, 5 + NACCT);

    /* unsubscribing frees an account's entry with its last subscriber */
    api_events_unsubscribe(ev, a[500].sub);
    assert_int_equal(api_events_accounts(ev), NACCT);
    publish_for(ev, "a500");
    assert_int_equal(a[500].calls, 2);
    assert_int_equal(twin.calls, 3);
    api_events_unsubscribe(ev, stwin);
    assert_int_equal(api_events_accounts(ev), NACCT - 1);
    for (int i = 0; i < NACCT; i++)
        if (i != 500) api_events_unsubscribe(ev, a[i].sub);
    assert_int_equal(api_events_accounts(ev), 0);
    assert_int_equal(api_events_subscribers(ev), 2);
    publish_for(ev, "a1");
    assert_int_equal(a[1].calls, 1);
    /* and the table takes new ones again */
    assert_int_equal(api_events_subscribe_account(ev, "a1", tsink_fn, &a[1], &a[1].sub), 0);
    publish_for(ev, "a1");
    assert_int_equal(a[1].calls, 2);
    api_events_free(ev); /* frees the remaining subscriptions */
    free(a);
}

static void test_account_name_limits(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(0, 0, &ev), 0);
    struct tsink k = {0}, all = {0};
    struct api_events_sub *sub = (void *)1;
    assert_int_equal(api_events_subscribe_account(ev, "", tsink_fn, &k, &sub), -EINVAL);
    assert_null(sub);
    char longest[API_EVENTS_ACCOUNT_MAX + 2];
    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    assert_int_equal(api_events_subscribe_account(ev, longest, tsink_fn, &k, &sub), -EINVAL);
    longest[API_EVENTS_ACCOUNT_MAX] = '\0'; /* exactly the maximum: fine */
    assert_int_equal(api_events_subscribe_account(ev, longest, tsink_fn, &k, &sub), 0);
    assert_int_equal(api_events_subscribe_account(ev, NULL, tsink_fn, &all, &sub), 0);
    publish_for(ev, longest);
    assert_int_equal(k.calls, 1);
    assert_int_equal(all.calls, 1);
    longest[API_EVENTS_ACCOUNT_MAX] = 'x'; /* an event naming a longer account: no match */
    publish_for(ev, longest);
    assert_int_equal(k.calls, 1);
    assert_int_equal(all.calls, 2);
    api_events_free(ev);
}

/* Sinks that unsubscribe others, subscribe new ones and publish while an event is delivered:
 * every sink still sees events in seq order, the account-less ones first for each event. */
static void test_route_reentrant(void **st)
{
    struct api_events *ev;
    assert_int_equal(api_events_new(4, 0, &ev), 0);
    struct tape t = {0};
    struct tsink g = {.t = &t, .id = 1, .ev = ev}, x = {.t = &t, .id = 2, .ev = ev},
                 y = {.t = &t, .id = 3, .ev = ev}, gone = {.t = &t, .id = 4, .ev = ev},
                 late = {.t = &t, .id = 5, .ev = ev};
    assert_int_equal(api_events_subscribe_account(ev, "a7", tsink_fn, &gone, &gone.sub), 0);
    assert_int_equal(api_events_subscribe_account(ev, "a7", tsink_fn, &x, &x.sub), 0);
    assert_int_equal(api_events_subscribe_account(ev, "a9", tsink_fn, &y, &y.sub), 0);
    assert_int_equal(api_events_subscribe(ev, tsink_fn, &g, &g.sub), 0);
    g.publish_acct = "a9"; /* the account-less sink publishes for a9 inside event 1 */
    x.victim = gone.sub;   /* x drops its neighbour (the next one in a7's list) ... */
    x.publish_acct = "a7"; /* ... publishes for its own account ... */
    x.spawn = &late;       /* ... and subscribes one more sink for a7 */
    assert_int_equal(publish_for(ev, "a7"), 1);
    /* event 1 (a7): g, then x (gone was dropped before its turn);
     * event 2 (a9, from g): g, y; event 3 (a7, from x): g, then late and x */
    static const int who[] = {1, 2, 1, 3, 1, 5, 2};
    static const long long seq[] = {1, 1, 2, 2, 3, 3, 3};
    assert_int_equal(t.n, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(t.who[i], who[i]);
        assert_int_equal(t.seq[i], seq[i]);
    }
    assert_int_equal(gone.calls, 0);
    assert_int_equal(api_events_subscribers(ev), 4);
    assert_int_equal(api_events_accounts(ev), 2);
    /* a sink dropping itself: its account's entry goes once the delivery is over */
    y.victim = y.sub;
    y.calls = 0;
    publish_for(ev, "a9");
    assert_int_equal(y.calls, 1);
    assert_int_equal(api_events_accounts(ev), 1);
    publish_for(ev, "a9");
    assert_int_equal(y.calls, 1);
    api_events_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_monotonic_and_live),
        cmocka_unit_test(test_resume_middle),
        cmocka_unit_test(test_wraparound_and_gap),
        cmocka_unit_test(test_cursor_ahead),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_reentrant_sinks),
        cmocka_unit_test(test_route_by_account),
        cmocka_unit_test(test_account_name_limits),
        cmocka_unit_test(test_route_reentrant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
