/* SPDX-License-Identifier: MIT */
/* outcome.h -- typed result of a connection attempt: stage + cause + one-line text.
 *
 * Every way a connection attempt or an open connection can end is an outcome the
 * channel supervisor classifies (design.md "Channel supervisor"). An outcome is a
 * small value struct callers embed or copy; it owns no memory.
 *
 * Text formats (exact, stable; tests compare them):
 *   dns: NXDOMAIN web.whatsapp.com          dns: SERVFAIL NAME   dns: REFUSED NAME
 *   dns: timeout NAME                       dns: no data NAME    dns: error NAME (detail)
 *   connect: ECONNREFUSED 127.0.0.1:443     connect: timeout 127.0.0.1:443
 *   connect: ECONNRESET 127.0.0.1:443
 *   tls: certificate verify failed (hostname mismatch)
 *   tls: certificate verify failed (unable to get local issuer certificate)
 *   tls: alert DESCRIPTION (CODE)           tls: closed during handshake
 *   tls: protocol error (DETAIL)            tls: timeout
 *   ws: HTTP 403                            ws: closed during upgrade
 *   ws: closed by peer (code 1000)          ws: protocol error (DETAIL)
 *   ws: timeout                             url: DETAIL
 *   closed: by local request                closed: ECONNRESET (after open)
 */
#pragma once
#include <stdbool.h>

enum nout_stage {
    NOUT_NONE = 0, /* no outcome yet / success */
    NOUT_URL,      /* bad endpoint URL */
    NOUT_DNS,      /* name resolution */
    NOUT_CONNECT,  /* TCP connect */
    NOUT_TLS,      /* TLS handshake or record layer */
    NOUT_WS,       /* HTTP upgrade or WebSocket layer */
    NOUT_CLOSED,   /* transport ended after the connection was open, or local close */
    NOUT_INTERNAL, /* local resource failure (ENOMEM...) */
};

enum nout_cause {
    NOUT_C_NONE = 0,
    NOUT_C_ERRNO,       /* see `err` (negative errno) */
    NOUT_C_NXDOMAIN,    /* dns */
    NOUT_C_SERVFAIL,    /* dns */
    NOUT_C_REFUSED,     /* dns: server refused the query */
    NOUT_C_NODATA,      /* dns: name exists, no address */
    NOUT_C_TIMEOUT,     /* any stage */
    NOUT_C_CERT_VERIFY, /* tls: `detail` = X509_V_ERR_* */
    NOUT_C_TLS_ALERT,   /* tls: `detail` = alert description */
    NOUT_C_PROTOCOL,    /* tls/ws: protocol violation */
    NOUT_C_EOF,         /* peer closed the stream during a handshake */
    NOUT_C_HTTP_STATUS, /* ws: `detail` = HTTP status of the upgrade response (!= 101) */
    NOUT_C_CLOSE_CODE,  /* ws: `detail` = close code sent by the peer (0 = none given) */
    NOUT_C_LOCAL_CLOSE, /* closed on our request */
    NOUT_C_BAD_URL,     /* url */
};

#define NOUT_TEXT_MAX 200

struct nout {
    enum nout_stage stage;
    enum nout_cause cause;
    int err;     /* negative errno equivalent (always set when stage != NONE) */
    long detail; /* stage-specific number (HTTP status, close code, X509 error, alert) */
    char text[NOUT_TEXT_MAX];
};

/* Reset to "no outcome". */
void nout_clear(struct nout *o);
/* Fill every field; the text is formatted from `fmt` (truncated to NOUT_TEXT_MAX-1). */
void nout_set(struct nout *o, enum nout_stage stage, enum nout_cause cause, int err, long detail,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Stage name as printed in the text ("dns", "connect", ...). */
const char *nout_stage_name(enum nout_stage s);
/* Symbolic errno name for a negative or positive errno ("ECONNREFUSED"); never NULL. */
const char *nout_errno_name(int err);
/* True if an outcome of this kind should be retried with backoff. Everything the
 * network can cause is transient; only local bugs (bad URL) are not. */
bool nout_is_transient(const struct nout *o);
