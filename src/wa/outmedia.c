/* SPDX-License-Identifier: MIT */
/* outmedia.c -- the Message of a file we send (see outmedia.h). */
#include "wa/outmedia.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "wa.pb-c.h"

static int pack(const Wa__Message *m, struct buf *out)
{
    size_t n = wa__message__get_packed_size(m);
    int rc = buf_reserve(out, n);
    if (rc < 0) return rc;
    wa__message__pack(m, out->data + out->len);
    out->len += n;
    return 0;
}

static bool str_ok(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return s ? n >= min && n <= max && utf8_first_invalid(s, n) == n : min == 0;
}

int wa_outmedia_check(const struct wa_outmedia *md, char *err, size_t errlen)
{
    if (!md ||
        (md->type != WA_MEDIA_IMAGE && md->type != WA_MEDIA_VIDEO && md->type != WA_MEDIA_AUDIO &&
         md->type != WA_MEDIA_DOCUMENT && md->type != WA_MEDIA_STICKER)) {
        snprintf(err, errlen, "not a kind of file that can be sent");
        return -EINVAL;
    }
    if (!str_ok(md->mimetype, 1, WA_OUTMEDIA_MIME_MAX) || strpbrk(md->mimetype, "\r\n")) {
        snprintf(err, errlen, "mimetype: 1..%d bytes of text", WA_OUTMEDIA_MIME_MAX);
        return -EINVAL;
    }
    if (!str_ok(md->file_name, 0, WA_OUTMEDIA_FNAME_MAX)) {
        snprintf(err, errlen, "file_name: up to %d bytes of UTF-8", WA_OUTMEDIA_FNAME_MAX);
        return -EINVAL;
    }
    if (!md->file_length || md->file_length > wa_media_cap(md->type)) {
        snprintf(err, errlen, "the file must be 1..%llu bytes for a %s",
                 (unsigned long long)wa_media_cap(md->type), wa_media_type_name(md->type));
        return -EINVAL;
    }
    return 0;
}

static ProtobufCBinaryData bytes(const uint8_t *p, size_t n)
{
    return (ProtobufCBinaryData){.len = n, .data = (uint8_t *)p};
}

/* md's probe fields onto m's media submessage (borrowed bytes). seconds: at build, md's own;
 * when amending, only if the submessage has none (the API's wins). */
static void set_probe(Wa__Message *m, const struct wa_outmedia *md, bool build)
{
    bool dims = md->width && md->height, th = md->thumbnail && md->thumbnail_len;
    if (m->imagemessage) {
        Wa__ImageMessage *p = m->imagemessage;
        if (dims) p->has_width = p->has_height = 1, p->width = md->width, p->height = md->height;
        if (th)
            p->has_jpegthumbnail = 1, p->jpegthumbnail = bytes(md->thumbnail, md->thumbnail_len);
    } else if (m->videomessage) {
        Wa__VideoMessage *p = m->videomessage;
        if (dims) p->has_width = p->has_height = 1, p->width = md->width, p->height = md->height;
        if (th)
            p->has_jpegthumbnail = 1, p->jpegthumbnail = bytes(md->thumbnail, md->thumbnail_len);
        if (!build && md->seconds && !(p->has_seconds && p->seconds))
            p->has_seconds = 1, p->seconds = md->seconds;
    } else if (m->audiomessage) {
        Wa__AudioMessage *p = m->audiomessage;
        if (md->waveform && p->ptt)
            p->has_waveform = 1, p->waveform = bytes(md->waveform, WA_OUTMEDIA_WAVEFORM);
        if (!build && md->seconds && !(p->has_seconds && p->seconds))
            p->has_seconds = 1, p->seconds = md->seconds;
    } else if (m->stickermessage) {
        Wa__StickerMessage *p = m->stickermessage;
        if (dims) p->has_width = p->has_height = 1, p->width = md->width, p->height = md->height;
    }
}

int wa_outmedia_build(const struct wa_outmedia *md, const char *caption,
                      const struct wa_send_ctx *ctx, struct buf *out)
{
    char why[8];
    if (wa_outmedia_check(md, why, sizeof why) < 0) return -EINVAL;
    if (caption && (md->type == WA_MEDIA_AUDIO || md->type == WA_MEDIA_STICKER)) return -EINVAL;
    if (md->thumbnail_len > WA_OUTMEDIA_THUMB_MAX) return -EINVAL;
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT, *cip = NULL;
    int fr = wa_send_ctx_fill(ctx, &ci);
    if (fr < 0) return fr;
    if (fr > 0) cip = &ci;
    Wa__ImageMessage im = WA__IMAGE_MESSAGE__INIT;
    Wa__VideoMessage vm = WA__VIDEO_MESSAGE__INIT;
    Wa__AudioMessage am = WA__AUDIO_MESSAGE__INIT;
    Wa__DocumentMessage dm = WA__DOCUMENT_MESSAGE__INIT;
    Wa__StickerMessage sm = WA__STICKER_MESSAGE__INIT;
    char *mime = (char *)md->mimetype, *cap = (char *)caption;
    uint64_t len = md->file_length;
    switch (md->type) {
    case WA_MEDIA_IMAGE:
        im.mimetype = mime, im.caption = cap, im.has_filelength = 1, im.filelength = len;
        im.contextinfo = cip;
        m.imagemessage = &im;
        break;
    case WA_MEDIA_VIDEO:
        vm.mimetype = mime, vm.caption = cap, vm.has_filelength = 1, vm.filelength = len;
        vm.has_seconds = md->seconds > 0, vm.seconds = md->seconds;
        vm.contextinfo = cip;
        m.videomessage = &vm;
        break;
    case WA_MEDIA_AUDIO:
        am.mimetype = mime, am.has_filelength = 1, am.filelength = len;
        am.has_seconds = md->seconds > 0, am.seconds = md->seconds;
        am.has_ptt = 1, am.ptt = md->ptt;
        am.contextinfo = cip;
        m.audiomessage = &am;
        break;
    case WA_MEDIA_DOCUMENT:
        dm.mimetype = mime, dm.caption = cap, dm.has_filelength = 1, dm.filelength = len;
        dm.filename = (char *)md->file_name;
        dm.title = (char *)md->file_name;
        dm.contextinfo = cip;
        m.documentmessage = &dm;
        break;
    default: /* WA_MEDIA_STICKER (checked above) */
        sm.mimetype = mime, sm.has_filelength = 1, sm.filelength = len;
        sm.contextinfo = cip;
        m.stickermessage = &sm;
        break;
    }
    set_probe(&m, md, true);
    int rc = pack(&m, out);
    wa_send_ctx_release(&ci);
    return rc;
}

int wa_outmedia_amend(const uint8_t *pb, size_t len, const struct wa_outmedia *md, struct buf *out)
{
    if (!md || md->thumbnail_len > WA_OUTMEDIA_THUMB_MAX) return -EINVAL;
    Wa__Message *m = wa__message__unpack(NULL, len, pb);
    if (!m) return -EBADMSG;
    if (!m->imagemessage && !m->videomessage && !m->audiomessage && !m->documentmessage &&
        !m->stickermessage) {
        wa__message__free_unpacked(m, NULL);
        return -ENOENT;
    }
    /* the library's own bytes are swapped for ours, and back before the free */
    Wa__ImageMessage *im = m->imagemessage;
    Wa__VideoMessage *vm = m->videomessage;
    Wa__AudioMessage *am = m->audiomessage;
    ProtobufCBinaryData keep_it = im ? im->jpegthumbnail : (ProtobufCBinaryData){0};
    ProtobufCBinaryData keep_vt = vm ? vm->jpegthumbnail : (ProtobufCBinaryData){0};
    ProtobufCBinaryData keep_wf = am ? am->waveform : (ProtobufCBinaryData){0};
    protobuf_c_boolean has_it = im && im->has_jpegthumbnail, has_vt = vm && vm->has_jpegthumbnail,
                       has_wf = am && am->has_waveform;
    set_probe(m, md, false);
    int rc = pack(m, out);
    if (im) im->jpegthumbnail = keep_it, im->has_jpegthumbnail = has_it;
    if (vm) vm->jpegthumbnail = keep_vt, vm->has_jpegthumbnail = has_vt;
    if (am) am->waveform = keep_wf, am->has_waveform = has_wf;
    wa__message__free_unpacked(m, NULL);
    return rc;
}

int wa_outmedia_type(const uint8_t *pb, size_t len, enum wa_media_type *t, bool *ptt)
{
    Wa__Message *m = wa__message__unpack(NULL, len, pb);
    if (!m) return -EBADMSG;
    int rc = 0;
    bool p = false;
    if (m->imagemessage)
        *t = WA_MEDIA_IMAGE;
    else if (m->videomessage)
        *t = WA_MEDIA_VIDEO;
    else if (m->audiomessage)
        *t = WA_MEDIA_AUDIO, p = m->audiomessage->has_ptt && m->audiomessage->ptt;
    else if (m->documentmessage)
        *t = WA_MEDIA_DOCUMENT;
    else if (m->stickermessage)
        *t = WA_MEDIA_STICKER;
    else
        rc = -ENOENT;
    if (ptt) *ptt = p;
    wa__message__free_unpacked(m, NULL);
    return rc;
}

/* The upload fields of one submessage, by reference. */
struct fields {
    char **url, **direct_path;
    ProtobufCBinaryData *key, *sha, *enc;
    protobuf_c_boolean *has_key, *has_sha, *has_enc, *has_len, *has_ts;
    uint64_t *len;
    int64_t *ts;
};

#define FIELDS(p)                                                                                  \
    (struct fields)                                                                                \
    {                                                                                              \
        .url = &(p)->url, .direct_path = &(p)->directpath, .key = &(p)->mediakey,                  \
        .sha = &(p)->filesha256, .enc = &(p)->fileencsha256, .has_key = &(p)->has_mediakey,        \
        .has_sha = &(p)->has_filesha256, .has_enc = &(p)->has_fileencsha256,                       \
        .has_len = &(p)->has_filelength, .has_ts = &(p)->has_mediakeytimestamp,                    \
        .len = &(p)->filelength, .ts = &(p)->mediakeytimestamp                                     \
    }

int wa_outmedia_complete(const uint8_t *pb, size_t len, const struct wa_outmedia_upload *u,
                         struct buf *out)
{
    if (!u || !u->url || !u->direct_path || !u->media_key || !u->file_sha256 || !u->file_enc_sha256)
        return -EINVAL;
    Wa__Message *m = wa__message__unpack(NULL, len, pb);
    if (!m) return -EBADMSG;
    struct fields f;
    if (m->imagemessage)
        f = FIELDS(m->imagemessage);
    else if (m->videomessage)
        f = FIELDS(m->videomessage);
    else if (m->audiomessage)
        f = FIELDS(m->audiomessage);
    else if (m->documentmessage)
        f = FIELDS(m->documentmessage);
    else if (m->stickermessage)
        f = FIELDS(m->stickermessage);
    else {
        wa__message__free_unpacked(m, NULL);
        return -ENOENT;
    }
    /* the unpacked strings and bytes are the library's: swap ours in, restore before free */
    struct fields keep = f;
    char *old_url = *f.url, *old_dp = *f.direct_path;
    ProtobufCBinaryData ok = *f.key, os = *f.sha, oe = *f.enc;
    *f.url = (char *)u->url;
    *f.direct_path = (char *)u->direct_path;
    *f.key = (ProtobufCBinaryData){.len = WA_MEDIA_KEY_LEN, .data = (uint8_t *)u->media_key};
    *f.sha = (ProtobufCBinaryData){.len = 32, .data = (uint8_t *)u->file_sha256};
    *f.enc = (ProtobufCBinaryData){.len = 32, .data = (uint8_t *)u->file_enc_sha256};
    *f.has_key = *f.has_sha = *f.has_enc = *f.has_len = *f.has_ts = 1;
    *f.len = u->file_length;
    *f.ts = u->key_ts;
    int rc = pack(m, out);
    *keep.url = old_url;
    *keep.direct_path = old_dp;
    *keep.key = ok;
    *keep.sha = os;
    *keep.enc = oe;
    wa__message__free_unpacked(m, NULL);
    return rc;
}
