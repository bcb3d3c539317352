/* SPDX-License-Identifier: MIT */
/* chhook.c -- run the exec hook for received messages and send its output as the reply. */
#include "gw/chhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/events.h"
#include "core/log.h"
#include "gw/hook.h"
#include "gw/json.h"
#include "wa/jid.h"

#define COMP "hook"

struct job {
    struct job *next;
    struct chhook *h;
    struct gw_hook *proc; /* while running */
    char *input;
    size_t input_len;
    unsigned timeout_ms;
    char chat[WA_JID_STR_MAX];
    char id[ST_MSGID_MAX];
};

struct chhook {
    uv_loop_t *loop;
    char account[CFG_ACCOUNT_ID_MAX + 1];
    const struct wg_config *cfg;
    struct api_events *events;
    chhook_send_fn send;
    void *send_ud;
    struct job *running; /* unordered */
    struct job *qhead, *qtail;
    struct chhook_stats st;
    bool closing;
};

static void job_free(struct job *j)
{
    free(j->input);
    free(j);
}

static void publish(struct chhook *h, const char *type, cJSON *d)
{
    gw_json_make_utf8(d); /* the command's output (detail) goes out valid */
    if (h->events && !h->closing)
        api_events_publish(h->events, type, d);
    else
        cJSON_Delete(d);
}

static void failed(struct chhook *h, const struct job *j, const char *error, const char *detail)
{
    h->st.failed++;
    log_warn(COMP, h->account, "message %s from %s: hook failed: %s (%s); not retried", j->id,
             j->chat, error, detail);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", h->account);
    cJSON_AddStringToObject(d, "id", j->id);
    cJSON_AddStringToObject(d, "chat", j->chat);
    cJSON_AddStringToObject(d, "error", error);
    cJSON_AddStringToObject(d, "detail", detail);
    publish(h, "hook.failed", d);
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

static void send_reply(struct chhook *h, const struct job *j, const char *reply)
{
    char key[16 + CFG_ACCOUNT_ID_MAX + ST_MSGID_MAX];
    snprintf(key, sizeof key, "hook:%s:%s", h->account, j->id);
    struct gw_send_result r = {0};
    struct wa_outmsg m = wa_outmsg_text(j->chat, reply, key);
    int rc = h->send(h->send_ud, &m, &r);
    if (rc == 0) {
        replied(h, j, &r);
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

static void start_next(struct chhook *h);

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
    if (h->closing) {
        job_free(j);
        if (!h->running) free(h);
        return;
    }
    if (status < 0)
        failed(h, j, error_name(status), detail);
    else if (reply && reply[0])
        send_reply(h, j, reply);
    else
        log_info(COMP, h->account, "message %s from %s: no reply", j->id, j->chat);
    job_free(j);
    start_next(h);
}

/* Start j now (a free slot was checked); on a spawn error report it and free j. */
static void run_job(struct chhook *h, struct job *j)
{
    const char *cmd = h->cfg->hook_exec_command;
    if (!cmd[0]) { /* removed by a reload while this message waited */
        job_free(j);
        return;
    }
    int r = gw_hook_run(h->loop, cmd, j->input, j->input_len, j->timeout_ms, on_done, j, &j->proc);
    if (r < 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "cannot start the command: %s", uv_strerror(r));
        failed(h, j, "spawn", detail);
        job_free(j);
        return;
    }
    h->st.started++;
    h->st.running++;
    j->next = h->running;
    h->running = j;
    log_debug(COMP, h->account, "message %s from %s: hook started", j->id, j->chat);
}

static void start_next(struct chhook *h)
{
    while (h->qhead && h->st.running < h->cfg->hook_exec_max_running) {
        struct job *j = h->qhead;
        h->qhead = j->next;
        if (!h->qhead) h->qtail = NULL;
        h->st.queued--;
        j->next = NULL;
        run_job(h, j);
    }
}

static bool same_user(const struct wa_jid *a, const char *b)
{
    struct wa_jid j;
    return b && b[0] && wa_jid_parse(&j, b, strlen(b)) == 0 && wa_jid_same_user(a, &j);
}

/* Text (or an undecryptable message, with its reason) from a peer in a 1:1 or group chat. */
static bool wanted(const struct wa_creds *creds, const struct wa_inmsg *m)
{
    if ((m->kind != WA_IN_TEXT && m->kind != WA_IN_UNDECRYPTABLE) || !m->chat || !m->id ||
        !m->id[0])
        return false;
    if (strlen(m->chat) >= WA_JID_STR_MAX || strlen(m->id) >= ST_MSGID_MAX) return false;
    struct wa_jid chat, sender;
    if (wa_jid_parse(&chat, m->chat, strlen(m->chat)) < 0) return false;
    enum wa_jid_kind k = wa_jid_kind(&chat);
    if (k != WA_JID_KIND_PN && k != WA_JID_KIND_LID && k != WA_JID_KIND_GROUP) return false;
    const char *s = m->sender && m->sender[0] ? m->sender : m->chat;
    if (wa_jid_parse(&sender, s, strlen(s)) < 0) return false;
    return !(creds && (same_user(&sender, creds->me_pn) || same_user(&sender, creds->me_lid)));
}

static struct job *make_job(struct chhook *h, const struct wa_inmsg *m)
{
    struct job *j = calloc(1, sizeof *j);
    cJSON *o = gw_inmsg_json(h->account, m);
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
    j->timeout_ms = h->cfg->hook_exec_timeout_ms;
    snprintf(j->chat, sizeof j->chat, "%s", m->chat);
    snprintf(j->id, sizeof j->id, "%s", m->id);
    return j;
}

void chhook_message(struct chhook *h, const struct wa_creds *creds, const struct wa_inmsg *m)
{
    if (!h || h->closing || !m || !h->cfg->hook_exec_command[0]) return;
    if (!wanted(creds, m)) {
        h->st.skipped++;
        return;
    }
    struct job *j = make_job(h, m);
    if (!j) {
        struct job tmp = {.h = h};
        snprintf(tmp.chat, sizeof tmp.chat, "%s", m->chat);
        snprintf(tmp.id, sizeof tmp.id, "%s", m->id);
        failed(h, &tmp, "spawn", "out of memory");
        return;
    }
    if (h->st.running < h->cfg->hook_exec_max_running && !h->qhead) {
        run_job(h, j);
        return;
    }
    if (h->st.queued >= h->cfg->hook_exec_max_queued) {
        h->st.dropped++;
        char detail[128];
        snprintf(detail, sizeof detail, "%u commands running and %u messages waiting: dropped",
                 h->st.running, h->st.queued);
        failed(h, j, "queue_full", detail);
        job_free(j);
        return;
    }
    if (h->qtail)
        h->qtail->next = j;
    else
        h->qhead = j;
    h->qtail = j;
    h->st.queued++;
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
    h->events = o->events;
    h->send = o->send;
    h->send_ud = o->send_ud;
    *out = h;
    return 0;
}

void chhook_detach_api(struct chhook *h)
{
    if (h) h->events = NULL;
}

void chhook_close(struct chhook *h)
{
    if (!h || h->closing) return;
    h->closing = true;
    h->events = NULL;
    h->cfg = NULL;
    while (h->qhead) {
        struct job *j = h->qhead;
        h->qhead = j->next;
        job_free(j);
    }
    h->qtail = NULL;
    h->st.queued = 0;
    if (!h->running) {
        free(h);
        return;
    }
    for (struct job *j = h->running; j; j = j->next)
        gw_hook_cancel(j->proc);
}

void chhook_get_stats(const struct chhook *h, struct chhook_stats *out)
{
    *out = h->st;
}
