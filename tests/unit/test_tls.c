/* SPDX-License-Identifier: MIT */
/* test_tls.c -- sans-I/O TLS client against an in-memory OpenSSL server (no sockets). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/tls.h"

struct cert {
    EVP_PKEY *key;
    X509 *x;
};

static struct cert ca, leaf;
static char ca_path[64];

static void add_ext(X509 *x, X509 *iss, int nid, const char *v)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;

    X509V3_set_ctx(&ctx, iss, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

static void mk(struct cert *c, const char *cn, const struct cert *iss)
{
    X509_NAME *n;

    c->key = EVP_EC_gen("P-256");
    c->x = X509_new();
    X509_set_version(c->x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c->x), iss ? 2 : 1);
    X509_gmtime_adj(X509_getm_notBefore(c->x), -60);
    X509_gmtime_adj(X509_getm_notAfter(c->x), 3600);
    X509_set_pubkey(c->x, c->key);
    n = X509_get_subject_name(c->x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c->x, iss ? X509_get_subject_name(iss->x) : n);
    if (iss)
        add_ext(c->x, iss->x, NID_subject_alt_name, "DNS:web.whatsapp.test,IP:127.0.0.1");
    else
        add_ext(c->x, c->x, NID_basic_constraints, "critical,CA:TRUE");
    X509_sign(c->x, iss ? iss->key : c->key, EVP_sha256());
}

static int setup(void **state)
{
    int fd;
    FILE *f;

    mk(&ca, "unit CA", NULL);
    mk(&leaf, "web.whatsapp.test", &ca);
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
    X509_free(ca.x);
    EVP_PKEY_free(ca.key);
    X509_free(leaf.x);
    EVP_PKEY_free(leaf.key);
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
