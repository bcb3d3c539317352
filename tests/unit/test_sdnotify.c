/* SPDX-License-Identifier: MIT */
/* test_sdnotify.c -- sd_notify datagrams on sockets of the test's own: a filesystem path and
 * an abstract name, the watchdog interval and its pid, malformed addresses, the variables
 * taken out of the environment, STATUS= text without newlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gw/sdnotify.h"

/* A datagram socket bound to name ("/path" or "@abstract"); returns the fd. */
static int receiver(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(a.sun_path, name, len);
    if (name[0] == '@') a.sun_path[0] = '\0';
    socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
    assert_int_equal(bind(fd, (struct sockaddr *)&a, al), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[SDNOTIFY_MAX + 16];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
    char dir[] = "/tmp/wagate-sdn-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = receiver(path);
    setenv("NOTIFY_SOCKET", path, 1);
    struct sdnotify n;
    assert_int_equal(sdnotify_open(&n), 0);
    assert_true(sdnotify_enabled(&n));
    assert_null(getenv("NOTIFY_SOCKET")); /* children do not inherit it */
    assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
    expect_datagram(fd, "READY=1");
    assert_int_equal(sdnotify_status(&n, "two\nlines %d", 2), 0);
    expect_datagram(fd, "STATUS=two lines 2");
    assert_int_equal(sdnotify_send(&n, "STOPPING=1"), 0);
    expect_datagram(fd, "STOPPING=1");
    sdnotify_close(&n);
    close(fd);
    unlink(path);
    rmdir(dir);
}

static void test_abstract_socket(void **state)
{
    char name[64];
    snprintf(name, sizeof name, "@wagate-test-sdnotify-%ld", (long)getpid());
    int fd = receiver(name);
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "2000000", 1);
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    struct sdnotify n;
    assert_int_equal(sdnotify_open(&n), 0);
    assert_int_equal(n.watchdog_usec, 2000000);
    assert_null(getenv("WATCHDOG_USEC"));
    assert_null(getenv("WATCHDOG_PID"));
    assert_int_equal(sdnotify_send(&n, "WATCHDOG=1"), 0);
    expect_datagram(fd, "WATCHDOG=1");
    sdnotify_close(&n);
    close(fd);
}

static void test_watchdog_for_another_pid(void **state)
{
    setenv("NOTIFY_SOCKET", "@wagate-test-nobody", 1);
    setenv("WATCHDOG_USEC", "1000000", 1);
    setenv("WATCHDOG_PID", "1", 1); /* not us */
    struct sdnotify n;
    assert_int_equal(sdnotify_open(&n), 0);
    assert_int_equal(n.watchdog_usec, 0);
    /* nobody listens on that name: the report is lost, the caller is told, nothing blocks */
    int r = sdnotify_send(&n, "READY=1");
    assert_true(r == -ECONNREFUSED || r == -ENOENT);
    sdnotify_close(&n);
    setenv("NOTIFY_SOCKET", "@wagate-test-nobody", 1);
    setenv("WATCHDOG_USEC", "12x", 1);
    assert_int_equal(sdnotify_open(&n), 0);
    assert_int_equal(n.watchdog_usec, 0);
    sdnotify_close(&n);
}

static void test_unset_and_malformed(void **state)
{
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "1000000", 1);
    struct sdnotify n;
    assert_int_equal(sdnotify_open(&n), 0);
    assert_false(sdnotify_enabled(&n));
    assert_int_equal(n.watchdog_usec, 0); /* no one to ping */
    assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
    assert_int_equal(sdnotify_status(&n, "x"), 0);
    sdnotify_close(&n);
    const char *bad[] = {"relative/path", "@", "/", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("NOTIFY_SOCKET", bad[i], 1);
        int r = sdnotify_open(&n);
        assert_int_equal(r, bad[i][0] ? -EINVAL : 0);
        assert_false(sdnotify_enabled(&n));
        sdnotify_close(&n);
    }
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    setenv("NOTIFY_SOCKET", longp, 1);
    assert_int_equal(sdnotify_open(&n), -EINVAL);
    sdnotify_close(&n);
}

static void test_oversized_report(void **state)
{
    char name[64];
    snprintf(name, sizeof name, "@wagate-test-sdnotify-big-%ld", (long)getpid());
    int fd = receiver(name);
    setenv("NOTIFY_SOCKET", name, 1);
    struct sdnotify n;
    assert_int_equal(sdnotify_open(&n), 0);
    char *big = malloc(SDNOTIFY_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', SDNOTIFY_MAX + 1);
    big[SDNOTIFY_MAX + 1] = '\0';
    assert_int_equal(sdnotify_send(&n, big), -EMSGSIZE);
    /* a long STATUS is cut to fit, not refused */
    assert_int_equal(sdnotify_status(&n, "%s", big), 0);
    char buf[SDNOTIFY_MAX + 16];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    assert_int_equal(got, SDNOTIFY_MAX);
    assert_memory_equal(buf, "STATUS=xxx", 10);
    free(big);
    sdnotify_close(&n);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_socket),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_watchdog_for_another_pid),
        cmocka_unit_test(test_unset_and_malformed),
        cmocka_unit_test(test_oversized_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
