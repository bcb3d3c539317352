/* SPDX-License-Identifier: MIT */
/* httpc.c -- one HTTP(S) request: resolve, connect (each address in turn), TLS, request
 * (optionally with a body pulled in pieces), response head (and optionally the body, streamed).
 *
 * Each TCP attempt has its own handle (struct att); a failed attempt is marked stale and
 * closed, so late callbacks of it are dropped. The request is freed from the close callback
 * of its last handle (the deadline timer and the attempts).
 */
#include "net/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/dns.h"
#include "net/outcome.h"
#include "net/tls.h"
#include "net/url.h"

enum hst { H_RESOLVE, H_CONNECT, H_TLS, H_WAIT, H_DONE };

struct att {
    uv_tcp_t h;
    uv_connect_t req;
    struct nhttp *c;
    bool stale;
};

struct wreq {
    uv_write_t req;
    struct att *att;
    size_t len;
    uint8_t data[];
};

struct nhttp {
    uv_loop_t *loop;
    enum hst st;
    bool cancelled;
    struct nurl url;
    nhttp_cb cb;
    void *ud;
    uv_timer_t deadline;
    unsigned open; /* handles not yet closed (timer + attempts) */
    struct ndns_query *dns;
    struct ndns_result addrs;
    size_t next_addr;
    struct att *att; /* the current attempt */
    struct ntls *tls;
    char *ca_file;
    char *req;
    size_t req_len;
    int connect_ms, response_ms;
    size_t max_resp;
    char *resp;
    size_t resp_len;
    char peer[64];
    char last_err[200];
    /* streaming (nhttp_opts.body_fn / data_fn) */
    char method[8];
    nhttp_body_fn body_fn;
    nhttp_data_fn data_fn;
    void *sud;
    uint64_t body_left; /* request body bytes still to pull */
    size_t inflight;    /* bytes handed to uv_write, not yet written */
    bool head_seen;     /* the response head went to data_fn */
    bool write_failed;  /* the peer stopped taking the body (answer still read) */
    int status;
    int64_t clen; /* response Content-Length, -1 = none */
    uint64_t got_body;
    bool chunked;
    int ch_state; /* CH_* */
    uint64_t ch_left;
    char ch_line[40];
    size_t ch_line_len;
};

#define STREAM_INFLIGHT (128u << 10) /* request body bytes queued for writing at most */
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

static void release(struct nhttp *c)
{
    if (--c->open > 0) return;
    ntls_free(c->tls);
    free(c->ca_file);
    free(c->req);
    free(c->resp);
    free(c);
}

static void timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void att_closed(uv_handle_t *h)
{
    struct att *a = h->data;
    struct nhttp *c = a->c;
    free(a);
    release(c);
}

static void drop_att(struct nhttp *c)
{
    if (!c->att) return;
    c->att->stale = true;
    uv_close((uv_handle_t *)&c->att->h, att_closed);
    c->att = NULL;
}

/* The end: report once (unless cancelled), then release everything. */
static void finish(struct nhttp *c, int status, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(struct nhttp *c, int status, int err, const char *fmt, ...)
{
    if (c->st == H_DONE) return;
    c->st = H_DONE;
    struct nhttp_result r = {.status = status, .err = err};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.detail, sizeof r.detail, fmt, ap);
    va_end(ap);
    uv_timer_stop(&c->deadline);
    ndns_cancel(c->dns);
    c->dns = NULL;
    drop_att(c);
    if (!c->cancelled && c->cb) c->cb(c->ud, &r);
    uv_close((uv_handle_t *)&c->deadline, timer_closed);
}

static void fail_out(struct nhttp *c, const struct nout *o)
{
    finish(c, 0, o->err ? o->err : -EPROTO, "%s", o->text);
}

static void connect_next(struct nhttp *c);

/* ---- writing ---------------------------------------------------------------------- */

static void pump_body(struct nhttp *c);
static void on_deadline(uv_timer_t *t);

/* Streaming: the response timeout is an idle one, restarted when bytes move. */
static void progress(struct nhttp *c)
{
    if ((c->body_fn || c->data_fn) && c->st == H_WAIT)
        uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->response_ms, 0);
}

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct att *a = w->att;
    struct nhttp *c = a->c;
    c->inflight -= w->len;
    free(w);
    if (a->stale) return;
    if (status < 0 && c->body_fn && c->st == H_WAIT) {
        /* A server may answer (401, 413, ...) and close before the whole body is in: stop
         * writing and read its answer; without one the close reports this error. */
        snprintf(c->last_err, sizeof c->last_err, "write: %s %s", nout_errno_name(status), c->peer);
        c->body_left = 0;
        c->write_failed = true;
        return;
    }
    if (status < 0) {
        finish(c, 0, status, "write: %s %s", nout_errno_name(status), c->peer);
        return;
    }
    progress(c);
    pump_body(c);
}

static void write_raw(struct nhttp *c, const void *p, size_t n)
{
    if (!c->att || n == 0 || c->st == H_DONE || c->write_failed) return;
    struct wreq *w = malloc(sizeof(*w) + n);
    if (!w) {
        finish(c, 0, -ENOMEM, "write: out of memory");
        return;
    }
    memcpy(w->data, p, n);
    w->att = c->att;
    w->len = n;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->att->h, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        finish(c, 0, rc, "write: %s %s", nout_errno_name(rc), c->peer);
        return;
    }
    c->inflight += n;
}

static void flush_tls(struct nhttp *c)
{
    uint8_t chunk[16384];
    size_t n;
    while (c->st != H_DONE && (n = ntls_take_out(c->tls, chunk, sizeof chunk)) > 0)
        write_raw(c, chunk, n);
}

/* Plaintext out: through TLS for https. */
static void send_plain(struct nhttp *c, const void *p, size_t n)
{
    if (!c->tls) {
        write_raw(c, p, n);
        return;
    }
    if (ntls_write(c->tls, p, n) != 0) {
        fail_out(c, ntls_outcome(c->tls));
        return;
    }
    flush_tls(c);
}

/* Pull the streamed request body while the socket takes it. */
static void pump_body(struct nhttp *c)
{
    uint8_t buf[16384];
    while (c->st == H_WAIT && c->body_left > 0 && c->inflight < STREAM_INFLIGHT) {
        size_t cap = c->body_left < sizeof buf ? (size_t)c->body_left : sizeof buf, got = 0;
        int rc = c->body_fn(c->sud, buf, cap, &got);
        if (rc == -EAGAIN) return; /* nhttp_resume() */
        if (rc < 0 || got == 0 || got > cap) {
            finish(c, 0, rc < 0 ? rc : -EIO, "request body: %s",
                   rc < 0 ? nout_errno_name(rc) : "source ended early");
            return;
        }
        c->body_left -= got;
        send_plain(c, buf, got);
    }
}

void nhttp_resume(struct nhttp *c)
{
    if (c && c->st == H_WAIT && c->body_fn && c->body_left > 0) pump_body(c);
}

/* The connection is ready (TCP, and TLS for https): send the request, wait for the answer. */
static void send_request(struct nhttp *c)
{
    c->st = H_WAIT;
    uv_timer_stop(&c->deadline);
    uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->response_ms, 0);
    send_plain(c, c->req, c->req_len);
    if (c->body_fn) pump_body(c);
}

/* ---- reading ---------------------------------------------------------------------- */

int nhttp_parse_status(const char *p, size_t n)
{
    const char *eol = memchr(p, '\n', n);
    if (n >= 5 && memcmp(p, "HTTP/", 5) != 0) return -EPROTO;
    if (n < 5 && memcmp(p, "HTTP/", n) != 0) return -EPROTO;
    if (!eol) return n > 1024 ? -EPROTO : 0;
    /* HTTP/1.x SP 3DIGIT */
    size_t len = (size_t)(eol - p);
    if (len < 12 || p[5] != '1' || p[6] != '.' || p[8] != ' ') return -EPROTO;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') return -EPROTO;
        code = code * 10 + (p[i] - '0');
    }
    if (len > 12 && p[12] != ' ' && p[12] != '\r') return -EPROTO;
    return code >= 100 && code <= 599 ? code : -EPROTO;
}

/* ---- streamed response (data_fn) ---------------------------------------------------- */

/* Content-Length / Transfer-Encoding of a complete head (NUL-free scan of n bytes). */
static int parse_framing(struct nhttp *c, const char *h, size_t n)
{
    const char *end = h + n;
    for (const char *l = memchr(h, '\n', n); l && l + 1 < end;) {
        l++;
        const char *e = memchr(l, '\n', (size_t)(end - l));
        size_t len = e ? (size_t)(e - l) : (size_t)(end - l);
        if (len > 15 && strncasecmp(l, "Content-Length:", 15) == 0) {
            char num[24] = {0};
            const char *v = l + 15;
            while (v < l + len && (*v == ' ' || *v == '\t'))
                v++;
            size_t k = 0;
            while (v < l + len && *v >= '0' && *v <= '9' && k < sizeof num - 1)
                num[k++] = *v++;
            if (!k || c->clen >= 0) return -EPROTO;
            c->clen = (int64_t)strtoll(num, NULL, 10);
        } else if (len > 18 && strncasecmp(l, "Transfer-Encoding:", 18) == 0) {
            c->chunked = memmem(l, len, "chunked", 7) != NULL;
        }
        l = e;
    }
    if (c->chunked) c->clen = -1;
    return 0;
}

static void body_done(struct nhttp *c)
{
    finish(c, c->status, 0, "HTTP %d", c->status);
}

static bool deliver(struct nhttp *c, const char *p, size_t n)
{
    if (n == 0) return true;
    c->got_body += n;
    int rc = c->data_fn(c->sud, c->status, c->clen, (const uint8_t *)p, n);
    if (rc < 0) finish(c, c->status, rc, "response body: %s", nout_errno_name(rc));
    return c->st != H_DONE;
}

/* Chunked transfer coding: sizes in hex lines, data, CRLF, a 0 chunk, trailers, CRLF. */
static void chunked_input(struct nhttp *c, const char *p, size_t n)
{
    while (n > 0 && c->st != H_DONE) {
        if (c->ch_state == CH_DATA) {
            size_t k = n < c->ch_left ? n : (size_t)c->ch_left;
            if (!deliver(c, p, k)) return;
            p += k, n -= k, c->ch_left -= k;
            if (c->ch_left == 0) c->ch_state = CH_DATA_END;
            continue;
        }
        char ch = *p++;
        n--;
        if (ch != '\n') {
            if (ch != '\r' && c->ch_line_len < sizeof c->ch_line - 1)
                c->ch_line[c->ch_line_len++] = ch;
            continue;
        }
        c->ch_line[c->ch_line_len] = '\0';
        size_t linelen = c->ch_line_len;
        c->ch_line_len = 0;
        if (c->ch_state == CH_DATA_END) {
            c->ch_state = CH_SIZE;
        } else if (c->ch_state == CH_SIZE) {
            char *e = NULL;
            unsigned long long v = strtoull(c->ch_line, &e, 16);
            if (e == c->ch_line || (*e && *e != ';' && *e != ' ')) {
                finish(c, 0, -EPROTO, "response: bad chunk size");
                return;
            }
            c->ch_left = v;
            c->ch_state = v ? CH_DATA : CH_TRAILER;
        } else if (linelen == 0) { /* CH_TRAILER: the blank line ends the body */
            body_done(c);
            return;
        }
    }
}

static void body_input(struct nhttp *c, const char *p, size_t n)
{
    if (c->chunked) {
        chunked_input(c, p, n);
        return;
    }
    if (c->clen >= 0 && (uint64_t)c->clen - c->got_body < n)
        n = (size_t)((uint64_t)c->clen - c->got_body);
    if (!deliver(c, p, n)) return;
    if (c->clen >= 0 && c->got_body == (uint64_t)c->clen) body_done(c);
}

static void stream_input(struct nhttp *c, const char *p, size_t n, bool eof)
{
    if (c->head_seen) {
        body_input(c, p, n);
        if (eof && c->st != H_DONE) {
            if (c->clen < 0 && !c->chunked)
                body_done(c); /* delimited by the close */
            else
                finish(c, c->status, -EPROTO, "response: body truncated at %llu bytes (%s)",
                       (unsigned long long)c->got_body, c->peer);
        }
        return;
    }
    size_t room = c->max_resp - c->resp_len, k = n < room ? n : room;
    memcpy(c->resp + c->resp_len, p ? p : "", k);
    c->resp_len += k;
    int code = nhttp_parse_status(c->resp, c->resp_len);
    const char *he = c->resp_len >= 4 ? memmem(c->resp, c->resp_len, "\r\n\r\n", 4) : NULL;
    if (code < 0) {
        finish(c, 0, -EPROTO, "response: not HTTP/1.x from %s", c->peer);
        return;
    }
    if (!he) {
        if (eof && c->write_failed)
            finish(c, 0, -EPIPE, "%s", c->last_err);
        else if (eof)
            finish(c, 0, -EPROTO, "response: connection closed in the head (%s)", c->peer);
        else if (c->resp_len >= c->max_resp)
            finish(c, 0, -EMSGSIZE, "response: head over %zu bytes", c->max_resp);
        return;
    }
    size_t hlen = (size_t)(he - c->resp) + 4, rest = c->resp_len - hlen;
    if (code == 100) { /* 100 Continue: the real head follows */
        memmove(c->resp, c->resp + hlen, rest);
        c->resp_len = rest;
        if (rest || k < n) stream_input(c, p ? p + k : NULL, n - k, eof);
        return;
    }
    c->status = code;
    if (parse_framing(c, c->resp, hlen) < 0) {
        finish(c, 0, -EPROTO, "response: bad Content-Length (%s)", c->peer);
        return;
    }
    c->head_seen = true;
    int rc = c->data_fn(c->sud, code, c->clen, NULL, 0);
    if (rc < 0) {
        finish(c, code, rc, "response: %s", nout_errno_name(rc));
        return;
    }
    if (c->clen == 0 || code == 204 || code == 304) {
        body_done(c);
        return;
    }
    /* The body bytes that came with the head, then the rest of this read. */
    char *tail = c->resp + hlen;
    body_input(c, tail, rest);
    if (c->st != H_DONE && k < n) body_input(c, p + k, n - k);
    if (c->st != H_DONE && eof) stream_input(c, NULL, 0, true);
}

/* What arrived so far decides: a complete head (or EOF after the status line) ends it. */
static void check_response(struct nhttp *c, bool eof)
{
    if (c->data_fn) {
        stream_input(c, NULL, 0, eof);
        return;
    }
    int code = nhttp_parse_status(c->resp, c->resp_len);
    if (code < 0) {
        finish(c, 0, -EPROTO, "response: not HTTP/1.x from %s", c->peer);
        return;
    }
    bool head_done = c->resp_len >= 4 && memmem(c->resp, c->resp_len, "\r\n\r\n", 4) != NULL;
    if (code > 0 && (head_done || eof)) {
        finish(c, code, 0, "HTTP %d", code);
        return;
    }
    if (eof) {
        finish(c, 0, -EPROTO, "response: connection closed before the status line (%s)", c->peer);
        return;
    }
    if (c->resp_len >= c->max_resp)
        finish(c, 0, -EMSGSIZE, "response: head over %zu bytes", c->max_resp);
}

static void stream_input(struct nhttp *c, const char *p, size_t n, bool eof);

static void take_plain(struct nhttp *c, const char *p, size_t n)
{
    if (c->data_fn) {
        stream_input(c, p, n, false);
        return;
    }
    size_t room = c->max_resp - c->resp_len;
    if (n > room) n = room;
    memcpy(c->resp + c->resp_len, p, n);
    c->resp_len += n;
    check_response(c, false);
}

static void tls_input(struct nhttp *c)
{
    if (!ntls_handshake_done(c->tls)) {
        int rc = ntls_handshake(c->tls);
        flush_tls(c);
        if (rc == -EAGAIN || c->st == H_DONE) return;
        if (rc < 0) {
            fail_out(c, ntls_outcome(c->tls));
            return;
        }
        send_request(c);
        if (c->st == H_DONE) return;
    }
    for (;;) {
        char buf[4096];
        size_t got = 0;
        int rc = ntls_read(c->tls, buf, sizeof buf, &got);
        if (rc == -EPIPE) {
            check_response(c, true);
            return;
        }
        if (rc < 0) {
            fail_out(c, ntls_outcome(c->tls));
            return;
        }
        if (got == 0) return;
        if (c->st == H_WAIT) take_plain(c, buf, got);
        if (c->st == H_DONE) return;
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char slab[16384];
    (void)h;
    (void)hint;
    *b = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct att *a = s->data;
    struct nhttp *c = a->c;
    if (a->stale || c->st == H_DONE) return;
    if (nread == UV_EOF) {
        if (c->tls) {
            ntls_feed_eof(c->tls);
            if (!ntls_handshake_done(c->tls)) {
                finish(c, 0, -ECONNRESET, "tls: connection closed during the handshake (%s)",
                       c->peer);
                return;
            }
            tls_input(c);
            if (c->st != H_DONE) check_response(c, true);
        } else {
            check_response(c, true);
        }
        return;
    }
    if (nread < 0) {
        finish(c, 0, (int)nread, "read: %s %s", nout_errno_name((int)nread), c->peer);
        return;
    }
    if (nread == 0) return;
    progress(c);
    if (!c->tls) {
        if (c->st == H_WAIT) take_plain(c, b->base, (size_t)nread);
        return;
    }
    if (ntls_feed(c->tls, b->base, (size_t)nread) != 0) {
        finish(c, 0, -EMSGSIZE, "tls: too much input");
        return;
    }
    tls_input(c);
}

/* ---- connecting ------------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    struct nhttp *c = t->data;
    if (c->st == H_WAIT)
        finish(c, 0, -ETIMEDOUT, "response: timeout after %d ms (%s)", c->response_ms, c->peer);
    else if (c->st == H_RESOLVE)
        finish(c, 0, -ETIMEDOUT, "dns: timeout %s", c->url.host);
    else
        finish(c, 0, -ETIMEDOUT, "%s: timeout after %d ms (%s)", c->st == H_TLS ? "tls" : "connect",
               c->connect_ms, c->peer);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct att *a = req->data;
    struct nhttp *c = a->c;
    if (a->stale || c->st == H_DONE) return;
    if (status < 0) {
        snprintf(c->last_err, sizeof c->last_err, "connect: %s %s", nout_errno_name(status),
                 c->peer);
        drop_att(c);
        connect_next(c);
        return;
    }
    uv_read_start((uv_stream_t *)&a->h, on_alloc, on_read);
    if (!c->url.tls) {
        send_request(c);
        return;
    }
    char err[160];
    struct ntls_opts to = {.host = c->url.host, .ca_file = c->ca_file};
    c->tls = ntls_new(&to, err, sizeof err);
    if (!c->tls) {
        finish(c, 0, -EPROTO, "tls: %s", err);
        return;
    }
    c->st = H_TLS;
    int rc = ntls_handshake(c->tls);
    flush_tls(c);
    if (rc != -EAGAIN && rc < 0) fail_out(c, ntls_outcome(c->tls));
}

static void format_peer(struct nhttp *c, const struct sockaddr_storage *ss)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(s6, ip, sizeof ip);
        port = ntohs(s6->sin6_port);
        snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        uv_ip4_name(s4, ip, sizeof ip);
        port = ntohs(s4->sin_port);
        snprintf(c->peer, sizeof c->peer, "%s:%u", ip, port);
    }
}

static void connect_next(struct nhttp *c)
{
    while (c->st != H_DONE && c->next_addr < c->addrs.naddrs) {
        const struct sockaddr_storage *ss = &c->addrs.addrs[c->next_addr++];
        struct att *a = calloc(1, sizeof *a);
        if (!a) {
            finish(c, 0, -ENOMEM, "connect: out of memory");
            return;
        }
        format_peer(c, ss);
        uv_tcp_init(c->loop, &a->h);
        a->c = c;
        a->h.data = a;
        a->req.data = a;
        c->open++;
        c->att = a;
        uv_tcp_nodelay(&a->h, 1);
        int rc = uv_tcp_connect(&a->req, &a->h, (const struct sockaddr *)ss, on_connect);
        if (rc == 0) return;
        snprintf(c->last_err, sizeof c->last_err, "connect: %s %s", nout_errno_name(rc), c->peer);
        drop_att(c);
    }
    if (c->st != H_DONE)
        finish(c, 0, -ECONNREFUSED, "%s",
               c->last_err[0] ? c->last_err : "connect: no address to try");
}

static void on_resolved(void *ud, const struct ndns_result *res)
{
    struct nhttp *c = ud;
    c->dns = NULL;
    if (c->st == H_DONE) return;
    if (res->err < 0 || res->naddrs == 0) {
        finish(c, 0, res->err < 0 ? res->err : -ENOENT, "dns: %s %s",
               res->detail[0] ? res->detail : "no address", c->url.host);
        return;
    }
    c->addrs = *res;
    c->next_addr = 0;
    c->st = H_CONNECT;
    connect_next(c);
}

/* An IP literal needs no resolver: start from a timer callback like every other path. */
static void on_literal(uv_timer_t *t)
{
    struct nhttp *c = t->data;
    uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->connect_ms, 0);
    c->st = H_CONNECT;
    connect_next(c);
}

/* ---- the request ------------------------------------------------------------------ */

static bool header_ok(const char *h)
{
    const char *colon = strchr(h, ':');
    return colon && colon != h && !strpbrk(h, "\r\n") && strlen(h) < 1024;
}

static int build_request(struct nhttp *c, const struct nhttp_opts *o)
{
    char hostport[NURL_HOST_MAX + 16];
    bool dflt = c->url.port == (c->url.tls ? 443 : 80);
    if (c->url.ip_family == AF_INET6)
        snprintf(hostport, sizeof hostport, dflt ? "[%s]" : "[%s]:%u", c->url.host,
                 (unsigned)c->url.port);
    else
        snprintf(hostport, sizeof hostport, dflt ? "%s" : "%s:%u", c->url.host,
                 (unsigned)c->url.port);
    size_t cap = strlen(c->url.path) + strlen(hostport) + 256 + o->body_len;
    for (size_t i = 0; i < o->nheaders; i++)
        cap += strlen(o->headers[i]) + 2;
    c->req = malloc(cap);
    if (!c->req) return -ENOMEM;
    bool body = o->body_fn || o->body_len || strcmp(c->method, "GET") != 0;
    int n = snprintf(c->req, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wagate\r\nConnection: close\r\n",
                     c->method, c->url.path, hostport);
    size_t len = (size_t)n;
    if (body)
        len += (size_t)snprintf(
            c->req + len, cap - len, "Content-Type: %s\r\nContent-Length: %llu\r\n",
            o->content_type ? o->content_type : "application/json",
            (unsigned long long)(o->body_fn ? o->body_stream_len : o->body_len));
    for (size_t i = 0; i < o->nheaders; i++)
        len += (size_t)snprintf(c->req + len, cap - len, "%s\r\n", o->headers[i]);
    len += (size_t)snprintf(c->req + len, cap - len, "\r\n");
    if (o->body_len) memcpy(c->req + len, o->body, o->body_len);
    c->req_len = len + o->body_len;
    return 0;
}

int nhttp_post(uv_loop_t *loop, const struct nhttp_opts *o, nhttp_cb cb, void *ud,
               struct nhttp **out, char *err, size_t errlen)
{
    if (errlen) err[0] = '\0';
    if (!loop || !o || !o->url || !cb || !out) return -EINVAL;
    if (o->body_len > NHTTP_BODY_MAX) return -EMSGSIZE;
    if (o->nheaders > NHTTP_HEADERS_MAX || (o->body_len && !o->body)) return -EINVAL;
    if (o->body_fn && (o->body_len || !o->body_stream_len)) return -EINVAL;
    if (o->method && strcmp(o->method, "GET") != 0 && strcmp(o->method, "POST") != 0 &&
        strcmp(o->method, "PUT") != 0)
        return -EINVAL;
    for (size_t i = 0; i < o->nheaders; i++)
        if (!header_ok(o->headers[i])) {
            snprintf(err, errlen, "bad header line");
            return -EINVAL;
        }
    struct nhttp *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    int rc = nurl_parse_http(o->url, &c->url, err, errlen);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->loop = loop;
    c->cb = cb;
    c->ud = ud;
    snprintf(c->method, sizeof c->method, "%s", o->method ? o->method : "POST");
    c->body_fn = o->body_fn;
    c->body_left = o->body_fn ? o->body_stream_len : 0;
    c->data_fn = o->data_fn;
    c->sud = o->stream_ud;
    c->clen = -1;
    c->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->response_ms = o->response_timeout_ms > 0 ? o->response_timeout_ms : 10000;
    c->max_resp = o->max_response ? o->max_response : 16384;
    if (c->max_resp > NHTTP_RESPONSE_MAX) c->max_resp = NHTTP_RESPONSE_MAX;
    c->resp = malloc(c->max_resp);
    c->ca_file = o->ca_file && o->ca_file[0] ? strdup(o->ca_file) : NULL;
    snprintf(c->peer, sizeof c->peer, "%.60s", c->url.host);
    if (!c->resp || (o->ca_file && o->ca_file[0] && !c->ca_file) || build_request(c, o) < 0) {
        free(c->resp);
        free(c->ca_file);
        free(c->req);
        free(c);
        return -ENOMEM;
    }
    uv_timer_init(loop, &c->deadline);
    c->deadline.data = c;
    c->open = 1;
    if (c->url.ip_family) {
        struct sockaddr_storage *ss = &c->addrs.addrs[0];
        if (c->url.ip_family == AF_INET6)
            uv_ip6_addr(c->url.host, c->url.port, (struct sockaddr_in6 *)ss);
        else
            uv_ip4_addr(c->url.host, c->url.port, (struct sockaddr_in *)ss);
        c->addrs.naddrs = 1;
        uv_timer_start(&c->deadline, on_literal, 0, 0);
    } else {
        struct ndns_opts dop = {.servers = o->dns_servers, .nservers = o->ndns_servers};
        c->st = H_RESOLVE;
        rc = ndns_resolve(loop, &dop, c->url.host, c->url.port, on_resolved, c, &c->dns, err,
                          errlen);
        if (rc < 0) {
            c->st = H_DONE;
            c->cancelled = true;
            uv_close((uv_handle_t *)&c->deadline, timer_closed);
            return rc;
        }
        uv_timer_start(&c->deadline, on_deadline, (uint64_t)c->connect_ms, 0);
    }
    *out = c;
    return 0;
}

void nhttp_cancel(struct nhttp *c)
{
    if (!c || c->st == H_DONE) return;
    c->cancelled = true;
    finish(c, 0, -ECANCELED, "cancelled");
}
