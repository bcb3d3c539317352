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

int wa_send_normalize_to(const char *to, char *out, size_t outlen, char *err, size_t errlen)
{
    if (!to || !*to) return errf(err, errlen, "empty destination");
    const char *p = to[0] == '+' ? to + 1 : to;
    size_t n = strlen(p);
    if (!strchr(to, '@')) {
        if (n < 5 || n > 20 || !all_digits(p, n))
            return errf(err, errlen, "'%s' is not a phone number (5-20 digits, optional +)", to);
        if ((size_t)snprintf(out, outlen, "%s@%s", p, WA_SERVER_PN) >= outlen)
            return errf(err, errlen, "destination too long");
        return 0;
    }
    struct wa_jid j;
    if (wa_jid_parse(&j, to, strlen(to)) < 0) return errf(err, errlen, "'%s' is not a JID", to);
    bool pn = !strcmp(j.server, WA_SERVER_PN) || !strcmp(j.server, WA_SERVER_LEGACY_PN);
    if (j.form != WA_JID_FORM_PAIR)
        return errf(err, errlen, "'%s' names a device; send to the user or group", to);
    if (pn && all_digits(j.user, strlen(j.user)) && strlen(j.user) >= 5 && strlen(j.user) <= 20) {
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
