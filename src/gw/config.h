/* SPDX-License-Identifier: MIT */
/* config.h -- the daemon's configuration: defaults, JSON file, validation.
 *
 * struct wg_config is core/config.h's gateway.* and log.* sections (CFG_CORE_FIELDS) plus
 * the WhatsApp channel's whatsapp.* (gw/channel.h) and the exec hook's hooks.exec.*
 * (gw/chhook.h), all checked by one schema built on core/config.h's machinery: an unknown
 * key, a value of the wrong type or out of range is an error whose text names the key, e.g.
 *   /etc/wagate.json: gateway.listen: expected "IP:PORT" (e.g. "127.0.0.1:18789"), got ...
 * A config is a plain value struct; it owns no heap memory.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define CFG_MAX_DNS         8
#define CFG_URL_ALLOW_MAX   16
#define CFG_URL_PREFIX_MAX  512
#define CFG_DEFAULT_URL     "wss://web.whatsapp.com/ws/chat"
#define CFG_HOOK_CMD_MAX    1024 /* hooks.exec.command, bytes incl. the NUL */
#define CFG_ACCESS_LIST_MAX 32   /* entries of allow_from / groups per account */
#define CFG_ACCESS_JID_MAX  64   /* a normalised JID, bytes incl. the NUL */
#define CFG_ACCESS_POOL_MAX 2048 /* allow_from + groups entries of all accounts together */
#define CFG_WEBHOOK_MAX     8    /* hooks.webhook.endpoints entries */
#define CFG_WEBHOOK_URL_MAX 1024 /* an endpoint URL, bytes incl. the NUL */
#define CFG_WEBHOOK_EVENTS  16   /* event types (or "prefix.*" / "*") per endpoint */

/* hooks.webhook.endpoints[i] (gw/webhook.h). */
struct wg_webhook {
    char url[CFG_WEBHOOK_URL_MAX];       /* url: http:// or https:// */
    char secret[257];                    /* secret: 16..256 bytes, the HMAC-SHA256 key */
    char events[CFG_WEBHOOK_EVENTS][48]; /* events: default ["message.received"] */
    unsigned n_events;
};

/* whatsapp.accounts.<id>.*: who may reach the agent (gw/access.h). */
enum wg_dm_policy { WG_DM_PAIRING = 0, WG_DM_ALLOWLIST, WG_DM_OPEN };
enum wg_group_policy { WG_GROUP_ALLOWLIST = 0, WG_GROUP_OPEN };
struct wg_access {
    enum wg_dm_policy dm_policy;       /* dm_policy: "pairing" (default), "allowlist", "open" */
    enum wg_group_policy group_policy; /* group_policy: "allowlist" (default), "open" */
    bool require_mention;              /* require_mention (default true): groups need @us */
    /* allow_from (numbers -> PN JIDs) and groups (group JIDs): n entries each, kept in the
     * config's access_pool from the offset (cfg_access_jids), so that an account without
     * lists costs a few bytes (issue 16: a thousand accounts in one config) */
    unsigned allow_off, n_allow;
    unsigned groups_off, n_groups;
};

struct wg_config {
    CFG_CORE_FIELDS; /* gateway.*, log.* */
    /* whatsapp.* (used by the WhatsApp channel) */
    char wa_endpoint[CFG_PATH_MAX];
    uint8_t wa_noise_root[32];
    char wa_tls_ca_file[CFG_PATH_MAX];
    char wa_dns_servers[CFG_MAX_DNS][64];
    unsigned wa_dns_count; /* 0 = the system's resolvers */
    /* whatsapp.backoff.*: reconnect delays, full jitter in [0.1 s, min(cap, base * 2^n)] */
    unsigned wa_backoff_base_ms; /* 100..60000, default 1000 */
    unsigned wa_backoff_cap_ms;  /* 1000..3600000, default 60000 (never below base) */
    /* whatsapp.repair.* (wa/recv.h, design.md "Session repair"): retry receipts of one
     * message at least retry_gap_ms apart (50..60000, default 1000), the next after
     * retry_wait_ms without an answer (100..600000, 10000); the store-wide repair when
     * store_peers distinct peers (1..1000, 5) fail within store_window_s (1..86400, 600) */
    unsigned wa_repair_gap_ms, wa_repair_wait_ms, wa_repair_store_peers, wa_repair_window_s;
    unsigned wa_repair_phone_delay_ms; /* ask our phone after this (100..600000, 5000) */
    /* whatsapp.keepalive.*: a ping every [interval, 1.5 x interval) ms (200..600000, default
     * 20000), answered within deadline_ms (100..120000, default 10000); two unanswered in a
     * row end the session (gw/channel.h) */
    unsigned wa_keepalive_interval_ms;
    unsigned wa_keepalive_deadline_ms;
    /* whatsapp.accounts: ids in file order; when the key is absent, one account "default".
     * An empty object means no WhatsApp account. Each value is an object with the account's
     * access keys (dm_policy, allow_from, group_policy, groups, require_mention). */
    char wa_accounts[CFG_MAX_ACCOUNTS][CFG_ACCOUNT_ID_MAX + 1];
    unsigned wa_account_count;
    struct wg_access wa_access[CFG_MAX_ACCOUNTS]; /* each account's access policy (same index) */
    char access_pool[CFG_ACCESS_POOL_MAX][CFG_ACCESS_JID_MAX]; /* the accounts' JID lists */
    unsigned access_pool_n;
    /* whatsapp.chunk_size: a text longer than this many characters (16..65536, default
     * 4000) goes out as several messages, split at word boundaries (gw/chunk.h) */
    unsigned wa_chunk_size;
    /* media.*: received files (gw/chmedia.h): the size budget per account (MiB), their age
     * limit, how long the exec hook waits for a message's file before it runs without it, and
     * the CA bundle for the media hosts (empty: whatsapp.tls_ca_file, else the system store) */
    unsigned media_max_mb, media_keep_days, media_hook_wait_s;
    char media_ca_file[CFG_PATH_MAX];
    /* media.url_allow: URL prefixes a file to send may be fetched from (gw/mediaurl.h;
     * none: URL sources are refused) */
    char media_url_allow[CFG_URL_ALLOW_MAX][CFG_URL_PREFIX_MAX];
    unsigned media_url_allow_count;
    /* whatsapp.mark_read: "never" (default) or "on_handled": a read receipt for each message
     * the exec hook handled */
    char wa_mark_read[16];
    /* notify.* (gw/notify.h): an outage that lasts outage_after_s raises one link_down
     * notification and channel.down (1..86400, default 180), restored when it ends.
     * command: run per notification with its JSON on stdin (empty = none), killed after
     * command_timeout_ms (100..600000, default 10000), one at a time, command_max_queued
     * waiting (0..1000, default 32). self_chat: each notification's text also goes to the
     * account's own number ("note to self") while the link is up (default false). */
    unsigned notify_outage_after_s;
    /* signal.* (wa/spkrot.c): the signed pre-key is rotated every spk_rotate_days (0..365,
     * default 27 as WhatsApp Web; 0 = never), retired keys are kept spk_keep_days (1..365,
     * default 90) and at most spk_keep_max (1..32, default 4). spk_test_seconds (tests only,
     * default false) reads both "days" as seconds. */
    unsigned sig_spk_rotate_days, sig_spk_keep_days, sig_spk_keep_max;
    bool sig_spk_test_seconds;
    char notify_command[CFG_HOOK_CMD_MAX];
    unsigned notify_command_timeout_ms;
    unsigned notify_command_max_queued;
    bool notify_self_chat;
    /* hooks.exec.* (gw/chhook.h): the agent command run per received text message.
     * An empty command = no exec hook. Defaults: 10000 ms, 4 at once, 64 waiting. */
    char hook_exec_command[CFG_HOOK_CMD_MAX];
    unsigned hook_exec_timeout_ms; /* 100..600000: the command is killed after this */
    bool hook_exec_typing; /* typing (default false): "composing" to the chat while it runs */
    unsigned hook_exec_max_running; /* 1..64 commands at once */
    unsigned hook_exec_max_queued;  /* 0..10000 messages held in memory for a slot; the rest
                                     * wait in the inbox (pending) and are read back later */
    /* A failed run is retried after retry_base_ms, doubling up to retry_max_ms, until
     * max_attempts runs were started; then hook.failed and the message is settled.
     * Defaults: 2000 ms, 300000 ms, 20 (about 1 h 20 min of retries). */
    unsigned hook_exec_retry_base_ms; /* 10..3600000 */
    unsigned hook_exec_retry_max_ms;  /* 10..86400000 */
    unsigned hook_exec_max_attempts;  /* 1..1000 */
    /* hooks.webhook.* (gw/webhook.h): events POSTed to HTTP(S) endpoints, durably retried.
     * No endpoints = no webhooks. */
    struct wg_webhook webhooks[CFG_WEBHOOK_MAX];
    unsigned webhook_count;
    unsigned webhook_connect_timeout_ms;  /* 100..60000, default 5000: DNS + TCP + TLS */
    unsigned webhook_response_timeout_ms; /* 100..120000, default 10000: to the response head */
    unsigned webhook_retry_base_ms;       /* 10..3600000, default 1000; doubles per attempt */
    unsigned webhook_retry_max_ms;        /* 10..86400000, default 600000 (the cap) */
    unsigned webhook_max_attempts;        /* 1..1000, default 15; then dead-letter */
    unsigned webhook_max_concurrent;      /* 1..64, default 4 requests at once per account */
    unsigned webhook_max_body;            /* 1024..1048576, default 262144 bytes per event */
    unsigned webhook_max_response;        /* 256..65536, default 16384 bytes of response read */
    char webhook_ca_file[CFG_PATH_MAX];   /* PEM CA bundle for https; empty = system store */
};

/* Fill defaults. */
void cfg_defaults(struct wg_config *c);
/* The access policy of an account by id (the defaults for an unknown one). */
const struct wg_access *cfg_access(const struct wg_config *c, const char *account);
/* The same with a hint the caller keeps (*hint: the account's index found last time, any
 * value at first): O(1) while the account list is unchanged, a search (and a new *hint)
 * after a reload moved or removed it -- the per-message path of gw/access, where a search
 * over 1,000 account ids per message would be O(accounts). */
const struct wg_access *cfg_access_hint(const struct wg_config *c, const char *account,
                                        unsigned *hint);
/* The allow_from (groups false) or groups (true) JIDs of a (from cfg_access on c): *n of
 * them, CFG_ACCESS_JID_MAX bytes apart. */
const char (*cfg_access_jids(const struct wg_config *c, const struct wg_access *a, bool groups,
                             unsigned *n))[CFG_ACCESS_JID_MAX];
/* Parse JSON text over the values already in c. On error returns -EINVAL
 * and writes a message naming the key (or the line and column of a syntax
 * error) to err; c may be partly updated, so parse into a copy. */
int cfg_parse(struct wg_config *c, const char *json, size_t len, char *err, size_t errlen);
/* Load `path` into c (defaults first). A missing file is -ENOENT (callers
 * decide whether that is an error); other errors are -EINVAL/-EIO etc. with
 * err prefixed by the path. On error c holds the defaults. */
int cfg_load(struct wg_config *c, const char *path, char *err, size_t errlen);
