/* SPDX-License-Identifier: MIT */
/* chpolicy.h -- the channel supervisor's states and its outcome policy (sans-I/O).
 *
 * The supervisor (gw/channel.h) owns the I/O; this module only decides. Given how a session
 * ended (a classified `struct wa_outcome`, wa/client.h) and the monotonic time, it answers
 * with the next state, whether and when to try again, and the side effects the supervisor
 * must perform (quarantine the store, notify the operator). It is the design's
 * "outcome classification table" (design.md, Channel supervisor) in one function:
 *
 *   transient   -> BACKOFF, full-jitter delay (base 1 s, cap 60 s), forever; the count
 *                  restarts after a connection stayed up 60 s. The first failure after a
 *                  session had reached connected is retried quickly (CHPOLICY_QUICK_MS at
 *                  most: a dropped link comes back at once when it can), then the delays
 *                  continue where they were (fault-matrix #6, #12)
 *   restart     -> CONNECTING at once (515: creds are already durable); more than
 *                  CHPOLICY_RESTART_BURST in a row without reaching connected falls back to
 *                  the transient delay, so a server repeating 515 never makes a tight loop,
 *                  and notifies once per streak (an `error` notification)
 *   replaced    -> CONFLICT, escalating 30 s .. 5 min (each delay in [3/4, 1] of its window,
 *                  so at most 6 attempts in 10 minutes); notify at the 3rd within 10 min
 *   logged_out  -> LOGGED_OUT, no retry, quarantine the store, notify
 *   temp_ban    -> BACKOFF until the ban expires (expire seconds; 1 h when absent), notify
 *   outdated    -> STOPPED "update required", no retry, notify
 *   needs_user  -> LOGGED_OUT (a QR is needed: pairing QRs expired unscanned), no retry
 *   fatal       -> STOPPED, no retry (a local configuration error), notify
 *
 * Every retry delay is at least CHPOLICY_MIN_DELAY_MS except the first restarts of a burst:
 * the policy can never produce an unbounded run of zero delays.
 * Value struct, no allocation; randomness comes from the backoff's injectable source.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "gw/backoff.h"
#include "wa/client.h"

/* Channel states (design.md). Ordered: the "running" range is STARTING..DEGRADED. */
enum gw_ch_state {
    GW_CH_STOPPED = 0, /* not running: operator stop, fatal error, or "update required" */
    GW_CH_STARTING,    /* opening the store, loading credentials */
    GW_CH_CONNECTING,  /* a session is starting: transport, Noise, login */
    GW_CH_PAIRING,     /* unlinked: a QR code is shown and rotates */
    GW_CH_CONNECTED,   /* logged in */
    GW_CH_BACKOFF,     /* transient failure (or a temporary ban): retry scheduled */
    GW_CH_CONFLICT,    /* replaced by another client (440): escalating retry scheduled */
    GW_CH_LOGGED_OUT,  /* needs a QR: unlinked by the phone, store quarantined, QR expired */
    GW_CH_REPAIRING,   /* store-wide session repair in progress (design.md, Session repair) */
    GW_CH_DEGRADED,    /* logged in, but the store cannot write (disk full, EIO on fsync):
                        * nothing is acknowledged; probed every 2 s, reconnects when it can */
    GW_CH_STATE_COUNT
};

#define CHPOLICY_MIN_DELAY_MS    100u
#define CHPOLICY_QUICK_MS        1000u /* the quick retry after a connected session dropped */
#define CHPOLICY_RESTART_BURST   3u
#define CHPOLICY_CONFLICT_NOTIFY 3u                /* conflicts within the window */
#define CHPOLICY_CONFLICT_WINDOW (10u * 60 * 1000) /* ms */
#define CHPOLICY_BAN_DEFAULT_MS  (3600u * 1000)
#define CHPOLICY_BAN_MAX_MS      (7ull * 24 * 3600 * 1000)

struct chpolicy {
    struct backoff transient; /* base 1 s, cap 60 s, stable 60 s */
    struct backoff conflict;  /* base 30 s, cap 5 min, stable 10 min */
    unsigned restart_streak;  /* 515s since the last connected */
    bool was_connected;       /* the session that just ended had reached connected */
    unsigned conflicts;       /* within the current window */
    uint64_t conflict_window_start;
};

struct chaction {
    enum gw_ch_state next;
    bool retry;        /* schedule a new attempt after delay_ms */
    uint64_t delay_ms; /* valid when retry */
    bool quarantine;   /* move the account's store aside (logged out) */
    bool notify;       /* raise an operator notification (event + warn log) */
    bool hold;         /* the delay must run its course (a ban): no early retry */
    char reason[300];  /* one line for the transition log and the event */
};

/* Defaults of the design; rand64 may be NULL (see backoff_init). */
void chpolicy_init(struct chpolicy *p, uint64_t (*rand64)(void *ud), void *ud);
/* The transient delays' base and cap (whatsapp.backoff.*; cap raised to base if below).
 * Keeps the failures counted so far. */
void chpolicy_set_backoff(struct chpolicy *p, uint32_t base_ms, uint32_t cap_ms);
/* The session reached connected at now_ms (starts the stability clocks, ends a 515 burst). */
void chpolicy_connected(struct chpolicy *p, uint64_t now_ms);
/* Forget past failures (a new start of the supervisor). Operator restarts and network-change
 * retries do NOT reset: a failing attempt after them continues the backoff, so repeated
 * restarts cannot make the channel retry in quick succession. */
void chpolicy_reset(struct chpolicy *p);
/* Decide what follows the outcome o at now_ms. */
void chpolicy_on_outcome(struct chpolicy *p, const struct wa_outcome *o, uint64_t now_ms,
                         struct chaction *a);

const char *gw_ch_state_name(enum gw_ch_state s);
