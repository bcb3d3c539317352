/* SPDX-License-Identifier: MIT */
/* report.c -- errors that say what to do next, as text or JSON (cli/report.h). */
#include "report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/statedir.h"

#define API_TIMEOUT_MS 5000

const char *cli_jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int cli_api(const struct cli_env *e, const char *method, const char *path, const char *body,
            cJSON **out)
{
    int status = 0;
    char *resp = NULL;
    *out = NULL;
    int r = cli_http(e, method, path, body, API_TIMEOUT_MS, &status, &resp);
    if (r < 0) return r;
    *out = cJSON_Parse(resp);
    free(resp);
    return status;
}

int cli_fail(const struct cli_env *e, int exit_status, const char *code, const char *hint,
             const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->json) {
        cJSON *o = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(err, "code", code);
        cJSON_AddStringToObject(err, "message", msg);
        if (hint && hint[0]) cJSON_AddStringToObject(err, "hint", hint);
        char *s = cJSON_PrintUnformatted(o);
        if (s) printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
        fflush(stdout);
    } else {
        fprintf(stderr, "wagate: %s\n", msg);
        if (hint && hint[0]) fprintf(stderr, "  %s\n", hint);
    }
    return exit_status;
}

/* Does a gateway with the state dir dir listen at listen? Its <dir>/gateway.json names the
 * address, and the PID in it holds the lock. The PID, or 0. */
static pid_t runs_at(const char *dir, const char *listen)
{
    char path[PATH_MAX + 16], *text = NULL;
    size_t len;
    if (snprintf(path, sizeof path, "%s/gateway.json", dir) >= (int)sizeof path ||
        file_read_all(path, 4096, &text, &len) < 0)
        return 0;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
    pid_t r = cJSON_IsNumber(pid) && strcmp(cli_jstr(o, "listen"), listen) == 0 &&
                      state_lock_holder(dir) == (pid_t)pid->valuedouble
                  ? (pid_t)pid->valuedouble
                  : 0;
    cJSON_Delete(o);
    return r;
}

/* The --state-dir of the systemd user unit's ExecStart (wagate service install), or "". */
static void unit_state_dir(char *out, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char path[PATH_MAX + 64], *text = NULL;
    size_t len;
    out[0] = '\0';
    if (xdg && xdg[0])
        snprintf(path, sizeof path, "%s/systemd/user/wagate.service", xdg);
    else if (home && home[0])
        snprintf(path, sizeof path, "%s/.config/systemd/user/wagate.service", home);
    else
        return;
    if (file_read_all(path, 64 * 1024, &text, &len) < 0) return;
    const char *p = strstr(text, " --state-dir ");
    if (p) {
        p += strlen(" --state-dir ");
        bool quoted = *p == '"';
        p += quoted;
        size_t k = strcspn(p, quoted ? "\"\n" : " \t\n");
        if (k < n) snprintf(out, n, "%.*s", (int)k, p);
    }
    free(text);
}

/* Which state dir the gateway answering at our address runs with, when it is the default one
 * or the service unit's: *pid and out, or false. */
static bool other_state_dir(const struct cli_env *e, char *out, size_t n, pid_t *pid)
{
    char cand[2][PATH_MAX];
    if (cfg_default_state_dir(cand[0], sizeof cand[0]) < 0) cand[0][0] = '\0';
    unit_state_dir(cand[1], sizeof cand[1]);
    for (int i = 0; i < 2; i++) {
        if (!cand[i][0] || strcmp(cand[i], e->state_dir) == 0) continue;
        if ((*pid = runs_at(cand[i], e->cfg.listen)) > 0) {
            return snprintf(out, n, "%s", cand[i]) < (int)n;
        }
    }
    return false;
}

/* 401: the token the CLI sent is not the one of the gateway that answered. */
static int fail_token(const struct cli_env *e, const char *what)
{
    char hint[4 * PATH_MAX], other[PATH_MAX];
    pid_t holder = state_lock_holder(e->state_dir), opid = 0;
    if (holder > 0)
        snprintf(hint, sizeof hint,
                 "a gateway (pid %ld) runs with %s, but the one answering at %s took another "
                 "token: check gateway.token in %s and restart it if you changed it",
                 (long)holder, e->state_dir, e->cfg.listen,
                 e->config_path[0] ? e->config_path : "the config");
    else if (other_state_dir(e, other, sizeof other, &opid))
        snprintf(hint, sizeof hint,
                 "no gateway runs with the state dir %s: the one answering at %s (pid %ld) runs "
                 "with the state dir %s: pass --state-dir %s",
                 e->state_dir, e->cfg.listen, (long)opid, other, other);
    else
        snprintf(hint, sizeof hint,
                 "no gateway runs with the state dir %s: the one answering at %s runs with a "
                 "different state dir (and token); pass that one with --state-dir, or the "
                 "matching --config",
                 e->state_dir, e->cfg.listen);
    if (e->cfg.token[0])
        return cli_fail(e, EXIT_FAIL, "token_mismatch", hint,
                        "%s: the API token did not match (the CLI used gateway.token of %s)", what,
                        e->config_path);
    return cli_fail(e, EXIT_FAIL, "token_mismatch", hint,
                    "%s: the API token did not match (the CLI used %s/token)", what, e->state_dir);
}

int cli_fail_api(const struct cli_env *e, const char *what, int status, const cJSON *resp)
{
    if (status == -ECONNREFUSED || status == -ENOENT) {
        pid_t pid = state_lock_holder(e->state_dir);
        if (pid > 0)
            return cli_fail(e, EXIT_FAIL, "no_answer",
                            "it may still be starting or stopping: see 'wagate logs'",
                            "%s: the gateway (pid %ld) does not answer at %s", what, (long)pid,
                            e->cfg.listen);
        char hint[PATH_MAX + 64];
        snprintf(hint, sizeof hint, "start it with 'wagate gateway' (state dir %s)", e->state_dir);
        return cli_fail(e, EXIT_NOT_RUNNING, "not_running", hint,
                        "%s: the gateway is not running (nothing answers at %s)", what,
                        e->cfg.listen);
    }
    if (status < 0)
        return cli_fail(e, EXIT_FAIL, "no_answer", "see 'wagate logs'",
                        "%s: the gateway does not answer at %s: %s", what, e->cfg.listen,
                        strerror(-status));
    if (status == 401) return fail_token(e, what);
    const char *err = cli_jstr(resp, "error");
    if (status == 404 && strcmp(err, "no such account") == 0)
        return cli_fail(e, EXIT_FAIL, "no_such_account",
                        "'wagate channels status' lists the accounts (whatsapp.accounts in the "
                        "config); pick one with --account ID",
                        "%s: the gateway has no such account", what);
    char code[16];
    snprintf(code, sizeof code, "http_%d", status);
    return cli_fail(e, EXIT_FAIL, code, NULL, "%s: HTTP %d: %s", what, status,
                    err[0] ? err : "unexpected answer");
}
