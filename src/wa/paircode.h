/* SPDX-License-Identifier: MIT */
/* paircode.h -- sans-I/O pairing with a phone-number code ("link with phone number",
 * wa-protocol.md §5.5; docs/wa-notes.md "Pairing codes").
 *
 * The exchange, companion side:
 *   1. code = 8 chars of the alphabet WA_PAIRCODE_ALPHABET from 5 random bytes (5-bit groups,
 *      MSB first); a fresh X25519 "pairing ephemeral" key pair.
 *   2. companion_hello: <link_code_companion_reg jid=<phone>@s.whatsapp.net stage=companion_hello
 *      should_show_push_notification=true> with the wrapped ephemeral
 *      salt(32) || iv(16) || AES-256-CTR(PBKDF2-HMAC-SHA256(code, salt, 131072, 32), iv, pub),
 *      our noise public key, platform id and display, nonce "0". The iq result may carry
 *      <link_code_pairing_ref>.
 *   3. The phone (after the user typed the code) sends <notification type=link_code_companion_reg>
 *      with link_code_pairing_ref, the primary's wrapped ephemeral (same wrapping) and
 *      primary_identity_pub.
 *   4. shared = X25519(ephemeral, primary ephemeral); bundle key = HKDF-SHA256(shared, salt S,
 *      "link_code_pairing_key_bundle_encryption_key"); bundle = S || nonce(12) ||
 *      AES-256-GCM(our identity pub || primary identity pub || R(32)) = 156 bytes; the new ADV
 *      secret = HKDF-SHA256(shared || X25519(identity, primary identity) || R, no salt,
 *      "adv_secret"). companion_finish carries the bundle, our identity pub and the ref.
 *   5. The server sends the ordinary pair-success (wa/pairing.h), HMACed with that ADV secret.
 *
 * Nothing here does I/O or draws randomness: every random input is a parameter, so the
 * functions reproduce tests/fixtures/paircode-vectors.json (made with Baileys' own functions).
 * The primary-side helpers (wrap, bundle_open, adv secret) serve the fake server too.
 *
 * Errors: -EINVAL (bad argument: code not 8 alphabet chars, phone not 7-15 digits),
 * -EBADMSG (peer data malformed: missing child, wrong size), -EKEYREJECTED (GCM tag or a
 * low-order key: in practice a wrong code), -EIO (crypto library failure), -ENOMEM.
 * Secrets (code keys, shared secrets, private keys) are wiped from the stack before return.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "wa/keys.h"
#include "wa/node.h"

#define WA_PAIRCODE_ALPHABET    "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
#define WA_PAIRCODE_LEN         8      /* characters */
#define WA_PAIRCODE_RAW_LEN     5      /* random bytes behind a code */
#define WA_PAIRCODE_PBKDF2_ITER 131072 /* 2 << 16, as both anchors */
#define WA_PAIRCODE_WRAPPED_LEN 80     /* salt 32 || iv 16 || ciphertext 32 */
#define WA_PAIRCODE_BUNDLE_LEN  156    /* salt 32 || nonce 12 || ciphertext 96 || tag 16 */
#define WA_PAIRCODE_PHONE_MAX   15     /* E.164 digits */
#define WA_PAIRCODE_REF_MAX     256    /* cap on link_code_pairing_ref */

/* The 8 code characters for 5 bytes, NUL-terminated into out[9]. */
void wa_paircode_code(const uint8_t raw[WA_PAIRCODE_RAW_LEN], char out[WA_PAIRCODE_LEN + 1]);
/* Normalise what a user typed: upper-case, '-' and spaces dropped; must then be 8 alphabet
 * characters. 0 or -EINVAL. */
int wa_paircode_normalize(const char *in, char out[WA_PAIRCODE_LEN + 1]);
/* "ABCD-EFGH" (as WhatsApp shows it) into out[10]. */
void wa_paircode_display(const char code[WA_PAIRCODE_LEN + 1], char out[WA_PAIRCODE_LEN + 2]);
/* "+1 555-000 1234" -> "15550001234" (digits only, 7..15 of them, no leading 0; '+', spaces,
 * '-', '.', '(' and ')' are dropped). 0 or -EINVAL. */
int wa_paircode_phone(const char *in, char out[WA_PAIRCODE_PHONE_MAX + 1]);

/* PBKDF2-HMAC-SHA256(code, salt, WA_PAIRCODE_PBKDF2_ITER) -> key. 0, -EINVAL, -EIO. */
int wa_paircode_key(const char *code, const uint8_t salt[32], uint8_t key[32]);
/* salt || iv || AES-256-CTR(code key, iv, pub) into out. 0, -EINVAL, -EIO. */
int wa_paircode_wrap(const char *code, const uint8_t salt[32], const uint8_t iv[16],
                     const uint8_t pub[32], uint8_t out[WA_PAIRCODE_WRAPPED_LEN]);
/* The inverse on peer bytes (len >= 80; only the first 80 are used, as the anchors do).
 * 0, -EINVAL, -EBADMSG (short), -EIO. A wrong code yields a wrong key, not an error. */
int wa_paircode_unwrap(const char *code, const uint8_t *in, size_t len, uint8_t pub[32]);

/* HKDF-SHA256 bundle key from the ephemeral shared secret and the bundle salt. */
int wa_paircode_bundle_key(const uint8_t shared[32], const uint8_t salt[32], uint8_t key[32]);
/* The 156-byte wrapped key bundle. 0 or -EIO. */
int wa_paircode_bundle(const uint8_t shared[32], const uint8_t salt[32], const uint8_t iv[12],
                       const uint8_t our_ident[32], const uint8_t primary_ident[32],
                       const uint8_t random[32], uint8_t out[WA_PAIRCODE_BUNDLE_LEN]);
/* Primary side: decrypt a wrapped bundle into companion ident, primary ident, random.
 * 0, -EBADMSG (size), -EKEYREJECTED (tag: the shared secrets differ, i.e. a wrong code). */
int wa_paircode_bundle_open(const uint8_t shared[32], const uint8_t *in, size_t len,
                            uint8_t companion_ident[32], uint8_t primary_ident[32],
                            uint8_t random[32]);
/* ADV secret = HKDF-SHA256(shared || identity_shared || random, "", "adv_secret"). */
int wa_paircode_adv_secret(const uint8_t shared[32], const uint8_t identity_shared[32],
                           const uint8_t random[32], uint8_t out[32]);

/* ---- the companion's two stanzas and the notification ---- */

/* A pending code pairing (what the companion keeps between hello and finish). */
struct wa_paircode {
    char code[WA_PAIRCODE_LEN + 1];
    char phone[WA_PAIRCODE_PHONE_MAX + 1]; /* digits */
    struct wa_keypair eph;                 /* pairing ephemeral */
    uint8_t ref[WA_PAIRCODE_REF_MAX];      /* from the hello result; may stay empty */
    size_t ref_len;
};

/* Random inputs of the hello. */
struct wa_paircode_hello_rand {
    uint8_t code[WA_PAIRCODE_RAW_LEN];
    uint8_t eph_priv[32];
    uint8_t salt[32];
    uint8_t iv[16];
};

/* Fill *pc for phone (normalised by wa_paircode_phone) and build the
 * <link_code_companion_reg stage=companion_hello> child (into *out; caller wraps it in
 * <iq to=s.whatsapp.net type=set xmlns=md>). platform_display is "<Browser> (<OS>)".
 * 0, -EINVAL, -EIO, -ENOMEM. */
int wa_paircode_hello(struct wa_paircode *pc, const char *phone,
                      const struct wa_paircode_hello_rand *r, const uint8_t noise_pub[32],
                      const char *platform_id, const char *platform_display, struct wa_node **out)
    __attribute__((warn_unused_result));

/* The parts of wa_paircode_hello, for a caller that runs the slow PBKDF2 (the wrap) off its
 * event loop: init fills *pc (code, phone, ephemeral; fast), hello_node builds the child from
 * the wrapped key (wa_paircode_wrap of pc->eph.pub under pc->code). */
int wa_paircode_init(struct wa_paircode *pc, const char *phone,
                     const uint8_t code_raw[WA_PAIRCODE_RAW_LEN], const uint8_t eph_priv[32])
    __attribute__((warn_unused_result));
int wa_paircode_hello_node(const struct wa_paircode *pc,
                           const uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN],
                           const uint8_t noise_pub[32], const char *platform_id,
                           const char *platform_display, struct wa_node **out)
    __attribute__((warn_unused_result));

/* The hello's iq result: keep <link_code_companion_reg><link_code_pairing_ref> if present.
 * 0 (also when absent), -EBADMSG (longer than WA_PAIRCODE_REF_MAX). */
int wa_paircode_hello_result(struct wa_paircode *pc, const struct wa_node *iq);

/* The primary's part, from a <notification type=link_code_companion_reg>. */
struct wa_paircode_primary {
    uint8_t ref[WA_PAIRCODE_REF_MAX];
    size_t ref_len;
    uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN];
    uint8_t identity[32];
};

/* Parse the notification (peer-controlled): the child link_code_companion_reg with
 * link_code_pairing_ref (1..WA_PAIRCODE_REF_MAX bytes), link_code_pairing_wrapped_primary_
 * ephemeral_pub (>= 80 bytes) and primary_identity_pub (32). 0 or -EBADMSG. */
int wa_paircode_parse_notification(const struct wa_node *n, struct wa_paircode_primary *out)
    __attribute__((warn_unused_result));

/* Random inputs of the finish. */
struct wa_paircode_finish_rand {
    uint8_t salt[32];
    uint8_t iv[12];
    uint8_t random[32];
};

/* Unwrap the primary ephemeral, derive the bundle and the new ADV secret, build the
 * <link_code_companion_reg stage=companion_finish> child. -EBADMSG when the notification's
 * ref differs from a ref the hello result gave, -EKEYREJECTED for a low-order point,
 * -EIO, -ENOMEM. */
int wa_paircode_finish(const struct wa_paircode *pc, const struct wa_keypair *identity,
                       const struct wa_paircode_primary *p, const struct wa_paircode_finish_rand *r,
                       uint8_t adv_secret[32], struct wa_node **out)
    __attribute__((warn_unused_result));

/* wa_paircode_finish without its PBKDF2: primary_eph is wa_paircode_unwrap of p->wrapped
 * under pc->code (done elsewhere, e.g. on a worker thread). Errors as wa_paircode_finish. */
int wa_paircode_finish_unwrapped(const struct wa_paircode *pc, const struct wa_keypair *identity,
                                 const struct wa_paircode_primary *p, const uint8_t primary_eph[32],
                                 const struct wa_paircode_finish_rand *r, uint8_t adv_secret[32],
                                 struct wa_node **out) __attribute__((warn_unused_result));

/* Each PBKDF2 (key, wrap, unwrap, hello, finish) costs 131072 HMAC-SHA256 rounds: tens of
 * milliseconds. An event loop should run them on a worker (wa/pairphone.c does).
 *
 * Zero a pending pairing. */
void wa_paircode_wipe(struct wa_paircode *pc);
