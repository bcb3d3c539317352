/* SPDX-License-Identifier: MIT */
/* dns.c -- c-ares on libuv: uv_poll per c-ares socket, one uv timer for timeouts.
 *
 * Life cycle: ndns_resolve() creates a private ares channel and issues
 * ares_getaddrinfo(). c-ares may complete synchronously (hosts file, bad input), so the
 * result is only stored by the ares callback; a zero-delay timer delivers it. Teardown
 * (after delivery or on cancel) destroys the channel outside any c-ares callback, closes
 * every uv handle, and frees the query when the last close callback has run.
 */
#include "net/dns.h"

#include <ares.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dns_poll {
    uv_poll_t h;
    ares_socket_t fd;
    struct ndns_query *q;
    struct dns_poll *next;
};

struct ndns_query {
    uv_loop_t *loop;
    ares_channel chan;
    bool chan_ok;
    uv_timer_t timer; /* c-ares timeouts, then delivery */
    struct dns_poll *polls;
    int open_handles;
    bool done; /* result stored */
    bool dead; /* cancelled or delivered: never call back */
    uint16_t port;
    ndns_cb cb;
    void *ud;
    struct ndns_result res;
};

static void teardown(struct ndns_query *q);

enum nout_cause ndns_cause_from_ares(int status, int *err)
{
    switch (status) {
    case ARES_SUCCESS:
        *err = 0;
        return NOUT_C_NONE;
    case ARES_ENOTFOUND:
        *err = -ENOENT;
        return NOUT_C_NXDOMAIN;
    case ARES_ESERVFAIL:
        *err = -EAGAIN;
        return NOUT_C_SERVFAIL;
    case ARES_EREFUSED:
        *err = -ECONNREFUSED;
        return NOUT_C_REFUSED;
    case ARES_ETIMEOUT:
        *err = -ETIMEDOUT;
        return NOUT_C_TIMEOUT;
    case ARES_ENODATA:
        *err = -ENODATA;
        return NOUT_C_NODATA;
    case ARES_ECONNREFUSED:
        *err = -ECONNREFUSED;
        return NOUT_C_ERRNO;
    case ARES_ENOMEM:
        *err = -ENOMEM;
        return NOUT_C_ERRNO;
    default:
        *err = -EIO;
        return NOUT_C_ERRNO;
    }
}

/* Poll handles have `data` = their dns_poll, the timer has `data` = the query. */
static void poll_closed(uv_handle_t *h)
{
    struct dns_poll *p = h->data;
    struct ndns_query *q = p->q;

    free(p);
    if (--q->open_handles == 0) free(q);
}

static void timer_closed(uv_handle_t *h)
{
    struct ndns_query *q = h->data;

    if (--q->open_handles == 0) free(q);
}

static void poll_remove(struct ndns_query *q, ares_socket_t fd)
{
    for (struct dns_poll **pp = &q->polls; *pp; pp = &(*pp)->next) {
        struct dns_poll *p = *pp;
        if (p->fd == fd) {
            *pp = p->next;
            uv_close((uv_handle_t *)&p->h, poll_closed);
            return;
        }
    }
}

static void schedule(struct ndns_query *q);

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct dns_poll *p = h->data;
    struct ndns_query *q = p->q;
    ares_socket_t fd = p->fd;
    ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

    if (status < 0 || (events & UV_READABLE)) rfd = fd;
    if (status < 0 || (events & UV_WRITABLE)) wfd = fd;
    ares_process_fd(q->chan, rfd, wfd); /* may close p via sock_state_cb */
    schedule(q);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct ndns_query *q = data;
    struct dns_poll *p;
    int ev = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

    for (p = q->polls; p; p = p->next)
        if (p->fd == fd) break;
    if (!ev) {
        poll_remove(q, fd);
        return;
    }
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p || uv_poll_init_socket(q->loop, &p->h, fd) != 0) {
            free(p); /* c-ares will time the query out */
            return;
        }
        p->fd = fd;
        p->q = q;
        p->h.data = p;
        p->next = q->polls;
        q->polls = p;
        q->open_handles++;
    }
    uv_poll_start(&p->h, ev, on_poll);
}

static void on_timer(uv_timer_t *t)
{
    struct ndns_query *q = t->data;

    if (q->done) {
        teardown(q); /* marks dead, destroys channel, closes handles */
        q->cb(q->ud, &q->res);
        return;
    }
    ares_process_fd(q->chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    schedule(q);
}

/* After any ares call: deliver if done, else re-arm the timeout timer. */
static void schedule(struct ndns_query *q)
{
    struct timeval tv, *tvp;
    uint64_t ms;

    if (q->dead) return;
    if (q->done) {
        uv_timer_start(&q->timer, on_timer, 0, 0);
        return;
    }
    tvp = ares_timeout(q->chan, NULL, &tv);
    if (!tvp) {
        uv_timer_stop(&q->timer);
        return;
    }
    ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)tvp->tv_usec / 1000;
    uv_timer_start(&q->timer, on_timer, ms ? ms : 1, 0);
}

static void copy_addrs(struct ndns_query *q, const struct ares_addrinfo *ai)
{
    for (const struct ares_addrinfo_node *n = ai ? ai->nodes : NULL;
         n && q->res.naddrs < NDNS_MAX_ADDRS; n = n->ai_next) {
        struct sockaddr_storage *ss = &q->res.addrs[q->res.naddrs];

        if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(struct sockaddr_in)) {
            memcpy(ss, n->ai_addr, sizeof(struct sockaddr_in));
            ((struct sockaddr_in *)ss)->sin_port = htons(q->port);
        } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            memcpy(ss, n->ai_addr, sizeof(struct sockaddr_in6));
            ((struct sockaddr_in6 *)ss)->sin6_port = htons(q->port);
        } else {
            continue;
        }
        q->res.naddrs++;
    }
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct ndns_query *q = arg;

    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || q->dead) {
        ares_freeaddrinfo(ai);
        return;
    }
    q->res.cause = ndns_cause_from_ares(status, &q->res.err);
    if (status != ARES_SUCCESS)
        snprintf(q->res.detail, sizeof(q->res.detail), "%s", ares_strerror(status));
    copy_addrs(q, ai);
    if (status == ARES_SUCCESS && q->res.naddrs == 0) {
        q->res.cause = NOUT_C_NODATA;
        q->res.err = -ENODATA;
    }
    ares_freeaddrinfo(ai);
    q->done = true;
}

/* Destroy the channel (outside ares callbacks) and close every handle. */
static void teardown(struct ndns_query *q)
{
    q->dead = true;
    if (q->chan_ok) {
        q->chan_ok = false;
        ares_destroy(q->chan); /* runs sock_state_cb(fd, 0, 0) for open sockets */
    }
    while (q->polls)
        poll_remove(q, q->polls->fd);
    if (!uv_is_closing((uv_handle_t *)&q->timer)) uv_close((uv_handle_t *)&q->timer, timer_closed);
}

void ndns_cancel(struct ndns_query *q)
{
    if (!q || q->dead) return;
    teardown(q);
}

__attribute__((format(printf, 4, 5))) static int set_err(char *err, size_t errlen, int rc,
                                                         const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int join_servers(const struct ndns_opts *o, char *csv, size_t cap, char *err, size_t errlen)
{
    size_t off = 0;

    if (o->nservers > NDNS_MAX_SERVERS)
        return set_err(err, errlen, -EINVAL, "%s", "too many DNS servers");
    csv[0] = '\0';
    for (size_t i = 0; i < o->nservers; i++) {
        const char *s = o->servers[i];
        int n;

        if (!s || !*s || strpbrk(s, ", \t"))
            return set_err(err, errlen, -EINVAL, "bad DNS server '%s'", s ? s : "");
        n = snprintf(csv + off, cap - off, "%s%s", i ? "," : "", s);
        if (n < 0 || (size_t)n >= cap - off)
            return set_err(err, errlen, -EINVAL, "%s", "DNS server list too long");
        off += (size_t)n;
    }
    return 0;
}

static int init_channel(struct ndns_query *q, const struct ndns_opts *o, char *err, size_t errlen)
{
    struct ares_options ao;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    char csv[NDNS_MAX_SERVERS * 64];
    int rc;

    rc = join_servers(o, csv, sizeof(csv), err, errlen);
    if (rc) return rc;
    memset(&ao, 0, sizeof(ao));
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = q;
    ao.timeout = o->timeout_ms > 0 ? o->timeout_ms : 2000;
    ao.tries = o->tries > 0 ? o->tries : 2;
    /* Pass SERVFAIL/REFUSED answers up instead of retrying them as "server down" (which
     * would end as a generic ECONNREFUSED): the outcome must say what the server said. */
    ao.flags = ARES_FLAG_NOCHECKRESP;
    if (o->nservers > 0) {
        /* Explicit servers: resolve the name exactly as given, no search list. */
        ao.ndomains = 0;
        ao.domains = NULL;
        mask |= ARES_OPT_DOMAINS;
    }
    rc = ares_init_options(&q->chan, &ao, mask);
    if (rc != ARES_SUCCESS)
        return set_err(err, errlen, -ENOMEM, "ares_init: %s", ares_strerror(rc));
    q->chan_ok = true;
    if (o->nservers > 0) {
        rc = ares_set_servers_ports_csv(q->chan, csv);
        if (rc != ARES_SUCCESS)
            return set_err(err, errlen, -EINVAL, "bad DNS server list '%s'", csv);
    }
    return 0;
}

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > NDNS_NAME_MAX)
        return set_err(err, errlen, -EINVAL, "%s", "bad host name length");
    return 0;
}

int ndns_resolve(uv_loop_t *loop, const struct ndns_opts *opts, const char *name, uint16_t port,
                 ndns_cb cb, void *ud, struct ndns_query **out, char *err, size_t errlen)
{
    static const struct ndns_opts defaults;
    struct ares_addrinfo_hints hints;
    struct ndns_query *q;
    int rc;

    *out = NULL;
    rc = check_name(name, err, errlen);
    if (rc) return rc;
    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) return set_err(err, errlen, -ENOMEM, "%s", "ares_library_init failed");
    q = calloc(1, sizeof(*q));
    if (!q) return set_err(err, errlen, -ENOMEM, "%s", "out of memory");
    q->loop = loop;
    q->port = port;
    q->cb = cb;
    q->ud = ud;
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
    q->open_handles = 1;
    rc = init_channel(q, opts ? opts : &defaults, err, errlen);
    if (rc) {
        teardown(q);
        return rc;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(q->chan, name, NULL, &hints, on_addrinfo, q);
    schedule(q);
    *out = q;
    return 0;
}
