/* SPDX-License-Identifier: MIT */
/* chstatus.h -- a channel's status as a value (gw/channel.h fills it, gw/json.h shows it). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "gw/chpolicy.h"

struct gw_webhook;

/* What the status endpoints show (gw/json.h makes the JSON). Strings point into the channel:
 * valid until it changes state or closes. */
struct gw_channel_status {
    const char *account;
    enum gw_ch_state state;
    int64_t since_wall_ms;  /* the last transition, Unix ms */
    const char *last_error; /* "" if none */
    const char *jid;        /* our PN JID once paired, else NULL */
    bool retry_pending;     /* backoff/conflict with a retry scheduled */
    int64_t next_retry_wall_ms;
    uint64_t next_retry_ms;     /* from now */
    uint64_t reconnects;        /* connected again after losing the link */
    uint64_t attempts;          /* failed attempts (sessions that ended and were retried) */
    int64_t down_since_wall_ms; /* when the current outage began (Unix ms); 0 = none */
    int64_t up_since_wall_ms;   /* when the current connection began; 0 = not connected */
    long long queued;           /* outgoing messages not yet acknowledged; -1 = unknown */
    bool qr_available;
    const char *pairing_method; /* while linking: "qr", or "code" once a code was requested;
                                 * NULL when not pairing */
    const char *pairing_phone;  /* "code": the number's digits */
    /* hooks.webhook (gw/webhook.h): shown when endpoints > 0 */
    unsigned webhook_endpoints;
    long long webhook_backlog, webhook_dead; /* -1 = unknown (no store open) */
    unsigned long webhook_delivered;         /* 2xx answers since the start */
    const char *webhook_last_error;          /* "" if none */
    const struct gw_webhook *webhook;        /* per-endpoint entries (borrowed), may be NULL */
    /* gw_webhook_endpoints_json, given here so that gw/json needs no gw/webhook (a cycle) */
    struct cJSON *(*webhook_list)(const struct gw_webhook *w);
};
