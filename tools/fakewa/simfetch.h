/* SPDX-License-Identifier: MIT */
/* simfetch.h -- a simulated phone downloads the file of a media message it received.
 *
 * For an image, video, audio, document or sticker message whose directPath is one of fakewa's
 * media host (mediasrv.h), the phone reads the stored enc file, decrypts it with the message's
 * mediaKey (wa/media.h: MAC, padding, fileSha256 and fileEncSha256 all checked) and keeps the
 * plaintext as STATE/received/<fileSha256 hex> (mode 0600), as a real phone would download
 * and decrypt it. Synchronous on the loop: a test tool, files on local disk.
 */
#pragma once
#include <cjson/cJSON.h>

#include "wa.pb-c.h"

/* NULL for a Message without a file; else {"ok": bool, "path"?, "sha256"?, "length"?,
 * "mimetype"?, "error"?} (caller deletes). */
cJSON *fw_sim_fetch_media(const Wa__Message *m);
