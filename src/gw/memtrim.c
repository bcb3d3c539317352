/* SPDX-License-Identifier: MIT */
/* memtrim.c -- malloc_trim(0) once the loop has been quiet for a moment after heap churn. */
#include "gw/memtrim.h"

#include "gw/pagedrop.h"

#include <malloc.h>
#include <unistd.h>

static void heap_stats(struct gw_heap_stats *s)
{
    struct mallinfo2 mi = mallinfo2();
    s->arena = mi.arena;
    s->inuse = mi.uordblks;
}

bool gw_memtrim_dirty(const struct gw_heap_stats *base, const struct gw_heap_stats *now)
{
    if (now->arena != base->arena) return true;
    size_t d = now->inuse > base->inuse ? now->inuse - base->inuse : base->inuse - now->inuse;
    return d >= GW_MEMTRIM_SLACK;
}

static void on_timer(uv_timer_t *h)
{
    struct gw_memtrim *t = h->data;
    t->pending = false;
    t->iters = 0;
    struct gw_heap_stats now;
    heap_stats(&now);
    if (gw_memtrim_dirty(&t->base, &now)) {
        malloc_trim(0);
        t->trims++;
        heap_stats(&t->base);
    }
    t->brk = sbrk(0);
    gw_pagedrop(); /* code the last burst touched is not needed at idle (pagedrop.h) */
    /* one more look a while after this one: what ran between them (the end of a login, the
     * last replies of a burst) is dropped too; the tail look arms no further one */
    if (!t->tail) {
        t->tail = true;
        t->pending = true;
        uv_timer_start(&t->timer, on_timer, GW_MEMTRIM_TAIL_MS, 0);
        return;
    }
    t->tail = false;
}

/* Before the loop blocks (after the timers and I/O callbacks of the iteration): arm the
 * settle timer once when the heap may have churned. It is not pushed back by later
 * iterations: during a long burst the look runs every settle_ms, then once after it. */
static void on_prepare(uv_prepare_t *h)
{
    struct gw_memtrim *t = h->data;
    if (t->pending) return;
    void *top = sbrk(0);
    if (top == t->brk && ++t->iters < GW_MEMTRIM_ITERS) return;
    t->brk = top;
    t->pending = true;
    uv_timer_start(&t->timer, on_timer, t->settle_ms, 0);
}

int gw_memtrim_start(uv_loop_t *loop, struct gw_memtrim *t, uint64_t settle_ms)
{
    *t = (struct gw_memtrim){.settle_ms = settle_ms ? settle_ms : GW_MEMTRIM_SETTLE_MS};
    heap_stats(&t->base);
    t->brk = sbrk(0);
    int r = uv_timer_init(loop, &t->timer);
    if (r < 0) return r;
    r = uv_prepare_init(loop, &t->prepare);
    if (r < 0) {
        uv_close((uv_handle_t *)&t->timer, NULL);
        return r;
    }
    t->timer.data = t;
    t->prepare.data = t;
    uv_unref((uv_handle_t *)&t->timer);
    uv_unref((uv_handle_t *)&t->prepare);
    return uv_prepare_start(&t->prepare, on_prepare);
}

static void close_one(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void gw_memtrim_close(struct gw_memtrim *t)
{
    close_one((uv_handle_t *)&t->prepare);
    close_one((uv_handle_t *)&t->timer);
}
