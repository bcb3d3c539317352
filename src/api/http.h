/* SPDX-License-Identifier: MIT */
/* http.h -- sans-I/O HTTP/1.1 request parser (llhttp) and response builder.
 *
 * The parser never touches a socket: feed it bytes, get "need more", one
 * complete request, or an error with the HTTP status to answer. One request
 * is exposed at a time so pipelined requests are handled strictly in order:
 * after HTTP_READY the caller handles the request, calls http_parser_next()
 * and feeds the bytes that were not consumed.
 *
 * Limits (all peer-controlled sizes are capped):
 *   - request target (URL) longer than max_url         -> 414
 *   - more than max_headers header lines               -> 431
 *   - request line + headers over max_head_bytes       -> 431
 *   - head + body over max_request_bytes               -> 413
 *     (unless spooled: http_parser_set_spool, below)
 *   - Transfer-Encoding (chunked bodies) refused        -> 411 (send Content-Length)
 *   - HTTP/1.1 without Host, duplicate/conflicting
 *     Content-Length, any syntax error                 -> 400
 *   - a major version other than 1                     -> 505
 * After an error the parser is dead: answer with the status and close.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
    HTTP_NEED_MORE = 0, /* every byte consumed, the request is not complete yet */
    HTTP_READY = 1,     /* a complete request is available (http_parser_request) */
};

struct http_limits {
    size_t max_url;           /* 0 = 8 KiB */
    size_t max_headers;       /* 0 = 64 */
    size_t max_head_bytes;    /* request line + headers, 0 = 16 KiB */
    size_t max_request_bytes; /* head + body, 0 = 1 MiB */
};

struct http_header {
    const char *name; /* as received (compare case-insensitively) */
    const char *value;
};

/* A parsed request. Every pointer stays valid until http_parser_next() or
 * http_parser_free(); strings are NUL-terminated. */
struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *url;    /* raw request target */
    const char *path;   /* target up to '?' (not percent-decoded) */
    const char *query;  /* after '?', "" if none */
    int version_major;
    int version_minor;
    const struct http_header *headers;
    size_t nheaders;
    const uint8_t *body; /* NULL when body_len == 0 */
    size_t body_len;
    bool spooled;         /* the body went to the spool sink (body NULL, body_len 0) */
    uint64_t spooled_len; /* ... this many bytes of it */
    bool keep_alive;      /* HTTP/1.1 default or 1.0 + keep-alive, and no "close" */
    bool upgrade;         /* Connection: upgrade + Upgrade header (or CONNECT) */
};

struct http_parser; /* opaque */

/* Allocate a request parser. lim may be NULL for the defaults.
 * Returns 0 or -ENOMEM. */
int http_parser_new(const struct http_limits *lim, struct http_parser **out)
    __attribute__((warn_unused_result));
/* Accepts NULL. */
void http_parser_free(struct http_parser *p);

/* Feed len bytes. *consumed is set to the bytes used: all of them for
 * HTTP_NEED_MORE, up to the end of the request for HTTP_READY (the rest
 * belongs to the next request, or to the upgraded protocol). Returns
 * HTTP_NEED_MORE, HTTP_READY, or a negative errno (-EBADMSG syntax,
 * -E2BIG over a cap, -ENOTSUP chunked/version, -ENOMEM): then
 * http_parser_status() says what to answer and http_parser_last_error() why.
 * Feeding while a request is READY returns -EBUSY. */
int http_parser_feed(struct http_parser *p, const void *data, size_t len, size_t *consumed)
    __attribute__((warn_unused_result));
/* Bodies over max_request_bytes, streamed instead of buffered. Once a head is complete with a
 * Content-Length over the in-memory cap, decide(ud, head, content_length) runs (head is the
 * request without its body): 1 = spool it -- every body byte then goes to sink(ud, p, n)
 * (0, or < 0 to fail the request with 500 "cannot store the request body"), up to max bytes
 * (a larger Content-Length is 413 without asking) and the request comes out with spooled
 * set --, 0 = 413 as usual, or an HTTP status >= 400 to refuse it with (e.g. 401 before
 * any body byte is read; the parser is dead then, as after any error). */
typedef int (*http_spool_fn)(void *ud, const struct http_request *head, uint64_t content_length);
typedef int (*http_sink_fn)(void *ud, const void *p, size_t n);
void http_parser_set_spool(struct http_parser *p, uint64_t max, http_spool_fn decide,
                           http_sink_fn sink, void *ud);
/* The complete request after HTTP_READY, else NULL. */
const struct http_request *http_parser_request(const struct http_parser *p);
/* Drop the current request and get ready for the next one. */
void http_parser_next(struct http_parser *p);
/* True once per request whose head carried "Expect: 100-continue" (with a
 * body to come) and whose body is still awaited: the caller should send
 * "HTTP/1.1 100 Continue" now. Over-size bodies were already refused (413). */
bool http_parser_take_continue(struct http_parser *p);
/* True while a request has started but is not complete (for timeouts). */
bool http_parser_busy(const struct http_parser *p);
/* HTTP status for the last error (400, 411, 413, 414, 431, 505), 0 if none. */
int http_parser_status(const struct http_parser *p);
const char *http_parser_last_error(const struct http_parser *p);

/* First header named `name` (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/* True if the comma-separated header value lists `token` (case-insensitive). */
bool http_header_has_token(const char *value, const char *token);
/* Find `name` in a query string ("a=1&b=2") and percent-decode its value into
 * out. Returns the decoded length, -ENOENT if absent, -EINVAL for bad
 * escapes, -ENOBUFS if out is too small. */
long http_query_param(const char *query, const char *name, char *out, size_t outlen);

/* Reason phrase for a status code ("Not Found"); "Unknown" if unknown. */
const char *http_status_reason(int status);
/* Append a complete response to out: status line, Content-Type (if ctype),
 * Content-Length, Connection (keep-alive/close), extra_headers verbatim
 * (each line ending in "\r\n"; may be NULL), blank line, body.
 * Returns 0, -ENOBUFS or -ENOMEM (out unchanged on failure is not promised:
 * reset it). */
int http_response_build(struct buf *out, int status, const char *ctype, const void *body,
                        size_t body_len, const char *extra_headers, bool keep_alive)
    __attribute__((warn_unused_result));
