/* SPDX-License-Identifier: MIT */
/* conn.c -- WA port: TCP accept, (TLS,) HTTP upgrade, WebSocket, framing, Noise, node I/O. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/wss.h"
#include "core/log.h"
#include "faults.h"
#include "net/tls.h"
#include "router.h"
#include "wa/frame.h"
#include "wa/noise.h"
#include "wa/nodetext.h"

#define MAX_WS_MESSAGE (4u << 20)
#define MAX_OUTPUT     (16u << 20)
#define MAX_FRAME      (4u << 20)
#define MAX_CONNS      4096 /* live WA connections; more are accepted and closed at once */

struct listener {
    uv_tcp_t tcp;
    struct fw_server *srv;
    bool tls; /* wss:// (s->tls) */
};

/* At most one ws:// and one wss:// listener per process; both serve the same handler. */
static struct listener *g_listener, *g_tls_listener;
static uint64_t g_refuse_until_ms; /* fault "refuse", for both listeners */
static uint64_t g_next_serial;

struct fw_conn_io {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    int open_handles;
    bool reading;
    struct http_parser *hp;
    struct wss *ws;
    struct wa_frame_decoder fdec;
    struct wa_frame_encoder fenc;
    struct wa_noise *noise;
    struct ntls *tls; /* wss:// connections: TLS between TCP and HTTP/WebSocket */
    size_t pending;   /* bytes handed to uv_write and not yet written */
    bool in_feed;
};

struct wreq {
    uv_write_t req;
    struct fw_conn *c;
    size_t len;
    uint8_t data[];
};

static void conn_free(struct fw_conn *c)
{
    http_parser_free(c->io->hp);
    wss_free(c->io->ws);
    wa_frame_decoder_free(&c->io->fdec);
    wa_noise_free(c->io->noise);
    ntls_free(c->io->tls);
    free(c->io);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct fw_conn *c = h->data;
    if (--c->io->open_handles == 0) conn_free(c);
}

static void unlink_conn(struct fw_conn *c)
{
    struct fw_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void close_handles(struct fw_conn *c)
{
    uv_timer_stop(&c->io->timer);
    if (!uv_is_closing((uv_handle_t *)&c->io->tcp))
        uv_close((uv_handle_t *)&c->io->tcp, on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->io->timer))
        uv_close((uv_handle_t *)&c->io->timer, on_handle_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    w->c->io->pending -= w->len;
    free(w);
    (void)status;
}

/* A write request of n bytes to fill, or NULL (*rc set) when the connection cannot take it. */
static struct wreq *wreq_new(struct fw_conn *c, size_t n, int *rc)
{
    struct wreq *w = NULL;
    *rc = 0;
    if (uv_is_closing((uv_handle_t *)&c->io->tcp))
        *rc = -EPIPE;
    else if (c->io->pending + n > MAX_OUTPUT)
        *rc = -ENOBUFS;
    else if (!(w = malloc(sizeof(*w) + n)))
        *rc = -ENOMEM;
    return w;
}

static int wreq_submit(struct fw_conn *c, struct wreq *w, size_t n)
{
    w->c = c;
    w->len = n;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&c->io->tcp, &b, 1, on_write);
    if (r < 0) {
        free(w);
        return r;
    }
    c->io->pending += n;
    return 0;
}

/* Move the TLS codec's ciphertext to the socket. */
static int flush_tls(struct fw_conn *c)
{
    size_t n = ntls_pending_out(c->io->tls);
    int rc;
    if (n == 0) return 0;
    struct wreq *w = wreq_new(c, n, &rc);
    if (!w) return rc;
    n = ntls_take_out(c->io->tls, w->data, n);
    return wreq_submit(c, w, n);
}

/* Plaintext to the peer: through TLS on wss:// connections, else straight to TCP. */
static int write_raw(struct fw_conn *c, const uint8_t *p, size_t n)
{
    int rc;
    if (c->io->tls) {
        if (uv_is_closing((uv_handle_t *)&c->io->tcp)) return -EPIPE;
        if (c->io->pending + n > MAX_OUTPUT) return -ENOBUFS;
        rc = ntls_write(c->io->tls, p, n);
        return rc < 0 ? rc : flush_tls(c);
    }
    struct wreq *w = wreq_new(c, n, &rc);
    if (!w) return rc;
    memcpy(w->data, p, n);
    return wreq_submit(c, w, n);
}

static int flush_ws(struct fw_conn *c)
{
    if (!c->io->ws || c->blackhole) return 0;
    size_t n;
    const uint8_t *p = wss_output(c->io->ws, &n);
    if (n == 0) return 0;
    int rc = write_raw(c, p, n);
    if (rc == 0) wss_output_consume(c->io->ws, n);
    return rc;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    close_handles(req->data);
}

void fw_conn_close(struct fw_conn *c, bool reset)
{
    if (c->state == FWC_CLOSING) return;
    log_debug("fakewa", c->name, "closing connection (%s)", reset ? "reset" : "graceful");
    c->state = FWC_CLOSING;
    fw_router_on_close(c);
    unlink_conn(c);
    if (c->io->reading) {
        uv_read_stop((uv_stream_t *)&c->io->tcp);
        c->io->reading = false;
    }
    if (reset || c->blackhole) {
        if (reset) {
            uv_tcp_close_reset(&c->io->tcp, on_handle_closed);
            uv_timer_stop(&c->io->timer);
            uv_close((uv_handle_t *)&c->io->timer, on_handle_closed);
        } else {
            close_handles(c);
        }
        return;
    }
    if (c->io->ws) {
        (void)wss_close(c->io->ws, 1000, "");
        (void)flush_ws(c);
    }
    if (c->io->tls) { /* close_notify, or the pending alert of a failed handshake */
        (void)ntls_shutdown(c->io->tls);
        (void)flush_tls(c);
    }
    c->io->shut.data = c;
    if (uv_shutdown(&c->io->shut, (uv_stream_t *)&c->io->tcp, on_shutdown) < 0) close_handles(c);
}

void fw_conn_blackhole(struct fw_conn *c)
{
    c->blackhole = true;
    if (c->io->reading) {
        uv_read_stop((uv_stream_t *)&c->io->tcp);
        c->io->reading = false;
    }
}

static void log_node(struct fw_conn *c, const char *dir, const struct wa_node *n)
{
    if (wlog_get_level() < WLOG_DEBUG) return;
    struct buf t;
    buf_init(&t, 1u << 20);
    if (wa_nodetext_print(n, &t, 0) == 0 && buf_append_byte(&t, 0) == 0)
        log_debug("fakewa", c->name, "%s\n%s", dir, (const char *)t.data);
    buf_free(&t);
}

/* Server-to-client binary WebSocket message, queued behind anything wss has pending
 * (pongs, close replies) so frames stay in order, then written out. */
static int ws_send_binary(struct fw_conn *c, const uint8_t *p, size_t n)
{
    int rc = wss_send_binary(c->io->ws, p, n);
    return rc < 0 ? rc : flush_ws(c);
}

static int send_frame(struct fw_conn *c, const uint8_t *p, size_t n)
{
    if (c->blackhole) return 0;
    struct buf f;
    buf_init(&f, MAX_FRAME + 8);
    int rc = wa_frame_encode(&c->io->fenc, &f, p, n);
    if (rc == 0) rc = ws_send_binary(c, f.data, f.len);
    buf_free(&f);
    return rc;
}

int fw_conn_send(struct fw_conn *c, const struct wa_node *n)
{
    if (c->state == FWC_CLOSING || c->blackhole || !c->io->noise ||
        !wa_noise_is_transport(c->io->noise))
        return -EPIPE;
    log_node(c, "S->C", n);
    struct buf pt, ct;
    buf_init(&pt, MAX_FRAME);
    buf_init(&ct, MAX_FRAME + 32);
    char err[WA_NODE_ERR_MAX] = "";
    int rc = wa_node_encode(n, &pt, err, sizeof(err));
    if (rc == 0) rc = wa_noise_encrypt(c->io->noise, pt.data, pt.len, &ct);
    if (rc == 0) rc = send_frame(c, ct.data, ct.len);
    buf_free(&pt);
    buf_free(&ct);
    if (rc < 0) {
        log_warn("fakewa", c->name, "send failed: %s %s", strerror(-rc), err);
        fw_conn_close(c, false);
        return rc;
    }
    c->srv->stats.nodes_out++;
    return 0;
}

static void on_transport_frame(struct fw_conn *c, const uint8_t *p, size_t n)
{
    struct buf pt;
    buf_init(&pt, MAX_FRAME);
    int rc = wa_noise_decrypt(c->io->noise, p, n, &pt);
    struct wa_node *node = NULL;
    char err[WA_NODE_ERR_MAX] = "";
    if (rc == 0) rc = wa_node_decode(pt.data, pt.len, NULL, &node, err, sizeof(err));
    buf_free(&pt);
    if (rc < 0) {
        log_warn("fakewa", c->name, "bad frame: %s %s", strerror(-rc),
                 err[0] ? err : wa_noise_last_error(c->io->noise));
        fw_conn_close(c, false);
        return;
    }
    c->srv->stats.nodes_in++;
    log_node(c, "C->S", node);
    fw_router_on_node(c, node);
    wa_node_free(node);
}

static void on_handshake_frame(struct fw_conn *c, const uint8_t *p, size_t n)
{
    int rc;
    if (c->state == FWC_HELLO) {
        int hf = fw_faults_on_handshake(c->srv);
        if (hf) {
            log_info("fakewa", c->name, "fault: closing during the Noise handshake");
            fw_conn_close(c, hf == 2);
            return;
        }
        struct buf out;
        buf_init(&out, 65536);
        rc = wa_noise_read_client_hello(c->io->noise, p, n);
        if (rc == 0)
            rc = wa_noise_write_server_hello(c->io->noise, c->srv->cert.data, c->srv->cert.len,
                                             &out);
        if (rc == 0) rc = send_frame(c, out.data, out.len);
        buf_free(&out);
        if (rc == 0) c->state = FWC_FINISH;
    } else {
        struct buf payload;
        buf_init(&payload, WA_NOISE_MAX_PAYLOAD);
        rc = wa_noise_read_client_finish(c->io->noise, p, n, c->client_static, &payload);
        if (rc == 0) {
            c->srv->stats.handshakes++;
            uv_timer_stop(&c->io->timer);
            fw_router_on_payload(c, payload.data, payload.len);
        }
        buf_free(&payload);
    }
    if (rc < 0) {
        log_warn("fakewa", c->name, "handshake failed: %s", wa_noise_last_error(c->io->noise));
        fw_conn_close(c, false);
    }
}

static void on_ws_message(void *arg, enum wss_opcode op, const uint8_t *data, size_t len)
{
    struct fw_conn *c = arg;
    if (op != WSS_BINARY) return;
    while (len > 0 && c->state != FWC_CLOSING) {
        size_t used = 0;
        const uint8_t *f;
        size_t flen;
        int rc = wa_frame_decode(&c->io->fdec, data, len, &used, &f, &flen);
        data += used;
        len -= used;
        if (rc < 0) {
            log_warn("fakewa", c->name, "framing: %s", wa_frame_decoder_error(&c->io->fdec));
            fw_conn_close(c, false);
            return;
        }
        if (rc == 0) break;
        if (c->state == FWC_HELLO || c->state == FWC_FINISH)
            on_handshake_frame(c, f, flen);
        else
            on_transport_frame(c, f, flen);
    }
}

static void http_reply(struct fw_conn *c, int status, const char *text)
{
    struct buf out;
    buf_init(&out, 4096);
    if (http_response_build(&out, status, "text/plain", text, strlen(text), NULL, false) == 0)
        (void)write_raw(c, out.data, out.len);
    buf_free(&out);
    fw_conn_close(c, false);
}

static void start_ws(struct fw_conn *c, const struct http_request *req)
{
    char accept[WSS_ACCEPT_LEN + 1], err[128];
    int status = 400;
    if (strcmp(req->path, "/ws/chat") != 0) {
        http_reply(c, 404, "not found\n");
        return;
    }
    if (fw_now_ms() < g_refuse_until_ms) {
        http_reply(c, 503, "refused (fault)\n");
        return;
    }
    if (wss_handshake_check(req, accept, &status, err, sizeof(err)) < 0) {
        http_reply(c, status, err);
        return;
    }
    struct buf out;
    buf_init(&out, 4096);
    struct wss_limits lim = {.max_message = MAX_WS_MESSAGE, .max_output = MAX_OUTPUT};
    int rc = wss_handshake_response(&out, accept);
    if (rc == 0) rc = wss_new(&lim, on_ws_message, c, &c->io->ws);
    if (rc == 0) rc = write_raw(c, out.data, out.len);
    buf_free(&out);
    if (rc < 0) {
        fw_conn_close(c, true);
        return;
    }
    c->state = FWC_HELLO;
}

static void feed_ws(struct fw_conn *c, const uint8_t *p, size_t n)
{
    int rc = wss_feed(c->io->ws, p, n);
    if (c->state == FWC_CLOSING) return;
    (void)flush_ws(c);
    if (rc < 0 || wss_finished(c->io->ws)) fw_conn_close(c, false);
}

static void feed_http(struct fw_conn *c, const uint8_t *p, size_t n)
{
    size_t used = 0;
    int rc = http_parser_feed(c->io->hp, p, n, &used);
    if (rc < 0) {
        http_reply(c, http_parser_status(c->io->hp), http_parser_last_error(c->io->hp));
        return;
    }
    if (rc == HTTP_NEED_MORE) return;
    start_ws(c, http_parser_request(c->io->hp));
    if (c->state == FWC_HELLO && used < n) feed_ws(c, p + used, n - used);
}

static void feed_plain(struct fw_conn *c, const uint8_t *p, size_t n)
{
    if (c->state == FWC_HTTP)
        feed_http(c, p, n);
    else
        feed_ws(c, p, n);
}

/* Ciphertext in: advance the handshake, then hand every decrypted byte on. */
static void feed_tls(struct fw_conn *c, const uint8_t *p, size_t n)
{
    static uint8_t pt[65536];
    struct ntls *t = c->io->tls;
    int rc = ntls_feed(t, p, n);
    if (rc == 0 && !ntls_handshake_done(t)) {
        rc = ntls_handshake(t);
        if (rc == 0) log_debug("fakewa", c->name, "TLS handshake complete");
    }
    (void)flush_tls(c);
    while (rc == 0 && c->state != FWC_CLOSING && !c->blackhole) {
        size_t got = 0;
        rc = ntls_read(t, pt, sizeof(pt), &got);
        (void)flush_tls(c); /* e.g. a KeyUpdate answer */
        if (rc < 0 || got == 0) break;
        feed_plain(c, pt, got);
    }
    if (rc < 0 && rc != -EAGAIN && c->state != FWC_CLOSING) {
        const struct nout *o = ntls_outcome(t);
        if (o->cause == NOUT_C_EOF)
            log_debug("fakewa", c->name, "%s", o->text);
        else
            log_info("fakewa", c->name, "%s", rc == -ENOBUFS ? "tls: input cap reached" : o->text);
        fw_conn_close(c, false);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char rbuf[65536];
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct fw_conn *c = st->data;
    if (nread < 0) {
        fw_conn_close(c, false);
        return;
    }
    if (c->state == FWC_CLOSING || c->blackhole) return;
    if (c->io->tls)
        feed_tls(c, (const uint8_t *)b->base, (size_t)nread);
    else
        feed_plain(c, (const uint8_t *)b->base, (size_t)nread);
}

static void on_timer(uv_timer_t *t)
{
    struct fw_conn *c = t->data;
    log_info("fakewa", c->name, "deadline passed (state %d)", (int)c->state);
    fw_conn_close(c, false);
}

void fw_conn_set_deadline(struct fw_conn *c, uint64_t ms)
{
    if (c->state == FWC_CLOSING) return;
    uv_timer_stop(&c->io->timer);
    if (ms) uv_timer_start(&c->io->timer, on_timer, ms, 0);
}

static int conn_setup(struct fw_server *s, struct fw_conn *c, bool tls)
{
    struct http_limits hl = {.max_head_bytes = 16384, .max_request_bytes = 16384};
    char err[128];
    int rc = http_parser_new(&hl, &c->io->hp);
    if (rc < 0) return rc;
    if (tls && !(c->io->tls = ntls_accept_new(s->tls, err, sizeof(err)))) {
        log_warn("fakewa", c->name, "TLS: %s", err);
        return -ENOMEM;
    }
    c->io->noise = wa_noise_new(WA_NOISE_RESPONDER, &s->noise);
    if (!c->io->noise) return -ENOMEM;
    wa_frame_decoder_init(&c->io->fdec, true, MAX_FRAME, 0);
    wa_frame_encoder_init(&c->io->fenc, false, MAX_FRAME);
    return 0;
}

static void on_connection(uv_stream_t *l, int status)
{
    struct listener *L = l->data;
    struct fw_server *s = L->srv;
    if (status < 0) return;
    struct fw_conn *c = calloc(1, sizeof(*c));
    struct fw_conn_io *io = c ? calloc(1, sizeof(*io)) : NULL;
    if (!io) {
        free(c);
        return;
    }
    c->io = io;
    c->srv = s;
    c->serial = ++g_next_serial;
    snprintf(c->name, sizeof(c->name), "c%llu", (unsigned long long)c->serial);
    uv_tcp_init(s->loop, &io->tcp);
    uv_timer_init(s->loop, &io->timer);
    io->tcp.data = io->timer.data = c;
    io->open_handles = 2;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->stats.connections++;
    size_t live = 0;
    for (struct fw_conn *k = s->conns; k; k = k->next)
        live++;
    if (uv_accept(l, (uv_stream_t *)&io->tcp) < 0 || live > MAX_CONNS ||
        conn_setup(s, c, L->tls) < 0) {
        c->state = FWC_CLOSING;
        unlink_conn(c);
        close_handles(c);
        return;
    }
    uv_tcp_nodelay(&io->tcp, 1);
    uv_timer_start(&io->timer, on_timer, FW_HANDSHAKE_MS, 0);
    if (uv_read_start((uv_stream_t *)&io->tcp, on_alloc, on_read) == 0)
        io->reading = true;
    else
        fw_conn_close(c, true);
}

static int listen_on(struct fw_server *s, const char *host, int port, bool tls, int *bound)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(s->last_error, sizeof(s->last_error), "bad listen address %s", host);
        return -EINVAL;
    }
    struct listener *L = calloc(1, sizeof(*L));
    if (!L) return -ENOMEM;
    L->srv = s;
    L->tls = tls;
    uv_tcp_init(s->loop, &L->tcp);
    L->tcp.data = L;
    int rc = uv_tcp_bind(&L->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&L->tcp, 128, on_connection);
    if (rc < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "listen %s:%d: %s", host, port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&L->tcp, (uv_close_cb)free);
        return rc;
    }
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(&L->tcp, (struct sockaddr *)&got, &len);
    *bound = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                             : ((struct sockaddr_in *)&got)->sin_port);
    if (tls)
        g_tls_listener = L;
    else
        g_listener = L;
    return 0;
}

int fw_conn_listen(struct fw_server *s, const char *host, int port, int *bound)
{
    return listen_on(s, host, port, false, bound);
}

int fw_conn_listen_tls(struct fw_server *s, const char *host, int port, int *bound)
{
    if (!s->tls) {
        snprintf(s->last_error, sizeof(s->last_error), "no TLS server configuration");
        return -EINVAL;
    }
    return listen_on(s, host, port, true, bound);
}

void fw_conn_refuse_until(struct fw_server *s, uint64_t until_ms)
{
    (void)s;
    g_refuse_until_ms = until_ms;
}

void fw_conn_shutdown(struct fw_server *s)
{
    while (s->conns)
        fw_conn_close(s->conns, true);
    if (g_listener) {
        uv_close((uv_handle_t *)&g_listener->tcp, (uv_close_cb)free);
        g_listener = NULL;
    }
    if (g_tls_listener) {
        uv_close((uv_handle_t *)&g_tls_listener->tcp, (uv_close_cb)free);
        g_tls_listener = NULL;
    }
}

void fw_conn_bind(struct fw_conn *c, struct fw_account *a, struct fw_device *d)
{
    c->acc = a;
    c->dev = d;
    c->state = FWC_ONLINE;
    snprintf(c->name, sizeof(c->name), "%s:%u", a->phone, d->id);
}

void fw_conn_iq_id(struct fw_conn *c, const char *prefix, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%llu.%llu", prefix, (unsigned long long)c->serial,
             (unsigned long long)++c->iq_seq);
}
