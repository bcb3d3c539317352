/* SPDX-License-Identifier: MIT */
/* mediaurl.c -- a file to send fetched from an allowed URL (see mediaurl.h). */
#include "gw/mediaurl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/httpc.h"
#include "net/url.h"

/* ---- the allow list ---- */

int mediaurl_prefix_check(const char *prefix, char *err, size_t errlen)
{
    struct nurl u;
    char why[160];
    size_t n = prefix ? strlen(prefix) : 0;
    if (!n || n >= MEDIAURL_PREFIX_MAX) {
        snprintf(err, errlen, "a URL prefix of 1..%d bytes", MEDIAURL_PREFIX_MAX - 1);
        return -EINVAL;
    }
    if (nurl_parse_http(prefix, &u, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", prefix, why);
        return -EINVAL;
    }
    const char *path = strstr(prefix, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    if (!path || prefix[n - 1] != '/' || strchr(prefix, '?')) {
        snprintf(err, errlen, "%s: a prefix names a host and a path ending in '/' (no query)",
                 prefix);
        return -EINVAL;
    }
    return 0;
}

/* A path segment [s, s + n) that is "." or ".." once %2e / %2E are decoded. */
static bool dot_segment(const char *s, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '.') {
            dots++, i++;
        } else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e') {
            dots++, i += 3;
        } else {
            return false;
        }
    }
    return dots == 1 || dots == 2;
}

/* The rest of the path after a prefix: no dot segment, no encoded '/' or '\'. */
static bool rest_ok(const char *rest)
{
    size_t plen = strcspn(rest, "?");
    for (size_t i = 0; i + 2 < plen; i++)
        if (rest[i] == '%' && ((rest[i + 1] == '2' && (rest[i + 2] | 0x20) == 'f') ||
                               (rest[i + 1] == '5' && (rest[i + 2] | 0x20) == 'c')))
            return false;
    if (memchr(rest, '\\', plen)) return false;
    const char *s = rest, *end = rest + plen;
    while (s <= end) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        size_t seg = slash ? (size_t)(slash - s) : (size_t)(end - s);
        if (dot_segment(s, seg)) return false;
        if (!slash) break;
        s = slash + 1;
    }
    return true;
}

/* url starts with prefix: "scheme://host" case-insensitively, the rest byte for byte. */
static bool under(const char *url, const char *prefix)
{
    const char *ps = strstr(prefix, "://");
    if (!ps) return false;
    const char *pp = strchr(ps + 3, '/'); /* the prefix's path (checked at load) */
    if (!pp) return false;
    size_t head = (size_t)(pp - prefix), n = strlen(prefix);
    return strncasecmp(url, prefix, head) == 0 && strncmp(url + head, pp, n - head) == 0;
}

int mediaurl_allowed(const char *url, const char (*prefixes)[MEDIAURL_PREFIX_MAX], size_t n,
                     char *err, size_t errlen)
{
    struct nurl u;
    char why[160];
    if (!url || nurl_parse_http(url, &u, why, sizeof why) < 0) {
        snprintf(err, errlen, "url: not an http(s) URL (%s)", url ? why : "none");
        return -EINVAL;
    }
    if (n == 0) {
        snprintf(err, errlen,
                 "url: files from URLs are off (list the allowed URL prefixes in "
                 "media.url_allow)");
        return -EACCES;
    }
    for (size_t i = 0; i < n; i++) {
        if (!under(url, prefixes[i])) continue;
        if (!rest_ok(url + strlen(prefixes[i]))) {
            snprintf(err, errlen, "url: a dot segment or an encoded separator in the path");
            return -EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen, "url: not under any prefix in media.url_allow");
    return -EACCES;
}

/* ---- the fetch ---- */

struct mediaurl {
    struct nhttp *h;
    int fd;
    char dest[1024];
    uint64_t cap, got;
    int status;
    int werr; /* a write failed: its errno */
    mediaurl_cb cb;
    void *ud;
};

static void release(struct mediaurl *f, bool keep)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    if (!keep) (void)unlink(f->dest);
    free(f);
}

static int on_data(void *ud, int status, int64_t clen, const uint8_t *p, size_t n)
{
    struct mediaurl *f = ud;
    if (!p) { /* the head */
        f->status = status;
        if (status != 200) return -ECANCELED; /* the status says it (on_done) */
        if (clen > 0 && (uint64_t)clen > f->cap) return -EMSGSIZE;
        return 0;
    }
    if (f->got + n > f->cap) return -EMSGSIZE;
    while (n) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            f->werr = errno;
            return -EIO;
        }
        p += w, n -= (size_t)w, f->got += (uint64_t)w;
    }
    return 0;
}

static void on_done(void *ud, const struct nhttp_result *r)
{
    struct mediaurl *f = ud;
    char why[300];
    int rc = 0;
    if (f->status && f->status != 200) {
        rc = f->status == 404 || f->status == 410 ? -ENOENT : -EPROTO;
        snprintf(why, sizeof why, "the URL answered HTTP %d%s", f->status,
                 f->status >= 300 && f->status < 400 ? " (redirects are not followed)" : "");
    } else if (r->err == -EMSGSIZE) {
        rc = -EMSGSIZE;
        snprintf(why, sizeof why, "the file at the URL is over the %llu-byte cap",
                 (unsigned long long)f->cap);
    } else if (r->err == -EIO) {
        rc = -EIO;
        snprintf(why, sizeof why, "writing the fetched file: %s", strerror(f->werr));
    } else if (r->err) {
        rc = r->err;
        snprintf(why, sizeof why, "fetching the URL: %s", r->detail[0] ? r->detail : "failed");
    } else if (f->got == 0) {
        rc = -EPROTO;
        snprintf(why, sizeof why, "the URL gave an empty body");
    }
    mediaurl_cb cb = f->cb;
    void *cud = f->ud;
    uint64_t size = f->got;
    release(f, rc == 0);
    cb(cud, rc, size, rc ? why : NULL);
}

int mediaurl_fetch(uv_loop_t *loop, const struct mediaurl_opts *o, mediaurl_cb cb, void *ud,
                   struct mediaurl **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->url || !o->dest || strlen(o->dest) >= sizeof((struct mediaurl *)0)->dest ||
        !o->cap || !cb)
        return -EINVAL;
    struct mediaurl *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    snprintf(f->dest, sizeof f->dest, "%s", o->dest);
    f->fd = open(f->dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create %s: %s", f->dest, strerror(e));
        free(f);
        return -e;
    }
    f->cap = o->cap;
    f->cb = cb;
    f->ud = ud;
    int tmo = o->timeout_ms > 0 ? o->timeout_ms : 20000;
    struct nhttp_opts ho = {.url = o->url,
                            .method = "GET",
                            .ca_file = o->ca_file && o->ca_file[0] ? o->ca_file : NULL,
                            .connect_timeout_ms = tmo,
                            .response_timeout_ms = tmo,
                            .data_fn = on_data,
                            .stream_ud = f};
    int rc = nhttp_post(loop, &ho, on_done, f, &f->h, err, errlen);
    if (rc < 0) {
        release(f, false);
        return rc;
    }
    *out = f;
    return 0;
}

void mediaurl_cancel(struct mediaurl *f)
{
    if (!f) return;
    nhttp_cancel(f->h);
    release(f, false);
}
