/* SPDX-License-Identifier: MIT */
/* msgstore.c -- inbox, outbox, retry buffer, processed hashes, LID map: one statement each. */
#include "store/msgstore.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db_int.h"

static bool str_ok(const char *s, size_t min, size_t max)
{
    if (!s) return false;
    size_t n = strnlen(s, max + 1);
    return n >= min && n <= max;
}

static int bad(struct st_db *db, const char *what)
{
    return st_db__failf(db, -EINVAL, "%s: argument missing or too long", what);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return NULL;
    const unsigned char *p = sqlite3_column_text(s, i);
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    char *d = malloc(n + 1);
    if (d) {
        if (n) memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

static uint8_t *blob_dup(sqlite3_stmt *s, int i, size_t *len)
{
    const void *p = sqlite3_column_blob(s, i);
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    *len = n;
    return d;
}

static int copy_col(sqlite3_stmt *s, int i, char *out, size_t cap)
{
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    if (!out) return 0;
    if (n >= cap) return -ENOBUFS;
    if (n) memcpy(out, sqlite3_column_text(s, i), n);
    out[n] = 0;
    return 0;
}

static void bind_payload(sqlite3_stmt *s, int i, const uint8_t *p, size_t len)
{
    sqlite3_bind_blob(s, i, len ? (const void *)p : (const void *)"", (int)len, SQLITE_STATIC);
}

/* ---- inbox ---- */

static int inbox_find(struct st_db *db, const char *chat, const char *sender, const char *id,
                      int64_t *cursor)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_FIND);
    sqlite3_bind_text(s, 1, chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "inbox find");
    if (rc == 1) {
        if (cursor) *cursor = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    return rc;
}

int st_inbox_insert(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                    int64_t ts, const char *type, const uint8_t *payload, size_t len,
                    int64_t *cursor)
{
    if (!str_ok(chat, 1, ST_CHAT_MAX) || !str_ok(sender, 0, ST_CHAT_MAX) ||
        !str_ok(msg_id, 1, ST_MSGID_MAX) || !str_ok(type ? type : "", 0, ST_TYPE_MAX) ||
        (!payload && len))
        return bad(db, "inbox insert");
    if (len > ST_PAYLOAD_MAX) return st_db__failf(db, -ENOBUFS, "inbox insert: payload too big");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_INSERT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, ts);
    sqlite3_bind_text(s, 5, type ? type : "", -1, SQLITE_STATIC);
    bind_payload(s, 6, payload, len);
    sqlite3_bind_int64(s, 7, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "inbox insert");
    sqlite3_clear_bindings(s);
    if (rc < 0) return rc;
    if (st_db__changes(db) == 1) {
        if (cursor) *cursor = sqlite3_last_insert_rowid(sqlite3_db_handle(s));
        return 0;
    }
    rc = inbox_find(db, chat, sender, msg_id, cursor);
    if (rc == 0) return st_db__failf(db, -EIO, "inbox insert: conflict but no row");
    return rc < 0 ? rc : ST_DUPLICATE;
}

void st_inbox_list_free(struct st_inbox_msg *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].chat);
        free(v[i].sender);
        free(v[i].msg_id);
        free(v[i].type);
        free(v[i].payload);
        free(v[i].text_raw);
        free(v[i].meta);
        free(v[i].edited_text);
    }
    free(v);
}

static int inbox_row(sqlite3_stmt *s, struct st_inbox_msg *m)
{
    m->cursor = sqlite3_column_int64(s, 0);
    m->chat = col_dup(s, 1);
    m->sender = col_dup(s, 2);
    m->msg_id = col_dup(s, 3);
    m->ts = sqlite3_column_int64(s, 4);
    m->type = col_dup(s, 5);
    m->payload = blob_dup(s, 6, &m->payload_len);
    m->received = sqlite3_column_int64(s, 7);
    m->delivered = sqlite3_column_int(s, 8);
    if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
        m->text_raw = blob_dup(s, 9, &m->text_raw_len);
        if (!m->text_raw) return -ENOMEM;
    }
    m->meta = col_dup(s, 10);
    m->edited_text = col_dup(s, 11);
    m->edited_at = sqlite3_column_int64(s, 12);
    m->revoked_at = sqlite3_column_int64(s, 13);
    if ((sqlite3_column_type(s, 10) != SQLITE_NULL && !m->meta) ||
        (sqlite3_column_type(s, 11) != SQLITE_NULL && !m->edited_text))
        return -ENOMEM;
    return m->chat && m->sender && m->msg_id && m->type && m->payload ? 0 : -ENOMEM;
}

int st_inbox_list(struct st_db *db, int64_t after, size_t limit, struct st_inbox_msg **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!limit || limit > ST_LIST_MAX) return bad(db, "inbox list");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_LIST);
    if (!s) return -ENOTSUP;
    struct st_inbox_msg *v = calloc(limit, sizeof *v);
    if (!v) return -ENOMEM;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, (int64_t)limit);
    size_t k = 0;
    int rc;
    while ((rc = st_db__row(db, s, "inbox list")) == 1) {
        rc = inbox_row(s, &v[k++]);
        if (rc < 0) {
            sqlite3_reset(s);
            break;
        }
    }
    if (rc < 0) {
        st_inbox_list_free(v, k);
        return rc;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

int st_inbox_set_raw(struct st_db *db, int64_t cursor, const uint8_t *raw, size_t len)
{
    if (!raw || !len) return bad(db, "inbox set raw");
    if (len > ST_PAYLOAD_MAX) return st_db__failf(db, -ENOBUFS, "inbox set raw: too big");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_SET_RAW);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    bind_payload(s, 2, raw, len);
    int rc = st_db__exec(db, s, "inbox set raw");
    sqlite3_clear_bindings(s);
    if (rc == 0 && st_db__changes(db) == 0)
        return st_db__failf(db, -ENOENT, "inbox: no message with cursor %lld", (long long)cursor);
    return rc;
}

int st_inbox_set_meta(struct st_db *db, int64_t cursor, const char *meta)
{
    if (!meta || strlen(meta) > ST_META_MAX) return bad(db, "inbox set meta");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_SET_META);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    sqlite3_bind_text(s, 2, meta, -1, SQLITE_STATIC);
    int rc = st_db__exec(db, s, "inbox set meta");
    sqlite3_clear_bindings(s);
    if (rc == 0 && st_db__changes(db) == 0)
        return st_db__failf(db, -ENOENT, "inbox: no message with cursor %lld", (long long)cursor);
    return rc;
}

/* An edit (text non-NULL) or a revoke of (chat, sender, msg_id): 1 applied, 0 no such row. */
static int inbox_amend(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                       const char *text, int64_t at)
{
    if (!str_ok(chat, 1, ST_CHAT_MAX) || !str_ok(sender, 0, ST_CHAT_MAX) ||
        !str_ok(msg_id, 1, ST_MSGID_MAX) || (text && strlen(text) > ST_EDIT_MAX))
        return bad(db, "inbox amend");
    sqlite3_stmt *s = st_db__stmt(db, text ? ST_Q_INBOX_EDIT : ST_Q_INBOX_REVOKE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, msg_id, -1, SQLITE_STATIC);
    if (text) {
        sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, at);
    } else {
        sqlite3_bind_int64(s, 4, at);
    }
    int rc = st_db__exec(db, s, text ? "inbox edit" : "inbox revoke");
    sqlite3_clear_bindings(s);
    return rc < 0 ? rc : st_db__changes(db) > 0;
}

int st_inbox_edit(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                  const char *text, int64_t at)
{
    return inbox_amend(db, chat, sender, msg_id, text ? text : "", at);
}

int st_inbox_revoke(struct st_db *db, const char *chat, const char *sender, const char *msg_id,
                    int64_t at)
{
    return inbox_amend(db, chat, sender, msg_id, NULL, at);
}

int st_inbox_get_by_id(struct st_db *db, const char *chat, const char *msg_id,
                       struct st_inbox_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (!str_ok(chat, 1, ST_CHAT_MAX) || !str_ok(msg_id, 1, ST_MSGID_MAX))
        return bad(db, "inbox get by id");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_BY_ID);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, msg_id, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "inbox get by id");
    if (rc == 1) {
        int r = inbox_row(s, out);
        sqlite3_reset(s);
        if (r < 0) {
            st_inbox_msg_free(out);
            rc = r;
        }
    }
    sqlite3_clear_bindings(s);
    return rc;
}

int st_inbox_chat_of(struct st_db *db, const char *msg_id, char *chat, size_t cap)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX)) return bad(db, "inbox chat of");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_CHAT_OF);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "inbox chat of");
    if (rc == 1) {
        int r = copy_col(s, 0, chat, cap);
        sqlite3_reset(s);
        if (r < 0) rc = r;
    }
    sqlite3_clear_bindings(s);
    return rc;
}

void st_inbox_msg_free(struct st_inbox_msg *m)
{
    if (!m) return;
    free(m->chat);
    free(m->sender);
    free(m->msg_id);
    free(m->type);
    free(m->payload);
    free(m->text_raw);
    free(m->meta);
    free(m->edited_text);
    memset(m, 0, sizeof(*m));
}

static void bind_opt_blob(sqlite3_stmt *s, int i, const uint8_t *p)
{
    if (p)
        sqlite3_bind_blob(s, i, p, 32, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

int st_media_put(struct st_db *db, int64_t cursor, const struct st_media_ref *m)
{
    if (!m || !str_ok(m->kind, 1, 32) || !str_ok(m->mimetype ? m->mimetype : "", 0, 128) ||
        !str_ok(m->direct_path ? m->direct_path : "", 0, ST_MEDIA_URL_MAX) ||
        !str_ok(m->url ? m->url : "", 0, ST_MEDIA_URL_MAX))
        return bad(db, "media put");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MEDIA_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    sqlite3_bind_text(s, 2, m->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, m->mimetype ? m->mimetype : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, m->file_length > INT64_MAX ? INT64_MAX : (int64_t)m->file_length);
    bind_opt_blob(s, 5, m->media_key);
    bind_opt_blob(s, 6, m->sha256);
    bind_opt_blob(s, 7, m->enc_sha256);
    sqlite3_bind_text(s, 8, m->direct_path ? m->direct_path : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, m->url ? m->url : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, m->media_key_ts);
    int rc = st_db__exec(db, s, "media put");
    sqlite3_clear_bindings(s);
    return rc;
}

static void copy_blob32(sqlite3_stmt *s, int i, uint8_t out[32], bool *has)
{
    *has = sqlite3_column_type(s, i) == SQLITE_BLOB && sqlite3_column_bytes(s, i) == 32;
    if (*has) memcpy(out, sqlite3_column_blob(s, i), 32);
}

int st_media_get(struct st_db *db, int64_t cursor, struct st_media_row *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_MEDIA_GET);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    int rc = st_db__row(db, s, "media get");
    if (rc != 1) return rc;
    int r = copy_col(s, 0, out->kind, sizeof out->kind);
    if (r == 0) r = copy_col(s, 1, out->mimetype, sizeof out->mimetype);
    out->file_length = (uint64_t)sqlite3_column_int64(s, 2);
    copy_blob32(s, 3, out->media_key, &out->has_media_key);
    copy_blob32(s, 4, out->sha256, &out->has_sha256);
    copy_blob32(s, 5, out->enc_sha256, &out->has_enc_sha256);
    if (r == 0) r = copy_col(s, 6, out->direct_path, sizeof out->direct_path);
    if (r == 0) r = copy_col(s, 7, out->url, sizeof out->url);
    out->media_key_ts = sqlite3_column_int64(s, 8);
    sqlite3_reset(s);
    return r < 0 ? r : 1;
}

int st_inbox_mark_delivered(struct st_db *db, int64_t cursor)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_MARK);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    int rc = st_db__exec(db, s, "inbox mark delivered");
    if (rc == 0 && st_db__changes(db) == 0)
        return st_db__failf(db, -ENOENT, "inbox: no message with cursor %lld", (long long)cursor);
    return rc;
}

int st_inbox_hw(struct st_db *db, int64_t *hw)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_HW);
    if (!s || !hw) return -EINVAL;
    int rc = st_db__row(db, s, "inbox high-water");
    if (rc != 1) return rc < 0 ? rc : -EIO;
    *hw = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

int st_inbox_raise_hw(struct st_db *db, int64_t hw)
{
    if (hw < 0) return -EINVAL;
    bool own = !st_db_in_txn(db);
    int rc = own ? st_db_begin(db) : 0;
    sqlite3_stmt *s = rc == 0 ? st_db__stmt(db, ST_Q_INBOX_HW_INSERT) : NULL;
    if (rc == 0 && !s) rc = -ENOTSUP;
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, hw);
        rc = st_db__exec(db, s, "inbox high-water insert");
    }
    s = rc == 0 ? st_db__stmt(db, ST_Q_INBOX_HW_RAISE) : NULL;
    if (rc == 0 && !s) rc = -ENOTSUP;
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, hw);
        rc = st_db__exec(db, s, "inbox high-water raise");
    }
    if (own) rc = rc == 0 ? st_db_commit(db) : (st_db_rollback(db), rc);
    return rc;
}

/* ---- agent delivery ---- */

int st_inbox_pending(struct st_db *db, int64_t after, int64_t now_ms, size_t limit,
                     struct st_inbox_msg **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!limit || limit > ST_LIST_MAX) return bad(db, "inbox pending");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_PENDING);
    if (!s) return -ENOTSUP;
    struct st_inbox_msg *v = calloc(limit, sizeof *v);
    if (!v) return -ENOMEM;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, now_ms);
    sqlite3_bind_int64(s, 3, (int64_t)limit);
    size_t k = 0;
    int rc;
    while ((rc = st_db__row(db, s, "inbox pending")) == 1) {
        v[k].attempts = sqlite3_column_int(s, 14);
        rc = inbox_row(s, &v[k++]);
        if (rc < 0) {
            sqlite3_reset(s);
            break;
        }
    }
    if (rc < 0) {
        st_inbox_list_free(v, k);
        return rc;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

int st_inbox_next_due(struct st_db *db, int64_t now_ms, int64_t *at)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_NEXT_DUE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, now_ms);
    int rc = st_db__row(db, s, "inbox next due");
    if (rc != 1) return rc;
    int found = sqlite3_column_type(s, 0) != SQLITE_NULL;
    if (found) *at = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return found;
}

int st_inbox_count_pending(struct st_db *db, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_COUNT_PENDING);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "inbox count pending");
    if (rc != 1) return rc < 0 ? rc : -EIO;
    *n = (size_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return 0;
}

int st_inbox_oldest_pending(struct st_db *db, int64_t *received)
{
    *received = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_OLDEST_PENDING);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "inbox oldest pending");
    if (rc == 1) *received = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc;
}

int st_inbox_settle_upto(struct st_db *db, int64_t upto)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_INBOX_SETTLE_UPTO);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, upto);
    int rc = st_db__exec(db, s, "inbox settle");
    return rc < 0 ? rc : st_db__changes(db);
}

int st_hook_state_put(struct st_db *db, int64_t cursor, int attempts, int64_t next_at,
                      const char *error, int gave_up)
{
    if (attempts < 0 || (error && strnlen(error, 513) > 512)) return bad(db, "hook state put");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_HOOK_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_int64(s, 3, next_at);
    if (error)
        sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int(s, 5, gave_up ? 1 : 0);
    int rc = st_db__exec(db, s, "hook state put");
    sqlite3_clear_bindings(s);
    return rc;
}

int st_hook_state_get(struct st_db *db, int64_t cursor, struct st_hook_state *out)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_HOOK_GET);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    int rc = st_db__row(db, s, "hook state get");
    if (rc != 1) return rc;
    out->attempts = sqlite3_column_int(s, 0);
    out->next_at = sqlite3_column_int64(s, 1);
    rc = copy_col(s, 2, out->error, sizeof out->error);
    out->gave_up = sqlite3_column_int(s, 3);
    sqlite3_reset(s);
    return rc < 0 ? rc : 1;
}

/* ---- outbox ---- */

static const char *const state_names[] = {"queued", "sent", "delivered", "read", "failed"};

const char *st_out_state_name(enum st_out_state s)
{
    return (unsigned)s <= ST_OUT_FAILED ? state_names[s] : NULL;
}

static enum st_out_state state_parse(const unsigned char *t)
{
    for (int i = 0; i <= ST_OUT_FAILED; i++)
        if (t && strcmp((const char *)t, state_names[i]) == 0) return (enum st_out_state)i;
    return ST_OUT_FAILED;
}

void st_outbox_msg_free(struct st_outbox_msg *m)
{
    if (!m) return;
    free(m->idem_key);
    free(m->msg_id);
    free(m->to);
    free(m->error);
    free(m->payload);
    memset(m, 0, sizeof *m);
}

void st_outbox_list_free(struct st_outbox_msg *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        st_outbox_msg_free(&v[i]);
    free(v);
}

static int outbox_row(sqlite3_stmt *s, struct st_outbox_msg *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(s, 0);
    m->idem_key = col_dup(s, 1);
    m->msg_id = col_dup(s, 2);
    m->to = col_dup(s, 3);
    m->payload = blob_dup(s, 4, &m->payload_len);
    m->state = state_parse(sqlite3_column_text(s, 5));
    m->error = col_dup(s, 6);
    m->attempts = sqlite3_column_int(s, 7);
    m->created = sqlite3_column_int64(s, 8);
    m->updated = sqlite3_column_int64(s, 9);
    if (m->idem_key && m->msg_id && m->to && m->payload) return 0;
    st_outbox_msg_free(m);
    return -ENOMEM;
}

/* Look up one outbox row by key (ST_Q_OUTBOX_BY_KEY / _BY_MSGID): 1, 0, negative. */
static int outbox_one(struct st_db *db, enum st_q q, const char *k, struct st_outbox_msg *out)
{
    sqlite3_stmt *s = st_db__stmt(db, q);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "outbox get");
    if (rc != 1) return rc;
    rc = out ? outbox_row(s, out) : 0;
    sqlite3_reset(s);
    return rc < 0 ? rc : 1;
}

int st_outbox_enqueue(struct st_db *db, const char *idem_key, const char *msg_id, const char *to,
                      const uint8_t *payload, size_t len, struct st_outbox_msg *existing)
{
    if (!str_ok(idem_key, 1, ST_IDEM_MAX) || !str_ok(msg_id, 1, ST_MSGID_MAX) ||
        !str_ok(to, 1, ST_CHAT_MAX) || (!payload && len))
        return bad(db, "outbox enqueue");
    if (len > ST_PAYLOAD_MAX) return st_db__failf(db, -ENOBUFS, "outbox: payload too big");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_OUTBOX_INSERT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, idem_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, to, -1, SQLITE_STATIC);
    bind_payload(s, 4, payload, len);
    sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "outbox enqueue");
    sqlite3_clear_bindings(s);
    if (rc < 0) return rc; /* includes -EINVAL for a msg_id reused under another key */
    if (st_db__changes(db) == 1) return 0;
    rc = outbox_one(db, ST_Q_OUTBOX_BY_KEY, idem_key, existing);
    if (rc == 0) return st_db__failf(db, -EIO, "outbox: conflict but no row");
    return rc < 0 ? rc : ST_DUPLICATE;
}

int st_outbox_get(struct st_db *db, const char *msg_id, struct st_outbox_msg *out)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX)) return bad(db, "outbox get");
    int rc = outbox_one(db, ST_Q_OUTBOX_BY_MSGID, msg_id, out);
    if (rc == 0) return st_db__failf(db, -ENOENT, "outbox: no message %s", msg_id);
    return rc < 0 ? rc : 0;
}

/* 0 apply, ST_DUPLICATE ignore, -EINVAL refuse. */
static int transition(enum st_out_state from, enum st_out_state to)
{
    if (from == to) return ST_DUPLICATE;
    if (to == ST_OUT_FAILED) return from <= ST_OUT_SENT ? 0 : -EINVAL;
    if (from == ST_OUT_FAILED) return 0;                      /* retry or a late ack */
    if (from == ST_OUT_SENT && to == ST_OUT_QUEUED) return 0; /* requeue for resend */
    return to > from ? 0 : ST_DUPLICATE;
}

int st_outbox_set_state(struct st_db *db, const char *msg_id, enum st_out_state to,
                        const char *error)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX) || (unsigned)to > ST_OUT_FAILED)
        return bad(db, "outbox set state");
    struct st_outbox_msg cur;
    int rc = st_outbox_get(db, msg_id, &cur);
    if (rc < 0) return rc;
    rc = transition(cur.state, to);
    if (rc < 0)
        st_db__failf(db, rc, "outbox %s: %s -> %s not allowed", msg_id, state_names[cur.state],
                     state_names[to]);
    st_outbox_msg_free(&cur);
    if (rc != 0) return rc;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_OUTBOX_SET_STATE);
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, state_names[to], -1, SQLITE_STATIC);
    if (to == ST_OUT_FAILED && error) sqlite3_bind_text(s, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, to == ST_OUT_SENT);
    sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
    rc = st_db__exec(db, s, "outbox set state");
    sqlite3_clear_bindings(s);
    return rc;
}

int st_outbox_count_queued(struct st_db *db, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_OUTBOX_COUNT_QUEUED);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "outbox count");
    if (rc < 0) return rc;
    *n = rc ? (size_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return 0;
}

static int outbox_list(struct st_db *db, enum st_q q, size_t limit, struct st_outbox_msg **out,
                       size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!limit || limit > ST_LIST_MAX) return bad(db, "outbox list");
    sqlite3_stmt *s = st_db__stmt(db, q);
    if (!s) return -ENOTSUP;
    struct st_outbox_msg *v = calloc(limit, sizeof *v);
    if (!v) return -ENOMEM;
    sqlite3_bind_int64(s, 1, (int64_t)limit);
    size_t k = 0;
    int rc;
    while ((rc = st_db__row(db, s, "outbox list")) == 1) {
        rc = outbox_row(s, &v[k]);
        if (rc < 0) {
            sqlite3_reset(s);
            break;
        }
        k++;
    }
    if (rc < 0) {
        st_outbox_list_free(v, k);
        return rc;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

int st_outbox_list_queued(struct st_db *db, size_t limit, struct st_outbox_msg **out, size_t *n)
{
    return outbox_list(db, ST_Q_OUTBOX_LIST_QUEUED, limit, out, n);
}

int st_outbox_list_held(struct st_db *db, size_t limit, struct st_outbox_msg **out, size_t *n)
{
    return outbox_list(db, ST_Q_OUTBOX_LIST_HELD, limit, out, n);
}

int st_outbox_get_by_key(struct st_db *db, const char *idem_key, struct st_outbox_msg *out)
{
    if (!str_ok(idem_key, 1, ST_IDEM_MAX)) return bad(db, "outbox get");
    return outbox_one(db, ST_Q_OUTBOX_BY_KEY, idem_key, out);
}

int st_outbox_hold(struct st_db *db, const char *msg_id, const char *why)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX) || !why || !why[0] || strnlen(why, 513) > 512)
        return bad(db, "outbox hold");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_OUTBOX_HOLD);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, why, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "outbox hold");
    sqlite3_clear_bindings(s);
    if (rc == 0 && st_db__changes(db) != 1)
        return st_db__failf(db, -ENOENT, "outbox: no queued message %s", msg_id);
    return rc;
}

int st_outbox_unhold(struct st_db *db, const char *msg_id, const uint8_t *payload, size_t len)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX) || !payload || !len) return bad(db, "outbox unhold");
    if (len > ST_PAYLOAD_MAX) return st_db__failf(db, -ENOBUFS, "outbox: payload too big");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_OUTBOX_UNHOLD);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    bind_payload(s, 2, payload, len);
    sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "outbox unhold");
    sqlite3_clear_bindings(s);
    if (rc == 0 && st_db__changes(db) != 1)
        return st_db__failf(db, -ENOENT, "outbox: no held message %s", msg_id);
    return rc;
}

/* ---- retry buffer ---- */

int st_retry_put(struct st_db *db, const char *msg_id, const char *to, const uint8_t *payload,
                 size_t len, int64_t now)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX) || !str_ok(to, 1, ST_CHAT_MAX) || (!payload && len))
        return bad(db, "retry put");
    if (len > ST_PAYLOAD_MAX) return st_db__failf(db, -ENOBUFS, "retry: payload too big");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_RETRY_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
    bind_payload(s, 3, payload, len);
    sqlite3_bind_int64(s, 4, now);
    int rc = st_db__exec(db, s, "retry put");
    sqlite3_clear_bindings(s);
    return rc;
}

int st_retry_get(struct st_db *db, const char *msg_id, char *to_out, size_t to_cap,
                 uint8_t **payload, size_t *len)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX)) return bad(db, "retry get");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_RETRY_GET);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "retry get");
    if (rc != 1) return rc;
    rc = copy_col(s, 0, to_out, to_cap);
    if (rc == 0) {
        *payload = blob_dup(s, 1, len);
        rc = *payload ? 1 : -ENOMEM;
    }
    sqlite3_reset(s);
    return rc;
}

int st_retry_purge(struct st_db *db, int64_t now, int64_t max_age)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_RETRY_PURGE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, now - max_age);
    int rc = st_db__exec(db, s, "retry purge");
    return rc < 0 ? rc : st_db__changes(db);
}

/* ---- undecryptable ---- */

int st_undec_put(struct st_db *db, const struct st_undec *u)
{
    if (!u || !str_ok(u->device, 1, 256) || !str_ok(u->msg_id, 1, ST_MSGID_MAX - 1) ||
        !str_ok(u->chat, 1, 256) || !str_ok(u->sender, 0, 256) ||
        !str_ok(u->reason, 0, ST_UNDEC_REASON_MAX - 1) || u->count > 100)
        return bad(db, "undecryptable put");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_UNDEC_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, u->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, u->msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, u->chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, u->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, u->ts);
    sqlite3_bind_text(s, 6, u->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, u->count);
    sqlite3_bind_int64(s, 8, u->first_seen ? u->first_seen : (int64_t)time(NULL));
    return st_db__exec(db, s, "undecryptable put");
}

int st_undec_del(struct st_db *db, const char *device, const char *msg_id)
{
    if (!str_ok(device, 1, 256) || !str_ok(msg_id, 1, ST_MSGID_MAX - 1))
        return bad(db, "undecryptable del");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_UNDEC_DEL);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, msg_id, -1, SQLITE_STATIC);
    int rc = st_db__exec(db, s, "undecryptable del");
    return rc < 0 ? rc : st_db__changes(db) > 0;
}

int st_undec_list(struct st_db *db, struct st_undec *out, size_t cap, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_UNDEC_LIST);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, (int64_t)cap);
    int rc = 0;
    while (*n < cap && (rc = st_db__row(db, s, "undecryptable list")) == 1) {
        struct st_undec *u = &out[*n];
        memset(u, 0, sizeof(*u));
        bool ok = copy_col(s, 0, u->device, sizeof(u->device)) == 0 &&
                  copy_col(s, 1, u->msg_id, sizeof(u->msg_id)) == 0 &&
                  copy_col(s, 2, u->chat, sizeof(u->chat)) == 0 &&
                  copy_col(s, 3, u->sender, sizeof(u->sender)) == 0 &&
                  copy_col(s, 5, u->reason, sizeof(u->reason)) == 0;
        u->ts = sqlite3_column_int64(s, 4);
        u->count = (unsigned)sqlite3_column_int64(s, 6);
        u->first_seen = sqlite3_column_int64(s, 7);
        if (ok) ++*n;
    }
    sqlite3_reset(s);
    return rc < 0 ? rc : 0;
}

/* ---- processed ---- */

void st_ciphertext_hash(const uint8_t *ct, size_t len, uint8_t hash[static 32])
{
    SHA256(ct, len, hash);
}

int st_processed_check(struct st_db *db, const uint8_t hash[static 32], char *id_out, size_t id_cap)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_PROC_HAS);
    if (!s) return -ENOTSUP;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int rc = st_db__row(db, s, "processed check");
    if (rc != 1) return rc;
    rc = copy_col(s, 0, id_out, id_cap);
    sqlite3_reset(s);
    return rc < 0 ? rc : 1;
}

int st_processed_put(struct st_db *db, const uint8_t hash[static 32], const char *msg_id)
{
    if (!str_ok(msg_id, 1, ST_MSGID_MAX)) return bad(db, "processed put");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_PROC_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, msg_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "processed put");
    sqlite3_clear_bindings(s);
    if (rc < 0) return rc;
    return st_db__changes(db) == 1 ? 0 : ST_DUPLICATE;
}

/* ---- LID map ---- */

int st_lid_put(struct st_db *db, const char *lid, const char *pn)
{
    if (!str_ok(lid, 1, 128) || !str_ok(pn, 1, 128)) return bad(db, "lid put");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_LID_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, lid, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, pn, -1, SQLITE_STATIC);
    int rc = st_db__exec(db, s, "lid put");
    sqlite3_clear_bindings(s);
    return rc;
}

static int lid_get(struct st_db *db, enum st_q q, const char *k, char *out, size_t cap)
{
    if (!str_ok(k, 1, 128)) return bad(db, "lid get");
    sqlite3_stmt *s = st_db__stmt(db, q);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "lid get");
    if (rc != 1) return rc;
    rc = copy_col(s, 0, out, cap);
    sqlite3_reset(s);
    return rc < 0 ? rc : 1;
}

int st_lid_get_pn(struct st_db *db, const char *lid, char *out, size_t cap)
{
    return lid_get(db, ST_Q_LID_GET_PN, lid, out, cap);
}

int st_lid_get_lid(struct st_db *db, const char *pn, char *out, size_t cap)
{
    return lid_get(db, ST_Q_LID_GET_LID, pn, out, cap);
}

/* ---- access policy state ---- */

int st_access_is_approved(struct st_db *db, const char *sender)
{
    if (!str_ok(sender, 1, ST_CHAT_MAX)) return bad(db, "access approved");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_ACCESS_IS_APPROVED);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, sender, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "access approved");
    if (rc == 1) sqlite3_reset(s);
    return rc;
}

int st_access_approve(struct st_db *db, const char *sender)
{
    if (!str_ok(sender, 1, ST_CHAT_MAX)) return bad(db, "access approve");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_ACCESS_APPROVE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)time(NULL));
    int rc = st_db__exec(db, s, "access approve");
    if (rc < 0) return rc;
    return st_db__changes(db) == 1 ? 0 : ST_DUPLICATE;
}

int st_pairing_put(struct st_db *db, const char *sender, const char *code, int64_t now)
{
    if (!str_ok(sender, 1, ST_CHAT_MAX) || !str_ok(code, 4, ST_PAIRING_CODE_MAX))
        return bad(db, "pairing put");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_PAIRING_PUT);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    int rc = st_db__exec(db, s, "pairing put");
    if (rc < 0) return rc;
    return st_db__changes(db) == 1 ? 0 : ST_DUPLICATE;
}

static int one_text(struct st_db *db, int q, const char *key, char *out, size_t cap,
                    const char *what)
{
    sqlite3_stmt *s = st_db__stmt(db, q);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, what);
    if (rc == 1) {
        int c = copy_col(s, 0, out, cap);
        sqlite3_reset(s);
        if (c < 0) return st_db__failf(db, c, "%s: buffer too small", what);
    }
    return rc;
}

int st_pairing_get(struct st_db *db, const char *sender, char *code_out, size_t cap)
{
    if (!str_ok(sender, 1, ST_CHAT_MAX)) return bad(db, "pairing get");
    return one_text(db, ST_Q_PAIRING_BY_SENDER, sender, code_out, cap, "pairing get");
}

int st_pairing_approve(struct st_db *db, const char *code, char *sender_out, size_t cap)
{
    if (!str_ok(code, 1, ST_PAIRING_CODE_MAX) || !sender_out) return bad(db, "pairing approve");
    bool own = !st_db_in_txn(db);
    int rc = own ? st_db_begin(db) : 0;
    if (rc < 0) return rc;
    rc = one_text(db, ST_Q_PAIRING_BY_CODE, code, sender_out, cap, "pairing approve");
    if (rc == 1) {
        int r = st_access_approve(db, sender_out);
        sqlite3_stmt *s = r >= 0 ? st_db__stmt(db, ST_Q_PAIRING_DEL) : NULL;
        if (s) {
            sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
            r = st_db__exec(db, s, "pairing delete");
        } else if (r >= 0) {
            r = -ENOTSUP;
        }
        if (r < 0) rc = r;
    }
    if (own) {
        if (rc >= 0) {
            int c = st_db_commit(db);
            if (c < 0) rc = c;
        } else {
            st_db_rollback(db);
        }
    }
    return rc;
}
