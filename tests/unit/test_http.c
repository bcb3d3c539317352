/* SPDX-License-Identifier: MIT */
/* test_http.c -- HTTP/1.1 request parser and response builder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/http.h"

/* Feed all of s in chunks of `chunk` bytes; returns the number of complete
 * requests seen (calling check on each), or the negative error. */
struct seen {
    int n;
    char paths[8][64];
    char bodies[8][64];
    bool keep[8];
};

static int feed_all(struct http_parser *p, const char *s, size_t len, size_t chunk,
                    struct seen *seen)
{
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t used = 0;
        int r = http_parser_feed(p, s + off, n, &used);
        if (r < 0) return r;
        off += used;
        if (r == HTTP_READY) {
            const struct http_request *req = http_parser_request(p);
            assert_non_null(req);
            if (seen->n < 8) {
                snprintf(seen->paths[seen->n], 64, "%s", req->path);
                snprintf(seen->bodies[seen->n], 64, "%.*s", (int)req->body_len,
                         req->body ? (const char *)req->body : "");
                seen->keep[seen->n] = req->keep_alive;
            }
            seen->n++;
            http_parser_next(p);
        } else {
            assert_int_equal(used, n);
        }
    }
    return seen->n;
}

static int parse(const char *s, size_t chunk, struct seen *seen, int *status)
{
    struct http_parser *p;
    assert_int_equal(http_parser_new(NULL, &p), 0);
    memset(seen, 0, sizeof(*seen));
    int r = feed_all(p, s, strlen(s), chunk, seen);
    if (status) *status = http_parser_status(p);
    http_parser_free(p);
    return r;
}

static void test_simple_get(void **st)
{
    const char *s = "GET /api/v1/status?x=1&token=a%20b HTTP/1.1\r\nHost: h\r\n"
                    "Authorization: Bearer abc\r\nX-Empty:\r\n\r\n";
    struct http_parser *p;
    assert_int_equal(http_parser_new(NULL, &p), 0);
    size_t used;
    assert_int_equal(http_parser_feed(p, s, strlen(s), &used), HTTP_READY);
    assert_int_equal(used, strlen(s));
    const struct http_request *r = http_parser_request(p);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->path, "/api/v1/status");
    assert_string_equal(r->query, "x=1&token=a%20b");
    assert_string_equal(r->url, "/api/v1/status?x=1&token=a%20b");
    assert_int_equal(r->version_minor, 1);
    assert_int_equal(r->nheaders, 3);
    assert_string_equal(http_request_header(r, "authorization"), "Bearer abc");
    assert_string_equal(http_request_header(r, "x-empty"), "");
    assert_null(http_request_header(r, "Cookie"));
    assert_true(r->keep_alive);
    assert_false(r->upgrade);
    char v[32];
    assert_int_equal(http_query_param(r->query, "token", v, sizeof(v)), 3);
    assert_string_equal(v, "a b");
    assert_int_equal(http_query_param(r->query, "x", v, sizeof(v)), 1);
    assert_int_equal(http_query_param(r->query, "y", v, sizeof(v)), -ENOENT);
    assert_false(http_parser_busy(p));
    /* feeding while a request is pending is refused */
    assert_int_equal(http_parser_feed(p, "G", 1, &used), -EBUSY);
    http_parser_next(p);
    assert_null(http_parser_request(p));
    http_parser_free(p);
}

static const char *pipeline = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                              "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                              "GET /c HTTP/1.0\r\n\r\n";

static void test_pipelined_split_every_byte(void **st)
{
    size_t len = strlen(pipeline);
    for (size_t chunk = 1; chunk <= len; chunk++) {
        struct seen s;
        assert_int_equal(parse(pipeline, chunk, &s, NULL), 3);
        assert_string_equal(s.paths[0], "/a");
        assert_string_equal(s.bodies[0], "hello");
        assert_string_equal(s.paths[1], "/b");
        assert_string_equal(s.paths[2], "/c");
        assert_true(s.keep[0]);
        assert_false(s.keep[2]); /* HTTP/1.0 without keep-alive closes */
    }
    /* split into two arbitrary pieces at every position */
    for (size_t cut = 0; cut <= len; cut++) {
        struct http_parser *p;
        assert_int_equal(http_parser_new(NULL, &p), 0);
        struct seen s = {0};
        assert_true(feed_all(p, pipeline, cut, len + 1, &s) >= 0);
        assert_int_equal(feed_all(p, pipeline + cut, len - cut, len + 1, &s), 3);
        assert_string_equal(s.bodies[0], "hello");
        http_parser_free(p);
    }
}

static void test_http10_keepalive(void **st)
{
    struct seen s;
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 4096, &s, NULL), 1);
    assert_true(s.keep[0]);
    assert_int_equal(
        parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 4096, &s, NULL), 1);
    assert_false(s.keep[0]);
}

static void expect_error(const char *req, int status)
{
    struct seen s;
    int st = 0;
    int r = parse(req, 4096, &s, &st);
    if (r >= 0 || st != status)
        fail_msg("request %.40s...: rc %d status %d, wanted status %d", req, r, st, status);
    /* the same error at any split */
    for (size_t chunk = 1; chunk < 8; chunk++) {
        r = parse(req, chunk, &s, &st);
        assert_true(r < 0);
        assert_int_equal(st, status);
    }
}

static void test_bad_request_lines(void **st)
{
    expect_error("GARBAGE\r\n\r\n", 400);
    expect_error("GET\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTP/9.9\r\nHost: h\r\n\r\n", 505);
    expect_error("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    expect_error("GET / HTTP/1.1\nHost h\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\nBad Header: x\r\nHost: h\r\n\r\n", 400);
    expect_error("GET / HTTP/1.1\r\n\r\n", 400); /* HTTP/1.1 needs Host */
    expect_error("G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

static void test_content_length_conflicts(void **st)
{
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
                 "abcd",
                 400);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                 400);
}

static void test_chunked_refused(void **st)
{
    expect_error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n",
                 411);
}

static void test_caps(void **st)
{
    struct http_limits lim = {
        .max_url = 64, .max_headers = 4, .max_head_bytes = 256, .max_request_bytes = 512};
    struct http_parser *p;
    char req[2048];
    size_t used;

    /* URL just under / over the cap */
    for (int over = 0; over <= 1; over++) {
        assert_int_equal(http_parser_new(&lim, &p), 0);
        char url[80];
        memset(url, 'a', sizeof(url));
        url[0] = '/';
        url[64 + over] = '\0';
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", url);
        int r = http_parser_feed(p, req, strlen(req), &used);
        assert_int_equal(r, over ? -E2BIG : HTTP_READY);
        if (over) assert_int_equal(http_parser_status(p), 414);
        http_parser_free(p);
    }
    /* header count */
    assert_int_equal(http_parser_new(&lim, &p), 0);
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n");
    assert_int_equal(http_parser_feed(p, req, strlen(req), &used), -E2BIG);
    assert_int_equal(http_parser_status(p), 431);
    /* dead after an error */
    assert_int_equal(http_parser_feed(p, "x", 1, &used), -E2BIG);
    http_parser_free(p);
    /* header bytes */
    assert_int_equal(http_parser_new(&lim, &p), 0);
    char big[300];
    memset(big, 'v', sizeof(big));
    big[299] = '\0';
    snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: h\r\nX: %s\r\n\r\n", big);
    assert_int_equal(http_parser_feed(p, req, strlen(req), &used), -E2BIG);
    assert_int_equal(http_parser_status(p), 431);
    http_parser_free(p);
    /* body: announced too large -> refused at the head */
    assert_int_equal(http_parser_new(&lim, &p), 0);
    snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
    assert_int_equal(http_parser_feed(p, req, strlen(req), &used), -E2BIG);
    assert_int_equal(http_parser_status(p), 413);
    http_parser_free(p);
    /* body at the cap is accepted */
    assert_int_equal(http_parser_new(&lim, &p), 0);
    const char *h = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 400\r\n\r\n";
    memset(req, 'b', sizeof(req));
    memcpy(req, h, strlen(h));
    size_t total = strlen(h) + 400;
    assert_int_equal(http_parser_feed(p, req, total, &used), HTTP_READY);
    assert_int_equal(used, total);
    assert_int_equal(http_parser_request(p)->body_len, 400);
    http_parser_free(p);
}

/* Bodies over the in-memory cap through the spool hooks: decided at the head (with the
 * head's path and headers), streamed to the sink across every split, then the next
 * pipelined request parses as usual; 0 from decide is 413, a status refuses with it, a
 * Content-Length over the spool cap is 413 without asking, a failing sink is 500. */
struct spool {
    int decide; /* what decide answers */
    int asked;  /* times decide ran */
    char path[32];
    uint64_t cl;
    size_t got;
    uint32_t sum; /* of the bytes sunk */
    int sink_rc;
};

static int sp_decide(void *ud, const struct http_request *head, uint64_t cl)
{
    struct spool *sp = ud;
    sp->asked++;
    snprintf(sp->path, sizeof sp->path, "%s", head->path);
    sp->cl = cl;
    assert_non_null(http_request_header(head, "Host"));
    return sp->decide;
}

static int sp_sink(void *ud, const void *p, size_t n)
{
    struct spool *sp = ud;
    for (size_t i = 0; i < n; i++)
        sp->sum += ((const uint8_t *)p)[i];
    sp->got += n;
    return sp->sink_rc;
}

static void test_spool(void **st)
{
    struct http_limits lim = {.max_request_bytes = 512};
    static char req[8192];
    const char *h = "POST /up?type=x HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n";
    size_t hl = strlen(h), total = hl + 5000;
    memcpy(req, h, hl);
    uint32_t want = 0;
    for (size_t i = 0; i < 5000; i++) {
        req[hl + i] = (char)(i * 7);
        want += (uint8_t)(i * 7);
    }
    const char *next = "GET /after HTTP/1.1\r\nHost: h\r\n\r\n";
    memcpy(req + total, next, strlen(next));
    size_t all = total + strlen(next);
    for (size_t chunk = 1; chunk <= all; chunk = chunk < 64 ? chunk * 3 : chunk * 7) {
        struct http_parser *p;
        struct spool sp = {.decide = 1};
        assert_int_equal(http_parser_new(&lim, &p), 0);
        http_parser_set_spool(p, 10000, sp_decide, sp_sink, &sp);
        size_t off = 0;
        int ready = 0;
        while (off < all) {
            size_t n = all - off < chunk ? all - off : chunk, used = 0;
            int r = http_parser_feed(p, req + off, n, &used);
            assert_true(r >= 0);
            off += used;
            if (r == HTTP_READY) {
                const struct http_request *q = http_parser_request(p);
                if (ready == 0) {
                    assert_true(q->spooled);
                    assert_int_equal(q->spooled_len, 5000);
                    assert_null(q->body);
                    assert_int_equal(q->body_len, 0);
                    assert_string_equal(q->query, "type=x");
                } else {
                    assert_false(q->spooled);
                    assert_string_equal(q->path, "/after");
                }
                ready++;
                http_parser_next(p);
            }
        }
        assert_int_equal(ready, 2);
        assert_int_equal(sp.asked, 1);
        assert_string_equal(sp.path, "/up");
        assert_int_equal(sp.cl, 5000);
        assert_int_equal(sp.got, 5000);
        assert_int_equal(sp.sum, want);
        http_parser_free(p);
    }
    /* decide says no (413), a status (401), the spool cap (413 unasked), the sink fails (500) */
    const struct {
        int decide, sink_rc;
        uint64_t max;
        int status, asked;
    } cases[] = {{0, 0, 10000, 413, 1},
                 {401, 0, 10000, 401, 1},
                 {1, 0, 4999, 413, 0},
                 {1, -ENOSPC, 10000, 500, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_parser *p;
        struct spool sp = {.decide = cases[i].decide, .sink_rc = cases[i].sink_rc};
        assert_int_equal(http_parser_new(&lim, &p), 0);
        http_parser_set_spool(p, cases[i].max, sp_decide, sp_sink, &sp);
        size_t used;
        assert_true(http_parser_feed(p, req, total, &used) < 0);
        assert_int_equal(http_parser_status(p), cases[i].status);
        assert_int_equal(sp.asked, cases[i].asked);
        if (cases[i].status == 401) assert_int_equal(sp.got, 0); /* not a body byte read */
        http_parser_free(p);
    }
    /* a body under the in-memory cap is never spooled */
    struct http_parser *p;
    struct spool sp = {.decide = 1};
    assert_int_equal(http_parser_new(&lim, &p), 0);
    http_parser_set_spool(p, 10000, sp_decide, sp_sink, &sp);
    const char *small = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    size_t used;
    assert_int_equal(http_parser_feed(p, small, strlen(small), &used), HTTP_READY);
    assert_false(http_parser_request(p)->spooled);
    assert_int_equal(http_parser_request(p)->body_len, 3);
    assert_int_equal(sp.asked, 0);
    http_parser_free(p);
}

static void test_upgrade_leftover(void **st)
{
    const char *s = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "\r\n\x81\x80";
    struct http_parser *p;
    assert_int_equal(http_parser_new(NULL, &p), 0);
    size_t used;
    assert_int_equal(http_parser_feed(p, s, strlen(s), &used), HTTP_READY);
    assert_int_equal(used, strlen(s) - 2); /* the frame bytes are not HTTP */
    assert_true(http_parser_request(p)->upgrade);
    http_parser_free(p);
}

static void test_expect_continue(void **st)
{
    struct http_parser *p;
    assert_int_equal(http_parser_new(NULL, &p), 0);
    const char *h =
        "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    size_t used;
    assert_false(http_parser_take_continue(p));
    assert_int_equal(http_parser_feed(p, h, strlen(h), &used), HTTP_NEED_MORE);
    assert_true(http_parser_take_continue(p));
    assert_false(http_parser_take_continue(p)); /* once */
    assert_int_equal(http_parser_feed(p, "ok", 2, &used), HTTP_READY);
    assert_int_equal(http_parser_request(p)->body_len, 2);
    http_parser_next(p);
    /* body already there: READY, and no 100 needed afterwards */
    char all[256];
    snprintf(all, sizeof(all), "%sok", h);
    assert_int_equal(http_parser_feed(p, all, strlen(all), &used), HTTP_READY);
    assert_false(http_parser_take_continue(p));
    http_parser_free(p);
}

static void test_busy_flag(void **st)
{
    struct http_parser *p;
    assert_int_equal(http_parser_new(NULL, &p), 0);
    size_t used;
    assert_false(http_parser_busy(p));
    assert_int_equal(http_parser_feed(p, "GET / HT", 8, &used), HTTP_NEED_MORE);
    assert_true(http_parser_busy(p));
    http_parser_free(p);
}

static void test_tokens(void **st)
{
    assert_true(http_header_has_token("keep-alive, Upgrade", "upgrade"));
    assert_true(http_header_has_token("Upgrade", "upgrade"));
    assert_false(http_header_has_token("Upgraded", "upgrade"));
    assert_false(http_header_has_token("", "upgrade"));
    char v[4];
    assert_int_equal(http_query_param("a=%zz", "a", v, sizeof(v)), -EINVAL);
    assert_int_equal(http_query_param("a=%4", "a", v, sizeof(v)), -EINVAL);
    assert_int_equal(http_query_param("a=12345", "a", v, sizeof(v)), -ENOBUFS);
    assert_int_equal(http_query_param("ab=1&a", "a", v, sizeof(v)), 0);
}

static void test_response_build(void **st)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(http_response_build(&b, 404, "application/json", "{}", 2, "X-A: 1\r\n", false),
                     0);
    const char *want = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2\r\nConnection: close\r\nX-A: 1\r\n\r\n{}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
    buf_init(&b, 16);
    assert_int_equal(http_response_build(&b, 200, NULL, "", 0, NULL, true), -ENOBUFS);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_pipelined_split_every_byte),
        cmocka_unit_test(test_http10_keepalive),
        cmocka_unit_test(test_bad_request_lines),
        cmocka_unit_test(test_content_length_conflicts),
        cmocka_unit_test(test_chunked_refused),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_upgrade_leftover),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_busy_flag),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_response_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
