/* SPDX-License-Identifier: MIT */
/* mediaretry.h -- the media retry stanzas, sans-I/O (docs/internals/media.md, "Media retry").
 *
 * When a download URL has expired (404/410), the receiver asks the sender's phone to upload
 * the file again with a receipt, and the answer comes as a notification:
 *   <receipt id=MSGID to=OWN type='server-error'>
 *     <encrypt><enc_p>GCM(ServerErrorReceipt{stanzaId})</enc_p><enc_iv>12 bytes</enc_iv></encrypt>
 *     <rmr jid=CHAT from_me='true|false' [participant=SENDER]/></receipt>
 *   <notification type='mediaretry' id=MSGID ...>
 *     <encrypt><enc_p>GCM(MediaRetryNotification{stanzaId, directPath, result})</enc_p>
 *     <enc_iv/></encrypt> | <error code=N/>
 *     <rmr .../></notification>
 * The payloads are sealed with wa_media_retry_seal() (the message id is the AAD). The two
 * protobuf messages are encoded and decoded here (two and three fields). Both sides are
 * here: the client's (request, parse the notification) and the phone's (open the request,
 * build the notification: fakewa's simulated phones).
 * Returns 0 or a negative errno: -EINVAL (arguments), -EPROTO (malformed stanza or payload),
 * -EBADMSG (the payload does not open with this key and id), -ENOMEM.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "wa/media.h"
#include "wa/node.h"

#define WA_MRETRY_ID_MAX   128
#define WA_MRETRY_JID_MAX  128
#define WA_MRETRY_PATH_MAX 1024

/* MediaRetryNotification.ResultType */
enum wa_mretry_result_type {
    WA_MRETRY_GENERAL_ERROR = 0,
    WA_MRETRY_SUCCESS = 1,
    WA_MRETRY_NOT_FOUND = 2,
    WA_MRETRY_DECRYPTION_ERROR = 3,
};

/* Which message (the <rmr> child and the stanza id). */
struct wa_mretry_key {
    char id[WA_MRETRY_ID_MAX];
    char chat[WA_MRETRY_JID_MAX];        /* rmr jid */
    bool from_me;                        /* rmr from_me */
    char participant[WA_MRETRY_JID_MAX]; /* rmr participant, "" = none */
};

/* What a mediaretry notification says. */
struct wa_mretry_answer {
    struct wa_mretry_key key;
    int error_code; /* <error code=N>: the server or phone could not; 0 = none */
    bool has_payload;
    int result; /* enum wa_mretry_result_type, from the payload (-1 = absent) */
    char direct_path[WA_MRETRY_PATH_MAX];
};

/* The client's receipt. own_jid: the account's jid (device part dropped by the caller as
 * Baileys' jidNormalizedUser does); iv: 12 random bytes. *out is the caller's. */
int wa_mretry_request(const uint8_t media_key[WA_MEDIA_KEY_LEN], const struct wa_mretry_key *k,
                      const char *own_jid, const uint8_t iv[WA_MEDIA_RETRY_IV],
                      struct wa_node **out) __attribute__((warn_unused_result));
/* The phone's side: the receipt's key (rmr and id) and, with the media key, the decrypted
 * stanza id checked against the receipt's id (-EBADMSG when it does not open or differs).
 * media_key NULL: only the key is parsed. */
int wa_mretry_open_request(const struct wa_node *receipt, const uint8_t *media_key,
                           struct wa_mretry_key *k) __attribute__((warn_unused_result));
/* The phone's answer to a request, sent to the requesting device `to`: result and, for
 * SUCCESS, the new direct path, sealed with the media key; media_key NULL: an <error
 * code=result> child instead (a phone that cannot find the message). */
int wa_mretry_notification(const uint8_t *media_key, const struct wa_mretry_key *k, const char *to,
                           int result, const char *direct_path, const uint8_t iv[WA_MEDIA_RETRY_IV],
                           struct wa_node **out) __attribute__((warn_unused_result));
/* The client's side of the notification. media_key NULL: only the key and an error code. */
int wa_mretry_parse_notification(const struct wa_node *n, const uint8_t *media_key,
                                 struct wa_mretry_answer *out) __attribute__((warn_unused_result));

/* The two payloads as protobuf bytes (exposed for the tests): 0 and *len, -ENOBUFS. */
int wa_mretry_encode_receipt(const char *stanza_id, uint8_t *out, size_t cap, size_t *len);
int wa_mretry_encode_notification(const char *stanza_id, const char *direct_path, int result,
                                  uint8_t *out, size_t cap, size_t *len);
