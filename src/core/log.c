/* SPDX-License-Identifier: MIT */
/* log.c -- line logger with text and JSON formats. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum wlog_level g_level = WLOG_INFO;
static bool g_json;
static bool g_stderr = true;
static int g_fd = -1;
static char g_path[PATH_MAX];     /* the open file's path ("" when none) */
static unsigned long long g_size; /* its size as we wrote it */
static unsigned long long g_max;  /* rotate past this; 0 = never */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void wlog_set_level(enum wlog_level lvl)
{
    g_level = lvl;
}

enum wlog_level wlog_get_level(void)
{
    return g_level;
}

int wlog_parse_level(const char *s, enum wlog_level *out)
{
    for (int i = 0; i <= WLOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum wlog_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void wlog_set_json(bool json)
{
    g_json = json;
}

void wlog_set_stderr(bool on)
{
    g_stderr = on;
}

static int open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    struct stat st;
    g_size = fstat(fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
    g_fd = fd;
    return 0;
}

/* Is path still the file we have open (not moved away by someone else's rotation)? */
static bool same_file(const char *path)
{
    struct stat a, b;
    return stat(path, &a) == 0 && fstat(g_fd, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int wlog_set_file(const char *path)
{
    if (path && g_fd >= 0 && strcmp(path, g_path) == 0 && same_file(path)) return 0;
    if (g_fd >= 0) close(g_fd);
    g_fd = -1;
    g_path[0] = '\0';
    if (!path) return 0;
    if (strlen(path) >= sizeof g_path - 3) return -ENAMETOOLONG;
    int r = open_file(path);
    if (r == 0) snprintf(g_path, sizeof g_path, "%s", path);
    return r;
}

void wlog_set_file_max(unsigned long long max_bytes)
{
    g_max = max_bytes;
}

/* The file is full: it becomes "<path>.1" and a new one is opened. If the
 * rename fails the file goes on growing (better than losing lines). */
static void rotate(void)
{
    char old[PATH_MAX + 4];
    snprintf(old, sizeof old, "%s.1", g_path);
    if (rename(g_path, old) < 0) return;
    close(g_fd);
    g_fd = -1;
    if (open_file(g_path) < 0) g_path[0] = '\0';
}

static size_t fmt_time(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    k += (size_t)snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
    return k;
}

/* Append s to out as a JSON string body (no quotes); returns new length. */
static size_t json_escape(char *out, size_t pos, size_t cap, const char *s)
{
    for (; *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c == '\n') {
            out[pos++] = '\\';
            out[pos++] = 'n';
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static void emit(const char *line, size_t n)
{
    if (g_stderr) {
        ssize_t w = write(STDERR_FILENO, line, n);
        (void)w;
    }
    if (g_fd >= 0 && g_max && g_size > 0 && g_size + n > g_max) rotate();
    if (g_fd >= 0) {
        ssize_t w = write(g_fd, line, n);
        if (w > 0) g_size += (unsigned long long)w;
    }
}

void wlog(enum wlog_level lvl, const char *component, const char *account, const char *fmt, ...)
{
    if (lvl > g_level) return;
    int saved = errno;
    char msg[2048], ts[40], line[4600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fmt_time(ts, sizeof ts);
    size_t n;
    if (g_json) {
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"",
                             ts, level_names[lvl]);
        n = json_escape(line, n, sizeof line, component ? component : "");
        n += (size_t)snprintf(line + n, sizeof line - n, "\",\"account\":\"");
        n = json_escape(line, n, sizeof line, account ? account : "");
        n += (size_t)snprintf(line + n, sizeof line - n, "\",\"msg\":\"");
        n = json_escape(line, n, sizeof line, msg);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"}\n");
    } else {
        char tags[200] = "";
        if (component && account)
            snprintf(tags, sizeof tags, "[%s] [%s] ", component, account);
        else if (component)
            snprintf(tags, sizeof tags, "[%s] ", component);
        n = (size_t)snprintf(line, sizeof line, "%s %-5s %s%s\n", ts, level_names[lvl], tags, msg);
    }
    if (n >= sizeof line) n = sizeof line - 1;
    emit(line, n);
    errno = saved;
}
