/* SPDX-License-Identifier: MIT */
/* cert.h -- WhatsApp Noise server certificate chain: verification and (fake server) generation.
 *
 * A chain is a serialized `wa.CertChain` {leaf, intermediate}; each certificate carries the
 * serialized Details bytes and a 64-byte XEdDSA signature over exactly those bytes. The
 * intermediate is signed by the root key, the leaf by the intermediate's key, and the leaf
 * key must be the server's Noise static key (docs/wa-protocol.md 2.4).
 */
#pragma once
#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define WA_CERT_MAX_LEN 16384 /* hard cap on a serialized chain */

/* The public WhatsApp root key ("WhatsAppLongTerm1", serial 0); default for config
 * `whatsapp.noise_root_pubkey`. */
extern const uint8_t wa_cert_root_pubkey[32];

/* Verify a serialized chain with every whatsmeow check: both certs have details and a
 * 64-byte signature; intermediate signed by root_pub, its issuerSerial is 0 and its key is
 * 32 bytes; leaf signed by the intermediate key, leaf issuerSerial == intermediate serial,
 * leaf key == server_static; notBefore <= now <= notAfter for both (unix seconds).
 * Returns 0 if all hold. Errors: -EBADMSG (malformed or missing fields), -EKEYREJECTED
 * (signature, serial or key mismatch), -EKEYEXPIRED (outside the validity window),
 * -ENOMEM/-EIO (library failure). *detail (if non-NULL) is set to a static string naming
 * the failed check, e.g. "noise: cert: leaf key does not match server static key", or to
 * "" on success. */
int wa_cert_verify(const uint8_t *chain, size_t len, const uint8_t root_pub[32],
                   const uint8_t server_static[32], uint64_t now, const char **detail)
    __attribute__((warn_unused_result));

/* Serial numbers and validity of one generated certificate. */
struct wa_cert_spec {
    uint32_t serial;
    uint32_t issuer_serial;
    uint64_t not_before;
    uint64_t not_after;
};

/* Fake server: build a chain whose intermediate (key = public key of inter_priv) is signed
 * with root_priv and whose leaf (key = leaf_pub) is signed with inter_priv, appending the
 * serialized CertChain to out. Signatures use random nonces. Returns 0, -ENOMEM, -EIO or
 * the buf error. */
int wa_cert_generate(struct buf *out, const uint8_t root_priv[32], const uint8_t inter_priv[32],
                     const uint8_t leaf_pub[32], const struct wa_cert_spec *inter,
                     const struct wa_cert_spec *leaf) __attribute__((warn_unused_result));
