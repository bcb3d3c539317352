/* SPDX-License-Identifier: MIT */
/* chmetrics.h -- a WhatsApp channel's Prometheus series (api/metrics.h).
 *
 * Every series carries channel="whatsapp",account="<id>" (the id escaped); the by-state one
 * adds state="<name>" (1 for the current state, 0 for the others), the failed attempts
 * cause="<stage or outcome kind>". A NULL registry makes every call a no-op, so the
 * supervisor (gw/channel.h) calls them without checking.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "api/metrics.h"
#include "gw/chpolicy.h"
#include "store/db.h"
#include "wa/client.h"

/* Declare every family (HELP, TYPE) and this account's plain series at 0 (an existing value
 * is kept), the by-state series for `state`. */
void chmetrics_declare(struct api_metrics *m, const char *account, enum gw_ch_state state);
void chmetrics_add(struct api_metrics *m, const char *account, const char *name, double v);
void chmetrics_set(struct api_metrics *m, const char *account, const char *name, double v);
void chmetrics_state(struct api_metrics *m, const char *account, enum gw_ch_state state);
/* wagate_channel_failed_attempts_total{cause}: the transport stage (dns, connect, tls, ws),
 * else the kind of outcome (stream_error, keepalive, ...). */
void chmetrics_failed_attempt(struct api_metrics *m, const char *account,
                              const struct wa_outcome *o);

/* wagate_channel_reconnects_by_cause_total{cause}: a reconnection, by what ended the
 * connection before it (the cause of chmetrics_failed_attempt's first failure). */
void chmetrics_reconnect(struct api_metrics *m, const char *account, const char *cause);
/* The cause label chmetrics_failed_attempt uses for o (a static string). */
const char *chmetrics_cause(const struct wa_outcome *o);

/* The series read when /metrics is scraped (an api_metrics collector), not pushed on every
 * change: the outbox depth (queued rows), the inbox delivery lag (now minus the time the
 * oldest row not yet settled for the agent was stored; 0 when none) and the store's commit
 * latency histogram. The database is asked only when it changed since the last scrape
 * (st_db_changes): an idle account costs no query, a busy one two index lookups (the
 * outbox's queued rows are counted, the inbox is not scanned). */
struct chmetrics_live {
    struct api_metrics *m;             /* NULL: not started (every call a no-op) */
    struct st_db *db;                  /* borrowed; NULL while the database is closed */
    struct st_db_commit_stats commits; /* counted by the store (st_db_set_commit_stats) */
    struct api_metric_ref outbox, lag, commit;
    uint64_t changes;       /* st_db_changes at the last read */
    bool read;              /* read since the database was attached */
    int64_t oldest_pending; /* Unix s, 0 = nothing pending */
};
/* Declare the families and this account's series, register the collector. */
void chmetrics_live_start(struct chmetrics_live *l, struct api_metrics *m, const char *account);
/* Attach (or with NULL detach, before closing it) the account database. */
void chmetrics_live_set_db(struct chmetrics_live *l, struct st_db *db);
/* Unregister the collector (the series keep their last values). */
void chmetrics_live_stop(struct chmetrics_live *l);
