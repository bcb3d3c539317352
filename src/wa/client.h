/* SPDX-License-Identifier: MIT */
/* client.h -- the WhatsApp linked-device connection core on libuv.
 *
 * One `struct wa_client` runs one session at a time: wa_client_start() connects
 * (net/conn.h: DNS -> TCP -> TLS -> WebSocket), performs the Noise XX handshake (wa/noise.h)
 * with a registration or login ClientPayload (wa/payload.h), then either pairs by QR
 * (wa/pairing.h) or logs in, runs the post-login steps (pre-key count and upload, passive
 * off, offline marker) and keeps the session alive with jittered pings. Every way the session
 * ends is reported exactly once through on_close() with a classified `struct wa_outcome`;
 * the owner (the channel supervisor) decides what to do and may call wa_client_start() again
 * from inside on_close() or later (e.g. at once after a 515 with the paired credentials).
 *
 * States (one transition function, logged at debug as "old -> new (reason)"):
 *   IDLE -> CONNECTING -> HANDSHAKE -> PAIRING | LOGGING_IN -> CONNECTED -> CLOSED
 * Per-state deadlines: connecting = the transport's own timeouts, handshake 20 s (server
 * hello), pairing: 20 s for pair-device, then the QR rotation, 20 s for the 515 after our
 * pair-device-sign; logging_in 20 s for <success>/<failure>.
 *
 * Callbacks never run from inside the wa_client_* call that caused them; on_close() and the
 * failure of pending iqs are delivered from a zero-delay timer. The owner may call any
 * wa_client_* function, including wa_client_close(), from inside any callback.
 *
 * Caps (peer-controlled): WA frame and node sizes (opts.max_frame, node limits), pending iqs
 * (opts.max_pending_iq), QR refs (WA_PAIR_REFS_MAX of at most WA_PAIR_REF_MAX bytes), queued
 * output bytes (opts.max_outbuf; a session whose peer does not read is ended).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/outcome.h"
#include "signal/sg_store.h"
#include "wa/creds.h"
#include "wa/iqtab.h"
#include "wa/node.h"
#include "wa/outcome.h"
#include "wa/spkplan.h"

struct wa_client;

/* ---- client ---- */

enum wa_client_state {
    WA_CS_IDLE = 0,   /* created, or closed and not restarted */
    WA_CS_CONNECTING, /* transport */
    WA_CS_HANDSHAKE,  /* Noise: client hello sent */
    WA_CS_PAIRING,    /* registration payload sent; QR refs / pair-success */
    WA_CS_LOGGING_IN, /* login payload sent; waiting for <success>/<failure> */
    WA_CS_CONNECTED,  /* <success> received */
    WA_CS_CLOSED,     /* session over; on_close pending or delivered */
};

struct wa_client_opts {
    const char *url;                /* default wss://web.whatsapp.com/ws/chat */
    const char *const *dns_servers; /* NULL: system resolver */
    size_t ndns_servers;
    const char *ca_file;           /* NULL: system store */
    const uint8_t *noise_root_pub; /* 32 bytes; NULL: wa_cert_root_pubkey */
    const char *log_account;       /* account tag for debug logs; NULL "default" */
    int connect_timeout_ms;        /* transport stages (net/conn.h), <= 0 defaults */
    int handshake_timeout_ms;      /* Noise server hello; <= 0: 20000 */
    int login_timeout_ms;          /* <success>, pair-device, 515 after pairing; <= 0: 20000 */
    int qr_first_ms;               /* validity of the first QR; <= 0: 60000 */
    int qr_next_ms;                /* of each later one; <= 0: 20000 */
    int keepalive_min_ms;          /* ping interval, uniform in [min, max); <= 0: 20000 */
    int keepalive_max_ms;          /* <= 0: 30000 */
    int keepalive_deadline_ms;     /* response deadline; <= 0: 10000 */
    int keepalive_fail_ms;         /* end the session after failing this long; <= 0: 180000 */
    int iq_timeout_ms;             /* internal iqs; <= 0: 30000 */
    unsigned prekey_min;           /* upload when the server holds fewer; 0: 5 */
    unsigned prekey_initial;       /* batch when the server holds none; 0: 812 */
    unsigned prekey_batch;         /* later batches; 0: 50 */
    unsigned max_pending_iq;       /* 0: 256 */
    size_t max_frame;              /* 0: WA_FRAME_MAX_DEFAULT */
    size_t max_outbuf;             /* 0: 16 MiB */
    /* Signed pre-key rotation (needs cbs.spk): a new key when the current one is older than
     * spk_rotate_s (0: never; the daemon's default is 27 days), retired keys kept spk_keep_s
     * (0: 90 days) and at most spk_keep_max of them (0: 4). */
    uint32_t spk_rotate_s, spk_keep_s;
    unsigned spk_keep_max;
};

/* The owner's persistence of signed pre-key rotation (store/spkstore.h over its database).
 * All four are required when the table is given; each runs synchronously on the loop. */
struct wa_spk_ops {
    /* The row of key `id` (the current one): 0, -ENOENT, or another negative errno. */
    int (*state)(void *ud, uint32_t id, struct wa_spk_state *out);
    /* Durably and in ONE transaction: the new key's record (`rec`, uploaded 0, created now)
     * and `nc`, the credentials naming it as current. Non-zero: nothing was kept (the old
     * key stays current) and the rotation is tried again later. */
    int (*rotate)(void *ud, const struct wa_creds *nc, const uint8_t *rec, size_t len, int64_t now);
    /* The server acknowledged key `id`: mark it uploaded, retire the older keys at `now`. */
    int (*acked)(void *ud, uint32_t id, int64_t now);
    /* Delete retired keys (never `current`) retired before `before` and beyond the newest
     * keep_max; the number deleted or a negative errno. */
    int (*prune)(void *ud, uint32_t current, int64_t before, unsigned keep_max);
};

struct wa_client_cbs {
    /* A QR string to display, valid for valid_ms. */
    void (*on_qr)(void *ud, const char *qr, unsigned valid_ms);
    /* Pairing verified. The owner must persist `creds` durably before returning 0; only then
     * is the pair-device-sign reply sent. Non-zero: an error is answered, the session ends
     * with WA_OUT_PAIRING. Required for pairing. */
    int (*on_paired)(void *ud, const struct wa_creds *creds);
    /* Credentials changed (next pre-key id advanced before an upload, LID learned at
     * <success>). Must persist before returning 0; non-zero skips the pre-key upload. */
    int (*on_creds)(void *ud, const struct wa_creds *creds);
    /* Logged in and the offline queue marker (<ib><offline count/>) arrived (or
     * login_timeout_ms passed after <success> without it: reported with count 0). */
    void (*on_connected)(void *ud, const char *lid_jid, unsigned offline_count);
    /* A stanza the core does not handle (message, receipt, notification, call, ack, ...). */
    void (*on_node)(void *ud, const struct wa_node *n);
    /* The session ended (exactly once per wa_client_start that returned 0). */
    void (*on_close)(void *ud, const struct wa_outcome *o);
    /* Optional health report after each keepalive ping: ok = answered (rtt_ms valid), else
     * timed out and pings have been failing for failing_ms (the session ends once that
     * reaches keepalive_fail_ms). */
    void (*on_health)(void *ud, bool ok, unsigned rtt_ms, unsigned failing_ms);
    /* Optional: signed pre-key rotation (wa/spkrot.c). NULL: the key is never rotated. The
     * table is borrowed and must outlive the client. */
    const struct wa_spk_ops *spk;
};

/* wa_iq_cb (wa/iqtab.h): status 0 with the result node, -EREMOTEIO with the type=error
 * node, -ETIMEDOUT, -ENOTCONN (session ended) or -ECANCELED (wa_client_close), resp NULL. */

/* Create an idle client. opts strings are copied; cbs copied. 0, -EINVAL, -ENOMEM. */
int wa_client_new(uv_loop_t *loop, const struct wa_client_opts *opts,
                  const struct wa_client_cbs *cbs, void *ud, struct wa_client **out)
    __attribute__((warn_unused_result));

/* Start a session with these credentials (copied; unpaired -> pairing, paired -> login) and
 * this Signal store (borrowed; it must outlive the session). The store's local identity is
 * the owner's business (e.g. sg_memstore_set_identity with wa_creds_sg_identity); the client
 * writes to it: the primary phone's identity at pairing (save_identity, LID device 0), our
 * signed pre-key at login if absent, and generated one-time pre-keys before uploading them;
 * with cbs.spk it also rotates the signed pre-key (wa/spkrot.c: the owner persists the new key
 * with the credentials through cbs.spk->rotate before the upload).
 * -EBUSY if a session is running (state not IDLE/CLOSED, or its on_close not yet delivered),
 * -EINVAL (bad creds or store), -ENOMEM. On 0, on_close will follow. */
int wa_client_start(struct wa_client *c, const struct wa_creds *creds, const struct sg_store *store)
    __attribute__((warn_unused_result));

/* Encode, encrypt and send a node. -ENOTCONN unless the handshake is done and the session
 * runs, -EMSGSIZE / -EINVAL (node), -ENOBUFS (output queue over max_outbuf). */
int wa_client_send_node(struct wa_client *c, const struct wa_node *n)
    __attribute__((warn_unused_result));

/* Send an iq and wait for the result/error with the same `id` (the iq must carry one: use
 * wa_client_new_id). cb runs exactly once (see wa_iq_cb) unless this returns an error.
 * timeout_ms <= 0: opts.iq_timeout_ms. -EINVAL (no id), -EEXIST (id already pending),
 * -ENOSPC when max_pending_iq are pending; send errors as wa_client_send_node. */
int wa_client_send_iq(struct wa_client *c, const struct wa_node *iq, int timeout_ms, wa_iq_cb cb,
                      void *ud) __attribute__((warn_unused_result));

/* The server says it holds server_count of our one-time pre-keys (e.g. <notification
 * type=encrypt><count value=N/>, which the core acks and hands here): upload a batch of
 * opts.prekey_batch when below opts.prekey_min and the login's own upload is not in flight.
 * The new keys go to the store and the advanced next id through on_creds (which runs inside
 * this call) before the upload iq is sent. 0 (also when nothing is needed), -EINVAL (NULL
 * client, server_count < 0), -ENOTCONN unless connected, -ENOMEM, -EIO (on_creds refused),
 * or the store's error. */
int wa_client_prekey_topup(struct wa_client *c, long server_count)
    __attribute__((warn_unused_result));

/* Link by phone number instead of QR (wa-protocol.md §5.5, wa/paircode.h): only while this
 * session pairs (unpaired credentials, state CONNECTING..PAIRING, no pair-success yet). The
 * 8-character code is made at once (code[9]; show it as ABCD-EFGH) and companion_hello goes
 * out as soon as the server's pair-device has arrived (now, if it has). *valid_ms: how long
 * the code stays usable: as long as the session's pairing window (the QR rotation; QR codes
 * keep working meanwhile). Outcomes: the phone's wrong code ends the session with
 * WA_OUT_PAIRING 401 "pairing code rejected" (NEEDS_USER); the window's end with
 * WA_OUT_QR_TIMEOUT "pairing code expired"; a server refusal of the hello with WA_OUT_PAIRING
 * and the server's code. 0, -EINVAL (phone not 7-15 digits), -EBUSY (a code is already
 * pending: code and valid_ms describe it), -ENOTCONN (not pairing), -EIO (RNG). */
int wa_client_pair_phone(struct wa_client *c, const char *phone, char code[9], unsigned *valid_ms)
    __attribute__((warn_unused_result));
/* The pending code's phone digits, or NULL when no code was requested in this session. */
const char *wa_client_pair_phone_pending(const struct wa_client *c);

/* A fresh unique stanza id ("<8 hex>-<counter>") into out (>= 32 bytes). */
void wa_client_new_id(struct wa_client *c, char *out, size_t outlen);

/* The consumer of a session's messaging stanzas (wa/session.h attaches one). node: every
 * stanza the core does not handle, instead of cbs.on_node (which is used only while no sink
 * is set). connected: right after cbs.on_connected. ended: once per session end, right before
 * cbs.on_close (so the consumer drops its per-session state before the owner may restart).
 * Any member may be NULL. The sink is copied; NULL detaches. */
struct wa_client_sink {
    void (*node)(void *ud, const struct wa_node *n);
    void (*connected)(void *ud);
    void (*ended)(void *ud);
    void *ud;
};
void wa_client_set_sink(struct wa_client *c, const struct wa_client_sink *sink);
/* The loop the client runs on (for its consumers' timers). */
uv_loop_t *wa_client_loop(const struct wa_client *c);

/* End everything and free (two-step: memory is released in libuv close callbacks, so the
 * loop must run afterwards). Pending iq callbacks run with -ECANCELED inside this call;
 * on_close (and the sink's ended) do not run. Safe inside any callback. NULL accepted. */
void wa_client_close(struct wa_client *c);

enum wa_client_state wa_client_state(const struct wa_client *c);
const char *wa_client_state_name(enum wa_client_state s);
/* Current credentials (as updated by pairing / success). */
const struct wa_creds *wa_client_creds(const struct wa_client *c);
/* Session generation: incremented by each wa_client_start. */
unsigned wa_client_generation(const struct wa_client *c);
/* Pings answered / sent in the current session (health). */
void wa_client_keepalive_stats(const struct wa_client *c, unsigned *sent, unsigned *answered);
