/* SPDX-License-Identifier: MIT */
/* router.c -- login, iq handlers, message fan-out, receipts, acks and offline queues. */
#include "router.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"
#include "core/log.h"
#include "faults.h"
#include "mediasrv.h"
#include "nb.h"
#include "paircode.h"
#include "pairing.h"
#include "simkinds.h"
#include "wa.pb-c.h"
#include "wa/keys.h"

/* One slot of s->track: who sent message `id`. */
struct fw_track {
    char id[96];
    struct fw_account *acc;
    uint32_t dev;
    bool chat_lid; /* the sender addressed the chat by LID: receipts come from LID JIDs */
};

static uint32_t hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void fw_track_message(struct fw_server *s, const char *id, struct fw_account *a,
                      struct fw_device *d)
{
    if (!s->track && !(s->track = calloc(FW_TRACK_SLOTS, sizeof(*s->track)))) return;
    struct fw_track *t = &s->track[hash_id(id) % FW_TRACK_SLOTS];
    snprintf(t->id, sizeof(t->id), "%s", id);
    t->acc = a;
    t->dev = d->id;
    t->chat_lid = false;
}

static struct fw_track *track_find(struct fw_server *s, const char *id)
{
    if (!s->track) return NULL;
    struct fw_track *t = &s->track[hash_id(id) % FW_TRACK_SLOTS];
    return t->acc && strcmp(t->id, id) == 0 ? t : NULL;
}

void fw_router_free(struct fw_server *s)
{
    free(s->track);
    s->track = NULL;
}

/* ---- helpers ---- */

static const char *attr(const struct wa_node *n, const char *k)
{
    const char *v = wa_node_attr(n, k);
    return v ? v : "";
}

static struct wa_node *iq_result(const struct wa_node *req)
{
    struct wa_node *r = nb_new("iq", "type", "result", "id", attr(req, "id"), NULL);
    nb_attr_jid(r, "from", "s.whatsapp.net");
    return r;
}

static void send_free(struct fw_conn *c, struct wa_node *n)
{
    (void)fw_conn_send(c, n);
    wa_node_free(n);
}

static void iq_error(struct fw_conn *c, const struct wa_node *req, int code, const char *text)
{
    struct wa_node *r = nb_new("iq", "type", "error", "id", attr(req, "id"), NULL);
    nb_attr_jid(r, "from", "s.whatsapp.net");
    struct wa_node *e = nb_add(r, "error", "text", text, NULL);
    nb_attr_u64(e, "code", (uint64_t)code);
    send_free(c, r);
}

static bool bytes_of(const struct wa_node *n, const char *tag, size_t want, const uint8_t **out)
{
    struct wa_node *c = n ? wa_node_child(n, tag) : NULL;
    size_t len = 0;
    *out = c ? wa_node_content_bytes(c, &len) : NULL;
    return *out && len == want;
}

/* ---- delivery ---- */

void fw_deliver(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                struct wa_node *node)
{
    if (strcmp(node->tag.s, "message") == 0) s->stats.messages_routed++;
    if (d->sim) {
        fw_faults_on_send(s, a, d, node);
        fw_sim_receive(s, a, node);
        wa_node_free(node);
        return;
    }
    const char *id = attr(node, "id");
    struct fw_conn *c = d->conn;
    fw_queue_push(d, node, id);
    if (c && c->state == FWC_ONLINE && !c->passive) {
        struct fw_qitem *q = d->qtail;
        fw_faults_on_send(s, a, d, q->node);
        if (fw_conn_send(c, q->node) == 0) q->sent = true;
    } else {
        s->stats.messages_queued++;
    }
}

void fw_flush_queue(struct fw_conn *c, bool end_marker)
{
    struct fw_device *d = c->dev;
    size_t n = 0;
    for (struct fw_qitem *q = d->qhead; q && c->state == FWC_ONLINE; q = q->next) {
        if (q->sent) continue;
        nb_attr(q->node, "offline", "1");
        fw_faults_on_send(c->srv, c->acc, d, q->node);
        if (fw_conn_send(c, q->node) < 0) return;
        q->sent = true;
        n++;
    }
    if (!end_marker || c->state != FWC_ONLINE) return;
    struct wa_node *ib = nb_new("ib", NULL);
    nb_attr_jid(ib, "from", "s.whatsapp.net");
    struct wa_node *off = nb_add(ib, "offline", NULL);
    nb_attr_u64(off, "count", n);
    send_free(c, ib);
}

/* ---- login ---- */

static void send_failure(struct fw_conn *c, const char *reason)
{
    c->srv->stats.login_failures++;
    struct wa_node *f = nb_new("failure", "reason", reason, NULL);
    nb_attr_u64(f, "t", fw_now());
    send_free(c, f);
    fw_conn_close(c, false);
}

static void replace_old(struct fw_conn *old)
{
    struct wa_node *se = nb_new("stream:error", NULL);
    nb_add(se, "conflict", "type", "replaced", NULL);
    send_free(old, se);
    fw_conn_close(old, false);
}

static void login(struct fw_conn *c, const Wa__ClientPayload *cp)
{
    struct fw_server *s = c->srv;
    char phone[32];
    snprintf(phone, sizeof(phone), "%" PRIu64, cp->username);
    struct fw_account *a = fw_account_by_phone(s, phone);
    struct fw_device *d = a && cp->has_device ? fw_device_get(a, cp->device) : NULL;
    if (!d || d->sim || !d->registered || memcmp(d->noise_pub, c->client_static, 32) != 0) {
        log_info("fakewa", c->name, "login refused for %s:%u", phone, cp->device);
        send_failure(c, "401");
        return;
    }
    struct wa_node *fail = fw_faults_on_login(s, a, d);
    if (fail) {
        s->stats.login_failures++;
        send_free(c, fail);
        fw_conn_close(c, false);
        return;
    }
    if (d->conn) replace_old(d->conn);
    fw_conn_bind(c, a, d);
    d->conn = c;
    fw_queue_reset_sent(d);
    c->passive = cp->has_passive && cp->passive;
    s->stats.logins++;
    struct wa_node *ok = nb_new("success", NULL);
    nb_attr_u64(ok, "t", fw_now());
    nb_attr(ok, "props", "1");
    char lid[WA_JID_STR_MAX];
    fw_lid_jid(a, d->id, true, lid);
    nb_attr_jid(ok, "lid", lid);
    nb_attr(ok, "location", "frc");
    nb_attr_u64(ok, "creation", d->paired_at);
    send_free(c, ok);
    log_info("fakewa", c->name, "logged in (passive=%d, queued=%zu)", c->passive, d->qlen);
    if (!c->passive && c->state == FWC_ONLINE) fw_flush_queue(c, true);
}

void fw_router_on_payload(struct fw_conn *c, const uint8_t *p, size_t len)
{
    Wa__ClientPayload *cp = wa__client_payload__unpack(NULL, len, p);
    if (!cp) {
        log_warn("fakewa", c->name, "undecodable ClientPayload");
        fw_conn_close(c, false);
        return;
    }
    if (cp->devicepairingdata) {
        char err[128] = "";
        if (fw_pairing_start(c, cp->devicepairingdata, err, sizeof(err)) < 0) {
            log_warn("fakewa", c->name, "registration refused: %s", err);
            send_failure(c, "400");
        }
    } else if (cp->has_username) {
        login(c, cp);
    } else {
        send_failure(c, "400");
    }
    wa__client_payload__free_unpacked(cp, NULL);
}

void fw_router_on_close(struct fw_conn *c)
{
    if (c->dev && c->dev->conn == c) {
        c->dev->conn = NULL;
        fw_queue_reset_sent(c->dev);
    }
    fw_pairing_free(c);
}

/* ---- iq: encrypt ---- */

/* The device's signed pre-key becomes (id, pub, sig); a different one is remembered as the
 * previous (for tests). Returns true if it changed. */
static bool set_spk(struct fw_device *d, uint32_t id, const uint8_t *pub, const uint8_t *sig)
{
    if (id == d->spk_id && memcmp(pub, d->spk_pub, 32) == 0) return false;
    d->spk_prev_id = d->spk_id;
    memcpy(d->spk_prev_pub, d->spk_pub, 32);
    memcpy(d->spk_prev_sig, d->spk_sig, 64);
    d->spk_id = id;
    memcpy(d->spk_pub, pub, 32);
    memcpy(d->spk_sig, sig, 64);
    return true;
}

static void prekey_upload(struct fw_conn *c, const struct wa_node *iq)
{
    struct fw_device *d = c->dev;
    const uint8_t *reg, *ident;
    struct wa_node *skey = wa_node_child(iq, "skey");
    const uint8_t *sid, *sval, *ssig;
    if (bytes_of(iq, "registration", 4, &reg)) d->regid = (uint32_t)nb_rd_be(reg, 4);
    if (bytes_of(iq, "identity", 32, &ident)) memcpy(d->identity, ident, 32);
    if (skey && bytes_of(skey, "id", 3, &sid) && bytes_of(skey, "value", 32, &sval) &&
        bytes_of(skey, "signature", 64, &ssig))
        (void)set_spk(d, (uint32_t)nb_rd_be(sid, 3), sval, ssig);
    struct wa_node *list = wa_node_child(iq, "list");
    size_t added = 0;
    for (struct wa_node *k = list ? wa_node_next_child(list, "key", NULL) : NULL; k;
         k = wa_node_next_child(list, "key", k)) {
        const uint8_t *kid, *kval;
        if (!bytes_of(k, "id", 3, &kid) || !bytes_of(k, "value", 32, &kval)) continue;
        struct fw_prekey_pub pk = {.id = (uint32_t)nb_rd_be(kid, 3)};
        memcpy(pk.pub, kval, 32);
        added += fw_prekeys_add(d, &pk, 1);
    }
    log_debug("fakewa", c->name, "pre-keys uploaded: %zu (now %zu)", added, d->nprekeys);
    fw_account_save(c->srv, c->acc);
    send_free(c, iq_result(iq));
}

/* <rotate><skey><id/><value/><signature/></skey></rotate>: the device's new signed pre-key
 * (signature checked against its identity), handed out in bundles from now on; the previous
 * one is remembered for tests. Fault: iq_error with xmlns "encrypt.rotate". */
static void spk_rotate(struct fw_conn *c, const struct wa_node *iq, const struct wa_node *rot)
{
    struct fw_device *d = c->dev;
    const struct wa_node *skey = wa_node_child(rot, "skey");
    const uint8_t *sid, *sval, *ssig;
    int fault = fw_faults_on_iq(c->srv, c->acc, d, "encrypt.rotate");
    if (fault) {
        iq_error(c, iq, fault, "internal-server-error");
        return;
    }
    if (!skey || !bytes_of(skey, "id", 3, &sid) || !bytes_of(skey, "value", 32, &sval) ||
        !bytes_of(skey, "signature", 64, &ssig)) {
        iq_error(c, iq, 400, "bad-request");
        return;
    }
    uint8_t msg[33] = {5};
    memcpy(msg + 1, sval, 32);
    if (wa_xeddsa_verify(d->identity, msg, sizeof(msg), ssig, 64) != 0) {
        log_warn("fakewa", c->name, "rotate: the signed pre-key signature does not verify");
        iq_error(c, iq, 406, "not-acceptable");
        return;
    }
    (void)set_spk(d, (uint32_t)nb_rd_be(sid, 3), sval, ssig);
    d->spk_rotations++;
    log_info("fakewa", c->name, "signed pre-key rotated to %u (previous %u)", d->spk_id,
             d->spk_prev_id);
    fw_account_save(c->srv, c->acc);
    send_free(c, iq_result(iq));
}

static void add_bundle(struct wa_node *user, struct fw_device *d, bool *dirty)
{
    uint8_t b[4];
    nb_be(b, d->regid, 4);
    nb_add_bytes(user, "registration", b, 4);
    nb_add_bytes(user, "type", "\x05", 1);
    nb_add_bytes(user, "identity", d->identity, 32);
    struct wa_node *sk = nb_add(user, "skey", NULL);
    nb_be(b, d->spk_id, 3);
    nb_add_bytes(sk, "id", b, 3);
    nb_add_bytes(sk, "value", d->spk_pub, 32);
    nb_add_bytes(sk, "signature", d->spk_sig, 64);
    struct fw_prekey_pub pk;
    if (fw_prekey_take(d, &pk) == 1) {
        struct wa_node *k = nb_add(user, "key", NULL);
        nb_be(b, pk.id, 3);
        nb_add_bytes(k, "id", b, 3);
        nb_add_bytes(k, "value", pk.pub, 32);
        *dirty = true;
    }
}

static void bundle_fetch(struct fw_conn *c, const struct wa_node *iq, const struct wa_node *key)
{
    struct wa_node *r = iq_result(iq);
    struct wa_node *list = nb_add(r, "list", NULL);
    for (struct wa_node *u = wa_node_next_child(key, "user", NULL); u;
         u = wa_node_next_child(key, "user", u)) {
        struct wa_jid j;
        if (wa_node_attr_jid(u, "jid", &j) < 0) continue;
        struct wa_node *out = nb_add(list, "user", NULL);
        nb_attr_jidv(out, "jid", &j);
        struct fw_account *a = fw_account_by_jid(c->srv, &j);
        struct fw_device *d = a ? fw_device_get(a, j.device) : NULL;
        if (!d || !d->registered) {
            nb_add(out, "error", "code", "404", "text", "item-not-found", NULL);
            continue;
        }
        bool dirty = false;
        add_bundle(out, d, &dirty);
        if (dirty && !d->sim) fw_account_save(c->srv, a);
        if (d->nprekeys < 5 && d->conn && d->conn != c && d->conn->state == FWC_ONLINE) {
            struct wa_node *nt = nb_new("notification", "type", "encrypt", NULL);
            char id[64];
            fw_new_id(c->srv, "n-", id, sizeof(id));
            nb_attr(nt, "id", id);
            nb_attr_jid(nt, "from", "s.whatsapp.net");
            nb_attr_u64(nt, "t", fw_now());
            struct wa_node *cnt = nb_add(nt, "count", NULL);
            nb_attr_u64(cnt, "value", d->nprekeys);
            fw_deliver(c->srv, a, d, nt);
        }
    }
    send_free(c, r);
}

static void iq_encrypt(struct fw_conn *c, const struct wa_node *iq)
{
    const char *type = attr(iq, "type");
    struct wa_node *ch;
    if (strcmp(type, "get") == 0 && wa_node_child(iq, "count")) {
        struct wa_node *r = iq_result(iq);
        struct wa_node *cnt = nb_add(r, "count", NULL);
        nb_attr_u64(cnt, "value", c->dev->nprekeys);
        send_free(c, r);
    } else if (strcmp(type, "get") == 0 && wa_node_child(iq, "digest")) {
        struct wa_node *r = iq_result(iq);
        nb_add(r, "digest", NULL);
        send_free(c, r);
    } else if (strcmp(type, "get") == 0 && (ch = wa_node_child(iq, "key"))) {
        bundle_fetch(c, iq, ch);
    } else if (strcmp(type, "set") == 0 && (ch = wa_node_child(iq, "rotate"))) {
        spk_rotate(c, iq, ch);
    } else if (strcmp(type, "set") == 0) {
        prekey_upload(c, iq);
    } else {
        iq_error(c, iq, 400, "bad-request");
    }
}

/* ---- iq: usync ---- */

static void usync_user(struct fw_conn *c, struct wa_node *list, const struct wa_node *u,
                       const struct wa_node *query)
{
    struct wa_jid j;
    struct wa_node *out = nb_add(list, "user", NULL);
    if (wa_node_attr_jid(u, "jid", &j) == 0) {
        nb_attr_jidv(out, "jid", &j);
    } else {
        /* contact lookup by phone number: <user><contact>+1555...</contact></user> */
        struct wa_node *ct = wa_node_child(u, "contact");
        size_t n = 0;
        const uint8_t *b = ct ? wa_node_content_bytes(ct, &n) : NULL;
        const char *s = ct ? wa_node_content_string(ct) : NULL;
        char tmp[64] = "";
        if (b && n < sizeof(tmp))
            memcpy(tmp, b, n);
        else if (s)
            snprintf(tmp, sizeof(tmp), "%s", s);
        char digits[FW_PHONE_MAX];
        if (fw_phone_norm(tmp, digits) < 0 || wa_jid_set(&j, digits, WA_SERVER_PN) < 0) return;
        nb_attr_jidv(out, "jid", &j);
    }
    struct fw_account *a = fw_account_by_jid(c->srv, &j);
    if (wa_node_child(query, "contact")) nb_add(out, "contact", "type", a ? "in" : "out", NULL);
    if (!a) return;
    if (wa_node_child(query, "devices")) {
        struct wa_node *dl = nb_add(nb_add(out, "devices", NULL), "device-list", NULL);
        for (size_t i = 0; i < a->ndev; i++) {
            struct fw_device *d = a->dev[i];
            if (!d->registered) continue;
            struct wa_node *dn = nb_add(dl, "device", NULL);
            nb_attr_u64(dn, "id", d->id);
            if (d->id) nb_attr_u64(dn, "key-index", d->key_index);
        }
    }
    if (wa_node_child(query, "lid")) {
        char lid[WA_JID_STR_MAX];
        fw_lid_jid(a, 0, false, lid);
        nb_attr_jid(nb_add(out, "lid", NULL), "val", lid);
    }
}

static void iq_usync(struct fw_conn *c, const struct wa_node *iq)
{
    struct wa_node *us = wa_node_child(iq, "usync");
    struct wa_node *query = us ? wa_node_child(us, "query") : NULL;
    struct wa_node *list = us ? wa_node_child(us, "list") : NULL;
    if (!query || !list) {
        iq_error(c, iq, 400, "bad-request");
        return;
    }
    struct wa_node *r = iq_result(iq);
    struct wa_node *ro =
        nb_add(r, "usync", "sid", attr(us, "sid"), "index", "0", "last", "true", NULL);
    nb_add(ro, "result", NULL);
    struct wa_node *ol = nb_add(ro, "list", NULL);
    size_t n = 0;
    for (struct wa_node *u = wa_node_next_child(list, "user", NULL); u && n < 1024;
         u = wa_node_next_child(list, "user", u), n++)
        usync_user(c, ol, u, query);
    send_free(c, r);
}

/* ---- iq: groups ---- */

static void group_node(struct fw_server *s, struct wa_node *parent, const struct fw_group *g)
{
    struct wa_node *gn =
        nb_add(parent, "group", "id", g->id, "subject", g->subject, "addressing_mode", "pn", NULL);
    nb_attr_u64(gn, "s_t", g->creation);
    nb_attr_u64(gn, "creation", g->creation);
    char j[WA_JID_STR_MAX];
    if (g->creator) {
        fw_pn_jid(g->creator, 0, false, j);
        nb_attr_jid(gn, "creator", j);
        nb_attr_jid(gn, "s_o", j);
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        struct wa_node *p = nb_add(gn, "participant", NULL);
        fw_pn_jid(g->members[i], 0, false, j);
        nb_attr_jid(p, "jid", j);
        fw_lid_jid(g->members[i], 0, false, j);
        nb_attr_jid(p, "lid", j);
        if (g->members[i] == g->creator) nb_attr(p, "type", "superadmin");
    }
    (void)s;
}

static void iq_groups(struct fw_conn *c, const struct wa_node *iq)
{
    struct wa_jid to;
    if (wa_node_attr_jid(iq, "to", &to) < 0) {
        iq_error(c, iq, 400, "bad-request");
        return;
    }
    struct wa_node *r = iq_result(iq);
    if (to.user[0]) {
        struct fw_group *g = fw_group_find(c->srv, to.user);
        if (!g || !fw_group_has(g, c->acc)) {
            wa_node_free(r);
            iq_error(c, iq, 404, "item-not-found");
            return;
        }
        nb_attr_jidv(r, "from", &to);
        group_node(c->srv, r, g);
    } else {
        struct wa_node *gs = nb_add(r, "groups", NULL);
        for (size_t i = 0; i < c->srv->reg->ngrp; i++)
            if (fw_group_has(c->srv->reg->grp[i], c->acc))
                group_node(c->srv, gs, c->srv->reg->grp[i]);
    }
    send_free(c, r);
}

/* ---- iq dispatch ---- */

static void iq_passive(struct fw_conn *c, const struct wa_node *iq)
{
    send_free(c, iq_result(iq));
    if (wa_node_child(iq, "active")) {
        c->passive = false;
        if (c->state == FWC_ONLINE) fw_flush_queue(c, true);
    } else if (wa_node_child(iq, "passive")) {
        c->passive = true;
    }
}

static void iq_simple(struct fw_conn *c, const struct wa_node *iq, const char *xmlns)
{
    struct wa_node *r = iq_result(iq);
    if (strcmp(xmlns, "abt") == 0) {
        struct wa_node *p = nb_add(r, "props", "protocol", "1", "hash", "fakewa1", NULL);
        nb_add(p, "prop", "config_code", "10518", "config_value", "false", NULL);
    } else if (strcmp(xmlns, "blocklist") == 0) {
        nb_add(r, "list", NULL);
    } else if (strcmp(xmlns, "privacy") == 0 && strcmp(attr(iq, "type"), "get") == 0) {
        struct wa_node *p = nb_add(r, "privacy", NULL);
        static const char *cats[] = {"readreceipts", "last",     "online", "profile",
                                     "status",       "groupadd", "calladd"};
        for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
            nb_add(p, "category", "name", cats[i], "value", i == 0 ? "all" : "contacts", NULL);
    } else if (strcmp(xmlns, "w:m") == 0) {
        const char *host = "127.0.0.1", *auth = "fakewa";
        unsigned ttl = 3600;
        char ttls[16], maxs[24];
        (void)fw_media_conn_info(&host, &auth, &ttl); /* the media host, when --media runs */
        snprintf(ttls, sizeof(ttls), "%u", ttl);
        snprintf(maxs, sizeof(maxs), "%llu", (unsigned long long)FW_MEDIA_FILE_MAX);
        struct wa_node *m = nb_add(r, "media_conn", "auth", auth, "ttl", ttls, "auth_ttl", ttls,
                                   "max_buckets", "12", NULL);
        nb_add(m, "host", "hostname", host, "maxContentLengthBytes", maxs, NULL);
    } else if (strcmp(xmlns, "md") == 0) {
        struct wa_node *rm = wa_node_child(iq, "remove-companion-device");
        struct wa_jid j;
        if (rm && wa_node_attr_jid(rm, "jid", &j) == 0 && c->acc &&
            fw_account_by_jid(c->srv, &j) == c->acc && j.device && j.device != c->dev->id) {
            struct fw_device *d = fw_device_get(c->acc, j.device);
            if (d) {
                if (d->conn) fw_conn_close(d->conn, false);
                fw_device_remove(c->acc, d);
                fw_account_save(c->srv, c->acc);
            }
        }
    }
    send_free(c, r);
}

static void on_iq(struct fw_conn *c, const struct wa_node *iq)
{
    const char *type = attr(iq, "type");
    if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
        if (c->state == FWC_PAIRING) (void)fw_pairing_on_iq(c, iq);
        return;
    }
    const char *xmlns = attr(iq, "xmlns");
    if (strcmp(xmlns, "w:p") == 0) {
        if (!c->stall) send_free(c, iq_result(iq));
        return;
    }
    if (c->state == FWC_PAIRING && fw_paircode_on_iq(c, iq)) return;
    if (c->state != FWC_ONLINE) {
        iq_error(c, iq, 401, "not-authorized");
        return;
    }
    int fault = fw_faults_on_iq(c->srv, c->acc, c->dev, xmlns);
    if (fault) {
        iq_error(c, iq, fault, "internal-server-error");
        return;
    }
    if (strcmp(xmlns, "encrypt") == 0)
        iq_encrypt(c, iq);
    else if (strcmp(xmlns, "passive") == 0)
        iq_passive(c, iq);
    else if (strcmp(xmlns, "usync") == 0)
        iq_usync(c, iq);
    else if (strcmp(xmlns, "w:g2") == 0)
        iq_groups(c, iq);
    else if (!strcmp(xmlns, "abt") || !strcmp(xmlns, "blocklist") || !strcmp(xmlns, "privacy") ||
             !strcmp(xmlns, "w:m") || !strcmp(xmlns, "md") ||
             !strcmp(xmlns, "urn:xmpp:whatsapp:dirty") || !strcmp(xmlns, "status") ||
             !strcmp(xmlns, "w:profile:picture") || !strcmp(xmlns, "w"))
        iq_simple(c, iq, xmlns);
    else
        iq_error(c, iq, 501, "feature-not-implemented");
}

/* ---- messages ---- */

static void sender_attrs(struct wa_node *m, struct fw_account *a, struct fw_device *d, bool group,
                         const struct wa_jid *chat)
{
    char lid[WA_JID_STR_MAX], pn[WA_JID_STR_MAX];
    fw_lid_jid(a, d->id, false, lid);
    fw_pn_jid(a, d->id, false, pn);
    if (group) {
        nb_attr_jidv(m, "from", chat);
        nb_attr_jid(m, "participant", pn);
        nb_attr_jid(m, "participant_lid", lid);
        nb_attr(m, "addressing_mode", "pn");
    } else {
        nb_attr_jid(m, "from", lid);
        nb_attr_jid(m, "sender_pn", pn);
        nb_attr(m, "addressing_mode", "lid");
    }
}

static struct wa_node *delivery(struct fw_server *s, const struct wa_node *msg,
                                struct fw_account *a, struct fw_device *d,
                                const struct wa_jid *chat, bool group, bool own)
{
    struct wa_node *m = nb_new("message", "id", attr(msg, "id"), NULL);
    sender_attrs(m, a, d, group, chat);
    nb_attr(m, "type", wa_node_attr(msg, "type") ? attr(msg, "type") : "text");
    nb_attr_u64(m, "t", fw_now());
    nb_attr(m, "notify", a->name[0] ? a->name : a->phone);
    if (own && !group) nb_attr_jidv(m, "recipient", chat);
    static const char *copy[] = {"edit", "category", "push_priority", "mediatype"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
        if (wa_node_attr(msg, copy[i])) nb_attr(m, copy[i], attr(msg, copy[i]));
    (void)s;
    return m;
}

static struct wa_node *find_to(const struct wa_node *msg, struct fw_account *ra, uint32_t dev)
{
    struct wa_node *ps = wa_node_child(msg, "participants");
    for (struct wa_node *t = ps ? wa_node_next_child(ps, "to", NULL) : NULL; t;
         t = wa_node_next_child(ps, "to", t)) {
        struct wa_jid j;
        if (wa_node_attr_jid(t, "jid", &j) == 0 && j.device == dev) {
            if ((strcmp(j.server, WA_SERVER_LID) == 0 && strcmp(j.user, ra->lid) == 0) ||
                (strcmp(j.server, WA_SERVER_PN) == 0 && strcmp(j.user, ra->phone) == 0))
                return t;
        }
    }
    return NULL;
}

static void add_encs(struct wa_node *m, const struct wa_node *to, const struct wa_node *msg)
{
    bool pk = false;
    for (struct wa_node *e = to ? wa_node_next_child(to, "enc", NULL) : NULL; e;
         e = wa_node_next_child(to, "enc", e)) {
        nb_adopt(m, nb_clone(e));
        pk |= strcmp(attr(e, "type"), "pkmsg") == 0;
    }
    for (struct wa_node *e = wa_node_next_child(msg, "enc", NULL); e;
         e = wa_node_next_child(msg, "enc", e)) {
        nb_adopt(m, nb_clone(e));
        pk |= strcmp(attr(e, "type"), "pkmsg") == 0;
    }
    struct wa_node *di = wa_node_child(msg, "device-identity");
    if (pk && di) nb_adopt(m, nb_clone(di));
}

static size_t route_group(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                          const struct wa_node *msg, const struct wa_jid *chat)
{
    struct fw_group *g = fw_group_find(s, chat->user);
    if (!g || !fw_group_has(g, a)) return 0;
    size_t n = 0;
    for (size_t i = 0; i < g->nmembers; i++) {
        struct fw_account *ra = g->members[i];
        for (size_t k = 0; k < ra->ndev; k++) {
            struct fw_device *rd = ra->dev[k];
            if (!rd->registered || (ra == a && rd == d)) continue;
            struct wa_node *to = find_to(msg, ra, rd->id);
            if (!to && !wa_node_child(msg, "enc")) continue;
            struct wa_node *m = delivery(s, msg, a, d, chat, true, ra == a);
            add_encs(m, to, msg);
            fw_deliver(s, ra, rd, m);
            n++;
        }
    }
    return n;
}

size_t fw_route_message(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                        const struct wa_node *msg)
{
    struct wa_jid chat;
    if (wa_node_attr_jid(msg, "to", &chat) < 0) return 0;
    fw_track_message(s, attr(msg, "id"), a, d);
    struct fw_track *tr = track_find(s, attr(msg, "id"));
    if (tr) tr->chat_lid = wa_jid_is_lid(&chat);
    if (wa_jid_is_group(&chat)) return route_group(s, a, d, msg, &chat);
    size_t n = 0;
    struct wa_node *ps = wa_node_child(msg, "participants");
    for (struct wa_node *t = ps ? wa_node_next_child(ps, "to", NULL) : NULL; t;
         t = wa_node_next_child(ps, "to", t)) {
        struct wa_jid j;
        if (wa_node_attr_jid(t, "jid", &j) < 0) continue;
        struct fw_account *ra = fw_account_by_jid(s, &j);
        struct fw_device *rd = ra ? fw_device_get(ra, j.device) : NULL;
        if (!rd || !rd->registered || (ra == a && rd == d)) continue;
        struct wa_node *m = delivery(s, msg, a, d, &chat, false, ra == a);
        add_encs(m, t, msg);
        fw_deliver(s, ra, rd, m);
        n++;
    }
    if (!ps && wa_node_child(msg, "enc")) {
        /* direct stanza for one device: peer messages to our own phone, single-device
         * retry resends (<message to='<device>'><enc count=…/></message>) */
        struct fw_account *ra = fw_account_by_jid(s, &chat);
        struct fw_device *rd = ra ? fw_device_get(ra, chat.device) : NULL;
        if (rd && rd->registered && !(ra == a && rd == d)) {
            struct wa_node *m = delivery(s, msg, a, d, &chat, false, false);
            add_encs(m, NULL, msg);
            fw_deliver(s, ra, rd, m);
            n++;
        }
    }
    return n;
}

static void on_message(struct fw_conn *c, const struct wa_node *msg)
{
    struct wa_jid chat;
    struct wa_node *ack = nb_new("ack", "class", "message", "id", attr(msg, "id"), NULL);
    nb_attr_u64(ack, "t", fw_now());
    if (wa_node_attr_jid(msg, "to", &chat) == 0)
        nb_attr_jidv(ack, "from", &chat);
    else
        nb_attr(ack, "error", "400");
    send_free(c, ack);
    size_t n = fw_route_message(c->srv, c->acc, c->dev, msg);
    log_debug("fakewa", c->name, "message %s fanned out to %zu devices", attr(msg, "id"), n);
}

/* ---- receipts and acks ---- */

void fw_route_receipt(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                      const struct wa_node *rcpt)
{
    const char *id = attr(rcpt, "id");
    fw_queue_drop(d, id);
    struct wa_node *list = wa_node_child(rcpt, "list");
    for (struct wa_node *it = list ? wa_node_next_child(list, "item", NULL) : NULL; it;
         it = wa_node_next_child(list, "item", it))
        fw_queue_drop(d, attr(it, "id"));
    struct fw_track *t = track_find(s, id);
    if (!t) return;
    struct fw_device *sd = fw_device_get(t->acc, t->dev);
    if (!sd) return;
    struct wa_jid to;
    bool lid = t->chat_lid;
    struct wa_node *r = nb_new("receipt", "id", id, NULL);
    char j[WA_JID_STR_MAX];
    if (lid)
        fw_lid_jid(a, d->id, false, j);
    else
        fw_pn_jid(a, d->id, false, j);
    bool have_to = wa_node_attr_jid(rcpt, "to", &to) == 0;
    if (have_to && (wa_node_attr(rcpt, "participant") || wa_jid_is_group(&to))) {
        nb_attr_jidv(r, "from", &to);
        nb_attr_jid(r, "participant", j);
    } else {
        nb_attr_jid(r, "from", j);
    }
    if (wa_node_attr(rcpt, "type")) nb_attr(r, "type", attr(rcpt, "type"));
    if (wa_node_attr(rcpt, "recipient")) nb_attr(r, "recipient", attr(rcpt, "recipient"));
    nb_attr_u64(r, "t", fw_now());
    for (size_t i = 0; i < wa_node_child_count(rcpt); i++)
        nb_adopt(r, nb_clone(wa_node_child_at(rcpt, i)));
    s->stats.receipts_routed++;
    fw_deliver(s, t->acc, sd, r);
}

static void on_receipt(struct fw_conn *c, const struct wa_node *rc)
{
    struct wa_node *ack = nb_new("ack", "class", "receipt", "id", attr(rc, "id"), NULL);
    struct wa_jid to;
    if (wa_node_attr_jid(rc, "to", &to) == 0) nb_attr_jidv(ack, "from", &to);
    if (wa_node_attr(rc, "type")) nb_attr(ack, "type", attr(rc, "type"));
    send_free(c, ack);
    const char *type = wa_node_attr(rc, "type");
    if (type && strcmp(type, "server-error") == 0) { /* media retry: for the sender's phone */
        fw_media_on_retry(c, rc);
        return;
    }
    fw_route_receipt(c->srv, c->acc, c->dev, rc);
}

void fw_router_on_node(struct fw_conn *c, const struct wa_node *n)
{
    const char *tag = n->tag.s;
    if (strcmp(tag, "iq") == 0) {
        on_iq(c, n);
        return;
    }
    if (c->state == FWC_PAIRING && strcmp(tag, "ack") == 0) fw_paircode_on_ack(c, n);
    if (c->state != FWC_ONLINE) return;
    if (strcmp(tag, "message") == 0)
        on_message(c, n);
    else if (strcmp(tag, "receipt") == 0)
        on_receipt(c, n);
    else if (strcmp(tag, "ack") == 0)
        fw_queue_drop(c->dev, attr(n, "id"));
    else if (strcmp(tag, "chatstate") == 0) { /* recorded for tests (simkinds.h) */
        char from[WA_JID_STR_MAX];
        fw_pn_jid(c->acc, c->dev->id, true, from);
        fw_chatstate_note(from, n, fw_now_ms());
    }
    /* ib, presence, call: nothing to do */
}
