/* SPDX-License-Identifier: MIT */
/* msg.c -- decode and classify the Message protobuf of a received plaintext. */
#include "wa/msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

#define TOO_DEEP  (-2)
#define NOT_A_MSG (-1)

static int varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned sh = 0; sh < 64 && *i < len; sh += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Deepest nesting below p (0 = no nested message), NOT_A_MSG, or TOO_DEEP. */
static int scan(const uint8_t *p, size_t len, unsigned depth, unsigned max)
{
    if (depth > max) return TOO_DEEP;
    int best = 0;
    size_t i = 0;
    while (i < len) {
        uint64_t key = 0, v = 0;
        if (varint(p, len, &i, &key) < 0 || (key >> 3) == 0) return NOT_A_MSG;
        switch (key & 7) {
        case 0:
            if (varint(p, len, &i, &v) < 0) return NOT_A_MSG;
            break;
        case 1:
            if (len - i < 8) return NOT_A_MSG;
            i += 8;
            break;
        case 5:
            if (len - i < 4) return NOT_A_MSG;
            i += 4;
            break;
        case 2: {
            if (varint(p, len, &i, &v) < 0 || v > len - i) return NOT_A_MSG;
            int d = scan(p + i, (size_t)v, depth + 1, max);
            if (d == TOO_DEEP) return TOO_DEEP;
            if (d >= 0 && d + 1 > best) best = d + 1;
            i += (size_t)v;
            break;
        }
        default:
            return NOT_A_MSG;
        }
    }
    return best;
}

int wa_msg_check_depth(const uint8_t *p, size_t len, unsigned max_depth)
{
    return scan(p, len, 0, max_depth) == TOO_DEEP ? -EMSGSIZE : 0;
}

static const Wa__Message *unwrap(const Wa__Message *m)
{
    for (int i = 0; m && i < WA_MSG_MAX_DEPTH; i++) {
        const Wa__FutureProofMessage *w[] = {m->ephemeralmessage, m->viewoncemessage,
                                             m->viewoncemessagev2, m->documentwithcaptionmessage,
                                             m->editedmessage};
        const Wa__Message *next = NULL;
        for (size_t k = 0; k < sizeof(w) / sizeof(w[0]) && !next; k++)
            if (w[k] && w[k]->message) next = w[k]->message;
        if (!next) return m;
        m = next;
    }
    return m;
}

/* The text, valid UTF-8 from here on (the raw bytes kept when they differ). */
static int take_text(struct wa_msg_info *mi, const char *t)
{
    size_t n = strlen(t);
    char *fixed = NULL;
    int r = utf8_repair(t, n, &fixed, &mi->text_len);
    if (r < 0) return r;
    mi->type = "text";
    mi->text = fixed;
    mi->text_repaired = r;
    if (r > 0) {
        mi->text_raw = t;
        mi->text_raw_len = n;
    }
    return 0;
}

/* The contextInfo of a media / location / contact message (their captions mention too). */
static const Wa__ContextInfo *other_context(const Wa__Message *c)
{
    return c->imagemessage      ? c->imagemessage->contextinfo
           : c->videomessage    ? c->videomessage->contextinfo
           : c->audiomessage    ? c->audiomessage->contextinfo
           : c->documentmessage ? c->documentmessage->contextinfo
           : c->stickermessage  ? c->stickermessage->contextinfo
           : c->locationmessage ? c->locationmessage->contextinfo
           : c->contactmessage  ? c->contactmessage->contextinfo
                                : NULL;
}

static int classify(struct wa_msg_info *mi, const Wa__Message *c)
{
    int rc = 0;
    if (c->conversation) {
        rc = take_text(mi, c->conversation);
    } else if (c->extendedtextmessage && c->extendedtextmessage->text) {
        rc = take_text(mi, c->extendedtextmessage->text);
        const Wa__ContextInfo *ci = c->extendedtextmessage->contextinfo;
        if (ci && ci->n_mentionedjid) {
            mi->mentions = ci->mentionedjid;
            mi->n_mentions = ci->n_mentionedjid;
        }
    } else if (c->reactionmessage) {
        mi->type = "reaction";
    } else if (c->protocolmessage) {
        mi->type = "protocol";
    } else {
        /* Anything else with fields we do not model (media, polls, ...): kept raw. Unknown
         * fields are the only sign of such content. */
        bool other = c->base.n_unknown_fields > 0 || c->extendedtextmessage || c->imagemessage ||
                     c->videomessage || c->audiomessage || c->documentmessage ||
                     c->stickermessage || c->locationmessage || c->contactmessage ||
                     c->contactsarraymessage || c->ptvmessage;
        mi->type = other ? "other" : NULL;
        const Wa__ContextInfo *ci = other_context(c);
        if (ci && ci->n_mentionedjid) {
            mi->mentions = ci->mentionedjid;
            mi->n_mentions = ci->n_mentionedjid;
        }
    }
    mi->content = mi->type ? c : NULL;
    return rc;
}

int wa_msg_decode(const uint8_t *p, size_t len, struct wa_msg_info *out)
{
    memset(out, 0, sizeof(*out));
    if (len > WA_MSG_MAX) return -EMSGSIZE;
    if (wa_msg_check_depth(p, len, WA_MSG_MAX_DEPTH) < 0) return -EMSGSIZE;
    Wa__Message *m = wa__message__unpack(NULL, len, p);
    if (!m) return -EBADMSG;
    out->msg = m;
    const Wa__SenderKeyDistributionMessage *sk = m->senderkeydistributionmessage;
    if (sk && sk->groupid && *sk->groupid && sk->has_axolotlsenderkeydistributionmessage) {
        out->skdm_group = sk->groupid;
        out->skdm = sk->axolotlsenderkeydistributionmessage.data;
        out->skdm_len = sk->axolotlsenderkeydistributionmessage.len;
    }
    const Wa__Message *c = m;
    if (m->devicesentmessage) {
        out->dest_jid = m->devicesentmessage->destinationjid;
        c = m->devicesentmessage->message;
    }
    c = unwrap(c);
    int rc = c ? classify(out, c) : 0;
    if (rc < 0) wa_msg_info_free(out);
    return rc;
}

void wa_msg_info_free(struct wa_msg_info *mi)
{
    if (!mi) return;
    if (mi->msg) wa__message__free_unpacked(mi->msg, NULL);
    free((char *)mi->text);
    memset(mi, 0, sizeof(*mi));
}
