/* SPDX-License-Identifier: MIT */
/* routes.h -- the control API's channel and message routes (api/server.h handlers).
 *
 *   POST /api/v1/channels/whatsapp/{account}/login    gw_channel_login: 200/202
 *        {"account","state","action","qr"?,"jid"?}
 *   POST /api/v1/channels/whatsapp/{account}/logout   gw_channel_logout: 200
 *        {"account","state":"logged_out","warning"?}; 409 when already logged out
 *   GET  /   and /<asset>   the dashboard (gw/dashboard.h), without the token
 *   POST /api/v1/channels/whatsapp/{account}/restart  202 {"account","state"}; 409 when the
 *        account is logged out (login pairs it)
 *   POST /api/v1/channels/whatsapp/{account}/webhooks/retry  the webhook dead letters queued
 *        again (gw/webhook.h): 200 {"account","requeued"}; 409 while the store is not open
 *   GET  /api/v1/channels/whatsapp/{account}          the status entry of that channel
 *   GET  /api/v1/channels/whatsapp/{account}/qr?format=json|text|svg|png
 *        the current pairing QR (json: {"account","qr","valid_ms"}; text: UTF-8 half
 *        blocks; svg; png), 404 when none is current
 *   POST /api/v1/messages {"account"?:"default","to","text","idempotency_key"?}
 *        202 {"id","state"} queued (200 with "duplicate":true for a known key), 400, 503
 *   GET  /api/v1/messages?account=ID&after=CURSOR&limit=N   the inbox rows after CURSOR
 *        (limit 1..1000, default 100): {"messages":[...],"next_cursor"}
 *   GET  /api/v1/notifications?limit=N   the recent notifications, newest first
 *        (gw/notify.h: {"notifications":[...],"open":N}; limit 1..128, default all kept)
 * Unknown accounts are 404. All but the dashboard's files need the bearer token. Handlers run on
 * the loop thread.
 */
#pragma once
#include <stddef.h>

#include "gw/chlist.h"

struct api_server;
struct gw_channel;

/* The daemon's channels (borrowed by the routes; must outlive the server). */

/* Register the routes. 0 or the first api_server_add_route error. */
int gw_routes_add(struct api_server *s, struct gw_channel_list *list);
/* GET /api/v1/notifications over n (borrowed; must outlive the server). */
struct gw_notify;
int gw_routes_add_notify(struct api_server *s, struct gw_notify *n);
/* The channel of `account`, or NULL. */
