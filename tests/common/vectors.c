/* SPDX-License-Identifier: MIT */
/* vectors.c -- test support: load the shared test vectors. */
#include "vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/hex.h"

cJSON *vectors_load(void)
{
    const char *dir = getenv("WAGATE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/../shared/vectors/wa-vectors.json",
             dir && *dir ? dir : WAGATE_SOURCE_DIR);
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(path, 16u << 20, &text, &len) < 0) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    return root;
}

uint8_t *vectors_hexdup(const char *hex, size_t *n)
{
    size_t l = strlen(hex);
    uint8_t *p = malloc(l / 2 + 1);
    if (!p) return NULL;
    long r = hex_decode(p, l / 2 + 1, hex, l);
    if (r < 0) {
        free(p);
        return NULL;
    }
    *n = (size_t)r;
    return p;
}
