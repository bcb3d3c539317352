/* SPDX-License-Identifier: MIT */
/* testca.c -- test/dev CA: issue P-256/Ed25519 certificates, keep them as PEM in a directory. */
#include "net/testca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/fileio.h"

#define SAN_MAX (TESTCA_MAX_NAMES * (TESTCA_NAME_MAX + 4))

static bool is_ip(const char *s)
{
    unsigned char b[16];

    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Letters, digits, '-', '.', an optional leading "*."; no empty labels. */
static bool is_dns_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= TESTCA_NAME_MAX) return false;
    if (s[0] == '*' && s[1] == '.') s += 2;
    if (*s == '.' || *s == '\0' || s[strlen(s) - 1] == '.' || strstr(s, "..")) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

/* "DNS:a,IP:1.2.3.4,..." */
static int san_string(const struct testca_spec *sp, char *out, size_t cap, char *err, size_t errlen)
{
    const char *const *names = sp->nnames ? sp->names : &sp->cn;
    size_t n = sp->nnames ? sp->nnames : 1, off = 0;

    if (n > TESTCA_MAX_NAMES) {
        snprintf(err, errlen, "too many names (max %d)", TESTCA_MAX_NAMES);
        return -EINVAL;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        bool ip = nm && strlen(nm) < TESTCA_NAME_MAX && is_ip(nm);

        if (!nm || (!ip && !is_dns_name(nm))) {
            snprintf(err, errlen, "invalid certificate name \"%.60s\"", nm ? nm : "(null)");
            return -EINVAL;
        }
        off +=
            (size_t)snprintf(out + off, cap - off, "%s%s:%s", i ? "," : "", ip ? "IP" : "DNS", nm);
    }
    return 0;
}

static EVP_PKEY *new_key(enum testca_key t)
{
    if (t == TESTCA_ED25519) return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, val);
    if (!e) return -EIO;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? 0 : -EIO;
}

static int random_serial(X509 *x)
{
    unsigned char r[8];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(r, sizeof(r)) != 1) return -EIO;
    r[0] &= 0x7f; /* positive */
    r[0] |= 0x01; /* and never zero */
    bn = BN_bin2bn(r, sizeof(r), NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -EIO;
}

static int add_exts(X509 *x, X509 *iss, const struct testca_spec *sp, const char *san)
{
    int rc = add_ext(x, iss, NID_subject_key_identifier, "hash");

    if (rc == 0) rc = add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
    if (sp->is_ca) {
        if (rc == 0) rc = add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
        if (rc == 0) rc = add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        return rc;
    }
    if (rc == 0) rc = add_ext(x, iss, NID_basic_constraints, "CA:FALSE");
    if (rc == 0) rc = add_ext(x, iss, NID_ext_key_usage, "serverAuth");
    if (rc == 0) rc = add_ext(x, iss, NID_subject_alt_name, san);
    return rc;
}

static int build(struct testca_cert *c, const struct testca_spec *sp,
                 const struct testca_cert *issuer, const char *san)
{
    long days = sp->days > 0 ? sp->days : sp->is_ca ? TESTCA_CA_DAYS : TESTCA_LEAF_DAYS;
    X509_NAME *name = X509_get_subject_name(c->x);
    X509 *iss = issuer ? issuer->x : c->x;
    EVP_PKEY *skey = issuer ? issuer->key : c->key;
    bool ed = EVP_PKEY_get_id(skey) == EVP_PKEY_ED25519;

    if (X509_set_version(c->x, 2) != 1 || random_serial(c->x) < 0 ||
        !X509_gmtime_adj(X509_getm_notBefore(c->x), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(c->x), (int)days, 0, NULL) ||
        X509_set_pubkey(c->x, c->key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)sp->cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(c->x, X509_get_subject_name(iss)) != 1)
        return -EIO;
    if (add_exts(c->x, iss, sp, san) < 0) return -EIO;
    return X509_sign(c->x, skey, ed ? NULL : EVP_sha256()) > 0 ? 0 : -EIO;
}

int testca_issue(struct testca_cert *out, const struct testca_spec *sp,
                 const struct testca_cert *issuer, char *err, size_t errlen)
{
    char san[SAN_MAX];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!sp || !sp->cn || !*sp->cn || strlen(sp->cn) > 64 || sp->days < 0) {
        snprintf(err, errlen, "invalid certificate spec");
        return -EINVAL;
    }
    if (!sp->is_ca && (rc = san_string(sp, san, sizeof(san), err, errlen)) < 0) return rc;
    ERR_clear_error();
    out->key = new_key(sp->key_type);
    out->x = X509_new();
    if (!out->key || !out->x) {
        testca_cert_free(out);
        snprintf(err, errlen, "key generation failed");
        return -ENOMEM;
    }
    rc = build(out, sp, issuer, sp->is_ca ? "" : san);
    if (rc < 0) {
        unsigned long ec = ERR_peek_last_error();
        snprintf(err, errlen, "certificate generation failed (%s)",
                 ec ? ERR_reason_error_string(ec) : "unknown");
        testca_cert_free(out);
    }
    ERR_clear_error();
    return rc;
}

void testca_cert_free(struct testca_cert *c)
{
    if (!c) return;
    X509_free(c->x);
    EVP_PKEY_free(c->key);
    c->x = NULL;
    c->key = NULL;
}

/* ---- PEM files -------------------------------------------------------------------------- */

static int write_bio(const char *path, BIO *b, mode_t mode, char *err, size_t errlen)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    int rc = n > 0 ? file_write_atomic(path, data, (size_t)n, mode) : -EIO;

    if (n > 0) OPENSSL_cleanse(data, (size_t)n); /* key material */
    BIO_free(b);
    if (rc < 0) snprintf(err, errlen, "cannot write %s (%s)", path, strerror(-rc));
    return rc;
}

int testca_write_cert(const char *path, X509 *x, char *err, size_t errlen)
{
    BIO *b = BIO_new(BIO_s_mem());

    if (!b || PEM_write_bio_X509(b, x) != 1) {
        BIO_free(b);
        snprintf(err, errlen, "cannot encode certificate");
        return -ENOMEM;
    }
    return write_bio(path, b, 0644, err, errlen);
}

int testca_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *b = BIO_new(BIO_s_mem());

    if (!b || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(b);
        snprintf(err, errlen, "cannot encode private key");
        return -ENOMEM;
    }
    return write_bio(path, b, 0600, err, errlen);
}

/* Load a cert + key pair; false if either is missing, unreadable or they do not match. */
static bool load_pair(struct testca_cert *c, const char *cert_path, const char *key_path)
{
    BIO *b = BIO_new_file(cert_path, "r");
    struct stat st;

    memset(c, 0, sizeof(*c));
    if (b) c->x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_file(key_path, "r");
    if (b) c->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (!c->x || !c->key || X509_check_private_key(c->x, c->key) != 1) {
        testca_cert_free(c);
        ERR_clear_error();
        return false;
    }
    if (stat(key_path, &st) == 0 && (st.st_mode & 077)) (void)chmod(key_path, 0600);
    return true;
}

/* Valid now and for at least TESTCA_RENEW_DAYS more. */
static bool fresh(X509 *x)
{
    time_t t = time(NULL) + (time_t)TESTCA_RENEW_DAYS * 86400;

    return X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
           X509_cmp_time(X509_get0_notAfter(x), &t) > 0;
}

static bool covers(X509 *x, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int ok = is_ip(names[i]) ? X509_check_ip_asc(x, names[i], 0)
                                 : X509_check_host(x, names[i], 0, 0, NULL);
        if (ok != 1) return false;
    }
    return true;
}

static bool leaf_ok(const struct testca_cert *leaf, const struct testca_cert *ca,
                    const char *const *names, size_t n)
{
    return X509_check_issued(ca->x, leaf->x) == X509_V_OK &&
           X509_verify(leaf->x, X509_get0_pubkey(ca->x)) == 1 && fresh(leaf->x) &&
           covers(leaf->x, names, n);
}

static int write_pair(const struct testca_cert *c, const char *cert_path, const char *key_path,
                      char *err, size_t errlen)
{
    int rc = testca_write_key(key_path, c->key, err, errlen);

    return rc < 0 ? rc : testca_write_cert(cert_path, c->x, err, errlen);
}

static int set_paths(struct testca_paths *p, const char *dir, char *err, size_t errlen)
{
    if (strlen(dir) + sizeof("/server.key") > sizeof(p->ca_cert)) {
        snprintf(err, errlen, "state directory path too long");
        return -ENAMETOOLONG;
    }
    snprintf(p->ca_cert, sizeof(p->ca_cert), "%s/ca.pem", dir);
    snprintf(p->ca_key, sizeof(p->ca_key), "%s/ca.key", dir);
    snprintf(p->cert, sizeof(p->cert), "%s/server.pem", dir);
    snprintf(p->key, sizeof(p->key), "%s/server.key", dir);
    return 0;
}

static int ensure_ca(struct testca_cert *ca, const struct testca_paths *p, enum testca_key kt,
                     int *created, char *err, size_t errlen)
{
    struct testca_spec sp = {.cn = "wagate test CA", .is_ca = true, .key_type = kt};
    int rc;

    if (load_pair(ca, p->ca_cert, p->ca_key)) {
        if (X509_check_ca(ca->x) > 0 && fresh(ca->x)) return 0;
        testca_cert_free(ca);
    }
    rc = testca_issue(ca, &sp, NULL, err, errlen);
    if (rc == 0) rc = write_pair(ca, p->ca_cert, p->ca_key, err, errlen);
    if (rc == 0) *created = 2;
    if (rc < 0) testca_cert_free(ca);
    return rc;
}

int testca_ensure_dir(const char *dir, const char *const *names, size_t nnames,
                      enum testca_key key_type, struct testca_paths *paths, int *created, char *err,
                      size_t errlen)
{
    struct testca_spec sp = {
        .cn = "wagate test server", .names = names, .nnames = nnames, .key_type = key_type};
    struct testca_cert ca, leaf = {0};
    char san[SAN_MAX];
    int made = 0, rc = set_paths(paths, dir, err, errlen);

    if (rc == 0 && (!nnames || !names)) {
        snprintf(err, errlen, "no certificate names");
        rc = -EINVAL;
    }
    if (rc == 0) rc = san_string(&sp, san, sizeof(san), err, errlen); /* validates the names */
    if (rc < 0) return rc;
    rc = ensure_ca(&ca, paths, key_type, &made, err, errlen);
    if (rc < 0) return rc;
    if (made || !load_pair(&leaf, paths->cert, paths->key) || !leaf_ok(&leaf, &ca, names, nnames)) {
        testca_cert_free(&leaf);
        rc = testca_issue(&leaf, &sp, &ca, err, errlen);
        if (rc == 0) rc = write_pair(&leaf, paths->cert, paths->key, err, errlen);
        if (rc == 0 && !made) made = 1;
    }
    testca_cert_free(&leaf);
    testca_cert_free(&ca);
    ERR_clear_error();
    if (created) *created = made;
    return rc;
}
