/* SPDX-License-Identifier: MIT */
/* test_chhook.c -- the exec hook on received messages: reply, key, filters, failures,
 * limits, reload, close. Real child processes (/bin/sh) on a private uv loop; the channel's
 * outbox is a fake that dedups by idempotency key like the real one. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "api/events.h"
#include "gw/chhook.h"
#include "gw/config.h"
#include "gw/json.h"

#define MAXS 16

struct fake {
    int calls, queued, dups, fail_with; /* fail_with: return this instead (e.g. -EAGAIN) */
    char to[MAXS][128], text[MAXS][512], key[MAXS][256];
    char keys_seen[MAXS][256];
    int nkeys;
    char events[64][512];
    int nevents;
};

static int fake_send(void *ud, const struct wa_outmsg *m, struct gw_send_result *r)
{
    struct fake *f = ud;
    int i = f->calls++;
    assert_true(i < MAXS);
    assert_int_equal(m->kind, WA_OM_TEXT);
    snprintf(f->to[i], sizeof f->to[i], "%s", m->to);
    snprintf(f->text[i], sizeof f->text[i], "%s", m->text);
    snprintf(f->key[i], sizeof f->key[i], "%s", m->idem_key);
    if (f->fail_with) {
        snprintf(r->error, sizeof r->error, "refused by the test");
        return f->fail_with;
    }
    snprintf(r->id, sizeof r->id, "R0");
    for (int k = 0; k < f->nkeys; k++) {
        if (strcmp(f->keys_seen[k], m->idem_key) == 0) {
            f->dups++;
            r->duplicate = true;
            return 0;
        }
    }
    snprintf(f->keys_seen[f->nkeys++], sizeof f->keys_seen[0], "%s", m->idem_key);
    f->queued++;
    return 0;
}

static void sink(void *arg, long long seq, const char *json, size_t len)
{
    struct fake *f = arg;
    if (f->nevents < 64)
        snprintf(f->events[f->nevents++], sizeof f->events[0], "%.*s", (int)len, json);
}

static int count_events(const struct fake *f, const char *needle)
{
    int n = 0;
    for (int i = 0; i < f->nevents; i++)
        if (strstr(f->events[i], needle)) n++;
    return n;
}

struct env {
    uv_loop_t loop;
    struct wg_config cfg;
    struct api_events *ev;
    struct api_events_sub *sub;
    struct fake f;
    struct chhook *h;
    struct wa_creds creds;
};

static struct env *env_new(const char *cmd)
{
    struct env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    uv_loop_init(&e->loop);
    cfg_defaults(&e->cfg);
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "%s", cmd);
    assert_int_equal(api_events_new(0, 0, &e->ev), 0);
    assert_int_equal(api_events_subscribe(e->ev, sink, &e->f, &e->sub), 0);
    snprintf(e->creds.me_pn, sizeof e->creds.me_pn, "15550001:3@s.whatsapp.net");
    snprintf(e->creds.me_lid, sizeof e->creds.me_lid, "777:3@lid");
    struct chhook_opts o = {
        .account = "acct", .cfg = &e->cfg, .events = e->ev, .send = fake_send, .send_ud = &e->f};
    assert_int_equal(chhook_new(&e->loop, &o, &e->h), 0);
    return e;
}

static void env_run(struct env *e)
{
    uv_run(&e->loop, UV_RUN_DEFAULT);
}

static void env_free(struct env *e)
{
    chhook_close(e->h);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    api_events_free(e->ev);
    free(e);
}

static void msg(struct env *e, const char *chat, const char *sender, const char *id,
                const char *type, const char *text)
{
    struct st_inbox_msg r = {.cursor = 7,
                             .chat = (char *)chat,
                             .sender = (char *)sender,
                             .msg_id = (char *)id,
                             .type = (char *)type,
                             .ts = 1700000000,
                             .received = 1700000001,
                             .payload = (uint8_t *)text,
                             .payload_len = strlen(text)};
    struct wa_inmsg m;
    wa_inmsg_from_row(&r, &m);
    chhook_message(e->h, &e->creds, &m);
}

#define ALICE "15550002@s.whatsapp.net"

static void test_echo_reply_with_key(void **state)
{
    struct env *e = env_new("sh " WAGATE_SOURCE_DIR "/examples/echo-bot.sh");
    msg(e, ALICE, ALICE, "M1", "text", "hello");
    assert_int_equal(e->f.calls, 0); /* never synchronously */
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    assert_string_equal(e->f.to[0], ALICE);
    assert_string_equal(e->f.text[0], "echo: hello");
    assert_string_equal(e->f.key[0], "hook:acct:M1");
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.replied\""), 1);
    assert_int_equal(count_events(&e->f, "\"reply_id\":\"R0\""), 1);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.replied, 1);
    assert_int_equal(st.running, 0);
    env_free(e);
}

static void test_stdin_is_the_event_data(void **state)
{
    struct env *e = env_new("cat");
    msg(e, "120363000000000001@g.us", ALICE, "G1", "text", "a \"quoted\"\nline");
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    assert_string_equal(e->f.to[0], "120363000000000001@g.us"); /* the chat, not the sender */
    struct st_inbox_msg m = {.cursor = 7,
                             .chat = "120363000000000001@g.us",
                             .sender = ALICE,
                             .msg_id = "G1",
                             .type = "text",
                             .ts = 1700000000,
                             .received = 1700000001,
                             .payload = (uint8_t *)"a \"quoted\"\nline",
                             .payload_len = 15};
    struct wa_inmsg im;
    wa_inmsg_from_row(&m, &im);
    cJSON *want = gw_inmsg_json("acct", &im);
    cJSON *got = cJSON_Parse(e->f.text[0]);
    assert_non_null(got);
    assert_true(cJSON_Compare(want, got, 1));
    cJSON_Delete(want);
    cJSON_Delete(got);
    env_free(e);
}

static void test_filters(void **state)
{
    struct env *e = env_new("echo reply");
    msg(e, ALICE, "15550001@s.whatsapp.net", "O1", "text", "own copy (PN)");
    msg(e, ALICE, "777@lid", "O2", "text", "own copy (LID)");
    msg(e, ALICE, ALICE, "R1", "reaction", "xx");
    msg(e, "status@broadcast", ALICE, "B1", "text", "status");
    msg(e, ALICE, ALICE, "", "text", "no id");
    env_run(e);
    assert_int_equal(e->f.calls, 0);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.started, 0);
    assert_int_equal(st.skipped, 5);
    /* a peer in a group is answered; no command configured -> nothing at all */
    msg(e, "120363000000000001@g.us", ALICE, "G2", "text", "hi");
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    e->cfg.hook_exec_command[0] = '\0';
    msg(e, ALICE, ALICE, "M2", "text", "hi");
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    env_free(e);
}

static void test_failures_are_events_not_retries(void **state)
{
    struct env *e = env_new("exit 3");
    msg(e, ALICE, ALICE, "F1", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.failed\""), 1);
    assert_int_equal(count_events(&e->f, "\"error\":\"exit\""), 1);
    assert_int_equal(count_events(&e->f, "exit status 3"), 1);
    /* empty output: no reply, no failure */
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "true");
    msg(e, ALICE, ALICE, "F2", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.failed\""), 1);
    /* the channel cannot send: one hook.failed "send" */
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "echo yes");
    e->f.fail_with = -EAGAIN;
    msg(e, ALICE, ALICE, "F3", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    assert_int_equal(count_events(&e->f, "\"error\":\"send\""), 1);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.started, 3); /* each message ran exactly once */
    env_free(e);
}

static void test_timeout(void **state)
{
    struct env *e = env_new("sleep 5; echo late");
    e->cfg.hook_exec_timeout_ms = 200;
    uint64_t t0 = uv_now(&e->loop);
    msg(e, ALICE, ALICE, "T1", "text", "x");
    env_run(e);
    uv_update_time(&e->loop);
    assert_true(uv_now(&e->loop) - t0 < 2000);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(count_events(&e->f, "\"error\":\"timeout\""), 1);
    env_free(e);
}

static void test_limits_queue_and_drop(void **state)
{
    struct env *e = env_new("sleep 0.3; echo done");
    e->cfg.hook_exec_max_running = 2;
    e->cfg.hook_exec_max_queued = 1;
    msg(e, ALICE, ALICE, "L1", "text", "1");
    msg(e, ALICE, ALICE, "L2", "text", "2");
    msg(e, ALICE, ALICE, "L3", "text", "3");
    msg(e, ALICE, ALICE, "L4", "text", "4");
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.running, 2);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(count_events(&e->f, "\"error\":\"queue_full\""), 1);
    assert_int_equal(count_events(&e->f, "\"id\":\"L4\""), 1);
    env_run(e);
    assert_int_equal(e->f.calls, 3);
    assert_string_equal(e->f.key[2], "hook:acct:L3"); /* the queued one ran last */
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.queued, 0);
    env_free(e);
}

static void test_same_message_twice_one_reply(void **state)
{
    struct env *e = env_new("echo pong");
    msg(e, ALICE, ALICE, "D1", "text", "ping");
    env_run(e);
    msg(e, ALICE, ALICE, "D1", "text", "ping"); /* handed over again (e.g. after a crash) */
    env_run(e);
    assert_int_equal(e->f.calls, 2);
    assert_string_equal(e->f.key[0], e->f.key[1]); /* same key -> the outbox dedups */
    assert_int_equal(e->f.queued, 1);
    assert_int_equal(e->f.dups, 1);
    assert_int_equal(count_events(&e->f, "\"duplicate\":true"), 1);
    msg(e, ALICE, ALICE, "D2", "text", "ping"); /* another message: another key */
    env_run(e);
    assert_int_equal(e->f.queued, 2);
    env_free(e);
}

static void test_reload_applies_to_next_message(void **state)
{
    struct env *e = env_new("echo one");
    msg(e, ALICE, ALICE, "C1", "text", "x");
    env_run(e);
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "echo two");
    msg(e, ALICE, ALICE, "C2", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 2);
    assert_string_equal(e->f.text[0], "one");
    assert_string_equal(e->f.text[1], "two");
    env_free(e);
}

static void test_close_kills_running_hooks(void **state)
{
    struct env *e = env_new("sleep 10; echo never");
    e->cfg.hook_exec_max_running = 1;
    msg(e, ALICE, ALICE, "K1", "text", "x");
    msg(e, ALICE, ALICE, "K2", "text", "x"); /* queued */
    uv_update_time(&e->loop);
    uint64_t t0 = uv_now(&e->loop);
    chhook_close(e->h);
    e->h = NULL;
    uv_run(&e->loop, UV_RUN_DEFAULT); /* returns once the killed child is reaped */
    uv_update_time(&e->loop);
    assert_true(uv_now(&e->loop) - t0 < 1000);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(e->f.nevents, 0); /* nothing published after close */
    env_free(e);
}

static void test_bad_args(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct wg_config cfg;
    cfg_defaults(&cfg);
    struct chhook *h = (struct chhook *)1;
    struct chhook_opts o = {.account = "a", .cfg = &cfg, .send = NULL};
    assert_int_equal(chhook_new(&loop, &o, &h), -EINVAL);
    assert_null(h);
    chhook_message(NULL, NULL, NULL);
    chhook_close(NULL);
    chhook_detach_api(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_reply_with_key),
        cmocka_unit_test(test_stdin_is_the_event_data),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_failures_are_events_not_retries),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_limits_queue_and_drop),
        cmocka_unit_test(test_same_message_twice_one_reply),
        cmocka_unit_test(test_reload_applies_to_next_message),
        cmocka_unit_test(test_close_kills_running_hooks),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
