/* SPDX-License-Identifier: MIT */
/* sg_memstore.h -- in-memory sg_store implementation with hard caps (fake server, tests).
 *
 * Keeps deep copies of every record in per-kind arrays (lookups are linear: meant for
 * tens to a few thousand entries). Every kind has a cap on the number of entries; storing a
 * new entry beyond it fails with -ENOSPC (replacing an existing one always works), and a
 * record longer than max_record_len fails with -ENOBUFS. Not thread-safe.
 *
 * Snapshots: sg_memstore_clone() makes an independent deep copy; sg_memstore_restore()
 * replaces a store's whole contents (identity included) with a deep copy of another, keeping
 * the store object itself (and every sg_store/libsignal context pointing at it) valid. This
 * models a crash that loses everything written after the snapshot.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "signal/sg_store.h"

enum sg_mem_kind {
    SG_MEM_SESSION = 0,
    SG_MEM_PREKEY,
    SG_MEM_SIGNED_PREKEY,
    SG_MEM_SENDER_KEY,
    SG_MEM_IDENTITY, /* peers' identity keys */
    SG_MEM_KINDS
};

struct sg_memstore_limits {
    size_t max_entries[SG_MEM_KINDS]; /* 0 = default for that kind */
    size_t max_record_len;            /* 0 = default (SG_MEM_DEFAULT_RECORD_MAX) */
};

#define SG_MEM_DEFAULT_SESSIONS       4096
#define SG_MEM_DEFAULT_PREKEYS        2048
#define SG_MEM_DEFAULT_SIGNED_PREKEYS 8
#define SG_MEM_DEFAULT_SENDER_KEYS    4096
#define SG_MEM_DEFAULT_IDENTITIES     4096
#define SG_MEM_DEFAULT_RECORD_MAX     (4u << 20)
#define SG_MEM_NAME_MAX               512 /* longest address name / group id accepted */

struct sg_memstore;

/* New empty store (no identity yet). lim may be NULL for the defaults. 0 or -ENOMEM. */
int sg_memstore_new(struct sg_memstore **out, const struct sg_memstore_limits *lim)
    __attribute__((warn_unused_result));
/* Free the store and wipe its key material. NULL is a no-op. */
void sg_memstore_free(struct sg_memstore *ms);

/* Set our identity (copied). */
void sg_memstore_set_identity(struct sg_memstore *ms, const struct sg_identity *id);

/* An sg_store bound to ms with the given trust policy (ms must outlive its use). */
struct sg_store sg_memstore_store(struct sg_memstore *ms, enum sg_trust trust);

/* The operations table; user data = struct sg_memstore *. */
const struct sg_store_ops *sg_memstore_ops(void);

/* Number of entries of a kind. */
size_t sg_memstore_count(const struct sg_memstore *ms, enum sg_mem_kind kind);

/* Deep copy (limits included). 0 or -ENOMEM. */
int sg_memstore_clone(const struct sg_memstore *ms, struct sg_memstore **out)
    __attribute__((warn_unused_result));
/* Replace ms's contents by a deep copy of snap's. 0 or -ENOMEM (ms unchanged then). */
int sg_memstore_restore(struct sg_memstore *ms, const struct sg_memstore *snap)
    __attribute__((warn_unused_result));
