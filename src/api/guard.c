/* SPDX-License-Identifier: MIT */
/* guard.c -- Host allowlist, Origin check, loopback tests. */
#include "api/guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"

/* Split "name[:port]" ("[v6][:port]") into a lower-case name and a port (-1 when absent).
 * Returns 0 or -EINVAL. */
static int split_host(const char *s, size_t len, char *name, size_t namelen, int *port)
{
    const char *colon = NULL;
    if (len && s[0] == '[') {
        const char *end = memchr(s, ']', len);
        if (!end) return -EINVAL;
        size_t used = (size_t)(end - s) + 1;
        if (used < len && s[used] != ':') return -EINVAL;
        if (used < len) colon = s + used;
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) return -EINVAL;
    }
    size_t hl = colon ? (size_t)(colon - s) : len;
    if (hl == 0 || hl >= namelen) return -EINVAL;
    for (size_t i = 0; i < hl; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == '@') return -EINVAL;
        name[i] = (char)tolower(ch);
    }
    name[hl] = '\0';
    *port = -1;
    if (colon) {
        const char *p = colon + 1, *e = s + len;
        long v = 0;
        if (p == e || e - p > 5) return -EINVAL;
        for (; p < e; p++) {
            if (*p < '0' || *p > '9') return -EINVAL;
            v = v * 10 + (*p - '0');
        }
        if (v < 1 || v > 65535) return -EINVAL;
        *port = (int)v;
    }
    return 0;
}

int api_guard_init(struct api_guard *g, const char *listen, int port, bool tls,
                   const char *const *extra, size_t n)
{
    memset(g, 0, sizeof(*g));
    g->port = port;
    g->tls = tls;
    if (n > API_GUARD_MAX_HOSTS) return -E2BIG;
    for (size_t i = 0; i < n; i++) {
        if (!extra[i] || split_host(extra[i], strlen(extra[i]), g->hosts[i], sizeof(g->hosts[i]),
                                    &g->host_port[i]) < 0)
            return -EINVAL;
    }
    g->nhosts = n;
    char host[64];
    if (listen && cfg_split_listen(listen, host, sizeof(host), NULL) == 0 &&
        strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0) {
        if (strchr(host, ':'))
            snprintf(g->listen_host, sizeof(g->listen_host), "[%.60s]", host);
        else
            snprintf(g->listen_host, sizeof(g->listen_host), "%s", host);
        for (char *p = g->listen_host; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    return 0;
}

static bool name_port_ok(const struct api_guard *g, const char *name, int port, int dflt)
{
    int eff = port < 0 ? dflt : port;
    static const char *const loop[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
        if (strcmp(name, loop[i]) == 0 && eff == g->port) return true;
    if (g->listen_host[0] && strcmp(name, g->listen_host) == 0 && eff == g->port) return true;
    for (size_t i = 0; i < g->nhosts; i++)
        if (strcmp(name, g->hosts[i]) == 0 && (g->host_port[i] < 0 || g->host_port[i] == eff))
            return true;
    return false;
}

bool api_guard_host_ok(const struct api_guard *g, const char *host)
{
    if (!host) return true;
    char name[API_GUARD_HOST_MAX];
    int port;
    if (split_host(host, strlen(host), name, sizeof(name), &port) < 0) return false;
    return name_port_ok(g, name, port, g->tls ? 443 : 80);
}

bool api_guard_origin_ok(const struct api_guard *g, const char *origin)
{
    if (!origin) return true;
    int dflt;
    const char *rest;
    if (strncasecmp(origin, "http://", 7) == 0) {
        dflt = 80;
        rest = origin + 7;
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        dflt = 443;
        rest = origin + 8;
    } else {
        return false; /* "null", other schemes */
    }
    size_t len = strlen(rest);
    if (len && rest[len - 1] == '/') len--; /* tolerate one trailing slash */
    char name[API_GUARD_HOST_MAX];
    int port;
    if (split_host(rest, len, name, sizeof(name), &port) < 0) return false;
    return name_port_ok(g, name, port, dflt);
}

bool api_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

bool api_listen_is_loopback(const char *listen)
{
    char host[64];
    if (!listen || cfg_split_listen(listen, host, sizeof(host), NULL) < 0) return false;
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } u; /* one object seen through each type: no aliasing trouble when inlined */
    memset(&u, 0, sizeof(u));
    if (inet_pton(AF_INET, host, &u.v4.sin_addr) == 1) {
        u.v4.sin_family = AF_INET;
        return api_addr_is_loopback(&u.sa);
    }
    memset(&u, 0, sizeof(u));
    if (inet_pton(AF_INET6, host, &u.v6.sin6_addr) == 1) {
        u.v6.sin6_family = AF_INET6;
        return api_addr_is_loopback(&u.sa);
    }
    return false;
}
