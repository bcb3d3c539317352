/* SPDX-License-Identifier: MIT */
/* mediaxfer.c -- upload/download of encrypted media over net/httpc, host fallback, backoff. */
#include "wa/mediaxfer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "net/httpc.h"

#define HASH_STEP  (256u << 10) /* plaintext hashed per loop iteration (first upload pass) */
#define PIECE      16384        /* file bytes per body pull / per write */
#define RESP_MAX   16384        /* upload response JSON */
#define ORIGIN_HDR "Origin: https://web.whatsapp.com"

enum kind { UPLOAD, DOWNLOAD };

struct wa_mxfer {
    uv_loop_t *loop;
    enum kind kind;
    enum wa_media_type type;
    uv_timer_t timer; /* hashing steps and backoff */
    struct nhttp *req;
    bool cancelled, done;
    /* options (copied) */
    char *hosts[WA_MXFER_HOSTS_MAX];
    size_t nhosts;
    char *auth, *ca_file;
    char **dns;
    size_t ndns;
    int max_attempts, backoff_ms, timeout_ms;
    uint64_t cap;
    /* progress */
    size_t host;
    int round;
    int last_status;
    char last_detail[200];
    int fd;
    uint8_t key[WA_MEDIA_KEY_LEN];
    /* upload */
    struct wa_media_enc *enc;
    uint64_t plain_off;
    bool enc_final;
    uint8_t pend[PIECE + WA_MEDIA_OUT_SLACK + WA_MEDIA_FINAL_MAX];
    size_t pend_len, pend_off;
    struct wa_media_result res;
    char *resp;
    size_t resp_len;
    wa_mupload_cb ucb;
    /* download */
    struct wa_media_dec *dec;
    char *direct_path, *dest, *part;
    bool want_plain, want_enc;
    uint8_t want_sha[32], want_enc_sha[32];
    uint64_t received, written;
    int resumed;
    bool ranged;
    wa_mdownload_cb dcb;
    void *ud;
};

static void x_free(uv_handle_t *h)
{
    struct wa_mxfer *x = h->data;
    for (size_t i = 0; i < x->nhosts; i++)
        free(x->hosts[i]);
    for (size_t i = 0; i < x->ndns; i++)
        free(x->dns[i]);
    free(x->dns);
    free(x->auth);
    free(x->ca_file);
    free(x->resp);
    free(x->direct_path);
    free(x->dest);
    free(x->part);
    wa_media_enc_free(x->enc);
    wa_media_dec_free(x->dec);
    if (x->fd >= 0) close(x->fd);
    free(x);
}

static void x_end(struct wa_mxfer *x)
{
    x->done = true;
    uv_timer_stop(&x->timer);
    uv_close((uv_handle_t *)&x->timer, x_free);
}

static int copy_opts(struct wa_mxfer *x, const struct wa_mxfer_opts *o)
{
    if (!o || !o->hosts || o->nhosts == 0 || o->nhosts > WA_MXFER_HOSTS_MAX) return -EINVAL;
    for (size_t i = 0; i < o->nhosts; i++) {
        if (!o->hosts[i] || !o->hosts[i][0] || strpbrk(o->hosts[i], "/?#@ ")) return -EINVAL;
        if (!(x->hosts[x->nhosts++] = strdup(o->hosts[i]))) return -ENOMEM;
    }
    if (o->auth && !(x->auth = strdup(o->auth))) return -ENOMEM;
    if (o->ca_file && !(x->ca_file = strdup(o->ca_file))) return -ENOMEM;
    if (o->ndns_servers) {
        if (!(x->dns = calloc(o->ndns_servers, sizeof(char *)))) return -ENOMEM;
        for (size_t i = 0; i < o->ndns_servers; i++, x->ndns++)
            if (!(x->dns[i] = strdup(o->dns_servers[i]))) return -ENOMEM;
    }
    x->max_attempts = o->max_attempts > 0 ? o->max_attempts : 3;
    x->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 1000;
    x->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 20000;
    uint64_t def = wa_media_cap(x->type);
    x->cap = o->cap && o->cap < def ? o->cap : def;
    return 0;
}

static struct wa_mxfer *x_new(uv_loop_t *loop, enum kind k, enum wa_media_type t)
{
    struct wa_mxfer *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    x->loop = loop;
    x->kind = k;
    x->type = t;
    x->fd = -1;
    uv_timer_init(loop, &x->timer);
    x->timer.data = x;
    return x;
}

/* ---- attempts, fallback, backoff ---- */

static void attempt(struct wa_mxfer *x);
static void report(struct wa_mxfer *x, int err);
static int body_pull(void *ud, uint8_t *buf, size_t cap, size_t *got);
static int on_data(void *ud, int status, int64_t clen, const uint8_t *p, size_t n);

static void on_backoff(uv_timer_t *t)
{
    attempt(t->data);
}

/* A retryable failure: next host, else a new round after the backoff, else give up. */
static void retry(struct wa_mxfer *x, int err)
{
    if (++x->host < x->nhosts) {
        attempt(x);
        return;
    }
    x->host = 0;
    if (++x->round >= x->max_attempts) {
        report(x, err);
        return;
    }
    uint64_t delay = (uint64_t)x->backoff_ms << (x->round - 1 < 10 ? x->round - 1 : 10);
    uv_timer_start(&x->timer, on_backoff, delay, 0);
}

/* The HTTP status of a finished request -> 0 (success), a final error, or 1 (retry). */
static int classify(const struct wa_mxfer *x, int status)
{
    if (status >= 200 && status < 300) return 0;
    if (status == 401 || status == 403) return -EACCES;
    if (x->kind == DOWNLOAD && (status == 404 || status == 410)) return -ENOENT;
    if (status == 413) return -EMSGSIZE;
    if (status >= 500 || status == 408 || status == 429) return 1;
    return -EPROTO;
}

static void start_request(struct wa_mxfer *x, const char *url, const char *const *hdrs, size_t nh,
                          nhttp_cb cb)
{
    struct nhttp_opts o = {
        .url = url,
        .headers = hdrs,
        .nheaders = nh,
        .content_type = "application/octet-stream",
        .ca_file = x->ca_file,
        .dns_servers = (const char *const *)x->dns,
        .ndns_servers = x->ndns,
        .connect_timeout_ms = x->timeout_ms,
        .response_timeout_ms = x->timeout_ms,
        .max_response = 16384,
        .method = x->kind == UPLOAD ? "POST" : "GET",
        .stream_ud = x,
    };
    if (x->kind == UPLOAD) {
        o.body_fn = body_pull;
        o.body_stream_len = x->res.enc_length;
    }
    o.data_fn = on_data;
    char err[200];
    int rc = nhttp_post(x->loop, &o, cb, x, &x->req, err, sizeof(err));
    if (rc < 0) {
        snprintf(x->last_detail, sizeof(x->last_detail), "request: %.180s", err);
        report(x, rc);
    }
}

/* ---- upload ---- */

/* Encrypt the next piece of the file into pend (the body of the current attempt). */
static int refill(struct wa_mxfer *x)
{
    uint8_t in[PIECE];
    x->pend_len = x->pend_off = 0;
    if (x->enc_final) return 0;
    ssize_t n = pread(x->fd, in, sizeof(in), (off_t)x->plain_off);
    if (n < 0) return -errno;
    struct wa_media_result r;
    int rc = n ? wa_media_enc_update(x->enc, in, (size_t)n, x->pend, sizeof(x->pend), &x->pend_len)
               : wa_media_enc_final(x->enc, x->pend, sizeof(x->pend), &x->pend_len, &r);
    if (rc < 0) return rc;
    x->plain_off += (uint64_t)n;
    if (!n) x->enc_final = true;
    return 0;
}

static int body_pull(void *ud, uint8_t *buf, size_t cap, size_t *got)
{
    struct wa_mxfer *x = ud;
    *got = 0;
    while (x->pend_off == x->pend_len) {
        if (x->enc_final) return -EIO; /* the file shrank since the first pass */
        int rc = refill(x);
        if (rc < 0) return rc;
    }
    size_t k = x->pend_len - x->pend_off < cap ? x->pend_len - x->pend_off : cap;
    memcpy(buf, x->pend + x->pend_off, k);
    x->pend_off += k;
    *got = k;
    return 0;
}

static int up_data(struct wa_mxfer *x, const uint8_t *p, size_t n)
{
    if (x->resp_len + n > RESP_MAX) return -EMSGSIZE;
    memcpy(x->resp + x->resp_len, p, n);
    x->resp_len += n;
    return 0;
}

/* {"url": ..., "direct_path": ...} -> the result strings. */
static int parse_upload(struct wa_mxfer *x, struct wa_mupload_result *r)
{
    cJSON *j = cJSON_ParseWithLength(x->resp, x->resp_len);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "url");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "direct_path");
    int rc = -EPROTO;
    if (cJSON_IsString(d) && d->valuestring[0] == '/' &&
        strlen(d->valuestring) < sizeof(r->direct_path)) {
        snprintf(r->direct_path, sizeof(r->direct_path), "%s", d->valuestring);
        if (cJSON_IsString(u) && strlen(u->valuestring) < sizeof(r->url))
            snprintf(r->url, sizeof(r->url), "%s", u->valuestring);
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

/* Percent-encode for a query value (the auth is opaque: base64 with + / =). */
static void qescape(const char *s, char *out, size_t cap)
{
    static const char H[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = H[ch >> 4];
            out[o++] = H[ch & 15];
        }
    }
    out[o] = '\0';
}

static void on_up_result(void *ud, const struct nhttp_result *hr)
{
    struct wa_mxfer *x = ud;
    x->req = NULL;
    x->last_status = hr->status;
    snprintf(x->last_detail, sizeof(x->last_detail), "%.120s from %.70s", hr->detail,
             x->hosts[x->host]);
    /* A status decides when there is one (an error page over the answer cap is still 4xx). */
    int c = hr->status >= 300 ? classify(x, hr->status)
            : hr->err < 0     ? (hr->err == -ECANCELED ? hr->err : 1)
                              : classify(x, hr->status);
    if (c == 0) {
        struct wa_mupload_result r = {0};
        if (parse_upload(x, &r) < 0) {
            snprintf(x->last_detail, sizeof(x->last_detail), "upload answer without direct_path");
            retry(x, -EPROTO);
            return;
        }
        r.http_status = hr->status;
        memcpy(r.media_key, x->key, 32);
        memcpy(r.file_sha256, x->res.file_sha256, 32);
        memcpy(r.file_enc_sha256, x->res.file_enc_sha256, 32);
        r.file_length = x->res.file_length;
        snprintf(r.detail, sizeof(r.detail), "%s", x->last_detail);
        x->ucb(x->ud, &r);
        x_end(x);
        return;
    }
    if (c == 1)
        retry(x, hr->err < 0 ? hr->err : -EIO);
    else
        report(x, c);
}

static void up_attempt(struct wa_mxfer *x)
{
    char tok[44], auth[512], url[2048];
    wa_media_upload_token(x->res.file_enc_sha256, tok);
    qescape(x->auth, auth, sizeof(auth));
    snprintf(url, sizeof(url), "https://%s%s/%s?auth=%s&token=%s", x->hosts[x->host],
             wa_media_upload_path(x->type), tok, auth, tok);
    wa_media_enc_free(x->enc);
    x->enc = NULL;
    int rc = wa_media_enc_new(x->key, x->type, x->cap, &x->enc);
    if (rc < 0) {
        report(x, rc);
        return;
    }
    x->plain_off = 0;
    x->enc_final = false;
    x->pend_len = x->pend_off = 0;
    x->resp_len = 0;
    static const char *const hdrs[] = {ORIGIN_HDR};
    start_request(x, url, hdrs, 1, on_up_result);
}

/* First pass: the hashes, HASH_STEP bytes per timer callback. */
static void on_hash_step(uv_timer_t *t)
{
    struct wa_mxfer *x = t->data;
    static uint8_t in[PIECE], out[PIECE + WA_MEDIA_OUT_SLACK];
    for (size_t done = 0; done < HASH_STEP; done += PIECE) {
        ssize_t n = pread(x->fd, in, sizeof(in), (off_t)x->plain_off);
        size_t k = 0;
        int rc = n < 0 ? -errno
                 : n   ? wa_media_enc_update(x->enc, in, (size_t)n, out, sizeof(out), &k)
                       : wa_media_enc_final(x->enc, out, sizeof(out), &k, &x->res);
        if (rc < 0) {
            snprintf(x->last_detail, sizeof(x->last_detail), "reading the file: %s", strerror(-rc));
            report(x, rc);
            return;
        }
        if (n == 0) {
            attempt(x);
            return;
        }
        x->plain_off += (uint64_t)n;
    }
    uv_timer_start(&x->timer, on_hash_step, 0, 0);
}

int wa_media_upload(uv_loop_t *loop, const struct wa_mxfer_opts *o, const char *path,
                    enum wa_media_type t, const uint8_t *media_key, wa_mupload_cb cb, void *ud,
                    struct wa_mxfer **out)
{
    if (!loop || !path || !cb || !out || !wa_media_upload_path(t) || !o || !o->auth) return -EINVAL;
    struct wa_mxfer *x = x_new(loop, UPLOAD, t);
    if (!x) return -ENOMEM;
    int rc = copy_opts(x, o);
    struct stat st;
    if (rc == 0 && !(x->resp = malloc(RESP_MAX))) rc = -ENOMEM;
    if (rc == 0 && (x->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) rc = -errno;
    if (rc == 0 && fstat(x->fd, &st) < 0) rc = -errno;
    if (rc == 0 && (uint64_t)st.st_size > x->cap) rc = -EMSGSIZE;
    if (rc == 0 && media_key) memcpy(x->key, media_key, 32);
    if (rc == 0 && !media_key && RAND_bytes(x->key, 32) != 1) rc = -EIO;
    if (rc == 0) rc = wa_media_enc_new(x->key, t, x->cap, &x->enc);
    if (rc < 0) {
        x->done = true;
        uv_close((uv_handle_t *)&x->timer, x_free);
        return rc;
    }
    x->ucb = cb;
    x->ud = ud;
    uv_timer_start(&x->timer, on_hash_step, 0, 0);
    *out = x;
    return 0;
}

/* ---- download ---- */

static void unlink_part(struct wa_mxfer *x)
{
    if (x->fd >= 0) close(x->fd);
    x->fd = -1;
    if (x->part) unlink(x->part);
}

/* Start over from byte 0 (the server ignored our Range). */
static int dl_reset(struct wa_mxfer *x)
{
    wa_media_dec_free(x->dec);
    x->dec = NULL;
    x->received = x->written = 0;
    if (ftruncate(x->fd, 0) < 0) return -errno;
    return wa_media_dec_new(x->key, x->type, x->want_plain ? x->want_sha : NULL,
                            x->want_enc ? x->want_enc_sha : NULL, x->cap, &x->dec);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dl_data(struct wa_mxfer *x, int status, const uint8_t *p, size_t n)
{
    if (!p) { /* the head */
        if (status == 200 && x->received > 0) return dl_reset(x);
        if (status == 206 && !x->ranged) return -EPROTO;
        if (status == 206) x->resumed++;
        return 0;
    }
    if (status != 200 && status != 206) return 0; /* an error page: not ours to decrypt */
    uint8_t out[PIECE + WA_MEDIA_OUT_SLACK];
    while (n > 0) {
        size_t k = n < PIECE ? n : PIECE, got = 0;
        int rc = wa_media_dec_update(x->dec, p, k, out, sizeof(out), &got);
        if (rc == 0) rc = write_all(x->fd, out, got);
        if (rc < 0) return rc;
        x->received += k;
        x->written += got;
        p += k;
        n -= k;
    }
    return 0;
}

static int on_data(void *ud, int status, int64_t clen, const uint8_t *p, size_t n)
{
    struct wa_mxfer *x = ud;
    (void)clen;
    if (x->kind == UPLOAD) return p ? up_data(x, p, n) : 0;
    return dl_data(x, status, p, n);
}

/* The body is complete: verify, then move the file into place. */
static int dl_commit(struct wa_mxfer *x)
{
    uint8_t out[WA_MEDIA_FINAL_MAX];
    size_t got = 0;
    struct wa_media_result r;
    int rc = wa_media_dec_final(x->dec, out, sizeof(out), &got, &r);
    if (rc == 0) rc = write_all(x->fd, out, got);
    if (rc == 0 && fsync(x->fd) < 0) rc = -errno;
    if (rc == 0 && rename(x->part, x->dest) < 0) rc = -errno;
    if (rc < 0) return rc;
    x->written += got;
    close(x->fd);
    x->fd = -1;
    /* The directory entry too: dirname of dest. */
    char dir[WA_MXFER_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", x->dest);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

static void on_dl_result(void *ud, const struct nhttp_result *hr)
{
    struct wa_mxfer *x = ud;
    x->req = NULL;
    x->last_status = hr->status;
    snprintf(x->last_detail, sizeof(x->last_detail), "%.120s from %.70s", hr->detail,
             x->hosts[x->host]);
    int c;
    if (hr->err == -EBADMSG || hr->err == -EMSGSIZE || hr->err == -ECANCELED)
        c = hr->err; /* not authentic / over the cap: final */
    else if (hr->err < 0)
        c = 1; /* network: retry (resuming from x->received) */
    else
        c = classify(x, hr->status);
    if (c == 0) {
        int rc = dl_commit(x);
        if (rc < 0) {
            if (rc == -EBADMSG)
                snprintf(x->last_detail, sizeof(x->last_detail),
                         "media file is not authentic (MAC or hash mismatch)");
            report(x, rc);
            return;
        }
        struct wa_mdownload_result r = {
            .http_status = hr->status, .file_length = x->written, .resumed = x->resumed};
        snprintf(r.detail, sizeof(r.detail), "%s", x->last_detail);
        x->dcb(x->ud, &r);
        x_end(x);
        return;
    }
    if (c == 1)
        retry(x, hr->err < 0 ? hr->err : -EIO);
    else
        report(x, c);
}

static void dl_attempt(struct wa_mxfer *x)
{
    char url[2048], range[64];
    snprintf(url, sizeof(url), "https://%s%s", x->hosts[x->host], x->direct_path);
    const char *hdrs[2] = {ORIGIN_HDR, range};
    x->ranged = x->received > 0;
    snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)x->received);
    start_request(x, url, hdrs, x->ranged ? 2 : 1, on_dl_result);
}

int wa_media_download(uv_loop_t *loop, const struct wa_mxfer_opts *o,
                      const struct wa_mdownload_req *r, wa_mdownload_cb cb, void *ud,
                      struct wa_mxfer **out)
{
    if (!loop || !r || !cb || !out || !r->direct_path || r->direct_path[0] != '/' ||
        !r->media_key || !r->dest || !wa_media_hkdf_info(r->type) ||
        strlen(r->direct_path) >= WA_MXFER_PATH_MAX || strlen(r->dest) + 6 > WA_MXFER_PATH_MAX ||
        strpbrk(r->direct_path, "\r\n "))
        return -EINVAL;
    struct wa_mxfer *x = x_new(loop, DOWNLOAD, r->type);
    if (!x) return -ENOMEM;
    int rc = copy_opts(x, o);
    memcpy(x->key, r->media_key, 32);
    if ((x->want_plain = r->file_sha256 != NULL)) memcpy(x->want_sha, r->file_sha256, 32);
    if ((x->want_enc = r->file_enc_sha256 != NULL)) memcpy(x->want_enc_sha, r->file_enc_sha256, 32);
    size_t pl = strlen(r->dest) + 6;
    if (rc == 0 && (!(x->direct_path = strdup(r->direct_path)) || !(x->dest = strdup(r->dest)) ||
                    !(x->part = malloc(pl))))
        rc = -ENOMEM;
    if (rc == 0) {
        snprintf(x->part, pl, "%s.part", r->dest);
        x->fd = open(x->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (x->fd < 0) rc = -EIO;
    }
    if (rc == 0) rc = dl_reset(x);
    if (rc < 0) {
        unlink_part(x);
        x->done = true;
        uv_close((uv_handle_t *)&x->timer, x_free);
        return rc;
    }
    x->dcb = cb;
    x->ud = ud;
    uv_timer_start(&x->timer, on_backoff, 0, 0); /* the first attempt, from a loop callback */
    *out = x;
    return 0;
}

/* ---- common ---- */

static void attempt(struct wa_mxfer *x)
{
    if (x->kind == UPLOAD)
        up_attempt(x);
    else
        dl_attempt(x);
}

static void report(struct wa_mxfer *x, int err)
{
    if (x->done) return;
    if (x->kind == UPLOAD) {
        struct wa_mupload_result r = {.err = err, .http_status = x->last_status};
        snprintf(r.detail, sizeof(r.detail), "%s", x->last_detail[0] ? x->last_detail : "failed");
        if (!x->cancelled) x->ucb(x->ud, &r);
    } else {
        unlink_part(x);
        struct wa_mdownload_result r = {
            .err = err, .http_status = x->last_status, .resumed = x->resumed};
        snprintf(r.detail, sizeof(r.detail), "%s", x->last_detail[0] ? x->last_detail : "failed");
        if (!x->cancelled) x->dcb(x->ud, &r);
    }
    x_end(x);
}

void wa_mxfer_cancel(struct wa_mxfer *x)
{
    if (!x || x->done) return;
    x->cancelled = true;
    if (x->req) nhttp_cancel(x->req);
    x->req = NULL;
    report(x, -ECANCELED);
}
