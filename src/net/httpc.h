/* SPDX-License-Identifier: MIT */
/* httpc.h -- one HTTP(S) request on the libuv loop (webhook deliveries, gw/webhook.h; media
 * transfers, wa/mediaxfer.h: a streamed request body and a streamed response body).
 *
 * nhttp_post() sends one request over a fresh connection (`Connection: close`) and reports
 * the response's status code: DNS through c-ares (net/dns.h; IP literals skip it), TCP to
 * each resolved address in turn, TLS for https:// (net/tls.h: the server's certificate and
 * name are verified against the system store or `ca_file`), the request, then the response
 * status line and headers. The response body is not read (unless data_fn streams it, below):
 * once the header block is complete (or the peer closed after the status line) the result is
 * final and the connection dropped.
 *
 * Deadlines: `connect_timeout_ms` covers DNS + TCP + TLS; `response_timeout_ms` runs from the
 * moment the connection is ready to the end of the response headers (writing the request
 * included). Limits: the request body is at most NHTTP_BODY_MAX bytes (-EMSGSIZE); at most
 * `max_response` bytes of response are read (then the result is an error "response too
 * large": the status line and headers must fit).
 *
 * The result arrives exactly once through the callback, from a loop callback (never from
 * nhttp_post itself), unless nhttp_cancel() was called first: then the callback never runs.
 * The request frees itself after the callback (handles are closed on later iterations: the
 * loop must keep running). Strings and the body are copied.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define NHTTP_BODY_MAX     (4u << 20)
#define NHTTP_HEADERS_MAX  16 /* extra request headers */
#define NHTTP_RESPONSE_MAX (64u << 10)

struct nhttp;

/* Pull up to cap request-body bytes into buf: 0 with *got > 0, -EAGAIN when none is ready
 * yet (call nhttp_resume() once there is), another negative errno to abort the request
 * (the result then carries it). Called from loop callbacks, never once the body is out. */
typedef int (*nhttp_body_fn)(void *ud, uint8_t *buf, size_t cap, size_t *got);
/* The response head is complete: status and the Content-Length (-1: none), then body bytes.
 * Called with p == NULL, n == 0 once for the head, then with data. A negative return aborts
 * the request with that error. */
typedef int (*nhttp_data_fn)(void *ud, int status, int64_t content_length, const uint8_t *p,
                             size_t n);

struct nhttp_opts {
    const char *url;                /* http://... or https://... (required) */
    const char *const *headers;     /* extra "Name: value" lines (no CR/LF inside) */
    size_t nheaders;                /* <= NHTTP_HEADERS_MAX */
    const void *body;               /* sent with Content-Length */
    size_t body_len;                /* <= NHTTP_BODY_MAX */
    const char *content_type;       /* NULL = application/json */
    const char *ca_file;            /* PEM bundle for https; NULL = the system store */
    const char *const *dns_servers; /* "ip[:port]"; none = resolv.conf */
    size_t ndns_servers;
    int connect_timeout_ms;  /* DNS + TCP + TLS; <= 0: 10000 */
    int response_timeout_ms; /* request out + response headers in; <= 0: 10000 */
    size_t max_response;     /* bytes of response read at most; 0 = 16 KiB, <= RESPONSE_MAX */
    /* ---- streaming (media transfers); all optional, zero = the behaviour above ---- */
    const char *method; /* "GET", "POST", "PUT"; NULL = POST */
    /* A request body of exactly body_stream_len bytes pulled from body_fn (instead of
     * body/body_len, which must then be empty; no NHTTP_BODY_MAX cap). */
    nhttp_body_fn body_fn;
    uint64_t body_stream_len;
    /* The response body streamed to data_fn after the head: the result then comes once the
     * body is complete (Content-Length reached, or the peer's close when there is none;
     * chunked bodies are decoded). With streaming, response_timeout_ms is an idle timeout:
     * it restarts whenever bytes move either way. */
    nhttp_data_fn data_fn;
    void *stream_ud; /* passed to body_fn and data_fn */
};

struct nhttp_result {
    int status;       /* HTTP status code (100..599), 0 when there was no valid response */
    int err;          /* 0 with a status, else a negative errno (-ETIMEDOUT, -ECONNREFUSED,
                         -EPROTO bad response, -EMSGSIZE response over the cap, ...) */
    char detail[200]; /* one line: "HTTP 500", "connect: ECONNREFUSED 127.0.0.1:9",
                         "response: timeout", "tls: certificate verify failed (...)" */
};

/* `r` is valid during the call only. */
typedef void (*nhttp_cb)(void *ud, const struct nhttp_result *r);

/* Start the request. 0 and *out, or a negative errno with nothing started and no callback:
 * -EINVAL (bad URL or header, with the reason in err), -EMSGSIZE (body), -ENOMEM. */
int nhttp_post(uv_loop_t *loop, const struct nhttp_opts *o, nhttp_cb cb, void *ud,
               struct nhttp **out, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Stop a request whose callback has not run yet: no callback, memory freed later. */
void nhttp_cancel(struct nhttp *h);
/* body_fn returned -EAGAIN and now has bytes: pull again (from a later loop iteration is
 * fine; a no-op when the request is not waiting for the body). */
void nhttp_resume(struct nhttp *h);

/* Parse the status code of a response head "HTTP/1.x NNN ...\r\n": the code (100..599),
 * 0 when more bytes are needed, -EPROTO when it is not an HTTP/1 status line. */
int nhttp_parse_status(const char *p, size_t n);
