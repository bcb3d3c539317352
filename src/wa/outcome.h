/* SPDX-License-Identifier: MIT */
/* outcome.h -- the classified end of a WhatsApp session (wa-protocol.md §1.4).
 *
 * A `struct wa_outcome` says how a session ended (kind, code, one line of text) and what the
 * owner should do about it (class). Sans-I/O: the classifiers only read the node or the
 * transport outcome they are given and fill a value struct; nothing is allocated or logged.
 */
#pragma once

#include "net/outcome.h"
#include "wa/node.h"

enum wa_outcome_kind {
    WA_OUT_NONE = 0,
    WA_OUT_TRANSPORT,    /* dns/connect/tls/ws failure or the socket closed: see `net` */
    WA_OUT_HANDSHAKE,    /* Noise handshake failed (bad server hello, certificate, timeout) */
    WA_OUT_PROTOCOL,     /* undecryptable frame, bad node, oversized input, state timeout */
    WA_OUT_KEEPALIVE,    /* pings unanswered for the whole fail window */
    WA_OUT_STREAM_ERROR, /* <stream:error> (code 515, 503, 440 conflict, 401 removed, ...) */
    WA_OUT_FAILURE,      /* <failure reason=N> instead of <success> */
    WA_OUT_STREAM_END,   /* <xmlstreamend/> */
    WA_OUT_QR_TIMEOUT,   /* every QR ref shown and expired without a scan */
    WA_OUT_PAIRING,      /* pair-success rejected (HMAC/signature) or creds not persisted */
    WA_OUT_MD_MISMATCH,  /* <ib><downgrade_webclient/></ib> */
};

/* What the supervisor should do (design.md, channel supervisor table). */
enum wa_outcome_class {
    WA_OC_TRANSIENT = 0, /* retry with backoff */
    WA_OC_RESTART,       /* 515: reconnect at once (creds already durable) */
    WA_OC_REPLACED,      /* 440: escalating backoff, notify */
    WA_OC_LOGGED_OUT,    /* 401/403/406/device_removed: stop, quarantine, show QR */
    WA_OC_TEMP_BAN,      /* 402: wait until `expire` */
    WA_OC_OUTDATED,      /* 405: stop, "update required" */
    WA_OC_NEEDS_USER,    /* QR refs exhausted, multi-device mismatch: wait for an operator */
    WA_OC_FATAL,         /* local configuration error (bad URL, ...): do not retry */
};

#define WA_OUTCOME_TEXT_MAX 240

struct wa_outcome {
    enum wa_outcome_kind kind;
    enum wa_outcome_class cls;
    int code;        /* wa-protocol.md §1.4 numbers: 515, 503, 440, 401, 402, 405, 408, 411,
                      * 428, 500, ... (Baileys' statusCode) */
    long expire;     /* 402: ban duration in seconds from `expire` (0 if absent) */
    int ban_code;    /* 402: `code` attribute (101-106), else 0 */
    struct nout net; /* WA_OUT_TRANSPORT: the connector's outcome */
    char text[WA_OUTCOME_TEXT_MAX]; /* one line, e.g. "stream:error 503",
                                     * "keepalive timeout (no pong for 180 s)" */
};

/* Classify a node that may end the session. Returns 1 and fills *o for <stream:error>,
 * <failure> and <xmlstreamend/>; 0 (o untouched) for any other node. Rules (§1.4):
 * stream:error uses its `code`, else 440 for a <conflict> child, else 500; 515 -> RESTART,
 * 440 / conflict type=replaced -> REPLACED, 401 or conflict type=device_removed -> LOGGED_OUT,
 * else TRANSIENT. failure uses `reason` (500 if absent): 401/403/406 LOGGED_OUT, 402
 * TEMP_BAN (code, expire), 405 OUTDATED, others TRANSIENT. xmlstreamend -> 428 TRANSIENT. */
int wa_outcome_from_node(const struct wa_node *n, struct wa_outcome *o);

/* Fill *o from a transport outcome: code = HTTP status (>= 400) of a refused upgrade, 428 for
 * a connection closed after open, 408 otherwise; class FATAL for a bad URL/local error. */
void wa_outcome_from_net(const struct nout *n, struct wa_outcome *o);

/* Fill *o (zeroed first) with kind, class, code and a printf-formatted text (truncated to
 * WA_OUTCOME_TEXT_MAX - 1 bytes). */
void wa_outcome_set(struct wa_outcome *o, enum wa_outcome_kind k, enum wa_outcome_class cls,
                    int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Static names ("stream_error", "logged_out"); "?" for an unknown value. */
const char *wa_outcome_kind_name(enum wa_outcome_kind k);
const char *wa_outcome_class_name(enum wa_outcome_class c);
