/* SPDX-License-Identifier: MIT */
/* backoff.c -- capped exponential backoff with full jitter. */
#include "gw/backoff.h"

#include <sys/random.h>

static uint64_t xorshift_state;

static uint64_t default_rand(void *ud)
{
    if (xorshift_state == 0 &&
        getrandom(&xorshift_state, sizeof xorshift_state, 0) != sizeof xorshift_state)
        xorshift_state = 0x9e3779b97f4a7c15ull;
    if (xorshift_state == 0) xorshift_state = 1;
    uint64_t x = xorshift_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    xorshift_state = x;
    return x;
}

void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint32_t floor_ms,
                  uint32_t stable_ms, uint64_t (*rand64)(void *ud), void *ud)
{
    b->base_ms = base_ms ? base_ms : 1000;
    b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
    b->floor_ms = floor_ms <= b->base_ms ? floor_ms : b->base_ms;
    b->stable_ms = stable_ms;
    b->attempt = 0;
    b->up_since_ms = 0;
    b->rand64 = rand64 ? rand64 : default_rand;
    b->rand_ud = ud;
    b->last_delay_ms = 0;
}

void backoff_connected(struct backoff *b, uint64_t now_ms)
{
    b->up_since_ms = now_ms ? now_ms : 1;
}

void backoff_reset(struct backoff *b)
{
    b->attempt = 0;
    b->up_since_ms = 0;
}

uint64_t backoff_window(const struct backoff *b)
{
    uint64_t window = b->base_ms;
    for (uint32_t i = 0; i < b->attempt && window < b->cap_ms; i++)
        window *= 2;
    return window > b->cap_ms ? b->cap_ms : window;
}

uint64_t backoff_failed(struct backoff *b, uint64_t now_ms)
{
    if (b->up_since_ms && now_ms >= b->up_since_ms && now_ms - b->up_since_ms >= b->stable_ms)
        b->attempt = 0;
    b->up_since_ms = 0;
    uint64_t window = backoff_window(b);
    if (b->attempt < UINT32_MAX) b->attempt++;
    uint64_t span = window - b->floor_ms;
    uint64_t d = b->floor_ms + (span ? b->rand64(b->rand_ud) % (span + 1) : 0);
    b->last_delay_ms = d;
    return d;
}
