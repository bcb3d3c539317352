/* SPDX-License-Identifier: MIT */
/* chmsg.c -- messaging events as logs, API events, metrics and the exec hook. */
#include "gw/chmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/events.h"
#include "api/metrics.h"
#include "core/log.h"
#include "gw/access.h"
#include "gw/chhook.h"
#include "gw/chmedia.h"
#include "gw/chmsend.h"
#include "gw/json.h"

#define COMP "whatsapp"

struct chmsg {
    char account[64];
    const struct wa_creds *creds;
    struct api_events *events;
    struct api_metrics *metrics;
    struct chhook *hook;      /* the channel's exec hook (gw/chhook.h), may be NULL */
    struct gw_access *access; /* the access policy before every sink (gw/access.h), may be NULL */
    struct chmedia *media;    /* fetches received files (gw/chmedia.h), may be NULL */
    struct chmsend *msend;    /* uploads files to send (gw/chmsend.h), may be NULL */
    struct wa_session_events ev;
    void (*repair)(void *ud, unsigned peers);
    void *repair_ud;
    void (*store_error)(void *ud, int err);
    void *store_error_ud;
    int64_t last_cursor; /* the largest inbox cursor stored so far */
    /* the per-message counters, looked up once (a lookup by labels walks every account's
     * series of the family: O(accounts) per message on a node with many) */
    struct api_metric_ref in_ref, out_ref;
};

static void labels(const struct chmsg *m, char *l, size_t n)
{
    char acct[80];
    api_metrics_label_escape(m->account, acct, sizeof acct);
    snprintf(l, n, "channel=\"whatsapp\",account=\"%s\"", acct);
}

static void count(struct chmsg *m, const char *name)
{
    if (!m->metrics) return;
    char l[160];
    labels(m, l, sizeof l);
    api_metrics_add(m->metrics, name, l, 1);
}

/* A hot counter through its reference, found at its first use (the family is declared by
 * then; until it is, each call tries again). */
static void count_ref(struct chmsg *m, struct api_metric_ref *r, const char *name)
{
    if (!m->metrics) return;
    if (r->f < 0) {
        char l[160];
        labels(m, l, sizeof l);
        if (api_metrics_ref(m->metrics, name, l, r) < 0) return;
    }
    api_metrics_ref_add(m->metrics, *r, 1);
}

static void publish(struct chmsg *m, const char *type, cJSON *d)
{
    gw_json_make_utf8(d); /* peers' strings (ids, errors) go out valid */
    if (m->events)
        api_events_publish(m->events, type, d);
    else
        cJSON_Delete(d);
}

static void on_message(void *ud, const struct wa_inmsg *r)
{
    struct chmsg *m = ud;
    count_ref(m, &m->in_ref, "wagate_channel_messages_in_total");
    if (r->cursor > m->last_cursor) m->last_cursor = r->cursor;
    log_info(COMP, m->account, "message %s from %s stored (cursor %lld)", r->id,
             r->sender && r->sender[0] ? r->sender : r->chat, (long long)r->cursor);
    cJSON *d = gw_inmsg_json(m->account, r);
    bool media = wa_inmsg_kind_is_media(r->kind);
    if (d && media) gw_json_add_file(d, m->account, r->cursor, NULL);
    publish(m, "message.received", d);
    if (media) chmedia_kick(m->media);
    /* the one access check: stored, acked and counted above; the sinks only when allowed. The
     * hook reads its work from the inbox and asks gw_access_admit, which remembers this. */
    (void)gw_access_check(m->access, m->creds, r);
    chhook_message(m->hook, m->creds, r);
}

static void state_event(struct chmsg *m, const char *id, enum st_out_state st, const char *err)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", m->account);
    cJSON_AddStringToObject(d, "id", id);
    cJSON_AddStringToObject(d, "state", st_out_state_name(st));
    if (err && err[0]) cJSON_AddStringToObject(d, "error", err);
    publish(m, "message.state", d);
}

static void on_receipt(void *ud, const char *id, enum st_out_state st, const char *from)
{
    state_event(ud, id, st, NULL);
}

static void on_state(void *ud, const char *id, enum st_out_state st, const char *err)
{
    struct chmsg *m = ud;
    if (st == ST_OUT_FAILED)
        log_warn(COMP, m->account, "message %s failed: %s", id, err ? err : "");
    else if (st == ST_OUT_SENT) /* also the ones that waited in the outbox through an outage */
        log_info(COMP, m->account, "message %s sent (the server acknowledged it)", id);
    chmsend_state(m->msend, id, st);
    state_event(m, id, st, err);
}

void chmsg_state(struct chmsg *m, const char *id, enum st_out_state st, const char *err)
{
    if (m) on_state(m, id, st, err);
}

void chmsg_set_msend(struct chmsg *m, struct chmsend *ms)
{
    if (m) m->msend = ms;
}

static void on_undecryptable(void *ud, const struct wa_undecryptable *u)
{
    struct chmsg *m = ud;
    count(m, u->gave_up ? "wagate_channel_undecryptable_total"
                        : "wagate_channel_retry_receipts_total");
    count(m, "wagate_channel_decrypt_failures_total");
    if (u->session_dropped) count(m, "wagate_channel_peer_session_resets_total");
    if (u->gave_up)
        log_warn(COMP, m->account,
                 "message %s from %s in %s undecryptable (%s): gave up after %u retry receipts, "
                 "stored as an undecryptable message%s",
                 u->id, u->from, u->chat, u->reason, u->count,
                 u->session_dropped ? "; the peer's session was deleted" : "");
    else
        log_info(COMP, m->account, "message %s from %s undecryptable (%s): retry receipt %u sent",
                 u->id, u->from, u->reason, u->count);
}

static void on_store_failing(void *ud, unsigned peers, unsigned fails, unsigned oks)
{
    struct chmsg *m = ud;
    log_warn(COMP, m->account,
             "decryption failing store-wide (%u distinct peers; %u failures, %u successes "
             "in the window): resetting the encryption sessions",
             peers, fails, oks);
    if (m->repair) m->repair(m->repair_ud, peers);
}

void chmsg_set_repair(struct chmsg *m, void (*fn)(void *ud, unsigned peers), void *ud)
{
    if (!m) return;
    m->repair = fn;
    m->repair_ud = ud;
}

static void on_media_retry(void *ud, const struct wa_node *n)
{
    struct chmsg *m = ud;
    chmedia_on_retry(m->media, n);
}

static void on_not_stored(void *ud, const char *tag, const char *id, int err)
{
    struct chmsg *m = ud;
    if (err == -EAGAIN) { /* held behind an earlier failure: the store error was told then */
        log_debug(COMP, m->account,
                  "<%s id=%s>: held behind a message not stored; the server "
                  "will redeliver it",
                  tag, id);
        return;
    }
    log_warn(COMP, m->account, "<%s id=%s>: not stored (%s); the server will redeliver it", tag, id,
             strerror(-err));
    if (m->store_error) m->store_error(m->store_error_ud, err);
}

int64_t chmsg_last_cursor(const struct chmsg *m)
{
    return m ? m->last_cursor : 0;
}

void chmsg_on_store_error(struct chmsg *m, void (*fn)(void *ud, int err), void *ud)
{
    if (!m) return;
    m->store_error = fn;
    m->store_error_ud = ud;
}

struct chmsg *chmsg_new(const char *account, const struct wa_creds *creds,
                        struct api_events *events, struct api_metrics *metrics)
{
    if (!account || !creds) return NULL;
    struct chmsg *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->account, sizeof m->account, "%s", account);
    m->creds = creds;
    m->events = events;
    m->metrics = metrics;
    m->in_ref = m->out_ref = API_METRIC_REF_NONE;
    m->ev = (struct wa_session_events){.message_received = on_message,
                                       .message_state = on_state,
                                       .receipt = on_receipt,
                                       .undecryptable = on_undecryptable,
                                       .not_stored = on_not_stored,
                                       .store_failing = on_store_failing,
                                       .media_retry = on_media_retry,
                                       .ud = m};
    return m;
}

void chmsg_free(struct chmsg *m)
{
    free(m);
}

void chmsg_set_hook(struct chmsg *m, struct chhook *hook)
{
    if (m) m->hook = hook;
}

void chmsg_set_media(struct chmsg *m, struct chmedia *media)
{
    m->media = media;
}

void chmsg_set_access(struct chmsg *m, struct gw_access *a)
{
    if (m) m->access = a;
}

void chmsg_detach_api(struct chmsg *m)
{
    if (!m) return;
    m->events = NULL;
    m->metrics = NULL;
}

const struct wa_session_events *chmsg_events(struct chmsg *m)
{
    return &m->ev;
}

void chmsg_sent(struct chmsg *m, const struct gw_send_result *r)
{
    if (m && !r->duplicate) count_ref(m, &m->out_ref, "wagate_channel_messages_out_total");
}
