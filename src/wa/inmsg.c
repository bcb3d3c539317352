/* SPDX-License-Identifier: MIT */
/* inmsg.c -- received messages as typed values. */
#include "wa/inmsg.h"

#include <string.h>

static const char *const kind_names[WA_IN_KIND_COUNT] = {
    [WA_IN_TEXT] = "text",
    [WA_IN_REACTION] = "reaction",
    [WA_IN_PROTOCOL] = "protocol",
    [WA_IN_OTHER] = "unknown",
    [WA_IN_UNDECRYPTABLE] = "undecryptable",
    [WA_IN_IMAGE] = "image",
    [WA_IN_VIDEO] = "video",
    [WA_IN_AUDIO] = "audio",
    [WA_IN_PTT] = "ptt",
    [WA_IN_DOCUMENT] = "document",
    [WA_IN_STICKER] = "sticker",
    [WA_IN_LOCATION] = "location",
    [WA_IN_CONTACT] = "contact",
    [WA_IN_EDIT] = "edit",
    [WA_IN_REVOKE] = "revoke",
};

const char *wa_inmsg_kind_name(enum wa_inmsg_kind k)
{
    return (unsigned)k < WA_IN_KIND_COUNT ? kind_names[k] : "unknown";
}

enum wa_inmsg_kind wa_inmsg_kind_parse(const char *name)
{
    for (unsigned k = 0; name && k < WA_IN_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) return (enum wa_inmsg_kind)k;
    return WA_IN_OTHER;
}

bool wa_inmsg_kind_is_media(enum wa_inmsg_kind k)
{
    return k >= WA_IN_IMAGE && k <= WA_IN_STICKER;
}

void wa_inmsg_from_row(const struct st_inbox_msg *r, struct wa_inmsg *out)
{
    *out = (struct wa_inmsg){
        .cursor = r->cursor,
        .chat = r->chat ? r->chat : "",
        .sender = r->sender ? r->sender : "",
        .id = r->msg_id ? r->msg_id : "",
        .ts = r->ts,
        .received = r->received,
        .kind = wa_inmsg_kind_parse(r->type),
        .meta = r->meta,
        .edited_text = r->edited_text,
        .edited_at = r->edited_at,
        .revoked_at = r->revoked_at,
    };
    if (out->kind == WA_IN_TEXT || out->kind == WA_IN_UNDECRYPTABLE) {
        out->text = (const char *)r->payload;
        out->text_len = r->payload_len;
        out->text_raw = r->text_raw_len ? r->text_raw : NULL;
        out->text_raw_len = r->text_raw_len;
    } else {
        out->raw = r->payload;
        out->raw_len = r->payload_len;
    }
}
