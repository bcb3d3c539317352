/* SPDX-License-Identifier: MIT */
/* loop.c -- test support: bounded runs of a uv loop. */
#include "loop.h"

#include <stddef.h>

struct at_least {
    const int *counter;
    int want;
};

static bool reached(void *arg)
{
    const struct at_least *a = arg;
    return *a->counter >= a->want;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool loop_run_until_fn(uv_loop_t *loop, bool (*done)(void *arg), void *arg, int ms)
{
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, on_guard, (uint64_t)(ms > 0 ? ms : 0), 0);
    while (!done(arg) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* completes the guard's close */
    return done(arg);
}

bool loop_run_until(uv_loop_t *loop, const int *counter, int want, int ms)
{
    struct at_least a = {counter, want};
    return loop_run_until_fn(loop, reached, &a, ms);
}

void loop_run_for(uv_loop_t *loop, int ms)
{
    loop_run_until_fn(loop, never, NULL, ms);
}
