/* SPDX-License-Identifier: MIT */
/* spkstore.c -- signed pre-key rows: rotation state and grace deletion (store/spkstore.h). */
#include "store/spkstore.h"

#include <errno.h>

#include "store/db_int.h"
#include "store/sgstore.h"

#define SPK_ID_MAX 0xFFFFFFu

int st_spk_info(struct st_db *db, uint32_t id, struct st_spk_info *out)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_SPK_INFO);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, id);
    int rc = st_db__row(db, s, "signed pre-key info");
    if (rc <= 0) return rc == 0 ? -ENOENT : rc;
    out->created = sqlite3_column_int64(s, 0);
    out->uploaded = sqlite3_column_int(s, 1) != 0;
    out->retired = sqlite3_column_int64(s, 2);
    out->oldest_retired = sqlite3_column_int64(s, 3);
    sqlite3_reset(s);
    return 0;
}

int st_spk_put_new(struct st_db *db, uint32_t id, const uint8_t *rec, size_t len, int64_t now)
{
    if (id == 0 || id > SPK_ID_MAX) return st_db__failf(db, -EINVAL, "signed pre-key id %u", id);
    if (!rec || len == 0 || len > ST_SG_RECORD_MAX)
        return st_db__failf(db, -ENOBUFS, "signed pre-key record of %zu bytes", len);
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_SPK_NEW);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_blob(s, 2, rec, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    int rc = st_db__exec(db, s, "store new signed pre-key");
    sqlite3_clear_bindings(s); /* the record holds the private key: drop the borrowed pointer */
    return rc;
}

int st_spk_mark_uploaded(struct st_db *db, uint32_t id, int64_t now)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_SPK_UPLOADED);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, id);
    int rc = st_db__exec(db, s, "mark signed pre-key uploaded");
    if (rc == 0 && st_db__changes(db) == 0)
        return st_db__failf(db, -ENOENT, "no signed pre-key %u", id);
    s = rc == 0 ? st_db__stmt(db, ST_Q_SPK_RETIRE) : NULL;
    if (rc == 0 && !s) return -ENOTSUP;
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, now > 0 ? now : 1);
        rc = st_db__exec(db, s, "retire older signed pre-keys");
    }
    return rc;
}

static int prune_one(struct st_db *db, enum st_q q, uint32_t current, int64_t arg, int *n)
{
    sqlite3_stmt *s = st_db__stmt(db, q);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, current);
    sqlite3_bind_int64(s, 2, arg);
    int rc = st_db__exec(db, s, "prune signed pre-keys");
    if (rc == 0) *n += st_db__changes(db);
    return rc;
}

int st_spk_prune(struct st_db *db, uint32_t current, int64_t before, unsigned keep_max)
{
    int n = 0;
    int rc = prune_one(db, ST_Q_SPK_PRUNE_OLD, current, before, &n);
    if (rc == 0) rc = prune_one(db, ST_Q_SPK_PRUNE_MAX, current, keep_max, &n);
    return rc < 0 ? rc : n;
}
