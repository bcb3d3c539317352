/* SPDX-License-Identifier: MIT */
/* pairing.c -- QR string, pair-success verification (HMAC + account signature), our device
 * signature and the pair-device-sign reply. Sans-I/O. */
#include "wa/pairing.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

#include "wa.pb-c.h"

int wa_pairing_qr_string(const char *ref, size_t ref_len, const struct wa_creds *c,
                         const char *platform_id, char *out, size_t outlen)
{
    if (!ref || ref_len == 0 || ref_len > WA_PAIR_REF_MAX || memchr(ref, ',', ref_len) ||
        memchr(ref, 0, ref_len) || !platform_id)
        return -EINVAL;
    char nk[48], ik[48], adv[48];
    EVP_EncodeBlock((unsigned char *)nk, c->noise.pub, 32);
    EVP_EncodeBlock((unsigned char *)ik, c->identity.pub, 32);
    EVP_EncodeBlock((unsigned char *)adv, c->adv_secret, 32);
    int n = snprintf(out, outlen, "https://wa.me/settings/linked_devices#%.*s,%s,%s,%s,%s",
                     (int)ref_len, ref, nk, ik, adv, platform_id);
    OPENSSL_cleanse(adv, sizeof(adv));
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen) out[0] = 0;
        return -ENOBUFS;
    }
    return n;
}

int wa_pairing_sig_msg(uint8_t p, const uint8_t *details, size_t dlen, const uint8_t ident_pub[32],
                       const uint8_t *account_key, struct buf *out)
{
    uint8_t pre[2] = {6, p};
    size_t old = out->len;
    int rc = buf_append(out, pre, 2);
    if (rc == 0) rc = buf_append(out, details, dlen);
    if (rc == 0) rc = buf_append(out, ident_pub, 32);
    if (rc == 0 && account_key) rc = buf_append(out, account_key, 32);
    if (rc < 0) out->len = old;
    return rc;
}

static int fail(struct wa_pair_error *e, int rc, int code, const char *text, const char *why)
{
    e->code = code;
    e->text = text;
    e->why = why;
    return rc;
}

static int check_hmac(const uint8_t adv[32], const Wa__ADVSignedDeviceIdentityHMAC *h)
{
    uint8_t mac[32];
    unsigned ml = 0;
    int ok = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mc = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (mc && EVP_MAC_init(mc, adv, 32, params) == 1) {
        static const uint8_t hosted[2] = {6, 5};
        size_t outl = 0;
        ok = (h->accounttype != WA__ADVENCRYPTION_TYPE__HOSTED ||
              EVP_MAC_update(mc, hosted, 2) == 1) &&
             EVP_MAC_update(mc, h->details.data, h->details.len) == 1 &&
             EVP_MAC_final(mc, mac, &outl, sizeof(mac)) == 1 && outl == 32;
        ml = (unsigned)outl;
    }
    EVP_MAC_CTX_free(mc);
    EVP_MAC_free(m);
    if (!ok) return -EIO;
    return ml == 32 && h->hmac.len == 32 && CRYPTO_memcmp(mac, h->hmac.data, 32) == 0
               ? 0
               : -EKEYREJECTED;
}

static int pack_sdi(const Wa__ADVSignedDeviceIdentity *s, uint8_t *out, size_t max, size_t *len)
{
    *len = wa__advsigned_device_identity__get_packed_size(s);
    if (*len > max) return -EMSGSIZE;
    wa__advsigned_device_identity__pack(s, out);
    return 0;
}

/* Steps 3-5 on the decoded ADVSignedDeviceIdentity. */
static int verify_signed(const Wa__ADVSignedDeviceIdentity *sd, const struct wa_keypair *id,
                         struct wa_pair_result *out, struct wa_pair_error *e)
{
    if (!sd->has_details || sd->details.len == 0 || sd->details.len > WA_ADV_DETAILS_MAX ||
        sd->accountsignaturekey.len != 32 || sd->accountsignature.len != 64)
        return fail(e, -EBADMSG, 500, "internal-error", "signed device identity malformed");
    Wa__ADVDeviceIdentity *di =
        wa__advdevice_identity__unpack(NULL, sd->details.len, sd->details.data);
    if (!di) return fail(e, -EBADMSG, 500, "internal-error", "device identity malformed");
    bool hosted = di->has_devicetype && di->devicetype == WA__ADVENCRYPTION_TYPE__HOSTED;
    out->key_index = di->keyindex;
    wa__advdevice_identity__free_unpacked(di, NULL);
    struct buf msg;
    buf_init(&msg, 0);
    int rc = wa_pairing_sig_msg(hosted ? WA_ADV_PREFIX_HOSTED_ACCOUNT : WA_ADV_PREFIX_ACCOUNT,
                                sd->details.data, sd->details.len, id->pub, NULL, &msg);
    if (rc == 0)
        rc = wa_xeddsa_verify(sd->accountsignaturekey.data, msg.data, msg.len,
                              sd->accountsignature.data, sd->accountsignature.len);
    if (rc == -EBADMSG) {
        buf_free(&msg);
        return fail(e, -EKEYREJECTED, 401, "signature-mismatch",
                    "account signature does not verify");
    }
    uint8_t dsig[64];
    buf_reset(&msg);
    if (rc == 0)
        rc = wa_pairing_sig_msg(WA_ADV_PREFIX_DEVICE, sd->details.data, sd->details.len, id->pub,
                                sd->accountsignaturekey.data, &msg);
    if (rc == 0) rc = wa_xeddsa_sign(dsig, id->priv, msg.data, msg.len);
    buf_free(&msg);
    if (rc < 0) return fail(e, rc, 500, "internal-error", "signing failed");
    Wa__ADVSignedDeviceIdentity s = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    s.has_details = s.has_accountsignaturekey = s.has_accountsignature = 1;
    s.has_devicesignature = 1;
    s.details = sd->details;
    s.accountsignaturekey = sd->accountsignaturekey;
    s.accountsignature = sd->accountsignature;
    s.devicesignature = (ProtobufCBinaryData){64, dsig};
    memcpy(out->account_key, sd->accountsignaturekey.data, 32);
    rc = pack_sdi(&s, out->account, sizeof(out->account), &out->account_len);
    s.has_accountsignaturekey = 0;
    if (rc == 0) rc = pack_sdi(&s, out->reply, sizeof(out->reply), &out->reply_len);
    if (rc < 0) return fail(e, -EBADMSG, 500, "internal-error", "account too large");
    return 0;
}

int wa_pairing_verify(const uint8_t adv_secret[32], const struct wa_keypair *identity,
                      const uint8_t *container, size_t len, struct wa_pair_result *out,
                      struct wa_pair_error *e)
{
    memset(out, 0, sizeof(*out));
    fail(e, 0, 0, "", "");
    if (!container || len == 0 || len > WA_CREDS_ACCOUNT_MAX)
        return fail(e, -EBADMSG, 500, "internal-error", "device-identity missing or too long");
    Wa__ADVSignedDeviceIdentityHMAC *h =
        wa__advsigned_device_identity_hmac__unpack(NULL, len, container);
    if (!h || !h->has_details || !h->has_hmac) {
        if (h) wa__advsigned_device_identity_hmac__free_unpacked(h, NULL);
        return fail(e, -EBADMSG, 500, "internal-error", "device-identity container malformed");
    }
    int rc = check_hmac(adv_secret, h);
    if (rc == -EKEYREJECTED) {
        fail(e, rc, 401, "hmac-mismatch", "HMAC of the device identity does not match");
    } else if (rc < 0) {
        fail(e, rc, 500, "internal-error", "HMAC computation failed");
    } else {
        Wa__ADVSignedDeviceIdentity *sd =
            wa__advsigned_device_identity__unpack(NULL, h->details.len, h->details.data);
        rc = sd ? verify_signed(sd, identity, out, e)
                : fail(e, -EBADMSG, 500, "internal-error", "signed device identity malformed");
        if (sd) wa__advsigned_device_identity__free_unpacked(sd, NULL);
    }
    wa__advsigned_device_identity_hmac__free_unpacked(h, NULL);
    return rc;
}

static bool from_server(const struct wa_node *iq)
{
    struct wa_jid j;
    return wa_node_attr_jid(iq, "from", &j) == 0 && j.form == WA_JID_FORM_PAIR && !j.user[0] &&
           strcmp(j.server, WA_SERVER_PN) == 0;
}

static int copy_jid(const struct wa_node *n, const char *key, bool required, char *out,
                    size_t outlen, const char *server)
{
    struct wa_jid j;
    int rc = wa_node_attr_jid(n, key, &j);
    if (rc == -ENOENT && !required) return 0;
    if (rc < 0 || strcmp(j.server, server) != 0 || !j.user[0]) return -EBADMSG;
    return wa_jid_format(&j, out, outlen) < 0 ? -EBADMSG : 0;
}

/* Fill the identity fields of *out from the pair-success children. */
static int read_device(const struct wa_node *ps, struct wa_creds *out, struct wa_pair_error *e)
{
    const struct wa_node *dev = wa_node_child(ps, "device");
    if (!dev || copy_jid(dev, "jid", true, out->me_pn, sizeof(out->me_pn), WA_SERVER_PN) < 0 ||
        copy_jid(dev, "lid", false, out->me_lid, sizeof(out->me_lid), WA_SERVER_LID) < 0)
        return fail(e, -EBADMSG, 500, "internal-error", "pair-success: bad <device> jid/lid");
    const struct wa_node *pl = wa_node_child(ps, "platform");
    const char *name = pl ? wa_node_attr(pl, "name") : NULL;
    snprintf(out->platform, sizeof(out->platform), "%s", name ? name : "");
    const struct wa_node *biz = wa_node_child(ps, "biz");
    name = biz ? wa_node_attr(biz, "name") : NULL;
    if (name) snprintf(out->push_name, sizeof(out->push_name), "%s", name);
    return 0;
}

int wa_pairing_process(const struct wa_node *iq, const struct wa_creds *cur, struct wa_creds *out,
                       struct wa_pair_result *res, struct wa_pair_error *e)
{
    memset(res, 0, sizeof(*res));
    fail(e, 0, 0, "", "");
    const struct wa_node *ps = wa_node_child(iq, "pair-success");
    if (!from_server(iq) || !ps || wa_node_child_count(iq) != 1)
        return fail(e, -EBADMSG, 500, "internal-error", "pair-success iq malformed");
    size_t len = 0;
    const uint8_t *b = wa_node_content_bytes(wa_node_child(ps, "device-identity"), &len);
    if (!b || len == 0)
        return fail(e, -EBADMSG, 500, "internal-error", "pair-success without device-identity");
    int rc = wa_pairing_verify(cur->adv_secret, &cur->identity, b, len, res, e);
    if (rc < 0) return rc;
    *out = *cur;
    rc = read_device(ps, out, e);
    if (rc < 0) {
        wa_creds_wipe(out);
        return rc;
    }
    memcpy(out->account, res->account, res->account_len);
    out->account_len = res->account_len;
    return 0;
}

static struct wa_node *iq_to_server(const char *id, const char *type)
{
    struct wa_node *n = wa_node_new("iq");
    struct wa_jid s;
    if (!n || wa_jid_set(&s, "", WA_SERVER_PN) < 0 || wa_node_set_attr_jid(n, "to", &s) < 0 ||
        wa_node_set_attr(n, "type", type) < 0 || wa_node_set_attr(n, "id", id) < 0) {
        wa_node_free(n);
        return NULL;
    }
    return n;
}

static struct wa_node *add_child(struct wa_node *p, const char *tag)
{
    struct wa_node *c = wa_node_new(tag);
    if (c && wa_node_add_child(p, c) < 0) {
        wa_node_free(c);
        return NULL;
    }
    return c;
}

struct wa_node *wa_pairing_reply_node(const char *iq_id, const struct wa_pair_result *r)
{
    struct wa_node *iq = iq_to_server(iq_id, "result");
    struct wa_node *pds = iq ? add_child(iq, "pair-device-sign") : NULL;
    struct wa_node *di = pds ? add_child(pds, "device-identity") : NULL;
    char ki[16];
    snprintf(ki, sizeof(ki), "%u", r->key_index);
    if (!di || wa_node_set_attr(di, "key-index", ki) < 0 ||
        wa_node_set_bytes(di, r->reply, r->reply_len) < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

struct wa_node *wa_pairing_error_node(const char *iq_id, const struct wa_pair_error *e)
{
    struct wa_node *iq = iq_to_server(iq_id, "error");
    struct wa_node *er = iq ? add_child(iq, "error") : NULL;
    char code[16];
    snprintf(code, sizeof(code), "%d", e->code);
    if (!er || wa_node_set_attr(er, "code", code) < 0 ||
        wa_node_set_attr(er, "text", e->text) < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}
