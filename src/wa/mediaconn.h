/* SPDX-License-Identifier: MIT */
/* mediaconn.h -- the media_conn iq, sans-I/O (docs/internals/media.md, "media_conn").
 *
 *   -> <iq id to='s.whatsapp.net' type='set' xmlns='w:m'><media_conn/></iq>
 *   <- <iq type='result'><media_conn auth ttl [auth_ttl] [max_buckets]>
 *        <host hostname [maxContentLengthBytes]/>...</media_conn></iq>
 * The answer gives the upload auth and the hosts for wa/mediaxfer (uploads and downloads);
 * it is valid for `ttl` seconds from when it was fetched (Baileys refetches after that, and
 * after a failed upload). Caps: at most WA_MCONN_HOSTS_MAX hosts are kept (the first ones),
 * a hostname must be a plain "name[:port]" (no '/', '?', '#', '@', space) under 256 bytes,
 * the auth under 512 bytes.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "wa/node.h"

#define WA_MCONN_HOSTS_MAX 8

struct wa_media_conn {
    char auth[512];
    uint32_t ttl;         /* seconds */
    uint32_t auth_ttl;    /* seconds, 0 when absent */
    uint32_t max_buckets; /* 0 when absent */
    size_t nhosts;
    struct {
        char hostname[256];
        uint64_t max_content_length; /* bytes, 0 when absent */
    } hosts[WA_MCONN_HOSTS_MAX];
    uint64_t fetched_ms; /* set by the caller when the answer arrived (wa_media_conn_fresh) */
};

/* The query iq with this id; NULL on ENOMEM or a bad id. Caller frees. */
struct wa_node *wa_media_conn_build(const char *id);
/* Parse the result iq: 0, or -EPROTO (no media_conn, no auth, no usable host, bad numbers). */
int wa_media_conn_parse(const struct wa_node *iq, struct wa_media_conn *out)
    __attribute__((warn_unused_result));
/* True while now_ms is within ttl of fetched_ms. */
bool wa_media_conn_fresh(const struct wa_media_conn *c, uint64_t now_ms);
