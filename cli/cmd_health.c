/* SPDX-License-Identifier: MIT */
/* cmd_health.c -- `wagate health [--json]`: one line a person, a script or a watchdog can
 * act on, from GET /api/v1/status. Exit 0: every channel connected; 1: a channel is not (or
 * none is configured, or the gateway does not answer) -- the line says which, in what state,
 * since when and the last error; 3: no gateway runs with this state dir. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/statedir.h"
#include "report.h"

/* "2026-12-03T08:00:00.123Z" as Unix seconds; -1 if it is not one. */
static long long iso_secs(const char *s)
{
    struct tm tm = {0};
    const char *end = s[0] ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    return end ? (long long)timegm(&tm) : -1;
}

/* "4m12s", "3h05m", "2d04h" */
static void fmt_age(long long s, char *out, size_t n)
{
    if (s < 0) s = 0;
    if (s < 60)
        snprintf(out, n, "%llds", s);
    else if (s < 3600)
        snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, n, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, n, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* What to do about a channel in this state (NULL: wait, it retries by itself). */
static const char *advice(const char *state)
{
    if (strcmp(state, "logged_out") == 0 || strcmp(state, "pairing") == 0)
        return "link it: wagate channels login --account ";
    if (strcmp(state, "stopped") == 0) return "start it: wagate channels restart --account ";
    return NULL;
}

/* Append "whatsapp/ID STATE since T (for AGE): last error: E" for a channel that is down. */
static int describe(struct buf *b, const cJSON *c, long long now)
{
    const char *acct = cli_jstr(c, "account"), *state = cli_jstr(c, "state"),
               *down = cli_jstr(c, "down_since"), *since = down[0] ? down : cli_jstr(c, "since"),
               *err = cli_jstr(c, "last_error"), *next = cli_jstr(c, "next_retry"),
               *todo = advice(state);
    char age[32] = "";
    long long t = iso_secs(since);
    if (t >= 0) fmt_age(now - t, age, sizeof age);
    int r = buf_printf(b, "%swhatsapp/%s %s since %s%s%s%s", b->len ? "; " : "", acct, state, since,
                       age[0] ? " (for " : "", age, age[0] ? ")" : "");
    if (r == 0 && err[0]) r = buf_printf(b, ", last error: %s", err);
    if (r == 0 && next[0]) r = buf_printf(b, ", next attempt %s", next);
    if (r == 0 && todo) r = buf_printf(b, " (%s%s)", todo, acct);
    return r;
}

/* The verdict: EXIT_OK or EXIT_FAIL; line gets the one-line summary. */
static int judge(const cJSON *chans, cJSON *out_chans, struct buf *line, const char **verdict)
{
    long long now = (long long)time(NULL);
    int total = 0, up = 0;
    struct buf down;
    buf_init(&down, 64 * 1024);
    const cJSON *c;
    cJSON_ArrayForEach(c, chans)
    {
        total++;
        bool ok = strcmp(cli_jstr(c, "state"), "connected") == 0;
        up += ok;
        if (!ok) (void)describe(&down, c, now);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", cli_jstr(c, "account"));
        cJSON_AddStringToObject(o, "state", cli_jstr(c, "state"));
        cJSON_AddBoolToObject(o, "healthy", ok);
        const char *ds = cli_jstr(c, "down_since");
        cJSON_AddStringToObject(o, "since", ds[0] ? ds : cli_jstr(c, "since"));
        cJSON_AddStringToObject(o, "last_error", cli_jstr(c, "last_error"));
        cJSON_AddItemToArray(out_chans, o);
    }
    int r;
    if (total == 0) {
        *verdict = "down";
        r = buf_printf(line, "down: no channels configured (whatsapp.accounts is empty)");
    } else if (up == total) {
        *verdict = "ok";
        r = buf_printf(line, "ok: %d of %d channel%s connected", up, total, total > 1 ? "s" : "");
    } else {
        *verdict = up ? "degraded" : "down";
        r = buf_printf(line, "%s: %d of %d channel%s connected; %.*s", *verdict, up, total,
                       total > 1 ? "s" : "", (int)down.len, (const char *)down.data);
    }
    buf_free(&down);
    (void)r;
    return total && up == total ? EXIT_OK : EXIT_FAIL;
}

static int report(const struct cli_env *e, int code, bool running, const char *verdict,
                  const char *line, cJSON *chans)
{
    if (e->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "healthy", code == EXIT_OK);
        cJSON_AddBoolToObject(o, "running", running);
        cJSON_AddStringToObject(o, "verdict", verdict);
        cJSON_AddStringToObject(o, "summary", line);
        cJSON_AddItemToObject(o, "channels", chans ? chans : cJSON_CreateArray());
        cli_print_json(o);
    } else {
        printf("%s\n", line);
        cJSON_Delete(chans);
    }
    return code;
}

int cmd_health_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    if (argc > 1) {
        fprintf(stderr, "usage: wagate health [--json]\n");
        return EXIT_USAGE;
    }
    if ((r = cli_load(&e)) != 0) return r;
    cJSON *st = NULL;
    int status = cli_api(&e, "GET", "/api/v1/status", NULL, &st);
    char line[PATH_MAX + 256];
    if (status < 0) {
        pid_t pid = state_lock_holder(e.state_dir);
        if (pid > 0) {
            snprintf(line, sizeof line, "down: the gateway (pid %ld) does not answer at %s: %s",
                     (long)pid, e.cfg.listen, strerror(-status));
            return report(&e, EXIT_FAIL, true, "down", line, NULL);
        }
        snprintf(line, sizeof line, "not running: no gateway runs with the state dir %s",
                 e.state_dir);
        return report(&e, EXIT_NOT_RUNNING, false, "not_running", line, NULL);
    }
    if (status != 200 || !cJSON_IsObject(st)) {
        r = cli_fail_api(&e, "health", status == 200 ? 502 : status, st);
        cJSON_Delete(st);
        return r;
    }
    struct buf b;
    buf_init(&b, 256 * 1024);
    const char *verdict = "down";
    cJSON *chans = cJSON_CreateArray();
    int code = judge(cJSON_GetObjectItemCaseSensitive(st, "channels"), chans, &b, &verdict);
    cJSON_Delete(st);
    if (buf_append_byte(&b, 0) < 0) buf_reset(&b);
    r = report(&e, code, true, verdict, b.len ? (const char *)b.data : verdict, chans);
    buf_free(&b);
    return r;
}
