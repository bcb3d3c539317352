/* SPDX-License-Identifier: MIT */
/* mediaconn.c -- build the media_conn query, parse its answer. */
#include "wa/mediaconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa/jid.h"
#include "wa/nodeb.h"

struct wa_node *wa_media_conn_build(const char *id)
{
    if (!id || !*id) return NULL;
    struct wa_node *iq = wa_node_new("iq");
    struct wa_jid srv;
    int rc = iq ? wa_jid_set(&srv, "", WA_SERVER_PN) : -ENOMEM;
    if (rc == 0) rc = wa_node_set_attr(iq, "id", id);
    if (rc == 0) rc = wa_node_set_attr_jid(iq, "to", &srv);
    if (rc == 0) rc = wa_node_set_attr(iq, "type", "set");
    if (rc == 0) rc = wa_node_set_attr(iq, "xmlns", "w:m");
    if (rc == 0 && !wa_nb_child(iq, "media_conn")) rc = -ENOMEM;
    if (rc < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

/* A decimal attribute: 0 and *v (def when absent), -EPROTO when present but not a number. */
static int attr_u64(const struct wa_node *n, const char *k, uint64_t def, uint64_t max, uint64_t *v)
{
    const char *s = wa_node_attr(n, k);
    *v = def;
    if (!s) return 0;
    char *end = NULL;
    unsigned long long x = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-' || x > max) return -EPROTO;
    *v = x;
    return 0;
}

static bool hostname_ok(const char *h)
{
    size_t n = strlen(h);
    return n > 0 && n < 256 && !strpbrk(h, "/?#@ \t\r\n\\");
}

int wa_media_conn_parse(const struct wa_node *iq, struct wa_media_conn *out)
{
    if (!iq || !out) return -EINVAL;
    memset(out, 0, sizeof(*out));
    const char *type = wa_node_attr(iq, "type");
    struct wa_node *mc = wa_node_child(iq, "media_conn");
    if (!wa_nb_is(iq, "iq") || !type || strcmp(type, "result") != 0 || !mc) return -EPROTO;
    const char *auth = wa_node_attr(mc, "auth");
    if (!auth || !*auth || strlen(auth) >= sizeof(out->auth)) return -EPROTO;
    snprintf(out->auth, sizeof(out->auth), "%s", auth);
    uint64_t ttl, attl, mb;
    if (attr_u64(mc, "ttl", 0, UINT32_MAX, &ttl) < 0 ||
        attr_u64(mc, "auth_ttl", 0, UINT32_MAX, &attl) < 0 ||
        attr_u64(mc, "max_buckets", 0, UINT32_MAX, &mb) < 0 || ttl == 0)
        return -EPROTO;
    out->ttl = (uint32_t)ttl;
    out->auth_ttl = (uint32_t)attl;
    out->max_buckets = (uint32_t)mb;
    for (struct wa_node *h = wa_node_next_child(mc, "host", NULL);
         h && out->nhosts < WA_MCONN_HOSTS_MAX; h = wa_node_next_child(mc, "host", h)) {
        const char *name = wa_node_attr(h, "hostname");
        uint64_t max;
        if (!name || !hostname_ok(name) ||
            attr_u64(h, "maxContentLengthBytes", 0, UINT64_MAX, &max) < 0)
            continue; /* an unusable host is skipped, not fatal */
        snprintf(out->hosts[out->nhosts].hostname, sizeof(out->hosts[0].hostname), "%s", name);
        out->hosts[out->nhosts++].max_content_length = max;
    }
    return out->nhosts ? 0 : -EPROTO;
}

bool wa_media_conn_fresh(const struct wa_media_conn *c, uint64_t now_ms)
{
    return c && c->nhosts && now_ms >= c->fetched_ms &&
           now_ms - c->fetched_ms < (uint64_t)c->ttl * 1000;
}
