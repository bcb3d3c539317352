/* SPDX-License-Identifier: MIT */
/* sgstore.h -- the Signal key store (sg_store_ops, see signal/sg_store.h) backed by SQLite.
 *
 * Every callback is one prepared statement on the account database: tables identities,
 * sessions, prekeys, signed_prekeys, sender_keys (migrations.c). Our own identity and
 * registration id come from the credentials row (creds.h); get_local_identity returns
 * -ENODATA until one is saved.
 *
 * Transactions: the callbacks never begin or commit. Run the sg_* operation between
 * st_db_begin() and st_db_commit() (roll back on any error) so that the Signal state
 * change and the inbox/outbox rows it goes with are committed together (design.md
 * "Durability protocol"). Outside a transaction each write autocommits on its own.
 *
 * Limits: address names and group ids up to ST_SG_NAME_MAX bytes (-EINVAL beyond), records
 * up to ST_SG_RECORD_MAX bytes (-ENOBUFS beyond). Errors are negative errnos as in db.h,
 * with the detail in st_db_last_error().
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signal/sg_store.h"
#include "store/db.h"

#define ST_SG_NAME_MAX   512
#define ST_SG_RECORD_MAX (4u << 20)

/* The operations table; user data = struct st_db *. */
const struct sg_store_ops *st_sgstore_ops(void);
/* An sg_store over db with the given trust policy (db must outlive its use). */
struct sg_store st_sgstore(struct st_db *db, enum sg_trust trust);

/* Pre-key bookkeeping: number of one-time pre-keys stored and how many are uploaded. */
int st_sg_prekey_count(struct st_db *db, size_t *total, size_t *uploaded)
    __attribute__((warn_unused_result));
/* Mark pre-keys first..last (inclusive ids) as uploaded; returns the number marked. */
int st_sg_prekeys_mark_uploaded(struct st_db *db, uint32_t first, uint32_t last)
    __attribute__((warn_unused_result));

/* Store-wide session repair (design.md "Session repair" 3): delete every session and sender
 * key, keeping credentials, pre-keys and identities. Returns the number of rows deleted. */
int st_sg_reset_sessions(struct st_db *db) __attribute__((warn_unused_result));

/* Delete the sender key of (group, sender name, device): 1 deleted, 0 none, or < 0. */
int st_sg_sender_key_delete(struct st_db *db, const char *group, const char *name, uint32_t device);

/* Sender-key memory: which device JIDs already hold our sender key for a group.
 * put: 0; has: 1 yes / 0 no; clear: number forgotten (e.g. after a retry receipt). */
int st_sg_skmem_put(struct st_db *db, const char *group, const char *device_jid)
    __attribute__((warn_unused_result));
int st_sg_skmem_has(struct st_db *db, const char *group, const char *device_jid)
    __attribute__((warn_unused_result));
int st_sg_skmem_clear(struct st_db *db, const char *group);
