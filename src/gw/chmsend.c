/* SPDX-License-Identifier: MIT */
/* chmsend.c -- one channel's files to send (see chmsend.h). */
#include "gw/chmsend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "gw/mediaurl.h"
#include "wa/mediaconn.h"
#include "wa/mediaprobe.h"
#include "wa/mediaxfer.h"
#include "wa/outmedia.h"

#define COMP        "media"
#define BACKOFF_MS  1000
#define BACKOFF_MAX 60000
#define TRIES       16 /* rows whose attempts are remembered */
#define COPY_CHUNK  (256 * 1024)
#define HELD_WHY    "waiting for the file's upload"

/* An accept whose copy runs in the threadpool. */
struct acc {
    uv_work_t w;
    struct chmsend *m; /* NULL: the owner is gone */
    struct acc *next;
    struct wa_outrow row;
    char idem[ST_IDEM_MAX + 1];
    bool has_idem;
    char src[PATH_MAX];
    uint8_t *data; /* a body to write instead of src */
    bool take;     /* src is the caller's scratch file: renamed into place */
    size_t len;    /* bytes expected */
    char part[PATH_MAX + 48], dest[PATH_MAX + 40], dir[PATH_MAX];
    int rc; /* the copy's result */
    char why[160];
    enum wa_media_type type;
    bool ptt;
    struct wa_mprobe probe; /* what the copy says about itself (after the copy, threadpool) */
    int probe_rc;
    chmsend_done_fn done;
    void *ud;
};

struct
try {
    char id[32]; /* "": free */
    int attempts;
    uint64_t until; /* uv_now ms */
};

struct chmsend {
    uv_loop_t *loop;
    char account[64], dir[PATH_MAX], ca[PATH_MAX];
    const struct wa_creds *creds;
    void (*kick_sender)(void *);
    void (*on_failed)(void *, const char *, const char *);
    void *ud;
    struct st_db *db;
    struct wa_client *client;
    struct chmconn *mconn; /* borrowed */
    const struct wg_config *cfg;
    struct fetch *fetches;
    unsigned nfetches;
    struct wa_mxfer *x; /* the upload under way */
    char x_id[32];
    struct acc *accs;
    struct try tries[TRIES];
    uv_timer_t *timer;
};

static void kick_at(struct chmsend *m, uint64_t delay);

static void copy_path(const struct chmsend *m, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", m->dir, id);
}

/* ---- accept: the durable copy ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Threadpool: src (or data) -> part, fsync, rename to dest, fsync dir. */
/* Threadpool: a->src (the caller's scratch file) renamed to dest after an fsync, dir fsync.
 * -EXDEV: another filesystem (then copied). */
static int take_file(struct acc *a)
{
    int fd = open(a->src, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != a->len) {
        if (fd >= 0) close(fd);
        snprintf(a->why, sizeof a->why, "the file changed before it was taken");
        return -EINVAL;
    }
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    if (rc == 0 && rename(a->src, a->dest) < 0) rc = -errno;
    if (rc == 0) (void)dir_sync(a->dir);
    if (rc < 0 && rc != -EXDEV)
        snprintf(a->why, sizeof a->why, "moving the file into place: %s", strerror(-rc));
    return rc;
}

static int copy_file(struct acc *a)
{
    if (a->take) {
        int rc = take_file(a);
        if (rc != -EXDEV) return rc;
        a->why[0] = '\0';
    }
    int in = -1, rc = 0;
    if (!a->data && (in = open(a->src, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(a->why, sizeof a->why, "cannot open the file: %s", strerror(errno));
        return -EINVAL;
    }
    (void)unlink(a->part);
    int out = open(a->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = -errno;
        snprintf(a->why, sizeof a->why, "cannot create the copy: %s", strerror(errno));
        if (in >= 0) close(in);
        return rc;
    }
    uint64_t total = 0;
    if (a->data) {
        rc = write_all(out, a->data, a->len);
        total = a->len;
    } else {
        uint8_t *b = malloc(COPY_CHUNK);
        rc = b ? 0 : -ENOMEM;
        while (rc == 0) {
            ssize_t r = read(in, b, COPY_CHUNK);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) rc = -errno;
            if (r <= 0) break;
            total += (uint64_t)r;
            if (total > a->len) break; /* grew: refused below */
            rc = write_all(out, b, (size_t)r);
        }
        free(b);
        close(in);
    }
    if (rc == 0 && total != a->len) {
        rc = -EINVAL;
        snprintf(a->why, sizeof a->why, "the file changed while it was copied");
    } else if (rc == 0 && fsync(out) < 0) {
        rc = -errno;
    }
    if (close(out) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(a->part, a->dest) < 0) rc = -errno;
    if (rc == 0) (void)dir_sync(a->dir);
    if (rc < 0) {
        (void)unlink(a->part);
        if (!a->why[0]) snprintf(a->why, sizeof a->why, "copying the file: %s", strerror(-rc));
    }
    return rc;
}

static void work_copy(uv_work_t *w)
{
    struct acc *a = w->data;
    a->rc = copy_file(a);
    if (a->rc == 0) a->probe_rc = wa_mprobe_file(a->dest, a->type, a->ptt, &a->probe);
}

/* The held Message with what the probe learnt (a failure only leaves the fields out). */
static void amend_row(struct chmsend *m, struct acc *a)
{
    const struct wa_mprobe *p = &a->probe;
    if (a->probe_rc < 0 || p->why[0])
        log_debug(COMP, m->account, "message %s: the file's probe: %s", a->row.id,
                  p->why[0] ? p->why : strerror(-a->probe_rc));
    if (a->probe_rc < 0) return;
    struct wa_outmedia md = {.width = p->width,
                             .height = p->height,
                             .seconds = p->seconds,
                             .waveform = p->has_waveform ? p->waveform : NULL,
                             .thumbnail = p->thumb,
                             .thumbnail_len = p->thumb_len};
    struct buf pb;
    buf_init(&pb, ST_PAYLOAD_MAX);
    int rc = wa_outmedia_amend(a->row.pb.data, a->row.pb.len, &md, &pb);
    if (rc == 0) {
        log_debug(COMP, m->account,
                  "message %s: from the file: %ux%u, %u s, %zu bytes of thumbnail%s", a->row.id,
                  p->width, p->height, p->seconds, p->thumb_len,
                  p->has_waveform ? ", a waveform" : "");
        struct buf old = a->row.pb;
        a->row.pb = pb;
        pb = old;
    } else {
        log_debug(COMP, m->account, "message %s: the probe's fields left out: %s", a->row.id,
                  strerror(-rc));
    }
    buf_free(&pb);
}

static void acc_unlink(struct chmsend *m, struct acc *a)
{
    for (struct acc **p = &m->accs; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            return;
        }
}

/* The copy is durable: commit the held row. 0, or <0 with a->why. */
static int commit_row(struct chmsend *m, struct acc *a)
{
    if (!m->db) {
        snprintf(a->why, sizeof a->why, "the channel's store closed");
        return -EAGAIN;
    }
    struct st_outbox_msg out;
    memset(&out, 0, sizeof out);
    int rc = st_db_begin(m->db);
    if (rc == 0) {
        rc = wa_outrow_store(m->db, &a->row, a->has_idem ? a->idem : NULL, &out);
        if (rc == 0) rc = st_outbox_hold(m->db, a->row.id, HELD_WHY);
        if (rc == 0)
            rc = st_db_commit(m->db);
        else
            st_db_rollback(m->db);
    }
    st_outbox_msg_free(&out);
    if (rc == ST_DUPLICATE || rc == -EEXIST)
        snprintf(a->why, sizeof a->why,
                 "another request with this idempotency_key was accepted meanwhile");
    else if (rc < 0)
        snprintf(a->why, sizeof a->why, "cannot store the message: %s", st_db_last_error(m->db));
    return rc == ST_DUPLICATE ? -EEXIST : rc;
}

static void acc_free(struct acc *a)
{
    wa_mprobe_free(&a->probe);
    wa_outrow_free(&a->row);
    free(a->data);
    free(a);
}

static void after_copy(uv_work_t *w, int status)
{
    struct acc *a = w->data;
    struct chmsend *m = a->m;
    int rc = status < 0 ? status : a->rc;
    if (m) acc_unlink(m, a);
    if (rc == 0 && m) amend_row(m, a);
    if (rc == 0 && m)
        rc = commit_row(m, a);
    else if (!m && rc == 0)
        rc = -ECANCELED;
    if (rc < 0) (void)unlink(a->dest);
    if (rc == 0) {
        log_info(COMP, m->account, "message %s: file of %zu bytes accepted (%s)", a->row.id, a->len,
                 a->dest);
        chmsend_kick(m);
    }
    if (a->done) a->done(a->ud, rc, rc < 0 ? (a->why[0] ? a->why : strerror(-rc)) : NULL);
    acc_free(a);
}

/* The source: path absolute, a regular readable file within the cap. 0 and *size, or -EINVAL
 * with err. */
static int check_src(const struct chmsend_src *src, enum wa_media_type t, uint64_t *size, char *err,
                     size_t errlen)
{
    uint64_t cap = wa_media_cap(t);
    if (!src->path) {
        if (!src->len) {
            snprintf(err, errlen, "the request body is empty: send the file's bytes");
            return -EINVAL;
        }
        *size = src->len;
    } else {
        struct stat sb;
        if (src->path[0] != '/' || strlen(src->path) >= PATH_MAX) {
            snprintf(err, errlen, "path: an absolute path of a file the daemon can read");
            return -EINVAL;
        }
        if (stat(src->path, &sb) < 0) {
            snprintf(err, errlen, "path %s: %s", src->path, strerror(errno));
            return -EINVAL;
        }
        if (!S_ISREG(sb.st_mode)) {
            snprintf(err, errlen, "path %s: not a regular file", src->path);
            return -EINVAL;
        }
        if (access(src->path, R_OK) < 0) {
            snprintf(err, errlen, "path %s: the daemon cannot read it (%s)", src->path,
                     strerror(errno));
            return -EINVAL;
        }
        *size = (uint64_t)sb.st_size;
    }
    if (*size == 0 || *size > cap) {
        snprintf(err, errlen, "the file is %llu bytes: a %s must be 1..%llu bytes",
                 (unsigned long long)*size, wa_media_type_name(t), (unsigned long long)cap);
        return -EINVAL;
    }
    return 0;
}

int chmsend_accept(struct chmsend *m, const struct wa_outmsg *msg, const struct chmsend_src *src,
                   chmsend_done_fn done, void *ud, struct chmsend_accepted *acc, char *err,
                   size_t errlen)
{
    memset(acc, 0, sizeof *acc);
    if (!m || !m->db || !m->creds) return -EAGAIN;
    if (!msg || msg->kind != WA_OM_MEDIA || !msg->media || !src) return -EINVAL;
    struct wa_outmedia md = *msg->media;
    int rc = check_src(src, md.type, &md.file_length, err, errlen);
    if (rc < 0) return rc;
    if (msg->idem_key) {
        struct st_outbox_msg old;
        rc = st_outbox_get_by_key(m->db, msg->idem_key, &old);
        if (rc == 1) {
            struct wa_outrow probe;
            char chat_err[8];
            rc = wa_send_normalize_to(msg->to, probe.chat, sizeof probe.chat, chat_err,
                                      sizeof chat_err);
            bool same = rc == 0 && !strcmp(probe.chat, old.to);
            snprintf(acc->id, sizeof acc->id, "%s", old.msg_id);
            acc->state = old.state;
            acc->duplicate = true;
            st_outbox_msg_free(&old);
            if (same) return ST_DUPLICATE;
            wa_outrow_conflict(msg->idem_key, err, errlen);
            return -EEXIST;
        }
        if (rc < 0) return rc;
    }
    struct acc *a = calloc(1, sizeof *a);
    if (!a) return -ENOMEM;
    struct wa_outmsg mm = *msg;
    mm.media = &md;
    rc = wa_outrow_make(&a->row, &mm, m->creds, m->db, err, errlen);
    if (rc == 0 && dir_create(m->dir, 0700) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", m->dir, strerror(errno));
        rc = -EIO;
    }
    if (rc == 0 && !src->path && !(a->data = malloc(src->len))) rc = -ENOMEM;
    if (rc < 0) {
        acc_free(a);
        return rc;
    }
    if (a->data) memcpy(a->data, src->data, src->len);
    if (src->path) snprintf(a->src, sizeof a->src, "%s", src->path);
    a->take = src->path && src->take;
    a->len = (size_t)md.file_length;
    a->type = md.type, a->ptt = md.ptt;
    a->has_idem = msg->idem_key != NULL;
    if (msg->idem_key) snprintf(a->idem, sizeof a->idem, "%s", msg->idem_key);
    snprintf(a->dir, sizeof a->dir, "%s", m->dir);
    copy_path(m, a->row.id, a->dest, sizeof a->dest);
    snprintf(a->part, sizeof a->part, "%s.part", a->dest);
    a->m = m;
    a->done = done;
    a->ud = ud;
    a->w.data = a;
    rc = uv_queue_work(m->loop, &a->w, work_copy, after_copy);
    if (rc < 0) {
        acc_free(a);
        return rc;
    }
    a->next = m->accs;
    m->accs = a;
    snprintf(acc->id, sizeof acc->id, "%s", a->row.id);
    acc->state = ST_OUT_QUEUED;
    return 0;
}

void chmsend_forget(struct chmsend *m, void *ud)
{
    for (struct acc *a = m ? m->accs : NULL; a; a = a->next)
        if (a->ud == ud) a->done = NULL, a->ud = NULL;
}

/* ---- uploads ---- */

static struct try *try_of(struct chmsend *m, const char *id, bool make)
{
    struct try *free_slot = NULL;
    for (size_t i = 0; i < TRIES; i++) {
        if (!strcmp(m->tries[i].id, id)) return &m->tries[i];
        if (!m->tries[i].id[0] && !free_slot) free_slot = &m->tries[i];
    }
    if (!make) return NULL;
    if (!free_slot) free_slot = &m->tries[0];
    memset(free_slot, 0, sizeof *free_slot);
    snprintf(free_slot->id, sizeof free_slot->id, "%s", id);
    return free_slot;
}

static void forget_try(struct chmsend *m, const char *id)
{
    struct try *t = try_of(m, id, false);
    if (t) memset(t, 0, sizeof *t);
}

static void remove_copy(struct chmsend *m, const char *id)
{
    char p[PATH_MAX + 40];
    copy_path(m, id, p, sizeof p);
    if (unlink(p) == 0)
        log_debug(COMP, m->account, "message %s: the file's copy removed", id);
    else if (errno != ENOENT)
        log_warn(COMP, m->account, "cannot remove %s: %s", p, strerror(errno));
}

static void fail_row(struct chmsend *m, const char *id, const char *why)
{
    log_warn(COMP, m->account, "message %s: %s", id, why);
    int rc = st_db_in_txn(m->db) ? -EBUSY : st_outbox_set_state(m->db, id, ST_OUT_FAILED, why);
    if (rc < 0 && rc != -EBUSY) {
        log_warn(COMP, m->account, "message %s: cannot mark it failed: %s", id,
                 st_db_last_error(m->db));
        return;
    }
    forget_try(m, id);
    remove_copy(m, id);
    if (m->on_failed) m->on_failed(m->ud, id, why);
}

/* The finished Message into the row; the sender takes it from there. */
static int release_row(struct chmsend *m, const char *id, const struct wa_mupload_result *r)
{
    struct st_outbox_msg row;
    int rc = st_outbox_get(m->db, id, &row);
    if (rc < 0) return rc;
    struct wa_outmedia_upload u = {.url = r->url,
                                   .direct_path = r->direct_path,
                                   .media_key = r->media_key,
                                   .file_sha256 = r->file_sha256,
                                   .file_enc_sha256 = r->file_enc_sha256,
                                   .file_length = r->file_length,
                                   .key_ts = (int64_t)time(NULL)};
    struct buf pb;
    buf_init(&pb, ST_PAYLOAD_MAX);
    rc = wa_outmedia_complete(row.payload, row.payload_len, &u, &pb);
    st_outbox_msg_free(&row);
    if (rc == 0) {
        (void)st_db_in_txn(m->db); /* a deferred group of sends commits first */
        rc = st_outbox_unhold(m->db, id, pb.data, pb.len);
    }
    buf_free(&pb);
    return rc;
}

static void on_upload(void *ud, const struct wa_mupload_result *r)
{
    struct chmsend *m = ud;
    char id[32];
    snprintf(id, sizeof id, "%s", m->x_id);
    m->x = NULL;
    m->x_id[0] = '\0';
    if (!m->db) return;
    struct try *t = try_of(m, id, true);
    if (r->err == 0) {
        int rc = release_row(m, id, r);
        if (rc == 0) {
            log_info(COMP, m->account, "message %s: file uploaded (%llu bytes), sending it", id,
                     (unsigned long long)r->file_length);
            forget_try(m, id);
            if (m->kick_sender) m->kick_sender(m->ud);
        } else if (rc != -ENOENT) {
            t->until = uv_now(m->loop) + BACKOFF_MS;
            log_warn(COMP, m->account, "message %s: uploaded, but the store refused it: %s", id,
                     st_db_last_error(m->db));
            kick_at(m, BACKOFF_MS);
        }
        chmsend_kick(m);
        return;
    }
    char why[400];
    snprintf(why, sizeof why, "%s%s%s",
             r->err == -EMSGSIZE ? "the server refused the file's size" : strerror(-r->err),
             r->detail[0] ? ": " : "", r->detail);
    if (r->err == -EMSGSIZE || r->err == -EPROTO || r->err == -ENOENT ||
        t->attempts >= CHMSEND_ATTEMPTS) {
        char fin[480];
        snprintf(fin, sizeof fin, "the file could not be uploaded (%d attempts): %s", t->attempts,
                 why);
        fail_row(m, id, fin);
    } else {
        if (r->err == -EACCES) chmconn_invalidate(m->mconn); /* a new media_conn first */
        uint64_t d = (uint64_t)BACKOFF_MS << (t->attempts - 1);
        if (d > BACKOFF_MAX) d = BACKOFF_MAX;
        t->until = uv_now(m->loop) + d;
        char held[520];
        snprintf(held, sizeof held, "%s: upload attempt %d failed (%s); retrying", HELD_WHY,
                 t->attempts, why);
        log_warn(COMP, m->account, "message %s: upload attempt %d failed: %s", id, t->attempts,
                 why);
        if (!st_db_in_txn(m->db) && st_outbox_hold(m->db, id, held) < 0)
            log_debug(COMP, m->account, "message %s: %s", id, st_db_last_error(m->db));
        kick_at(m, d);
    }
    chmsend_kick(m);
}

static void start(struct chmsend *m, const struct st_outbox_msg *row)
{
    enum wa_media_type type;
    char path[PATH_MAX + 40];
    copy_path(m, row->msg_id, path, sizeof path);
    if (wa_outmedia_type(row->payload, row->payload_len, &type, NULL) < 0) {
        fail_row(m, row->msg_id, "held, but not a message with a file");
        return;
    }
    if (access(path, R_OK) < 0) {
        fail_row(m, row->msg_id, "the copy of the file to send is gone");
        return;
    }
    const struct wa_media_conn *mc = chmconn_get(m->mconn); /* fresh: chmsend_kick checked */
    if (!mc) return;
    struct try *t = try_of(m, row->msg_id, true);
    t->attempts++;
    const char *hosts[WA_MCONN_HOSTS_MAX];
    for (size_t i = 0; i < mc->nhosts; i++)
        hosts[i] = mc->hosts[i].hostname;
    struct wa_mxfer_opts o = {.hosts = hosts,
                              .nhosts = mc->nhosts,
                              .auth = mc->auth,
                              .ca_file = m->ca[0] ? m->ca : NULL,
                              .max_attempts = 1};
    snprintf(m->x_id, sizeof m->x_id, "%s", row->msg_id);
    int rc = wa_media_upload(m->loop, &o, path, type, NULL, on_upload, m, &m->x);
    if (rc < 0) {
        m->x = NULL;
        m->x_id[0] = '\0';
        char why[200];
        snprintf(why, sizeof why, "the upload cannot start: %s", strerror(-rc));
        if (rc == -EMSGSIZE || t->attempts >= CHMSEND_ATTEMPTS) {
            fail_row(m, row->msg_id, why);
            return;
        }
        t->until = uv_now(m->loop) + BACKOFF_MS;
        kick_at(m, BACKOFF_MS);
        return;
    }
    log_info(COMP, m->account, "message %s: uploading the file (attempt %d)", row->msg_id,
             t->attempts);
}

/* ---- scheduling ---- */

static void on_timer(uv_timer_t *t)
{
    chmsend_kick(t->data);
}

static void kick_cb(void *ud)
{
    chmsend_kick(ud);
}

static void kick_at(struct chmsend *m, uint64_t delay)
{
    uint64_t due = uv_now(m->loop) + delay;
    if (uv_is_active((uv_handle_t *)m->timer) &&
        uv_now(m->loop) + uv_timer_get_due_in(m->timer) <= due)
        return;
    uv_timer_start(m->timer, on_timer, delay, 0);
}

void chmsend_kick(struct chmsend *m)
{
    if (!m || !m->db || !m->client || m->x) return;
    struct st_outbox_msg *v = NULL;
    size_t n = 0;
    if (st_outbox_list_held(m->db, TRIES, &v, &n) < 0 || n == 0) return;
    if (!chmconn_get(m->mconn)) { /* asked for: its answer kicks again */
        st_outbox_list_free(v, n);
        return;
    }
    uint64_t now = uv_now(m->loop);
    for (size_t i = 0; i < n && !m->x; i++) {
        struct try *t = try_of(m, v[i].msg_id, false);
        if (t && t->until > now) {
            kick_at(m, t->until - now);
            continue;
        }
        start(m, &v[i]);
    }
    st_outbox_list_free(v, n);
}

/* ---- cleanup ---- */

void chmsend_state(struct chmsend *m, const char *id, enum st_out_state st)
{
    if (!m || !id || st == ST_OUT_QUEUED) return;
    forget_try(m, id);
    remove_copy(m, id);
}

static bool accepting(const struct chmsend *m, const char *name)
{
    for (const struct acc *a = m->accs; a; a = a->next)
        if (!strncmp(name, a->row.id, strlen(a->row.id))) return true;
    return false;
}

/* Copies no queued row needs any more (a crash between a row's ack and the removal, or before
 * an accept committed), and *.part files. */
static void sweep(struct chmsend *m)
{
    DIR *d = opendir(m->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (name[0] == '.' || accepting(m, name)) continue;
        size_t nl = strlen(name);
        bool part = nl > 5 && !strcmp(name + nl - 5, ".part");
        struct st_outbox_msg row;
        bool keep = false;
        if (!part && nl < ST_MSGID_MAX && st_outbox_get(m->db, name, &row) == 0) {
            keep = row.state == ST_OUT_QUEUED;
            st_outbox_msg_free(&row);
        }
        if (keep) continue;
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", m->dir, name);
        if (unlink(p) == 0) log_info(COMP, m->account, "removed %s (no message needs it)", p);
    }
    closedir(d);
}

/* ---- lifetime ---- */

int chmsend_new(const struct chmsend_opts *o, struct chmsend **out)
{
    *out = NULL;
    if (!o || !o->loop || !o->mconn || !o->dir || !o->dir[0] || strlen(o->dir) >= PATH_MAX - 64)
        return -EINVAL;
    struct chmsend *m = calloc(1, sizeof *m);
    if (!m || !(m->timer = malloc(sizeof *m->timer))) {
        free(m);
        return -ENOMEM;
    }
    m->loop = o->loop;
    snprintf(m->account, sizeof m->account, "%s", o->account ? o->account : "");
    snprintf(m->dir, sizeof m->dir, "%s", o->dir);
    snprintf(m->ca, sizeof m->ca, "%s", o->ca_file ? o->ca_file : "");
    m->creds = o->creds;
    m->kick_sender = o->kick_sender;
    m->on_failed = o->on_failed;
    m->ud = o->ud;
    m->mconn = o->mconn;
    m->cfg = o->cfg;
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

static void cancel_upload(struct chmsend *m)
{
    if (m->x) wa_mxfer_cancel(m->x);
    m->x = NULL;
    m->x_id[0] = '\0';
}

void chmsend_set_db(struct chmsend *m, struct st_db *db)
{
    if (!m) return;
    cancel_upload(m);
    m->db = db;
    memset(m->tries, 0, sizeof m->tries);
    if (db) {
        sweep(m);
        chmsend_kick(m);
    }
}

void chmsend_set_client(struct chmsend *m, struct wa_client *c)
{
    if (!m) return;
    m->client = c;
    if (c) chmsend_kick(m);
}

unsigned chmsend_active(const struct chmsend *m)
{
    return m && m->x ? 1 : 0;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

/* ---- files from URLs ---- */

struct fetch {
    struct chmsend *m;
    struct fetch *next;
    struct mediaurl *f;
    char path[PATH_MAX + 48];
    chmsend_fetched_fn done;
    void *ud;
    uv_timer_t *later; /* the -ECANCELED answer of a stopped channel */
};

static void fetch_unlink(struct chmsend *m, struct fetch *ft)
{
    for (struct fetch **p = &m->fetches; *p; p = &(*p)->next)
        if (*p == ft) {
            *p = ft->next;
            m->nfetches--;
            return;
        }
}

static void fetched(void *ud, int rc, uint64_t size, const char *why)
{
    struct fetch *ft = ud;
    fetch_unlink(ft->m, ft);
    if (rc == 0)
        log_info(COMP, ft->m->account, "fetched %llu bytes from a URL into %s",
                 (unsigned long long)size, ft->path);
    else
        log_info(COMP, ft->m->account, "a file to send was not fetched: %s", why);
    ft->done(ft->ud, rc, rc == 0 ? ft->path : NULL, why);
    free(ft);
}

static void late_closed(uv_handle_t *h)
{
    struct fetch *ft = h->data;
    free(h);
    ft->done(ft->ud, -ECANCELED, NULL, "the channel is stopping: nothing was queued");
    free(ft);
}

static void late_fire(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, late_closed);
}

/* Every fetch under way is stopped; its owner hears -ECANCELED from a later callback. */
static void cancel_fetches(struct chmsend *m)
{
    while (m->fetches) {
        struct fetch *ft = m->fetches;
        m->fetches = ft->next;
        mediaurl_cancel(ft->f);
        ft->later = malloc(sizeof *ft->later);
        if (!ft->later) { /* no memory for a later callback: tell now */
            ft->done(ft->ud, -ECANCELED, NULL, "the channel is stopping: nothing was queued");
            free(ft);
            continue;
        }
        uv_timer_init(m->loop, ft->later);
        ft->later->data = ft;
        uv_timer_start(ft->later, late_fire, 0, 0);
    }
    m->nfetches = 0;
}

int chmsend_fetch_url(struct chmsend *m, const char *url, enum wa_media_type type,
                      chmsend_fetched_fn done, void *ud, char *err, size_t errlen)
{
    if (!m || !done) return -EINVAL;
    int rc = mediaurl_allowed(url, m->cfg ? m->cfg->media_url_allow : NULL,
                              m->cfg ? m->cfg->media_url_allow_count : 0, err, errlen);
    if (rc < 0) return rc;
    if (m->nfetches >= CHMSEND_FETCHES) {
        snprintf(err, errlen, "%d files are being fetched already: try again", CHMSEND_FETCHES);
        return -EBUSY;
    }
    if (dir_create(m->dir, 0700) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create %s: %s", m->dir, strerror(errno));
        return rc;
    }
    struct fetch *ft = calloc(1, sizeof *ft);
    if (!ft) return -ENOMEM;
    uint8_t r[8];
    char hex[17];
    if (RAND_bytes(r, sizeof r) != 1) {
        free(ft);
        return -EIO;
    }
    hex_encode(hex, r, sizeof r);
    snprintf(ft->path, sizeof ft->path, "%s/url-%s.part", m->dir, hex);
    ft->m = m;
    ft->done = done;
    ft->ud = ud;
    struct mediaurl_opts o = {.url = url,
                              .dest = ft->path,
                              .cap = wa_media_cap(type),
                              .ca_file = m->ca[0] ? m->ca : NULL};
    rc = mediaurl_fetch(m->loop, &o, fetched, ft, &ft->f, err, errlen);
    if (rc < 0) {
        free(ft);
        return rc;
    }
    ft->next = m->fetches;
    m->fetches = ft;
    m->nfetches++;
    return 0;
}

void chmsend_free(struct chmsend *m)
{
    if (!m) return;
    cancel_upload(m);
    cancel_fetches(m);
    chmconn_unwatch(m->mconn, m);
    for (struct acc *a = m->accs; a; a = a->next) {
        if (a->done) a->done(a->ud, -ECANCELED, "the channel is stopping: nothing was queued");
        a->done = NULL;
        a->m = NULL;
    }
    uv_timer_stop(m->timer);
    uv_close((uv_handle_t *)m->timer, timer_closed);
    free(m);
}
