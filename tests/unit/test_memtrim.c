/* SPDX-License-Identifier: MIT */
/* test_memtrim.c -- the heap trimmer: when it arms, that it trims once, no idle wake-ups. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw/memtrim.h"
#include "gw/pagedrop.h"

static void test_dirty_decision(void **state)
{
    struct gw_heap_stats base = {.arena = 1 << 20, .inuse = 500000};
    struct gw_heap_stats now = base;
    assert_false(gw_memtrim_dirty(&base, &now));
    now.inuse = base.inuse + GW_MEMTRIM_SLACK - 1;
    assert_false(gw_memtrim_dirty(&base, &now)); /* a ping's few buffers: nothing */
    now.inuse = base.inuse + GW_MEMTRIM_SLACK;
    assert_true(gw_memtrim_dirty(&base, &now));
    now.inuse = base.inuse - GW_MEMTRIM_SLACK;
    assert_true(gw_memtrim_dirty(&base, &now)); /* freed: the pages are worth returning */
    now = base;
    now.arena += 4096;
    assert_true(gw_memtrim_dirty(&base, &now));
}

struct run {
    struct gw_memtrim *t;
    uv_timer_t churn, end;
    void *blocks[512];
};

/* One busy iteration: 512 KiB of small blocks (brk heap, not mmap), all freed again but the
 * last, which pins the top of the heap as long-lived objects do in the daemon. */
static void on_churn(uv_timer_t *h)
{
    struct run *r = h->data;
    for (size_t i = 0; i < 512; i++) {
        r->blocks[i] = malloc(1000);
        assert_non_null(r->blocks[i]);
    }
    for (size_t i = 0; i < 511; i++)
        free(r->blocks[i]);
}

static void on_end(uv_timer_t *h)
{
    struct run *r = h->data;
    gw_memtrim_close(r->t);
    uv_close((uv_handle_t *)&r->churn, NULL);
    uv_close((uv_handle_t *)&r->end, NULL);
    free(r->blocks[511]);
}

/* Runs the loop for `ms` with an optional churn at 5 ms; returns the trims done. */
static uint64_t run_loop(bool churn, uint64_t ms)
{
    uv_loop_t loop;
    struct gw_memtrim t;
    struct run r = {.t = &t};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(gw_memtrim_start(&loop, &t, 20), 0);
    uv_timer_init(&loop, &r.churn);
    uv_timer_init(&loop, &r.end);
    r.churn.data = r.end.data = &r;
    if (churn) uv_timer_start(&r.churn, on_churn, 5, 0);
    uv_timer_start(&r.end, on_end, ms, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return t.trims;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void test_trims_once_after_churn(void **state)
{
#ifdef UNDER_ASAN
    skip(); /* ASan's allocator replaces glibc's heap: no break moves, mallinfo2 is all zeros */
#endif
    assert_int_equal(run_loop(true, 200), 1);
}

static void test_idle_loop_never_trims(void **state)
{
    assert_int_equal(run_loop(false, 100), 0);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static int written_global = 42; /* rw-p: must survive */

static void test_pagedrop(void **state)
{
    unsigned long start;
    size_t len;
    assert_int_equal(
        gw_pagedrop_line("7f00-7f10 r-xp 00000000 fe:00 12 /usr/lib/libc.so.6\n", &start, &len), 1);
    assert_true(start == 0x7f00 && len == 0x10);
    assert_int_equal(
        gw_pagedrop_line("7f00-7f10 r--p 00001000 fe:00 12 /usr/lib/a.so\n", &start, &len), 1);
    assert_int_equal(
        gw_pagedrop_line("7f00-7f10 rw-p 00000000 fe:00 12 /usr/lib/a.so\n", &start, &len),
        0); /* writable */
    assert_int_equal(
        gw_pagedrop_line("7f00-7f10 r--s 00000000 fe:00 12 /tmp/wa.db-shm\n", &start, &len),
        0); /* shared */
    assert_int_equal(gw_pagedrop_line("7f00-7f10 r-xp 00000000 00:00 0 [vdso]\n", &start, &len), 0);
    assert_int_equal(gw_pagedrop_line("7f00-7f10 r--p 00000000 00:00 0\n", &start, &len), 0);
    assert_int_equal(gw_pagedrop_line("Rss:  4 kB\n", &start, &len), 0);
    /* the real thing: fewer resident pages, and everything still works after */
    long before = rss_kb();
    int n = gw_pagedrop();
    long after = rss_kb();
    printf("pagedrop: %d mappings, VmRSS %ld -> %ld KiB\n", n, before, after);
    assert_true(n > 0);
    assert_true(after < before);
    assert_int_equal(written_global, 42);
    char buf[64];
    snprintf(buf, sizeof buf, "%d %s", written_global, strerror(ENOENT)); /* libc code + data */
    assert_string_equal(buf, "42 No such file or directory");
    assert_true(
        gw_memtrim_dirty(&(struct gw_heap_stats){.arena = 1}, &(struct gw_heap_stats){.arena = 2}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pagedrop),
        cmocka_unit_test(test_dirty_decision),
        cmocka_unit_test(test_trims_once_after_churn),
        cmocka_unit_test(test_idle_loop_never_trims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
