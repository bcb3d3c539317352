/* SPDX-License-Identifier: MIT */
/* chsession.c -- part of gw/channel (gw/channel_int.h): a channel's sessions. An attempt
 * (store, credentials, the inbox marker, a wa_client and its wa_session, start), the retry
 * timer, a session's outcome through the policy (gw/chpolicy.h), the outage it may begin
 * (channel.down after down_notice_ms, channel.restored) and the 1 s housekeeping tick (QR
 * expiry, the stuck-connecting watchdog, the degraded store's probe, the page cache, the
 * inbox marker).
 */
#include "gw/chmconn.h"
#include "gw/chmedia.h"
#include "gw/chmsend.h"
#include "gw/channel_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "gw/chmetrics.h"
#include "gw/chmsg.h"
#include "gw/cursormark.h"
#include "gw/dnsprobe.h"
#include "gw/notify.h"
#include "store/db.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/session.h"

/* ---- sessions ---- */

/* The notification a policy decision with `notify` raises. */
static enum gw_note_kind outcome_kind(enum wa_outcome_class cls)
{
    return cls == WA_OC_REPLACED   ? GW_NOTE_CONFLICT
           : cls == WA_OC_TEMP_BAN ? GW_NOTE_BANNED
           : cls == WA_OC_OUTDATED ? GW_NOTE_UPDATE_REQUIRED
                                   : GW_NOTE_ERROR;
}

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
    int r = wa_client_new(ch->loop, &o, &ch_client_cbs, ch, &ch->client);
    if (r < 0) strfmt(ch->detail, sizeof ch->detail, "%s", strerror(-r));
    return r;
}

/* End the session now (no on_close will come) and forget the client. */
void ch_drop_client(struct gw_channel *ch)
{
    ch->store_err = 0;
    chmconn_set_client(ch->mconn, NULL);
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

void ch_schedule(struct gw_channel *ch, uint64_t delay)
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
        ch_metric_set(ch, "wagate_channel_down_since_seconds",
                      (double)(ch->down_since_wall_ms / 1000));
    }
    if (ch->down_notified || t - ch->down_since < ch->down_notice_ms) return;
    ch->down_notified = true;
    ch_metric_add(ch, "wagate_channel_outages_total", 1);
    char text[400];
    strfmt(text, sizeof text, "WhatsApp unreachable for %llu s (%s); still retrying",
           (unsigned long long)((t - ch->down_since) / 1000), ch->last_error);
    ch_notice(ch, GW_NOTE_LINK_DOWN, text);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddNumberToObject(d, "down_since_ms", (double)ch->down_since_wall_ms);
    cJSON_AddNumberToObject(d, "down_s", (double)((t - ch->down_since) / 1000));
    cJSON_AddStringToObject(d, "last_error", ch->last_error);
    ch_publish(ch, "channel.down", d);
}

/* Connected again: the outage (if any) is over. */
void ch_end_outage(struct gw_channel *ch)
{
    uint64_t t = now(ch);
    if (ch->down_notified) {
        char reason[160];
        unsigned long long s = (t - ch->down_since) / 1000;
        strfmt(reason, sizeof reason, "WhatsApp connection restored after %llu s", s);
        ch_resolved(ch, GW_NOTE_LINK_DOWN, reason);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "account", ch->account);
        cJSON_AddNumberToObject(d, "down_s", (double)s);
        ch_publish(ch, "channel.restored", d);
    } else if (gw_notify_is_open(ch->notify, GW_NOTE_LINK_DOWN, ch->account)) {
        /* raised before a restart (gw/notify.h keeps it): this process never saw it begin */
        ch_resolved(ch, GW_NOTE_LINK_DOWN,
                    "WhatsApp connection restored (the outage began before the gateway restarted)");
    }
    ch->down_since = 0;
    ch->down_since_wall_ms = 0;
    ch->down_notified = false;
    ch_metric_set(ch, "wagate_channel_down_since_seconds", 0);
}

/* The channel stops retrying (logged out, stopped): no outage is tracked any more, and an
 * open link_down is resolved (else a later outage would be deduplicated into it). */
void ch_drop_outage(struct gw_channel *ch, const char *why)
{
    if (ch->down_notified) {
        char text[400];
        strfmt(text, sizeof text, "no longer retrying: %s", why);
        ch_resolved(ch, GW_NOTE_LINK_DOWN, text);
    } else if (gw_notify_is_open(ch->notify, GW_NOTE_LINK_DOWN, ch->account)) {
        char text[400];
        strfmt(text, sizeof text, "no longer retrying: %s", why);
        ch_resolved(ch, GW_NOTE_LINK_DOWN, text);
    }
    ch->down_since = 0;
    ch->down_since_wall_ms = 0;
    ch->down_notified = false;
    ch_metric_set(ch, "wagate_channel_down_since_seconds", 0);
}

void ch_handle_outcome(struct gw_channel *ch, const struct wa_outcome *o)
{
    if (ch->up_since_wall_ms) ch->lost_cause = chmetrics_cause(o); /* a connection ended */
    ch->up_since_wall_ms = 0;
    ch_metric_set(ch, "wagate_channel_connected_since_seconds", 0);
    struct chaction a;
    chpolicy_on_outcome(&ch->pol, o, now(ch), &a);
    if (o->cls != WA_OC_RESTART)
        strfmt(ch->last_error, sizeof ch->last_error, "%s", o->text[0] ? o->text : a.reason);
    ch->qr_valid = false;
    ch->health_fail = 0;
    if (a.quarantine)
        ch_quarantine_loggedout(ch, a.reason);
    else if (a.notify)
        ch_notice(ch, outcome_kind(o->cls), a.reason);
    if (!a.retry) {
        ch_drop_outage(ch, a.reason);
        ch->retry_pending = false;
        ch_set_state(ch, a.next, a.reason, NO_RETRY);
        return;
    }
    if (o->cls == WA_OC_TRANSIENT) track_down(ch);
    ch->attempts++;
    chmetrics_failed_attempt(ch->metrics, ch->account, o);
    ch->retry_hold = a.hold;
    ch->retry_kick = false;
    ch_schedule(ch, a.delay_ms);
    if (o->kind == WA_OUT_TRANSPORT && o->net.stage == NOUT_DNS) dnsprobe_start(ch->probe);
    if (a.next == GW_CH_CONNECTING) /* at once: the attempt makes the transition */
        strfmt(ch->attempt_reason, sizeof ch->attempt_reason, "%s", a.reason);
    else
        ch_set_state(ch, a.next, a.reason, a.delay_ms);
}

/* A local failure (store, credentials, client creation) counts as a transient outcome. */
static void local_failure(struct gw_channel *ch, const char *what, int err)
{
    struct wa_outcome o = {.kind = WA_OUT_NONE, .cls = WA_OC_TRANSIENT};
    strfmt(o.text, sizeof o.text, "%s: %s", what, ch->detail[0] ? ch->detail : strerror(-err));
    ch_handle_outcome(ch, &o);
}

/* Once per opened database: the inbox's cursors against the marker (gw/cursormark.h); a
 * database older than the one last written is told (cursors continue above the old ones). */
static void check_cursors(struct gw_channel *ch)
{
    char dir[PATH_MAX], text[400];
    ch_account_dir(ch, dir, sizeof dir);
    int r = cursormark_open(&ch->mark, dir, ch->db, !ch->have_creds, text, sizeof text);
    ch->mark_open = true;
    if (r < 0 || (r == 0 && text[0])) log_warn(COMP, ch->account, "%s", text);
    if (r != 1) return;
    ch_notice(ch, GW_NOTE_CURSOR_RESET, text);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddNumberToObject(d, "epoch", (double)ch->mark.epoch);
    cJSON_AddNumberToObject(d, "missed_from", (double)ch->mark.reset_from);
    cJSON_AddNumberToObject(d, "missed_to", (double)ch->mark.reset_to);
    cJSON_AddStringToObject(d, "text", text);
    ch_publish(ch, "inbox.cursor_reset", d);
}

static void attempt(struct gw_channel *ch)
{
    dnsprobe_stop(ch->probe);
    ch->retry_pending = false;
    ch->detail[0] = '\0';
    if (!ch->db) {
        int r = ch_open_store(ch);
        if (r == 1) return;
        if (r < 0) return local_failure(ch, "store", r);
    }
    if (!ch->have_creds) {
        int r = ch_load_creds(ch);
        if (r == -EUCLEAN) {
            ch_close_store(ch);
            char np[PATH_MAX + 64];
            if (ch_move_aside(ch, "badcreds", np, sizeof np) == 0)
                ch_notice(ch, GW_NOTE_LOGGED_OUT,
                          "stored credentials are invalid: database moved aside");
            ch_set_state(ch, GW_CH_LOGGED_OUT, "invalid stored credentials", NO_RETRY);
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
        ch_drop_client(ch);
        return local_failure(ch, "session", r);
    }
    char reason[240];
    strfmt(reason, sizeof reason, "%s%s%s", ch->attempt_reason, ch->attempt_reason[0] ? ": " : "",
           pairing ? "pairing a new device" : "logging in with the stored credentials");
    ch->attempt_reason[0] = '\0';
    ch_set_state(ch, GW_CH_CONNECTING, reason, NO_RETRY);
}

static void on_retry(uv_timer_t *t)
{
    struct gw_channel *ch = t->data;
    if (ch->closing) return;
    if (ch->retry_kick) ch->last_kick = now(ch);
    ch->retry_kick = false;
    attempt(ch);
}

/* Operator-driven new attempt now: end any session. The backoff is not reset: if this attempt
 * fails too, the next delay continues where it was (repeated restarts cannot spin). */
void ch_force_attempt(struct gw_channel *ch, const char *why)
{
    ch->last_kick = now(ch);
    ch_drop_client(ch);
    strfmt(ch->attempt_reason, sizeof ch->attempt_reason, "%s", why);
    ch->retry_pending = false;
    uv_timer_stop(&ch->retry_timer);
    attempt(ch);
}

/* Tear the running session down and treat it as outcome o (health, watchdog). */
void ch_end_session(struct gw_channel *ch, const char *text)
{
    struct wa_outcome o = {.kind = WA_OUT_KEEPALIVE, .cls = WA_OC_TRANSIENT, .code = 408};
    strfmt(o.text, sizeof o.text, "%s", text);
    ch_drop_client(ch);
    ch_handle_outcome(ch, &o);
}

void ch_on_tick(uv_timer_t *t)
{
    struct gw_channel *ch = t->data;
    if (ch->closing) return;
    if (ch->qr_valid && now(ch) >= ch->qr_expires) ch->qr_valid = false;
    if (ch->down_since && (ch->state == GW_CH_BACKOFF || ch->state == GW_CH_CONNECTING))
        track_down(ch);
    if (ch->state == GW_CH_CONNECTING && ch->client && now(ch) - ch->since_mono > CHANNEL_STUCK_MS)
        ch_end_session(ch, "watchdog: session stuck while connecting");
    if (ch->state == GW_CH_DEGRADED && now(ch) - ch->last_probe >= CHANNEL_PROBE_MS)
        ch_probe_store(ch);
    if (ch->db && ++ch->release_ticks >= CHANNEL_RELEASE_TICKS) { /* idle or not: cheap */
        ch->release_ticks = 0;
        st_db_release_memory(ch->db);
    }
    if (ch->mark_open && ch->state != GW_CH_DEGRADED) {
        int r = cursormark_tick(&ch->mark, chmsg_last_cursor(ch->msg));
        if (r < 0) log_debug(COMP, ch->account, "inbox marker: %s", strerror(-r));
    }
}
