/* SPDX-License-Identifier: MIT */
/* test_httpc.c -- net/httpc against a server of the test's own on the same loop: the request
 * as sent (headers, body), the status, and the caps: response timeout, response size, EOF,
 * garbage, a refused connection, cancel, body size; the streaming mode: a body pulled in
 * pieces (with -EAGAIN and nhttp_resume), response bodies with Content-Length (100 Continue
 * first), chunked, close-delimited and truncated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "loop.h"
#include "net/httpc.h"

enum mode {
    M_OK,
    M_SILENT,
    M_HUGE,
    M_CLOSE,
    M_GARBAGE,
    M_STATUS_EOF,
    M_CHUNKED,
    M_LENGTH,
    M_CLOSE_DELIM,
    M_SHORT
};

struct srv {
    uv_loop_t loop;
    uv_tcp_t listener;
    int port;
    enum mode mode;
    char req[8192];
    size_t req_len;
    int accepted;
};

struct peer {
    uv_tcp_t h;
    struct srv *s;
    bool answered;
};

static struct srv g;

static void peer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void send_text(struct peer *p, const char *t, size_t n)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(n);
    memcpy(copy, t, n);
    w->data = copy;
    uv_buf_t b = uv_buf_init(copy, (unsigned)n);
    assert_int_equal(uv_write(w, (uv_stream_t *)&p->h, &b, 1, written), 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(hint);
    b->len = hint;
}

/* The whole request is in: headers and Content-Length bytes of body. */
static bool request_complete(const struct srv *s)
{
    const char *end = memmem(s->req, s->req_len, "\r\n\r\n", 4);
    if (!end) return false;
    const char *cl = strstr(s->req, "Content-Length: ");
    size_t n = cl ? strtoul(cl + 16, NULL, 10) : 0;
    return s->req_len >= (size_t)(end + 4 - s->req) + n;
}

static void on_peer_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct peer *p = st->data;
    struct srv *s = p->s;
    if (n > 0 && s->req_len + (size_t)n < sizeof s->req) {
        memcpy(s->req + s->req_len, b->base, (size_t)n);
        s->req_len += (size_t)n;
        s->req[s->req_len] = 0;
    }
    free(b->base);
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)&p->h)) uv_close((uv_handle_t *)&p->h, peer_closed);
        return;
    }
    if (p->answered || !request_complete(s)) return;
    p->answered = true;
    static char huge[40000];
    switch (s->mode) {
    case M_OK:
        send_text(p, "HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n", 38);
        break;
    case M_SILENT:
        break;
    case M_HUGE:
        memset(huge, 'a', sizeof huge);
        memcpy(huge, "HTTP/1.1 200 OK\r\nX-Pad: ", 24);
        send_text(p, huge, sizeof huge);
        break;
    case M_CLOSE:
        uv_close((uv_handle_t *)&p->h, peer_closed);
        break;
    case M_GARBAGE:
        send_text(p, "SSH-2.0-OpenSSH\r\n", 17);
        break;
    case M_STATUS_EOF:
        send_text(p, "HTTP/1.1 503 Busy\r\n", 19);
        uv_close((uv_handle_t *)&p->h, peer_closed);
        break;
    case M_CHUNKED: {
        static const char t[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5\r\nhello\r\n1;ext=1\r\n \r\n";
        send_text(p, t, sizeof t - 1);
        static const char t2[] = "6\r\nworld!\r\n0\r\nX-T: 1\r\n\r\n";
        send_text(p, t2, sizeof t2 - 1);
        break;
    }
    case M_LENGTH: {
        static const char t[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                                "Content-Length: 11\r\n\r\nhel";
        send_text(p, t, sizeof t - 1);
        send_text(p, "lo world", 8);
        break;
    }
    case M_CLOSE_DELIM:
    case M_SHORT: {
        const char *t = s->mode == M_SHORT ? "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nabc"
                                           : "HTTP/1.1 200 OK\r\n\r\nabc";
        send_text(p, t, strlen(t));
        uv_close((uv_handle_t *)&p->h, peer_closed);
        break;
    }
    }
}

static void on_conn(uv_stream_t *l, int status)
{
    assert_int_equal(status, 0);
    struct peer *p = calloc(1, sizeof *p);
    p->s = &g;
    p->h.data = p;
    uv_tcp_init(&g.loop, &p->h);
    assert_int_equal(uv_accept(l, (uv_stream_t *)&p->h), 0);
    g.accepted++;
    uv_read_start((uv_stream_t *)&p->h, alloc_cb, on_peer_read);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->data && h != (uv_handle_t *)&g.listener ? peer_closed : NULL);
}

static int setup(void **state)
{
    (void)state;
    memset(&g, 0, sizeof g);
    uv_loop_init(&g.loop);
    uv_tcp_init(&g.loop, &g.listener);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&g.listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&g.listener, 16, on_conn), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&g.listener, (struct sockaddr *)&got, &len);
    g.port = ntohs(got.sin_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uv_walk(&g.loop, close_walk, NULL);
    loop_run_for(&g.loop, 50);
    assert_int_equal(uv_loop_close(&g.loop), 0);
    return 0;
}

struct res {
    int calls;
    struct nhttp_result r;
};

static void on_res(void *ud, const struct nhttp_result *r)
{
    struct res *x = ud;
    x->calls++;
    x->r = *r;
}

static int post(const char *url, const char *body, int response_ms, size_t max_resp, struct res *x)
{
    const char *hdr[] = {"X-Wagate-Delivery: wh_test", "X-Wagate-Attempt: 3"};
    struct nhttp_opts o = {.url = url,
                           .headers = hdr,
                           .nheaders = 2,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .connect_timeout_ms = 2000,
                           .response_timeout_ms = response_ms,
                           .max_response = max_resp};
    struct nhttp *h = NULL;
    char err[160];
    memset(x, 0, sizeof *x);
    int r = nhttp_post(&g.loop, &o, on_res, x, &h, err, sizeof err);
    if (r < 0) return r;
    assert_int_equal(x->calls, 0); /* never from nhttp_post itself */
    loop_run_until(&g.loop, &x->calls, 1, 5000);
    return 0;
}

static void url(char *out, size_t n, const char *host, const char *path)
{
    snprintf(out, n, "http://%s:%d%s", host, g.port, path);
}

static void test_ok_and_request(void **state)
{
    (void)state;
    char u[128];
    struct res x;
    url(u, sizeof u, "127.0.0.1", "/in?x=1");
    assert_int_equal(post(u, "{\"a\":1}", 2000, 0, &x), 0);
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.r.status, 204);
    assert_int_equal(x.r.err, 0);
    assert_string_equal(x.r.detail, "HTTP 204");
    assert_non_null(strstr(g.req, "POST /in?x=1 HTTP/1.1\r\n"));
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", g.port);
    assert_non_null(strstr(g.req, host));
    assert_non_null(strstr(g.req, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(g.req, "\r\nContent-Length: 7\r\n"));
    assert_non_null(strstr(g.req, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(g.req, "\r\nX-Wagate-Delivery: wh_test\r\n"));
    assert_non_null(strstr(g.req, "\r\nX-Wagate-Attempt: 3\r\n"));
    assert_non_null(strstr(g.req, "\r\n\r\n{\"a\":1}"));
    assert_int_equal(g.req_len, (size_t)(strstr(g.req, "\r\n\r\n") - g.req) + 4 + 7);
}

static void test_name_through_dns(void **state)
{
    (void)state;
    char u[128];
    struct res x;
    url(u, sizeof u, "localhost", "/"); /* c-ares answers from /etc/hosts; ::1 may come first */
    assert_int_equal(post(u, "{}", 2000, 0, &x), 0);
    assert_int_equal(x.r.status, 204);
}

static void test_response_timeout(void **state)
{
    (void)state;
    char u[128];
    struct res x;
    g.mode = M_SILENT;
    url(u, sizeof u, "127.0.0.1", "/");
    uint64_t t0 = uv_hrtime();
    assert_int_equal(post(u, "{}", 300, 0, &x), 0);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.r.status, 0);
    assert_int_equal(x.r.err, -ETIMEDOUT);
    assert_non_null(strstr(x.r.detail, "response: timeout after 300 ms"));
    assert_true(ms >= 290 && ms < 2000);
}

static void test_response_cap(void **state)
{
    (void)state;
    char u[128];
    struct res x;
    g.mode = M_HUGE;
    url(u, sizeof u, "127.0.0.1", "/");
    assert_int_equal(post(u, "{}", 2000, 1024, &x), 0);
    assert_int_equal(x.r.status, 0);
    assert_int_equal(x.r.err, -EMSGSIZE);
    assert_non_null(strstr(x.r.detail, "over 1024 bytes"));
}

static void test_bad_answers(void **state)
{
    (void)state;
    char u[128];
    struct res x;
    url(u, sizeof u, "127.0.0.1", "/");
    g.mode = M_CLOSE;
    assert_int_equal(post(u, "{}", 2000, 0, &x), 0);
    assert_int_equal(x.r.status, 0);
    assert_int_equal(x.r.err, -EPROTO);
    g.mode = M_GARBAGE;
    assert_int_equal(post(u, "{}", 2000, 0, &x), 0);
    assert_int_equal(x.r.err, -EPROTO);
    assert_non_null(strstr(x.r.detail, "not HTTP/1.x"));
    g.mode = M_STATUS_EOF; /* a status line then EOF: the status counts */
    assert_int_equal(post(u, "{}", 2000, 0, &x), 0);
    assert_int_equal(x.r.status, 503);
}

static void test_refused_and_args(void **state)
{
    (void)state;
    /* a port nobody listens on: bind one, close it */
    uv_tcp_t t;
    uv_tcp_init(&g.loop, &t);
    struct sockaddr_in a, got;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    int len = sizeof got;
    uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len);
    uv_close((uv_handle_t *)&t, NULL);
    loop_run_for(&g.loop, 10);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(got.sin_port));
    struct res x;
    assert_int_equal(post(u, "{}", 2000, 0, &x), 0);
    assert_int_equal(x.r.status, 0);
    assert_int_equal(x.r.err, -ECONNREFUSED);
    assert_non_null(strstr(x.r.detail, "connect: ECONNREFUSED 127.0.0.1:"));

    char err[160];
    struct nhttp *h;
    struct nhttp_opts o = {.url = "ws://x/"};
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, &x, &h, err, sizeof err), -EINVAL);
    o.url = u;
    o.body = "x";
    o.body_len = NHTTP_BODY_MAX + 1;
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, &x, &h, err, sizeof err), -EMSGSIZE);
    const char *bad[] = {"X-Evil: a\r\nInjected: b"};
    o.body_len = 1;
    o.headers = bad;
    o.nheaders = 1;
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, &x, &h, err, sizeof err), -EINVAL);
}

static void test_cancel(void **state)
{
    (void)state;
    char u[128];
    url(u, sizeof u, "127.0.0.1", "/");
    g.mode = M_SILENT;
    struct res x = {0};
    struct nhttp_opts o = {.url = u, .body = "{}", .body_len = 2, .response_timeout_ms = 200};
    struct nhttp *h = NULL;
    char err[160];
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, &x, &h, err, sizeof err), 0);
    loop_run_until(&g.loop, &g.accepted, 1, 2000);
    nhttp_cancel(h);
    loop_run_for(&g.loop, 400); /* past the deadline: still no callback */
    assert_int_equal(x.calls, 0);
}

/* ---- streaming ---- */

struct strm {
    char got[256];
    size_t got_len;
    int heads, status;
    int64_t clen;
    size_t body_off, body_len;
    int eagain_at; /* return -EAGAIN once when body_off reaches this */
    struct nhttp *h;
    uv_timer_t t;
};

static int s_data(void *ud, int status, int64_t clen, const uint8_t *p, size_t n)
{
    struct strm *x = ud;
    if (!p) {
        x->heads++;
        x->status = status;
        x->clen = clen;
        return 0;
    }
    assert_true(x->got_len + n < sizeof x->got);
    memcpy(x->got + x->got_len, p, n);
    x->got_len += n;
    return 0;
}

static void s_resume(uv_timer_t *t)
{
    struct strm *x = t->data;
    nhttp_resume(x->h);
}

/* The request body: "0123456789" repeated, 100 bytes per pull; -EAGAIN once. */
static int s_body(void *ud, uint8_t *buf, size_t cap, size_t *got)
{
    struct strm *x = ud;
    if (x->eagain_at >= 0 && x->body_off >= (size_t)x->eagain_at) {
        x->eagain_at = -1;
        uv_timer_start(&x->t, s_resume, 20, 0);
        return -EAGAIN;
    }
    size_t k = cap < 100 ? cap : 100;
    for (size_t i = 0; i < k; i++)
        buf[i] = (uint8_t)('0' + (x->body_off + i) % 10);
    x->body_off += k;
    *got = k;
    return 0;
}

static void run_stream(enum mode m, const char *method, size_t body_len, struct strm *x,
                       struct res *r)
{
    char u[128];
    url(u, sizeof u, "127.0.0.1", "/s");
    g.mode = m;
    memset(x, 0, sizeof *x);
    x->eagain_at = body_len ? 250 : -1;
    uv_timer_init(&g.loop, &x->t);
    x->t.data = x;
    struct nhttp_opts o = {.url = u,
                           .method = method,
                           .connect_timeout_ms = 2000,
                           .response_timeout_ms = 2000,
                           .body_fn = body_len ? s_body : NULL,
                           .body_stream_len = body_len,
                           .data_fn = s_data,
                           .stream_ud = x};
    char err[160];
    memset(r, 0, sizeof *r);
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, r, &x->h, err, sizeof err), 0);
    loop_run_until(&g.loop, &r->calls, 1, 5000);
    assert_int_equal(r->calls, 1);
    uv_close((uv_handle_t *)&x->t, NULL);
    loop_run_for(&g.loop, 20); /* the timer lives in the caller's frame: close it for real */
}

static void test_stream_body_out(void **state)
{
    (void)state;
    struct strm x;
    struct res r;
    run_stream(M_LENGTH, "PUT", 1234, &x, &r);
    assert_int_equal(r.r.err, 0);
    assert_int_equal(r.r.status, 200);
    assert_non_null(strstr(g.req, "PUT /s HTTP/1.1\r\n"));
    assert_non_null(strstr(g.req, "Content-Length: 1234\r\n"));
    const char *b = strstr(g.req, "\r\n\r\n") + 4;
    assert_int_equal(strlen(b), 1234); /* all of it, in order, across the -EAGAIN pause */
    for (size_t i = 0; i < 1234; i++)
        assert_int_equal(b[i], '0' + (int)(i % 10));
    /* The 100 Continue head is skipped; the 200's body arrives whole. */
    assert_int_equal(x.heads, 1);
    assert_int_equal(x.clen, 11);
    assert_int_equal(x.got_len, 11);
    assert_memory_equal(x.got, "hello world", 11);
}

static void test_stream_bodies_in(void **state)
{
    (void)state;
    struct strm x;
    struct res r;
    run_stream(M_CHUNKED, "GET", 0, &x, &r);
    assert_int_equal(r.r.err, 0);
    assert_int_equal(r.r.status, 200);
    assert_null(strstr(g.req, "Content-Length")); /* a GET without a body has none */
    assert_int_equal(x.clen, -1);
    assert_int_equal(x.got_len, 12);
    assert_memory_equal(x.got, "hello world!", 12);
    g.req_len = 0;
    run_stream(M_CLOSE_DELIM, "GET", 0, &x, &r);
    assert_int_equal(r.r.err, 0);
    assert_int_equal(x.got_len, 3);
    assert_memory_equal(x.got, "abc", 3);
    g.req_len = 0;
    run_stream(M_SHORT, "GET", 0, &x, &r);
    assert_int_equal(r.r.err, -EPROTO); /* 3 of 99 bytes, then the close */
    assert_non_null(strstr(r.r.detail, "truncated"));
    /* A streamed body needs a length and no in-memory body. */
    char u[128];
    url(u, sizeof u, "127.0.0.1", "/s");
    struct nhttp_opts o = {.url = u, .body_fn = s_body};
    struct nhttp *h = NULL;
    char err[64];
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, &r, &h, err, sizeof err), -EINVAL);
    o.method = "DELETE";
    o.body_fn = NULL;
    assert_int_equal(nhttp_post(&g.loop, &o, on_res, &r, &h, err, sizeof err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ok_and_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_through_dns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_body_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_bodies_in, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
