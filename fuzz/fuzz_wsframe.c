/* SPDX-License-Identifier: MIT */
/* fuzz_wsframe.c -- libFuzzer harness for the WebSocket client codec (wsc.h).
 *
 * Byte 0 picks the starting state, byte 1 the chunk size:
 *   mode 0: the input is the server's upgrade response (llhttp path);
 *   mode 1: a valid 101 is fed first, the input is the frame stream (wslay recv path);
 *   mode 2: a valid 101 with the input appended in the same feed (trailing-bytes path);
 *   mode 3: like 1, and the client sends/closes between chunks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net/wsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void f_open(void *ud) {}

static void f_msg(void *ud, const uint8_t *d, size_t n)
{
    uint8_t x = 0;

    for (size_t i = 0; i < n; i++)
        x ^= d[i];
    sink = x;
}

static void f_close(void *ud, const struct nout *o)
{
    sink = (uint8_t)o->text[0];
}

static void drain(struct wsc *w)
{
    size_t len;

    (void)wsc_out(w, &len);
    wsc_out_consume(w, len);
}

static void feed_chunks(struct wsc *w, const uint8_t *p, size_t n, size_t chunk, int mode)
{
    size_t off = 0;

    while (off < n && !wsc_is_done(w)) {
        size_t k = n - off < chunk ? n - off : chunk;

        (void)wsc_feed(w, p + off, k);
        off += k;
        if (mode == 3 && wsc_is_open(w)) {
            if (p[off - 1] & 1) (void)wsc_send_binary(w, p + off - k, k);
            if ((p[off - 1] & 0x7e) == 0x7e) (void)wsc_close(w, 1000);
        }
        drain(w);
    }
    if (!wsc_is_done(w)) wsc_feed_eof(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct wsc_cbs cbs = {.on_open = f_open, .on_message = f_msg, .on_close = f_close};
    struct wsc_opts o = {
        .host = "web.whatsapp.com", .path = "/ws/chat", .max_msg = 1 << 16, .max_header = 4096};
    char err[64], head[256];
    uint8_t joined[8192];
    struct wsc *w;
    int mode, hn;
    size_t chunk;

    if (size < 2) return 0;
    mode = data[0] & 3;
    chunk = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    w = wsc_new(&o, &cbs, NULL, err, sizeof(err));
    if (!w) return 0;
    drain(w);
    hn = snprintf(head, sizeof(head),
                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                  wsc_expected_accept(w));
    if (mode == 0) {
        feed_chunks(w, data, size, chunk, mode);
    } else if (mode == 2 && (size_t)hn + size <= sizeof(joined)) {
        memcpy(joined, head, (size_t)hn);
        memcpy(joined + hn, data, size);
        feed_chunks(w, joined, (size_t)hn + size, (size_t)hn + size, mode);
    } else {
        (void)wsc_feed(w, (const uint8_t *)head, (size_t)hn);
        feed_chunks(w, data, size, chunk, mode);
    }
    wsc_free(w);
    return 0;
}
