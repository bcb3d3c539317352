/* SPDX-License-Identifier: MIT */
/* mediaxfer.h -- media upload and download on the libuv loop (protocol: docs/internals/media.md).
 *
 * Upload: encrypt a local file (wa/media.h) and POST it to
 *     https://HOST/mms/TYPE/TOKEN?auth=AUTH&token=TOKEN     (TOKEN = base64url(fileEncSha256))
 * The token must be in the URL before the body goes out, so the file is read twice: a first
 * pass computes the hashes (256 KiB per loop iteration), the second encrypts again on the fly
 * as the body is sent -- the same key and IV give the same bytes, and no encrypted copy is
 * written anywhere. If the file changes in between, the server refuses the hash (-EPROTO).
 * Download: GET https://HOST + directPath, decrypt as the bytes arrive into DEST.part (mode
 * 0600, same directory), then -- only after the MAC and both hashes verified -- fsync, rename
 * to DEST (an existing DEST is replaced) and fsync the directory. On any failure DEST.part is
 * removed and DEST untouched.
 * A download interrupted mid-body resumes with `Range: bytes=N-` (the decryptor keeps its
 * state); a server answering 200 instead of 206 makes it start over.
 *
 * Hosts: tried in order (the media_conn list); a network error, a timeout or a 5xx moves to
 * the next host; after the last one the round is repeated after a backoff (backoff_ms,
 * doubled per round) up to max_attempts rounds. Not retried: 401/403 (-EACCES: refresh the
 * media_conn and start again), 404/410 on a download (-ENOENT: the URL expired, send the
 * media retry receipt), 413 (-EMSGSIZE), other 4xx (-EPROTO), -EBADMSG (not authentic),
 * -EMSGSIZE (over the cap).
 *
 * Nothing blocks the loop for long: network I/O is libuv's, file I/O is synchronous but in
 * pieces of at most 256 KiB per callback (local files). Memory per transfer is constant
 * (~100 KiB). The callback runs exactly once, from a loop callback, unless wa_mxfer_cancel()
 * was called first; the transfer frees itself after it (the loop must keep running).
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wa/media.h"

#define WA_MXFER_HOSTS_MAX 8
#define WA_MXFER_PATH_MAX  1024

struct wa_mxfer;

struct wa_mxfer_opts {
    const char *const *hosts; /* "host[:port]" (media_conn hostnames), at least one */
    size_t nhosts;            /* <= WA_MXFER_HOSTS_MAX */
    const char *auth;         /* upload: the media_conn auth (required) */
    const char *ca_file;      /* PEM bundle; NULL = the system store */
    const char *const *dns_servers;
    size_t ndns_servers;
    int max_attempts; /* rounds over the hosts; <= 0: 3 */
    int backoff_ms;   /* first delay between rounds; <= 0: 1000 */
    int timeout_ms;   /* connect and idle timeout; <= 0: 20000 */
    uint64_t cap;     /* plaintext cap; 0 = wa_media_cap(type) */
};

struct wa_mupload_result {
    int err; /* 0 or a negative errno (see above) */
    int http_status;
    char url[WA_MXFER_PATH_MAX];
    char direct_path[WA_MXFER_PATH_MAX];
    uint8_t media_key[WA_MEDIA_KEY_LEN];
    uint8_t file_sha256[32];
    uint8_t file_enc_sha256[32];
    uint64_t file_length;
    char detail[200]; /* one line: "HTTP 401 from 127.0.0.1:4443", "connect: ECONNREFUSED ..." */
};

struct wa_mdownload_req {
    const char *direct_path;
    const uint8_t *media_key; /* 32 bytes */
    enum wa_media_type type;
    const uint8_t *file_sha256;     /* the message's, checked; NULL = not checked */
    const uint8_t *file_enc_sha256; /* likewise */
    const char *dest;               /* final path; DEST.part while in progress */
};

struct wa_mdownload_result {
    int err;
    int http_status;
    uint64_t file_length; /* plaintext bytes written to dest */
    int resumed;          /* times a Range request continued the download */
    char detail[200];
};

typedef void (*wa_mupload_cb)(void *ud, const struct wa_mupload_result *r);
typedef void (*wa_mdownload_cb)(void *ud, const struct wa_mdownload_result *r);

/* Start an upload of the file at path. media_key NULL = a fresh random key (reported in the
 * result). 0 and *out, or a negative errno with nothing started: -EINVAL, -ENOENT (no such
 * file), -EMSGSIZE (over the cap), -ENOMEM. */
int wa_media_upload(uv_loop_t *loop, const struct wa_mxfer_opts *o, const char *path,
                    enum wa_media_type t, const uint8_t *media_key, wa_mupload_cb cb, void *ud,
                    struct wa_mxfer **out) __attribute__((warn_unused_result));
/* Start a download. 0 and *out, or a negative errno with nothing started (-EINVAL, -EIO when
 * DEST.part cannot be created, -ENOMEM). */
int wa_media_download(uv_loop_t *loop, const struct wa_mxfer_opts *o,
                      const struct wa_mdownload_req *r, wa_mdownload_cb cb, void *ud,
                      struct wa_mxfer **out) __attribute__((warn_unused_result));
/* Stop a transfer whose callback has not run: no callback; DEST.part is removed. */
void wa_mxfer_cancel(struct wa_mxfer *x);
