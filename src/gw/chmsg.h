/* SPDX-License-Identifier: MIT */
/* chmsg.h -- a channel's messaging: the receive path (wa/recv.h) and the send path
 * (wa/send.h) wired to one session, plus the JSON the API and the events show.
 *
 * One `struct chmsg` per (client, store) pair of a channel (gw/channel.h creates it before a
 * session starts and frees it when the client or the store goes away). It routes the
 * client's stanzas: `<ack class='message'>` to the sender, everything else to
 * wa_recv_handle(); peers' retry receipts from the receive path go to the sender. It kicks
 * the sender when the session connects and after each enqueue, and tells it when the
 * session ends. Events: `message.received` (the inbox row, see chmsg_inbox_json) and
 * `message.state` {"account","id","state","error"?}; counters
 * wagate_channel_messages_{in,out}_total.
 *
 * Loop thread only. Borrowed pointers (client, db, sg, creds, events, metrics) must outlive
 * the chmsg (chmsg_detach_api() forgets events and metrics).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "signal/sg_cipher.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/node.h"

struct chmsg;
struct api_events;
struct api_metrics;

/* NULL on -ENOMEM or missing arguments. account is copied. */
struct chmsg *chmsg_new(struct wa_client *client, struct st_db *db, struct sg_ctx *sg,
                        const struct wa_creds *creds, const char *account,
                        struct api_events *events, struct api_metrics *metrics);
void chmsg_free(struct chmsg *m);       /* NULL ok */
void chmsg_detach_api(struct chmsg *m); /* NULL ok */
struct chhook;
/* Hand each received message to this exec hook after message.received (gw/chhook.h; the
 * hook must outlive the chmsg or be unset with NULL). NULL m is a no-op. */
void chmsg_set_hook(struct chmsg *m, struct chhook *hook);
void chmsg_connected(struct chmsg *m);
void chmsg_disconnected(struct chmsg *m);
/* Group commit (gw/chbatch.h): from now on the <message> and <receipt> stanzas of one loop
 * iteration are stored in one transaction, then acked, then delivered, and the acks of our
 * messages are committed together (with the rows they let through); acks and receipts alone
 * wait up to CHMSG_COMMIT_WINDOW_MS for company (chbatch_set_delay). Idempotent; without it (or if
 * it fails: -ENOMEM) each message is its own transaction. NULL m is a no-op. */
#define CHMSG_COMMIT_WINDOW_MS 5
void chmsg_enable_batch(struct chmsg *m, uv_loop_t *loop);
/* A stanza from the client's on_node. */
void chmsg_node(struct chmsg *m, const struct wa_node *n);

/* Enqueue durably and kick: fills *out {"id","state","duplicate"?} or {"error"} and returns
 * an HTTP status (202 queued, 200 an existing row of the same idempotency key, 400 bad
 * input, 500 store error). */
int chmsg_send(struct chmsg *m, const char *to, const char *text, const char *idem_key,
               cJSON **out);
/* Enqueue durably with no session object (between sessions): the row waits in the outbox
 * and the next session's sender sends it. Same answers as chmsg_send. */
int chmsg_send_queued(struct st_db *db, const struct wa_creds *creds, const char *account,
                      const char *to, const char *text, const char *idem_key, cJSON **out);
/* Inbox rows after `after` (limit 1..ST_LIST_MAX): {"messages":[...],"next_cursor":N};
 * returns an HTTP status (200 or 500). */
int chmsg_inbox(struct st_db *db, const char *account, int64_t after, size_t limit, cJSON **out);
/* {"account","cursor","chat","sender","id","type","ts","received","text"|"payload_hex"}. */
cJSON *chmsg_inbox_json(const char *account, const struct st_inbox_msg *m);
