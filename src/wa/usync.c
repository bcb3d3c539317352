/* SPDX-License-Identifier: MIT */
/* usync.c -- device-list queries: build, parse, cache. */
#include "wa/usync.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static struct wa_node *child_new(struct wa_node *parent, const char *tag)
{
    struct wa_node *c = wa_node_new(tag);
    if (c && wa_node_add_child(parent, c) < 0) {
        wa_node_free(c);
        return NULL;
    }
    return c;
}

static int add_user(struct wa_node *list, const char *user)
{
    struct wa_jid j;
    struct wa_node *u = child_new(list, "user");
    if (!u || wa_jid_set(&j, user, WA_SERVER_PN) < 0) return -EINVAL;
    return wa_node_set_attr_jid(u, "jid", &j);
}

struct wa_node *wa_usync_build(const char *id, const char *const *users, size_t n)
{
    if (!id || !users || n == 0 || n > WA_USYNC_MAX_USERS) return NULL;
    struct wa_node *iq = wa_node_new("iq");
    struct wa_jid srv;
    int rc = iq ? wa_jid_set(&srv, "", WA_SERVER_PN) : -ENOMEM;
    if (rc == 0) rc = wa_node_set_attr(iq, "id", id);
    if (rc == 0) rc = wa_node_set_attr_jid(iq, "to", &srv);
    if (rc == 0) rc = wa_node_set_attr(iq, "type", "get");
    if (rc == 0) rc = wa_node_set_attr(iq, "xmlns", "usync");
    struct wa_node *us = rc == 0 ? child_new(iq, "usync") : NULL;
    if (!us) rc = -ENOMEM;
    static const char *const ua[][2] = {
        {"context", "message"}, {"mode", "query"}, {"last", "true"}, {"index", "0"}};
    if (rc == 0) rc = wa_node_set_attr(us, "sid", id);
    for (size_t i = 0; rc == 0 && i < sizeof(ua) / sizeof(ua[0]); i++)
        rc = wa_node_set_attr(us, ua[i][0], ua[i][1]);
    struct wa_node *q = rc == 0 ? child_new(us, "query") : NULL;
    struct wa_node *dv = q ? child_new(q, "devices") : NULL;
    if (!dv || !child_new(q, "lid") || wa_node_set_attr(dv, "version", "2") < 0) rc = -ENOMEM;
    struct wa_node *list = rc == 0 ? child_new(us, "list") : NULL;
    if (!list) rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add_user(list, users[i]);
    if (rc < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

static void parse_devices(const struct wa_node *user, struct wa_usync_user *u)
{
    const struct wa_node *devs = wa_node_child(user, "devices");
    const struct wa_node *dl = devs ? wa_node_child(devs, "device-list") : NULL;
    for (const struct wa_node *d = dl ? wa_node_next_child(dl, "device", NULL) : NULL;
         d && u->ndev < WA_USYNC_MAX_DEVICES; d = wa_node_next_child(dl, "device", d)) {
        const char *id = wa_node_attr(d, "id"), *hosted = wa_node_attr(d, "is_hosted");
        char *end = NULL;
        long v = id ? strtol(id, &end, 10) : -1;
        if (!id || *end || v < 0 || v > 255) continue;
        if (v != 0 && !wa_node_attr(d, "key-index")) continue;
        if (hosted && strcmp(hosted, "true") == 0) continue;
        u->dev[u->ndev++] = (uint16_t)v;
    }
}

int wa_usync_parse(const struct wa_node *iq, struct wa_usync_user *out, size_t cap, size_t *n)
{
    *n = 0;
    const struct wa_node *us = iq ? wa_node_child(iq, "usync") : NULL;
    const struct wa_node *list = us ? wa_node_child(us, "list") : NULL;
    if (!list) return -EPROTO;
    for (const struct wa_node *u = wa_node_next_child(list, "user", NULL); u && *n < cap;
         u = wa_node_next_child(list, "user", u)) {
        struct wa_jid j, l;
        if (wa_node_attr_jid(u, "jid", &j) < 0 || !wa_jid_is_pn(&j) || !j.user[0] ||
            strlen(j.user) >= WA_USYNC_USER_MAX)
            continue;
        struct wa_usync_user *o = &out[*n];
        memset(o, 0, sizeof(*o));
        memcpy(o->pn, j.user, strlen(j.user) + 1);
        const struct wa_node *lid = wa_node_child(u, "lid");
        if (lid && wa_node_attr_jid(lid, "val", &l) == 0 && wa_jid_is_lid(&l) &&
            strlen(l.user) < WA_USYNC_USER_MAX)
            memcpy(o->lid, l.user, strlen(l.user) + 1);
        parse_devices(u, o);
        (*n)++;
    }
    return 0;
}

/* ---- cache ---- */

struct centry {
    struct wa_usync_user u;
    int64_t at;
    int used;
    int absent; /* the answer listed no device: not on WhatsApp */
};

/* Entries grow on demand (8, 16, ... WA_USYNC_CACHE_MAX): most accounts talk to a few
 * people, and a thousand accounts on one daemon should not each hold a full table. */
struct wa_usync_cache {
    int ttl;
    size_t cap;
    struct centry *e;
};

int wa_usync_cache_new(int ttl_s, struct wa_usync_cache **out)
{
    *out = calloc(1, sizeof(**out));
    if (!*out) return -ENOMEM;
    (*out)->ttl = ttl_s > 0 ? ttl_s : WA_USYNC_TTL_S;
    return 0;
}

void wa_usync_cache_free(struct wa_usync_cache *c)
{
    if (c) free(c->e);
    free(c);
}

/* A free entry, after growing the table when it is full and below the cap; NULL when full. */
static struct centry *free_entry(struct wa_usync_cache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        if (!c->e[i].used) return &c->e[i];
    if (c->cap >= WA_USYNC_CACHE_MAX) return NULL;
    size_t ncap = c->cap ? c->cap * 2 : 8;
    if (ncap > WA_USYNC_CACHE_MAX) ncap = WA_USYNC_CACHE_MAX;
    struct centry *ne = realloc(c->e, ncap * sizeof(*ne));
    if (!ne) return NULL;
    memset(ne + c->cap, 0, (ncap - c->cap) * sizeof(*ne));
    c->e = ne;
    struct centry *f = &c->e[c->cap];
    c->cap = ncap;
    return f;
}

static struct centry *find(struct wa_usync_cache *c, const char *pn)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->e[i].used && strcmp(c->e[i].u.pn, pn) == 0) return &c->e[i];
    return NULL;
}

const struct wa_usync_user *wa_usync_cache_get(struct wa_usync_cache *c, const char *pn,
                                               int64_t now)
{
    struct centry *e = find(c, pn);
    if (!e || e->absent || now - e->at >= c->ttl || now < e->at) return NULL;
    return &e->u;
}

bool wa_usync_cache_absent(struct wa_usync_cache *c, const char *pn, int64_t now)
{
    struct centry *e = find(c, pn);
    return e && e->absent && now - e->at < c->ttl && now >= e->at;
}

void wa_usync_cache_put(struct wa_usync_cache *c, const struct wa_usync_user *u, int64_t now)
{
    struct centry *e = find(c, u->pn);
    if (!e) e = free_entry(c);
    if (!e && c->cap == 0) return; /* no memory for even one entry: not cached */
    if (!e) {
        e = &c->e[0];
        for (size_t i = 1; i < c->cap; i++)
            if (c->e[i].at < e->at) e = &c->e[i];
    }
    e->u = *u;
    e->at = now;
    e->used = 1;
    e->absent = u->ndev == 0;
}

void wa_usync_cache_put_absent(struct wa_usync_cache *c, const char *pn, int64_t now)
{
    struct wa_usync_user u;
    memset(&u, 0, sizeof(u));
    if (strlen(pn) >= sizeof(u.pn)) return;
    memcpy(u.pn, pn, strlen(pn) + 1);
    wa_usync_cache_put(c, &u, now);
}

void wa_usync_cache_drop(struct wa_usync_cache *c, const char *pn)
{
    struct centry *e = find(c, pn);
    if (e) e->used = 0;
}

void wa_usync_cache_clear(struct wa_usync_cache *c)
{
    if (c->cap) memset(c->e, 0, c->cap * sizeof(*c->e));
}
