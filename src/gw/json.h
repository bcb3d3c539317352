/* SPDX-License-Identifier: MIT */
/* json.h -- the JSON forms of the gateway's domain values (the API, the events and the exec
 * hook show these; the values themselves come from wa/ and gw/channel as structs). */
#pragma once
#include <cjson/cJSON.h>

#include "wa/inmsg.h"

struct gw_channel_status;

/* A received message (events, the inbox route, the exec hook's stdin):
 * {"account","cursor","chat","sender","id","type","ts","received","text"|"payload_hex",
 *  "text_raw_b64"?}
 * "text" for a text message whose bytes hold no NUL, else "payload_hex" (the raw bytes);
 * "text_raw_b64" (base64 of the bytes as sent) only when the peer's text was not valid UTF-8
 * ("text" then holds U+FFFD for each invalid sequence). Every string is valid UTF-8.
 * A new object (NULL on ENOMEM); the caller owns it. */
cJSON *gw_inmsg_json(const char *account, const struct wa_inmsg *m);
/* A received file's state on o: "file": {"state" (pending|done|failed|expired), "path"? (done:
 * the verified plaintext under the state dir), "error"? (failed), "url" (the API route that
 * serves it: /api/v1/media/CURSOR?account=ACCOUNT)}. f NULL = pending. */
struct st_mfile;
void gw_json_add_file(cJSON *o, const char *account, int64_t cursor, const struct st_mfile *f);
/* An outgoing message: {"account","id","to","state","error"? (why it failed),"attempts",
 * "created","updated"} (times in Unix seconds). A new object; the caller owns it. */
cJSON *gw_outmsg_json(const char *account, const struct st_outbox_msg *m);
/* Repair every string value of v and its siblings and children to valid UTF-8 (U+FFFD for
 * invalid sequences), in place: what goes out on the event stream and the API is valid. */
void gw_json_make_utf8(cJSON *v);
/* A channel's status entry: {"channel":"whatsapp","account","state","since","last_error",
 * "jid" (null until paired),"next_retry"?,"next_retry_ms"?,"reconnects" (connected again after
 * a loss),"attempts" (failed ones),"down_since" (null when up),"connected_since"?,"queued"?
 * (outgoing messages not yet acknowledged),"qr_available","pairing"?: {"method": "qr"|"code",
 * "phone"?: "+digits"} while a new device is being linked,"webhooks"? ({"endpoints","backlog",
 * "dead_letter","delivered","last_error"} when hooks.webhook has endpoints)}. */
cJSON *gw_channel_status_json(const struct gw_channel_status *st);
