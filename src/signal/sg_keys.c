/* SPDX-License-Identifier: MIT */
/* sg_keys.c -- key generation, import, signatures and pre-key records for the Signal layer. */
#include "signal/sg_keys.h"

#include <curve.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <session_pre_key.h>
#include <string.h>
#include <time.h>

void sg_key_clamp(uint8_t priv[SG_KEY_LEN])
{
    priv[0] &= 248;
    priv[31] &= 127;
    priv[31] |= 64;
}

void sg_pubkey_serialize(const uint8_t pub[SG_KEY_LEN], uint8_t out[SG_PUBKEY_SER_LEN])
{
    out[0] = SG_KEY_TYPE_DJB;
    memcpy(out + 1, pub, SG_KEY_LEN);
}

int sg_pubkey_parse(const uint8_t *in, size_t len, uint8_t out[SG_KEY_LEN])
{
    if (len == SG_KEY_LEN) {
        memcpy(out, in, SG_KEY_LEN);
        return 0;
    }
    if (len == SG_PUBKEY_SER_LEN && in[0] == SG_KEY_TYPE_DJB) {
        memcpy(out, in + 1, SG_KEY_LEN);
        return 0;
    }
    return -EINVAL;
}

int sg_pubkey_to_ec(signal_context *sig, const uint8_t pub[SG_KEY_LEN], ec_public_key **out)
{
    uint8_t ser[SG_PUBKEY_SER_LEN];
    sg_pubkey_serialize(pub, ser);
    int rc = curve_decode_point(out, ser, sizeof ser, sig);
    return rc < 0 ? (rc == SG_ERR_NOMEM ? -ENOMEM : -EINVAL) : 0;
}

int sg_privkey_to_ec(signal_context *sig, const uint8_t priv[SG_KEY_LEN], ec_private_key **out)
{
    int rc = curve_decode_private_point(out, priv, SG_KEY_LEN, sig);
    return rc < 0 ? (rc == SG_ERR_NOMEM ? -ENOMEM : -EINVAL) : 0;
}

int sg_keypair_to_ec(signal_context *sig, const struct sg_keypair *kp, ec_key_pair **out)
{
    ec_public_key *pub = NULL;
    ec_private_key *priv = NULL;
    int rc = sg_pubkey_to_ec(sig, kp->pub, &pub);
    if (rc == 0) rc = sg_privkey_to_ec(sig, kp->priv, &priv);
    if (rc == 0 && ec_key_pair_create(out, pub, priv) < 0) rc = -ENOMEM;
    SIGNAL_UNREF(pub);
    SIGNAL_UNREF(priv);
    return rc;
}

/* Copy the 32 raw bytes of a libsignal public key. */
static int ec_pub_raw(const ec_public_key *k, uint8_t out[SG_KEY_LEN])
{
    signal_buffer *b = NULL;
    if (ec_public_key_serialize(&b, k) < 0) return -ENOMEM;
    int rc = sg_pubkey_parse(signal_buffer_data(b), signal_buffer_len(b), out);
    signal_buffer_free(b);
    return rc;
}

static int ec_priv_raw(const ec_private_key *k, uint8_t out[SG_KEY_LEN])
{
    signal_buffer *b = NULL;
    if (ec_private_key_serialize(&b, k) < 0) return -ENOMEM;
    int rc = -EINVAL;
    if (signal_buffer_len(b) == SG_KEY_LEN) {
        memcpy(out, signal_buffer_data(b), SG_KEY_LEN);
        rc = 0;
    }
    signal_buffer_bzero_free(b);
    return rc;
}

int sg_keypair_from_private(signal_context *sig, const uint8_t priv[SG_KEY_LEN],
                            struct sg_keypair *out)
{
    struct sg_keypair kp;
    memcpy(kp.priv, priv, SG_KEY_LEN);
    sg_key_clamp(kp.priv);
    ec_private_key *k = NULL;
    ec_public_key *pub = NULL;
    int rc = sg_privkey_to_ec(sig, kp.priv, &k);
    if (rc == 0 && curve_generate_public_key(&pub, k) < 0) rc = -ENOMEM;
    if (rc == 0) rc = ec_pub_raw(pub, kp.pub);
    SIGNAL_UNREF(pub);
    SIGNAL_UNREF(k);
    if (rc == 0) *out = kp;
    OPENSSL_cleanse(&kp, sizeof kp);
    return rc;
}

int sg_keypair_generate(signal_context *sig, struct sg_keypair *out)
{
    uint8_t priv[SG_KEY_LEN];
    if (RAND_bytes(priv, sizeof priv) != 1) return -EIO;
    int rc = sg_keypair_from_private(sig, priv, out);
    OPENSSL_cleanse(priv, sizeof priv);
    return rc;
}

int sg_registration_id_generate(uint32_t *out)
{
    uint8_t b[4];
    uint32_t v;
    do {
        if (RAND_bytes(b, sizeof b) != 1) return -EIO;
        v = ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) & 0x3fff;
    } while (v == 0 || v > SG_REG_ID_MAX);
    *out = v;
    return 0;
}

int sg_identity_generate(signal_context *sig, struct sg_identity *out)
{
    int rc = sg_keypair_generate(sig, &out->kp);
    if (rc == 0) rc = sg_registration_id_generate(&out->registration_id);
    return rc;
}

int sg_sign(signal_context *sig, const uint8_t priv[SG_KEY_LEN], const uint8_t *msg, size_t len,
            uint8_t out[SG_SIG_LEN])
{
    ec_private_key *k = NULL;
    signal_buffer *s = NULL;
    int rc = sg_privkey_to_ec(sig, priv, &k);
    if (rc == 0 && curve_calculate_signature(sig, &s, k, msg, len) < 0) rc = -EIO;
    if (rc == 0 && signal_buffer_len(s) != SG_SIG_LEN) rc = -EIO;
    if (rc == 0) memcpy(out, signal_buffer_data(s), SG_SIG_LEN);
    signal_buffer_free(s);
    SIGNAL_UNREF(k);
    return rc;
}

int sg_verify(signal_context *sig, const uint8_t pub[SG_KEY_LEN], const uint8_t *msg, size_t len,
              const uint8_t sigbytes[SG_SIG_LEN])
{
    ec_public_key *k = NULL;
    int rc = sg_pubkey_to_ec(sig, pub, &k);
    if (rc < 0) return rc;
    rc = curve_verify_signature(k, msg, len, sigbytes, SG_SIG_LEN);
    SIGNAL_UNREF(k);
    return rc == 1 ? 1 : (rc == 0 ? 0 : -EINVAL);
}

uint32_t sg_prekey_id_next(uint32_t id)
{
    return (id == 0 || id >= SG_PREKEY_ID_MAX) ? 1 : id + 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sg_signed_prekey_generate(signal_context *sig, const struct sg_keypair *identity, uint32_t id,
                              struct sg_signed_prekey *out)
{
    if (id == 0 || id > SG_PREKEY_ID_MAX) return -EINVAL;
    int rc = sg_keypair_generate(sig, &out->kp);
    if (rc < 0) return rc;
    uint8_t ser[SG_PUBKEY_SER_LEN];
    sg_pubkey_serialize(out->kp.pub, ser);
    rc = sg_sign(sig, identity->priv, ser, sizeof ser, out->sig);
    out->id = id;
    out->timestamp_ms = now_ms();
    return rc;
}

int sg_prekeys_generate(signal_context *sig, uint32_t first_id, size_t count, struct sg_prekey *out,
                        uint32_t *next_id)
{
    if (first_id == 0 || first_id > SG_PREKEY_ID_MAX || count > SG_PREKEY_ID_MAX) return -EINVAL;
    uint32_t id = first_id;
    for (size_t i = 0; i < count; i++) {
        int rc = sg_keypair_generate(sig, &out[i].kp);
        if (rc < 0) return rc;
        out[i].id = id;
        id = sg_prekey_id_next(id);
    }
    if (next_id) *next_id = id;
    return 0;
}

void sg_bundle_make(const struct sg_identity *id, const struct sg_signed_prekey *spk,
                    const struct sg_prekey *pk, struct sg_bundle *out)
{
    memset(out, 0, sizeof *out);
    out->registration_id = id->registration_id;
    memcpy(out->identity, id->kp.pub, SG_KEY_LEN);
    out->signed_prekey_id = spk->id;
    memcpy(out->signed_prekey, spk->kp.pub, SG_KEY_LEN);
    memcpy(out->signed_prekey_sig, spk->sig, SG_SIG_LEN);
    if (pk) {
        out->has_prekey = true;
        out->prekey_id = pk->id;
        memcpy(out->prekey, pk->kp.pub, SG_KEY_LEN);
    }
}

int sg_prekey_record(signal_context *sig, const struct sg_prekey *pk, signal_buffer **out)
{
    ec_key_pair *kp = NULL;
    session_pre_key *rec = NULL;
    int rc = sg_keypair_to_ec(sig, &pk->kp, &kp);
    if (rc == 0 && session_pre_key_create(&rec, pk->id, kp) < 0) rc = -ENOMEM;
    if (rc == 0 && session_pre_key_serialize(out, rec) < 0) rc = -ENOMEM;
    SIGNAL_UNREF(rec);
    SIGNAL_UNREF(kp);
    return rc;
}

int sg_signed_prekey_record(signal_context *sig, const struct sg_signed_prekey *spk,
                            signal_buffer **out)
{
    ec_key_pair *kp = NULL;
    session_signed_pre_key *rec = NULL;
    int rc = sg_keypair_to_ec(sig, &spk->kp, &kp);
    if (rc == 0 && session_signed_pre_key_create(&rec, spk->id, spk->timestamp_ms, kp, spk->sig,
                                                 SG_SIG_LEN) < 0)
        rc = -ENOMEM;
    if (rc == 0 && session_signed_pre_key_serialize(out, rec) < 0) rc = -ENOMEM;
    SIGNAL_UNREF(rec);
    SIGNAL_UNREF(kp);
    return rc;
}

static int ec_pair_raw(const ec_key_pair *kp, struct sg_keypair *out)
{
    int rc = ec_pub_raw(ec_key_pair_get_public(kp), out->pub);
    if (rc == 0) rc = ec_priv_raw(ec_key_pair_get_private(kp), out->priv);
    return rc;
}

int sg_prekey_from_record(signal_context *sig, const uint8_t *rec, size_t len,
                          struct sg_prekey *out)
{
    session_pre_key *pk = NULL;
    if (session_pre_key_deserialize(&pk, rec, len, sig) < 0 || !pk) return -EPROTO;
    out->id = session_pre_key_get_id(pk);
    int rc = ec_pair_raw(session_pre_key_get_key_pair(pk), &out->kp);
    SIGNAL_UNREF(pk);
    return rc < 0 ? -EPROTO : 0;
}

int sg_signed_prekey_from_record(signal_context *sig, const uint8_t *rec, size_t len,
                                 struct sg_signed_prekey *out)
{
    session_signed_pre_key *spk = NULL;
    if (session_signed_pre_key_deserialize(&spk, rec, len, sig) < 0 || !spk) return -EPROTO;
    int rc = -EPROTO;
    if (session_signed_pre_key_get_signature_len(spk) == SG_SIG_LEN) {
        out->id = session_signed_pre_key_get_id(spk);
        out->timestamp_ms = session_signed_pre_key_get_timestamp(spk);
        memcpy(out->sig, session_signed_pre_key_get_signature(spk), SG_SIG_LEN);
        rc = ec_pair_raw(session_signed_pre_key_get_key_pair(spk), &out->kp) < 0 ? -EPROTO : 0;
    }
    SIGNAL_UNREF(spk);
    return rc;
}
