/* SPDX-License-Identifier: MIT */
/* dnsprobe.c -- a resolver-only probe: one timer, at most one c-ares query in flight. */
#include "gw/dnsprobe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns.h"
#include "net/url.h"

struct dnsprobe {
    uv_timer_t timer;
    char host[NDNS_NAME_MAX + 1];
    char servers[NDNS_MAX_SERVERS][64];
    const char *server_ptrs[NDNS_MAX_SERVERS];
    size_t nservers;
    unsigned interval_ms, timeout_ms;
    void (*on_resolved)(void *ud);
    void *ud;
    struct ndns_query *q; /* in flight, else NULL */
    bool active;
    unsigned queries;
};

static void on_timer(uv_timer_t *t);

int dnsprobe_new(uv_loop_t *loop, const struct dnsprobe_opts *o, void (*on_resolved)(void *ud),
                 void *ud, struct dnsprobe **out)
{
    *out = NULL;
    if (!loop || !o || !o->host || !o->host[0] || strlen(o->host) > NDNS_NAME_MAX ||
        o->nservers > NDNS_MAX_SERVERS || (o->nservers && !o->servers) || !on_resolved)
        return -EINVAL;
    struct dnsprobe *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    memcpy(p->host, o->host, strlen(o->host) + 1);
    for (size_t i = 0; i < o->nservers; i++) {
        if (!o->servers[i] || strlen(o->servers[i]) >= sizeof p->servers[0]) {
            free(p);
            return -EINVAL;
        }
        memcpy(p->servers[i], o->servers[i], strlen(o->servers[i]) + 1);
        p->server_ptrs[i] = p->servers[i];
    }
    p->nservers = o->nservers;
    p->interval_ms = o->interval_ms ? o->interval_ms : DNSPROBE_INTERVAL_MS;
    p->timeout_ms = o->timeout_ms ? o->timeout_ms : DNSPROBE_TIMEOUT_MS;
    p->on_resolved = on_resolved;
    p->ud = ud;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    *out = p;
    return 0;
}

int dnsprobe_new_for_url(uv_loop_t *loop, const char *url, const char *const *servers,
                         size_t nservers, void (*on_resolved)(void *ud), void *ud,
                         struct dnsprobe **out)
{
    *out = NULL;
    struct nurl u;
    char err[128];
    if (!url || nurl_parse(url, &u, err, sizeof err) < 0) return -EINVAL;
    if (u.ip_family) return 0;
    struct dnsprobe_opts o = {.host = u.host, .servers = servers, .nservers = nservers};
    return dnsprobe_new(loop, &o, on_resolved, ud, out);
}

static void arm(struct dnsprobe *p)
{
    uv_timer_start(&p->timer, on_timer, p->interval_ms, 0);
}

static void on_result(void *ud, const struct ndns_result *res)
{
    struct dnsprobe *p = ud;
    p->q = NULL; /* the query is gone after this callback */
    if (!p->active) return;
    if (res->cause == NOUT_C_NONE && res->naddrs > 0) {
        p->active = false; /* once: the owner starts it again if it needs to */
        p->on_resolved(p->ud);
        return;
    }
    arm(p);
}

static void on_timer(uv_timer_t *t)
{
    struct dnsprobe *p = t->data;
    if (!p->active || p->q) return;
    struct ndns_opts o = {.servers = p->nservers ? p->server_ptrs : NULL,
                          .nservers = p->nservers,
                          .timeout_ms = (int)p->timeout_ms,
                          .tries = 1};
    p->queries++;
    char err[96];
    if (ndns_resolve(t->loop, &o, p->host, 0, on_result, p, &p->q, err, sizeof err) < 0) {
        p->q = NULL;
        arm(p); /* out of memory or the like: try again later */
    }
}

void dnsprobe_start(struct dnsprobe *p)
{
    if (!p || p->active) return;
    p->active = true;
    arm(p);
}

void dnsprobe_stop(struct dnsprobe *p)
{
    if (!p) return;
    p->active = false;
    uv_timer_stop(&p->timer);
    ndns_cancel(p->q);
    p->q = NULL;
}

bool dnsprobe_active(const struct dnsprobe *p)
{
    return p && p->active;
}

unsigned dnsprobe_queries(const struct dnsprobe *p)
{
    return p ? p->queries : 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void dnsprobe_close(struct dnsprobe *p)
{
    if (!p) return;
    dnsprobe_stop(p);
    uv_close((uv_handle_t *)&p->timer, on_closed);
}
