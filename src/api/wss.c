/* SPDX-License-Identifier: MIT */
/* wss.c -- WebSocket server handshake (SHA-1/base64) and wslay event-API framing.
 *
 * wslay pulls input through recv_callback and pushes output through
 * send_callback. We hand it the bytes of the current wss_feed() call (and
 * WOULDBLOCK once they are used up), and collect everything it sends in a
 * capped output buffer the caller drains. wslay_event_send() is run right
 * after each queue operation so queued frames never linger inside wslay.
 */
#include "api/wss.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct wss {
    wslay_event_context_ptr ctx;
    struct wss_limits lim;
    wss_message_fn on_message;
    void *arg;
    const uint8_t *in;
    size_t in_len;
    struct buf out;
    unsigned long long frames;
    bool failed;
    char err[128];
};

void wss_accept_key(const char *key, char out[static WSS_ACCEPT_LEN + 1])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_DigestInit_ex(c, EVP_sha1(), NULL) || !EVP_DigestUpdate(c, key, strlen(key)) ||
        !EVP_DigestUpdate(c, WS_GUID, sizeof(WS_GUID) - 1) || !EVP_DigestFinal_ex(c, md, &mdlen) ||
        mdlen != 20) {
        out[0] = '\0'; /* cannot happen short of OOM; an empty accept fails the client */
        EVP_MD_CTX_free(c);
        return;
    }
    EVP_MD_CTX_free(c);
    EVP_EncodeBlock((unsigned char *)out, md, 20);
}

static int seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return -EINVAL;
}

/* base64 of exactly 16 bytes: 22 base64 characters and "==". */
static bool key_ok(const char *k)
{
    if (strlen(k) != 24 || strcmp(k + 22, "==") != 0) return false;
    uint8_t tmp[24];
    return EVP_DecodeBlock(tmp, (const unsigned char *)k, 24) == 18;
}

int wss_handshake_check(const struct http_request *req, char accept[static WSS_ACCEPT_LEN + 1],
                        int *status, char *err, size_t errlen)
{
    *status = 400;
    if (strcmp(req->method, "GET") != 0) return seterr(err, errlen, "WebSocket upgrade needs GET");
    if (req->version_major != 1 || req->version_minor < 1)
        return seterr(err, errlen, "WebSocket upgrade needs HTTP/1.1");
    const char *conn = http_request_header(req, "Connection");
    const char *up = http_request_header(req, "Upgrade");
    if (!conn || !http_header_has_token(conn, "upgrade") || !up ||
        !http_header_has_token(up, "websocket"))
        return seterr(err, errlen, "not a WebSocket upgrade request");
    const char *ver = http_request_header(req, "Sec-WebSocket-Version");
    if (!ver || strcmp(ver, "13") != 0) {
        *status = 426;
        return seterr(err, errlen, "unsupported Sec-WebSocket-Version (want 13)");
    }
    const char *key = http_request_header(req, "Sec-WebSocket-Key");
    if (!key || !key_ok(key)) return seterr(err, errlen, "bad Sec-WebSocket-Key");
    wss_accept_key(key, accept);
    *status = 101;
    return 0;
}

int wss_handshake_response_proto(struct buf *out, const char *accept, const char *protocol)
{
    if (protocol && strpbrk(protocol, "\r\n")) return -EINVAL;
    return buf_printf(out,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                      accept, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                      protocol ? "\r\n" : "");
}

int wss_handshake_response(struct buf *out, const char *accept)
{
    return wss_handshake_response_proto(out, accept, NULL);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    struct wss *ws = user;
    if (ws->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct wss *ws = user;
    if (buf_append(&ws->out, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
    struct wss *ws = user;
    ws->frames++;
    if ((a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME) && ws->on_message)
        ws->on_message(ws->arg, a->opcode == WSLAY_TEXT_FRAME ? WSS_TEXT : WSS_BINARY, a->msg,
                       a->msg_length);
}

int wss_new(const struct wss_limits *lim, wss_message_fn on_message, void *arg, struct wss **out)
{
    *out = NULL;
    struct wss *ws = calloc(1, sizeof(*ws));
    if (!ws) return -ENOMEM;
    ws->lim.max_message = lim && lim->max_message ? lim->max_message : 64 * 1024;
    ws->lim.max_output = lim && lim->max_output ? lim->max_output : 4u << 20;
    ws->on_message = on_message;
    ws->arg = arg;
    /* room for a close frame beyond the data cap */
    buf_init(&ws->out, ws->lim.max_output + 256);
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .on_msg_recv_callback = msg_cb,
    };
    if (wslay_event_context_server_init(&ws->ctx, &cbs, ws) != 0) {
        free(ws);
        return -ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->lim.max_message);
    *out = ws;
    return 0;
}

void wss_free(struct wss *ws)
{
    if (!ws) return;
    wslay_event_context_free(ws->ctx);
    buf_free(&ws->out);
    free(ws);
}

static int flush(struct wss *ws)
{
    int r = wslay_event_send(ws->ctx);
    if (r != 0 && r != WSLAY_ERR_WOULDBLOCK) {
        snprintf(ws->err, sizeof(ws->err), "wslay send: %d", r);
        return r == WSLAY_ERR_NOMEM ? -ENOMEM : -ENOBUFS;
    }
    return 0;
}

int wss_feed(struct wss *ws, const uint8_t *data, size_t len)
{
    if (ws->failed) return -EPROTO;
    ws->in = data;
    ws->in_len = len;
    int r = 0;
    while (ws->in_len > 0 && wslay_event_get_read_enabled(ws->ctx)) {
        r = wslay_event_recv(ws->ctx);
        if (r != 0) break;
    }
    ws->in = NULL;
    ws->in_len = 0;
    int fr = flush(ws);
    if (r == WSLAY_ERR_NOMEM || fr == -ENOMEM) return -ENOMEM;
    uint16_t sent = wslay_event_get_status_code_sent(ws->ctx);
    bool proto = wslay_event_get_close_sent(ws->ctx) && !wslay_event_get_close_received(ws->ctx) &&
                 (sent == WSLAY_CODE_PROTOCOL_ERROR || sent == WSLAY_CODE_MESSAGE_TOO_BIG ||
                  sent == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA);
    if (r != 0 || proto) {
        ws->failed = true;
        snprintf(ws->err, sizeof(ws->err), "protocol error (close %u)", (unsigned)sent);
        if (!wslay_event_get_close_sent(ws->ctx)) wss_close(ws, WSLAY_CODE_PROTOCOL_ERROR, NULL);
        return -EPROTO;
    }
    return 0;
}

static int send_msg(struct wss *ws, uint8_t opcode, const uint8_t *data, size_t len)
{
    if (wslay_event_get_close_sent(ws->ctx)) return -EPIPE;
    if (ws->out.len + len + 14 > ws->lim.max_output) return -ENOBUFS;
    struct wslay_event_msg m = {opcode, data, len};
    int r = wslay_event_queue_msg(ws->ctx, &m);
    if (r != 0) return r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPIPE;
    return flush(ws);
}

int wss_send_text(struct wss *ws, const char *text, size_t len)
{
    return send_msg(ws, WSLAY_TEXT_FRAME, (const uint8_t *)text, len);
}

int wss_send_binary(struct wss *ws, const uint8_t *data, size_t len)
{
    return send_msg(ws, WSLAY_BINARY_FRAME, data, len);
}

int wss_send_ping(struct wss *ws, const uint8_t *payload, size_t len)
{
    if (wslay_event_get_close_sent(ws->ctx)) return -EPIPE;
    if (len > 125) return -EINVAL;
    struct wslay_event_msg m = {WSLAY_PING, payload, len};
    int r = wslay_event_queue_msg(ws->ctx, &m);
    if (r != 0) return r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPIPE;
    return flush(ws);
}

int wss_close(struct wss *ws, uint16_t code, const char *reason)
{
    if (wslay_event_get_close_sent(ws->ctx)) return -EPIPE;
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123) rl = 123;
    /* the close frame must fit even when data filled the output */
    ws->out.max = ws->out.len + 256 > ws->out.max ? ws->out.len + 256 : ws->out.max;
    int r = wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, rl);
    if (r != 0) return r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPIPE;
    return flush(ws);
}

const uint8_t *wss_output(const struct wss *ws, size_t *len)
{
    *len = ws->out.len;
    return ws->out.data;
}

void wss_output_consume(struct wss *ws, size_t n)
{
    buf_consume(&ws->out, n > ws->out.len ? ws->out.len : n);
}

bool wss_finished(const struct wss *ws)
{
    return wslay_event_get_close_sent(ws->ctx) && !wslay_event_want_write(ws->ctx);
}

bool wss_close_received(const struct wss *ws)
{
    return wslay_event_get_close_received(ws->ctx) != 0;
}

uint16_t wss_peer_close_code(const struct wss *ws)
{
    return wslay_event_get_close_received(ws->ctx) ? wslay_event_get_status_code_received(ws->ctx)
                                                   : 0;
}

unsigned long long wss_frames_received(const struct wss *ws)
{
    return ws->frames;
}

const char *wss_last_error(const struct wss *ws)
{
    return ws->err;
}
