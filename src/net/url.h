/* SPDX-License-Identifier: MIT */
/* url.h -- parse ws:// and wss:// endpoint URLs, and http:// / https:// ones (webhooks);
 * no I/O, no allocation.
 *
 * Accepted: `ws://HOST[:PORT][/PATH]`, `wss://HOST[:PORT][/PATH]` where HOST is a DNS name
 * (letters, digits, '-', '.', '_'), an IPv4 literal, or a bracketed IPv6 literal `[::1]`.
 * The scheme is case-insensitive. Default ports: 80 (ws, http), 443 (wss, https). Empty path
 * = "/". nurl_parse_http() takes http:// and https:// with the same rules (tls = https).
 * Query strings are kept as part of the path; fragments, user-info and spaces are rejected.
 * Limits: host <= NURL_HOST_MAX-1 bytes, path <= NURL_PATH_MAX-1 bytes.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NURL_HOST_MAX 256
#define NURL_PATH_MAX 1024

struct nurl {
    bool tls;                 /* wss:// or https:// */
    char host[NURL_HOST_MAX]; /* name or literal, IPv6 without brackets */
    uint16_t port;            /* explicit or default */
    bool port_explicit;       /* the URL named a port */
    int ip_family;            /* AF_INET / AF_INET6 for literals, 0 for names */
    char path[NURL_PATH_MAX]; /* starts with '/' */
};

/* Parse `s` into `out`. Returns 0, or -EINVAL with a human-readable reason in `err`
 * (always NUL-terminated when errlen > 0). `out` is unspecified on failure. */
int nurl_parse(const char *s, struct nurl *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same for http:// and https:// URLs. */
int nurl_parse_http(const char *s, struct nurl *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Format "host:port" ("[::1]:443" for IPv6) into dst; returns dst. */
char *nurl_hostport(const struct nurl *u, char *dst, size_t dstlen);
