/* SPDX-License-Identifier: MIT */
/* sendbuild.h -- pure builders of the send path (no store, no session): message ids,
 * destinations, Message protobuf bytes, <message> stanzas. Unit-tested in test_send.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "signal/sg_cipher.h"
#include "wa/jid.h"
#include "wa/node.h"

#define WA_SEND_MSGID_LEN 22 /* "3EB0" + 18 hex */

/* A WhatsApp-Web-style message id (§8.1): "3EB0" + the first 9 bytes (upper-case hex) of
 * SHA-256(8-byte BE `now` || user || "@c.us" || 16 random bytes). out >= 23 bytes.
 * 0 or -EIO (RNG). */
int wa_send_msg_id(const char *user, int64_t now, char *out, size_t outlen)
    __attribute__((warn_unused_result));
/* Normalise a destination to a JID. A phone number in E.164 form: "+15550002", "15550002",
 * "0015550002" (00: the international prefix) and "+1 555-0002" / "+1 (555) 000.2" (spaces,
 * '-', '.', parentheses between digits) -> "15550002@s.whatsapp.net"; WA_SEND_PHONE_MIN..MAX
 * digits, never starting with 0 (a national number without its country code is refused).
 * "15550002@s.whatsapp.net" (or @c.us) likewise; "<id>@g.us" kept. Anything else (a device
 * JID, LID, broadcast, newsletter, garbage) -> -EINVAL with a reason in err. */
#define WA_SEND_PHONE_MIN 5
#define WA_SEND_PHONE_MAX 15 /* E.164 */
int wa_send_normalize_to(const char *to, char *out, size_t outlen, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The send steps that ask the server something (an iq). */
enum wa_send_step { WA_SEND_STEP_GROUP, WA_SEND_STEP_USYNC, WA_SEND_STEP_KEYS };
/* An iq error answer (<iq type='error'><error code text/>) to one of a message's steps:
 * true when it is final for that message (4xx: 400, 401, 403, 404, 405, 406, 410; e.g. a group
 * that does not exist answers 404), false when worth a retry (429, 5xx, no code). why gets the
 * reason, starting with what it means: "no such group (404 item-not-found)". */
bool wa_send_iq_error(const struct wa_node *resp, enum wa_send_step step, char *why, size_t len);
/* Message{conversation = text} packed into out. */
int wa_send_build_text(const char *text, struct buf *out) __attribute__((warn_unused_result));
/* A text with a quote and/or mentions (issue 14). quoted: the quoted message's Message
 * protobuf (quoted_len bytes; NULL: no quote), stanza_id / participant: its id and sender;
 * mentions: n JIDs. With neither quote nor mentions this is wa_send_build_text; else
 * Message{extendedTextMessage{text, contextInfo{stanzaId, participant, quotedMessage,
 * mentionedJid}}} as Baileys builds a reply. -EBADMSG when quoted does not unpack. */
struct wa_send_ctx {
    const char *stanza_id, *participant;
    const uint8_t *quoted;
    size_t quoted_len;
    const char *const *mentions;
    size_t n_mentions;
};
int wa_send_build_rich(const char *text, const struct wa_send_ctx *ctx, struct buf *out)
    __attribute__((warn_unused_result));
/* The contextInfo of ctx, for any submessage (a text's, a media's): ci (initialised by the
 * caller with WA__CONTEXT_INFO__INIT) gets stanzaId, participant, quotedMessage (unpacked
 * from ctx->quoted: wa_send_ctx_release frees it) and mentionedJid (borrowed from ctx).
 * 1 (ci is filled: use it), 0 (ctx NULL or without quote and mentions: no contextInfo) or
 * -EBADMSG (ctx->quoted does not unpack). */
struct Wa__ContextInfo;
int wa_send_ctx_fill(const struct wa_send_ctx *ctx, struct Wa__ContextInfo *ci)
    __attribute__((warn_unused_result));
void wa_send_ctx_release(struct Wa__ContextInfo *ci);
/* The key of a message being reacted to / edited / revoked: its chat, id, whether we sent it,
 * and in groups the sender (NULL in 1:1 chats and for our own). */
struct wa_send_key {
    const char *chat, *id, *participant;
    bool from_me;
};
/* Message{reactionMessage{key, text = emoji ("" removes), senderTimestampMs = ts_ms}}. */
int wa_send_build_reaction(const struct wa_send_key *k, const char *emoji, int64_t ts_ms,
                           struct buf *out) __attribute__((warn_unused_result));
/* Message{protocolMessage{key, type MESSAGE_EDIT, editedMessage{conversation = text},
 * timestampMs}} (edit != NULL), or {key, type REVOKE} (text NULL). */
int wa_send_build_amend(const struct wa_send_key *k, const char *text, int64_t ts_ms,
                        struct buf *out) __attribute__((warn_unused_result));
/* The <message> attributes a payload's kind calls for, set on m: type="reaction" for a
 * reaction, type="media" for a media message (image, video, audio, document, sticker, vCard,
 * contacts) with mediatype="image|gif|video|ptt|audio|document|sticker|vcard|
 * contact_array" on every <enc> under m (so call it after the encs are added),
 * else the "text" the stanza has; edit="1" for an edit, edit="7" for a revoke (as Baileys'
 * relayMessage sets them). 0 or -ENOMEM; a payload that does not unpack changes
 * nothing. */
int wa_send_set_kind_attrs(struct wa_node *m, const uint8_t *pb, size_t len)
    __attribute__((warn_unused_result));
/* <chatstate to=jid><composing/></chatstate> for state "composing", <composing
 * media="audio"/> for "recording", <paused/> for "paused" (as Baileys' sendPresenceUpdate).
 * NULL for another state or on ENOMEM. */
struct wa_node *wa_send_build_chatstate(const struct wa_jid *to, const char *state);
/* <receipt id to=chat type="read" t=now [participant=sender (groups)]/>: the read receipt of
 * a received message. NULL on ENOMEM. */
struct wa_node *wa_send_build_read(const char *id, const struct wa_jid *chat,
                                   const struct wa_jid *participant, int64_t now);
/* Message{deviceSentMessage{destinationJid = dest, message = <msg bytes>}} packed into out. */
int wa_send_build_dsm(const char *dest, const uint8_t *msg, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
/* msg with senderKeyDistributionMessage{groupId, skdm} added, packed into out. */
int wa_send_build_skdm(const char *group, const uint8_t *skdm, size_t skdm_len, const uint8_t *msg,
                       size_t len, struct buf *out) __attribute__((warn_unused_result));

/* One <to> entry of a stanza. */
struct wa_send_part {
    struct wa_jid jid;
    enum sg_msg_type type;
    const uint8_t *ct;
    size_t len;
};
/* <message id to type='text'><participants><to jid><enc v='2' type/></to>…</participants>
 * [<enc v='2' type='skmsg'>][<device-identity>]</message>: participants omitted when
 * nparts == 0, skmsg when sk != NULL, device-identity (account bytes) when any part is a
 * pkmsg. Returns a new node or NULL. */
struct wa_node *wa_send_build_stanza(const char *id, const struct wa_jid *to,
                                     const struct wa_send_part *parts, size_t nparts,
                                     const uint8_t *sk, size_t sklen, const uint8_t *account,
                                     size_t account_len);
/* <enc v='2' type=…>ct</enc> appended to parent; NULL on ENOMEM. */
struct wa_node *wa_send_add_enc(struct wa_node *parent, enum sg_msg_type t, const uint8_t *ct,
                                size_t len);
