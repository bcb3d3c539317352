/* SPDX-License-Identifier: MIT */
/* creds.h -- the per-device WhatsApp credentials (wa-protocol.md §9.1) as a plain value.
 *
 * A `struct wa_creds` holds everything a linked device must keep across restarts: the Noise
 * static key (identity of the connection), the Signal identity key pair and registration id,
 * the signed pre-key, the ADV secret shown in the QR code, and -- once paired -- our own PN
 * and LID JIDs, the ADVSignedDeviceIdentity ("account") bytes and the primary's platform.
 * `next_prekey_id` is the id of the next one-time pre-key to generate; it must be persisted
 * whenever it changes (the client reports it through its on_creds callback).
 *
 * The struct owns no heap memory; copy it freely, and wipe it with wa_creds_wipe() when done
 * (it holds private keys). The ADV secret and private keys are secrets: never log them.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signal/sg_keys.h"
#include "wa/jid.h"
#include "wa/keys.h"

#define WA_CREDS_ACCOUNT_MAX  1024 /* cap on the serialized ADVSignedDeviceIdentity */
#define WA_CREDS_NAME_MAX     128  /* push name / business name, with NUL */
#define WA_CREDS_PLATFORM_MAX 32   /* primary platform ("android", "iphone", ...), with NUL */

struct wa_creds {
    struct wa_keypair noise;               /* Noise static key pair */
    struct wa_keypair identity;            /* Signal identity key pair */
    uint32_t registration_id;              /* 1..SG_REG_ID_MAX */
    uint32_t signed_prekey_id;             /* 1..SG_PREKEY_ID_MAX */
    struct wa_keypair signed_prekey;       /* signed pre-key pair */
    uint8_t signed_prekey_sig[64];         /* XEdDSA(identity, 05 || signed_prekey.pub) */
    uint8_t adv_secret[32];                /* random at creation (QR pairing) */
    char me_pn[WA_JID_STR_MAX];            /* "15551230000:7@s.whatsapp.net"; "" = not paired */
    char me_lid[WA_JID_STR_MAX];           /* "211111111111111:7@lid"; "" if unknown */
    char push_name[WA_CREDS_NAME_MAX];     /* ours, or the business name; may be "" */
    uint8_t account[WA_CREDS_ACCOUNT_MAX]; /* ADVSignedDeviceIdentity incl. accountSignatureKey
                                            * and our deviceSignature */
    size_t account_len;
    char platform[WA_CREDS_PLATFORM_MAX]; /* the primary phone's platform */
    uint32_t next_prekey_id;              /* next one-time pre-key id, 1..SG_PREKEY_ID_MAX */
};

/* Fresh, unpaired credentials: random keys, a 14-bit registration id, signed pre-key 1,
 * random ADV secret, next pre-key id 1. Returns 0 or -EIO (RNG/crypto failure); *c is wiped
 * on failure. */
int wa_creds_generate(struct wa_creds *c) __attribute__((warn_unused_result));

/* True once pairing stored our PN JID. */
bool wa_creds_is_paired(const struct wa_creds *c);

/* Consistency check of a loaded or generated value: key pairs match their private halves,
 * the signed pre-key signature verifies, ids are in range, strings are terminated, the
 * account fits. Returns 0 or -EINVAL with a static reason in *why (may be NULL). */
int wa_creds_validate(const struct wa_creds *c, const char **why)
    __attribute__((warn_unused_result));

/* The Signal views of the same keys (what sg_memstore_set_identity / the store need). */
void wa_creds_sg_identity(const struct wa_creds *c, struct sg_identity *out);
void wa_creds_sg_signed_prekey(const struct wa_creds *c, struct sg_signed_prekey *out);

/* Zero everything (OPENSSL_cleanse). */
void wa_creds_wipe(struct wa_creds *c);
