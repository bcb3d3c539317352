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

#define HTTP_TIMEOUT_MS 5000
#define LOGIN_TIMEOUT_S 180
#define LOGIN_POLL_MS   500

/* Options shared by the subcommands. */
struct ch_opts {
    const char *account, *to, *text, *key, *phone, *reply_to;
    int timeout_s;
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
            (r = take_value(argc, argv, &i, "--timeout", &t))) {
            if (r < 0) return -1;
            if (t && (o->timeout_s = atoi(t)) <= 0) {
                fprintf(stderr, "wagate: --timeout: expected seconds, got '%s'\n", t);
                return -1;
            }
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

/* One API call: the parsed JSON answer (or NULL) in *out; returns the HTTP status, or a
 * negative errno after printing why. */
static int api(struct cli_env *e, const char *method, const char *path, const char *body,
               cJSON **out)
{
    int status = 0;
    char *resp = NULL;
    *out = NULL;
    int r = cli_http(e, method, path, body, HTTP_TIMEOUT_MS, &status, &resp);
    if (r < 0) {
        fprintf(stderr, "wagate: the gateway does not answer at %s: %s\n", e->cfg.listen,
                strerror(-r));
        return r;
    }
    *out = cJSON_Parse(resp);
    free(resp);
    return status;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Print {"error":...} of a failed call and return EXIT_FAIL. */
static int failed(const char *what, int status, cJSON *o)
{
    if (status >= 0)
        fprintf(stderr, "wagate: %s: HTTP %d: %s\n", what, status,
                jstr(o, "error")[0] ? jstr(o, "error") : "unexpected answer");
    cJSON_Delete(o);
    return status == -ECONNREFUSED ? EXIT_NOT_RUNNING : EXIT_FAIL;
}

static void print_channel(const cJSON *c)
{
    const char *err = jstr(c, "last_error"), *jid = jstr(c, "jid"), *next = jstr(c, "next_retry");
    printf("%s/%s: %s since %s", jstr(c, "channel"), jstr(c, "account"), jstr(c, "state"),
           jstr(c, "since"));
    if (jid[0]) printf(", linked as %s", jid);
    if (next[0]) printf(", next attempt %s", next);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "pairing");
    if (strcmp(jstr(p, "method"), "code") == 0)
        printf(", waiting for the pairing code to be entered on %s", jstr(p, "phone"));
    else if (strcmp(jstr(p, "method"), "qr") == 0)
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
    int status = api(e, "GET", "/api/v1/status", NULL, &st);
    if (status != 200) return failed("status", status, st);
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
    int status = api(e, "POST", path, "", &res);
    if (status != 202) return failed("restart", status, res);
    if (e->json)
        cli_print_json(res);
    else {
        printf("whatsapp/%s: restarted (%s)\n", o->account, jstr(res, "state"));
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
        int st = o->phone ? 404 : api(e, "GET", qpath, NULL, &q);
        if (st < 0) return EXIT_FAIL;
        const char *payload = o->phone ? "" : jstr(q, "qr");
        if (st == 200 && payload[0] && strcmp(payload, shown) != 0) {
            snprintf(shown, sizeof shown, "%s", payload);
            if (!e->json) show_qr(payload);
        }
        if (!o->phone) cJSON_Delete(q);
        cJSON_Delete(*last);
        st = api(e, "GET", spath, NULL, last);
        if (st != 200) return failed("channel status", st, NULL);
        const char *state = jstr(*last, "state");
        if (strcmp(state, "connected") == 0) return EXIT_OK;
        if (o->phone && strcmp(state, "logged_out") == 0) {
            fprintf(stderr, "wagate: not linked: %s\n", jstr(*last, "last_error"));
            return EXIT_FAIL;
        }
        if (strcmp(state, "logged_out") == 0 && shown[0]) {
            fprintf(stderr, "wagate: the QR code expired without a scan: %s\n",
                    jstr(*last, "last_error"));
            return EXIT_FAIL;
        }
        sleep_ms(LOGIN_POLL_MS);
    }
    fprintf(stderr, "wagate: not linked after %d s (state %s)\n",
            o->timeout_s ? o->timeout_s : LOGIN_TIMEOUT_S, jstr(*last, "state"));
    return EXIT_FAIL;
}

/* The code as WhatsApp shows it, and what to do on the phone. */
static void show_code(const struct ch_opts *o, const cJSON *res)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(res, "valid_ms");
    printf("whatsapp/%s: pairing code for %s:\n\n    %s\n\n"
           "On that phone: WhatsApp > Settings > Linked devices > Link a device >\n"
           "\"Link with phone number instead\", then enter the code (valid %d s).\n",
           o->account, jstr(res, "phone"), jstr(res, "code"),
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
    int status = api(e, "POST", path, body, &res);
    if (status != 200 && status != 202) return failed("login", status, res);
    if (e->json && o->phone)
        cli_print_json(cJSON_Duplicate(res, true));
    else if (o->phone)
        show_code(o, res);
    else if (!e->json)
        printf("whatsapp/%s: %s (%s)\n", o->account, jstr(res, "state"), jstr(res, "action"));
    cJSON_Delete(res);
    cJSON *last = NULL;
    int r = login_wait(e, o, &last);
    if (e->json && last)
        cli_print_json(last);
    else {
        if (r == EXIT_OK) printf("whatsapp/%s: connected as %s\n", o->account, jstr(last, "jid"));
        cJSON_Delete(last);
    }
    return r;
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
    if (strcmp(sub, "restart") == 0) return channels_restart(&e, &o);
    fprintf(stderr, "wagate channels: unknown subcommand '%s' (status, login, restart)\n", sub);
    return EXIT_USAGE;
}

int cmd_message_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    struct ch_opts o = {0};
    bool react = argc >= 4 && strcmp(argv[1], "react") == 0;
    if (argc < 2 || (strcmp(argv[1], "send") != 0 && !react)) {
        fprintf(stderr, "usage: wagate message send --to NUMBER --text TEXT [--reply-to ID] "
                        "[--account ID] [--idempotency-key K] [--json]\n"
                        "       wagate message react ID EMOJI [--to NUMBER] [--account ID] "
                        "(EMOJI \"\" removes the reaction)\n");
        return EXIT_USAGE;
    }
    if (parse_opts(argc, argv, react ? 4 : 2, &o) < 0) return EXIT_USAGE;
    if (!react && (!o.to || !o.text)) {
        fprintf(stderr, "wagate message send: --to and --text are required\n");
        return EXIT_USAGE;
    }
    if ((r = cli_load(&e)) != 0) return r;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "account", o.account);
    if (o.to) cJSON_AddStringToObject(body, "to", o.to);
    if (react) {
        cJSON *rx = cJSON_AddObjectToObject(body, "reaction");
        cJSON_AddStringToObject(rx, "message_id", argv[2]);
        cJSON_AddStringToObject(rx, "emoji", argv[3]);
    } else {
        cJSON_AddStringToObject(body, "text", o.text);
    }
    if (o.reply_to) cJSON_AddStringToObject(body, "reply_to", o.reply_to);
    if (o.key) cJSON_AddStringToObject(body, "idempotency_key", o.key);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    cJSON *res = NULL;
    int status = text ? api(&e, "POST", "/api/v1/messages", text, &res) : -ENOMEM;
    free(text);
    if (status != 200 && status != 202) return failed("send", status, status >= 0 ? res : NULL);
    if (e.json) {
        cli_print_json(res);
        return EXIT_OK;
    }
    printf("%s %s%s\n", jstr(res, "id"), jstr(res, "state"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "duplicate")) ? " (duplicate)" : "");
    cJSON_Delete(res);
    return EXIT_OK;
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
    int status = text ? api(&e, "POST", path, text, &res) : -ENOMEM;
    free(text);
    if (status != 200) return failed("pairing approve", status, status >= 0 ? res : NULL);
    if (e.json) {
        cli_print_json(res);
        return EXIT_OK;
    }
    printf("whatsapp/%s: %s approved: their messages now reach the agent\n", o.account,
           jstr(res, "sender"));
    cJSON_Delete(res);
    return EXIT_OK;
}
