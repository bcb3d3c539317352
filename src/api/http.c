/* SPDX-License-Identifier: MIT */
/* http.c -- HTTP/1.1 request parsing on llhttp with hard caps, and responses.
 *
 * llhttp does not buffer: it reports spans of the input. We copy the URL and
 * header spans into one capped buffer (`head`, NUL-terminated strings whose
 * offsets are kept until the head is complete, because the buffer may move
 * while it grows) and the body into another. on_message_complete pauses the
 * parser so exactly one request is exposed at a time; llhttp_get_error_pos()
 * then tells how far the input was consumed, which is what makes pipelining
 * and the hand-over of the bytes that follow a WebSocket upgrade exact.
 */
#include "api/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

enum span_state { SP_NONE, SP_FIELD, SP_AFTER_FIELD, SP_VALUE };

struct http_parser {
    llhttp_t ll;
    llhttp_settings_t settings;
    struct http_limits lim;
    struct buf head; /* url\0 name\0 value\0 ... */
    struct buf body;
    size_t *off; /* 2 * max_headers offsets into head (name, value) */
    struct http_header *hdrs;
    size_t nheaders;
    size_t url_len;
    size_t head_bytes;
    enum span_state span;
    bool started, ready, dead;
    bool expect_continue; /* "Expect: 100-continue" seen, not yet taken */
    bool spooling;        /* this request's body goes to the sink */
    uint64_t spooled;
    uint64_t spool_max;
    http_spool_fn spool_decide;
    http_sink_fn spool_sink;
    void *spool_ud;
    int dead_rc;
    int status;
    struct http_request req;
    char err[160];
};

static struct http_parser *from_ll(llhttp_t *ll)
{
    return ll->data;
}

static int fail(struct http_parser *p, int status, const char *msg)
{
    if (p->status == 0) {
        p->status = status;
        snprintf(p->err, sizeof(p->err), "%s", msg);
    }
    return -1;
}

static int add_head_bytes(struct http_parser *p, size_t n)
{
    p->head_bytes += n;
    if (p->head_bytes > p->lim.max_head_bytes) return fail(p, 431, "request head too large");
    if (p->head_bytes > p->lim.max_request_bytes) return fail(p, 413, "request too large");
    return 0;
}

static int append(struct http_parser *p, const char *at, size_t len)
{
    int r = buf_append(&p->head, at, len);
    if (r == -ENOBUFS) return fail(p, 431, "request head too large");
    if (r < 0) return fail(p, 500, "out of memory");
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    from_ll(ll)->started = true;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = from_ll(ll);
    p->url_len += len;
    if (p->url_len > p->lim.max_url) return fail(p, 414, "request target too long");
    if (add_head_bytes(p, len) < 0) return -1;
    return append(p, at, len);
}

static int on_nul(llhttp_t *ll)
{
    return append(from_ll(ll), "", 1);
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = from_ll(ll);
    if (p->span != SP_FIELD) {
        if (p->nheaders >= p->lim.max_headers) return fail(p, 431, "too many header fields");
        p->off[2 * p->nheaders] = p->head.len;
        p->nheaders++;
        p->span = SP_FIELD;
        if (add_head_bytes(p, 4) < 0) /* ": " and CRLF */
            return -1;
    }
    if (add_head_bytes(p, len) < 0) return -1;
    return append(p, at, len);
}

/* RFC 9110 token characters; llhttp lets a few others (space) through. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int on_header_field_complete(llhttp_t *ll)
{
    struct http_parser *p = from_ll(ll);
    if (p->span != SP_FIELD || p->nheaders == 0) /* no field bytes at all */
        return fail(p, 400, "empty header name");
    p->span = SP_AFTER_FIELD;
    size_t start = p->off[2 * (p->nheaders - 1)];
    for (size_t i = start; i < p->head.len; i++)
        if (!is_tchar(p->head.data[i])) return fail(p, 400, "invalid character in header name");
    return on_nul(ll);
}

static int start_value(struct http_parser *p)
{
    if (p->span == SP_AFTER_FIELD) {
        p->off[2 * p->nheaders - 1] = p->head.len;
        p->span = SP_VALUE;
    }
    return p->span == SP_VALUE ? 0 : fail(p, 400, "header value without a name");
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = from_ll(ll);
    if (start_value(p) < 0 || add_head_bytes(p, len) < 0) return -1;
    return append(p, at, len);
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct http_parser *p = from_ll(ll);
    if (start_value(p) < 0) /* an empty value had no on_header_value call */
        return -1;
    p->span = SP_NONE;
    return on_nul(ll);
}

/* Offsets become pointers once the head buffer stops growing. */
static void finish_head(struct http_parser *p)
{
    const char *base = (const char *)p->head.data;
    for (size_t i = 0; i < p->nheaders; i++) {
        p->hdrs[i].name = base + p->off[2 * i];
        p->hdrs[i].value = base + p->off[2 * i + 1];
    }
    struct http_request *r = &p->req;
    r->method = llhttp_method_name((llhttp_method_t)p->ll.method);
    r->url = base;
    r->headers = p->hdrs;
    r->nheaders = p->nheaders;
    r->version_major = p->ll.http_major;
    r->version_minor = p->ll.http_minor;
    const char *q = strchr(base, '?');
    r->query = q ? q + 1 : "";
    r->path = base;
    if (q) {
        /* a NUL-terminated copy of the path goes in the spare room that
         * on_headers_complete reserved after the strings */
        size_t plen = (size_t)(q - base);
        char *path = (char *)base + p->head.len; /* spare room reserved below */
        memcpy(path, base, plen);
        path[plen] = '\0';
        r->path = path;
    }
}

static int on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = from_ll(ll);
    if (p->url_len == 0 || p->head.len == 0) return fail(p, 400, "empty request target");
    /* room for the NUL-terminated path copy made by finish_head */
    if (buf_reserve(&p->head, p->url_len + 1) < 0) return fail(p, 431, "request head too large");
    finish_head(p);
    if (ll->http_major != 1) return fail(p, 505, "HTTP version not supported");
    if (ll->flags & (F_TRANSFER_ENCODING | F_CHUNKED))
        return fail(p, 411, "Transfer-Encoding not accepted; send Content-Length");
    if (ll->http_minor >= 1 && !http_request_header(&p->req, "Host"))
        return fail(p, 400, "missing Host header");
    if ((ll->flags & F_CONTENT_LENGTH) &&
        ll->content_length > p->lim.max_request_bytes - p->head_bytes) {
        int d = p->spool_decide && ll->content_length <= p->spool_max
                    ? p->spool_decide(p->spool_ud, &p->req, ll->content_length)
                    : 0;
        if (d >= 400) return fail(p, d, d == 401 ? "missing or bad token" : "request refused");
        if (d != 1) return fail(p, 413, "request body too large");
        p->spooling = true;
    }
    const char *expect = http_request_header(&p->req, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && ll->content_length > 0 &&
        ll->http_minor >= 1)
        p->expect_continue = true;
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = from_ll(ll);
    if (p->spooling) {
        if (p->spooled + len > p->spool_max) return fail(p, 413, "request body too large");
        if (p->spool_sink(p->spool_ud, at, len) < 0)
            return fail(p, 500, "cannot store the request body");
        p->spooled += len;
        return 0;
    }
    if (p->body.len + len > p->lim.max_request_bytes - p->head_bytes)
        return fail(p, 413, "request body too large");
    if (buf_append(&p->body, at, len) < 0) return fail(p, 500, "out of memory");
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct http_parser *p = from_ll(ll);
    p->req.body = p->body.len ? p->body.data : NULL;
    p->req.body_len = p->body.len;
    p->req.spooled = p->spooling;
    p->req.spooled_len = p->spooled;
    p->req.keep_alive = llhttp_should_keep_alive(ll) != 0;
    p->req.upgrade = ll->upgrade != 0;
    p->ready = true;
    return HPE_PAUSED;
}

static void set_limits(struct http_limits *d, const struct http_limits *s)
{
    struct http_limits z = {0};
    if (!s) s = &z;
    d->max_url = s->max_url ? s->max_url : 8192;
    d->max_headers = s->max_headers ? s->max_headers : 64;
    d->max_head_bytes = s->max_head_bytes ? s->max_head_bytes : 16384;
    d->max_request_bytes = s->max_request_bytes ? s->max_request_bytes : 1024 * 1024;
}

int http_parser_new(const struct http_limits *lim, struct http_parser **out)
{
    *out = NULL;
    struct http_parser *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    set_limits(&p->lim, lim);
    p->off = calloc(2 * p->lim.max_headers, sizeof(*p->off));
    p->hdrs = calloc(p->lim.max_headers, sizeof(*p->hdrs));
    if (!p->off || !p->hdrs) {
        http_parser_free(p);
        return -ENOMEM;
    }
    /* strings + NULs + a path copy */
    buf_init(&p->head, 2 * (p->lim.max_head_bytes + 2 * p->lim.max_headers + 2));
    buf_init(&p->body, p->lim.max_request_bytes);
    llhttp_settings_t *s = &p->settings;
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_url_complete = on_nul;
    s->on_header_field = on_header_field;
    s->on_header_field_complete = on_header_field_complete;
    s->on_header_value = on_header_value;
    s->on_header_value_complete = on_header_value_complete;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
    llhttp_init(&p->ll, HTTP_REQUEST, s);
    p->ll.data = p;
    *out = p;
    return 0;
}

void http_parser_set_spool(struct http_parser *p, uint64_t max, http_spool_fn decide,
                           http_sink_fn sink, void *ud)
{
    p->spool_max = decide && sink ? max : 0;
    p->spool_decide = decide;
    p->spool_sink = sink;
    p->spool_ud = ud;
}

void http_parser_free(struct http_parser *p)
{
    if (!p) return;
    buf_free(&p->head);
    buf_free(&p->body);
    free(p->off);
    free(p->hdrs);
    free(p);
}

static int map_error(struct http_parser *p, llhttp_errno_t e)
{
    if (p->status == 0) {
        /* a well-formed but unsupported version is 505, a garbled one 400 */
        bool unsupported = e == HPE_INVALID_VERSION && p->ll.reason &&
                           strcmp(p->ll.reason, "Invalid HTTP version") == 0;
        p->status = unsupported ? 505 : 400;
        snprintf(p->err, sizeof(p->err), "%s: %s", llhttp_errno_name(e),
                 p->ll.reason ? p->ll.reason : "bad request");
    }
    p->dead = true;
    switch (p->status) {
    case 413:
    case 414:
    case 431:
        p->dead_rc = -E2BIG;
        break;
    case 411:
    case 505:
        p->dead_rc = -ENOTSUP;
        break;
    case 500:
        p->dead_rc = -ENOMEM;
        break;
    default:
        p->dead_rc = -EBADMSG;
    }
    return p->dead_rc;
}

int http_parser_feed(struct http_parser *p, const void *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->dead) return p->dead_rc;
    if (p->ready) return -EBUSY;
    if (len == 0) return HTTP_NEED_MORE;
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    if (e == HPE_OK) {
        *consumed = len;
        return HTTP_NEED_MORE;
    }
    if ((e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) && p->ready) {
        const char *pos = llhttp_get_error_pos(&p->ll);
        const char *d = data;
        *consumed = (pos >= d && pos <= d + len) ? (size_t)(pos - d) : len;
        return HTTP_READY;
    }
    return map_error(p, e);
}

const struct http_request *http_parser_request(const struct http_parser *p)
{
    return p->ready ? &p->req : NULL;
}

void http_parser_next(struct http_parser *p)
{
    if (!p->ready) return;
    buf_reset(&p->head);
    buf_reset(&p->body);
    memset(&p->req, 0, sizeof(p->req));
    p->nheaders = 0;
    p->url_len = 0;
    p->head_bytes = 0;
    p->span = SP_NONE;
    p->started = p->ready = p->expect_continue = p->spooling = false;
    p->spooled = 0;
    if (llhttp_get_errno(&p->ll) == HPE_PAUSED_UPGRADE)
        llhttp_resume_after_upgrade(&p->ll);
    else
        llhttp_resume(&p->ll);
}

bool http_parser_take_continue(struct http_parser *p)
{
    bool r = p->expect_continue && !p->ready && !p->dead;
    p->expect_continue = false;
    return r;
}

bool http_parser_busy(const struct http_parser *p)
{
    return p->started && !p->ready;
}

int http_parser_status(const struct http_parser *p)
{
    return p->status;
}

const char *http_parser_last_error(const struct http_parser *p)
{
    return p->err;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

bool http_header_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *s = value;
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == tl && strncasecmp(s, token, tl) == 0) return true;
        s = e;
    }
    return false;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long decode_component(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) return -EINVAL;
            int h = unhex(s[i + 1]), l = unhex(s[i + 2]);
            if (h < 0 || l < 0) return -EINVAL;
            c = (char)(h << 4 | l);
            i += 2;
        }
        if (o + 1 >= outlen) return -ENOBUFS;
        out[o++] = c;
    }
    if (outlen == 0) return -ENOBUFS;
    out[o] = '\0';
    return (long)o;
}

long http_query_param(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *s = query;
    while (s && *s) {
        const char *e = strchr(s, '&');
        size_t seg = e ? (size_t)(e - s) : strlen(s);
        if (seg >= nl && strncmp(s, name, nl) == 0 && (seg == nl || s[nl] == '=')) {
            size_t vo = seg == nl ? nl : nl + 1;
            return decode_component(s + vo, seg - vo, out, outlen);
        }
        s = e ? e + 1 : NULL;
    }
    return -ENOENT;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

int http_response_build(struct buf *out, int status, const char *ctype, const void *body,
                        size_t body_len, const char *extra_headers, bool keep_alive)
{
    int r = buf_printf(out, "HTTP/1.1 %d %s\r\n", status, http_status_reason(status));
    if (r == 0 && ctype) r = buf_printf(out, "Content-Type: %s\r\n", ctype);
    if (r == 0)
        r = buf_printf(out, "Content-Length: %zu\r\nConnection: %s\r\n", body_len,
                       keep_alive ? "keep-alive" : "close");
    if (r == 0 && extra_headers) r = buf_append_str(out, extra_headers);
    if (r == 0) r = buf_append(out, "\r\n", 2);
    if (r == 0 && body_len) r = buf_append(out, body, body_len);
    return r;
}
