/* SPDX-License-Identifier: MIT */
/* cmd_doctor.c -- `wagate doctor [--json] [--repair]`: offline checks of a state dir.
 *
 * Reads the state dir without the daemon (read-only SQLite handles): its mode and lock, the
 * token's mode, and per account (accounts/<id>/): directory and database modes, SQLite
 * integrity_check, the schema version, the credentials row (present, well-formed, linked,
 * pre-key ids not reused), the WAL's size, quarantined databases left beside it, undecryptable
 * and agent-pending inbox rows, pending and dead webhook deliveries, queued/failed outbox rows.
 * Each finding is one line with a status (ok, info, warn, error) and, where a person can act,
 * what to do.
 *
 * --repair does only safe repairs, and only while no gateway holds the lock: modes tightened
 * to 0700/0600, and an oversized WAL checkpointed into the database -- after a backup of the
 * database (SQLite online backup to wa.db.backup-<UTC>, mode 0600). A corrupt database, a
 * missing credentials row or a newer schema are never "repaired": the report says what to do.
 * Exit status: 0 no errors, 1 errors found (or a repair failed), 2 usage.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/statedir.h"
#include "store/migrations.h"

#define WAL_BIG (4u << 20) /* a WAL past this is checkpointed by --repair */

struct doc {
    cJSON *checks;
    bool repair, running;
    int errors, warnings, repaired, repair_failed;
};

static void add(struct doc *d, const char *account, const char *check, const char *status,
                const char *detail, const char *fix, bool repaired)
{
    cJSON *c = cJSON_CreateObject();
    if (account) cJSON_AddStringToObject(c, "account", account);
    cJSON_AddStringToObject(c, "check", check);
    cJSON_AddStringToObject(c, "status", status);
    cJSON_AddStringToObject(c, "detail", detail);
    if (fix && fix[0]) cJSON_AddStringToObject(c, "fix", fix);
    if (repaired) cJSON_AddTrueToObject(c, "repaired");
    cJSON_AddItemToArray(d->checks, c);
    if (strcmp(status, "error") == 0 && !repaired) d->errors++;
    if (strcmp(status, "warn") == 0 && !repaired) d->warnings++;
    if (repaired) d->repaired++;
}

/* Mode check of path (want: 0700 dir or 0600 file); --repair chmods. */
static void check_mode(struct doc *d, const char *account, const char *what, const char *path,
                       mode_t want)
{
    struct stat st;
    if (stat(path, &st) < 0) return;
    mode_t m = st.st_mode & 0777;
    char detail[PATH_MAX + 96];
    if ((m & 077) == 0) {
        snprintf(detail, sizeof detail, "%s is %04o", path, (unsigned)m);
        add(d, account, what, "ok", detail, NULL, false);
        return;
    }
    bool fixed = false;
    if (d->repair && !d->running) {
        fixed = chmod(path, want) == 0;
        if (!fixed) d->repair_failed++;
    }
    snprintf(detail, sizeof detail, "%s is %04o: readable by others (want %04o)%s", path,
             (unsigned)m, (unsigned)want, fixed ? "; set to the wanted mode" : "");
    char fix[PATH_MAX + 32];
    snprintf(fix, sizeof fix, "chmod %04o %s (or wagate doctor --repair)", (unsigned)want, path);
    add(d, account, what, "warn", detail, fixed ? NULL : fix, fixed);
}

static long long q_int(sqlite3 *h, const char *sql, long long dflt)
{
    sqlite3_stmt *s;
    long long v = dflt;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK) return dflt;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static bool has_table(sqlite3 *h, const char *name)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
             name);
    return q_int(h, sql, 0) > 0;
}

/* Backup of db to db.backup-<UTC> through SQLite's online backup. 0 or -1 (detail set). */
static int backup(const char *db, char *out, size_t outlen)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(out, outlen, "%.4000s.backup-%s", db, ts);
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    close(fd);
    sqlite3 *src = NULL, *dst = NULL;
    int rc = sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_open_v2(out, &dst, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
        if (b) sqlite3_backup_finish(b);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_close(src);
    sqlite3_close(dst);
    return rc == SQLITE_OK ? 0 : -1;
}

static void check_creds(struct doc *d, const char *acct, sqlite3 *h)
{
    if (!has_table(h, "creds")) {
        add(d, acct, "credentials", "error", "no creds table: not a wagate database",
            "move the file aside; the gateway then starts a new device (QR)", false);
        return;
    }
    sqlite3_stmt *s;
    const char *sql = "SELECT length(identity_pub), length(identity_priv), length(noise_priv),"
                      " me_pn, next_prekey_id FROM creds WHERE id = 1";
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK) {
        add(d, acct, "credentials", "error", sqlite3_errmsg(h), NULL, false);
        return;
    }
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        add(d, acct, "credentials", "error",
            "no credentials row: the next start creates a new device identity and shows a QR",
            "if a backup of wa.db exists (wa.db.backup-*), stop the gateway and put it back",
            false);
        return;
    }
    int ip = sqlite3_column_int(s, 0), iv = sqlite3_column_int(s, 1), np = sqlite3_column_int(s, 2);
    char pn[160];
    snprintf(pn, sizeof pn, "%s", (const char *)sqlite3_column_text(s, 3));
    long long next = sqlite3_column_int64(s, 4);
    sqlite3_finalize(s);
    if (ip != 32 || iv != 32 || np != 32) {
        add(d, acct, "credentials", "error", "credential keys have the wrong length",
            "restore a backup; otherwise the device must be linked again", false);
        return;
    }
    char detail[256];
    if (pn[0])
        snprintf(detail, sizeof detail, "present; linked as %s", pn);
    else
        snprintf(detail, sizeof detail, "present; not linked yet (the gateway shows a QR)");
    add(d, acct, "credentials", pn[0] ? "ok" : "info", detail,
        pn[0] ? NULL : "wagate channels login", false);
    long long maxpk = q_int(h, "SELECT max(id) FROM prekeys", 0);
    if (maxpk >= next) {
        snprintf(detail, sizeof detail,
                 "next pre-key id %lld is not above the highest stored one (%lld): ids would be "
                 "reused",
                 next, maxpk);
        add(d, acct, "prekeys", "error", detail, "restore a backup of wa.db", false);
    } else {
        snprintf(detail, sizeof detail, "%lld stored, next id %lld",
                 q_int(h, "SELECT count(*) FROM prekeys", 0), next);
        add(d, acct, "prekeys", "ok", detail, NULL, false);
    }
}

static void check_rows(struct doc *d, const char *acct, sqlite3 *h)
{
    char detail[256];
    if (has_table(h, "inbox")) {
        long long und = q_int(h, "SELECT count(*) FROM inbox WHERE type = 'undecryptable'", 0);
        snprintf(detail, sizeof detail, "%lld undecryptable message(s) in the inbox", und);
        add(d, acct, "undecryptable", und ? "warn" : "ok", detail,
            und ? "ask the senders to send again; see the inbox API for who and when" : NULL,
            false);
    }
    if (has_table(h, "hook_state")) {
        long long pend = q_int(h, "SELECT count(*) FROM inbox WHERE delivered = 0", 0);
        long long gave = q_int(h, "SELECT count(*) FROM hook_state WHERE gave_up = 1", 0);
        snprintf(detail, sizeof detail,
                 "%lld message(s) still owed to the exec hook, %lld given up after failures", pend,
                 gave);
        add(d, acct, "agent delivery", gave ? "warn" : "ok", detail,
            gave ? "check the hook command (hooks.exec.command) and its hook.failed events" : NULL,
            false);
    }
    if (has_table(h, "webhook_delivery")) {
        long long pend =
            q_int(h, "SELECT count(*) FROM webhook_delivery WHERE state = 'pending'", 0);
        long long dead = q_int(h, "SELECT count(*) FROM webhook_delivery WHERE state = 'dead'", 0);
        snprintf(detail, sizeof detail, "%lld webhook deliveries pending, %lld dead letter(s)",
                 pend, dead);
        add(d, acct, "webhooks", dead ? "warn" : "ok", detail,
            dead ? "check the endpoint (hooks.webhook.endpoints) and its webhook.dead_letter events"
                 : NULL,
            false);
    }
    if (has_table(h, "outbox")) {
        long long q = q_int(h, "SELECT count(*) FROM outbox WHERE state = 'queued'", 0);
        long long f = q_int(h, "SELECT count(*) FROM outbox WHERE state = 'failed'", 0);
        snprintf(detail, sizeof detail, "%lld queued (not yet acknowledged), %lld failed", q, f);
        add(d, acct, "outbox", f ? "warn" : "ok", detail, NULL, false);
    }
}

static void check_wal(struct doc *d, const char *acct, const char *db)
{
    char wal[PATH_MAX + 32], detail[2 * PATH_MAX + 160];
    snprintf(wal, sizeof wal, "%.4000s-wal", db);
    struct stat st;
    if (stat(wal, &st) < 0 || (unsigned long long)st.st_size <= WAL_BIG) return;
    bool fixed = false;
    char bk[PATH_MAX + 64] = "";
    if (d->repair && !d->running) {
        sqlite3 *h = NULL;
        fixed = backup(db, bk, sizeof bk) == 0 &&
                sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
                sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(h);
        if (!fixed) d->repair_failed++;
    }
    snprintf(detail, sizeof detail, "%.2048s is %lld bytes%s%.2048s", wal, (long long)st.st_size,
             fixed ? "; checkpointed into the database after a backup to " : "", fixed ? bk : "");
    add(d, acct, "wal", "warn", detail, fixed ? NULL : "wagate doctor --repair (gateway stopped)",
        fixed);
}

static void check_quarantine(struct doc *d, const char *acct, const char *adir)
{
    DIR *dp = opendir(adir);
    if (!dp) return;
    struct dirent *de;
    int n = 0;
    char names[1024] = "";
    while ((de = readdir(dp))) {
        const char *x = de->d_name;
        if (strncmp(x, "wa.db.", 6) != 0 || strstr(x, "-wal") || strstr(x, "-shm")) continue;
        if (!strstr(x, ".corrupt-") && !strstr(x, ".loggedout-") && !strstr(x, ".badcreds-"))
            continue;
        n++;
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", x);
    }
    closedir(dp);
    if (!n) return;
    char detail[1200];
    snprintf(detail, sizeof detail, "%d database(s) moved aside earlier: %s", n, names);
    add(d, acct, "quarantine", "info", detail,
        "kept for inspection; delete them once they are no longer needed", false);
}

static void check_account(struct doc *d, const char *state, const char *acct)
{
    char adir[PATH_MAX + 300], db[PATH_MAX + 320], sfx[PATH_MAX + 340], detail[2 * PATH_MAX + 1200];
    snprintf(adir, sizeof adir, "%.3800s/accounts/%.255s", state, acct);
    snprintf(db, sizeof db, "%.4200s/wa.db", adir);
    check_mode(d, acct, "account dir mode", adir, 0700);
    check_quarantine(d, acct, adir);
    if (access(db, F_OK) < 0) {
        add(d, acct, "database", "info", "no database yet (created at the first start)", NULL,
            false);
        return;
    }
    check_mode(d, acct, "database mode", db, 0600);
    const char *ext[] = {"-wal", "-shm"};
    for (int i = 0; i < 2; i++) {
        snprintf(sfx, sizeof sfx, "%.4300s%s", db, ext[i]);
        check_mode(d, acct, "database mode", sfx, 0600);
    }
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(detail, sizeof detail, "cannot open %s: %s", db, h ? sqlite3_errmsg(h) : "?");
        add(d, acct, "integrity", "error", detail, NULL, false);
        sqlite3_close(h);
        return;
    }
    sqlite3_stmt *s;
    char res[512] = "?";
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check(5)", -1, &s, NULL) == SQLITE_OK) {
        res[0] = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            size_t l = strlen(res);
            snprintf(res + l, sizeof res - l, "%s%s", l ? "; " : "",
                     (const char *)sqlite3_column_text(s, 0));
        }
        sqlite3_finalize(s);
    } else {
        snprintf(res, sizeof res, "%s", sqlite3_errmsg(h));
    }
    if (strcmp(res, "ok") != 0) {
        snprintf(detail, sizeof detail, "%s: %s", db, res);
        add(d, acct, "integrity", "error", detail,
            "stop the gateway and restore a backup (wa.db.backup-*); otherwise the gateway "
            "quarantines it at the next start and a new QR is needed",
            false);
        sqlite3_close(h);
        return;
    }
    add(d, acct, "integrity", "ok", "integrity_check: ok", NULL, false);
    long long v = q_int(h, "PRAGMA user_version", -1);
    if (v > ST_SCHEMA_VERSION) {
        snprintf(detail, sizeof detail, "schema v%lld is newer than this build (v%d)", v,
                 ST_SCHEMA_VERSION);
        add(d, acct, "schema", "error", detail, "run the newer wagate that wrote it", false);
    } else {
        snprintf(detail, sizeof detail, "schema v%lld%s", v,
                 v < ST_SCHEMA_VERSION ? " (migrated at the next start)" : "");
        add(d, acct, "schema", v < ST_SCHEMA_VERSION ? "info" : "ok", detail, NULL, false);
    }
    check_creds(d, acct, h);
    check_rows(d, acct, h);
    sqlite3_close(h);
    check_wal(d, acct, db);
}

static void print_text(const struct doc *d, const char *state)
{
    printf("wagate doctor: %s%s\n", state, d->running ? " (gateway running: read-only)" : "");
    const cJSON *c;
    cJSON_ArrayForEach(c, d->checks)
    {
        const cJSON *a = cJSON_GetObjectItem(c, "account"), *fix = cJSON_GetObjectItem(c, "fix");
        printf("  %-5s %s%s%s: %s\n", cJSON_GetObjectItem(c, "status")->valuestring,
               a ? a->valuestring : "", a ? " " : "", cJSON_GetObjectItem(c, "check")->valuestring,
               cJSON_GetObjectItem(c, "detail")->valuestring);
        if (fix) printf("        -> %s\n", fix->valuestring);
    }
    printf("%d error(s), %d warning(s)%s", d->errors, d->warnings, d->repaired ? "," : "\n");
    if (d->repaired) printf(" %d repaired\n", d->repaired);
}

int cmd_doctor_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    struct doc d = {.checks = cJSON_CreateArray()};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repair") == 0) {
            d.repair = true;
        } else {
            fprintf(stderr, "wagate doctor: unexpected argument '%s'\n", argv[i]);
            cJSON_Delete(d.checks);
            return EXIT_USAGE;
        }
    }
    if ((r = cli_load(&e)) != 0) {
        cJSON_Delete(d.checks);
        return r;
    }
    const char *state = e.state_dir;
    char detail[PATH_MAX + 96];
    struct stat st;
    if (stat(state, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(detail, sizeof detail, "%s: no state directory (%s)", state, strerror(errno));
        add(&d, NULL, "state dir", "error", detail, "start the gateway once to create it", false);
    } else {
        pid_t pid = state_lock_holder(state);
        d.running = pid != 0;
        if (pid > 0)
            snprintf(detail, sizeof detail, "held by the running gateway, pid %ld", (long)pid);
        else if (pid == 0)
            snprintf(detail, sizeof detail, "free (no gateway running)");
        else
            snprintf(detail, sizeof detail, "held by a process whose pid cannot be read");
        add(&d, NULL, "lock", d.running ? "info" : "ok", detail,
            d.running && d.repair ? "stop the gateway to repair (wagate gateway stop)" : NULL,
            false);
        if (d.running && d.repair) d.repair_failed++;
        check_mode(&d, NULL, "state dir mode", state, 0700);
        char tok[PATH_MAX + 8];
        snprintf(tok, sizeof tok, "%s/token", state);
        check_mode(&d, NULL, "token mode", tok, 0600);
        char acc[PATH_MAX + 16];
        snprintf(acc, sizeof acc, "%s/accounts", state);
        DIR *dp = opendir(acc);
        int n = 0;
        struct dirent *de;
        while (dp && (de = readdir(dp))) {
            if (de->d_name[0] == '.') continue;
            check_account(&d, state, de->d_name);
            n++;
        }
        if (dp) closedir(dp);
        if (!n) add(&d, NULL, "accounts", "info", "no account databases yet", NULL, false);
    }
    if (e.json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state_dir", state);
        cJSON_AddBoolToObject(o, "ok", d.errors == 0 && d.repair_failed == 0);
        cJSON_AddBoolToObject(o, "running", d.running);
        cJSON_AddNumberToObject(o, "errors", d.errors);
        cJSON_AddNumberToObject(o, "warnings", d.warnings);
        cJSON_AddNumberToObject(o, "repaired", d.repaired);
        cJSON_AddItemToObject(o, "checks", d.checks);
        cli_print_json(o);
    } else {
        print_text(&d, state);
        cJSON_Delete(d.checks);
    }
    return d.errors || d.repair_failed ? EXIT_FAIL : EXIT_OK;
}
