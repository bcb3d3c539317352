/* SPDX-License-Identifier: MIT */
/* config.h -- schema-driven JSON configuration: the machinery, the gateway.* and log.*
 * sections, the default paths.
 *
 * A config file is one JSON object (see docs/config.md and wagate.example.json); a config is
 * a plain value struct that owns no heap memory. A schema (struct cfg_key entries) says for
 * every key where its value lives in that struct, its type, range, validator and default.
 * Every key of the file is checked against it: an unknown key, a value of the wrong type or
 * out of range is an error whose text names the key, e.g.
 *   /etc/wagate.json: gateway.listen: expected "IP:PORT" (e.g. "127.0.0.1:18789"), got ...
 *
 * This layer knows only the sections every wagate config has: CFG_CORE_FIELDS declares their
 * fields in a config struct and CFG_CORE_KEYS() is their part of its schema. The daemon's
 * config (struct wg_config, with the channel and hook sections) is gw/config.h.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"

#define CFG_PATH_MAX          512
#define CFG_ERR_MAX           512
#define CFG_FILE_MAX          (1024 * 1024) /* a config larger than this is refused */
#define CFG_DEFAULT_LISTEN    "127.0.0.1:18789"
#define CFG_MAX_ACCOUNTS      1024 /* accounts one gateway serves */
#define CFG_MAX_ACCOUNTS_TEXT "1024"
#define CFG_ACCOUNT_ID_MAX    32  /* [a-z0-9_-]{1,32} */
#define CFG_MAX_HOSTS         16  /* gateway.allowed_hosts entries */
#define CFG_HOST_MAX          256 /* bytes of one, incl. the NUL */

struct cJSON;
struct cfg_key;

/* A list of host names (gateway.allowed_hosts). */
struct cfg_hosts {
    char name[CFG_MAX_HOSTS][CFG_HOST_MAX];
    unsigned n;
};

enum cfg_type {
    CFG_SECTION, /* an object of further keys ("gateway") */
    CFG_STRING,  /* char[size]: min..max characters (max 0: any that fit), then check() */
    CFG_BOOL,    /* bool: true or false */
    CFG_UINT,    /* unsigned: an integer from min to max */
    CFG_LEVEL,   /* enum wlog_level: "error", "warn", "info" or "debug" */
    CFG_HEX32,   /* uint8_t[32]: 64 hex digits */
    CFG_CUSTOM,  /* set() parses the value */
};

/* Parse v, the value of key k, into the config struct at obj (the whole struct: a setter may
 * fill several fields, e.g. a list and its count). 0, or -EINVAL with a message naming
 * k->path in err (cfg_expected() writes the usual one). */
typedef int (*cfg_set_fn)(const struct cfg_key *k, void *obj, const struct cJSON *v, char *err,
                          size_t errlen);

struct cfg_key {
    const char *path;             /* "section.key" */
    enum cfg_type type;           /* how the value is parsed */
    size_t off, size;             /* where the value lives in the config struct: CFG_AT() */
    unsigned min, max;            /* CFG_STRING: length; CFG_UINT: value; CFG_CUSTOM: free */
    bool (*check)(const char *s); /* CFG_STRING: validator, NULL = any string */
    const char *what;             /* CFG_STRING: the expected form in errors (NULL: "a string
                                   * [of min to max characters]") */
    cfg_set_fn set;               /* CFG_CUSTOM */
    const char *def;              /* default, as text: CFG_STRING the string, CFG_UINT decimal,
                                   * CFG_BOOL "true", CFG_LEVEL a level, CFG_HEX32 64 hex digits;
                                   * NULL = zero (CFG_CUSTOM: the owner's defaults function) */
};

struct cfg_schema {
    const struct cfg_key *keys;
    size_t nkeys;
};

#define CFG_AT(T, field) .off = offsetof(T, field), .size = sizeof(((T *)0)->field)

/* The gateway.* and log.* fields, declared in a config struct with `CFG_CORE_FIELDS;`. */
#define CFG_CORE_FIELDS                                                                            \
    char listen[128];               /* gateway.listen: HOST:PORT or [V6]:PORT */                   \
    char token[129];                /* gateway.token: empty = generated into <state>/token */      \
    unsigned max_clients;           /* gateway.max_clients: API clients at once */                 \
    struct cfg_hosts allowed_hosts; /* gateway.allowed_hosts: Host names beyond loopback */        \
    bool metrics_public;            /* gateway.metrics_public: /metrics without the token */       \
    bool allow_remote;              /* gateway.allow_remote: listen beyond loopback */             \
    char tls_cert[CFG_PATH_MAX];    /* gateway.tls_cert: PEM chain, empty = plain HTTP */          \
    char tls_key[CFG_PATH_MAX];     /* gateway.tls_key: PEM key of the leaf */                     \
    enum wlog_level log_level;      /* log.level */                                                \
    bool log_json;                  /* log.json */                                                 \
    char log_file[CFG_PATH_MAX];    /* log.file: empty = <state>/logs/gateway.log */               \
    unsigned log_file_max_kb        /* log.file_max_kb: rotate past it, one old file kept */

/* Their schema entries, for a config struct T declaring CFG_CORE_FIELDS. */
/* clang-format off */
#define CFG_CORE_KEYS(T)                                                                           \
    {.path = "gateway", .type = CFG_SECTION},                                                      \
    {.path = "gateway.listen", .type = CFG_STRING, CFG_AT(T, listen), .check = cfg_listen_valid,   \
     .what = "\"IP:PORT\" (e.g. \"127.0.0.1:18789\")", .def = CFG_DEFAULT_LISTEN},                 \
    {.path = "gateway.token", .type = CFG_STRING, CFG_AT(T, token), .min = 16, .max = 128,         \
     .check = cfg_token_valid, .what = "16 to 128 visible ASCII characters (no spaces)"},         \
    {.path = "gateway.max_clients", .type = CFG_UINT, CFG_AT(T, max_clients), .min = 1,            \
     .max = 4096, .def = "64"},                                                                    \
    {.path = "gateway.allowed_hosts", .type = CFG_CUSTOM, CFG_AT(T, allowed_hosts),                \
     .set = cfg_set_hosts},                                                                        \
    {.path = "gateway.metrics_public", .type = CFG_BOOL, CFG_AT(T, metrics_public)},               \
    {.path = "gateway.allow_remote", .type = CFG_BOOL, CFG_AT(T, allow_remote)},                   \
    {.path = "gateway.tls_cert", .type = CFG_STRING, CFG_AT(T, tls_cert), .min = 1,                \
     .max = CFG_PATH_MAX - 1},                                                                     \
    {.path = "gateway.tls_key", .type = CFG_STRING, CFG_AT(T, tls_key), .min = 1,                  \
     .max = CFG_PATH_MAX - 1},                                                                     \
    {.path = "log", .type = CFG_SECTION},                                                          \
    {.path = "log.level", .type = CFG_LEVEL, CFG_AT(T, log_level), .def = "info"},                 \
    {.path = "log.json", .type = CFG_BOOL, CFG_AT(T, log_json)},                                   \
    {.path = "log.file", .type = CFG_STRING, CFG_AT(T, log_file), .min = 1,                        \
     .max = CFG_PATH_MAX - 1},                                                                     \
    {.path = "log.file_max_kb", .type = CFG_UINT, CFG_AT(T, log_file_max_kb), .min = 0,            \
     .max = 4194304, .def = "4096"}
/* clang-format on */

/* Zero the size bytes at obj, then write every key's default. 0, or -EINVAL for a default
 * that does not parse (a bug in the schema: the unit tests load every default). */
int cfg_schema_defaults(const struct cfg_schema *s, void *obj, size_t size);
/* Parse JSON text over the values already in obj. On error returns -EINVAL and writes a
 * message naming the key (or the line and column of a syntax error) to err; obj may be
 * partly updated, so parse into a copy. */
int cfg_schema_parse(const struct cfg_schema *s, void *obj, const char *json, size_t len, char *err,
                     size_t errlen);
/* Load the file `path` over the values already in obj (size bytes), all or nothing: on error
 * obj is unchanged. A missing file is -ENOENT (callers decide whether that is an error);
 * other errors are -EINVAL/-EFBIG/-EIO/-ENOMEM etc. with err prefixed by the path. */
int cfg_schema_load(const struct cfg_schema *s, void *obj, size_t size, const char *path, char *err,
                    size_t errlen);
/* For setters: writes "<path>: expected <what>, got <v as JSON>" (v cut at 80 characters,
 * "nothing" for NULL) to err and returns -EINVAL. */
int cfg_expected(char *err, size_t errlen, const char *path, const char *what,
                 const struct cJSON *v);

/* The default config path: $XDG_CONFIG_HOME/wagate/wagate.json, else
 * $HOME/.config/wagate/wagate.json. Returns -ENOENT if neither is set. */
int cfg_default_path(char *out, size_t outlen);
/* The default state dir: $XDG_STATE_HOME/wagate, else $HOME/.local/state/wagate. */
int cfg_default_state_dir(char *out, size_t outlen);
/* True if s is a valid account id ([a-z0-9_-]{1,32}). */
bool cfg_account_id_valid(const char *s);
/* Validate a "HOST:PORT" listen address; splits it when host/port are non-NULL. */
int cfg_split_listen(const char *s, char *host, size_t hostlen, int *port);
/* cfg_split_listen(s, NULL, 0, NULL) == 0: the validator of gateway.listen. */
bool cfg_listen_valid(const char *s);
/* The validator of gateway.token: 16..128 bytes, each visible ASCII (0x21..0x7e). */
bool cfg_token_valid(const char *s);
/* The setter of gateway.allowed_hosts: an array of up to CFG_MAX_HOSTS strings, each "NAME"
 * or "NAME:PORT" (NAME a DNS name, an IPv4 address or a [bracketed] IPv6 one), into the
 * struct cfg_hosts at k->off. */
int cfg_set_hosts(const struct cfg_key *k, void *obj, const struct cJSON *v, char *err,
                  size_t errlen);
