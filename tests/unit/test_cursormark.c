/* SPDX-License-Identifier: MIT */
/* test_cursormark.c -- the inbox high-water marker: format, strict parse, the reset rule,
 * and the open path against a real store (a restored database, a fresh one, a torn marker). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gw/cursormark.h"
#include "store/db.h"
#include "store/msgstore.h"

static void test_roundtrip(void **state)
{
    struct cursormark m = {.epoch = 3, .hw = 9, .seen = 42, .reset_from = 7, .reset_to = 20};
    char t[CURSORMARK_MAX];
    int n = cursormark_format(&m, t, sizeof t);
    assert_true(n > 0);
    assert_string_equal(t, "wagate-inbox-hw 1\nepoch 3\nhw 42\nreset 7 20\n");
    struct cursormark b = {0};
    assert_int_equal(cursormark_parse(&b, t, (size_t)n), 0);
    assert_int_equal(b.epoch, 3);
    assert_int_equal(b.hw, 42);
    assert_int_equal(b.seen, 42);
    assert_int_equal(b.reset_from, 7);
    assert_int_equal(b.reset_to, 20);
}

static void test_parse_rejects(void **state)
{
    const char *bad[] = {
        "",
        "wagate-inbox-hw 2\nepoch 1\nhw 0\nreset 0 0\n",
        "wagate-inbox-hw 1\nepoch 0\nhw 0\nreset 0 0\n",  /* epoch starts at 1 */
        "wagate-inbox-hw 1\nepoch 1\nhw -1\nreset 0 0\n", /* no signs */
        "wagate-inbox-hw 1\nepoch 1\nhw 5\nreset 9 3\n",  /* from > to */
        "wagate-inbox-hw 1\nepoch 1\nhw 5\nreset 0 0",    /* torn: no last newline */
        "wagate-inbox-hw 1\nepoch 1\nhw 5\nreset 0 0\nx", /* trailing bytes */
        "wagate-inbox-hw 1\nepoch 1\nhw 99999999999999999999\nreset 0 0\n", /* overflow */
        "wagate-inbox-hw 1\nhw 5\nepoch 1\nreset 0 0\n",                    /* order */
        "wagate-inbox-hw 1\nepoch 1\nhw \nreset 0 0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cursormark m = {.epoch = 7};
        if (cursormark_parse(&m, bad[i], strlen(bad[i])) != -EINVAL) fail_msg("accepted #%zu", i);
        assert_int_equal(m.epoch, 7); /* untouched */
    }
}

static void test_check(void **state)
{
    struct cursormark m = {.epoch = 1, .hw = 10, .seen = 10};
    assert_int_equal(cursormark_check(&m, 12), 0); /* ahead (a crash left the marker behind) */
    assert_int_equal(m.seen, 12);
    assert_true(cursormark_dirty(&m));
    m.hw = 12;
    assert_int_equal(cursormark_check(&m, 12), 0);
    assert_int_equal(cursormark_check(&m, 4), 1); /* behind: a restored copy */
    assert_int_equal(m.epoch, 2);
    assert_int_equal(m.reset_from, 5);
    assert_int_equal(m.reset_to, 12);
    assert_int_equal(m.seen, 12);
    cursormark_note(&m, 3);
    assert_int_equal(m.seen, 12); /* never backwards */
    cursormark_note(&m, 13);
    assert_int_equal(m.seen, 13);
}

struct fx {
    char dir[64], db[96];
    struct st_db *d;
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/wagate-cm-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/wa.db", f->dir);
    char err[256];
    assert_int_equal(st_db_open(f->db, &f->d, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    if (f->d) st_db_close(f->d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void exec_sql(struct fx *f, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t insert(struct fx *f, const char *id)
{
    int64_t c = 0;
    assert_int_equal(st_inbox_insert(f->d, "a@s.whatsapp.net", "a@s.whatsapp.net", id, 1, "text",
                                     (const uint8_t *)"x", 1, &c),
                     0);
    return c;
}

static void test_open_restore_and_fresh(void **state)
{
    struct fx *f = *state;
    char text[400];
    struct cursormark m;
    assert_int_equal(cursormark_open(&m, f->dir, f->d, false, text, sizeof text), 0);
    assert_int_equal(m.epoch, 1);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "M%d", i);
        cursormark_note(&m, insert(f, id));
    }
    assert_int_equal(cursormark_tick(&m, 0), 0);
    assert_int_equal(m.hw, 10);
    /* the database goes back to a high-water of 4 (as a restored copy would be) */
    exec_sql(f, "UPDATE sqlite_sequence SET seq = 4 WHERE name = 'inbox'");
    assert_int_equal(cursormark_open(&m, f->dir, f->d, false, text, sizeof text), 1);
    assert_non_null(strstr(text, "cursors 5..10 are gone"));
    assert_int_equal(m.epoch, 2);
    assert_int_equal(insert(f, "NEW"), 11); /* above every cursor given out */
    /* reopened: the marker was saved at the reset, nothing more to say */
    assert_int_equal(cursormark_open(&m, f->dir, f->d, false, text, sizeof text), 0);
    assert_int_equal(m.epoch, 2);
    /* a fresh database (no credentials, after a logout): continues above, quietly */
    exec_sql(f, "DELETE FROM sqlite_sequence");
    assert_int_equal(cursormark_open(&m, f->dir, f->d, true, text, sizeof text), 0);
    assert_int_equal(m.epoch, 2);
    assert_int_equal(insert(f, "FRESH"), 12);
}

static void test_open_torn(void **state)
{
    struct fx *f = *state;
    char path[128], text[400];
    snprintf(path, sizeof path, "%s/" CURSORMARK_FILE, f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("wagate-inbox-hw 1\nepoch 3\nhw 1", fp); /* cut short */
    fclose(fp);
    insert(f, "A");
    struct cursormark m;
    assert_int_equal(cursormark_open(&m, f->dir, f->d, false, text, sizeof text), 0);
    assert_non_null(strstr(text, "torn"));
    assert_int_equal(m.hw, 1);
    struct cursormark b;
    assert_int_equal(cursormark_load(&b, f->dir), 0); /* written again, whole */
    assert_int_equal(b.hw, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_check),
        cmocka_unit_test_setup_teardown(test_open_restore_and_fresh, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_torn, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
