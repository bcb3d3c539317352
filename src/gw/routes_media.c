/* SPDX-License-Identifier: MIT */
/* routes_media.c -- POST /api/v1/messages with a file (see routes_media.h). */
#include "gw/routes_media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http.h"
#include "api/multipart.h"
#include "api/server.h"
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

static void accept_and_answer(const struct api_request *req, struct api_response *res,
                              struct gw_channel_list *l, const char *account,
                              const struct wa_outmsg *m, const struct chmsend_src *src)
{
    struct gw_channel *ch = gw_channel_list_find(l, account ? account : "default");
    if (!ch) {
        api_response_error(res, 404, "no such account");
        return;
    }
    if (!m->to) {
        api_response_error(res, 400, "need \"to\": the number, JID or group to send the file to");
        return;
    }
    if (m->idem_key && (!m->idem_key[0] || strlen(m->idem_key) >= ST_IDEM_MAX)) {
        api_response_error(res, 400, "idempotency_key: 1 to 127 characters");
        return;
    }
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
    const char *path = cJSON_IsObject(f) ? jstr(f, "path") : NULL;
    if (!path) {
        char why[96];
        snprintf(why, sizeof why, "%s: an object {\"path\": \"/absolute/file\"}", kind);
        api_response_error(res, 400, why);
        return;
    }
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
                        struct gw_channel_list *l, const struct upfields *f, const uint8_t *data,
                        size_t len)
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
    struct chmsend_src src = {.data = data, .len = len};
    accept_and_answer(req, res, l, f->account, &m, &src);
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
    send_upload(req, res, l, &f, req->http->body, req->http->body_len);
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
    send_upload(req, res, l, &f, file->data, file->len);
}
