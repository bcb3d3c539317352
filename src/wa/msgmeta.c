/* SPDX-License-Identifier: MIT */
/* msgmeta.c -- the kind and metadata of a received message's content. */
#include "wa/msgmeta.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "wa/msgfields_gen.h"

/* n bytes of s cut to at most max at a UTF-8 boundary, repaired: a new string or NULL. */
static char *capped(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    char *out = NULL;
    return utf8_repair(s, n, &out, NULL) < 0 ? NULL : out;
}

static bool add_str(cJSON *o, const char *k, const char *s, size_t max)
{
    if (!s || !*s) return true;
    char *c = capped(s, max);
    bool ok = c && cJSON_AddStringToObject(o, k, c);
    free(c);
    return ok;
}

/* An id or JID: kept whole or not at all (a cut one would name something else). */
static bool add_id(cJSON *o, const char *k, const char *s)
{
    if (!s || !*s || strlen(s) > WA_META_ID_MAX) return true;
    return add_str(o, k, s, WA_META_ID_MAX);
}

static bool add_url(cJSON *o, const char *k, const char *s)
{
    if (!s || !*s || strlen(s) > WA_META_URL_MAX) return true;
    return add_str(o, k, s, WA_META_URL_MAX);
}

static bool add_num(cJSON *o, const char *k, bool has, double v)
{
    return !has || cJSON_AddNumberToObject(o, k, v);
}

static bool add_hex(cJSON *o, const char *k, bool has, ProtobufCBinaryData d)
{
    if (!has || d.len != 32) return true;
    char h[65];
    hex_encode(h, d.data, 32);
    h[64] = '\0';
    return cJSON_AddStringToObject(o, k, h) != NULL;
}

/* The fields every media message has, under one name each (protobuf-c makes a struct per
 * type, so they are gathered here). */
struct media {
    const char *kind, *url, *mimetype, *direct_path, *caption, *file_name, *title;
    protobuf_c_boolean has_len, has_key, has_sha, has_enc, has_ts, has_secs, has_w, has_h;
    uint64_t file_length;
    int64_t key_ts;
    uint32_t seconds, width, height, pages;
    ProtobufCBinaryData key, sha, enc;
    bool view_once, gif, animated;
    const Wa__ContextInfo *ci;
};

#define COMMON(m, x)                                                                               \
    do {                                                                                           \
        (m)->url = (x)->url, (m)->mimetype = (x)->mimetype, (m)->direct_path = (x)->directpath;    \
        (m)->has_len = (x)->has_filelength, (m)->file_length = (x)->filelength;                    \
        (m)->has_key = (x)->has_mediakey, (m)->key = (x)->mediakey;                                \
        (m)->has_sha = (x)->has_filesha256, (m)->sha = (x)->filesha256;                            \
        (m)->has_enc = (x)->has_fileencsha256, (m)->enc = (x)->fileencsha256;                      \
        (m)->has_ts = (x)->has_mediakeytimestamp, (m)->key_ts = (x)->mediakeytimestamp;            \
        (m)->ci = (x)->contextinfo;                                                                \
    } while (0)

/* The media part of c, if it has one: 1 (filled), 0. */
static int media_of(const Wa__Message *c, struct media *m)
{
    memset(m, 0, sizeof(*m));
    if (c->imagemessage) {
        const Wa__ImageMessage *x = c->imagemessage;
        COMMON(m, x);
        m->kind = "image", m->caption = x->caption, m->view_once = x->has_viewonce && x->viewonce;
        m->has_w = x->has_width, m->width = x->width, m->has_h = x->has_height,
        m->height = x->height;
    } else if (c->videomessage || c->ptvmessage) {
        const Wa__VideoMessage *x = c->videomessage ? c->videomessage : c->ptvmessage;
        COMMON(m, x);
        m->kind = "video", m->caption = x->caption, m->view_once = x->has_viewonce && x->viewonce;
        m->gif = x->has_gifplayback && x->gifplayback;
        m->has_secs = x->has_seconds, m->seconds = x->seconds;
        m->has_w = x->has_width, m->width = x->width, m->has_h = x->has_height,
        m->height = x->height;
    } else if (c->audiomessage) {
        const Wa__AudioMessage *x = c->audiomessage;
        COMMON(m, x);
        m->kind = x->has_ptt && x->ptt ? "ptt" : "audio";
        m->view_once = x->has_viewonce && x->viewonce;
        m->has_secs = x->has_seconds, m->seconds = x->seconds;
    } else if (c->documentmessage) {
        const Wa__DocumentMessage *x = c->documentmessage;
        COMMON(m, x);
        m->kind = "document", m->caption = x->caption, m->file_name = x->filename;
        m->title = x->title, m->pages = x->has_pagecount ? x->pagecount : 0;
    } else if (c->stickermessage) {
        const Wa__StickerMessage *x = c->stickermessage;
        COMMON(m, x);
        m->kind = "sticker", m->animated = x->has_isanimated && x->isanimated;
        m->has_w = x->has_width, m->width = x->width, m->has_h = x->has_height,
        m->height = x->height;
    } else {
        return 0;
    }
    return 1;
}

static bool media_meta(cJSON *meta, const struct media *m)
{
    cJSON *o = cJSON_AddObjectToObject(meta, "media");
    bool ok = o && add_str(o, "mimetype", m->mimetype, WA_META_MIME_MAX) &&
              cJSON_AddNumberToObject(o, "file_length", m->has_len ? (double)m->file_length : 0) &&
              add_str(o, "caption", m->caption, WA_META_CAPTION_MAX) &&
              add_num(o, "seconds", m->has_secs, m->seconds) &&
              add_str(o, "file_name", m->file_name, WA_META_NAME_MAX) &&
              add_str(o, "title", m->title, WA_META_NAME_MAX) &&
              add_num(o, "page_count", m->pages > 0, m->pages) &&
              add_num(o, "width", m->has_w, m->width) &&
              add_num(o, "height", m->has_h, m->height) && add_hex(o, "sha256", m->has_sha, m->sha);
    if (ok && m->view_once) ok = cJSON_AddTrueToObject(o, "view_once") != NULL;
    if (ok && m->gif) ok = cJSON_AddTrueToObject(o, "gif") != NULL;
    if (ok && m->animated) ok = cJSON_AddTrueToObject(o, "animated") != NULL;
    return ok;
}

static const uint8_t *key32(protobuf_c_boolean has, ProtobufCBinaryData d)
{
    return has && d.len == 32 ? d.data : NULL;
}

static const char *url_or_null(const char *s)
{
    return s && strlen(s) <= WA_META_URL_MAX && utf8_valid(s, strlen(s)) ? s : NULL;
}

static void media_ref(const struct media *m, struct st_media_ref *r)
{
    *r = (struct st_media_ref){
        .kind = m->kind,
        .mimetype = m->mimetype && strlen(m->mimetype) <= WA_META_MIME_MAX &&
                            utf8_valid(m->mimetype, strlen(m->mimetype))
                        ? m->mimetype
                        : NULL,
        .direct_path = url_or_null(m->direct_path),
        .url = url_or_null(m->url),
        .file_length = m->has_len ? m->file_length : 0,
        .media_key = key32(m->has_key, m->key),
        .sha256 = key32(m->has_sha, m->sha),
        .enc_sha256 = key32(m->has_enc, m->enc),
        .media_key_ts = m->has_ts ? m->key_ts : 0,
    };
}

static bool context_meta(cJSON *meta, const Wa__ContextInfo *ci)
{
    if (!ci) return true;
    if (ci->stanzaid && *ci->stanzaid && strlen(ci->stanzaid) <= WA_META_ID_MAX) {
        cJSON *q = cJSON_AddObjectToObject(meta, "quoted");
        if (!q || !add_id(q, "id", ci->stanzaid) || !add_id(q, "participant", ci->participant))
            return false;
    }
    if (ci->n_mentionedjid) {
        cJSON *a = cJSON_AddArrayToObject(meta, "mentions");
        if (!a) return false;
        for (size_t i = 0, n = 0; i < ci->n_mentionedjid && n < WA_INMSG_MENTIONS_MAX; i++) {
            const char *j = ci->mentionedjid[i];
            if (!j || !*j || strlen(j) > WA_META_ID_MAX || !utf8_valid(j, strlen(j))) continue;
            cJSON *s = cJSON_CreateString(j);
            if (!s) return false;
            cJSON_AddItemToArray(a, s);
            n++;
        }
    }
    return true;
}

static bool contact_add(cJSON *arr, const Wa__ContactMessage *x)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return false;
    cJSON_AddItemToArray(arr, o);
    char *name = capped(x->displayname ? x->displayname : "", WA_META_NAME_MAX);
    bool ok = name && cJSON_AddStringToObject(o, "name", name);
    free(name);
    return ok && add_str(o, "vcard", x->vcard, WA_META_VCARD_MAX);
}

static bool location_meta(cJSON *meta, const Wa__LocationMessage *x)
{
    cJSON *o = cJSON_AddObjectToObject(meta, "location");
    bool ok =
        o && cJSON_AddNumberToObject(o, "lat", x->has_degreeslatitude ? x->degreeslatitude : 0) &&
        cJSON_AddNumberToObject(o, "long", x->has_degreeslongitude ? x->degreeslongitude : 0) &&
        add_str(o, "name", x->name, WA_META_NAME_MAX) &&
        add_str(o, "address", x->address, WA_META_NAME_MAX) && add_url(o, "url", x->url) &&
        add_str(o, "comment", x->comment, WA_META_NAME_MAX);
    if (ok && x->has_islive && x->islive) ok = cJSON_AddTrueToObject(o, "live") != NULL;
    return ok;
}

/* The text of an edited message (conversation or extendedTextMessage.text), or a caption. */
static const char *edited_text(const Wa__Message *e)
{
    if (!e) return NULL;
    if (e->conversation) return e->conversation;
    if (e->extendedtextmessage && e->extendedtextmessage->text) return e->extendedtextmessage->text;
    if (e->imagemessage && e->imagemessage->caption) return e->imagemessage->caption;
    if (e->videomessage && e->videomessage->caption) return e->videomessage->caption;
    if (e->documentmessage && e->documentmessage->caption) return e->documentmessage->caption;
    return NULL;
}

static bool protocol_meta(cJSON *meta, const Wa__ProtocolMessage *p, struct wa_msgmeta *out)
{
    const char *target = p->key && p->key->id && *p->key->id && strlen(p->key->id) <= WA_META_ID_MAX
                             ? p->key->id
                             : NULL;
    if (!p->has_type || !target) return true; /* another protocol message */
    if (p->type == WA__PROTOCOL_MESSAGE__TYPE__REVOKE) {
        cJSON *o = cJSON_AddObjectToObject(meta, "revoke");
        out->kind = WA_IN_REVOKE;
        out->target = target;
        return o && add_id(o, "target", target);
    }
    if (p->type == WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT) {
        const char *t = edited_text(p->editedmessage);
        out->kind = WA_IN_EDIT;
        out->target = target;
        out->edit_text = capped(t ? t : "", WA_META_CAPTION_MAX);
        cJSON *o = cJSON_AddObjectToObject(meta, "edit");
        return out->edit_text && o && add_id(o, "target", target) &&
               cJSON_AddStringToObject(o, "text", out->edit_text);
    }
    return true;
}

static bool reaction_meta(cJSON *meta, const Wa__ReactionMessage *r)
{
    cJSON *o = cJSON_AddObjectToObject(meta, "reaction");
    char *emoji = capped(r->text ? r->text : "", 64);
    bool ok = o && emoji && add_id(o, "target", r->key ? r->key->id : NULL) &&
              cJSON_AddBoolToObject(o, "target_from_me",
                                    r->key && r->key->has_fromme && r->key->fromme) &&
              cJSON_AddStringToObject(o, "emoji", emoji) &&
              cJSON_AddBoolToObject(o, "removed", !*emoji);
    free(emoji);
    return ok;
}

void wa_msgmeta_unknown_field(const Wa__Message *c, char *out, size_t cap)
{
    /* our subset's fields that carry content we do not describe */
    const ProtobufCFieldDescriptor *fd = wa__message__descriptor.fields;
    for (unsigned i = 0; i < wa__message__descriptor.n_fields; i++) {
        const void *const *pp = (const void *const *)((const char *)c + fd[i].offset);
        if (fd[i].type == PROTOBUF_C_TYPE_MESSAGE && *pp &&
            strcmp(fd[i].name, "messageContextInfo") &&
            strcmp(fd[i].name, "senderKeyDistributionMessage")) {
            snprintf(out, cap, "%s", fd[i].name);
            return;
        }
    }
    unsigned num = c->base.n_unknown_fields ? c->base.unknown_fields[0].tag : 0;
    for (size_t i = 0; i < sizeof(wa_message_fields) / sizeof(wa_message_fields[0]); i++)
        if (wa_message_fields[i].num == num) {
            snprintf(out, cap, "%s", wa_message_fields[i].name);
            return;
        }
    snprintf(out, cap, "field_%u", num);
}

static int classify(const Wa__Message *c, cJSON *meta, struct wa_msgmeta *out)
{
    struct media md;
    const Wa__ContextInfo *ci = NULL;
    bool ok = true;
    if (c->conversation) {
        out->kind = WA_IN_TEXT;
    } else if (c->extendedtextmessage && c->extendedtextmessage->text) {
        out->kind = WA_IN_TEXT;
        ci = c->extendedtextmessage->contextinfo;
    } else if (media_of(c, &md)) {
        out->kind = wa_inmsg_kind_parse(md.kind);
        ci = md.ci;
        ok = media_meta(meta, &md);
        media_ref(&md, &out->media);
        out->has_media = true;
    } else if (c->locationmessage) {
        out->kind = WA_IN_LOCATION;
        ci = c->locationmessage->contextinfo;
        ok = location_meta(meta, c->locationmessage);
    } else if (c->contactmessage || c->contactsarraymessage) {
        out->kind = WA_IN_CONTACT;
        cJSON *a = cJSON_AddArrayToObject(meta, "contacts");
        ok = a != NULL;
        if (c->contactmessage) {
            ci = c->contactmessage->contextinfo;
            ok = ok && contact_add(a, c->contactmessage);
        } else {
            const Wa__ContactsArrayMessage *x = c->contactsarraymessage;
            ci = x->contextinfo;
            for (size_t i = 0; ok && i < x->n_contacts && i < WA_META_VCARDS_MAX; i++)
                ok = contact_add(a, x->contacts[i]);
        }
    } else if (c->reactionmessage) {
        out->kind = WA_IN_REACTION;
        ok = reaction_meta(meta, c->reactionmessage);
    } else if (c->protocolmessage) {
        out->kind = WA_IN_PROTOCOL;
        ok = protocol_meta(meta, c->protocolmessage, out);
    } else {
        char f[64];
        out->kind = WA_IN_OTHER;
        wa_msgmeta_unknown_field(c, f, sizeof f);
        ok = cJSON_AddStringToObject(meta, "field", f) != NULL;
    }
    return ok && context_meta(meta, ci) ? 0 : -ENOMEM;
}

int wa_msgmeta_build(const Wa__Message *c, struct wa_msgmeta *out)
{
    memset(out, 0, sizeof(*out));
    cJSON *meta = cJSON_CreateObject();
    int rc = meta ? classify(c, meta, out) : -ENOMEM;
    if (rc == 0 && meta->child && !(out->meta = cJSON_PrintUnformatted(meta))) rc = -ENOMEM;
    cJSON_Delete(meta);
    if (rc < 0) wa_msgmeta_free(out);
    return rc;
}

void wa_msgmeta_free(struct wa_msgmeta *m)
{
    if (!m) return;
    cJSON_free(m->meta);
    free(m->edit_text);
    memset(m, 0, sizeof(*m));
}
