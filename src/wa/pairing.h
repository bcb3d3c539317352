/* SPDX-License-Identifier: MIT */
/* pairing.h -- sans-I/O QR pairing (wa-protocol.md §5.1-5.3): QR strings, pair-success
 * verification and the pair-device-sign reply.
 *
 * Nothing here touches a socket, a loop or a store: the client feeds the `pair-success` iq in
 * and gets the new credentials plus the reply node (or the error node) out. Verification
 * works on the exact received bytes (never re-serialised before an HMAC/signature check):
 *   1. device-identity = ADVSignedDeviceIdentityHMAC; HMAC-SHA256(adv secret, [06 05 if
 *      accountType HOSTED] || details) must equal hmac (constant time)  -> 401 hmac-mismatch
 *   2. details = ADVSignedDeviceIdentity; accountSignatureKey 32 bytes, accountSignature 64
 *   3. accountSignature verifies with accountSignatureKey over
 *      06 00 (06 05 for a HOSTED device) || ADVSignedDeviceIdentity.details || our identity pub
 *                                                                    -> 401 signature-mismatch
 *   4. deviceSignature = XEdDSA(our identity, 06 01 || details || our identity pub || account
 *      signature key)
 *   5. account (persisted) = {details, accountSignatureKey, accountSignature, deviceSignature};
 *      reply = the same without accountSignatureKey, in
 *      <iq to=s.whatsapp.net type=result id=Y><pair-device-sign>
 *        <device-identity key-index='<ADVDeviceIdentity.keyIndex>'>reply</device-identity>
 * Malformed input (bad protobuf, wrong sizes, missing device jid) -> 500 internal-error.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "wa/creds.h"
#include "wa/node.h"

#define WA_QR_MAX          640 /* longest QR string wa_pairing_qr_string() writes */
#define WA_PAIR_REF_MAX    256 /* longest ref we accept from the server */
#define WA_PAIR_REFS_MAX   16  /* most refs we keep from one pair-device iq */
#define WA_ADV_DETAILS_MAX 512 /* cap on ADVDeviceIdentity bytes */

/* Signature-message prefixes (second byte). */
#define WA_ADV_PREFIX_ACCOUNT        0x00
#define WA_ADV_PREFIX_DEVICE         0x01
#define WA_ADV_PREFIX_HOSTED_ACCOUNT 0x05

/* "https://wa.me/settings/linked_devices#<ref>,<b64 noise pub>,<b64 identity pub>,
 * <b64 adv secret>,<platform id>". Returns the length, -EINVAL (empty ref, ref longer than
 * WA_PAIR_REF_MAX or containing ',' / NUL) or -ENOBUFS. */
int wa_pairing_qr_string(const char *ref, size_t ref_len, const struct wa_creds *c,
                         const char *platform_id, char *out, size_t outlen);

/* Append prefix (06 p) || details || ident_pub [|| account_key] to out: the message of the
 * account (p = 00/05) or device (p = 01, account_key given) signature. */
int wa_pairing_sig_msg(uint8_t p, const uint8_t *details, size_t dlen, const uint8_t ident_pub[32],
                       const uint8_t *account_key, struct buf *out)
    __attribute__((warn_unused_result));

/* Result of a verified pair-success. */
struct wa_pair_result {
    uint8_t account[WA_CREDS_ACCOUNT_MAX]; /* with accountSignatureKey + our deviceSignature */
    size_t account_len;
    uint8_t reply[WA_CREDS_ACCOUNT_MAX]; /* without accountSignatureKey */
    size_t reply_len;
    uint8_t account_key[32]; /* the primary phone's identity key */
    uint32_t key_index;
};

/* Error to answer with (and to report). */
struct wa_pair_error {
    int code;         /* 401 or 500 */
    const char *text; /* "hmac-mismatch", "signature-mismatch", "internal-error" */
    const char *why;  /* human detail (static) */
};

/* Steps 1-5 on the device-identity bytes. 0, or -EBADMSG (malformed), -EKEYREJECTED (HMAC or
 * signature) with *e filled, or -ENOMEM/-EIO. */
int wa_pairing_verify(const uint8_t adv_secret[32], const struct wa_keypair *identity,
                      const uint8_t *container, size_t len, struct wa_pair_result *out,
                      struct wa_pair_error *e) __attribute__((warn_unused_result));

/* Handle a whole pair-success iq: checks from == s.whatsapp.net and a single <pair-success>
 * child, verifies (wa_pairing_verify) and fills *out = *cur plus me_pn (device@jid), me_lid
 * (device@lid), platform (platform@name), push_name (biz@name, if any) and account.
 * Errors as wa_pairing_verify; *e is filled on every failure. */
int wa_pairing_process(const struct wa_node *iq, const struct wa_creds *cur, struct wa_creds *out,
                       struct wa_pair_result *res, struct wa_pair_error *e)
    __attribute__((warn_unused_result));

/* <iq to=s.whatsapp.net type=result id=..><pair-device-sign><device-identity key-index=..>
 * reply bytes. NULL on ENOMEM. */
struct wa_node *wa_pairing_reply_node(const char *iq_id, const struct wa_pair_result *r);

/* <iq to=s.whatsapp.net type=error id=..><error code=.. text=../></iq>. NULL on ENOMEM. */
struct wa_node *wa_pairing_error_node(const char *iq_id, const struct wa_pair_error *e);
