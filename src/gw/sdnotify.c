/* SPDX-License-Identifier: MIT */
/* sdnotify.c -- sd_notify datagrams over a unix socket (gw/sdnotify.h). */
#include "gw/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t watchdog_from_env(void)
{
    const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!us || !*us) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(us, &end, 10);
    if (errno || *end || v == 0) return 0;
    if (pid && *pid) {
        long p = strtol(pid, &end, 10);
        if (*end || p != (long)getpid()) return 0;
    }
    return (uint64_t)v;
}

static int parse_addr(const char *s, struct sdnotify *n)
{
    size_t len = strlen(s);
    if (len < 2 || len >= sizeof n->addr.sun_path || (s[0] != '/' && s[0] != '@')) return -EINVAL;
    memset(&n->addr, 0, sizeof n->addr);
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, s, len);
    if (s[0] == '@') n->addr.sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
    n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (s[0] == '/'));
    return 0;
}

int sdnotify_open(struct sdnotify *n)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    n->watchdog_usec = watchdog_from_env();
    const char *s = getenv("NOTIFY_SOCKET");
    int r = 0;
    if (s && *s) {
        r = parse_addr(s, n);
        if (r == 0) {
            n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (n->fd < 0) r = -errno;
        }
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    if (n->fd < 0) n->watchdog_usec = 0; /* nobody to ping */
    return r;
}

bool sdnotify_enabled(const struct sdnotify *n)
{
    return n->fd >= 0;
}

int sdnotify_send(const struct sdnotify *n, const char *msg)
{
    if (n->fd < 0) return 0;
    size_t len = strlen(msg);
    if (len > SDNOTIFY_MAX) return -EMSGSIZE;
    ssize_t w =
        sendto(n->fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addrlen);
    return w < 0 ? -errno : 0;
}

int sdnotify_status(const struct sdnotify *n, const char *fmt, ...)
{
    if (n->fd < 0) return 0;
    char msg[SDNOTIFY_MAX + 1] = "STATUS=";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return sdnotify_send(n, msg);
}

void sdnotify_close(struct sdnotify *n)
{
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
}
