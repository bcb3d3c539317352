/* SPDX-License-Identifier: MIT */
/* chmedia.c -- one channel's received files (see chmedia.h). */
#include "gw/chmedia.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/fileio.h"
#include "core/hex.h"
#include "core/log.h"
#include "store/msgstore.h"
#include "wa/creds.h"
#include "wa/jid.h"
#include "wa/mediaretry.h"
#include "wa/mediaxfer.h"

#define COMP        "media"
#define BACKOFFS    32
#define BACKOFF_MS  1000
#define BACKOFF_MAX 300000
#define SWEEP_MAX   64 /* files removed per sweep */

struct job {
    struct chmedia *m;
    struct wa_mxfer *x; /* NULL: free slot */
    int64_t cursor;
    int attempts; /* including this one */
    char dest[PATH_MAX + 96];
};

struct backoff {
    int64_t cursor; /* 0: free */
    uint64_t until; /* uv_now ms */
    bool asked;     /* a media retry request went out for this row */
    bool answered;  /* ... and the phone gave a new direct path */
};

struct chmedia {
    uv_loop_t *loop;
    char account[64], dir[PATH_MAX], ca[PATH_MAX];
    uint64_t budget;
    unsigned keep_days;
    void (*on_file)(void *, int64_t, const struct st_mfile *);
    void *ud;
    const struct wa_creds *creds;
    struct st_db *db;
    struct wa_client *client;
    struct chmconn *mconn; /* borrowed */
    struct job jobs[CHMEDIA_PARALLEL];
    struct backoff bo[BACKOFFS];
    uv_timer_t *timer;
    uint64_t used;
    bool used_known;
};

static void kick_at(struct chmedia *m, uint64_t delay);

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

static bool enum_type(const char *kind, enum wa_media_type *t)
{
    static const struct {
        const char *k;
        enum wa_media_type t;
    } map[] = {{"image", WA_MEDIA_IMAGE},       {"video", WA_MEDIA_VIDEO},
               {"audio", WA_MEDIA_AUDIO},       {"ptt", WA_MEDIA_AUDIO},
               {"document", WA_MEDIA_DOCUMENT}, {"sticker", WA_MEDIA_STICKER}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(kind, map[i].k)) {
            *t = map[i].t;
            return true;
        }
    return false;
}

/* ---- the state of a row ---- */

static void record(struct chmedia *m, int64_t cursor, enum st_mfile_state st, const char *path,
                   const char *error, int attempts)
{
    struct st_mfile f = {.state = st, .attempts = attempts};
    snprintf(f.path, sizeof f.path, "%s", path ? path : "");
    snprintf(f.error, sizeof f.error, "%s", error ? error : "");
    if (st == ST_MF_DONE) f.fetched = wall_s();
    int r = st_mfile_set(m->db, cursor, &f);
    if (r < 0) {
        log_warn(COMP, m->account, "message %lld: cannot record the file's state: %s",
                 (long long)cursor, st_db_last_error(m->db));
        return;
    }
    if (st == ST_MF_FAILED)
        log_warn(COMP, m->account, "message %lld: file not fetched: %s", (long long)cursor,
                 f.error);
    if (st != ST_MF_PENDING && m->on_file) m->on_file(m->ud, cursor, &f);
}

static struct backoff *backoff_of(struct chmedia *m, int64_t cursor, bool make)
{
    struct backoff *free_slot = NULL;
    for (size_t i = 0; i < BACKOFFS; i++) {
        if (m->bo[i].cursor == cursor) return &m->bo[i];
        if (!m->bo[i].cursor && !free_slot) free_slot = &m->bo[i];
    }
    if (!make) return NULL;
    if (!free_slot) free_slot = &m->bo[0]; /* full: the oldest slot is reused */
    free_slot->cursor = cursor;
    return free_slot;
}

/* ---- the size budget and the age limit ---- */

static bool ours(const struct chmedia *m, const char *path)
{
    size_t n = strlen(m->dir);
    return n && !strncmp(path, m->dir, n) && path[n] == '/';
}

static void remove_file(struct chmedia *m, const char *path)
{
    struct stat sb;
    uint64_t size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    if (st_mfile_expire_path(m->db, path) < 0) return;
    if (ours(m, path) && unlink(path) < 0 && errno != ENOENT)
        log_warn(COMP, m->account, "cannot remove %s: %s", path, strerror(errno));
    m->used = m->used > size ? m->used - size : 0;
}

static void sweep(struct chmedia *m)
{
    if (!m->used_known) {
        if (st_mfile_used(m->db, &m->used) < 0) return;
        m->used_known = true;
    }
    int64_t oldest_ok = wall_s() - (int64_t)m->keep_days * 86400;
    for (int i = 0; i < SWEEP_MAX; i++) {
        char path[ST_MFILE_PATH_MAX + 1];
        int64_t fetched = 0;
        if (st_mfile_oldest(m->db, path, sizeof path, &fetched) != 1) return;
        if (m->used <= m->budget && fetched >= oldest_ok) return;
        log_info(COMP, m->account, "removing %s (%s)", path,
                 m->used > m->budget ? "over media.max_mb" : "older than media.keep_days");
        remove_file(m, path);
    }
}

/* ---- downloads ---- */

/* ---- media retry: the sender's phone uploads an expired file again ---- */

/* "user@server" of a JID (the device part dropped), into out. */
static void bare_jid(const char *jid, char *out, size_t cap)
{
    const char *at = strchr(jid, '@'), *colon = strchr(jid, ':');
    if (at && colon && colon < at)
        snprintf(out, cap, "%.*s%s", (int)(colon - jid), jid, at);
    else
        snprintf(out, cap, "%s", jid);
}

/* The URL of row `cursor` expired: ask the phone that sent it for a new upload, once.
 * 0 (asked: the row stays pending), or <0 (cannot, or asked before: the caller fails it). */
static int ask_retry(struct chmedia *m, int64_t cursor, int attempts)
{
    struct backoff *b = backoff_of(m, cursor, false);
    if ((b && b->asked) || !m->client || !m->creds || !m->creds->me_pn[0]) return -EALREADY;
    struct st_media_row row;
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    if (st_media_get(m->db, cursor, &row) != 1 || !row.has_media_key) return -ENOENT;
    if (st_inbox_list(m->db, cursor - 1, 1, &v, &n) < 0 || n != 1 || v[0].cursor != cursor ||
        !v[0].msg_id || !v[0].chat) {
        st_inbox_list_free(v, n);
        return -ENOENT;
    }
    struct wa_mretry_key k = {0};
    char me[WA_JID_STR_MAX], sender[WA_JID_STR_MAX];
    bare_jid(m->creds->me_pn, me, sizeof me);
    bare_jid(v[0].sender ? v[0].sender : "", sender, sizeof sender);
    snprintf(k.id, sizeof k.id, "%s", v[0].msg_id);
    snprintf(k.chat, sizeof k.chat, "%s", v[0].chat);
    k.from_me = !strcmp(sender, me);
    if (strstr(v[0].chat, "@g.us") && v[0].sender)
        snprintf(k.participant, sizeof k.participant, "%s", v[0].sender);
    st_inbox_list_free(v, n);
    uint8_t iv[WA_MEDIA_RETRY_IV];
    struct wa_node *req = NULL;
    int r = RAND_bytes(iv, sizeof iv) == 1 ? 0 : -EIO;
    if (r == 0) r = wa_mretry_request(row.media_key, &k, me, iv, &req);
    if (r == 0) r = wa_client_send_node(m->client, req);
    wa_node_free(req);
    if (r < 0) return r;
    b = backoff_of(m, cursor, true);
    b->asked = true;
    b->answered = false;
    b->until = uv_now(m->loop) + CHMEDIA_RETRY_WAIT_MS;
    log_info(COMP, m->account,
             "message %lld: the file expired on the server; asked the sender's phone to upload "
             "it again",
             (long long)cursor);
    record(m, cursor, ST_MF_PENDING, NULL,
           "expired on the server: asked the sender's phone to upload it again", attempts);
    kick_at(m, CHMEDIA_RETRY_WAIT_MS);
    return 0;
}

void chmedia_on_retry(struct chmedia *m, const struct wa_node *n)
{
    if (!m || !m->db) return;
    struct wa_mretry_answer a;
    if (wa_mretry_parse_notification(n, NULL, &a) < 0) return;
    struct st_inbox_msg msg = {0};
    if (st_inbox_get_by_id(m->db, a.key.chat, a.key.id, &msg) != 1) return;
    int64_t cursor = msg.cursor;
    st_inbox_msg_free(&msg);
    struct backoff *b = backoff_of(m, cursor, false);
    struct st_media_row row;
    if (!b || !b->asked || b->answered || st_media_get(m->db, cursor, &row) != 1) return;
    struct st_mfile f;
    int attempts = st_mfile_get(m->db, cursor, &f) == 1 ? f.attempts : 0;
    int r = a.error_code ? -ENOENT : wa_mretry_parse_notification(n, row.media_key, &a);
    if (r == 0 && (a.result != WA_MRETRY_SUCCESS || !a.direct_path[0])) r = -ENOENT;
    if (r == 0) r = st_mfile_set_direct_path(m->db, cursor, a.direct_path);
    if (r < 0) {
        char why[300];
        snprintf(why, sizeof why,
                 "expired on the server, and the sender's phone did not upload it again (%s "
                 "%d): the sender must send it again",
                 a.error_code ? "error" : "result", a.error_code ? a.error_code : a.result);
        b->cursor = 0;
        record(m, cursor, ST_MF_FAILED, NULL, why, attempts);
        return;
    }
    log_info(COMP, m->account, "message %lld: the sender's phone uploaded the file again",
             (long long)cursor);
    b->answered = true;
    b->until = 0;
    chmedia_kick(m);
}

static void on_download(void *ud, const struct wa_mdownload_result *r)
{
    struct job *j = ud;
    struct chmedia *m = j->m;
    j->x = NULL;
    if (!m->db) return;
    if (r->err == 0) {
        log_info(COMP, m->account, "message %lld: file fetched (%llu bytes%s)",
                 (long long)j->cursor, (unsigned long long)r->file_length,
                 r->resumed ? ", resumed" : "");
        struct backoff *b = backoff_of(m, j->cursor, false);
        if (b) b->cursor = 0;
        m->used += r->file_length;
        record(m, j->cursor, ST_MF_DONE, j->dest, NULL, j->attempts);
        sweep(m);
    } else if (r->err == -ENOENT && ask_retry(m, j->cursor, j->attempts) == 0) {
        /* the phone's answer (chmedia_on_retry) or the wait's end kicks again */
    } else if (r->err == -ENOENT) {
        char why[300];
        snprintf(why, sizeof why, "expired on the server (%s): the sender must send it again",
                 r->detail[0] ? r->detail : "HTTP 404/410");
        record(m, j->cursor, ST_MF_FAILED, NULL, why, j->attempts);
    } else if (r->err == -EBADMSG || r->err == -EMSGSIZE || r->err == -EPROTO ||
               j->attempts >= CHMEDIA_ATTEMPTS) {
        char why[300];
        snprintf(why, sizeof why, "%s%s%s",
                 r->err == -EBADMSG    ? "not authentic (MAC or hash mismatch)"
                 : r->err == -EMSGSIZE ? "over the size cap"
                                       : strerror(-r->err),
                 r->detail[0] ? ": " : "", r->detail);
        record(m, j->cursor, ST_MF_FAILED, NULL, why, j->attempts);
    } else {
        if (r->err == -EACCES) chmconn_invalidate(m->mconn); /* a new media_conn first */
        uint64_t d = (uint64_t)BACKOFF_MS << (j->attempts - 1);
        if (d > BACKOFF_MAX) d = BACKOFF_MAX;
        struct backoff *b = backoff_of(m, j->cursor, true);
        b->until = uv_now(m->loop) + d;
        record(m, j->cursor, ST_MF_PENDING, NULL, r->detail[0] ? r->detail : strerror(-r->err),
               j->attempts);
        kick_at(m, d);
    }
    chmedia_kick(m);
}

static bool running(const struct chmedia *m, int64_t cursor)
{
    for (size_t i = 0; i < CHMEDIA_PARALLEL; i++)
        if (m->jobs[i].x && m->jobs[i].cursor == cursor) return true;
    return false;
}

static struct job *free_job(struct chmedia *m)
{
    for (size_t i = 0; i < CHMEDIA_PARALLEL; i++)
        if (!m->jobs[i].x) return &m->jobs[i];
    return NULL;
}

/* Start the download of row `cursor` in slot j, or settle the row without one. */
static void start(struct chmedia *m, struct job *j, int64_t cursor)
{
    struct st_media_row row;
    struct st_mfile f;
    if (st_media_get(m->db, cursor, &row) != 1 || st_mfile_get(m->db, cursor, &f) != 1) return;
    enum wa_media_type type;
    if (!enum_type(row.kind, &type)) {
        record(m, cursor, ST_MF_FAILED, NULL, "not a kind with a file", f.attempts);
        return;
    }
    if (!row.has_media_key || !row.direct_path[0]) {
        record(m, cursor, ST_MF_FAILED, NULL, "the message carries no media key or direct path",
               f.attempts);
        return;
    }
    char name[80] = "";
    if (row.has_sha256) {
        hex_encode(name, row.sha256, 32);
        name[64] = '\0';
        char have[ST_MFILE_PATH_MAX + 1];
        if (st_mfile_by_sha(m->db, row.sha256, have, sizeof have) == 1 && access(have, R_OK) == 0) {
            record(m, cursor, ST_MF_DONE, have, NULL, f.attempts); /* the same file again */
            return;
        }
    } else {
        snprintf(name, sizeof name, "c%lld", (long long)cursor);
    }
    if (dir_create(m->dir, 0700) < 0) {
        record(m, cursor, ST_MF_PENDING, NULL, "cannot create the media directory", f.attempts);
        return;
    }
    j->m = m;
    j->cursor = cursor;
    j->attempts = f.attempts + 1;
    snprintf(j->dest, sizeof j->dest, "%s/%s", m->dir, name);
    if (row.has_sha256 && access(j->dest, R_OK) == 0) { /* renamed before a crash: verified */
        record(m, cursor, ST_MF_DONE, j->dest, NULL, f.attempts);
        return;
    }
    const struct wa_media_conn *mc = chmconn_get(m->mconn); /* fresh: chmedia_kick checked */
    if (!mc) return;
    const char *hosts[WA_MCONN_HOSTS_MAX];
    for (size_t i = 0; i < mc->nhosts; i++)
        hosts[i] = mc->hosts[i].hostname;
    struct wa_mxfer_opts o = {.hosts = hosts,
                              .nhosts = mc->nhosts,
                              .ca_file = m->ca[0] ? m->ca : NULL,
                              .max_attempts = 1};
    struct wa_mdownload_req rq = {.direct_path = row.direct_path,
                                  .media_key = row.media_key,
                                  .type = type,
                                  .file_sha256 = row.has_sha256 ? row.sha256 : NULL,
                                  .file_enc_sha256 = row.has_enc_sha256 ? row.enc_sha256 : NULL,
                                  .dest = j->dest};
    int r = wa_media_download(m->loop, &o, &rq, on_download, j, &j->x);
    if (r < 0) {
        j->x = NULL;
        record(m, cursor, ST_MF_PENDING, NULL, strerror(-r), j->attempts);
        struct backoff *b = backoff_of(m, cursor, true);
        b->until = uv_now(m->loop) + BACKOFF_MS;
        kick_at(m, BACKOFF_MS);
    }
}

/* ---- scheduling ---- */

static void on_timer(uv_timer_t *t)
{
    chmedia_kick(t->data);
}

static void kick_cb(void *ud)
{
    chmedia_kick(ud);
}

static void kick_at(struct chmedia *m, uint64_t delay)
{
    if (!m->timer) return;
    uint64_t due = uv_now(m->loop) + delay;
    if (uv_is_active((uv_handle_t *)m->timer) &&
        uv_now(m->loop) + uv_timer_get_due_in(m->timer) <= due)
        return;
    uv_timer_start(m->timer, on_timer, delay, 0);
}

void chmedia_kick(struct chmedia *m)
{
    if (!m || !m->db) return;
    struct job *j = free_job(m);
    if (!j) return;
    int64_t v[BACKOFFS + CHMEDIA_PARALLEL];
    size_t n = 0;
    if (st_mfile_pending(m->db, 0, v, sizeof v / sizeof v[0], &n) < 0 || n == 0) return;
    if (!chmconn_get(m->mconn)) return; /* asked for: its answer kicks again */
    uint64_t now = uv_now(m->loop);
    for (size_t i = 0; i < n && (j = free_job(m)); i++) {
        if (running(m, v[i])) continue;
        struct backoff *b = backoff_of(m, v[i], false);
        if (b && b->until > now) {
            kick_at(m, b->until - now);
            continue;
        }
        start(m, j, v[i]);
    }
}

/* ---- lifetime ---- */

static void cancel_all(struct chmedia *m)
{
    for (size_t i = 0; i < CHMEDIA_PARALLEL; i++)
        if (m->jobs[i].x) {
            wa_mxfer_cancel(m->jobs[i].x);
            m->jobs[i].x = NULL;
        }
}

int chmedia_new(const struct chmedia_opts *o, struct chmedia **out)
{
    *out = NULL;
    if (!o || !o->loop || !o->mconn || !o->dir || !o->dir[0] || strlen(o->dir) >= PATH_MAX)
        return -EINVAL;
    struct chmedia *m = calloc(1, sizeof *m);
    if (!m || !(m->timer = malloc(sizeof *m->timer))) {
        free(m);
        return -ENOMEM;
    }
    m->loop = o->loop;
    snprintf(m->account, sizeof m->account, "%s", o->account ? o->account : "");
    snprintf(m->dir, sizeof m->dir, "%s", o->dir);
    snprintf(m->ca, sizeof m->ca, "%s", o->ca_file ? o->ca_file : "");
    m->budget = o->budget ? o->budget : (uint64_t)1 << 30;
    m->keep_days = o->keep_days ? o->keep_days : 30;
    m->on_file = o->on_file;
    m->ud = o->ud;
    m->creds = o->creds;
    m->mconn = o->mconn;
    if (chmconn_watch(m->mconn, kick_cb, m) < 0) {
        free(m->timer);
        free(m);
        return -ENOSPC;
    }
    uv_timer_init(o->loop, m->timer);
    m->timer->data = m;
    uv_unref((uv_handle_t *)m->timer);
    *out = m;
    return 0;
}

void chmedia_set_db(struct chmedia *m, struct st_db *db)
{
    if (!m) return;
    cancel_all(m);
    m->db = db;
    m->used_known = false;
    memset(m->bo, 0, sizeof m->bo);
    if (db) {
        sweep(m);
        chmedia_kick(m);
    }
}

void chmedia_set_client(struct chmedia *m, struct wa_client *c)
{
    if (!m) return;
    m->client = c;
    if (c) chmedia_kick(m);
}

unsigned chmedia_active(const struct chmedia *m)
{
    unsigned n = 0;
    for (size_t i = 0; m && i < CHMEDIA_PARALLEL; i++)
        n += m->jobs[i].x != NULL;
    return n;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void chmedia_free(struct chmedia *m)
{
    if (!m) return;
    cancel_all(m);
    chmconn_unwatch(m->mconn, m);
    uv_timer_stop(m->timer);
    uv_close((uv_handle_t *)m->timer, timer_closed);
    free(m);
}
