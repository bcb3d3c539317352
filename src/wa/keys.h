/* SPDX-License-Identifier: MIT */
/* keys.h -- X25519 key pairs, Diffie-Hellman and XEdDSA signatures (32-byte raw keys).
 *
 * All keys here are raw 32-byte Curve25519 values (no 0x05 type prefix). Private keys are
 * stored clamped, so the XEdDSA signer (libsignal-protocol-c) and X25519 agree on the scalar.
 * A `struct wa_keypair` is a value type; wipe it with wa_keypair_wipe() when done.
 * Functions return 0 or a negative errno code; they never log.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define WA_KEY_LEN 32
#define WA_SIG_LEN 64

struct wa_keypair {
    uint8_t priv[WA_KEY_LEN]; /* clamped scalar */
    uint8_t pub[WA_KEY_LEN];  /* Montgomery u-coordinate */
};

/* Clamp a Curve25519 scalar in place (RFC 7748). */
void wa_key_clamp(uint8_t priv[WA_KEY_LEN]);

/* Fresh key pair from the OpenSSL CSPRNG. -EIO if the RNG or derivation fails. */
int wa_keypair_generate(struct wa_keypair *kp) __attribute__((warn_unused_result));

/* Key pair from a given private key (clamped copy is stored). -EIO on failure. */
int wa_keypair_from_private(struct wa_keypair *kp, const uint8_t priv[WA_KEY_LEN])
    __attribute__((warn_unused_result));

/* Zero a key pair (OPENSSL_cleanse). */
void wa_keypair_wipe(struct wa_keypair *kp);

/* X25519(priv, pub) into out. -EPROTO if the result is all zero (low-order point),
 * -EIO on library failure. */
int wa_dh(uint8_t out[WA_KEY_LEN], const uint8_t priv[WA_KEY_LEN], const uint8_t pub[WA_KEY_LEN])
    __attribute__((warn_unused_result));

/* XEdDSA ("curve25519 signature", Signal calculateSignature) of msg with priv, using a
 * random nonce. Returns 0, -ENOMEM or -EIO. */
int wa_xeddsa_sign(uint8_t sig[WA_SIG_LEN], const uint8_t priv[WA_KEY_LEN], const uint8_t *msg,
                   size_t len) __attribute__((warn_unused_result));

/* Verify an XEdDSA signature made by the owner of the Montgomery public key pub.
 * Returns 0 when valid, -EBADMSG when invalid (including sig_len != 64), -ENOMEM/-EIO on
 * library failure. */
int wa_xeddsa_verify(const uint8_t pub[WA_KEY_LEN], const uint8_t *msg, size_t len,
                     const uint8_t *sig, size_t sig_len) __attribute__((warn_unused_result));
