/* SPDX-License-Identifier: MIT */
/* mediasrv.c -- the media host: uploads, directPath downloads, expiry, faults, admin. */
#include "mediasrv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/http.h"
#include "core/hex.h"
#include "core/log.h"
#include "accounts.h"
#include "conn.h"
#include "mhttp.h"
#include "wa/media.h"
#include "wa/mediaretry.h"

#define DP_PREFIX "/v/t62.7118-24/"

struct mfile {
    char hex[65]; /* enc SHA-256 */
    char type[32];
    uint64_t size;
    uint64_t gen, min_gen; /* paths of generation < min_gen are expired */
    bool corrupt;
};

/* A media message a simulated phone "sent" (POST /admin/media/put with msg_id): what the
 * phone needs to answer a media retry receipt for it. */
struct msent {
    char id[WA_MRETRY_ID_MAX];
    uint8_t key[WA_MEDIA_KEY_LEN];
    char hex[65];
};
#define FW_MEDIA_SENT_MAX 1024

struct mstats {
    uint64_t uploads, downloads, refused, bytes_in, bytes_out;
};

static struct {
    struct fw_server *s;
    bool running;
    char host[80];
    char auth[48];
    uint64_t auth_since;
    unsigned ttl;
    uint8_t secret[32];
    char dir[FW_STATE_PATH_MAX + 8];
    struct mfile *files;
    size_t nfiles;
    uint64_t total;
    uint64_t seq;
    int fail_up, fail_down, fail_status;
    int cut_down; /* fault: the next downloads stop after cut_bytes of body */
    uint64_t cut_bytes;
    int slow_up; /* fault: the next uploads are answered slow_ms after their body is in */
    uint64_t slow_ms;
    struct mstats st;
    struct msent *sent; /* ring of FW_MEDIA_SENT_MAX */
    size_t nsent;
    uint64_t retries_answered;
} M;

/* One upload in progress (mhttp ud). */
struct upload {
    int fd;
    char tmp[FW_STATE_PATH_MAX + 64];
    char type[32];
    char token[64];
    uint64_t len;
    EVP_MD_CTX *sha;
    uv_timer_t *slow; /* the "slow" fault: the answer waits for this timer */
};

static void new_auth(void)
{
    uint8_t r[16];
    fw_random(r, sizeof(r));
    hex_encode(M.auth, r, sizeof(r));
    memcpy(M.auth, "fw", 2);
    M.auth_since = fw_now();
}

static struct mfile *find(const char *hex)
{
    for (size_t i = 0; i < M.nfiles; i++)
        if (strcmp(M.files[i].hex, hex) == 0) return &M.files[i];
    return NULL;
}

static void file_path(const char *hex, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.enc", M.dir, hex);
}

/* The signature of a direct path's variable part. */
static void sign(const char *hex, uint64_t oe, uint64_t gen, char out[33])
{
    char msg[128];
    uint8_t mac[32];
    unsigned ml = 0;
    int n = snprintf(msg, sizeof(msg), "%s|%llx|%llu", hex, (unsigned long long)oe,
                     (unsigned long long)gen);
    HMAC(EVP_sha256(), M.secret, sizeof(M.secret), (const uint8_t *)msg, (size_t)n, mac, &ml);
    hex_encode(out, mac, 16);
}

static void direct_path(const struct mfile *f, char *out, size_t cap)
{
    uint64_t oe = fw_now() + FW_MEDIA_URL_TTL_S;
    char sig[33];
    sign(f->hex, oe, f->gen, sig);
    snprintf(out, cap, DP_PREFIX "%s.enc?ccb=11-4&oh=%s&oe=%llX&_nc_g=%llu&_nc_sid=fakewa", f->hex,
             sig, (unsigned long long)oe, (unsigned long long)f->gen);
}

/* Record a stored file (already renamed into place): a new generation of its paths. */
static struct mfile *record(const char *hex, const char *type, uint64_t size, int *rc)
{
    struct mfile *f = find(hex);
    *rc = 0;
    if (!f) {
        if (M.nfiles == FW_MEDIA_MAX_FILES) {
            *rc = -ENOSPC;
            return NULL;
        }
        if (M.nfiles % 64 == 0) {
            struct mfile *n = realloc(M.files, (M.nfiles + 64) * sizeof(*n));
            if (!n) {
                *rc = -ENOMEM;
                return NULL;
            }
            M.files = n;
        }
        f = &M.files[M.nfiles++];
        memset(f, 0, sizeof(*f));
        snprintf(f->hex, sizeof(f->hex), "%s", hex);
    } else {
        M.total -= f->size;
    }
    snprintf(f->type, sizeof(f->type), "%s", type);
    f->size = size;
    f->corrupt = false;
    f->gen++;
    M.total += size;
    return f;
}

static cJSON *file_json(const struct mfile *f, bool with_path)
{
    cJSON *o = cJSON_CreateObject();
    char dp[256], url[400], p[FW_STATE_PATH_MAX + 80];
    direct_path(f, dp, sizeof(dp));
    snprintf(url, sizeof(url), "https://%s%s&mms3=true", M.host, dp);
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "direct_path", dp);
    cJSON_AddStringToObject(o, "handle", f->hex);
    cJSON_AddStringToObject(o, "object_id", f->hex + 48);
    cJSON_AddNumberToObject(o, "ts", (double)fw_now());
    if (with_path) {
        file_path(f->hex, p, sizeof(p));
        cJSON_AddStringToObject(o, "enc_sha256", f->hex);
        cJSON_AddStringToObject(o, "type", f->type);
        cJSON_AddNumberToObject(o, "size", (double)f->size);
        cJSON_AddStringToObject(o, "path", p);
        cJSON_AddBoolToObject(o, "expired", f->min_gen > f->gen);
        cJSON_AddBoolToObject(o, "corrupt", f->corrupt);
    }
    return o;
}

static void reply_json(struct mhttp_conn *c, int status, cJSON *o)
{
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    mhttp_reply(c, status, "application/json", t ? t : "{}");
    free(t);
}

static void reply_err(struct mhttp_conn *c, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    M.st.refused++;
    log_info("fakewa", "media", "refused (%d): %s", status, msg);
    reply_json(c, status, o);
}

/* ---- upload ---- */

static bool upload_type(const char *t)
{
    static const char *ok[] = {"image", "video", "audio", "document", "md-app-state"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(t, ok[i]) == 0) return true;
    return false;
}

/* Baileys sends the token unpadded, whatsmeow padded ("=", "%3D" in a path): compare both
 * without the padding. */
static void strip_pad(char *t)
{
    size_t n = strlen(t);
    for (;;) {
        if (n >= 1 && t[n - 1] == '=')
            n -= 1;
        else if (n >= 3 && strcasecmp(t + n - 3, "%3D") == 0)
            n -= 3;
        else
            break;
    }
    t[n] = '\0';
}

static int start_upload(struct mhttp_conn *c, const struct mhttp_req *r)
{
    char type[32], auth[128], tok[64];
    const char *rest = r->path + 5, *slash = strchr(rest, '/');
    if (!slash || (size_t)(slash - rest) >= sizeof(type) || strlen(slash + 1) >= sizeof(tok)) {
        reply_err(c, 404, "bad upload path");
        return 0;
    }
    memcpy(type, rest, (size_t)(slash - rest));
    type[slash - rest] = '\0';
    snprintf(tok, sizeof(tok), "%s", slash + 1);
    char qtok[64];
    bool refused = true;
    strip_pad(tok);
    if (!upload_type(type)) {
        reply_err(c, 404, "unknown media type");
    } else if (http_query_param(r->query, "auth", auth, sizeof(auth)) <= 0 ||
               strcmp(auth, M.auth) != 0 || fw_now() > M.auth_since + M.ttl) {
        reply_err(c, 401, "bad or expired auth");
    } else if (http_query_param(r->query, "token", qtok, sizeof(qtok)) <= 0 ||
               (strip_pad(qtok), strcmp(qtok, tok) != 0)) {
        reply_err(c, 400, "token does not match the path");
    } else if (M.fail_up > 0) {
        M.fail_up--;
        reply_err(c, M.fail_status, "fault: upload refused");
    } else if (r->content_length == 0 || r->content_length > FW_MEDIA_FILE_MAX) {
        reply_err(c, 413, "empty or too large");
    } else if (M.total + r->content_length > FW_MEDIA_TOTAL_MAX) {
        reply_err(c, 507, "store full");
    } else {
        refused = false;
    }
    if (refused) return 0;
    struct upload *u = calloc(1, sizeof(*u));
    if (!u) return -ENOMEM;
    u->fd = -1;
    snprintf(u->type, sizeof(u->type), "%s", type);
    snprintf(u->token, sizeof(u->token), "%s", tok);
    snprintf(u->tmp, sizeof(u->tmp), "%s/tmp-%llu", M.dir, (unsigned long long)++M.seq);
    mhttp_set_ud(c, u);
    return 0;
}

static int upload_open(struct upload *u)
{
    if (u->fd >= 0) return 0;
    u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    u->sha = EVP_MD_CTX_new();
    if (u->fd < 0 || !u->sha || EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1) return -EIO;
    return 0;
}

static int on_body(struct mhttp_conn *c, const uint8_t *p, size_t n)
{
    struct upload *u = mhttp_ud(c);
    if (!u || upload_open(u) < 0) return -EIO;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(u->fd, p + off, n - off);
        if (w < 0) return -errno;
        off += (size_t)w;
    }
    u->len += n;
    M.st.bytes_in += n;
    return EVP_DigestUpdate(u->sha, p, n) == 1 ? 0 : -EIO;
}

static void finish_upload(struct mhttp_conn *c);

static void slow_fired(uv_timer_t *t)
{
    finish_upload(t->data);
}

static void on_end(struct mhttp_conn *c)
{
    struct upload *u = mhttp_ud(c);
    if (u && M.slow_up > 0 && (u->slow = malloc(sizeof *u->slow))) {
        M.slow_up--;
        uv_timer_init(M.s->loop, u->slow);
        u->slow->data = c;
        uv_timer_start(u->slow, slow_fired, M.slow_ms, 0);
        log_info("fakewa", "media", "fault: the upload's answer waits %llu ms",
                 (unsigned long long)M.slow_ms);
        return;
    }
    finish_upload(c);
}

static void finish_upload(struct mhttp_conn *c)
{
    struct upload *u = mhttp_ud(c);
    uint8_t h[32];
    unsigned hl = 0;
    char tok[44], hex[65], dst[FW_STATE_PATH_MAX + 80];
    if (!u || u->fd < 0 || EVP_DigestFinal_ex(u->sha, h, &hl) != 1) {
        reply_err(c, 500, "upload state");
        return;
    }
    wa_media_upload_token(h, tok);
    if (strcmp(tok, u->token) != 0) {
        reply_err(c, 400, "token is not the body's sha256");
        return;
    }
    hex_encode(hex, h, 32);
    file_path(hex, dst, sizeof(dst));
    int rc = 0;
    struct mfile *f = NULL;
    if (fsync(u->fd) == 0 && rename(u->tmp, dst) == 0) f = record(hex, u->type, u->len, &rc);
    if (!f) {
        reply_err(c, rc == -ENOSPC ? 507 : 500, "cannot store");
        return;
    }
    u->tmp[0] = '\0'; /* renamed: nothing to unlink */
    M.st.uploads++;
    log_info("fakewa", "media", "stored %s (%s, %llu bytes)", hex, f->type,
             (unsigned long long)f->size);
    reply_json(c, 200, file_json(f, false));
}

/* ---- download ---- */

/* "bytes=A-B" / "bytes=A-" / "bytes=-N" against size: 0 and [*a, *b], or -ERANGE. */
static int parse_range(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
    unsigned long long x = 0, y = 0;
    char tail;
    if (strncmp(v, "bytes=", 6) != 0 || strchr(v, ',')) return -ERANGE;
    v += 6;
    if (v[0] == '-') {
        if (sscanf(v + 1, "%llu%c", &y, &tail) != 1 || y == 0 || size == 0) return -ERANGE;
        *a = y >= size ? 0 : size - y;
        *b = size - 1;
        return 0;
    }
    int n = sscanf(v, "%llu-%llu%c", &x, &y, &tail);
    if (n == 1 && v[strlen(v) - 1] == '-')
        y = size ? size - 1 : 0;
    else if (n != 2 || y < x)
        return -ERANGE;
    if (x >= size) return -ERANGE;
    *a = x;
    *b = y >= size ? size - 1 : y;
    return 0;
}

/* The body bytes this download may send (the "cut" fault), UINT64_MAX = all. */
static uint64_t cut_now(void)
{
    if (M.cut_down <= 0) return UINT64_MAX;
    M.cut_down--;
    return M.cut_bytes;
}

static void download(struct mhttp_conn *c, const struct mhttp_req *r)
{
    char hex[65], sig[40], want[33], oe_s[24], gen_s[24], p[FW_STATE_PATH_MAX + 80];
    const char *name = r->path + strlen(DP_PREFIX);
    if (strlen(name) != 68 || strcmp(name + 64, ".enc") != 0) {
        reply_err(c, 404, "unknown path");
        return;
    }
    memcpy(hex, name, 64);
    hex[64] = '\0';
    struct mfile *f = find(hex);
    if (M.fail_down > 0) {
        M.fail_down--;
        reply_err(c, M.fail_status, "fault: download refused");
        return;
    }
    if (!f) {
        reply_err(c, 404, "no such file");
        return;
    }
    if (http_query_param(r->query, "oh", sig, sizeof(sig)) <= 0 ||
        http_query_param(r->query, "oe", oe_s, sizeof(oe_s)) <= 0 ||
        http_query_param(r->query, "_nc_g", gen_s, sizeof(gen_s)) <= 0) {
        reply_err(c, 403, "unsigned path");
        return;
    }
    uint64_t oe = strtoull(oe_s, NULL, 16), gen = strtoull(gen_s, NULL, 10);
    sign(hex, oe, gen, want);
    if (strcmp(want, sig) != 0) {
        reply_err(c, 403, "bad signature");
        return;
    }
    if (gen < f->min_gen || fw_now() > oe) {
        reply_err(c, 410, "expired");
        return;
    }
    file_path(hex, p, sizeof(p));
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0) close(fd);
        reply_err(c, 404, "file gone");
        return;
    }
    uint64_t size = (uint64_t)sb.st_size, a = 0, b = size ? size - 1 : 0;
    char extra[128];
    M.st.downloads++;
    if (r->range[0]) {
        if (parse_range(r->range, size, &a, &b) < 0) {
            close(fd);
            snprintf(extra, sizeof(extra), "bytes */%llu", (unsigned long long)size);
            reply_err(c, 416, extra);
            return;
        }
        snprintf(extra, sizeof(extra), "Content-Range: bytes %llu-%llu/%llu\r\n",
                 (unsigned long long)a, (unsigned long long)b, (unsigned long long)size);
        M.st.bytes_out += b - a + 1;
        mhttp_reply_file(c, 206, fd, a, b - a + 1, cut_now(), extra);
        return;
    }
    M.st.bytes_out += size;
    mhttp_reply_file(c, 200, fd, 0, size, cut_now(), "Accept-Ranges: bytes\r\n");
}

/* ---- the handler ---- */

static int on_head(struct mhttp_conn *c, const struct mhttp_req *r)
{
    if (strcmp(r->method, "POST") == 0 && strncmp(r->path, "/mms/", 5) == 0)
        return start_upload(c, r);
    if (strcmp(r->method, "GET") == 0 && strncmp(r->path, DP_PREFIX, strlen(DP_PREFIX)) == 0)
        download(c, r);
    else
        reply_err(c, 404, "not found");
    return 0;
}

static void timer_free(uv_handle_t *h)
{
    free(h);
}

static void on_done(struct mhttp_conn *c)
{
    struct upload *u = mhttp_ud(c);
    if (!u) return;
    if (u->slow) uv_close((uv_handle_t *)u->slow, timer_free);
    if (u->fd >= 0) close(u->fd);
    if (u->tmp[0]) unlink(u->tmp);
    EVP_MD_CTX_free(u->sha);
    free(u);
    mhttp_set_ud(c, NULL);
}

static const struct mhttp_handler HANDLER = {
    .on_head = on_head, .on_body = on_body, .on_end = on_end, .done = on_done};

/* Remove what a previous run left (the index does not survive a restart). */
static void wipe_dir(void)
{
    DIR *d = opendir(M.dir);
    if (!d) return;
    struct dirent *e;
    char p[FW_STATE_PATH_MAX + 300];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", M.dir, e->d_name);
            unlink(p);
        }
    closedir(d);
}

int fw_media_start(struct fw_server *s, const char *host, int port, int *bound)
{
    M.s = s;
    M.ttl = FW_MEDIA_TTL_S;
    M.fail_status = 503;
    fw_random(M.secret, sizeof(M.secret));
    new_auth();
    snprintf(M.dir, sizeof(M.dir), "%s/media", s->state_dir);
    if (mkdir(M.dir, 0700) < 0 && errno != EEXIST) {
        snprintf(s->last_error, sizeof(s->last_error), "mkdir %s: %s", M.dir, strerror(errno));
        return -errno;
    }
    wipe_dir();
    int rc = mhttp_listen(s, &HANDLER, host, port, bound);
    if (rc < 0) return rc;
    snprintf(M.host, sizeof(M.host), "%s:%d", host, *bound);
    M.running = true;
    return 0;
}

void fw_media_stop(void)
{
    if (!M.running) return;
    mhttp_shutdown();
    free(M.files);
    free(M.sent);
    M.sent = NULL;
    M.files = NULL;
    M.nfiles = 0;
    M.running = false;
}

int fw_media_file_of(const char *dp, char *path, size_t cap, const char **dir)
{
    if (!M.running || !dp || strncmp(dp, DP_PREFIX, strlen(DP_PREFIX)) != 0) return -ENOENT;
    const char *name = dp + strlen(DP_PREFIX);
    char hex[65];
    if (strlen(name) < 68 || strncmp(name + 64, ".enc", 4) != 0) return -ENOENT;
    memcpy(hex, name, 64);
    hex[64] = '\0';
    const struct mfile *f = find(hex);
    if (!f) return -ENOENT;
    file_path(hex, path, cap);
    *dir = M.s->state_dir;
    return 0;
}

int fw_media_conn_info(const char **host, const char **auth, unsigned *ttl)
{
    if (!M.running) return -ENOENT;
    /* An auth past its ttl is replaced at the next media_conn, as the server does. */
    if (fw_now() > M.auth_since + M.ttl) new_auth();
    *host = M.host;
    *auth = M.auth;
    *ttl = M.ttl;
    return 0;
}

/* ---- admin ---- */

static cJSON *aerr(int *status, int st, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    *status = st;
    return o;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* Copy (or encrypt with `key`) the local file src into the store; fills the result. */
static int put_file(const char *src, enum wa_media_type t, const uint8_t *key, struct mfile **fout,
                    struct wa_media_result *res)
{
    static uint8_t in[MHTTP_CHUNK], enc[MHTTP_CHUNK + WA_MEDIA_OUT_SLACK];
    char tmp[FW_STATE_PATH_MAX + 64], hex[65], dst[FW_STATE_PATH_MAX + 80];
    snprintf(tmp, sizeof(tmp), "%s/tmp-%llu", M.dir, (unsigned long long)++M.seq);
    int sfd = open(src, O_RDONLY | O_CLOEXEC), dfd = -1, rc = -EIO;
    struct wa_media_enc *e = NULL;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    uint64_t len = 0;
    if (sfd < 0) {
        rc = -errno;
        goto out;
    }
    dfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (dfd < 0 || !sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) goto out;
    if (key && (rc = wa_media_enc_new(key, t, 0, &e)) < 0) goto out;
    rc = -EIO;
    for (;;) {
        ssize_t n = read(sfd, in, sizeof(in));
        size_t k = 0;
        if (n < 0) goto out;
        if (n == 0 && !e) break;
        int erc = !e  ? (memcpy(enc, in, (size_t)n), k = (size_t)n, 0)
                  : n ? wa_media_enc_update(e, in, (size_t)n, enc, sizeof(enc), &k)
                      : wa_media_enc_final(e, enc, sizeof(enc), &k, res);
        if (erc < 0) {
            rc = erc;
            goto out;
        }
        if ((k && write(dfd, enc, k) != (ssize_t)k) || EVP_DigestUpdate(sha, enc, k) != 1) goto out;
        len += k;
        if (len > FW_MEDIA_FILE_MAX || M.total + len > FW_MEDIA_TOTAL_MAX) {
            rc = -ENOSPC;
            goto out;
        }
        if (n == 0) break;
    }
    uint8_t h[32];
    unsigned hl = 0;
    if (EVP_DigestFinal_ex(sha, h, &hl) != 1 || fsync(dfd) < 0) goto out;
    hex_encode(hex, h, 32);
    file_path(hex, dst, sizeof(dst));
    if (rename(tmp, dst) < 0) goto out;
    tmp[0] = '\0';
    struct mfile *f = record(hex, wa_media_type_name(t), len, &rc);
    if (!f) goto out;
    *fout = f;
    rc = 0;
out:
    if (sfd >= 0) close(sfd);
    if (dfd >= 0) close(dfd);
    if (tmp[0]) unlink(tmp);
    wa_media_enc_free(e);
    EVP_MD_CTX_free(sha);
    return rc;
}

static cJSON *a_put(const cJSON *body, int *status)
{
    const char *src = jstr(body, "path"), *tn = jstr(body, "type"), *kh = jstr(body, "media_key");
    enum wa_media_type t = WA_MEDIA_DOCUMENT;
    if (!src || (tn && wa_media_type_parse(tn, &t) < 0))
        return aerr(status, 400, "need \"path\" and a known \"type\"");
    bool encrypt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "encrypt"));
    uint8_t key[32];
    if (kh && hex_decode(key, sizeof(key), kh, strlen(kh)) != 32)
        return aerr(status, 400, "media_key: 64 hex digits");
    if (encrypt && !kh) fw_random(key, sizeof(key));
    struct mfile *f = NULL;
    struct wa_media_result res;
    int rc = put_file(src, t, encrypt ? key : NULL, &f, &res);
    if (rc < 0) return aerr(status, rc == -ENOENT ? 404 : rc == -ENOSPC ? 507 : 400, strerror(-rc));
    const char *mid = jstr(body, "msg_id");
    if (mid && encrypt && strlen(mid) < WA_MRETRY_ID_MAX &&
        (M.sent || (M.sent = calloc(FW_MEDIA_SENT_MAX, sizeof(*M.sent))))) {
        struct msent *e = &M.sent[M.nsent++ % FW_MEDIA_SENT_MAX];
        snprintf(e->id, sizeof(e->id), "%s", mid);
        memcpy(e->key, key, 32);
        snprintf(e->hex, sizeof(e->hex), "%s", f->hex);
    }
    cJSON *o = file_json(f, true);
    if (encrypt) {
        char kx[65], ps[65];
        hex_encode(kx, key, 32);
        hex_encode(ps, res.file_sha256, 32);
        cJSON_AddStringToObject(o, "media_key", kx);
        cJSON_AddStringToObject(o, "file_sha256", ps);
        cJSON_AddNumberToObject(o, "file_length", (double)res.file_length);
    }
    *status = 200;
    return o;
}

static cJSON *a_stats(int *status)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "host", M.host);
    cJSON_AddStringToObject(o, "auth", M.auth);
    cJSON_AddNumberToObject(o, "ttl", M.ttl);
    cJSON_AddNumberToObject(o, "files", (double)M.nfiles);
    cJSON_AddNumberToObject(o, "bytes", (double)M.total);
    cJSON_AddNumberToObject(o, "uploads", (double)M.st.uploads);
    cJSON_AddNumberToObject(o, "downloads", (double)M.st.downloads);
    cJSON_AddNumberToObject(o, "refused", (double)M.st.refused);
    cJSON_AddNumberToObject(o, "bytes_in", (double)M.st.bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)M.st.bytes_out);
    cJSON_AddNumberToObject(o, "retries_answered", (double)M.retries_answered);
    *status = 200;
    return o;
}

/* Flip one byte in the middle of the stored file (its hash no longer matches). */
static int corrupt(struct mfile *f)
{
    char p[FW_STATE_PATH_MAX + 80];
    uint8_t b;
    file_path(f->hex, p, sizeof(p));
    int fd = open(p, O_RDWR | O_CLOEXEC), rc = -EIO;
    off_t at = (off_t)(f->size / 2);
    if (fd >= 0 && pread(fd, &b, 1, at) == 1) {
        b ^= 0x5a;
        if (pwrite(fd, &b, 1, at) == 1) rc = 0;
    }
    if (fd >= 0) close(fd);
    if (rc == 0) f->corrupt = true;
    return rc;
}

cJSON *fw_media_admin(struct fw_server *s, const char *method, const char *path, const char *query,
                      const cJSON *body, int *status)
{
    (void)s;
    if (strncmp(path, "/admin/media", 12) != 0 || (path[12] && path[12] != '/')) return NULL;
    if (!M.running) return aerr(status, 404, "no media host (start with --media)");
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0 && body;
    const char *sub = path + 12;
    char hex[80];
    const char *h = body ? jstr(body, "enc_sha256") : NULL;
    if (!h && http_query_param(query, "enc_sha256", hex, sizeof(hex)) > 0) h = hex;
    struct mfile *f = h ? find(h) : NULL;
    if (get && !*sub) return a_stats(status);
    if (get && strcmp(sub, "/file") == 0) {
        if (!f) return aerr(status, 404, "no such file");
        *status = 200;
        return file_json(f, true);
    }
    if (post && strcmp(sub, "/put") == 0) return a_put(body, status);
    if (post && strcmp(sub, "/expire") == 0) {
        bool all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "all"));
        if (!f && !all) return aerr(status, 404, "no such file");
        size_t n = 0;
        for (size_t i = 0; i < M.nfiles; i++)
            if (all || &M.files[i] == f) {
                M.files[i].min_gen = M.files[i].gen + 1;
                n++;
            }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "expired", (double)n);
        *status = 200;
        return o;
    }
    if (post && strcmp(sub, "/corrupt") == 0) {
        if (!f) return aerr(status, 404, "no such file");
        if (corrupt(f) < 0) return aerr(status, 500, "cannot corrupt");
        *status = 200;
        return file_json(f, true);
    }
    if (post && strcmp(sub, "/auth") == 0) {
        M.ttl = (unsigned)jnum(body, "ttl", M.ttl);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "rotate"))) new_auth();
        return a_stats(status);
    }
    if (post && strcmp(sub, "/fail") == 0) {
        const char *op = jstr(body, "op");
        int n = (int)jnum(body, "count", 1);
        M.fail_status = (int)jnum(body, "status", 503);
        if (M.fail_status < 400 || M.fail_status > 599) M.fail_status = 503;
        if (op && strcmp(op, "upload") == 0)
            M.fail_up = n;
        else if (op && strcmp(op, "download") == 0)
            M.fail_down = n;
        else if (op && strcmp(op, "cut") == 0) {
            M.cut_down = n;
            M.cut_bytes = (uint64_t)jnum(body, "bytes", 65536);
        } else if (op && strcmp(op, "slow") == 0) {
            M.slow_up = n;
            M.slow_ms = (uint64_t)jnum(body, "ms", 5000);
        } else
            return aerr(status, 400, "op: upload, download, cut or slow");
        return a_stats(status);
    }
    return aerr(status, 404, "not found");
}

/* ---- media retry: the sender's simulated phone re-uploads ---- */

static const struct msent *sent_find(const char *id)
{
    size_t n = M.nsent < FW_MEDIA_SENT_MAX ? M.nsent : FW_MEDIA_SENT_MAX;
    for (size_t i = 0; i < n; i++)
        if (strcmp(M.sent[i].id, id) == 0) return &M.sent[i];
    return NULL;
}

void fw_media_remember(const char *msg_id, const uint8_t key[WA_MEDIA_KEY_LEN], const char *enc_hex)
{
    if (!M.running || !msg_id || strlen(msg_id) >= WA_MRETRY_ID_MAX || !enc_hex ||
        strlen(enc_hex) != 64 ||
        (!M.sent && !(M.sent = calloc(FW_MEDIA_SENT_MAX, sizeof(*M.sent)))))
        return;
    struct msent *e = &M.sent[M.nsent++ % FW_MEDIA_SENT_MAX];
    snprintf(e->id, sizeof(e->id), "%s", msg_id);
    memcpy(e->key, key, WA_MEDIA_KEY_LEN);
    snprintf(e->hex, sizeof(e->hex), "%s", enc_hex);
}

void fw_media_on_retry(struct fw_conn *c, const struct wa_node *receipt)
{
    struct wa_mretry_key k;
    if (wa_mretry_open_request(receipt, NULL, &k) < 0) {
        log_info("fakewa", c->name, "malformed server-error receipt ignored");
        return;
    }
    const struct msent *e = M.running ? sent_find(k.id) : NULL;
    struct mfile *f = e ? find(e->hex) : NULL;
    char to[WA_JID_STR_MAX], dp[256];
    fw_pn_jid(c->acc, c->dev->id, false, to);
    uint8_t iv[WA_MEDIA_RETRY_IV];
    fw_random(iv, sizeof(iv));
    struct wa_node *n = NULL;
    int rc;
    if (!f) { /* the phone does not know the message: an error, nothing sealed */
        rc = wa_mretry_notification(NULL, &k, to, WA_MRETRY_NOT_FOUND, NULL, NULL, &n);
    } else if (wa_mretry_open_request(receipt, e->key, &k) < 0) {
        rc = wa_mretry_notification(e->key, &k, to, WA_MRETRY_DECRYPTION_ERROR, NULL, iv, &n);
    } else {
        f->gen++; /* "uploaded again": a new generation of paths, not expired */
        direct_path(f, dp, sizeof(dp));
        rc = wa_mretry_notification(e->key, &k, to, WA_MRETRY_SUCCESS, dp, iv, &n);
        M.retries_answered++;
    }
    if (rc == 0) {
        log_info("fakewa", c->name, "media retry for %s: %s", k.id, f ? "re-uploaded" : "unknown");
        (void)fw_conn_send(c, n);
    }
    wa_node_free(n);
}
