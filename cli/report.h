/* SPDX-License-Identifier: MIT */
/* report.h -- how the CLI reports a failure: a message that says what went wrong and a hint
 * that says what to do next. With --json the error is a JSON object on stdout
 *   {"error":{"code":"not_linked","message":"...","hint":"..."}}
 * (hint omitted when there is none), so a script reads one stream; without it the message
 * goes to stderr as "wagate: MESSAGE" and the hint on the next line, indented. */
#pragma once
#include "cli.h"

struct cJSON;

/* Report an error and return exit_status. code: a stable snake_case identifier (docs/cli.md
 * lists them); hint: NULL or what to do next. */
int cli_fail(const struct cli_env *e, int exit_status, const char *code, const char *hint,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Report a failed API call and return its exit status. what names the command ("send");
 * status is the HTTP status, or the -errno of cli_http; resp the parsed answer or NULL.
 * Known cases get their own code and hint:
 *   nothing listens (-ECONNREFUSED) and no daemon holds the state dir: not_running (exit 3);
 *   a daemon holds it but does not answer: no_answer (1);
 *   401: token_mismatch (1), saying which state dir and token the CLI used and whether a
 *        gateway runs with that state dir at all;
 *   404 "no such account": no_such_account (1), saying where the accounts are listed;
 *   anything else: http_<status> (1) with the daemon's own error text. */
int cli_fail_api(const struct cli_env *e, const char *what, int status, const struct cJSON *resp);

/* One API call (cli_http with a 5 s timeout): *out gets the parsed JSON answer or NULL
 * (caller frees). Returns the HTTP status or the -errno of cli_http; prints nothing. */
int cli_api(const struct cli_env *e, const char *method, const char *path, const char *body,
            struct cJSON **out);

/* A string member of o, "" when absent or not a string. */
const char *cli_jstr(const struct cJSON *o, const char *key);
