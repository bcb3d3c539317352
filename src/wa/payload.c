/* SPDX-License-Identifier: MIT */
/* payload.c -- ClientPayload builders (registration and login) with Baileys' exact values. */
#include "wa/payload.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa.pb-c.h"

static void user_agent(Wa__ClientPayload__UserAgent *ua, Wa__AppVersion *v)
{
    wa__app_version__init(v);
    v->has_primary = v->has_secondary = v->has_tertiary = 1;
    v->primary = WA_VERSION_PRIMARY;
    v->secondary = WA_VERSION_SECONDARY;
    v->tertiary = WA_VERSION_TERTIARY;
    wa__client_payload__user_agent__init(ua);
    ua->has_platform = 1;
    ua->platform = WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB;
    ua->appversion = v;
    ua->mcc = "000";
    ua->mnc = "000";
    ua->osversion = "0.1";
    ua->device = "Desktop";
    ua->osbuildnumber = "0.1";
    ua->has_releasechannel = 1;
    ua->releasechannel = WA__CLIENT_PAYLOAD__USER_AGENT__RELEASE_CHANNEL__RELEASE;
    ua->localelanguageiso6391 = "en";
    ua->localecountryiso31661alpha2 = "US";
}

/* Fields shared by both payloads; ua/v/wi must outlive cp. */
static void common(Wa__ClientPayload *cp, Wa__ClientPayload__UserAgent *ua, Wa__AppVersion *v,
                   Wa__ClientPayload__WebInfo *wi, bool login)
{
    wa__client_payload__init(cp);
    user_agent(ua, v);
    wa__client_payload__web_info__init(wi);
    wi->has_websubplatform = 1;
    wi->websubplatform = WA__CLIENT_PAYLOAD__WEB_INFO__WEB_SUB_PLATFORM__WEB_BROWSER;
    cp->useragent = ua;
    cp->webinfo = wi;
    cp->has_passive = cp->has_pull = 1;
    cp->passive = cp->pull = login;
    cp->has_connecttype = cp->has_connectreason = 1;
    cp->connecttype = WA__CLIENT_PAYLOAD__CONNECT_TYPE__WIFI_UNKNOWN;
    cp->connectreason = WA__CLIENT_PAYLOAD__CONNECT_REASON__USER_ACTIVATED;
}

static int pack_append(const ProtobufCMessage *m, struct buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    int rc = buf_reserve(out, n);
    if (rc < 0) return rc;
    protobuf_c_message_pack(m, out->data + out->len);
    out->len += n;
    return 0;
}

/* DeviceProps as Baileys sends it for the browser tuple (Mac OS, Chrome). */
static int device_props(uint8_t *out, size_t max, size_t *len)
{
    Wa__DeviceProps dp = WA__DEVICE_PROPS__INIT;
    Wa__AppVersion v = WA__APP_VERSION__INIT;
    Wa__DeviceProps__HistorySyncConfig h = WA__DEVICE_PROPS__HISTORY_SYNC_CONFIG__INIT;
    v.has_primary = v.has_secondary = v.has_tertiary = 1;
    v.primary = 10, v.secondary = 15, v.tertiary = 7;
    h.has_storagequotamb = 1, h.storagequotamb = 10240;
    h.has_inlineinitialpayloadine2eemsg = 1, h.inlineinitialpayloadine2eemsg = 1;
    h.has_supportcallloghistory = 1, h.supportcallloghistory = 0;
    h.has_supportbotuseragentchathistory = 1, h.supportbotuseragentchathistory = 1;
    h.has_supportcagreactionsandpolls = 1, h.supportcagreactionsandpolls = 1;
    h.has_supportbizhostedmsg = 1, h.supportbizhostedmsg = 1;
    h.has_supportrecentsyncchunkmessagecounttuning = 1;
    h.supportrecentsyncchunkmessagecounttuning = 1;
    h.has_supporthostedgroupmsg = 1, h.supporthostedgroupmsg = 1;
    h.has_supportfbidbotchathistory = 1, h.supportfbidbotchathistory = 1;
    h.has_supportmessageassociation = 1, h.supportmessageassociation = 1;
    h.has_supportgrouphistory = 1, h.supportgrouphistory = 0;
    dp.os = "Mac OS";
    dp.version = &v;
    dp.has_platformtype = 1;
    dp.platformtype = WA__DEVICE_PROPS__PLATFORM_TYPE__CHROME;
    dp.has_requirefullsync = 1;
    dp.requirefullsync = 0;
    dp.historysyncconfig = &h;
    *len = wa__device_props__get_packed_size(&dp);
    if (*len > max) return -ENOBUFS;
    wa__device_props__pack(&dp, out);
    return 0;
}

static int build_hash(uint8_t md[16])
{
    char s[48];
    int n = snprintf(s, sizeof(s), "%u.%u.%u", WA_VERSION_PRIMARY, WA_VERSION_SECONDARY,
                     WA_VERSION_TERTIARY);
    unsigned mdlen = 0;
    return EVP_Digest(s, (size_t)n, md, &mdlen, EVP_md5(), NULL) == 1 && mdlen == 16 ? 0 : -EIO;
}

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    return (ProtobufCBinaryData){n, (uint8_t *)p};
}

int wa_payload_registration(const struct wa_creds *c, struct buf *out)
{
    Wa__ClientPayload cp;
    Wa__ClientPayload__UserAgent ua;
    Wa__AppVersion v;
    Wa__ClientPayload__WebInfo wi;
    Wa__ClientPayload__DevicePairingRegistrationData d =
        WA__CLIENT_PAYLOAD__DEVICE_PAIRING_REGISTRATION_DATA__INIT;
    uint8_t regid[4], ktype[1] = {SG_KEY_TYPE_DJB}, skid[3], md[16], props[256];
    size_t plen = 0;
    int rc = build_hash(md);
    if (rc == 0) rc = device_props(props, sizeof(props), &plen);
    if (rc < 0) return rc;
    common(&cp, &ua, &v, &wi, false);
    for (int i = 0; i < 4; i++)
        regid[i] = (uint8_t)(c->registration_id >> (24 - 8 * i));
    for (int i = 0; i < 3; i++)
        skid[i] = (uint8_t)(c->signed_prekey_id >> (16 - 8 * i));
    d.has_eregid = d.has_ekeytype = d.has_eident = d.has_eskeyid = d.has_eskeyval = 1;
    d.has_eskeysig = d.has_buildhash = d.has_deviceprops = 1;
    d.eregid = bin(regid, 4);
    d.ekeytype = bin(ktype, 1);
    d.eident = bin(c->identity.pub, 32);
    d.eskeyid = bin(skid, 3);
    d.eskeyval = bin(c->signed_prekey.pub, 32);
    d.eskeysig = bin(c->signed_prekey_sig, 64);
    d.buildhash = bin(md, 16);
    d.deviceprops = bin(props, plen);
    cp.devicepairingdata = &d;
    return pack_append(&cp.base, out);
}

int wa_payload_login(const struct wa_creds *c, struct buf *out)
{
    struct wa_jid j;
    if (wa_jid_parse(&j, c->me_pn, strnlen(c->me_pn, sizeof(c->me_pn))) < 0 ||
        strcmp(j.server, WA_SERVER_PN) != 0 || !j.user[0] ||
        strspn(j.user, "0123456789") != strlen(j.user) || strlen(j.user) > 19)
        return -EINVAL;
    Wa__ClientPayload cp;
    Wa__ClientPayload__UserAgent ua;
    Wa__AppVersion v;
    Wa__ClientPayload__WebInfo wi;
    common(&cp, &ua, &v, &wi, true);
    cp.has_username = cp.has_device = 1;
    cp.username = strtoull(j.user, NULL, 10);
    cp.device = j.device;
    return pack_append(&cp.base, out);
}
