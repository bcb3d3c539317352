/* SPDX-License-Identifier: MIT */
/* msg.h -- decoding the WhatsApp `Message` protobuf of a decrypted, unpadded plaintext.
 *
 * wa_msg_decode() unpacks a Message (src/proto/wa.proto, wa-protocol.md §7.4) and classifies
 * it: a DeviceSentMessage (copy of our own message) is unwrapped to its inner message and its
 * destinationJid; FutureProof wrappers (ephemeral, viewOnce, viewOnceV2, documentWithCaption,
 * edited) are unwrapped; the text comes from `conversation` or `extendedTextMessage.text`.
 * The text is validated here, once: invalid UTF-8 sequences are replaced with U+FFFD (core/utf8)
 * and the bytes as sent are kept beside it (text_raw) for whoever needs them.
 * A SenderKeyDistributionMessage is reported separately (it is processed before the next
 * <enc>); a Message carrying only an SKDM (and messageContextInfo) has no content.
 *
 * Limits: input up to WA_MSG_MAX bytes and nesting of length-delimited fields up to
 * WA_MSG_MAX_DEPTH (checked on the wire before protobuf-c recurses); -EMSGSIZE / -EBADMSG.
 * Errors: 0, -EBADMSG (not a Message), -EMSGSIZE, -ENOMEM. Nothing here logs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa.pb-c.h"

#define WA_MSG_MAX       (512u * 1024u)
#define WA_MSG_MAX_DEPTH 24

struct wa_msg_info {
    Wa__Message *msg;           /* owned: the unpacked Message */
    const Wa__Message *content; /* unwrapped content message (points into msg), or NULL */
    const char *type;           /* "text", "reaction", "protocol", "other"; NULL: no content */
    const char *text;           /* valid UTF-8 text for type "text" (owned), else NULL */
    size_t text_len;            /* strlen(text) */
    const char *text_raw;       /* the text as sent, only when it was not valid UTF-8 (points */
    size_t text_raw_len;        /* into msg), else NULL */
    int text_repaired;          /* number of U+FFFD replacements made */
    char *const *mentions;      /* contextInfo.mentionedJid of the text or media (points into */
    size_t n_mentions;          /* msg), else NULL / 0 */
    const char *dest_jid;       /* DeviceSentMessage.destinationJid, or NULL */
    const char *skdm_group;     /* SKDM groupId, or NULL when there is no usable SKDM */
    const uint8_t *skdm;        /* axolotlSenderKeyDistributionMessage bytes */
    size_t skdm_len;
};

/* Decode `len` bytes; on success *out owns the Message (free with wa_msg_info_free). On
 * failure *out is zeroed. */
int wa_msg_decode(const uint8_t *p, size_t len, struct wa_msg_info *out)
    __attribute__((warn_unused_result));
void wa_msg_info_free(struct wa_msg_info *mi);

/* 0 if the protobuf wire bytes nest length-delimited fields at most max_depth deep (every
 * length-delimited field that parses as a message counts as a level), -EMSGSIZE if deeper.
 * Malformed wire data is not an error here (protobuf-c rejects it afterwards). */
int wa_msg_check_depth(const uint8_t *p, size_t len, unsigned max_depth);
