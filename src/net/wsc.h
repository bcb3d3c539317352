/* SPDX-License-Identifier: MIT */
/* wsc.h -- sans-I/O WebSocket client: HTTP/1.1 upgrade (llhttp) + frames (wslay).
 *
 * Bytes from the transport go in with wsc_feed(); bytes to send are read with wsc_out()
 * and released with wsc_out_consume(). No sockets, no loop: the connector (conn.h) moves
 * the bytes. wsc_new() already queues the upgrade request:
 *   GET PATH HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade,
 *   Sec-WebSocket-Key (16 random bytes, base64), Sec-WebSocket-Version: 13, Origin.
 * The response must be 101 with `Upgrade: websocket`, `Connection: upgrade` and the right
 * `Sec-WebSocket-Accept`; no extension may be accepted (none is offered). Bytes that
 * follow the response in the same feed are frames and are decoded at once.
 *
 * Callbacks run synchronously inside wsc_feed()/wsc_feed_eof()/wsc_close(); they must not
 * call wsc_free() (defer it). on_close runs exactly once, with the outcome:
 *   "ws: HTTP 403", "ws: closed during upgrade", "ws: protocol error (...)",
 *   "ws: closed by peer (code N)" (1006 = EOF without close frame),
 *   "closed: by local request" (our wsc_close() was answered).
 * Limits: response head <= max_header bytes, a message <= max_msg bytes (the peer gets
 * close 1009 and the outcome is a protocol error), output <= WSC_MAX_OUT bytes.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/outcome.h"

#define WSC_MAX_OUT         (64u << 20)
#define WSC_DEFAULT_MAX_MSG (8u << 20)
#define WSC_DEFAULT_MAX_HDR (16u << 10)
#define WSC_KEY_LEN         24 /* base64 of 16 bytes */
#define WSC_ACCEPT_LEN      28 /* base64 of a SHA-1 */

struct wsc_opts {
    const char *host;   /* Host header value ("web.whatsapp.com", "127.0.0.1:8080") */
    const char *path;   /* request target, starts with '/' */
    const char *origin; /* NULL = "https://web.whatsapp.com" */
    size_t max_msg;     /* 0 = WSC_DEFAULT_MAX_MSG */
    size_t max_header;  /* 0 = WSC_DEFAULT_MAX_HDR */
};

struct wsc_cbs {
    void (*on_open)(void *ud);
    /* A complete binary message (text messages are ignored); data valid during the call. */
    void (*on_message)(void *ud, const uint8_t *data, size_t len);
    void (*on_close)(void *ud, const struct nout *o);
};

struct wsc;

/* NULL on failure (bad options, out of memory) with a reason in err. */
struct wsc *wsc_new(const struct wsc_opts *o, const struct wsc_cbs *cbs, void *ud, char *err,
                    size_t errlen);
/* NULL is accepted; returns NULL. */
struct wsc *wsc_free(struct wsc *w);

/* Decode transport bytes. 0, or a negative error after on_close has run. Input after the
 * connection ended is ignored (returns -EPIPE). */
int wsc_feed(struct wsc *w, const uint8_t *data, size_t n);
/* The transport reached EOF (runs on_close if it has not run yet). */
void wsc_feed_eof(struct wsc *w);

/* Queue one binary message (copied). -ENOTCONN before open / after close, -EMSGSIZE above
 * max_msg, -ENOBUFS when the output would pass WSC_MAX_OUT, -ENOMEM. */
int wsc_send_binary(struct wsc *w, const void *data, size_t n) __attribute__((warn_unused_result));
/* Start the close handshake with `code` (e.g. 1000). No effect if closing already. */
int wsc_close(struct wsc *w, uint16_t code);

/* Bytes ready for the transport, and releasing them after they were handed over. */
const uint8_t *wsc_out(const struct wsc *w, size_t *len);
void wsc_out_consume(struct wsc *w, size_t n);
/* Output not yet handed to the transport (serialised + still queued in wslay). */
size_t wsc_pending(const struct wsc *w);

bool wsc_is_open(const struct wsc *w);
/* on_close has run: nothing more will be decoded. */
bool wsc_is_done(const struct wsc *w);
/* The Sec-WebSocket-Key sent, and the accept value the server must answer. */
const char *wsc_key(const struct wsc *w);
const char *wsc_expected_accept(const struct wsc *w);
/* base64(SHA-1(key || GUID)) into out[WSC_ACCEPT_LEN + 1]. 0 or -EINVAL. */
int wsc_compute_accept(const char *key, char out[static WSC_ACCEPT_LEN + 1]);
