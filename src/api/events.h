/* SPDX-License-Identifier: MIT */
/* events.h -- bounded ring of operator events with sequence numbers and resume.
 *
 * Each event is stored once, serialised as the JSON text sent to clients:
 *   {"seq":N,"ts":"2026-11-21T12:00:00.123Z","type":"...","data":{...}}
 * seq starts at 1 and is never reused in this process. The ring keeps the
 * last `capacity` events so a subscriber can resume with "since=SEQ".
 *
 * Delivery is synchronous on the loop thread: api_events_publish() calls the
 * sink of every subscriber before it returns (sinks must not block; they may
 * unsubscribe themselves or others, removal is deferred while delivering).
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
 * the bounded ring and sends it to every subscriber. Takes ownership of data
 * (may be NULL -> {}). Returns the seq or -errno (-EINVAL empty type,
 * -ENOMEM). */
long long api_events_publish(struct api_events *ev, const char *type, cJSON *data);

/* Register a sink for live events. Returns 0 or -ENOMEM. */
int api_events_subscribe(struct api_events *ev, api_events_sink_fn fn, void *arg,
                         struct api_events_sub **out) __attribute__((warn_unused_result));
/* Remove a subscription (NULL ok). Safe from inside a sink. */
void api_events_unsubscribe(struct api_events *ev, struct api_events_sub *sub);
/* Call fn for the resume described above (since < 0 means "no resume":
 * nothing is replayed). Returns the number of events delivered. */
long api_events_replay(struct api_events *ev, long long since, api_events_sink_fn fn, void *arg);

long long api_events_last_seq(const struct api_events *ev);  /* 0 before the first */
long long api_events_first_seq(const struct api_events *ev); /* oldest kept, 0 if empty */
size_t api_events_count(const struct api_events *ev);
size_t api_events_subscribers(const struct api_events *ev);
/* Events published so far (for metrics). */
unsigned long long api_events_published(const struct api_events *ev);
/* Format the current UTC time as ISO-8601 with milliseconds (out >= 25). */
void api_events_now_iso(char *out, size_t outlen);
