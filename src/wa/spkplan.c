/* SPDX-License-Identifier: MIT */
/* spkplan.c -- the signed pre-key rotation decision (wa/spkplan.h). */
#include "wa/spkplan.h"

#define RETRY_FIRST_S 60u
#define RETRY_CAP_S   (6u * 3600u)

enum wa_spk_step wa_spk_plan(const struct wa_spk_state *st, int64_t now, uint32_t rotate_s,
                             int64_t *next_at)
{
    *next_at = 0;
    if (!st->uploaded) return WA_SPK_UPLOAD;
    if (rotate_s == 0) return WA_SPK_WAIT;
    if (st->created <= 0 || st->created > now + (int64_t)rotate_s) return WA_SPK_ROTATE;
    int64_t due = st->created + (int64_t)rotate_s;
    if (now >= due) return WA_SPK_ROTATE;
    *next_at = due;
    return WA_SPK_WAIT;
}

uint32_t wa_spk_retry_s(uint32_t rotate_s, unsigned n)
{
    uint32_t s = RETRY_FIRST_S;
    for (unsigned i = 1; i < n && s < RETRY_CAP_S; i++)
        s *= 2;
    if (s > RETRY_CAP_S) s = RETRY_CAP_S;
    if (rotate_s && s > rotate_s / 4) s = rotate_s / 4;
    return s ? s : 1;
}

int64_t wa_spk_keep_before(int64_t now, uint32_t keep_s)
{
    return now - (int64_t)keep_s;
}

int64_t wa_spk_next_look(const struct wa_spk_state *st, int64_t next_at, uint32_t keep_s)
{
    int64_t grace = st->oldest_retired > 0 ? st->oldest_retired + (int64_t)keep_s + 1 : 0;
    if (!next_at) return grace;
    return grace && grace < next_at ? grace : next_at;
}
