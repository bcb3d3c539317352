/* SPDX-License-Identifier: MIT */
/* mhttp.c -- HTTPS transport of the media host: TLS, one request head, streamed bodies. */
#include "mhttp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/http.h"
#include "core/log.h"
#include "net/tls.h"

enum mstate { M_HEAD, M_BODY, M_DONE };

struct mhttp_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    int open;
    bool closing, replied, done_called, streaming;
    enum mstate st;
    struct ntls *tls;
    const struct mhttp_handler *h;
    void *ud;
    struct mhttp_conn *prev, *next;
    char head[MHTTP_HEAD_MAX + 1];
    size_t head_len;
    uint64_t body_left;
    size_t pending; /* bytes handed to uv_write, not yet written */
    int fd;         /* streamed response file, -1 = none */
    uint64_t f_off, f_left;
};

struct wreq {
    uv_write_t req;
    struct mhttp_conn *c;
    size_t len;
    uint8_t data[];
};

static uv_tcp_t *g_listener;
static struct fw_server *g_srv;
static const struct mhttp_handler *g_h;
static struct mhttp_conn *g_conns;
static size_t g_nconns;

static void pump(struct mhttp_conn *c);
static void mclose(struct mhttp_conn *c);

static void on_closed(uv_handle_t *h)
{
    struct mhttp_conn *c = h->data;
    if (--c->open > 0) return;
    ntls_free(c->tls);
    if (c->fd >= 0) close(c->fd);
    free(c);
}

static void close_handles(struct mhttp_conn *c)
{
    uv_timer_stop(&c->timer);
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_closed);
}

static void unlink_conn(struct mhttp_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (g_conns == c)
        g_conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    g_nconns--;
}

static void on_shut(uv_shutdown_t *r, int st)
{
    (void)st;
    close_handles(r->data);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct mhttp_conn *c = w->c;
    c->pending -= w->len;
    free(w);
    if (status < 0) {
        mclose(c);
        return;
    }
    if (c->closing) return;
    uv_timer_again(&c->timer);
    pump(c);
}

/* The codec's ciphertext to the socket. */
static int flush_tls(struct mhttp_conn *c)
{
    size_t n = ntls_pending_out(c->tls);
    if (n == 0 || uv_is_closing((uv_handle_t *)&c->tcp)) return 0;
    struct wreq *w = malloc(sizeof(*w) + n);
    if (!w) return -ENOMEM;
    w->c = c;
    w->len = ntls_take_out(c->tls, w->data, n);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(w);
        return rc;
    }
    c->pending += w->len;
    return 0;
}

static int send_plain(struct mhttp_conn *c, const void *p, size_t n)
{
    int rc = ntls_write(c->tls, p, n);
    return rc < 0 ? rc : flush_tls(c);
}

static void call_done(struct mhttp_conn *c)
{
    if (c->done_called) return;
    c->done_called = true;
    if (g_h->done) g_h->done(c);
}

/* Graceful end: close_notify, FIN once written, then the handles. */
static void mclose(struct mhttp_conn *c)
{
    if (c->closing) return;
    c->closing = true;
    call_done(c);
    unlink_conn(c);
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (ntls_handshake_done(c->tls)) (void)ntls_shutdown(c->tls);
    (void)flush_tls(c);
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shut) < 0) close_handles(c);
}

/* Stream the next file piece when the output has room; close when all is written. */
static void pump(struct mhttp_conn *c)
{
    static uint8_t chunk[MHTTP_CHUNK];
    while (c->streaming && c->f_left > 0 && c->pending < 4 * MHTTP_CHUNK) {
        size_t want = c->f_left < sizeof(chunk) ? (size_t)c->f_left : sizeof(chunk);
        ssize_t got = pread(c->fd, chunk, want, (off_t)c->f_off);
        if (got <= 0 || send_plain(c, chunk, (size_t)got) < 0) {
            mclose(c);
            return;
        }
        c->f_off += (uint64_t)got;
        c->f_left -= (uint64_t)got;
    }
    if (c->replied && c->pending == 0 && (!c->streaming || c->f_left == 0)) mclose(c);
}

static void reply_head(struct mhttp_conn *c, int status, const char *ctype, uint64_t len,
                       const char *extra)
{
    char h[1024];
    int n = snprintf(h, sizeof(h),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\n"
                     "Connection: close\r\n%s\r\n",
                     status, http_status_reason(status), ctype, (unsigned long long)len,
                     extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof(h) || send_plain(c, h, (size_t)n) < 0) mclose(c);
}

void mhttp_reply(struct mhttp_conn *c, int status, const char *ctype, const char *body)
{
    if (c->replied || c->closing) return;
    c->replied = true;
    c->st = M_DONE;
    size_t n = body ? strlen(body) : 0;
    reply_head(c, status, ctype ? ctype : "application/json", n, NULL);
    if (!c->closing && n && send_plain(c, body, n) < 0) mclose(c);
    if (!c->closing) pump(c);
}

void mhttp_reply_file(struct mhttp_conn *c, int status, int fd, uint64_t off, uint64_t len,
                      uint64_t send_max, const char *extra_headers)
{
    if (c->replied || c->closing) {
        close(fd);
        return;
    }
    c->replied = true;
    c->st = M_DONE;
    c->fd = fd;
    c->f_off = off;
    c->f_left = send_max < len ? send_max : len;
    c->streaming = true;
    reply_head(c, status, "application/octet-stream", len, extra_headers);
    if (!c->closing) pump(c);
}

void *mhttp_ud(struct mhttp_conn *c)
{
    return c->ud;
}

void mhttp_set_ud(struct mhttp_conn *c, void *ud)
{
    c->ud = ud;
}

/* ---- request head ---- */

static void trim(char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
    char *e = *s + strlen(*s);
    while (e > *s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
}

/* 0 and *r, or the HTTP status to answer. */
static int parse_head(char *head, struct mhttp_req *r, bool *expect)
{
    memset(r, 0, sizeof(*r));
    *expect = false;
    char *save = NULL, *line = strtok_r(head, "\n", &save);
    if (!line) return 400;
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - line) >= sizeof(r->method)) return 400;
    if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0) return 505;
    memcpy(r->method, line, (size_t)(sp1 - line));
    *sp2 = '\0';
    char *target = sp1 + 1, *q = strchr(target, '?');
    if (q) *q++ = '\0';
    if (strlen(target) >= sizeof(r->path) || (q && strlen(q) >= sizeof(r->query))) return 414;
    snprintf(r->path, sizeof(r->path), "%s", target);
    snprintf(r->query, sizeof(r->query), "%s", q ? q : "");
    bool have_len = false;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        char *v = colon + 1;
        trim(&v);
        if (strcasecmp(line, "Content-Length") == 0) {
            char *end = NULL;
            unsigned long long n = strtoull(v, &end, 10);
            if (have_len || !*v || *end || n > (1ull << 40)) return 400;
            r->content_length = n;
            have_len = true;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            return 411;
        } else if (strcasecmp(line, "Expect") == 0 && strcasecmp(v, "100-continue") == 0) {
            *expect = true;
        } else if (strcasecmp(line, "Range") == 0) {
            snprintf(r->range, sizeof(r->range), "%s", v);
        }
    }
    return 0;
}

static void body_bytes(struct mhttp_conn *c, const uint8_t *p, size_t n)
{
    if (n > c->body_left) n = (size_t)c->body_left;
    if (n && g_h->on_body(c, p, n) < 0) {
        mhttp_reply(c, 500, NULL, "{\"error\":\"body\"}");
        return;
    }
    c->body_left -= n;
    if (c->body_left == 0 && !c->replied) {
        c->st = M_DONE;
        g_h->on_end(c);
        if (!c->replied) mhttp_reply(c, 500, NULL, "{\"error\":\"no reply\"}");
    }
}

static void head_bytes(struct mhttp_conn *c, const uint8_t *p, size_t n)
{
    size_t room = MHTTP_HEAD_MAX - c->head_len, take = n < room ? n : room;
    memcpy(c->head + c->head_len, p, take);
    size_t old = c->head_len;
    c->head_len += take;
    c->head[c->head_len] = '\0';
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end) {
        if (c->head_len == MHTTP_HEAD_MAX) mhttp_reply(c, 431, NULL, "{\"error\":\"head\"}");
        return;
    }
    size_t head_end = (size_t)(end - c->head) + 4, used = head_end - old;
    *end = '\0';
    struct mhttp_req r;
    bool expect = false;
    int st = parse_head(c->head, &r, &expect);
    if (st) {
        mhttp_reply(c, st, NULL, "{\"error\":\"bad request\"}");
        return;
    }
    c->st = M_BODY;
    c->body_left = r.content_length;
    if (g_h->on_head(c, &r) < 0) mhttp_reply(c, 500, NULL, "{\"error\":\"handler\"}");
    if (c->replied || c->closing) return;
    if (expect && c->body_left) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send_plain(c, cont, sizeof(cont) - 1) < 0) {
            mclose(c);
            return;
        }
    }
    body_bytes(c, p + used, n - used);
}

static void feed_plain(struct mhttp_conn *c, const uint8_t *p, size_t n)
{
    if (c->st == M_HEAD)
        head_bytes(c, p, n);
    else if (c->st == M_BODY)
        body_bytes(c, p, n);
}

static void feed_tls(struct mhttp_conn *c, const uint8_t *p, size_t n)
{
    static uint8_t pt[65536];
    int rc = ntls_feed(c->tls, p, n);
    if (rc == 0 && !ntls_handshake_done(c->tls)) rc = ntls_handshake(c->tls);
    (void)flush_tls(c);
    while (rc == 0 && !c->closing && !c->replied) {
        size_t got = 0;
        rc = ntls_read(c->tls, pt, sizeof(pt), &got);
        (void)flush_tls(c);
        if (rc < 0 || got == 0) break;
        feed_plain(c, pt, got);
    }
    if (rc < 0 && rc != -EAGAIN && !c->closing) {
        log_debug("fakewa", "media", "%s", ntls_outcome(c->tls)->text);
        mclose(c);
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
    struct mhttp_conn *c = st->data;
    if (nread < 0) {
        if (c->replied && c->pending) return; /* half-close: finish writing */
        mclose(c);
        return;
    }
    if (c->closing || nread == 0) return;
    uv_timer_again(&c->timer);
    feed_tls(c, (const uint8_t *)b->base, (size_t)nread);
}

static void on_timer(uv_timer_t *t)
{
    log_info("fakewa", "media", "connection idle, closed");
    mclose(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
    if (status < 0) return;
    struct mhttp_conn *c = calloc(1, sizeof(*c));
    if (!c) return;
    char err[128];
    c->fd = -1;
    c->h = g_h;
    uv_tcp_init(g_srv->loop, &c->tcp);
    uv_timer_init(g_srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open = 2;
    c->next = g_conns;
    if (g_conns) g_conns->prev = c;
    g_conns = c;
    g_nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 || g_nconns > MHTTP_MAX_CONNS ||
        !(c->tls = ntls_accept_new(g_srv->tls, err, sizeof(err)))) {
        c->closing = c->done_called = true;
        unlink_conn(c);
        close_handles(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timer, MHTTP_IDLE_MS, MHTTP_IDLE_MS);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) mclose(c);
}

int mhttp_listen(struct fw_server *s, const struct mhttp_handler *h, const char *host, int port,
                 int *bound)
{
    struct sockaddr_storage ss;
    if (!s->tls) {
        snprintf(s->last_error, sizeof(s->last_error), "media host: no TLS configuration");
        return -EINVAL;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(s->last_error, sizeof(s->last_error), "bad media address %s", host);
        return -EINVAL;
    }
    uv_tcp_t *t = calloc(1, sizeof(*t));
    if (!t) return -ENOMEM;
    uv_tcp_init(s->loop, t);
    int rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)t, 128, on_connection);
    if (rc < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "listen %s:%d: %s", host, port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)t, (uv_close_cb)free);
        return rc;
    }
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(t, (struct sockaddr *)&got, &len);
    *bound = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                             : ((struct sockaddr_in *)&got)->sin_port);
    g_listener = t;
    g_srv = s;
    g_h = h;
    return 0;
}

void mhttp_shutdown(void)
{
    while (g_conns) {
        struct mhttp_conn *c = g_conns;
        call_done(c);
        c->closing = true;
        unlink_conn(c);
        close_handles(c);
    }
    if (g_listener) uv_close((uv_handle_t *)g_listener, (uv_close_cb)free);
    g_listener = NULL;
}
