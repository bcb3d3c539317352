/* SPDX-License-Identifier: MIT */
/* cmd_channels.c -- `wagate channels status|login|restart`, `wagate message send` and
 * `wagate pairing approve`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/qr.h"
#include "report.h"

#define LOGIN_TIMEOUT_S 180
#define LOGIN_POLL_MS   500

/* Options shared by the subcommands. */
struct ch_opts {
    const char *account, *to, *text, *key, *phone, *reply_to;
    const char *file, *kind, *caption, *file_name, *mimetype; /* a file to send */
    bool ptt;
    int timeout_s;
    bool yes; /* --yes: no confirmation */
};

static int take_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "wagate: %s needs a value\n", name);
            return -1;
        }
        *out = argv[++*i];
        return 1;
    }
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return 1;
    }
    return 0;
}

/* --image / --video / --audio / --ptt / --document / --sticker FILE: 1 taken, 0 not one, -1. */
static int take_file(int argc, char **argv, int *i, struct ch_opts *o)
{
    static const char *const kinds[] = {"image", "video", "audio", "ptt", "document", "sticker"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char flag[16];
        snprintf(flag, sizeof flag, "--%s", kinds[k]);
        const char *v = NULL;
        int r = take_value(argc, argv, i, flag, &v);
        if (r <= 0) {
            if (r < 0) return r;
            continue;
        }
        if (o->file) {
            fprintf(stderr, "wagate: one file per message\n");
            return -1;
        }
        o->file = v;
        o->kind = k == 3 ? "audio" : kinds[k];
        o->ptt = k == 3;
        return 1;
    }
    return 0;
}

/* Parse argv[first..]; -1 (usage printed) or 0. */
static int parse_opts(int argc, char **argv, int first, struct ch_opts *o)
{
    for (int i = first; i < argc; i++) {
        const char *t = NULL;
        int r;
        if ((r = take_value(argc, argv, &i, "--account", &o->account)) ||
            (r = take_value(argc, argv, &i, "--to", &o->to)) ||
            (r = take_value(argc, argv, &i, "--text", &o->text)) ||
            (r = take_value(argc, argv, &i, "--idempotency-key", &o->key)) ||
            (r = take_value(argc, argv, &i, "--phone", &o->phone)) ||
            (r = take_value(argc, argv, &i, "--reply-to", &o->reply_to)) ||
            (r = take_value(argc, argv, &i, "--caption", &o->caption)) ||
            (r = take_value(argc, argv, &i, "--file-name", &o->file_name)) ||
            (r = take_value(argc, argv, &i, "--mimetype", &o->mimetype)) ||
            (r = take_file(argc, argv, &i, o)) ||
            (r = take_value(argc, argv, &i, "--timeout", &t))) {
            if (r < 0) return -1;
            if (t && (o->timeout_s = atoi(t)) <= 0) {
                fprintf(stderr, "wagate: --timeout: expected seconds, got '%s'\n", t);
                return -1;
            }
            continue;
        }
        if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0) {
            o->yes = true;
            continue;
        }
        fprintf(stderr, "wagate: unexpected argument '%s' (see 'wagate help')\n", argv[i]);
        return -1;
    }
    if (!o->account) o->account = "default";
    if (!cfg_account_id_valid(o->account)) {
        fprintf(stderr, "wagate: --account: expected [a-z0-9_-]{1,32}, got '%s'\n", o->account);
        return -1;
    }
    return 0;
}

/* Report a failed call (cli_fail_api), free o and return the exit status. */
static int failed(const struct cli_env *e, const char *what, int status, cJSON *o)
{
    int r = cli_fail_api(e, what, status, o);
    cJSON_Delete(o);
    return r;
}

static void print_channel(const cJSON *c)
{
    const char *err = cli_jstr(c, "last_error"), *jid = cli_jstr(c, "jid"),
               *next = cli_jstr(c, "next_retry");
    printf("%s/%s: %s since %s", cli_jstr(c, "channel"), cli_jstr(c, "account"),
           cli_jstr(c, "state"), cli_jstr(c, "since"));
    if (jid[0]) printf(", linked as %s", jid);
    if (next[0]) printf(", next attempt %s", next);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "pairing");
    if (strcmp(cli_jstr(p, "method"), "code") == 0)
        printf(", waiting for the pairing code to be entered on %s", cli_jstr(p, "phone"));
    else if (strcmp(cli_jstr(p, "method"), "qr") == 0)
        printf(", waiting for a QR scan");
    if (err[0]) printf("\n  last error: %s", err);
    printf("\n");
}

static int channels_status(struct cli_env *e, int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "wagate channels status: unexpected argument '%s'\n", argv[2]);
        return EXIT_USAGE;
    }
    cJSON *st;
    int status = cli_api(e, "GET", "/api/v1/status", NULL, &st);
    if (status != 200) return failed(e, "channels status", status, st);
    cJSON *chans = cJSON_DetachItemFromObjectCaseSensitive(st, "channels");
    cJSON_Delete(st);
    if (!cJSON_IsArray(chans)) chans = cJSON_CreateArray();
    if (e->json) {
        cli_print_json(chans);
        return EXIT_OK;
    }
    if (cJSON_GetArraySize(chans) == 0) printf("no channels configured\n");
    const cJSON *c;
    cJSON_ArrayForEach(c, chans) print_channel(c);
    cJSON_Delete(chans);
    return EXIT_OK;
}

static int channels_restart(struct cli_env *e, const struct ch_opts *o)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/channels/whatsapp/%s/restart", o->account);
    cJSON *res;
    int status = cli_api(e, "POST", path, "", &res);
    if (status == 409) {
        cJSON_Delete(res);
        char hint[96];
        snprintf(hint, sizeof hint, "link it: wagate channels login --account %s", o->account);
        return cli_fail(e, EXIT_FAIL, "not_linked", hint,
                        "restart: whatsapp/%s is logged out, there is nothing to restart",
                        o->account);
    }
    if (status != 202) return failed(e, "restart", status, res);
    if (e->json)
        cli_print_json(res);
    else {
        printf("whatsapp/%s: restarted (%s)\n", o->account, cli_jstr(res, "state"));
        cJSON_Delete(res);
    }
    return EXIT_OK;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void show_qr(const char *payload)
{
    struct qr *q = NULL;
    struct buf b;
    buf_init(&b, 1 << 20);
    if (qr_encode(payload, &q) == 0 && qr_render_text(q, &b, false) == 0 &&
        buf_append_byte(&b, 0) == 0)
        printf("\nScan this QR code with WhatsApp (Settings > Linked devices > Link a device):\n"
               "%s",
               (const char *)b.data);
    else
        printf("\nQR code (could not render it; paste it into a QR generator):\n%s\n", payload);
    fflush(stdout);
    qr_free(q);
    buf_free(&b);
}

/* The deadline passed: say in what state, with the last error the status knows and when the
 * next attempt is due. */
static int login_timeout(const struct cli_env *e, const struct ch_opts *o, const cJSON *last)
{
    const char *state = cli_jstr(last, "state"), *err = cli_jstr(last, "last_error"),
               *next = cli_jstr(last, "next_retry");
    char msg[1024], hint[512];
    int n = snprintf(msg, sizeof msg, "not linked after %d s (state %s",
                     o->timeout_s ? o->timeout_s : LOGIN_TIMEOUT_S, state);
    if (err[0] && n > 0 && (size_t)n < sizeof msg)
        n += snprintf(msg + n, sizeof msg - (size_t)n, ", last error: %s", err);
    if (n > 0 && (size_t)n < sizeof msg) snprintf(msg + n, sizeof msg - (size_t)n, ")");
    if (strcmp(state, "pairing") == 0)
        snprintf(hint, sizeof hint,
                 "nobody scanned the QR in time: run it again with a longer --timeout");
    else if (next[0])
        snprintf(hint, sizeof hint,
                 "the gateway keeps retrying by itself (next attempt %s); 'wagate logs -f' shows "
                 "why, 'wagate health' when it is up",
                 next);
    else
        snprintf(hint, sizeof hint, "see 'wagate logs' for what happened");
    return cli_fail(e, EXIT_FAIL, "not_linked", hint, "%s", msg);
}

/* Poll the QR (unless a code was asked for) and the channel's state until connected or the
 * deadline. */
static int login_wait(struct cli_env *e, const struct ch_opts *o, cJSON **last)
{
    char qpath[128], spath[128], shown[QR_MAX_INPUT + 1] = "";
    snprintf(qpath, sizeof qpath, "/api/v1/channels/whatsapp/%s/qr?format=json", o->account);
    snprintf(spath, sizeof spath, "/api/v1/channels/whatsapp/%s", o->account);
    time_t deadline = time(NULL) + (o->timeout_s ? o->timeout_s : LOGIN_TIMEOUT_S);
    while (time(NULL) < deadline) {
        cJSON *q;
        int st = o->phone ? 404 : cli_api(e, "GET", qpath, NULL, &q);
        if (st < 0) return failed(e, "login", st, NULL);
        const char *payload = o->phone ? "" : cli_jstr(q, "qr");
        if (st == 200 && payload[0] && strcmp(payload, shown) != 0) {
            snprintf(shown, sizeof shown, "%s", payload);
            if (!e->json) show_qr(payload);
        }
        if (!o->phone) cJSON_Delete(q);
        cJSON_Delete(*last);
        st = cli_api(e, "GET", spath, NULL, last);
        if (st != 200) return cli_fail_api(e, "channel status", st, *last);
        const char *state = cli_jstr(*last, "state");
        if (strcmp(state, "connected") == 0) return EXIT_OK;
        if (o->phone && strcmp(state, "logged_out") == 0)
            return cli_fail(e, EXIT_FAIL, "not_linked",
                            "ask for a new code: run the same command again", "not linked: %s",
                            cli_jstr(*last, "last_error"));
        if (strcmp(state, "logged_out") == 0 && shown[0])
            return cli_fail(
                e, EXIT_FAIL, "qr_expired", "run 'wagate channels login' again for a new QR",
                "the QR code expired without a scan: %s", cli_jstr(*last, "last_error"));
        sleep_ms(LOGIN_POLL_MS);
    }
    return login_timeout(e, o, *last);
}

/* The code as WhatsApp shows it, and what to do on the phone. */
static void show_code(const struct ch_opts *o, const cJSON *res)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(res, "valid_ms");
    printf("whatsapp/%s: pairing code for %s:\n\n    %s\n\n"
           "On that phone: WhatsApp > Settings > Linked devices > Link a device >\n"
           "\"Link with phone number instead\", then enter the code (valid %d s).\n",
           o->account, cli_jstr(res, "phone"), cli_jstr(res, "code"),
           cJSON_IsNumber(v) ? (int)(v->valuedouble / 1000) : 0);
    fflush(stdout);
}

static int channels_login(struct cli_env *e, const struct ch_opts *o)
{
    char path[128], body[96] = "";
    snprintf(path, sizeof path, "/api/v1/channels/whatsapp/%s/login", o->account);
    if (o->phone) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "phone", o->phone);
        if (!cJSON_PrintPreallocated(b, body, sizeof body, false)) body[0] = '\0';
        cJSON_Delete(b);
        if (!body[0]) {
            fprintf(stderr, "wagate: --phone: expected a number like +15550001234\n");
            return EXIT_USAGE;
        }
    }
    cJSON *res;
    int status = cli_api(e, "POST", path, body, &res);
    if (status != 200 && status != 202) return failed(e, "login", status, res);
    if (e->json && o->phone)
        cli_print_json(cJSON_Duplicate(res, true));
    else if (o->phone)
        show_code(o, res);
    else if (!e->json)
        printf("whatsapp/%s: %s (%s)\n", o->account, cli_jstr(res, "state"),
               cli_jstr(res, "action"));
    cJSON_Delete(res);
    cJSON *last = NULL;
    int r = login_wait(e, o, &last);
    if (e->json && last && r == EXIT_OK)
        cli_print_json(last);
    else {
        if (r == EXIT_OK)
            printf("whatsapp/%s: connected as %s\n", o->account, cli_jstr(last, "jid"));
        cJSON_Delete(last);
    }
    return r;
}

/* Ask on the terminal; true when the answer begins with y. */
static bool confirm(const char *question)
{
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char ans[16];
    if (!fgets(ans, sizeof ans, stdin)) return false;
    return ans[0] == 'y' || ans[0] == 'Y';
}

/* POST .../logout: the phone's link is removed; linking again needs a new QR or code. */
static int channels_logout(struct cli_env *e, const struct ch_opts *o)
{
    char path[128], q[384];
    if (!o->yes) {
        if (!isatty(STDIN_FILENO))
            return cli_fail(e, EXIT_USAGE, "confirmation_needed",
                            "pass --yes to log out without being asked",
                            "logout: not asking on a non-terminal stdin");
        cJSON *st;
        snprintf(path, sizeof path, "/api/v1/channels/whatsapp/%s", o->account);
        int status = cli_api(e, "GET", path, NULL, &st);
        if (status != 200) return failed(e, "logout", status, st);
        const char *jid = cli_jstr(st, "jid");
        char who[160] = "";
        if (jid[0]) snprintf(who, sizeof who, " (linked as %s)", jid);
        snprintf(q, sizeof q,
                 "Log out whatsapp/%s%s? The phone forgets this device; linking again needs a "
                 "new QR scan.",
                 o->account, who);
        cJSON_Delete(st);
        if (!confirm(q)) {
            fprintf(stderr, "not logged out\n");
            return EXIT_FAIL;
        }
    }
    snprintf(path, sizeof path, "/api/v1/channels/whatsapp/%s/logout", o->account);
    cJSON *res;
    int status = cli_api(e, "POST", path, "", &res);
    if (status == 409) {
        cJSON_Delete(res);
        char hint[96];
        snprintf(hint, sizeof hint, "link it again with: wagate channels login --account %s",
                 o->account);
        return cli_fail(e, EXIT_FAIL, "already_logged_out", hint,
                        "logout: whatsapp/%s is already logged out", o->account);
    }
    if (status != 200) return failed(e, "logout", status, res);
    if (e->json) {
        cli_print_json(res);
        return EXIT_OK;
    }
    const char *warn = cli_jstr(res, "warning");
    printf("whatsapp/%s: logged out (%s)%s%s\n", o->account, cli_jstr(res, "state"),
           warn[0] ? "; warning: " : "", warn);
    printf("link it again with: wagate channels login --account %s\n", o->account);
    cJSON_Delete(res);
    return EXIT_OK;
}

int cmd_channels_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    const char *sub = argc > 1 ? argv[1] : "status";
    struct ch_opts o = {0};
    if (strcmp(sub, "status") != 0 && parse_opts(argc, argv, 2, &o) < 0) return EXIT_USAGE;
    if ((r = cli_load(&e)) != 0) return r;
    if (strcmp(sub, "status") == 0) return channels_status(&e, argc, argv);
    if (strcmp(sub, "login") == 0) return channels_login(&e, &o);
    if (strcmp(sub, "logout") == 0) return channels_logout(&e, &o);
    if (strcmp(sub, "restart") == 0) return channels_restart(&e, &o);
    fprintf(stderr, "wagate channels: unknown subcommand '%s' (status, login, logout, restart)\n",
            sub);
    return EXIT_USAGE;
}

/* A send the daemon refused: an unlinked account gets told how to link it. */
static int send_failed(struct cli_env *e, const struct ch_opts *o, int status, cJSON *res)
{
    if (status != 400 && status != 503) return failed(e, "send", status, res);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/channels/whatsapp/%s", o->account);
    cJSON *ch = NULL;
    int cs = cli_api(e, "GET", path, NULL, &ch);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(ch, "jid");
    bool unlinked = cs == 200 && !cJSON_IsString(jid);
    if (!unlinked) {
        cJSON_Delete(ch);
        return failed(e, "send", status, res);
    }
    char hint[128];
    snprintf(hint, sizeof hint, "link it first: wagate channels login --account %s", o->account);
    int r = cli_fail(e, EXIT_FAIL, "not_linked", hint,
                     "send: the account '%s' is not linked to a phone (state %s); nothing was "
                     "queued",
                     o->account, cli_jstr(ch, "state"));
    cJSON_Delete(ch);
    cJSON_Delete(res);
    return r;
}

/* Message ids are what `message send` printed: letters, digits, '.', '_', '-'. */
static bool msg_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 128) return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '.' || id[i] == '_' || id[i] == '-'))
            return false;
    return true;
}

static const char *state_meaning(const char *state)
{
    if (strcmp(state, "queued") == 0)
        return "waiting to be sent (the account is down, or it is being sent now)";
    if (strcmp(state, "sent") == 0) return "the server acknowledged it";
    if (strcmp(state, "delivered") == 0) return "the recipient's phone received it";
    if (strcmp(state, "read") == 0) return "the recipient read it";
    if (strcmp(state, "failed") == 0) return "it will not be sent";
    return "";
}

static void fmt_unix(double secs, char *out, size_t n)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* wagate message status ID: GET /api/v1/messages/{id}?account=ID */
static int message_status(struct cli_env *e, const char *id, const struct ch_opts *o)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/messages/%s?account=%s", id, o->account);
    cJSON *m;
    int status = cli_api(e, "GET", path, NULL, &m);
    if (status == 404 && strcmp(cli_jstr(m, "error"), "no such message") == 0) {
        cJSON_Delete(m);
        char hint[128];
        snprintf(hint, sizeof hint,
                 "the id is the one 'message send' printed; the account is '%s' (--account)",
                 o->account);
        return cli_fail(e, EXIT_FAIL, "no_such_message", hint,
                        "message status: no outgoing message %s on whatsapp/%s", id, o->account);
    }
    if (status != 200) return failed(e, "message status", status, m);
    if (e->json) {
        cli_print_json(m);
        return EXIT_OK;
    }
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(m, "attempts"),
                *cr = cJSON_GetObjectItemCaseSensitive(m, "created"),
                *up = cJSON_GetObjectItemCaseSensitive(m, "updated");
    char c[32] = "?", u[32] = "?";
    if (cJSON_IsNumber(cr)) fmt_unix(cr->valuedouble, c, sizeof c);
    if (cJSON_IsNumber(up)) fmt_unix(up->valuedouble, u, sizeof u);
    const char *state = cli_jstr(m, "state"), *err = cli_jstr(m, "error");
    printf("%s: %s (%s)\n  to %s, %d attempt%s, queued %s, last change %s\n", cli_jstr(m, "id"),
           state, state_meaning(state), cli_jstr(m, "to"), cJSON_IsNumber(att) ? att->valueint : 0,
           cJSON_IsNumber(att) && att->valueint == 1 ? "" : "s", c, u);
    if (err[0]) printf("  why: %s\n", err);
    cJSON_Delete(m);
    return EXIT_OK;
}

/* Send a text (react_id NULL) or a reaction to react_id ("" emoji removes it). */
static int message_send(struct cli_env *e, const struct ch_opts *o, const char *react_id,
                        const char *emoji)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "account", o->account);
    if (o->to) cJSON_AddStringToObject(body, "to", o->to);
    if (react_id) {
        cJSON *rx = cJSON_AddObjectToObject(body, "reaction");
        cJSON_AddStringToObject(rx, "message_id", react_id);
        cJSON_AddStringToObject(rx, "emoji", emoji);
    } else if (o->file) {
        cJSON *f = cJSON_AddObjectToObject(body, o->kind);
        if (!strncmp(o->file, "https://", 8) || !strncmp(o->file, "http://", 7)) {
            cJSON_AddStringToObject(f, "url", o->file); /* fetched by the daemon */
        } else {
            char *abs = realpath(o->file, NULL); /* the daemon takes absolute paths only */
            cJSON_AddStringToObject(f, "path", abs ? abs : o->file);
            free(abs);
        }
        if (o->ptt) cJSON_AddTrueToObject(body, "ptt");
        if (o->caption) cJSON_AddStringToObject(body, "caption", o->caption);
        if (o->file_name) cJSON_AddStringToObject(body, "file_name", o->file_name);
        if (o->mimetype) cJSON_AddStringToObject(body, "mimetype", o->mimetype);
    } else {
        cJSON_AddStringToObject(body, "text", o->text);
    }
    if (o->reply_to) cJSON_AddStringToObject(body, "reply_to", o->reply_to);
    if (o->key) cJSON_AddStringToObject(body, "idempotency_key", o->key);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    cJSON *res = NULL;
    int status = text ? cli_api(e, "POST", "/api/v1/messages", text, &res) : -ENOMEM;
    free(text);
    if (status != 200 && status != 202) return send_failed(e, o, status, res);
    if (e->json) {
        cli_print_json(res);
        return EXIT_OK;
    }
    printf("%s %s%s\n", cli_jstr(res, "id"), cli_jstr(res, "state"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "duplicate")) ? " (duplicate)" : "");
    cJSON_Delete(res);
    return EXIT_OK;
}

static int message_usage(void)
{
    fprintf(stderr, "usage: wagate message send --to NUMBER --text TEXT [--reply-to ID] "
                    "[--account ID] [--idempotency-key K] [--json]\n"
                    "       wagate message send --to NUMBER --image|--video|--audio|--ptt|"
                    "--document|--sticker FILE [--caption T] [--file-name N] [--mimetype M] "
                    "[--reply-to ID] ...\n"
                    "       wagate message react ID EMOJI [--to NUMBER] [--account ID] "
                    "(EMOJI \"\" removes the reaction)\n"
                    "       wagate message status ID [--account ID] [--json]\n");
    return EXIT_USAGE;
}

int cmd_message_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    struct ch_opts o = {0};
    bool status = argc >= 3 && strcmp(argv[1], "status") == 0 && argv[2][0] != '-';
    bool react = argc >= 4 && strcmp(argv[1], "react") == 0;
    if (!status && !react && (argc < 2 || strcmp(argv[1], "send") != 0)) return message_usage();
    if (parse_opts(argc, argv, status ? 3 : react ? 4 : 2, &o) < 0) return EXIT_USAGE;
    if ((status || react) && !msg_id_ok(argv[2])) {
        fprintf(stderr, "wagate message %s: '%s' is not a message id\n", argv[1], argv[2]);
        return EXIT_USAGE;
    }
    if (!status && !react && (!o.to || (!o.text && !o.file))) {
        fprintf(stderr, "wagate message send: --to and --text (or a file: --image FILE, ...) are "
                        "required\n");
        return EXIT_USAGE;
    }
    if (o.file && o.text) {
        fprintf(stderr, "wagate message send: a file's text is its --caption\n");
        return EXIT_USAGE;
    }
    if (!o.file && (o.caption || o.file_name || o.mimetype)) {
        fprintf(stderr, "wagate message send: --caption, --file-name and --mimetype go with a "
                        "file (--image FILE, ...)\n");
        return EXIT_USAGE;
    }
    if ((r = cli_load(&e)) != 0) return r;
    if (status) return message_status(&e, argv[2], &o);
    return message_send(&e, &o, react ? argv[2] : NULL, react ? argv[3] : NULL);
}
int cmd_pairing_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    struct ch_opts o = {0};
    if (argc < 3 || strcmp(argv[1], "approve") != 0 || argv[2][0] == '-') {
        fprintf(stderr, "usage: wagate pairing approve CODE [--account ID] [--json]\n");
        return EXIT_USAGE;
    }
    const char *code = argv[2];
    if (parse_opts(argc, argv, 3, &o) < 0) return EXIT_USAGE;
    if ((r = cli_load(&e)) != 0) return r;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/channels/whatsapp/%s/pairing/approve", o.account);
    cJSON *res = NULL;
    int status = text ? cli_api(&e, "POST", path, text, &res) : -ENOMEM;
    free(text);
    if (status != 200) return failed(&e, "pairing approve", status, res);
    if (e.json) {
        cli_print_json(res);
        return EXIT_OK;
    }
    printf("whatsapp/%s: %s approved: their messages now reach the agent\n", o.account,
           cli_jstr(res, "sender"));
    cJSON_Delete(res);
    return EXIT_OK;
}
