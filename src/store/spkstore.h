/* SPDX-License-Identifier: MIT */
/* spkstore.h -- the lifecycle of our signed pre-keys in the account database (schema v9).
 *
 * Rows of `signed_prekeys` (id, libsignal record) carry: created (Unix s), uploaded (0 while
 * the server has not acknowledged the rotate iq that announced it) and retired (Unix s at
 * which a newer key was acknowledged; 0 = not retired). The credentials row names the
 * current key (creds.spk_id); wa/spkrot.c drives the rotation:
 *   1. st_spk_put_new() for the new key and the credentials with it, in ONE transaction
 *      (the caller's st_db_begin/commit), before the upload;
 *   2. the server's result: st_spk_mark_uploaded() (uploaded = 1, the others retired now);
 *   3. st_spk_prune(): retired keys past the grace period, and beyond the newest keep_max
 *      retired ones, are deleted; the current key and keys not yet retired never are.
 * All functions join the caller's transaction when one is open (else autocommit per
 * statement). Errors: 0 / counts, or a negative errno as store/db.h.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

struct st_spk_info {
    int64_t created; /* Unix s; 0 = unknown */
    bool uploaded;
    int64_t retired;        /* Unix s; 0 = not retired */
    int64_t oldest_retired; /* of all OTHER keys: the earliest retired time; 0 = none kept */
};

/* The row of key `id` (and oldest_retired over the others): 0, -ENOENT when it has none. */
int st_spk_info(struct st_db *db, uint32_t id, struct st_spk_info *out)
    __attribute__((warn_unused_result));
/* Insert (or replace: a 24-bit id that wrapped onto a long-deleted key's) the new key's
 * record with created = now, uploaded = 0, retired = 0. -EINVAL: id 0 or > 0xFFFFFF;
 * -ENOBUFS: record over ST_SG_RECORD_MAX. */
int st_spk_put_new(struct st_db *db, uint32_t id, const uint8_t *rec, size_t len, int64_t now)
    __attribute__((warn_unused_result));
/* The server acknowledged key `id`: uploaded = 1, and every other key not yet retired is
 * retired at `now`. 0, -ENOENT when `id` has no row. */
int st_spk_mark_uploaded(struct st_db *db, uint32_t id, int64_t now)
    __attribute__((warn_unused_result));
/* Delete retired keys (never `current`) retired before `before`, then all but the newest
 * keep_max retired ones. Returns the number deleted (>= 0) or a negative errno. */
int st_spk_prune(struct st_db *db, uint32_t current, int64_t before, unsigned keep_max)
    __attribute__((warn_unused_result));
