/* SPDX-License-Identifier: MIT */
/* conn.h -- the WhatsApp transport connector: DNS -> TCP -> TLS -> WebSocket on libuv.
 *
 * nconn_start() returns at once; every result arrives later through callbacks, from a
 * loop callback (the next loop iteration at the earliest), even for immediate failures
 * such as a bad URL. Each attempt ends with exactly one on_close(outcome) unless the
 * owner calls nconn_close() first; the outcome (outcome.h) says which stage failed and
 * why, e.g. "dns: NXDOMAIN web.whatsapp.com" or "ws: HTTP 403".
 *
 * Stages and deadlines: DNS through c-ares (IP literals skip it; `resolve_timeout_ms`
 * bounds the whole resolution), TCP connect to each resolved address in turn
 * (`connect_timeout_ms` each), TLS (wss:// only) and the WebSocket upgrade together
 * within `handshake_timeout_ms`. Once open, binary messages flow both ways.
 *
 * Ownership: the caller owns the `struct nconn` and must release it with nconn_close()
 * exactly once, at any time, including from inside any of its callbacks. After
 * nconn_close() no callback runs again; the memory is freed in libuv close callbacks on
 * a later iteration (the loop must keep running). Option strings are copied.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/outcome.h"

struct nconn;

struct nconn_opts {
    const char *url;                /* ws://... or wss://... (required) */
    const char *const *dns_servers; /* "ip[:port]" strings; none = resolv.conf */
    size_t ndns_servers;
    int dns_timeout_ms;       /* c-ares per-try timeout; <= 0: 2000 */
    int dns_tries;            /* <= 0: 2 */
    int resolve_timeout_ms;   /* whole resolution; <= 0: 10000 */
    int connect_timeout_ms;   /* per address; <= 0: 10000 */
    int handshake_timeout_ms; /* TLS + upgrade; <= 0: 10000 */
    const char *ca_file;      /* PEM CA bundle; NULL = system store */
    const char *origin;       /* NULL = https://web.whatsapp.com */
    size_t max_msg;           /* inbound message cap; 0 = WSC_DEFAULT_MAX_MSG */
    int tcp_user_timeout_ms;  /* TCP_USER_TIMEOUT; <= 0: NCONN_USER_TIMEOUT_MS */
};

/* Socket tuning of a connected attempt (behind the application's own pings): unacknowledged
 * data for TCP_USER_TIMEOUT ends the connection; an idle one is probed after KEEPIDLE s,
 * every KEEPINTVL s, KEEPCNT times (dead after ~30 s of silence). */
#define NCONN_USER_TIMEOUT_MS 45000
#define NCONN_KEEPIDLE_S      15
#define NCONN_KEEPINTVL_S     5
#define NCONN_KEEPCNT         3

struct nconn_cbs {
    void (*on_open)(struct nconn *c, void *ud);
    /* One binary WebSocket message; data valid during the call only. */
    void (*on_message)(struct nconn *c, void *ud, const uint8_t *data, size_t len);
    /* The attempt or the open connection ended; `o` valid during the call. The caller
     * still has to nconn_close(c). */
    void (*on_close)(struct nconn *c, void *ud, const struct nout *o);
};

/* Start connecting. Returns 0 and *out, or -EINVAL (NULL arguments) / -ENOMEM, in which
 * case no callback will ever run. */
int nconn_start(uv_loop_t *loop, const struct nconn_opts *opts, const struct nconn_cbs *cbs,
                void *ud, struct nconn **out) __attribute__((warn_unused_result));

/* Queue one binary message. -ENOTCONN unless open; -EMSGSIZE, -ENOBUFS as wsc_send_binary.
 * Transport errors are reported through on_close, never synchronously. */
int nconn_send(struct nconn *c, const void *data, size_t len) __attribute__((warn_unused_result));

/* The connected socket's descriptor (-1 before a TCP connection exists); for tests and
 * diagnostics only: do not read, write or close it. */
int nconn_fileno(const struct nconn *c);

/* Output bytes accepted by nconn_send() but not yet written to the kernel (backpressure). */
size_t nconn_pending(const struct nconn *c);

/* Stop and release (see Ownership). If open, a close frame (1000) is sent best-effort.
 * NULL is accepted. */
void nconn_close(struct nconn *c);

/* The outcome so far (stage NOUT_NONE while running fine). */
const struct nout *nconn_outcome(const struct nconn *c);
/* "ip:port" of the address in use, or "" before connecting. */
const char *nconn_peer(const struct nconn *c);
