/* SPDX-License-Identifier: MIT */
/* router.h -- what fakewa does with client input: ClientPayload (login / registration), iq
 * handlers, message fan-out, receipts, acks, offline queues; plus delivery to any device.
 *
 * Delivery model: every stanza for a device goes into that device's queue (accounts.h) and,
 * when the device is online and not passive, is sent at once. It stays queued until the
 * device acknowledges it (a <receipt> or an <ack> with the same id), and is sent again (with
 * an `offline` attribute) after the next login. Stanzas for a simulated device 0 are handed
 * to contacts.h immediately.
 *
 * Message tracking: the last FW_TRACK_SLOTS message ids remember their sender device, so
 * receipts (including retry receipts) are forwarded to the device that sent the message.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "accounts.h"
#include "conn.h"
#include "wa/node.h"

#define FW_TRACK_SLOTS 16384

/* The decrypted ClientPayload of a finished handshake. */
void fw_router_on_payload(struct fw_conn *c, const uint8_t *p, size_t len);
/* A node from a client (borrowed). */
void fw_router_on_node(struct fw_conn *c, const struct wa_node *n);
/* The connection is going away: unbind it from its device, drop pairing state. */
void fw_router_on_close(struct fw_conn *c);

/* Deliver a stanza to a device (takes ownership of node). */
void fw_deliver(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                struct wa_node *node);
/* Remember that message `id` was sent by (a, d) (for routing receipts). */
void fw_track_message(struct fw_server *s, const char *id, struct fw_account *a,
                      struct fw_device *d);
/* Route a message stanza as if device (a, d) had sent it (client or simulated sender):
 * fan-out per <to>/<participants>, group skmsg to every member device. Returns the number
 * of deliveries. The stanza is borrowed. */
size_t fw_route_message(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                        const struct wa_node *msg);
/* Route a receipt from (a, d) to the sender of the message it names (borrowed). */
void fw_route_receipt(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                      const struct wa_node *rcpt);
/* Send the offline queue of c's device (with `offline` attrs) and <ib><offline count/>. */
void fw_flush_queue(struct fw_conn *c, bool end_marker);
/* Free the message tracking table (s->track; allocated at the first fw_track_message). */
void fw_router_free(struct fw_server *s);
