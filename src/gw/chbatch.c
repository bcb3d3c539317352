/* SPDX-License-Identifier: MIT */
/* chbatch.c -- queue a loop iteration's <message> stanzas and commit them together. */
#include "gw/chbatch.h"

#include <errno.h>
#include <stdlib.h>

#include "core/buf.h"

struct chbatch {
    uv_check_t check;
    struct wa_recv_env env;
    chbatch_error_cb on_error;
    void *ud;
    struct wa_node *q[WA_RECV_BATCH_MAX];
    size_t n;
    int flushing;
};

static void on_check(uv_check_t *h)
{
    chbatch_flush(h->data);
}

int chbatch_new(uv_loop_t *loop, const struct wa_recv_env *env, chbatch_error_cb on_error, void *ud,
                struct chbatch **out)
{
    if (!loop || !env || !out) return -EINVAL;
    struct chbatch *b = calloc(1, sizeof(*b));
    if (!b) return -ENOMEM;
    int rc = uv_check_init(loop, &b->check);
    if (rc < 0) {
        free(b);
        return rc;
    }
    uv_unref((uv_handle_t *)&b->check);
    b->check.data = b;
    b->env = *env;
    b->on_error = on_error;
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
    if (b->n == 1) (void)uv_check_start(&b->check, on_check);
    return 0;
}

void chbatch_flush(struct chbatch *b)
{
    if (!b || !b->n || b->flushing) return;
    struct wa_node *q[WA_RECV_BATCH_MAX];
    int res[WA_RECV_BATCH_MAX];
    size_t n = b->n;
    for (size_t i = 0; i < n; i++) {
        q[i] = b->q[i];
        res[i] = 1;
    }
    b->n = 0;
    uv_check_stop(&b->check);
    b->flushing = 1;
    int rc = wa_recv_handle_batch(&b->env, (const struct wa_node *const *)q, n, res);
    b->flushing = 0;
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
}

size_t chbatch_pending(const struct chbatch *b)
{
    return b ? b->n : 0;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void chbatch_free(struct chbatch *b)
{
    if (!b) return;
    chbatch_drop(b);
    uv_close((uv_handle_t *)&b->check, on_closed);
}
