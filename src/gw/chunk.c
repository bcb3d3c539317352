/* SPDX-License-Identifier: MIT */
/* chunk.c -- long texts cut at word boundaries. */
#include "gw/chunk.h"

#include <stdbool.h>

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

size_t gw_chunk_next(const char *text, size_t len, size_t max, size_t *skip)
{
    size_t i = 0, chars = 0, last_space = 0;
    bool have_space = false;
    *skip = 0;
    while (i < len && chars < max) {
        size_t j = i + 1;
        while (j < len && ((unsigned char)text[j] & 0xC0) == 0x80)
            j++;
        if (is_space((unsigned char)text[i])) {
            last_space = i;
            have_space = true;
        }
        i = j;
        chars++;
    }
    if (i >= len) return len;               /* the rest fits */
    if (is_space((unsigned char)text[i])) { /* the cut falls on a break */
        last_space = i;
        have_space = true;
    }
    size_t end = have_space && last_space > 0 ? last_space : i;
    size_t k = end;
    while (k < len && is_space((unsigned char)text[k]))
        k++;
    *skip = k - end;
    while (end > 0 && is_space((unsigned char)text[end - 1])) /* no trailing blanks */
        end--;
    if (end == 0) { /* only blanks before the cut: cut at max characters */
        *skip = 0;
        return i;
    }
    return end;
}

size_t gw_chunk_count(const char *text, size_t len, size_t max)
{
    size_t n = 0, off = 0;
    while (off < len) {
        size_t skip = 0, c = gw_chunk_next(text + off, len - off, max, &skip);
        off += c + skip;
        n++;
    }
    return n;
}
