/* SPDX-License-Identifier: MIT */
/* notifyfile.c -- the notifications file's codec (gw/notify_int.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "gw/json.h"
#include "gw/notify_int.h"

char *notifyfile_encode(const struct note *v, size_t n, long long next_id)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "notes");
    cJSON_AddNumberToObject(o, "version", NOTIFY_FILE_VERSION);
    cJSON_AddNumberToObject(o, "next_id", (double)next_id);
    for (size_t i = 0; a && i < n; i++) {
        const struct note *x = &v[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", (double)x->id);
        cJSON_AddStringToObject(e, "kind", gw_note_kind_name(x->kind));
        cJSON_AddStringToObject(e, "level", gw_note_level_name(x->level));
        cJSON_AddStringToObject(e, "account", x->account);
        cJSON_AddStringToObject(e, "text", x->text);
        cJSON_AddNumberToObject(e, "created_ms", (double)x->created_ms);
        cJSON_AddBoolToObject(e, "open", x->open);
        cJSON_AddNumberToObject(e, "repeats", x->repeats);
        if (x->pending) cJSON_AddNumberToObject(e, "pending", x->pending);
        if (x->res_id) {
            cJSON_AddNumberToObject(e, "res_id", (double)x->res_id);
            cJSON_AddNumberToObject(e, "res_ms", (double)x->res_ms);
            cJSON_AddStringToObject(e, "res_text", x->res_text);
        }
        cJSON_AddItemToArray(a, e);
    }
    gw_json_make_utf8(o);
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return txt;
}

static int kind_by_name(const char *name)
{
    for (int k = 0; name && k < GW_NOTE_KIND_COUNT; k++)
        if (strcmp(gw_note_kind_name((enum gw_note_kind)k), name) == 0) return k;
    return -1;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jnum(const cJSON *o, const char *k, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi) return false;
    *out = v->valuedouble;
    return true;
}

/* One entry into x: false when it does not validate. */
static bool load_note(const cJSON *e, struct note *x)
{
    double id, cms, rep = 0, rid = 0, rms = 0, pend = 0;
    const char *acct = jstr(e, "account"), *text = jstr(e, "text"), *lv = jstr(e, "level");
    int k = kind_by_name(jstr(e, "kind"));
    const cJSON *open = cJSON_GetObjectItemCaseSensitive(e, "open");
    if (k < 0 || !acct || !acct[0] || strlen(acct) > CFG_ACCOUNT_ID_MAX || !text || !lv ||
        !cJSON_IsBool(open) || !jnum(e, "id", 1, 9e15, &id) ||
        !jnum(e, "created_ms", 0, 9e15, &cms))
        return false;
    (void)jnum(e, "repeats", 0, 4e9, &rep);
    (void)jnum(e, "pending", 0, 15, &pend);
    bool resolved = jnum(e, "res_id", 1, 9e15, &rid);
    if (resolved && !jnum(e, "res_ms", 0, 9e15, &rms)) return false;
    memset(x, 0, sizeof *x);
    x->id = (long long)id;
    x->kind = (enum gw_note_kind)k;
    x->level = strcmp(lv, "error") == 0  ? GW_NOTE_ERR
               : strcmp(lv, "info") == 0 ? GW_NOTE_INFO
                                         : GW_NOTE_WARN;
    snprintf(x->account, sizeof x->account, "%s", acct);
    snprintf(x->text, sizeof x->text, "%s", text);
    x->created_ms = (int64_t)cms;
    /* open only for a kind that can be resolved, and not once resolved */
    x->open = cJSON_IsTrue(open) && gw_note_resolution_name(x->kind) && !resolved;
    x->repeats = (unsigned)rep;
    x->pending = (unsigned)pend & (resolved ? 15u : (unsigned)(PEND_CMD | PEND_SELF));
    if (resolved) {
        x->res_id = (long long)rid;
        x->res_ms = (int64_t)rms;
        const char *rt = jstr(e, "res_text");
        snprintf(x->res_text, sizeof x->res_text, "%s", rt ? rt : "");
    }
    return true;
}

static bool open_twice(const struct note *v, size_t n, const struct note *x)
{
    for (size_t i = 0; x->open && i < n; i++)
        if (v[i].open && v[i].kind == x->kind && strcmp(v[i].account, x->account) == 0) return true;
    return false;
}

int notifyfile_decode(const char *txt, size_t len, struct note *v, size_t cap, size_t *n,
                      long long *next_id, size_t *skipped, size_t *total)
{
    *n = *skipped = *total = 0;
    cJSON *o = cJSON_ParseWithLength(txt, len);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "notes");
    double ver = 0, next = 0;
    if (!cJSON_IsObject(o) || !cJSON_IsArray(a) || !jnum(o, "version", 0, 1e9, &ver) ||
        !jnum(o, "next_id", 0, 9e15, &next)) {
        cJSON_Delete(o);
        return -EINVAL;
    }
    if (ver != NOTIFY_FILE_VERSION) {
        cJSON_Delete(o);
        return -EPROTO;
    }
    *next_id = (long long)next;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        struct note x;
        ++*total;
        if (!cap || !load_note(e, &x) || open_twice(v, *n, &x)) {
            ++*skipped;
            continue;
        }
        if (*n == cap) { /* more than this build keeps: the newest stay */
            memmove(&v[0], &v[1], (*n - 1) * sizeof v[0]);
            --*n;
        }
        v[(*n)++] = x;
        if (x.id > *next_id) *next_id = x.id;
        if (x.res_id > *next_id) *next_id = x.res_id;
    }
    cJSON_Delete(o);
    return 0;
}

int notifyfile_set_aside(const char *path, char *bad, size_t badlen)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(bad, badlen, "%s.bad-%s", path, stamp);
    return rename(path, bad) == 0 ? 0 : -errno;
}
