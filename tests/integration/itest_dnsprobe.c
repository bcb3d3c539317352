/* SPDX-License-Identifier: MIT */
/* itest_dnsprobe.c -- gw/dnsprobe.h against the real wagate-testdns (a child, switched
 * through its control file): options checked; an IP-literal endpoint has no probe; while the
 * name fails (NXDOMAIN, SERVFAIL, no answer) the probe keeps asking, at most once per
 * interval (+ the resolver timeout), and never calls back; once it resolves, exactly one
 * callback and the probe is idle; stop from inside the callback and restart work; close with
 * a query in flight releases everything (ASan) and never calls back.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "gw/dnsprobe.h"

#define HOST "probe.wa.test"

static char tmpdir[64], dns_ctl[128], dns_server[64];
static pid_t dns_pid;

static void set_dns(const char *action)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", dns_ctl);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f, "%s %s\n", HOST, action);
    fclose(f);
    assert_int_equal(rename(tmp, dns_ctl), 0);
}

static void start_testdns(void)
{
    const char *build = getenv("WAGATE_BUILD");
    char bin[512], line[128] = "";
    int pfd[2];
    size_t off = 0;
    assert_non_null(build);
    snprintf(bin, sizeof bin, "%s/wagate-testdns", build);
    assert_int_equal(pipe(pfd), 0);
    dns_pid = fork();
    assert_true(dns_pid >= 0);
    if (dns_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--control", dns_ctl, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    while (off < sizeof line - 1 && !strchr(line, '\n')) {
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = read(pfd[0], line + off, sizeof line - 1 - off);
        assert_true(n > 0);
        off += (size_t)n;
        line[off] = '\0';
    }
    close(pfd[0]);
    assert_int_equal(sscanf(line, "listening %63s", dns_server), 1);
}

struct h {
    uv_loop_t loop;
    struct dnsprobe *p;
    int resolved;
    bool stop_in_cb, restart_in_cb;
};

static void on_resolved(void *ud)
{
    struct h *h = ud;
    h->resolved++;
    assert_false(dnsprobe_active(h->p)); /* idle before the callback */
    if (h->stop_in_cb) dnsprobe_stop(h->p);
    if (h->restart_in_cb) dnsprobe_start(h->p);
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for ms (or until uv_stop). */
static void run_for(struct h *h, unsigned ms)
{
    uv_timer_t t;
    uv_timer_init(&h->loop, &t);
    uv_timer_start(&t, on_stop_timer, ms, 0);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&h->loop, UV_RUN_NOWAIT);
}

static void h_init(struct h *h, unsigned interval_ms)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    const char *servers[] = {dns_server};
    struct dnsprobe_opts o = {.host = HOST,
                              .servers = servers,
                              .nservers = 1,
                              .interval_ms = interval_ms,
                              .timeout_ms = 300};
    assert_int_equal(dnsprobe_new(&h->loop, &o, on_resolved, h, &h->p), 0);
}

static void h_done(struct h *h)
{
    dnsprobe_close(h->p);
    uv_run(&h->loop, UV_RUN_DEFAULT); /* the close callbacks */
    assert_int_equal(uv_loop_close(&h->loop), 0);
}

static void test_options(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct dnsprobe *p = (struct dnsprobe *)1;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct dnsprobe_opts o = {.host = ""};
    assert_int_equal(dnsprobe_new(&loop, &o, on_resolved, NULL, &p), -EINVAL);
    assert_null(p);
    o.host = HOST;
    assert_int_equal(dnsprobe_new(&loop, &o, NULL, NULL, &p), -EINVAL);
    o.nservers = 9;
    assert_int_equal(dnsprobe_new(&loop, &o, on_resolved, NULL, &p), -EINVAL);
    /* an IP-literal endpoint: nothing to probe */
    assert_int_equal(
        dnsprobe_new_for_url(&loop, "ws://127.0.0.1:8080/ws/chat", NULL, 0, on_resolved, NULL, &p),
        0);
    assert_null(p);
    assert_int_equal(dnsprobe_new_for_url(&loop, "ftp://x", NULL, 0, on_resolved, NULL, &p),
                     -EINVAL);
    assert_int_equal(dnsprobe_new_for_url(&loop, "wss://web.whatsapp.com/ws/chat", NULL, 0,
                                          on_resolved, NULL, &p),
                     0);
    assert_non_null(p);
    dnsprobe_stop(NULL);
    dnsprobe_close(NULL);
    dnsprobe_close(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Failing names: queries at the interval, no callback; then it resolves: one callback. */
static void test_failing_then_back(void **state)
{
    (void)state;
    static const char *const modes[] = {"nxdomain", "servfail", "drop"};
    for (size_t m = 0; m < 3; m++) {
        struct h h;
        h_init(&h, 200);
        set_dns(modes[m]);
        dnsprobe_start(h.p);
        dnsprobe_start(h.p); /* no-op while probing */
        run_for(&h, 1100);
        unsigned q = dnsprobe_queries(h.p);
        /* NXDOMAIN/SERVFAIL: every 200 ms -> ~5; no answer: every 200 + 300 ms -> ~2 */
        printf("# %s: %u queries in 1.1 s (interval 200 ms, timeout 300 ms)\n", modes[m], q);
        assert_true(q >= 1 && q <= 6);
        assert_int_equal(h.resolved, 0);
        assert_true(dnsprobe_active(h.p));
        set_dns("a:127.0.0.1");
        run_for(&h, 1200);
        assert_int_equal(h.resolved, 1);
        assert_false(dnsprobe_active(h.p));
        unsigned q2 = dnsprobe_queries(h.p);
        run_for(&h, 500); /* idle: no more queries */
        assert_int_equal(dnsprobe_queries(h.p), q2);
        h_done(&h);
    }
}

static void test_stop_restart_in_cb(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, 100);
    set_dns("a:127.0.0.1");
    h.stop_in_cb = true;
    dnsprobe_start(h.p);
    run_for(&h, 500);
    assert_int_equal(h.resolved, 1);
    h.stop_in_cb = false;
    h.restart_in_cb = true; /* the owner starts it again from inside the callback */
    dnsprobe_start(h.p);
    run_for(&h, 550);
    assert_true(h.resolved >= 3);
    assert_true(dnsprobe_active(h.p));
    h_done(&h);
}

/* Stop cancels a query in flight; close with one in flight never calls back. */
static void test_cancel_in_flight(void **state)
{
    (void)state;
    struct h h;
    h_init(&h, 50);
    set_dns("drop");
    dnsprobe_start(h.p);
    run_for(&h, 120); /* a query is now waiting for its 300 ms timeout */
    assert_int_equal(dnsprobe_queries(h.p), 1);
    set_dns("a:127.0.0.1");
    dnsprobe_stop(h.p);
    run_for(&h, 600);
    assert_int_equal(h.resolved, 0);
    assert_int_equal(dnsprobe_queries(h.p), 1);
    set_dns("drop");
    dnsprobe_start(h.p);
    run_for(&h, 120);
    h_done(&h); /* closed with a query in flight */
    assert_int_equal(h.resolved, 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/itest-dnsprobe-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(dns_ctl, sizeof dns_ctl, "%s/dns.ctl", tmpdir);
    set_dns("nxdomain");
    start_testdns();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (dns_pid > 0) {
        kill(dns_pid, SIGKILL);
        waitpid(dns_pid, NULL, 0);
    }
    unlink(dns_ctl);
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_failing_then_back),
        cmocka_unit_test(test_stop_restart_in_cb),
        cmocka_unit_test(test_cancel_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
