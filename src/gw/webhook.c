/* SPDX-License-Identifier: MIT */
/* webhook.c -- the webhook queue of one account: tap, queue, deliver, retry, dead-letter. */
#include "gw/webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api/events.h"
#include "api/metrics.h"
#include "core/log.h"
#include "gw/json.h"
#include "gw/whsig.h"
#include "gw/whurl.h"
#include "net/httpc.h"
#include "store/db.h"
#include "store/msgstore.h"
#include "store/whstore.h"
#include "wa/inmsg.h"

#define COMP        "webhook"
#define INBOX_PAGE  100
#define MARK_LAG_MS 10000 /* the mark follows the inbox this late when no one wants messages */

struct job {
    struct gw_webhook *w;
    struct job *next;
    struct nhttp *req;
    int64_t id;
    unsigned attempt;
    char delivery_id[ST_WH_ID_MAX + 1];
    char url[ST_WH_URL_MAX + 1];
    char type[65];
};

struct settle_rec {
    int64_t id;
    enum st_wh_state state;
    int64_t next_at;
    char error[200];
};

/* An endpoint's last failed attempt, for the status (keyed by a hash of its URL, so a reload
 * that reorders or changes the endpoints shows no stale error under another URL). */
struct ep_error {
    uint64_t url_hash; /* 0 = none */
    int64_t at_ms;
    char error[160];
};

struct gw_webhook {
    uv_loop_t *loop;
    struct ep_error *eperr; /* CFG_WEBHOOK_MAX entries, allocated at the first failure */
    char account[CFG_ACCOUNT_ID_MAX + 1];
    const struct wg_config *cfg;
    struct api_events *events;
    struct api_events_sub *sub;
    struct api_metrics *metrics;
    struct st_db *db;
    uv_timer_t timer;
    struct job *running;
    cJSON *tapped;              /* array of event objects waiting to be queued */
    struct settle_rec *settles; /* results waiting to be written in one transaction */
    size_t nsettles, capsettles;
    bool inbox_dirty, mark_stale, closing, store_failing;
    int64_t boot_ms; /* this process's tapped events are keyed by it and their seq */
    struct gw_webhook_stats st;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- status, metrics, events ---- */

static const struct {
    const char *name, *help;
    enum api_metric_type type;
} wh_metrics[] = {
    {"wagate_webhook_backlog", "webhook deliveries not yet answered with a 2xx (in flight too)",
     API_METRIC_GAUGE},
    {"wagate_webhook_dead_letters", "webhook deliveries given up (dead-letter rows kept)",
     API_METRIC_GAUGE},
    {"wagate_webhook_deliveries_total", "webhook deliveries answered with a 2xx",
     API_METRIC_COUNTER},
    {"wagate_webhook_failed_attempts_total", "webhook attempts that ended without a 2xx",
     API_METRIC_COUNTER},
};

static void labels(const struct gw_webhook *w, char *l, size_t n)
{
    char acct[80];
    api_metrics_label_escape(w->account, acct, sizeof acct);
    snprintf(l, n, "account=\"%s\"", acct);
}

static void metric_add(struct gw_webhook *w, const char *name, double v)
{
    if (!w->metrics) return;
    char l[120];
    labels(w, l, sizeof l);
    api_metrics_add(w->metrics, name, l, v);
}

static void refresh_counts(struct gw_webhook *w)
{
    size_t p = 0, d = 0;
    if (!w->db || st_wh_counts(w->db, &p, &d) < 0) {
        w->st.backlog = w->st.dead = -1;
        return;
    }
    w->st.backlog = (long long)p;
    w->st.dead = (long long)d;
    if (!w->metrics) return;
    char l[120];
    labels(w, l, sizeof l);
    api_metrics_set(w->metrics, "wagate_webhook_backlog", l, (double)p);
    api_metrics_set(w->metrics, "wagate_webhook_dead_letters", l, (double)d);
}

static void publish(struct gw_webhook *w, const char *type, cJSON *d)
{
    gw_json_make_utf8(d);
    if (w->events && !w->closing)
        api_events_publish(w->events, type, d);
    else
        cJSON_Delete(d);
}

static const struct wg_webhook *endpoint(const struct gw_webhook *w, const char *url)
{
    for (unsigned i = 0; i < w->cfg->webhook_count && i < CFG_WEBHOOK_MAX; i++)
        if (strcmp(w->cfg->webhooks[i].url, url) == 0) return &w->cfg->webhooks[i];
    return NULL;
}

static bool anyone_wants(const struct gw_webhook *w, const char *type)
{
    for (unsigned i = 0; i < w->cfg->webhook_count && i < CFG_WEBHOOK_MAX; i++)
        if (wh_event_match(w->cfg->webhooks[i].events, w->cfg->webhooks[i].n_events, type))
            return true;
    return false;
}

static void on_timer(uv_timer_t *t);

static void kick(struct gw_webhook *w, uint64_t delay)
{
    if (w->closing) return;
    if (uv_is_active((uv_handle_t *)&w->timer) && uv_timer_get_due_in(&w->timer) <= delay) return;
    uv_timer_start(&w->timer, on_timer, delay, 0);
}

/* ---- queueing ---- */

/* The body for one endpoint: {"id","type","ts","account","data"}; data is borrowed. */
static char *make_body(struct gw_webhook *w, const char *id, const char *type, const char *ts,
                       const cJSON *data, int64_t cursor, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "account", w->account);
    cJSON_AddItemToObject(o, "data", cJSON_Duplicate(data, 1));
    char *s = cJSON_PrintUnformatted(o);
    if (s && strlen(s) > w->cfg->webhook_max_body) {
        size_t n = strlen(s);
        free(s);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddBoolToObject(d, "truncated", 1);
        cJSON_AddNumberToObject(d, "bytes", (double)n);
        if (cursor > 0) cJSON_AddNumberToObject(d, "cursor", (double)cursor);
        cJSON_ReplaceItemInObject(o, "data", d);
        s = cJSON_PrintUnformatted(o);
        log_warn(COMP, w->account,
                 "a %s event of %zu bytes is over hooks.webhook.max_body (%u): "
                 "sent truncated",
                 type, n, w->cfg->webhook_max_body);
    }
    cJSON_Delete(o);
    if (s) *len = strlen(s);
    return s;
}

/* Queue one event for every endpoint that wants it (inside the caller's transaction). */
static int queue_event(struct gw_webhook *w, const char *type, const char *key, const char *ts,
                       const cJSON *data, int64_t cursor)
{
    int64_t now = wall_ms();
    for (unsigned i = 0; i < w->cfg->webhook_count && i < CFG_WEBHOOK_MAX; i++) {
        const struct wg_webhook *e = &w->cfg->webhooks[i];
        if (!wh_event_match(e->events, e->n_events, type)) continue;
        char id[WH_ID_LEN + 1];
        size_t len = 0;
        if (wh_delivery_id(w->account, e->url, key, id, sizeof id) < 0) return -EIO;
        char *body = make_body(w, id, type, ts, data, cursor, &len);
        if (!body) return -ENOMEM;
        int r = st_wh_enqueue(w->db, id, e->url, type, (const uint8_t *)body, len, now);
        free(body);
        if (r < 0) return r;
        if (r == 0) w->st.queued++;
    }
    return 0;
}

/* Every inbox row after the mark, in pages, each page in one transaction with the new mark. */
static int queue_inbox(struct gw_webhook *w)
{
    if (!anyone_wants(w, "message.received")) return st_wh_mark_to_end(w->db);
    for (;;) {
        int64_t mark = 0;
        int r = st_wh_mark_get(w->db, &mark);
        if (r < 0) return r;
        struct st_inbox_msg *v = NULL;
        size_t n = 0;
        r = st_inbox_list(w->db, mark, INBOX_PAGE, &v, &n);
        if (r < 0 || n == 0) return r;
        r = st_db_begin(w->db);
        for (size_t i = 0; r == 0 && i < n; i++) {
            struct wa_inmsg m;
            wa_inmsg_from_row(&v[i], &m);
            cJSON *d = gw_inmsg_json(w->account, &m);
            char key[40], ts[32];
            snprintf(key, sizeof key, "inbox:%" PRId64, v[i].cursor);
            api_events_now_iso(ts, sizeof ts);
            if (d) gw_json_make_utf8(d);
            r = d ? queue_event(w, "message.received", key, ts, d, v[i].cursor) : -ENOMEM;
            cJSON_Delete(d);
        }
        if (r == 0) r = st_wh_mark_set(w->db, v[n - 1].cursor);
        if (r == 0)
            r = st_db_commit(w->db);
        else if (st_db_in_txn(w->db))
            st_db_rollback(w->db);
        st_inbox_list_free(v, n);
        if (r < 0) return r;
        if (n < INBOX_PAGE) return 0;
    }
}

static int queue_tapped(struct gw_webhook *w)
{
    int n = cJSON_GetArraySize(w->tapped);
    if (n == 0) return 0;
    int r = st_db_begin(w->db);
    const cJSON *e;
    cJSON_ArrayForEach(e, w->tapped)
    {
        if (r < 0) break;
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
        const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(e, "ts"));
        char key[64];
        snprintf(key, sizeof key, "event:%" PRId64 ":%.0f", w->boot_ms,
                 cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seq")));
        r = queue_event(w, type, key, ts ? ts : "", cJSON_GetObjectItem(e, "data"), 0);
    }
    if (r == 0)
        r = st_db_commit(w->db);
    else if (st_db_in_txn(w->db))
        st_db_rollback(w->db);
    cJSON_Delete(w->tapped);
    w->tapped = cJSON_CreateArray();
    if (r < 0)
        log_warn(COMP, w->account, "%d event(s) not queued for webhooks: %s", n,
                 st_db_last_error(w->db));
    return r;
}

/* The stream's sink, subscribed for this account alone (api/events.h routes by data's
 * "account"): keep the events some endpoint wants (queued on the next iteration). A
 * message.received nobody wants only lets the mark follow the inbox, within MARK_LAG_MS and
 * without parsing the event (the hot path of a gateway without webhooks). */
/* The event's own type is the first "type" key of api/events' rendering
 * ({"seq":N,"ts":"...","type":"...","data":...}): a "type" inside data comes later. */
static bool is_message_received(const char *json, size_t len)
{
    static const char key[] = "\"type\":\"", val[] = "message.received\"";
    const char *p = memmem(json, len, key, sizeof key - 1);
    if (!p) return false;
    p += sizeof key - 1;
    return (size_t)(json + len - p) >= sizeof val - 1 && memcmp(p, val, sizeof val - 1) == 0;
}

static void on_event(void *arg, long long seq, const char *json, size_t len)
{
    struct gw_webhook *w = arg;
    (void)seq;
    if (w->closing) return;
    if (is_message_received(json, len)) {
        if (anyone_wants(w, "message.received")) {
            w->inbox_dirty = true; /* the inbox row is the source: see the header */
            kick(w, 0);
        } else if (!w->mark_stale) {
            w->mark_stale = true;
            kick(w, MARK_LAG_MS);
        }
        return;
    }
    if (w->cfg->webhook_count == 0) return;
    cJSON *e = cJSON_ParseWithLength(json, len);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
    if (type && strncmp(type, "webhook.", 8) != 0 && anyone_wants(w, type)) {
        if (cJSON_GetArraySize(w->tapped) >= GW_WEBHOOK_TAP_MAX) {
            w->st.tap_dropped++;
        } else {
            cJSON_AddItemToArray(w->tapped, e);
            e = NULL;
            kick(w, 0);
        }
    }
    cJSON_Delete(e);
}

/* ---- delivering ---- */

static void unlink_job(struct gw_webhook *w, struct job *j)
{
    for (struct job **p = &w->running; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            w->st.running--;
            return;
        }
}

/* Results are written in one transaction per loop iteration (flush_settles, before the queue is
 * read again): a crash before that only sends the delivery again, under its id. */
static void settle(struct gw_webhook *w, const struct job *j, enum st_wh_state s, int64_t next_at,
                   const char *err)
{
    if (w->nsettles == w->capsettles) {
        size_t cap = w->capsettles ? 2 * w->capsettles : 16;
        struct settle_rec *v = realloc(w->settles, cap * sizeof *v);
        if (!v) {
            if (st_wh_settle(w->db, j->id, s, next_at, err, wall_ms()) < 0) w->store_failing = true;
            return;
        }
        w->settles = v;
        w->capsettles = cap;
    }
    struct settle_rec *r = &w->settles[w->nsettles++];
    r->id = j->id;
    r->state = s;
    r->next_at = next_at;
    snprintf(r->error, sizeof r->error, "%s", err ? err : "");
    kick(w, 0);
}

static int flush_settles(struct gw_webhook *w)
{
    if (w->nsettles == 0) return 0;
    int64_t now = wall_ms();
    int r = st_db_begin(w->db);
    for (size_t i = 0; r == 0 && i < w->nsettles; i++) {
        const struct settle_rec *x = &w->settles[i];
        r = st_wh_settle(w->db, x->id, x->state, x->next_at, x->error, now);
        if (r == -ENOENT) r = 0; /* already settled (e.g. a store switched under it) */
    }
    if (r == 0) r = st_db_commit(w->db);
    if (r < 0) {
        if (st_db_in_txn(w->db)) st_db_rollback(w->db);
        log_warn(COMP, w->account, "%zu delivery results not saved (kept to retry): %s",
                 w->nsettles, st_db_last_error(w->db));
        return r;
    }
    w->nsettles = 0;
    return 0;
}

static uint64_t url_hash(const char *url)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *url; url++)
        h = (h ^ (uint8_t)*url) * 1099511628211ull;
    return h ? h : 1;
}

/* The slot of the endpoint with this URL (its index in the config); NULL when the URL left
 * the config or no memory. */
static struct ep_error *ep_slot(struct gw_webhook *w, const char *url)
{
    if (!w->eperr && !(w->eperr = calloc(CFG_WEBHOOK_MAX, sizeof *w->eperr))) return NULL;
    for (unsigned i = 0; i < w->cfg->webhook_count && i < CFG_WEBHOOK_MAX; i++)
        if (strcmp(w->cfg->webhooks[i].url, url) == 0) return &w->eperr[i];
    return NULL;
}

static void note_error(struct gw_webhook *w, const char *url, const char *why)
{
    char red[160];
    gw_webhook_url_redact(url, red, sizeof red);
    snprintf(w->st.last_error, sizeof w->st.last_error, "%.120s: %.70s", red, why);
    struct ep_error *e = ep_slot(w, url);
    if (!e) return;
    e->url_hash = url_hash(url);
    e->at_ms = wall_ms();
    snprintf(e->error, sizeof e->error, "%s", why);
}

static void failed(struct gw_webhook *w, const struct job *j, const char *why)
{
    w->st.failed_attempts++;
    metric_add(w, "wagate_webhook_failed_attempts_total", 1);
    note_error(w, j->url, why);
    unsigned max = w->cfg->webhook_max_attempts;
    if (j->attempt < max) {
        uint64_t d =
            wh_backoff_ms(w->cfg->webhook_retry_base_ms, w->cfg->webhook_retry_max_ms, j->attempt);
        log_warn(COMP, w->account,
                 "delivery %s (%s) to %s failed (attempt %u of %u): %s; retry in "
                 "%" PRIu64 " ms",
                 j->delivery_id, j->type, j->url, j->attempt, max, why, d);
        settle(w, j, ST_WH_PENDING, wall_ms() + (int64_t)d, why);
        return;
    }
    log_warn(COMP, w->account,
             "delivery %s (%s) to %s given up after %u attempts: %s (dead letter)", j->delivery_id,
             j->type, j->url, j->attempt, why);
    settle(w, j, ST_WH_DEAD, 0, why);
    w->st.dead_lettered++;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", w->account);
    cJSON_AddStringToObject(d, "delivery_id", j->delivery_id);
    cJSON_AddStringToObject(d, "url", j->url);
    cJSON_AddStringToObject(d, "type", j->type);
    cJSON_AddNumberToObject(d, "attempts", j->attempt);
    cJSON_AddStringToObject(d, "error", why);
    publish(w, "webhook.dead_letter", d);
}

static void on_result(void *ud, const struct nhttp_result *r)
{
    struct job *j = ud;
    struct gw_webhook *w = j->w;
    unlink_job(w, j);
    if (w->db) {
        if (r->status >= 200 && r->status < 300) {
            settle(w, j, ST_WH_DONE, 0, NULL);
            w->st.delivered++;
            metric_add(w, "wagate_webhook_deliveries_total", 1);
            log_debug(COMP, w->account, "delivery %s to %s: %s (attempt %u)", j->delivery_id,
                      j->url, r->detail, j->attempt);
        } else {
            failed(w, j, r->detail);
        }
    }
    free(j);
    kick(w, w->store_failing ? 1000 : 0);
    w->store_failing = false;
}

static bool in_flight(const struct gw_webhook *w, int64_t id)
{
    for (const struct job *j = w->running; j; j = j->next)
        if (j->id == id) return true;
    return false;
}

/* Sign and send one due row whose attempt is already recorded (pump). */
static void start(struct gw_webhook *w, const struct st_wh_row *row, int64_t now)
{
    const struct wg_webhook *e = endpoint(w, row->url);
    struct job *j = calloc(1, sizeof *j);
    if (!j) return;
    j->w = w;
    j->id = row->id;
    j->attempt = (unsigned)row->attempts + 1;
    snprintf(j->delivery_id, sizeof j->delivery_id, "%s", row->delivery_id);
    snprintf(j->url, sizeof j->url, "%s", row->url);
    snprintf(j->type, sizeof j->type, "%s", row->type);
    if (!e) { /* pump checked it: the config changed in between is impossible (same tick) */
        free(j);
        return;
    }
    char sig[WH_SIG_LEN + 1], h_id[96], h_ts[48], h_sig[96], h_ev[96], h_att[48];
    int64_t ts = now / 1000;
    if (wh_sign(e->secret, ts, row->body, row->body_len, sig, sizeof sig) < 0) {
        failed(w, j, "signing failed");
        free(j);
        return;
    }
    snprintf(h_id, sizeof h_id, "X-Wagate-Delivery: %s", j->delivery_id);
    snprintf(h_ts, sizeof h_ts, "X-Wagate-Timestamp: %" PRId64, ts);
    snprintf(h_sig, sizeof h_sig, "X-Wagate-Signature: %s", sig);
    snprintf(h_ev, sizeof h_ev, "X-Wagate-Event: %s", j->type);
    snprintf(h_att, sizeof h_att, "X-Wagate-Attempt: %u", j->attempt);
    const char *hdr[] = {h_id, h_ts, h_sig, h_ev, h_att};
    struct nhttp_opts o = {.url = j->url,
                           .headers = hdr,
                           .nheaders = sizeof hdr / sizeof hdr[0],
                           .body = row->body,
                           .body_len = row->body_len,
                           .ca_file = w->cfg->webhook_ca_file[0] ? w->cfg->webhook_ca_file : NULL,
                           .connect_timeout_ms = (int)w->cfg->webhook_connect_timeout_ms,
                           .response_timeout_ms = (int)w->cfg->webhook_response_timeout_ms,
                           .max_response = w->cfg->webhook_max_response};
    char err[160];
    int r = nhttp_post(w->loop, &o, on_result, j, &j->req, err, sizeof err);
    if (r < 0) {
        char why[200];
        snprintf(why, sizeof why, "request not started: %s", err[0] ? err : strerror(-r));
        j->attempt = w->cfg->webhook_max_attempts; /* a bad URL stays bad: dead at once */
        failed(w, j, why);
        free(j);
        return;
    }
    j->next = w->running;
    w->running = j;
    w->st.running++;
}

/* The rows to start now: not in flight, up to the free slots; rows of a URL no longer
 * configured become dead letters here. */
static size_t pick(struct gw_webhook *w, struct st_wh_row *v, size_t n, unsigned slots, size_t *idx)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < slots; i++) {
        if (in_flight(w, v[i].id)) continue;
        if (!endpoint(w, v[i].url)) {
            struct job j = {.id = v[i].id};
            snprintf(j.delivery_id, sizeof j.delivery_id, "%s", v[i].delivery_id);
            log_warn(COMP, w->account, "delivery %s: %s is no longer configured (dead letter)",
                     v[i].delivery_id, v[i].url);
            settle(w, &j, ST_WH_DEAD, 0, "endpoint removed from the config");
            continue;
        }
        idx[k++] = i;
    }
    return k;
}

static void pump(struct gw_webhook *w)
{
    unsigned max = w->cfg->webhook_max_concurrent ? w->cfg->webhook_max_concurrent : 1;
    if (w->st.running >= max) return;
    int64_t now = wall_ms();
    struct st_wh_row *v = NULL;
    size_t n = 0, idx[64];
    if (st_wh_due(w->db, now, max + w->st.running, &v, &n) < 0) {
        log_warn(COMP, w->account, "reading the webhook queue: %s", st_db_last_error(w->db));
        kick(w, 1000);
        return;
    }
    unsigned slots = max - w->st.running;
    size_t k = pick(w, v, n, slots < 64 ? slots : 64, idx);
    /* every attempt is counted before it starts: one transaction for the batch */
    int r = k ? st_db_begin(w->db) : 0;
    for (size_t i = 0; r == 0 && i < k; i++)
        r = st_wh_start(w->db, v[idx[i]].id, now, now);
    if (k && r == 0) r = st_db_commit(w->db);
    if (r < 0) {
        if (st_db_in_txn(w->db)) st_db_rollback(w->db);
        log_warn(COMP, w->account, "webhook attempts not recorded (none sent, retry in 1 s): %s",
                 st_db_last_error(w->db));
        st_wh_rows_free(v, n);
        kick(w, 1000);
        return;
    }
    for (size_t i = 0; i < k; i++)
        start(w, &v[idx[i]], now);
    st_wh_rows_free(v, n);
    int64_t at = 0;
    /* rows due now wait for a free slot (each result kicks); the next retry wakes the timer */
    if (st_wh_next_due(w->db, now, &at) == 1) kick(w, (uint64_t)(at - now));
}

static void on_timer(uv_timer_t *t)
{
    struct gw_webhook *w = t->data;
    if (w->closing || !w->db) return;
    if (st_db_in_txn(w->db)) { /* inside someone's transaction: come back right after */
        kick(w, 5);
        return;
    }
    if (w->mark_stale) {
        w->mark_stale = false;
        if (anyone_wants(w, "message.received")) /* a reload added one: from the mark on */
            w->inbox_dirty = true;
        else if (st_wh_mark_to_end(w->db) < 0)
            log_debug(COMP, w->account, "webhook mark: %s", st_db_last_error(w->db));
    }
    if (w->cfg->webhook_count == 0 && w->nsettles == 0 && !w->running && w->st.backlog <= 0)
        return;                 /* nothing configured, nothing owed */
    if (flush_settles(w) < 0) { /* the queue would send what is done: wait for the disk */
        kick(w, 1000);
        return;
    }
    if (cJSON_GetArraySize(w->tapped) > 0) (void)queue_tapped(w);
    if (w->inbox_dirty) {
        w->inbox_dirty = false;
        if (queue_inbox(w) < 0) {
            log_warn(COMP, w->account, "queueing received messages for webhooks: %s",
                     st_db_last_error(w->db));
            w->inbox_dirty = true;
            kick(w, 1000);
        }
    }
    pump(w);
    refresh_counts(w);
}

/* ---- life cycle ---- */

static void cancel_all(struct gw_webhook *w)
{
    while (w->running) {
        struct job *j = w->running;
        w->running = j->next;
        nhttp_cancel(j->req);
        free(j);
    }
    w->st.running = 0;
}

int gw_webhook_new(uv_loop_t *loop, const struct gw_webhook_opts *o, struct gw_webhook **out)
{
    if (!loop || !o || !o->account || !o->cfg || !out) return -EINVAL;
    struct gw_webhook *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->tapped = cJSON_CreateArray();
    if (!w->tapped) {
        free(w->eperr);
        free(w);
        return -ENOMEM;
    }
    w->loop = loop;
    snprintf(w->account, sizeof w->account, "%s", o->account);
    w->cfg = o->cfg;
    w->events = o->events;
    w->metrics = o->metrics;
    w->boot_ms = wall_ms();
    w->st.backlog = w->st.dead = -1;
    if (w->events) {
        int r = api_events_subscribe_account(w->events, w->account, on_event, w, &w->sub);
        if (r < 0) {
            cJSON_Delete(w->tapped);
            free(w->eperr);
            free(w);
            return r;
        }
    }
    for (size_t i = 0; w->metrics && i < sizeof wh_metrics / sizeof wh_metrics[0]; i++)
        api_metrics_declare(w->metrics, wh_metrics[i].name, wh_metrics[i].help, wh_metrics[i].type);
    metric_add(w, "wagate_webhook_deliveries_total", 0);
    metric_add(w, "wagate_webhook_failed_attempts_total", 0);
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    *out = w;
    return 0;
}

void gw_webhook_set_store(struct gw_webhook *w, struct st_db *db)
{
    if (!w) return;
    cancel_all(w);
    if (w->db && !st_db_in_txn(w->db)) (void)flush_settles(w);
    w->nsettles = 0; /* results of another store (or lost to its failure: sent again) */
    if (w->db && !db && !w->closing && !anyone_wants(w, "message.received") && !st_db_in_txn(w->db))
        if (st_wh_mark_to_end(w->db) < 0) /* nothing owed: the mark follows the inbox */
            log_debug(COMP, w->account, "webhook mark: %s", st_db_last_error(w->db));
    w->db = db;
    w->inbox_dirty = db != NULL;
    if (!db) {
        w->st.backlog = w->st.dead = -1;
        return;
    }
    refresh_counts(w);
    if (w->st.backlog > 0 || w->st.dead > 0)
        log_info(COMP, w->account, "webhook queue: %lld pending, %lld dead letters", w->st.backlog,
                 w->st.dead);
    kick(w, 0);
}

int gw_webhook_retry_dead(struct gw_webhook *w)
{
    if (!w || !w->db) return -ENOTCONN;
    if (st_db_in_txn(w->db)) return -EBUSY;
    int n = st_wh_requeue_dead(w->db, wall_ms());
    if (n < 0) return n;
    log_info(COMP, w->account, "%d dead letter(s) queued again (operator retry)", n);
    refresh_counts(w);
    kick(w, 0);
    return n;
}

void gw_webhook_detach_api(struct gw_webhook *w)
{
    if (!w) return;
    if (w->events && w->sub) api_events_unsubscribe(w->events, w->sub);
    w->sub = NULL;
    w->events = NULL;
    w->metrics = NULL;
}

static void on_closed(uv_handle_t *h)
{
    struct gw_webhook *w = h->data;
    cJSON_Delete(w->tapped);
    free(w->settles);
    free(w->eperr);
    free(w);
}

void gw_webhook_close(struct gw_webhook *w)
{
    if (!w || w->closing) return;
    gw_webhook_set_store(w, NULL);
    gw_webhook_detach_api(w);
    w->closing = true;
    cancel_all(w);
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_closed);
}

void gw_webhook_get_stats(const struct gw_webhook *w, struct gw_webhook_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!w) {
        out->backlog = out->dead = -1;
        return;
    }
    *out = w->st;
    out->endpoints = w->cfg->webhook_count;
}

cJSON *gw_webhook_endpoints_json(const struct gw_webhook *w)
{
    if (!w || !w->cfg->webhook_count) return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (unsigned i = 0; arr && i < w->cfg->webhook_count && i < CFG_WEBHOOK_MAX; i++) {
        const struct wg_webhook *c = &w->cfg->webhooks[i];
        cJSON *o = cJSON_CreateObject();
        char red[CFG_WEBHOOK_URL_MAX];
        gw_webhook_url_redact(c->url, red, sizeof red);
        cJSON_AddStringToObject(o, "url", red);
        cJSON *ev = cJSON_AddArrayToObject(o, "events");
        for (unsigned k = 0; k < c->n_events; k++)
            cJSON_AddItemToArray(ev, cJSON_CreateString(c->events[k]));
        size_t p = 0, d = 0;
        if (w->db && st_wh_counts_url(w->db, c->url, &p, &d) == 0) {
            cJSON_AddNumberToObject(o, "pending", (double)p);
            cJSON_AddNumberToObject(o, "dead_letter", (double)d);
        }
        const struct ep_error *e = w->eperr ? &w->eperr[i] : NULL;
        bool have = e && e->url_hash == url_hash(c->url);
        cJSON_AddStringToObject(o, "last_error", have ? e->error : "");
        if (have) {
            char iso[40];
            time_t t = (time_t)(e->at_ms / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
            cJSON_AddStringToObject(o, "last_error_at", iso);
        } else {
            cJSON_AddNullToObject(o, "last_error_at");
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

const char *gw_webhook_last_error(const struct gw_webhook *w)
{
    return w ? w->st.last_error : "";
}
