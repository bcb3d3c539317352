/* SPDX-License-Identifier: MIT */
/* channel.c -- the per-account WhatsApp supervisor: store, credentials, session, policy.
 *
 * Order of work: every attempt runs from the retry timer (never from inside a client
 * callback), so wa_client_start() is never re-entered from on_close(). A session that must be
 * torn down early (health, operator) is closed with wa_client_close() -- safe inside the
 * client's own callbacks, two-step -- and a new client is created for the next attempt; the
 * old one can deliver nothing more, so no stale callback reaches the supervisor.
 */
#include "gw/channel.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "api/events.h"
#include "api/metrics.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/statedir.h"
#include "gw/access.h"
#include "gw/chhook.h"
#include "gw/chmedia.h"
#include "gw/chmsend.h"
#include "store/mediafile.h"
#include "gw/chmetrics.h"
#include "gw/json.h"
#include "gw/chmsg.h"
#include "gw/chunk.h"
#include "gw/cursormark.h"
#include "gw/webhook.h"
#include "gw/dnsprobe.h"
#include "gw/notify.h"
#include "gw/sendwait.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "store/creds.h"
#include "store/db.h"
#include "store/sgstore.h"
#include "store/spkstore.h"
#include "wa/client.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/paircode.h"
#include "wa/session.h"

#define NO_RETRY    UINT64_MAX
#define TICK_MS     1000
#define QR_MAX      1024
#define HEALTH_MISS 2 /* unanswered pings in a row = wedged */
#define COMP        "whatsapp"

/* whatsapp.* as a channel uses it (copied at start: a reload changes them only for channels
 * started later; gw/daemon.c says so). A copy of these, not of the whole wg_config (~100 KB
 * with the accounts' access lists), so that an account costs little (issue 16). */
#define CHANNEL_RELEASE_TICKS 10 /* the store's page cache is given back every 10 ticks (10 s) */

struct ch_wa_cfg {
    char wa_endpoint[CFG_PATH_MAX];
    uint8_t wa_noise_root[32];
    char wa_tls_ca_file[CFG_PATH_MAX];
    char wa_dns_servers[CFG_MAX_DNS][64];
    unsigned wa_dns_count;
    unsigned wa_backoff_base_ms, wa_backoff_cap_ms;
    unsigned wa_repair_gap_ms, wa_repair_wait_ms, wa_repair_store_peers, wa_repair_window_s;
    unsigned wa_repair_phone_delay_ms;
    unsigned notify_outage_after_s;
    unsigned wa_chunk_size;
    bool mark_read;                    /* whatsapp.mark_read = on_handled */
    uint32_t spk_rotate_s, spk_keep_s; /* signal.* in seconds */
    unsigned spk_keep_max;
};

static void ch_wa_cfg_copy(struct ch_wa_cfg *w, const struct wg_config *c)
{
    memcpy(w->wa_endpoint, c->wa_endpoint, sizeof w->wa_endpoint);
    memcpy(w->wa_noise_root, c->wa_noise_root, sizeof w->wa_noise_root);
    memcpy(w->wa_tls_ca_file, c->wa_tls_ca_file, sizeof w->wa_tls_ca_file);
    memcpy(w->wa_dns_servers, c->wa_dns_servers, sizeof w->wa_dns_servers);
    w->wa_dns_count = c->wa_dns_count;
    w->wa_backoff_base_ms = c->wa_backoff_base_ms;
    w->wa_backoff_cap_ms = c->wa_backoff_cap_ms;
    w->wa_repair_gap_ms = c->wa_repair_gap_ms;
    w->wa_repair_wait_ms = c->wa_repair_wait_ms;
    w->wa_repair_store_peers = c->wa_repair_store_peers;
    w->wa_repair_window_s = c->wa_repair_window_s;
    w->wa_repair_phone_delay_ms = c->wa_repair_phone_delay_ms;
    w->notify_outage_after_s = c->notify_outage_after_s;
    w->wa_chunk_size = c->wa_chunk_size ? c->wa_chunk_size : 4000;
    w->mark_read = strcmp(c->wa_mark_read, "on_handled") == 0;
    uint32_t day = c->sig_spk_test_seconds ? 1u : 86400u;
    w->spk_rotate_s = c->sig_spk_rotate_days * day;
    w->spk_keep_s = c->sig_spk_keep_days * day;
    w->spk_keep_max = c->sig_spk_keep_max;
}

struct gw_channel {
    uv_loop_t *loop;
    struct cursormark mark; /* the inbox high-water outside the database (gw/cursormark.h) */
    bool mark_open;         /* checked against the open database */
    unsigned release_ticks; /* housekeeping ticks since the store's page cache was given back */
    char account[CFG_ACCOUNT_ID_MAX + 1];
    char dbpath[PATH_MAX];
    struct ch_wa_cfg cfg; /* the whatsapp.* values this channel uses, copied at start */
    const char *dns[CFG_MAX_DNS];
    int ka_min, ka_max, ka_deadline;
    uint64_t down_notice_ms;
    uint64_t down_since; /* first failure since the last connected; 0 = up */
    int64_t down_since_wall_ms;
    bool down_notified;
    bool ever_connected;      /* a later connected is a reconnection */
    uint64_t last_probe;      /* degraded: the last write probe of the store */
    int store_err;            /* a store error while logging in: degraded once connected */
    int64_t up_since_wall_ms; /* the current connection's start; 0 = not connected */
    struct api_events *events;
    struct api_metrics *metrics;
    struct chmetrics_live live; /* the series read at scrape time (gw/chmetrics.h) */
    const char *lost_cause;     /* what ended the last connection (chmetrics_cause), or NULL */

    enum gw_ch_state state;
    uint64_t since_mono;
    int64_t since_wall_ms;
    char last_error[256];
    char detail[256]; /* why the current attempt failed locally (store, client) */
    char attempt_reason[300];
    bool retry_pending;
    bool retry_hold;    /* the pending delay must run its course (a ban) */
    uint64_t last_kick; /* the last early attempt (operator, network change); 0 = none */
    bool retry_kick;    /* the pending retry was moved up by gw_channel_retry_now */
    uint64_t retry_at, retry_delay;
    int64_t retry_wall_ms;
    struct chpolicy pol;

    struct st_db *db;
    struct sg_store store;
    signal_context *sig;
    struct sg_ctx *sg;
    struct wa_creds creds;
    bool have_creds;
    struct wa_client *client;
    struct wa_session *sess;    /* receive/send paths of the current client (wa/session.h) */
    struct chmsg *msg;          /* their events as logs, API events, metrics (gw/chmsg.h) */
    struct chhook *hook;        /* the exec hook on received messages (gw/chhook.h) */
    struct gw_webhook *webhook; /* hooks.webhook: events to HTTP(S) endpoints (gw/webhook.h) */
    struct gw_access *access;   /* the access policy before the hook (gw/access.h) */
    struct dnsprobe *probe;     /* resolver-only probe in a DNS outage (gw/dnsprobe.h), or NULL */
    struct gw_notify *notify;   /* operator notifications (gw/notify.h) */
    struct gw_sendwait *sw;     /* API sends waiting for their shared COMMIT (gw/sendwait.h) */
    struct chmedia *media;      /* received files (gw/chmedia.h) */
    struct chmsend *msend;      /* files to send (gw/chmsend.h) */
    bool own_notify;            /* notify was made here (no shared one given): closed here */
    unsigned health_fail;

    char qr[QR_MAX];
    bool qr_valid;
    uint64_t qr_expires;
    uint64_t reconnects; /* successful reconnections (connected again after a loss) */
    uint64_t attempts;   /* failed attempts (sessions that ended and were retried) */

    uv_timer_t retry_timer, tick;
    uv_timer_t repair_timer; /* the store-wide repair runs from here, never from a callback */
    unsigned repair_peers;
    bool repair_upload;   /* the next connected uploads fresh pre-keys */
    uint64_t last_repair; /* monotonic ms of the last store-wide repair; 0 = none */
    int open_handles;
    bool closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* snprintf that truncates on purpose (log and status strings). */
static void strfmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void strfmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now(const struct gw_channel *ch)
{
    return uv_now(ch->loop);
}

/* ---- events, metrics, the transition function ---- */

/* The channel's series (gw/chmetrics.h). */
static void metric_add(struct gw_channel *ch, const char *name, double v)
{
    chmetrics_add(ch->metrics, ch->account, name, v);
}

static void metric_set(struct gw_channel *ch, const char *name, double v)
{
    chmetrics_set(ch->metrics, ch->account, name, v);
}

static void publish(struct gw_channel *ch, const char *type, cJSON *data)
{
    gw_json_make_utf8(data); /* server texts (stream errors, failures) go out valid */
    if (ch->events && !ch->closing)
        api_events_publish(ch->events, type, data);
    else
        cJSON_Delete(data);
}

/* An operator notification (gw/notify.h: deduplicated, every sink) and its resolution. */
static void notice(struct gw_channel *ch, enum gw_note_kind kind, const char *text)
{
    if (!ch->closing) (void)gw_notify_raise(ch->notify, kind, ch->account, -1, text);
}

static void resolved(struct gw_channel *ch, enum gw_note_kind kind, const char *text)
{
    if (!ch->closing) (void)gw_notify_resolve(ch->notify, kind, ch->account, text);
}

/* The notification a policy decision with `notify` raises. */
static enum gw_note_kind outcome_kind(enum wa_outcome_class cls)
{
    return cls == WA_OC_REPLACED   ? GW_NOTE_CONFLICT
           : cls == WA_OC_TEMP_BAN ? GW_NOTE_BANNED
           : cls == WA_OC_OUTDATED ? GW_NOTE_UPDATE_REQUIRED
                                   : GW_NOTE_ERROR;
}

/* The one transition function. retry_ms: the delay of the attempt just scheduled, or
 * NO_RETRY. */
static void on_tick(uv_timer_t *t);

/* The 1 s housekeeping tick (QR expiry, the "unreachable" notice, the stuck-connecting
 * watchdog) runs only in the states that have something to watch: a connected or stopped
 * channel does not wake the process (its session's keepalive is the client's timer). */
static void tick_update(struct gw_channel *ch)
{
    bool need = !ch->closing && ch->state != GW_CH_CONNECTED && ch->state != GW_CH_STOPPED &&
                ch->state != GW_CH_LOGGED_OUT;
    if (!need)
        uv_timer_stop(&ch->tick);
    else if (!uv_is_active((uv_handle_t *)&ch->tick))
        uv_timer_start(&ch->tick, on_tick, TICK_MS, TICK_MS);
}

static void set_state(struct gw_channel *ch, enum gw_ch_state to, const char *reason,
                      uint64_t retry_ms)
{
    enum gw_ch_state from = ch->state;
    ch->state = to;
    ch->since_mono = now(ch);
    ch->since_wall_ms = wall_ms();
    if (retry_ms != NO_RETRY)
        log_info(COMP, ch->account, "%s -> %s (%s; next attempt in %" PRIu64 " ms)",
                 gw_ch_state_name(from), gw_ch_state_name(to), reason, retry_ms);
    else
        log_info(COMP, ch->account, "%s -> %s (%s)", gw_ch_state_name(from), gw_ch_state_name(to),
                 reason);
    chmetrics_state(ch->metrics, ch->account, ch->state);
    gw_notify_link(ch->notify, ch->account, to == GW_CH_CONNECTED);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "from", gw_ch_state_name(from));
    cJSON_AddStringToObject(d, "to", gw_ch_state_name(to));
    cJSON_AddStringToObject(d, "reason", reason);
    if (retry_ms != NO_RETRY) cJSON_AddNumberToObject(d, "next_retry_ms", (double)retry_ms);
    publish(ch, "channel.state", d);
    tick_update(ch);
}

/* ---- credentials (wa/credstore.h) ---- */

static void account_dir(const struct gw_channel *ch, char *out, size_t n);

/* Write the linked marker (core/statedir.h); a failure is logged, not fatal. */
static void mark_linked(struct gw_channel *ch)
{
    char dir[PATH_MAX];
    account_dir(ch, dir, sizeof dir);
    int r = state_linked_mark(dir, ch->creds.me_pn);
    if (r < 0)
        log_warn(COMP, ch->account, "cannot write %s/%s: %s", dir, STATE_LINKED_FILE, strerror(-r));
}

static int save_creds(struct gw_channel *ch, const struct wa_creds *c)
{
    if (!ch->db) return -ENOTCONN;
    int r = wa_creds_store(ch->db, c);
    if (r < 0) {
        strfmt(ch->last_error, sizeof ch->last_error, "saving credentials: %s",
               st_db_last_error(ch->db));
        log_error(COMP, ch->account, "%s", ch->last_error);
        return r;
    }
    if (c != &ch->creds) ch->creds = *c;
    ch->have_creds = true;
    return 0;
}

/* Load the stored credentials, or create (and store) fresh unpaired ones. */
static int load_creds(struct gw_channel *ch)
{
    int r = wa_creds_fetch(ch->db, &ch->creds);
    if (r == 0) ch->have_creds = true;
    if (r == 0 && wa_creds_is_paired(&ch->creds)) mark_linked(ch); /* linked before the marker */
    if (r == 0 || r == -EUCLEAN) return r;
    if (r != -ENOENT) return r;
    r = wa_creds_generate(&ch->creds);
    if (r < 0) return r;
    log_info(COMP, ch->account, "no credentials yet: a new device identity was created");
    return save_creds(ch, &ch->creds);
}

/* ---- the store ---- */

static void close_store(struct gw_channel *ch)
{
    int mr = ch->mark_open ? cursormark_tick(&ch->mark, chmsg_last_cursor(ch->msg)) : 0;
    if (mr < 0) log_warn(COMP, ch->account, "inbox marker: %s", strerror(-mr));
    ch->mark_open = false;
    wa_session_free(ch->sess);
    ch->sess = NULL;
    sg_ctx_free(ch->sg);
    ch->sg = NULL;
    if (ch->sig) signal_context_destroy(ch->sig);
    ch->sig = NULL;
    chhook_set_store(ch->hook, NULL);
    gw_webhook_set_store(ch->webhook, NULL);
    chmetrics_live_set_db(&ch->live, NULL);
    chmedia_set_db(ch->media, NULL);
    chmsend_set_db(ch->msend, NULL);
    if (ch->db && st_db_close(ch->db) < 0)
        log_warn(COMP, ch->account, "closing the database reported an error");
    ch->db = NULL;
    wa_creds_wipe(&ch->creds);
    ch->have_creds = false;
}

/* Rename `path`, -wal and -shm to path.<tag>-<UTC> (never delete). */
static int move_aside(struct gw_channel *ch, const char *tag, char *newpath, size_t newlen)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    strfmt(newpath, newlen, "%s.%s-%s", ch->dbpath, tag, ts);
    if (rename(ch->dbpath, newpath) < 0) return -errno;
    const char *sfx[] = {"-wal", "-shm"};
    for (int i = 0; i < 2; i++) {
        char a[PATH_MAX + 8], b[PATH_MAX + 64];
        strfmt(a, sizeof a, "%s%s", ch->dbpath, sfx[i]);
        strfmt(b, sizeof b, "%s%s", newpath, sfx[i]);
        if (access(a, F_OK) == 0 && rename(a, b) < 0) return -errno;
    }
    return 0;
}

static void quarantine_loggedout(struct gw_channel *ch, const char *why)
{
    close_store(ch);
    char np[PATH_MAX + 64], text[PATH_MAX + 480];
    int r = move_aside(ch, "loggedout", np, sizeof np);
    if (r < 0)
        strfmt(text, sizeof text, "%s; could not move the database aside: %s", why, strerror(-r));
    else
        strfmt(text, sizeof text,
               "%s: logged out by the phone or the server; the old database was kept as %s; "
               "run 'wagate channels login --account %s' to link again",
               why, np, ch->account);
    notice(ch, GW_NOTE_LOGGED_OUT, text);
}

/* <state>/accounts/<id>, where the linked marker (core/statedir.h) lives. */
static void account_dir(const struct gw_channel *ch, char *out, size_t n)
{
    strfmt(out, n, "%s", ch->dbpath);
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
}

/* The database of a linked account is missing or empty: report it, keep what is there, and
 * wait for the owner (never a silent new device). */
static void quarantine_lost(struct gw_channel *ch, int how)
{
    char np[PATH_MAX + 64] = "", text[PATH_MAX * 2 + 400];
    int r = how == STATE_DB_EMPTY ? move_aside(ch, "empty", np, sizeof np) : 0;
    strfmt(text, sizeof text,
           "the database of this linked account is %s (%s)%s%s; no new device is made on its "
           "own: restore it, or run 'wagate channels login --account %s' to link again",
           how == STATE_DB_EMPTY ? "empty (0 bytes)" : "missing", ch->dbpath,
           r < 0   ? ": could not move it aside: "
           : np[0] ? ": quarantined as "
                   : "",
           r < 0 ? strerror(-r) : np, ch->account);
    strfmt(ch->last_error, sizeof ch->last_error, "%s", text);
    notice(ch, GW_NOTE_LOGGED_OUT, text);
    set_state(ch, GW_CH_LOGGED_OUT, how == STATE_DB_EMPTY ? "database empty" : "database missing",
              NO_RETRY);
}

/* ---- store-wide session repair (design.md "Session repair" 3) ---- */

static void force_attempt(struct gw_channel *ch, const char *why);
static void drop_client(struct gw_channel *ch);

/* From the repair timer: back up the database, delete every session and sender key (creds,
 * identity, pre-keys stay), reconnect; fresh pre-keys go up at the next connected. */
static void on_repair(uv_timer_t *t)
{
    struct gw_channel *ch = t->data;
    if (ch->closing || !ch->db) return;
    ch->last_repair = now(ch);
    char reason[160], bak[PATH_MAX + 64], ts[32], text[PATH_MAX + 300];
    strfmt(reason, sizeof reason, "decryption failing for %u peers", ch->repair_peers);
    set_state(ch, GW_CH_REPAIRING, reason, NO_RETRY);
    drop_client(ch);
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    strfmt(bak, sizeof bak, "%s.pre-repair-%s", ch->dbpath, ts);
    int b = st_db_backup(ch->db, bak);
    int n = st_sg_reset_sessions(ch->db);
    if (n < 0) {
        strfmt(text, sizeof text, "session repair failed: %s", st_db_last_error(ch->db));
        notice(ch, GW_NOTE_ERROR, text);
        force_attempt(ch, "session repair failed");
        return;
    }
    ch->repair_upload = true;
    metric_add(ch, "wagate_channel_session_repairs_total", 1);
    strfmt(text, sizeof text,
           "encryption sessions were reset (%d sessions and sender keys deleted; decryption "
           "was failing for %u peers); backup %s",
           n, ch->repair_peers, b == 0 ? bak : "not written");
    notice(ch, GW_NOTE_SESSIONS_RESET, text);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "text", "encryption sessions were reset");
    cJSON_AddNumberToObject(d, "peers", ch->repair_peers);
    cJSON_AddNumberToObject(d, "deleted", n);
    if (b == 0)
        cJSON_AddStringToObject(d, "backup", bak);
    else
        cJSON_AddNullToObject(d, "backup");
    publish(ch, "channel.repaired", d);
    force_attempt(ch, "encryption sessions were reset");
}

/* chmsg's store_failing: at most one repair per CHANNEL_REPAIR_HOLD_MS. */
static void want_repair(void *ud, unsigned peers)
{
    struct gw_channel *ch = ud;
    if (ch->closing || uv_is_active((uv_handle_t *)&ch->repair_timer)) return;
    if (ch->last_repair && now(ch) - ch->last_repair < CHANNEL_REPAIR_HOLD_MS) {
        log_info(COMP, ch->account, "store-wide repair not repeated within the hour");
        return;
    }
    ch->repair_peers = peers;
    uv_timer_start(&ch->repair_timer, on_repair, 0, 0);
}

/* 0 open, 1 corrupt or lost (quarantined, state changed), < 0 error (last_error set). */
static int open_store(struct gw_channel *ch)
{
    char err[512] = "", dir[PATH_MAX];
    account_dir(ch, dir, sizeof dir);
    int lost = state_db_check(dir, ch->dbpath);
    if (lost > 0) {
        quarantine_lost(ch, lost);
        return 1;
    }
    int r = st_db_open(ch->dbpath, &ch->db, err, sizeof err);
    if (r == -EUCLEAN) {
        char np[PATH_MAX + 64] = "", qerr[256] = "", text[PATH_MAX + 400];
        int q = st_db_quarantine(ch->dbpath, np, sizeof np, qerr, sizeof qerr);
        strfmt(text, sizeof text, "database corrupt (%s): %s %s; a new QR is needed", err,
               q < 0 ? "could not quarantine it:" : "quarantined as", q < 0 ? qerr : np);
        strfmt(ch->last_error, sizeof ch->last_error, "%s", text);
        notice(ch, GW_NOTE_LOGGED_OUT, text);
        set_state(ch, GW_CH_LOGGED_OUT, "database corrupt", NO_RETRY);
        return 1;
    }
    if (r < 0) {
        strfmt(ch->detail, sizeof ch->detail, "%s", err);
        return r;
    }
    ch->store = st_sgstore(ch->db, SG_TRUST_ANY);
    r = sg_context_create(&ch->sig);
    if (r == 0) r = sg_ctx_new(&ch->sg, ch->sig, &ch->store);
    if (r < 0) {
        strfmt(ch->detail, sizeof ch->detail, "signal context: %s", strerror(-r));
        close_store(ch);
        return r;
    }
    chhook_set_store(ch->hook, ch->db);        /* hands over what a crash left pending */
    gw_webhook_set_store(ch->webhook, ch->db); /* likewise the webhook queue */
    chmetrics_live_set_db(&ch->live, ch->db);
    chmedia_set_db(ch->media, ch->db); /* and the files still to fetch */
    chmsend_set_db(ch->msend, ch->db); /* and the files still to upload */
    return 0;
}

/* ---- sessions ---- */

static const struct wa_client_cbs client_cbs;

static int new_client(struct gw_channel *ch)
{
    struct wa_client_opts o = {
        .url = ch->cfg.wa_endpoint,
        .dns_servers = ch->cfg.wa_dns_count ? ch->dns : NULL,
        .ndns_servers = ch->cfg.wa_dns_count,
        .ca_file = ch->cfg.wa_tls_ca_file[0] ? ch->cfg.wa_tls_ca_file : NULL,
        .noise_root_pub = ch->cfg.wa_noise_root,
        .log_account = ch->account,
        .keepalive_min_ms = ch->ka_min,
        .keepalive_max_ms = ch->ka_max,
        .keepalive_deadline_ms = ch->ka_deadline,
        .spk_rotate_s = ch->cfg.spk_rotate_s,
        .spk_keep_s = ch->cfg.spk_keep_s,
        .spk_keep_max = ch->cfg.spk_keep_max,
    };
    int r = wa_client_new(ch->loop, &o, &client_cbs, ch, &ch->client);
    if (r < 0) strfmt(ch->detail, sizeof ch->detail, "%s", strerror(-r));
    return r;
}

/* End the session now (no on_close will come) and forget the client. */
static void drop_client(struct gw_channel *ch)
{
    ch->store_err = 0;
    chmedia_set_client(ch->media, NULL);
    chmsend_set_client(ch->msend, NULL);
    wa_session_free(ch->sess); /* first: it is attached to the client */
    ch->sess = NULL;
    wa_client_close(ch->client);
    ch->client = NULL;
    ch->qr_valid = false;
    ch->health_fail = 0;
}

static void on_retry(uv_timer_t *t);

static void schedule(struct gw_channel *ch, uint64_t delay)
{
    ch->retry_pending = true;
    ch->retry_delay = delay;
    ch->retry_at = now(ch) + delay;
    ch->retry_wall_ms = wall_ms() + (int64_t)delay;
    uv_timer_start(&ch->retry_timer, on_retry, delay, 0);
}

/* The first failure since the link was up starts an outage; one that lasts down_notice_ms
 * raises ONE channel.down (and a notice); cb_connected ends it with channel.restored. */
static void track_down(struct gw_channel *ch)
{
    uint64_t t = now(ch);
    if (!ch->down_since) {
        ch->down_since = t ? t : 1;
        ch->down_since_wall_ms = wall_ms();
        metric_set(ch, "wagate_channel_down_since_seconds",
                   (double)(ch->down_since_wall_ms / 1000));
    }
    if (ch->down_notified || t - ch->down_since < ch->down_notice_ms) return;
    ch->down_notified = true;
    metric_add(ch, "wagate_channel_outages_total", 1);
    char text[400];
    strfmt(text, sizeof text, "WhatsApp unreachable for %llu s (%s); still retrying",
           (unsigned long long)((t - ch->down_since) / 1000), ch->last_error);
    notice(ch, GW_NOTE_LINK_DOWN, text);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddNumberToObject(d, "down_since_ms", (double)ch->down_since_wall_ms);
    cJSON_AddNumberToObject(d, "down_s", (double)((t - ch->down_since) / 1000));
    cJSON_AddStringToObject(d, "last_error", ch->last_error);
    publish(ch, "channel.down", d);
}

/* Connected again: the outage (if any) is over. */
static void end_outage(struct gw_channel *ch)
{
    uint64_t t = now(ch);
    if (ch->down_notified) {
        char reason[160];
        unsigned long long s = (t - ch->down_since) / 1000;
        strfmt(reason, sizeof reason, "WhatsApp connection restored after %llu s", s);
        resolved(ch, GW_NOTE_LINK_DOWN, reason);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "account", ch->account);
        cJSON_AddNumberToObject(d, "down_s", (double)s);
        publish(ch, "channel.restored", d);
    } else if (gw_notify_is_open(ch->notify, GW_NOTE_LINK_DOWN, ch->account)) {
        /* raised before a restart (gw/notify.h keeps it): this process never saw it begin */
        resolved(ch, GW_NOTE_LINK_DOWN,
                 "WhatsApp connection restored (the outage began before the gateway restarted)");
    }
    ch->down_since = 0;
    ch->down_since_wall_ms = 0;
    ch->down_notified = false;
    metric_set(ch, "wagate_channel_down_since_seconds", 0);
}

/* The channel stops retrying (logged out, stopped): no outage is tracked any more, and an
 * open link_down is resolved (else a later outage would be deduplicated into it). */
static void drop_outage(struct gw_channel *ch, const char *why)
{
    if (ch->down_notified) {
        char text[400];
        strfmt(text, sizeof text, "no longer retrying: %s", why);
        resolved(ch, GW_NOTE_LINK_DOWN, text);
    } else if (gw_notify_is_open(ch->notify, GW_NOTE_LINK_DOWN, ch->account)) {
        char text[400];
        strfmt(text, sizeof text, "no longer retrying: %s", why);
        resolved(ch, GW_NOTE_LINK_DOWN, text);
    }
    ch->down_since = 0;
    ch->down_since_wall_ms = 0;
    ch->down_notified = false;
    metric_set(ch, "wagate_channel_down_since_seconds", 0);
}

static void handle_outcome(struct gw_channel *ch, const struct wa_outcome *o)
{
    if (ch->up_since_wall_ms) ch->lost_cause = chmetrics_cause(o); /* a connection ended */
    ch->up_since_wall_ms = 0;
    metric_set(ch, "wagate_channel_connected_since_seconds", 0);
    struct chaction a;
    chpolicy_on_outcome(&ch->pol, o, now(ch), &a);
    if (o->cls != WA_OC_RESTART)
        strfmt(ch->last_error, sizeof ch->last_error, "%s", o->text[0] ? o->text : a.reason);
    ch->qr_valid = false;
    ch->health_fail = 0;
    if (a.quarantine)
        quarantine_loggedout(ch, a.reason);
    else if (a.notify)
        notice(ch, outcome_kind(o->cls), a.reason);
    if (!a.retry) {
        drop_outage(ch, a.reason);
        ch->retry_pending = false;
        set_state(ch, a.next, a.reason, NO_RETRY);
        return;
    }
    if (o->cls == WA_OC_TRANSIENT) track_down(ch);
    ch->attempts++;
    chmetrics_failed_attempt(ch->metrics, ch->account, o);
    ch->retry_hold = a.hold;
    ch->retry_kick = false;
    schedule(ch, a.delay_ms);
    if (o->kind == WA_OUT_TRANSPORT && o->net.stage == NOUT_DNS) dnsprobe_start(ch->probe);
    if (a.next == GW_CH_CONNECTING) /* at once: the attempt makes the transition */
        strfmt(ch->attempt_reason, sizeof ch->attempt_reason, "%s", a.reason);
    else
        set_state(ch, a.next, a.reason, a.delay_ms);
}

/* A local failure (store, credentials, client creation) counts as a transient outcome. */
static void local_failure(struct gw_channel *ch, const char *what, int err)
{
    struct wa_outcome o = {.kind = WA_OUT_NONE, .cls = WA_OC_TRANSIENT};
    strfmt(o.text, sizeof o.text, "%s: %s", what, ch->detail[0] ? ch->detail : strerror(-err));
    handle_outcome(ch, &o);
}

/* Once per opened database: the inbox's cursors against the marker (gw/cursormark.h); a
 * database older than the one last written is told (cursors continue above the old ones). */
static void check_cursors(struct gw_channel *ch)
{
    char dir[PATH_MAX], text[400];
    account_dir(ch, dir, sizeof dir);
    int r = cursormark_open(&ch->mark, dir, ch->db, !ch->have_creds, text, sizeof text);
    ch->mark_open = true;
    if (r < 0 || (r == 0 && text[0])) log_warn(COMP, ch->account, "%s", text);
    if (r != 1) return;
    notice(ch, GW_NOTE_CURSOR_RESET, text);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddNumberToObject(d, "epoch", (double)ch->mark.epoch);
    cJSON_AddNumberToObject(d, "missed_from", (double)ch->mark.reset_from);
    cJSON_AddNumberToObject(d, "missed_to", (double)ch->mark.reset_to);
    cJSON_AddStringToObject(d, "text", text);
    publish(ch, "inbox.cursor_reset", d);
}

static void attempt(struct gw_channel *ch)
{
    dnsprobe_stop(ch->probe);
    ch->retry_pending = false;
    ch->detail[0] = '\0';
    if (!ch->db) {
        int r = open_store(ch);
        if (r == 1) return;
        if (r < 0) return local_failure(ch, "store", r);
    }
    if (!ch->have_creds) {
        int r = load_creds(ch);
        if (r == -EUCLEAN) {
            close_store(ch);
            char np[PATH_MAX + 64];
            if (move_aside(ch, "badcreds", np, sizeof np) == 0)
                notice(ch, GW_NOTE_LOGGED_OUT,
                       "stored credentials are invalid: database moved aside");
            set_state(ch, GW_CH_LOGGED_OUT, "invalid stored credentials", NO_RETRY);
            return;
        }
        if (r < 0) {
            strfmt(ch->detail, sizeof ch->detail, "%s", st_db_last_error(ch->db));
            return local_failure(ch, "credentials", r);
        }
    }
    if (!ch->mark_open) check_cursors(ch);
    if (!ch->client) {
        int r = new_client(ch);
        if (r < 0) return local_failure(ch, "client", r);
    }
    if (!ch->sess) {
        struct wa_session_opts so = {.client = ch->client,
                                     .db = ch->db,
                                     .sg = ch->sg,
                                     .creds = &ch->creds,
                                     .batch = true,
                                     .commit_window_ms = CHANNEL_COMMIT_WINDOW_MS,
                                     .retry_gap_ms = ch->cfg.wa_repair_gap_ms,
                                     .retry_wait_ms = ch->cfg.wa_repair_wait_ms,
                                     .store_peers = ch->cfg.wa_repair_store_peers,
                                     .store_window_ms = ch->cfg.wa_repair_window_s * 1000u,
                                     .phone_delay_ms = ch->cfg.wa_repair_phone_delay_ms};
        int r = wa_session_new(&so, chmsg_events(ch->msg), &ch->sess);
        if (r < 0) return local_failure(ch, "session", r);
    }
    bool pairing = !wa_creds_is_paired(&ch->creds);
    int r = wa_client_start(ch->client, &ch->creds, &ch->store);
    if (r < 0) {
        drop_client(ch);
        return local_failure(ch, "session", r);
    }
    char reason[240];
    strfmt(reason, sizeof reason, "%s%s%s", ch->attempt_reason, ch->attempt_reason[0] ? ": " : "",
           pairing ? "pairing a new device" : "logging in with the stored credentials");
    ch->attempt_reason[0] = '\0';
    set_state(ch, GW_CH_CONNECTING, reason, NO_RETRY);
}

static void on_retry(uv_timer_t *t)
{
    struct gw_channel *ch = t->data;
    if (ch->closing) return;
    if (ch->retry_kick) ch->last_kick = now(ch);
    ch->retry_kick = false;
    attempt(ch);
}

/* Tear the running session down and treat it as outcome o (health, watchdog). */
static void end_session(struct gw_channel *ch, const char *text)
{
    struct wa_outcome o = {.kind = WA_OUT_KEEPALIVE, .cls = WA_OC_TRANSIENT, .code = 408};
    strfmt(o.text, sizeof o.text, "%s", text);
    drop_client(ch);
    handle_outcome(ch, &o);
}

/* ---- a store that cannot write (fault-matrix rows 30, 31) ---- */

static void force_attempt(struct gw_channel *ch, const char *why);

/* Degraded: try one real write (the credentials row, unchanged, in its own transaction: a
 * failure rolls back and leaves the stored row as it was). Once it commits, reconnect: the
 * server redelivers what was refused (nothing of it was acknowledged). */
static void probe_store(struct gw_channel *ch)
{
    ch->last_probe = now(ch);
    if (!ch->db || !ch->have_creds) return;
    /* rewriting the credentials reuses pages, so it succeeds on a disk that is still full:
     * a message needs new ones, so ask for some headroom as well */
    char dir[PATH_MAX];
    account_dir(ch, dir, sizeof dir);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < CHANNEL_PROBE_FREE) {
        log_debug(COMP, ch->account, "store probe: %llu bytes free, below %u",
                  (unsigned long long)vfs.f_bavail * vfs.f_frsize, CHANNEL_PROBE_FREE);
        return;
    }
    int r = wa_creds_store(ch->db, &ch->creds);
    if (r < 0) {
        log_debug(COMP, ch->account, "store probe: still failing: %s", st_db_last_error(ch->db));
        return;
    }
    log_info(COMP, ch->account,
             "the store writes again: reconnecting so that the server redelivers what was refused");
    if (!ch->closing) /* resolved once it stayed writable (a nearly full disk flaps) */
        (void)gw_notify_resolve_after(ch->notify, GW_NOTE_DISK, ch->account,
                                      "the store writes again", CHANNEL_DISK_SETTLE_MS);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    publish(ch, "channel.storage_restored", d);
    force_attempt(ch, "the store writes again");
}

/* A message could not be stored (chmsg): it was not acknowledged. While logged in (or once
 * the login it came in during completes), the channel is degraded (one alert) until a probe
 * write succeeds. */
static void on_store_error(void *ud, int err)
{
    struct gw_channel *ch = ud;
    if (ch->closing) return;
    if (ch->state == GW_CH_CONNECTING && ch->client) {
        ch->store_err = err; /* an offline stanza: degraded once the login completes */
        return;
    }
    if (ch->state != GW_CH_CONNECTED) return;
    char why[300];
    strfmt(why, sizeof why,
           "the store cannot write (%s): nothing is acknowledged, the server keeps the "
           "messages; probing every %u s",
           strerror(-err), CHANNEL_PROBE_MS / 1000);
    strfmt(ch->last_error, sizeof ch->last_error, "store: %s", strerror(-err));
    notice(ch, GW_NOTE_DISK, why);
    ch->last_probe = now(ch);
    set_state(ch, GW_CH_DEGRADED, why, NO_RETRY);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "error", strerror(-err));
    cJSON_AddStringToObject(d, "text", why);
    publish(ch, "channel.degraded", d);
}

static void on_tick(uv_timer_t *t)
{
    struct gw_channel *ch = t->data;
    if (ch->closing) return;
    if (ch->qr_valid && now(ch) >= ch->qr_expires) ch->qr_valid = false;
    if (ch->down_since && (ch->state == GW_CH_BACKOFF || ch->state == GW_CH_CONNECTING))
        track_down(ch);
    if (ch->state == GW_CH_CONNECTING && ch->client && now(ch) - ch->since_mono > CHANNEL_STUCK_MS)
        end_session(ch, "watchdog: session stuck while connecting");
    if (ch->state == GW_CH_DEGRADED && now(ch) - ch->last_probe >= CHANNEL_PROBE_MS)
        probe_store(ch);
    if (ch->db && ++ch->release_ticks >= CHANNEL_RELEASE_TICKS) { /* idle or not: cheap */
        ch->release_ticks = 0;
        st_db_release_memory(ch->db);
    }
    if (ch->mark_open && ch->state != GW_CH_DEGRADED) {
        int r = cursormark_tick(&ch->mark, chmsg_last_cursor(ch->msg));
        if (r < 0) log_debug(COMP, ch->account, "inbox marker: %s", strerror(-r));
    }
}

/* ---- client callbacks ---- */

static void cb_qr(void *ud, const char *qr, unsigned valid_ms)
{
    struct gw_channel *ch = ud;
    strfmt(ch->qr, sizeof ch->qr, "%s", qr);
    ch->qr_valid = true;
    ch->qr_expires = now(ch) + valid_ms;
    if (ch->state != GW_CH_PAIRING)
        set_state(ch, GW_CH_PAIRING, "QR code ready: scan it with the phone", NO_RETRY);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "qr", qr);
    cJSON_AddNumberToObject(d, "valid_ms", valid_ms);
    publish(ch, "channel.qr", d);
}

static int cb_paired(void *ud, const struct wa_creds *c)
{
    struct gw_channel *ch = ud;
    int r = save_creds(ch, c);
    if (r == 0) {
        log_info(COMP, ch->account, "paired as %s (%s); credentials stored", c->me_pn,
                 c->platform[0] ? c->platform : "unknown platform");
        mark_linked(ch);
        char text[160];
        strfmt(text, sizeof text, "linked again as %s", c->me_pn);
        resolved(ch, GW_NOTE_LOGGED_OUT, text);
    }
    return r;
}

static int cb_creds(void *ud, const struct wa_creds *c)
{
    return save_creds(ud, c);
}

static void cb_connected(void *ud, const char *lid, unsigned offline)
{
    struct gw_channel *ch = ud;
    bool first = !ch->ever_connected;
    ch->qr_valid = false;
    ch->health_fail = 0;
    chpolicy_connected(&ch->pol, now(ch));
    char reason[320];
    strfmt(reason, sizeof reason, "logged in as %s, %u offline stanza%s", ch->creds.me_pn, offline,
           offline == 1 ? "" : "s");
    set_state(ch, GW_CH_CONNECTED, reason, NO_RETRY);
    if (ch->store_err) {
        int e = ch->store_err;
        ch->store_err = 0;
        on_store_error(ch, e);
        return;
    }
    if (ch->ever_connected) {
        ch->reconnects++;
        metric_add(ch, "wagate_channel_reconnects_total", 1);
        chmetrics_reconnect(ch->metrics, ch->account, ch->lost_cause);
    }
    ch->lost_cause = NULL;
    ch->ever_connected = true;
    ch->up_since_wall_ms = wall_ms();
    metric_set(ch, "wagate_channel_connected_since_seconds", (double)(ch->up_since_wall_ms / 1000));
    if (ch->repair_upload) { /* after a store-wide repair: fresh one-time pre-keys */
        ch->repair_upload = false;
        int r = wa_client_prekey_topup(ch->client, 0);
        if (r < 0) log_warn(COMP, ch->account, "pre-key upload after the repair: %s", strerror(-r));
    }
    resolved(ch, GW_NOTE_CONFLICT, "connected again: no other client holds the session");
    resolved(ch, GW_NOTE_BANNED, "the ban is over: connected again");
    resolved(ch, GW_NOTE_UPDATE_REQUIRED, "the server accepts the client again: connected");
    /* at the first connection a disk problem can only be one raised before a restart (kept by
     * gw/notify.h): resolved once the store stayed writable */
    if (first && !ch->closing && gw_notify_is_open(ch->notify, GW_NOTE_DISK, ch->account))
        (void)gw_notify_resolve_after(ch->notify, GW_NOTE_DISK, ch->account,
                                      "the store writes again", CHANNEL_DISK_SETTLE_MS);
    end_outage(ch);
    chmedia_set_client(ch->media, ch->client); /* media_conn, then what is still to fetch */
    chmsend_set_client(ch->msend, ch->client); /* ... and to upload */
}

static void cb_close(void *ud, const struct wa_outcome *o)
{
    handle_outcome(ud, o);
}

static void cb_health(void *ud, bool ok, unsigned rtt_ms, unsigned failing_ms)
{
    struct gw_channel *ch = ud;
    if (ok) {
        ch->health_fail = 0;
        return;
    }
    if (++ch->health_fail < HEALTH_MISS) return;
    char text[128];
    strfmt(text, sizeof text, "health: %u keepalive pings unanswered (%u ms)", ch->health_fail,
           failing_ms);
    end_session(ch, text);
}

/* Signed pre-key rotation (wa/spkrot.c) over the account's database (store/spkstore.h). A
 * transaction of someone else's is never joined: -EBUSY, and the client tries again later. */
static int spk_state(void *ud, uint32_t id, struct wa_spk_state *out)
{
    struct gw_channel *ch = ud;
    struct st_spk_info i;
    int r = ch->db ? st_spk_info(ch->db, id, &i) : -ENOTCONN;
    if (r == 0) *out = (struct wa_spk_state){i.created, i.uploaded, i.oldest_retired};
    return r;
}

static int spk_rotate(void *ud, const struct wa_creds *nc, const uint8_t *rec, size_t len,
                      int64_t now)
{
    struct gw_channel *ch = ud;
    if (!ch->db) return -ENOTCONN;
    if (st_db_in_txn(ch->db)) return -EBUSY;
    int r = wa_creds_store_spk(ch->db, nc, rec, len, now);
    if (r < 0) {
        log_error(COMP, ch->account, "storing the new signed pre-key: %s",
                  st_db_last_error(ch->db));
        return r;
    }
    ch->creds = *nc;
    metric_add(ch, "wagate_channel_signed_prekey_rotations_total", 1);
    return 0;
}

static int spk_acked(void *ud, uint32_t id, int64_t now)
{
    struct gw_channel *ch = ud;
    if (!ch->db) return -ENOTCONN;
    return st_db_in_txn(ch->db) ? -EBUSY : st_spk_mark_uploaded(ch->db, id, now);
}

static int spk_prune(void *ud, uint32_t current, int64_t before, unsigned keep_max)
{
    struct gw_channel *ch = ud;
    if (!ch->db) return -ENOTCONN;
    return st_db_in_txn(ch->db) ? -EBUSY : st_spk_prune(ch->db, current, before, keep_max);
}

static const struct wa_spk_ops spk_ops = {
    .state = spk_state, .rotate = spk_rotate, .acked = spk_acked, .prune = spk_prune};

static const struct wa_client_cbs client_cbs = {
    .spk = &spk_ops,
    .on_qr = cb_qr,
    .on_paired = cb_paired,
    .on_creds = cb_creds,
    .on_connected = cb_connected,
    .on_close = cb_close,
    .on_health = cb_health,
};

/* ---- public API ---- */

/* The resolver probe saw the endpoint's name resolve again: cut the backoff short. */
static void probe_resolved(void *ud)
{
    gw_channel_retry_now(ud, "dns: the name resolves again");
}

/* The exec hook's replies (gw/chhook.h) go through the channel's send. */
static int hook_send(void *ud, const struct wa_outmsg *m, struct gw_send_result *r)
{
    return gw_channel_send(ud, m, r);
}

/* The exec hook's "composing" / "paused" while it runs (hooks.exec.typing). */
static void hook_typing(void *ud, const char *chat, const char *state)
{
    struct gw_channel *ch = ud;
    char err[128];
    if (ch->sess && wa_session_chatstate(ch->sess, chat, state, err, sizeof err) < 0)
        log_debug(COMP, ch->account, "chatstate %s to %s: %s", state, chat, err);
}

/* A message the exec hook handled: its read receipt (whatsapp.mark_read "on_handled"). */
static void hook_handled(void *ud, const char *chat, const char *sender, const char *id)
{
    struct gw_channel *ch = ud;
    if (!ch->cfg.mark_read || !ch->sess) return;
    int rc = wa_session_mark_read(ch->sess, chat, sender, id);
    if (rc < 0) log_debug(COMP, ch->account, "read receipt %s: %s", id, strerror(-rc));
}

int gw_channel_chatstate(struct gw_channel *ch, const char *to, const char *state, char *err,
                         size_t errlen)
{
    if (!ch->sess) {
        snprintf(err, errlen, "the account is not connected");
        return -EAGAIN;
    }
    int rc = wa_session_chatstate(ch->sess, to, state, err, errlen);
    return rc == -ENOTCONN ? -EAGAIN : rc;
}

/* The exec hook asks the access policy before it starts a stored row (gw/access.h). */
static bool hook_admit(void *ud, const struct wa_inmsg *m)
{
    struct gw_channel *ch = ud;
    return gw_access_admit(ch->access, &ch->creds, m);
}

/* A received file reached its final state: the event, and the hook may run now. */
static void msend_kick(void *ud)
{
    struct gw_channel *ch = ud;
    wa_session_kick(ch->sess);
}

static void msend_failed(void *ud, const char *id, const char *err)
{
    struct gw_channel *ch = ud;
    chmsg_state(ch->msg, id, ST_OUT_FAILED, err);
}

static void media_done(void *ud, int64_t cursor, const struct st_mfile *f)
{
    struct gw_channel *ch = ud;
    metric_add(ch,
               f->state == ST_MF_DONE ? "wagate_channel_media_fetched_total"
                                      : "wagate_channel_media_failed_total",
               1);
    struct st_inbox_msg *v = NULL;
    size_t n = 0;
    if (ch->db && st_inbox_list(ch->db, cursor - 1, 1, &v, &n) == 0 && n == 1 &&
        v[0].cursor == cursor) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "account", ch->account);
        cJSON_AddNumberToObject(d, "cursor", (double)cursor);
        cJSON_AddStringToObject(d, "id", v[0].msg_id ? v[0].msg_id : "");
        cJSON_AddStringToObject(d, "chat", v[0].chat ? v[0].chat : "");
        gw_json_add_file(d, ch->account, cursor, f);
        publish(ch, "message.media", d);
    }
    st_inbox_list_free(v, n);
    chhook_wake(ch->hook);
}

static int settle_sends(void *ud)
{
    return gw_channel_settle(ud);
}

static void send_durable(void *ud, const struct gw_send_result *r)
{
    struct gw_channel *ch = ud;
    chmsg_sent(ch->msg, r);
}

static struct st_db *access_db(void *ud)
{
    return ((struct gw_channel *)ud)->db;
}

int gw_channel_new(uv_loop_t *loop, const struct gw_channel_opts *o, struct gw_channel **out)
{
    *out = NULL;
    if (!loop || !o || !o->account || !cfg_account_id_valid(o->account) || !o->state_dir || !o->cfg)
        return -EINVAL;
    struct gw_channel *ch = calloc(1, sizeof *ch);
    if (!ch) return -ENOMEM;
    ch->loop = loop;
    strfmt(ch->account, sizeof ch->account, "%s", o->account);
    int n =
        snprintf(ch->dbpath, sizeof ch->dbpath, "%s/accounts/%s/wa.db", o->state_dir, o->account);
    if (n < 0 || (size_t)n >= sizeof ch->dbpath) {
        free(ch);
        return -EINVAL;
    }
    ch_wa_cfg_copy(&ch->cfg, o->cfg);
    for (unsigned i = 0; i < ch->cfg.wa_dns_count && i < CFG_MAX_DNS; i++)
        ch->dns[i] = ch->cfg.wa_dns_servers[i];
    ch->ka_min = o->keepalive_min_ms;
    ch->ka_max = o->keepalive_max_ms;
    ch->ka_deadline = o->keepalive_deadline_ms;
    ch->down_notice_ms = o->down_notice_ms > 0           ? (uint64_t)o->down_notice_ms
                         : ch->cfg.notify_outage_after_s ? ch->cfg.notify_outage_after_s * 1000ull
                                                         : CHANNEL_DOWN_NOTICE_MS;
    ch->events = o->events;
    ch->metrics = o->metrics;
    ch->notify = o->notify;
    if (!ch->notify) { /* a channel of its own (tests): a private notifier over its copy */
        struct gw_notify_opts no = {.loop = loop, .cfg = o->cfg, .events = o->events};
        if (gw_notify_new(&no, &ch->notify) < 0) {
            free(ch);
            return -ENOMEM;
        }
        ch->own_notify = true;
    }
    ch->state = GW_CH_STOPPED;
    ch->since_mono = uv_now(loop);
    ch->since_wall_ms = wall_ms();
    chpolicy_init(&ch->pol, NULL, NULL);
    chpolicy_set_backoff(&ch->pol, ch->cfg.wa_backoff_base_ms, ch->cfg.wa_backoff_cap_ms);
    struct chhook_opts ho = {.account = ch->account,
                             .creds = &ch->creds,
                             .cfg = o->cfg,
                             .events = o->events,
                             .send = hook_send,
                             .send_ud = ch,
                             .admit = hook_admit,
                             .admit_ud = ch,
                             .typing = hook_typing,
                             .handled = hook_handled};
    struct gw_access_opts ao = {.loop = loop,
                                .account = ch->account,
                                .cfg = o->cfg,
                                .events = o->events,
                                .metrics = o->metrics,
                                .send = hook_send,
                                .send_ud = ch,
                                .db = access_db,
                                .db_ud = ch};
    struct gw_webhook_opts wo = {
        .account = ch->account, .cfg = o->cfg, .events = o->events, .metrics = o->metrics};
    ch->msg = chmsg_new(ch->account, &ch->creds, o->events, o->metrics);
    if (!ch->msg || chhook_new(loop, &ho, &ch->hook) < 0 || gw_access_new(&ao, &ch->access) < 0 ||
        gw_webhook_new(loop, &wo, &ch->webhook) < 0) {
        gw_access_free(ch->access);
        chhook_close(ch->hook);
        chmsg_free(ch->msg);
        if (ch->own_notify) gw_notify_close(ch->notify);
        free(ch);
        return -ENOMEM;
    }
    chmsg_set_hook(ch->msg, ch->hook);
    chmsg_set_access(ch->msg, ch->access);
    chmsg_set_repair(ch->msg, want_repair, ch);
    if (dnsprobe_new_for_url(loop, ch->cfg.wa_endpoint, ch->cfg.wa_dns_count ? ch->dns : NULL,
                             ch->cfg.wa_dns_count, probe_resolved, ch, &ch->probe) < 0)
        ch->probe = NULL; /* no probe: the backoff alone then */
    chmsg_on_store_error(ch->msg, on_store_error, ch);
    char mdir[PATH_MAX];
    account_dir(ch, mdir, sizeof mdir - 8);
    strncat(mdir, "/media", sizeof mdir - strlen(mdir) - 1);
    const struct wg_config *c = o->cfg;
    struct chmedia_opts mo = {.loop = loop,
                              .account = ch->account,
                              .dir = mdir,
                              .ca_file = c->media_ca_file[0] ? c->media_ca_file : c->wa_tls_ca_file,
                              .budget = (uint64_t)c->media_max_mb << 20,
                              .keep_days = c->media_keep_days,
                              .creds = &ch->creds,
                              .on_file = media_done,
                              .ud = ch};
    if (chmedia_new(&mo, &ch->media) < 0) ch->media = NULL; /* files stay pending */
    chmsg_set_media(ch->msg, ch->media);
    account_dir(ch, mdir, sizeof mdir - 12);
    strncat(mdir, "/outmedia", sizeof mdir - strlen(mdir) - 1);
    struct chmsend_opts so_m = {.loop = loop,
                                .account = ch->account,
                                .dir = mdir,
                                .ca_file = mo.ca_file,
                                .creds = &ch->creds,
                                .kick_sender = msend_kick,
                                .on_failed = msend_failed,
                                .ud = ch};
    if (chmsend_new(&so_m, &ch->msend) < 0) ch->msend = NULL; /* media sends refused */
    chmsg_set_msend(ch->msg, ch->msend);
    struct gw_sendwait_ops so = {.settle = settle_sends, .on_durable = send_durable, .ud = ch};
    if (gw_sendwait_new(loop, &so, &ch->sw) < 0) ch->sw = NULL; /* then each send commits alone */
    uv_timer_init(loop, &ch->retry_timer);
    uv_timer_init(loop, &ch->tick);
    uv_timer_init(loop, &ch->repair_timer);
    ch->retry_timer.data = ch->tick.data = ch->repair_timer.data = ch;
    ch->open_handles = 3;
    chmetrics_declare(ch->metrics, ch->account, ch->state);
    chmetrics_live_start(&ch->live, ch->metrics, ch->account);
    *out = ch;
    return 0;
}

void gw_channel_start(struct gw_channel *ch)
{
    if (ch->closing || ch->state != GW_CH_STOPPED) return;
    chpolicy_reset(&ch->pol);
    set_state(ch, GW_CH_STARTING, "start", NO_RETRY);
    schedule(ch, 0);
}

static void handle_closed(uv_handle_t *h)
{
    struct gw_channel *ch = h->data;
    if (--ch->open_handles > 0) return;
    void (*cb)(void *) = ch->close_cb;
    void *arg = ch->close_arg;
    free(ch);
    if (cb) cb(arg);
}

void gw_channel_close(struct gw_channel *ch, void (*cb)(void *arg), void *arg)
{
    if (!ch || ch->closing) return;
    if (ch->state != GW_CH_STOPPED)
        log_info(COMP, ch->account, "%s -> stopped (operator stop)", gw_ch_state_name(ch->state));
    ch->closing = true;
    ch->close_cb = cb;
    ch->close_arg = arg;
    drop_client(ch);
    chmedia_free(ch->media);
    ch->media = NULL;
    chmsend_free(ch->msend);
    ch->msend = NULL;
    chmsg_set_msend(ch->msg, NULL);
    gw_sendwait_close(ch->sw); /* the sender is gone: what it held is answered now */
    ch->sw = NULL;
    close_store(ch);
    chmetrics_live_stop(&ch->live);
    dnsprobe_close(ch->probe);
    ch->probe = NULL;
    chhook_close(ch->hook); /* kills running hook commands; frees itself when reaped */
    ch->hook = NULL;
    gw_webhook_close(ch->webhook); /* cancels the requests in flight (rows stay pending) */
    ch->webhook = NULL;
    gw_access_free(ch->access);
    ch->access = NULL;
    chmsg_free(ch->msg);
    ch->msg = NULL;
    gw_notify_link(ch->notify, ch->account, false);
    if (ch->own_notify) gw_notify_close(ch->notify);
    ch->notify = NULL;
    uv_timer_stop(&ch->retry_timer);
    uv_timer_stop(&ch->tick);
    uv_close((uv_handle_t *)&ch->retry_timer, handle_closed);
    uv_close((uv_handle_t *)&ch->tick, handle_closed);
    uv_timer_stop(&ch->repair_timer);
    uv_close((uv_handle_t *)&ch->repair_timer, handle_closed);
}

void gw_channel_detach_api(struct gw_channel *ch)
{
    ch->events = NULL;
    chmetrics_live_stop(&ch->live);
    ch->metrics = NULL;
    chmsg_detach_api(ch->msg);
    gw_sendwait_detach(ch->sw);
    chhook_detach_api(ch->hook);
    gw_webhook_detach_api(ch->webhook);
    if (ch->own_notify) gw_notify_detach_api(ch->notify);
    gw_access_detach_api(ch->access);
}

struct gw_webhook *gw_channel_webhook(const struct gw_channel *ch)
{
    return ch->webhook;
}

struct gw_access *gw_channel_access(const struct gw_channel *ch)
{
    return ch->access;
}

const char *gw_channel_account(const struct gw_channel *ch)
{
    return ch->account;
}

enum gw_ch_state gw_channel_state(const struct gw_channel *ch)
{
    return ch->state;
}

const char *gw_channel_qr(const struct gw_channel *ch, unsigned *left_ms)
{
    if (!ch->qr_valid || ch->state != GW_CH_PAIRING || now(ch) >= ch->qr_expires) return NULL;
    if (left_ms) *left_ms = (unsigned)(ch->qr_expires - now(ch));
    return ch->qr;
}

void gw_channel_status(const struct gw_channel *ch, struct gw_channel_status *st)
{
    uint64_t t = now(ch);
    *st = (struct gw_channel_status){
        .account = ch->account,
        .state = ch->state,
        .since_wall_ms = ch->since_wall_ms,
        .last_error = ch->last_error,
        .jid = gw_channel_jid(ch),
        .retry_pending =
            ch->retry_pending && (ch->state == GW_CH_BACKOFF || ch->state == GW_CH_CONFLICT),
        .next_retry_wall_ms = ch->retry_wall_ms,
        .next_retry_ms = ch->retry_at > t ? ch->retry_at - t : 0,
        .reconnects = ch->reconnects,
        .attempts = ch->attempts,
        .down_since_wall_ms = ch->down_since ? ch->down_since_wall_ms : 0,
        .up_since_wall_ms = ch->state == GW_CH_CONNECTED ? ch->up_since_wall_ms : 0,
        .queued = -1,
        .qr_available = gw_channel_qr(ch, NULL) != NULL,
    };
    bool linking = (ch->state == GW_CH_PAIRING || ch->state == GW_CH_CONNECTING) && ch->client &&
                   !wa_creds_is_paired(&ch->creds) && wa_client_state(ch->client) <= WA_CS_PAIRING;
    if (linking) {
        st->pairing_phone = wa_client_pair_phone_pending(ch->client);
        st->pairing_method = st->pairing_phone ? "code" : "qr";
    }
    size_t q = 0;
    if (ch->db && st_outbox_count_queued(ch->db, &q) == 0) st->queued = (long long)q;
    struct gw_webhook_stats ws;
    gw_webhook_get_stats(ch->webhook, &ws);
    st->webhook_endpoints = ws.endpoints;
    st->webhook_backlog = ws.backlog;
    st->webhook_dead = ws.dead;
    st->webhook_delivered = ws.delivered;
    st->webhook_last_error = gw_webhook_last_error(ch->webhook);
    st->webhook = ch->webhook;
    st->webhook_list = gw_webhook_endpoints_json;
}

/* Operator-driven new attempt now: end any session. The backoff is not reset: if this attempt
 * fails too, the next delay continues where it was (repeated restarts cannot spin). */
static void force_attempt(struct gw_channel *ch, const char *why)
{
    ch->last_kick = now(ch);
    drop_client(ch);
    strfmt(ch->attempt_reason, sizeof ch->attempt_reason, "%s", why);
    ch->retry_pending = false;
    uv_timer_stop(&ch->retry_timer);
    attempt(ch);
}

/* An attempt still in its transport stages (DNS, connect, TLS, upgrade) for at least
 * CHANNEL_KICK_MIN_MS: after a network change its lookup or connect may wait on a path that is
 * gone (a silent resolver keeps a lookup for its whole timeout), so it is begun again. */
static bool transport_stuck(struct gw_channel *ch)
{
    return ch->state == GW_CH_CONNECTING && ch->client &&
           wa_client_state(ch->client) == WA_CS_CONNECTING &&
           now(ch) - ch->since_mono >= CHANNEL_KICK_MIN_MS;
}

bool gw_channel_retry_now(struct gw_channel *ch, const char *why)
{
    if (!ch->closing && transport_stuck(ch)) {
        uint64_t gap = ch->last_kick ? now(ch) - ch->last_kick : UINT64_MAX;
        if (gap < CHANNEL_KICK_MIN_MS) return false;
        log_info(COMP, ch->account,
                 "connecting again (%s): the attempt was still in %llu ms of "
                 "transport",
                 why, (unsigned long long)(now(ch) - ch->since_mono));
        force_attempt(ch, why);
        return true;
    }
    bool waiting = ch->retry_pending && !ch->retry_hold && ch->state == GW_CH_BACKOFF;
    if (ch->closing || !waiting) return false;
    uint64_t t = now(ch), left = ch->retry_at > t ? ch->retry_at - t : 0;
    uint64_t gap = ch->last_kick ? t - ch->last_kick : UINT64_MAX;
    if (gap < CHANNEL_KICK_MIN_MS) { /* too soon after the last early attempt: move it up */
        uint64_t wait = CHANNEL_KICK_MIN_MS - gap;
        if (wait >= left) return false;
        log_info(COMP, ch->account, "retrying in %llu ms (%s) instead of in %llu ms",
                 (unsigned long long)wait, why, (unsigned long long)left);
        strfmt(ch->attempt_reason, sizeof ch->attempt_reason, "%s", why);
        ch->retry_kick = true;
        schedule(ch, wait);
        return true;
    }
    log_info(COMP, ch->account, "retrying now (%s) instead of in %llu ms", why,
             (unsigned long long)left);
    force_attempt(ch, why);
    return true;
}

int gw_channel_restart(struct gw_channel *ch, const char *why)
{
    if (ch->state == GW_CH_LOGGED_OUT) return -EPERM;
    force_attempt(ch, why ? why : "operator restart");
    return 0;
}

/* Operator logout: end the session, move the database aside like a logout by the phone
 * (never deleted), stop retrying. */
int gw_channel_logout(struct gw_channel *ch)
{
    if (ch->closing) return -ECANCELED;
    if (ch->state == GW_CH_LOGGED_OUT && !ch->db && access(ch->dbpath, F_OK) != 0) return -EALREADY;
    drop_client(ch);
    ch->retry_pending = false;
    uv_timer_stop(&ch->retry_timer);
    close_store(ch);
    char np[PATH_MAX + 64] = "", text[PATH_MAX + 160];
    bool had_db = access(ch->dbpath, F_OK) == 0;
    int r = had_db ? move_aside(ch, "loggedout", np, sizeof np) : 0;
    if (r < 0) {
        strfmt(text, sizeof text, "logged out; could not move the database aside: %s",
               strerror(-r));
        notice(ch, GW_NOTE_LOGGED_OUT, text);
        set_state(ch, GW_CH_LOGGED_OUT, "operator logout", NO_RETRY);
        return r;
    }
    strfmt(text, sizeof text, "logged out by the operator%s%s; link again with login",
           had_db ? ": the old database was kept as " : "", np);
    notice(ch, GW_NOTE_LOGGED_OUT, text);
    drop_outage(ch, "logged out by the operator");
    set_state(ch, GW_CH_LOGGED_OUT, "operator logout", NO_RETRY);
    return 0;
}

static bool unlinked(const struct gw_channel *ch)
{
    if (ch->state == GW_CH_LOGGED_OUT) return true;
    return ch->have_creds && !wa_creds_is_paired(&ch->creds);
}

void gw_channel_login(struct gw_channel *ch, struct gw_login_result *r)
{
    bool stuck = ch->state == GW_CH_CONNECTING && now(ch) - ch->since_mono > 15000;
    *r = (struct gw_login_result){.action = "none"};
    if (ch->state == GW_CH_CONNECTED || ch->state == GW_CH_STARTING ||
        (ch->state == GW_CH_CONNECTING && !stuck)) {
        r->action = ch->state == GW_CH_CONNECTED ? "already linked" : "in progress";
    } else if (ch->state == GW_CH_PAIRING && gw_channel_qr(ch, NULL)) {
        r->action = "scan the QR code";
    } else {
        bool pair = unlinked(ch);
        if (ch->state == GW_CH_LOGGED_OUT) { /* the owner links anew: a fresh database is fine */
            char dir[PATH_MAX];
            account_dir(ch, dir, sizeof dir);
            state_linked_clear(dir);
        }
        r->action = pair ? "pairing" : "linked; reconnecting now with the stored credentials";
        r->started = true;
        force_attempt(ch, pair ? "login: pairing" : "login: force restart");
    }
}

/* A session is running that pairs a new device (a code may be requested on it). */
static bool pairing_session(const struct gw_channel *ch)
{
    enum wa_client_state s = ch->client ? wa_client_state(ch->client) : WA_CS_IDLE;
    return s >= WA_CS_CONNECTING && s <= WA_CS_PAIRING && !wa_creds_is_paired(&ch->creds) &&
           (ch->state == GW_CH_CONNECTING || ch->state == GW_CH_PAIRING);
}

int gw_channel_login_phone(struct gw_channel *ch, const char *phone, struct gw_login_code *r)
{
    char code[WA_PAIRCODE_LEN + 1];
    *r = (struct gw_login_code){0};
    if (ch->closing) return -ECANCELED;
    if (wa_paircode_phone(phone, r->phone) < 0) return -EINVAL;
    if (ch->state == GW_CH_CONNECTED ||
        (ch->have_creds && wa_creds_is_paired(&ch->creds) && ch->state != GW_CH_LOGGED_OUT))
        return -EISCONN;
    if (!pairing_session(ch)) {
        struct gw_login_result lr;
        gw_channel_login(ch, &lr);
        if (!pairing_session(ch)) return -EAGAIN;
    }
    int rc = wa_client_pair_phone(ch->client, r->phone, code, &r->valid_ms);
    if (rc == -EBUSY) {
        const char *pending = wa_client_pair_phone_pending(ch->client);
        snprintf(r->phone, sizeof r->phone, "%s", pending ? pending : "");
    }
    if (rc < 0 && rc != -EBUSY) return rc == -ENOTCONN ? -EAGAIN : rc;
    wa_paircode_display(code, r->code);
    if (rc == 0) {
        log_info(COMP, ch->account, "pairing code requested for +%s (valid %u s)", r->phone,
                 r->valid_ms / 1000);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "account", ch->account);
        cJSON_AddStringToObject(d, "phone", r->phone);
        cJSON_AddNumberToObject(d, "valid_ms", r->valid_ms);
        publish(ch, "channel.paircode", d); /* the code itself stays with the requester */
    }
    return rc;
}

const char *gw_channel_jid(const struct gw_channel *ch)
{
    return ch->have_creds && ch->creds.me_pn[0] ? ch->creds.me_pn : NULL;
}

static void send_result(const struct st_outbox_msg *row, int rc, struct gw_send_result *r)
{
    snprintf(r->id, sizeof r->id, "%s", row->msg_id ? row->msg_id : "");
    r->state = row->state;
    r->duplicate = rc == ST_DUPLICATE;
}

static int send_one(struct gw_channel *ch, const struct wa_outmsg *m, struct gw_send_result *r)
{
    struct st_outbox_msg row = {0};
    int rc = ch->sess ? wa_session_send(ch->sess, m, &row, r->error, sizeof r->error)
                      : wa_outbox_enqueue(ch->db, &ch->creds, m, &row, r->error, sizeof r->error);
    if (rc < 0) return rc;
    send_result(&row, rc, r);
    st_outbox_msg_free(&row);
    chmsg_sent(ch->msg, r);
    return 0;
}

/* The idempotency key of chunk i (> 0) of a message sent under `key`: "<key>#<i>", or, when
 * that would be too long, "#<sha-256 of key, 40 hex>#<i>". */
static void chunk_key(const char *key, size_t i, char *out, size_t cap)
{
    if (strlen(key) + 8 < ST_IDEM_MAX) {
        snprintf(out, cap, "%s#%zu", key, i);
        return;
    }
    uint8_t h[32];
    char hex[65];
    SHA256((const uint8_t *)key, strlen(key), h);
    hex_encode(hex, h, 20);
    hex[40] = '\0';
    snprintf(out, cap, "#%s#%zu", hex, i);
}

int gw_channel_send(struct gw_channel *ch, const struct wa_outmsg *m, struct gw_send_result *r)
{
    *r = (struct gw_send_result){0};
    /* Between sessions (backoff after a restart, before the first attempt) the row goes
     * straight into the outbox and the next session sends it. Only an account that is not
     * linked has nowhere to send. */
    if (!ch->sess && (!ch->db || !wa_creds_is_paired(&ch->creds))) return -EAGAIN;
    size_t len = m->kind == WA_OM_TEXT && m->text ? strlen(m->text) : 0;
    size_t max = ch->cfg.wa_chunk_size;
    if (len <= max || gw_chunk_count(m->text, len, max) <= 1) return send_one(ch, m, r);
    /* A long text: one outbox row per chunk, each under its own derived key, so a retry of
     * the request sends each chunk once. The quote and mentions go with the first. */
    char *buf = malloc(len + 1);
    if (!buf) return -ENOMEM;
    size_t off = 0, i = 0;
    int rc = 0;
    while (rc == 0 && off < len) {
        size_t skip = 0, n = gw_chunk_next(m->text + off, len - off, max, &skip);
        memcpy(buf, m->text + off, n);
        buf[n] = '\0';
        char key[ST_IDEM_MAX + 16];
        struct wa_outmsg c = *m;
        c.text = buf;
        if (i > 0) {
            c.target = NULL, c.mentions = NULL, c.n_mentions = 0;
            if (m->idem_key) chunk_key(m->idem_key, i, key, sizeof key);
            c.idem_key = m->idem_key ? key : NULL;
        }
        struct gw_send_result one = {0};
        rc = send_one(ch, &c, &one);
        if (rc < 0) {
            snprintf(r->error, sizeof r->error, "chunk %zu: %.200s", i + 1, one.error);
        } else if (i == 0) {
            *r = one;
        } else {
            r->duplicate = r->duplicate && one.duplicate;
        }
        r->chunks = ++i;
        off += n + skip;
    }
    free(buf);
    return rc;
}

int gw_channel_chat_of(struct gw_channel *ch, const char *msg_id, char *chat, size_t cap)
{
    if (!ch->db) return -EAGAIN;
    return st_inbox_chat_of(ch->db, msg_id, chat, cap);
}

int gw_channel_send_deferred(struct gw_channel *ch, const struct wa_outmsg *m,
                             struct gw_send_result *r, struct gw_waiter **w)
{
    *w = NULL;
    size_t len = m->kind == WA_OM_TEXT && m->text ? strlen(m->text) : 0;
    bool chunked =
        len > ch->cfg.wa_chunk_size && gw_chunk_count(m->text, len, ch->cfg.wa_chunk_size) > 1;
    struct gw_waiter *x = ch->sess && !chunked ? gw_sendwait_add(ch->sw) : NULL;
    if (!x) return gw_channel_send(ch, m, r); /* chunks: each commits on its own */
    *r = (struct gw_send_result){0};
    struct st_outbox_msg row = {0};
    bool deferred = false;
    int rc = wa_session_send_deferred(ch->sess, m, &row, gw_sendwait_done, x, &deferred, r->error,
                                      sizeof r->error);
    if (rc >= 0) send_result(&row, rc, r);
    st_outbox_msg_free(&row);
    if (!deferred) {
        gw_sendwait_forget(ch->sw, x);
        if (rc >= 0) chmsg_sent(ch->msg, r);
        return rc < 0 ? rc : 0;
    }
    gw_sendwait_bind(x, r, NULL, NULL, 0);
    *w = x;
    return 0;
}

int gw_channel_settle(struct gw_channel *ch)
{
    return ch->sess ? wa_session_settle(ch->sess) : 0;
}

struct chmsend *gw_channel_msend(struct gw_channel *ch)
{
    return ch->msend;
}

int gw_channel_media_file(struct gw_channel *ch, int64_t cursor, struct st_mfile *out)
{
    return ch->db ? st_mfile_get(ch->db, cursor, out) : -EAGAIN;
}

void gw_channel_media_mime(struct gw_channel *ch, int64_t cursor, char *mime, size_t cap)
{
    struct st_media_row row;
    if (ch->db && st_media_get(ch->db, cursor, &row) == 1 && row.mimetype[0] &&
        !strpbrk(row.mimetype, "\r\n"))
        snprintf(mime, cap, "%s", row.mimetype);
}

int gw_channel_inbox(struct gw_channel *ch, int64_t after, size_t limit, struct st_inbox_msg **v,
                     size_t *n)
{
    if (!ch->db) return -EAGAIN;
    return st_inbox_list(ch->db, after, limit, v, n);
}

void gw_channel_cursors(const struct gw_channel *ch, struct gw_cursor_info *out)
{
    *out = (struct gw_cursor_info){.epoch = ch->mark.epoch ? ch->mark.epoch : 1,
                                   .last = ch->mark.seen,
                                   .missed_from = ch->mark.reset_from,
                                   .missed_to = ch->mark.reset_to};
    if (chmsg_last_cursor(ch->msg) > out->last) out->last = chmsg_last_cursor(ch->msg);
}

int gw_channel_outbox_get(struct gw_channel *ch, const char *id, struct st_outbox_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (!ch->db) return -EAGAIN;
    return st_outbox_get(ch->db, id, out);
}
