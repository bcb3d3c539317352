/* SPDX-License-Identifier: MIT */
/* utf8.c -- strict UTF-8 validation and repair (maximal subparts -> U+FFFD). */
#include "core/utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the sequence at p (n > 0 bytes left). *ok: valid; when not, the return value is
 * the length of the maximal invalid subpart (at least 1). */
static size_t scan1(const uint8_t *p, size_t n, bool *ok)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    *ok = false;
    if (c < 0x80) {
        *ok = true;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else {
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) return i;
        lo = 0x80;
        hi = 0xBF;
    }
    *ok = true;
    return need + 1;
}

size_t utf8_first_invalid(const void *v, size_t n)
{
    const uint8_t *p = v;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { /* ASCII run */
            i++;
            continue;
        }
        bool ok;
        size_t k = scan1(p + i, n - i, &ok);
        if (!ok) return i;
        i += k;
    }
    return n;
}

bool utf8_valid(const void *p, size_t n)
{
    return !n || utf8_first_invalid(p, n) == n;
}

int utf8_repair(const void *v, size_t n, char **out, size_t *outlen)
{
    const uint8_t *p = v;
    char *o = malloc(n * 3 + 1);
    *out = NULL;
    if (!o) return -ENOMEM;
    size_t i = 0, w = 0;
    int repl = 0;
    while (i < n) {
        bool ok;
        size_t k = scan1(p + i, n - i, &ok);
        if (ok) {
            memcpy(o + w, p + i, k);
            w += k;
        } else {
            memcpy(o + w, UTF8_REPLACEMENT, 3);
            w += 3;
            repl++;
        }
        i += k;
    }
    o[w] = '\0';
    *out = o;
    if (outlen) *outlen = w;
    return repl;
}
