/* SPDX-License-Identifier: MIT */
/* routes.c -- channel control, QR and message routes of the control API. */
#include "gw/routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "core/fileio.h"
#include "core/qr.h"
#include "core/utf8.h"
#include "gw/access.h"
#include "gw/channel.h"
#include "gw/dashboard.h"
#include "gw/json.h"
#include "gw/notify.h"
#include "gw/routes_media.h"
#include "gw/sendwait.h"
#include "gw/webhook.h"
#include "store/mediafile.h"
#include "store/msgstore.h"

#define CH_PREFIX "/api/v1/channels/whatsapp/"
#define MSG_PATH  "/api/v1/messages"

/* The status entry of one channel as JSON (gw/json.h). */
static cJSON *status_json(const struct gw_channel *ch)
{
    struct gw_channel_status st;
    gw_channel_status(ch, &st);
    return gw_channel_status_json(&st);
}

/* Split "acct/action" into acct and action ("" when absent). -EINVAL if malformed. */
static int split_rest(const char *rest, char *acct, size_t alen, const char **action)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= alen) return -EINVAL;
    memcpy(acct, rest, n);
    acct[n] = '\0';
    *action = slash ? slash + 1 : "";
    return 0;
}

static struct gw_channel *find_channel(const struct api_request *req, struct api_response *res,
                                       struct gw_channel_list *list, const char **action)
{
    char acct[CFG_ACCOUNT_ID_MAX + 2];
    if (split_rest(req->rest, acct, sizeof acct, action) < 0) {
        api_response_error(res, 404, "no such channel");
        return NULL;
    }
    struct gw_channel *ch = gw_channel_list_find(list, acct);
    if (!ch) api_response_error(res, 404, "no such account");
    return ch;
}

static void serve_qr(struct gw_channel *ch, const struct api_request *req, struct api_response *res)
{
    char fmt[16] = "json";
    long fl = http_query_param(req->http->query, "format", fmt, sizeof fmt);
    if (fl < 0 && fl != -ENOENT) {
        api_response_error(res, 400, "format must be json, text, svg or png");
        return;
    }
    unsigned left = 0;
    const char *qr = gw_channel_qr(ch, &left);
    if (!qr) {
        api_response_error(res, 404, "no QR code is current (the account is not pairing)");
        return;
    }
    if (strcmp(fmt, "json") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
        cJSON_AddStringToObject(o, "qr", qr);
        cJSON_AddNumberToObject(o, "valid_ms", left);
        api_response_json(res, 200, o);
        return;
    }
    const char *ctype = strcmp(fmt, "text") == 0  ? "text/plain; charset=utf-8"
                        : strcmp(fmt, "svg") == 0 ? "image/svg+xml"
                        : strcmp(fmt, "png") == 0 ? "image/png"
                                                  : NULL;
    if (!ctype) {
        api_response_error(res, 400, "format must be json, text, svg or png");
        return;
    }
    struct qr *q = NULL;
    int r = qr_encode(qr, &q);
    buf_reset(&res->body);
    if (r == 0)
        r = fmt[0] == 't'   ? qr_render_text(q, &res->body, false)
            : fmt[0] == 's' ? qr_render_svg(q, &res->body, 4)
                            : qr_render_png(q, &res->body, 8);
    qr_free(q);
    if (r < 0) {
        api_response_error(res, 500, "cannot render the QR code");
        return;
    }
    res->status = 200;
    snprintf(res->content_type, sizeof res->content_type, "%s", ctype);
}

static void channel_get(const struct api_request *req, struct api_response *res, void *arg)
{
    const char *action;
    struct gw_channel *ch = find_channel(req, res, arg, &action);
    if (!ch) return;
    if (strcmp(action, "qr") == 0)
        serve_qr(ch, req, res);
    else if (action[0] == '\0')
        api_response_json(res, 200, status_json(ch));
    else
        api_response_error(res, 404, "unknown channel resource");
}

/* POST .../login {"phone":"+15550001"}: link with a pairing code instead of a QR. */
static void login_phone(struct gw_channel *ch, const char *phone, struct api_response *res)
{
    struct gw_login_code r;
    int rc = gw_channel_login_phone(ch, phone, &r);
    char msg[320];
    if (rc == -EINVAL) {
        api_response_error(res, 400,
                           "phone: the number in international format, 7 to 15 digits "
                           "(\"+15550001234\")");
    } else if (rc == -EISCONN) {
        api_response_error(res, 409, "the account is already linked (log out first)");
    } else if (rc == -EBUSY) {
        snprintf(msg, sizeof msg,
                 "a pairing code for +%s is already pending (valid %u s more): enter it on that "
                 "phone, or wait for it to expire and ask again",
                 r.phone, r.valid_ms / 1000);
        api_response_error(res, 409, msg);
    } else if (rc == -EAGAIN) {
        api_response_error(res, 503,
                           "no pairing session could be started: see the channel's "
                           "status");
    } else if (rc < 0) {
        api_response_error(res, 500, strerror(-rc));
    } else {
        cJSON *o = cJSON_CreateObject();
        char ph[24];
        snprintf(ph, sizeof ph, "+%s", r.phone);
        cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
        cJSON_AddStringToObject(o, "state", gw_ch_state_name(gw_channel_state(ch)));
        cJSON_AddStringToObject(o, "action", "enter the code on the phone");
        cJSON_AddStringToObject(o, "method", "code");
        cJSON_AddStringToObject(o, "phone", ph);
        cJSON_AddStringToObject(o, "code", r.code);
        cJSON_AddNumberToObject(o, "valid_ms", r.valid_ms);
        cJSON_AddStringToObject(o, "instructions",
                                "On the phone: WhatsApp > Settings > Linked devices > Link a "
                                "device > Link with phone number instead, then enter the code");
        api_response_json(res, 202, o);
    }
}

static void login(struct gw_channel *ch, const struct api_request *req, struct api_response *res)
{
    cJSON *body = req->http->body_len
                      ? cJSON_ParseWithLength((const char *)req->http->body, req->http->body_len)
                      : NULL;
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(body, "phone");
    if (req->http->body_len && (!cJSON_IsObject(body) || (ph && !cJSON_IsString(ph)))) {
        cJSON_Delete(body);
        api_response_error(res, 400, "the body is {} (QR) or {\"phone\": \"+15550001234\"}");
        return;
    }
    if (ph) {
        login_phone(ch, ph->valuestring, res);
        cJSON_Delete(body);
        return;
    }
    cJSON_Delete(body);
    struct gw_login_result r;
    gw_channel_login(ch, &r);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
    cJSON_AddStringToObject(o, "state", gw_ch_state_name(gw_channel_state(ch)));
    cJSON_AddStringToObject(o, "action", r.action);
    const char *qr = gw_channel_qr(ch, NULL), *jid = gw_channel_jid(ch);
    if (qr) cJSON_AddStringToObject(o, "qr", qr);
    if (jid) cJSON_AddStringToObject(o, "jid", jid);
    api_response_json(res, r.started ? 202 : 200, o);
}

/* POST .../{account}/pairing/approve {"code":"ABCD2345"}: the owner approves a sender. */
static void pairing_approve(struct gw_channel *ch, const struct api_request *req,
                            struct api_response *res)
{
    cJSON *body = req->http->body_len
                      ? cJSON_ParseWithLength((const char *)req->http->body, req->http->body_len)
                      : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "code");
    struct gw_access *a = gw_channel_access(ch);
    char sender[ST_CHAT_MAX + 1] = "";
    int rc = !cJSON_IsString(c) ? -EINVAL
             : a                ? gw_access_approve(a, c->valuestring, sender, sizeof sender)
                                : -EAGAIN;
    cJSON_Delete(body);
    if (rc == -EINVAL) {
        api_response_error(res, 400,
                           "need {\"code\": \"ABCD2345\"} (the 8-character pairing code)");
    } else if (rc == 0) {
        api_response_error(res, 404, "no such pairing code (already approved, or never sent)");
    } else if (rc == -EAGAIN) {
        api_response_error(res, 503, "the channel's store is not open");
    } else if (rc < 0) {
        api_response_error(res, 500, strerror(-rc));
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
        cJSON_AddStringToObject(o, "sender", sender);
        cJSON_AddTrueToObject(o, "approved");
        api_response_json(res, 200, o);
    }
}

/* Operator logout (the dashboard's button): 200 {"account","state"}; 409 when already out. */
static void logout(struct gw_channel *ch, struct api_response *res)
{
    int r = gw_channel_logout(ch);
    if (r == -EALREADY) {
        api_response_error(res, 409, "the account is already logged out");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
    cJSON_AddStringToObject(o, "state", gw_ch_state_name(gw_channel_state(ch)));
    if (r < 0) cJSON_AddStringToObject(o, "warning", strerror(-r));
    api_response_json(res, 200, o);
}

/* The operator's retry of the webhook dead letters: 200 {"account","requeued"}; 409 while the
 * account's store is not open. */
static void webhooks_retry(struct gw_channel *ch, struct api_response *res)
{
    int n = gw_webhook_retry_dead(gw_channel_webhook(ch));
    if (n == -ENOTCONN || n == -EBUSY) {
        api_response_error(res, 409, "the account's database is not open: try again");
        return;
    }
    if (n < 0) {
        api_response_error(res, 500, "the dead letters could not be queued again");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
    cJSON_AddNumberToObject(o, "requeued", n);
    api_response_json(res, 200, o);
}

static void channel_post(const struct api_request *req, struct api_response *res, void *arg)
{
    const char *action;
    struct gw_channel *ch = find_channel(req, res, arg, &action);
    if (!ch) return;
    if (strcmp(action, "login") == 0) {
        login(ch, req, res);
    } else if (strcmp(action, "pairing/approve") == 0) {
        pairing_approve(ch, req, res);
    } else if (strcmp(action, "restart") == 0) {
        if (gw_channel_restart(ch, "operator restart") == -EPERM) {
            api_response_error(res, 409, "the account is logged out: use login to link it");
            return;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
        cJSON_AddStringToObject(o, "state", gw_ch_state_name(gw_channel_state(ch)));
        api_response_json(res, 202, o);
    } else if (strcmp(action, "logout") == 0) {
        logout(ch, res);
    } else if (strcmp(action, "webhooks/retry") == 0) {
        webhooks_retry(ch, res);
    } else {
        api_response_error(res, 404, "unknown channel action");
    }
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The kind-specific part of a send request into m (strings borrowed from body): "reply_to",
 * "mentions", or one of "reaction" {"message_id","emoji"}, "edit" {"message_id","text"},
 * "revoke" {"message_id"}. NULL, or what is wrong. */
static const char *send_kind(const cJSON *body, struct wa_outmsg *m, const char **mentions)
{
    const cJSON *rx = cJSON_GetObjectItemCaseSensitive(body, "reaction"),
                *ed = cJSON_GetObjectItemCaseSensitive(body, "edit"),
                *rv = cJSON_GetObjectItemCaseSensitive(body, "revoke"),
                *mn = cJSON_GetObjectItemCaseSensitive(body, "mentions");
    const char *reply = jstr(body, "reply_to");
    if (cJSON_GetObjectItemCaseSensitive(body, "reply_to") && !reply)
        return "reply_to: a message id string";
    if (!!rx + !!ed + !!rv > 1) return "one of reaction, edit, revoke";
    const cJSON *o = rx ? rx : ed ? ed : rv;
    if (o) {
        if (!cJSON_IsObject(o) || !jstr(o, "message_id"))
            return "reaction / edit / revoke: an object with \"message_id\"";
        m->kind = rx ? WA_OM_REACTION : ed ? WA_OM_EDIT : WA_OM_REVOKE;
        m->target = jstr(o, "message_id");
        m->text = rx ? jstr(o, "emoji") : ed ? jstr(o, "text") : NULL;
        if (rx && !m->text) return "reaction: \"emoji\" string (\"\" removes the reaction)";
        if (ed && !m->text) return "edit: \"text\" string";
        return NULL;
    }
    m->target = reply;
    if (mn) {
        if (!cJSON_IsArray(mn) || cJSON_GetArraySize(mn) > WA_SEND_MENTIONS_MAX)
            return "mentions: an array of up to 32 JIDs or numbers";
        const cJSON *e;
        cJSON_ArrayForEach(e, mn)
        {
            if (!cJSON_IsString(e)) return "mentions: an array of strings";
            mentions[m->n_mentions++] = e->valuestring;
        }
        m->mentions = mentions;
    }
    return NULL;
}

/* A deferred send's answer: the held 202 once its row is durable, else a 503 (gw/sendwait.h). */
static void send_release(void *server, uint64_t ticket, int rc, const char *err)
{
    api_server_release(server, ticket, rc ? 503 : 0, err);
}

static void send_parsed(const struct api_request *req, const cJSON *body, struct api_response *res,
                        struct gw_channel_list *l)
{
    const char *acct = jstr(body, "account"), *to = jstr(body, "to"), *text = jstr(body, "text"),
               *key = jstr(body, "idempotency_key");
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(body, "idempotency_key");
    struct wa_outmsg m = wa_outmsg_text(to, text, key);
    const char *mentions[WA_SEND_MENTIONS_MAX];
    const char *bad = send_kind(body, &m, mentions);
    if (bad) {
        api_response_error(res, 400, bad);
        return;
    }
    if (m.kind == WA_OM_TEXT && rmedia_wanted(body)) { /* a file (gw/routes_media.h) */
        rmedia_send_json(req, body, &m, acct, res, l);
        return;
    }
    if ((!to && m.kind != WA_OM_REACTION) || (m.kind == WA_OM_TEXT && !text) ||
        (kv && !cJSON_IsNull(kv) && !key)) {
        api_response_error(res, 400, "need \"to\" and \"text\" strings");
        return;
    }
    if (key && (!key[0] || strlen(key) >= ST_IDEM_MAX)) {
        api_response_error(res, 400, "idempotency_key: 1 to 127 characters");
        return;
    }
    struct gw_channel *ch = gw_channel_list_find(l, acct ? acct : "default");
    if (!ch) {
        api_response_error(res, 404, "no such account");
        return;
    }
    char chat[ST_CHAT_MAX + 1];
    if (!to) { /* a reaction names its message only: the chat it was received in */
        int f = gw_channel_chat_of(ch, m.target, chat, sizeof chat);
        if (f != 1) {
            api_response_error(res, f == 0 ? 404 : 503,
                               f == 0 ? "no received message with that id (give \"to\")"
                                      : "the channel's store is not open");
            return;
        }
        m.to = chat;
    }
    struct gw_send_result r;
    struct gw_waiter *w = NULL;
    int rc = gw_channel_send_deferred(ch, &m, &r, &w);
    if (rc == -EAGAIN) {
        api_response_error(res, 503,
                           "the account is not linked yet (or its store is not open): link it with "
                           "POST /api/v1/channels/whatsapp/{account}/login");
        return;
    }
    if (rc < 0) {
        int status = rc == -EINVAL   ? 400
                     : rc == -EEXIST ? 409
                     : rc == -ENXIO  ? 422
                     : rc == -ENOENT ? 404
                                     : 500;
        api_response_error(res, status, r.error[0] ? r.error : strerror(-rc));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
    cJSON_AddStringToObject(o, "id", r.id);
    cJSON_AddStringToObject(o, "state", st_out_state_name(r.state));
    if (r.chunks) cJSON_AddNumberToObject(o, "chunks", (double)r.chunks);
    if (r.duplicate) cJSON_AddTrueToObject(o, "duplicate");
    api_response_json(res, r.duplicate ? 200 : 202, o);
    if (!w) return;
    /* the row shares the COMMIT of this loop iteration's sends: answer once it is durable */
    uint64_t ticket = api_response_defer(req, res);
    gw_sendwait_bind(w, &r, ticket ? send_release : NULL, req->server, ticket);
    if (!ticket && gw_channel_settle(ch) < 0)
        api_response_error(res, 503,
                           "the message could not be stored: nothing was queued; retry "
                           "with the same idempotency_key");
}

/* Why a send request's raw body cannot be taken (NULL: it can): it must be valid UTF-8, and
 * no string in it may hold \u0000 (cJSON ends the string there: "a\u0000b" would go out as
 * "a"). why is a buffer of wl bytes. */
static const char *body_problem(const uint8_t *p, size_t n, char *why, size_t wl)
{
    size_t bad = utf8_first_invalid(p, n);
    if (bad < n) {
        snprintf(why, wl, "the request body is not valid UTF-8 (byte %zu)", bad);
        return why;
    }
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0) return "the request body holds a NUL byte";
        if (p[i] == '"') {
            in_str = !in_str;
        } else if (in_str && p[i] == '\\' && i + 1 < n) {
            if (p[i + 1] == 'u' && n - i >= 6 && memcmp(p + i + 2, "0000", 4) == 0)
                return "a string holds a NUL character (\\u0000): text cannot contain NUL";
            i++; /* the escaped character */
        }
    }
    return NULL;
}

static void messages_post(const struct api_request *req, struct api_response *res, void *arg)
{
    if (rmedia_raw(req)) { /* the body is a file (gw/routes_media.h) */
        rmedia_send_raw(req, res, arg);
        return;
    }
    if (req->spool_path) { /* only a raw file body may pass the in-memory cap */
        api_response_error(res, 413,
                           "a body over 1 MiB must be a raw file upload (?type=...); forms "
                           "and JSON stay under 1 MiB");
        return;
    }
    if (rmedia_multipart(req)) { /* a form with a file */
        rmedia_send_multipart(req, res, arg);
        return;
    }
    const uint8_t *raw = req->http->body;
    size_t rawlen = req->http->body_len;
    char why[96];
    const char *problem = rawlen ? body_problem(raw, rawlen, why, sizeof why) : NULL;
    if (problem) {
        api_response_error(res, 400, problem);
        return;
    }
    cJSON *body = rawlen ? cJSON_ParseWithLength((const char *)raw, rawlen) : NULL;
    if (!body && rawlen) {
        api_response_error(res, 400, "malformed JSON");
        return;
    }
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        api_response_error(res, 400, "expected a JSON object");
        return;
    }
    send_parsed(req, body, res, arg);
    cJSON_Delete(body);
}

/* A non-negative integer query parameter; def when absent, -1 when malformed. */
static long long query_num(const char *query, const char *name, long long def)
{
    char v[24];
    long r = http_query_param(query, name, v, sizeof v);
    if (r == -ENOENT) return def;
    if (r <= 0) return -1;
    char *end;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? -1 : n;
}

/* {"messages":[...],"next_cursor":N,"epoch":E[,"cursor_reset":{...}]}: cursor_reset when the
 * caller's epoch is not the current one (a restored database: what it may have missed), when
 * it sends no epoch and its cursor is not past the last reset's lost range, or when it is
 * ahead of every cursor given out (next_cursor is then the last one). */
static void cursor_fields(cJSON *o, const struct gw_cursor_info *ci, long long epoch,
                          long long after)
{
    cJSON_AddNumberToObject(o, "epoch", (double)ci->epoch);
    /* without an epoch: a cursor not past the last reset's lost range may have read rows that
     * are gone, or will never see them */
    bool in_lost = ci->missed_to > 0 && after <= ci->missed_to;
    bool stale = epoch > 0 ? epoch != ci->epoch : in_lost, ahead = after > ci->last;
    if (!stale && !ahead) return;
    cJSON *r = cJSON_AddObjectToObject(o, "cursor_reset");
    cJSON_AddNumberToObject(r, "epoch", (double)ci->epoch);
    cJSON_AddNumberToObject(r, "last_cursor", (double)ci->last);
    if (ci->missed_to > 0) {
        cJSON_AddNumberToObject(r, "missed_from", (double)ci->missed_from);
        cJSON_AddNumberToObject(r, "missed_to", (double)ci->missed_to);
    }
    if (ahead) cJSON_ReplaceItemInObject(o, "next_cursor", cJSON_CreateNumber((double)ci->last));
}

static cJSON *inbox_json(struct gw_channel *ch, int64_t after, const struct st_inbox_msg *v,
                         size_t n)
{
    const char *account = gw_channel_account(ch);
    cJSON *arr = cJSON_CreateArray();
    int64_t next = after;
    for (size_t i = 0; i < n; i++) {
        struct wa_inmsg m;
        wa_inmsg_from_row(&v[i], &m);
        cJSON *o = gw_inmsg_json(account, &m);
        struct st_mfile f;
        if (o && wa_inmsg_kind_is_media(m.kind))
            gw_json_add_file(o, account, m.cursor,
                             gw_channel_media_file(ch, m.cursor, &f) == 1 ? &f : NULL);
        cJSON_AddItemToArray(arr, o);
        next = v[i].cursor;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "messages", arr);
    cJSON_AddNumberToObject(o, "next_cursor", (double)next);
    return o;
}

/* GET /api/v1/messages/{id}?account=ID: one outgoing message, its state and failure reason. */
static void message_get_one(const struct api_request *req, struct api_response *res,
                            struct gw_channel_list *l, const char *id)
{
    char acct[CFG_ACCOUNT_ID_MAX + 2] = "default";
    long ar = http_query_param(req->http->query, "account", acct, sizeof acct);
    if ((ar < 0 && ar != -ENOENT) || !id[0] || strchr(id, '/') || strlen(id) > ST_MSGID_MAX) {
        api_response_error(res, 400, "/api/v1/messages/{id}[?account=ID]");
        return;
    }
    struct gw_channel *ch = gw_channel_list_find(l, acct);
    if (!ch) {
        api_response_error(res, 404, "no such account");
        return;
    }
    struct st_outbox_msg m;
    int rc = gw_channel_outbox_get(ch, id, &m);
    if (rc == -ENOENT) {
        api_response_error(res, 404, "no such message");
    } else if (rc == -EAGAIN) {
        api_response_error(res, 503, "the channel's store is not open");
    } else if (rc < 0) {
        api_response_error(res, 500, strerror(-rc));
    } else {
        api_response_json(res, 200, gw_outmsg_json(gw_channel_account(ch), &m));
        st_outbox_msg_free(&m);
    }
}

static void messages_get(const struct api_request *req, struct api_response *res, void *arg)
{
    if (req->rest[0] == '/') {
        message_get_one(req, res, arg, req->rest + 1);
        return;
    }
    char acct[CFG_ACCOUNT_ID_MAX + 2] = "default";
    long ar = http_query_param(req->http->query, "account", acct, sizeof acct);
    long long after = query_num(req->http->query, "after", 0);
    long long limit = query_num(req->http->query, "limit", 100);
    long long epoch = query_num(req->http->query, "epoch", 0);
    if ((ar < 0 && ar != -ENOENT) || after < 0 || limit < 1 || limit > ST_LIST_MAX || epoch < 0) {
        api_response_error(res, 400, "account=ID&after=CURSOR&limit=1..1000&epoch=E");
        return;
    }
    struct gw_channel *ch = gw_channel_list_find(arg, acct);
    if (!ch) {
        api_response_error(res, 404, "no such account");
        return;
    }
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    int rc = gw_channel_inbox(ch, after, (size_t)limit, &v, &n);
    if (rc == -EAGAIN) {
        api_response_error(res, 503, "the channel's store is not open");
        return;
    }
    if (rc < 0) {
        api_response_error(res, 500, strerror(-rc));
        return;
    }
    cJSON *o = inbox_json(ch, after, v, n);
    struct gw_cursor_info ci;
    gw_channel_cursors(ch, &ci);
    cursor_fields(o, &ci, epoch, after);
    api_response_json(res, 200, o);
    st_inbox_list_free(v, n);
}

/* GET /api/v1/media/{cursor}?account=ID: a received file, as fetched and verified (the
 * message's mimetype). 404 no such media message, 409 not fetched yet (pending: retry later),
 * 410 failed or expired (why), 413 over the API's body cap (read it at "path" instead). The
 * file is read on the loop thread: at most API_MEDIA_MAX bytes, from the page cache in the
 * usual case. */
#define API_MEDIA_MAX (8u << 20)
static void media_get(const struct api_request *req, struct api_response *res, void *arg)
{
    char acct[CFG_ACCOUNT_ID_MAX + 2] = "default";
    long ar = http_query_param(req->http->query, "account", acct, sizeof acct);
    const char *rest = req->rest[0] == '/' ? req->rest + 1 : "";
    char *end = NULL;
    long long cursor = strtoll(rest, &end, 10);
    if ((ar < 0 && ar != -ENOENT) || !rest[0] || *end || cursor < 1) {
        api_response_error(res, 400, "/api/v1/media/{cursor}[?account=ID]");
        return;
    }
    struct gw_channel *ch = gw_channel_list_find(arg, acct);
    if (!ch) {
        api_response_error(res, 404, "no such account");
        return;
    }
    struct st_mfile f;
    char mime[sizeof res->content_type] = "application/octet-stream";
    int rc = gw_channel_media_file(ch, cursor, &f);
    if (rc == 1) gw_channel_media_mime(ch, cursor, mime, sizeof mime);
    if (rc == -EAGAIN) {
        api_response_error(res, 503, "the channel's store is not open");
    } else if (rc < 0) {
        api_response_error(res, 500, strerror(-rc));
    } else if (rc == 0) {
        api_response_error(res, 404, "no media message with that cursor");
    } else if (f.state == ST_MF_PENDING) {
        api_response_error(res, 409, "the file is not fetched yet; try again shortly");
    } else if (f.state != ST_MF_DONE) {
        char why[ST_MFILE_ERROR_MAX + 64];
        snprintf(why, sizeof why, "the file is %s%s%s", st_mfile_state_name(f.state),
                 f.error[0] ? ": " : "", f.error);
        api_response_error(res, 410, why);
    } else {
        char *data = NULL;
        size_t len = 0;
        int r = file_read_all(f.path, API_MEDIA_MAX, &data, &len);
        if (r == -EFBIG || r == -ENOBUFS) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "error", "the file is larger than the API serves (8 MiB)");
            cJSON_AddStringToObject(o, "path", f.path);
            api_response_json(res, 413, o);
        } else if (r < 0) {
            api_response_error(res, 410, "the file is gone from the state dir");
        } else {
            res->status = 200;
            snprintf(res->content_type, sizeof res->content_type, "%s", mime);
            buf_reset(&res->body);
            if (buf_append(&res->body, data, len) < 0) api_response_error(res, 500, "no memory");
        }
        free(data);
    }
}

/* POST /api/v1/chats/{jid}/chatstate {"state":"composing|recording|paused","account"?}. */
static void chats_post(const struct api_request *req, struct api_response *res, void *arg)
{
    const char *rest = req->rest[0] == '/' ? req->rest + 1 : req->rest;
    const char *slash = strchr(rest, '/');
    if (!slash || strcmp(slash, "/chatstate") != 0 || slash == rest ||
        (size_t)(slash - rest) > ST_CHAT_MAX) {
        api_response_error(res, 404, "POST /api/v1/chats/{jid}/chatstate");
        return;
    }
    char jid[ST_CHAT_MAX + 1];
    memcpy(jid, rest, (size_t)(slash - rest));
    jid[slash - rest] = '\0';
    cJSON *body = req->http->body_len
                      ? cJSON_ParseWithLength((const char *)req->http->body, req->http->body_len)
                      : NULL;
    const char *state = jstr(body, "state"), *acct = jstr(body, "account");
    struct gw_channel *ch = state ? gw_channel_list_find(arg, acct ? acct : "default") : NULL;
    char err[160] = "";
    int rc = !state ? -EINVAL
             : !ch  ? -ENODEV
                    : gw_channel_chatstate(ch, jid, state, err, sizeof err);
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
        cJSON_AddStringToObject(o, "chat", jid);
        cJSON_AddStringToObject(o, "state", state);
        api_response_json(res, 202, o);
    } else if (rc == -EINVAL) {
        api_response_error(res, 400,
                           err[0] ? err : "need {\"state\":\"composing|recording|paused\"}");
    } else if (rc == -ENODEV) {
        api_response_error(res, 404, "no such account");
    } else {
        api_response_error(res, 503, err[0] ? err : strerror(-rc));
    }
    cJSON_Delete(body);
}

/* GET /api/v1/notifications?limit=N: the recent list, newest first (gw/notify.h). */
static void notifications_get(const struct api_request *req, struct api_response *res, void *arg)
{
    if (req->rest[0]) {
        api_response_error(res, 404, "not found");
        return;
    }
    long long limit = query_num(req->http->query, "limit", 0);
    if (limit < 0 || limit > NOTIFY_RECENT_MAX) {
        api_response_error(res, 400, "limit: 1..128");
        return;
    }
    cJSON *o = gw_notify_list_json(arg, (size_t)limit);
    if (!o) {
        api_response_error(res, 500, "out of memory");
        return;
    }
    api_response_json(res, 200, o);
}

int gw_routes_add_notify(struct api_server *s, struct gw_notify *n)
{
    return api_server_add_route(s, "GET", "/api/v1/notifications", true, notifications_get, n);
}

int gw_routes_add(struct api_server *s, struct gw_channel_list *list)
{
    int r = api_server_add_route(s, "GET", CH_PREFIX, true, channel_get, list);
    if (r == 0) r = api_server_add_route(s, "POST", CH_PREFIX, true, channel_post, list);
    if (r == 0) r = api_server_add_route(s, "POST", MSG_PATH, true, messages_post, list);
    if (r == 0) /* raw file bodies past the in-memory cap (gw/routes_media.h) */
        r = api_server_route_spool(s, "POST", MSG_PATH, RMEDIA_SPOOL_MAX);
    if (r == 0) r = api_server_add_route(s, "GET", MSG_PATH, true, messages_get, list);
    if (r == 0) r = api_server_add_route(s, "GET", "/api/v1/media", true, media_get, list);
    if (r == 0) r = api_server_add_route(s, "POST", "/api/v1/chats", true, chats_post, list);
    /* the dashboard's page and assets at / (gw/dashboard.h) */
    if (r == 0) r = gw_dashboard_add(s);
    return r;
}
