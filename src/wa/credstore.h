/* SPDX-License-Identifier: MIT */
/* credstore.h -- the linked device's credentials (wa/creds.h) in the account store
 * (store/creds.h): the one place that copies between the two shapes.
 *
 * wa_creds_store() writes c as the credentials row (the first un-uploaded pre-key id is
 * c->next_prekey_id); wa_creds_fetch() reads it back and validates it. Secrets in the
 * intermediate row are wiped. Errors: 0; fetch: -ENOENT (no row), -EUCLEAN (a row that is
 * not valid credentials: oversized fields, bad keys); store errors as store/db.h.
 */
#pragma once
#include "store/db.h"
#include "wa/creds.h"

int wa_creds_store(struct st_db *db, const struct wa_creds *c) __attribute__((warn_unused_result));
int wa_creds_fetch(struct st_db *db, struct wa_creds *out) __attribute__((warn_unused_result));
/* A signed pre-key rotation's durable step (store/spkstore.h): in ONE transaction, the new
 * key's record `rec` (st_spk_put_new, created = now, not uploaded) and `nc` naming it as the
 * current key. Refused with -EALREADY inside another transaction; on any error nothing of it
 * is kept. */
int wa_creds_store_spk(struct st_db *db, const struct wa_creds *nc, const uint8_t *rec, size_t len,
                       int64_t now) __attribute__((warn_unused_result));
