/* SPDX-License-Identifier: MIT */
/* test_token.c -- token file creation, permissions, garbled files, compare. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/token.h"

#include <openssl/crypto.h>

/* Seam: count the calls that go through the constant-time compare. */
static int memcmp_calls;
static int counting_memcmp(const void *a, const void *b, size_t len)
{
    memcmp_calls++;
    return CRYPTO_memcmp(a, b, len);
}

static char dir[256];

static int setup(void **st)
{
    snprintf(dir, sizeof(dir), "/tmp/wagate-test-token-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/token", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/token.tmp", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

static void write_file(const char *content, size_t n, mode_t mode)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/token", dir);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void test_create_then_load(void **st)
{
    char tok[129], tok2[129], err[512];
    /* a stale tmp file from a crash does not get in the way */
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s/token.tmp", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err)), 0);
    assert_int_equal(strlen(tok), 64);
    for (int i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", tok[i]));
    char p[300];
    snprintf(p, sizeof(p), "%s/token", dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 65);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
    assert_int_equal(api_token_load_or_create(dir, tok2, sizeof(tok2), err, sizeof(err)), 0);
    assert_string_equal(tok, tok2);
    /* two fresh tokens differ */
    unlink(p);
    assert_int_equal(api_token_load_or_create(dir, tok2, sizeof(tok2), err, sizeof(err)), 0);
    assert_string_not_equal(tok, tok2);
    /* a too-small output buffer */
    unlink(p);
    assert_int_equal(api_token_load_or_create(dir, tok2, 10, err, sizeof(err)), -ENOBUFS);
}

static void test_bad_permissions(void **st)
{
    char tok[129], err[512];
    write_file("0123456789abcdef0123456789abcdef\n", 33, 0644);
    assert_int_equal(api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, "token"));
    write_file("0123456789abcdef0123456789abcdef\n", 33, 0640);
    assert_int_equal(api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err)), -EPERM);
    write_file("0123456789abcdef0123456789abcdef\n", 33, 0600);
    assert_int_equal(api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err)), 0);
    assert_string_equal(tok, "0123456789abcdef0123456789abcdef");
}

static void test_garbled(void **st)
{
    char tok[300], err[512];
    const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"", 0},
        {"\n", 1},
        {"short\n", 6},
        {"0123456789abcdef 0123456789abcdef\n", 34},
        {"0123456789abcdef\n0123456789abcdef\n", 34},
        {"0123456789abcdef\0"
         "0123456789abcdef",
         33},
        {"0123456789abcdef\x80\x81", 18},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(bad[i].s, bad[i].n, 0600);
        err[0] = '\0';
        int r = api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err));
        if (r != -EBADMSG) fail_msg("case %zu: rc %d", i, r);
        assert_non_null(strstr(err, dir));
    }
    char big[400];
    memset(big, 'a', sizeof(big));
    write_file(big, sizeof(big), 0600);
    assert_int_equal(api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err)), -EBADMSG);
}

static void test_symlink_and_missing_dir(void **st)
{
    char tok[129], err[512], p[300];
    snprintf(p, sizeof(p), "%s/token", dir);
    unlink(p);
    assert_int_equal(symlink("/etc/hostname", p), 0);
    assert_int_equal(api_token_load_or_create(dir, tok, sizeof(tok), err, sizeof(err)), -EINVAL);
    unlink(p);
    assert_true(
        api_token_load_or_create("/nonexistent/wagate", tok, sizeof(tok), err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/nonexistent/wagate"));
}

static void test_compare(void **st)
{
    const char *t = "0123456789abcdef0123456789abcdef";
    assert_ptr_equal(api_token__memcmp, CRYPTO_memcmp); /* the default is OpenSSL's */
    api_token__memcmp = counting_memcmp;
    memcmp_calls = 0;
    assert_true(api_token_equal(t, "0123456789abcdef0123456789abcdef"));
    assert_int_equal(memcmp_calls, 1);
    assert_false(api_token_equal(t, "0123456789abcdef0123456789abcdeX"));
    assert_false(api_token_equal(t, "0123456789abcdef0123456789abcdef0"));
    assert_false(api_token_equal(t, "0"));
    assert_int_equal(memcmp_calls, 4); /* every mismatch went through CRYPTO_memcmp */
    api_token__memcmp = CRYPTO_memcmp;
    assert_false(api_token_equal(t, ""));
    assert_false(api_token_equal(t, NULL));
    assert_false(api_token_equal("", ""));
    assert_true(api_token_valid(t));
    assert_false(api_token_valid("short"));
    assert_false(api_token_valid("0123456789abcdef 123"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_then_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_and_missing_dir, setup, teardown),
        cmocka_unit_test(test_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
