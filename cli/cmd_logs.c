/* SPDX-License-Identifier: MIT */
/* cmd_logs.c -- `wagate logs [-f] [-n N] [--json]`: the tail of the gateway's log file
 * (log.file, else <state>/logs/gateway.log, rotated to .1 by the daemon: core/log.h), and
 * with -f what is appended to it, across rotations, until SIGINT or SIGTERM. Works whether
 * or not the gateway runs. --json prints one object per line
 * {"ts","level","component","account","msg"} (a JSON log, log.json, passes through). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/statedir.h"
#include "report.h"

#define LINES_DEFAULT  50
#define LINES_MAX      100000
#define LINE_BYTES     4700 /* a log line is at most ~4600 bytes (core/log.c) */
#define FOLLOW_POLL_MS 100

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* One text line "TS LEVEL [component] [account] msg" as JSON; NULL when it is not one. */
static cJSON *text_line_json(const char *s, size_t n)
{
    char line[LINE_BYTES + 1];
    if (n > LINE_BYTES) n = LINE_BYTES;
    memcpy(line, s, n);
    line[n] = '\0';
    char *ts = line, *sp = strchr(ts, ' ');
    if (!sp) return NULL;
    *sp = '\0';
    char *lvl = sp + 1, *p = strchr(lvl, ' ');
    if (!p) return NULL;
    *p++ = '\0';
    while (*p == ' ')
        p++;
    const char *comp = "", *acct = "";
    if (*p == '[' && (sp = strstr(p, "] "))) {
        *sp = '\0';
        comp = p + 1;
        p = sp + 2;
        char *q = strstr(p, "] ");
        /* an account tag: [a-z0-9_-]{1,32} (a message may also begin with '[') */
        if (*p == '[' && q && q - p - 1 <= CFG_ACCOUNT_ID_MAX) {
            *q = '\0';
            if (cfg_account_id_valid(p + 1)) {
                acct = p + 1;
                p = q + 2;
            } else {
                *q = ']';
            }
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "level", lvl);
    cJSON_AddStringToObject(o, "component", comp);
    cJSON_AddStringToObject(o, "account", acct);
    cJSON_AddStringToObject(o, "msg", p);
    return o;
}

/* Print one line (n bytes, no newline). */
static void print_line(bool json, const char *s, size_t n)
{
    if (!json || (n && s[0] == '{')) {
        fwrite(s, 1, n, stdout);
        fputc('\n', stdout);
        return;
    }
    cJSON *o = text_line_json(s, n);
    if (!o) {
        o = cJSON_CreateObject();
        char *raw = malloc(n + 1); /* not strndup: s is not NUL-terminated */
        if (raw) memcpy(raw, s, n), raw[n] = '\0';
        cJSON_AddStringToObject(o, "msg", raw ? raw : "");
        free(raw);
    }
    char *t = cJSON_PrintUnformatted(o);
    if (t) printf("%s\n", t);
    free(t);
    cJSON_Delete(o);
}

/* Append the last `want` bytes of path (at most) to b. 0, -errno. */
static int read_tail(const char *path, size_t want, struct buf *b, bool *from_start)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    off_t off = 0;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size > want) off = st.st_size - (off_t)want;
    *from_start = off == 0;
    int r = lseek(fd, off, SEEK_SET) < 0 ? -errno : 0;
    while (r == 0) {
        if ((r = buf_reserve(b, 65536)) < 0) break;
        ssize_t k = read(fd, b->data + b->len, 65536);
        if (k < 0) r = -errno;
        if (k <= 0) break;
        b->len += (size_t)k;
    }
    close(fd);
    return r;
}

/* The last n lines of the data (a cut first line dropped unless whole): start offset. */
static size_t last_lines(const struct buf *b, size_t n, bool whole)
{
    size_t end = b->len, i = end;
    if (i && b->data[i - 1] == '\n') i--;
    size_t seen = 0;
    while (i > 0) {
        if (b->data[i - 1] == '\n' && ++seen == n) return i;
        i--;
    }
    if (whole) return 0;
    const unsigned char *nl = memchr(b->data, '\n', b->len);
    return nl ? (size_t)(nl - b->data) + 1 : b->len;
}

static size_t count_lines(const struct buf *b, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

static void print_all(bool json, const struct buf *b, size_t from)
{
    const char *p = (const char *)b->data + from, *end = (const char *)b->data + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        print_line(json, p, n);
        p += n + 1;
    }
}

/* Print the last n lines of path.1 + path. */
static int print_tail(const struct cli_env *e, const char *path, size_t n)
{
    struct buf cur, old;
    buf_init(&cur, (size_t)LINES_MAX * LINE_BYTES);
    buf_init(&old, (size_t)LINES_MAX * LINE_BYTES);
    bool whole = false, old_whole = false;
    int r = read_tail(path, n * LINE_BYTES, &cur, &whole);
    if (r == 0) {
        size_t from = last_lines(&cur, n, whole), have = count_lines(&cur, from);
        if (have < n && whole) {
            char op[PATH_MAX + 4];
            snprintf(op, sizeof op, "%s.1", path);
            if (read_tail(op, (n - have) * LINE_BYTES, &old, &old_whole) == 0)
                print_all(e->json, &old, last_lines(&old, n - have, old_whole));
        }
        print_all(e->json, &cur, from);
    }
    buf_free(&cur);
    buf_free(&old);
    fflush(stdout);
    return r;
}

/* Read what was appended to fd; print the whole lines, keep a partial one in pend. */
static void drain(bool json, int fd, struct buf *pend)
{
    for (;;) {
        if (buf_reserve(pend, 65536) < 0) {
            buf_reset(pend); /* a line beyond any cap: drop it */
            return;
        }
        ssize_t k = read(fd, pend->data + pend->len, 65536);
        if (k <= 0) break;
        pend->len += (size_t)k;
    }
    const unsigned char *last = NULL;
    for (size_t i = pend->len; i > 0; i--)
        if (pend->data[i - 1] == '\n') {
            last = pend->data + i - 1;
            break;
        }
    if (!last) return;
    size_t upto = (size_t)(last - pend->data) + 1;
    struct buf whole = {.data = pend->data, .len = upto - 1};
    print_all(json, &whole, 0);
    memmove(pend->data, pend->data + upto, pend->len - upto);
    pend->len -= upto;
    fflush(stdout);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* EINTR on SIGINT: the loop sees g_stop */
}

/* Rotated twice since the last look: <path>.1 is a file we never opened (ours, the one
 * before, is gone); print it whole. Beyond two rotations per poll lines are lost. */
static void read_missed(const struct cli_env *e, const char *path, const struct stat *ours,
                        struct buf *pend)
{
    char p1[PATH_MAX + 4];
    snprintf(p1, sizeof p1, "%s.1", path);
    int fd = open(p1, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) == 0 && (st.st_ino != ours->st_ino || st.st_dev != ours->st_dev))
        drain(e->json, fd, pend);
    close(fd);
    buf_reset(pend);
}

/* Follow path from its end: the daemon renames it to .1 and starts a new one, or someone
 * truncates it. Polls (works on any file system and on macOS). */
static int follow(const struct cli_env *e, const char *path)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct buf pend;
    buf_init(&pend, 1 << 20);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) lseek(fd, 0, SEEK_END);
    while (!g_stop) {
        struct stat now, ours;
        bool exists = stat(path, &now) == 0;
        if (fd >= 0) {
            drain(e->json, fd, &pend);
            bool have = fstat(fd, &ours) == 0;
            if (have && exists && (now.st_ino != ours.st_ino || now.st_dev != ours.st_dev)) {
                drain(e->json, fd, &pend); /* rotated: the old file is final, read its end */
                close(fd);
                fd = -1;
                buf_reset(&pend);
                read_missed(e, path, &ours, &pend);
            } else if (have && lseek(fd, 0, SEEK_CUR) > ours.st_size) {
                /* truncated: compared with our own file's size after the drain (path's
                 * size, taken before it, is behind whenever a line landed in between) */
                lseek(fd, 0, SEEK_SET);
            }
        }
        if (fd < 0 && exists) {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            continue; /* read the new file from its start at once */
        }
        sleep_ms(FOLLOW_POLL_MS);
    }
    if (fd >= 0) close(fd);
    buf_free(&pend);
    fflush(stdout);
    return EXIT_OK;
}

static int usage(void)
{
    fprintf(stderr, "usage: wagate logs [-f|--follow] [-n|--lines N] [--json]\n");
    return EXIT_USAGE;
}

int cmd_logs_main(int argc, char **argv)
{
    struct cli_env e = {0};
    int r = cli_take_globals(&e, &argc, argv);
    if (r) return r;
    bool fol = false;
    long n = LINES_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
            fol = true;
        } else if ((strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0) && i + 1 < argc) {
            char *end;
            n = strtol(argv[++i], &end, 10);
            if (*end || n < 0 || n > LINES_MAX) {
                fprintf(stderr, "wagate logs: -n: expected 0 to %d lines, got '%s'\n", LINES_MAX,
                        argv[i]);
                return EXIT_USAGE;
            }
        } else {
            return usage();
        }
    }
    if ((r = cli_load(&e)) != 0) return r;
    char path[PATH_MAX];
    if (e.cfg.log_file[0])
        snprintf(path, sizeof path, "%s", e.cfg.log_file);
    else if (state_log_path(e.state_dir, path, sizeof path) < 0)
        return cli_fail(&e, EXIT_FAIL, "bad_path", NULL, "the state dir path is too long");
    if (access(path, R_OK) < 0 && !fol) {
        int err = errno;
        char hint[PATH_MAX + 160];
        snprintf(hint, sizeof hint,
                 "has a gateway run with the state dir %s? Started by the systemd user unit, "
                 "its stderr is also in 'journalctl --user -u wagate'",
                 e.state_dir);
        return cli_fail(&e, EXIT_FAIL, "no_log", hint, "no log to read at %s: %s", path,
                        strerror(err));
    }
    if (n > 0 && (r = print_tail(&e, path, (size_t)n)) < 0 && r != -ENOENT)
        return cli_fail(&e, EXIT_FAIL, "read_failed", NULL, "%s: %s", path, strerror(-r));
    return fol ? follow(&e, path) : EXIT_OK;
}
