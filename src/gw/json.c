/* SPDX-License-Identifier: MIT */
/* json.c -- the JSON forms of the gateway's domain values. */
#include "gw/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "core/hex.h"
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

static void add_text(cJSON *o, const char *t, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return;
    memcpy(s, t, n);
    s[n] = '\0';
    cJSON_AddStringToObject(o, "text", s);
    free(s);
}

cJSON *gw_inmsg_json(const char *account, const struct wa_inmsg *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "account", account);
    cJSON_AddNumberToObject(o, "cursor", (double)m->cursor);
    cJSON_AddStringToObject(o, "chat", m->chat ? m->chat : "");
    cJSON_AddStringToObject(o, "sender", m->sender ? m->sender : "");
    cJSON_AddStringToObject(o, "id", m->id ? m->id : "");
    cJSON_AddStringToObject(o, "type", wa_inmsg_kind_name(m->kind));
    cJSON_AddNumberToObject(o, "ts", (double)m->ts);
    cJSON_AddNumberToObject(o, "received", (double)m->received);
    bool nul = m->text_len && memchr(m->text, 0, m->text_len);
    if (m->kind == WA_IN_UNDECRYPTABLE) {
        char r[160];
        snprintf(r, sizeof r, "%.*s", (int)(m->text_len < 159 ? m->text_len : 159),
                 m->text ? m->text : "");
        cJSON_AddStringToObject(o, "reason", r);
    } else if (m->kind == WA_IN_TEXT && !nul)
        add_text(o, m->text ? m->text : "", m->text_len);
    else if (m->kind == WA_IN_TEXT)
        add_hex(o, (const uint8_t *)m->text, m->text_len);
    else
        add_hex(o, m->raw, m->raw_len);
    return o;
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
    return o;
}
