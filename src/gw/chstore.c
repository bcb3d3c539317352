/* SPDX-License-Identifier: MIT */
/* chstore.c -- part of gw/channel (gw/channel_int.h): a channel's store. The credentials in
 * it (loaded, created, saved before the pairing reply), opening it (a corrupt, missing or
 * empty database is quarantined and the channel waits for its owner) and closing it, moving
 * a database aside (never deleted), and a store that cannot write: the degraded state and
 * its probe writes (fault-matrix rows 30, 31).
 */
#include "gw/chmedia.h"
#include "gw/chmsend.h"
#include "gw/channel_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "core/statedir.h"
#include "gw/chhook.h"
#include "gw/chmetrics.h"
#include "gw/chmsg.h"
#include "gw/cursormark.h"
#include "gw/notify.h"
#include "gw/webhook.h"
#include "signal/sg_cipher.h"
#include "signal/sg_crypto.h"
#include "store/db.h"
#include "store/sgstore.h"
#include "wa/credstore.h"
#include "wa/creds.h"
#include "wa/session.h"

/* ---- credentials (wa/credstore.h) ---- */

/* Write the linked marker (core/statedir.h); a failure is logged, not fatal. */
void ch_mark_linked(struct gw_channel *ch)
{
    char dir[PATH_MAX];
    ch_account_dir(ch, dir, sizeof dir);
    int r = state_linked_mark(dir, ch->creds.me_pn);
    if (r < 0)
        log_warn(COMP, ch->account, "cannot write %s/%s: %s", dir, STATE_LINKED_FILE, strerror(-r));
}

int ch_save_creds(struct gw_channel *ch, const struct wa_creds *c)
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
int ch_load_creds(struct gw_channel *ch)
{
    int r = wa_creds_fetch(ch->db, &ch->creds);
    if (r == 0) ch->have_creds = true;
    if (r == 0 && wa_creds_is_paired(&ch->creds)) ch_mark_linked(ch); /* linked before the marker */
    if (r == 0 || r == -EUCLEAN) return r;
    if (r != -ENOENT) return r;
    r = wa_creds_generate(&ch->creds);
    if (r < 0) return r;
    log_info(COMP, ch->account, "no credentials yet: a new device identity was created");
    return ch_save_creds(ch, &ch->creds);
}

/* ---- the store ---- */

void ch_close_store(struct gw_channel *ch)
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
int ch_move_aside(struct gw_channel *ch, const char *tag, char *newpath, size_t newlen)
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

void ch_quarantine_loggedout(struct gw_channel *ch, const char *why)
{
    ch_close_store(ch);
    char np[PATH_MAX + 64], text[PATH_MAX + 480];
    int r = ch_move_aside(ch, "loggedout", np, sizeof np);
    if (r < 0)
        strfmt(text, sizeof text, "%s; could not move the database aside: %s", why, strerror(-r));
    else
        strfmt(text, sizeof text,
               "%s: logged out by the phone or the server; the old database was kept as %s; "
               "run 'wagate channels login --account %s' to link again",
               why, np, ch->account);
    ch_notice(ch, GW_NOTE_LOGGED_OUT, text);
}

/* <state>/accounts/<id>, where the linked marker (core/statedir.h) lives. */
void ch_account_dir(const struct gw_channel *ch, char *out, size_t n)
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
    int r = how == STATE_DB_EMPTY ? ch_move_aside(ch, "empty", np, sizeof np) : 0;
    strfmt(text, sizeof text,
           "the database of this linked account is %s (%s)%s%s; no new device is made on its "
           "own: restore it, or run 'wagate channels login --account %s' to link again",
           how == STATE_DB_EMPTY ? "empty (0 bytes)" : "missing", ch->dbpath,
           r < 0   ? ": could not move it aside: "
           : np[0] ? ": quarantined as "
                   : "",
           r < 0 ? strerror(-r) : np, ch->account);
    strfmt(ch->last_error, sizeof ch->last_error, "%s", text);
    ch_notice(ch, GW_NOTE_LOGGED_OUT, text);
    ch_set_state(ch, GW_CH_LOGGED_OUT,
                 how == STATE_DB_EMPTY ? "database empty" : "database missing", NO_RETRY);
}

/* 0 open, 1 corrupt or lost (quarantined, state changed), < 0 error (last_error set). */
int ch_open_store(struct gw_channel *ch)
{
    char err[512] = "", dir[PATH_MAX];
    ch_account_dir(ch, dir, sizeof dir);
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
        ch_notice(ch, GW_NOTE_LOGGED_OUT, text);
        ch_set_state(ch, GW_CH_LOGGED_OUT, "database corrupt", NO_RETRY);
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
        ch_close_store(ch);
        return r;
    }
    chhook_set_store(ch->hook, ch->db);        /* hands over what a crash left pending */
    gw_webhook_set_store(ch->webhook, ch->db); /* likewise the webhook queue */
    chmetrics_live_set_db(&ch->live, ch->db);
    chmedia_set_db(ch->media, ch->db); /* and the files still to fetch */
    chmsend_set_db(ch->msend, ch->db); /* and the files still to upload */
    return 0;
}

/* ---- a store that cannot write (fault-matrix rows 30, 31) ---- */

/* Degraded: try one real write (the credentials row, unchanged, in its own transaction: a
 * failure rolls back and leaves the stored row as it was). Once it commits, reconnect: the
 * server redelivers what was refused (nothing of it was acknowledged). */
void ch_probe_store(struct gw_channel *ch)
{
    ch->last_probe = now(ch);
    if (!ch->db || !ch->have_creds) return;
    /* rewriting the credentials reuses pages, so it succeeds on a disk that is still full:
     * a message needs new ones, so ask for some headroom as well */
    char dir[PATH_MAX];
    ch_account_dir(ch, dir, sizeof dir);
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
    ch_publish(ch, "channel.storage_restored", d);
    ch_force_attempt(ch, "the store writes again");
}

/* A message could not be stored (chmsg): it was not acknowledged. While logged in (or once
 * the login it came in during completes), the channel is degraded (one alert) until a probe
 * write succeeds. */
void ch_on_store_error(void *ud, int err)
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
    ch_notice(ch, GW_NOTE_DISK, why);
    ch->last_probe = now(ch);
    ch_set_state(ch, GW_CH_DEGRADED, why, NO_RETRY);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "account", ch->account);
    cJSON_AddStringToObject(d, "error", strerror(-err));
    cJSON_AddStringToObject(d, "text", why);
    ch_publish(ch, "channel.degraded", d);
}
