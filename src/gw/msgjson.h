/* SPDX-License-Identifier: MIT */
/* msgjson.h -- the JSON form of a received message (events, the inbox route, the exec hook):
 * {"account","cursor","chat","sender","id","type","ts","received","text"|"payload_hex"}
 * "text" for a text message whose bytes hold no NUL, else "payload_hex" (the raw bytes). */
#pragma once
#include <cjson/cJSON.h>

#include "wa/inmsg.h"

/* A new object (NULL on ENOMEM); the caller owns it. */
cJSON *gw_inmsg_json(const char *account, const struct wa_inmsg *m);
