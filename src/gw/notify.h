/* SPDX-License-Identifier: MIT */
/* notify.h -- operator notifications: one mechanism, many sinks.
 *
 * A notification has a kind, an account, a level, a text, a dedup key ("<kind>:<account>"), a
 * creation time and, for the kinds that have one, a resolution: a follow-up notification of
 * its own kind (link_down -> restored, logged_out -> relinked, ...; table in notify.c and
 * docs/api.md) that closes it.
 *
 *   - gw_notify_raise(): an OPEN notification of the same kind and account is not raised
 *     again (deduplicated: its "repeats" counter goes up, no sink sees it). Kinds without a
 *     resolution (sessions_reset, error) are never open: each raise goes out.
 *   - gw_notify_resolve(): closes the open one of that kind and account with its follow-up;
 *     nothing happens when none is open (an outage that never reached notify.outage_after_s
 *     has nothing to restore).
 *
 * Sinks, in this order, for a notification and for a follow-up alike:
 *   1. the log (info/warn/error by level, component "notify");
 *   2. the event stream: `notification` / `notification.resolved` (data: the JSON below), and
 *      the older `channel.notice` {"account","level","text"} for existing consumers;
 *   3. the recent list (NOTIFY_RECENT_MAX, open ones are evicted last): gw_notify_list_json()
 *      for GET /api/v1/notifications and the dashboard;
 *   4. notify.command: run through the exec hook's spawn (gw/hook.h) with the JSON on stdin,
 *      one at a time, killed after notify.command_timeout_ms; the others wait in a queue of
 *      notify.command_max_queued (a full queue drops the newest, logged);
 *   5. notify.self_chat: the text as a message to the account's own number ("note to self"),
 *      sent when the link is up (gw_notify_link), held until then (NOTIFY_SELF_QUEUE_MAX in
 *      all, oldest dropped). Sends run from a timer, never inside the caller's stack.
 *
 * JSON of a notification (the `notification` event's data, the command's stdin):
 *   {"id":7,"kind":"link_down","account":"default","level":"warn","text":"...",
 *    "key":"link_down:default","created":"2026-12-03T05:50:00.123Z","created_ms":...,
 *    "open":true,"repeats":0,"resolved":null}
 * a follow-up (`notification.resolved`) has "resolves":{"id","kind","created"} and
 * "open":false; in the recent list a closed notification carries
 * "resolved":{"id","kind","text","at","at_ms"}.
 *
 * Persistence (opts.path set, the daemon's <state>/notifications.json): the recent list and
 * the id counter are written to that file (file_write_atomic: fsynced, renamed) BEFORE a new
 * notification or follow-up goes to the sinks, and at close (repeat counters). After a
 * restart the list is loaded back: open ones stay open, so the same condition raised again is
 * deduplicated into them (a restart never runs notify.command or sends a note to self again
 * for a notification already raised; a crash between the write and the sinks loses that
 * notification's sinks instead), and their follow-up resolves them; ids continue after the
 * largest one. What waited for a sink (the command queue, notes to self held while the link
 * was down) is not kept. A file that does not parse (torn, garbage, over NOTIFY_FILE_MAX
 * bytes, another version) is renamed to <path>.bad-<UTC>, a warning is logged and the list
 * starts empty; entries that do not validate are skipped (counted in the warning). A failed
 * write is logged (warn once per failure streak); the notification still goes out.
 *
 * Strings are copied. Everything runs on the loop thread. cfg is read live (a reload that
 * changes notify.* applies to the next notification) and must outlive the module.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "gw/config.h"

struct api_events;
struct gw_notify;

enum gw_note_kind {
    GW_NOTE_LINK_DOWN = 0,   /* the link down longer than notify.outage_after_s -> restored */
    GW_NOTE_LOGGED_OUT,      /* a QR is needed (phone, operator, lost/corrupt store) -> relinked */
    GW_NOTE_CONFLICT,        /* replaced by another client, repeatedly -> conflict_ended */
    GW_NOTE_BANNED,          /* temporary ban (402) -> ban_lifted */
    GW_NOTE_UPDATE_REQUIRED, /* the server says the client is outdated (405) -> updated */
    GW_NOTE_DISK,            /* the store cannot write (disk full, EIO) -> disk_ok */
    GW_NOTE_SESSIONS_RESET,  /* store-wide encryption session reset (no resolution) */
    GW_NOTE_CURSOR_RESET,    /* a restored / rolled-back database: inbox rows lost (none) */
    GW_NOTE_ERROR,           /* any other operator-facing failure (no resolution) */
    GW_NOTE_KIND_COUNT
};

enum gw_note_level { GW_NOTE_INFO = 0, GW_NOTE_WARN, GW_NOTE_ERR };

#define NOTIFY_TEXT_MAX       1024       /* bytes of a text, longer ones are cut */
#define NOTIFY_RECENT_MAX     128        /* notifications kept for the list (follow-ups inside) */
#define NOTIFY_SELF_QUEUE_MAX 32         /* note-to-self messages held while links are down */
#define NOTIFY_FILE_MAX       (1u << 20) /* bytes of a notifications file read back */
#define NOTIFY_FILE_VERSION   1
#define NOTIFY_FILE           "notifications.json" /* under the state dir (the daemon's) */

/* Send `text` to `account`'s own number. 0 accepted, -EAGAIN not now (kept queued), another
 * negative errno: dropped (logged). */
typedef int (*gw_notify_send_fn)(void *ud, const char *account, const char *text);

struct gw_notify_opts {
    uv_loop_t *loop;
    const struct wg_config *cfg; /* notify.* read live; must outlive the module */
    struct api_events *events;   /* NULL: no event sink */
    const char *path;            /* the notifications file (copied); NULL: memory only */
};

/* 0 and *out, -EINVAL, -ENOMEM. */
int gw_notify_new(const struct gw_notify_opts *o, struct gw_notify **out)
    __attribute__((warn_unused_result));
/* The note-to-self sender (NULL: none; the queue waits). */
void gw_notify_set_sender(struct gw_notify *n, gw_notify_send_fn fn, void *ud);
/* Forget the event ring (before the API server closes). */
void gw_notify_detach_api(struct gw_notify *n);
/* Stop: a running command is killed, queues are dropped; the memory goes once the last
 * handle closed. Nothing is sent or published after it. NULL is a no-op. */
void gw_notify_close(struct gw_notify *n);

/* Raise: the id (> 0), 0 when deduplicated (an open one exists), -EINVAL, -ECANCELED
 * (closing). level < 0: the kind's default. */
long long gw_notify_raise(struct gw_notify *n, enum gw_note_kind kind, const char *account,
                          int level, const char *text);
/* Resolve the open one: the follow-up's id (> 0), 0 when none is open, -EINVAL, -ECANCELED. */
long long gw_notify_resolve(struct gw_notify *n, enum gw_note_kind kind, const char *account,
                            const char *text);
/* Resolve once settle_ms passed without the same kind being raised again for the account (a
 * raise in between cancels it: the notification stays open, one repeat more): damps a
 * condition that flaps. The follow-up's id when settle_ms is 0, else 0 (pending or none). A
 * second call while one is pending keeps the first deadline. */
long long gw_notify_resolve_after(struct gw_notify *n, enum gw_note_kind kind, const char *account,
                                  const char *text, unsigned settle_ms);
bool gw_notify_is_open(const struct gw_notify *n, enum gw_note_kind kind, const char *account);
/* The account's link went up or down (note-to-self messages go out while it is up). */
void gw_notify_link(struct gw_notify *n, const char *account, bool up);

/* {"notifications":[newest first...],"open":N}; at most `limit` (0: all kept); NULL on OOM. */
cJSON *gw_notify_list_json(const struct gw_notify *n, size_t limit);

/* Counters (tests, status): commands run, dropped from a full queue; self messages sent. */
struct gw_notify_stats {
    unsigned long long raised, deduplicated, resolved;
    unsigned long long loaded, saves, save_failures; /* the notifications file */
    unsigned long long commands_run, commands_failed, commands_dropped;
    unsigned long long self_sent, self_dropped;
    size_t self_queued, commands_queued;
};
void gw_notify_stats(const struct gw_notify *n, struct gw_notify_stats *st);

const char *gw_note_kind_name(enum gw_note_kind k);
/* The follow-up's kind name ("restored"), NULL for a kind without a resolution. */
const char *gw_note_resolution_name(enum gw_note_kind k);
const char *gw_note_level_name(enum gw_note_level l);
