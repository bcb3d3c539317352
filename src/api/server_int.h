/* SPDX-License-Identifier: MIT */
/* server_int.h -- the control API server's private state, shared by its three files:
 * server.c (I/O, HTTP/WebSocket clients, routing, timers, lifetime), server_admit.c (who
 * gets a client slot, the triage of the others) and server_setup.c (responses, built-in
 * routes, start). Nothing outside src/api/ includes it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "api/guard.h"
#include "api/http.h"
#include "api/server.h"

#define MAX_ROUTES        128
#define MAX_RESPONSE_BODY (8u << 20)
#define EVENTS_PATH       "/api/v1/events"
#define HEALTHZ_PATH      "/healthz"
#define TRIAGE_MS         1000 /* a triaged connection's one request must be whole by then */
#define TRIAGE_BYTES      8192 /* ... and this small */
#define WS_PROTO          "wagate.v1"
#define WS_BEARER         "wagate.bearer."

struct route {
    char method[16];
    char *prefix;
    bool auth;
    api_handler_fn fn;
    void *arg;
    uint64_t spool_max; /* bodies up to this through the spool (server_spool.c); 0: none */
};

enum cstate { C_HTTP, C_WS, C_DRAIN, C_CLOSED };
enum tmode { T_NONE, T_FIRST, T_IDLE, T_REQUEST, T_PING, T_DRAIN };

struct client {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    struct api_server *srv;
    struct client *prev, *next;
    struct http_parser *hp;
    struct wss *ws;
    struct api_events_sub *sub;
    enum cstate state;
    enum tmode tmode;
    size_t pending;        /* bytes given to uv_write, not yet written */
    int handles;           /* open uv handles (tcp + timer) */
    bool counted;          /* counts against max_clients (rejected ones do not) */
    bool ping_out;         /* a ping is outstanding */
    bool ws_counted;       /* counted in nws */
    bool triage;           /* over a limit: one small request, /healthz only (server.h) */
    bool served;           /* a request was answered (the first-request deadline is over) */
    struct api_held *held; /* a deferred response: input waits until it is released */
    uint8_t *saved;        /* input that arrived after the deferred request, and its size */
    size_t nsaved;
    uint8_t peer[16]; /* the peer's IPv4 (4 bytes, also from ::ffff:a.b.c.d) or IPv6 address */
    uint8_t peer_len; /* 0 = unknown */
    uint64_t born;    /* uv_now() at the accept */
    void *tls;        /* the transport codec (api_tls_ops) of this connection, or NULL */
    unsigned long long frames_at_ping;
    int spool_fd;     /* the body being spooled (-1: none) */
    char *spool_path; /* its file, until the response went out */
};

/* A deferred response (api_response_defer), on the server's list until released. */
struct api_held {
    uint64_t id;
    struct api_held *next;
    struct client *c; /* NULL once the connection closed */
    const char *route;
    bool keep;
    struct api_response res; /* its buffers, moved out of the handler's response */
    char *spool_path;        /* the request's spooled body: removed with the response */
};

struct wreq {
    uv_write_t req;
    struct client *c;
    size_t len;
    char data[];
};

struct api_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct api_config cfg;
    char *token;
    char *version;
    struct route routes[MAX_ROUTES];
    size_t nroutes;
    struct api_events *events;
    struct api_metrics *metrics;
    struct client *clients;
    struct api_held *held; /* deferred responses, oldest first */
    char *spool_dir;       /* cfg.spool_dir, copied; NULL: no spooling */
    uint64_t spool_seq;
    uint64_t held_seq;
    size_t nclients, nall, nws, ntriage;
    struct api_guard guard;
    void (*status_fill)(cJSON *, void *);
    void *status_arg;
    uint64_t start_ms;
    char started_at[40];
    int port;
    bool closing, listener_open;
    void (*close_cb)(void *);
    void *close_arg;
    char rbuf[64 * 1024];
    char pbuf[64 * 1024]; /* plaintext out of the TLS codec */
};

/* server.c */
void srv_client_close(struct client *c); /* schedules the close; memory goes later */
void srv_send_response(struct client *c, struct api_response *res, bool keep);
void srv_send_error(struct client *c, int status, const char *msg, const char *extra, bool keep);
void srv_count_request(struct api_server *s, const char *route, int status);
void srv_on_connection(uv_stream_t *l, int status);
void srv_server_free(struct api_server *s);
const struct route *srv_find_route(struct api_server *s, const struct http_request *req,
                                   const char **rest, bool *path_known, char *allow,
                                   size_t allowlen);
bool srv_authorized(struct client *c, const struct http_request *req);
/* server_spool.c */
int srv_spool_decide(void *ud, const struct http_request *head, uint64_t content_length);
int srv_spool_sink(void *ud, const void *p, size_t n);
void srv_spool_finish(struct client *c); /* the body is complete: close the file */
void srv_spool_drop(struct client *c);   /* close and remove it (a request that ended) */
void srv_spool_remove(char *path);       /* remove and free a file given away */
/* server_admit.c */
bool srv_admit(struct api_server *s, struct client *c); /* may close an idle client */
struct client *srv_oldest_triaged(struct api_server *s);
void srv_peer_of(struct client *c);
void srv_triage_answer(struct client *c, const struct http_request *req);
/* server_setup.c */
void srv_response_init(struct api_response *res);
void srv_response_free(struct api_response *res);
void srv_route_healthz(const struct api_request *req, struct api_response *res, void *arg);
