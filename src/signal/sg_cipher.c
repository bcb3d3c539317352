/* SPDX-License-Identifier: MIT */
/* sg_cipher.c -- 1:1 and group Signal operations on libsignal-protocol-c, WhatsApp padding. */
#include "signal/sg_cipher.h"

#include <group_cipher.h>
#include <group_session_builder.h>
#include <openssl/rand.h>
#include <protocol.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room reserved in the output before encrypting, beyond the plaintext: protobuf framing,
 * keys, ids, MAC/signature and CBC padding. An encrypt never advances state it cannot return. */
#define ENC_OVERHEAD 512

struct sg_ctx {
    signal_context *sig;
    signal_protocol_store_context *sc;
    struct sg_store st;
    char err[160];
};

/* ---- names, addresses, errors ---- */

const char *sg_msg_type_name(enum sg_msg_type t)
{
    switch (t) {
    case SG_MSG:
        return "msg";
    case SG_PKMSG:
        return "pkmsg";
    case SG_SKMSG:
        return "skmsg";
    }
    return NULL;
}

int sg_msg_type_parse(const char *s, enum sg_msg_type *out)
{
    static const enum sg_msg_type all[] = {SG_MSG, SG_PKMSG, SG_SKMSG};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, sg_msg_type_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -EINVAL;
}

int sg_address_make(struct sg_address *out, const char *user, unsigned domain_type, uint32_t device)
{
    if (!user || device > INT32_MAX) return -EINVAL;
    size_t ul = strnlen(user, SG_USER_MAX + 1);
    if (ul == 0 || ul > SG_USER_MAX) return -EINVAL;
    int n = domain_type ? snprintf(out->name, sizeof out->name, "%s_%u", user, domain_type)
                        : snprintf(out->name, sizeof out->name, "%s", user);
    if (n < 0 || (size_t)n >= sizeof out->name) return -EINVAL;
    out->name_len = (size_t)n;
    out->device = (int32_t)device;
    return 0;
}

int sg_address_str(const struct sg_address *a, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s.%d", a->name, (int)a->device);
    return n < 0 || (size_t)n >= outsz ? -ENOBUFS : n;
}

static signal_protocol_address raw_addr(const struct sg_address *a)
{
    return (signal_protocol_address){
        .name = a->name, .name_len = a->name_len, .device_id = a->device};
}

static int check_addr(const struct sg_address *a)
{
    if (!a || a->name_len == 0 || a->name_len > SG_NAME_MAX || a->name[a->name_len] != 0 ||
        a->device < 0)
        return -EINVAL;
    return 0;
}

int sg_map_error(int e)
{
    if (e >= 0) return e;
    int d = sg_store_decode_error(e);
    if (d != e) return d;
    switch (e) {
    case SG_ERR_NOMEM:
        return -ENOMEM;
    case SG_ERR_INVAL:
        return -EINVAL;
    case SG_ERR_NO_SESSION:
        return SG_E_NO_SESSION;
    case SG_ERR_DUPLICATE_MESSAGE:
        return SG_E_DUPLICATE;
    case SG_ERR_INVALID_KEY_ID:
        return SG_E_NO_PREKEY;
    case SG_ERR_UNTRUSTED_IDENTITY:
        return SG_E_UNTRUSTED;
    case SG_ERR_INVALID_MAC:
    case SG_ERR_INVALID_MESSAGE:
    case SG_ERR_INVALID_KEY:
    case SG_ERR_STALE_KEY_EXCHANGE:
    case SG_ERR_VRF_SIG_VERIF_FAILED:
        return SG_E_BAD_MAC;
    case SG_ERR_INVALID_VERSION:
    case SG_ERR_LEGACY_MESSAGE:
    case SG_ERR_INVALID_PROTO_BUF:
        return SG_E_MALFORMED;
    default:
        return -EIO;
    }
}

const char *sg_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case SG_E_NO_SESSION:
        return "no session";
    case SG_E_BAD_MAC:
        return "invalid message (bad MAC or signature)";
    case SG_E_DUPLICATE:
        return "already processed";
    case SG_E_NO_PREKEY:
        return "invalid pre-key id";
    case SG_E_UNTRUSTED:
        return "untrusted identity";
    case SG_E_MALFORMED:
        return "malformed message";
    case SG_E_TOO_BIG:
        return "message too large";
    case -EINVAL:
        return "invalid argument";
    case -ENOMEM:
        return "out of memory";
    case -ENOBUFS:
        return "output buffer cap reached";
    case -ENOSPC:
        return "store full";
    case -ENODATA:
        return "no local identity";
    default:
        return "error";
    }
}

/* Map, record a detail, return the mapped code. */
static int fail(struct sg_ctx *c, const char *what, int sg_err)
{
    int rc = sg_map_error(sg_err);
    snprintf(c->err, sizeof c->err, "%s: %s (%d)", what, sg_strerror(rc), sg_err);
    return rc;
}

/* ---- context ---- */

int sg_ctx_new(struct sg_ctx **out, signal_context *sig, const struct sg_store *st)
{
    if (!sig || !st || !st->ops) return -EINVAL;
    struct sg_ctx *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->sig = sig;
    c->st = *st;
    if (signal_protocol_store_context_create(&c->sc, sig) < 0 ||
        sg_store_install(c->sc, &c->st) < 0) {
        sg_ctx_free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

void sg_ctx_free(struct sg_ctx *c)
{
    if (!c) return;
    if (c->sc) signal_protocol_store_context_destroy(c->sc);
    free(c);
}

const struct sg_store *sg_ctx_store(const struct sg_ctx *c)
{
    return &c->st;
}

signal_context *sg_ctx_signal(const struct sg_ctx *c)
{
    return c->sig;
}

const char *sg_ctx_last_error(const struct sg_ctx *c)
{
    return c->err;
}

/* ---- 1:1 ---- */

int sg_has_session(struct sg_ctx *c, const struct sg_address *a)
{
    if (check_addr(a) < 0) return -EINVAL;
    signal_protocol_address ra = raw_addr(a);
    int rc = signal_protocol_session_contains_session(c->sc, &ra);
    return rc < 0 ? fail(c, "contains_session", rc) : rc > 0;
}

int sg_delete_session(struct sg_ctx *c, const struct sg_address *a)
{
    if (check_addr(a) < 0) return -EINVAL;
    signal_protocol_address ra = raw_addr(a);
    int rc = signal_protocol_session_delete_session(c->sc, &ra);
    return rc < 0 ? fail(c, "delete_session", rc) : 0;
}

static int bundle_to_lib(struct sg_ctx *c, const struct sg_address *a, const struct sg_bundle *b,
                         session_pre_key_bundle **out)
{
    ec_public_key *ik = NULL, *spk = NULL, *pk = NULL;
    int rc = sg_pubkey_to_ec(c->sig, b->identity, &ik);
    if (rc == 0) rc = sg_pubkey_to_ec(c->sig, b->signed_prekey, &spk);
    if (rc == 0 && b->has_prekey) rc = sg_pubkey_to_ec(c->sig, b->prekey, &pk);
    if (rc == 0) {
        rc = session_pre_key_bundle_create(
            out, b->registration_id, a->device, b->has_prekey ? b->prekey_id : 0, pk,
            b->signed_prekey_id, spk, b->signed_prekey_sig, SG_SIG_LEN, ik);
        rc = rc < 0 ? sg_map_error(rc) : 0;
    }
    SIGNAL_UNREF(ik);
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(pk);
    return rc;
}

int sg_session_from_bundle(struct sg_ctx *c, const struct sg_address *a, const struct sg_bundle *b)
{
    if (check_addr(a) < 0 || !b) return -EINVAL;
    if (b->signed_prekey_id > SG_PREKEY_ID_MAX ||
        (b->has_prekey && b->prekey_id > SG_PREKEY_ID_MAX))
        return -EINVAL;
    /* Verify here too, so that a bad signature is reported as such, before any store I/O. */
    uint8_t ser[SG_PUBKEY_SER_LEN];
    sg_pubkey_serialize(b->signed_prekey, ser);
    if (sg_verify(c->sig, b->identity, ser, sizeof ser, b->signed_prekey_sig) != 1) {
        snprintf(c->err, sizeof c->err, "bundle: bad signed pre-key signature");
        return SG_E_BAD_MAC;
    }
    session_pre_key_bundle *lb = NULL;
    int rc = bundle_to_lib(c, a, b, &lb);
    if (rc < 0) {
        snprintf(c->err, sizeof c->err, "bundle: bad key");
        return rc;
    }
    signal_protocol_address ra = raw_addr(a);
    session_builder *sb = NULL;
    rc = session_builder_create(&sb, c->sc, &ra, c->sig);
    if (rc == 0) rc = session_builder_process_pre_key_bundle(sb, lb);
    session_builder_free(sb);
    SIGNAL_UNREF(lb);
    return rc < 0 ? fail(c, "process bundle", rc) : 0;
}

int sg_encrypt(struct sg_ctx *c, const struct sg_address *a, const uint8_t *pt, size_t len,
               enum sg_msg_type *type, struct buf *out)
{
    if (check_addr(a) < 0 || (!pt && len) || !type || !out) return -EINVAL;
    if (len > SG_MAX_MESSAGE) return SG_E_TOO_BIG;
    int rc = sg_has_session(c, a);
    if (rc <= 0) {
        if (rc == 0) snprintf(c->err, sizeof c->err, "encrypt: no session");
        return rc < 0 ? rc : SG_E_NO_SESSION;
    }
    rc = buf_reserve(out, len + ENC_OVERHEAD);
    if (rc < 0) return rc;
    signal_protocol_address ra = raw_addr(a);
    session_cipher *sc = NULL;
    ciphertext_message *m = NULL;
    rc = session_cipher_create(&sc, c->sc, &ra, c->sig);
    if (rc == 0) rc = session_cipher_encrypt(sc, pt ? pt : (const uint8_t *)"", len, &m);
    session_cipher_free(sc);
    if (rc < 0) return fail(c, "encrypt", rc);
    signal_buffer *ser = ciphertext_message_get_serialized(m);
    *type = ciphertext_message_get_type(m) == CIPHERTEXT_PREKEY_TYPE ? SG_PKMSG : SG_MSG;
    rc = buf_append(out, signal_buffer_data(ser), signal_buffer_len(ser));
    SIGNAL_UNREF(m);
    return rc;
}

/* libsignal calls this with the plaintext before it stores anything: a full output buffer
 * therefore leaves the state untouched. */
static int session_sink(session_cipher *sc, signal_buffer *pt, void *ctx)
{
    int rc = buf_append(ctx, signal_buffer_data(pt), signal_buffer_len(pt));
    return rc < 0 ? SG_STORE_ERR_BASE + rc : 0; /* decoded back to -ENOBUFS/-ENOMEM */
}

static int group_sink(group_cipher *gc, signal_buffer *pt, void *ctx)
{
    int rc = buf_append(ctx, signal_buffer_data(pt), signal_buffer_len(pt));
    return rc < 0 ? SG_STORE_ERR_BASE + rc : 0; /* decoded back to -ENOBUFS/-ENOMEM */
}

/* ---- input validation before anything reaches libsignal ----
 *
 * libsignal-protocol-c 2.3.3 and its bundled protobuf-c have undefined behaviour on some
 * peer-controlled inputs (found by fuzzing an instrumented build): signed-int shifts when a
 * field tag or a length prefix is a 5-byte varint, and memcpy from NULL for an empty bytes
 * field (e.g. an empty msg ciphertext). Every Signal message body is therefore checked here
 * to be a flat protobuf that only uses varint and length-delimited fields, with tags of at
 * most 3 bytes, lengths of at most 4 bytes that stay inside the body, non-empty bytes fields
 * and varints of at most 10 bytes. Valid messages always satisfy this. */

/* Read a varint of at most maxb bytes; returns its length or 0. */
static size_t pb_varint(const uint8_t *p, size_t n, size_t maxb, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n && i < maxb; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* Check a flat protobuf body; inner and inner_len receive field `nested` (0 = none). */
static int pb_check(const uint8_t *p, size_t n, unsigned nested, const uint8_t **inner,
                    size_t *inner_len)
{
    size_t i = 0;
    while (i < n) {
        uint64_t tag, v;
        size_t k = pb_varint(p + i, n - i, 3, &tag);
        if (!k || (tag >> 3) == 0) return -1;
        i += k;
        if ((tag & 7) == 0) {
            k = pb_varint(p + i, n - i, 10, &v);
            if (!k) return -1;
            i += k;
        } else if ((tag & 7) == 2) {
            k = pb_varint(p + i, n - i, 4, &v);
            if (!k || v == 0 || v > n - i - k) return -1;
            if (nested && (tag >> 3) == nested) {
                *inner = p + i + k;
                *inner_len = (size_t)v;
            }
            i += k + (size_t)v;
        } else {
            return -1;
        }
    }
    return 0;
}

/* A serialized msg: version byte, body, 8-byte MAC. */
static int msg_ok(const uint8_t *ct, size_t len)
{
    if (len < 1 + 8 + 2 || (ct[0] >> 4) != CIPHERTEXT_CURRENT_VERSION) return -1;
    return pb_check(ct + 1, len - 1 - 8, 0, NULL, NULL);
}

/* Structural checks per type (SG_PKMSG, SG_MSG, SG_SKMSG; 0 = SKDM). */
static int precheck(struct sg_ctx *c, int type, const uint8_t *ct, size_t len)
{
    const char *what = type ? sg_msg_type_name((enum sg_msg_type)type) : "skdm";
    const uint8_t *inner = NULL;
    size_t inner_len = 0;
    int bad;
    if (len > SG_MAX_MESSAGE) return SG_E_TOO_BIG;
    if (type == SG_MSG) {
        bad = msg_ok(ct, len);
    } else if (len < 3 || (ct[0] >> 4) != CIPHERTEXT_CURRENT_VERSION) {
        bad = -1;
    } else if (type == SG_SKMSG) {
        bad = len < 1 + SG_SIG_LEN + 2 || pb_check(ct + 1, len - 1 - SG_SIG_LEN, 0, NULL, NULL);
    } else if (type == SG_PKMSG) {
        bad =
            pb_check(ct + 1, len - 1, 4, &inner, &inner_len) || !inner || msg_ok(inner, inner_len);
    } else {
        bad = pb_check(ct + 1, len - 1, 0, NULL, NULL);
    }
    if (bad) {
        snprintf(c->err, sizeof c->err, "%s: malformed (length, version or protobuf)", what);
        return SG_E_MALFORMED;
    }
    return 0;
}

static int decrypt_pkmsg(struct sg_ctx *c, session_cipher *sc, const signal_protocol_address *ra,
                         const uint8_t *ct, size_t len, struct buf *out)
{
    pre_key_signal_message *m = NULL;
    signal_buffer *pt = NULL;
    int rc = pre_key_signal_message_deserialize(&m, ct, len, c->sig);
    if (rc < 0) {
        fail(c, "pkmsg parse", rc);
        return rc == SG_ERR_NOMEM ? -ENOMEM : SG_E_MALFORMED;
    }
    /* libsignal records the sender's identity before it checks the MAC: keep what was
     * known so that a forged or corrupt pkmsg cannot replace a recorded identity. */
    uint8_t old[SG_KEY_LEN];
    int had = c->st.ops->load_identity(c->st.ud, ra, old);
    rc = session_cipher_decrypt_pre_key_signal_message(sc, m, out, &pt);
    signal_buffer_bzero_free(pt);
    SIGNAL_UNREF(m);
    if (rc >= 0) return 0;
    if (had >= 0) (void)c->st.ops->save_identity(c->st.ud, ra, had ? old : NULL);
    return fail(c, "pkmsg decrypt", rc);
}

static int decrypt_msg(struct sg_ctx *c, session_cipher *sc, const uint8_t *ct, size_t len,
                       struct buf *out)
{
    signal_message *m = NULL;
    signal_buffer *pt = NULL;
    int rc = signal_message_deserialize(&m, ct, len, c->sig);
    if (rc < 0) {
        fail(c, "msg parse", rc);
        return rc == SG_ERR_NOMEM ? -ENOMEM : SG_E_MALFORMED;
    }
    rc = session_cipher_decrypt_signal_message(sc, m, out, &pt);
    signal_buffer_bzero_free(pt);
    SIGNAL_UNREF(m);
    return rc < 0 ? fail(c, "msg decrypt", rc) : 0;
}

int sg_decrypt(struct sg_ctx *c, const struct sg_address *a, enum sg_msg_type type,
               const uint8_t *ct, size_t len, struct buf *out)
{
    if (check_addr(a) < 0 || (!ct && len) || !out) return -EINVAL;
    if (type != SG_MSG && type != SG_PKMSG) return -EINVAL;
    int rc = precheck(c, type, ct, len);
    if (rc < 0) return rc;
    size_t before = out->len;
    signal_protocol_address ra = raw_addr(a);
    session_cipher *sc = NULL;
    rc = session_cipher_create(&sc, c->sc, &ra, c->sig);
    if (rc < 0) return fail(c, "decrypt", rc);
    session_cipher_set_decryption_callback(sc, session_sink);
    rc = type == SG_PKMSG ? decrypt_pkmsg(c, sc, &ra, ct, len, out)
                          : decrypt_msg(c, sc, ct, len, out);
    session_cipher_free(sc);
    if (rc < 0) out->len = before;
    return rc;
}

/* ---- groups ---- */

struct skn {
    char group[SG_GROUP_MAX + 1];
    signal_protocol_sender_key_name n;
};

static int make_skn(struct skn *k, const char *group, const struct sg_address *a)
{
    if (!group || check_addr(a) < 0) return -EINVAL;
    size_t gl = strnlen(group, SG_GROUP_MAX + 1);
    if (gl == 0 || gl > SG_GROUP_MAX) return -EINVAL;
    memcpy(k->group, group, gl + 1);
    k->n = (signal_protocol_sender_key_name){
        .group_id = k->group, .group_id_len = gl, .sender = raw_addr(a)};
    return 0;
}

/* 1 if a non-empty sender key record exists for k (and, when want_id, holds a state with
 * key id `id`), 0 if not, negative errno on store failure. */
static int has_sender_key(struct sg_ctx *c, const struct skn *k, bool want_id, uint32_t id)
{
    signal_buffer *b = NULL;
    int rc = c->st.ops->load_sender_key(c->st.ud, &k->n, &b);
    if (rc <= 0) return rc;
    sender_key_record *r = NULL;
    int ok = sender_key_record_deserialize(&r, signal_buffer_data(b), signal_buffer_len(b), c->sig);
    signal_buffer_bzero_free(b);
    if (ok < 0) return ok == SG_ERR_NOMEM ? -ENOMEM : -EIO;
    rc = !sender_key_record_is_empty(r);
    if (rc && want_id) {
        sender_key_state *st = NULL;
        rc = sender_key_record_get_sender_key_state_by_id(r, &st, id) == 0 && st;
    }
    SIGNAL_UNREF(r);
    return rc;
}

int sg_group_create(struct sg_ctx *c, const char *group, const struct sg_address *self,
                    struct buf *skdm)
{
    struct skn k;
    if (make_skn(&k, group, self) < 0 || !skdm) return -EINVAL;
    group_session_builder *gb = NULL;
    sender_key_distribution_message *m = NULL;
    int rc = group_session_builder_create(&gb, c->sc, c->sig);
    if (rc == 0) rc = group_session_builder_create_session(gb, &m, &k.n);
    group_session_builder_free(gb);
    if (rc < 0) return fail(c, "group create", rc);
    signal_buffer *ser = ciphertext_message_get_serialized((ciphertext_message *)m);
    rc = buf_append(skdm, signal_buffer_data(ser), signal_buffer_len(ser));
    SIGNAL_UNREF(m);
    return rc;
}

int sg_group_process_skdm(struct sg_ctx *c, const char *group, const struct sg_address *sender,
                          const uint8_t *skdm, size_t len)
{
    struct skn k;
    if (make_skn(&k, group, sender) < 0 || (!skdm && len)) return -EINVAL;
    int rc = precheck(c, 0, skdm, len);
    if (rc < 0) return rc;
    sender_key_distribution_message *m = NULL;
    rc = sender_key_distribution_message_deserialize(&m, skdm, len, c->sig);
    if (rc < 0) {
        fail(c, "skdm parse", rc);
        return rc == SG_ERR_NOMEM ? -ENOMEM : SG_E_MALFORMED;
    }
    group_session_builder *gb = NULL;
    rc = group_session_builder_create(&gb, c->sc, c->sig);
    if (rc == 0) rc = group_session_builder_process_session(gb, &k.n, m);
    group_session_builder_free(gb);
    SIGNAL_UNREF(m);
    return rc < 0 ? fail(c, "skdm process", rc) : 0;
}

int sg_group_encrypt(struct sg_ctx *c, const char *group, const struct sg_address *self,
                     const uint8_t *pt, size_t len, struct buf *out)
{
    struct skn k;
    if (make_skn(&k, group, self) < 0 || (!pt && len) || !out) return -EINVAL;
    if (len > SG_MAX_MESSAGE) return SG_E_TOO_BIG;
    int rc = has_sender_key(c, &k, false, 0);
    if (rc <= 0) {
        if (rc == 0) snprintf(c->err, sizeof c->err, "group encrypt: no sender key");
        return rc < 0 ? rc : SG_E_NO_SESSION;
    }
    rc = buf_reserve(out, len + ENC_OVERHEAD);
    if (rc < 0) return rc;
    group_cipher *gc = NULL;
    ciphertext_message *m = NULL;
    rc = group_cipher_create(&gc, c->sc, &k.n, c->sig);
    if (rc == 0) rc = group_cipher_encrypt(gc, pt ? pt : (const uint8_t *)"", len, &m);
    group_cipher_free(gc);
    if (rc < 0) return fail(c, "group encrypt", rc);
    signal_buffer *ser = ciphertext_message_get_serialized(m);
    rc = buf_append(out, signal_buffer_data(ser), signal_buffer_len(ser));
    SIGNAL_UNREF(m);
    return rc;
}

int sg_group_decrypt(struct sg_ctx *c, const char *group, const struct sg_address *sender,
                     const uint8_t *ct, size_t len, struct buf *out)
{
    struct skn k;
    if (make_skn(&k, group, sender) < 0 || (!ct && len) || !out) return -EINVAL;
    int rc = precheck(c, SG_SKMSG, ct, len);
    if (rc < 0) return rc;
    sender_key_message *m = NULL;
    rc = sender_key_message_deserialize(&m, ct, len, c->sig);
    if (rc < 0) {
        fail(c, "skmsg parse", rc);
        return rc == SG_ERR_NOMEM ? -ENOMEM : SG_E_MALFORMED;
    }
    /* A key id we have no state for (sender rotated its key, SKDM not received yet) is
     * "no sender key", not a bad message. */
    rc = has_sender_key(c, &k, true, sender_key_message_get_key_id(m));
    if (rc <= 0) {
        SIGNAL_UNREF(m);
        if (rc < 0) return rc;
        snprintf(c->err, sizeof c->err, "skmsg: no sender key for that key id");
        return SG_E_NO_SESSION;
    }
    size_t before = out->len;
    group_cipher *gc = NULL;
    signal_buffer *pt = NULL;
    rc = group_cipher_create(&gc, c->sc, &k.n, c->sig);
    if (rc == 0) {
        group_cipher_set_decryption_callback(gc, group_sink);
        rc = group_cipher_decrypt(gc, m, out, &pt);
    }
    group_cipher_free(gc);
    signal_buffer_bzero_free(pt);
    SIGNAL_UNREF(m);
    if (rc < 0) {
        out->len = before;
        return fail(c, "skmsg decrypt", rc);
    }
    return 0;
}

/* ---- padding ---- */

int sg_pad_n(struct buf *b, unsigned n)
{
    if (n < 1 || n > 16) return -EINVAL;
    uint8_t p[16];
    memset(p, (int)n, n);
    return buf_append(b, p, n);
}

int sg_pad(struct buf *b)
{
    uint8_t r;
    if (RAND_bytes(&r, 1) != 1) return -EIO;
    return sg_pad_n(b, (r & 0x0f) + 1u);
}

int sg_unpad(const uint8_t *p, size_t len, size_t *out_len)
{
    if (len == 0 || !p) return -EBADMSG;
    uint8_t n = p[len - 1];
    if (n == 0 || n > len) return -EBADMSG;
    for (size_t i = len - n; i < len; i++)
        if (p[i] != n) return -EBADMSG;
    *out_len = len - n;
    return 0;
}
