/* SPDX-License-Identifier: MIT */
/* chmconn.h -- one channel's media_conn (issue 14): the hosts and upload auth that its
 * downloads (gw/chmedia) and uploads (gw/chmsend) share.
 *
 * chmconn_get() answers the cached wa_media_conn while it is fresh (its ttl, default 300 s,
 * capped at a day); otherwise it returns NULL and sends the `media_conn` iq (one at a time,
 * 20 s deadline). When the answer arrives -- or 5 s after a failed or refused one -- every
 * watcher's ready(ud) runs from a loop callback, so each user asks again. A new connection
 * (chmconn_set_client) forgets the cached answer and any iq under way (its callback still
 * comes, to nobody); chmconn_invalidate() (a 401/403 from a media host) makes the next get
 * fetch again. Loop thread only.
 */
#pragma once
#include <uv.h>

#include "wa/client.h"
#include "wa/mediaconn.h"

#define CHMCONN_WATCHERS 4

struct chmconn;
typedef void (*chmconn_ready_fn)(void *ud);

/* 0, -EINVAL, -ENOMEM. account is copied (for logs). */
int chmconn_new(uv_loop_t *loop, const char *account, struct chmconn **out)
    __attribute__((warn_unused_result));
/* ready(ud) after each answer or failure. 0 or -ENOSPC (CHMCONN_WATCHERS already). */
int chmconn_watch(struct chmconn *c, chmconn_ready_fn ready, void *ud)
    __attribute__((warn_unused_result));
/* Remove ud's watcher (NULL c ok). */
void chmconn_unwatch(struct chmconn *c, void *ud);
/* The connected client (NULL: none): the cached answer is forgotten either way. */
void chmconn_set_client(struct chmconn *c, struct wa_client *cl);
/* The fresh media_conn (valid until the next loop iteration), or NULL with a fetch started. */
const struct wa_media_conn *chmconn_get(struct chmconn *c);
/* The hosts refused the auth: the next get fetches a new media_conn. */
void chmconn_invalidate(struct chmconn *c);
/* NULL ok. The iq in flight (if any) answers to nobody. */
void chmconn_free(struct chmconn *c);
