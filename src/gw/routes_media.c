/* SPDX-License-Identifier: MIT */
/* routes_media.c -- POST /api/v1/messages with a file (see routes_media.h). */
#include "gw/routes_media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http.h"
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

void rmedia_send_raw(const struct api_request *req, struct api_response *res,
                     struct gw_channel_list *l)
{
    const char *q = req->http->query;
    char type[16], to[300], acct[80], cap[4096], fname[300], secs[16], reply[160], key[160];
    bool bad = false;
    const char *t = qp(q, "type", type, sizeof type, &bad);
    struct wa_outmedia md = {0};
    if (!kind_type(t, &md.type, &md.ptt)) {
        api_response_error(res, 400, "type: image, video, audio, ptt, document or sticker");
        return;
    }
    struct wa_outmsg m = {.kind = WA_OM_MEDIA,
                          .to = qp(q, "to", to, sizeof to, &bad),
                          .text = qp(q, "caption", cap, sizeof cap, &bad),
                          .idem_key = qp(q, "idempotency_key", key, sizeof key, &bad),
                          .target = qp(q, "reply_to", reply, sizeof reply, &bad),
                          .media = &md};
    const char *account = qp(q, "account", acct, sizeof acct, &bad);
    md.file_name = qp(q, "file_name", fname, sizeof fname, &bad);
    const char *s = qp(q, "seconds", secs, sizeof secs, &bad);
    if (bad) {
        api_response_error(res, 400, "a query parameter is malformed or too long");
        return;
    }
    if (s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (!s[0] || *end || v > 86400) {
            api_response_error(res, 400, "seconds: the duration, 0..86400");
            return;
        }
        md.seconds = (uint32_t)v;
    }
    if (md.type != WA_MEDIA_DOCUMENT && md.file_name) {
        api_response_error(res, 400, "file_name: for a document");
        return;
    }
    const char *ct = http_request_header(req->http, "Content-Type");
    md.mimetype = ct && ct[0] ? ct : default_mime(md.type, md.ptt, md.file_name);
    struct chmsend_src src = {.data = req->http->body, .len = req->http->body_len};
    accept_and_answer(req, res, l, account, &m, &src);
}
