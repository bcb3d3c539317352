/* SPDX-License-Identifier: MIT */
/* bench.h -- in-process routing benchmark (wagate-fakewa --bench N), used by
 * bench/bench_fakewa.c. Runs on the calling thread with a throw-away registry (no state
 * dir, no sockets) and prints "key value" figures to out:
 *   route_msgs_per_s   1:1 stanzas from a companion, decoded from wire bytes, fanned out to
 *                      3 offline companion devices (2 of the recipient, 1 of the sender),
 *                      each delivery encoded and AES-GCM encrypted as for sending, then
 *                      cleared by the recipients' receipts (forwarded back to the sender
 *                      and acked)
 *   signal_msgs_per_s  1:1 texts between two simulated phones with real Signal state
 *                      (encrypt, route, decrypt, receipt)
 */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "server.h"

/* 0 or negative errno. s must have sig and reg initialised and an empty state_dir. */
int fw_bench_run(struct fw_server *s, size_t n, FILE *out) __attribute__((warn_unused_result));
