/* SPDX-License-Identifier: MIT */
/* sendwait.c -- API sends waiting for their shared COMMIT (see sendwait.h). */
#include "gw/sendwait.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_waiter {
    struct gw_waiter *next;
    struct gw_send_result r;
    gw_release_fn fn;
    void *arg;
    uint64_t ticket;
    int rc;
    bool done; /* the sender reported the group's end */
};

struct gw_sendwait {
    uv_check_t check;
    struct gw_sendwait_ops ops;
    struct gw_waiter *head, **tail;
    bool closing;
};

static void on_check(uv_check_t *h)
{
    gw_sendwait_run(h->data);
}

int gw_sendwait_new(uv_loop_t *loop, const struct gw_sendwait_ops *ops, struct gw_sendwait **out)
{
    *out = NULL;
    if (!ops || !ops->settle) return -EINVAL;
    struct gw_sendwait *w = calloc(1, sizeof(*w));
    if (!w) return -ENOMEM;
    int rc = uv_check_init(loop, &w->check);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->check.data = w;
    uv_unref((uv_handle_t *)&w->check);
    w->ops = *ops;
    w->tail = &w->head;
    *out = w;
    return 0;
}

struct gw_waiter *gw_sendwait_add(struct gw_sendwait *w)
{
    if (!w || w->closing) return NULL;
    struct gw_waiter *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    *w->tail = x;
    w->tail = &x->next;
    if (!uv_is_active((uv_handle_t *)&w->check)) uv_check_start(&w->check, on_check);
    return x;
}

static void unlink_waiter(struct gw_sendwait *w, struct gw_waiter *x)
{
    struct gw_waiter **pp = &w->head;
    while (*pp && *pp != x)
        pp = &(*pp)->next;
    if (!*pp) return;
    *pp = x->next;
    if (w->tail == &x->next) w->tail = pp;
}

void gw_sendwait_forget(struct gw_sendwait *w, struct gw_waiter *x)
{
    if (!w || !x) return;
    unlink_waiter(w, x);
    free(x);
}

void gw_sendwait_bind(struct gw_waiter *x, const struct gw_send_result *r, gw_release_fn fn,
                      void *arg, uint64_t ticket)
{
    if (r) x->r = *r;
    x->fn = fn;
    x->arg = arg;
    x->ticket = ticket;
}

void gw_sendwait_done(void *p, int rc)
{
    struct gw_waiter *x = p;
    x->rc = rc;
    x->done = true;
}

void gw_sendwait_run(struct gw_sendwait *w)
{
    if (!w) return;
    if (w->head) (void)w->ops.settle(w->ops.ud);
    /* answered in order; a waiter the sender still holds (none after a settle) stays */
    struct gw_waiter **pp = &w->head;
    while (*pp) {
        struct gw_waiter *x = *pp;
        if (!x->done) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        if (x->rc == 0 && w->ops.on_durable) w->ops.on_durable(w->ops.ud, &x->r);
        if (x->fn) {
            char err[160];
            snprintf(err, sizeof err,
                     "the message could not be stored (%s): nothing was queued; retry with the "
                     "same idempotency_key",
                     strerror(x->rc < 0 ? -x->rc : EIO));
            x->fn(x->arg, x->ticket, x->rc, x->rc ? err : NULL);
        }
        free(x);
    }
    w->tail = pp;
    if (!w->head) uv_check_stop(&w->check);
}

void gw_sendwait_detach(struct gw_sendwait *w)
{
    for (struct gw_waiter *x = w ? w->head : NULL; x; x = x->next)
        x->fn = NULL;
}

static void on_closed(uv_handle_t *h)
{
    struct gw_sendwait *w = h->data;
    while (w->head) { /* held by nobody now (the sender is gone before this) */
        struct gw_waiter *x = w->head;
        w->head = x->next;
        free(x);
    }
    free(w);
}

void gw_sendwait_close(struct gw_sendwait *w)
{
    if (!w || w->closing) return;
    gw_sendwait_run(w);
    w->closing = true;
    uv_check_stop(&w->check);
    uv_close((uv_handle_t *)&w->check, on_closed);
}
