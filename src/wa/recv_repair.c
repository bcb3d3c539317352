/* SPDX-License-Identifier: MIT */
/* recv_repair.c -- messages we cannot decrypt: paced retry receipts, `undecryptable` rows, the
 * per-peer and store-wide repair triggers (design.md "Session repair"; docs/internals/
 * retry-receipts.md).
 *
 * Per message (one slot per sender device + id): the first failure commits an `undecryptable`
 * store row, then the retry receipt (count 1; <keys> from count 2) goes out and the message is
 * acked. The next receipt waits for the peer's answer (its resend failing too) or for
 * retry_wait_ms without one, and never follows the previous one sooner than retry_gap_ms.
 * When the answer to the last (count WA_RECV_MAX_RETRY) fails or does not come, the message is
 * given up: its inbox row of type `undecryptable` (reason as payload) replaces the store row in
 * one transaction, it is delivered through on_message, and the peer's session (and the group's
 * sender key of that sender) is deleted, at most once per peer per WA_RECV_PEER_HOLD_S (memory
 * only: a restart allows one more). A resend that decrypts deletes the row.
 * Store-wide: first failures of distinct peers (or a majority of failing decrypts) within
 * store_window_ms call env->on_store_failing once per window.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/be.h"
#include "core/log.h"
#include "signal/sg_keys.h"
#include "signal/sg_store.h"
#include "store/sgstore.h"
#include "wa/msg.h"
#include "wa/nodeb.h"
#include "wa/recv_int.h"

static unsigned cfg(unsigned v, unsigned def)
{
    return v ? v : def;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono(const struct wa_receiver *rcv)
{
    if (!rcv->loop) return 0;
    uv_update_time(rcv->loop);
    return uv_now(rcv->loop);
}

/* ---------------------------------------------------------------- slots */

static void slot_clear(struct retry_slot *s)
{
    wa_node_free(s->head);
    wa_node_free(s->held);
    memset(s, 0, sizeof(*s));
}

static void on_timer(uv_timer_t *t);

static int alloc_slots(struct wa_receiver *rcv)
{
    if (rcv->slots) return 0;
    rcv->slots = calloc(WA_RECV_RETRY_SLOTS, sizeof(*rcv->slots));
    if (!rcv->slots) return -ENOMEM;
    if (rcv->loop && !rcv->tm) {
        rcv->tm = malloc(sizeof(*rcv->tm));
        if (!rcv->tm || uv_timer_init(rcv->loop, rcv->tm) < 0) {
            free(rcv->tm);
            rcv->tm = NULL;
            return 0; /* no pacing, as without a loop */
        }
        rcv->tm->data = rcv;
        uv_unref((uv_handle_t *)rcv->tm);
    }
    return 0;
}

static void on_tm_closed(uv_handle_t *h)
{
    free(h);
}

void rx_retry_free(struct wa_receiver *rcv)
{
    for (size_t i = 0; rcv->slots && i < WA_RECV_RETRY_SLOTS; i++)
        slot_clear(&rcv->slots[i]);
    free(rcv->slots);
    rcv->slots = NULL;
    if (rcv->tm) {
        rcv->tm->data = NULL;
        uv_close((uv_handle_t *)rcv->tm, on_tm_closed);
        rcv->tm = NULL;
    }
}

/* The slot of key; with create, a new one (the least recently used) when absent. NULL when
 * absent, or out of memory. An evicted slot keeps its store row (resumed after a restart). */
static struct retry_slot *retry_find(struct wa_receiver *rcv, const char *key, bool create)
{
    if (!rcv->slots && (!create || alloc_slots(rcv) < 0)) return NULL;
    struct retry_slot *old = &rcv->slots[0];
    for (size_t i = 0; i < WA_RECV_RETRY_SLOTS; i++) {
        struct retry_slot *s = &rcv->slots[i];
        if (s->key[0] && strcmp(s->key, key) == 0) return s;
        if (s->seq < old->seq) old = s;
    }
    if (!create) return NULL;
    slot_clear(old);
    snprintf(old->key, sizeof(old->key), "%s", key);
    old->seq = ++rcv->seq;
    return old;
}

static void arm(struct wa_receiver *rcv)
{
    if (!rcv->tm || !rcv->slots) return;
    uint64_t next = 0;
    for (size_t i = 0; i < WA_RECV_RETRY_SLOTS; i++) {
        uint64_t d = rcv->slots[i].due_ms, p = rcv->slots[i].phone_due_ms;
        if (d && (!next || d < next)) next = d;
        if (p && (!next || p < next)) next = p;
    }
    if (!next) {
        uv_timer_stop(rcv->tm);
        return;
    }
    uint64_t now = mono(rcv);
    (void)uv_timer_start(rcv->tm, on_timer, next > now ? next - now : 0, 0);
}

/* ---------------------------------------------------------------- receipts */

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

/* <receipt type=retry> for the stanza n (id, from, participant, recipient, t). */
static struct wa_node *retry_node(const struct wa_recv_env *env, const struct wa_node *n, bool peer,
                                  unsigned count, bool keys, int *err)
{
    struct wa_node *r = wa_nb_reply("receipt", n, true);
    char cnt[12];
    snprintf(cnt, sizeof(cnt), "%u", count);
    int rc = r ? wa_node_set_attr(r, "type", "retry") : -ENOMEM;
    if (rc == 0 && peer) rc = wa_node_set_attr(r, "category", "peer");
    struct wa_node *rt = rc == 0 ? wa_nb_child(r, "retry") : NULL;
    if (rc == 0 && !rt) rc = -ENOMEM;
    const char *t = wa_node_attr(n, "t"), *id = wa_node_attr(n, "id");
    if (rc == 0) rc = wa_node_set_attr(rt, "count", cnt);
    if (rc == 0) rc = wa_node_set_attr(rt, "id", id ? id : "");
    if (rc == 0) rc = wa_node_set_attr(rt, "t", t ? t : "0");
    if (rc == 0) rc = wa_node_set_attr(rt, "v", "1");
    uint8_t reg[4];
    be_put(reg, env->creds ? env->creds->registration_id : 0, 4);
    if (rc == 0) rc = wa_nb_bytes(r, "registration", reg, 4);
    if (rc == 0 && (count > 1 || keys) && env->creds) rc = add_keys(env, r);
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

static void report(struct wa_receiver *rcv, const struct retry_slot *s, bool gave_up, bool dropped)
{
    const struct wa_recv_env *env = &rcv->env;
    if (!env->on_undecryptable) return;
    struct wa_undecryptable u = {.id = s->u.msg_id,
                                 .from = s->u.device,
                                 .chat = s->u.chat,
                                 .reason = s->u.reason,
                                 .count = s->count,
                                 .gave_up = gave_up,
                                 .session_dropped = dropped};
    env->on_undecryptable(env->ud, &u);
}

/* Send r (consumed) now, or hold it until the gap since the previous receipt has passed. */
static void send_or_hold(struct wa_receiver *rcv, struct retry_slot *s, struct wa_node *r)
{
    uint64_t now = mono(rcv), gap = cfg(rcv->env.retry_gap_ms, WA_RECV_RETRY_GAP_MS);
    if (rcv->tm && s->sent_ms && now < s->sent_ms + gap) {
        wa_node_free(s->held);
        s->held = r;
        s->due_ms = s->sent_ms + gap;
        arm(rcv);
        return;
    }
    if (rx_send_owned(&rcv->env, r) == 0) rcv->stats.retries_sent++;
    s->sent_ms = now ? now : 1;
    s->due_ms = rcv->tm ? s->sent_ms + cfg(rcv->env.retry_wait_ms, WA_RECV_RETRY_WAIT_MS) : 0;
    arm(rcv);
}

/* ---------------------------------------------------------------- asking our phone */

/* Message{protocolMessage{PEER_DATA_OPERATION_REQUEST_MESSAGE, {PLACEHOLDER_MESSAGE_RESEND,
 * [{messageKey{remoteJid, fromMe=false, id, participant (groups)}}]}}}, padded, into out. */
static int placeholder_request(const struct retry_slot *s, struct buf *out)
{
    Wa__MessageKey key = WA__MESSAGE_KEY__INIT;
    key.remotejid = (char *)s->u.chat;
    key.has_fromme = 1;
    key.fromme = 0;
    key.id = (char *)s->u.msg_id;
    if (s->group) key.participant = (char *)s->u.device;
    Wa__PeerDataOperationRequest__PlaceholderMessageResendRequest one =
        WA__PEER_DATA_OPERATION_REQUEST__PLACEHOLDER_MESSAGE_RESEND_REQUEST__INIT;
    one.messagekey = &key;
    Wa__PeerDataOperationRequest__PlaceholderMessageResendRequest *list[1] = {&one};
    Wa__PeerDataOperationRequest req = WA__PEER_DATA_OPERATION_REQUEST__INIT;
    req.has_peerdataoperationrequesttype = 1;
    req.peerdataoperationrequesttype = 4; /* PLACEHOLDER_MESSAGE_RESEND */
    req.n_placeholdermessageresendrequest = 1;
    req.placeholdermessageresendrequest = list;
    size_t n = wa__peer_data_operation_request__get_packed_size(&req);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return -ENOMEM;
    wa__peer_data_operation_request__pack(&req, b);
    Wa__ProtocolMessage pm = WA__PROTOCOL_MESSAGE__INIT;
    pm.has_type = 1;
    pm.type = WA__PROTOCOL_MESSAGE__TYPE__PEER_DATA_OPERATION_REQUEST_MESSAGE;
    pm.has_peerdataoperationrequestmessage = 1;
    pm.peerdataoperationrequestmessage = (ProtobufCBinaryData){n, b};
    Wa__Message msg = WA__MESSAGE__INIT;
    msg.protocolmessage = &pm;
    size_t mn = wa__message__get_packed_size(&msg);
    int rc = buf_reserve(out, mn + 16);
    if (rc == 0) {
        wa__message__pack(&msg, out->data + out->len);
        out->len += mn;
        rc = sg_pad(out);
    }
    free(b);
    return rc;
}

/* A peer message to our own phone (device 0) on the existing session: <message to=<own PN>
 * category=peer push_priority=high_force><enc/>[<device-identity/>]<meta appdata=default/>.
 * 0, or < 0 (no session with our phone: nothing sent). */
static int phone_request(struct wa_receiver *rcv, const struct retry_slot *s)
{
    const struct wa_recv_env *env = &rcv->env;
    const struct wa_creds *c = env->creds;
    struct wa_jid pn, lid;
    if (!c || wa_jid_parse(&pn, c->me_pn, strlen(c->me_pn)) < 0) return -EINVAL;
    bool has_lid = wa_jid_parse(&lid, c->me_lid, strlen(c->me_lid)) == 0;
    struct sg_address a;
    int rc = has_lid ? sg_address_make(&a, lid.user, 1, 0) : sg_address_make(&a, pn.user, 0, 0);
    if (rc < 0) return rc;
    if (sg_has_session(env->sg, &a) != 1) return -ENOENT;
    struct buf pt, ct;
    buf_init(&pt, SG_MAX_MESSAGE);
    buf_init(&ct, SG_MAX_MESSAGE);
    enum sg_msg_type type = SG_MSG;
    rc = placeholder_request(s, &pt);
    if (rc == 0) rc = st_db_begin(env->db);
    if (rc == 0) {
        rc = sg_encrypt(env->sg, &a, pt.data, pt.len, &type, &ct);
        if (rc == 0)
            rc = st_db_commit(env->db);
        else
            st_db_rollback(env->db);
    }
    struct wa_node *n = rc == 0 ? wa_node_new("message") : NULL;
    if (rc == 0 && !n) rc = -ENOMEM;
    uint8_t r[9];
    char id[32];
    if (rc == 0 && RAND_bytes(r, sizeof(r)) != 1) rc = -EIO;
    snprintf(id, sizeof(id), "3EB0%02X%02X%02X%02X%02X%02X%02X%02X%02X", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7], r[8]);
    struct wa_jid to = pn;
    to.device = 0;
    if (rc == 0) rc = wa_node_set_attr(n, "id", id);
    if (rc == 0) rc = wa_node_set_attr_jid(n, "to", &to);
    if (rc == 0) rc = wa_node_set_attr(n, "type", "text");
    if (rc == 0) rc = wa_node_set_attr(n, "category", "peer");
    if (rc == 0) rc = wa_node_set_attr(n, "push_priority", "high_force");
    struct wa_node *e = rc == 0 ? wa_nb_child(n, "enc") : NULL;
    if (rc == 0 && !e) rc = -ENOMEM;
    if (rc == 0) rc = wa_node_set_attr(e, "v", "2");
    if (rc == 0) rc = wa_node_set_attr(e, "type", sg_msg_type_name(type));
    if (rc == 0) rc = wa_node_set_bytes(e, ct.data, ct.len);
    if (rc == 0 && type == SG_PKMSG && c->account_len)
        rc = wa_nb_bytes(n, "device-identity", c->account, c->account_len);
    struct wa_node *meta = rc == 0 ? wa_nb_child(n, "meta") : NULL;
    if (rc == 0 && !meta) rc = -ENOMEM;
    if (rc == 0) rc = wa_node_set_attr(meta, "appdata", "default");
    if (rc == 0) {
        rc = rx_send_owned(env, n);
        n = NULL;
    }
    wa_node_free(n);
    OPENSSL_cleanse(pt.data, pt.len);
    buf_free(&pt);
    buf_free(&ct);
    return rc;
}

/* The phone is due: ask it (once); the give-up then waits for its answer up to retry_wait_ms. */
static void phone_step(struct wa_receiver *rcv, struct retry_slot *s, uint64_t now)
{
    s->phone_due_ms = 0;
    int rc = phone_request(rcv, s);
    if (rc == 0) {
        rcv->stats.phone_requests++;
        s->phone_wait_ms = now + cfg(rcv->env.retry_wait_ms, WA_RECV_RETRY_WAIT_MS);
    } else if (s->count >= WA_RECV_MAX_RETRY) {
        s->due_ms = now; /* a give-up that waited for this request may go now */
    }
    log_debug("wa", NULL, "recv: %s from %s: placeholder resend asked of our phone: %s",
              s->u.msg_id, s->u.device, rc == 0 ? "sent" : strerror(-rc));
}

/* Giving up must wait for a phone request still pending or unanswered: the loop time until
 * which it waits, or 0 when it may go now. */
static uint64_t phone_pending(const struct wa_receiver *rcv, const struct retry_slot *s,
                              uint64_t now)
{
    if (s->phone_due_ms)
        return s->phone_due_ms + cfg(rcv->env.retry_wait_ms, WA_RECV_RETRY_WAIT_MS);
    return s->phone_wait_ms > now ? s->phone_wait_ms : 0;
}

int rx_phone_response(struct mctx *m, const Wa__Message *content, struct rx *x)
{
    const Wa__ProtocolMessage *pm = content ? content->protocolmessage : NULL;
    struct wa_receiver *rcv = m->rcv;
    if (!pm || !m->own || m->dev.device != 0 || !rcv->slots || !pm->has_type ||
        pm->type != WA__PROTOCOL_MESSAGE__TYPE__PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE ||
        !pm->has_peerdataoperationrequestresponsemessage)
        return 0;
    const ProtobufCBinaryData *b = &pm->peerdataoperationrequestresponsemessage;
    Wa__PeerDataOperationResponse *r =
        wa__peer_data_operation_response__unpack(NULL, b->len, b->data);
    if (!r) return 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n_peerdataoperationresult; i++) {
        const Wa__PeerDataOperationResponse__Result *res = r->peerdataoperationresult[i];
        const Wa__PeerDataOperationResponse__Result__PlaceholderMessageResendResponse *pr =
            res ? res->placeholdermessageresendresponse : NULL;
        if (!pr || !pr->has_webmessageinfobytes) continue;
        Wa__WebMessageInfo *w = wa__web_message_info__unpack(NULL, pr->webmessageinfobytes.len,
                                                             pr->webmessageinfobytes.data);
        const char *id = w && w->key ? w->key->id : NULL;
        struct retry_slot *s = NULL;
        for (size_t k = 0; id && k < WA_RECV_RETRY_SLOTS && !s; k++)
            if (rcv->slots[k].active && strcmp(rcv->slots[k].u.msg_id, id) == 0) s = &rcv->slots[k];
        if (s && w->message) {
            size_t n = wa__message__get_packed_size(w->message);
            uint8_t *p = malloc(n ? n : 1);
            struct wa_msg_info mi;
            if (!p) {
                rc = -ENOMEM;
            } else {
                wa__message__pack(w->message, p);
                if (wa_msg_decode(p, n, &mi) == 0) {
                    if (mi.type) {
                        buf_reset(&x->content);
                        x->type = mi.type;
                        x->any_content = true;
                        rc = mi.text ? buf_append(&x->content, mi.text, strlen(mi.text))
                                     : buf_append(&x->content, p, n);
                        if (rc == -ENOBUFS)
                            rc = 0; /* too big: stays undecryptable */
                        else if (rc == 0) {
                            x->ovr = s;
                            rc = 1;
                        }
                    }
                    wa_msg_info_free(&mi);
                }
                free(p);
            }
        }
        if (w) wa__web_message_info__free_unpacked(w, NULL);
        if (rc == 1) break;
    }
    wa__peer_data_operation_response__free_unpacked(r, NULL);
    return rc;
}

void rx_phone_recovered(struct wa_receiver *rcv, struct retry_slot *s)
{
    rcv->stats.phone_recovered++;
    slot_clear(s);
    arm(rcv);
}

/* ---------------------------------------------------------------- giving up */

/* Delete the peer's session (and the group's sender key of that sender), at most once per
 * peer per WA_RECV_PEER_HOLD_S. true when deleted. */
static bool drop_peer(struct wa_receiver *rcv, const struct retry_slot *s)
{
    char name[SG_NAME_MAX + 16];
    if (sg_address_str(&s->addr, name, sizeof(name)) < 0) return false;
    int64_t now = wall_ms();
    struct rx_peer_mark *slot = &rcv->dropped[0];
    for (size_t i = 0; i < RX_PEER_RING; i++) {
        struct rx_peer_mark *p = &rcv->dropped[i];
        if (strcmp(p->name, name) == 0) {
            if (now - p->t_ms < (int64_t)WA_RECV_PEER_HOLD_S * 1000) return false;
            slot = p;
            break;
        }
        if (p->t_ms < slot->t_ms) slot = p;
    }
    snprintf(slot->name, sizeof(slot->name), "%s", name);
    slot->t_ms = now;
    (void)sg_delete_session(rcv->env.sg, &s->addr);
    if (s->group && s->gid[0])
        (void)st_sg_sender_key_delete(rcv->env.db, s->gid, s->addr.name, s->addr.device);
    return true;
}

/* The inbox row replaces the store row (one transaction); then delivery, the per-peer
 * repair, the report. 0, or a store error (the slot stays: tried again later). */
static int give_up(struct wa_receiver *rcv, struct retry_slot *s)
{
    struct st_db *db = rcv->env.db;
    int64_t cursor = 0;
    int rc = st_db_begin(db);
    int ins =
        rc == 0 ? st_inbox_insert(db, s->u.chat, s->u.sender, s->u.msg_id, s->u.ts, "undecryptable",
                                  (const uint8_t *)s->u.reason, strlen(s->u.reason), &cursor)
                : rc;
    rc = ins < 0 ? ins : st_undec_del(db, s->u.device, s->u.msg_id);
    if (rc >= 0)
        rc = st_db_commit(db);
    else if (st_db_in_txn(db))
        st_db_rollback(db);
    if (rc < 0) return rc;
    rcv->stats.gave_up++;
    bool dropped = drop_peer(rcv, s);
    if (ins == 0 && rcv->env.on_message) {
        struct wa_inmsg im = {.cursor = cursor,
                              .chat = s->u.chat,
                              .sender = s->u.sender,
                              .id = s->u.msg_id,
                              .kind = WA_IN_UNDECRYPTABLE,
                              .ts = s->u.ts,
                              .received = time(NULL),
                              .text = s->u.reason,
                              .text_len = strlen(s->u.reason)};
        rcv->stats.stored++;
        rcv->env.on_message(rcv->env.ud, &im);
    }
    report(rcv, s, true, dropped);
    slot_clear(s);
    return 0;
}

/* ---------------------------------------------------------------- the store-wide check */

static void store_check(struct wa_receiver *rcv, const char *peer)
{
    const struct wa_recv_env *env = &rcv->env;
    int64_t now = wall_ms(), win = cfg(env->store_window_ms, WA_RECV_STORE_WINDOW_MS);
    if (now - rcv->win_start_ms > win) {
        rcv->win_start_ms = now;
        rcv->win_ok = rcv->win_fail = 0;
    }
    if (peer) {
        rcv->win_fail++;
        struct rx_peer_mark *p = &rcv->failing[rcv->failing_next++ % RX_PEER_RING];
        snprintf(p->name, sizeof(p->name), "%s", peer);
        p->t_ms = now;
    }
    if (!env->on_store_failing || (rcv->tripped_ms && now - rcv->tripped_ms < win)) return;
    unsigned distinct = 0;
    for (size_t i = 0; i < RX_PEER_RING; i++) {
        const struct rx_peer_mark *p = &rcv->failing[i];
        if (!p->name[0] || now - p->t_ms > win) continue;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = rcv->failing[k].name[0] && now - rcv->failing[k].t_ms <= win &&
                   strcmp(rcv->failing[k].name, p->name) == 0;
        distinct += !seen;
    }
    bool most = rcv->win_fail >= WA_RECV_STORE_MIN_FAILS && rcv->win_fail > rcv->win_ok;
    if (distinct < cfg(env->store_peers, WA_RECV_STORE_PEERS) && !most) return;
    rcv->tripped_ms = now;
    unsigned fails = rcv->win_fail, oks = rcv->win_ok;
    memset(rcv->failing, 0, sizeof(rcv->failing));
    rcv->win_ok = rcv->win_fail = 0;
    env->on_store_failing(env->ud, distinct, fails, oks);
}

void rx_retry_note_ok(struct wa_receiver *rcv)
{
    if (rcv->win_fail) rcv->win_ok++; /* only counted while failures are being watched */
}

/* ---------------------------------------------------------------- the failure path */

static void key_of(const char *devjid, const char *id, char *key, size_t len)
{
    snprintf(key, len, "%s|%s", devjid, id);
}

/* A new slot for m: the store row's fields, a copy of the stanza. */
static int slot_begin(struct mctx *m, struct retry_slot *s)
{
    char chat[WA_JID_STR_MAX], sender[WA_JID_STR_MAX];
    rx_names(m, NULL, chat, sender);
    struct st_undec *u = &s->u;
    snprintf(u->device, sizeof(u->device), "%s", m->devjid);
    snprintf(u->msg_id, sizeof(u->msg_id), "%s", m->id);
    snprintf(u->chat, sizeof(u->chat), "%s", chat);
    snprintf(u->sender, sizeof(u->sender), "%s", sender);
    u->ts = m->ts;
    u->first_seen = time(NULL);
    s->group = m->group;
    s->peer = m->peer;
    s->addr = m->addr;
    snprintf(s->gid, sizeof(s->gid), "%s", m->gid);
    s->head = wa_node_clone(m->n);
    return s->head ? 0 : -ENOMEM;
}

int rx_retry_failure(struct mctx *m, int why, bool force_keys)
{
    struct wa_receiver *rcv = m->rcv;
    char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2];
    key_of(m->devjid, m->id, key, sizeof(key));
    struct retry_slot *s = retry_find(rcv, key, true);
    if (!s) return -ENOMEM; /* not acked: the server redelivers */
    bool first = !s->active;
    if (first) {
        int rc = slot_begin(m, s);
        if (rc < 0) {
            slot_clear(s);
            return rc;
        }
    }
    snprintf(s->u.reason, sizeof(s->u.reason), "%s", sg_strerror(why));
    unsigned count = s->count + 1, ec = enc_count(m->n) + 1;
    if (ec > count) count = ec;
    s->seq = ++rcv->seq;
    log_debug("wa", NULL, "recv: %s from %s undecryptable (%s), retry %u", m->id, m->devjid,
              s->u.reason, count);
    if (count > WA_RECV_MAX_RETRY) { /* the answer to the last receipt failed too */
        s->count = count - 1;
        int rc = s->active ? 0 : st_undec_put(rcv->env.db, &s->u);
        if (rc == 0) s->active = true;
        uint64_t wait = rc == 0 && rcv->tm ? phone_pending(rcv, s, mono(rcv)) : 0;
        if (wait) { /* our phone may still answer: give up when that wait ends */
            s->due_ms = wait;
            (void)rx_send_ack(m->env, m->n, "message", false, NULL);
            arm(rcv);
            return 1;
        }
        if (rc == 0) rc = give_up(rcv, s);
        if (rc < 0) return rc; /* not acked: redelivered, tried again */
        (void)rx_send_ack(m->env, m->n, "message", false, NULL);
        arm(rcv);
        return 1;
    }
    if (s->held) { /* a receipt already waits for the gap: this failure is folded into it */
        (void)rx_send_ack(m->env, m->n, "message", false, NULL);
        return 1;
    }
    s->u.count = count;
    int rc = st_undec_put(rcv->env.db, &s->u); /* durable before the ack */
    if (rc < 0) {
        if (first) slot_clear(s);
        return rc;
    }
    s->active = true;
    if (first && !m->own && rcv->tm) /* as whatsmeow: ask our phone if the peer has not helped */
        s->phone_due_ms = mono(rcv) + cfg(rcv->env.phone_delay_ms, WA_RECV_PHONE_DELAY_MS);
    struct wa_node *r = retry_node(m->env, m->n, m->peer, count, force_keys, &rc);
    if (!r) return rc; /* the pre-key could not be stored: no ack, redelivery tries again */
    s->count = count;
    send_or_hold(rcv, s, r);
    (void)rx_send_ack(m->env, m->n, "message", false, NULL);
    report(rcv, s, false, false);
    if (first) store_check(rcv, m->addr.name);
    return 1;
}

void rx_retry_forget(struct mctx *m)
{
    char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2];
    key_of(m->devjid, m->id, key, sizeof(key));
    struct retry_slot *s = retry_find(m->rcv, key, false);
    if (!s) return;
    if (s->active && st_undec_del(m->env->db, s->u.device, s->u.msg_id) < 0)
        log_debug("wa", NULL, "recv: %s: undecryptable row not deleted: %s", m->id,
                  st_db_last_error(m->env->db));
    slot_clear(s);
    arm(m->rcv);
}

/* ---------------------------------------------------------------- the timer */

/* The slot's next step is due: a held receipt goes out; no answer came: the next receipt
 * (with keys), or give up after the last. */
static void step(struct wa_receiver *rcv, struct retry_slot *s)
{
    s->due_ms = 0;
    if (s->held) {
        struct wa_node *r = s->held;
        s->held = NULL;
        s->sent_ms = 0; /* the gap has passed */
        send_or_hold(rcv, s, r);
        return;
    }
    if (s->count >= WA_RECV_MAX_RETRY || !s->head) {
        uint64_t now = mono(rcv), wait = phone_pending(rcv, s, now);
        if (wait)
            s->due_ms = wait;
        else if (give_up(rcv, s) < 0)
            s->due_ms = now + WA_RECV_RETRY_GAP_MS;
        return;
    }
    unsigned count = s->count + 1;
    s->u.count = count;
    int rc = st_undec_put(rcv->env.db, &s->u);
    struct wa_node *r = rc == 0 ? retry_node(&rcv->env, s->head, s->peer, count, true, &rc) : NULL;
    if (!r) {
        s->due_ms = mono(rcv) + cfg(rcv->env.retry_wait_ms, WA_RECV_RETRY_WAIT_MS);
        return;
    }
    s->count = count;
    s->sent_ms = 0;
    send_or_hold(rcv, s, r);
    report(rcv, s, false, false);
}

static void on_timer(uv_timer_t *t)
{
    struct wa_receiver *rcv = t->data;
    if (!rcv || !rcv->slots) return;
    uint64_t now = mono(rcv);
    for (size_t i = 0; i < WA_RECV_RETRY_SLOTS && rcv->slots; i++) {
        struct retry_slot *s = &rcv->slots[i];
        if (s->key[0] && s->active && s->phone_due_ms && s->phone_due_ms <= now)
            phone_step(rcv, s, now);
        if (s->key[0] && s->active && s->due_ms && s->due_ms <= now) step(rcv, s);
    }
    arm(rcv);
}

/* ---------------------------------------------------------------- after a restart */

/* A stanza head for a resumed row: <message id from [participant] t>. */
static struct wa_node *resumed_head(const struct st_undec *u, bool group)
{
    struct wa_node *n = wa_node_new("message");
    struct wa_jid from, dev;
    char t[24];
    snprintf(t, sizeof(t), "%lld", (long long)u->ts);
    int rc = n ? wa_node_set_attr(n, "id", u->msg_id) : -ENOMEM;
    if (rc == 0) rc = wa_node_set_attr(n, "t", t);
    if (rc == 0) rc = wa_jid_parse(&dev, u->device, strlen(u->device));
    if (rc == 0 && group) rc = wa_jid_parse(&from, u->chat, strlen(u->chat));
    if (rc == 0) rc = wa_node_set_attr_jid(n, "from", group ? &from : &dev);
    if (rc == 0 && group) rc = wa_node_set_attr_jid(n, "participant", &dev);
    if (rc < 0) {
        wa_node_free(n);
        return NULL;
    }
    return n;
}

/* The Signal address of a device JID (LID when known), as recv.c resolves it. */
static void resumed_addr(struct wa_receiver *rcv, const char *devjid, struct sg_address *a)
{
    struct wa_jid d;
    memset(a, 0, sizeof(*a));
    if (wa_jid_parse(&d, devjid, strlen(devjid)) < 0) return;
    char lid[WA_JID_USER_MAX] = "";
    int rc = wa_jid_is_pn(&d) && st_lid_get_lid(rcv->env.db, d.user, lid, sizeof(lid)) == 1
                 ? sg_address_make(a, lid, 1, d.device)
                 : sg_address_make(a, d.user, wa_jid_domain_type(&d), d.device);
    if (rc < 0) memset(a, 0, sizeof(*a));
}

int rx_retry_resume(struct wa_receiver *rcv)
{
    struct st_undec *v = calloc(WA_RECV_RETRY_SLOTS, sizeof(*v));
    if (!v) return -ENOMEM;
    size_t n = 0;
    int rc = st_undec_list(rcv->env.db, v, WA_RECV_RETRY_SLOTS, &n);
    if (rc == -ENOTSUP) rc = 0; /* a handle without statements (tests) */
    if (rc == 0 && n) rc = alloc_slots(rcv);
    /* after a restart (or the store-wide repair's reconnect) the next receipt, with keys,
     * goes after the gap: answers to the earlier ones went to the old connection */
    uint64_t due = mono(rcv) + cfg(rcv->env.retry_gap_ms, WA_RECV_RETRY_GAP_MS);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char key[WA_JID_STR_MAX + ST_MSGID_MAX + 2];
        key_of(v[i].device, v[i].msg_id, key, sizeof(key));
        struct retry_slot *s = retry_find(rcv, key, true);
        if (!s) break;
        s->u = v[i];
        s->count = v[i].count;
        s->active = true;
        s->group = strstr(v[i].chat, "@g.us") || strstr(v[i].chat, "@broadcast");
        if (s->group) snprintf(s->gid, sizeof(s->gid), "%.*s", (int)sizeof(s->gid) - 1, v[i].chat);
        resumed_addr(rcv, v[i].device, &s->addr);
        s->head = resumed_head(&v[i], s->group);
        s->due_ms = rcv->tm ? due : 0;
    }
    free(v);
    arm(rcv);
    return rc;
}
