/* SPDX-License-Identifier: MIT */
/* chhook.h -- the exec hook (gw/hook.h) wired to one channel's received messages.
 *
 * One `struct chhook` per channel (gw/channel.h creates it with the channel and closes it
 * with the channel). For every text message the receive path committed to the inbox
 * (chmsg's message_received), chhook_message() runs `hooks.exec.command` with the message
 * JSON on stdin -- exactly the `message.received` event data (gw/json.h), one line ending
 * in "\n" -- and sends what the command prints (trimmed) as the reply to the chat the
 * message came from, through the channel's durable outbox with the idempotency key
 * `hook:<account>:<message id>`: a message handled twice never gets two replies. An empty
 * output means "no reply".
 *
 * Not handed to the hook: a non-text message (reactions, protocol, ...), copies of our own
 * messages from our other devices (sender = our PN or LID user), broadcasts and anything
 * that is not a 1:1 (PN/LID) or group chat, and everything when no command is configured.
 *
 * Limits: at most hooks.exec.max_running commands at once; the next messages wait in a FIFO
 * of up to hooks.exec.max_queued; beyond that a message is dropped (hook.failed,
 * "error":"queue_full"). Each command has hooks.exec.timeout_ms (then its process group is
 * killed) and GW_HOOK_OUTPUT_MAX bytes of output. Nothing is ever retried: a failure is one
 * warn log `[hook] [<account>]` and one `hook.failed` event
 * {"account","id","chat","error","detail"} with error one of "timeout", "exit" (non-zero
 * status or a signal), "output_too_large", "spawn", "send" (the channel refused the reply,
 * e.g. not connected), "queue_full". A reply queued publishes `hook.replied`
 * {"account","id","chat","reply_id","duplicate"?} (id = the received message's id).
 *
 * The hooks.exec.* values are read from *cfg when a message arrives, so a SIGHUP reload of
 * the daemon's config (the struct cfg points to) applies to the next messages; a command
 * already running keeps its timeout.
 *
 * Loop thread only. chhook_close() kills every running command and drops the queue; the
 * memory is released after the last command's exit was reaped (two-step), and nothing is
 * sent, published or read from cfg after chhook_close() returns.
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

struct chhook_opts {
    const char *account;         /* copied */
    const struct wg_config *cfg; /* hooks.exec.*: read live; must outlive chhook_close() */
    struct api_events *events;   /* may be NULL */
    chhook_send_fn send;         /* required */
    void *send_ud;
};

/* 0, -EINVAL (missing loop/account/cfg/send), -ENOMEM. */
int chhook_new(uv_loop_t *loop, const struct chhook_opts *o, struct chhook **out)
    __attribute__((warn_unused_result));
/* A message committed to the inbox (creds: our JIDs, to skip our own devices' copies; may be
 * NULL). Starts the command now or queues the message; never calls back synchronously.
 * NULL h is a no-op. */
void chhook_message(struct chhook *h, const struct wa_creds *creds, const struct wa_inmsg *m);
/* Forget the event ring (before the API server closes). NULL ok. */
void chhook_detach_api(struct chhook *h);
/* Kill the running commands, drop the queued messages, free when the last one is reaped.
 * NULL ok. */
void chhook_close(struct chhook *h);

struct chhook_stats {
    unsigned running, queued;
    unsigned long started, replied, failed, dropped, skipped;
};
void chhook_get_stats(const struct chhook *h, struct chhook_stats *out);
