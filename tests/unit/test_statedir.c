/* SPDX-License-Identifier: MIT */
/* test_statedir.c -- state dir creation, the single-instance lock, file I/O. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/fileio.h"
#include "core/statedir.h"

static char base[64];

static int setup(void **state)
{
    snprintf(base, sizeof base, "/tmp/wagate-sd-XXXXXX");
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_prepare_creates_private_dir(void **state)
{
    char dir[128], err[256];
    snprintf(dir, sizeof dir, "%s/a/b/state", base);
    assert_int_equal(state_dir_prepare(dir, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* An existing loose directory is tightened. */
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(state_dir_prepare(dir, err, sizeof err), 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* A file in the way is a clear error. */
    char file[160];
    snprintf(file, sizeof file, "%s/file", base);
    assert_int_equal(file_write_atomic(file, "x", 1, 0600), 0);
    assert_int_equal(state_dir_prepare(file, err, sizeof err), -ENOTDIR);
    assert_non_null(strstr(err, file));
}

static void test_lock_contention_names_pid(void **state)
{
    char err[256];
    struct state_lock lk;
    pid_t holder = -1;
    assert_int_equal(state_lock_acquire(base, &lk, &holder, err, sizeof err), 0);
    assert_int_equal(state_lock_holder(base), getpid());
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct state_lock lk2;
        pid_t h = 0;
        char e[256];
        int r = state_lock_acquire(base, &lk2, &h, e, sizeof e);
        char want[64];
        snprintf(want, sizeof want, "(pid %ld)", (long)getppid());
        _exit(r == -EWOULDBLOCK && h == getppid() && strstr(e, want) ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    state_lock_release(&lk);
    assert_int_equal(state_lock_holder(base), 0);
}

static void test_lock_dropped_when_holder_dies(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct state_lock lk;
        pid_t h;
        char e[256];
        int r = state_lock_acquire(base, &lk, &h, e, sizeof e);
        char c = r == 0 ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1) _exit(2);
        pause(); /* killed below, never releases cleanly */
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    assert_int_equal(state_lock_holder(base), child);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    struct state_lock lk;
    pid_t h;
    char e[256];
    assert_int_equal(state_lock_acquire(base, &lk, &h, e, sizeof e), 0);
    state_lock_release(&lk);
    close(p[0]);
    close(p[1]);
}

static void test_file_atomic_and_capped_read(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/f", base);
    assert_int_equal(file_write_atomic(path, "hello", 5, 0600), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 100, &data, &len), 0);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    assert_int_equal(file_read_all(path, 4, &data, &len), -EFBIG);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(file_read_all(base, 100, &data, &len), -EINVAL); /* a directory */
}

static void test_linked_marker(void **state)
{
    char db[128], marker[128];
    snprintf(db, sizeof db, "%s/wa.db", base);
    snprintf(marker, sizeof marker, "%s/linked", base);
    /* never linked: a missing or empty database is a fresh start */
    assert_int_equal(state_db_check(base, db), STATE_DB_OK);
    assert_int_equal(file_write_atomic(db, "", 0, 0600), 0);
    assert_int_equal(state_db_check(base, db), STATE_DB_OK);
    /* linked: the marker is written once (0600) and the same database is now a loss */
    assert_int_equal(state_linked_mark(base, "15550001:3@s.whatsapp.net"), 0);
    struct stat st;
    assert_int_equal(stat(marker, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(marker, 4096, &text, &len), 0);
    assert_non_null(strstr(text, "linked 15550001:3@s.whatsapp.net 20"));
    free(text);
    assert_int_equal(state_linked_mark(base, "other"), 0); /* kept as first written */
    assert_int_equal(file_read_all(marker, 4096, &text, &len), 0);
    assert_non_null(strstr(text, "15550001:3"));
    free(text);
    assert_int_equal(state_db_check(base, db), STATE_DB_EMPTY);
    assert_int_equal(unlink(db), 0);
    assert_int_equal(state_db_check(base, db), STATE_DB_MISSING);
    assert_int_equal(file_write_atomic(db, "SQLite format 3", 15, 0600), 0);
    assert_int_equal(state_db_check(base, db), STATE_DB_OK);
    /* cleared on a new link: a fresh start again */
    assert_int_equal(unlink(db), 0);
    assert_int_equal(state_linked_clear(base), 0);
    assert_int_equal(state_linked_clear(base), 0);
    assert_int_equal(state_db_check(base, db), STATE_DB_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepare_creates_private_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_contention_names_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_dropped_when_holder_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_atomic_and_capped_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_marker, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
