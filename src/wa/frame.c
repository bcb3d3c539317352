/* SPDX-License-Identifier: MIT */
/* frame.c -- WA intro + BE24 length framing; incremental decoder with hard caps. */
#include "wa/frame.h"

#include <errno.h>
#include <string.h>

const uint8_t wa_frame_intro[WA_INTRO_LEN] = {'W', 'A', 6, 3};
static const uint8_t ed_prefix[WA_INTRO_LEN] = {'E', 'D', 0, 1};

static size_t clamp_max(size_t max_frame)
{
    if (max_frame == 0) return WA_FRAME_MAX_DEFAULT;
    return max_frame > WA_FRAME_MAX_LIMIT ? WA_FRAME_MAX_LIMIT : max_frame;
}

void wa_frame_encoder_init(struct wa_frame_encoder *e, bool client, size_t max_frame)
{
    e->intro_pending = client;
    e->max_frame = clamp_max(max_frame);
}

int wa_frame_encode(struct wa_frame_encoder *e, struct buf *out, const uint8_t *payload, size_t len)
{
    uint8_t hdr[WA_INTRO_LEN + WA_FRAME_HDR_LEN];
    size_t h = 0;
    if (len > e->max_frame) return -EMSGSIZE;
    if (e->intro_pending) {
        memcpy(hdr, wa_frame_intro, WA_INTRO_LEN);
        h = WA_INTRO_LEN;
    }
    hdr[h++] = (uint8_t)(len >> 16);
    hdr[h++] = (uint8_t)(len >> 8);
    hdr[h++] = (uint8_t)len;
    size_t old = out->len;
    int rc = buf_reserve(out, h + len);
    if (rc) return rc;
    rc = buf_append(out, hdr, h);
    if (!rc && len) rc = buf_append(out, payload, len);
    if (rc) {
        out->len = old;
        return rc;
    }
    e->intro_pending = false;
    return 0;
}

void wa_frame_decoder_init(struct wa_frame_decoder *d, bool server, size_t max_frame,
                           size_t max_routing)
{
    memset(d, 0, sizeof *d);
    d->state = server ? WA_FDEC_INTRO : WA_FDEC_HDR;
    d->max_frame = clamp_max(max_frame);
    d->max_routing = max_routing ? max_routing : WA_FRAME_ROUTING_MAX_DEFAULT;
    buf_init(&d->body, d->max_frame);
    d->last_error = "";
}

void wa_frame_decoder_free(struct wa_frame_decoder *d)
{
    buf_free(&d->body);
    d->state = WA_FDEC_ERROR;
    d->err = -EINVAL;
    d->last_error = "frame: decoder freed";
}

const char *wa_frame_decoder_error(const struct wa_frame_decoder *d)
{
    return d->last_error;
}

bool wa_frame_decoder_has_partial(const struct wa_frame_decoder *d)
{
    if (d->state == WA_FDEC_ERROR) return false;
    if (d->state == WA_FDEC_BODY || d->state == WA_FDEC_ED_SKIP) return true;
    return d->hdr_have > 0;
}

static int fail(struct wa_frame_decoder *d, int rc, const char *msg)
{
    d->state = WA_FDEC_ERROR;
    d->err = rc;
    d->last_error = msg;
    return rc;
}

/* Collect up to n header bytes; true once all n are in d->hdr. */
static bool gather(struct wa_frame_decoder *d, size_t n, const uint8_t *in, size_t len, size_t *off)
{
    size_t take = n - d->hdr_have;
    if (take > len - *off) take = len - *off;
    memcpy(d->hdr + d->hdr_have, in + *off, take);
    d->hdr_have += take;
    *off += take;
    if (d->hdr_have < n) return false;
    d->hdr_have = 0;
    return true;
}

static size_t be24(const uint8_t *p)
{
    return ((size_t)p[0] << 16) | ((size_t)p[1] << 8) | p[2];
}

/* Advance one state with the fixed-size header now in d->hdr. Returns 0 or an error. */
static int on_header(struct wa_frame_decoder *d)
{
    size_t n;
    switch (d->state) {
    case WA_FDEC_INTRO:
        if (!memcmp(d->hdr, wa_frame_intro, WA_INTRO_LEN))
            d->state = WA_FDEC_HDR;
        else if (!memcmp(d->hdr, ed_prefix, WA_INTRO_LEN))
            d->state = WA_FDEC_ED_LEN;
        else
            return fail(d, -EPROTO, "frame: bad intro header");
        return 0;
    case WA_FDEC_ED_LEN:
        n = be24(d->hdr);
        if (n > d->max_routing) return fail(d, -EMSGSIZE, "frame: routing info too long");
        d->need = n;
        d->state = n ? WA_FDEC_ED_SKIP : WA_FDEC_INTRO2;
        return 0;
    case WA_FDEC_INTRO2:
        if (memcmp(d->hdr, wa_frame_intro, WA_INTRO_LEN))
            return fail(d, -EPROTO, "frame: bad intro after routing info");
        d->state = WA_FDEC_HDR;
        return 0;
    default: /* WA_FDEC_HDR */
        n = be24(d->hdr);
        if (n > d->max_frame) return fail(d, -EMSGSIZE, "frame: frame exceeds size cap");
        if (buf_reserve(&d->body, n)) return fail(d, -ENOMEM, "frame: out of memory");
        d->need = n;
        d->state = WA_FDEC_BODY;
        return 0;
    }
}

static size_t header_len(enum wa_frame_dec_state s)
{
    return (s == WA_FDEC_ED_LEN || s == WA_FDEC_HDR) ? WA_FRAME_HDR_LEN : WA_INTRO_LEN;
}

int wa_frame_decode(struct wa_frame_decoder *d, const uint8_t *in, size_t len, size_t *consumed,
                    const uint8_t **frame, size_t *frame_len)
{
    static const uint8_t empty[1];
    size_t off = 0;
    int rc = 0;
    *consumed = 0;
    if (d->frame_ready) {
        buf_reset(&d->body);
        d->frame_ready = false;
    }
    while (d->state != WA_FDEC_ERROR) {
        if (d->state == WA_FDEC_BODY) {
            size_t take = d->need < len - off ? d->need : len - off;
            if (take && buf_append(&d->body, in + off, take)) {
                rc = fail(d, -ENOMEM, "frame: out of memory");
                break;
            }
            off += take;
            d->need -= take;
            if (d->need) break;
            d->state = WA_FDEC_HDR;
            d->frame_ready = true;
            *frame = d->body.data ? d->body.data : empty;
            *frame_len = d->body.len;
            rc = 1;
            break;
        }
        if (d->state == WA_FDEC_ED_SKIP) {
            size_t take = d->need < len - off ? d->need : len - off;
            off += take;
            d->need -= take;
            if (d->need) break;
            d->state = WA_FDEC_INTRO2;
            continue;
        }
        if (!gather(d, header_len(d->state), in, len, &off)) break;
        rc = on_header(d);
        if (rc) break;
    }
    if (d->state == WA_FDEC_ERROR) rc = d->err;
    *consumed = off;
    return rc;
}
