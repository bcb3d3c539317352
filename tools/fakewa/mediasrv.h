/* SPDX-License-Identifier: MIT */
/* mediasrv.h -- fakewa's media host: what mmg.whatsapp.net does for clients (upload, download
 * by directPath), plus admin knobs to expire, corrupt, put and inspect files.
 *
 * HTTPS only (mhttp.h, the test CA of --listen-tls): real clients always build
 * https://HOST/... from the media_conn hosts. Protocol facts: docs/internals/media.md.
 *   POST /mms/TYPE/TOKEN?auth=AUTH&token=TOKEN   TYPE image|video|audio|document|md-app-state;
 *        AUTH the media_conn auth (401 when wrong or older than its ttl); TOKEN base64url
 *        (no padding) of the body's SHA-256, checked once the body is in (400 when it does
 *        not match); body over FW_MEDIA_FILE_MAX -> 413, store full -> 507.
 *        200 {"url","direct_path","handle","object_id","ts"}.
 *   GET  DIRECT_PATH (/v/t62.7118-24/<enc sha256 hex>.enc?ccb=11-4&oh=SIG&oe=EXP&_nc_g=GEN)
 *        200 the enc file, 206 with `Range: bytes=A-[B]` (416 when unsatisfiable), 403 a
 *        forged path (SIG is an HMAC of the rest with a per-process secret), 404 unknown,
 *        410 expired (admin expire, or EXP passed).
 * Files live on disk under STATE/media/<hex>.enc (mode 0600, wiped at start); the index is in
 * memory (at most FW_MEDIA_MAX_FILES files, FW_MEDIA_TOTAL_MAX bytes).
 */
#pragma once
#include <stddef.h>
#include <cjson/cJSON.h>

#include "server.h"

#define FW_MEDIA_MAX_FILES 4096
#define FW_MEDIA_FILE_MAX  (256ull << 20)
#define FW_MEDIA_TOTAL_MAX (2ull << 30)
#define FW_MEDIA_TTL_S     3600 /* media_conn auth ttl (default; POST /admin/media/auth) */
#define FW_MEDIA_URL_TTL_S (14 * 86400)

/* Start the media host on host:port (0 = any; needs s->tls); *bound gets the port. */
int fw_media_start(struct fw_server *s, const char *host, int port, int *bound)
    __attribute__((warn_unused_result));
void fw_media_stop(void);

/* For the media_conn iq: 0 with the hostname ("127.0.0.1:PORT"), auth and ttl, or -ENOENT
 * when no media host runs. */
int fw_media_conn_info(const char **host, const char **auth, unsigned *ttl);

/* The stored enc file of a direct path this host handed out (its signature is not checked:
 * for the simulated phones, which download from their own host): 0 with the file's path and
 * *dir = the state dir, or -ENOENT. */
int fw_media_file_of(const char *direct_path, char *path, size_t cap, const char **dir);

/* A client's <receipt type='server-error'> (media retry request) from connection c: the
 * sender's simulated phone answers with <notification type='mediaretry'> -- a new direct
 * path when the message was put with a msg_id (POST /admin/media/put), else <error code=2>. */
struct fw_conn;
struct wa_node;
void fw_media_on_retry(struct fw_conn *c, const struct wa_node *receipt);

/* The phone sent message msg_id referencing the stored file enc_hex (its enc SHA-256, hex)
 * with this media key: it answers media retries for it (last FW_MEDIA_SENT_MAX kept). */
void fw_media_remember(const char *msg_id, const uint8_t key[32], const char *enc_hex);

/* Admin routes under /admin/media (README.md): the reply (caller deletes) and *status, or
 * NULL when the route is not a media one. body may be NULL (GET). */
cJSON *fw_media_admin(struct fw_server *s, const char *method, const char *path, const char *query,
                      const cJSON *body, int *status);
