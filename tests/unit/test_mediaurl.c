/* SPDX-License-Identifier: MIT */
/* test_mediaurl.c -- which URLs a file to send may come from (gw/mediaurl: media.url_allow
 * prefixes, dot segments and encoded separators refused) and the config key's checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw/mediaurl.h"

static const char allow[][MEDIAURL_PREFIX_MAX] = {"https://files.example.com/agent/",
                                                  "http://127.0.0.1:8080/ok/"};

static int ok(const char *url)
{
    char err[200] = "";
    int rc = mediaurl_allowed(url, allow, 2, err, sizeof err);
    if (rc < 0) assert_true(err[0] != '\0');
    return rc;
}

static void test_prefix_check(void **state)
{
    (void)state;
    char err[200];
    assert_int_equal(mediaurl_prefix_check("https://files.example.com/agent/", err, sizeof err), 0);
    assert_int_equal(mediaurl_prefix_check("http://[::1]:9/x/", err, sizeof err), 0);
    assert_int_equal(mediaurl_prefix_check("https://files.example.com", err, sizeof err), -EINVAL);
    assert_int_equal(mediaurl_prefix_check("https://files.example.com/agent", err, sizeof err),
                     -EINVAL);
    assert_int_equal(mediaurl_prefix_check("ftp://files.example.com/", err, sizeof err), -EINVAL);
    assert_int_equal(mediaurl_prefix_check("https://u:p@files.example.com/", err, sizeof err),
                     -EINVAL);
    assert_int_equal(mediaurl_prefix_check("https://h/a/?x=", err, sizeof err), -EINVAL);
    assert_int_equal(mediaurl_prefix_check("", err, sizeof err), -EINVAL);
}

static void test_allowed(void **state)
{
    (void)state;
    assert_int_equal(ok("https://files.example.com/agent/a.jpg"), 0);
    assert_int_equal(ok("HTTPS://Files.Example.COM/agent/sub/a.jpg?sig=1"), 0);
    assert_int_equal(ok("http://127.0.0.1:8080/ok/x%20y.pdf"), 0);
    assert_int_equal(ok("https://files.example.com/agent/..a/b...c/"), 0); /* not dot segments */
    /* not under a prefix */
    assert_int_equal(ok("https://files.example.com/agentx/a.jpg"), -EACCES);
    assert_int_equal(ok("https://files.example.com/Agent/a.jpg"), -EACCES); /* path: exact */
    assert_int_equal(ok("https://files.example.com.evil.org/agent/a.jpg"), -EACCES);
    assert_int_equal(ok("http://files.example.com/agent/a.jpg"), -EACCES); /* scheme */
    assert_int_equal(ok("http://127.0.0.1:8081/ok/a"), -EACCES);           /* port */
    assert_int_equal(ok("https://files.example.com/"), -EACCES);
    /* leaving the prefix */
    assert_int_equal(ok("https://files.example.com/agent/../secret"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/a/../../secret"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/%2e%2E/secret"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/.%2e"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/./a"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/..%2fsecret"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/..%5Csecret"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/a\\..\\b"), -EINVAL);
    /* the query is not a path: dots there are fine */
    assert_int_equal(ok("https://files.example.com/agent/a?p=../x"), 0);
    /* not URLs we fetch */
    assert_int_equal(ok("file:///etc/passwd"), -EINVAL);
    assert_int_equal(ok("https://u:p@files.example.com/agent/a"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/a#frag"), -EINVAL);
    assert_int_equal(ok("https://files.example.com/agent/a b"), -EINVAL);
    /* no prefixes: off */
    char err[200];
    assert_int_equal(
        mediaurl_allowed("https://files.example.com/agent/a", NULL, 0, err, sizeof err), -EACCES);
    assert_non_null(strstr(err, "media.url_allow"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_check),
        cmocka_unit_test(test_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
