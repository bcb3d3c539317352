/* SPDX-License-Identifier: MIT */
/* session.c -- the messaging dispatcher: stanza table, batch transaction, typed events. */
#include "wa/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wa/batch.h"
#include "wa/nodeb.h"
#include "wa/sendbuild.h"
#include "wa/send.h"

struct wa_session {
    struct wa_client *client;
    struct wa_receiver *rcv;
    struct wa_sender *snd;
    struct wa_batch *batch; /* NULL: one transaction per stanza */
    struct wa_session_events ev;
    uv_timer_t wake; /* delivers the sender's state changes found outside a callback */
    /* the acks of the batch being flushed, for the sender's in-transaction body */
    struct wa_node *const *fl_acks;
    size_t fl_nacks;
};

/* ---------------------------------------------------------------- events */

static void ev_message(void *ud, const struct wa_inmsg *m)
{
    struct wa_session *s = ud;
    if (s->ev.message_received) s->ev.message_received(s->ev.ud, m);
}

static void ev_receipt(void *ud, const char *id, enum st_out_state st, const char *from)
{
    struct wa_session *s = ud;
    if (s->ev.receipt) s->ev.receipt(s->ev.ud, id, st, from);
}

static void ev_state(void *ud, const char *id, enum st_out_state st, const char *error)
{
    struct wa_session *s = ud;
    if (s->ev.message_state) s->ev.message_state(s->ev.ud, id, st, error);
}

static void ev_undecryptable(void *ud, const struct wa_undecryptable *u)
{
    struct wa_session *s = ud;
    if (s->ev.undecryptable) s->ev.undecryptable(s->ev.ud, u);
}

static void ev_store_failing(void *ud, unsigned peers, unsigned fails, unsigned oks)
{
    struct wa_session *s = ud;
    if (s->ev.store_failing) s->ev.store_failing(s->ev.ud, peers, fails, oks);
}

static void not_stored(struct wa_session *s, const struct wa_node *n, int err)
{
    const char *id = wa_node_attr(n, "id");
    if (s->ev.not_stored) s->ev.not_stored(s->ev.ud, n->tag.s, id ? id : "?", err);
}

/* A peer's retry receipt (the receiver acked it): the sender answers it. */
static void on_retry_receipt(void *ud, const struct wa_node *receipt)
{
    struct wa_session *s = ud;
    (void)wa_sender_handle(s->snd, receipt);
}

static void on_wake_timer(uv_timer_t *t)
{
    struct wa_session *s = t->data;
    wa_sender_flush_notes(s->snd);
}

static void on_wake(void *ud)
{
    struct wa_session *s = ud;
    if (!uv_is_active((uv_handle_t *)&s->wake)) (void)uv_timer_start(&s->wake, on_wake_timer, 0, 0);
}

/* ---------------------------------------------------------------- the batch transaction */

static void acks_body(void *ud)
{
    struct wa_session *s = ud;
    (void)wa_sender_acks_in_txn(s->snd, (const struct wa_node *const *)s->fl_acks, s->fl_nacks);
}

static void acks_done(void *ud, bool committed)
{
    struct wa_session *s = ud;
    wa_sender_txn_done(s->snd, committed);
}

/* The queue of one loop iteration: messages and receipts in the receiver's transaction, the
 * acks of our messages inside it (or in their own group commit when it does not commit as a
 * whole); then the errors, per stanza. */
static void flush_batch(void *ud, struct wa_node *const *q, size_t n)
{
    struct wa_session *s = ud;
    struct wa_node *rx[WA_BATCH_MAX], *acks[WA_BATCH_MAX];
    int res[WA_BATCH_MAX];
    size_t nr = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        if (wa_nb_is(q[i], "ack")) {
            acks[na++] = q[i];
            continue;
        }
        res[nr] = 1;
        rx[nr++] = q[i];
    }
    struct wa_recv_txn_hook h = {.body = acks_body, .done = acks_done, .ud = s};
    s->fl_acks = acks;
    s->fl_nacks = na;
    int rc = nr ? wa_recv_handle_batch_ex(s->rcv, (const struct wa_node *const *)rx, nr, res,
                                          na ? &h : NULL)
                : 0;
    if (na && !h.ran) (void)wa_sender_handle_acks(s->snd, (const struct wa_node *const *)acks, na);
    for (size_t i = 0; i < nr; i++) {
        int r = rc == -EINVAL || rc == -EALREADY || rc == -ENOMEM ? rc : res[i];
        if (r < 0) not_stored(s, rx[i], r);
    }
}

/* ---------------------------------------------------------------- the stanza table */

/* Queued for the batch: true; else the caller handles it now (after the queue). */
static bool batched(struct wa_session *s, const struct wa_node *n)
{
    if (s->batch && wa_batch_push(s->batch, n) == 0) return true;
    wa_batch_flush(s->batch); /* stanzas stay in arrival order */
    return false;
}

static void to_receiver(struct wa_session *s, const struct wa_node *n)
{
    int r = wa_recv_handle(s->rcv, n);
    if (r < 0) not_stored(s, n, r);
}

static void route_message(struct wa_session *s, const struct wa_node *n)
{
    if (!batched(s, n)) to_receiver(s, n);
}

static void route_receipt(struct wa_session *s, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    bool retry = type && strcmp(type, "retry") == 0;
    if (retry)
        wa_batch_flush(s->batch);
    else if (batched(s, n))
        return;
    to_receiver(s, n);
}

static void route_ack(struct wa_session *s, const struct wa_node *n)
{
    const char *cls = wa_node_attr(n, "class");
    if (!cls || strcmp(cls, "message") != 0) return; /* acks of receipts, notifications, ... */
    if (!batched(s, n)) (void)wa_sender_handle(s->snd, n);
}

static void route_other(struct wa_session *s, const struct wa_node *n)
{
    wa_batch_flush(s->batch);
    const char *type = wa_node_attr(n, "type");
    if (s->ev.media_retry && wa_nb_is(n, "notification") && type && !strcmp(type, "mediaretry"))
        s->ev.media_retry(s->ev.ud, n);
    to_receiver(s, n);
}

static const struct route {
    const char *tag;
    void (*fn)(struct wa_session *s, const struct wa_node *n);
} routes[] = {
    {"message", route_message},    {"receipt", route_receipt}, {"ack", route_ack},
    {"notification", route_other}, {"call", route_other},
};

static void on_node(void *ud, const struct wa_node *n)
{
    struct wa_session *s = ud;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (wa_nb_is(n, routes[i].tag)) {
            routes[i].fn(s, n);
            return;
        }
}

static void on_connected(void *ud)
{
    struct wa_session *s = ud;
    wa_sender_kick(s->snd);
}

static void on_ended(void *ud)
{
    struct wa_session *s = ud;
    wa_batch_drop(s->batch); /* not acked: the server redelivers them */
    wa_sender_disconnected(s->snd);
}

/* ---------------------------------------------------------------- lifecycle */

static int make_parts(struct wa_session *s, const struct wa_session_opts *o)
{
    struct wa_recv_env re = {.client = o->client,
                             .db = o->db,
                             .sg = o->sg,
                             .creds = o->creds,
                             .on_message = ev_message,
                             .on_receipt = ev_receipt,
                             .on_retry_receipt = on_retry_receipt,
                             .on_undecryptable = ev_undecryptable,
                             .on_store_failing = ev_store_failing,
                             .retry_gap_ms = o->retry_gap_ms,
                             .retry_wait_ms = o->retry_wait_ms,
                             .store_peers = o->store_peers,
                             .store_window_ms = o->store_window_ms,
                             .phone_delay_ms = o->phone_delay_ms,
                             .ud = s};
    struct wa_sender_env se = {.client = o->client,
                               .db = o->db,
                               .sg = o->sg,
                               .creds = o->creds,
                               .on_state = ev_state,
                               .wake = on_wake,
                               .ud = s};
    int rc = wa_receiver_new(&re, &s->rcv);
    if (rc == 0) rc = wa_sender_new(&se, &s->snd);
    if (rc == 0 && o->batch)
        rc = wa_batch_new(wa_client_loop(o->client), flush_batch, s, &s->batch);
    wa_batch_set_delay(s->batch, o->commit_window_ms);
    return rc;
}

static void on_wake_closed(uv_handle_t *h)
{
    free(h->data);
}

int wa_session_new(const struct wa_session_opts *o, const struct wa_session_events *ev,
                   struct wa_session **out)
{
    *out = NULL;
    if (!o || !o->client || !o->db || !o->sg || !o->creds) return -EINVAL;
    struct wa_session *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    if (uv_timer_init(wa_client_loop(o->client), &s->wake) < 0) {
        free(s);
        return -ENOMEM;
    }
    uv_unref((uv_handle_t *)&s->wake);
    s->wake.data = s;
    s->client = o->client;
    if (ev) s->ev = *ev;
    int rc = make_parts(s, o);
    if (rc < 0) {
        wa_session_free(s);
        return rc;
    }
    struct wa_client_sink sink = {
        .node = on_node, .connected = on_connected, .ended = on_ended, .ud = s};
    wa_client_set_sink(o->client, &sink);
    *out = s;
    return 0;
}

void wa_session_free(struct wa_session *s)
{
    if (!s) return;
    if (s->client) wa_client_set_sink(s->client, NULL);
    wa_batch_free(s->batch);
    wa_sender_free(s->snd);
    wa_receiver_free(s->rcv);
    uv_close((uv_handle_t *)&s->wake, on_wake_closed);
}

void wa_session_mute(struct wa_session *s)
{
    if (s) s->ev = (struct wa_session_events){0};
}

int wa_session_send(struct wa_session *s, const struct wa_outmsg *m, struct st_outbox_msg *out,
                    char *err, size_t errlen)
{
    bool deferred;
    return wa_session_send_deferred(s, m, out, NULL, NULL, &deferred, err, errlen);
}

int wa_session_settle(struct wa_session *s)
{
    return s ? wa_sender_settle(s->snd) : 0;
}

int wa_session_send_deferred(struct wa_session *s, const struct wa_outmsg *m,
                             struct st_outbox_msg *out, wa_sender_done_fn done, void *arg,
                             bool *deferred, char *err, size_t errlen)
{
    int r = wa_sender_enqueue_deferred(s->snd, m, out, done, arg, deferred);
    if (r < 0) {
        const char *why = wa_sender_last_error(s->snd);
        snprintf(err, errlen, "%s", why[0] ? why : strerror(-r));
        return r;
    }
    wa_sender_kick(s->snd);
    return r;
}

void wa_session_kick(struct wa_session *s)
{
    if (s) wa_sender_kick(s->snd);
}

void wa_session_stats(const struct wa_session *s, struct wa_recv_stats *out)
{
    wa_recv_get_stats(s->rcv, out);
}

int wa_session_chatstate(struct wa_session *s, const char *to, const char *state, char *err,
                         size_t errlen)
{
    char chat[ST_CHAT_MAX + 1];
    struct wa_jid j;
    int rc = wa_send_normalize_to(to, chat, sizeof chat, err, errlen);
    if (rc < 0) return rc;
    if (wa_jid_parse(&j, chat, strlen(chat)) < 0) return -EINVAL;
    struct wa_node *n = wa_send_build_chatstate(&j, state);
    if (!n) {
        snprintf(err, errlen, "state must be \"composing\", \"recording\" or \"paused\"");
        return -EINVAL;
    }
    rc = wa_client_send_node(s->client, n);
    wa_node_free(n);
    if (rc < 0) snprintf(err, errlen, "%s", rc == -ENOTCONN ? "not connected" : strerror(-rc));
    return rc;
}

int wa_session_mark_read(struct wa_session *s, const char *chat, const char *sender, const char *id)
{
    struct wa_jid c, p;
    if (!chat || !id || !*id || wa_jid_parse(&c, chat, strlen(chat)) < 0) return -EINVAL;
    bool part =
        wa_jid_is_group(&c) && sender && *sender && wa_jid_parse(&p, sender, strlen(sender)) == 0;
    struct wa_node *n = wa_send_build_read(id, &c, part ? &p : NULL, (int64_t)time(NULL));
    if (!n) return -ENOMEM;
    int rc = wa_client_send_node(s->client, n);
    wa_node_free(n);
    return rc;
}
