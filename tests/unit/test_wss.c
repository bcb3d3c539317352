/* SPDX-License-Identifier: MIT */
/* test_wss.c -- WebSocket handshake and server framing: masking, fragments,
 * ping, close, oversize, output cap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/wss.h"

/* Build one client frame (masked unless mask == false). */
static size_t frame(uint8_t *out, bool fin, int op, const void *p, size_t n, bool mask)
{
    size_t o = 0;
    out[o++] = (uint8_t)((fin ? 0x80 : 0) | op);
    uint8_t m = mask ? 0x80 : 0;
    if (n < 126) {
        out[o++] = (uint8_t)(m | n);
    } else if (n < 65536) {
        out[o++] = m | 126;
        out[o++] = (uint8_t)(n >> 8);
        out[o++] = (uint8_t)n;
    } else {
        out[o++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[o++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) {
        memcpy(out + o, key, 4);
        o += 4;
    }
    for (size_t i = 0; i < n; i++)
        out[o + i] = ((const uint8_t *)p)[i] ^ (mask ? key[i % 4] : 0);
    return o + n;
}

/* Parse one unmasked server frame; returns its total length or 0. */
static size_t parse(const uint8_t *b, size_t len, int *op, const uint8_t **pl, size_t *pn)
{
    if (len < 2) return 0;
    assert_int_equal(b[1] & 0x80, 0); /* server frames are never masked */
    size_t n = b[1] & 0x7f, h = 2;
    if (n == 126) {
        n = (size_t)b[2] << 8 | b[3];
        h = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | b[2 + i];
        h = 10;
    }
    if (len < h + n) return 0;
    *op = b[0] & 0x0f;
    *pl = b + h;
    *pn = n;
    return h + n;
}

struct got {
    int n;
    char last[256];
    size_t last_len;
};

static void on_msg(void *arg, enum wss_opcode op, const uint8_t *d, size_t len)
{
    struct got *g = arg;
    g->n++;
    g->last_len = len;
    snprintf(g->last, sizeof(g->last), "%.*s", (int)(len < 200 ? len : 200), (const char *)d);
}

static void test_accept_key(void **st)
{
    char acc[WSS_ACCEPT_LEN + 1];
    wss_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc); /* RFC 6455 section 1.3 */
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static int check(const char *raw, int *status, char acc[static WSS_ACCEPT_LEN + 1])
{
    struct http_parser *p;
    assert_int_equal(http_parser_new(NULL, &p), 0);
    size_t used;
    assert_int_equal(http_parser_feed(p, raw, strlen(raw), &used), HTTP_READY);
    char err[128];
    int r = wss_handshake_check(http_parser_request(p), acc, status, err, sizeof(err));
    http_parser_free(p);
    return r;
}

static void test_handshake_check(void **st)
{
    char acc[WSS_ACCEPT_LEN + 1];
    int status;
    const char *ok = "GET /e HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(check(ok, &status, acc), 0);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const char *nover = "GET /e HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                        "Upgrade: websocket\r\nSec-WebSocket-Version: 8\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(check(nover, &status, acc), -EINVAL);
    assert_int_equal(status, 426);
    const char *badkey = "GET /e HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                         "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: short==\r\n\r\n";
    assert_int_equal(check(badkey, &status, acc), -EINVAL);
    assert_int_equal(status, 400);
    const char *noup = "GET /e HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(check(noup, &status, acc), -EINVAL);
    const char *post = "POST /e HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                       "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    assert_int_equal(check(post, &status, acc), -EINVAL);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(wss_handshake_response(&b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), 0);
    assert_non_null(strstr((char *)b.data, "101 Switching Protocols"));
    buf_free(&b);
}

static void test_masked_and_fragmented(void **st)
{
    struct got g = {0};
    struct wss *ws;
    assert_int_equal(wss_new(NULL, on_msg, &g, &ws), 0);
    uint8_t b[512];
    size_t n = frame(b, true, 1, "hello", 5, true);
    /* fed one byte at a time */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(wss_feed(ws, b + i, 1), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.last, "hello");
    /* fragmented: "ab" + continuation "cd" + final "ef", with a ping in between */
    n = frame(b, false, 1, "ab", 2, true);
    n += frame(b + n, false, 0, "cd", 2, true);
    n += frame(b + n, true, 9, "p!", 2, true);
    n += frame(b + n, true, 0, "ef", 2, true);
    assert_int_equal(wss_feed(ws, b, n), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.last, "abcdef");
    /* the ping got a pong with the same payload */
    size_t olen;
    const uint8_t *o = wss_output(ws, &olen);
    int op;
    const uint8_t *pl;
    size_t pn;
    size_t fl = parse(o, olen, &op, &pl, &pn);
    assert_true(fl > 0);
    assert_int_equal(op, 0xA);
    assert_int_equal(pn, 2);
    assert_memory_equal(pl, "p!", 2);
    wss_output_consume(ws, fl);
    /* server -> client text */
    assert_int_equal(wss_send_text(ws, "{\"seq\":1}", 9), 0);
    o = wss_output(ws, &olen);
    fl = parse(o, olen, &op, &pl, &pn);
    assert_int_equal(op, 1);
    assert_memory_equal(pl, "{\"seq\":1}", 9);
    wss_output_consume(ws, fl);
    /* close handshake: client closes with 1000, server replies and is finished */
    uint8_t cp[2] = {0x03, 0xE8};
    n = frame(b, true, 8, cp, 2, true);
    assert_false(wss_finished(ws));
    assert_int_equal(wss_feed(ws, b, n), 0);
    assert_true(wss_close_received(ws));
    assert_int_equal(wss_peer_close_code(ws), 1000);
    assert_true(wss_finished(ws));
    o = wss_output(ws, &olen);
    fl = parse(o, olen, &op, &pl, &pn);
    assert_int_equal(op, 8);
    assert_int_equal(wss_send_text(ws, "x", 1), -EPIPE);
    wss_free(ws);
}

static uint16_t close_code_out(struct wss *ws)
{
    size_t olen;
    const uint8_t *o = wss_output(ws, &olen);
    int op = 0;
    const uint8_t *pl;
    size_t pn, fl;
    while ((fl = parse(o, olen, &op, &pl, &pn)) > 0) {
        if (op == 8) return pn >= 2 ? (uint16_t)(pl[0] << 8 | pl[1]) : 1005;
        o += fl;
        olen -= fl;
    }
    return 0;
}

static void test_unmasked_rejected(void **st)
{
    struct got g = {0};
    struct wss *ws;
    assert_int_equal(wss_new(NULL, on_msg, &g, &ws), 0);
    uint8_t b[64];
    size_t n = frame(b, true, 1, "hi", 2, false);
    assert_int_equal(wss_feed(ws, b, n), -EPROTO);
    assert_int_equal(g.n, 0);
    assert_int_equal(close_code_out(ws), 1002);
    assert_true(wss_finished(ws));
    assert_int_equal(wss_feed(ws, b, n), -EPROTO);
    wss_free(ws);
}

static void test_oversize(void **st)
{
    struct got g = {0};
    struct wss *ws;
    struct wss_limits lim = {.max_message = 100};
    assert_int_equal(wss_new(&lim, on_msg, &g, &ws), 0);
    uint8_t *b = malloc(1024);
    char big[200];
    memset(big, 'x', sizeof(big));
    size_t n = frame(b, true, 1, big, 100, true); /* at the cap: fine */
    assert_int_equal(wss_feed(ws, b, n), 0);
    assert_int_equal(g.n, 1);
    /* fragments summing over the cap */
    n = frame(b, false, 1, big, 60, true);
    n += frame(b + n, true, 0, big, 60, true);
    assert_int_equal(wss_feed(ws, b, n), -EPROTO);
    assert_int_equal(g.n, 1);
    assert_int_equal(close_code_out(ws), 1009);
    free(b);
    wss_free(ws);
}

static void test_bad_opcode_and_control(void **st)
{
    struct wss *ws;
    assert_int_equal(wss_new(NULL, NULL, NULL, &ws), 0);
    uint8_t b[300];
    size_t n = frame(b, true, 3, "x", 1, true); /* reserved opcode */
    assert_int_equal(wss_feed(ws, b, n), -EPROTO);
    wss_free(ws);
    assert_int_equal(wss_new(NULL, NULL, NULL, &ws), 0);
    char big[200];
    memset(big, 'p', sizeof(big));
    n = frame(b, true, 9, big, 126, true); /* ping > 125 bytes */
    assert_int_equal(wss_feed(ws, b, n), -EPROTO);
    wss_free(ws);
    assert_int_equal(wss_new(NULL, NULL, NULL, &ws), 0);
    n = frame(b, false, 9, "a", 1, true); /* fragmented control frame */
    assert_int_equal(wss_feed(ws, b, n), -EPROTO);
    wss_free(ws);
}

static void test_output_cap_and_server_close(void **st)
{
    struct wss *ws;
    struct wss_limits lim = {.max_output = 1000};
    assert_int_equal(wss_new(&lim, NULL, NULL, &ws), 0);
    char msg[300];
    memset(msg, 'm', sizeof(msg));
    int r = 0, sent = 0;
    while ((r = wss_send_text(ws, msg, sizeof(msg))) == 0)
        sent++;
    assert_int_equal(r, -ENOBUFS);
    assert_int_equal(sent, 3);
    size_t olen;
    wss_output(ws, &olen);
    assert_true(olen <= 1000);
    /* a close still fits */
    assert_int_equal(wss_close(ws, 1008, "too slow"), 0);
    assert_int_equal(close_code_out(ws), 1008);
    assert_true(wss_finished(ws));
    assert_int_equal(wss_close(ws, 1000, NULL), -EPIPE);
    assert_int_equal(wss_send_ping(ws, NULL, 0), -EPIPE);
    wss_free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_handshake_check),
        cmocka_unit_test(test_masked_and_fragmented),
        cmocka_unit_test(test_unmasked_rejected),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_bad_opcode_and_control),
        cmocka_unit_test(test_output_cap_and_server_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
