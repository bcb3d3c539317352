/* SPDX-License-Identifier: MIT */
/* sg_crypto.h -- OpenSSL 3 crypto provider for libsignal-protocol-c.
 *
 * libsignal-protocol-c does no cryptography of its own beyond Curve25519; it calls a
 * `signal_crypto_provider` for randomness (RAND_bytes), HMAC-SHA256, SHA-512 and AES
 * (CBC with PKCS#5 padding and CTR without padding; 128/192/256-bit keys). The provider
 * keeps no state: user_data is unused, every context it hands to libsignal is freed by
 * the matching cleanup callback. Callbacks return 0 or a negative SG_ERR_* code.
 */
#pragma once
#include <signal_protocol.h>

/* Fill *p with the OpenSSL-backed provider (user_data = NULL). */
void sg_crypto_provider_init(signal_crypto_provider *p);

/* Create a signal_context with the OpenSSL provider installed. The caller owns *out and
 * frees it with signal_context_destroy(). Returns 0, -ENOMEM, or -EIO. No locking
 * functions are installed: use the context from one thread only. */
int sg_context_create(signal_context **out) __attribute__((warn_unused_result));
