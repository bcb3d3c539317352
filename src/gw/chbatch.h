/* SPDX-License-Identifier: MIT */
/* chbatch.h -- group commit for a channel: the <message>, <receipt> and <ack class='message'>
 * stanzas of one loop iteration in at most two transactions.
 *
 * chbatch_push() copies a stanza into the queue and starts a uv_check handle; the check
 * callback (right after that loop iteration's I/O callbacks, i.e. after every frame of the
 * reads that arrived together) flushes the queue: the messages and receipts go to
 * wa_recv_handle_batch_ex() and the acks of our own messages to the send path INSIDE that
 * transaction (acks->in_txn, then acks->done after it ended) -- ONE COMMIT for all of it, then
 * every ack/receipt, then every env->on_message. When the receive batch does not commit as
 * a whole (it falls back to one transaction per message) or has nothing to store, the acks
 * go to acks->handle (their own group commit) instead.
 * Which stanzas to queue is the caller's choice (chmsg queues exactly those three kinds).
 * With chbatch_set_delay(ms), a queue holding only acks and receipts (no <message>) waits up to
 * ms after that iteration for more before it is flushed (a commit window: under load the acks
 * and receipts of many of our messages share one fsync; their outbox states and the server's
 * receipt acks are late by at most ms). Messages are never delayed: one arriving flushes
 * everything at the end of its iteration. A full queue (WA_RECV_BATCH_MAX) is flushed at
 * once, from inside chbatch_push. Durability is wa_recv_handle_batch's: nothing is acked
 * before its commit; a store failure acks nothing of the batch and on_error is called per
 * stanza (the server redelivers). chbatch_drop() forgets the queue without acking (session
 * ended: the server redelivers what was not acked). The check and timer handles are unref'ed
 * (they never keep the loop alive) and stopped while the queue is empty (no idle wake-ups).
 * Loop thread only. env is copied; its pointers are borrowed and must outlive the chbatch.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "wa/node.h"
#include "wa/recv.h"

struct chbatch;

/* Called for each stanza of a failed batch (rc < 0: a local/store error, nothing acked). */
typedef void (*chbatch_error_cb)(void *ud, const struct wa_node *n, int rc);
/* Where the <ack class='message'> stanzas of a flush go (in arrival order, n >= 1); the
 * semantics of wa_sender_handle_acks / wa_sender_acks_in_txn / wa_sender_txn_done. */
struct chbatch_acks {
    void (*handle)(void *ud, const struct wa_node *const *acks, size_t n);
    void (*in_txn)(void *ud, const struct wa_node *const *acks, size_t n);
    void (*done)(void *ud, bool committed);
};

/* acks may be NULL (acks are then dropped: queue none); it is copied. 0, -EINVAL (missing
 * loop/env, or acks without all three functions), -ENOMEM, or a libuv error mapped to -errno. */
int chbatch_new(uv_loop_t *loop, const struct wa_recv_env *env, chbatch_error_cb on_error,
                const struct chbatch_acks *acks, void *ud, struct chbatch **out)
    __attribute__((warn_unused_result));
/* True for the stanzas a chbatch takes: <message>, <receipt> other than type='retry', and
 * <ack class='message'>. */
bool chbatch_takes(const struct wa_node *n);
/* Queue a copy of n. 0, -ENOMEM (nothing queued: the caller may handle n itself). */
int chbatch_push(struct chbatch *b, const struct wa_node *n) __attribute__((warn_unused_result));
/* The commit window for acks and receipts (0, the default: none), at most
 * CHBATCH_DELAY_MAX_MS. NULL b is a no-op. */
#define CHBATCH_DELAY_MAX_MS 50
void chbatch_set_delay(struct chbatch *b, unsigned ms);
/* Handle the queue now (no-op when empty). */
void chbatch_flush(struct chbatch *b);
/* Forget the queued stanzas without acking them. */
void chbatch_drop(struct chbatch *b);
/* Number of queued stanzas. */
size_t chbatch_pending(const struct chbatch *b);
/* Drop the queue and close: the memory goes in the close callback (NULL ok). */
void chbatch_free(struct chbatch *b);
