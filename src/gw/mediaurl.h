/* SPDX-License-Identifier: MIT */
/* mediaurl.h -- a file to send fetched from a URL the operator allowed (issue 14, media
 * send: POST /api/v1/messages {"image": {"url": ...}}, docs/api.md "Sending files").
 *
 * Allowed: media.url_allow lists URL prefixes ("https://files.example.com/agent/"), each an
 * http:// or https:// URL with a host and a path ending in '/' (checked at config load,
 * mediaurl_prefix_check). A URL is allowed when it parses (net/url.h: no user-info, no
 * fragment, no spaces), starts with one of the prefixes byte for byte (scheme and host
 * compared case-insensitively), and the rest of its path holds no dot segment ("." or ".."
 * plainly or percent-encoded) nor an encoded '/' or '\' -- so "prefix/../secret" cannot
 * leave the prefix on a server that resolves it. Empty list: URL sources are refused.
 *
 * Fetch: GET on the loop (net/httpc.h: DNS, TCP, TLS verified against the system store or
 * ca_file), the body streamed into dest (created 0600, O_EXCL; written in the pieces the
 * socket delivers, as wa/mediaxfer does). Only a 200 is a file: a redirect is not followed
 * (its status is the error), a Content-Length or a body over cap is refused as soon as it
 * shows, and the connect / idle timeout is timeout_ms. On failure dest is removed. No fsync:
 * the caller copies the file into its durable place (gw/chmsend) and removes dest. The
 * callback runs exactly once from a loop callback unless mediaurl_cancel() came first.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define MEDIAURL_PREFIXES_MAX 16
#define MEDIAURL_PREFIX_MAX   512

struct mediaurl;

/* A configured prefix: 0, or -EINVAL with the reason in err. */
int mediaurl_prefix_check(const char *prefix, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* 0 when url is allowed by one of the n prefixes, else -EACCES (not under any, or none) or
 * -EINVAL (not a fetchable URL, a dot segment), with the reason in err. */
int mediaurl_allowed(const char *url, const char (*prefixes)[MEDIAURL_PREFIX_MAX], size_t n,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

struct mediaurl_opts {
    const char *url;
    const char *dest;    /* created; removed on failure */
    uint64_t cap;        /* bytes */
    const char *ca_file; /* NULL or "": the system store */
    int timeout_ms;      /* connect and idle; <= 0: 20000 */
};

/* rc 0 and size, or a negative errno with why: -EMSGSIZE (over cap), -ENOENT (404/410),
 * -EPROTO (another status, an empty body), -EIO (dest), a network error. */
typedef void (*mediaurl_cb)(void *ud, int rc, uint64_t size, const char *why);

/* 0 and *out, or -EINVAL (bad URL: why in err), -EEXIST / -errno (dest), -ENOMEM: nothing
 * started, no callback. */
int mediaurl_fetch(uv_loop_t *loop, const struct mediaurl_opts *o, mediaurl_cb cb, void *ud,
                   struct mediaurl **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* No callback; dest removed. */
void mediaurl_cancel(struct mediaurl *f);
