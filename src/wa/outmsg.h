/* SPDX-License-Identifier: MIT */
/* outmsg.h -- an outgoing message as a value, and the durable outbox enqueue.
 *
 * A `struct wa_outmsg` is built once where a send starts (the API route, the exec hook) and
 * passed down unchanged: the gateway layer never shapes a message into arguments. Today the
 * kind is text; media, reactions and replies become more kinds of the same value.
 *
 * wa_outrow_make() checks the value and turns it into what the outbox stores (the normalized
 * chat JID, a fresh message id, the Message protobuf); wa_outrow_store() writes it inside
 * the caller's transaction; wa_outbox_enqueue() does both in a transaction of its own and
 * needs no session (the row waits in the outbox for the next sender's kick). Strings in the
 * value are borrowed for the call.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "wa/creds.h"
#include "wa/outmedia.h"

#define WA_SEND_TEXT_MAX 65536 /* bytes of one text message */

#define WA_SEND_MENTIONS_MAX 32 /* mentions of one message */
#define WA_SEND_EMOJI_MAX    64 /* bytes of a reaction */

enum wa_outmsg_kind {
    WA_OM_TEXT = 1, /* Message{conversation = text}, or extendedTextMessage with a quote /
                       mentions (wa_send_build_rich) */
    WA_OM_REACTION, /* reactionMessage on `target` with `text` = the emoji ("" removes it) */
    WA_OM_EDIT,     /* protocolMessage MESSAGE_EDIT of our own message `target` to `text` */
    WA_OM_REVOKE,   /* protocolMessage REVOKE of our own message `target` */
    WA_OM_MEDIA,    /* a file (`media`), `text` its caption (NULL: none), a quote (`target`)
                       and mentions as for text: the held Message of wa/outmedia.h */
};

struct wa_outmsg {
    enum wa_outmsg_kind kind;
    const char *to;       /* "+15550002" / "15550002", a PN JID, or a group "...@g.us" */
    const char *text;     /* WA_OM_TEXT / EDIT: 1..WA_SEND_TEXT_MAX bytes (NUL-terminated);
                             WA_OM_REACTION: the emoji, 0..WA_SEND_EMOJI_MAX bytes */
    const char *idem_key; /* NULL: the message id (every enqueue is new) */
    /* WA_OM_TEXT: the id of a message in the same chat to quote (the inbox's or one we
     * sent), NULL for none; REACTION / EDIT / REVOKE: the target's id (required) */
    const char *target;
    /* WA_OM_TEXT: JIDs or numbers mentioned (the text names them as "@<number>"), up to
     * WA_SEND_MENTIONS_MAX */
    const char *const *mentions;
    size_t n_mentions;
    const struct wa_outmedia *media; /* WA_OM_MEDIA only */
};

/* A text message value. */
static inline struct wa_outmsg wa_outmsg_text(const char *to, const char *text,
                                              const char *idem_key)
{
    return (struct wa_outmsg){.kind = WA_OM_TEXT, .to = to, .text = text, .idem_key = idem_key};
}

/* What the outbox stores for one message. */
struct wa_outrow {
    char chat[ST_CHAT_MAX + 1];
    char id[32];
    struct buf pb; /* the Message protobuf */
    /* a reaction / edit / revoke: its bytes carry a timestamp, so a retry under the same
     * idempotency key is recognised by the recipient alone */
    bool stamped;
};

/* Validate m and fill r (r->pb must be freed with wa_outrow_free, whatever the result).
 * A quote, reaction, edit or revoke looks its target up in db (the inbox row, or the outbox
 * row of a message we sent, in the same chat; edits and revokes only our own). 0, or
 * -EINVAL with a reason in err (bad `to`, empty or oversized text, unknown kind, a bad
 * mention, the creds not paired), -ENOENT (no such target in that chat: reason in err),
 * -EIO (no randomness), -ENOMEM. */
int wa_outrow_make(struct wa_outrow *r, const struct wa_outmsg *m, const struct wa_creds *creds,
                   struct st_db *db, char *err, size_t errlen) __attribute__((warn_unused_result));
void wa_outrow_free(struct wa_outrow *r);
/* Inside the caller's transaction: outbox row + retry-buffer copy; *out filled (caller frees
 * with st_outbox_msg_free). 0, ST_DUPLICATE (nothing written; *out = the row that has the
 * idempotency key, with the same recipient and content), -EEXIST (the key is taken by a
 * message to another recipient or with other content: nothing written, *out empty) or a
 * store error. */
int wa_outrow_store(struct st_db *db, const struct wa_outrow *r, const char *idem_key,
                    struct st_outbox_msg *out) __attribute__((warn_unused_result));
/* The one-line reason for -EEXIST into err. */
void wa_outrow_conflict(const char *idem_key, char *err, size_t errlen);
/* The durable enqueue with no session: make, BEGIN, store, COMMIT. Results as above; err gets
 * a one-line reason on failure. */
int wa_outbox_enqueue(struct st_db *db, const struct wa_creds *creds, const struct wa_outmsg *m,
                      struct st_outbox_msg *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
