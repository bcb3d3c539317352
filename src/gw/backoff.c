/* SPDX-License-Identifier: MIT */
/* backoff.c -- capped exponential backoff with full jitter. */
#include "gw/backoff.h"

#include <stddef.h>
#include <sys/random.h>
#include <time.h>

#define SEED_FALLBACK 0x9e3779b97f4a7c15ull

/* splitmix64 finaliser: spreads a weak seed (an address, a time) over all 64 bits. */
static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A seed for b's own generator: the kernel's CSPRNG, else b's address and the clock. */
static uint64_t fresh_seed(const struct backoff *b)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) == (ssize_t)sizeof s && s) return s;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s = mix64((uint64_t)(uintptr_t)b ^
              mix64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec));
    return s ? s : SEED_FALLBACK;
}

static uint64_t own_rand(struct backoff *b)
{
    if (b->rng == 0) b->rng = fresh_seed(b);
    uint64_t x = b->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->rng = x;
    return x;
}

static uint64_t draw(struct backoff *b)
{
    return b->rand64 ? b->rand64(b->rand_ud) : own_rand(b);
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
    b->rand64 = rand64;
    b->rand_ud = ud;
    b->rng = 0;
    b->last_delay_ms = 0;
}

void backoff_seed(struct backoff *b, uint64_t seed)
{
    b->rand64 = NULL;
    b->rand_ud = NULL;
    b->rng = seed ? seed : SEED_FALLBACK;
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
    uint64_t d = b->floor_ms + (span ? draw(b) % (span + 1) : 0);
    b->last_delay_ms = d;
    return d;
}
