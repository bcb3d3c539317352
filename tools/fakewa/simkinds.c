/* SPDX-License-Identifier: MIT */
/* simkinds.c -- every message kind a simulated phone sends, and what it received. */
#include "simkinds.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hex.h"

#define MENTIONS_MAX 32

struct fw_kind_msg {
    Wa__Message m, quoted;
    Wa__ExtendedTextMessage et;
    Wa__ImageMessage img;
    Wa__VideoMessage vid;
    Wa__AudioMessage aud;
    Wa__DocumentMessage doc;
    Wa__StickerMessage stk;
    Wa__LocationMessage loc;
    Wa__ContactMessage con, cons[2], *consp[2];
    Wa__ContactsArrayMessage arr;
    Wa__ReactionMessage rx;
    Wa__ProtocolMessage pm;
    Wa__Message edited;
    Wa__FutureProofMessage fp;
    Wa__Message inner;
    Wa__MessageKey key;
    Wa__ContextInfo ci;
    char *mentions[MENTIONS_MAX];
    uint8_t media_key[32], sha[32], enc[32];
    char path[512], url[640];
};

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* 32 bytes from body's hex field k into out: 1, 0 when absent, -1 when not 64 hex digits. */
static int hex32(const cJSON *body, const char *k, uint8_t out[32])
{
    const char *h = jstr(body, k);
    if (!h) return 0;
    return strlen(h) == 64 && hex_decode(out, 32, h, 64) == 32 ? 1 : -1;
}

/* The media fields: those of a real file when body names one (what POST /admin/media/put
 * answered: "media_key", "file_sha256", "enc_sha256" (or "file_enc_sha256"), "direct_path",
 * "url"?, "file_length"), else plausible ones as WhatsApp's CDN names them, with no file behind. */
static int fake_media(struct fw_kind_msg *k, const cJSON *body, const char *kind, uint64_t *len)
{
    const char *dp = jstr(body, "direct_path"), *url = jstr(body, "url");
    if (dp) {
        if (hex32(body, "media_key", k->media_key) != 1 ||
            hex32(body, "file_sha256", k->sha) != 1 ||
            (hex32(body, "file_enc_sha256", k->enc) != 1 &&
             hex32(body, "enc_sha256", k->enc) != 1) ||
            strlen(dp) >= sizeof k->path || (url && strlen(url) >= sizeof k->url))
            return -1;
        snprintf(k->path, sizeof k->path, "%s", dp);
        snprintf(k->url, sizeof k->url, "%s", url ? url : "");
        *len = (uint64_t)jnum(body, "file_length", 0);
        return 0;
    }
    uint8_t file[64];
    if (RAND_bytes(k->media_key, 32) != 1 || RAND_bytes(file, sizeof file) != 1) return -1;
    SHA256(file, sizeof file, k->sha);
    SHA256(k->sha, 32, k->enc);
    char h[33];
    hex_encode(h, k->enc, 16);
    h[32] = 0;
    snprintf(k->path, sizeof k->path, "/v/t62.7118-24/%s_%s.enc?ccb=11-4", kind, h);
    snprintf(k->url, sizeof k->url, "https://mmg.whatsapp.net%s&mms3=true", k->path);
    *len = 1000 + (uint64_t)(file[0] * 37);
    return 0;
}

#define MEDIA(x, K)                                                                                \
    do {                                                                                           \
        uint64_t len_ = 0;                                                                         \
        if (fake_media(K, body, kind, &len_) < 0) goto fail;                                       \
        (x)->url = (K)->url, (x)->directpath = (K)->path;                                          \
        (x)->has_mediakey = (x)->has_filesha256 = (x)->has_fileencsha256 = 1;                      \
        (x)->mediakey = (ProtobufCBinaryData){32, (K)->media_key};                                 \
        (x)->filesha256 = (ProtobufCBinaryData){32, (K)->sha};                                     \
        (x)->fileencsha256 = (ProtobufCBinaryData){32, (K)->enc};                                  \
        (x)->has_filelength = 1,                                                                   \
        (x)->filelength = (uint64_t)jnum(body, "file_length", (double)len_);                       \
        (x)->has_mediakeytimestamp = 1, (x)->mediakeytimestamp = (int64_t)time(NULL);              \
        (x)->contextinfo = ci;                                                                     \
    } while (0)

static Wa__ContextInfo *context(struct fw_kind_msg *k, const cJSON *body)
{
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(body, "reply_to");
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(body, "mentions");
    if (!rt && !mn) return NULL;
    wa__context_info__init(&k->ci);
    if (cJSON_IsObject(rt)) {
        k->ci.stanzaid = (char *)jstr(rt, "id");
        k->ci.participant = (char *)jstr(rt, "participant");
        wa__message__init(&k->quoted);
        k->quoted.conversation = (char *)(jstr(rt, "text") ? jstr(rt, "text") : "");
        k->ci.quotedmessage = &k->quoted;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, mn)
    {
        if (cJSON_IsString(e) && k->ci.n_mentionedjid < MENTIONS_MAX)
            k->mentions[k->ci.n_mentionedjid++] = e->valuestring;
    }
    if (k->ci.n_mentionedjid) k->ci.mentionedjid = k->mentions;
    return &k->ci;
}

static void target_key(struct fw_kind_msg *k, const cJSON *body, const char *chat)
{
    wa__message_key__init(&k->key);
    const cJSON *fm = cJSON_GetObjectItemCaseSensitive(body, "target_from_me");
    k->key.remotejid = (char *)chat;
    k->key.id = (char *)jstr(body, "target");
    k->key.has_fromme = 1;
    /* from the sender's side: "from me" = the sender's own message. Default: the target is
     * the recipient's message (a reaction to what wagate sent), so fromMe = false. */
    k->key.fromme = cJSON_IsTrue(fm);
}

struct fw_kind_msg *fw_kind_build(const cJSON *body, char *err, size_t errlen)
{
    struct fw_kind_msg *k = calloc(1, sizeof(*k));
    if (!k) return NULL;
    wa__message__init(&k->m);
    const char *kind = jstr(body, "kind") ? jstr(body, "kind") : "text";
    const char *text = jstr(body, "text"), *caption = jstr(body, "caption");
    Wa__ContextInfo *ci = context(k, body);
    Wa__Message *m = &k->m;
    if (strcmp(kind, "text") == 0) {
        if (!text) goto bad;
        if (ci) {
            wa__extended_text_message__init(&k->et);
            k->et.text = (char *)text;
            k->et.contextinfo = ci;
            m->extendedtextmessage = &k->et;
        } else {
            m->conversation = (char *)text;
        }
    } else if (strcmp(kind, "image") == 0) {
        wa__image_message__init(&k->img);
        MEDIA(&k->img, k);
        k->img.mimetype = (char *)(jstr(body, "mimetype") ? jstr(body, "mimetype") : "image/jpeg");
        k->img.caption = (char *)caption;
        k->img.has_width = k->img.has_height = 1;
        k->img.width = (uint32_t)jnum(body, "width", 1280);
        k->img.height = (uint32_t)jnum(body, "height", 720);
        m->imagemessage = &k->img;
    } else if (strcmp(kind, "video") == 0) {
        wa__video_message__init(&k->vid);
        MEDIA(&k->vid, k);
        k->vid.mimetype = (char *)(jstr(body, "mimetype") ? jstr(body, "mimetype") : "video/mp4");
        k->vid.caption = (char *)caption;
        k->vid.has_seconds = 1, k->vid.seconds = (uint32_t)jnum(body, "seconds", 12);
        k->vid.has_width = k->vid.has_height = 1, k->vid.width = 640, k->vid.height = 360;
        m->videomessage = &k->vid;
    } else if (strcmp(kind, "audio") == 0 || strcmp(kind, "ptt") == 0) {
        wa__audio_message__init(&k->aud);
        MEDIA(&k->aud, k);
        bool ptt = kind[0] == 'p';
        k->aud.mimetype = (char *)(jstr(body, "mimetype") ? jstr(body, "mimetype")
                                   : ptt                  ? "audio/ogg; codecs=opus"
                                                          : "audio/mpeg");
        k->aud.has_seconds = 1, k->aud.seconds = (uint32_t)jnum(body, "seconds", 5);
        k->aud.has_ptt = 1, k->aud.ptt = ptt;
        m->audiomessage = &k->aud;
    } else if (strcmp(kind, "document") == 0) {
        wa__document_message__init(&k->doc);
        MEDIA(&k->doc, k);
        k->doc.mimetype =
            (char *)(jstr(body, "mimetype") ? jstr(body, "mimetype") : "application/pdf");
        k->doc.filename = (char *)(jstr(body, "file_name") ? jstr(body, "file_name") : "file.pdf");
        k->doc.title = k->doc.filename;
        k->doc.caption = (char *)caption;
        k->doc.has_pagecount = 1, k->doc.pagecount = (uint32_t)jnum(body, "page_count", 2);
        m->documentmessage = &k->doc;
    } else if (strcmp(kind, "sticker") == 0) {
        wa__sticker_message__init(&k->stk);
        MEDIA(&k->stk, k);
        k->stk.mimetype = "image/webp";
        k->stk.has_width = k->stk.has_height = 1, k->stk.width = k->stk.height = 512;
        m->stickermessage = &k->stk;
    } else if (strcmp(kind, "location") == 0) {
        wa__location_message__init(&k->loc);
        k->loc.has_degreeslatitude = k->loc.has_degreeslongitude = 1;
        k->loc.degreeslatitude = jnum(body, "lat", 52.5200);
        k->loc.degreeslongitude = jnum(body, "long", 13.4050);
        k->loc.name = (char *)jstr(body, "name");
        k->loc.address = (char *)jstr(body, "address");
        k->loc.contextinfo = ci;
        m->locationmessage = &k->loc;
    } else if (strcmp(kind, "contact") == 0 || strcmp(kind, "contacts") == 0) {
        const char *vc = jstr(body, "vcard") ? jstr(body, "vcard")
                                             : "BEGIN:VCARD\nVERSION:3.0\nFN:Carol\n"
                                               "TEL;type=CELL:+15550009\nEND:VCARD";
        const char *nm = jstr(body, "name") ? jstr(body, "name") : "Carol";
        if (kind[7] == 's') {
            for (int i = 0; i < 2; i++) {
                wa__contact_message__init(&k->cons[i]);
                k->cons[i].displayname = (char *)nm, k->cons[i].vcard = (char *)vc;
                k->consp[i] = &k->cons[i];
            }
            wa__contacts_array_message__init(&k->arr);
            k->arr.displayname = "2 contacts";
            k->arr.contacts = k->consp, k->arr.n_contacts = 2;
            k->arr.contextinfo = ci;
            m->contactsarraymessage = &k->arr;
        } else {
            wa__contact_message__init(&k->con);
            k->con.displayname = (char *)nm, k->con.vcard = (char *)vc;
            k->con.contextinfo = ci;
            m->contactmessage = &k->con;
        }
    } else if (strcmp(kind, "reaction") == 0 || strcmp(kind, "edit") == 0 ||
               strcmp(kind, "revoke") == 0) {
        if (!jstr(body, "target")) goto bad;
        target_key(k, body, jstr(body, "chat"));
        if (kind[1] == 'e' && kind[2] == 'a') { /* reaction */
            wa__reaction_message__init(&k->rx);
            k->rx.key = &k->key;
            k->rx.text = (char *)(jstr(body, "emoji") ? jstr(body, "emoji") : "");
            k->rx.has_sendertimestampms = 1;
            k->rx.sendertimestampms = (int64_t)time(NULL) * 1000;
            m->reactionmessage = &k->rx;
        } else {
            k->key.fromme = 1; /* one's own message */
            wa__protocol_message__init(&k->pm);
            k->pm.key = &k->key;
            k->pm.has_type = 1;
            if (kind[0] == 'e') {
                if (!text) goto bad;
                k->pm.type = WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
                wa__message__init(&k->edited);
                k->edited.conversation = (char *)text;
                k->pm.editedmessage = &k->edited;
                k->pm.has_timestampms = 1, k->pm.timestampms = (int64_t)time(NULL) * 1000;
                /* as Baileys sends an edit: editedMessage{message{protocolMessage}} */
                wa__message__init(&k->inner);
                k->inner.protocolmessage = &k->pm;
                wa__future_proof_message__init(&k->fp);
                k->fp.message = &k->inner;
                m->editedmessage = &k->fp;
            } else {
                k->pm.type = WA__PROTOCOL_MESSAGE__TYPE__REVOKE;
                m->protocolmessage = &k->pm;
            }
        }
    } else {
        snprintf(err, errlen, "unknown kind %s", kind);
        free(k);
        return NULL;
    }
    return k;
bad:
    snprintf(err, errlen, "kind %s: missing text / target", kind);
    free(k);
    return NULL;
fail:
    snprintf(err, errlen, "no randomness");
    free(k);
    return NULL;
}

const Wa__Message *fw_kind_message(const struct fw_kind_msg *k)
{
    return &k->m;
}

void fw_kind_free(struct fw_kind_msg *k)
{
    free(k);
}

static void add_ctx(cJSON *o, const Wa__ContextInfo *ci)
{
    if (!ci) return;
    if (ci->stanzaid) {
        cJSON *q = cJSON_AddObjectToObject(o, "quoted");
        cJSON_AddStringToObject(q, "id", ci->stanzaid);
        if (ci->participant) cJSON_AddStringToObject(q, "participant", ci->participant);
        const Wa__Message *qm = ci->quotedmessage;
        const char *qt = !qm                       ? NULL
                         : qm->conversation        ? qm->conversation
                         : qm->extendedtextmessage ? qm->extendedtextmessage->text
                                                   : NULL;
        if (qt) cJSON_AddStringToObject(q, "text", qt);
    }
    if (ci->n_mentionedjid) {
        cJSON *a = cJSON_AddArrayToObject(o, "mentions");
        for (size_t i = 0; i < ci->n_mentionedjid; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(ci->mentionedjid[i]));
    }
}

static void add_target(cJSON *o, const char *name, const Wa__MessageKey *key, const char *text,
                       const char *emoji)
{
    cJSON *t = cJSON_AddObjectToObject(o, name);
    cJSON_AddStringToObject(t, "target", key && key->id ? key->id : "");
    if (key && key->has_fromme) cJSON_AddBoolToObject(t, "from_me", key->fromme);
    if (key && key->participant) cJSON_AddStringToObject(t, "participant", key->participant);
    if (text) cJSON_AddStringToObject(t, "text", text);
    if (emoji) cJSON_AddStringToObject(t, "emoji", emoji);
}

/* "thumbnail": the jpegThumbnail in base64 (what the phone would show before downloading). */
static void add_thumb(cJSON *o, protobuf_c_boolean has, ProtobufCBinaryData t)
{
    if (!has || !t.len || t.len > 64 * 1024) return;
    char *b64 = malloc(4 * ((t.len + 2) / 3) + 1);
    if (!b64) return;
    EVP_EncodeBlock((unsigned char *)b64, t.data, (int)t.len);
    cJSON_AddStringToObject(o, "thumbnail", b64);
    free(b64);
}

/* A file's message: its kind, caption, file name, duration, size, thumbnail, a voice note's
 * waveform and context ("other" if none). */
static const char *describe_media(cJSON *o, const Wa__Message *m)
{
    const char *caption = NULL, *name = NULL, *type = "other";
    const Wa__ContextInfo *ci = NULL;
    uint32_t secs = 0, w = 0, h = 0;
    if (m->imagemessage) {
        type = "image", caption = m->imagemessage->caption, ci = m->imagemessage->contextinfo;
        w = m->imagemessage->width, h = m->imagemessage->height;
        add_thumb(o, m->imagemessage->has_jpegthumbnail, m->imagemessage->jpegthumbnail);
    } else if (m->videomessage) {
        type = "video", caption = m->videomessage->caption, ci = m->videomessage->contextinfo;
        secs = m->videomessage->seconds;
        w = m->videomessage->width, h = m->videomessage->height;
        add_thumb(o, m->videomessage->has_jpegthumbnail, m->videomessage->jpegthumbnail);
    } else if (m->audiomessage) {
        type = m->audiomessage->ptt ? "ptt" : "audio", ci = m->audiomessage->contextinfo;
        secs = m->audiomessage->seconds;
        if (m->audiomessage->has_waveform) {
            cJSON *wf = cJSON_AddArrayToObject(o, "waveform");
            for (size_t i = 0; i < m->audiomessage->waveform.len && i < 256; i++)
                cJSON_AddItemToArray(wf, cJSON_CreateNumber(m->audiomessage->waveform.data[i]));
        }
    } else if (m->documentmessage) {
        type = "document", caption = m->documentmessage->caption;
        name = m->documentmessage->filename, ci = m->documentmessage->contextinfo;
    } else if (m->stickermessage) {
        type = "sticker", ci = m->stickermessage->contextinfo;
        w = m->stickermessage->width, h = m->stickermessage->height;
    }
    if (caption) cJSON_AddStringToObject(o, "caption", caption);
    if (name) cJSON_AddStringToObject(o, "file_name", name);
    if (secs) cJSON_AddNumberToObject(o, "seconds", secs);
    if (w && h) {
        cJSON_AddNumberToObject(o, "width", w);
        cJSON_AddNumberToObject(o, "height", h);
    }
    add_ctx(o, ci);
    return type;
}

cJSON *fw_kind_describe(const Wa__Message *m)
{
    for (int i = 0; m && i < 4; i++) { /* unwrap */
        if (m->devicesentmessage && m->devicesentmessage->message)
            m = m->devicesentmessage->message;
        else if (m->editedmessage && m->editedmessage->message)
            m = m->editedmessage->message;
        else if (m->ephemeralmessage && m->ephemeralmessage->message)
            m = m->ephemeralmessage->message;
        else
            break;
    }
    if (!m) return NULL;
    cJSON *o = cJSON_CreateObject();
    const char *type = "other";
    if (m->conversation) {
        type = "text";
    } else if (m->extendedtextmessage) {
        type = "text";
        add_ctx(o, m->extendedtextmessage->contextinfo);
    } else if (m->reactionmessage) {
        type = "reaction";
        add_target(o, "reaction", m->reactionmessage->key, NULL,
                   m->reactionmessage->text ? m->reactionmessage->text : "");
    } else if (m->protocolmessage && m->protocolmessage->has_type &&
               m->protocolmessage->type == WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT) {
        const Wa__Message *e = m->protocolmessage->editedmessage;
        type = "edit";
        add_target(o, "edit", m->protocolmessage->key, e && e->conversation ? e->conversation : "",
                   NULL);
    } else if (m->protocolmessage && m->protocolmessage->has_type &&
               m->protocolmessage->type == WA__PROTOCOL_MESSAGE__TYPE__REVOKE) {
        type = "revoke";
        add_target(o, "revoke", m->protocolmessage->key, NULL, NULL);
    } else if (m->protocolmessage) {
        type = "protocol";
    } else {
        type = describe_media(o, m);
    }
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

/* ---- chatstates seen (what clients send: <chatstate to><composing|paused/></chatstate>) ---- */

#define CS_RING 256

static struct {
    char from[128], to[128], state[16], media[16];
    uint64_t t_ms;
} cs_ring[CS_RING];
static size_t cs_n, cs_head;

void fw_chatstate_note(const char *from, const struct wa_node *n, uint64_t t_ms)
{
    const char *to = wa_node_attr(n, "to");
    const struct wa_node *c = wa_node_child_count(n) ? wa_node_child_at(n, 0) : NULL;
    size_t i = (cs_head + cs_n) % CS_RING;
    if (cs_n == CS_RING)
        cs_head = (cs_head + 1) % CS_RING;
    else
        cs_n++;
    snprintf(cs_ring[i].from, sizeof cs_ring[i].from, "%s", from ? from : "");
    snprintf(cs_ring[i].to, sizeof cs_ring[i].to, "%s", to ? to : "");
    snprintf(cs_ring[i].state, sizeof cs_ring[i].state, "%s", c ? c->tag.s : "");
    const char *media = c ? wa_node_attr(c, "media") : NULL;
    snprintf(cs_ring[i].media, sizeof cs_ring[i].media, "%s", media ? media : "");
    cs_ring[i].t_ms = t_ms;
}

cJSON *fw_chatstates_json(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "chatstates");
    for (size_t i = 0; i < cs_n; i++) {
        const size_t k = (cs_head + i) % CS_RING;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "from", cs_ring[k].from);
        cJSON_AddStringToObject(e, "to", cs_ring[k].to);
        cJSON_AddStringToObject(e, "state", cs_ring[k].state);
        if (cs_ring[k].media[0]) cJSON_AddStringToObject(e, "media", cs_ring[k].media);
        cJSON_AddNumberToObject(e, "t_ms", (double)cs_ring[k].t_ms);
        cJSON_AddItemToArray(a, e);
    }
    return o;
}
