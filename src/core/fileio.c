/* SPDX-License-Identifier: MIT */
/* fileio.c -- whole-file reads with a cap, atomic writes, directories. */
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int r = 0;
    char *data = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto out;
    }
    if ((size_t)st.st_size > max) {
        r = -EFBIG;
        goto out;
    }
    size_t size = (size_t)st.st_size, n = 0;
    data = malloc(size + 1);
    if (!data) {
        r = -ENOMEM;
        goto out;
    }
    while (n < size) {
        ssize_t k = read(fd, data + n, size - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            r = -errno;
            goto out;
        }
        if (k == 0) break; /* shrank under us: take what is there */
        n += (size_t)k;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    data = NULL;
out:
    free(data);
    close(fd);
    return r;
}

int dir_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
        snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return -errno;
    int r = write_full(fd, data, len);
    if (r == 0 && fsync(fd) < 0) r = -errno;
    if (close(fd) < 0 && r == 0) r = -errno;
    if (r == 0 && rename(tmp, path) < 0) r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return dir_sync(dirname(dir));
}

int dir_create(const char *path, mode_t mode)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof p) return -ENAMETOOLONG;
    memcpy(p, path, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
    struct stat st;
    if (stat(p, &st) < 0) return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}
