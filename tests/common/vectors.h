/* SPDX-License-Identifier: MIT */
/* vectors.h -- test support: the shared Baileys test vectors (wa-vectors.json). */
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Parse ../shared/vectors/wa-vectors.json (relative to WAGATE_SOURCE_DIR).
 * Returns a new cJSON tree (caller frees with cJSON_Delete) or NULL. */
cJSON *vectors_load(void);
/* Decode a hex string into a new heap buffer (caller frees); *n gets the length.
 * Returns NULL on bad hex. */
uint8_t *vectors_hexdup(const char *hex, size_t *n);
