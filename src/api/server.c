/* SPDX-License-Identifier: MIT */
/* server.c -- control API server: accept, per-client HTTP/WS state, routing, auth.
 *
 * One iteration for a client, all on the loop thread:
 *   read_cb -> http_input (parse, route, handler, queue response; repeat for
 *   pipelined requests) or ws_input (wslay; pong/close replies) -> timer
 *   re-armed for the state (request deadline while a request is partial,
 *   idle deadline otherwise, ping interval for WebSocket).
 * Output is copied into one uv_write per chunk; `pending` counts bytes
 * handed to libuv and not yet written. Crossing max_client_pending drops the
 * client. A client that must go after its last response enters DRAIN: no
 * more input is processed, uv_shutdown() runs after the queued writes, and
 * its callback (or the drain deadline) closes the handles.
 * Lifetime: srv_client_close() only schedules uv_close on the TCP handle and the
 * timer; the memory goes in the second close callback, never earlier, so
 * every callback may still use the client (write/shutdown callbacks run
 * before close callbacks). The server is freed the same way, after the
 * listener and the last client are closed.
 * Admission and triage live in server_admit.c; responses, the built-in routes and start in
 * server_setup.c; the shared state in server_int.h.
 */
#include "api/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/events.h"
#include "api/guard.h"
#include "api/metrics.h"
#include "api/server_int.h"
#include "api/token.h"
#include "api/wss.h"
#include "core/log.h"

static void srv_update_timer(struct client *c);

/* ---- output ------------------------------------------------------------- */

void srv_count_request(struct api_server *s, const char *route, int status)
{
    char esc[256], labels[320];
    api_metrics_label_escape(route, esc, sizeof(esc));
    snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%d\"", esc, status);
    api_metrics_add(s->metrics, "wagate_api_requests_total", labels, 1);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct client *c = w->c;
    c->pending -= w->len;
    free(w);
    if (status < 0) {
        log_debug("api", NULL, "%p write failed: %s", (void *)c, uv_strerror(status));
        srv_client_close(c);
    }
}

static void drop_slow(struct client *c);

/* Hand n bytes to libuv as they are (ciphertext under TLS); false if the client was dropped
 * or is closed. force skips the max_client_pending cap (one small final frame). */
static bool write_sock(struct client *c, const void *p, size_t n, bool force)
{
    if (c->state == C_CLOSED) return false;
    if (n == 0) return true;
    if (!force && c->pending + n > c->srv->cfg.max_client_pending) {
        drop_slow(c);
        return false;
    }
    struct wreq *w = malloc(sizeof(*w) + n);
    if (!w) {
        srv_client_close(c);
        return false;
    }
    w->c = c;
    w->len = n;
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        free(w);
        srv_client_close(c);
        return false;
    }
    c->pending += n;
    return true;
}

/* Send whatever ciphertext the TLS codec holds. */
static bool tls_flush(struct client *c, bool force)
{
    const struct api_tls_ops *ops = c->srv->cfg.tls;
    char tmp[16384];
    size_t n;
    while (c->state != C_CLOSED && (n = ops->take_out(c->tls, tmp, sizeof(tmp))) > 0)
        if (!write_sock(c, tmp, n, force)) return false;
    return c->state != C_CLOSED;
}

static bool write_out(struct client *c, const void *p, size_t n, bool force)
{
    if (!c->tls) return write_sock(c, p, n, force);
    if (c->state == C_CLOSED) return false;
    if (n && c->srv->cfg.tls->write(c->tls, p, n) < 0) {
        srv_client_close(c);
        return false;
    }
    return tls_flush(c, force);
}

/* Queue bytes; false if the client was dropped or is closed. */
static bool write_raw(struct client *c, const void *p, size_t n)
{
    return write_out(c, p, n, false);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    log_debug("api", NULL, "%p shutdown done: %s pending %zu", req->data,
              status ? uv_strerror(status) : "ok", ((struct client *)req->data)->pending);
    srv_client_close(req->data);
}

/* Stop processing input; close once the queued output is written. */
static void drain(struct client *c)
{
    if (c->state == C_CLOSED || c->state == C_DRAIN) return;
    if (c->sub) {
        api_events_unsubscribe(c->srv->events, c->sub);
        c->sub = NULL;
    }
    c->state = C_DRAIN;
    if (c->tls) {
        c->srv->cfg.tls->shutdown(c->tls); /* close_notify, then the TCP half-close */
        if (!tls_flush(c, true)) return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        srv_client_close(c);
        return;
    }
    srv_update_timer(c);
}

void srv_send_response(struct client *c, struct api_response *res, bool keep)
{
    struct buf out;
    buf_init(&out, 0);
    const char *ctype = res->body.len ? res->content_type : NULL;
    const char *extra = NULL;
    int r = 0;
    if (res->headers.len) {
        /* NUL-terminate the extra header lines without counting the NUL */
        r = buf_append_byte(&res->headers, '\0');
        res->headers.len--;
        extra = (const char *)res->headers.data;
    }
    if (r == 0)
        r = http_response_build(&out, res->status, ctype, res->body.data, res->body.len, extra,
                                keep);
    if (r < 0) {
        buf_free(&out);
        srv_client_close(c);
        return;
    }
    bool ok = write_raw(c, out.data, out.len);
    buf_free(&out);
    if (ok && !keep) drain(c);
}

void srv_send_error(struct client *c, int status, const char *msg, const char *extra, bool keep)
{
    struct api_response res;
    srv_response_init(&res);
    int r = api_response_error(&res, status, msg);
    if (r == 0 && extra) r = buf_append_str(&res.headers, extra);
    if (r == 0)
        srv_send_response(c, &res, keep);
    else
        srv_client_close(c);
    srv_response_free(&res);
}

/* ---- WebSocket clients -------------------------------------------------- */

static void ws_flush(struct client *c)
{
    size_t n;
    const uint8_t *p = wss_output(c->ws, &n);
    if (n == 0) return;
    if (write_raw(c, p, n)) wss_output_consume(c->ws, n);
}

static void drop_slow(struct client *c)
{
    struct api_server *s = c->srv;
    api_metrics_add(s->metrics, "wagate_api_clients_dropped_slow_total", NULL, 1);
    log_debug("api", NULL, "%p dropping slow client (%zu bytes pending)", (void *)c, c->pending);
    if (c->state == C_WS) {
        /* frames not yet handed to libuv are dropped (whole frames only);
         * the close frame bypasses the cap: one small final frame */
        size_t n;
        wss_output(c->ws, &n);
        wss_output_consume(c->ws, n);
        wss_close(c->ws, 1008, "slow consumer");
        const uint8_t *p = wss_output(c->ws, &n);
        if (!write_out(c, p, n, true)) return;
        wss_output_consume(c->ws, n);
    }
    drain(c);
}

static void ws_sink(void *arg, long long seq, const char *json, size_t len)
{
    struct client *c = arg;
    if (c->state != C_WS) return;
    int r = wss_send_text(c->ws, json, len);
    if (r == -ENOBUFS) {
        drop_slow(c);
        return;
    }
    if (r < 0) return;
    ws_flush(c);
}

static void ws_input(struct client *c, const uint8_t *p, size_t n)
{
    int r = wss_feed(c->ws, p, n);
    ws_flush(c);
    if (c->state != C_WS) return;
    if (r < 0 || wss_finished(c->ws)) {
        log_debug("api", NULL, "websocket closing: %s", r < 0 ? wss_last_error(c->ws) : "close");
        drain(c); /* close once the close frame is out */
    }
}

static void ws_start(struct client *c, const char *accept, const char *proto, long long since,
                     const uint8_t *rest, size_t restlen)
{
    struct api_server *s = c->srv;
    struct wss_limits lim = {.max_output = s->cfg.max_client_pending};
    struct buf hs;
    buf_init(&hs, 0);
    if (wss_new(&lim, NULL, NULL, &c->ws) < 0 ||
        wss_handshake_response_proto(&hs, accept, proto) < 0 ||
        api_events_subscribe(s->events, ws_sink, c, &c->sub) < 0) {
        buf_free(&hs);
        srv_client_close(c);
        return;
    }
    srv_count_request(s, EVENTS_PATH, 101);
    bool ok = write_raw(c, hs.data, hs.len);
    buf_free(&hs);
    if (!ok) return;
    c->state = C_WS;
    c->ws_counted = true;
    s->nws++;
    api_metrics_set(s->metrics, "wagate_api_ws_clients", NULL, (double)s->nws);
    api_events_replay(s->events, since, ws_sink, c);
    if (c->state == C_WS && restlen) ws_input(c, rest, restlen);
}

/* ---- routing ------------------------------------------------------------ */

static bool prefix_match(const char *prefix, const char *path, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0) return false;
    if (path[n] == '\0' || path[n] == '/' || (n > 0 && prefix[n - 1] == '/')) {
        *rest = path + n;
        return true;
    }
    return false;
}

static const char *bearer(const struct http_request *req)
{
    const char *a = http_request_header(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

static bool authorized(struct client *c, const char *given)
{
    bool ok = api_token_equal(c->srv->token, given);
    if (!ok) api_metrics_add(c->srv->metrics, "wagate_api_auth_failures_total", NULL, 1);
    return ok;
}

bool srv_authorized(struct client *c, const struct http_request *req)
{
    return authorized(c, bearer(req));
}

/* The subprotocols offered on an upgrade: the token from "wagate.bearer.<token>" into tok
 * ("" if none), and whether "wagate.v1" was offered. */
static void ws_protocols(const struct http_request *req, char *tok, size_t toklen, bool *v1)
{
    const char *h = http_request_header(req, "Sec-WebSocket-Protocol");
    tok[0] = '\0';
    *v1 = false;
    while (h && *h) {
        while (*h == ' ' || *h == '\t' || *h == ',')
            h++;
        size_t n = strcspn(h, ", \t");
        if (n == strlen(WS_PROTO) && strncmp(h, WS_PROTO, n) == 0) *v1 = true;
        size_t bl = strlen(WS_BEARER);
        if (n > bl && strncmp(h, WS_BEARER, bl) == 0 && n - bl < toklen) {
            memcpy(tok, h + bl, n - bl);
            tok[n - bl] = '\0';
        }
        h += n;
    }
}

#define AUTH_HDR "WWW-Authenticate: Bearer realm=\"wagate\"\r\n"

static void handle_events(struct client *c, const struct http_request *req, const uint8_t *rest,
                          size_t restlen)
{
    bool keep = req->keep_alive && !req->upgrade;
    if (strcmp(req->method, "GET") != 0) {
        srv_count_request(c->srv, EVENTS_PATH, 405);
        srv_send_error(c, 405, "method not allowed", "Allow: GET\r\n", keep);
        return;
    }
    if (!api_guard_origin_ok(&c->srv->guard, http_request_header(req, "Origin"))) {
        srv_count_request(c->srv, EVENTS_PATH, 403);
        srv_send_error(c, 403, "origin not allowed (see gateway.allowed_hosts)", NULL, false);
        return;
    }
    char tok[API_TOKEN_MAX + 2];
    bool v1;
    ws_protocols(req, tok, sizeof(tok), &v1);
    const char *given = bearer(req);
    if (!given && tok[0]) given = tok;
    if (!given && http_query_param(req->query, "token", tok, sizeof(tok)) != -ENOENT) {
        api_metrics_add(c->srv->metrics, "wagate_api_auth_failures_total", NULL, 1);
        srv_count_request(c->srv, EVENTS_PATH, 401);
        srv_send_error(c, 401,
                       "a token in the URL is not accepted: send Authorization: Bearer, or offer "
                       "the subprotocols wagate.v1 and wagate.bearer.<token>",
                       AUTH_HDR, keep);
        return;
    }
    if (!authorized(c, given)) {
        srv_count_request(c->srv, EVENTS_PATH, 401);
        srv_send_error(c, 401, "missing or bad token", AUTH_HDR, keep);
        return;
    }
    if (given == tok && !v1) {
        srv_count_request(c->srv, EVENTS_PATH, 400);
        srv_send_error(c, 400, "offer the subprotocol wagate.v1 next to wagate.bearer.<token>",
                       NULL, false);
        return;
    }
    char accept[WSS_ACCEPT_LEN + 1], err[128];
    int status;
    if (wss_handshake_check(req, accept, &status, err, sizeof(err)) < 0) {
        srv_count_request(c->srv, EVENTS_PATH, status);
        srv_send_error(c, status, err, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL,
                       false);
        return;
    }
    char v[32];
    long long since = -1;
    long r = http_query_param(req->query, "since", v, sizeof(v));
    if (r >= 0) {
        char *end;
        errno = 0;
        since = strtoll(v, &end, 10);
        if (r == 0 || *end || errno || since < 0) {
            srv_count_request(c->srv, EVENTS_PATH, 400);
            srv_send_error(c, 400, "bad since (want a sequence number >= 0)", NULL, false);
            return;
        }
    } else if (r != -ENOENT) {
        srv_count_request(c->srv, EVENTS_PATH, 400);
        srv_send_error(c, 400, "bad since", NULL, false);
        return;
    }
    ws_start(c, accept, v1 ? WS_PROTO : NULL, since, rest, restlen);
}

const struct route *srv_find_route(struct api_server *s, const struct http_request *req,
                                   const char **rest, bool *path_known, char *allow,
                                   size_t allowlen)
{
    const struct route *best = NULL;
    size_t best_len = 0, known_len = 0;
    const char *r;
    *path_known = false;
    allow[0] = '\0';
    /* longest prefix first: the methods registered for it make the Allow list */
    for (size_t i = 0; i < s->nroutes; i++)
        if (prefix_match(s->routes[i].prefix, req->path, &r) &&
            strlen(s->routes[i].prefix) >= known_len)
            known_len = strlen(s->routes[i].prefix);
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct route *rt = &s->routes[i];
        if (!prefix_match(rt->prefix, req->path, &r) || strlen(rt->prefix) != known_len) continue;
        *path_known = true;
        size_t al = strlen(allow);
        snprintf(allow + al, allowlen - al, "%s%s", al ? ", " : "", rt->method);
        if (strcmp(rt->method, req->method) == 0 && (!best || strlen(rt->prefix) > best_len)) {
            best = rt;
            best_len = strlen(rt->prefix);
            *rest = r;
        }
    }
    return best;
}

static void route_request(struct client *c, const struct http_request *req, const uint8_t *rest,
                          size_t restlen, const char *spool)
{
    struct api_server *s = c->srv;
    /* an upgrade we do not speak ends HTTP on this connection */
    bool keep = req->keep_alive && !req->upgrade;
    if (c->triage) {
        srv_triage_answer(c, req);
        return;
    }
    if (strcmp(req->path, HEALTHZ_PATH) != 0 &&
        !api_guard_host_ok(&s->guard, http_request_header(req, "Host"))) {
        srv_count_request(s, "rejected", 403);
        srv_send_error(c, 403, "host not allowed (see gateway.allowed_hosts)", NULL, false);
        return;
    }
    if (strcmp(req->path, EVENTS_PATH) == 0) {
        handle_events(c, req, rest, restlen);
        return;
    }
    const char *sub = "";
    bool known;
    char allow[128];
    const struct route *rt = srv_find_route(s, req, &sub, &known, allow, sizeof(allow));
    if (!rt) {
        char hdr[160];
        snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
        srv_count_request(s, known ? "matched" : "unmatched", known ? 405 : 404);
        srv_send_error(c, known ? 405 : 404, known ? "method not allowed" : "not found",
                       known ? hdr : NULL, keep);
        return;
    }
    if (rt->auth && !authorized(c, bearer(req))) {
        srv_count_request(s, rt->prefix, 401);
        srv_send_error(c, 401, "missing or bad token", AUTH_HDR, keep);
        return;
    }
    struct api_response res;
    srv_response_init(&res);
    struct api_request areq = {.http = req,
                               .route = rt->prefix,
                               .rest = sub,
                               .server = s,
                               .spool_path = req->spooled ? spool : NULL,
                               .spool_len = req->spooled ? req->spooled_len : 0};
    res.held = NULL;
    rt->fn(&areq, &res, rt->arg);
    if (res.status < 100 || res.status > 599) res.status = 500;
    if (res.held) { /* answered by api_server_release */
        struct api_held *h = res.held, **tail = &s->held;
        res.held = NULL;
        h->c = c;
        h->route = rt->prefix;
        h->keep = keep;
        h->res = res;
        while (*tail)
            tail = &(*tail)->next;
        *tail = h;
        c->held = h;
        uv_read_stop((uv_stream_t *)&c->tcp);
        return;
    }
    srv_count_request(s, rt->prefix, res.status);
    srv_send_response(c, &res, keep);
    srv_response_free(&res);
}

/* A request, and its spooled body (server_spool.c): the file goes with the response. */
static void handle_request(struct client *c, const struct http_request *req, const uint8_t *rest,
                           size_t restlen)
{
    srv_spool_finish(c);
    char *spool = c->spool_path;
    c->spool_path = NULL;
    route_request(c, req, rest, restlen, spool);
    if (spool && c->held && !c->held->spool_path)
        c->held->spool_path = spool; /* removed when it is released */
    else
        srv_spool_remove(spool);
}

uint64_t api_response_defer(const struct api_request *req, struct api_response *res)
{
    if (!req || !req->server || !res || res->held) return 0;
    struct api_held *h = calloc(1, sizeof(*h));
    if (!h) return 0;
    h->id = ++req->server->held_seq;
    res->held = h;
    return h->id;
}

/* ---- HTTP clients ------------------------------------------------------- */

static void http_input(struct client *c, const uint8_t *p, size_t n)
{
    while (n > 0 && c->state == C_HTTP) {
        size_t used = 0;
        int r = http_parser_feed(c->hp, p, n, &used);
        p += used;
        n -= used;
        if (r < 0) {
            int st = http_parser_status(c->hp);
            srv_count_request(c->srv, "unparsed", st ? st : 400);
            srv_send_error(c, st ? st : 400, http_parser_last_error(c->hp), NULL, false);
            return;
        }
        if (r == HTTP_NEED_MORE) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (http_parser_take_continue(c->hp)) write_raw(c, cont, sizeof(cont) - 1);
            break;
        }
        handle_request(c, http_parser_request(c->hp), p, n);
        c->served = true;
        if (c->state != C_HTTP)
            return; /* upgraded (rest already handed over), draining or closed */
        http_parser_next(c->hp);
        if (c->held) { /* the rest waits for the release (at most one read's worth) */
            if (n && (c->saved = malloc(n))) {
                memcpy(c->saved, p, n);
                c->nsaved = n;
            } else if (n) {
                srv_client_close(c);
            }
            return;
        }
    }
}

static void srv_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct client *c = h->data;
    *b = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void plain_input(struct client *c, const uint8_t *p, size_t n)
{
    if (c->state == C_HTTP)
        http_input(c, p, n);
    else if (c->state == C_WS)
        ws_input(c, p, n);
}

/* Ciphertext in: the handshake advances, plaintext goes to HTTP/WebSocket, and whatever
 * the codec has to say (handshake records, alerts) goes out. A TLS error closes. */
static void tls_pump(struct client *c);

static void tls_input(struct client *c, const char *p, size_t n)
{
    const struct api_tls_ops *ops = c->srv->cfg.tls;
    if (ops->feed(c->tls, p, n) < 0) {
        srv_client_close(c);
        return;
    }
    tls_pump(c);
}

/* Plaintext out of the codec to HTTP/WebSocket, until it has none or a response is held. */
static void tls_pump(struct client *c)
{
    const struct api_tls_ops *ops = c->srv->cfg.tls;
    while (!c->held) {
        size_t got = 0;
        int r = ops->read(c->tls, c->srv->pbuf, sizeof(c->srv->pbuf), &got);
        if (r < 0) {
            log_debug("api", NULL, "%p tls: %d", (void *)c, r);
            tls_flush(c, true); /* an alert, if any */
            srv_client_close(c);
            return;
        }
        if (got == 0) break;
        plain_input(c, (const uint8_t *)c->srv->pbuf, got);
        if (c->state != C_HTTP && c->state != C_WS) return;
    }
    tls_flush(c, false);
}

static void srv_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct client *c = st->data;
    if (nread == UV_EOF && c->state == C_HTTP && !http_parser_busy(c->hp)) {
        drain(c); /* half-close after whole requests: answers still go out */
        return;
    }
    if (nread < 0) {
        srv_client_close(c);
        return;
    }
    if (c->tls) {
        tls_input(c, b->base, (size_t)nread);
        if (c->state != C_CLOSED) srv_update_timer(c);
        return;
    }
    plain_input(c, (const uint8_t *)b->base, (size_t)nread);
    srv_update_timer(c);
}

/* ---- deferred responses ------------------------------------------------- */

static void held_free(struct api_held *h)
{
    srv_spool_remove(h->spool_path);
    srv_response_free(&h->res);
    free(h);
}

/* The held response went out: the connection's waiting input, then reading again. */
static void resume(struct client *c)
{
    if (c->saved) {
        uint8_t *p = c->saved;
        size_t n = c->nsaved;
        c->saved = NULL;
        c->nsaved = 0;
        http_input(c, p, n);
        free(p);
    }
    if (c->state == C_HTTP && !c->held && c->tls) tls_pump(c);
    if (c->state != C_HTTP || c->held) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, srv_on_alloc, srv_on_read) < 0) {
        srv_client_close(c);
        return;
    }
    srv_update_timer(c);
}

/* The held response of id, unlinked (NULL: none). */
static struct api_held *held_take(struct api_server *s, uint64_t id)
{
    struct api_held **pp = &s->held;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    struct api_held *h = *pp;
    if (h) *pp = h->next;
    return h;
}

static void held_send(struct api_server *s, struct api_held *h)
{
    struct client *c = h->c;
    if (c) c->held = NULL;
    if (c && c->state == C_HTTP) {
        srv_count_request(s, h->route, h->res.status);
        srv_send_response(c, &h->res, h->keep);
        resume(c);
    }
    held_free(h);
}

void api_server_release(struct api_server *s, uint64_t id, int status, const char *msg)
{
    struct api_held *h = held_take(s, id);
    if (!h) return;
    if (status && api_response_error(&h->res, status, msg ? msg : "failed") < 0)
        h->res.status = 500;
    held_send(s, h);
}

void api_server_release_json(struct api_server *s, uint64_t id, int status, cJSON *json)
{
    struct api_held *h = held_take(s, id);
    if (!h) {
        cJSON_Delete(json);
        return;
    }
    buf_reset(&h->res.body);
    if (api_response_json(&h->res, status, json) < 0) h->res.status = 500;
    held_send(s, h);
}

/* ---- timers ------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    struct client *c = t->data;
    switch (c->tmode) {
    case T_FIRST:
        if (c->triage) {
            srv_count_request(c->srv, "rejected", 503);
            srv_send_error(c, 503, "too many clients", "Retry-After: 1\r\n", false);
            break;
        }
        /* fall through */
    case T_REQUEST:
        srv_count_request(c->srv, "unparsed", 408);
        srv_send_error(c, 408, "request timeout", NULL, false);
        break;
    case T_PING:
        if (c->ping_out && wss_frames_received(c->ws) == c->frames_at_ping) {
            wss_close(c->ws, 1001, "ping timeout");
            ws_flush(c);
            drain(c);
            break;
        }
        c->ping_out = wss_send_ping(c->ws, (const uint8_t *)"wagate", 6) == 0;
        c->frames_at_ping = wss_frames_received(c->ws);
        ws_flush(c);
        break;
    case T_IDLE:
    case T_DRAIN:
        log_debug("api", NULL, "%p timer %d closes client pending %zu", (void *)c, c->tmode,
                  c->pending);
        srv_client_close(c);
        break;
    case T_NONE:
        srv_client_close(c);
        break;
    }
}

static void arm(struct client *c, enum tmode m, uint64_t ms, bool restart)
{
    if (c->tmode == m && !restart) return;
    c->tmode = m;
    uv_timer_start(&c->timer, on_timer, ms, m == T_PING ? ms : 0);
}

static void srv_update_timer(struct client *c)
{
    const struct api_config *cfg = &c->srv->cfg;
    switch (c->state) {
    case C_HTTP:
        if (c->triage)
            arm(c, T_FIRST, TRIAGE_MS < cfg->header_timeout_ms ? TRIAGE_MS : cfg->header_timeout_ms,
                false);
        else if (!c->served)
            arm(c, T_FIRST, cfg->header_timeout_ms, false);
        else if (http_parser_busy(c->hp)) /* a spooled body: the deadline is per read */
            arm(c, T_REQUEST, cfg->request_timeout_ms, c->spool_fd >= 0);
        else
            arm(c, T_IDLE, cfg->idle_timeout_ms, true);
        break;
    case C_WS:
        arm(c, T_PING, cfg->idle_timeout_ms / 2 ? cfg->idle_timeout_ms / 2 : 1, false);
        break;
    case C_DRAIN:
        arm(c, T_DRAIN, cfg->request_timeout_ms, false);
        break;
    case C_CLOSED:
        break;
    }
}

/* ---- lifetime ----------------------------------------------------------- */

static void server_maybe_done(struct api_server *s);

static void on_client_handle_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    if (--c->handles > 0) return;
    struct api_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nall--;
    http_parser_free(c->hp);
    free(c->saved);
    wss_free(c->ws);
    if (c->tls) s->cfg.tls->free(c->tls);
    free(c);
    server_maybe_done(s);
}

void srv_client_close(struct client *c)
{
    if (c->state == C_CLOSED) return;
    struct api_server *s = c->srv;
    if (c->sub) {
        api_events_unsubscribe(s->events, c->sub);
        c->sub = NULL;
    }
    if (c->ws_counted) {
        s->nws--;
        api_metrics_set(s->metrics, "wagate_api_ws_clients", NULL, (double)s->nws);
    }
    if (c->counted) {
        s->nclients--;
        api_metrics_set(s->metrics, "wagate_api_clients", NULL, (double)s->nclients);
    }
    if (c->triage) s->ntriage--;
    srv_spool_drop(c);              /* a body cut short */
    if (c->held) c->held->c = NULL; /* released later, to nobody */
    c->held = NULL;
    c->state = C_CLOSED;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, on_client_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_client_handle_closed);
}

void srv_on_connection(uv_stream_t *l, int status)
{
    struct api_server *s = l->data;
    if (status < 0 || s->closing) return;
    struct client *c = calloc(1, sizeof(*c));
    if (!c) return;
    c->spool_fd = -1;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = s->clients;
    if (s->clients) s->clients->prev = c;
    s->clients = c;
    s->nall++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        srv_client_close(c);
        return;
    }
    c->born = uv_now(s->loop);
    srv_peer_of(c);
    if (!srv_admit(s, c)) {
        api_metrics_add(s->metrics, "wagate_api_clients_rejected_total", NULL, 1);
        if (s->ntriage >= s->cfg.max_clients) {
            struct client *old = srv_oldest_triaged(s);
            if (old) srv_client_close(old);
        }
        c->triage = true;
        s->ntriage++;
    }
    size_t cap = c->triage ? TRIAGE_BYTES : s->cfg.max_request_bytes;
    if (http_parser_new(&(struct http_limits){.max_request_bytes = cap}, &c->hp) < 0) {
        srv_client_close(c);
        return;
    }
    if (s->spool_dir) /* each route's own cap is checked by srv_spool_decide */
        http_parser_set_spool(c->hp, UINT64_MAX, srv_spool_decide, srv_spool_sink, c);
    if (s->cfg.tls && !(c->tls = s->cfg.tls->accept(s->cfg.tls_ctx))) {
        srv_client_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (!c->triage) {
        c->counted = true;
        s->nclients++;
        api_metrics_set(s->metrics, "wagate_api_clients", NULL, (double)s->nclients);
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, srv_on_alloc, srv_on_read) < 0) {
        srv_client_close(c);
        return;
    }
    srv_update_timer(c);
}

void srv_server_free(struct api_server *s)
{
    while (s->held) {
        struct api_held *h = s->held;
        s->held = h->next;
        held_free(h);
    }
    api_events_free(s->events);
    api_metrics_free(s->metrics);
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i].prefix);
    if (s->token) {
        memset(s->token, 0, strlen(s->token));
        free(s->token);
    }
    free(s->version);
    free(s->spool_dir);
    free(s);
}

static void server_maybe_done(struct api_server *s)
{
    if (!s->closing || s->listener_open || s->clients) return;
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;
    srv_server_free(s);
    if (cb) cb(arg);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct api_server *s = h->data;
    s->listener_open = false;
    server_maybe_done(s);
}

void api_server_close(struct api_server *s, void (*cb)(void *arg), void *arg)
{
    if (!s || s->closing) return;
    s->closing = true;
    s->close_cb = cb;
    s->close_arg = arg;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    for (struct client *c = s->clients; c; c = c->next)
        srv_client_close(c);
}

/* ---- accessors ---------------------------------------------------------- */

int api_server_port(const struct api_server *s)
{
    return s->port;
}

int api_server_set_token(struct api_server *s, const char *token)
{
    if (!token || !*token) return -EINVAL;
    char *t = strdup(token);
    if (!t) return -ENOMEM;
    memset(s->token, 0, strlen(s->token));
    free(s->token);
    s->token = t;
    return 0;
}

void api_server_set_status_cb(struct api_server *s, void (*fill)(cJSON *status, void *arg),
                              void *arg)
{
    s->status_fill = fill;
    s->status_arg = arg;
}

int api_server_route_spool(struct api_server *s, const char *method, const char *prefix,
                           uint64_t max)
{
    if (!s || !method || !prefix || !max) return -EINVAL;
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].prefix, prefix) == 0) {
            s->routes[i].spool_max = max;
            return 0;
        }
    return -ENOENT;
}

int api_server_add_route(struct api_server *s, const char *method, const char *path_prefix,
                         bool needs_auth, api_handler_fn fn, void *arg)
{
    if (!method || !*method || strlen(method) >= sizeof(s->routes[0].method) || !path_prefix ||
        path_prefix[0] != '/' || !fn)
        return -EINVAL;
    struct route *rt = NULL;
    for (size_t i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].method, method) == 0 &&
            strcmp(s->routes[i].prefix, path_prefix) == 0)
            rt = &s->routes[i];
    if (!rt) {
        if (s->nroutes >= MAX_ROUTES) return -ENOSPC;
        char *p = strdup(path_prefix);
        if (!p) return -ENOMEM;
        rt = &s->routes[s->nroutes++];
        rt->prefix = p;
        snprintf(rt->method, sizeof(rt->method), "%s", method);
    }
    rt->auth = needs_auth;
    rt->fn = fn;
    rt->arg = arg;
    return 0;
}

struct api_events *api_server_events(struct api_server *s)
{
    return s->events;
}

struct api_metrics *api_server_metrics(struct api_server *s)
{
    return s->metrics;
}

size_t api_server_clients(const struct api_server *s)
{
    return s->nclients;
}
