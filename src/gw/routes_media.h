/* SPDX-License-Identifier: MIT */
/* routes_media.h -- POST /api/v1/messages with a file (issue 14, media send; docs/api.md
 * "Sending files"), handed to the channel's gw/chmsend.h.
 *
 *   JSON: {"to", "image"|"video"|"audio"|"document"|"sticker": {"path": "/abs/file"},
 *          "ptt"?: true (audio: a voice note), "caption"?, "mimetype"?, "file_name"?,
 *          "seconds"?, "reply_to"?, "mentions"?, "idempotency_key"?, "account"?}
 *   raw:  POST /api/v1/messages?to=...&type=image|video|audio|ptt|document|sticker[&caption=
 *          &file_name=&seconds=&reply_to=&idempotency_key=&account=] with the file as the body
 *          (its Content-Type the mimetype); a body over RMEDIA_RAW_MAX is spooled to a file
 *          by the API server as it arrives (api/server.h) and accepted from there, up to
 *          RMEDIA_SPOOL_MAX (and the kind's cap).
 *   multipart/form-data: the same fields as parts (to, type, caption, mimetype, file_name,
 *          seconds, reply_to, idempotency_key, account) and the file as a part named "file"
 *          (or named after its kind: "image", "ptt", ...; then "type" may be left out); the
 *          file part's Content-Type is the mimetype unless "mimetype" is given (or it is
 *          application/octet-stream), a document's file name defaults to the part's filename.
 *          Capped like a raw body (api/multipart.h has the part caps).
 * The answer (202 {"account","id","state":"queued"}) waits until the file's copy is durable
 * and its row committed; 400 for a bad file or field, 404/409/503 as for text.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "wa/outmsg.h"

#define RMEDIA_RAW_MAX (1024 * 1024) /* in memory (head included): forms, JSON */
#define RMEDIA_SPOOL_MAX                                                                           \
    ((uint64_t)256 << 20) /* a raw body, spooled to a file (the largest                            \
                           * kind's cap: each kind's own is checked) */

struct api_request;
struct api_response;
struct gw_channel_list;

/* True when the body names a file to send. */
bool rmedia_wanted(const cJSON *body);
/* True when the request is a raw-body upload (?type= in the query). */
bool rmedia_raw(const struct api_request *req);
/* A JSON send with a file: m has to, reply_to / mentions and idempotency_key filled. */
void rmedia_send_json(const struct api_request *req, const cJSON *body, struct wa_outmsg *m,
                      const char *account, struct api_response *res, struct gw_channel_list *l);
/* A raw-body upload. */
void rmedia_send_raw(const struct api_request *req, struct api_response *res,
                     struct gw_channel_list *l);
/* True when the body is multipart/form-data (Content-Type). */
bool rmedia_multipart(const struct api_request *req);
/* A multipart/form-data upload. */
void rmedia_send_multipart(const struct api_request *req, struct api_response *res,
                           struct gw_channel_list *l);
