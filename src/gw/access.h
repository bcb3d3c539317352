/* SPDX-License-Identifier: MIT */
/* access.h -- who may reach the agent: the access policy, decided once before every sink (the
 * exec hook and whatever else hands received messages to an agent).
 *
 * Per account (gw/config.h struct wg_access, read live so SIGHUP applies it):
 *   dm_policy     "pairing" (default): a DM from a sender who is neither approved nor in
 *                 allow_from is blocked, and the sender gets ONE pairing code (once, not per
 *                 message; kept in the account db, table access_pairing); the owner approves
 *                 it with `wagate pairing approve CODE` (POST .../pairing/approve) and the
 *                 sender is approved for good (access_approved). "allowlist": only allow_from.
 *                 "open": everyone.
 *   group_policy  "allowlist" (default): only the groups listed in `groups`; "open": all.
 *   require_mention (default true): in an allowed group, only messages whose contextInfo
 *                 mentionedJid holds our own JID (PN or LID user).
 * The owner's own chat (note to self) and our own messages are always allowed; chats that
 * are neither a user nor a group (status@broadcast, broadcast lists, newsletters) never are,
 * and only a text in a direct chat earns a pairing code (not a reaction or a protocol
 * message). A blocked
 * message has been stored, acked and counted (message.received) like any other; it is only
 * not handed to the agent: counted in wagate_channel_messages_blocked_total{reason}, logged,
 * and published as `access.blocked` {"account","id","chat","sender","reason"}. A pairing code
 * sent is published as `access.pairing` {"account","sender","code"}.
 *
 * gw_access_decide is the pure decision; struct gw_access adds the state (the account db
 * through a getter, since the channel opens and closes it) and the pairing replies, sent
 * through the outbox from a zero-delay timer (never inside the receive path's callback) with
 * the idempotency key "pairing:<account>:<code>". All on the loop thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "gw/config.h"
#include "gw/sendres.h"
#include "store/db.h"
#include "wa/creds.h"
#include "wa/inmsg.h"
#include "wa/outmsg.h"

struct api_events;
struct api_metrics;

#define GW_PAIRING_CODE_LEN 8
#define GW_ACCESS_PENDING   16  /* pairing replies waiting for the timer; more: sent next time */
#define GW_ACCESS_SEEN      256 /* live verdicts remembered for the exec hook's scan */

enum gw_access_verdict {
    GW_ACCESS_ALLOW = 0,
    GW_ACCESS_DENY,
    GW_ACCESS_PAIR, /* deny, and the sender should get a pairing code (if it has none yet) */
};

/* One received message, as the policy sees it. */
struct gw_access_in {
    bool group;     /* the chat is a group */
    bool other;     /* the chat is neither a user nor a group (broadcast, status, newsletter) */
    bool owner;     /* sent by us (our phone or another of our devices) or our own chat */
    bool listed;    /* DM: the sender is in allow_from; group: the chat is in groups */
    bool approved;  /* DM: the owner approved the sender (pairing) */
    bool mentioned; /* the text mentions our own JID */
};

/* The verdict; *why (static text) says which rule decided. */
enum gw_access_verdict gw_access_decide(const struct wg_access *p, const struct gw_access_in *in,
                                        const char **why);

/* The pairing code alphabet (no 0/O, 1/I/L): a code as typed by the owner, normalised
 * (upper case, '-' and spaces dropped) into out[GW_PAIRING_CODE_LEN + 1]; -EINVAL if it is
 * not one. */
int gw_pairing_code_norm(const char *in, char *out);

typedef int (*gw_access_send_fn)(void *ud, const struct wa_outmsg *m, struct gw_send_result *r);

struct gw_access_opts {
    uv_loop_t *loop;
    const char *account;         /* copied */
    const struct wg_config *cfg; /* read live (cfg_access); must outlive the object */
    struct api_events *events;   /* may be NULL */
    struct api_metrics *metrics; /* may be NULL */
    gw_access_send_fn send;      /* the pairing replies (the channel's send) */
    void *send_ud;
    struct st_db *(*db)(void *ud); /* the account db, NULL while it is not open */
    void *db_ud;
};

struct gw_access;

/* 0, -EINVAL, -ENOMEM. */
int gw_access_new(const struct gw_access_opts *o, struct gw_access **out)
    __attribute__((warn_unused_result));
/* Closes the timer (the memory goes when the loop has closed it); pending replies are dropped
 * (their codes are stored: the sender gets none, and is approved like any other). */
void gw_access_free(struct gw_access *a);
/* Stop publishing events and metrics (the API is going away before the channel). */
void gw_access_detach_api(struct gw_access *a);
/* THE check before the sinks, on a message as it arrives (with its mentions): true when m may
 * be handed to the agent; sends the pairing code, publishes access.blocked. The verdict is
 * remembered by cursor (the last GW_ACCESS_SEEN) for gw_access_admit. A NULL a allows all. */
bool gw_access_check(struct gw_access *a, const struct wa_creds *creds, const struct wa_inmsg *m);
/* The exec hook's filter (chhook_opts.admit) on a stored row it has never started: the live
 * verdict when there was one; else (a row stored before a restart or a crash) the policy
 * again, quietly (no code, no event), with the mentions its metadata keeps (schema v8; a
 * row from before has none: a group that requires a mention does not admit it). */
bool gw_access_admit(struct gw_access *a, const struct wa_creds *creds, const struct wa_inmsg *m);
/* The owner approves a pairing code: 1 (sender copied into sender_out), 0 unknown code,
 * -EINVAL not a code, -EAGAIN the db is not open, store errors. */
int gw_access_approve(struct gw_access *a, const char *code, char *sender_out, size_t cap)
    __attribute__((warn_unused_result));
