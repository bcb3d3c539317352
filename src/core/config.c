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

static const struct cfg_key *find_key(const struct cfg_schema *s, const char *path)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].path, path) == 0) return &s->keys[i];
    return NULL;
}

int cfg_split_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') return -EINVAL;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon) return -EINVAL;
        hl = (size_t)(colon - s);
    }
    char hb[64];
    if (hl == 0 || hl >= sizeof hb) return -EINVAL;
    memcpy(hb, h, hl);
    hb[hl] = '\0';
    unsigned char tmp[16];
    if (inet_pton(AF_INET, hb, tmp) != 1 && inet_pton(AF_INET6, hb, tmp) != 1) return -EINVAL;
    char *endp;
    errno = 0;
    long p = strtol(colon + 1, &endp, 10);
    if (errno || *endp || endp == colon + 1 || p < 0 || p > 65535) return -EINVAL;
    if (host) {
        if (hl >= hostlen) return -ENOBUFS;
        memcpy(host, hb, hl + 1);
    }
    if (port) *port = (int)p;
    return 0;
}

bool cfg_listen_valid(const char *s)
{
    return cfg_split_listen(s, NULL, 0, NULL) == 0;
}

bool cfg_token_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n > 128) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return false;
    return true;
}

/* "NAME" or "NAME:PORT": NAME of [A-Za-z0-9.-] (a DNS name or IPv4 address) or "[V6]". */
static bool host_entry_valid(const char *s)
{
    const char *end;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb == s + 1 || rb - s > 47) return false;
        char v6[48];
        memcpy(v6, s + 1, (size_t)(rb - s - 1));
        v6[rb - s - 1] = '\0';
        unsigned char tmp[16];
        if (inet_pton(AF_INET6, v6, tmp) != 1) return false;
        end = rb + 1;
    } else {
        end = s + strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
        if (end == s) return false;
    }
    if (*end == '\0') return true;
    if (*end != ':' || !end[1] || strspn(end + 1, "0123456789") != strlen(end + 1)) return false;
    long p = strtol(end + 1, NULL, 10);
    return strlen(end + 1) <= 5 && p >= 1 && p <= 65535;
}

int cfg_set_hosts(const struct cfg_key *k, void *obj, const cJSON *v, char *err, size_t errlen)
{
    struct cfg_hosts *h = (struct cfg_hosts *)((char *)obj + k->off);
    const char *what = "an array of up to 16 \"NAME\" or \"NAME:PORT\" strings";
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > CFG_MAX_HOSTS)
        return cfg_expected(err, errlen, k->path, what, v);
    unsigned n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e) || strlen(e->valuestring) >= CFG_HOST_MAX ||
            !host_entry_valid(e->valuestring))
            return cfg_expected(err, errlen, k->path, what, e);
        snprintf(h->name[n++], CFG_HOST_MAX, "%s", e->valuestring);
    }
    h->n = n;
    return 0;
}

bool cfg_account_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CFG_ACCOUNT_ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

int cfg_expected(char *err, size_t errlen, const char *path, const char *what, const cJSON *v)
{
    char *shown = v ? cJSON_PrintUnformatted(v) : NULL;
    if (shown && strlen(shown) > 80) strcpy(shown + 77, "...");
    snprintf(err, errlen, "%s: expected %s, got %s", path, what, shown ? shown : "nothing");
    free(shown);
    return -EINVAL;
}

static int set_string(const struct cfg_key *k, char *dst, const cJSON *v, char *err, size_t errlen)
{
    const char *what = k->what ? k->what : "a string";
    if (!cJSON_IsString(v)) return cfg_expected(err, errlen, k->path, what, v);
    size_t n = strlen(v->valuestring);
    bool fits = n < k->size && (k->max == 0 || (n >= k->min && n <= k->max));
    if (!fits && !k->what && k->max) {
        char range[64];
        snprintf(range, sizeof range, "a string of %u to %u characters", k->min, k->max);
        return cfg_expected(err, errlen, k->path, range, v);
    }
    if (!fits || (k->check && !k->check(v->valuestring)))
        return cfg_expected(err, errlen, k->path, what, v);
    memcpy(dst, v->valuestring, n + 1);
    return 0;
}

static int set_uint(const struct cfg_key *k, unsigned *dst, const cJSON *v, char *err,
                    size_t errlen)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble ||
        v->valuedouble < k->min || v->valuedouble > k->max) {
        char what[64];
        snprintf(what, sizeof what, "an integer from %u to %u", k->min, k->max);
        return cfg_expected(err, errlen, k->path, what, v);
    }
    *dst = (unsigned)v->valuedouble;
    return 0;
}

static int set_value(const struct cfg_key *k, void *obj, const cJSON *v, char *err, size_t errlen)
{
    char *dst = (char *)obj + k->off;
    switch (k->type) {
    case CFG_STRING:
        return set_string(k, dst, v, err, errlen);
    case CFG_BOOL:
        if (!cJSON_IsBool(v)) return cfg_expected(err, errlen, k->path, "true or false", v);
        *(bool *)dst = cJSON_IsTrue(v);
        return 0;
    case CFG_UINT:
        return set_uint(k, (unsigned *)dst, v, err, errlen);
    case CFG_LEVEL:
        if (!cJSON_IsString(v) || wlog_parse_level(v->valuestring, (enum wlog_level *)dst) < 0)
            return cfg_expected(err, errlen, k->path,
                                "one of \"error\", \"warn\", \"info\", \"debug\"", v);
        return 0;
    case CFG_HEX32:
        if (!cJSON_IsString(v) || strlen(v->valuestring) != 64 ||
            hex_decode((uint8_t *)dst, 32, v->valuestring, 64) != 32)
            return cfg_expected(err, errlen, k->path, "64 hex digits (a 32-byte public key)", v);
        return 0;
    case CFG_CUSTOM:
        return k->set(k, obj, v, err, errlen);
    case CFG_SECTION:
        break;
    }
    return -EINVAL;
}

static int walk(const struct cfg_schema *s, void *obj, const cJSON *o, const char *prefix,
                char *err, size_t errlen)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, o)
    {
        char path[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", v->string);
        const struct cfg_key *k = find_key(s, path);
        if (!k) {
            snprintf(err, errlen, "%s: unknown key", path);
            return -EINVAL;
        }
        int r;
        if (k->type == CFG_SECTION) {
            if (!cJSON_IsObject(v)) return cfg_expected(err, errlen, path, "an object", v);
            r = walk(s, obj, v, path, err, errlen);
        } else {
            r = set_value(k, obj, v, err, errlen);
        }
        if (r < 0) return r;
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

/* A key that appears twice in one object is an error naming it (cJSON would keep both and
 * the schema walk would let the last one win silently), at any depth. */
static int check_duplicates(const cJSON *o, const char *prefix, char *err, size_t errlen)
{
    const cJSON *v;
    size_t i = 0;
    cJSON_ArrayForEach(v, o)
    {
        char path[160];
        if (cJSON_IsArray(o))
            snprintf(path, sizeof path, "%s[%zu]", prefix, i);
        else
            snprintf(path, sizeof path, "%s%s%.100s", prefix, *prefix ? "." : "", v->string);
        i++;
        if (cJSON_IsObject(o))
            for (const cJSON *w = o->child; w != v; w = w->next)
                if (strcmp(w->string, v->string) == 0) {
                    snprintf(err, errlen, "%s: duplicate key", path);
                    return -EINVAL;
                }
        if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && check_duplicates(v, path, err, errlen) < 0)
            return -EINVAL;
    }
    return 0;
}

int cfg_schema_parse(const struct cfg_schema *s, void *obj, const char *json, size_t len, char *err,
                     size_t errlen)
{
    if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0) {
        snprintf(err, errlen, "starts with a byte order mark (BOM): save it as UTF-8 without one");
        return -EINVAL;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        syntax_error(json, len, err, errlen);
        return -EINVAL;
    }
    int r;
    if (!cJSON_IsObject(root))
        r = cfg_expected(err, errlen, "(top level)", "an object", root);
    else
        r = check_duplicates(root, "", err, errlen);
    if (r == 0) r = walk(s, obj, root, "", err, errlen);
    cJSON_Delete(root);
    return r;
}

static int default_uint(const struct cfg_key *k, unsigned *dst)
{
    char *end;
    errno = 0;
    unsigned long u = strtoul(k->def, &end, 10);
    if (errno || *end || end == k->def || u < k->min || u > k->max) return -EINVAL;
    *dst = (unsigned)u;
    return 0;
}

static int set_default(const struct cfg_key *k, char *dst)
{
    const char *d = k->def;
    size_t n = strlen(d);
    switch (k->type) {
    case CFG_STRING:
        if (n >= k->size) return -EINVAL;
        memcpy(dst, d, n + 1);
        return 0;
    case CFG_BOOL:
        *(bool *)dst = strcmp(d, "true") == 0;
        return 0;
    case CFG_UINT:
        return default_uint(k, (unsigned *)dst);
    case CFG_LEVEL:
        return wlog_parse_level(d, (enum wlog_level *)dst) < 0 ? -EINVAL : 0;
    case CFG_HEX32:
        return n == 64 && hex_decode((uint8_t *)dst, 32, d, n) == 32 ? 0 : -EINVAL;
    case CFG_SECTION:
    case CFG_CUSTOM:
        break;
    }
    return -EINVAL;
}

int cfg_schema_defaults(const struct cfg_schema *s, void *obj, size_t size)
{
    memset(obj, 0, size);
    int ret = 0;
    for (size_t i = 0; i < s->nkeys; i++) {
        const struct cfg_key *k = &s->keys[i];
        if (k->def && set_default(k, (char *)obj + k->off) < 0) ret = -EINVAL;
    }
    return ret;
}

int cfg_schema_load(const struct cfg_schema *s, void *obj, size_t size, const char *path, char *err,
                    size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, CFG_FILE_MAX, &text, &len);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
        return r;
    }
    char detail[CFG_ERR_MAX];
    void *tmp = malloc(size);
    if (!tmp) {
        free(text);
        snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
        return -ENOMEM;
    }
    memcpy(tmp, obj, size);
    r = cfg_schema_parse(s, tmp, text, len, detail, sizeof detail);
    free(text);
    if (r < 0)
        snprintf(err, errlen, "%s: %s", path, detail);
    else
        memcpy(obj, tmp, size);
    free(tmp);
    return r;
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
        if (!home || !*home) return -ENOENT;
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
