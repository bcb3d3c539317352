/* SPDX-License-Identifier: MIT */
/* multipart.h -- a multipart/form-data body (RFC 7578, RFC 2046 section 5.1), sans-I/O.
 *
 * The whole body is in memory (the API server buffers requests up to its cap): the parts
 * point into it, nothing is copied but the header values below. Accepted:
 *   [preamble] "--B" [LWSP] CRLF  { headers CRLF  data  CRLF "--B" [LWSP] CRLF }  "--" [epilogue]
 * with each header "Name: value" on one line (no folding). Per part, Content-Disposition must
 * be form-data with a name; filename and Content-Type are optional. Caps (a body over them is
 * refused, never truncated): MP_PARTS_MAX parts, MP_HEADER_MAX bytes per header line,
 * MP_HEADERS_MAX lines per part, the name / filename / type sizes below (a longer one is an
 * error). Names and file names must be valid UTF-8 without control characters (a NUL in a
 * value is refused), and the filename is the last path component a client may have sent
 * ("C:\\x\\a.pdf" gives "a.pdf").
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_BOUNDARY_MAX 70 /* RFC 2046 */
#define MP_PARTS_MAX    32
#define MP_HEADER_MAX   1024
#define MP_HEADERS_MAX  16
#define MP_NAME_MAX     64
#define MP_FNAME_MAX    256
#define MP_TYPE_MAX     128

struct mp_part {
    char name[MP_NAME_MAX];
    char filename[MP_FNAME_MAX]; /* "" when the part has none */
    bool has_filename;
    char content_type[MP_TYPE_MAX]; /* "" when the part has none */
    const uint8_t *data;            /* into the body; NULL when len == 0 */
    size_t len;
};

/* The boundary of a Content-Type "multipart/form-data; boundary=B" (B may be quoted):
 * 0 (out NUL-terminated), -ENOENT (not multipart/form-data), -EINVAL (no or bad boundary). */
int mp_boundary(const char *content_type, char *out, size_t cap)
    __attribute__((warn_unused_result));
/* Split body into up to cap parts (*n of them). 0, or -EBADMSG with the reason in err
 * (malformed, over a cap, no closing delimiter). */
int mp_parse(const uint8_t *body, size_t len, const char *boundary, struct mp_part *parts,
             size_t cap, size_t *n, char *err, size_t errlen) __attribute__((warn_unused_result));
/* The first part named name, or NULL. */
const struct mp_part *mp_find(const struct mp_part *parts, size_t n, const char *name);
