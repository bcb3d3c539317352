/* SPDX-License-Identifier: MIT */
/* contacts.c -- simulated phones/contacts: Signal state, decrypting inbox, sending texts. */
#include "contacts.h"
#include "simkinds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/log.h"
#include "nb.h"
#include "router.h"
#include "signal/sg_cipher.h"
#include "signal/sg_memstore.h"
#include "simfetch.h"
#include "wa.pb-c.h"

struct inbox_item {
    char id[96];
    char from[WA_JID_STR_MAX];
    char chat[WA_JID_STR_MAX];
    char type[16];
    char enc[8]; /* the first <enc>'s type: pkmsg, msg, skmsg */
    char *text;  /* NULL if none / failed */
    char *what;  /* JSON: what the message is (simkinds.h fw_kind_describe), or NULL */
    char error[96];
    uint64_t t_ms;
    bool ok;
};

struct rcpt_item {
    char id[96];
    char from[WA_JID_STR_MAX];
    char type[16];
    uint64_t t_ms;
};

/* Recently sent 1:1 texts, kept to answer retry receipts. */
struct sent_item {
    char id[64];
    struct fw_account *to;
    char *text;
    unsigned retries;
};

#define SENT_RING     256
#define RECREATE_RING 64

/* Devices whose session was rebuilt without keys, and when (whatsmeow: once an hour). */
struct recreate_item {
    char addr[160];
    uint64_t t_ms;
};

struct fw_sim {
    struct fw_account *a;
    struct sent_item sent[SENT_RING];
    size_t sent_next;
    struct recreate_item recreated[RECREATE_RING];
    uint32_t retry_keys;      /* pre-keys made for our own retry receipts */
    bool mute_retries;        /* tests: retry receipts for our texts go unanswered */
    bool mute_placeholders;   /* tests: placeholder resend requests go unanswered */
    enum fw_sim_bundle fresh; /* the send in progress: new sessions from this bundle */
    struct sg_memstore *ms;
    struct sg_store st;
    struct sg_ctx *ctx;
    struct sg_identity id;
    struct sg_signed_prekey spk;
    struct inbox_item *inbox; /* ring of FW_SIM_INBOX */
    size_t nin, in_head;
    uint64_t in_total;       /* messages ever added (the inbox keeps the last FW_SIM_INBOX) */
    struct rcpt_item *rcpts; /* ring of FW_SIM_INBOX */
    size_t nrc, rc_head;
};

static int publish(struct fw_server *s, struct fw_sim *sim, struct fw_device *d0)
{
    struct sg_prekey *pks = calloc(FW_SIM_PREKEYS, sizeof(*pks));
    if (!pks) return -ENOMEM;
    int rc = sg_prekeys_generate(s->sig, 1, FW_SIM_PREKEYS, pks, NULL);
    if (rc == 0) rc = sg_store_put_prekeys(s->sig, &sim->st, pks, FW_SIM_PREKEYS);
    d0->nprekeys = 0;
    for (size_t i = 0; rc == 0 && i < FW_SIM_PREKEYS; i++) {
        struct fw_prekey_pub p = {.id = pks[i].id};
        memcpy(p.pub, pks[i].kp.pub, 32);
        fw_prekeys_add(d0, &p, 1);
    }
    memset(pks, 0, FW_SIM_PREKEYS * sizeof(*pks));
    free(pks);
    memcpy(d0->identity, sim->id.kp.pub, 32);
    d0->regid = sim->id.registration_id;
    d0->spk_id = sim->spk.id;
    memcpy(d0->spk_pub, sim->spk.kp.pub, 32);
    memcpy(d0->spk_sig, sim->spk.sig, 64);
    return rc;
}

static int restore_keys(struct fw_server *s, struct fw_sim *sim, const cJSON *saved)
{
    const cJSON *r = saved ? cJSON_GetObjectItemCaseSensitive(saved, "sim_regid") : NULL;
    const cJSON *k = saved ? cJSON_GetObjectItemCaseSensitive(saved, "sim_spk_priv") : NULL;
    uint8_t priv[32];
    if (cJSON_IsNumber(r) && cJSON_IsString(k) &&
        hex_decode(priv, 32, k->valuestring, strlen(k->valuestring)) == 32) {
        sim->id.registration_id = (uint32_t)r->valuedouble;
        int rc = sg_signed_prekey_generate(s->sig, &sim->id.kp, 1, &sim->spk);
        if (rc == 0) rc = sg_keypair_from_private(s->sig, priv, &sim->spk.kp);
        if (rc == 0) { /* re-sign the restored key */
            uint8_t msg[33] = {0x05};
            memcpy(msg + 1, sim->spk.kp.pub, 32);
            rc = sg_sign(s->sig, sim->id.kp.priv, msg, sizeof(msg), sim->spk.sig);
        }
        return rc;
    }
    int rc = sg_registration_id_generate(&sim->id.registration_id);
    return rc ? rc : sg_signed_prekey_generate(s->sig, &sim->id.kp, 1, &sim->spk);
}

int fw_sim_new(struct fw_server *s, struct fw_account *a, const cJSON *saved, struct fw_sim **out)
{
    struct fw_sim *sim = calloc(1, sizeof(*sim));
    if (!sim) return -ENOMEM;
    sim->a = a;
    sim->inbox = calloc(FW_SIM_INBOX, sizeof(*sim->inbox));
    sim->rcpts = calloc(FW_SIM_INBOX, sizeof(*sim->rcpts));
    int rc = sim->inbox && sim->rcpts ? sg_memstore_new(&sim->ms, NULL) : -ENOMEM;
    if (rc == 0) {
        memcpy(sim->id.kp.pub, a->acct.pub, 32);
        memcpy(sim->id.kp.priv, a->acct.priv, 32);
        rc = restore_keys(s, sim, saved);
    }
    if (rc == 0) {
        sg_memstore_set_identity(sim->ms, &sim->id);
        sim->st = sg_memstore_store(sim->ms, SG_TRUST_ANY);
        rc = sg_store_put_signed_prekey(s->sig, &sim->st, &sim->spk);
    }
    if (rc == 0) rc = sg_ctx_new(&sim->ctx, s->sig, &sim->st);
    if (rc == 0) rc = publish(s, sim, fw_device_get(a, 0));
    if (rc < 0) {
        fw_sim_free(sim);
        return rc;
    }
    *out = sim;
    return 0;
}

void fw_sim_free(struct fw_sim *sim)
{
    if (!sim) return;
    sg_ctx_free(sim->ctx);
    sg_memstore_free(sim->ms);
    for (size_t i = 0; sim->inbox && i < FW_SIM_INBOX; i++) {
        free(sim->inbox[i].text);
        free(sim->inbox[i].what);
    }
    free(sim->inbox);
    free(sim->rcpts);
    for (size_t i = 0; i < SENT_RING; i++)
        free(sim->sent[i].text);
    memset(&sim->id, 0, sizeof(sim->id));
    memset(&sim->spk, 0, sizeof(sim->spk));
    free(sim);
}

void fw_sim_export(const struct fw_sim *sim, cJSON *o)
{
    if (!sim) return;
    char h[65];
    hex_encode(h, sim->spk.kp.priv, 32);
    cJSON_AddNumberToObject(o, "sim_regid", sim->id.registration_id);
    cJSON_AddStringToObject(o, "sim_spk_priv", h);
}

/* ---- receiving ---- */

static const char *msg_text(const Wa__Message *m, int depth)
{
    if (!m || depth > 4) return NULL;
    if (m->conversation) return m->conversation;
    if (m->extendedtextmessage && m->extendedtextmessage->text) return m->extendedtextmessage->text;
    if (m->devicesentmessage) return msg_text(m->devicesentmessage->message, depth + 1);
    const Wa__FutureProofMessage *w[] = {m->ephemeralmessage, m->viewoncemessage,
                                         m->viewoncemessagev2, m->documentwithcaptionmessage,
                                         m->editedmessage};
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        if (w[i] && w[i]->message) return msg_text(w[i]->message, depth + 1);
    return NULL;
}

static int sender_address(struct fw_server *s, const struct wa_jid *j, struct sg_address *out)
{
    struct fw_account *sa = fw_account_by_jid(s, j);
    if (sa) return sg_address_make(out, sa->lid, 1, j->device);
    return sg_address_make(out, j->user, wa_jid_domain_type(j), j->device);
}

static struct inbox_item *inbox_add(struct fw_sim *sim)
{
    struct inbox_item *it = &sim->inbox[(sim->in_head + sim->nin) % FW_SIM_INBOX];
    if (sim->nin == FW_SIM_INBOX) {
        it = &sim->inbox[sim->in_head];
        sim->in_head = (sim->in_head + 1) % FW_SIM_INBOX;
    } else {
        sim->nin++;
    }
    sim->in_total++;
    free(it->text);
    free(it->what);
    memset(it, 0, sizeof(*it));
    it->t_ms = fw_now_ms();
    return it;
}

/* Decrypt one <enc>; on success sets *text (may stay NULL for SKDM-only payloads). */
static int decrypt_enc(struct fw_sim *sim, const struct wa_node *enc, const struct sg_address *from,
                       const char *group, char **text, char **what, ProtobufCBinaryData *pdo,
                       char *err, size_t errlen)
{
    size_t len = 0;
    const uint8_t *ct = wa_node_content_bytes(enc, &len);
    enum sg_msg_type type;
    if (!ct || sg_msg_type_parse(wa_node_attr(enc, "type"), &type) < 0) {
        snprintf(err, errlen, "bad enc");
        return -EBADMSG;
    }
    struct buf pt;
    buf_init(&pt, SG_MAX_MESSAGE);
    int rc = type == SG_SKMSG
                 ? (group ? sg_group_decrypt(sim->ctx, group, from, ct, len, &pt) : -EINVAL)
                 : sg_decrypt(sim->ctx, from, type, ct, len, &pt);
    size_t plen = 0;
    if (rc == 0) rc = sg_unpad(pt.data, pt.len, &plen);
    Wa__Message *m = rc == 0 ? wa__message__unpack(NULL, plen, pt.data) : NULL;
    if (rc == 0 && !m) rc = -EPROTO;
    if (rc < 0) snprintf(err, errlen, "%s: %s", sg_strerror(rc), sg_ctx_last_error(sim->ctx));
    if (m && m->senderkeydistributionmessage &&
        m->senderkeydistributionmessage->has_axolotlsenderkeydistributionmessage &&
        m->senderkeydistributionmessage->groupid) {
        const ProtobufCBinaryData *b =
            &m->senderkeydistributionmessage->axolotlsenderkeydistributionmessage;
        int r2 = sg_group_process_skdm(sim->ctx, m->senderkeydistributionmessage->groupid, from,
                                       b->data, b->len);
        if (r2 < 0) log_warn("fakewa", sim->a->phone, "SKDM rejected: %s", sg_strerror(r2));
    }
    const char *t = m ? msg_text(m, 0) : NULL;
    if (t && !*text) *text = strdup(t);
    cJSON *w = m && !*what ? fw_kind_describe(m) : NULL;
    cJSON *file = w ? fw_sim_fetch_media(m) : NULL; /* the phone downloads a received file */
    if (file) cJSON_AddItemToObject(w, "file", file);
    if (w && strcmp(cJSON_GetObjectItem(w, "type")->valuestring, "other") != 0)
        *what = cJSON_PrintUnformatted(w);
    cJSON_Delete(w);
    const Wa__ProtocolMessage *pm = m ? m->protocolmessage : NULL;
    if (pm && pm->has_type &&
        pm->type == WA__PROTOCOL_MESSAGE__TYPE__PEER_DATA_OPERATION_REQUEST_MESSAGE &&
        pm->has_peerdataoperationrequestmessage && !pdo->data) {
        pdo->data = malloc(pm->peerdataoperationrequestmessage.len + 1);
        if (pdo->data) {
            memcpy(pdo->data, pm->peerdataoperationrequestmessage.data,
                   pm->peerdataoperationrequestmessage.len);
            pdo->len = pm->peerdataoperationrequestmessage.len;
        }
    }
    if (m) wa__message__free_unpacked(m, NULL);
    buf_free(&pt);
    return rc;
}

static void send_receipt(struct fw_server *s, struct fw_sim *sim, const struct wa_node *msg,
                         bool ok)
{
    struct wa_node *r = nb_new("receipt", "id", wa_node_attr(msg, "id"), NULL);
    struct wa_jid j;
    if (wa_node_attr_jid(msg, "from", &j) == 0) nb_attr_jidv(r, "to", &j);
    if (wa_node_attr_jid(msg, "participant", &j) == 0) nb_attr_jidv(r, "participant", &j);
    if (wa_node_attr(msg, "recipient")) nb_attr(r, "type", "sender");
    if (!ok) {
        nb_attr(r, "type", "retry");
        struct wa_node *rt = nb_add(r, "retry", "count", "1", "id", wa_node_attr(msg, "id"), "v",
                                    "1", "error", "0", NULL);
        nb_attr(rt, "t", wa_node_attr(msg, "t") ? wa_node_attr(msg, "t") : "0");
        uint8_t b[4];
        nb_be(b, sim->id.registration_id, 4);
        nb_add_bytes(r, "registration", b, 4);
    }
    fw_route_receipt(s, sim->a, fw_device_get(sim->a, 0), r);
    wa_node_free(r);
}

static int encrypt_to(struct fw_server *s, struct fw_sim *sim, struct fw_account *ra,
                      struct fw_device *rd, const struct buf *pt, struct wa_node *parts, bool wrap);
static int pack_padded(const Wa__Message *m, struct buf *out);
static void new_msg_id(struct fw_server *s, char *out);

/* The primary phone answers a companion's placeholder resend request (wa-protocol.md §7.8)
 * for messages it has itself decrypted: a peer message with
 * protocolMessage{PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE, {PLACEHOLDER_MESSAGE_RESEND,
 * stanzaId, [{placeholderMessageResendResponse{webMessageInfoBytes}}]}}. */
static void answer_placeholder(struct fw_server *s, struct fw_sim *sim, const struct wa_jid *from,
                               const char *stanza_id, const ProtobufCBinaryData *req_b)
{
    struct fw_account *a = sim->a;
    struct fw_device *rd = fw_device_get(a, from->device);
    if (sim->mute_placeholders || fw_account_by_jid(s, from) != a || !rd || from->device == 0)
        return;
    Wa__PeerDataOperationRequest *req =
        wa__peer_data_operation_request__unpack(NULL, req_b->len, req_b->data);
    if (!req || req->peerdataoperationrequesttype != 4) {
        if (req) wa__peer_data_operation_request__free_unpacked(req, NULL);
        return;
    }
    size_t n = req->n_placeholdermessageresendrequest, k = 0;
    Wa__PeerDataOperationResponse__Result *res = calloc(n ? n : 1, sizeof(*res));
    Wa__PeerDataOperationResponse__Result__PlaceholderMessageResendResponse *pr =
        calloc(n ? n : 1, sizeof(*pr));
    Wa__PeerDataOperationResponse__Result **list = calloc(n ? n : 1, sizeof(*list));
    uint8_t **bufs = calloc(n ? n : 1, sizeof(*bufs));
    for (size_t i = 0; res && pr && list && bufs && i < n; i++) {
        const Wa__MessageKey *key = req->placeholdermessageresendrequest[i]
                                        ? req->placeholdermessageresendrequest[i]->messagekey
                                        : NULL;
        const struct inbox_item *it = NULL;
        for (size_t j = 0; key && key->id && j < sim->nin; j++) {
            const struct inbox_item *x = &sim->inbox[(sim->in_head + j) % FW_SIM_INBOX];
            if (x->ok && x->text && strcmp(x->id, key->id) == 0) it = x;
        }
        if (!it) continue;
        Wa__Message inner = WA__MESSAGE__INIT;
        inner.conversation = it->text;
        Wa__MessageKey wk = WA__MESSAGE_KEY__INIT;
        wk.remotejid = key->remotejid;
        wk.has_fromme = 1;
        wk.id = key->id;
        wk.participant = key->participant;
        Wa__WebMessageInfo w = WA__WEB_MESSAGE_INFO__INIT;
        w.key = &wk;
        w.message = &inner;
        w.has_messagetimestamp = 1;
        w.messagetimestamp = it->t_ms / 1000;
        size_t wl = wa__web_message_info__get_packed_size(&w);
        bufs[k] = malloc(wl ? wl : 1);
        if (!bufs[k]) break;
        wa__web_message_info__pack(&w, bufs[k]);
        wa__peer_data_operation_response__result__placeholder_message_resend_response__init(&pr[k]);
        pr[k].has_webmessageinfobytes = 1;
        pr[k].webmessageinfobytes = (ProtobufCBinaryData){wl, bufs[k]};
        wa__peer_data_operation_response__result__init(&res[k]);
        res[k].placeholdermessageresendresponse = &pr[k];
        list[k] = &res[k];
        k++;
    }
    if (k) {
        Wa__PeerDataOperationResponse resp = WA__PEER_DATA_OPERATION_RESPONSE__INIT;
        resp.has_peerdataoperationrequesttype = 1;
        resp.peerdataoperationrequesttype = 4;
        resp.stanzaid = (char *)stanza_id;
        resp.n_peerdataoperationresult = k;
        resp.peerdataoperationresult = list;
        size_t rl = wa__peer_data_operation_response__get_packed_size(&resp);
        uint8_t *rb = malloc(rl ? rl : 1);
        if (rb) {
            wa__peer_data_operation_response__pack(&resp, rb);
            Wa__ProtocolMessage pm = WA__PROTOCOL_MESSAGE__INIT;
            pm.has_type = 1;
            pm.type = WA__PROTOCOL_MESSAGE__TYPE__PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE;
            pm.has_peerdataoperationrequestresponsemessage = 1;
            pm.peerdataoperationrequestresponsemessage = (ProtobufCBinaryData){rl, rb};
            Wa__Message m = WA__MESSAGE__INIT;
            m.protocolmessage = &pm;
            struct buf pt;
            buf_init(&pt, SG_MAX_MESSAGE);
            char id[64], j[WA_JID_STR_MAX];
            new_msg_id(s, id);
            fw_pn_jid(a, rd->id, false, j);
            struct wa_node *msg =
                nb_new("message", "id", id, "type", "text", "category", "peer", NULL);
            nb_attr_jid(msg, "to", j);
            int rc = pack_padded(&m, &pt);
            if (rc == 0) rc = encrypt_to(s, sim, a, rd, &pt, msg, false);
            if (rc == 0) {
                fw_route_message(s, a, fw_device_get(a, 0), msg);
                s->stats.sim_placeholder_answers++;
                log_info("fakewa", a->phone, "answered a placeholder resend for %zu message%s", k,
                         k == 1 ? "" : "s");
            }
            wa_node_free(msg);
            buf_free(&pt);
            free(rb);
        }
    }
    for (size_t i = 0; bufs && i < k; i++)
        free(bufs[i]);
    free(bufs);
    free(list);
    free(pr);
    free(res);
    wa__peer_data_operation_request__free_unpacked(req, NULL);
}

static void receive_message(struct fw_server *s, struct fw_sim *sim, const struct wa_node *msg)
{
    struct wa_jid from, sender;
    if (wa_node_attr_jid(msg, "from", &from) < 0) return;
    bool group = wa_jid_is_group(&from);
    if (group ? wa_node_attr_jid(msg, "participant", &sender) < 0 : (sender = from, 0)) return;
    struct inbox_item *it = inbox_add(sim);
    snprintf(it->id, sizeof(it->id), "%s", wa_node_attr(msg, "id") ? wa_node_attr(msg, "id") : "");
    wa_jid_format(&sender, it->from, sizeof(it->from));
    if (wa_node_attr(msg, "recipient"))
        snprintf(it->chat, sizeof(it->chat), "%s", wa_node_attr(msg, "recipient"));
    else
        wa_jid_format_bare(&from, it->chat, sizeof(it->chat));
    snprintf(it->type, sizeof(it->type), "%s", group ? "group" : "chat");
    const struct wa_node *e0 = wa_node_child(msg, "enc");
    const char *et = e0 ? wa_node_attr(e0, "type") : NULL;
    snprintf(it->enc, sizeof(it->enc), "%s", et && strlen(et) < sizeof(it->enc) ? et : "");
    struct sg_address addr;
    char gid[WA_JID_STR_MAX];
    wa_jid_format_bare(&from, gid, sizeof(gid));
    int rc = sender_address(s, &sender, &addr);
    ProtobufCBinaryData pdo = {0, NULL};
    for (struct wa_node *e = wa_node_next_child(msg, "enc", NULL); rc == 0 && e;
         e = wa_node_next_child(msg, "enc", e))
        rc = decrypt_enc(sim, e, &addr, group ? gid : NULL, &it->text, &it->what, &pdo, it->error,
                         sizeof(it->error));
    it->ok = rc == 0;
    if (it->ok)
        s->stats.sim_decrypted++;
    else
        s->stats.sim_decrypt_failures++;
    log_info("fakewa", sim->a->name[0] ? sim->a->name : sim->a->phone, "received %s from %s: %s",
             it->id, it->from, it->ok ? "decrypted" : it->error);
    send_receipt(s, sim, msg, it->ok);
    if (rc == 0 && pdo.data) answer_placeholder(s, sim, &sender, it->id, &pdo);
    free(pdo.data);
}

static void answer_retry(struct fw_server *s, struct fw_sim *sim, const struct wa_node *rcpt);

void fw_sim_receive(struct fw_server *s, struct fw_account *a, const struct wa_node *stanza)
{
    struct fw_sim *sim = a->sim;
    if (!sim) return;
    if (strcmp(stanza->tag.s, "message") == 0) {
        receive_message(s, sim, stanza);
    } else if (strcmp(stanza->tag.s, "receipt") == 0) {
        struct rcpt_item *r = &sim->rcpts[(sim->rc_head + sim->nrc) % FW_SIM_INBOX];
        if (sim->nrc == FW_SIM_INBOX)
            sim->rc_head = (sim->rc_head + 1) % FW_SIM_INBOX;
        else
            sim->nrc++;
        memset(r, 0, sizeof(*r));
        const char *id = wa_node_attr(stanza, "id"), *ty = wa_node_attr(stanza, "type");
        const char *p = wa_node_attr(stanza, "participant"), *f = wa_node_attr(stanza, "from");
        snprintf(r->id, sizeof(r->id), "%s", id ? id : "");
        snprintf(r->from, sizeof(r->from), "%s", p ? p : f ? f : "");
        snprintf(r->type, sizeof(r->type), "%s", ty ? ty : "delivery");
        r->t_ms = fw_now_ms();
        if (ty && strcmp(ty, "retry") == 0) answer_retry(s, sim, stanza);
    }
}

/* ---- sending ---- */

static void new_msg_id(struct fw_server *s, char *out)
{
    uint8_t r[9];
    fw_random(r, sizeof(r));
    char h[19];
    hex_encode(h, r, sizeof(r));
    for (char *p = h; *p; p++)
        if (*p >= 'a') *p = (char)(*p - 32);
    snprintf(out, 64, "3EB0%s", h);
    (void)s;
}

static int pack_padded(const Wa__Message *m, struct buf *out)
{
    size_t n = wa__message__get_packed_size(m);
    int rc = buf_reserve(out, n + 16);
    if (rc < 0) return rc;
    wa__message__pack(m, out->data + out->len);
    out->len += n;
    return sg_pad(out);
}

/* Ensure a session with (ra, rd) and encrypt pt; appends a <to jid> with the enc to parts. */
static int encrypt_to(struct fw_server *s, struct fw_sim *sim, struct fw_account *ra,
                      struct fw_device *rd, const struct buf *pt, struct wa_node *parts, bool wrap)
{
    struct sg_address addr;
    int rc = sg_address_make(&addr, ra->lid, 1, rd->id);
    bool prev = sim->fresh == FW_SIM_BUNDLE_PREVIOUS && rd->spk_prev_id && ra != sim->a;
    if (rc == 0 && sim->fresh != FW_SIM_BUNDLE_KEEP && ra != sim->a)
        (void)sg_delete_session(sim->ctx, &addr); /* a test asked for a new session */
    if (rc == 0 && sg_has_session(sim->ctx, &addr) != 1) {
        struct sg_bundle b = {.registration_id = rd->regid,
                              .signed_prekey_id = prev ? rd->spk_prev_id : rd->spk_id};
        memcpy(b.identity, rd->identity, 32);
        memcpy(b.signed_prekey, prev ? rd->spk_prev_pub : rd->spk_pub, 32);
        memcpy(b.signed_prekey_sig, prev ? rd->spk_prev_sig : rd->spk_sig, 64);
        struct fw_prekey_pub pk;
        if (fw_prekey_take(rd, &pk) == 1) {
            b.has_prekey = true;
            b.prekey_id = pk.id;
            memcpy(b.prekey, pk.pub, 32);
            if (!rd->sim) fw_account_save_soon(s, ra);
        }
        rc = sg_session_from_bundle(sim->ctx, &addr, &b);
    }
    struct buf ct;
    buf_init(&ct, SG_MAX_MESSAGE);
    enum sg_msg_type type = SG_MSG;
    if (rc == 0) rc = sg_encrypt(sim->ctx, &addr, pt->data, pt->len, &type, &ct);
    if (rc == 0) {
        struct wa_node *to = parts;
        if (wrap) {
            char j[WA_JID_STR_MAX];
            fw_pn_jid(ra, rd->id, false, j);
            to = nb_add(parts, "to", NULL);
            nb_attr_jid(to, "jid", j);
        }
        struct wa_node *e = nb_add(to, "enc", "v", "2", "type", sg_msg_type_name(type), NULL);
        nb_bytes(e, ct.data, ct.len);
    }
    buf_free(&ct);
    return rc;
}

/* The bundle a retry receipt carries: <registration> and <keys><identity/><key><id/><value/>
 * </key><skey><id/><value/><signature/></skey></keys> (ids big-endian, 3 bytes). 0 or
 * -EBADMSG (sizes are checked: the receipt comes from a client). */
static int bytes_of(const struct wa_node *parent, const char *tag, void *out, size_t len,
                    uint32_t *num)
{
    const struct wa_node *c = parent ? wa_node_child(parent, tag) : NULL;
    size_t n = 0;
    const uint8_t *p = c ? wa_node_content_bytes(c, &n) : NULL;
    if (!p) return -EBADMSG;
    if (num) {
        if (n < 1 || n > 4) return -EBADMSG;
        *num = (uint32_t)nb_rd_be(p, n);
        return 0;
    }
    if (n == len + 1 && p[0] == 0x05) { /* a key with its type byte */
        p++;
        n--;
    }
    if (n != len) return -EBADMSG;
    memcpy(out, p, len);
    return 0;
}

static int receipt_bundle(const struct wa_node *rcpt, struct sg_bundle *b)
{
    const struct wa_node *keys = wa_node_child(rcpt, "keys");
    const struct wa_node *k = keys ? wa_node_child(keys, "key") : NULL;
    const struct wa_node *sk = keys ? wa_node_child(keys, "skey") : NULL;
    memset(b, 0, sizeof(*b));
    int rc = keys ? bytes_of(rcpt, "registration", NULL, 0, &b->registration_id) : -ENOENT;
    if (rc == 0) rc = bytes_of(keys, "identity", b->identity, 32, NULL);
    if (rc == 0) rc = bytes_of(sk, "id", NULL, 0, &b->signed_prekey_id);
    if (rc == 0) rc = bytes_of(sk, "value", b->signed_prekey, 32, NULL);
    if (rc == 0) rc = bytes_of(sk, "signature", b->signed_prekey_sig, 64, NULL);
    if (rc == 0 && k) {
        rc = bytes_of(k, "id", NULL, 0, &b->prekey_id);
        if (rc == 0) rc = bytes_of(k, "value", b->prekey, 32, NULL);
        b->has_prekey = rc == 0;
    }
    return rc;
}

/* whatsmeow's shouldRecreateSession: at most one rebuild per device per hour when the
 * receipt carries no keys (a missing session is always rebuilt). */
static bool may_recreate(struct fw_sim *sim, const struct sg_address *a)
{
    char name[160];
    if (sg_address_str(a, name, sizeof(name)) < 0) return false;
    uint64_t now = fw_now_ms();
    struct recreate_item *slot = &sim->recreated[0];
    for (size_t i = 0; i < RECREATE_RING; i++) {
        struct recreate_item *r = &sim->recreated[i];
        if (strcmp(r->addr, name) == 0) {
            if (now - r->t_ms < FW_SIM_RECREATE_MS) return false;
            slot = r;
            break;
        }
        if (r->t_ms < slot->t_ms) slot = r;
    }
    snprintf(slot->addr, sizeof(slot->addr), "%s", name);
    slot->t_ms = now;
    return true;
}

/* How the session for the retried device is prepared (docs/internals/retry-receipts.md):
 * the receipt's <keys> -> a new session from that bundle; no keys but count >= 2 (once an
 * hour per device) or no session at all -> a new session from the server's bundle (the
 * registry); else the current session. 1 = a new session was built, 0 = current, < 0 error. */
static int retry_session(struct fw_server *s, struct fw_sim *sim, struct fw_account *ra,
                         struct fw_device *rd, const struct wa_node *rcpt, long count)
{
    struct sg_address addr;
    int rc = sg_address_make(&addr, ra->lid, 1, rd->id);
    if (rc < 0) return rc;
    struct sg_bundle b;
    if (receipt_bundle(rcpt, &b) == 0) {
        rc = sg_session_from_bundle(sim->ctx, &addr, &b);
        return rc < 0 ? rc : 1;
    }
    bool has = sg_has_session(sim->ctx, &addr) == 1;
    if (has && (count < 2 || !may_recreate(sim, &addr))) return 0;
    if (has) (void)sg_delete_session(sim->ctx, &addr);
    (void)s;
    return 1; /* encrypt_to builds it from the registry */
}

/* A device could not decrypt one of our 1:1 texts: re-encrypt it for that device only
 * (<enc count=the retry count>), on a session chosen by retry_session() -- the rule real
 * clients follow. At most FW_SIM_RETRY_MAX answers per message. */
static void answer_retry(struct fw_server *s, struct fw_sim *sim, const struct wa_node *rcpt)
{
    const char *id = wa_node_attr(rcpt, "id");
    struct wa_jid from;
    if (!id || wa_node_attr_jid(rcpt, "from", &from) < 0) return;
    struct sent_item *it = NULL;
    for (size_t i = 0; i < SENT_RING; i++)
        if (sim->sent[i].text && strcmp(sim->sent[i].id, id) == 0) it = &sim->sent[i];
    struct fw_account *ra = fw_account_by_jid(s, &from);
    struct fw_device *rd = ra ? fw_device_get(ra, from.device) : NULL;
    if (sim->mute_retries || !it || !rd || ra != it->to || it->retries >= FW_SIM_RETRY_MAX) return;
    it->retries++;
    struct wa_node *rt = wa_node_child(rcpt, "retry");
    const char *count = rt && wa_node_attr(rt, "count") ? wa_node_attr(rt, "count") : "1";
    long cnt = strtol(count, NULL, 10);
    Wa__Message m = WA__MESSAGE__INIT;
    m.conversation = it->text;
    struct buf pt;
    buf_init(&pt, SG_MAX_MESSAGE);
    char j[WA_JID_STR_MAX];
    fw_pn_jid(ra, rd->id, false, j);
    struct wa_node *msg = nb_new("message", "id", id, "type", "text", NULL);
    nb_attr_jid(msg, "to", j);
    int fresh = retry_session(s, sim, ra, rd, rcpt, cnt);
    int rc = fresh < 0 ? fresh : pack_padded(&m, &pt);
    if (rc == 0) rc = encrypt_to(s, sim, ra, rd, &pt, msg, false);
    if (rc == 0) {
        nb_attr(wa_node_child(msg, "enc"), "count", count);
        fw_route_message(s, sim->a, fw_device_get(sim->a, 0), msg);
        s->stats.sim_retries_answered++;
        if (fresh == 1) s->stats.sim_sessions_rebuilt++;
        log_info("fakewa", sim->a->name[0] ? sim->a->name : sim->a->phone,
                 "answered retry %s for %s (count %s, %s session)", id, j, count,
                 fresh == 1 ? "new" : "current");
    } else {
        log_warn("fakewa", sim->a->name[0] ? sim->a->name : sim->a->phone,
                 "retry %s for %s (count %s) not answered: %s", id, j, count, sg_strerror(rc));
    }
    buf_free(&pt);
    wa_node_free(msg);
}

static int send_direct(struct fw_server *s, struct fw_sim *sim, struct fw_account *ra,
                       const Wa__Message *content, struct wa_node *msg, char *err, size_t errlen)
{
    struct fw_account *a = sim->a;
    char chat[WA_JID_STR_MAX];
    fw_pn_jid(ra, 0, false, chat);
    nb_attr_jid(msg, "to", chat);
    Wa__DeviceSentMessage dsm = WA__DEVICE_SENT_MESSAGE__INIT;
    dsm.destinationjid = chat;
    dsm.message = (Wa__Message *)content;
    Wa__Message own = WA__MESSAGE__INIT;
    own.devicesentmessage = &dsm;
    struct buf pt, pt_own;
    buf_init(&pt, SG_MAX_MESSAGE);
    buf_init(&pt_own, SG_MAX_MESSAGE);
    int rc = pack_padded(content, &pt);
    if (rc == 0) rc = pack_padded(&own, &pt_own);
    struct wa_node *parts = nb_add(msg, "participants", NULL);
    for (size_t i = 0; rc == 0 && i < ra->ndev; i++)
        if (ra->dev[i]->registered && ra != a)
            rc = encrypt_to(s, sim, ra, ra->dev[i], &pt, parts, true);
    for (size_t i = 0; rc == 0 && i < a->ndev; i++)
        if (a->dev[i]->registered && a->dev[i]->id != 0)
            rc = encrypt_to(s, sim, a, a->dev[i], &pt_own, parts, true);
    buf_free(&pt);
    buf_free(&pt_own);
    if (rc < 0)
        snprintf(err, errlen, "encrypt: %s %s", sg_strerror(rc), sg_ctx_last_error(sim->ctx));
    return rc;
}

static int send_group(struct fw_server *s, struct fw_sim *sim, struct fw_group *g,
                      const Wa__Message *content, struct wa_node *msg, char *err, size_t errlen)
{
    struct fw_account *a = sim->a;
    char gj[WA_JID_STR_MAX];
    snprintf(gj, sizeof(gj), "%s@g.us", g->id);
    nb_attr_jid(msg, "to", gj);
    struct sg_address self;
    struct buf skdm, pt, skpt, sk;
    buf_init(&skdm, 4096);
    buf_init(&pt, SG_MAX_MESSAGE);
    buf_init(&skpt, SG_MAX_MESSAGE);
    buf_init(&sk, SG_MAX_MESSAGE);
    int rc = sg_address_make(&self, a->lid, 1, 0);
    if (rc == 0) rc = sg_group_create(sim->ctx, gj, &self, &skdm);
    Wa__Message dist = WA__MESSAGE__INIT;
    Wa__SenderKeyDistributionMessage d = WA__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    d.groupid = gj;
    d.has_axolotlsenderkeydistributionmessage = 1;
    d.axolotlsenderkeydistributionmessage = (ProtobufCBinaryData){skdm.len, skdm.data};
    dist.senderkeydistributionmessage = &d;
    if (rc == 0) rc = pack_padded(&dist, &pt);
    if (rc == 0) rc = pack_padded(content, &skpt);
    if (rc == 0) rc = sg_group_encrypt(sim->ctx, gj, &self, skpt.data, skpt.len, &sk);
    struct wa_node *parts = nb_add(msg, "participants", NULL);
    for (size_t i = 0; rc == 0 && i < g->nmembers; i++) {
        struct fw_account *ra = g->members[i];
        for (size_t k = 0; rc == 0 && k < ra->ndev; k++)
            if (ra->dev[k]->registered && !(ra == a && ra->dev[k]->id == 0))
                rc = encrypt_to(s, sim, ra, ra->dev[k], &pt, parts, true);
    }
    if (rc == 0) {
        struct wa_node *e = nb_add(msg, "enc", "v", "2", "type", "skmsg", NULL);
        nb_bytes(e, sk.data, sk.len);
    } else {
        snprintf(err, errlen, "group encrypt: %s %s", sg_strerror(rc), sg_ctx_last_error(sim->ctx));
    }
    buf_free(&skdm);
    buf_free(&pt);
    buf_free(&skpt);
    buf_free(&sk);
    return rc;
}

int fw_sim_send_text(struct fw_server *s, struct fw_account *a, const char *to, const char *text,
                     char *id_out, char *err, size_t errlen)
{
    return fw_sim_send(s, a, to, text, NULL, id_out, err, errlen);
}

int fw_sim_send(struct fw_server *s, struct fw_account *a, const char *to, const char *text,
                const char *mention, char *id_out, char *err, size_t errlen)
{
    if (!text || strlen(text) > FW_SIM_TEXT_MAX) {
        snprintf(err, errlen, "bad text");
        return -EINVAL;
    }
    Wa__Message m = WA__MESSAGE__INIT;
    Wa__ExtendedTextMessage et = WA__EXTENDED_TEXT_MESSAGE__INIT;
    Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT;
    char *mj = (char *)mention;
    if (mention) { /* extendedTextMessage{text, contextInfo{mentionedJid}} */
        et.text = (char *)text;
        ci.n_mentionedjid = 1;
        ci.mentionedjid = &mj;
        et.contextinfo = &ci;
        m.extendedtextmessage = &et;
    } else {
        m.conversation = (char *)text;
    }
    return fw_sim_send_msg(s, a, to, &m, id_out, err, errlen);
}

/* One message to a group g or an account ra (one of the two). */
static int send_resolved(struct fw_server *s, struct fw_account *a, struct fw_group *g,
                         struct fw_account *ra, const Wa__Message *content, char *id_out, char *err,
                         size_t errlen)
{
    struct fw_sim *sim = a->sim;
    const char *text = content->conversation;
    if (!sim) {
        snprintf(err, errlen, "no simulated phone");
        return -EINVAL;
    }
    new_msg_id(s, id_out);
    bool media = content->imagemessage || content->videomessage || content->audiomessage ||
                 content->documentmessage || content->stickermessage;
    struct wa_node *msg = nb_new("message", "id", id_out, "type",
                                 content->reactionmessage ? "reaction"
                                 : media                  ? "media"
                                                          : "text",
                                 NULL);
    int rc = g ? send_group(s, sim, g, content, msg, err, errlen)
               : send_direct(s, sim, ra, content, msg, err, errlen);
    if (rc == 0 && ra && text) { /* remember 1:1 texts for retry receipts */
        struct sent_item *it = &sim->sent[sim->sent_next++ % SENT_RING];
        free(it->text);
        snprintf(it->id, sizeof(it->id), "%s", id_out);
        it->to = ra;
        it->text = strdup(text);
        it->retries = 0;
    }
    if (rc == 0) fw_route_message(s, a, fw_device_get(a, 0), msg);
    wa_node_free(msg);
    return rc;
}

int fw_sim_send_msg(struct fw_server *s, struct fw_account *a, const char *to,
                    const Wa__Message *content, char *id_out, char *err, size_t errlen)
{
    if (!a->sim) { /* before the recipient, as ever: the error a caller sees first */
        snprintf(err, errlen, "no simulated phone");
        return -EINVAL;
    }
    struct fw_group *g = strchr(to, '@') && !strstr(to, "@g.us") ? NULL : fw_group_find(s, to);
    struct fw_account *ra = g ? NULL : fw_account_lookup(s, to);
    if (!g && !ra) {
        struct wa_jid j;
        if (wa_jid_parse(&j, to, strlen(to)) == 0) ra = fw_account_by_jid(s, &j);
    }
    if (!g && !ra) {
        snprintf(err, errlen, "unknown recipient %s", to);
        return -ENOENT;
    }
    return send_resolved(s, a, g, ra, content, id_out, err, errlen);
}

int fw_sim_send_to(struct fw_server *s, struct fw_account *a, struct fw_group *g,
                   struct fw_account *ra, const Wa__Message *content, char *id_out, char *err,
                   size_t errlen)
{
    return send_resolved(s, a, g, g ? NULL : ra, content, id_out, err, errlen);
}

void fw_sim_fresh_sessions(struct fw_sim *sim, enum fw_sim_bundle b)
{
    if (sim) sim->fresh = b;
}

/* <keys> of a retry receipt: a fresh one-time pre-key (id above the published range) stored in
 * the sim's store, so that a session built from them decrypts here. */
static int add_retry_keys(struct fw_server *s, struct fw_sim *sim, struct wa_node *r)
{
    struct sg_prekey pk;
    uint32_t id = 0xE00000u + (uint32_t)(++sim->retry_keys % 0x0FFFFFu);
    int rc = sg_prekeys_generate(s->sig, id, 1, &pk, NULL);
    if (rc == 0) rc = sg_store_put_prekeys(s->sig, &sim->st, &pk, 1);
    if (rc < 0) return rc;
    uint8_t b[3], t = 5;
    struct wa_node *keys = nb_add(r, "keys", NULL);
    nb_add_bytes(keys, "type", &t, 1);
    nb_add_bytes(keys, "identity", sim->id.kp.pub, 32);
    struct wa_node *k = nb_add(keys, "key", NULL);
    nb_be(b, id, 3);
    nb_add_bytes(k, "id", b, 3);
    nb_add_bytes(k, "value", pk.kp.pub, 32);
    struct wa_node *sk = nb_add(keys, "skey", NULL);
    nb_be(b, sim->spk.id, 3);
    nb_add_bytes(sk, "id", b, 3);
    nb_add_bytes(sk, "value", sim->spk.kp.pub, 32);
    nb_add_bytes(sk, "signature", sim->spk.sig, 64);
    memset(&pk, 0, sizeof(pk));
    return 0;
}

int fw_sim_send_retry(struct fw_server *s, struct fw_account *a, const char *id, unsigned count,
                      bool keys, char *err, size_t errlen)
{
    struct fw_sim *sim = a->sim;
    const struct inbox_item *it = NULL;
    for (size_t i = 0; sim && id && i < sim->nin; i++) {
        const struct inbox_item *x = &sim->inbox[(sim->in_head + i) % FW_SIM_INBOX];
        if (strcmp(x->id, id) == 0) it = x;
    }
    struct wa_jid from;
    if (!it || wa_jid_parse(&from, it->from, strlen(it->from)) < 0) {
        snprintf(err, errlen, "no message %s in the inbox", id ? id : "");
        return -ENOENT;
    }
    if (count < 1 || count > 100) {
        snprintf(err, errlen, "bad count");
        return -EINVAL;
    }
    char cnt[12];
    snprintf(cnt, sizeof(cnt), "%u", count);
    struct wa_node *r = nb_new("receipt", "id", id, "type", "retry", NULL);
    nb_attr_jidv(r, "to", &from);
    nb_add(r, "retry", "count", cnt, "id", id, "t", "0", "v", "1", "error", "0", NULL);
    uint8_t b[4];
    nb_be(b, sim->id.registration_id, 4);
    nb_add_bytes(r, "registration", b, 4);
    int rc = keys ? add_retry_keys(s, sim, r) : 0;
    if (rc == 0) {
        fw_route_receipt(s, a, fw_device_get(a, 0), r);
        log_info("fakewa", a->name[0] ? a->name : a->phone, "asked %s again for %s (count %u%s)",
                 it->from, id, count, keys ? ", keys" : "");
    } else {
        snprintf(err, errlen, "keys: %s", sg_strerror(rc));
    }
    wa_node_free(r);
    return rc;
}

void fw_sim_answer_retries(struct fw_sim *sim, bool on)
{
    if (sim) sim->mute_retries = !on;
}

void fw_sim_answer_placeholders(struct fw_sim *sim, bool on)
{
    if (sim) sim->mute_placeholders = !on;
}

cJSON *fw_sim_inbox_json(const struct fw_sim *sim)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "total", sim ? (double)sim->in_total : 0);
    cJSON *ms = cJSON_AddArrayToObject(o, "messages");
    for (size_t i = 0; sim && i < sim->nin; i++) {
        const struct inbox_item *it = &sim->inbox[(sim->in_head + i) % FW_SIM_INBOX];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", it->id);
        cJSON_AddStringToObject(m, "from", it->from);
        cJSON_AddStringToObject(m, "chat", it->chat);
        cJSON_AddStringToObject(m, "kind", it->type);
        cJSON_AddBoolToObject(m, "ok", it->ok);
        cJSON_AddStringToObject(m, "enc", it->enc);
        if (it->text) cJSON_AddStringToObject(m, "text", it->text);
        if (it->what) cJSON_AddItemToObject(m, "what", cJSON_Parse(it->what));
        if (!it->ok) cJSON_AddStringToObject(m, "error", it->error);
        cJSON_AddNumberToObject(m, "t_ms", (double)it->t_ms);
        cJSON_AddItemToArray(ms, m);
    }
    cJSON *rs = cJSON_AddArrayToObject(o, "receipts");
    for (size_t i = 0; sim && i < sim->nrc; i++) {
        const struct rcpt_item *r = &sim->rcpts[(sim->rc_head + i) % FW_SIM_INBOX];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", r->id);
        cJSON_AddStringToObject(m, "from", r->from);
        cJSON_AddStringToObject(m, "type", r->type);
        cJSON_AddNumberToObject(m, "t_ms", (double)r->t_ms);
        cJSON_AddItemToArray(rs, m);
    }
    return o;
}
