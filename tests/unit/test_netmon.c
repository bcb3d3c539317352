/* SPDX-License-Identifier: MIT */
/* test_netmon.c -- rtnetlink summaries: the parser on crafted buffers, and the live listener in
 * a network namespace of this test's own (loopback addresses and a veth pair only). */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "net/netmon.h"

/* Append one message of `type` with a payload of `plen` bytes (flags for links). */
static size_t put_msg(uint8_t *buf, size_t at, uint16_t type, size_t plen, unsigned flags)
{
    struct nlmsghdr h = {.nlmsg_len = (uint32_t)NLMSG_LENGTH(plen), .nlmsg_type = type};
    memcpy(buf + at, &h, sizeof h);
    memset(buf + at + NLMSG_HDRLEN, 0, plen);
    if (type == RTM_NEWLINK || type == RTM_DELLINK) {
        struct ifinfomsg ifi = {.ifi_flags = flags};
        memcpy(buf + at + NLMSG_HDRLEN, &ifi, sizeof ifi < plen ? sizeof ifi : plen);
    }
    return at + NLMSG_ALIGN(h.nlmsg_len);
}

static void test_parse_counts(void **state)
{
    uint8_t buf[1024];
    size_t n = 0;
    n = put_msg(buf, n, RTM_NEWLINK, sizeof(struct ifinfomsg), IFF_UP | IFF_RUNNING);
    n = put_msg(buf, n, RTM_NEWLINK, sizeof(struct ifinfomsg), IFF_UP); /* no carrier */
    n = put_msg(buf, n, RTM_DELLINK, sizeof(struct ifinfomsg), 0);
    n = put_msg(buf, n, RTM_NEWADDR, sizeof(struct ifaddrmsg), 0);
    n = put_msg(buf, n, RTM_DELADDR, sizeof(struct ifaddrmsg), 0);
    n = put_msg(buf, n, RTM_NEWROUTE, sizeof(struct rtmsg) + 8, 0);
    n = put_msg(buf, n, NLMSG_NOOP, 0, 0);
    struct netmon_summary s = {0};
    assert_int_equal(netmon_parse(buf, n, &s), 0);
    assert_int_equal(s.links_up, 1);
    assert_int_equal(s.links_down, 2);
    assert_int_equal(s.addrs_added, 1);
    assert_int_equal(s.addrs_removed, 1);
    assert_int_equal(s.routes_added, 1);
    assert_int_equal(s.routes_removed, 0);
    assert_true(netmon_summary_up(&s));
    char t[160];
    netmon_summary_text(&s, t, sizeof t);
    assert_string_equal(t, "1 link up, 2 links down, 1 address(es) added, 1 address(es) removed, "
                           "1 route(s) added");
    struct netmon_summary down = {.links_down = 1, .addrs_removed = 2};
    assert_false(netmon_summary_up(&down));
    struct netmon_summary none = {0};
    netmon_summary_text(&none, t, sizeof t);
    assert_string_equal(t, "no change");
}

static void test_parse_rejects_malformed(void **state)
{
    uint8_t buf[256];
    struct netmon_summary s = {0};
    /* shorter than a header */
    memset(buf, 0, sizeof buf);
    assert_int_equal(netmon_parse(buf, 8, &s), -EBADMSG);
    /* a length past the buffer */
    size_t n = put_msg(buf, 0, RTM_NEWADDR, sizeof(struct ifaddrmsg), 0);
    assert_int_equal(netmon_parse(buf, n - 4, &s), -EBADMSG);
    /* a length below the header */
    struct nlmsghdr h = {.nlmsg_len = 4, .nlmsg_type = RTM_NEWADDR};
    memcpy(buf, &h, sizeof h);
    assert_int_equal(netmon_parse(buf, sizeof h, &s), -EBADMSG);
    /* a link message too short for its ifinfomsg; what came before is kept */
    memset(&s, 0, sizeof s);
    n = put_msg(buf, 0, RTM_NEWROUTE, sizeof(struct rtmsg), 0);
    n = put_msg(buf, n, RTM_NEWLINK, 4, IFF_UP);
    assert_int_equal(netmon_parse(buf, n, &s), -EBADMSG);
    assert_int_equal(s.routes_added, 1);
    assert_int_equal(s.links_up, 0);
    /* empty is fine */
    assert_int_equal(netmon_parse(buf, 0, &s), 0);
}

struct seen {
    int calls;
    struct netmon_summary last;
};

static void on_change(void *ud, const struct netmon_summary *s)
{
    struct seen *z = ud;
    z->calls++;
    z->last = *s;
}

static void stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for at most ms (netmon's handles are unref'ed, so a ref'ed timer drives it). */
static void run_for(uv_loop_t *loop, unsigned ms)
{
    uv_timer_t t;
    assert_int_equal(uv_timer_init(loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, stop_timer, ms, 0), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_live_namespace(void **state)
{
    if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
        printf("SKIP: cannot create a network namespace here: %s\n", strerror(errno));
        skip();
    }
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct seen z = {0};
    struct netmon *m = NULL;
    int rc = netmon_new(&loop, on_change, &z, &m);
    if (rc < 0) {
        printf("SKIP: no rtnetlink socket: %s\n", strerror(-rc));
        uv_loop_close(&loop);
        skip();
    }
    /* a burst: lo up (link + its addresses and routes) and one more address, coalesced */
    assert_int_equal(system("ip link set lo up && ip addr add 127.0.0.2/8 dev lo"), 0);
    run_for(&loop, NETMON_SETTLE_MS + 400);
    assert_int_equal(z.calls, 1);
    assert_true(netmon_summary_up(&z.last));
    assert_true(z.last.links_up >= 1);
    assert_true(z.last.addrs_added >= 1);
    /* a link going down only */
    z.calls = 0;
    assert_int_equal(system("ip link set lo down"), 0);
    run_for(&loop, NETMON_SETTLE_MS + 400);
    assert_int_equal(z.calls, 1);
    assert_true(z.last.links_down >= 1);
    assert_int_equal(z.last.links_up, 0);
    /* nothing happens: no call */
    z.calls = 0;
    run_for(&loop, 100);
    assert_int_equal(z.calls, 0);
    netmon_close(m);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_counts),
        cmocka_unit_test(test_parse_rejects_malformed),
        cmocka_unit_test(test_live_namespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
