/* SPDX-License-Identifier: MIT */
/* cmd_status.c -- `wagate status` and `wagate version`. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/statedir.h"
#include "report.h"
#include "wagate_version.h"

static void print_channels(const cJSON *chans)
{
    int n = cJSON_GetArraySize(chans);
    if (n == 0) {
        printf("channels: none configured yet\n");
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, chans)
    {
        const cJSON *ch = cJSON_GetObjectItem(c, "channel"),
                    *acct = cJSON_GetObjectItem(c, "account"),
                    *st = cJSON_GetObjectItem(c, "state"),
                    *err = cJSON_GetObjectItem(c, "last_error");
        printf("  %s/%s: %s%s%s\n", cJSON_IsString(ch) ? ch->valuestring : "?",
               cJSON_IsString(acct) ? acct->valuestring : "?",
               cJSON_IsString(st) ? st->valuestring : "?",
               cJSON_IsString(err) && err->valuestring[0] ? " - " : "",
               cJSON_IsString(err) ? err->valuestring : "");
        const cJSON *wh = cJSON_GetObjectItem(c, "webhooks");
        if (cJSON_IsObject(wh)) {
            const cJSON *b = cJSON_GetObjectItem(wh, "backlog"),
                        *d = cJSON_GetObjectItem(wh, "dead_letter"),
                        *le = cJSON_GetObjectItem(wh, "last_error");
            printf("    webhooks: %.0f pending, %.0f dead letter(s)%s%s\n",
                   cJSON_IsNumber(b) ? b->valuedouble : 0, cJSON_IsNumber(d) ? d->valuedouble : 0,
                   cJSON_IsString(le) && le->valuestring[0] ? "; last error: " : "",
                   cJSON_IsString(le) ? le->valuestring : "");
        }
    }
}

int cmd_status_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    if (argc > 1) {
        fprintf(stderr, "wagate status: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    if ((r = cli_load(&e)) != 0) return r;
    int status = 0;
    char *body = NULL;
    r = cli_http(&e, "GET", "/api/v1/status", NULL, 3000, &status, &body);
    if (r < 0) {
        pid_t pid = state_lock_holder(e.state_dir);
        if (pid > 0) return cli_fail_api(&e, "status", r, NULL);
        if (e.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddBoolToObject(o, "running", false);
            cJSON_AddStringToObject(o, "state_dir", e.state_dir);
            cli_print_json(o);
        } else {
            printf("gateway: not running (state %s)\n", e.state_dir);
        }
        return EXIT_NOT_RUNNING;
    }
    cJSON *st = cJSON_Parse(body);
    free(body);
    if (status != 200 || !cJSON_IsObject(st)) {
        r = cli_fail_api(&e, "status", status == 200 ? 502 : status, st);
        cJSON_Delete(st);
        return r;
    }
    if (e.json) {
        cli_print_json(st);
        return EXIT_OK;
    }
    cJSON *v = cJSON_GetObjectItem(st, "version"), *p = cJSON_GetObjectItem(st, "pid"),
          *u = cJSON_GetObjectItem(st, "uptime_s");
    printf("wagate %s, pid %lld, up %llds, api http://%s\n",
           cJSON_IsString(v) ? v->valuestring : "?",
           cJSON_IsNumber(p) ? (long long)p->valuedouble : 0LL,
           cJSON_IsNumber(u) ? (long long)u->valuedouble : 0LL, e.cfg.listen);
    print_channels(cJSON_GetObjectItem(st, "channels"));
    cJSON_Delete(st);
    return EXIT_OK;
}

int cmd_version_main(int argc, char **argv)
{
    bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
    if (json)
        printf("{\"version\":\"%s\"}\n", WAGATE_VERSION);
    else
        printf("wagate %s\n", WAGATE_VERSION);
    return EXIT_OK;
}
