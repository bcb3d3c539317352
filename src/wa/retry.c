/* SPDX-License-Identifier: MIT */
/* retry.c -- answering peers' retry receipts for our messages (wa-protocol.md §7.7).
 *
 * A peer's retry receipt for one of our messages is answered by re-encrypting the
 * retry-buffer copy for that one device (see wa_sender_handle in send.h), on a session built
 * from the receipt's <keys> when it carries them, or on a fresh session from the peer's server
 * bundle when our session is likely older than the peer's (retry_fresh below). Works on the
 * sender's private state. The receiving direction (our own retry receipts and the repair
 * ladder) is wa/recv_repair.c.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/be.h"
#include "core/log.h"
#include "signal/sg_keys.h"
#include "signal/sg_store.h"
#include "wa/nodeb.h"
#include "wa/recv_int.h"
#include "wa/send_int.h"
#include "store/sgstore.h"

/* ---------------------------------------------------------------- sending: answers */

void snd_retry_free(struct retry_req *rr)
{
    if (!rr) return;
    free(rr->payload);
    free(rr);
}

/* Plaintext for the retried device: DSM for our own, SKDM + message for a group. */
static int retry_plaintext(struct wa_sender *s, struct retry_req *rr, struct buf *out)
{
    if (rr->group) {
        struct sg_address self;
        struct buf skdm;
        buf_init(&skdm, SG_MAX_MESSAGE);
        int rc = snd_self_address(s, &self);
        if (rc == 0) rc = sg_group_create(s->env.sg, rr->to, &self, &skdm);
        if (rc == 0)
            rc = wa_send_build_skdm(rr->to, skdm.data, skdm.len, rr->payload, rr->len, out);
        buf_free(&skdm);
        return rc;
    }
    if (rr->t.own) return wa_send_build_dsm(rr->to, rr->payload, rr->len, out);
    return buf_append(out, rr->payload, rr->len);
}

static struct wa_node *retry_stanza(struct wa_sender *s, struct retry_req *rr,
                                    enum sg_msg_type type, const struct buf *ct)
{
    struct wa_send_part p = {.jid = rr->t.wire, .type = type, .ct = ct->data, .len = ct->len};
    struct wa_jid chat;
    struct wa_node *m = NULL;
    if (rr->group && wa_jid_parse(&chat, rr->to, strlen(rr->to)) == 0)
        m = wa_send_build_stanza(rr->msg_id, &chat, &p, 1, NULL, 0, s->env.creds->account,
                                 s->env.creds->account_len);
    else if (!rr->group)
        m = wa_send_build_stanza(rr->msg_id, &rr->t.wire, NULL, 0, NULL, 0, NULL, 0);
    if (!m) return NULL;
    struct wa_node *enc = NULL;
    if (rr->group) {
        struct wa_node *ps = wa_node_child(m, "participants");
        enc = wa_node_child(wa_node_child(ps, "to"), "enc");
    } else {
        enc = wa_send_add_enc(m, type, ct->data, ct->len);
        if (enc && type == SG_PKMSG) {
            struct wa_node *di = wa_nb_child(m, "device-identity");
            if (!di || wa_node_set_bytes(di, s->env.creds->account, s->env.creds->account_len))
                enc = NULL;
        }
        if (enc && wa_node_set_attr(m, "device_fanout", "false") < 0) enc = NULL;
    }
    if (!enc || wa_node_set_attr(enc, "count", rr->count) < 0) {
        wa_node_free(m);
        return NULL;
    }
    return m;
}

/* BEGIN; [session from the receipt's keys]; encrypt for that device; COMMIT; send. */
static void retry_finish(struct wa_sender *s, struct retry_req *rr)
{
    struct buf pt, ct;
    buf_init(&pt, ST_PAYLOAD_MAX);
    buf_init(&ct, SG_MAX_MESSAGE);
    enum sg_msg_type type = SG_MSG;
    snd_load_me(s);
    int rc = st_db_begin(s->env.db);
    if (rc == 0) {
        if (rr->t.bundle == 1) rc = sg_session_from_bundle(s->env.sg, &rr->t.addr, &rr->t.b);
        if (rc == 0) rc = retry_plaintext(s, rr, &pt);
        if (rc == 0) rc = snd_enc_one(s, &rr->t, pt.data, pt.len, &type, &ct);
        if (rc == 0 && rr->group) {
            char jt[WA_JID_STR_MAX];
            wa_jid_format(&rr->t.wire, jt, sizeof(jt));
            rc = st_sg_skmem_put(s->env.db, rr->to, jt);
        }
        if (rc == 0)
            rc = st_db_commit(s->env.db);
        else
            st_db_rollback(s->env.db);
    }
    struct wa_node *m = rc == 0 ? retry_stanza(s, rr, type, &ct) : NULL;
    if (m && snd_send_frame(s, m) < 0) rc = -ENOTCONN;
    if (rc < 0 || !m)
        snd_seterr(s, "retry %s for %s: %d %s", rr->msg_id, rr->t.addr.name, rc, s->err);
    wa_node_free(m);
    buf_free(&pt);
    buf_free(&ct);
    snd_retry_free(rr);
}

void snd_retry_keys_done(struct wa_sender *s, struct retry_req *rr, int status,
                         const struct wa_node *resp)
{
    if (status == 0) snd_take_bundles(resp, &rr->t, 1);
    if (status == 0 && rr->t.bundle == 1)
        retry_finish(s, rr);
    else {
        snd_seterr(s, "retry %s: no keys for %s (%d)", rr->msg_id, rr->t.addr.name, status);
        snd_retry_free(rr);
    }
}

/* Fill rr->t for the device that sent the receipt. */
static int retry_target(struct wa_sender *s, struct retry_req *rr, const struct wa_jid *dev)
{
    char pn[WA_USYNC_USER_MAX] = "", lid[WA_USYNC_USER_MAX] = "";
    if (wa_jid_is_lid(dev)) {
        snprintf(lid, sizeof(lid), "%s", dev->user);
        if (st_lid_get_pn(s->env.db, lid, pn, sizeof(pn)) != 1) return -ENOENT;
    } else if (wa_jid_is_pn(dev)) {
        snprintf(pn, sizeof(pn), "%s", dev->user);
        if (st_lid_get_lid(s->env.db, pn, lid, sizeof(lid)) != 1) lid[0] = 0;
    } else {
        return -EINVAL;
    }
    return snd_target_make(&rr->t, pn, lid, dev->device, strcmp(pn, s->me_user) == 0);
}

/* The user part of a JID string ("user[:device]@server"), into out. */
static void jid_user_of(const char *jid, char *out, size_t cap)
{
    size_t n = strcspn(jid, ":@");
    if (n >= cap) n = cap - 1;
    memcpy(out, jid, n);
    out[n] = 0;
}

/* 1 when a message from the user of t (PN or LID form) is under repair (our decryption of
 * that peer is failing now), else 0. */
static int peer_failing(struct wa_sender *s, const struct target *t)
{
    enum { N = 64 };
    struct st_undec *v = calloc(N, sizeof(*v));
    size_t n = 0;
    int hit = 0;
    if (!v || st_undec_list(s->env.db, v, N, &n) < 0) n = 0;
    for (size_t i = 0; i < n && !hit; i++) {
        char u[ST_UNDEC_JID_MAX];
        jid_user_of(v[i].device, u, sizeof(u));
        hit = strcmp(u, t->wire.user) == 0 || (t->keyjid.user[0] && strcmp(u, t->keyjid.user) == 0);
    }
    free(v);
    return hit;
}

/* Without <keys>: answer on a fresh session from the peer's server bundle (the stale-session
 * rule, docs/internals/retry-receipts.md) when we have no session, when the receipt's count is
 * 2 or more or we answered this message for this device before (our answer on the current
 * session did not decrypt), or when our decryption of that peer's messages is failing. */
static bool retry_fresh(struct wa_sender *s, const struct retry_req *rr, int answered)
{
    if (sg_has_session(s->env.sg, &rr->t.addr) != 1) return true;
    if (strtol(rr->count, NULL, 10) >= 2 || answered >= 1) return true;
    return peer_failing(s, &rr->t) == 1;
}

int snd_handle_retry(struct wa_sender *s, const struct wa_node *n)
{
    const char *id = wa_node_attr(n, "id");
    struct wa_jid from, dev;
    if (!id || strlen(id) > ST_MSGID_MAX || wa_node_attr_jid(n, "from", &from) < 0) return 0;
    bool group = wa_jid_is_group(&from);
    if (group ? wa_node_attr_jid(n, "participant", &dev) < 0 : (dev = from, 0)) return 0;
    struct retry_req *rr = calloc(1, sizeof(*rr));
    if (!rr) return 1;
    int rc = st_retry_get(s->env.db, id, rr->to, sizeof(rr->to), &rr->payload, &rr->len);
    if (rc != 1) { /* not a message of ours (or expired): not handled here */
        snd_retry_free(rr);
        return 0;
    }
    char key[sizeof(s->retries[0].key)], dj[WA_JID_STR_MAX];
    wa_jid_format(&dev, dj, sizeof(dj));
    snprintf(key, sizeof(key), "%s %s", id, dj);
    int *cnt = snd_counter(s->retries, &s->retries_next, key);
    const struct wa_node *rt = wa_node_child(n, "retry");
    const char *count = rt ? wa_node_attr(rt, "count") : NULL;
    snprintf(rr->msg_id, sizeof(rr->msg_id), "%s", id);
    snprintf(rr->count, sizeof(rr->count), "%s", count ? count : "1");
    rr->group = group;
    rr->from = from;
    snd_load_me(s);
    if (*cnt >= WA_SEND_RETRY_MAX || retry_target(s, rr, &dev) < 0) {
        snd_seterr(s, "retry %s from %s: %s", id, dj,
                   *cnt >= WA_SEND_RETRY_MAX ? "answered too often" : "unknown device");
        snd_retry_free(rr);
        return 1;
    }
    int answered = (*cnt)++;
    const struct wa_node *keys = wa_node_child(n, "keys");
    if (keys) {
        rr->t.bundle = snd_parse_bundle(keys, n, &rr->t.b) == 0 ? 1 : 0;
        if (!rr->t.bundle) snd_seterr(s, "retry %s: unparseable <keys>", id);
    }
    if (rr->t.bundle == 1 || !retry_fresh(s, rr, answered)) {
        retry_finish(s, rr);
        return 1;
    }
    struct wa_node *iq = snd_keys_iq(s, &rr->t, 1, false);
    if (!iq || snd_send_iq(s, iq, OP_RETRY_KEYS, rr) < 0) snd_retry_free(rr);
    return 1;
}
