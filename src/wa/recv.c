/* SPDX-License-Identifier: MIT */
/* recv.c -- the receive path: decrypt in one transaction with the inbox row, then receipt. */
#include "wa/recv.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "signal/sg_keys.h"
#include "signal/sg_store.h"
#include "wa/msg.h"
#include "wa/nodeb.h"
#include "wa/recv_int.h"

/* ---------------------------------------------------------------- the receiver */

int wa_receiver_new(const struct wa_recv_env *env, struct wa_receiver **out)
{
    *out = NULL;
    if (!env || !env->db || !env->sg) return -EINVAL;
    struct wa_receiver *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->env = *env;
    r->loop = env->loop ? env->loop : env->client ? wa_client_loop(env->client) : NULL;
    int rc = rx_retry_resume(r);
    if (rc < 0) {
        wa_receiver_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void wa_receiver_free(struct wa_receiver *r)
{
    if (r) rx_retry_free(r);
    free(r);
}

void wa_recv_get_stats(const struct wa_receiver *r, struct wa_recv_stats *out)
{
    *out = r->stats;
}

void wa_recv_reset_retries(struct wa_receiver *r)
{
    rx_retry_free(r);
}

/* ---------------------------------------------------------------- replies */

static int send_node(const struct wa_recv_env *env, const struct wa_node *n)
{
    if (env->send_node) return env->send_node(env->ud, n);
    return env->client ? wa_client_send_node(env->client, n) : -ENOTCONN;
}

int rx_send_owned(const struct wa_recv_env *env, struct wa_node *r)
{
    int rc = r ? send_node(env, r) : -ENOMEM;
    wa_node_free(r);
    return rc;
}

/* <ack id to class [participant] [type] [error]> */
int rx_send_ack(const struct wa_recv_env *env, const struct wa_node *n, const char *cls,
                bool copy_type, const char *error)
{
    struct wa_node *a = wa_nb_ack(n, cls, copy_type, error);
    return a ? rx_send_owned(env, a) : -ENOMEM;
}

static int send_receipt(struct mctx *m)
{
    struct wa_node *r = wa_nb_reply("receipt", m->n, true);
    const char *type = m->peer ? "peer_msg" : m->own ? "sender" : "inactive";
    int rc = r ? wa_node_set_attr(r, "type", type) : -ENOMEM;
    if (rc < 0) {
        wa_node_free(r);
        return rc;
    }
    return rx_send_owned(m->env, r);
}

/* ---------------------------------------------------------------- resolution (§7.1) */

static bool user_is(const struct wa_jid *j, const char *creds_jid)
{
    struct wa_jid me;
    if (!creds_jid || !*creds_jid || wa_jid_parse(&me, creds_jid, strlen(creds_jid)) < 0)
        return false;
    return wa_jid_same_user(j, &me);
}

static void own_users(struct mctx *m)
{
    struct wa_jid me;
    const struct wa_creds *c = m->env->creds;
    if (c && wa_jid_parse(&me, c->me_pn, strlen(c->me_pn)) == 0)
        snprintf(m->pn_user, sizeof(m->pn_user), "%s", me.user);
    if (c && wa_jid_parse(&me, c->me_lid, strlen(c->me_lid)) == 0)
        snprintf(m->lid_user, sizeof(m->lid_user), "%s", me.user);
}

/* Fill lid_user / pn_user from the alt attribute or the store. */
static int resolve_alt(struct mctx *m, const char *pn_attr, const char *lid_attr)
{
    struct wa_jid alt;
    bool lid = wa_jid_is_lid(&m->dev), pn = wa_jid_is_pn(&m->dev);
    if (lid) snprintf(m->lid_user, sizeof(m->lid_user), "%s", m->dev.user);
    if (pn) snprintf(m->pn_user, sizeof(m->pn_user), "%s", m->dev.user);
    if (lid && !*m->pn_user && wa_node_attr_jid(m->n, pn_attr, &alt) == 0 && wa_jid_is_pn(&alt))
        snprintf(m->pn_user, sizeof(m->pn_user), "%s", alt.user);
    if (pn && !*m->lid_user && wa_node_attr_jid(m->n, lid_attr, &alt) == 0 && wa_jid_is_lid(&alt))
        snprintf(m->lid_user, sizeof(m->lid_user), "%s", alt.user);
    int rc = 0;
    if (lid && !*m->pn_user)
        rc = st_lid_get_pn(m->env->db, m->lid_user, m->pn_user, WA_JID_USER_MAX);
    if (pn && !*m->lid_user)
        rc = st_lid_get_lid(m->env->db, m->pn_user, m->lid_user, WA_JID_USER_MAX);
    if (rc == -ENOBUFS) rc = 0;
    return rc < 0 ? rc : 0;
}

/* 0, -EBADMSG (malformed stanza: nack), -ENOTSUP (nothing to decrypt: plain ack), or a store
 * error. */
static int resolve(struct mctx *m)
{
    const struct wa_node *n = m->n;
    enum wa_jid_kind k = wa_jid_kind(&m->from);
    m->group = k == WA_JID_KIND_GROUP || k == WA_JID_KIND_BROADCAST;
    const char *cat = wa_node_attr(n, "category");
    m->peer = cat && strcmp(cat, "peer") == 0;
    const char *t = wa_node_attr(n, "t");
    m->ts = t ? strtoll(t, NULL, 10) : 0;
    if (m->group) {
        if (wa_node_attr_jid(n, "participant", &m->dev) < 0) return -EBADMSG;
        if (wa_jid_format_bare(&m->from, m->gid, sizeof(m->gid)) < 0) return -EBADMSG;
    } else if (k == WA_JID_KIND_PN || k == WA_JID_KIND_LID) {
        m->dev = m->from;
    } else {
        return -ENOTSUP; /* newsletter, server, bots, ...: no Signal content for us */
    }
    if (!wa_jid_is_pn(&m->dev) && !wa_jid_is_lid(&m->dev)) return -ENOTSUP;
    m->own = user_is(&m->dev, m->env->creds ? m->env->creds->me_pn : NULL) ||
             user_is(&m->dev, m->env->creds ? m->env->creds->me_lid : NULL);
    m->has_recipient = m->own && !m->group && wa_node_attr(n, "recipient");
    if (m->own) own_users(m);
    int rc = m->group ? resolve_alt(m, "participant_pn", "participant_lid")
                      : resolve_alt(m, "sender_pn", "sender_lid");
    if (rc < 0) return rc;
    if (wa_jid_format(&m->dev, m->devjid, sizeof(m->devjid)) < 0) return -EBADMSG;
    if (*m->lid_user)
        return sg_address_make(&m->addr, m->lid_user, 1, m->dev.device) < 0 ? -EBADMSG : 0;
    return sg_address_make(&m->addr, m->dev.user, wa_jid_domain_type(&m->dev), m->dev.device) < 0
               ? -EBADMSG
               : 0;
}

/* ---------------------------------------------------------------- transaction body */

static bool local_error(int rc)
{
    switch (rc) {
    case SG_E_NO_SESSION:
    case SG_E_BAD_MAC:
    case SG_E_DUPLICATE:
    case SG_E_NO_PREKEY:
    case SG_E_UNTRUSTED:
    case SG_E_MALFORMED:
    case SG_E_TOO_BIG:
    case -EINVAL:
        return false;
    default:
        return true;
    }
}

/* Store LID<->PN pairs; copy a PN session to the LID address the first time. */
static int learn_lid(struct mctx *m)
{
    if (!*m->lid_user || !*m->pn_user || m->own) return 0;
    int rc = st_lid_put(m->env->db, m->lid_user, m->pn_user);
    if (rc == -EINVAL) return 0; /* a pair the store refuses: decrypt anyway, learn nothing */
    if (rc < 0) return rc;
    struct sg_address pn;
    if (sg_address_make(&pn, m->pn_user, 0, m->dev.device) < 0) return 0;
    if (sg_has_session(m->env->sg, &m->addr) != 0 || sg_has_session(m->env->sg, &pn) != 1) return 0;
    const struct sg_store *st = sg_ctx_store(m->env->sg);
    signal_protocol_address a = {pn.name, pn.name_len, pn.device};
    signal_protocol_address b = {m->addr.name, m->addr.name_len, m->addr.device};
    signal_buffer *rec = NULL;
    rc = st->ops->load_session(st->ud, &a, &rec);
    if (rc == 1 && rec)
        rc = st->ops->store_session(st->ud, &b, signal_buffer_data(rec), signal_buffer_len(rec));
    if (rec) signal_buffer_bzero_free(rec);
    return rc < 0 ? rc : 0;
}

static int decrypt_one(struct mctx *m, enum sg_msg_type type, const uint8_t *ct, size_t len,
                       struct buf *pt)
{
    if (type == SG_SKMSG)
        return m->group ? sg_group_decrypt(m->env->sg, m->gid, &m->addr, ct, len, pt)
                        : SG_E_MALFORMED;
    int rc = sg_decrypt(m->env->sg, &m->addr, type, ct, len, pt);
    if (rc == SG_E_UNTRUSTED) { /* as whatsmeow: forget identity and session, try once more */
        signal_protocol_address a = {m->addr.name, m->addr.name_len, m->addr.device};
        const struct sg_store *st = sg_ctx_store(m->env->sg);
        int r2 = st->ops->save_identity(st->ud, &a, NULL);
        if (r2 >= 0) r2 = sg_delete_session(m->env->sg, &m->addr);
        if (r2 < 0) return r2;
        rc = sg_decrypt(m->env->sg, &m->addr, type, ct, len, pt);
    }
    return rc;
}

void rx_kind_free(struct rx *x)
{
    if (!x->kind) return;
    free(x->kind->meta);
    free(x->kind->edit_text);
    OPENSSL_cleanse(x->kind, sizeof(*x->kind));
    free(x->kind);
    x->kind = NULL;
}

static void copy32(uint8_t *dst, const uint8_t *src, const uint8_t **ref)
{
    if (!src) return;
    memcpy(dst, src, 32);
    *ref = dst;
}

/* Copy what st_media_put needs out of the Message (which goes away before the insert). */
static void keep_media(struct rx_kind *k, const struct st_media_ref *r)
{
    k->has_media = true;
    k->media = (struct st_media_ref){
        .kind = r->kind, .file_length = r->file_length, .media_key_ts = r->media_key_ts};
    snprintf(k->mimetype, sizeof k->mimetype, "%s", r->mimetype ? r->mimetype : "");
    snprintf(k->direct_path, sizeof k->direct_path, "%s", r->direct_path ? r->direct_path : "");
    snprintf(k->url, sizeof k->url, "%s", r->url ? r->url : "");
    k->media.mimetype = k->mimetype;
    k->media.direct_path = k->direct_path;
    k->media.url = k->url;
    copy32(k->key, r->media_key, &k->media.media_key);
    copy32(k->sha, r->sha256, &k->media.sha256);
    copy32(k->enc, r->enc_sha256, &k->media.enc_sha256);
}

/* The kind and metadata of the content (wa/msgmeta.h): x->type and x->kind. */
static int take_kind(struct rx *x, const Wa__Message *content)
{
    struct wa_msgmeta mm;
    int rc = wa_msgmeta_build(content, &mm);
    if (rc < 0) return rc;
    rx_kind_free(x);
    x->type = wa_inmsg_kind_name(mm.kind);
    if (mm.meta || mm.has_media || mm.target) {
        x->kind = calloc(1, sizeof(*x->kind));
        if (!x->kind) {
            wa_msgmeta_free(&mm);
            return -ENOMEM;
        }
        x->kind->meta = mm.meta;
        x->kind->edit_text = mm.edit_text;
        mm.meta = mm.edit_text = NULL;
        if (mm.target) snprintf(x->kind->target, sizeof x->kind->target, "%s", mm.target);
        if (mm.has_media) keep_media(x->kind, &mm.media);
    }
    wa_msgmeta_free(&mm);
    return 0;
}

/* Take the content of one decrypted Message (and process its SKDM). */
static int absorb(struct mctx *m, struct rx *x, const uint8_t *p, size_t len)
{
    struct wa_msg_info mi;
    int rc = wa_msg_decode(p, len, &mi);
    if (rc == -ENOMEM) return rc;
    if (rc < 0) return SG_E_MALFORMED;
    if (mi.skdm_group && strlen(mi.skdm_group) <= SG_GROUP_MAX) {
        rc = sg_group_process_skdm(m->env->sg, mi.skdm_group, &m->addr, mi.skdm, mi.skdm_len);
        if (rc < 0 && !local_error(rc)) rc = 0; /* a bad SKDM: the skmsg will fail on its own */
    }
    if (rc == 0 && m->own && m->peer) { /* our phone's answer to a placeholder resend? */
        rc = rx_phone_response(m, mi.content, x);
        if (rc == 1) {
            wa_msg_info_free(&mi);
            return 0;
        }
    }
    if (rc == 0 && mi.type) {
        buf_reset(&x->content);
        x->type = mi.type;
        x->any_content = true;
        rc = take_kind(x, mi.content);
        buf_reset(&x->raw);
        if (rc < 0)
            ;
        else if (mi.text)
            rc = buf_append(&x->content, mi.text, mi.text_len);
        else
            rc = buf_append(&x->content, p, len);
        if (rc == 0 && mi.text_raw) rc = buf_append(&x->raw, mi.text_raw, mi.text_raw_len);
        x->nmention = 0;
        for (size_t i = 0; i < mi.n_mentions && x->nmention < WA_INMSG_MENTIONS_MAX; i++)
            if (mi.mentions[i] && strlen(mi.mentions[i]) < WA_JID_STR_MAX) {
                snprintf(x->mention[x->nmention], WA_JID_STR_MAX, "%s", mi.mentions[i]);
                x->mention_p[x->nmention] = x->mention[x->nmention];
                x->nmention++;
            }
        if (rc == -ENOBUFS) rc = SG_E_TOO_BIG;
        x->dest[0] = 0;
        if (mi.dest_jid && strlen(mi.dest_jid) < sizeof(x->dest))
            snprintf(x->dest, sizeof(x->dest), "%s", mi.dest_jid);
    }
    wa_msg_info_free(&mi);
    return rc;
}

static int process_enc(struct mctx *m, struct rx *x, const struct wa_node *e)
{
    enum sg_msg_type type;
    size_t len = 0;
    const uint8_t *ct = wa_node_content_bytes(e, &len);
    if (sg_msg_type_parse(wa_node_attr(e, "type"), &type) < 0) return 0; /* msmsg, ...: skip */
    if (type != SG_SKMSG) x->one_to_one = true;
    if (!ct || len == 0) return SG_E_MALFORMED;
    uint8_t h[32];
    st_ciphertext_hash(ct, len, h);
    int rc = st_processed_check(m->env->db, h, NULL, 0);
    if (rc != 0) return rc < 0 ? rc : 0; /* committed earlier with its message */
    struct buf pt;
    buf_init(&pt, WA_MSG_MAX + 32);
    rc = decrypt_one(m, type, ct, len, &pt);
    if (rc == -ENOBUFS) rc = SG_E_TOO_BIG;
    /* whatsmeow: no sender key and nobody sent it to us 1:1 -> the sender must rebuild */
    if (rc == SG_E_NO_SESSION && type == SG_SKMSG && !x->one_to_one) x->force_keys = true;
    size_t plen = 0;
    if (rc == 0 && sg_unpad(pt.data, pt.len, &plen) < 0) rc = SG_E_MALFORMED;
    if (rc == 0) rc = absorb(m, x, pt.data, plen);
    if (rc == 0) rc = st_processed_put(m->env->db, h, m->id);
    if (rc == ST_DUPLICATE) rc = 0;
    OPENSSL_cleanse(pt.data, pt.len);
    buf_free(&pt);
    return rc;
}

/* Inbox chat / sender names: PN preferred. */
void rx_names(const struct mctx *m, const char *dest, char *chat, char *sender)
{
    if (*m->pn_user)
        snprintf(sender, WA_JID_STR_MAX, "%s@%s", m->pn_user, WA_SERVER_PN);
    else
        wa_jid_format_bare(&m->dev, sender, WA_JID_STR_MAX);
    if (m->group) {
        snprintf(chat, WA_JID_STR_MAX, "%s", m->gid);
    } else if (m->has_recipient) {
        struct wa_jid r;
        if (dest && *dest)
            snprintf(chat, WA_JID_STR_MAX, "%s", dest);
        else if (wa_node_attr_jid(m->n, "recipient", &r) == 0)
            wa_jid_format_bare(&r, chat, WA_JID_STR_MAX);
        else
            snprintf(chat, WA_JID_STR_MAX, "%s", sender);
    } else {
        snprintf(chat, WA_JID_STR_MAX, "%s", sender);
    }
}

/* The kind-specific part of a new row: its metadata, its media reference, and what an edit
 * or a revoke does to its target (the same chat and sender; a target we do not have is no
 * error: the edit/revoke row itself still tells the agent). */
static int store_kind(struct mctx *m, struct rx *x, int64_t cursor)
{
    const struct rx_kind *k = x->kind;
    char cbuf[WA_JID_STR_MAX], sbuf[WA_JID_STR_MAX];
    rx_names(m, x->dest, cbuf, sbuf);
    const char *chat = x->ovr ? x->ovr->u.chat : cbuf, *sender = x->ovr ? x->ovr->u.sender : sbuf;
    /* within its caps the JSON can still exceed the column's (16 vCards of control
     * characters, escaped): never a reason to refuse the message */
    const char *meta =
        k->meta && strlen(k->meta) > ST_META_MAX ? "{\"meta_truncated\":true}" : k->meta;
    int rc = meta ? st_inbox_set_meta(m->env->db, cursor, meta) : 0;
    if (rc == 0 && k->has_media) rc = st_media_put(m->env->db, cursor, &k->media);
    if (rc == 0 && *k->target && k->edit_text)
        rc = st_inbox_edit(m->env->db, chat, sender, k->target, k->edit_text, m->ts);
    else if (rc == 0 && *k->target)
        rc = st_inbox_revoke(m->env->db, chat, sender, k->target, m->ts);
    return rc < 0 ? rc : 0;
}

/* Everything between BEGIN and COMMIT. Returns 0 (x says what happened) or a local error. */
static int txn_body(struct mctx *m, struct rx *x, int64_t *cursor, bool *inserted)
{
    int rc = learn_lid(m);
    for (const struct wa_node *e = wa_node_next_child(m->n, "enc", NULL); rc == 0 && e;
         e = wa_node_next_child(m->n, "enc", e)) {
        int r = process_enc(m, x, e);
        if (r == SG_E_DUPLICATE) {
            x->dup = true;
        } else if (r < 0 && !local_error(r)) {
            x->peer_err = r;
            return 0;
        } else {
            rc = r;
        }
    }
    if (rc < 0 || x->dup || !x->any_content) return rc;
    char chat[WA_JID_STR_MAX], sender[WA_JID_STR_MAX];
    rx_names(m, x->dest, chat, sender);
    if (x->ovr) { /* the message our phone re-sent replaces its undecryptable row */
        const struct st_undec *u = &x->ovr->u;
        rc = st_inbox_insert(m->env->db, u->chat, u->sender, u->msg_id, u->ts, x->type,
                             x->content.data, x->content.len, cursor);
        int d = rc >= 0 ? st_undec_del(m->env->db, u->device, u->msg_id) : 0;
        if (d < 0) return d;
    } else {
        rc = st_inbox_insert(m->env->db, chat, sender, m->id, m->ts, x->type, x->content.data,
                             x->content.len, cursor);
    }
    if (rc == 0 && x->raw.len) rc = st_inbox_set_raw(m->env->db, *cursor, x->raw.data, x->raw.len);
    if (rc == 0 && x->kind) rc = store_kind(m, x, *cursor);
    if (rc == 0) *inserted = true;
    return rc == ST_DUPLICATE ? 0 : rc;
}

/* ---------------------------------------------------------------- <message> */

static int check_caps(const struct wa_node *n)
{
    size_t nenc = 0;
    for (size_t i = 0; i < wa_node_child_count(n); i++) {
        const struct wa_node *c = wa_node_child_at(n, i);
        if (strcmp(c->tag.s, "enc") != 0) continue;
        size_t len = 0;
        wa_node_content_bytes(c, &len);
        if (++nenc > WA_RECV_MAX_ENC || len > WA_RECV_MAX_CT) return -EMSGSIZE;
    }
    return (int)nenc;
}

/* All ciphertexts already recorded: a redelivery of a committed message. */
static int all_processed(struct mctx *m)
{
    int seen = 0;
    for (const struct wa_node *e = wa_node_next_child(m->n, "enc", NULL); e;
         e = wa_node_next_child(m->n, "enc", e)) {
        size_t len = 0;
        const uint8_t *ct = wa_node_content_bytes(e, &len);
        if (!ct || !len) return 0;
        uint8_t h[32];
        st_ciphertext_hash(ct, len, h);
        int rc = st_processed_check(m->env->db, h, NULL, 0);
        if (rc <= 0) return rc;
        seen++;
    }
    return seen > 0;
}

static void deliver(struct mctx *m, struct rx *x, int64_t cursor)
{
    if (!m->env->on_message) return;
    char chat[WA_JID_STR_MAX], sender[WA_JID_STR_MAX];
    rx_names(m, x->dest, chat, sender);
    const struct st_undec *u = x->ovr ? &x->ovr->u : NULL;
    struct wa_inmsg im = {
        .cursor = cursor,
        .chat = u ? u->chat : chat,
        .sender = u ? u->sender : sender,
        .id = u ? u->msg_id : m->id,
        .kind = wa_inmsg_kind_parse(x->type),
        .ts = u ? u->ts : m->ts,
        .received = time(NULL),
        .meta = x->kind ? x->kind->meta : NULL,
    };
    if (im.kind == WA_IN_TEXT) {
        im.text = (const char *)x->content.data;
        im.text_len = x->content.len;
        im.text_raw = x->raw.len ? x->raw.data : NULL;
        im.text_raw_len = x->raw.len;
    } else {
        im.raw = x->content.data;
        im.raw_len = x->content.len;
    }
    im.mentions = x->nmention ? x->mention_p : NULL; /* a text's or a caption's */
    im.n_mentions = x->nmention;
    m->env->on_message(m->env->ud, &im);
}

static int run_message(struct mctx *m)
{
    if (m->rcv->held) return -EAGAIN;
    int rc = all_processed(m);
    if (rc < 0) return rc;
    if (rc > 0) {
        m->rcv->stats.redelivered++;
        (void)send_receipt(m);
        return 1;
    }
    struct rx x = {0};
    buf_init(&x.content, ST_PAYLOAD_MAX);
    buf_init(&x.raw, ST_PAYLOAD_MAX);
    int64_t cursor = 0;
    bool inserted = false;
    rc = st_db_begin(m->env->db);
    if (rc == 0) rc = txn_body(m, &x, &cursor, &inserted);
    if (rc == 0 && !x.peer_err && !x.dup) {
        rc = st_db_commit(m->env->db);
    } else {
        st_db_rollback(m->env->db);
        inserted = false;
    }
    if (rc < 0) m->rcv->held = true;
    if (rc == 0 && x.peer_err) {
        rc = rx_retry_failure(m, x.peer_err, x.force_keys);
    } else if (rc == 0) {
        rx_retry_forget(m);
        if (inserted) rx_retry_note_ok(m->rcv);
        if (x.dup) m->rcv->stats.redelivered++;
        if (inserted) m->rcv->stats.stored++;
        (void)send_receipt(m);
        if (inserted) deliver(m, &x, cursor);
        if (x.ovr) rx_phone_recovered(m->rcv, x.ovr);
        rc = 1;
    }
    OPENSSL_cleanse(x.content.data, x.content.len);
    buf_free(&x.content);
    OPENSSL_cleanse(x.raw.data, x.raw.len);
    buf_free(&x.raw);
    rx_kind_free(&x);
    return rc;
}

/* Checks and resolution before the transaction: 0 = ready for run_message (m filled), else
 * the stanza was dealt with here and the result (1 or a local error) is returned. */
static int prepare_message(struct mctx *m, struct wa_receiver *rcv, const struct wa_node *n)
{
    const struct wa_recv_env *env = &rcv->env;
    *m = (struct mctx){.rcv = rcv, .env = env, .n = n, .id = wa_node_attr(n, "id")};
    if (!m->id || wa_node_attr_jid(n, "from", &m->from) < 0) return 1; /* cannot even ack */
    if (!*m->id || strlen(m->id) >= ST_MSGID_MAX) {
        (void)rx_send_ack(env, n, "message", false, NACK_PARSE);
        return 1;
    }
    int nenc = check_caps(n);
    int rc = nenc < 0 ? nenc : resolve(m);
    if (rc == -ENOTSUP || (rc == 0 && nenc == 0)) { /* unavailable / plaintext / nothing */
        (void)rx_send_ack(env, n, "message", false, NULL);
        return 1;
    }
    if (rc == -EBADMSG || rc == -EMSGSIZE || rc == -EINVAL) {
        (void)rx_send_ack(env, n, "message", false, NACK_PARSE);
        return 1;
    }
    return rc;
}

static int handle_message(struct wa_receiver *rcv, const struct wa_node *n)
{
    struct mctx m;
    if (rcv->held) return -EAGAIN;
    int rc = prepare_message(&m, rcv, n);
    return rc != 0 ? rc : run_message(&m);
}

/* ---------------------------------------------------------------- group commit */

struct bitem {
    struct mctx m;
    struct rx x;
    int64_t cursor;
    bool inserted, redelivery;
};

/* Every candidate's body in the open transaction. 0 = all clean; 1 = one needs the single
 * path (a peer failure or a libsignal duplicate); < 0 = a local error. */
static int batch_body(struct bitem *it, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        int rc = all_processed(&it[i].m);
        if (rc < 0) return rc;
        if (rc > 0) {
            it[i].redelivery = true;
            continue;
        }
        rc = txn_body(&it[i].m, &it[i].x, &it[i].cursor, &it[i].inserted);
        if (rc < 0) return rc;
        if (it[i].x.peer_err || it[i].x.dup) return 1;
    }
    return 0;
}

/* After COMMIT: every receipt, then every delivery. */
static void batch_ack_deliver(struct bitem *it, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        struct mctx *m = &it[i].m;
        rx_retry_forget(m);
        if (it[i].inserted) rx_retry_note_ok(m->rcv);
        if (it[i].redelivery) m->rcv->stats.redelivered++;
        if (it[i].inserted) m->rcv->stats.stored++;
        (void)send_receipt(m);
    }
    for (size_t i = 0; i < k; i++) {
        if (it[i].inserted) deliver(&it[i].m, &it[i].x, it[i].cursor);
        if (it[i].x.ovr) rx_phone_recovered(it[i].m.rcv, it[i].x.ovr);
    }
}

/* The batch's candidates: k messages (it, stanza indexes idx) and nr receipts (rc_, ridx). */
struct batch {
    struct wa_receiver *rcv;
    const struct wa_recv_env *env;
    struct bitem *it;
    size_t k, idx[WA_RECV_BATCH_MAX];
    struct rcpt *r;
    size_t nr, ridx[WA_RECV_BATCH_MAX];
    struct wa_recv_txn_hook *hook;
};

static int batch_receipts(struct batch *b)
{
    for (size_t i = 0; i < b->nr; i++) {
        int rc = rx_rcpt_apply(b->env, &b->r[i]);
        if (rc < 0) return rc;
    }
    return 0;
}

static int run_batch(struct batch *b, int *results)
{
    struct bitem *it = b->it;
    size_t k = b->k;
    for (size_t i = 0; i < k; i++) {
        buf_init(&it[i].x.content, ST_PAYLOAD_MAX);
        buf_init(&it[i].x.raw, ST_PAYLOAD_MAX);
    }
    int rc = st_db_begin(b->env->db);
    int body = rc == 0 ? batch_body(it, k) : rc;
    if (body == 0 && b->hook) {
        b->hook->body(b->hook->ud);
        b->hook->ran = true;
    }
    if (body == 0) body = batch_receipts(b);
    if (body == 0) {
        rc = st_db_commit(b->env->db);
    } else {
        st_db_rollback(b->env->db);
        rc = body < 0 ? body : 0;
    }
    if (b->hook && b->hook->ran) b->hook->done(b->hook->ud, body == 0 && rc == 0);
    if (rc < 0 && k) b->rcv->held = true; /* its messages were not stored: hold the rest */
    if (body == 0 && rc == 0) {
        for (size_t i = 0; i < b->nr; i++)
            rx_rcpt_done(b->env, &b->r[i]);
        batch_ack_deliver(it, k);
    }
    for (size_t i = 0; i < k; i++) {
        OPENSSL_cleanse(it[i].x.content.data, it[i].x.content.len);
        buf_free(&it[i].x.content);
        OPENSSL_cleanse(it[i].x.raw.data, it[i].x.raw.len);
        buf_free(&it[i].x.raw);
        rx_kind_free(&it[i].x);
        int r = rc < 0 ? rc : 1;
        /* rolled back for one stanza's sake: each again on the single path, in order */
        if (body == 1) r = run_message(&it[i].m);
        if (r < 0 && rc == 0) rc = r;
        if (results) results[b->idx[i]] = r;
    }
    for (size_t i = 0; i < b->nr; i++) {
        int r = rc < 0 ? rc : 1;
        if (body == 1) r = rx_handle_receipt(b->env, b->r[i].n);
        if (r < 0 && rc == 0) rc = r;
        if (results) results[b->ridx[i]] = r;
    }
    return rc;
}

int wa_recv_handle_batch(struct wa_receiver *rcv, const struct wa_node *const *nodes, size_t n,
                         int *results)
{
    return wa_recv_handle_batch_ex(rcv, nodes, n, results, NULL);
}

int wa_recv_handle_batch_ex(struct wa_receiver *rcv, const struct wa_node *const *nodes, size_t n,
                            int *results, struct wa_recv_txn_hook *hook)
{
    if (hook) hook->ran = false;
    if (!rcv) return -EINVAL;
    const struct wa_recv_env *env = &rcv->env;
    if ((!nodes && n) || n > WA_RECV_BATCH_MAX) return -EINVAL;
    if (hook && (!hook->body || !hook->done)) return -EINVAL;
    if (st_db_in_txn(env->db)) return -EALREADY;
    struct batch b = {.rcv = rcv, .env = env, .hook = hook};
    size_t nrc = 0;
    for (size_t i = 0; i < n; i++)
        nrc += nodes[i] && nodes[i]->tag.s && !strcmp(nodes[i]->tag.s, "receipt");
    b.it = n ? calloc(n, sizeof(*b.it)) : NULL;
    b.r = nrc ? malloc(nrc * sizeof(*b.r)) : NULL;
    if ((n && !b.it) || (nrc && !b.r)) {
        free(b.it);
        free(b.r);
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct wa_node *s = nodes[i];
        const char *tag = s && s->tag.s ? s->tag.s : NULL;
        bool msg = tag && !strcmp(tag, "message"), rcp = tag && !strcmp(tag, "receipt");
        int r = !tag  ? -EINVAL
                : msg ? (rcv->held ? -EAGAIN : prepare_message(&b.it[b.k].m, rcv, s))
                : rcp ? rx_rcpt_prepare(env, s, &b.r[b.nr])
                      : wa_recv_handle(rcv, s);
        if (r == 0 && msg) {
            b.idx[b.k++] = i;
            continue;
        }
        if (r == 0 && rcp) {
            b.ridx[b.nr++] = i;
            continue;
        }
        if (r < 0 && rc == 0) rc = r;
        if (results) results[i] = r;
    }
    if (b.k || b.nr) {
        int r = run_batch(&b, results);
        if (r < 0 && rc == 0) rc = r;
    }
    free(b.it);
    free(b.r);
    return rc;
}

/* ---------------------------------------------------------------- others */

static int handle_notification(const struct wa_recv_env *env, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    struct wa_jid from;
    if (type && !strcmp(type, "encrypt") && wa_node_child(n, "identity") &&
        wa_node_attr_jid(n, "from", &from) == 0 && (wa_jid_is_pn(&from) || wa_jid_is_lid(&from))) {
        char name[SG_NAME_MAX + 1];
        int len = wa_jid_signal_name(&from, name, sizeof(name));
        const struct sg_store *st = sg_ctx_store(env->sg);
        if (len > 0) (void)st->ops->delete_all_sessions(st->ud, name, (size_t)len);
    }
    if (wa_node_attr(n, "id")) (void)rx_send_ack(env, n, "notification", true, NULL);
    return 1;
}

int wa_recv_handle(struct wa_receiver *rcv, const struct wa_node *n)
{
    if (!rcv || !n || !n->tag.s) return -EINVAL;
    const struct wa_recv_env *env = &rcv->env;
    const char *tag = n->tag.s;
    if (!strcmp(tag, "message")) return handle_message(rcv, n);
    if (!strcmp(tag, "receipt")) return rx_handle_receipt(env, n);
    if (!strcmp(tag, "notification")) return handle_notification(env, n);
    if (!strcmp(tag, "call")) {
        if (wa_node_attr(n, "id")) (void)rx_send_ack(env, n, "call", true, NULL);
        return 1;
    }
    return 0;
}
