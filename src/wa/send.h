/* SPDX-License-Identifier: MIT */
/* send.h -- the send path: durable outbox, device lists, pre-key bundles, per-device
 * encryption, own-device copies, groups with sender keys, answering retry receipts.
 *
 * Durability (design.md "Durability protocol"): wa_sender_enqueue() commits the outbox row
 * and the retry-buffer copy (the plaintext Message protobuf) in one transaction before
 * anything goes on the wire. Sending one row: usync (cached, WA_USYNC_TTL_S) -> one
 * `encrypt get` for every device without a session -> BEGIN; build sessions; encrypt for each
 * device (sessions advance); COMMIT -> only then the <message> frame is written. The row is
 * marked `sent` on the server's <ack class='message' id=…>, then on_state runs.
 *
 * Pipeline: one row is prepared at a time (its iqs and its encryption run alone; encryption
 * and the commit happen inside one callback on the loop thread, so no session is ever
 * encrypted to concurrently); once its frame is written the next row starts while the first
 * waits for its ack (at most WA_SEND_INFLIGHT_MAX unacknowledged rows).
 *
 * Group commit: wa_sender_enqueue, wa_sender_kick, wa_sender_handle_acks and the iq callbacks
 * open ONE transaction for all the work they do: the new row (enqueue), the acks' `sent`
 * states, and every queued row whose devices and sessions are known (each encrypted inside a
 * savepoint, so one row's failure undoes only that row). The frames of the encrypted rows are
 * held in memory and written, in order, only after that COMMIT; a failed COMMIT forgets them
 * (the rows are still queued; the sender pauses until the next kick). So an idle connected
 * sender turns "enqueue + encrypt" into one fsync, and a burst of acks or a backlog after a
 * reconnect costs one fsync, not one per row.
 *
 * Addressing (chosen after wa-protocol.md §13): the Baileys form that the verified transcript
 * shows -- stanza `to` and `<to jid>` in PN form (device 0 without ":0"), Signal sessions
 * under the LID addresses ("<lid>_1.<device>") learnt from usync (PN addresses when the server
 * gives no LID); the LID<->PN pairs are recorded with st_lid_put. Groups: sender key under our
 * own LID address (as whatsmeow; fakewa and both clients accept it), SKDM only to devices that
 * lack it per the sender-key memory (Baileys), consecutive iterations. Message plaintext:
 * Message{conversation} (both clients accept it), our other devices get
 * Message{deviceSentMessage{destinationJid, message}}; each padded separately (§7.3).
 *
 * Failures, without head-of-line blocking: a permanent one fails that row at once with its
 * reason as the error (on_state) and the queue goes on -- an iq answered with a 4xx
 * (wa_send_iq_error: "no such group (404 item-not-found)", "not a member of this group"), a
 * number the usync answer lists no device for ("not on WhatsApp: ...", remembered for
 * WA_USYNC_TTL_S so that the next enqueue to it is -ENXIO), no usable device, an unusable
 * `to`. A transient one (an iq timeout, 5xx or 429, a server ack error, a failed encryption
 * or store error) leaves the row queued with the detail in wa_sender_last_error() and delays
 * only the rows to that recipient (sendq.c: 0.5 s doubling to 30 s; a timer kicks the sender
 * when it ends) while the others are sent. After WA_SEND_MAX_ATTEMPTS transient failures of
 * the same row (counted in memory since the sender was created) it becomes `failed`. A lost
 * session (-ENOTCONN) is not a failure: the row simply waits for the next session.
 *
 * At-least-once edge: a frame written but not acknowledged before the session dropped goes
 * back to queued (wa_sender_disconnected) and is encrypted and sent again after reconnect
 * with the SAME message id; if the server had in fact routed the first copy, recipients see
 * the id twice and drop the second (receivers dedupe by message id: our inbox is unique on
 * chat+sender+id, WhatsApp clients do the same). Both Baileys and whatsmeow behave like this.
 *
 * Callbacks: on_state never runs from inside wa_sender_enqueue/kick/disconnected for work they
 * started: notifications are queued and delivered from the next iq callback or
 * wa_sender_handle() call (or the next kick). All functions run on the loop thread.
 * (A row that fails without any iq -- a store or encryption error on cached devices and
 * existing sessions, WA_SEND_MAX_ATTEMPTS times -- is reported with the next such event.)
 * Do not free the sender inside on_state. Free it before the client/db/sg it borrows;
 * pending iq callbacks after wa_sender_free are ignored.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "signal/sg_cipher.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/node.h"
#include "wa/outmsg.h"
#include "wa/sendbuild.h"

#define WA_SEND_TEXT_MAX      65536 /* bytes of one text message */
#define WA_SEND_MAX_ATTEMPTS  5     /* transient failures before a row becomes failed */
#define WA_SEND_INFLIGHT_MAX  64    /* rows written and waiting for the server's ack */
#define WA_SEND_RETRY_MAX     5     /* answers to retry receipts per message and device */
#define WA_SEND_IQ_TIMEOUT_MS 20000
#define WA_SEND_MAX_TARGETS   1024 /* devices one message is encrypted for */
#define WA_SEND_GROUP_MAX     512  /* participants read from a w:g2 answer */
#define WA_SEND_ERR_MAX       256

struct wa_sender;
struct wa_sender_env {
    struct wa_client *client;
    struct st_db *db;
    struct sg_ctx *sg;
    const struct wa_creds *creds;
    /* A message changed state (sent on the server's ack, failed, ...), after the commit. */
    void (*on_state)(void *ud, const char *msg_id, enum st_out_state state, const char *error);
    /* Optional: a state change was queued; call wa_sender_flush_notes() soon (from a
     * zero-delay timer: never from inside this callback's caller). Without it, changes wait
     * for the next iq answer, ack or kick. */
    void (*wake)(void *ud);
    void *ud;
};

/* 0, -EINVAL (missing client/db/sg/creds), -ENOMEM. env copied; its pointers borrowed. */
int wa_sender_new(const struct wa_sender_env *env, struct wa_sender **out)
    __attribute__((warn_unused_result));
void wa_sender_free(struct wa_sender *s);

/* Durable enqueue (outbox row + retry-buffer copy, COMMIT) before anything goes on the wire.
 * to: "+15550002" / "15550002" (phone), a PN JID, or a group JID "...@g.us". Same idempotency key
 * (may be NULL: the message id is used) -> the existing row and ST_DUPLICATE. Fills *out
 * (caller frees with st_outbox_msg_free; state as committed: `queued`). When the sender is
 * connected and idle, the row is also encrypted in the same transaction (group commit) and its
 * frame written right after the COMMIT; otherwise call wa_sender_kick to send it.
 * m: the message value (wa/outmsg.h); when the sender is not connected, or busy, this is
 * wa_outbox_enqueue(). Errors: -EEXIST (the idempotency key belongs to a message with another
 * recipient or text), -ENXIO (the usync answers of the last WA_USYNC_TTL_S say the number is
 * not on WhatsApp: nothing queued), -EINVAL (bad to / empty or oversized text / creds not paired;
 * detail in wa_sender_last_error), store errors. */
int wa_sender_enqueue(struct wa_sender *s, const struct wa_outmsg *m, struct st_outbox_msg *out)
    __attribute__((warn_unused_result));
/* The COMMIT a caller waits for: done(arg, rc) once the transaction holding its row ended (rc
 * 0: durable; else rolled back or the COMMIT failed: nothing of it is stored). */
typedef void (*wa_sender_done_fn)(void *arg, int rc);
/* wa_sender_enqueue with a shared COMMIT: when the sender is connected and idle, or a deferred
 * group is already open, the row (and its encryption) go into that group, left open, and 0 (or
 * ST_DUPLICATE) comes back with *deferred = true: the row is NOT durable yet, done(arg, rc) is
 * called when the group ends -- wa_sender_settle(), anyone else's transaction on the store
 * (st_db_set_pending), or wa_sender_free (rc -ECANCELED if rolled back) -- never from inside
 * this call. Otherwise it is wa_sender_enqueue (committed on return, *deferred = false, done
 * never called). Up to WA_SEND_WAITERS_MAX waiters per group; past it a send commits alone. */
#define WA_SEND_WAITERS_MAX 256
int wa_sender_enqueue_deferred(struct wa_sender *s, const struct wa_outmsg *m,
                               struct st_outbox_msg *out, wa_sender_done_fn done, void *arg,
                               bool *deferred) __attribute__((warn_unused_result));
/* End the deferred group now (COMMIT; frames written; waiters called). 0 when none is open,
 * else the COMMIT's result. */
int wa_sender_settle(struct wa_sender *s);
/* Deliver the queued state changes (on_state) now; nothing while a group is open. */
void wa_sender_flush_notes(struct wa_sender *s);
/* Connected: send every queued outbox row, oldest first. Not connected: nothing. */
void wa_sender_kick(struct wa_sender *s);
/* <ack class='message'> for our messages, and <receipt type='retry'> (via on_retry_receipt):
 * 1 if handled, 0 if not ours. A retry receipt is NOT acked here (the receive path acks every
 * receipt); it is answered (§7.7) by re-encrypting the retry-buffer copy for that one device:
 * a session is first built from the receipt's <keys> when present, else from a fetched bundle
 * when there is no session; the resend is <message to=<device> device_fanout='false'><enc
 * count=<retry count>>[<device-identity>]</message> (groups: to=<group> with one <participants>
 * entry whose Message carries a fresh SKDM). At most WA_SEND_RETRY_MAX answers per message and
 * device (counted in memory). */
int wa_sender_handle(struct wa_sender *s, const struct wa_node *n);
/* Group commit for the <ack class='message'> stanzas that arrived together (other nodes are
 * skipped): every `sent` state, and the encryption of the rows the freed slots let through, in
 * one transaction; then the frames; then on_state for each change. Returns how many acks were
 * ours (as wa_sender_handle), -EINVAL on bad arguments. */
int wa_sender_handle_acks(struct wa_sender *s, const struct wa_node *const *acks, size_t n);
/* The same inside a transaction the CALLER opened (a receive batch, wa_recv_handle_batch_ex):
 * the acks' states and the rows they let through (each in a savepoint) go into it, frames
 * held. The caller then COMMITs (or rolls back) and calls wa_sender_txn_done(committed), which
 * writes the held frames (or forgets them and pauses the sender) and reports the states.
 * Nothing else may be called on the sender in between. Returns as wa_sender_handle_acks;
 * -EINVAL also when no transaction is open or a group is already running. */
int wa_sender_acks_in_txn(struct wa_sender *s, const struct wa_node *const *acks, size_t n);
void wa_sender_txn_done(struct wa_sender *s, bool committed);
/* The session ended: messages in flight go back to queued; they are sent once after reconnect. */
void wa_sender_disconnected(struct wa_sender *s);

/* Test seam: frames (<message>, <ack>) go to fn instead of wa_client_send_node; fn returns 0
 * or a negative errno like wa_client_send_node. iqs still use the client. NULL restores. */
typedef int (*wa_sender_send_fn)(void *ud, const struct wa_node *n);
void wa_sender_set_send_hook(struct wa_sender *s, wa_sender_send_fn fn, void *ud);

/* Detail of the last failure ("" if none). */
const char *wa_sender_last_error(const struct wa_sender *s);
/* Rows written and not yet acknowledged. */
size_t wa_sender_inflight(const struct wa_sender *s);
