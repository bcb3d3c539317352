/* SPDX-License-Identifier: MIT */
/* wss.h -- server side of WebSocket (RFC 6455): upgrade handshake and framing (wslay).
 *
 * Sans-I/O: the caller feeds bytes read from the peer with wss_feed() and
 * writes whatever wss_output() holds (server frames, pongs, the close reply).
 * Client frames must be masked, control frames are answered by wslay (ping ->
 * pong, close -> close reply), fragmented messages are reassembled up to
 * max_message bytes (larger: close 1009). Caps:
 *   - max_message: largest message accepted from the client (default 64 KiB)
 *   - max_output:  bytes that may wait in the output buffer; a send that
 *                  would exceed it fails with -ENOBUFS (default 4 MiB)
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"
#include "core/buf.h"

#define WSS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* Sec-WebSocket-Accept = base64(SHA1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). */
void wss_accept_key(const char *key, char out[static WSS_ACCEPT_LEN + 1]);

/* Validate an upgrade request: GET, HTTP/1.1+, "Connection: upgrade",
 * "Upgrade: websocket", "Sec-WebSocket-Version: 13", and a
 * Sec-WebSocket-Key that is base64 of 16 bytes. On success returns 0 and
 * fills accept. Otherwise returns -EINVAL (answer *status: 400, or 426 for a
 * wrong version, with "Sec-WebSocket-Version: 13") and a detail in err. */
int wss_handshake_check(const struct http_request *req, char accept[static WSS_ACCEPT_LEN + 1],
                        int *status, char *err, size_t errlen);
/* Append the "101 Switching Protocols" response. Returns 0 or -ENOBUFS/-ENOMEM. */
int wss_handshake_response(struct buf *out, const char *accept) __attribute__((warn_unused_result));
/* The same, selecting a subprotocol (a "Sec-WebSocket-Protocol: protocol" line; NULL: none).
 * -EINVAL for a protocol holding CR or LF. */
int wss_handshake_response_proto(struct buf *out, const char *accept, const char *protocol)
    __attribute__((warn_unused_result));

struct wss_limits {
    size_t max_message; /* 0 = 64 KiB */
    size_t max_output;  /* 0 = 4 MiB */
};

enum wss_opcode { WSS_TEXT = 1, WSS_BINARY = 2 };

/* Called from inside wss_feed() for every complete data message. */
typedef void (*wss_message_fn)(void *arg, enum wss_opcode op, const uint8_t *data, size_t len);

struct wss; /* opaque */

/* on_message may be NULL (messages are then dropped). Returns 0 or -ENOMEM. */
int wss_new(const struct wss_limits *lim, wss_message_fn on_message, void *arg, struct wss **out)
    __attribute__((warn_unused_result));
void wss_free(struct wss *ws); /* NULL ok */

/* Feed bytes from the peer. Returns 0, or -EPROTO after a protocol violation
 * or an oversize message (a close frame 1002/1007/1009 is then waiting in the
 * output: write it and close), -ENOMEM. */
int wss_feed(struct wss *ws, const uint8_t *data, size_t len) __attribute__((warn_unused_result));
/* Queue one unfragmented text message. -ENOBUFS if the output would exceed
 * max_output (the slow-reader signal), -EPIPE once a close was sent. */
int wss_send_text(struct wss *ws, const char *text, size_t len) __attribute__((warn_unused_result));
/* Queue one unfragmented binary message; errors as wss_send_text. */
int wss_send_binary(struct wss *ws, const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));
/* Queue a ping (payload up to 125 bytes). */
int wss_send_ping(struct wss *ws, const uint8_t *payload, size_t len)
    __attribute__((warn_unused_result));
/* Queue a close frame with code and reason (reason up to 123 bytes). Output
 * caps do not apply to it. Returns 0 or -EPIPE if one was already sent. */
int wss_close(struct wss *ws, uint16_t code, const char *reason);

/* Bytes waiting to be written, and marking n of them written. */
const uint8_t *wss_output(const struct wss *ws, size_t *len);
void wss_output_consume(struct wss *ws, size_t n);
/* True once the connection should be closed after the output is written:
 * a close frame was sent (in reply to the peer's, or by us). */
bool wss_finished(const struct wss *ws);
bool wss_close_received(const struct wss *ws);
/* Close code received from the peer (1005 if none, 0 if no close yet). */
uint16_t wss_peer_close_code(const struct wss *ws);
/* Messages received and pongs seen (for liveness). */
unsigned long long wss_frames_received(const struct wss *ws);
const char *wss_last_error(const struct wss *ws);
