/* SPDX-License-Identifier: MIT */
/* outmedia.h -- the Message of a file we send, sans-I/O (issue 14, media send).
 *
 * A media send is stored in two steps (gw/chmsend.h): at accept, the outbox row holds the
 * Message with everything but the upload's results -- the kind's submessage (imageMessage,
 * videoMessage, audioMessage, documentMessage, stickerMessage) with mimetype, caption,
 * fileLength, fileName (document), ptt / seconds (audio) and the contextInfo of a reply or
 * mentions, and what the file says about itself when it is known (width, height,
 * jpegThumbnail, seconds, a voice note's waveform: wa/mediaprobe.h, set by
 * wa_outmedia_amend after the accept's copy); after the upload, wa_outmedia_complete() adds url,
 * directPath, mediaKey, fileSha256, fileEncSha256, fileLength (the uploaded one) and
 * mediaKeyTimestamp, which is what Baileys' prepareWAMessageMedia puts in the same fields. Strings
 * are borrowed for the call; outputs are appended to `out`.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wa/media.h"
#include "wa/sendbuild.h"

#define WA_OUTMEDIA_MIME_MAX  128         /* bytes of a mimetype */
#define WA_OUTMEDIA_FNAME_MAX 255         /* bytes of a document's file name */
#define WA_OUTMEDIA_WAVEFORM  64          /* bytes of a voice note's waveform */
#define WA_OUTMEDIA_THUMB_MAX (32 * 1024) /* bytes of a jpegThumbnail */

struct wa_outmedia {
    enum wa_media_type type; /* IMAGE, VIDEO, AUDIO, DOCUMENT or STICKER */
    bool ptt;                /* AUDIO: a voice note */
    const char *mimetype;    /* required, 1..WA_OUTMEDIA_MIME_MAX bytes */
    const char *file_name;   /* DOCUMENT: shown to the recipient (NULL: none) */
    uint64_t file_length;    /* plaintext bytes (checked against the upload) */
    uint32_t seconds;        /* AUDIO / VIDEO: the duration, 0 = unknown */
    /* what the file says about itself (wa/mediaprobe.h), each set only when known */
    uint32_t width, height;   /* IMAGE / VIDEO / STICKER: pixels, 0 = unknown */
    const uint8_t *waveform;  /* AUDIO with ptt: WA_OUTMEDIA_WAVEFORM bytes 0..100, or NULL */
    const uint8_t *thumbnail; /* IMAGE / VIDEO: jpegThumbnail, NULL = none */
    size_t thumbnail_len;     /* 1..WA_OUTMEDIA_THUMB_MAX */
};

/* What the upload established (wa/mediaxfer.h wa_mupload_result). */
struct wa_outmedia_upload {
    const char *url, *direct_path;
    const uint8_t *media_key;       /* WA_MEDIA_KEY_LEN bytes */
    const uint8_t *file_sha256;     /* 32 */
    const uint8_t *file_enc_sha256; /* 32 */
    uint64_t file_length;
    int64_t key_ts; /* mediaKeyTimestamp: unix seconds of the upload */
};

/* Check md: 0 or -EINVAL with a reason in err. */
int wa_outmedia_check(const struct wa_outmedia *md, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The held Message (no upload fields). caption may be NULL (a sticker and audio have none: it
 * is refused for them); ctx NULL or without quote and mentions: no contextInfo. 0, -EINVAL,
 * -EBADMSG (ctx->quoted does not unpack), -ENOMEM. */
int wa_outmedia_build(const struct wa_outmedia *md, const char *caption,
                      const struct wa_send_ctx *ctx, struct buf *out)
    __attribute__((warn_unused_result));
/* pb (a held Message) with what the file says about itself (md's width, height, waveform,
 * thumbnail, and seconds unless pb already has a duration: the API's own wins) set on its
 * media submessage, into out; fields a kind does not have are left out (a sticker's
 * thumbnail, an image's seconds). Only md's probe fields are read. 0, -ENOENT (no media
 * submessage), -EBADMSG, -EINVAL (a thumbnail over WA_OUTMEDIA_THUMB_MAX), -ENOMEM. */
int wa_outmedia_amend(const uint8_t *pb, size_t len, const struct wa_outmedia *md, struct buf *out)
    __attribute__((warn_unused_result));
/* The media type of a Message with a media submessage: 0 and *t (and *ptt), or -ENOENT (no
 * media submessage), -EBADMSG (does not unpack). */
int wa_outmedia_type(const uint8_t *pb, size_t len, enum wa_media_type *t, bool *ptt)
    __attribute__((warn_unused_result));
/* pb (a held Message) with the upload's fields set, into out. 0, -ENOENT (no media
 * submessage), -EBADMSG, -ENOMEM. */
int wa_outmedia_complete(const uint8_t *pb, size_t len, const struct wa_outmedia_upload *u,
                         struct buf *out) __attribute__((warn_unused_result));
