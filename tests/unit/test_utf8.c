/* SPDX-License-Identifier: MIT */
/* test_utf8.c -- strict UTF-8 validation and repair (core/utf8), and the JSON forms that rely
 * on it (gw/json: a received message, any event tree). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "gw/json.h"
#include "wa/msg.h"

static void test_valid(void **state)
{
    const char *good[] = {"",
                          "abc",
                          "caf\xc3\xa9",
                          "\xe2\x82\xac",
                          "\xf0\x9f\x99\x82",
                          "\xed\x9f\xbf",
                          "\xf4\x8f\xbf\xbf",
                          "\xee\x80\x80"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(utf8_valid(good[i], strlen(good[i])));
    const char *bad[] = {
        "\xff",             /* never valid */
        "\x80",             /* stray continuation */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* lead byte out of range */
        "\xe2\x82",         /* truncated */
        "a\xc3",            /* truncated at the end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(utf8_valid(bad[i], strlen(bad[i])));
    assert_int_equal(utf8_first_invalid("ab\xffz", 4), 2);
    assert_int_equal(utf8_first_invalid("abc", 3), 3);
}

static void expect_repair(const char *in, size_t n, const char *want, int repl)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(utf8_repair(in, n, &out, &len), repl);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    assert_true(utf8_valid(out, len));
    free(out);
}

#define R UTF8_REPLACEMENT

static void test_repair_maximal_subparts(void **state)
{
    expect_repair("plain", 5, "plain", 0);
    expect_repair("a\xff"
                  "b",
                  3, "a" R "b", 1);
    /* a truncated 3-byte sequence is one replacement, not two */
    expect_repair("a\xe2\x82"
                  "c",
                  4, "a" R "c", 1);
    /* each stray continuation byte is its own */
    expect_repair("\x80\x80", 2, R R, 2);
    /* overlong and surrogate: the lead byte can never start them, so byte by byte */
    expect_repair("\xc0\xaf", 2, R R, 2);
    expect_repair("\xed\xa0\x80", 3, R R R, 3);
    /* a valid sequence right after a broken one survives */
    expect_repair("\xf0\x9f\xe2\x82\xac", 5, R "\xe2\x82\xac", 1);
    expect_repair("x\xf0\x9f\x99", 4, "x" R, 1);
}

/* The inbound path: a Message whose text is not UTF-8 decodes to repaired text, the bytes as
 * sent kept beside it; the JSON form is valid and carries them as base64. */
static void test_decode_and_json(void **state)
{
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = "a\xff"
                     "b";
    uint8_t buf[64];
    size_t n = wa__message__pack(&m, buf);
    struct wa_msg_info mi;
    assert_int_equal(wa_msg_decode(buf, n, &mi), 0);
    assert_string_equal(mi.type, "text");
    assert_string_equal(mi.text, "a" R "b");
    assert_int_equal(mi.text_len, 5);
    assert_int_equal(mi.text_repaired, 1);
    assert_int_equal(mi.text_raw_len, 3);
    assert_memory_equal(mi.text_raw,
                        "a\xff"
                        "b",
                        3);
    struct wa_inmsg im = {.cursor = 1,
                          .chat = "15550002@s.whatsapp.net",
                          .sender = "15550002@s.whatsapp.net",
                          .id = "ID\xfe",
                          .kind = WA_IN_TEXT,
                          .text = mi.text,
                          .text_len = mi.text_len,
                          .text_raw = (const uint8_t *)mi.text_raw,
                          .text_raw_len = mi.text_raw_len};
    cJSON *o = gw_inmsg_json("default", &im);
    char *s = cJSON_PrintUnformatted(o);
    assert_true(utf8_valid(s, strlen(s)));
    assert_non_null(strstr(s, "\"text\":\"a" R "b\""));
    assert_non_null(strstr(s, "\"text_raw_b64\":\"Yf9i\""));
    assert_non_null(strstr(s, "\"id\":\"ID" R "\""));
    free(s);
    cJSON_Delete(o);
    wa_msg_info_free(&mi);
    /* valid text: no raw copy, no text_raw_b64 */
    m.conversation = "fine";
    n = wa__message__pack(&m, buf);
    assert_int_equal(wa_msg_decode(buf, n, &mi), 0);
    assert_null(mi.text_raw);
    im.text = mi.text;
    im.text_len = mi.text_len;
    im.text_raw = NULL;
    im.text_raw_len = 0;
    o = gw_inmsg_json("default", &im);
    assert_null(cJSON_GetObjectItem(o, "text_raw_b64"));
    cJSON_Delete(o);
    wa_msg_info_free(&mi);
}

static void test_tree_repair(void **state)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ok", "fine");
    cJSON *in = cJSON_AddObjectToObject(o, "inner");
    cJSON_AddStringToObject(in, "error", "server said \xc3(");
    cJSON *arr = cJSON_AddArrayToObject(in, "list");
    cJSON_AddItemToArray(arr, cJSON_CreateString("\xe0\x80"));
    gw_json_make_utf8(o);
    char *s = cJSON_PrintUnformatted(o);
    assert_true(utf8_valid(s, strlen(s)));
    assert_string_equal(s, "{\"ok\":\"fine\",\"inner\":{\"error\":\"server said " R
                           "(\",\"list\":[\"" R R "\"]}}");
    free(s);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_repair_maximal_subparts),
        cmocka_unit_test(test_decode_and_json),
        cmocka_unit_test(test_tree_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
