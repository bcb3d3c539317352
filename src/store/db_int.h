/* SPDX-License-Identifier: MIT */
/* db_int.h -- internal to src/store: the prepared statements of store/db.h's handle and the
 * helpers the store modules (creds, sgstore, msgstore) run them with.
 *
 * Included only by the .c files of src/store (and store unit tests that need it); the public
 * contract is store/db.h. scripts/check-layers.sh refuses a *_int.h included from another
 * directory.
 */
#pragma once
#include <sqlite3.h>

#include "store/db.h"

/* Map an SQLite result code to a negative errno (see db.h's header comment); 0 for
 * OK/ROW/DONE. */
int st_db_errno(int sqlite_rc);

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
    ST_Q_SPK_INFO, /* spkstore.c */
    ST_Q_SPK_NEW,
    ST_Q_SPK_UPLOADED,
    ST_Q_SPK_RETIRE,
    ST_Q_SPK_PRUNE_OLD,
    ST_Q_SPK_PRUNE_MAX,
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
    ST_Q_INBOX_SET_RAW,
    ST_Q_INBOX_SET_META,
    ST_Q_INBOX_EDIT,
    ST_Q_INBOX_REVOKE,
    ST_Q_INBOX_BY_ID,
    ST_Q_INBOX_CHAT_OF,
    ST_Q_MEDIA_PUT,
    ST_Q_MEDIA_GET,
    ST_Q_INBOX_HW,
    ST_Q_INBOX_HW_INSERT,
    ST_Q_INBOX_HW_RAISE,
    ST_Q_ACCESS_IS_APPROVED,
    ST_Q_ACCESS_APPROVE,
    ST_Q_PAIRING_PUT,
    ST_Q_PAIRING_BY_SENDER,
    ST_Q_PAIRING_BY_CODE,
    ST_Q_PAIRING_DEL,
    ST_Q_INBOX_PENDING,
    ST_Q_INBOX_NEXT_DUE,
    ST_Q_INBOX_COUNT_PENDING,
    ST_Q_INBOX_OLDEST_PENDING,
    ST_Q_INBOX_SETTLE_UPTO,
    ST_Q_HOOK_PUT,
    ST_Q_HOOK_GET,
    ST_Q_OUTBOX_INSERT,
    ST_Q_OUTBOX_BY_KEY,
    ST_Q_OUTBOX_BY_MSGID,
    ST_Q_OUTBOX_SET_STATE,
    ST_Q_OUTBOX_LIST_QUEUED,
    ST_Q_OUTBOX_COUNT_QUEUED,
    ST_Q_OUTBOX_HOLD,
    ST_Q_OUTBOX_UNHOLD,
    ST_Q_OUTBOX_LIST_HELD,
    ST_Q_RETRY_PUT,
    ST_Q_RETRY_GET,
    ST_Q_RETRY_PURGE,
    ST_Q_PROC_HAS,
    ST_Q_PROC_PUT,
    ST_Q_LID_PUT,
    ST_Q_LID_GET_PN,
    ST_Q_LID_GET_LID,
    ST_Q_UNDEC_PUT,
    ST_Q_UNDEC_DEL,
    ST_Q_UNDEC_LIST,
    ST_Q_SENDERKEY_DEL,
    /* whstore.c */
    ST_Q_WH_ENQUEUE,
    ST_Q_WH_DUE,
    ST_Q_WH_START,
    ST_Q_WH_SETTLE,
    ST_Q_WH_COUNTS,
    ST_Q_WH_COUNTS_URL,
    ST_Q_WH_DONE,
    ST_Q_WH_NEXT_DUE,
    ST_Q_WH_MARK_GET,
    ST_Q_WH_MARK_SET,
    ST_Q_WH_MARK_END,
    ST_Q_WH_REQUEUE_DEAD,
    /* mediafile.c */
    ST_Q_MFILE_PENDING,
    ST_Q_MFILE_SET,
    ST_Q_MFILE_GET,
    ST_Q_MFILE_USED,
    ST_Q_MFILE_OLDEST,
    ST_Q_MFILE_EXPIRE_PATH,
    ST_Q_MFILE_BY_SHA,
    ST_Q_MFILE_SET_DP,
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
