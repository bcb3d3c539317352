/* SPDX-License-Identifier: MIT */
/* faults.h -- injected failures for tests (POST /admin/fault).
 *
 * A fault request is a JSON object {"type": ..., "phone": "+1555..." (optional scope),
 * "device": N (optional scope), "duration_ms": N (optional), ...}:
 *   close         close matching connections; "reset": true for a TCP RST, else WS close
 *   stream_error  send <stream:error code=N> ("code": 515, 503, 500, 401 (with
 *                 <conflict type='device_removed'/>), 440 (<conflict type='replaced'/>, no
 *                 code attribute)) and close
 *   failure       the next login(s) of the scope get <failure reason=N> instead of <success>
 *                 ("reason": 401, 402 (+ "code", "expire"), 403, 405, ...); live connections
 *                 of the scope are closed so that they log in again; one-shot unless
 *                 duration_ms is given
 *   stall         matching connections stop answering pings (TCP stays up) for duration_ms
 *                 (default: until closed)
 *   blackhole     matching connections are neither read nor written; after duration_ms (if
 *                 given) they are reset
 *   refuse        new WebSocket upgrades are answered 503 for duration_ms (default 5000)
 *   corrupt       the next "count" (default 1) messages delivered to the scope get a broken
 *                 MAC (last ciphertext byte flipped)
 *   iq_error      the next "count" (default 1) iqs of namespace "xmlns" ("w:g2", "usync",
 *                 "encrypt") from the scope are answered <error code="code" (default 500)>
 *   handshake_close  the next "count" (default 1) new connections, or every one for
 *                 duration_ms, are closed when their Noise client hello arrives (before the
 *                 server hello; no scope: nobody is logged in yet); "reset": true for a TCP
 *                 RST, else a WS close
 * At most FW_MAX_FAULTS armed faults; expired ones are dropped by a 100 ms timer.
 */
#pragma once
#include <stdbool.h>
#include <cjson/cJSON.h>

#include "accounts.h"
#include "conn.h"
#include "server.h"

#define FW_MAX_FAULTS 64

int fw_faults_init(struct fw_server *s) __attribute__((warn_unused_result));
void fw_faults_free(struct fw_server *s);
/* Apply a fault request. Returns the number of connections affected (>= 0) or -EINVAL /
 * -ENOSPC with a detail in err. */
int fw_fault_apply(struct fw_server *s, const cJSON *req, char *err, size_t errlen);
/* Hook: a login of (a, d) is about to succeed; returns a <failure> node to send instead
 * (caller frees) or NULL. */
struct wa_node *fw_faults_on_login(struct fw_server *s, struct fw_account *a, struct fw_device *d);
/* Hook: an iq of this namespace from (a, d) is about to be answered: an error code to answer
 * with instead (an armed iq_error fault), or 0. */
int fw_faults_on_iq(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                    const char *xmlns);
/* Hook: a Noise client hello arrived on a new connection: 0 = go on, 1 = close it, 2 = reset
 * it (fault handshake_close). */
int fw_faults_on_handshake(struct fw_server *s);
/* Hook: node is about to be delivered to device (a, d) (may be modified in place). */
void fw_faults_on_send(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                       struct wa_node *node);
/* JSON array describing the armed faults (caller deletes). */
cJSON *fw_faults_json(struct fw_server *s);
