/* SPDX-License-Identifier: MIT */
/* powercut.c -- an LD_PRELOAD shim for the crash tests: a power cut at daemon level.
 *
 * Used only by tests (tests/crash/02-powercut.sh, 03-diskfault.sh); never linked into wagate.
 * For every file under $WAGATE_PC_DIR it remembers what was last made durable: the size at
 * the last fsync/fdatasync (or when the process first opened it) and, for every write or
 * truncation since, the bytes it overwrote inside that size (an undo log). At a cut it rolls
 * every such file back to its last-synced content (undo in reverse order, then truncate to
 * the synced size) and SIGKILLs the process -- what a power cut leaves of a file whose
 * unsynced pages never reached the disk. Not modelled: directory entries (a rename or create
 * that was not followed by a directory fsync survives), and torn sectors inside one write.
 *
 * Environment:
 *   WAGATE_PC_DIR=path       the files to track (prefix of the path given to open); required
 *   WAGATE_PC_CUT_AT=N       cut at the N-th fsync/fdatasync of a tracked file, before it
 *   WAGATE_PC_CUT_MS=T       cut T ms after the process started (a thread; all writers wait)
 *   WAGATE_PC_COUNT=path     the number of tracked syncs so far is written there at each one
 *   WAGATE_PC_EIO_FILE=path  while this file exists, fsync/fdatasync of a tracked file fail
 *                            with EIO (and sync nothing: the undo log is kept)
 *   WAGATE_PC_EROFS_FILE=path  while this file exists, the state dir behaves as a file system
 *                            the kernel remounted read-only (errors=remount-ro): writes,
 *                            truncations and syncs of tracked files, and opens of tracked
 *                            paths for writing, fail with EROFS
 * A cut prints "powercut: ..." on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD    4096
#define MAX_FILES 256

struct undo {
    struct undo *prev;
    off_t off;
    size_t len;
    unsigned char data[];
};

struct pfile {
    dev_t dev;
    ino_t ino;
    int fd; /* one open descriptor of it (for the rollback) */
    off_t synced;
    struct undo *log; /* newest first */
    char path[512];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct pfile files[MAX_FILES];
static int nfiles;
static struct pfile *byfd[MAX_FD];
static char dir[512];
static size_t dirlen;
static long cut_at, syncs;
static const char *count_path, *eio_path, *erofs_path;

static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_close)(int);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_pread)(int, void *, size_t, off_t);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);

static void *cut_thread(void *arg);

__attribute__((constructor)) static void pc_init(void)
{
    r_open = dlsym(RTLD_NEXT, "open");
    r_open64 = dlsym(RTLD_NEXT, "open64");
    r_openat = dlsym(RTLD_NEXT, "openat");
    r_close = dlsym(RTLD_NEXT, "close");
    r_write = dlsym(RTLD_NEXT, "write");
    r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    r_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    r_pread = dlsym(RTLD_NEXT, "pread");
    r_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    r_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    r_fsync = dlsym(RTLD_NEXT, "fsync");
    r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    const char *d = getenv("WAGATE_PC_DIR");
    if (d && d[0]) {
        snprintf(dir, sizeof dir, "%s", d);
        dirlen = strlen(dir);
    }
    const char *c = getenv("WAGATE_PC_CUT_AT");
    cut_at = c ? atol(c) : 0;
    count_path = getenv("WAGATE_PC_COUNT");
    eio_path = getenv("WAGATE_PC_EIO_FILE");
    erofs_path = getenv("WAGATE_PC_EROFS_FILE");
    const char *ms = getenv("WAGATE_PC_CUT_MS");
    if (ms && atol(ms) > 0 && dirlen) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_create(&t, &a, cut_thread, (void *)(intptr_t)atol(ms));
        pthread_attr_destroy(&a);
    }
}

static void say(const char *fmt, ...)
{
    char b[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n > 0) r_write(2, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

/* ---- the rollback (mu held) ---- */

static void rollback_and_die(const char *why)
{
    int rolled = 0;
    for (int i = 0; i < nfiles; i++) {
        struct pfile *f = &files[i];
        if (f->fd < 0) continue;
        int dirty = f->log != NULL;
        struct stat st;
        if (fstat(f->fd, &st) == 0 && st.st_size != f->synced) dirty = 1;
        for (struct undo *u = f->log; u; u = u->prev)
            r_pwrite(f->fd, u->data, u->len, u->off);
        r_ftruncate(f->fd, f->synced);
        rolled += dirty;
    }
    say("powercut: %s: %d file(s) rolled back to their last fsync; killing pid %d\n", why, rolled,
        (int)getpid());
    kill(getpid(), SIGKILL);
    _exit(137);
}

static void *cut_thread(void *arg)
{
    long ms = (long)(intptr_t)arg;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&mu);
    char why[64];
    snprintf(why, sizeof why, "cut after %ld ms (%ld syncs)", ms, syncs);
    rollback_and_die(why);
    return NULL;
}

/* ---- tracking (mu held) ---- */

static int tracked_path(const char *p)
{
    return dirlen && p && strncmp(p, dir, dirlen) == 0;
}

static struct pfile *file_for(int fd, const char *path)
{
    struct stat st;
    if (fd < 0 || fd >= MAX_FD || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return NULL;
    for (int i = 0; i < nfiles; i++) {
        if (files[i].dev == st.st_dev && files[i].ino == st.st_ino) {
            if (files[i].fd < 0) files[i].fd = fd;
            return &files[i];
        }
    }
    if (nfiles == MAX_FILES) return NULL;
    struct pfile *f = &files[nfiles++];
    memset(f, 0, sizeof *f);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->fd = fd;
    f->synced = st.st_size; /* what exists when we first see it survived the last cut */
    snprintf(f->path, sizeof f->path, "%s", path);
    return f;
}

/* Save the synced bytes [off, off+len) is about to overwrite. */
static void save(struct pfile *f, int fd, off_t off, size_t len)
{
    if (off >= f->synced || !len) return;
    if ((off_t)(off + len) > f->synced) len = (size_t)(f->synced - off);
    struct undo *u = malloc(sizeof *u + len);
    if (!u) abort();
    ssize_t n = r_pread(fd, u->data, len, off);
    u->off = off;
    u->len = n > 0 ? (size_t)n : 0;
    u->prev = f->log;
    f->log = u;
}

static void clean(struct pfile *f, int fd)
{
    struct stat st;
    f->synced = fstat(fd, &st) == 0 ? st.st_size : f->synced;
    while (f->log) {
        struct undo *u = f->log;
        f->log = u->prev;
        free(u);
    }
}

static void opened(int fd, const char *path)
{
    if (fd < 0 || fd >= MAX_FD || !tracked_path(path)) return;
    pthread_mutex_lock(&mu);
    byfd[fd] = file_for(fd, path);
    pthread_mutex_unlock(&mu);
}

/* O_TRUNC of a tracked file: its synced content is saved first. */
static void pre_trunc(const char *path, int flags)
{
    if (!(flags & O_TRUNC) || !tracked_path(path)) return;
    int fd = r_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    pthread_mutex_lock(&mu);
    struct pfile *f = file_for(fd, path);
    if (f) {
        save(f, fd, 0, (size_t)f->synced);
        if (f->fd == fd) f->fd = -1;
    }
    pthread_mutex_unlock(&mu);
    r_close(fd);
}

/* ---- the interposed calls ---- */

/* WAGATE_PC_EROFS_FILE: is the state dir "remounted read-only" now? */
static int ro_now(void)
{
    return erofs_path && access(erofs_path, F_OK) == 0;
}

static int ro_refuse(const char *path, int flags)
{
    if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) || !tracked_path(path) || !ro_now())
        return 0;
    errno = EROFS;
    return -1;
}

static int mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    if (ro_refuse(path, flags)) return -1;
    pre_trunc(path, flags);
    int fd = r_open(path, flags, mode);
    opened(fd, path);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    if (ro_refuse(path, flags)) return -1;
    pre_trunc(path, flags);
    int fd = (r_open64 ? r_open64 : r_open)(path, flags, mode);
    opened(fd, path);
    return fd;
}

int openat(int dfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    int abs = path[0] == '/';
    if (abs && ro_refuse(path, flags)) return -1;
    if (abs) pre_trunc(path, flags);
    int fd = r_openat(dfd, path, flags, mode);
    if (abs) opened(fd, path);
    return fd;
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FD && byfd[fd]) {
        pthread_mutex_lock(&mu);
        struct pfile *f = byfd[fd];
        byfd[fd] = NULL;
        if (f && f->fd == fd) {
            f->fd = -1;
            for (int i = 0; i < MAX_FD; i++) /* another descriptor of the same file */
                if (byfd[i] == f) f->fd = i;
        }
        pthread_mutex_unlock(&mu);
    }
    return r_close(fd);
}

static ssize_t do_pwrite(ssize_t (*fn)(int, const void *, size_t, off_t), int fd, const void *b,
                         size_t n, off_t off)
{
    if (fd < 0 || fd >= MAX_FD || !byfd[fd]) return fn(fd, b, n, off);
    if (ro_now()) {
        errno = EROFS;
        return -1;
    }
    pthread_mutex_lock(&mu);
    if (byfd[fd]) save(byfd[fd], fd, off, n);
    ssize_t r = fn(fd, b, n, off);
    pthread_mutex_unlock(&mu);
    return r;
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
    return do_pwrite(r_pwrite, fd, b, n, off);
}

ssize_t pwrite64(int fd, const void *b, size_t n, off_t off)
{
    return do_pwrite(r_pwrite64 ? r_pwrite64 : r_pwrite, fd, b, n, off);
}

ssize_t write(int fd, const void *b, size_t n)
{
    if (fd < 0 || fd >= MAX_FD || !byfd[fd]) return r_write(fd, b, n);
    if (ro_now()) {
        errno = EROFS;
        return -1;
    }
    pthread_mutex_lock(&mu);
    if (byfd[fd]) {
        int fl = fcntl(fd, F_GETFL);
        off_t off = (fl >= 0 && (fl & O_APPEND)) ? lseek(fd, 0, SEEK_END) : lseek(fd, 0, SEEK_CUR);
        if (off >= 0) save(byfd[fd], fd, off, n);
    }
    ssize_t r = r_write(fd, b, n);
    pthread_mutex_unlock(&mu);
    return r;
}

static int do_trunc(int (*fn)(int, off_t), int fd, off_t len)
{
    if (fd < 0 || fd >= MAX_FD || !byfd[fd]) return fn(fd, len);
    if (ro_now()) {
        errno = EROFS;
        return -1;
    }
    pthread_mutex_lock(&mu);
    struct pfile *f = byfd[fd];
    if (f && len < f->synced) save(f, fd, len, (size_t)(f->synced - len));
    int r = fn(fd, len);
    pthread_mutex_unlock(&mu);
    return r;
}

int ftruncate(int fd, off_t len)
{
    return do_trunc(r_ftruncate, fd, len);
}

int ftruncate64(int fd, off_t len)
{
    return do_trunc(r_ftruncate64 ? r_ftruncate64 : r_ftruncate, fd, len);
}

static void write_count(void)
{
    if (!count_path) return;
    int fd = r_open(count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char b[32];
    int n = snprintf(b, sizeof b, "%ld\n", syncs);
    r_write(fd, b, (size_t)n);
    r_close(fd);
}

static int do_sync(int (*fn)(int), int fd)
{
    if (fd < 0 || fd >= MAX_FD || !byfd[fd]) return fn(fd);
    pthread_mutex_lock(&mu);
    struct pfile *f = byfd[fd];
    if (!f) {
        pthread_mutex_unlock(&mu);
        return fn(fd);
    }
    syncs++;
    write_count();
    if (cut_at && syncs == cut_at) {
        char why[600];
        snprintf(why, sizeof why, "cut at sync %ld (%s)", syncs, f->path);
        rollback_and_die(why);
    }
    if ((eio_path && access(eio_path, F_OK) == 0) || ro_now()) {
        pthread_mutex_unlock(&mu);
        errno = ro_now() ? EROFS : EIO;
        return -1;
    }
    int r = fn(fd);
    if (r == 0) clean(f, fd);
    pthread_mutex_unlock(&mu);
    return r;
}

int fsync(int fd)
{
    return do_sync(r_fsync, fd);
}

int fdatasync(int fd)
{
    return do_sync(r_fdatasync, fd);
}
