/* SPDX-License-Identifier: MIT */
/* testca.h -- TEST/DEV TOOLING: a throw-away X.509 CA and server certificates for loopback TLS.
 *
 * Used by tools/fakewa (wss://) and by the tests; never by the gateway's production paths.
 * Certificates are X.509 v3 signed with SHA-256 (Ed25519 signs without a digest):
 *   CA:   basicConstraints critical CA:TRUE, keyUsage critical keyCertSign+cRLSign,
 *         subject/authority key identifiers; valid from now-1h for TESTCA_CA_DAYS.
 *   leaf: basicConstraints CA:FALSE, extendedKeyUsage serverAuth, subject/authority key
 *         identifiers, subjectAltName = the given DNS names / IP literals;
 *         valid from now-1h for TESTCA_LEAF_DAYS. Serial numbers are random (63 bits).
 * Keys are EC P-256 (default) or Ed25519.
 *
 * State directory layout (testca_ensure_dir): ca.pem, ca.key, server.pem, server.key
 * (keys mode 0600, certificates 0644, all written atomically). Existing files are kept
 * across restarts; only the leaf is re-issued (by the same CA) when it is missing, invalid,
 * not signed by ca.pem, expiring within TESTCA_RENEW_DAYS or lacking a requested name.
 * The whole set is regenerated only when the CA itself is missing or unusable.
 *
 * Errors: 0 or a negative errno; a one-line reason in `err`.
 * Limits: at most TESTCA_MAX_NAMES names of at most TESTCA_NAME_MAX-1 bytes each; DNS names
 * may only contain letters, digits, '-', '.' and a leading "*.".
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define TESTCA_MAX_NAMES  16
#define TESTCA_NAME_MAX   254
#define TESTCA_CA_DAYS    3650
#define TESTCA_LEAF_DAYS  397
#define TESTCA_RENEW_DAYS 7

enum testca_key { TESTCA_P256 = 0, TESTCA_ED25519 };

/* A certificate with its private key; both owned (free with testca_cert_free). */
struct testca_cert {
    EVP_PKEY *key;
    X509 *x;
};

struct testca_spec {
    const char *cn;           /* subject CN (required) */
    const char *const *names; /* leaf subjectAltName entries (DNS name or IP literal) */
    size_t nnames;            /* 0 for a CA; a leaf without names gets DNS:<cn> */
    bool is_ca;               /* CA extensions instead of leaf ones */
    enum testca_key key_type; /* for the new key */
    long days;                /* validity; 0 = TESTCA_CA_DAYS / TESTCA_LEAF_DAYS */
};

/* Issue a new certificate with a fresh key, signed by issuer (NULL = self-signed).
 * out is overwritten (not freed first). 0, -EINVAL (bad spec/name), -ENOMEM or -EIO. */
int testca_issue(struct testca_cert *out, const struct testca_spec *spec,
                 const struct testca_cert *issuer, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Free both parts; NULL members are fine. */
void testca_cert_free(struct testca_cert *c);

/* Write a certificate as PEM (mode 0644) or a private key as unencrypted PKCS#8 PEM
 * (mode 0600), atomically. 0 or negative errno. */
int testca_write_cert(const char *path, X509 *x, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int testca_write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Paths of the four files of a state directory. */
struct testca_paths {
    char ca_cert[1024];
    char ca_key[1024];
    char cert[1024]; /* the leaf (what a server presents) */
    char key[1024];
};

/* Load or create the CA and a leaf covering `names` in dir (which must exist), as
 * described above; fills paths. *created (may be NULL) tells whether anything was
 * (re)written: 0 nothing, 1 the leaf only, 2 the CA and the leaf. nnames must be >= 1.
 * The leaf CN is "wagate test server", the CA CN "wagate test CA". 0 or negative errno. */
int testca_ensure_dir(const char *dir, const char *const *names, size_t nnames,
                      enum testca_key key_type, struct testca_paths *paths, int *created, char *err,
                      size_t errlen) __attribute__((warn_unused_result));
