/* SPDX-License-Identifier: MIT */
/* test_buf.c -- the capped byte buffer and hex helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/hex.h"

/* Regression: reserving 0 bytes in a fresh buffer left data NULL, and callers
 * computed data + len on it (found by fuzz_noise_transport under clang UBSan). */
static void test_reserve_zero_gives_memory(void **state)
{
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(buf_reserve(&b, 0), 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    buf_init(&b, 1); /* a cap smaller than the first allocation step */
    assert_int_equal(buf_reserve(&b, 0), 0);
    assert_non_null(b.data);
    assert_int_equal(buf_append_byte(&b, 7), 0);
    assert_int_equal(buf_append_byte(&b, 8), -ENOBUFS);
    buf_free(&b);
}

static void test_cap_is_hard(void **state)
{
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
    assert_int_equal(b.len, 10); /* unchanged on failure */
    assert_int_equal(buf_reserve(&b, SIZE_MAX), -ENOBUFS);
    buf_consume(&b, 4);
    assert_memory_equal(b.data, "456789", 6);
    assert_int_equal(buf_printf(&b, "%d", 1234), 0);
    assert_memory_equal(b.data, "4567891234", 10);
    assert_int_equal(buf_printf(&b, "%d", 5), -ENOBUFS);
    buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_hex(void **state)
{
    uint8_t out[4];
    char txt[9];
    assert_int_equal(hex_decode(out, sizeof out, "DEad be\nEF", 10), 4);
    hex_encode(txt, out, 4);
    assert_string_equal(txt, "deadbeef");
    assert_int_equal(hex_decode(out, sizeof out, "abc", 3), -EINVAL);
    assert_int_equal(hex_decode(out, sizeof out, "zz", 2), -EINVAL);
    assert_int_equal(hex_decode(out, 2, "001122", 6), -ENOBUFS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_zero_gives_memory),
        cmocka_unit_test(test_cap_is_hard),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
