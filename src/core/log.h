/* SPDX-License-Identifier: MIT */
/* log.h -- one line per event: ISO-8601 UTC time, level, [component] [account].
 *
 * Text:  2026-11-21T12:00:00.123Z INFO  [whatsmeow] [default] message
 * JSON:  {"ts":"...","level":"info","component":"...","account":"...","msg":"..."}
 *
 * Lines go to stderr and, if set, to a file (appended, 0600), each with one
 * write(2) (no user-space buffer: nothing is lost on a crash; a regular file
 * takes it into the page cache, no fsync). The file can be size-capped: a line
 * that would take it past the cap first renames it to "<path>.1" (replacing
 * the older one) and starts a new file. Only the layer that decides what to do
 * about an event logs it above debug level.
 * Not thread-safe by design: everything logs from the loop thread.
 */
#pragma once
#include <stdbool.h>

enum wlog_level { WLOG_ERROR = 0, WLOG_WARN = 1, WLOG_INFO = 2, WLOG_DEBUG = 3 };

void wlog_set_level(enum wlog_level lvl);
enum wlog_level wlog_get_level(void);
/* Parse "error|warn|info|debug"; returns -EINVAL for anything else. */
int wlog_parse_level(const char *s, enum wlog_level *out);
void wlog_set_json(bool json);
/* Also write to `path` (appended, created 0600); NULL closes the file. The
 * same path again keeps the open file unless it was moved away (then it is
 * reopened: SIGHUP after an external rotation). 0 or -errno (-ENAMETOOLONG past
 * PATH_MAX - 3); on an error no file is open. */
int wlog_set_file(const char *path);
/* Cap the file at max_bytes (0: no cap, the default); one old file,
 * "<path>.1", is kept. A line longer than the cap goes to a file of its own. */
void wlog_set_file_max(unsigned long long max_bytes);
/* Silence stderr output (tests and --quiet). */
void wlog_set_stderr(bool on);

void wlog(enum wlog_level lvl, const char *component, const char *account, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_error(comp, acct, ...) wlog(WLOG_ERROR, comp, acct, __VA_ARGS__)
#define log_warn(comp, acct, ...)  wlog(WLOG_WARN, comp, acct, __VA_ARGS__)
#define log_info(comp, acct, ...)  wlog(WLOG_INFO, comp, acct, __VA_ARGS__)
#define log_debug(comp, acct, ...)                                                                 \
    do {                                                                                           \
        if (wlog_get_level() >= WLOG_DEBUG) wlog(WLOG_DEBUG, comp, acct, __VA_ARGS__);             \
    } while (0)
