/* SPDX-License-Identifier: MIT */
/* channel.h -- the WhatsApp channel supervisor: one per account, on the daemon's uv loop.
 *
 * A `struct gw_channel` owns everything one account needs: its SQLite store
 * (`<state>/accounts/<id>/wa.db`, store/db.h), the credentials in it, the Signal context over
 * that store, the wa_client (wa/client.h) and the receive/send paths. It runs the state
 * machine of design.md ("Channel supervisor"; states and policy in gw/chpolicy.h):
 *
 *   stopped -> starting -> connecting -> (pairing ->) connected
 *                  ^            |  every session end is an outcome -> chpolicy
 *                  |            v
 *                  +---- backoff / conflict (timer) ----+   logged_out (needs a QR), stopped
 *
 * - Credentials present and paired -> login; absent or unpaired -> pairing (QR codes that
 *   rotate; each one is published as a `channel.qr` event and served by the QR route).
 * - A corrupt database is quarantined (st_db_quarantine, never deleted) and the account
 *   goes to logged_out with a notice; a logged-out account's database is renamed aside
 *   (`wa.db.loggedout-<UTC>`) and a later login pairs a fresh device.
 * - Health watchdog: a 1 s tick; two unanswered keepalive pings in a row (the client's
 *   on_health) or a session stuck in connecting for CHANNEL_STUCK_MS tear the session down
 *   and retry with backoff. Nothing but gw_channel_close() ends the supervisor.
 * - An outage (the first failure since the link was up) that lasts down_notice_ms
 *   (notify.outage_after_s, 3 min) raises ONE `channel.down` {"account","down_since_ms",
 *   "down_s","last_error"} with a notice ("unreachable for N s, still retrying"), and its end
 *   ONE `channel.restored` {"account","down_s"} with a notice (fault-matrix #3, #13).
 * - A dropped link is retried within 1 s (gw/chpolicy.h); gw_channel_retry_now() cuts a
 *   pending delay short when the network may be back (the daemon's netlink listener,
 *   SIGUSR1) -- and, while the failure is DNS's, when the resolver-only probe
 *   (gw/dnsprobe.h, every 2 s) sees the endpoint's name resolve again. Status: `attempts`
 *   are failed attempts, `reconnects` successful reconnections, `down_since` the outage's
 *   start, `queued` the outgoing messages not yet acknowledged.
 *
 * Every transition goes through one function that logs `old -> new (reason)` at info with
 * the `[whatsapp] [<account>]` tags and publishes a `channel.state` event
 * {"account","from","to","reason","next_retry_ms"?}. What needs the operator is a notification
 * of gw/notify.h (opts.notify, the daemon's): logged_out (phone, operator, lost or corrupt
 * store; relinked at the next pairing), conflict, banned, update_required (each resolved at the
 * next connected), link_down (resolved by restored), disk (the store cannot write; disk_ok once
 * it kept writing CHANNEL_DISK_SETTLE_MS), sessions_reset and error. The channel tells it when
 * the link is up (note to self).
 *
 * Callbacks and timers all run on the loop thread; no function here calls back into the
 * caller. Two-step close: gw_channel_close() stops everything and the memory is released
 * from libuv close callbacks, after which `cb` runs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "gw/config.h"
#include "gw/chpolicy.h"
#include "gw/chstatus.h"
#include "gw/sendres.h"
#include "store/msgstore.h"
#include "wa/outmsg.h"

struct gw_channel;
struct api_events;
struct api_metrics;
struct gw_notify;

#define CHANNEL_STUCK_MS         90000         /* a session may stay in connecting this long */
#define CHANNEL_REPAIR_HOLD_MS   3600000       /* at most one store-wide session repair per hour */
#define CHANNEL_PROBE_MS         2000          /* degraded: a write probe of the store this often */
#define CHANNEL_PROBE_FREE       (128u * 1024) /* ... and it passes with this much space free */
#define CHANNEL_COMMIT_WINDOW_MS 5      /* acks and receipts alone wait this long for company */
#define CHANNEL_DOWN_NOTICE_MS   180000 /* unreachable this long: one notice, then one when back */
#define CHANNEL_DISK_SETTLE_MS   10000  /* the store wrote again and kept writing: disk_ok */

struct gw_channel_opts {
    const char *account;         /* [a-z0-9_-]{1,32} (copied) */
    const char *state_dir;       /* the daemon's state dir (copied) */
    const struct wg_config *cfg; /* whatsapp.* (copied); hooks.exec.* read live by the
                                  * exec hook (gw/chhook.h): must outlive the channel */
    struct api_events *events;   /* may be NULL: no events */
    struct api_metrics *metrics; /* may be NULL: no metrics */
    struct gw_notify *notify;    /* the daemon's notifications (gw/notify.h; must outlive the
                                  * channel); NULL: a private one (events only) */
    int keepalive_min_ms;        /* test knobs, <= 0: the client's defaults */
    int keepalive_max_ms;
    int keepalive_deadline_ms;
    int down_notice_ms; /* <= 0: notify.outage_after_s, else CHANNEL_DOWN_NOTICE_MS */
};

/* Create a stopped channel (no I/O yet). 0, -EINVAL (bad account id / options), -ENOMEM. */
int gw_channel_new(uv_loop_t *loop, const struct gw_channel_opts *o, struct gw_channel **out)
    __attribute__((warn_unused_result));
/* Start supervising: stopped -> starting; the first attempt runs on the next loop
 * iteration. No-op unless stopped. */
void gw_channel_start(struct gw_channel *ch);
/* Operator stop and free (two-step): ends the session, closes the store, publishes nothing
 * more; cb(arg) runs from the last close callback (cb may be NULL). NULL ch is a no-op. */
void gw_channel_close(struct gw_channel *ch, void (*cb)(void *arg), void *arg);
/* Forget the event ring and metrics registry (call before the API server closes). */
void gw_channel_detach_api(struct gw_channel *ch);

const char *gw_channel_account(const struct gw_channel *ch);
enum gw_ch_state gw_channel_state(const struct gw_channel *ch);
void gw_channel_status(const struct gw_channel *ch, struct gw_channel_status *st);

/* The current QR payload while pairing (NULL if none is current); *left_ms = validity left. */
const char *gw_channel_qr(const struct gw_channel *ch, unsigned *left_ms);

/* `login` (design.md): connected -> nothing to do; pairing -> the current QR; unlinked
 * (logged_out, or never paired and not pairing) -> start pairing; any other state (backoff,
 * conflict, stopped, stuck) -> force-restart with the existing credentials. Fills *r: what
 * was done (`action`, a static string) and whether a new attempt was started. */
struct gw_login_result {
    const char *action;
    bool started;
};
void gw_channel_login(struct gw_channel *ch, struct gw_login_result *r);
/* `login` with a phone number (wa-protocol.md §5.5): like gw_channel_login for an unlinked
 * account (starts pairing if no pairing session runs), then asks the session for an
 * 8-character code to type on that phone. r->code is "ABCD-EFGH", r->phone the digits,
 * r->valid_ms how long the code lasts (the session's pairing window; expiry ends it with
 * "pairing code expired", a wrong code typed on the phone with "pairing code rejected":
 * both leave the account logged_out, a new request makes a new code). 0; -EINVAL (phone not
 * 7-15 digits); -EISCONN (already linked); -EBUSY (a code is pending in this session: r
 * describes it); -EAGAIN (no pairing session could be started: see the status);
 * -ECANCELED (closing); -EIO. Publishes `channel.paircode` {"account","phone","valid_ms"}. */
struct gw_login_code {
    char code[10];  /* ABCD-EFGH */
    char phone[16]; /* digits */
    unsigned valid_ms;
};
int gw_channel_login_phone(struct gw_channel *ch, const char *phone, struct gw_login_code *r)
    __attribute__((warn_unused_result));
/* Our own number (PN JID) once paired, else NULL. */
const char *gw_channel_jid(const struct gw_channel *ch);
/* Cut a pending reconnect delay short (the network may be back: a netlink change, SIGUSR1):
 * a new attempt starts now, or -- within CHANNEL_KICK_MIN_MS of the previous early attempt
 * (operator restart, login, an earlier call) -- as soon as that interval is over; true when
 * the retry was moved up. An attempt that has spent CHANNEL_KICK_MIN_MS or more in its
 * transport stages (a DNS lookup against a resolver that went silent, a connect on a route
 * that is gone) is begun again (same spacing rule). Nothing happens while an attempt is past
 * its transport or connected, or during a ban's or a conflict's delay. The backoff is not
 * reset (a failing attempt continues it). */
#define CHANNEL_KICK_MIN_MS 2000
bool gw_channel_retry_now(struct gw_channel *ch, const char *why);
/* Operator restart: forget the backoff, end the session, retry now with the existing
 * credentials. -EPERM for a logged-out account (login pairs it), else 0. */
int gw_channel_restart(struct gw_channel *ch, const char *why);

/* Operator logout: end the session and move the account's database aside
 * (`wa.db.loggedout-<UTC>`, never deleted), state logged_out, no retry; a later login pairs a
 * new device. The server is not told (the phone keeps listing the old device until it is
 * removed there). 0, -EALREADY (already logged out, no database), -ECANCELED (closing), or
 * the rename's -errno (the state is logged_out all the same). */
int gw_channel_logout(struct gw_channel *ch);

/* Messaging. send: the durable enqueue of m (with the live session, or straight into the
 * outbox between sessions); 0 with *r filled, -EAGAIN when the account is not linked or its
 * store is not open, -EINVAL (r->error says why), store errors. inbox: the rows after
 * `after` (limit 1..ST_LIST_MAX; free with st_inbox_list_free); 0, -EAGAIN, store errors.
 * send: -EEXIST for an idempotency key reused with another recipient or text, -ENXIO for a
 * number the server just said is not on WhatsApp (r->error says why), -ENOENT for a reply,
 * reaction, edit or revoke whose target is not in that chat. A text longer than
 * whatsapp.chunk_size characters is queued as several messages (r->chunks; r->id the first):
 * chunk i > 0 under the idempotency key "<key>#<i>". */
int gw_channel_send(struct gw_channel *ch, const struct wa_outmsg *m, struct gw_send_result *r);
/* gw_channel_send with the COMMIT shared by this loop iteration's sends (gw/sendwait.h): 0 with
 * *w set means r is filled but the row is durable only once w's release function is called
 * with 0 (bind it with gw_sendwait_bind, or call gw_channel_settle() to commit now); *w NULL:
 * as gw_channel_send (already committed, or refused). */
struct gw_waiter;
int gw_channel_send_deferred(struct gw_channel *ch, const struct wa_outmsg *m,
                             struct gw_send_result *r, struct gw_waiter **w)
    __attribute__((warn_unused_result));
/* Commit the deferred sends now: 0 or the COMMIT's error. */
int gw_channel_settle(struct gw_channel *ch);
/* Send a chatstate ("composing", "recording", "paused") to `to` (wa_session_chatstate): 0,
 * -EAGAIN (not connected), -EINVAL (err says why), or a send error. */
int gw_channel_chatstate(struct gw_channel *ch, const char *to, const char *state, char *err,
                         size_t errlen) __attribute__((warn_unused_result));
/* The chat a received message (by id) is in: 1 (copied), 0 unknown, -EAGAIN, store errors. */
int gw_channel_chat_of(struct gw_channel *ch, const char *msg_id, char *chat, size_t cap)
    __attribute__((warn_unused_result));
/* A received file's state (store/mediafile.h): 1 found, 0 no media row, -EAGAIN (store not
 * open), errno. The message's mimetype into mime, left as it is when unknown or longer than
 * cap - 1 (a cut mimetype would be a wrong one). */
struct st_mfile;
/* The channel's media sends (gw/chmsend.h), NULL if it could not be made. */
struct chmsend *gw_channel_msend(struct gw_channel *ch);
int gw_channel_media_file(struct gw_channel *ch, int64_t cursor, struct st_mfile *out);
void gw_channel_media_mime(struct gw_channel *ch, int64_t cursor, char *mime, size_t cap);
int gw_channel_inbox(struct gw_channel *ch, int64_t after, size_t limit, struct st_inbox_msg **v,
                     size_t *n);
/* The inbox's cursor contract (gw/cursormark.h): the epoch (1, +1 at every restored or
 * rolled-back database), the largest cursor given out, and the last reset's lost range (0 0
 * when none). */
struct gw_cursor_info {
    int64_t epoch, last, missed_from, missed_to;
};
void gw_channel_cursors(const struct gw_channel *ch, struct gw_cursor_info *out);
/* The channel's access policy (gw/access.h; NULL once it is closing). */
struct gw_access;
struct gw_access *gw_channel_access(const struct gw_channel *ch);
/* The channel's webhook queue (gw/webhook.h), never NULL while the channel lives. */
struct gw_webhook;
struct gw_webhook *gw_channel_webhook(const struct gw_channel *ch);
/* One outgoing message by id (free with st_outbox_msg_free): 0, -ENOENT, -EAGAIN (no store). */
int gw_channel_outbox_get(struct gw_channel *ch, const char *id, struct st_outbox_msg *out);
