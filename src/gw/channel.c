/* SPDX-License-Identifier: MIT */
/* channel.c -- the per-account WhatsApp supervisor (gw/channel.h): the transition function,
 * its events, metrics and notifications, and the public API. Its other parts share
 * gw/channel_int.h: chstore.c (credentials, the store, a store that cannot write), chrepair.c
 * (the store-wide session repair), chsession.c (attempts, outcomes, outages, the housekeeping
 * tick) and chclient.c (the wa_client callbacks).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "api/events.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/statedir.h"
#include "gw/access.h"
#include "gw/chhook.h"
#include "gw/chmconn.h"
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
#include "store/db.h"
#include "wa/client.h"
#include "wa/creds.h"
#include "wa/paircode.h"
#include "wa/session.h"

#include "gw/channel_int.h"

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

/* ---- events, metrics, the transition function ---- */

/* The channel's series (gw/chmetrics.h). */
void ch_metric_add(struct gw_channel *ch, const char *name, double v)
{
    chmetrics_add(ch->metrics, ch->account, name, v);
}

void ch_metric_set(struct gw_channel *ch, const char *name, double v)
{
    chmetrics_set(ch->metrics, ch->account, name, v);
}

void ch_publish(struct gw_channel *ch, const char *type, cJSON *data)
{
    gw_json_make_utf8(data); /* server texts (stream errors, failures) go out valid */
    if (ch->events && !ch->closing)
        api_events_publish(ch->events, type, data);
    else
        cJSON_Delete(data);
}

/* An operator notification (gw/notify.h: deduplicated, every sink) and its resolution. */
void ch_notice(struct gw_channel *ch, enum gw_note_kind kind, const char *text)
{
    if (!ch->closing) (void)gw_notify_raise(ch->notify, kind, ch->account, -1, text);
}

void ch_resolved(struct gw_channel *ch, enum gw_note_kind kind, const char *text)
{
    if (!ch->closing) (void)gw_notify_resolve(ch->notify, kind, ch->account, text);
}

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
        uv_timer_start(&ch->tick, ch_on_tick, TICK_MS, TICK_MS);
}

/* The one transition function. retry_ms: the delay of the attempt just scheduled, or
 * NO_RETRY. */
void ch_set_state(struct gw_channel *ch, enum gw_ch_state to, const char *reason, uint64_t retry_ms)
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
    ch_publish(ch, "channel.state", d);
    tick_update(ch);
}

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

/* A file to send was uploaded: the sender takes its message now. */
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

/* A received file reached its final state: the event, and the hook may run now. */
static void media_done(void *ud, int64_t cursor, const struct st_mfile *f)
{
    struct gw_channel *ch = ud;
    ch_metric_add(ch,
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
        ch_publish(ch, "message.media", d);
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
    chmsg_set_repair(ch->msg, ch_want_repair, ch);
    if (dnsprobe_new_for_url(loop, ch->cfg.wa_endpoint, ch->cfg.wa_dns_count ? ch->dns : NULL,
                             ch->cfg.wa_dns_count, probe_resolved, ch, &ch->probe) < 0)
        ch->probe = NULL; /* no probe: the backoff alone then */
    chmsg_on_store_error(ch->msg, ch_on_store_error, ch);
    char mdir[PATH_MAX];
    ch_account_dir(ch, mdir, sizeof mdir - 8);
    strncat(mdir, "/media", sizeof mdir - strlen(mdir) - 1);
    const struct wg_config *c = o->cfg;
    struct chmedia_opts mo = {.loop = loop,
                              .account = ch->account,
                              .dir = mdir,
                              .ca_file = c->media_ca_file[0] ? c->media_ca_file : c->wa_tls_ca_file,
                              .budget = (uint64_t)c->media_max_mb << 20,
                              .keep_days = c->media_keep_days,
                              .creds = &ch->creds,
                              .mconn = ch->mconn,
                              .on_file = media_done,
                              .ud = ch};
    if (chmconn_new(loop, ch->account, &ch->mconn) < 0) ch->mconn = NULL; /* no media then */
    mo.mconn = ch->mconn;
    if (!ch->mconn || chmedia_new(&mo, &ch->media) < 0) ch->media = NULL; /* files stay pending */
    chmsg_set_media(ch->msg, ch->media);
    ch_account_dir(ch, mdir, sizeof mdir - 12);
    strncat(mdir, "/outmedia", sizeof mdir - strlen(mdir) - 1);
    struct chmsend_opts so_m = {.loop = loop,
                                .account = ch->account,
                                .dir = mdir,
                                .ca_file = mo.ca_file,
                                .creds = &ch->creds,
                                .mconn = ch->mconn,
                                .cfg = o->cfg,
                                .kick_sender = msend_kick,
                                .on_failed = msend_failed,
                                .ud = ch};
    if (!ch->mconn || chmsend_new(&so_m, &ch->msend) < 0)
        ch->msend = NULL; /* media sends refused */
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
    ch_set_state(ch, GW_CH_STARTING, "start", NO_RETRY);
    ch_schedule(ch, 0);
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
    ch_drop_client(ch);
    chmedia_free(ch->media);
    ch->media = NULL;
    chmsend_free(ch->msend);
    ch->msend = NULL;
    chmconn_free(ch->mconn); /* after its watchers */
    ch->mconn = NULL;
    chmsg_set_msend(ch->msg, NULL);
    gw_sendwait_close(ch->sw); /* the sender is gone: what it held is answered now */
    ch->sw = NULL;
    ch_close_store(ch);
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
        ch_force_attempt(ch, why);
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
        ch_schedule(ch, wait);
        return true;
    }
    log_info(COMP, ch->account, "retrying now (%s) instead of in %llu ms", why,
             (unsigned long long)left);
    ch_force_attempt(ch, why);
    return true;
}

int gw_channel_restart(struct gw_channel *ch, const char *why)
{
    if (ch->state == GW_CH_LOGGED_OUT) return -EPERM;
    ch_force_attempt(ch, why ? why : "operator restart");
    return 0;
}

/* Operator logout: end the session, move the database aside like a logout by the phone
 * (never deleted), stop retrying. */
int gw_channel_logout(struct gw_channel *ch)
{
    if (ch->closing) return -ECANCELED;
    if (ch->state == GW_CH_LOGGED_OUT && !ch->db && access(ch->dbpath, F_OK) != 0) return -EALREADY;
    ch_drop_client(ch);
    ch->retry_pending = false;
    uv_timer_stop(&ch->retry_timer);
    ch_close_store(ch);
    char np[PATH_MAX + 64] = "", text[PATH_MAX + 160];
    bool had_db = access(ch->dbpath, F_OK) == 0;
    int r = had_db ? ch_move_aside(ch, "loggedout", np, sizeof np) : 0;
    if (r < 0) {
        strfmt(text, sizeof text, "logged out; could not move the database aside: %s",
               strerror(-r));
        ch_notice(ch, GW_NOTE_LOGGED_OUT, text);
        ch_set_state(ch, GW_CH_LOGGED_OUT, "operator logout", NO_RETRY);
        return r;
    }
    strfmt(text, sizeof text, "logged out by the operator%s%s; link again with login",
           had_db ? ": the old database was kept as " : "", np);
    ch_notice(ch, GW_NOTE_LOGGED_OUT, text);
    ch_drop_outage(ch, "logged out by the operator");
    ch_set_state(ch, GW_CH_LOGGED_OUT, "operator logout", NO_RETRY);
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
            ch_account_dir(ch, dir, sizeof dir);
            state_linked_clear(dir);
        }
        r->action = pair ? "pairing" : "linked; reconnecting now with the stored credentials";
        r->started = true;
        ch_force_attempt(ch, pair ? "login: pairing" : "login: force restart");
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
        ch_publish(ch, "channel.paircode", d); /* the code itself stays with the requester */
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
        !strpbrk(row.mimetype, "\r\n") && strlen(row.mimetype) < cap) /* never cut short */
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
