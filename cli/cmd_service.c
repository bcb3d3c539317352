/* SPDX-License-Identifier: MIT */
/* cmd_service.c -- `wagate service install|uninstall|status`: start the gateway with the user's
 * service manager.
 *
 * systemd (Linux): a user unit $XDG_CONFIG_HOME/systemd/user/wagate.service (default
 * ~/.config/systemd/user): Type=notify (the daemon sends READY=1, STATUS=, WATCHDOG=1,
 * STOPPING=1: gw/sdnotify.h), Restart=always, WatchdogSec=, ExecReload= SIGHUP; then
 * `systemctl --user daemon-reload` and `enable --now` (unless --no-enable).
 * launchd (macOS, or --launchd anywhere): ~/Library/LaunchAgents/<label>.plist with
 * RunAtLoad and KeepAlive, then `launchctl load -w` (unless --no-enable).
 * The service runs this binary (its absolute path) with the same --config / --state-dir as
 * the command line, if given. --print writes the file's text to stdout and changes nothing.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

#include "cli.h"
#include "commands.h"
#include "report.h"
#include "core/buf.h"
#include "core/fileio.h"

extern char **environ;

#define UNIT_NAME     "wagate.service"
#define LAUNCHD_LABEL "dev.wagate.gateway"
#define WATCHDOG_S    30 /* WatchdogSec: the daemon pings every 15 s from its loop */
#define SERVICE_MAX   (64 * 1024)

enum manager { MGR_SYSTEMD, MGR_LAUNCHD };

struct svc {
    struct cli_env *e;
    enum manager mgr;
    bool print, no_enable;
    char exe[PATH_MAX];
    char path[PATH_MAX + 64];    /* the unit / plist file */
    char logpath[PATH_MAX + 64]; /* launchd: ~/Library/Logs/wagate.log */
};

/* ---- the files ---- */

/* One ExecStart= word: quoted when it holds anything but [A-Za-z0-9/._+-]; '%' and '$' are
 * doubled (systemd's specifier and variable expansion), '"' and '\' escaped. */
static int unit_word(struct buf *b, const char *w)
{
    bool plain = *w != '\0';
    for (const char *p = w; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-=", *p))
            plain = false;
    int r = buf_append_str(b, plain ? "" : "\"");
    for (const char *p = w; *p && r == 0; p++) {
        if (*p == '%' || *p == '$') r = buf_append_byte(b, (uint8_t)*p);
        if (r == 0 && (*p == '"' || *p == '\\')) r = buf_append_byte(b, '\\');
        if (r == 0) r = buf_append_byte(b, (uint8_t)*p);
    }
    if (r == 0 && !plain) r = buf_append_str(b, "\"");
    return r;
}

/* The daemon's command line: exe [--config F] [--state-dir D] gateway. */
static int argv_words(const struct svc *s, const char *words[6])
{
    int n = 0;
    words[n++] = s->exe;
    if (s->e->config_arg) {
        words[n++] = "--config";
        words[n++] = s->e->config_path;
    }
    if (s->e->state_arg) {
        words[n++] = "--state-dir";
        words[n++] = s->e->state_dir;
    }
    words[n++] = "gateway";
    return n;
}

static int systemd_unit(const struct svc *s, struct buf *b)
{
    const char *w[6];
    int n = argv_words(s, w);
    int r =
        buf_printf(b, "# Written by 'wagate service install'; 'wagate service uninstall' removes "
                      "it.\n"
                      "[Unit]\n"
                      "Description=wagate WhatsApp gateway\n"
                      "StartLimitIntervalSec=0\n"
                      "\n"
                      "[Service]\n"
                      "Type=notify\n"
                      "NotifyAccess=main\n"
                      "ExecStart=");
    for (int i = 0; i < n && r == 0; i++) {
        if (i) r = buf_append_byte(b, ' ');
        if (r == 0) r = unit_word(b, w[i]);
    }
    if (r == 0)
        r = buf_printf(b,
                       "\n"
                       "ExecReload=/bin/kill -HUP $MAINPID\n"
                       "Restart=always\n"
                       "RestartSec=2\n"
                       "WatchdogSec=%d\n"
                       "TimeoutStopSec=10\n"
                       "KillMode=mixed\n"
                       "NoNewPrivileges=yes\n"
                       "\n"
                       "[Install]\n"
                       "WantedBy=default.target\n",
                       WATCHDOG_S);
    return r;
}

static int xml_text(struct buf *b, const char *t)
{
    int r = 0;
    for (const char *p = t; *p && r == 0; p++)
        r = *p == '&'   ? buf_append_str(b, "&amp;")
            : *p == '<' ? buf_append_str(b, "&lt;")
            : *p == '>' ? buf_append_str(b, "&gt;")
                        : buf_append_byte(b, (uint8_t)*p);
    return r;
}

static int launchd_plist(const struct svc *s, struct buf *b)
{
    const char *w[6];
    int n = argv_words(s, w);
    int r = buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
                          "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
                          "<!-- Written by 'wagate service install' -->\n"
                          "<plist version=\"1.0\">\n<dict>\n"
                          "  <key>Label</key>\n  <string>" LAUNCHD_LABEL "</string>\n"
                          "  <key>ProgramArguments</key>\n  <array>\n");
    for (int i = 0; i < n && r == 0; i++) {
        r = buf_append_str(b, "    <string>");
        if (r == 0) r = xml_text(b, w[i]);
        if (r == 0) r = buf_append_str(b, "</string>\n");
    }
    if (r == 0)
        r = buf_printf(b, "  </array>\n"
                          "  <key>RunAtLoad</key>\n  <true/>\n"
                          "  <key>KeepAlive</key>\n  <true/>\n"
                          "  <key>ThrottleInterval</key>\n  <integer>2</integer>\n"
                          "  <key>ProcessType</key>\n  <string>Background</string>\n"
                          "  <key>StandardOutPath</key>\n  <string>");
    if (r == 0) r = xml_text(b, s->logpath);
    if (r == 0) r = buf_append_str(b, "</string>\n  <key>StandardErrorPath</key>\n  <string>");
    if (r == 0) r = xml_text(b, s->logpath);
    if (r == 0) r = buf_append_str(b, "</string>\n</dict>\n</plist>\n");
    return r;
}

/* ---- paths and the service manager ---- */

static int service_path(struct svc *s)
{
    const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
    if (s->mgr == MGR_LAUNCHD) {
        if (!home || !*home) return -ENOENT;
        snprintf(s->path, sizeof s->path, "%s/Library/LaunchAgents/" LAUNCHD_LABEL ".plist", home);
        snprintf(s->logpath, sizeof s->logpath, "%s/Library/Logs/wagate.log", home);
    } else if (xdg && xdg[0] == '/') {
        snprintf(s->path, sizeof s->path, "%s/systemd/user/" UNIT_NAME, xdg);
    } else {
        if (!home || !*home) return -ENOENT;
        snprintf(s->path, sizeof s->path, "%s/.config/systemd/user/" UNIT_NAME, home);
    }
    return 0;
}

static int self_exe(char *out, size_t len)
{
#ifdef __APPLE__
    char raw[PATH_MAX];
    uint32_t n = sizeof raw;
    if (_NSGetExecutablePath(raw, &n) != 0 || !realpath(raw, out)) return -ENOENT;
    (void)len;
    return 0;
#else
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0) return -errno;
    out[n] = '\0';
    return 0;
#endif
}

/* Run argv (PATH lookup) with stdout/stderr to ours, or to /dev/null when quiet; the exit
 * status, or -errno when it could not start (e.g. -ENOENT: no such program). */
static int run(const char *const argv[], bool quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0) return -r;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int systemctl(const char *a, const char *b, const char *c, bool quiet)
{
    const char *argv[] = {"systemctl", "--user", a, b, c, NULL};
    return run(argv, quiet);
}

/* Output of `systemctl --user is-active|is-enabled wagate.service` ("unknown" if none). */
static void systemctl_word(const char *verb, char *out, size_t len)
{
    snprintf(out, len, "unknown");
    int fd[2];
    if (pipe(fd) < 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    const char *argv[] = {"systemctl", "--user", verb, UNIT_NAME, NULL};
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (r == 0) {
        char buf[64];
        ssize_t n = read(fd[0], buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            buf[strcspn(buf, "\r\n")] = '\0';
            if (buf[0]) snprintf(out, len, "%s", buf);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    close(fd[0]);
}

/* ---- the commands ---- */

static int make_text(const struct svc *s, struct buf *b)
{
    return s->mgr == MGR_LAUNCHD ? launchd_plist(s, b) : systemd_unit(s, b);
}

static int write_file(const struct svc *s, const struct buf *b)
{
    char dir[sizeof s->path];
    snprintf(dir, sizeof dir, "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int r = dir_create(dir, 0755);
    if (r == 0) r = file_write_atomic(s->path, b->data, b->len, 0644);
    return r;
}

static int enable(const struct svc *s)
{
    int r;
    if (s->mgr == MGR_LAUNCHD) {
        const char *argv[] = {"launchctl", "load", "-w", s->path, NULL};
        r = run(argv, false);
    } else {
        r = systemctl("daemon-reload", NULL, NULL, false);
        if (r == 0) r = systemctl("enable", "--now", UNIT_NAME, false);
    }
    if (r == 0) return 0;
    fprintf(stderr,
            "wagate service: the file is written, but the service manager did not take it "
            "(%s%s); run '%s' yourself in a login session\n",
            r < 0 ? "cannot run it: " : "exit status ", r < 0 ? strerror(-r) : "non-zero",
            s->mgr == MGR_LAUNCHD ? "launchctl load -w <plist>"
                                  : "systemctl --user daemon-reload && systemctl --user enable "
                                    "--now " UNIT_NAME);
    return EXIT_FAIL;
}

static int install(struct svc *s)
{
    struct buf b;
    buf_init(&b, SERVICE_MAX);
    int r = make_text(s, &b);
    if (r < 0) {
        buf_free(&b);
        return cli_fail(s->e, EXIT_FAIL, "service_failed", NULL,
                        "service: cannot build the service file: %s", strerror(-r));
    }
    if (s->print) {
        fwrite(b.data, 1, b.len, stdout);
        buf_free(&b);
        return EXIT_OK;
    }
    r = write_file(s, &b);
    buf_free(&b);
    if (r < 0) {
        return cli_fail(s->e, EXIT_FAIL, "service_failed", NULL, "service: cannot write %s: %s",
                        s->path, strerror(-r));
    }
    printf("wrote %s\n", s->path);
    if (s->no_enable) return EXIT_OK;
    r = enable(s);
    if (r == 0) {
        printf("%s\n", s->mgr == MGR_LAUNCHD
                           ? "loaded: the gateway starts at login and is restarted if it stops"
                           : "enabled and started: 'wagate service status' shows it; to start it "
                             "at boot without a login, run 'loginctl enable-linger'");
    }
    return r;
}

static int uninstall(struct svc *s)
{
    if (access(s->path, F_OK) != 0) {
        printf("not installed (no %s)\n", s->path);
        return EXIT_OK;
    }
    if (s->mgr == MGR_LAUNCHD) {
        const char *argv[] = {"launchctl", "unload", "-w", s->path, NULL};
        (void)run(argv, true);
    } else {
        (void)systemctl("disable", "--now", UNIT_NAME, true);
    }
    if (unlink(s->path) < 0) {
        return cli_fail(s->e, EXIT_FAIL, "service_failed", NULL, "service: cannot remove %s: %s",
                        s->path, strerror(errno));
    }
    if (s->mgr == MGR_SYSTEMD) (void)systemctl("daemon-reload", NULL, NULL, true);
    printf("removed %s\n", s->path);
    return EXIT_OK;
}

static int status(struct svc *s)
{
    bool installed = access(s->path, F_OK) == 0;
    char active[64] = "unknown", enabled[64] = "unknown";
    if (installed && s->mgr == MGR_SYSTEMD) {
        systemctl_word("is-active", active, sizeof active);
        systemctl_word("is-enabled", enabled, sizeof enabled);
    }
    if (s->e->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "manager", s->mgr == MGR_LAUNCHD ? "launchd" : "systemd");
        cJSON_AddStringToObject(o, "file", s->path);
        cJSON_AddBoolToObject(o, "installed", installed);
        cJSON_AddStringToObject(o, "active", active);
        cJSON_AddStringToObject(o, "enabled", enabled);
        cli_print_json(o);
    } else {
        printf("%s: %s%s\n", s->path, installed ? "installed" : "not installed",
               installed ? "" : " (wagate service install)");
        if (installed && s->mgr == MGR_SYSTEMD)
            printf("enabled: %s\nactive: %s\n", enabled, active);
    }
    if (!installed) return EXIT_NOT_RUNNING;
    return s->mgr == MGR_SYSTEMD && strcmp(active, "active") != 0 ? EXIT_NOT_RUNNING : EXIT_OK;
}

static int usage(void)
{
    fprintf(stderr, "usage: wagate service install [--no-enable] [--print] [--systemd|--launchd]\n"
                    "       wagate service uninstall|status [--systemd|--launchd] [--json]\n");
    return EXIT_USAGE;
}

int cmd_service_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
#ifdef __APPLE__
    struct svc s = {.e = &e, .mgr = MGR_LAUNCHD};
#else
    struct svc s = {.e = &e, .mgr = MGR_SYSTEMD};
#endif
    if (argc < 2) return usage();
    const char *verb = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--print") == 0)
            s.print = true;
        else if (strcmp(argv[i], "--no-enable") == 0)
            s.no_enable = true;
        else if (strcmp(argv[i], "--systemd") == 0)
            s.mgr = MGR_SYSTEMD;
        else if (strcmp(argv[i], "--launchd") == 0)
            s.mgr = MGR_LAUNCHD;
        else
            return usage();
    }
    if ((r = cli_load(&e)) != 0) return r;
    /* the service must find the same files wherever it starts: absolute paths */
    char abs[PATH_MAX];
    if (e.config_arg && realpath(e.config_path, abs))
        snprintf(e.config_path, sizeof e.config_path, "%s", abs);
    if (e.state_arg && realpath(e.state_dir, abs))
        snprintf(e.state_dir, sizeof e.state_dir, "%s", abs);
    if (self_exe(s.exe, sizeof s.exe) < 0) {
        return cli_fail(&e, EXIT_FAIL, "service_failed", NULL,
                        "service: cannot find this program's path");
    }
    if (service_path(&s) < 0) {
        return cli_fail(&e, EXIT_FAIL, "service_failed", "set HOME (or XDG_CONFIG_HOME)",
                        "service: no place for the service file");
    }
    if (strcmp(verb, "install") == 0) return install(&s);
    if (s.print) return usage();
    if (strcmp(verb, "uninstall") == 0) return uninstall(&s);
    if (strcmp(verb, "status") == 0) return status(&s);
    return usage();
}
