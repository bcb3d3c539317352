/* SPDX-License-Identifier: MIT */
/* fuzz_http.c -- libFuzzer target for the HTTP/1.1 request parser (and the
 * WebSocket handshake check on what it accepts). The first byte picks the
 * chunk size the rest is fed in (1..256; 0 = all at once), so splits at
 * every position get explored; small caps make the limit paths reachable. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/http.h"
#include "api/wss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const struct http_request *r)
{
    volatile size_t sink =
        strlen(r->method) + strlen(r->url) + strlen(r->path) + strlen(r->query) + r->body_len;
    for (size_t i = 0; i < r->nheaders; i++)
        sink += strlen(r->headers[i].name) + strlen(r->headers[i].value);
    if (r->body_len) sink += r->body[r->body_len - 1];
    char v[64];
    sink += (size_t)http_query_param(r->query, "since", v, sizeof(v));
    const char *c = http_request_header(r, "Connection");
    if (c) sink += http_header_has_token(c, "upgrade");
    char acc[WSS_ACCEPT_LEN + 1], err[128];
    int status;
    sink += (size_t)wss_handshake_check(r, acc, &status, err, sizeof(err));
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t chunk = data[0] ? data[0] : size;
    data++;
    size--;
    struct http_limits lim = {
        .max_url = 512, .max_headers = 16, .max_head_bytes = 2048, .max_request_bytes = 4096};
    struct http_parser *p;
    if (http_parser_new(&lim, &p) < 0) return 0;
    size_t off = 0;
    int requests = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used = 0;
        int r = http_parser_feed(p, data + off, n, &used);
        if (used > n) __builtin_trap();
        off += used;
        if (r < 0) {
            int st = http_parser_status(p);
            if (st < 400 || st > 505 || !http_parser_last_error(p)[0]) __builtin_trap();
            break;
        }
        if (r == HTTP_READY) {
            const struct http_request *req = http_parser_request(p);
            touch(req);
            bool upgrade = req->upgrade;
            http_parser_next(p);
            if (upgrade || ++requests > 64) break; /* the server stops speaking HTTP here */
        } else if (used != n) {
            __builtin_trap();
        }
    }
    http_parser_free(p);
    return 0;
}
