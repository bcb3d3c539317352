/* SPDX-License-Identifier: MIT */
/* sg_store.h -- the Signal key-store interface (a vtable) and its adapter to libsignal.
 *
 * Everything libsignal-protocol-c reads or writes goes through one `struct sg_store_ops`
 * table: our identity, sessions by address, one-time and signed pre-keys, sender keys and
 * the identities of peers. Records are opaque byte strings (libsignal serialisations) that
 * the store keeps verbatim, so a store never needs to understand them.
 *
 * Contract for implementations
 *  - Calls are synchronous and happen only inside the sg_* call that triggered them (see
 *    sg_cipher.h for which writes each operation performs). Nothing is cached between calls
 *    by this layer, so a SQLite store may run them inside the caller's open transaction and
 *    the caller commits (or rolls back on error) after the sg_* call returns.
 *  - Addresses: `signal_protocol_address` {name, name_len, device_id}; `name` is NOT
 *    NUL-terminated (use name_len). Sender-key names add {group_id, group_id_len}.
 *  - Load functions: return 1 and set *out to a NEW signal_buffer (signal_buffer_create)
 *    whose ownership passes to the caller, 0 if absent (*out untouched), or a negative errno.
 *  - Store functions copy the bytes they are given (the caller keeps ownership); 0 or a
 *    negative errno (-ENOSPC when a capacity limit is reached, -ENOBUFS if too large).
 *  - Remove/delete functions: 1 if something was removed, 0 if absent, negative errno.
 *  - Errors are errno-style negatives; this layer reports them unchanged to its caller.
 *  - Public keys given to/returned by the store are raw 32 bytes.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

#include "signal/sg_keys.h"

/* Identity policy. Both WhatsApp clients trust any identity (wa-protocol.md §7.3): the new
 * key is recorded and the session proceeds. SG_TRUST_TOFU rejects a key that differs from the
 * recorded one (the operation then fails with SG_E_UNTRUSTED, see sg_cipher.h). */
enum sg_trust { SG_TRUST_ANY = 0, SG_TRUST_TOFU = 1 };

struct sg_store_ops {
    /* Our identity key pair and registration id. 0, or -ENODATA when none is set. */
    int (*get_local_identity)(void *ud, struct sg_identity *out);

    int (*load_session)(void *ud, const signal_protocol_address *a, signal_buffer **out);
    int (*store_session)(void *ud, const signal_protocol_address *a, const uint8_t *rec,
                         size_t len);
    int (*delete_session)(void *ud, const signal_protocol_address *a);
    /* Delete every device of `name`; returns the number deleted or a negative errno. */
    int (*delete_all_sessions)(void *ud, const char *name, size_t name_len);
    /* Append the ids of all devices of `name` that have a session to `out` (libsignal-owned
     * list); returns the number appended or a negative errno. */
    int (*list_session_devices)(void *ud, const char *name, size_t name_len, signal_int_list *out);

    int (*load_prekey)(void *ud, uint32_t id, signal_buffer **out);
    int (*store_prekey)(void *ud, uint32_t id, const uint8_t *rec, size_t len);
    int (*remove_prekey)(void *ud, uint32_t id);

    int (*load_signed_prekey)(void *ud, uint32_t id, signal_buffer **out);
    int (*store_signed_prekey)(void *ud, uint32_t id, const uint8_t *rec, size_t len);
    int (*remove_signed_prekey)(void *ud, uint32_t id);

    int (*load_sender_key)(void *ud, const signal_protocol_sender_key_name *n, signal_buffer **out);
    int (*store_sender_key)(void *ud, const signal_protocol_sender_key_name *n, const uint8_t *rec,
                            size_t len);

    /* Peers' identity keys (raw 32 bytes). load: 1 found / 0 absent / negative errno.
     * save with key == NULL forgets the key. */
    int (*load_identity)(void *ud, const signal_protocol_address *a, uint8_t key[SG_KEY_LEN]);
    int (*save_identity)(void *ud, const signal_protocol_address *a, const uint8_t key[SG_KEY_LEN]);
};

/* A store instance: operations + their user data + the identity policy. */
struct sg_store {
    const struct sg_store_ops *ops;
    void *ud;
    enum sg_trust trust;
};

/* Store errors cross libsignal encoded below SG_ERR_MINIMUM so that they cannot be confused
 * with libsignal's own codes; sg_store_decode_error() turns them back into errno values. */
#define SG_STORE_ERR_BASE (-10000)

/* If rc is an encoded store error, return the original negative errno; else return rc. */
int sg_store_decode_error(int rc);

/* Install adapters for `st` into libsignal's store context. `st` is borrowed and must
 * outlive `sc`. Returns 0 or -ENOMEM. */
int sg_store_install(signal_protocol_store_context *sc, const struct sg_store *st)
    __attribute__((warn_unused_result));

/* Persist our key material through the store (records serialised by sg_keys). */
int sg_store_put_prekeys(signal_context *sig, const struct sg_store *st,
                         const struct sg_prekey *pks, size_t n) __attribute__((warn_unused_result));
int sg_store_put_signed_prekey(signal_context *sig, const struct sg_store *st,
                               const struct sg_signed_prekey *spk)
    __attribute__((warn_unused_result));
/* Read a one-time pre-key back (1 found, 0 absent, negative errno; -EPROTO if corrupt). */
int sg_store_get_prekey(signal_context *sig, const struct sg_store *st, uint32_t id,
                        struct sg_prekey *out) __attribute__((warn_unused_result));
