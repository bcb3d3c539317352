/* SPDX-License-Identifier: MIT */
/* config.c -- the daemon's config schema: core's sections, whatsapp.* (with each account's
 * access policy), hooks.exec.*, hooks.webhook.*. */
#include "gw/config.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gw/mediaurl.h"
#include "wa/sendbuild.h"

/* WhatsApp's real Noise certificate root ("WhatsAppLongTerm1"). */
#define DEFAULT_ROOT_HEX "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"

static bool ws_url_valid(const char *s)
{
    return strncmp(s, "ws://", 5) == 0 || strncmp(s, "wss://", 6) == 0;
}

static bool check_mark_read(const char *s)
{
    return strcmp(s, "never") == 0 || strcmp(s, "on_handled") == 0;
}

static int check_dns_server(const char *s)
{
    /* "IP" or "IP:PORT" or "[V6]:PORT" */
    unsigned char tmp[16];
    if (inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1) return 0;
    return cfg_split_listen(s, NULL, 0, NULL);
}

/* whatsapp.dns_servers: ["IP", "IP:PORT", ...]. */
static int set_dns(const struct cfg_key *k, void *obj, const cJSON *v, char *err, size_t errlen)
{
    struct wg_config *c = obj;
    const char *what = "an array of up to 8 \"IP\" or \"IP:PORT\" strings";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CFG_MAX_DNS)
        return cfg_expected(err, errlen, k->path, what, v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof c->wa_dns_servers[0] ||
            check_dns_server(e->valuestring) < 0)
            return cfg_expected(err, errlen, k->path, what, e);
        snprintf(c->wa_dns_servers[n++], sizeof c->wa_dns_servers[0], "%s", e->valuestring);
    }
    c->wa_dns_count = n;
    return 0;
}

/* media.url_allow: ["https://host/path/", ...] (gw/mediaurl.h). */
_Static_assert(CFG_URL_ALLOW_MAX == MEDIAURL_PREFIXES_MAX &&
                   CFG_URL_PREFIX_MAX == MEDIAURL_PREFIX_MAX,
               "media.url_allow matches gw/mediaurl");
static int set_url_allow(const struct cfg_key *k, void *obj, const cJSON *v, char *err,
                         size_t errlen)
{
    struct wg_config *c = obj;
    const char *what = "an array of up to 16 URL prefixes (\"https://host/path/\")";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CFG_URL_ALLOW_MAX)
        return cfg_expected(err, errlen, k->path, what, v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char why[200];
        if (!cJSON_IsString(e)) return cfg_expected(err, errlen, k->path, what, e);
        if (mediaurl_prefix_check(e->valuestring, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", k->path, why);
            return -EINVAL;
        }
        snprintf(c->media_url_allow[n++], sizeof c->media_url_allow[0], "%s", e->valuestring);
    }
    c->media_url_allow_count = n;
    return 0;
}

static void access_defaults(struct wg_access *a)
{
    memset(a, 0, sizeof(*a));
    a->dm_policy = WG_DM_PAIRING;
    a->group_policy = WG_GROUP_ALLOWLIST;
    a->require_mention = true;
}

static int enum_of(const char *path, const cJSON *v, const char *const *names, int n, int *out,
                   const char *what, char *err, size_t errlen)
{
    for (int i = 0; cJSON_IsString(v) && i < n; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return cfg_expected(err, errlen, path, what, v);
}

/* allow_from: ["+15550002", ...] (numbers, normalised) or groups: ["...@g.us", ...]. */
static int jid_list(struct wg_config *c, const char *path, const cJSON *v, bool groups,
                    unsigned *off, unsigned *n, char *err, size_t errlen)
{
    const char *what = groups ? "an array of up to 32 group JIDs (\"...@g.us\")"
                              : "an array of up to 32 phone numbers (\"+15550002\")";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CFG_ACCESS_LIST_MAX)
        return cfg_expected(err, errlen, path, what, v);
    if (c->access_pool_n + (unsigned)cJSON_GetArraySize(v) > CFG_ACCESS_POOL_MAX) {
        snprintf(err, errlen, "%s: more than %u allow_from and groups entries in all accounts",
                 path, CFG_ACCESS_POOL_MAX);
        return -E2BIG;
    }
    char(*out)[CFG_ACCESS_JID_MAX] = &c->access_pool[c->access_pool_n];
    *off = c->access_pool_n;
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char why[160] = "";
        if (!cJSON_IsString(e) ||
            wa_send_normalize_to(e->valuestring, out[*n], CFG_ACCESS_JID_MAX, why, sizeof why) <
                0 ||
            (strstr(out[*n], "@g.us") != NULL) != groups)
            return cfg_expected(err, errlen, path, what, e);
        (*n)++;
    }
    c->access_pool_n += *n;
    return 0;
}

/* The access keys of one account entry (path = whatsapp.accounts.<id>). */
static int set_access(struct wg_config *c, struct wg_access *a, const char *path, const cJSON *o,
                      char *err, size_t errlen)
{
    static const char *const dm[] = {"pairing", "allowlist", "open"};
    static const char *const grp[] = {"allowlist", "open"};
    access_defaults(a);
    const cJSON *e;
    cJSON_ArrayForEach(e, o)
    {
        char p[200];
        snprintf(p, sizeof p, "%s.%.40s", path, e->string);
        int r, x = 0;
        if (strcmp(e->string, "dm_policy") == 0) {
            r = enum_of(p, e, dm, 3, &x, "\"pairing\", \"allowlist\" or \"open\"", err, errlen);
            a->dm_policy = (enum wg_dm_policy)x;
        } else if (strcmp(e->string, "group_policy") == 0) {
            r = enum_of(p, e, grp, 2, &x, "\"allowlist\" or \"open\"", err, errlen);
            a->group_policy = (enum wg_group_policy)x;
        } else if (strcmp(e->string, "require_mention") == 0) {
            r = cJSON_IsBool(e) ? 0 : cfg_expected(err, errlen, p, "true or false", e);
            a->require_mention = cJSON_IsTrue(e);
        } else if (strcmp(e->string, "allow_from") == 0) {
            r = jid_list(c, p, e, false, &a->allow_off, &a->n_allow, err, errlen);
        } else if (strcmp(e->string, "groups") == 0) {
            r = jid_list(c, p, e, true, &a->groups_off, &a->n_groups, err, errlen);
        } else {
            snprintf(err, errlen, "%s: unknown key", p);
            r = -EINVAL;
        }
        if (r < 0) return r;
    }
    return 0;
}

/* One whatsapp.accounts entry: a valid, new id whose value is an object of access keys. */
static int check_account(struct wg_config *c, unsigned n, const char *path, const cJSON *e,
                         char *err, size_t errlen)
{
    if (!cfg_account_id_valid(e->string)) {
        snprintf(err, errlen, "%s: account id must match [a-z0-9_-]{1,32}", path);
        return -EINVAL;
    }
    if (!cJSON_IsObject(e)) return cfg_expected(err, errlen, path, "an object", e);
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(c->wa_accounts[i], e->string) == 0) {
            snprintf(err, errlen, "%s: duplicate account", path);
            return -EINVAL;
        }
    }
    return set_access(c, &c->wa_access[n], path, e, err, errlen);
}

const char (*cfg_access_jids(const struct wg_config *c, const struct wg_access *a, bool groups,
                             unsigned *n))[CFG_ACCESS_JID_MAX]
{
    unsigned off = groups ? a->groups_off : a->allow_off;
    *n = groups ? a->n_groups : a->n_allow;
    if (*n == 0 || off + *n > c->access_pool_n) {
        *n = 0;
        return NULL;
    }
    return (const char(*)[CFG_ACCESS_JID_MAX])c->access_pool[off];
}

const struct wg_access *cfg_access(const struct wg_config *c, const char *account)
{
    unsigned hint = 0;
    return cfg_access_hint(c, account, &hint);
}

const struct wg_access *cfg_access_hint(const struct wg_config *c, const char *account,
                                        unsigned *hint)
{
    static struct wg_access def;
    static bool init;
    unsigned n = c->wa_account_count < CFG_MAX_ACCOUNTS ? c->wa_account_count : CFG_MAX_ACCOUNTS;
    if (account && *hint < n && strcmp(c->wa_accounts[*hint], account) == 0)
        return &c->wa_access[*hint];
    for (unsigned i = 0; account && i < n; i++)
        if (strcmp(c->wa_accounts[i], account) == 0) {
            *hint = i;
            return &c->wa_access[i];
        }
    if (!init) {
        access_defaults(&def);
        init = true;
    }
    return &def;
}

/* whatsapp.accounts: {"ID": {}, ...}. */
static int set_accounts(const struct cfg_key *k, void *obj, const cJSON *v, char *err,
                        size_t errlen)
{
    struct wg_config *c = obj;
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > CFG_MAX_ACCOUNTS)
        return cfg_expected(err, errlen, k->path,
                            "an object of up to " CFG_MAX_ACCOUNTS_TEXT " accounts", v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char path[128];
        snprintf(path, sizeof path, "%s.%.40s", k->path, e->string);
        int r = check_account(c, n, path, e, err, errlen);
        if (r < 0) return r;
        snprintf(c->wa_accounts[n++], sizeof c->wa_accounts[0], "%s", e->string);
    }
    c->wa_account_count = n;
    return 0;
}

static bool event_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 48) return false;
    if (strcmp(s, "*") == 0) return true;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool last_star = ch == '*' && i == n - 1 && i > 0 && s[i - 1] == '.';
        if (!((ch >= 'a' && ch <= 'z') || ch == '.' || ch == '_' || last_star)) return false;
    }
    return s[0] != '.';
}

/* One hooks.webhook.endpoints entry: {"url", "secret", "events"?}. */
static int set_webhook(struct wg_webhook *w, const char *path, const cJSON *o, char *err,
                       size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (!cJSON_IsObject(o)) return cfg_expected(err, errlen, path, "an object", o);
    const cJSON *e;
    cJSON_ArrayForEach(e, o)
    {
        char p[200];
        snprintf(p, sizeof p, "%s.%.40s", path, e->string);
        if (strcmp(e->string, "url") == 0) {
            if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof w->url ||
                (strncmp(e->valuestring, "http://", 7) != 0 &&
                 strncmp(e->valuestring, "https://", 8) != 0))
                return cfg_expected(err, errlen, p, "an http:// or https:// URL", e);
            snprintf(w->url, sizeof w->url, "%s", e->valuestring);
        } else if (strcmp(e->string, "secret") == 0) {
            if (!cJSON_IsString(e) || strlen(e->valuestring) < 16 ||
                strlen(e->valuestring) >= sizeof w->secret)
                return cfg_expected(err, errlen, p, "a string of 16 to 256 bytes", e);
            snprintf(w->secret, sizeof w->secret, "%s", e->valuestring);
        } else if (strcmp(e->string, "events") == 0) {
            const char *what = "an array of up to 16 event types (\"message.received\", "
                               "\"channel.*\", \"*\")";
            if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) < 1 ||
                cJSON_GetArraySize(e) > CFG_WEBHOOK_EVENTS)
                return cfg_expected(err, errlen, p, what, e);
            const cJSON *t;
            cJSON_ArrayForEach(t, e)
            {
                if (!cJSON_IsString(t) || !event_name_ok(t->valuestring))
                    return cfg_expected(err, errlen, p, what, t);
                snprintf(w->events[w->n_events++], sizeof w->events[0], "%s", t->valuestring);
            }
        } else {
            snprintf(err, errlen, "%s: unknown key", p);
            return -EINVAL;
        }
    }
    if (!w->url[0] || !w->secret[0]) {
        snprintf(err, errlen, "%s: \"url\" and \"secret\" are required", path);
        return -EINVAL;
    }
    if (w->n_events == 0)
        snprintf(w->events[w->n_events++], sizeof w->events[0], "message.received");
    return 0;
}

/* hooks.webhook.endpoints: [{...}, ...]. */
static int set_webhooks(const struct cfg_key *k, void *obj, const cJSON *v, char *err,
                        size_t errlen)
{
    struct wg_config *c = obj;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CFG_WEBHOOK_MAX)
        return cfg_expected(err, errlen, k->path, "an array of up to 8 endpoint objects", v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char path[128];
        snprintf(path, sizeof path, "%s[%u]", k->path, n);
        int r = set_webhook(&c->webhooks[n], path, e, err, errlen);
        if (r < 0) return r;
        for (unsigned i = 0; i < n; i++)
            if (strcmp(c->webhooks[i].url, c->webhooks[n].url) == 0) {
                snprintf(err, errlen, "%s.url: duplicate endpoint", path);
                return -EINVAL;
            }
        n++;
    }
    c->webhook_count = n;
    return 0;
}

#define AT(field) CFG_AT(struct wg_config, field)
static const struct cfg_key keys[] = {
    CFG_CORE_KEYS(struct wg_config),
    {.path = "whatsapp", .type = CFG_SECTION},
    {.path = "whatsapp.endpoint",
     .type = CFG_STRING,
     AT(wa_endpoint),
     .check = ws_url_valid,
     .what = "a ws:// or wss:// URL",
     .def = CFG_DEFAULT_URL},
    {.path = "whatsapp.noise_root_pubkey",
     .type = CFG_HEX32,
     AT(wa_noise_root),
     .def = DEFAULT_ROOT_HEX},
    {.path = "whatsapp.tls_ca_file",
     .type = CFG_STRING,
     AT(wa_tls_ca_file),
     .min = 1,
     .max = CFG_PATH_MAX - 1},
    {.path = "whatsapp.dns_servers", .type = CFG_CUSTOM, AT(wa_dns_servers), .set = set_dns},
    {.path = "whatsapp.accounts", .type = CFG_CUSTOM, AT(wa_accounts), .set = set_accounts},
    {.path = "whatsapp.backoff", .type = CFG_SECTION},
    {.path = "whatsapp.backoff.base_ms",
     .type = CFG_UINT,
     AT(wa_backoff_base_ms),
     .min = 100,
     .max = 60000,
     .def = "1000"},
    {.path = "whatsapp.backoff.cap_ms",
     .type = CFG_UINT,
     AT(wa_backoff_cap_ms),
     .min = 1000,
     .max = 3600000,
     .def = "60000"},
    {.path = "whatsapp.repair", .type = CFG_SECTION},
    {.path = "whatsapp.repair.retry_gap_ms",
     .type = CFG_UINT,
     AT(wa_repair_gap_ms),
     .min = 50,
     .max = 60000,
     .def = "1000"},
    {.path = "whatsapp.repair.retry_wait_ms",
     .type = CFG_UINT,
     AT(wa_repair_wait_ms),
     .min = 100,
     .max = 600000,
     .def = "10000"},
    {.path = "whatsapp.repair.phone_delay_ms",
     .type = CFG_UINT,
     AT(wa_repair_phone_delay_ms),
     .min = 100,
     .max = 600000,
     .def = "5000"},
    {.path = "whatsapp.repair.store_peers",
     .type = CFG_UINT,
     AT(wa_repair_store_peers),
     .min = 1,
     .max = 1000,
     .def = "5"},
    {.path = "whatsapp.repair.store_window_s",
     .type = CFG_UINT,
     AT(wa_repair_window_s),
     .min = 1,
     .max = 86400,
     .def = "600"},
    {.path = "whatsapp.keepalive", .type = CFG_SECTION},
    {.path = "whatsapp.keepalive.interval_ms",
     .type = CFG_UINT,
     AT(wa_keepalive_interval_ms),
     .min = 200,
     .max = 600000,
     .def = "20000"},
    {.path = "whatsapp.keepalive.deadline_ms",
     .type = CFG_UINT,
     AT(wa_keepalive_deadline_ms),
     .min = 100,
     .max = 120000,
     .def = "10000"},
    {.path = "whatsapp.chunk_size",
     .type = CFG_UINT,
     AT(wa_chunk_size),
     .min = 16,
     .max = 65536,
     .def = "4000"},
    {.path = "whatsapp.mark_read",
     .type = CFG_STRING,
     AT(wa_mark_read),
     .min = 1,
     .max = 15,
     .check = check_mark_read,
     .what = "\"never\" or \"on_handled\"",
     .def = "never"},
    {.path = "media", .type = CFG_SECTION},
    {.path = "media.max_mb",
     .type = CFG_UINT,
     AT(media_max_mb),
     .min = 1,
     .max = 1048576,
     .def = "1024"},
    {.path = "media.keep_days",
     .type = CFG_UINT,
     AT(media_keep_days),
     .min = 1,
     .max = 36500,
     .def = "30"},
    {.path = "media.hook_wait_s",
     .type = CFG_UINT,
     AT(media_hook_wait_s),
     .min = 0,
     .max = 3600,
     .def = "60"},
    {.path = "media.ca_file",
     .type = CFG_STRING,
     AT(media_ca_file),
     .max = CFG_PATH_MAX - 1,
     .def = ""},
    {.path = "media.url_allow", .type = CFG_CUSTOM, AT(media_url_allow), .set = set_url_allow},
    {.path = "notify", .type = CFG_SECTION},
    {.path = "notify.outage_after_s",
     .type = CFG_UINT,
     AT(notify_outage_after_s),
     .min = 1,
     .max = 86400,
     .def = "180"},
    {.path = "notify.command",
     .type = CFG_STRING,
     AT(notify_command),
     .min = 1,
     .max = CFG_HOOK_CMD_MAX - 1},
    {.path = "notify.command_timeout_ms",
     .type = CFG_UINT,
     AT(notify_command_timeout_ms),
     .min = 100,
     .max = 600000,
     .def = "10000"},
    {.path = "notify.command_max_queued",
     .type = CFG_UINT,
     AT(notify_command_max_queued),
     .min = 0,
     .max = 1000,
     .def = "32"},
    {.path = "notify.self_chat", .type = CFG_BOOL, AT(notify_self_chat), .def = "false"},
    {.path = "signal", .type = CFG_SECTION},
    {.path = "signal.spk_rotate_days",
     .type = CFG_UINT,
     AT(sig_spk_rotate_days),
     .min = 0,
     .max = 365,
     .def = "27"},
    {.path = "signal.spk_keep_days",
     .type = CFG_UINT,
     AT(sig_spk_keep_days),
     .min = 1,
     .max = 365,
     .def = "90"},
    {.path = "signal.spk_keep_max",
     .type = CFG_UINT,
     AT(sig_spk_keep_max),
     .min = 1,
     .max = 32,
     .def = "4"},
    {.path = "signal.spk_test_seconds", .type = CFG_BOOL, AT(sig_spk_test_seconds), .def = "false"},
    {.path = "hooks", .type = CFG_SECTION},
    {.path = "hooks.exec", .type = CFG_SECTION},
    {.path = "hooks.exec.command",
     .type = CFG_STRING,
     AT(hook_exec_command),
     .min = 1,
     .max = CFG_HOOK_CMD_MAX - 1},
    {.path = "hooks.exec.typing", .type = CFG_BOOL, AT(hook_exec_typing), .def = "false"},
    {.path = "hooks.exec.timeout_ms",
     .type = CFG_UINT,
     AT(hook_exec_timeout_ms),
     .min = 100,
     .max = 600000,
     .def = "10000"},
    {.path = "hooks.exec.max_running",
     .type = CFG_UINT,
     AT(hook_exec_max_running),
     .min = 1,
     .max = 64,
     .def = "4"},
    {.path = "hooks.exec.max_queued",
     .type = CFG_UINT,
     AT(hook_exec_max_queued),
     .min = 0,
     .max = 10000,
     .def = "64"},
    {.path = "hooks.exec.retry_base_ms",
     .type = CFG_UINT,
     AT(hook_exec_retry_base_ms),
     .min = 10,
     .max = 3600000,
     .def = "2000"},
    {.path = "hooks.exec.retry_max_ms",
     .type = CFG_UINT,
     AT(hook_exec_retry_max_ms),
     .min = 10,
     .max = 86400000,
     .def = "300000"},
    {.path = "hooks.exec.max_attempts",
     .type = CFG_UINT,
     AT(hook_exec_max_attempts),
     .min = 1,
     .max = 1000,
     .def = "20"},
    {.path = "hooks.webhook", .type = CFG_SECTION},
    {.path = "hooks.webhook.endpoints", .type = CFG_CUSTOM, AT(webhooks), .set = set_webhooks},
    {.path = "hooks.webhook.connect_timeout_ms",
     .type = CFG_UINT,
     AT(webhook_connect_timeout_ms),
     .min = 100,
     .max = 60000,
     .def = "5000"},
    {.path = "hooks.webhook.response_timeout_ms",
     .type = CFG_UINT,
     AT(webhook_response_timeout_ms),
     .min = 100,
     .max = 120000,
     .def = "10000"},
    {.path = "hooks.webhook.retry_base_ms",
     .type = CFG_UINT,
     AT(webhook_retry_base_ms),
     .min = 10,
     .max = 3600000,
     .def = "1000"},
    {.path = "hooks.webhook.retry_max_ms",
     .type = CFG_UINT,
     AT(webhook_retry_max_ms),
     .min = 10,
     .max = 86400000,
     .def = "600000"},
    {.path = "hooks.webhook.max_attempts",
     .type = CFG_UINT,
     AT(webhook_max_attempts),
     .min = 1,
     .max = 1000,
     .def = "15"},
    {.path = "hooks.webhook.max_concurrent",
     .type = CFG_UINT,
     AT(webhook_max_concurrent),
     .min = 1,
     .max = 64,
     .def = "4"},
    {.path = "hooks.webhook.max_body",
     .type = CFG_UINT,
     AT(webhook_max_body),
     .min = 1024,
     .max = 1048576,
     .def = "262144"},
    {.path = "hooks.webhook.max_response",
     .type = CFG_UINT,
     AT(webhook_max_response),
     .min = 256,
     .max = 65536,
     .def = "16384"},
    {.path = "hooks.webhook.tls_ca_file",
     .type = CFG_STRING,
     AT(webhook_ca_file),
     .min = 1,
     .max = CFG_PATH_MAX - 1},
};
#undef AT
static const struct cfg_schema schema = {keys, sizeof keys / sizeof keys[0]};

void cfg_defaults(struct wg_config *c)
{
    /* Fails only for a malformed default in the table above; test_config checks them all. */
    int r = cfg_schema_defaults(&schema, c, sizeof *c);
    (void)r;
    snprintf(c->wa_accounts[0], sizeof c->wa_accounts[0], "default");
    c->wa_account_count = 1;
    for (unsigned i = 0; i < CFG_MAX_ACCOUNTS; i++)
        access_defaults(&c->wa_access[i]);
}

int cfg_parse(struct wg_config *c, const char *json, size_t len, char *err, size_t errlen)
{
    return cfg_schema_parse(&schema, c, json, len, err, errlen);
}

int cfg_load(struct wg_config *c, const char *path, char *err, size_t errlen)
{
    cfg_defaults(c);
    return cfg_schema_load(&schema, c, sizeof *c, path, err, errlen);
}
