/* SPDX-License-Identifier: MIT */
/* test_client.c -- session-end classification (every stream:error / failure shape of
 * wa-protocol.md §1.4, transport outcomes) and client API argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/outcome.h"
#include "wa/client.h"
#include "wa/node.h"
#include "wa/nodetext.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static struct wa_node *parse(const char *text)
{
    struct wa_node *n = NULL;
    char err[160];
    if (wa_nodetext_parse(text, strlen(text), &n, err, sizeof(err)) < 0)
        fail_msg("%s: %s", text, err);
    return n;
}

struct row {
    const char *node;
    int ends;
    enum wa_outcome_kind kind;
    enum wa_outcome_class cls;
    int code;
    const char *text; /* substring of o.text */
};

static const struct row rows[] = {
    {"<stream:error code='515'/>", 1, WA_OUT_STREAM_ERROR, WA_OC_RESTART, 515, "515"},
    {"<stream:error code='503'/>", 1, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 503, "503"},
    {"<stream:error code='500'/>", 1, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 500, "500"},
    {"<stream:error code='408'/>", 1, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 408, "408"},
    {"<stream:error><conflict type='replaced'/></stream:error>", 1, WA_OUT_STREAM_ERROR,
     WA_OC_REPLACED, 440, "type=replaced"},
    {"<stream:error code='440'><conflict type='replaced'/></stream:error>", 1, WA_OUT_STREAM_ERROR,
     WA_OC_REPLACED, 440, "conflict"},
    {"<stream:error code='401'><conflict type='device_removed'/></stream:error>", 1,
     WA_OUT_STREAM_ERROR, WA_OC_LOGGED_OUT, 401, "device_removed"},
    {"<stream:error><conflict type='device_removed'/></stream:error>", 1, WA_OUT_STREAM_ERROR,
     WA_OC_LOGGED_OUT, 440, "device_removed"},
    {"<stream:error code='401'/>", 1, WA_OUT_STREAM_ERROR, WA_OC_LOGGED_OUT, 401, "401"},
    {"<stream:error/>", 1, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 500, "500"},
    {"<stream:error><ack id='1'/></stream:error>", 1, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 500,
     "<ack>"},
    {"<stream:error code='x1'/>", 1, WA_OUT_STREAM_ERROR, WA_OC_TRANSIENT, 500, "500"},
    {"<failure reason='401'/>", 1, WA_OUT_FAILURE, WA_OC_LOGGED_OUT, 401, "reason=401"},
    {"<failure reason='403' logout_message_header='x' logout_message_subtext='y'/>", 1,
     WA_OUT_FAILURE, WA_OC_LOGGED_OUT, 403, "reason=403"},
    {"<failure reason='406'/>", 1, WA_OUT_FAILURE, WA_OC_LOGGED_OUT, 406, "406"},
    {"<failure reason='402' code='101' expire='3600'/>", 1, WA_OUT_FAILURE, WA_OC_TEMP_BAN, 402,
     "expires in 3600 s"},
    {"<failure reason='405'/>", 1, WA_OUT_FAILURE, WA_OC_OUTDATED, 405, "405"},
    {"<failure reason='409'/>", 1, WA_OUT_FAILURE, WA_OC_TRANSIENT, 409, "409"},
    {"<failure reason='500'/>", 1, WA_OUT_FAILURE, WA_OC_TRANSIENT, 500, "500"},
    {"<failure reason='503'/>", 1, WA_OUT_FAILURE, WA_OC_TRANSIENT, 503, "503"},
    {"<failure/>", 1, WA_OUT_FAILURE, WA_OC_TRANSIENT, 500, "reason=500"},
    {"<xmlstreamend/>", 1, WA_OUT_STREAM_END, WA_OC_TRANSIENT, 428, "xmlstreamend"},
    {"<success t='1' lid=@'2111:1@lid'/>", 0, 0, 0, 0, NULL},
    {"<iq type='result' id='1'/>", 0, 0, 0, 0, NULL},
    {"<ib><offline count='0'/></ib>", 0, 0, 0, 0, NULL},
    {"<message id='1'/>", 0, 0, 0, 0, NULL},
};

static void test_classify_nodes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        const struct row *r = &rows[i];
        struct wa_node *n = parse(r->node);
        struct wa_outcome o;
        memset(&o, 0x5a, sizeof(o));
        int ends = wa_outcome_from_node(n, &o);
        if (ends != r->ends) fail_msg("%s: ends %d", r->node, ends);
        if (ends) {
            if (o.kind != r->kind || o.cls != r->cls || o.code != r->code)
                fail_msg("%s: kind %s class %s code %d", r->node, wa_outcome_kind_name(o.kind),
                         wa_outcome_class_name(o.cls), o.code);
            if (!strstr(o.text, r->text)) fail_msg("%s: text '%s'", r->node, o.text);
            assert_int_equal(o.net.stage, NOUT_NONE);
            assert_non_null(memchr(o.text, 0, sizeof(o.text)));
        }
        wa_node_free(n);
    }
    struct wa_node *n = parse("<failure reason='402' code='104' expire='86400'/>");
    struct wa_outcome o;
    assert_int_equal(wa_outcome_from_node(n, &o), 1);
    assert_int_equal(o.ban_code, 104);
    assert_int_equal(o.expire, 86400);
    wa_node_free(n);
}

static void test_classify_net(void **state)
{
    (void)state;
    struct nout n;
    struct wa_outcome o;
    nout_set(&n, NOUT_DNS, NOUT_C_NXDOMAIN, -ENOENT, 0, "dns: NXDOMAIN web.whatsapp.com");
    wa_outcome_from_net(&n, &o);
    assert_int_equal(o.kind, WA_OUT_TRANSPORT);
    assert_int_equal(o.cls, WA_OC_TRANSIENT);
    assert_int_equal(o.code, 408);
    assert_string_equal(o.text, "dns: NXDOMAIN web.whatsapp.com");
    assert_int_equal(o.net.stage, NOUT_DNS);
    nout_set(&n, NOUT_WS, NOUT_C_HTTP_STATUS, -ECONNREFUSED, 503, "ws: HTTP 503");
    wa_outcome_from_net(&n, &o);
    assert_int_equal(o.code, 503);
    nout_set(&n, NOUT_CLOSED, NOUT_C_ERRNO, -ECONNRESET, 0, "closed: ECONNRESET (after open)");
    wa_outcome_from_net(&n, &o);
    assert_int_equal(o.code, 428);
    assert_int_equal(o.cls, WA_OC_TRANSIENT);
    nout_set(&n, NOUT_CONNECT, NOUT_C_TIMEOUT, -ETIMEDOUT, 0, "connect: timeout 127.0.0.1:1");
    wa_outcome_from_net(&n, &o);
    assert_int_equal(o.code, 408);
    nout_set(&n, NOUT_URL, NOUT_C_BAD_URL, -EINVAL, 0, "url: bad scheme");
    wa_outcome_from_net(&n, &o);
    assert_int_equal(o.cls, WA_OC_FATAL);
    assert_string_equal(wa_outcome_kind_name(WA_OUT_KEEPALIVE), "keepalive");
    assert_string_equal(wa_outcome_class_name(WA_OC_LOGGED_OUT), "logged_out");
    assert_string_equal(wa_client_state_name(WA_CS_LOGGING_IN), "logging_in");
}

static void test_api_args(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct wa_client_opts o = {.url = "ws://127.0.0.1:1/ws/chat"};
    struct wa_client_cbs cbs = {0};
    struct wa_client *c = NULL;
    assert_int_equal(wa_client_new(NULL, &o, &cbs, NULL, &c), -EINVAL);
    assert_int_equal(wa_client_new(&loop, &o, &cbs, NULL, &c), 0);
    assert_int_equal(wa_client_state(c), WA_CS_IDLE);
    struct wa_node *iq = parse("<iq id='1' type='get'/>");
    assert_int_equal(wa_client_send_node(c, iq), -ENOTCONN);
    assert_int_equal(wa_client_send_iq(c, iq, 0, NULL, NULL), -EINVAL);
    wa_node_free(iq);
    struct wa_creds cr;
    memset(&cr, 0, sizeof(cr));
    struct sg_store st = {0};
    assert_int_equal(wa_client_start(c, &cr, &st), -EINVAL); /* no ops */
    assert_int_equal(wa_client_prekey_topup(NULL, 0), -EINVAL);
    assert_int_equal(wa_client_prekey_topup(c, -1), -EINVAL);
    assert_int_equal(wa_client_prekey_topup(c, 0), -ENOTCONN); /* idle */
    char id1[32], id2[32];
    wa_client_new_id(c, id1, sizeof(id1));
    wa_client_new_id(c, id2, sizeof(id2));
    assert_string_not_equal(id1, id2);
    wa_client_close(c);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_nodes),
        cmocka_unit_test(test_classify_net),
        cmocka_unit_test(test_api_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
