/* SPDX-License-Identifier: MIT */
/* buf.c -- growable byte buffer with a hard cap. */
#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SIZE_MAX;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->max == 0) b->max = SIZE_MAX;
    if (extra > b->max || b->len > b->max - extra) return -ENOBUFS;
    size_t need = b->len + extra;
    if (need <= b->cap && b->data) return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max) ncap = b->max > need ? b->max : (need ? need : 1);
    uint8_t *p = realloc(b->data, ncap);
    if (!p) return -ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    int r = buf_reserve(b, n);
    if (r < 0) return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_append_byte(struct buf *b, uint8_t c)
{
    return buf_append(b, &c, 1);
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    int r = buf_reserve(b, (size_t)n);
    if (r < 0) return r;
    /* vsnprintf writes a terminator: it may use one byte of capacity past max,
     * which limits len, not the allocation. */
    if (b->cap < b->len + (size_t)n + 1) {
        uint8_t *p = realloc(b->data, b->len + (size_t)n + 1);
        if (!p) return -ENOMEM;
        b->data = p;
        b->cap = b->len + (size_t)n + 1;
    }
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
}
