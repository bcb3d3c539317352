/* SPDX-License-Identifier: MIT */
/* utf8.h -- strict UTF-8 validation and repair.
 *
 * "Valid" is RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF. Repair replaces every maximal invalid subpart (Unicode §3.9, the WHATWG decoder's
 * rule) with U+FFFD, so a truncated 3-byte sequence costs one replacement, a stray
 * continuation byte one each. NUL is valid UTF-8 here; callers that need C strings check it.
 * Pure functions, nothing logs.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* true when the n bytes at p are valid UTF-8. */
bool utf8_valid(const void *p, size_t n);
/* Offset of the first invalid byte, or n when all of it is valid. */
size_t utf8_first_invalid(const void *p, size_t n);
/* A repaired, NUL-terminated heap copy of the n bytes at p (free with free()): *out, with its
 * length in *outlen (may be NULL). Returns the number of replacements made (0: the copy
 * equals the input) or -ENOMEM. The copy is at most 3 * n + 1 bytes. */
int utf8_repair(const void *p, size_t n, char **out, size_t *outlen)
    __attribute__((warn_unused_result));
