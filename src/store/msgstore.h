/* SPDX-License-Identifier: MIT */
/* msgstore.h -- inbox, outbox, retry buffer, processed ciphertexts and LID<->PN map.
 *
 * All functions are single statements on the account database (see migrations.c v2 for the
 * tables). They join the caller's open transaction (st_db_begin), which is how the receive
 * path commits "Signal state + inbox row + processed hash" together; outside one, each
 * autocommits. Strings are NUL-terminated and borrowed for the call; the length limits
 * below are enforced (-EINVAL beyond). Payloads (plaintext protobuf bytes) up to
 * ST_PAYLOAD_MAX bytes (-ENOBUFS beyond).
 *
 * Results that return rows (lists, gets) hand back heap copies the caller frees with the
 * matching *_free function. Times are Unix seconds passed in by the caller where they
 * drive behaviour (retry-buffer purge), else taken from time(NULL).
 * Errors: negative errnos as in db.h, detail in st_db_last_error().
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define ST_PAYLOAD_MAX   (1u << 20)
#define ST_MSGID_MAX     128
#define ST_IDEM_MAX      128
#define ST_CHAT_MAX      256
#define ST_TYPE_MAX      32
#define ST_LIST_MAX      1000 /* cap on rows per list call */
#define ST_RETRY_MAX_AGE (7 * 24 * 3600)

#define ST_DUPLICATE 1 /* positive result: the row already existed */

/* ---- inbox ---- */

struct st_inbox_msg {
    int64_t cursor; /* strictly increasing, never reused */
    char *chat, *sender, *msg_id, *type;
    int64_t ts;       /* message timestamp (from the stanza) */
    int64_t received; /* when we stored it */
    uint8_t *payload;
    size_t payload_len;
    int delivered;     /* 0/1: settled for the agent (v6: see st_inbox_pending) */
    int attempts;      /* st_inbox_pending only: exec hook runs started so far (hook_state) */
    uint8_t *text_raw; /* a text's bytes as sent when they were not valid UTF-8, else NULL */
    size_t text_raw_len;
    /* v8: the metadata JSON (wa/msgmeta.h) or NULL; the last edit's text (NULL: never
     * edited) and time; when it was revoked (0: not) */
    char *meta, *edited_text;
    int64_t edited_at, revoked_at;
};

/* Insert a decrypted message. Returns 0 (new row; *cursor = its cursor) or ST_DUPLICATE
 * when (chat, sender, msg_id) is already there (*cursor = the existing row's cursor; the
 * stored row is unchanged), or a negative errno. sender may be "" (1:1 chats). cursor may
 * be NULL. */
int st_inbox_insert(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                    int64_t ts, const char *type, const uint8_t *payload, size_t len,
                    int64_t *cursor) __attribute__((warn_unused_result));
/* Keep the bytes of a text as the peer sent them (1..ST_PAYLOAD_MAX; the payload holds the
 * repaired UTF-8) on the row `cursor`: 0, -ENOENT unknown cursor, -EINVAL, -ENOBUFS. */
int st_inbox_set_raw(struct st_db *db, int64_t cursor, const uint8_t *raw, size_t len)
    __attribute__((warn_unused_result));
/* ---- message kinds (schema v8) ---- */

#define ST_META_MAX      262144 /* bytes of a row's metadata JSON */
#define ST_EDIT_MAX      65536  /* bytes of an edit's text */
#define ST_MEDIA_URL_MAX 2048

/* Keep the metadata JSON (1..ST_META_MAX bytes, NUL-terminated) on row `cursor`: 0, -ENOENT,
 * -EINVAL. */
int st_inbox_set_meta(struct st_db *db, int64_t cursor, const char *meta)
    __attribute__((warn_unused_result));
/* Mark the row (chat, sender, msg_id) edited with `text` (<= ST_EDIT_MAX bytes) at `at`, or
 * revoked at `at`. Only a row from the same sender in the same chat is changed (nobody edits
 * or deletes another's message); an edit of a revoked row changes nothing. 1 changed, 0 no
 * such row, or a negative errno. */
int st_inbox_edit(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                  const char *text, int64_t at) __attribute__((warn_unused_result));
int st_inbox_revoke(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                    int64_t at) __attribute__((warn_unused_result));
/* The newest row with msg_id in chat: 1 found (*out: free with st_inbox_msg_free), 0 none. */
int st_inbox_get_by_id(struct st_db *db, const char *chat, const char *msg_id,
                       struct st_inbox_msg *out) __attribute__((warn_unused_result));
void st_inbox_msg_free(struct st_inbox_msg *m);
/* The chat of the newest received message with this id: 1 (copied into chat), 0 none,
 * -ENOBUFS (cap too small). */
int st_inbox_chat_of(struct st_db *db, const char *msg_id, char *chat, size_t cap)
    __attribute__((warn_unused_result));

/* What downloading a received file needs (inbox_media, one row per media message). The
 * borrowed form for st_media_put (32-byte keys/hashes or NULL; strings may be NULL)... */
struct st_media_ref {
    const char *kind, *mimetype, *direct_path, *url;
    uint64_t file_length;
    const uint8_t *media_key, *sha256, *enc_sha256;
    int64_t media_key_ts;
};
/* ...and the copy st_media_get fills. */
struct st_media_row {
    char kind[33], mimetype[129], direct_path[ST_MEDIA_URL_MAX + 1], url[ST_MEDIA_URL_MAX + 1];
    uint64_t file_length;
    uint8_t media_key[32], sha256[32], enc_sha256[32];
    bool has_media_key, has_sha256, has_enc_sha256;
    int64_t media_key_ts;
};
/* Insert or replace the media row of inbox row `cursor`: 0, -EINVAL (a string too long, or
 * an unknown cursor: the foreign key). */
int st_media_put(struct st_db *db, int64_t cursor, const struct st_media_ref *m)
    __attribute__((warn_unused_result));
/* 1 found (*out), 0 none, or a negative errno. */
int st_media_get(struct st_db *db, int64_t cursor, struct st_media_row *out)
    __attribute__((warn_unused_result));

/* Up to `limit` (1..ST_LIST_MAX) messages with cursor > after, in cursor order. *out is a
 * new array of *n entries (NULL when 0); free with st_inbox_list_free. */
int st_inbox_list(struct st_db *db, int64_t after, size_t limit, struct st_inbox_msg **out,
                  size_t *n) __attribute__((warn_unused_result));
void st_inbox_list_free(struct st_inbox_msg *v, size_t n);
/* Mark a message delivered to the agent: 0, or -ENOENT for an unknown cursor. */
int st_inbox_mark_delivered(struct st_db *db, int64_t cursor) __attribute__((warn_unused_result));
/* The inbox's high-water: the largest cursor ever given out (deleted rows included), 0 for a
 * new inbox. 0 or a negative errno. */
int st_inbox_hw(struct st_db *db, int64_t *hw) __attribute__((warn_unused_result));
/* Raise the high-water to hw (never lowers it): the next cursor is above hw. Used after a
 * restored database (gw/cursormark.h), so cursors never go backwards. In its own transaction
 * unless one is open. 0 or a negative errno. */
int st_inbox_raise_hw(struct st_db *db, int64_t hw) __attribute__((warn_unused_result));

/* ---- undecryptable messages under repair (migration v5) ---- */

#define ST_UNDEC_JID_MAX    257 /* device, chat, sender: up to 256 bytes + NUL */
#define ST_UNDEC_REASON_MAX 129

struct st_undec {
    char device[ST_UNDEC_JID_MAX]; /* the sender device JID */
    char msg_id[ST_MSGID_MAX];
    char chat[ST_UNDEC_JID_MAX], sender[ST_UNDEC_JID_MAX]; /* as the inbox row will name them */
    int64_t ts;                                            /* the stanza's timestamp */
    char reason[ST_UNDEC_REASON_MAX];
    unsigned count;     /* retry receipts sent so far (0..100) */
    int64_t first_seen; /* Unix seconds of the first failure */
};

/* Insert, or update reason and count of, the row of (device, msg_id). 0 or a negative errno
 * (-EINVAL: a field empty or too long). */
int st_undec_put(struct st_db *db, const struct st_undec *u) __attribute__((warn_unused_result));
/* Delete the row: 1 deleted, 0 there was none, or a negative errno. */
int st_undec_del(struct st_db *db, const char *device, const char *msg_id);
/* Up to cap rows, oldest first, into out; *n = how many. 0 or a negative errno. */
int st_undec_list(struct st_db *db, struct st_undec *out, size_t cap, size_t *n)
    __attribute__((warn_unused_result));

/* ---- agent delivery (the exec hook, gw/chhook.h; schema v6) ----
 *
 * A row is pending until it is settled (delivered = 1): the hook succeeded, the message
 * needs no hook, or the hook gave up. hook_state keeps, per row, the runs started so far
 * (written before each start), the earliest time of the next one (Unix ms) and the last
 * error. Times are passed in by the caller. */

/* Up to `limit` (1..ST_LIST_MAX) pending rows with cursor > after whose next attempt is due
 * at now_ms (never started, or next_at <= now_ms), in cursor order, with .attempts filled.
 * Free with st_inbox_list_free. */
int st_inbox_pending(struct st_db *db, int64_t after, int64_t now_ms, size_t limit,
                     struct st_inbox_msg **out, size_t *n) __attribute__((warn_unused_result));
/* The earliest next_at (Unix ms) after now_ms among pending rows: 1 found (*at), 0 none. */
int st_inbox_next_due(struct st_db *db, int64_t now_ms, int64_t *at)
    __attribute__((warn_unused_result));
/* The number of pending rows: 0 or an error. */
int st_inbox_count_pending(struct st_db *db, size_t *n) __attribute__((warn_unused_result));
/* When the oldest pending row was stored (Unix s, its `received`): 1 found, 0 none, or an
 * error. One index lookup (inbox_undelivered), whatever the inbox's size. */
int st_inbox_oldest_pending(struct st_db *db, int64_t *received)
    __attribute__((warn_unused_result));
/* Settle every pending row with cursor <= upto (no agent to hand them to); returns the
 * number settled or a negative errno. */
int st_inbox_settle_upto(struct st_db *db, int64_t upto) __attribute__((warn_unused_result));
/* Write the hook state of a row: attempts, next_at (Unix ms), error (NULL keeps the stored
 * one; <= 512 bytes), gave_up. 0 or a negative errno (-EINVAL for an unknown cursor: the
 * foreign key). */
int st_hook_state_put(struct st_db *db, int64_t cursor, int attempts, int64_t next_at,
                      const char *error, int gave_up) __attribute__((warn_unused_result));
struct st_hook_state {
    int attempts, gave_up;
    int64_t next_at;
    char error[513];
};
/* 1 found (*out), 0 no state for that row, or a negative errno. */
int st_hook_state_get(struct st_db *db, int64_t cursor, struct st_hook_state *out)
    __attribute__((warn_unused_result));

/* ---- outbox ---- */

enum st_out_state {
    ST_OUT_QUEUED = 0,
    ST_OUT_SENT,
    ST_OUT_DELIVERED,
    ST_OUT_READ,
    ST_OUT_FAILED,
};

struct st_outbox_msg {
    int64_t id;
    char *idem_key, *msg_id, *to, *error; /* error: NULL unless failed */
    uint8_t *payload;
    size_t payload_len;
    enum st_out_state state;
    int attempts;
    int64_t created, updated;
};

const char *st_out_state_name(enum st_out_state s);

/* Enqueue a message under the caller's idempotency key. Returns 0 (new row, state queued)
 * or ST_DUPLICATE when the key exists: nothing is inserted and, if `existing` is non-NULL,
 * it receives the stored row (free with st_outbox_msg_free) so the caller answers with the
 * same message id and state instead of sending twice. A different key with an already used
 * msg_id is -EINVAL. */
int st_outbox_enqueue(struct st_db *db, const char *idem_key, const char *msg_id, const char *to,
                      const uint8_t *payload, size_t len, struct st_outbox_msg *existing)
    __attribute__((warn_unused_result));
/* Load by message id: 0, -ENOENT, negative errno. Free with st_outbox_msg_free. */
int st_outbox_get(struct st_db *db, const char *msg_id, struct st_outbox_msg *out)
    __attribute__((warn_unused_result));
/* Move a message to `to`. States only move forward: queued -> sent -> delivered -> read;
 * failed from queued or sent; failed -> queued (a retry). A late or repeated receipt that
 * would move backwards (e.g. delivered after read) changes nothing and returns ST_DUPLICATE.
 * Entering sent counts an attempt. error is stored for failed (may be NULL).
 * 0 applied, ST_DUPLICATE ignored, -ENOENT unknown id, -EINVAL not allowed (e.g. read ->
 * failed). */
int st_outbox_set_state(struct st_db *db, const char *msg_id, enum st_out_state to,
                        const char *error) __attribute__((warn_unused_result));
/* Up to `limit` queued messages, oldest first. Free with st_outbox_list_free. */
/* The number of rows still `queued` (not yet acknowledged by the server). 0 or an error. */
int st_outbox_count_queued(struct st_db *db, size_t *n) __attribute__((warn_unused_result));
int st_outbox_list_queued(struct st_db *db, size_t limit, struct st_outbox_msg **out, size_t *n)
    __attribute__((warn_unused_result));
/* Held rows (media sends, gw/chmsend.h): a `queued` row whose error is set is not ready to go
 * out -- its file is still to be uploaded, and the error says so (and why the last upload
 * attempt failed). st_outbox_list_queued() never lists them; st_outbox_count_queued() counts
 * them. st_outbox_hold() sets that error on a queued row (0, -ENOENT when no queued row has
 * that id); st_outbox_unhold() replaces the payload with the finished Message and clears the
 * error, so the sender takes it (0, -ENOENT when the row is not held). A state change
 * (st_outbox_set_state) clears the hold too. */
int st_outbox_hold(struct st_db *db, const char *msg_id, const char *why)
    __attribute__((warn_unused_result));
int st_outbox_unhold(struct st_db *db, const char *msg_id, const uint8_t *payload, size_t len)
    __attribute__((warn_unused_result));
/* Up to `limit` held rows, oldest first. Free with st_outbox_list_free. */
int st_outbox_list_held(struct st_db *db, size_t limit, struct st_outbox_msg **out, size_t *n)
    __attribute__((warn_unused_result));
/* The row of an idempotency key: 1 (*out, free with st_outbox_msg_free), 0 none, <0. */
int st_outbox_get_by_key(struct st_db *db, const char *idem_key, struct st_outbox_msg *out)
    __attribute__((warn_unused_result));
void st_outbox_msg_free(struct st_outbox_msg *m);
void st_outbox_list_free(struct st_outbox_msg *v, size_t n);

/* ---- retry buffer (what we sent, for peers' retry receipts) ---- */

/* What we sent is the outbox row itself (msg_id, to_jid, payload); the retry_buffer table
 * holds what was sent outside the outbox (and the copies older builds made of outbox rows).
 * Keep (replace) the plaintext sent as msg_id to `to`, created at `now`. */
int st_retry_put(struct st_db *db, const char *msg_id, const char *to, const uint8_t *payload,
                 size_t len, int64_t now) __attribute__((warn_unused_result));
/* The outbox row with that msg_id, else the retry_buffer entry: 1 found (*payload new heap
 * copy, *len; to copied into to_out if non-NULL), 0 absent. */
int st_retry_get(struct st_db *db, const char *msg_id, char *to_out, size_t to_cap,
                 uint8_t **payload, size_t *len) __attribute__((warn_unused_result));
/* Delete entries created before now - max_age (ST_RETRY_MAX_AGE is 7 days); returns the
 * number deleted. */
int st_retry_purge(struct st_db *db, int64_t now, int64_t max_age);

/* ---- processed ciphertexts ---- */

/* hash = SHA-256(ciphertext). */
void st_ciphertext_hash(const uint8_t *ct, size_t len, uint8_t hash[static 32]);
/* 1 if the hash was recorded (msg_id copied into id_out when non-NULL), 0 if not. */
int st_processed_check(struct st_db *db, const uint8_t hash[static 32], char *id_out, size_t id_cap)
    __attribute__((warn_unused_result));
/* Record a processed ciphertext (0; ST_DUPLICATE if it was already recorded). */
int st_processed_put(struct st_db *db, const uint8_t hash[static 32], const char *msg_id)
    __attribute__((warn_unused_result));

/* ---- access policy state (gw/access) ---- */

#define ST_PAIRING_CODE_MAX 16

/* 1 if the owner approved this sender (a JID, 1..ST_CHAT_MAX), 0 if not, or a negative errno. */
int st_access_is_approved(struct st_db *db, const char *sender) __attribute__((warn_unused_result));
/* Approve a sender (0; ST_DUPLICATE when it already was). */
int st_access_approve(struct st_db *db, const char *sender) __attribute__((warn_unused_result));
/* Record the pairing code sent to sender (4..ST_PAIRING_CODE_MAX characters): 0, or
 * ST_DUPLICATE when the sender already has one or the code is taken (nothing changed). */
int st_pairing_put(struct st_db *db, const char *sender, const char *code, int64_t now)
    __attribute__((warn_unused_result));
/* 1 with the sender's pending code copied into code_out (cap >= ST_PAIRING_CODE_MAX + 1), 0 when
 * it has none. */
int st_pairing_get(struct st_db *db, const char *sender, char *code_out, size_t cap)
    __attribute__((warn_unused_result));
/* Approve the sender a pending code was sent to, and forget the code, in one transaction of
 * its own (or the caller's): 1 with the sender copied into sender_out, 0 for an unknown code. */
int st_pairing_approve(struct st_db *db, const char *code, char *sender_out, size_t cap)
    __attribute__((warn_unused_result));

/* ---- LID <-> phone-number users ---- */

/* Record lid <-> pn (user parts or JIDs, ≤ 128 bytes). A new mapping for either side
 * replaces the old one (both columns are unique). */
int st_lid_put(struct st_db *db, const char *lid, const char *pn)
    __attribute__((warn_unused_result));
/* 1 found (copied into out), 0 absent, -ENOBUFS if out is too small. */
int st_lid_get_pn(struct st_db *db, const char *lid, char *out, size_t cap)
    __attribute__((warn_unused_result));
int st_lid_get_lid(struct st_db *db, const char *pn, char *out, size_t cap)
    __attribute__((warn_unused_result));
