/* SPDX-License-Identifier: MIT */
/* chpolicy.c -- what the channel supervisor does after each session outcome. */
#include "gw/chpolicy.h"

#include <stdio.h>
#include <string.h>

static const char *const state_names[GW_CH_STATE_COUNT] = {
    "stopped", "starting", "connecting", "pairing",   "connected",
    "backoff", "conflict", "logged_out", "repairing", "degraded",
};

const char *gw_ch_state_name(enum gw_ch_state s)
{
    return (unsigned)s < GW_CH_STATE_COUNT ? state_names[s] : "unknown";
}

void chpolicy_init(struct chpolicy *p, uint64_t (*rand64)(void *ud), void *ud)
{
    memset(p, 0, sizeof *p);
    backoff_init(&p->transient, 1000, 60000, CHPOLICY_MIN_DELAY_MS, 60000, rand64, ud);
    backoff_init(&p->conflict, 30000, 300000, 0, CHPOLICY_CONFLICT_WINDOW, rand64, ud);
}

void chpolicy_set_backoff(struct chpolicy *p, uint32_t base_ms, uint32_t cap_ms)
{
    if (base_ms < CHPOLICY_MIN_DELAY_MS) base_ms = CHPOLICY_MIN_DELAY_MS;
    p->transient.base_ms = base_ms;
    p->transient.cap_ms = cap_ms < base_ms ? base_ms : cap_ms;
}

void chpolicy_connected(struct chpolicy *p, uint64_t now_ms)
{
    backoff_connected(&p->transient, now_ms);
    backoff_connected(&p->conflict, now_ms);
    p->restart_streak = 0;
    p->was_connected = true;
}

void chpolicy_reset(struct chpolicy *p)
{
    backoff_reset(&p->transient);
    backoff_reset(&p->conflict);
    p->restart_streak = 0;
    p->conflicts = 0;
    p->conflict_window_start = 0;
    p->was_connected = false;
}

static void retry_after(struct chaction *a, enum gw_ch_state next, uint64_t delay)
{
    a->next = next;
    a->retry = true;
    a->delay_ms = delay;
}

static void on_transient(struct chpolicy *p, const struct wa_outcome *o, uint64_t now, bool dropped,
                         struct chaction *a)
{
    uint64_t d = backoff_failed(&p->transient, now);
    if (dropped) /* a quick first retry, still jittered: [floor, CHPOLICY_QUICK_MS) */
        d = CHPOLICY_MIN_DELAY_MS + d % (CHPOLICY_QUICK_MS - CHPOLICY_MIN_DELAY_MS);
    retry_after(a, GW_CH_BACKOFF, d);
    snprintf(a->reason, sizeof a->reason, "%s", o->text[0] ? o->text : "connection lost");
}

static void on_restart(struct chpolicy *p, const struct wa_outcome *o, uint64_t now,
                       struct chaction *a)
{
    if (++p->restart_streak <= CHPOLICY_RESTART_BURST) {
        retry_after(a, GW_CH_CONNECTING, 0);
        snprintf(a->reason, sizeof a->reason, "restart required (515)");
        return;
    }
    retry_after(a, GW_CH_BACKOFF, backoff_failed(&p->transient, now));
    /* a loop the operator should know about: told once per streak (issue 11) */
    a->notify = p->restart_streak == CHPOLICY_RESTART_BURST + 1;
    snprintf(a->reason, sizeof a->reason,
             "restart required (515) %u times in a row without connecting%s", p->restart_streak,
             a->notify ? ": the server keeps asking for a restart; retrying with backoff" : "");
}

static void on_replaced(struct chpolicy *p, const struct wa_outcome *o, uint64_t now,
                        struct chaction *a)
{
    if (!p->conflict_window_start || now - p->conflict_window_start > CHPOLICY_CONFLICT_WINDOW) {
        p->conflict_window_start = now ? now : 1;
        p->conflicts = 0;
    }
    p->conflicts++;
    /* Quarter jitter: uniform in [3/4 window, window], so the attempts really escalate
     * (at most 6 in 10 minutes, fault-matrix #19). */
    uint64_t d = backoff_failed(&p->conflict, now);
    struct backoff used = p->conflict;
    used.attempt--;
    uint64_t w = backoff_window(&used);
    retry_after(a, GW_CH_CONFLICT, w - w / 4 + d / 4);
    a->notify = p->conflicts == CHPOLICY_CONFLICT_NOTIFY;
    snprintf(a->reason, sizeof a->reason, "replaced by another client (440)%s",
             a->notify ? ": another client is using this session" : "");
}

static void on_ban(const struct wa_outcome *o, struct chaction *a)
{
    uint64_t d = o->expire > 0 ? (uint64_t)o->expire * 1000 : CHPOLICY_BAN_DEFAULT_MS;
    if (d > CHPOLICY_BAN_MAX_MS) d = CHPOLICY_BAN_MAX_MS;
    retry_after(a, GW_CH_BACKOFF, d);
    a->notify = a->hold = true;
    snprintf(a->reason, sizeof a->reason, "temporarily banned (402, code %d) for %llu s",
             o->ban_code, (unsigned long long)(d / 1000));
}

void chpolicy_on_outcome(struct chpolicy *p, const struct wa_outcome *o, uint64_t now_ms,
                         struct chaction *a)
{
    memset(a, 0, sizeof *a);
    bool dropped = p->was_connected;
    p->was_connected = false;
    switch (o->cls) {
    case WA_OC_TRANSIENT:
        on_transient(p, o, now_ms, dropped, a);
        return;
    case WA_OC_RESTART:
        on_restart(p, o, now_ms, a);
        return;
    case WA_OC_REPLACED:
        on_replaced(p, o, now_ms, a);
        return;
    case WA_OC_TEMP_BAN:
        on_ban(o, a);
        return;
    case WA_OC_LOGGED_OUT:
        a->next = GW_CH_LOGGED_OUT;
        a->quarantine = a->notify = true;
        snprintf(a->reason, sizeof a->reason, "logged out (%d): %s", o->code, o->text);
        return;
    case WA_OC_OUTDATED:
        a->next = GW_CH_STOPPED;
        a->notify = true;
        snprintf(a->reason, sizeof a->reason, "client outdated (405): update required");
        return;
    case WA_OC_NEEDS_USER:
        a->next = GW_CH_LOGGED_OUT;
        snprintf(a->reason, sizeof a->reason, "%s: run 'wagate channels login'", o->text);
        return;
    case WA_OC_FATAL:
        break;
    }
    a->next = GW_CH_STOPPED;
    a->notify = true;
    snprintf(a->reason, sizeof a->reason, "fatal: %s", o->text[0] ? o->text : "local error");
}
