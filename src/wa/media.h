/* SPDX-License-Identifier: MIT */
/* media.h -- WhatsApp media encryption, sans-I/O and streaming (docs/internals/media.md).
 *
 * A media file travels encrypted: a random 32-byte media key is expanded with HKDF-SHA256
 * (no salt, info "WhatsApp <Kind> Keys", 112 bytes) into IV (16), cipher key (32), MAC key
 * (32) and a ref key (32, unused here). The uploaded file ("enc file") is
 *     AES-256-CBC(cipher key, IV, PKCS#7(plaintext)) || HMAC-SHA256(MAC key, IV ||
 * ciphertext)[0..10) The message carries fileSha256 = SHA-256(plaintext), fileEncSha256 =
 * SHA-256(enc file) and fileLength = plaintext length.
 *
 * Both directions are streaming contexts with constant memory (a few hundred bytes of
 * state, no buffering of the file): feed chunks of any size, get output chunks, finish.
 *
 * Decryption contract (important): wa_media_dec_update() hands out plaintext BEFORE the MAC
 * and the hashes are verified -- only wa_media_dec_final() returning 0 says the file is
 * authentic and complete. A caller must write the plaintext to a temporary file (same
 * directory, mode 0600), and rename it into place only after final() returned 0 (fsync
 * first if it must survive a crash); on any error it unlinks the temporary file. Never hand
 * unverified plaintext to a final consumer (an agent, a hook, the API).
 *
 * Errors: every function returns 0 or a negative errno: -EINVAL (bad argument, unknown type,
 * output buffer too small), -EMSGSIZE (over the plaintext cap), -EBADMSG (MAC, padding,
 * length or hash mismatch: the file is not authentic), -EIO (OpenSSL failure), -ENOMEM.
 * After an error the context is dead: only _free() may be called.
 *
 * Caps: every context has a plaintext cap (wa_media_cap(type) when 0 is passed, else the
 * smaller of the two); the decryptor refuses more ciphertext than cap + one padding block +
 * the MAC as soon as it arrives.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define WA_MEDIA_KEY_LEN    32
#define WA_MEDIA_MAC_LEN    10 /* truncated HMAC-SHA256 appended to the ciphertext */
#define WA_MEDIA_BLOCK      16
#define WA_MEDIA_SHA256_LEN 32
#define WA_MEDIA_EXPANDED   112
#define WA_MEDIA_RETRY_IV   12 /* AES-GCM nonce of a media retry payload */
#define WA_MEDIA_RETRY_TAG  16
/* Output room needed beyond the input length: update() may release held-back bytes; final()
 * writes at most one block (encrypt: + the MAC). */
#define WA_MEDIA_OUT_SLACK (WA_MEDIA_BLOCK + WA_MEDIA_MAC_LEN + WA_MEDIA_BLOCK)
#define WA_MEDIA_FINAL_MAX (WA_MEDIA_BLOCK + WA_MEDIA_MAC_LEN)

/* Plaintext caps per type (bytes), the defaults of wa_media_cap(). */
#define WA_MEDIA_CAP_IMAGE    (16ull << 20)
#define WA_MEDIA_CAP_STICKER  (1ull << 20)
#define WA_MEDIA_CAP_AUDIO    (64ull << 20)
#define WA_MEDIA_CAP_VIDEO    (128ull << 20)
#define WA_MEDIA_CAP_DOCUMENT (256ull << 20)
#define WA_MEDIA_CAP_THUMB    (1ull << 20)
#define WA_MEDIA_CAP_HISTORY  (64ull << 20)
#define WA_MEDIA_CAP_STATE    (16ull << 20)

enum wa_media_type {
    WA_MEDIA_IMAGE,       /* info "Image", upload path /mms/image */
    WA_MEDIA_VIDEO,       /* "Video", /mms/video (gifs and round videos "ptv" too) */
    WA_MEDIA_AUDIO,       /* "Audio", /mms/audio (voice notes "ptt" too) */
    WA_MEDIA_DOCUMENT,    /* "Document", /mms/document */
    WA_MEDIA_STICKER,     /* "Image", /mms/image */
    WA_MEDIA_THUMB_LINK,  /* "Link Thumbnail", /mms/image */
    WA_MEDIA_THUMB_IMAGE, /* "Image Thumbnail" */
    WA_MEDIA_THUMB_VIDEO, /* "Video Thumbnail" */
    WA_MEDIA_THUMB_DOC,   /* "Document Thumbnail" */
    WA_MEDIA_HISTORY,     /* "History", /mms/md-app-state (history sync blobs) */
    WA_MEDIA_APP_STATE,   /* "App State" (no upload path) */
    WA_MEDIA_TYPE_COUNT
};

struct wa_media_keys {
    uint8_t iv[16];
    uint8_t cipher_key[32];
    uint8_t mac_key[32];
    uint8_t ref_key[32];
};

/* What a finished encryption or verified decryption establishes. */
struct wa_media_result {
    uint8_t file_sha256[WA_MEDIA_SHA256_LEN];     /* SHA-256 of the plaintext */
    uint8_t file_enc_sha256[WA_MEDIA_SHA256_LEN]; /* SHA-256 of the enc file (MAC included) */
    uint8_t mac[WA_MEDIA_MAC_LEN];
    uint64_t file_length; /* plaintext bytes */
    uint64_t enc_length;  /* enc file bytes: ciphertext + MAC */
};

/* Type by Baileys' name ("image", "video", "audio", "ptt", "document", "sticker", "gif",
 * "ptv", "thumbnail-link", "thumbnail-image", "thumbnail-video", "thumbnail-document",
 * "md-msg-hist", "md-app-state"): 0 and *out, or -ENOENT. */
int wa_media_type_parse(const char *name, enum wa_media_type *out);
/* Baileys' canonical name of the type ("image", ...), "" for an out-of-range value. */
const char *wa_media_type_name(enum wa_media_type t);
/* The HKDF info string ("WhatsApp Image Keys"), NULL for an out-of-range value. */
const char *wa_media_hkdf_info(enum wa_media_type t);
/* The upload path ("/mms/image"), NULL when the type has none. */
const char *wa_media_upload_path(enum wa_media_type t);
/* The default plaintext cap of the type (0 for an out-of-range value). */
uint64_t wa_media_cap(enum wa_media_type t);

/* Expand a media key. 0, -EINVAL, -EIO. */
int wa_media_derive(const uint8_t media_key[WA_MEDIA_KEY_LEN], enum wa_media_type t,
                    struct wa_media_keys *out) __attribute__((warn_unused_result));

/* ---- encryption ---- */
struct wa_media_enc;
/* cap: plaintext cap, 0 = wa_media_cap(t). */
int wa_media_enc_new(const uint8_t media_key[WA_MEDIA_KEY_LEN], enum wa_media_type t, uint64_t cap,
                     struct wa_media_enc **out) __attribute__((warn_unused_result));
/* Encrypt n plaintext bytes; writes *outlen (<= n + WA_MEDIA_BLOCK) bytes of enc file into
 * out (outcap >= n + WA_MEDIA_BLOCK). */
int wa_media_enc_update(struct wa_media_enc *e, const void *in, size_t n, uint8_t *out,
                        size_t outcap, size_t *outlen) __attribute__((warn_unused_result));
/* The last block and the MAC (outcap >= WA_MEDIA_FINAL_MAX); fills *res. */
int wa_media_enc_final(struct wa_media_enc *e, uint8_t *out, size_t outcap, size_t *outlen,
                       struct wa_media_result *res) __attribute__((warn_unused_result));
void wa_media_enc_free(struct wa_media_enc *e); /* NULL accepted */

/* ---- decryption ---- */
struct wa_media_dec;
/* want_sha256 / want_enc_sha256: the message's fileSha256 / fileEncSha256, checked by final()
 * (NULL: not checked -- the MAC still is). cap: plaintext cap, 0 = wa_media_cap(t). */
int wa_media_dec_new(const uint8_t media_key[WA_MEDIA_KEY_LEN], enum wa_media_type t,
                     const uint8_t *want_sha256, const uint8_t *want_enc_sha256, uint64_t cap,
                     struct wa_media_dec **out) __attribute__((warn_unused_result));
/* Feed n bytes of the enc file; writes *outlen bytes of UNVERIFIED plaintext (see the
 * contract above) into out (outcap >= n + WA_MEDIA_OUT_SLACK). The last bytes are held
 * back until final(). */
int wa_media_dec_update(struct wa_media_dec *d, const void *in, size_t n, uint8_t *out,
                        size_t outcap, size_t *outlen) __attribute__((warn_unused_result));
/* End of the enc file: checks the MAC, the padding and the hashes; writes the last
 * plaintext bytes (outcap >= WA_MEDIA_FINAL_MAX) and fills *res. 0 = authentic. */
int wa_media_dec_final(struct wa_media_dec *d, uint8_t *out, size_t outcap, size_t *outlen,
                       struct wa_media_result *res) __attribute__((warn_unused_result));
void wa_media_dec_free(struct wa_media_dec *d); /* NULL accepted */

/* ---- media retry (receipt type="server-error", notification type="mediaretry") ---- */
/* The retry key: HKDF-SHA256(media key, no salt, info "WhatsApp Media Retry Notification"),
 * 32 bytes. */
int wa_media_retry_key(const uint8_t media_key[WA_MEDIA_KEY_LEN], uint8_t out[32])
    __attribute__((warn_unused_result));
/* AES-256-GCM with the retry key, nonce iv (12 bytes) and the message id as AAD: out gets
 * n + WA_MEDIA_RETRY_TAG bytes (ciphertext || tag; outcap >= that). The plaintext is a
 * serialized ServerErrorReceipt (request) or MediaRetryNotification (response). */
int wa_media_retry_seal(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
                        const uint8_t iv[WA_MEDIA_RETRY_IV], const uint8_t *in, size_t n,
                        uint8_t *out, size_t outcap, size_t *outlen)
    __attribute__((warn_unused_result));
/* The reverse; -EBADMSG when the tag does not verify (n < tag: -EBADMSG too). */
int wa_media_retry_open(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
                        const uint8_t iv[WA_MEDIA_RETRY_IV], const uint8_t *in, size_t n,
                        uint8_t *out, size_t outcap, size_t *outlen)
    __attribute__((warn_unused_result));

/* The upload token of an enc file: base64url (no padding) of its SHA-256, 43 chars + NUL. */
void wa_media_upload_token(const uint8_t enc_sha256[WA_MEDIA_SHA256_LEN], char out[44]);
