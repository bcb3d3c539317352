/* SPDX-License-Identifier: MIT */
/* admin.c -- admin HTTP API: accounts, contacts, scan, groups, faults, stats, floods. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "accounts.h"
#include "api/http.h"
#include "contacts.h"
#include "simkinds.h"
#include "core/hex.h"
#include "core/log.h"
#include "conn.h"
#include "faults.h"
#include "flood.h"
#include "mediasrv.h"
#include "paircode.h"
#include "pairing.h"
#include "router.h"

#define IDLE_MS 10000

struct aconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    uv_write_t wr;
    struct fw_server *s;
    struct http_parser *hp;
    struct buf out;
    struct fw_flood *flood; /* POST /admin/flood running for this connection */
    int open;
    bool done;
};

static uv_tcp_t *g_admin;

static void on_closed(uv_handle_t *h)
{
    struct aconn *c = h->data;
    if (--c->open == 0) {
        http_parser_free(c->hp);
        buf_free(&c->out);
        free(c);
    }
}

static void aclose(struct aconn *c)
{
    fw_flood_cancel(c->flood); /* the requester went away */
    c->flood = NULL;
    uv_timer_stop(&c->timer);
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_closed);
}

static void on_shut(uv_shutdown_t *r, int st)
{
    (void)st;
    aclose(r->data);
}

static void on_written(uv_write_t *w, int st)
{
    struct aconn *c = w->data;
    (void)st;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shut) < 0) aclose(c);
}

static void reply(struct aconn *c, int status, cJSON *body)
{
    char *txt = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    const char *t = txt ? txt : "{}";
    c->done = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    buf_reset(&c->out);
    if (http_response_build(&c->out, status, "application/json", t, strlen(t), NULL, false) < 0) {
        free(txt);
        aclose(c);
        return;
    }
    free(txt);
    uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) aclose(c);
}

static void reply_err(struct aconn *c, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    reply(c, status, o);
}

static int errno_status(int rc)
{
    switch (rc) {
    case -ENOENT:
        return 404;
    case -EEXIST:
    case -EALREADY:
        return 409;
    case -ENOSPC:
        return 507;
    case -EKEYREJECTED:
        return 403;
    default:
        return 400;
    }
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *device_json(const struct fw_account *a, const struct fw_device *d)
{
    cJSON *o = cJSON_CreateObject();
    char j[WA_JID_STR_MAX];
    fw_pn_jid(a, d->id, false, j);
    cJSON_AddStringToObject(o, "jid", j);
    fw_lid_jid(a, d->id, false, j);
    cJSON_AddStringToObject(o, "lid", j);
    cJSON_AddNumberToObject(o, "device", d->id);
    cJSON_AddBoolToObject(o, "simulated", d->sim);
    cJSON_AddBoolToObject(o, "registered", d->registered);
    cJSON_AddBoolToObject(o, "online", d->conn != NULL);
    cJSON_AddNumberToObject(o, "key_index", d->key_index);
    cJSON_AddNumberToObject(o, "prekeys", (double)d->nprekeys);
    cJSON_AddNumberToObject(o, "spk_id", d->spk_id);
    cJSON_AddNumberToObject(o, "spk_prev_id", d->spk_prev_id);
    cJSON_AddNumberToObject(o, "spk_rotations", d->spk_rotations);
    cJSON_AddNumberToObject(o, "queued", (double)d->qlen);
    return o;
}

static cJSON *account_json(const struct fw_account *a, bool devices)
{
    cJSON *o = cJSON_CreateObject();
    char h[65], j[WA_JID_STR_MAX];
    cJSON_AddStringToObject(o, "phone", a->phone);
    fw_pn_jid(a, 0, false, j);
    cJSON_AddStringToObject(o, "jid", j);
    fw_lid_jid(a, 0, false, j);
    cJSON_AddStringToObject(o, "lid", j);
    if (a->name[0]) cJSON_AddStringToObject(o, "name", a->name);
    hex_encode(h, a->acct.pub, 32);
    cJSON_AddStringToObject(o, "identity", h);
    if (devices) {
        cJSON *arr = cJSON_AddArrayToObject(o, "devices");
        for (size_t i = 0; i < a->ndev; i++)
            cJSON_AddItemToArray(arr, device_json(a, a->dev[i]));
    }
    return o;
}

static void h_create(struct aconn *c, const cJSON *body, bool contact)
{
    const char *phone = jstr(body, "phone"), *name = jstr(body, "name");
    if (!phone || (contact && !name)) {
        reply_err(c, 400, contact ? "need name and phone" : "need phone");
        return;
    }
    struct fw_account *a;
    int rc = fw_account_create(c->s, phone, contact ? name : NULL, &a);
    if (rc < 0) {
        reply_err(c, errno_status(rc), rc == -EEXIST ? "exists" : strerror(-rc));
        return;
    }
    log_info("fakewa", a->phone, "account created%s%s", a->name[0] ? " for " : "", a->name);
    reply(c, 201, account_json(a, true));
}

static void h_scan(struct aconn *c, const cJSON *body)
{
    const char *qr = jstr(body, "qr");
    struct fw_account *a = fw_account_lookup(c->s, jstr(body, "phone"));
    if (!qr || !a) {
        reply_err(c, !qr ? 400 : 404, !qr ? "need qr" : "unknown account");
        return;
    }
    char jid[WA_JID_STR_MAX], err[160];
    int rc = fw_pairing_scan(c->s, qr, a, jid, err, sizeof(err));
    if (rc < 0) {
        reply_err(c, errno_status(rc), err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jid", jid);
    reply(c, 200, o);
}

/* POST /admin/paircode {"phone","code"}: the phone's user types a code (paircode.h). */
static void h_paircode(struct aconn *c, const cJSON *body)
{
    char err[160];
    int rc = fw_paircode_type(c->s, jstr(body, "phone"), jstr(body, "code"), err, sizeof(err));
    if (rc < 0) {
        reply_err(c, rc == -EINVAL ? 400 : rc == -EALREADY ? 409 : rc == -ENOENT ? 404 : 500, err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "typed");
    reply(c, 200, o);
}

/* A message of any kind (simkinds.h) from a's phone; body has "kind". */
static void h_send_kind(struct aconn *c, struct fw_account *a, const cJSON *body, const char *to)
{
    /* reactions / edits / revokes name their chat from the sender's side */
    cJSON *b = cJSON_Duplicate(body, 1);
    char chat[WA_JID_STR_MAX] = "";
    struct fw_group *g = strchr(to, '@') && !strstr(to, "@g.us") ? NULL : fw_group_find(c->s, to);
    struct fw_account *ra = g ? NULL : fw_account_lookup(c->s, to);
    if (g)
        snprintf(chat, sizeof chat, "%s@g.us", g->id);
    else if (ra)
        fw_pn_jid(ra, 0, false, chat);
    else
        snprintf(chat, sizeof chat, "%s", to);
    if (b && !cJSON_GetObjectItem(b, "chat")) cJSON_AddStringToObject(b, "chat", chat);
    char id[64], err[256] = "";
    struct fw_kind_msg *k = b ? fw_kind_build(b, err, sizeof err) : NULL;
    int rc = k ? fw_sim_send_msg(c->s, a, to, fw_kind_message(k), id, err, sizeof(err)) : -EINVAL;
    /* a media message of a stored file: the phone can upload it again (media retry) */
    const char *enc = jstr(b, "enc_sha256"), *mk = jstr(b, "media_key");
    uint8_t key[32];
    bool keep = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b, "media_retry"));
    if (rc == 0 && keep && enc && mk && strlen(mk) == 64 && hex_decode(key, 32, mk, 64) == 32)
        fw_media_remember(id, key, enc);
    fw_kind_free(k);
    cJSON_Delete(b);
    if (rc < 0) {
        reply_err(c, errno_status(rc), err[0] ? err : "bad kind");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    reply(c, 200, o);
}

static void h_send(struct aconn *c, struct fw_account *a, const cJSON *body)
{
    if ((cJSON_GetObjectItemCaseSensitive(body, "kind") ||
         cJSON_GetObjectItemCaseSensitive(body, "reply_to") ||
         cJSON_GetObjectItemCaseSensitive(body, "mentions")) &&
        jstr(body, "to")) {
        h_send_kind(c, a, body, jstr(body, "to"));
        return;
    }
    const char *to = jstr(body, "to"), *text = jstr(body, "text"), *hex = jstr(body, "text_hex");
    /* text_hex: the text's bytes as they go into the protobuf, unchecked (invalid UTF-8
     * from a contact, for tests); no NUL */
    static char raw[FW_SIM_TEXT_MAX + 1];
    if (!text && hex) {
        long n = hex_decode((uint8_t *)raw, FW_SIM_TEXT_MAX, hex, strlen(hex));
        if (n <= 0 || memchr(raw, 0, (size_t)n)) {
            reply_err(c, 400, "text_hex: 1..65536 bytes of hex without 00");
            return;
        }
        raw[n] = '\0';
        text = raw;
    }
    if (!to || !text) {
        reply_err(c, 400, "need to and text (or text_hex)");
        return;
    }
    const char *bundle = jstr(body, "bundle");
    enum fw_sim_bundle fresh = FW_SIM_BUNDLE_KEEP;
    if (bundle && strcmp(bundle, "current") == 0)
        fresh = FW_SIM_BUNDLE_CURRENT;
    else if (bundle && strcmp(bundle, "previous") == 0)
        fresh = FW_SIM_BUNDLE_PREVIOUS;
    else if (bundle) {
        reply_err(c, 400, "bundle: \"current\" or \"previous\"");
        return;
    }
    char id[64], err[256] = "";
    fw_sim_fresh_sessions(a->sim, fresh);
    int rc = fw_sim_send(c->s, a, to, text, jstr(body, "mention"), id, err, sizeof(err));
    fw_sim_fresh_sessions(a->sim, FW_SIM_BUNDLE_KEEP);
    if (rc < 0) {
        reply_err(c, errno_status(rc), err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    reply(c, 200, o);
}

static void h_config(struct aconn *c, struct fw_account *a, const cJSON *body)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "answer_retries");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "answer_placeholders");
    if ((v && !cJSON_IsBool(v)) || (p && !cJSON_IsBool(p)) || (!v && !p)) {
        reply_err(c, 400, "need answer_retries and/or answer_placeholders (bool)");
        return;
    }
    if (v) fw_sim_answer_retries(a->sim, cJSON_IsTrue(v));
    if (p) fw_sim_answer_placeholders(a->sim, cJSON_IsTrue(p));
    cJSON *o = cJSON_CreateObject();
    if (v) cJSON_AddBoolToObject(o, "answer_retries", cJSON_IsTrue(v));
    if (p) cJSON_AddBoolToObject(o, "answer_placeholders", cJSON_IsTrue(p));
    reply(c, 200, o);
}

static void h_retry(struct aconn *c, struct fw_account *a, const cJSON *body)
{
    const char *id = jstr(body, "id");
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(body, "count");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(body, "keys");
    unsigned count = cJSON_IsNumber(cnt) && cnt->valuedouble >= 1 && cnt->valuedouble <= 100
                         ? (unsigned)cnt->valuedouble
                         : 1;
    if (!id) {
        reply_err(c, 400, "need id");
        return;
    }
    char err[256] = "";
    int rc = fw_sim_send_retry(c->s, a, id, count, cJSON_IsTrue(keys), err, sizeof(err));
    if (rc < 0) {
        reply_err(c, errno_status(rc), err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    reply(c, 200, o);
}

static void h_group(struct aconn *c, const cJSON *body)
{
    const char *subject = jstr(body, "subject");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(body, "members"), *m;
    struct fw_account *list[FW_MAX_MEMBERS];
    size_t n = 0;
    if (!subject || !cJSON_IsArray(mem)) {
        reply_err(c, 400, "need subject and members");
        return;
    }
    cJSON_ArrayForEach(m, mem)
    {
        struct fw_account *a = cJSON_IsString(m) ? fw_account_lookup(c->s, m->valuestring) : NULL;
        if (!a || n >= FW_MAX_MEMBERS) {
            reply_err(c, a ? 400 : 404, a ? "too many members" : "unknown member");
            return;
        }
        list[n++] = a;
    }
    struct fw_account *creator = fw_account_lookup(c->s, jstr(body, "creator"));
    struct fw_group *g;
    int rc = n ? fw_group_create(c->s, subject, creator ? creator : list[0], list, n, &g) : -EINVAL;
    if (rc < 0) {
        reply_err(c, errno_status(rc), strerror(-rc));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    char j[64];
    snprintf(j, sizeof(j), "%s@g.us", g->id);
    cJSON_AddStringToObject(o, "jid", j);
    cJSON_AddStringToObject(o, "subject", g->subject);
    reply(c, 201, o);
}

static void h_stats(struct aconn *c)
{
    const struct fw_stats *st = &c->s->stats;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "connections", (double)st->connections);
    cJSON_AddNumberToObject(o, "handshakes", (double)st->handshakes);
    cJSON_AddNumberToObject(o, "logins", (double)st->logins);
    cJSON_AddNumberToObject(o, "login_failures", (double)st->login_failures);
    cJSON_AddNumberToObject(o, "pairings", (double)st->pairings);
    cJSON_AddNumberToObject(o, "paircode_typed", (double)st->paircode_typed);
    cJSON_AddNumberToObject(o, "paircode_rejected", (double)st->paircode_rejected);
    cJSON_AddNumberToObject(o, "nodes_in", (double)st->nodes_in);
    cJSON_AddNumberToObject(o, "nodes_out", (double)st->nodes_out);
    cJSON_AddNumberToObject(o, "messages_routed", (double)st->messages_routed);
    cJSON_AddNumberToObject(o, "messages_queued", (double)st->messages_queued);
    cJSON_AddNumberToObject(o, "receipts_routed", (double)st->receipts_routed);
    cJSON_AddNumberToObject(o, "sim_decrypted", (double)st->sim_decrypted);
    cJSON_AddNumberToObject(o, "sim_decrypt_failures", (double)st->sim_decrypt_failures);
    cJSON_AddNumberToObject(o, "sim_retries_answered", (double)st->sim_retries_answered);
    cJSON_AddNumberToObject(o, "sim_sessions_rebuilt", (double)st->sim_sessions_rebuilt);
    cJSON_AddNumberToObject(o, "sim_placeholder_answers", (double)st->sim_placeholder_answers);
    cJSON_AddNumberToObject(o, "faults_applied", (double)st->faults_applied);
    size_t online = 0;
    for (struct fw_conn *k = c->s->conns; k; k = k->next)
        online += k->state == FWC_ONLINE;
    cJSON_AddNumberToObject(o, "online", (double)online);
    cJSON_AddNumberToObject(o, "accounts", (double)c->s->reg->nacc);
    cJSON_AddNumberToObject(o, "groups", (double)c->s->reg->ngrp);
    cJSON_AddItemToObject(o, "faults", fw_faults_json(c->s));
    reply(c, 200, o);
}

static void h_fault(struct aconn *c, const cJSON *body)
{
    char err[128] = "";
    int n = fw_fault_apply(c->s, body, err, sizeof(err));
    if (n < 0) {
        reply_err(c, errno_status(n), err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "affected", n);
    reply(c, 200, o);
}

/* POST /admin/redeliver {"phone","count"?}: the server lost the acks of the last count
 * (default 10, at most 16) messages each companion device of that account acked, and sends
 * them again: at once to an online device, else at its next login (fault-matrix row 33). */
static void h_redeliver(struct aconn *c, const cJSON *body)
{
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(body, "phone");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(body, "count");
    struct fw_account *a = cJSON_IsString(ph) ? fw_account_lookup(c->s, ph->valuestring) : NULL;
    if (!a) {
        reply_err(c, 404, "unknown account");
        return;
    }
    double want = cJSON_IsNumber(cn) ? cn->valuedouble : 10;
    if (want < 1 || want > 16) {
        reply_err(c, 400, "count: 1..16");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < a->ndev; i++) {
        struct fw_device *d = a->dev[i];
        if (d->sim || !d->registered) continue;
        n += fw_queue_redeliver(d, (size_t)want);
        if (d->conn && d->conn->state == FWC_ONLINE) fw_flush_queue(d->conn, false);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "queued", (double)n);
    reply(c, 200, o);
}

static void flood_done(void *arg, const struct fw_flood_result *r)
{
    struct aconn *c = arg;
    c->flood = NULL;
    if (r->rc < 0) {
        char e[320];
        snprintf(e, sizeof e, "after %zu sent: %s", r->sent, r->error);
        reply_err(c, errno_status(r->rc), e);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sent", (double)r->sent);
    cJSON_AddNumberToObject(o, "wall_ms", r->wall_ms);
    cJSON_AddNumberToObject(o, "cpu_ms", r->cpu_ms);
    reply(c, 200, o);
}

/* POST /admin/flood (flood.h): answered once every text is sent; no idle timeout meanwhile. */
static void h_flood(struct aconn *c, const cJSON *body)
{
    char err[256] = "";
    int rc = fw_flood_start(c->s, body, flood_done, c, &c->flood, err, sizeof err);
    if (rc < 0) {
        reply_err(c, rc == -EBUSY ? 409 : errno_status(rc), err[0] ? err : strerror(-rc));
        return;
    }
    c->done = true; /* one request per connection: later bytes are not parsed */
    uv_timer_stop(&c->timer);
}

static void route_contact(struct aconn *c, const struct http_request *r, const cJSON *body)
{
    const char *rest = r->path + strlen("/admin/contacts/");
    char who[64];
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof(who)) {
        reply_err(c, 404, "not found");
        return;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) { /* percent-decode ("%2B1555...") */
        unsigned v;
        if (rest[i] == '%' && i + 2 < n + 1 && sscanf(rest + i + 1, "%2x", &v) == 1) {
            who[w++] = (char)v;
            i += 2;
        } else {
            who[w++] = rest[i];
        }
    }
    who[w] = 0;
    struct fw_account *a = fw_account_lookup(c->s, who);
    if (!a) {
        reply_err(c, 404, "unknown contact");
        return;
    }
    if (strcmp(rest + n, "/send") == 0 && strcmp(r->method, "POST") == 0)
        h_send(c, a, body);
    else if (strcmp(rest + n, "/config") == 0 && strcmp(r->method, "POST") == 0)
        h_config(c, a, body);
    else if (strcmp(rest + n, "/retry") == 0 && strcmp(r->method, "POST") == 0)
        h_retry(c, a, body);
    else if (strcmp(rest + n, "/inbox") == 0 && strcmp(r->method, "GET") == 0)
        reply(c, 200, fw_sim_inbox_json(a->sim));
    else
        reply_err(c, 404, "not found");
}

static void route(struct aconn *c, const struct http_request *r)
{
    cJSON *body = r->body_len ? cJSON_ParseWithLength((const char *)r->body, r->body_len) : NULL;
    bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    const char *p = r->path;
    if (post && !body) {
        reply_err(c, 400, "body must be JSON");
        return;
    }
    if (get && strcmp(p, "/admin/root") == 0) {
        char h[65];
        hex_encode(h, c->s->root.pub, 32);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "pubkey", h);
        if (c->s->ca_path[0]) cJSON_AddStringToObject(o, "ca", c->s->ca_path); /* wss:// CA */
        reply(c, 200, o);
    } else if (get && strcmp(p, "/admin/accounts") == 0) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < c->s->reg->nacc; i++)
            cJSON_AddItemToArray(arr, account_json(c->s->reg->acc[i], true));
        reply(c, 200, arr);
    } else if (post && strcmp(p, "/admin/accounts") == 0) {
        h_create(c, body, false);
    } else if (post && strcmp(p, "/admin/contacts") == 0) {
        h_create(c, body, true);
    } else if (strncmp(p, "/admin/contacts/", 16) == 0) {
        route_contact(c, r, body);
    } else if (post && strcmp(p, "/admin/scan") == 0) {
        h_scan(c, body);
    } else if (post && strcmp(p, "/admin/paircode") == 0) {
        h_paircode(c, body);
    } else if (post && strcmp(p, "/admin/groups") == 0) {
        h_group(c, body);
    } else if (get && strcmp(p, "/admin/devices") == 0) {
        char phone[64];
        struct fw_account *a = http_query_param(r->query, "phone", phone, sizeof(phone)) > 0
                                   ? fw_account_lookup(c->s, phone)
                                   : NULL;
        if (a) {
            cJSON *aj = account_json(a, true);
            reply(c, 200, cJSON_DetachItemFromObject(aj, "devices"));
            cJSON_Delete(aj);
        } else
            reply_err(c, 404, "unknown account");
    } else if (post && strcmp(p, "/admin/fault") == 0) {
        h_fault(c, body);
    } else if (post && strcmp(p, "/admin/flood") == 0) {
        h_flood(c, body);
    } else if (post && strcmp(p, "/admin/redeliver") == 0) {
        h_redeliver(c, body);
    } else if (get && strcmp(p, "/admin/chatstates") == 0) {
        reply(c, 200, fw_chatstates_json());
    } else if (get && strcmp(p, "/admin/stats") == 0) {
        h_stats(c);
    } else if (strncmp(p, "/admin/media", 12) == 0) {
        int st = 404;
        cJSON *o = fw_media_admin(c->s, r->method, p, r->query, body, &st);
        if (o)
            reply(c, st, o);
        else
            reply_err(c, 404, "not found");
    } else {
        reply_err(c, 404, "not found");
    }
    cJSON_Delete(body);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    (void)sz;
    static char rbuf[65536];
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct aconn *c = st->data;
    if (n < 0) {
        aclose(c);
        return;
    }
    if (c->done || n == 0) return;
    size_t used = 0;
    int rc = http_parser_feed(c->hp, b->base, (size_t)n, &used);
    if (rc < 0)
        reply_err(c, http_parser_status(c->hp), http_parser_last_error(c->hp));
    else if (rc == HTTP_READY)
        route(c, http_parser_request(c->hp));
}

static void on_idle(uv_timer_t *t)
{
    aclose(t->data);
}

static void leak_cleanup(uv_handle_t *h)
{
    free(h);
}

static void on_conn(uv_stream_t *l, int status)
{
    struct fw_server *s = l->data;
    if (status < 0) return;
    struct aconn *c = calloc(1, sizeof(*c));
    if (!c) return;
    c->s = s;
    buf_init(&c->out, 16u << 20);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open = 2;
    struct http_limits lim = {.max_head_bytes = 16384, .max_request_bytes = 1u << 20};
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 || http_parser_new(&lim, &c->hp) < 0) {
        aclose(c);
        return;
    }
    uv_timer_start(&c->timer, on_idle, IDLE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) aclose(c);
}

int fw_admin_listen(struct fw_server *s, const char *host, int port, int *bound)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
        return -EINVAL;
    uv_tcp_t *l = calloc(1, sizeof(*l));
    if (!l) return -ENOMEM;
    uv_tcp_init(s->loop, l);
    l->data = s;
    int rc = uv_tcp_bind(l, (struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)l, 64, on_conn);
    if (rc < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "admin listen %s:%d: %s", host, port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)l, leak_cleanup);
        return rc;
    }
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(l, (struct sockaddr *)&got, &len);
    *bound = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                             : ((struct sockaddr_in *)&got)->sin_port);
    g_admin = l;
    return 0;
}

void fw_admin_shutdown(struct fw_server *s)
{
    (void)s;
    if (g_admin) uv_close((uv_handle_t *)g_admin, leak_cleanup);
    g_admin = NULL;
}
