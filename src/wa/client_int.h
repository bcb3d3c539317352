/* SPDX-License-Identifier: MIT */
/* client_int.h -- PRIVATE to the WhatsApp connection core.
 *
 * Included only by the files that make up wa/client: client.c (state, lifecycle, transport,
 * sending, dispatch), keepalive.c, prekeys.c, pairflow.c, pairphone.c and login.c. Nothing else may
 * include it; the contract for everyone else is wa/client.h.
 *
 * Rules shared by these files:
 * - Every user callback (cbs.*, the sink's, iq callbacks) may close the client, end or restart
 *   the session. Remember `gen = c->gen` before it and re-check wa_cl_alive(c, gen) after it
 *   before touching anything else.
 * - Failures to build or send an internal stanza end the session (wa_cl_send_owned,
 *   wa_cl_send_iq); the outcome is delivered later from the defer timer.
 * - Anything that sets a deadline is followed by wa_cl_arm() (the callers of the handlers
 *   below do it: every transport callback and tick re-arms).
 * - Each part owns the per-session state in its own member (pair, ka, login, pk); client.c
 *   zeroes all of them at every wa_client_start().
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wa/client.h"
#include "wa/frame.h"
#include "wa/iqtab.h"
#include "wa/noise.h"
#include "wa/paircode.h"
#include "wa/pairing.h"

struct nconn;

/* A pending phone-number code (pairphone.c). */
struct wa_cl_code {
    bool pending;                       /* a code was requested in this session */
    bool hello_sent;                    /* companion_hello went out (after pair-device) */
    bool finish_sent;                   /* companion_finish went out: waiting for pair-success */
    struct wa_paircode_hello_rand rand; /* drawn at the request: code, ephemeral, wrapping */
    struct wa_paircode pc;
};

/* QR refs and the pairing handshake (pairflow.c). */
struct wa_cl_pair {
    char refs[WA_PAIR_REFS_MAX][WA_PAIR_REF_MAX + 1];
    size_t nrefs, ref_next;
    uint64_t qr_expiry; /* the QR shown now expires */
    bool replied;       /* pair-device-sign sent: waiting for the 515 */
    struct wa_cl_code code;
};

/* Keepalive pings (keepalive.c). */
struct wa_cl_ka {
    uint64_t next, fail_since, sent_at;
    unsigned sent, ok;
    bool inflight;
};

/* After <success> (login.c). */
struct wa_cl_login {
    bool connected_reported; /* on_connected delivered */
    uint64_t offline_deadline;
};

/* Pre-keys (prekeys.c) and signed pre-key rotation (spkrot.c). */
struct wa_cl_pk {
    bool login_uploading; /* the login's upload is in flight; passive waits for it */
    uint64_t spk_due;     /* loop ms of the next rotation check; 0 = none */
    bool spk_inflight;    /* a rotate iq is out */
    uint32_t spk_sent;    /* the id it announced */
    unsigned spk_fail;    /* consecutive failures (backoff) */
};

struct wa_client {
    uv_loop_t *loop;
    struct wa_client_opts o; /* resolved defaults; strings point into the copies below */
    char *url, *ca_file, *acct;
    char **dns;
    uint8_t root[32];
    struct wa_client_cbs cbs;
    void *ud;
    struct wa_client_sink sink;
    bool sink_set; /* a sink replaces cbs.on_node (even one without a node member) */

    enum wa_client_state state;
    unsigned gen;
    struct wa_creds creds;
    const struct sg_store *store;
    signal_context *sig;

    struct nconn *nc;
    struct wa_noise *noise;
    struct wa_frame_encoder fe;
    struct wa_frame_decoder fd;
    bool fd_init;
    struct wa_node_limits lim;

    uv_timer_t tick, defer;
    int handles_open;
    bool closing;

    uint64_t deadline; /* the state's deadline; 0 = none */
    const char *deadline_what;

    struct wa_cl_pair pair;
    struct wa_cl_ka ka;
    struct wa_cl_login login;
    struct wa_cl_pk pk;

    struct wa_iqtab iqs;
    uint32_t id_prefix;
    uint64_t id_counter;

    struct wa_outcome end_o;
    bool end_pending;
};

/* ---- client.c ---- */

static inline uint64_t wa_cl_now(const struct wa_client *c)
{
    return uv_now(c->loop);
}

/* A session runs (not closing, state between IDLE and CLOSED). */
static inline bool wa_cl_live(const struct wa_client *c)
{
    return !c->closing && c->state > WA_CS_IDLE && c->state < WA_CS_CLOSED;
}

/* True while the session `gen` is still the running one (re-check after every callback). */
static inline bool wa_cl_alive(const struct wa_client *c, unsigned gen)
{
    return wa_cl_live(c) && c->gen == gen;
}

/* The one transition function: logs "old -> new (reason)" at debug and sets the state's
 * deadline (deadline_ms <= 0: none), named by reason (a literal when there is one). */
void wa_cl_set_state(struct wa_client *c, enum wa_client_state s, const char *reason,
                     int deadline_ms);
/* End the session (no-op unless live): the first outcome wins; pending iqs fail and on_close
 * runs from the defer timer. */
void wa_cl_end(struct wa_client *c, const struct wa_outcome *o);
void wa_cl_end_with(struct wa_client *c, enum wa_outcome_kind k, enum wa_outcome_class cls,
                    int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Arm the one deadline timer for the earliest pending deadline (or stop it). */
void wa_cl_arm(struct wa_client *c);
/* <iq id=<new id> to=s.whatsapp.net type=… [xmlns=…]>; NULL on ENOMEM. */
struct wa_node *wa_cl_mk_iq(struct wa_client *c, const char *type, const char *xmlns);
/* Send an internal iq (consumed; NULL = ENOMEM) with c as the callback's ud; timeout_ms <= 0:
 * opts.iq_timeout_ms. Failures end the session. */
void wa_cl_send_iq(struct wa_client *c, struct wa_node *iq, int timeout_ms, wa_iq_cb cb);
/* Send a node we built (consumed; NULL = ENOMEM). Failures end the session. */
void wa_cl_send_owned(struct wa_client *c, struct wa_node *n);
/* Keep the client's memory alive across a libuv work request (its after-work callback runs
 * even after wa_client_close): hold before uv_queue_work, release first thing in the
 * after-work callback; release returns false when that freed the client (touch nothing). */
void wa_cl_hold(struct wa_client *c);
bool wa_cl_release(struct wa_client *c);
/* True when n's `from` is the bare server JID s.whatsapp.net. */
bool wa_cl_from_server(const struct wa_node *n);

/* ---- keepalive.c ---- */

/* Schedule the first ping of a session that just logged in. */
void wa_cl_ka_start(struct wa_client *c);
/* The next ping's time (0 = none pending). */
uint64_t wa_cl_ka_deadline(const struct wa_client *c);
/* Send the ping when it is due. */
void wa_cl_ka_tick(struct wa_client *c, uint64_t now);
/* Answer the server's <iq xmlns=urn:xmpp:ping>. */
void wa_cl_ka_answer(struct wa_client *c, const struct wa_node *iq);

/* ---- pairflow.c ---- */

/* An md iq from the server while pairing: pair-device (refs, first QR) or pair-success
 * (verify, on_paired, reply). True if it was one of those (and this is the time for it). */
bool wa_cl_pair_iq(struct wa_client *c, const struct wa_node *iq);
/* When the QR shown now expires (0 = none). */
uint64_t wa_cl_pair_deadline(const struct wa_client *c);
/* Show the next QR, or end the session when all refs expired. */
void wa_cl_pair_tick(struct wa_client *c, uint64_t now);

/* ---- pairphone.c ---- */

/* pair-device arrived: send the companion_hello of a code requested before it. */
void wa_cl_code_on_pair_device(struct wa_client *c);
/* <notification type=link_code_companion_reg>: ack, derive, send companion_finish. True if
 * it was one (handled or rejected). */
bool wa_cl_code_notification(struct wa_client *c, const struct wa_node *n);
/* The milliseconds the pairing window still has (the QR rotation's remaining refs). */
unsigned wa_cl_pair_window_ms(const struct wa_client *c);

/* ---- prekeys.c / spkrot.c ---- */

/* Append <skey><id/><value/><signature/></skey> of the current signed pre-key to parent. */
int wa_cl_pk_add_skey(struct wa_client *c, struct wa_node *parent);
/* Look at the current signed pre-key: upload a pending one, rotate a due one, or schedule
 * the next look. No-op without cbs.spk, unless connected, or while a rotate iq is out. */
void wa_cl_spk_check(struct wa_client *c);
/* The next rotation check (0 = none). */
uint64_t wa_cl_spk_deadline(const struct wa_client *c);
void wa_cl_spk_tick(struct wa_client *c, uint64_t now);

/* ---- login.c ---- */

/* <success> while logging in: CONNECTED, LID, the post-login steps. False in other states. */
bool wa_cl_login_success(struct wa_client *c, const struct wa_node *n);
/* <ib>: downgrade_webclient ends the session, <offline> reports on_connected. True if
 * handled. */
bool wa_cl_login_ib(struct wa_client *c, const struct wa_node *n);
/* When on_connected is reported without an offline marker (0 = none). */
uint64_t wa_cl_login_deadline(const struct wa_client *c);
void wa_cl_login_tick(struct wa_client *c, uint64_t now);
/* The last post-login step: <iq xmlns=passive><active/>. */
void wa_cl_login_send_active(struct wa_client *c);

/* ---- prekeys.c ---- */

/* After <success>: make sure the store holds our signed pre-key, ask for the server's count
 * of our one-time pre-keys (then upload if low, then passive). */
void wa_cl_pk_after_login(struct wa_client *c);
/* <notification type=encrypt from=s.whatsapp.net><count value=N/>: ack, top up. */
bool wa_cl_pk_notification(struct wa_client *c, const struct wa_node *n);
