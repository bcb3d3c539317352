/* SPDX-License-Identifier: MIT */
/* backoff.h -- reconnect delays: exponential with full jitter, capped, forever.
 *
 * Attempt n (from 0) waits a uniform random time in [floor, min(cap, base * 2^n)].
 * There is no attempt limit: a channel retries for as long as the failure lasts.
 * After a connection has stayed up for `stable_ms`, the next failure starts again
 * from attempt 0 (backoff_connected + backoff_failed decide that from timestamps).
 * Value struct, no allocation, no shared state: each object draws from its own generator
 * (or from an injected random source), so two channels' delays never depend on each other.
 */
#pragma once
#include <stdint.h>

struct backoff {
    uint32_t base_ms, cap_ms, floor_ms, stable_ms;
    uint32_t attempt;             /* failures since the last stable connection */
    uint64_t up_since_ms;         /* when the current connection came up; 0 = not up */
    uint64_t (*rand64)(void *ud); /* NULL: the object's own generator (rng) */
    void *rand_ud;
    uint64_t rng; /* xorshift64 state of this object; 0 = not seeded yet */
    uint64_t last_delay_ms;
};

/* Defaults of the design: base 1 s, cap 60 s, floor 100 ms, stable after 60 s.
 * rand64 may be NULL: the object then uses its own xorshift64 generator, seeded at the
 * first draw from getrandom (failing that, from the object's address and the clock). */
void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint32_t floor_ms,
                  uint32_t stable_ms, uint64_t (*rand64)(void *ud), void *ud);
/* Draw from the object's own generator started at `seed` (instead of any rand64): the
 * same seed gives the same delays in every object, whatever other objects draw. For
 * tests and reproducible runs; seed 0 stands for a fixed non-zero seed. */
void backoff_seed(struct backoff *b, uint64_t seed);
/* The connection came up at now_ms. */
void backoff_connected(struct backoff *b, uint64_t now_ms);
/* A failure at now_ms: returns the delay before the next attempt. If the
 * connection had been up for at least stable_ms, counting restarts at 0. */
uint64_t backoff_failed(struct backoff *b, uint64_t now_ms);
/* The upper end of the range the next failure draws from (before a stable reset). */
uint64_t backoff_window(const struct backoff *b);
/* Forget past failures (an operator's restart, a network change). */
void backoff_reset(struct backoff *b);
