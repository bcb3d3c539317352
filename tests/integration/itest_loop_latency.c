/* SPDX-License-Identifier: MIT */
/* itest_loop_latency.c -- the control API keeps answering while DNS hangs.
 *
 * One uv loop runs the control API server and eight connectors whose DNS
 * queries go to wagate-testdns, which drops them (no answer at all). A client
 * thread meanwhile times GET /healthz round trips over fresh TCP connections.
 * Every request must be answered within 50 ms, and every connector must end
 * with the outcome "dns: timeout hang.test". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "api/server.h"
#include "child.h"
#include "net/conn.h"

#define NCONN      8
#define RUN_MS     2500
#define LIMIT_MS   50.0
#define RESOLVE_MS 3000

struct ctx {
    uv_loop_t loop;
    uv_timer_t poll;
    struct api_server *api;
    struct nconn *conns[NCONN];
    char outcomes[NCONN][256];
    int closed;
    int port;
    atomic_bool client_done;
    double max_ms, sum_ms;
    int requests, failures;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int get_healthz(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        char b[256] = {0};
        if (write(fd, req, sizeof req - 1) == (ssize_t)sizeof req - 1 &&
            read(fd, b, sizeof b - 1) > 0)
            ok = strncmp(b, "HTTP/1.1 200", 12) == 0;
    }
    close(fd);
    return ok;
}

static void *client(void *arg)
{
    struct ctx *c = arg;
    double end = now_ms() + RUN_MS;
    while (now_ms() < end) {
        double t0 = now_ms();
        int ok = get_healthz(c->port);
        double dt = now_ms() - t0;
        c->requests++;
        c->failures += !ok;
        c->sum_ms += dt;
        if (dt > c->max_ms) c->max_ms = dt;
        usleep(2000);
    }
    atomic_store(&c->client_done, true);
    return NULL;
}

static void on_open(struct nconn *n, void *ud) {}

static void on_message(struct nconn *n, void *ud, const uint8_t *d, size_t l) {}

static void on_close(struct nconn *n, void *ud, const struct nout *o)
{
    struct ctx *c = ud;
    for (int i = 0; i < NCONN; i++) {
        if (c->conns[i] != n) continue;
        snprintf(c->outcomes[i], sizeof c->outcomes[i], "%s", o->text);
        nconn_close(n);
        c->conns[i] = NULL;
        c->closed++;
    }
}

static void api_closed(void *arg) {}

static void on_poll(uv_timer_t *t)
{
    struct ctx *c = t->data;
    if (!atomic_load(&c->client_done) || c->closed < NCONN) return;
    uv_close((uv_handle_t *)&c->poll, NULL);
    api_server_close(c->api, api_closed, c);
}

static void test_api_answers_while_dns_hangs(void **state)
{
    char line[256];
    char *argv[] = {(char *)child_build_path("wagate-testdns"),
                    "--listen",
                    "127.0.0.1:0",
                    "--default",
                    "drop",
                    NULL};
    pid_t dns = child_start(argv, 1, line, sizeof line, 5000);
    assert_true(dns > 0);
    char server[64];
    assert_int_equal(sscanf(line, "listening %63s", server), 1);

    struct ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    assert_int_equal(uv_loop_init(&c->loop), 0);
    struct api_config ac = {
        .listen = "127.0.0.1:0", .token = "0123456789abcdef0123", .version = "test"};
    char err[256];
    assert_int_equal(api_server_start(&c->loop, &ac, &c->api, err, sizeof err), 0);
    c->port = api_server_port(c->api);

    const char *servers[] = {server};
    struct nconn_opts o = {.url = "wss://hang.test/ws/chat",
                           .dns_servers = servers,
                           .ndns_servers = 1,
                           .resolve_timeout_ms = RESOLVE_MS};
    struct nconn_cbs cbs = {on_open, on_message, on_close};
    for (int i = 0; i < NCONN; i++)
        assert_int_equal(nconn_start(&c->loop, &o, &cbs, c, &c->conns[i]), 0);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client, c), 0);
    uv_timer_init(&c->loop, &c->poll);
    c->poll.data = c;
    uv_timer_start(&c->poll, on_poll, 50, 50);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    child_stop(dns);

    printf("# %d /healthz requests while %d DNS queries hung: mean %.2f ms, max %.2f ms\n",
           c->requests, NCONN, c->sum_ms / c->requests, c->max_ms);
    assert_true(c->requests >= 50);
    assert_int_equal(c->failures, 0);
    assert_true(c->max_ms < LIMIT_MS);
    for (int i = 0; i < NCONN; i++)
        assert_string_equal(c->outcomes[i], "dns: timeout hang.test");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_answers_while_dns_hangs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
