/* SPDX-License-Identifier: MIT */
/* conn.h -- one WhatsApp client connection on fakewa's WA port: TCP -> HTTP upgrade on
 * /ws/chat -> WebSocket (binary messages) -> WA framing -> Noise XX responder -> binary
 * nodes, and the way back.
 *
 * wss:// (fw_conn_listen_tls) puts a server-side TLS codec (net/tls.h) between TCP and HTTP;
 * everything above it is identical.
 * Lifecycle: accepted by the listener (fw_conn_listen), HTTP until a valid upgrade, then
 * HELLO (expect clientHello), FINISH (expect clientFinish: the ClientPayload is handed to
 * router.h), then PAIRING (registration) or ONLINE (login succeeded) until closed.
 * fw_conn_close() detaches the connection from its device at once, writes what is queued,
 * then closes the TCP handle and the timer; the memory goes in the last close callback.
 * Callers must not use a connection after fw_conn_close() returns except through
 * fw_conn_closing().
 *
 * Caps: 4096 live connections, HTTP head 16 KiB, WS message 4 MiB, WA frame 4 MiB, queued output 16
 * MiB (a client that does not read is dropped), handshake must finish within FW_HANDSHAKE_MS. Every
 * node in and out is logged at debug level in nodetext form.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "server.h"
#include "wa/node.h"

#define FW_HANDSHAKE_MS 20000
#define FW_PAIRING_MS   180000 /* 6 refs: 60 s + 5 x 20 s on the client, plus slack */

enum fw_conn_state {
    FWC_HTTP,
    FWC_HELLO,
    FWC_FINISH,
    FWC_PAIRING, /* registration: pair-device sent, waiting for the scan */
    FWC_ONLINE,  /* logged in */
    FWC_CLOSING,
};

struct fw_account;
struct fw_device;
struct fw_pairing;
struct fw_conn_io;

struct fw_conn {
    struct fw_server *srv;
    struct fw_conn *prev, *next;
    uint64_t serial;
    enum fw_conn_state state;
    char name[64]; /* for logs: "c12" or "15550001:7" */
    uint8_t client_static[32];
    struct fw_account *acc;  /* ONLINE */
    struct fw_device *dev;   /* ONLINE */
    bool passive;            /* passive login not yet ended with <active/> */
    struct fw_pairing *pair; /* PAIRING (pairing.h), owned */
    bool stall;              /* fault: ignore pings */
    bool blackhole;          /* fault: neither read nor write */
    bool corrupt_next;       /* fault: break the next <enc> sent */
    uint64_t iq_seq;
    struct fw_conn_io *io; /* transport internals */
};

/* Listen on host:port (port 0 = any); *bound receives the port. 0 or negative errno
 * (detail in s->last_error). */
int fw_conn_listen(struct fw_server *s, const char *host, int port, int *bound)
    __attribute__((warn_unused_result));
/* The same on a wss:// listener (TLS with s->tls, which must be set). At most one of each. */
int fw_conn_listen_tls(struct fw_server *s, const char *host, int port, int *bound)
    __attribute__((warn_unused_result));
/* Stop listening (both listeners) and close every connection. */
void fw_conn_shutdown(struct fw_server *s);
/* Refuse (HTTP 503) new upgrades until the given fw_now_ms() time. */
void fw_conn_refuse_until(struct fw_server *s, uint64_t until_ms);

/* Encode, encrypt and queue one node (borrowed). 0 or negative errno; on a send failure the
 * connection is closed. No-op (returns -EPIPE) when closing or black-holed. */
int fw_conn_send(struct fw_conn *c, const struct wa_node *n);
/* Close: graceful (WS close frame, then TCP FIN after the output is written) or reset
 * (TCP RST at once). Idempotent. */
void fw_conn_close(struct fw_conn *c, bool reset);
/* Stop reading and writing without closing (fault "blackhole"). */
void fw_conn_blackhole(struct fw_conn *c);
/* Bind a logged-in connection to its device (replacing nothing; see router). */
void fw_conn_bind(struct fw_conn *c, struct fw_account *a, struct fw_device *d);
/* (Re)arm the connection deadline: close it after ms unless re-armed (0 = disarm). */
void fw_conn_set_deadline(struct fw_conn *c, uint64_t ms);
/* A fresh iq id for server-initiated iqs on this connection. */
void fw_conn_iq_id(struct fw_conn *c, const char *prefix, char *out, size_t outlen);
