/* SPDX-License-Identifier: MIT */
/* test_chhook.c -- the exec hook on the inbox: reply, key, filters, retries with backoff,
 * give-up, limits, reload, close, and exactly-once across a simulated crash (a new chhook on
 * the reopened database). Real child processes (/bin/sh) on a private uv loop and a real
 * account database; the channel's outbox is a fake that dedups by idempotency key like the
 * real one. */
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
#include "store/db.h"

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
    struct st_db *db;
    char dir[64], path[128];
};

static void env_attach(struct env *e)
{
    struct chhook_opts o = {.account = "acct",
                            .creds = &e->creds,
                            .cfg = &e->cfg,
                            .events = e->ev,
                            .send = fake_send,
                            .send_ud = &e->f};
    assert_int_equal(chhook_new(&e->loop, &o, &e->h), 0);
    chhook_set_store(e->h, e->db);
}

static void db_open(struct env *e)
{
    char err[256];
    assert_int_equal(st_db_open(e->path, &e->db, err, sizeof err), 0);
}

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
    snprintf(e->dir, sizeof e->dir, "/tmp/wagate-chhook-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->path, sizeof e->path, "%s/wa.db", e->dir);
    e->cfg.hook_exec_retry_base_ms = 20;
    e->cfg.hook_exec_retry_max_ms = 80;
    db_open(e);
    env_attach(e);
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
    assert_int_equal(st_db_close(e->db), 0);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
    free(e);
}

static size_t pending(struct env *e)
{
    size_t n = 99;
    assert_int_equal(st_inbox_count_pending(e->db, &n), 0);
    return n;
}

/* Commit the row to the inbox (as the receive path does), then hand it over. */
static void msg(struct env *e, const char *chat, const char *sender, const char *id,
                const char *type, const char *text)
{
    int64_t cur = 0;
    assert_true(st_inbox_insert(e->db, chat, sender, id, 1700000000, type, (const uint8_t *)text,
                                strlen(text), &cur) >= 0);
    struct st_inbox_msg r = {.cursor = cur,
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
    assert_int_equal(pending(e), 1);
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    assert_string_equal(e->f.to[0], ALICE);
    assert_string_equal(e->f.text[0], "echo: hello");
    assert_string_equal(e->f.key[0], "hook:acct:M1");
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.replied\""), 1);
    assert_int_equal(count_events(&e->f, "\"reply_id\":\"R0\""), 1);
    assert_int_equal(pending(e), 0); /* settled after the reply was queued */
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
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(e->db, 0, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    struct wa_inmsg im;
    wa_inmsg_from_row(&v[0], &im);
    cJSON *want = gw_inmsg_json("acct", &im);
    cJSON_AddNumberToObject(want, "attempt", 1);
    cJSON *got = cJSON_Parse(e->f.text[0]);
    assert_non_null(got);
    assert_true(cJSON_Compare(want, got, 1));
    cJSON_Delete(want);
    cJSON_Delete(got);
    st_inbox_list_free(v, n);
    env_free(e);
}

static void test_filters(void **state)
{
    struct env *e = env_new("echo reply");
    msg(e, ALICE, "15550001@s.whatsapp.net", "O1", "text", "own copy (PN)");
    msg(e, ALICE, "777@lid", "O2", "text", "own copy (LID)");
    msg(e, ALICE, ALICE, "R1", "reaction", "xx");
    msg(e, "status@broadcast", ALICE, "B1", "text", "status");
    env_run(e);
    assert_int_equal(e->f.calls, 0);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.started, 0);
    assert_int_equal(st.skipped, 4);
    assert_int_equal(pending(e), 0); /* settled: not replayed later */
    /* a peer in a group is answered */
    msg(e, "120363000000000001@g.us", ALICE, "G2", "text", "hi");
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    /* no command configured: settled, and not replayed when one is configured later */
    e->cfg.hook_exec_command[0] = '\0';
    msg(e, ALICE, ALICE, "M2", "text", "hi");
    env_run(e);
    assert_int_equal(pending(e), 0);
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "echo again");
    msg(e, ALICE, ALICE, "M3", "text", "hi");
    env_run(e);
    assert_int_equal(e->f.calls, 2);
    assert_string_equal(e->f.key[1], "hook:acct:M3");
    env_free(e);
}

/* The agent is down for its first two runs: retried with backoff, then one reply. */
static void test_failed_runs_are_retried(void **state)
{
    struct env *e = env_new("");
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command,
             "f=%s/n; n=$(cat $f 2>/dev/null || echo 0); n=$((n+1)); echo $n > $f; "
             "[ $n -ge 3 ] || exit 1; read -r line; echo \"$line\"",
             e->dir);
    uv_update_time(&e->loop);
    uint64_t t0 = uv_now(&e->loop);
    msg(e, ALICE, ALICE, "F1", "text", "x");
    env_run(e);
    uv_update_time(&e->loop);
    assert_true(uv_now(&e->loop) - t0 >= 20 + 40); /* 20 ms, then 40 ms */
    assert_int_equal(e->f.calls, 1);
    assert_int_equal(e->f.queued, 1);
    assert_non_null(strstr(e->f.text[0], "\"attempt\":3"));
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.failed\""), 0);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.started, 3);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.repeated, 2);
    assert_int_equal(pending(e), 0);
    struct st_hook_state hs;
    assert_int_equal(st_hook_state_get(e->db, 1, &hs), 1);
    assert_int_equal(hs.attempts, 3);
    assert_int_equal(hs.gave_up, 0);
    env_free(e);
}

/* A hook that always fails: max_attempts runs, then ONE hook.failed, and the row is settled. */
static void test_gives_up_after_max_attempts(void **state)
{
    struct env *e = env_new("exit 3");
    e->cfg.hook_exec_max_attempts = 3;
    msg(e, ALICE, ALICE, "G1", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.failed\""), 1);
    assert_int_equal(count_events(&e->f, "\"error\":\"exit\""), 1);
    assert_int_equal(count_events(&e->f, "exit status 3"), 1);
    assert_int_equal(count_events(&e->f, "\"attempts\":3"), 1);
    assert_int_equal(pending(e), 0);
    struct st_hook_state hs;
    assert_int_equal(st_hook_state_get(e->db, 1, &hs), 1);
    assert_int_equal(hs.gave_up, 1);
    /* empty output: no reply, no failure */
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "true");
    msg(e, ALICE, ALICE, "G2", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(count_events(&e->f, "\"type\":\"hook.failed\""), 1);
    /* the channel cannot send: retried, then given up with "send" */
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "echo yes");
    e->f.fail_with = -EAGAIN;
    msg(e, ALICE, ALICE, "G3", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 3);
    assert_int_equal(count_events(&e->f, "\"error\":\"send\""), 1);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.started, 3 + 1 + 3);
    env_free(e);
}

static void test_timeout(void **state)
{
    struct env *e = env_new("sleep 5; echo late");
    e->cfg.hook_exec_timeout_ms = 200;
    e->cfg.hook_exec_max_attempts = 1;
    uint64_t t0 = uv_now(&e->loop);
    msg(e, ALICE, ALICE, "T1", "text", "x");
    env_run(e);
    uv_update_time(&e->loop);
    assert_true(uv_now(&e->loop) - t0 < 2000);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(count_events(&e->f, "\"error\":\"timeout\""), 1);
    env_free(e);
}

/* More messages than slots: never more than max_running at once, none dropped. */
static void test_limits_backlog_in_the_inbox(void **state)
{
    struct env *e = env_new("sleep 0.2; echo done");
    e->cfg.hook_exec_max_running = 2;
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof id, "L%d", i);
        msg(e, ALICE, ALICE, id, "text", "x");
    }
    uv_run(&e->loop, UV_RUN_NOWAIT); /* the first scan */
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.running, 2);
    env_run(e);
    assert_int_equal(e->f.calls, 6);
    assert_string_equal(e->f.key[5], "hook:acct:L5"); /* oldest first */
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.started, 6);
    assert_int_equal(pending(e), 0);
    env_free(e);
}

static void test_same_message_twice_one_reply(void **state)
{
    struct env *e = env_new("echo pong");
    msg(e, ALICE, ALICE, "D1", "text", "ping");
    env_run(e);
    /* the same message handed over again (e.g. a lost settle) */
    assert_int_equal(st_hook_state_put(e->db, 1, 1, 0, NULL, 0), 0);
    assert_int_equal(st_db_close(e->db), 0);
    char sql[300];
    snprintf(sql, sizeof sql, "sqlite3 '%s' 'UPDATE inbox SET delivered = 0'", e->path);
    assert_int_equal(system(sql), 0);
    db_open(e);
    chhook_set_store(e->h, e->db);
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

/* A crash while the hook runs (the chhook and the database go away without settling): the
 * next process runs it again, told "attempt":2, and the reply is queued once. */
static void test_crash_mid_run_runs_again_once(void **state)
{
    struct env *e = env_new("read -r line; sleep 0.3; echo \"$line\"");
    msg(e, ALICE, ALICE, "C1", "text", "x");
    msg(e, ALICE, ALICE, "C2", "text", "y");
    uv_run(&e->loop, UV_RUN_NOWAIT); /* both started */
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.running, 2);
    chhook_close(e->h); /* "kill": nothing is settled */
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(st_db_close(e->db), 0);
    db_open(e);
    assert_int_equal(pending(e), 2);
    env_attach(e); /* the restarted daemon */
    env_run(e);
    assert_int_equal(e->f.calls, 2);
    assert_int_equal(e->f.queued, 2);
    assert_non_null(strstr(e->f.text[0], "\"attempt\":2"));
    assert_non_null(strstr(e->f.text[1], "\"attempt\":2"));
    assert_int_equal(pending(e), 0);
    env_free(e);
}

/* The backoff time is stored: a restart does not retry early. */
static void test_backoff_survives_a_restart(void **state)
{
    struct env *e = env_new("exit 1");
    e->cfg.hook_exec_retry_base_ms = 600;
    e->cfg.hook_exec_retry_max_ms = 600;
    msg(e, ALICE, ALICE, "B1", "text", "x");
    for (int i = 0; i < 200; i++) {
        uv_run(&e->loop, UV_RUN_ONCE);
        struct chhook_stats st;
        chhook_get_stats(e->h, &st);
        if (st.retried == 1) break;
    }
    chhook_close(e->h);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    snprintf(e->cfg.hook_exec_command, sizeof e->cfg.hook_exec_command, "echo back");
    uv_update_time(&e->loop);
    uint64_t t0 = uv_now(&e->loop);
    env_attach(e);
    env_run(e);
    uv_update_time(&e->loop);
    assert_int_equal(e->f.calls, 1);
    assert_true(uv_now(&e->loop) - t0 >= 300); /* waited for the stored next_at */
    assert_int_equal(pending(e), 0);
    env_free(e);
}

static bool admit_not_m2(void *ud, const struct wa_inmsg *m)
{
    (*(int *)ud)++;
    return strcmp(m->id, "A2") != 0;
}

/* The admit filter (an access policy) sees every pending row; a refused one is settled. */
static void test_admit_filter(void **state)
{
    struct env *e = env_new("echo ok");
    chhook_close(e->h);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    int calls = 0;
    struct chhook_opts o = {.account = "acct",
                            .creds = &e->creds,
                            .cfg = &e->cfg,
                            .events = e->ev,
                            .send = fake_send,
                            .send_ud = &e->f,
                            .admit = admit_not_m2,
                            .admit_ud = &calls};
    assert_int_equal(chhook_new(&e->loop, &o, &e->h), 0);
    chhook_set_store(e->h, e->db);
    msg(e, ALICE, ALICE, "A1", "text", "x");
    msg(e, ALICE, ALICE, "A2", "text", "x");
    env_run(e);
    assert_int_equal(e->f.calls, 1);
    assert_string_equal(e->f.key[0], "hook:acct:A1");
    assert_true(calls >= 2);
    assert_int_equal(pending(e), 0);
    struct chhook_stats st;
    chhook_get_stats(e->h, &st);
    assert_int_equal(st.skipped, 1);
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
    msg(e, ALICE, ALICE, "K2", "text", "x"); /* waits */
    uv_run(&e->loop, UV_RUN_NOWAIT);
    uv_update_time(&e->loop);
    uint64_t t0 = uv_now(&e->loop);
    chhook_close(e->h);
    e->h = NULL;
    uv_run(&e->loop, UV_RUN_DEFAULT); /* returns once the killed child is reaped */
    uv_update_time(&e->loop);
    assert_true(uv_now(&e->loop) - t0 < 1000);
    assert_int_equal(e->f.calls, 0);
    assert_int_equal(e->f.nevents, 0); /* nothing published after close */
    assert_int_equal(pending(e), 2);   /* both still owed to the agent */
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
    chhook_set_store(NULL, NULL);
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
        cmocka_unit_test(test_failed_runs_are_retried),
        cmocka_unit_test(test_gives_up_after_max_attempts),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_limits_backlog_in_the_inbox),
        cmocka_unit_test(test_same_message_twice_one_reply),
        cmocka_unit_test(test_crash_mid_run_runs_again_once),
        cmocka_unit_test(test_backoff_survives_a_restart),
        cmocka_unit_test(test_admit_filter),
        cmocka_unit_test(test_reload_applies_to_next_message),
        cmocka_unit_test(test_close_kills_running_hooks),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
