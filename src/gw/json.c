/* SPDX-License-Identifier: MIT */
/* json.c -- the JSON forms of the gateway's domain values. */
#include "gw/json.h"

#include "store/mediafile.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "gw/chstatus.h"

static void add_hex(cJSON *o, const uint8_t *p, size_t n)
{
    char *h = malloc(n * 2 + 1);
    if (!h) return;
    hex_encode(h, p, n);
    h[n * 2] = '\0';
    cJSON_AddStringToObject(o, "payload_hex", h);
    free(h);
}

/* o[k] = the n bytes at t as a JSON string, repaired to valid UTF-8 when they are not. */
static void add_str_n(cJSON *o, const char *k, const char *t, size_t n)
{
    char *s = NULL;
    if (utf8_repair(t, n, &s, NULL) < 0) return;
    cJSON_AddStringToObject(o, k, s);
    free(s);
}

static void add_str(cJSON *o, const char *k, const char *s)
{
    s = s ? s : "";
    add_str_n(o, k, s, strlen(s));
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void add_b64(cJSON *o, const char *k, const uint8_t *p, size_t n)
{
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (!s) return;
    size_t w = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        s[w++] = b64chars[v >> 18 & 63];
        s[w++] = b64chars[v >> 12 & 63];
        s[w++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        s[w++] = i + 2 < n ? b64chars[v & 63] : '=';
    }
    s[w] = '\0';
    cJSON_AddStringToObject(o, k, s);
    free(s);
}

/* The v8 metadata (wa/msgmeta.h) merged in, then the row's edit / revoke state. */
static void add_meta(cJSON *o, const struct wa_inmsg *m)
{
    cJSON *meta = m->meta ? cJSON_Parse(m->meta) : NULL;
    if (cJSON_IsObject(meta)) {
        while (meta->child) {
            cJSON *it = cJSON_DetachItemViaPointer(meta, meta->child);
            if (cJSON_GetObjectItemCaseSensitive(o, it->string))
                cJSON_Delete(it); /* never shadows a base field */
            else
                cJSON_AddItemToObject(o, it->string, it);
        }
    }
    cJSON_Delete(meta);
    if (m->edited_at) {
        cJSON *e = cJSON_AddObjectToObject(o, "edited");
        if (e) {
            add_str(e, "text", m->edited_text);
            cJSON_AddNumberToObject(e, "ts", (double)m->edited_at);
        }
    }
    if (m->revoked_at) cJSON_AddNumberToObject(o, "revoked", (double)m->revoked_at);
}

cJSON *gw_inmsg_json(const char *account, const struct wa_inmsg *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_str(o, "account", account);
    cJSON_AddNumberToObject(o, "cursor", (double)m->cursor);
    add_str(o, "chat", m->chat);
    add_str(o, "sender", m->sender);
    add_str(o, "id", m->id);
    cJSON_AddStringToObject(o, "type", wa_inmsg_kind_name(m->kind));
    cJSON_AddNumberToObject(o, "ts", (double)m->ts);
    cJSON_AddNumberToObject(o, "received", (double)m->received);
    bool nul = m->text_len && memchr(m->text, 0, m->text_len);
    if (m->kind == WA_IN_UNDECRYPTABLE) {
        add_str_n(o, "reason", m->text ? m->text : "", m->text_len < 159 ? m->text_len : 159);
    } else if (m->kind == WA_IN_TEXT && !nul) {
        add_str_n(o, "text", m->text ? m->text : "", m->text_len);
    } else if (m->kind == WA_IN_TEXT)
        add_hex(o, (const uint8_t *)m->text, m->text_len);
    else if (!wa_inmsg_kind_is_media(m->kind)) /* a media message's bytes hold its key */
        add_hex(o, m->raw, m->raw_len);
    if (m->kind == WA_IN_TEXT && m->text_raw && m->text_raw_len)
        add_b64(o, "text_raw_b64", m->text_raw, m->text_raw_len);
    add_meta(o, m);
    return o;
}

cJSON *gw_outmsg_json(const char *account, const struct st_outbox_msg *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_str(o, "account", account);
    add_str(o, "id", m->msg_id);
    add_str(o, "to", m->to);
    cJSON_AddStringToObject(o, "state", st_out_state_name(m->state));
    if (m->error && m->error[0]) add_str(o, "error", m->error);
    cJSON_AddNumberToObject(o, "attempts", m->attempts);
    cJSON_AddNumberToObject(o, "created", (double)m->created);
    cJSON_AddNumberToObject(o, "updated", (double)m->updated);
    return o;
}

/* Every string value below v, repaired in place (keys are ours and left alone). */
void gw_json_make_utf8(cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsString(v) && v->valuestring) {
            size_t n = strlen(v->valuestring);
            if (!utf8_valid(v->valuestring, n)) {
                char *s = NULL;
                if (utf8_repair(v->valuestring, n, &s, NULL) >= 0) {
                    cJSON_free(v->valuestring);
                    v->valuestring = s; /* cJSON's default hooks: malloc/free */
                }
            }
        }
        gw_json_make_utf8(v->child);
    }
}

/* Wall-clock milliseconds as ISO-8601 UTC with milliseconds. */
static void iso_ms(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", b, (int)(ms % 1000));
}

cJSON *gw_channel_status_json(const struct gw_channel_status *st)
{
    cJSON *o = cJSON_CreateObject();
    char iso[40];
    cJSON_AddStringToObject(o, "channel", "whatsapp");
    cJSON_AddStringToObject(o, "account", st->account);
    cJSON_AddStringToObject(o, "state", gw_ch_state_name(st->state));
    iso_ms(st->since_wall_ms, iso, sizeof iso);
    cJSON_AddStringToObject(o, "since", iso);
    cJSON_AddStringToObject(o, "last_error", st->last_error);
    if (st->jid)
        cJSON_AddStringToObject(o, "jid", st->jid);
    else
        cJSON_AddNullToObject(o, "jid");
    if (st->retry_pending) {
        iso_ms(st->next_retry_wall_ms, iso, sizeof iso);
        cJSON_AddStringToObject(o, "next_retry", iso);
        cJSON_AddNumberToObject(o, "next_retry_ms", (double)st->next_retry_ms);
    }
    cJSON_AddNumberToObject(o, "reconnects", (double)st->reconnects);
    cJSON_AddNumberToObject(o, "attempts", (double)st->attempts);
    if (st->down_since_wall_ms) {
        iso_ms(st->down_since_wall_ms, iso, sizeof iso);
        cJSON_AddStringToObject(o, "down_since", iso);
    } else {
        cJSON_AddNullToObject(o, "down_since");
    }
    if (st->up_since_wall_ms) {
        iso_ms(st->up_since_wall_ms, iso, sizeof iso);
        cJSON_AddStringToObject(o, "connected_since", iso);
    }
    if (st->queued >= 0) cJSON_AddNumberToObject(o, "queued", (double)st->queued);
    cJSON_AddBoolToObject(o, "qr_available", st->qr_available);
    if (st->pairing_method) {
        cJSON *p = cJSON_AddObjectToObject(o, "pairing");
        cJSON_AddStringToObject(p, "method", st->pairing_method);
        if (st->pairing_phone) {
            char ph[24];
            snprintf(ph, sizeof ph, "+%s", st->pairing_phone);
            cJSON_AddStringToObject(p, "phone", ph);
        }
    }
    if (st->webhook_endpoints > 0) {
        cJSON *w = cJSON_AddObjectToObject(o, "webhooks");
        cJSON_AddNumberToObject(w, "endpoints", st->webhook_endpoints);
        if (st->webhook_backlog >= 0)
            cJSON_AddNumberToObject(w, "backlog", (double)st->webhook_backlog);
        if (st->webhook_dead >= 0)
            cJSON_AddNumberToObject(w, "dead_letter", (double)st->webhook_dead);
        cJSON_AddNumberToObject(w, "delivered", (double)st->webhook_delivered);
        cJSON_AddStringToObject(w, "last_error",
                                st->webhook_last_error ? st->webhook_last_error : "");
        cJSON *list = st->webhook_list ? st->webhook_list(st->webhook) : NULL;
        if (list) cJSON_AddItemToObject(w, "list", list);
    }
    return o;
}

void gw_json_add_file(cJSON *o, const char *account, int64_t cursor, const struct st_mfile *f)
{
    cJSON *x = cJSON_AddObjectToObject(o, "file");
    if (!x) return;
    enum st_mfile_state st = f ? f->state : ST_MF_PENDING;
    cJSON_AddStringToObject(x, "state", st_mfile_state_name(st));
    if (st == ST_MF_DONE && f->path[0]) cJSON_AddStringToObject(x, "path", f->path);
    if (f && f->error[0] && st != ST_MF_DONE) cJSON_AddStringToObject(x, "error", f->error);
    if (f && f->attempts > 0) cJSON_AddNumberToObject(x, "attempts", f->attempts);
    char url[160];
    snprintf(url, sizeof url, "/api/v1/media/%lld?account=%s", (long long)cursor, account);
    cJSON_AddStringToObject(x, "url", url);
}
