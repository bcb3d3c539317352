/* SPDX-License-Identifier: MIT */
/* inmsg.h -- a received message as a typed value (what the gateway layer is handed).
 *
 * The receive path fills one for each message it committed to the inbox; inbox rows read
 * back from the store convert to the same value (wa_inmsg_from_row). Every pointer is
 * borrowed from the producer and valid only for the call that hands the value over (or as
 * long as the row it was made from). text is NOT NUL-terminated: use text_len.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/msgstore.h"

enum wa_inmsg_kind {
    WA_IN_TEXT = 0,      /* conversation / extendedTextMessage: text holds valid UTF-8 */
    WA_IN_REACTION,      /* reactionMessage: raw holds the Message protobuf */
    WA_IN_PROTOCOL,      /* protocolMessage (revoke, ephemeral settings, ...): raw */
    WA_IN_OTHER,         /* any other content: raw */
    WA_IN_UNDECRYPTABLE, /* could not be decrypted, retries exhausted: text = the reason */
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
    /* the JIDs the text mentions (contextInfo.mentionedJid, up to WA_INMSG_MENTIONS_MAX; only
     * on live delivery, not in inbox rows) */
    const char *const *mentions;
    size_t n_mentions;
};

#define WA_INMSG_MENTIONS_MAX 32

/* The store's type column for a kind ("text", "reaction", "protocol", "other",
 * "undecryptable") and back
 * (unknown names -> WA_IN_OTHER). */
const char *wa_inmsg_kind_name(enum wa_inmsg_kind k);
enum wa_inmsg_kind wa_inmsg_kind_parse(const char *name);
/* A typed view of an inbox row (pointers into r). */
void wa_inmsg_from_row(const struct st_inbox_msg *r, struct wa_inmsg *out);
