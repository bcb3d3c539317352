/* SPDX-License-Identifier: MIT */
/* events.h -- bounded ring of operator events with sequence numbers and resume.
 *
 * Each event is stored once, serialised as the JSON text sent to clients:
 *   {"seq":N,"ts":"2026-11-21T12:00:00.123Z","type":"...","data":{...}}
 * seq starts at 1 and is never reused in this process. The ring keeps the
 * last `capacity` events so a subscriber can resume with "since=SEQ".
 *
 * Delivery is synchronous on the loop thread: api_events_publish() calls the
 * sinks before it returns (sinks must not block; they may unsubscribe
 * themselves or others, removal is deferred while delivering).
 *
 * Routing by account: a subscriber either takes every event (api_events_subscribe:
 * WebSocket clients, sd_notify) or names one account (api_events_subscribe_account:
 * a channel's webhook) and then gets only the events whose data has "account"
 * equal to that name (a string of 1..API_EVENTS_ACCOUNT_MAX bytes; events without
 * one reach only the account-less subscribers). Per-account subscribers are kept
 * in a hash table, so publishing costs one lookup plus the sinks that get the
 * event, not one call per account. Each event reaches the account-less
 * subscribers first, then its account's (within each group, the most recent
 * subscription first). A sink that publishes re-entrantly only stores its event:
 * it is delivered after the current one reached everyone, so every subscriber
 * sees events in seq order. A subscription made inside a sink gets the events
 * after the one being delivered.
 *
 * Resume (api_events_replay): every kept event with seq > since, in order.
 * When events after `since` were already evicted, a synthetic event comes
 * first (not stored, no seq of its own: it carries seq = first kept - 1 so a
 * client cursor moves past the loss):
 *   {"seq":F-1,"ts":...,"type":"stream.gap","data":{"from":since+1,"to":F-1,"lost":n}}
 * A cursor ahead of the last seq (a client of an earlier daemon process)
 * gets a "stream.gap" with "reason":"cursor_ahead" and the whole ring.
 */
#pragma once
#include <stddef.h>

#include <cjson/cJSON.h>

#define API_EVENTS_ACCOUNT_MAX 64 /* bytes of an account name a subscriber can name */

struct api_events;
struct api_events_sub;

/* Receives one event as JSON text (not NUL-terminated, valid during the call). */
typedef void (*api_events_sink_fn)(void *arg, long long seq, const char *json, size_t len);

/* capacity 0 = 1024 events; the ring also drops events once they take more
 * than max_bytes in total (0 = 16 MiB). Returns 0 or -ENOMEM. */
int api_events_new(size_t capacity, size_t max_bytes, struct api_events **out)
    __attribute__((warn_unused_result));
/* Frees the ring and every subscription (sinks are not called). NULL ok. */
void api_events_free(struct api_events *ev);

/* Publish an event: assigns the next seq (monotonic from 1, never reused in
 * this process), an ISO-8601 UTC "ts", stores {"seq","ts","type","data"} in
 * the bounded ring and sends it to its subscribers (above). Takes ownership of data
 * (may be NULL -> {}). Returns the seq or -errno (-EINVAL empty type,
 * -ENOMEM). */
long long api_events_publish(struct api_events *ev, const char *type, cJSON *data);

/* Register a sink for every live event. Returns 0, -EINVAL (no ev or fn) or -ENOMEM. */
int api_events_subscribe(struct api_events *ev, api_events_sink_fn fn, void *arg,
                         struct api_events_sub **out) __attribute__((warn_unused_result));
/* Register a sink for the live events of one account (data's "account" equal to account,
 * copied; NULL = every event, as api_events_subscribe). Any number of subscribers may name
 * the same account. Returns 0, -EINVAL (no ev or fn, account empty or longer than
 * API_EVENTS_ACCOUNT_MAX) or -ENOMEM. */
int api_events_subscribe_account(struct api_events *ev, const char *account, api_events_sink_fn fn,
                                 void *arg, struct api_events_sub **out)
    __attribute__((warn_unused_result));
/* Remove a subscription (NULL ok). Safe from inside a sink. */
void api_events_unsubscribe(struct api_events *ev, struct api_events_sub *sub);
/* Call fn for the resume described above (since < 0 means "no resume":
 * nothing is replayed). Returns the number of events delivered. */
long api_events_replay(struct api_events *ev, long long since, api_events_sink_fn fn, void *arg);

long long api_events_last_seq(const struct api_events *ev);  /* 0 before the first */
long long api_events_first_seq(const struct api_events *ev); /* oldest kept, 0 if empty */
size_t api_events_count(const struct api_events *ev);
size_t api_events_subscribers(const struct api_events *ev); /* live subscriptions, all kinds */
/* Accounts with at least one subscription in the table (entries are freed with their last
 * subscription, after the delivery in progress if any). */
size_t api_events_accounts(const struct api_events *ev);
/* Events published so far (for metrics). */
unsigned long long api_events_published(const struct api_events *ev);
/* Format the current UTC time as ISO-8601 with milliseconds (out >= 25). */
void api_events_now_iso(char *out, size_t outlen);
