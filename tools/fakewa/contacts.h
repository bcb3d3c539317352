/* SPDX-License-Identifier: MIT */
/* contacts.h -- simulated devices with real Signal state (libsignal-protocol-c): every
 * account's primary phone (device 0) and the named contacts driven by the admin API.
 *
 * A `struct fw_sim` holds an in-memory Signal store whose identity is the account key pair,
 * a signed pre-key and FW_SIM_PREKEYS one-time pre-keys (their public halves are published
 * on the account's device 0, so fakewa's own bundle fetch hands them out). Sessions are kept
 * under LID addresses ("<lid>_1", device). Stanzas delivered to device 0 are decrypted here
 * (pkmsg/msg/skmsg, SKDM processed, padding removed) and recorded in the inbox (capped at
 * FW_SIM_INBOX entries, oldest dropped); a delivery receipt is then routed back.
 * A retry receipt for one of the sim's recent 1:1 texts is answered the way whatsmeow and
 * Baileys answer it (docs/internals/retry-receipts.md): with <keys> in the receipt, a new
 * session from that bundle; without keys, a new session from the server's bundle when there
 * is none or at count >= 2 (at most once per device per FW_SIM_RECREATE_MS); else the
 * current session. The resend carries <enc count=N>; FW_SIM_RETRY_MAX answers per message.
 * A phone (device 0) answers its own companions' placeholder resend requests (§7.8) for the
 * messages it decrypted itself, with the text in a WebMessageInfo.
 * Persisted (through the account file): registration id and signed pre-key; sessions and
 * one-time pre-keys are regenerated after a restart.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "accounts.h"
#include "server.h"
#include "wa/node.h"
#include "wa.pb-c.h"

#define FW_SIM_PREKEYS     200
#define FW_SIM_INBOX       1000
#define FW_SIM_TEXT_MAX    65536
#define FW_SIM_RETRY_MAX   5                /* answers per sent message (Baileys) */
#define FW_SIM_RECREATE_MS (3600ull * 1000) /* keyless rebuilds: once per device per hour */

struct fw_sim;

/* Create the simulated state for account a (saved: the account JSON to restore the
 * registration id and signed pre-key from, or NULL for new ones). Fills device 0's public
 * key material. 0 or negative errno. */
int fw_sim_new(struct fw_server *s, struct fw_account *a, const cJSON *saved, struct fw_sim **out)
    __attribute__((warn_unused_result));
void fw_sim_free(struct fw_sim *sim);
/* Add the persistent fields to the account JSON object. */
void fw_sim_export(const struct fw_sim *sim, cJSON *o);

/* A stanza (message/receipt/notification) delivered to device 0 of account a. Borrowed. */
void fw_sim_receive(struct fw_server *s, struct fw_account *a, const struct wa_node *stanza);

/* Send a text from a's phone to `to` ("+phone", phone digits, contact name, or a group id /
 * JID): encrypt to every device of every recipient (bundles from the registry, sender keys for
 * groups) and route. id_out (>= 64 bytes) gets the message id. Errors: -ENOENT unknown
 * recipient, -EINVAL, crypto/store errors (detail in err). */
int fw_sim_send_text(struct fw_server *s, struct fw_account *a, const char *to, const char *text,
                     char *id_out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The same; a group text with `mention` (a JID, or NULL) goes out as an extendedTextMessage
 * whose contextInfo.mentionedJid holds it. */
int fw_sim_send(struct fw_server *s, struct fw_account *a, const char *to, const char *text,
                const char *mention, char *id_out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same for any Message (simkinds.h): content is borrowed for the call; the stanza's
 * type is "reaction", "media" or "text" by its kind. */
int fw_sim_send_msg(struct fw_server *s, struct fw_account *a, const char *to,
                    const Wa__Message *content, char *id_out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same to a recipient already looked up: the group g, else the account ra (one of the
 * two not NULL; flood.h sends this way, without a lookup per message). */
int fw_sim_send_to(struct fw_server *s, struct fw_account *a, struct fw_group *g,
                   struct fw_account *ra, const Wa__Message *content, char *id_out, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

/* The sim asks again for message `id` it received (a test driver for the sender's side of
 * retry receipts, fault-matrix row 34): a <receipt type=retry> with <retry count=count> to the
 * device that sent it, with <keys> (identity, a fresh one-time pre-key kept in the sim's store,
 * signed pre-key) when keys, and <registration>. The answer is decrypted like any message.
 * -ENOENT (no such message in the inbox), -EINVAL. */
int fw_sim_send_retry(struct fw_server *s, struct fw_account *a, const char *id, unsigned count,
                      bool keys, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Tests: the sends that follow build a NEW session with each recipient device (not the
 * sender's own companions) from the bundle the registry holds now (CURRENT) or from the
 * one before the device's last signed pre-key rotation (PREVIOUS: as if the bundle had been
 * fetched before it; CURRENT when there was none). KEEP (the default) uses existing ones. */
enum fw_sim_bundle { FW_SIM_BUNDLE_KEEP = 0, FW_SIM_BUNDLE_CURRENT, FW_SIM_BUNDLE_PREVIOUS };
void fw_sim_fresh_sessions(struct fw_sim *sim, enum fw_sim_bundle b);

/* Tests: whether the sim answers retry receipts for its texts (default true). */
void fw_sim_answer_retries(struct fw_sim *sim, bool on);
/* Tests: whether a phone answers placeholder resend requests (default true). */
void fw_sim_answer_placeholders(struct fw_sim *sim, bool on);

/* {"messages":[...], "receipts":[...]} as a new cJSON object (caller deletes). */
cJSON *fw_sim_inbox_json(const struct fw_sim *sim);
