/* SPDX-License-Identifier: MIT */
/* frame.h -- sans-I/O WhatsApp framing: intro header + 3-byte big-endian length prefix.
 *
 * Wire format (docs/wa-protocol.md 1.2): the client first sends the intro `57 41 06 03`
 * (optionally preceded by `45 44 00 01` + BE24 length L + L bytes of routing info), then
 * every frame in both directions is BE24 length N followed by N payload bytes.
 *
 * Encoder: a value struct; the client-side encoder writes the intro before its first frame.
 * Decoder: a value struct fed with arbitrary chunks; it reassembles one frame at a time in
 * its own capped buffer, never holding more than one frame. The server-side decoder first
 * consumes (and checks) the client's intro, accepting both forms.
 */
#pragma once
#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WA_FRAME_HDR_LEN             3
#define WA_FRAME_MAX_LIMIT           0xFFFFFFu  /* 2^24-1, the most a 3-byte length can say */
#define WA_FRAME_MAX_DEFAULT         (4u << 20) /* 4 MiB */
#define WA_FRAME_ROUTING_MAX_DEFAULT 1024u      /* cap on ED-prefix routing info */
#define WA_INTRO_LEN                 4

/* The 4-byte intro `W A 06 03`; it is also the Noise prologue. */
extern const uint8_t wa_frame_intro[WA_INTRO_LEN];

struct wa_frame_encoder {
    bool intro_pending; /* write wa_frame_intro before the next frame */
    size_t max_frame;   /* refuse payloads longer than this */
};

/* client=true: the first encoded frame is preceded by the intro. max_frame 0 means
 * WA_FRAME_MAX_DEFAULT; values above WA_FRAME_MAX_LIMIT are clamped to it. */
void wa_frame_encoder_init(struct wa_frame_encoder *e, bool client, size_t max_frame);

/* Append [intro] + BE24(len) + payload to out. -EMSGSIZE if len > max_frame, or the
 * buf_append error (-ENOBUFS/-ENOMEM, out unchanged in that case). */
int wa_frame_encode(struct wa_frame_encoder *e, struct buf *out, const uint8_t *payload, size_t len)
    __attribute__((warn_unused_result));

enum wa_frame_dec_state {
    WA_FDEC_INTRO,   /* server side: reading the first 4 intro bytes */
    WA_FDEC_ED_LEN,  /* server side: reading BE24 routing-info length */
    WA_FDEC_ED_SKIP, /* server side: skipping routing info */
    WA_FDEC_INTRO2,  /* server side: reading `WA 06 03` after routing info */
    WA_FDEC_HDR,     /* reading the 3-byte frame length */
    WA_FDEC_BODY,    /* reading the frame payload */
    WA_FDEC_ERROR,   /* sticky error */
};

/* Decoder; treat the fields as private (use the functions). */
struct wa_frame_decoder {
    enum wa_frame_dec_state state;
    uint8_t hdr[WA_INTRO_LEN];
    size_t hdr_have;
    size_t need; /* body length (BODY) or routing bytes left (ED_SKIP) */
    size_t max_frame;
    size_t max_routing;
    struct buf body;  /* current frame; capped at max_frame */
    bool frame_ready; /* body holds a complete frame returned by the last call */
    int err;          /* sticky error code in WA_FDEC_ERROR */
    const char *last_error;
};

/* server=true: expect the client's intro first. max_frame 0 = WA_FRAME_MAX_DEFAULT (clamped
 * to WA_FRAME_MAX_LIMIT); max_routing 0 = WA_FRAME_ROUTING_MAX_DEFAULT. */
void wa_frame_decoder_init(struct wa_frame_decoder *d, bool server, size_t max_frame,
                           size_t max_routing);
void wa_frame_decoder_free(struct wa_frame_decoder *d);

/* Consume bytes from in[0..len) until one frame completes or the input runs out.
 * *consumed is set to the number of bytes used (always, also on error).
 * Returns 1 with *frame and *frame_len set (valid until the next call or free), 0 when all of
 * the input was consumed and more is needed, or a negative error; errors are sticky:
 * -EPROTO (bad intro), -EMSGSIZE (frame or routing info over its cap), -ENOMEM.
 * Call again with the remaining input (in + *consumed) after a frame. */
int wa_frame_decode(struct wa_frame_decoder *d, const uint8_t *in, size_t len, size_t *consumed,
                    const uint8_t **frame, size_t *frame_len) __attribute__((warn_unused_result));

/* Human-readable reason for the last error, or "" if none. */
const char *wa_frame_decoder_error(const struct wa_frame_decoder *d);

/* Bytes of a partly received frame or intro are buffered (useful at EOF). */
bool wa_frame_decoder_has_partial(const struct wa_frame_decoder *d);
