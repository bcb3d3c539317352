/* SPDX-License-Identifier: MIT */
/* token.c -- create/load the bearer token file; constant-time compare. */
#include "api/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/fileio.h"
#include "core/hex.h"

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

bool api_token_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < API_TOKEN_MIN || n > API_TOKEN_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f) return false;
    return true;
}

int (*api_token__memcmp)(const void *a, const void *b, size_t len) = CRYPTO_memcmp;

bool api_token_equal(const char *expected, const char *given)
{
    if (!expected || !given || !*given || !*expected) return false;
    uint8_t a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)expected, strlen(expected), a);
    SHA256((const uint8_t *)given, strlen(given), b);
    bool eq = api_token__memcmp(a, b, sizeof(a)) == 0;
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return eq;
}

/* Random bytes from the kernel: no user-space RNG to initialise in the daemon. */
static int random_bytes(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int create_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    if (outlen < 65) return seterr(err, errlen, -ENOBUFS, "token buffer too small");
    uint8_t rnd[32];
    int r = random_bytes(rnd, sizeof(rnd));
    if (r < 0) return seterr(err, errlen, r, "no random bytes for the token: %s", strerror(-r));
    char line[66];
    hex_encode(line, rnd, sizeof(rnd));
    OPENSSL_cleanse(rnd, sizeof(rnd));
    line[64] = '\n';
    r = file_write_atomic(path, line, 65, 0600);
    if (r == 0) memcpy(out, line, 64), out[64] = '\0';
    OPENSSL_cleanse(line, sizeof(line));
    if (r < 0) return seterr(err, errlen, r, "%s: %s", path, strerror(-r));
    return 0;
}

/* Read at most API_TOKEN_MAX + 2 bytes: a longer file is garbled anyway. */
static int read_token(int fd, const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    char b[API_TOKEN_MAX + 3];
    size_t n = 0;
    while (n < sizeof(b) - 1) {
        ssize_t r = read(fd, b + n, sizeof(b) - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return seterr(err, errlen, -errno, "%s: %s", path, strerror(errno));
        if (r == 0) break;
        n += (size_t)r;
    }
    b[n] = '\0';
    if (n > 0 && b[n - 1] == '\n') b[--n] = '\0';
    if (n > 0 && b[n - 1] == '\r') b[--n] = '\0';
    int rc = 0;
    if (n == 0)
        rc = seterr(err, errlen, -EBADMSG, "%s: token file is empty", path);
    else if (strlen(b) != n || !api_token_valid(b))
        rc = seterr(err, errlen, -EBADMSG,
                    "%s: token file is garbled (want one line of %d..%d visible ASCII "
                    "characters)",
                    path, API_TOKEN_MIN, API_TOKEN_MAX);
    else if (n + 1 > outlen)
        rc = seterr(err, errlen, -ENOBUFS, "%s: token longer than the buffer", path);
    else
        memcpy(out, b, n + 1);
    OPENSSL_cleanse(b, sizeof(b));
    return rc;
}

int api_token_load_or_create(const char *state_dir, char *out, size_t outlen, char *err,
                             size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!state_dir || !*state_dir || !out || outlen == 0)
        return seterr(err, errlen, -EINVAL, "no state directory");
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/token", state_dir) >= sizeof(path) - 8)
        return seterr(err, errlen, -ENAMETOOLONG, "state directory path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) return create_token(path, out, outlen, err, errlen);
    if (fd < 0 && errno == ELOOP)
        return seterr(err, errlen, -EINVAL, "%s: is a symbolic link; refusing it", path);
    if (fd < 0) return seterr(err, errlen, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = seterr(err, errlen, -errno, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = seterr(err, errlen, -EINVAL, "%s: not a regular file", path);
    else if (st.st_mode & 077)
        rc = seterr(err, errlen, -EPERM,
                    "%s: token file is accessible by group/others (mode %03o); run chmod 600", path,
                    (unsigned)(st.st_mode & 0777));
    else
        rc = read_token(fd, path, out, outlen, err, errlen);
    close(fd);
    return rc;
}
