/* SPDX-License-Identifier: MIT */
/* chmedia.h -- one channel's received files: fetched after the message is stored, kept under
 * the account's state dir, within a size budget and an age limit.
 *
 * The media message itself (its keys, hashes, direct path) is committed with the inbox row and
 * acked (store/msgstore.h st_media_put); its file is fetched afterwards, so nothing is ever
 * held back from the server for a download, and the download's state is durable
 * (store/mediafile.h): every `pending` row is fetched after any crash or restart. Fetching:
 * the `media_conn` iq (wa/mediaconn.h, cached for its ttl) gives the hosts; wa/mediaxfer
 * downloads directPath into <dir>/<file sha256 hex>.part, verifies the MAC and both hashes,
 * fsyncs and renames it to <dir>/<sha256 hex> (mode 0600) -- a file received twice is stored
 * once. At most CHMEDIA_PARALLEL downloads at once; a failure is retried (1 s doubling to
 * 5 min, CHMEDIA_ATTEMPTS tries: then `failed` with why). An expired URL (404/410) asks the
 * sender's phone to upload the file again, once per row and process (the media retry request,
 * wa/mediaretry.h, a `server-error` receipt); its answer (chmedia_on_retry) gives a new direct
 * path that is downloaded at once; no answer within CHMEDIA_RETRY_WAIT_MS, an error answer,
 * or the new path expired too: `failed` ("expired on the server"). After each download the oldest
 * files beyond media.max_mb, and files older than media.keep_days, are removed and their rows
 * marked `expired`. on_file(ud, cursor, f) reports each row's final state (an event, the hook).
 * Downloads never block the loop (wa/mediaxfer.h) and other accounts do not wait for them.
 * Loop thread only.
 */
#pragma once
#include <stdint.h>

#include <uv.h>

#include "store/db.h"
#include "gw/chmconn.h"
#include "store/mediafile.h"
#include "wa/client.h"

#define CHMEDIA_PARALLEL      2
#define CHMEDIA_ATTEMPTS      5
#define CHMEDIA_RETRY_WAIT_MS 30000

struct chmedia;

struct chmedia_opts {
    uv_loop_t *loop;
    const char *account;
    const char *dir;              /* where the files go (created 0700 at the first download) */
    const char *ca_file;          /* the media hosts' CA bundle, NULL or "" = the system store */
    uint64_t budget;              /* bytes; 0 = 1 GiB */
    unsigned keep_days;           /* 0 = 30 */
    const struct wa_creds *creds; /* borrowed, kept current: our JID for media retries */
    struct chmconn *mconn;        /* borrowed (required): the channel's media_conn */
    void (*on_file)(void *ud, int64_t cursor, const struct st_mfile *f);
    void *ud;
};

/* 0, -EINVAL, -ENOMEM. */
int chmedia_new(const struct chmedia_opts *o, struct chmedia **out)
    __attribute__((warn_unused_result));
/* The account's store (NULL: closed -- every download is cancelled, rows stay pending). */
void chmedia_set_db(struct chmedia *m, struct st_db *db);
/* The connected client for media_conn (NULL: none; downloads under way go on). */
void chmedia_set_client(struct chmedia *m, struct wa_client *c);
/* Look for pending rows (a media message was stored, the link came up). */
void chmedia_kick(struct chmedia *m);
/* A <notification type='mediaretry'> (valid during the call only): a new direct path for a
 * row whose URL had expired, or the phone's refusal. Unknown ones are ignored. */
void chmedia_on_retry(struct chmedia *m, const struct wa_node *n);
/* Downloads running now. */
unsigned chmedia_active(const struct chmedia *m);
/* Cancel everything and free (the memory of an iq in flight goes with its callback). */
void chmedia_free(struct chmedia *m);
