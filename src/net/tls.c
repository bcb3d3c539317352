/* SPDX-License-Identifier: MIT */
/* tls.c -- OpenSSL client and server over a pair of memory BIOs, with error classification.
 *
 * OpenSSL's error queue is per thread; every operation clears it first so that the
 * classification only sees errors of this call. The last alert received is captured
 * with an info callback, because the error queue only carries a generic reason.
 */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct ntls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio; /* network -> OpenSSL */
    BIO *wbio; /* OpenSSL -> network */
    bool hs_done;
    bool eof;
    int alert; /* last fatal alert received, -1 none */
    struct nout out;
};

/* Records the peer's fatal alert in the codec; the SSL's app data (ex_data slot 0, which
 * OpenSSL reserves for it) points to the struct ntls. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    struct ntls *t;

    if (!(where & SSL_CB_READ_ALERT)) return;
    t = SSL_get_app_data(ssl);
    if (t && (ret >> 8) == SSL3_AL_FATAL) t->alert = ret & 0xff;
}

static int ctx_setup(struct ntls *t, const struct ntls_opts *o, char *err, size_t errlen)
{
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_info_callback(t->ctx, info_cb);
    /* EOF without close_notify ends the stream like close_notify; the WebSocket layer
     * above decides whether the stream was complete. */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (o->ca_file && *o->ca_file) {
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1) {
            snprintf(err, errlen, "cannot load CA file %s", o->ca_file);
            return -EINVAL;
        }
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        snprintf(err, errlen, "cannot load the system CA store");
        return -EINVAL;
    }
    return 0;
}

/* The SSL object and its two memory BIOs (shared by both modes). */
static int bio_setup(struct ntls *t, char *err, size_t errlen)
{
    t->ssl = SSL_new(t->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->rbio = t->wbio = NULL;
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    BIO_set_mem_eof_return(t->rbio, -1); /* empty = retry, until EOF is fed */
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_app_data(t->ssl, t);
    return 0;
}

static int host_setup(struct ntls *t, const char *host, char *err, size_t errlen)
{
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

    SSL_set_connect_state(t->ssl);
    if (literal) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1) goto bad_host;
    } else if (SSL_set_tlsext_host_name(t->ssl, host) != 1 || SSL_set1_host(t->ssl, host) != 1) {
        goto bad_host;
    }
    return 0;
bad_host:
    snprintf(err, errlen, "invalid TLS host name");
    return -EINVAL;
}

static struct ntls *ntls_alloc(char *err, size_t errlen)
{
    struct ntls *t;

    t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->alert = -1;
    ERR_clear_error();
    return t;
}

struct ntls *ntls_new(const struct ntls_opts *o, char *err, size_t errlen)
{
    struct ntls *t;

    if (!o || !o->host || !*o->host) {
        snprintf(err, errlen, "no TLS host");
        return NULL;
    }
    t = ntls_alloc(err, errlen);
    if (!t) return NULL;
    if (ctx_setup(t, o, err, errlen) || bio_setup(t, err, errlen) ||
        host_setup(t, o->host, err, errlen))
        return ntls_free(t);
    return t;
}

/* ---- server mode ---------------------------------------------------------------------- */

struct ntls_server {
    SSL_CTX *ctx;
};

/* "cannot load WHAT PATH (reason)" from the OpenSSL error queue. */
static void load_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long ec = ERR_peek_last_error();
    const char *r = ec ? ERR_reason_error_string(ec) : NULL;

    snprintf(err, errlen, "cannot load %s%s%s (%s)", what, path ? " " : "", path ? path : "",
             r ? r : "unknown error");
}

static int server_creds(SSL_CTX *ctx, const struct ntls_server_opts *o, char *err, size_t errlen)
{
    if (!o->cert_file == !o->cert || !o->key_file == !o->key) {
        snprintf(err, errlen, "need exactly one certificate and one key");
        return -EINVAL;
    }
    if (o->cert_file ? SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1
                     : SSL_CTX_use_certificate(ctx, o->cert) != 1) {
        load_error(err, errlen, "certificate", o->cert_file);
        return -EINVAL;
    }
    if (o->key_file ? SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1
                    : SSL_CTX_use_PrivateKey(ctx, o->key) != 1) {
        load_error(err, errlen, "private key", o->key_file);
        return -EINVAL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "private key does not match the certificate");
        return -EINVAL;
    }
    return 0;
}

struct ntls_server *ntls_server_new(const struct ntls_server_opts *o, char *err, size_t errlen)
{
    struct ntls_server *s = calloc(1, sizeof(*s));

    if (!s || !o) {
        snprintf(err, errlen, s ? "no server options" : "out of memory");
        free(s);
        return NULL;
    }
    ERR_clear_error();
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (!s->ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        return ntls_server_free(s);
    }
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
    SSL_CTX_set_info_callback(s->ctx, info_cb);
    SSL_CTX_set_options(s->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    if (server_creds(s->ctx, o, err, errlen) < 0) return ntls_server_free(s);
    ERR_clear_error();
    return s;
}

struct ntls_server *ntls_server_free(struct ntls_server *s)
{
    if (!s) return NULL;
    SSL_CTX_free(s->ctx);
    ERR_clear_error();
    free(s);
    return NULL;
}

struct ntls *ntls_accept_new(struct ntls_server *s, char *err, size_t errlen)
{
    struct ntls *t;

    if (!s) {
        snprintf(err, errlen, "no TLS server");
        return NULL;
    }
    t = ntls_alloc(err, errlen);
    if (!t) return NULL;
    SSL_CTX_up_ref(s->ctx);
    t->ctx = s->ctx;
    if (bio_setup(t, err, errlen)) return ntls_free(t);
    SSL_set_accept_state(t->ssl);
    return t;
}

struct ntls *ntls_free(struct ntls *t)
{
    if (!t) return NULL;
    SSL_free(t->ssl); /* frees both BIOs */
    SSL_CTX_free(t->ctx);
    ERR_clear_error();
    free(t);
    return NULL;
}

int ntls_feed(struct ntls *t, const void *data, size_t n)
{
    if (n == 0) return 0;
    if (BIO_ctrl_pending(t->rbio) + n > NTLS_MAX_PENDING_IN || n > INT32_MAX) return -ENOBUFS;
    if (BIO_write(t->rbio, data, (int)n) != (int)n) return -ENOMEM;
    return 0;
}

void ntls_feed_eof(struct ntls *t)
{
    t->eof = true;
    BIO_set_mem_eof_return(t->rbio, 0);
}

/* OpenSSL 3.0 has no long names for the TLS 1.3 alerts. */
static const char *alert_name(int a)
{
    const char *n = SSL_alert_desc_string_long(a);

    if (n && strcmp(n, "unknown") != 0) return n;
    switch (a) {
    case 109:
        return "missing extension";
    case 112:
        return "unrecognized name";
    case 116:
        return "certificate required";
    case 120:
        return "no application protocol";
    default:
        return "unknown";
    }
}

static int classify_eof(struct ntls *t)
{
    if (!t->hs_done)
        nout_set(&t->out, NOUT_TLS, NOUT_C_EOF, -EPIPE, 0, "tls: closed during handshake");
    else
        nout_set(&t->out, NOUT_TLS, NOUT_C_EOF, -EPIPE, 0, "tls: closed without close_notify");
    return -EPIPE;
}

/* Classify a failed SSL_* call; returns -EAGAIN when it only needs more input. */
static int classify(struct ntls *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    long vr;
    unsigned long ec;

    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return t->eof ? classify_eof(t) : -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN && !t->hs_done) return classify_eof(t);
    if (e == SSL_ERROR_ZERO_RETURN) {
        nout_set(&t->out, NOUT_TLS, NOUT_C_EOF, -EPIPE, 0, "tls: closed by peer (close_notify)");
        return -EPIPE;
    }
    vr = SSL_get_verify_result(t->ssl);
    if (!t->hs_done && vr != X509_V_OK) {
        nout_set(&t->out, NOUT_TLS, NOUT_C_CERT_VERIFY, -EPROTO, vr,
                 "tls: certificate verify failed (%s)", X509_verify_cert_error_string(vr));
        return -EPROTO;
    }
    if (t->alert >= 0) {
        nout_set(&t->out, NOUT_TLS, NOUT_C_TLS_ALERT, -EPROTO, t->alert, "tls: alert %s (%d)",
                 alert_name(t->alert), t->alert);
        return -EPROTO;
    }
    if (t->eof && BIO_ctrl_pending(t->rbio) == 0)
        return classify_eof(t); /* the error only says "unexpected eof" */
    ec = ERR_peek_last_error();
    nout_set(&t->out, NOUT_TLS, NOUT_C_PROTOCOL, -EPROTO, (long)ERR_GET_REASON(ec),
             "tls: protocol error (%s)", ec ? ERR_reason_error_string(ec) : "unknown");
    return -EPROTO;
}

int ntls_handshake(struct ntls *t)
{
    int r;

    if (t->hs_done) return 0;
    ERR_clear_error();
    r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->hs_done = true;
        return 0;
    }
    return classify(t, r);
}

bool ntls_handshake_done(const struct ntls *t)
{
    return t->hs_done;
}

int ntls_write(struct ntls *t, const void *data, size_t n)
{
    size_t done = 0;

    if (!t->hs_done) return -ENOTCONN;
    if (ntls_pending_out(t) + n > NTLS_MAX_PENDING_OUT) return -ENOBUFS;
    while (done < n) {
        size_t w = 0;
        int r;

        ERR_clear_error();
        r = SSL_write_ex(t->ssl, (const uint8_t *)data + done, n - done, &w);
        if (r != 1) {
            r = classify(t, r);
            return r == -EAGAIN ? -EIO : r; /* memory BIOs never block a write */
        }
        done += w;
    }
    return 0;
}

int ntls_read(struct ntls *t, void *buf, size_t cap, size_t *got)
{
    int r;

    *got = 0;
    if (!t->hs_done) return -ENOTCONN;
    ERR_clear_error();
    r = SSL_read_ex(t->ssl, buf, cap, got);
    if (r == 1) return 0;
    *got = 0;
    r = classify(t, r);
    return r == -EAGAIN ? 0 : r;
}

int ntls_shutdown(struct ntls *t)
{
    int r;

    if (!t->hs_done) return -ENOTCONN;
    ERR_clear_error();
    r = SSL_shutdown(t->ssl); /* 0: sent, peer's not yet seen; 1: both done */
    if (r >= 0) return 0;
    r = classify(t, r);
    return r == -EAGAIN ? 0 : r;
}

size_t ntls_pending_out(const struct ntls *t)
{
    return BIO_ctrl_pending(t->wbio);
}

size_t ntls_take_out(struct ntls *t, void *buf, size_t cap)
{
    int r;

    if (cap > INT32_MAX) cap = INT32_MAX;
    r = BIO_read(t->wbio, buf, (int)cap);
    return r > 0 ? (size_t)r : 0;
}

const struct nout *ntls_outcome(const struct ntls *t)
{
    return &t->out;
}
