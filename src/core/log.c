/* SPDX-License-Identifier: MIT */
/* log.c -- line logger with text and JSON formats. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum wlog_level g_level = WLOG_INFO;
static bool g_json;
static bool g_stderr = true;
static int g_fd = -1;

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

int wlog_set_file(const char *path)
{
    if (g_fd >= 0) close(g_fd);
    g_fd = -1;
    if (!path) return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    g_fd = fd;
    return 0;
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
    if (g_fd >= 0) {
        ssize_t w = write(g_fd, line, n);
        (void)w;
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
