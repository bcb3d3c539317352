/* SPDX-License-Identifier: MIT */
/* simkinds.h -- the message kinds a simulated phone sends and what it saw in what it got.
 *
 * fw_kind_build() turns an admin request body into a Message: "kind" one of text (default),
 * image, video, audio, ptt, document, sticker, location, contact, contacts, reaction, edit,
 * revoke, with "text" (text / edit) or "caption", "reply_to" {"id","participant"?,"text"?}
 * (contextInfo with a quoted conversation), "mentions" [JIDs], "target" (reaction / edit /
 * revoke: the message id), "target_from_me" (bool, default true: a message the recipient
 * sent), "emoji", "file_name", "seconds", "mimetype", "lat"/"long"/"name", "vcard". Media carry
 * a real file's fields when body has "direct_path" with "media_key", "file_sha256",
 * "enc_sha256" (hex), "url"? and "file_length" (what POST /admin/media/put answers), else
 * plausible fields and no file: a random media key, the SHA-256 of random "file" bytes, an
 * enc SHA-256, a direct path and an mmg URL, a file length. Strings are borrowed from body,
 * which must outlive the use of the Message.
 *
 * fw_kind_describe() says what a received Message is, for the sim's inbox: a new JSON object
 * {"type" (text, image, video, audio, ptt, document, sticker, reaction, ...), "caption"?,
 * "file_name"?, "seconds"?, "quoted"?: {"id","participant"}, "mentions"?, "reaction"?:
 * {"target","emoji"}, "edit"?: {"target","text"}, "revoke"?: {"target"}} (NULL on ENOMEM).
 */
#pragma once
#include <cjson/cJSON.h>

#include <stdint.h>

#include "wa.pb-c.h"
#include "wa/node.h"

struct fw_kind_msg; /* the Message and everything it points to */

/* A new Message from body (free with fw_kind_free), or NULL with a reason in err. */
struct fw_kind_msg *fw_kind_build(const cJSON *body, char *err, size_t errlen);
const Wa__Message *fw_kind_message(const struct fw_kind_msg *k);
void fw_kind_free(struct fw_kind_msg *k);

cJSON *fw_kind_describe(const Wa__Message *m);

/* Record a <chatstate> a client sent (from: its device JID), kept in a ring of the last 256;
 * GET /admin/chatstates lists them: {"chatstates":[{"from","to","state","media"?,"t_ms"}]}. */
void fw_chatstate_note(const char *from, const struct wa_node *n, uint64_t t_ms);
cJSON *fw_chatstates_json(void);
