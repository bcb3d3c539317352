/* SPDX-License-Identifier: MIT */
/* json.h -- the JSON forms of the gateway's domain values (the API, the events and the exec
 * hook show these; the values themselves come from wa/ and gw/channel as structs). */
#pragma once
#include <cjson/cJSON.h>

#include "wa/inmsg.h"

struct gw_channel_status;

/* A received message (events, the inbox route, the exec hook's stdin):
 * {"account","cursor","chat","sender","id","type","ts","received","text"|"payload_hex"}
 * "text" for a text message whose bytes hold no NUL, else "payload_hex" (the raw bytes).
 * A new object (NULL on ENOMEM); the caller owns it. */
cJSON *gw_inmsg_json(const char *account, const struct wa_inmsg *m);
/* A channel's status entry: {"channel":"whatsapp","account","state","since","last_error",
 * "jid" (null until paired),"next_retry"?,"next_retry_ms"?,"reconnects" (connected again after
 * a loss),"attempts" (failed ones),"down_since" (null when up),"connected_since"?,"queued"?
 * (outgoing messages not yet acknowledged),"qr_available"}. */
cJSON *gw_channel_status_json(const struct gw_channel_status *st);
