/* SPDX-License-Identifier: MIT */
/* noise.h -- sans-I/O Noise_XX_25519_AESGCM_SHA256 as WhatsApp uses it (initiator + responder).
 *
 * Follows docs/wa-protocol.md 2.1-2.5: h = ck = protocol name, prologue `WA 06 03`, one
 * handshake nonce counter shared by both directions and reset at every MixKey, HKDF-SHA256
 * (salt = ck, info = "") for MixKey and Split, AES-256-GCM with AD = h during the handshake.
 * Messages in and out are serialized `wa.HandshakeMessage` frame payloads (no framing).
 *
 * Client (initiator):  write_client_hello -> read_server_hello (decrypts the server static key
 * and the certificate chain and verifies the chain with wa_cert_verify) -> write_client_finish
 * (encrypts the ClientPayload bytes) -> transport.
 * Server (responder):  read_client_hello -> write_server_hello (with a given CertChain payload)
 * -> read_client_finish (yields the client static key and ClientPayload bytes) -> transport.
 *
 * Transport: per-direction 32-bit counters from 0, nonce = 8 zero bytes || BE32(counter),
 * no AAD, 16-byte tag appended. Any failure (bad message, GCM tag, certificate, counter
 * exhaustion) makes the object unusable: every later call returns the same error, so close
 * the connection. Exception: wa_noise_encrypt/decrypt report a full output buf (-ENOBUFS,
 * -ENOMEM) without consuming a nonce and without failing the handle.
 * The handle owns all key material and wipes it in wa_noise_free(). Not thread-safe.
 */
#pragma once
#include "core/buf.h"
#include "wa/keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WA_NOISE_TAG_LEN           16
#define WA_NOISE_MAX_HANDSHAKE_MSG 65536 /* cap on a serialized HandshakeMessage we accept */
#define WA_NOISE_MAX_PAYLOAD       65536 /* cap on cert-chain / ClientPayload plaintexts */

enum wa_noise_role {
    WA_NOISE_INITIATOR, /* client */
    WA_NOISE_RESPONDER, /* server */
};

struct wa_noise;

/* Debug hook: called with each intermediate value in the order of the `noise.trace` vector
 * (h, dh outputs, ck, k, ciphertexts, split keys). It receives SECRET material: tests only.
 * It must not call back into the handle. */
typedef void (*wa_noise_trace_fn)(void *ud, const char *label, const uint8_t *data, size_t len);

/* New handshake state with our long-term static key pair (copied). NULL on ENOMEM. */
struct wa_noise *wa_noise_new(enum wa_noise_role role, const struct wa_keypair *static_kp);

/* New handle directly in transport mode with the two split keys (tests, fuzzing, resumption
 * of a split done elsewhere). c2s = client->server key. NULL on ENOMEM. */
struct wa_noise *wa_noise_new_transport(enum wa_noise_role role, const uint8_t c2s[32],
                                        const uint8_t s2c[32]);

/* Wipe all keys and free; accepts NULL. */
void wa_noise_free(struct wa_noise *n);

/* Use this ephemeral private key instead of a CSPRNG one (test vectors). Only before our
 * ephemeral is used; -EINVAL otherwise, -EIO on key derivation failure. */
int wa_noise_set_ephemeral(struct wa_noise *n, const uint8_t priv[32])
    __attribute__((warn_unused_result));

/* Initiator: trust root_pub for the server certificate chain and check validity at `now`
 * (unix seconds). Default: wa_cert_root_pubkey and time(NULL) at verification. */
void wa_noise_set_cert_policy(struct wa_noise *n, const uint8_t root_pub[32], uint64_t now);

void wa_noise_set_trace(struct wa_noise *n, wa_noise_trace_fn fn, void *ud);

/* ---- initiator ---- */
/* Append HandshakeMessage{clientHello{ephemeral}} to out. */
int wa_noise_write_client_hello(struct wa_noise *n, struct buf *out)
    __attribute__((warn_unused_result));
/* Process HandshakeMessage{serverHello}. -EBADMSG malformed or GCM failure; cert errors as
 * wa_cert_verify (-EKEYREJECTED, -EKEYEXPIRED, -EBADMSG) with the detail in last_error. */
int wa_noise_read_server_hello(struct wa_noise *n, const uint8_t *msg, size_t len)
    __attribute__((warn_unused_result));
/* Append HandshakeMessage{clientFinish{static, Enc(payload)}} to out, then split. */
int wa_noise_write_client_finish(struct wa_noise *n, const uint8_t *payload, size_t len,
                                 struct buf *out) __attribute__((warn_unused_result));

/* ---- responder ---- */
int wa_noise_read_client_hello(struct wa_noise *n, const uint8_t *msg, size_t len)
    __attribute__((warn_unused_result));
/* Append HandshakeMessage{serverHello{ephemeral, Enc(static), Enc(cert)}} to out. */
int wa_noise_write_server_hello(struct wa_noise *n, const uint8_t *cert, size_t cert_len,
                                struct buf *out) __attribute__((warn_unused_result));
/* Process clientFinish: copy the client static key to client_static and append the
 * decrypted ClientPayload bytes to payload, then split. */
int wa_noise_read_client_finish(struct wa_noise *n, const uint8_t *msg, size_t len,
                                uint8_t client_static[32], struct buf *payload)
    __attribute__((warn_unused_result));

/* ---- both ---- */
/* Peer static key once known (after read_server_hello / read_client_finish), else NULL. */
const uint8_t *wa_noise_remote_static(const struct wa_noise *n);
bool wa_noise_is_transport(const struct wa_noise *n);
/* Transport: append ciphertext||tag (len + 16 bytes) to out. -EINVAL before the split,
 * -EOVERFLOW after 2^32 frames, buf errors (-ENOBUFS) leave the counter unchanged. */
int wa_noise_encrypt(struct wa_noise *n, const uint8_t *pt, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
/* Transport: append the plaintext to out. -EBADMSG on a short frame or GCM failure. */
int wa_noise_decrypt(struct wa_noise *n, const uint8_t *ct, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
/* Human-readable reason for the last failure ("" if none). */
const char *wa_noise_last_error(const struct wa_noise *n);

/* Test hook: set the transport counters (to exercise exhaustion). */
void wa_noise__set_counters(struct wa_noise *n, uint64_t send, uint64_t recv);
