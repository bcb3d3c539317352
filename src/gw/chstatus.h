/* SPDX-License-Identifier: MIT */
/* chstatus.h -- a channel's status as a value (gw/channel.h fills it, gw/json.h shows it). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "gw/chpolicy.h"

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
    uint64_t next_retry_ms; /* from now */
    uint64_t reconnects;
    bool qr_available;
};
