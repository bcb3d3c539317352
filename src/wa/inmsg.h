/* SPDX-License-Identifier: MIT */
/* inmsg.h -- a received message as a typed value (what the gateway layer is handed).
 *
 * The receive path fills one for each message it committed to the inbox; inbox rows read
 * back from the store convert to the same value (wa_inmsg_from_row). Every pointer is
 * borrowed from the producer and valid only for the call that hands the value over (or as
 * long as the row it was made from). text is NOT NUL-terminated: use text_len.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/msgstore.h"

enum wa_inmsg_kind {
    WA_IN_TEXT = 0,      /* conversation / extendedTextMessage: text holds valid UTF-8 */
    WA_IN_REACTION,      /* reactionMessage: raw holds the Message protobuf */
    WA_IN_PROTOCOL,      /* protocolMessage (revoke, ephemeral settings, ...): raw */
    WA_IN_OTHER,         /* any other content: raw */
    WA_IN_UNDECRYPTABLE, /* could not be decrypted, retries exhausted: text = the reason */
    /* schema v8 (issue 14): raw holds the Message protobuf, meta describes it (wa/msgmeta.h) */
    WA_IN_IMAGE,
    WA_IN_VIDEO,
    WA_IN_AUDIO,
    WA_IN_PTT, /* a voice note: audioMessage with ptt */
    WA_IN_DOCUMENT,
    WA_IN_STICKER,
    WA_IN_LOCATION,
    WA_IN_CONTACT, /* contactMessage or contactsArrayMessage */
    WA_IN_EDIT,    /* protocolMessage MESSAGE_EDIT: meta.edit {target, text} */
    WA_IN_REVOKE,  /* protocolMessage REVOKE: meta.revoke {target} */
    WA_IN_KIND_COUNT
};

struct wa_inmsg {
    int64_t cursor;     /* inbox cursor (strictly increasing) */
    const char *chat;   /* chat JID: the peer (1:1, PN preferred) or the group */
    const char *sender; /* sender JID (PN preferred) */
    const char *id;     /* message id */
    int64_t ts;         /* the stanza's timestamp */
    int64_t received;   /* when it was stored (Unix seconds) */
    enum wa_inmsg_kind kind;
    const char *text; /* WA_IN_TEXT: text_len bytes of valid UTF-8 (repaired at decode,
                         invalid sequences -> U+FFFD); else NULL */
    size_t text_len;
    const uint8_t *text_raw; /* WA_IN_TEXT: the bytes as sent when they were not valid UTF-8 */
    size_t text_raw_len;     /* (text_raw_len bytes), else NULL */
    const uint8_t *raw;      /* other kinds: the Message protobuf (raw_len bytes); else NULL */
    size_t raw_len;
    /* schema v8: the metadata JSON object (wa/msgmeta.h "meta"; NUL-terminated) or NULL */
    const char *meta;
    /* the state of this message in the inbox (rows only): edited (its last edit's text and
     * the edit's time, 0 = never edited), revoked (time, 0 = not revoked) */
    const char *edited_text;
    int64_t edited_at, revoked_at;
    /* the JIDs the text mentions (contextInfo.mentionedJid, up to WA_INMSG_MENTIONS_MAX; only
     * on live delivery, not in inbox rows) */
    const char *const *mentions;
    size_t n_mentions;
};

#define WA_INMSG_MENTIONS_MAX 32

/* The store's type column for a kind ("text", "reaction", "protocol", "unknown",
 * "undecryptable", "image", "video", "audio", "ptt", "document", "sticker", "location",
 * "contact", "edit", "revoke") and back (unknown names and "other", the name of rows before
 * v8, -> WA_IN_OTHER). */
const char *wa_inmsg_kind_name(enum wa_inmsg_kind k);
enum wa_inmsg_kind wa_inmsg_kind_parse(const char *name);
/* image, video, audio, ptt, document, sticker: a file to download (inbox_media). */
bool wa_inmsg_kind_is_media(enum wa_inmsg_kind k);
/* A typed view of an inbox row (pointers into r). */
void wa_inmsg_from_row(const struct st_inbox_msg *r, struct wa_inmsg *out);
