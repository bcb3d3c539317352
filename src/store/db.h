/* SPDX-License-Identifier: MIT */
/* db.h -- the per-account SQLite database: open/close, pragmas, migrations, transactions.
 *
 * One `struct st_db` per account database (`<state>/accounts/<id>/wa.db`). Opening:
 *  - creates missing parent directories (mode 0700) and the file itself with mode 0600 (an
 *    existing file readable by group/others is chmod'ed to 0600);
 *  - runs `PRAGMA quick_check` first: a torn, truncated or garbage file is reported as
 *    -EUCLEAN with a clear message and is NEVER recreated (the caller decides, e.g. with
 *    st_db_quarantine());
 *  - sets journal_mode=WAL, synchronous=FULL, foreign_keys=ON, secure_delete=ON,
 *    busy_timeout;
 *  - refuses a database whose `PRAGMA user_version` is newer than this build (-ENOTSUP);
 *  - applies the pending migrations (migrations.h), each in its own transaction;
 *  - prepares every statement the store uses, once. st_db_close() finalizes them all, then
 *    runs `wal_checkpoint(TRUNCATE)` and closes.
 *
 * Transactions: st_db_begin() is `BEGIN IMMEDIATE` (takes the write lock up front, so a
 * commit never fails on a lock upgrade). Nesting is REFUSED: a begin while a transaction is
 * open returns -EALREADY (the receive/send paths are flat; a refused nest is a bug shown
 * early, not a silently merged commit). Functions of the other store modules called outside
 * a transaction run in SQLite's autocommit mode (each statement is its own transaction).
 * st_db_commit() failing (e.g. -EIO from fsync) rolls back and leaves no transaction open:
 * nothing of it may be assumed durable (fault-matrix #31: fail-stop, no ack).
 *
 * Errors: 0 or a negative errno; a human-readable detail (with SQLite's message) is kept on
 * the object (st_db_last_error) or, for open, in `err`. SQLite codes map to:
 *   BUSY/LOCKED -EBUSY, CORRUPT/NOTADB -EUCLEAN, FULL -ENOSPC, IOERR -EIO, NOMEM -ENOMEM,
 *   READONLY -EROFS, CANTOPEN -EACCES, PERM/AUTH -EPERM, TOOBIG -ENOBUFS,
 *   CONSTRAINT (CHECK / NOT NULL / UNIQUE violations) -EINVAL, anything else -EIO.
 * Not thread-safe: one connection, used from the loop thread (or one worker) only.
 * Nothing here logs above debug.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct st_db;

enum st_sync { ST_SYNC_FULL = 0, ST_SYNC_NORMAL = 1, ST_SYNC_OFF = 2 };

/* Options for st_db_open_ex (zero-initialise for the defaults). */
struct st_db_opts {
    const char *vfs;     /* SQLite VFS name; NULL = default (tests plug a crash VFS) */
    enum st_sync sync;   /* default FULL; OFF/NORMAL only for tests and benchmarks */
    int target_version;  /* 0 = latest; >0 migrates only up to it and prepares nothing:
                            the handle can only be closed (tests build old databases) */
    int busy_timeout_ms; /* 0 = 5000 */
};

/* Open (creating if absent) the database at `path`; see the header comment. On failure
 * *out is NULL and err holds the reason. Returns 0, -EUCLEAN (corrupt / not a database),
 * -ENOTSUP (schema newer than this build), -EACCES, -ENOMEM, -EIO, -EINVAL. */
int st_db_open(const char *path, struct st_db **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int st_db_open_ex(const char *path, const struct st_db_opts *opts, struct st_db **out, char *err,
                  size_t errlen) __attribute__((warn_unused_result));

/* Clean close: roll back an open transaction, finalize statements, checkpoint (TRUNCATE),
 * close. Returns 0 or the first error (the handle is freed in every case). NULL is a no-op. */
int st_db_close(struct st_db *db);

/* Move a database that failed to open aside: renames `path` (and its -wal / -shm files) to
 * `<path>.corrupt-<UTC YYYYmmddTHHMMSSZ>` (+ -wal / -shm) and fsyncs the directory, so the
 * next open starts empty. The new name is written to newpath (may be NULL). 0 or -errno
 * (-EEXIST if that name is taken, -ENOENT if path does not exist). The db must be closed. */
int st_db_quarantine(const char *path, char *newpath, size_t newlen, char *err, size_t errlen)
    __attribute__((warn_unused_result));

int st_db_begin(struct st_db *db) __attribute__((warn_unused_result));
int st_db_commit(struct st_db *db) __attribute__((warn_unused_result));
/* Roll back the open transaction (0 if none is open, e.g. SQLite already rolled back). */
int st_db_rollback(struct st_db *db);
bool st_db_in_txn(const struct st_db *db);

/* One savepoint level inside an open transaction (group commit: one unit of work that can be
 * undone alone while the rest of the transaction goes on). st_db_savepoint(): -EINVAL when no
 * transaction is open, -EALREADY when a savepoint is already open. st_db_release() keeps the
 * unit's changes (they become durable with the transaction's COMMIT); st_db_rollback_to()
 * undoes them and closes the savepoint (the transaction stays open). Both: -EINVAL when no
 * savepoint is open. A COMMIT or ROLLBACK of the transaction also ends the savepoint. */
int st_db_savepoint(struct st_db *db) __attribute__((warn_unused_result));
int st_db_release(struct st_db *db) __attribute__((warn_unused_result));
int st_db_rollback_to(struct st_db *db);

/* Transactions committed on this handle since it was opened (st_db_commit successes). */
uint64_t st_db_commits(const struct st_db *db);

/* Detail of the last failure on this handle ("" if none). */
const char *st_db_last_error(const struct st_db *db);
/* Schema version of the open database (PRAGMA user_version). */
int st_db_version(const struct st_db *db);

/* Map an SQLite result code to a negative errno (see header comment); 0 for OK/ROW/DONE. */
int st_db_errno(int sqlite_rc);

/* ---- internal to src/store (st_db__*): the prepared statements ---- */

enum st_q {
    ST_Q_BEGIN,
    ST_Q_COMMIT,
    ST_Q_ROLLBACK,
    ST_Q_SAVEPOINT,
    ST_Q_RELEASE,
    ST_Q_ROLLBACK_TO,
    /* creds.c */
    ST_Q_CREDS_GET,
    ST_Q_CREDS_PUT,
    ST_Q_CREDS_EXISTS,
    ST_Q_LOCAL_IDENTITY,
    /* sgstore.c */
    ST_Q_SESSION_GET,
    ST_Q_SESSION_PUT,
    ST_Q_SESSION_DEL,
    ST_Q_SESSION_DEL_ALL,
    ST_Q_SESSION_DEVICES,
    ST_Q_SESSION_WIPE,
    ST_Q_PREKEY_GET,
    ST_Q_PREKEY_PUT,
    ST_Q_PREKEY_DEL,
    ST_Q_PREKEY_COUNT,
    ST_Q_PREKEY_MARK_UPLOADED,
    ST_Q_SPK_GET,
    ST_Q_SPK_PUT,
    ST_Q_SPK_DEL,
    ST_Q_SENDERKEY_GET,
    ST_Q_SENDERKEY_PUT,
    ST_Q_SENDERKEY_WIPE,
    ST_Q_IDENT_GET,
    ST_Q_IDENT_PUT,
    ST_Q_IDENT_DEL,
    ST_Q_SKMEM_PUT,
    ST_Q_SKMEM_HAS,
    ST_Q_SKMEM_CLEAR,
    /* msgstore.c */
    ST_Q_INBOX_INSERT,
    ST_Q_INBOX_FIND,
    ST_Q_INBOX_LIST,
    ST_Q_INBOX_MARK,
    ST_Q_OUTBOX_INSERT,
    ST_Q_OUTBOX_BY_KEY,
    ST_Q_OUTBOX_BY_MSGID,
    ST_Q_OUTBOX_SET_STATE,
    ST_Q_OUTBOX_LIST_QUEUED,
    ST_Q_RETRY_PUT,
    ST_Q_RETRY_GET,
    ST_Q_RETRY_PURGE,
    ST_Q_PROC_HAS,
    ST_Q_PROC_PUT,
    ST_Q_LID_PUT,
    ST_Q_LID_GET_PN,
    ST_Q_LID_GET_LID,
    ST_Q_COUNT
};

/* The prepared statement `q`, reset and with bindings cleared; NULL (and last_error set)
 * when the handle was opened with a target_version (no statements). */
sqlite3_stmt *st_db__stmt(struct st_db *db, enum st_q q);
/* Record a failure of `what` with SQLite's message; returns st_db_errno(rc). */
int st_db__fail(struct st_db *db, int rc, const char *what);
/* Record a failure with a plain message; returns code. */
int st_db__failf(struct st_db *db, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Step a statement expected to finish (no row): 0 or st_db__fail(); resets it. */
int st_db__exec(struct st_db *db, sqlite3_stmt *s, const char *what);
/* Step once: 1 on a row (leave the statement for column reads, reset it afterwards),
 * 0 when done (reset), negative on error (reset). */
int st_db__row(struct st_db *db, sqlite3_stmt *s, const char *what);
/* Rows changed by the last statement. */
int st_db__changes(struct st_db *db);
