/* SPDX-License-Identifier: MIT */
/* chmetrics.c -- a WhatsApp channel's Prometheus series (moved out of channel.c). */
#include "gw/chmetrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/metrics.h"
#include "core/log.h"
#include "store/msgstore.h"

/* channel="whatsapp",account="<id>"[,key="value"] (value: a fixed word, not escaped) */
static void labels(const char *account, char *out, size_t len, const char *key, const char *value)
{
    char acct[80];
    api_metrics_label_escape(account, acct, sizeof acct);
    if (key)
        snprintf(out, len, "channel=\"whatsapp\",account=\"%s\",%s=\"%s\"", acct, key, value);
    else
        snprintf(out, len, "channel=\"whatsapp\",account=\"%s\"", acct);
}

void chmetrics_add(struct api_metrics *m, const char *account, const char *name, double v)
{
    if (!m) return;
    char l[160];
    labels(account, l, sizeof l, NULL, NULL);
    api_metrics_add(m, name, l, v);
}

void chmetrics_set(struct api_metrics *m, const char *account, const char *name, double v)
{
    if (!m) return;
    char l[200];
    labels(account, l, sizeof l, NULL, NULL);
    api_metrics_set(m, name, l, v);
}

void chmetrics_state(struct api_metrics *m, const char *account, enum gw_ch_state state)
{
    if (!m) return;
    for (int s = 0; s < GW_CH_STATE_COUNT; s++) {
        char l[200];
        labels(account, l, sizeof l, "state", gw_ch_state_name((enum gw_ch_state)s));
        api_metrics_set(m, "wagate_channel_state", l, s == (int)state ? 1 : 0);
    }
}

const char *chmetrics_cause(const struct wa_outcome *o)
{
    return o->kind == WA_OUT_TRANSPORT ? nout_stage_name(o->net.stage)
                                       : wa_outcome_kind_name(o->kind);
}

void chmetrics_failed_attempt(struct api_metrics *m, const char *account,
                              const struct wa_outcome *o)
{
    if (!m) return;
    char l[240];
    labels(account, l, sizeof l, "cause", chmetrics_cause(o));
    api_metrics_add(m, "wagate_channel_failed_attempts_total", l, 1);
}

void chmetrics_reconnect(struct api_metrics *m, const char *account, const char *cause)
{
    if (!m) return;
    char l[240];
    labels(account, l, sizeof l, "cause", cause && cause[0] ? cause : "unknown");
    api_metrics_add(m, "wagate_channel_reconnects_by_cause_total", l, 1);
}

static const struct {
    const char *name, *help;
    enum api_metric_type type;
} channel_metrics[] = {
    {"wagate_channel_state", "1 for the channel's current state, 0 for the others",
     API_METRIC_GAUGE},
    {"wagate_channel_reconnects_total",
     "times the channel was connected again after losing the link", API_METRIC_COUNTER},
    {"wagate_channel_reconnects_by_cause_total",
     "reconnections by what ended the connection before them (stage or outcome kind)",
     API_METRIC_COUNTER},
    {"wagate_channel_failed_attempts_total", "sessions that ended and were retried, by cause",
     API_METRIC_COUNTER},
    {"wagate_channel_outages_total",
     "outages that lasted notify.outage_after_s (one channel.down each)", API_METRIC_COUNTER},
    {"wagate_channel_connected_since_seconds",
     "Unix time the current connection began (0: not connected)", API_METRIC_GAUGE},
    {"wagate_channel_down_since_seconds", "Unix time the current outage began (0: no outage)",
     API_METRIC_GAUGE},
    {"wagate_channel_undecryptable_total",
     "messages given up after the retry receipts (stored as undecryptable inbox rows)",
     API_METRIC_COUNTER},
    {"wagate_channel_retry_receipts_total",
     "per-message repairs: retry receipts sent for messages we could not decrypt",
     API_METRIC_COUNTER},
    {"wagate_channel_decrypt_failures_total",
     "messages (or their resends) that failed to decrypt, recovered later or not",
     API_METRIC_COUNTER},
    {"wagate_channel_peer_session_resets_total",
     "per-peer repairs: a peer's session (and sender key) deleted after a message was given up",
     API_METRIC_COUNTER},
    {"wagate_channel_session_repairs_total",
     "store-wide session repairs (all sessions and sender keys reset)", API_METRIC_COUNTER},
    {"wagate_channel_messages_in_total", "messages received and stored in the inbox",
     API_METRIC_COUNTER},
    {"wagate_channel_messages_out_total", "messages accepted into the outbox", API_METRIC_COUNTER},
    {"wagate_channel_signed_prekey_rotations_total",
     "new signed pre-keys stored (with the credentials) to be uploaded", API_METRIC_COUNTER},
    {"wagate_channel_media_fetched_total",
     "received files downloaded, verified and stored (or found stored already)",
     API_METRIC_COUNTER},
    {"wagate_channel_media_failed_total",
     "received files given up (expired on the server, not authentic, over the cap, retries "
     "exhausted)",
     API_METRIC_COUNTER},
};

/* Every family declared; this account's plain series at 0 (the by-cause and by-state ones are
 * created as they are set). */
void chmetrics_declare(struct api_metrics *m, const char *account, enum gw_ch_state state)
{
    if (!m) return;
    for (size_t i = 0; i < sizeof channel_metrics / sizeof channel_metrics[0]; i++) {
        const char *n = channel_metrics[i].name;
        api_metrics_declare(m, n, channel_metrics[i].help, channel_metrics[i].type);
        if (strcmp(n, "wagate_channel_state") && !strstr(n, "_by_cause_") &&
            strcmp(n, "wagate_channel_failed_attempts_total"))
            chmetrics_add(m, account, n, 0); /* creates the series at 0, keeps an existing value */
    }
    chmetrics_state(m, account, state);
}

/* ---- read at scrape time ---- */

static void live_read(struct chmetrics_live *l)
{
    uint64_t ch = st_db_changes(l->db);
    if (l->read && ch == l->changes) return; /* nothing written since: the values stand */
    size_t q = 0;
    int64_t oldest = 0;
    int r = st_outbox_count_queued(l->db, &q);
    if (r == 0) api_metrics_ref_set(l->m, l->outbox, (double)q);
    int o = st_inbox_oldest_pending(l->db, &oldest);
    if (o >= 0) l->oldest_pending = o == 1 ? oldest : 0;
    if (r < 0 || o < 0) return; /* a failing store (degraded): asked again at the next scrape */
    l->changes = ch;
    l->read = true;
}

static void live_collect(struct api_metrics *m, void *ud)
{
    struct chmetrics_live *l = ud;
    if (l->db) live_read(l);
    int64_t now = (int64_t)time(NULL);
    double lag =
        l->oldest_pending && now > l->oldest_pending ? (double)(now - l->oldest_pending) : 0;
    api_metrics_ref_set(m, l->lag, lag);
    api_metrics_hist_set(m, l->commit, l->commits.bucket, ST_DB_COMMIT_BUCKETS, l->commits.sum_ms);
}

void chmetrics_live_start(struct chmetrics_live *l, struct api_metrics *m, const char *account)
{
    memset(l, 0, sizeof *l);
    l->outbox = l->lag = l->commit = API_METRIC_REF_NONE;
    if (!m) return;
    char lb[160];
    labels(account, lb, sizeof lb, NULL, NULL);
    double bounds[ST_DB_COMMIT_BUCKETS - 1];
    for (size_t i = 0; i < ST_DB_COMMIT_BUCKETS - 1; i++)
        bounds[i] = ST_DB_COMMIT_BOUNDS_MS[i]; /* in ms, as the store counts them */
    api_metrics_declare(m, "wagate_channel_outbox_depth",
                        "messages waiting in the outbox to be sent (state queued)",
                        API_METRIC_GAUGE);
    api_metrics_declare(m, "wagate_channel_inbox_delivery_lag_seconds",
                        "age of the oldest received message not yet settled for the agent "
                        "(exec hook), 0 when none waits",
                        API_METRIC_GAUGE);
    api_metrics_declare_histogram(
        m, "wagate_store_commit_duration_ms",
        "latency of the account database's COMMITs in ms (WAL append and fsync; a group commit "
        "is one)",
        bounds, ST_DB_COMMIT_BUCKETS - 1);
    api_metrics_ref(m, "wagate_channel_outbox_depth", lb, &l->outbox);
    api_metrics_ref(m, "wagate_channel_inbox_delivery_lag_seconds", lb, &l->lag);
    api_metrics_ref(m, "wagate_store_commit_duration_ms", lb, &l->commit);
    if (api_metrics_collector_add(m, live_collect, l) < 0) {
        log_warn("metrics", account, "too many collectors: outbox, lag and commit series stay 0");
        return;
    }
    l->m = m;
}

void chmetrics_live_set_db(struct chmetrics_live *l, struct st_db *db)
{
    if (l->db) st_db_set_commit_stats(l->db, NULL);
    l->db = db;
    l->read = false;
    if (db) st_db_set_commit_stats(db, &l->commits);
}

void chmetrics_live_stop(struct chmetrics_live *l)
{
    chmetrics_live_set_db(l, NULL);
    if (l->m) api_metrics_collector_remove(l->m, live_collect, l);
    l->m = NULL;
}
