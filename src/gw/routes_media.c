/* SPDX-License-Identifier: MIT */
/* routes_media.c -- POST /api/v1/messages with a file (see routes_media.h). */
#include "gw/routes_media.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/http.h"
#include "api/multipart.h"
#include "api/server.h"
#include "core/utf8.h"
#include "gw/channel.h"
#include "gw/chmsend.h"
#include "gw/chlist.h"
#include "store/msgstore.h"

static const char *const kinds[] = {"image", "video", "audio", "document", "sticker"};

static bool kind_type(const char *k, enum wa_media_type *t, bool *ptt)
{
    static const enum wa_media_type types[] = {WA_MEDIA_IMAGE, WA_MEDIA_VIDEO, WA_MEDIA_AUDIO,
                                               WA_MEDIA_DOCUMENT, WA_MEDIA_STICKER};
    *ptt = k && !strcmp(k, "ptt");
    if (*ptt) k = "audio";
    for (size_t i = 0; k && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(k, kinds[i])) {
            *t = types[i];
            return true;
        }
    return false;
}

bool rmedia_wanted(const cJSON *body)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (cJSON_GetObjectItemCaseSensitive(body, kinds[i])) return true;
    return false;
}

bool rmedia_raw(const struct api_request *req)
{
    char t[16];
    return http_query_param(req->http->query, "type", t, sizeof t) >= 0;
}

/* The mimetype a file gets when the request names none: by the file name's extension, else
 * the kind's usual one (as Baileys defaults them). */
static const char *default_mime(enum wa_media_type t, bool ptt, const char *name)
{
    static const struct {
        const char *ext, *mime;
    } ext[] = {{".jpg", "image/jpeg"},
               {".jpeg", "image/jpeg"},
               {".png", "image/png"},
               {".webp", "image/webp"},
               {".gif", "image/gif"},
               {".mp4", "video/mp4"},
               {".3gp", "video/3gpp"},
               {".mov", "video/quicktime"},
               {".ogg", "audio/ogg; codecs=opus"},
               {".opus", "audio/ogg; codecs=opus"},
               {".mp3", "audio/mpeg"},
               {".m4a", "audio/mp4"},
               {".aac", "audio/aac"},
               {".wav", "audio/wav"},
               {".pdf", "application/pdf"},
               {".txt", "text/plain"},
               {".csv", "text/csv"},
               {".json", "application/json"},
               {".zip", "application/zip"},
               {".doc", "application/msword"},
               {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
               {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}};
    if (ptt) return "audio/ogg; codecs=opus";
    const char *dot = name ? strrchr(name, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof ext / sizeof ext[0]; i++)
        if (!strcasecmp(dot, ext[i].ext)) return ext[i].mime;
    switch (t) {
    case WA_MEDIA_IMAGE:
        return "image/jpeg";
    case WA_MEDIA_VIDEO:
        return "video/mp4";
    case WA_MEDIA_AUDIO:
        return "audio/ogg; codecs=opus";
    case WA_MEDIA_STICKER:
        return "image/webp";
    default:
        return "application/octet-stream";
    }
}

/* The held answer of one accept. */
struct hold {
    struct api_server *server;
    uint64_t ticket;
};

static void accepted(void *ud, int rc, const char *err)
{
    struct hold *h = ud;
    if (h->ticket) {
        int status = rc == 0                             ? 0
                     : rc == -EINVAL                     ? 400
                     : rc == -EEXIST                     ? 409
                     : rc == -ECANCELED || rc == -EAGAIN ? 503
                                                         : 500;
        api_server_release(h->server, h->ticket, status, err);
    }
    free(h);
}

static void answer_error(struct api_response *res, int rc, const char *err)
{
    int status = rc == -EINVAL   ? 400
                 : rc == -EEXIST ? 409
                 : rc == -ENOENT ? 404
                 : rc == -EAGAIN ? 503
                                 : 500;
    if (rc == -EAGAIN)
        err = "the account is not linked yet (or its store is not open): link it with "
              "POST /api/v1/channels/whatsapp/{account}/login";
    api_response_error(res, status, err && err[0] ? err : strerror(-rc));
}

/* The account's channel for a file to send, with its recipient and key checked: NULL when
 * res has the error (404, 400). */
static struct gw_channel *target_channel(struct api_response *res, struct gw_channel_list *l,
                                         const char *account, const struct wa_outmsg *m)
{
    struct gw_channel *ch = gw_channel_list_find(l, account ? account : "default");
    if (!ch) {
        api_response_error(res, 404, "no such account");
        return NULL;
    }
    if (!m->to) {
        api_response_error(res, 400, "need \"to\": the number, JID or group to send the file to");
        return NULL;
    }
    if (m->idem_key && (!m->idem_key[0] || strlen(m->idem_key) >= ST_IDEM_MAX)) {
        api_response_error(res, 400, "idempotency_key: 1 to 127 characters");
        return NULL;
    }
    return ch;
}

static void accept_and_answer(const struct api_request *req, struct api_response *res,
                              struct gw_channel_list *l, const char *account,
                              const struct wa_outmsg *m, const struct chmsend_src *src)
{
    struct gw_channel *ch = target_channel(res, l, account, m);
    if (!ch) return;
    struct hold *h = calloc(1, sizeof *h);
    if (!h) {
        api_response_error(res, 500, "out of memory");
        return;
    }
    h->server = req->server;
    struct chmsend_accepted acc;
    char err[300] = "";
    int rc = chmsend_accept(gw_channel_msend(ch), m, src, accepted, h, &acc, err, sizeof err);
    if (rc < 0) {
        free(h);
        answer_error(res, rc, err);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", gw_channel_account(ch));
    cJSON_AddStringToObject(o, "id", acc.id);
    cJSON_AddStringToObject(o, "state", st_out_state_name(acc.state));
    if (rc == ST_DUPLICATE) {
        free(h);
        cJSON_AddTrueToObject(o, "duplicate");
        api_response_json(res, 200, o);
        return;
    }
    api_response_json(res, 202, o);
    /* the answer goes once the copy is durable (accepted() runs from a later callback) */
    h->ticket = api_response_defer(req, res);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p;
}

/* ---- a file from a URL: fetched first, then accepted like a path (gw/chmsend.h) ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9'                     ? c - '0'
           : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                    : -1;
}

/* The last path segment of a URL (no query), percent-decoded, for a document's default name
 * and the mimetype by extension: "file" when it is empty, too long, or decodes to a '/', a
 * control character or invalid UTF-8. */
static const char *url_name(const char *url, char *buf, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t n = p ? strcspn(p, "?#") : 0;
    const char *seg = p;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '/') seg = p + i + 1;
    size_t k = 0;
    for (const char *q = seg; p && q < p + n; q++) {
        int c = (unsigned char)*q;
        if (c == '%' && q + 2 < p + n && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
            c = hexval(q[1]) * 16 + hexval(q[2]);
            q += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '/' || k + 1 >= cap) return "file";
        buf[k++] = (char)c;
    }
    if (k == 0) return "file";
    buf[k] = '\0';
    return utf8_valid(buf, k) ? buf : "file";
}

/* A request waiting for its file: an owned copy of the message (the body goes away). */
struct urlreq {
    struct api_server *server;
    uint64_t ticket;
    struct gw_channel_list *l;
    char account[80];
    struct wa_outmsg m;
    struct wa_outmedia md;
    char *to, *text, *key, *target, *mime, *fname, *mentions[WA_SEND_MENTIONS_MAX];
    char path[PATH_MAX + 64];
    char id[32]; /* the accepted row's */
};

static void urlreq_free(struct urlreq *u)
{
    free(u->to), free(u->text), free(u->key), free(u->target), free(u->mime), free(u->fname);
    for (size_t i = 0; i < u->m.n_mentions; i++)
        free(u->mentions[i]);
    free(u);
}

static bool dup_str(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return !s || *out;
}

static struct urlreq *urlreq_new(const struct wa_outmsg *m, const char *account)
{
    struct urlreq *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    snprintf(u->account, sizeof u->account, "%s", account);
    u->md = *m->media;
    u->m = *m;
    u->m.media = &u->md;
    u->m.n_mentions = 0;
    bool ok = dup_str(m->to, &u->to) && dup_str(m->text, &u->text) &&
              dup_str(m->idem_key, &u->key) && dup_str(m->target, &u->target) &&
              dup_str(m->media->mimetype, &u->mime) && dup_str(m->media->file_name, &u->fname);
    for (size_t i = 0; ok && i < m->n_mentions && i < WA_SEND_MENTIONS_MAX; i++, u->m.n_mentions++)
        ok = dup_str(m->mentions[i], &u->mentions[i]);
    if (!ok) {
        urlreq_free(u);
        return NULL;
    }
    u->m.to = u->to, u->m.text = u->text, u->m.idem_key = u->key, u->m.target = u->target;
    u->m.mentions = (const char *const *)u->mentions;
    u->md.mimetype = u->mime, u->md.file_name = u->fname;
    return u;
}

static int fetch_status(int rc)
{
    return rc == -EACCES                                                        ? 403
           : rc == -EINVAL || rc == -EMSGSIZE || rc == -ENOENT || rc == -EPROTO ? 400
           : rc == -EBUSY || rc == -ECANCELED || rc == -EAGAIN                  ? 503
           : rc == -ENOMEM || rc == -EIO                                        ? 500
                                                                                : 502;
}

static cJSON *queued_json(const char *account, const char *id, const char *state, bool dup)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", account);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "state", state);
    if (dup) cJSON_AddTrueToObject(o, "duplicate");
    return o;
}

static void url_accepted(void *ud, int rc, const char *err)
{
    struct urlreq *u = ud;
    (void)unlink(u->path); /* copied into outmedia, or refused */
    if (rc == 0)
        api_server_release_json(u->server, u->ticket, 202,
                                queued_json(u->account, u->id, "queued", false));
    else
        api_server_release(u->server, u->ticket, fetch_status(rc), err);
    urlreq_free(u);
}

static void url_fetched(void *ud, int rc, const char *path, const char *why)
{
    struct urlreq *u = ud;
    struct gw_channel *ch = rc == 0 ? gw_channel_list_find(u->l, u->account) : NULL;
    if (rc == 0 && !ch) rc = -ECANCELED, why = "the account is gone";
    if (rc == 0 && !u->ticket) rc = -ECANCELED; /* nobody waits for it (no memory to defer) */
    if (rc < 0) {
        if (path) (void)unlink(path);
        api_server_release(u->server, u->ticket, fetch_status(rc), why);
        urlreq_free(u);
        return;
    }
    snprintf(u->path, sizeof u->path, "%s", path);
    struct chmsend_accepted acc;
    char err[300] = "";
    struct chmsend_src src = {.path = u->path, .take = true}; /* moved, not copied */
    rc = chmsend_accept(gw_channel_msend(ch), &u->m, &src, url_accepted, u, &acc, err, sizeof err);
    if (rc == 0) {
        snprintf(u->id, sizeof u->id, "%s", acc.id);
        return; /* url_accepted answers */
    }
    (void)unlink(u->path);
    if (rc == ST_DUPLICATE)
        api_server_release_json(
            u->server, u->ticket, 200,
            queued_json(u->account, acc.id, st_out_state_name(acc.state), true));
    else
        api_server_release(u->server, u->ticket, rc == -EEXIST ? 409 : fetch_status(rc),
                           err[0] ? err : strerror(-rc));
    urlreq_free(u);
}

static void url_start(const struct api_request *req, struct api_response *res,
                      struct gw_channel_list *l, const char *account, const struct wa_outmsg *m,
                      const char *url)
{
    struct gw_channel *ch = target_channel(res, l, account, m);
    if (!ch) return;
    struct chmsend *ms = gw_channel_msend(ch);
    struct urlreq *u = ms ? urlreq_new(m, gw_channel_account(ch)) : NULL;
    if (!u) {
        api_response_error(res, ms ? 500 : 503, ms ? "out of memory" : "media sends are off");
        return;
    }
    u->server = req->server;
    u->l = l;
    char err[300] = "";
    int rc = chmsend_fetch_url(ms, url, m->media->type, url_fetched, u, err, sizeof err);
    if (rc < 0) { /* not allowed, or not started: nothing runs later */
        api_response_error(res, fetch_status(rc), err[0] ? err : strerror(-rc));
        urlreq_free(u);
        return;
    }
    /* url_fetched runs from a later callback: the ticket is set by then */
    api_response_json(res, 202, NULL); /* replaced by the answer of url_fetched / url_accepted */
    u->ticket = api_response_defer(req, res);
    if (!u->ticket) api_response_error(res, 500, "out of memory"); /* u is dropped then */
}

void rmedia_send_json(const struct api_request *req, const cJSON *body, struct wa_outmsg *m,
                      const char *account, struct api_response *res, struct gw_channel_list *l)
{
    const cJSON *f = NULL;
    const char *kind = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, kinds[i]);
        if (!v) continue;
        if (f) {
            api_response_error(res, 400,
                               "one file per message: image, video, audio, document "
                               "or sticker");
            return;
        }
        f = v, kind = kinds[i];
    }
    const cJSON *ptt = cJSON_GetObjectItemCaseSensitive(body, "ptt"),
                *secs = cJSON_GetObjectItemCaseSensitive(body, "seconds");
    const char *path = cJSON_IsObject(f) ? jstr(f, "path") : NULL,
               *url = cJSON_IsObject(f) ? jstr(f, "url") : NULL;
    if (!path == !url) {
        char why[120];
        snprintf(why, sizeof why,
                 "%s: an object {\"path\": \"/absolute/file\"} or {\"url\": \"https://...\"}",
                 kind);
        api_response_error(res, 400, why);
        return;
    }
    char uname[256];
    if (url) path = url_name(url, uname, sizeof uname); /* for the defaults below */
    if ((ptt && !cJSON_IsBool(ptt)) || (cJSON_IsTrue(ptt) && strcmp(kind, "audio"))) {
        api_response_error(res, 400, "ptt: true or false, with \"audio\" (a voice note)");
        return;
    }
    if (secs && (!cJSON_IsNumber(secs) || secs->valuedouble < 0 || secs->valuedouble > 86400)) {
        api_response_error(res, 400, "seconds: the duration, 0..86400");
        return;
    }
    const cJSON *fields[] = {cJSON_GetObjectItemCaseSensitive(body, "caption"),
                             cJSON_GetObjectItemCaseSensitive(body, "mimetype"),
                             cJSON_GetObjectItemCaseSensitive(body, "file_name"),
                             cJSON_GetObjectItemCaseSensitive(body, "text")};
    if ((fields[0] && !cJSON_IsString(fields[0])) || (fields[1] && !cJSON_IsString(fields[1])) ||
        (fields[2] && !cJSON_IsString(fields[2]))) {
        api_response_error(res, 400, "caption, mimetype, file_name: strings");
        return;
    }
    if (fields[3]) {
        api_response_error(res, 400, "a file's text is its \"caption\"");
        return;
    }
    struct wa_outmedia md = {.file_name = jstr(body, "file_name"),
                             .seconds = secs ? (uint32_t)secs->valuedouble : 0};
    kind_type(kind, &md.type, &md.ptt);
    md.ptt = cJSON_IsTrue(ptt);
    if (md.type == WA_MEDIA_DOCUMENT && !md.file_name) md.file_name = base_name(path);
    if (md.type != WA_MEDIA_DOCUMENT && md.file_name) {
        api_response_error(res, 400, "file_name: for a document");
        return;
    }
    md.mimetype = jstr(body, "mimetype");
    if (!md.mimetype) md.mimetype = default_mime(md.type, md.ptt, path);
    m->kind = WA_OM_MEDIA;
    m->text = jstr(body, "caption");
    m->media = &md;
    if (url) {
        url_start(req, res, l, account, m, url);
        return;
    }
    struct chmsend_src src = {.path = path};
    accept_and_answer(req, res, l, account, m, &src);
}

/* One query parameter into a buffer of its own: NULL when absent; *bad on a bad escape. */
static const char *qp(const char *query, const char *name, char *buf, size_t cap, bool *bad)
{
    long n = http_query_param(query, name, buf, cap);
    if (n == -ENOENT) return NULL;
    if (n < 0 || memchr(buf, '\0', (size_t)n)) *bad = true;
    return n < 0 ? NULL : buf;
}

/* The fields of a raw or multipart upload, NUL-terminated (NULL: absent). */
struct upfields {
    const char *type, *to, *caption, *key, *reply, *account, *fname, *secs, *mime;
};

static void send_upload(const struct api_request *req, struct api_response *res,
                        struct gw_channel_list *l, const struct upfields *f,
                        const struct chmsend_src *src)
{
    struct wa_outmedia md = {0};
    if (!kind_type(f->type, &md.type, &md.ptt)) {
        api_response_error(res, 400, "type: image, video, audio, ptt, document or sticker");
        return;
    }
    struct wa_outmsg m = {.kind = WA_OM_MEDIA,
                          .to = f->to,
                          .text = f->caption,
                          .idem_key = f->key,
                          .target = f->reply,
                          .media = &md};
    md.file_name = f->fname;
    if (f->secs) {
        char *end;
        unsigned long v = strtoul(f->secs, &end, 10);
        if (!f->secs[0] || *end || v > 86400) {
            api_response_error(res, 400, "seconds: the duration, 0..86400");
            return;
        }
        md.seconds = (uint32_t)v;
    }
    if (md.type != WA_MEDIA_DOCUMENT && md.file_name) {
        api_response_error(res, 400, "file_name: for a document");
        return;
    }
    md.mimetype = f->mime && f->mime[0] ? f->mime : default_mime(md.type, md.ptt, md.file_name);
    accept_and_answer(req, res, l, f->account, &m, src);
}

void rmedia_send_raw(const struct api_request *req, struct api_response *res,
                     struct gw_channel_list *l)
{
    const char *q = req->http->query;
    char type[16], to[300], acct[80], cap[4096], fname[300], secs[16], reply[160], key[160];
    bool bad = false;
    struct upfields f = {.type = qp(q, "type", type, sizeof type, &bad),
                         .to = qp(q, "to", to, sizeof to, &bad),
                         .caption = qp(q, "caption", cap, sizeof cap, &bad),
                         .key = qp(q, "idempotency_key", key, sizeof key, &bad),
                         .reply = qp(q, "reply_to", reply, sizeof reply, &bad),
                         .account = qp(q, "account", acct, sizeof acct, &bad),
                         .fname = qp(q, "file_name", fname, sizeof fname, &bad),
                         .secs = qp(q, "seconds", secs, sizeof secs, &bad),
                         .mime = http_request_header(req->http, "Content-Type")};
    if (bad) {
        api_response_error(res, 400, "a query parameter is malformed or too long");
        return;
    }
    /* past the in-memory cap the server spooled the body to a file: send from there */
    struct chmsend_src src = {.path = req->spool_path,
                              .data = req->http->body,
                              .len = req->http->body_len,
                              .take = req->spool_path !=
                                      NULL}; /* a spooled body is moved, not copied */
    send_upload(req, res, l, &f, &src);
}

bool rmedia_multipart(const struct api_request *req)
{
    char b[MP_BOUNDARY_MAX + 1];
    return mp_boundary(http_request_header(req->http, "Content-Type"), b, sizeof b) != -ENOENT;
}

/* A text field of a multipart body into buf (NUL-terminated, no NUL inside): NULL when
 * absent; *bad when too long or holding a NUL. */
static const char *mp_field(const struct mp_part *p, size_t n, const char *name, char *buf,
                            size_t cap, bool *bad)
{
    const struct mp_part *f = mp_find(p, n, name);
    if (!f) return NULL;
    if (f->has_filename || f->len >= cap || (f->len && memchr(f->data, '\0', f->len))) {
        *bad = true;
        return NULL;
    }
    if (f->len) memcpy(buf, f->data, f->len);
    buf[f->len] = '\0';
    return buf;
}

void rmedia_send_multipart(const struct api_request *req, struct api_response *res,
                           struct gw_channel_list *l)
{
    char bnd[MP_BOUNDARY_MAX + 1], err[160];
    if (mp_boundary(http_request_header(req->http, "Content-Type"), bnd, sizeof bnd) < 0) {
        api_response_error(res, 400, "Content-Type: multipart/form-data needs a boundary");
        return;
    }
    struct mp_part p[MP_PARTS_MAX];
    size_t n = 0;
    if (mp_parse(req->http->body, req->http->body_len, bnd, p, MP_PARTS_MAX, &n, err, sizeof err) <
        0) {
        char why[200];
        snprintf(why, sizeof why, "multipart body: %s", err);
        api_response_error(res, 400, why);
        return;
    }
    /* the file: the part named "file", or one named after its kind (then that is the type) */
    const struct mp_part *file = mp_find(p, n, "file");
    const char *kind = NULL;
    static const char *const names[] = {"image", "video", "audio", "ptt", "document", "sticker"};
    for (size_t i = 0; !file && i < sizeof names / sizeof names[0]; i++)
        if ((file = mp_find(p, n, names[i]))) kind = names[i];
    if (!file || !file->len) {
        api_response_error(res, 400,
                           "multipart body: no file (a non-empty part named \"file\", or "
                           "\"image\", \"video\", \"audio\", \"ptt\", \"document\", "
                           "\"sticker\")");
        return;
    }
    char type[16], to[300], acct[80], cap[4096], fname[300], secs[16], reply[160], key[160],
        mime[WA_OUTMEDIA_MIME_MAX + 1];
    bool bad = false;
    struct upfields f = {.type = mp_field(p, n, "type", type, sizeof type, &bad),
                         .to = mp_field(p, n, "to", to, sizeof to, &bad),
                         .caption = mp_field(p, n, "caption", cap, sizeof cap, &bad),
                         .key = mp_field(p, n, "idempotency_key", key, sizeof key, &bad),
                         .reply = mp_field(p, n, "reply_to", reply, sizeof reply, &bad),
                         .account = mp_field(p, n, "account", acct, sizeof acct, &bad),
                         .fname = mp_field(p, n, "file_name", fname, sizeof fname, &bad),
                         .secs = mp_field(p, n, "seconds", secs, sizeof secs, &bad),
                         .mime = mp_field(p, n, "mimetype", mime, sizeof mime, &bad)};
    if (bad) {
        api_response_error(res, 400,
                           "multipart body: a field is too long, holds a NUL, or has a filename");
        return;
    }
    if (kind && f.type && strcmp(kind, f.type)) {
        api_response_error(res, 400, "multipart body: the file part's name and \"type\" differ");
        return;
    }
    if (!f.type) f.type = kind;
    if (!f.mime && file->content_type[0] &&
        strcasecmp(file->content_type, "application/octet-stream"))
        f.mime = file->content_type;
    bool doc = f.type && !strcmp(f.type, "document");
    if (!f.fname && doc && file->filename[0]) f.fname = file->filename;
    /* the default mimetype by the part's filename when nothing names one */
    if (!f.mime && !doc && file->filename[0]) {
        enum wa_media_type t;
        bool ptt;
        if (kind_type(f.type, &t, &ptt)) f.mime = default_mime(t, ptt, file->filename);
    }
    send_upload(req, res, l, &f, &(struct chmsend_src){.data = file->data, .len = file->len});
}
