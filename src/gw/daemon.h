/* SPDX-License-Identifier: MIT */
/* daemon.h -- the gateway process: config, state, lock, loop, API, signals. */
#pragma once
#include <stdbool.h>

struct daemon_opts {
    const char *config_path; /* NULL = default path (optional file) */
    bool config_required;    /* the path was given explicitly: it must exist */
    const char *state_dir;   /* NULL = default state dir */
    const char *listen;      /* overrides gateway.listen when non-NULL */
};

/* Run the gateway in the foreground until SIGTERM/SIGINT. SIGHUP reloads the
 * config (log settings and the API token; other changes need a restart and
 * are reported). Returns the process exit status: 0 after a clean stop,
 * 1 on a start-up error (already printed). */
int daemon_run(const struct daemon_opts *o);
