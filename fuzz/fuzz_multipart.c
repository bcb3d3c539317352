/* SPDX-License-Identifier: MIT */
/* fuzz_multipart.c -- libFuzzer target for multipart/form-data bodies (api/multipart). The
 * input up to the first '\n' is the Content-Type (boundary parameter), the rest the body;
 * every part found must lie inside the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hl = nl ? (size_t)(nl - data) : 0;
    if (!nl || hl > 200) return 0;
    char ct[201];
    memcpy(ct, data, hl);
    ct[hl] = '\0';
    char b[MP_BOUNDARY_MAX + 1];
    if (mp_boundary(ct, b, sizeof b) != 0) return 0;
    size_t blen = size - hl - 1;
    uint8_t *body = malloc(blen ? blen : 1); /* exact size: reads past it trap */
    if (!body) return 0;
    memcpy(body, nl + 1, blen);
    struct mp_part p[MP_PARTS_MAX];
    size_t n = 0;
    char err[128];
    if (mp_parse(body, blen, b, p, MP_PARTS_MAX, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (p[i].len && (p[i].data < body || p[i].data + p[i].len > body + blen)) abort();
            if (!p[i].name[0] || strlen(p[i].filename) >= MP_FNAME_MAX) abort();
        }
    }
    free(body);
    return 0;
}
