/* SPDX-License-Identifier: MIT */
/* statedir.c -- state directory creation and the flock single-instance lock. */
#include "core/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"

int state_dir_prepare(const char *dir, char *err, size_t errlen)
{
    int r = dir_create(dir, 0700);
    if (r < 0) {
        snprintf(err, errlen, "state directory %s: %s", dir, strerror(-r));
        return r;
    }
    struct stat st;
    if (stat(dir, &st) < 0) {
        r = -errno;
        snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
        return r;
    }
    if ((st.st_mode & 077) && chmod(dir, 0700) < 0) {
        r = -errno;
        snprintf(err, errlen, "state directory %s: cannot make it private: %s", dir,
                 strerror(errno));
        return r;
    }
    return 0;
}

int state_log_path(const char *dir, char *out, size_t n)
{
    return snprintf(out, n, "%s/" STATE_LOG_FILE, dir) >= (int)n ? -ENAMETOOLONG : 0;
}

static int lock_path(const char *dir, char *out, size_t n)
{
    return snprintf(out, n, "%s/lock", dir) >= (int)n ? -ENAMETOOLONG : 0;
}

/* The holder writes its PID just after taking the lock; give it a moment. */
static pid_t read_pid(int fd)
{
    for (int tries = 0; tries < 20; tries++) {
        char b[32] = {0};
        ssize_t n = pread(fd, b, sizeof b - 1, 0);
        if (n > 0) {
            long pid = strtol(b, NULL, 10);
            if (pid > 0) return (pid_t)pid;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int state_lock_acquire(const char *dir, struct state_lock *lk, pid_t *holder, char *err,
                       size_t errlen)
{
    char path[PATH_MAX];
    lk->fd = -1;
    if (holder) *holder = 0;
    if (lock_path(dir, path, sizeof path) < 0) return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int r = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return r;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int r = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
        if (r == -EWOULDBLOCK) {
            pid_t pid = read_pid(fd);
            if (holder) *holder = pid;
            if (pid > 0)
                snprintf(err, errlen, "state directory %s is in use by wagate (pid %ld)", dir,
                         (long)pid);
            else
                snprintf(err, errlen, "state directory %s is in use by another process", dir);
        } else {
            snprintf(err, errlen, "%s: flock: %s", path, strerror(-r));
        }
        close(fd);
        return r;
    }
    char b[32];
    int n = snprintf(b, sizeof b, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, b, (size_t)n, 0) != n) {
        int r = -errno;
        snprintf(err, errlen, "%s: cannot write pid: %s", path, strerror(errno));
        close(fd);
        return r;
    }
    lk->fd = fd;
    return 0;
}

void state_lock_release(struct state_lock *lk)
{
    if (lk->fd < 0) return;
    /* Empty the PID first so a reader never sees a dead PID as holder. */
    if (ftruncate(lk->fd, 0) < 0) {
        /* nothing more to do: closing drops the lock anyway */
    }
    close(lk->fd);
    lk->fd = -1;
}

pid_t state_lock_holder(const char *dir)
{
    char path[PATH_MAX];
    if (lock_path(dir, path, sizeof path) < 0) return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -errno;
    pid_t pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0)
        flock(fd, LOCK_UN); /* nobody holds it */
    else if (errno == EWOULDBLOCK)
        pid = read_pid(fd) ?: -EBUSY;
    else
        pid = -errno;
    close(fd);
    return pid;
}

/* ---- the linked-account marker ---- */

static int marker_path(const char *acct_dir, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/" STATE_LINKED_FILE, acct_dir);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

int state_linked_mark(const char *acct_dir, const char *who)
{
    char path[PATH_MAX];
    int r = marker_path(acct_dir, path, sizeof path);
    if (r < 0) return r;
    if (access(path, F_OK) == 0) return 0;
    char ts[32], text[256];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(text, sizeof text, "linked %.120s %s\n", who && *who ? who : "-", ts);
    return file_write_atomic(path, text, (size_t)n, 0600);
}

int state_linked_clear(const char *acct_dir)
{
    char path[PATH_MAX];
    int r = marker_path(acct_dir, path, sizeof path);
    if (r < 0) return r;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int state_db_check(const char *acct_dir, const char *dbpath)
{
    char path[PATH_MAX];
    int r = marker_path(acct_dir, path, sizeof path);
    if (r < 0) return r;
    if (access(path, F_OK) < 0) return errno == ENOENT ? STATE_DB_OK : -errno;
    struct stat st;
    if (stat(dbpath, &st) < 0) return errno == ENOENT ? STATE_DB_MISSING : -errno;
    return S_ISREG(st.st_mode) && st.st_size == 0 ? STATE_DB_EMPTY : STATE_DB_OK;
}
