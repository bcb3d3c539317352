/* SPDX-License-Identifier: MIT */
/* test_events.c -- event ring: seq, resume, gap, wraparound, fan-out. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_monotonic_and_live),
        cmocka_unit_test(test_resume_middle),
        cmocka_unit_test(test_wraparound_and_gap),
        cmocka_unit_test(test_cursor_ahead),
        cmocka_unit_test(test_byte_cap),
        cmocka_unit_test(test_reentrant_sinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
