/* SPDX-License-Identifier: MIT */
/* msgjson.c -- received messages as JSON. */
#include "gw/msgjson.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"

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
    if (m->kind == WA_IN_TEXT && !nul)
        add_text(o, m->text ? m->text : "", m->text_len);
    else if (m->kind == WA_IN_TEXT)
        add_hex(o, (const uint8_t *)m->text, m->text_len);
    else
        add_hex(o, m->raw, m->raw_len);
    return o;
}
