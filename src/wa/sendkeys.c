/* SPDX-License-Identifier: MIT */
/* sendkeys.c -- the sender's devices: targets (wire JID, key JID, Signal address), pre-key
 * bundles from `encrypt get` answers and retry receipts' <keys>, sessions from bundles, and
 * the encryption of one row for every device (1:1 and groups with sender keys). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sgstore.h"
#include "wa/send_int.h"

static int jid_dev(struct wa_jid *j, const char *user, bool lid, int dev)
{
    if (dev == 0) return wa_jid_set(j, user, lid ? WA_SERVER_LID : WA_SERVER_PN);
    return wa_jid_set_ad(j, user, lid ? WA_DOMAIN_LID : WA_DOMAIN_PN, (uint8_t)dev);
}

/* Fill a target for device `dev` of (pn, lid) users. */
int snd_target_make(struct target *t, const char *pn, const char *lid, int dev, bool own)
{
    memset(t, 0, sizeof(*t));
    t->own = own;
    int rc = jid_dev(&t->wire, pn, false, dev);
    if (rc == 0) rc = jid_dev(&t->keyjid, lid[0] ? lid : pn, lid[0] != 0, dev);
    if (rc == 0) rc = sg_address_make(&t->addr, lid[0] ? lid : pn, lid[0] ? 1 : 0, (uint32_t)dev);
    return rc;
}

static int bytes_child(const struct wa_node *n, const char *tag, uint8_t *out, size_t want,
                       bool be_int, uint32_t *val)
{
    size_t len = 0;
    const struct wa_node *c = n ? wa_node_child(n, tag) : NULL;
    const uint8_t *p = c ? wa_node_content_bytes(c, &len) : NULL;
    if (!p) return -EPROTO;
    if (be_int) {
        if (len == 0 || len > 4) return -EPROTO;
        *val = 0;
        for (size_t i = 0; i < len; i++)
            *val = (*val << 8) | p[i];
        return 0;
    }
    if (len == want + 1 && p[0] == SG_KEY_TYPE_DJB && want == SG_KEY_LEN) p++, len--;
    if (len != want) return -EPROTO;
    memcpy(out, p, want);
    return 0;
}

/* Parse identity/skey/[key] under `n` (registration from `reg_parent`). */
int snd_parse_bundle(const struct wa_node *n, const struct wa_node *reg_parent, struct sg_bundle *b)
{
    memset(b, 0, sizeof(*b));
    const struct wa_node *sk = wa_node_child(n, "skey"), *k = wa_node_child(n, "key");
    int rc = bytes_child(reg_parent, "registration", NULL, 0, true, &b->registration_id);
    if (rc == 0) rc = bytes_child(n, "identity", b->identity, SG_KEY_LEN, false, NULL);
    if (rc == 0) rc = bytes_child(sk, "id", NULL, 0, true, &b->signed_prekey_id);
    if (rc == 0) rc = bytes_child(sk, "value", b->signed_prekey, SG_KEY_LEN, false, NULL);
    if (rc == 0) rc = bytes_child(sk, "signature", b->signed_prekey_sig, SG_SIG_LEN, false, NULL);
    if (rc == 0 && k) {
        rc = bytes_child(k, "id", NULL, 0, true, &b->prekey_id);
        if (rc == 0) rc = bytes_child(k, "value", b->prekey, SG_KEY_LEN, false, NULL);
        b->has_prekey = rc == 0;
    }
    return rc;
}

static bool same_dev(const struct wa_jid *a, const struct wa_jid *b)
{
    return !strcmp(a->user, b->user) && !strcmp(a->server, b->server) && a->device == b->device;
}

/* Match <list><user jid> answers to targets; devices without a bundle get -1. */
void snd_take_bundles(const struct wa_node *resp, struct target *t, size_t n)
{
    const struct wa_node *list = wa_node_child(resp, "list");
    for (const struct wa_node *u = list ? wa_node_next_child(list, "user", NULL) : NULL; u;
         u = wa_node_next_child(list, "user", u)) {
        struct wa_jid j;
        if (wa_node_attr_jid(u, "jid", &j) < 0) continue;
        const struct wa_node *src = wa_node_child(u, "keys") ? wa_node_child(u, "keys") : u;
        for (size_t i = 0; i < n; i++) {
            if (t[i].bundle != 0 || !same_dev(&t[i].keyjid, &j)) continue;
            t[i].bundle = snd_parse_bundle(src, u, &t[i].b) == 0 ? 1 : -1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (t[i].bundle == 0) t[i].bundle = -1;
}

int snd_pad_copy(const uint8_t *p, size_t len, struct buf *out)
{
    buf_reset(out);
    int rc = buf_append(out, p, len);
    return rc == 0 ? sg_pad(out) : rc;
}

/* Encrypt `pt` (unpadded) for t; appends the ciphertext to ct. */
int snd_enc_one(struct wa_sender *s, struct target *t, const uint8_t *pt, size_t len,
                enum sg_msg_type *type, struct buf *ct)
{
    struct buf p;
    buf_init(&p, SG_MAX_MESSAGE);
    int rc = snd_pad_copy(pt, len, &p);
    if (rc == 0) rc = sg_encrypt(s->env.sg, &t->addr, p.data, p.len, type, ct);
    if (rc < 0) snd_seterr(s, "encrypt for %s: %s", t->addr.name, sg_ctx_last_error(s->env.sg));
    buf_free(&p);
    return rc;
}

int snd_self_address(struct wa_sender *s, struct sg_address *a)
{
    const char *u = s->me_lid[0] ? s->me_lid : s->me_user;
    return sg_address_make(a, u, s->me_lid[0] ? 1 : 0, (uint32_t)s->me_dev);
}

void snd_encout_free(struct encout *e)
{
    free(e->parts);
    free(e->off);
    buf_free(&e->ct);
    buf_free(&e->sk);
    buf_free(&e->skdm);
    buf_free(&e->skdmsg);
}

/* Inside the transaction: group part (SKDM memory + skmsg). */
int snd_enc_group(struct wa_sender *s, struct encout *e)
{
    struct job *j = s->job;
    struct sg_address self;
    int rc = snd_self_address(s, &self);
    if (rc == 0) rc = sg_group_create(s->env.sg, j->chat_str, &self, &e->skdm);
    if (rc == 0)
        rc = wa_send_build_skdm(j->chat_str, e->skdm.data, e->skdm.len, NULL, 0, &e->skdmsg);
    for (size_t i = 0; rc == 0 && i < j->nt; i++) {
        struct target *t = &j->t[i];
        char jt[WA_JID_STR_MAX];
        wa_jid_format(&t->wire, jt, sizeof(jt));
        if (t->bundle < 0) continue;
        int has = st_sg_skmem_has(s->env.db, j->chat_str, jt);
        if (has != 0) {
            rc = has < 0 ? has : 0;
            continue;
        }
        e->off[e->n] = e->ct.len;
        rc = snd_enc_one(s, t, e->skdmsg.data, e->skdmsg.len, &e->parts[e->n].type, &e->ct);
        if (rc == 0) rc = st_sg_skmem_put(s->env.db, j->chat_str, jt);
        if (rc == 0) e->parts[e->n++].jid = t->wire;
    }
    struct buf p;
    buf_init(&p, SG_MAX_MESSAGE);
    if (rc == 0) rc = snd_pad_copy(j->row.payload, j->row.payload_len, &p);
    if (rc == 0) rc = sg_group_encrypt(s->env.sg, j->chat_str, &self, p.data, p.len, &e->sk);
    buf_free(&p);
    if (rc < 0 && !s->err[0]) snd_seterr(s, "group encrypt: %s", sg_ctx_last_error(s->env.sg));
    return rc;
}

/* Inside the transaction: one part per device (DSM copy for our own devices). */
int snd_enc_direct(struct wa_sender *s, struct encout *e)
{
    struct job *j = s->job;
    struct buf dsm;
    buf_init(&dsm, ST_PAYLOAD_MAX);
    int rc = wa_send_build_dsm(j->chat_str, j->row.payload, j->row.payload_len, &dsm);
    size_t peers = 0;
    for (size_t i = 0; rc == 0 && i < j->nt; i++) {
        struct target *t = &j->t[i];
        if (t->bundle < 0) continue;
        e->off[e->n] = e->ct.len;
        rc = t->own ? snd_enc_one(s, t, dsm.data, dsm.len, &e->parts[e->n].type, &e->ct)
                    : snd_enc_one(s, t, j->row.payload, j->row.payload_len, &e->parts[e->n].type,
                                  &e->ct);
        if (rc == 0) e->parts[e->n++].jid = t->wire;
        peers += !t->own;
    }
    buf_free(&dsm);
    if (rc == 0 && peers == 0) {
        snd_seterr(s, "%s: %s has no usable device", j->row.msg_id, j->chat_str);
        rc = -ENXIO;
    }
    return rc;
}

int snd_build_sessions(struct wa_sender *s)
{
    struct job *j = s->job;
    for (size_t i = 0; i < j->nt; i++) {
        if (j->t[i].bundle != 1) continue;
        int rc = sg_session_from_bundle(s->env.sg, &j->t[i].addr, &j->t[i].b);
        if (rc < 0) { /* e.g. a bad signed pre-key signature: skip that device */
            snd_seterr(s, "bundle for %s: %s", j->t[i].addr.name, sg_ctx_last_error(s->env.sg));
            j->t[i].bundle = -1;
        }
    }
    return 0;
}
