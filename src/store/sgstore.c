/* SPDX-License-Identifier: MIT */
/* sgstore.c -- sg_store_ops over the account database: one prepared statement per callback. */
#include "store/sgstore.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "store/db_int.h"

#define DB(ud) ((struct st_db *)(ud))

/* Bind a Signal address as (?first = name, ?first+1 = device). */
static int bind_addr(struct st_db *db, sqlite3_stmt *s, int first, const signal_protocol_address *a)
{
    if (!a || !a->name || !a->name_len || a->name_len > ST_SG_NAME_MAX)
        return st_db__failf(db, -EINVAL, "bad Signal address");
    sqlite3_bind_text(s, first, a->name, (int)a->name_len, SQLITE_STATIC);
    sqlite3_bind_int(s, first + 1, a->device_id);
    return 0;
}

static int bind_record(struct st_db *db, sqlite3_stmt *s, int i, const uint8_t *rec, size_t len)
{
    if (len > ST_SG_RECORD_MAX) return st_db__failf(db, -ENOBUFS, "record too large (%zu)", len);
    sqlite3_bind_blob(s, i, len ? (const void *)rec : (const void *)"", (int)len, SQLITE_STATIC);
    return 0;
}

/* Step a lookup whose column 0 is a record: 1 + new signal_buffer, 0 absent, negative. */
static int load_record(struct st_db *db, sqlite3_stmt *s, signal_buffer **out, const char *what)
{
    int rc = st_db__row(db, s, what);
    if (rc <= 0) return rc;
    const void *p = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    *out = signal_buffer_create(p ? p : (const void *)"", n);
    sqlite3_reset(s);
    return *out ? 1 : -ENOMEM;
}

/* Run a write; for deletes return 1 when a row went away, 0 if none. */
static int write_stmt(struct st_db *db, sqlite3_stmt *s, const char *what, bool count)
{
    int rc = st_db__exec(db, s, what);
    sqlite3_clear_bindings(s);
    if (rc < 0) return rc;
    return count ? st_db__changes(db) : 0;
}

/* ---- identity ---- */

static int op_get_local_identity(void *ud, struct sg_identity *out)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_LOCAL_IDENTITY);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(DB(ud), s, "local identity");
    if (rc == 0) return st_db__failf(DB(ud), -ENODATA, "no local identity (no credentials)");
    if (rc < 0) return rc;
    rc = 0;
    if (sqlite3_column_bytes(s, 0) != SG_KEY_LEN || sqlite3_column_bytes(s, 1) != SG_KEY_LEN)
        rc = st_db__failf(DB(ud), -EUCLEAN, "local identity has the wrong size");
    else {
        memcpy(out->kp.priv, sqlite3_column_blob(s, 0), SG_KEY_LEN);
        memcpy(out->kp.pub, sqlite3_column_blob(s, 1), SG_KEY_LEN);
        out->registration_id = (uint32_t)sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc;
}

static int op_load_identity(void *ud, const signal_protocol_address *a, uint8_t key[SG_KEY_LEN])
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_IDENT_GET);
    if (!s) return -ENOTSUP;
    int rc = bind_addr(DB(ud), s, 1, a);
    if (rc == 0) rc = st_db__row(DB(ud), s, "load identity");
    if (rc <= 0) return rc;
    if (sqlite3_column_bytes(s, 0) == SG_KEY_LEN)
        memcpy(key, sqlite3_column_blob(s, 0), SG_KEY_LEN);
    else
        rc = 0; /* CHECK prevents this; treat as absent */
    sqlite3_reset(s);
    return rc;
}

static int op_save_identity(void *ud, const signal_protocol_address *a,
                            const uint8_t key[SG_KEY_LEN])
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), key ? ST_Q_IDENT_PUT : ST_Q_IDENT_DEL);
    if (!s) return -ENOTSUP;
    int rc = bind_addr(DB(ud), s, 1, a);
    if (rc) return rc;
    if (key) sqlite3_bind_blob(s, 3, key, SG_KEY_LEN, SQLITE_STATIC);
    rc = write_stmt(DB(ud), s, "save identity", false);
    return rc < 0 ? rc : 0;
}

/* ---- sessions ---- */

static int op_load_session(void *ud, const signal_protocol_address *a, signal_buffer **out)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SESSION_GET);
    if (!s) return -ENOTSUP;
    int rc = bind_addr(DB(ud), s, 1, a);
    return rc ? rc : load_record(DB(ud), s, out, "load session");
}

static int op_store_session(void *ud, const signal_protocol_address *a, const uint8_t *rec,
                            size_t len)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SESSION_PUT);
    if (!s) return -ENOTSUP;
    int rc = bind_addr(DB(ud), s, 1, a);
    if (!rc) rc = bind_record(DB(ud), s, 3, rec, len);
    return rc ? rc : write_stmt(DB(ud), s, "store session", false);
}

static int op_delete_session(void *ud, const signal_protocol_address *a)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SESSION_DEL);
    if (!s) return -ENOTSUP;
    int rc = bind_addr(DB(ud), s, 1, a);
    if (rc) return rc;
    rc = write_stmt(DB(ud), s, "delete session", true);
    return rc > 0 ? 1 : rc;
}

static int bind_name(struct st_db *db, sqlite3_stmt *s, const char *name, size_t len)
{
    if (!name || !len || len > ST_SG_NAME_MAX) return st_db__failf(db, -EINVAL, "bad name");
    sqlite3_bind_text(s, 1, name, (int)len, SQLITE_STATIC);
    return 0;
}

static int op_delete_all_sessions(void *ud, const char *name, size_t len)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SESSION_DEL_ALL);
    if (!s) return -ENOTSUP;
    int rc = bind_name(DB(ud), s, name, len);
    return rc ? rc : write_stmt(DB(ud), s, "delete sessions", true);
}

static int op_list_session_devices(void *ud, const char *name, size_t len, signal_int_list *out)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SESSION_DEVICES);
    if (!s) return -ENOTSUP;
    int rc = bind_name(DB(ud), s, name, len), n = 0;
    while (rc == 0 && (rc = st_db__row(DB(ud), s, "list sessions")) == 1) {
        if (signal_int_list_push_back(out, sqlite3_column_int(s, 0)) < 0) {
            sqlite3_reset(s);
            return -ENOMEM;
        }
        n++;
        rc = 0;
    }
    return rc < 0 ? rc : n;
}

/* ---- pre-keys ---- */

static int id_op(void *ud, enum st_q q, uint32_t id, const uint8_t *rec, size_t len,
                 signal_buffer **out, const char *what)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), q);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, id);
    if (out) return load_record(DB(ud), s, out, what);
    if (rec) {
        int rc = bind_record(DB(ud), s, 2, rec, len);
        return rc ? rc : write_stmt(DB(ud), s, what, false);
    }
    int rc = write_stmt(DB(ud), s, what, true);
    return rc > 0 ? 1 : rc;
}

static int op_load_prekey(void *ud, uint32_t id, signal_buffer **out)
{
    return id_op(ud, ST_Q_PREKEY_GET, id, NULL, 0, out, "load pre-key");
}

static int op_store_prekey(void *ud, uint32_t id, const uint8_t *rec, size_t len)
{
    return id_op(ud, ST_Q_PREKEY_PUT, id, rec ? rec : (const uint8_t *)"", len, NULL,
                 "store pre-key");
}

static int op_remove_prekey(void *ud, uint32_t id)
{
    return id_op(ud, ST_Q_PREKEY_DEL, id, NULL, 0, NULL, "remove pre-key");
}

static int op_load_signed_prekey(void *ud, uint32_t id, signal_buffer **out)
{
    return id_op(ud, ST_Q_SPK_GET, id, NULL, 0, out, "load signed pre-key");
}

static int op_store_signed_prekey(void *ud, uint32_t id, const uint8_t *rec, size_t len)
{
    return id_op(ud, ST_Q_SPK_PUT, id, rec ? rec : (const uint8_t *)"", len, NULL,
                 "store signed pre-key");
}

static int op_remove_signed_prekey(void *ud, uint32_t id)
{
    return id_op(ud, ST_Q_SPK_DEL, id, NULL, 0, NULL, "remove signed pre-key");
}

/* ---- sender keys ---- */

static int bind_skn(struct st_db *db, sqlite3_stmt *s, const signal_protocol_sender_key_name *n)
{
    if (!n || !n->group_id || !n->group_id_len || n->group_id_len > ST_SG_NAME_MAX)
        return st_db__failf(db, -EINVAL, "bad group id");
    sqlite3_bind_text(s, 1, n->group_id, (int)n->group_id_len, SQLITE_STATIC);
    return bind_addr(db, s, 2, &n->sender);
}

static int op_load_sender_key(void *ud, const signal_protocol_sender_key_name *n,
                              signal_buffer **out)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SENDERKEY_GET);
    if (!s) return -ENOTSUP;
    int rc = bind_skn(DB(ud), s, n);
    return rc ? rc : load_record(DB(ud), s, out, "load sender key");
}

static int op_store_sender_key(void *ud, const signal_protocol_sender_key_name *n,
                               const uint8_t *rec, size_t len)
{
    sqlite3_stmt *s = st_db__stmt(DB(ud), ST_Q_SENDERKEY_PUT);
    if (!s) return -ENOTSUP;
    int rc = bind_skn(DB(ud), s, n);
    if (!rc) rc = bind_record(DB(ud), s, 4, rec, len);
    return rc ? rc : write_stmt(DB(ud), s, "store sender key", false);
}

static const struct sg_store_ops ops = {
    .get_local_identity = op_get_local_identity,
    .load_session = op_load_session,
    .store_session = op_store_session,
    .delete_session = op_delete_session,
    .delete_all_sessions = op_delete_all_sessions,
    .list_session_devices = op_list_session_devices,
    .load_prekey = op_load_prekey,
    .store_prekey = op_store_prekey,
    .remove_prekey = op_remove_prekey,
    .load_signed_prekey = op_load_signed_prekey,
    .store_signed_prekey = op_store_signed_prekey,
    .remove_signed_prekey = op_remove_signed_prekey,
    .load_sender_key = op_load_sender_key,
    .store_sender_key = op_store_sender_key,
    .load_identity = op_load_identity,
    .save_identity = op_save_identity,
};

const struct sg_store_ops *st_sgstore_ops(void)
{
    return &ops;
}

struct sg_store st_sgstore(struct st_db *db, enum sg_trust trust)
{
    return (struct sg_store){.ops = &ops, .ud = db, .trust = trust};
}

/* ---- extras ---- */

int st_sg_prekey_count(struct st_db *db, size_t *total, size_t *uploaded)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_PREKEY_COUNT);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "count pre-keys");
    if (rc < 0) return rc;
    *total = rc ? (size_t)sqlite3_column_int64(s, 0) : 0;
    *uploaded = rc ? (size_t)sqlite3_column_int64(s, 1) : 0;
    sqlite3_reset(s);
    return 0;
}

int st_sg_prekeys_mark_uploaded(struct st_db *db, uint32_t first, uint32_t last)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_PREKEY_MARK_UPLOADED);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, last);
    return write_stmt(db, s, "mark pre-keys uploaded", true);
}

int st_sg_reset_sessions(struct st_db *db)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_SESSION_WIPE);
    if (!s) return -ENOTSUP;
    int a = write_stmt(db, s, "wipe sessions", true);
    if (a < 0) return a;
    s = st_db__stmt(db, ST_Q_SENDERKEY_WIPE);
    int b = write_stmt(db, s, "wipe sender keys", true);
    return b < 0 ? b : a + b;
}

int st_sg_sender_key_delete(struct st_db *db, const char *group, const char *name, uint32_t device)
{
    if (!group || !name || strlen(group) > ST_SG_NAME_MAX || strlen(name) > ST_SG_NAME_MAX)
        return st_db__failf(db, -EINVAL, "bad group or sender");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_SENDERKEY_DEL);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, device);
    int rc = st_db__exec(db, s, "delete sender key");
    return rc < 0 ? rc : st_db__changes(db) > 0;
}

static sqlite3_stmt *skmem_stmt(struct st_db *db, enum st_q q, const char *group, const char *dev)
{
    if (!group || !*group || strlen(group) > ST_SG_NAME_MAX || (dev && strlen(dev) > 256)) {
        st_db__failf(db, -EINVAL, "bad group or device");
        return NULL;
    }
    sqlite3_stmt *s = st_db__stmt(db, q);
    if (!s) return NULL;
    sqlite3_bind_text(s, 1, group, -1, SQLITE_STATIC);
    if (dev) sqlite3_bind_text(s, 2, dev, -1, SQLITE_STATIC);
    return s;
}

int st_sg_skmem_put(struct st_db *db, const char *group, const char *device_jid)
{
    if (!device_jid || !*device_jid) return st_db__failf(db, -EINVAL, "empty device");
    sqlite3_stmt *s = skmem_stmt(db, ST_Q_SKMEM_PUT, group, device_jid);
    return s ? write_stmt(db, s, "sender-key memory put", false) : -EINVAL;
}

int st_sg_skmem_has(struct st_db *db, const char *group, const char *device_jid)
{
    if (!device_jid) return st_db__failf(db, -EINVAL, "empty device");
    sqlite3_stmt *s = skmem_stmt(db, ST_Q_SKMEM_HAS, group, device_jid);
    if (!s) return -EINVAL;
    int rc = st_db__row(db, s, "sender-key memory has");
    if (rc == 1) sqlite3_reset(s);
    return rc;
}

int st_sg_skmem_clear(struct st_db *db, const char *group)
{
    sqlite3_stmt *s = skmem_stmt(db, ST_Q_SKMEM_CLEAR, group, NULL);
    return s ? write_stmt(db, s, "sender-key memory clear", true) : -EINVAL;
}
