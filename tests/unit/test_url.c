/* SPDX-License-Identifier: MIT */
/* test_url.c -- ws:// / wss:// URL parser and outcome text helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "net/outcome.h"
#include "net/url.h"

static void test_wss_default(void **state)
{
    struct nurl u;
    char err[128], hp[300];

    assert_int_equal(nurl_parse("wss://web.whatsapp.com/ws/chat", &u, err, sizeof(err)), 0);
    assert_true(u.tls);
    assert_string_equal(u.host, "web.whatsapp.com");
    assert_int_equal(u.port, 443);
    assert_false(u.port_explicit);
    assert_int_equal(u.ip_family, 0);
    assert_string_equal(u.path, "/ws/chat");
    assert_string_equal(nurl_hostport(&u, hp, sizeof(hp)), "web.whatsapp.com:443");
}

static void test_ws_ipv4_port(void **state)
{
    struct nurl u;
    char err[128];

    assert_int_equal(nurl_parse("WS://127.0.0.1:8080", &u, err, sizeof(err)), 0);
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_true(u.port_explicit);
    assert_int_equal(u.ip_family, AF_INET);
    assert_string_equal(u.path, "/");
}

static void test_ipv6(void **state)
{
    struct nurl u;
    char err[128], hp[300];

    assert_int_equal(nurl_parse("wss://[::1]:9443/x?y=1", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.ip_family, AF_INET6);
    assert_int_equal(u.port, 9443);
    assert_string_equal(u.path, "/x?y=1");
    assert_string_equal(nurl_hostport(&u, hp, sizeof(hp)), "[::1]:9443");
    assert_int_equal(nurl_parse("ws://[::1]", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, 80);
}

static void test_query_without_path(void **state)
{
    struct nurl u;
    char err[128];

    assert_int_equal(nurl_parse("ws://h?q", &u, err, sizeof(err)), 0);
    assert_string_equal(u.path, "/?q");
}

static void expect_bad(const char *url, const char *why)
{
    struct nurl u;
    char err[128];

    assert_int_equal(nurl_parse(url, &u, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, why));
}

static void test_errors(void **state)
{
    char longhost[400], longpath[1200];

    expect_bad("http://x/", "scheme");
    expect_bad("ws://", "empty host");
    expect_bad("ws:///path", "empty host");
    expect_bad("ws://a b/", "invalid character in host");
    expect_bad("ws://h:/", "missing port");
    expect_bad("ws://h:0/", "port 0");
    expect_bad("ws://h:65536/", "port out of range");
    expect_bad("ws://h:123456/", "port out of range");
    expect_bad("ws://h:80x/", "invalid character after port");
    expect_bad("ws://[::1/", "missing ']'");
    expect_bad("ws://[zz]/", "invalid IPv6");
    expect_bad("ws://[::1]x/", "invalid character after host");
    expect_bad("ws://user@h/", "user-info");
    expect_bad("ws://h/a#frag", "fragments");
    expect_bad("ws://h/a b", "invalid character in path");
    memset(longhost, 'a', sizeof(longhost));
    memcpy(longhost, "ws://", 5);
    longhost[sizeof(longhost) - 1] = '\0';
    expect_bad(longhost, "host too long");
    memset(longpath, 'p', sizeof(longpath));
    memcpy(longpath, "ws://h/", 7);
    longpath[sizeof(longpath) - 1] = '\0';
    expect_bad(longpath, "path too long");

    struct nurl u;
    char err[8];
    assert_int_equal(nurl_parse(NULL, &u, err, sizeof(err)), -EINVAL);
    assert_int_equal(strlen(err), 6); /* truncated, NUL-terminated */
}

static void test_outcome_text(void **state)
{
    struct nout o;

    nout_clear(&o);
    assert_int_equal(o.stage, NOUT_NONE);
    nout_set(&o, NOUT_CONNECT, NOUT_C_ERRNO, -ECONNREFUSED, 0, "connect: %s %s",
             nout_errno_name(-ECONNREFUSED), "127.0.0.1:443");
    assert_string_equal(o.text, "connect: ECONNREFUSED 127.0.0.1:443");
    assert_string_equal(nout_errno_name(ECONNRESET), "ECONNRESET");
    assert_string_equal(nout_errno_name(-99999), "EUNKNOWN");
    assert_string_equal(nout_stage_name(NOUT_TLS), "tls");
    assert_true(nout_is_transient(&o));
    o.stage = NOUT_URL;
    assert_false(nout_is_transient(&o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wss_default), cmocka_unit_test(test_ws_ipv4_port),
        cmocka_unit_test(test_ipv6),        cmocka_unit_test(test_query_without_path),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_outcome_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
