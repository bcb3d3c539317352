/* SPDX-License-Identifier: MIT */
/* events.c -- event ring: serialise once, keep the last N, fan out to sinks.
 *
 * The ring is an array used circularly (`head` = index of the oldest event).
 * Subscribers are a singly linked list; a subscription removed while
 * api_events_publish() is iterating is only marked dead and unlinked after
 * the loop, so a sink may drop its own (or any) subscriber safely.
 */
#include "api/events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ev_item {
    long long seq;
    char *json;
    size_t len;
};

struct api_events_sub {
    struct api_events_sub *next;
    api_events_sink_fn fn;
    void *arg;
    bool dead;
};

struct api_events {
    struct ev_item *items;
    size_t cap, head, count;
    size_t bytes, max_bytes;
    long long last_seq;
    long long delivered; /* highest seq handed to the sinks */
    unsigned long long published;
    struct api_events_sub *subs;
    size_t nsubs;
    int delivering; /* > 0 while sinks run */
};

int api_events_new(size_t capacity, size_t max_bytes, struct api_events **out)
{
    *out = NULL;
    struct api_events *ev = calloc(1, sizeof(*ev));
    if (!ev) return -ENOMEM;
    ev->cap = capacity ? capacity : 1024;
    ev->max_bytes = max_bytes ? max_bytes : 16u << 20;
    ev->items = calloc(ev->cap, sizeof(*ev->items));
    if (!ev->items) {
        free(ev);
        return -ENOMEM;
    }
    *out = ev;
    return 0;
}

void api_events_free(struct api_events *ev)
{
    if (!ev) return;
    for (size_t i = 0; i < ev->count; i++)
        free(ev->items[(ev->head + i) % ev->cap].json);
    free(ev->items);
    struct api_events_sub *s = ev->subs;
    while (s) {
        struct api_events_sub *n = s->next;
        free(s);
        s = n;
    }
    free(ev);
}

void api_events_now_iso(char *out, size_t outlen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* Serialise {"seq","ts","type","data"}; consumes data. */
static char *render(long long seq, const char *type, cJSON *data)
{
    char ts[40];
    api_events_now_iso(ts, sizeof(ts));
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        cJSON_Delete(data);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "type", type);
    if (!data) data = cJSON_CreateObject();
    if (data) cJSON_AddItemToObject(o, "data", data);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void drop_oldest(struct api_events *ev)
{
    struct ev_item *it = &ev->items[ev->head];
    ev->bytes -= it->len;
    free(it->json);
    it->json = NULL;
    ev->head = (ev->head + 1) % ev->cap;
    ev->count--;
}

static void store(struct api_events *ev, long long seq, char *json, size_t len)
{
    while (ev->count > 0 && (ev->count == ev->cap || ev->bytes + len > ev->max_bytes))
        drop_oldest(ev);
    struct ev_item *it = &ev->items[(ev->head + ev->count) % ev->cap];
    it->seq = seq;
    it->json = json;
    it->len = len;
    ev->bytes += len;
    ev->count++;
}

static void sweep_dead(struct api_events *ev)
{
    struct api_events_sub **pp = &ev->subs;
    while (*pp) {
        struct api_events_sub *s = *pp;
        if (s->dead) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

/* Deliver every stored event not yet delivered, in seq order. A sink that
 * publishes re-entrantly only stores its event; this loop delivers it after
 * the current one reached every subscriber, so order holds for everyone.
 * Each event is delivered from a private copy: a re-entrant publish may
 * evict the ring slot meanwhile. */
static void deliver_pending(struct api_events *ev)
{
    ev->delivering++;
    while (ev->delivered < ev->last_seq) {
        long long seq = ++ev->delivered;
        long long first = api_events_first_seq(ev);
        if (ev->count == 0 || seq < first) continue; /* evicted before it could be delivered */
        const struct ev_item *it = &ev->items[(ev->head + (size_t)(seq - first)) % ev->cap];
        char *copy = malloc(it->len + 1);
        if (!copy) continue;
        memcpy(copy, it->json, it->len + 1);
        size_t len = it->len;
        for (struct api_events_sub *s = ev->subs; s; s = s->next)
            if (!s->dead) s->fn(s->arg, seq, copy, len);
        free(copy);
    }
    if (--ev->delivering == 0) sweep_dead(ev);
}

long long api_events_publish(struct api_events *ev, const char *type, cJSON *data)
{
    if (!ev || !type || !*type) {
        cJSON_Delete(data);
        return -EINVAL;
    }
    long long seq = ev->last_seq + 1;
    char *json = render(seq, type, data);
    if (!json) return -ENOMEM;
    ev->last_seq = seq;
    ev->published++;
    store(ev, seq, json, strlen(json));
    if (ev->delivering == 0) deliver_pending(ev);
    return seq;
}

int api_events_subscribe(struct api_events *ev, api_events_sink_fn fn, void *arg,
                         struct api_events_sub **out)
{
    *out = NULL;
    struct api_events_sub *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    s->fn = fn;
    s->arg = arg;
    s->next = ev->subs;
    ev->subs = s;
    ev->nsubs++;
    *out = s;
    return 0;
}

void api_events_unsubscribe(struct api_events *ev, struct api_events_sub *sub)
{
    if (!ev || !sub || sub->dead) return;
    sub->dead = true;
    ev->nsubs--;
    if (ev->delivering == 0) sweep_dead(ev);
}

static void send_gap(long long since, long long first, const char *reason, api_events_sink_fn fn,
                     void *arg)
{
    cJSON *d = cJSON_CreateObject();
    if (!d) return;
    long long to = first > 0 ? first - 1 : 0;
    cJSON_AddNumberToObject(d, "from", (double)(since + 1));
    cJSON_AddNumberToObject(d, "to", (double)to);
    cJSON_AddNumberToObject(d, "lost", (double)(to >= since + 1 ? to - since : 0));
    if (reason) cJSON_AddStringToObject(d, "reason", reason);
    char *json = render(to, "stream.gap", d);
    if (json) fn(arg, to, json, strlen(json));
    free(json);
}

long api_events_replay(struct api_events *ev, long long since, api_events_sink_fn fn, void *arg)
{
    if (since < 0) return 0;
    long long first = api_events_first_seq(ev);
    long n = 0;
    if (since > ev->last_seq) {
        send_gap(0, first, "cursor_ahead", fn, arg);
        n++;
        since = 0;
    } else if (ev->count > 0 && since + 1 < first) {
        send_gap(since, first, NULL, fn, arg);
        n++;
    } else if (ev->count == 0 && since < ev->last_seq) {
        send_gap(since, ev->last_seq + 1, NULL, fn, arg);
        return 1;
    }
    /* seqs in the ring are consecutive: jump straight to since+1 */
    size_t skip = (ev->count > 0 && since >= first) ? (size_t)(since - first + 1) : 0;
    for (size_t i = skip; i < ev->count; i++) {
        const struct ev_item *it = &ev->items[(ev->head + i) % ev->cap];
        fn(arg, it->seq, it->json, it->len);
        n++;
    }
    return n;
}

long long api_events_last_seq(const struct api_events *ev)
{
    return ev->last_seq;
}

long long api_events_first_seq(const struct api_events *ev)
{
    return ev->count ? ev->items[ev->head].seq : 0;
}

size_t api_events_count(const struct api_events *ev)
{
    return ev->count;
}

size_t api_events_subscribers(const struct api_events *ev)
{
    return ev->nsubs;
}

unsigned long long api_events_published(const struct api_events *ev)
{
    return ev->published;
}
