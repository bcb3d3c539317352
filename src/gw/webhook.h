/* SPDX-License-Identifier: MIT */
/* webhook.h -- hooks.webhook: one account's events POSTed to HTTP(S) endpoints, durably.
 *
 * One `struct gw_webhook` per channel (gw/channel.h makes it with the channel, attaches the
 * account database with gw_webhook_set_store() once it is open, closes it with the channel).
 * Each endpoint (hooks.webhook.endpoints[]: url, secret, events) gets every event whose type
 * its list takes ("message.received" by default; "prefix.*" and "*" match more). Each
 * (event, endpoint) is first a row of the account database's queue (store/whstore.h,
 * schema v7), then POSTed from there:
 *   POST <url>  Content-Type: application/json
 *   X-Wagate-Delivery: wh_<32 hex>   (gw/whsig.h: stable for this event and endpoint)
 *   X-Wagate-Event: <type>   X-Wagate-Attempt: <n>   X-Wagate-Timestamp: <Unix seconds>
 *   X-Wagate-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 *   {"id":"wh_...","type":"message.received","ts":"...Z","account":"default","data":{...}}
 * data is what the event stream carries for that event (message.received: gw/json.h's
 * message object). The body is built once, when the row is queued: every retry sends the
 * same bytes (with a fresh timestamp and signature).
 *
 * Where the rows come from:
 *  - message.received: from the inbox, not from the event: webhook_mark is the inbox cursor
 *    up to which deliveries were queued; every row after it is queued (one transaction with
 *    the new mark) on the next loop iteration after a message.received, and when a store is
 *    attached, so a message stored just before a crash is queued after the restart. Without
 *    an endpoint that wants messages the mark just follows the inbox (at most 10 s late, and
 *    when a store is attached or detached), so enabling webhooks later (a restart or a
 *    SIGHUP) does not replay the history.
 *  - every other type: tapped from the event stream (api/events.h; subscribed for this
 *    account, so the stream hands it this account's events alone) as it is published and
 *    queued on the next loop iteration (at most GW_WEBHOOK_TAP_MAX waiting; an event
 *    published in the instant before a crash can be lost, like on the event stream itself).
 *    webhook.* events are never sent to webhooks.
 *
 * Delivery: exactly once from the sender's side -- a row is done only after a 2xx answer;
 * the attempt count is written before each attempt, and a row whose attempt was cut short
 * (a crash, a kill, a shutdown) is sent again, with the same delivery id: at-least-once on
 * the wire, deduplicable by id. Any other answer or error is retried after
 * wh_backoff_ms(retry_base_ms, retry_max_ms, attempt); after max_attempts the row is dead
 * (dead-letter: kept, counted in the status and /metrics) and ONE `webhook.dead_letter` event
 * {"account","delivery_id","url","type","attempts","error"} is published. A row whose URL
 * left the config is dead too ("endpoint removed from the config"). A body over max_body
 * is replaced by {"truncated":true,"bytes":N,"cursor"?} in data. A delivered row is deleted;
 * dead letters are kept until gw_webhook_retry_dead() queues them again.
 * Writes are batched: the attempts one scan starts are counted in one transaction, and the
 * results of one loop iteration written in one before the queue is read again (a crash in
 * between sends those deliveries again, under the same ids).
 *
 * Limits: max_concurrent requests at once (per account), connect_timeout_ms (DNS + TCP +
 * TLS), response_timeout_ms (to the end of the response head), max_response bytes of
 * response read (net/httpc.h). No order is promised between deliveries.
 *
 * hooks.webhook.* is read from *cfg at each use (a SIGHUP reload applies to the next
 * attempts). Loop thread only; nothing blocks (SQLite statements on the account database,
 * like the rest of the channel).
 */
#pragma once
#include <stddef.h>
#include <uv.h>

#include "gw/config.h"

#define GW_WEBHOOK_TAP_MAX 1024 /* tapped events waiting for the next iteration */

struct gw_webhook;
struct st_db;
struct api_events;
struct api_metrics;

struct gw_webhook_opts {
    const char *account;         /* copied */
    const struct wg_config *cfg; /* hooks.webhook.*: read live; must outlive the close */
    struct api_events *events;   /* the stream to tap and to publish on; may be NULL */
    struct api_metrics *metrics; /* may be NULL */
};

/* 0, -EINVAL (missing loop/account/cfg), -ENOMEM, or api_events_subscribe_account's error. */
int gw_webhook_new(uv_loop_t *loop, const struct gw_webhook_opts *o, struct gw_webhook **out)
    __attribute__((warn_unused_result));
/* The account database (borrowed; NULL before it is closed). Attaching one queues what the
 * inbox holds beyond the mark and starts the due deliveries; detaching cancels the requests
 * in flight (their rows stay pending). NULL w is a no-op. */
void gw_webhook_set_store(struct gw_webhook *w, struct st_db *db);
/* The operator's retry of the dead letters (e.g. after fixing the endpoint): every dead row
 * pending again with its attempts reset, sent from now on. The number requeued, -ENOTCONN
 * (no store open), -EBUSY (inside a transaction: try again) or a store error. */
int gw_webhook_retry_dead(struct gw_webhook *w);
/* Forget the event stream and the metrics (before the API server closes). NULL ok. */
void gw_webhook_detach_api(struct gw_webhook *w);
/* Cancel the requests in flight (rows stay pending); freed on a later iteration. NULL ok. */
void gw_webhook_close(struct gw_webhook *w);

struct gw_webhook_stats {
    unsigned endpoints;            /* configured */
    unsigned running;              /* requests in flight */
    long long backlog;             /* pending rows (in flight included); -1 unknown (no store) */
    long long dead;                /* dead-letter rows; -1 unknown */
    unsigned long queued;          /* rows queued by this process */
    unsigned long delivered;       /* 2xx answers */
    unsigned long failed_attempts; /* attempts that ended without a 2xx */
    unsigned long dead_lettered;   /* rows this process gave up on */
    unsigned long tap_dropped;     /* tapped events dropped (over GW_WEBHOOK_TAP_MAX) */
    char last_error[200];          /* the last failed attempt: "<url>: HTTP 500", "" if none */
};
void gw_webhook_get_stats(const struct gw_webhook *w, struct gw_webhook_stats *out);
/* Each configured endpoint as a JSON array for the status (the dashboard shows it):
 * [{"url","events":[...],"pending","dead_letter","last_error","last_error_at"}] -- url
 * redacted by gw_webhook_url_redact (gw/whurl.h) (the secret is never shown), pending/dead_letter
 * counted in the store (absent while it is closed), last_error the endpoint's last failed
 * attempt ("" if none since the start) and its time (ISO 8601 UTC, null if none). NULL w or
 * no endpoints: NULL. */
struct cJSON;
struct cJSON *gw_webhook_endpoints_json(const struct gw_webhook *w);
/* The stats' last_error, kept in w (valid until the next attempt ends); "" for NULL w. */
const char *gw_webhook_last_error(const struct gw_webhook *w);
