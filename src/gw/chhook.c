/* SPDX-License-Identifier: MIT */
/* chhook.c -- hand the inbox's pending messages to the exec hook, durably, until each
 * succeeded once (or gave up), and send its output as the reply. */
#include "gw/chhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/events.h"
#include "core/log.h"
#include "gw/hook.h"
#include "gw/json.h"
#include "store/mediafile.h"
#include "wa/jid.h"

#define COMP      "hook"
#define SCAN_PAGE 64 /* pending rows read per query (plus the running ones, skipped) */

struct job {
    struct job *next;
    struct chhook *h;
    struct gw_hook *proc;
    char *input;
    size_t input_len;
    int64_t cursor;
    int attempt;  /* this run's number, 1-based (already recorded in hook_state) */
    unsigned gen; /* the store generation it was read from */
    char chat[WA_JID_STR_MAX];
    char sender[WA_JID_STR_MAX];
    char id[ST_MSGID_MAX];
};

struct chhook {
    uv_loop_t *loop;
    char account[CFG_ACCOUNT_ID_MAX + 1];
    const struct wg_config *cfg;
    const struct wa_creds *creds;
    struct api_events *events;
    chhook_send_fn send;
    void *send_ud;
    chhook_admit_fn admit;
    void *admit_ud;
    chhook_typing_fn typing;
    chhook_handled_fn handled;
    struct st_db *db;
    unsigned gen;        /* bumped by every chhook_set_store */
    struct job *running; /* unordered, at most max_running */
    uv_timer_t timer;    /* the next scan */
    struct chhook_stats st;
    bool closing, timer_closed;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void job_free(struct job *j)
{
    free(j->input);
    free(j);
}

static void maybe_free(struct chhook *h)
{
    if (h->closing && h->timer_closed && !h->running) free(h);
}

static void publish(struct chhook *h, const char *type, cJSON *d)
{
    gw_json_make_utf8(d); /* the command's output (detail) goes out valid */
    if (h->events && !h->closing)
        api_events_publish(h->events, type, d);
    else
        cJSON_Delete(d);
}

static void on_timer(uv_timer_t *t);

static void kick(struct chhook *h, uint64_t delay_ms)
{
    if (!h->closing) uv_timer_start(&h->timer, on_timer, delay_ms, 0);
}

/* ---- outcomes of one run ---- */

static void settle(struct chhook *h, const struct job *j)
{
    int r = st_inbox_mark_delivered(h->db, j->cursor);
    if (r < 0) /* the row stays pending: it runs again later, the reply key dedups */
        log_warn(COMP, h->account, "message %s: cannot record the delivery: %s", j->id,
                 st_db_last_error(h->db));
}

static unsigned retry_delay(const struct wg_config *c, int attempt)
{
    uint64_t d = c->hook_exec_retry_base_ms;
    for (int i = 1; i < attempt && d < c->hook_exec_retry_max_ms; i++)
        d *= 2;
    return d > c->hook_exec_retry_max_ms ? c->hook_exec_retry_max_ms : (unsigned)d;
}

static void give_up(struct chhook *h, const struct job *j, const char *error, const char *detail)
{
    h->st.failed++;
    int r = st_db_begin(h->db);
    if (r == 0) r = st_hook_state_put(h->db, j->cursor, j->attempt, 0, detail, 1);
    if (r == 0) r = st_inbox_mark_delivered(h->db, j->cursor);
    if (r == 0)
        r = st_db_commit(h->db);
    else
        st_db_rollback(h->db);
    if (r < 0) {
        log_warn(COMP, h->account, "message %s: cannot record giving up: %s", j->id,
                 st_db_last_error(h->db));
        return; /* still pending: the next start sees attempts >= max and gives up again */
    }
    log_warn(COMP, h->account, "message %s from %s: hook failed: %s (%s); gave up after %d runs",
             j->id, j->chat, error, detail, j->attempt);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", h->account);
    cJSON_AddStringToObject(d, "id", j->id);
    cJSON_AddStringToObject(d, "chat", j->chat);
    cJSON_AddStringToObject(d, "error", error);
    cJSON_AddStringToObject(d, "detail", detail);
    cJSON_AddNumberToObject(d, "attempts", j->attempt);
    publish(h, "hook.failed", d);
}

/* A run failed: retry it later, or give up after hooks.exec.max_attempts runs. */
static void failed(struct chhook *h, const struct job *j, const char *error, const char *detail)
{
    if ((unsigned)j->attempt >= h->cfg->hook_exec_max_attempts) {
        give_up(h, j, error, detail);
        return;
    }
    h->st.retried++;
    unsigned delay = retry_delay(h->cfg, j->attempt);
    char text[600];
    snprintf(text, sizeof text, "%s: %s", error, detail);
    if (st_hook_state_put(h->db, j->cursor, j->attempt, wall_ms() + delay, text, 0) < 0)
        log_warn(COMP, h->account, "message %s: cannot record the retry: %s", j->id,
                 st_db_last_error(h->db));
    log_warn(COMP, h->account,
             "message %s from %s: hook failed: %s (%s); run %d of %u, retry in %u ms", j->id,
             j->chat, error, detail, j->attempt, h->cfg->hook_exec_max_attempts, delay);
}

static void replied(struct chhook *h, const struct job *j, const struct gw_send_result *r)
{
    h->st.replied++;
    log_info(COMP, h->account, "message %s from %s: reply %s %s", j->id, j->chat, r->id,
             r->duplicate ? "was already queued (duplicate, not sent again)" : "queued");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", h->account);
    cJSON_AddStringToObject(d, "id", j->id);
    cJSON_AddStringToObject(d, "chat", j->chat);
    cJSON_AddStringToObject(d, "reply_id", r->id);
    if (r->duplicate) cJSON_AddTrueToObject(d, "duplicate");
    publish(h, "hook.replied", d);
}

/* Queue the reply (its key makes a second run's reply a duplicate), then settle the row. */
static void send_reply(struct chhook *h, const struct job *j, const char *reply)
{
    char key[16 + CFG_ACCOUNT_ID_MAX + ST_MSGID_MAX];
    snprintf(key, sizeof key, "hook:%s:%s", h->account, j->id);
    struct gw_send_result r = {0};
    struct wa_outmsg m = wa_outmsg_text(j->chat, reply, key);
    int rc = h->send(h->send_ud, &m, &r);
    if (rc == 0) {
        replied(h, j, &r);
        settle(h, j);
        if (h->handled) h->handled(h->send_ud, j->chat, j->sender, j->id);
        return;
    }
    char detail[320];
    if (rc == -EAGAIN)
        snprintf(detail, sizeof detail, "the channel cannot send now: %s", strerror(-rc));
    else
        snprintf(detail, sizeof detail, "the reply was refused: %s",
                 r.error[0] ? r.error : strerror(-rc));
    failed(h, j, "send", detail);
}

static void unlink_running(struct chhook *h, struct job *j)
{
    for (struct job **pp = &h->running; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            h->st.running--;
            return;
        }
    }
}

static const char *error_name(int status)
{
    switch (status) {
    case -ETIMEDOUT:
        return "timeout";
    case -ECHILD:
        return "exit";
    case -EMSGSIZE:
        return "output_too_large";
    case -ECANCELED:
        return "cancelled";
    default:
        return "spawn";
    }
}

static void on_done(void *ud, int status, const char *reply, const char *detail)
{
    struct job *j = ud;
    struct chhook *h = j->h;
    unlink_running(h, j);
    if (h->closing || j->gen != h->gen || !h->db) { /* a cancelled run stays pending */
        job_free(j);
        if (h->closing)
            maybe_free(h);
        else
            kick(h, 0);
        return;
    }
    if (h->typing && h->cfg->hook_exec_typing) h->typing(h->send_ud, j->chat, "paused");
    if (status < 0)
        failed(h, j, error_name(status), detail);
    else if (reply && reply[0])
        send_reply(h, j, reply);
    else {
        log_info(COMP, h->account, "message %s from %s: no reply", j->id, j->chat);
        settle(h, j);
        if (h->handled) h->handled(h->send_ud, j->chat, j->sender, j->id);
    }
    job_free(j);
    kick(h, 0);
}

/* ---- starting runs from the inbox ---- */

static bool same_user(const struct wa_jid *a, const char *b)
{
    struct wa_jid j;
    return b && b[0] && wa_jid_parse(&j, b, strlen(b)) == 0 && wa_jid_same_user(a, &j);
}

/* What the agent answers: a text, media, a location or a contact (not reactions, edits,
 * revokes: those are events), or an undecryptable message with its reason. */
static bool kind_wanted(enum wa_inmsg_kind k)
{
    return k == WA_IN_TEXT || k == WA_IN_UNDECRYPTABLE || wa_inmsg_kind_is_media(k) ||
           k == WA_IN_LOCATION || k == WA_IN_CONTACT;
}

/* A message the agent answers (kind_wanted) from a peer in a 1:1 or group chat. */
static bool wanted(const struct wa_creds *creds, const struct wa_inmsg *m)
{
    if (!kind_wanted(m->kind) || !m->chat || !m->id || !m->id[0]) return false;
    if (strlen(m->chat) >= WA_JID_STR_MAX || strlen(m->id) >= ST_MSGID_MAX) return false;
    struct wa_jid chat, sender;
    if (wa_jid_parse(&chat, m->chat, strlen(m->chat)) < 0) return false;
    enum wa_jid_kind k = wa_jid_kind(&chat);
    if (k != WA_JID_KIND_PN && k != WA_JID_KIND_LID && k != WA_JID_KIND_GROUP) return false;
    const char *s = m->sender && m->sender[0] ? m->sender : m->chat;
    if (wa_jid_parse(&sender, s, strlen(s)) < 0) return false;
    return !(creds && (same_user(&sender, creds->me_pn) || same_user(&sender, creds->me_lid)));
}

/* The message JSON (gw/json.h) plus "attempt" (before "text", which stays the last key), as
 * one line. */
static struct job *make_job(struct chhook *h, const struct wa_inmsg *m, int attempt)
{
    struct job *j = calloc(1, sizeof *j);
    cJSON *o = gw_inmsg_json(h->account, m);
    struct st_mfile f;
    if (o && wa_inmsg_kind_is_media(m->kind))
        gw_json_add_file(o, h->account, m->cursor,
                         st_mfile_get(h->db, m->cursor, &f) == 1 ? &f : NULL);
    if (o) {
        cJSON *text = cJSON_DetachItemFromObjectCaseSensitive(o, "text");
        cJSON_AddNumberToObject(o, "attempt", attempt);
        if (text) cJSON_AddItemToObject(o, "text", text);
    }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!j || !text) {
        free(j);
        free(text);
        return NULL;
    }
    size_t n = strlen(text);
    char *in = realloc(text, n + 2); /* one line: a shell `read` sees the whole message */
    if (!in) {
        free(text);
        free(j);
        return NULL;
    }
    in[n] = '\n';
    in[n + 1] = '\0';
    j->input = in;
    j->input_len = n + 1;
    j->h = h;
    j->cursor = m->cursor;
    j->attempt = attempt;
    j->gen = h->gen;
    snprintf(j->chat, sizeof j->chat, "%s", m->chat);
    snprintf(j->id, sizeof j->id, "%s", m->id);
    snprintf(j->sender, sizeof j->sender, "%s",
             m->sender && strlen(m->sender) < WA_JID_STR_MAX ? m->sender : "");
    return j;
}

static bool is_running(const struct chhook *h, int64_t cursor)
{
    for (const struct job *j = h->running; j; j = j->next)
        if (j->cursor == cursor) return true;
    return false;
}

/* Record the run, then start it. 0 started (or settled: gave up), < 0 nothing happened
 * (the row stays pending). */
static int start_row(struct chhook *h, const struct st_inbox_msg *row)
{
    struct wa_inmsg m;
    wa_inmsg_from_row(row, &m);
    struct job *j = make_job(h, &m, row->attempts + 1);
    if (!j) return -ENOMEM;
    if ((unsigned)row->attempts >= h->cfg->hook_exec_max_attempts) { /* limit lowered, or a
                                                                      * give-up not recorded */
        j->attempt = row->attempts;
        give_up(h, j, "attempts", "no runs left (hooks.exec.max_attempts)");
        job_free(j);
        return 0;
    }
    /* Written before the start: a run cut short by a crash still counts, and the next one
     * is told it may be a repeat ("attempt" > 1). */
    int r = st_hook_state_put(h->db, row->cursor, j->attempt, 0, NULL, 0);
    if (r < 0) {
        log_warn(COMP, h->account, "message %s: cannot record the run: %s; not started", j->id,
                 st_db_last_error(h->db));
        job_free(j);
        return r;
    }
    r = gw_hook_run(h->loop, h->cfg->hook_exec_command, j->input, j->input_len,
                    h->cfg->hook_exec_timeout_ms, on_done, j, &j->proc);
    if (r < 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "cannot start the command: %s", uv_strerror(r));
        failed(h, j, "spawn", detail);
        job_free(j);
        return 0;
    }
    h->st.started++;
    if (h->typing && h->cfg->hook_exec_typing) h->typing(h->send_ud, j->chat, "composing");
    if (j->attempt > 1) h->st.repeated++;
    h->st.running++;
    j->next = h->running;
    h->running = j;
    log_debug(COMP, h->account, "message %s from %s: hook started (run %d)", j->id, j->chat,
              j->attempt);
    return 0;
}

/* Settle rows that need no hook, in one transaction. */
static void settle_rows(struct chhook *h, const int64_t *cursors, size_t n)
{
    if (!n) return;
    int r = st_db_begin(h->db);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = st_inbox_mark_delivered(h->db, cursors[i]);
    if (r == 0)
        r = st_db_commit(h->db);
    else
        st_db_rollback(h->db);
    if (r < 0)
        log_warn(COMP, h->account, "cannot settle %zu messages: %s", n, st_db_last_error(h->db));
    else
        h->st.skipped += n;
}

/* A media row whose file is still being fetched, received less than media.hook_wait_s ago:
 * the hook waits for it (and the rows after it wait too: the agent sees them in order).
 * *wait_ms: how much longer. */
static bool file_pending(struct chhook *h, const struct st_inbox_msg *row, int64_t now,
                         uint64_t *wait_ms)
{
    struct wa_inmsg m;
    wa_inmsg_from_row(row, &m);
    if (!wa_inmsg_kind_is_media(m.kind)) return false;
    int64_t until = (row->received + (int64_t)h->cfg->media_hook_wait_s) * 1000;
    struct st_mfile f;
    if (until <= now || st_mfile_get(h->db, row->cursor, &f) != 1 || f.state != ST_MF_PENDING)
        return false;
    *wait_ms = (uint64_t)(until - now);
    return true;
}

/* One pass over the pending rows that are due: start runs while slots are free; settle the
 * ones that need no hook. Returns -EAGAIN when a store error stopped it, 1 when a row waits
 * for its file (the timer is set to its deadline). */
static int scan(struct chhook *h)
{
    int64_t after = 0, now = wall_ms();
    bool held = false;
    unsigned max = h->cfg->hook_exec_max_running;
    while (h->st.running < max && !held) {
        struct st_inbox_msg *v = NULL;
        size_t n = 0, limit = SCAN_PAGE + h->st.running;
        if (st_inbox_pending(h->db, after, now, limit, &v, &n) < 0) {
            log_warn(COMP, h->account, "cannot read the pending messages: %s",
                     st_db_last_error(h->db));
            return -EAGAIN;
        }
        int64_t skip[SCAN_PAGE + 64];
        size_t nskip = 0;
        int err = 0;
        for (size_t i = 0; i < n && h->st.running < max && !err; i++) {
            after = v[i].cursor;
            if (is_running(h, v[i].cursor)) continue;
            uint64_t wait = 0;
            if (file_pending(h, &v[i], now, &wait)) { /* woken by chhook_wake, or the deadline */
                held = true;
                kick(h, wait);
                break;
            }
            struct wa_inmsg m;
            wa_inmsg_from_row(&v[i], &m);
            /* a row started before (attempts) was admitted then */
            if (!wanted(h->creds, &m) ||
                (v[i].attempts == 0 && h->admit && !h->admit(h->admit_ud, &m)))
                skip[nskip++] = v[i].cursor;
            else
                err = start_row(h, &v[i]);
        }
        st_inbox_list_free(v, n);
        settle_rows(h, skip, nskip);
        if (err) return -EAGAIN;
        if (n < limit) break;
    }
    return held ? 1 : 0;
}

static void on_timer(uv_timer_t *t)
{
    struct chhook *h = t->data;
    if (h->closing || !h->db) return;
    if (!h->cfg->hook_exec_command[0]) { /* no agent: nothing is owed to one */
        int n = st_inbox_settle_upto(h->db, INT64_MAX);
        if (n > 0) h->st.skipped += (unsigned long)n;
        return;
    }
    int sr = scan(h);
    if (sr < 0) {
        kick(h, h->cfg->hook_exec_retry_base_ms);
        return;
    }
    if (sr == 1) return; /* waiting for a file: its deadline (or chhook_wake) comes back */
    if (h->st.running >= h->cfg->hook_exec_max_running) return; /* on_done scans again */
    int64_t at = 0, now = wall_ms();
    if (st_inbox_next_due(h->db, now, &at) == 1) kick(h, (uint64_t)(at > now ? at - now : 0));
}

/* ---- public ---- */

void chhook_message(struct chhook *h, const struct wa_creds *creds, const struct wa_inmsg *m)
{
    if (!h || h->closing || !m) return;
    if (creds) h->creds = creds;
    if (!h->db) return;
    if (!h->cfg->hook_exec_command[0]) { /* settle in batches: one write a second at most */
        if (!uv_is_active((uv_handle_t *)&h->timer)) kick(h, 1000);
        return;
    }
    kick(h, 0); /* the row is in the inbox: the scan picks it up */
}

void chhook_wake(struct chhook *h)
{
    if (h && !h->closing && h->db) kick(h, 0);
}

void chhook_set_store(struct chhook *h, struct st_db *db)
{
    if (!h || h->closing) return;
    h->db = db;
    h->gen++;
    if (db)
        kick(h, 0);
    else
        uv_timer_stop(&h->timer);
}

int chhook_new(uv_loop_t *loop, const struct chhook_opts *o, struct chhook **out)
{
    *out = NULL;
    if (!loop || !o || !o->account || !o->cfg || !o->send) return -EINVAL;
    struct chhook *h = calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    h->loop = loop;
    snprintf(h->account, sizeof h->account, "%s", o->account);
    h->cfg = o->cfg;
    h->creds = o->creds;
    h->events = o->events;
    h->send = o->send;
    h->send_ud = o->send_ud;
    h->admit = o->admit;
    h->admit_ud = o->admit_ud;
    h->typing = o->typing;
    h->handled = o->handled;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    *out = h;
    return 0;
}

void chhook_detach_api(struct chhook *h)
{
    if (h) h->events = NULL;
}

static void on_timer_closed(uv_handle_t *t)
{
    struct chhook *h = t->data;
    h->timer_closed = true;
    maybe_free(h);
}

void chhook_close(struct chhook *h)
{
    if (!h || h->closing) return;
    h->closing = true;
    h->events = NULL;
    h->cfg = NULL;
    h->db = NULL;
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
    for (struct job *j = h->running; j; j = j->next)
        gw_hook_cancel(j->proc);
}

void chhook_get_stats(const struct chhook *h, struct chhook_stats *out)
{
    *out = h->st;
}
