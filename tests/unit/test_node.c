/* SPDX-License-Identifier: MIT */
/* test_node.c -- binary node codec: golden vectors, negative vectors, caps, tokens. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vectors.h"
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/hex.h"
#include "wa/node.h"
#include "wa/nodetext.h"
#include "wa/tokens.h"

static cJSON *load_vectors(void)
{
    cJSON *root = vectors_load();
    assert_non_null(root);
    return root;
}

static size_t unhex(const char *s, uint8_t **out)
{
    size_t n = 0;
    *out = vectors_hexdup(s, &n);
    assert_non_null(*out);
    return n;
}

static void assert_encodes_to(const struct wa_node *n, const uint8_t *want, size_t len)
{
    struct buf b;
    char err[WA_NODE_ERR_MAX];
    buf_init(&b, 0);
    assert_int_equal(wa_node_encode(n, &b, err, sizeof(err)), 0);
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, want, len);
    buf_free(&b);
}

/* wa_node_clone: an equal tree that encodes to the same bytes, independent of the original. */
static void assert_clone_same(const struct wa_node *n, const uint8_t *want, size_t len)
{
    struct wa_node *c = wa_node_clone(n);
    assert_non_null(c);
    assert_true(wa_node_equal(n, c));
    assert_encodes_to(c, want, len);
    assert_int_equal(wa_node_set_attr(c, "clone-probe", "x"), 0); /* the original stays */
    assert_false(wa_node_equal(n, c));
    assert_encodes_to(n, want, len);
    wa_node_free(c);
}

/* decode -> encode identical, and decode -> print -> parse -> equal -> encode identical. */
static void check_vector(const char *name, const char *hex)
{
    uint8_t *in;
    size_t len = unhex(hex, &in);
    struct wa_node *n, *back;
    char err[WA_NODE_ERR_MAX];
    int rc = wa_node_decode(in, len, NULL, &n, err, sizeof(err));
    if (rc) fail_msg("%s: decode failed: %s", name, err);
    assert_encodes_to(n, in, len);
    assert_clone_same(n, in, len);

    struct buf text;
    buf_init(&text, 0);
    assert_int_equal(wa_nodetext_print(n, &text, 0), 0);
    rc = wa_nodetext_parse((const char *)text.data, text.len, &back, err, sizeof(err));
    if (rc) fail_msg("%s: parse failed: %s\n%.*s", name, err, (int)text.len, (char *)text.data);
    assert_true(wa_node_equal(n, back));
    assert_encodes_to(back, in, len);
    wa_node_free(back);
    buf_reset(&text);
    assert_int_equal(wa_nodetext_print(n, &text, WA_NODETEXT_COMPACT), 0);
    assert_int_equal(wa_nodetext_parse((const char *)text.data, text.len, &back, err, sizeof(err)),
                     0);
    assert_encodes_to(back, in, len);
    wa_node_free(back);
    buf_free(&text);
    wa_node_free(n);
    free(in);
}

static void test_binary_vectors(void **state)
{
    cJSON *root = load_vectors();
    cJSON *arr = cJSON_GetObjectItem(root, "binary");
    assert_true(cJSON_GetArraySize(arr) >= 17);
    cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        check_vector(cJSON_GetObjectItem(v, "name")->valuestring,
                     cJSON_GetObjectItem(v, "hex")->valuestring);
    }
    cJSON_Delete(root);
}

static void test_vector_contents(void **state)
{
    /* <to jid='15550001111:5@s.whatsapp.net'/> and the ping iq, field by field. */
    uint8_t *in;
    size_t len = unhex("00f803110cf70005ff8615550001111f", &in);
    struct wa_node *n;
    struct wa_jid j;
    assert_int_equal(wa_node_decode(in, len, NULL, &n, NULL, 0), 0);
    assert_string_equal(n->tag.s, "to");
    assert_int_equal(wa_node_attr_jid(n, "jid", &j), 0);
    assert_int_equal(j.form, WA_JID_FORM_AD);
    assert_string_equal(j.user, "15550001111");
    assert_int_equal(j.device, 5);
    assert_string_equal(wa_node_attr(n, "jid"), "15550001111:5@s.whatsapp.net");
    assert_null(wa_node_attr(n, "nope"));
    assert_int_equal(wa_node_attr_jid(n, "nope", &j), -ENOENT);
    wa_node_free(n);
    free(in);

    len = unhex("00f80a1908550429165711fa0003f801f80156", &in);
    assert_int_equal(wa_node_decode(in, len, NULL, &n, NULL, 0), 0);
    assert_string_equal(wa_node_attr(n, "id"), "1");
    assert_string_equal(wa_node_attr(n, "type"), "get");
    assert_string_equal(wa_node_attr(n, "xmlns"), "w:p");
    assert_string_equal(wa_node_attr(n, "to"), "s.whatsapp.net");
    assert_int_equal(wa_node_child_count(n), 1);
    assert_non_null(wa_node_child(n, "ping"));
    assert_null(wa_node_child(n, "pong"));
    wa_node_free(n);
    free(in);

    len = unhex("00f8061d5145044dfc050102030405", &in);
    assert_int_equal(wa_node_decode(in, len, NULL, &n, NULL, 0), 0);
    size_t blen;
    const uint8_t *b = wa_node_content_bytes(n, &blen);
    assert_int_equal(blen, 5);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05", 5);
    wa_node_free(n);
    free(in);
}

static void test_builders_match_vector(void **state)
{
    /* <iq id='1' type='get' xmlns='w:p' to='@s.whatsapp.net'><ping/></iq> */
    struct wa_node *iq = wa_node_new("iq"), *ping = wa_node_new("ping");
    struct wa_jid server;
    assert_int_equal(wa_jid_set(&server, "", "s.whatsapp.net"), 0);
    assert_int_equal(wa_node_set_attr(iq, "id", "1"), 0);
    assert_int_equal(wa_node_set_attr(iq, "type", "set"), 0);
    assert_int_equal(wa_node_set_attr(iq, "type", "get"), 0); /* replaces */
    assert_int_equal(wa_node_set_attr(iq, "xmlns", "w:p"), 0);
    assert_int_equal(wa_node_set_attr_jid(iq, "to", &server), 0);
    assert_int_equal(wa_node_add_child(iq, ping), 0);
    uint8_t *want;
    size_t len = unhex("00f80a1908550429165711fa0003f801f80156", &want);
    assert_encodes_to(iq, want, len);
    free(want);
    assert_int_equal(wa_node_set_bytes(ping, "\x01", 1), 0);
    struct wa_node *extra = wa_node_new("x");
    assert_int_equal(wa_node_add_child(ping, extra), -EINVAL);
    wa_node_free(extra);
    wa_node_free(iq);
}

static void test_compressed_vector(void **state)
{
    cJSON *root = load_vectors();
    cJSON *c = cJSON_GetObjectItem(root, "binary_compressed");
    uint8_t *z, *plain;
    size_t zlen = unhex(cJSON_GetObjectItem(c, "compressed_hex")->valuestring, &z);
    size_t plen = unhex(cJSON_GetObjectItem(c, "uncompressed_hex")->valuestring, &plain);
    struct wa_node *a, *b;
    char err[WA_NODE_ERR_MAX];
    assert_int_equal(wa_node_decode(z, zlen, NULL, &a, err, sizeof(err)), 0);
    assert_int_equal(wa_node_decode(plain, plen, NULL, &b, err, sizeof(err)), 0);
    assert_true(wa_node_equal(a, b));
    /* the JSON "decoded" form */
    cJSON *dec = cJSON_Parse(cJSON_GetObjectItem(c, "decoded")->valuestring);
    assert_string_equal(a->tag.s, cJSON_GetObjectItem(dec, "tag")->valuestring);
    cJSON *attr;
    cJSON_ArrayForEach(attr, cJSON_GetObjectItem(dec, "attrs"))
    {
        const char *want = attr->valuestring[0] == '@' ? attr->valuestring + 1 : attr->valuestring;
        assert_string_equal(wa_node_attr(a, attr->string), want);
    }
    cJSON *child = cJSON_GetObjectItem(dec, "child");
    struct wa_node *cn = wa_node_child(a, cJSON_GetObjectItem(child, "tag")->valuestring);
    assert_non_null(cn);
    assert_string_equal(wa_node_attr(cn, "value"), "42");
    assert_encodes_to(a, plain, plen);
    cJSON_Delete(dec);
    wa_node_free(a);
    wa_node_free(b);
    free(z);
    free(plain);
    cJSON_Delete(root);
}

static void expect_reject_body(const char *hex)
{
    uint8_t *in;
    size_t len = unhex(hex, &in);
    struct wa_node *n = (struct wa_node *)1;
    char err[WA_NODE_ERR_MAX] = "";
    int rc = wa_node_decode_body(in, len, NULL, &n, err, sizeof(err));
    if (rc == 0) fail_msg("accepted %s", hex);
    assert_true(rc == -EBADMSG || rc == -EMSGSIZE);
    assert_null(n);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "offset"));
    free(in);
}

static void test_negative_vectors(void **state)
{
    static const char *const neg[] = {
        "f80100", "f801ff80", "f802fc0161faf800fc0173", "f802fc0161fa00f800",
        "f802fc0161f70101f800", "f802fc0161f6f8000000fc046d736772",
        "f802fc0161f5f80000000000fc07696e7465726f70",
        /* more of our own */
        "",             /* empty */
        "f8",           /* truncated list size */
        "f801",         /* missing tag */
        "f80119",       /* ok tag but ... (valid; replaced below) */
        "f802f0",       /* invalid tag 0xf0 as tag */
        "f80219fb",     /* truncated packed */
        "f80219ff01c0", /* invalid nibble 12 */
        "f8021dfc05",   /* binary beyond input */
        "f8011900",     /* trailing byte */
        "f80200",       /* LIST_EMPTY tag */
        "f80319fa0003", /* JID as attribute key */
        "f802fa0003",   /* JID as tag */
        "f8021df801",   /* child list truncated */
        /* fuzz regressions */
        "f803fc00",                 /* empty raw tag (leaked the tag) */
        "f8061906fa61ff0061ff0007", /* JID_PAIR with an empty server */
    };
    for (size_t i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
        if (strcmp(neg[i], "f80119") == 0) continue;
        expect_reject_body(neg[i]);
    }
    /* the same with a flags byte, through wa_node_decode */
    struct wa_node *n;
    assert_int_equal(wa_node_decode((const uint8_t *)"", 0, NULL, &n, NULL, 0), -EBADMSG);
    assert_int_equal(wa_node_decode((const uint8_t *)"\x00", 1, NULL, &n, NULL, 0), -EBADMSG);
    assert_int_equal(wa_node_decode((const uint8_t *)"\x00\xf8\x01\x00", 4, NULL, &n, NULL, 0),
                     -EBADMSG);
    assert_int_equal(wa_node_decode((const uint8_t *)"\x02\x78\x9c", 3, NULL, &n, NULL, 0),
                     -EBADMSG);
    assert_int_equal(wa_node_decode((const uint8_t *)"\x02", 1, NULL, &n, NULL, 0), -EBADMSG);
}

static void test_cap_depth(void **state)
{
    /* 100 nested <x> nodes: f8 02 'x' f8 01 ... */
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(buf_append(&b, "\xf8\x02\xfc\x01x\xf8\x01", 7), 0);
    assert_int_equal(buf_append(&b, "\xf8\x01\xfc\x01x", 5), 0);
    struct wa_node *n;
    char err[WA_NODE_ERR_MAX];
    assert_int_equal(wa_node_decode_body(b.data, b.len, NULL, &n, err, sizeof(err)), -EMSGSIZE);
    assert_non_null(strstr(err, "deeper"));
    struct wa_node_limits lim = {.max_depth = 200};
    assert_int_equal(wa_node_decode_body(b.data, b.len, &lim, &n, err, sizeof(err)), 0);
    wa_node_free(n);
    buf_free(&b);
}

static void test_cap_counts(void **state)
{
    struct wa_node *n;
    char err[WA_NODE_ERR_MAX];
    /* LIST_16 of 65535 children but 2 bytes of input */
    static const uint8_t many[] = {0xf8, 0x02, 0x19, 0xf9, 0xff, 0xff, 0xf8, 0x01};
    assert_int_equal(wa_node_decode_body(many, sizeof(many), NULL, &n, err, sizeof(err)),
                     -EMSGSIZE);
    struct wa_node_limits lim = {.max_children = 70000};
    assert_int_equal(wa_node_decode_body(many, sizeof(many), &lim, &n, err, sizeof(err)), -EBADMSG);
    /* 65535-entry attribute list header */
    static const uint8_t attrs[] = {0xf9, 0xff, 0xff, 0x19, 0x08, 0x55};
    assert_int_equal(wa_node_decode_body(attrs, sizeof(attrs), NULL, &n, err, sizeof(err)),
                     -EMSGSIZE);
    /* BINARY_32 length far beyond the input */
    static const uint8_t big[] = {0xf8, 0x02, 0x1d, 0xfe, 0x7f, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(wa_node_decode_body(big, sizeof(big), NULL, &n, err, sizeof(err)), -EMSGSIZE);
    static const uint8_t big2[] = {0xf8, 0x02, 0x1d, 0xfe, 0x00, 0x00, 0x10, 0x00, 0x01};
    assert_int_equal(wa_node_decode_body(big2, sizeof(big2), NULL, &n, err, sizeof(err)), -EBADMSG);
    /* total node cap */
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "\xf8\x02\x19\xf8\xc8", 5), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(buf_append(&b, "\xf8\x01\x19", 3), 0);
    struct wa_node_limits few = {.max_nodes = 100};
    assert_int_equal(wa_node_decode_body(b.data, b.len, &few, &n, err, sizeof(err)), -EMSGSIZE);
    assert_int_equal(wa_node_decode_body(b.data, b.len, NULL, &n, err, sizeof(err)), 0);
    assert_int_equal(wa_node_child_count(n), 200);
    wa_node_free(n);
    buf_free(&b);
}

static void test_cap_zlib_bomb(void **state)
{
    /* <enc> + 3 MiB of zeros, compressed to a few KiB; cap inflation at 1 MiB. */
    size_t plen = 3u << 20;
    uint8_t *plain = calloc(1, plen + 8);
    memcpy(plain, "\xf8\x02\x1d\xfe\x00\x30\x00\x00", 8);
    uLongf zlen = compressBound(plen + 8);
    uint8_t *z = malloc(zlen + 1);
    z[0] = 0x02;
    assert_int_equal(compress2(z + 1, &zlen, plain, plen + 8, 9), Z_OK);
    struct wa_node *n;
    char err[WA_NODE_ERR_MAX];
    struct wa_node_limits lim = {.max_inflated = 1u << 20};
    assert_int_equal(wa_node_decode(z, zlen + 1, &lim, &n, err, sizeof(err)), -EMSGSIZE);
    assert_non_null(strstr(err, "inflated"));
    assert_int_equal(wa_node_decode(z, zlen + 1, NULL, &n, err, sizeof(err)), 0);
    size_t blen;
    assert_non_null(wa_node_content_bytes(n, &blen));
    assert_int_equal(blen, plen);
    wa_node_free(n);
    free(z);
    free(plain);
}

static void sha256_hex(const char *data, size_t n, char out[65])
{
    uint8_t md[32];
    unsigned mdlen = 0;
    assert_int_equal(EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL), 1);
    hex_encode(out, md, 32);
}

static void test_token_checksums(void **state)
{
    struct buf b;
    char sum[65];
    buf_init(&b, 0);
    for (unsigned i = 0; i < WA_TOKEN_SINGLE_COUNT; i++) {
        if (i) assert_int_equal(buf_append_byte(&b, '\n'), 0);
        assert_int_equal(buf_append_str(&b, wa_token_single(i)), 0);
    }
    sha256_hex((const char *)b.data, b.len, sum);
    assert_string_equal(sum, "1e8302d2aba0d8c40d09fd79fc9c70347350cb00926dd0e3565683b347be35a5");
    buf_reset(&b);
    for (unsigned d = 0; d < WA_TOKEN_DICT_COUNT; d++)
        for (unsigned i = 0; i < WA_TOKEN_DICT_SIZE; i++) {
            if (d || i) assert_int_equal(buf_append_byte(&b, '\n'), 0);
            assert_int_equal(buf_append_str(&b, wa_token_double(d, i)), 0);
        }
    sha256_hex((const char *)b.data, b.len, sum);
    assert_string_equal(sum, "400b612b8c86d055404cee1b205c908a4db35bd57683b4903f72d003ff52144d");
    buf_free(&b);
}

static void test_token_lookup(void **state)
{
    struct wa_token t;
    assert_int_equal(wa_token_find("s.whatsapp.net", 14, &t), WA_TOKEN_SINGLE);
    assert_int_equal(t.index, 3);
    assert_int_equal(wa_token_find("ping", 4, &t), WA_TOKEN_SINGLE);
    assert_int_equal(t.index, 86);
    assert_int_equal(wa_token_find("read-self", 9, &t), WA_TOKEN_DOUBLE);
    assert_int_equal(t.dict, 0);
    assert_int_equal(t.index, 0);
    assert_int_equal(wa_token_find("reject", 6, &t), WA_TOKEN_DOUBLE);
    assert_int_equal(t.dict, 1);
    assert_int_equal(wa_token_find("2:47DEQpj8", 10, &t), WA_TOKEN_DOUBLE);
    assert_int_equal(t.index, 8);
    assert_int_equal(wa_token_find("", 0, &t), WA_TOKEN_NONE);
    assert_int_equal(wa_token_find("pingx", 5, &t), WA_TOKEN_NONE);
    assert_int_equal(wa_token_find("pin", 3, &t), WA_TOKEN_NONE);
    /* every token maps back to itself */
    for (unsigned i = 1; i < WA_TOKEN_SINGLE_COUNT; i++) {
        const char *s = wa_token_single(i);
        assert_int_equal(wa_token_find(s, strlen(s), &t), WA_TOKEN_SINGLE);
        assert_int_equal(t.index, i);
    }
    for (unsigned d = 0; d < WA_TOKEN_DICT_COUNT; d++)
        for (unsigned i = 0; i < WA_TOKEN_DICT_SIZE; i++) {
            const char *s = wa_token_double(d, i);
            assert_int_equal(wa_token_find(s, strlen(s), &t), WA_TOKEN_DOUBLE);
            assert_int_equal(t.dict, d);
            assert_int_equal(t.index, i);
        }
    assert_null(wa_token_single(236));
    assert_null(wa_token_double(4, 0));
}

/* Non-canonical wire forms survive decode -> print -> parse -> encode. */
static void test_noncanonical_roundtrip(void **state)
{
    static const struct {
        const char *hex, *text;
    } cases[] = {
        {"00f803fc017851fc0131", "<x v=r'1'/>"},  /* token "1" sent raw */
        {"00f803fc01785100", "<x v=nil/>"},       /* LIST_EMPTY value */
        {"00f803fc017851ff00", "<x v=n''/>"},     /* empty nibble */
        {"00f803fc017851fb0112", "<x v=h'12'/>"}, /* digits as hex */
        {"00f803fc017851ff0185", "<x v=n'85'/>"}, /* wait: "85" not a token */
        {"00f803fc017851f70000ff8612345678901f", "<x v=@'12345678901:0@s.whatsapp.net'/>"},
        {"00f803fc017851fa00fc0461626364", "<x v=@'abcd'/>"},
        {"00f802fc0178ff0131", "<x>n'31'</x>"},
        {"00f803fc017851fc09726561642d73656c66", "<x v=r'read-self'/>"},
        {"00f803fc017851f70509ff021234", "<x v=@'1234_5:9@s.whatsapp.net'/>"}, /* agent 5 */
        {"00f803fc017851f78103ff021234", "<x v=@'1234:3@hosted.lid'/>"},
        {"00f803fc017851f6ff82123f0003cc", "<x v=@'123:3@msgr'/>"},
        {"00f803fc017851f5ff82123f00030007fc07696e7465726f70", "<x v=@'7-123:3@interop'/>"},
        {"00f803fc017851fafc03613a6203", "<x v=@pair('a:b','s.whatsapp.net')/>"},
        {"00f802fc0178f70001ff021534", "<x>@'1534:1@s.whatsapp.net'</x>"},
        {"00f802fc0178fc00", "<x>[0B hex ]</x>"},
        {"00f802fc017800", "<x></x>"},
        {"00f803fc01785cfc02c3a9", "<x props='\xc3\xa9'/>"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *in;
        size_t len = unhex(cases[i].hex, &in);
        struct wa_node *n;
        char err[WA_NODE_ERR_MAX];
        int rc = wa_node_decode(in, len, NULL, &n, err, sizeof(err));
        if (rc) fail_msg("%s: %s", cases[i].hex, err);
        assert_clone_same(n, in, len);
        struct buf t;
        buf_init(&t, 0);
        assert_int_equal(wa_nodetext_print(n, &t, WA_NODETEXT_COMPACT), 0);
        assert_int_equal(buf_append_byte(&t, 0), 0);
        if (i != 4) /* "85" is canonical nibble; printed plainly */
            assert_string_equal((char *)t.data, cases[i].text);
        struct wa_node *back;
        assert_int_equal(wa_nodetext_parse((char *)t.data, t.len - 1, &back, err, sizeof(err)), 0);
        assert_true(wa_node_equal(n, back));
        assert_encodes_to(back, in, len);
        wa_node_free(back);
        wa_node_free(n);
        buf_free(&t);
        free(in);
    }
}

static void test_encode_errors(void **state)
{
    struct wa_node *n = wa_node_new("x");
    struct buf b;
    char err[WA_NODE_ERR_MAX];
    buf_init(&b, 0);
    struct wa_str bad = {.s = "abc", .len = 3, .enc = WA_STR_NIBBLE};
    assert_int_equal(wa_node_set_string(n, &bad), 0);
    assert_int_equal(wa_node_encode(n, &b, err, sizeof(err)), -EINVAL);
    assert_int_equal(b.len, 0);
    struct wa_jid j;
    assert_int_equal(wa_jid_set(&j, "1", "s.whatsapp.net"), 0);
    j.form = WA_JID_FORM_AD;
    j.device = 300;
    assert_int_equal(wa_node_set_jid(n, &j), 0);
    assert_int_equal(wa_node_encode(n, &b, err, sizeof(err)), -EINVAL);
    struct buf small;
    buf_init(&small, 2);
    wa_node_clear_content(n);
    assert_int_equal(wa_node_set_bytes(n, "12345", 5), 0);
    assert_int_equal(wa_node_encode(n, &small, err, sizeof(err)), -ENOBUFS);
    assert_int_equal(small.len, 0);
    buf_free(&small);
    buf_free(&b);
    wa_node_free(n);
    assert_null(wa_node_new(""));
}

/* Regression: setters used to keep the caller's pointer for attribute keys and
 * values (and string content), so a value built in a stack buffer dangled. */
static void test_setters_copy_caller_strings(void **state)
{
    struct wa_node *n = wa_node_new("iq");
    assert_non_null(n);
    char key[16], val[32];
    snprintf(key, sizeof key, "id");
    snprintf(val, sizeof val, "abc-123");
    assert_int_equal(wa_node_set_attr(n, key, val), 0);
    snprintf(key, sizeof key, "type");
    snprintf(val, sizeof val, "result");
    assert_int_equal(wa_node_set_attr(n, key, val), 0);
    struct wa_str k = {.s = key, .len = 2}, v = {.s = val, .len = 3};
    snprintf(key, sizeof key, "xx");
    snprintf(val, sizeof val, "yyy");
    assert_int_equal(wa_node_append_attr(n, &k, &v, NULL), 0);
    struct wa_str c = {.s = val, .len = 3};
    assert_int_equal(wa_node_set_string(n, &c), 0);
    memset(key, 'Z', sizeof key - 1);
    memset(val, 'Z', sizeof val - 1);
    assert_string_equal(wa_node_attr(n, "id"), "abc-123");
    assert_string_equal(wa_node_attr(n, "type"), "result");
    assert_string_equal(wa_node_attr(n, "xx"), "yyy");
    assert_string_equal(wa_node_content_string(n), "yyy");
    /* Replacing a value copies too. */
    snprintf(val, sizeof val, "error");
    assert_int_equal(wa_node_set_attr(n, "type", val), 0);
    memset(val, 'Q', 5);
    assert_string_equal(wa_node_attr(n, "type"), "error");
    wa_node_free(n);
}

/* Readers accept NULL so lookups chain on peer-controlled trees (fuzz_pairing found a
 * crash where a missing child was passed on). */
static void test_readers_accept_null(void **state)
{
    size_t len = 7;
    struct wa_jid j;
    assert_null(wa_node_attr(NULL, "id"));
    assert_int_equal(wa_node_attr_jid(NULL, "from", &j), -ENOENT);
    assert_null(wa_node_child(NULL, "x"));
    assert_null(wa_node_next_child(NULL, "x", NULL));
    assert_int_equal(wa_node_child_count(NULL), 0);
    assert_null(wa_node_child_at(NULL, 0));
    assert_null(wa_node_content_bytes(NULL, &len));
    assert_int_equal(len, 0);
    assert_null(wa_node_content_string(NULL));
    struct wa_node *n = wa_node_new("iq");
    assert_non_null(n);
    assert_null(wa_node_attr(wa_node_child(n, "pair-success"), "x"));
    wa_node_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setters_copy_caller_strings),
        cmocka_unit_test(test_readers_accept_null),
        cmocka_unit_test(test_binary_vectors),
        cmocka_unit_test(test_vector_contents),
        cmocka_unit_test(test_builders_match_vector),
        cmocka_unit_test(test_compressed_vector),
        cmocka_unit_test(test_negative_vectors),
        cmocka_unit_test(test_cap_depth),
        cmocka_unit_test(test_cap_counts),
        cmocka_unit_test(test_cap_zlib_bomb),
        cmocka_unit_test(test_token_checksums),
        cmocka_unit_test(test_token_lookup),
        cmocka_unit_test(test_noncanonical_roundtrip),
        cmocka_unit_test(test_encode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
