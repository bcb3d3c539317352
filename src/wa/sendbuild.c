/* SPDX-License-Identifier: MIT */
/* sendbuild.c -- the send path's pure builders: ids, destinations, Message bytes, stanzas. */
#include "wa/sendbuild.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "wa.pb-c.h"
#include "wa/nodeb.h"

int wa_send_msg_id(const char *user, int64_t now, char *out, size_t outlen)
{
    if (!user || outlen < WA_SEND_MSGID_LEN + 1) return -EINVAL;
    size_t ul = strlen(user);
    if (ul > 128) return -EINVAL;
    uint8_t in[8 + 128 + 5 + 16], md[SHA256_DIGEST_LENGTH];
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
    memcpy(in + 8, user, ul);
    memcpy(in + 8 + ul, "@c.us", 5);
    if (RAND_bytes(in + 13 + ul, 16) != 1) return -EIO;
    SHA256(in, 8 + ul + 5 + 16, md);
    static const char hx[] = "0123456789ABCDEF";
    memcpy(out, "3EB0", 4);
    for (int i = 0; i < 9; i++) {
        out[4 + 2 * i] = hx[md[i] >> 4];
        out[5 + 2 * i] = hx[md[i] & 15];
    }
    out[WA_SEND_MSGID_LEN] = 0;
    return 0;
}

static int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return n > 0;
}

/* A phone number as people write it -> E.164 digits in out (country code first), or -EINVAL
 * with the reason. Accepted: an optional '+' or the international prefix "00", then digits
 * with spaces, '-', '.', '(' and ')' between them. */
static int norm_phone(const char *to, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *p = to;
    bool plus = *p == '+';
    if (plus) p++;
    char d[32];
    size_t n = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n + 1 >= sizeof d) return errf(err, errlen, "'%s': too many digits", to);
            d[n++] = *p;
        } else if (!strchr(" -.()", *p) || n == 0) {
            return errf(err, errlen, "'%s' is not a phone number (E.164: +<country code><number>)",
                        to);
        }
    }
    d[n] = '\0';
    const char *num = d;
    if (!plus && n > 2 && d[0] == '0' && d[1] == '0') num += 2; /* 00: international prefix */
    size_t k = strlen(num);
    if (num[0] == '0')
        return errf(err, errlen,
                    "'%s' starts with 0: give the number in international form, with its country "
                    "code (E.164: +<country code><number>)",
                    to);
    if (k < WA_SEND_PHONE_MIN || k > WA_SEND_PHONE_MAX)
        return errf(err, errlen, "'%s' is not a phone number (E.164: %d to %d digits, got %zu)", to,
                    WA_SEND_PHONE_MIN, WA_SEND_PHONE_MAX, k);
    if ((size_t)snprintf(out, outlen, "%s", num) >= outlen)
        return errf(err, errlen, "destination too long");
    return 0;
}

int wa_send_normalize_to(const char *to, char *out, size_t outlen, char *err, size_t errlen)
{
    if (!to || !*to) return errf(err, errlen, "empty destination");
    if (!strchr(to, '@')) {
        char num[32];
        int rc = norm_phone(to, num, sizeof num, err, errlen);
        if (rc < 0) return rc;
        if ((size_t)snprintf(out, outlen, "%s@%s", num, WA_SERVER_PN) >= outlen)
            return errf(err, errlen, "destination too long");
        return 0;
    }
    struct wa_jid j;
    if (wa_jid_parse(&j, to, strlen(to)) < 0) return errf(err, errlen, "'%s' is not a JID", to);
    bool pn = !strcmp(j.server, WA_SERVER_PN) || !strcmp(j.server, WA_SERVER_LEGACY_PN);
    if (j.form != WA_JID_FORM_PAIR)
        return errf(err, errlen, "'%s' names a device; send to the user or group", to);
    size_t ul = strlen(j.user);
    if (pn && all_digits(j.user, ul) && j.user[0] != '0' && ul >= WA_SEND_PHONE_MIN &&
        ul <= WA_SEND_PHONE_MAX) {
        if ((size_t)snprintf(out, outlen, "%s@%s", j.user, WA_SERVER_PN) >= outlen)
            return errf(err, errlen, "destination too long");
        return 0;
    }
    if (!strcmp(j.server, WA_SERVER_GROUP) && j.user[0]) {
        if ((size_t)snprintf(out, outlen, "%s@%s", j.user, WA_SERVER_GROUP) >= outlen)
            return errf(err, errlen, "destination too long");
        return 0;
    }
    return errf(err, errlen, "'%s': only phone numbers, PN JIDs and group JIDs are supported", to);
}

static const char *step_meaning(enum wa_send_step step, long code)
{
    if (step == WA_SEND_STEP_GROUP && code == 404) return "no such group";
    if (step == WA_SEND_STEP_GROUP && (code == 403 || code == 401))
        return "not a member of this group";
    if (step == WA_SEND_STEP_USYNC && code == 404) return "no such number";
    if (step == WA_SEND_STEP_KEYS && code == 404) return "no usable device (no pre-keys)";
    return NULL;
}

bool wa_send_iq_error(const struct wa_node *resp, enum wa_send_step step, char *why, size_t len)
{
    static const char *const what[] = {"group query", "device query", "pre-key query"};
    const struct wa_node *e = resp ? wa_node_child(resp, "error") : NULL;
    const char *cs = e ? wa_node_attr(e, "code") : NULL, *text = e ? wa_node_attr(e, "text") : NULL;
    char *end = NULL;
    long code = cs ? strtol(cs, &end, 10) : 0;
    if (!cs || *end) code = 0;
    bool perm = code == 400 || code == 401 || code == 403 || code == 404 || code == 405 ||
                code == 406 || code == 410;
    const char *m = step_meaning(step, code);
    const char *w = (unsigned)step < 3 ? what[step] : "query";
    if (m)
        snprintf(why, len, "%s (%ld %s)", m, code, text ? text : "");
    else if (perm)
        snprintf(why, len, "the server refused the %s (%ld %s)", w, code, text ? text : "");
    else if (code)
        snprintf(why, len, "%s: server error %ld %s", w, code, text ? text : "");
    else
        snprintf(why, len, "%s: iq error", w);
    return perm;
}

static int pack_msg(const Wa__Message *m, struct buf *out)
{
    size_t n = wa__message__get_packed_size(m);
    int rc = buf_reserve(out, n);
    if (rc < 0) return rc;
    wa__message__pack(m, out->data + out->len);
    out->len += n;
    return 0;
}

int wa_send_build_text(const char *text, struct buf *out)
{
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = (char *)text;
    return pack_msg(&m, out);
}

int wa_send_ctx_fill(const struct wa_send_ctx *ctx, Wa__ContextInfo *ci)
{
    if (!ctx || (!ctx->quoted && !ctx->n_mentions)) return 0;
    if (ctx->quoted) {
        ci->quotedmessage = wa__message__unpack(NULL, ctx->quoted_len, ctx->quoted);
        if (!ci->quotedmessage) return -EBADMSG;
        ci->stanzaid = (char *)ctx->stanza_id;
        ci->participant = (char *)ctx->participant;
    }
    ci->mentionedjid = (char **)ctx->mentions;
    ci->n_mentionedjid = ctx->n_mentions;
    return 1;
}

void wa_send_ctx_release(Wa__ContextInfo *ci)
{
    if (ci && ci->quotedmessage) wa__message__free_unpacked(ci->quotedmessage, NULL);
    if (ci) ci->quotedmessage = NULL;
}

int wa_send_build_rich(const char *text, const struct wa_send_ctx *ctx, struct buf *out)
{
    Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT;
    int rc = wa_send_ctx_fill(ctx, &ci);
    if (rc <= 0) return rc < 0 ? rc : wa_send_build_text(text, out);
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__ExtendedTextMessage et = WA__EXTENDED_TEXT_MESSAGE__INIT;
    et.text = (char *)text;
    et.contextinfo = &ci;
    m.extendedtextmessage = &et;
    rc = pack_msg(&m, out);
    wa_send_ctx_release(&ci);
    return rc;
}

static void fill_key(Wa__MessageKey *key, const struct wa_send_key *k)
{
    wa__message_key__init(key);
    key->remotejid = (char *)k->chat;
    key->has_fromme = 1;
    key->fromme = k->from_me;
    key->id = (char *)k->id;
    key->participant = (char *)k->participant;
}

int wa_send_build_reaction(const struct wa_send_key *k, const char *emoji, int64_t ts_ms,
                           struct buf *out)
{
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__ReactionMessage r = WA__REACTION_MESSAGE__INIT;
    Wa__MessageKey key;
    fill_key(&key, k);
    r.key = &key;
    r.text = (char *)(emoji ? emoji : "");
    r.has_sendertimestampms = 1;
    r.sendertimestampms = ts_ms;
    m.reactionmessage = &r;
    return pack_msg(&m, out);
}

int wa_send_build_amend(const struct wa_send_key *k, const char *text, int64_t ts_ms,
                        struct buf *out)
{
    Wa__Message m = WA__MESSAGE__INIT, edited = WA__MESSAGE__INIT;
    Wa__ProtocolMessage p = WA__PROTOCOL_MESSAGE__INIT;
    Wa__MessageKey key;
    fill_key(&key, k);
    p.key = &key;
    p.has_type = 1;
    if (text) {
        p.type = WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
        edited.conversation = (char *)text;
        p.editedmessage = &edited;
        p.has_timestampms = 1;
        p.timestampms = ts_ms;
    } else {
        p.type = WA__PROTOCOL_MESSAGE__TYPE__REVOKE;
    }
    m.protocolmessage = &p;
    return pack_msg(&m, out);
}

/* The enc nodes' mediatype of a media Message (Baileys' getMediaType), or NULL. */
static const char *media_type_name(const Wa__Message *m)
{
    if (m->imagemessage) return "image";
    if (m->videomessage) return m->videomessage->gifplayback ? "gif" : "video";
    if (m->audiomessage) return m->audiomessage->ptt ? "ptt" : "audio";
    if (m->contactmessage) return "vcard";
    if (m->documentmessage) return "document";
    if (m->contactsarraymessage) return "contact_array";
    if (m->stickermessage) return "sticker";
    return NULL;
}

/* mediatype=name on every enc under n (the stanza's own and those under participants/to). */
static int set_enc_mediatype(struct wa_node *n, const char *name)
{
    size_t k = wa_node_child_count(n);
    for (size_t i = 0; i < k; i++) {
        struct wa_node *c = wa_node_child_at(n, i);
        int rc = strcmp(c->tag.s, "enc") == 0 ? wa_node_set_attr(c, "mediatype", name)
                                              : set_enc_mediatype(c, name);
        if (rc < 0) return rc;
    }
    return 0;
}

int wa_send_set_kind_attrs(struct wa_node *n, const uint8_t *pb, size_t len)
{
    Wa__Message *m = pb ? wa__message__unpack(NULL, len, pb) : NULL;
    if (!m) return 0;
    int rc = 0;
    const Wa__ProtocolMessage *p = m->protocolmessage;
    const char *media = media_type_name(m);
    if (m->reactionmessage)
        rc = wa_node_set_attr(n, "type", "reaction");
    else if (media && (rc = wa_node_set_attr(n, "type", "media")) == 0)
        rc = set_enc_mediatype(n, media);
    if (rc == 0 && p && p->has_type && p->type == WA__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT)
        rc = wa_node_set_attr(n, "edit", "1");
    else if (rc == 0 && p && p->has_type && p->type == WA__PROTOCOL_MESSAGE__TYPE__REVOKE)
        rc = wa_node_set_attr(n, "edit", "7");
    wa__message__free_unpacked(m, NULL);
    return rc < 0 ? -ENOMEM : 0;
}

struct wa_node *wa_send_build_chatstate(const struct wa_jid *to, const char *state)
{
    bool rec = state && strcmp(state, "recording") == 0;
    const char *tag = rec || (state && strcmp(state, "composing") == 0) ? "composing"
                      : state && strcmp(state, "paused") == 0           ? "paused"
                                                                        : NULL;
    if (!tag) return NULL;
    struct wa_node *n = wa_node_new("chatstate");
    struct wa_node *c = n && wa_node_set_attr_jid(n, "to", to) == 0 ? wa_nb_child(n, tag) : NULL;
    if (!c || (rec && wa_node_set_attr(c, "media", "audio") < 0)) {
        wa_node_free(n);
        return NULL;
    }
    return n;
}

struct wa_node *wa_send_build_read(const char *id, const struct wa_jid *chat,
                                   const struct wa_jid *participant, int64_t now)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)now);
    struct wa_node *n = wa_node_new("receipt");
    bool ok = n && wa_node_set_attr(n, "id", id) == 0 && wa_node_set_attr_jid(n, "to", chat) == 0 &&
              wa_node_set_attr(n, "type", "read") == 0 && wa_node_set_attr(n, "t", t) == 0 &&
              (!participant || wa_node_set_attr_jid(n, "participant", participant) == 0);
    if (!ok) {
        wa_node_free(n);
        return NULL;
    }
    return n;
}

int wa_send_build_dsm(const char *dest, const uint8_t *msg, size_t len, struct buf *out)
{
    Wa__Message *inner = wa__message__unpack(NULL, len, msg);
    if (!inner) return -EBADMSG;
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__DeviceSentMessage d = WA__DEVICE_SENT_MESSAGE__INIT;
    d.destinationjid = (char *)dest;
    d.message = inner;
    m.devicesentmessage = &d;
    m.messagecontextinfo = inner->messagecontextinfo;
    int rc = pack_msg(&m, out);
    wa__message__free_unpacked(inner, NULL);
    return rc;
}

int wa_send_build_skdm(const char *group, const uint8_t *skdm, size_t skdm_len, const uint8_t *msg,
                       size_t len, struct buf *out)
{
    Wa__Message empty = WA__MESSAGE__INIT;
    Wa__Message *m = msg ? wa__message__unpack(NULL, len, msg) : &empty;
    if (!m) return -EBADMSG;
    Wa__SenderKeyDistributionMessage sk = WA__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    Wa__SenderKeyDistributionMessage *old = m->senderkeydistributionmessage;
    sk.groupid = (char *)group;
    sk.has_axolotlsenderkeydistributionmessage = 1;
    sk.axolotlsenderkeydistributionmessage.data = (uint8_t *)skdm;
    sk.axolotlsenderkeydistributionmessage.len = skdm_len;
    m->senderkeydistributionmessage = &sk;
    int rc = pack_msg(m, out);
    m->senderkeydistributionmessage = old;
    if (m != &empty) wa__message__free_unpacked(m, NULL);
    return rc;
}

struct wa_node *wa_send_add_enc(struct wa_node *parent, enum sg_msg_type t, const uint8_t *ct,
                                size_t len)
{
    struct wa_node *e = wa_nb_child(parent, "enc");
    if (!e || wa_node_set_attr(e, "v", "2") < 0 ||
        wa_node_set_attr(e, "type", sg_msg_type_name(t)) < 0 || wa_node_set_bytes(e, ct, len) < 0)
        return NULL;
    return e;
}

struct wa_node *wa_send_build_stanza(const char *id, const struct wa_jid *to,
                                     const struct wa_send_part *parts, size_t nparts,
                                     const uint8_t *sk, size_t sklen, const uint8_t *account,
                                     size_t account_len)
{
    struct wa_node *m = wa_node_new("message");
    bool pk = false, ok = m && wa_node_set_attr(m, "id", id) == 0 &&
                          wa_node_set_attr_jid(m, "to", to) == 0 &&
                          wa_node_set_attr(m, "type", "text") == 0;
    struct wa_node *ps = ok && nparts ? wa_nb_child(m, "participants") : NULL;
    if (nparts && !ps) ok = false;
    for (size_t i = 0; ok && i < nparts; i++) {
        struct wa_node *t = wa_nb_child(ps, "to");
        ok = t && wa_node_set_attr_jid(t, "jid", &parts[i].jid) == 0 &&
             wa_send_add_enc(t, parts[i].type, parts[i].ct, parts[i].len);
        pk |= parts[i].type == SG_PKMSG;
    }
    if (ok && sk) ok = wa_send_add_enc(m, SG_SKMSG, sk, sklen) != NULL;
    if (ok && pk && account && account_len) {
        struct wa_node *di = wa_nb_child(m, "device-identity");
        ok = di && wa_node_set_bytes(di, account, account_len) == 0;
    }
    if (!ok) {
        wa_node_free(m);
        return NULL;
    }
    return m;
}
