/* SPDX-License-Identifier: MIT */
/* chmconn.c -- one channel's media_conn (see chmconn.h). */
#include "gw/chmconn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define COMP        "media"
#define IQ_MS       20000
#define RETRY_MS    5000
#define TTL_DEFAULT 300   /* seconds, when the answer has none */
#define TTL_MAX     86400 /* seconds */

struct req {
    struct chmconn *c; /* NULL once its owner forgot it */
};

struct chmconn {
    uv_loop_t *loop;
    char account[64];
    struct wa_client *client;
    struct wa_media_conn mc;
    uint64_t until; /* uv_now ms; 0 = none */
    struct req *req;
    uv_timer_t *timer; /* ready after a failure */
    struct {
        chmconn_ready_fn fn;
        void *ud;
    } w[CHMCONN_WATCHERS];
    size_t nw;
};

static void tell(struct chmconn *c)
{
    for (size_t i = 0; i < c->nw; i++)
        c->w[i].fn(c->w[i].ud);
}

static void on_timer(uv_timer_t *t)
{
    tell(t->data);
}

static void forget_req(struct chmconn *c)
{
    if (c->req) c->req->c = NULL; /* its callback still comes (-ENOTCONN / -ECANCELED) */
    c->req = NULL;
}

static void on_answer(void *ud, int status, const struct wa_node *resp)
{
    struct req *q = ud;
    struct chmconn *c = q->c;
    free(q);
    if (!c) return;
    c->req = NULL;
    struct wa_media_conn mc;
    if (status == 0 && wa_media_conn_parse(resp, &mc) == 0) {
        uint32_t ttl = mc.ttl ? mc.ttl : TTL_DEFAULT;
        if (ttl > TTL_MAX) ttl = TTL_MAX;
        mc.fetched_ms = uv_now(c->loop);
        c->mc = mc;
        c->until = mc.fetched_ms + (uint64_t)ttl * 1000;
        tell(c);
        return;
    }
    log_warn(COMP, c->account, "media_conn: %s", status ? strerror(-status) : "bad answer");
    uv_timer_start(c->timer, on_timer, RETRY_MS, 0);
}

static void ask(struct chmconn *c)
{
    if (c->req || !c->client || uv_is_active((uv_handle_t *)c->timer)) return;
    struct req *q = calloc(1, sizeof *q);
    char id[WA_IQ_ID_MAX + 1];
    wa_client_new_id(c->client, id, sizeof id);
    struct wa_node *iq = q ? wa_media_conn_build(id) : NULL;
    int r = iq ? wa_client_send_iq(c->client, iq, IQ_MS, on_answer, q) : -ENOMEM;
    wa_node_free(iq);
    if (r < 0) {
        free(q);
        uv_timer_start(c->timer, on_timer, RETRY_MS, 0);
        return;
    }
    q->c = c;
    c->req = q;
}

const struct wa_media_conn *chmconn_get(struct chmconn *c)
{
    if (!c) return NULL;
    if (c->until && uv_now(c->loop) < c->until) return &c->mc;
    ask(c);
    return NULL;
}

void chmconn_invalidate(struct chmconn *c)
{
    if (c) c->until = 0;
}

void chmconn_set_client(struct chmconn *c, struct wa_client *cl)
{
    if (!c) return;
    forget_req(c);
    uv_timer_stop(c->timer);
    c->client = cl;
    c->until = 0; /* a new connection: a new media_conn */
}

int chmconn_watch(struct chmconn *c, chmconn_ready_fn ready, void *ud)
{
    if (!c || !ready) return -EINVAL;
    if (c->nw == CHMCONN_WATCHERS) return -ENOSPC;
    c->w[c->nw].fn = ready;
    c->w[c->nw].ud = ud;
    c->nw++;
    return 0;
}

void chmconn_unwatch(struct chmconn *c, void *ud)
{
    size_t i = 0;
    while (c && i < c->nw)
        if (c->w[i].ud == ud)
            c->w[i] = c->w[--c->nw];
        else
            i++;
}

int chmconn_new(uv_loop_t *loop, const char *account, struct chmconn **out)
{
    if (!loop || !out) return -EINVAL;
    struct chmconn *c = calloc(1, sizeof *c);
    uv_timer_t *t = c ? malloc(sizeof *t) : NULL;
    if (!t) {
        free(c);
        return -ENOMEM;
    }
    c->loop = loop;
    snprintf(c->account, sizeof c->account, "%s", account ? account : "");
    uv_timer_init(loop, t);
    t->data = c;
    uv_unref((uv_handle_t *)t);
    c->timer = t;
    *out = c;
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void chmconn_free(struct chmconn *c)
{
    if (!c) return;
    forget_req(c);
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    free(c);
}
