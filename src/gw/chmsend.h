/* SPDX-License-Identifier: MIT */
/* chmsend.h -- one channel's files to send (issue 14, media send): accepted into a durable
 * copy, uploaded, then sent through the outbox once.
 *
 * Accept (chmsend_accept, from the API): the file (a local path the daemon can read, or a
 * request body) is checked (absolute path, a regular file, 1 byte..wa_media_cap(type)), the
 * outbox row is made (wa/outmsg.h: its id and the held Message, wa/outmedia.h), and a
 * threadpool job copies the file to <dir>/<id> (mode 0600: <id>.part, fsync, rename, fsync of
 * the directory) and probes the copy (wa/mediaprobe.h: sizes, thumbnail, seconds, waveform;
 * the held Message is amended with what it learnt, wa_outmedia_amend; a failed probe only
 * leaves those fields out). Only then, on the loop, the row is committed as a HELD queued row
 * (store/msgstore.h st_outbox_hold: the sender does not take it) and done(ud, 0, NULL) runs:
 * the API answers its 202 after that, so an accepted message is durable with its file.
 *
 * Upload (on the loop, one file at a time): for each held row, the `media_conn` iq (cached for
 * its ttl) gives hosts and auth; wa/mediaxfer encrypts and uploads <dir>/<id> with a fresh
 * media key; the row's Message gets url, directPath, mediaKey, hashes, fileLength and
 * mediaKeyTimestamp (wa_outmedia_complete) and is released (st_outbox_unhold) in one
 * statement, and the sender is kicked: from there it is an ordinary outbox row, sent once.
 * A failure is retried (1 s doubling to 60 s, CHMSEND_ATTEMPTS per process; a 401/403 asks a
 * new media_conn first) with the reason in the row's error; the last one, an over-size or
 * refused upload, or a copy that is gone makes the row `failed` (on_failed). A crash or a
 * restart during an upload leaves the row held and the copy in place: the upload starts over
 * from the copy after the restart, and the message still goes out once.
 *
 * Cleanup: the copy is removed when the server acked the message (chmsend_state: sent or
 * later) or it failed; when the store opens, copies without a queued row and *.part files
 * are removed. Loop thread only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "gw/chmconn.h"
#include "gw/config.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "wa/client.h"
#include "wa/outmsg.h"

#define CHMSEND_ATTEMPTS 5

struct chmsend;

struct chmsend_opts {
    uv_loop_t *loop;
    const char *account;
    const char *dir;               /* the copies (created 0700 at the first accept) */
    const char *ca_file;           /* the media hosts' CA bundle, NULL or "" = the system store */
    const struct wa_creds *creds;  /* borrowed, kept current */
    struct chmconn *mconn;         /* borrowed (required): the channel's media_conn */
    const struct wg_config *cfg;   /* borrowed, read live: media.url_allow (NULL: none) */
    void (*kick_sender)(void *ud); /* a held row was released */
    void (*on_failed)(void *ud, const char *id, const char *err); /* a held row failed */
    void *ud;
};

/* What to send: a file by path, or bytes (copied by the call). */
struct chmsend_src {
    const char *path;
    const uint8_t *data;
    size_t len;
    /* path is the caller's scratch file (a fetched URL, a spooled body): moved into place by
     * rename instead of copied when it is on the same filesystem (else copied); the caller
     * still removes its path afterwards (gone once moved) */
    bool take;
};

/* The copy is durable and the row committed (rc 0), or not (rc < 0, err says why; nothing is
 * queued). Runs once, from a loop callback, never inside chmsend_accept. */
typedef void (*chmsend_done_fn)(void *ud, int rc, const char *err);

struct chmsend_accepted {
    char id[32];
    bool duplicate;          /* the idempotency key's row already exists: nothing started */
    enum st_out_state state; /* duplicate: its state */
};

/* 0, -EINVAL (bad file or message: err), -EAGAIN (no store), -EEXIST (the idempotency key is
 * another message's), -ENOMEM; ST_DUPLICATE: *acc describes the existing row, done never
 * runs. */
int chmsend_accept(struct chmsend *m, const struct wa_outmsg *msg, const struct chmsend_src *src,
                   chmsend_done_fn done, void *ud, struct chmsend_accepted *acc, char *err,
                   size_t errlen) __attribute__((warn_unused_result));
/* Forget done/ud of the accepts under way for this ud (its owner is going). */
void chmsend_forget(struct chmsend *m, void *ud);

/* 0, -EINVAL, -ENOMEM. */
int chmsend_new(const struct chmsend_opts *o, struct chmsend **out)
    __attribute__((warn_unused_result));
/* The account's store (NULL: closed -- the upload under way is cancelled, rows stay held). */
void chmsend_set_db(struct chmsend *m, struct st_db *db);
/* The connected client for media_conn (NULL: none). */
void chmsend_set_client(struct chmsend *m, struct wa_client *c);
/* A row moved to st (the sender's on_state): sent or later, or failed, removes its copy. */
void chmsend_state(struct chmsend *m, const char *id, enum st_out_state st);
/* Look for held rows. */
void chmsend_kick(struct chmsend *m);
/* Uploads running now (0 or 1). */
unsigned chmsend_active(const struct chmsend *m);
/* Cancel everything and free (accepts whose copy is under way end with done(-ECANCELED)). */
void chmsend_free(struct chmsend *m);

/* A file from a URL (gw/mediaurl.h): checked against media.url_allow, then fetched (at most
 * the type's cap) into a scratch file in this channel's dir ("url-<random>.part", so the
 * sweep at the next store open removes one a crash left). done(ud, 0, path, NULL) with the
 * fetched file -- the caller hands it to chmsend_accept as a path and removes it afterwards
 * -- or done(ud, rc, NULL, why): -ENOENT (404/410), -EMSGSIZE, -EPROTO, a network error,
 * -ECANCELED (the channel stopped). It runs once, from a loop callback. Returns 0, or
 * -EACCES / -EINVAL (the URL is not allowed: err says why), -ENOMEM, -errno (the dir):
 * then done never runs. At most CHMSEND_FETCHES at a time (-EBUSY beyond). */
#define CHMSEND_FETCHES 8
typedef void (*chmsend_fetched_fn)(void *ud, int rc, const char *path, const char *why);
int chmsend_fetch_url(struct chmsend *m, const char *url, enum wa_media_type type,
                      chmsend_fetched_fn done, void *ud, char *err, size_t errlen)
    __attribute__((warn_unused_result));
