/* SPDX-License-Identifier: MIT */
/* send.c -- the sender: outbox pipeline, usync, bundles, per-device encryption, group commit. */
#include "wa/send_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "store/sgstore.h"
#include "wa/nodeb.h"

int snd_send_frame(struct wa_sender *s, const struct wa_node *n)
{
    if (s->hook) return s->hook(s->hook_ud, n);
    return wa_client_send_node(s->env.client, n);
}

void wa_sender_set_send_hook(struct wa_sender *s, wa_sender_send_fn fn, void *ud)
{
    s->hook = fn;
    s->hook_ud = ud;
}

void snd_seterr(struct wa_sender *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static bool connected(const struct wa_sender *s)
{
    return wa_client_state(s->env.client) == WA_CS_CONNECTED;
}

/* Refresh our own identity from the creds (they may be filled in by pairing later). */
int snd_load_me(struct wa_sender *s)
{
    struct wa_jid j;
    const struct wa_creds *c = s->env.creds;
    if (!c->me_pn[0] || wa_jid_parse(&j, c->me_pn, strlen(c->me_pn)) < 0) return -EINVAL;
    snprintf(s->me_user, sizeof(s->me_user), "%s", j.user);
    s->me_dev = j.device;
    s->me_lid[0] = 0;
    if (c->me_lid[0] && wa_jid_parse(&j, c->me_lid, strlen(c->me_lid)) == 0)
        snprintf(s->me_lid, sizeof(s->me_lid), "%s", j.user);
    return 0;
}

/* ---- counters (attempts per row, answers per retried message+device) ---- */

int *snd_counter(struct counter **vp, unsigned *next, const char *key)
{
    static int spare; /* no memory for the table: a count that starts over each time */
    if (!*vp && !(*vp = calloc(COUNTERS, sizeof(**vp)))) {
        spare = 0;
        return &spare;
    }
    struct counter *v = *vp;
    for (size_t i = 0; i < COUNTERS; i++)
        if (v[i].key[0] && strcmp(v[i].key, key) == 0) return &v[i].n;
    struct counter *c = &v[*next % COUNTERS];
    (*next)++;
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->n = 0;
    return &c->n;
}

/* ---- notifications (delivered from async contexts only) ---- */

static void flush_notes(struct wa_sender *s);

static void note(struct wa_sender *s, const char *msg_id, enum st_out_state st, const char *error)
{
    struct note *v = realloc(s->notes, (s->nnotes + 1) * sizeof(*v));
    if (!v) return;
    s->notes = v;
    v[s->nnotes].msg_id = strdup(msg_id);
    v[s->nnotes].error = error ? strdup(error) : NULL;
    v[s->nnotes].state = st;
    if (v[s->nnotes].msg_id) s->nnotes++;
    if (s->env.wake) s->env.wake(s->env.ud);
}

void wa_sender_flush_notes(struct wa_sender *s)
{
    if (s->grp) return; /* a group's notes wait for its end (a rollback drops them) */
    flush_notes(s);
}

static void flush_notes(struct wa_sender *s)
{
    while (s->nnotes) {
        struct note *v = s->notes;
        size_t n = s->nnotes;
        s->notes = NULL;
        s->nnotes = 0;
        for (size_t i = 0; i < n; i++) {
            if (s->env.on_state) s->env.on_state(s->env.ud, v[i].msg_id, v[i].state, v[i].error);
            free(v[i].msg_id);
            free(v[i].error);
        }
        free(v);
    }
}

/* ---- ops (iq callbacks) ---- */

static void pump(struct wa_sender *s);
static void call_waiters(struct wa_sender *s, int rc);
static void op_cb(void *ud, int status, const struct wa_node *resp);

int snd_send_iq(struct wa_sender *s, struct wa_node *iq, enum op_kind kind, struct retry_req *rr)
{
    struct op *op = calloc(1, sizeof(*op));
    if (!op) {
        wa_node_free(iq);
        return -ENOMEM;
    }
    op->s = s;
    op->kind = kind;
    op->jobseq = s->jobseq;
    op->rr = rr;
    int rc = wa_client_send_iq(s->env.client, iq, WA_SEND_IQ_TIMEOUT_MS, op_cb, op);
    wa_node_free(iq);
    if (rc < 0) {
        free(op);
        return rc;
    }
    op->next = s->ops;
    s->ops = op;
    return 0;
}

static void op_unlink(struct wa_sender *s, struct op *op)
{
    for (struct op **p = &s->ops; *p; p = &(*p)->next)
        if (*p == op) {
            *p = op->next;
            return;
        }
}

static struct wa_node *new_iq(struct wa_sender *s, const char *xmlns, const struct wa_jid *to)
{
    struct wa_node *iq = wa_node_new("iq");
    char id[40];
    struct wa_jid srv;
    wa_client_new_id(s->env.client, id, sizeof(id));
    if (!to && wa_jid_set(&srv, "", WA_SERVER_PN) == 0) to = &srv;
    if (!iq || !to || wa_node_set_attr(iq, "id", id) < 0 ||
        wa_node_set_attr_jid(iq, "to", to) < 0 || wa_node_set_attr(iq, "type", "get") < 0 ||
        wa_node_set_attr(iq, "xmlns", xmlns) < 0) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
    if (!j) return;
    st_outbox_msg_free(&j->row);
    free(j->users);
    free(j->t);
    free(j);
}

static void job_end(struct wa_sender *s)
{
    job_free(s->job);
    s->job = NULL;
    s->jobseq++;
}

/* Row `id` (to `to`, NULL when unknown) could not be sent. permanent: failed at once, the
 * queue goes on. rc -ENOTCONN: just wait for the next session. Else a transient failure:
 * the rows to `to` wait out a backoff (sendq.c) while the others go on; WA_SEND_MAX_ATTEMPTS
 * of them fail the row. */
static void row_fail(struct wa_sender *s, const char *id, const char *to, int rc, bool permanent)
{
    if (rc != -ENOTCONN) {
        int *n = snd_counter(&s->attempts, &s->attempts_next, id);
        if (permanent || ++*n >= WA_SEND_MAX_ATTEMPTS) {
            char e[WA_SEND_ERR_MAX];
            snprintf(e, sizeof(e), "%s", s->err);
            if (st_outbox_set_state(s->env.db, id, ST_OUT_FAILED, e) == 0)
                note(s, id, ST_OUT_FAILED, e);
            *n = 0;
            return;
        }
        if (to && to[0]) {
            (void)snd_backoff_fail(s, to);
            return;
        }
    }
    s->stalled = true; /* retried on the next kick */
}

/* The current row could not be sent (see row_fail); the job ends. */
static void job_fail(struct wa_sender *s, int rc, bool permanent)
{
    row_fail(s, s->job->row.msg_id, s->job->row.to, rc, permanent);
    job_end(s);
}

static int add_user(struct job *j, const char *u)
{
    for (size_t i = 0; i < j->nusers; i++)
        if (strcmp(j->users[i], u) == 0) return 0;
    if (j->nusers >= WA_USYNC_MAX_USERS || strlen(u) >= WA_USYNC_USER_MAX) return -E2BIG;
    void *v = realloc(j->users, (j->nusers + 1) * sizeof(*j->users));
    if (!v) return -ENOMEM;
    j->users = v;
    snprintf(j->users[j->nusers++], WA_USYNC_USER_MAX, "%s", u);
    return 0;
}

static int step_devices(struct wa_sender *s);
static int step_keys(struct wa_sender *s);
static int step_encrypt(struct wa_sender *s);

/* The 1:1 job's number has no device: failed at once, the queue goes on. */
static void not_on_whatsapp(struct wa_sender *s)
{
    snd_seterr(s, "not on WhatsApp: the server lists no device for +%s", s->job->chat.user);
    job_fail(s, -ENXIO, true);
}

/* Start the oldest queued row not in flight: 1 async, 2 finished at once, 0 nothing, <0 error */
static int start_next(struct wa_sender *s)
{
    struct st_outbox_msg *v = NULL;
    size_t n = 0;
    int64_t now = snd_now_ms();
    /* rows to a recipient in backoff are looked past (up to SND_SKIP_MAX of them) */
    size_t limit = s->ninflight + 1 + (snd_backoff_any(s, now) ? SND_SKIP_MAX : 0);
    int rc = st_outbox_list_queued(s->env.db, limit, &v, &n);
    if (rc < 0) {
        snd_seterr(s, "outbox: %s", st_db_last_error(s->env.db));
        return rc;
    }
    size_t pick = n;
    for (size_t i = 0; i < n && pick == n; i++) {
        bool fl = snd_backoff_blocked(s, v[i].to, now);
        for (size_t k = 0; k < s->ninflight && !fl; k++)
            fl |= strcmp(s->inflight[k], v[i].msg_id) == 0;
        if (!fl) pick = i;
    }
    if (pick == n) {
        st_outbox_list_free(v, n);
        return 0;
    }
    struct job *j = calloc(1, sizeof(*j));
    if (!j) {
        st_outbox_list_free(v, n);
        return -ENOMEM;
    }
    j->row = v[pick];
    memset(&v[pick], 0, sizeof(v[pick]));
    st_outbox_list_free(v, n);
    s->job = j;
    s->jobseq++;
    if (snd_load_me(s) < 0 || wa_jid_parse(&j->chat, j->row.to, strlen(j->row.to)) < 0) {
        snd_seterr(s, "%s: bad destination or not paired", j->row.msg_id);
        job_fail(s, -EINVAL, true);
        return 2;
    }
    wa_jid_format_bare(&j->chat, j->chat_str, sizeof(j->chat_str));
    j->group = wa_jid_is_group(&j->chat);
    if (j->group) {
        struct wa_node *iq = new_iq(s, "w:g2", &j->chat);
        struct wa_node *q = iq ? wa_nb_child(iq, "query") : NULL;
        if (!q || wa_node_set_attr(q, "request", "interactive") < 0) {
            wa_node_free(iq);
            return -ENOMEM;
        }
        return snd_send_iq(s, iq, OP_GROUP, NULL) < 0 ? -ENOTCONN : 1;
    }
    if (wa_usync_cache_absent(s->cache, j->chat.user, mono_now())) {
        not_on_whatsapp(s);
        return 2;
    }
    if (add_user(j, s->me_user) < 0 || add_user(j, j->chat.user) < 0) return -ENOMEM;
    return step_devices(s);
}

static int on_group(struct wa_sender *s, const struct wa_node *resp)
{
    struct job *j = s->job;
    const struct wa_node *g = wa_node_child(resp, "group");
    if (!g) {
        snd_seterr(s, "%s: group %s: no <group> in the answer", j->row.msg_id, j->chat_str);
        return -EPROTO;
    }
    int rc = add_user(j, s->me_user);
    for (const struct wa_node *p = wa_node_next_child(g, "participant", NULL); rc == 0 && p;
         p = wa_node_next_child(g, "participant", p)) {
        struct wa_jid pj;
        char pn[WA_USYNC_USER_MAX];
        if (wa_node_attr_jid(p, "jid", &pj) < 0) continue;
        if (wa_jid_is_pn(&pj))
            rc = add_user(j, pj.user);
        else if (wa_jid_is_lid(&pj) && st_lid_get_pn(s->env.db, pj.user, pn, sizeof(pn)) == 1)
            rc = add_user(j, pn);
    }
    if (rc == -E2BIG) rc = 0; /* more than WA_SEND_GROUP_MAX: the rest is ignored */
    return rc < 0 ? rc : step_devices(s);
}

/* Missing device lists -> one usync iq; else go on with the keys. */
static int step_devices(struct wa_sender *s)
{
    struct job *j = s->job;
    int64_t now = mono_now();
    const char **miss = calloc(j->nusers, sizeof(*miss));
    size_t nm = 0;
    if (!miss) return -ENOMEM;
    for (size_t i = 0; i < j->nusers; i++)
        if (!wa_usync_cache_get(s->cache, j->users[i], now)) miss[nm++] = j->users[i];
    if (nm == 0) {
        free(miss);
        return step_keys(s);
    }
    char id[40];
    wa_client_new_id(s->env.client, id, sizeof(id));
    struct wa_node *iq = wa_usync_build(id, miss, nm);
    free(miss);
    if (!iq) return -ENOMEM;
    return snd_send_iq(s, iq, OP_USYNC, NULL) < 0 ? -ENOTCONN : 1;
}

static int on_usync(struct wa_sender *s, const struct wa_node *resp)
{
    size_t n = 0;
    struct wa_usync_user *u = calloc(WA_USYNC_MAX_USERS, sizeof(*u));
    if (!u) return -ENOMEM;
    int rc = wa_usync_parse(resp, u, WA_USYNC_MAX_USERS, &n);
    int64_t now = mono_now();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (u[i].ndev) /* not cached without devices: a failure must come from an iq */
            wa_usync_cache_put(s->cache, &u[i], now);
        if (u[i].lid[0] && st_lid_put(s->env.db, u[i].lid, u[i].pn) < 0)
            snd_seterr(s, "lid map: %s", st_db_last_error(s->env.db)); /* not fatal */
    }
    bool listed = false;
    for (size_t i = 0; rc == 0 && i < n; i++)
        listed |= u[i].ndev > 0 && strcmp(u[i].pn, s->job->chat.user) == 0;
    free(u);
    if (rc < 0) {
        snd_seterr(s, "%s: unparseable usync answer", s->job->row.msg_id);
        return rc;
    }
    if (!s->job->group && !listed) { /* decided here, and remembered for the next enqueue */
        wa_usync_cache_put_absent(s->cache, s->job->chat.user, now);
        not_on_whatsapp(s);
        return 0;
    }
    return step_keys(s);
}

static int build_targets(struct wa_sender *s)
{
    struct job *j = s->job;
    int64_t now = mono_now();
    size_t cap = 0;
    for (size_t i = 0; i < j->nusers; i++) {
        const struct wa_usync_user *u = wa_usync_cache_get(s->cache, j->users[i], now);
        cap += u ? u->ndev : 0;
    }
    if (cap > WA_SEND_MAX_TARGETS) cap = WA_SEND_MAX_TARGETS;
    free(j->t);
    j->nt = 0;
    j->t = calloc(cap ? cap : 1, sizeof(*j->t));
    if (!j->t) return -ENOMEM;
    for (size_t i = 0; i < j->nusers; i++) {
        const struct wa_usync_user *u = wa_usync_cache_get(s->cache, j->users[i], now);
        /* our other devices get the DSM copy, except in a chat with ourselves */
        bool own = !strcmp(j->users[i], s->me_user) && strcmp(j->chat.user, s->me_user) != 0;
        for (size_t d = 0; u && d < u->ndev && j->nt < cap; d++) {
            if (own && u->dev[d] == s->me_dev) continue;
            if (snd_target_make(&j->t[j->nt], u->pn, u->lid, u->dev[d], own) == 0) j->nt++;
        }
    }
    return 0;
}

struct wa_node *snd_keys_iq(struct wa_sender *s, struct target *t, size_t n, bool only_missing)
{
    struct wa_node *iq = new_iq(s, "encrypt", NULL);
    struct wa_node *key = iq ? wa_nb_child(iq, "key") : NULL;
    bool ok = key != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (only_missing && t[i].bundle) continue;
        struct wa_node *u = wa_nb_child(key, "user");
        ok = u && wa_node_set_attr_jid(u, "jid", &t[i].keyjid) == 0;
    }
    if (!ok) {
        wa_node_free(iq);
        return NULL;
    }
    return iq;
}

/* Devices without a session -> one `encrypt get` for all; else encrypt. */
static int step_keys(struct wa_sender *s)
{
    struct job *j = s->job;
    int rc = build_targets(s);
    if (rc < 0) return rc;
    size_t need = 0;
    for (size_t i = 0; i < j->nt; i++) {
        rc = sg_has_session(s->env.sg, &j->t[i].addr);
        if (rc < 0) {
            snd_seterr(s, "session lookup: %s", sg_ctx_last_error(s->env.sg));
            return rc;
        }
        j->t[i].bundle = rc == 1 ? 2 : 0; /* 2: has a session */
        need += rc == 0;
    }
    if (need == 0) return step_encrypt(s);
    struct wa_node *iq = snd_keys_iq(s, j->t, j->nt, true);
    if (!iq) return -ENOMEM;
    return snd_send_iq(s, iq, OP_KEYS, NULL) < 0 ? -ENOTCONN : 1;
}

static int mark_inflight(struct wa_sender *s)
{
    struct job *j = s->job;
    if (s->ninflight >= WA_SEND_INFLIGHT_MAX) return -ENOSPC;
    snprintf(s->inflight[s->ninflight], sizeof(s->inflight[0]), "%s", j->row.msg_id);
    snprintf(s->inflight_group[s->ninflight], sizeof(s->inflight_group[0]), "%s",
             j->group ? j->chat_str : "");
    s->ninflight++;
    return 0;
}

/* A unit of work: its own transaction, or a savepoint inside the open group. */
static int unit_begin(struct wa_sender *s)
{
    return s->grp ? st_db_savepoint(s->env.db) : st_db_begin(s->env.db);
}

static int unit_end(struct wa_sender *s, int rc)
{
    if (rc == 0) return s->grp ? st_db_release(s->env.db) : st_db_commit(s->env.db);
    if (s->grp)
        st_db_rollback_to(s->env.db);
    else
        st_db_rollback(s->env.db);
    return rc;
}

/* The frame of an encrypted row: written now, or held until the group's COMMIT. */
static int emit(struct wa_sender *s, struct wa_node **m)
{
    struct job *j = s->job;
    if (s->grp) {
        int rc = mark_inflight(s);
        if (rc == 0) {
            s->held[s->nheld++] = *m;
            *m = NULL;
        }
        return rc;
    }
    int rc = snd_send_frame(s, *m);
    if (rc < 0) snd_seterr(s, "%s: write: %d", j->row.msg_id, rc);
    /* committed but not written: the devices did not get the SKDM after all */
    if (rc < 0 && j->group) st_sg_skmem_clear(s->env.db, j->chat_str);
    return rc == 0 ? mark_inflight(s) : rc;
}

/* BEGIN (or SAVEPOINT); sessions; encrypt; COMMIT (or RELEASE); then the frame (emit). */
static int step_encrypt(struct wa_sender *s)
{
    struct job *j = s->job;
    struct encout e = {0};
    s->err[0] = 0;
    buf_init(&e.ct, 0);
    buf_init(&e.sk, SG_MAX_MESSAGE);
    buf_init(&e.skdm, SG_MAX_MESSAGE);
    buf_init(&e.skdmsg, SG_MAX_MESSAGE);
    e.parts = calloc(j->nt + 1, sizeof(*e.parts));
    e.off = calloc(j->nt + 1, sizeof(*e.off));
    int rc = e.parts && e.off ? unit_begin(s) : -ENOMEM;
    if (rc == 0) {
        rc = snd_build_sessions(s);
        if (rc == 0) rc = j->group ? snd_enc_group(s, &e) : snd_enc_direct(s, &e);
        rc = unit_end(s, rc);
        if (rc < 0 && !s->err[0]) snd_seterr(s, "store: %s", st_db_last_error(s->env.db));
    }
    struct wa_node *m = NULL;
    if (rc == 0) {
        for (size_t i = 0; i < e.n; i++) {
            e.parts[i].ct = e.ct.data + e.off[i];
            e.parts[i].len = (i + 1 < e.n ? e.off[i + 1] : e.ct.len) - e.off[i];
        }
        m = wa_send_build_stanza(j->row.msg_id, &j->chat, e.parts, e.n, j->group ? e.sk.data : NULL,
                                 e.sk.len, s->env.creds->account, s->env.creds->account_len);
        if (m && wa_send_set_kind_attrs(m, j->row.payload, j->row.payload_len) < 0) {
            wa_node_free(m);
            m = NULL;
        }
        rc = m ? emit(s, &m) : -ENOMEM;
    }
    wa_node_free(m);
    snd_encout_free(&e);
    if (rc < 0) {
        bool perm = rc == -ENXIO;
        job_fail(s, rc == -ENOTCONN ? -ENOTCONN : rc, perm);
        return 2;
    }
    snd_backoff_clear(s, j->row.to); /* its frame is out: the recipient works again */
    job_end(s);
    return 2;
}

static int op_step(struct wa_sender *s, struct op *op, const struct wa_node *resp)
{
    switch (op->kind) {
    case OP_GROUP:
        return on_group(s, resp);
    case OP_USYNC:
        return on_usync(s, resp);
    case OP_KEYS:
        snd_take_bundles(resp, s->job->t, s->job->nt);
        return step_encrypt(s);
    default:
        return -EINVAL;
    }
}

/* ---- group commit ---- */

static int inflight_find(struct wa_sender *s, const char *id)
{
    for (size_t i = 0; i < s->ninflight; i++)
        if (strcmp(s->inflight[i], id) == 0) return (int)i;
    return -1;
}

static void inflight_remove(struct wa_sender *s, int i)
{
    s->ninflight--;
    if ((size_t)i != s->ninflight) {
        memcpy(s->inflight[i], s->inflight[s->ninflight], sizeof(s->inflight[0]));
        memcpy(s->inflight_group[i], s->inflight_group[s->ninflight], sizeof(s->inflight_group[0]));
    }
}

static void drop_notes(struct wa_sender *s, size_t keep)
{
    while (s->nnotes > keep) {
        s->nnotes--;
        free(s->notes[s->nnotes].msg_id);
        free(s->notes[s->nnotes].error);
    }
}

/* Open a group: one transaction for everything until group_close (acks' states, every row
 * pump encrypts). false: not opened (a transaction is already open, or BEGIN failed): the
 * work then runs one transaction per unit, as without a group. */
static bool group_open(struct wa_sender *s)
{
    if (s->grp || st_db_in_txn(s->env.db) || st_db_begin(s->env.db) < 0) return false;
    s->grp = true;
    s->grp_notes = s->nnotes;
    return true;
}

/* The group's transaction ended: rc 0 committed (the held frames are written now), else
 * rolled back or a failed COMMIT (they are forgotten: their rows are still `queued` in the
 * store, and the sender pauses until the next kick). */
static void group_finish(struct wa_sender *s, int rc)
{
    s->grp = false;
    for (size_t i = 0; i < s->nheld; i++) {
        struct wa_node *m = s->held[i];
        const char *id = wa_node_attr(m, "id");
        int k = inflight_find(s, id ? id : "");
        int w = rc == 0 ? snd_send_frame(s, m) : rc;
        if (w < 0 && k >= 0) {
            /* not written: devices did not get the SKDM after all */
            if (rc == 0 && s->inflight_group[k][0])
                st_sg_skmem_clear(s->env.db, s->inflight_group[k]);
            if (rc == 0) {
                snd_seterr(s, "%s: write: %d", id, w);
                row_fail(s, id, NULL, w, false);
            }
            inflight_remove(s, k);
        }
        wa_node_free(m);
    }
    s->nheld = 0;
    if (rc < 0) {
        drop_notes(s, s->grp_notes);
        s->stalled = true;
    }
}

/* COMMIT the group (ok) or roll it back, then group_finish. 0 or the COMMIT's error. */
static int group_close(struct wa_sender *s, bool ok)
{
    int rc = -ECANCELED;
    if (ok) {
        rc = st_db_commit(s->env.db);
        if (rc < 0) snd_seterr(s, "store: commit: %s", st_db_last_error(s->env.db));
    } else {
        st_db_rollback(s->env.db);
    }
    group_finish(s, rc);
    return rc == -ECANCELED ? 0 : rc;
}

/* pump() inside a group when there can be work (one COMMIT for every row it encrypts). */
static void pump_group(struct wa_sender *s)
{
    bool g = !s->grp && !s->job && !s->stalled && connected(s) &&
             s->ninflight < WA_SEND_INFLIGHT_MAX && group_open(s);
    pump(s);
    if (g) (void)group_close(s, true);
}

static void op_cb(void *ud, int status, const struct wa_node *resp)
{
    struct op *op = ud;
    struct wa_sender *s = op->s;
    if (!s) { /* the sender was freed */
        if (op->rr) free(op->rr->payload);
        free(op->rr);
        free(op);
        return;
    }
    op_unlink(s, op);
    if (op->kind == OP_RETRY_KEYS) {
        snd_retry_keys_done(s, op->rr, status, resp);
    } else if (s->job && op->jobseq == s->jobseq) {
        bool g = group_open(s); /* this row and the ones pump finds ready: one COMMIT */
        int rc = status;
        bool perm = false;
        if (status == 0) rc = op_step(s, op, resp);
        if (status == -EREMOTEIO) {
            char why[160];
            enum wa_send_step st = op->kind == OP_GROUP   ? WA_SEND_STEP_GROUP
                                   : op->kind == OP_USYNC ? WA_SEND_STEP_USYNC
                                                          : WA_SEND_STEP_KEYS;
            perm = wa_send_iq_error(resp, st, why, sizeof(why));
            if (perm) /* the reason the row fails with, as the API shows it */
                snd_seterr(s, "%s: %s", why, s->job->chat_str);
            else
                snd_seterr(s, "%s: %s", s->job->row.msg_id, why);
        }
        if (status == -ETIMEDOUT) snd_seterr(s, "%s: iq timed out", s->job->row.msg_id);
        if (rc < 0 && s->job) job_fail(s, rc == -ECANCELED ? -ENOTCONN : rc, perm);
        pump(s);
        if (g) (void)group_close(s, true);
    }
    free(op);
    pump_group(s);
    flush_notes(s);
}

static void pump(struct wa_sender *s)
{
    while (!s->job && !s->stalled && connected(s) && s->ninflight < WA_SEND_INFLIGHT_MAX) {
        int rc = start_next(s);
        if (rc == 1 || rc == 2) continue;
        if (rc < 0 && s->job) job_fail(s, rc, false);
        break;
    }
}

/* ------------------------------------------------------------------ public API */

int wa_sender_new(const struct wa_sender_env *env, struct wa_sender **out)
{
    *out = NULL;
    if (!env || !env->client || !env->db || !env->sg || !env->creds) return -EINVAL;
    struct wa_sender *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    s->env = *env;
    if (wa_usync_cache_new(0, &s->cache) < 0 || snd_timer_init(s) < 0) {
        wa_usync_cache_free(s->cache);
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void wa_sender_free(struct wa_sender *s)
{
    if (!s) return;
    if (s->grp_deferred) { /* the rows are good: keep them; their frames go with the session */
        s->grp_deferred = false;
        st_db_set_pending(s->env.db, NULL, NULL);
        int rc = st_db_commit(s->env.db);
        s->grp = false;
        call_waiters(s, rc);
    }
    free(s->waiters);
    for (struct op *op = s->ops; op; op = op->next)
        op->s = NULL;
    job_free(s->job);
    for (size_t i = 0; i < s->nheld; i++)
        wa_node_free(s->held[i]);
    for (size_t i = 0; i < s->nnotes; i++) {
        free(s->notes[i].msg_id);
        free(s->notes[i].error);
    }
    free(s->notes);
    free(s->attempts);
    free(s->retries);
    free(s->backoff);
    wa_usync_cache_free(s->cache);
    snd_timer_close(s);
    free(s);
}

const char *wa_sender_last_error(const struct wa_sender *s)
{
    return s->err;
}

size_t wa_sender_inflight(const struct wa_sender *s)
{
    return s->ninflight;
}

/* The last usync answers say m's 1:1 number is not on WhatsApp (the reason in s->err). */
static bool known_absent(struct wa_sender *s, const struct wa_outmsg *m)
{
    char chat[ST_CHAT_MAX + 1];
    struct wa_jid j;
    if (!m || wa_send_normalize_to(m->to, chat, sizeof(chat), NULL, 0) < 0 ||
        wa_jid_parse(&j, chat, strlen(chat)) < 0 || wa_jid_is_group(&j) ||
        !wa_usync_cache_absent(s->cache, j.user, mono_now()))
        return false;
    snd_seterr(s, "not on WhatsApp: the server lists no device for +%s", j.user);
    return true;
}

/* ---- deferred group: the sends of one loop iteration share a COMMIT ---- */

static void call_waiters(struct wa_sender *s, int rc)
{
    size_t n = s->nwaiters;
    s->nwaiters = 0;
    for (size_t i = 0; i < n; i++)
        s->waiters[i].fn(s->waiters[i].arg, rc);
}

static int settle_cb(void *ud)
{
    return wa_sender_settle(ud);
}

int wa_sender_settle(struct wa_sender *s)
{
    if (!s || !s->grp_deferred) return 0;
    s->grp_deferred = false;
    st_db_set_pending(s->env.db, NULL, NULL);
    int rc = group_close(s, true);
    if (rc < 0) snd_seterr(s, "enqueue: commit: %s", st_db_last_error(s->env.db));
    call_waiters(s, rc < 0 ? rc : 0);
    return rc;
}

/* The row made and stored inside the open group; a failure undoes only this row (savepoint),
 * or, when the row opened the group, the group. */
static int enqueue_in_group(struct wa_sender *s, const struct wa_outmsg *m, struct wa_outrow *r,
                            struct st_outbox_msg *out, bool joined)
{
    int rc = joined ? st_db_savepoint(s->env.db) : 0;
    if (rc == 0) rc = wa_outrow_store(s->env.db, r, m->idem_key, out);
    if (rc == -EEXIST)
        wa_outrow_conflict(m->idem_key, s->err, sizeof(s->err));
    else if (rc < 0)
        snd_seterr(s, "enqueue: %s", st_db_last_error(s->env.db));
    if (joined) {
        if (rc >= 0 && st_db_release(s->env.db) < 0) rc = -EIO;
        if (rc < 0) st_db_rollback_to(s->env.db);
    }
    return rc;
}

static int enqueue(struct wa_sender *s, const struct wa_outmsg *m, struct st_outbox_msg *out,
                   wa_sender_done_fn done, void *arg, bool *deferred)
{
    bool join = s->grp && s->grp_deferred && s->nwaiters < WA_SEND_WAITERS_MAX;
    /* idle and connected: the row and its encryption share one COMMIT */
    bool idle =
        !s->grp && !s->job && !s->stalled && connected(s) && s->ninflight < WA_SEND_INFLIGHT_MAX;
    bool defer = done && (join || idle);
    if (defer && !s->waiters && !(s->waiters = calloc(WA_SEND_WAITERS_MAX, sizeof(*s->waiters))))
        defer = join = false;
    if (!defer && s->grp_deferred) wa_sender_settle(s); /* this one commits alone */
    *deferred = false;
    s->err[0] = '\0';
    memset(out, 0, sizeof(*out));
    if (known_absent(s, m)) return -ENXIO;
    if (!defer && !idle)
        return wa_outbox_enqueue(s->env.db, s->env.creds, m, out, s->err, sizeof(s->err));
    struct wa_outrow r;
    int rc = wa_outrow_make(&r, m, s->env.creds, s->env.db, s->err, sizeof(s->err));
    if (rc == 0 && !join && !group_open(s)) rc = -EIO;
    if (rc < 0) {
        if (rc == -EIO && !s->err[0]) snd_seterr(s, "enqueue: %s", st_db_last_error(s->env.db));
        wa_outrow_free(&r);
        return rc;
    }
    rc = enqueue_in_group(s, m, &r, out, join);
    wa_outrow_free(&r);
    if (rc == 0) pump(s);
    if (defer && (join || rc >= 0)) { /* the group stays open: this row's COMMIT comes later */
        if (!join) {
            s->grp_deferred = true;
            st_db_set_pending(s->env.db, settle_cb, s);
        }
        if (rc < 0) {
            st_outbox_msg_free(out);
            return rc;
        }
        s->waiters[s->nwaiters++] = (struct waiter){done, arg};
        *deferred = true;
        return rc;
    }
    int c = group_close(s, rc >= 0);
    if (rc >= 0 && c < 0) {
        snd_seterr(s, "enqueue: commit: %s", st_db_last_error(s->env.db));
        rc = c;
    }
    if (rc < 0) st_outbox_msg_free(out);
    return rc;
}

int wa_sender_enqueue(struct wa_sender *s, const struct wa_outmsg *m, struct st_outbox_msg *out)
{
    bool deferred;
    return enqueue(s, m, out, NULL, NULL, &deferred);
}

int wa_sender_enqueue_deferred(struct wa_sender *s, const struct wa_outmsg *m,
                               struct st_outbox_msg *out, wa_sender_done_fn done, void *arg,
                               bool *deferred)
{
    return enqueue(s, m, out, done, arg, deferred);
}

void wa_sender_kick(struct wa_sender *s)
{
    flush_notes(s); /* from earlier operations only */
    s->stalled = false;
    pump_group(s);
}

/* Inside the group (or autocommit when there is none): one <ack class='message'>. */
static int handle_ack(struct wa_sender *s, const struct wa_node *n)
{
    const char *id = wa_node_attr(n, "id"), *error = wa_node_attr(n, "error");
    int i = id ? inflight_find(s, id) : -1;
    if (i < 0) {
        struct st_outbox_msg m;
        if (!id || st_outbox_get(s->env.db, id, &m) < 0) return 0;
        st_outbox_msg_free(&m);
        return 1; /* a late ack or the ack of a retry resend */
    }
    if (s->inflight_group[i][0] && error) st_sg_skmem_clear(s->env.db, s->inflight_group[i]);
    inflight_remove(s, i);
    if (error) { /* the server refused it: stays queued, counts as an attempt */
        struct st_outbox_msg m;
        bool got = st_outbox_get(s->env.db, id, &m) == 0;
        snd_seterr(s, "%s: server ack error %s", id, error);
        row_fail(s, id, got ? m.to : NULL, -EREMOTEIO, false); /* its recipient waits */
        if (got) st_outbox_msg_free(&m);
    } else if (st_outbox_set_state(s->env.db, id, ST_OUT_SENT, NULL) == 0) {
        note(s, id, ST_OUT_SENT, NULL);
    }
    return 1;
}

static bool is_msg_ack(const struct wa_node *n)
{
    const char *cls = n && n->tag.s && !strcmp(n->tag.s, "ack") ? wa_node_attr(n, "class") : NULL;
    return cls && !strcmp(cls, "message");
}

int wa_sender_acks_in_txn(struct wa_sender *s, const struct wa_node *const *acks, size_t n)
{
    if (!s || (!acks && n) || s->grp || !st_db_in_txn(s->env.db)) return -EINVAL;
    s->grp = true;
    s->grp_notes = s->nnotes;
    int handled = 0;
    for (size_t i = 0; i < n; i++)
        if (is_msg_ack(acks[i])) handled += handle_ack(s, acks[i]);
    pump(s);
    return handled;
}

void wa_sender_txn_done(struct wa_sender *s, bool committed)
{
    if (!s || !s->grp) return;
    group_finish(s, committed ? 0 : -ECANCELED);
    flush_notes(s);
}

int wa_sender_handle_acks(struct wa_sender *s, const struct wa_node *const *acks, size_t n)
{
    if (!s || (!acks && n)) return -EINVAL;
    bool g = group_open(s);
    int handled = 0;
    for (size_t i = 0; i < n; i++)
        if (is_msg_ack(acks[i])) handled += handle_ack(s, acks[i]);
    pump(s);
    if (g) (void)group_close(s, true);
    flush_notes(s);
    return handled;
}

int wa_sender_handle(struct wa_sender *s, const struct wa_node *n)
{
    const char *type = wa_node_attr(n, "type");
    if (is_msg_ack(n)) return wa_sender_handle_acks(s, &n, 1);
    int rc = 0;
    if (!strcmp(n->tag.s, "receipt") && type && !strcmp(type, "retry")) rc = snd_handle_retry(s, n);
    flush_notes(s);
    return rc;
}

void wa_sender_disconnected(struct wa_sender *s)
{
    /* the rows are still `queued` in the store: forgetting them here is the requeue; group
     * rows lose their sender-key memory so that the resend carries the SKDM again */
    for (size_t i = 0; i < s->ninflight; i++)
        if (s->inflight_group[i][0]) st_sg_skmem_clear(s->env.db, s->inflight_group[i]);
    s->ninflight = 0;
    for (struct op *op = s->ops; op; op = op->next)
        op->jobseq = (unsigned)-1; /* stale: their callbacks change nothing */
    if (s->job) job_end(s);
    s->stalled = false;
}
