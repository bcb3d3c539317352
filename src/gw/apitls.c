/* SPDX-License-Identifier: MIT */
/* apitls.c -- net/tls.h's server codec as the API's transport codec. */
#include "gw/apitls.h"

#include <errno.h>

#include "net/tls.h"

static void *tls_accept(void *ctx)
{
    char err[128];
    return ntls_accept_new(ctx, err, sizeof err);
}

static void tls_free(void *conn)
{
    ntls_free(conn);
}

static int tls_feed(void *conn, const void *p, size_t n)
{
    return ntls_feed(conn, p, n);
}

static int tls_read(void *conn, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (!ntls_handshake_done(conn)) {
        int r = ntls_handshake(conn);
        if (r == -EAGAIN) return 0;
        if (r < 0) return r;
    }
    return ntls_read(conn, buf, cap, got);
}

static int tls_write(void *conn, const void *p, size_t n)
{
    return ntls_write(conn, p, n);
}

static size_t tls_take_out(void *conn, void *buf, size_t cap)
{
    return ntls_take_out(conn, buf, cap);
}

static void tls_shutdown(void *conn)
{
    if (ntls_handshake_done(conn)) (void)ntls_shutdown(conn);
}

const struct api_tls_ops gw_apitls_ops = {
    .accept = tls_accept,
    .free = tls_free,
    .feed = tls_feed,
    .read = tls_read,
    .write = tls_write,
    .take_out = tls_take_out,
    .shutdown = tls_shutdown,
};

struct ntls_server *gw_apitls_new(const char *cert_file, const char *key_file, char *err,
                                  size_t errlen)
{
    struct ntls_server_opts o = {.cert_file = cert_file, .key_file = key_file};
    return ntls_server_new(&o, err, errlen);
}

struct ntls_server *gw_apitls_free(struct ntls_server *s)
{
    return ntls_server_free(s);
}
