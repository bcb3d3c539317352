/* SPDX-License-Identifier: MIT */
/* whsig.h -- the pure parts of a webhook delivery (gw/webhook.h): signature, delivery id,
 * retry schedule. No I/O, no allocation.
 *
 * Signature: X-Wagate-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>, where
 * timestamp is the decimal Unix-seconds value sent as X-Wagate-Timestamp with the same
 * request (a receiver recomputes it and rejects old timestamps against replays).
 * Delivery id: "wh_" + the first 16 bytes (32 hex digits) of SHA-256(account "\n" url "\n"
 * event key): the same event to the same endpoint always gets the same id, across retries
 * and restarts.
 * Retry schedule: the wait after failed attempt n (1-based) is min(cap, base * 2^(n-1)) ms,
 * deterministic (no jitter: one endpoint's deliveries are few and spread by their events).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define WH_SIG_LEN 71 /* "sha256=" + 64 hex digits */
#define WH_ID_LEN  35 /* "wh_" + 32 hex digits */

/* out (>= WH_SIG_LEN + 1 bytes) = "sha256=<hex>". 0, or -EINVAL (NULL arguments, out too
 * small) / -EIO (the HMAC failed). */
int wh_sign(const char *secret, int64_t timestamp, const void *body, size_t len, char *out,
            size_t outlen) __attribute__((warn_unused_result));
/* out (>= WH_ID_LEN + 1 bytes). 0 or -EINVAL. */
int wh_delivery_id(const char *account, const char *url, const char *event_key, char *out,
                   size_t outlen) __attribute__((warn_unused_result));
/* The wait after failed attempt `attempt` (>= 1; 0 is treated as 1), in ms. */
uint64_t wh_backoff_ms(unsigned base_ms, unsigned cap_ms, unsigned attempt);
/* Whether an endpoint's event list (entries "type", "prefix.*" or "*") takes `type`. */
int wh_event_match(const char (*events)[48], unsigned n, const char *type);
