/* SPDX-License-Identifier: MIT */
/* cmd_dashboard.c -- `wagate dashboard`: the dashboard's address with the token, and a browser.
 *
 * Prints http://HOST:PORT/#token=TOKEN for the running gateway (the address it recorded in
 * <state>/gateway.json; a wildcard listen address becomes loopback). The token is in the
 * fragment, which the browser never sends to a server nor writes into request logs; the page
 * takes it off the address bar. With a graphical session (DISPLAY or WAYLAND_DISPLAY set) and
 * xdg-open (macOS: open), the URL is opened too, unless --no-open.
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "commands.h"
#include "report.h"

extern char **environ;

/* Start the opener without waiting for the browser; true if it started. */
static bool open_url(const char *url)
{
#ifdef __APPLE__
    const char *prog = "open";
#else
    const char *prog = "xdg-open";
    const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    if ((!x || !*x) && (!w || !*w)) return false;
#endif
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    const char *argv[] = {prog, url, NULL};
    pid_t pid;
    int r = posix_spawnp(&pid, prog, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) return false;
    int st; /* xdg-open hands the URL over and exits */
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* "0.0.0.0:P" -> "127.0.0.1:P", "[::]:P" -> "[::1]:P": where a local browser reaches it. */
static void browsable(const char *listen, char *out, size_t len)
{
    const char *pre = "", *tail = listen;
    if (strncmp(listen, "0.0.0.0:", 8) == 0) {
        pre = "127.0.0.1:";
        tail = listen + 8;
    } else if (strncmp(listen, "[::]:", 5) == 0) {
        pre = "[::1]:";
        tail = listen + 5;
    }
    size_t a = strlen(pre), b = strlen(tail);
    if (a + b >= len) b = len - a - 1;
    memcpy(out, pre, a);
    memcpy(out + a, tail, b);
    out[a + b] = '\0';
}

int cmd_dashboard_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    bool no_open = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-open") == 0) {
            no_open = true;
        } else {
            fprintf(stderr, "usage: wagate dashboard [--no-open] [--json]\n");
            return EXIT_USAGE;
        }
    }
    if ((r = cli_load(&e)) != 0) return r;
    /* an authenticated call: a token that does not match would give a dead link */
    cJSON *st = NULL;
    int status = cli_api(&e, "GET", "/api/v1/status", NULL, &st);
    cJSON_Delete(st);
    if (status != 200) return cli_fail_api(&e, "dashboard", status, NULL);
    char token[300], host[sizeof e.cfg.listen + 16], url[sizeof host + 320];
    if (cli_token(&e, token, sizeof token) < 0) {
        return cli_fail(&e, EXIT_FAIL, "no_token", "is --state-dir right?",
                        "no API token in %s/token", e.state_dir);
    }
    browsable(e.cfg.listen, host, sizeof host);
    snprintf(url, sizeof url, "http://%s/#token=%s", host, token);
    bool opened = !no_open && open_url(url);
    if (e.json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "url", url);
        cJSON_AddBoolToObject(o, "opened", opened);
        cli_print_json(o);
    } else {
        printf("%s\n", url);
        if (opened) fprintf(stderr, "opened in the browser\n");
    }
    return EXIT_OK;
}
