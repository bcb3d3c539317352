/* SPDX-License-Identifier: MIT */
/* hex.h -- lower-case hex encoding and tolerant decoding. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Write 2*n lower-case hex digits and a NUL to out (size >= 2*n+1). */
void hex_encode(char *out, const uint8_t *in, size_t n);
/* Decode hex (either case; ASCII whitespace ignored) into out (at most
 * outmax bytes). Returns the number of bytes written, or -EINVAL for a bad
 * digit or odd digit count, -ENOBUFS if out is too small. */
long hex_decode(uint8_t *out, size_t outmax, const char *in, size_t inlen);
