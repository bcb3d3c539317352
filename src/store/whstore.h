/* SPDX-License-Identifier: MIT */
/* whstore.h -- the webhook delivery queue in the account database (schema v7).
 *
 * One row per (event, endpoint): pending until a 2xx answer (done: the row is deleted) or
 * until it is given up (dead: kept). The caller (gw/webhook.h) owns the policy; these are single
 * statements that join an open transaction (st_db_begin) or autocommit. Times are Unix ms passed in
 * by the caller. Strings are borrowed for the call; limits: delivery_id 1..ST_WH_ID_MAX, url
 * 1..ST_WH_URL_MAX, event type 1..64, error <= 512 bytes (cut), body <= ST_WH_BODY_MAX
 * (-ENOBUFS). Errors are negative errnos as in store/db.h.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define ST_WH_ID_MAX   64
#define ST_WH_URL_MAX  1024
#define ST_WH_BODY_MAX (1u << 20)

enum st_wh_state { ST_WH_PENDING = 0, ST_WH_DONE, ST_WH_DEAD };

struct st_wh_row {
    int64_t id; /* queue order */
    char delivery_id[ST_WH_ID_MAX + 1];
    char url[ST_WH_URL_MAX + 1];
    char type[65];
    uint8_t *body; /* heap; freed by st_wh_rows_free */
    size_t body_len;
    int attempts; /* started so far */
};

/* Queue a delivery: 0 (new row, pending, due now) or ST_DUPLICATE (1) when delivery_id is
 * already queued (whatever its state: nothing changes). */
int st_wh_enqueue(struct st_db *db, const char *delivery_id, const char *url, const char *type,
                  const uint8_t *body, size_t len, int64_t now_ms)
    __attribute__((warn_unused_result));
/* Up to `limit` (1..1000) pending rows due at now_ms (next_at <= now_ms), oldest first.
 * *out is a new array of *n rows (NULL when 0); free with st_wh_rows_free. */
int st_wh_due(struct st_db *db, int64_t now_ms, size_t limit, struct st_wh_row **out, size_t *n)
    __attribute__((warn_unused_result));
void st_wh_rows_free(struct st_wh_row *v, size_t n);
/* An attempt starts: attempts + 1 and next_at = lease_until (no other attempt before it; an
 * attempt lost to a crash is due again then). 0, or -ENOENT when the row is not pending. */
int st_wh_start(struct st_db *db, int64_t id, int64_t lease_until, int64_t now_ms)
    __attribute__((warn_unused_result));
/* Settle or reschedule: state (PENDING with next_at = the retry time, DONE = delete the row,
 * or DEAD), the last error (NULL = ""). 0, -ENOENT (no such row), or a negative errno. */
int st_wh_settle(struct st_db *db, int64_t id, enum st_wh_state state, int64_t next_at,
                 const char *error, int64_t now_ms) __attribute__((warn_unused_result));
/* Every dead row pending again, attempts 0, due at now_ms (the operator fixed the endpoint):
 * the number of rows, or a negative errno. */
int st_wh_requeue_dead(struct st_db *db, int64_t now_ms);
/* Pending (backlog, in flight included) and dead rows. */
int st_wh_counts(struct st_db *db, size_t *pending, size_t *dead)
    __attribute__((warn_unused_result));
/* The earliest next_at after now_ms among pending rows (the next retry; rows due already are
 * not looked at): 1 found (*at), 0 none. */
/* The same counts for one endpoint URL. */
int st_wh_counts_url(struct st_db *db, const char *url, size_t *pending, size_t *dead)
    __attribute__((warn_unused_result));
int st_wh_next_due(struct st_db *db, int64_t now_ms, int64_t *at)
    __attribute__((warn_unused_result));
/* The inbox cursor up to which message deliveries were enqueued (v7 starts it at the end of
 * the inbox). */
int st_wh_mark_get(struct st_db *db, int64_t *cursor) __attribute__((warn_unused_result));
int st_wh_mark_set(struct st_db *db, int64_t cursor) __attribute__((warn_unused_result));
/* Move the mark to the inbox's last cursor (nothing to queue). */
int st_wh_mark_to_end(struct st_db *db) __attribute__((warn_unused_result));
