/* SPDX-License-Identifier: MIT */
/* channel_int.h -- PRIVATE to the channel supervisor (gw/channel): the state of one channel,
 * struct gw_channel, and the functions its files share.
 *
 * Included only by the files that make up gw/channel: channel.c (the transition function, its
 * events and metrics, the public API), chstore.c (credentials, the store, a store that cannot
 * write), chrepair.c (the store-wide session repair), chsession.c (attempts, outcomes, outages, the
 * housekeeping tick) and chclient.c (the wa_client callbacks). Nothing else may include it (tests/
 * may); the contract for everyone else is gw/channel.h.
 *
 * Rules shared by these files (channel.c's head comment has the order of work):
 * - every state change goes through ch_set_state() (log line, metric, `channel.state`);
 * - no attempt starts inside a client callback: it runs from a timer (retry, repair, tick) or
 *   an operator call (ch_force_attempt); a session ended early is dropped with
 *   ch_drop_client(), which is safe inside the client's callbacks;
 * - once ch->closing is set, nothing is published and no notification is raised.
 */
#pragma once
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "gw/channel.h"
#include "gw/chmetrics.h"
#include "gw/chpolicy.h"
#include "gw/cursormark.h"
#include "gw/notify.h"
#include "signal/sg_cipher.h"
#include "store/sgstore.h"
#include "wa/client.h"
#include "wa/creds.h"

#define NO_RETRY              UINT64_MAX
#define TICK_MS               1000
#define QR_MAX                1024
#define HEALTH_MISS           2 /* unanswered pings in a row = wedged */
#define COMP                  "whatsapp"
#define CHANNEL_RELEASE_TICKS 10 /* the store's page cache is given back every 10 ticks (10 s) */

/* whatsapp.* as a channel uses it (copied at start: a reload changes them only for channels
 * started later; gw/daemon.c says so). A copy of these, not of the whole wg_config (~100 KB
 * with the accounts' access lists), so that an account costs little (issue 16). */
struct ch_wa_cfg {
    char wa_endpoint[CFG_PATH_MAX];
    uint8_t wa_noise_root[32];
    char wa_tls_ca_file[CFG_PATH_MAX];
    char wa_dns_servers[CFG_MAX_DNS][64];
    unsigned wa_dns_count;
    unsigned wa_backoff_base_ms, wa_backoff_cap_ms;
    unsigned wa_repair_gap_ms, wa_repair_wait_ms, wa_repair_store_peers, wa_repair_window_s;
    unsigned wa_repair_phone_delay_ms;
    unsigned notify_outage_after_s;
    unsigned wa_chunk_size;
    bool mark_read;                    /* whatsapp.mark_read = on_handled */
    uint32_t spk_rotate_s, spk_keep_s; /* signal.* in seconds */
    unsigned spk_keep_max;
};

struct gw_channel {
    uv_loop_t *loop;
    struct cursormark mark; /* the inbox high-water outside the database (gw/cursormark.h) */
    bool mark_open;         /* checked against the open database */
    unsigned release_ticks; /* housekeeping ticks since the store's page cache was given back */
    char account[CFG_ACCOUNT_ID_MAX + 1];
    char dbpath[PATH_MAX];
    struct ch_wa_cfg cfg; /* the whatsapp.* values this channel uses, copied at start */
    const char *dns[CFG_MAX_DNS];
    int ka_min, ka_max, ka_deadline;
    uint64_t down_notice_ms;
    uint64_t down_since; /* first failure since the last connected; 0 = up */
    int64_t down_since_wall_ms;
    bool down_notified;
    bool ever_connected;      /* a later connected is a reconnection */
    uint64_t last_probe;      /* degraded: the last write probe of the store */
    int store_err;            /* a store error while logging in: degraded once connected */
    int64_t up_since_wall_ms; /* the current connection's start; 0 = not connected */
    struct api_events *events;
    struct api_metrics *metrics;
    struct chmetrics_live live; /* the series read at scrape time (gw/chmetrics.h) */
    const char *lost_cause;     /* what ended the last connection (chmetrics_cause), or NULL */

    enum gw_ch_state state;
    uint64_t since_mono;
    int64_t since_wall_ms;
    char last_error[256];
    char detail[256]; /* why the current attempt failed locally (store, client) */
    char attempt_reason[300];
    bool retry_pending;
    bool retry_hold;    /* the pending delay must run its course (a ban) */
    uint64_t last_kick; /* the last early attempt (operator, network change); 0 = none */
    bool retry_kick;    /* the pending retry was moved up by gw_channel_retry_now */
    uint64_t retry_at, retry_delay;
    int64_t retry_wall_ms;
    struct chpolicy pol;

    struct st_db *db;
    struct sg_store store;
    signal_context *sig;
    struct sg_ctx *sg;
    struct wa_creds creds;
    bool have_creds;
    struct wa_client *client;
    struct wa_session *sess;    /* receive/send paths of the current client (wa/session.h) */
    struct chmsg *msg;          /* their events as logs, API events, metrics (gw/chmsg.h) */
    struct chhook *hook;        /* the exec hook on received messages (gw/chhook.h) */
    struct gw_webhook *webhook; /* hooks.webhook: events to HTTP(S) endpoints (gw/webhook.h) */
    struct gw_access *access;   /* the access policy before the hook (gw/access.h) */
    struct dnsprobe *probe;     /* resolver-only probe in a DNS outage (gw/dnsprobe.h), or NULL */
    struct gw_notify *notify;   /* operator notifications (gw/notify.h) */
    struct gw_sendwait *sw;     /* API sends waiting for their shared COMMIT (gw/sendwait.h) */
    struct chmconn *mconn;      /* media_conn of both (gw/chmconn.h) */
    struct chmedia *media;      /* received files (gw/chmedia.h) */
    struct chmsend *msend;      /* files to send (gw/chmsend.h) */
    bool own_notify;            /* notify was made here (no shared one given): closed here */
    unsigned health_fail;

    char qr[QR_MAX];
    bool qr_valid;
    uint64_t qr_expires;
    uint64_t reconnects; /* successful reconnections (connected again after a loss) */
    uint64_t attempts;   /* failed attempts (sessions that ended and were retried) */

    uv_timer_t retry_timer, tick;
    uv_timer_t repair_timer; /* the store-wide repair runs from here, never from a callback */
    unsigned repair_peers;
    bool repair_upload;   /* the next connected uploads fresh pre-keys */
    uint64_t last_repair; /* monotonic ms of the last store-wide repair; 0 = none */
    int open_handles;
    bool closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* snprintf that truncates on purpose (log and status strings). */
static inline void strfmt(char *dst, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void strfmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static inline int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t now(const struct gw_channel *ch)
{
    return uv_now(ch->loop);
}

/* ---- channel.c: events, metrics, the transition function ---- */

/* The channel's series (gw/chmetrics.h). */
void ch_metric_add(struct gw_channel *ch, const char *name, double v);
void ch_metric_set(struct gw_channel *ch, const char *name, double v);
/* An event on the API stream (data is consumed; dropped once closing or without events). */
void ch_publish(struct gw_channel *ch, const char *type, cJSON *data);
/* An operator notification (gw/notify.h: deduplicated, every sink) and its resolution. */
void ch_notice(struct gw_channel *ch, enum gw_note_kind kind, const char *text);
void ch_resolved(struct gw_channel *ch, enum gw_note_kind kind, const char *text);
/* The one transition function. retry_ms: the delay of the attempt just scheduled, or
 * NO_RETRY. */
void ch_set_state(struct gw_channel *ch, enum gw_ch_state to, const char *reason,
                  uint64_t retry_ms);

/* ---- chstore.c: credentials, the store, a store that cannot write ---- */

/* <state>/accounts/<id>, where the linked marker (core/statedir.h) lives. */
void ch_account_dir(const struct gw_channel *ch, char *out, size_t n);
/* Write the linked marker (core/statedir.h); a failure is logged, not fatal. */
void ch_mark_linked(struct gw_channel *ch);
/* Store c (and take it as ch->creds): 0, -ENOTCONN without a store, or the store's error
 * (logged, last_error set). */
int ch_save_creds(struct gw_channel *ch, const struct wa_creds *c);
/* Load the stored credentials, or create (and store) fresh unpaired ones. -EUCLEAN: the
 * stored ones are invalid. */
int ch_load_creds(struct gw_channel *ch);
/* 0 open, 1 corrupt or lost (quarantined, state changed), < 0 error (detail set). */
int ch_open_store(struct gw_channel *ch);
/* Close the session's store side and the database (the inbox marker written first); the
 * credentials in memory are wiped. */
void ch_close_store(struct gw_channel *ch);
/* Rename the database, -wal and -shm to <db>.<tag>-<UTC> (never delete): 0 or -errno. */
int ch_move_aside(struct gw_channel *ch, const char *tag, char *newpath, size_t newlen);
/* Logged out: close the store, move the database aside, tell the operator. */
void ch_quarantine_loggedout(struct gw_channel *ch, const char *why);
/* Degraded: one probe write of the store; once it commits, reconnect. */
void ch_probe_store(struct gw_channel *ch);
/* chmsg's store error (a message that could not be stored): degraded while logged in. */
void ch_on_store_error(void *ud, int err);

/* ---- chrepair.c: store-wide session repair ---- */

/* chmsg's store_failing: at most one repair per CHANNEL_REPAIR_HOLD_MS, run from the repair
 * timer. */
void ch_want_repair(void *ud, unsigned peers);

/* ---- chsession.c: attempts, outcomes, outages, the housekeeping tick ---- */

/* End the session now (no on_close will come) and forget the client. */
void ch_drop_client(struct gw_channel *ch);
/* The next attempt in delay ms (the retry timer). */
void ch_schedule(struct gw_channel *ch, uint64_t delay);
/* A new attempt now, ending any session; the backoff is not reset. */
void ch_force_attempt(struct gw_channel *ch, const char *why);
/* A session's outcome through the policy (gw/chpolicy.h): retry, stop or quarantine. */
void ch_handle_outcome(struct gw_channel *ch, const struct wa_outcome *o);
/* Tear the running session down and treat it as a keepalive outcome (health, watchdog). */
void ch_end_session(struct gw_channel *ch, const char *text);
/* Connected again: the outage (if any) is over (channel.restored). */
void ch_end_outage(struct gw_channel *ch);
/* The channel stops retrying: no outage tracked any more, an open link_down resolved. */
void ch_drop_outage(struct gw_channel *ch, const char *why);
/* The 1 s housekeeping tick (ch->tick). */
void ch_on_tick(uv_timer_t *t);

/* ---- chclient.c: the wa_client callbacks ---- */

/* The callbacks (and signed pre-key ops) of every client the channel makes; ud = the channel. */
extern const struct wa_client_cbs ch_client_cbs;
