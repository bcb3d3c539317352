/* SPDX-License-Identifier: MIT */
/* creds.c -- load/save of the one credentials row. */
#include "store/creds.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>
#include <time.h>

#include "store/db_int.h"

void st_creds_wipe(struct st_creds *c)
{
    OPENSSL_cleanse(c, sizeof *c);
}

int st_creds_exists(struct st_db *db)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_CREDS_EXISTS);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "creds exists");
    if (rc == 1) sqlite3_reset(s);
    return rc;
}

/* Copy a fixed-size blob column; -EUCLEAN if its size differs. */
static int col_key(sqlite3_stmt *s, int i, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(s, i);
    if (!p || (size_t)sqlite3_column_bytes(s, i) != n) return -EUCLEAN;
    memcpy(out, p, n);
    return 0;
}

static int col_str(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    const unsigned char *p = sqlite3_column_text(s, i);
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    if (n >= cap) return -EUCLEAN;
    if (n) memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

static int read_row(sqlite3_stmt *s, struct st_creds *c)
{
    int rc = col_key(s, 0, c->noise_priv, 32);
    if (!rc) rc = col_key(s, 1, c->noise_pub, 32);
    if (!rc) rc = col_key(s, 2, c->identity_priv, 32);
    if (!rc) rc = col_key(s, 3, c->identity_pub, 32);
    c->registration_id = (uint32_t)sqlite3_column_int64(s, 4);
    c->spk_id = (uint32_t)sqlite3_column_int64(s, 5);
    if (!rc) rc = col_key(s, 6, c->spk_priv, 32);
    if (!rc) rc = col_key(s, 7, c->spk_pub, 32);
    if (!rc) rc = col_key(s, 8, c->spk_sig, 64);
    if (!rc) rc = col_key(s, 9, c->adv_secret, 32);
    if (!rc) rc = col_str(s, 10, c->me_pn, sizeof c->me_pn);
    if (!rc) rc = col_str(s, 11, c->me_lid, sizeof c->me_lid);
    if (!rc) rc = col_str(s, 12, c->push_name, sizeof c->push_name);
    c->account_len = (size_t)sqlite3_column_bytes(s, 13);
    if (!rc && c->account_len > sizeof c->account) rc = -EUCLEAN;
    if (!rc && c->account_len) memcpy(c->account, sqlite3_column_blob(s, 13), c->account_len);
    if (!rc) rc = col_str(s, 14, c->platform, sizeof c->platform);
    c->next_prekey_id = (uint32_t)sqlite3_column_int64(s, 15);
    c->first_unuploaded_prekey_id = (uint32_t)sqlite3_column_int64(s, 16);
    c->created = sqlite3_column_int64(s, 17);
    c->updated = sqlite3_column_int64(s, 18);
    return rc;
}

int st_creds_load(struct st_db *db, struct st_creds *out)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_CREDS_GET);
    if (!s) return -ENOTSUP;
    memset(out, 0, sizeof *out);
    int rc = st_db__row(db, s, "creds load");
    if (rc == 0) return st_db__failf(db, -ENOENT, "no credentials stored");
    if (rc < 0) return rc;
    rc = read_row(s, out);
    sqlite3_reset(s); /* the row's blobs (key material) are released with the reset */
    if (rc) {
        st_creds_wipe(out);
        return st_db__failf(db, rc, "credentials row has a field of the wrong size");
    }
    return 0;
}

static bool str_ok(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

static int check(const struct st_creds *c)
{
    if (!c->registration_id || !c->spk_id || c->spk_id > 0xFFFFFF) return -EINVAL;
    if (!c->next_prekey_id || c->next_prekey_id > 0xFFFFFF) return -EINVAL;
    if (!c->first_unuploaded_prekey_id || c->first_unuploaded_prekey_id > 0xFFFFFF) return -EINVAL;
    if (!str_ok(c->me_pn, sizeof c->me_pn) || !str_ok(c->me_lid, sizeof c->me_lid) ||
        !str_ok(c->push_name, sizeof c->push_name) || !str_ok(c->platform, sizeof c->platform))
        return -EINVAL;
    return c->account_len <= sizeof c->account ? 0 : -EINVAL;
}

int st_creds_save(struct st_db *db, const struct st_creds *c)
{
    if (check(c) < 0) return st_db__failf(db, -EINVAL, "creds save: field out of range");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_CREDS_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_blob(s, 1, c->noise_priv, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, c->noise_pub, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, c->identity_priv, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, c->identity_pub, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, c->registration_id);
    sqlite3_bind_int64(s, 6, c->spk_id);
    sqlite3_bind_blob(s, 7, c->spk_priv, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 8, c->spk_pub, 32, SQLITE_STATIC);
    sqlite3_bind_blob(s, 9, c->spk_sig, 64, SQLITE_STATIC);
    sqlite3_bind_blob(s, 10, c->adv_secret, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, c->me_pn, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, c->me_lid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, c->push_name, -1, SQLITE_STATIC);
    if (c->account_len) sqlite3_bind_blob(s, 14, c->account, (int)c->account_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 15, c->platform, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 16, c->next_prekey_id);
    sqlite3_bind_int64(s, 17, c->first_unuploaded_prekey_id);
    sqlite3_bind_int64(s, 18, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "creds save");
    sqlite3_clear_bindings(s); /* drop the borrowed pointers to key material */
    return rc;
}
