/* SPDX-License-Identifier: MIT */
/* be.h -- big-endian integer writers and readers (1..8 bytes). */
#pragma once
#include <stdint.h>

/* Write the low `n` bytes of v (1..8) most significant first. */
static inline void be_put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* Read `n` bytes (1..8) most significant first. */
static inline uint64_t be_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}
