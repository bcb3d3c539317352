/* SPDX-License-Identifier: MIT */
/* server_spool.c -- request bodies over the in-memory cap, written to a file as they arrive
 * (api_server_route_spool, api_config.spool_dir; see server.h). The parser (api/http.h)
 * asks once the head is complete: only a route that takes spooled bodies, only from an
 * admitted (not triaged) client with the right Host and token, and only up to the route's
 * cap; then every body byte is written through (write() on the loop, in the pieces the
 * socket delivers -- at most 64 KiB). The file is removed once the response went out (or,
 * for a deferred one, when it is released), and when the connection ends first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server_int.h"

int srv_spool_decide(void *ud, const struct http_request *head, uint64_t content_length)
{
    struct client *c = ud;
    struct api_server *s = c->srv;
    if (c->triage || !s->spool_dir || c->spool_fd >= 0) return 0;
    if (!api_guard_host_ok(&s->guard, http_request_header(head, "Host"))) return 0;
    const char *rest;
    bool known;
    char allow[128];
    const struct route *rt = srv_find_route(s, head, &rest, &known, allow, sizeof allow);
    if (!rt || rt->spool_max < content_length) return 0; /* 413 */
    if (rt->auth && !srv_authorized(c, head)) return 401;
    char path[4096];
    snprintf(path, sizeof path, "%s/body-%d-%llu.part", s->spool_dir, (int)getpid(),
             (unsigned long long)++s->spool_seq);
    c->spool_path = strdup(path);
    if (!c->spool_path) return 0;
    c->spool_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (c->spool_fd < 0) {
        free(c->spool_path);
        c->spool_path = NULL;
        return 0;
    }
    return 1;
}

int srv_spool_sink(void *ud, const void *p, size_t n)
{
    struct client *c = ud;
    const char *b = p;
    while (n && c->spool_fd >= 0) {
        ssize_t w = write(c->spool_fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        b += w;
        n -= (size_t)w;
    }
    return c->spool_fd >= 0 ? 0 : -EBADF;
}

void srv_spool_finish(struct client *c)
{
    if (c->spool_fd >= 0) close(c->spool_fd);
    c->spool_fd = -1;
}

void srv_spool_remove(char *path)
{
    if (path) (void)unlink(path);
    free(path);
}

void srv_spool_drop(struct client *c)
{
    srv_spool_finish(c);
    srv_spool_remove(c->spool_path);
    c->spool_path = NULL;
}
