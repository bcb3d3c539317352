/* SPDX-License-Identifier: MIT */
/* test_spk.c -- signed pre-key rotation: the decision (wa/spkplan.h), the rows' lifecycle
 * (store/spkstore.h), the one-transaction store of key + credentials (wa_creds_store_spk)
 * and what a restart finds after each step (schema v9, incl. the migration of a v7 store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "signal/sg_crypto.h"
#include "signal/sg_keys.h"
#include "signal/sg_store.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/sgstore.h"
#include "store/spkstore.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/spkplan.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY (86400u)

static char g_dir[64], g_path[128];
static signal_context *g_sig;

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_spk.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/wa.db", g_dir);
    assert_int_equal(sg_context_create(&g_sig), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
    signal_context_destroy(g_sig);
    return 0;
}

static struct st_db *open_db(void)
{
    struct st_db *db = NULL;
    char err[256];
    if (st_db_open(g_path, &db, err, sizeof err) != 0) fail_msg("open: %s", err);
    return db;
}

/* ---- the decision ---- */

static void test_plan(void **state)
{
    (void)state;
    int64_t at = -1, now = 1000000;
    struct wa_spk_state st = {.created = now - 10, .uploaded = true};
    /* young: wait until created + interval */
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_WAIT);
    assert_int_equal(at, now - 10 + 27 * DAY);
    /* due, exactly and after */
    st.created = now - 27 * DAY;
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_ROTATE);
    assert_int_equal(at, 0);
    st.created = now - 40 * DAY;
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_ROTATE);
    /* not acknowledged (a cut before the ack): upload again, whatever its age or the policy */
    st.uploaded = false;
    st.created = now - 1;
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_UPLOAD);
    assert_int_equal(wa_spk_plan(&st, now, 0, &at), WA_SPK_UPLOAD);
    st.uploaded = true;
    /* rotation off */
    assert_int_equal(wa_spk_plan(&st, now, 0, &at), WA_SPK_WAIT);
    assert_int_equal(at, 0);
    /* unknown age, or a clock that went back by more than the interval: rotate */
    st.created = 0;
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_ROTATE);
    st.created = now + 28 * DAY;
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_ROTATE);
    st.created = now + 5; /* a little ahead: wait */
    assert_int_equal(wa_spk_plan(&st, now, 27 * DAY, &at), WA_SPK_WAIT);
    assert_int_equal(at, now + 5 + 27 * DAY);
}

static void test_next_look_and_retry(void **state)
{
    (void)state;
    struct wa_spk_state st = {.created = 100, .uploaded = true};
    assert_int_equal(wa_spk_next_look(&st, 0, 30 * DAY), 0);
    assert_int_equal(wa_spk_next_look(&st, 5000, 30 * DAY), 5000);
    st.oldest_retired = 200; /* its grace ends at 200 + keep + 1 */
    assert_int_equal(wa_spk_next_look(&st, 0, 1000), 1201);
    assert_int_equal(wa_spk_next_look(&st, 900, 1000), 900);
    assert_int_equal(wa_spk_next_look(&st, 5000, 1000), 1201);
    assert_int_equal(wa_spk_keep_before(5000, 1000), 4000);
    /* 60 s doubling, capped at 6 h, at a quarter of the interval, never 0 */
    assert_int_equal(wa_spk_retry_s(27 * DAY, 1), 60);
    assert_int_equal(wa_spk_retry_s(27 * DAY, 2), 120);
    assert_int_equal(wa_spk_retry_s(27 * DAY, 4), 480);
    assert_int_equal(wa_spk_retry_s(27 * DAY, 40), 6 * 3600);
    assert_int_equal(wa_spk_retry_s(200, 3), 50);
    assert_int_equal(wa_spk_retry_s(2, 1), 1);
    assert_int_equal(wa_spk_retry_s(0, 1), 60);
}

/* ---- the store ---- */

/* The next key of c, as wa/spkrot.c makes it: credentials naming it + its record. */
static void next_key(const struct wa_creds *c, struct wa_creds *nc, signal_buffer **rec)
{
    struct sg_identity id;
    struct sg_signed_prekey spk;
    wa_creds_sg_identity(c, &id);
    assert_int_equal(
        sg_signed_prekey_generate(g_sig, &id.kp, sg_prekey_id_next(c->signed_prekey_id), &spk), 0);
    assert_int_equal(sg_signed_prekey_record(g_sig, &spk, rec), 0);
    *nc = *c;
    nc->signed_prekey_id = spk.id;
    memcpy(nc->signed_prekey.priv, spk.kp.priv, 32);
    memcpy(nc->signed_prekey.pub, spk.kp.pub, 32);
    memcpy(nc->signed_prekey_sig, spk.sig, 64);
}

static void rotate(struct st_db *db, struct wa_creds *c, int64_t now)
{
    struct wa_creds nc;
    signal_buffer *rec = NULL;
    next_key(c, &nc, &rec);
    int rc = wa_creds_store_spk(db, &nc, signal_buffer_data(rec), signal_buffer_len(rec), now);
    if (rc != 0) fail_msg("store_spk: %d %s", rc, st_db_last_error(db));
    signal_buffer_bzero_free(rec);
    *c = nc;
}

/* A paired-looking device whose first key (id 1) is stored as the login stores it. */
static void first_key(struct st_db *db, struct wa_creds *c)
{
    assert_int_equal(wa_creds_generate(c), 0);
    assert_int_equal(wa_creds_store(db, c), 0);
    struct sg_store st = st_sgstore(db, SG_TRUST_ANY);
    struct sg_signed_prekey spk;
    wa_creds_sg_signed_prekey(c, &spk);
    assert_int_equal(sg_store_put_signed_prekey(g_sig, &st, &spk), 0);
}

static int rows(void)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(g_path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM signed_prekeys", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

static void test_rotation_lifecycle(void **state)
{
    (void)state;
    struct st_db *db = open_db();
    struct wa_creds c;
    first_key(db, &c);
    struct st_spk_info i;
    int64_t t0 = (int64_t)time(NULL);
    /* the key a login stores: dated now, counted as uploaded (the pairing announced it) */
    assert_int_equal(st_spk_info(db, 1, &i), 0);
    assert_true(i.uploaded);
    assert_true(i.created >= t0 - 5 && i.created <= t0 + 5);
    assert_int_equal(i.retired, 0);
    assert_int_equal(st_spk_info(db, 2, &i), -ENOENT);

    /* 1. the new key and the credentials naming it, in one transaction */
    rotate(db, &c, 5000);
    assert_int_equal(c.signed_prekey_id, 2);
    assert_int_equal(st_spk_info(db, 2, &i), 0);
    assert_false(i.uploaded);
    assert_int_equal(i.created, 5000);
    assert_int_equal(i.oldest_retired, 0);
    assert_int_equal(st_spk_info(db, 1, &i), 0); /* the old one is not retired before the ack */
    assert_int_equal(i.retired, 0);
    struct wa_creds got;
    assert_int_equal(wa_creds_fetch(db, &got), 0);
    assert_int_equal(got.signed_prekey_id, 2);
    assert_memory_equal(got.signed_prekey.pub, c.signed_prekey.pub, 32);

    /* a restart before the ack: the same state, and the plan uploads it again */
    assert_int_equal(st_db_close(db), 0);
    db = open_db();
    assert_int_equal(wa_creds_fetch(db, &got), 0);
    assert_int_equal(got.signed_prekey_id, 2);
    assert_int_equal(st_spk_info(db, 2, &i), 0);
    struct wa_spk_state ps = {i.created, i.uploaded, i.oldest_retired};
    int64_t at;
    assert_int_equal(wa_spk_plan(&ps, 5001, 27 * DAY, &at), WA_SPK_UPLOAD);

    /* 2. the ack: uploaded, the older key retired now */
    assert_int_equal(st_spk_mark_uploaded(db, 2, 6000), 0);
    assert_int_equal(st_spk_info(db, 2, &i), 0);
    assert_true(i.uploaded);
    assert_int_equal(i.retired, 0);
    assert_int_equal(i.oldest_retired, 6000);
    assert_int_equal(st_spk_info(db, 1, &i), 0);
    assert_int_equal(i.retired, 6000);
    assert_int_equal(st_spk_mark_uploaded(db, 77, 6000), -ENOENT);
    /* an ack seen twice (re-upload after a cut past the ack) changes nothing */
    assert_int_equal(st_spk_mark_uploaded(db, 2, 7000), 0);
    assert_int_equal(st_spk_info(db, 1, &i), 0);
    assert_int_equal(i.retired, 6000);
    /* the old key's record is still there for pkmsgs built on it */
    struct sg_store st = st_sgstore(db, SG_TRUST_ANY);
    signal_buffer *b = NULL;
    assert_int_equal(st.ops->load_signed_prekey(st.ud, 1, &b), 1);
    signal_buffer_bzero_free(b);
    assert_int_equal(st_db_close(db), 0);
    wa_creds_wipe(&c);
    wa_creds_wipe(&got);
}

/* Nothing of a failed step is kept: the old key stays current, with no stray row. */
static void test_rotation_atomic(void **state)
{
    (void)state;
    struct st_db *db = open_db();
    struct wa_creds c, nc, got;
    first_key(db, &c);
    signal_buffer *rec = NULL;
    next_key(&c, &nc, &rec);
    struct wa_creds bad = nc;
    bad.registration_id = 0; /* the credentials row refuses it, after the key row went in */
    assert_int_equal(
        wa_creds_store_spk(db, &bad, signal_buffer_data(rec), signal_buffer_len(rec), 100),
        -EINVAL);
    assert_false(st_db_in_txn(db));
    struct st_spk_info i;
    assert_int_equal(st_spk_info(db, 2, &i), -ENOENT);
    assert_int_equal(wa_creds_fetch(db, &got), 0);
    assert_int_equal(got.signed_prekey_id, 1);
    /* never joined into someone else's transaction */
    assert_int_equal(st_db_begin(db), 0);
    assert_int_equal(
        wa_creds_store_spk(db, &nc, signal_buffer_data(rec), signal_buffer_len(rec), 100),
        -EALREADY);
    assert_int_equal(st_db_rollback(db), 0);
    /* bad ids and sizes */
    assert_int_equal(st_spk_put_new(db, 0, signal_buffer_data(rec), signal_buffer_len(rec), 1),
                     -EINVAL);
    assert_int_equal(
        st_spk_put_new(db, 0x1000000, signal_buffer_data(rec), signal_buffer_len(rec), 1), -EINVAL);
    assert_int_equal(st_spk_put_new(db, 5, signal_buffer_data(rec), 0, 1), -ENOBUFS);
    /* and the good one goes in */
    assert_int_equal(
        wa_creds_store_spk(db, &nc, signal_buffer_data(rec), signal_buffer_len(rec), 100), 0);
    assert_int_equal(wa_creds_fetch(db, &got), 0);
    assert_int_equal(got.signed_prekey_id, 2);
    signal_buffer_bzero_free(rec);
    assert_int_equal(st_db_close(db), 0);
    wa_creds_wipe(&c);
    wa_creds_wipe(&nc);
    wa_creds_wipe(&got);
}

/* Grace deletion: by retirement time, at most keep_max retired, never the current key nor
 * one that is not retired (the old key while the new one waits for its ack). */
static void test_prune(void **state)
{
    (void)state;
    struct st_db *db = open_db();
    struct wa_creds c;
    first_key(db, &c);
    /* keys 2..6, each acknowledged 1000 s after the previous: 1..5 retired at 1000..5000 */
    for (int64_t t = 1000; t <= 5000; t += 1000) {
        rotate(db, &c, t - 10);
        assert_int_equal(st_spk_mark_uploaded(db, c.signed_prekey_id, t), 0);
    }
    assert_int_equal(c.signed_prekey_id, 6);
    assert_int_equal(rows(), 6);
    struct st_spk_info i;
    assert_int_equal(st_spk_info(db, 6, &i), 0);
    assert_int_equal(i.oldest_retired, 1000);
    /* grace: retired before 2500 (keys 1 and 2) go; many allowed */
    assert_int_equal(st_spk_prune(db, 6, 2500, 32), 2);
    assert_int_equal(st_spk_info(db, 1, &i), -ENOENT);
    assert_int_equal(st_spk_info(db, 2, &i), -ENOENT);
    assert_int_equal(st_spk_info(db, 3, &i), 0);
    assert_int_equal(st_spk_info(db, 6, &i), 0);
    assert_int_equal(i.oldest_retired, 3000);
    /* again: nothing more */
    assert_int_equal(st_spk_prune(db, 6, 2500, 32), 0);
    /* cap: 3 retired left (3, 4, 5), keep the newest 2 */
    assert_int_equal(st_spk_prune(db, 6, 0, 2), 1);
    assert_int_equal(st_spk_info(db, 3, &i), -ENOENT);
    assert_int_equal(st_spk_info(db, 4, &i), 0);
    assert_int_equal(st_spk_info(db, 5, &i), 0);
    /* a pending rotation: key 7 not acknowledged; 6 is not retired, so it is never deleted,
     * whatever the grace and the cap */
    rotate(db, &c, 6000);
    assert_int_equal(st_spk_prune(db, 7, 4500, 1), 1); /* 4 (retired 4000) goes, 5 is kept */
    assert_int_equal(st_spk_info(db, 5, &i), 0);
    assert_int_equal(st_spk_info(db, 6, &i), 0);
    assert_int_equal(i.retired, 0);
    assert_int_equal(st_spk_info(db, 7, &i), 0);
    assert_false(i.uploaded);
    /* the current key survives even a prune that names another */
    assert_int_equal(st_spk_prune(db, 7, 1000000, 0), 1); /* 5 */
    assert_int_equal(rows(), 2);
    assert_int_equal(st_spk_mark_uploaded(db, 7, 7000), 0);
    assert_int_equal(st_spk_prune(db, 7, 6999, 1), 0); /* 6 retired at 7000: in its grace */
    assert_int_equal(st_spk_prune(db, 7, 7001, 1), 1);
    assert_int_equal(rows(), 1);
    assert_int_equal(st_spk_info(db, 7, &i), 0);
    assert_int_equal(st_db_close(db), 0);
    wa_creds_wipe(&c);
}

/* A store from before v9: its signed pre-key is dated at the upgrade and counts as uploaded. */
static void test_migration(void **state)
{
    (void)state;
    struct st_db *db = NULL;
    char err[256];
    struct st_db_opts o = {.target_version = 7};
    if (st_db_open_ex(g_path, &o, &db, err, sizeof err) != 0) fail_msg("open v7: %s", err);
    assert_int_equal(st_db_close(db), 0);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(g_path, &h), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(h, "INSERT INTO signed_prekeys (id, record) VALUES (1, x'00')", 0, 0, 0),
        SQLITE_OK);
    sqlite3_close(h);
    int64_t t0 = (int64_t)time(NULL);
    db = open_db();
    assert_int_equal(st_db_version(db), ST_SCHEMA_VERSION);
    struct st_spk_info i;
    assert_int_equal(st_spk_info(db, 1, &i), 0);
    assert_true(i.uploaded);
    assert_int_equal(i.retired, 0);
    assert_true(i.created >= t0 - 5 && i.created <= t0 + 5);
    assert_int_equal(st_db_close(db), 0);
}

static int fresh(void **state)
{
    (void)state;
    char p[160];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_next_look_and_retry),
        cmocka_unit_test_setup(test_rotation_lifecycle, fresh),
        cmocka_unit_test_setup(test_rotation_atomic, fresh),
        cmocka_unit_test_setup(test_prune, fresh),
        cmocka_unit_test_setup(test_migration, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
