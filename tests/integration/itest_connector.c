/* SPDX-License-Identifier: MIT */
/* itest_connector.c -- the connector against real loopback servers, one test per outcome.
 *
 * Starts $WAGATE_BUILD/wagate-testdns as a child (behaviour switched through its control
 * file) and runs TLS/plain WebSocket servers on 127.0.0.1 in a thread of this process,
 * with certificates from net/testca.h: a test CA, a leaf for web.whatsapp.test, a leaf for
 * another name, a leaf from an unknown CA and a self-signed one. The client side runs on
 * a uv loop in the main thread. Every run is bounded by a guard timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "net/conn.h"
#include "net/testca.h"
#include "net/wsc.h"

#define HOST "web.whatsapp.test"

/* ---- certificates ---------------------------------------------------------------- */

static struct testca_cert ca, rogue_ca, leaf_ok, leaf_other, leaf_rogue, leaf_self;
static char tmpdir[64], ca_path[128], dns_ctl[128];

/* A CA (issuer NULL, is_ca) or a leaf for `cn` signed by issuer (NULL = self-signed). */
static void make_cert(struct testca_cert *c, const char *cn, const struct testca_cert *issuer,
                      bool is_ca)
{
    struct testca_spec sp = {.cn = cn, .is_ca = is_ca};
    char err[200] = "";

    if (testca_issue(c, &sp, issuer, err, sizeof(err)) != 0) fail_msg("testca: %s", err);
}

static void make_certs(void)
{
    char err[200] = "";

    make_cert(&ca, "wagate test CA", NULL, true);
    make_cert(&rogue_ca, "rogue CA", NULL, true);
    make_cert(&leaf_ok, HOST, &ca, false);
    make_cert(&leaf_other, "other.example", &ca, false);
    make_cert(&leaf_rogue, HOST, &rogue_ca, false);
    make_cert(&leaf_self, HOST, NULL, false);
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
    if (testca_write_cert(ca_path, ca.x, err, sizeof(err)) != 0) fail_msg("%s", err);
}

/* ---- test DNS server (child process) ---------------------------------------------- */

static pid_t dns_pid;
static char dns_server[64];

static void set_dns(const char *action)
{
    char tmp[160];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", dns_ctl);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f, "# written by itest_connector\n%s %s\n", HOST, action);
    fclose(f);
    assert_int_equal(rename(tmp, dns_ctl), 0);
}

static void start_testdns(void)
{
    const char *build = getenv("WAGATE_BUILD");
    char bin[512], line[128] = "";
    int pfd[2];
    struct pollfd p;
    ssize_t n;
    size_t off = 0;

    assert_non_null(build);
    snprintf(bin, sizeof(bin), "%s/wagate-testdns", build);
    assert_int_equal(pipe(pfd), 0);
    dns_pid = fork();
    assert_true(dns_pid >= 0);
    if (dns_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--control", dns_ctl, "--rule",
              HOST "=a:127.0.0.1", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    p.fd = pfd[0];
    p.events = POLLIN;
    while (off < sizeof(line) - 1 && !strchr(line, '\n')) {
        assert_int_equal(poll(&p, 1, 5000), 1);
        n = read(pfd[0], line + off, sizeof(line) - 1 - off);
        assert_true(n > 0);
        off += (size_t)n;
        line[off] = '\0';
    }
    close(pfd[0]);
    assert_int_equal(sscanf(line, "listening %63s", dns_server), 1);
    printf("# testdns at %s\n", dns_server);
}

/* ---- in-process servers ------------------------------------------------------------ */

enum smode {
    S_ECHO,        /* WebSocket echo (binary), answers pings, closes on close */
    S_RESET,       /* read the first bytes, then RST */
    S_HTTP403,     /* answer the upgrade with 403 */
    S_CLOSE_HELLO, /* read the first bytes (the ClientHello), close: TLS never completes */
    S_CLOSE_REQ,   /* (TLS handshake,) read the upgrade request, close without answering */
    S_CLOSE_1000,  /* upgrade, then send close 1000 */
    S_SILENT,      /* accept, read and ignore everything, never answer */
};

struct tserver {
    int lfd;
    int port;
    enum smode mode;
    SSL_CTX *ctx; /* NULL = plain */
    pthread_t th;
    atomic_int stop;
    atomic_int conns;
};

struct sio {
    int fd;
    SSL *ssl;
};

static int s_read(struct sio *s, void *b, size_t n)
{
    if (s->ssl) {
        size_t got = 0;
        return SSL_read_ex(s->ssl, b, n, &got) == 1 ? (int)got : -1;
    }
    return (int)read(s->fd, b, n);
}

static int s_read_full(struct sio *s, uint8_t *b, size_t n)
{
    size_t off = 0;

    while (off < n) {
        int r = s_read(s, b + off, n - off);
        if (r <= 0) return -1;
        off += (size_t)r;
    }
    return 0;
}

static void s_write(struct sio *s, const void *b, size_t n)
{
    size_t w = 0;

    if (s->ssl)
        (void)SSL_write_ex(s->ssl, b, n, &w);
    else
        (void)!write(s->fd, b, n);
}

/* Read the HTTP request head; returns its length or -1. */
static int read_request(struct sio *s, char *req, size_t cap)
{
    size_t off = 0;

    while (off < cap - 1) {
        int r = s_read(s, req + off, cap - 1 - off);
        if (r <= 0) return -1;
        off += (size_t)r;
        req[off] = '\0';
        if (strstr(req, "\r\n\r\n")) return (int)off;
    }
    return -1;
}

static void send_frame(struct sio *s, int op, const uint8_t *p, size_t n)
{
    uint8_t *f = malloc(n + 10);
    size_t off = 0;

    f[off++] = (uint8_t)(0x80 | op);
    if (n < 126) {
        f[off++] = (uint8_t)n;
    } else if (n < 65536) {
        f[off++] = 126;
        f[off++] = (uint8_t)(n >> 8);
        f[off++] = (uint8_t)n;
    } else {
        f[off++] = 127;
        for (int i = 7; i >= 0; i--)
            f[off++] = (uint8_t)(n >> (8 * i));
    }
    memcpy(f + off, p, n);
    s_write(s, f, off + n);
    free(f);
}

static int upgrade(struct sio *s)
{
    char req[4096], resp[256], key[64], acc[WSC_ACCEPT_LEN + 1];
    const char *k;

    if (read_request(s, req, sizeof(req)) < 0) return -1;
    k = strcasestr(req, "\r\nSec-WebSocket-Key: ");
    if (!k || sscanf(k + 21, "%63s", key) != 1 || wsc_compute_accept(key, acc) != 0) return -1;
    if (!strstr(req, "\r\nOrigin: https://web.whatsapp.com\r\n") ||
        !strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"))
        return -1;
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n",
             acc);
    s_write(s, resp, strlen(resp));
    return 0;
}

static void echo_loop(struct sio *s)
{
    for (;;) {
        uint8_t h[2], ext[8], mask[4], *p;
        uint64_t n;
        int op;

        if (s_read_full(s, h, 2) != 0) return;
        op = h[0] & 0x0f;
        n = h[1] & 0x7f;
        if (n == 126) {
            if (s_read_full(s, ext, 2) != 0) return;
            n = (uint64_t)ext[0] << 8 | ext[1];
        } else if (n == 127) {
            if (s_read_full(s, ext, 8) != 0) return;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | ext[i];
        }
        if (!(h[1] & 0x80) || n > (4u << 20) || s_read_full(s, mask, 4) != 0) return;
        p = malloc(n + 1);
        if (s_read_full(s, p, n) != 0) {
            free(p);
            return;
        }
        for (uint64_t i = 0; i < n; i++)
            p[i] ^= mask[i % 4];
        send_frame(s, op == 9 ? 10 : op, p, n);
        free(p);
        if (op == 8) return;
    }
}

static void handle_conn(struct tserver *ts, int fd)
{
    struct timeval tv = {.tv_sec = 5};
    struct sio s = {.fd = fd};
    uint8_t first[512];
    char req[4096];

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (ts->mode == S_SILENT) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        while (!atomic_load(&ts->stop))
            if (poll(&p, 1, 50) == 1 && read(fd, first, sizeof(first)) <= 0) break;
        return;
    }
    if (ts->mode == S_RESET || ts->mode == S_CLOSE_HELLO) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};

        (void)!read(fd, first, sizeof(first)); /* the ClientHello or the request */
        if (ts->mode == S_RESET) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        return;
    }
    if (ts->ctx) {
        s.ssl = SSL_new(ts->ctx);
        SSL_set_fd(s.ssl, fd);
        if (SSL_accept(s.ssl) != 1) goto out;
    }
    switch (ts->mode) {
    case S_HTTP403:
        if (read_request(&s, req, sizeof(req)) > 0) {
            const char *r = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
            s_write(&s, r, strlen(r));
        }
        break;
    case S_CLOSE_REQ:
        (void)read_request(&s, req, sizeof(req));
        break;
    case S_CLOSE_1000:
        if (upgrade(&s) == 0) {
            send_frame(&s, 8, (const uint8_t *)"\x03\xe8", 2);
            echo_loop(&s); /* until the client's close reply */
        }
        break;
    default:
        if (upgrade(&s) == 0) echo_loop(&s);
        break;
    }
out:
    if (s.ssl) {
        SSL_shutdown(s.ssl);
        SSL_free(s.ssl);
    }
}

static void *server_main(void *arg)
{
    struct tserver *ts = arg;
    struct pollfd p = {.fd = ts->lfd, .events = POLLIN};

    while (!atomic_load(&ts->stop)) {
        int fd;

        if (poll(&p, 1, 50) != 1) continue;
        fd = accept(ts->lfd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&ts->conns, 1);
        handle_conn(ts, fd);
        close(fd);
    }
    return NULL;
}

static int listen_loopback(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static SSL_CTX *server_ctx(const struct testca_cert *c)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, c->x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, c->key), 1);
    return ctx;
}

static void server_start(struct tserver *ts, enum smode mode, const struct testca_cert *c)
{
    memset(ts, 0, sizeof(*ts));
    ts->mode = mode;
    ts->ctx = c ? server_ctx(c) : NULL;
    ts->lfd = listen_loopback(&ts->port);
    assert_int_equal(listen(ts->lfd, 16), 0);
    assert_int_equal(pthread_create(&ts->th, NULL, server_main, ts), 0);
}

static void server_stop(struct tserver *ts)
{
    atomic_store(&ts->stop, 1);
    pthread_join(ts->th, NULL);
    close(ts->lfd);
    SSL_CTX_free(ts->ctx);
}

/* ---- client runs ------------------------------------------------------------------ */

struct run {
    uv_loop_t loop;
    uv_timer_t guard;
    struct nconn *c;
    bool done, timed_out, echo, close_on_open;
    int opens, closes, msgs;
    struct nout out;
    uint8_t *big;
    size_t big_len;
};

static const uint8_t small_msg[] = {0x00, 0x01, 0xff, 'W', 'A', 0x06, 0x03};

static void finish(struct run *r)
{
    r->done = true;
    uv_timer_stop(&r->guard);
    nconn_close(r->c); /* from inside a connector callback: must be safe */
}

/* The open connection's socket carries the kernel-side liveness checks (net/conn.h). */
static void check_socket_tuning(struct nconn *c)
{
    int fd = nconn_fileno(c), v = 0;
    socklen_t len = sizeof v;
    assert_true(fd >= 0);
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    assert_int_equal(v, 1);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
    assert_int_equal(v, NCONN_KEEPIDLE_S);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &len), 0);
    assert_int_equal(v, NCONN_KEEPCNT);
    unsigned uto = 0;
    len = sizeof uto;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, &len), 0);
    assert_int_equal(uto, NCONN_USER_TIMEOUT_MS);
}

static void c_open(struct nconn *c, void *ud)
{
    struct run *r = ud;

    r->opens++;
    check_socket_tuning(c);
    if (r->close_on_open) {
        finish(r);
        return;
    }
    if (!r->echo) return;
    assert_int_equal(nconn_send(c, small_msg, sizeof(small_msg)), 0);
    assert_int_equal(nconn_send(c, r->big, r->big_len), 0);
    /* nothing was confirmed written yet: everything counts as pending output */
    assert_true(nconn_pending(c) >= r->big_len + sizeof(small_msg));
}

static void c_msg(struct nconn *c, void *ud, const uint8_t *d, size_t n)
{
    struct run *r = ud;

    r->msgs++;
    if (r->msgs == 1) {
        assert_int_equal(n, sizeof(small_msg));
        assert_memory_equal(d, small_msg, n);
    } else if (r->msgs == 2) {
        assert_int_equal(n, r->big_len);
        assert_memory_equal(d, r->big, n);
        finish(r);
    }
}

static void c_close(struct nconn *c, void *ud, const struct nout *o)
{
    struct run *r = ud;

    r->closes++;
    r->out = *o;
    finish(r);
}

static void on_guard(uv_timer_t *t)
{
    struct run *r = t->data;

    r->timed_out = true;
    finish(r);
}

static void run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(uv_loop_init(&r->loop), 0);
    uv_timer_init(&r->loop, &r->guard);
    r->guard.data = r;
}

static void run_finish(struct run *r)
{
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0); /* no handle leaked */
    free(r->big);
}

static void base_opts(struct nconn_opts *o, const char *url)
{
    static const char *servers[1];

    servers[0] = dns_server;
    memset(o, 0, sizeof(*o));
    o->url = url;
    o->dns_servers = servers;
    o->ndns_servers = 1;
    o->dns_timeout_ms = 300;
    o->dns_tries = 1;
    o->connect_timeout_ms = 2000;
    o->handshake_timeout_ms = 3000;
    o->ca_file = ca_path;
}

/* Run one attempt to its end (or a 10 s guard) and return the run for inspection. */
static void run_conn(struct run *r, const struct nconn_opts *o)
{
    static const struct nconn_cbs cbs = {
        .on_open = c_open, .on_message = c_msg, .on_close = c_close};

    uv_timer_start(&r->guard, on_guard, 10000, 0);
    assert_int_equal(nconn_start(&r->loop, o, &cbs, r, &r->c), 0);
    while (!r->done)
        uv_run(&r->loop, UV_RUN_ONCE);
    assert_false(r->timed_out);
}

static void expect_outcome(const char *url, const char *text, enum nout_stage stage)
{
    struct run r;
    struct nconn_opts o;

    run_init(&r);
    base_opts(&o, url);
    run_conn(&r, &o);
    printf("# %s -> %s\n", url, r.out.text);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.opens, 0);
    assert_string_equal(r.out.text, text);
    assert_int_equal(r.out.stage, stage);
    assert_true(r.out.err < 0);
    run_finish(&r);
}

static char *url_for(int port, bool tls)
{
    static char u[128];

    snprintf(u, sizeof(u), "%s://" HOST ":%d/ws/chat", tls ? "wss" : "ws", port);
    return u;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_nxdomain(void **state)
{
    set_dns("nxdomain");
    expect_outcome("wss://" HOST "/ws/chat", "dns: NXDOMAIN " HOST, NOUT_DNS);
}

static void test_servfail(void **state)
{
    set_dns("servfail");
    expect_outcome("wss://" HOST "/ws/chat", "dns: SERVFAIL " HOST, NOUT_DNS);
}

static void test_dns_timeout(void **state)
{
    set_dns("drop");
    expect_outcome("wss://" HOST "/ws/chat", "dns: timeout " HOST, NOUT_DNS);
}

static void test_connection_refused(void **state)
{
    int port, fd = listen_loopback(&port); /* bound, never listening */
    char want[128];

    set_dns("a:127.0.0.1");
    snprintf(want, sizeof(want), "connect: ECONNREFUSED 127.0.0.1:%d", port);
    expect_outcome(url_for(port, true), want, NOUT_CONNECT);
    close(fd);
}

static void test_connection_reset(void **state)
{
    struct tserver ts;
    char want[128];

    set_dns("a:127.0.0.1");
    server_start(&ts, S_RESET, NULL);
    snprintf(want, sizeof(want), "connect: ECONNRESET 127.0.0.1:%d", ts.port);
    expect_outcome(url_for(ts.port, true), want, NOUT_CONNECT);
    server_stop(&ts);
}

static void test_tls_hostname_mismatch(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_ECHO, &leaf_other);
    expect_outcome(url_for(ts.port, true), "tls: certificate verify failed (hostname mismatch)",
                   NOUT_TLS);
    server_stop(&ts);
}

static void test_tls_unknown_ca(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_ECHO, &leaf_rogue);
    expect_outcome(url_for(ts.port, true),
                   "tls: certificate verify failed (unable to get local issuer certificate)",
                   NOUT_TLS);
    server_stop(&ts);
}

static void test_tls_self_signed(void **state)
{
    struct tserver ts;
    char want[160];

    set_dns("a:127.0.0.1");
    server_start(&ts, S_ECHO, &leaf_self);
    snprintf(want, sizeof(want), "tls: certificate verify failed (%s)",
             X509_verify_cert_error_string(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
    expect_outcome(url_for(ts.port, true), want, NOUT_TLS);
    server_stop(&ts);
}

static void test_http_403(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_HTTP403, &leaf_ok);
    expect_outcome(url_for(ts.port, true), "ws: HTTP 403", NOUT_WS);
    server_stop(&ts);
}

static void test_close_during_tls_handshake(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_CLOSE_HELLO, &leaf_ok);
    expect_outcome(url_for(ts.port, true), "tls: closed during handshake", NOUT_TLS);
    server_stop(&ts);
}

static void test_close_during_ws_upgrade_tls(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_CLOSE_REQ, &leaf_ok); /* TLS completes, the request is dropped */
    expect_outcome(url_for(ts.port, true), "ws: closed during upgrade", NOUT_WS);
    server_stop(&ts);
}

static void test_close_during_ws_upgrade_plain(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_CLOSE_REQ, NULL);
    expect_outcome(url_for(ts.port, false), "ws: closed during upgrade", NOUT_WS);
    server_stop(&ts);
}

static void test_closed_by_peer(void **state)
{
    struct tserver ts;
    struct run r;
    struct nconn_opts o;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_CLOSE_1000, &leaf_ok);
    run_init(&r);
    base_opts(&o, url_for(ts.port, true));
    run_conn(&r, &o);
    assert_int_equal(r.opens, 1);
    assert_string_equal(r.out.text, "ws: closed by peer (code 1000)");
    assert_int_equal(r.out.detail, 1000);
    run_finish(&r);
    server_stop(&ts);
}

static void echo_run(const char *url, int expect_conns, struct tserver *ts)
{
    struct run r;
    struct nconn_opts o;

    run_init(&r);
    r.echo = true;
    r.big_len = 200 * 1024;
    r.big = malloc(r.big_len);
    for (size_t i = 0; i < r.big_len; i++)
        r.big[i] = (uint8_t)(i * 7 + 3);
    base_opts(&o, url);
    run_conn(&r, &o);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.msgs, 2);
    assert_int_equal(r.closes, 0); /* we closed first: no on_close after nconn_close */
    printf("# %s -> open, echo of %zu + %zu bytes ok\n", url, sizeof(small_msg), r.big_len);
    run_finish(&r);
    assert_int_equal(atomic_load(&ts->conns), expect_conns);
}

static void test_happy_wss(void **state)
{
    struct tserver ts;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_ECHO, &leaf_ok);
    echo_run(url_for(ts.port, true), 1, &ts);
    server_stop(&ts);
}

static void test_happy_ws_ip_literal(void **state)
{
    struct tserver ts;
    char url[128];

    set_dns("nxdomain"); /* must not be consulted */
    server_start(&ts, S_ECHO, NULL);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", ts.port);
    echo_run(url, 1, &ts);
    server_stop(&ts);
}

static void test_second_address_used(void **state)
{
    struct tserver ts;

    /* 127.0.0.3 has no listener on this port: refused, then 127.0.0.1 works. */
    set_dns("a:127.0.0.3,127.0.0.1");
    server_start(&ts, S_ECHO, &leaf_ok);
    echo_run(url_for(ts.port, true), 1, &ts);
    server_stop(&ts);
}

static void test_bad_url_is_async(void **state)
{
    static const struct nconn_cbs cbs = {
        .on_open = c_open, .on_message = c_msg, .on_close = c_close};
    struct run r;
    struct nconn_opts o;

    run_init(&r);
    base_opts(&o, "http://nope/");
    assert_int_equal(nconn_start(&r.loop, &o, &cbs, &r, &r.c), 0);
    assert_int_equal(r.closes, 0); /* never synchronously */
    uv_timer_start(&r.guard, on_guard, 10000, 0);
    while (!r.done)
        uv_run(&r.loop, UV_RUN_ONCE);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.out.stage, NOUT_URL);
    assert_string_equal(r.out.text, "url: scheme must be ws:// or wss://");
    run_finish(&r);
}

static void test_cancel_during_dns(void **state)
{
    static const struct nconn_cbs cbs = {
        .on_open = c_open, .on_message = c_msg, .on_close = c_close};
    struct run r;
    struct nconn_opts o;

    set_dns("drop");
    run_init(&r);
    base_opts(&o, "wss://" HOST "/ws/chat");
    o.dns_timeout_ms = 2000;
    assert_int_equal(nconn_start(&r.loop, &o, &cbs, &r, &r.c), 0);
    uv_timer_start(&r.guard, on_guard, 100, 0); /* closes mid-query */
    while (!r.done)
        uv_run(&r.loop, UV_RUN_ONCE);
    assert_true(r.timed_out);
    assert_int_equal(r.closes, 0); /* no callback after nconn_close */
    run_finish(&r);                /* all handles closed, nothing leaked (ASan) */
}

/* A hanging DNS query must not block the loop: a 10 ms timer keeps its pace. */
struct pace {
    uint64_t last, max_gap;
    int fires;
};

static void on_tick(uv_timer_t *t)
{
    struct pace *p = t->data;
    uint64_t now = uv_hrtime();

    if (p->last && now - p->last > p->max_gap) p->max_gap = now - p->last;
    p->last = now;
    p->fires++;
}

static void test_loop_not_blocked(void **state)
{
    struct run r;
    struct nconn_opts o;
    uv_timer_t tick;
    struct pace p = {0};
    double lat_ms;

    set_dns("drop");
    run_init(&r);
    base_opts(&o, "wss://" HOST "/ws/chat");
    o.dns_timeout_ms = 1000;
    uv_timer_init(&r.loop, &tick);
    tick.data = &p;
    uv_timer_start(&tick, on_tick, 10, 10);
    run_conn(&r, &o);
    uv_close((uv_handle_t *)&tick, NULL);
    assert_string_equal(r.out.text, "dns: timeout " HOST);
    lat_ms = (double)p.max_gap / 1e6 - 10.0;
    printf("# loop latency during a hanging DNS query: %d ticks, max gap %.2f ms, "
           "max latency %.2f ms\n",
           p.fires, (double)p.max_gap / 1e6, lat_ms);
    assert_true(p.fires >= 50);
    assert_true(lat_ms < 50.0);
    run_finish(&r);
}

static void test_dns_runtime_switch(void **state)
{
    struct tserver ts;

    /* The same name first fails, then works after the control file changes. */
    server_start(&ts, S_ECHO, &leaf_ok);
    set_dns("servfail");
    expect_outcome(url_for(ts.port, true), "dns: SERVFAIL " HOST, NOUT_DNS);
    set_dns("a:127.0.0.1");
    echo_run(url_for(ts.port, true), 1, &ts);
    server_stop(&ts);
}

static void test_dns_refused(void **state)
{
    set_dns("refused");
    expect_outcome("wss://" HOST "/ws/chat", "dns: REFUSED " HOST, NOUT_DNS);
}

static void test_dns_no_data(void **state)
{
    set_dns("a:"); /* NOERROR, no address of either family */
    expect_outcome("wss://" HOST "/ws/chat", "dns: no data " HOST, NOUT_DNS);
}

static void test_connect_timeout(void **state)
{
    int port, lfd = listen_loopback(&port), fill[4];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char want[128];
    struct run r;
    struct nconn_opts o;

    /* A listener that never accepts, with its accept queue filled: the kernel drops
     * further SYNs, so the next connect hangs like a blackholed address. */
    assert_int_equal(listen(lfd, 0), 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    usleep(100 * 1000);
    set_dns("a:127.0.0.1");
    run_init(&r);
    base_opts(&o, url_for(port, true));
    o.connect_timeout_ms = 300;
    run_conn(&r, &o);
    snprintf(want, sizeof(want), "connect: timeout 127.0.0.1:%d", port);
    printf("# %s -> %s\n", o.url, r.out.text);
    assert_string_equal(r.out.text, want);
    assert_int_equal(r.out.cause, NOUT_C_TIMEOUT);
    run_finish(&r);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

static void test_handshake_timeout(void **state)
{
    struct tserver ts;
    struct run r;
    struct nconn_opts o;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_SILENT, NULL);
    run_init(&r);
    base_opts(&o, url_for(ts.port, true));
    o.handshake_timeout_ms = 300;
    run_conn(&r, &o);
    assert_string_equal(r.out.text, "tls: timeout");
    run_finish(&r);
    run_init(&r);
    base_opts(&o, url_for(ts.port, false));
    o.handshake_timeout_ms = 300;
    run_conn(&r, &o);
    assert_string_equal(r.out.text, "ws: timeout");
    run_finish(&r);
    server_stop(&ts);
}

static void test_testdns_survives_garbage(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), port = 0;
    static uint8_t big[4000];
    uint8_t q[64];

    assert_int_equal(sscanf(dns_server, "127.0.0.1:%d", &port), 1);
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memset(q, 0, sizeof(q));
    q[5] = 1;                                      /* QDCOUNT 1, then malformed questions */
    memcpy(q + 12, "\xc0\x0c\x00\x01\x00\x01", 6); /* pointer */
    sendto(fd, q, 18, 0, (struct sockaddr *)&a, sizeof(a));
    memcpy(q + 12,
           "\x3f"
           "abc",
           4); /* label overrun */
    sendto(fd, q, 16, 0, (struct sockaddr *)&a, sizeof(a));
    sendto(fd, q, 5, 0, (struct sockaddr *)&a, sizeof(a)); /* short */
    memset(big, 0x3f, sizeof(big));
    sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&a, sizeof(a)); /* oversized */
    q[5] = 2;
    sendto(fd, q, 40, 0, (struct sockaddr *)&a, sizeof(a)); /* QDCOUNT 2 */
    close(fd);
    assert_int_equal(kill(dns_pid, 0), 0); /* still alive ... */
    set_dns("nxdomain");                   /* ... and still answering */
    expect_outcome("wss://" HOST "/ws/chat", "dns: NXDOMAIN " HOST, NOUT_DNS);
}

static void test_close_inside_on_open(void **state)
{
    struct tserver ts;
    struct run r;
    struct nconn_opts o;

    set_dns("a:127.0.0.1");
    server_start(&ts, S_CLOSE_1000, &leaf_ok); /* sends close 1000 right after the 101 */
    run_init(&r);
    r.close_on_open = true;
    base_opts(&o, url_for(ts.port, true));
    run_conn(&r, &o);
    assert_int_equal(r.opens, 1);
    assert_int_equal(r.closes, 0); /* the peer's close arrived after nconn_close: dropped */
    run_finish(&r);
    server_stop(&ts);
}

/* ---- setup ------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/itest_connector.XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(dns_ctl, sizeof(dns_ctl), "%s/dns.rules", tmpdir);
    signal(SIGPIPE, SIG_IGN);
    make_certs();
    set_dns("a:127.0.0.1");
    start_testdns();
    return 0;
}

static int group_teardown(void **state)
{
    char p[160];

    if (dns_pid > 0) {
        kill(dns_pid, SIGTERM);
        waitpid(dns_pid, NULL, 0);
    }
    testca_cert_free(&ca);
    testca_cert_free(&rogue_ca);
    testca_cert_free(&leaf_ok);
    testca_cert_free(&leaf_other);
    testca_cert_free(&leaf_rogue);
    testca_cert_free(&leaf_self);
    unlink(ca_path);
    unlink(dns_ctl);
    snprintf(p, sizeof(p), "%s.tmp", dns_ctl);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nxdomain),
        cmocka_unit_test(test_servfail),
        cmocka_unit_test(test_dns_timeout),
        cmocka_unit_test(test_dns_refused),
        cmocka_unit_test(test_dns_no_data),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_connection_reset),
        cmocka_unit_test(test_tls_hostname_mismatch),
        cmocka_unit_test(test_tls_unknown_ca),
        cmocka_unit_test(test_tls_self_signed),
        cmocka_unit_test(test_http_403),
        cmocka_unit_test(test_close_during_tls_handshake),
        cmocka_unit_test(test_close_during_ws_upgrade_tls),
        cmocka_unit_test(test_close_during_ws_upgrade_plain),
        cmocka_unit_test(test_closed_by_peer),
        cmocka_unit_test(test_happy_wss),
        cmocka_unit_test(test_happy_ws_ip_literal),
        cmocka_unit_test(test_second_address_used),
        cmocka_unit_test(test_bad_url_is_async),
        cmocka_unit_test(test_cancel_during_dns),
        cmocka_unit_test(test_loop_not_blocked),
        cmocka_unit_test(test_dns_runtime_switch),
        cmocka_unit_test(test_testdns_survives_garbage),
        cmocka_unit_test(test_close_inside_on_open),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
