/* SPDX-License-Identifier: MIT */
/* sg_store.c -- adapters from libsignal-protocol-c's store callbacks to struct sg_store_ops. */
#include "signal/sg_store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#define ST(ud) ((const struct sg_store *)(ud))

/* Encode a store errno for libsignal (keeps libsignal's own codes apart). */
static int enc(int rc)
{
    return rc < 0 ? SG_STORE_ERR_BASE + rc : rc;
}

int sg_store_decode_error(int rc)
{
    if (rc <= SG_STORE_ERR_BASE - 1 && rc > SG_STORE_ERR_BASE - 4096) return rc - SG_STORE_ERR_BASE;
    return rc;
}

/* ---- identity ---- */

static int a_get_identity_key_pair(signal_buffer **pub, signal_buffer **priv, void *ud)
{
    struct sg_identity id;
    int rc = ST(ud)->ops->get_local_identity(ST(ud)->ud, &id);
    if (rc < 0) return enc(rc);
    uint8_t ser[SG_PUBKEY_SER_LEN];
    sg_pubkey_serialize(id.kp.pub, ser);
    *pub = signal_buffer_create(ser, sizeof ser);
    *priv = signal_buffer_create(id.kp.priv, SG_KEY_LEN);
    OPENSSL_cleanse(&id, sizeof id);
    if (!*pub || !*priv) {
        signal_buffer_free(*pub);
        signal_buffer_bzero_free(*priv);
        *pub = *priv = NULL;
        return SG_ERR_NOMEM;
    }
    return 0;
}

static int a_get_local_registration_id(void *ud, uint32_t *reg)
{
    struct sg_identity id;
    int rc = ST(ud)->ops->get_local_identity(ST(ud)->ud, &id);
    if (rc < 0) return enc(rc);
    *reg = id.registration_id;
    OPENSSL_cleanse(&id, sizeof id);
    return 0;
}

static int a_save_identity(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
    uint8_t raw[SG_KEY_LEN];
    if (!key) return enc(ST(ud)->ops->save_identity(ST(ud)->ud, a, NULL));
    if (sg_pubkey_parse(key, len, raw) < 0) return SG_ERR_INVALID_KEY;
    return enc(ST(ud)->ops->save_identity(ST(ud)->ud, a, raw));
}

static int a_is_trusted_identity(const signal_protocol_address *a, uint8_t *key, size_t len,
                                 void *ud)
{
    uint8_t raw[SG_KEY_LEN], known[SG_KEY_LEN];
    if (sg_pubkey_parse(key, len, raw) < 0) return SG_ERR_INVALID_KEY;
    if (ST(ud)->trust == SG_TRUST_ANY) return 1;
    int rc = ST(ud)->ops->load_identity(ST(ud)->ud, a, known);
    if (rc < 0) return enc(rc);
    return rc == 0 || memcmp(known, raw, SG_KEY_LEN) == 0;
}

/* ---- sessions ---- */

static int a_load_session(signal_buffer **rec, signal_buffer **user,
                          const signal_protocol_address *a, void *ud)
{
    return enc(ST(ud)->ops->load_session(ST(ud)->ud, a, rec));
}

static int a_sub_device_sessions(signal_int_list **out, const char *name, size_t len, void *ud)
{
    signal_int_list *l = signal_int_list_alloc();
    if (!l) return SG_ERR_NOMEM;
    int rc = ST(ud)->ops->list_session_devices(ST(ud)->ud, name, len, l);
    if (rc < 0) {
        signal_int_list_free(l);
        return enc(rc);
    }
    *out = l;
    return (int)signal_int_list_size(l);
}

static int a_store_session(const signal_protocol_address *a, uint8_t *rec, size_t len,
                           uint8_t *user, size_t ulen, void *ud)
{
    return enc(ST(ud)->ops->store_session(ST(ud)->ud, a, rec, len));
}

static int a_contains_session(const signal_protocol_address *a, void *ud)
{
    signal_buffer *b = NULL;
    int rc = ST(ud)->ops->load_session(ST(ud)->ud, a, &b);
    if (rc > 0) signal_buffer_free(b);
    return rc < 0 ? enc(rc) : rc > 0;
}

static int a_delete_session(const signal_protocol_address *a, void *ud)
{
    return enc(ST(ud)->ops->delete_session(ST(ud)->ud, a));
}

static int a_delete_all_sessions(const char *name, size_t len, void *ud)
{
    return enc(ST(ud)->ops->delete_all_sessions(ST(ud)->ud, name, len));
}

/* ---- pre-keys ---- */

static int a_load_pre_key(signal_buffer **rec, uint32_t id, void *ud)
{
    int rc = ST(ud)->ops->load_prekey(ST(ud)->ud, id, rec);
    if (rc < 0) return enc(rc);
    return rc == 0 ? SG_ERR_INVALID_KEY_ID : SG_SUCCESS;
}

static int a_store_pre_key(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
    return enc(ST(ud)->ops->store_prekey(ST(ud)->ud, id, rec, len));
}

static int a_contains_pre_key(uint32_t id, void *ud)
{
    signal_buffer *b = NULL;
    int rc = ST(ud)->ops->load_prekey(ST(ud)->ud, id, &b);
    if (rc > 0) signal_buffer_bzero_free(b);
    return rc < 0 ? enc(rc) : rc > 0;
}

static int a_remove_pre_key(uint32_t id, void *ud)
{
    int rc = ST(ud)->ops->remove_prekey(ST(ud)->ud, id);
    return rc < 0 ? enc(rc) : 0;
}

static int a_load_signed_pre_key(signal_buffer **rec, uint32_t id, void *ud)
{
    int rc = ST(ud)->ops->load_signed_prekey(ST(ud)->ud, id, rec);
    if (rc < 0) return enc(rc);
    return rc == 0 ? SG_ERR_INVALID_KEY_ID : SG_SUCCESS;
}

static int a_store_signed_pre_key(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
    return enc(ST(ud)->ops->store_signed_prekey(ST(ud)->ud, id, rec, len));
}

static int a_contains_signed_pre_key(uint32_t id, void *ud)
{
    signal_buffer *b = NULL;
    int rc = ST(ud)->ops->load_signed_prekey(ST(ud)->ud, id, &b);
    if (rc > 0) signal_buffer_bzero_free(b);
    return rc < 0 ? enc(rc) : rc > 0;
}

static int a_remove_signed_pre_key(uint32_t id, void *ud)
{
    int rc = ST(ud)->ops->remove_signed_prekey(ST(ud)->ud, id);
    return rc < 0 ? enc(rc) : 0;
}

/* ---- sender keys ---- */

static int a_store_sender_key(const signal_protocol_sender_key_name *n, uint8_t *rec, size_t len,
                              uint8_t *user, size_t ulen, void *ud)
{
    return enc(ST(ud)->ops->store_sender_key(ST(ud)->ud, n, rec, len));
}

static int a_load_sender_key(signal_buffer **rec, signal_buffer **user,
                             const signal_protocol_sender_key_name *n, void *ud)
{
    return enc(ST(ud)->ops->load_sender_key(ST(ud)->ud, n, rec));
}

int sg_store_install(signal_protocol_store_context *sc, const struct sg_store *st)
{
    void *ud = (void *)st;
    signal_protocol_session_store ss = {
        .load_session_func = a_load_session,
        .get_sub_device_sessions_func = a_sub_device_sessions,
        .store_session_func = a_store_session,
        .contains_session_func = a_contains_session,
        .delete_session_func = a_delete_session,
        .delete_all_sessions_func = a_delete_all_sessions,
        .user_data = ud,
    };
    signal_protocol_pre_key_store pk = {
        .load_pre_key = a_load_pre_key,
        .store_pre_key = a_store_pre_key,
        .contains_pre_key = a_contains_pre_key,
        .remove_pre_key = a_remove_pre_key,
        .user_data = ud,
    };
    signal_protocol_signed_pre_key_store spk = {
        .load_signed_pre_key = a_load_signed_pre_key,
        .store_signed_pre_key = a_store_signed_pre_key,
        .contains_signed_pre_key = a_contains_signed_pre_key,
        .remove_signed_pre_key = a_remove_signed_pre_key,
        .user_data = ud,
    };
    signal_protocol_identity_key_store ik = {
        .get_identity_key_pair = a_get_identity_key_pair,
        .get_local_registration_id = a_get_local_registration_id,
        .save_identity = a_save_identity,
        .is_trusted_identity = a_is_trusted_identity,
        .user_data = ud,
    };
    signal_protocol_sender_key_store sk = {
        .store_sender_key = a_store_sender_key,
        .load_sender_key = a_load_sender_key,
        .user_data = ud,
    };
    if (signal_protocol_store_context_set_session_store(sc, &ss) < 0 ||
        signal_protocol_store_context_set_pre_key_store(sc, &pk) < 0 ||
        signal_protocol_store_context_set_signed_pre_key_store(sc, &spk) < 0 ||
        signal_protocol_store_context_set_identity_key_store(sc, &ik) < 0 ||
        signal_protocol_store_context_set_sender_key_store(sc, &sk) < 0)
        return -ENOMEM;
    return 0;
}

int sg_store_put_prekeys(signal_context *sig, const struct sg_store *st,
                         const struct sg_prekey *pks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        signal_buffer *b = NULL;
        int rc = sg_prekey_record(sig, &pks[i], &b);
        if (rc == 0)
            rc = st->ops->store_prekey(st->ud, pks[i].id, signal_buffer_data(b),
                                       signal_buffer_len(b));
        signal_buffer_bzero_free(b);
        if (rc < 0) return rc;
    }
    return 0;
}

int sg_store_put_signed_prekey(signal_context *sig, const struct sg_store *st,
                               const struct sg_signed_prekey *spk)
{
    signal_buffer *b = NULL;
    int rc = sg_signed_prekey_record(sig, spk, &b);
    if (rc == 0)
        rc = st->ops->store_signed_prekey(st->ud, spk->id, signal_buffer_data(b),
                                          signal_buffer_len(b));
    signal_buffer_bzero_free(b);
    return rc;
}

int sg_store_get_prekey(signal_context *sig, const struct sg_store *st, uint32_t id,
                        struct sg_prekey *out)
{
    signal_buffer *b = NULL;
    int rc = st->ops->load_prekey(st->ud, id, &b);
    if (rc <= 0) return rc;
    rc = sg_prekey_from_record(sig, signal_buffer_data(b), signal_buffer_len(b), out);
    signal_buffer_bzero_free(b);
    return rc < 0 ? rc : 1;
}
