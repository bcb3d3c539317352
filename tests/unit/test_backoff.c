/* SPDX-License-Identifier: MIT */
/* test_backoff.c -- reconnect delays: bounds, growth, cap, reset, no give-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gw/backoff.h"

/* An LCG whose state is *ud (a uint64_t of the test). */
static uint64_t seq_rand(void *ud)
{
    uint64_t *s = ud;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}
static uint64_t zero_rand(void *ud)
{
    return 0;
}

static void test_window_doubles_to_cap(void **state)
{
    struct backoff b;
    uint64_t seq = 0;
    backoff_init(&b, 1000, 60000, 100, 60000, seq_rand, &seq);
    const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(backoff_window(&b), want[i]);
        uint64_t d = backoff_failed(&b, 0);
        assert_true(d >= 100 && d <= want[i]);
    }
    backoff_init(&b, 1000, 60000, 100, 60000, zero_rand, NULL);
    for (int i = 0; i < 10; i++)
        assert_int_equal(backoff_failed(&b, 0), 100); /* the floor: never a tight loop */
}

static void test_never_gives_up_and_stays_in_bounds(void **state)
{
    struct backoff b;
    uint64_t seq = 42;
    backoff_init(&b, 1000, 60000, 100, 60000, seq_rand, &seq);
    uint64_t maxd = 0, sum = 0;
    const int n = 100000; /* ~ days of outage at the cap: still retrying */
    for (int i = 0; i < n; i++) {
        uint64_t d = backoff_failed(&b, (uint64_t)i);
        assert_true(d >= 100 && d <= 60000);
        if (i > 20) {
            sum += d;
            if (d > maxd) maxd = d;
        }
    }
    /* Full jitter at the cap: mean near the middle of [100, 60000], max near the top. */
    uint64_t mean = sum / (uint64_t)(n - 21);
    assert_true(mean > 27000 && mean < 33000);
    assert_true(maxd > 59000);
}

static void test_reset_after_stable_connection(void **state)
{
    struct backoff b;
    backoff_init(&b, 1000, 60000, 1000, 60000, zero_rand, NULL); /* floor = base: exact */
    for (int i = 0; i < 6; i++)
        backoff_failed(&b, 0);
    assert_int_equal(b.attempt, 6);
    /* Up for 10 s only: not stable, the count continues. */
    backoff_connected(&b, 100000);
    backoff_failed(&b, 110000);
    assert_int_equal(b.attempt, 7);
    /* Up for 60 s: the next failure starts from the first window again. */
    backoff_connected(&b, 200000);
    backoff_failed(&b, 260000);
    assert_int_equal(b.attempt, 1);
    backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
}

static void test_odd_parameters(void **state)
{
    struct backoff b;
    backoff_init(&b, 0, 0, 5000, 0, NULL, NULL); /* defaults, cap >= base, floor <= base */
    assert_int_equal(b.base_ms, 1000);
    assert_int_equal(b.cap_ms, 1000);
    assert_int_equal(b.floor_ms, 1000);
    for (int i = 0; i < 100; i++)
        assert_int_equal(backoff_failed(&b, 0), 1000);
    backoff_init(&b, 30000, 300000, 30000, 60000, NULL, NULL); /* conflict policy */
    for (int i = 0; i < 50; i++) {
        uint64_t d = backoff_failed(&b, 0);
        assert_true(d >= 30000 && d <= 300000);
    }
}

/* Draws n delays at the cap (attempt >= 6, so every draw spans [100, 60000]). */
static void draw_at_cap(struct backoff *b, uint64_t *out, int n)
{
    while (b->attempt < 6)
        backoff_failed(b, 0);
    for (int i = 0; i < n; i++)
        out[i] = backoff_failed(b, 0);
}

static void test_objects_do_not_share_state(void **state)
{
    enum { N = 64 };
    struct backoff a, b, other;
    uint64_t alone[N], mixed[N], other_d[N];
    backoff_init(&a, 1000, 60000, 100, 60000, NULL, NULL);
    backoff_seed(&a, 1234);
    draw_at_cap(&a, alone, N);
    /* b gets the same seed; another object draws before and between b's draws. */
    backoff_init(&other, 1000, 60000, 100, 60000, NULL, NULL);
    draw_at_cap(&other, other_d, N);
    backoff_init(&b, 1000, 60000, 100, 60000, NULL, NULL);
    backoff_seed(&b, 1234);
    while (b.attempt < 6)
        backoff_failed(&b, 0);
    for (int i = 0; i < N; i++) {
        mixed[i] = backoff_failed(&b, 0);
        backoff_failed(&other, 0);
        backoff_failed(&a, 0);
    }
    assert_memory_equal(alone, mixed, sizeof alone);
    /* Two objects seeded on their own draw different delays (64 equal draws: ~2^-1000). */
    struct backoff c, d;
    uint64_t dc[N], dd[N];
    backoff_init(&c, 1000, 60000, 100, 60000, NULL, NULL);
    backoff_init(&d, 1000, 60000, 100, 60000, NULL, NULL);
    draw_at_cap(&c, dc, N);
    draw_at_cap(&d, dd, N);
    assert_memory_not_equal(dc, dd, sizeof dc);
    /* A seeded object draws in bounds like any other. */
    for (int i = 0; i < N; i++)
        assert_true(alone[i] >= 100 && alone[i] <= 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_doubles_to_cap),
        cmocka_unit_test(test_never_gives_up_and_stays_in_bounds),
        cmocka_unit_test(test_reset_after_stable_connection),
        cmocka_unit_test(test_odd_parameters),
        cmocka_unit_test(test_objects_do_not_share_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
