/* SPDX-License-Identifier: MIT */
/* fuzz_mediaretry.c -- the media retry stanza parsers (wa/mediaretry.h) on peer-controlled
 * bytes.
 *
 * Input: a binary node (flags byte first), decoded, then handed to
 * wa_mretry_parse_notification (the client's side of <notification type=mediaretry>) and
 * wa_mretry_open_request (the phone's side of <receipt type=server-error>) with and without
 * the media key of the seed corpus (tests/fixtures/media-vectors.json "retry": 0x90.. step
 * 5). Nothing may crash or leak; a parsed answer's strings must be NUL-terminated within
 * their arrays, and a payload that opened must name the stanza's own id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/mediaretry.h"
#include "wa/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    if (!memchr(s, 0, cap)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x90 + i * 5);
    struct wa_node *n = NULL;
    char err[160];
    if (wa_node_decode(data, size, NULL, &n, err, sizeof(err)) != 0) return 0;
    struct wa_mretry_answer a;
    for (int k = 0; k < 2; k++) {
        if (wa_mretry_parse_notification(n, k ? key : NULL, &a) == 0) {
            check_str(a.key.id, sizeof(a.key.id));
            check_str(a.key.chat, sizeof(a.key.chat));
            check_str(a.key.participant, sizeof(a.key.participant));
            check_str(a.direct_path, sizeof(a.direct_path));
            if (a.has_payload && !k) abort(); /* nothing opens without the key */
        }
        struct wa_mretry_key rk;
        if (wa_mretry_open_request(n, k ? key : NULL, &rk) == 0) {
            check_str(rk.id, sizeof(rk.id));
            if (strcmp(rk.id, wa_node_attr(n, "id")) != 0) abort();
        }
    }
    wa_node_free(n);
    return 0;
}
