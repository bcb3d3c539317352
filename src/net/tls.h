/* SPDX-License-Identifier: MIT */
/* tls.h -- sans-I/O TLS client and server (OpenSSL 3 over memory BIOs, no fd given to OpenSSL).
 *
 * One codec type, two ways to make it: ntls_new() for a client, ntls_accept_new() for the
 * server side of one accepted connection (configured once by ntls_server_new() with a
 * certificate chain and key, from PEM files or in-memory OpenSSL objects).
 * Bytes received from the network go in with ntls_feed(); bytes to send come out of
 * ntls_take_out(). The caller drives the handshake with ntls_handshake() after every
 * feed, then moves application data with ntls_write()/ntls_read(). A client verifies the
 * server's certificate against the system CA store or `ca_file`, and the peer name against
 * the host (SNI and SSL_set1_host for names, IP SAN check for literals). A server asks for
 * no client certificate.
 *
 * Every failure fills the object's outcome (ntls_outcome()) with stage NOUT_TLS and a
 * text such as "tls: certificate verify failed (hostname mismatch)".
 * Limits: ntls_write() refuses more than NTLS_MAX_PENDING_OUT bytes of unsent
 * ciphertext (-ENOBUFS); the input side holds at most NTLS_MAX_PENDING_IN bytes.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/outcome.h"

#define NTLS_MAX_PENDING_OUT (64u << 20)
#define NTLS_MAX_PENDING_IN  (1u << 20)

struct ntls_opts {
    const char *host;    /* name or IP literal to verify (required) */
    const char *ca_file; /* PEM bundle; NULL = system default verify paths */
};

struct ntls;

/* Server configuration: exactly one of cert_file/cert and one of key_file/key. */
struct x509_st;     /* OpenSSL X509 */
struct evp_pkey_st; /* OpenSSL EVP_PKEY */
struct ntls_server_opts {
    const char *cert_file;   /* PEM: the leaf first, then any intermediates */
    const char *key_file;    /* PEM private key of the leaf */
    struct x509_st *cert;    /* in-memory leaf (borrowed; the server takes its own reference) */
    struct evp_pkey_st *key; /* in-memory key (borrowed; likewise) */
};

/* A server configuration shared by every accepted connection (one SSL_CTX: TLS 1.2+,
 * no client certificates, no renegotiation). */
struct ntls_server;

/* Load the certificate and key and check that they match. Returns NULL on failure with a
 * reason in err (e.g. "cannot load certificate /x/server.pem (no such file)"). */
struct ntls_server *ntls_server_new(const struct ntls_server_opts *o, char *err, size_t errlen);
/* NULL is accepted; returns NULL. Codecs made from it stay valid (they hold a reference). */
struct ntls_server *ntls_server_free(struct ntls_server *s);
/* The server-side codec of one accepted connection; driven with the same calls as a client
 * (feed, handshake, take_out, read, write). Failures are outcomes too, e.g. a client that
 * rejects our certificate gives "tls: alert unknown CA (48)", plain HTTP gives
 * "tls: protocol error (http request)". NULL on failure with a reason in err. */
struct ntls *ntls_accept_new(struct ntls_server *s, char *err, size_t errlen);

/* Create a client. Returns NULL on failure with a reason in err (NUL-terminated). */
struct ntls *ntls_new(const struct ntls_opts *o, char *err, size_t errlen);
/* NULL is accepted; returns NULL. */
struct ntls *ntls_free(struct ntls *t);

/* Queue ciphertext received from the peer. -ENOBUFS if more than NTLS_MAX_PENDING_IN
 * bytes would be waiting unread. */
int ntls_feed(struct ntls *t, const void *data, size_t n) __attribute__((warn_unused_result));
/* The transport reached EOF: later reads/handshakes report it. */
void ntls_feed_eof(struct ntls *t);

/* Advance the handshake: 0 = complete, -EAGAIN = needs more input (send ntls_take_out()
 * first), other negative = failed (see ntls_outcome()). */
int ntls_handshake(struct ntls *t) __attribute__((warn_unused_result));
bool ntls_handshake_done(const struct ntls *t);

/* Encrypt all of `n` bytes. 0, or a negative error (outcome filled). */
int ntls_write(struct ntls *t, const void *data, size_t n) __attribute__((warn_unused_result));
/* Decrypt up to cap bytes: 0 with *got > 0, 0 with *got == 0 (need more input),
 * -EPIPE after the peer's close_notify or transport EOF, other negative = error. */
int ntls_read(struct ntls *t, void *buf, size_t cap, size_t *got)
    __attribute__((warn_unused_result));

/* Queue a close_notify alert (send it with ntls_take_out()); later writes fail.
 * 0, -ENOTCONN before the handshake completed, or another negative error. */
int ntls_shutdown(struct ntls *t);

/* Ciphertext waiting to be sent. */
size_t ntls_pending_out(const struct ntls *t);
/* Move up to cap bytes of ciphertext into buf; returns the count. */
size_t ntls_take_out(struct ntls *t, void *buf, size_t cap);

const struct nout *ntls_outcome(const struct ntls *t);
