/* SPDX-License-Identifier: MIT */
/* iqtab.c -- pending iqs: an array in insertion order (a few hundred entries at most). */
#include "wa/iqtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void wa_iqtab_init(struct wa_iqtab *t, size_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max;
}

void wa_iqtab_free(struct wa_iqtab *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

static struct wa_iq_wait *find(const struct wa_iqtab *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].id, id) == 0) return &t->v[i];
    return NULL;
}

/* Remove entry w (keeping the order) and return a copy of it. */
static struct wa_iq_wait take(struct wa_iqtab *t, struct wa_iq_wait *w)
{
    struct wa_iq_wait done = *w;
    size_t i = (size_t)(w - t->v);
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*w));
    t->n--;
    return done;
}

static int grow(struct wa_iqtab *t)
{
    if (t->n < t->cap) return 0;
    size_t nc = t->cap ? t->cap * 2 : 16;
    struct wa_iq_wait *p = realloc(t->v, nc * sizeof(*p));
    if (!p) return -ENOMEM;
    t->v = p;
    t->cap = nc;
    return 0;
}

int wa_iqtab_add(struct wa_iqtab *t, const char *id, uint64_t deadline, wa_iq_cb cb, void *ud)
{
    if (!id || !*id || strlen(id) > WA_IQ_ID_MAX || !cb) return -EINVAL;
    if (find(t, id)) return -EEXIST;
    if (t->n >= t->max) return -ENOSPC;
    int rc = grow(t);
    if (rc < 0) return rc;
    struct wa_iq_wait *w = &t->v[t->n++];
    memcpy(w->id, id, strlen(id) + 1);
    w->cb = cb;
    w->ud = ud;
    w->deadline = deadline;
    return 0;
}

bool wa_iqtab_has(const struct wa_iqtab *t, const char *id)
{
    return id && find(t, id) != NULL;
}

bool wa_iqtab_remove(struct wa_iqtab *t, const char *id)
{
    struct wa_iq_wait *w = id ? find(t, id) : NULL;
    if (w) take(t, w);
    return w != NULL;
}

bool wa_iqtab_complete(struct wa_iqtab *t, const struct wa_node *n)
{
    const char *type = n ? wa_node_attr(n, "type") : NULL;
    const char *id = n ? wa_node_attr(n, "id") : NULL;
    if (!type || (strcmp(type, "result") != 0 && strcmp(type, "error") != 0)) return false;
    struct wa_iq_wait *w = id ? find(t, id) : NULL;
    if (!w) return false;
    struct wa_iq_wait done = take(t, w);
    done.cb(done.ud, strcmp(type, "error") == 0 ? -EREMOTEIO : 0, n);
    return true;
}

void wa_iqtab_fail_all(struct wa_iqtab *t, int status)
{
    struct wa_iq_wait *old = t->v;
    size_t n = t->n;
    t->v = NULL;
    t->n = t->cap = 0;
    for (size_t i = 0; i < n; i++)
        old[i].cb(old[i].ud, status, NULL);
    free(old);
}

static struct wa_iq_wait *earliest(const struct wa_iqtab *t)
{
    struct wa_iq_wait *e = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (!e || t->v[i].deadline < e->deadline) e = &t->v[i];
    return e;
}

bool wa_iqtab_expire_one(struct wa_iqtab *t, uint64_t now)
{
    struct wa_iq_wait *e = earliest(t);
    if (!e || e->deadline > now) return false;
    struct wa_iq_wait done = take(t, e);
    done.cb(done.ud, -ETIMEDOUT, NULL);
    return true;
}

uint64_t wa_iqtab_next_deadline(const struct wa_iqtab *t)
{
    const struct wa_iq_wait *e = earliest(t);
    return e ? e->deadline : 0;
}

size_t wa_iqtab_count(const struct wa_iqtab *t)
{
    return t->n;
}
