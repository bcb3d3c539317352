/* SPDX-License-Identifier: MIT */
/* test_log.c -- the log file: appended, 0600, size-capped with one old file kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

static char base[64], path[128], old[136];

static int setup(void **state)
{
    snprintf(base, sizeof base, "/tmp/wagate-log-XXXXXX");
    if (!mkdtemp(base)) return -1;
    snprintf(path, sizeof path, "%s/gateway.log", base);
    snprintf(old, sizeof old, "%s.1", path);
    wlog_set_stderr(false);
    wlog_set_json(false);
    wlog_set_level(WLOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    wlog_set_file(NULL);
    wlog_set_file_max(0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static long long fsize(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* Lines of the file that hold needle. */
static int count(const char *p, const char *needle)
{
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static void test_file_mode_and_append(void **state)
{
    assert_int_equal(wlog_set_file(path), 0);
    log_info("test", "acct", "first %d", 1);
    assert_int_equal(wlog_set_file(path), 0); /* same path: kept open, nothing lost */
    log_info("test", NULL, "second");
    log_debug("test", NULL, "not at info");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count(path, "info  [test] [acct] first 1"), 1);
    assert_int_equal(count(path, "info  [test] second"), 1);
    assert_int_equal(count(path, "not at info"), 0);
}

static void test_rotates_at_cap_keeping_one(void **state)
{
    wlog_set_file_max(2000);
    assert_int_equal(wlog_set_file(path), 0);
    for (int i = 0; i < 200; i++)
        log_info("test", NULL, "line %03d padding padding padding", i);
    /* every file stays under the cap; the newest lines are in the file, the ones before in .1 */
    assert_true(fsize(path) > 0 && fsize(path) <= 2000);
    assert_true(fsize(old) > 1000 && fsize(old) <= 2000);
    assert_int_equal(count(path, "line 199 "), 1);
    assert_int_equal(count(old, "line 199 "), 0);
    assert_int_equal(access(path, F_OK), 0);
    char older[160];
    snprintf(older, sizeof older, "%s.2", path);
    assert_int_equal(access(older, F_OK), -1);
    /* nothing lost across the last rotation: .1 ends where the file begins */
    int first_new = -1;
    for (int i = 0; i < 200 && first_new < 0; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, "line %03d ", i);
        if (count(path, needle) == 1) first_new = i;
    }
    assert_true(first_new > 0);
    char prev[32];
    snprintf(prev, sizeof prev, "line %03d ", first_new - 1);
    assert_int_equal(count(old, prev), 1);
}

static void test_reopens_a_file_moved_away(void **state)
{
    char moved[160];
    snprintf(moved, sizeof moved, "%s/moved.log", base);
    assert_int_equal(wlog_set_file(path), 0);
    log_info("test", NULL, "before");
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(wlog_set_file(path), 0); /* the reload after someone's logrotate */
    log_info("test", NULL, "after");
    assert_int_equal(count(moved, "before"), 1);
    assert_int_equal(count(moved, "after"), 0);
    assert_int_equal(count(path, "after"), 1);
}

static void test_reopens_after_the_path_changes(void **state)
{
    char other[160];
    snprintf(other, sizeof other, "%s/other.log", base);
    assert_int_equal(wlog_set_file(path), 0);
    assert_int_equal(wlog_set_file(other), 0);
    log_warn("test", NULL, "to the other");
    assert_int_equal(count(other, "warn  [test] to the other"), 1);
    assert_int_equal(wlog_set_file(NULL), 0);
    log_warn("test", NULL, "to no file");
    assert_int_equal(count(other, "to no file"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_mode_and_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotates_at_cap_keeping_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopens_a_file_moved_away, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopens_after_the_path_changes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
