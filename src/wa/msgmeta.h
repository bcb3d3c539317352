/* SPDX-License-Identifier: MIT */
/* msgmeta.h -- what a received message is and says, beyond its text (issue 14).
 *
 * wa_msgmeta_build() looks at the content of a decoded Message (wa/msg.h: wrappers already
 * unwrapped) and tells its kind (wa/inmsg.h: text, image, video, audio, ptt, document, sticker,
 * location, contact, reaction, edit, revoke, protocol, unknown) and two JSON objects:
 *
 *   meta   what the agent sees, merged into the message's JSON (gw/json.h):
 *          "media": {"mimetype","file_length","caption"?,"seconds"?,"file_name"?,"title"?,
 *                    "page_count"?,"width"?,"height"?,"sha256" (hex),"view_once"?,"gif"?,
 *                    "animated"?}
 *          "location": {"lat","long","name"?,"address"?,"url"?,"live"?}
 *          "contacts": [{"name","vcard"}]                 (contact: one or an array)
 *          "quoted": {"id","participant"?}                (contextInfo.stanzaId)
 *          "mentions": ["jid", ...]                       (contextInfo.mentionedJid)
 *          "reaction": {"target","target_from_me","emoji","removed"}
 *          "edit": {"target","text"}   "revoke": {"target"}
 *          "field": "<top-level Message field name>"     (unknown only)
 * and, for media kinds, what a download needs (store/msgstore.h st_media_ref: the media key,
 * hashes, direct path and URL; never shown raw to the agent; a key or hash that is not 32
 * bytes, a mimetype over WA_META_MIME_MAX or a path/URL over WA_META_URL_MAX is left out).
 *
 * Caps on what the peer controls (longer values are cut at a UTF-8 boundary, lists cut):
 * caption WA_META_CAPTION_MAX, file name / titles / location strings WA_META_NAME_MAX,
 * mimetype WA_META_MIME_MAX, each vCard WA_META_VCARD_MAX, WA_META_VCARDS_MAX contacts,
 * WA_INMSG_MENTIONS_MAX mentions, JIDs and ids WA_META_ID_MAX (longer: dropped), URLs and
 * paths WA_META_URL_MAX (longer: dropped). Every string is valid UTF-8.
 * Pure: no I/O, nothing logs. Errors: 0 or -ENOMEM.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "wa.pb-c.h"
#include "wa/inmsg.h"

#define WA_META_CAPTION_MAX 4096
#define WA_META_NAME_MAX    512
#define WA_META_MIME_MAX    128
#define WA_META_VCARD_MAX   8192
#define WA_META_VCARDS_MAX  16
#define WA_META_ID_MAX      256
#define WA_META_URL_MAX     2048

struct wa_msgmeta {
    enum wa_inmsg_kind kind;
    char *meta;     /* owned JSON text of the meta object, NULL when it has no key */
    bool has_media; /* a media kind: media is filled (pointers into the Message) */
    struct st_media_ref media;
    const char *target; /* edit / revoke: the target message id (points into the Message) */
    char *edit_text;    /* edit: the new text (owned, valid UTF-8, capped), else NULL */
};

/* Describe content message c (non-NULL). *out owns its strings (wa_msgmeta_free). */
int wa_msgmeta_build(const Wa__Message *c, struct wa_msgmeta *out)
    __attribute__((warn_unused_result));
void wa_msgmeta_free(struct wa_msgmeta *m);

/* The name of c's first set top-level field we do not model ("pollCreationMessage"), or, when
 * only unknown field numbers are set, "field_<n>"; written into out (cap >= 32). */
void wa_msgmeta_unknown_field(const Wa__Message *c, char *out, size_t cap);
