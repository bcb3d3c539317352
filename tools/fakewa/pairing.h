/* SPDX-License-Identifier: MIT */
/* pairing.h -- QR pairing of a new companion, with fakewa acting as the primary phone.
 *
 * Flow (wa-protocol.md §5.1-§5.3): a registration ClientPayload starts a pairing on the
 * connection (eSkeySig verified, `pair-device` iq with FW_PAIR_REFS refs sent). The admin
 * API "scans" a QR string (fw_pairing_scan): the ref selects the connection, the QR's noise
 * and identity keys must match the connection's, a companion device is allocated on the
 * account, and `pair-success` is sent with an ADVSignedDeviceIdentityHMAC (account signature
 * prefix 06 00 by the account key, HMAC-SHA256 keyed by the QR's adv secret). The client's
 * `pair-device-sign` reply is verified (device signature 06 01 by the companion identity over
 * details || identity || account key); then the device is registered and persisted and the
 * server sends <stream:error code='515'/> and closes. A failed verification closes with
 * <stream:error code='401'/> and discards the device.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "wa.pb-c.h"

#define FW_PAIR_REFS 6

struct fw_pairing;

/* Start a pairing on c from the registration data. -EBADMSG (missing fields or a bad
 * eSkeySig; detail in err) or -ENOMEM. */
int fw_pairing_start(struct fw_conn *c, const Wa__ClientPayload__DevicePairingRegistrationData *d,
                     char *err, size_t errlen) __attribute__((warn_unused_result));
/* The phone scans `qr` for account a. On success *jid_out (WA_JID_STR_MAX) is the new
 * device JID. Errors: -ENOENT (no connection shows that ref), -EINVAL (malformed QR),
 * -EKEYREJECTED (keys do not match the connection), -EALREADY (already scanned), -ENOSPC. */
int fw_pairing_scan(struct fw_server *s, const char *qr, struct fw_account *a, char *jid_out,
                    char *err, size_t errlen) __attribute__((warn_unused_result));
/* Complete the pairing of c for account a with this ADV secret (the QR's, or the one a
 * pairing code derived): allocate the device and send pair-success. Errors as
 * fw_pairing_scan (-ENOENT: c is not pairing). */
int fw_pairing_complete(struct fw_conn *c, struct fw_account *a, const uint8_t adv[32],
                        char *jid_out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The companion's identity key from its registration data (NULL unless pairing). */
const uint8_t *fw_pairing_companion_identity(const struct fw_conn *c);
/* Where c's code-pairing state lives (NULL unless pairing); freed with the pairing. */
struct fw_paircode;
struct fw_paircode **fw_pairing_code_slot(struct fw_conn *c);
/* Offer an iq (type result/error) from a pairing connection; true if it was consumed. */
bool fw_pairing_on_iq(struct fw_conn *c, const struct wa_node *iq);
/* Free the pairing state of c (an unfinished device is discarded). */
void fw_pairing_free(struct fw_conn *c);
