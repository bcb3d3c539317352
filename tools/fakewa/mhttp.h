/* SPDX-License-Identifier: MIT */
/* mhttp.h -- the transport of fakewa's media host (media.h): HTTPS (net/tls.h server codec
 * with the test CA's certificate, s->tls) with streamed request and response bodies.
 *
 * One request per connection (every response says `Connection: close`). The request head
 * (at most MHTTP_HEAD_MAX bytes) is parsed here; the body (Content-Length only; chunked is
 * refused with 411) is handed to the handler in pieces as it arrives, so an upload never sits
 * in memory; `Expect: 100-continue` is answered once the handler accepted the head. A response
 * is either a small buffer or a file streamed from disk in MHTTP_CHUNK pieces, the next piece
 * read only when less than MHTTP_CHUNK * 4 is waiting to be written (constant memory per
 * connection). File I/O is synchronous on the loop: this is a test tool serving loopback
 * clients. Caps: MHTTP_MAX_CONNS live connections, an idle connection (no byte for
 * MHTTP_IDLE_MS) is closed.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "server.h"

#define MHTTP_HEAD_MAX  16384
#define MHTTP_CHUNK     65536
#define MHTTP_MAX_CONNS 256
#define MHTTP_IDLE_MS   30000

struct mhttp_conn;

struct mhttp_req {
    char method[8];
    char path[1024];  /* target before '?', not decoded */
    char query[1024]; /* after '?', "" if none */
    uint64_t content_length;
    char range[64]; /* the Range header's value, "" if none */
};

/* The handler of one listener. Each callback runs on the loop; `c` stays valid until
 * done() is called for it (after a response was sent or the peer went away). */
struct mhttp_handler {
    /* A complete head. Answer now (mhttp_reply_*) or, for a request with a body, return 0
     * to take the body; a negative return answers 500. */
    int (*on_head)(struct mhttp_conn *c, const struct mhttp_req *r);
    /* A piece of the body; a negative return answers 500 unless a reply was sent. */
    int (*on_body)(struct mhttp_conn *c, const uint8_t *p, size_t n);
    /* The whole body arrived: reply now. */
    void (*on_end)(struct mhttp_conn *c);
    /* The connection is gone (after a reply or an error): free the handler's state. */
    void (*done)(struct mhttp_conn *c);
};

/* Listen on host:port (0 = any) with TLS (s->tls must be set); *bound gets the port. */
int mhttp_listen(struct fw_server *s, const struct mhttp_handler *h, const char *host, int port,
                 int *bound) __attribute__((warn_unused_result));
void mhttp_shutdown(void);

/* Handler state of the connection (NULL at first). */
void *mhttp_ud(struct mhttp_conn *c);
void mhttp_set_ud(struct mhttp_conn *c, void *ud);

/* A small response (JSON or text) and close. The first reply wins; later ones are ignored. */
void mhttp_reply(struct mhttp_conn *c, int status, const char *ctype, const char *body);
/* Stream `len` bytes of the open file fd from `off` (the connection owns fd and closes it)
 * with extra header lines (each ending in "\r\n", may be NULL). send_max < len (a fault)
 * announces len but closes after send_max bytes of body. */
void mhttp_reply_file(struct mhttp_conn *c, int status, int fd, uint64_t off, uint64_t len,
                      uint64_t send_max, const char *extra_headers);
