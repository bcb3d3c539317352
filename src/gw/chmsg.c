/* SPDX-License-Identifier: MIT */
/* chmsg.c -- the receive and send paths wired to one channel session. */
#include "gw/chmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/events.h"
#include "api/metrics.h"
#include "core/hex.h"
#include "core/log.h"
#include "gw/chbatch.h"
#include "gw/chhook.h"
#include "wa/recv.h"
#include "wa/send.h"

#define COMP "whatsapp"

struct chmsg {
    char account[64];
    struct wa_recv_env renv;
    struct wa_sender *sender;
    struct api_events *events;
    struct api_metrics *metrics;
    struct chhook *hook;   /* the channel's exec hook (gw/chhook.h), may be NULL */
    struct chbatch *batch; /* group commit (chmsg_enable_batch), may be NULL */
};

static void count(struct chmsg *m, const char *name)
{
    if (!m->metrics) return;
    char acct[80], l[160];
    api_metrics_label_escape(m->account, acct, sizeof acct);
    snprintf(l, sizeof l, "channel=\"whatsapp\",account=\"%s\"", acct);
    api_metrics_add(m->metrics, name, l, 1);
}

static void publish(struct chmsg *m, const char *type, cJSON *d)
{
    if (m->events)
        api_events_publish(m->events, type, d);
    else
        cJSON_Delete(d);
}

static bool is_utf8_text(const struct st_inbox_msg *r)
{
    return r->type && strcmp(r->type, "text") == 0 && !memchr(r->payload, 0, r->payload_len);
}

cJSON *chmsg_inbox_json(const char *account, const struct st_inbox_msg *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "account", account);
    cJSON_AddNumberToObject(o, "cursor", (double)r->cursor);
    cJSON_AddStringToObject(o, "chat", r->chat ? r->chat : "");
    cJSON_AddStringToObject(o, "sender", r->sender ? r->sender : "");
    cJSON_AddStringToObject(o, "id", r->msg_id ? r->msg_id : "");
    cJSON_AddStringToObject(o, "type", r->type ? r->type : "");
    cJSON_AddNumberToObject(o, "ts", (double)r->ts);
    cJSON_AddNumberToObject(o, "received", (double)r->received);
    if (is_utf8_text(r)) {
        char *t = malloc(r->payload_len + 1);
        if (t) {
            memcpy(t, r->payload, r->payload_len);
            t[r->payload_len] = '\0';
            cJSON_AddStringToObject(o, "text", t);
            free(t);
        }
    } else {
        char *h = malloc(r->payload_len * 2 + 1);
        if (h) {
            hex_encode(h, r->payload, r->payload_len);
            h[r->payload_len * 2] = '\0';
            cJSON_AddStringToObject(o, "payload_hex", h);
            free(h);
        }
    }
    return o;
}

static void on_message(void *ud, const struct st_inbox_msg *r)
{
    struct chmsg *m = ud;
    count(m, "wagate_channel_messages_in_total");
    log_info(COMP, m->account, "message %s from %s stored (cursor %lld)", r->msg_id,
             r->sender && r->sender[0] ? r->sender : r->chat, (long long)r->cursor);
    publish(m, "message.received", chmsg_inbox_json(m->account, r));
    chhook_message(m->hook, m->renv.creds, r);
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

static void on_retry_receipt(void *ud, const struct wa_node *n)
{
    struct chmsg *m = ud;
    if (m->sender) wa_sender_handle(m->sender, n);
}

static void on_state(void *ud, const char *id, enum st_out_state st, const char *err)
{
    struct chmsg *m = ud;
    if (st == ST_OUT_FAILED)
        log_warn(COMP, m->account, "message %s failed: %s", id, err ? err : "");
    state_event(m, id, st, err);
}

struct chmsg *chmsg_new(struct wa_client *client, struct st_db *db, struct sg_ctx *sg,
                        const struct wa_creds *creds, const char *account,
                        struct api_events *events, struct api_metrics *metrics)
{
    if (!client || !db || !sg || !creds || !account) return NULL;
    struct chmsg *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->account, sizeof m->account, "%s", account);
    m->events = events;
    m->metrics = metrics;
    m->renv = (struct wa_recv_env){
        .client = client,
        .db = db,
        .sg = sg,
        .creds = creds,
        .on_message = on_message,
        .on_receipt = on_receipt,
        .on_retry_receipt = on_retry_receipt,
        .ud = m,
    };
    struct wa_sender_env se = {
        .client = client, .db = db, .sg = sg, .creds = creds, .on_state = on_state, .ud = m};
    if (wa_sender_new(&se, &m->sender) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

void chmsg_free(struct chmsg *m)
{
    if (!m) return;
    chbatch_free(m->batch);
    wa_sender_free(m->sender);
    free(m);
}

void chmsg_set_hook(struct chmsg *m, struct chhook *hook)
{
    if (m) m->hook = hook;
}

void chmsg_detach_api(struct chmsg *m)
{
    if (!m) return;
    m->events = NULL;
    m->metrics = NULL;
}

void chmsg_connected(struct chmsg *m)
{
    wa_sender_kick(m->sender);
}

void chmsg_disconnected(struct chmsg *m)
{
    chbatch_drop(m->batch); /* not acked: the server redelivers them */
    wa_sender_disconnected(m->sender);
}

void chmsg_node(struct chmsg *m, const struct wa_node *n)
{
    const char *tag = n->tag.s ? n->tag.s : "";
    if (m->batch && chbatch_takes(n) && chbatch_push(m->batch, n) == 0) return;
    chbatch_flush(m->batch); /* stanzas stay in arrival order */
    if (strcmp(tag, "ack") == 0) {
        const char *cls = wa_node_attr(n, "class");
        if (cls && strcmp(cls, "message") == 0) wa_sender_handle(m->sender, n);
        return;
    }
    int r = wa_recv_handle(&m->renv, n);
    if (r < 0)
        log_warn(COMP, m->account, "<%s id=%s>: not stored (%s); the server will redeliver it", tag,
                 wa_node_attr(n, "id") ? wa_node_attr(n, "id") : "?", strerror(-r));
}

static void on_batch_error(void *ud, const struct wa_node *n, int rc)
{
    struct chmsg *m = ud;
    log_warn(COMP, m->account, "<%s id=%s>: not stored (%s); the server will redeliver it",
             n->tag.s ? n->tag.s : "?", wa_node_attr(n, "id") ? wa_node_attr(n, "id") : "?",
             strerror(-rc));
}

static void on_batch_acks(void *ud, const struct wa_node *const *acks, size_t n)
{
    struct chmsg *m = ud;
    (void)wa_sender_handle_acks(m->sender, acks, n);
}

static void on_batch_acks_in_txn(void *ud, const struct wa_node *const *acks, size_t n)
{
    struct chmsg *m = ud;
    (void)wa_sender_acks_in_txn(m->sender, acks, n);
}

static void on_batch_acks_done(void *ud, bool committed)
{
    struct chmsg *m = ud;
    wa_sender_txn_done(m->sender, committed);
}

void chmsg_enable_batch(struct chmsg *m, uv_loop_t *loop)
{
    if (!m || m->batch) return;
    static const struct chbatch_acks acks = {
        .handle = on_batch_acks, .in_txn = on_batch_acks_in_txn, .done = on_batch_acks_done};
    if (chbatch_new(loop, &m->renv, on_batch_error, &acks, m, &m->batch) < 0) m->batch = NULL;
    chbatch_set_delay(m->batch, CHMSG_COMMIT_WINDOW_MS);
}

static int fail(cJSON **out, int status, const char *msg)
{
    *out = cJSON_CreateObject();
    cJSON_AddStringToObject(*out, "error", msg);
    return status;
}

/* The API answer for an enqueued (or already known) message. */
static int send_answer(const char *account, int r, const struct st_outbox_msg *row, cJSON **out)
{
    *out = cJSON_CreateObject();
    cJSON_AddStringToObject(*out, "account", account);
    cJSON_AddStringToObject(*out, "id", row->msg_id ? row->msg_id : "");
    cJSON_AddStringToObject(*out, "state", st_out_state_name(row->state));
    if (r == ST_DUPLICATE) cJSON_AddTrueToObject(*out, "duplicate");
    return r == ST_DUPLICATE ? 200 : 202;
}

int chmsg_send(struct chmsg *m, const char *to, const char *text, const char *idem_key, cJSON **out)
{
    struct st_outbox_msg row = {0};
    int r = wa_sender_enqueue(m->sender, to, text, idem_key, &row);
    if (r < 0) {
        const char *why = wa_sender_last_error(m->sender);
        return fail(out, r == -EINVAL ? 400 : 500, why[0] ? why : strerror(-r));
    }
    if (r != ST_DUPLICATE) count(m, "wagate_channel_messages_out_total");
    wa_sender_kick(m->sender);
    int status = send_answer(m->account, r, &row, out);
    st_outbox_msg_free(&row);
    return status;
}

int chmsg_send_queued(struct st_db *db, const struct wa_creds *creds, const char *account,
                      const char *to, const char *text, const char *idem_key, cJSON **out)
{
    struct st_outbox_msg row = {0};
    char err[256] = "";
    int r = wa_send_enqueue_db(db, creds, to, text, idem_key, &row, err, sizeof err);
    if (r < 0) return fail(out, r == -EINVAL ? 400 : 500, err[0] ? err : strerror(-r));
    int status = send_answer(account, r, &row, out);
    st_outbox_msg_free(&row);
    return status;
}

int chmsg_inbox(struct st_db *db, const char *account, int64_t after, size_t limit, cJSON **out)
{
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    int r = st_inbox_list(db, after, limit, &v, &n);
    if (r < 0) return fail(out, 500, st_db_last_error(db));
    cJSON *arr = cJSON_CreateArray();
    int64_t next = after;
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, chmsg_inbox_json(account, &v[i]));
        next = v[i].cursor;
    }
    st_inbox_list_free(v, n);
    *out = cJSON_CreateObject();
    cJSON_AddItemToObject(*out, "messages", arr);
    cJSON_AddNumberToObject(*out, "next_cursor", (double)next);
    return 200;
}
