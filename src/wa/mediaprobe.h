/* SPDX-License-Identifier: MIT */
/* mediaprobe.h -- what a file we send says about itself (issue 14, media send), for the
 * fields WhatsApp clients fill in: image width / height / jpegThumbnail, video width / height /
 * seconds, a voice note's seconds and waveform. Blocking file reads and decoding: run it on
 * the threadpool (gw/chmsend.c runs it in the accept job, after the copy), never the loop.
 *
 *   image / sticker   wa/imgprobe: JPEG and PNG dimensions + a 32-pixel-wide JPEG thumbnail
 *                     (images only; stickers get none), WebP and GIF dimensions only
 *   video             wa/mp4box: MP4 / MOV width, height and seconds from the boxes (no
 *                     thumbnail: that needs a video decoder, libavcodec, not linked)
 *   audio             Ogg Opus (sniffed, whatever the mimetype): seconds from the last page
 *                     (wa/oggopus); for a voice note also the waveform (wa/waveform), the file
 *                     decoded by libopusfile in pieces of WA_MPROBE_PCM frames. MP4 audio
 *                     (m4a: an ftyp box first): seconds from mvhd (wa/mp4box), no waveform.
 *                     Other audio (mp3): nothing (the API's `seconds`, if any, stays)
 *   document          nothing
 * Memory stays constant whatever the file's size (a few hundred KiB at most; a progressive
 * JPEG up to IMG_JPEG_MEM_MAX). A voice note over WA_MPROBE_WAVE_MAX_S seconds gets no
 * waveform (decoding would take too long). Every failure only leaves fields unknown, with the
 * reason in `why`: the send never depends on it.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa/media.h"
#include "wa/waveform.h"

#define WA_MPROBE_PCM        (120 * 48) /* frames per op_read_float: 120 ms at 48 kHz */
#define WA_MPROBE_WAVE_MAX_S (15 * 60)  /* 10 minutes decode in ~2 s here */

struct wa_mprobe {
    uint32_t width, height; /* 0: unknown */
    uint32_t seconds;       /* 0: unknown */
    bool has_waveform;
    uint8_t waveform[WA_WAVEFORM_LEN];
    uint8_t *thumb; /* a JPEG (malloc'd; wa_mprobe_free), NULL: none */
    size_t thumb_len;
    char why[160]; /* what could not be read, for a debug log ("" when everything was) */
};

/* Probe the file at path as a `type` (ptt: a voice note). Always fills *out (zeroed first);
 * returns 0 when something was learnt, -ENOENT (nothing for this kind of file), -EBADMSG
 * (a corrupt or unknown file: why), -EIO. */
int wa_mprobe_file(const char *path, enum wa_media_type type, bool ptt, struct wa_mprobe *out);
void wa_mprobe_free(struct wa_mprobe *p);
