/* SPDX-License-Identifier: MIT */
/* db.c -- per-account SQLite database: open checks, pragmas, migrations, statements, txns.
 *
 * Open order matters: quick_check runs before anything writes (switching to WAL writes the
 * header), so a damaged file is reported untouched. The file is created by us with 0600
 * before SQLite opens it, because SQLite creates files 0644 (& ~umask) and gives the -wal
 * and -shm files the mode of the main file.
 */
#include "store/db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "store/db_int.h"
#include "store/migrations.h"

struct st_db {
    sqlite3 *h;
    sqlite3_stmt *q[ST_Q_COUNT];
    bool in_txn;
    int (*settle)(void *ud); /* a transaction left open on purpose (st_db_set_pending) */
    void *settle_ud;
    bool in_sp; /* a savepoint is open inside the transaction */
    uint64_t commits;
    struct st_db_commit_stats *cstats; /* borrowed, may be NULL (st_db_set_commit_stats) */
    bool prepared;
    int version;
    char last_error[256];
};

/* Every statement of the store, prepared at open (index = enum st_q). */
static const char *const sql[ST_Q_COUNT] = {
    [ST_Q_BEGIN] = "BEGIN IMMEDIATE",
    [ST_Q_COMMIT] = "COMMIT",
    [ST_Q_ROLLBACK] = "ROLLBACK",
    [ST_Q_SAVEPOINT] = "SAVEPOINT unit",
    [ST_Q_RELEASE] = "RELEASE unit",
    [ST_Q_ROLLBACK_TO] = "ROLLBACK TO unit",
    [ST_Q_CREDS_GET] =
        "SELECT noise_priv, noise_pub, identity_priv, identity_pub, registration_id, spk_id,"
        " spk_priv, spk_pub, spk_sig, adv_secret, me_pn, me_lid, push_name, account, platform,"
        " next_prekey_id, first_unuploaded_prekey_id, created, updated FROM creds WHERE id = 1",
    [ST_Q_CREDS_PUT] =
        "INSERT INTO creds (id, noise_priv, noise_pub, identity_priv, identity_pub,"
        " registration_id, spk_id, spk_priv, spk_pub, spk_sig, adv_secret, me_pn, me_lid,"
        " push_name, account, platform, next_prekey_id, first_unuploaded_prekey_id, created,"
        " updated) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
        " ?16, ?17, ?18, ?18) ON CONFLICT (id) DO UPDATE SET noise_priv = ?1, noise_pub = ?2,"
        " identity_priv = ?3, identity_pub = ?4, registration_id = ?5, spk_id = ?6,"
        " spk_priv = ?7, spk_pub = ?8, spk_sig = ?9, adv_secret = ?10, me_pn = ?11,"
        " me_lid = ?12, push_name = ?13, account = ?14, platform = ?15, next_prekey_id = ?16,"
        " first_unuploaded_prekey_id = ?17, updated = ?18",
    [ST_Q_CREDS_EXISTS] = "SELECT 1 FROM creds WHERE id = 1",
    [ST_Q_LOCAL_IDENTITY] =
        "SELECT identity_priv, identity_pub, registration_id FROM creds WHERE id = 1",
    [ST_Q_SESSION_GET] = "SELECT record FROM sessions WHERE name = ?1 AND device = ?2",
    [ST_Q_SESSION_PUT] = "INSERT INTO sessions (name, device, record) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (name, device) DO UPDATE SET record = ?3",
    [ST_Q_SESSION_DEL] = "DELETE FROM sessions WHERE name = ?1 AND device = ?2",
    [ST_Q_SESSION_DEL_ALL] = "DELETE FROM sessions WHERE name = ?1",
    [ST_Q_SESSION_DEVICES] = "SELECT device FROM sessions WHERE name = ?1 ORDER BY device",
    [ST_Q_SESSION_WIPE] = "DELETE FROM sessions",
    [ST_Q_PREKEY_GET] = "SELECT record FROM prekeys WHERE id = ?1",
    [ST_Q_PREKEY_PUT] = "INSERT INTO prekeys (id, record) VALUES (?1, ?2)"
                        " ON CONFLICT (id) DO UPDATE SET record = ?2",
    [ST_Q_PREKEY_DEL] = "DELETE FROM prekeys WHERE id = ?1",
    [ST_Q_PREKEY_COUNT] = "SELECT count(*), coalesce(sum(uploaded), 0) FROM prekeys",
    [ST_Q_PREKEY_MARK_UPLOADED] = "UPDATE prekeys SET uploaded = 1 WHERE id BETWEEN ?1 AND ?2",
    [ST_Q_SPK_GET] = "SELECT record FROM signed_prekeys WHERE id = ?1",
    [ST_Q_SPK_PUT] = "INSERT INTO signed_prekeys (id, record, created)"
                     " VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))"
                     " ON CONFLICT (id) DO UPDATE SET record = ?2",
    [ST_Q_SPK_DEL] = "DELETE FROM signed_prekeys WHERE id = ?1",
    [ST_Q_SPK_INFO] = "SELECT created, uploaded, retired, (SELECT coalesce(min(retired), 0) FROM"
                      " signed_prekeys WHERE id != ?1 AND retired > 0) FROM signed_prekeys"
                      " WHERE id = ?1",
    [ST_Q_SPK_NEW] = "INSERT OR REPLACE INTO signed_prekeys (id, record, created, uploaded,"
                     " retired) VALUES (?1, ?2, ?3, 0, 0)",
    [ST_Q_SPK_UPLOADED] = "UPDATE signed_prekeys SET uploaded = 1 WHERE id = ?1",
    [ST_Q_SPK_RETIRE] = "UPDATE signed_prekeys SET retired = ?2 WHERE id != ?1 AND retired = 0",
    [ST_Q_SPK_PRUNE_OLD] = "DELETE FROM signed_prekeys WHERE id != ?1 AND retired > 0"
                           " AND retired < ?2",
    [ST_Q_SPK_PRUNE_MAX] = "DELETE FROM signed_prekeys WHERE id IN (SELECT id FROM"
                           " signed_prekeys WHERE id != ?1 AND retired > 0"
                           " ORDER BY retired DESC, created DESC, id DESC LIMIT -1 OFFSET ?2)",
    [ST_Q_SENDERKEY_GET] = "SELECT record FROM sender_keys WHERE group_id = ?1"
                           " AND sender_name = ?2 AND sender_device = ?3",
    [ST_Q_SENDERKEY_PUT] =
        "INSERT INTO sender_keys (group_id, sender_name, sender_device, record)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (group_id, sender_name, sender_device)"
        " DO UPDATE SET record = ?4",
    [ST_Q_SENDERKEY_WIPE] = "DELETE FROM sender_keys",
    [ST_Q_IDENT_GET] = "SELECT key FROM identities WHERE name = ?1 AND device = ?2",
    [ST_Q_IDENT_PUT] = "INSERT INTO identities (name, device, key) VALUES (?1, ?2, ?3)"
                       " ON CONFLICT (name, device) DO UPDATE SET key = ?3",
    [ST_Q_IDENT_DEL] = "DELETE FROM identities WHERE name = ?1 AND device = ?2",
    [ST_Q_SKMEM_PUT] =
        "INSERT OR IGNORE INTO sender_key_memory (group_id, device_jid) VALUES (?1, ?2)",
    [ST_Q_SKMEM_HAS] = "SELECT 1 FROM sender_key_memory WHERE group_id = ?1 AND device_jid = ?2",
    [ST_Q_SKMEM_CLEAR] = "DELETE FROM sender_key_memory WHERE group_id = ?1",
    [ST_Q_INBOX_INSERT] =
        "INSERT INTO inbox (chat, sender, msg_id, ts, type, payload, received)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (chat, sender, msg_id) DO NOTHING",
    [ST_Q_INBOX_FIND] = "SELECT cursor FROM inbox WHERE chat = ?1 AND sender = ?2 AND msg_id = ?3",
    [ST_Q_INBOX_LIST] = "SELECT cursor, chat, sender, msg_id, ts, type, payload, received,"
                        " delivered, text_raw, meta, edited_text, edited_at, revoked_at"
                        " FROM inbox WHERE cursor > ?1 ORDER BY cursor LIMIT ?2",
    [ST_Q_INBOX_SET_META] = "UPDATE inbox SET meta = ?2 WHERE cursor = ?1",
    /* the target of an edit / revoke: the same chat, the same sender, an earlier row */
    [ST_Q_INBOX_EDIT] = "UPDATE inbox SET edited_text = ?4, edited_at = ?5 WHERE msg_id = ?3"
                        " AND chat = ?1 AND sender = ?2 AND revoked_at = 0",
    [ST_Q_INBOX_REVOKE] = "UPDATE inbox SET revoked_at = ?4 WHERE msg_id = ?3 AND chat = ?1"
                          " AND sender = ?2",
    [ST_Q_INBOX_BY_ID] = "SELECT cursor, chat, sender, msg_id, ts, type, payload, received,"
                         " delivered, text_raw, meta, edited_text, edited_at, revoked_at"
                         " FROM inbox WHERE msg_id = ?2 AND chat = ?1 ORDER BY cursor DESC LIMIT 1",
    [ST_Q_INBOX_CHAT_OF] = "SELECT chat FROM inbox WHERE msg_id = ?1 ORDER BY cursor DESC LIMIT 1",
    [ST_Q_MEDIA_PUT] = "INSERT OR REPLACE INTO inbox_media (cursor, kind, mimetype, file_length,"
                       " media_key, sha256, enc_sha256, direct_path, url, media_key_ts)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_Q_MEDIA_GET] = "SELECT kind, mimetype, file_length, media_key, sha256, enc_sha256,"
                       " direct_path, url, media_key_ts FROM inbox_media WHERE cursor = ?1",
    [ST_Q_MFILE_PENDING] = "SELECT cursor FROM inbox_media WHERE state = 'pending' AND cursor > ?1"
                           " ORDER BY cursor LIMIT ?2",
    [ST_Q_MFILE_SET] = "UPDATE inbox_media SET state = ?2, path = ?3, error = ?4, attempts = ?5,"
                       " fetched = ?6 WHERE cursor = ?1",
    [ST_Q_MFILE_GET] = "SELECT state, path, error, attempts, fetched FROM inbox_media"
                       " WHERE cursor = ?1",
    [ST_Q_MFILE_USED] = "SELECT coalesce(sum(file_length), 0) FROM (SELECT DISTINCT path,"
                        " file_length FROM inbox_media WHERE state = 'done')",
    [ST_Q_MFILE_OLDEST] = "SELECT path, min(fetched) FROM inbox_media WHERE state = 'done'"
                          " GROUP BY path ORDER BY 2 LIMIT 1",
    [ST_Q_MFILE_EXPIRE_PATH] = "UPDATE inbox_media SET state = 'expired' WHERE state = 'done'"
                               " AND path = ?1",
    [ST_Q_MFILE_BY_SHA] = "SELECT path FROM inbox_media WHERE state = 'done' AND sha256 = ?1"
                          " LIMIT 1",
    [ST_Q_MFILE_SET_DP] = "UPDATE inbox_media SET direct_path = ?2 WHERE cursor = ?1",
    [ST_Q_INBOX_MARK] = "UPDATE inbox SET delivered = 1 WHERE cursor = ?1",
    [ST_Q_INBOX_SET_RAW] = "UPDATE inbox SET text_raw = ?2 WHERE cursor = ?1",
    /* the AUTOINCREMENT high-water: the largest cursor ever given, deleted rows included */
    [ST_Q_INBOX_HW] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'inbox'), 0)",
    [ST_Q_INBOX_HW_INSERT] =
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'inbox', ?1"
        " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbox')",
    [ST_Q_INBOX_HW_RAISE] = "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'inbox' AND seq < ?1",
    [ST_Q_ACCESS_IS_APPROVED] = "SELECT 1 FROM access_approved WHERE sender = ?1",
    [ST_Q_ACCESS_APPROVE] =
        "INSERT INTO access_approved (sender, approved) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    [ST_Q_PAIRING_PUT] = "INSERT INTO access_pairing (code, sender, created) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT DO NOTHING",
    [ST_Q_PAIRING_BY_SENDER] = "SELECT code FROM access_pairing WHERE sender = ?1",
    [ST_Q_PAIRING_BY_CODE] = "SELECT sender FROM access_pairing WHERE code = ?1",
    [ST_Q_PAIRING_DEL] = "DELETE FROM access_pairing WHERE code = ?1",
    [ST_Q_INBOX_PENDING] =
        "SELECT i.cursor, i.chat, i.sender, i.msg_id, i.ts, i.type, i.payload, i.received,"
        " i.delivered, i.text_raw, i.meta, i.edited_text, i.edited_at, i.revoked_at,"
        " coalesce(h.attempts, 0) FROM inbox i LEFT JOIN hook_state h"
        " ON h.cursor = i.cursor WHERE i.delivered = 0 AND i.cursor > ?1"
        " AND (h.next_at IS NULL OR h.next_at <= ?2) ORDER BY i.cursor LIMIT ?3",
    [ST_Q_INBOX_NEXT_DUE] = "SELECT min(h.next_at) FROM hook_state h JOIN inbox i"
                            " ON i.cursor = h.cursor WHERE i.delivered = 0 AND h.next_at > ?1",
    [ST_Q_INBOX_COUNT_PENDING] = "SELECT count(*) FROM inbox WHERE delivered = 0",
    [ST_Q_INBOX_OLDEST_PENDING] =
        "SELECT received FROM inbox WHERE delivered = 0 ORDER BY cursor LIMIT 1",
    [ST_Q_INBOX_SETTLE_UPTO] =
        "UPDATE inbox SET delivered = 1 WHERE delivered = 0 AND cursor <= ?1",
    [ST_Q_HOOK_PUT] = "INSERT INTO hook_state (cursor, attempts, next_at, error, gave_up)"
                      " VALUES (?1, ?2, ?3, coalesce(?4, ''), ?5) ON CONFLICT (cursor) DO UPDATE"
                      " SET attempts = ?2, next_at = ?3, error = coalesce(?4, error), gave_up = ?5",
    [ST_Q_HOOK_GET] = "SELECT attempts, next_at, error, gave_up FROM hook_state WHERE cursor = ?1",
    [ST_Q_OUTBOX_INSERT] =
        "INSERT INTO outbox (idem_key, msg_id, to_jid, payload, created, updated)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (idem_key) DO NOTHING",
    [ST_Q_OUTBOX_BY_KEY] = "SELECT id, idem_key, msg_id, to_jid, payload, state, error, attempts,"
                           " created, updated FROM outbox WHERE idem_key = ?1",
    [ST_Q_OUTBOX_BY_MSGID] = "SELECT id, idem_key, msg_id, to_jid, payload, state, error,"
                             " attempts, created, updated FROM outbox WHERE msg_id = ?1",
    [ST_Q_OUTBOX_SET_STATE] = "UPDATE outbox SET state = ?2, error = ?3,"
                              " attempts = attempts + ?4, updated = ?5 WHERE msg_id = ?1",
    [ST_Q_OUTBOX_LIST_QUEUED] =
        "SELECT id, idem_key, msg_id, to_jid, payload, state, error, attempts, created,"
        " updated FROM outbox WHERE state = 'queued' AND error IS NULL ORDER BY id LIMIT ?1",
    [ST_Q_OUTBOX_COUNT_QUEUED] = "SELECT count(*) FROM outbox WHERE state = 'queued'",
    [ST_Q_OUTBOX_HOLD] = "UPDATE outbox SET error = ?2, updated = ?3"
                         " WHERE msg_id = ?1 AND state = 'queued'",
    [ST_Q_OUTBOX_UNHOLD] = "UPDATE outbox SET payload = ?2, error = NULL, updated = ?3"
                           " WHERE msg_id = ?1 AND state = 'queued' AND error IS NOT NULL",
    [ST_Q_OUTBOX_LIST_HELD] =
        "SELECT id, idem_key, msg_id, to_jid, payload, state, error, attempts, created,"
        " updated FROM outbox WHERE state = 'queued' AND error IS NOT NULL ORDER BY id LIMIT ?1",
    [ST_Q_RETRY_PUT] = "INSERT INTO retry_buffer (msg_id, to_jid, payload, created)"
                       " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (msg_id) DO UPDATE SET"
                       " to_jid = ?2, payload = ?3, created = ?4",
    [ST_Q_RETRY_GET] = "SELECT to_jid, payload FROM outbox WHERE msg_id = ?1 UNION ALL"
                       " SELECT to_jid, payload FROM retry_buffer WHERE msg_id = ?1 LIMIT 1",
    [ST_Q_RETRY_PURGE] = "DELETE FROM retry_buffer WHERE created < ?1",
    [ST_Q_PROC_HAS] = "SELECT msg_id FROM processed WHERE hash = ?1",
    [ST_Q_PROC_PUT] = "INSERT OR IGNORE INTO processed (hash, msg_id, at) VALUES (?1, ?2, ?3)",
    [ST_Q_LID_PUT] = "INSERT OR REPLACE INTO lid_map (lid, pn) VALUES (?1, ?2)",
    [ST_Q_LID_GET_PN] = "SELECT pn FROM lid_map WHERE lid = ?1",
    [ST_Q_LID_GET_LID] = "SELECT lid FROM lid_map WHERE pn = ?1",
    [ST_Q_UNDEC_PUT] =
        "INSERT INTO undecryptable (device, msg_id, chat, sender, ts, reason, count, first_seen)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (device, msg_id) DO UPDATE SET"
        " reason = ?6, count = ?7",
    [ST_Q_UNDEC_DEL] = "DELETE FROM undecryptable WHERE device = ?1 AND msg_id = ?2",
    [ST_Q_UNDEC_LIST] = "SELECT device, msg_id, chat, sender, ts, reason, count, first_seen"
                        " FROM undecryptable ORDER BY first_seen LIMIT ?1",
    [ST_Q_SENDERKEY_DEL] = "DELETE FROM sender_keys WHERE group_id = ?1 AND sender_name = ?2"
                           " AND sender_device = ?3",
    [ST_Q_WH_ENQUEUE] = "INSERT INTO webhook_delivery (delivery_id, url, event_type, body, created,"
                        " updated) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (delivery_id) DO"
                        " NOTHING",
    [ST_Q_WH_DUE] = "SELECT id, delivery_id, url, event_type, body, attempts FROM webhook_delivery"
                    " WHERE state = 'pending' AND next_at <= ?1 ORDER BY id LIMIT ?2",
    [ST_Q_WH_START] = "UPDATE webhook_delivery SET attempts = attempts + 1, next_at = ?2,"
                      " updated = ?3 WHERE id = ?1 AND state = 'pending'",
    [ST_Q_WH_SETTLE] = "UPDATE webhook_delivery SET state = ?2, next_at = ?3, error = ?4,"
                       " updated = ?5 WHERE id = ?1",
    [ST_Q_WH_COUNTS] = "SELECT (SELECT count(*) FROM webhook_delivery WHERE state = 'pending'),"
                       " (SELECT count(*) FROM webhook_delivery WHERE state = 'dead')",
    [ST_Q_WH_COUNTS_URL] =
        "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'dead'), 0)"
        " FROM webhook_delivery WHERE state IN ('pending', 'dead') AND url = ?1",
    [ST_Q_WH_DONE] = "DELETE FROM webhook_delivery WHERE id = ?1",
    [ST_Q_WH_NEXT_DUE] = "SELECT min(next_at) FROM webhook_delivery WHERE state = 'pending'"
                         " AND next_at > ?1",
    [ST_Q_WH_MARK_GET] = "SELECT inbox_cursor FROM webhook_mark WHERE id = 1",
    [ST_Q_WH_MARK_END] = "UPDATE webhook_mark SET inbox_cursor ="
                         " (SELECT coalesce(max(cursor), 0) FROM inbox) WHERE id = 1",
    [ST_Q_WH_REQUEUE_DEAD] = "UPDATE webhook_delivery SET state = 'pending', attempts = 0,"
                             " next_at = ?1, error = '', updated = ?1 WHERE state = 'dead'",
    [ST_Q_WH_MARK_SET] = "INSERT INTO webhook_mark (id, inbox_cursor) VALUES (1, ?1)"
                         " ON CONFLICT (id) DO UPDATE SET inbox_cursor = ?1",
};

/* ---- errors ---- */

int st_db_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EUCLEAN;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_CANTOPEN:
        return -EACCES;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EPERM;
    case SQLITE_TOOBIG:
        return -ENOBUFS;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return -EINVAL;
    default:
        return -EIO;
    }
}

int st_db__failf(struct st_db *db, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->last_error, sizeof db->last_error, fmt, ap);
    va_end(ap);
    return code;
}

int st_db__fail(struct st_db *db, int rc, const char *what)
{
    return st_db__failf(db, st_db_errno(rc), "%s: %s (sqlite %d)", what, sqlite3_errmsg(db->h), rc);
}

const char *st_db_last_error(const struct st_db *db)
{
    return db->last_error;
}

int st_db_version(const struct st_db *db)
{
    return db->version;
}

/* ---- statements ---- */

/* Statement q, prepared at its first use: an account's handle needs a few dozen of the
 * ~100 in steady state, and preparing all of them at open cost ~230 KB per account (issue 16). */
static sqlite3_stmt *stmt_get(struct st_db *db, enum st_q q, int *err)
{
    *err = 0;
    if (!db->q[q]) {
        int rc = sqlite3_prepare_v3(db->h, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &db->q[q], NULL);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(db->q[q]);
            db->q[q] = NULL;
            *err = st_db__fail(db, rc, "prepare");
        }
    }
    return db->q[q];
}

sqlite3_stmt *st_db__stmt(struct st_db *db, enum st_q q)
{
    if (!db->prepared || (unsigned)q >= ST_Q_COUNT) {
        st_db__failf(db, -ENOTSUP, "database opened for schema work only");
        return NULL;
    }
    int err;
    sqlite3_stmt *s = stmt_get(db, q, &err);
    if (!s) return NULL;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

int st_db__exec(struct st_db *db, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : st_db__fail(db, rc, what);
    sqlite3_reset(s);
    return ret;
}

int st_db__row(struct st_db *db, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return 1;
    int ret = rc == SQLITE_DONE ? 0 : st_db__fail(db, rc, what);
    sqlite3_reset(s);
    return ret;
}

int st_db__changes(struct st_db *db)
{
    return sqlite3_changes(db->h);
}

int st_db_prepare_all(struct st_db *db)
{
    if (!db->prepared) return st_db__failf(db, -ENOTSUP, "database opened for schema work only");
    for (int i = 0; i < ST_Q_COUNT; i++) {
        int err;
        if (stmt_get(db, (enum st_q)i, &err)) continue;
        char keep[sizeof db->last_error];
        memcpy(keep, db->last_error, sizeof keep);
        return st_db__failf(db, -EIO, "statement %d: %s", i, keep);
    }
    return 0;
}

void st_db_release_memory(struct st_db *db)
{
    if (db && db->h) (void)sqlite3_db_release_memory(db->h);
}

static void finalize_all(struct st_db *db)
{
    for (int i = 0; i < ST_Q_COUNT; i++) {
        sqlite3_finalize(db->q[i]);
        db->q[i] = NULL;
    }
    db->prepared = false;
}

/* ---- transactions ---- */

static int step_ctl(struct st_db *db, enum st_q q, const char *what)
{
    int err = 0;
    sqlite3_stmt *s = db->prepared ? stmt_get(db, q, &err) : NULL;
    if (db->prepared && !s) return err;
    if (s) {
        sqlite3_reset(s);
        return st_db__exec(db, s, what);
    }
    /* schema-only handle: no prepared statements */
    int rc = sqlite3_exec(db->h, sql[q], NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : st_db__fail(db, rc, what);
}

void st_db_set_pending(struct st_db *db, int (*settle)(void *ud), void *ud)
{
    db->settle = settle;
    db->settle_ud = settle ? ud : NULL;
}

/* Someone else needs the transaction state: the pending transaction's owner ends it first. */
static void settle_pending(struct st_db *db)
{
    int (*fn)(void *) = db->settle;
    if (!fn) return;
    db->settle = NULL;
    (void)fn(db->settle_ud);
}

bool st_db_in_txn(const struct st_db *db)
{
    if (db->settle) settle_pending((struct st_db *)db); /* the object itself is never const */
    return db->in_txn;
}

int st_db_begin(struct st_db *db)
{
    settle_pending(db);
    if (db->in_txn) return st_db__failf(db, -EALREADY, "begin: a transaction is already open");
    int rc = step_ctl(db, ST_Q_BEGIN, "begin");
    if (rc == 0) db->in_txn = true;
    return rc;
}

int st_db_rollback(struct st_db *db)
{
    db->in_txn = false;
    db->in_sp = false;
    if (sqlite3_get_autocommit(db->h)) return 0; /* SQLite already rolled back */
    return step_ctl(db, ST_Q_ROLLBACK, "rollback");
}

const double ST_DB_COMMIT_BOUNDS_MS[ST_DB_COMMIT_BUCKETS - 1] = {0.25, 0.5, 1,   2,   5,   10,
                                                                 25,   50,  100, 250, 1000};

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void count_commit(struct st_db *db, double ms);

int st_db_commit(struct st_db *db)
{
    if (!db->in_txn) return st_db__failf(db, -EINVAL, "commit: no transaction is open");
    double t0 = db->cstats ? mono_ms() : 0;
    int rc = step_ctl(db, ST_Q_COMMIT, "commit");
    if (rc == 0) {
        db->in_txn = false;
        db->in_sp = false;
        db->commits++;
        if (db->cstats) count_commit(db, mono_ms() - t0);
        return 0;
    }
    char keep[sizeof db->last_error];
    memcpy(keep, db->last_error, sizeof keep);
    st_db_rollback(db);
    memcpy(db->last_error, keep, sizeof keep);
    return rc;
}

uint64_t st_db_commits(const struct st_db *db)
{
    return db->commits;
}

static void count_commit(struct st_db *db, double ms)
{
    struct st_db_commit_stats *s = db->cstats;
    size_t i = 0;
    while (i < ST_DB_COMMIT_BUCKETS - 1 && ms > ST_DB_COMMIT_BOUNDS_MS[i])
        i++;
    s->bucket[i]++;
    s->count++;
    s->sum_ms += ms;
}

uint64_t st_db_changes(const struct st_db *db)
{
    return (uint64_t)sqlite3_total_changes64(db->h);
}

void st_db_set_commit_stats(struct st_db *db, struct st_db_commit_stats *s)
{
    db->cstats = s;
}

int st_db_savepoint(struct st_db *db)
{
    if (!db->in_txn) return st_db__failf(db, -EINVAL, "savepoint: no transaction is open");
    if (db->in_sp) return st_db__failf(db, -EALREADY, "savepoint: one is already open");
    int rc = step_ctl(db, ST_Q_SAVEPOINT, "savepoint");
    if (rc == 0) db->in_sp = true;
    return rc;
}

int st_db_release(struct st_db *db)
{
    if (!db->in_sp) return st_db__failf(db, -EINVAL, "release: no savepoint is open");
    int rc = step_ctl(db, ST_Q_RELEASE, "release");
    if (rc == 0) db->in_sp = false;
    return rc;
}

int st_db_rollback_to(struct st_db *db)
{
    if (!db->in_sp) return st_db__failf(db, -EINVAL, "rollback to: no savepoint is open");
    if (sqlite3_get_autocommit(db->h)) { /* SQLite rolled the whole transaction back */
        db->in_sp = db->in_txn = false;
        return st_db__failf(db, -EIO, "rollback to: the transaction was rolled back");
    }
    int rc = step_ctl(db, ST_Q_ROLLBACK_TO, "rollback to");
    if (rc == 0) rc = step_ctl(db, ST_Q_RELEASE, "release");
    db->in_sp = false;
    return rc;
}

/* ---- open ---- */

static int seterr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* mkdir -p the parent (0700), create the file 0600 or tighten an existing one. */
static int prepare_file(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return seterr(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        int rc = dir_create(dir, 0700);
        if (rc < 0) return seterr(err, errlen, rc, "%s: cannot create: %s", dir, strerror(-rc));
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return seterr(err, errlen, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = -EINVAL;
    else if ((st.st_mode & 077) && fchmod(fd, 0600) < 0)
        rc = -errno;
    close(fd);
    if (rc < 0) return seterr(err, errlen, rc, "%s: %s", path, strerror(-rc));
    return 0;
}

static int exec_sql(struct st_db *db, const char *q, char *err, size_t errlen, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->h, q, NULL, NULL, &msg);
    if (rc == SQLITE_OK) return 0;
    int code = seterr(err, errlen, st_db_errno(rc), "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return code;
}

int st_db_backup(struct st_db *db, const char *path)
{
    if (!db || !path || !*path || st_db_in_txn(db)) return -EINVAL;
    if (access(path, F_OK) == 0) return -EEXIST;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->h, "VACUUM INTO ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    int code = rc == SQLITE_OK ? 0 : st_db__fail(db, rc, "backup");
    sqlite3_finalize(s);
    if (code == 0 && chmod(path, 0600) < 0) code = -errno;
    return code;
}

/* One-row pragma query: integer result into *out. */
static int pragma_int(struct st_db *db, const char *q, int *out, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->h, q, -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    int code = rc == SQLITE_OK ? 0 : st_db_errno(rc);
    if (code) seterr(err, errlen, code, "%s: %s", q, sqlite3_errmsg(db->h));
    sqlite3_finalize(s);
    return code;
}

/* quick_check: "ok", or the first problem; NOTADB / CORRUPT while reading count too. */
static int check_integrity(struct st_db *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->h, "PRAGMA quick_check", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    int code = 0;
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0)
            code = seterr(err, errlen, -EUCLEAN, "%s: database is corrupt (quick_check: %.120s)",
                          path, r ? r : "?");
    } else {
        code = st_db_errno(rc);
        if (code == -EUCLEAN)
            seterr(err, errlen, code, "%s: not a database or corrupt (%s)", path,
                   sqlite3_errmsg(db->h));
        else
            seterr(err, errlen, code ? code : -EIO, "%s: quick_check: %s", path,
                   sqlite3_errmsg(db->h));
        if (!code) code = -EIO;
    }
    sqlite3_finalize(s);
    return code;
}

static int set_pragmas(struct st_db *db, const struct st_db_opts *o, char *err, size_t errlen)
{
    static const char *const sync_sql[] = {
        "PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = OFF"};
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    bool wal = rc == SQLITE_ROW && sqlite3_column_text(s, 0) &&
               strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
    sqlite3_finalize(s);
    if (!wal)
        return seterr(err, errlen, rc == SQLITE_ROW ? -EIO : st_db_errno(rc),
                      "cannot switch to WAL: %s", sqlite3_errmsg(db->h));
    unsigned si = (unsigned)o->sync <= ST_SYNC_OFF ? (unsigned)o->sync : 0;
    int code = exec_sql(db, sync_sql[si], err, errlen, "synchronous");
    if (!code) code = exec_sql(db, "PRAGMA foreign_keys = ON", err, errlen, "foreign_keys");
    if (!code) code = exec_sql(db, "PRAGMA secure_delete = ON", err, errlen, "secure_delete");
    /* A linked device's working set is small (credentials, a few sessions): 512 KiB of page
     * cache per account instead of SQLite's 2 MiB default keeps the idle daemon small. */
    if (!code) code = exec_sql(db, "PRAGMA cache_size = -256", err, errlen, "cache_size");
    /* A small WAL (fault-matrix row 30): checkpoint every 256 pages (1 MiB) instead of 1000,
     * and truncate the file back to 1 MiB after a checkpoint, so a nearly full disk is not
     * filled by the WAL itself. */
    if (!code)
        code = exec_sql(db, "PRAGMA wal_autocheckpoint = 256", err, errlen, "wal_autocheckpoint");
    if (!code)
        code =
            exec_sql(db, "PRAGMA journal_size_limit = 1048576", err, errlen, "journal_size_limit");
    return code;
}

static int migrate(struct st_db *db, int target, char *err, size_t errlen)
{
    for (int v = db->version + 1; v <= target; v++) {
        char q[64];
        snprintf(q, sizeof q, "PRAGMA user_version = %d", v);
        int rc = exec_sql(db, "BEGIN IMMEDIATE", err, errlen, "migration begin");
        if (!rc) rc = exec_sql(db, st_migration_sql(v), err, errlen, "migration");
        if (!rc) rc = exec_sql(db, q, err, errlen, "migration version");
        if (!rc) rc = exec_sql(db, "COMMIT", err, errlen, "migration commit");
        if (rc) {
            if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", 0, 0, 0);
            size_t n = err ? strlen(err) : 0;
            if (err && n + 1 < errlen) snprintf(err + n, errlen - n, " (to v%d)", v);
            return rc;
        }
        db->version = v;
    }
    return 0;
}

static int open_steps(struct st_db *db, const char *path, const struct st_db_opts *o, char *err,
                      size_t errlen)
{
    int rc = check_integrity(db, path, err, errlen);
    if (!rc) rc = pragma_int(db, "PRAGMA user_version", &db->version, err, errlen);
    if (rc) return rc;
    if (db->version > ST_SCHEMA_VERSION || db->version < 0)
        return seterr(err, errlen, -ENOTSUP,
                      "%s: database schema v%d is newer than this build supports (v%d); "
                      "refusing to open it",
                      path, db->version, ST_SCHEMA_VERSION);
    rc = set_pragmas(db, o, err, errlen);
    int target = o->target_version > 0 && o->target_version < ST_SCHEMA_VERSION ? o->target_version
                                                                                : ST_SCHEMA_VERSION;
    if (!rc) rc = migrate(db, target, err, errlen);
    /* the statements are prepared at their first use (stmt_get) */
    if (!rc && target == ST_SCHEMA_VERSION && db->version == ST_SCHEMA_VERSION) db->prepared = true;
    return rc;
}

/* Before SQLite's first use in the process: no bulk page-cache allocation per connection (it
 * is ~170 KiB that sqlite3_db_release_memory cannot give back; pages are then allocated one by
 * one and released when idle). Called again it is a no-op (SQLITE_MISUSE once initialised). */
static void sqlite_once(void)
{
    static bool done;
    if (done) return;
    done = true;
    (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0);
}

int st_db_open_ex(const char *path, const struct st_db_opts *opts, struct st_db **out, char *err,
                  size_t errlen)
{
    sqlite_once();
    static const struct st_db_opts defaults = {0};
    const struct st_db_opts *o = opts ? opts : &defaults;
    *out = NULL;
    if (!path || !*path) return seterr(err, errlen, -EINVAL, "empty database path");
    int rc = prepare_file(path, err, errlen);
    if (rc) return rc;
    struct st_db *db = calloc(1, sizeof *db);
    if (!db) return seterr(err, errlen, -ENOMEM, "out of memory");
    int src = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, o->vfs);
    if (src != SQLITE_OK) {
        rc = seterr(err, errlen, st_db_errno(src), "%s: %s", path,
                    db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(src));
        goto fail;
    }
    sqlite3_extended_result_codes(db->h, 1);
    /* a small lookaside (8 KiB instead of SQLite's 120 KiB per connection): one account's
     * statements are short and few at a time, and a daemon may hold a thousand connections */
    (void)sqlite3_db_config(db->h, SQLITE_DBCONFIG_LOOKASIDE, (void *)0, 256, 32);
    sqlite3_busy_timeout(db->h, o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000);
    rc = open_steps(db, path, o, err, errlen);
    if (rc) goto fail;
    *out = db;
    return 0;
fail:
    finalize_all(db);
    sqlite3_close_v2(db->h);
    free(db);
    return rc;
}

int st_db_open(const char *path, struct st_db **out, char *err, size_t errlen)
{
    return st_db_open_ex(path, NULL, out, err, errlen);
}

int st_db_close(struct st_db *db)
{
    if (!db) return 0;
    int ret = 0;
    db->settle = NULL; /* its owner is gone: what it kept open is rolled back */
    if (db->in_txn || !sqlite3_get_autocommit(db->h)) ret = st_db_rollback(db);
    finalize_all(db);
    int rc = sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc != SQLITE_OK && !ret) ret = st_db_errno(rc);
    rc = sqlite3_close_v2(db->h);
    if (rc != SQLITE_OK && !ret) ret = st_db_errno(rc);
    free(db);
    return ret;
}

/* ---- quarantine ---- */

int st_db_quarantine(const char *path, char *newpath, size_t newlen, char *err, size_t errlen)
{
    char stamp[32], dst[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if (snprintf(dst, sizeof dst, "%s.corrupt-%s", path, stamp) >= (int)sizeof dst)
        return seterr(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
    if (access(dst, F_OK) == 0) return seterr(err, errlen, -EEXIST, "%s exists", dst);
    if (rename(path, dst) < 0)
        return seterr(err, errlen, -errno, "rename %s: %s", path, strerror(errno));
    static const char *const sfx[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s%s", path, sfx[i]);
        snprintf(b, sizeof b, "%s%s", dst, sfx[i]);
        if (rename(a, b) < 0 && errno != ENOENT)
            return seterr(err, errlen, -errno, "rename %s: %s", a, strerror(errno));
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    dir_sync(slash ? (dir[0] ? dir : "/") : ".");
    if (newpath && newlen) snprintf(newpath, newlen, "%s", dst);
    return 0;
}
