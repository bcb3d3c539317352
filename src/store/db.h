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
 *  - prepares each statement the store uses at its first use, once (st_db_prepare_all: all
 *    now). st_db_close() finalizes them all, then runs `wal_checkpoint(TRUNCATE)` and closes.
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
 *
 * The prepared statements and the helpers the other store modules run them with are
 * internal to src/store: store/db_int.h.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* Statements are prepared at their first use; this prepares every one now (tests, doctor: the
 * SQL and the schema agree). 0, or the first failure (named in st_db_last_error). */
int st_db_prepare_all(struct st_db *db) __attribute__((warn_unused_result));
/* Give back the page cache the connection holds (pages are read again from the OS cache on
 * their next use). For idle accounts: many of them should cost little (issue 16). */
void st_db_release_memory(struct st_db *db);

/* Move a database that failed to open aside: renames `path` (and its -wal / -shm files) to
 * `<path>.corrupt-<UTC YYYYmmddTHHMMSSZ>` (+ -wal / -shm) and fsyncs the directory, so the
 * next open starts empty. The new name is written to newpath (may be NULL). 0 or -errno
 * (-EEXIST if that name is taken, -ENOENT if path does not exist). The db must be closed. */
int st_db_quarantine(const char *path, char *newpath, size_t newlen, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A consistent copy of the open database at `path` (VACUUM INTO; the file must not exist),
 * mode 0600. Outside a transaction. 0, -EEXIST, -EINVAL (in a transaction), or -errno. */
int st_db_backup(struct st_db *db, const char *path) __attribute__((warn_unused_result));

int st_db_begin(struct st_db *db) __attribute__((warn_unused_result));
int st_db_commit(struct st_db *db) __attribute__((warn_unused_result));
/* Roll back the open transaction (0 if none is open, e.g. SQLite already rolled back). */
int st_db_rollback(struct st_db *db);
bool st_db_in_txn(const struct st_db *db);
/* A transaction its owner keeps open on purpose, to end it later (the sender's commit shared
 * by the API sends of one loop iteration): settle(ud) must COMMIT or roll it back. Anyone
 * else's st_db_begin(), st_db_in_txn() or st_db_backup() calls settle first (so they see no
 * transaction of the owner's), once; the owner clears it (NULL) when it ends the transaction
 * itself. Statements run meanwhile outside any begin join the open transaction. */
void st_db_set_pending(struct st_db *db, int (*settle)(void *ud), void *ud);

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

/* Rows inserted, updated or deleted through this handle since it was opened (every statement,
 * in a transaction or not): unchanged means nothing was written. */
uint64_t st_db_changes(const struct st_db *db);

/* Commit latency (the COMMIT statement: the WAL append and its fsync), for /metrics. Bucket i
 * counts the commits that took at most ST_DB_COMMIT_BOUNDS_MS[i] ms (not cumulative; the
 * last bucket, +Inf, the rest). The caller owns the struct, so it outlives a close and reopen
 * of the database (the counts only grow). */
#define ST_DB_COMMIT_BUCKETS 12
extern const double ST_DB_COMMIT_BOUNDS_MS[ST_DB_COMMIT_BUCKETS - 1];
struct st_db_commit_stats {
    uint64_t bucket[ST_DB_COMMIT_BUCKETS];
    uint64_t count;
    double sum_ms;
};
/* Count every successful commit of this handle into *s from now on (NULL: stop). Borrowed:
 * it must outlive the handle or be detached first. */
void st_db_set_commit_stats(struct st_db *db, struct st_db_commit_stats *s);

/* Detail of the last failure on this handle ("" if none). */
const char *st_db_last_error(const struct st_db *db);
/* Schema version of the open database (PRAGMA user_version). */
int st_db_version(const struct st_db *db);
