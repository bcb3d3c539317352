/* SPDX-License-Identifier: MIT */
/* chbatch.c -- queue a loop iteration's stanzas and commit them together. */
#include "gw/chbatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct chbatch {
    uv_check_t check;
    uv_timer_t timer; /* the delay of a queue without messages (chbatch_set_delay) */
    unsigned delay_ms;
    int open_handles;
    struct wa_recv_env env;
    chbatch_error_cb on_error;
    struct chbatch_acks acks;
    bool has_acks;
    /* the acks of the flush in progress (for the hook's body) */
    struct wa_node *const *fl_acks;
    size_t fl_nacks;
    void *ud;
    struct wa_node *q[WA_RECV_BATCH_MAX];
    size_t n;
    int flushing;
};

static bool is_tag(const struct wa_node *n, const char *tag)
{
    return n && n->tag.s && strcmp(n->tag.s, tag) == 0;
}

static bool has_message(const struct chbatch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (is_tag(b->q[i], "message")) return true;
    return false;
}

static void on_closed(uv_handle_t *h)
{
    struct chbatch *b = h->data;
    if (--b->open_handles == 0) free(b);
}

static void on_timer(uv_timer_t *h)
{
    chbatch_flush(h->data);
}

/* End of a loop iteration: messages are flushed now; acks and receipts alone may wait. */
static void on_check(uv_check_t *h)
{
    struct chbatch *b = h->data;
    if (b->delay_ms && b->n < WA_RECV_BATCH_MAX && !has_message(b)) {
        uv_check_stop(&b->check);
        if (!uv_is_active((uv_handle_t *)&b->timer))
            (void)uv_timer_start(&b->timer, on_timer, b->delay_ms, 0);
        return;
    }
    chbatch_flush(b);
}

int chbatch_new(uv_loop_t *loop, const struct wa_recv_env *env, chbatch_error_cb on_error,
                const struct chbatch_acks *acks, void *ud, struct chbatch **out)
{
    if (!loop || !env || !out) return -EINVAL;
    if (acks && (!acks->handle || !acks->in_txn || !acks->done)) return -EINVAL;
    struct chbatch *b = calloc(1, sizeof(*b));
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
    b->check.data = b;
    b->timer.data = b;
    b->env = *env;
    b->on_error = on_error;
    if (acks) b->acks = *acks;
    b->has_acks = acks != NULL;
    b->ud = ud;
    *out = b;
    return 0;
}

/* A deep copy through the codec (the client's node is only borrowed). */
static struct wa_node *copy_node(const struct wa_node *n)
{
    struct buf w;
    buf_init(&w, 0);
    struct wa_node *c = NULL;
    if (wa_node_encode(n, &w, NULL, 0) < 0 || wa_node_decode(w.data, w.len, NULL, &c, NULL, 0) < 0)
        c = NULL;
    buf_free(&w);
    return c;
}

int chbatch_push(struct chbatch *b, const struct wa_node *n)
{
    if (!b || !n) return -EINVAL;
    if (b->n == WA_RECV_BATCH_MAX) chbatch_flush(b);
    if (b->n == WA_RECV_BATCH_MAX) return -EBUSY; /* flushing already (re-entered) */
    struct wa_node *c = copy_node(n);
    if (!c) return -ENOMEM;
    b->q[b->n++] = c;
    (void)uv_check_start(&b->check, on_check); /* no-op when active */
    return 0;
}

bool chbatch_takes(const struct wa_node *n)
{
    if (is_tag(n, "message")) return true;
    if (is_tag(n, "receipt")) {
        const char *type = wa_node_attr(n, "type");
        return !type || strcmp(type, "retry") != 0;
    }
    const char *cls = is_tag(n, "ack") ? wa_node_attr(n, "class") : NULL;
    return cls && strcmp(cls, "message") == 0;
}

static void hook_body(void *ud)
{
    struct chbatch *b = ud;
    b->acks.in_txn(b->ud, (const struct wa_node *const *)b->fl_acks, b->fl_nacks);
}

static void hook_done(void *ud, bool committed)
{
    struct chbatch *b = ud;
    b->acks.done(b->ud, committed);
}

void chbatch_flush(struct chbatch *b)
{
    if (!b || !b->n || b->flushing) return;
    struct wa_node *q[WA_RECV_BATCH_MAX], *acks[WA_RECV_BATCH_MAX];
    int res[WA_RECV_BATCH_MAX];
    size_t n = 0, na = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (is_tag(b->q[i], "ack")) {
            acks[na++] = b->q[i];
            continue;
        }
        q[n] = b->q[i];
        res[n++] = 1;
    }
    b->n = 0;
    uv_check_stop(&b->check);
    uv_timer_stop(&b->timer);
    b->flushing = 1;
    bool acks_ok = na && b->has_acks;
    struct wa_recv_txn_hook h = {.body = hook_body, .done = hook_done, .ud = b};
    b->fl_acks = acks;
    b->fl_nacks = na;
    int rc = n ? wa_recv_handle_batch_ex(&b->env, (const struct wa_node *const *)q, n, res,
                                         acks_ok ? &h : NULL)
               : 0;
    if (acks_ok && !h.ran) b->acks.handle(b->ud, (const struct wa_node *const *)acks, na);
    b->flushing = 0;
    for (size_t i = 0; i < na; i++)
        wa_node_free(acks[i]);
    for (size_t i = 0; i < n; i++) {
        int r = rc == -EINVAL || rc == -EALREADY || rc == -ENOMEM ? rc : res[i];
        if (r < 0 && b->on_error) b->on_error(b->ud, q[i], r);
        wa_node_free(q[i]);
    }
}

void chbatch_drop(struct chbatch *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->n; i++)
        wa_node_free(b->q[i]);
    b->n = 0;
    uv_check_stop(&b->check);
    uv_timer_stop(&b->timer);
}

void chbatch_set_delay(struct chbatch *b, unsigned ms)
{
    if (b) b->delay_ms = ms > CHBATCH_DELAY_MAX_MS ? CHBATCH_DELAY_MAX_MS : ms;
}

size_t chbatch_pending(const struct chbatch *b)
{
    return b ? b->n : 0;
}

void chbatch_free(struct chbatch *b)
{
    if (!b) return;
    chbatch_drop(b);
    uv_close((uv_handle_t *)&b->check, on_closed);
    uv_close((uv_handle_t *)&b->timer, on_closed);
}
