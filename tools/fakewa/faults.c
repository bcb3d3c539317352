/* SPDX-License-Identifier: MIT */
/* faults.c -- armed fault table, scope matching and the fault actions. */
#include "faults.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "nb.h"

enum ftype {
    F_CLOSE,
    F_STREAM_ERROR,
    F_FAILURE,
    F_STALL,
    F_BLACKHOLE,
    F_REFUSE,
    F_CORRUPT,
    F_IQ_ERROR,
    F_HANDSHAKE_CLOSE
};

static const char *const type_names[] = {"close",   "stream_error", "failure",
                                         "stall",   "blackhole",    "refuse",
                                         "corrupt", "iq_error",     "handshake_close"};

struct fault {
    enum ftype type;
    char phone[FW_PHONE_MAX]; /* "" = any */
    int device;               /* -1 = any */
    uint64_t until_ms;        /* 0 = no time limit */
    int count;                /* remaining uses; -1 = unlimited (until expiry) */
    int reason, code;
    bool reset;
    long expire;
    char xmlns[32];            /* iq_error: the iq namespace it answers */
    uint64_t conn_serials[32]; /* stall/blackhole: affected connections */
    size_t nconns;
};

struct fw_faults {
    struct fault f[FW_MAX_FAULTS];
    size_t n;
    uv_timer_t timer;
};

static void drop(struct fw_faults *F, size_t i)
{
    F->f[i] = F->f[--F->n];
}

static struct fw_conn *conn_by_serial(struct fw_server *s, uint64_t serial)
{
    for (struct fw_conn *c = s->conns; c; c = c->next)
        if (c->serial == serial) return c;
    return NULL;
}

static void expire_fault(struct fw_server *s, struct fault *f)
{
    for (size_t k = 0; k < f->nconns; k++) {
        struct fw_conn *c = conn_by_serial(s, f->conn_serials[k]);
        if (!c) continue;
        if (f->type == F_STALL)
            c->stall = false;
        else if (f->type == F_BLACKHOLE)
            fw_conn_close(c, true);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct fw_server *s = t->data;
    struct fw_faults *F = s->faults;
    uint64_t now = fw_now_ms();
    for (size_t i = 0; i < F->n;) {
        if ((F->f[i].until_ms && now >= F->f[i].until_ms) || F->f[i].count == 0) {
            expire_fault(s, &F->f[i]);
            drop(F, i);
        } else {
            i++;
        }
    }
}

int fw_faults_init(struct fw_server *s)
{
    s->faults = calloc(1, sizeof(*s->faults));
    if (!s->faults) return -ENOMEM;
    uv_timer_init(s->loop, &s->faults->timer);
    s->faults->timer.data = s;
    uv_timer_start(&s->faults->timer, on_tick, 100, 100);
    uv_unref((uv_handle_t *)&s->faults->timer);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(((uv_timer_t *)h)->data);
}

void fw_faults_free(struct fw_server *s)
{
    if (!s->faults) return;
    s->faults->timer.data = s->faults;
    uv_close((uv_handle_t *)&s->faults->timer, on_timer_closed);
    s->faults = NULL;
}

static bool scope_match(const struct fault *f, const struct fw_account *a,
                        const struct fw_device *d)
{
    if (f->phone[0] && (!a || strcmp(f->phone, a->phone) != 0)) return false;
    if (f->device >= 0 && (!d || (int)d->id != f->device)) return false;
    return true;
}

static struct wa_node *stream_error(int code)
{
    struct wa_node *se = nb_new("stream:error", NULL);
    if (code == 440) {
        nb_add(se, "conflict", "type", "replaced", NULL);
        return se;
    }
    nb_attr_u64(se, "code", (uint64_t)code);
    if (code == 401) nb_add(se, "conflict", "type", "device_removed", NULL);
    return se;
}

/* Act on every live connection in scope; returns how many. */
static int act_on_conns(struct fw_server *s, struct fault *f, bool reset)
{
    int n = 0;
    struct fw_conn *next;
    for (struct fw_conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state != FWC_ONLINE && (f->phone[0] || c->state != FWC_PAIRING)) continue;
        if (!scope_match(f, c->acc, c->dev)) continue;
        n++;
        switch (f->type) {
        case F_STREAM_ERROR: {
            struct wa_node *se = stream_error(f->code);
            (void)fw_conn_send(c, se);
            wa_node_free(se);
            fw_conn_close(c, false);
            break;
        }
        case F_STALL:
            c->stall = true;
            if (f->nconns < 32) f->conn_serials[f->nconns++] = c->serial;
            break;
        case F_BLACKHOLE:
            fw_conn_blackhole(c);
            if (f->nconns < 32) f->conn_serials[f->nconns++] = c->serial;
            break;
        default:
            fw_conn_close(c, reset);
            break;
        }
        /* closing may have unlinked neighbours: restart from the list head */
        if (f->type != F_STALL && f->type != F_BLACKHOLE) next = s->conns;
        if (n > 10000) break;
    }
    return n;
}

static int parse_type(const char *t)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(t, type_names[i]) == 0) return (int)i;
    return -1;
}

static double num(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int fw_fault_apply(struct fw_server *s, const cJSON *req, char *err, size_t errlen)
{
    struct fw_faults *F = s->faults;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "type");
    int type = cJSON_IsString(t) ? parse_type(t->valuestring) : -1;
    if (type < 0) {
        snprintf(err, errlen, "unknown fault type");
        return -EINVAL;
    }
    struct fault f = {.type = (enum ftype)type, .device = -1, .count = -1};
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(req, "phone");
    if (cJSON_IsString(ph)) {
        struct fw_account *a = fw_account_lookup(s, ph->valuestring);
        if (!a) {
            snprintf(err, errlen, "unknown account");
            return -EINVAL;
        }
        snprintf(f.phone, sizeof(f.phone), "%s", a->phone);
    }
    f.device = (int)num(req, "device", -1);
    double dur = num(req, "duration_ms", 0);
    if (dur < 0 || dur > 86400000.0) {
        snprintf(err, errlen, "bad duration_ms");
        return -EINVAL;
    }
    f.until_ms = dur > 0 ? fw_now_ms() + (uint64_t)dur : 0;
    f.code = (int)num(req, "code", 0);
    f.reason = (int)num(req, "reason", 401);
    f.expire = (long)num(req, "expire", 0);
    const cJSON *reset = cJSON_GetObjectItemCaseSensitive(req, "reset");
    s->stats.faults_applied++;
    int n = 0;
    switch (f.type) {
    case F_CLOSE:
        return act_on_conns(s, &f, cJSON_IsTrue(reset));
    case F_STREAM_ERROR:
        if (f.code == 0) f.code = 515;
        return act_on_conns(s, &f, false);
    case F_REFUSE:
        fw_conn_refuse_until(s, fw_now_ms() + (uint64_t)(dur > 0 ? dur : 5000));
        return 0;
    case F_FAILURE:
        f.count = dur > 0 ? -1 : 1;
        break;
    case F_CORRUPT:
        f.count = (int)num(req, "count", 1);
        break;
    case F_IQ_ERROR: {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(req, "xmlns");
        if (!cJSON_IsString(x) || !x->valuestring[0] || strlen(x->valuestring) >= sizeof(f.xmlns)) {
            snprintf(err, errlen, "iq_error needs \"xmlns\"");
            return -EINVAL;
        }
        snprintf(f.xmlns, sizeof(f.xmlns), "%s", x->valuestring);
        if (f.code == 0) f.code = 500;
        f.count = (int)num(req, "count", 1);
        break;
    }
    case F_HANDSHAKE_CLOSE:
        f.count = dur > 0 ? -1 : (int)num(req, "count", 1);
        f.reset = cJSON_IsTrue(reset);
        if (f.count == 0 || f.count < -1) {
            snprintf(err, errlen, "bad count");
            return -EINVAL;
        }
        break;
    default:
        break;
    }
    if (F->n >= FW_MAX_FAULTS) {
        snprintf(err, errlen, "too many armed faults");
        return -ENOSPC;
    }
    if (f.type == F_STALL || f.type == F_BLACKHOLE) n = act_on_conns(s, &f, false);
    F->f[F->n++] = f;
    if (f.type == F_FAILURE) {
        struct fault c = f;
        c.type = F_CLOSE;
        n = act_on_conns(s, &c, false);
    }
    return n;
}

struct wa_node *fw_faults_on_login(struct fw_server *s, struct fw_account *a, struct fw_device *d)
{
    struct fw_faults *F = s->faults;
    for (size_t i = 0; F && i < F->n; i++) {
        struct fault *f = &F->f[i];
        if (f->type != F_FAILURE || f->count == 0 || !scope_match(f, a, d)) continue;
        if (f->count > 0) f->count--;
        struct wa_node *n = nb_new("failure", NULL);
        nb_attr_u64(n, "reason", (uint64_t)f->reason);
        if (f->reason == 402) {
            nb_attr_u64(n, "code", (uint64_t)(f->code ? f->code : 101));
            nb_attr_u64(n, "expire", (uint64_t)(f->expire ? f->expire : 3600));
        }
        s->stats.faults_applied++;
        return n;
    }
    return NULL;
}

int fw_faults_on_iq(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                    const char *xmlns)
{
    struct fw_faults *F = s->faults;
    for (size_t i = 0; F && xmlns && i < F->n; i++) {
        struct fault *f = &F->f[i];
        if (f->type != F_IQ_ERROR || f->count == 0 || strcmp(f->xmlns, xmlns) != 0 ||
            !scope_match(f, a, d))
            continue;
        if (f->count > 0) f->count--;
        log_info("fakewa", a ? a->phone : "", "fault: iq %s answered with error %d", xmlns,
                 f->code);
        return f->code;
    }
    return 0;
}

int fw_faults_on_handshake(struct fw_server *s)
{
    struct fw_faults *F = s->faults;
    for (size_t i = 0; F && i < F->n; i++) {
        struct fault *f = &F->f[i];
        if (f->type != F_HANDSHAKE_CLOSE || f->count == 0) continue;
        if (f->count > 0) f->count--;
        s->stats.faults_applied++;
        return f->reset ? 2 : 1;
    }
    return 0;
}

void fw_faults_on_send(struct fw_server *s, struct fw_account *a, struct fw_device *d,
                       struct wa_node *node)
{
    struct fw_faults *F = s->faults;
    if (!F || F->n == 0 || strcmp(node->tag.s, "message") != 0) return;
    for (size_t i = 0; i < F->n; i++) {
        struct fault *f = &F->f[i];
        if (f->type != F_CORRUPT || f->count == 0 || !scope_match(f, a, d)) continue;
        struct wa_node *enc = wa_node_child(node, "enc");
        size_t len = 0;
        uint8_t *b = enc ? (uint8_t *)wa_node_content_bytes(enc, &len) : NULL;
        if (!b || len == 0) return;
        b[len - 1] ^= 0x5a;
        if (f->count > 0) f->count--;
        log_info("fakewa", a->phone, "fault: corrupted message %s for device %u",
                 wa_node_attr(node, "id"), d->id);
        return;
    }
}

cJSON *fw_faults_json(struct fw_server *s)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; s->faults && i < s->faults->n; i++) {
        const struct fault *f = &s->faults->f[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", type_names[f->type]);
        cJSON_AddStringToObject(o, "phone", f->phone);
        cJSON_AddNumberToObject(o, "device", f->device);
        cJSON_AddNumberToObject(o, "count", f->count);
        cJSON_AddNumberToObject(o, "until_ms", (double)f->until_ms);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}
