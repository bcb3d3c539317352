/* SPDX-License-Identifier: MIT */
/* tls.h -- sans-I/O TLS client (OpenSSL 3 over memory BIOs; no fd is given to OpenSSL).
 *
 * Bytes received from the network go in with ntls_feed(); bytes to send come out of
 * ntls_take_out(). The caller drives the handshake with ntls_handshake() after every
 * feed, then moves application data with ntls_write()/ntls_read(). Certificates are
 * verified against the system CA store or `ca_file`, and the peer name against the
 * host (SNI and SSL_set1_host for names, IP SAN check for literals).
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

/* Ciphertext waiting to be sent. */
size_t ntls_pending_out(const struct ntls *t);
/* Move up to cap bytes of ciphertext into buf; returns the count. */
size_t ntls_take_out(struct ntls *t, void *buf, size_t cap);

const struct nout *ntls_outcome(const struct ntls *t);
