/* SPDX-License-Identifier: MIT */
/* mediaretry.c -- server-error receipt and mediaretry notification: build, open, parse. */
#include "wa/mediaretry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa/jid.h"
#include "wa/nodeb.h"

#define PAYLOAD_MAX (WA_MRETRY_ID_MAX + WA_MRETRY_PATH_MAX + 64)

/* ---- protobuf, the few fields these two messages have ---- */

static int put_varint(uint8_t *out, size_t cap, size_t *pos, uint64_t v)
{
    do {
        if (*pos >= cap) return -ENOBUFS;
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[(*pos)++] = b | (v ? 0x80 : 0);
    } while (v);
    return 0;
}

static int put_string(uint8_t *out, size_t cap, size_t *pos, unsigned field, const char *s)
{
    size_t n = strlen(s);
    int rc = put_varint(out, cap, pos, (uint64_t)field << 3 | 2);
    if (rc == 0) rc = put_varint(out, cap, pos, n);
    if (rc == 0 && cap - *pos < n) rc = -ENOBUFS;
    if (rc == 0) {
        memcpy(out + *pos, s, n);
        *pos += n;
    }
    return rc;
}

int wa_mretry_encode_receipt(const char *stanza_id, uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    return put_string(out, cap, len, 1, stanza_id);
}

int wa_mretry_encode_notification(const char *stanza_id, const char *direct_path, int result,
                                  uint8_t *out, size_t cap, size_t *len)
{
    *len = 0;
    int rc = put_string(out, cap, len, 1, stanza_id);
    if (rc == 0 && direct_path) rc = put_string(out, cap, len, 2, direct_path);
    if (rc == 0) rc = put_varint(out, cap, len, 3 << 3 | 0);
    if (rc == 0) rc = put_varint(out, cap, len, (uint64_t)result);
    return rc;
}

static int get_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= n) return -EPROTO;
        uint8_t b = p[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -EPROTO;
}

/* Fields 1 and 2 (strings, into s1/s2) and 3 (varint) of a message; others skipped. */
static int decode(const uint8_t *p, size_t n, char *s1, size_t c1, char *s2, size_t c2, int *f3)
{
    size_t pos = 0;
    while (pos < n) {
        uint64_t tag, v;
        if (get_varint(p, n, &pos, &tag) < 0) return -EPROTO;
        unsigned field = (unsigned)(tag >> 3), wt = tag & 7;
        if (wt == 0) {
            if (get_varint(p, n, &pos, &v) < 0) return -EPROTO;
            if (field == 3 && f3) *f3 = (int)v;
        } else if (wt == 2) {
            if (get_varint(p, n, &pos, &v) < 0 || v > n - pos) return -EPROTO;
            char *dst = field == 1 ? s1 : field == 2 ? s2 : NULL;
            size_t cap = field == 1 ? c1 : c2;
            if (dst) {
                if (v >= cap || memchr(p + pos, 0, (size_t)v)) return -EPROTO;
                memcpy(dst, p + pos, (size_t)v);
                dst[v] = '\0';
            }
            pos += (size_t)v;
        } else if (wt == 1 || wt == 5) {
            size_t k = wt == 1 ? 8 : 4;
            if (n - pos < k) return -EPROTO;
            pos += k;
        } else {
            return -EPROTO;
        }
    }
    return 0;
}

/* ---- stanzas ---- */

static int set_jid(struct wa_node *n, const char *key, const char *jid)
{
    struct wa_jid j;
    if (wa_jid_parse(&j, jid, strlen(jid)) < 0) return -EINVAL;
    return wa_node_set_attr_jid(n, key, &j);
}

static int add_encrypt(struct wa_node *parent, const uint8_t *ct, size_t n, const uint8_t *iv)
{
    struct wa_node *e = wa_nb_child(parent, "encrypt");
    if (!e) return -ENOMEM;
    int rc = wa_nb_bytes(e, "enc_p", ct, n);
    if (rc == 0) rc = wa_nb_bytes(e, "enc_iv", iv, WA_MEDIA_RETRY_IV);
    return rc;
}

static int add_rmr(struct wa_node *parent, const struct wa_mretry_key *k)
{
    struct wa_node *r = wa_nb_child(parent, "rmr");
    if (!r) return -ENOMEM;
    int rc = set_jid(r, "jid", k->chat);
    if (rc == 0) rc = wa_node_set_attr(r, "from_me", k->from_me ? "true" : "false");
    if (rc == 0 && k->participant[0]) rc = set_jid(r, "participant", k->participant);
    return rc;
}

static bool key_ok(const struct wa_mretry_key *k)
{
    return k && k->id[0] && k->chat[0];
}

int wa_mretry_request(const uint8_t media_key[WA_MEDIA_KEY_LEN], const struct wa_mretry_key *k,
                      const char *own_jid, const uint8_t iv[WA_MEDIA_RETRY_IV],
                      struct wa_node **out)
{
    if (!media_key || !key_ok(k) || !own_jid || !iv || !out) return -EINVAL;
    uint8_t plain[PAYLOAD_MAX], ct[PAYLOAD_MAX + WA_MEDIA_RETRY_TAG];
    size_t pn = 0, cn = 0;
    int rc = wa_mretry_encode_receipt(k->id, plain, sizeof(plain), &pn);
    if (rc == 0) rc = wa_media_retry_seal(media_key, k->id, iv, plain, pn, ct, sizeof(ct), &cn);
    if (rc < 0) return rc == -ENOBUFS ? -EINVAL : rc;
    struct wa_node *n = wa_node_new("receipt");
    if (!n) return -ENOMEM;
    rc = wa_node_set_attr(n, "id", k->id);
    if (rc == 0) rc = set_jid(n, "to", own_jid);
    if (rc == 0) rc = wa_node_set_attr(n, "type", "server-error");
    if (rc == 0) rc = add_encrypt(n, ct, cn, iv);
    if (rc == 0) rc = add_rmr(n, k);
    if (rc < 0) {
        wa_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* id + rmr of a receipt or notification. */
static int parse_key(const struct wa_node *n, struct wa_mretry_key *k)
{
    memset(k, 0, sizeof(*k));
    const char *id = wa_node_attr(n, "id");
    struct wa_node *rmr = wa_node_child(n, "rmr");
    struct wa_jid j;
    if (!id || !*id || strlen(id) >= sizeof(k->id) || !rmr ||
        wa_node_attr_jid(rmr, "jid", &j) < 0 || wa_jid_format(&j, k->chat, sizeof(k->chat)) < 0)
        return -EPROTO;
    snprintf(k->id, sizeof(k->id), "%s", id);
    const char *fm = wa_node_attr(rmr, "from_me");
    k->from_me = fm && strcmp(fm, "true") == 0;
    if (wa_node_attr(rmr, "participant") &&
        (wa_node_attr_jid(rmr, "participant", &j) < 0 ||
         wa_jid_format(&j, k->participant, sizeof(k->participant)) < 0))
        return -EPROTO;
    return 0;
}

/* The sealed payload of an <encrypt> child, opened: 0 and plain + *pn, -ENOENT without one. */
static int open_encrypt(const struct wa_node *n, const uint8_t *media_key, const char *id,
                        uint8_t *plain, size_t cap, size_t *pn)
{
    struct wa_node *e = wa_node_child(n, "encrypt");
    if (!e) return -ENOENT;
    size_t cl = 0, il = 0;
    const uint8_t *ct = wa_node_content_bytes(wa_node_child(e, "enc_p"), &cl);
    const uint8_t *iv = wa_node_content_bytes(wa_node_child(e, "enc_iv"), &il);
    if (!ct || !iv || il != WA_MEDIA_RETRY_IV || cl > cap + WA_MEDIA_RETRY_TAG) return -EPROTO;
    int rc = wa_media_retry_open(media_key, id, iv, ct, cl, plain, cap, pn);
    return rc == -EINVAL ? -EPROTO : rc;
}

int wa_mretry_open_request(const struct wa_node *receipt, const uint8_t *media_key,
                           struct wa_mretry_key *k)
{
    if (!receipt || !k) return -EINVAL;
    const char *type = wa_node_attr(receipt, "type");
    if (!wa_nb_is(receipt, "receipt") || !type || strcmp(type, "server-error") != 0) return -EPROTO;
    int rc = parse_key(receipt, k);
    if (rc < 0 || !media_key) return rc;
    uint8_t plain[PAYLOAD_MAX];
    size_t pn = 0;
    rc = open_encrypt(receipt, media_key, k->id, plain, sizeof(plain), &pn);
    if (rc < 0) return rc == -ENOENT ? -EPROTO : rc;
    char sid[WA_MRETRY_ID_MAX] = "";
    if (decode(plain, pn, sid, sizeof(sid), NULL, 0, NULL) < 0) return -EPROTO;
    return strcmp(sid, k->id) == 0 ? 0 : -EBADMSG;
}

int wa_mretry_notification(const uint8_t *media_key, const struct wa_mretry_key *k, const char *to,
                           int result, const char *direct_path, const uint8_t iv[WA_MEDIA_RETRY_IV],
                           struct wa_node **out)
{
    if (!key_ok(k) || !to || !out || (media_key && !iv)) return -EINVAL;
    if (result == WA_MRETRY_SUCCESS && media_key && (!direct_path || direct_path[0] != '/'))
        return -EINVAL;
    struct wa_node *n = wa_node_new("notification");
    if (!n) return -ENOMEM;
    int rc = wa_node_set_attr(n, "id", k->id);
    if (rc == 0) rc = set_jid(n, "from", "s.whatsapp.net");
    if (rc == 0) rc = set_jid(n, "to", to);
    if (rc == 0) rc = wa_node_set_attr(n, "type", "mediaretry");
    if (rc == 0 && media_key) {
        uint8_t plain[PAYLOAD_MAX], ct[PAYLOAD_MAX + WA_MEDIA_RETRY_TAG];
        size_t pn = 0, cn = 0;
        rc = wa_mretry_encode_notification(k->id, direct_path, result, plain, sizeof(plain), &pn);
        if (rc == 0) rc = wa_media_retry_seal(media_key, k->id, iv, plain, pn, ct, sizeof(ct), &cn);
        if (rc == 0) rc = add_encrypt(n, ct, cn, iv);
        if (rc == -ENOBUFS) rc = -EINVAL;
    } else if (rc == 0) {
        char code[16];
        snprintf(code, sizeof(code), "%d", result);
        struct wa_node *e = wa_nb_child(n, "error");
        rc = e ? wa_node_set_attr(e, "code", code) : -ENOMEM;
    }
    if (rc == 0) rc = add_rmr(n, k);
    if (rc < 0) {
        wa_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int wa_mretry_parse_notification(const struct wa_node *n, const uint8_t *media_key,
                                 struct wa_mretry_answer *out)
{
    if (!n || !out) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->result = -1;
    const char *type = wa_node_attr(n, "type");
    if (!wa_nb_is(n, "notification") || !type || strcmp(type, "mediaretry") != 0) return -EPROTO;
    int rc = parse_key(n, &out->key);
    if (rc < 0) return rc;
    struct wa_node *err = wa_node_child(n, "error");
    if (err) {
        out->error_code = (int)wa_nb_attr_long(err, "code", -1);
        return 0;
    }
    if (!media_key) return 0;
    uint8_t plain[PAYLOAD_MAX];
    size_t pn = 0;
    rc = open_encrypt(n, media_key, out->key.id, plain, sizeof(plain), &pn);
    if (rc < 0) return rc == -ENOENT ? -EPROTO : rc;
    char sid[WA_MRETRY_ID_MAX] = "";
    if (decode(plain, pn, sid, sizeof(sid), out->direct_path, sizeof(out->direct_path),
               &out->result) < 0)
        return -EPROTO;
    if (strcmp(sid, out->key.id) != 0) return -EBADMSG;
    out->has_payload = true;
    return 0;
}
