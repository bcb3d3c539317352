/* SPDX-License-Identifier: MIT */
/* accounts.c -- account/device/group registry with atomic JSON persistence. */
#include "accounts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "contacts.h"
#include "core/fileio.h"
#include "core/hex.h"
#include "core/log.h"

int fw_registry_new(struct fw_server *s)
{
    s->reg = calloc(1, sizeof(*s->reg));
    if (!s->reg) return -ENOMEM;
    s->reg->acc = calloc(FW_MAX_ACCOUNTS, sizeof(*s->reg->acc));
    s->reg->grp = calloc(FW_MAX_GROUPS, sizeof(*s->reg->grp));
    return s->reg->acc && s->reg->grp ? 0 : -ENOMEM;
}

static void device_free(struct fw_device *d)
{
    if (!d) return;
    fw_queue_clear(d);
    for (size_t i = 0; i < sizeof d->acked / sizeof d->acked[0]; i++)
        wa_node_free(d->acked[i]);
    free(d->prekeys);
    free(d);
}

static void account_free(struct fw_account *a)
{
    for (size_t i = 0; i < a->ndev; i++)
        device_free(a->dev[i]);
    fw_sim_free(a->sim);
    wa_keypair_wipe(&a->acct);
    free(a);
}

void fw_registry_free(struct fw_server *s)
{
    if (!s->reg) return;
    for (size_t i = 0; i < s->reg->nacc; i++)
        account_free(s->reg->acc[i]);
    for (size_t i = 0; i < s->reg->ngrp; i++)
        free(s->reg->grp[i]);
    free(s->reg->acc);
    free(s->reg->grp);
    free(s->reg);
    s->reg = NULL;
}

int fw_phone_norm(const char *in, char out[FW_PHONE_MAX])
{
    size_t n = 0;
    for (const char *p = in; p && *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (n >= 20) return -EINVAL;
            out[n++] = *p;
        } else if (!strchr("+ -()", *p)) {
            return -EINVAL;
        }
    }
    out[n] = 0;
    return n >= 5 && out[0] != '0' ? 0 : -EINVAL;
}

struct fw_account *fw_account_by_phone(struct fw_server *s, const char *digits)
{
    for (size_t i = 0; i < s->reg->nacc; i++)
        if (strcmp(s->reg->acc[i]->phone, digits) == 0) return s->reg->acc[i];
    return NULL;
}

struct fw_account *fw_account_by_lid(struct fw_server *s, const char *digits)
{
    for (size_t i = 0; i < s->reg->nacc; i++)
        if (strcmp(s->reg->acc[i]->lid, digits) == 0) return s->reg->acc[i];
    return NULL;
}

struct fw_account *fw_account_by_name(struct fw_server *s, const char *name)
{
    for (size_t i = 0; i < s->reg->nacc; i++)
        if (s->reg->acc[i]->name[0] && strcmp(s->reg->acc[i]->name, name) == 0)
            return s->reg->acc[i];
    return NULL;
}

struct fw_account *fw_account_by_jid(struct fw_server *s, const struct wa_jid *j)
{
    if (strcmp(j->server, WA_SERVER_PN) == 0 || strcmp(j->server, WA_SERVER_LEGACY_PN) == 0)
        return fw_account_by_phone(s, j->user);
    if (strcmp(j->server, WA_SERVER_LID) == 0) return fw_account_by_lid(s, j->user);
    return NULL;
}

struct fw_account *fw_account_lookup(struct fw_server *s, const char *key)
{
    char d[FW_PHONE_MAX];
    if (!key) return NULL;
    struct fw_account *a = fw_account_by_name(s, key);
    if (a) return a;
    if (fw_phone_norm(key, d) == 0) return fw_account_by_phone(s, d);
    return NULL;
}

struct fw_device *fw_device_get(struct fw_account *a, uint32_t id)
{
    for (size_t i = 0; i < a->ndev; i++)
        if (a->dev[i]->id == id) return a->dev[i];
    return NULL;
}

static struct fw_device *device_new(uint32_t id)
{
    struct fw_device *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->id = id;
    d->prekeys = calloc(FW_MAX_PREKEYS, sizeof(*d->prekeys));
    if (!d->prekeys) {
        free(d);
        return NULL;
    }
    return d;
}

int fw_device_add(struct fw_account *a, struct fw_device **out)
{
    if (a->ndev >= FW_MAX_DEVICES || a->next_device > 250) return -ENOSPC;
    struct fw_device *d = device_new(a->next_device++);
    if (!d) return -ENOMEM;
    d->key_index = a->next_key_index++;
    a->dev[a->ndev++] = d;
    *out = d;
    return 0;
}

void fw_device_remove(struct fw_account *a, struct fw_device *d)
{
    for (size_t i = 0; i < a->ndev; i++) {
        if (a->dev[i] == d) {
            memmove(&a->dev[i], &a->dev[i + 1], (a->ndev - i - 1) * sizeof(a->dev[0]));
            a->ndev--;
            device_free(d);
            return;
        }
    }
}

void fw_pn_jid(const struct fw_account *a, uint32_t dev, bool ad, char *out)
{
    if (dev || ad)
        snprintf(out, WA_JID_STR_MAX, "%s:%u@s.whatsapp.net", a->phone, dev);
    else
        snprintf(out, WA_JID_STR_MAX, "%s@s.whatsapp.net", a->phone);
}

void fw_lid_jid(const struct fw_account *a, uint32_t dev, bool ad, char *out)
{
    if (dev || ad)
        snprintf(out, WA_JID_STR_MAX, "%s:%u@lid", a->lid, dev);
    else
        snprintf(out, WA_JID_STR_MAX, "%s@lid", a->lid);
}

size_t fw_prekeys_add(struct fw_device *d, const struct fw_prekey_pub *pk, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n && d->nprekeys < FW_MAX_PREKEYS; i++) {
        d->prekeys[d->nprekeys++] = pk[i];
        kept++;
    }
    return kept;
}

int fw_prekey_take(struct fw_device *d, struct fw_prekey_pub *out)
{
    if (d->nprekeys == 0) return 0;
    *out = d->prekeys[0];
    memmove(&d->prekeys[0], &d->prekeys[1], (d->nprekeys - 1) * sizeof(d->prekeys[0]));
    d->nprekeys--;
    return 1;
}

void fw_queue_push(struct fw_device *d, struct wa_node *node, const char *id)
{
    struct fw_qitem *q = calloc(1, sizeof(*q));
    if (!q) fw_die("queue item");
    snprintf(q->id, sizeof(q->id), "%s", id ? id : "");
    q->node = node;
    q->queued_ms = fw_now_ms();
    if (d->qlen >= FW_QUEUE_MAX) {
        struct fw_qitem *old = d->qhead;
        d->qhead = old->next;
        if (!d->qhead) d->qtail = NULL;
        wa_node_free(old->node);
        free(old);
        d->qlen--;
    }
    if (d->qtail)
        d->qtail->next = q;
    else
        d->qhead = q;
    d->qtail = q;
    d->qlen++;
}

size_t fw_queue_drop(struct fw_device *d, const char *id_in)
{
    char id[sizeof(d->qhead->id)]; /* id_in may point into an item freed below */
    snprintf(id, sizeof(id), "%s", id_in);
    size_t n = 0;
    struct fw_qitem **pp = &d->qhead, *prev = NULL;
    while (*pp) {
        struct fw_qitem *q = *pp;
        if (strcmp(q->id, id) == 0) {
            *pp = q->next;
            if (d->qtail == q) d->qtail = prev;
            if (q->node && q->node->tag.s && !strcmp(q->node->tag.s, "message")) {
                size_t k = d->acked_next++ % (sizeof d->acked / sizeof d->acked[0]);
                wa_node_free(d->acked[k]);
                d->acked[k] = q->node; /* kept for a redelivery */
            } else {
                wa_node_free(q->node);
            }
            free(q);
            d->qlen--;
            n++;
        } else {
            prev = q;
            pp = &q->next;
        }
    }
    return n;
}

void fw_queue_reset_sent(struct fw_device *d)
{
    for (struct fw_qitem *q = d->qhead; q; q = q->next)
        q->sent = false;
}

size_t fw_queue_redeliver(struct fw_device *d, size_t n)
{
    const size_t keep = sizeof d->acked / sizeof d->acked[0];
    size_t have = d->acked_next < keep ? d->acked_next : keep, done = 0;
    if (n > have) n = have;
    for (size_t i = d->acked_next - n; i < d->acked_next; i++) {
        struct wa_node *c = d->acked[i % keep] ? wa_node_clone(d->acked[i % keep]) : NULL;
        if (!c) continue;
        fw_queue_push(d, c, wa_node_attr(c, "id"));
        done++;
    }
    return done;
}

void fw_queue_clear(struct fw_device *d)
{
    while (d->qhead) {
        struct fw_qitem *q = d->qhead;
        d->qhead = q->next;
        wa_node_free(q->node);
        free(q);
    }
    d->qtail = NULL;
    d->qlen = 0;
}

static void new_lid(struct fw_server *s, char out[FW_PHONE_MAX])
{
    do {
        uint8_t r[14];
        fw_random(r, sizeof(r));
        out[0] = '2';
        for (int i = 0; i < 14; i++)
            out[1 + i] = (char)('0' + r[i] % 10);
        out[15] = 0;
    } while (fw_account_by_lid(s, out));
}

static struct fw_account *account_alloc(void)
{
    struct fw_account *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->next_device = 1;
    a->next_key_index = 1;
    return a;
}

int fw_account_create(struct fw_server *s, const char *phone, const char *name,
                      struct fw_account **out)
{
    char digits[FW_PHONE_MAX];
    if (fw_phone_norm(phone, digits) < 0) return -EINVAL;
    if (name && (strlen(name) >= FW_NAME_MAX ||
                 strspn(name, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(name)))
        return -EINVAL;
    if (fw_account_by_phone(s, digits) || (name && *name && fw_account_by_name(s, name)))
        return -EEXIST;
    if (s->reg->nacc >= FW_MAX_ACCOUNTS) return -ENOSPC;
    struct fw_account *a = account_alloc();
    if (!a) return -ENOMEM;
    snprintf(a->phone, sizeof(a->phone), "%s", digits);
    snprintf(a->name, sizeof(a->name), "%s", name ? name : "");
    new_lid(s, a->lid);
    uint32_t raw;
    fw_random(&raw, sizeof(raw));
    a->raw_id = raw & 0x7fffffff;
    int rc = wa_keypair_generate(&a->acct);
    struct fw_device *d0 = rc == 0 ? device_new(0) : NULL;
    if (!d0) {
        account_free(a);
        return rc < 0 ? rc : -ENOMEM;
    }
    d0->sim = true;
    d0->registered = true;
    snprintf(d0->platform, sizeof(d0->platform), "android");
    a->dev[a->ndev++] = d0;
    rc = fw_sim_new(s, a, NULL, &a->sim);
    if (rc < 0) {
        account_free(a);
        return rc;
    }
    s->reg->acc[s->reg->nacc++] = a;
    fw_account_save(s, a);
    *out = a;
    return 0;
}

/* ---- persistence ---- */

static void add_hex(cJSON *o, const char *k, const uint8_t *p, size_t n)
{
    char h[2 * 128 + 1];
    hex_encode(h, p, n);
    cJSON_AddStringToObject(o, k, h);
}

static int get_hex(const cJSON *o, const char *k, uint8_t *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v) || hex_decode(out, n, v->valuestring, strlen(v->valuestring)) != (long)n)
        return -EINVAL;
    return 0;
}

static double get_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *get_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static cJSON *device_json(const struct fw_device *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", d->id);
    cJSON_AddBoolToObject(o, "registered", d->registered);
    cJSON_AddNumberToObject(o, "key_index", d->key_index);
    cJSON_AddNumberToObject(o, "regid", d->regid);
    cJSON_AddNumberToObject(o, "spk_id", d->spk_id);
    cJSON_AddNumberToObject(o, "paired_at", (double)d->paired_at);
    cJSON_AddStringToObject(o, "platform", d->platform);
    add_hex(o, "noise_pub", d->noise_pub, 32);
    add_hex(o, "identity", d->identity, 32);
    add_hex(o, "spk_pub", d->spk_pub, 32);
    add_hex(o, "spk_sig", d->spk_sig, 64);
    cJSON *pk = cJSON_AddArrayToObject(o, "prekeys");
    for (size_t i = 0; i < d->nprekeys; i++) {
        char h[72];
        int n = snprintf(h, sizeof(h), "%u:", d->prekeys[i].id);
        hex_encode(h + n, d->prekeys[i].pub, 32);
        cJSON_AddItemToArray(pk, cJSON_CreateString(h));
    }
    return o;
}

void fw_account_save(struct fw_server *s, struct fw_account *a)
{
    if (!s->state_dir[0]) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "phone", a->phone);
    cJSON_AddStringToObject(o, "lid", a->lid);
    cJSON_AddStringToObject(o, "name", a->name);
    add_hex(o, "account_priv", a->acct.priv, 32);
    cJSON_AddNumberToObject(o, "raw_id", a->raw_id);
    cJSON_AddNumberToObject(o, "next_device", a->next_device);
    cJSON_AddNumberToObject(o, "next_key_index", a->next_key_index);
    fw_sim_export(a->sim, o);
    cJSON *devs = cJSON_AddArrayToObject(o, "devices");
    for (size_t i = 0; i < a->ndev; i++)
        if (!a->dev[i]->sim) cJSON_AddItemToArray(devs, device_json(a->dev[i]));
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) fw_die("account json");
    char dir[FW_STATE_PATH_MAX + 16], path[FW_STATE_PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/accounts", s->state_dir);
    snprintf(path, sizeof(path), "%s/%s.json", dir, a->phone);
    int rc = dir_create(dir, 0700);
    if (rc == 0) rc = file_write_atomic(path, txt, strlen(txt), 0600);
    if (rc < 0) log_error("fakewa", a->phone, "cannot save %s: %s", path, strerror(-rc));
    free(txt);
}

void fw_account_save_soon(struct fw_server *s, struct fw_account *a)
{
    if (s->hold_saves)
        a->save_pending = true;
    else
        fw_account_save(s, a);
}

size_t fw_account_save_held(struct fw_server *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->reg->nacc; i++)
        if (s->reg->acc[i]->save_pending) {
            s->reg->acc[i]->save_pending = false;
            fw_account_save(s, s->reg->acc[i]);
            n++;
        }
    return n;
}

static int device_load(struct fw_account *a, const cJSON *o)
{
    if (a->ndev >= FW_MAX_DEVICES) return -ENOSPC;
    struct fw_device *d = device_new((uint32_t)get_num(o, "id"));
    if (!d) return -ENOMEM;
    d->registered = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "registered"));
    d->key_index = (uint32_t)get_num(o, "key_index");
    d->regid = (uint32_t)get_num(o, "regid");
    d->spk_id = (uint32_t)get_num(o, "spk_id");
    d->paired_at = (uint64_t)get_num(o, "paired_at");
    snprintf(d->platform, sizeof(d->platform), "%s", get_str(o, "platform"));
    int rc = get_hex(o, "noise_pub", d->noise_pub, 32) | get_hex(o, "identity", d->identity, 32) |
             get_hex(o, "spk_pub", d->spk_pub, 32) | get_hex(o, "spk_sig", d->spk_sig, 64);
    const cJSON *pk, *pks = cJSON_GetObjectItemCaseSensitive(o, "prekeys");
    cJSON_ArrayForEach(pk, pks)
    {
        const char *t = cJSON_IsString(pk) ? pk->valuestring : "";
        const char *c = strchr(t, ':');
        if (!c || d->nprekeys >= FW_MAX_PREKEYS) continue;
        struct fw_prekey_pub p = {.id = (uint32_t)strtoul(t, NULL, 10)};
        if (hex_decode(p.pub, 32, c + 1, strlen(c + 1)) == 32) d->prekeys[d->nprekeys++] = p;
    }
    if (rc) {
        device_free(d);
        return -EINVAL;
    }
    a->dev[a->ndev++] = d;
    return 0;
}

static int account_load(struct fw_server *s, const char *path)
{
    char *txt = NULL;
    size_t len;
    int rc = file_read_all(path, 16u << 20, &txt, &len);
    if (rc < 0) return rc;
    cJSON *o = cJSON_Parse(txt);
    free(txt);
    struct fw_account *a = account_alloc();
    uint8_t priv[32];
    rc = (!o || !a || s->reg->nacc >= FW_MAX_ACCOUNTS) ? -EINVAL : 0;
    if (rc == 0) {
        snprintf(a->phone, sizeof(a->phone), "%s", get_str(o, "phone"));
        snprintf(a->lid, sizeof(a->lid), "%s", get_str(o, "lid"));
        snprintf(a->name, sizeof(a->name), "%s", get_str(o, "name"));
        a->raw_id = (uint32_t)get_num(o, "raw_id");
        a->next_device = (uint32_t)get_num(o, "next_device");
        a->next_key_index = (uint32_t)get_num(o, "next_key_index");
        rc = get_hex(o, "account_priv", priv, 32);
    }
    if (rc == 0) rc = wa_keypair_from_private(&a->acct, priv);
    struct fw_device *d0 = rc == 0 ? device_new(0) : NULL;
    if (d0) {
        d0->sim = d0->registered = true;
        snprintf(d0->platform, sizeof(d0->platform), "android");
        a->dev[a->ndev++] = d0;
        rc = fw_sim_new(s, a, o, &a->sim);
    } else if (rc == 0) {
        rc = -ENOMEM;
    }
    const cJSON *dj, *devs = cJSON_GetObjectItemCaseSensitive(o, "devices");
    cJSON_ArrayForEach(dj, devs)
    {
        if (rc == 0) rc = device_load(a, dj);
    }
    cJSON_Delete(o);
    if (rc < 0) {
        if (a) account_free(a);
        log_error("fakewa", NULL, "cannot load %s: %s", path, strerror(-rc));
        return rc;
    }
    s->reg->acc[s->reg->nacc++] = a;
    return 0;
}

static void groups_load(struct fw_server *s);

int fw_registry_load(struct fw_server *s)
{
    if (!s->state_dir[0]) return 0;
    char dir[FW_STATE_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/accounts", s->state_dir);
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp))) {
            size_t n = strlen(e->d_name);
            if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
            char path[FW_STATE_PATH_MAX + 300];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            int rc = account_load(s, path);
            if (rc < 0) {
                closedir(dp);
                return rc;
            }
        }
        closedir(dp);
    }
    groups_load(s);
    return 0;
}

/* ---- groups ---- */

bool fw_group_has(const struct fw_group *g, const struct fw_account *a)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i] == a) return true;
    return false;
}

struct fw_group *fw_group_find(struct fw_server *s, const char *id_or_jid)
{
    size_t n = strcspn(id_or_jid, "@");
    for (size_t i = 0; i < s->reg->ngrp; i++)
        if (strlen(s->reg->grp[i]->id) == n && strncmp(s->reg->grp[i]->id, id_or_jid, n) == 0)
            return s->reg->grp[i];
    return NULL;
}

int fw_group_create(struct fw_server *s, const char *subject, struct fw_account *creator,
                    struct fw_account **members, size_t n, struct fw_group **out)
{
    if (s->reg->ngrp >= FW_MAX_GROUPS) return -ENOSPC;
    if (n > FW_MAX_MEMBERS || strlen(subject) >= sizeof((*out)->subject)) return -EINVAL;
    struct fw_group *g = calloc(1, sizeof(*g));
    if (!g) return -ENOMEM;
    uint8_t r[12];
    fw_random(r, sizeof(r));
    memcpy(g->id, "120363", 6);
    for (int i = 0; i < 12; i++)
        g->id[6 + i] = (char)('0' + r[i] % 10);
    snprintf(g->subject, sizeof(g->subject), "%s", subject);
    g->creation = fw_now();
    g->creator = creator;
    for (size_t i = 0; i < n; i++)
        if (!fw_group_has(g, members[i])) g->members[g->nmembers++] = members[i];
    s->reg->grp[s->reg->ngrp++] = g;
    fw_groups_save(s);
    *out = g;
    return 0;
}

void fw_groups_save(struct fw_server *s)
{
    if (!s->state_dir[0]) return;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < s->reg->ngrp; i++) {
        const struct fw_group *g = s->reg->grp[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", g->id);
        cJSON_AddStringToObject(o, "subject", g->subject);
        cJSON_AddNumberToObject(o, "creation", (double)g->creation);
        cJSON_AddStringToObject(o, "creator", g->creator ? g->creator->phone : "");
        cJSON *m = cJSON_AddArrayToObject(o, "members");
        for (size_t k = 0; k < g->nmembers; k++)
            cJSON_AddItemToArray(m, cJSON_CreateString(g->members[k]->phone));
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    char path[FW_STATE_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/groups.json", s->state_dir);
    if (!txt || file_write_atomic(path, txt, strlen(txt), 0600) < 0)
        log_error("fakewa", NULL, "cannot save %s", path);
    free(txt);
}

static void groups_load(struct fw_server *s)
{
    char path[FW_STATE_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/groups.json", s->state_dir);
    char *txt = NULL;
    size_t len;
    if (file_read_all(path, 4u << 20, &txt, &len) < 0) return;
    cJSON *arr = cJSON_Parse(txt);
    free(txt);
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        if (s->reg->ngrp >= FW_MAX_GROUPS) break;
        struct fw_group *g = calloc(1, sizeof(*g));
        if (!g) break;
        snprintf(g->id, sizeof(g->id), "%s", get_str(o, "id"));
        snprintf(g->subject, sizeof(g->subject), "%s", get_str(o, "subject"));
        g->creation = (uint64_t)get_num(o, "creation");
        g->creator = fw_account_by_phone(s, get_str(o, "creator"));
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(o, "members"))
        {
            struct fw_account *a =
                cJSON_IsString(m) ? fw_account_by_phone(s, m->valuestring) : NULL;
            if (a && g->nmembers < FW_MAX_MEMBERS) g->members[g->nmembers++] = a;
        }
        s->reg->grp[s->reg->ngrp++] = g;
    }
    cJSON_Delete(arr);
}
