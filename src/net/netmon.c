/* SPDX-License-Identifier: MIT */
/* netmon.c -- rtnetlink link/address/route changes, coalesced, on the loop. */
#include "net/netmon.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct netmon {
    uv_poll_t poll;
    uv_timer_t settle;
    int fd, open_handles;
    netmon_cb cb;
    void *ud;
    struct netmon_summary acc; /* since the burst began */
    bool pending;
};

bool netmon_summary_up(const struct netmon_summary *s)
{
    return s->links_up || s->addrs_added || s->routes_added || s->overflows;
}

static size_t add_part(char *out, size_t len, size_t at, unsigned n, const char *what)
{
    if (!n || at >= len) return at;
    int w = snprintf(out + at, len - at, "%s%u %s", at ? ", " : "", n, what);
    return w < 0 ? at : at + (size_t)w;
}

void netmon_summary_text(const struct netmon_summary *s, char *out, size_t len)
{
    size_t at = 0;
    if (!len) return;
    out[0] = '\0';
    at = add_part(out, len, at, s->links_up, s->links_up == 1 ? "link up" : "links up");
    at = add_part(out, len, at, s->links_down, s->links_down == 1 ? "link down" : "links down");
    at = add_part(out, len, at, s->addrs_added, "address(es) added");
    at = add_part(out, len, at, s->addrs_removed, "address(es) removed");
    at = add_part(out, len, at, s->routes_added, "route(s) added");
    at = add_part(out, len, at, s->routes_removed, "route(s) removed");
    at = add_part(out, len, at, s->overflows, "overflow(s)");
    if (!at) snprintf(out, len, "no change");
}

static void count_link(const struct nlmsghdr *h, struct netmon_summary *s)
{
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    unsigned up = IFF_UP | IFF_RUNNING;
    if (h->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & up) == up)
        s->links_up++;
    else
        s->links_down++;
}

/* One message (its length already checked against the buffer). */
static int count_one(const struct nlmsghdr *h, struct netmon_summary *s)
{
    size_t need = 0;
    switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        need = sizeof(struct ifinfomsg);
        break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
        need = sizeof(struct ifaddrmsg);
        break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
        need = sizeof(struct rtmsg);
        break;
    default:
        return 0; /* NLMSG_DONE, NOOP, errors, types we did not ask for */
    }
    if (h->nlmsg_len < NLMSG_LENGTH(need)) return -EBADMSG;
    if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) count_link(h, s);
    if (h->nlmsg_type == RTM_NEWADDR) s->addrs_added++;
    if (h->nlmsg_type == RTM_DELADDR) s->addrs_removed++;
    if (h->nlmsg_type == RTM_NEWROUTE) s->routes_added++;
    if (h->nlmsg_type == RTM_DELROUTE) s->routes_removed++;
    return 0;
}

int netmon_parse(const void *buf, size_t len, struct netmon_summary *s)
{
    const uint8_t *p = buf;
    while (len > 0) {
        struct nlmsghdr h;
        if (len < sizeof h) return -EBADMSG;
        memcpy(&h, p, sizeof h); /* the buffer need not be aligned */
        if (h.nlmsg_len < sizeof h || h.nlmsg_len > len) return -EBADMSG;
        /* the payload is read in place: copy the message to aligned storage first */
        union {
            struct nlmsghdr h;
            uint8_t b[NLMSG_LENGTH(sizeof(struct ifinfomsg)) + 64];
        } m;
        size_t n = h.nlmsg_len < sizeof m ? h.nlmsg_len : sizeof m;
        memcpy(&m, p, n);
        m.h.nlmsg_len = h.nlmsg_len <= sizeof m ? h.nlmsg_len : (uint32_t)sizeof m;
        int rc = count_one(&m.h, s);
        if (rc < 0) return rc;
        size_t step = NLMSG_ALIGN(h.nlmsg_len);
        if (step >= len) break;
        p += step;
        len -= step;
    }
    return 0;
}

static void on_settle(uv_timer_t *t)
{
    struct netmon *m = t->data;
    struct netmon_summary s = m->acc;
    memset(&m->acc, 0, sizeof m->acc);
    m->pending = false;
    m->cb(m->ud, &s);
}

static void note_change(struct netmon *m)
{
    if (m->pending) return;
    m->pending = true;
    (void)uv_timer_start(&m->settle, on_settle, NETMON_SETTLE_MS, 0);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    struct netmon *m = p->data;
    uint8_t buf[NETMON_BUF] __attribute__((aligned(8)));
    for (int i = 0; i < 64; i++) { /* bounded: the loop gets back control */
        ssize_t n = recv(m->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == ENOBUFS) {
            m->acc.overflows++;
            note_change(m);
            continue;
        }
        if (n <= 0) break;
        struct netmon_summary before = m->acc;
        (void)netmon_parse(buf, (size_t)n, &m->acc);
        if (memcmp(&before, &m->acc, sizeof before) != 0) note_change(m);
    }
}

static int open_socket(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                                          RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static void on_closed(uv_handle_t *h)
{
    struct netmon *m = h->data;
    if (--m->open_handles > 0) return;
    close(m->fd);
    free(m);
}

int netmon_new(uv_loop_t *loop, netmon_cb cb, void *ud, struct netmon **out)
{
    *out = NULL;
    if (!loop || !cb) return -EINVAL;
    int fd = open_socket();
    if (fd < 0) return fd;
    struct netmon *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return -ENOMEM;
    }
    m->fd = fd;
    m->cb = cb;
    m->ud = ud;
    int rc = uv_poll_init(loop, &m->poll, fd);
    if (rc < 0) {
        close(fd);
        free(m);
        return rc;
    }
    m->poll.data = m->settle.data = m;
    m->open_handles = 1;
    rc = uv_timer_init(loop, &m->settle);
    if (rc == 0) m->open_handles = 2;
    if (rc == 0) rc = uv_poll_start(&m->poll, UV_READABLE, on_readable);
    if (rc < 0) {
        netmon_close(m);
        return rc;
    }
    uv_unref((uv_handle_t *)&m->poll);
    uv_unref((uv_handle_t *)&m->settle);
    *out = m;
    return 0;
}

void netmon_close(struct netmon *m)
{
    if (!m) return;
    uv_poll_stop(&m->poll);
    uv_timer_stop(&m->settle);
    int n = m->open_handles;
    uv_close((uv_handle_t *)&m->poll, on_closed);
    if (n == 2) uv_close((uv_handle_t *)&m->settle, on_closed);
}
