/* SPDX-License-Identifier: MIT */
/* chmetrics.c -- a WhatsApp channel's Prometheus series (moved out of channel.c). */
#include "gw/chmetrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/metrics.h"

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

void chmetrics_failed_attempt(struct api_metrics *m, const char *account,
                              const struct wa_outcome *o)
{
    if (!m) return;
    char l[240];
    const char *cause =
        o->kind == WA_OUT_TRANSPORT ? nout_stage_name(o->net.stage) : wa_outcome_kind_name(o->kind);
    labels(account, l, sizeof l, "cause", cause);
    api_metrics_add(m, "wagate_channel_failed_attempts_total", l, 1);
}

static const struct {
    const char *name, *help;
    enum api_metric_type type;
} channel_metrics[] = {
    {"wagate_channel_state", "1 for the channel's current state, 0 for the others",
     API_METRIC_GAUGE},
    {"wagate_channel_reconnects_total",
     "times the channel was connected again after losing the link", API_METRIC_COUNTER},
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
    {"wagate_channel_retry_receipts_total", "retry receipts sent for messages we could not decrypt",
     API_METRIC_COUNTER},
    {"wagate_channel_session_repairs_total",
     "store-wide session repairs (all sessions and sender keys reset)", API_METRIC_COUNTER},
    {"wagate_channel_messages_in_total", "messages received and stored in the inbox",
     API_METRIC_COUNTER},
    {"wagate_channel_messages_out_total", "messages accepted into the outbox", API_METRIC_COUNTER},
    {"wagate_channel_signed_prekey_rotations_total",
     "new signed pre-keys stored (with the credentials) to be uploaded", API_METRIC_COUNTER},
};

/* Every family declared; this account's plain series at 0 (the by-cause and by-state ones are
 * created as they are set). */
void chmetrics_declare(struct api_metrics *m, const char *account, enum gw_ch_state state)
{
    if (!m) return;
    for (size_t i = 0; i < sizeof channel_metrics / sizeof channel_metrics[0]; i++) {
        const char *n = channel_metrics[i].name;
        api_metrics_declare(m, n, channel_metrics[i].help, channel_metrics[i].type);
        if (strcmp(n, "wagate_channel_state") && strcmp(n, "wagate_channel_failed_attempts_total"))
            chmetrics_add(m, account, n, 0); /* creates the series at 0, keeps an existing value */
    }
    chmetrics_state(m, account, state);
}
