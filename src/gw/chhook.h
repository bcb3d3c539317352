/* SPDX-License-Identifier: MIT */
/* chhook.h -- the exec hook (gw/hook.h) wired to one channel's inbox, exactly once.
 *
 * One `struct chhook` per channel (gw/channel.h creates it with the channel, attaches the
 * account database with chhook_set_store() once it is open, and closes it with the
 * channel). The inbox is the queue: every row the receive path commits starts pending
 * (inbox.delivered = 0, schema v6) and stays pending until it is settled, so a message
 * whose hook run was lost to a crash, a kill or a power cut is handed over again after the
 * restart. For each pending text message chhook runs `hooks.exec.command` with the message
 * JSON on stdin -- the `message.received` event data (gw/json.h) plus "attempt" (the run's
 * number, 1-based, counted durably: > 1 means an earlier run may have seen this message,
 * e.g. it was cut short by a crash), one line ending in "\n" -- and sends what the command
 * prints (trimmed) as the reply to the chat the message came from, through the channel's
 * durable outbox with the idempotency key `hook:<account>:<message id>`: a message handled
 * twice never gets two replies. An empty output means "no reply".
 *
 * Order per message: record the run (hook_state.attempts, fsynced) -> start -> exit 0 ->
 * queue the reply (its own COMMIT) -> settle the row. A crash anywhere before the settle
 * runs the hook again after the restart (at-least-once runs, marked by "attempt"); the key
 * keeps the reply single (exactly-once effect).
 *
 * Settled without a run (counted as skipped): a non-text message (reactions, protocol,
 * ...), copies of our own messages from our other devices (sender = our PN or LID user),
 * broadcasts and anything that is not a 1:1 (PN/LID) or group chat, rows the admit filter
 * refuses; and every pending row while no command is configured (nothing is owed to an
 * agent that does not exist; settled in one write a second at most).
 *
 * Failures: a run that fails (error "timeout", "exit" = non-zero status or a signal,
 * "output_too_large", "spawn", "send" = the channel refused the reply) is retried after
 * hooks.exec.retry_base_ms, doubling up to hooks.exec.retry_max_ms, one warn log line each;
 * after hooks.exec.max_attempts runs it gives up: the row is settled and ONE `hook.failed`
 * event {"account","id","chat","error","detail","attempts"} is published. The retry time is
 * stored (hook_state.next_at), so the backoff survives a restart. A reply queued publishes
 * `hook.replied` {"account","id","chat","reply_id","duplicate"?} (id = the received message).
 *
 * Limits: at most hooks.exec.max_running commands at once; the rest wait in the inbox (read
 * back in pages of 64, oldest first). Each command has hooks.exec.timeout_ms (then its
 * process group is killed) and GW_HOOK_OUTPUT_MAX bytes of output.
 *
 * The hooks.exec.* values are read from *cfg at each start, so a SIGHUP reload of the
 * daemon's config (the struct cfg points to) applies to the next runs; a command already
 * running keeps its timeout.
 *
 * Loop thread only. chhook_close() kills every running command (their rows stay pending);
 * the memory is released after the last command's exit was reaped (two-step), and nothing
 * is sent, published, read from cfg or written after chhook_close() returns.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "gw/config.h"
#include "gw/sendres.h"
#include "wa/creds.h"
#include "wa/inmsg.h"
#include "wa/outmsg.h"

struct chhook;
struct api_events;

/* Queue the reply m durably: 0 (r filled: id, duplicate), or a negative errno with r->error
 * saying why (-EAGAIN: the channel cannot send now; -EINVAL: the reply was refused; store
 * errors). gw_channel_send has this shape. */
typedef int (*chhook_send_fn)(void *ud, const struct wa_outmsg *m, struct gw_send_result *r);

/* An extra filter run on every pending row before the hook (e.g. a DM/group access policy):
 * false = the message is not for the agent; it is settled without a run (skipped). It sees
 * the live messages and the ones read back after a restart alike. */
typedef bool (*chhook_admit_fn)(void *ud, const struct wa_inmsg *m);

/* Optional side signals of a run (ud = send_ud): typing(chat, "composing") when a run starts
 * and typing(chat, "paused") when it ends, only while hooks.exec.typing is true; handled(chat,
 * sender, id) once a message was handled (its reply queued, or the hook chose none): the read
 * receipt of whatsapp.mark_read "on_handled". Best effort: nothing is retried. */
typedef void (*chhook_typing_fn)(void *ud, const char *chat, const char *state);
typedef void (*chhook_handled_fn)(void *ud, const char *chat, const char *sender, const char *id);

struct chhook_opts {
    const char *account;          /* copied */
    const struct wa_creds *creds; /* our JIDs (own copies are skipped); live; may be NULL */
    const struct wg_config *cfg;  /* hooks.exec.*: read live; must outlive chhook_close() */
    struct api_events *events;    /* may be NULL */
    chhook_send_fn send;          /* required */
    void *send_ud;
    chhook_admit_fn admit; /* may be NULL: every wanted message goes to the hook */
    void *admit_ud;
    chhook_typing_fn typing;   /* may be NULL */
    chhook_handled_fn handled; /* may be NULL */
};

/* 0, -EINVAL (missing loop/account/cfg/send), -ENOMEM. */
int chhook_new(uv_loop_t *loop, const struct chhook_opts *o, struct chhook **out)
    __attribute__((warn_unused_result));
/* Deliver this stored inbox row to the agent: m was committed to the inbox (creds: our
 * JIDs, to skip our own devices' copies; may be NULL = keep the ones known). The row is
 * read back from the store on a later loop iteration (never synchronously) and run when a
 * slot is free. NULL h is a no-op. */
void chhook_message(struct chhook *h, const struct wa_creds *creds, const struct wa_inmsg *m);
/* The account database the pending rows live in (borrowed; NULL before it is closed).
 * Attaching one scans it for rows left pending (e.g. by a crash). Runs started on an
 * earlier store are not recorded in the new one. */
void chhook_set_store(struct chhook *h, struct st_db *db);
/* Something a waiting row needed arrived (its file was fetched, or gave up): scan again. A
 * media message waits for its file up to media.hook_wait_s after it was received (the rows
 * after it wait too, in order); its JSON then carries "file" (gw/json.h gw_json_add_file). */
void chhook_wake(struct chhook *h);
/* Forget the event ring (before the API server closes). NULL ok. */
void chhook_detach_api(struct chhook *h);
/* Kill the running commands (their rows stay pending), free when the last one is reaped.
 * NULL ok. */
void chhook_close(struct chhook *h);

struct chhook_stats {
    unsigned running;
    unsigned long started;  /* runs started */
    unsigned long repeated; /* of them, runs with attempt > 1 (a retry or after a crash) */
    unsigned long replied;  /* replies queued (or found queued: duplicate) */
    unsigned long retried;  /* failed runs that will be retried */
    unsigned long failed;   /* messages given up on (hook.failed) */
    unsigned long skipped;  /* rows settled without a run */
};
void chhook_get_stats(const struct chhook *h, struct chhook_stats *out);
