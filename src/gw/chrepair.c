/* SPDX-License-Identifier: MIT */
/* chrepair.c -- part of gw/channel (gw/channel_int.h): the store-wide session repair
 * (design.md "Session repair" 3). When decryption fails for many distinct peers (chmsg's
 * store_failing), at most once per CHANNEL_REPAIR_HOLD_MS and from the repair timer (never
 * from a callback): a VACUUM INTO backup, every session and sender key deleted (credentials,
 * identity and pre-keys stay), a reconnect, fresh pre-keys at the next connected.
 */
#include "gw/channel_int.h"

#include <limits.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "gw/notify.h"
#include "store/db.h"
#include "store/sgstore.h"

/* ---- store-wide session repair (design.md "Session repair" 3) ---- */

/* From the repair timer: back up the database, delete every session and sender key (creds,
 * identity, pre-keys stay), reconnect; fresh pre-keys go up at the next connected. */
static void on_repair(uv_timer_t *t)
{
    struct gw_channel *ch = t->data;
    if (ch->closing || !ch->db) return;
    ch->last_repair = now(ch);
    char reason[160], bak[PATH_MAX + 64], ts[32], text[PATH_MAX + 300];
    strfmt(reason, sizeof reason, "decryption failing for %u peers", ch->repair_peers);
    ch_set_state(ch, GW_CH_REPAIRING, reason, NO_RETRY);
    ch_drop_client(ch);
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    strfmt(bak, sizeof bak, "%s.pre-repair-%s", ch->dbpath, ts);
    int b = st_db_backup(ch->db, bak);
    int n = st_sg_reset_sessions(ch->db);
    if (n < 0) {
        strfmt(text, sizeof text, "session repair failed: %s", st_db_last_error(ch->db));
        ch_notice(ch, GW_NOTE_ERROR, text);
        ch_force_attempt(ch, "session repair failed");
        return;
    }
    ch->repair_upload = true;
    ch_metric_add(ch, "wagate_channel_session_repairs_total", 1);
    strfmt(text, sizeof text,
           "encryption sessions were reset (%d sessions and sender keys deleted; decryption "
           "was failing for %u peers); backup %s",
           n, ch->repair_peers, b == 0 ? bak : "not written");
    ch_notice(ch, GW_NOTE_SESSIONS_RESET, text);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "text", "encryption sessions were reset");
    cJSON_AddNumberToObject(d, "peers", ch->repair_peers);
    cJSON_AddNumberToObject(d, "deleted", n);
    if (b == 0)
        cJSON_AddStringToObject(d, "backup", bak);
    else
        cJSON_AddNullToObject(d, "backup");
    ch_publish(ch, "channel.repaired", d);
    ch_force_attempt(ch, "encryption sessions were reset");
}

/* chmsg's store_failing: at most one repair per CHANNEL_REPAIR_HOLD_MS. */
void ch_want_repair(void *ud, unsigned peers)
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
