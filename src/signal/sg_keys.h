/* SPDX-License-Identifier: MIT */
/* sg_keys.h -- Curve25519 key material for the Signal layer: generation, import, signatures.
 *
 * Keys are plain values: 32-byte X25519 public keys and 32-byte private scalars. Wherever
 * a public key travels inside a Signal message or is signed, it is "serialised" as 33 bytes
 * `05 || key` (sg_pubkey_serialize); WhatsApp's key-upload/bundle iqs carry the raw 32 bytes.
 *
 * Private keys are always clamped (k[0] &= 248; k[31] &= 127; k[31] |= 64) when generated or
 * imported: libsignal-protocol-c's XEdDSA signer uses the scalar as given, and an unclamped
 * scalar would produce signatures that do not verify (wa-protocol.md §7.2).
 *
 * Registration ids are 14-bit like Baileys and libsignal: 1..16380 (never 0). They travel as
 * 4 bytes big-endian on the wire, so a 32-bit value read from a peer is accepted as is.
 *
 * One-time pre-key ids are 24-bit (3 bytes on the wire): 1..0xFFFFFF; the id after 0xFFFFFF
 * is 1 (0 is never used). Signed pre-key ids follow the same rule.
 *
 * Functions return 0 or a negative errno code (-EINVAL bad argument, -ENOMEM, -EIO crypto
 * provider failure). Nothing here touches a store; see sg_store.h for persisting them.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

#define SG_KEY_LEN        32
#define SG_PUBKEY_SER_LEN 33
#define SG_SIG_LEN        64
#define SG_KEY_TYPE_DJB   0x05
#define SG_PREKEY_ID_MAX  0xFFFFFFu /* ids are 3 bytes on the wire */
#define SG_REG_ID_MAX     16380u

struct sg_keypair {
    uint8_t pub[SG_KEY_LEN];
    uint8_t priv[SG_KEY_LEN]; /* clamped */
};

/* Our long-term identity: key pair + registration id. */
struct sg_identity {
    struct sg_keypair kp;
    uint32_t registration_id;
};

struct sg_prekey {
    uint32_t id; /* 1..SG_PREKEY_ID_MAX */
    struct sg_keypair kp;
};

struct sg_signed_prekey {
    uint32_t id; /* 1..SG_PREKEY_ID_MAX */
    struct sg_keypair kp;
    uint8_t sig[SG_SIG_LEN]; /* XEdDSA by the identity key over 05||kp.pub */
    uint64_t timestamp_ms;
};

/* What a peer publishes (and what the server hands out in an `encrypt get` result):
 * all public keys raw 32 bytes. has_prekey is false when no one-time pre-key is left. */
struct sg_bundle {
    uint32_t registration_id;
    uint8_t identity[SG_KEY_LEN];
    uint32_t signed_prekey_id;
    uint8_t signed_prekey[SG_KEY_LEN];
    uint8_t signed_prekey_sig[SG_SIG_LEN];
    bool has_prekey;
    uint32_t prekey_id;
    uint8_t prekey[SG_KEY_LEN];
};

/* Clamp a Curve25519 private scalar in place. */
void sg_key_clamp(uint8_t priv[SG_KEY_LEN]);

/* Write `05 || pub` into out. */
void sg_pubkey_serialize(const uint8_t pub[SG_KEY_LEN], uint8_t out[SG_PUBKEY_SER_LEN]);

/* Accept a public key as 32 raw bytes or 33 bytes starting with 05; write the raw 32.
 * Returns 0 or -EINVAL (other length or type byte). */
int sg_pubkey_parse(const uint8_t *in, size_t len, uint8_t out[SG_KEY_LEN])
    __attribute__((warn_unused_result));

/* Generate a fresh key pair (random, clamped). `sig` is only used for its crypto provider. */
int sg_keypair_generate(signal_context *sig, struct sg_keypair *out)
    __attribute__((warn_unused_result));

/* Import a private key (a clamped copy is kept) and derive its public key. */
int sg_keypair_from_private(signal_context *sig, const uint8_t priv[SG_KEY_LEN],
                            struct sg_keypair *out) __attribute__((warn_unused_result));

/* Random registration id in 1..SG_REG_ID_MAX. */
int sg_registration_id_generate(uint32_t *out) __attribute__((warn_unused_result));

/* Fresh identity: key pair + registration id. */
int sg_identity_generate(signal_context *sig, struct sg_identity *out)
    __attribute__((warn_unused_result));

/* XEdDSA signature (randomised) of msg by priv. */
int sg_sign(signal_context *sig, const uint8_t priv[SG_KEY_LEN], const uint8_t *msg, size_t len,
            uint8_t out[SG_SIG_LEN]) __attribute__((warn_unused_result));

/* 1 if `sigbytes` is a valid signature of msg by pub, 0 if not, -EINVAL on bad arguments. */
int sg_verify(signal_context *sig, const uint8_t pub[SG_KEY_LEN], const uint8_t *msg, size_t len,
              const uint8_t sigbytes[SG_SIG_LEN]);

/* The next pre-key id after `id` (wraps 0xFFFFFF -> 1; 0 -> 1). */
uint32_t sg_prekey_id_next(uint32_t id);

/* Generate a signed pre-key `id`, signed by `identity` over 05||pub. */
int sg_signed_prekey_generate(signal_context *sig, const struct sg_keypair *identity, uint32_t id,
                              struct sg_signed_prekey *out) __attribute__((warn_unused_result));

/* Generate `count` one-time pre-keys with ids first_id, next(first_id), ... (see
 * sg_prekey_id_next) into out[0..count-1]. first_id must be 1..SG_PREKEY_ID_MAX.
 * *next_id (optional) receives the id to use for the following batch. */
int sg_prekeys_generate(signal_context *sig, uint32_t first_id, size_t count, struct sg_prekey *out,
                        uint32_t *next_id) __attribute__((warn_unused_result));

/* Fill a bundle from our own key material (prekey may be NULL: no one-time pre-key). */
void sg_bundle_make(const struct sg_identity *id, const struct sg_signed_prekey *spk,
                    const struct sg_prekey *pk, struct sg_bundle *out);

/* libsignal conversions. Each returns 0 or a negative errno code; the caller owns the new
 * object and releases it with SIGNAL_UNREF. */
int sg_pubkey_to_ec(signal_context *sig, const uint8_t pub[SG_KEY_LEN], ec_public_key **out)
    __attribute__((warn_unused_result));
int sg_privkey_to_ec(signal_context *sig, const uint8_t priv[SG_KEY_LEN], ec_private_key **out)
    __attribute__((warn_unused_result));
int sg_keypair_to_ec(signal_context *sig, const struct sg_keypair *kp, ec_key_pair **out)
    __attribute__((warn_unused_result));

/* Serialise our pre-keys into libsignal records (what the store keeps). *out is a new
 * signal_buffer owned by the caller (signal_buffer_bzero_free). */
int sg_prekey_record(signal_context *sig, const struct sg_prekey *pk, signal_buffer **out)
    __attribute__((warn_unused_result));
int sg_signed_prekey_record(signal_context *sig, const struct sg_signed_prekey *spk,
                            signal_buffer **out) __attribute__((warn_unused_result));
/* Parse records back (e.g. to re-upload public halves). -EPROTO if malformed. */
int sg_prekey_from_record(signal_context *sig, const uint8_t *rec, size_t len,
                          struct sg_prekey *out) __attribute__((warn_unused_result));
int sg_signed_prekey_from_record(signal_context *sig, const uint8_t *rec, size_t len,
                                 struct sg_signed_prekey *out) __attribute__((warn_unused_result));
