/* SPDX-License-Identifier: MIT */
/* notify.c -- operator notifications: dedup, resolution, the recent list and the sinks. */
#include "gw/notify.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/events.h"
#include "core/fileio.h"
#include "core/log.h"
#include "gw/hook.h"
#include "gw/json.h"
#include "gw/notify_int.h"

#define COMP "notify"

static const struct {
    const char *name, *resolution;
    enum gw_note_level level;
} kinds[GW_NOTE_KIND_COUNT] = {
    [GW_NOTE_LINK_DOWN] = {"link_down", "restored", GW_NOTE_WARN},
    [GW_NOTE_LOGGED_OUT] = {"logged_out", "relinked", GW_NOTE_ERR},
    [GW_NOTE_CONFLICT] = {"conflict", "conflict_ended", GW_NOTE_WARN},
    [GW_NOTE_BANNED] = {"banned", "ban_lifted", GW_NOTE_ERR},
    [GW_NOTE_UPDATE_REQUIRED] = {"update_required", "updated", GW_NOTE_ERR},
    [GW_NOTE_DISK] = {"disk", "disk_ok", GW_NOTE_ERR},
    [GW_NOTE_SESSIONS_RESET] = {"sessions_reset", NULL, GW_NOTE_WARN},
    [GW_NOTE_CURSOR_RESET] = {"cursor_reset", NULL, GW_NOTE_WARN},
    [GW_NOTE_ERROR] = {"error", NULL, GW_NOTE_ERR},
};

static const char *const level_names[] = {"info", "warn", "error"};

struct cmd_item { /* a JSON text waiting for notify.command */
    struct cmd_item *next;
    char *json;
    long long note; /* the item's notification id, and its PEND_* bit */
    unsigned bit;
};

struct self_item { /* a note-to-self message waiting for its account's link */
    long long note;
    unsigned bit;
    char account[CFG_ACCOUNT_ID_MAX + 1];
    char text[NOTIFY_TEXT_MAX + 64];
};

struct gw_notify {
    uv_loop_t *loop;
    const struct wg_config *cfg;
    struct api_events *events;
    gw_notify_send_fn send;
    void *send_ud;
    long long next_id;
    struct note recent[NOTIFY_RECENT_MAX]; /* oldest first */
    size_t nrecent;
    /* notify.command: one running, the rest queued */
    struct gw_hook *running;
    struct cmd_item *qhead, *qtail;
    size_t nqueued;
    /* notify.self_chat */
    struct self_item selfq[NOTIFY_SELF_QUEUE_MAX];
    size_t nself;
    char up[CFG_MAX_ACCOUNTS][CFG_ACCOUNT_ID_MAX + 1]; /* accounts whose link is up */
    uv_timer_t flush, settle;
    int open_timers;
    bool closing;
    bool dirty;          /* repeats changed since the last write */
    bool save_failing;   /* the last write failed (warned once) */
    char path[PATH_MAX]; /* "" = memory only */
    struct gw_notify_stats st;
};

const char *gw_note_kind_name(enum gw_note_kind k)
{
    return (unsigned)k < GW_NOTE_KIND_COUNT ? kinds[k].name : "unknown";
}

const char *gw_note_resolution_name(enum gw_note_kind k)
{
    return (unsigned)k < GW_NOTE_KIND_COUNT ? kinds[k].resolution : NULL;
}

const char *gw_note_level_name(enum gw_note_level l)
{
    return (unsigned)l <= GW_NOTE_ERR ? level_names[l] : "warn";
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(ms % 1000));
}

static void add_time(cJSON *o, const char *key, int64_t ms)
{
    char t[40], k[40];
    iso(ms, t, sizeof t);
    cJSON_AddStringToObject(o, key, t);
    snprintf(k, sizeof k, "%s_ms", key);
    cJSON_AddNumberToObject(o, k, (double)ms);
}

static void add_key(cJSON *o, const struct note *x)
{
    char key[64];
    snprintf(key, sizeof key, "%s:%s", kinds[x->kind].name, x->account);
    cJSON_AddStringToObject(o, "key", key);
}

/* The common fields of a notification or of a follow-up. */
static cJSON *base_json(long long id, const char *kind, const struct note *x, const char *level,
                        const char *text, int64_t ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "account", x->account);
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "text", text);
    add_key(o, x);
    add_time(o, "created", ms);
    return o;
}

static cJSON *note_json(const struct note *x)
{
    cJSON *o = base_json(x->id, kinds[x->kind].name, x, gw_note_level_name(x->level), x->text,
                         x->created_ms);
    cJSON_AddBoolToObject(o, "open", x->open);
    cJSON_AddNumberToObject(o, "repeats", x->repeats);
    if (!x->res_id) {
        cJSON_AddNullToObject(o, "resolved");
        return o;
    }
    cJSON *r = cJSON_AddObjectToObject(o, "resolved");
    cJSON_AddNumberToObject(r, "id", (double)x->res_id);
    cJSON_AddStringToObject(r, "kind", kinds[x->kind].resolution);
    cJSON_AddStringToObject(r, "text", x->res_text);
    add_time(r, "at", x->res_ms);
    return o;
}

static cJSON *followup_json(const struct note *x)
{
    cJSON *o = base_json(x->res_id, kinds[x->kind].resolution, x, "info", x->res_text, x->res_ms);
    cJSON_AddBoolToObject(o, "open", false);
    cJSON *r = cJSON_AddObjectToObject(o, "resolves");
    cJSON_AddNumberToObject(r, "id", (double)x->id);
    cJSON_AddStringToObject(r, "kind", kinds[x->kind].name);
    add_time(r, "created", x->created_ms);
    return o;
}

/* ---- the notifications file (gw/notify_int.h) ---- */

/* Write the list (before the sinks see a new item; at close). */
static void save(struct gw_notify *n)
{
    if (!n->path[0]) return;
    char *txt = notifyfile_encode(n->recent, n->nrecent, n->next_id);
    int r = txt ? file_write_atomic(n->path, txt, strlen(txt), 0600) : -ENOMEM;
    free(txt);
    if (r == 0) {
        n->st.saves++;
        n->dirty = false;
        if (n->save_failing) log_info(COMP, NULL, "notifications saved to %s again", n->path);
        n->save_failing = false;
        return;
    }
    n->st.save_failures++;
    if (!n->save_failing)
        log_warn(COMP, NULL, "cannot save the notifications to %s: %s (kept in memory)", n->path,
                 strerror(-r));
    n->save_failing = true;
}

static void set_aside(const struct gw_notify *n, const char *why)
{
    char bad[PATH_MAX + 40];
    int r = notifyfile_set_aside(n->path, bad, sizeof bad);
    log_warn(COMP, NULL, "the notifications file %s is unusable (%s): %s; starting with none",
             n->path, why, r == 0 ? bad : strerror(-r));
}

static void load(struct gw_notify *n)
{
    char *txt = NULL;
    size_t len = 0, skipped = 0, total = 0;
    int r = file_read_all(n->path, NOTIFY_FILE_MAX, &txt, &len);
    if (r == -ENOENT) return;
    if (r < 0) {
        if (r == -EFBIG)
            set_aside(n, "too large");
        else
            log_warn(COMP, NULL, "cannot read %s: %s; starting with no notifications", n->path,
                     strerror(-r));
        return;
    }
    r = notifyfile_decode(txt, len, n->recent, NOTIFY_RECENT_MAX, &n->nrecent, &n->next_id,
                          &skipped, &total);
    free(txt);
    if (r < 0) {
        set_aside(n,
                  r == -EPROTO ? "another version" : "not a notifications file (torn or garbage)");
        return;
    }
    n->st.loaded = n->nrecent;
    size_t open = 0;
    for (size_t i = 0; i < n->nrecent; i++)
        open += n->recent[i].open;
    log_info(COMP, NULL, "%zu notifications loaded from %s (%zu open)", n->nrecent, n->path, open);
    if (skipped)
        log_warn(COMP, NULL, "%zu of %zu entries of %s did not validate and were skipped", skipped,
                 total, n->path);
}

/* ---- sinks ---- */

static void sink_log(const char *account, enum gw_note_level level, const char *kind,
                     const char *text)
{
    if (level == GW_NOTE_ERR)
        log_error(COMP, account, "%s: %s", kind, text);
    else if (level == GW_NOTE_WARN)
        log_warn(COMP, account, "%s: %s", kind, text);
    else
        log_info(COMP, account, "%s: %s", kind, text);
}

static void sink_events(struct gw_notify *n, const char *type, cJSON *data, const char *account,
                        enum gw_note_level level, const char *text)
{
    if (!n->events) return;
    cJSON *d = cJSON_Duplicate(data, 1);
    if (d) api_events_publish(n->events, type, d);
    cJSON *old = cJSON_CreateObject(); /* the older shape, for existing consumers */
    cJSON_AddStringToObject(old, "account", account);
    cJSON_AddStringToObject(old, "level", gw_note_level_name(level));
    cJSON_AddStringToObject(old, "text", text);
    gw_json_make_utf8(old);
    api_events_publish(n->events, "channel.notice", old);
}

/* The sink owed `bit` of notification `id` got it (or gave up on it): written at once, so a
 * restart does not hand it over again. */
static void settled(struct gw_notify *n, long long id, unsigned bit)
{
    for (size_t i = 0; i < n->nrecent && bit; i++)
        if (n->recent[i].id == id && (n->recent[i].pending & bit)) {
            n->recent[i].pending &= ~bit;
            save(n);
            return;
        }
}

static void command_next(struct gw_notify *n);

static void command_done(void *ud, int status, const char *reply, const char *detail)
{
    struct gw_notify *n = ud;
    (void)reply;
    n->running = NULL;
    if (status < 0) {
        n->st.commands_failed++;
        if (status != -ECANCELED) log_warn(COMP, NULL, "notify.command failed: %s", detail);
    }
    if (n->closing) {
        if (!n->open_timers) free(n);
        return;
    }
    command_next(n);
}

static void command_next(struct gw_notify *n)
{
    while (!n->running && n->qhead && !n->closing) {
        struct cmd_item *it = n->qhead;
        n->qhead = it->next;
        if (!n->qhead) n->qtail = NULL;
        n->nqueued--;
        const char *cmd = n->cfg->notify_command;
        int r = cmd[0]
                    ? gw_hook_run(n->loop, cmd, it->json, strlen(it->json),
                                  n->cfg->notify_command_timeout_ms, command_done, n, &n->running)
                    : -ENOENT;
        if (r == 0) n->st.commands_run++;
        if (r < 0 && r != -ENOENT) {
            n->st.commands_failed++;
            log_warn(COMP, NULL, "notify.command could not start: %s", strerror(-r));
        }
        settled(n, it->note, it->bit); /* started (at most once), or not possible */
        free(it->json);
        free(it);
    }
}

static void sink_command(struct gw_notify *n, const cJSON *data, long long note, unsigned bit)
{
    if (!n->cfg->notify_command[0]) {
        settled(n, note, bit);
        return;
    }
    unsigned cap = n->cfg->notify_command_max_queued;
    if (n->running && n->nqueued >= cap) {
        n->st.commands_dropped++;
        log_warn(COMP, NULL, "notify.command: %zu notifications already wait; this one is dropped",
                 n->nqueued);
        settled(n, note, bit);
        return;
    }
    struct cmd_item *it = calloc(1, sizeof *it);
    if (it) it->json = cJSON_PrintUnformatted(data);
    if (!it || !it->json) {
        free(it);
        n->st.commands_dropped++;
        settled(n, note, bit);
        return;
    }
    it->note = note;
    it->bit = bit;
    if (n->qtail)
        n->qtail->next = it;
    else
        n->qhead = it;
    n->qtail = it;
    n->nqueued++;
    command_next(n);
}

static bool link_up(const struct gw_notify *n, const char *account)
{
    for (size_t i = 0; i < CFG_MAX_ACCOUNTS; i++)
        if (n->up[i][0] && strcmp(n->up[i], account) == 0) return true;
    return false;
}

static void on_flush(uv_timer_t *t);

static void schedule_flush(struct gw_notify *n)
{
    if (!n->closing && n->nself && n->send) uv_timer_start(&n->flush, on_flush, 0, 0);
}

static void sink_self(struct gw_notify *n, const char *account, const char *kind, const char *text,
                      long long note, unsigned bit)
{
    if (!n->cfg->notify_self_chat) {
        settled(n, note, bit);
        return;
    }
    if (n->nself == NOTIFY_SELF_QUEUE_MAX) { /* the oldest goes */
        settled(n, n->selfq[0].note, n->selfq[0].bit);
        memmove(&n->selfq[0], &n->selfq[1], (n->nself - 1) * sizeof n->selfq[0]);
        n->nself--;
        n->st.self_dropped++;
        log_warn(COMP, account, "note to self: the queue is full, the oldest message is dropped");
    }
    struct self_item *it = &n->selfq[n->nself++];
    it->note = note;
    it->bit = bit;
    snprintf(it->account, sizeof it->account, "%s", account);
    snprintf(it->text, sizeof it->text, "wagate [%s] %s", kind, text);
    schedule_flush(n);
}

/* Send what waits for the accounts whose link is up, in order. */
static void on_flush(uv_timer_t *t)
{
    struct gw_notify *n = t->data;
    size_t keep = 0;
    for (size_t i = 0; i < n->nself; i++) {
        struct self_item *it = &n->selfq[i];
        int r = -EAGAIN;
        if (!n->closing && n->send && link_up(n, it->account))
            r = n->send(n->send_ud, it->account, it->text);
        if (r == -EAGAIN) {
            if (keep != i) n->selfq[keep] = *it;
            keep++;
        } else {
            if (r < 0) {
                n->st.self_dropped++;
                log_warn(COMP, it->account, "note to self not sent: %s", strerror(-r));
            } else {
                n->st.self_sent++;
            }
            settled(n, it->note, it->bit);
        }
    }
    n->nself = keep;
}

/* Every sink for one item (a notification or a follow-up). */
static void fan_out(struct gw_notify *n, const char *type, cJSON *data, const char *account,
                    enum gw_note_level level, const char *kind, const char *text, long long note,
                    bool followup)
{
    gw_json_make_utf8(data); /* server texts go out valid to the events and the command */
    sink_log(account, level, kind, text);
    sink_events(n, type, data, account, level, text);
    sink_command(n, data, note, followup ? PEND_RES_CMD : PEND_CMD);
    sink_self(n, account, kind, text, note, followup ? PEND_RES_SELF : PEND_SELF);
}

/* The sinks this item will be handed to (written with it, cleared as each one gets it). */
static unsigned owed(const struct gw_notify *n, bool followup)
{
    unsigned b = 0;
    if (n->cfg->notify_command[0]) b |= followup ? PEND_RES_CMD : PEND_CMD;
    if (n->cfg->notify_self_chat) b |= followup ? PEND_RES_SELF : PEND_SELF;
    return b;
}

/* ---- the recent list ---- */

static struct note *find_open(const struct gw_notify *n, enum gw_note_kind kind,
                              const char *account)
{
    for (size_t i = n->nrecent; i-- > 0;) {
        const struct note *x = &n->recent[i];
        if (x->open && x->kind == kind && strcmp(x->account, account) == 0) return (struct note *)x;
    }
    return NULL;
}

/* A free slot at the end: when full, the oldest closed one goes (else the oldest). */
static struct note *append(struct gw_notify *n)
{
    if (n->nrecent == NOTIFY_RECENT_MAX) {
        size_t v = 0;
        while (v < n->nrecent && n->recent[v].open)
            v++;
        if (v == n->nrecent) v = 0;
        memmove(&n->recent[v], &n->recent[v + 1], (n->nrecent - v - 1) * sizeof n->recent[0]);
        n->nrecent--;
    }
    struct note *x = &n->recent[n->nrecent++];
    memset(x, 0, sizeof *x);
    return x;
}

static bool valid(const struct gw_notify *n, enum gw_note_kind kind, const char *account,
                  const char *text)
{
    return n && (unsigned)kind < GW_NOTE_KIND_COUNT && account && text &&
           strlen(account) <= CFG_ACCOUNT_ID_MAX;
}

long long gw_notify_raise(struct gw_notify *n, enum gw_note_kind kind, const char *account,
                          int level, const char *text)
{
    if (!valid(n, kind, account, text) || level > GW_NOTE_ERR) return -EINVAL;
    if (n->closing) return -ECANCELED;
    struct note *x = find_open(n, kind, account);
    if (x) {
        x->settle_at = 0; /* raised again while its resolution settled: it stays open */
        x->repeats++;
        n->dirty = true;
        n->st.deduplicated++;
        log_debug(COMP, account, "%s already open (#%lld): not raised again", kinds[kind].name,
                  x->id);
        return 0;
    }
    x = append(n);
    x->id = ++n->next_id;
    x->kind = kind;
    x->level = level < 0 ? kinds[kind].level : (enum gw_note_level)level;
    snprintf(x->account, sizeof x->account, "%s", account);
    snprintf(x->text, sizeof x->text, "%s", text);
    x->created_ms = wall_ms();
    x->open = kinds[kind].resolution != NULL;
    n->st.raised++;
    x->pending = owed(n, false);
    save(n); /* before any sink: a restart does not raise it again */
    long long id = x->id;
    cJSON *d = note_json(x);
    if (d) fan_out(n, "notification", d, account, x->level, kinds[kind].name, x->text, id, false);
    cJSON_Delete(d);
    return id;
}

static long long close_note(struct gw_notify *n, struct note *x, const char *text);

static void on_settle(uv_timer_t *t);

/* The settle timer for the earliest pending resolution. */
static void settle_schedule(struct gw_notify *n)
{
    uint64_t first = 0;
    for (size_t i = 0; i < n->nrecent; i++)
        if (n->recent[i].open && n->recent[i].settle_at &&
            (!first || n->recent[i].settle_at < first))
            first = n->recent[i].settle_at;
    uint64_t now = uv_now(n->loop);
    if (!first)
        uv_timer_stop(&n->settle);
    else
        uv_timer_start(&n->settle, on_settle, first > now ? first - now : 0, 0);
}

static void on_settle(uv_timer_t *t)
{
    struct gw_notify *n = t->data;
    uint64_t now = uv_now(n->loop);
    for (size_t i = 0; i < n->nrecent && !n->closing; i++) {
        struct note *x = &n->recent[i];
        if (x->open && x->settle_at && x->settle_at <= now) (void)close_note(n, x, x->res_text);
    }
    settle_schedule(n);
}

long long gw_notify_resolve_after(struct gw_notify *n, enum gw_note_kind kind, const char *account,
                                  const char *text, unsigned settle_ms)
{
    if (!valid(n, kind, account, text)) return -EINVAL;
    if (n->closing) return -ECANCELED;
    struct note *x = find_open(n, kind, account);
    if (!x) return 0;
    if (!settle_ms) return close_note(n, x, text);
    if (!x->settle_at) {
        x->settle_at = uv_now(n->loop) + settle_ms;
        snprintf(x->res_text, sizeof x->res_text, "%s", text);
        settle_schedule(n);
    }
    return 0;
}

long long gw_notify_resolve(struct gw_notify *n, enum gw_note_kind kind, const char *account,
                            const char *text)
{
    return gw_notify_resolve_after(n, kind, account, text, 0);
}

static long long close_note(struct gw_notify *n, struct note *x, const char *text)
{
    const char *account = x->account;
    enum gw_note_kind kind = x->kind;
    x->settle_at = 0;
    x->open = false;
    x->res_id = ++n->next_id;
    x->res_ms = wall_ms();
    if (text != x->res_text) snprintf(x->res_text, sizeof x->res_text, "%s", text);
    n->st.resolved++;
    x->pending |= owed(n, true);
    save(n);
    long long id = x->res_id;
    cJSON *d = followup_json(x);
    if (d)
        fan_out(n, "notification.resolved", d, account, GW_NOTE_INFO, kinds[kind].resolution,
                x->res_text, x->id, true);
    cJSON_Delete(d);
    return id;
}

bool gw_notify_is_open(const struct gw_notify *n, enum gw_note_kind kind, const char *account)
{
    return n && account && (unsigned)kind < GW_NOTE_KIND_COUNT && find_open(n, kind, account);
}

void gw_notify_link(struct gw_notify *n, const char *account, bool up)
{
    if (!n || !account || n->closing) return;
    int free_slot = -1;
    for (int i = 0; i < CFG_MAX_ACCOUNTS; i++) {
        if (n->up[i][0] && strcmp(n->up[i], account) == 0) {
            if (!up) n->up[i][0] = '\0';
            if (up) schedule_flush(n);
            return;
        }
        if (!n->up[i][0] && free_slot < 0) free_slot = i;
    }
    if (!up || free_slot < 0) return;
    snprintf(n->up[free_slot], sizeof n->up[0], "%s", account);
    schedule_flush(n);
}

cJSON *gw_notify_list_json(const struct gw_notify *n, size_t limit)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "notifications");
    if (!a) {
        cJSON_Delete(o);
        return NULL;
    }
    size_t open = 0, shown = 0;
    for (size_t i = n->nrecent; i-- > 0;) {
        if (n->recent[i].open) open++;
        if (limit && shown >= limit) continue;
        cJSON_AddItemToArray(a, note_json(&n->recent[i]));
        shown++;
    }
    cJSON_AddNumberToObject(o, "open", (double)open);
    gw_json_make_utf8(o);
    return o;
}

void gw_notify_stats(const struct gw_notify *n, struct gw_notify_stats *st)
{
    *st = n->st;
    st->self_queued = n->nself;
    st->commands_queued = n->nqueued;
}

/* ---- life cycle ---- */

/* What the sinks were still owed when the last process stopped (gw_notify_new, after load). */
static void resume_pending(struct gw_notify *n)
{
    size_t resumed = 0;
    for (size_t i = 0; i < n->nrecent; i++) {
        struct note *x = &n->recent[i];
        unsigned p = x->pending;
        if (!p) continue;
        resumed++;
        if (p & PEND_CMD) {
            cJSON *d = note_json(x);
            gw_json_make_utf8(d);
            if (d) sink_command(n, d, x->id, PEND_CMD);
            cJSON_Delete(d);
        }
        if (p & PEND_SELF) sink_self(n, x->account, kinds[x->kind].name, x->text, x->id, PEND_SELF);
        if (p & PEND_RES_CMD) {
            cJSON *d = followup_json(x);
            gw_json_make_utf8(d);
            if (d) sink_command(n, d, x->id, PEND_RES_CMD);
            cJSON_Delete(d);
        }
        if (p & PEND_RES_SELF)
            sink_self(n, x->account, kinds[x->kind].resolution, x->res_text, x->id, PEND_RES_SELF);
    }
    if (resumed)
        log_info(COMP, NULL, "%zu notifications still owed to notify.command or the note to self",
                 resumed);
}

int gw_notify_new(const struct gw_notify_opts *o, struct gw_notify **out)
{
    *out = NULL;
    if (!o || !o->loop || !o->cfg) return -EINVAL;
    struct gw_notify *n = calloc(1, sizeof *n);
    if (!n) return -ENOMEM;
    n->loop = o->loop;
    n->cfg = o->cfg;
    n->events = o->events;
    uv_timer_init(n->loop, &n->flush);
    uv_timer_init(n->loop, &n->settle);
    n->flush.data = n->settle.data = n;
    n->open_timers = 2;
    if (o->path && o->path[0]) {
        snprintf(n->path, sizeof n->path, "%s", o->path);
        load(n);
        resume_pending(n);
    }
    *out = n;
    return 0;
}

void gw_notify_set_sender(struct gw_notify *n, gw_notify_send_fn fn, void *ud)
{
    n->send = fn;
    n->send_ud = ud;
    schedule_flush(n);
}

void gw_notify_detach_api(struct gw_notify *n)
{
    if (n) n->events = NULL;
}

static void timer_closed(uv_handle_t *h)
{
    struct gw_notify *n = h->data;
    if (--n->open_timers == 0 && !n->running) free(n);
}

void gw_notify_close(struct gw_notify *n)
{
    if (!n || n->closing) return;
    if (n->dirty) save(n); /* the repeat counters */
    n->closing = true;
    n->events = NULL;
    while (n->qhead) {
        struct cmd_item *it = n->qhead;
        n->qhead = it->next;
        free(it->json);
        free(it);
    }
    n->qtail = NULL;
    n->nqueued = 0;
    n->nself = 0;
    if (n->running) gw_hook_cancel(n->running);
    uv_timer_stop(&n->flush);
    uv_timer_stop(&n->settle);
    uv_close((uv_handle_t *)&n->flush, timer_closed);
    uv_close((uv_handle_t *)&n->settle, timer_closed);
}
