/* SPDX-License-Identifier: MIT */
/* creds.h -- this device's credentials: one row of the account database (wa-protocol.md §9.1).
 *
 * `struct st_creds` is a plain value with fixed-size arrays; it holds private keys, so wipe
 * it after use (st_creds_wipe). st_creds_save() writes the whole row with one statement
 * (an upsert): on its own it is one transaction; inside the caller's st_db_begin/commit it
 * joins that transaction (e.g. pairing results committed before replying to the server).
 * Either the old or the new row survives a crash, never a mix or nothing.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

#define ST_JID_MAX      128 /* longest JID string kept (bytes, without NUL) */
#define ST_NAME_MAX     128 /* push name */
#define ST_PLATFORM_MAX 32
#define ST_ACCOUNT_MAX  4096 /* ADVSignedDeviceIdentity bytes */

struct st_creds {
    uint8_t noise_priv[32], noise_pub[32];
    uint8_t identity_priv[32], identity_pub[32];
    uint32_t registration_id; /* ≥ 1 */
    uint32_t spk_id;          /* 1..0xFFFFFF */
    uint8_t spk_priv[32], spk_pub[32];
    uint8_t spk_sig[64];
    uint8_t adv_secret[32];
    char me_pn[ST_JID_MAX + 1];  /* "" before pairing */
    char me_lid[ST_JID_MAX + 1]; /* "" before pairing */
    char push_name[ST_NAME_MAX + 1];
    char platform[ST_PLATFORM_MAX + 1];
    uint8_t account[ST_ACCOUNT_MAX]; /* raw ADVSignedDeviceIdentity; account_len 0 = none */
    size_t account_len;
    uint32_t next_prekey_id;             /* 1..0xFFFFFF */
    uint32_t first_unuploaded_prekey_id; /* 1..0xFFFFFF */
    int64_t created, updated;            /* Unix seconds; set by save / read by load */
};

/* 1 if a credentials row exists, 0 if not, negative errno. */
int st_creds_exists(struct st_db *db) __attribute__((warn_unused_result));
/* Load the row into *out: 0, -ENOENT when there is none, -EUCLEAN if a stored value has
 * the wrong size, or another negative errno. */
int st_creds_load(struct st_db *db, struct st_creds *out) __attribute__((warn_unused_result));
/* Insert or replace the row (created is kept on update; updated = now). -EINVAL when a
 * field is out of range (string too long, zero registration id, bad ids); see db.h. */
int st_creds_save(struct st_db *db, const struct st_creds *c) __attribute__((warn_unused_result));
/* Zero a creds struct (OPENSSL_cleanse). */
void st_creds_wipe(struct st_creds *c);
