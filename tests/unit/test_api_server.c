/* SPDX-License-Identifier: MIT */
/* test_api_server.c -- the control API server end to end, in process: the
 * server runs on a uv loop on 127.0.0.1 port 0, and the test drives it with
 * plain non-blocking sockets, pumping the loop (UV_RUN_NOWAIT) while it waits. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/events.h"
#include "api/guard.h"
#include "api/metrics.h"
#include "api/server.h"
#include "core/log.h"

#define TOKEN "test-token-0123456789abcdef"

static uv_loop_t loop;
static struct api_server *srv;
static int port;

/* ---- loop + client helpers ---------------------------------------------- */

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void pump(int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    do {
        uv_run(&loop, UV_RUN_NOWAIT);
        poll(NULL, 0, 1);
    } while (now_ms() < end);
}

struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
    bool eof;
};

/* A connection from 127.0.0.<from> (1..254; every 127/8 address is loopback on Linux),
 * without pumping the loop. */
static struct conn *conn_start_from(int from)
{
    struct conn *c = calloc(1, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    if (from != 1) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)from);
        assert_int_equal(bind(c->fd, (struct sockaddr *)&src, sizeof(src)), 0);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    int r = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
    assert_true(r == 0 || errno == EINPROGRESS);
    return c;
}

static struct conn *conn_open_from(int from)
{
    struct conn *c = conn_start_from(from);
    pump(5); /* let the server accept */
    return c;
}

static struct conn *conn_open(void)
{
    return conn_open_from(1);
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c);
}

static void conn_send(struct conn *c, const void *p, size_t n)
{
    const char *s = p;
    uint64_t end = now_ms() + 2000;
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pump(1);
            assert_true(now_ms() < end);
        } else {
            fail_msg("send: %s", strerror(errno));
        }
    }
    pump(2);
}

static void conn_sends(struct conn *c, const char *s)
{
    conn_send(c, s, strlen(s));
}

/* Read what is available into the buffer (pumping the loop). */
static bool loop_alive;

static void conn_fill(struct conn *c)
{
    if (loop_alive) uv_run(&loop, UV_RUN_NOWAIT);
    bool got = false;
    while (c->len < sizeof(c->buf)) {
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
            got = true;
            continue;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET)) c->eof = true;
        break;
    }
    if (!got) poll(NULL, 0, 1);
}

static void conn_consume(struct conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

struct resp {
    int status;
    char head[2048];
    char body[8192];
    size_t body_len;
};

/* Wait for one complete response (Content-Length framed). */
static bool read_response(struct conn *c, struct resp *r, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    memset(r, 0, sizeof(*r));
    while (now_ms() < end) {
        conn_fill(c);
        char *he = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (he) {
            size_t hl = (size_t)(he - c->buf) + 4;
            snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, c->buf);
            const char *cl = strcasestr(r->head, "Content-Length:");
            size_t bl = cl ? strtoul(cl + 15, NULL, 10) : 0;
            if (c->len >= hl + bl) {
                r->status = atoi(r->head + 9);
                assert_true(bl < sizeof(r->body));
                memcpy(r->body, c->buf + hl, bl);
                r->body_len = bl;
                conn_consume(c, hl + bl);
                return true;
            }
        }
        if (c->eof) return false;
    }
    return false;
}

static bool wait_closed(struct conn *c, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (now_ms() < end && !c->eof) {
        conn_fill(c);
        c->len = 0; /* discard */
    }
    return c->eof;
}

static struct resp request(struct conn *c, const char *raw)
{
    struct resp r;
    conn_sends(c, raw);
    assert_true(read_response(c, &r, 2000));
    return r;
}

static struct resp get(const char *path, const char *token)
{
    char raw[1024];
    snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\n%s%s%sConnection: close\r\n\r\n",
             path, token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    struct conn *c = conn_open();
    struct resp r = request(c, raw);
    conn_free(c);
    return r;
}

/* ---- WebSocket client side ------------------------------------------------ */

static void ws_send(struct conn *c, int op, const void *p, size_t n)
{
    uint8_t f[256];
    assert_true(n < 126);
    const uint8_t key[4] = {1, 2, 3, 4};
    f[0] = (uint8_t)(0x80 | op);
    f[1] = (uint8_t)(0x80 | n);
    memcpy(f + 2, key, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = ((const uint8_t *)p)[i] ^ key[i % 4];
    conn_send(c, f, 6 + n);
}

/* Read one server frame; payload NUL-terminated into out. Returns opcode or -1. */
static int ws_read(struct conn *c, char *out, size_t outlen, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    do {
        conn_fill(c);
        if (c->len >= 2) {
            const uint8_t *b = (const uint8_t *)c->buf;
            size_t n = b[1] & 0x7f, h = 2;
            if (n == 126 && c->len >= 4) {
                n = (size_t)b[2] << 8 | b[3];
                h = 4;
            } else if (n == 127) {
                fail_msg("unexpected 64-bit frame");
            }
            if ((n < 126 || h == 4) && c->len >= h + n) {
                int op = b[0] & 0x0f;
                assert_true(n < outlen);
                memcpy(out, b + h, n);
                out[n] = '\0';
                conn_consume(c, h + n);
                return op;
            }
        }
        if (c->eof) return -1;
    } while (now_ms() < end);
    return -1;
}

#define UPGRADE_HDRS                                                                               \
    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"                   \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* Open the event stream; auth is extra header lines (e.g. the bearer). */
static struct conn *ws_open_hdr(const char *query, const char *auth, const char *want_proto)
{
    char raw[1024];
    snprintf(raw, sizeof(raw), "GET /api/v1/events%s HTTP/1.1\r\nHost: t\r\n%s" UPGRADE_HDRS "\r\n",
             query, auth);
    struct conn *c = conn_open();
    conn_sends(c, raw);
    uint64_t end = now_ms() + 2000;
    while (now_ms() < end) {
        conn_fill(c);
        char *he = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (he) {
            assert_memory_equal(c->buf, "HTTP/1.1 101 ", 13);
            assert_non_null(memmem(c->buf, c->len, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28));
            void *proto = memmem(c->buf, c->len, "Sec-WebSocket-Protocol:", 23);
            if (want_proto)
                assert_non_null(memmem(c->buf, c->len, want_proto, strlen(want_proto)));
            else
                assert_null(proto);
            conn_consume(c, (size_t)(he - c->buf) + 4);
            return c;
        }
    }
    fail_msg("no 101 response");
    return NULL;
}

static struct conn *ws_open(const char *query, bool header_auth)
{
    return ws_open_hdr(query, header_auth ? "Authorization: Bearer " TOKEN "\r\n" : "", NULL);
}

static long long event_seq(const char *json, char *type, size_t typelen)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    long long seq = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "seq"));
    snprintf(type, typelen, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")));
    assert_non_null(cJSON_GetObjectItem(o, "ts"));
    assert_non_null(cJSON_GetObjectItem(o, "data"));
    cJSON_Delete(o);
    return seq;
}

/* ---- fixture ------------------------------------------------------------ */

static void status_fill(cJSON *st, void *arg)
{
    cJSON_AddStringToObject(st, "state_dir", (const char *)arg);
}

static void echo_handler(const struct api_request *req, struct api_response *res, void *arg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "rest", req->rest);
    cJSON_AddStringToObject(o, "route", req->route);
    char body[256];
    snprintf(body, sizeof(body), "%.*s", (int)req->http->body_len,
             req->http->body ? (const char *)req->http->body : "");
    cJSON_AddStringToObject(o, "body", body);
    api_response_header(res, "X-Echo", "1");
    api_response_json(res, 201, o);
}

/* POST /api/v1/later: a 202 answered only at api_server_release (the tickets kept here). */
static uint64_t tickets[8];
static size_t ntickets;

static void later_handler(const struct api_request *req, struct api_response *res, void *arg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)ntickets);
    api_response_json(res, 202, o);
    uint64_t t = api_response_defer(req, res);
    assert_true(t > 0);
    assert_true(ntickets < 8);
    tickets[ntickets++] = t;
}

static const char *const test_hosts[] = {"t"};

static struct api_config base_cfg(void)
{
    struct api_config cfg = {
        .header_timeout_ms = 400,
        .allowed_hosts = test_hosts,
        .nallowed_hosts = 1,
        .listen = "127.0.0.1:0",
        .token = TOKEN,
        .version = "9.9.9-test",
        .max_clients = 4,
        .max_client_pending = 64 * 1024,
        .idle_timeout_ms = 1500,
        .request_timeout_ms = 400,
        .event_ring = 4,
    };
    return cfg;
}

static int start_with(struct api_config cfg)
{
    char err[256];
    if (uv_loop_init(&loop) != 0) return -1;
    loop_alive = true;
    int r = api_server_start(&loop, &cfg, &srv, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "start: %s\n", err);
        return -1;
    }
    port = api_server_port(srv);
    api_server_set_status_cb(srv, status_fill, "/tmp/state");
    ntickets = 0;
    if (api_server_add_route(srv, "POST", "/api/v1/later", true, later_handler, NULL) < 0)
        return -1;
    return api_server_add_route(srv, "POST", "/api/v1/echo", true, echo_handler, NULL);
}

static int setup(void **st)
{
    return start_with(base_cfg());
}

static bool closed_cb_called;
static void on_closed(void *arg)
{
    closed_cb_called = true;
    assert_ptr_equal(arg, &loop);
}

static int teardown(void **st)
{
    closed_cb_called = false;
    api_server_close(srv, on_closed, &loop);
    assert_false(closed_cb_called); /* never from inside close() */
    int r = uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(r, 0);
    assert_true(closed_cb_called);
    assert_int_equal(uv_loop_close(&loop), 0); /* no handle left behind */
    loop_alive = false;
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_healthz(void **st)
{
    assert_true(port > 0);
    struct resp r = get("/healthz", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    assert_non_null(strcasestr(r.head, "Content-Type: text/plain"));
}

static void test_status_and_auth(void **st)
{
    struct resp r = get("/api/v1/status", TOKEN);
    assert_int_equal(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    assert_non_null(o);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "version")), "9.9.9-test");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "pid")), getpid());
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "uptime_s")));
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(o, "started_at")));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "channels")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state_dir")), "/tmp/state");
    cJSON_Delete(o);

    r = get("/api/v1/status", NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(r.body, "\"error\""));
    r = get("/api/v1/status", "wrong-token-0123456789");
    assert_int_equal(r.status, 401);
    r = get("/api/v1/status", TOKEN "x");
    assert_int_equal(r.status, 401);
    assert_true(api_metrics_get(api_server_metrics(srv), "wagate_api_auth_failures_total", NULL) ==
                3);
    /* the scheme is case-insensitive */
    struct conn *c = conn_open();
    r = request(c, "GET /api/v1/status HTTP/1.1\r\nHost: t\r\nAuthorization: bearer " TOKEN
                   "\r\n\r\n");
    assert_int_equal(r.status, 200);
    conn_free(c);
    /* token reload: the old one stops working */
    assert_int_equal(api_server_set_token(srv, "new-token-abcdefghijkl"), 0);
    assert_int_equal(get("/api/v1/status", TOKEN).status, 401);
    assert_int_equal(get("/api/v1/status", "new-token-abcdefghijkl").status, 200);
    assert_int_equal(api_server_set_token(srv, ""), -EINVAL);
}

static void test_404_405(void **st)
{
    struct resp r = get("/nope", NULL);
    assert_int_equal(r.status, 404);
    cJSON *o = cJSON_Parse(r.body);
    assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(o, "error")));
    cJSON_Delete(o);
    struct conn *c = conn_open();
    r = request(c, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head, "Allow: GET"));
    /* keep-alive survives a 405 */
    r = request(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    conn_free(c);
    /* "/healthzX" is not "/healthz" */
    assert_int_equal(get("/healthzX", NULL).status, 404);
}

static void test_custom_route(void **st)
{
    struct conn *c = conn_open();
    struct resp r = request(c, "POST /api/v1/echo/abc HTTP/1.1\r\nHost: t\r\nAuthorization: "
                               "Bearer " TOKEN "\r\nContent-Length: 5\r\n\r\nhello");
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.head, "X-Echo: 1"));
    cJSON *o = cJSON_Parse(r.body);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "rest")), "/abc");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "body")), "hello");
    cJSON_Delete(o);
    r = request(c, "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r.status, 401);
    /* Expect: 100-continue gets the interim response before the body */
    r = request(c, "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                   "\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert_int_equal(r.status, 100);
    r = request(c, "abc");
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.body, "\"body\":\"abc\""));
    conn_free(c);
}

static void test_keepalive_and_pipelining(void **st)
{
    struct conn *c = conn_open();
    struct resp r;
    for (int i = 0; i < 3; i++) {
        r = request(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.head, "Connection: keep-alive"));
    }
    assert_int_equal(api_server_clients(srv), 1); /* the same connection each time */
    /* three pipelined requests, answered in order; the last closes */
    conn_sends(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                  "GET /api/v1/status HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                  "\r\nConnection: close\r\n\r\n");
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 200);
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 404);
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Connection: close"));
    assert_true(wait_closed(c, 2000));
    conn_free(c);
    /* a client that half-closes after its request still gets the answer */
    c = conn_open();
    conn_sends(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 200);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
    /* HTTP/1.0 closes by default */
    c = conn_open();
    r = request(c, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
}

#define LATER                                                                                      \
    "POST /api/v1/later HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN                       \
    "\r\nContent-Length: 0\r\n\r\n"

/* A deferred response waits for its release, and so does the connection's next request; a
 * release with a status answers the error instead; a release after the client left is a no-op. */
static void test_deferred_response(void **st)
{
    struct conn *c = conn_open();
    struct resp r;
    conn_sends(c, LATER "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_false(read_response(c, &r, 300));
    assert_false(c->eof);
    assert_int_equal(ntickets, 1);
    api_server_release(srv, tickets[0], 0, NULL);
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 202);
    assert_non_null(strstr(r.body, "\"n\":0"));
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 200);
    api_server_release(srv, tickets[0], 0, NULL); /* twice: nothing */
    /* failed: the error replaces the held answer; the connection goes on */
    conn_sends(c, LATER);
    assert_false(read_response(c, &r, 200));
    assert_int_equal(ntickets, 2);
    api_server_release(srv, tickets[1], 503, "not stored");
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "not stored"));
    r = request(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    /* the client leaves before the release */
    conn_sends(c, LATER);
    assert_false(read_response(c, &r, 200));
    assert_int_equal(ntickets, 3);
    conn_free(c);
    pump(100);
    api_server_release(srv, tickets[2], 0, NULL);
    /* one left held at the server's close: freed with it (ASan) */
    c = conn_open();
    conn_sends(c, LATER);
    assert_false(read_response(c, &r, 200));
    assert_int_equal(ntickets, 4);
    conn_free(c);
}

static void test_bad_requests(void **st)
{
    struct conn *c = conn_open();
    struct resp r = request(c, "BLAH\r\n\r\n");
    assert_int_equal(r.status, 400);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
    c = conn_open();
    r = request(c, "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_int_equal(r.status, 411);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
    c = conn_open();
    r = request(c, "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n");
    assert_int_equal(r.status, 413);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
}

static void test_request_and_idle_timeouts(void **st)
{
    /* slowloris: a request that never completes gets 408 */
    struct conn *c = conn_open();
    conn_sends(c, "GET /healthz HTTP/1.1\r\nHo");
    pump(200);
    conn_sends(c, "s"); /* trickling bytes does not extend the deadline */
    struct resp r;
    assert_true(read_response(c, &r, 2000));
    assert_int_equal(r.status, 408);
    assert_true(wait_closed(c, 1000));
    conn_free(c);
    /* idle keep-alive connection closed after idle_timeout_ms */
    c = conn_open();
    r = request(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    uint64_t t0 = now_ms();
    assert_true(wait_closed(c, 4000));
    assert_true(now_ms() - t0 >= 1000);
    conn_free(c);
}

static void test_too_many_clients(void **st)
{
    /* four clients in the middle of a request hold every slot (max_clients 4) */
    struct conn *cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = conn_open_from(2 + i);
        conn_sends(cs[i], "GET /healthz HTTP/1.1\r\n");
    }
    pump(20);
    assert_int_equal(api_server_clients(srv), 4);
    /* a fifth is triaged: anything but /healthz gets 503, silence too (after 1 s at most) */
    struct conn *extra = conn_open();
    struct resp r = request(extra, "GET /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.head, "Retry-After: 1"));
    assert_true(wait_closed(extra, 2000));
    conn_free(extra);
    extra = conn_open();
    assert_true(read_response(extra, &r, 2000));
    assert_int_equal(r.status, 503);
    conn_free(extra);
    /* ...but /healthz is answered */
    extra = conn_open();
    r = request(extra, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_true(wait_closed(extra, 2000));
    conn_free(extra);
    assert_int_equal(
        (int)api_metrics_get(api_server_metrics(srv), "wagate_api_clients_rejected_total", NULL),
        3);
    /* the others still work; after one leaves, a new one is accepted */
    r = request(cs[0], "Host: t\r\n\r\n");
    assert_int_equal(r.status, 200);
    conn_free(cs[1]);
    pump(50);
    struct conn *again = conn_open();
    r = request(again, "GET /api/v1/status HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                       "\r\n\r\n");
    assert_int_equal(r.status, 200);
    /* idle clients make room: cs[0] and again are idle now, cs[2..3] still mid-request; a
     * new client closes the oldest idle one (cs[0]) and gets its slot */
    struct conn *fresh = conn_open_from(9);
    pump(20);
    assert_true(wait_closed(cs[0], 2000));
    r = request(fresh, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_int_equal(r.status, 200);
    conn_free(fresh);
    conn_free(again);
    conn_free(cs[0]);
    conn_free(cs[2]);
    conn_free(cs[3]);
}

static void test_per_peer_cap(void **st)
{
    /* max_clients 16 here, per peer 4: a fifth busy client from one address is triaged
     * while another address still gets a slot */
    struct conn *cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = conn_open_from(7);
        conn_sends(cs[i], "GET /hea");
    }
    struct conn *fifth = conn_open_from(7);
    struct resp r = request(fifth, "GET /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r.status, 503);
    conn_free(fifth);
    struct conn *other = conn_open_from(8);
    r = request(other, "GET /api/v1/status HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                       "\r\n\r\n");
    assert_int_equal(r.status, 200);
    conn_free(other);
    for (int i = 0; i < 4; i++)
        conn_free(cs[i]);
}

static int setup_full(void **st)
{
    struct api_config cfg = base_cfg();
    cfg.header_timeout_ms = 5000;
    return start_with(cfg);
}

static int setup_peer(void **st)
{
    struct api_config cfg = base_cfg();
    cfg.max_clients = 16;
    cfg.header_timeout_ms = 5000;
    return start_with(cfg);
}

static void test_loopback_listen(void **st)
{
    assert_true(api_listen_is_loopback("127.0.0.1:0"));
    assert_true(api_listen_is_loopback("127.1.2.3:80"));
    assert_true(api_listen_is_loopback("[::1]:18789"));
    assert_true(api_listen_is_loopback("[::ffff:127.0.0.1]:1"));
    assert_false(api_listen_is_loopback("0.0.0.0:18789"));
    assert_false(api_listen_is_loopback("[::]:18789"));
    assert_false(api_listen_is_loopback("192.168.1.5:18789"));
    assert_false(api_listen_is_loopback("[::ffff:10.0.0.1]:1"));
    assert_false(api_listen_is_loopback("localhost:1"));
    assert_false(api_listen_is_loopback(NULL));
}

static void test_host_and_origin(void **st)
{
    char raw[512];
    /* name, append the bound port?, expected status */
    struct {
        const char *host;
        bool port;
        int status;
    } cases[] = {
        {"127.0.0.1", true, 200},    {"localhost", true, 200},
        {"LOCALHOST", true, 200},    {"[::1]", true, 200},
        {"t", false, 200},           {"t:1234", false, 200},
        {"evil.example", true, 403}, {"127.0.0.1:1", false, 403},
        {"localhost", false, 403},   {"127.0.0.1:80@evil", false, 403},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[128];
        if (cases[i].port)
            snprintf(host, sizeof(host), "%s:%d", cases[i].host, port);
        else
            snprintf(host, sizeof(host), "%s", cases[i].host);
        snprintf(raw, sizeof(raw),
                 "GET /api/v1/status HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer " TOKEN
                 "\r\nConnection: close\r\n\r\n",
                 host);
        struct conn *c = conn_open();
        struct resp r = request(c, raw);
        if (r.status != cases[i].status) fail_msg("Host %s: %d", host, r.status);
        conn_free(c);
    }
    /* a rebinding name is refused on /metrics too; /healthz answers whatever the Host */
    struct conn *c = conn_open();
    struct resp r = request(c, "GET /metrics HTTP/1.1\r\nHost: rebind.example:80\r\n"
                               "Authorization: Bearer " TOKEN "\r\n\r\n");
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "host not allowed"));
    conn_free(c);
    c = conn_open();
    r = request(c, "GET /healthz HTTP/1.1\r\nHost: rebind.example\r\n\r\n");
    assert_int_equal(r.status, 200);
    conn_free(c);
    /* Origin on the event stream: a foreign or null one is refused even with the token */
    const char *bad[] = {"http://evil.example", "null", "http://127.0.0.1:1", "file://"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(raw, sizeof(raw),
                 "GET /api/v1/events HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\n"
                 "Authorization: Bearer " TOKEN "\r\n" UPGRADE_HDRS "\r\n",
                 bad[i]);
        c = conn_open();
        r = request(c, raw);
        if (r.status != 403) fail_msg("Origin %s: %d", bad[i], r.status);
        conn_free(c);
    }
    char ok[128];
    snprintf(ok, sizeof(ok), "Origin: http://localhost:%d\r\nAuthorization: Bearer " TOKEN "\r\n",
             port);
    conn_free(ws_open_hdr("", ok, NULL));
    /* and the token is still needed with a good Origin */
    snprintf(
        raw, sizeof(raw),
        "GET /api/v1/events HTTP/1.1\r\nHost: t\r\nOrigin: http://127.0.0.1:%d\r\n" UPGRADE_HDRS
        "\r\n",
        port);
    c = conn_open();
    r = request(c, raw);
    assert_int_equal(r.status, 401);
    conn_free(c);
}

/* Slowloris: 300 connections from 10 loopback addresses send a partial request head and
 * stall; /healthz keeps answering, and the stalled ones are closed by the header deadline. */
static void test_slowloris_300(void **st)
{
    enum { N = 300 };
    static struct conn *cs[N];
    uint64_t t0 = now_ms();
    for (int i = 0; i < N; i++) {
        cs[i] = conn_start_from(10 + i % 10);
        pump(1);
        (void)send(cs[i]->fd, "GET /healthz HTTP/1.1\r\nHo", 25, MSG_NOSIGNAL);
        if (i % 10 == 9) pump(2);
    }
    pump(50);
    uint64_t t_open = now_ms() - t0;
    /* every slot is held by a stalled request; the rest were triaged (a few may have been
     * accepted before their bytes were read and then made room as idle clients) */
    assert_int_equal(api_server_clients(srv), 64);
    double rejected =
        api_metrics_get(api_server_metrics(srv), "wagate_api_clients_rejected_total", NULL);
    assert_true(rejected >= (N - 64) * 9 / 10);
    uint64_t worst = 0;
    for (int k = 0; k < 5; k++) {
        uint64_t a = now_ms();
        struct conn *probe = conn_open();
        struct resp r = request(probe, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_int_equal(r.status, 200);
        conn_free(probe);
        if (now_ms() - a > worst) worst = now_ms() - a;
    }
    /* the header deadline (3 s here) closes every stalled client */
    uint64_t t1 = now_ms();
    while (api_server_clients(srv) > 0 && now_ms() - t1 < 10000)
        pump(20);
    uint64_t cleared = now_ms() - t1;
    assert_int_equal(api_server_clients(srv), 0);
    printf("slowloris: %d stalled connections opened in %llu ms (%.0f triaged); /healthz worst "
           "%llu ms over 5 probes; slots free again %llu ms later\n",
           N, (unsigned long long)t_open, rejected, (unsigned long long)worst,
           (unsigned long long)cleared);
    for (int i = 0; i < N; i++)
        conn_free(cs[i]);
}

static int setup_many(void **st)
{
    struct api_config cfg = base_cfg();
    cfg.max_clients = 64;
    cfg.header_timeout_ms = 3000;
    cfg.request_timeout_ms = 3000;
    return start_with(cfg);
}

static void test_metrics(void **st)
{
    assert_int_equal(get("/healthz", NULL).status, 200);
    assert_int_equal(get("/healthz", NULL).status, 200);
    api_events_publish(api_server_events(srv), "test.x", NULL);
    struct resp r = get("/metrics", TOKEN);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/plain; version=0.0.4"));
    const char *want[] = {
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
        "# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_open_fds gauge\n",
        "# TYPE process_start_time_seconds gauge\n",
        "# HELP wagate_api_requests_total ",
        "wagate_api_requests_total{route=\"/healthz\",code=\"200\"} 2\n",
        "wagate_api_events_published_total 1\n",
        "wagate_api_ws_clients 0\n",
        "wagate_api_clients_dropped_slow_total 0\n",
        "wagate_api_auth_failures_total 0\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(r.body, want[i])) fail_msg("metrics lack %s\n---\n%s", want[i], r.body);
    /* resident memory is a real figure */
    const char *p = strstr(r.body, "\nprocess_resident_memory_bytes ");
    assert_true(strtod(p + 31, NULL) > 1e6);
    /* behind the token unless metrics_public */
    assert_int_equal(get("/metrics", NULL).status, 401);
}

static void test_events_resume(void **st)
{
    struct api_events *ev = api_server_events(srv);
    for (int i = 0; i < 3; i++)
        assert_int_equal(api_events_publish(ev, "test.before", NULL), i + 1);
    /* since=1: replay 2,3 then live 4 */
    struct conn *c = ws_open("?since=1", true);
    char msg[4096], type[64];
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 1);
    assert_int_equal(event_seq(msg, type, sizeof(type)), 2);
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 1);
    assert_int_equal(event_seq(msg, type, sizeof(type)), 3);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "k", "v");
    assert_int_equal(api_events_publish(ev, "test.live", d), 4);
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 1);
    assert_int_equal(event_seq(msg, type, sizeof(type)), 4);
    assert_string_equal(type, "test.live");
    assert_non_null(strstr(msg, "\"data\":{\"k\":\"v\"}"));
    assert_true(api_metrics_get(api_server_metrics(srv), "wagate_api_ws_clients", NULL) == 1);
    /* ping -> pong */
    ws_send(c, 9, "hi", 2);
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 0xA);
    assert_string_equal(msg, "hi");
    /* client close -> server close reply -> TCP closed */
    uint8_t code[2] = {0x03, 0xE8};
    ws_send(c, 8, code, 2);
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 8);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
    pump(20);
    assert_true(api_metrics_get(api_server_metrics(srv), "wagate_api_ws_clients", NULL) == 0);

    /* ring holds 4: publish up to 10, resume from 2 -> gap 3..6, then 7..10 */
    for (int i = 0; i < 6; i++)
        api_events_publish(ev, "test.more", NULL);
    /* the browser way: the token as a subprotocol, wagate.v1 selected */
    c = ws_open_hdr("?since=2", "Sec-WebSocket-Protocol: wagate.v1, wagate.bearer." TOKEN "\r\n",
                    "Sec-WebSocket-Protocol: wagate.v1\r\n");
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 1);
    assert_int_equal(event_seq(msg, type, sizeof(type)), 6);
    assert_string_equal(type, "stream.gap");
    assert_non_null(strstr(msg, "\"from\":3"));
    assert_non_null(strstr(msg, "\"to\":6"));
    for (int s = 7; s <= 10; s++) {
        assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 1);
        assert_int_equal(event_seq(msg, type, sizeof(type)), s);
    }
    conn_free(c);
    /* without since: live only */
    c = ws_open("", true);
    api_events_publish(ev, "test.only", NULL);
    assert_int_equal(ws_read(c, msg, sizeof(msg), 2000), 1);
    assert_int_equal(event_seq(msg, type, sizeof(type)), 11);
    conn_free(c);
}

static void test_events_auth_and_bad_upgrade(void **st)
{
    struct conn *c = conn_open();
    struct resp r = request(c, "GET /api/v1/events HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
                               "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    assert_int_equal(r.status, 401);
    assert_true(wait_closed(c, 2000));
    conn_free(c);
    c = conn_open();
    r = request(c, "GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                   "\r\n\r\n");
    assert_int_equal(r.status, 400); /* not an upgrade */
    conn_free(c);
    /* a token in the URL is refused, saying where it goes */
    c = conn_open();
    r = request(c,
                "GET /api/v1/events?token=" TOKEN " HTTP/1.1\r\nHost: t\r\n" UPGRADE_HDRS "\r\n");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "URL"));
    conn_free(c);
    /* the subprotocol token with a wrong value, and without wagate.v1 */
    c = conn_open();
    r = request(
        c, "GET /api/v1/events HTTP/1.1\r\nHost: t\r\n"
           "Sec-WebSocket-Protocol: wagate.v1, wagate.bearer.nope-nope-nope-nope\r\n" UPGRADE_HDRS
           "\r\n");
    assert_int_equal(r.status, 401);
    conn_free(c);
    c = conn_open();
    r = request(c, "GET /api/v1/events HTTP/1.1\r\nHost: t\r\n"
                   "Sec-WebSocket-Protocol: wagate.bearer." TOKEN "\r\n" UPGRADE_HDRS "\r\n");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "wagate.v1"));
    conn_free(c);
    c = conn_open();
    r = request(c,
                "GET /api/v1/events?since=abc HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    assert_int_equal(r.status, 400);
    conn_free(c);
}

static int setup_slow(void **st);

static void test_slow_ws_client_dropped(void **st)
{
    if (getenv("DBG")) wlog_set_level(WLOG_DEBUG);
    struct conn *c = ws_open("", true);
    /* c stops reading; the kernel buffers fill first, then the server's
     * pending output grows past max_client_pending (64 KiB here) */
    struct conn *fast = ws_open("", true);
    char big[3000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct api_events *ev = api_server_events(srv);
    char msg[8192], type[64];
    int fast_got = 0;
    for (int i = 0; i < 2000; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "pad", big);
        api_events_publish(ev, "test.flood", d);
        uv_run(&loop, UV_RUN_NOWAIT);
        while (ws_read(fast, msg, sizeof(msg), 0) == 1)
            fast_got++;
        if (api_metrics_get(api_server_metrics(srv), "wagate_api_clients_dropped_slow_total",
                            NULL) >= 1)
            break;
    }
    assert_true(api_metrics_get(api_server_metrics(srv), "wagate_api_clients_dropped_slow_total",
                                NULL) == 1);
    /* the slow one, reading now (within the drain deadline), finds a 1008 close and then EOF */
    int op, closes = 0;
    int nframes = 0;
    while ((op = ws_read(c, msg, sizeof(msg), 2000)) >= 0 && ++nframes)
        if (op == 8) {
            closes++;
            assert_int_equal((uint8_t)msg[0] << 8 | (uint8_t)msg[1], 1008);
        }
    if (closes != 1)
        fail_msg("slow client: %d frames, %d closes, eof %d, %zu bytes left", nframes, closes,
                 c->eof, c->len);
    assert_true(c->eof);
    /* the fast client got everything so far and keeps going */
    while (ws_read(fast, msg, sizeof(msg), 50) == 1)
        fast_got++;
    long long last = api_events_last_seq(ev);
    assert_int_equal(fast_got, last);
    assert_int_equal(api_events_publish(ev, "test.after", NULL), last + 1);
    assert_int_equal(ws_read(fast, msg, sizeof(msg), 2000), 1);
    assert_int_equal(event_seq(msg, type, sizeof(type)), last + 1);
    conn_free(c);
    conn_free(fast);
    pump(20);
    assert_int_equal(api_server_clients(srv), 0);
}

static struct conn *leftover[2];

static int teardown_leftover(void **st)
{
    int r = teardown(st);
    for (int i = 0; i < 2; i++) {
        assert_true(wait_closed(leftover[i], 100)); /* the server closed them */
        conn_free(leftover[i]);
    }
    return r;
}

/* no WebSocket pings while the flood runs (the test client does not answer them) */
static int setup_slow(void **st)
{
    struct api_config cfg = base_cfg();
    cfg.idle_timeout_ms = 60000;
    cfg.request_timeout_ms = 2000;
    return start_with(cfg);
}

static int setup_ping(void **st)
{
    struct api_config cfg = base_cfg();
    cfg.idle_timeout_ms = 300; /* ping every 150 ms */
    return start_with(cfg);
}

static void test_ws_ping_timeout(void **st)
{
    struct conn *live = ws_open("", true);
    struct conn *dead = ws_open("", true);
    char msg[256];
    int pings = 0;
    uint64_t end = now_ms() + 900;
    while (now_ms() < end) {
        int op = ws_read(live, msg, sizeof(msg), 10);
        if (op == 9) { /* answer the server's ping */
            pings++;
            ws_send(live, 0xA, msg, strlen(msg));
        }
        assert_true(op == 9 || op == -1);
        assert_false(live->eof);
    }
    assert_true(pings >= 3);
    /* the silent one got pings, then a 1001 close, then EOF */
    int op, closes = 0;
    while ((op = ws_read(dead, msg, sizeof(msg), 1000)) >= 0)
        if (op == 8) {
            closes++;
            assert_int_equal((uint8_t)msg[0] << 8 | (uint8_t)msg[1], 1001);
        }
    assert_int_equal(closes, 1);
    assert_true(dead->eof);
    assert_int_equal(api_server_clients(srv), 1);
    conn_free(live);
    conn_free(dead);
}

static void test_close_with_clients(void **st)
{
    /* teardown closes the server while these are connected */
    struct conn *a = conn_open();
    struct conn *w = ws_open("", true);
    conn_sends(a, "GET /heal");
    leftover[0] = a;
    leftover[1] = w;
}

static void test_start_errors(void **st)
{
    struct api_config cfg = base_cfg();
    char err[256];
    struct api_server *s2 = NULL;
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    cfg.listen = listen;
    assert_int_equal(api_server_start(&loop, &cfg, &s2, err, sizeof(err)), -EADDRINUSE);
    assert_null(s2);
    assert_non_null(strstr(err, listen));
    cfg.listen = "localhost:80";
    assert_int_equal(api_server_start(&loop, &cfg, &s2, err, sizeof(err)), -EINVAL);
    cfg.listen = "127.0.0.1:99999";
    assert_int_equal(api_server_start(&loop, &cfg, &s2, err, sizeof(err)), -EINVAL);
    cfg.listen = "[::1]:0";
    cfg.token = "";
    assert_int_equal(api_server_start(&loop, &cfg, &s2, err, sizeof(err)), -EINVAL);
    cfg.token = TOKEN;
    int r = api_server_start(&loop, &cfg, &s2, err, sizeof(err));
    if (r == 0) { /* IPv6 loopback may be missing in a container */
        assert_true(api_server_port(s2) > 0);
        api_server_close(s2, NULL, NULL);
    }
    pump(10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_and_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_404_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_and_pipelining, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_and_idle_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_clients, setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_per_peer_cap, setup_peer, teardown),
        cmocka_unit_test_setup_teardown(test_host_and_origin, setup, teardown),
        cmocka_unit_test(test_loopback_listen),
        cmocka_unit_test_setup_teardown(test_slowloris_300, setup_many, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_auth_and_bad_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_ws_client_dropped, setup_slow, teardown),
        cmocka_unit_test_setup_teardown(test_ws_ping_timeout, setup_ping, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_clients, setup, teardown_leftover),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
