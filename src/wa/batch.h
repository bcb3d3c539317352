/* SPDX-License-Identifier: MIT */
/* batch.h -- the stanzas of one loop iteration, queued for one group commit.
 *
 * wa_batch_push() clones a stanza into the queue (wa_node_clone) and starts a uv_check
 * handle; the check callback (right after that loop iteration's I/O callbacks, i.e. after
 * every frame of the reads that arrived together) hands the whole queue to the flush
 * function, in arrival order. With wa_batch_set_delay(ms), a queue holding no <message>
 * waits up to ms after that iteration for more before it is flushed (a commit window: under
 * load the acks and receipts of many of our messages share one fsync). Messages are never
 * delayed: one arriving flushes everything at the end of its iteration. A full queue
 * (WA_BATCH_MAX) is flushed at once, from inside wa_batch_push. wa_batch_drop() forgets the
 * queue (session ended: the server redelivers what was not acked). The handles are unref'ed
 * (they never keep the loop alive) and stopped while the queue is empty (no idle wake-ups).
 * What to queue and what a flush does is the owner's (wa/session.c). Loop thread only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "wa/node.h"

#define WA_BATCH_MAX          64 /* = WA_RECV_BATCH_MAX */
#define WA_BATCH_DELAY_MAX_MS 50

struct wa_batch;
/* The queue, n >= 1 nodes in arrival order; they are freed after the call. The flush
 * function may push again (a new queue) but must not free the batch. */
typedef void (*wa_batch_flush_fn)(void *ud, struct wa_node *const *q, size_t n);

/* 0, -EINVAL, -ENOMEM, or a libuv error. */
int wa_batch_new(uv_loop_t *loop, wa_batch_flush_fn fn, void *ud, struct wa_batch **out)
    __attribute__((warn_unused_result));
/* Queue a clone of n. 0, -ENOMEM (nothing queued: handle n directly), -EBUSY (full while a
 * flush is running). */
int wa_batch_push(struct wa_batch *b, const struct wa_node *n) __attribute__((warn_unused_result));
/* The commit window for a queue without messages (0, the default: none), capped. */
void wa_batch_set_delay(struct wa_batch *b, unsigned ms);
/* Flush now (no-op when empty or already flushing). NULL ok. */
void wa_batch_flush(struct wa_batch *b);
/* Forget the queue without flushing. NULL ok. */
void wa_batch_drop(struct wa_batch *b);
size_t wa_batch_pending(const struct wa_batch *b);
/* Drop and close: the memory goes in the close callbacks (NULL ok). */
void wa_batch_free(struct wa_batch *b);
