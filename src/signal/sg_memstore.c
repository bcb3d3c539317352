/* SPDX-License-Identifier: MIT */
/* sg_memstore.c -- in-memory Signal store: per-kind arrays of (key, value) byte strings. */
#include "signal/sg_memstore.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct ent {
    uint8_t *key;
    size_t klen;
    uint8_t *val;
    size_t vlen;
};

struct table {
    struct ent *v;
    size_t n, cap, max;
};

struct sg_memstore {
    struct table t[SG_MEM_KINDS];
    size_t max_record_len;
    bool has_identity;
    struct sg_identity identity;
};

static const size_t default_max[SG_MEM_KINDS] = {
    SG_MEM_DEFAULT_SESSIONS,    SG_MEM_DEFAULT_PREKEYS,    SG_MEM_DEFAULT_SIGNED_PREKEYS,
    SG_MEM_DEFAULT_SENDER_KEYS, SG_MEM_DEFAULT_IDENTITIES,
};

/* ---- keys: kind-specific encodings of the lookup key ---- */

#define KEY_MAX (2 * SG_MEM_NAME_MAX + 16)

struct key {
    uint8_t b[KEY_MAX];
    size_t n;
};

static int key_put(struct key *k, const void *p, size_t n)
{
    if (n > KEY_MAX - k->n) return -EINVAL;
    memcpy(k->b + k->n, p, n);
    k->n += n;
    return 0;
}

static int key_addr(struct key *k, const signal_protocol_address *a)
{
    if (!a->name || a->name_len > SG_MEM_NAME_MAX) return -EINVAL;
    uint8_t sep = 0;
    int32_t dev = a->device_id;
    int rc = key_put(k, a->name, a->name_len);
    if (rc == 0) rc = key_put(k, &sep, 1);
    if (rc == 0) rc = key_put(k, &dev, sizeof dev);
    return rc;
}

static int key_id(struct key *k, uint32_t id)
{
    k->n = 0;
    return key_put(k, &id, sizeof id);
}

static int key_skn(struct key *k, const signal_protocol_sender_key_name *n)
{
    uint8_t sep = 0;
    k->n = 0;
    if (!n->group_id || n->group_id_len > SG_MEM_NAME_MAX) return -EINVAL;
    int rc = key_put(k, n->group_id, n->group_id_len);
    if (rc == 0) rc = key_put(k, &sep, 1);
    if (rc == 0) rc = key_addr(k, &n->sender);
    return rc;
}

static int key_session(struct key *k, const signal_protocol_address *a)
{
    k->n = 0;
    return key_addr(k, a);
}

/* ---- tables ---- */

static void ent_free(struct ent *e)
{
    if (e->val) OPENSSL_cleanse(e->val, e->vlen);
    free(e->key);
    free(e->val);
    memset(e, 0, sizeof *e);
}

static struct ent *find(struct table *t, const struct key *k)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].klen == k->n && memcmp(t->v[i].key, k->b, k->n) == 0) return &t->v[i];
    return NULL;
}

static uint8_t *memdup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

static int put(struct sg_memstore *ms, enum sg_mem_kind kind, const struct key *k, const void *v,
               size_t vlen)
{
    struct table *t = &ms->t[kind];
    if (vlen > ms->max_record_len) return -ENOBUFS;
    uint8_t *nv = memdup(v, vlen);
    if (!nv) return -ENOMEM;
    struct ent *e = find(t, k);
    if (e) {
        OPENSSL_cleanse(e->val, e->vlen);
        free(e->val);
        e->val = nv;
        e->vlen = vlen;
        return 0;
    }
    if (t->n >= t->max) {
        free(nv);
        return -ENOSPC;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        struct ent *nvv = realloc(t->v, nc * sizeof *nvv);
        if (!nvv) {
            free(nv);
            return -ENOMEM;
        }
        t->v = nvv;
        t->cap = nc;
    }
    uint8_t *nk = memdup(k->b, k->n);
    if (!nk) {
        free(nv);
        return -ENOMEM;
    }
    t->v[t->n++] = (struct ent){.key = nk, .klen = k->n, .val = nv, .vlen = vlen};
    return 0;
}

static int get(struct sg_memstore *ms, enum sg_mem_kind kind, const struct key *k,
               signal_buffer **out)
{
    struct ent *e = find(&ms->t[kind], k);
    if (!e) return 0;
    *out = signal_buffer_create(e->val, e->vlen);
    return *out ? 1 : -ENOMEM;
}

static int del(struct sg_memstore *ms, enum sg_mem_kind kind, const struct key *k)
{
    struct table *t = &ms->t[kind];
    struct ent *e = find(t, k);
    if (!e) return 0;
    ent_free(e);
    *e = t->v[--t->n];
    return 1;
}

static void table_clear(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        ent_free(&t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* ---- operations ---- */

#define MS(ud) ((struct sg_memstore *)(ud))

static int op_get_local_identity(void *ud, struct sg_identity *out)
{
    if (!MS(ud)->has_identity) return -ENODATA;
    *out = MS(ud)->identity;
    return 0;
}

static int op_load_session(void *ud, const signal_protocol_address *a, signal_buffer **out)
{
    struct key k;
    int rc = key_session(&k, a);
    return rc < 0 ? rc : get(MS(ud), SG_MEM_SESSION, &k, out);
}

static int op_store_session(void *ud, const signal_protocol_address *a, const uint8_t *rec,
                            size_t len)
{
    struct key k;
    int rc = key_session(&k, a);
    return rc < 0 ? rc : put(MS(ud), SG_MEM_SESSION, &k, rec, len);
}

static int op_delete_session(void *ud, const signal_protocol_address *a)
{
    struct key k;
    int rc = key_session(&k, a);
    return rc < 0 ? rc : del(MS(ud), SG_MEM_SESSION, &k);
}

/* Does a session key belong to `name` (any device)? Layout: name 00 dev(4). */
static bool session_of(const struct ent *e, const char *name, size_t len)
{
    return e->klen == len + 1 + sizeof(int32_t) && memcmp(e->key, name, len) == 0 &&
           e->key[len] == 0;
}

static int op_delete_all_sessions(void *ud, const char *name, size_t len)
{
    struct table *t = &MS(ud)->t[SG_MEM_SESSION];
    int n = 0;
    for (size_t i = 0; i < t->n;) {
        if (session_of(&t->v[i], name, len)) {
            ent_free(&t->v[i]);
            t->v[i] = t->v[--t->n];
            n++;
        } else {
            i++;
        }
    }
    return n;
}

static int op_list_session_devices(void *ud, const char *name, size_t len, signal_int_list *out)
{
    struct table *t = &MS(ud)->t[SG_MEM_SESSION];
    int n = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!session_of(&t->v[i], name, len)) continue;
        int32_t dev;
        memcpy(&dev, t->v[i].key + len + 1, sizeof dev);
        if (signal_int_list_push_back(out, dev) < 0) return -ENOMEM;
        n++;
    }
    return n;
}

static int op_load_prekey(void *ud, uint32_t id, signal_buffer **out)
{
    struct key k;
    key_id(&k, id);
    return get(MS(ud), SG_MEM_PREKEY, &k, out);
}

static int op_store_prekey(void *ud, uint32_t id, const uint8_t *rec, size_t len)
{
    struct key k;
    key_id(&k, id);
    return put(MS(ud), SG_MEM_PREKEY, &k, rec, len);
}

static int op_remove_prekey(void *ud, uint32_t id)
{
    struct key k;
    key_id(&k, id);
    return del(MS(ud), SG_MEM_PREKEY, &k);
}

static int op_load_signed_prekey(void *ud, uint32_t id, signal_buffer **out)
{
    struct key k;
    key_id(&k, id);
    return get(MS(ud), SG_MEM_SIGNED_PREKEY, &k, out);
}

static int op_store_signed_prekey(void *ud, uint32_t id, const uint8_t *rec, size_t len)
{
    struct key k;
    key_id(&k, id);
    return put(MS(ud), SG_MEM_SIGNED_PREKEY, &k, rec, len);
}

static int op_remove_signed_prekey(void *ud, uint32_t id)
{
    struct key k;
    key_id(&k, id);
    return del(MS(ud), SG_MEM_SIGNED_PREKEY, &k);
}

static int op_load_sender_key(void *ud, const signal_protocol_sender_key_name *n,
                              signal_buffer **out)
{
    struct key k;
    int rc = key_skn(&k, n);
    return rc < 0 ? rc : get(MS(ud), SG_MEM_SENDER_KEY, &k, out);
}

static int op_store_sender_key(void *ud, const signal_protocol_sender_key_name *n,
                               const uint8_t *rec, size_t len)
{
    struct key k;
    int rc = key_skn(&k, n);
    return rc < 0 ? rc : put(MS(ud), SG_MEM_SENDER_KEY, &k, rec, len);
}

static int op_load_identity(void *ud, const signal_protocol_address *a, uint8_t key[SG_KEY_LEN])
{
    struct key k;
    int rc = key_session(&k, a);
    if (rc < 0) return rc;
    struct ent *e = find(&MS(ud)->t[SG_MEM_IDENTITY], &k);
    if (!e || e->vlen != SG_KEY_LEN) return 0;
    memcpy(key, e->val, SG_KEY_LEN);
    return 1;
}

static int op_save_identity(void *ud, const signal_protocol_address *a,
                            const uint8_t key[SG_KEY_LEN])
{
    struct key k;
    int rc = key_session(&k, a);
    if (rc < 0) return rc;
    if (!key) return del(MS(ud), SG_MEM_IDENTITY, &k) < 0 ? -EIO : 0;
    return put(MS(ud), SG_MEM_IDENTITY, &k, key, SG_KEY_LEN);
}

static const struct sg_store_ops memstore_ops = {
    .get_local_identity = op_get_local_identity,
    .load_session = op_load_session,
    .store_session = op_store_session,
    .delete_session = op_delete_session,
    .delete_all_sessions = op_delete_all_sessions,
    .list_session_devices = op_list_session_devices,
    .load_prekey = op_load_prekey,
    .store_prekey = op_store_prekey,
    .remove_prekey = op_remove_prekey,
    .load_signed_prekey = op_load_signed_prekey,
    .store_signed_prekey = op_store_signed_prekey,
    .remove_signed_prekey = op_remove_signed_prekey,
    .load_sender_key = op_load_sender_key,
    .store_sender_key = op_store_sender_key,
    .load_identity = op_load_identity,
    .save_identity = op_save_identity,
};

const struct sg_store_ops *sg_memstore_ops(void)
{
    return &memstore_ops;
}

struct sg_store sg_memstore_store(struct sg_memstore *ms, enum sg_trust trust)
{
    return (struct sg_store){.ops = &memstore_ops, .ud = ms, .trust = trust};
}

/* ---- lifecycle ---- */

int sg_memstore_new(struct sg_memstore **out, const struct sg_memstore_limits *lim)
{
    struct sg_memstore *ms = calloc(1, sizeof *ms);
    if (!ms) return -ENOMEM;
    for (int i = 0; i < SG_MEM_KINDS; i++)
        ms->t[i].max = lim && lim->max_entries[i] ? lim->max_entries[i] : default_max[i];
    ms->max_record_len =
        lim && lim->max_record_len ? lim->max_record_len : SG_MEM_DEFAULT_RECORD_MAX;
    *out = ms;
    return 0;
}

static void clear(struct sg_memstore *ms)
{
    for (int i = 0; i < SG_MEM_KINDS; i++)
        table_clear(&ms->t[i]);
    OPENSSL_cleanse(&ms->identity, sizeof ms->identity);
    ms->has_identity = false;
}

void sg_memstore_free(struct sg_memstore *ms)
{
    if (!ms) return;
    clear(ms);
    free(ms);
}

void sg_memstore_set_identity(struct sg_memstore *ms, const struct sg_identity *id)
{
    ms->identity = *id;
    ms->has_identity = true;
}

size_t sg_memstore_count(const struct sg_memstore *ms, enum sg_mem_kind kind)
{
    return (unsigned)kind < SG_MEM_KINDS ? ms->t[kind].n : 0;
}

static int table_copy(struct table *dst, const struct table *src)
{
    *dst = (struct table){.max = src->max};
    if (!src->n) return 0;
    dst->v = calloc(src->n, sizeof *dst->v);
    if (!dst->v) return -ENOMEM;
    dst->cap = src->n;
    for (size_t i = 0; i < src->n; i++) {
        struct ent *d = &dst->v[i];
        const struct ent *s = &src->v[i];
        d->key = memdup(s->key, s->klen);
        d->val = memdup(s->val, s->vlen);
        d->klen = s->klen;
        d->vlen = s->vlen;
        dst->n = i + 1;
        if (!d->key || !d->val) return -ENOMEM;
    }
    return 0;
}

int sg_memstore_clone(const struct sg_memstore *ms, struct sg_memstore **out)
{
    struct sg_memstore *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->max_record_len = ms->max_record_len;
    c->has_identity = ms->has_identity;
    c->identity = ms->identity;
    for (int i = 0; i < SG_MEM_KINDS; i++) {
        if (table_copy(&c->t[i], &ms->t[i]) < 0) {
            sg_memstore_free(c);
            return -ENOMEM;
        }
    }
    *out = c;
    return 0;
}

int sg_memstore_restore(struct sg_memstore *ms, const struct sg_memstore *snap)
{
    struct sg_memstore *c = NULL;
    int rc = sg_memstore_clone(snap, &c);
    if (rc < 0) return rc;
    clear(ms);
    *ms = *c;
    free(c); /* contents moved into ms */
    return 0;
}
