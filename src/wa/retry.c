/* SPDX-License-Identifier: MIT */
/* retry.c -- retry receipts (wa-protocol.md §7.7), both directions.
 *
 * Receiving: a message we cannot decrypt is answered with <receipt type='retry'> (count,
 * registration id, from count 2 our <keys>), counted per receiver; the fifth is the last and
 * drops the session. Sending: a peer's retry receipt for one of our messages is answered by
 * re-encrypting the retry-buffer copy for that one device (see wa_sender_handle in send.h);
 * that half is at the end of this file and works on the sender's private state.
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

/* ---------------------------------------------------------------- receiving: counts */

/* The slot of key; with create, a new one (the least recently used) when absent. NULL when
 * absent, or out of memory. The table is allocated at the first failure: a receiver that
 * never saw one costs nothing and scans nothing. */
static struct retry_slot *retry_find(struct wa_receiver *rcv, const char *key, bool create)
{
    if (!rcv->slots &&
        (!create || !(rcv->slots = calloc(WA_RECV_RETRY_SLOTS, sizeof(*rcv->slots)))))
        return NULL;
    struct retry_slot *old = &rcv->slots[0];
    for (size_t i = 0; i < WA_RECV_RETRY_SLOTS; i++) {
        struct retry_slot *s = &rcv->slots[i];
        if (s->count && strcmp(s->key, key) == 0) return s;
        if (s->seq < old->seq) old = s;
    }
    if (!create) return NULL;
    memset(old, 0, sizeof(*old));
    snprintf(old->key, sizeof(old->key), "%s", key);
    old->seq = ++rcv->seq;
    return old;
}

/* ---------------------------------------------------------------- receiving: receipts */

/* A fresh one-time pre-key in the retry range, committed to the store. */
static int retry_prekey(const struct wa_recv_env *env, struct sg_prekey *pk)
{
    signal_context *sig = sg_ctx_signal(env->sg);
    const struct sg_store *st = sg_ctx_store(env->sg);
    uint32_t span = SG_PREKEY_ID_MAX - WA_RECV_PREKEY_BASE, id = 0;
    for (int i = 0; i < 16 && !id; i++) {
        uint32_t r;
        struct sg_prekey tmp;
        if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) return -EIO;
        uint32_t cand = WA_RECV_PREKEY_BASE + r % span;
        int rc = sg_store_get_prekey(sig, st, cand, &tmp);
        OPENSSL_cleanse(&tmp, sizeof(tmp));
        if (rc < 0 && rc != -EPROTO) return rc;
        if (rc == 0) id = cand;
    }
    if (!id) return -ENOSPC;
    int rc = sg_prekeys_generate(sig, id, 1, pk, NULL);
    if (rc == 0) rc = st_db_begin(env->db);
    if (rc < 0) return rc;
    rc = sg_store_put_prekeys(sig, st, pk, 1);
    if (rc == 0) return st_db_commit(env->db);
    st_db_rollback(env->db);
    return rc;
}

static int add_keys(const struct wa_recv_env *env, struct wa_node *r)
{
    const struct wa_creds *c = env->creds;
    struct sg_prekey pk = {0};
    uint8_t b[3], t = SG_KEY_TYPE_DJB;
    int rc = retry_prekey(env, &pk);
    struct wa_node *keys = rc == 0 ? wa_nb_child(r, "keys") : NULL;
    if (rc == 0 && !keys) rc = -ENOMEM;
    if (rc == 0) rc = wa_nb_bytes(keys, "type", &t, 1);
    if (rc == 0) rc = wa_nb_bytes(keys, "identity", c->identity.pub, 32);
    struct wa_node *k = rc == 0 ? wa_nb_child(keys, "key") : NULL;
    if (rc == 0 && !k) rc = -ENOMEM;
    be_put(b, pk.id, 3);
    if (rc == 0) rc = wa_nb_bytes(k, "id", b, 3);
    if (rc == 0) rc = wa_nb_bytes(k, "value", pk.kp.pub, 32);
    struct wa_node *sk = rc == 0 ? wa_nb_child(keys, "skey") : NULL;
    if (rc == 0 && !sk) rc = -ENOMEM;
    be_put(b, c->signed_prekey_id, 3);
    if (rc == 0) rc = wa_nb_bytes(sk, "id", b, 3);
    if (rc == 0) rc = wa_nb_bytes(sk, "value", c->signed_prekey.pub, 32);
    if (rc == 0) rc = wa_nb_bytes(sk, "signature", c->signed_prekey_sig, 64);
    if (rc == 0 && c->account_len)
        rc = wa_nb_bytes(keys, "device-identity", c->account, c->account_len);
    OPENSSL_cleanse(&pk, sizeof(pk));
    return rc;
}

static struct wa_node *retry_node(struct mctx *m, unsigned count, bool keys, int *err)
{
    struct wa_node *r = wa_nb_reply("receipt", m->n, true);
    char cnt[12];
    snprintf(cnt, sizeof(cnt), "%u", count);
    int rc = r ? wa_node_set_attr(r, "type", "retry") : -ENOMEM;
    if (rc == 0 && m->peer) rc = wa_node_set_attr(r, "category", "peer");
    struct wa_node *rt = rc == 0 ? wa_nb_child(r, "retry") : NULL;
    if (rc == 0 && !rt) rc = -ENOMEM;
    const char *t = wa_node_attr(m->n, "t");
    if (rc == 0) rc = wa_node_set_attr(rt, "count", cnt);
    if (rc == 0) rc = wa_node_set_attr(rt, "id", m->id);
    if (rc == 0) rc = wa_node_set_attr(rt, "t", t ? t : "0");
    if (rc == 0) rc = wa_node_set_attr(rt, "v", "1");
    uint8_t reg[4];
    be_put(reg, m->env->creds ? m->env->creds->registration_id : 0, 4);
    if (rc == 0) rc = wa_nb_bytes(r, "registration", reg, 4);
    if (rc == 0 && (count > 1 || keys) && m->env->creds) rc = add_keys(m->env, r);
    if (rc < 0) {
        wa_node_free(r);
        r = NULL;
    }
    *err = rc;
    return r;
}

/* The peer's resend carries <enc count=k>: resume at k + 1. */
static unsigned enc_count(const struct wa_node *n)
{
    unsigned best = 0;
    for (const struct wa_node *e = wa_node_next_child(n, "enc", NULL); e;
         e = wa_node_next_child(n, "enc", e)) {
        const char *c = wa_node_attr(e, "count");
        long v = c ? strtol(c, NULL, 10) : 0;
        if (v > 0 && v <= 100 && (unsigned)v > best) best = (unsigned)v;
    }
    return best;
}

static void report(struct mctx *m, int why, unsigned count, bool gave_up)
{
    const struct wa_recv_env *env = m->env;
    if (!env->on_undecryptable) return;
    char chat[WA_JID_STR_MAX];
    if (m->group)
        snprintf(chat, sizeof(chat), "%s", m->gid);
    else
        wa_jid_format_bare(&m->from, chat, sizeof(chat));
    struct wa_undecryptable u = {.id = m->id,
                                 .from = m->devjid,
                                 .chat = chat,
                                 .reason = sg_strerror(why),
                                 .count = count,
                                 .gave_up = gave_up};
    env->on_undecryptable(env->ud, &u);
}

static void key_of(const struct mctx *m, char *key, size_t len)
{
    snprintf(key, len, "%s|%s", m->devjid, m->id);
}

void rx_retry_forget(struct mctx *m)
{
    char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2];
    key_of(m, key, sizeof(key));
    struct retry_slot *s = retry_find(m->rcv, key, false);
    if (s) memset(s, 0, sizeof(*s));
}

int rx_retry_failure(struct mctx *m, int why, bool force_keys)
{
    struct wa_receiver *rcv = m->rcv;
    char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2];
    key_of(m, key, sizeof(key));
    struct retry_slot *s = retry_find(rcv, key, true);
    if (!s) return -ENOMEM; /* not acked: the server redelivers */
    unsigned count = s->count + 1, ec = enc_count(m->n) + 1;
    if (ec > count) count = ec;
    s->seq = ++rcv->seq;
    log_debug("wa", NULL, "recv: %s from %s undecryptable (%s), retry %u", m->id, m->devjid,
              sg_strerror(why), count);
    bool gave_up = false;
    if (count <= WA_RECV_MAX_RETRY) {
        int rc = 0;
        struct wa_node *r = retry_node(m, count, force_keys, &rc);
        if (!r) return rc; /* the pre-key could not be stored: no ack, redelivery tries again */
        s->count = count;
        rc = rx_send_owned(m->env, r);
        if (rc == 0) rcv->stats.retries_sent++;
        if (count == WA_RECV_MAX_RETRY) {
            (void)sg_delete_session(m->env->sg, &m->addr); /* design "Session repair" 2 */
            rcv->stats.gave_up++;
            gave_up = true;
            log_debug("wa", NULL, "recv: giving up on %s from %s; session dropped", m->id,
                      m->devjid);
        }
    } else {
        s->count = count;
    }
    (void)rx_send_ack(m->env, m->n, "message", false, NULL);
    report(m, why, count, gave_up);
    return 1;
}

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
    ++*cnt;
    const struct wa_node *keys = wa_node_child(n, "keys");
    if (keys) {
        rr->t.bundle = snd_parse_bundle(keys, n, &rr->t.b) == 0 ? 1 : 0;
        if (!rr->t.bundle) snd_seterr(s, "retry %s: unparseable <keys>", id);
    }
    if (rr->t.bundle == 1 || sg_has_session(s->env.sg, &rr->t.addr) == 1) {
        retry_finish(s, rr);
        return 1;
    }
    struct wa_node *iq = snd_keys_iq(s, &rr->t, 1, false);
    if (!iq || snd_send_iq(s, iq, OP_RETRY_KEYS, rr) < 0) snd_retry_free(rr);
    return 1;
}
