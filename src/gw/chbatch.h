/* SPDX-License-Identifier: MIT */
/* chbatch.h -- group commit for a channel: the <message> stanzas of one loop iteration in ONE
 * transaction (wa_recv_handle_batch).
 *
 * chbatch_push() copies a stanza into the queue and starts a uv_check handle; the check
 * callback (right after that loop iteration's I/O callbacks, i.e. after every frame of the
 * reads that arrived together) hands the queue to wa_recv_handle_batch(): one COMMIT, then
 * every receipt, then every env->on_message. A full queue (WA_RECV_BATCH_MAX) is flushed at
 * once, from inside chbatch_push. Durability is wa_recv_handle_batch's: nothing is acked
 * before its commit; a store failure acks nothing of the batch and on_error is called per
 * stanza (the server redelivers). chbatch_drop() forgets the queue without acking (session
 * ended: the server redelivers what was not acked). The check handle is unref'ed (it never
 * keeps the loop alive) and stopped while the queue is empty (no idle wake-ups).
 * Loop thread only. env is copied; its pointers are borrowed and must outlive the chbatch.
 */
#pragma once
#include <stddef.h>

#include <uv.h>

#include "wa/node.h"
#include "wa/recv.h"

struct chbatch;

/* Called for each stanza of a failed batch (rc < 0: a local/store error, nothing acked). */
typedef void (*chbatch_error_cb)(void *ud, const struct wa_node *n, int rc);

/* 0, -EINVAL (missing loop/env), -ENOMEM, or a libuv error mapped to -errno. */
int chbatch_new(uv_loop_t *loop, const struct wa_recv_env *env, chbatch_error_cb on_error, void *ud,
                struct chbatch **out) __attribute__((warn_unused_result));
/* Queue a copy of n. 0, -ENOMEM (nothing queued: the caller may handle n itself). */
int chbatch_push(struct chbatch *b, const struct wa_node *n) __attribute__((warn_unused_result));
/* Handle the queue now (no-op when empty). */
void chbatch_flush(struct chbatch *b);
/* Forget the queued stanzas without acking them. */
void chbatch_drop(struct chbatch *b);
/* Number of queued stanzas. */
size_t chbatch_pending(const struct chbatch *b);
/* Drop the queue and close: the memory goes in the close callback (NULL ok). */
void chbatch_free(struct chbatch *b);
