/* SPDX-License-Identifier: MIT */
/* memtrim.h -- give the heap's free pages back to the kernel once the loop goes quiet.
 *
 * glibc keeps freed memory: after pairing (812 pre-keys), a login or a message flood the
 * heap holds hundreds of KiB of free but resident pages. A uv_prepare handle runs before the
 * loop blocks and does only cheap checks: it arms a one-shot timer for `settle_ms` when the
 * heap's break moved since the last look (sbrk(0), no system call) or after
 * GW_MEMTRIM_ITERS busy loop iterations. The timer then looks at the heap (mallinfo2, which
 * walks the free lists: too slow for every iteration) and runs malloc_trim(0) when the
 * bytes in use moved by at least GW_MEMTRIM_SLACK or the arena changed size since the last
 * trim: once after a short burst, every settle_ms during a long one and once after it. An
 * idle loop arms nothing; keepalive pings (a few iterations every 20-30 s) arm the timer
 * about once per GW_MEMTRIM_ITERS of them. Every look also drops the process's clean code
 * and read-only file pages (gw/pagedrop.h) and is followed by one tail look
 * GW_MEMTRIM_TAIL_MS later, so code touched at the very end of a burst goes too. Both
 * handles are unreferenced.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define GW_MEMTRIM_SLACK     (64 * 1024)
#define GW_MEMTRIM_SETTLE_MS 500
#define GW_MEMTRIM_ITERS     64
#define GW_MEMTRIM_TAIL_MS   2000 /* the second look after each one (code pages, pagedrop.h) */

/* What the decision looks at (from mallinfo2). */
struct gw_heap_stats {
    size_t arena; /* bytes obtained with brk */
    size_t inuse; /* bytes in allocated chunks */
};

struct gw_memtrim {
    uv_prepare_t prepare;
    uv_timer_t timer;
    uint64_t settle_ms;
    struct gw_heap_stats base; /* the heap right after the last trim */
    void *brk;                 /* the heap's break at the last look */
    unsigned iters;            /* loop iterations since the last look */
    bool pending;              /* the timer is armed */
    bool tail;                 /* the armed look is the tail of the previous one */
    uint64_t trims;            /* trims done (tests, debugging) */
};

/* Sans-I/O: does the heap differ enough from `base` to be worth a trim? */
bool gw_memtrim_dirty(const struct gw_heap_stats *base, const struct gw_heap_stats *now);
/* Start watching `loop`; settle_ms 0 means GW_MEMTRIM_SETTLE_MS. Returns 0 or -errno. */
int gw_memtrim_start(uv_loop_t *loop, struct gw_memtrim *t, uint64_t settle_ms);
/* Close both handles (the struct must live until the loop ran their close callbacks). */
void gw_memtrim_close(struct gw_memtrim *t);
