/* SPDX-License-Identifier: MIT */
/* token.h -- the control API bearer token: file on disk and constant-time check.
 *
 * The token file is <state_dir>/token: 64 lower-case hex characters (32
 * random bytes from the OpenSSL CSPRNG) and a newline, mode 0600. An
 * operator may put their own token there: 16..256 visible ASCII characters
 * (no spaces or control characters), one line.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define API_TOKEN_MIN 16
#define API_TOKEN_MAX 256

/* Load <state_dir>/token, or create it (32 random bytes as 64 hex chars, mode
 * 0600, written atomically: tmp + fsync + rename + fsync dir) if missing.
 * out receives the NUL-terminated token (outlen >= 65, and more for longer
 * operator tokens). Errors (detail naming the file in err, may be NULL):
 *   -EPERM    the file is group/world accessible (fix: chmod 600)
 *   -EBADMSG  the file is empty, garbled, too short or too long
 *   -EINVAL   not a regular file (symlinks are refused)
 *   -ENOBUFS  outlen too small
 *   -errno    any I/O error (e.g. -ENOENT for a missing state_dir)
 * Blocking file I/O: call it before the loop runs. */
int api_token_load_or_create(const char *state_dir, char *out, size_t outlen, char *err,
                             size_t errlen) __attribute__((warn_unused_result));

/* Constant-time comparison of a presented token with the expected one: both
 * are hashed with SHA-256 and the digests compared with CRYPTO_memcmp, so the
 * time does not depend on where they differ nor on the expected length.
 * NULL or empty `given` never matches. */
bool api_token_equal(const char *expected, const char *given);

/* Test seam (module-internal): the constant-time compare used by
 * api_token_equal(). It is CRYPTO_memcmp; tests wrap it to see it used. */
extern int (*api_token__memcmp)(const void *a, const void *b, size_t len);

/* True if s is an acceptable token (length and characters as above). */
bool api_token_valid(const char *s);
