/* SPDX-License-Identifier: MIT */
/* test_notify.c -- gw/notify.h: dedup of open notifications, resolution follow-ups, kinds
 * without a resolution, the bounded recent list (open ones kept), the event sink (new and
 * older shapes), the note-to-self queue (held while the link is down, in order, capped) and
 * notify.command (one at a time, the JSON on stdin, a capped queue). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "api/events.h"
#include "gw/config.h"
#include "gw/notify.h"

struct h {
    uv_loop_t loop;
    struct wg_config cfg;
    struct api_events *ev;
    struct api_events_sub *sub;
    struct gw_notify *n;
    int nnote, nres, nold;
    cJSON *last; /* the last notification/notification.resolved data */
    char sent[64][NOTIFY_TEXT_MAX + 64];
    int nsent;
    int send_rc;
};

static void sink(void *arg, long long seq, const char *json, size_t len)
{
    struct h *h = arg;
    (void)seq;
    cJSON *e = cJSON_ParseWithLength(json, len);
    assert_non_null(e);
    const char *type = cJSON_GetObjectItem(e, "type")->valuestring;
    if (!strcmp(type, "notification") || !strcmp(type, "notification.resolved")) {
        if (type[12] == '.')
            h->nres++;
        else
            h->nnote++;
        cJSON_Delete(h->last);
        h->last = cJSON_DetachItemFromObject(e, "data");
    } else if (!strcmp(type, "channel.notice")) {
        h->nold++;
    }
    cJSON_Delete(e);
}

static int send_self(void *ud, const char *account, const char *text)
{
    struct h *h = ud;
    if (h->send_rc) return h->send_rc;
    assert_true(h->nsent < 64);
    snprintf(h->sent[h->nsent++], sizeof h->sent[0], "%s|%s", account, text);
    return 0;
}

static void h_init(struct h *h)
{
    memset(h, 0, sizeof *h);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    cfg_defaults(&h->cfg);
    assert_int_equal(api_events_new(0, 0, &h->ev), 0);
    assert_int_equal(api_events_subscribe(h->ev, sink, h, &h->sub), 0);
    struct gw_notify_opts o = {.loop = &h->loop, .cfg = &h->cfg, .events = h->ev};
    assert_int_equal(gw_notify_new(&o, &h->n), 0);
    gw_notify_set_sender(h->n, send_self, h);
}

static void h_free(struct h *h)
{
    gw_notify_close(h->n);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    api_events_free(h->ev);
    cJSON_Delete(h->last);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_dedup_and_resolve(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    long long a = gw_notify_raise(h.n, GW_NOTE_LINK_DOWN, "default", -1, "down 1");
    assert_true(a > 0);
    assert_int_equal(h.nnote, 1);
    assert_int_equal(h.nold, 1); /* the older channel.notice shape too */
    assert_string_equal(str(h.last, "kind"), "link_down");
    assert_string_equal(str(h.last, "level"), "warn");
    assert_string_equal(str(h.last, "key"), "link_down:default");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h.last, "open")));
    assert_true(gw_notify_is_open(h.n, GW_NOTE_LINK_DOWN, "default"));
    /* the same kind and account while open: not raised again, counted */
    assert_int_equal(gw_notify_raise(h.n, GW_NOTE_LINK_DOWN, "default", -1, "down 2"), 0);
    assert_int_equal(h.nnote, 1);
    assert_int_equal(h.nold, 1);
    /* another account, another kind: raised */
    long long b = gw_notify_raise(h.n, GW_NOTE_LINK_DOWN, "work", -1, "down w");
    long long c = gw_notify_raise(h.n, GW_NOTE_BANNED, "default", -1, "banned");
    assert_true(b > a && c > b);
    assert_int_equal(h.nnote, 3);
    /* nothing open to resolve: no follow-up */
    assert_int_equal(gw_notify_resolve(h.n, GW_NOTE_CONFLICT, "default", "ok"), 0);
    assert_int_equal(h.nres, 0);
    /* the follow-up names the notification it resolves */
    long long r = gw_notify_resolve(h.n, GW_NOTE_LINK_DOWN, "default", "back");
    assert_true(r > c);
    assert_int_equal(h.nres, 1);
    assert_string_equal(str(h.last, "kind"), "restored");
    assert_string_equal(str(h.last, "level"), "info");
    assert_string_equal(str(h.last, "text"), "back");
    const cJSON *rs = cJSON_GetObjectItem(h.last, "resolves");
    assert_int_equal((long long)num(rs, "id"), a);
    assert_string_equal(str(rs, "kind"), "link_down");
    assert_false(gw_notify_is_open(h.n, GW_NOTE_LINK_DOWN, "default"));
    assert_true(gw_notify_is_open(h.n, GW_NOTE_LINK_DOWN, "work")); /* untouched */
    /* resolved once: a second resolve does nothing; a new raise is a new notification */
    assert_int_equal(gw_notify_resolve(h.n, GW_NOTE_LINK_DOWN, "default", "again"), 0);
    long long d = gw_notify_raise(h.n, GW_NOTE_LINK_DOWN, "default", -1, "down 3");
    assert_true(d > r);
    /* the list: newest first, the resolved one carries its follow-up and the repeat */
    cJSON *l = gw_notify_list_json(h.n, 0);
    assert_int_equal((int)num(l, "open"), 3);
    const cJSON *arr = cJSON_GetObjectItem(l, "notifications");
    assert_int_equal(cJSON_GetArraySize(arr), 4);
    assert_int_equal((long long)num(cJSON_GetArrayItem(arr, 0), "id"), d);
    const cJSON *first = cJSON_GetArrayItem(arr, 3);
    assert_int_equal((long long)num(first, "id"), a);
    assert_int_equal((int)num(first, "repeats"), 1);
    const cJSON *res = cJSON_GetObjectItem(first, "resolved");
    assert_int_equal((long long)num(res, "id"), r);
    assert_string_equal(str(res, "kind"), "restored");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "resolved")));
    cJSON_Delete(l);
    l = gw_notify_list_json(h.n, 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "notifications")), 2);
    assert_int_equal((int)num(l, "open"), 3); /* counted over all of them */
    cJSON_Delete(l);
    struct gw_notify_stats st;
    gw_notify_stats(h.n, &st);
    assert_int_equal(st.raised, 4);
    assert_int_equal(st.deduplicated, 1);
    assert_int_equal(st.resolved, 1);
    h_free(&h);
}

static void test_kinds_without_resolution_and_args(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    assert_null(gw_note_resolution_name(GW_NOTE_SESSIONS_RESET));
    assert_string_equal(gw_note_resolution_name(GW_NOTE_LOGGED_OUT), "relinked");
    assert_string_equal(gw_note_resolution_name(GW_NOTE_DISK), "disk_ok");
    /* never open: each one goes out */
    assert_true(gw_notify_raise(h.n, GW_NOTE_SESSIONS_RESET, "default", -1, "reset") > 0);
    assert_true(gw_notify_raise(h.n, GW_NOTE_SESSIONS_RESET, "default", -1, "reset") > 0);
    assert_int_equal(h.nnote, 2);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(h.last, "open")));
    assert_int_equal(gw_notify_resolve(h.n, GW_NOTE_SESSIONS_RESET, "default", "x"), 0);
    /* an explicit level wins over the kind's */
    assert_true(gw_notify_raise(h.n, GW_NOTE_DISK, "default", GW_NOTE_WARN, "disk") > 0);
    assert_string_equal(str(h.last, "level"), "warn");
    assert_int_equal(gw_notify_raise(h.n, GW_NOTE_KIND_COUNT, "default", -1, "x"), -EINVAL);
    assert_int_equal(gw_notify_raise(h.n, GW_NOTE_DISK, NULL, -1, "x"), -EINVAL);
    assert_int_equal(gw_notify_raise(h.n, GW_NOTE_DISK, "default", 7, "x"), -EINVAL);
    char longacct[80];
    memset(longacct, 'a', sizeof longacct - 1);
    longacct[sizeof longacct - 1] = '\0';
    assert_int_equal(gw_notify_raise(h.n, GW_NOTE_DISK, longacct, -1, "x"), -EINVAL);
    /* a text over the cap is cut, not refused */
    static char big[NOTIFY_TEXT_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    assert_true(gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, big) > 0);
    assert_int_equal(strlen(str(h.last, "text")), NOTIFY_TEXT_MAX - 1);
    h_free(&h);
}

/* The list is bounded; closed ones are evicted first, so an open one survives a flood. */
static void test_recent_list_bounded(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    long long open = gw_notify_raise(h.n, GW_NOTE_LOGGED_OUT, "default", -1, "qr needed");
    for (int i = 0; i < NOTIFY_RECENT_MAX * 2; i++)
        assert_true(gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, "flood") > 0);
    cJSON *l = gw_notify_list_json(h.n, 0);
    const cJSON *arr = cJSON_GetObjectItem(l, "notifications");
    assert_int_equal(cJSON_GetArraySize(arr), NOTIFY_RECENT_MAX);
    const cJSON *last = cJSON_GetArrayItem(arr, NOTIFY_RECENT_MAX - 1);
    assert_int_equal((long long)num(last, "id"), open);
    cJSON_Delete(l);
    /* still resolvable after the flood */
    assert_true(gw_notify_resolve(h.n, GW_NOTE_LOGGED_OUT, "default", "linked") > 0);
    h_free(&h);
}

static void spin(struct h *h, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(&h->loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
}

static void test_self_chat_queue(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    h.cfg.notify_self_chat = true;
    (void)gw_notify_raise(h.n, GW_NOTE_LINK_DOWN, "default", -1, "down");
    (void)gw_notify_raise(h.n, GW_NOTE_LINK_DOWN, "work", -1, "work down");
    spin(&h, 30);
    assert_int_equal(h.nsent, 0); /* no link is up: held */
    (void)gw_notify_resolve(h.n, GW_NOTE_LINK_DOWN, "default", "back");
    gw_notify_link(h.n, "default", true);
    assert_int_equal(h.nsent, 0); /* never from inside the caller */
    spin(&h, 30);
    assert_int_equal(h.nsent, 2);
    assert_string_equal(h.sent[0], "default|wagate [link_down] down");
    assert_string_equal(h.sent[1], "default|wagate [restored] back");
    /* "work" still waits; a send that cannot go now keeps it */
    h.send_rc = -EAGAIN;
    gw_notify_link(h.n, "work", true);
    spin(&h, 30);
    struct gw_notify_stats st;
    gw_notify_stats(h.n, &st);
    assert_int_equal(st.self_queued, 1);
    h.send_rc = 0;
    gw_notify_link(h.n, "work", true);
    spin(&h, 30);
    assert_int_equal(h.nsent, 3);
    assert_string_equal(h.sent[2], "work|wagate [link_down] work down");
    /* link down again: held, capped (the oldest dropped) */
    gw_notify_link(h.n, "default", false);
    for (int i = 0; i < NOTIFY_SELF_QUEUE_MAX + 3; i++) {
        char t[16];
        snprintf(t, sizeof t, "e%d", i);
        (void)gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, t);
    }
    gw_notify_stats(h.n, &st);
    assert_int_equal(st.self_queued, NOTIFY_SELF_QUEUE_MAX);
    assert_int_equal(st.self_dropped, 3);
    gw_notify_link(h.n, "default", true);
    spin(&h, 30);
    assert_int_equal(h.nsent, 3 + NOTIFY_SELF_QUEUE_MAX);
    assert_string_equal(h.sent[3], "default|wagate [error] e3");
    /* self_chat off: nothing queued */
    h.cfg.notify_self_chat = false;
    (void)gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, "quiet");
    spin(&h, 30);
    assert_int_equal(h.nsent, 3 + NOTIFY_SELF_QUEUE_MAX);
    h_free(&h);
}

/* A resolution that must settle: a raise in between keeps it open (a flapping disk). */
static void test_resolve_after_settles(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    long long id = gw_notify_raise(h.n, GW_NOTE_DISK, "default", -1, "full");
    assert_int_equal(gw_notify_resolve_after(h.n, GW_NOTE_DISK, "default", "ok 1", 100), 0);
    spin(&h, 40);
    assert_int_equal(h.nres, 0); /* pending */
    assert_int_equal(gw_notify_raise(h.n, GW_NOTE_DISK, "default", -1, "full again"), 0);
    spin(&h, 150);
    assert_int_equal(h.nres, 0); /* the raise cancelled it */
    assert_true(gw_notify_is_open(h.n, GW_NOTE_DISK, "default"));
    assert_int_equal(gw_notify_resolve_after(h.n, GW_NOTE_DISK, "default", "ok 2", 100), 0);
    assert_int_equal(gw_notify_resolve_after(h.n, GW_NOTE_DISK, "default", "ok 3", 5000), 0);
    for (int i = 0; i < 100 && !h.nres; i++)
        spin(&h, 10);
    assert_int_equal(h.nres, 1); /* the first deadline kept, its text */
    assert_string_equal(str(h.last, "kind"), "disk_ok");
    assert_string_equal(str(h.last, "text"), "ok 2");
    assert_int_equal((long long)num(cJSON_GetObjectItem(h.last, "resolves"), "id"), id);
    assert_false(gw_notify_is_open(h.n, GW_NOTE_DISK, "default"));
    spin(&h, 50);
    assert_int_equal(h.nres, 1);
    h_free(&h);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_command_one_at_a_time(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    char dir[] = "/tmp/wagate-notify-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[128], running[128];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(running, sizeof running, "%s/running", dir);
    /* fails if two run at once: each one holds a marker file while it works */
    snprintf(h.cfg.notify_command, sizeof h.cfg.notify_command,
             "[ -e %s ] && echo OVERLAP >>%s; touch %s; cat >>%s; echo >>%s; sleep 0.05; rm %s",
             running, out, running, out, out, running);
    h.cfg.notify_command_max_queued = 3;
    for (int i = 0; i < 6; i++) { /* 1 runs, 3 wait, 2 are dropped */
        char t[16];
        snprintf(t, sizeof t, "c%d", i);
        (void)gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, t);
    }
    struct gw_notify_stats st;
    gw_notify_stats(h.n, &st);
    assert_int_equal(st.commands_queued, 3);
    assert_int_equal(st.commands_dropped, 2);
    for (int i = 0; i < 300 && count_lines(out) < 4; i++)
        spin(&h, 10);
    spin(&h, 100);
    assert_int_equal(count_lines(out), 4);
    FILE *f = fopen(out, "r");
    char line[4096];
    for (int i = 0; i < 4; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o); /* the JSON, whole, on stdin */
        char want[8];
        snprintf(want, sizeof want, "c%d", i);
        assert_string_equal(str(o, "text"), want);
        assert_string_equal(str(o, "kind"), "error");
        cJSON_Delete(o);
    }
    fclose(f);
    gw_notify_stats(h.n, &st);
    assert_int_equal(st.commands_run, 4);
    assert_int_equal(st.commands_failed, 0);
    /* a command past its deadline is killed and counted; the next one still runs */
    snprintf(h.cfg.notify_command, sizeof h.cfg.notify_command, "sleep 5");
    h.cfg.notify_command_timeout_ms = 100;
    (void)gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, "slow");
    for (int i = 0; i < 100; i++) {
        spin(&h, 10);
        gw_notify_stats(h.n, &st);
        if (st.commands_failed) break;
    }
    assert_int_equal(st.commands_failed, 1);
    unlink(out);
    rmdir(dir);
    h_free(&h);
}

/* Close with a command running: it is killed, the memory goes once it was reaped. */
static void test_close_while_running(void **state)
{
    (void)state;
    struct h h;
    h_init(&h);
    snprintf(h.cfg.notify_command, sizeof h.cfg.notify_command, "sleep 5");
    (void)gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, "x");
    (void)gw_notify_raise(h.n, GW_NOTE_ERROR, "default", -1, "y");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    h_free(&h); /* runs the loop to the end: must not wait for the sleep */
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ms = (b.tv_sec - a.tv_sec) * 1000LL + (b.tv_nsec - a.tv_nsec) / 1000000;
    print_message("# closed in %lld ms with a command running\n", ms);
    assert_true(ms < 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_and_resolve),
        cmocka_unit_test(test_kinds_without_resolution_and_args),
        cmocka_unit_test(test_recent_list_bounded),
        cmocka_unit_test(test_self_chat_queue),
        cmocka_unit_test(test_resolve_after_settles),
        cmocka_unit_test(test_command_one_at_a_time),
        cmocka_unit_test(test_close_while_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
