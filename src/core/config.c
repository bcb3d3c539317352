/* SPDX-License-Identifier: MIT */
/* config.c -- schema-checked JSON configuration. */
#include "core/config.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/hex.h"

/* WhatsApp's real Noise certificate root ("WhatsAppLongTerm1"). */
static const char default_root_hex[] =
    "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b";

enum ktype { K_SECTION, K_STRING, K_BOOL, K_UINT, K_LEVEL, K_LISTEN, K_URL, K_HEX32, K_DNS,
             K_ACCOUNTS };

struct key {
    const char *path;
    enum ktype type;
    size_t off, size; /* where the value lives in struct wg_config */
    unsigned min, max;
};

#define F(field) offsetof(struct wg_config, field), sizeof(((struct wg_config *)0)->field)
static const struct key schema[] = {
    {"gateway", K_SECTION, 0, 0, 0, 0},
    {"gateway.listen", K_LISTEN, F(listen), 0, 0},
    {"gateway.token", K_STRING, F(token), 16, 128},
    {"gateway.max_clients", K_UINT, F(max_clients), 1, 4096},
    {"log", K_SECTION, 0, 0, 0, 0},
    {"log.level", K_LEVEL, F(log_level), 0, 0},
    {"log.json", K_BOOL, F(log_json), 0, 0},
    {"log.file", K_STRING, F(log_file), 1, CFG_PATH_MAX - 1},
    {"whatsapp", K_SECTION, 0, 0, 0, 0},
    {"whatsapp.endpoint", K_URL, F(wa_endpoint), 0, 0},
    {"whatsapp.noise_root_pubkey", K_HEX32, F(wa_noise_root), 0, 0},
    {"whatsapp.tls_ca_file", K_STRING, F(wa_tls_ca_file), 1, CFG_PATH_MAX - 1},
    {"whatsapp.dns_servers", K_DNS, F(wa_dns_servers), 0, CFG_MAX_DNS},
    {"whatsapp.accounts", K_ACCOUNTS, F(wa_accounts), 0, CFG_MAX_ACCOUNTS},
    {"hooks", K_SECTION, 0, 0, 0, 0},
    {"hooks.exec", K_SECTION, 0, 0, 0, 0},
    {"hooks.exec.command", K_STRING, F(hook_exec_command), 1, CFG_HOOK_CMD_MAX - 1},
    {"hooks.exec.timeout_ms", K_UINT, F(hook_exec_timeout_ms), 100, 600000},
    {"hooks.exec.max_running", K_UINT, F(hook_exec_max_running), 1, 64},
    {"hooks.exec.max_queued", K_UINT, F(hook_exec_max_queued), 0, 10000},
};
#undef F

void cfg_defaults(struct wg_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "%s", CFG_DEFAULT_LISTEN);
    c->max_clients = 64;
    c->log_level = WLOG_INFO;
    snprintf(c->wa_endpoint, sizeof c->wa_endpoint, "%s", CFG_DEFAULT_URL);
    snprintf(c->wa_accounts[0], sizeof c->wa_accounts[0], "default");
    c->wa_account_count = 1;
    c->hook_exec_timeout_ms = 10000;
    c->hook_exec_max_running = 4;
    c->hook_exec_max_queued = 64;
    long n = hex_decode(c->wa_noise_root, sizeof c->wa_noise_root, default_root_hex,
                        sizeof default_root_hex - 1);
    (void)n;
}

static const struct key *find_key(const char *path)
{
    for (size_t i = 0; i < sizeof schema / sizeof schema[0]; i++)
        if (strcmp(schema[i].path, path) == 0)
            return &schema[i];
    return NULL;
}

int cfg_split_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    char hb[64];
    if (hl == 0 || hl >= sizeof hb)
        return -EINVAL;
    memcpy(hb, h, hl);
    hb[hl] = '\0';
    unsigned char tmp[16];
    if (inet_pton(AF_INET, hb, tmp) != 1 && inet_pton(AF_INET6, hb, tmp) != 1)
        return -EINVAL;
    char *endp;
    errno = 0;
    long p = strtol(colon + 1, &endp, 10);
    if (errno || *endp || endp == colon + 1 || p < 0 || p > 65535)
        return -EINVAL;
    if (host) {
        if (hl >= hostlen)
            return -ENOBUFS;
        memcpy(host, hb, hl + 1);
    }
    if (port)
        *port = (int)p;
    return 0;
}

static int check_dns_server(const char *s)
{
    /* "IP" or "IP:PORT" or "[V6]:PORT" */
    unsigned char tmp[16];
    if (inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1)
        return 0;
    return cfg_split_listen(s, NULL, 0, NULL);
}

static int bad(char *err, size_t errlen, const char *path, const char *what, const cJSON *v)
{
    char *shown = v ? cJSON_PrintUnformatted(v) : NULL;
    if (shown && strlen(shown) > 80)
        strcpy(shown + 77, "...");
    snprintf(err, errlen, "%s: expected %s, got %s", path, what, shown ? shown : "nothing");
    free(shown);
    return -EINVAL;
}

static int set_string(const struct key *k, char *dst, const cJSON *v, char *err, size_t errlen)
{
    if (!cJSON_IsString(v))
        return bad(err, errlen, k->path, "a string", v);
    size_t n = strlen(v->valuestring);
    if (n < k->min || n > k->max || n >= k->size) {
        char what[64];
        snprintf(what, sizeof what, "a string of %u to %u characters", k->min, k->max);
        return bad(err, errlen, k->path, what, v);
    }
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

static int set_dns(const struct key *k, struct wg_config *c, const cJSON *v, char *err,
                   size_t errlen)
{
    const char *what = "an array of up to 8 \"IP\" or \"IP:PORT\" strings";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CFG_MAX_DNS)
        return bad(err, errlen, k->path, what, v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof c->wa_dns_servers[0] ||
            check_dns_server(e->valuestring) < 0)
            return bad(err, errlen, k->path, what, e);
        snprintf(c->wa_dns_servers[n++], sizeof c->wa_dns_servers[0], "%s", e->valuestring);
    }
    c->wa_dns_count = n;
    return 0;
}

bool cfg_account_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CFG_ACCOUNT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

/* One whatsapp.accounts entry: a valid, new id whose value is an object without keys (every
 * per-account key is reserved for later). */
static int check_account(const struct wg_config *c, unsigned n, const char *path, const cJSON *e,
                         char *err, size_t errlen)
{
    if (!cfg_account_id_valid(e->string)) {
        snprintf(err, errlen, "%s: account id must match [a-z0-9_-]{1,32}", path);
        return -EINVAL;
    }
    if (!cJSON_IsObject(e))
        return bad(err, errlen, path, "an object", e);
    if (e->child) {
        snprintf(err, errlen, "%s.%.40s: unknown key", path, e->child->string);
        return -EINVAL;
    }
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(c->wa_accounts[i], e->string) == 0) {
            snprintf(err, errlen, "%s: duplicate account", path);
            return -EINVAL;
        }
    }
    return 0;
}

/* whatsapp.accounts: {"ID": {}, ...}. */
static int set_accounts(const struct key *k, struct wg_config *c, const cJSON *v, char *err,
                        size_t errlen)
{
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > CFG_MAX_ACCOUNTS)
        return bad(err, errlen, k->path, "an object of up to 16 accounts", v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        char path[128];
        snprintf(path, sizeof path, "%s.%.40s", k->path, e->string);
        int r = check_account(c, n, path, e, err, errlen);
        if (r < 0)
            return r;
        snprintf(c->wa_accounts[n++], sizeof c->wa_accounts[0], "%s", e->string);
    }
    c->wa_account_count = n;
    return 0;
}

static int set_value(const struct key *k, struct wg_config *c, const cJSON *v, char *err,
                     size_t errlen)
{
    char *dst = (char *)c + k->off;
    switch (k->type) {
    case K_STRING:
        return set_string(k, dst, v, err, errlen);
    case K_BOOL:
        if (!cJSON_IsBool(v))
            return bad(err, errlen, k->path, "true or false", v);
        *(bool *)dst = cJSON_IsTrue(v);
        return 0;
    case K_UINT:
        if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble ||
            v->valuedouble < k->min || v->valuedouble > k->max) {
            char what[64];
            snprintf(what, sizeof what, "an integer from %u to %u", k->min, k->max);
            return bad(err, errlen, k->path, what, v);
        }
        *(unsigned *)dst = (unsigned)v->valuedouble;
        return 0;
    case K_LEVEL:
        if (!cJSON_IsString(v) || wlog_parse_level(v->valuestring, (enum wlog_level *)dst) < 0)
            return bad(err, errlen, k->path, "one of \"error\", \"warn\", \"info\", \"debug\"", v);
        return 0;
    case K_LISTEN:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= k->size ||
            cfg_split_listen(v->valuestring, NULL, 0, NULL) < 0)
            return bad(err, errlen, k->path, "\"IP:PORT\" (e.g. \"127.0.0.1:18789\")", v);
        memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
        return 0;
    case K_URL:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= k->size ||
            (strncmp(v->valuestring, "ws://", 5) != 0 && strncmp(v->valuestring, "wss://", 6) != 0))
            return bad(err, errlen, k->path, "a ws:// or wss:// URL", v);
        memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
        return 0;
    case K_HEX32:
        if (!cJSON_IsString(v) || strlen(v->valuestring) != 64 ||
            hex_decode((uint8_t *)dst, 32, v->valuestring, 64) != 32)
            return bad(err, errlen, k->path, "64 hex digits (a 32-byte public key)", v);
        return 0;
    case K_DNS:
        return set_dns(k, c, v, err, errlen);
    case K_ACCOUNTS:
        return set_accounts(k, c, v, err, errlen);
    case K_SECTION:
        break;
    }
    return -EINVAL;
}

static int walk(struct wg_config *c, const cJSON *obj, const char *prefix, char *err,
                size_t errlen)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, obj)
    {
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", v->string);
        const struct key *k = find_key(path);
        if (!k) {
            snprintf(err, errlen, "%s: unknown key", path);
            return -EINVAL;
        }
        int r;
        if (k->type == K_SECTION) {
            if (!cJSON_IsObject(v))
                return bad(err, errlen, path, "an object", v);
            r = walk(c, v, path, err, errlen);
        } else {
            r = set_value(k, c, v, err, errlen);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

static void syntax_error(const char *json, size_t len, char *err, size_t errlen)
{
    const char *at = cJSON_GetErrorPtr();
    size_t line = 1, col = 1;
    if (at && at >= json && at <= json + len) {
        for (const char *p = json; p < at; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
    }
    snprintf(err, errlen, "invalid JSON at line %zu, column %zu", line, col);
}

int cfg_parse(struct wg_config *c, const char *json, size_t len, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        syntax_error(json, len, err, errlen);
        return -EINVAL;
    }
    int r;
    if (!cJSON_IsObject(root))
        r = bad(err, errlen, "(top level)", "an object", root);
    else
        r = walk(c, root, "", err, errlen);
    cJSON_Delete(root);
    return r;
}

int cfg_load(struct wg_config *c, const char *path, char *err, size_t errlen)
{
    cfg_defaults(c);
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, CFG_FILE_MAX, &text, &len);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
        return r;
    }
    char detail[CFG_ERR_MAX];
    struct wg_config tmp = *c;
    r = cfg_parse(&tmp, text, len, detail, sizeof detail);
    free(text);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, detail);
        return r;
    }
    *c = tmp;
    return 0;
}

static int xdg_path(const char *env, const char *fallback, const char *leaf, char *out,
                    size_t outlen)
{
    const char *base = getenv(env);
    int n;
    if (base && *base) {
        n = snprintf(out, outlen, "%s/wagate%s", base, leaf);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return -ENOENT;
        n = snprintf(out, outlen, "%s/%s/wagate%s", home, fallback, leaf);
    }
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int cfg_default_path(char *out, size_t outlen)
{
    return xdg_path("XDG_CONFIG_HOME", ".config", "/wagate.json", out, outlen);
}

int cfg_default_state_dir(char *out, size_t outlen)
{
    return xdg_path("XDG_STATE_HOME", ".local/state", "", out, outlen);
}
