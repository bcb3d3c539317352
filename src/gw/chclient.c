/* SPDX-License-Identifier: MIT */
/* chclient.c -- part of gw/channel (gw/channel_int.h): the callbacks a channel gives each of
 * its wa_clients (ch_client_cbs): the QR, pairing and new credentials (stored before the
 * reply), connected (state, reconnects, the repair's pre-key upload, notifications resolved),
 * close (the outcome), health (2 missed pings end the session), and the signed pre-key
 * rotation over the account's database (store/spkstore.h).
 */
#include "gw/chmconn.h"
#include "gw/chmedia.h"
#include "gw/chmsend.h"
#include "gw/channel_int.h"

#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "gw/chmetrics.h"
#include "gw/chpolicy.h"
#include "gw/notify.h"
#include "store/db.h"
#include "store/spkstore.h"
#include "wa/client.h"
#include "wa/credstore.h"
#include "wa/creds.h"

/* ---- client callbacks ---- */

static void cb_qr(void *ud, const char *qr, unsigned valid_ms)
{
    struct gw_channel *ch = ud;
    strfmt(ch->qr, sizeof ch->qr, "%s", qr);
    ch->qr_valid = true;
    ch->qr_expires = now(ch) + valid_ms;
    if (ch->state != GW_CH_PAIRING)
        ch_set_state(ch, GW_CH_PAIRING, "QR code ready: scan it with the phone", NO_RETRY);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "qr", qr);
    cJSON_AddNumberToObject(d, "valid_ms", valid_ms);
    ch_publish(ch, "channel.qr", d);
}

static int cb_paired(void *ud, const struct wa_creds *c)
{
    struct gw_channel *ch = ud;
    int r = ch_save_creds(ch, c);
    if (r == 0) {
        log_info(COMP, ch->account, "paired as %s (%s); credentials stored", c->me_pn,
                 c->platform[0] ? c->platform : "unknown platform");
        ch_mark_linked(ch);
        char text[160];
        strfmt(text, sizeof text, "linked again as %s", c->me_pn);
        ch_resolved(ch, GW_NOTE_LOGGED_OUT, text);
    }
    return r;
}

static int cb_creds(void *ud, const struct wa_creds *c)
{
    return ch_save_creds(ud, c);
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
    ch_set_state(ch, GW_CH_CONNECTED, reason, NO_RETRY);
    if (ch->store_err) {
        int e = ch->store_err;
        ch->store_err = 0;
        ch_on_store_error(ch, e);
        return;
    }
    if (ch->ever_connected) {
        ch->reconnects++;
        ch_metric_add(ch, "wagate_channel_reconnects_total", 1);
        chmetrics_reconnect(ch->metrics, ch->account, ch->lost_cause);
    }
    ch->lost_cause = NULL;
    ch->ever_connected = true;
    ch->up_since_wall_ms = wall_ms();
    ch_metric_set(ch, "wagate_channel_connected_since_seconds",
                  (double)(ch->up_since_wall_ms / 1000));
    if (ch->repair_upload) { /* after a store-wide repair: fresh one-time pre-keys */
        ch->repair_upload = false;
        int r = wa_client_prekey_topup(ch->client, 0);
        if (r < 0) log_warn(COMP, ch->account, "pre-key upload after the repair: %s", strerror(-r));
    }
    ch_resolved(ch, GW_NOTE_CONFLICT, "connected again: no other client holds the session");
    ch_resolved(ch, GW_NOTE_BANNED, "the ban is over: connected again");
    ch_resolved(ch, GW_NOTE_UPDATE_REQUIRED, "the server accepts the client again: connected");
    /* at the first connection a disk problem can only be one raised before a restart (kept by
     * gw/notify.h): resolved once the store stayed writable */
    if (first && !ch->closing && gw_notify_is_open(ch->notify, GW_NOTE_DISK, ch->account))
        (void)gw_notify_resolve_after(ch->notify, GW_NOTE_DISK, ch->account,
                                      "the store writes again", CHANNEL_DISK_SETTLE_MS);
    ch_end_outage(ch);
    chmconn_set_client(ch->mconn, ch->client); /* a new media_conn for this connection */
    chmedia_set_client(ch->media, ch->client); /* media_conn, then what is still to fetch */
    chmsend_set_client(ch->msend, ch->client); /* ... and to upload */
}

static void cb_close(void *ud, const struct wa_outcome *o)
{
    ch_handle_outcome(ud, o);
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
    ch_end_session(ch, text);
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
    ch_metric_add(ch, "wagate_channel_signed_prekey_rotations_total", 1);
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

const struct wa_client_cbs ch_client_cbs = {
    .spk = &spk_ops,
    .on_qr = cb_qr,
    .on_paired = cb_paired,
    .on_creds = cb_creds,
    .on_connected = cb_connected,
    .on_close = cb_close,
    .on_health = cb_health,
};
