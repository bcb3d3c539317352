/* SPDX-License-Identifier: MIT */
/* backoff.h -- reconnect delays: exponential with full jitter, capped, forever.
 *
 * Attempt n (from 0) waits a uniform random time in [floor, min(cap, base * 2^n)].
 * There is no attempt limit: a channel retries for as long as the failure lasts.
 * After a connection has stayed up for `stable_ms`, the next failure starts again
 * from attempt 0 (backoff_connected + backoff_failed decide that from timestamps).
 * Value struct, no allocation; the random source is injectable for tests.
 */
#pragma once
#include <stdint.h>

struct backoff {
    uint32_t base_ms, cap_ms, floor_ms, stable_ms;
    uint32_t attempt;     /* failures since the last stable connection */
    uint64_t up_since_ms; /* when the current connection came up; 0 = not up */
    uint64_t (*rand64)(void *ud);
    void *rand_ud;
    uint64_t last_delay_ms;
};

/* Defaults of the design: base 1 s, cap 60 s, floor 100 ms, stable after 60 s.
 * rand64 may be NULL (getrandom-seeded xorshift). */
void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint32_t floor_ms,
                  uint32_t stable_ms, uint64_t (*rand64)(void *ud), void *ud);
/* The connection came up at now_ms. */
void backoff_connected(struct backoff *b, uint64_t now_ms);
/* A failure at now_ms: returns the delay before the next attempt. If the
 * connection had been up for at least stable_ms, counting restarts at 0. */
uint64_t backoff_failed(struct backoff *b, uint64_t now_ms);
/* The upper end of the range the next failure draws from (before a stable reset). */
uint64_t backoff_window(const struct backoff *b);
/* Forget past failures (an operator's restart, a network change). */
void backoff_reset(struct backoff *b);
