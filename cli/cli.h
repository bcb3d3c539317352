/* SPDX-License-Identifier: MIT */
/* cli.h -- what every CLI command shares: global options, finding the
 * daemon (config, state dir, token) and talking to its API. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "gw/config.h"

/* Exit statuses of the CLI. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NOT_RUNNING = 3 };

struct cli_env {
    const char *config_arg; /* --config, or NULL */
    const char *state_arg;  /* --state-dir, or NULL */
    bool json;              /* --json */
    char config_path[PATH_MAX];
    char state_dir[PATH_MAX];
    struct wg_config cfg;
};

/* Take the global options (--config F, --state-dir D, --json, in any
 * position) out of argv, compacting it; *argc is updated. Returns 0, or
 * EXIT_USAGE after printing a message. */
int cli_take_globals(struct cli_env *e, int *argc, char **argv);
/* Resolve paths and load the config the daemon would use. Prints the error
 * and returns EXIT_FAIL on a bad config. */
int cli_load(struct cli_env *e);
/* The API token: gateway.token, else <state>/token. 0 or -errno. */
int cli_token(const struct cli_env *e, char *out, size_t outlen);

/* A blocking HTTP/1.1 request to the daemon's API (CLI only; never used in
 * the daemon). Returns 0 with *status and a heap *body (caller frees), or
 * -errno (-ECONNREFUSED when nothing listens, -ETIMEDOUT after timeout_ms). */
int cli_http(const struct cli_env *e, const char *method, const char *path, const char *body,
             int timeout_ms, int *status, char **resp);

/* Print a JSON object (cJSON *) to stdout, pretty, and free it. */
void cli_print_json(void *cjson);
