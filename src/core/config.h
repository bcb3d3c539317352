/* SPDX-License-Identifier: MIT */
/* config.h -- the daemon's configuration: defaults, JSON file, validation.
 *
 * The file is one JSON object (see docs/config.md and wagate.example.json).
 * Every key is checked against a schema: an unknown key, a value of the
 * wrong type or out of range is an error whose text names the key, e.g.
 *   /etc/wagate.json: gateway.listen: expected "HOST:PORT", got "localhost"
 * A config is a plain value struct; it owns no heap memory.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define CFG_MAX_DNS     8
#define CFG_PATH_MAX    512
#define CFG_ERR_MAX     512
#define CFG_FILE_MAX    (1024 * 1024) /* a config larger than this is refused */
#define CFG_DEFAULT_URL "wss://web.whatsapp.com/ws/chat"
#define CFG_DEFAULT_LISTEN "127.0.0.1:18789"
#define CFG_MAX_ACCOUNTS 16
#define CFG_ACCOUNT_ID_MAX 32 /* [a-z0-9_-]{1,32} */
#define CFG_HOOK_CMD_MAX 1024 /* hooks.exec.command, bytes incl. the NUL */

struct wg_config {
    /* gateway.* */
    char listen[128];      /* HOST:PORT or [V6]:PORT */
    char token[129];       /* empty = generated into <state>/token */
    unsigned max_clients;  /* API clients at once */
    /* log.* */
    enum wlog_level log_level;
    bool log_json;
    char log_file[CFG_PATH_MAX]; /* empty = stderr only */
    /* whatsapp.* (used by the WhatsApp channel) */
    char wa_endpoint[CFG_PATH_MAX];
    uint8_t wa_noise_root[32];
    char wa_tls_ca_file[CFG_PATH_MAX];
    char wa_dns_servers[CFG_MAX_DNS][64];
    unsigned wa_dns_count; /* 0 = the system's resolvers */
    /* whatsapp.accounts: ids in file order; when the key is absent, one account "default".
     * An empty object means no WhatsApp account. Each value is an object whose keys are
     * reserved (none is accepted yet). */
    char wa_accounts[CFG_MAX_ACCOUNTS][CFG_ACCOUNT_ID_MAX + 1];
    unsigned wa_account_count;
    /* hooks.exec.* (gw/chhook.h): the agent command run per received text message.
     * An empty command = no exec hook. Defaults: 10000 ms, 4 at once, 64 waiting. */
    char hook_exec_command[CFG_HOOK_CMD_MAX];
    unsigned hook_exec_timeout_ms;  /* 100..600000: the command is killed after this */
    unsigned hook_exec_max_running; /* 1..64 commands at once */
    unsigned hook_exec_max_queued;  /* 0..10000 messages waiting for a slot; more are dropped */
};

/* Fill defaults. */
void cfg_defaults(struct wg_config *c);
/* Parse JSON text over the values already in c. On error returns -EINVAL
 * and writes a message naming the key (or the line and column of a syntax
 * error) to err; c may be partly updated, so parse into a copy. */
int cfg_parse(struct wg_config *c, const char *json, size_t len, char *err, size_t errlen);
/* Load `path` into c (defaults first). A missing file is -ENOENT (callers
 * decide whether that is an error); other errors are -EINVAL/-EIO etc. with
 * err prefixed by the path. */
int cfg_load(struct wg_config *c, const char *path, char *err, size_t errlen);
/* The default config path: $XDG_CONFIG_HOME/wagate/wagate.json, else
 * $HOME/.config/wagate/wagate.json. Returns -ENOENT if neither is set. */
int cfg_default_path(char *out, size_t outlen);
/* The default state dir: $XDG_STATE_HOME/wagate, else $HOME/.local/state/wagate. */
int cfg_default_state_dir(char *out, size_t outlen);
/* True if s is a valid account id ([a-z0-9_-]{1,32}). */
bool cfg_account_id_valid(const char *s);
/* Validate a "HOST:PORT" listen address; splits it when host/port are non-NULL. */
int cfg_split_listen(const char *s, char *host, size_t hostlen, int *port);
