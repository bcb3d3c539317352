/* SPDX-License-Identifier: MIT */
/* chmetrics.h -- a WhatsApp channel's Prometheus series (api/metrics.h).
 *
 * Every series carries channel="whatsapp",account="<id>" (the id escaped); the by-state one
 * adds state="<name>" (1 for the current state, 0 for the others), the failed attempts
 * cause="<stage or outcome kind>". A NULL registry makes every call a no-op, so the
 * supervisor (gw/channel.h) calls them without checking.
 */
#pragma once
#include "gw/chpolicy.h"
#include "wa/client.h"

struct api_metrics;

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
