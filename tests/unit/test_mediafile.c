/* SPDX-License-Identifier: MIT */
/* test_mediafile.c -- the download state of received media (store/mediafile.h): a media row
 * starts pending, becomes done / failed / expired; the same plaintext is found by its hash;
 * the budget counts each path once; the oldest done file is the one to remove first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/mediafile.h"
#include "store/migrations.h"
#include "store/msgstore.h"

struct fx {
    char dir[64], path[96];
    struct st_db *db;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/test_mediafile.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/wa.db", f->dir);
    char err[256];
    if (st_db_open(f->path, &f->db, err, sizeof err) < 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int r = st_db_close(f->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) r = -1;
    free(f);
    return r;
}

/* An inbox row with a media row of `len` bytes whose plaintext hash starts with `tag`. */
static int64_t media_msg(struct st_db *db, const char *id, uint8_t tag, uint64_t len)
{
    int64_t c = 0;
    assert_int_equal(st_inbox_insert(db, "1@s.whatsapp.net", "1@s.whatsapp.net", id, 10, "image",
                                     (const uint8_t *)"\x1a\x00", 2, &c),
                     0);
    uint8_t key[32] = {1}, sha[32] = {tag}, enc[32] = {tag, 1};
    struct st_media_ref ref = {.kind = "image",
                               .mimetype = "image/jpeg",
                               .direct_path = "/v/t62.7118-24/x.enc",
                               .file_length = len,
                               .media_key = key,
                               .sha256 = sha,
                               .enc_sha256 = enc};
    assert_int_equal(st_media_put(db, c, &ref), 0);
    return c;
}

static void set(struct st_db *db, int64_t c, enum st_mfile_state st, const char *path,
                const char *err, int attempts, int64_t fetched)
{
    struct st_mfile m = {.state = st, .attempts = attempts, .fetched = fetched};
    snprintf(m.path, sizeof m.path, "%s", path ? path : "");
    snprintf(m.error, sizeof m.error, "%s", err ? err : "");
    assert_int_equal(st_mfile_set(db, c, &m), 0);
}

static void test_schema(void **state)
{
    struct fx *f = *state;
    assert_int_equal(st_db_version(f->db), ST_SCHEMA_VERSION);
    assert_true(ST_SCHEMA_VERSION >= 10);
}

static void test_lifecycle(void **state)
{
    struct fx *f = *state;
    struct st_db *db = f->db;
    int64_t a = media_msg(db, "A", 0xaa, 1000), b = media_msg(db, "B", 0xbb, 500);
    int64_t v[8];
    size_t n = 0;
    /* both start pending, oldest first; `after` skips */
    assert_int_equal(st_mfile_pending(db, 0, v, 8, &n), 0);
    assert_int_equal(n, 2);
    assert_true(v[0] == a && v[1] == b);
    assert_int_equal(st_mfile_pending(db, a, v, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(st_mfile_pending(db, 0, v, 1, &n), 0); /* the cap */
    assert_int_equal(n, 1);
    struct st_mfile m;
    assert_int_equal(st_mfile_get(db, a, &m), 1);
    assert_int_equal(m.state, ST_MF_PENDING);
    assert_int_equal(m.attempts, 0);
    assert_string_equal(m.path, "");

    /* a failed attempt stays pending with its reason; then done */
    set(db, a, ST_MF_PENDING, NULL, "HTTP 503", 1, 0);
    assert_int_equal(st_mfile_get(db, a, &m), 1);
    assert_string_equal(m.error, "HTTP 503");
    assert_int_equal(m.attempts, 1);
    set(db, a, ST_MF_DONE, "/s/media/aa", NULL, 2, 100);
    assert_int_equal(st_mfile_get(db, a, &m), 1);
    assert_int_equal(m.state, ST_MF_DONE);
    assert_string_equal(m.path, "/s/media/aa");
    assert_int_equal(m.fetched, 100);
    assert_int_equal(st_mfile_pending(db, 0, v, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0], b);

    /* failed is final: no longer pending */
    set(db, b, ST_MF_FAILED, NULL, "expired on the server", 1, 0);
    assert_int_equal(st_mfile_pending(db, 0, v, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(st_mfile_get(db, b, &m), 1);
    assert_string_equal(st_mfile_state_name(m.state), "failed");

    /* rows without a media row */
    assert_int_equal(st_mfile_get(db, 9999, &m), 0);
    assert_int_equal(st_mfile_set(db, 9999, &m), -ENOENT);
}

static void test_dedupe_budget_expiry(void **state)
{
    struct fx *f = *state;
    struct st_db *db = f->db;
    int64_t a = media_msg(db, "A", 0xaa, 1000), a2 = media_msg(db, "A2", 0xaa, 1000),
            c = media_msg(db, "C", 0xcc, 300);
    uint8_t sha_a[32] = {0xaa}, sha_x[32] = {0x11};
    char p[ST_MFILE_PATH_MAX + 1];
    assert_int_equal(st_mfile_by_sha(db, sha_a, p, sizeof p), 0); /* nothing done yet */
    set(db, a, ST_MF_DONE, "/s/media/aa", NULL, 1, 200);
    assert_int_equal(st_mfile_by_sha(db, sha_a, p, sizeof p), 1);
    assert_string_equal(p, "/s/media/aa");
    assert_int_equal(st_mfile_by_sha(db, sha_x, p, sizeof p), 0);
    /* the same plaintext again shares the path: counted once in the budget */
    set(db, a2, ST_MF_DONE, "/s/media/aa", NULL, 0, 250);
    set(db, c, ST_MF_DONE, "/s/media/cc", NULL, 1, 150);
    uint64_t used = 0;
    assert_int_equal(st_mfile_used(db, &used), 0);
    assert_int_equal(used, 1300);
    /* the oldest done file first */
    int64_t t = 0;
    assert_int_equal(st_mfile_oldest(db, p, sizeof p, &t), 1);
    assert_string_equal(p, "/s/media/cc");
    assert_int_equal(t, 150);
    assert_int_equal(st_mfile_expire_path(db, "/s/media/cc"), 0);
    struct st_mfile m;
    assert_int_equal(st_mfile_get(db, c, &m), 1);
    assert_int_equal(m.state, ST_MF_EXPIRED);
    assert_int_equal(st_mfile_oldest(db, p, sizeof p, &t), 1);
    assert_string_equal(p, "/s/media/aa");
    /* expiring a shared path expires every row that used it */
    assert_int_equal(st_mfile_expire_path(db, "/s/media/aa"), 0);
    assert_int_equal(st_mfile_get(db, a2, &m), 1);
    assert_int_equal(m.state, ST_MF_EXPIRED);
    assert_int_equal(st_mfile_oldest(db, p, sizeof p, &t), 0);
    assert_int_equal(st_mfile_used(db, &used), 0);
    assert_int_equal(used, 0);
    assert_int_equal(st_mfile_by_sha(db, sha_a, p, sizeof p), 0);
}

/* The state survives closing and reopening the database (it is the download's durable record). */
static void test_durable(void **state)
{
    struct fx *f = *state;
    int64_t a = media_msg(f->db, "A", 0xaa, 10);
    set(f->db, a, ST_MF_PENDING, NULL, "cut", 3, 0);
    char err[256];
    assert_int_equal(st_db_close(f->db), 0);
    assert_int_equal(st_db_open(f->path, &f->db, err, sizeof err), 0);
    struct st_mfile m;
    assert_int_equal(st_mfile_get(f->db, a, &m), 1);
    assert_int_equal(m.state, ST_MF_PENDING);
    assert_int_equal(m.attempts, 3);
    assert_string_equal(m.error, "cut");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_budget_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
