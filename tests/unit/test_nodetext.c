/* SPDX-License-Identifier: MIT */
/* test_nodetext.c -- text form of nodes: transcript stanzas, escapes, syntax errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "wa/node.h"
#include "wa/nodetext.h"

/* Stanzas of /work/shared/vectors/baileys-transcript.txt in our text syntax
 * (JID-valued attributes as @'...', byte content as [NB hex ...]; byte
 * strings the transcript elides are shortened). Written exactly as the
 * printer prints them. */
static const char *const transcript[] = {
    "<iq from=@'s.whatsapp.net' type='set' id='ps-1' xmlns='md' t='1795260229'>\n"
    "  <pair-success>\n"
    "    <device-identity>[8B hex 0a750a0f08b96010]</device-identity>\n"
    "    <platform name='android'/>\n"
    "    <device jid=@'15551230000:7@s.whatsapp.net' lid=@'211111111111111:7@lid'/>\n"
    "  </pair-success>\n"
    "</iq>\n",
    "<iq to=@'s.whatsapp.net' type='result' id='ps-1'>\n"
    "  <pair-device-sign>\n"
    "    <device-identity key-index='3'>[6B hex 0a0f08b96010]</device-identity>\n"
    "  </pair-device-sign>\n"
    "</iq>\n",
    "<stream:error code='515'/>\n",
    "<ib>\n"
    "  <unified_session id='473029021'/>\n"
    "</ib>\n",
    "<success t='1795260229' props='1' lid=@'211111111111111:7@lid' location='frc' "
    "creation='1795160228'/>\n",
    "<iq xmlns='encrypt' type='set' to=@'s.whatsapp.net' id='13207.34137-2'>\n"
    "  <registration>[4B hex 00000009]</registration>\n"
    "  <type>[1B hex 05]</type>\n"
    "  <identity>[4B hex 33db0153]</identity>\n"
    "  <list>\n"
    "    <key>\n"
    "      <id>[3B hex 000001]</id>\n"
    "      <value>[4B hex 4b3fb06c]</value>\n"
    "    </key>\n"
    "  </list>\n"
    "  <skey>\n"
    "    <id>[3B hex 000001]</id>\n"
    "    <value>[4B hex 023059b7]</value>\n"
    "    <signature>[4B hex b31863de]</signature>\n"
    "  </skey>\n"
    "</iq>\n",
    "<iq from=@'s.whatsapp.net' type='result' id='13207.34137-4'>\n"
    "  <digest></digest>\n"
    "</iq>\n",
    "<iq from=@'s.whatsapp.net' type='result' id='13207.34137-5'>\n"
    "  <props protocol='1' hash='h1'>\n"
    "    <prop config_code='10518' config_value='false'/>\n"
    "  </props>\n"
    "</iq>\n",
    "<message from=@'222222222222222@lid' sender_pn=@'15550001111@s.whatsapp.net' "
    "addressing_mode='lid' type='text' id='ALICEMSG0001' t='1795260230' notify='Alice'>\n"
    "  <enc v='2' type='pkmsg'>[8B hex 3308011221052cf0]</enc>\n"
    "</message>\n",
    "<receipt id='ALICEMSG0001' to=@'222222222222222@lid' type='inactive'/>\n",
    "<ack class='receipt' id='ALICEMSG0001' from=@'222222222222222@lid' type='inactive'/>\n",
    "<iq from=@'s.whatsapp.net' type='result' id='13207.34137-9'>\n"
    "  <usync sid='13207.34137-8' index='0' last='true'>\n"
    "    <result></result>\n"
    "    <list>\n"
    "      <user jid=@'15551230000@s.whatsapp.net'>\n"
    "        <devices>\n"
    "          <device-list>\n"
    "            <device id='0'/>\n"
    "            <device id='7' key-index='3'/>\n"
    "          </device-list>\n"
    "        </devices>\n"
    "        <lid val=@'211111111111111@lid'/>\n"
    "      </user>\n"
    "    </list>\n"
    "  </usync>\n"
    "</iq>\n",
    "<message id='3EB05A4729ABDA6C0FA2D7' to=@'15550001111@s.whatsapp.net' type='text'>\n"
    "  <participants>\n"
    "    <to jid=@'15551230000@s.whatsapp.net'>\n"
    "      <enc v='2' type='pkmsg'>[4B hex 33080112]</enc>\n"
    "    </to>\n"
    "  </participants>\n"
    "  <device-identity>[4B hex 0a0f08b9]</device-identity>\n"
    "  <reporting>\n"
    "    <reporting_token v='2'>[16B hex 092106fe7a21d2f854b8d5643d65a183]</reporting_token>\n"
    "  </reporting>\n"
    "</message>\n",
    "<receipt id='ALICEBAD0003' type='retry' to=@'222222222222222@lid'>\n"
    "  <retry count='1' id='ALICEBAD0003' t='1795260230' v='1' error='0'/>\n"
    "  <registration>[4B hex 00000009]</registration>\n"
    "</receipt>\n",
    "<ack id='ALICEBAD0003' to=@'222222222222222@lid' class='message' error='500' type='text' "
    "from=@'15551230000:7@s.whatsapp.net'/>\n",
    "<iq to=@'s.whatsapp.net' type='set' xmlns='privacy' id='13207.34137-11'>\n"
    "  <tokens>\n"
    "    <token jid=@'15550001111@s.whatsapp.net' t='1795260230' type='trusted_contact'/>\n"
    "  </tokens>\n"
    "</iq>\n",
};

static void print_into(const struct wa_node *n, struct buf *b, unsigned flags)
{
    buf_reset(b);
    assert_int_equal(wa_nodetext_print(n, b, flags), 0);
    assert_int_equal(buf_append_byte(b, 0), 0);
}

static void test_transcript_roundtrip(void **state)
{
    for (size_t i = 0; i < sizeof(transcript) / sizeof(transcript[0]); i++) {
        const char *text = transcript[i];
        struct wa_node *n, *dec;
        char err[WA_NODE_ERR_MAX];
        int rc = wa_nodetext_parse(text, strlen(text), &n, err, sizeof(err));
        if (rc) fail_msg("stanza %zu: %s", i, err);
        struct buf t, bin;
        buf_init(&t, 0);
        buf_init(&bin, 0);
        print_into(n, &t, 0);
        assert_string_equal((char *)t.data, text);
        assert_int_equal(wa_node_encode(n, &bin, err, sizeof(err)), 0);
        assert_int_equal(wa_node_decode(bin.data, bin.len, NULL, &dec, err, sizeof(err)), 0);
        assert_true(wa_node_equal(n, dec));
        print_into(dec, &t, 0);
        assert_string_equal((char *)t.data, text);
        wa_node_free(dec);
        wa_node_free(n);
        buf_free(&t);
        buf_free(&bin);
    }
}

static void test_transcript_accessors(void **state)
{
    struct wa_node *n;
    struct wa_jid j;
    const char *text = transcript[11];
    assert_int_equal(wa_nodetext_parse(text, strlen(text), &n, NULL, 0), 0);
    struct wa_node *list = wa_node_child(wa_node_child(n, "usync"), "list");
    assert_non_null(list);
    struct wa_node *user = wa_node_child(list, "user");
    assert_int_equal(wa_node_attr_jid(user, "jid", &j), 0);
    assert_string_equal(j.user, "15551230000");
    struct wa_node *dl = wa_node_child(wa_node_child(user, "devices"), "device-list");
    int count = 0;
    for (struct wa_node *d = wa_node_next_child(dl, "device", NULL); d;
         d = wa_node_next_child(dl, "device", d))
        count++;
    assert_int_equal(count, 2);
    assert_string_equal(wa_node_attr(wa_node_child_at(dl, 1), "key-index"), "3");
    assert_int_equal(wa_node_child_count(wa_node_child(wa_node_child(n, "usync"), "result")), 0);
    assert_int_equal(wa_node_child(wa_node_child(n, "usync"), "result")->content_type,
                     WA_CONTENT_LIST);
    wa_node_free(n);
}

static void test_escapes(void **state)
{
    struct wa_node *n = wa_node_new("x"), *back;
    static const char raw[] = "a'b\\c\n\t\x01\xff\xc3\xa9z";
    struct wa_str s = {.s = raw, .len = sizeof(raw) - 1};
    assert_int_equal(wa_node_set_attr(n, "k", "it's"), 0);
    assert_int_equal(wa_node_set_string(n, &s), 0);
    struct buf t;
    buf_init(&t, 0);
    print_into(n, &t, WA_NODETEXT_COMPACT);
    assert_string_equal((char *)t.data, "<x k='it\\'s'>'a\\'b\\\\c\\n\\t\\x01\\xff\xc3\xa9z'</x>");
    assert_int_equal(wa_nodetext_parse((char *)t.data, t.len - 1, &back, NULL, 0), 0);
    assert_true(wa_node_equal(n, back));
    wa_node_free(back);
    /* odd names are quoted, and a quoted name parses back */
    wa_node_free(n);
    n = wa_node_new("a b");
    assert_int_equal(wa_node_set_attr(n, "c=d", ""), 0);
    print_into(n, &t, WA_NODETEXT_COMPACT);
    assert_string_equal((char *)t.data, "<'a b' 'c=d'=''/>");
    assert_int_equal(wa_nodetext_parse((char *)t.data, t.len - 1, &back, NULL, 0), 0);
    assert_true(wa_node_equal(n, back));
    wa_node_free(back);
    wa_node_free(n);
    buf_free(&t);
}

static void test_hints_and_comments(void **state)
{
    static const char text[] = "<!-- c --> <x a=r'1' b=n'' c=h'AB' d=nil e=n'123' f='' "
                               "g=@ad(5,0,'1') h=@fb('9',1,'msgr')> <!-- inner -->"
                               " <y/>  </x> ";
    struct wa_node *n;
    char err[WA_NODE_ERR_MAX];
    assert_int_equal(wa_nodetext_parse(text, strlen(text), &n, err, sizeof(err)), 0);
    assert_int_equal(n->attrs[0].str.enc, WA_STR_RAW);
    assert_int_equal(n->attrs[1].str.enc, WA_STR_NIBBLE);
    assert_int_equal(n->attrs[2].str.enc, WA_STR_AUTO); /* hex is canonical for "AB" */
    assert_int_equal(n->attrs[3].str.enc, WA_STR_NIL);
    assert_int_equal(n->attrs[4].str.enc, WA_STR_AUTO); /* redundant prefix dropped */
    assert_int_equal(n->attrs[6].type, WA_VAL_JID);
    assert_int_equal(n->attrs[6].jid.agent, 5);
    assert_int_equal(n->attrs[7].jid.form, WA_JID_FORM_FB);
    struct buf t;
    buf_init(&t, 0);
    print_into(n, &t, WA_NODETEXT_COMPACT);
    assert_string_equal((char *)t.data, "<x a=r'1' b=n'' c='AB' d=nil e='123' f='' "
                                        "g=@'1_5:0@s.whatsapp.net' h=@'9:1@msgr'><y/></x>");
    buf_free(&t);
    wa_node_free(n);
}

static void test_syntax_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "x",
        "<x",
        "<x/>junk",
        "<x a='1/>",
        "<x a=1/>",
        "<x></y>",
        "<x>[2B hex 01]</x>",
        "<x>[hex 0g]</x>",
        "<x>[hex 01</x>",
        "<x a='\\q'/>",
        "<x a='\\x4'/>",
        "<x a=n'abc'/>",
        "<x a=h'ab'/>",
        "<x a=@'1:x@s.whatsapp.net'/>",
        "<x a=@ad(300,1,'1')/>",
        "<x a=@zz('1')/>",
        "<''/>",
        "<x><!-- unterminated </x>",
        "<x>'a'<y/></x>",
        "<x/><y/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wa_node *n = (struct wa_node *)1;
        char err[WA_NODE_ERR_MAX] = "";
        int rc = wa_nodetext_parse(bad[i], strlen(bad[i]), &n, err, sizeof(err));
        if (rc == 0) fail_msg("accepted: %s", bad[i]);
        assert_int_equal(rc, -EINVAL);
        assert_null(n);
        assert_non_null(strstr(err, "offset"));
    }
}

static void test_depth_limit(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < WA_NODETEXT_MAX_DEPTH + 1; i++)
        assert_int_equal(buf_append_str(&b, "<a>"), 0);
    struct wa_node *n;
    assert_int_equal(wa_nodetext_parse((char *)b.data, b.len, &n, NULL, 0), -EINVAL);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcript_roundtrip),
        cmocka_unit_test(test_transcript_accessors),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_hints_and_comments),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
