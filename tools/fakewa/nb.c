/* SPDX-License-Identifier: MIT */
/* nb.c -- terse node builders for server-generated nodes (abort on failure). */
#include "nb.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "server.h"

static void attrs_v(struct wa_node *n, va_list ap)
{
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) break;
        const char *v = va_arg(ap, const char *);
        nb_attr(n, k, v);
    }
}

struct wa_node *nb_new(const char *tag, ...)
{
    struct wa_node *n = wa_node_new(tag);
    if (!n) fw_die("nb_new");
    va_list ap;
    va_start(ap, tag);
    attrs_v(n, ap);
    va_end(ap);
    return n;
}

struct wa_node *nb_add(struct wa_node *parent, const char *tag, ...)
{
    struct wa_node *n = wa_node_new(tag);
    if (!n) fw_die("nb_add");
    va_list ap;
    va_start(ap, tag);
    attrs_v(n, ap);
    va_end(ap);
    nb_adopt(parent, n);
    return n;
}

void nb_attr(struct wa_node *n, const char *key, const char *value)
{
    if (wa_node_set_attr(n, key, value) < 0) fw_die("nb_attr");
}

void nb_attr_u64(struct wa_node *n, const char *key, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof(t), "%" PRIu64, v);
    nb_attr(n, key, t);
}

void nb_attr_jid(struct wa_node *n, const char *key, const char *jid_text)
{
    struct wa_jid j;
    if (wa_jid_parse(&j, jid_text, strlen(jid_text)) < 0) fw_die("nb_attr_jid: bad jid");
    nb_attr_jidv(n, key, &j);
}

void nb_attr_jidv(struct wa_node *n, const char *key, const struct wa_jid *j)
{
    if (wa_node_set_attr_jid(n, key, j) < 0) fw_die("nb_attr_jidv");
}

void nb_bytes(struct wa_node *n, const void *p, size_t len)
{
    if (wa_node_set_bytes(n, p, len) < 0) fw_die("nb_bytes");
}

struct wa_node *nb_add_bytes(struct wa_node *parent, const char *tag, const void *p, size_t len)
{
    struct wa_node *c = nb_add(parent, tag, NULL);
    nb_bytes(c, p, len);
    return c;
}

void nb_adopt(struct wa_node *parent, struct wa_node *child)
{
    if (wa_node_add_child(parent, child) < 0) fw_die("nb_adopt");
}

struct wa_node *nb_clone(const struct wa_node *n)
{
    struct buf b;
    buf_init(&b, 0);
    struct wa_node *out = NULL;
    if (wa_node_encode(n, &b, NULL, 0) < 0 ||
        wa_node_decode(b.data, b.len, NULL, &out, NULL, 0) < 0)
        fw_die("nb_clone");
    buf_free(&b);
    return out;
}

void nb_be(uint8_t *out, uint64_t v, unsigned nbytes)
{
    for (unsigned i = 0; i < nbytes; i++)
        out[i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
}

uint64_t nb_rd_be(const uint8_t *p, size_t nbytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < nbytes; i++)
        v = (v << 8) | p[i];
    return v;
}
