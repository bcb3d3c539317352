/* SPDX-License-Identifier: MIT */
/* netmon.h -- network-change events from the kernel (rtnetlink), on the loop.
 *
 * A `struct netmon` listens on a NETLINK_ROUTE socket for link, address and route changes
 * (RTMGRP_LINK, RTMGRP_IPV4/6_IFADDR, RTMGRP_IPV4/6_ROUTE) and reports them, coalesced: the
 * messages of one burst (an interface coming up brings a link, several addresses and routes)
 * are summed up and reported once, NETMON_SETTLE_MS after the first of them. Its owner
 * decides what a change means (the gateway cuts a pending reconnect delay short when
 * something came up: the network may be back).
 *
 * netmon_parse() is the sans-I/O part: it sums up one buffer of netlink messages, checking
 * every length against the buffer (a truncated or malformed message ends the parse with
 * -EBADMSG; what was summed before it is kept).
 *
 * The socket is non-blocking, close-on-exec; the poll handle is unref'ed (netmon never keeps
 * the loop alive) and the settle timer runs only after a change. A kernel that refuses the
 * socket (no netlink in a sandbox) makes netmon_new fail with its errno: the owner runs
 * without it. Loop thread only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#define NETMON_SETTLE_MS 300
#define NETMON_BUF       16384 /* one recv; a larger burst overflows and is reported as such */

struct netmon_summary {
    unsigned links_up, links_down; /* RTM_NEWLINK with IFF_UP|IFF_RUNNING / without; DELLINK */
    unsigned addrs_added, addrs_removed;
    unsigned routes_added, routes_removed;
    unsigned overflows; /* the kernel dropped messages (ENOBUFS): something changed */
};

/* True when something may have come up (a link up, an address or route added, an overflow). */
bool netmon_summary_up(const struct netmon_summary *s);
/* One line, e.g. "1 link up, 2 addresses added" ("no change" when empty). */
void netmon_summary_text(const struct netmon_summary *s, char *out, size_t len);
/* Add the netlink messages in buf to *s. 0, or -EBADMSG at the first malformed message. */
int netmon_parse(const void *buf, size_t len, struct netmon_summary *s);

struct netmon;
typedef void (*netmon_cb)(void *ud, const struct netmon_summary *s);

/* 0, or a negative errno (socket/bind refused, -ENOMEM, libuv errors). cb runs from the
 * settle timer, never from inside netmon calls. */
int netmon_new(uv_loop_t *loop, netmon_cb cb, void *ud, struct netmon **out)
    __attribute__((warn_unused_result));
/* Stop and free (two-step: the memory goes in the close callbacks). NULL ok. */
void netmon_close(struct netmon *m);
