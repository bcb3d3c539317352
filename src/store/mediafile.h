/* SPDX-License-Identifier: MIT */
/* mediafile.h -- the download state of received media (inbox_media, schema v10).
 *
 * Every media message's row (store/msgstore.h st_media_put, written with the inbox row) starts
 * `pending`; gw/chmedia fetches it and records `done` with the path of the verified plaintext,
 * `failed` with why (after `attempts` tries), or later `expired` when the size budget or the
 * age limit removed the file. Paths are the store's own (under the account's state dir); the
 * same file received twice (same plaintext SHA-256) shares one path. Errors: 0 or a negative
 * errno with the detail on the handle (st_db_last_error).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define ST_MFILE_PATH_MAX  4096
#define ST_MFILE_ERROR_MAX 512

enum st_mfile_state { ST_MF_PENDING, ST_MF_DONE, ST_MF_FAILED, ST_MF_EXPIRED };

struct st_mfile {
    enum st_mfile_state state;
    char path[ST_MFILE_PATH_MAX + 1];
    char error[ST_MFILE_ERROR_MAX + 1];
    int attempts;
    int64_t fetched; /* Unix seconds of the download that made it done; 0 before */
};

const char *st_mfile_state_name(enum st_mfile_state s);
/* The cursors of up to `cap` pending rows after `after`, oldest first: 0 (*n set) or errno. */
int st_mfile_pending(struct st_db *db, int64_t after, int64_t *cursors, size_t cap, size_t *n)
    __attribute__((warn_unused_result));
/* Record a row's state (path/error may be NULL = ""): 0, -ENOENT (no media row), errno. */
int st_mfile_set(struct st_db *db, int64_t cursor, const struct st_mfile *f)
    __attribute__((warn_unused_result));
/* 1 found (*out), 0 no media row, or a negative errno. */
int st_mfile_get(struct st_db *db, int64_t cursor, struct st_mfile *out)
    __attribute__((warn_unused_result));
/* Bytes of the distinct done files (each path counted once). */
int st_mfile_used(struct st_db *db, uint64_t *bytes) __attribute__((warn_unused_result));
/* The done file fetched longest ago: 1 (path copied, *fetched), 0 none, errno. */
int st_mfile_oldest(struct st_db *db, char *path, size_t cap, int64_t *fetched)
    __attribute__((warn_unused_result));
/* Every done row with this path becomes expired (its file is being removed). */
int st_mfile_expire_path(struct st_db *db, const char *path) __attribute__((warn_unused_result));
/* A done row whose plaintext has this SHA-256: 1 (path copied), 0 none, errno. */
int st_mfile_by_sha(struct st_db *db, const uint8_t sha256[32], char *path, size_t cap)
    __attribute__((warn_unused_result));
/* The media retry gave a new direct path for row `cursor`: 0, -ENOENT (no media row), -EINVAL
 * (empty or over ST_MEDIA_URL_MAX), errno. */
int st_mfile_set_direct_path(struct st_db *db, int64_t cursor, const char *direct_path)
    __attribute__((warn_unused_result));
