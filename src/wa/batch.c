/* SPDX-License-Identifier: MIT */
/* batch.c -- queue a loop iteration's stanzas and hand them over together. */
#include "wa/batch.h"

#include <errno.h>
#include <stdlib.h>

#include "wa/nodeb.h"

struct wa_batch {
    uv_check_t check;
    uv_timer_t timer; /* the delay of a queue without messages */
    unsigned delay_ms;
    int open_handles;
    wa_batch_flush_fn fn;
    void *ud;
    struct wa_node *q[WA_BATCH_MAX];
    size_t n;
    bool flushing;
};

static bool has_message(const struct wa_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (wa_nb_is(b->q[i], "message")) return true;
    return false;
}

static void on_closed(uv_handle_t *h)
{
    struct wa_batch *b = h->data;
    if (--b->open_handles == 0) free(b);
}

static void on_timer(uv_timer_t *h)
{
    wa_batch_flush(h->data);
}

/* End of a loop iteration: messages are flushed now; acks and receipts alone may wait. */
static void on_check(uv_check_t *h)
{
    struct wa_batch *b = h->data;
    if (b->delay_ms && b->n < WA_BATCH_MAX && !has_message(b)) {
        uv_check_stop(&b->check);
        if (!uv_is_active((uv_handle_t *)&b->timer))
            (void)uv_timer_start(&b->timer, on_timer, b->delay_ms, 0);
        return;
    }
    wa_batch_flush(b);
}

int wa_batch_new(uv_loop_t *loop, wa_batch_flush_fn fn, void *ud, struct wa_batch **out)
{
    if (!loop || !fn || !out) return -EINVAL;
    struct wa_batch *b = calloc(1, sizeof(*b));
    if (!b) return -ENOMEM;
    int rc = uv_check_init(loop, &b->check);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->check.data = b;
    rc = uv_timer_init(loop, &b->timer);
    if (rc < 0) { /* b goes in the close callback */
        b->open_handles = 1;
        uv_close((uv_handle_t *)&b->check, on_closed);
        return rc;
    }
    b->open_handles = 2;
    uv_unref((uv_handle_t *)&b->check);
    uv_unref((uv_handle_t *)&b->timer);
    b->timer.data = b;
    b->fn = fn;
    b->ud = ud;
    *out = b;
    return 0;
}

int wa_batch_push(struct wa_batch *b, const struct wa_node *n)
{
    if (!b || !n) return -EINVAL;
    if (b->n == WA_BATCH_MAX) wa_batch_flush(b);
    if (b->n == WA_BATCH_MAX) return -EBUSY; /* flushing already (re-entered) */
    struct wa_node *c = wa_node_clone(n);
    if (!c) return -ENOMEM;
    b->q[b->n++] = c;
    (void)uv_check_start(&b->check, on_check); /* no-op when active */
    return 0;
}

void wa_batch_flush(struct wa_batch *b)
{
    if (!b || !b->n || b->flushing) return;
    struct wa_node *q[WA_BATCH_MAX];
    size_t n = b->n;
    for (size_t i = 0; i < n; i++)
        q[i] = b->q[i];
    b->n = 0;
    uv_check_stop(&b->check);
    uv_timer_stop(&b->timer);
    b->flushing = true;
    b->fn(b->ud, q, n);
    b->flushing = false;
    for (size_t i = 0; i < n; i++)
        wa_node_free(q[i]);
}

void wa_batch_drop(struct wa_batch *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        wa_node_free(b->q[i]);
    b->n = 0;
    uv_check_stop(&b->check);
    uv_timer_stop(&b->timer);
}

void wa_batch_set_delay(struct wa_batch *b, unsigned ms)
{
    if (b) b->delay_ms = ms > WA_BATCH_DELAY_MAX_MS ? WA_BATCH_DELAY_MAX_MS : ms;
}

size_t wa_batch_pending(const struct wa_batch *b)
{
    return b ? b->n : 0;
}

void wa_batch_free(struct wa_batch *b)
{
    if (!b) return;
    wa_batch_drop(b);
    uv_close((uv_handle_t *)&b->check, on_closed);
    uv_close((uv_handle_t *)&b->timer, on_closed);
}
