/* SPDX-License-Identifier: MIT */
/* flood.h -- a burst of texts from one simulated phone, spread over many accounts
 * (POST /admin/flood, the load generator of bench/compare.py's accounts-per-node rows).
 *
 * Body: {"from":"alice","to":["+15550001",...],"count":N,"text":"bench"}: the phone of
 * `from` (a contact or account with a simulated phone) sends N texts "<text> <k>" (k from 0,
 * text "flood" by default), the k-th to to[k % len(to)] (an account as the send route takes
 * it: "+phone", digits, contact name; or a group id / JID), each encrypted and routed as POST
 * /admin/contacts/<from>/send does (fw_sim_send_msg). The targets are resolved once, at the
 * start (an unknown one: -ENOENT, nothing sent). Sending runs on the loop in slices of
 * FW_FLOOD_SLICE messages per loop iteration (an idle handle), so the connections' I/O (the
 * clients' acks and receipts, a requester that goes away) goes on meanwhile; without HTTP per
 * message the flood costs fakewa only the encryption and the routing of each text.
 *
 * Account saves are held while a flood runs (accounts.h fw_account_save_soon): the one-time
 * pre-keys its first texts take are written once per account after the last text (after
 * done has answered: each is an atomic write with two fsyncs, on the loop).
 *
 * Limits: 1..FW_FLOOD_TARGETS_MAX targets, 1..FW_FLOOD_COUNT_MAX texts, text 1..256 bytes;
 * one flood at a time (-EBUSY).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "server.h"

#define FW_FLOOD_SLICE       64
#define FW_FLOOD_TARGETS_MAX 10000
#define FW_FLOOD_COUNT_MAX   1000000

struct fw_flood;

struct fw_flood_result {
    size_t sent;     /* texts encrypted and routed */
    double wall_ms;  /* from the start to the last one routed */
    double cpu_ms;   /* fakewa's CPU (the whole process: user + system) over that time */
    int rc;          /* 0, or the error that stopped the flood after `sent` texts */
    char error[256]; /* rc's detail, "" when rc == 0 */
};

/* Called once, on the loop, when the flood ends (all sent, or the first failure). */
typedef void (*fw_flood_done_fn)(void *arg, const struct fw_flood_result *r);

/* Validate body and start sending; done(arg, result) comes on a later loop iteration (never
 * from inside this call). 0, -EINVAL (bad body: detail in err), -ENOENT (unknown sender or
 * target, or no simulated phone), -EBUSY (a flood is running), -ENOMEM. *out (may be NULL)
 * gets the handle for fw_flood_cancel. */
int fw_flood_start(struct fw_server *s, const cJSON *body, fw_flood_done_fn done, void *arg,
                   struct fw_flood **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Stop a running flood without calling done (its requester went away). NULL ok. */
void fw_flood_cancel(struct fw_flood *f);
