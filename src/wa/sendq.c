/* SPDX-License-Identifier: MIT */
/* sendq.c -- part of the sender: per-recipient retry backoff (no head-of-line blocking).
 *
 * A transient failure of a row (an iq error or timeout, a server ack error, a local encryption
 * or store error) delays only the rows to that recipient: SND_BACKOFF_BASE_MS doubled per
 * consecutive failure up to SND_BACKOFF_MAX_MS, while the queue goes on with the others. One
 * one-shot timer (on the client's loop) is armed for the earliest end of a delay and kicks the
 * sender. A recipient whose frame is written again is cleared. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wa/send_int.h"

int64_t snd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The table is allocated at the first failure (most accounts never need one). */
static size_t nback(const struct wa_sender *s)
{
    return s->backoff ? SND_BACKOFFS : 0;
}

static struct rbackoff *find(struct wa_sender *s, const char *to)
{
    for (size_t i = 0; i < nback(s); i++)
        if (s->backoff[i].fails && strcmp(s->backoff[i].to, to) == 0) return &s->backoff[i];
    return NULL;
}

static void arm(struct wa_sender *s, int64_t now);

/* The loop's clock (uv_now, cached per iteration) may lag the monotonic clock the delays are
 * kept in, so the timer can fire a little before a delay ends: the kick then still finds the
 * recipient blocked. Re-arming for what is left keeps the wake-up (without it the row waited
 * for an unrelated kick: integration/24-outbox's group message, 1 run in 5 under ASan). */
static void on_timer(uv_timer_t *t)
{
    struct wa_sender *s = t->data;
    wa_sender_kick(s);
    if (s->timer == t) arm(s, snd_now_ms());
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

int snd_timer_init(struct wa_sender *s)
{
    uv_loop_t *loop = wa_client_loop(s->env.client);
    if (!loop) return 0; /* no loop: delays end at the next kick */
    s->timer = calloc(1, sizeof(*s->timer));
    if (!s->timer) return -ENOMEM;
    if (uv_timer_init(loop, s->timer) < 0) {
        free(s->timer);
        s->timer = NULL;
        return -ENOMEM;
    }
    s->timer->data = s;
    uv_unref((uv_handle_t *)s->timer);
    return 0;
}

void snd_timer_close(struct wa_sender *s)
{
    if (!s->timer) return;
    uv_timer_stop(s->timer);
    uv_close((uv_handle_t *)s->timer, on_closed);
    s->timer = NULL;
}

/* The timer for the earliest delay still running (stopped when there is none). */
static void arm(struct wa_sender *s, int64_t now)
{
    int64_t first = -1;
    for (size_t i = 0; i < nback(s); i++)
        if (s->backoff[i].fails && s->backoff[i].until > now &&
            (first < 0 || s->backoff[i].until < first))
            first = s->backoff[i].until;
    if (!s->timer) return;
    if (first < 0)
        uv_timer_stop(s->timer);
    else
        (void)uv_timer_start(s->timer, on_timer, (uint64_t)(first - now) + 1, 0);
}

int64_t snd_backoff_fail(struct wa_sender *s, const char *to)
{
    int64_t now = snd_now_ms();
    struct rbackoff *b = find(s, to);
    if (!s->backoff && !(s->backoff = calloc(SND_BACKOFFS, sizeof(*s->backoff))))
        return SND_BACKOFF_BASE_MS; /* no memory: no per-recipient delay this time */
    if (!b) {
        b = &s->backoff[0];
        for (size_t i = 0; i < SND_BACKOFFS; i++) {
            if (!s->backoff[i].fails) {
                b = &s->backoff[i];
                break;
            }
            if (s->backoff[i].until < b->until) b = &s->backoff[i]; /* evict the soonest */
        }
        memset(b, 0, sizeof(*b));
        snprintf(b->to, sizeof(b->to), "%s", to);
    }
    int64_t d = SND_BACKOFF_BASE_MS;
    for (int i = 1; i < b->fails && d < SND_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > SND_BACKOFF_MAX_MS) d = SND_BACKOFF_MAX_MS;
    b->fails++;
    b->until = now + d;
    arm(s, now);
    return d;
}

bool snd_backoff_blocked(struct wa_sender *s, const char *to, int64_t now)
{
    const struct rbackoff *b = find(s, to);
    return b && b->until > now;
}

bool snd_backoff_any(struct wa_sender *s, int64_t now)
{
    for (size_t i = 0; i < nback(s); i++)
        if (s->backoff[i].fails && s->backoff[i].until > now) return true;
    return false;
}

void snd_backoff_clear(struct wa_sender *s, const char *to)
{
    struct rbackoff *b = find(s, to);
    if (b) memset(b, 0, sizeof(*b));
}

void snd_backoff_rearm(struct wa_sender *s)
{
    arm(s, snd_now_ms());
}
