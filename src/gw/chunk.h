/* SPDX-License-Identifier: MIT */
/* chunk.h -- a long text cut into messages of at most `max` characters (issue 14).
 *
 * gw_chunk_next() returns the length in bytes of the next chunk of text[0..len): at most max
 * characters (Unicode code points of the valid UTF-8 text), ending after the last whitespace
 * that fits (a word is never cut), or, when one word alone is longer than max, at max
 * characters (never inside a UTF-8 sequence). *skip = the whitespace bytes after the chunk
 * the next chunk starts past (the break itself is not sent). The whole text when it fits.
 * Pure; max >= 1.
 */
#pragma once
#include <stddef.h>

size_t gw_chunk_next(const char *text, size_t len, size_t max, size_t *skip);
/* How many chunks text has (1 for a text that fits, 0 for an empty one). */
size_t gw_chunk_count(const char *text, size_t len, size_t max);
