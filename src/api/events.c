/* SPDX-License-Identifier: MIT */
/* events.c -- event ring: serialise once, keep the last N, fan out to sinks.
 *
 * The ring is an array used circularly (`head` = index of the oldest event).
 * Account-less subscribers are a singly linked list; an account's subscribers
 * are a list hanging off that account's entry in a chained hash table (FNV-1a,
 * power-of-two buckets, doubled when the accounts outnumber the buckets), so
 * an event costs one lookup however many accounts subscribe. A subscription
 * removed while api_events_publish() is delivering is only marked dead (its
 * account entry put on the dirty list) and unlinked after the loop, so a sink
 * may drop its own (or any) subscriber safely; an account entry is freed when
 * its last subscriber is unlinked, never while delivering.
 */
#include "api/events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ev_item {
    long long seq;
    char *json;
    size_t len;
    char *account; /* data's "account" (NULL: none, or longer than API_EVENTS_ACCOUNT_MAX) */
};

struct ev_acct;

struct api_events_sub {
    struct api_events_sub *next;
    struct ev_acct *acct; /* NULL: every event */
    api_events_sink_fn fn;
    void *arg;
    bool dead;
};

/* One account's subscribers, in its bucket's chain. */
struct ev_acct {
    struct ev_acct *next;       /* bucket chain */
    struct ev_acct *next_dirty; /* on ev->dirty while it holds dead subscriptions */
    uint64_t hash;
    struct api_events_sub *subs;
    bool dirty;
    char name[API_EVENTS_ACCOUNT_MAX + 1];
};

struct api_events {
    struct ev_item *items;
    size_t cap, head, count;
    size_t bytes, max_bytes;
    long long last_seq;
    long long delivered; /* highest seq handed to the sinks */
    unsigned long long published;
    struct api_events_sub *subs; /* account-less */
    bool subs_dirty;             /* subs holds dead entries */
    struct ev_acct **buckets;    /* nbuckets (a power of two, 0 before the first account) */
    size_t nbuckets, naccts;
    struct ev_acct *dirty; /* account entries holding dead subscriptions */
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

static void free_subs(struct api_events_sub *s)
{
    while (s) {
        struct api_events_sub *n = s->next;
        free(s);
        s = n;
    }
}

void api_events_free(struct api_events *ev)
{
    if (!ev) return;
    for (size_t i = 0; i < ev->count; i++) {
        free(ev->items[(ev->head + i) % ev->cap].json);
        free(ev->items[(ev->head + i) % ev->cap].account);
    }
    free(ev->items);
    free_subs(ev->subs);
    for (size_t b = 0; b < ev->nbuckets; b++) {
        struct ev_acct *a = ev->buckets[b];
        while (a) {
            struct ev_acct *n = a->next;
            free_subs(a->subs);
            free(a);
            a = n;
        }
    }
    free(ev->buckets);
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
    free(it->account);
    it->json = NULL;
    it->account = NULL;
    ev->head = (ev->head + 1) % ev->cap;
    ev->count--;
}

static void store(struct api_events *ev, long long seq, char *json, size_t len, char *account)
{
    while (ev->count > 0 && (ev->count == ev->cap || ev->bytes + len > ev->max_bytes))
        drop_oldest(ev);
    struct ev_item *it = &ev->items[(ev->head + ev->count) % ev->cap];
    it->seq = seq;
    it->json = json;
    it->len = len;
    it->account = account;
    ev->bytes += len;
    ev->count++;
}

/* ---- the account table ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct ev_acct *acct_find(const struct api_events *ev, const char *name, uint64_t h)
{
    if (ev->nbuckets == 0) return NULL;
    for (struct ev_acct *a = ev->buckets[h & (ev->nbuckets - 1)]; a; a = a->next)
        if (a->hash == h && strcmp(a->name, name) == 0) return a;
    return NULL;
}

/* Doubles the buckets (at least 64); on -ENOMEM the chains just grow longer. */
static void acct_grow(struct api_events *ev)
{
    size_t n = ev->nbuckets ? ev->nbuckets * 2 : 64;
    struct ev_acct **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < ev->nbuckets; i++) {
        struct ev_acct *a = ev->buckets[i];
        while (a) {
            struct ev_acct *next = a->next;
            a->next = b[a->hash & (n - 1)];
            b[a->hash & (n - 1)] = a;
            a = next;
        }
    }
    free(ev->buckets);
    ev->buckets = b;
    ev->nbuckets = n;
}

static struct ev_acct *acct_get(struct api_events *ev, const char *name)
{
    uint64_t h = fnv1a(name);
    struct ev_acct *a = acct_find(ev, name, h);
    if (a) return a;
    if (ev->naccts >= ev->nbuckets) acct_grow(ev);
    if (ev->nbuckets == 0) return NULL;
    a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->hash = h;
    snprintf(a->name, sizeof a->name, "%s", name);
    struct ev_acct **head = &ev->buckets[h & (ev->nbuckets - 1)];
    a->next = *head;
    *head = a;
    ev->naccts++;
    return a;
}

static void acct_drop(struct api_events *ev, struct ev_acct *a)
{
    for (struct ev_acct **p = &ev->buckets[a->hash & (ev->nbuckets - 1)]; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            ev->naccts--;
            free(a);
            return;
        }
}

static void sweep_list(struct api_events_sub **pp)
{
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

/* Unlinks the dead subscriptions (only where some died) and frees account entries left empty. */
static void sweep_dead(struct api_events *ev)
{
    if (ev->subs_dirty) sweep_list(&ev->subs);
    ev->subs_dirty = false;
    while (ev->dirty) {
        struct ev_acct *a = ev->dirty;
        ev->dirty = a->next_dirty;
        a->dirty = false;
        sweep_list(&a->subs);
        if (!a->subs) acct_drop(ev, a);
    }
}

static void deliver_list(const struct api_events_sub *s, long long seq, const char *json,
                         size_t len)
{
    for (; s; s = s->next)
        if (!s->dead) s->fn(s->arg, seq, json, len);
}

/* Deliver every stored event not yet delivered, in seq order: to the
 * account-less subscribers, then to its account's. A sink that publishes
 * re-entrantly only stores its event; this loop delivers it after the current
 * one reached every subscriber, so order holds for everyone. Each event is
 * delivered from a private copy: a re-entrant publish may evict the ring slot
 * meanwhile. The account entry is looked up before the first sink runs (it
 * cannot be freed while delivering; a subscription made by a sink meanwhile
 * gets the next events, not this one). */
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
        struct ev_acct *a = it->account ? acct_find(ev, it->account, fnv1a(it->account)) : NULL;
        const struct api_events_sub *own = a ? a->subs : NULL;
        deliver_list(ev->subs, seq, copy, len);
        deliver_list(own, seq, copy, len);
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
    const char *acct = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "account"));
    char *account = NULL;
    if (acct && *acct && strlen(acct) <= API_EVENTS_ACCOUNT_MAX) {
        account = strdup(acct);
        if (!account) {
            cJSON_Delete(data);
            return -ENOMEM;
        }
    }
    char *json = render(seq, type, data);
    if (!json) {
        free(account);
        return -ENOMEM;
    }
    ev->last_seq = seq;
    ev->published++;
    store(ev, seq, json, strlen(json), account);
    if (ev->delivering == 0) deliver_pending(ev);
    return seq;
}

int api_events_subscribe_account(struct api_events *ev, const char *account, api_events_sink_fn fn,
                                 void *arg, struct api_events_sub **out)
{
    *out = NULL;
    if (!ev || !fn) return -EINVAL;
    if (account && (!*account || strlen(account) > API_EVENTS_ACCOUNT_MAX)) return -EINVAL;
    struct api_events_sub *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    struct api_events_sub **head = &ev->subs;
    if (account) {
        s->acct = acct_get(ev, account);
        if (!s->acct) {
            free(s);
            return -ENOMEM;
        }
        head = &s->acct->subs;
    }
    s->fn = fn;
    s->arg = arg;
    s->next = *head;
    *head = s;
    ev->nsubs++;
    *out = s;
    return 0;
}

int api_events_subscribe(struct api_events *ev, api_events_sink_fn fn, void *arg,
                         struct api_events_sub **out)
{
    return api_events_subscribe_account(ev, NULL, fn, arg, out);
}

void api_events_unsubscribe(struct api_events *ev, struct api_events_sub *sub)
{
    if (!ev || !sub || sub->dead) return;
    sub->dead = true;
    ev->nsubs--;
    struct ev_acct *a = sub->acct;
    if (a) {
        if (!a->dirty) {
            a->dirty = true;
            a->next_dirty = ev->dirty;
            ev->dirty = a;
        }
    } else {
        ev->subs_dirty = true;
    }
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

size_t api_events_accounts(const struct api_events *ev)
{
    return ev->naccts;
}

unsigned long long api_events_published(const struct api_events *ev)
{
    return ev->published;
}
