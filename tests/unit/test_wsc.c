/* SPDX-License-Identifier: MIT */
/* test_wsc.c -- WebSocket client codec: upgrade request/response and frames, no sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/wsc.h"

struct rec {
    int opens, closes, msgs;
    uint8_t last[4096];
    size_t last_len;
    struct nout out;
};

static void r_open(void *ud)
{
    ((struct rec *)ud)->opens++;
}

static void r_msg(void *ud, const uint8_t *d, size_t n)
{
    struct rec *r = ud;

    r->msgs++;
    r->last_len = n < sizeof(r->last) ? n : sizeof(r->last);
    memcpy(r->last, d, r->last_len);
}

static void r_close(void *ud, const struct nout *o)
{
    struct rec *r = ud;

    r->closes++;
    r->out = *o;
}

static const struct wsc_cbs cbs = {.on_open = r_open, .on_message = r_msg, .on_close = r_close};

static struct wsc *mk(struct rec *r, size_t max_msg)
{
    struct wsc_opts o = {
        .host = "web.whatsapp.com", .path = "/ws/chat", .max_msg = max_msg, .max_header = 2048};
    char err[100];
    struct wsc *w;

    memset(r, 0, sizeof(*r));
    w = wsc_new(&o, &cbs, r, err, sizeof(err));
    assert_non_null(w);
    return w;
}

static size_t response(struct wsc *w, char *dst, size_t cap, const char *accept)
{
    int n = snprintf(dst, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept ? accept : wsc_expected_accept(w));
    return (size_t)n;
}

/* An unmasked server frame. */
static size_t frame(uint8_t *dst, int fin, int op, const void *p, size_t n)
{
    size_t off = 0;

    dst[off++] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        dst[off++] = (uint8_t)n;
    } else {
        dst[off++] = 126;
        dst[off++] = (uint8_t)(n >> 8);
        dst[off++] = (uint8_t)n;
    }
    memcpy(dst + off, p, n);
    return off + n;
}

/* Decode one masked client frame from the output; returns payload length. */
static size_t take_client_frame(struct wsc *w, int *op, uint8_t *payload)
{
    size_t len, n, off = 2;
    const uint8_t *p = wsc_out(w, &len);
    const uint8_t *mask;

    assert_true(len >= 6);
    *op = p[0] & 0x0f;
    assert_true(p[1] & 0x80); /* client frames are masked */
    n = p[1] & 0x7f;
    if (n == 126) {
        n = (size_t)p[2] << 8 | p[3];
        off = 4;
    }
    mask = p + off;
    off += 4;
    assert_true(len >= off + n);
    for (size_t i = 0; i < n; i++)
        payload[i] = p[off + i] ^ mask[i % 4];
    wsc_out_consume(w, off + n);
    return n;
}

static void open_ws(struct wsc *w, struct rec *r)
{
    char resp[512];
    size_t len, n = response(w, resp, sizeof(resp), NULL);

    (void)wsc_out(w, &len);
    wsc_out_consume(w, len); /* the request */
    assert_int_equal(wsc_feed(w, (const uint8_t *)resp, n), 0);
    assert_int_equal(r->opens, 1);
    assert_true(wsc_is_open(w));
}

static void test_accept_rfc_example(void **state)
{
    char acc[WSC_ACCEPT_LEN + 1];

    /* RFC 6455 section 1.3 example */
    assert_int_equal(wsc_compute_accept("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_request(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    size_t len;
    const char *req = (const char *)wsc_out(w, &len);
    char line[128], *copy = strndup(req, len);

    assert_true(strncmp(copy, "GET /ws/chat HTTP/1.1\r\n", 23) == 0);
    assert_non_null(strstr(copy, "\r\nHost: web.whatsapp.com\r\n"));
    assert_non_null(strstr(copy, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(copy, "\r\nConnection: Upgrade\r\n"));
    assert_non_null(strstr(copy, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(copy, "\r\nOrigin: https://web.whatsapp.com\r\n"));
    snprintf(line, sizeof(line), "\r\nSec-WebSocket-Key: %s\r\n", wsc_key(w));
    assert_non_null(strstr(copy, line));
    assert_int_equal(strlen(wsc_key(w)), WSC_KEY_LEN);
    assert_true(len > 4 && memcmp(copy + len - 4, "\r\n\r\n", 4) == 0);
    free(copy);
    wsc_free(w);
}

static void test_keys_differ(void **state)
{
    struct rec r;
    struct wsc *a = mk(&r, 0), *b = mk(&r, 0);

    assert_string_not_equal(wsc_key(a), wsc_key(b));
    wsc_free(a);
    wsc_free(b);
}

static void test_bad_opts(void **state)
{
    struct wsc_opts o = {.host = "h\r\nX: y", .path = "/"};
    char err[100];
    struct rec r;

    assert_null(wsc_new(&o, &cbs, &r, err, sizeof(err)));
    o.host = "h";
    o.path = "nopath";
    assert_null(wsc_new(&o, &cbs, &r, err, sizeof(err)));
}

static void test_open_with_trailing_frame(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[1024];
    size_t n = response(w, (char *)buf, sizeof(buf), NULL), len;

    (void)wsc_out(w, &len);
    wsc_out_consume(w, len);
    n += frame(buf + n, 1, 2, "\x01\x02\x03", 3); /* binary right after the 101 */
    assert_int_equal(wsc_feed(w, buf, n), 0);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.msgs, 1);
    assert_int_equal(r.last_len, 3);
    assert_memory_equal(r.last, "\x01\x02\x03", 3);
    wsc_free(w);
}

static void test_open_byte_by_byte(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[1024];
    size_t n = response(w, (char *)buf, sizeof(buf), NULL);

    n += frame(buf + n, 0, 2, "ab", 2); /* fragmented: "ab" + "cd" */
    n += frame(buf + n, 1, 0, "cd", 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(wsc_feed(w, buf + i, 1), 0);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.msgs, 1);
    assert_memory_equal(r.last, "abcd", 4);
    assert_int_equal(r.closes, 0);
    wsc_free(w);
}

static void test_http_403(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    const char *resp = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";

    assert_int_equal(wsc_feed(w, (const uint8_t *)resp, strlen(resp)), -EPROTO);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.out.stage, NOUT_WS);
    assert_int_equal(r.out.cause, NOUT_C_HTTP_STATUS);
    assert_int_equal(r.out.detail, 403);
    assert_string_equal(r.out.text, "ws: HTTP 403");
    assert_int_equal(wsc_feed(w, (const uint8_t *)"x", 1), -EPIPE);
    wsc_feed_eof(w);
    assert_int_equal(r.closes, 1);
    wsc_free(w);
}

static void test_bad_accept(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    char resp[512];
    size_t n = response(w, resp, sizeof(resp), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");

    assert_int_equal(wsc_feed(w, (const uint8_t *)resp, n), -EPROTO);
    assert_string_equal(r.out.text, "ws: protocol error (bad Sec-WebSocket-Accept)");
    assert_int_equal(r.opens, 0);
    wsc_free(w);
}

static void test_missing_upgrade(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     wsc_expected_accept(w));

    assert_int_equal(wsc_feed(w, (const uint8_t *)resp, (size_t)n), -EPROTO);
    assert_string_equal(r.out.text, "ws: protocol error (missing Upgrade: websocket)");
    wsc_free(w);
}

static void test_garbage_response(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);

    assert_int_equal(wsc_feed(w, (const uint8_t *)"\x16\x03\x01garbage\r\n\r\n", 14), -EPROTO);
    assert_int_equal(r.out.cause, NOUT_C_PROTOCOL);
    assert_non_null(strstr(r.out.text, "ws: protocol error ("));
    wsc_free(w);
}

static void test_header_cap(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    const char *start = "HTTP/1.1 101 OK\r\n";
    char line[64];
    int rc = 0;

    assert_int_equal(wsc_feed(w, (const uint8_t *)start, strlen(start)), 0);
    for (int i = 0; i < 200 && rc == 0; i++) {
        int n = snprintf(line, sizeof(line), "X-Filler-%03d: 0123456789\r\n", i);
        rc = wsc_feed(w, (const uint8_t *)line, (size_t)n);
    }
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(r.out.text, "ws: protocol error (upgrade response too large)");
    wsc_free(w);
}

static void test_eof_during_upgrade(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);

    assert_int_equal(wsc_feed(w, (const uint8_t *)"HTTP/1.1 10", 11), 0);
    wsc_feed_eof(w);
    assert_int_equal(r.closes, 1);
    assert_string_equal(r.out.text, "ws: closed during upgrade");
    assert_int_equal(r.out.cause, NOUT_C_EOF);
    wsc_free(w);
}

static void test_send_binary_masked(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t payload[300], got[300];
    int op;

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)i;
    assert_int_equal(wsc_send_binary(w, payload, 3), -ENOTCONN);
    open_ws(w, &r);
    assert_int_equal(wsc_send_binary(w, payload, sizeof(payload)), 0);
    assert_true(wsc_pending(w) >= sizeof(payload) + 8);
    assert_int_equal(take_client_frame(w, &op, got), sizeof(payload));
    assert_int_equal(op, 2);
    assert_memory_equal(got, payload, sizeof(payload));
    assert_int_equal(wsc_pending(w), 0);
    wsc_free(w);
}

static void test_send_too_big(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 16);
    uint8_t p[17] = {0};

    open_ws(w, &r);
    assert_int_equal(wsc_send_binary(w, p, 17), -EMSGSIZE);
    wsc_free(w);
}

static void test_ping_pong(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[64], got[64];
    int op;

    open_ws(w, &r);
    assert_int_equal(wsc_feed(w, buf, frame(buf, 1, 9, "hi", 2)), 0);
    assert_int_equal(take_client_frame(w, &op, got), 2);
    assert_int_equal(op, 0xA);
    assert_memory_equal(got, "hi", 2);
    assert_int_equal(r.closes, 0);
    wsc_free(w);
}

static void test_text_ignored(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[64];

    open_ws(w, &r);
    assert_int_equal(wsc_feed(w, buf, frame(buf, 1, 1, "txt", 3)), 0);
    assert_int_equal(r.msgs, 0);
    wsc_free(w);
}

static void test_peer_close(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[64], got[64];
    int op;

    open_ws(w, &r);
    assert_int_equal(wsc_feed(w, buf, frame(buf, 1, 8, "\x03\xe8", 2)), -EPIPE);
    assert_int_equal(r.closes, 1);
    assert_string_equal(r.out.text, "ws: closed by peer (code 1000)");
    assert_int_equal(r.out.detail, 1000);
    assert_int_equal(take_client_frame(w, &op, got), 2); /* our close reply */
    assert_int_equal(op, 8);
    assert_memory_equal(got, "\x03\xe8", 2);
    assert_int_equal(wsc_send_binary(w, "x", 1), -ENOTCONN);
    wsc_free(w);
}

static void test_local_close(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[64], got[64];
    int op;

    open_ws(w, &r);
    assert_int_equal(wsc_close(w, 1000), 0);
    assert_int_equal(take_client_frame(w, &op, got), 2);
    assert_int_equal(op, 8);
    assert_int_equal(wsc_feed(w, buf, frame(buf, 1, 8, "\x03\xe8", 2)), -EPIPE);
    assert_string_equal(r.out.text, "closed: by local request");
    assert_int_equal(r.out.stage, NOUT_CLOSED);
    wsc_free(w);
}

static void test_eof_after_open(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);

    open_ws(w, &r);
    wsc_feed_eof(w);
    assert_string_equal(r.out.text, "ws: closed by peer (code 1006)");
    wsc_free(w);
}

static void test_message_too_big(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 8);
    uint8_t buf[64];

    open_ws(w, &r);
    assert_true(wsc_feed(w, buf, frame(buf, 1, 2, "0123456789", 10)) < 0);
    assert_int_equal(r.msgs, 0);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.out.cause, NOUT_C_PROTOCOL);
    assert_string_equal(r.out.text, "ws: protocol error (close 1009 sent)");
    wsc_free(w);
}

static void test_masked_server_frame_rejected(void **state)
{
    struct rec r;
    struct wsc *w = mk(&r, 0);
    uint8_t buf[] = {0x82, 0x81, 1, 2, 3, 4, 'x'};

    open_ws(w, &r);
    assert_true(wsc_feed(w, buf, sizeof(buf)) < 0);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.out.cause, NOUT_C_PROTOCOL);
    wsc_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_rfc_example),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_keys_differ),
        cmocka_unit_test(test_bad_opts),
        cmocka_unit_test(test_open_with_trailing_frame),
        cmocka_unit_test(test_open_byte_by_byte),
        cmocka_unit_test(test_http_403),
        cmocka_unit_test(test_bad_accept),
        cmocka_unit_test(test_missing_upgrade),
        cmocka_unit_test(test_garbage_response),
        cmocka_unit_test(test_header_cap),
        cmocka_unit_test(test_eof_during_upgrade),
        cmocka_unit_test(test_send_binary_masked),
        cmocka_unit_test(test_send_too_big),
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_text_ignored),
        cmocka_unit_test(test_peer_close),
        cmocka_unit_test(test_local_close),
        cmocka_unit_test(test_eof_after_open),
        cmocka_unit_test(test_message_too_big),
        cmocka_unit_test(test_masked_server_frame_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
