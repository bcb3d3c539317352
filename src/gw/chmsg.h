/* SPDX-License-Identifier: MIT */
/* chmsg.h -- a channel's messaging events turned into what people and agents see.
 *
 * One `struct chmsg` per channel. Its event table (chmsg_events) is what the channel hands to
 * each wa_session (wa/session.h): the session decides, stores and acknowledges; chmsg only
 * reports, after the fact:
 *   message_received -> log line, `message.received` event (gw/json.h), counter
 *                       wagate_channel_messages_in_total, the exec hook (gw/chhook.h)
 *   message_state / receipt -> `message.state` {"account","id","state","error"?}; a failed
 *                       message is also a warn log line
 *   undecryptable    -> info log line (warn when the session was given up), counter
 *                       wagate_channel_undecryptable_total
 *   not_stored       -> warn log line ("the server will redeliver it")
 *   store_failing    -> warn log line, then the channel's repair function (chmsg_set_repair)
 * chmsg_sent() counts wagate_channel_messages_out_total for every newly queued message.
 *
 * Loop thread only. Borrowed pointers (creds, events, metrics, hook) must outlive the chmsg
 * (chmsg_detach_api() forgets events and metrics; chmsg_set_hook(m, NULL) the hook).
 */
#pragma once
#include <stdint.h>
#include <stdbool.h>

#include "gw/sendres.h"
#include "wa/creds.h"
#include "wa/session.h"

struct chmsg;
struct chhook;
struct api_events;
struct api_metrics;

/* NULL on -ENOMEM or missing arguments. account is copied. */
struct chmsg *chmsg_new(const char *account, const struct wa_creds *creds,
                        struct api_events *events, struct api_metrics *metrics);
void chmsg_free(struct chmsg *m);       /* NULL ok */
void chmsg_detach_api(struct chmsg *m); /* NULL ok */
/* Hand each received message to this exec hook after message.received. NULL ok. */
void chmsg_set_hook(struct chmsg *m, struct chhook *hook);
/* The access policy (gw/access.h) every received message passes before the hook (the one
 * check before the sinks); NULL: everything passes. */
struct gw_access;
void chmsg_set_access(struct chmsg *m, struct gw_access *a);

/* Called after the warn line of every message the session could not store (not_stored: a
 * store error, e.g. disk full or EIO on fsync); err is the negative errno. NULL fn ok. */
void chmsg_on_store_error(struct chmsg *m, void (*fn)(void *ud, int err), void *ud);
/* The largest inbox cursor of a message stored through this sink (0 before the first). */
int64_t chmsg_last_cursor(const struct chmsg *m);
/* The event table for a wa_session (ud = m; valid while m lives). */
const struct wa_session_events *chmsg_events(struct chmsg *m);
/* The store-wide repair trigger (session event store_failing) goes to fn. NULL ok. */
void chmsg_set_repair(struct chmsg *m, void (*fn)(void *ud, unsigned peers), void *ud);
/* Received media messages kick the channel's file fetcher (NULL: none). */
struct chmedia;
void chmsg_set_media(struct chmsg *m, struct chmedia *media);
/* The channel's media sends: told of every row's state (their copies go when acked). */
struct chmsend;
void chmsg_set_msend(struct chmsg *m, struct chmsend *ms);
/* A message's state as the sender reports it (log, event, chmsend): for rows failed outside
 * the sender (a file that could not be uploaded). */
void chmsg_state(struct chmsg *m, const char *id, enum st_out_state st, const char *err);
/* A send was answered (queued or a duplicate). */
void chmsg_sent(struct chmsg *m, const struct gw_send_result *r);
