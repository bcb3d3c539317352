/* SPDX-License-Identifier: MIT */
/* statedir.h -- the state directory and its single-instance lock.
 *
 * The state directory holds everything wagate keeps (token, databases). It
 * is created with mode 0700. One daemon owns it at a time: it holds an
 * exclusive flock(2) on <state>/lock, which contains the holder's PID. The
 * kernel drops the lock when the process dies, so a crash never leaves a
 * stale lock behind.
 */
#pragma once
#include <sys/types.h>

struct state_lock {
    int fd; /* -1 when not held */
};

/* Create the directory (and parents) with mode 0700 if missing. A directory
 * that exists with group/other permissions is tightened to 0700.
 * Returns 0 or -errno; err names the path and the cause. */
int state_dir_prepare(const char *dir, char *err, size_t errlen);
/* Take the lock without waiting. On success writes our PID into the file.
 * -EWOULDBLOCK: another process holds it; *holder is its PID (0 if it could
 * not be read), and err says so. Other errors are -errno. */
int state_lock_acquire(const char *dir, struct state_lock *lk, pid_t *holder, char *err,
                       size_t errlen);
void state_lock_release(struct state_lock *lk);
/* Who holds the lock of dir: its PID, 0 if nobody, -EBUSY if held by a
 * process whose PID cannot be read, or another -errno. Does not
 * take the lock for longer than the probe. */
pid_t state_lock_holder(const char *dir);

/* The gateway's log file when log.file is not set: <dir>/logs/gateway.log (STATE_LOG_FILE),
 * rotated to gateway.log.1. Writes the path to out. 0 or -ENAMETOOLONG. */
#define STATE_LOG_FILE "logs/gateway.log"
int state_log_path(const char *dir, char *out, size_t n);

/* The linked-account marker: <account dir>/linked (STATE_LINKED_FILE), a small text file
 * ("linked <jid> <UTC time>") written next to the database, not inside it, when the account
 * is linked. It says that a database with credentials existed, so a database that is later
 * missing or zero bytes long is a loss to report, not a fresh start (issue 13). It is removed
 * only when the owner asks to link again (gw_channel_login on a logged-out account). */
#define STATE_LINKED_FILE "linked"
enum { STATE_DB_OK = 0, STATE_DB_MISSING = 1, STATE_DB_EMPTY = 2 };
/* Write the marker unless it exists (who: the account's JID, may be NULL). 0 or -errno. */
int state_linked_mark(const char *acct_dir, const char *who);
/* Remove it (absent is fine). 0 or -errno. */
int state_linked_clear(const char *acct_dir);
/* STATE_DB_OK (no marker, or a non-empty database), STATE_DB_MISSING or STATE_DB_EMPTY (the
 * marker is there and the database is absent or zero bytes), or -errno. */
int state_db_check(const char *acct_dir, const char *dbpath);
