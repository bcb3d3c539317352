/* SPDX-License-Identifier: MIT */
/* test_jid.c -- JID parsing, formatting, classification and Signal names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wa/jid.h"

static void roundtrip(const char *text, enum wa_jid_form form, const char *user, const char *server,
                      unsigned device, unsigned agent)
{
    struct wa_jid j, back;
    char out[WA_JID_STR_MAX];
    assert_int_equal(wa_jid_parse(&j, text, strlen(text)), 0);
    assert_int_equal(j.form, form);
    assert_string_equal(j.user, user);
    assert_string_equal(j.server, server);
    assert_int_equal(j.device, device);
    assert_int_equal(j.agent, agent);
    int n = wa_jid_format(&j, out, sizeof(out));
    assert_int_equal(n, (int)strlen(text));
    assert_string_equal(out, text);
    assert_int_equal(wa_jid_parse(&back, out, (size_t)n), 0);
    assert_true(wa_jid_equal(&j, &back));
}

static void test_parse_format(void **state)
{
    roundtrip("15551230000@s.whatsapp.net", WA_JID_FORM_PAIR, "15551230000", "s.whatsapp.net", 0,
              0);
    roundtrip("15551230000:7@s.whatsapp.net", WA_JID_FORM_AD, "15551230000", "s.whatsapp.net", 7,
              0);
    roundtrip("15551230000:0@s.whatsapp.net", WA_JID_FORM_AD, "15551230000", "s.whatsapp.net", 0,
              0);
    roundtrip("211111111111111@lid", WA_JID_FORM_PAIR, "211111111111111", "lid", 0, 0);
    roundtrip("211111111111111:7@lid", WA_JID_FORM_AD, "211111111111111", "lid", 7, 1);
    roundtrip("123:99@hosted", WA_JID_FORM_AD, "123", "hosted", 99, 128);
    roundtrip("123:99@hosted.lid", WA_JID_FORM_AD, "123", "hosted.lid", 99, 129);
    roundtrip("123_42:3@s.whatsapp.net", WA_JID_FORM_AD, "123", "s.whatsapp.net", 3, 42);
    roundtrip("120363041234567890@g.us", WA_JID_FORM_PAIR, "120363041234567890", "g.us", 0, 0);
    roundtrip("15551234567-1600000000@g.us", WA_JID_FORM_PAIR, "15551234567-1600000000", "g.us", 0,
              0);
    roundtrip("status@broadcast", WA_JID_FORM_PAIR, "status", "broadcast", 0, 0);
    roundtrip("s.whatsapp.net", WA_JID_FORM_PAIR, "", "s.whatsapp.net", 0, 0);
    roundtrip("g.us", WA_JID_FORM_PAIR, "", "g.us", 0, 0);
    roundtrip("100200300:12@msgr", WA_JID_FORM_FB, "100200300", "msgr", 12, 0);
    roundtrip("100200300@msgr", WA_JID_FORM_PAIR, "100200300", "msgr", 0, 0);
    roundtrip("123@newsletter", WA_JID_FORM_PAIR, "123", "newsletter", 0, 0);

    struct wa_jid j;
    assert_int_equal(wa_jid_parse(&j, "7-555:2@interop", 15), 0);
    assert_int_equal(j.form, WA_JID_FORM_INTEROP);
    assert_int_equal(j.integrator, 7);
    assert_int_equal(j.device, 2);
    assert_string_equal(j.user, "555");
    char out[WA_JID_STR_MAX];
    assert_true(wa_jid_format(&j, out, sizeof(out)) > 0);
    assert_string_equal(out, "7-555:2@interop");

    /* "@s.whatsapp.net" (Baileys' text) is the server JID too */
    assert_int_equal(wa_jid_parse(&j, "@s.whatsapp.net", 15), 0);
    assert_string_equal(j.user, "");
    assert_true(wa_jid_is_server(&j));
}

static void test_parse_errors(void **state)
{
    struct wa_jid j;
    char longuser[200];
    memset(longuser, '1', sizeof(longuser));
    strcpy(longuser + 150, "@s.whatsapp.net");
    assert_int_equal(wa_jid_parse(&j, longuser, strlen(longuser)), -ENAMETOOLONG);
    assert_int_equal(wa_jid_parse(&j, "1:x@s.whatsapp.net", 18), -EINVAL);
    assert_int_equal(wa_jid_parse(&j, "1:256@s.whatsapp.net", 20), -EINVAL);
    assert_int_equal(wa_jid_parse(&j, "1:@lid", 6), -EINVAL);
    assert_int_equal(wa_jid_parse(&j, "555@interop", 11), -EINVAL);
    assert_int_equal(wa_jid_parse(&j, "1\0@lid", 6), -EINVAL);
    assert_int_equal(wa_jid_parse(&j, "1@", 2), -EINVAL);
    assert_int_equal(wa_jid_set(&j, "1", ""), -EINVAL);
    assert_int_equal(wa_jid_parse(&j, "1@averyveryveryveryverylongservername", 37), -ENAMETOOLONG);
    char out[8];
    assert_int_equal(wa_jid_parse(&j, "15551230000@s.whatsapp.net", 26), 0);
    assert_int_equal(wa_jid_format(&j, out, sizeof(out)), -ENOBUFS);
}

static void test_kinds(void **state)
{
    static const struct {
        const char *text;
        enum wa_jid_kind kind;
    } cases[] = {
        {"s.whatsapp.net", WA_JID_KIND_SERVER},
        {"1@s.whatsapp.net", WA_JID_KIND_PN},
        {"1:3@s.whatsapp.net", WA_JID_KIND_PN},
        {"1@c.us", WA_JID_KIND_PN},
        {"1@lid", WA_JID_KIND_LID},
        {"1-2@g.us", WA_JID_KIND_GROUP},
        {"status@broadcast", WA_JID_KIND_BROADCAST},
        {"1@newsletter", WA_JID_KIND_NEWSLETTER},
        {"1@bot", WA_JID_KIND_BOT},
        {"1:99@hosted", WA_JID_KIND_HOSTED},
        {"1:1@msgr", WA_JID_KIND_FB},
        {"2-1:1@interop", WA_JID_KIND_INTEROP},
        {"1@example", WA_JID_KIND_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wa_jid j;
        assert_int_equal(wa_jid_parse(&j, cases[i].text, strlen(cases[i].text)), 0);
        assert_int_equal(wa_jid_kind(&j), cases[i].kind);
    }
    struct wa_jid j;
    assert_int_equal(wa_jid_parse(&j, "1-2@g.us", 8), 0);
    assert_true(wa_jid_is_group(&j));
    assert_false(wa_jid_is_pn(&j));
    assert_int_equal(wa_jid_parse(&j, "status@broadcast", 16), 0);
    assert_true(wa_jid_is_status_broadcast(&j));
    assert_true(wa_jid_is_broadcast(&j));
    assert_int_equal(wa_jid_parse(&j, "1@lid", 5), 0);
    assert_true(wa_jid_is_lid(&j));
}

static void test_signal_name(void **state)
{
    struct wa_jid j;
    char out[WA_JID_STR_MAX];
    assert_int_equal(wa_jid_parse(&j, "15551230000:7@s.whatsapp.net", 28), 0);
    assert_int_equal(wa_jid_signal_name(&j, out, sizeof(out)), 11);
    assert_string_equal(out, "15551230000");
    assert_int_equal(wa_jid_parse(&j, "211111111111111:7@lid", 21), 0);
    assert_true(wa_jid_signal_name(&j, out, sizeof(out)) > 0);
    assert_string_equal(out, "211111111111111_1");
    assert_int_equal(wa_jid_parse(&j, "211111111111111@lid", 19), 0);
    assert_true(wa_jid_signal_name(&j, out, sizeof(out)) > 0);
    assert_string_equal(out, "211111111111111_1");
    assert_int_equal(wa_jid_set_ad(&j, "5", WA_DOMAIN_HOSTED, 99), 0);
    assert_true(wa_jid_signal_name(&j, out, sizeof(out)) > 0);
    assert_string_equal(out, "5_128");
    assert_string_equal(j.server, "hosted");
}

static void test_builders_equality(void **state)
{
    struct wa_jid a, b;
    char out[WA_JID_STR_MAX];
    assert_int_equal(wa_jid_set(&a, "15550001111", WA_SERVER_PN), 0);
    assert_int_equal(wa_jid_set_ad(&b, "15550001111", WA_DOMAIN_PN, 0), 0);
    assert_false(wa_jid_equal(&a, &b));
    assert_true(wa_jid_same_user(&a, &b));
    assert_true(wa_jid_format_bare(&b, out, sizeof(out)) > 0);
    assert_string_equal(out, "15550001111@s.whatsapp.net");
    assert_true(wa_jid_format(&b, out, sizeof(out)) > 0);
    assert_string_equal(out, "15550001111:0@s.whatsapp.net");
    assert_int_equal(wa_jid_set(&a, NULL, WA_SERVER_GROUP), 0);
    assert_true(wa_jid_is_server(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_signal_name),
        cmocka_unit_test(test_builders_equality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
