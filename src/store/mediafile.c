/* SPDX-License-Identifier: MIT */
/* mediafile.c -- the download state of received media (see mediafile.h). */
#include "store/mediafile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/db_int.h"
#include "store/msgstore.h"

static const char *const names[] = {"pending", "done", "failed", "expired"};

const char *st_mfile_state_name(enum st_mfile_state s)
{
    return (unsigned)s < 4 ? names[s] : "pending";
}

static enum st_mfile_state state_of(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, names[i])) return (enum st_mfile_state)i;
    return ST_MF_PENDING;
}

static void copy_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    snprintf(out, cap, "%s", t ? t : "");
}

int st_mfile_pending(struct st_db *db, int64_t after, int64_t *cursors, size_t cap, size_t *n)
{
    *n = 0;
    if (!cap) return 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_PENDING);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (int64_t)cap);
    int rc;
    while ((rc = st_db__row(db, s, "media pending")) == 1)
        if (*n < cap) cursors[(*n)++] = sqlite3_column_int64(s, 0);
    return rc;
}

int st_mfile_set(struct st_db *db, int64_t cursor, const struct st_mfile *f)
{
    if (!f || strlen(f->path) > ST_MFILE_PATH_MAX || strlen(f->error) > ST_MFILE_ERROR_MAX)
        return st_db__failf(db, -EINVAL, "media state: bad argument");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_SET);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    sqlite3_bind_text(s, 2, st_mfile_state_name(f->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, f->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, f->error, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, f->attempts);
    sqlite3_bind_int64(s, 6, f->fetched);
    int rc = st_db__exec(db, s, "media state");
    sqlite3_clear_bindings(s);
    if (rc == 0 && st_db__changes(db) == 0) return -ENOENT;
    return rc;
}

int st_mfile_get(struct st_db *db, int64_t cursor, struct st_mfile *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_GET);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    int rc = st_db__row(db, s, "media state get");
    if (rc != 1) return rc;
    out->state = state_of((const char *)sqlite3_column_text(s, 0));
    copy_text(s, 1, out->path, sizeof out->path);
    copy_text(s, 2, out->error, sizeof out->error);
    out->attempts = sqlite3_column_int(s, 3);
    out->fetched = sqlite3_column_int64(s, 4);
    sqlite3_reset(s);
    return 1;
}

int st_mfile_used(struct st_db *db, uint64_t *bytes)
{
    *bytes = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_USED);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "media used");
    if (rc != 1) return rc;
    int64_t v = sqlite3_column_int64(s, 0);
    *bytes = v > 0 ? (uint64_t)v : 0;
    sqlite3_reset(s);
    return 0;
}

int st_mfile_oldest(struct st_db *db, char *path, size_t cap, int64_t *fetched)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_OLDEST);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "media oldest");
    if (rc != 1) return rc;
    copy_text(s, 0, path, cap);
    if (fetched) *fetched = sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    return 1;
}

int st_mfile_expire_path(struct st_db *db, const char *path)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_EXPIRE_PATH);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    int rc = st_db__exec(db, s, "media expire");
    sqlite3_clear_bindings(s);
    return rc;
}

int st_mfile_by_sha(struct st_db *db, const uint8_t sha256[32], char *path, size_t cap)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_BY_SHA);
    if (!s) return -ENOTSUP;
    sqlite3_bind_blob(s, 1, sha256, 32, SQLITE_STATIC);
    int rc = st_db__row(db, s, "media by sha");
    if (rc == 1) {
        copy_text(s, 0, path, cap);
        sqlite3_reset(s);
    }
    sqlite3_clear_bindings(s);
    return rc;
}

int st_mfile_set_direct_path(struct st_db *db, int64_t cursor, const char *direct_path)
{
    if (!direct_path || !direct_path[0] || strlen(direct_path) > ST_MEDIA_URL_MAX)
        return st_db__failf(db, -EINVAL, "media direct path: bad argument");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MFILE_SET_DP);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    sqlite3_bind_text(s, 2, direct_path, -1, SQLITE_STATIC);
    int rc = st_db__exec(db, s, "media direct path");
    sqlite3_clear_bindings(s);
    if (rc == 0 && st_db__changes(db) == 0) rc = -ENOENT;
    return rc;
}
