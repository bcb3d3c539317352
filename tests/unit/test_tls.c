/* SPDX-License-Identifier: MIT */
/* test_tls.c -- sans-I/O TLS client and server codecs, and the test CA, all in memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/testca.h"
#include "net/tls.h"

static struct testca_cert ca, leaf, rogue_ca, rogue_leaf;
static char ca_path[64];

static void mk(struct testca_cert *c, const char *cn, const struct testca_cert *iss,
               enum testca_key kt)
{
    static const char *const names[] = {"web.whatsapp.test", "127.0.0.1"};
    struct testca_spec sp = {.cn = cn, .is_ca = !iss, .key_type = kt};
    char err[200] = "";

    if (iss) {
        sp.names = names;
        sp.nnames = 2;
    }
    assert_int_equal(testca_issue(c, &sp, iss, err, sizeof(err)), 0);
}

static int setup(void **state)
{
    int fd;
    FILE *f;

    mk(&ca, "unit CA", NULL, TESTCA_P256);
    mk(&leaf, "web.whatsapp.test", &ca, TESTCA_P256);
    mk(&rogue_ca, "rogue CA", NULL, TESTCA_P256);
    mk(&rogue_leaf, "web.whatsapp.test", &rogue_ca, TESTCA_P256);
    snprintf(ca_path, sizeof(ca_path), "/tmp/test_tls_ca.XXXXXX");
    fd = mkstemp(ca_path);
    f = fdopen(fd, "w");
    PEM_write_X509(f, ca.x);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    unlink(ca_path);
    testca_cert_free(&ca);
    testca_cert_free(&leaf);
    testca_cert_free(&rogue_ca);
    testca_cert_free(&rogue_leaf);
    return 0;
}

struct srv {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rb, *wb;
};

static void srv_init(struct srv *s, bool want_client_cert)
{
    s->ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(s->ctx, leaf.x);
    SSL_CTX_use_PrivateKey(s->ctx, leaf.key);
    if (want_client_cert)
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    s->ssl = SSL_new(s->ctx);
    s->rb = BIO_new(BIO_s_mem());
    s->wb = BIO_new(BIO_s_mem());
    SSL_set_bio(s->ssl, s->rb, s->wb);
    SSL_set_accept_state(s->ssl);
}

static void srv_free(struct srv *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
}

/* Shuttle bytes both ways until the client handshake ends; returns its result. */
static int pump(struct ntls *t, struct srv *s)
{
    uint8_t b[16384];
    int rc = -EAGAIN;

    for (int i = 0; i < 20 && rc == -EAGAIN; i++) {
        size_t n;
        int r;

        rc = ntls_handshake(t);
        while ((n = ntls_take_out(t, b, sizeof(b))) > 0)
            BIO_write(s->rb, b, (int)n);
        (void)SSL_do_handshake(s->ssl);
        while ((r = BIO_read(s->wb, b, sizeof(b))) > 0)
            assert_int_equal(ntls_feed(t, b, (size_t)r), 0);
    }
    return rc == -EAGAIN ? ntls_handshake(t) : rc;
}

static struct ntls *client(const char *host, const char *ca_file)
{
    struct ntls_opts o = {.host = host, .ca_file = ca_file};
    char err[128];
    struct ntls *t = ntls_new(&o, err, sizeof(err));

    assert_non_null(t);
    return t;
}

static void test_roundtrip(void **state)
{
    struct srv s;
    struct ntls *t = client("web.whatsapp.test", ca_path);
    uint8_t b[16384], got[64];
    size_t n = 0;
    int r;

    srv_init(&s, false);
    assert_int_equal(pump(t, &s), 0);
    assert_true(ntls_handshake_done(t));
    assert_int_equal(ntls_write(t, "ping", 4), 0);
    assert_true(ntls_pending_out(t) > 4);
    while ((n = ntls_take_out(t, b, sizeof(b))) > 0)
        BIO_write(s.rb, b, (int)n);
    assert_int_equal(SSL_read(s.ssl, got, sizeof(got)), 4);
    assert_memory_equal(got, "ping", 4);
    assert_int_equal(SSL_write(s.ssl, "pong!", 5), 5);
    while ((r = BIO_read(s.wb, b, sizeof(b))) > 0)
        assert_int_equal(ntls_feed(t, b, (size_t)r), 0);
    assert_int_equal(ntls_read(t, got, sizeof(got), &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "pong!", 5);
    assert_int_equal(ntls_read(t, got, sizeof(got), &n), 0);
    assert_int_equal(n, 0); /* needs more */
    SSL_shutdown(s.ssl);
    while ((r = BIO_read(s.wb, b, sizeof(b))) > 0)
        assert_int_equal(ntls_feed(t, b, (size_t)r), 0);
    assert_int_equal(ntls_read(t, got, sizeof(got), &n), -EPIPE);
    srv_free(&s);
    ntls_free(t);
}

static void test_ip_literal(void **state)
{
    struct srv s;
    struct ntls *t = client("127.0.0.1", ca_path);

    srv_init(&s, false);
    assert_int_equal(pump(t, &s), 0);
    srv_free(&s);
    ntls_free(t);
}

static void test_hostname_mismatch(void **state)
{
    struct srv s;
    struct ntls *t = client("web.whatsapp.com", ca_path);

    srv_init(&s, false);
    assert_int_equal(pump(t, &s), -EPROTO);
    assert_int_equal(ntls_outcome(t)->cause, NOUT_C_CERT_VERIFY);
    assert_int_equal(ntls_outcome(t)->detail, X509_V_ERR_HOSTNAME_MISMATCH);
    assert_string_equal(ntls_outcome(t)->text,
                        "tls: certificate verify failed (hostname mismatch)");
    srv_free(&s);
    ntls_free(t);
}

static void test_ip_mismatch(void **state)
{
    struct srv s;
    struct ntls *t = client("127.0.0.2", ca_path);

    srv_init(&s, false);
    assert_int_equal(pump(t, &s), -EPROTO);
    assert_string_equal(ntls_outcome(t)->text,
                        "tls: certificate verify failed (IP address mismatch)");
    srv_free(&s);
    ntls_free(t);
}

static void test_alert(void **state)
{
    struct srv s;
    struct ntls *t = client("web.whatsapp.test", ca_path);
    char want[100];
    int rc;

    srv_init(&s, true); /* demands a client certificate we do not have */
    rc = pump(t, &s);
    if (rc == 0) { /* TLS 1.3: the alert comes after the client's Finished */
        uint8_t b[64];
        size_t n;
        rc = ntls_read(t, b, sizeof(b), &n);
    }
    assert_int_equal(rc, -EPROTO);
    assert_int_equal(ntls_outcome(t)->cause, NOUT_C_TLS_ALERT);
    /* TLS 1.3 (the default): certificate_required; TLS 1.2: handshake_failure */
    snprintf(want, sizeof(want), "tls: alert %s (%ld)",
             ntls_outcome(t)->detail == 116 ? "certificate required" : "handshake failure",
             ntls_outcome(t)->detail);
    assert_true(ntls_outcome(t)->detail == 116 || ntls_outcome(t)->detail == 40);
    assert_string_equal(ntls_outcome(t)->text, want);
    printf("# %s\n", want);
    srv_free(&s);
    ntls_free(t);
}

static void test_garbage_and_eof(void **state)
{
    struct ntls *t = client("web.whatsapp.test", ca_path);
    struct ntls *t2 = client("web.whatsapp.test", ca_path);
    uint8_t b[4096];

    assert_int_equal(ntls_handshake(t), -EAGAIN);
    (void)ntls_take_out(t, b, sizeof(b));
    assert_int_equal(ntls_feed(t, "HTTP/1.1 400 Bad Request\r\n\r\n", 28), 0);
    assert_int_equal(ntls_handshake(t), -EPROTO);
    assert_int_equal(ntls_outcome(t)->cause, NOUT_C_PROTOCOL);
    assert_non_null(strstr(ntls_outcome(t)->text, "tls: protocol error ("));

    assert_int_equal(ntls_handshake(t2), -EAGAIN);
    ntls_feed_eof(t2);
    assert_int_equal(ntls_handshake(t2), -EPIPE);
    assert_string_equal(ntls_outcome(t2)->text, "tls: closed during handshake");
    ntls_free(t);
    ntls_free(t2);
}

static void test_bad_ca_file_and_caps(void **state)
{
    struct ntls_opts o = {.host = "h", .ca_file = "/nonexistent/ca.pem"};
    char err[128];
    struct ntls *t;
    static uint8_t big[NTLS_MAX_PENDING_IN + 1];

    assert_null(ntls_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot load CA file"));
    o.ca_file = NULL; /* system store */
    t = ntls_new(&o, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(ntls_feed(t, big, sizeof(big)), -ENOBUFS);
    assert_int_equal(ntls_write(t, "x", 1), -ENOTCONN);
    ntls_free(t);
    assert_null(ntls_free(NULL));
}

/* ---- server codec ------------------------------------------------------------------- */

static struct ntls_server *server_of(const struct testca_cert *c)
{
    struct ntls_server_opts o = {.cert = c->x, .key = c->key};
    char err[200] = "";
    struct ntls_server *s = ntls_server_new(&o, err, sizeof(err));

    assert_non_null(s);
    return s;
}

static void move(struct ntls *from, struct ntls *to)
{
    uint8_t b[16384];
    size_t n;

    while ((n = ntls_take_out(from, b, sizeof(b))) > 0)
        assert_int_equal(ntls_feed(to, b, n), 0);
}

/* Drive both codecs until neither wants more; results in *crc / *src. */
static void pump2(struct ntls *c, struct ntls *s, int *crc, int *src)
{
    *crc = *src = -EAGAIN;
    for (int i = 0; i < 20 && (*crc == -EAGAIN || *src == -EAGAIN); i++) {
        if (*crc == -EAGAIN) *crc = ntls_handshake(c);
        move(c, s);
        if (*src == -EAGAIN) *src = ntls_handshake(s);
        move(s, c);
    }
}

static void test_server_roundtrip(void **state)
{
    struct ntls_server *srv = server_of(&leaf);
    struct ntls *c = client("web.whatsapp.test", ca_path);
    struct ntls *s = ntls_accept_new(srv, NULL, 0);
    uint8_t got[64];
    size_t n;
    int crc, src;

    srv = ntls_server_free(srv); /* the codec keeps its own reference */
    assert_non_null(s);
    assert_int_equal(ntls_write(s, "x", 1), -ENOTCONN);
    assert_int_equal(ntls_shutdown(s), -ENOTCONN);
    pump2(c, s, &crc, &src);
    assert_int_equal(crc, 0);
    assert_int_equal(src, 0);
    assert_true(ntls_handshake_done(s));
    assert_int_equal(ntls_write(c, "GET /ws/chat", 12), 0);
    move(c, s);
    assert_int_equal(ntls_read(s, got, sizeof(got), &n), 0);
    assert_int_equal(n, 12);
    assert_memory_equal(got, "GET /ws/chat", 12);
    assert_int_equal(ntls_write(s, "HTTP/1.1 101", 12), 0);
    move(s, c);
    assert_int_equal(ntls_read(c, got, sizeof(got), &n), 0);
    assert_int_equal(n, 12);
    assert_memory_equal(got, "HTTP/1.1 101", 12);
    assert_int_equal(ntls_shutdown(s), 0); /* close_notify */
    move(s, c);
    assert_int_equal(ntls_read(c, got, sizeof(got), &n), -EPIPE);
    assert_string_equal(ntls_outcome(c)->text, "tls: closed by peer (close_notify)");
    ntls_free(c);
    ntls_free(s);
}

static void test_server_wrong_cert(void **state)
{
    struct ntls_server *srv = server_of(&rogue_leaf);
    struct ntls *c = client("web.whatsapp.test", ca_path);
    struct ntls *s = ntls_accept_new(srv, NULL, 0);
    int crc, src;

    pump2(c, s, &crc, &src);
    assert_int_equal(crc, -EPROTO);
    assert_string_equal(ntls_outcome(c)->text,
                        "tls: certificate verify failed (unable to get local issuer certificate)");
    assert_int_equal(src, -EPROTO); /* the client's alert reached the server */
    assert_int_equal(ntls_outcome(s)->cause, NOUT_C_TLS_ALERT);
    assert_int_equal(ntls_outcome(s)->detail, 48);
    assert_string_equal(ntls_outcome(s)->text, "tls: alert unknown CA (48)");
    ntls_free(c);
    ntls_free(s);
    ntls_server_free(srv);
}

static void test_server_garbage_and_eof(void **state)
{
    struct ntls_server *srv = server_of(&leaf);
    struct ntls *s = ntls_accept_new(srv, NULL, 0);
    struct ntls *s2 = ntls_accept_new(srv, NULL, 0);
    static uint8_t big[NTLS_MAX_PENDING_IN + 1];
    static const char req[] = "GET /ws/chat HTTP/1.1\r\nHost: x\r\n\r\n";

    assert_int_equal(ntls_handshake(s), -EAGAIN);
    assert_int_equal(ntls_pending_out(s), 0); /* a server speaks second */
    assert_int_equal(ntls_feed(s, req, sizeof(req) - 1), 0);
    assert_int_equal(ntls_handshake(s), -EPROTO);
    assert_int_equal(ntls_outcome(s)->cause, NOUT_C_PROTOCOL);
    assert_string_equal(ntls_outcome(s)->text, "tls: protocol error (http request)");
    assert_int_equal(ntls_feed(s2, big, sizeof(big)), -ENOBUFS);
    assert_int_equal(ntls_feed(s2, "\x16\x03\x01", 3), 0); /* a partial record, then EOF */
    assert_int_equal(ntls_handshake(s2), -EAGAIN);
    ntls_feed_eof(s2);
    assert_int_equal(ntls_handshake(s2), -EPIPE);
    assert_string_equal(ntls_outcome(s2)->text, "tls: closed during handshake");
    ntls_free(s);
    ntls_free(s2);
    ntls_server_free(srv);
}

static void test_server_bad_opts(void **state)
{
    struct ntls_server_opts o = {.cert_file = "/nonexistent/server.pem", .key_file = "/x"};
    char err[200];

    assert_null(ntls_server_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot load certificate /nonexistent/server.pem ("));
    o = (struct ntls_server_opts){.cert = leaf.x, .key = rogue_leaf.key};
    assert_null(ntls_server_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "private key")); /* "... (key values mismatch)" */
    assert_non_null(strstr(err, "mismatch"));
    o = (struct ntls_server_opts){.cert = leaf.x, .cert_file = "/x", .key = leaf.key};
    assert_null(ntls_server_new(&o, err, sizeof(err)));
    assert_string_equal(err, "need exactly one certificate and one key");
    assert_null(ntls_server_new(NULL, err, sizeof(err)));
    assert_null(ntls_accept_new(NULL, err, sizeof(err)));
    assert_null(ntls_server_free(NULL));
}

static void test_ed25519_chain(void **state)
{
    struct testca_cert eca, eleaf;
    struct ntls_server *srv;
    struct ntls *c, *s;
    char path[64];
    FILE *f;
    int fd, crc, src;

    mk(&eca, "ed CA", NULL, TESTCA_ED25519);
    mk(&eleaf, "web.whatsapp.test", &eca, TESTCA_ED25519);
    assert_int_equal(EVP_PKEY_get_id(eleaf.key), EVP_PKEY_ED25519);
    snprintf(path, sizeof(path), "/tmp/test_tls_edca.XXXXXX");
    fd = mkstemp(path);
    f = fdopen(fd, "w");
    PEM_write_X509(f, eca.x);
    fclose(f);
    srv = server_of(&eleaf);
    c = client("127.0.0.1", path);
    s = ntls_accept_new(srv, NULL, 0);
    pump2(c, s, &crc, &src);
    assert_int_equal(crc, 0);
    assert_int_equal(src, 0);
    ntls_free(c);
    ntls_free(s);
    ntls_server_free(srv);
    unlink(path);
    testca_cert_free(&eca);
    testca_cert_free(&eleaf);
}

/* A figure, never asserted: full in-memory handshakes (P-256 chain verified by the client). */
static void test_handshake_figure(void **state)
{
    struct ntls_server *srv = server_of(&leaf);
    struct timespec a, b;
    const int n = 50;
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        struct ntls *c = client("web.whatsapp.test", ca_path);
        struct ntls *s = ntls_accept_new(srv, NULL, 0);
        int crc, src;

        pump2(c, s, &crc, &src);
        assert_int_equal(crc, 0);
        assert_int_equal(src, 0);
        ntls_free(c);
        ntls_free(s);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("# tls_handshake_ms %.2f (client+server, %d in memory, incl. client CA load)\n", ms / n,
           n);
    ntls_server_free(srv);
}

/* ---- test CA directory --------------------------------------------------------------- */

static char *slurp(const char *path)
{
    static char b[3][8192];
    static int k;
    FILE *f = fopen(path, "r");
    size_t n;
    char *o = b[k++ % 3];

    assert_non_null(f);
    n = fread(o, 1, sizeof(b[0]) - 1, f);
    o[n] = '\0';
    fclose(f);
    return o;
}

static int mode_of(const char *p)
{
    struct stat st;

    assert_int_equal(stat(p, &st), 0);
    return (int)(st.st_mode & 0777);
}

static void handshake_with(const struct testca_paths *p, const char *host, int want)
{
    struct ntls_server_opts so = {.cert_file = p->cert, .key_file = p->key};
    char err[200] = "";
    struct ntls_server *srv = ntls_server_new(&so, err, sizeof(err));
    struct ntls *c = client(host, p->ca_cert), *s;
    int crc, src;

    assert_non_null(srv);
    s = ntls_accept_new(srv, err, sizeof(err));
    pump2(c, s, &crc, &src);
    assert_int_equal(crc, want);
    ntls_free(c);
    ntls_free(s);
    ntls_server_free(srv);
}

static void test_testca_dir(void **state)
{
    static const char *const names[] = {"localhost", "127.0.0.1", "web.whatsapp.test", "::1"};
    static const char *const more[] = {"localhost", "other.test"};
    char dir[64], err[200] = "", ca1[8192], leaf1[8192], cmd[200];
    struct testca_paths p;
    int made = -1;

    snprintf(dir, sizeof(dir), "/tmp/test_tls_dir.XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(testca_ensure_dir(dir, names, 4, TESTCA_P256, &p, &made, err, sizeof(err)), 0);
    assert_int_equal(made, 2);
    assert_int_equal(mode_of(p.key), 0600);
    assert_int_equal(mode_of(p.ca_key), 0600);
    handshake_with(&p, "localhost", 0);
    handshake_with(&p, "127.0.0.1", 0);
    handshake_with(&p, "web.whatsapp.test", 0);
    handshake_with(&p, "other.test", -EPROTO);
    snprintf(ca1, sizeof(ca1), "%s", slurp(p.ca_cert));
    snprintf(leaf1, sizeof(leaf1), "%s", slurp(p.cert));
    /* a restart keeps everything */
    assert_int_equal(testca_ensure_dir(dir, names, 4, TESTCA_P256, &p, &made, err, sizeof(err)), 0);
    assert_int_equal(made, 0);
    assert_string_equal(slurp(p.ca_cert), ca1);
    assert_string_equal(slurp(p.cert), leaf1);
    /* a new name: a new leaf from the same CA */
    assert_int_equal(testca_ensure_dir(dir, more, 2, TESTCA_P256, &p, &made, err, sizeof(err)), 0);
    assert_int_equal(made, 1);
    assert_string_equal(slurp(p.ca_cert), ca1);
    assert_string_not_equal(slurp(p.cert), leaf1);
    handshake_with(&p, "other.test", 0);
    /* a corrupt leaf key is replaced; a lost CA key regenerates the set */
    assert_int_equal(truncate(p.key, 10), 0);
    assert_int_equal(testca_ensure_dir(dir, more, 2, TESTCA_P256, &p, &made, err, sizeof(err)), 0);
    assert_int_equal(made, 1);
    assert_int_equal(unlink(p.ca_key), 0);
    assert_int_equal(testca_ensure_dir(dir, more, 2, TESTCA_P256, &p, &made, err, sizeof(err)), 0);
    assert_int_equal(made, 2);
    assert_string_not_equal(slurp(p.ca_cert), ca1);
    handshake_with(&p, "localhost", 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_testca_bad_input(void **state)
{
    static const char *const bad[][1] = {{"a,b"}, {"DNS:x"}, {"x..y"}, {""}, {"a b"}};
    const char *many[TESTCA_MAX_NAMES + 1];
    struct testca_spec sp = {.cn = "x", .nnames = 1};
    struct testca_cert c;
    struct testca_paths p;
    char err[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp.names = bad[i];
        assert_int_equal(testca_issue(&c, &sp, NULL, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "invalid certificate name"));
        assert_null(c.x);
    }
    for (size_t i = 0; i < TESTCA_MAX_NAMES + 1; i++)
        many[i] = "a.test";
    sp.names = many;
    sp.nnames = TESTCA_MAX_NAMES + 1;
    assert_int_equal(testca_issue(&c, &sp, NULL, err, sizeof(err)), -EINVAL);
    sp.cn = NULL;
    assert_int_equal(testca_issue(&c, &sp, NULL, err, sizeof(err)), -EINVAL);
    assert_int_equal(testca_ensure_dir("/tmp", NULL, 0, TESTCA_P256, &p, NULL, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(
        testca_ensure_dir("/nonexistent/dir", many, 1, TESTCA_P256, &p, NULL, err, sizeof(err)),
        -ENOENT);
    assert_non_null(strstr(err, "cannot write /nonexistent/dir/ca.key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_ip_literal),
        cmocka_unit_test(test_hostname_mismatch),
        cmocka_unit_test(test_ip_mismatch),
        cmocka_unit_test(test_alert),
        cmocka_unit_test(test_garbage_and_eof),
        cmocka_unit_test(test_bad_ca_file_and_caps),
        cmocka_unit_test(test_server_roundtrip),
        cmocka_unit_test(test_server_wrong_cert),
        cmocka_unit_test(test_server_garbage_and_eof),
        cmocka_unit_test(test_server_bad_opts),
        cmocka_unit_test(test_ed25519_chain),
        cmocka_unit_test(test_handshake_figure),
        cmocka_unit_test(test_testca_dir),
        cmocka_unit_test(test_testca_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
