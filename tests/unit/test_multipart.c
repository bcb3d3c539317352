/* SPDX-License-Identifier: MIT */
/* test_multipart.c -- multipart/form-data bodies (api/multipart): the boundary parameter,
 * well-formed bodies as curl and browsers send them, and every malformed or over-cap shape
 * refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/multipart.h"

static int parse(const char *body, size_t len, struct mp_part *p, size_t *n, char *err)
{
    return mp_parse((const uint8_t *)body, len, "XyZ", p, MP_PARTS_MAX, n, err, 200);
}

static void test_boundary(void **state)
{
    (void)state;
    char b[MP_BOUNDARY_MAX + 1];
    assert_int_equal(mp_boundary("multipart/form-data; boundary=abc123", b, sizeof b), 0);
    assert_string_equal(b, "abc123");
    assert_int_equal(
        mp_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b'c\"", b, sizeof b), 0);
    assert_string_equal(b, "a b'c");
    assert_int_equal(
        mp_boundary("multipart/form-data;boundary=----WebKitFormBoundaryx7", b, sizeof b), 0);
    assert_string_equal(b, "----WebKitFormBoundaryx7");
    assert_int_equal(mp_boundary("application/json", b, sizeof b), -ENOENT);
    assert_int_equal(mp_boundary("multipart/form-datax; boundary=a", b, sizeof b), -ENOENT);
    assert_int_equal(mp_boundary(NULL, b, sizeof b), -ENOENT);
    assert_int_equal(mp_boundary("multipart/form-data", b, sizeof b), -EINVAL);
    assert_int_equal(mp_boundary("multipart/form-data; boundary=", b, sizeof b), -EINVAL);
    assert_int_equal(mp_boundary("multipart/form-data; boundary=\"abc", b, sizeof b), -EINVAL);
    assert_int_equal(mp_boundary("multipart/form-data; boundary=a{b", b, sizeof b), -EINVAL);
    char longb[120] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'a', 71);
    assert_int_equal(mp_boundary(longb, b, sizeof b), -EINVAL);
}

static void test_parts(void **state)
{
    (void)state;
    static const char body[] = "preamble to ignore\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"to\"\r\n"
                               "\r\n"
                               "+15550002\r\n"
                               "--XyZ  \r\n"
                               "content-disposition: form-data; name=caption\r\n"
                               "\r\n"
                               "line one\r\nline two\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"file\"; "
                               "filename=\"C:\\\\photos\\\\a;b \\\"c\\\".jpg\"\r\n"
                               "Content-Type: image/jpeg  \r\n"
                               "\r\n"
                               "\xff\xd8\x00\r\n--XyY\xff\xd9\r\n"
                               "--XyZ\r\n"
                               "Content-Disposition: form-data; name=\"empty\"\r\n"
                               "\r\n"
                               "\r\n"
                               "--XyZ--\r\nepilogue";
    struct mp_part p[MP_PARTS_MAX];
    size_t n = 0;
    char err[200] = "";
    assert_int_equal(parse(body, sizeof body - 1, p, &n, err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(p[0].name, "to");
    assert_false(p[0].has_filename);
    assert_int_equal(p[0].len, 9);
    assert_memory_equal(p[0].data, "+15550002", 9);
    assert_string_equal(p[1].name, "caption");
    assert_int_equal(p[1].len, 18);
    assert_memory_equal(p[1].data, "line one\r\nline two", 18);
    assert_string_equal(p[2].name, "file");
    assert_true(p[2].has_filename);
    assert_string_equal(p[2].filename, "a;b \"c\".jpg"); /* the last path component */
    assert_string_equal(p[2].content_type, "image/jpeg");
    assert_int_equal(p[2].len, 12); /* binary, with a near-delimiter inside */
    assert_memory_equal(p[2].data, "\xff\xd8\x00\r\n--XyY\xff\xd9", 12);
    assert_int_equal(p[3].len, 0);
    assert_null(p[3].data);
    assert_ptr_equal(mp_find(p, n, "caption"), &p[1]);
    assert_null(mp_find(p, n, "nope"));
    /* the first delimiter at the very start, LF-only preamble before none */
    static const char b2[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--";
    assert_int_equal(parse(b2, sizeof b2 - 1, p, &n, err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].len, 1);
    /* headers straight into the next delimiter: no body section (found by fuzz_multipart:
     * the length underflowed) */
    static const char b3[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n--XyZ\r\n"
                             "Content-Disposition: form-data; name=b\r\n\r\nzz\r\n--XyZ--";
    assert_int_equal(parse(b3, sizeof b3 - 1, p, &n, err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(p[0].name, "a");
    assert_int_equal(p[0].len, 0);
    assert_null(p[0].data);
    assert_string_equal(p[1].name, "b");
    assert_int_equal(p[1].len, 2);
    assert_memory_equal(p[1].data, "zz", 2);
    /* no parts at all */
    assert_int_equal(parse("--XyZ--", 7, p, &n, err), 0);
    assert_int_equal(n, 0);
}

static void expect_bad(const char *body, const char *why)
{
    struct mp_part p[MP_PARTS_MAX];
    size_t n = 7;
    char err[200] = "";
    int rc = parse(body, strlen(body), p, &n, err);
    if (rc != -EBADMSG) fail_msg("accepted (%s): %s", why, body);
    assert_true(err[0] != '\0');
}

static void test_malformed(void **state)
{
    (void)state;
    expect_bad("", "empty");
    expect_bad("no delimiter here", "no delimiter");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx", "no closing");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ", "no end");
    expect_bad("--XyZx\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--",
               "junk after the delimiter");
    expect_bad("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", "no disposition");
    expect_bad("--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--XyZ--",
               "not form-data");
    expect_bad("--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--", "no name");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--XyZ--",
               "empty name");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ--",
               "unterminated quote");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=a; filename=\"\x01.jpg\"\r\n\r\n"
               "x\r\n--XyZ--",
               "control character in the filename");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=\"\xc3\x28\"\r\n\r\nx\r\n--XyZ--",
               "bad UTF-8 in the name");
    expect_bad("--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--", "header without a colon");
    expect_bad("--XyZ\r\nContent-Disposition: form-data; name=a\r\nx\r\n--XyZ--",
               "headers without a blank line");
    /* caps: a name over MP_NAME_MAX, a header line over MP_HEADER_MAX, too many headers,
     * too many parts */
    char buf[8192];
    char nm[MP_NAME_MAX + 1];
    memset(nm, 'n', MP_NAME_MAX);
    nm[MP_NAME_MAX] = '\0';
    snprintf(buf, sizeof buf,
             "--XyZ\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nx\r\n--XyZ--", nm);
    expect_bad(buf, "long name");
    char lh[MP_HEADER_MAX + 1];
    memset(lh, 'v', MP_HEADER_MAX);
    lh[MP_HEADER_MAX] = '\0';
    snprintf(buf, sizeof buf,
             "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX-Long: %s\r\n\r\nx\r\n--XyZ--",
             lh);
    expect_bad(buf, "long header line");
    size_t k = (size_t)snprintf(buf, sizeof buf, "--XyZ\r\n");
    for (int i = 0; i < MP_HEADERS_MAX; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "X-H%d: v\r\n", i);
    snprintf(buf + k, sizeof buf - k, "Content-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--");
    expect_bad(buf, "too many headers");
    k = 0;
    for (int i = 0; i <= MP_PARTS_MAX; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k,
                              "--XyZ\r\nContent-Disposition: form-data; name=p%d\r\n\r\nx\r\n", i);
    snprintf(buf + k, sizeof buf - k, "--XyZ--");
    expect_bad(buf, "too many parts");
    /* a NUL inside a header */
    static const char nul[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX: a\0b\r\n\r\n"
                              "x\r\n--XyZ--";
    struct mp_part p[MP_PARTS_MAX];
    size_t n;
    char err[200];
    assert_int_equal(parse(nul, sizeof nul - 1, p, &n, err), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
