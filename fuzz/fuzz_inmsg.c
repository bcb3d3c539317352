/* SPDX-License-Identifier: MIT */
/* fuzz_inmsg.c -- the inbound-message-to-JSON path: whatever a peer sends, what leaves wagate
 * (the message.received event, the inbox route, the exec hook's stdin) is valid UTF-8 JSON.
 *
 * Byte 0 even: the rest is a Message protobuf, decoded as the receive path does (wa_msg_decode:
 * text repaired at decode, the raw bytes kept) and turned into the JSON form. Byte 0 odd: the
 * rest is split at 0x00 bytes into chat, sender, id and payload of an inbox row (rows written
 * before the repair existed, or any column holding arbitrary bytes) read back through
 * wa_inmsg_from_row. Invariants: the printed JSON is valid UTF-8, parses back, and a decoded
 * text is valid UTF-8 with its raw bytes present exactly when a repair was made. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "gw/json.h"
#include "wa/inmsg.h"
#include "wa/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const struct wa_inmsg *im)
{
    cJSON *o = gw_inmsg_json("acct\xff", im);
    if (!o) return; /* ENOMEM */
    char *s = cJSON_PrintUnformatted(o);
    if (s) {
        if (!utf8_valid(s, strlen(s))) abort();
        cJSON *back = cJSON_Parse(s);
        if (!back) abort();
        cJSON_Delete(back);
        free(s);
    }
    cJSON_Delete(o);
}

static void from_message(const uint8_t *p, size_t n)
{
    struct wa_msg_info mi;
    if (wa_msg_decode(p, n, &mi) < 0) return;
    struct wa_inmsg im = {.chat = "15550002@s.whatsapp.net",
                          .sender = "15550002@s.whatsapp.net",
                          .id = "3EB0FUZZ",
                          .kind = wa_inmsg_kind_parse(mi.type)};
    if (mi.text) {
        if (!utf8_valid(mi.text, mi.text_len) || strlen(mi.text) != mi.text_len) abort();
        if ((mi.text_repaired > 0) != (mi.text_raw != NULL)) abort();
        im.text = mi.text;
        im.text_len = mi.text_len;
        im.text_raw = (const uint8_t *)mi.text_raw;
        im.text_raw_len = mi.text_raw_len;
    } else {
        im.raw = p;
        im.raw_len = n;
    }
    check_json(&im);
    wa_msg_info_free(&mi);
}

/* The next 0x00-terminated field of [*p, end) as a heap string. */
static char *field(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
    size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += z ? n + 1 : n;
    return s;
}

static void from_row(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    char text[] = "text", other[] = "other";
    struct st_inbox_msg r = {.cursor = 7, .type = (n & 1) ? text : other};
    r.chat = field(&p, end);
    r.sender = field(&p, end);
    r.msg_id = field(&p, end);
    r.payload = (uint8_t *)p;
    r.payload_len = (size_t)(end - p);
    r.text_raw = r.payload_len ? (uint8_t *)p : NULL;
    r.text_raw_len = r.payload_len;
    struct wa_inmsg im;
    wa_inmsg_from_row(&r, &im);
    check_json(&im);
    free(r.chat);
    free(r.sender);
    free(r.msg_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1)
        from_row(data + 1, size - 1);
    else
        from_message(data + 1, size - 1);
    return 0;
}
