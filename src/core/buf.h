/* SPDX-License-Identifier: MIT */
/* buf.h -- growable byte buffer with a hard cap set at init.
 *
 * A `struct buf` is a small value type callers embed. It owns `data`
 * (heap, NULL until the first append). Every append fails with -ENOBUFS if
 * the result would exceed `max`, and with -ENOMEM on allocation failure; the
 * buffer is unchanged on failure. buf_free() releases the memory and leaves
 * an empty buffer that may be reused with the same cap.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len; 0 means SIZE_MAX */
};

/* Initialise an empty buffer whose length may never exceed `max` (0 = none). */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Make room for `extra` more bytes without changing len. Afterwards `data` is
 * never NULL, even for extra == 0 (callers may write data + len). */
int buf_reserve(struct buf *b, size_t extra) __attribute__((warn_unused_result));
int buf_append(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_append_byte(struct buf *b, uint8_t c) __attribute__((warn_unused_result));
int buf_append_str(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
