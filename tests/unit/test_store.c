/* SPDX-License-Identifier: MIT */
/* test_store.c -- per-account SQLite store: open checks, migrations, creds, message store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store/creds.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/msgstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXTURES WAGATE_SOURCE_DIR "/tests/fixtures/store"

static char g_dir[64];
static char g_path[128];

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/acct/a1/wa.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static struct st_db *open_ok(void)
{
    struct st_db *db = NULL;
    char err[256] = "";
    int rc = st_db_open(g_path, &db, err, sizeof err);
    if (rc) fprintf(stderr, "open: %d %s\n", rc, err);
    assert_int_equal(rc, 0);
    assert_non_null(db);
    return db;
}

/* Run one SQL statement on a raw connection (outside the store). */
static void raw_exec(const char *path, const char *q)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, q, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static int raw_int(const char *path, const char *q)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

static void test_open_pragmas(void **state)
{
    struct st_db *db = open_ok();
    assert_int_equal(st_db_version(db), ST_SCHEMA_VERSION);
    /* statements are prepared at their first use: every one of them prepares on this schema */
    if (st_db_prepare_all(db) != 0) fail_msg("prepare: %s", st_db_last_error(db));
    struct stat st;
    assert_int_equal(stat(g_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/acct", g_dir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* transactions: nesting refused, commit without begin refused */
    assert_int_equal(st_db_begin(db), 0);
    assert_true(st_db_in_txn(db));
    assert_int_equal(st_db_begin(db), -EALREADY);
    assert_non_null(strstr(st_db_last_error(db), "already"));
    assert_int_equal(st_db_commit(db), 0);
    assert_false(st_db_in_txn(db));
    assert_int_equal(st_db_commit(db), -EINVAL);
    assert_int_equal(st_db_rollback(db), 0);
    assert_int_equal(st_db_close(db), 0);
    /* clean close checkpointed and truncated the WAL */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", g_path);
    assert_true(stat(wal, &st) < 0 || st.st_size == 0);
    assert_int_equal(raw_int(g_path, "PRAGMA user_version"), ST_SCHEMA_VERSION);
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(g_path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(h);
    /* a world-readable file is tightened on open */
    assert_int_equal(chmod(g_path, 0644), 0);
    db = open_ok();
    assert_int_equal(stat(g_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st_db_close(db), 0);
    /* migrations: each starts with "-- vN:" */
    for (int v = 1; v <= ST_SCHEMA_VERSION; v++) {
        char want[16];
        snprintf(want, sizeof want, "-- v%d:", v);
        assert_memory_equal(st_migration_sql(v), want, strlen(want));
    }
    assert_null(st_migration_sql(0));
    assert_null(st_migration_sql(ST_SCHEMA_VERSION + 1));
    assert_int_equal(st_db_close(NULL), 0);
}

static void fill_creds(struct st_creds *c, uint8_t seed)
{
    memset(c, 0, sizeof *c);
    memset(c->noise_priv, seed, 32);
    memset(c->noise_pub, seed + 1, 32);
    memset(c->identity_priv, seed + 2, 32);
    memset(c->identity_pub, seed + 3, 32);
    c->registration_id = 1234;
    c->spk_id = 1;
    memset(c->spk_priv, seed + 4, 32);
    memset(c->spk_pub, seed + 5, 32);
    memset(c->spk_sig, seed + 6, 64);
    memset(c->adv_secret, seed + 7, 32);
    snprintf(c->me_pn, sizeof c->me_pn, "15551230000:7@s.whatsapp.net");
    snprintf(c->me_lid, sizeof c->me_lid, "222222222222222:7@lid");
    snprintf(c->push_name, sizeof c->push_name, "wagate");
    snprintf(c->platform, sizeof c->platform, "android");
    c->account_len = 100;
    memset(c->account, 0xab, 100);
    c->next_prekey_id = 31;
    c->first_unuploaded_prekey_id = 31;
}

static void assert_creds_equal(const struct st_creds *a, const struct st_creds *b)
{
    assert_memory_equal(a->noise_priv, b->noise_priv, 32);
    assert_memory_equal(a->noise_pub, b->noise_pub, 32);
    assert_memory_equal(a->identity_priv, b->identity_priv, 32);
    assert_memory_equal(a->identity_pub, b->identity_pub, 32);
    assert_int_equal(a->registration_id, b->registration_id);
    assert_int_equal(a->spk_id, b->spk_id);
    assert_memory_equal(a->spk_priv, b->spk_priv, 32);
    assert_memory_equal(a->spk_pub, b->spk_pub, 32);
    assert_memory_equal(a->spk_sig, b->spk_sig, 64);
    assert_memory_equal(a->adv_secret, b->adv_secret, 32);
    assert_string_equal(a->me_pn, b->me_pn);
    assert_string_equal(a->me_lid, b->me_lid);
    assert_string_equal(a->push_name, b->push_name);
    assert_string_equal(a->platform, b->platform);
    assert_int_equal(a->account_len, b->account_len);
    assert_memory_equal(a->account, b->account, a->account_len);
    assert_int_equal(a->next_prekey_id, b->next_prekey_id);
    assert_int_equal(a->first_unuploaded_prekey_id, b->first_unuploaded_prekey_id);
}

static void test_creds(void **state)
{
    struct st_db *db = open_ok();
    struct st_creds c, got;
    assert_int_equal(st_creds_exists(db), 0);
    assert_int_equal(st_creds_load(db, &got), -ENOENT);
    fill_creds(&c, 1);
    assert_int_equal(st_creds_save(db, &c), 0);
    assert_int_equal(st_creds_exists(db), 1);
    assert_int_equal(st_creds_load(db, &got), 0);
    assert_creds_equal(&c, &got);
    int64_t created = got.created;
    assert_true(created > 0);
    /* update in place keeps created */
    c.next_prekey_id = 61;
    c.account_len = 0;
    snprintf(c.push_name, sizeof c.push_name, "renamed");
    assert_int_equal(st_creds_save(db, &c), 0);
    assert_int_equal(st_db_close(db), 0);
    db = open_ok();
    assert_int_equal(st_creds_load(db, &got), 0);
    assert_creds_equal(&c, &got);
    assert_int_equal(got.created, created);
    /* invalid values are refused, the stored row is unchanged */
    struct st_creds badc = c;
    badc.registration_id = 0;
    assert_int_equal(st_creds_save(db, &badc), -EINVAL);
    badc = c;
    badc.spk_id = 0x1000000;
    assert_int_equal(st_creds_save(db, &badc), -EINVAL);
    badc = c;
    memset(badc.me_pn, 'x', sizeof badc.me_pn);
    assert_int_equal(st_creds_save(db, &badc), -EINVAL);
    assert_int_equal(st_creds_load(db, &got), 0);
    assert_creds_equal(&c, &got);
    /* a rolled-back save leaves the old row */
    assert_int_equal(st_db_begin(db), 0);
    c.next_prekey_id = 91;
    assert_int_equal(st_creds_save(db, &c), 0);
    assert_int_equal(st_db_rollback(db), 0);
    assert_int_equal(st_creds_load(db, &got), 0);
    assert_int_equal(got.next_prekey_id, 61);
    /* the CHECK constraint catches a wrong-size key written behind our back */
    assert_int_equal(st_db_close(db), 0);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(g_path, &h), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(h, "UPDATE creds SET noise_priv = x'0102' WHERE id = 1", 0, 0, 0), SQLITE_OK);
    sqlite3_close(h);
    st_creds_wipe(&got);
    uint8_t zero[sizeof got];
    memset(zero, 0, sizeof zero);
    assert_memory_equal(&got, zero, sizeof got);
}

static void test_inbox(void **state)
{
    struct st_db *db = open_ok();
    int64_t c1 = 0, c2 = 0, c3 = 0, cd = 0;
    const uint8_t pb[] = {0x0a, 0x02, 'h', 'i'};
    assert_int_equal(st_inbox_insert(db, "a@s.whatsapp.net", "", "ID1", 100, "text", pb, 4, &c1),
                     0);
    assert_int_equal(st_inbox_insert(db, "a@s.whatsapp.net", "", "ID2", 101, "text", pb, 4, &c2),
                     0);
    assert_true(c2 > c1);
    /* same id in another chat, or from another sender in a group, is a different message */
    assert_int_equal(st_inbox_insert(db, "g@g.us", "a@lid", "ID1", 102, "text", pb, 4, &c3), 0);
    assert_int_equal(st_inbox_insert(db, "g@g.us", "b@lid", "ID1", 102, "text", pb, 4, NULL), 0);
    /* duplicate: distinct result, existing cursor, row unchanged */
    assert_int_equal(st_inbox_insert(db, "a@s.whatsapp.net", "", "ID2", 999, "x", pb, 1, &cd),
                     ST_DUPLICATE);
    assert_int_equal(cd, c2);
    /* bad arguments */
    assert_int_equal(st_inbox_insert(db, "", "", "ID", 1, "", pb, 1, NULL), -EINVAL);
    assert_int_equal(st_inbox_insert(db, "c", "", "", 1, "", pb, 1, NULL), -EINVAL);
    assert_int_equal(st_inbox_insert(db, "c", "", "i", 1, "", NULL, 3, NULL), -EINVAL);
    char longid[ST_MSGID_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    assert_int_equal(st_inbox_insert(db, "c", "", longid, 1, "", pb, 1, NULL), -EINVAL);
    assert_int_equal(st_inbox_insert(db, "c", "", "i", 1, "", pb, ST_PAYLOAD_MAX + 1, NULL),
                     -ENOBUFS);

    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(db, 0, 10, &v, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].cursor, c1);
    assert_string_equal(v[1].msg_id, "ID2");
    assert_int_equal(v[1].ts, 101);
    assert_string_equal(v[1].type, "text");
    assert_int_equal(v[1].payload_len, 4);
    assert_memory_equal(v[1].payload, pb, 4);
    assert_int_equal(v[1].delivered, 0);
    assert_true(v[1].received > 0);
    assert_string_equal(v[2].sender, "a@lid");
    st_inbox_list_free(v, n);
    /* after a cursor, with a limit */
    assert_int_equal(st_inbox_list(db, c1, 2, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].cursor, c2);
    assert_int_equal(v[1].cursor, c3);
    st_inbox_list_free(v, n);
    assert_int_equal(st_inbox_list(db, c3 + 100, 5, &v, &n), 0);
    assert_int_equal(n, 0);
    assert_null(v);
    assert_int_equal(st_inbox_list(db, 0, 0, &v, &n), -EINVAL);
    assert_int_equal(st_inbox_list(db, 0, ST_LIST_MAX + 1, &v, &n), -EINVAL);

    assert_int_equal(st_inbox_mark_delivered(db, c2), 0);
    assert_int_equal(st_inbox_mark_delivered(db, 424242), -ENOENT);
    assert_int_equal(st_inbox_list(db, c1, 1, &v, &n), 0);
    assert_int_equal(v[0].delivered, 1);
    st_inbox_list_free(v, n);

    /* cursors never go back, even after the newest row is deleted */
    assert_int_equal(st_db_close(db), 0);
    raw_exec(g_path, "DELETE FROM inbox WHERE cursor = (SELECT max(cursor) FROM inbox)");
    db = open_ok();
    int64_t c5 = 0;
    assert_int_equal(st_inbox_insert(db, "z", "", "ID9", 1, "", pb, 0, &c5), 0);
    assert_true(c5 > c3 + 1);
    assert_int_equal(st_db_close(db), 0);
}

static void test_outbox(void **state)
{
    struct st_db *db = open_ok();
    const uint8_t pb[] = {1, 2, 3};
    struct st_outbox_msg m;
    assert_int_equal(st_outbox_enqueue(db, "key-1", "MSG1", "a@s.whatsapp.net", pb, 3, NULL), 0);
    assert_int_equal(st_outbox_enqueue(db, "key-2", "MSG2", "b@s.whatsapp.net", pb, 2, NULL), 0);
    /* same key: no second row, the first row is returned */
    assert_int_equal(st_outbox_enqueue(db, "key-1", "MSG9", "c@s.whatsapp.net", pb, 1, &m),
                     ST_DUPLICATE);
    assert_string_equal(m.msg_id, "MSG1");
    assert_string_equal(m.to, "a@s.whatsapp.net");
    assert_int_equal(m.payload_len, 3);
    assert_int_equal(m.state, ST_OUT_QUEUED);
    st_outbox_msg_free(&m);
    assert_int_equal(st_outbox_get(db, "MSG9", &m), -ENOENT);
    /* a message id reused under another key is refused */
    assert_int_equal(st_outbox_enqueue(db, "key-3", "MSG1", "c@s.whatsapp.net", pb, 1, NULL),
                     -EINVAL);
    assert_int_equal(st_outbox_enqueue(db, "", "MSG3", "c", pb, 1, NULL), -EINVAL);

    struct st_outbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_outbox_list_queued(db, 10, &v, &n), 0);
    assert_int_equal(n, 2);
    size_t nq = 9;
    assert_int_equal(st_outbox_count_queued(db, &nq), 0);
    assert_int_equal(nq, 2);
    assert_string_equal(v[0].msg_id, "MSG1");
    assert_string_equal(v[1].idem_key, "key-2");
    st_outbox_list_free(v, n);

    /* queued -> sent -> delivered -> read; late receipts are ignored */
    assert_int_equal(st_outbox_set_state(db, "MSG1", ST_OUT_SENT, NULL), 0);
    assert_int_equal(st_outbox_set_state(db, "MSG1", ST_OUT_SENT, NULL), ST_DUPLICATE);
    assert_int_equal(st_outbox_set_state(db, "MSG1", ST_OUT_READ, NULL), 0);
    assert_int_equal(st_outbox_set_state(db, "MSG1", ST_OUT_DELIVERED, NULL), ST_DUPLICATE);
    assert_int_equal(st_outbox_set_state(db, "MSG1", ST_OUT_FAILED, "x"), -EINVAL);
    assert_int_equal(st_outbox_get(db, "MSG1", &m), 0);
    assert_int_equal(m.state, ST_OUT_READ);
    assert_int_equal(m.attempts, 1);
    assert_null(m.error);
    st_outbox_msg_free(&m);
    /* failed with an error, then retried */
    assert_int_equal(st_outbox_set_state(db, "MSG2", ST_OUT_FAILED, "no session"), 0);
    assert_int_equal(st_outbox_get(db, "MSG2", &m), 0);
    assert_int_equal(m.state, ST_OUT_FAILED);
    assert_string_equal(m.error, "no session");
    st_outbox_msg_free(&m);
    assert_int_equal(st_outbox_list_queued(db, 10, &v, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(st_outbox_count_queued(db, &nq), 0);
    assert_int_equal(nq, 0);
    assert_int_equal(st_outbox_set_state(db, "MSG2", ST_OUT_QUEUED, NULL), 0);
    assert_int_equal(st_outbox_list_queued(db, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_null(v[0].error);
    st_outbox_list_free(v, n);
    assert_int_equal(st_outbox_set_state(db, "NOPE", ST_OUT_SENT, NULL), -ENOENT);
    assert_string_equal(st_out_state_name(ST_OUT_DELIVERED), "delivered");
    assert_int_equal(st_db_close(db), 0);
}

static int settles;
static int settle_commit(void *ud)
{
    settles++;
    return st_db_commit(ud);
}

/* A transaction left open on purpose is committed by its owner's settle function the moment
 * anyone else wants a transaction (begin, in_txn), once. */
static void test_pending_txn(void **state)
{
    struct st_db *db = open_ok();
    const uint8_t pb[] = {1, 2};
    settles = 0;
    uint64_t c0 = st_db_commits(db);
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(st_outbox_enqueue(db, "k1", "P1", "a@s.whatsapp.net", pb, 2, NULL), 0);
    st_db_set_pending(db, settle_commit, db);
    assert_int_equal(st_outbox_enqueue(db, "k2", "P2", "a@s.whatsapp.net", pb, 2, NULL), 0);
    assert_false(st_db_in_txn(db)); /* settled: both rows in one COMMIT */
    assert_int_equal(settles, 1);
    assert_int_equal(st_db_commits(db) - c0, 1);
    struct st_outbox_msg m;
    assert_int_equal(st_outbox_get(db, "P2", &m), 0);
    st_outbox_msg_free(&m);
    /* a begin settles it too, and then opens its own */
    assert_int_equal(st_db_begin(db), 0);
    st_db_set_pending(db, settle_commit, db);
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(settles, 2);
    assert_int_equal(st_db_commit(db), 0);
    assert_int_equal(st_db_commits(db) - c0, 3);
    /* the owner clears it: nothing called */
    st_db_set_pending(db, settle_commit, db);
    st_db_set_pending(db, NULL, NULL);
    assert_false(st_db_in_txn(db));
    assert_int_equal(settles, 2);
    assert_int_equal(st_db_close(db), 0);
}

static void test_retry_processed_lid(void **state)
{
    struct st_db *db = open_ok();
    const uint8_t pb[] = {9, 8, 7, 6};
    int64_t now = 1700000000;
    assert_int_equal(st_retry_put(db, "OLD", "a@lid", pb, 4, now - 8 * 86400), 0);
    assert_int_equal(st_retry_put(db, "NEW", "b@lid", pb, 3, now - 3600), 0);
    char to[64];
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(st_retry_get(db, "NEW", to, sizeof to, &p, &n), 1);
    assert_string_equal(to, "b@lid");
    assert_int_equal(n, 3);
    assert_memory_equal(p, pb, 3);
    free(p);
    assert_int_equal(st_retry_get(db, "NONE", to, sizeof to, &p, &n), 0);
    assert_int_equal(st_retry_get(db, "NEW", to, 3, &p, &n), -ENOBUFS);
    assert_int_equal(st_retry_purge(db, now, ST_RETRY_MAX_AGE), 1);
    assert_int_equal(st_retry_get(db, "OLD", NULL, 0, &p, &n), 0);
    assert_int_equal(st_retry_get(db, "NEW", NULL, 0, &p, &n), 1);
    free(p);
    /* an outbox row answers for itself, and wins over an older copy in retry_buffer */
    const uint8_t ob[] = {1, 2, 3, 4, 5};
    assert_int_equal(st_outbox_enqueue(db, "k-out", "OUT1", "c@s.whatsapp.net", ob, 5, NULL), 0);
    assert_int_equal(st_retry_get(db, "OUT1", to, sizeof to, &p, &n), 1);
    assert_string_equal(to, "c@s.whatsapp.net");
    assert_int_equal(n, 5);
    assert_memory_equal(p, ob, 5);
    free(p);
    assert_int_equal(st_outbox_enqueue(db, "k-out2", "NEW", "d@s.whatsapp.net", ob, 2, NULL), 0);
    assert_int_equal(st_retry_get(db, "NEW", to, sizeof to, &p, &n), 1);
    assert_string_equal(to, "d@s.whatsapp.net");
    assert_int_equal(n, 2);
    free(p);

    uint8_t h1[32], h2[32];
    st_ciphertext_hash(pb, 4, h1);
    st_ciphertext_hash(pb, 3, h2);
    assert_memory_not_equal(h1, h2, 32);
    char id[32];
    assert_int_equal(st_processed_check(db, h1, id, sizeof id), 0);
    assert_int_equal(st_processed_put(db, h1, "M1"), 0);
    assert_int_equal(st_processed_put(db, h1, "M1"), ST_DUPLICATE);
    assert_int_equal(st_processed_check(db, h1, id, sizeof id), 1);
    assert_string_equal(id, "M1");
    assert_int_equal(st_processed_check(db, h2, NULL, 0), 0);

    char out[64];
    assert_int_equal(st_lid_get_pn(db, "111", out, sizeof out), 0);
    assert_int_equal(st_lid_put(db, "111", "555"), 0);
    assert_int_equal(st_lid_get_pn(db, "111", out, sizeof out), 1);
    assert_string_equal(out, "555");
    assert_int_equal(st_lid_get_lid(db, "555", out, sizeof out), 1);
    assert_string_equal(out, "111");
    /* the pn moves to a new lid: the old mapping goes */
    assert_int_equal(st_lid_put(db, "222", "555"), 0);
    assert_int_equal(st_lid_get_pn(db, "111", out, sizeof out), 0);
    assert_int_equal(st_lid_get_lid(db, "555", out, sizeof out), 1);
    assert_string_equal(out, "222");
    assert_int_equal(st_lid_get_lid(db, "555", out, 2), -ENOBUFS);
    assert_int_equal(st_lid_put(db, "", "1"), -EINVAL);
    assert_int_equal(st_db_close(db), 0);
}

static void test_txn(void **state)
{
    struct st_db *db = open_ok();
    const uint8_t pb[] = {1};
    uint8_t h[32];
    st_ciphertext_hash(pb, 1, h);
    /* rolled back: nothing */
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(st_inbox_insert(db, "c", "", "A", 1, "", pb, 1, NULL), 0);
    assert_int_equal(st_processed_put(db, h, "A"), 0);
    assert_int_equal(st_db_rollback(db), 0);
    assert_int_equal(st_processed_check(db, h, NULL, 0), 0);
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    assert_int_equal(st_inbox_list(db, 0, 10, &v, &n), 0);
    assert_int_equal(n, 0);
    /* committed: both, and they survive a reopen */
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(st_inbox_insert(db, "c", "", "A", 1, "", pb, 1, NULL), 0);
    assert_int_equal(st_processed_put(db, h, "A"), 0);
    assert_int_equal(st_db_commit(db), 0);
    /* a failing statement inside a transaction does not end it */
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(st_outbox_enqueue(db, "k", "M", "t", pb, 1, NULL), 0);
    assert_int_equal(st_outbox_enqueue(db, "k2", "M", "t", pb, 1, NULL), -EINVAL);
    assert_true(st_db_in_txn(db));
    assert_int_equal(st_db_commit(db), 0);
    /* closing with an open transaction rolls it back */
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(st_inbox_insert(db, "c", "", "B", 1, "", pb, 1, NULL), 0);
    assert_int_equal(st_db_close(db), 0);
    db = open_ok();
    assert_int_equal(st_processed_check(db, h, NULL, 0), 1);
    assert_int_equal(st_inbox_list(db, 0, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].msg_id, "A");
    st_inbox_list_free(v, n);
    struct st_outbox_msg m;
    assert_int_equal(st_outbox_get(db, "M", &m), 0);
    assert_string_equal(m.idem_key, "k");
    st_outbox_msg_free(&m);
    assert_int_equal(st_db_close(db), 0);
}

/* ---- damaged, future and old databases ---- */

static void write_file(const char *path, const void *p, size_t n)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void expect_corrupt(const char *what)
{
    struct st_db *db = NULL;
    char err[256] = "";
    int rc = st_db_open(g_path, &db, err, sizeof err);
    assert_int_equal(rc, -EUCLEAN);
    assert_null(db);
    assert_non_null(strstr(err, what));
    assert_non_null(strstr(err, g_path));
    /* never recreated: the file is still there and still bad */
    rc = st_db_open(g_path, &db, err, sizeof err);
    assert_int_equal(rc, -EUCLEAN);
    /* quarantine moves it aside (with its -wal), a fresh database opens */
    char moved[256];
    assert_int_equal(st_db_quarantine(g_path, moved, sizeof moved, err, sizeof err), 0);
    assert_non_null(strstr(moved, "wa.db.corrupt-"));
    assert_int_equal(access(moved, F_OK), 0);
    assert_int_not_equal(access(g_path, F_OK), 0);
    db = open_ok();
    assert_int_equal(st_creds_exists(db), 0);
    assert_int_equal(st_db_close(db), 0);
    unlink(moved);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", moved);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", moved);
    unlink(side);
}

/* Savepoints: one unit undone alone, the transaction goes on; misuse refused. */
static void test_savepoint(void **state)
{
    struct st_db *db = open_ok();
    const uint8_t pb[] = {1};
    assert_int_equal(st_db_savepoint(db), -EINVAL); /* no transaction */
    assert_int_equal(st_db_release(db), -EINVAL);
    assert_int_equal(st_db_rollback_to(db), -EINVAL);
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(st_outbox_enqueue(db, "k1", "M1", "t", pb, 1, NULL), 0);
    assert_int_equal(st_db_savepoint(db), 0);
    assert_int_equal(st_db_savepoint(db), -EALREADY);
    assert_int_equal(st_outbox_enqueue(db, "k2", "M2", "t", pb, 1, NULL), 0);
    assert_int_equal(st_db_rollback_to(db), 0); /* M2 undone */
    assert_int_equal(st_db_savepoint(db), 0);
    assert_int_equal(st_outbox_enqueue(db, "k3", "M3", "t", pb, 1, NULL), 0);
    assert_int_equal(st_db_release(db), 0); /* M3 kept */
    assert_int_equal(st_db_release(db), -EINVAL);
    assert_true(st_db_in_txn(db));
    assert_int_equal(st_db_savepoint(db), 0); /* ended by the commit */
    assert_int_equal(st_db_commit(db), 0);
    assert_int_equal(st_db_release(db), -EINVAL);
    struct st_outbox_msg m;
    assert_int_equal(st_outbox_get(db, "M1", &m), 0);
    st_outbox_msg_free(&m);
    assert_int_equal(st_outbox_get(db, "M2", &m), -ENOENT);
    assert_int_equal(st_outbox_get(db, "M3", &m), 0);
    st_outbox_msg_free(&m);
    assert_int_equal(st_db_close(db), 0);
}

static void test_garbage(void **state)
{
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    write_file(g_path, junk, sizeof junk);
    expect_corrupt("not a database");
    char err[128], missing[160];
    snprintf(missing, sizeof missing, "%s/none/wa.db", g_dir);
    assert_int_equal(st_db_quarantine(missing, NULL, 0, err, sizeof err), -ENOENT);
}

/* A database with enough rows to span many pages, then damaged. */
static void make_big_db(void)
{
    struct st_db *db = open_ok();
    uint8_t pb[600];
    memset(pb, 0x5a, sizeof pb);
    assert_int_equal(st_db_begin(db), 0);
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof id, "M%d", i);
        assert_int_equal(st_inbox_insert(db, "chat", "", id, i, "text", pb, sizeof pb, NULL), 0);
    }
    assert_int_equal(st_db_commit(db), 0);
    assert_int_equal(st_db_close(db), 0);
}

static void test_torn(void **state)
{
    make_big_db();
    struct stat st;
    assert_int_equal(stat(g_path, &st), 0);
    assert_true(st.st_size > 40 * 4096);
    assert_int_equal(truncate(g_path, st.st_size / 2 + 100), 0);
    expect_corrupt("corrupt");

    /* garbage over a page in the middle (header intact) */
    make_big_db();
    int fd = open(g_path, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 0xee, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 4096 * 3), (ssize_t)sizeof junk);
    close(fd);
    expect_corrupt("corrupt");
}

static void test_future_version(void **state)
{
    struct st_db *db = open_ok();
    assert_int_equal(st_db_close(db), 0);
    raw_exec(g_path, "PRAGMA user_version = 99");
    char err[256] = "";
    assert_int_equal(st_db_open(g_path, &db, err, sizeof err), -ENOTSUP);
    assert_null(db);
    assert_non_null(strstr(err, "v99"));
    assert_non_null(strstr(err, "newer"));
    /* untouched */
    assert_int_equal(raw_int(g_path, "PRAGMA user_version"), 99);
}

static void test_migrate_from_v1(void **state)
{
    /* built by this code at v1 */
    struct st_db *db = NULL;
    char err[256] = "";
    struct st_db_opts o = {.target_version = 1};
    assert_int_equal(st_db_open_ex(g_path, &o, &db, err, sizeof err), 0);
    assert_int_equal(st_db_version(db), 1);
    assert_int_equal(st_creds_exists(db), -ENOTSUP);
    assert_int_equal(st_db_close(db), 0);
    assert_int_equal(raw_int(g_path, "PRAGMA user_version"), 1);
    assert_int_equal(raw_int(g_path, "SELECT count(*) FROM sqlite_schema WHERE name = 'inbox'"), 0);
    db = open_ok();
    assert_int_equal(st_db_version(db), ST_SCHEMA_VERSION);
    assert_int_equal(st_inbox_insert(db, "c", "", "i", 1, "", (const uint8_t *)"x", 1, NULL), 0);
    assert_int_equal(st_db_close(db), 0);

    /* the golden v1 fixture (made with the sqlite3 shell, with a credentials row) */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "cp '%s/v1.db' '%s'", FIXTURES, g_path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(raw_int(g_path, "PRAGMA user_version"), 1);
    db = open_ok();
    assert_int_equal(st_db_version(db), ST_SCHEMA_VERSION);
    struct st_creds c;
    assert_int_equal(st_creds_load(db, &c), 0);
    assert_int_equal(c.registration_id, 4321);
    assert_string_equal(c.me_pn, "15551230000:7@s.whatsapp.net");
    assert_int_equal(c.noise_priv[0], 0x11);
    st_creds_wipe(&c);
    assert_int_equal(st_inbox_insert(db, "c", "", "i", 1, "", (const uint8_t *)"x", 1, NULL), 0);
    assert_int_equal(st_db_close(db), 0);

    /* the golden fixtures of damaged files */
    snprintf(cmd, sizeof cmd, "cp '%s/truncated.db' '%s'", FIXTURES, g_path);
    assert_int_equal(system(cmd), 0);
    expect_corrupt("corrupt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_processed_lid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
