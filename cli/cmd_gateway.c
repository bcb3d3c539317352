/* SPDX-License-Identifier: MIT */
/* cmd_gateway.c -- `wagate gateway [run|status|stop]`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "core/statedir.h"
#include "gw/daemon.h"
#include "report.h"

#define STOP_WAIT_MS 10000

static int gateway_run(struct cli_env *e, int argc, char **argv)
{
    struct daemon_opts o = {
        .config_path = e->config_arg,
        .config_required = e->config_arg != NULL,
        .state_dir = e->state_arg,
    };
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            o.listen = argv[++i];
        } else if (strncmp(argv[i], "--listen=", 9) == 0) {
            o.listen = argv[i] + 9;
        } else {
            fprintf(stderr, "wagate gateway: unknown option '%s' (see 'wagate help')\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (o.listen && cfg_split_listen(o.listen, NULL, 0, NULL) < 0) {
        fprintf(stderr, "wagate gateway: --listen: expected IP:PORT, got '%s'\n", o.listen);
        return EXIT_USAGE;
    }
    return daemon_run(&o);
}

static int not_running(struct cli_env *e)
{
    if (e->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "running", false);
        cJSON_AddStringToObject(o, "state_dir", e->state_dir);
        cli_print_json(o);
    } else {
        printf("gateway: not running (state %s)\n", e->state_dir);
    }
    return EXIT_NOT_RUNNING;
}

static int gateway_status(struct cli_env *e)
{
    pid_t pid = state_lock_holder(e->state_dir);
    if (pid == 0) return not_running(e);
    int status = 0;
    char *body = NULL;
    int r = cli_http(e, "GET", "/api/v1/status", NULL, 3000, &status, &body);
    cJSON *st = r == 0 ? cJSON_Parse(body) : NULL;
    free(body);
    if (r < 0 || status != 200 || !cJSON_IsObject(st)) {
        char what[64];
        snprintf(what, sizeof what, "gateway status (pid %ld running)", (long)pid);
        r = cli_fail_api(e, what, r < 0 ? r : status == 200 ? 502 : status, st);
        cJSON_Delete(st);
        return r;
    }
    cJSON_AddBoolToObject(st, "running", true);
    if (e->json) {
        cli_print_json(st);
        return EXIT_OK;
    }
    cJSON *v = cJSON_GetObjectItem(st, "version"), *u = cJSON_GetObjectItem(st, "uptime_s"),
          *p = cJSON_GetObjectItem(st, "pid");
    printf("gateway: running, pid %lld, version %s, up %llds, api http://%s\n",
           cJSON_IsNumber(p) ? (long long)p->valuedouble : (long long)pid,
           cJSON_IsString(v) ? v->valuestring : "?",
           cJSON_IsNumber(u) ? (long long)u->valuedouble : 0LL, e->cfg.listen);
    cJSON_Delete(st);
    return EXIT_OK;
}

static int gateway_stop(struct cli_env *e)
{
    pid_t pid = state_lock_holder(e->state_dir);
    if (pid == 0) {
        if (e->json)
            printf("{\"stopped\":false,\"running\":false}\n");
        else
            printf("gateway: not running (state %s)\n", e->state_dir);
        return EXIT_NOT_RUNNING;
    }
    if (pid < 0 || kill(pid, SIGTERM) < 0)
        return cli_fail(e, EXIT_FAIL, "cannot_signal", NULL,
                        "gateway stop: cannot signal the holder of %s/lock: %s", e->state_dir,
                        pid < 0 ? strerror(-pid) : strerror(errno));
    for (int waited = 0; waited < STOP_WAIT_MS; waited += 20) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (state_lock_holder(e->state_dir) == 0) {
            if (e->json)
                printf("{\"stopped\":true,\"pid\":%ld}\n", (long)pid);
            else
                printf("gateway: stopped (pid %ld)\n", (long)pid);
            return EXIT_OK;
        }
    }
    return cli_fail(e, EXIT_FAIL, "stop_timeout", "see 'wagate logs'; kill -9 it if it hangs",
                    "gateway stop: pid %ld did not stop within %d s", (long)pid,
                    STOP_WAIT_MS / 1000);
}

int cmd_gateway_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    if ((r = cli_load(&e)) != 0) return r;
    const char *sub = argc > 1 ? argv[1] : "run";
    if (sub[0] == '-') return gateway_run(&e, argc - 1, argv + 1);
    if (strcmp(sub, "run") == 0) return gateway_run(&e, argc - 2 > 0 ? argc - 2 : 0, argv + 2);
    if (argc > 2) {
        fprintf(stderr, "wagate gateway %s: unexpected argument '%s'\n", sub, argv[2]);
        return EXIT_USAGE;
    }
    if (strcmp(sub, "status") == 0) return gateway_status(&e);
    if (strcmp(sub, "stop") == 0) return gateway_stop(&e);
    fprintf(stderr, "wagate gateway: unknown subcommand '%s' (run, status, stop)\n", sub);
    return EXIT_USAGE;
}
