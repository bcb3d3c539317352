/* SPDX-License-Identifier: MIT */
/* session.h -- the messaging session: one dispatcher for the stanzas of a linked device.
 *
 * A `struct wa_session` sits on one wa_client (wa/client.h) and one account store. It
 * attaches itself as the client's sink, so every stanza the connection core does not handle
 * comes here directly, and it owns everything that answers them: the receiver (wa/recv.h),
 * the sender (wa/send.h) and the loop-iteration batch (wa/batch.h). One `{tag, handler}`
 * table decides who gets a stanza:
 *
 *   message       -> the batch (group commit), or the receiver alone
 *   receipt       -> the batch; type='retry' -> the receiver (ack), then the sender's answer
 *   ack           -> class='message': the batch (the sender's `sent` states in the same
 *                    transaction), or the sender alone; other classes are ignored
 *   notification  -> the receiver (ack; an `encrypt` identity change drops the sessions)
 *   call          -> the receiver (ack)
 *
 * (<iq>, <success>, <failure>, <stream:error>, <ib> and the pre-key count notification are
 * the connection core's: wa/client.c has the other table.) A stanza outside the batch first
 * flushes it, so stanzas are handled in arrival order.
 *
 * The transaction of a batch: the receiver's messages and receipts and the sender's acks
 * (with the rows they let through) commit together (wa_recv_handle_batch_ex with the sender's
 * in-transaction body); only after the COMMIT go the acks and receipts to the server, and
 * only then the typed events below, through ONE callback table. The gateway layer never sees
 * a stanza.
 *
 * Events run on the loop thread, never from inside wa_session_send() (state changes found
 * there are delivered from a zero-delay timer, at the latest one loop iteration later). Do
 * not free the session from inside an event.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "signal/sg_cipher.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/inmsg.h"
#include "wa/outmsg.h"
#include "wa/recv.h"
#include "wa/send.h"

struct wa_session;

struct wa_session_events {
    /* A message was committed to the inbox (and its receipt sent). */
    void (*message_received)(void *ud, const struct wa_inmsg *m);
    /* One of our messages changed state on the server's word: sent (its ack), failed. */
    void (*message_state)(void *ud, const char *id, enum st_out_state st, const char *error);
    /* A peer's delivery/read receipt moved one of our messages forward. */
    void (*receipt)(void *ud, const char *id, enum st_out_state st, const char *from);
    /* A message could not be decrypted (a retry receipt went out, or we gave up). */
    void (*undecryptable)(void *ud, const struct wa_undecryptable *u);
    /* A stanza was not stored (a local/store error): it was not acked, the server redelivers. */
    void (*not_stored)(void *ud, const char *tag, const char *id, int err);
    /* Many distinct peers fail to decrypt at once (wa_recv_env.on_store_failing): the owner
     * runs the store-wide repair -- from a timer, never from inside this call. */
    void (*store_failing)(void *ud, unsigned peers, unsigned fails, unsigned oks);
    /* A <notification type='mediaretry'> (wa/mediaretry.h): the answer to a media retry
     * request; n is valid during the call only (the session acks it after). */
    void (*media_retry)(void *ud, const struct wa_node *n);
    void *ud;
};

struct wa_session_opts {
    struct wa_client *client;     /* borrowed: outlives the session */
    struct st_db *db;             /* borrowed */
    struct sg_ctx *sg;            /* borrowed, over db's Signal store */
    const struct wa_creds *creds; /* borrowed, kept current by the owner */
    bool batch;                   /* group commit per loop iteration */
    unsigned commit_window_ms;    /* acks and receipts alone wait this long (<= 50) */
    /* the receiver's repair tuning (wa_recv_env; 0 = defaults) */
    unsigned retry_gap_ms, retry_wait_ms, store_peers, store_window_ms, phone_delay_ms;
};

/* Create and attach to opts->client (wa_client_set_sink). ev is copied. 0, -EINVAL, -ENOMEM. */
int wa_session_new(const struct wa_session_opts *o, const struct wa_session_events *ev,
                   struct wa_session **out) __attribute__((warn_unused_result));
/* Detach from the client, drop what is queued (not acked: the server redelivers) and free
 * (two-step: the memory goes in libuv close callbacks). NULL ok. */
void wa_session_free(struct wa_session *s);
/* Forget the event table (nothing more is reported). NULL ok. */
void wa_session_mute(struct wa_session *s);

/* Durable enqueue of m (wa_sender_enqueue) and a kick. 0 (*out = the row, `queued`),
 * ST_DUPLICATE (the row of the same idempotency key), -EINVAL (bad message: err says why),
 * or a store error (err says which). */
int wa_session_send(struct wa_session *s, const struct wa_outmsg *m, struct st_outbox_msg *out,
                    char *err, size_t errlen) __attribute__((warn_unused_result));
/* The same with the COMMIT shared by the sends of this loop iteration
 * (wa_sender_enqueue_deferred): *deferred = true means the row is not durable until done(arg,
 * rc) says so; the caller ends the group with wa_session_settle() before its iteration ends
 * (a uv_check handle) -- anyone else's transaction on the store ends it earlier. */
int wa_session_send_deferred(struct wa_session *s, const struct wa_outmsg *m,
                             struct st_outbox_msg *out, wa_sender_done_fn done, void *arg,
                             bool *deferred, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Look at the outbox again (a held row was released: gw/chmsend.h). NULL ok. */
void wa_session_kick(struct wa_session *s);
/* End the deferred group now: 0 (none open, or committed) or the COMMIT's error. NULL ok. */
int wa_session_settle(struct wa_session *s);
void wa_session_stats(const struct wa_session *s, struct wa_recv_stats *out);
/* Tell `to` (a number or JID, normalised as a send's) we are "composing", "recording" or
 * "paused" (<chatstate>): not durable, nothing is retried. 0, -EINVAL (bad to / state: err
 * says why), -ENOTCONN, or a send error. */
int wa_session_chatstate(struct wa_session *s, const char *to, const char *state, char *err,
                         size_t errlen) __attribute__((warn_unused_result));
/* A read receipt for the received message `id` in `chat` from `sender` (groups: the
 * participant; "" or the chat itself in 1:1 chats). 0, -EINVAL, -ENOTCONN, send errors. */
int wa_session_mark_read(struct wa_session *s, const char *chat, const char *sender, const char *id)
    __attribute__((warn_unused_result));
