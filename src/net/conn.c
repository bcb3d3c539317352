/* SPDX-License-Identifier: MIT */
/* conn.c -- connector state machine: resolve, connect, TLS, upgrade, open, done.
 *
 * Safety rules used throughout:
 *  - every TCP attempt is a separate heap object (`struct tcp_att`); abandoning it marks
 *    it stale and closes it, so late connect/write callbacks of old attempts are dropped;
 *  - the connector is freed only from a uv close callback once the owner has called
 *    nconn_close() and every handle is closed, so callbacks can never see freed memory;
 *  - on_close is always delivered from the `kick` timer, never from the function that
 *    detected the failure (which may be nconn_send() or a callback of the owner);
 *  - after calling into the codecs (which may run owner callbacks that call
 *    nconn_close()), the code re-checks `st` before touching anything else.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns.h"
#include "net/tls.h"
#include "net/url.h"
#include "net/wsc.h"

#define RBUF_SIZE  (64u << 10)
#define WCHUNK_MAX (64u << 10)

enum nc_state { NC_START, NC_DNS, NC_CONNECT, NC_TLS, NC_WS, NC_OPEN, NC_DONE };

struct tcp_att {
    uv_tcp_t h;
    uv_connect_t req;
    struct nconn *c;
    bool stale;
};

struct wreq {
    uv_write_t req;
    struct tcp_att *att;
    size_t len;
    uint8_t data[];
};

struct nconn {
    uv_loop_t *loop;
    struct nconn_cbs cbs;
    void *ud;
    enum nc_state st;
    bool released, close_delivered;
    int handles;
    uv_timer_t deadline, kick;
    /* options (owned copies) */
    char *url_s, *ca_file, *origin;
    char **dns;
    size_t ndns;
    int dns_timeout_ms, dns_tries, resolve_ms, connect_ms, handshake_ms, user_timeout_ms;
    size_t max_msg;
    struct nurl url;
    /* stages */
    struct ndns_query *dq;
    struct sockaddr_storage addrs[NDNS_MAX_ADDRS];
    size_t naddrs, ai;
    struct tcp_att *att;
    struct ntls *tls;
    struct wsc *ws;
    size_t inflight;
    char peer[64];
    struct nout out;
};

static void flush(struct nconn *c);
static void connect_next(struct nconn *c);

/* ---- teardown and freeing ---------------------------------------------------- */

static void conn_free(struct nconn *c)
{
    ntls_free(c->tls);
    wsc_free(c->ws);
    for (size_t i = 0; i < c->ndns; i++)
        free(c->dns[i]);
    free(c->dns);
    free(c->url_s);
    free(c->ca_file);
    free(c->origin);
    free(c);
}

static void handle_gone(struct nconn *c)
{
    if (--c->handles == 0 && c->released) conn_free(c);
}

static void timer_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

static void att_closed(uv_handle_t *h)
{
    struct tcp_att *a = h->data;
    struct nconn *c = a->c;

    free(a);
    handle_gone(c);
}

static void drop_att(struct nconn *c)
{
    if (!c->att) return;
    c->att->stale = true;
    uv_close((uv_handle_t *)&c->att->h, att_closed);
    c->att = NULL;
}

static void teardown_io(struct nconn *c)
{
    ndns_cancel(c->dq);
    c->dq = NULL;
    drop_att(c);
    uv_timer_stop(&c->deadline);
}

static void on_kick(uv_timer_t *t);

/* Record the outcome, stop all I/O, deliver on_close on a later callback. */
static void fail(struct nconn *c, const struct nout *o)
{
    if (c->st == NC_DONE) return;
    c->st = NC_DONE;
    c->out = *o;
    teardown_io(c);
    uv_timer_start(&c->kick, on_kick, 0, 0);
}

static void fail_errno(struct nconn *c, int err)
{
    struct nout o;
    bool open = c->st == NC_OPEN;

    if (err == UV_ETIMEDOUT)
        nout_set(&o, open ? NOUT_CLOSED : NOUT_CONNECT, NOUT_C_TIMEOUT, err, 0, "%s: timeout %s",
                 open ? "closed" : "connect", c->peer);
    else
        nout_set(&o, open ? NOUT_CLOSED : NOUT_CONNECT, NOUT_C_ERRNO, err, 0, "%s: %s %s",
                 open ? "closed" : "connect", nout_errno_name(err), c->peer);
    fail(c, &o);
}

/* ---- writing ------------------------------------------------------------------ */

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct tcp_att *a = w->att;

    a->c->inflight -= w->len;
    if (status < 0 && !a->stale) fail_errno(a->c, status);
    free(w);
}

static void write_raw(struct nconn *c, const uint8_t *p, size_t n)
{
    struct wreq *w;
    uv_buf_t b;
    int rc;

    if (!c->att || n == 0) return;
    w = malloc(sizeof(*w) + n);
    if (!w) {
        fail_errno(c, -ENOMEM);
        return;
    }
    memcpy(w->data, p, n);
    w->att = c->att;
    w->len = n;
    b = uv_buf_init((char *)w->data, (unsigned)n);
    rc = uv_write(&w->req, (uv_stream_t *)&c->att->h, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        fail_errno(c, rc);
        return;
    }
    c->inflight += n;
}

static void flush_tls(struct nconn *c)
{
    uint8_t chunk[16384];
    size_t n;

    while (c->st != NC_DONE && (n = ntls_take_out(c->tls, chunk, sizeof(chunk))) > 0)
        write_raw(c, chunk, n);
}

/* Move WebSocket output down the stack (through TLS when wss://). */
static void flush(struct nconn *c)
{
    const uint8_t *p;
    size_t n;

    while (c->ws && c->st != NC_DONE && (p = wsc_out(c->ws, &n)) && n > 0) {
        if (n > WCHUNK_MAX) n = WCHUNK_MAX;
        if (c->tls) {
            if (!ntls_handshake_done(c->tls)) break;
            if (ntls_write(c->tls, p, n) != 0) {
                fail(c, ntls_outcome(c->tls));
                return;
            }
        } else {
            write_raw(c, p, n);
        }
        wsc_out_consume(c->ws, n);
        if (c->tls) flush_tls(c);
    }
    if (c->tls && c->st != NC_DONE) flush_tls(c);
}

/* Best effort before dropping the socket (close replies): no callbacks, no waiting. */
static void flush_final(struct nconn *c)
{
    const uint8_t *p;
    uint8_t chunk[16384];
    size_t n;
    uv_buf_t b;

    if (!c->att || !c->ws) return;
    p = wsc_out(c->ws, &n);
    if (n > 0 && c->tls && ntls_handshake_done(c->tls) && ntls_write(c->tls, p, n) == 0)
        wsc_out_consume(c->ws, n);
    if (c->tls) {
        while ((n = ntls_take_out(c->tls, chunk, sizeof(chunk))) > 0) {
            b = uv_buf_init((char *)chunk, (unsigned)n);
            if (uv_try_write((uv_stream_t *)&c->att->h, &b, 1) < 0) break;
        }
    } else if (n > 0) {
        b = uv_buf_init((char *)p, (unsigned)n);
        uv_try_write((uv_stream_t *)&c->att->h, &b, 1);
    }
}

/* ---- WebSocket codec callbacks --------------------------------------------------- */

static void ws_open(void *ud)
{
    struct nconn *c = ud;

    if (c->st != NC_WS) return;
    c->st = NC_OPEN;
    uv_timer_stop(&c->deadline);
    if (c->cbs.on_open) c->cbs.on_open(c, c->ud);
}

static void ws_message(void *ud, const uint8_t *data, size_t len)
{
    struct nconn *c = ud;

    if (c->st == NC_OPEN && c->cbs.on_message) c->cbs.on_message(c, c->ud, data, len);
}

static void ws_close(void *ud, const struct nout *o)
{
    struct nconn *c = ud;

    if (c->st == NC_DONE) return;
    flush_final(c);
    fail(c, o);
}

/* ---- reading ------------------------------------------------------------------ */

/* One read buffer per thread, shared by its connections: a read is consumed (copied into the
 * TLS or WebSocket codec) before its callback returns and nothing reads from inside one, so
 * 64 KiB per connection would only cost memory (a thousand accounts: 64 MiB, issue 16). */
static _Thread_local uint8_t rbuf[RBUF_SIZE];

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    *b = uv_buf_init((char *)rbuf, RBUF_SIZE);
}

static void tls_handshake_step(struct nconn *c)
{
    int rc = ntls_handshake(c->tls);

    if (rc == -EAGAIN) {
        flush_tls(c);
        return;
    }
    if (rc < 0) {
        flush_tls(c); /* our alert, if any */
        fail(c, ntls_outcome(c->tls));
        return;
    }
    c->st = NC_WS;
    flush(c); /* the upgrade request */
}

/* Decrypted bytes up to the WebSocket codec. */
static void tls_drain(struct nconn *c)
{
    size_t got;
    int rc;

    while (c->st == NC_WS || c->st == NC_OPEN) {
        rc = ntls_read(c->tls, rbuf, RBUF_SIZE, &got);
        if (rc == -EPIPE) {
            wsc_feed_eof(c->ws);
            return;
        }
        if (rc < 0) {
            fail(c, ntls_outcome(c->tls));
            return;
        }
        if (got == 0) return;
        wsc_feed(c->ws, rbuf, got);
    }
}

static void on_eof(struct nconn *c)
{
    if (c->tls) {
        ntls_feed_eof(c->tls);
        if (!ntls_handshake_done(c->tls)) {
            if (ntls_handshake(c->tls) < 0)
                fail(c, ntls_outcome(c->tls));
            else
                fail_errno(c, -EPIPE);
            return;
        }
        tls_drain(c); /* reports the EOF to the codec */
        if (c->st != NC_DONE) wsc_feed_eof(c->ws);
        return;
    }
    wsc_feed_eof(c->ws);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct tcp_att *a = s->data;
    struct nconn *c = a->c;

    if (a->stale || c->st == NC_DONE || nread == 0) return;
    if (nread == UV_EOF) {
        on_eof(c);
    } else if (nread < 0) {
        fail_errno(c, (int)nread);
    } else if (!c->tls) {
        wsc_feed(c->ws, (const uint8_t *)b->base, (size_t)nread);
    } else if (ntls_feed(c->tls, b->base, (size_t)nread) != 0) {
        fail_errno(c, -ENOBUFS);
    } else if (c->st == NC_TLS) {
        tls_handshake_step(c);
        if (c->st == NC_WS) tls_drain(c); /* the server may have sent data right after Finished */
    } else {
        tls_drain(c);
    }
    if (c->st != NC_DONE) flush(c);
}

/* ---- connecting --------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    struct nconn *c = t->data;
    struct nout o;

    switch (c->st) {
    case NC_DNS:
        nout_set(&o, NOUT_DNS, NOUT_C_TIMEOUT, -ETIMEDOUT, 0, "dns: timeout %s", c->url.host);
        fail(c, &o);
        break;
    case NC_CONNECT:
        nout_set(&c->out, NOUT_CONNECT, NOUT_C_TIMEOUT, -ETIMEDOUT, 0, "connect: timeout %s",
                 c->peer);
        drop_att(c);
        connect_next(c);
        break;
    case NC_TLS:
    case NC_WS:
        nout_set(&o, c->st == NC_TLS ? NOUT_TLS : NOUT_WS, NOUT_C_TIMEOUT, -ETIMEDOUT, 0,
                 "%s: timeout", c->st == NC_TLS ? "tls" : "ws");
        fail(c, &o);
        break;
    default:
        break;
    }
}

static void fail_setup(struct nconn *c, enum nout_stage stage, const char *why)
{
    struct nout o;

    nout_set(&o, stage, NOUT_C_ERRNO, -EINVAL, 0, "%s: setup failed (%s)", nout_stage_name(stage),
             why);
    fail(c, &o);
}

static int make_codecs(struct nconn *c)
{
    char err[128], host[NURL_HOST_MAX + 16];
    struct wsc_opts wo = {
        .host = host, .path = c->url.path, .origin = c->origin, .max_msg = c->max_msg};
    struct wsc_cbs wc = {.on_open = ws_open, .on_message = ws_message, .on_close = ws_close};
    bool dflt = c->url.port == (c->url.tls ? 443 : 80);

    if (dflt)
        snprintf(host, sizeof(host), c->url.ip_family == AF_INET6 ? "[%s]" : "%s", c->url.host);
    else
        nurl_hostport(&c->url, host, sizeof(host));
    c->ws = wsc_new(&wo, &wc, c, err, sizeof(err));
    if (!c->ws) {
        fail_setup(c, NOUT_WS, err);
        return -EINVAL;
    }
    if (c->url.tls) {
        struct ntls_opts to = {.host = c->url.host, .ca_file = c->ca_file};

        c->tls = ntls_new(&to, err, sizeof(err));
        if (!c->tls) {
            fail_setup(c, NOUT_TLS, err);
            return -EINVAL;
        }
    }
    return 0;
}

/* The second line behind the WhatsApp pings: the kernel gives up on a peer that stops
 * acknowledging our data (TCP_USER_TIMEOUT) or goes silent (keepalive probes), so a
 * blackholed or half-open connection ends even while nothing is being sent. */
static void tune_socket(struct nconn *c, uv_tcp_t *h)
{
    uv_os_fd_t fd;
    (void)uv_tcp_keepalive(h, 1, NCONN_KEEPIDLE_S);
    if (uv_fileno((uv_handle_t *)h, &fd) < 0) return;
    int intvl = NCONN_KEEPINTVL_S, cnt = NCONN_KEEPCNT;
    unsigned uto = (unsigned)c->user_timeout_ms;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
}

int nconn_fileno(const struct nconn *c)
{
    uv_os_fd_t fd;
    if (!c || !c->att || uv_fileno((const uv_handle_t *)&c->att->h, &fd) < 0) return -1;
    return fd;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct tcp_att *a = req->data;
    struct nconn *c = a->c;
    int rc;

    if (a->stale || c->st != NC_CONNECT) return;
    if (status < 0) {
        if (status == UV_ETIMEDOUT)
            nout_set(&c->out, NOUT_CONNECT, NOUT_C_TIMEOUT, status, 0, "connect: timeout %s",
                     c->peer);
        else
            nout_set(&c->out, NOUT_CONNECT, NOUT_C_ERRNO, status, 0, "connect: %s %s",
                     nout_errno_name(status), c->peer);
        drop_att(c);
        connect_next(c);
        return;
    }
    if (make_codecs(c) != 0) return;
    tune_socket(c, &a->h);
    rc = uv_read_start((uv_stream_t *)&a->h, on_alloc, on_read);
    if (rc < 0) {
        fail_errno(c, rc);
        return;
    }
    uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->handshake_ms, 0);
    c->st = c->tls ? NC_TLS : NC_WS;
    if (c->tls)
        tls_handshake_step(c);
    else
        flush(c);
}

static void format_peer(struct nconn *c, const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
    }
}

/* Start one attempt; 0 if under way, else the outcome is recorded in c->out. */
static int try_addr(struct nconn *c, const struct sockaddr_storage *ss)
{
    struct tcp_att *a = calloc(1, sizeof(*a));
    int rc;

    format_peer(c, ss);
    if (!a) {
        nout_set(&c->out, NOUT_INTERNAL, NOUT_C_ERRNO, -ENOMEM, 0, "internal: out of memory");
        return -ENOMEM;
    }
    a->c = c;
    a->h.data = a;
    a->req.data = a;
    uv_tcp_init(c->loop, &a->h);
    c->handles++;
    c->att = a;
    uv_tcp_nodelay(&a->h, 1);
    rc = uv_tcp_connect(&a->req, &a->h, (const struct sockaddr *)ss, on_connect);
    if (rc < 0) {
        nout_set(&c->out, NOUT_CONNECT, NOUT_C_ERRNO, rc, 0, "connect: %s %s", nout_errno_name(rc),
                 c->peer);
        drop_att(c);
        return rc;
    }
    uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->connect_ms, 0);
    return 0;
}

static void connect_next(struct nconn *c)
{
    struct nout last;

    c->st = NC_CONNECT;
    while (c->ai < c->naddrs) {
        if (try_addr(c, &c->addrs[c->ai++]) == 0) return;
    }
    last = c->out;
    if (last.stage == NOUT_NONE)
        nout_set(&last, NOUT_CONNECT, NOUT_C_ERRNO, -EADDRNOTAVAIL, 0, "connect: no address for %s",
                 c->url.host);
    fail(c, &last);
}

/* ---- resolving ---------------------------------------------------------------- */

static void on_resolved(void *ud, const struct ndns_result *r)
{
    struct nconn *c = ud;
    struct nout o;
    const char *h = c->url.host;

    c->dq = NULL;
    if (c->st != NC_DNS) return;
    switch (r->cause) {
    case NOUT_C_NONE:
        memcpy(c->addrs, r->addrs, sizeof(c->addrs));
        c->naddrs = r->naddrs;
        uv_timer_stop(&c->deadline);
        connect_next(c);
        return;
    case NOUT_C_NXDOMAIN:
        nout_set(&o, NOUT_DNS, r->cause, r->err, 0, "dns: NXDOMAIN %s", h);
        break;
    case NOUT_C_SERVFAIL:
        nout_set(&o, NOUT_DNS, r->cause, r->err, 0, "dns: SERVFAIL %s", h);
        break;
    case NOUT_C_REFUSED:
        nout_set(&o, NOUT_DNS, r->cause, r->err, 0, "dns: REFUSED %s", h);
        break;
    case NOUT_C_TIMEOUT:
        nout_set(&o, NOUT_DNS, r->cause, r->err, 0, "dns: timeout %s", h);
        break;
    case NOUT_C_NODATA:
        nout_set(&o, NOUT_DNS, r->cause, r->err, 0, "dns: no data %s", h);
        break;
    default:
        nout_set(&o, NOUT_DNS, r->cause, r->err, 0, "dns: error %s (%s)", h, r->detail);
        break;
    }
    fail(c, &o);
}

static void literal_addr(struct nconn *c)
{
    struct sockaddr_storage *ss = &c->addrs[0];

    memset(ss, 0, sizeof(*ss));
    if (c->url.ip_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(c->url.port);
        inet_pton(AF_INET6, c->url.host, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(c->url.port);
        inet_pton(AF_INET, c->url.host, &s4->sin_addr);
    }
    c->naddrs = 1;
}

static void begin(struct nconn *c)
{
    struct ndns_opts dopts = {.servers = (const char *const *)c->dns,
                              .nservers = c->ndns,
                              .timeout_ms = c->dns_timeout_ms,
                              .tries = c->dns_tries};
    char err[128];
    struct nout o;

    if (nurl_parse(c->url_s, &c->url, err, sizeof(err)) != 0) {
        nout_set(&o, NOUT_URL, NOUT_C_BAD_URL, -EINVAL, 0, "url: %s", err);
        fail(c, &o);
        return;
    }
    if (c->url.ip_family) {
        literal_addr(c);
        connect_next(c);
        return;
    }
    c->st = NC_DNS;
    if (ndns_resolve(c->loop, &dopts, c->url.host, c->url.port, on_resolved, c, &c->dq, err,
                     sizeof(err)) != 0) {
        nout_set(&o, NOUT_DNS, NOUT_C_ERRNO, -EINVAL, 0, "dns: error %s (%s)", c->url.host, err);
        fail(c, &o);
        return;
    }
    uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->resolve_ms, 0);
}

static void on_kick(uv_timer_t *t)
{
    struct nconn *c = t->data;

    if (c->st == NC_START) {
        begin(c);
        return;
    }
    if (c->st == NC_DONE && !c->close_delivered && !c->released) {
        c->close_delivered = true;
        if (c->cbs.on_close) c->cbs.on_close(c, c->ud, &c->out);
    }
}

/* ---- public API ----------------------------------------------------------------- */

static char *dup_opt(const char *s, bool *oom)
{
    char *d;

    if (!s) return NULL;
    d = strdup(s);
    if (!d) *oom = true;
    return d;
}

static int copy_opts(struct nconn *c, const struct nconn_opts *o)
{
    bool oom = false;

    c->url_s = dup_opt(o->url, &oom);
    c->ca_file = dup_opt(o->ca_file, &oom);
    c->origin = dup_opt(o->origin, &oom);
    if (o->ndns_servers > 0 && o->dns_servers) {
        c->dns = calloc(o->ndns_servers, sizeof(*c->dns));
        oom |= !c->dns;
        for (size_t i = 0; c->dns && i < o->ndns_servers; i++, c->ndns++)
            c->dns[i] = dup_opt(o->dns_servers[i] ? o->dns_servers[i] : "", &oom);
    }
    c->dns_timeout_ms = o->dns_timeout_ms;
    c->dns_tries = o->dns_tries;
    c->resolve_ms = o->resolve_timeout_ms > 0 ? o->resolve_timeout_ms : 10000;
    c->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->handshake_ms = o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : 10000;
    c->user_timeout_ms =
        o->tcp_user_timeout_ms > 0 ? o->tcp_user_timeout_ms : NCONN_USER_TIMEOUT_MS;
    c->max_msg = o->max_msg;
    return oom ? -ENOMEM : 0;
}

int nconn_start(uv_loop_t *loop, const struct nconn_opts *opts, const struct nconn_cbs *cbs,
                void *ud, struct nconn **out)
{
    struct nconn *c;

    *out = NULL;
    if (!loop || !opts || !cbs || !opts->url) return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c) return -ENOMEM;
    if (copy_opts(c, opts) != 0) {
        conn_free(c);
        return -ENOMEM;
    }
    c->loop = loop;
    c->cbs = *cbs;
    c->ud = ud;
    uv_timer_init(loop, &c->deadline);
    uv_timer_init(loop, &c->kick);
    c->deadline.data = c->kick.data = c;
    c->handles = 2;
    uv_timer_start(&c->kick, on_kick, 0, 0);
    *out = c;
    return 0;
}

int nconn_send(struct nconn *c, const void *data, size_t len)
{
    int rc;

    if (c->st != NC_OPEN) return -ENOTCONN;
    rc = wsc_send_binary(c->ws, data, len);
    if (rc == 0) flush(c);
    return rc;
}

size_t nconn_pending(const struct nconn *c)
{
    size_t n = c->inflight;

    if (c->ws) n += wsc_pending(c->ws);
    if (c->tls) n += ntls_pending_out(c->tls);
    return n;
}

void nconn_close(struct nconn *c)
{
    if (!c || c->released) return;
    c->released = true;
    if (c->st == NC_OPEN && c->ws) {
        (void)wsc_close(c->ws, 1000);
        flush_final(c);
    }
    if (c->st != NC_DONE) {
        c->st = NC_DONE;
        nout_set(&c->out, NOUT_CLOSED, NOUT_C_LOCAL_CLOSE, -ECONNABORTED, 0,
                 "closed: by local request");
    }
    teardown_io(c);
    uv_close((uv_handle_t *)&c->deadline, timer_closed);
    uv_close((uv_handle_t *)&c->kick, timer_closed);
}

const struct nout *nconn_outcome(const struct nconn *c)
{
    return &c->out;
}

const char *nconn_peer(const struct nconn *c)
{
    return c->peer;
}
