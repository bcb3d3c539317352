/* SPDX-License-Identifier: MIT */
/* hex.c -- hex encoding and decoding. */
#include "core/hex.h"

#include <errno.h>

void hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long hex_decode(uint8_t *out, size_t outmax, const char *in, size_t inlen)
{
    size_t n = 0;
    int hi = -1;
    for (size_t i = 0; i < inlen; i++) {
        char c = in[i];
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
        int v = nibble(c);
        if (v < 0) return -EINVAL;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= outmax) return -ENOBUFS;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    if (hi >= 0) return -EINVAL;
    return (long)n;
}
