/* SPDX-License-Identifier: MIT */
/* whstore.c -- the webhook delivery queue: one statement each. */
#include "store/whstore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_int.h"
#include "store/msgstore.h"

static int bad(struct st_db *db, const char *what)
{
    return st_db__failf(db, -EINVAL, "%s: argument missing or too long", what);
}

static int len_ok(const char *s, size_t max)
{
    if (!s) return 0;
    size_t n = strnlen(s, max + 1);
    return n >= 1 && n <= max;
}

static const char *state_name(enum st_wh_state s)
{
    return s == ST_WH_DONE ? "done" : s == ST_WH_DEAD ? "dead" : "pending";
}

int st_wh_enqueue(struct st_db *db, const char *delivery_id, const char *url, const char *type,
                  const uint8_t *body, size_t len, int64_t now_ms)
{
    if (!len_ok(delivery_id, ST_WH_ID_MAX) || !len_ok(url, ST_WH_URL_MAX) || !len_ok(type, 64) ||
        (!body && len))
        return bad(db, "webhook enqueue");
    if (len > ST_WH_BODY_MAX)
        return st_db__failf(db, -ENOBUFS, "webhook enqueue: body of %zu bytes", len);
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_ENQUEUE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, delivery_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, url, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, body ? (const void *)body : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now_ms);
    int rc = st_db__exec(db, s, "webhook enqueue");
    sqlite3_clear_bindings(s);
    if (rc < 0) return rc;
    return st_db__changes(db) == 0 ? ST_DUPLICATE : 0;
}

static void copy_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
    const unsigned char *p = sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", p ? (const char *)p : "");
}

int st_wh_due(struct st_db *db, int64_t now_ms, size_t limit, struct st_wh_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > 1000) return bad(db, "webhook due");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_DUE);
    if (!s) return -ENOTSUP;
    struct st_wh_row *v = calloc(limit, sizeof *v);
    if (!v) return -ENOMEM;
    sqlite3_bind_int64(s, 1, now_ms);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    size_t k = 0;
    int rc;
    while (k < limit && (rc = st_db__row(db, s, "webhook due")) == 1) {
        struct st_wh_row *r = &v[k];
        r->id = sqlite3_column_int64(s, 0);
        copy_text(s, 1, r->delivery_id, sizeof r->delivery_id);
        copy_text(s, 2, r->url, sizeof r->url);
        copy_text(s, 3, r->type, sizeof r->type);
        r->body_len = (size_t)sqlite3_column_bytes(s, 4);
        r->body = malloc(r->body_len + 1);
        if (!r->body) {
            rc = -ENOMEM;
            break;
        }
        if (r->body_len) memcpy(r->body, sqlite3_column_blob(s, 4), r->body_len);
        r->body[r->body_len] = 0;
        r->attempts = sqlite3_column_int(s, 5);
        k++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc < 0) {
        st_wh_rows_free(v, k);
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

void st_wh_rows_free(struct st_wh_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].body);
    free(v);
}

int st_wh_start(struct st_db *db, int64_t id, int64_t lease_until, int64_t now_ms)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_START);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, lease_until);
    sqlite3_bind_int64(s, 3, now_ms);
    int rc = st_db__exec(db, s, "webhook start");
    if (rc < 0) return rc;
    return st_db__changes(db) == 1 ? 0 : -ENOENT;
}

int st_wh_settle(struct st_db *db, int64_t id, enum st_wh_state state, int64_t next_at,
                 const char *error, int64_t now_ms)
{
    if (state == ST_WH_DONE) { /* delivered: nothing more to keep */
        sqlite3_stmt *d = st_db__stmt(db, ST_Q_WH_DONE);
        if (!d) return -ENOTSUP;
        sqlite3_bind_int64(d, 1, id);
        int rc = st_db__exec(db, d, "webhook done");
        if (rc < 0) return rc;
        return st_db__changes(db) == 1 ? 0 : -ENOENT;
    }
    char e[513];
    snprintf(e, sizeof e, "%s", error ? error : "");
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_SETTLE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, state_name(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, next_at);
    sqlite3_bind_text(s, 4, e, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now_ms);
    int rc = st_db__exec(db, s, "webhook settle");
    sqlite3_clear_bindings(s);
    if (rc < 0) return rc;
    return st_db__changes(db) == 1 ? 0 : -ENOENT;
}

int st_wh_counts(struct st_db *db, size_t *pending, size_t *dead)
{
    *pending = *dead = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_COUNTS);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "webhook counts");
    if (rc != 1) return rc < 0 ? rc : -EIO;
    *pending = (size_t)sqlite3_column_int64(s, 0);
    *dead = (size_t)sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    return 0;
}

int st_wh_counts_url(struct st_db *db, const char *url, size_t *pending, size_t *dead)
{
    *pending = *dead = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_COUNTS_URL);
    if (!s) return -ENOTSUP;
    sqlite3_bind_text(s, 1, url, -1, SQLITE_STATIC);
    int rc = st_db__row(db, s, "webhook counts of an endpoint");
    if (rc == 1) {
        *pending = (size_t)sqlite3_column_int64(s, 0);
        *dead = (size_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == 1 ? 0 : rc < 0 ? rc : -EIO;
}

int st_wh_next_due(struct st_db *db, int64_t now_ms, int64_t *at)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_NEXT_DUE);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, now_ms);
    int rc = st_db__row(db, s, "webhook next due");
    if (rc != 1) return rc;
    int found = sqlite3_column_type(s, 0) != SQLITE_NULL;
    if (found) *at = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return found;
}

int st_wh_mark_get(struct st_db *db, int64_t *cursor)
{
    *cursor = 0;
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_MARK_GET);
    if (!s) return -ENOTSUP;
    int rc = st_db__row(db, s, "webhook mark get");
    if (rc < 0) return rc;
    if (rc == 1) {
        *cursor = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    return 0;
}

int st_wh_mark_set(struct st_db *db, int64_t cursor)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_MARK_SET);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, cursor);
    return st_db__exec(db, s, "webhook mark set");
}

int st_wh_mark_to_end(struct st_db *db)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_MARK_END);
    if (!s) return -ENOTSUP;
    return st_db__exec(db, s, "webhook mark to end");
}

int st_wh_requeue_dead(struct st_db *db, int64_t now_ms)
{
    sqlite3_stmt *s = st_db__stmt(db, ST_Q_WH_REQUEUE_DEAD);
    if (!s) return -ENOTSUP;
    sqlite3_bind_int64(s, 1, now_ms);
    int rc = st_db__exec(db, s, "webhook requeue dead");
    return rc < 0 ? rc : st_db__changes(db);
}
