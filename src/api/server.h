/* SPDX-License-Identifier: MIT */
/* server.h -- the control API: HTTP/1.1 + WebSocket on one TCP port of the uv loop.
 *
 * Built-in routes:
 *   GET /healthz          no auth, no Host check, 200 "ok" (text/plain);
 *                         answered even when every client slot is taken
 *   GET /metrics          auth unless metrics_public, Prometheus 0.0.4
 *   GET /api/v1/status    auth; JSON version, pid, uptime_s, started_at,
 *                         channels (empty array unless the status callback
 *                         fills it) + whatever the callback adds
 *   GET /api/v1/events    auth; WebSocket stream of events, ?since=SEQ to
 *                         resume (see events.h). Browsers cannot set headers
 *                         on a WebSocket, so this route (only this one) also
 *                         takes the token as a subprotocol: the client offers
 *                         "Sec-WebSocket-Protocol: wagate.v1, wagate.bearer.<token>"
 *                         and the server selects "wagate.v1". A ?token= in the
 *                         URL is refused (401): URLs end up in logs and history.
 *                         An Origin header, when present, must name an allowed
 *                         host (403 otherwise).
 * Auth is "Authorization: Bearer <token>", compared in constant time. Every
 * request but /healthz must carry an allowed Host (api/guard.h), else 403.
 * Errors are JSON {"error":"..."}: 404 unknown path, 405 wrong method (with
 * Allow), 401 missing/bad token (with WWW-Authenticate: Bearer), 400 bad
 * request, 411 chunked body (not accepted: send Content-Length), 413/414/431
 * over a size cap, 408 request timeout, 503 too many clients; after any 4xx
 * parse error the connection is closed.
 *
 * Connections: HTTP/1.1 keep-alive, HTTP/1.0 close semantics, pipelined
 * requests answered in order. Deadlines: the first request of a connection
 * must arrive whole within header_timeout_ms of the accept, later ones within
 * request_timeout_ms of their first byte (slowloris); an idle keep-alive
 * connection is closed after idle_timeout_ms; WebSocket clients are pinged
 * every idle_timeout_ms/2 and closed if nothing came back since the last
 * ping. A client whose unsent output exceeds max_client_pending is dropped
 * (WebSocket: close 1008 "slow consumer"), so a slow reader never makes
 * memory grow nor stalls the loop.
 * Admission: a connection gets a client slot if fewer than max_clients are
 * taken and its IP address holds fewer than max_clients_per_peer; when the
 * server (or that peer) is full, the oldest idle HTTP client (no partial
 * request, nothing unsent) is closed to make room. Otherwise the connection
 * is "triaged": it may send one small request (8 KiB) within 1 s; GET /healthz
 * is answered 200, anything else 503 (Retry-After: 1), then it is closed.
 * Triaged connections are capped at max_clients; a new one closes the oldest.
 *
 * Metrics kept by the server (besides process_*): wagate_api_requests_total
 * {route,code} (route is the registered prefix, or "unmatched"/"matched"/
 * "unparsed" so unknown paths cannot grow the label set), wagate_api_clients,
 * wagate_api_ws_clients, wagate_api_events_published_total,
 * wagate_api_events_last_seq, wagate_api_clients_dropped_slow_total,
 * wagate_api_clients_rejected_total, wagate_api_auth_failures_total.
 * An "Expect: 100-continue" request gets the interim 100 before its body.
 *
 * Everything runs on the loop thread; handlers are called from the read
 * callback and must not block. Two-step close: api_server_close() stops
 * accepting and closes every client; memory is released in the uv close
 * callbacks, then cb(arg) is called.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "api/http.h"
#include "core/buf.h"

struct api_server; /* opaque */
struct api_events;
struct api_metrics;

/* An optional transport codec for the API (TLS), sans-I/O: the server feeds it the bytes it
 * reads and sends what take_out() gives. The api layer does not link the TLS code (net);
 * the gateway plugs net/tls.h in (gw/apitls.h). Every call gets the per-connection object
 * accept() returned. */
struct api_tls_ops {
    void *(*accept)(void *ctx); /* a codec for a new connection, NULL: close */
    void (*free)(void *conn);   /* from the last close callback */
    int (*feed)(void *conn, const void *p, size_t n); /* ciphertext received; < 0: close */
    /* advance the handshake, then decrypt up to cap bytes: 0 with *got 0 = need more
     * input; < 0 = close (alert or peer close) */
    int (*read)(void *conn, void *buf, size_t cap, size_t *got);
    int (*write)(void *conn, const void *p, size_t n);     /* encrypt; < 0: close */
    size_t (*take_out)(void *conn, void *buf, size_t cap); /* ciphertext to send */
    void (*shutdown)(void *conn);                          /* queue close_notify */
};

struct api_config {
    const char *listen;          /* "127.0.0.1:18789", "[::1]:18789"; port 0 = any free port */
    const char *token;           /* bearer token, required for every /api/ route (copied) */
    const char *version;         /* reported by /api/v1/status (copied) */
    size_t max_clients;          /* 0 = default 64 */
    size_t max_request_bytes;    /* head+body cap, 0 = default 1 MiB */
    size_t max_client_pending;   /* unsent bytes per client before it is dropped, 0 = 4 MiB */
    unsigned idle_timeout_ms;    /* keep-alive idle close, 0 = default 60000 */
    unsigned request_timeout_ms; /* a request must arrive whole within this, 0 = 10000 */
    size_t event_ring;           /* events kept for resume, 0 = default 1024 */
    /* Abuse limits (see "Connections" above). */
    unsigned header_timeout_ms;  /* the first request must be whole this long after the accept,
                                  * 0 = default 5000 */
    size_t max_clients_per_peer; /* clients from one IP address, 0 = max(4, max_clients / 4) */
    /* Host allowlist (api/guard.h) beyond the loopback names: "NAME" or "NAME:PORT". */
    const char *const *allowed_hosts; /* copied; up to API_GUARD_MAX_HOSTS */
    size_t nallowed_hosts;
    bool metrics_public; /* GET /metrics without the token */
    /* TLS on the API port (NULL: plain HTTP). The first request deadline (header_timeout_ms)
     * covers the handshake; nothing blocks the loop (the codec works on memory buffers). */
    /* Bodies over max_request_bytes for the routes that take them (api_server_route_spool):
     * written to a file in spool_dir (created 0600, removed once the response went out) while
     * they arrive, never held in memory. NULL: none (413 as for every other route). */
    const char *spool_dir;
    const struct api_tls_ops *tls;
    void *tls_ctx; /* passed to tls->accept(); owned by the caller, outlives the server */
};

/* What a route handler sees. Valid only during the handler call. */
struct api_request {
    const struct http_request *http; /* method, path, query, headers, body */
    const char *route;               /* the registered prefix that matched */
    const char *rest;                /* path after the prefix ("" when exact) */
    /* a body spooled to a file (api_server_route_spool): its path and size, else NULL / 0
     * (http->body has it). The file is the server's: it goes when the response went out. */
    const char *spool_path;
    uint64_t spool_len;
    struct api_server *server;
};

/* What a route handler fills. status defaults to 200 and content_type to
 * application/json; body and headers are pre-initialised capped buffers
 * (8 MiB body, 4 KiB of extra header lines) owned by the server. */
struct api_response {
    int status;
    char content_type[64];
    struct buf body;
    struct buf headers;    /* extra "Name: value\r\n" lines */
    struct api_held *held; /* api_response_defer (the server's) */
};

/* A synchronous route handler: fill res before returning. */
typedef void (*api_handler_fn)(const struct api_request *req, struct api_response *res, void *arg);

/* Response helpers; each returns 0 or -ENOBUFS/-ENOMEM. */
/* Serialise json (ownership taken, NULL -> {}) as the body with status. */
int api_response_json(struct api_response *res, int status, cJSON *json);
int api_response_text(struct api_response *res, int status, const char *ctype, const char *text);
/* {"error": msg} with status. */
int api_response_error(struct api_response *res, int status, const char *msg);
int api_response_header(struct api_response *res, const char *name, const char *value);
/* Answer later: after filling res, the handler defers it; the server keeps res as filled and
 * answers nothing more on that connection (it stops reading) until api_server_release(s, id,
 * status, msg) -- status 0 sends res as it was filled, any other status sends {"error": msg}
 * with that status instead -- then carries on with the connection's next request. For a
 * response that may go out only once something has happened (a COMMIT shared by the requests
 * of one loop iteration). Returns the id (> 0), or 0 (no memory: res goes out when the
 * handler returns, so the handler must finish the work first). A release of an id whose
 * connection closed meanwhile just forgets it; release each id once, before the server's
 * close callback runs. */
uint64_t api_response_defer(const struct api_request *req, struct api_response *res);
void api_server_release(struct api_server *s, uint64_t id, int status, const char *msg);
/* Let the registered route (method, prefix) take bodies up to max bytes through the spool
 * (api_config.spool_dir; the token is checked before any body byte is read: 401 at once).
 * 0, -ENOENT (no such route), -EINVAL. */
int api_server_route_spool(struct api_server *s, const char *method, const char *prefix,
                           uint64_t max) __attribute__((warn_unused_result));
/* The same, answering status with json as the body instead (ownership taken; NULL -> {}):
 * for a deferral whose answer is only known later (a file fetched from a URL first). */
void api_server_release_json(struct api_server *s, uint64_t id, int status, cJSON *json);

/* Bind and listen; returns 0 or -errno (e.g. -EADDRINUSE, -EINVAL for a bad
 * listen address or empty token), detail in err (may be NULL). On failure
 * nothing is left running except handles whose close is already scheduled. */
int api_server_start(uv_loop_t *loop, const struct api_config *cfg, struct api_server **out,
                     char *err, size_t errlen) __attribute__((warn_unused_result));
/* Port actually bound (useful with port 0). */
int api_server_port(const struct api_server *s);
/* Replace the token at run time (SIGHUP reload). Returns 0, -EINVAL (empty),
 * -ENOMEM. Connected WebSocket clients stay connected. */
int api_server_set_token(struct api_server *s, const char *token);
/* Status provider: called for GET /api/v1/status to fill extra fields. The
 * object already holds version, pid, uptime_s, started_at and an empty
 * "channels" array (append to it, or replace it). */
void api_server_set_status_cb(struct api_server *s, void (*fill)(cJSON *status, void *arg),
                              void *arg);
/* Register a handler for METHOD + path prefix. A prefix matches the same
 * path, or a path continuing with '/' (or anything, if the prefix ends with
 * '/'); the longest matching prefix wins; a path that matches only with
 * other methods gets 405. needs_auth requires the bearer token. Later
 * registrations of the same method+prefix replace earlier ones. Returns 0,
 * -EINVAL, -ENOMEM, -ENOSPC (more than 128 routes). */
int api_server_add_route(struct api_server *s, const char *method, const char *path_prefix,
                         bool needs_auth, api_handler_fn fn, void *arg);
/* The event ring; events published here go to every WebSocket subscriber. */
struct api_events *api_server_events(struct api_server *s);
/* Metrics registry used by /metrics; the daemon may add its own counters/gauges. */
struct api_metrics *api_server_metrics(struct api_server *s);
/* Clients currently connected (HTTP and WebSocket). */
size_t api_server_clients(const struct api_server *s);
/* Two-step close: stop accepting, close every client, free in uv close
 * callbacks, then cb(arg) (cb may be NULL). Call once. The server, its event
 * ring and metrics registry are gone when cb runs; do not publish after
 * calling this. */
void api_server_close(struct api_server *s, void (*cb)(void *arg), void *arg);
