/* SPDX-License-Identifier: MIT */
/* cert.c -- CertChain verification (all whatsmeow checks) and generation for the fake server. */
#include "wa/cert.h"

#include "wa/keys.h"
#include "wa.pb-c.h"

#include <errno.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

const uint8_t wa_cert_root_pubkey[32] = {
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b,
};

typedef Wa__CertChain__NoiseCertificate cert_t;
typedef Wa__CertChain__NoiseCertificate__Details details_t;
#define DETAILS_DESC wa__cert_chain__noise_certificate__details__descriptor

/* Verification context: one failure sets rc and detail and stops further checks. */
struct vctx {
    int rc;
    const char *detail;
};

static bool bad(struct vctx *v, int rc, const char *detail)
{
    v->rc = rc;
    v->detail = detail;
    return false;
}

static bool check_present(struct vctx *v, const cert_t *c, const char *no_cert,
                          const char *no_details, const char *no_sig, const char *sig_len)
{
    if (!c) return bad(v, -EBADMSG, no_cert);
    if (!c->has_details) return bad(v, -EBADMSG, no_details);
    if (!c->has_signature) return bad(v, -EBADMSG, no_sig);
    if (c->signature.len != WA_SIG_LEN) return bad(v, -EBADMSG, sig_len);
    return true;
}

static bool check_sig(struct vctx *v, const uint8_t key[32], const cert_t *c, const char *msg)
{
    int rc =
        wa_xeddsa_verify(key, c->details.data, c->details.len, c->signature.data, c->signature.len);
    if (rc == -EBADMSG) return bad(v, -EKEYREJECTED, msg);
    if (rc) return bad(v, rc, "noise: cert: signature verification failed internally");
    return true;
}

static bool check_time(struct vctx *v, const details_t *d, uint64_t now, const char *early,
                       const char *late)
{
    if (now < d->notbefore) return bad(v, -EKEYEXPIRED, early);
    if (now > d->notafter) return bad(v, -EKEYEXPIRED, late);
    return true;
}

static details_t *unpack_details(struct vctx *v, const cert_t *c, const char *msg)
{
    details_t *d = (details_t *)protobuf_c_message_unpack(&DETAILS_DESC, NULL, c->details.len,
                                                          c->details.data);
    if (!d) bad(v, -EBADMSG, msg);
    return d;
}

static bool verify_inter(struct vctx *v, const cert_t *ic, const details_t *id,
                         const uint8_t root_pub[32], uint64_t now)
{
    (void)ic;
    if (id->issuerserial != 0)
        return bad(v, -EKEYREJECTED, "noise: cert: intermediate issuer serial is not 0");
    if (!id->has_key || id->key.len != 32)
        return bad(v, -EBADMSG, "noise: cert: intermediate key is not 32 bytes");
    return check_time(v, id, now, "noise: cert: intermediate certificate not yet valid",
                      "noise: cert: intermediate certificate expired");
}

static bool verify_leaf(struct vctx *v, const details_t *ld, const details_t *id,
                        const uint8_t server_static[32], uint64_t now)
{
    if (ld->issuerserial != id->serial)
        return bad(v, -EKEYREJECTED,
                   "noise: cert: leaf issuer serial does not match intermediate serial");
    if (!ld->has_key || ld->key.len != 32 || CRYPTO_memcmp(ld->key.data, server_static, 32) != 0)
        return bad(v, -EKEYREJECTED, "noise: cert: leaf key does not match server static key");
    return check_time(v, ld, now, "noise: cert: leaf certificate not yet valid",
                      "noise: cert: leaf certificate expired");
}

static void verify_chain(struct vctx *v, const Wa__CertChain *cc, const uint8_t root_pub[32],
                         const uint8_t server_static[32], uint64_t now)
{
    details_t *id = NULL, *ld = NULL;
    if (!check_present(v, cc->intermediate, "noise: cert: missing intermediate certificate",
                       "noise: cert: intermediate has no details",
                       "noise: cert: intermediate has no signature",
                       "noise: cert: intermediate signature is not 64 bytes"))
        return;
    if (!check_present(v, cc->leaf, "noise: cert: missing leaf certificate",
                       "noise: cert: leaf has no details", "noise: cert: leaf has no signature",
                       "noise: cert: leaf signature is not 64 bytes"))
        return;
    if (!check_sig(v, root_pub, cc->intermediate,
                   "noise: cert: intermediate not signed by the root key"))
        return;
    id = unpack_details(v, cc->intermediate, "noise: cert: malformed intermediate details");
    if (!id || !verify_inter(v, cc->intermediate, id, root_pub, now)) goto out;
    if (!check_sig(v, id->key.data, cc->leaf,
                   "noise: cert: leaf not signed by the intermediate key"))
        goto out;
    ld = unpack_details(v, cc->leaf, "noise: cert: malformed leaf details");
    if (ld) verify_leaf(v, ld, id, server_static, now);
out:
    if (ld) protobuf_c_message_free_unpacked(&ld->base, NULL);
    if (id) protobuf_c_message_free_unpacked(&id->base, NULL);
}

int wa_cert_verify(const uint8_t *chain, size_t len, const uint8_t root_pub[32],
                   const uint8_t server_static[32], uint64_t now, const char **detail)
{
    struct vctx v = {0, ""};
    Wa__CertChain *cc = NULL;
    if (len > WA_CERT_MAX_LEN) {
        bad(&v, -EBADMSG, "noise: cert: certificate chain too long");
        goto out;
    }
    cc = wa__cert_chain__unpack(NULL, len, chain);
    if (!cc) {
        bad(&v, -EBADMSG, "noise: cert: malformed certificate chain");
        goto out;
    }
    verify_chain(&v, cc, root_pub, server_static, now);
    wa__cert_chain__free_unpacked(cc, NULL);
out:
    if (detail) *detail = v.detail;
    return v.rc;
}

/* Serialize Details for one certificate into a malloc'ed buffer. */
static uint8_t *pack_details(const struct wa_cert_spec *s, const uint8_t key[32], size_t *len)
{
    details_t d = WA__CERT_CHAIN__NOISE_CERTIFICATE__DETAILS__INIT;
    d.has_serial = d.has_issuerserial = d.has_key = 1;
    d.has_notbefore = d.has_notafter = 1;
    d.serial = s->serial;
    d.issuerserial = s->issuer_serial;
    d.key.data = (uint8_t *)key;
    d.key.len = 32;
    d.notbefore = s->not_before;
    d.notafter = s->not_after;
    *len = protobuf_c_message_get_packed_size(&d.base);
    uint8_t *p = malloc(*len ? *len : 1);
    if (p) protobuf_c_message_pack(&d.base, p);
    return p;
}

int wa_cert_generate(struct buf *out, const uint8_t root_priv[32], const uint8_t inter_priv[32],
                     const uint8_t leaf_pub[32], const struct wa_cert_spec *inter,
                     const struct wa_cert_spec *leaf)
{
    struct wa_keypair ikp;
    uint8_t isig[WA_SIG_LEN], lsig[WA_SIG_LEN], *idet = NULL, *ldet = NULL, *packed = NULL;
    size_t ilen = 0, llen = 0;
    int rc = wa_keypair_from_private(&ikp, inter_priv);
    if (rc) return rc;
    rc = -ENOMEM;
    idet = pack_details(inter, ikp.pub, &ilen);
    ldet = pack_details(leaf, leaf_pub, &llen);
    if (!idet || !ldet) goto out;
    rc = wa_xeddsa_sign(isig, root_priv, idet, ilen);
    if (!rc) rc = wa_xeddsa_sign(lsig, ikp.priv, ldet, llen);
    if (rc) goto out;
    cert_t ic = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT,
           lc = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
    ic.has_details = ic.has_signature = lc.has_details = lc.has_signature = 1;
    ic.details = (ProtobufCBinaryData){ilen, idet};
    ic.signature = (ProtobufCBinaryData){WA_SIG_LEN, isig};
    lc.details = (ProtobufCBinaryData){llen, ldet};
    lc.signature = (ProtobufCBinaryData){WA_SIG_LEN, lsig};
    Wa__CertChain cc = WA__CERT_CHAIN__INIT;
    cc.leaf = &lc;
    cc.intermediate = &ic;
    size_t n = wa__cert_chain__get_packed_size(&cc);
    rc = -ENOMEM;
    packed = malloc(n);
    if (!packed) goto out;
    wa__cert_chain__pack(&cc, packed);
    rc = buf_append(out, packed, n);
out:
    wa_keypair_wipe(&ikp);
    free(packed);
    free(idet);
    free(ldet);
    return rc;
}
