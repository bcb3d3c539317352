/* SPDX-License-Identifier: MIT */
/* paircode.h -- fakewa's side of "link with phone number" (wa-protocol.md §5.5): the server
 * and the simulated primary phone together.
 *
 * 1. companion_hello (iq set xmlns=md <link_code_companion_reg stage=companion_hello>) on a
 *    pairing connection: the jid must name an account (else 404 item-not-found), the noise
 *    key must be the connection's, the wrapped ephemeral 80 bytes (else 400 bad-request).
 *    Answered with <link_code_companion_reg><link_code_pairing_ref>REF. A new hello replaces
 *    the previous one of that connection.
 * 2. The phone's user types a code (fw_paircode_type, the admin route POST /admin/paircode):
 *    the phone unwraps the companion's ephemeral with the code it was given (right or wrong:
 *    it cannot tell), wraps a fresh ephemeral of its own with the same code, and the server
 *    sends <notification type=link_code_companion_reg> with the ref, that wrapped key and the
 *    account's identity key (the primary's identity = the account signature key).
 * 3. companion_finish: the bundle must open with the phone's shared secret. It does not when
 *    the typed code was wrong: answered 401 text='incorrect-code' (our choice: what WhatsApp's
 *    server says is not documented by the anchors) and the code can be typed again. When it
 *    opens, both identity keys in it must be the expected ones, the ADV secret is derived as
 *    the companion does, the iq answered with a result and -- once the companion has acked
 *    the notification, as a phone's round trip would also take a moment -- pair-success
 *    sent HMACed with it (pairing.h fw_pairing_complete); from there it is QR pairing
 *    (pair-device-sign, 515).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

struct fw_paircode;

/* Offer an iq type=set from a pairing connection; true if it was a link_code_companion_reg
 * stage (answered here). */
bool fw_paircode_on_iq(struct fw_conn *c, const struct wa_node *iq);
/* The phone of account `phone` types `code`. 0 (the notification was sent), -ENOENT (no
 * connection waits for a code for that phone), -EINVAL (not 8 code characters),
 * -EALREADY (typed already: waiting for the companion's finish), -EIO. err says why. */
int fw_paircode_type(struct fw_server *s, const char *phone, const char *code, char *err,
                     size_t errlen) __attribute__((warn_unused_result));
/* An <ack> from a pairing connection (the notification's: pair-success waits for it). */
void fw_paircode_on_ack(struct fw_conn *c, const struct wa_node *ack);
void fw_paircode_free(struct fw_paircode *p);
