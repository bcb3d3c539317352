/* SPDX-License-Identifier: MIT */
/* payload.h -- the ClientPayload sent inside the Noise clientFinish (wa-protocol.md §3).
 *
 * Registration (unpaired creds): passive=false, pull=false, userAgent, webInfo{WEB_BROWSER},
 * connectType WIFI_UNKNOWN, connectReason USER_ACTIVATED and devicePairingData (eRegid BE32,
 * eKeytype 05, eIdent, eSkeyId BE24, eSkeyVal, eSkeySig, buildHash = MD5("2.3000.1043857760"),
 * deviceProps{os "Mac OS", 10.15.7, CHROME, historySyncConfig as Baileys}); no username/device.
 * Login (paired creds): username = user part of me_pn, passive=true, the same userAgent and
 * webInfo, connectType/connectReason 1, device = our device number, pull=true.
 * The bytes equal Baileys' (the `noise.client_payload_plaintext` vector for login).
 */
#pragma once
#include "core/buf.h"
#include "wa/creds.h"

#define WA_VERSION_PRIMARY   2u
#define WA_VERSION_SECONDARY 3000u
#define WA_VERSION_TERTIARY  1043857760u
#define WA_PAYLOAD_MAX       4096 /* the serialized payload never exceeds this */
#define WA_QR_PLATFORM_ID    "1"  /* Chrome, matching DeviceProps.platformType CHROME */

/* Append the registration payload for `c` (which need not be paired). 0, -ENOMEM, -EIO,
 * or the buf error. */
int wa_payload_registration(const struct wa_creds *c, struct buf *out)
    __attribute__((warn_unused_result));

/* Append the login payload. -EINVAL if c->me_pn is not "<digits>[:dev]@s.whatsapp.net". */
int wa_payload_login(const struct wa_creds *c, struct buf *out) __attribute__((warn_unused_result));
