/* SPDX-License-Identifier: MIT */
/* sg_cipher.h -- WhatsApp-level Signal operations: 1:1 sessions, sender-key groups, padding.
 *
 * An `sg_ctx` is one local party: a libsignal store context wired to an sg_store (see
 * sg_store.h) plus the libsignal global context. All operations are synchronous and sans-I/O;
 * each call reads and writes its state only through the store's vtable before returning,
 * so a caller running a store transaction around a call commits exactly that call's effects.
 * On error no record the failed operation would have changed is left modified (libsignal
 * stores after success; a failed pkmsg puts back the peer identity libsignal records before
 * its MAC check), but a transactional store should still roll back on any error. Not thread-safe:
 * serialise calls per ctx.
 *
 * Writes per operation (for transactional stores):
 *   sg_session_from_bundle  save_identity, store_session
 *   sg_encrypt              store_session
 *   sg_decrypt pkmsg        save_identity, store_session, then remove_prekey (one-time key)
 *   sg_decrypt msg          store_session
 *   sg_group_create         store_sender_key (only when a new key is created)
 *   sg_group_process_skdm   store_sender_key
 *   sg_group_encrypt/decrypt store_sender_key
 * (every operation also reads: identity, the session / sender key, pre-keys as needed)
 *
 * Addressing (wa-protocol.md §4.5): a device is {name = user, or "user_<domain type>" when the
 * domain type is not 0; device id}. A sender-key name is {group JID string, sender address}.
 *
 * Outputs are appended to a caller-owned `struct buf` (its cap bounds the output); on any
 * error the buf is left as it was (decrypt: libsignal hands us the plaintext before it
 * stores state, so a full buf fails the call with -ENOBUFS and consumes nothing). Inputs are
 * borrowed for the duration of the call. A human-readable detail of the last failure is kept
 * on the ctx (sg_ctx_last_error). Nothing here logs.
 *
 * Errors: every function returns 0 (or a documented positive value) or a negative code.
 * The decryption-failure kinds are distinct so callers can choose between a retry receipt
 * and "already processed" (wa-protocol.md §7.3 step 6):
 */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

#include "core/buf.h"
#include "signal/sg_keys.h"
#include "signal/sg_store.h"

#define SG_E_NO_SESSION -ENOENT       /* no session / no sender key for that address */
#define SG_E_BAD_MAC    -EBADMSG      /* authentication failed: bad MAC, bad signature, bad key */
#define SG_E_DUPLICATE  -EALREADY     /* message key already used (old counter / iteration) */
#define SG_E_NO_PREKEY  -ENOKEY       /* pkmsg names a pre-key / signed pre-key we do not have */
#define SG_E_UNTRUSTED  -EKEYREJECTED /* identity differs from the recorded one (TOFU policy) */
#define SG_E_MALFORMED  -EPROTO       /* not a parseable message of that type / version */
#define SG_E_TOO_BIG    -EMSGSIZE     /* input larger than SG_MAX_MESSAGE */
/* Other negatives: -EINVAL (bad argument), -ENOMEM, -ENOBUFS (output buf cap), -EIO (crypto
 * provider or corrupt stored record), or an errno returned by the store (e.g. -ENOSPC from
 * a full sg_memstore, -ENODATA when the store has no local identity). */

#define SG_MAX_MESSAGE (1u << 20) /* cap on any ciphertext or plaintext handled here */
#define SG_USER_MAX    128        /* longest user part of an address */
#define SG_NAME_MAX    (SG_USER_MAX + 12)
#define SG_GROUP_MAX   256 /* longest group JID string */

/* Wire message types: values as libsignal's ciphertext types; names as <enc type='...'>. */
enum sg_msg_type { SG_MSG = 2, SG_PKMSG = 3, SG_SKMSG = 4 };

/* "msg", "pkmsg", "skmsg" (NULL for others). */
const char *sg_msg_type_name(enum sg_msg_type t);
/* Parse an <enc type> attribute; 0 or -EINVAL. */
int sg_msg_type_parse(const char *s, enum sg_msg_type *out);

/* A Signal address (value type; copy freely). */
struct sg_address {
    char name[SG_NAME_MAX + 1]; /* NUL-terminated */
    size_t name_len;
    int32_t device;
};

/* Build an address from a JID's parts: user (non-empty, no NUL, ≤ SG_USER_MAX bytes, no
 * '_' suffix added when domain_type is 0), domain type (0 = s.whatsapp.net, 1 = lid,
 * 128/129 = hosted), device (0..INT32_MAX). 0 or -EINVAL. */
int sg_address_make(struct sg_address *out, const char *user, unsigned domain_type, uint32_t device)
    __attribute__((warn_unused_result));
/* "name.device" (Baileys' form) into out; returns length or -ENOBUFS. */
int sg_address_str(const struct sg_address *a, char *out, size_t outsz);

struct sg_ctx;

/* Create a party. `sig` is borrowed (shared between parties is fine; one thread) and `st`
 * is copied (its ud must outlive the ctx). 0, -ENOMEM. */
int sg_ctx_new(struct sg_ctx **out, signal_context *sig, const struct sg_store *st)
    __attribute__((warn_unused_result));
void sg_ctx_free(struct sg_ctx *c);
signal_context *sg_ctx_signal(const struct sg_ctx *c);
/* The key-store interface the context was created with (its copy; valid while c lives). */
const struct sg_store *sg_ctx_store(const struct sg_ctx *c);
/* Human-readable detail of the last failure ("" if none). */
const char *sg_ctx_last_error(const struct sg_ctx *c);

/* ---- 1:1 ---- */

/* 1 if a session with `a` exists, 0 if not, negative on store error. */
int sg_has_session(struct sg_ctx *c, const struct sg_address *a);
/* Forget the session with `a` (e.g. identity change, forced re-creation). 0 or negative. */
int sg_delete_session(struct sg_ctx *c, const struct sg_address *a);

/* X3DH as initiator from a fetched bundle for device `a`: verifies the signed pre-key
 * signature (SG_E_BAD_MAC if wrong), records the identity, stores the new session (an
 * existing one is archived by libsignal). Subsequent sg_encrypt produces pkmsg until the
 * peer answers. */
int sg_session_from_bundle(struct sg_ctx *c, const struct sg_address *a, const struct sg_bundle *b)
    __attribute__((warn_unused_result));

/* Encrypt (already padded) plaintext for `a`; appends the ciphertext to `out` and sets
 * *type to SG_PKMSG or SG_MSG. SG_E_NO_SESSION if there is no session. */
int sg_encrypt(struct sg_ctx *c, const struct sg_address *a, const uint8_t *pt, size_t len,
               enum sg_msg_type *type, struct buf *out) __attribute__((warn_unused_result));

/* Decrypt a pkmsg or msg from `a`; appends the (still padded) plaintext to `out`.
 * Identities: trusted per the store's policy and recorded. Errors: SG_E_NO_SESSION,
 * SG_E_BAD_MAC, SG_E_DUPLICATE, SG_E_NO_PREKEY, SG_E_UNTRUSTED, SG_E_MALFORMED, SG_E_TOO_BIG
 * (and -EINVAL for SG_SKMSG). */
int sg_decrypt(struct sg_ctx *c, const struct sg_address *a, enum sg_msg_type type,
               const uint8_t *ct, size_t len, struct buf *out) __attribute__((warn_unused_result));

/* ---- groups (sender keys) ---- */

/* Our sender key for `group` as `self`: created if absent (random key id, chain key and
 * signing key, iteration 0); appends the SenderKeyDistributionMessage bytes to skdm. */
int sg_group_create(struct sg_ctx *c, const char *group, const struct sg_address *self,
                    struct buf *skdm) __attribute__((warn_unused_result));
/* Process a received SKDM for (group, sender). SG_E_MALFORMED if unparseable. */
int sg_group_process_skdm(struct sg_ctx *c, const char *group, const struct sg_address *sender,
                          const uint8_t *skdm, size_t len) __attribute__((warn_unused_result));
/* Encrypt (padded) plaintext with our sender key; appends the skmsg bytes.
 * SG_E_NO_SESSION if sg_group_create was never called for (group, self). */
int sg_group_encrypt(struct sg_ctx *c, const char *group, const struct sg_address *self,
                     const uint8_t *pt, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
/* Decrypt an skmsg from (group, sender); appends the plaintext. SG_E_NO_SESSION (no sender
 * key), SG_E_DUPLICATE, SG_E_BAD_MAC (bad signature / unknown key id), SG_E_MALFORMED. */
int sg_group_decrypt(struct sg_ctx *c, const char *group, const struct sg_address *sender,
                     const uint8_t *ct, size_t len, struct buf *out)
    __attribute__((warn_unused_result));

/* ---- WhatsApp padding (v='2', wa-protocol.md §7.3 step 4) ---- */

/* Append n bytes each equal to n (n in 1..16). */
int sg_pad_n(struct buf *b, unsigned n) __attribute__((warn_unused_result));
/* Append a random n in 1..16 bytes each equal to n. */
int sg_pad(struct buf *b) __attribute__((warn_unused_result));
/* Strict unpadding: last byte n ≥ 1, n ≤ len, the last n bytes all equal n. Sets *out_len
 * to len - n. 0 or -EBADMSG. */
int sg_unpad(const uint8_t *p, size_t len, size_t *out_len) __attribute__((warn_unused_result));

/* Map a libsignal SG_ERR_* (or encoded store error) to this module's codes. */
int sg_map_error(int sg_err);
/* Short name of an error code returned here. */
const char *sg_strerror(int rc);
