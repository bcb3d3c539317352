/* SPDX-License-Identifier: MIT */
/* url.c -- ws:// / wss:// and http:// / https:// URL parser. */
#include "net/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static int fail(char *err, size_t errlen, const char *why)
{
    if (errlen > 0) snprintf(err, errlen, "%s", why);
    return -EINVAL;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* Parse the host part [p, end) (end = first of ':' '/' or NUL outside brackets). */
static int parse_host(const char **pp, struct nurl *u, char *err, size_t errlen)
{
    const char *p = *pp, *e;
    size_t n;
    unsigned char tmp[16];

    if (*p == '[') {
        e = strchr(p, ']');
        if (!e) return fail(err, errlen, "missing ']' after IPv6 address");
        n = (size_t)(e - p - 1);
        if (n == 0 || n >= NURL_HOST_MAX) return fail(err, errlen, "bad IPv6 address length");
        memcpy(u->host, p + 1, n);
        u->host[n] = '\0';
        if (inet_pton(AF_INET6, u->host, tmp) != 1)
            return fail(err, errlen, "invalid IPv6 address");
        u->ip_family = AF_INET6;
        *pp = e + 1;
        return 0;
    }
    for (e = p; *e && *e != ':' && *e != '/' && *e != '?'; e++) {
        if (!name_char(*e)) return fail(err, errlen, "invalid character in host");
    }
    n = (size_t)(e - p);
    if (n == 0) return fail(err, errlen, "empty host");
    if (n >= NURL_HOST_MAX) return fail(err, errlen, "host too long");
    memcpy(u->host, p, n);
    u->host[n] = '\0';
    if (inet_pton(AF_INET, u->host, tmp) == 1) u->ip_family = AF_INET;
    *pp = e;
    return 0;
}

static int parse_port(const char **pp, struct nurl *u, char *err, size_t errlen)
{
    const char *p = *pp;
    unsigned long v = 0;
    int digits = 0;

    if (*p != ':') return 0;
    p++;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long)(*p - '0');
        if (++digits > 5 || v > 65535) return fail(err, errlen, "port out of range");
        p++;
    }
    if (digits == 0) return fail(err, errlen, "missing port number");
    if (v == 0) return fail(err, errlen, "port 0 is not allowed");
    if (*p && *p != '/' && *p != '?') return fail(err, errlen, "invalid character after port");
    u->port = (uint16_t)v;
    u->port_explicit = true;
    *pp = p;
    return 0;
}

static int parse_path(const char *p, struct nurl *u, char *err, size_t errlen)
{
    size_t n = strlen(p), off = 0;

    for (const char *q = p; *q; q++) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return fail(err, errlen, "invalid character in path");
        if (*q == '#') return fail(err, errlen, "fragments are not allowed");
    }
    if (*p != '/') u->path[off++] = '/';
    if (n + off >= NURL_PATH_MAX) return fail(err, errlen, "path too long");
    memcpy(u->path + off, p, n + 1);
    return 0;
}

/* Parse `s` after a scheme of `skip` bytes: user-info check, host, port, path. */
static int parse_rest(const char *p, struct nurl *u, char *err, size_t errlen)
{
    int rc;
    if (strpbrk(p, "@")) return fail(err, errlen, "user-info is not allowed");
    rc = parse_host(&p, u, err, errlen);
    if (rc == 0) rc = parse_port(&p, u, err, errlen);
    if (rc == 0 && *p && *p != '/' && *p != '?')
        rc = fail(err, errlen, "invalid character after host");
    if (rc == 0) rc = parse_path(p, u, err, errlen);
    return rc;
}

/* Either ws/wss or http/https (web = true) schemes. */
static int parse_scheme(const char *s, struct nurl *u, bool web, char *err, size_t errlen)
{
    const char *tls = web ? "https://" : "wss://", *plain = web ? "http://" : "ws://";
    size_t nt = strlen(tls), np = strlen(plain);

    memset(u, 0, sizeof(*u));
    if (errlen > 0) err[0] = '\0';
    if (!s) return fail(err, errlen, "no URL");
    if (strncasecmp(s, tls, nt) == 0) {
        u->tls = true;
        u->port = 443;
        return parse_rest(s + nt, u, err, errlen);
    }
    if (strncasecmp(s, plain, np) == 0) {
        u->port = 80;
        return parse_rest(s + np, u, err, errlen);
    }
    return fail(err, errlen,
                web ? "scheme must be http:// or https://" : "scheme must be ws:// or wss://");
}

int nurl_parse(const char *s, struct nurl *u, char *err, size_t errlen)
{
    return parse_scheme(s, u, false, err, errlen);
}

int nurl_parse_http(const char *s, struct nurl *u, char *err, size_t errlen)
{
    return parse_scheme(s, u, true, err, errlen);
}

char *nurl_hostport(const struct nurl *u, char *dst, size_t dstlen)
{
    if (u->ip_family == AF_INET6)
        snprintf(dst, dstlen, "[%s]:%u", u->host, (unsigned)u->port);
    else
        snprintf(dst, dstlen, "%s:%u", u->host, (unsigned)u->port);
    return dst;
}
