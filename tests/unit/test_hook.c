/* SPDX-License-Identifier: MIT */
/* test_hook.c -- the exec hook: reply, failures, deadline, cap, cancel, no blocking. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "gw/hook.h"

struct result {
    int calls, status;
    char reply[256], detail[128];
    uint64_t at_ms;
};

static void done(void *ud, int status, const char *reply, const char *detail)
{
    struct result *r = ud;
    r->calls++;
    r->status = status;
    r->at_ms = uv_now(uv_default_loop());
    snprintf(r->reply, sizeof r->reply, "%s", reply ? reply : "(null)");
    snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
}

/* Run one hook to completion on a fresh loop. */
static struct result run(const char *cmd, const char *input, size_t len, unsigned timeout_ms)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r = {0};
    struct gw_hook *h;
    assert_int_equal(gw_hook_run(&loop, cmd, input, len, timeout_ms, done, &r, &h), 0);
    assert_int_equal(r.calls, 0); /* never from inside the call that started it */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    return r;
}

static void test_reply_is_stdout(void **state)
{
    const char *msg = "{\"text\":\"hello\"}";
    struct result r = run("cat; echo", msg, strlen(msg), 5000);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.reply, msg); /* trailing newline trimmed */
    r = run("true", msg, strlen(msg), 5000);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.reply, "");
}

static void test_failures_are_reported(void **state)
{
    struct result r = run("exit 3", "", 0, 5000);
    assert_int_equal(r.status, -ECHILD);
    assert_string_equal(r.detail, "exit status 3");
    assert_string_equal(r.reply, "(null)");
    r = run("kill -TERM $$", "", 0, 5000);
    assert_int_equal(r.status, -ECHILD);
    assert_string_equal(r.detail, "killed by signal 15");
    r = run("/nonexistent/agent", "", 0, 5000);
    assert_int_equal(r.status, -ECHILD); /* sh reports 127 */
    assert_string_equal(r.detail, "exit status 127");
}

static void test_deadline_kills(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r = {0};
    struct gw_hook *h;
    uint64_t t0 = uv_hrtime();
    assert_int_equal(gw_hook_run(&loop, "sleep 10", "", 0, 200, done, &r, &h), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.status, -ETIMEDOUT);
    assert_true(ms < 2000); /* the shell's child (sleep) is killed too */
}

static void test_output_cap(void **state)
{
    struct result r = run("head -c 200000 /dev/zero | tr '\\0' x", "", 0, 5000);
    assert_int_equal(r.status, -EMSGSIZE);
}

static void test_large_input_unread(void **state)
{
    size_t n = 4u << 20; /* more than any pipe buffer: the child never reads it */
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    struct result r = run("echo ok", big, n, 5000);
    free(big);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.reply, "ok");
}

static void test_cancel(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r = {0};
    struct gw_hook *h;
    assert_int_equal(gw_hook_run(&loop, "sleep 10", "", 0, 60000, done, &r, &h), 0);
    gw_hook_cancel(h);
    assert_int_equal(r.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, -ECANCELED);
}

static void test_bad_arguments(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r = {0};
    struct gw_hook *h;
    assert_int_equal(gw_hook_run(&loop, "", "", 0, 100, done, &r, &h), -EINVAL);
    assert_int_equal(gw_hook_run(&loop, "true", NULL, 3, 100, done, &r, &h), -EINVAL);
    assert_int_equal(gw_hook_run(&loop, "true", "", 0, 100, NULL, &r, &h), -EINVAL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the daemon does */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_is_stdout),    cmocka_unit_test(test_failures_are_reported),
        cmocka_unit_test(test_deadline_kills),     cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_large_input_unread), cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
