/* SPDX-License-Identifier: MIT */
/* whurl.c -- a webhook URL fit to show (gw/whurl.h). */
#include "gw/whurl.h"

#include <stdbool.h>
#include <string.h>

void gw_webhook_url_redact(const char *url, char *out, size_t outlen)
{
    if (!outlen) return;
    size_t o = 0;
    const char *p = url, *scheme = strstr(url, "://");
    if (scheme) { /* scheme://, then the authority without userinfo */
        for (; p < scheme + 3 && o + 1 < outlen; p++)
            out[o++] = *p;
        const char *end = p + strcspn(p, "/?#"), *at = memchr(p, '@', (size_t)(end - p));
        if (at) p = at + 1;
    }
    bool query = false;
    for (; *p && *p != '#' && o + 1 < outlen; p++) {
        if (*p == '?') query = true;
        if (query && *p == '=') { /* each value shown as "*" */
            out[o++] = '=';
            if (o + 1 < outlen) out[o++] = '*';
            p += strcspn(p, "&#") - 1;
            continue;
        }
        out[o++] = *p;
    }
    if (*p == '#' && o + 2 < outlen) {
        out[o++] = '#';
        out[o++] = '*';
    }
    out[o] = '\0';
}
