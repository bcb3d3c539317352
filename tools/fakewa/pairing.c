/* SPDX-License-Identifier: MIT */
/* pairing.c -- pair-device refs, pair-success (ADV signing as the phone), pair-device-sign. */
#include "pairing.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "accounts.h"
#include "core/log.h"
#include "nb.h"
#include "paircode.h"

struct fw_pairing {
    char refs[FW_PAIR_REFS][48];
    uint8_t identity[32];
    uint32_t regid;
    uint32_t spk_id;
    uint8_t spk_pub[32];
    uint8_t spk_sig[64];
    char ps_id[64];         /* id of the pair-success iq, "" until scanned */
    struct fw_account *acc; /* after the scan */
    struct fw_device *dev;  /* allocated at the scan, registered after the sign */
    uint8_t details[128];   /* ADVDeviceIdentity bytes we signed */
    size_t details_len;
    struct fw_paircode *code; /* a phone-number code pairing (paircode.h), owned */
};

static bool field(protobuf_c_boolean has, ProtobufCBinaryData b, size_t len)
{
    return has && b.len == len;
}

int fw_pairing_start(struct fw_conn *c, const Wa__ClientPayload__DevicePairingRegistrationData *d,
                     char *err, size_t errlen)
{
    if (!field(d->has_eregid, d->eregid, 4) || !field(d->has_eident, d->eident, 32) ||
        !field(d->has_eskeyid, d->eskeyid, 3) || !field(d->has_eskeyval, d->eskeyval, 32) ||
        !field(d->has_eskeysig, d->eskeysig, 64)) {
        snprintf(err, errlen, "registration data incomplete");
        return -EBADMSG;
    }
    uint8_t msg[33] = {0x05};
    memcpy(msg + 1, d->eskeyval.data, 32);
    if (wa_xeddsa_verify(d->eident.data, msg, sizeof(msg), d->eskeysig.data, 64) != 0) {
        snprintf(err, errlen, "eSkeySig does not verify");
        return -EBADMSG;
    }
    struct fw_pairing *p = calloc(1, sizeof(*p));
    if (!p) return -ENOMEM;
    memcpy(p->identity, d->eident.data, 32);
    p->regid = (uint32_t)nb_rd_be(d->eregid.data, 4);
    p->spk_id = (uint32_t)nb_rd_be(d->eskeyid.data, 3);
    memcpy(p->spk_pub, d->eskeyval.data, 32);
    memcpy(p->spk_sig, d->eskeysig.data, 64);
    c->pair = p;
    c->state = FWC_PAIRING;
    fw_conn_set_deadline(c, FW_PAIRING_MS);
    char id[64];
    fw_conn_iq_id(c, "pd-", id, sizeof(id));
    struct wa_node *iq = nb_new("iq", "type", "set", "id", id, "xmlns", "md", NULL);
    nb_attr_jid(iq, "from", "s.whatsapp.net");
    struct wa_node *pd = nb_add(iq, "pair-device", NULL);
    for (int i = 0; i < FW_PAIR_REFS; i++) {
        uint8_t r[12];
        fw_random(r, sizeof(r));
        char b64[24];
        EVP_EncodeBlock((unsigned char *)b64, r, sizeof(r));
        for (char *q = b64; *q; q++)
            if (*q == '+' || *q == '/') *q = 'x';
        snprintf(p->refs[i], sizeof(p->refs[i]), "2@%s%llu", b64, (unsigned long long)c->serial);
        nb_add_bytes(pd, "ref", p->refs[i], strlen(p->refs[i]));
    }
    int rc = fw_conn_send(c, iq);
    wa_node_free(iq);
    return rc;
}

static long b64dec(const char *in, size_t n, uint8_t *out, size_t outmax)
{
    if (n == 0 || n % 4 || n / 4 * 3 > outmax + 2) return -EINVAL;
    uint8_t tmp[96];
    if (n / 4 * 3 > sizeof(tmp)) return -EINVAL;
    int len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
    if (len < 0) return -EINVAL;
    if (in[n - 1] == '=') len--;
    if (in[n - 2] == '=') len--;
    if ((size_t)len > outmax) return -EINVAL;
    memcpy(out, tmp, (size_t)len);
    return len;
}

struct qr {
    char ref[64];
    uint8_t noise[32], ident[32], adv[32];
};

static int qr_parse(const char *qr, struct qr *q)
{
    const char *p = strchr(qr, '#');
    p = p ? p + 1 : qr;
    const char *f[5];
    size_t fl[5];
    int n = 0;
    while (n < 5) {
        const char *e = strchr(p, ',');
        f[n] = p;
        fl[n] = e ? (size_t)(e - p) : strlen(p);
        n++;
        if (!e) break;
        p = e + 1;
    }
    if (n < 4 || fl[0] == 0 || fl[0] >= sizeof(q->ref)) return -EINVAL;
    memcpy(q->ref, f[0], fl[0]);
    q->ref[fl[0]] = 0;
    if (b64dec(f[1], fl[1], q->noise, 32) != 32 || b64dec(f[2], fl[2], q->ident, 32) != 32 ||
        b64dec(f[3], fl[3], q->adv, 32) != 32)
        return -EINVAL;
    return 0;
}

static struct fw_conn *conn_by_ref(struct fw_server *s, const char *ref)
{
    for (struct fw_conn *c = s->conns; c; c = c->next)
        if (c->state == FWC_PAIRING && c->pair)
            for (int i = 0; i < FW_PAIR_REFS; i++)
                if (strcmp(c->pair->refs[i], ref) == 0) return c;
    return NULL;
}

/* ADVDeviceIdentity -> signed (account signature) -> HMAC container, into out. */
static int build_identity(struct fw_pairing *p, struct fw_account *a, const uint8_t adv[32],
                          struct buf *out)
{
    Wa__ADVDeviceIdentity di = WA__ADVDEVICE_IDENTITY__INIT;
    di.has_rawid = di.has_timestamp = di.has_keyindex = di.has_accounttype = di.has_devicetype = 1;
    di.rawid = a->raw_id;
    di.timestamp = fw_now();
    di.keyindex = p->dev->key_index;
    di.accounttype = di.devicetype = WA__ADVENCRYPTION_TYPE__E2EE;
    p->details_len = wa__advdevice_identity__pack(&di, p->details);
    uint8_t msg[2 + 128 + 32] = {0x06, 0x00};
    memcpy(msg + 2, p->details, p->details_len);
    memcpy(msg + 2 + p->details_len, p->identity, 32);
    uint8_t sig[64];
    int rc = wa_xeddsa_sign(sig, a->acct.priv, msg, 2 + p->details_len + 32);
    if (rc < 0) return rc;
    Wa__ADVSignedDeviceIdentity sd = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    sd.has_details = sd.has_accountsignaturekey = sd.has_accountsignature = 1;
    sd.details = (ProtobufCBinaryData){p->details_len, p->details};
    sd.accountsignaturekey = (ProtobufCBinaryData){32, a->acct.pub};
    sd.accountsignature = (ProtobufCBinaryData){64, sig};
    uint8_t signed_bytes[512];
    size_t sl = wa__advsigned_device_identity__pack(&sd, signed_bytes);
    uint8_t mac[32];
    unsigned ml = 32;
    if (!HMAC(EVP_sha256(), adv, 32, signed_bytes, sl, mac, &ml)) return -EIO;
    Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    h.has_details = h.has_hmac = 1;
    h.details = (ProtobufCBinaryData){sl, signed_bytes};
    h.hmac = (ProtobufCBinaryData){32, mac};
    uint8_t cont[640];
    size_t cl = wa__advsigned_device_identity_hmac__pack(&h, cont);
    return buf_append(out, cont, cl);
}

static void send_pair_success(struct fw_conn *c, struct fw_account *a, const uint8_t *ident,
                              size_t len)
{
    struct fw_pairing *p = c->pair;
    fw_conn_iq_id(c, "ps-", p->ps_id, sizeof(p->ps_id));
    struct wa_node *iq = nb_new("iq", "type", "set", "id", p->ps_id, "xmlns", "md", NULL);
    nb_attr_jid(iq, "from", "s.whatsapp.net");
    nb_attr_u64(iq, "t", fw_now());
    struct wa_node *ps = nb_add(iq, "pair-success", NULL);
    nb_add_bytes(ps, "device-identity", ident, len);
    nb_add(ps, "platform", "name", "android", NULL);
    struct wa_node *dn = nb_add(ps, "device", NULL);
    char pn[WA_JID_STR_MAX], lid[WA_JID_STR_MAX];
    fw_pn_jid(a, p->dev->id, true, pn);
    fw_lid_jid(a, p->dev->id, true, lid);
    nb_attr_jid(dn, "jid", pn);
    nb_attr_jid(dn, "lid", lid);
    (void)fw_conn_send(c, iq);
    wa_node_free(iq);
}

int fw_pairing_complete(struct fw_conn *c, struct fw_account *a, const uint8_t adv[32],
                        char *jid_out, char *err, size_t errlen)
{
    struct fw_pairing *p = c->pair;
    if (!p || c->state != FWC_PAIRING) {
        snprintf(err, errlen, "not a pairing connection");
        return -ENOENT;
    }
    if (p->dev) {
        snprintf(err, errlen, "already scanned");
        return -EALREADY;
    }
    int rc = fw_device_add(a, &p->dev);
    if (rc < 0) {
        snprintf(err, errlen, "no room for another device");
        return rc;
    }
    p->acc = a;
    struct buf ident;
    buf_init(&ident, 4096);
    rc = build_identity(p, a, adv, &ident);
    if (rc < 0) {
        buf_free(&ident);
        fw_device_remove(a, p->dev);
        p->dev = NULL;
        snprintf(err, errlen, "signing failed");
        return rc;
    }
    fw_pn_jid(a, p->dev->id, true, jid_out);
    send_pair_success(c, a, ident.data, ident.len);
    buf_free(&ident);
    return 0;
}

const uint8_t *fw_pairing_companion_identity(const struct fw_conn *c)
{
    return c->pair ? c->pair->identity : NULL;
}

struct fw_paircode **fw_pairing_code_slot(struct fw_conn *c)
{
    return c->pair ? &c->pair->code : NULL;
}

int fw_pairing_scan(struct fw_server *s, const char *qr, struct fw_account *a, char *jid_out,
                    char *err, size_t errlen)
{
    struct qr q;
    if (qr_parse(qr, &q) < 0) {
        snprintf(err, errlen, "malformed QR string");
        return -EINVAL;
    }
    struct fw_conn *c = conn_by_ref(s, q.ref);
    if (!c) {
        snprintf(err, errlen, "no pairing connection shows ref %s", q.ref);
        return -ENOENT;
    }
    if (c->pair->dev) {
        snprintf(err, errlen, "already scanned");
        return -EALREADY;
    }
    if (memcmp(q.noise, c->client_static, 32) != 0 || memcmp(q.ident, c->pair->identity, 32) != 0) {
        snprintf(err, errlen, "QR keys do not match the connection");
        return -EKEYREJECTED;
    }
    int rc = fw_pairing_complete(c, a, q.adv, jid_out, err, errlen);
    OPENSSL_cleanse(q.adv, sizeof(q.adv));
    if (rc == 0) log_info("fakewa", c->name, "QR scanned by %s: device %s", a->phone, jid_out);
    return rc;
}

static int verify_sign(struct fw_pairing *p, const struct wa_node *iq, char *err, size_t errlen)
{
    struct wa_node *pds = wa_node_child(iq, "pair-device-sign");
    struct wa_node *di = pds ? wa_node_child(pds, "device-identity") : NULL;
    size_t len = 0;
    const uint8_t *b = di ? wa_node_content_bytes(di, &len) : NULL;
    Wa__ADVSignedDeviceIdentity *sd =
        b ? wa__advsigned_device_identity__unpack(NULL, len, b) : NULL;
    int rc = -EBADMSG;
    if (!sd || !sd->has_details || !sd->has_devicesignature || sd->devicesignature.len != 64 ||
        sd->details.len != p->details_len || memcmp(sd->details.data, p->details, p->details_len)) {
        snprintf(err, errlen, "pair-device-sign malformed or details changed");
    } else {
        uint8_t msg[2 + 128 + 64] = {0x06, 0x01};
        memcpy(msg + 2, p->details, p->details_len);
        memcpy(msg + 2 + p->details_len, p->identity, 32);
        memcpy(msg + 2 + p->details_len + 32, p->acc->acct.pub, 32);
        rc = wa_xeddsa_verify(p->identity, msg, 2 + p->details_len + 64, sd->devicesignature.data,
                              64);
        if (rc < 0) snprintf(err, errlen, "device signature does not verify");
        const char *ki = wa_node_attr(di, "key-index");
        if (rc == 0 && (!ki || strtoul(ki, NULL, 10) != p->dev->key_index)) {
            snprintf(err, errlen, "key-index mismatch");
            rc = -EBADMSG;
        }
    }
    if (sd) wa__advsigned_device_identity__free_unpacked(sd, NULL);
    return rc;
}

bool fw_pairing_on_iq(struct fw_conn *c, const struct wa_node *iq)
{
    struct fw_pairing *p = c->pair;
    const char *id = wa_node_attr(iq, "id");
    if (!p || !id || !p->ps_id[0] || strcmp(id, p->ps_id) != 0) return false;
    char err[128] = "";
    int rc = strcmp(wa_node_attr(iq, "type") ? wa_node_attr(iq, "type") : "", "result") == 0
                 ? verify_sign(p, iq, err, sizeof(err))
                 : -EBADMSG;
    struct wa_node *se = nb_new("stream:error", NULL);
    if (rc == 0) {
        struct fw_device *d = p->dev;
        memcpy(d->noise_pub, c->client_static, 32);
        memcpy(d->identity, p->identity, 32);
        d->regid = p->regid;
        d->spk_id = p->spk_id;
        memcpy(d->spk_pub, p->spk_pub, 32);
        memcpy(d->spk_sig, p->spk_sig, 64);
        d->registered = true;
        d->paired_at = fw_now();
        snprintf(d->platform, sizeof(d->platform), "web");
        fw_account_save(c->srv, p->acc);
        c->srv->stats.pairings++;
        log_info("fakewa", c->name, "paired %s:%u", p->acc->phone, d->id);
        p->dev = NULL; /* now owned by the account */
        nb_attr(se, "code", "515");
    } else {
        log_warn("fakewa", c->name, "pairing rejected: %s", err[0] ? err : "error reply");
        nb_attr(se, "code", "401");
    }
    (void)fw_conn_send(c, se);
    wa_node_free(se);
    fw_conn_close(c, false);
    return true;
}

void fw_pairing_free(struct fw_conn *c)
{
    struct fw_pairing *p = c->pair;
    if (!p) return;
    if (p->dev && !p->dev->registered) fw_device_remove(p->acc, p->dev);
    fw_paircode_free(p->code);
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
    c->pair = NULL;
}
