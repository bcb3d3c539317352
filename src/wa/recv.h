/* SPDX-License-Identifier: MIT */
/* recv.h -- the receive path: decrypt, persist, acknowledge, deliver (wa-protocol.md §7).
 *
 * One `struct wa_receiver` per session (wa/session.h owns it): it holds the retry counts and
 * the counters of its account; nothing here is process-wide. wa_recv_handle() takes one
 * stanza the session's dispatcher routes to it:
 *
 *  <message>  Sender and chat are resolved (§7.1: 1:1 by PN or LID, groups/broadcasts by
 *             `participant`, copies of our own messages from our other devices with
 *             `recipient`, peer messages from our own devices). LID<->PN pairs from the
 *             sender_pn / sender_lid / participant_pn / participant_lid attributes are stored,
 *             and the Signal address is the LID one whenever a LID is known (an existing PN
 *             session is copied to the LID address the first time). Then, in ONE transaction
 *             (design.md "Durability protocol"): every <enc> in order (pkmsg/msg 1:1,
 *             skmsg with the sender key of (chat, sender); an SKDM inside a decrypted Message
 *             is processed before the next <enc>; unknown types such as msmsg are skipped),
 *             strict unpadding, Message decoding (msg.h), the inbox row (type "text" with the
 *             UTF-8 text as payload; "reaction" / "protocol" / "other" with the raw Message
 *             protobuf) and the SHA-256 of every ciphertext; COMMIT; then the receipt; then
 *             env->on_message (synchronously, from inside this call: the channel is the caller).
 *             The receipt is the acknowledgement (§7.5): `type='inactive'` for peers' 1:1 and
 *             group messages (the gateway never sends `available` presence, and the server
 *             only expects plain delivery receipts from "online" clients -- both Baileys and
 *             whatsmeow send inactive then; the sender still gets the delivered tick),
 *             `type='sender'` for copies of our own messages (`recipient` present),
 *             `type='peer_msg'` for `category='peer'` messages from our own devices.
 *             Redelivery (every ciphertext hash already recorded, or libsignal's "already
 *             processed") -> the receipt again, no inbox row, no on_message.
 *             A store failure (BEGIN/COMMIT/insert, or -ENOMEM/-EIO/store errors inside
 *             libsignal) -> rollback, nothing sent, a negative return: the server redelivers.
 *             A decryption failure (no session, bad MAC, invalid pre-key, untrusted identity
 *             after one retry with the identity forgotten, malformed, bad padding, not a
 *             Message) -> rollback, then the repair ladder of wa/recv_repair.c (§7.7,
 *             docs/internals/retry-receipts.md): an `undecryptable` store row for (sender
 *             device, id) is COMMITted first, then the retry receipt (count = 1 + max(the
 *             receipts sent for it, the <enc count> the peer's resend carries); from count 2,
 *             or at once when an skmsg found no sender key and the stanza had no 1:1 part,
 *             with <keys>: identity, a fresh one-time pre-key -- committed before the receipt
 *             is sent --, signed pre-key, device identity), then the ack (`<ack
 *             class='message'>`, no type, as whatsmeow). Receipts are paced: the next one
 *             goes when the peer's answer fails too, but never sooner than retry_gap_ms after
 *             the previous one, or after retry_wait_ms without an answer. When the answer to
 *             the fifth fails or does not come, the message is given up: an inbox row of type
 *             `undecryptable` (payload: the reason) replaces the store row in one transaction
 *             and goes to on_message (kind WA_IN_UNDECRYPTABLE), and the peer's session (and
 *             the group's sender key of that sender) is deleted, at most once per peer per
 *             hour (memory only), so the peer's next pkmsg rebuilds it. A resend that decrypts
 *             deletes the store row; rows are resumed after a restart. Every receipt sent and
 *             every give-up is reported through env->on_undecryptable. Distinct peers failing
 *             within store_window_ms call env->on_store_failing (store-wide repair). Retry
 *             pre-keys use ids 0xF00000..0xFFFFFE (a random free one), a range the client's
 *             sequential pre-key ids never reach, so the two never collide.
 *             Malformed stanzas (no id/from, over a cap) are nacked with error 487.
 *  <receipt>  For our messages: outbox state forward-only (no type / inactive -> delivered;
 *             read / read-self / played -> read; <list><item id/></list> ids included) in one
 *             transaction; COMMIT; `<ack class='receipt'>` (type copied); then env->on_receipt
 *             for each applied change. type='retry' -> ack, then env->on_retry_receipt.
 *  <notification>  acked (the client core already handles `encrypt` pre-key counts; an
 *             `encrypt` <identity/> notification also drops the contact's sessions).
 *  <call>     acked (class call).
 * Anything else (iq, ack, ib, presence, chatstate, ...) is not ours: returns 0.
 *
 * Caps: WA_RECV_MAX_ENC <enc> children, WA_RECV_MAX_CT bytes per ciphertext, WA_MSG_MAX
 * bytes of plaintext, ids up to ST_MSGID_MAX - 1 bytes, JIDs up to WA_JID_STR_MAX.
 * Our retry receipts live in wa/recv_repair.c, the answers to peers' in wa/retry.c, the
 * receipts in wa/receipts.c (private header wa/recv_int.h). Loop thread only. Nothing logs above
 * debug.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signal/sg_cipher.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/inmsg.h"
#include "wa/node.h"

#define WA_RECV_MAX_ENC     4
#define WA_RECV_MAX_CT      (256u * 1024u)
#define WA_RECV_MAX_RETRY   5
#define WA_RECV_RETRY_SLOTS 256
#define WA_RECV_PREKEY_BASE 0xF00000u /* retry pre-key ids: BASE .. SG_PREKEY_ID_MAX - 1 */
/* Repair defaults (wa_recv_env's fields override them; 0 = the default). */
#define WA_RECV_RETRY_GAP_MS    1000u   /* at least this between two retry receipts of one id */
#define WA_RECV_RETRY_WAIT_MS   10000u  /* no answer to a retry receipt within this: the next */
#define WA_RECV_PEER_HOLD_S     3600u   /* a peer's session is dropped at most once per hour */
#define WA_RECV_STORE_PEERS     5u      /* distinct failing peers within the window ... */
#define WA_RECV_STORE_WINDOW_MS 600000u /* ... 10 minutes: the store-wide repair is due */
#define WA_RECV_STORE_MIN_FAILS 10u     /* or at least this many failures, more than successes */
#define WA_RECV_PHONE_DELAY_MS  5000u   /* whatsmeow's RequestFromPhoneDelay */

/* A message we could not decrypt, after its retry receipt went out (or was not sent). */
struct wa_undecryptable {
    const char *id;       /* message id */
    const char *from;     /* the sender device JID */
    const char *chat;     /* the group JID, or the stanza's from for 1:1 */
    const char *reason;   /* libsignal's error in words ("bad MAC", "no session", ...) */
    unsigned count;       /* retry receipts for this id so far (this one included) */
    bool gave_up;         /* retries exhausted: stored as an `undecryptable` inbox row */
    bool session_dropped; /* gave_up, and the peer's session (and sender key) was deleted */
};

struct wa_recv_env {
    struct wa_client *client; /* acks, receipts, retry receipts go out with wa_client_send_node */
    struct st_db *db;         /* the account's store (src/store/db.h) */
    struct sg_ctx *sg;        /* Signal context over st_sgstore(db) (src/signal/sg_cipher.h) */
    const struct wa_creds *creds; /* our JIDs (src/wa/creds.h) */
    /* A new message: called after its inbox row is COMMITted and the ack/receipt was sent. */
    void (*on_message)(void *ud, const struct wa_inmsg *m);
    /* A delivery/read receipt for one of our messages, after the outbox state was committed. */
    void (*on_receipt)(void *ud, const char *msg_id, enum st_out_state state, const char *from);
    /* A peer's retry receipt for one of our messages: the channel hands it to wa_sender_handle().
     */
    void (*on_retry_receipt)(void *ud, const struct wa_node *receipt);
    /* Optional: a message failed to decrypt (see struct wa_undecryptable). */
    void (*on_undecryptable)(void *ud, const struct wa_undecryptable *u);
    void *ud;
    /* Optional: send nodes through this instead of wa_client_send_node(client, n) (tests,
     * fuzzing; client may then be NULL). Return 0 or a negative errno. */
    int (*send_node)(void *ud, const struct wa_node *n);
    /* Optional: the loop for the retry timers (default: the client's). Without a loop the
     * receipts are not paced and an unanswered one never times out (unit tests). */
    uv_loop_t *loop;
    /* Optional repair tuning (0 = the WA_RECV_* default). */
    unsigned retry_gap_ms, retry_wait_ms, store_peers, store_window_ms;
    /* Ask our own phone to resend an undecryptable message this long after its first
     * failure (placeholder resend, §7.8; 0 = WA_RECV_PHONE_DELAY_MS). */
    unsigned phone_delay_ms;
    /* Optional: many distinct peers fail at once (a restored or torn store): the owner runs
     * the store-wide repair (design.md "Session repair" 3). Called at most once per window;
     * the receiver may be freed only after this returns (defer the repair to a timer). */
    void (*on_store_failing)(void *ud, unsigned peers, unsigned fails, unsigned oks);
};

struct wa_receiver;
/* A receiver over env (copied; its pointers are borrowed and must outlive it). 0, -EINVAL
 * (no db or sg), -ENOMEM. */
int wa_receiver_new(const struct wa_recv_env *env, struct wa_receiver **out)
    __attribute__((warn_unused_result));
void wa_receiver_free(struct wa_receiver *r); /* NULL ok */

/* Handle one stanza (<message>, <receipt>, <notification>, <call>). Returns 1 if handled, 0
 * if not ours, < 0 on a local error (store failure: nothing was acked, so the server
 * redelivers). After a message's store failure the receiver is held: every later <message>
 * (here and in the batch) is refused with -EAGAIN, unacked, for the receiver's life, so no
 * newer message of a chat is stored before the ones the server must redeliver; the owner
 * starts a new session (a new receiver) once the store writes again. */
int wa_recv_handle(struct wa_receiver *r, const struct wa_node *n);

/* Group commit: handle up to WA_RECV_BATCH_MAX stanzas that arrived together. Stanzas other
 * than <message> and delivery/read <receipt>s, and messages settled before decryption
 * (malformed, nothing to decrypt), are handled first, one by one, as wa_recv_handle() does. The
 * remaining <message>s are decrypted and stored in ONE transaction, in order (a later message
 * sees the sessions the earlier ones advanced), and the receipts' outbox states are written in
 * the same transaction; after COMMIT every receipt's ack and on_receipt, then every message's
 * receipt, then every env->on_message is called, in order. Redeliveries inside the batch are
 * re-acked only. A store failure rolls the whole transaction back and acks none of those
 * messages and receipts (the server redelivers them all). A stanza that needs the single path
 * (a decryption failure -> retry receipt, a libsignal duplicate) rolls the transaction back
 * too, and then every message, then every receipt, of the batch is handled again one
 * transaction each, in order (same outcome as wa_recv_handle on each).
 * results (may be NULL) gets, per stanza, what wa_recv_handle would have returned. Returns 0
 * or the first local error (< 0); -EINVAL (n over the cap, NULL nodes), -EALREADY (a
 * transaction is already open on env->db), -ENOMEM. Loop thread only. */
#define WA_RECV_BATCH_MAX 64
int wa_recv_handle_batch(struct wa_receiver *r, const struct wa_node *const *nodes, size_t n,
                         int *results);
/* Other work sharing the batch's transaction (group commit across modules, e.g. the acks of
 * our own messages): body runs inside it after the messages' bodies and before the receipts'
 * states, ONLY when the batch goes to COMMIT as a whole (not when it falls back to the single
 * path, and not when nothing of the batch needs the store); ran tells the caller whether it
 * did. done then runs right after the COMMIT (committed true) or the rollback that ended it
 * (false), before the batch's acks and deliveries. body must not open or end transactions. */
struct wa_recv_txn_hook {
    void (*body)(void *ud);
    void (*done)(void *ud, bool committed);
    void *ud;
    bool ran;
};
int wa_recv_handle_batch_ex(struct wa_receiver *r, const struct wa_node *const *nodes, size_t n,
                            int *results, struct wa_recv_txn_hook *hook);

/* The receiver's counters: retry receipts sent, messages given up (session dropped),
 * messages stored, redeliveries re-acked, placeholder resends asked of our phone and answered. */
struct wa_recv_stats {
    unsigned long retries_sent, gave_up, stored, redelivered;
    unsigned long phone_requests, phone_recovered; /* placeholder resends asked / answered */
};
void wa_recv_get_stats(const struct wa_receiver *r, struct wa_recv_stats *out);
/* Forget every retry count (tests). */
void wa_recv_reset_retries(struct wa_receiver *r);
