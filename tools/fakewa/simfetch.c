/* SPDX-License-Identifier: MIT */
/* simfetch.c -- a simulated phone downloads a received file (see simfetch.h). */
#include "simfetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hex.h"
#include "mediasrv.h"
#include "wa/media.h"

#define CHUNK (64 * 1024)

struct mfields {
    enum wa_media_type type;
    const char *direct_path, *mimetype;
    const ProtobufCBinaryData *key, *sha, *enc;
    uint64_t length;
};

#define TAKE(p, t)                                                                                 \
    (struct mfields)                                                                               \
    {                                                                                              \
        .type = (t), .direct_path = (p)->directpath, .mimetype = (p)->mimetype,                    \
        .key = (p)->has_mediakey ? &(p)->mediakey : NULL,                                          \
        .sha = (p)->has_filesha256 ? &(p)->filesha256 : NULL,                                      \
        .enc = (p)->has_fileencsha256 ? &(p)->fileencsha256 : NULL, .length = (p)->filelength      \
    }

static bool fields_of(const Wa__Message *m, struct mfields *f)
{
    for (int i = 0; m && i < 4 && m->devicesentmessage; i++)
        m = m->devicesentmessage->message;
    if (!m) return false;
    if (m->imagemessage)
        *f = TAKE(m->imagemessage, WA_MEDIA_IMAGE);
    else if (m->videomessage)
        *f = TAKE(m->videomessage, WA_MEDIA_VIDEO);
    else if (m->audiomessage)
        *f = TAKE(m->audiomessage, WA_MEDIA_AUDIO);
    else if (m->documentmessage)
        *f = TAKE(m->documentmessage, WA_MEDIA_DOCUMENT);
    else if (m->stickermessage)
        *f = TAKE(m->stickermessage, WA_MEDIA_STICKER);
    else
        return false;
    return true;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Decrypt src into dst.part, then rename to dst. 0, or <0 with err. */
static int decrypt_file(const struct mfields *f, const char *src, const char *dst, uint64_t *len,
                        char *err, size_t errlen)
{
    struct wa_media_dec *d = NULL;
    int rc = wa_media_dec_new(f->key->data, f->type, f->sha->data, f->enc->data, 0, &d);
    int in = rc == 0 ? open(src, O_RDONLY | O_CLOEXEC) : -1;
    char part[1100];
    snprintf(part, sizeof part, "%s.part", dst);
    int out = in >= 0 ? open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    uint8_t *ib = malloc(CHUNK), *ob = malloc(CHUNK + WA_MEDIA_OUT_SLACK);
    if (rc == 0 && (in < 0 || out < 0 || !ib || !ob)) rc = -EIO;
    while (rc == 0) {
        ssize_t n = read(in, ib, CHUNK);
        if (n < 0) rc = -errno;
        if (n <= 0) break;
        size_t ol = 0;
        rc = wa_media_dec_update(d, ib, (size_t)n, ob, CHUNK + WA_MEDIA_OUT_SLACK, &ol);
        if (rc == 0) rc = write_all(out, ob, ol);
    }
    struct wa_media_result res;
    size_t ol = 0;
    if (rc == 0) rc = wa_media_dec_final(d, ob, CHUNK + WA_MEDIA_OUT_SLACK, &ol, &res);
    if (rc == 0) rc = write_all(out, ob, ol);
    if (rc == 0 && res.file_length != f->length) rc = -EBADMSG;
    if (rc == 0 && rename(part, dst) < 0) rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "%s",
                 rc == -EBADMSG ? "not authentic (MAC, hash or length)" : strerror(-rc));
        unlink(part);
    }
    *len = rc == 0 ? res.file_length : 0;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    free(ib);
    free(ob);
    wa_media_dec_free(d);
    return rc;
}

cJSON *fw_sim_fetch_media(const Wa__Message *m)
{
    struct mfields f;
    if (!fields_of(m, &f)) return NULL;
    cJSON *o = cJSON_CreateObject();
    char err[160] = "", src[1024], dst[1024], hex[65];
    const char *dir = NULL;
    uint64_t len = 0;
    int rc = -EINVAL;
    if (!f.direct_path || !f.key || f.key->len != 32 || !f.sha || f.sha->len != 32 || !f.enc ||
        f.enc->len != 32)
        snprintf(err, sizeof err, "the message lacks directPath, mediaKey or the hashes");
    else if (fw_media_file_of(f.direct_path, src, sizeof src, &dir) < 0)
        snprintf(err, sizeof err, "no such file on the media host");
    else
        rc = 0;
    if (rc == 0) {
        hex_encode(hex, f.sha->data, 32);
        hex[64] = '\0';
        snprintf(dst, sizeof dst, "%s/received", dir);
        if (mkdir(dst, 0700) < 0 && errno != EEXIST) rc = -errno;
        snprintf(dst, sizeof dst, "%s/received/%s", dir, hex);
        if (rc == 0) rc = decrypt_file(&f, src, dst, &len, err, sizeof err);
    }
    cJSON_AddBoolToObject(o, "ok", rc == 0);
    if (rc == 0) {
        cJSON_AddStringToObject(o, "path", dst);
        cJSON_AddStringToObject(o, "sha256", hex);
        cJSON_AddNumberToObject(o, "length", (double)len);
    } else {
        cJSON_AddStringToObject(o, "error", err);
    }
    if (f.mimetype) cJSON_AddStringToObject(o, "mimetype", f.mimetype);
    return o;
}
